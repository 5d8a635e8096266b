/* orrery-constellation-edit.c: atomic edit batches.
 *
 * A batch is checked as a whole before anything changes: each edit is
 * checked in order against the graph as the earlier edits of the batch
 * would leave it (an overlay of added and removed tasks and edges), then
 * every new edge is checked for a cycle in that final graph. Only then are
 * the edits applied, so a rejected batch leaves no trace.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-Constellation"

#include "orrery-constellation-private.h"

typedef struct
{
  OrreryConstellation *self;
  GHashTable          *added;     /* id -> OrreryTask (new in the batch) */
  GHashTable          *removed;   /* id of an original task removed */
  GHashTable          *edges;     /* "from\037to" -> GINT_TO_POINTER (present + 1) */
} Overlay;

static char *
edge_key (const char *from,
          const char *to)
{
  return g_strconcat (from, "\037", to, NULL);
}

static OrreryTask *
ov_task (Overlay    *ov,
         const char *id)
{
  OrreryTask *t = g_hash_table_lookup (ov->added, id);

  if (t)
    return t;
  if (g_hash_table_contains (ov->removed, id))
    return NULL;
  return g_hash_table_lookup (ov->self->by_id, id);
}

static gboolean
ov_edge_exists (Overlay    *ov,
                const char *from,
                const char *to)
{
  g_autofree char *key = edge_key (from, to);
  gpointer v;
  OrreryTask *f, *t;

  if (g_hash_table_lookup_extended (ov->edges, key, NULL, &v))
    return GPOINTER_TO_INT (v) == 2;
  if (g_hash_table_contains (ov->removed, from) || g_hash_table_contains (ov->removed, to) ||
      g_hash_table_contains (ov->added, from) || g_hash_table_contains (ov->added, to))
    return FALSE;
  f = g_hash_table_lookup (ov->self->by_id, from);
  t = g_hash_table_lookup (ov->self->by_id, to);
  return f && t && _orrery_constellation_find_edge (f, t) != NULL;
}

/* The successors of @id in the final graph. */
static void
ov_successors (Overlay    *ov,
               const char *id,
               GPtrArray  *out)
{
  GHashTableIter it;
  gpointer key, value;
  gsize idlen = strlen (id);

  if (!g_hash_table_contains (ov->added, id) && !g_hash_table_contains (ov->removed, id))
    {
      OrreryTask *t = g_hash_table_lookup (ov->self->by_id, id);

      for (guint i = 0; t && i < t->state.n_out; i++)
        {
          const char *to = t->state.out[i]->to->id;

          if (ov_edge_exists (ov, id, to))
            g_ptr_array_add (out, (gpointer) to);
        }
    }
  g_hash_table_iter_init (&it, ov->edges);
  while (g_hash_table_iter_next (&it, &key, &value))
    {
      const char *k = key;

      if (GPOINTER_TO_INT (value) == 2 && strncmp (k, id, idlen) == 0 && k[idlen] == '\037')
        {
          const char *to = k + idlen + 1;
          /* Original edges were added above already. */
          OrreryTask *f = g_hash_table_lookup (ov->self->by_id, id);
          OrreryTask *tt = g_hash_table_lookup (ov->self->by_id, to);
          gboolean original = f && tt && !g_hash_table_contains (ov->added, id) &&
                              !g_hash_table_contains (ov->removed, id) &&
                              !g_hash_table_contains (ov->added, to) &&
                              !g_hash_table_contains (ov->removed, to) &&
                              _orrery_constellation_find_edge (f, tt);
          if (!original)
            g_ptr_array_add (out, (gpointer) to);
        }
    }
}

/* Looks for a path from @start to @goal in the final graph; returns it as
 * text ("goal → start → ... → goal") when there is one. */
static char *
ov_find_cycle (Overlay    *ov,
               const char *goal,
               const char *start)
{
  g_autoptr(GHashTable) parent = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GPtrArray) stack = g_ptr_array_new ();
  g_autoptr(GPtrArray) succ = g_ptr_array_new ();

  g_hash_table_insert (parent, (gpointer) start, NULL);
  g_ptr_array_add (stack, (gpointer) start);
  while (stack->len > 0)
    {
      const char *cur = g_ptr_array_steal_index_fast (stack, stack->len - 1);

      if (strcmp (cur, goal) == 0)
        {
          g_autoptr(GPtrArray) path = g_ptr_array_new ();
          GString *t = g_string_new (goal);

          /* path: goal, ..., start (parents); the new edge goal → start closes it. */
          for (const char *p = cur; p != NULL; p = g_hash_table_lookup (parent, p))
            g_ptr_array_add (path, (gpointer) p);
          for (guint i = path->len; i > 0; i--)
            g_string_append_printf (t, " → %s", (char *) path->pdata[i - 1]);
          return g_string_free (t, FALSE);
        }
      g_ptr_array_set_size (succ, 0);
      ov_successors (ov, cur, succ);
      for (guint i = 0; i < succ->len; i++)
        if (!g_hash_table_contains (parent, succ->pdata[i]))
          {
            g_hash_table_insert (parent, succ->pdata[i], (gpointer) cur);
            g_ptr_array_add (stack, succ->pdata[i]);
          }
    }
  return NULL;
}

static const char *const update_keys[] = {
  "name", "description", "tips", "target_device_id", "device_type", "priority",
  "timeout", "retry_count", "task_data", NULL,
};

static gboolean
check_changes (GVariant  *changes,
               GString   *what,
               GError   **error)
{
  GVariantIter it;
  const char *key;
  GVariant *value;

  g_variant_iter_init (&it, changes);
  while (g_variant_iter_loop (&it, "{&sv}", &key, &value))
    {
      const char *rule = NULL;
      OrreryConstellationError code = ORRERY_CONSTELLATION_ERROR_WRONG_TYPE;

      if (!g_strv_contains (update_keys, key))
        {
          code = ORRERY_CONSTELLATION_ERROR_BAD_VALUE;
          rule = "not a field that can be changed (name, description, tips, target_device_id, "
                 "device_type, priority, timeout, retry_count, task_data)";
        }
      else if (g_str_equal (key, "priority"))
        {
          if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
            {
              if (!orrery_task_priority_from_string (g_variant_get_string (value, NULL), NULL))
                code = ORRERY_CONSTELLATION_ERROR_BAD_ENUM, rule = "unknown priority";
            }
          else if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT32) ||
                   g_variant_is_of_type (value, G_VARIANT_TYPE_INT64) ||
                   g_variant_is_of_type (value, G_VARIANT_TYPE_UINT32))
            {
              gint64 p = g_variant_is_of_type (value, G_VARIANT_TYPE_INT64) ? g_variant_get_int64 (value)
                       : g_variant_is_of_type (value, G_VARIANT_TYPE_INT32) ? (gint64) g_variant_get_int32 (value)
                       : (gint64) g_variant_get_uint32 (value);
              if (p < ORRERY_TASK_PRIORITY_LOW || p > ORRERY_TASK_PRIORITY_CRITICAL)
                code = ORRERY_CONSTELLATION_ERROR_BAD_ENUM, rule = "priority out of range 1-4";
            }
          else
            rule = "priority must be a number or a name";
        }
      else if (g_str_equal (key, "tips"))
        {
          if (!g_variant_is_of_type (value, G_VARIANT_TYPE_STRING_ARRAY))
            rule = "tips must be an array of strings (as)";
        }
      else if (g_str_equal (key, "task_data"))
        {
          if (!g_variant_is_of_type (value, G_VARIANT_TYPE_VARDICT))
            rule = "task_data must be a dictionary (a{sv})";
        }
      else if (g_str_equal (key, "timeout"))
        {
          if (!g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE) &&
              !g_variant_is_of_type (value, G_VARIANT_TYPE_INT32) &&
              !g_variant_is_of_type (value, G_VARIANT_TYPE_INT64))
            rule = "timeout must be a number of seconds";
        }
      else if (g_str_equal (key, "retry_count"))
        {
          if (!g_variant_is_of_type (value, G_VARIANT_TYPE_INT32) &&
              !g_variant_is_of_type (value, G_VARIANT_TYPE_UINT32) &&
              !g_variant_is_of_type (value, G_VARIANT_TYPE_INT64))
            rule = "retry_count must be an integer";
        }
      else if (!g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
        rule = "must be a string";

      if (rule)
        {
          g_set_error (error, ORRERY_CONSTELLATION_ERROR, code, "%s: field “%s”: %s", what->str, key, rule);
          /* Leaving g_variant_iter_loop() early: the current value is ours. */
          g_variant_unref (value);
          return FALSE;
        }
    }
  return TRUE;
}

static gint64
variant_int (GVariant *v)
{
  if (g_variant_is_of_type (v, G_VARIANT_TYPE_INT64))
    return g_variant_get_int64 (v);
  if (g_variant_is_of_type (v, G_VARIANT_TYPE_UINT32))
    return g_variant_get_uint32 (v);
  if (g_variant_is_of_type (v, G_VARIANT_TYPE_DOUBLE))
    return (gint64) g_variant_get_double (v);
  return g_variant_get_int32 (v);
}

static void
apply_changes (OrreryTask *t,
               GVariant   *changes)
{
  GVariantIter it;
  const char *key;
  GVariant *value;

  g_variant_iter_init (&it, changes);
  while (g_variant_iter_loop (&it, "{&sv}", &key, &value))
    {
      if (g_str_equal (key, "name"))
        orrery_task_set_name (t, g_variant_get_string (value, NULL));
      else if (g_str_equal (key, "description"))
        orrery_task_set_description (t, g_variant_get_string (value, NULL));
      else if (g_str_equal (key, "tips"))
        {
          g_autofree const char **tips = g_variant_get_strv (value, NULL);
          orrery_task_set_tips (t, tips);
        }
      else if (g_str_equal (key, "target_device_id"))
        orrery_task_set_target_device_id (t, g_variant_get_string (value, NULL));
      else if (g_str_equal (key, "device_type"))
        orrery_task_set_device_type (t, g_variant_get_string (value, NULL));
      else if (g_str_equal (key, "priority"))
        {
          OrreryTaskPriority p = ORRERY_TASK_PRIORITY_MEDIUM;

          if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
            orrery_task_priority_from_string (g_variant_get_string (value, NULL), &p);
          else
            p = variant_int (value);
          orrery_task_set_priority (t, p);
        }
      else if (g_str_equal (key, "timeout"))
        orrery_task_set_timeout (t, g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE)
                                    ? g_variant_get_double (value) : variant_int (value));
      else if (g_str_equal (key, "retry_count"))
        orrery_task_set_retry_count (t, (guint) MAX (variant_int (value), 0));
      else if (g_str_equal (key, "task_data"))
        orrery_task_set_task_data (t, value);
    }
}

static void
describe_edit (GString    *s,
               guint       index,
               OrreryEdit *e)
{
  g_string_printf (s, "edit %u (%s ", index, _orrery_edit_kind_name (e->kind));
  switch (e->kind)
    {
    case EDIT_ADD_TASK: g_string_append (s, orrery_task_get_id (e->task)); break;
    case EDIT_REMOVE_TASK:
    case EDIT_UPDATE_TASK: g_string_append (s, e->task_id); break;
    default: g_string_append_printf (s, "%s → %s", e->from_id, e->to_id); break;
    }
  g_string_append_c (s, ')');
}

#define REJECT(code, ...) \
  G_STMT_START { \
    g_set_error (error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_##code, __VA_ARGS__); \
    goto out; \
  } G_STMT_END

static gboolean
check_batch (Overlay   *ov,
             GArray    *edits,
             GError   **error)
{
  g_autoptr(GString) what = g_string_new (NULL);
  gboolean ok = FALSE;

  for (guint i = 0; i < edits->len; i++)
    {
      OrreryEdit *e = &g_array_index (edits, OrreryEdit, i);
      OrreryTask *t, *f;

      describe_edit (what, i, e);
      switch (e->kind)
        {
        case EDIT_ADD_TASK:
          if (e->task->state.owner != NULL)
            REJECT (TASK_OWNED, "%s: the task already belongs to a constellation", what->str);
          if (!TASK_NOT_STARTED (e->task))
            REJECT (TASK_DISPATCHED, "%s: a new task must be pending, not %s", what->str,
                    orrery_task_status_to_nick (e->task->state.status));
          /* An id that a saved constellation could not load back. */
          if (e->task->id == NULL || e->task->id[0] == '\0')
            REJECT (MISSING_FIELD, "%s: a task needs a non-empty id", what->str);
          if (!g_utf8_validate (e->task->id, -1, NULL))
            REJECT (NOT_UTF8, "%s: the task id is not valid UTF-8", what->str);
          if (ov_task (ov, e->task->id))
            REJECT (DUPLICATE_ID, "%s: duplicate task id “%s”", what->str, e->task->id);
          g_hash_table_insert (ov->added, e->task->id, e->task);
          break;

        case EDIT_REMOVE_TASK:
        case EDIT_UPDATE_TASK:
          if ((t = ov_task (ov, e->task_id)) == NULL)
            REJECT (UNKNOWN_TASK, "%s: unknown task “%s”", what->str, e->task_id);
          if (!TASK_NOT_STARTED (t))
            REJECT (TASK_DISPATCHED, "%s: task “%s” is %s; only tasks not yet dispatched can change",
                    what->str, e->task_id, orrery_task_status_to_nick (t->state.status));
          if (e->kind == EDIT_UPDATE_TASK)
            {
              if (!check_changes (e->changes, what, error))
                goto out;
              break;
            }
          if (!g_hash_table_remove (ov->added, e->task_id))
            g_hash_table_add (ov->removed, t->id);
          {
            /* Edges of the batch touching the task go with it. */
            GHashTableIter it;
            gpointer key, value;
            gsize len = strlen (e->task_id);

            g_hash_table_iter_init (&it, ov->edges);
            while (g_hash_table_iter_next (&it, &key, &value))
              {
                const char *k = key;
                const char *sep = strchr (k, '\037');

                if ((strncmp (k, e->task_id, len) == 0 && k[len] == '\037') || g_str_equal (sep + 1, e->task_id))
                  g_hash_table_iter_replace (&it, GINT_TO_POINTER (1));
              }
          }
          break;

        case EDIT_ADD_DEPENDENCY:
        case EDIT_REMOVE_DEPENDENCY:
          f = ov_task (ov, e->from_id);
          t = ov_task (ov, e->to_id);
          if (f == NULL || t == NULL)
            REJECT (UNKNOWN_TASK, "%s: unknown task “%s”", what->str, f == NULL ? e->from_id : e->to_id);
          if (!TASK_NOT_STARTED (t))
            REJECT (TASK_DISPATCHED, "%s: task “%s” is %s; the dependencies of a dispatched task cannot change",
                    what->str, e->to_id, orrery_task_status_to_nick (t->state.status));
          if (e->kind == EDIT_ADD_DEPENDENCY)
            {
              if (f == t)
                REJECT (SELF_DEPENDENCY, "%s: a task cannot depend on itself", what->str);
              if ((guint) e->dep_type > ORRERY_DEPENDENCY_CONDITIONAL)
                REJECT (BAD_ENUM, "%s: unknown dependency type %d", what->str, e->dep_type);
              if (ov_edge_exists (ov, e->from_id, e->to_id))
                REJECT (DUPLICATE_DEPENDENCY, "%s: the dependency already exists", what->str);
              g_hash_table_insert (ov->edges, edge_key (e->from_id, e->to_id), GINT_TO_POINTER (2));
            }
          else
            {
              if (!ov_edge_exists (ov, e->from_id, e->to_id))
                REJECT (UNKNOWN_DEPENDENCY, "%s: no such dependency", what->str);
              g_hash_table_insert (ov->edges, edge_key (e->from_id, e->to_id), GINT_TO_POINTER (1));
            }
          break;
        }
    }

  /* Cycles: for each new edge still present, is there a path back? */
  for (guint i = 0; i < edits->len; i++)
    {
      OrreryEdit *e = &g_array_index (edits, OrreryEdit, i);
      g_autofree char *cycle = NULL;

      if (e->kind != EDIT_ADD_DEPENDENCY || !ov_edge_exists (ov, e->from_id, e->to_id))
        continue;
      cycle = ov_find_cycle (ov, e->from_id, e->to_id);
      if (cycle)
        {
          describe_edit (what, i, e);
          REJECT (CYCLE, "%s: would create a cycle: %s", what->str, cycle);
        }
    }
  ok = TRUE;
out:
  return ok;
}

static GVariant *
mod_entry (const char *type,
           const char *task_id,
           const char *from,
           const char *to,
           OrreryEdit *e)
{
  GVariantDict d;

  g_variant_dict_init (&d, NULL);
  g_variant_dict_insert (&d, "type", "s", type);
  if (task_id)
    g_variant_dict_insert (&d, "task_id", "s", task_id);
  if (from)
    {
      g_variant_dict_insert (&d, "from_task_id", "s", from);
      g_variant_dict_insert (&d, "to_task_id", "s", to);
    }
  if (e && e->kind == EDIT_ADD_DEPENDENCY)
    {
      g_variant_dict_insert (&d, "dependency_type", "s", orrery_dependency_type_to_nick (e->dep_type));
      if (e->condition)
        {
          g_autofree char *c = orrery_condition_to_string (e->condition);
          g_variant_dict_insert (&d, "condition", "s", c);
        }
    }
  if (e && e->kind == EDIT_UPDATE_TASK)
    g_variant_dict_insert_value (&d, "changes", e->changes);
  return g_variant_dict_end (&d);
}

void
_orrery_constellation_set_remote_edits (OrreryConstellation            *self,
                                        OrreryConstellationRemoteEdits  func,
                                        gpointer                        data)
{
  self->remote_edits = func;
  self->remote_edits_data = data;
}

/**
 * orrery_constellation_apply_edits:
 * @self: a constellation
 * @batch: the edits
 * @error: return location for an error
 *
 * Applies a batch of edits, all or nothing. The batch is checked as a
 * whole: ids exist and are unique, only tasks not yet dispatched change (a
 * running or finished task is never altered, nor are its dependencies),
 * the graph stays acyclic. A rejected batch leaves the constellation
 * exactly as it was, and @error says which edit (by index and content)
 * broke which rule; a cycle names its members.
 *
 * An applied batch bumps #OrreryConstellation:version and emits
 * #OrreryConstellation::modified. A dependent that an edit leaves unable
 * to run (a new success-only edge from a failed task, say) becomes
 * skipped, and is listed as a `skip_task` modification.
 *
 * Returns: (transfer full) (nullable): the modifications, an `aa{sv}` with
 *   `type` (`add_task`, `remove_task`, `update_task`, `add_dependency`,
 *   `remove_dependency`, `skip_task`, `task_ready`) and `task_id` or
 *   `from_task_id`/`to_task_id`, plus `dependency_type`, `condition` and
 *   `changes` where they apply; %NULL with @error set
 */
GVariant *
orrery_constellation_apply_edits (OrreryConstellation  *self,
                                  OrreryEditBatch      *batch,
                                  GError              **error)
{
  GArray *edits;
  Overlay ov = { 0 };
  gboolean ok;
  GVariantBuilder mods;
  g_autoptr(GPtrArray) touched = NULL;
  g_autoptr(GPtrArray) newly_ready = NULL;
  g_autoptr(GPtrArray) skipped = NULL;
  GVariant *result;

  g_return_val_if_fail (ORRERY_IS_CONSTELLATION (self), NULL);
  g_return_val_if_fail (ORRERY_IS_EDIT_BATCH (batch), NULL);

  if (self->remote_edits != NULL)
    return self->remote_edits (self, batch, self->remote_edits_data, error);
  edits = _orrery_edit_batch_peek_edits (batch);
  ov.self = self;
  ov.added = g_hash_table_new (g_str_hash, g_str_equal);
  ov.removed = g_hash_table_new (g_str_hash, g_str_equal);
  ov.edges = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  ok = check_batch (&ov, edits, error);
  g_hash_table_unref (ov.added);
  g_hash_table_unref (ov.removed);
  g_hash_table_unref (ov.edges);
  if (!ok)
    return NULL;

  _orrery_constellation_ensure_ready (self, NULL);
  touched = g_ptr_array_new_with_free_func (g_object_unref);
  newly_ready = g_ptr_array_new ();
  skipped = g_ptr_array_new ();
  g_variant_builder_init (&mods, G_VARIANT_TYPE ("aa{sv}"));

  for (guint i = 0; i < edits->len; i++)
    {
      OrreryEdit *e = &g_array_index (edits, OrreryEdit, i);
      OrreryTask *t, *f;

      switch (e->kind)
        {
        case EDIT_ADD_TASK:
          _orrery_constellation_add_task_internal (self, e->task);
          g_ptr_array_add (touched, g_object_ref (e->task));
          g_variant_builder_add_value (&mods, mod_entry ("add_task", e->task->id, NULL, NULL, e));
          break;
        case EDIT_REMOVE_TASK:
          t = g_hash_table_lookup (self->by_id, e->task_id);
          for (guint j = 0; j < t->state.n_out; j++)
            g_ptr_array_add (touched, g_object_ref (t->state.out[j]->to));
          /* An earlier edit of the batch may have made it ready or skipped
           * it: those lists hold no reference, and a removed task is
           * neither. */
          while (g_ptr_array_remove (newly_ready, t))
            ;
          while (g_ptr_array_remove (skipped, t))
            ;
          _orrery_constellation_remove_task_internal (self, t);
          g_variant_builder_add_value (&mods, mod_entry ("remove_task", e->task_id, NULL, NULL, e));
          break;
        case EDIT_UPDATE_TASK:
          t = g_hash_table_lookup (self->by_id, e->task_id);
          apply_changes (t, e->changes);
          g_variant_builder_add_value (&mods, mod_entry ("update_task", e->task_id, NULL, NULL, e));
          break;
        case EDIT_ADD_DEPENDENCY:
          f = g_hash_table_lookup (self->by_id, e->from_id);
          t = g_hash_table_lookup (self->by_id, e->to_id);
          _orrery_constellation_link (self, f, t, e->dep_type, e->condition, newly_ready, skipped);
          g_ptr_array_add (touched, g_object_ref (t));
          g_variant_builder_add_value (&mods, mod_entry ("add_dependency", NULL, e->from_id, e->to_id, e));
          break;
        case EDIT_REMOVE_DEPENDENCY:
          f = g_hash_table_lookup (self->by_id, e->from_id);
          t = g_hash_table_lookup (self->by_id, e->to_id);
          _orrery_constellation_unlink (self, _orrery_constellation_find_edge (f, t));
          g_ptr_array_add (touched, g_object_ref (t));
          g_variant_builder_add_value (&mods, mod_entry ("remove_dependency", NULL, e->from_id, e->to_id, e));
          break;
        }
    }

  for (guint i = 0; i < touched->len; i++)
    {
      OrreryTask *t = touched->pdata[i];

      if (t->state.owner == self)
        _orrery_constellation_settle (self, t, newly_ready, skipped);
    }
  for (guint i = 0; i < skipped->len; i++)
    g_variant_builder_add_value (&mods, mod_entry ("skip_task", ((OrreryTask *) skipped->pdata[i])->id,
                                                   NULL, NULL, NULL));
  for (guint i = 0; i < newly_ready->len; i++)
    {
      OrreryTask *t = newly_ready->pdata[i];

      /* Only report tasks that stayed ready and were not ready before. */
      if (t->state.owner == self && t->state.ready_iter != NULL)
        g_variant_builder_add_value (&mods, mod_entry ("task_ready", t->id, NULL, NULL, NULL));
    }

  result = g_variant_ref_sink (g_variant_builder_end (&mods));
  _orrery_constellation_emit_modified (self, result, orrery_edit_batch_get_on_task_ids (batch));
  return result;
}
