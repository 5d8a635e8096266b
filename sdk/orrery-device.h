/* orrery-device.h: where tasks run.
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

G_BEGIN_DECLS

/**
 * ORRERY_DEVICE_ERROR:
 *
 * The error domain of devices. A cancelled execution fails with
 * %G_IO_ERROR_CANCELLED instead, as everywhere in GIO.
 */
#define ORRERY_DEVICE_ERROR (orrery_device_error_quark ())
ORRERY_EXPORT
GQuark orrery_device_error_quark (void);

/**
 * OrreryDeviceError:
 * @ORRERY_DEVICE_ERROR_FAILED: the task failed on the device
 * @ORRERY_DEVICE_ERROR_EXIT_STATUS: the task's process exited with a
 *   non-zero status
 * @ORRERY_DEVICE_ERROR_SIGNALED: the task's process was killed by a signal
 * @ORRERY_DEVICE_ERROR_TIMEOUT: the task ran past its timeout and was killed
 * @ORRERY_DEVICE_ERROR_SPAWN: the task's process could not be started
 * @ORRERY_DEVICE_ERROR_BAD_TASK_DATA: the task's data is not something this
 *   device can run (no command, wrong types)
 * @ORRERY_DEVICE_ERROR_NO_DEVICE: no device can ever take the task
 * @ORRERY_DEVICE_ERROR_BAD_CONFIG: a device's configuration is invalid
 * @ORRERY_DEVICE_ERROR_BAD_OUTPUTS: the outputs a task left (the local
 *   device's `ORRERY_OUTPUTS` file) are not one JSON object
 * @ORRERY_DEVICE_ERROR_DUPLICATE_KIND: a device kind of that name is
 *   already registered (orrery_device_manager_register_kind())
 *
 * Why a task failed on a device, or why a device could not be made.
 */
typedef enum {
  ORRERY_DEVICE_ERROR_FAILED,
  ORRERY_DEVICE_ERROR_EXIT_STATUS,
  ORRERY_DEVICE_ERROR_SIGNALED,
  ORRERY_DEVICE_ERROR_TIMEOUT,
  ORRERY_DEVICE_ERROR_SPAWN,
  ORRERY_DEVICE_ERROR_BAD_TASK_DATA,
  ORRERY_DEVICE_ERROR_NO_DEVICE,
  ORRERY_DEVICE_ERROR_BAD_CONFIG,
  ORRERY_DEVICE_ERROR_BAD_OUTPUTS,
  ORRERY_DEVICE_ERROR_DUPLICATE_KIND,
} OrreryDeviceError;

#define ORRERY_TYPE_DEVICE (orrery_device_get_type ())
ORRERY_EXPORT
G_DECLARE_INTERFACE (OrreryDevice, orrery_device, ORRERY, DEVICE, GObject)

/**
 * OrreryDeviceInterface:
 * @g_iface: the parent interface
 * @get_id: the device's unique id
 * @get_device_type: the kind of system it is (`linux`, `windows`, ...),
 *   compared without case to a task's `device_type`
 * @get_capabilities: what it can do, as a %NULL-terminated list
 * @get_max_concurrency: how many tasks it runs at once (at least 1)
 * @get_status: its status
 * @execute_async: runs one task. The device applies the task's timeout
 *   itself (failing with %ORRERY_DEVICE_ERROR_TIMEOUT) and stops at once when
 *   @cancellable is cancelled (failing with %G_IO_ERROR_CANCELLED); nothing
 *   it started outlives the call.
 * @execute_finish: finishes @execute_async; returns %TRUE if the task
 *   succeeded. The result (an `a{sv}` dictionary) is returned in both cases
 *   when the device has one (a failed command still has an exit status and
 *   output).
 *
 * The virtual methods of #OrreryDevice.
 */
struct _OrreryDeviceInterface
{
  GTypeInterface g_iface;

  const char         *(*get_id)              (OrreryDevice         *self);
  const char         *(*get_device_type)     (OrreryDevice         *self);
  const char * const *(*get_capabilities)    (OrreryDevice         *self);
  guint               (*get_max_concurrency) (OrreryDevice         *self);
  OrreryDeviceStatus  (*get_status)          (OrreryDevice         *self);
  void                (*execute_async)       (OrreryDevice         *self,
                                              OrreryTask           *task,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
  gboolean            (*execute_finish)      (OrreryDevice         *self,
                                              GAsyncResult         *result,
                                              GVariant            **out_result,
                                              GError              **error);

  /*< private >*/
  gpointer padding[8];
};

ORRERY_EXPORT
const char         *orrery_device_get_id              (OrreryDevice         *self);
ORRERY_EXPORT
const char         *orrery_device_get_device_type     (OrreryDevice         *self);
ORRERY_EXPORT
const char * const *orrery_device_get_capabilities    (OrreryDevice         *self);
ORRERY_EXPORT
gboolean            orrery_device_has_capability      (OrreryDevice         *self,
                                                       const char           *capability);
ORRERY_EXPORT
guint               orrery_device_get_max_concurrency (OrreryDevice         *self);
ORRERY_EXPORT
OrreryDeviceStatus  orrery_device_get_status          (OrreryDevice         *self);
ORRERY_EXPORT
void                orrery_device_execute_async       (OrreryDevice         *self,
                                                       OrreryTask           *task,
                                                       GCancellable         *cancellable,
                                                       GAsyncReadyCallback   callback,
                                                       gpointer              user_data);
ORRERY_EXPORT
gboolean            orrery_device_execute_finish      (OrreryDevice         *self,
                                                       GAsyncResult         *result,
                                                       GVariant            **out_result,
                                                       GError              **error);

G_END_DECLS
