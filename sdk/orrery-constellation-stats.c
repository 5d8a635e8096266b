/* orrery-constellation-stats.c: statistics of a constellation.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-Constellation"

#include "orrery-constellation-private.h"

/* What the statistics take from the graph's shape alone: computed once
 * per shape (OrreryConstellation.shape_serial), so the statistics of a run's
 * last event, of a graph that did not change during the run, cost one
 * pass over the tasks' run states instead of three (the topological sort,
 * the per-task pass, the longest paths): the end of a cancelled run of
 * 100k tasks waited 20-70 ms for them under load. */
struct _OrreryStatsCache
{
  guint64   serial;
  guint     n;
  gboolean  acyclic;
  guint    *order;          /* topological order (acyclic only) */
  guint    *depth;          /* by task index */
  guint     max_width;
  guint     longest;        /* tasks on the longest path (0: none) */
  GVariant *longest_path;   /* as */
  GVariant *by_device;      /* a{su} */
  GVariant *by_type;        /* a{su} */
};

void
_orrery_stats_cache_free (struct _OrreryStatsCache *cache)
{
  g_free (cache->order);
  g_free (cache->depth);
  g_clear_pointer (&cache->longest_path, g_variant_unref);
  g_clear_pointer (&cache->by_device, g_variant_unref);
  g_clear_pointer (&cache->by_type, g_variant_unref);
  g_free (cache);
}

static GVariant *
path_variant (OrreryConstellation *self,
              const guint         *pred,
              guint                last)
{
  g_autoptr(GPtrArray) path = g_ptr_array_new ();
  GVariantBuilder b;

  for (guint k = last; k != G_MAXUINT; k = pred[k])
    g_ptr_array_add (path, ((OrreryTask *) self->tasks->pdata[k])->id);
  g_variant_builder_init (&b, G_VARIANT_TYPE_STRING_ARRAY);
  for (guint i = path->len; i > 0; i--)
    g_variant_builder_add (&b, "s", path->pdata[i - 1]);
  return g_variant_builder_end (&b);
}

static inline void
count_add (GHashTable *counts,
           const char *key,
           guint       n)
{
  if (n == 0)
    return;
  g_hash_table_insert (counts, (gpointer) key,
                       GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (counts, key)) + n));
}

/* orrery_task_get_duration() without the call and the type check. */
static inline gdouble
task_duration (OrreryTask *t)
{
  if (t->state.started_at == 0 || t->state.ended_at < t->state.started_at)
    return 0;
  return (t->state.ended_at - t->state.started_at) / (gdouble) G_USEC_PER_SEC;
}

static GVariant *
count_dict (GHashTable *counts)
{
  GVariantBuilder b;
  GHashTableIter it;
  gpointer k, v;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("a{su}"));
  g_hash_table_iter_init (&it, counts);
  while (g_hash_table_iter_next (&it, &k, &v))
    g_variant_builder_add (&b, "{su}", k, GPOINTER_TO_UINT (v));
  return g_variant_ref_sink (g_variant_builder_end (&b));
}

/* The longest path through the graph, each task weighing @weight[i] (1
 * each when NULL), in the cached topological order: its length, its tasks
 * in *out_path, and the total weight in *out_total. */
static gdouble
longest_path (OrreryConstellation      *self,
              struct _OrreryStatsCache *cache,
              const gdouble            *weight,
              GVariant                **out_path,
              gdouble                  *out_total)
{
  guint n = cache->n;
  g_autofree gdouble *work = g_new (gdouble, n + 1);
  g_autofree guint *pred = g_new (guint, n + 1);
  guint best = G_MAXUINT;
  gdouble total = 0;

  for (guint oi = 0; oi < n; oi++)
    {
      guint i = cache->order[oi];
      OrreryTask *t = self->tasks->pdata[i];
      gdouble w = weight ? weight[i] : 1;

      work[i] = w;
      pred[i] = G_MAXUINT;
      for (guint j = 0; j < t->state.n_in; j++)
        {
          guint p = t->state.in[j]->from->state.index;

          if (work[p] + w > work[i])
            work[i] = work[p] + w, pred[i] = p;
        }
      if (best == G_MAXUINT || work[i] > work[best])
        best = i;
      total += w;
    }
  *out_total = total;
  if (best == G_MAXUINT)
    {
      *out_path = g_variant_ref_sink (g_variant_new_strv (NULL, 0));
      return 0;
    }
  *out_path = g_variant_ref_sink (path_variant (self, pred, best));
  return work[best];
}

/* The shape's figures, from the cache when the shape has not changed. */
static struct _OrreryStatsCache *
shape_figures (OrreryConstellation *self)
{
  struct _OrreryStatsCache *cache = self->stats_cache;
  guint n = self->tasks->len;
  /* Device ids and types are interned: counted by pointer. */
  g_autoptr(GHashTable) by_device = NULL;
  g_autoptr(GHashTable) by_type = NULL;
  g_autofree guint *width = NULL;
  const char *last_dev = NULL, *last_type = NULL;
  guint n_last_dev = 0, n_last_type = 0;
  gdouble total;

  if (cache != NULL && cache->serial == self->shape_serial && cache->n == n)
    return cache;
  g_clear_pointer (&self->stats_cache, _orrery_stats_cache_free);
  cache = self->stats_cache = g_new0 (struct _OrreryStatsCache, 1);
  cache->serial = self->shape_serial;
  cache->n = n;
  cache->order = g_new (guint, n + 1);
  cache->depth = g_new0 (guint, n + 1);
  cache->acyclic = _orrery_constellation_topo (self, cache->order, cache->depth) == n;

  by_device = g_hash_table_new (NULL, NULL);
  by_type = g_hash_table_new (NULL, NULL);
  for (guint i = 0; i < n; i++)
    {
      OrreryTask *t = self->tasks->pdata[i];
      const char *dev = t->target_device_id ? t->target_device_id : "";
      const char *type = t->device_type ? t->device_type : "";

      /* Runs of one device or type (the usual case) cost no lookup. */
      if (dev != last_dev)
        {
          count_add (by_device, last_dev, n_last_dev);
          last_dev = dev, n_last_dev = 0;
        }
      n_last_dev++;
      if (type != last_type)
        {
          count_add (by_type, last_type, n_last_type);
          last_type = type, n_last_type = 0;
        }
      n_last_type++;
    }
  count_add (by_device, last_dev, n_last_dev);
  count_add (by_type, last_type, n_last_type);
  cache->by_device = count_dict (by_device);
  cache->by_type = count_dict (by_type);

  if (!cache->acyclic)
    {
      cache->longest_path = g_variant_ref_sink (g_variant_new_strv (NULL, 0));
      return cache;
    }
  width = g_new0 (guint, n + 1);
  for (guint i = 0; i < n; i++)
    if (++width[cache->depth[i]] > cache->max_width)
      cache->max_width = width[cache->depth[i]];
  cache->longest = (guint) longest_path (self, cache, NULL, &cache->longest_path, &total);
  return cache;
}

void
_orrery_constellation_prepare_statistics (OrreryConstellation *self)
{
  shape_figures (self);
}

/**
 * orrery_constellation_get_statistics:
 * @self: a constellation
 *
 * Computes the statistics of the constellation. What depends on the
 * graph's shape alone (the paths by task count, the widths, the tasks by
 * device) is kept until a task or an edge is added or removed or a task's
 * device requirements change; the rest costs one pass over the tasks (two
 * when every task has finished, for the critical path by duration):
 *
 * - `constellation_id`, `name`, `state` (s), `version` (t)
 * - `total_tasks`, `total_dependencies` (u)
 * - `task_status_counts` (a{su}, by status nick, every status present) and
 *   `completed_tasks`, `failed_tasks`, `skipped_tasks`, `cancelled_tasks`,
 *   `running_tasks`, `pending_tasks` (u; pending counts waiting-dependency too)
 * - `longest_path_length` (u, in tasks) and `longest_path_tasks` (as)
 * - `max_width` (u): the most tasks in one layer (tasks of equal depth)
 * - `critical_path_length` (d), `critical_path_tasks` (as), `total_work`
 *   (d), `parallelism_ratio` (d, total work / critical path) and
 *   `parallelism_calculation_mode` (s): `duration` when every task has
 *   finished with start and end times (lengths in seconds), `node_count`
 *   otherwise (lengths in tasks)
 * - `completed_work` (d): the same measure over the completed tasks
 * - `execution_duration` (d): seconds from the first start to the last end
 *   (0 before any)
 * - `total_task_duration`, `average_task_duration`, `min_task_duration`,
 *   `max_task_duration` (d) over the tasks that ran
 * - `tasks_by_device` and `tasks_by_device_type` (a{su}); unassigned tasks
 *   count under the empty string
 * - `is_acyclic` (b); with a cycle the path figures are 0
 *
 * Returns: (transfer full): the statistics, an `a{sv}` dictionary
 */
GVariant *
orrery_constellation_get_statistics (OrreryConstellation *self)
{
  struct _OrreryStatsCache *shape;
  GVariantDict d;
  GVariantBuilder sc;
  g_autoptr(GVariant) critical_path = NULL;
  gboolean duration_mode = TRUE;
  gdouble total_dur = 0, min_dur = G_MAXDOUBLE, max_dur = 0, total_work = 0, completed_work = 0;
  gdouble critical = 0;
  guint n, n_ran = 0;
  gint64 first_start = G_MAXINT64, last_end = 0;

  g_return_val_if_fail (ORRERY_IS_CONSTELLATION (self), NULL);

  n = self->tasks->len;
  shape = shape_figures (self);

  /* The one pass over the run states. */
  for (guint i = 0; i < n; i++)
    {
      OrreryTask *t = self->tasks->pdata[i];
      const OrreryTaskState *st = &t->state;

      if (st->started_at > 0)
        first_start = MIN (first_start, st->started_at);
      if (st->ended_at > 0)
        last_end = MAX (last_end, st->ended_at);
      if (st->started_at > 0 && st->ended_at >= st->started_at &&
          st->status != ORRERY_TASK_STATUS_SKIPPED && st->status != ORRERY_TASK_STATUS_RUNNING)
        {
          gdouble dur = (st->ended_at - st->started_at) / (gdouble) G_USEC_PER_SEC;

          n_ran++;
          total_dur += dur;
          min_dur = MIN (min_dur, dur);
          max_dur = MAX (max_dur, dur);
        }
      if (!TASK_TERMINAL (t) || st->started_at == 0 || st->ended_at < st->started_at ||
          st->status == ORRERY_TASK_STATUS_SKIPPED)
        duration_mode = FALSE;
    }
  if (n == 0)
    duration_mode = FALSE;

  /* Critical path and work: by duration when every task has its times (a
   * second pass, in the cached order), else by task count, which is the
   * longest path the shape's figures hold already. */
  if (shape->acyclic && duration_mode)
    {
      g_autofree gdouble *weight = g_new (gdouble, n + 1);

      for (guint i = 0; i < n; i++)
        {
          OrreryTask *t = self->tasks->pdata[i];

          weight[i] = task_duration (t);
          if (t->state.status == ORRERY_TASK_STATUS_COMPLETED)
            completed_work += weight[i];
        }
      critical = longest_path (self, shape, weight, &critical_path, &total_work);
    }
  else if (shape->acyclic)
    {
      critical = shape->longest;
      critical_path = g_variant_ref (shape->longest_path);
      total_work = n;
      completed_work = self->status_counts[ORRERY_TASK_STATUS_COMPLETED];
    }
  else
    critical_path = g_variant_ref_sink (g_variant_new_strv (NULL, 0));

  g_variant_dict_init (&d, NULL);
  g_variant_dict_insert (&d, "constellation_id", "s", self->id);
  g_variant_dict_insert (&d, "name", "s", orrery_constellation_get_name (self));
  g_variant_dict_insert (&d, "state", "s", orrery_constellation_state_to_nick (self->state));
  g_variant_dict_insert (&d, "version", "t", self->version);
  g_variant_dict_insert (&d, "total_tasks", "u", n);
  g_variant_dict_insert (&d, "total_dependencies", "u", self->n_deps);
  g_variant_builder_init (&sc, G_VARIANT_TYPE ("a{su}"));
  for (guint s = 0; s <= ORRERY_TASK_STATUS_SKIPPED; s++)
    g_variant_builder_add (&sc, "{su}", orrery_task_status_to_nick (s), self->status_counts[s]);
  g_variant_dict_insert_value (&d, "task_status_counts", g_variant_builder_end (&sc));
  g_variant_dict_insert (&d, "completed_tasks", "u", self->status_counts[ORRERY_TASK_STATUS_COMPLETED]);
  g_variant_dict_insert (&d, "failed_tasks", "u", self->status_counts[ORRERY_TASK_STATUS_FAILED]);
  g_variant_dict_insert (&d, "skipped_tasks", "u", self->status_counts[ORRERY_TASK_STATUS_SKIPPED]);
  g_variant_dict_insert (&d, "cancelled_tasks", "u", self->status_counts[ORRERY_TASK_STATUS_CANCELLED]);
  g_variant_dict_insert (&d, "running_tasks", "u", self->status_counts[ORRERY_TASK_STATUS_RUNNING]);
  g_variant_dict_insert (&d, "pending_tasks", "u", self->status_counts[ORRERY_TASK_STATUS_PENDING] +
                         self->status_counts[ORRERY_TASK_STATUS_WAITING_DEPENDENCY]);
  g_variant_dict_insert (&d, "is_acyclic", "b", shape->acyclic);
  g_variant_dict_insert (&d, "longest_path_length", "u", shape->longest);
  g_variant_dict_insert_value (&d, "longest_path_tasks", shape->longest_path);
  g_variant_dict_insert (&d, "critical_path_length", "d", critical);
  g_variant_dict_insert_value (&d, "critical_path_tasks", critical_path);
  g_variant_dict_insert (&d, "parallelism_ratio", "d", critical > 0 ? total_work / critical : 0.0);
  g_variant_dict_insert (&d, "max_width", "u", shape->max_width);
  g_variant_dict_insert (&d, "total_work", "d", total_work);
  g_variant_dict_insert (&d, "completed_work", "d", completed_work);
  g_variant_dict_insert (&d, "parallelism_calculation_mode", "s", duration_mode ? "duration" : "node_count");
  g_variant_dict_insert (&d, "execution_duration", "d",
                         last_end > 0 && first_start < last_end ? (last_end - first_start) / (gdouble) G_USEC_PER_SEC : 0.0);
  g_variant_dict_insert (&d, "total_task_duration", "d", total_dur);
  g_variant_dict_insert (&d, "average_task_duration", "d", n_ran ? total_dur / n_ran : 0.0);
  g_variant_dict_insert (&d, "min_task_duration", "d", n_ran ? min_dur : 0.0);
  g_variant_dict_insert (&d, "max_task_duration", "d", max_dur);
  g_variant_dict_insert_value (&d, "tasks_by_device", shape->by_device);
  g_variant_dict_insert_value (&d, "tasks_by_device_type", shape->by_type);
  return g_variant_ref_sink (g_variant_dict_end (&d));
}
