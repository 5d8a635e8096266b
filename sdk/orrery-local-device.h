/* orrery-local-device.h: a device that runs commands on this machine.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ORRERY_INSIDE) && !defined(ORRERY_COMPILATION)
#error "Only <orrery.h> can be included directly."
#endif

#include <gio/gio.h>
#include "orrery-base-device.h"

G_BEGIN_DECLS

/**
 * ORRERY_LOCAL_DEVICE_DEFAULT_MAX_OUTPUT_BYTES:
 *
 * How many bytes of standard output (and as many of standard error) a
 * local device keeps by default.
 */
#define ORRERY_LOCAL_DEVICE_DEFAULT_MAX_OUTPUT_BYTES (64 * 1024)

/**
 * ORRERY_LOCAL_DEVICE_DEFAULT_LOG_MAX_BYTES:
 *
 * How many bytes of standard output (and as many of standard error) a
 * local device writes to an execution's log files by default (64 MiB).
 */
#define ORRERY_LOCAL_DEVICE_DEFAULT_LOG_MAX_BYTES (G_GUINT64_CONSTANT (64) * 1024 * 1024)

#define ORRERY_TYPE_LOCAL_DEVICE (orrery_local_device_get_type ())
ORRERY_EXPORT
G_DECLARE_FINAL_TYPE (OrreryLocalDevice, orrery_local_device, ORRERY, LOCAL_DEVICE, OrreryBaseDevice)

ORRERY_EXPORT
OrreryLocalDevice  *orrery_local_device_new                  (const char         *id,
                                                              const char         *device_type,
                                                              guint               max_concurrency);
ORRERY_EXPORT
void                orrery_local_device_set_capabilities     (OrreryLocalDevice  *self,
                                                              const char * const *capabilities);
ORRERY_EXPORT
gsize               orrery_local_device_get_max_output_bytes (OrreryLocalDevice  *self);
ORRERY_EXPORT
void                orrery_local_device_set_max_output_bytes (OrreryLocalDevice  *self,
                                                              gsize               max_output_bytes);
ORRERY_EXPORT
guint64             orrery_local_device_get_log_max_bytes    (OrreryLocalDevice  *self);
ORRERY_EXPORT
void                orrery_local_device_set_log_max_bytes    (OrreryLocalDevice  *self,
                                                              guint64             log_max_bytes);
ORRERY_EXPORT
guint               orrery_local_device_get_n_running        (OrreryLocalDevice  *self);
ORRERY_EXPORT
gboolean            orrery_local_device_kill_survivors       (const char         *run_dir,
                                                              guint              *n_killed,
                                                              GError            **error);

ORRERY_EXPORT
gboolean            orrery_local_device_check_task_data      (OrreryTask         *task,
                                                              GError            **error);

ORRERY_EXPORT
const char         *orrery_get_host_device_type              (void);

G_END_DECLS
