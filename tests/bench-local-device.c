/* bench-local-device.c: what one local task costs, with and without a run
 * directory.
 *
 * Runs N tasks `true` (argv, no shell) on a local device, two at a time,
 * driving the device directly (no orchestrator, no bus): without a run
 * directory (environment, outputs file in a private temporary directory,
 * the sweep for escaped processes) and with one (plus the log files, the
 * outputs file and the process record in RUN_DIR/logs). The cases
 * alternate for 5 rounds; one JSON object per case with the median wall
 * time per task.
 *
 * Usage: bench-local-device [N]  (default 1000)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <orrery.h>

typedef struct
{
  OrreryDevice *device;
  OrreryTask   *task;
  guint         to_start;
  guint         running;
  guint         failed;
} Bench;

static void start_one (Bench *b);

static void
done_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Bench *b = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) res = NULL;

  if (!orrery_device_execute_finish (ORRERY_DEVICE (source), result, &res, &error))
    b->failed++;
  b->running--;
  if (b->to_start > 0)
    start_one (b);
}

static void
start_one (Bench *b)
{
  b->to_start--;
  b->running++;
  orrery_device_execute_async (b->device, b->task, NULL, done_cb, b);
}

static double
run_case (guint       n,
          const char *run_dir)
{
  g_autoptr(OrreryLocalDevice) device = orrery_local_device_new ("local", NULL, 2);
  g_autoptr(OrreryTask) task = orrery_task_new ("t", "t");
  Bench b = { ORRERY_DEVICE (device), task, n, 0, 0 };
  gint64 start;

  orrery_task_set_task_data (task, g_variant_new_parsed ("{'command': <['true']>}"));
  if (run_dir)
    orrery_base_device_set_run (ORRERY_BASE_DEVICE (device), "bench", run_dir);
  start = g_get_monotonic_time ();
  start_one (&b);
  start_one (&b);
  while (b.running > 0)
    g_main_context_iteration (NULL, TRUE);
  if (b.failed > 0)
    g_printerr ("bench-local-device: %u tasks failed\n", b.failed);
  return (g_get_monotonic_time () - start) / 1e6;
}

static int
compare (const void *a,
         const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

int
main (int   argc,
      char *argv[])
{
  guint n = argc > 1 ? (guint) atoi (argv[1]) : 1000;
  g_autofree char *run_dir = g_dir_make_tmp ("orrery-bench-XXXXXX", NULL);
  double plain[5], logged[5];
  g_autofree char *command = NULL;

  for (guint r = 0; r < 5; r++)
    {
      plain[r] = run_case (n, NULL);
      logged[r] = run_case (n, run_dir);
    }
  qsort (plain, 5, sizeof (double), compare);
  qsort (logged, 5, sizeof (double), compare);
  printf ("{\"bench\": \"local-device\", \"case\": \"no run directory\", \"tasks\": %u, "
          "\"median_s\": %.3f, \"ms_per_task\": %.3f}\n", n, plain[2], plain[2] * 1000 / n);
  printf ("{\"bench\": \"local-device\", \"case\": \"run directory\", \"tasks\": %u, "
          "\"median_s\": %.3f, \"ms_per_task\": %.3f, \"ratio\": %.2f}\n", n, logged[2],
          logged[2] * 1000 / n, logged[2] / plain[2]);
  command = g_strdup_printf ("rm -rf '%s'", run_dir);
  if (system (command) != 0)
    return 1;
  return 0;
}
