/* orrery-plugin-engine.h: finds, checks, loads and watches plugins.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ORRERY_INSIDE) && !defined(ORRERY_COMPILATION)
#error "Only <orrery.h> can be included directly."
#endif

#include <gio/gio.h>
#include "orrery-version.h"
#include "orrery-event-bus.h"
#include "orrery-config.h"
#include "orrery-plugin.h"

G_BEGIN_DECLS

/**
 * OrreryPluginState:
 * @ORRERY_PLUGIN_STATE_FOUND: the file was found, not yet checked
 * @ORRERY_PLUGIN_STATE_DISABLED: checked and loaded, not running (disabled
 *   by the configuration or at run time)
 * @ORRERY_PLUGIN_STATE_ENABLED: initialised: its observers receive events
 * @ORRERY_PLUGIN_STATE_FAILED: refused or failed; see
 *   orrery_plugin_info_get_error()
 * @ORRERY_PLUGIN_STATE_NOT_FOUND: enabled in the configuration, but no
 *   file provides it
 * @ORRERY_PLUGIN_STATE_REMOVED: its file was removed (or replaced by a new
 *   build) while the engine watched the directory: it was disabled
 * @ORRERY_PLUGIN_STATE_CHECKED: passed every check that needs none of its
 *   code (see orrery_plugin_engine_check_all()); not loaded
 *
 * The state of a plugin in an #OrreryPluginEngine.
 */
typedef enum {
  ORRERY_PLUGIN_STATE_FOUND,
  ORRERY_PLUGIN_STATE_DISABLED,
  ORRERY_PLUGIN_STATE_ENABLED,
  ORRERY_PLUGIN_STATE_FAILED,
  ORRERY_PLUGIN_STATE_NOT_FOUND,
  ORRERY_PLUGIN_STATE_REMOVED,
  ORRERY_PLUGIN_STATE_CHECKED,
} OrreryPluginState;

ORRERY_EXPORT
const char *orrery_plugin_state_to_nick (OrreryPluginState state);

#define ORRERY_TYPE_PLUGIN_INFO (orrery_plugin_info_get_type ())
ORRERY_EXPORT
G_DECLARE_FINAL_TYPE (OrreryPluginInfo, orrery_plugin_info, ORRERY, PLUGIN_INFO, GObject)

ORRERY_EXPORT
const char        *orrery_plugin_info_get_name        (OrreryPluginInfo *self);
ORRERY_EXPORT
const char        *orrery_plugin_info_get_version     (OrreryPluginInfo *self);
ORRERY_EXPORT
const char        *orrery_plugin_info_get_description (OrreryPluginInfo *self);
ORRERY_EXPORT
const char        *orrery_plugin_info_get_file        (OrreryPluginInfo *self);
ORRERY_EXPORT
OrreryPluginState  orrery_plugin_info_get_state       (OrreryPluginInfo *self);
ORRERY_EXPORT
const GError      *orrery_plugin_info_get_error       (OrreryPluginInfo *self);
ORRERY_EXPORT
const OrreryPluginKey *orrery_plugin_info_get_keys    (OrreryPluginInfo *self,
                                                       guint            *n_keys);
ORRERY_EXPORT
const char * const *orrery_plugin_info_get_device_kinds (OrreryPluginInfo *self);
ORRERY_EXPORT
gboolean           orrery_plugin_info_get_abi_version (OrreryPluginInfo *self,
                                                       guint            *major,
                                                       guint            *minor);

#define ORRERY_TYPE_PLUGIN_ENGINE (orrery_plugin_engine_get_type ())
ORRERY_EXPORT
G_DECLARE_FINAL_TYPE (OrreryPluginEngine, orrery_plugin_engine, ORRERY, PLUGIN_ENGINE, GObject)

ORRERY_EXPORT
OrreryPluginEngine *orrery_plugin_engine_new                  (OrreryEventBus     *bus,
                                                               OrreryConfig       *config);
ORRERY_EXPORT
OrreryEventBus     *orrery_plugin_engine_get_bus              (OrreryPluginEngine *self);
ORRERY_EXPORT
OrreryConfig       *orrery_plugin_engine_get_config           (OrreryPluginEngine *self);

ORRERY_EXPORT
void                orrery_plugin_engine_set_orchestrator     (OrreryPluginEngine *self,
                                                               OrreryOrchestrator *orchestrator);
ORRERY_EXPORT
OrreryOrchestrator *orrery_plugin_engine_get_orchestrator     (OrreryPluginEngine *self);
ORRERY_EXPORT
const char         *orrery_plugin_engine_get_default_path     (void);
ORRERY_EXPORT
void                orrery_plugin_engine_add_search_path      (OrreryPluginEngine *self,
                                                               const char         *directory);
ORRERY_EXPORT
void                orrery_plugin_engine_set_use_default_path (OrreryPluginEngine *self,
                                                               gboolean            use_default);
ORRERY_EXPORT
gboolean            orrery_plugin_engine_get_use_default_path (OrreryPluginEngine *self);
ORRERY_EXPORT
char              **orrery_plugin_engine_get_search_path      (OrreryPluginEngine *self);

ORRERY_EXPORT
guint               orrery_plugin_engine_discover             (OrreryPluginEngine *self);
ORRERY_EXPORT
guint               orrery_plugin_engine_load_all             (OrreryPluginEngine *self);
ORRERY_EXPORT
guint               orrery_plugin_engine_load_enabled         (OrreryPluginEngine *self);
ORRERY_EXPORT
guint               orrery_plugin_engine_check_all            (OrreryPluginEngine *self);
ORRERY_EXPORT
gboolean            orrery_plugin_engine_get_enabled_by_config (OrreryPluginEngine *self,
                                                                const char         *name);
ORRERY_EXPORT
gboolean            orrery_plugin_engine_enable               (OrreryPluginEngine *self,
                                                               const char         *name,
                                                               GError            **error);
ORRERY_EXPORT
gboolean            orrery_plugin_engine_disable              (OrreryPluginEngine *self,
                                                               const char         *name,
                                                               GError            **error);
ORRERY_EXPORT
void                orrery_plugin_engine_shutdown             (OrreryPluginEngine *self);

ORRERY_EXPORT
GPtrArray          *orrery_plugin_engine_get_plugins          (OrreryPluginEngine *self);
ORRERY_EXPORT
OrreryPluginInfo   *orrery_plugin_engine_lookup               (OrreryPluginEngine *self,
                                                               const char         *name);

ORRERY_EXPORT
gboolean            orrery_plugin_engine_watch                (OrreryPluginEngine *self,
                                                               GError            **error);
ORRERY_EXPORT
void                orrery_plugin_engine_unwatch              (OrreryPluginEngine *self);
ORRERY_EXPORT
void                orrery_plugin_engine_set_settle_ms        (OrreryPluginEngine *self,
                                                               guint               settle_ms);

G_END_DECLS
