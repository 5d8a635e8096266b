/* bench-journal.c: what the journal costs a run, and how fast it is read.
 *
 * For 10k, 100k and 1M independent simulated tasks of zero duration, in the
 * same process: a run without a journal, then a run with one
 * (JournalSync=none, then batch) in a temporary directory. One JSON object per line:
 * both times per task, the ratio, journal bytes per task, and, from the
 * same journal, the time a reader takes to rebuild the run (what
 * `orrery resume` does before it starts).
 *
 * Usage: bench-journal [MAX_TASKS]  (default 1000000)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <orrery.h>

static OrreryConstellation *
build (guint n)
{
  OrreryConstellation *c = orrery_constellation_new ("bench", "bench");
  char id[32];

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(OrreryTask) t = NULL;

      g_snprintf (id, sizeof id, "t%07u", i);
      t = orrery_task_new (id, NULL);
      g_assert_true (orrery_constellation_add_task (c, t, NULL));
    }
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

/* One run; with @path, journaled. Returns the wall time in µs. */
static gint64
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
  gboolean done = FALSE;
  gint64 t0, t1;

  orrery_device_manager_add_device (devices, ORRERY_DEVICE (sim), NULL);
  orch = orrery_orchestrator_new (bus, devices);
  t0 = g_get_monotonic_time ();
  if (path != NULL)
    {
      journal = orrery_journal_new (path, "bench-run", &error);
      g_assert_no_error (error);
      orrery_journal_set_sync (journal, sync);
      orrery_journal_attach (journal, bus);
      orrery_journal_set_orchestrator (journal, orch);
    }
  orrery_orchestrator_run_async (orch, c, NULL, run_done, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
  if (journal != NULL)
    {
      g_assert_true (orrery_journal_close (journal, &error));
      g_assert_no_error (error);
    }
  t1 = g_get_monotonic_time ();
  return t1 - t0;
}

static void
bench_case (guint             n,
            OrreryJournalSync sync)
{
  g_autofree char *dir = g_dir_make_tmp ("bench-journal-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "journal.jsonl", NULL);
  g_autoptr(OrreryJournalReader) reader = NULL;
  g_autoptr(GError) error = NULL;
  gint64 bare, journaled, t0, rebuild;
  struct stat st;

  bare = one_run (n, NULL, sync);
  journaled = one_run (n, path, sync);
  g_assert_cmpint (stat (path, &st), ==, 0);

  t0 = g_get_monotonic_time ();
  reader = orrery_journal_reader_new (path, &error);
  g_assert_no_error (error);
  g_assert_true (orrery_journal_reader_read_to (reader, 0, &error));
  g_assert_no_error (error);
  rebuild = g_get_monotonic_time () - t0;
  g_assert_cmpuint (orrery_constellation_count_status (orrery_journal_reader_get_constellation (reader),
                                                       ORRERY_TASK_STATUS_COMPLETED), ==, n);

  printf ("{\"bench\":\"journal\",\"tasks\":%u,\"sync\":\"%s\",\"ns_per_task_without\":%.0f,"
          "\"ns_per_task_with\":%.0f,\"ratio\":%.3f,\"journal_bytes\":%lld,\"journal_bytes_per_task\":%.0f,"
          "\"records\":%" G_GUINT64_FORMAT ",\"rebuild_s\":%.3f,\"rebuild_ns_per_record\":%.0f}\n",
          n, orrery_journal_sync_to_nick (sync), bare * 1000.0 / n, journaled * 1000.0 / n, (gdouble) journaled / bare,
          (long long) st.st_size, (gdouble) st.st_size / n,
          orrery_journal_reader_get_sequence (reader), rebuild / 1e6,
          rebuild * 1000.0 / orrery_journal_reader_get_sequence (reader));
  fflush (stdout);
  g_remove (path);
  g_rmdir (dir);
}

int
main (int    argc,
      char **argv)
{
  guint max = argc > 1 ? (guint) atoi (argv[1]) : 1000000;

  for (guint n = 10000; n <= max; n *= 10)
    for (OrreryJournalSync sync = ORRERY_JOURNAL_SYNC_NONE; sync <= ORRERY_JOURNAL_SYNC_BATCH; sync++)
      {
        pid_t pid = fork ();

        if (pid == 0)
          {
            bench_case (n, sync);
            _exit (0);
          }
        waitpid (pid, NULL, 0);
      }
  return 0;
}
