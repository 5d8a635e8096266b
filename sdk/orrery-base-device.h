/* orrery-base-device.h: the plumbing every device shares.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ORRERY_INSIDE) && !defined(ORRERY_COMPILATION)
#error "Only <orrery.h> can be included directly."
#endif

#include <gio/gio.h>
#include "orrery-device.h"

G_BEGIN_DECLS

#define ORRERY_TYPE_BASE_DEVICE (orrery_base_device_get_type ())
ORRERY_EXPORT
G_DECLARE_DERIVABLE_TYPE (OrreryBaseDevice, orrery_base_device, ORRERY, BASE_DEVICE, GObject)

/**
 * OrreryBaseDeviceClass:
 * @parent_class: the parent class
 * @execute_task_async: runs one task; what #OrreryDeviceInterface.execute_async
 *   calls. Same contract: the device applies the task's timeout and stops
 *   at once on a cancel. The implementation calls
 *   orrery_base_device_task_started() once the execution has started and
 *   orrery_base_device_task_finished() just before it completes it. Must be
 *   implemented.
 * @execute_task_finish: finishes @execute_task_async; what
 *   #OrreryDeviceInterface.execute_finish calls. The default one takes a
 *   #GTask that returned a boolean and gives no result.
 * @default_id: the #OrreryBaseDevice:id of a device constructed without
 *   one; a subclass may set it in its class initializer (by default
 *   `device`)
 * @default_device_type: the #OrreryBaseDevice:device-type of a device
 *   constructed without one or with an empty one; a subclass may set it in
 *   its class initializer (by default `unknown`)
 *
 * The class of the devices built on #OrreryBaseDevice. A subclass
 * implements @execute_task_async (and @execute_task_finish when its
 * executions have a result); the base class implements the rest of
 * #OrreryDevice. (The virtual methods are not named `execute_async` and
 * `execute_finish` so that bindings can tell them from the interface's.)
 */
struct _OrreryBaseDeviceClass
{
  GObjectClass parent_class;

  void        (*execute_task_async)  (OrreryBaseDevice     *self,
                                      OrreryTask           *task,
                                      GCancellable         *cancellable,
                                      GAsyncReadyCallback   callback,
                                      gpointer              user_data);
  gboolean    (*execute_task_finish) (OrreryBaseDevice     *self,
                                      GAsyncResult         *result,
                                      GVariant            **out_result,
                                      GError              **error);

  const char  *default_id;
  const char  *default_device_type;

  /*< private >*/
  gpointer padding[8];
};

ORRERY_EXPORT
void                orrery_base_device_set_capabilities (OrreryBaseDevice   *self,
                                                         const char * const *capabilities);
ORRERY_EXPORT
guint               orrery_base_device_get_n_running    (OrreryBaseDevice   *self);
ORRERY_EXPORT
void                orrery_base_device_task_started     (OrreryBaseDevice   *self);
ORRERY_EXPORT
void                orrery_base_device_task_finished    (OrreryBaseDevice   *self);
ORRERY_EXPORT
void                orrery_base_device_record_start     (OrreryBaseDevice   *self,
                                                         OrreryTask         *task,
                                                         gint64              monotonic_us);
ORRERY_EXPORT
void                orrery_base_device_record_end       (OrreryBaseDevice   *self,
                                                         OrreryTask         *task,
                                                         gint64              monotonic_us);

ORRERY_EXPORT
void                orrery_base_device_set_run          (OrreryBaseDevice   *self,
                                                         const char         *run_id,
                                                         const char         *run_dir);
ORRERY_EXPORT
const char         *orrery_base_device_get_run_id       (OrreryBaseDevice   *self);
ORRERY_EXPORT
const char         *orrery_base_device_get_run_dir      (OrreryBaseDevice   *self);

G_END_DECLS
