/* orrery-constellation-stats.c: statistics of a constellation.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-Constellation"

#include "orrery-constellation-private.h"

static void
add_path (GVariantDict        *d,
          const char          *key,
          OrreryConstellation *self,
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
  g_variant_dict_insert_value (d, key, g_variant_builder_end (&b));
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
  return g_variant_builder_end (&b);
}

/**
 * orrery_constellation_get_statistics:
 * @self: a constellation
 *
 * Computes the statistics of the constellation, one pass over the graph:
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
  GVariantDict d;
  guint n, reached;
  g_autofree guint *order = NULL;
  g_autofree guint *depth = NULL;
  g_autofree guint *nodes = NULL;
  g_autofree gdouble *work = NULL;
  g_autofree guint *pred_n = NULL;
  g_autofree guint *pred_w = NULL;
  g_autofree guint *width = NULL;
  /* Device ids and types are interned: counted by pointer. */
  g_autoptr(GHashTable) by_device = g_hash_table_new (NULL, NULL);
  g_autoptr(GHashTable) by_type = g_hash_table_new (NULL, NULL);
  const char *last_dev = NULL, *last_type = NULL;
  guint n_last_dev = 0, n_last_type = 0;
  GVariantBuilder sc;
  gboolean duration_mode = TRUE, acyclic;
  gdouble total_dur = 0, min_dur = G_MAXDOUBLE, max_dur = 0, total_work = 0, completed_work = 0;
  guint n_ran = 0, best_n = G_MAXUINT, best_w = G_MAXUINT, max_width = 0;
  gint64 first_start = G_MAXINT64, last_end = 0;

  g_return_val_if_fail (ORRERY_IS_CONSTELLATION (self), NULL);

  n = self->tasks->len;
  order = g_new (guint, n + 1);
  depth = g_new0 (guint, n + 1);
  nodes = g_new0 (guint, n + 1);
  work = g_new0 (gdouble, n + 1);
  pred_n = g_new (guint, n + 1);
  pred_w = g_new (guint, n + 1);
  width = g_new0 (guint, n + 1);
  reached = _orrery_constellation_topo (self, order, depth);
  acyclic = reached == n;

  for (guint i = 0; i < n; i++)
    {
      OrreryTask *t = self->tasks->pdata[i];
      gdouble dur = task_duration (t);
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
      if (t->state.started_at > 0)
        first_start = MIN (first_start, t->state.started_at);
      if (t->state.ended_at > 0)
        last_end = MAX (last_end, t->state.ended_at);
      if (t->state.started_at > 0 && t->state.ended_at >= t->state.started_at &&
          t->state.status != ORRERY_TASK_STATUS_SKIPPED && t->state.status != ORRERY_TASK_STATUS_RUNNING)
        {
          n_ran++;
          total_dur += dur;
          min_dur = MIN (min_dur, dur);
          max_dur = MAX (max_dur, dur);
        }
      if (!TASK_TERMINAL (t) || t->state.started_at == 0 || t->state.ended_at < t->state.started_at ||
          t->state.status == ORRERY_TASK_STATUS_SKIPPED)
        duration_mode = FALSE;
    }
  count_add (by_device, last_dev, n_last_dev);
  count_add (by_type, last_type, n_last_type);
  if (n == 0)
    duration_mode = FALSE;

  /* Longest paths, by task count and by duration, in topological order. */
  if (acyclic)
    {
      for (guint oi = 0; oi < n; oi++)
        {
          guint i = order[oi];
          OrreryTask *t = self->tasks->pdata[i];
          gdouble w = duration_mode ? task_duration (t) : 1;

          nodes[i] = 1;
          work[i] = w;
          pred_n[i] = pred_w[i] = G_MAXUINT;
          for (guint j = 0; j < t->state.n_in; j++)
            {
              guint p = t->state.in[j]->from->state.index;

              if (nodes[p] + 1 > nodes[i])
                nodes[i] = nodes[p] + 1, pred_n[i] = p;
              if (work[p] + w > work[i])
                work[i] = work[p] + w, pred_w[i] = p;
            }
          if (best_n == G_MAXUINT || nodes[i] > nodes[best_n])
            best_n = i;
          if (best_w == G_MAXUINT || work[i] > work[best_w])
            best_w = i;
          if (++width[depth[i]] > max_width)
            max_width = width[depth[i]];
          total_work += w;
          if (t->state.status == ORRERY_TASK_STATUS_COMPLETED)
            completed_work += w;
        }
    }

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
  g_variant_dict_insert (&d, "is_acyclic", "b", acyclic);

  if (acyclic && n > 0)
    {
      g_variant_dict_insert (&d, "longest_path_length", "u", nodes[best_n]);
      add_path (&d, "longest_path_tasks", self, pred_n, best_n);
      g_variant_dict_insert (&d, "critical_path_length", "d", work[best_w]);
      add_path (&d, "critical_path_tasks", self, pred_w, best_w);
      g_variant_dict_insert (&d, "parallelism_ratio", "d", work[best_w] > 0 ? total_work / work[best_w] : 0.0);
    }
  else
    {
      g_variant_dict_insert (&d, "longest_path_length", "u", 0);
      g_variant_dict_insert_value (&d, "longest_path_tasks", g_variant_new_strv (NULL, 0));
      g_variant_dict_insert (&d, "critical_path_length", "d", 0.0);
      g_variant_dict_insert_value (&d, "critical_path_tasks", g_variant_new_strv (NULL, 0));
      g_variant_dict_insert (&d, "parallelism_ratio", "d", 0.0);
    }
  g_variant_dict_insert (&d, "max_width", "u", max_width);
  g_variant_dict_insert (&d, "total_work", "d", total_work);
  g_variant_dict_insert (&d, "completed_work", "d", completed_work);
  g_variant_dict_insert (&d, "parallelism_calculation_mode", "s", duration_mode ? "duration" : "node_count");
  g_variant_dict_insert (&d, "execution_duration", "d",
                         last_end > 0 && first_start < last_end ? (last_end - first_start) / (gdouble) G_USEC_PER_SEC : 0.0);
  g_variant_dict_insert (&d, "total_task_duration", "d", total_dur);
  g_variant_dict_insert (&d, "average_task_duration", "d", n_ran ? total_dur / n_ran : 0.0);
  g_variant_dict_insert (&d, "min_task_duration", "d", n_ran ? min_dur : 0.0);
  g_variant_dict_insert (&d, "max_task_duration", "d", max_dur);
  g_variant_dict_insert_value (&d, "tasks_by_device", count_dict (by_device));
  g_variant_dict_insert_value (&d, "tasks_by_device_type", count_dict (by_type));
  return g_variant_ref_sink (g_variant_dict_end (&d));
}
