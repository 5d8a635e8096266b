/* orrery-plugin-private.h: internals shared by the plugin engine, the
 * plugin context and the configuration. Not installed.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "orrery-private.h"
#include "orrery-config.h"
#include "orrery-plugin.h"
#include "orrery-plugin-engine.h"

G_BEGIN_DECLS

/* Whether the liborrery in this process is the one of the build tree. */
ORRERY_HIDDEN gboolean             _orrery_is_uninstalled           (void);

ORRERY_HIDDEN OrreryPluginContext *_orrery_plugin_context_new       (OrreryEventBus               *bus,
                                                                     OrreryOrchestrator           *orchestrator,
                                                                     OrreryConfig                 *config,
                                                                     const char                   *name,
                                                                     const OrreryPluginDescriptor *descriptor);
/* Reads and checks Events, Delivery, QueueLimit, DeadlineMs and the
 * plugin's declared keys; warns about unknown keys. */
ORRERY_HIDDEN gboolean             _orrery_plugin_context_configure (OrreryPluginContext          *self,
                                                                     GError                      **error);
/* Unsubscribes every observer the plugin added. */
ORRERY_HIDDEN void                 _orrery_plugin_context_detach    (OrreryPluginContext          *self);

ORRERY_HIDDEN OrreryPluginInfo    *_orrery_plugin_info_new          (const char                   *file);
ORRERY_HIDDEN void                 _orrery_plugin_info_set_metadata (OrreryPluginInfo             *self,
                                                                     const char                   *name,
                                                                     const char                   *version,
                                                                     const char                   *description);
ORRERY_HIDDEN void                 _orrery_plugin_info_set_state    (OrreryPluginInfo             *self,
                                                                     OrreryPluginState             state,
                                                                     const GError                 *error);

G_END_DECLS
