/* redis-device.h: the `redis` device kind: a pool of workers behind a
 * Redis stream.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <orrery.h>
#include "redis-common.h"

G_BEGIN_DECLS

typedef struct
{
  guint lease_ms;          /* a task whose worker renewed nothing for this long is taken over */
  guint max_deliveries;    /* deliveries of one attempt before it fails */
  guint unreachable_ms;    /* Redis away this long fails the device's tasks */
} RedisPoolSettings;

#define REDIS_POOL_DEFAULT_LEASE_MS       10000
#define REDIS_POOL_DEFAULT_MAX_DELIVERIES 3
#define REDIS_POOL_DEFAULT_UNREACHABLE_MS 60000

#define REDIS_TYPE_POOL_DEVICE (redis_pool_device_get_type ())
G_DECLARE_FINAL_TYPE (RedisPoolDevice, redis_pool_device, REDIS, POOL_DEVICE, OrreryBaseDevice)

RedisPoolDevice *redis_pool_device_new          (const char              *id,
                                                 const char              *device_type,
                                                 guint                    max_concurrency,
                                                 const char * const      *capabilities,
                                                 const RedisUrl          *url,
                                                 const char              *pool,
                                                 const RedisPoolSettings *settings,
                                                 OrreryEventBus          *bus);

/* Builds a device from a `[Device NAME]` group with `Type=redis`. */
OrreryDevice    *redis_pool_device_from_config  (OrreryConfig            *config,
                                                 const char              *group,
                                                 const char              *id,
                                                 OrreryEventBus          *bus,
                                                 GError                 **error);

/* Counters, for messages and tests. */
guint64          redis_pool_device_get_n_late   (RedisPoolDevice         *self);

G_END_DECLS
