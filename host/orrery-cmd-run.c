/* orrery-cmd-run.c: `orrery run FILE`, and the run itself (shared with
 * `orrery resume`).
 *
 * Loads the configuration and the constellation, gives the run an id and a
 * directory (its journal, the plugins' files, the tasks' logs), builds the
 * devices, loads the enabled plugins, runs the orchestrator on the main
 * loop until the run ends (SIGINT, SIGTERM and SIGHUP cancel it; a second
 * one kills the task processes and exits), shuts the plugins down and
 * prints one summary line.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <orrery.h>

#include "orrery-host.h"

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (OrreryHostPluginOptions, orrery_host_plugin_options_clear)

typedef struct
{
  GMainLoop           *loop;
  OrreryConstellation *constellation;
  GCancellable        *cancellable;
  gboolean             ok;
  GError              *error;
} RunState;

/* Signals. SIGINT, SIGTERM and SIGHUP (the terminal closed, the ssh session
 * dropped) cancel the run. They are watched from a thread of their own, so
 * they are heard even while the main loop is busy or stuck in a handler that
 * does not return. The first one cancels the run: the orchestrator stops
 * dispatching at once and cancels what runs (a local task's process group
 * gets SIGTERM, then SIGKILL after a short grace). A second one does not
 * wait: every child process of the host and its process group get SIGKILL,
 * and the host exits with status 1. (The watch lasts until the plugins are
 * shut down, so a shutdown that hangs can be cut short too.) From then on
 * until the process exits, the three signals are ignored: nothing is left
 * to cancel, and the journal's last write and the summary must not be cut
 * short (a signal there used to kill the host with the signal's default
 * action instead of exiting with the run's status). */
typedef struct _SignalWatch SignalWatch;

typedef struct
{
  SignalWatch *watch;
  int          signum;
  const char  *name;
  GSource     *source;
} SignalSlot;

struct _SignalWatch
{
  GMainContext *context;
  GMainLoop    *loop;
  GThread      *thread;
  GCancellable *cancellable;
  gint          n_signals;   /* atomic */
  gint          run_over;    /* atomic */
  SignalSlot    slots[3];
};

/* Kills every child of this process, with its process group when it leads
 * one (local tasks do). Returns how many children there were. */
static guint
kill_children (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc", 0, NULL);
  pid_t self = getpid ();
  const char *name;
  guint n = 0;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autofree char *stat = NULL;
      const char *p;
      int ppid = 0, pgrp = 0;
      char state;
      pid_t pid;

      if (!g_ascii_isdigit (name[0]))
        continue;
      pid = (pid_t) g_ascii_strtoll (name, NULL, 10);
      path = g_strconcat ("/proc/", name, "/stat", NULL);
      if (!g_file_get_contents (path, &stat, NULL, NULL))
        continue;
      /* pid (comm) state ppid pgrp ...; comm may hold any byte but ends at
       * the last ')'. */
      p = strrchr (stat, ')');
      if (p == NULL || sscanf (p + 1, " %c %d %d", &state, &ppid, &pgrp) != 3 || ppid != self)
        continue;
      if (pgrp == pid)
        kill (-pid, SIGKILL);
      kill (pid, SIGKILL);
      n++;
    }
  return n;
}

static gboolean
on_signal (gpointer user_data)
{
  SignalSlot *slot = user_data;
  SignalWatch *w = slot->watch;

  if (g_atomic_int_add (&w->n_signals, 1) == 0)
    {
      /* After the run (plugins shutting down) there is nothing to cancel:
       * a plugin that waits (the visualizer's last render) ends its wait on
       * the same signal. */
      if (!g_atomic_int_get (&w->run_over))
        g_printerr ("orrery: %s: cancelling the run (%s again to stop at once)\n",
                    slot->name, slot->name);
      g_cancellable_cancel (w->cancellable);
      return G_SOURCE_CONTINUE;
    }
  {
    guint n = kill_children ();

    g_printerr ("orrery: %s again: killed %u child process%s, exiting\n",
                slot->name, n, n == 1 ? "" : "es");
    _exit (ORRERY_EXIT_RUN_FAILED);
  }
}

static gpointer
signal_thread (gpointer data)
{
  SignalWatch *w = data;

  g_main_context_push_thread_default (w->context);
  g_main_loop_run (w->loop);
  g_main_context_pop_thread_default (w->context);
  return NULL;
}

static void
signal_watch_start (SignalWatch  *w,
                    GCancellable *cancellable)
{
  const int signums[] = { SIGINT, SIGTERM, SIGHUP };
  const char *const names[] = { "SIGINT", "SIGTERM", "SIGHUP" };

  w->context = g_main_context_new ();
  w->loop = g_main_loop_new (w->context, FALSE);
  w->cancellable = g_object_ref (cancellable);
  for (guint i = 0; i < G_N_ELEMENTS (signums); i++)
    {
      SignalSlot *slot = &w->slots[i];

      slot->watch = w;
      slot->signum = signums[i];
      slot->name = names[i];
      slot->source = g_unix_signal_source_new (signums[i]);
      g_source_set_priority (slot->source, G_PRIORITY_HIGH);
      g_source_set_callback (slot->source, on_signal, slot, NULL);
      g_source_set_static_name (slot->source, "[orrery] signal");
      g_source_attach (slot->source, w->context);
    }
  w->thread = g_thread_new ("orrery-signals", signal_thread, w);
}

static gboolean
quit_loop (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

/* GLib puts a signal's default action back when the last source watching
 * it is destroyed, and an ignored signal set with sigaction() after that
 * would leave a window where the signal kills the process. So one source
 * per signal stays, attached to a context that is never iterated: GLib's
 * handler stays installed (with SA_RESTART: a write it interrupts goes on)
 * and what it catches is never dispatched. The context lives until the
 * process exits. */
static void
ignore_signals_until_exit (const SignalWatch *w)
{
  static GMainContext *never_iterated;

  if (never_iterated != NULL)
    return;
  never_iterated = g_main_context_new ();
  for (guint i = 0; i < G_N_ELEMENTS (w->slots); i++)
    {
      GSource *source = g_unix_signal_source_new (w->slots[i].signum);

      g_source_set_static_name (source, "[orrery] signal ignored after the run");
      g_source_attach (source, never_iterated);
      g_source_unref (source);
    }
}

static void
signal_watch_stop (SignalWatch *w)
{
  ignore_signals_until_exit (w);
  for (guint i = 0; i < G_N_ELEMENTS (w->slots); i++)
    {
      g_source_destroy (w->slots[i].source);
      g_clear_pointer (&w->slots[i].source, g_source_unref);
    }
  /* From inside the loop: a quit before the thread reached
   * g_main_loop_run() would be lost. */
  {
    GSource *quit = g_idle_source_new ();

    g_source_set_callback (quit, quit_loop, w->loop, NULL);
    g_source_attach (quit, w->context);
    g_source_unref (quit);
  }
  g_thread_join (w->thread);
  g_main_loop_unref (w->loop);
  g_main_context_unref (w->context);
  g_object_unref (w->cancellable);
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

/* A plugin that failed never changes the run, but the user is told: at
 * load, or @after_run, an isolated plugin whose helper process failed. */
static void
report_plugin_failures (OrreryPluginEngine *engine,
                        gboolean            after_run)
{
  g_autoptr(GPtrArray) plugins = orrery_plugin_engine_get_plugins (engine);

  for (guint i = 0; i < plugins->len; i++)
    {
      OrreryPluginInfo *info = plugins->pdata[i];
      OrreryPluginState state = orrery_plugin_info_get_state (info);
      const GError *error = orrery_plugin_info_get_error (info);

      gboolean isolated_failure = error != NULL && error->domain == ORRERY_PLUGIN_ERROR &&
                                  (error->code == ORRERY_PLUGIN_ERROR_CRASHED ||
                                   error->code == ORRERY_PLUGIN_ERROR_EXITED ||
                                   error->code == ORRERY_PLUGIN_ERROR_TIMED_OUT ||
                                   error->code == ORRERY_PLUGIN_ERROR_PROTOCOL);

      if (after_run ? !isolated_failure
                    : state != ORRERY_PLUGIN_STATE_FAILED && state != ORRERY_PLUGIN_STATE_NOT_FOUND)
        continue;
      g_printerr ("orrery run: plugin “%s”%s%s%s %s: %s\n",
                  orrery_plugin_info_get_name (info) ? orrery_plugin_info_get_name (info) : "?",
                  orrery_plugin_info_get_file (info) ? " (" : "",
                  orrery_plugin_info_get_file (info) ? orrery_plugin_info_get_file (info) : "",
                  orrery_plugin_info_get_file (info) ? ")" : "",
                  after_run ? "failed during the run" : "not loaded",
                  error ? error->message : orrery_plugin_state_to_nick (state));
    }
}

/* ------------------------------------------------------------------------ */
/* Run ids, run directories */

char *
orrery_host_output_dir (OrreryConfig *config)
{
  g_autofree char *dir = orrery_config_get_string (config, "Host", "OutputDir", NULL);

  return g_strdup (dir != NULL && *dir != '\0' ? dir : ORRERY_HOST_DEFAULT_OUTPUT_DIR);
}

/* CONSTELLATION-ID-YYYYMMDDTHHMMSSZ-RANDOM: sorts by time within one
 * constellation, unique across runs started in the same second. */
static char *
make_run_id (OrreryConstellation *constellation)
{
  g_autofree char *safe = orrery_escape_for_filename (orrery_constellation_get_id (constellation));
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%dT%H%M%SZ");

  if (strlen (safe) > 64)
    safe[64] = '\0';
  return g_strdup_printf ("%s-%s-%06x", safe, stamp, g_random_int () & 0xffffff);
}

/* OUTPUT/latest -> runs/RUN_ID, replaced atomically. */
static void
update_latest (const char *output_dir,
               const char *run_id)
{
  g_autofree char *target = g_build_filename ("runs", run_id, NULL);
  g_autofree char *link = g_build_filename (output_dir, "latest", NULL);
  g_autofree char *tmp = g_strdup_printf ("%s.%u", link, g_random_int ());

  if (symlink (target, tmp) < 0 || rename (tmp, link) < 0)
    {
      int errsv = errno;

      unlink (tmp);
      g_printerr ("orrery: cannot point %s at the new run: %s\n", link, g_strerror (errsv));
    }
}

/* Plugins write their files (metrics.json, the DOT, the failure report)
 * into their OutputDir: make it the run directory, unless the user chose
 * another one for that plugin. No plugin needs to know about runs. */
static void
plugins_into_run_dir (OrreryConfig *config,
                      const char   *run_dir)
{
  static const char *const builtin[] = { "visualizer", "metrics", "failure-monitor", NULL };
  g_auto(GStrv) names = orrery_config_get_plugin_names (config);
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree char *host_dir = orrery_host_output_dir (config);

  for (guint pass = 0; pass < 2; pass++)
    {
      const char *const *list = pass == 0 ? builtin : (const char *const *) names;

      for (guint i = 0; list[i] != NULL; i++)
        {
          g_autofree char *group = orrery_config_plugin_group (list[i]);
          g_autofree char *dir = NULL;

          if (!g_hash_table_add (seen, (gpointer) list[i]))
            continue;
          dir = orrery_config_get_string (config, group, "OutputDir", NULL);
          if (dir == NULL || g_str_equal (dir, ORRERY_HOST_DEFAULT_OUTPUT_DIR) || g_str_equal (dir, host_dir))
            orrery_config_set_override (config, group, "OutputDir", run_dir);
        }
    }
}

/* The run directory OUTPUT/runs/RUN_ID with its logs/. */
static char *
make_run_dir (const char  *output_dir,
              const char  *run_id,
              GError     **error)
{
  g_autofree char *dir = g_build_filename (output_dir, "runs", run_id, NULL);
  g_autofree char *logs = g_build_filename (dir, "logs", NULL);

  if (g_mkdir_with_parents (logs, 0755) < 0)
    {
      int errsv = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "Cannot create the run directory “%s”: %s", dir, g_strerror (errsv));
      return NULL;
    }
  return g_steal_pointer (&dir);
}

/* ------------------------------------------------------------------------ */
/* Running */

gboolean
orrery_host_apply_journal_sync (OrreryJournal *journal,
                                OrreryConfig  *config,
                                GError       **error)
{
  g_autofree char *nick = orrery_config_get_string (config, "Host", "JournalSync", NULL);
  OrreryJournalSync sync = ORRERY_JOURNAL_SYNC_BATCH;

  if (nick != NULL && !orrery_journal_sync_from_nick (nick, &sync))
    {
      g_set_error (error, ORRERY_CONFIG_ERROR, ORRERY_CONFIG_ERROR_BAD_VALUE,
                   "[Host] JournalSync: “%s” is not none, batch or always", nick);
      return FALSE;
    }
  orrery_journal_set_sync (journal, sync);
  return TRUE;
}

/* --strategy and --max-concurrency are the command line's [Host] Strategy
 * and MaxConcurrency, over the files' (orrery_orchestrator_apply_config()
 * reads them). */
static gboolean
options_into_config (OrreryHostRun *run)
{
  if (run->strategy != NULL)
    {
      if (!orrery_dispatch_strategy_from_nick (run->strategy, NULL))
        {
          g_autofree char *shown = orrery_escape_for_terminal (run->strategy, -1);

          g_printerr ("orrery %s: unknown strategy “%s” (round-robin, capability-match, "
                      "load-balance)\n", run->command, shown);
          return FALSE;
        }
      orrery_config_set_override (run->config, ORRERY_CONFIG_HOST_GROUP, "Strategy", run->strategy);
    }
  if (run->max_concurrency > 0)
    {
      char value[G_ASCII_DTOSTR_BUF_SIZE];

      g_snprintf (value, sizeof value, "%d", run->max_concurrency);
      orrery_config_set_override (run->config, ORRERY_CONFIG_HOST_GROUP, "MaxConcurrency", value);
    }
  return TRUE;
}

/* The enabled plugins, loaded and hot-plugged, in a fixed order (the engine
 * sorts them by name); FALSE after a bad --set value of a plugin's own key
 * (they are shut down again). */
static gboolean
load_plugins (OrreryHostRun       *run,
              OrreryEventBus      *bus,
              OrreryOrchestrator  *orch,
              OrreryPluginEngine **out_engine)
{
  g_autoptr(OrreryPluginEngine) engine = NULL;
  g_autoptr(GError) error = NULL;

  /* Plugins may read the run's id ([Host] RunId: the metrics label their
   * series). */
  if (run->run_id != NULL)
    orrery_config_set_override (run->config, ORRERY_CONFIG_HOST_GROUP, "RunId", run->run_id);
  if (run->no_plugins)
    return TRUE;
  engine = orrery_host_plugin_options_new_engine (run->options, bus, run->config);
  orrery_plugin_engine_set_orchestrator (engine, orch);
  orrery_plugin_engine_load_enabled (engine);
  report_plugin_failures (engine, FALSE);
  /* A --set value of a plugin's own key shows as wrong only now. */
  if (!orrery_config_check_overrides (run->config, &error))
    {
      g_printerr ("orrery run: %s\n", error->message);
      orrery_plugin_engine_shutdown (engine);
      return FALSE;
    }
  if (!orrery_plugin_engine_watch (engine, &error))
    g_warning ("Plugins will not be hot-plugged: %s", error->message);
  *out_engine = g_steal_pointer (&engine);
  return TRUE;
}

/* The plugins' end (@engine is nullable): unwatched, shut down, and their
 * failures during the run told. */
static void
shutdown_plugins (OrreryPluginEngine *engine,
                  gboolean            after_run)
{
  if (engine == NULL)
    return;
  orrery_plugin_engine_unwatch (engine);
  orrery_plugin_engine_shutdown (engine);
  if (after_run)
    report_plugin_failures (engine, TRUE);
}

/* Everything the journals hold goes to the disk; a journal that could not
 * be written fails the run, whatever the tasks did. */
static void
close_journals (OrreryHostRun *run,
                RunState      *st)
{
  OrreryJournal *journals[] = { run->journal, run->second_journal };

  for (guint i = 0; i < G_N_ELEMENTS (journals); i++)
    {
      g_autoptr(GError) error = NULL;

      if (journals[i] != NULL && !orrery_journal_close (journals[i], &error) && st->error == NULL)
        {
          st->ok = FALSE;
          st->error = g_steal_pointer (&error);
        }
    }
}

/* One summary line (and where the run is); returns the exit status. */
static int
print_summary (OrreryHostRun *run,
               RunState      *st,
               gint64         start)
{
  OrreryConstellation *constellation = run->constellation;
  guint n_tasks = orrery_constellation_get_n_tasks (constellation);
  guint completed = orrery_constellation_count_status (constellation, ORRERY_TASK_STATUS_COMPLETED);
  guint failed = orrery_constellation_count_status (constellation, ORRERY_TASK_STATUS_FAILED);
  guint skipped = orrery_constellation_count_status (constellation, ORRERY_TASK_STATUS_SKIPPED);
  guint cancelled = orrery_constellation_count_status (constellation, ORRERY_TASK_STATUS_CANCELLED);
  /* The id and the error come from the file and the tasks: escaped. */
  g_autofree char *id = orrery_escape_for_terminal (orrery_constellation_get_id (constellation), -1);
  g_autofree char *message = st->error ? orrery_escape_for_terminal (st->error->message, -1) : NULL;

  g_print ("orrery: %s “%s”: %u/%u tasks completed, %u failed, %u skipped, %u cancelled in %.2f s%s%s\n",
           st->ok ? "completed" : (g_error_matches (st->error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ? "cancelled" : "failed"),
           id, completed, n_tasks, failed, skipped,
           cancelled, (g_get_monotonic_time () - start) / 1e6,
           message ? " — " : "", message ? message : "");
  if (run->run_dir != NULL)
    g_printerr ("orrery: run %s in %s\n", run->run_id, run->run_dir);

  if (g_error_matches (st->error, ORRERY_ORCHESTRATOR_ERROR, ORRERY_ORCHESTRATOR_ERROR_INVALID))
    return ORRERY_EXIT_INVALID;
  return st->ok ? ORRERY_EXIT_OK : ORRERY_EXIT_RUN_FAILED;
}

int
orrery_host_run (OrreryHostRun *run)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryEventBus) bus = NULL;
  g_autoptr(OrreryDeviceManager) devices = NULL;
  g_autoptr(OrreryOrchestrator) orch = NULL;
  g_autoptr(OrreryPluginEngine) engine = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  RunState st = { 0 };
  SignalWatch signals = { 0 };
  gint64 start;
  int status;

  /* The orchestrator and the settings of [Host]; the devices come after
   * the plugins, which may add device kinds. */
  devices = orrery_device_manager_new ();
  /* Devices give tasks ORRERY_RUN_ID and write their logs in RUN_DIR/logs. */
  orrery_device_manager_set_run (devices, run->run_id, run->run_dir);
  bus = orrery_event_bus_new ();
  orch = orrery_orchestrator_new (bus, devices);
  if (!options_into_config (run))
    return ORRERY_EXIT_USAGE;
  if (!orrery_orchestrator_apply_config (orch, run->config, &error))
    {
      g_printerr ("orrery %s: %s\n", run->command, error->message);
      return ORRERY_EXIT_USAGE;
    }

  st.constellation = run->constellation;
  st.cancellable = cancellable;

  /* The journal first: it sees every event, before any plugin. */
  orrery_journal_attach (run->journal, bus);
  orrery_journal_set_orchestrator (run->journal, orch);
  if (run->second_journal != NULL)
    {
      orrery_journal_attach (run->second_journal, bus);
      orrery_journal_set_orchestrator (run->second_journal, orch);
    }

  if (!load_plugins (run, bus, orch, &engine))
    return ORRERY_EXIT_USAGE;

  /* The devices, with the kinds the plugins added. */
  if (!orrery_device_manager_load_config (devices, run->config, &error))
    {
      g_printerr ("orrery %s: %s\n", run->command, error->message);
      shutdown_plugins (engine, FALSE);
      return ORRERY_EXIT_USAGE;
    }

  loop = g_main_loop_new (NULL, FALSE);
  st.loop = loop;
  signal_watch_start (&signals, cancellable);

  /* The header's constellation is formatted here, not in the journal's
   * handler at constellation-started (seconds at a million tasks). */
  orrery_journal_prepare (run->journal, run->constellation);
  if (run->second_journal != NULL)
    orrery_journal_prepare (run->second_journal, run->constellation);
  start = g_get_monotonic_time ();
  orrery_orchestrator_run_async (orch, run->constellation, cancellable, run_done, &st);
  g_main_loop_run (loop);

  g_atomic_int_set (&signals.run_over, TRUE);
  /* Queued observers still have the run's last events (its end among
   * them) in their queues: deliver them before the plugins go, each
   * within its deadline. */
  orrery_event_bus_drain (bus);
  shutdown_plugins (engine, TRUE);
  signal_watch_stop (&signals);

  close_journals (run, &st);
  status = print_summary (run, &st, start);
  g_clear_error (&st.error);
  return status;
}

/* ------------------------------------------------------------------------ */
/* `orrery run FILE` */

/* What the command line asks for. */
typedef struct
{
  char                    *strategy;
  char                    *journal_path;     /* NULL: RUN_DIR/journal.jsonl; "-": stdout; redis://… */
  gint                     max_concurrency;
  gboolean                 no_plugins;
  gboolean                 dry_run;
  OrreryHostPluginOptions  plugins;
  const char              *file;             /* in argv */
} RunOptions;

static void
run_options_clear (RunOptions *o)
{
  g_clear_pointer (&o->strategy, g_free);
  g_clear_pointer (&o->journal_path, g_free);
  orrery_host_plugin_options_clear (&o->plugins);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RunOptions, run_options_clear)

/* The run's journal; on standard output or a Redis stream, the run
 * directory's copy too. */
typedef struct
{
  OrreryJournal *journal;
  OrreryJournal *second;      /* nullable */
  int            fd;          /* standard output's copy or the pipe to the helper, or -1 */
  GSubprocess   *helper;      /* nullable: orrery-redis-journal, writing the stream */
} RunJournals;

static void
run_journals_clear (RunJournals *j)
{
  g_clear_object (&j->journal);
  g_clear_object (&j->second);
  if (j->fd >= 0)
    close (j->fd);
  j->fd = -1;
  g_clear_object (&j->helper);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RunJournals, run_journals_clear)

/* Options: ORRERY_EXIT_OK to go on, else the exit status. */
static int
parse_options (RunOptions  *o,
               int          argc,
               char       **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("FILE");
  g_autoptr(GError) error = NULL;
  g_autofree char *state_file = NULL;
  const GOptionEntry entries[] = {
    { "strategy", 's', 0, G_OPTION_ARG_STRING, &o->strategy,
      "How tasks are placed on devices: round-robin, capability-match, load-balance", "S" },
    { "max-concurrency", 'j', 0, G_OPTION_ARG_INT, &o->max_concurrency,
      "Run at most N tasks at once (0: the devices' limits)", "N" },
    { "journal", 0, 0, G_OPTION_ARG_FILENAME, &o->journal_path,
      "Write the run's journal to FILE instead of the run directory's journal.jsonl "
      "(“-”: JSON lines on standard output, the rest on standard error); "
      "“orrery resume FILE” continues the run", "FILE" },
    { "state", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &state_file,
      "Old name of --journal", "FILE" },
    { "no-plugins", 0, 0, G_OPTION_ARG_NONE, &o->no_plugins, "Load no plugin", NULL },
    { "dry-run", 'n', 0, G_OPTION_ARG_NONE, &o->dry_run,
      "Print in dispatch order what would run where (the commands); run nothing", NULL },
    { NULL }
  };

  g_option_context_add_main_entries (context, entries, NULL);
  orrery_host_plugin_options_add (context, &o->plugins);
  g_option_context_set_summary (context,
                                "Runs the constellation in FILE (JSON, Orrery's or UFO Galaxy's format) "
                                "on the configured devices, with the enabled plugins. Each run gets "
                                "a run id and a directory, OUTPUT/runs/RUN_ID (OUTPUT: [Host] OutputDir, "
                                "default orrery-output), with its journal (journal.jsonl), the "
                                "plugins' files and the tasks' logs; OUTPUT/latest points at the newest.\n"
                                "Exit status: 0 every task completed, 1 the run failed or was "
                                "cancelled (or its journal could not be written), 2 usage or "
                                "configuration error, 3 invalid constellation.");
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      orrery_host_usage_error (context, "run", error->message);
      return ORRERY_EXIT_USAGE;
    }
  if (argc != 2)
    {
      orrery_host_usage_error (context, "run", "expected one constellation FILE (“-”: standard input)");
      return ORRERY_EXIT_USAGE;
    }
  o->file = argv[1];
  if (o->max_concurrency < 0)
    {
      g_printerr ("orrery run: --max-concurrency must be 0 or more, not %d\n", o->max_concurrency);
      return ORRERY_EXIT_USAGE;
    }
  if (state_file != NULL)
    {
      if (o->journal_path != NULL)
        {
          g_printerr ("orrery run: --state is the old name of --journal: give one of them\n");
          return ORRERY_EXIT_USAGE;
        }
      o->journal_path = g_steal_pointer (&state_file);
    }
  return ORRERY_EXIT_OK;
}

/* The constellation (from standard input for "-"), valid, with task data
 * the local device accepts: before anything runs. */
static int
load_constellation (const char           *file,
                    OrreryConstellation **out_constellation)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryConstellation) constellation = orrery_host_load_constellation (file, &error);

  if (constellation == NULL || !orrery_constellation_validate (constellation, &error))
    {
      g_printerr ("orrery run: %s\n", error->message);
      return ORRERY_EXIT_INVALID;
    }
  if (orrery_host_check_task_data (constellation, "orrery run: ", file) > 0)
    return ORRERY_EXIT_INVALID;
  *out_constellation = g_steal_pointer (&constellation);
  return ORRERY_EXIT_OK;
}

/* The run directory's own copy of a journal written elsewhere than to a
 * file (standard output, a stream): the run can be resumed from it. */
static gboolean
open_journal_copy (RunJournals  *j,
                   const char   *run_dir,
                   const char   *run_id,
                   GError      **error)
{
  g_autofree char *copy = g_build_filename (run_dir, ORRERY_HOST_JOURNAL_NAME, NULL);

  j->second = orrery_journal_new (copy, run_id, error);
  if (j->second == NULL)
    {
      g_clear_object (&j->journal);
      return FALSE;
    }
  return TRUE;
}

/* `--journal -`: the journal takes standard output; everything else
 * printed there (summary lines, plugins) goes to standard error. */
static gboolean
open_journal_on_stdout (RunJournals  *j,
                        const char   *run_dir,
                        const char   *run_id,
                        GError      **error)
{
  fflush (stdout);
  /* A reader that goes away (`| head`) is a write error that fails the
   * run, not a SIGPIPE that kills the host and leaves its tasks. */
  signal (SIGPIPE, SIG_IGN);
  j->fd = dup (STDOUT_FILENO);
  if (j->fd < 0 || dup2 (STDERR_FILENO, STDOUT_FILENO) < 0)
    {
      int errsv = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "cannot write the journal to standard output: %s", g_strerror (errsv));
      return FALSE;
    }
  j->journal = orrery_journal_new_for_fd (j->fd, "(standard output)", run_id, error);
  return j->journal != NULL && open_journal_copy (j, run_dir, run_id, error);
}

/* `--journal redis://…`: a journal on a Redis stream, written through a
 * pipe to the redis plugin's helper (its URL shown without password). */
static gboolean
open_journal_on_stream (RunJournals   *j,
                        const char    *url,
                        const char    *run_dir,
                        const char    *run_id,
                        OrreryConfig  *config,
                        GError       **error)
{
  g_autofree char *shown = orrery_host_redact_url (url);

  j->fd = orrery_host_remote_journal_open (url, run_id, config, &j->helper, error);
  if (j->fd < 0)
    return FALSE;
  j->journal = orrery_journal_new_for_fd (j->fd, shown, run_id, error);
  return j->journal != NULL && open_journal_copy (j, run_dir, run_id, error);
}

/* The journal in @path, or RUN_DIR/journal.jsonl; elsewhere, RUN_DIR's
 * journal.jsonl links to it (resume --last, watch RUN_DIR). */
static gboolean
open_journal_file (RunJournals  *j,
                   const char   *path,
                   const char   *run_dir,
                   const char   *run_id,
                   GError      **error)
{
  g_autofree char *in_run_dir = g_build_filename (run_dir, ORRERY_HOST_JOURNAL_NAME, NULL);
  g_autofree char *target = NULL;

  j->journal = orrery_journal_new (path != NULL ? path : in_run_dir, run_id, error);
  if (j->journal == NULL)
    return FALSE;
  if (path == NULL)
    return TRUE;
  target = g_canonicalize_filename (path, NULL);
  if (symlink (target, in_run_dir) < 0)
    g_printerr ("orrery run: cannot link %s to the journal: %s\n", in_run_dir, g_strerror (errno));
  return TRUE;
}

/* The run's journals, with their sync policy and the run directory in
 * their header: ORRERY_EXIT_OK, or the exit status (the empty run
 * directory is then removed). */
static int
open_journals (RunJournals  *j,
               const char   *journal_path,
               const char   *run_dir,
               const char   *run_id,
               OrreryConfig *config)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *abs_run_dir = g_canonicalize_filename (run_dir, NULL);
  gboolean opened;

  if (journal_path != NULL && g_str_equal (journal_path, "-"))
    opened = open_journal_on_stdout (j, run_dir, run_id, &error);
  else if (orrery_host_journal_is_remote (journal_path))
    opened = open_journal_on_stream (j, journal_path, run_dir, run_id, config, &error);
  else
    opened = open_journal_file (j, journal_path, run_dir, run_id, &error);
  if (!opened)
    {
      g_autofree char *logs = g_build_filename (run_dir, "logs", NULL);
      gboolean exists = g_error_matches (error, ORRERY_JOURNAL_ERROR, ORRERY_JOURNAL_ERROR_EXISTS);

      /* No run: no run directory left behind (it is still empty). */
      g_rmdir (logs);
      g_rmdir (run_dir);
      g_printerr ("orrery run: %s%s\n", error->message,
                  exists ? " (a journal is never overwritten: “orrery resume” continues its run)" : "");
      return exists ? ORRERY_EXIT_USAGE : ORRERY_EXIT_RUN_FAILED;
    }
  if (!orrery_host_apply_journal_sync (j->journal, config, &error) ||
      (j->second != NULL && !orrery_host_apply_journal_sync (j->second, config, &error)))
    {
      g_printerr ("orrery run: %s\n", error->message);
      return ORRERY_EXIT_USAGE;
    }
  orrery_journal_set_header_member (j->journal, "run_dir", abs_run_dir);
  if (j->second != NULL)
    orrery_journal_set_header_member (j->second, "run_dir", abs_run_dir);
  return ORRERY_EXIT_OK;
}

int
orrery_host_cmd_run (int    argc,
                     char **argv)
{
  g_auto(RunOptions) o = { 0 };
  g_auto(RunJournals) journals = { .fd = -1 };
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryConfig) config = NULL;
  g_autoptr(OrreryConstellation) constellation = NULL;
  g_autofree char *run_id = NULL;
  g_autofree char *output_dir = NULL;
  g_autofree char *run_dir = NULL;
  OrreryHostRun run = { 0 };
  int status;

  status = parse_options (&o, argc, argv);
  if (status != ORRERY_EXIT_OK)
    return status;

  /* Configuration */
  config = orrery_host_plugin_options_load_config (&o.plugins, &error);
  if (config == NULL)
    {
      g_printerr ("orrery run: %s\n", error->message);
      return ORRERY_EXIT_USAGE;
    }

  /* The constellation */
  status = load_constellation (o.file, &constellation);
  if (status != ORRERY_EXIT_OK)
    return status;
  /* --dry-run: the plan, and nothing created or run. */
  if (o.dry_run)
    return orrery_host_dry_run (constellation, config, o.strategy,
                                g_str_equal (o.file, "-") ? ORRERY_HOST_STDIN_NAME : o.file);

  /* The run: its id, its directory, its journal. */
  run_id = make_run_id (constellation);
  output_dir = orrery_host_output_dir (config);
  run_dir = make_run_dir (output_dir, run_id, &error);
  if (run_dir == NULL)
    {
      g_printerr ("orrery run: %s\n", error->message);
      return ORRERY_EXIT_RUN_FAILED;
    }
  status = open_journals (&journals, o.journal_path, run_dir, run_id, config);
  if (status != ORRERY_EXIT_OK)
    return status;
  update_latest (output_dir, run_id);
  plugins_into_run_dir (config, run_dir);

  run.command = "run";
  run.options = &o.plugins;
  run.config = config;
  run.constellation = constellation;
  run.strategy = o.strategy;
  run.max_concurrency = o.max_concurrency;
  run.no_plugins = o.no_plugins;
  run.journal = journals.journal;
  run.second_journal = journals.second;
  run.run_id = run_id;
  run.run_dir = run_dir;
  status = orrery_host_run (&run);
  /* The stream's end: every line in Redis, or the run fails. */
  if (journals.helper != NULL)
    status = orrery_host_remote_journal_close (journals.helper, g_steal_fd (&journals.fd), status);
  return status;
}

gboolean
orrery_host_devices_from_config (OrreryDeviceManager  *devices,
                                 OrreryConfig         *config,
                                 GError              **error)
{
  return orrery_device_manager_load_config (devices, config, error);
}

void
orrery_host_plugins_into_run_dir (OrreryConfig *config,
                                  const char   *run_dir)
{
  plugins_into_run_dir (config, run_dir);
}
