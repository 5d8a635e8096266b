/* orrery-cmd-plugins.c: `orrery plugins`: every plugin found, its state
 * and, where it failed, why.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <orrery.h>

#include "orrery-host.h"

static void
print_plugin (OrreryPluginInfo *info)
{
  const GError *error = orrery_plugin_info_get_error (info);
  const char *name = orrery_plugin_info_get_name (info);
  const char *version = orrery_plugin_info_get_version (info);
  const char *file = orrery_plugin_info_get_file (info);

  g_print ("%-20s %-10s %-10s %s\n", name != NULL ? name : "?",
           version != NULL ? version : "-",
           orrery_plugin_state_to_nick (orrery_plugin_info_get_state (info)),
           file != NULL ? file : "-");
  if (orrery_plugin_info_get_description (info) != NULL)
    g_print ("    %s\n", orrery_plugin_info_get_description (info));
  if (error != NULL)
    g_print ("    error: %s\n", error->message);
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
}

/* The configuration: the file (--config, or the search), then --set,
 * --enable and --disable. An error is a usage error (exit status 2). */
OrreryConfig *
orrery_host_plugin_options_load_config (OrreryHostPluginOptions  *options,
                                        GError                  **error)
{
  g_autoptr(OrreryConfig) config = orrery_config_new ();

  if (!orrery_config_load (config, options->config_file, error))
    return NULL;
  for (guint i = 0; options->sets != NULL && options->sets[i] != NULL; i++)
    if (!orrery_config_parse_override (config, options->sets[i], error))
      return NULL;
  for (guint i = 0; options->enables != NULL && options->enables[i] != NULL; i++)
    orrery_config_set_plugin_enabled (config, options->enables[i], TRUE);
  for (guint i = 0; options->disables != NULL && options->disables[i] != NULL; i++)
    orrery_config_set_plugin_enabled (config, options->disables[i], FALSE);
  return g_steal_pointer (&config);
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
  guint n_failed = 0;

  context = g_option_context_new ("- list the plugins found, their state and failures");
  orrery_host_plugin_options_add (context, &options);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("orrery plugins: %s\n", error->message);
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

  /* The plugins are really loaded and initialised (on a bus of their own,
   * with no events), so that init and configuration failures show. */
  bus = orrery_event_bus_new ();
  engine = orrery_host_plugin_options_new_engine (&options, bus, config);
  orrery_host_plugin_options_clear (&options);
  orrery_plugin_engine_load_all (engine);

  g_print ("Configuration: %s\n", orrery_config_get_file (config) != NULL
                                    ? orrery_config_get_file (config) : "(none, defaults)");
  search_path = orrery_plugin_engine_get_search_path (engine);
  g_print ("Search path:\n");
  for (guint i = 0; search_path[i] != NULL; i++)
    g_print ("  %s%s\n", search_path[i],
             g_file_test (search_path[i], G_FILE_TEST_IS_DIR) ? "" : " (missing)");
  g_print ("\n%-20s %-10s %-10s %s\n", "NAME", "VERSION", "STATE", "FILE");

  plugins = orrery_plugin_engine_get_plugins (engine);
  for (guint i = 0; i < plugins->len; i++)
    {
      OrreryPluginInfo *info = g_ptr_array_index (plugins, i);

      print_plugin (info);
      if (orrery_plugin_info_get_state (info) == ORRERY_PLUGIN_STATE_FAILED)
        n_failed++;
    }
  if (plugins->len == 0)
    g_print ("(no plugins found)\n");
  g_print ("\n%u plugins, %u failed\n", plugins->len, n_failed);

  orrery_plugin_engine_shutdown (engine);
  return ORRERY_EXIT_OK;
}
