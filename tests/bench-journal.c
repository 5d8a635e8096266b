/* bench-journal.c: what the journal costs a run, and how fast it is read.
 *
 * For 10k, 100k and 1M independent simulated tasks of zero duration (task
 * data {'duration_ms': <0>}, as a constellation file would give them), in
 * the same process: a run without a journal, then a run with one
 * (JournalSync=none, then batch) in a temporary directory, the pair
 * repeated (5 rounds, 3 for 1M) and the medians taken of the per-round
 * figures (a single pair swings by half on this machine). One JSON
 * object per line: both times per task, the ratio, journal bytes per
 * task, the time the journal's handler took at constellation-started (the
 * header: the run's constellation as one record), its fdatasync calls,
 * and, from the same journal, the time a reader takes to rebuild the run
 * (what `orrery resume` does before it starts: the header's constellation,
 * then every record). A last line sums up the batch cases: the ratio per
 * size (goal <= 1.3), bytes per task, and the resume time of the largest
 * (goal < 5 s for 1M).
 *
 * Usage: bench-journal [MAX_TASKS]  (default 1000000)
 *        bench-journal make N PATH   (writes the journal of an N-task run;
 *                                     PATH none: the run without one)
 *        bench-journal resume PATH   (times the rebuild of PATH alone: for
 *                                     a profiler)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <orrery.h>

/* The constellation as `orrery run FILE` gets it: the JSON text of the
 * file, through the SDK's loader (which shares one GVariant among equal
 * task data, as it does for every file). */
static OrreryConstellation *
build (guint n)
{
  g_autoptr(GString) json = g_string_sized_new (64 + 48 * (gsize) n);
  g_autoptr(GError) error = NULL;
  OrreryConstellation *c;

  g_string_append (json, "{\"constellation_id\":\"bench\",\"name\":\"bench\",\"tasks\":[");
  for (guint i = 0; i < n; i++)
    g_string_append_printf (json, "%s{\"task_id\":\"t%07u\",\"task_data\":{\"duration_ms\":0}}",
                            i > 0 ? "," : "", i);
  g_string_append (json, "]}");
  c = orrery_constellation_new_from_data (json->str, json->len, "bench", &error);
  g_assert_no_error (error);
  return c;
}

static void
run_done (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  gboolean *done = user_data;

  if (!orrery_orchestrator_run_finish (ORRERY_ORCHESTRATOR (source), result, &error))
    g_error ("run failed: %s", error->message);
  *done = TRUE;
}

typedef struct
{
  gint64 wall_us;
  gint64 cpu_us;
} Stamp;

/* Two observers around the journal's: the time between them at
 * constellation-started is the journal's (wall and this thread's CPU). */
static gboolean
stamp (OrreryEvent  *event,
       gpointer      user_data,
       GError      **error)
{
  Stamp *st = user_data;
  struct timespec ts;

  if (orrery_event_get_event_type (event) != ORRERY_EVENT_CONSTELLATION_STARTED)
    return TRUE;
  st->wall_us = g_get_monotonic_time ();
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  st->cpu_us = ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
  return TRUE;
}

typedef struct
{
  gint64  wall_us;
  gint64  cpu_us;        /* the process's, user and system */
  gint64  header_us;
  gint64  header_cpu_us;
  gint64  prepare_us;
  guint64 syncs;
} RunTimes;

static gdouble
cpu_seconds (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* One run; with @path, journaled. */
static RunTimes
one_run (guint              n,
         const char        *path,
         OrreryJournalSync  sync)
{
  g_autoptr(OrreryEventBus) bus = orrery_event_bus_new ();
  g_autoptr(OrreryDeviceManager) devices = orrery_device_manager_new ();
  g_autoptr(OrrerySimulatedDevice) sim = orrery_simulated_device_new ("sim", NULL, 64);
  g_autoptr(OrreryOrchestrator) orch = NULL;
  g_autoptr(OrreryConstellation) c = build (n);
  g_autoptr(OrreryJournal) journal = NULL;
  g_autoptr(GError) error = NULL;
  Stamp before = { 0 }, after = { 0 };
  g_autoptr(OrreryObserver) obs_before = orrery_func_observer_new ("before", stamp, &before, NULL);
  g_autoptr(OrreryObserver) obs_after = orrery_func_observer_new ("after", stamp, &after, NULL);
  RunTimes times = { 0 };
  gboolean done = FALSE;
  gint64 t0;
  gdouble cpu0;

  orrery_device_manager_add_device (devices, ORRERY_DEVICE (sim), NULL);
  orch = orrery_orchestrator_new (bus, devices);
  orrery_event_bus_subscribe (bus, obs_before, NULL, 0);
  t0 = g_get_monotonic_time ();
  cpu0 = cpu_seconds ();
  if (path != NULL)
    {
      journal = orrery_journal_new (path, "bench-run", &error);
      g_assert_no_error (error);
      orrery_journal_set_sync (journal, sync);
      orrery_journal_attach (journal, bus);
      orrery_journal_set_orchestrator (journal, orch);
    }
  orrery_event_bus_subscribe (bus, obs_after, NULL, 0);
  if (journal != NULL)
    {
      gint64 p0 = g_get_monotonic_time ();

      orrery_journal_prepare (journal, c);
      times.prepare_us = g_get_monotonic_time () - p0;
    }
  orrery_orchestrator_run_async (orch, c, NULL, run_done, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
  if (journal != NULL)
    {
      g_assert_true (orrery_journal_close (journal, &error));
      g_assert_no_error (error);
      times.syncs = orrery_journal_get_sync_count (journal);
    }
  times.wall_us = g_get_monotonic_time () - t0;
  times.cpu_us = (gint64) ((cpu_seconds () - cpu0) * 1e6);
  times.header_us = after.wall_us - before.wall_us;
  times.header_cpu_us = after.cpu_us - before.cpu_us;
  return times;
}

static int
cmp_double (const void *a,
            const void *b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;

  return x < y ? -1 : x > y;
}

/* The median of @n values (sorts them). */
static gdouble
median (gdouble *v,
        guint    n)
{
  qsort (v, n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

typedef struct
{
  gdouble ratio;
  gdouble cpu_ratio;
  gdouble bytes_per_task;
  gdouble rebuild_s;
  gdouble rebuild_cpu_s;
} CaseResult;

static CaseResult
bench_case (guint             n,
            OrreryJournalSync sync)
{
  g_autofree char *dir = g_dir_make_tmp ("bench-journal-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "journal.jsonl", NULL);
  g_autoptr(OrreryJournalReader) reader = NULL;
  g_autoptr(GError) error = NULL;
  RunTimes bare, journaled;
  gint64 t0, t1, rebuild;
  gdouble cpu0, header_cpu, cpu1;
  CaseResult res;
  struct stat st;

  /* Rounds of the pair, alternating (the machine's noise is shared by
   * both); the medians of the per-round figures. The last round's journal
   * is the one read back. */
  guint rounds = n >= 1000000 ? 3 : 5;
  gdouble r_wall[5], r_cpu[5], w_bare[5], w_with[5], c_bare[5], c_with[5];

  for (guint r = 0; r < rounds; r++)
    {
      g_remove (path);
      bare = one_run (n, NULL, sync);
      journaled = one_run (n, path, sync);
      r_wall[r] = (gdouble) journaled.wall_us / bare.wall_us;
      r_cpu[r] = (gdouble) journaled.cpu_us / bare.cpu_us;
      w_bare[r] = bare.wall_us;
      w_with[r] = journaled.wall_us;
      c_bare[r] = bare.cpu_us;
      c_with[r] = journaled.cpu_us;
    }
  g_assert_cmpint (stat (path, &st), ==, 0);
  bare.wall_us = (gint64) median (w_bare, rounds);
  journaled.wall_us = (gint64) median (w_with, rounds);
  bare.cpu_us = (gint64) median (c_bare, rounds);
  journaled.cpu_us = (gint64) median (c_with, rounds);

  cpu0 = cpu_seconds ();
  t0 = g_get_monotonic_time ();
  reader = orrery_journal_reader_new (path, &error);
  g_assert_no_error (error);
  t1 = g_get_monotonic_time ();
  header_cpu = cpu_seconds ();
  g_assert_true (orrery_journal_reader_read_to (reader, 0, &error));
  g_assert_no_error (error);
  rebuild = g_get_monotonic_time () - t0;
  cpu1 = cpu_seconds ();
  g_assert_cmpuint (orrery_constellation_count_status (orrery_journal_reader_get_constellation (reader),
                                                       ORRERY_TASK_STATUS_COMPLETED), ==, n);

  res.ratio = median (r_wall, rounds);
  res.cpu_ratio = median (r_cpu, rounds);
  res.bytes_per_task = (gdouble) st.st_size / n;
  res.rebuild_s = rebuild / 1e6;
  res.rebuild_cpu_s = cpu1 - cpu0;
  printf ("{\"bench\":\"journal\",\"tasks\":%u,\"sync\":\"%s\",\"ns_per_task_without\":%.0f,"
          "\"ns_per_task_with\":%.0f,\"ratio\":%.3f,\"cpu_ns_per_task_without\":%.0f,"
          "\"cpu_ns_per_task_with\":%.0f,\"cpu_ratio\":%.3f,\"journal_bytes\":%lld,\"journal_bytes_per_task\":%.0f,"
          "\"prepare_ms\":%.1f,\"header_ms\":%.1f,\"header_cpu_ms\":%.1f,\"syncs\":%" G_GUINT64_FORMAT ",\"records\":%" G_GUINT64_FORMAT
          ",\"rebuild_s\":%.3f,\"rebuild_cpu_s\":%.3f,\"rebuild_header_s\":%.3f,\"rebuild_header_cpu_s\":%.3f,"
          "\"rebuild_ns_per_record\":%.0f,\"rounds\":%u}\n",
          n, orrery_journal_sync_to_nick (sync), bare.wall_us * 1000.0 / n, journaled.wall_us * 1000.0 / n,
          res.ratio, bare.cpu_us * 1000.0 / n, journaled.cpu_us * 1000.0 / n, res.cpu_ratio,
          (long long) st.st_size, res.bytes_per_task, journaled.prepare_us / 1000.0, journaled.header_us / 1000.0,
          journaled.header_cpu_us / 1000.0, journaled.syncs,
          orrery_journal_reader_get_sequence (reader), res.rebuild_s, cpu1 - cpu0, (t1 - t0) / 1e6,
          header_cpu - cpu0, rebuild * 1000.0 / orrery_journal_reader_get_sequence (reader), rounds);
  fflush (stdout);
  g_remove (path);
  g_rmdir (dir);
  return res;
}

/* The rebuild alone, of an existing journal. */
static int
resume_only (const char *path)
{
  g_autoptr(OrreryJournalReader) reader = NULL;
  g_autoptr(GError) error = NULL;
  gdouble cpu0 = cpu_seconds (), cpu1, cpu2;
  gint64 t0 = g_get_monotonic_time (), t1;

  reader = orrery_journal_reader_new (path, &error);
  g_assert_no_error (error);
  cpu1 = cpu_seconds ();
  g_assert_true (orrery_journal_reader_read_to (reader, 0, &error));
  g_assert_no_error (error);
  cpu2 = cpu_seconds ();
  t1 = g_get_monotonic_time ();
  printf ("{\"bench\":\"journal-resume\",\"tasks\":%u,\"records\":%" G_GUINT64_FORMAT
          ",\"rebuild_s\":%.3f,\"rebuild_cpu_s\":%.3f,\"rebuild_header_cpu_s\":%.3f}\n",
          orrery_constellation_get_n_tasks (orrery_journal_reader_get_constellation (reader)),
          orrery_journal_reader_get_sequence (reader), (t1 - t0) / 1e6, cpu2 - cpu0, cpu1 - cpu0);
  return 0;
}

int
main (int    argc,
      char **argv)
{
  guint max;
  g_autoptr(GString) ratios = g_string_new (NULL);
  g_autoptr(GString) cpu_ratios = g_string_new (NULL);
  g_autoptr(GString) bytes = g_string_new (NULL);
  CaseResult last = { 0 };
  g_autofree char *loadavg = NULL;
  const char *load = "";
  guint last_n = 0;

  if (argc == 4 && g_str_equal (argv[1], "make"))
    {
      /* PATH "none": the same run without a journal. */
      RunTimes t = one_run ((guint) atoi (argv[2]), g_str_equal (argv[3], "none") ? NULL : argv[3],
                            ORRERY_JOURNAL_SYNC_BATCH);

      printf ("{\"bench\":\"journal-make\",\"tasks\":%d,\"s\":%.3f,\"prepare_ms\":%.1f,\"header_ms\":%.1f,"
              "\"header_cpu_ms\":%.1f}\n", atoi (argv[2]), t.wall_us / 1e6, t.prepare_us / 1000.0, t.header_us / 1000.0,
              t.header_cpu_us / 1000.0);
      return 0;
    }
  if (argc == 3 && g_str_equal (argv[1], "resume"))
    return resume_only (argv[2]);
  max = argc > 1 ? (guint) atoi (argv[1]) : 1000000;
  for (guint n = 10000; n <= max; n *= 10)
    for (OrreryJournalSync sync = ORRERY_JOURNAL_SYNC_NONE; sync <= ORRERY_JOURNAL_SYNC_BATCH; sync++)
      {
        /* Each case in a process of its own (a clean heap), its figures
         * back through a pipe. */
        int fds[2];
        pid_t pid;
        CaseResult res = { 0 };

        g_assert_cmpint (pipe (fds), ==, 0);
        pid = fork ();
        if (pid == 0)
          {
            close (fds[0]);
            res = bench_case (n, sync);
            if (write (fds[1], &res, sizeof res) != sizeof res)
              _exit (1);
            _exit (0);
          }
        close (fds[1]);
        if (read (fds[0], &res, sizeof res) != sizeof res)
          g_error ("the %u-task case (sync %s) died", n, orrery_journal_sync_to_nick (sync));
        close (fds[0]);
        waitpid (pid, NULL, 0);
        if (sync != ORRERY_JOURNAL_SYNC_BATCH)
          continue;
        g_string_append_printf (ratios, "%s\"%u\":%.3f", ratios->len ? "," : "", n, res.ratio);
        g_string_append_printf (cpu_ratios, "%s\"%u\":%.3f", cpu_ratios->len ? "," : "", n, res.cpu_ratio);
        g_string_append_printf (bytes, "%s\"%u\":%.0f", bytes->len ? "," : "", n, res.bytes_per_task);
        last = res;
        last_n = n;
      }
  /* The machine's load as the figures were taken (they are not quiet). */
  if (g_file_get_contents ("/proc/loadavg", &loadavg, NULL, NULL))
    load = g_strstrip (loadavg);
  printf ("{\"bench\":\"journal-summary\",\"sync\":\"batch\",\"ratio\":{%s},\"cpu_ratio\":{%s},\"ratio_goal\":1.3,"
          "\"bytes_per_task\":{%s},\"resume_tasks\":%u,\"resume_s\":%.3f,\"resume_cpu_s\":%.3f,\"resume_goal_s\":5,"
          "\"loadavg\":\"%s\"}\n",
          ratios->str, cpu_ratios->str, bytes->str, last_n, last.rebuild_s, last.rebuild_cpu_s, load);
  return 0;
}
