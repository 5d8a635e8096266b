/* bench-orchestrator.c: the orchestrator's overhead per task.
 *
 * Runs constellations of 10k, 100k and 1M tasks in three shapes
 * (independent, chain, layered with fan-in) on a simulated device whose
 * tasks take no time, with the bus attached and one counting observer.
 * Each case runs in a child process so its peak memory is its own. One
 * JSON object per line: wall time per task, events per second, peak RSS,
 * and whether every task's events were accounted for (2 per task plus the
 * run's 2).
 *
 * Then the dispatch cost with two devices against one: 20k tasks that all
 * target device `sim` (8 slots), alone or beside a second simulated device
 * that nothing targets. The second device's free slots make every
 * completion look for work; that search must not rescan the thousands of
 * ready tasks waiting for `sim` (it did: 287 s instead of 0.76 s).
 *
 * Usage: bench-orchestrator [MAX_TASKS [TARGETED_TASKS]]  (defaults 1000000, 20000)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <orrery.h>

static guint64 counted;

static gboolean
count_event (OrreryEvent  *event,
             gpointer      user_data,
             GError      **error)
{
  counted++;
  return TRUE;
}

static long
peak_rss_kib (void)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return -1;
  line = strstr (status, "VmHWM:");
  return line ? strtol (line + 6, NULL, 10) : -1;
}

static OrreryConstellation *
build (const char *shape,
       guint       n)
{
  OrreryConstellation *c = orrery_constellation_new (shape, shape);
  const guint width = 100;
  char id[32], prev[32];

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(OrreryTask) t = NULL;

      g_snprintf (id, sizeof id, "t%07u", i);
      t = orrery_task_new (id, NULL);
      g_assert_true (orrery_constellation_add_task (c, t, NULL));
    }
  for (guint i = 1; i < n; i++)
    {
      g_snprintf (id, sizeof id, "t%07u", i);
      if (g_str_equal (shape, "chain"))
        {
          g_snprintf (prev, sizeof prev, "t%07u", i - 1);
          g_assert_true (orrery_constellation_add_dependency (c, prev, id,
                                                              ORRERY_DEPENDENCY_SUCCESS_ONLY, NULL, NULL));
        }
      else if (g_str_equal (shape, "layered") && i >= width)
        {
          /* Each task waits for two tasks of the layer before it. */
          guint layer_start = (i / width - 1) * width;
          guint a = layer_start + (i % width);
          guint b = layer_start + ((i + 1) % width);

          g_snprintf (prev, sizeof prev, "t%07u", a);
          g_assert_true (orrery_constellation_add_dependency (c, prev, id,
                                                              ORRERY_DEPENDENCY_SUCCESS_ONLY, NULL, NULL));
          g_snprintf (prev, sizeof prev, "t%07u", b);
          g_assert_true (orrery_constellation_add_dependency (c, prev, id,
                                                              ORRERY_DEPENDENCY_SUCCESS_ONLY, NULL, NULL));
        }
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

static void
bench_case (const char *shape,
            guint       n)
{
  g_autoptr(OrreryEventBus) bus = orrery_event_bus_new ();
  g_autoptr(OrreryDeviceManager) devices = orrery_device_manager_new ();
  g_autoptr(OrrerySimulatedDevice) sim = orrery_simulated_device_new ("sim", NULL, 64);
  g_autoptr(OrreryOrchestrator) orch = NULL;
  g_autoptr(OrreryConstellation) c = NULL;
  g_autoptr(OrreryObserver) counter = orrery_func_observer_new ("counter", count_event, NULL, NULL);
  gboolean done = FALSE;
  long rss_before;
  gint64 t0, t1;
  guint64 expected = 2 * (guint64) n + 2;

  orrery_device_manager_add_device (devices, ORRERY_DEVICE (sim), NULL);
  orch = orrery_orchestrator_new (bus, devices);
  orrery_event_bus_subscribe (bus, counter, NULL, 0);

  c = build (shape, n);
  rss_before = peak_rss_kib ();
  t0 = g_get_monotonic_time ();
  orrery_orchestrator_run_async (orch, c, NULL, run_done, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
  t1 = g_get_monotonic_time ();

  printf ("{\"bench\":\"orchestrator\",\"shape\":\"%s\",\"tasks\":%u,"
          "\"ns_per_task\":%.0f,\"events\":%" G_GUINT64_FORMAT ",\"events_per_sec\":%.0f,"
          "\"events_expected\":%" G_GUINT64_FORMAT ",\"all_accounted\":%s,"
          "\"peak_rss_kib\":%ld,\"peak_rss_kib_before_run\":%ld,\"peak_rss_bytes_per_task\":%.0f}\n",
          shape, n, (t1 - t0) * 1000.0 / n, counted, counted * 1e6 / (t1 - t0),
          expected, counted == expected ? "true" : "false",
          peak_rss_kib (), rss_before, peak_rss_kib () * 1024.0 / n);
  fflush (stdout);
}

static void
bench_targeted (guint n,
                guint n_devices)
{
  g_autoptr(OrreryEventBus) bus = orrery_event_bus_new ();
  g_autoptr(OrreryDeviceManager) devices = orrery_device_manager_new ();
  g_autoptr(OrreryOrchestrator) orch = NULL;
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("targeted", NULL);
  gboolean done = FALSE;
  gint64 t0, t1;
  char id[32];

  for (guint d = 0; d < n_devices; d++)
    {
      g_autoptr(OrrerySimulatedDevice) sim = orrery_simulated_device_new (d == 0 ? "sim" : "other",
                                                                          NULL, 8);

      orrery_device_manager_add_device (devices, ORRERY_DEVICE (sim), NULL);
    }
  orch = orrery_orchestrator_new (bus, devices);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(OrreryTask) t = NULL;

      g_snprintf (id, sizeof id, "t%07u", i);
      t = orrery_task_new (id, NULL);
      orrery_task_set_target_device_id (t, "sim");
      orrery_constellation_add_task (c, t, NULL);
    }
  t0 = g_get_monotonic_time ();
  orrery_orchestrator_run_async (orch, c, NULL, run_done, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
  t1 = g_get_monotonic_time ();
  printf ("{\"bench\":\"dispatch-targeted\",\"tasks\":%u,\"devices\":%u,"
          "\"seconds\":%.3f,\"ns_per_task\":%.0f}\n",
          n, n_devices, (t1 - t0) / 1e6, (t1 - t0) * 1000.0 / n);
  fflush (stdout);
}

int
main (int    argc,
      char **argv)
{
  const char *shapes[] = { "independent", "chain", "layered" };
  guint max = argc > 1 ? (guint) atoi (argv[1]) : 1000000;
  guint targeted = argc > 2 ? (guint) atoi (argv[2]) : 20000;

  for (guint n = 10000; n <= max; n *= 10)
    for (gsize s = 0; s < G_N_ELEMENTS (shapes); s++)
      {
        pid_t pid = fork ();

        if (pid == 0)
          {
            bench_case (shapes[s], n);
            _exit (0);
          }
        waitpid (pid, NULL, 0);
      }

  for (guint d = 1; d <= 2 && targeted > 0; d++)
    {
      pid_t pid = fork ();

      if (pid == 0)
        {
          bench_targeted (targeted, d);
          _exit (0);
        }
      waitpid (pid, NULL, 0);
    }
  return 0;
}
