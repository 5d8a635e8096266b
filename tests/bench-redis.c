/* bench-redis.c: tasks through Redis Streams and real workers.
 *
 * Starts its own redis-server (unix socket, no persistence) and, for 1, 2
 * and 4 workers (real orrery-redis-worker processes, --simulated), runs
 * 10k zero-duration tasks through a redis device: tasks per second, the
 * overhead per task against the in-process simulated device measured in
 * the same run, and the latency from a task-completed to the next
 * task-started (p50/p99) with the device's queue kept full. A chain of 500
 * tasks then gives the round trip of one task (host -> Redis -> worker ->
 * Redis -> host, p50/p99), which is the dispatch latency a dependent task
 * sees. One JSON object per line; nothing is asserted.
 *
 * ORRERY_BENCH_REDIS_TASKS overrides the 10k.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <orrery.h>

#include "redis-device.h"

typedef struct
{
  GArray  *completed_at;   /* gint64, per task-completed */
  GArray  *gaps;           /* gint64: completed -> next started */
  gint64   last_completed;
} Timing;

static gboolean
on_event (OrreryEvent  *event,
          gpointer      user_data,
          GError      **error)
{
  Timing *t = user_data;
  gint64 now = g_get_monotonic_time ();

  switch (orrery_event_get_event_type (event))
    {
    case ORRERY_EVENT_TASK_COMPLETED:
      g_array_append_val (t->completed_at, now);
      t->last_completed = now;
      break;
    case ORRERY_EVENT_TASK_STARTED:
      if (t->last_completed > 0)
        {
          gint64 gap = now - t->last_completed;

          g_array_append_val (t->gaps, gap);
          t->last_completed = 0;
        }
      break;
    default:
      break;
    }
  return TRUE;
}

static int
cmp_i64 (gconstpointer a,
         gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

static double
percentile (GArray *values,
            double  p)
{
  if (values->len == 0)
    return 0;
  g_array_sort (values, cmp_i64);
  return g_array_index (values, gint64, MIN ((guint) (p * values->len), values->len - 1));
}

static OrreryConstellation *
build (guint    n,
       gboolean chain)
{
  OrreryConstellation *c = orrery_constellation_new (chain ? "chain" : "wide", NULL);
  char id[32], prev[32];

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(OrreryTask) t = NULL;

      g_snprintf (id, sizeof id, "t%07u", i);
      t = orrery_task_new (id, NULL);
      g_assert_true (orrery_constellation_add_task (c, t, NULL));
      if (chain && i > 0)
        {
          g_snprintf (prev, sizeof prev, "t%07u", i - 1);
          g_assert_true (orrery_constellation_add_dependency (c, prev, id,
                                                              ORRERY_DEPENDENCY_SUCCESS_ONLY,
                                                              NULL, NULL));
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

/* Runs @c on @device; returns the wall time in µs. */
static gint64
run_on (OrreryDevice        *device,
        OrreryConstellation *c,
        Timing              *timing)
{
  g_autoptr(OrreryEventBus) bus = orrery_event_bus_new ();
  g_autoptr(OrreryDeviceManager) devices = orrery_device_manager_new ();
  g_autoptr(OrreryOrchestrator) orch = NULL;
  g_autoptr(OrreryObserver) obs = orrery_func_observer_new ("timing", on_event, timing, NULL);
  gboolean done = FALSE;
  gint64 t0;

  orrery_device_manager_add_device (devices, device, NULL);
  orch = orrery_orchestrator_new (bus, devices);
  orrery_event_bus_subscribe (bus, obs, NULL, 0);
  t0 = g_get_monotonic_time ();
  orrery_orchestrator_run_async (orch, c, NULL, run_done, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
  return g_get_monotonic_time () - t0;
}

static GPid
spawn (char **argv)
{
  g_autoptr(GError) error = NULL;
  GPid pid;

  if (!g_spawn_async (NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                      G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &pid, &error))
    g_error ("cannot start %s: %s", argv[0], error->message);
  return pid;
}

static void
stop (GPid pid)
{
  kill (pid, SIGTERM);
  waitpid (pid, NULL, 0);
}

static gboolean
wait_up (RedisPoolDevice *device)
{
  /* Until the device's links are up (a benchmark may wait). */
  for (int i = 0; i < 500; i++)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (10000);
      if (orrery_device_get_status (ORRERY_DEVICE (device)) != ORRERY_DEVICE_STATUS_OFFLINE &&
          i > 20)
        return TRUE;
    }
  return FALSE;
}

int
main (int    argc,
      char **argv)
{
  const char *root = g_getenv ("ORRERY_BUILD_ROOT");
  const char *n_env = g_getenv ("ORRERY_BENCH_REDIS_TASKS");
  guint n = n_env ? (guint) atoi (n_env) : 10000;
  g_autofree char *dir = g_dir_make_tmp ("orrery-bench-redis-XXXXXX", NULL);
  g_autofree char *sock = g_build_filename (dir, "redis.sock", NULL);
  g_autofree char *url_text = g_strdup_printf ("redis+unix://%s", sock);
  g_autofree char *worker = g_build_filename (root ? root : ".", "plugins", "redis",
                                              "orrery-redis-worker", NULL);
  g_autoptr(RedisUrl) url = redis_url_parse (url_text, NULL);
  char *redis_argv[] = { "redis-server", "--port", "0", "--unixsocket", sock, "--save", "",
                         "--appendonly", "no", "--dir", dir, NULL };
  double sim_ns;
  GPid redis;
  const guint counts[] = { 1, 2, 4 };

  if (!g_find_program_in_path ("redis-server"))
    {
      printf ("{\"bench\":\"redis\",\"skipped\":\"redis-server not found\"}\n");
      return 0;
    }
  redis = spawn (redis_argv);
  for (int i = 0; i < 500 && !g_file_test (sock, G_FILE_TEST_EXISTS); i++)
    g_usleep (10000);

  {
    g_autoptr(OrrerySimulatedDevice) sim = orrery_simulated_device_new ("sim", NULL, 128);
    g_autoptr(OrreryConstellation) c = build (n, FALSE);
    Timing t = { g_array_new (FALSE, FALSE, sizeof (gint64)),
                 g_array_new (FALSE, FALSE, sizeof (gint64)), 0 };
    gint64 us = run_on (ORRERY_DEVICE (sim), c, &t);

    sim_ns = us * 1000.0 / n;
    printf ("{\"bench\":\"redis\",\"device\":\"simulated-in-process\",\"tasks\":%u,"
            "\"tasks_per_sec\":%.0f,\"ns_per_task\":%.0f}\n", n, n * 1e6 / us, sim_ns);
    fflush (stdout);
    g_array_unref (t.completed_at);
    g_array_unref (t.gaps);
  }

  for (guint k = 0; k < G_N_ELEMENTS (counts); k++)
    {
      g_autofree char *pool = g_strdup_printf ("bench%u", counts[k]);
      RedisPoolSettings settings = { 10000, 3, 60000 };
      g_autoptr(RedisPoolDevice) device = redis_pool_device_new ("pool", NULL, 128, NULL, url,
                                                                 pool, &settings, NULL);
      GPid workers[4];
      Timing t = { g_array_new (FALSE, FALSE, sizeof (gint64)),
                   g_array_new (FALSE, FALSE, sizeof (gint64)), 0 };
      Timing tc = { g_array_new (FALSE, FALSE, sizeof (gint64)),
                    g_array_new (FALSE, FALSE, sizeof (gint64)), 0 };
      g_autoptr(OrreryConstellation) c = build (n, FALSE);
      g_autoptr(OrreryConstellation) chain = build (500, TRUE);
      g_autoptr(GArray) trips = g_array_new (FALSE, FALSE, sizeof (gint64));
      gint64 us, chain_us;

      for (guint w = 0; w < counts[k]; w++)
        {
          g_autofree char *id = g_strdup_printf ("w%u", w);
          char *wargv[] = { worker, url_text, "--pool", pool, "--id", id, "-j", "64",
                            "--simulated", NULL };

          workers[w] = spawn (wargv);
        }
      wait_up (device);
      us = run_on (ORRERY_DEVICE (device), c, &t);
      chain_us = run_on (ORRERY_DEVICE (device), chain, &tc);
      for (guint i = 1; i < tc.completed_at->len; i++)
        {
          gint64 d = g_array_index (tc.completed_at, gint64, i) -
                     g_array_index (tc.completed_at, gint64, i - 1);

          g_array_append_val (trips, d);
        }
      printf ("{\"bench\":\"redis\",\"workers\":%u,\"tasks\":%u,\"tasks_per_sec\":%.0f,"
              "\"ns_per_task\":%.0f,\"overhead_ns_per_task_vs_simulated\":%.0f,"
              "\"completed_to_next_started_us_p50\":%.0f,"
              "\"completed_to_next_started_us_p99\":%.0f,"
              "\"chain_tasks\":500,\"chain_round_trip_us_p50\":%.0f,"
              "\"chain_round_trip_us_p99\":%.0f,\"chain_tasks_per_sec\":%.0f}\n",
              counts[k], n, n * 1e6 / us, us * 1000.0 / n, us * 1000.0 / n - sim_ns,
              percentile (t.gaps, 0.50), percentile (t.gaps, 0.99),
              percentile (trips, 0.50), percentile (trips, 0.99), 500 * 1e6 / chain_us);
      fflush (stdout);
      for (guint w = 0; w < counts[k]; w++)
        stop (workers[w]);
      g_array_unref (t.completed_at);
      g_array_unref (t.gaps);
      g_array_unref (tc.completed_at);
      g_array_unref (tc.gaps);
    }
  stop (redis);
  {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", dir);

    if (system (cmd) != 0)
      g_printerr ("cannot remove %s\n", dir);
  }
  return 0;
}
