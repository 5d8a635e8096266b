/* bench-cancel.c: how long a cancel takes under load.
 *
 * Runs 100k tasks of zero duration on a simulated device (the busiest the
 * main loop gets: a completion every iteration) and, a moment into the run,
 * cancels it from another thread, as the host's signal thread does on
 * SIGINT, SIGTERM or SIGHUP. Measures, per run:
 *
 * - effect_ms: from the cancel to the first task-cancelled event (dispatch
 *   has stopped, running tasks are being cancelled)
 * - cancelled_ms: from the cancel to constellation-cancelled (every task
 *   not finished has its task-cancelled event: the cost grows with the
 *   tasks left, not with the load)
 * - ended_ms: from the cancel to the run's end (its callback): the goal,
 *   p99 < 100 ms
 * - completed_after: tasks that completed after the cancel (their devices
 *   had finished them in the same main loop iteration)
 *
 * and prints one JSON object per run and one with p50/p99 over the runs.
 *
 * Usage: bench-cancel [TASKS [RUNS]]  (default 100000, 9)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <orrery.h>

#include "bench-stats.h"

typedef struct
{
  GCancellable *cancellable;
  guint         delay_ms;
  gint64        cancel_us;       /* atomic */
  gint64        effect_us;
  gint64        cancelled_us;
  gint64        ended_us;        /* the run's callback */
  guint         completed_after;
  gboolean      done;
} Run;

static gpointer
cancel_thread (gpointer data)
{
  Run *run = data;

  g_usleep (run->delay_ms * 1000);
  g_atomic_int_set ((gint *) &run->completed_after, 0);
  run->cancel_us = g_get_monotonic_time ();
  g_cancellable_cancel (run->cancellable);
  return NULL;
}

static gboolean
on_event (OrreryEvent  *event,
          gpointer      user_data,
          GError      **error)
{
  Run *run = user_data;
  gint64 cancel_us = g_atomic_pointer_get (&run->cancel_us);
  OrreryEventType type = orrery_event_get_event_type (event);

  if (cancel_us == 0)
    return TRUE;
  if (type == ORRERY_EVENT_TASK_COMPLETED)
    run->completed_after++;
  else if (type == ORRERY_EVENT_TASK_CANCELLED && run->effect_us == 0)
    run->effect_us = g_get_monotonic_time ();
  else if (type == ORRERY_EVENT_CONSTELLATION_CANCELLED)
    run->cancelled_us = g_get_monotonic_time ();
  return TRUE;
}

static void
run_done (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  Run *run = user_data;

  orrery_orchestrator_run_finish (ORRERY_ORCHESTRATOR (source), result, NULL);
  run->ended_us = g_get_monotonic_time ();
  run->done = TRUE;
}

static double
percentile (double *v,
            guint   n,
            double  p)
{
  guint i = (guint) (p * (n - 1) + 0.5);

  return v[MIN (i, n - 1)];
}

int
main (int    argc,
      char **argv)
{
  guint n_tasks = argc > 1 ? (guint) atoi (argv[1]) : 100000;
  guint n_runs = argc > 2 ? (guint) atoi (argv[2]) : 9;
  g_autofree double *effect = g_new0 (double, n_runs);
  g_autofree double *cancelled = g_new0 (double, n_runs);
  g_autofree double *ended = g_new0 (double, n_runs);
  guint n_ok = 0;

  for (guint r = 0; r < n_runs; r++)
    {
      g_autoptr(OrreryEventBus) bus = orrery_event_bus_new ();
      g_autoptr(OrreryDeviceManager) devices = orrery_device_manager_new ();
      g_autoptr(OrrerySimulatedDevice) sim = orrery_simulated_device_new ("sim", NULL, 8);
      g_autoptr(OrreryOrchestrator) orch = NULL;
      g_autoptr(OrreryConstellation) c = orrery_constellation_new ("cancel", NULL);
      g_autoptr(OrreryObserver) obs = NULL;
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      GThread *thread;
      Run run = { 0 };
      guint completed, n_cancelled;

      for (guint i = 0; i < n_tasks; i++)
        {
          char id[16];
          g_autoptr(OrreryTask) t = NULL;

          g_snprintf (id, sizeof id, "t%07u", i);
          t = orrery_task_new (id, NULL);
          orrery_constellation_add_task (c, t, NULL);
        }
      orrery_device_manager_add_device (devices, ORRERY_DEVICE (sim), NULL);
      orch = orrery_orchestrator_new (bus, devices);
      obs = orrery_func_observer_new ("latency", on_event, &run, NULL);
      orrery_event_bus_subscribe (bus, obs, NULL, 0);

      run.cancellable = cancellable;
      /* Spread over the run's first part: 100k tasks take about a second. */
      run.delay_ms = 50 + 40 * r;
      orrery_orchestrator_run_async (orch, c, cancellable, run_done, &run);
      thread = g_thread_new ("cancel", cancel_thread, &run);
      while (!run.done)
        g_main_context_iteration (NULL, TRUE);
      g_thread_join (thread);

      completed = orrery_constellation_count_status (c, ORRERY_TASK_STATUS_COMPLETED);
      n_cancelled = orrery_constellation_count_status (c, ORRERY_TASK_STATUS_CANCELLED);
      if (run.cancelled_us == 0)
        {
          /* The run ended before the cancel. */
          printf ("{\"bench\":\"cancel\",\"tasks\":%u,\"run\":%u,\"delay_ms\":%u,"
                  "\"ended_before_cancel\":true}\n", n_tasks, r, run.delay_ms);
          continue;
        }
      effect[n_ok] = ((run.effect_us ? run.effect_us : run.cancelled_us) - run.cancel_us) / 1000.0;
      cancelled[n_ok] = (run.cancelled_us - run.cancel_us) / 1000.0;
      ended[n_ok] = (run.ended_us - run.cancel_us) / 1000.0;
      printf ("{\"bench\":\"cancel\",\"tasks\":%u,\"run\":%u,\"delay_ms\":%u,"
              "\"effect_ms\":%.3f,\"cancelled_ms\":%.3f,\"ended_ms\":%.3f,\"completed\":%u,"
              "\"completed_after\":%u,\"cancelled\":%u}\n",
              n_tasks, r, run.delay_ms, effect[n_ok], cancelled[n_ok], ended[n_ok], completed,
              run.completed_after, n_cancelled);
      fflush (stdout);
      n_ok++;
    }

  if (n_ok > 0)
    {
      qsort (effect, n_ok, sizeof (double), bench_compare_double);
      qsort (cancelled, n_ok, sizeof (double), bench_compare_double);
      qsort (ended, n_ok, sizeof (double), bench_compare_double);
      printf ("{\"bench\":\"cancel-summary\",\"tasks\":%u,\"runs\":%u,"
              "\"effect_ms_p50\":%.3f,\"effect_ms_p99\":%.3f,"
              "\"cancelled_ms_p50\":%.3f,\"cancelled_ms_p99\":%.3f,"
              "\"ended_ms_p50\":%.3f,\"ended_ms_p99\":%.3f}\n",
              n_tasks, n_ok, percentile (effect, n_ok, 0.5), percentile (effect, n_ok, 0.99),
              percentile (cancelled, n_ok, 0.5), percentile (cancelled, n_ok, 0.99),
              percentile (ended, n_ok, 0.5), percentile (ended, n_ok, 0.99));
    }
  return 0;
}
