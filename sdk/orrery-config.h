/* orrery-config.h: the host configuration (GKeyFile layers).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ORRERY_INSIDE) && !defined(ORRERY_COMPILATION)
#error "Only <orrery.h> can be included directly."
#endif

#include <glib-object.h>
#include "orrery-version.h"

G_BEGIN_DECLS

/**
 * ORRERY_CONFIG_ERROR:
 *
 * The error domain of #OrreryConfig.
 */
#define ORRERY_CONFIG_ERROR (orrery_config_error_quark ())
ORRERY_EXPORT
GQuark orrery_config_error_quark (void);

/**
 * OrreryConfigError:
 * @ORRERY_CONFIG_ERROR_NOT_FOUND: the configuration file does not exist
 * @ORRERY_CONFIG_ERROR_PARSE: the file is not a valid keyfile
 * @ORRERY_CONFIG_ERROR_BAD_VALUE: a value has the wrong type or is out of
 *   range; the message names the file, the group and the key
 * @ORRERY_CONFIG_ERROR_BAD_OVERRIDE: a command-line override is malformed
 *
 * Errors of #OrreryConfig.
 */
typedef enum {
  ORRERY_CONFIG_ERROR_NOT_FOUND,
  ORRERY_CONFIG_ERROR_PARSE,
  ORRERY_CONFIG_ERROR_BAD_VALUE,
  ORRERY_CONFIG_ERROR_BAD_OVERRIDE,
} OrreryConfigError;

/**
 * ORRERY_CONFIG_HOST_GROUP:
 *
 * The group of the host's own settings.
 */
#define ORRERY_CONFIG_HOST_GROUP "Host"

/**
 * ORRERY_CONFIG_PLUGIN_GROUP_PREFIX:
 *
 * The prefix of a plugin's group: `[Plugin NAME]`.
 */
#define ORRERY_CONFIG_PLUGIN_GROUP_PREFIX "Plugin "

#define ORRERY_TYPE_CONFIG (orrery_config_get_type ())
ORRERY_EXPORT
G_DECLARE_FINAL_TYPE (OrreryConfig, orrery_config, ORRERY, CONFIG, GObject)

ORRERY_EXPORT
OrreryConfig *orrery_config_new                (void);
ORRERY_EXPORT
gboolean      orrery_config_load               (OrreryConfig  *self,
                                                const char    *file,
                                                GError       **error);
ORRERY_EXPORT
gboolean      orrery_config_load_file          (OrreryConfig  *self,
                                                const char    *file,
                                                GError       **error);
ORRERY_EXPORT
gboolean      orrery_config_load_data          (OrreryConfig  *self,
                                                const char    *data,
                                                const char    *origin,
                                                GError       **error);
ORRERY_EXPORT
gboolean      orrery_config_add_defaults_file  (OrreryConfig  *self,
                                                const char    *group,
                                                const char    *file,
                                                GError       **error);
ORRERY_EXPORT
const char   *orrery_config_get_file           (OrreryConfig  *self);
ORRERY_EXPORT
char        **orrery_config_get_search_files   (void);

ORRERY_EXPORT
void          orrery_config_set_override       (OrreryConfig  *self,
                                                const char    *group,
                                                const char    *key,
                                                const char    *value);
ORRERY_EXPORT
gboolean      orrery_config_parse_override     (OrreryConfig  *self,
                                                const char    *assignment,
                                                GError       **error);
ORRERY_EXPORT
gboolean      orrery_config_check_overrides    (OrreryConfig  *self,
                                                GError       **error);
ORRERY_EXPORT
void          orrery_config_set_plugin_enabled (OrreryConfig  *self,
                                                const char    *plugin,
                                                gboolean       enabled);

ORRERY_EXPORT
char         *orrery_config_plugin_group       (const char    *plugin);
ORRERY_EXPORT
char        **orrery_config_get_groups         (OrreryConfig  *self);
ORRERY_EXPORT
char        **orrery_config_get_keys           (OrreryConfig  *self,
                                                const char    *group);
ORRERY_EXPORT
char        **orrery_config_get_plugin_names   (OrreryConfig  *self);
ORRERY_EXPORT
gboolean      orrery_config_has_group          (OrreryConfig  *self,
                                                const char    *group);
ORRERY_EXPORT
gboolean      orrery_config_has_key            (OrreryConfig  *self,
                                                const char    *group,
                                                const char    *key);
ORRERY_EXPORT
char         *orrery_config_get_origin         (OrreryConfig  *self,
                                                const char    *group,
                                                const char    *key);

ORRERY_EXPORT
char         *orrery_config_get_string         (OrreryConfig  *self,
                                                const char    *group,
                                                const char    *key,
                                                const char    *default_value);
ORRERY_EXPORT
char        **orrery_config_get_string_list    (OrreryConfig  *self,
                                                const char    *group,
                                                const char    *key);
ORRERY_EXPORT
gboolean      orrery_config_get_boolean        (OrreryConfig  *self,
                                                const char    *group,
                                                const char    *key,
                                                gboolean       default_value,
                                                GError       **error);
ORRERY_EXPORT
gint64        orrery_config_get_int            (OrreryConfig  *self,
                                                const char    *group,
                                                const char    *key,
                                                gint64         default_value,
                                                GError       **error);
ORRERY_EXPORT
guint64       orrery_config_get_uint           (OrreryConfig  *self,
                                                const char    *group,
                                                const char    *key,
                                                guint64        default_value,
                                                GError       **error);
ORRERY_EXPORT
gdouble       orrery_config_get_double         (OrreryConfig  *self,
                                                const char    *group,
                                                const char    *key,
                                                gdouble        default_value,
                                                GError       **error);

G_END_DECLS
