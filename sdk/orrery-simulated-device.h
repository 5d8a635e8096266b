/* orrery-simulated-device.h: a device that pretends to run tasks.
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

#define ORRERY_TYPE_SIMULATED_DEVICE (orrery_simulated_device_get_type ())
ORRERY_EXPORT
G_DECLARE_FINAL_TYPE (OrrerySimulatedDevice, orrery_simulated_device, ORRERY, SIMULATED_DEVICE, OrreryBaseDevice)

ORRERY_EXPORT
OrrerySimulatedDevice *orrery_simulated_device_new              (const char            *id,
                                                                 const char            *device_type,
                                                                 guint                  max_concurrency);
ORRERY_EXPORT
void                   orrery_simulated_device_set_capabilities (OrrerySimulatedDevice *self,
                                                                 const char * const    *capabilities);
ORRERY_EXPORT
guint                  orrery_simulated_device_get_n_running    (OrrerySimulatedDevice *self);
ORRERY_EXPORT
guint64                orrery_simulated_device_get_n_executed   (OrrerySimulatedDevice *self);

G_END_DECLS
