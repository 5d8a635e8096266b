/* orrery-cmd-run.c: `orrery run FILE`.
 *
 * Loads the configuration and the constellation, builds the devices, loads
 * the enabled plugins, runs the orchestrator on the main loop until the run
 * ends (SIGINT/SIGTERM cancel it), shuts the plugins down and prints one
 * summary line.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib-unix.h>
#include <orrery.h>

#include "orrery-host.h"

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (OrreryHostPluginOptions, orrery_host_plugin_options_clear)

typedef struct
{
  GMainLoop           *loop;
  OrreryConstellation *constellation;
  GCancellable        *cancellable;
  const char          *state_file;
  gboolean             ok;
  GError              *error;
} RunState;

static gboolean
on_signal (gpointer user_data)
{
  RunState *st = user_data;

  g_printerr ("orrery: interrupted, cancelling the run…\n");
  g_cancellable_cancel (st->cancellable);
  return G_SOURCE_CONTINUE;
}

static void
run_done (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  RunState *st = user_data;

  st->ok = orrery_orchestrator_run_finish (ORRERY_ORCHESTRATOR (source), result, &st->error);
  g_main_loop_quit (st->loop);
}

/* --state: the constellation, with statuses and results, after every
 * terminal event; written to a temporary file and renamed into place. */
static gboolean
save_state (OrreryEvent  *event,
            gpointer      user_data,
            GError      **error)
{
  RunState *st = user_data;

  return orrery_constellation_save_to_file (st->constellation, st->state_file, error);
}

/* A plugin that failed never changes the run, but the user is told. */
static void
report_plugin_failures (OrreryPluginEngine *engine)
{
  g_autoptr(GPtrArray) plugins = orrery_plugin_engine_get_plugins (engine);

  for (guint i = 0; i < plugins->len; i++)
    {
      OrreryPluginInfo *info = plugins->pdata[i];
      OrreryPluginState state = orrery_plugin_info_get_state (info);
      const GError *error = orrery_plugin_info_get_error (info);

      if (state != ORRERY_PLUGIN_STATE_FAILED && state != ORRERY_PLUGIN_STATE_NOT_FOUND)
        continue;
      g_printerr ("orrery run: plugin “%s”%s%s%s not loaded: %s\n",
                  orrery_plugin_info_get_name (info) ? orrery_plugin_info_get_name (info) : "?",
                  orrery_plugin_info_get_file (info) ? " (" : "",
                  orrery_plugin_info_get_file (info) ? orrery_plugin_info_get_file (info) : "",
                  orrery_plugin_info_get_file (info) ? ")" : "",
                  error ? error->message : orrery_plugin_state_to_nick (state));
    }
}

static gboolean
devices_from_config (OrreryDeviceManager  *devices,
                     OrreryConfig         *config,
                     GError              **error)
{
  g_autoptr(GKeyFile) keyfile = g_key_file_new ();
  g_auto(GStrv) groups = orrery_config_get_groups (config);
  g_autofree char *origin = NULL;

  for (guint i = 0; groups[i] != NULL; i++)
    {
      g_auto(GStrv) keys = NULL;

      if (!g_str_has_prefix (groups[i], "Device "))
        continue;
      keys = orrery_config_get_keys (config, groups[i]);
      for (guint k = 0; keys[k] != NULL; k++)
        {
          g_autofree char *value = orrery_config_get_string (config, groups[i], keys[k], NULL);

          g_key_file_set_value (keyfile, groups[i], keys[k], value);
          if (origin == NULL)
            origin = orrery_config_get_origin (config, groups[i], keys[k]);
        }
    }
  if (!orrery_device_manager_load_keyfile (devices, keyfile,
                                           origin ? origin : orrery_config_get_file (config),
                                           error))
    return FALSE;
  if (orrery_device_manager_get_n_devices (devices) == 0)
    orrery_device_manager_add_default_devices (devices);
  return TRUE;
}

int
orrery_host_cmd_run (int    argc,
                     char **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("FILE — run a constellation");
  g_autoptr(GError) error = NULL;
  g_autofree char *strategy = NULL;
  g_autofree char *state_file = NULL;
  gint max_concurrency = 0;
  gboolean no_plugins = FALSE;
  const GOptionEntry entries[] = {
    { "strategy", 's', 0, G_OPTION_ARG_STRING, &strategy,
      "How tasks are placed on devices: round-robin, capability-match, load-balance", "S" },
    { "max-concurrency", 'j', 0, G_OPTION_ARG_INT, &max_concurrency,
      "Run at most N tasks at once (0: the devices' limits)", "N" },
    { "state", 0, 0, G_OPTION_ARG_FILENAME, &state_file,
      "Keep the constellation with its statuses in FILE after every finished task; "
      "run FILE again to continue where it stopped", "FILE" },
    { "no-plugins", 0, 0, G_OPTION_ARG_NONE, &no_plugins, "Load no plugin", NULL },
    { NULL }
  };
  g_autoptr(OrreryConfig) config = NULL;
  g_autoptr(OrreryEventBus) bus = NULL;
  g_autoptr(OrreryDeviceManager) devices = NULL;
  g_autoptr(OrreryOrchestrator) orch = NULL;
  g_autoptr(OrreryPluginEngine) engine = NULL;
  g_autoptr(OrreryConstellation) constellation = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GVariant) stats = NULL;
  RunState st = { 0 };
  g_auto(OrreryHostPluginOptions) options = { NULL };
  guint sigint_id, sigterm_id;
  gint64 start;
  guint n_tasks, completed, failed, skipped, cancelled;

  g_option_context_add_main_entries (context, entries, NULL);
  orrery_host_plugin_options_add (context, &options);
  g_option_context_set_summary (context,
                                "Runs the constellation in FILE (JSON, Orrery's or UFO Galaxy's format) "
                                "on the configured devices, with the enabled plugins.\n"
                                "Exit status: 0 every task completed, 1 the run failed or was "
                                "cancelled, 2 usage or configuration error, 3 invalid constellation.");
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("orrery run: %s\n", error->message);
      return ORRERY_EXIT_USAGE;
    }
  if (argc != 2)
    {
      g_printerr ("orrery run: expected one constellation FILE\nRun “orrery run --help” for usage.\n");
      return ORRERY_EXIT_USAGE;
    }
  if (max_concurrency < 0)
    {
      g_printerr ("orrery run: --max-concurrency must be 0 or more, not %d\n", max_concurrency);
      return ORRERY_EXIT_USAGE;
    }

  /* Configuration */
  config = orrery_host_plugin_options_load_config (&options, &error);
  if (config == NULL)
    {
      g_printerr ("orrery run: %s\n", error->message);
      return ORRERY_EXIT_USAGE;
    }

  /* The constellation */
  constellation = orrery_constellation_new_from_file (argv[1], &error);
  if (constellation == NULL || !orrery_constellation_validate (constellation, &error))
    {
      g_printerr ("orrery run: %s\n", error->message);
      return ORRERY_EXIT_INVALID;
    }

  /* Devices and the orchestrator */
  devices = orrery_device_manager_new ();
  if (!devices_from_config (devices, config, &error))
    {
      g_printerr ("orrery run: %s\n", error->message);
      return ORRERY_EXIT_USAGE;
    }
  {
    g_autofree char *s = strategy ? g_strdup (strategy)
                                  : orrery_config_get_string (config, "Host", "Strategy", NULL);
    OrreryDispatchStrategy value;

    if (s != NULL)
      {
        if (!orrery_dispatch_strategy_from_nick (s, &value))
          {
            g_printerr ("orrery run: unknown strategy “%s” (round-robin, capability-match, "
                        "load-balance)\n", s);
            return ORRERY_EXIT_USAGE;
          }
        orrery_device_manager_set_strategy (devices, value);
      }
  }
  bus = orrery_event_bus_new ();
  orch = orrery_orchestrator_new (bus, devices);
  if (max_concurrency == 0)
    {
      max_concurrency = orrery_config_get_uint (config, "Host", "MaxConcurrency", 0, &error);
      if (error != NULL)
        {
          g_printerr ("orrery run: %s\n", error->message);
          return ORRERY_EXIT_USAGE;
        }
    }
  orrery_orchestrator_set_max_concurrency (orch, (guint) max_concurrency);
  {
    guint delay = orrery_config_get_uint (config, "Host", "RetryDelayMs", 500, &error);
    gdouble factor = error ? 0 : orrery_config_get_double (config, "Host", "RetryBackoff", 2.0, &error);
    guint max_delay = error ? 0 : orrery_config_get_uint (config, "Host", "RetryMaxDelayMs", 30000, &error);

    if (error != NULL)
      {
        g_printerr ("orrery run: %s\n", error->message);
        return ORRERY_EXIT_USAGE;
      }
    orrery_orchestrator_set_retry_policy (orch, delay, factor, max_delay);
  }

  st.constellation = constellation;
  st.cancellable = cancellable;
  st.state_file = state_file;
  if (state_file != NULL)
    {
      const OrreryEventType terminal[] = {
        ORRERY_EVENT_TASK_COMPLETED, ORRERY_EVENT_TASK_FAILED, ORRERY_EVENT_TASK_SKIPPED,
        ORRERY_EVENT_TASK_CANCELLED, ORRERY_EVENT_CONSTELLATION_MODIFIED,
        ORRERY_EVENT_CONSTELLATION_COMPLETED, ORRERY_EVENT_CONSTELLATION_FAILED,
        ORRERY_EVENT_CONSTELLATION_CANCELLED,
      };
      g_autoptr(OrreryObserver) saver = orrery_func_observer_new ("state-file", save_state, &st, NULL);

      orrery_event_bus_subscribe (bus, saver, terminal, G_N_ELEMENTS (terminal));
    }

  /* Plugins, in a fixed order (the engine sorts them by name). */
  if (!no_plugins)
    {
      engine = orrery_host_plugin_options_new_engine (&options, bus, config);
      orrery_plugin_engine_set_orchestrator (engine, orch);
      orrery_plugin_engine_load_all (engine);
      report_plugin_failures (engine);
      if (!orrery_plugin_engine_watch (engine, &error))
        {
          g_warning ("Plugins will not be hot-plugged: %s", error->message);
          g_clear_error (&error);
        }
    }

  loop = g_main_loop_new (NULL, FALSE);
  st.loop = loop;
  sigint_id = g_unix_signal_add (SIGINT, on_signal, &st);
  sigterm_id = g_unix_signal_add (SIGTERM, on_signal, &st);

  start = g_get_monotonic_time ();
  orrery_orchestrator_run_async (orch, constellation, cancellable, run_done, &st);
  g_main_loop_run (loop);

  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);
  if (engine != NULL)
    {
      orrery_plugin_engine_unwatch (engine);
      orrery_plugin_engine_shutdown (engine);
    }

  n_tasks = orrery_constellation_get_n_tasks (constellation);
  completed = orrery_constellation_count_status (constellation, ORRERY_TASK_STATUS_COMPLETED);
  failed = orrery_constellation_count_status (constellation, ORRERY_TASK_STATUS_FAILED);
  skipped = orrery_constellation_count_status (constellation, ORRERY_TASK_STATUS_SKIPPED);
  cancelled = orrery_constellation_count_status (constellation, ORRERY_TASK_STATUS_CANCELLED);
  g_print ("orrery: %s “%s”: %u/%u tasks completed, %u failed, %u skipped, %u cancelled in %.2f s%s%s\n",
           st.ok ? "completed" : (g_error_matches (st.error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ? "cancelled" : "failed"),
           orrery_constellation_get_id (constellation), completed, n_tasks, failed, skipped,
           cancelled, (g_get_monotonic_time () - start) / 1e6,
           st.error ? " — " : "", st.error ? st.error->message : "");

  if (st.error != NULL && g_error_matches (st.error, ORRERY_ORCHESTRATOR_ERROR,
                                           ORRERY_ORCHESTRATOR_ERROR_INVALID))
    {
      g_clear_error (&st.error);
      return ORRERY_EXIT_INVALID;
    }
  g_clear_error (&st.error);
  return st.ok ? ORRERY_EXIT_OK : ORRERY_EXIT_RUN_FAILED;
}
