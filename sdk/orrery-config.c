/* orrery-config.c: the host configuration (GKeyFile layers).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-Plugins"

#include <errno.h>
#include <stdlib.h>

#include "orrery-private.h"
#include "orrery-dirs.h"

/**
 * OrreryConfig:
 *
 * The host configuration: a stack of keyfiles, looked up from the top.
 *
 * 1. overrides from the command line (orrery_config_set_override(),
 *    orrery_config_parse_override(), orrery_config_set_plugin_enabled());
 * 2. the host's configuration file, the first found of `--config FILE`,
 *    `$XDG_CONFIG_HOME/orrery/orrery.conf`, `SYSCONFDIR/orrery/orrery.conf`
 *    and the default shipped with Orrery (see orrery_config_load());
 * 3. per-group defaults, such as the `NAME.conf` keyfile a plugin can ship
 *    beside its `.so` (orrery_config_add_defaults_file()).
 *
 * The host reads `[Host]`; each plugin has a group `[Plugin NAME]`; other
 * parts of Orrery read their own groups (`[Device NAME]`, ...) through the
 * generic getters. The typed getters take a default and report a bad value
 * with a #GError that names the file, the group and the key.
 */

/* The origin of the values given on the command line. */
#define ORIGIN_COMMAND_LINE "command line"

typedef struct
{
  GKeyFile *keyfile;
  char     *origin;     /* file name, or a description */
  char     *group;      /* NULL: every group; else the only group it provides */
} Layer;

struct _OrreryConfig
{
  GObject    parent_instance;

  GKeyFile  *overrides;
  GPtrArray *override_errors; /* GError: override values a getter refused */
  Layer     *main;      /* NULL until loaded */
  GPtrArray *defaults;  /* of Layer */
};

G_DEFINE_FINAL_TYPE (OrreryConfig, orrery_config, G_TYPE_OBJECT)
G_DEFINE_QUARK (orrery-config-error-quark, orrery_config_error)

enum {
  PROP_0,
  PROP_FILE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
layer_free (Layer *layer)
{
  if (layer == NULL)
    return;
  g_key_file_unref (layer->keyfile);
  g_free (layer->origin);
  g_free (layer->group);
  g_free (layer);
}

static void
orrery_config_finalize (GObject *object)
{
  OrreryConfig *self = ORRERY_CONFIG (object);

  g_key_file_unref (self->overrides);
  g_ptr_array_unref (self->override_errors);
  layer_free (self->main);
  g_ptr_array_unref (self->defaults);
  G_OBJECT_CLASS (orrery_config_parent_class)->finalize (object);
}

static void
orrery_config_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  OrreryConfig *self = ORRERY_CONFIG (object);

  switch (prop_id)
    {
    case PROP_FILE:
      g_value_set_string (value, orrery_config_get_file (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
orrery_config_class_init (OrreryConfigClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = orrery_config_finalize;
  object_class->get_property = orrery_config_get_property;

  /**
   * OrreryConfig:file:
   *
   * The host configuration file that was loaded, if any.
   */
  properties[PROP_FILE] =
    g_param_spec_string ("file", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
orrery_config_init (OrreryConfig *self)
{
  self->overrides = g_key_file_new ();
  self->override_errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  self->defaults = g_ptr_array_new_with_free_func ((GDestroyNotify) layer_free);
}

/**
 * orrery_config_new:
 *
 * Creates an empty configuration: every getter returns its default until
 * a file is loaded or an override is set.
 *
 * Returns: (transfer full): a new configuration
 */
OrreryConfig *
orrery_config_new (void)
{
  return g_object_new (ORRERY_TYPE_CONFIG, NULL);
}

/**
 * orrery_config_get_search_files:
 *
 * The configuration files orrery_config_load() looks for when it is given
 * none, in order: the user's (`$XDG_CONFIG_HOME/orrery/orrery.conf`),
 * `orrery/orrery.conf` in each directory of `$XDG_CONFIG_DIRS` (by default
 * `/etc/xdg`), the system's (`SYSCONFDIR/orrery/orrery.conf`), then the
 * default shipped with Orrery (`data/orrery.conf` of the build tree when the
 * library is used uninstalled, `DATADIR/orrery/orrery.conf` otherwise). The
 * first that exists is read.
 *
 * Returns: (transfer full) (array zero-terminated=1): the file names
 */
char **
orrery_config_get_search_files (void)
{
  return _orrery_dirs_get_config_files ();
}

static Layer *
layer_from_keyfile (GKeyFile   *keyfile,
                    const char *origin,
                    const char *group)
{
  Layer *layer = g_new0 (Layer, 1);

  layer->keyfile = g_key_file_ref (keyfile);
  layer->origin = g_strdup (origin);
  layer->group = g_strdup (group);
  return layer;
}

/* A keyfile is UTF-8: GKeyFile takes group and key names that are not,
 * and every message naming them would not be either. */
static gboolean
check_utf8 (const char  *data,
            gsize        length,
            const char  *origin,
            GError     **error)
{
  const char *end = NULL;
  guint line = 1;

  if (g_utf8_validate_len (data, length, &end))
    return TRUE;
  for (const char *p = data; p < end; p++)
    line += *p == '\n';
  {
    g_autofree char *shown = orrery_escape_for_terminal (origin, -1);

    g_set_error (error, ORRERY_CONFIG_ERROR, ORRERY_CONFIG_ERROR_PARSE,
                 "%s:%u: not valid UTF-8%s", shown, line, *end == '\0' ? " (a NUL byte)" : "");
  }
  return FALSE;
}

/* Whether a raw value ends in a backslash that escapes nothing. GLib 2.74
 * reads such a value (`a\;b\`) by setting its error twice, a warning
 * that every later read of the key repeats: refuse it where it is loaded. */
static gboolean
ends_in_lone_escape (const char *raw)
{
  gsize len = strlen (raw), n = 0;

  while (n < len && raw[len - 1 - n] == '\\')
    n++;
  return n % 2 == 1;
}

static gboolean
check_escapes (GKeyFile    *keyfile,
               const char  *origin,
               GError     **error)
{
  g_auto(GStrv) groups = g_key_file_get_groups (keyfile, NULL);

  for (guint i = 0; groups[i] != NULL; i++)
    {
      g_auto(GStrv) keys = g_key_file_get_keys (keyfile, groups[i], NULL, NULL);

      for (guint k = 0; keys != NULL && keys[k] != NULL; k++)
        {
          g_autofree char *raw = g_key_file_get_value (keyfile, groups[i], keys[k], NULL);

          if (raw != NULL && ends_in_lone_escape (raw))
            {
              g_autofree char *shown_origin = orrery_escape_for_terminal (origin, -1);
              g_autofree char *shown_group = orrery_escape_for_terminal (groups[i], -1);
              g_autofree char *shown_key = orrery_escape_for_terminal (keys[k], -1);

              g_set_error (error, ORRERY_CONFIG_ERROR, ORRERY_CONFIG_ERROR_PARSE,
                           "%s: [%s] %s: the value ends with a backslash that escapes nothing "
                           "(write \\\\ for a backslash)", shown_origin, shown_group, shown_key);
              return FALSE;
            }
        }
    }
  return TRUE;
}

static GKeyFile *
keyfile_load (const char  *file,
              GError     **error)
{
  g_autoptr(GKeyFile) keyfile = g_key_file_new ();
  g_autoptr(GError) local_error = NULL;
  g_autofree char *data = NULL;
  gsize length = 0;

  if (g_file_get_contents (file, &data, &length, &local_error) &&
      !check_utf8 (data, length, file, error))
    return NULL;
  if (local_error != NULL ||
      !g_key_file_load_from_data (keyfile, data, length, G_KEY_FILE_NONE, &local_error))
    {
      g_autofree char *shown = orrery_escape_for_terminal (file, -1);

      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_set_error (error, ORRERY_CONFIG_ERROR, ORRERY_CONFIG_ERROR_NOT_FOUND,
                     "%s: no such configuration file", shown);
      else if (local_error->domain == G_FILE_ERROR)
        g_set_error (error, ORRERY_CONFIG_ERROR, ORRERY_CONFIG_ERROR_PARSE,
                     "%s", local_error->message);
      else
        g_set_error (error, ORRERY_CONFIG_ERROR, ORRERY_CONFIG_ERROR_PARSE,
                     "%s: %s", shown, local_error->message);
      return NULL;
    }
  if (!check_escapes (keyfile, file, error))
    return NULL;
  return g_steal_pointer (&keyfile);
}

/**
 * orrery_config_load_file:
 * @self: a configuration
 * @file: (type filename): a keyfile
 * @error: return location for an error
 *
 * Loads @file as the host configuration, replacing any loaded before.
 * Overrides and defaults files are kept.
 *
 * Returns: %TRUE on success
 */
gboolean
orrery_config_load_file (OrreryConfig  *self,
                         const char    *file,
                         GError       **error)
{
  g_autoptr(GKeyFile) keyfile = NULL;

  g_return_val_if_fail (ORRERY_IS_CONFIG (self), FALSE);
  g_return_val_if_fail (file != NULL, FALSE);

  keyfile = keyfile_load (file, error);
  if (keyfile == NULL)
    return FALSE;
  layer_free (self->main);
  self->main = layer_from_keyfile (keyfile, file, NULL);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FILE]);
  return TRUE;
}

/**
 * orrery_config_load_data:
 * @self: a configuration
 * @data: the text of a keyfile
 * @origin: (nullable): what to call it in messages; "(data)" if %NULL
 * @error: return location for an error
 *
 * Loads @data as the host configuration, replacing any loaded before.
 *
 * Returns: %TRUE on success
 */
gboolean
orrery_config_load_data (OrreryConfig  *self,
                         const char    *data,
                         const char    *origin,
                         GError       **error)
{
  g_autoptr(GKeyFile) keyfile = g_key_file_new ();
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (ORRERY_IS_CONFIG (self), FALSE);
  g_return_val_if_fail (data != NULL, FALSE);

  if (origin == NULL)
    origin = "(data)";
  if (!check_utf8 (data, strlen (data), origin, error))
    return FALSE;
  if (!g_key_file_load_from_data (keyfile, data, -1, G_KEY_FILE_NONE, &local_error))
    {
      g_set_error (error, ORRERY_CONFIG_ERROR, ORRERY_CONFIG_ERROR_PARSE,
                   "%s: %s", origin, local_error->message);
      return FALSE;
    }
  if (!check_escapes (keyfile, origin, error))
    return FALSE;
  layer_free (self->main);
  self->main = layer_from_keyfile (keyfile, origin, NULL);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FILE]);
  return TRUE;
}

/**
 * orrery_config_load:
 * @self: a configuration
 * @file: (type filename) (nullable): the file given with `--config`, if any
 * @error: return location for an error
 *
 * Loads the host configuration: @file if given (it must exist), otherwise
 * the first of orrery_config_get_search_files() that exists. Finding none
 * is not an error: every setting then has its default.
 *
 * Returns: %TRUE on success
 */
gboolean
orrery_config_load (OrreryConfig  *self,
                    const char    *file,
                    GError       **error)
{
  g_auto(GStrv) files = NULL;

  g_return_val_if_fail (ORRERY_IS_CONFIG (self), FALSE);

  if (file != NULL)
    return orrery_config_load_file (self, file, error);

  files = orrery_config_get_search_files ();
  for (guint i = 0; files[i] != NULL; i++)
    if (g_file_test (files[i], G_FILE_TEST_EXISTS))
      {
        g_debug ("Configuration: %s", files[i]);
        return orrery_config_load_file (self, files[i], error);
      }
  return TRUE;
}

/**
 * orrery_config_add_defaults_file:
 * @self: a configuration
 * @group: the only group taken from @file
 * @file: (type filename): a keyfile
 * @error: return location for an error
 *
 * Adds the defaults of @group from @file, below the host configuration
 * and the overrides. This is how a plugin's `NAME.conf` beside its `.so`
 * is read. A missing file is an %ORRERY_CONFIG_ERROR_NOT_FOUND error.
 *
 * Returns: %TRUE on success
 */
gboolean
orrery_config_add_defaults_file (OrreryConfig  *self,
                                 const char    *group,
                                 const char    *file,
                                 GError       **error)
{
  g_autoptr(GKeyFile) keyfile = NULL;

  g_return_val_if_fail (ORRERY_IS_CONFIG (self), FALSE);
  g_return_val_if_fail (group != NULL, FALSE);
  g_return_val_if_fail (file != NULL, FALSE);

  keyfile = keyfile_load (file, error);
  if (keyfile == NULL)
    return FALSE;
  /* The newest defaults for a group replace older ones. */
  for (guint i = 0; i < self->defaults->len; i++)
    {
      Layer *layer = g_ptr_array_index (self->defaults, i);

      if (g_strcmp0 (layer->group, group) == 0)
        {
          g_ptr_array_remove_index (self->defaults, i);
          break;
        }
    }
  g_ptr_array_add (self->defaults, layer_from_keyfile (keyfile, file, group));
  return TRUE;
}

/**
 * orrery_config_get_file:
 * @self: a configuration
 *
 * Returns: (nullable) (type filename): the host configuration file loaded,
 *   or %NULL if none
 */
const char *
orrery_config_get_file (OrreryConfig *self)
{
  g_return_val_if_fail (ORRERY_IS_CONFIG (self), NULL);
  return self->main != NULL ? self->main->origin : NULL;
}

/**
 * orrery_config_set_override:
 * @self: a configuration
 * @group: a group
 * @key: a key
 * @value: the value, in keyfile syntax
 *
 * Sets a value that wins over every file (the command line's `--set`).
 * @value must not end with a backslash that escapes nothing.
 */
void
orrery_config_set_override (OrreryConfig *self,
                            const char   *group,
                            const char   *key,
                            const char   *value)
{
  g_return_if_fail (ORRERY_IS_CONFIG (self));
  g_return_if_fail (group != NULL && key != NULL && value != NULL);
  g_return_if_fail (!ends_in_lone_escape (value));
  g_key_file_set_value (self->overrides, group, key, value);
}

/**
 * orrery_config_plugin_group:
 * @plugin: a plugin's name
 *
 * Returns: (transfer full): the name of the plugin's group, `Plugin NAME`
 */
char *
orrery_config_plugin_group (const char *plugin)
{
  g_return_val_if_fail (plugin != NULL, NULL);
  return g_strconcat (ORRERY_CONFIG_PLUGIN_GROUP_PREFIX, plugin, NULL);
}

/* Whether @text is valid UTF-8 without control characters (tabs are
 * allowed in values). */
static gboolean
is_clean_text (const char *text,
               gboolean    allow_tab)
{
  if (!g_utf8_validate (text, -1, NULL))
    return FALSE;
  for (const char *p = text; *p; p++)
    if (g_ascii_iscntrl (*p) && !(allow_tab && *p == '\t'))
      return FALSE;
  return TRUE;
}

/* What GKeyFile accepts as a group name: not empty, no brackets, no
 * control characters, UTF-8. */
static gboolean
is_group_name (const char *group)
{
  return *group != '\0' && strpbrk (group, "[]") == NULL && is_clean_text (group, FALSE);
}

/* A key: not empty, no brackets, `=`, spaces or control characters, UTF-8. */
static gboolean
is_key_name (const char *key)
{
  return *key != '\0' && strpbrk (key, " \t[]=") == NULL && is_clean_text (key, FALSE);
}

static gboolean G_GNUC_PRINTF (3, 4)
bad_override (GError     **error,
              const char  *assignment,
              const char  *format,
              ...)
{
  g_autofree char *shown = orrery_escape_for_terminal (assignment, -1);
  g_autofree char *why = NULL;
  va_list args;

  va_start (args, format);
  why = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, ORRERY_CONFIG_ERROR, ORRERY_CONFIG_ERROR_BAD_OVERRIDE,
               "--set “%s”: %s", shown, why);
  return FALSE;
}

/**
 * orrery_config_parse_override:
 * @self: a configuration
 * @assignment: `PLUGIN.KEY=VALUE`, or `Host.KEY=VALUE` for the host
 * @error: return location for an error
 *
 * Parses one `--set` option of the command line and sets the override.
 * `Host.KEY` sets a key of `[Host]`, `[GROUP].KEY` any group, anything
 * else a key of `[Plugin PLUGIN]`. A group or key name that a keyfile
 * cannot hold (empty, with brackets, control characters or text that is
 * not UTF-8; keys also without spaces or `=`) and a value with control
 * characters other than tabs are refused with
 * %ORRERY_CONFIG_ERROR_BAD_OVERRIDE, the assignment escaped in the message.
 * The value's type is checked where it is read (see
 * orrery_config_check_overrides()).
 *
 * Returns: %TRUE on success
 */
gboolean
orrery_config_parse_override (OrreryConfig  *self,
                              const char    *assignment,
                              GError       **error)
{
  const char *eq, *dot, *value;
  g_autofree char *lhs = NULL;
  g_autofree char *group = NULL;
  const char *key;

  g_return_val_if_fail (ORRERY_IS_CONFIG (self), FALSE);
  g_return_val_if_fail (assignment != NULL, FALSE);

  eq = strchr (assignment, '=');
  if (eq == NULL)
    return bad_override (error, assignment, "expected PLUGIN.KEY=VALUE");
  lhs = g_strndup (assignment, eq - assignment);
  value = eq + 1;
  if (lhs[0] == '[')
    {
      char *close = strrchr (lhs, ']');

      if (close == NULL || close[1] != '.')
        return bad_override (error, assignment, "expected [GROUP].KEY=VALUE");
      group = g_strndup (lhs + 1, close - lhs - 1);
      key = close + 2;
    }
  else
    {
      dot = strrchr (lhs, '.');
      if (dot == NULL || dot == lhs)
        return bad_override (error, assignment, "expected PLUGIN.KEY=VALUE");
      group = g_strndup (lhs, dot - lhs);
      key = dot + 1;
      if (g_strcmp0 (group, ORRERY_CONFIG_HOST_GROUP) != 0)
        {
          char *plugin_group;

          if (!is_group_name (group))
            return bad_override (error, assignment, "not a plugin name (no brackets, control "
                                 "characters or text that is not UTF-8)");
          plugin_group = orrery_config_plugin_group (group);
          g_free (group);
          group = plugin_group;
        }
    }
  if (!is_group_name (group))
    return bad_override (error, assignment, "not a group name (not empty; no brackets, control "
                         "characters or text that is not UTF-8)");
  if (!is_key_name (key))
    return bad_override (error, assignment, "not a key name (not empty; no spaces, brackets, "
                         "“=”, control characters or text that is not UTF-8)");
  if (!is_clean_text (value, TRUE))
    return bad_override (error, assignment, "the value holds control characters or text "
                         "that is not UTF-8");
  if (ends_in_lone_escape (value))
    return bad_override (error, assignment, "the value ends with a backslash that escapes "
                         "nothing (write \\\\ for a backslash)");
  orrery_config_set_override (self, group, key, value);
  return TRUE;
}

/**
 * orrery_config_set_plugin_enabled:
 * @self: a configuration
 * @plugin: a plugin's name
 * @enabled: whether to enable it
 *
 * The command line's `--enable PLUGIN` and `--disable PLUGIN`: overrides
 * the plugin's `Enabled` key.
 */
void
orrery_config_set_plugin_enabled (OrreryConfig *self,
                                  const char   *plugin,
                                  gboolean      enabled)
{
  g_autofree char *group = NULL;

  g_return_if_fail (ORRERY_IS_CONFIG (self));
  g_return_if_fail (plugin != NULL);
  group = orrery_config_plugin_group (plugin);
  g_key_file_set_boolean (self->overrides, group, "Enabled", enabled);
}

/* Finds the layer that provides group/key, from the top. */
static GKeyFile *
find_layer (OrreryConfig *self,
            const char   *group,
            const char   *key,
            const char  **origin)
{
  if (g_key_file_has_key (self->overrides, group, key, NULL))
    {
      *origin = ORIGIN_COMMAND_LINE;
      return self->overrides;
    }
  if (self->main != NULL && g_key_file_has_key (self->main->keyfile, group, key, NULL))
    {
      *origin = self->main->origin;
      return self->main->keyfile;
    }
  for (guint i = self->defaults->len; i > 0; i--)
    {
      Layer *layer = g_ptr_array_index (self->defaults, i - 1);

      if (g_strcmp0 (layer->group, group) == 0 &&
          g_key_file_has_key (layer->keyfile, group, key, NULL))
        {
          *origin = layer->origin;
          return layer->keyfile;
        }
    }
  *origin = NULL;
  return NULL;
}

static void
collect_groups (GKeyFile   *keyfile,
                const char *only,
                GPtrArray  *out)
{
  g_auto(GStrv) groups = g_key_file_get_groups (keyfile, NULL);

  for (guint i = 0; groups[i] != NULL; i++)
    {
      if (only != NULL && g_strcmp0 (groups[i], only) != 0)
        continue;
      if (!g_ptr_array_find_with_equal_func (out, groups[i], g_str_equal, NULL))
        g_ptr_array_add (out, g_strdup (groups[i]));
    }
}

/**
 * orrery_config_get_groups:
 * @self: a configuration
 *
 * Every group of every layer, in the order of the host file first.
 *
 * Returns: (transfer full) (array zero-terminated=1): the group names
 */
char **
orrery_config_get_groups (OrreryConfig *self)
{
  GPtrArray *out;

  g_return_val_if_fail (ORRERY_IS_CONFIG (self), NULL);

  out = g_ptr_array_new ();
  if (self->main != NULL)
    collect_groups (self->main->keyfile, NULL, out);
  collect_groups (self->overrides, NULL, out);
  for (guint i = 0; i < self->defaults->len; i++)
    {
      Layer *layer = g_ptr_array_index (self->defaults, i);

      collect_groups (layer->keyfile, layer->group, out);
    }
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (out, FALSE);
}

static void
collect_keys (GKeyFile   *keyfile,
              const char *group,
              GPtrArray  *out)
{
  g_auto(GStrv) keys = g_key_file_get_keys (keyfile, group, NULL, NULL);

  for (guint i = 0; keys != NULL && keys[i] != NULL; i++)
    if (!g_ptr_array_find_with_equal_func (out, keys[i], g_str_equal, NULL))
      g_ptr_array_add (out, g_strdup (keys[i]));
}

/**
 * orrery_config_get_keys:
 * @self: a configuration
 * @group: a group
 *
 * Returns: (transfer full) (array zero-terminated=1): every key of @group
 *   in any layer, without duplicates
 */
char **
orrery_config_get_keys (OrreryConfig *self,
                        const char   *group)
{
  GPtrArray *out;

  g_return_val_if_fail (ORRERY_IS_CONFIG (self), NULL);
  g_return_val_if_fail (group != NULL, NULL);

  out = g_ptr_array_new ();
  if (self->main != NULL)
    collect_keys (self->main->keyfile, group, out);
  collect_keys (self->overrides, group, out);
  for (guint i = 0; i < self->defaults->len; i++)
    {
      Layer *layer = g_ptr_array_index (self->defaults, i);

      if (g_strcmp0 (layer->group, group) == 0)
        collect_keys (layer->keyfile, group, out);
    }
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (out, FALSE);
}

/**
 * orrery_config_get_plugin_names:
 * @self: a configuration
 *
 * Returns: (transfer full) (array zero-terminated=1): the names of the
 *   plugins that have a `[Plugin NAME]` group
 */
char **
orrery_config_get_plugin_names (OrreryConfig *self)
{
  g_auto(GStrv) groups = orrery_config_get_groups (self);
  GStrvBuilder *builder = g_strv_builder_new ();
  char **names;

  for (guint i = 0; groups[i] != NULL; i++)
    if (g_str_has_prefix (groups[i], ORRERY_CONFIG_PLUGIN_GROUP_PREFIX) &&
        groups[i][strlen (ORRERY_CONFIG_PLUGIN_GROUP_PREFIX)] != '\0')
      g_strv_builder_add (builder, groups[i] + strlen (ORRERY_CONFIG_PLUGIN_GROUP_PREFIX));
  names = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return names;
}

/**
 * orrery_config_has_group:
 * @self: a configuration
 * @group: a group
 *
 * Returns: whether any layer has @group
 */
gboolean
orrery_config_has_group (OrreryConfig *self,
                         const char   *group)
{
  g_return_val_if_fail (ORRERY_IS_CONFIG (self), FALSE);
  g_return_val_if_fail (group != NULL, FALSE);

  if (g_key_file_has_group (self->overrides, group))
    return TRUE;
  if (self->main != NULL && g_key_file_has_group (self->main->keyfile, group))
    return TRUE;
  for (guint i = 0; i < self->defaults->len; i++)
    {
      Layer *layer = g_ptr_array_index (self->defaults, i);

      if (g_strcmp0 (layer->group, group) == 0 && g_key_file_has_group (layer->keyfile, group))
        return TRUE;
    }
  return FALSE;
}

/**
 * orrery_config_has_key:
 * @self: a configuration
 * @group: a group
 * @key: a key
 *
 * Returns: whether any layer sets @key in @group
 */
gboolean
orrery_config_has_key (OrreryConfig *self,
                       const char   *group,
                       const char   *key)
{
  const char *origin;

  g_return_val_if_fail (ORRERY_IS_CONFIG (self), FALSE);
  g_return_val_if_fail (group != NULL && key != NULL, FALSE);
  return find_layer (self, group, key, &origin) != NULL;
}

/**
 * orrery_config_get_origin:
 * @self: a configuration
 * @group: a group
 * @key: a key
 *
 * Where the value of @key comes from: a file name, or `command line`.
 *
 * Returns: (transfer full) (nullable): the origin, or %NULL if no layer
 *   sets @key
 */
char *
orrery_config_get_origin (OrreryConfig *self,
                          const char   *group,
                          const char   *key)
{
  const char *origin;

  g_return_val_if_fail (ORRERY_IS_CONFIG (self), NULL);
  g_return_val_if_fail (group != NULL && key != NULL, NULL);
  find_layer (self, group, key, &origin);
  return g_strdup (origin);
}

/**
 * orrery_config_get_string:
 * @self: a configuration
 * @group: a group
 * @key: a key
 * @default_value: (nullable): returned when no layer sets @key
 *
 * Returns: (transfer full) (nullable): the value of @key, or a copy of
 *   @default_value
 */
char *
orrery_config_get_string (OrreryConfig *self,
                          const char   *group,
                          const char   *key,
                          const char   *default_value)
{
  const char *origin;
  GKeyFile *keyfile;
  char *value;

  g_return_val_if_fail (ORRERY_IS_CONFIG (self), NULL);
  g_return_val_if_fail (group != NULL && key != NULL, NULL);

  keyfile = find_layer (self, group, key, &origin);
  if (keyfile == NULL)
    return g_strdup (default_value);
  value = g_key_file_get_string (keyfile, group, key, NULL);
  return value != NULL ? value : g_strdup (default_value);
}

/**
 * orrery_config_get_string_list:
 * @self: a configuration
 * @group: a group
 * @key: a key
 *
 * Returns: (transfer full) (array zero-terminated=1) (nullable): the
 *   `;`-separated list of @key, or %NULL when no layer sets it
 */
char **
orrery_config_get_string_list (OrreryConfig *self,
                               const char   *group,
                               const char   *key)
{
  const char *origin;
  GKeyFile *keyfile;

  g_return_val_if_fail (ORRERY_IS_CONFIG (self), NULL);
  g_return_val_if_fail (group != NULL && key != NULL, NULL);

  keyfile = find_layer (self, group, key, &origin);
  if (keyfile == NULL)
    return NULL;
  return g_key_file_get_string_list (keyfile, group, key, NULL, NULL);
}

static char *
raw_value (OrreryConfig *self,
           const char   *group,
           const char   *key,
           const char  **origin)
{
  GKeyFile *keyfile = find_layer (self, group, key, origin);
  char *value;

  if (keyfile == NULL)
    return NULL;
  value = g_key_file_get_value (keyfile, group, key, NULL);
  if (value != NULL)
    g_strstrip (value);
  return value;
}

/* Keeps a refused value that came from the command line, once a key, for
 * orrery_config_check_overrides(). */
static void
note_override_error (OrreryConfig *self,
                     const char   *origin,
                     const GError *error)
{
  if (origin == NULL || !g_str_equal (origin, ORIGIN_COMMAND_LINE))
    return;
  for (guint i = 0; i < self->override_errors->len; i++)
    if (g_str_equal (((GError *) self->override_errors->pdata[i])->message, error->message))
      return;
  g_ptr_array_add (self->override_errors, g_error_copy (error));
}

static void
set_bad_value (OrreryConfig  *self,
               GError       **error,
               const char    *origin,
               const char    *group,
               const char    *key,
               const char    *value,
               const char    *expected)
{
  g_autofree char *shown = orrery_escape_for_terminal (value, -1);
  g_autofree char *where = orrery_escape_for_terminal (origin, -1);
  g_autofree char *group_shown = orrery_escape_for_terminal (group, -1);
  g_autofree char *key_shown = orrery_escape_for_terminal (key, -1);
  g_autoptr(GError) local = g_error_new (ORRERY_CONFIG_ERROR, ORRERY_CONFIG_ERROR_BAD_VALUE,
                                         "%s: [%s] %s: “%s” is not %s", where, group_shown,
                                         key_shown, shown, expected);

  note_override_error (self, origin, local);
  g_propagate_error (error, g_steal_pointer (&local));
}

/**
 * orrery_config_get_boolean:
 * @self: a configuration
 * @group: a group
 * @key: a key
 * @default_value: returned when no layer sets @key
 * @error: return location for an error
 *
 * Reads a boolean (`true`/`false`, also `yes`/`no`, `on`/`off`, `1`/`0`).
 *
 * Returns: the value, or @default_value when unset or invalid (then
 *   @error names the file, the group and the key)
 */
gboolean
orrery_config_get_boolean (OrreryConfig  *self,
                           const char    *group,
                           const char    *key,
                           gboolean       default_value,
                           GError       **error)
{
  const char *origin;
  g_autofree char *value = NULL;
  g_autofree char *lower = NULL;

  g_return_val_if_fail (ORRERY_IS_CONFIG (self), default_value);
  g_return_val_if_fail (group != NULL && key != NULL, default_value);

  value = raw_value (self, group, key, &origin);
  if (value == NULL)
    return default_value;
  lower = g_ascii_strdown (value, -1);
  if (g_str_equal (lower, "true") || g_str_equal (lower, "yes") ||
      g_str_equal (lower, "on") || g_str_equal (lower, "1"))
    return TRUE;
  if (g_str_equal (lower, "false") || g_str_equal (lower, "no") ||
      g_str_equal (lower, "off") || g_str_equal (lower, "0"))
    return FALSE;
  set_bad_value (self, error, origin, group, key, value, "a boolean (true or false)");
  return default_value;
}

/**
 * orrery_config_get_int:
 * @self: a configuration
 * @group: a group
 * @key: a key
 * @default_value: returned when no layer sets @key
 * @error: return location for an error
 *
 * Reads a signed integer (decimal, or hexadecimal with `0x`).
 *
 * Returns: the value, or @default_value when unset or invalid (then
 *   @error names the file, the group and the key)
 */
gint64
orrery_config_get_int (OrreryConfig  *self,
                       const char    *group,
                       const char    *key,
                       gint64         default_value,
                       GError       **error)
{
  const char *origin;
  g_autofree char *value = NULL;
  gint64 result;
  char *end = NULL;

  g_return_val_if_fail (ORRERY_IS_CONFIG (self), default_value);
  g_return_val_if_fail (group != NULL && key != NULL, default_value);

  value = raw_value (self, group, key, &origin);
  if (value == NULL)
    return default_value;
  errno = 0;
  result = g_ascii_strtoll (value, &end, 0);
  if (value[0] == '\0' || *end != '\0' || errno != 0)
    {
      set_bad_value (self, error, origin, group, key, value, "an integer");
      return default_value;
    }
  return result;
}

/**
 * orrery_config_get_uint:
 * @self: a configuration
 * @group: a group
 * @key: a key
 * @default_value: returned when no layer sets @key
 * @error: return location for an error
 *
 * Reads a non-negative integer.
 *
 * Returns: the value, or @default_value when unset or invalid (then
 *   @error names the file, the group and the key)
 */
guint64
orrery_config_get_uint (OrreryConfig  *self,
                        const char    *group,
                        const char    *key,
                        guint64        default_value,
                        GError       **error)
{
  const char *origin;
  g_autofree char *value = NULL;
  guint64 result;
  char *end = NULL;

  g_return_val_if_fail (ORRERY_IS_CONFIG (self), default_value);
  g_return_val_if_fail (group != NULL && key != NULL, default_value);

  value = raw_value (self, group, key, &origin);
  if (value == NULL)
    return default_value;
  errno = 0;
  result = g_ascii_strtoull (value, &end, 0);
  if (value[0] == '\0' || value[0] == '-' || *end != '\0' || errno != 0)
    {
      set_bad_value (self, error, origin, group, key, value, "a non-negative integer");
      return default_value;
    }
  return result;
}

/**
 * orrery_config_get_double:
 * @self: a configuration
 * @group: a group
 * @key: a key
 * @default_value: returned when no layer sets @key
 * @error: return location for an error
 *
 * Reads a floating-point number (C locale).
 *
 * Returns: the value, or @default_value when unset or invalid (then
 *   @error names the file, the group and the key)
 */
gdouble
orrery_config_get_double (OrreryConfig  *self,
                          const char    *group,
                          const char    *key,
                          gdouble        default_value,
                          GError       **error)
{
  const char *origin;
  g_autofree char *value = NULL;
  gdouble result;
  char *end = NULL;

  g_return_val_if_fail (ORRERY_IS_CONFIG (self), default_value);
  g_return_val_if_fail (group != NULL && key != NULL, default_value);

  value = raw_value (self, group, key, &origin);
  if (value == NULL)
    return default_value;
  errno = 0;
  result = g_ascii_strtod (value, &end);
  if (value[0] == '\0' || *end != '\0' || errno != 0)
    {
      set_bad_value (self, error, origin, group, key, value, "a number");
      return default_value;
    }
  return result;
}

/* The checks of orrery_config_check_overrides() on one key the SDK reads
 * itself, through the same getters its readers use. */
static void
check_known_key (OrreryConfig *self,
                 const char   *group,
                 const char   *key)
{
  g_autoptr(GError) error = NULL;
  gboolean plugin = g_str_has_prefix (group, ORRERY_CONFIG_PLUGIN_GROUP_PREFIX);

  if ((plugin && g_str_equal (key, "Enabled")) ||
      (g_str_equal (group, ORRERY_CONFIG_HOST_GROUP) && g_str_equal (key, "AutoEnable")))
    orrery_config_get_boolean (self, group, key, FALSE, &error);
  else if (plugin && (g_str_equal (key, "QueueLimit") || g_str_equal (key, "DeadlineMs")))
    {
      guint64 v = orrery_config_get_uint (self, group, key, 0, &error);

      if (error == NULL && v > G_MAXUINT)
        {
          g_autofree char *value = g_key_file_get_value (self->overrides, group, key, NULL);

          set_bad_value (self, &error, ORIGIN_COMMAND_LINE, group, key, value,
                         "a non-negative integer that fits in 32 bits");
        }
    }
  else if (plugin && (g_str_equal (key, "RestartLimit") || g_str_equal (key, "InitDeadlineMs")))
    orrery_config_get_uint (self, group, key, 0, &error);
  else if (plugin && (g_str_equal (key, "Isolation") || g_str_equal (key, "Restart")))
    {
      /* As the plugin engine reads them (orrery-plugin-isolation.c). */
      gboolean isolation = g_str_equal (key, "Isolation");
      g_autofree char *value = orrery_config_get_string (self, group, key, NULL);

      if (value != NULL && (g_strstrip (value), TRUE) &&
          !(isolation ? (g_ascii_strcasecmp (value, "process") == 0 ||
                         g_ascii_strcasecmp (value, "in-process") == 0 ||
                         g_ascii_strcasecmp (value, "none") == 0)
                      : (g_ascii_strcasecmp (value, "on-failure") == 0 ||
                         g_ascii_strcasecmp (value, "no") == 0)))
        set_bad_value (self, &error, ORIGIN_COMMAND_LINE, group, key, value,
                       isolation ? "process or in-process" : "on-failure or no");
    }
  else if (plugin && g_str_equal (key, "Delivery"))
    {
      g_autofree char *value = orrery_config_get_string (self, group, key, NULL);

      if (value && g_ascii_strcasecmp (g_strstrip (value), "sync") != 0 &&
          g_ascii_strcasecmp (value, "queued") != 0)
        set_bad_value (self, &error, ORIGIN_COMMAND_LINE, group, key, value, "sync or queued");
    }
  else if (plugin && g_str_equal (key, "Events"))
    {
      g_auto(GStrv) events = orrery_config_get_string_list (self, group, key);

      for (guint i = 0; events && events[i]; i++)
        {
          const char *nick = g_strstrip (events[i]);
          OrreryEventType type;

          if (*nick && !g_str_equal (nick, "*") && !g_str_equal (nick, "all") &&
              !orrery_event_type_from_nick (nick, &type))
            {
              set_bad_value (self, &error, ORIGIN_COMMAND_LINE, group, key, nick,
                             "an event type (such as task-completed, or * for all)");
              break;
            }
        }
    }
}

/**
 * orrery_config_check_overrides:
 * @self: a configuration
 * @error: return location for an error
 *
 * Checks the values given on the command line. A value the user typed
 * that is wrong is a configuration error, not something to drop quietly:
 * this checks every override of a key the SDK reads itself (`[Host]
 * AutoEnable`; in each `[Plugin NAME]`: `Enabled`, `Events`, `Delivery`,
 * `QueueLimit`, `DeadlineMs`), and reports too every override value that
 * a typed getter (orrery_config_get_boolean() and the others, which is how
 * plugins read their declared keys) has refused since the configuration
 * was made. The host calls it once the configuration is loaded, and again
 * once the plugins are loaded, and stops with exit status 2 when it fails.
 *
 * Returns: %TRUE when every override checked is valid; otherwise %FALSE
 *   with %ORRERY_CONFIG_ERROR_BAD_VALUE, one problem a line, each naming
 *   the group and the key
 */
gboolean
orrery_config_check_overrides (OrreryConfig  *self,
                               GError       **error)
{
  g_auto(GStrv) groups = NULL;
  GString *msg;

  g_return_val_if_fail (ORRERY_IS_CONFIG (self), FALSE);

  groups = g_key_file_get_groups (self->overrides, NULL);
  for (guint i = 0; groups[i] != NULL; i++)
    {
      g_auto(GStrv) keys = g_key_file_get_keys (self->overrides, groups[i], NULL, NULL);

      for (guint k = 0; keys && keys[k]; k++)
        check_known_key (self, groups[i], keys[k]);
    }
  if (self->override_errors->len == 0)
    return TRUE;
  msg = g_string_new (NULL);
  for (guint i = 0; i < self->override_errors->len; i++)
    {
      if (i > 0)
        g_string_append_c (msg, '\n');
      g_string_append (msg, ((GError *) self->override_errors->pdata[i])->message);
    }
  g_set_error_literal (error, ORRERY_CONFIG_ERROR, ORRERY_CONFIG_ERROR_BAD_VALUE, msg->str);
  g_string_free (msg, TRUE);
  return FALSE;
}
