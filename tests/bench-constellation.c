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
 * Then the load of a file against Python's `json.load` of the same file,
 * in two formats, for 100k and 1M tasks (ORRERY_BENCH_FILE_SIZES):
 *
 * - `simulated`: Orrery's short form, an array of tasks of a simulated
 *   device, `{"task_id": ..., "device_type": "simulated", "task_data":
 *   {"duration_ms": 0}}`, no edges
 * - `ufo`: what UFO Galaxy's `TaskConstellation.to_json` writes, tasks
 *   and dependency lines keyed by id, every member of a task written, a
 *   chain (each task's `dependencies` and `dependents` lists filled)
 *
 * Each load runs in a fresh process (this program again, or python3) that
 * reports its wall time, its CPU time (user + system: the machine may be
 * shared, and a wall-clock ratio then measures the neighbours) and the
 * growth of its peak RSS (VmHWM) over its RSS before the load:
 * `orrery_s`, `json_load_s` and their `ratio`, the same in CPU time
 * (`cpu_ratio`; the goal: below 1 for simulated, below 1.5 for ufo), the
 * bytes per task of each (goal for simulated: below 400),
 * medians of ORRERY_BENCH_REPEAT runs (3; one at 1M). `orrery_preempted`
 * and `json_load_preempted`: the load's involuntary context switches
 * (median). The loads block on nothing (one voluntary switch, no major
 * fault: the file was just written, it is in the page cache), so a wall
 * time above the CPU time with many preemptions is time spent waiting for
 * a core that other processes held, and then `cpu_ratio` is the figure.
 *
 * `bench-constellation --write simulated|ufo N PATH` writes the file of
 * that format and size (bench-json-libs reads the same files).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <glib/gstdio.h>
#include <orrery.h>

#include "bench-stats.h"

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

/* ------------------------------------------------------------------------ */
/* Files against Python's json.load */

typedef enum { FORMAT_SIMULATED, FORMAT_UFO } Format;
static const char *const format_names[] = { "simulated", "ufo" };

static void
append_ufo_task (GString *s,
                 guint    i,
                 guint    n)
{
  g_string_append_printf (s, "\"t%07u\": {\"task_id\": \"t%07u\", \"name\": \"Task %u\", "
                          "\"description\": \"Step %u of the pipeline\", \"tips\": [], \"target_device_id\": null, "
                          "\"device_type\": \"simulated\", \"priority\": %u, \"status\": \"pending\", "
                          "\"result\": null, \"error\": null, \"timeout\": null, \"retry_count\": 0, "
                          "\"current_retry\": 0, \"task_data\": {\"duration_ms\": 0}, "
                          "\"created_at\": \"2025-01-01T10:00:00.123456\", \"execution_start_time\": null, "
                          "\"execution_end_time\": null, ",
                          i, i, i, i, 1 + i % 4);
  if (i > 0)
    g_string_append_printf (s, "\"dependencies\": [\"t%07u\"], ", i - 1);
  else
    g_string_append (s, "\"dependencies\": [], ");
  if (i + 1 < n)
    g_string_append_printf (s, "\"dependents\": [\"t%07u\"]}", i + 1);
  else
    g_string_append (s, "\"dependents\": []}");
}

static GString *
make_file_text (Format format,
                guint  n)
{
  GString *s = g_string_sized_new (n * (format == FORMAT_UFO ? 600 : 90));

  if (format == FORMAT_SIMULATED)
    {
      g_string_append (s, "{\"constellation_id\": \"simulated\", \"name\": \"simulated\", \"tasks\": [\n");
      for (guint i = 0; i < n; i++)
        g_string_append_printf (s, "%s{\"task_id\": \"t%07u\", \"device_type\": \"simulated\", "
                                "\"task_data\": {\"duration_ms\": 0}}", i ? ",\n" : "", i);
      g_string_append (s, "\n]}\n");
      return s;
    }
  g_string_append (s, "{\"constellation_id\": \"ufo\", \"name\": \"UFO Galaxy export\", \"state\": \"created\", "
                      "\"tasks\": {");
  for (guint i = 0; i < n; i++)
    {
      if (i)
        g_string_append (s, ", ");
      append_ufo_task (s, i, n);
    }
  g_string_append (s, "}, \"dependencies\": {");
  for (guint i = 1; i < n; i++)
    g_string_append_printf (s, "%s\"line-%u\": {\"line_id\": \"line-%u\", \"from_task_id\": \"t%07u\", "
                            "\"to_task_id\": \"t%07u\", \"dependency_type\": \"unconditional\", "
                            "\"condition_description\": \"\", \"is_satisfied\": false}",
                            i > 1 ? ", " : "", i, i, i - 1, i);
  g_string_append (s, "}, \"metadata\": {\"created_by\": \"bench\"}, \"created_at\": \"2025-01-01T10:00:00\"}\n");
  return s;
}

static long
status_kb (const char *field)
{
  g_autofree char *text = NULL;
  const char *p;

  if (!g_file_get_contents ("/proc/self/status", &text, NULL, NULL) || (p = strstr (text, field)) == NULL)
    return 0;
  return strtol (p + strlen (field) + 1, NULL, 10);
}

static gdouble
cpu_seconds (long *preempted)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  *preempted = ru.ru_nivcsw;
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* The child: loads @path, prints `SECONDS CPU_SECONDS PEAK_GROWTH_BYTES
 * PREEMPTIONS`. */
static int
load_child (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryConstellation) c = NULL;
  long rss0 = status_kb ("VmRSS:");
  long preempted0, preempted1;
  gdouble cpu0 = cpu_seconds (&preempted0);
  gint64 t0 = g_get_monotonic_time ();
  gint64 t1;
  gdouble cpu1;

  c = orrery_constellation_new_from_file (path, &error);
  if (c == NULL)
    {
      fprintf (stderr, "load: %s\n", error->message);
      return 1;
    }
  t1 = g_get_monotonic_time ();
  cpu1 = cpu_seconds (&preempted1);
  printf ("%.6f %.6f %ld %ld\n", (t1 - t0) / 1e6, cpu1 - cpu0, (status_kb ("VmHWM:") - rss0) * 1024,
          preempted1 - preempted0);
  return 0;
}

static const char python_load[] =
  "import json, resource, sys, time\n"
  "def cpu():\n"
  "    r = resource.getrusage(resource.RUSAGE_SELF)\n"
  "    return r.ru_utime + r.ru_stime, r.ru_nivcsw\n"
  "def kb(f):\n"
  "    for l in open('/proc/self/status'):\n"
  "        if l.startswith(f): return int(l.split()[1])\n"
  "rss0 = kb('VmRSS:')\n"
  "c0 = cpu()\n"
  "t0 = time.perf_counter()\n"
  "with open(sys.argv[1], 'rb') as f: doc = json.load(f)\n"
  "t1 = time.perf_counter()\n"
  "c1 = cpu()\n"
  "print('%.6f %.6f %d %d' % (t1 - t0, c1[0] - c0[0], (kb('VmHWM:') - rss0) * 1024, c1[1] - c0[1]))\n";

/* Runs @argv; the four figures it prints. */
static gboolean
measure (const char * const *argv,
         gdouble            *seconds,
         gdouble            *cpu,
         gdouble            *bytes,
         gdouble            *preempted)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status = 0;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, &error) ||
      !g_spawn_check_wait_status (status, NULL) || sscanf (out, "%lf %lf %lf %lf", seconds, cpu, bytes, preempted) != 4)
    {
      fprintf (stderr, "bench-constellation: %s failed: %s %s\n", argv[0], error ? error->message : "", err ? err : "");
      return FALSE;
    }
  return TRUE;
}

static int
file_case (const char *self,
           Format      format,
           guint       n)
{
  g_autofree char *dir = g_dir_make_tmp ("bench-constellation-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "constellation.json", NULL);
  const char *env = g_getenv ("ORRERY_BENCH_REPEAT");
  guint repeat = n >= 1000000 ? 1 : (env ? MAX (1, atoi (env)) : 3);
  gdouble o_s[16], o_c[16], o_b[16], o_v[16], p_s[16], p_c[16], p_b[16], p_v[16];
  GString *text = make_file_text (format, n);
  gsize size = text->len;
  int failed = 0;

  repeat = MIN (repeat, G_N_ELEMENTS (o_s));
  if (!g_file_set_contents (path, text->str, text->len, NULL))
    g_error ("cannot write %s", path);
  g_string_free (text, TRUE);
  for (guint r = 0; r < repeat && !failed; r++)
    {
      const char *const orrery_argv[] = { self, "--load", path, NULL };
      const char *const python_argv[] = { "/usr/bin/python3", "-c", python_load, path, NULL };

      if (!measure (orrery_argv, &o_s[r], &o_c[r], &o_b[r], &o_v[r]) ||
          !measure (python_argv, &p_s[r], &p_c[r], &p_b[r], &p_v[r]))
        failed = 1;
    }
  if (!failed)
    {
      gdouble os = bench_median (o_s, repeat), oc = bench_median (o_c, repeat), ob = bench_median (o_b, repeat);
      gdouble ps = bench_median (p_s, repeat), pc = bench_median (p_c, repeat), pb = bench_median (p_b, repeat);
      gdouble ov = bench_median (o_v, repeat), pv = bench_median (p_v, repeat);

      printf ("{\"bench\":\"constellation-file\",\"format\":\"%s\",\"size\":%u,\"file_bytes\":%" G_GSIZE_FORMAT ","
              "\"runs\":%u,\"orrery_s\":%.3f,\"json_load_s\":%.3f,\"ratio\":%.3f,"
              "\"orrery_cpu_s\":%.3f,\"json_load_cpu_s\":%.3f,\"cpu_ratio\":%.3f,\"ratio_goal\":%.1f,"
              "\"orrery_bytes_per_task\":%.0f,\"json_load_bytes_per_task\":%.0f,\"bytes_per_task_goal\":%s,"
              "\"orrery_preempted\":%.0f,\"json_load_preempted\":%.0f}\n",
              format_names[format], n, size, repeat, os, ps, os / ps, oc, pc, oc / pc,
              format == FORMAT_UFO ? 1.5 : 1.0,
              ob / n, pb / n, format == FORMAT_UFO ? "null" : "400", ov, pv);
      fflush (stdout);
    }
  g_unlink (path);
  g_rmdir (dir);
  return failed;
}

int
main (int    argc,
      char **argv)
{
  const char *env = g_getenv ("ORRERY_BENCH_SIZES");
  const char *file_env = g_getenv ("ORRERY_BENCH_FILE_SIZES");
  g_auto(GStrv) sizes = NULL;
  g_auto(GStrv) file_sizes = NULL;
  int failed = 0;

  if (argc == 3 && g_str_equal (argv[1], "--load"))
    return load_child (argv[2]);
  /* The files of the comparison, for bench-json-libs. */
  if (argc == 5 && g_str_equal (argv[1], "--write"))
    {
      GString *text = make_file_text (g_str_equal (argv[2], "ufo") ? FORMAT_UFO : FORMAT_SIMULATED,
                                      (guint) g_ascii_strtoull (argv[3], NULL, 10));
      gboolean ok = g_file_set_contents (argv[4], text->str, text->len, NULL);

      g_string_free (text, TRUE);
      return ok ? 0 : 1;
    }
  sizes = g_strsplit (env ? env : "10000,100000,1000000", ",", -1);
  file_sizes = g_strsplit (file_env ? file_env : "100000,1000000", ",", -1);
  for (guint s = 0; sizes[s] && *sizes[s]; s++)
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
  for (guint s = 0; file_sizes[s] && *file_sizes[s]; s++)
    for (Format format = FORMAT_SIMULATED; format <= FORMAT_UFO; format++)
      failed |= file_case (argv[0], format, (guint) g_ascii_strtoull (file_sizes[s], NULL, 10));
  return failed;
}
