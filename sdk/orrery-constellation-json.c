/* orrery-constellation-json.c: reading and writing constellations as JSON.
 *
 * Orrery reads what UFO Galaxy writes: `tasks` and `dependencies` as
 * objects keyed by id or as arrays, enum names in any case, UFO's field
 * names (`task_id`, `from_task_id`, `to_task_id`, `dependency_type`,
 * `target_device_id`, `task_data`, `retry_count`, `current_retry`,
 * `execution_start_time`, ...). Fields it does not know are kept and
 * written back. It writes the same vocabulary (keyed objects), so a saved
 * constellation loads back the same, statuses, results and times included.
 *
 * The loader reports every problem it finds, each as `NAME: $.json.path:
 * rule`; the returned error carries the code of the first one and all of
 * them in its message, one a line.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-Constellation"

#include "orrery-constellation-private.h"

#define MAX_PROBLEMS 200

typedef struct
{
  const char          *name;
  OrreryConstellation *c;
  GPtrArray           *problems;   /* GError */
  GHashTable          *lists;      /* OrreryTask -> JsonObject holding dependencies/dependents */
  gboolean             has_dep_lines;
} Loader;

static void G_GNUC_PRINTF (4, 5)
problem (Loader                    *l,
         OrreryConstellationError   code,
         const char                *path,
         const char                *format,
         ...)
{
  va_list args;
  g_autofree char *msg = NULL;

  if (l->problems->len >= MAX_PROBLEMS)
    return;
  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_ptr_array_add (l->problems, g_error_new (ORRERY_CONSTELLATION_ERROR, code, "%s: %s: %s",
                                             l->name, path, msg));
  if (l->problems->len == MAX_PROBLEMS)
    g_ptr_array_add (l->problems, g_error_new (ORRERY_CONSTELLATION_ERROR, code,
                                               "%s: too many problems, giving up", l->name));
}

static const char *
json_type_name (JsonNode *node)
{
  if (JSON_NODE_HOLDS_NULL (node))
    return "null";
  if (JSON_NODE_HOLDS_OBJECT (node))
    return "an object";
  if (JSON_NODE_HOLDS_ARRAY (node))
    return "an array";
  switch (json_node_get_value_type (node))
    {
    case G_TYPE_STRING: return "a string";
    case G_TYPE_BOOLEAN: return "a boolean";
    default: return "a number";
    }
}

static gboolean
is_string (JsonNode *n)
{
  return JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING;
}

static gboolean
is_number (JsonNode *n)
{
  return JSON_NODE_HOLDS_VALUE (n) && (json_node_get_value_type (n) == G_TYPE_INT64 ||
                                       json_node_get_value_type (n) == G_TYPE_DOUBLE);
}

static gboolean
is_int (JsonNode *n)
{
  return JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_INT64;
}

static void
wrong_type (Loader     *l,
            const char *path,
            JsonNode   *node,
            const char *expected)
{
  problem (l, ORRERY_CONSTELLATION_ERROR_WRONG_TYPE, path, "wrong type: expected %s, found %s",
           expected, json_type_name (node));
}

/* A string member, or NULL (absent or null); wrong types are reported. */
static const char *
get_string (Loader     *l,
            const char *base,
            JsonObject *obj,
            const char *member)
{
  JsonNode *n = json_object_get_member (obj, member);

  if (n == NULL || JSON_NODE_HOLDS_NULL (n))
    return NULL;
  if (!is_string (n))
    {
      g_autofree char *path = g_strdup_printf ("%s.%s", base, member);
      wrong_type (l, path, n, "a string");
      return NULL;
    }
  return json_node_get_string (n);
}

static gint64
parse_time (Loader     *l,
            const char *base,
            JsonObject *obj,
            const char *member)
{
  JsonNode *n = json_object_get_member (obj, member);
  g_autofree char *path = NULL;

  if (n == NULL || JSON_NODE_HOLDS_NULL (n))
    return 0;
  path = g_strdup_printf ("%s.%s", base, member);
  if (is_number (n))
    return (gint64) (json_node_get_double (n) * G_USEC_PER_SEC);
  if (is_string (n))
    {
      g_autoptr(GTimeZone) utc = g_time_zone_new_utc ();
      g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601 (json_node_get_string (n), utc);

      if (dt)
        return g_date_time_to_unix (dt) * G_USEC_PER_SEC + g_date_time_get_microsecond (dt);
      problem (l, ORRERY_CONSTELLATION_ERROR_BAD_VALUE, path, "“%s” is not an ISO 8601 time",
               json_node_get_string (n));
      return 0;
    }
  wrong_type (l, path, n, "an ISO 8601 time string or seconds since the epoch");
  return 0;
}

static char *
format_time (gint64 usec)
{
  g_autoptr(GDateTime) base = g_date_time_new_from_unix_utc (usec / G_USEC_PER_SEC);
  g_autoptr(GDateTime) dt = g_date_time_add (base, usec % G_USEC_PER_SEC);

  return g_date_time_format_iso8601 (dt);
}

static GVariant *
to_variant (Loader     *l,
            const char *path,
            JsonNode   *n)
{
  g_autoptr(GError) err = NULL;
  GVariant *v;

  if (JSON_NODE_HOLDS_ARRAY (n) && json_array_get_length (json_node_get_array (n)) == 0)
    return g_variant_ref_sink (g_variant_new_array (G_VARIANT_TYPE_VARIANT, NULL, 0));
  v = json_gvariant_deserialize (n, NULL, &err);
  if (v == NULL)
    problem (l, ORRERY_CONSTELLATION_ERROR_BAD_VALUE, path, "cannot be represented: %s",
             err ? err->message : "unknown reason");
  return v ? g_variant_ref_sink (v) : NULL;
}

static const char *const task_known[] = {
  "task_id", "id", "name", "description", "task_description", "tips", "target_device_id",
  "device_type", "priority", "status", "result", "error", "timeout", "retry_count",
  "current_retry", "attempt", "task_data", "created_at", "execution_start_time",
  "execution_end_time", "started_at", "ended_at", "execution_duration", "dependencies",
  "dependents", NULL,
};

static void
load_task (Loader     *l,
           const char *path,
           const char *key,
           JsonNode   *node)
{
  JsonObject *obj;
  JsonNode *n;
  const char *id, *s;
  OrreryTask *t;
  g_autofree char *p = NULL;
  JsonObject *extra = NULL;
  GList *members;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      wrong_type (l, path, node, "a task object");
      return;
    }
  obj = json_node_get_object (node);
  id = get_string (l, path, obj, "task_id");
  if (id == NULL)
    id = get_string (l, path, obj, "id");
  if (id == NULL)
    id = key;
  if (id == NULL || *id == '\0')
    {
      problem (l, ORRERY_CONSTELLATION_ERROR_MISSING_FIELD, path, "missing field: a task needs a \"task_id\"");
      return;
    }
  if (key && strcmp (key, id) != 0)
    problem (l, ORRERY_CONSTELLATION_ERROR_BAD_VALUE, path, "task_id “%s” differs from its key “%s”", id, key);
  if (g_hash_table_contains (l->c->by_id, id))
    {
      problem (l, ORRERY_CONSTELLATION_ERROR_DUPLICATE_ID, path, "duplicate task id “%s”", id);
      return;
    }

  t = _orrery_task_new_fast (id);
  t->name = g_strdup (get_string (l, path, obj, "name"));
  t->description = g_strdup (get_string (l, path, obj, "description"));
  if (t->description == NULL)
    t->description = g_strdup (get_string (l, path, obj, "task_description"));
  if ((s = get_string (l, path, obj, "target_device_id")) && *s)
    t->target_device_id = g_intern_string (s);
  if ((s = get_string (l, path, obj, "device_type")) && *s)
    t->device_type = g_intern_string (s);

  if ((n = json_object_get_member (obj, "tips")) && !JSON_NODE_HOLDS_NULL (n))
    {
      p = g_strdup_printf ("%s.tips", path);
      if (!JSON_NODE_HOLDS_ARRAY (n))
        wrong_type (l, p, n, "an array of strings");
      else
        {
          JsonArray *a = json_node_get_array (n);
          GStrvBuilder *b = g_strv_builder_new ();

          for (guint i = 0; i < json_array_get_length (a); i++)
            {
              JsonNode *e = json_array_get_element (a, i);

              if (is_string (e))
                g_strv_builder_add (b, json_node_get_string (e));
              else
                {
                  g_autofree char *pe = g_strdup_printf ("%s[%u]", p, i);
                  wrong_type (l, pe, e, "a string");
                }
            }
          t->tips = g_strv_builder_end (b);
          g_strv_builder_unref (b);
        }
      g_clear_pointer (&p, g_free);
    }

  if ((n = json_object_get_member (obj, "priority")) && !JSON_NODE_HOLDS_NULL (n))
    {
      OrreryTaskPriority prio;

      p = g_strdup_printf ("%s.priority", path);
      if (is_int (n) && json_node_get_int (n) >= 1 && json_node_get_int (n) <= 4)
        t->priority = json_node_get_int (n);
      else if (is_string (n) && orrery_task_priority_from_string (json_node_get_string (n), &prio))
        t->priority = prio;
      else if (is_int (n))
        problem (l, ORRERY_CONSTELLATION_ERROR_BAD_ENUM, p, "bad enum value %" G_GINT64_FORMAT
                 " for priority (expected 1-4 or low, medium, high, critical)", json_node_get_int (n));
      else if (is_string (n))
        problem (l, ORRERY_CONSTELLATION_ERROR_BAD_ENUM, p, "bad enum value “%s” for priority "
                 "(expected low, medium, high, critical or 1-4)", json_node_get_string (n));
      else
        wrong_type (l, p, n, "a priority name or number");
      g_clear_pointer (&p, g_free);
    }

  if ((s = get_string (l, path, obj, "status")))
    {
      OrreryTaskStatus st;

      if (orrery_task_status_from_string (s, &st))
        t->status = st;
      else
        {
          p = g_strdup_printf ("%s.status", path);
          problem (l, ORRERY_CONSTELLATION_ERROR_BAD_ENUM, p, "bad enum value “%s” for status (expected "
                   "pending, waiting_dependency, running, completed, failed, cancelled, skipped)", s);
          g_clear_pointer (&p, g_free);
        }
    }

  if ((n = json_object_get_member (obj, "result")) && !JSON_NODE_HOLDS_NULL (n))
    {
      p = g_strdup_printf ("%s.result", path);
      t->result = to_variant (l, p, n);
      g_clear_pointer (&p, g_free);
    }
  if ((n = json_object_get_member (obj, "error")) && !JSON_NODE_HOLDS_NULL (n))
    {
      if (is_string (n))
        _orrery_task_set_error_message (t, json_node_get_string (n));
      else if (JSON_NODE_HOLDS_OBJECT (n) && (s = get_string (l, path, json_node_get_object (n), "message")))
        _orrery_task_set_error_message (t, s);
      else
        {
          p = g_strdup_printf ("%s.error", path);
          wrong_type (l, p, n, "a string");
          g_clear_pointer (&p, g_free);
        }
    }
  if ((n = json_object_get_member (obj, "timeout")) && !JSON_NODE_HOLDS_NULL (n))
    {
      p = g_strdup_printf ("%s.timeout", path);
      if (!is_number (n))
        wrong_type (l, p, n, "a number of seconds");
      else if (json_node_get_double (n) < 0)
        problem (l, ORRERY_CONSTELLATION_ERROR_BAD_VALUE, p, "a timeout cannot be negative");
      else
        t->timeout = json_node_get_double (n);
      g_clear_pointer (&p, g_free);
    }
  {
    const char *const counters[] = { "retry_count", "current_retry", "attempt" };

    for (guint i = 0; i < G_N_ELEMENTS (counters); i++)
      if ((n = json_object_get_member (obj, counters[i])) && !JSON_NODE_HOLDS_NULL (n))
        {
          p = g_strdup_printf ("%s.%s", path, counters[i]);
          if (!is_int (n))
            wrong_type (l, p, n, "an integer");
          else if (json_node_get_int (n) < 0 || json_node_get_int (n) > G_MAXUINT)
            problem (l, ORRERY_CONSTELLATION_ERROR_BAD_VALUE, p, "out of range");
          else if (i == 0)
            t->retry_count = json_node_get_int (n);
          else
            t->attempt = json_node_get_int (n);
          g_clear_pointer (&p, g_free);
        }
  }
  if ((n = json_object_get_member (obj, "task_data")) && !JSON_NODE_HOLDS_NULL (n))
    {
      p = g_strdup_printf ("%s.task_data", path);
      if (!JSON_NODE_HOLDS_OBJECT (n))
        wrong_type (l, p, n, "an object");
      else if (json_object_get_size (json_node_get_object (n)) > 0)
        t->task_data = to_variant (l, p, n);
      g_clear_pointer (&p, g_free);
    }
  if (json_object_has_member (obj, "created_at"))
    t->created_at = parse_time (l, path, obj, "created_at");
  t->started_at = parse_time (l, path, obj, json_object_has_member (obj, "started_at")
                                            ? "started_at" : "execution_start_time");
  t->ended_at = parse_time (l, path, obj, json_object_has_member (obj, "ended_at")
                                          ? "ended_at" : "execution_end_time");

  {
    const char *const lists[] = { "dependencies", "dependents" };

    for (guint i = 0; i < G_N_ELEMENTS (lists); i++)
      if ((n = json_object_get_member (obj, lists[i])) && !JSON_NODE_HOLDS_NULL (n))
        {
          p = g_strdup_printf ("%s.%s", path, lists[i]);
          if (!JSON_NODE_HOLDS_ARRAY (n))
            wrong_type (l, p, n, "an array of task ids");
          else
            {
              JsonArray *a = json_node_get_array (n);
              gboolean ok = TRUE;

              for (guint k = 0; k < json_array_get_length (a); k++)
                if (!is_string (json_array_get_element (a, k)))
                  {
                    g_autofree char *pe = g_strdup_printf ("%s[%u]", p, k);
                    wrong_type (l, pe, json_array_get_element (a, k), "a task id");
                    ok = FALSE;
                  }
              if (ok)
                g_hash_table_insert (l->lists, t, json_object_ref (obj));
            }
          g_clear_pointer (&p, g_free);
        }
  }

  /* Keep what we do not know. UFO's task_description duplicates description. */
  members = json_object_get_members (obj);
  for (GList *m = members; m; m = m->next)
    {
      const char *name = m->data;

      if (g_strv_contains (task_known, name))
        {
          if (!g_str_equal (name, "task_description") ||
              g_strcmp0 (json_object_get_string_member_with_default (obj, name, NULL), t->description) == 0)
            continue;
        }
      if (extra == NULL)
        extra = json_object_new ();
      json_object_set_member (extra, name, json_node_copy (json_object_get_member (obj, name)));
    }
  g_list_free (members);
  t->extra = extra;

  _orrery_constellation_add_task_internal (l->c, t);
  g_object_unref (t);
}

static const char *const dep_known[] = {
  "line_id", "from_task_id", "to_task_id", "dependency_type", "condition",
  "condition_description", "is_satisfied", "last_evaluation_result", NULL,
};

static void
load_dependency (Loader     *l,
                 const char *path,
                 const char *key,
                 JsonNode   *node)
{
  JsonObject *obj;
  const char *from_id, *to_id, *s;
  OrreryTask *from, *to;
  OrreryDependencyType type = ORRERY_DEPENDENCY_UNCONDITIONAL;
  g_autoptr(OrreryCondition) cond = NULL;
  OrreryDependency *dep;
  JsonNode *n;
  GList *members;
  gboolean ok = TRUE;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      wrong_type (l, path, node, "a dependency object");
      return;
    }
  obj = json_node_get_object (node);
  from_id = get_string (l, path, obj, "from_task_id");
  to_id = get_string (l, path, obj, "to_task_id");
  if (from_id == NULL || to_id == NULL)
    {
      problem (l, ORRERY_CONSTELLATION_ERROR_MISSING_FIELD, path,
               "missing field: a dependency needs \"from_task_id\" and \"to_task_id\"");
      return;
    }
  from = g_hash_table_lookup (l->c->by_id, from_id);
  to = g_hash_table_lookup (l->c->by_id, to_id);
  if (from == NULL || to == NULL)
    {
      g_autofree char *p = g_strdup_printf ("%s.%s", path, from == NULL ? "from_task_id" : "to_task_id");
      problem (l, ORRERY_CONSTELLATION_ERROR_UNKNOWN_TASK, p, "dependency on an unknown task “%s”",
               from == NULL ? from_id : to_id);
      return;
    }
  if ((s = get_string (l, path, obj, "dependency_type")) && !orrery_dependency_type_from_string (s, &type))
    {
      g_autofree char *p = g_strdup_printf ("%s.dependency_type", path);
      problem (l, ORRERY_CONSTELLATION_ERROR_BAD_ENUM, p, "bad enum value “%s” for dependency_type "
               "(expected unconditional, success_only, completion_only, conditional)", s);
      ok = FALSE;
    }
  if ((n = json_object_get_member (obj, "condition")) && !JSON_NODE_HOLDS_NULL (n))
    {
      g_autofree char *p = g_strdup_printf ("%s.condition", path);
      g_autoptr(GError) err = NULL;

      cond = _orrery_condition_from_json (n, p, &err);
      if (cond == NULL)
        {
          problem (l, err->code, p, "%s", err->message + strlen (p) + 2);
          ok = FALSE;
        }
    }
  if (from == to)
    {
      problem (l, ORRERY_CONSTELLATION_ERROR_SELF_DEPENDENCY, path, "task “%s” cannot depend on itself", from_id);
      return;
    }
  if (_orrery_constellation_find_edge (from, to))
    {
      problem (l, ORRERY_CONSTELLATION_ERROR_DUPLICATE_DEPENDENCY, path, "duplicate dependency %s → %s",
               from_id, to_id);
      return;
    }
  if (!ok)
    return;

  dep = _orrery_constellation_link (l->c, from, to, type, cond, NULL, NULL);
  s = get_string (l, path, obj, "line_id");
  if (s == NULL)
    s = key;
  if (s)
    {
      g_autofree char *implied = g_strdup_printf ("%s->%s", from_id, to_id);
      if (!g_str_equal (s, implied))
        dep->line_id = g_strdup (s);
    }
  dep->condition_description = g_strdup (get_string (l, path, obj, "condition_description"));
  if (dep->condition_description && *dep->condition_description == '\0')
    g_clear_pointer (&dep->condition_description, g_free);

  members = json_object_get_members (obj);
  for (GList *m = members; m; m = m->next)
    {
      if (g_strv_contains (dep_known, m->data))
        continue;
      if (dep->extra == NULL)
        dep->extra = json_object_new ();
      json_object_set_member (dep->extra, m->data, json_node_copy (json_object_get_member (obj, m->data)));
    }
  g_list_free (members);
}

static gboolean
array_has (JsonArray  *a,
           const char *id)
{
  for (guint i = 0; i < json_array_get_length (a); i++)
    if (g_str_equal (json_array_get_string_element (a, i), id))
      return TRUE;
  return FALSE;
}

static void
check_lists (Loader     *l,
             const char *tasks_path,
             gboolean    keyed)
{
  GHashTableIter it;
  gpointer key, value;

  g_hash_table_iter_init (&it, l->lists);
  while (g_hash_table_iter_next (&it, &key, &value))
    {
      OrreryTask *t = key;
      JsonObject *obj = value;
      g_autofree char *base = keyed ? g_strdup_printf ("%s.%s", tasks_path, t->id)
                                    : g_strdup_printf ("%s[%u]", tasks_path, t->index);
      JsonNode *n;

      if ((n = json_object_get_member (obj, "dependencies")) && JSON_NODE_HOLDS_ARRAY (n))
        {
          JsonArray *a = json_node_get_array (n);
          g_autofree char *p = g_strdup_printf ("%s.dependencies", base);

          for (guint i = 0; i < json_array_get_length (a); i++)
            {
              const char *id = json_array_get_string_element (a, i);
              gboolean found = FALSE;

              for (guint j = 0; j < t->n_in && !found; j++)
                found = g_str_equal (t->in[j]->from->id, id);
              if (!found)
                problem (l, ORRERY_CONSTELLATION_ERROR_INCONSISTENT_DEPENDENCIES, p,
                         "lists “%s”, but no dependency line goes from “%s” to “%s”", id, id, t->id);
            }
          /* UFO drops a prerequisite from the list once it is satisfied. */
          for (guint j = 0; j < t->n_in; j++)
            if (t->in[j]->state == EDGE_PENDING && !array_has (a, t->in[j]->from->id))
              problem (l, ORRERY_CONSTELLATION_ERROR_INCONSISTENT_DEPENDENCIES, p,
                       "does not list “%s”, but a dependency line goes from “%s” to “%s”",
                       t->in[j]->from->id, t->in[j]->from->id, t->id);
        }
      if ((n = json_object_get_member (obj, "dependents")) && JSON_NODE_HOLDS_ARRAY (n))
        {
          JsonArray *a = json_node_get_array (n);
          g_autofree char *p = g_strdup_printf ("%s.dependents", base);

          for (guint i = 0; i < json_array_get_length (a); i++)
            {
              const char *id = json_array_get_string_element (a, i);
              gboolean found = FALSE;

              for (guint j = 0; j < t->n_out && !found; j++)
                found = g_str_equal (t->out[j]->to->id, id);
              if (!found)
                problem (l, ORRERY_CONSTELLATION_ERROR_INCONSISTENT_DEPENDENCIES, p,
                         "lists “%s”, but no dependency line goes from “%s” to “%s”", id, t->id, id);
            }
          for (guint j = 0; j < t->n_out; j++)
            if (!array_has (a, t->out[j]->to->id))
              problem (l, ORRERY_CONSTELLATION_ERROR_INCONSISTENT_DEPENDENCIES, p,
                       "does not list “%s”, but a dependency line goes from “%s” to “%s”",
                       t->out[j]->to->id, t->id, t->out[j]->to->id);
        }
    }
}

/* Files without dependency lines: the tasks' own lists are the edges. */
static void
edges_from_lists (Loader *l)
{
  for (guint i = 0; i < l->c->tasks->len; i++)
    {
      OrreryTask *t = l->c->tasks->pdata[i];
      JsonObject *obj = g_hash_table_lookup (l->lists, t);
      JsonNode *n;
      JsonArray *a;

      if (obj == NULL || !(n = json_object_get_member (obj, "dependencies")) || !JSON_NODE_HOLDS_ARRAY (n))
        continue;
      a = json_node_get_array (n);
      for (guint k = 0; k < json_array_get_length (a); k++)
        {
          g_autofree char *p = g_strdup_printf ("$.tasks.%s.dependencies[%u]", t->id, k);
          const char *id = json_array_get_string_element (a, k);
          OrreryTask *from = g_hash_table_lookup (l->c->by_id, id);

          if (from == NULL)
            problem (l, ORRERY_CONSTELLATION_ERROR_UNKNOWN_TASK, p, "dependency on an unknown task “%s”", id);
          else if (from == t)
            problem (l, ORRERY_CONSTELLATION_ERROR_SELF_DEPENDENCY, p, "task “%s” cannot depend on itself", id);
          else if (!_orrery_constellation_find_edge (from, t))
            _orrery_constellation_link (l->c, from, t, ORRERY_DEPENDENCY_UNCONDITIONAL, NULL, NULL, NULL);
        }
    }
}

typedef void (*LoadItem) (Loader *l, const char *path, const char *key, JsonNode *node);

static gboolean
load_collection (Loader     *l,
                 JsonObject *root,
                 const char *member,
                 LoadItem    load)
{
  JsonNode *n = json_object_get_member (root, member);
  g_autofree char *base = g_strdup_printf ("$.%s", member);

  if (n == NULL || JSON_NODE_HOLDS_NULL (n))
    return FALSE;
  if (JSON_NODE_HOLDS_ARRAY (n))
    {
      JsonArray *a = json_node_get_array (n);

      for (guint i = 0; i < json_array_get_length (a); i++)
        {
          g_autofree char *p = g_strdup_printf ("%s[%u]", base, i);
          load (l, p, NULL, json_array_get_element (a, i));
        }
      return FALSE;
    }
  if (JSON_NODE_HOLDS_OBJECT (n))
    {
      JsonObjectIter it;
      const char *key;
      JsonNode *value;

      json_object_iter_init_ordered (&it, json_node_get_object (n));
      while (json_object_iter_next_ordered (&it, &key, &value))
        {
          g_autofree char *p = g_strdup_printf ("%s.%s", base, key);
          load (l, p, key, value);
        }
      return TRUE;
    }
  wrong_type (l, base, n, "an object keyed by id or an array");
  return FALSE;
}

static const char *const top_known[] = {
  "constellation_id", "id", "name", "state", "version", "tasks", "dependencies", NULL,
};

static OrreryConstellation *
load_root (JsonNode    *root,
           const char  *name,
           GError     **error)
{
  Loader l = { 0 };
  JsonObject *obj;
  const char *s;
  gboolean keyed;
  OrreryConstellation *result = NULL;
  JsonNode *n;
  GList *members;

  l.name = name;
  l.problems = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  l.lists = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) json_object_unref);

  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      problem (&l, ORRERY_CONSTELLATION_ERROR_WRONG_TYPE, "$", "wrong type: a constellation is an object, found %s",
               root ? json_type_name (root) : "nothing");
      goto out;
    }
  obj = json_node_get_object (root);
  s = get_string (&l, "$", obj, "constellation_id");
  if (s == NULL)
    s = get_string (&l, "$", obj, "id");
  l.c = orrery_constellation_new (s, get_string (&l, "$", obj, "name"));
  if ((s = get_string (&l, "$", obj, "state")))
    {
      gboolean found = FALSE;

      for (guint i = 0; i <= ORRERY_CONSTELLATION_STATE_CANCELLED && !found; i++)
        if (_orrery_enum_name_equal (s, orrery_constellation_state_to_nick (i)))
          l.c->state = i, found = TRUE;
      if (!found)
        problem (&l, ORRERY_CONSTELLATION_ERROR_BAD_ENUM, "$.state", "bad enum value “%s” for state (expected "
                 "created, ready, executing, completed, failed, partially_failed, cancelled)", s);
    }
  if ((n = json_object_get_member (obj, "version")) && !JSON_NODE_HOLDS_NULL (n))
    {
      if (is_int (n) && json_node_get_int (n) >= 0)
        l.c->version = json_node_get_int (n);
      else
        wrong_type (&l, "$.version", n, "a non-negative integer");
    }
  if (!json_object_has_member (obj, "tasks"))
    problem (&l, ORRERY_CONSTELLATION_ERROR_MISSING_FIELD, "$", "missing field \"tasks\"");

  keyed = load_collection (&l, obj, "tasks", load_task);
  if ((n = json_object_get_member (obj, "dependencies")) && !JSON_NODE_HOLDS_NULL (n))
    {
      load_collection (&l, obj, "dependencies", load_dependency);
      check_lists (&l, "$.tasks", keyed);
    }
  else
    edges_from_lists (&l);

  members = json_object_get_members (obj);
  for (GList *m = members; m; m = m->next)
    {
      if (g_strv_contains (top_known, m->data))
        continue;
      if (l.c->extra == NULL)
        l.c->extra = json_object_new ();
      json_object_set_member (l.c->extra, m->data, json_node_copy (json_object_get_member (obj, m->data)));
    }
  g_list_free (members);

  if (l.problems->len == 0)
    {
      g_autoptr(GError) err = NULL;

      if (!orrery_constellation_validate (l.c, &err))
        problem (&l, err->code, "$.dependencies", "%s", err->message);
    }

out:
  if (l.problems->len > 0)
    {
      GString *msg = g_string_new (NULL);
      GError *first = l.problems->pdata[0];

      for (guint i = 0; i < l.problems->len; i++)
        {
          if (i > 0)
            g_string_append_c (msg, '\n');
          g_string_append (msg, ((GError *) l.problems->pdata[i])->message);
        }
      g_set_error_literal (error, ORRERY_CONSTELLATION_ERROR, first->code, msg->str);
      g_string_free (msg, TRUE);
      g_clear_object (&l.c);
    }
  else
    result = g_steal_pointer (&l.c);
  g_ptr_array_unref (l.problems);
  g_hash_table_unref (l.lists);
  return result;
}

static void
parse_error (GError     **error,
             const char  *name,
             GError      *err)
{
  if (err->domain == JSON_PARSER_ERROR)
    g_set_error (error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_NOT_JSON,
                 "%s: not JSON: %s", name, err->message);
  else
    g_set_error (error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_IO,
                 "%s: %s", name, err->message);
}

/**
 * orrery_constellation_new_from_file:
 * @path: (type filename): a JSON file
 * @error: return location for an error
 *
 * Loads a constellation from a file in Orrery's or UFO Galaxy's format.
 * Every problem found is reported: the error's code is the first one's,
 * its message lists them all, one a line, as `FILE: $.json.path: rule`.
 *
 * Returns: (transfer full) (nullable): the constellation, validated (no
 *   cycle); %NULL with @error set
 */
OrreryConstellation *
orrery_constellation_new_from_file (const char  *path,
                                    GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GError) err = NULL;

  g_return_val_if_fail (path != NULL, NULL);
  if (!json_parser_load_from_mapped_file (parser, path, &err))
    {
      parse_error (error, path, err);
      return NULL;
    }
  return load_root (json_parser_get_root (parser), path, error);
}

/**
 * orrery_constellation_new_from_data:
 * @data: JSON text
 * @length: the length of @data, or -1 if it is nul-terminated
 * @name_for_errors: (nullable): what to call the document in errors
 *   (`<data>` when %NULL)
 * @error: return location for an error
 *
 * Loads a constellation from a string; see orrery_constellation_new_from_file().
 *
 * Returns: (transfer full) (nullable): the constellation, or %NULL with @error set
 */
OrreryConstellation *
orrery_constellation_new_from_data (const char  *data,
                                    gssize       length,
                                    const char  *name_for_errors,
                                    GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GError) err = NULL;
  const char *name = name_for_errors ? name_for_errors : "<data>";

  g_return_val_if_fail (data != NULL, NULL);
  if (!json_parser_load_from_data (parser, data, length, &err))
    {
      parse_error (error, name, err);
      return NULL;
    }
  return load_root (json_parser_get_root (parser), name, error);
}

/**
 * orrery_constellation_new_from_stream:
 * @stream: a stream of JSON text
 * @name_for_errors: (nullable): what to call the document in errors
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for an error
 *
 * Loads a constellation from a stream; see orrery_constellation_new_from_file().
 *
 * Returns: (transfer full) (nullable): the constellation, or %NULL with @error set
 */
OrreryConstellation *
orrery_constellation_new_from_stream (GInputStream  *stream,
                                      const char    *name_for_errors,
                                      GCancellable  *cancellable,
                                      GError       **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GError) err = NULL;
  const char *name = name_for_errors ? name_for_errors : "<stream>";

  g_return_val_if_fail (G_IS_INPUT_STREAM (stream), NULL);
  if (!json_parser_load_from_stream (parser, stream, cancellable, &err))
    {
      parse_error (error, name, err);
      return NULL;
    }
  return load_root (json_parser_get_root (parser), name, error);
}

/* Writing */

static void
set_string_or_null (JsonObject *o,
                    const char *member,
                    const char *value)
{
  if (value)
    json_object_set_string_member (o, member, value);
  else
    json_object_set_null_member (o, member);
}

static void
set_time (JsonObject *o,
          const char *member,
          gint64      usec)
{
  if (usec > 0)
    {
      g_autofree char *s = format_time (usec);
      json_object_set_string_member (o, member, s);
    }
  else
    json_object_set_null_member (o, member);
}

static JsonNode *
task_to_json (OrreryTask *t)
{
  JsonObject *o = json_object_new ();
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);
  JsonArray *a;

  json_object_set_string_member (o, "task_id", t->id);
  set_string_or_null (o, "name", t->name);
  set_string_or_null (o, "description", t->description);
  if (t->tips)
    {
      a = json_array_new ();
      for (guint i = 0; t->tips[i]; i++)
        json_array_add_string_element (a, t->tips[i]);
      json_object_set_array_member (o, "tips", a);
    }
  else
    json_object_set_null_member (o, "tips");
  set_string_or_null (o, "target_device_id", t->target_device_id);
  set_string_or_null (o, "device_type", t->device_type);
  json_object_set_int_member (o, "priority", t->priority);
  json_object_set_string_member (o, "status", _orrery_task_status_ufo_name (t->status));
  if (t->result)
    json_object_set_member (o, "result", json_gvariant_serialize (t->result));
  else
    json_object_set_null_member (o, "result");
  set_string_or_null (o, "error", t->error ? t->error->message : NULL);
  if (t->timeout > 0)
    json_object_set_double_member (o, "timeout", t->timeout);
  else
    json_object_set_null_member (o, "timeout");
  json_object_set_int_member (o, "retry_count", t->retry_count);
  json_object_set_int_member (o, "current_retry", t->attempt);
  if (t->task_data)
    json_object_set_member (o, "task_data", json_gvariant_serialize (t->task_data));
  else
    json_object_set_object_member (o, "task_data", json_object_new ());
  set_time (o, "created_at", t->created_at);
  set_time (o, "execution_start_time", t->started_at);
  set_time (o, "execution_end_time", t->ended_at);
  if (t->started_at > 0 && t->ended_at >= t->started_at)
    json_object_set_double_member (o, "execution_duration", orrery_task_get_duration (t));
  else
    json_object_set_null_member (o, "execution_duration");
  a = json_array_new ();
  for (guint i = 0; i < t->n_in; i++)
    if (t->in[i]->state == EDGE_PENDING)
      json_array_add_string_element (a, t->in[i]->from->id);
  json_object_set_array_member (o, "dependencies", a);
  a = json_array_new ();
  for (guint i = 0; i < t->n_out; i++)
    json_array_add_string_element (a, t->out[i]->to->id);
  json_object_set_array_member (o, "dependents", a);
  if (t->extra)
    {
      JsonObjectIter it;
      const char *k;
      JsonNode *v;

      json_object_iter_init_ordered (&it, t->extra);
      while (json_object_iter_next_ordered (&it, &k, &v))
        json_object_set_member (o, k, json_node_copy (v));
    }
  json_node_take_object (node, o);
  return node;
}

static JsonNode *
dependency_to_json (OrreryDependency *d)
{
  JsonObject *o = json_object_new ();
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);
  g_autofree char *type = g_strdelimit (g_strdup (orrery_dependency_type_to_nick (d->type)), "-", '_');

  {
    g_autofree char *implied = g_strdup_printf ("%s->%s", d->from->id, d->to->id);

    /* The line id is written only when it is not the implied FROM->TO. */
    if (d->line_id && !g_str_equal (d->line_id, implied))
      json_object_set_string_member (o, "line_id", d->line_id);
  }
  json_object_set_string_member (o, "from_task_id", d->from->id);
  json_object_set_string_member (o, "to_task_id", d->to->id);
  json_object_set_string_member (o, "dependency_type", type);
  set_string_or_null (o, "condition_description", d->condition_description);
  if (d->condition)
    json_object_set_member (o, "condition", _orrery_condition_to_json (d->condition));
  json_object_set_boolean_member (o, "is_satisfied", d->state == EDGE_SATISFIED);
  if (d->extra)
    {
      JsonObjectIter it;
      const char *k;
      JsonNode *v;

      json_object_iter_init_ordered (&it, d->extra);
      while (json_object_iter_next_ordered (&it, &k, &v))
        json_object_set_member (o, k, json_node_copy (v));
    }
  json_node_take_object (node, o);
  return node;
}

/**
 * orrery_constellation_to_data:
 * @self: a constellation
 * @length: (out) (optional): where to store the length of the text
 *
 * Writes the constellation as JSON, in UFO Galaxy's vocabulary: `tasks`
 * and `dependencies` keyed by id, statuses, results, errors and times
 * included, unknown fields read from a file written back.
 *
 * Returns: (transfer full): the JSON text
 */
char *
orrery_constellation_to_data (OrreryConstellation *self,
                              gsize               *length)
{
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = json_node_new (JSON_NODE_OBJECT);
  JsonObject *o = json_object_new ();
  JsonObject *tasks = json_object_new ();
  JsonObject *deps = json_object_new ();
  g_autofree char *state = NULL;

  g_return_val_if_fail (ORRERY_IS_CONSTELLATION (self), NULL);

  state = g_strdelimit (g_strdup (orrery_constellation_state_to_nick (self->state)), "-", '_');
  json_object_set_string_member (o, "constellation_id", self->id);
  set_string_or_null (o, "name", self->name);
  json_object_set_string_member (o, "state", state);
  json_object_set_int_member (o, "version", self->version);
  for (guint i = 0; i < self->tasks->len; i++)
    {
      OrreryTask *t = self->tasks->pdata[i];

      json_object_set_member (tasks, t->id, task_to_json (t));
    }
  for (guint i = 0; i < self->tasks->len; i++)
    {
      OrreryTask *t = self->tasks->pdata[i];

      for (guint j = 0; j < t->n_in; j++)
        json_object_set_member (deps, orrery_dependency_get_line_id (t->in[j]), dependency_to_json (t->in[j]));
    }
  json_object_set_object_member (o, "tasks", tasks);
  json_object_set_object_member (o, "dependencies", deps);
  if (self->extra)
    {
      JsonObjectIter it;
      const char *k;
      JsonNode *v;

      json_object_iter_init_ordered (&it, self->extra);
      while (json_object_iter_next_ordered (&it, &k, &v))
        json_object_set_member (o, k, json_node_copy (v));
    }
  json_node_take_object (root, o);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  json_generator_set_indent (gen, 2);
  return json_generator_to_data (gen, length);
}

/**
 * orrery_constellation_save_to_file:
 * @self: a constellation
 * @path: (type filename): where to write
 * @error: return location for an error
 *
 * Writes orrery_constellation_to_data() to a file atomically: a reader sees
 * the old file or the new one, never half of one.
 *
 * Returns: whether the file was written
 */
gboolean
orrery_constellation_save_to_file (OrreryConstellation  *self,
                                   const char           *path,
                                   GError              **error)
{
  g_autofree char *data = NULL;
  gsize len;
  g_autoptr(GError) err = NULL;

  g_return_val_if_fail (ORRERY_IS_CONSTELLATION (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  data = orrery_constellation_to_data (self, &len);
  if (!g_file_set_contents_full (path, data, len, G_FILE_SET_CONTENTS_CONSISTENT, 0644, &err))
    {
      g_set_error (error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_IO, "%s", err->message);
      return FALSE;
    }
  return TRUE;
}
