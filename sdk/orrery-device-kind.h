/* orrery-device-kind.h: device kinds, the `Type=` of a `[Device NAME]`
 * group, and what builds a device of each.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ORRERY_INSIDE) && !defined(ORRERY_COMPILATION)
#error "Only <orrery.h> can be included directly."
#endif

#include <gio/gio.h>
#include "orrery-version.h"
#include "orrery-config.h"
#include "orrery-device.h"

G_BEGIN_DECLS

/**
 * ORRERY_DEVICE_GROUP_PREFIX:
 *
 * The prefix of a device's group in the host configuration:
 * `[Device NAME]`, where NAME is the device's id.
 */
#define ORRERY_DEVICE_GROUP_PREFIX "Device "

/**
 * ORRERY_DEVICE_KIND_DEFAULT:
 *
 * The kind of a `[Device NAME]` group without a `Type` key.
 */
#define ORRERY_DEVICE_KIND_DEFAULT "local"

/**
 * OrreryDeviceKindFactory:
 * @config: the host configuration
 * @group: the device's group, such as `Device gpu-pool`
 * @id: the device's id (the group's NAME, without surrounding blanks)
 * @user_data: (closure): the data given when the kind was registered
 * @error: return location for an error
 *
 * Builds the device a `[Device NAME]` group describes, reading its keys
 * from @config (orrery_device_kind_get_count(),
 * orrery_device_kind_get_capabilities(), orrery_config_get_string() ...).
 * The device's id must be @id. Every kind reads `DeviceType`,
 * `Capabilities` and `MaxConcurrency` the same way: see
 * orrery_device_manager_load_config().
 *
 * An error names the file, the group and the key: the getters of
 * #OrreryConfig and orrery_device_kind_get_count() word it so, with the
 * file the key came from (orrery_config_get_origin()).
 *
 * Returns: (transfer full) (nullable): a new device, or %NULL with @error
 *   set
 */
typedef OrreryDevice *(*OrreryDeviceKindFactory) (OrreryConfig  *config,
                                                  const char    *group,
                                                  const char    *id,
                                                  gpointer       user_data,
                                                  GError       **error);

ORRERY_EXPORT
guint64   orrery_device_kind_get_count        (OrreryConfig  *config,
                                               const char    *group,
                                               const char    *key,
                                               guint64        min,
                                               guint64        max,
                                               guint64        default_value,
                                               GError       **error);
ORRERY_EXPORT
char    **orrery_device_kind_get_capabilities (OrreryConfig  *config,
                                               const char    *group);
ORRERY_EXPORT
char     *orrery_device_kind_get_device_type  (OrreryConfig  *config,
                                               const char    *group);

G_END_DECLS
