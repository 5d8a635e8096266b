/* bench-isolation.c: the cost of delivering one event to a plugin in
 * process and to the same plugin isolated (`Isolation=process`), for a
 * sync and a queued observer, in one run. One JSON object a line.
 *
 * Sync: publish() returns once the observer handled the event (isolated:
 * a round trip to the helper). Queued: from the first publish to the
 * moment the plugin has handled them all (isolated: batches on the wire,
 * the helper's acknowledgements, its shutdown answered).
 *
 * Wall time per event, and CPU time per event (user and system, of this
 * process and of the helper once reaped): on a loaded machine the wall
 * time of a round trip is mostly waiting to be scheduled, the CPU time is
 * what the delivery itself costs.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <orrery.h>

#include "plugins/fixture-util.h"

/* CPU seconds so far, of this process and its reaped children. */
static double
cpu_now (void)
{
  struct rusage self, children;

  getrusage (RUSAGE_SELF, &self);
  getrusage (RUSAGE_CHILDREN, &children);
  return self.ru_utime.tv_sec + self.ru_stime.tv_sec + children.ru_utime.tv_sec +
         children.ru_stime.tv_sec +
         (self.ru_utime.tv_usec + self.ru_stime.tv_usec + children.ru_utime.tv_usec +
          children.ru_stime.tv_usec) / 1e6;
}

/* Wall µs per event; *@cpu_us: CPU µs per event. */
static double
run_one (const char *dir,
         gboolean    isolated,
         const char *delivery,
         guint       n,
         double     *cpu_us)
{
  double cpu_start;
  g_autoptr(OrreryEventBus) bus = orrery_event_bus_new ();
  g_autoptr(OrreryConfig) config = orrery_config_new ();
  g_autoptr(OrreryPluginEngine) engine = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start, end;

  orrery_config_set_override (config, "Host", "AutoEnable", "false");
  orrery_config_set_override (config, "Plugin faulty", "Delivery", delivery);
  orrery_config_set_override (config, "Plugin faulty", "QueueLimit", "1000000");
  if (isolated)
    orrery_config_set_override (config, "Plugin faulty", "Isolation", "process");
  engine = orrery_plugin_engine_new (bus, config);
  orrery_plugin_engine_set_use_default_path (engine, FALSE);
  orrery_plugin_engine_add_search_path (engine, dir);
  orrery_plugin_engine_load_all (engine);
  if (!orrery_plugin_engine_enable (engine, "faulty", &error))
    g_error ("%s", error->message);

  cpu_start = cpu_now ();
  start = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(OrreryEvent) event =
        orrery_event_new_task (ORRERY_EVENT_TASK_COMPLETED, "bench", "task-0042",
                               ORRERY_TASK_STATUS_COMPLETED);

      orrery_event_bus_publish (bus, event);
    }
  while (g_main_context_iteration (NULL, FALSE))
    ;
  /* Isolated: returns once the helper answered its shutdown, after every
   * batch before it. */
  orrery_plugin_engine_disable (engine, "faulty", NULL);
  end = g_get_monotonic_time ();
  *cpu_us = (cpu_now () - cpu_start) * 1e6 / n;
  return (double) (end - start) / n;
}

/* The helper's copy of a constellation of @n_tasks tasks: the first
 * event that carries it (written, sent, read back in the helper, then
 * delivered), against the next one (delivered alone). */
static void
run_copy (const char *dir,
          guint       n_tasks)
{
  g_autoptr(OrreryEventBus) bus = orrery_event_bus_new ();
  g_autoptr(OrreryConfig) config = orrery_config_new ();
  g_autoptr(OrreryPluginEngine) engine = NULL;
  g_autoptr(OrreryConstellation) c = NULL;
  g_autoptr(GError) error = NULL;
  GString *json = g_string_new ("{\"constellation_id\": \"copy\", \"tasks\": [");
  g_autofree char *text = NULL;
  gint64 t0, t1 = 0, t2;

  for (guint i = 0; i < n_tasks; i++)
    g_string_append_printf (json, "%s{\"task_id\": \"task-%06u\", \"name\": \"Task %u\", "
                            "\"task_data\": {\"duration_ms\": 0, \"command\": \"true\"}}",
                            i ? ", " : "", i, i);
  g_string_append (json, "], \"dependencies\": [");
  for (guint i = 1; i < n_tasks; i++)
    g_string_append_printf (json, "%s{\"from_task_id\": \"task-%06u\", \"to_task_id\": \"task-%06u\"}",
                            i > 1 ? ", " : "", i / 2, i);
  g_string_append (json, "]}");
  text = g_string_free (json, FALSE);
  c = orrery_constellation_new_from_data (text, -1, "bench", &error);
  if (c == NULL)
    g_error ("%s", error->message);

  orrery_config_set_override (config, "Host", "AutoEnable", "false");
  orrery_config_set_override (config, "Plugin faulty", "Isolation", "process");
  orrery_config_set_override (config, "Plugin faulty", "DeadlineMs", "600000");
  engine = orrery_plugin_engine_new (bus, config);
  orrery_plugin_engine_set_use_default_path (engine, FALSE);
  orrery_plugin_engine_add_search_path (engine, dir);
  orrery_plugin_engine_load_all (engine);
  if (!orrery_plugin_engine_enable (engine, "faulty", &error))
    g_error ("%s", error->message);

  t0 = g_get_monotonic_time ();
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(OrreryEvent) event =
        orrery_event_new_task (ORRERY_EVENT_TASK_STARTED, "bench", "task-000000",
                               ORRERY_TASK_STATUS_RUNNING);

      orrery_event_set_constellation (event, c);
      orrery_event_bus_publish (bus, event);
      if (i == 0)
        t1 = g_get_monotonic_time ();
    }
  t2 = g_get_monotonic_time ();
  orrery_plugin_engine_disable (engine, "faulty", NULL);
  printf ("{\"bench\":\"isolation-copy\",\"tasks\":%u,\"first_event_ms\":%.1f,"
          "\"next_event_us\":%.1f}\n", n_tasks, (t1 - t0) / 1000.0, (double) (t2 - t1));
  fflush (stdout);
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *dir = fixture_tmpdir ();
  g_autofree char *installed = fixture_install (dir, "faulty", NULL);
  const char *modes[] = { "sync", "queued" };
  guint n = argc > 1 ? (guint) g_ascii_strtoull (argv[1], NULL, 10) : 20000;

  signal (SIGPIPE, SIG_IGN);
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  for (guint m = 0; m < G_N_ELEMENTS (modes); m++)
    {
      double in_cpu, iso_cpu;
      double in_process = run_one (dir, FALSE, modes[m], n, &in_cpu);
      double isolated = run_one (dir, TRUE, modes[m], n, &iso_cpu);

      printf ("{\"bench\":\"isolation\",\"delivery\":\"%s\",\"events\":%u,"
              "\"in_process_us_per_event\":%.3f,\"isolated_us_per_event\":%.3f,"
              "\"ratio\":%.1f,\"in_process_cpu_us_per_event\":%.3f,"
              "\"isolated_cpu_us_per_event\":%.3f}\n", modes[m], n, in_process, isolated,
              isolated / in_process, in_cpu, iso_cpu);
      fflush (stdout);
    }
  /* BENCH_ISOLATION_COPY=0: the deliveries only. */
  if (g_strcmp0 (g_getenv ("BENCH_ISOLATION_COPY"), "0") != 0)
    {
      run_copy (dir, 20000);
      run_copy (dir, 100000);
    }
  fixture_rmrf (dir);
  return 0;
}
