/* orrery-cmd-plugins.c: `orrery plugins`: every plugin found, its state
 * and, where it failed, why. Listing runs no code of any plugin (see
 * orrery_plugin_engine_check_all()); `--load` also loads and initialises
 * them, to show what only their init can tell.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <orrery.h>

#include "orrery-host.h"

/* Text from a plugin file (or a path) made safe for the terminal. */
static char *
shown (const char *text,
       const char *fallback)
{
  return orrery_escape_for_terminal (text != NULL ? text : fallback, -1);
}

static void
print_plugin (OrreryPluginEngine *engine,
              OrreryPluginInfo   *info)
{
  const GError *error = orrery_plugin_info_get_error (info);
  OrreryPluginState state = orrery_plugin_info_get_state (info);
  const char *raw_name = orrery_plugin_info_get_name (info);
  g_autofree char *name = shown (raw_name, "?");
  g_autofree char *version = shown (orrery_plugin_info_get_version (info), "-");
  g_autofree char *file = shown (orrery_plugin_info_get_file (info), "-");
  const char *enabled = "-";

  if (raw_name != NULL && state != ORRERY_PLUGIN_STATE_NOT_FOUND)
    enabled = orrery_plugin_engine_get_enabled_by_config (engine, raw_name) ? "yes" : "no";
  g_print ("%-20s %-10s %-10s %-7s %s\n", name, version, orrery_plugin_state_to_nick (state),
           enabled, file);
  if (orrery_plugin_info_get_description (info) != NULL)
    {
      g_autofree char *description = shown (orrery_plugin_info_get_description (info), "");

      g_print ("    %s\n", description);
    }
  if (raw_name != NULL)
    {
      OrreryConfig *config = orrery_plugin_engine_get_config (engine);
      g_autofree char *group = orrery_config_plugin_group (raw_name);
      g_autofree char *isolation = orrery_config_get_string (config, group, "Isolation", NULL);
      g_autofree char *restart = orrery_config_get_string (config, group, "Restart", NULL);

      if (isolation != NULL && g_ascii_strcasecmp (g_strstrip (isolation), "process") == 0)
        {
          g_autofree char *limit = orrery_config_get_string (config, group, "RestartLimit", NULL);
          gboolean again = restart != NULL &&
                           g_ascii_strcasecmp (g_strstrip (restart), "on-failure") == 0;

          g_print ("    isolation: process (orrery-plugin-host)%s%s%s\n",
                   again ? ", restarted on failure up to " : "",
                   again ? (limit ? g_strstrip (limit) : "3") : "", again ? " times" : "");
        }
    }
  if (error != NULL)
    {
      g_autofree char *message = shown (error->message, "");

      g_print ("    error: %s\n", message);
    }
}

static const char *
key_type_name (OrreryPluginKeyType type)
{
  switch (type)
    {
    case ORRERY_PLUGIN_KEY_STRING: return "string";
    case ORRERY_PLUGIN_KEY_BOOLEAN: return "boolean";
    case ORRERY_PLUGIN_KEY_INT: return "integer";
    case ORRERY_PLUGIN_KEY_UINT: return "unsigned integer";
    case ORRERY_PLUGIN_KEY_DOUBLE: return "number";
    case ORRERY_PLUGIN_KEY_STRING_LIST: return "string list";
    default: return "unknown type";
    }
}

/* The keys the SDK reads itself from every [Plugin NAME] group. */
static const char *const sdk_keys[] = {
  "Enabled", "Events", "Delivery", "QueueLimit", "DeadlineMs", "Isolation", "Restart",
  "RestartLimit", NULL
};

/* "VALUE (from ORIGIN)" or "(not set: the default)", escaped. */
static char *
current_value (OrreryConfig *config,
               const char   *group,
               const char   *key)
{
  g_autofree char *value = NULL;
  g_autofree char *origin = NULL;
  g_autofree char *shown_value = NULL;
  g_autofree char *shown_origin = NULL;

  if (!orrery_config_has_key (config, group, key))
    return g_strdup ("(not set: the default)");
  value = orrery_config_get_string (config, group, key, "");
  origin = orrery_config_get_origin (config, group, key);
  shown_value = orrery_escape_for_terminal (value, -1);
  shown_origin = orrery_escape_for_terminal (origin != NULL ? origin : "?", -1);
  return g_strdup_printf ("%s (from %s)", shown_value, shown_origin);
}

/* `orrery plugins NAME`: everything known of one plugin, like
 * gst-inspect-1.0 NAME, from its file and the configuration only. */
static void
print_plugin_details (OrreryPluginEngine *engine,
                      OrreryConfig       *config,
                      OrreryPluginInfo   *info,
                      gboolean            loaded)
{
  const GError *error = orrery_plugin_info_get_error (info);
  OrreryPluginState state = orrery_plugin_info_get_state (info);
  const char *raw_name = orrery_plugin_info_get_name (info);
  g_autofree char *name = shown (raw_name, "?");
  g_autofree char *version = shown (orrery_plugin_info_get_version (info), "-");
  g_autofree char *file = shown (orrery_plugin_info_get_file (info), "-");
  g_autofree char *description = shown (orrery_plugin_info_get_description (info), "-");
  g_autofree char *group = orrery_config_plugin_group (raw_name);
  g_auto(GStrv) set_keys = NULL;
  const OrreryPluginKey *keys;
  guint n_keys = 0;
  guint major, minor;
  gboolean first_other = TRUE;

  g_print ("Plugin Details:\n");
  g_print ("  %-18s %s\n", "Name", name);
  g_print ("  %-18s %s\n", "Description", description);
  g_print ("  %-18s %s\n", "Version", version);
  g_print ("  %-18s %s\n", "Filename", file);
  if (orrery_plugin_info_get_abi_version (info, &major, &minor))
    g_print ("  %-18s %u.%u (this orrery: %d.%d)\n", "Plugin ABI", major, minor,
             ORRERY_PLUGIN_ABI_MAJOR, ORRERY_PLUGIN_ABI_MINOR);
  else
    g_print ("  %-18s %s\n", "Plugin ABI", "(descriptor not read)");
  g_print ("  %-18s %s%s\n", "State", orrery_plugin_state_to_nick (state),
           loaded ? "" : " (no plugin code was run: --load runs its init too)");
  if (error != NULL)
    {
      g_autofree char *message = shown (error->message, "");

      g_print ("  %-18s %s\n", "Reason", message);
    }
  if (orrery_plugin_info_get_device_kinds (info) != NULL)
    {
      g_autofree char *joined = g_strjoinv (", ", (char **) orrery_plugin_info_get_device_kinds (info));
      g_autofree char *kinds = shown (joined, "");

      g_print ("  %-18s %s\n", "Device kinds", kinds);
    }
  if (state != ORRERY_PLUGIN_STATE_NOT_FOUND)
    g_print ("  %-18s %s\n", "Enabled by config",
             orrery_plugin_engine_get_enabled_by_config (engine, raw_name) ? "yes" : "no");
  g_print ("  %-18s [%s] in %s\n", "Settings group", group,
           orrery_config_get_file (config) != NULL ? orrery_config_get_file (config)
                                                   : "(no configuration file)");

  keys = orrery_plugin_info_get_keys (info, &n_keys);
  g_print ("\nPlugin Keys:\n");
  if (n_keys == 0)
    g_print ("  (none declared)\n");
  for (guint i = 0; i < n_keys; i++)
    {
      g_autofree char *key = shown (keys[i].name, "?");
      g_autofree char *key_description = shown (keys[i].description, "(no description)");
      g_autofree char *default_value = shown (keys[i].default_value, "(none)");
      g_autofree char *value = current_value (config, group, keys[i].name);

      g_print ("  %s\n", key);
      g_print ("      %s\n", key_description);
      g_print ("      %-9s %s\n", "Type:", key_type_name (keys[i].type));
      g_print ("      %-9s %s\n", "Default:", default_value);
      g_print ("      %-9s %s\n", "Current:", value);
    }

  g_print ("\nKeys every plugin has (read by orrery):\n");
  for (guint i = 0; sdk_keys[i] != NULL; i++)
    {
      g_autofree char *value = current_value (config, group, sdk_keys[i]);

      g_print ("  %-14s %s\n", sdk_keys[i], value);
    }

  /* What the configuration sets in the group that nobody declares. */
  set_keys = orrery_config_get_keys (config, group);
  for (guint i = 0; set_keys != NULL && set_keys[i] != NULL; i++)
    {
      gboolean known = g_strv_contains (sdk_keys, set_keys[i]);
      g_autofree char *key = NULL;
      g_autofree char *value = NULL;

      for (guint k = 0; !known && k < n_keys; k++)
        known = g_strcmp0 (keys[k].name, set_keys[i]) == 0;
      if (known)
        continue;
      if (first_other)
        g_print ("\nSet but not declared by the plugin (ignored, with a warning):\n");
      first_other = FALSE;
      key = shown (set_keys[i], "?");
      value = current_value (config, group, set_keys[i]);
      g_print ("  %-14s %s\n", key, value);
    }
}

/* The options every command that loads plugins shares (`plugins`, and
 * `run` once it is wired). */
void
orrery_host_plugin_options_add (GOptionContext          *context,
                                OrreryHostPluginOptions *options)
{
  const GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &options->config_file,
      "Read the configuration from FILE", "FILE" },
    { "plugin-path", 'P', 0, G_OPTION_ARG_FILENAME_ARRAY, &options->plugin_path,
      "Search DIR for plugins first (repeatable)", "DIR" },
    { "set", 's', 0, G_OPTION_ARG_STRING_ARRAY, &options->sets,
      "Override a setting (repeatable)", "PLUGIN.KEY=VALUE" },
    { "enable", 'e', 0, G_OPTION_ARG_STRING_ARRAY, &options->enables,
      "Enable a plugin (repeatable)", "PLUGIN" },
    { "disable", 'd', 0, G_OPTION_ARG_STRING_ARRAY, &options->disables,
      "Disable a plugin (repeatable)", "PLUGIN" },
    { "isolate", 0, 0, G_OPTION_ARG_STRING_ARRAY, &options->isolates,
      "Run a plugin in a helper process of its own (Isolation=process; repeatable)", "PLUGIN" },
    { "no-default-path", 0, 0, G_OPTION_ARG_NONE, &options->no_default_path,
      "Do not search the default plugin directory", NULL },
    { NULL }
  };

  g_option_context_add_main_entries (context, entries, NULL);
}

void
orrery_host_plugin_options_clear (OrreryHostPluginOptions *options)
{
  g_clear_pointer (&options->config_file, g_free);
  g_clear_pointer (&options->plugin_path, g_strfreev);
  g_clear_pointer (&options->sets, g_strfreev);
  g_clear_pointer (&options->enables, g_strfreev);
  g_clear_pointer (&options->disables, g_strfreev);
  g_clear_pointer (&options->isolates, g_strfreev);
}

/* The configuration: the file (--config, or the search), then --set,
 * --enable and --disable. An error is a usage error (exit status 2): a
 * malformed --set, a plugin name that cannot be a group, or a value of a
 * key the SDK reads itself (Enabled, Events, Delivery, ...) that is wrong.
 * Values of a plugin's own keys are checked once it is loaded
 * (orrery_config_check_overrides() again, by the command). */
OrreryConfig *
orrery_host_plugin_options_load_config (OrreryHostPluginOptions  *options,
                                        GError                  **error)
{
  g_autoptr(OrreryConfig) config = orrery_config_new ();
  const char *const *lists[] = { (const char *const *) options->enables,
                                 (const char *const *) options->disables };

  if (!orrery_config_load (config, options->config_file, error))
    return NULL;
  for (guint i = 0; options->sets != NULL && options->sets[i] != NULL; i++)
    if (!orrery_config_parse_override (config, options->sets[i], error))
      return NULL;
  for (guint l = 0; l < G_N_ELEMENTS (lists); l++)
    for (guint i = 0; lists[l] != NULL && lists[l][i] != NULL; i++)
      {
        /* The name becomes a group: set through the same checks as
         * --set "[Plugin NAME].Enabled=true" (no brackets, "=" or control
         * characters in NAME). */
        g_autofree char *assignment = g_strdup_printf ("[" ORRERY_CONFIG_PLUGIN_GROUP_PREFIX "%s].Enabled=%s",
                                                       lists[l][i], l == 0 ? "true" : "false");

        if (!orrery_config_parse_override (config, assignment, NULL))
          {
            g_autofree char *shown = orrery_escape_for_terminal (lists[l][i], -1);

            g_set_error (error, ORRERY_CONFIG_ERROR, ORRERY_CONFIG_ERROR_BAD_OVERRIDE,
                         "--%s “%s”: not a plugin name", l == 0 ? "enable" : "disable", shown);
            return NULL;
          }
      }
  for (guint i = 0; options->isolates != NULL && options->isolates[i] != NULL; i++)
    {
      g_autofree char *assignment = g_strdup_printf ("[" ORRERY_CONFIG_PLUGIN_GROUP_PREFIX "%s].Isolation=process",
                                                     options->isolates[i]);

      if (!orrery_config_parse_override (config, assignment, NULL))
        {
          g_autofree char *shown = orrery_escape_for_terminal (options->isolates[i], -1);

          g_set_error (error, ORRERY_CONFIG_ERROR, ORRERY_CONFIG_ERROR_BAD_OVERRIDE,
                       "--isolate “%s”: not a plugin name", shown);
          return NULL;
        }
    }
  if (!orrery_config_check_overrides (config, error))
    return NULL;
  if (!orrery_host_plugin_options_check_names_early (options, config, error))
    return NULL;
  return g_steal_pointer (&config);
}

/* The plugins the options name (--enable, --set, --isolate), checked
 * against those found on the search path, without running any plugin's
 * code: a misspelt name is a usage error, not a setting silently unused.
 * @engine has been checked or loaded. */
gboolean
orrery_host_plugin_options_check_names (OrreryHostPluginOptions  *options,
                                        OrreryPluginEngine       *engine,
                                        GError                  **error)
{
  g_autoptr(OrreryConfig) named = orrery_config_new ();
  g_auto(GStrv) set_names = NULL;
  const char *const *lists[] = { (const char *const *) options->enables,
                                 (const char *const *) options->isolates };
  const char *const option_names[] = { "--enable", "--isolate" };

  for (guint i = 0; options->sets != NULL && options->sets[i] != NULL; i++)
    orrery_config_parse_override (named, options->sets[i], NULL);
  set_names = orrery_config_get_plugin_names (named);

  for (guint l = 0; l <= G_N_ELEMENTS (lists); l++)
    {
      const char *const *list = l < G_N_ELEMENTS (lists) ? lists[l] : (const char *const *) set_names;

      for (guint i = 0; list != NULL && list[i] != NULL; i++)
        {
          OrreryPluginInfo *info = orrery_plugin_engine_lookup (engine, list[i]);
          g_autofree char *name = NULL;

          if (info != NULL && orrery_plugin_info_get_state (info) != ORRERY_PLUGIN_STATE_NOT_FOUND)
            continue;
          name = orrery_escape_for_terminal (list[i], -1);
          g_set_error (error, ORRERY_CONFIG_ERROR, ORRERY_CONFIG_ERROR_BAD_OVERRIDE,
                       "%s names plugin “%s”, which is not in the plugin search path "
                       "(“orrery plugins” lists the plugins found)",
                       l < G_N_ELEMENTS (lists) ? option_names[l] : "--set", name);
          return FALSE;
        }
    }
  return TRUE;
}

gboolean
orrery_host_plugin_options_check_names_early (OrreryHostPluginOptions  *options,
                                              OrreryConfig             *config,
                                              GError                  **error)
{
  g_autoptr(OrreryConfig) scratch = NULL;
  g_autoptr(OrreryEventBus) bus = NULL;
  g_autoptr(OrreryPluginEngine) engine = NULL;
  g_autofree char *path = NULL;
  gboolean ok;

  if (options->enables == NULL && options->isolates == NULL && options->sets == NULL)
    return TRUE;
  /* The engine adds the plugins' defaults files to its configuration: a
   * scratch one, with only the search path of the real one. */
  scratch = orrery_config_new ();
  path = orrery_config_get_string (config, ORRERY_CONFIG_HOST_GROUP, "PluginPath", NULL);
  if (path != NULL)
    orrery_config_set_override (scratch, ORRERY_CONFIG_HOST_GROUP, "PluginPath", path);
  bus = orrery_event_bus_new ();
  engine = orrery_host_plugin_options_new_engine (options, bus, scratch);
  orrery_plugin_engine_check_all (engine);
  ok = orrery_host_plugin_options_check_names (options, engine, error);
  orrery_plugin_engine_shutdown (engine);
  return ok;
}

/* An engine on @bus with the search path of the options; nothing loaded. */
OrreryPluginEngine *
orrery_host_plugin_options_new_engine (OrreryHostPluginOptions *options,
                                       OrreryEventBus          *bus,
                                       OrreryConfig            *config)
{
  OrreryPluginEngine *engine = orrery_plugin_engine_new (bus, config);

  orrery_plugin_engine_set_use_default_path (engine, !options->no_default_path);
  for (guint i = 0; options->plugin_path != NULL && options->plugin_path[i] != NULL; i++)
    orrery_plugin_engine_add_search_path (engine, options->plugin_path[i]);
  return engine;
}

int
orrery_host_cmd_plugins (int    argc,
                         char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryConfig) config = NULL;
  g_autoptr(OrreryEventBus) bus = NULL;
  g_autoptr(OrreryPluginEngine) engine = NULL;
  g_autoptr(GPtrArray) plugins = NULL;
  g_auto(GStrv) search_path = NULL;
  OrreryHostPluginOptions options = { NULL };
  gboolean load = FALSE;
  gboolean names = FALSE;
  guint n_failed = 0;
  const GOptionEntry entries[] = {
    { "load", 0, 0, G_OPTION_ARG_NONE, &load,
      "Also load and initialise the plugins (runs their code) to show init failures", NULL },
    { "names", 0, 0, G_OPTION_ARG_NONE, &names,
      "Print only the names of the plugins found, one a line (for scripts and shell completion)", NULL },
    { NULL }
  };

  context = g_option_context_new ("[NAME]");
  g_option_context_set_summary (context,
    "List the plugins found, their state and failures; with NAME, show one plugin:\n"
    "its file, descriptor, state and reason, and every key it declares with its\n"
    "type, default, description and current value.");
  g_option_context_set_description (context,
    "Listing runs no code of any plugin: each file is checked (owner and mode of\n"
    "the file and of every directory above it, ELF file, descriptor and ABI read\n"
    "from the file, configuration values) and shown as “checked” or “failed”.\n"
    "ENABLED tells whether `orrery run` would enable it. --load also loads the\n"
    "plugins and runs their init, on a bus of their own with no events.\n"
    "Exit status: 0, or 2 for a usage error or a NAME that is not found.");
  orrery_host_plugin_options_add (context, &options);
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      orrery_host_usage_error (context, "plugins", error->message);
      orrery_host_plugin_options_clear (&options);
      return ORRERY_EXIT_USAGE;
    }
  if (argc > 2)
    {
      orrery_host_usage_error (context, "plugins", "at most one plugin NAME");
      orrery_host_plugin_options_clear (&options);
      return ORRERY_EXIT_USAGE;
    }

  config = orrery_host_plugin_options_load_config (&options, &error);
  if (config == NULL)
    {
      g_printerr ("orrery plugins: %s\n", error->message);
      orrery_host_plugin_options_clear (&options);
      return ORRERY_EXIT_USAGE;
    }

  /* Checked without running any of their code; with --load, loaded and
   * initialised on a bus of their own, with no events. */
  bus = orrery_event_bus_new ();
  engine = orrery_host_plugin_options_new_engine (&options, bus, config);
  orrery_host_plugin_options_clear (&options);
  if (load)
    orrery_plugin_engine_load_all (engine);
  else
    orrery_plugin_engine_check_all (engine);
  orrery_host_plugin_options_clear (&options);

  if (names)
    {
      g_autoptr(GPtrArray) found = orrery_plugin_engine_get_plugins (engine);
      g_autoptr(GHashTable) printed = g_hash_table_new (g_str_hash, g_str_equal);

      for (guint i = 0; i < found->len; i++)
        {
          const char *name = orrery_plugin_info_get_name (g_ptr_array_index (found, i));

          /* Names are letters, digits, -, _ and . (the engine checks). */
          if (name != NULL && orrery_text_is_terminal_safe (name, -1) &&
              g_hash_table_add (printed, (gpointer) name))
            g_print ("%s\n", name);
        }
      orrery_plugin_engine_shutdown (engine);
      return ORRERY_EXIT_OK;
    }

  if (argc == 2)
    {
      OrreryPluginInfo *info = orrery_plugin_engine_lookup (engine, argv[1]);

      if (info == NULL || orrery_plugin_info_get_state (info) == ORRERY_PLUGIN_STATE_NOT_FOUND)
        {
          g_autofree char *name = shown (argv[1], "");

          g_printerr ("orrery plugins: no plugin named “%s” in the search path "
                      "(“orrery plugins” lists those found)\n", name);
          orrery_plugin_engine_shutdown (engine);
          return ORRERY_EXIT_USAGE;
        }
      print_plugin_details (engine, config, info, load);
      orrery_plugin_engine_shutdown (engine);
      return ORRERY_EXIT_OK;
    }

  g_print ("Configuration: %s\n", orrery_config_get_file (config) != NULL
                                    ? orrery_config_get_file (config) : "(none, defaults)");
  search_path = orrery_plugin_engine_get_search_path (engine);
  g_print ("Search path:\n");
  for (guint i = 0; search_path[i] != NULL; i++)
    {
      g_autofree char *dir = shown (search_path[i], "");

      g_print ("  %s%s\n", dir,
               g_file_test (search_path[i], G_FILE_TEST_IS_DIR) ? "" : " (missing)");
    }
  g_print ("\n%-20s %-10s %-10s %-7s %s\n", "NAME", "VERSION", "STATE", "ENABLED", "FILE");

  plugins = orrery_plugin_engine_get_plugins (engine);
  for (guint i = 0; i < plugins->len; i++)
    {
      OrreryPluginInfo *info = g_ptr_array_index (plugins, i);

      print_plugin (engine, info);
      if (orrery_plugin_info_get_state (info) == ORRERY_PLUGIN_STATE_FAILED)
        n_failed++;
    }
  if (plugins->len == 0)
    g_print ("(no plugins found)\n");
  g_print ("\n%u plugins, %u failed%s\n", plugins->len, n_failed,
           load ? "" : " (no plugin code was run: --load runs their init too)");

  orrery_plugin_engine_shutdown (engine);
  return ORRERY_EXIT_OK;
}
