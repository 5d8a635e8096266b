/* orrery-device-manager.h: the devices of a host and how tasks pick one.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ORRERY_INSIDE) && !defined(ORRERY_COMPILATION)
#error "Only <orrery.h> can be included directly."
#endif

#include <gio/gio.h>
#include "orrery-types.h"
#include "orrery-task.h"
#include "orrery-device.h"
#include "orrery-device-kind.h"
#include "orrery-config.h"

G_BEGIN_DECLS

#define ORRERY_TYPE_DEVICE_MANAGER (orrery_device_manager_get_type ())
ORRERY_EXPORT
G_DECLARE_FINAL_TYPE (OrreryDeviceManager, orrery_device_manager, ORRERY, DEVICE_MANAGER, GObject)

ORRERY_EXPORT
OrreryDeviceManager    *orrery_device_manager_new                 (void);
ORRERY_EXPORT
gboolean                orrery_device_manager_add_device          (OrreryDeviceManager    *self,
                                                                   OrreryDevice           *device,
                                                                   GError                **error);
ORRERY_EXPORT
gboolean                orrery_device_manager_remove_device       (OrreryDeviceManager    *self,
                                                                   const char             *device_id);
ORRERY_EXPORT
OrreryDevice           *orrery_device_manager_get_device          (OrreryDeviceManager    *self,
                                                                   const char             *device_id);
ORRERY_EXPORT
GList                  *orrery_device_manager_get_devices         (OrreryDeviceManager    *self);
ORRERY_EXPORT
guint                   orrery_device_manager_get_n_devices       (OrreryDeviceManager    *self);
ORRERY_EXPORT
void                    orrery_device_manager_set_strategy        (OrreryDeviceManager    *self,
                                                                   OrreryDispatchStrategy  strategy);
ORRERY_EXPORT
OrreryDispatchStrategy  orrery_device_manager_get_strategy        (OrreryDeviceManager    *self);
ORRERY_EXPORT
gboolean                orrery_device_manager_can_run             (OrreryDeviceManager    *self,
                                                                   OrreryTask             *task,
                                                                   GError                **error);
ORRERY_EXPORT
OrreryDevice           *orrery_device_manager_select              (OrreryDeviceManager    *self,
                                                                   OrreryTask             *task,
                                                                   GError                **error);
ORRERY_EXPORT
void                    orrery_device_manager_acquire             (OrreryDeviceManager    *self,
                                                                   OrreryDevice           *device);
ORRERY_EXPORT
void                    orrery_device_manager_release             (OrreryDeviceManager    *self,
                                                                   OrreryDevice           *device);
ORRERY_EXPORT
guint                   orrery_device_manager_get_running         (OrreryDeviceManager    *self,
                                                                   OrreryDevice           *device);
ORRERY_EXPORT
guint                   orrery_device_manager_get_running_total   (OrreryDeviceManager    *self);
ORRERY_EXPORT
guint                   orrery_device_manager_get_free_slots_total (OrreryDeviceManager   *self);
ORRERY_EXPORT
gboolean                orrery_device_manager_register_kind       (OrreryDeviceManager    *self,
                                                                   const char             *kind,
                                                                   OrreryDeviceKindFactory factory,
                                                                   gpointer                user_data,
                                                                   GDestroyNotify          destroy,
                                                                   GError                **error);
ORRERY_EXPORT
gboolean                orrery_device_manager_unregister_kind     (OrreryDeviceManager    *self,
                                                                   const char             *kind);
ORRERY_EXPORT
gboolean                orrery_device_manager_has_kind            (OrreryDeviceManager    *self,
                                                                   const char             *kind);
ORRERY_EXPORT
char                  **orrery_device_manager_get_kinds           (OrreryDeviceManager    *self);
ORRERY_EXPORT
gboolean                orrery_device_manager_load_config         (OrreryDeviceManager    *self,
                                                                   OrreryConfig           *config,
                                                                   GError                **error);
ORRERY_EXPORT
gboolean                orrery_device_manager_load_keyfile        (OrreryDeviceManager    *self,
                                                                   GKeyFile               *keyfile,
                                                                   const char             *file_name_for_errors,
                                                                   GError                **error);
ORRERY_EXPORT
void                    orrery_device_manager_add_default_devices (OrreryDeviceManager    *self);
ORRERY_EXPORT
void                    orrery_device_manager_set_run             (OrreryDeviceManager    *self,
                                                                   const char             *run_id,
                                                                   const char             *run_dir);

ORRERY_EXPORT
const char             *orrery_dispatch_strategy_to_nick          (OrreryDispatchStrategy  strategy);
ORRERY_EXPORT
gboolean                orrery_dispatch_strategy_from_nick        (const char             *nick,
                                                                   OrreryDispatchStrategy *out_strategy);

G_END_DECLS
