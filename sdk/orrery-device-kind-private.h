/* orrery-device-kind-private.h: the registry of device kinds a device
 * manager keeps. Not installed.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "orrery-private.h"

G_BEGIN_DECLS

typedef struct _OrreryDeviceKinds OrreryDeviceKinds;

/* A registry holding the built-in kinds, `local` and `simulated`. */
ORRERY_HIDDEN OrreryDeviceKinds *_orrery_device_kinds_new    (void);
ORRERY_HIDDEN void               _orrery_device_kinds_free   (OrreryDeviceKinds        *kinds);
/* Fails with ORRERY_DEVICE_ERROR_DUPLICATE_KIND when @name (any case) is
 * taken; @destroy is then not called. */
ORRERY_HIDDEN gboolean           _orrery_device_kinds_add    (OrreryDeviceKinds        *kinds,
                                                              const char               *name,
                                                              OrreryDeviceKindFactory   factory,
                                                              gpointer                  user_data,
                                                              GDestroyNotify            destroy,
                                                              GError                  **error);
ORRERY_HIDDEN gboolean           _orrery_device_kinds_remove (OrreryDeviceKinds        *kinds,
                                                              const char               *name);
ORRERY_HIDDEN gboolean           _orrery_device_kinds_has    (OrreryDeviceKinds        *kinds,
                                                              const char               *name);
/* The names, sorted. */
ORRERY_HIDDEN char             **_orrery_device_kinds_list   (OrreryDeviceKinds        *kinds);
/* Builds the device of the `[Device NAME]` @group of @config with the
 * factory of its `Type`. */
ORRERY_HIDDEN OrreryDevice      *_orrery_device_kinds_build  (OrreryDeviceKinds        *kinds,
                                                              OrreryConfig             *config,
                                                              const char               *group,
                                                              GError                  **error);

G_END_DECLS
