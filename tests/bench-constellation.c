/* bench-constellation.c: load, validate and drain constellations of 10k,
 * 100k and 1M tasks in three shapes, one JSON object per line.
 *
 * Shapes: independent (no edges), chain (each task after the previous),
 * layered (layers of 1000 tasks, each task after 4 tasks of the layer
 * before: fan-in). Each case runs in its own child process so that peak
 * RSS is per case:
 *
 * - load: parse the JSON text (array form) and build the constellation
 * - validate: orrery_constellation_validate() (Kahn, cycle check)
 * - layers: orrery_constellation_get_layers() (what the visualizer draws
 *   and writes as DOT), in milliseconds for the whole graph
 * - drain: mark every task started then completed in topological order,
 *   following the newly ready tasks returned by each completion
 * - peak_rss_bytes_per_task: peak RSS of the loading child (JSON text and
 *   json-glib tree included) divided by the task count
 * - model_bytes_per_task: RSS growth of building the same graph through
 *   the API, without JSON, divided by the task count
 *
 * ORRERY_BENCH_SIZES=10000,100000 restricts the sizes.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <orrery.h>

#define LAYER_WIDTH 1000
#define FAN_IN 4

typedef enum { SHAPE_INDEPENDENT, SHAPE_CHAIN, SHAPE_LAYERED } Shape;
static const char *const shape_names[] = { "independent", "chain", "layered" };

/* Calls @edge for each edge of the shape. */
static void
for_each_edge (Shape  shape,
               guint  n,
               void (*edge) (guint from, guint to, gpointer data),
               gpointer data)
{
  for (guint i = 0; i < n; i++)
    {
      if (shape == SHAPE_CHAIN && i > 0)
        edge (i - 1, i, data);
      else if (shape == SHAPE_LAYERED && i >= LAYER_WIDTH)
        {
          guint layer_start = (i / LAYER_WIDTH - 1) * LAYER_WIDTH;

          for (guint k = 0; k < FAN_IN; k++)
            edge (layer_start + (i * 7 + k * 251) % LAYER_WIDTH, i, data);
        }
    }
}

static void
json_edge (guint from, guint to, gpointer data)
{
  GString *s = data;
  g_string_append_printf (s, "{\"from_task_id\":\"t%07u\",\"to_task_id\":\"t%07u\",\"dependency_type\":\"%s\"},",
                          from, to, (from + to) % 3 ? "unconditional" : "success_only");
}

static GString *
make_json (Shape shape,
           guint n)
{
  GString *s = g_string_sized_new (n * 80);

  g_string_append (s, "{\"constellation_id\":\"bench\",\"tasks\":[");
  for (guint i = 0; i < n; i++)
    g_string_append_printf (s, "%s{\"task_id\":\"t%07u\",\"priority\":%u}", i ? "," : "", i, 1 + i % 4);
  g_string_append (s, "],\"dependencies\":[");
  for_each_edge (shape, n, json_edge, s);
  if (s->str[s->len - 1] == ',')
    g_string_truncate (s, s->len - 1);
  g_string_append (s, "]}");
  return s;
}

static void
api_edge (guint from, guint to, gpointer data)
{
  char a[16], b[16];

  g_snprintf (a, sizeof a, "t%07u", from);
  g_snprintf (b, sizeof b, "t%07u", to);
  orrery_constellation_add_dependency (data, a, b, (from + to) % 3 ? ORRERY_DEPENDENCY_UNCONDITIONAL
                                                                   : ORRERY_DEPENDENCY_SUCCESS_ONLY, NULL, NULL);
}

static long
current_rss_bytes (void)
{
  long pages = 0, resident = 0;
  FILE *f = fopen ("/proc/self/statm", "r");

  if (f == NULL)
    return 0;
  if (fscanf (f, "%ld %ld", &pages, &resident) != 2)
    resident = 0;
  fclose (f);
  return resident * sysconf (_SC_PAGESIZE);
}

static void
run_case (Shape shape,
          guint n)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryConstellation) c = NULL;
  g_autoptr(GPtrArray) queue = NULL;
  GString *json;
  gint64 t0, t_load, t_validate, t_layers, t_drain, t_build;
  struct rusage ru;
  guint done = 0;
  long rss0, rss1;

  /* The model alone, built through the API. */
  rss0 = current_rss_bytes ();
  t0 = g_get_monotonic_time ();
  {
    g_autoptr(OrreryConstellation) m = orrery_constellation_new ("model", NULL);

    for (guint i = 0; i < n; i++)
      {
        char id[16];
        OrreryTask *t;

        g_snprintf (id, sizeof id, "t%07u", i);
        t = orrery_task_new (id, NULL);
        orrery_constellation_add_task (m, t, NULL);
        g_object_unref (t);
      }
    for_each_edge (shape, n, api_edge, m);
    t_build = g_get_monotonic_time () - t0;
    rss1 = current_rss_bytes ();
  }

  json = make_json (shape, n);
  t0 = g_get_monotonic_time ();
  c = orrery_constellation_new_from_data (json->str, json->len, "bench", &error);
  t_load = g_get_monotonic_time () - t0;
  g_string_free (json, TRUE);
  if (c == NULL)
    g_error ("load: %s", error->message);

  t0 = g_get_monotonic_time ();
  if (!orrery_constellation_validate (c, &error))
    g_error ("validate: %s", error->message);
  t_validate = g_get_monotonic_time () - t0;

  t0 = g_get_monotonic_time ();
  {
    g_autoptr(GVariant) layers = orrery_constellation_get_layers (c, &error);

    if (layers == NULL)
      g_error ("layers: %s", error->message);
  }
  t_layers = g_get_monotonic_time () - t0;

  t0 = g_get_monotonic_time ();
  queue = orrery_constellation_get_ready_tasks (c);
  for (guint qi = 0; qi < queue->len; qi++)
    {
      const char *id = orrery_task_get_id (queue->pdata[qi]);
      GPtrArray *ready;

      if (!orrery_constellation_mark_task_started (c, id, &error))
        g_error ("start %s: %s", id, error->message);
      ready = orrery_constellation_mark_task_completed (c, id, TRUE, NULL, NULL, NULL, &error);
      if (ready == NULL)
        g_error ("complete %s: %s", id, error->message);
      for (guint k = 0; k < ready->len; k++)
        g_ptr_array_add (queue, ready->pdata[k]);
      g_ptr_array_unref (ready);
      done++;
    }
  t_drain = g_get_monotonic_time () - t0;
  if (done != n || !orrery_constellation_is_finished (c))
    g_error ("drained %u of %u tasks", done, n);

  getrusage (RUSAGE_SELF, &ru);
  printf ("{\"bench\":\"constellation\",\"size\":%u,\"shape\":\"%s\",\"dependencies\":%u,"
          "\"build_ns_per_task\":%.0f,\"load_ns_per_task\":%.0f,\"validate_ns_per_task\":%.1f,"
          "\"layers_ms\":%.1f,\"drain_ns_per_task\":%.1f,\"model_bytes_per_task\":%.0f,\"peak_rss_bytes_per_task\":%.0f}\n",
          n, shape_names[shape], orrery_constellation_get_n_dependencies (c),
          t_build * 1000.0 / n, t_load * 1000.0 / n, t_validate * 1000.0 / n, t_layers / 1000.0, t_drain * 1000.0 / n,
          (double) (rss1 - rss0) / n, ru.ru_maxrss * 1024.0 / n);
  fflush (stdout);
}

int
main (int    argc,
      char **argv)
{
  const char *env = g_getenv ("ORRERY_BENCH_SIZES");
  g_auto(GStrv) sizes = g_strsplit (env ? env : "10000,100000,1000000", ",", -1);
  int failed = 0;

  for (guint s = 0; sizes[s]; s++)
    for (Shape shape = SHAPE_INDEPENDENT; shape <= SHAPE_LAYERED; shape++)
      {
        guint n = (guint) g_ascii_strtoull (sizes[s], NULL, 10);
        pid_t pid = fork ();
        int status = 0;

        if (pid == 0)
          {
            run_case (shape, n);
            _exit (0);
          }
        waitpid (pid, &status, 0);
        if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
          {
            fprintf (stderr, "bench-constellation: %s/%u failed\n", shape_names[shape], n);
            failed = 1;
          }
      }
  return failed;
}
