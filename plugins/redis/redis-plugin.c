/* redis-plugin.c: the `redis` plugin: adds the `redis` device kind.
 *
 *   [Device gpu-pool]
 *   Type=redis
 *   URL=redis://HOST:PORT/DB        (or redis+unix:///PATH)
 *   Pool=gpu
 *   MaxConcurrency=16               tasks queued on the pool at once
 *   Capabilities=cuda               as for any device
 *   LeaseMs=10000                   a task whose worker renews nothing for this long is taken over
 *   MaxDeliveries=3                 takeovers of one attempt before it fails
 *   UnreachableSec=60               Redis away this long fails the device's tasks
 *
 * The workers are `orrery worker URL --pool gpu` on any machine (see
 * redis-worker.c and redis-device.c).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-Redis"

#include <orrery.h>
#include "redis-device.h"

static OrreryDevice *
make_device (OrreryConfig  *config,
             const char    *group,
             const char    *id,
             gpointer       user_data,
             GError       **error)
{
  OrreryPluginContext *context = user_data;

  return redis_pool_device_from_config (config, group, id,
                                        orrery_plugin_context_get_bus (context), error);
}

static gboolean
redis_init (OrreryPluginContext  *context,
            GError              **error)
{
  return orrery_plugin_context_register_device_kind (context, "redis", make_device,
                                                     context, NULL, error);
}

/* Declared, so that orrery validate and orrery run --dry-run know the kind
 * without running this plugin. */
static const char *const redis_kinds[] = { "redis", NULL };

ORRERY_PLUGIN_DEFINE_FULL ("redis", "1.0",
                           "Devices of kind redis: pools of workers (orrery worker) on other machines",
                           redis_init, NULL, NULL, redis_kinds)
