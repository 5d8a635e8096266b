/* orrery-cmd-journal.c: the commands that read a run's journal.
 *
 * `orrery resume JOURNAL|RUN_DIR|--last`: the run goes on, appended to the
 * same journal with the same run id. `orrery replay`: the recorded events
 * go to the plugins again, no task runs. `orrery watch`: follows a journal
 * another process writes, with a file monitor, and learns that the writer
 * is gone from its lock (see take_writer_lock() in sdk/orrery-journal.c).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef _GNU_SOURCE
# define _GNU_SOURCE   /* F_OFD_SETLKW */
#endif
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <orrery.h>

#include "orrery-host.h"

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (OrreryHostPluginOptions, orrery_host_plugin_options_clear)

/* JOURNAL, RUN_DIR (its journal.jsonl) or --last (OUTPUT/latest). */
char *
orrery_host_resolve_journal (const char  *arg,
                             gboolean     last,
                             OrreryConfig *config,
                             const char  *command,
                             GError     **error)
{
  g_autofree char *path = NULL;

  if (last)
    {
      g_autofree char *output = orrery_host_output_dir (config);

      path = g_build_filename (output, "latest", ORRERY_HOST_JOURNAL_NAME, NULL);
    }
  else if (g_file_test (arg, G_FILE_TEST_IS_DIR))
    path = g_build_filename (arg, ORRERY_HOST_JOURNAL_NAME, NULL);
  else
    path = g_strdup (arg);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "%s: no such journal%s", path,
                   last ? " (no run recorded yet in this output directory)" : "");
      return NULL;
    }
  return g_steal_pointer (&path);
}

static int
reader_error_status (const GError *error)
{
  if (g_error_matches (error, ORRERY_JOURNAL_ERROR, ORRERY_JOURNAL_ERROR_WRITER_GONE))
    return ORRERY_EXIT_RUN_FAILED;
  if (g_error_matches (error, ORRERY_JOURNAL_ERROR, ORRERY_JOURNAL_ERROR_IO) ||
      error->domain == G_IO_ERROR)
    return ORRERY_EXIT_USAGE;
  return ORRERY_EXIT_INVALID;
}

/* Opens and, with @read_all, reads the whole journal; reports a torn last
 * line. */
static OrreryJournalReader *
open_reader (const char  *command,
             const char  *path,
             gboolean     read_all,
             int         *status)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryJournalReader) reader = orrery_journal_reader_new (path, &error);

  if (reader == NULL || (read_all && !orrery_journal_reader_read_to (reader, 0, &error)))
    {
      g_printerr ("orrery %s: %s\n", command, error->message);
      *status = reader_error_status (error);
      return NULL;
    }
  if (orrery_journal_reader_get_torn_line (reader) != 0)
    g_printerr ("orrery %s: %s:%" G_GUINT64_FORMAT ": torn last line (a write cut by a crash), ignored\n",
                command, path, orrery_journal_reader_get_torn_line (reader));
  return g_steal_pointer (&reader);
}

static char *
run_dir_of (OrreryJournalReader *reader,
            const char          *path)
{
  const char *dir = orrery_journal_reader_get_header_member (reader, "run_dir");

  if (dir != NULL && g_file_test (dir, G_FILE_TEST_IS_DIR))
    return g_strdup (dir);
  return g_path_get_dirname (path);
}

static void
count_tasks (OrreryConstellation *c,
             GString             *s)
{
  g_string_append_printf (s, "%u/%u tasks completed, %u failed, %u skipped, %u cancelled, %u not finished",
                          orrery_constellation_count_status (c, ORRERY_TASK_STATUS_COMPLETED),
                          orrery_constellation_get_n_tasks (c),
                          orrery_constellation_count_status (c, ORRERY_TASK_STATUS_FAILED),
                          orrery_constellation_count_status (c, ORRERY_TASK_STATUS_SKIPPED),
                          orrery_constellation_count_status (c, ORRERY_TASK_STATUS_CANCELLED),
                          orrery_constellation_count_status (c, ORRERY_TASK_STATUS_PENDING) +
                          orrery_constellation_count_status (c, ORRERY_TASK_STATUS_WAITING_DEPENDENCY) +
                          orrery_constellation_count_status (c, ORRERY_TASK_STATUS_RUNNING));
}

/* ------------------------------------------------------------------------ */
/* resume */

int
orrery_host_cmd_resume (int    argc,
                        char **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("JOURNAL|RUN_DIR — continue a recorded run");
  g_autoptr(GError) error = NULL;
  g_autofree char *strategy = NULL;
  gint max_concurrency = 0;
  gboolean no_plugins = FALSE, last = FALSE, retry_failed = FALSE;
  const GOptionEntry entries[] = {
    { "last", 0, 0, G_OPTION_ARG_NONE, &last, "Resume the newest run (OUTPUT/latest)", NULL },
    { "retry-failed", 0, 0, G_OPTION_ARG_NONE, &retry_failed,
      "Also run the failed tasks again, and what they made skip", NULL },
    { "strategy", 's', 0, G_OPTION_ARG_STRING, &strategy,
      "How tasks are placed on devices: round-robin, capability-match, load-balance", "S" },
    { "max-concurrency", 'j', 0, G_OPTION_ARG_INT, &max_concurrency,
      "Run at most N tasks at once (0: the devices' limits)", "N" },
    { "no-plugins", 0, 0, G_OPTION_ARG_NONE, &no_plugins, "Load no plugin", NULL },
    { NULL }
  };
  g_auto(OrreryHostPluginOptions) options = { NULL };
  g_autoptr(OrreryConfig) config = NULL;
  g_autoptr(OrreryJournalReader) reader = NULL;
  g_autoptr(OrreryJournal) journal = NULL;
  g_autofree char *path = NULL;
  g_autofree char *run_dir = NULL;
  g_auto(GStrv) retried = NULL;
  OrreryConstellation *c;
  OrreryHostRun run = { 0 };
  guint n_open, n_failed;
  int status = 0;

  g_option_context_add_main_entries (context, entries, NULL);
  orrery_host_plugin_options_add (context, &options);
  g_option_context_set_summary (context,
                                "Continues the run recorded in JOURNAL (or RUN_DIR/journal.jsonl), "
                                "appending to the same journal with the same run id: finished tasks "
                                "are not run again, tasks that were running run again as a new attempt.\n"
                                "Exit status: as “orrery run”; 2 also when there is nothing to resume, "
                                "3 when the file is not a valid journal.");
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("orrery resume: %s\n", error->message);
      return ORRERY_EXIT_USAGE;
    }
  if ((last && argc != 1) || (!last && argc != 2))
    {
      g_printerr ("orrery resume: expected one JOURNAL or RUN_DIR, or --last\n"
                  "Run “orrery resume --help” for usage.\n");
      return ORRERY_EXIT_USAGE;
    }
  if (max_concurrency < 0)
    {
      g_printerr ("orrery resume: --max-concurrency must be 0 or more, not %d\n", max_concurrency);
      return ORRERY_EXIT_USAGE;
    }
  config = orrery_host_plugin_options_load_config (&options, &error);
  if (config == NULL)
    {
      g_printerr ("orrery resume: %s\n", error->message);
      return ORRERY_EXIT_USAGE;
    }
  path = orrery_host_resolve_journal (last ? NULL : argv[1], last, config, "resume", &error);
  if (path == NULL)
    {
      g_printerr ("orrery resume: %s\n", error->message);
      return ORRERY_EXIT_USAGE;
    }
  reader = open_reader ("resume", path, TRUE, &status);
  if (reader == NULL)
    return status;

  /* Is there anything to do? Nothing is written to the journal before. */
  c = orrery_journal_reader_get_constellation (reader);
  n_failed = orrery_constellation_count_status (c, ORRERY_TASK_STATUS_FAILED);
  n_open = orrery_constellation_count_status (c, ORRERY_TASK_STATUS_PENDING) +
           orrery_constellation_count_status (c, ORRERY_TASK_STATUS_WAITING_DEPENDENCY) +
           orrery_constellation_count_status (c, ORRERY_TASK_STATUS_RUNNING) +
           orrery_constellation_count_status (c, ORRERY_TASK_STATUS_CANCELLED);
  if (n_open == 0 && (!retry_failed || n_failed == 0))
    {
      g_autoptr(GString) s = g_string_new (NULL);
      g_autofree char *run_id = orrery_escape_for_terminal (orrery_journal_reader_get_run_id (reader), -1);

      count_tasks (c, s);
      g_printerr ("orrery resume: %s:%" G_GUINT64_FORMAT ": the run %s %s (%s): nothing to resume%s\n",
                  path, orrery_journal_reader_get_line (reader), run_id,
                  orrery_journal_reader_is_finished (reader) ? "already ended" : "has no task left to run",
                  s->str, n_failed > 0 ? "; --retry-failed runs the failed tasks again" : "");
      return ORRERY_EXIT_USAGE;
    }

  /* The journal first: its lock refuses a run whose writer is alive. */
  if (retry_failed)
    retried = orrery_journal_reader_reset_failed (reader);
  journal = orrery_journal_open_append (path, orrery_journal_reader_get_run_id (reader),
                                        orrery_journal_reader_get_sequence (reader) + 1,
                                        orrery_journal_reader_get_valid_length (reader), &error);
  if (journal == NULL)
    {
      g_printerr ("orrery resume: %s\n", error->message);
      /* A run still going (its writer holds the journal): not ours. */
      return g_error_matches (error, ORRERY_JOURNAL_ERROR, ORRERY_JOURNAL_ERROR_BUSY)
             ? ORRERY_EXIT_USAGE : ORRERY_EXIT_RUN_FAILED;
    }
  run_dir = run_dir_of (reader, path);
  /* Task processes of the crashed host still running would run twice.
   * Only once the journal is ours (its lock taken above): those of a run
   * still going are not survivors. */
  {
    guint n_killed = 0;

    if (!orrery_local_device_kill_survivors (run_dir, &n_killed, &error))
      {
        g_printerr ("orrery resume: %s\n", error->message);
        return ORRERY_EXIT_RUN_FAILED;
      }
    if (n_killed > 0)
      g_printerr ("orrery resume: killed %u task processes left running by the interrupted run\n", n_killed);
  }

  if (!orrery_host_apply_journal_sync (journal, config, &error))
    {
      g_printerr ("orrery resume: %s\n", error->message);
      return ORRERY_EXIT_USAGE;
    }
  orrery_journal_set_resumed (journal, (const char * const *) retried);
  orrery_host_plugins_into_run_dir (config, run_dir);

  {
    g_autofree char *run_id = orrery_escape_for_terminal (orrery_journal_reader_get_run_id (reader), -1);

    g_printerr ("orrery resume: run %s: %u tasks to run%s\n", run_id,
                n_open + (retried ? g_strv_length (retried) : 0),
                retried && retried[0] ? " (failed ones included)" : "");
  }
  run.command = "resume";
  run.options = &options;
  run.config = config;
  run.constellation = c;
  run.strategy = strategy;
  run.max_concurrency = max_concurrency;
  run.no_plugins = no_plugins;
  run.journal = journal;
  run.run_id = orrery_journal_reader_get_run_id (reader);
  run.run_dir = run_dir;
  return orrery_host_run (&run);
}

/* ------------------------------------------------------------------------ */
/* replay */

typedef struct
{
  OrreryJournalReader *reader;
  OrreryEventBus      *bus;
  GMainLoop           *loop;
  gdouble              speed;
  OrreryEvent         *next;
  GError              *error;
  guint64              n_published;
} Replay;

static gboolean replay_step (gpointer user_data);

static void
replay_schedule (Replay *r,
                 gint64  delay_us)
{
  GSource *source;

  if (delay_us > 0)
    source = g_timeout_source_new ((guint) MIN (delay_us / 1000, G_MAXUINT));
  else
    source = g_idle_source_new ();
  g_source_set_callback (source, replay_step, r, NULL);
  g_source_set_static_name (source, "[orrery] replay");
  g_source_attach (source, NULL);
  g_source_unref (source);
}

static gboolean
replay_step (gpointer user_data)
{
  Replay *r = user_data;

  /* As fast as possible: a batch per main loop iteration, so the plugins'
   * own sources (redraws, summaries) run in between. */
  for (guint i = 0; i < 256; i++)
    {
      g_autoptr(OrreryEvent) event = r->next ? g_steal_pointer (&r->next)
                                             : orrery_journal_reader_next (r->reader, &r->error);

      if (event == NULL)
        {
          g_main_loop_quit (r->loop);
          return G_SOURCE_REMOVE;
        }
      orrery_event_bus_publish (r->bus, event);
      r->n_published++;
      if (r->speed > 0)
        {
          gint64 delay;

          r->next = orrery_journal_reader_next (r->reader, &r->error);
          if (r->next == NULL)
            {
              g_main_loop_quit (r->loop);
              return G_SOURCE_REMOVE;
            }
          delay = (orrery_event_get_timestamp (r->next) - orrery_event_get_timestamp (event)) / r->speed;
          replay_schedule (r, delay);
          return G_SOURCE_REMOVE;
        }
    }
  return G_SOURCE_CONTINUE;
}

int
orrery_host_cmd_replay (int    argc,
                        char **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("JOURNAL|RUN_DIR — replay a run to the plugins");
  g_autoptr(GError) error = NULL;
  g_autofree char *output = NULL;
  gdouble speed = 0;
  gboolean last = FALSE;
  const GOptionEntry entries[] = {
    { "last", 0, 0, G_OPTION_ARG_NONE, &last, "Replay the newest run (OUTPUT/latest)", NULL },
    { "speed", 0, 0, G_OPTION_ARG_DOUBLE, &speed,
      "Replay N times as fast as the run went (0, the default: as fast as possible)", "N" },
    { "output-dir", 'o', 0, G_OPTION_ARG_FILENAME, &output,
      "Where the plugins write their files (default: RUN_DIR/replay)", "DIR" },
    { NULL }
  };
  g_auto(OrreryHostPluginOptions) options = { NULL };
  g_autoptr(OrreryConfig) config = NULL;
  g_autoptr(OrreryJournalReader) reader = NULL;
  g_autoptr(OrreryEventBus) bus = NULL;
  g_autoptr(OrreryPluginEngine) engine = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autofree char *path = NULL;
  Replay r = { 0 };
  int status = 0;

  g_option_context_add_main_entries (context, entries, NULL);
  orrery_host_plugin_options_add (context, &options);
  g_option_context_set_summary (context,
                                "Feeds the events recorded in JOURNAL to the enabled plugins, in "
                                "order, with their recorded times; no task runs. The plugins write "
                                "their files (metrics, DOT, SVG) into RUN_DIR/replay.\n"
                                "Exit status: 0 replayed, 2 usage error, 3 not a valid journal.");
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("orrery replay: %s\n", error->message);
      return ORRERY_EXIT_USAGE;
    }
  if ((last && argc != 1) || (!last && argc != 2) || speed < 0)
    {
      g_printerr ("orrery replay: expected one JOURNAL or RUN_DIR (or --last), and --speed 0 or more\n"
                  "Run “orrery replay --help” for usage.\n");
      return ORRERY_EXIT_USAGE;
    }
  config = orrery_host_plugin_options_load_config (&options, &error);
  if (config == NULL)
    {
      g_printerr ("orrery replay: %s\n", error->message);
      return ORRERY_EXIT_USAGE;
    }
  path = orrery_host_resolve_journal (last ? NULL : argv[1], last, config, "replay", &error);
  if (path == NULL)
    {
      g_printerr ("orrery replay: %s\n", error->message);
      return ORRERY_EXIT_USAGE;
    }
  reader = open_reader ("replay", path, FALSE, &status);
  if (reader == NULL)
    return status;
  if (output == NULL)
    {
      g_autofree char *run_dir = run_dir_of (reader, path);

      output = g_build_filename (run_dir, "replay", NULL);
    }
  if (g_mkdir_with_parents (output, 0755) < 0)
    {
      g_printerr ("orrery replay: cannot create %s: %s\n", output, g_strerror (errno));
      return ORRERY_EXIT_USAGE;
    }
  orrery_host_plugins_into_run_dir (config, output);

  /* Plugins on a bus of their own, with no orchestrator: nothing can run. */
  bus = orrery_event_bus_new ();
  engine = orrery_host_plugin_options_new_engine (&options, bus, config);
  orrery_plugin_engine_load_enabled (engine);

  loop = g_main_loop_new (NULL, FALSE);
  r.reader = reader;
  r.bus = bus;
  r.loop = loop;
  r.speed = speed;
  replay_schedule (&r, 0);
  g_main_loop_run (loop);
  g_clear_pointer (&r.next, orrery_event_unref);
  /* What queued observers have not had yet, before the plugins go. */
  orrery_event_bus_drain (bus);
  orrery_plugin_engine_shutdown (engine);

  if (r.error != NULL)
    {
      g_printerr ("orrery replay: %s\n", r.error->message);
      g_clear_error (&r.error);
      return ORRERY_EXIT_INVALID;
    }
  if (orrery_journal_reader_get_torn_line (reader) != 0)
    g_printerr ("orrery replay: %s:%" G_GUINT64_FORMAT ": torn last line (a write cut by a crash), ignored\n",
                path, orrery_journal_reader_get_torn_line (reader));
  g_printerr ("orrery replay: %" G_GUINT64_FORMAT " events replayed from %s; files in %s\n",
              r.n_published, path, output);
  return ORRERY_EXIT_OK;
}

/* ------------------------------------------------------------------------ */
/* watch */

typedef struct
{
  OrreryJournalReader *reader;
  GMainLoop           *loop;
  const char          *path;
  GError              *error;
  gboolean             quiet;
} Watch;

static void
print_event (OrreryEvent *event,
             guint64      seq)
{
  g_autoptr(GString) s = g_string_new (NULL);

  g_string_append_printf (s, "%6" G_GUINT64_FORMAT "  %-24s", seq, orrery_event_get_type_nick (event));
  if (ORRERY_EVENT_IS_TASK (event))
    {
      OrreryEvent *te = event;
      const GError *error = orrery_event_get_error (te);

      orrery_string_append_escaped (s, orrery_event_get_task_id (te), -1);
      g_string_append_printf (s, "  %s  attempt %u", orrery_task_status_to_nick (orrery_event_get_task_status (te)),
                              orrery_event_get_attempt (te));
      if (orrery_event_get_device_id (te) != NULL)
        {
          g_string_append (s, "  on ");
          orrery_string_append_escaped (s, orrery_event_get_device_id (te), -1);
        }
      if (error != NULL)
        {
          g_string_append (s, "  — ");
          orrery_string_append_escaped (s, error->message, -1);
        }
    }
  else if (ORRERY_EVENT_IS_CONSTELLATION (event))
    {
      OrreryEvent *ce = event;
      GVariant *data = orrery_event_get_data (event);
      const char *reason = NULL;

      orrery_string_append_escaped (s, orrery_event_get_constellation_id (ce), -1);
      g_string_append_printf (s, "  %s", orrery_constellation_state_to_nick (orrery_event_get_constellation_state (ce)));
      if (data != NULL && g_variant_is_of_type (data, G_VARIANT_TYPE_VARDICT) &&
          g_variant_lookup (data, "reason", "&s", &reason))
        {
          g_string_append (s, "  — ");
          orrery_string_append_escaped (s, reason, -1);
        }
    }
  else if (ORRERY_EVENT_IS_DEVICE (event))
    orrery_string_append_escaped (s, orrery_event_get_device_id (event), -1);
  g_print ("%s\n", s->str);
}

static void
print_summary (OrreryJournalReader *reader)
{
  g_autoptr(GString) s = g_string_new ("orrery watch: run ");
  OrreryConstellation *c = orrery_journal_reader_get_constellation (reader);

  orrery_string_append_escaped (s, orrery_journal_reader_get_run_id (reader), -1);
  g_string_append_printf (s, " %s: ", orrery_journal_reader_is_finished (reader)
                          ? orrery_constellation_state_to_nick (orrery_constellation_get_state (c))
                          : "not finished");
  count_tasks (c, s);
  g_print ("%s\n", s->str);
}

/* Reads what the writer has added; TRUE once the run has ended. */
static gboolean
watch_drain (Watch *w)
{
  for (;;)
    {
      g_autoptr(OrreryEvent) event = orrery_journal_reader_next (w->reader, &w->error);

      if (event == NULL)
        return w->error != NULL;
      if (!w->quiet)
        print_event (event, orrery_journal_reader_get_sequence (w->reader));
      if (orrery_journal_reader_is_finished (w->reader))
        return TRUE;
    }
}

/* The writer holds an OFD write lock on the journal until it closes it or
 * its process ends, however it ends: a read lock on it is granted only
 * then. Waited for in a thread (F_OFD_SETLKW blocks; no polling), and let
 * go of at once so that a writer taking the journal on (`orrery resume`)
 * is not kept waiting. Returns FALSE if the file system cannot tell. */
static void
wait_for_writer_thread (GTask        *task,
                        gpointer      source_object,
                        gpointer      task_data,
                        GCancellable *cancellable)
{
  const char *path = task_data;
  struct flock lk = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  int r;

  if (fd < 0)
    {
      g_task_return_boolean (task, FALSE);
      return;
    }
  while ((r = fcntl (fd, F_OFD_SETLKW, &lk)) < 0 && errno == EINTR)
    ;
  if (r == 0)
    {
      lk.l_type = F_UNLCK;
      fcntl (fd, F_OFD_SETLK, &lk);
    }
  close (fd);
  g_task_return_boolean (task, r == 0);
}

static void
on_writer_gone (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Watch *w = user_data;

  if (!g_task_propagate_boolean (G_TASK (result), NULL) || w->loop == NULL ||
      !g_main_loop_is_running (w->loop))
    return;
  /* What it wrote before it went, then its end record or none. */
  if (watch_drain (w) && w->error == NULL && orrery_journal_reader_is_finished (w->reader))
    {
      g_main_loop_quit (w->loop);
      return;
    }
  if (w->error == NULL)
    g_set_error (&w->error, ORRERY_JOURNAL_ERROR, ORRERY_JOURNAL_ERROR_WRITER_GONE,
                 "%s: writer gone; the journal ends at seq %" G_GUINT64_FORMAT " without an end record",
                 w->path, orrery_journal_reader_get_sequence (w->reader));
  g_main_loop_quit (w->loop);
}

static void
on_journal_changed (GFileMonitor      *monitor,
                    GFile             *file,
                    GFile             *other,
                    GFileMonitorEvent  event_type,
                    gpointer           user_data)
{
  Watch *w = user_data;

  if (event_type == G_FILE_MONITOR_EVENT_DELETED)
    {
      g_set_error (&w->error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "%s: the journal was removed", w->path);
      g_main_loop_quit (w->loop);
      return;
    }
  if (watch_drain (w))
    g_main_loop_quit (w->loop);
}

int
orrery_host_cmd_watch (int    argc,
                       char **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("JOURNAL|RUN_DIR — follow a run");
  g_autoptr(GError) error = NULL;
  g_autofree char *config_file = NULL;
  gboolean last = FALSE, quiet = FALSE;
  const GOptionEntry entries[] = {
    { "last", 0, 0, G_OPTION_ARG_NONE, &last, "Follow the newest run (OUTPUT/latest)", NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Print only the summary at the end", NULL },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_file,
      "Read the host configuration from FILE (for OutputDir)", "FILE" },
    { NULL }
  };
  g_autoptr(OrreryConfig) config = orrery_config_new ();
  g_autoptr(OrreryJournalReader) reader = NULL;
  g_autoptr(GFile) file = NULL;
  g_autoptr(GFileMonitor) monitor = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autofree char *path = NULL;
  Watch w = { 0 };
  int status = 0;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (context,
                                "Follows the run recorded in JOURNAL (or RUN_DIR/journal.jsonl) as "
                                "another orrery process writes it: prints each event as one line, "
                                "and a summary when the run ends. On a run that has ended, prints "
                                "the summary.\n"
                                "Exit status: 0 the run completed, 1 it failed or was cancelled, "
                                "2 usage error, 3 not a valid journal.");
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("orrery watch: %s\n", error->message);
      return ORRERY_EXIT_USAGE;
    }
  if ((last && argc != 1) || (!last && argc != 2))
    {
      g_printerr ("orrery watch: expected one JOURNAL or RUN_DIR, or --last\n"
                  "Run “orrery watch --help” for usage.\n");
      return ORRERY_EXIT_USAGE;
    }
  if (last && !orrery_config_load (config, config_file, &error))
    {
      g_printerr ("orrery watch: %s\n", error->message);
      return ORRERY_EXIT_USAGE;
    }
  path = orrery_host_resolve_journal (last ? NULL : argv[1], last, config, "watch", &error);
  if (path == NULL)
    {
      g_printerr ("orrery watch: %s\n", error->message);
      return ORRERY_EXIT_USAGE;
    }
  reader = open_reader ("watch", path, FALSE, &status);
  if (reader == NULL)
    return status;
  orrery_journal_reader_set_follow (reader, TRUE);

  w.reader = reader;
  w.path = path;
  /* A run that has ended: its summary only. */
  w.quiet = TRUE;
  if (!orrery_journal_reader_read_to (reader, 0, &w.error))
    goto out;
  if (!orrery_journal_reader_is_finished (reader))
    {
      w.quiet = quiet;
      /* The events so far, then the new ones as they are written. */
      g_clear_object (&reader);
      w.reader = reader = orrery_journal_reader_new (path, &w.error);
      if (reader == NULL)
        goto out;
      orrery_journal_reader_set_follow (reader, TRUE);
      file = g_file_new_for_path (path);
      monitor = g_file_monitor_file (file, G_FILE_MONITOR_NONE, NULL, &w.error);
      if (monitor == NULL)
        goto out;
      g_file_monitor_set_rate_limit (monitor, 50);
      loop = g_main_loop_new (NULL, FALSE);
      w.loop = loop;
      g_signal_connect (monitor, "changed", G_CALLBACK (on_journal_changed), &w);
      if (!watch_drain (&w))
        {
          /* Ended by the writer's last record, or by its end without one. */
          g_autoptr(GTask) wait = g_task_new (NULL, NULL, on_writer_gone, &w);

          g_task_set_task_data (wait, g_strdup (path), g_free);
          g_task_set_name (wait, "[orrery] wait for the journal's writer");
          g_task_run_in_thread (wait, wait_for_writer_thread);
          g_main_loop_run (loop);
        }
      g_file_monitor_cancel (monitor);
    }
out:
  if (w.error != NULL)
    {
      g_printerr ("orrery watch: %s\n", w.error->message);
      status = reader_error_status (w.error);
      g_clear_error (&w.error);
      return status;
    }
  print_summary (reader);
  return orrery_constellation_get_state (orrery_journal_reader_get_constellation (reader)) ==
         ORRERY_CONSTELLATION_STATE_COMPLETED ? ORRERY_EXIT_OK : ORRERY_EXIT_RUN_FAILED;
}
