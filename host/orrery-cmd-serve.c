/* orrery-cmd-serve.c: `orrery serve RUN_DIR|JOURNAL`, the dashboard over a
 * recorded run.
 *
 * Loads only the dashboard plugin (with the usual plugin options, so
 * `--set dashboard.Listen=...` works), without an orchestrator: the page is
 * read-only (its controls answer 409). The journal's events are published
 * on a bus of its own, as they were recorded; a run still being written is
 * followed (the journal reader in follow mode and a file monitor), and the
 * page sees its new events live. Serves until SIGINT or SIGTERM.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib-unix.h>
#include <orrery.h>

#include "orrery-host.h"

typedef struct
{
  OrreryJournalReader *reader;
  OrreryEventBus      *bus;
  GMainLoop           *loop;
  GError              *error;
  guint64              published;
} Serve;

/* Publishes what the writer has added. */
static void
serve_drain (Serve *s)
{
  for (;;)
    {
      g_autoptr(OrreryEvent) event = orrery_journal_reader_next (s->reader, &s->error);

      if (event == NULL)
        break;
      orrery_event_bus_publish (s->bus, event);
      s->published++;
    }
  if (s->error != NULL)
    g_main_loop_quit (s->loop);
}

static void
on_journal_changed (GFileMonitor      *monitor,
                    GFile             *file,
                    GFile             *other,
                    GFileMonitorEvent  event_type,
                    gpointer           user_data)
{
  serve_drain (user_data);
}

static gboolean
on_signal (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_CONTINUE;
}

int
orrery_host_cmd_serve (int    argc,
                       char **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("RUN_DIR|JOURNAL — the dashboard over a recorded run");
  g_autoptr(GError) error = NULL;
  OrreryHostPluginOptions options = { 0 };
  gboolean last = FALSE;
  const GOptionEntry entries[] = {
    { "last", 0, 0, G_OPTION_ARG_NONE, &last, "Serve the newest run (OUTPUT/latest)", NULL },
    { NULL }
  };
  g_autoptr(OrreryConfig) config = NULL;
  g_autoptr(OrreryEventBus) bus = NULL;
  g_autoptr(OrreryPluginEngine) engine = NULL;
  g_autoptr(OrreryJournalReader) reader = NULL;
  g_autoptr(GFile) file = NULL;
  g_autoptr(GFileMonitor) monitor = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GPtrArray) plugins = NULL;
  g_autofree char *path = NULL;
  g_autofree char *run_dir = NULL;
  g_auto(GStrv) names = NULL;
  gboolean served = FALSE;
  Serve s = { 0 };
  guint sigint, sigterm;

  g_option_context_add_main_entries (context, entries, NULL);
  orrery_host_plugin_options_add (context, &options);
  g_option_context_set_summary (context,
                                "Serves the dashboard plugin's page over the run recorded in JOURNAL "
                                "(or RUN_DIR/journal.jsonl), read-only; a run that another orrery "
                                "process is still writing is followed live. Prints the URL "
                                "(dashboard: http://127.0.0.1:PORT/?token=TOKEN) and serves until "
                                "interrupted.\n"
                                "Exit status: 0 after SIGINT/SIGTERM, 2 usage or configuration error, "
                                "3 not a valid journal.");
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("orrery serve: %s\n", error->message);
      orrery_host_plugin_options_clear (&options);
      return ORRERY_EXIT_USAGE;
    }
  if ((last && argc != 1) || (!last && argc != 2))
    {
      g_printerr ("orrery serve: expected one JOURNAL or RUN_DIR, or --last\n"
                  "Run “orrery serve --help” for usage.\n");
      orrery_host_plugin_options_clear (&options);
      return ORRERY_EXIT_USAGE;
    }
  config = orrery_host_plugin_options_load_config (&options, &error);
  if (config == NULL)
    {
      g_printerr ("orrery serve: %s\n", error->message);
      orrery_host_plugin_options_clear (&options);
      return ORRERY_EXIT_USAGE;
    }
  path = orrery_host_resolve_journal (last ? NULL : argv[1], last, config, "serve", &error);
  if (path == NULL)
    {
      g_printerr ("orrery serve: %s\n", error->message);
      orrery_host_plugin_options_clear (&options);
      return ORRERY_EXIT_USAGE;
    }
  reader = orrery_journal_reader_new (path, &error);
  if (reader == NULL)
    {
      g_autofree char *msg = orrery_escape_for_terminal (error->message, -1);

      g_printerr ("orrery serve: %s\n", msg);
      orrery_host_plugin_options_clear (&options);
      return g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT) ? ORRERY_EXIT_USAGE : ORRERY_EXIT_INVALID;
    }
  orrery_journal_reader_set_follow (reader, TRUE);

  /* The dashboard and nothing else: the other plugins would write files
   * or act on a run that is not theirs (that is `orrery replay`). */
  names = orrery_config_get_plugin_names (config);
  for (guint i = 0; names[i] != NULL; i++)
    {
      g_autofree char *group = orrery_config_plugin_group (names[i]);

      orrery_config_set_override (config, group, "Enabled", g_str_equal (names[i], "dashboard") ? "true" : "false");
    }
  orrery_config_set_override (config, "Host", "AutoEnable", "false");
  orrery_config_set_override (config, "Plugin dashboard", "Enabled", "true");
  run_dir = g_path_get_dirname (path);
  orrery_config_set_override (config, "Plugin dashboard", "OutputDir", run_dir);

  bus = orrery_event_bus_new ();
  engine = orrery_host_plugin_options_new_engine (&options, bus, config);
  orrery_host_plugin_options_clear (&options);
  orrery_plugin_engine_load_enabled (engine);
  plugins = orrery_plugin_engine_get_plugins (engine);
  for (guint i = 0; i < plugins->len; i++)
    {
      OrreryPluginInfo *info = plugins->pdata[i];

      if (!g_str_equal (orrery_plugin_info_get_name (info), "dashboard"))
        continue;
      if (orrery_plugin_info_get_state (info) == ORRERY_PLUGIN_STATE_ENABLED)
        served = TRUE;
      else if (orrery_plugin_info_get_error (info) != NULL)
        {
          g_autofree char *msg = orrery_escape_for_terminal (orrery_plugin_info_get_error (info)->message, -1);

          g_printerr ("orrery serve: the dashboard plugin: %s\n", msg);
        }
    }
  if (!served)
    {
      g_printerr ("orrery serve: the dashboard plugin could not be enabled (see `orrery plugins`)\n");
      orrery_plugin_engine_shutdown (engine);
      return ORRERY_EXIT_USAGE;
    }

  loop = g_main_loop_new (NULL, FALSE);
  s.reader = reader;
  s.bus = bus;
  s.loop = loop;
  file = g_file_new_for_path (path);
  monitor = g_file_monitor_file (file, G_FILE_MONITOR_NONE, NULL, NULL);
  if (monitor != NULL)
    {
      g_file_monitor_set_rate_limit (monitor, 50);
      g_signal_connect (monitor, "changed", G_CALLBACK (on_journal_changed), &s);
    }
  sigint = g_unix_signal_add (SIGINT, on_signal, loop);
  sigterm = g_unix_signal_add (SIGTERM, on_signal, loop);
  serve_drain (&s);
  if (s.error == NULL)
    g_main_loop_run (loop);
  g_source_remove (sigint);
  g_source_remove (sigterm);
  if (monitor != NULL)
    g_file_monitor_cancel (monitor);
  /* What queued observers have not had yet, before the plugins go (as
   * run, resume and replay do). */
  orrery_event_bus_drain (bus);
  orrery_plugin_engine_shutdown (engine);
  if (s.error != NULL)
    {
      g_autofree char *msg = orrery_escape_for_terminal (s.error->message, -1);

      g_printerr ("orrery serve: %s\n", msg);
      g_clear_error (&s.error);
      return ORRERY_EXIT_INVALID;
    }
  return ORRERY_EXIT_OK;
}
