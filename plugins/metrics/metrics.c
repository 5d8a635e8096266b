/* metrics.c: the metrics plugin.
 *
 * Measures a run from its events: counts by event type, task durations
 * (per attempt on a device), queue wait (from ready to started), device
 * utilisation, makespan against the critical path, retries, events per
 * second, and each observer's handling time and failures as the bus reports
 * them. At the end of the run (the terminal constellation event) it writes
 * a JSON file and a Prometheus text exposition file, and prints a summary
 * table; optionally it serves the current metrics on an HTTP `/metrics`
 * endpoint on 127.0.0.1 (libsoup's SoupServer, with a connection cap,
 * timeouts and a Host check).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <glib/gstdio.h>
#include <gmodule.h>
#include <libsoup/soup.h>
#include <orrery.h>

#define DEFAULT_OUTPUT_DIR "orrery-output"

typedef struct
{
  gint64  ready_us;   /* when it last became ready; 0 when not waiting */
  gint64  start_us;   /* when its current attempt started; 0 when not running */
  char   *device;
} TaskRec;

typedef struct
{
  gint64  busy_us;
  guint   running;
  guint   slots;      /* most tasks at once seen on it */
  guint64 started;
  guint64 completed;
  guint64 failed;
  guint64 retried;
  guint64 cancelled;
} DevRec;

typedef struct
{
  guint64  failed;
  guint64  timed_out;
  guint64  dropped;
  char    *last_error;
} ObsFailures;

typedef struct
{
  char    *name;
  guint64  delivered;
  guint64  failed;
  guint64  dropped;
  guint64  timed_out;
  guint64  handling_ns;
} ObsStats;

typedef struct
{
  OrreryEventBus *bus;
  gulong          failed_handler;
  gboolean        timing_enabled_here;

  /* Configuration */
  char           *output_dir;
  char           *json_file;
  char           *prom_file;
  gboolean        summary;
  guint           http_port;
  char           *run_id;       /* the host's ([Host] RunId), nullable */

  /* The run */
  guint64         counts[ORRERY_EVENT_TYPE_COUNT];
  /* Tasks the run's end cancelled without a task-cancelled each (the
   * `bulk_cancelled` of its data). */
  guint64         bulk_cancelled;
  guint64         n_events;
  gint64          first_us;
  gint64          last_us;
  gint64          run_start_us;
  GHashTable     *tasks;        /* id -> TaskRec */
  GHashTable     *devices;      /* id -> DevRec */
  GHashTable     *obs_failures; /* observer name -> ObsFailures */
  GArray         *durations;    /* gdouble seconds, one per attempt */
  GArray         *waits;        /* gdouble seconds, one per start */
  guint64         retries;
  guint64         attempts;

  /* The end of the run */
  gboolean        finished;
  char           *constellation_id;
  char           *end_state;
  guint           total_tasks;
  gdouble         makespan;
  gdouble         critical_path;
  char           *critical_path_source;
  GPtrArray      *critical_path_tasks;
  gdouble         parallelism;
  guint           max_width;

  /* Output */
  char           *pending_summary;
  guint           summary_idle;
  GSocketService *service;      /* the listening socket */
  SoupServer     *server;       /* HTTP on the connections it accepts */
  GHashTable     *http_conns;   /* GSocket (weak) -> HttpConn */
  guint16         bound_port;
  guint           idle_timeout_s;
  guint           request_timeout_s;
  guint           max_connections;
  guint64         http_refused;
  guint64         http_timed_out;
  guint64         http_wrong_host;
} Metrics;

static void
task_rec_free (gpointer data)
{
  TaskRec *t = data;

  g_free (t->device);
  g_free (t);
}

static void
obs_failures_free (gpointer data)
{
  ObsFailures *o = data;

  g_free (o->last_error);
  g_free (o);
}

static void
obs_stats_free (gpointer data)
{
  ObsStats *o = data;

  g_free (o->name);
  g_free (o);
}

static void
metrics_reset (Metrics *m)
{
  memset (m->counts, 0, sizeof m->counts);
  m->bulk_cancelled = 0;
  m->n_events = 0;
  m->first_us = m->last_us = m->run_start_us = 0;
  g_hash_table_remove_all (m->tasks);
  g_hash_table_remove_all (m->devices);
  g_hash_table_remove_all (m->obs_failures);
  g_array_set_size (m->durations, 0);
  g_array_set_size (m->waits, 0);
  m->retries = m->attempts = 0;
  m->finished = FALSE;
  g_clear_pointer (&m->constellation_id, g_free);
  g_clear_pointer (&m->end_state, g_free);
  g_clear_pointer (&m->critical_path_source, g_free);
  g_clear_pointer (&m->critical_path_tasks, g_ptr_array_unref);
  m->total_tasks = 0;
  m->makespan = m->critical_path = m->parallelism = 0;
  m->max_width = 0;
}

static TaskRec *
task_rec (Metrics    *m,
          const char *id)
{
  TaskRec *t = g_hash_table_lookup (m->tasks, id);

  if (t == NULL)
    {
      t = g_new0 (TaskRec, 1);
      g_hash_table_insert (m->tasks, g_strdup (id), t);
    }
  return t;
}

static DevRec *
dev_rec (Metrics    *m,
         const char *id)
{
  DevRec *d;

  if (id == NULL)
    id = "";
  d = g_hash_table_lookup (m->devices, id);
  if (d == NULL)
    {
      d = g_new0 (DevRec, 1);
      g_hash_table_insert (m->devices, g_strdup (id), d);
    }
  return d;
}

static void
mark_ready (Metrics            *m,
            const char * const *ids,
            gint64              when,
            gboolean            keep_earlier)
{
  for (guint i = 0; ids != NULL && ids[i] != NULL; i++)
    {
      TaskRec *t = task_rec (m, ids[i]);

      if (t->start_us != 0)
        continue;
      if (keep_earlier && t->ready_us != 0)
        continue;
      t->ready_us = when;
    }
}

/* An attempt ended (completed, failed, retrying or cancelled while running). */
static void
end_attempt (Metrics  *m,
             TaskRec  *t,
             DevRec  **out_dev,
             gint64    when)
{
  *out_dev = NULL;
  if (t->start_us == 0)
    return;
  {
    gint64 d_us = MAX (when - t->start_us, 0);
    gdouble d = d_us / (gdouble) G_USEC_PER_SEC;
    DevRec *dev = dev_rec (m, t->device);

    g_array_append_val (m->durations, d);
    dev->busy_us += d_us;
    if (dev->running > 0)
      dev->running--;
    *out_dev = dev;
  }
  t->start_us = 0;
}

/* ------------------------------------------------------------------------ */
/* Statistics */

typedef struct
{
  guint   count;
  gdouble min, median, p95, max, sum, mean;
} Dist;

static gint
cmp_double (gconstpointer a,
            gconstpointer b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;

  return x < y ? -1 : x > y ? 1 : 0;
}

/* Linear interpolation between closest ranks. */
static gdouble
quantile (const gdouble *sorted,
          guint          n,
          gdouble        q)
{
  gdouble pos, frac;
  guint lo;

  if (n == 0)
    return 0;
  pos = q * (n - 1);
  lo = (guint) floor (pos);
  frac = pos - lo;
  if (lo + 1 >= n)
    return sorted[n - 1];
  return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

static Dist
distribution (GArray *values)
{
  Dist d = { 0 };
  g_autofree gdouble *v = NULL;

  d.count = values->len;
  if (d.count == 0)
    return d;
  v = g_memdup2 (values->data, sizeof (gdouble) * values->len);
  qsort (v, d.count, sizeof (gdouble), cmp_double);
  for (guint i = 0; i < d.count; i++)
    d.sum += v[i];
  d.min = v[0];
  d.max = v[d.count - 1];
  d.median = quantile (v, d.count, 0.5);
  d.p95 = quantile (v, d.count, 0.95);
  d.mean = d.sum / d.count;
  return d;
}

static gdouble
current_makespan (Metrics *m)
{
  if (m->finished)
    return m->makespan;
  if (m->run_start_us == 0)
    return 0;
  return (g_get_real_time () - m->run_start_us) / (gdouble) G_USEC_PER_SEC;
}

static gdouble
events_per_second (Metrics *m)
{
  gint64 span = m->last_us - m->first_us;

  if (span <= 0)
    return 0;
  return m->n_events / (span / (gdouble) G_USEC_PER_SEC);
}

static gdouble
utilisation (Metrics *m,
             DevRec  *d)
{
  gdouble makespan = current_makespan (m);

  if (makespan <= 0 || d->slots == 0)
    return 0;
  return MIN (1.0, (d->busy_us / (gdouble) G_USEC_PER_SEC) / (makespan * d->slots));
}

/* The observers as the bus counts them, summed by observer name. */
static GPtrArray *
observer_stats (Metrics *m)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (obs_stats_free);
  g_autoptr(GHashTable) by_name = g_hash_table_new (g_str_hash, g_str_equal);
  gsize n = 0;
  g_autofree guint *ids = orrery_event_bus_list_subscriptions (m->bus, &n);

  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) s = orrery_event_bus_get_observer_stats (m->bus, ids[i]);
      const char *name = NULL;
      ObsStats *o;
      guint64 v;

      if (s == NULL)
        continue;
      if (!g_variant_lookup (s, "name", "&s", &name) || name == NULL)
        name = "?";
      o = g_hash_table_lookup (by_name, name);
      if (o == NULL)
        {
          o = g_new0 (ObsStats, 1);
          o->name = g_strdup (name);
          g_hash_table_insert (by_name, o->name, o);
          g_ptr_array_add (out, o);
        }
      if (g_variant_lookup (s, "delivered", "t", &v))
        o->delivered += v;
      if (g_variant_lookup (s, "failed", "t", &v))
        o->failed += v;
      if (g_variant_lookup (s, "dropped", "t", &v))
        o->dropped += v;
      if (g_variant_lookup (s, "timed-out", "t", &v))
        o->timed_out += v;
      if (g_variant_lookup (s, "handling-ns", "t", &v))
        o->handling_ns += v;
    }
  return out;
}

static guint64
bus_stat (Metrics    *m,
          const char *key)
{
  g_autoptr(GVariant) s = orrery_event_bus_get_stats (m->bus);
  guint64 v = 0;

  g_variant_lookup (s, key, "t", &v);
  return v;
}

static GList *
sorted_keys (GHashTable *table)
{
  return g_list_sort (g_hash_table_get_keys (table), (GCompareFunc) strcmp);
}

/* The critical path in seconds from the tasks' own start and end times,
 * when the statistics could only give it in tasks (some task did not run). */
static gdouble
compute_critical_path (OrreryConstellation *c,
                       GPtrArray           *out_tasks)
{
  g_autoptr(GPtrArray) order = orrery_constellation_get_topological_order (c, NULL);
  g_autoptr(GHashTable) best = NULL;
  g_autoptr(GHashTable) pred = NULL;
  gdouble top = 0;
  const char *top_id = NULL;

  if (order == NULL)
    return 0;
  best = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  pred = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < order->len; i++)
    {
      OrreryTask *t = order->pdata[i];
      const char *id = orrery_task_get_id (t);
      g_autoptr(GPtrArray) pre = orrery_constellation_get_prerequisites (c, id);
      gdouble w = 0, here;
      const char *p_best = NULL;
      gdouble p_val = 0;

      if (orrery_task_get_started_at (t) > 0 && orrery_task_get_ended_at (t) >= orrery_task_get_started_at (t))
        w = orrery_task_get_duration (t);
      for (guint j = 0; pre != NULL && j < pre->len; j++)
        {
          const char *from = orrery_dependency_get_from_task_id (pre->pdata[j]);
          gdouble *pv = g_hash_table_lookup (best, from);

          if (pv != NULL && (p_best == NULL || *pv > p_val))
            p_best = from, p_val = *pv;
        }
      here = w + p_val;
      g_hash_table_insert (best, (gpointer) id, g_memdup2 (&here, sizeof here));
      if (p_best != NULL)
        g_hash_table_insert (pred, (gpointer) id, (gpointer) p_best);
      if (top_id == NULL || here > top)
        top = here, top_id = id;
    }
  for (const char *id = top_id; id != NULL; id = g_hash_table_lookup (pred, id))
    g_ptr_array_insert (out_tasks, 0, g_strdup (id));
  return top;
}

/* ------------------------------------------------------------------------ */
/* JSON */

static void
json_dist (JsonBuilder *b,
           const char  *name,
           GArray      *values)
{
  Dist d = distribution (values);

  json_builder_set_member_name (b, name);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "count");
  json_builder_add_int_value (b, d.count);
  json_builder_set_member_name (b, "min");
  json_builder_add_double_value (b, d.min);
  json_builder_set_member_name (b, "median");
  json_builder_add_double_value (b, d.median);
  json_builder_set_member_name (b, "p95");
  json_builder_add_double_value (b, d.p95);
  json_builder_set_member_name (b, "max");
  json_builder_add_double_value (b, d.max);
  json_builder_set_member_name (b, "mean");
  json_builder_add_double_value (b, d.mean);
  json_builder_set_member_name (b, "sum");
  json_builder_add_double_value (b, d.sum);
  json_builder_end_object (b);
}

#define JSON_INT(b, name, v) G_STMT_START { \
    json_builder_set_member_name ((b), (name)); \
    json_builder_add_int_value ((b), (gint64) (v)); \
  } G_STMT_END
#define JSON_DOUBLE(b, name, v) G_STMT_START { \
    json_builder_set_member_name ((b), (name)); \
    json_builder_add_double_value ((b), (v)); \
  } G_STMT_END
#define JSON_STRING(b, name, v) G_STMT_START { \
    json_builder_set_member_name ((b), (name)); \
    if ((v) != NULL) json_builder_add_string_value ((b), (v)); \
    else json_builder_add_null_value ((b)); \
  } G_STMT_END


/* Tasks that ended with the outcome of task event @type. */
static guint64
tasks_with_outcome (Metrics         *m,
                    OrreryEventType  type)
{
  return m->counts[type] + (type == ORRERY_EVENT_TASK_CANCELLED ? m->bulk_cancelled : 0);
}

static char *
metrics_to_json (Metrics *m)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GPtrArray) observers = observer_stats (m);
  GList *keys;

  json_builder_begin_object (b);
  JSON_STRING (b, "constellation_id", m->constellation_id);
  JSON_STRING (b, "state", m->end_state ? m->end_state : (m->run_start_us ? "executing" : NULL));
  json_builder_set_member_name (b, "finished");
  json_builder_add_boolean_value (b, m->finished);

  json_builder_set_member_name (b, "events");
  json_builder_begin_object (b);
  JSON_INT (b, "total", m->n_events);
  JSON_DOUBLE (b, "per_second", events_per_second (m));
  json_builder_set_member_name (b, "by_type");
  json_builder_begin_object (b);
  for (guint i = 0; i < ORRERY_EVENT_TYPE_COUNT; i++)
    if (m->counts[i] > 0)
      JSON_INT (b, orrery_event_type_to_nick (i), m->counts[i]);
  json_builder_end_object (b);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "tasks");
  json_builder_begin_object (b);
  JSON_INT (b, "total", m->total_tasks);
  JSON_INT (b, "completed", m->counts[ORRERY_EVENT_TASK_COMPLETED]);
  JSON_INT (b, "failed", m->counts[ORRERY_EVENT_TASK_FAILED]);
  JSON_INT (b, "skipped", m->counts[ORRERY_EVENT_TASK_SKIPPED]);
  JSON_INT (b, "cancelled", tasks_with_outcome (m, ORRERY_EVENT_TASK_CANCELLED));
  JSON_INT (b, "attempts", m->attempts);
  JSON_INT (b, "retries", m->retries);
  json_builder_end_object (b);

  json_dist (b, "task_duration_seconds", m->durations);
  json_dist (b, "queue_wait_seconds", m->waits);

  json_builder_set_member_name (b, "run");
  json_builder_begin_object (b);
  JSON_DOUBLE (b, "makespan_seconds", current_makespan (m));
  JSON_DOUBLE (b, "critical_path_seconds", m->critical_path);
  JSON_STRING (b, "critical_path_source", m->critical_path_source);
  json_builder_set_member_name (b, "critical_path_tasks");
  json_builder_begin_array (b);
  for (guint i = 0; m->critical_path_tasks != NULL && i < m->critical_path_tasks->len; i++)
    json_builder_add_string_value (b, m->critical_path_tasks->pdata[i]);
  json_builder_end_array (b);
  /* How close the run came to its critical path: 1 is the best possible. */
  JSON_DOUBLE (b, "critical_path_efficiency",
               current_makespan (m) > 0 ? m->critical_path / current_makespan (m) : 0.0);
  JSON_DOUBLE (b, "parallelism_ratio", m->parallelism);
  JSON_INT (b, "max_width", m->max_width);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "devices");
  json_builder_begin_object (b);
  keys = sorted_keys (m->devices);
  for (GList *l = keys; l != NULL; l = l->next)
    {
      DevRec *d = g_hash_table_lookup (m->devices, l->data);

      json_builder_set_member_name (b, l->data);
      json_builder_begin_object (b);
      JSON_INT (b, "started", d->started);
      JSON_INT (b, "completed", d->completed);
      JSON_INT (b, "failed", d->failed);
      JSON_INT (b, "retried", d->retried);
      JSON_INT (b, "cancelled", d->cancelled);
      JSON_DOUBLE (b, "busy_seconds", d->busy_us / (gdouble) G_USEC_PER_SEC);
      JSON_INT (b, "slots", d->slots);
      JSON_DOUBLE (b, "utilization", utilisation (m, d));
      json_builder_end_object (b);
    }
  g_list_free (keys);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "observers");
  json_builder_begin_array (b);
  for (guint i = 0; i < observers->len; i++)
    {
      ObsStats *o = observers->pdata[i];
      ObsFailures *f = g_hash_table_lookup (m->obs_failures, o->name);

      json_builder_begin_object (b);
      JSON_STRING (b, "name", o->name);
      JSON_INT (b, "delivered", o->delivered);
      JSON_INT (b, "failed", o->failed);
      JSON_INT (b, "dropped", o->dropped);
      JSON_INT (b, "timed_out", o->timed_out);
      JSON_DOUBLE (b, "handling_seconds", o->handling_ns / 1e9);
      JSON_DOUBLE (b, "mean_handling_us", o->delivered ? o->handling_ns / 1e3 / o->delivered : 0.0);
      JSON_STRING (b, "last_error", f ? f->last_error : NULL);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);

  json_builder_set_member_name (b, "bus");
  json_builder_begin_object (b);
  JSON_INT (b, "published", bus_stat (m, "published"));
  JSON_INT (b, "failures", bus_stat (m, "failures"));
  JSON_INT (b, "drops", bus_stat (m, "drops"));
  JSON_INT (b, "timeouts", bus_stat (m, "timeouts"));
  json_builder_set_member_name (b, "timing");
  json_builder_add_boolean_value (b, orrery_event_bus_get_timing (m->bus));
  json_builder_end_object (b);

  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  return json_generator_to_data (gen, NULL);
}

/* ------------------------------------------------------------------------ */
/* Prometheus text exposition format 0.0.4 */

static void
prom_family (GString    *s,
             const char *name,
             const char *type,
             const char *help)
{
  g_string_append_printf (s, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value as the text format wants it: backslash, double quote and
 * line feed escaped (the only escapes it knows), in valid UTF-8 (a byte
 * that is not becomes U+FFFD). Device ids and observer names come from
 * configuration and scripts. */
static void
prom_label_value (GString    *s,
                  const char *v)
{
  g_autofree char *valid = NULL;

  if (v == NULL)
    v = "";
  if (!g_utf8_validate (v, -1, NULL))
    v = valid = g_utf8_make_valid (v, -1);
  for (const char *p = v; *p; p++)
    {
      if (*p == '\\')
        g_string_append (s, "\\\\");
      else if (*p == '"')
        g_string_append (s, "\\\"");
      else if (*p == '\n')
        g_string_append (s, "\\n");
      else
        g_string_append_c (s, *p);
    }
}

/* name{k1="v1",k2="v2"} value; labels as NULL-terminated key, value pairs. */
static void
prom_sample (GString    *s,
             const char *name,
             gdouble     value,
             ...)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  const char *key;
  gboolean first = TRUE;
  va_list ap;

  g_string_append (s, name);
  va_start (ap, value);
  while ((key = va_arg (ap, const char *)) != NULL)
    {
      const char *val = va_arg (ap, const char *);

      g_string_append (s, first ? "{" : ",");
      g_string_append_printf (s, "%s=\"", key);
      prom_label_value (s, val);
      g_string_append_c (s, '"');
      first = FALSE;
    }
  va_end (ap);
  if (!first)
    g_string_append_c (s, '}');
  if (isnan (value))
    g_string_append (s, " NaN\n");
  else if (value == floor (value) && fabs (value) < 1e15)
    g_string_append_printf (s, " %.0f\n", value);
  else
    g_string_append_printf (s, " %s\n", g_ascii_dtostr (buf, sizeof buf, value));
}

/* The buckets of the duration histograms, in seconds: from a simulated
 * task's milliseconds to an hour-long build. The same for every run, so
 * that runs (and machines) aggregate: sum(rate(..._bucket[5m])) by (le). */
static const gdouble duration_buckets[] = {
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600
};

/* A histogram: cumulative _bucket{le=...} counts, +Inf, _sum and _count,
 * with the run-level labels. */
static void
prom_histogram (GString    *s,
                const char *name,
                const char *help,
                GArray     *values,
                const char *constellation,
                const char *run_id)
{
  g_autofree char *bucket = g_strconcat (name, "_bucket", NULL);
  g_autofree char *sum_name = g_strconcat (name, "_sum", NULL);
  g_autofree char *count_name = g_strconcat (name, "_count", NULL);
  guint64 counts[G_N_ELEMENTS (duration_buckets)] = { 0 };
  gdouble sum = 0;

  for (guint i = 0; i < values->len; i++)
    {
      gdouble v = g_array_index (values, gdouble, i);

      sum += v;
      for (guint b = 0; b < G_N_ELEMENTS (duration_buckets); b++)
        if (v <= duration_buckets[b])
          {
            counts[b]++;
            break;
          }
    }
  prom_family (s, name, "histogram", help);
  {
    guint64 cumulative = 0;

    for (guint b = 0; b < G_N_ELEMENTS (duration_buckets); b++)
      {
        char le[G_ASCII_DTOSTR_BUF_SIZE];

        cumulative += counts[b];
        g_ascii_formatd (le, sizeof le, "%g", duration_buckets[b]);
        prom_sample (s, bucket, cumulative, "constellation", constellation, "run_id", run_id,
                     "le", le, NULL);
      }
  }
  prom_sample (s, bucket, values->len, "constellation", constellation, "run_id", run_id,
               "le", "+Inf", NULL);
  prom_sample (s, sum_name, sum, "constellation", constellation, "run_id", run_id, NULL);
  prom_sample (s, count_name, values->len, "constellation", constellation, "run_id", run_id, NULL);
}

static char *
metrics_to_prometheus (Metrics *m)
{
  GString *s = g_string_new (NULL);
  /* The labels of the run-level series: which run they are of. */
  const char *cid = m->constellation_id != NULL ? m->constellation_id : "";
  const char *rid = m->run_id != NULL ? m->run_id : "";
  g_autofree char *sdk_version = g_strdup_printf ("%u.%u.%u", orrery_get_major_version (),
                                                  orrery_get_minor_version (),
                                                  orrery_get_micro_version ());
  g_autofree char *plugin_abi = g_strdup_printf ("%d.%d", ORRERY_PLUGIN_ABI_MAJOR, ORRERY_PLUGIN_ABI_MINOR);
  g_autoptr(GPtrArray) observers = observer_stats (m);
  GList *keys;
  static const struct { OrreryEventType type; const char *status; } outcomes[] = {
    { ORRERY_EVENT_TASK_COMPLETED, "completed" },
    { ORRERY_EVENT_TASK_FAILED, "failed" },
    { ORRERY_EVENT_TASK_SKIPPED, "skipped" },
    { ORRERY_EVENT_TASK_CANCELLED, "cancelled" },
  };

  prom_family (s, "orrery_build_info", "gauge",
               "Always 1: the versions of liborrery and of the plugin ABI, as labels.");
  prom_sample (s, "orrery_build_info", 1, "version", ORRERY_VERSION_S, "sdk_version", sdk_version,
               "plugin_abi", plugin_abi, NULL);

  /* Counters only: rates are Prometheus's (rate(orrery_events_total[1m])). */
  prom_family (s, "orrery_events_total", "counter", "Events seen on the bus, by type.");
  for (guint i = 0; i < ORRERY_EVENT_TYPE_COUNT; i++)
    prom_sample (s, "orrery_events_total", m->counts[i],
                 "event_type", orrery_event_type_to_nick (i), NULL);

  prom_family (s, "orrery_tasks_total", "counter", "Tasks that reached a final state, by status.");
  for (guint i = 0; i < G_N_ELEMENTS (outcomes); i++)
    prom_sample (s, "orrery_tasks_total", tasks_with_outcome (m, outcomes[i].type),
                 "status", outcomes[i].status, NULL);

  prom_family (s, "orrery_run_tasks", "gauge", "Tasks in the constellation of the run.");
  prom_sample (s, "orrery_run_tasks", m->total_tasks, "constellation", cid, "run_id", rid, NULL);

  prom_family (s, "orrery_task_attempts_total", "counter", "Task attempts dispatched to a device.");
  prom_sample (s, "orrery_task_attempts_total", m->attempts, NULL);

  prom_family (s, "orrery_task_retries_total", "counter", "Failed attempts that were retried.");
  prom_sample (s, "orrery_task_retries_total", m->retries, NULL);

  prom_histogram (s, "orrery_task_duration_seconds",
                  "Run time of one task attempt on its device.", m->durations, cid, rid);
  prom_histogram (s, "orrery_task_queue_wait_seconds",
                  "Time from a task becoming ready to its start on a device.", m->waits, cid, rid);

  prom_family (s, "orrery_run_makespan_seconds", "gauge",
               "Duration of the run (so far, while it runs).");
  prom_sample (s, "orrery_run_makespan_seconds", current_makespan (m),
               "constellation", cid, "run_id", rid, NULL);
  prom_family (s, "orrery_run_critical_path_seconds", "gauge",
               "Longest chain of task durations through the DAG (the best possible makespan).");
  prom_sample (s, "orrery_run_critical_path_seconds", m->critical_path,
               "constellation", cid, "run_id", rid, NULL);
  prom_family (s, "orrery_run_finished", "gauge", "1 once the run has ended.");
  prom_sample (s, "orrery_run_finished", m->finished ? 1 : 0, "constellation", cid, "run_id", rid, NULL);

  keys = sorted_keys (m->devices);
  prom_family (s, "orrery_device_busy_seconds_total", "counter",
               "Time spent running task attempts on the device, summed over its slots.");
  for (GList *l = keys; l != NULL; l = l->next)
    prom_sample (s, "orrery_device_busy_seconds_total",
                 ((DevRec *) g_hash_table_lookup (m->devices, l->data))->busy_us / (gdouble) G_USEC_PER_SEC,
                 "device", l->data, NULL);
  prom_family (s, "orrery_device_slots", "gauge", "Most tasks seen running at once on the device.");
  for (GList *l = keys; l != NULL; l = l->next)
    prom_sample (s, "orrery_device_slots",
                 ((DevRec *) g_hash_table_lookup (m->devices, l->data))->slots, "device", l->data, NULL);
  prom_family (s, "orrery_device_utilization_ratio", "gauge",
               "Busy time over makespan times slots, per device.");
  for (GList *l = keys; l != NULL; l = l->next)
    prom_sample (s, "orrery_device_utilization_ratio",
                 utilisation (m, g_hash_table_lookup (m->devices, l->data)), "device", l->data, NULL);
  prom_family (s, "orrery_device_attempts_total", "counter",
               "Task attempts that ended on the device, by outcome.");
  for (GList *l = keys; l != NULL; l = l->next)
    {
      DevRec *d = g_hash_table_lookup (m->devices, l->data);

      prom_sample (s, "orrery_device_attempts_total", d->completed, "device", l->data, "status", "completed", NULL);
      prom_sample (s, "orrery_device_attempts_total", d->failed, "device", l->data, "status", "failed", NULL);
      prom_sample (s, "orrery_device_attempts_total", d->retried, "device", l->data, "status", "retrying", NULL);
      prom_sample (s, "orrery_device_attempts_total", d->cancelled, "device", l->data, "status", "cancelled", NULL);
    }
  g_list_free (keys);

  prom_family (s, "orrery_observer_deliveries_total", "counter", "Events delivered to each observer.");
  for (guint i = 0; i < observers->len; i++)
    prom_sample (s, "orrery_observer_deliveries_total", ((ObsStats *) observers->pdata[i])->delivered,
                 "observer", ((ObsStats *) observers->pdata[i])->name, NULL);
  prom_family (s, "orrery_observer_handling_seconds_total", "counter",
               "Time spent in each observer (measured while the bus's timing is on).");
  for (guint i = 0; i < observers->len; i++)
    prom_sample (s, "orrery_observer_handling_seconds_total", ((ObsStats *) observers->pdata[i])->handling_ns / 1e9,
                 "observer", ((ObsStats *) observers->pdata[i])->name, NULL);
  prom_family (s, "orrery_observer_failures_total", "counter",
               "Deliveries that failed, timed out or were dropped, per observer.");
  for (guint i = 0; i < observers->len; i++)
    {
      ObsStats *o = observers->pdata[i];

      prom_sample (s, "orrery_observer_failures_total", o->failed, "observer", o->name, "reason", "failed", NULL);
      prom_sample (s, "orrery_observer_failures_total", o->timed_out, "observer", o->name, "reason", "timeout", NULL);
      prom_sample (s, "orrery_observer_failures_total", o->dropped, "observer", o->name, "reason", "dropped", NULL);
    }

  prom_family (s, "orrery_bus_published_events_total", "counter", "Events published on the bus.");
  prom_sample (s, "orrery_bus_published_events_total", bus_stat (m, "published"), NULL);
  return g_string_free (s, FALSE);
}

/* ------------------------------------------------------------------------ */
/* Summary table */

/* User data in the summary: escaped for the terminal (a copy only when
 * it needs one). */
static const char *
term (const char  *text,
      GPtrArray   *keep)
{
  char *escaped;

  if (text == NULL || orrery_text_is_terminal_safe (text, -1))
    return text;
  escaped = orrery_escape_for_terminal (text, -1);
  g_ptr_array_add (keep, escaped);
  return escaped;
}

static char *
metrics_to_summary (Metrics *m)
{
  g_autoptr(GPtrArray) keep = g_ptr_array_new_with_free_func (g_free);
  GString *s = g_string_new (NULL);
  Dist dur = distribution (m->durations);
  Dist wait = distribution (m->waits);
  g_autoptr(GPtrArray) observers = observer_stats (m);
  GList *keys;

  g_string_append_printf (s, "\n── Metrics: %s (%s) ──────────────────────────────\n",
                          m->constellation_id ? term (m->constellation_id, keep) : "?",
                          m->end_state ? m->end_state : "running");
  g_string_append_printf (s, "  tasks       %u: %" G_GUINT64_FORMAT " completed, %" G_GUINT64_FORMAT " failed, %"
                          G_GUINT64_FORMAT " skipped, %" G_GUINT64_FORMAT " cancelled; %" G_GUINT64_FORMAT
                          " attempts, %" G_GUINT64_FORMAT " retries\n",
                          m->total_tasks, m->counts[ORRERY_EVENT_TASK_COMPLETED],
                          m->counts[ORRERY_EVENT_TASK_FAILED], m->counts[ORRERY_EVENT_TASK_SKIPPED],
                          tasks_with_outcome (m, ORRERY_EVENT_TASK_CANCELLED), m->attempts, m->retries);
  g_string_append_printf (s, "  %-11s %6s %9s %9s %9s %9s\n", "", "count", "min", "median", "p95", "max");
  g_string_append_printf (s, "  %-11s %6u %8.3fs %8.3fs %8.3fs %8.3fs\n", "duration", dur.count,
                          dur.min, dur.median, dur.p95, dur.max);
  g_string_append_printf (s, "  %-11s %6u %8.3fs %8.3fs %8.3fs %8.3fs\n", "queue wait", wait.count,
                          wait.min, wait.median, wait.p95, wait.max);
  g_string_append_printf (s, "  makespan    %.3fs, critical path %.3fs (%s): %.0f%% of the best possible\n",
                          current_makespan (m), m->critical_path,
                          m->critical_path_source ? m->critical_path_source : "-",
                          current_makespan (m) > 0 ? 100 * m->critical_path / current_makespan (m) : 0.0);
  g_string_append_printf (s, "  events      %" G_GUINT64_FORMAT " (%.0f/s):", m->n_events, events_per_second (m));
  for (guint i = 0; i < ORRERY_EVENT_TYPE_COUNT; i++)
    if (m->counts[i] > 0)
      g_string_append_printf (s, " %s %" G_GUINT64_FORMAT, orrery_event_type_to_nick (i), m->counts[i]);
  g_string_append_c (s, '\n');

  g_string_append_printf (s, "  %-16s %6s %6s %6s %9s %6s %6s\n", "device", "tasks", "ok", "failed",
                          "busy", "slots", "util");
  keys = sorted_keys (m->devices);
  for (GList *l = keys; l != NULL; l = l->next)
    {
      DevRec *d = g_hash_table_lookup (m->devices, l->data);

      g_string_append_printf (s, "  %-16s %6" G_GUINT64_FORMAT " %6" G_GUINT64_FORMAT " %6" G_GUINT64_FORMAT
                              " %8.3fs %6u %5.0f%%\n", term (l->data, keep), d->started, d->completed,
                              d->failed, d->busy_us / (gdouble) G_USEC_PER_SEC, d->slots,
                              100 * utilisation (m, d));
    }
  g_list_free (keys);

  g_string_append_printf (s, "  %-16s %9s %9s %7s %s\n", "observer", "events", "mean", "failed",
                          orrery_event_bus_get_timing (m->bus) ? "" : "(timing off)");
  for (guint i = 0; i < observers->len; i++)
    {
      ObsStats *o = observers->pdata[i];

      g_string_append_printf (s, "  %-16s %9" G_GUINT64_FORMAT " %7.1fµs %7" G_GUINT64_FORMAT "\n",
                              term (o->name, keep),
                              o->delivered, o->delivered ? o->handling_ns / 1e3 / o->delivered : 0.0,
                              o->failed + o->timed_out + o->dropped);
    }
  return g_string_free (s, FALSE);
}

/* ------------------------------------------------------------------------ */
/* Files */

static char *
output_path (Metrics    *m,
             const char *file)
{
  if (file == NULL || file[0] == '\0')
    return NULL;
  if (g_path_is_absolute (file))
    return g_strdup (file);
  return g_build_filename (m->output_dir, file, NULL);
}

static void
write_file (const char *path,
            const char *text)
{
  g_autofree char *dir = NULL;
  g_autoptr(GError) error = NULL;

  if (path == NULL)
    return;
  dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      g_warning ("Cannot create %s: %s", dir, g_strerror (errno));
      return;
    }
  if (!g_file_set_contents (path, text, -1, &error))
    g_warning ("Cannot write %s: %s", path, error->message);
}

static void
flush_summary (Metrics *m)
{
  if (m->pending_summary == NULL)
    return;
  fputs (m->pending_summary, stdout);
  fflush (stdout);
  g_clear_pointer (&m->pending_summary, g_free);
}

static gboolean
summary_idle_cb (gpointer user_data)
{
  Metrics *m = user_data;

  m->summary_idle = 0;
  flush_summary (m);
  return G_SOURCE_REMOVE;
}

static void
finish_run (Metrics                  *m,
            OrreryEvent *ce)
{
  GVariant *stats = orrery_event_get_statistics (ce);
  OrreryConstellation *c = orrery_event_get_constellation (ce);
  GVariant *data;
  const char *mode = NULL;
  g_autofree char *json_path = output_path (m, m->json_file);
  g_autofree char *prom_path = output_path (m, m->prom_file);

  m->finished = TRUE;
  m->makespan = orrery_event_get_duration (ce);
  data = orrery_event_get_data (ce);
  if (data != NULL && g_variant_is_of_type (data, G_VARIANT_TYPE_VARDICT))
    {
      guint32 n32;
      gint64 n64;

      /* u from a live run; x when a replay's journal had no GVariant text. */
      if (g_variant_lookup (data, "bulk_cancelled", "u", &n32))
        m->bulk_cancelled += n32;
      else if (g_variant_lookup (data, "bulk_cancelled", "x", &n64) && n64 > 0)
        m->bulk_cancelled += (guint64) n64;
    }
  g_free (m->end_state);
  m->end_state = g_strdup (orrery_constellation_state_to_nick (orrery_event_get_constellation_state (ce)));
  g_clear_pointer (&m->critical_path_tasks, g_ptr_array_unref);
  m->critical_path_tasks = g_ptr_array_new_with_free_func (g_free);
  if (stats != NULL)
    {
      g_autofree const char **cp = NULL;

      g_variant_lookup (stats, "total_tasks", "u", &m->total_tasks);
      g_variant_lookup (stats, "parallelism_ratio", "d", &m->parallelism);
      g_variant_lookup (stats, "max_width", "u", &m->max_width);
      g_variant_lookup (stats, "parallelism_calculation_mode", "&s", &mode);
      if (g_strcmp0 (mode, "duration") == 0)
        {
          g_variant_lookup (stats, "critical_path_length", "d", &m->critical_path);
          if (g_variant_lookup (stats, "critical_path_tasks", "^a&s", &cp))
            for (guint i = 0; cp[i] != NULL; i++)
              g_ptr_array_add (m->critical_path_tasks, g_strdup (cp[i]));
          m->critical_path_source = g_strdup ("statistics");
        }
    }
  if (m->critical_path_source == NULL && c != NULL)
    {
      /* Not every task ran: the statistics measure the path in tasks.
       * Measure it in seconds over the tasks that ran. */
      m->critical_path = compute_critical_path (c, m->critical_path_tasks);
      m->critical_path_source = g_strdup ("ran-tasks");
    }
  if (m->total_tasks == 0 && c != NULL)
    m->total_tasks = orrery_constellation_get_n_tasks (c);

  if (json_path != NULL)
    {
      g_autofree char *json = metrics_to_json (m);

      write_file (json_path, json);
    }
  if (prom_path != NULL)
    {
      g_autofree char *prom = metrics_to_prometheus (m);

      write_file (prom_path, prom);
    }
  if (m->summary)
    {
      /* Printed once the terminal event has gone to every observer (a
       * live view draws its last frame first), or at shutdown if the host
       * stops the loop before. */
      g_free (m->pending_summary);
      m->pending_summary = metrics_to_summary (m);
      if (json_path != NULL || prom_path != NULL)
        {
          g_autofree char *json_shown = orrery_escape_for_terminal (json_path, -1);
          g_autofree char *prom_shown = orrery_escape_for_terminal (prom_path, -1);
          char *with_files = g_strdup_printf ("%s  files       %s%s%s\n", m->pending_summary,
                                              json_shown, json_path && prom_path ? ", " : "", prom_shown);

          g_free (m->pending_summary);
          m->pending_summary = with_files;
        }
      if (m->summary_idle == 0)
        m->summary_idle = g_idle_add (summary_idle_cb, m);
    }
}

/* ------------------------------------------------------------------------ */
/* Events */

static gboolean
metrics_handle (OrreryEvent  *event,
                gpointer      user_data,
                GError      **error)
{
  Metrics *m = user_data;
  OrreryEventType type = orrery_event_get_event_type (event);
  gint64 ts = orrery_event_get_timestamp (event);

  if (type == ORRERY_EVENT_CONSTELLATION_STARTED)
    {
      /* A new run: start over (the files of the last one are written). */
      metrics_reset (m);
      m->run_start_us = ts;
    }
  if (m->n_events == 0)
    m->first_us = ts;
  m->last_us = ts;
  m->n_events++;
  if ((guint) type < ORRERY_EVENT_TYPE_COUNT)
    m->counts[type]++;

  if (ORRERY_EVENT_IS_TASK (event))
    {
      OrreryEvent *te = event;
      TaskRec *t = task_rec (m, orrery_event_get_task_id (te));
      DevRec *dev = NULL;

      switch (type)
        {
        case ORRERY_EVENT_TASK_STARTED:
          if (t->ready_us != 0)
            {
              gdouble w = MAX (ts - t->ready_us, 0) / (gdouble) G_USEC_PER_SEC;

              g_array_append_val (m->waits, w);
            }
          t->ready_us = 0;
          t->start_us = ts;
          g_free (t->device);
          t->device = g_strdup (orrery_event_get_device_id (te));
          dev = dev_rec (m, t->device);
          dev->started++;
          dev->running++;
          dev->slots = MAX (dev->slots, dev->running);
          m->attempts++;
          break;
        case ORRERY_EVENT_TASK_COMPLETED:
        case ORRERY_EVENT_TASK_FAILED:
          end_attempt (m, t, &dev, ts);
          if (dev != NULL && type == ORRERY_EVENT_TASK_COMPLETED)
            dev->completed++;
          else if (dev != NULL)
            dev->failed++;
          mark_ready (m, orrery_event_get_newly_ready (te), ts, FALSE);
          break;
        case ORRERY_EVENT_TASK_RETRYING:
          {
            GVariant *data = orrery_event_get_data (event);
            guint delay_ms = 0;

            end_attempt (m, t, &dev, ts);
            if (dev != NULL)
              dev->retried++;
            m->retries++;
            /* Ready again once the backoff has passed. */
            if (data != NULL && g_variant_is_of_type (data, G_VARIANT_TYPE_VARDICT))
              g_variant_lookup (data, "delay_ms", "u", &delay_ms);
            t->ready_us = ts + (gint64) delay_ms * 1000;
          }
          break;
        case ORRERY_EVENT_TASK_CANCELLED:
          end_attempt (m, t, &dev, ts);
          if (dev != NULL)
            dev->cancelled++;
          t->ready_us = 0;
          break;
        case ORRERY_EVENT_TASK_SKIPPED:
          t->ready_us = 0;
          break;
        default:
          break;
        }
    }
  else if (ORRERY_EVENT_IS_CONSTELLATION (event))
    {
      OrreryEvent *ce = event;

      switch (type)
        {
        case ORRERY_EVENT_CONSTELLATION_STARTED:
          g_free (m->constellation_id);
          m->constellation_id = g_strdup (orrery_event_get_constellation_id (ce));
          if (orrery_event_get_constellation (ce) != NULL)
            m->total_tasks = orrery_constellation_get_n_tasks (orrery_event_get_constellation (ce));
          mark_ready (m, orrery_event_get_newly_ready (ce), ts, FALSE);
          break;
        case ORRERY_EVENT_CONSTELLATION_MODIFIED:
          /* The ready list is every ready task: keep the earlier time of
           * those already waiting. */
          mark_ready (m, orrery_event_get_newly_ready (ce), ts, TRUE);
          if (orrery_event_get_constellation (ce) != NULL)
            m->total_tasks = orrery_constellation_get_n_tasks (orrery_event_get_constellation (ce));
          break;
        case ORRERY_EVENT_CONSTELLATION_COMPLETED:
        case ORRERY_EVENT_CONSTELLATION_FAILED:
        case ORRERY_EVENT_CONSTELLATION_CANCELLED:
          finish_run (m, ce);
          break;
        default:
          break;
        }
    }
  return TRUE;
}

static void
on_observer_failed (OrreryEventBus *bus,
                    OrreryObserver *observer,
                    OrreryEvent    *event,
                    GError         *error,
                    gpointer        user_data)
{
  Metrics *m = user_data;
  const char *name = orrery_observer_get_name (observer);
  ObsFailures *f = g_hash_table_lookup (m->obs_failures, name);

  if (f == NULL)
    {
      f = g_new0 (ObsFailures, 1);
      g_hash_table_insert (m->obs_failures, g_strdup (name), f);
    }
  if (g_error_matches (error, ORRERY_BUS_ERROR, ORRERY_BUS_ERROR_TIMEOUT))
    f->timed_out++;
  else if (g_error_matches (error, ORRERY_BUS_ERROR, ORRERY_BUS_ERROR_DROPPED))
    f->dropped++;
  else
    f->failed++;
  g_free (f->last_error);
  f->last_error = g_strdup_printf ("%s on %s", error ? error->message : "failed",
                                   orrery_event_get_type_nick (event));
}

/* libsoup, opened the first time an endpoint starts instead of linked: the
 * endpoint is off unless HttpPort is set, and linking it made every run
 * load libsoup and the fifteen libraries it needs (2 to 3.5 ms here, before
 * the first task). Its soname is fixed for libsoup 3; the types are the
 * headers' own. The library stays loaded (it registers GTypes). */
#define SOUP_SONAME "libsoup-3.0.so.0"

static struct
{
  __typeof__ (soup_server_new) *server_new;
  __typeof__ (soup_server_add_handler) *server_add_handler;
  __typeof__ (soup_server_accept_iostream) *server_accept_iostream;
  __typeof__ (soup_server_disconnect) *server_disconnect;
  __typeof__ (soup_server_message_set_status) *server_message_set_status;
  __typeof__ (soup_server_message_set_response) *server_message_set_response;
  __typeof__ (soup_server_message_get_request_headers) *server_message_get_request_headers;
  __typeof__ (soup_server_message_get_response_headers) *server_message_get_response_headers;
  __typeof__ (soup_server_message_get_method) *server_message_get_method;
  __typeof__ (soup_message_headers_replace) *message_headers_replace;
  __typeof__ (soup_message_headers_get_one) *message_headers_get_one;
} soup;

static gboolean
soup_load (GError **error)
{
  static gsize once = 0;
  static char *failure = NULL;

  if (g_once_init_enter (&once))
    {
      GModule *module = g_module_open (SOUP_SONAME, G_MODULE_BIND_LAZY | G_MODULE_BIND_LOCAL);
      gboolean ok = module != NULL;

#define SOUP_SYMBOL(name) \
      ok = ok && g_module_symbol (module, "soup_" #name, (gpointer *) &soup.name) && soup.name != NULL
      SOUP_SYMBOL (server_new);
      SOUP_SYMBOL (server_add_handler);
      SOUP_SYMBOL (server_accept_iostream);
      SOUP_SYMBOL (server_disconnect);
      SOUP_SYMBOL (server_message_set_status);
      SOUP_SYMBOL (server_message_set_response);
      SOUP_SYMBOL (server_message_get_request_headers);
      SOUP_SYMBOL (server_message_get_response_headers);
      SOUP_SYMBOL (server_message_get_method);
      SOUP_SYMBOL (message_headers_replace);
      SOUP_SYMBOL (message_headers_get_one);
#undef SOUP_SYMBOL
      if (ok)
        g_module_make_resident (module);
      else
        {
          failure = g_strdup_printf ("the HTTP endpoint needs libsoup 3 (%s): %s", SOUP_SONAME,
                                     g_module_error ());
          memset (&soup, 0, sizeof soup);
          g_clear_pointer (&module, g_module_close);
        }
      g_once_init_leave (&once, 1);
    }
  if (failure != NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, failure);
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* HTTP /metrics
 *
 * libsoup's SoupServer speaks HTTP; the plugin keeps the listening socket
 * (a GSocketService) so that it sees every connection before libsoup does
 * and can bound what a client may hold:
 * - at most MaxConnections at once: one more is answered 503 at once and
 *   closed, so it never holds a descriptor (idle clients cannot use up the
 *   process's descriptors, which the tasks need);
 * - IdleTimeoutSec: a socket timeout, so a connection on which nothing
 *   arrives (or nothing can be sent) for that long fails and libsoup
 *   closes it;
 * - RequestTimeoutSec: a connection is shut down that long after it was
 *   accepted, however slowly it trickles in (one request per connection:
 *   every answer says `Connection: close`);
 * - the Host header must name the listen address or a loopback name with
 *   the port (`127.0.0.1:PORT`, `localhost:PORT`, `[::1]:PORT`), else 421:
 *   a page of another site that a DNS rebinding points at 127.0.0.1 sends
 *   its own name and is refused. */

typedef struct
{
  Metrics *m;
  GSocket *socket;     /* not a reference: weakly watched */
  GSource *deadline;
} HttpConn;

static const char http_busy[] =
  "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
  "Content-Length: 21\r\nConnection: close\r\n\r\ntoo many connections\n";

static void
http_conn_forget (HttpConn *c)
{
  if (c->deadline != NULL)
    {
      g_source_destroy (c->deadline);
      g_clear_pointer (&c->deadline, g_source_unref);
    }
  g_free (c);
}

/* The socket is gone (libsoup dropped the connection): one slot free. */
static void
on_http_socket_gone (gpointer  data,
                     GObject  *where_the_socket_was)
{
  HttpConn *c = data;

  g_hash_table_remove (c->m->http_conns, where_the_socket_was);
}

static gboolean
on_http_deadline (gpointer data)
{
  HttpConn *c = data;

  /* Both ways: libsoup's next read sees the end and drops the connection. */
  g_clear_pointer (&c->deadline, g_source_unref);
  c->m->http_timed_out++;
  g_socket_shutdown (c->socket, TRUE, TRUE, NULL);
  return G_SOURCE_REMOVE;
}

static gboolean
on_http_incoming (GSocketService    *service,
                  GSocketConnection *connection,
                  GObject           *source_object,
                  gpointer           user_data)
{
  Metrics *m = user_data;
  GSocket *socket = g_socket_connection_get_socket (connection);
  g_autoptr(GSocketAddress) local = g_socket_connection_get_local_address (connection, NULL);
  g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address (connection, NULL);
  g_autoptr(GError) error = NULL;
  HttpConn *c;

  if (g_hash_table_size (m->http_conns) >= m->max_connections)
    {
      /* Refused: a 503 now (a fresh socket's buffer takes it without
       * blocking), then closed. */
      m->http_refused++;
      g_socket_set_blocking (socket, FALSE);
      g_socket_send (socket, http_busy, sizeof http_busy - 1, NULL, NULL);
      g_socket_shutdown (socket, FALSE, TRUE, NULL);
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      return TRUE;
    }
  g_socket_set_timeout (socket, m->idle_timeout_s);
  c = g_new0 (HttpConn, 1);
  c->m = m;
  c->socket = socket;
  c->deadline = g_timeout_source_new_seconds (m->request_timeout_s);
  g_source_set_static_name (c->deadline, "[orrery] metrics request deadline");
  g_source_set_callback (c->deadline, on_http_deadline, c, NULL);
  g_source_attach (c->deadline, NULL);
  g_hash_table_insert (m->http_conns, socket, c);
  g_object_weak_ref (G_OBJECT (socket), on_http_socket_gone, c);
  if (!soup.server_accept_iostream (m->server, G_IO_STREAM (connection), local, remote, &error))
    {
      g_debug ("metrics: cannot take a connection: %s", error->message);
      g_object_weak_unref (G_OBJECT (socket), on_http_socket_gone, c);
      g_hash_table_remove (m->http_conns, socket);
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
    }
  return TRUE;
}

/* Whether HOST (a Host header) names this server: the listen address or
 * a loopback name, with the port (or without it, if the port is 80). */
static gboolean
http_host_allowed (const char *host,
                   guint16     port)
{
  static const char *const names[] = { "127.0.0.1", "localhost", "[::1]" };
  char port_text[8];

  if (host == NULL)
    return FALSE;
  g_snprintf (port_text, sizeof port_text, "%u", port);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      gsize n = strlen (names[i]);

      if (g_ascii_strncasecmp (host, names[i], n) != 0)
        continue;
      if (host[n] == '\0')
        return port == 80;
      if (host[n] == ':' && strcmp (host + n + 1, port_text) == 0)
        return TRUE;
    }
  return FALSE;
}

static void
http_text (SoupServerMessage *msg,
           guint              status,
           const char        *text)
{
  /* libsoup 3.2 has no phrase for 421 */
  soup.server_message_set_status (msg, status, status == 421 ? "Misdirected Request" : NULL);
  soup.server_message_set_response (msg, "text/plain; charset=utf-8", SOUP_MEMORY_STATIC, text, strlen (text));
}

static void
on_http_request (SoupServer        *server,
                 SoupServerMessage *msg,
                 const char        *path,
                 GHashTable        *query,
                 gpointer           user_data)
{
  Metrics *m = user_data;
  SoupMessageHeaders *request = soup.server_message_get_request_headers (msg);
  const char *method = soup.server_message_get_method (msg);

  soup.message_headers_replace (soup.server_message_get_response_headers (msg), "Connection", "close");
  if (!http_host_allowed (soup.message_headers_get_one (request, "Host"), m->bound_port))
    {
      m->http_wrong_host++;
      http_text (msg, SOUP_STATUS_MISDIRECTED_REQUEST,
                 "this server answers only to 127.0.0.1, localhost or [::1] with its port\n");
    }
  else if (strcmp (method, "GET") != 0 && strcmp (method, "HEAD") != 0)
    http_text (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "only GET\n");
  else if (strcmp (path, "/metrics") != 0)
    http_text (msg, SOUP_STATUS_NOT_FOUND, "try /metrics\n");
  else
    {
      char *body = metrics_to_prometheus (m);

      soup.server_message_set_status (msg, SOUP_STATUS_OK, NULL);
      soup.server_message_set_response (msg, "text/plain; version=0.0.4; charset=utf-8",
                                        SOUP_MEMORY_TAKE, body, strlen (body));
    }
}

static gboolean
start_http (Metrics  *m,
            GError  **error)
{
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new (lo, m->http_port);
  g_autoptr(GSocketAddress) bound = NULL;

  if (!soup_load (error))
    return FALSE;
  m->service = g_socket_service_new ();
  /* Room for a burst of connections to wait in the kernel (no descriptor
   * yet) until the loop accepts or refuses them; GIO's default is 10. */
  g_socket_listener_set_backlog (G_SOCKET_LISTENER (m->service), 128);
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (m->service), addr, G_SOCKET_TYPE_STREAM,
                                      G_SOCKET_PROTOCOL_TCP, NULL, &bound, error))
    {
      g_clear_object (&m->service);
      return FALSE;
    }
  m->bound_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  m->server = soup.server_new ("server-header", "orrery-metrics", NULL);
  soup.server_add_handler (m->server, NULL, on_http_request, m, NULL);
  m->http_conns = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) http_conn_forget);
  g_signal_connect (m->service, "incoming", G_CALLBACK (on_http_incoming), m);
  g_socket_service_start (m->service);
  g_info ("Serving metrics on http://127.0.0.1:%u/metrics (at most %u connections, idle timeout %u s)",
          m->bound_port, m->max_connections, m->idle_timeout_s);
  return TRUE;
}

/* Closes the port and every connection; nothing refers to M afterwards. */
static void
stop_http (Metrics *m)
{
  GHashTableIter iter;
  gpointer socket;

  if (m->service != NULL)
    {
      g_signal_handlers_disconnect_by_data (m->service, m);
      g_socket_service_stop (m->service);
      g_socket_listener_close (G_SOCKET_LISTENER (m->service));
      g_clear_object (&m->service);
    }
  if (m->http_conns != NULL)
    {
      g_hash_table_iter_init (&iter, m->http_conns);
      while (g_hash_table_iter_next (&iter, &socket, NULL))
        g_object_weak_unref (socket, on_http_socket_gone, g_hash_table_lookup (m->http_conns, socket));
      g_clear_pointer (&m->http_conns, g_hash_table_unref);
    }
  if (m->server != NULL)
    {
      soup.server_disconnect (m->server);
      g_clear_object (&m->server);
    }
}

/* ------------------------------------------------------------------------ */
/* Plugin */

static void
metrics_free (gpointer data)
{
  Metrics *m = data;

  if (m->failed_handler != 0)
    g_signal_handler_disconnect (m->bus, m->failed_handler);
  g_clear_object (&m->bus);
  g_clear_handle_id (&m->summary_idle, g_source_remove);
  stop_http (m);
  metrics_reset (m);
  g_hash_table_unref (m->tasks);
  g_hash_table_unref (m->devices);
  g_hash_table_unref (m->obs_failures);
  g_array_unref (m->durations);
  g_array_unref (m->waits);
  g_free (m->pending_summary);
  g_free (m->run_id);
  g_free (m->output_dir);
  g_free (m->json_file);
  g_free (m->prom_file);
  g_free (m);
}

static gboolean
metrics_init (OrreryPluginContext  *context,
              GError              **error)
{
  Metrics *m;
  GError *local = NULL;
  gboolean summary, timing;
  guint64 port = 0, idle = 0, request = 0, max_conns = 0;
  g_autoptr(OrreryObserver) observer = NULL;

  summary = orrery_plugin_context_get_boolean (context, "Summary", TRUE, &local);
  if (local == NULL)
    timing = orrery_plugin_context_get_boolean (context, "ObserverTiming", TRUE, &local);
  if (local == NULL)
    port = orrery_plugin_context_get_uint (context, "HttpPort", 0, &local);
  if (local == NULL && port > 65535)
    local = g_error_new (ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_BAD_CONFIG,
                         "HttpPort must be a TCP port (1-65535) or 0 for none, not %" G_GUINT64_FORMAT, port);
  if (local == NULL)
    idle = orrery_plugin_context_get_uint (context, "IdleTimeoutSec", 5, &local);
  if (local == NULL && (idle == 0 || idle > 3600))
    local = g_error_new (ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_BAD_CONFIG,
                         "IdleTimeoutSec must be between 1 and 3600 seconds, not %" G_GUINT64_FORMAT, idle);
  if (local == NULL)
    request = orrery_plugin_context_get_uint (context, "RequestTimeoutSec", 15, &local);
  if (local == NULL && (request == 0 || request > 3600))
    local = g_error_new (ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_BAD_CONFIG,
                         "RequestTimeoutSec must be between 1 and 3600 seconds, not %" G_GUINT64_FORMAT, request);
  if (local == NULL)
    max_conns = orrery_plugin_context_get_uint (context, "MaxConnections", 16, &local);
  if (local == NULL && (max_conns == 0 || max_conns > 1024))
    local = g_error_new (ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_BAD_CONFIG,
                         "MaxConnections must be between 1 and 1024, not %" G_GUINT64_FORMAT, max_conns);
  if (local != NULL)
    {
      g_propagate_error (error, local);
      return FALSE;
    }

  m = g_new0 (Metrics, 1);
  m->bus = g_object_ref (orrery_plugin_context_get_bus (context));
  /* The host names the run it loads the plugin for. */
  m->run_id = orrery_config_get_string (orrery_plugin_context_get_config (context),
                                        ORRERY_CONFIG_HOST_GROUP, "RunId", NULL);
  m->summary = summary;
  m->http_port = (guint) port;
  m->idle_timeout_s = (guint) idle;
  m->request_timeout_s = (guint) request;
  m->max_connections = (guint) max_conns;
  m->output_dir = orrery_plugin_context_get_string (context, "OutputDir", DEFAULT_OUTPUT_DIR);
  if (m->output_dir == NULL || m->output_dir[0] == '\0')
    {
      g_free (m->output_dir);
      m->output_dir = g_strdup (DEFAULT_OUTPUT_DIR);
    }
  m->json_file = orrery_plugin_context_get_string (context, "JsonFile", "metrics.json");
  m->prom_file = orrery_plugin_context_get_string (context, "PrometheusFile", "metrics.prom");
  m->tasks = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, task_rec_free);
  m->devices = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  m->obs_failures = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, obs_failures_free);
  m->durations = g_array_new (FALSE, FALSE, sizeof (gdouble));
  m->waits = g_array_new (FALSE, FALSE, sizeof (gdouble));
  orrery_plugin_context_set_data (context, m, metrics_free);

  if (m->http_port != 0 && !start_http (m, &local))
    {
      g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_INIT_FAILED,
                   "Cannot serve metrics on 127.0.0.1:%u: %s", m->http_port, local->message);
      g_error_free (local);
      return FALSE;
    }

  if (timing && !orrery_event_bus_get_timing (m->bus))
    {
      orrery_event_bus_set_timing (m->bus, TRUE);
      m->timing_enabled_here = TRUE;
    }
  m->failed_handler = g_signal_connect (m->bus, "observer-failed", G_CALLBACK (on_observer_failed), m);

  observer = orrery_func_observer_new ("metrics", metrics_handle, m, NULL);
  orrery_plugin_context_add_observer (context, observer, NULL, 0, ORRERY_DELIVERY_SYNC, 0, 0);
  return TRUE;
}

static void
metrics_shutdown (OrreryPluginContext *context)
{
  Metrics *m = orrery_plugin_context_get_data (context);

  if (m == NULL)
    return;
  g_clear_handle_id (&m->summary_idle, g_source_remove);
  flush_summary (m);
  if (m->timing_enabled_here)
    {
      orrery_event_bus_set_timing (m->bus, FALSE);
      m->timing_enabled_here = FALSE;
    }
  if (m->failed_handler != 0)
    {
      g_signal_handler_disconnect (m->bus, m->failed_handler);
      m->failed_handler = 0;
    }
  stop_http (m);
}

static const OrreryPluginKey metrics_keys[] = {
  { "OutputDir", ORRERY_PLUGIN_KEY_STRING, DEFAULT_OUTPUT_DIR,
    "directory of the JSON and Prometheus files (created if missing)" },
  { "JsonFile", ORRERY_PLUGIN_KEY_STRING, "metrics.json",
    "JSON file written at the end of a run, relative to OutputDir; empty for none" },
  { "PrometheusFile", ORRERY_PLUGIN_KEY_STRING, "metrics.prom",
    "Prometheus text file written at the end of a run, relative to OutputDir; empty for none" },
  { "Summary", ORRERY_PLUGIN_KEY_BOOLEAN, "true",
    "print a summary table on standard output at the end of a run" },
  { "HttpPort", ORRERY_PLUGIN_KEY_UINT, "0",
    "serve /metrics on 127.0.0.1 at this port; 0 for no server" },
  { "MaxConnections", ORRERY_PLUGIN_KEY_UINT, "16",
    "most /metrics connections open at once (1-1024); one more is answered 503 and closed" },
  { "IdleTimeoutSec", ORRERY_PLUGIN_KEY_UINT, "5",
    "a /metrics connection on which nothing moves for this long is closed (1-3600)" },
  { "RequestTimeoutSec", ORRERY_PLUGIN_KEY_UINT, "15",
    "a /metrics connection is closed this long after it was accepted, answered or not (1-3600)" },
  { "ObserverTiming", ORRERY_PLUGIN_KEY_BOOLEAN, "true",
    "have the bus measure each observer's handling time (two clock reads per delivery)" },
  { NULL }
};

ORRERY_PLUGIN_DEFINE ("metrics", "1.0",
                      "Run metrics: summary table, JSON, Prometheus file and /metrics endpoint",
                      metrics_init, metrics_shutdown, metrics_keys)
