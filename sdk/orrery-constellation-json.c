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
 * Large documents: the loader does not keep json-glib's tree of the whole
 * document. It handles each element of the top-level `tasks` and
 * `dependencies` containers as the parser completes it and drops it from
 * the tree (see "Streaming" below), and it parses files mapped, so a load
 * needs about the text plus the constellation.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-Constellation"

#include <math.h>

#include "orrery-constellation-private.h"

#define MAX_PROBLEMS 200

/* Problems are reported in the same order whatever the order of the
 * document's members: the root's own fields, then the tasks, then the
 * dependency lines and the tasks' lists. (Lines written before the tasks
 * report what they say on their own as they are read, then what needs
 * the tasks, such as an unknown task, once the tasks are loaded.) */
typedef enum { PHASE_ROOT, PHASE_TASKS, PHASE_DEPS, N_PHASES } Phase;

/* What a member of the root holds, for the elements that stream past. */
typedef enum { KIND_OTHER, KIND_TASKS, KIND_DEPENDENCIES } Kind;

/* A task's own `dependencies` and `dependents` lists, kept until the
 * dependency lines are all known: one block, the ids packed. */
typedef struct
{
  guint json_index;   /* the task's index in a `tasks` array */
  gint  n[2];         /* ids in `dependencies`, `dependents`; -1: no usable list */
  char  ids[];        /* NUL-terminated, the dependencies first */
} TaskLists;

/* A dependency line read before the tasks it joins. */
typedef struct
{
  char                 *path;
  char                 *from_id;
  char                 *to_id;
  OrreryCondition      *condition;
  char                 *line_id;
  char                 *condition_description;
  JsonObject           *extra;
  OrreryDependencyType  type;
  gboolean              ok;
} PendingDependency;

typedef struct
{
  const char          *name;
  OrreryConstellation *c;
  GPtrArray           *problems[N_PHASES];   /* GError */
  Phase                phase;
  GPtrArray           *lists;      /* TaskLists (or NULL) by task index */
  GPtrArray           *pending;    /* PendingDependency */

  /* Streaming: the elements of `tasks` and `dependencies` are loaded as
   * the parser completes each one, then dropped from its tree. */
  GPtrArray           *names;      /* the root's member names as scanned; NULL: no streaming */
  guint                tasks_at;   /* index of "tasks" in names, or G_MAXUINT */
  guint                n_members;  /* root members the parser has completed */
  guint                depth;      /* containers open in the parser */
  Kind                 kind;       /* of the open top-level container */
  gboolean             defer;      /* dependency lines before the tasks */
  guint                n_elements; /* of the open top-level container so far */
  gboolean             mismatch;   /* the parser disagrees with the scan */
} Loader;

static void
pending_dependency_free (PendingDependency *pd)
{
  g_free (pd->path);
  g_free (pd->from_id);
  g_free (pd->to_id);
  g_clear_pointer (&pd->condition, orrery_condition_unref);
  g_free (pd->line_id);
  g_free (pd->condition_description);
  g_clear_pointer (&pd->extra, json_object_unref);
  g_free (pd);
}

static void
loader_init (Loader     *l,
             const char *name,
             GPtrArray  *names)
{
  memset (l, 0, sizeof *l);
  l->name = name;
  for (guint i = 0; i < N_PHASES; i++)
    l->problems[i] = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  l->c = orrery_constellation_new (NULL, NULL);
  l->names = names;
  l->tasks_at = G_MAXUINT;
  for (guint i = 0; names && i < names->len; i++)
    if (g_str_equal (names->pdata[i], "tasks"))
      l->tasks_at = i;
}

static void
loader_clear (Loader *l)
{
  for (guint i = 0; i < N_PHASES; i++)
    g_clear_pointer (&l->problems[i], g_ptr_array_unref);
  g_clear_pointer (&l->lists, g_ptr_array_unref);
  g_clear_pointer (&l->pending, g_ptr_array_unref);
  g_clear_object (&l->c);
}

static guint
n_problems (Loader *l)
{
  guint n = 0;

  for (guint i = 0; i < N_PHASES; i++)
    n += l->problems[i]->len;
  return n;
}

static void G_GNUC_PRINTF (4, 5)
problem (Loader                    *l,
         OrreryConstellationError   code,
         const char                *path,
         const char                *format,
         ...)
{
  va_list args;
  g_autofree char *msg = NULL;
  GPtrArray *list = l->problems[l->phase];

  /* Each phase keeps its first MAX_PROBLEMS; the report keeps the first
   * MAX_PROBLEMS of all, in phase order. */
  if (list->len >= MAX_PROBLEMS)
    return;
  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_ptr_array_add (list, g_error_new (ORRERY_CONSTELLATION_ERROR, code, "%s: %s: %s", l->name, path, msg));
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

static TaskLists *
task_lists_new (guint      json_index,
                JsonArray *arrays[2])
{
  gsize size = 0;
  TaskLists *tl;
  char *p;

  for (guint i = 0; i < 2; i++)
    for (guint k = 0; arrays[i] && k < json_array_get_length (arrays[i]); k++)
      size += strlen (json_array_get_string_element (arrays[i], k)) + 1;
  tl = g_malloc (sizeof *tl + size);
  tl->json_index = json_index;
  p = tl->ids;
  for (guint i = 0; i < 2; i++)
    {
      tl->n[i] = arrays[i] ? (gint) json_array_get_length (arrays[i]) : -1;
      for (gint k = 0; k < tl->n[i]; k++)
        {
          const char *id = json_array_get_string_element (arrays[i], k);
          gsize len = strlen (id) + 1;

          memcpy (p, id, len);
          p += len;
        }
    }
  return tl;
}

/* The first id of list @which (0: dependencies, 1: dependents). */
static const char *
task_lists_first (const TaskLists *tl,
                  guint            which)
{
  const char *p = tl->ids;

  if (which == 1)
    for (gint k = 0; k < tl->n[0]; k++)
      p += strlen (p) + 1;
  return p;
}

static gboolean
task_lists_has (const TaskLists *tl,
                guint            which,
                const char      *id)
{
  const char *p = task_lists_first (tl, which);

  for (gint k = 0; k < tl->n[which]; k++, p += strlen (p) + 1)
    if (g_str_equal (p, id))
      return TRUE;
  return FALSE;
}

static void
keep_task_lists (Loader     *l,
                 OrreryTask *t,
                 TaskLists  *tl)
{
  if (l->lists == NULL)
    l->lists = g_ptr_array_new_with_free_func (g_free);
  if (l->lists->len <= t->index)
    g_ptr_array_set_size (l->lists, t->index + 1);
  l->lists->pdata[t->index] = tl;
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
           guint       index,
           JsonNode   *node)
{
  JsonObject *obj;
  JsonNode *n;
  const char *id, *s;
  OrreryTask *t;
  g_autofree char *p = NULL;
  JsonObject *extra = NULL;
  GList *members;
  TaskLists *tl = NULL;

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
    JsonArray *usable[2] = { NULL, NULL };

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
                usable[i] = a;
            }
          g_clear_pointer (&p, g_free);
        }
    /* Checked against the dependency lines once they are all read. */
    if (usable[0] || usable[1])
      tl = task_lists_new (index, usable);
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
  if (tl)
    keep_task_lists (l, t, tl);
  g_object_unref (t);
}

static const char *const dep_known[] = {
  "line_id", "from_task_id", "to_task_id", "dependency_type", "condition",
  "condition_description", "is_satisfied", "last_evaluation_result", NULL,
};

/* The tasks a line joins; a problem when one is unknown. */
static gboolean
find_ends (Loader      *l,
           const char  *path,
           const char  *from_id,
           const char  *to_id,
           OrreryTask **from,
           OrreryTask **to)
{
  *from = g_hash_table_lookup (l->c->by_id, from_id);
  *to = g_hash_table_lookup (l->c->by_id, to_id);
  if (*from == NULL || *to == NULL)
    {
      g_autofree char *p = g_strdup_printf ("%s.%s", path, *from == NULL ? "from_task_id" : "to_task_id");
      problem (l, ORRERY_CONSTELLATION_ERROR_UNKNOWN_TASK, p, "dependency on an unknown task “%s”",
               *from == NULL ? from_id : to_id);
      return FALSE;
    }
  return TRUE;
}

/* The dependency type and condition; FALSE when either is bad. */
static gboolean
read_dependency_type (Loader                *l,
                      const char            *path,
                      JsonObject            *obj,
                      OrreryDependencyType  *type,
                      OrreryCondition      **cond)
{
  const char *s;
  JsonNode *n;
  gboolean ok = TRUE;

  *type = ORRERY_DEPENDENCY_UNCONDITIONAL;
  *cond = NULL;
  if ((s = get_string (l, path, obj, "dependency_type")) && !orrery_dependency_type_from_string (s, type))
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

      *cond = _orrery_condition_from_json (n, p, &err);
      if (*cond == NULL)
        {
          /* The message is "PATH: rule", PATH being @p or below it. */
          const char *sep = g_str_has_prefix (err->message, p) ? strstr (err->message + strlen (p), ": ") : NULL;

          if (sep)
            {
              g_autofree char *where = g_strndup (err->message, sep - err->message);
              problem (l, err->code, where, "%s", sep + 2);
            }
          else
            problem (l, err->code, p, "%s", err->message);
          ok = FALSE;
        }
    }
  return ok;
}

/* Whether an edge may join @from to @to; a problem when not. */
static gboolean
can_link (Loader     *l,
          const char *path,
          OrreryTask *from,
          OrreryTask *to)
{
  if (from == to)
    {
      problem (l, ORRERY_CONSTELLATION_ERROR_SELF_DEPENDENCY, path, "task “%s” cannot depend on itself", from->id);
      return FALSE;
    }
  if (_orrery_constellation_find_edge (from, to))
    {
      problem (l, ORRERY_CONSTELLATION_ERROR_DUPLICATE_DEPENDENCY, path, "duplicate dependency %s → %s",
               from->id, to->id);
      return FALSE;
    }
  return TRUE;
}

/* The line id (when not the implied FROM->TO), the condition description
 * and the fields we do not know. */
static void
read_dependency_tail (Loader      *l,
                      const char  *path,
                      const char  *key,
                      JsonObject  *obj,
                      const char  *from_id,
                      const char  *to_id,
                      char       **line_id,
                      char       **condition_description,
                      JsonObject **extra)
{
  const char *s = get_string (l, path, obj, "line_id");
  GList *members;

  if (s == NULL)
    s = key;
  if (s)
    {
      g_autofree char *implied = g_strdup_printf ("%s->%s", from_id, to_id);
      if (!g_str_equal (s, implied))
        *line_id = g_strdup (s);
    }
  *condition_description = g_strdup (get_string (l, path, obj, "condition_description"));
  if (*condition_description && **condition_description == '\0')
    g_clear_pointer (condition_description, g_free);

  members = json_object_get_members (obj);
  for (GList *m = members; m; m = m->next)
    {
      if (g_strv_contains (dep_known, m->data))
        continue;
      if (*extra == NULL)
        *extra = json_object_new ();
      json_object_set_member (*extra, m->data, json_node_copy (json_object_get_member (obj, m->data)));
    }
  g_list_free (members);
}

static void
load_dependency (Loader     *l,
                 const char *path,
                 const char *key,
                 guint       index,
                 JsonNode   *node)
{
  JsonObject *obj;
  const char *from_id, *to_id;
  OrreryTask *from, *to;
  OrreryDependencyType type;
  g_autoptr(OrreryCondition) cond = NULL;
  OrreryDependency *dep;
  gboolean ok;

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

  if (l->defer)
    {
      /* The tasks come later in the document: keep what the line says,
       * checked as far as it can be without them; resolve_pending() links it. */
      PendingDependency *pd = g_new0 (PendingDependency, 1);

      pd->path = g_strdup (path);
      pd->from_id = g_strdup (from_id);
      pd->to_id = g_strdup (to_id);
      pd->ok = read_dependency_type (l, path, obj, &pd->type, &pd->condition);
      read_dependency_tail (l, path, key, obj, from_id, to_id,
                            &pd->line_id, &pd->condition_description, &pd->extra);
      if (l->pending == NULL)
        l->pending = g_ptr_array_new_with_free_func ((GDestroyNotify) pending_dependency_free);
      g_ptr_array_add (l->pending, pd);
      return;
    }

  if (!find_ends (l, path, from_id, to_id, &from, &to))
    return;
  ok = read_dependency_type (l, path, obj, &type, &cond);
  if (!can_link (l, path, from, to) || !ok)
    return;
  dep = _orrery_constellation_link (l->c, from, to, type, cond, NULL, NULL);
  read_dependency_tail (l, path, key, obj, from_id, to_id, &dep->line_id, &dep->condition_description, &dep->extra);
}

/* Links the lines read before the tasks, in their order. */
static void
resolve_pending (Loader *l)
{
  if (l->pending == NULL)
    return;
  for (guint i = 0; i < l->pending->len; i++)
    {
      PendingDependency *pd = l->pending->pdata[i];
      OrreryTask *from, *to;
      OrreryDependency *dep;

      if (!find_ends (l, pd->path, pd->from_id, pd->to_id, &from, &to) ||
          !can_link (l, pd->path, from, to) || !pd->ok)
        continue;
      dep = _orrery_constellation_link (l->c, from, to, pd->type, pd->condition, NULL, NULL);
      dep->line_id = g_steal_pointer (&pd->line_id);
      dep->condition_description = g_steal_pointer (&pd->condition_description);
      dep->extra = g_steal_pointer (&pd->extra);
    }
  g_clear_pointer (&l->pending, g_ptr_array_unref);
}

static char *
task_base_path (OrreryTask      *t,
                const TaskLists *tl,
                gboolean         keyed)
{
  return keyed ? g_strdup_printf ("$.tasks.%s", t->id) : g_strdup_printf ("$.tasks[%u]", tl->json_index);
}

static void
check_lists (Loader   *l,
             gboolean  keyed)
{
  for (guint i = 0; l->lists && i < l->lists->len; i++)
    {
      TaskLists *tl = l->lists->pdata[i];
      OrreryTask *t;
      g_autofree char *base = NULL;
      const char *id;

      if (tl == NULL)
        continue;
      t = l->c->tasks->pdata[i];
      base = task_base_path (t, tl, keyed);
      if (tl->n[0] >= 0)
        {
          g_autofree char *p = g_strdup_printf ("%s.dependencies", base);

          id = task_lists_first (tl, 0);
          for (gint k = 0; k < tl->n[0]; k++, id += strlen (id) + 1)
            {
              gboolean found = FALSE;

              for (guint j = 0; j < t->n_in && !found; j++)
                found = g_str_equal (t->in[j]->from->id, id);
              if (!found)
                problem (l, ORRERY_CONSTELLATION_ERROR_INCONSISTENT_DEPENDENCIES, p,
                         "lists “%s”, but no dependency line goes from “%s” to “%s”", id, id, t->id);
            }
          /* UFO drops a prerequisite from the list once it is satisfied. */
          for (guint j = 0; j < t->n_in; j++)
            if (t->in[j]->state == EDGE_PENDING && !task_lists_has (tl, 0, t->in[j]->from->id))
              problem (l, ORRERY_CONSTELLATION_ERROR_INCONSISTENT_DEPENDENCIES, p,
                       "does not list “%s”, but a dependency line goes from “%s” to “%s”",
                       t->in[j]->from->id, t->in[j]->from->id, t->id);
        }
      if (tl->n[1] >= 0)
        {
          g_autofree char *p = g_strdup_printf ("%s.dependents", base);

          id = task_lists_first (tl, 1);
          for (gint k = 0; k < tl->n[1]; k++, id += strlen (id) + 1)
            {
              gboolean found = FALSE;

              for (guint j = 0; j < t->n_out && !found; j++)
                found = g_str_equal (t->out[j]->to->id, id);
              if (!found)
                problem (l, ORRERY_CONSTELLATION_ERROR_INCONSISTENT_DEPENDENCIES, p,
                         "lists “%s”, but no dependency line goes from “%s” to “%s”", id, t->id, id);
            }
          for (guint j = 0; j < t->n_out; j++)
            if (!task_lists_has (tl, 1, t->out[j]->to->id))
              problem (l, ORRERY_CONSTELLATION_ERROR_INCONSISTENT_DEPENDENCIES, p,
                       "does not list “%s”, but a dependency line goes from “%s” to “%s”",
                       t->out[j]->to->id, t->id, t->out[j]->to->id);
        }
    }
}

/* Files without dependency lines: the tasks' own lists are the edges. */
static void
edges_from_lists (Loader   *l,
                  gboolean  keyed)
{
  for (guint i = 0; l->lists && i < l->lists->len; i++)
    {
      TaskLists *tl = l->lists->pdata[i];
      OrreryTask *t;
      g_autofree char *base = NULL;
      const char *id;

      if (tl == NULL || tl->n[0] < 0)
        continue;
      t = l->c->tasks->pdata[i];
      base = task_base_path (t, tl, keyed);
      id = task_lists_first (tl, 0);
      for (gint k = 0; k < tl->n[0]; k++, id += strlen (id) + 1)
        {
          g_autofree char *p = g_strdup_printf ("%s.dependencies[%d]", base, k);
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

/* Line ids name dependencies: the writer keys the lines by them, so two
 * lines with one id would come back as one. An explicit id may also be
 * the implied FROM->TO of another line. */
static void
check_line_ids (Loader *l)
{
  g_autoptr(GHashTable) seen = NULL;

  for (guint i = 0; i < l->c->tasks->len; i++)
    {
      OrreryTask *t = l->c->tasks->pdata[i];

      for (guint j = 0; j < t->n_in; j++)
        {
          OrreryDependency *d = t->in[j];
          const char *id = _orrery_dependency_peek_line_id (d);
          OrreryDependency *other;

          if (id == NULL)
            continue;
          if (seen == NULL)
            seen = g_hash_table_new (g_str_hash, g_str_equal);
          other = g_hash_table_lookup (seen, id);
          /* FROM->TO of another line, for each way of splitting the id. */
          for (const char *arrow = strstr (id, "->"); other == NULL && arrow; arrow = strstr (arrow + 1, "->"))
            {
              g_autofree char *from_id = g_strndup (id, arrow - id);
              OrreryTask *from = g_hash_table_lookup (l->c->by_id, from_id);
              OrreryTask *to = g_hash_table_lookup (l->c->by_id, arrow + 2);
              OrreryDependency *e = from && to ? _orrery_constellation_find_edge (from, to) : NULL;

              if (e && e != d && _orrery_dependency_peek_line_id (e) == NULL)
                other = e;
            }
          if (other)
            problem (l, ORRERY_CONSTELLATION_ERROR_DUPLICATE_DEPENDENCY, "$.dependencies",
                     "duplicate line id “%s” (%s → %s and %s → %s)", id, other->from->id, other->to->id,
                     d->from->id, d->to->id);
          else
            g_hash_table_insert (seen, (gpointer) id, d);
        }
    }
}

typedef void (*LoadItem) (Loader *l, const char *path, const char *key, guint index, JsonNode *node);

/* Loads what is left of a collection in the tree: all of it when nothing
 * streamed, nothing when its elements were loaded as they were parsed. */
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
          load (l, p, NULL, i, json_array_get_element (a, i));
        }
      return FALSE;
    }
  if (JSON_NODE_HOLDS_OBJECT (n))
    {
      JsonObjectIter it;
      const char *key;
      JsonNode *value;
      guint i = 0;

      json_object_iter_init_ordered (&it, json_node_get_object (n));
      while (json_object_iter_next_ordered (&it, &key, &value))
        {
          g_autofree char *p = g_strdup_printf ("%s.%s", base, key);
          load (l, p, key, i++, value);
        }
      return TRUE;
    }
  wrong_type (l, base, n, "an object keyed by id or an array");
  return FALSE;
}

static const char *const top_known[] = {
  "constellation_id", "id", "name", "state", "version", "tasks", "dependencies", NULL,
};

/* Streaming.
 *
 * json-glib builds its whole tree before handing it over; a million
 * tasks make a tree several times the size of the model. So the loader
 * listens to the parser: as each element of the top-level `tasks` and
 * `dependencies` containers is completed, it is loaded (the task into
 * the model, the line linked, or kept as a small PendingDependency when
 * the tasks come later in the document) and removed from its container,
 * so the tree never holds more than one of them. What the loader makes of
 * an element is what it makes of it in a whole tree, path included.
 *
 * The parser says which member of the root a value belongs to only once
 * the value is complete, so the names of the root's members are first
 * read from the text by scan_member_names(), and the parser's own view is
 * checked against that scan as each member completes: when they disagree
 * (text the scan does not follow, such as comments or single quotes),
 * the document is loaded again the old way, from the whole tree. */

static gboolean
is_json_space (char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The names of the root object's members, in order, as written (escapes
 * left as they are); NULL when the text is not one plain JSON object,
 * or names "tasks" or "dependencies" twice (the last one wins in
 * json-glib's tree). */
static GPtrArray *
scan_member_names (const char *text,
                   gsize       length)
{
  const char *p = text, *end = text + length;
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  guint depth = 1, n_tasks = 0, n_deps = 0;
  gboolean want_key = TRUE;

  if (length >= 3 && memcmp (p, "\xef\xbb\xbf", 3) == 0)
    p += 3;
  while (p < end && is_json_space (*p))
    p++;
  if (p == end || *p != '{')
    return NULL;
  for (p++; p < end; p++)
    switch (*p)
      {
      case '"':
        {
          const char *start = ++p;

          while (p < end && *p != '"')
            p += *p == '\\' ? 2 : 1;
          if (p >= end)
            return NULL;
          if (depth == 1 && want_key)
            {
              g_ptr_array_add (names, g_strndup (start, p - start));
              want_key = FALSE;
            }
        }
        break;
      case '{':
      case '[':
        depth++;
        break;
      case '}':
      case ']':
        if (--depth == 0)
          goto root_done;
        break;
      case ',':
        want_key = depth == 1;
        break;
      case '/':
      case '\'':
        return NULL;
      default:
        break;
      }
  return NULL;

root_done:
  for (p++; p < end && is_json_space (*p); p++)
    ;
  if (p != end)
    return NULL;
  for (guint i = 0; i < names->len; i++)
    {
      n_tasks += g_str_equal (names->pdata[i], "tasks");
      n_deps += g_str_equal (names->pdata[i], "dependencies");
    }
  if (n_tasks > 1 || n_deps > 1)
    return NULL;
  return g_steal_pointer (&names);
}

static Kind
kind_of (const char *member)
{
  if (g_strcmp0 (member, "tasks") == 0)
    return KIND_TASKS;
  if (g_strcmp0 (member, "dependencies") == 0)
    return KIND_DEPENDENCIES;
  return KIND_OTHER;
}

static void
container_start (Loader *l)
{
  if (++l->depth != 2 || l->mismatch)
    return;
  /* A value of the root: the member the scan saw there. */
  l->kind = l->n_members < l->names->len ? kind_of (l->names->pdata[l->n_members]) : KIND_OTHER;
  l->defer = l->kind == KIND_DEPENDENCIES && l->tasks_at != G_MAXUINT && l->tasks_at > l->n_members;
  l->n_elements = 0;
}

static void
on_object_start (JsonParser *parser,
                 Loader     *l)
{
  container_start (l);
}

static void
on_array_start (JsonParser *parser,
                Loader     *l)
{
  container_start (l);
}

static void
on_container_end (JsonParser *parser,
                  gpointer    container,
                  Loader     *l)
{
  l->depth--;
}

static void
load_element (Loader     *l,
              const char *path,
              const char *key,
              JsonNode   *node)
{
  if (l->kind == KIND_TASKS)
    {
      l->phase = PHASE_TASKS;
      load_task (l, path, key, l->n_elements, node);
    }
  else
    {
      l->phase = PHASE_DEPS;
      load_dependency (l, path, key, l->n_elements, node);
    }
  l->n_elements++;
}

static void
on_array_element (JsonParser *parser,
                  JsonArray  *array,
                  gint        index,
                  Loader     *l)
{
  g_autofree char *path = NULL;
  guint last;

  if (l->depth != 2 || l->kind == KIND_OTHER || l->mismatch)
    return;
  /* The parser has just appended the element, and only counts its
   * elements itself: taking it out again is safe. */
  last = json_array_get_length (array) - 1;
  path = g_strdup_printf ("$.%s[%u]", l->kind == KIND_TASKS ? "tasks" : "dependencies", l->n_elements);
  load_element (l, path, NULL, json_array_get_element (array, last));
  json_array_remove_element (array, last);
}

static void
on_object_member (JsonParser *parser,
                  JsonObject *object,
                  const char *member,
                  Loader     *l)
{
  g_autofree char *path = NULL;

  if (l->depth == 1)
    {
      if (l->n_members >= l->names->len || kind_of (l->names->pdata[l->n_members]) != kind_of (member))
        l->mismatch = TRUE;
      l->n_members++;
      return;
    }
  if (l->depth != 2 || l->kind == KIND_OTHER || l->mismatch)
    return;
  path = g_strdup_printf ("$.%s.%s", l->kind == KIND_TASKS ? "tasks" : "dependencies", member);
  load_element (l, path, member, json_object_get_member (object, member));
  /* The only member left: removing it does not scan the object. */
  json_object_remove_member (object, member);
}

/* Loads what the parser left in the tree (everything, when nothing
 * streamed), then checks the whole. Clears @l. */
static OrreryConstellation *
finish (Loader     *l,
        JsonNode   *root,
        GError    **error)
{
  JsonObject *obj;
  const char *s;
  gboolean keyed;
  OrreryConstellation *result = NULL;
  JsonNode *n;
  GList *members;

  l->phase = PHASE_ROOT;
  l->defer = FALSE;
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      problem (l, ORRERY_CONSTELLATION_ERROR_WRONG_TYPE, "$", "wrong type: a constellation is an object, found %s",
               root ? json_type_name (root) : "nothing");
      goto out;
    }
  obj = json_node_get_object (root);
  s = get_string (l, "$", obj, "constellation_id");
  if (s == NULL)
    s = get_string (l, "$", obj, "id");
  if (s)
    {
      g_free (l->c->id);
      l->c->id = g_strdup (s);
    }
  g_free (l->c->name);
  l->c->name = g_strdup (get_string (l, "$", obj, "name"));
  if ((s = get_string (l, "$", obj, "state")))
    {
      gboolean found = FALSE;

      for (guint i = 0; i <= ORRERY_CONSTELLATION_STATE_CANCELLED && !found; i++)
        if (_orrery_enum_name_equal (s, orrery_constellation_state_to_nick (i)))
          l->c->state = i, found = TRUE;
      if (!found)
        problem (l, ORRERY_CONSTELLATION_ERROR_BAD_ENUM, "$.state", "bad enum value “%s” for state (expected "
                 "created, executing, completed, failed, partially_failed, cancelled)", s);
    }
  if ((n = json_object_get_member (obj, "version")) && !JSON_NODE_HOLDS_NULL (n))
    {
      if (is_int (n) && json_node_get_int (n) >= 0)
        l->c->version = json_node_get_int (n);
      else
        wrong_type (l, "$.version", n, "a non-negative integer");
    }
  if (!json_object_has_member (obj, "tasks"))
    problem (l, ORRERY_CONSTELLATION_ERROR_MISSING_FIELD, "$", "missing field \"tasks\"");

  l->phase = PHASE_TASKS;
  keyed = load_collection (l, obj, "tasks", load_task);
  l->phase = PHASE_DEPS;
  if ((n = json_object_get_member (obj, "dependencies")) && !JSON_NODE_HOLDS_NULL (n))
    {
      load_collection (l, obj, "dependencies", load_dependency);
      resolve_pending (l);
      check_lists (l, keyed);
    }
  else
    edges_from_lists (l, keyed);
  g_clear_pointer (&l->lists, g_ptr_array_unref);
  check_line_ids (l);

  members = json_object_get_members (obj);
  for (GList *m = members; m; m = m->next)
    {
      if (g_strv_contains (top_known, m->data))
        continue;
      if (l->c->extra == NULL)
        l->c->extra = json_object_new ();
      json_object_set_member (l->c->extra, m->data, json_node_copy (json_object_get_member (obj, m->data)));
    }
  g_list_free (members);

  if (n_problems (l) == 0)
    {
      g_autoptr(GError) err = NULL;

      if (!orrery_constellation_validate (l->c, &err))
        problem (l, err->code, "$.dependencies", "%s", err->message);
    }

out:
  if (n_problems (l) > 0)
    {
      GString *msg = g_string_new (NULL);
      GError *first = NULL;
      guint count = 0;

      for (guint ph = 0; ph < N_PHASES; ph++)
        for (guint i = 0; i < l->problems[ph]->len && count < MAX_PROBLEMS; i++, count++)
          {
            GError *e = l->problems[ph]->pdata[i];

            if (first == NULL)
              first = e;
            else
              g_string_append_c (msg, '\n');
            /* One problem a line: a newline (or an escape sequence) in
             * an id must not make a line of its own. */
            orrery_string_append_escaped (msg, e->message, -1);
          }
      if (count == MAX_PROBLEMS)
        {
          g_string_append_c (msg, '\n');
          orrery_string_append_escaped (msg, l->name, -1);
          g_string_append (msg, ": too many problems, giving up");
        }
      g_set_error_literal (error, ORRERY_CONSTELLATION_ERROR, first->code, msg->str);
      g_string_free (msg, TRUE);
    }
  else
    result = g_steal_pointer (&l->c);
  loader_clear (l);
  return result;
}

static void
parse_error (GError     **error,
             const char  *name,
             gboolean     is_file,
             GError      *err)
{
  if (err->domain == JSON_PARSER_ERROR)
    {
      /* Parsed from memory, json-glib calls the document <data>. */
      const char *msg = err->message;

      g_autofree char *shown_name = orrery_escape_for_terminal (name, -1);
      g_autofree char *shown = NULL;

      if (is_file && g_str_has_prefix (msg, "<data>:"))
        {
          shown = orrery_escape_for_terminal (msg + strlen ("<data>"), -1);
          g_set_error (error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_NOT_JSON,
                       "%s: not JSON: %s%s", shown_name, shown_name, shown);
        }
      else
        {
          shown = orrery_escape_for_terminal (msg, -1);
          g_set_error (error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_NOT_JSON,
                       "%s: not JSON: %s", shown_name, shown);
        }
    }
  else
    {
      g_autofree char *shown_name = orrery_escape_for_terminal (name, -1);
      g_autofree char *shown = orrery_escape_for_terminal (err->message, -1);

      g_set_error (error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_IO,
                   "%s: %s", shown_name, shown);
    }
}

/* Checking the text before json-glib parses it.
 *
 * json-glib's parser recurses once per nested array or object: 50,000 of
 * them (a 100 KB file) overflow the stack. Its scanner also turns `\u0000`
 * into a NUL that silently ends the string (a command would run cut
 * short), lone surrogates such as `\ud800` into bytes that are not UTF-8
 * (GLib then refuses them with criticals, and a saved state would not
 * load again), and reads escapes JSON does not have (`\q` as `q`, `\101`
 * as octal, `\0` as NUL). So the text is read once first, and refused on
 * any of these, each problem with its JSON path.
 *
 * The scan must see the structure exactly as json-glib will, or a deep
 * document could hide inside what the scan takes for a string. It follows
 * json-glib's dialect: strings in double quotes, with escapes, or in
 * single quotes, without; comments from a slash-star to the next
 * star-slash. Everything else (numbers, words, stray characters) only
 * matters to the parser, which reports it. */

typedef struct
{
  const char *key;      /* the current member's name as written (objects) */
  gsize       key_len;
  guint       index;    /* the current element (arrays) */
  gboolean    array;
} ScanFrame;

typedef struct
{
  const char *name;
  guint       max_depth;
  ScanFrame  *frames;
  guint       depth;
  guint       deepest;
  GString    *problems;
  guint       n_problems;
  gint        first_code;
} Scan;

/* A member name in a path, as written, cut when long and made printable
 * as UTF-8 (the message itself must be valid UTF-8). */
static void
append_path_key (GString    *path,
                 const char *key,
                 gsize       len)
{
  g_autofree char *valid = NULL;

  g_string_append_c (path, '.');
  if (len > 64)
    {
      valid = g_utf8_make_valid (key, 64);
      g_string_append (path, valid);
      g_string_append (path, "…");
    }
  else
    {
      valid = g_utf8_make_valid (key, len);
      g_string_append (path, valid);
    }
}

/* The path of the value at the current position; with @key, of the
 * member of that name in the innermost object. */
static char *
scan_path (Scan       *s,
           const char *key,
           gsize       key_len)
{
  GString *path = g_string_new ("$");

  for (guint i = 0; i < s->depth; i++)
    {
      const ScanFrame *f = &s->frames[i];

      /* A deep path keeps its first and last segments. */
      if (s->depth > 16 && i == 8)
        {
          g_string_append_printf (path, "…(%u more)…", s->depth - 16);
          i = s->depth - 8;
          f = &s->frames[i];
        }

      if (i + 1 == s->depth && key != NULL)
        append_path_key (path, key, key_len);
      else if (f->array)
        g_string_append_printf (path, "[%u]", f->index);
      else if (f->key != NULL)
        append_path_key (path, f->key, f->key_len);
    }
  return g_string_free (path, FALSE);
}

static void G_GNUC_PRINTF (5, 6)
scan_problem (Scan       *s,
              gint        code,
              const char *key,
              gsize       key_len,
              const char *format,
              ...)
{
  g_autofree char *path = NULL;
  g_autofree char *msg = NULL;
  va_list args;

  if (s->n_problems++ >= MAX_PROBLEMS)
    return;
  if (s->first_code < 0)
    s->first_code = code;
  path = scan_path (s, key, key_len);
  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  if (s->problems->len > 0)
    g_string_append_c (s->problems, '\n');
  if (s->name)
    {
      orrery_string_append_escaped (s->problems, s->name, -1);
      g_string_append (s->problems, ": ");
    }
  orrery_string_append_escaped (s->problems, path, -1);
  g_string_append_printf (s->problems, ": %s", msg);
}

static gint
hex4 (const char *p,
      const char *end)
{
  gint v = 0;

  if (end - p < 4)
    return -1;
  for (guint i = 0; i < 4; i++)
    {
      gint d = g_ascii_xdigit_value (p[i]);

      if (d < 0)
        return -1;
      v = v * 16 + d;
    }
  return v;
}

/* Whether a run of raw string bytes is UTF-8 (NUL bytes are not). */
static gboolean
run_is_utf8 (const char *p,
             const char *end)
{
  return p == end || g_utf8_validate_len (p, end - p, NULL);
}

/* Reads the string that starts at @p (on its quote); returns where it
 * ends (after its closing quote), or NULL when it does not end. The first
 * problem of a string is reported, once its end (and so, for a member
 * name, the whole name) is known. */
static const char *
scan_string (Scan       *s,
             const char *p,
             const char *end,
             gboolean    is_key)
{
  char quote = *p;
  const char *start = ++p;
  gint code = -1;
  char detail[64] = "";

#define STRING_PROBLEM(c, ...) \
  G_STMT_START { if (code < 0) { code = (c); g_snprintf (detail, sizeof detail, __VA_ARGS__); } } G_STMT_END

  if (quote == '\'')
    {
      /* No escapes in single quotes. */
      const char *close = memchr (p, '\'', end - p);

      if (close == NULL)
        return NULL;
      if (!run_is_utf8 (p, close))
        STRING_PROBLEM (ORRERY_CONSTELLATION_ERROR_NOT_UTF8, "not valid UTF-8");
      p = close;
    }
  else
    for (;;)
      {
        const char *run = p;
        gint u;

        while (p < end && *p != '"' && *p != '\\')
          p++;
        if (!run_is_utf8 (run, p))
          STRING_PROBLEM (ORRERY_CONSTELLATION_ERROR_NOT_UTF8, "not valid UTF-8");
        if (p >= end)
          return NULL;
        if (*p == '"')
          break;
        /* A backslash */
        if (end - p < 2)
          return NULL;
        switch (p[1])
          {
          case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
            p += 2;
            break;
          case 'u':
            u = hex4 (p + 2, end);
            if (u < 0)
              {
                STRING_PROBLEM (ORRERY_CONSTELLATION_ERROR_NOT_JSON,
                                "not JSON: a Unicode escape needs four hexadecimal digits");
                p += 2;
              }
            else if (u == 0)
              {
                STRING_PROBLEM (ORRERY_CONSTELLATION_ERROR_NUL_CHARACTER,
                                "holds a NUL character (U+0000)");
                p += 6;
              }
            else if (u >= 0xd800 && u <= 0xdbff)
              {
                gint low = end - p >= 12 && p[6] == '\\' && p[7] == 'u' ? hex4 (p + 8, end) : -1;

                if (low >= 0xdc00 && low <= 0xdfff)
                  p += 12;
                else
                  {
                    STRING_PROBLEM (ORRERY_CONSTELLATION_ERROR_NOT_UTF8,
                                    "not valid UTF-8 (a lone surrogate U+%04X)", (guint) u);
                    p += 6;
                  }
              }
            else if (u >= 0xdc00 && u <= 0xdfff)
              {
                STRING_PROBLEM (ORRERY_CONSTELLATION_ERROR_NOT_UTF8,
                                "not valid UTF-8 (a lone surrogate U+%04X)", (guint) u);
                p += 6;
              }
            else
              p += 6;
            break;
          default:
            if ((guchar) p[1] >= 0x20 && (guchar) p[1] < 0x7f)
              STRING_PROBLEM (ORRERY_CONSTELLATION_ERROR_NOT_JSON, "not JSON: a backslash before “%c” is not an escape", p[1]);
            else
              STRING_PROBLEM (ORRERY_CONSTELLATION_ERROR_NOT_JSON, "not JSON: a backslash before a character that is not an escape");
            /* Step over the whole character, so its bytes do not look broken. */
            p += 1 + ((guchar) p[1] < 0x80 ? 1 : MAX (1, g_utf8_skip[(guchar) p[1]]));
            if (p > end)
              return NULL;
            break;
          }
      }
#undef STRING_PROBLEM

  if (code >= 0)
    {
      if (is_key)
        scan_problem (s, code, start, p - start, "member name %s", detail);
      else
        scan_problem (s, code, NULL, 0, "%s", detail);
    }
  return p + 1;
}

gboolean
_orrery_json_check_text (const char  *text,
                         gsize        length,
                         const char  *name,
                         guint        max_depth,
                         guint       *out_depth,
                         GError     **error)
{
  const char *p = text, *end = text + length;
  gboolean want_key = FALSE, root_done = FALSE;
  Scan s = { 0 };

  s.name = name;
  s.max_depth = max_depth;
  s.frames = g_new0 (ScanFrame, max_depth + 1);
  s.problems = g_string_new (NULL);
  s.first_code = -1;

  while (p < end)
    {
      switch (*p)
        {
        case '"':
        case '\'':
          {
            gboolean is_key = want_key && s.depth > 0 && !s.frames[s.depth - 1].array;
            const char *start = p + 1;

            p = scan_string (&s, p, end, is_key);
            if (p == NULL)
              goto done;  /* unterminated: the parser says so */
            if (is_key)
              {
                s.frames[s.depth - 1].key = start;
                s.frames[s.depth - 1].key_len = p - 1 - start;
                want_key = FALSE;
              }
          }
          break;
        case '/':
          if (end - p >= 2 && p[1] == '*')
            {
              const char *close = p + 2;

              while ((close = memchr (close, '*', end - close)) != NULL && close + 1 < end && close[1] != '/')
                close++;
              if (close == NULL || close + 1 >= end)
                goto done;
              p = close + 2;
            }
          else
            p++;
          break;
        case '[':
        case '{':
          if (s.depth >= max_depth)
            {
              scan_problem (&s, ORRERY_CONSTELLATION_ERROR_TOO_DEEP, NULL, 0,
                            "nested deeper than %u", max_depth);
              s.deepest = s.depth + 1;
              goto done;
            }
          s.frames[s.depth].array = *p == '[';
          s.frames[s.depth].index = 0;
          s.frames[s.depth].key = NULL;
          s.depth++;
          s.deepest = MAX (s.deepest, s.depth);
          want_key = *p == '{';
          p++;
          break;
        case ']':
        case '}':
          if (s.depth > 0 && --s.depth == 0)
            root_done = TRUE;
          want_key = FALSE;
          p++;
          break;
        case ' ': case '\t': case '\n': case '\r':
          p++;
          break;
        case '-': case '.':
        case '0': case '1': case '2': case '3': case '4':
        case '5': case '6': case '7': case '8': case '9':
          {
            /* A number json-glib would read as infinity is written back
             * as `inf`, which is not JSON. Only an exponent or some 300
             * digits get there. */
            const char *start = p;
            gboolean exponent = FALSE;

            while (p < end && (g_ascii_isalnum (*p) || *p == '.' || *p == '+' || *p == '-'))
              exponent |= *p == 'e' || *p == 'E', p++;
            if (exponent || p - start > 300)
              {
                g_autofree char *token = g_strndup (start, p - start);
                gdouble v = g_ascii_strtod (token, NULL);

                if (isinf (v))
                  scan_problem (&s, ORRERY_CONSTELLATION_ERROR_BAD_VALUE, NULL, 0,
                                "number out of range: %s", token);
              }
          }
          break;
        case ',':
          if (s.depth > 0)
            {
              if (s.frames[s.depth - 1].array)
                s.frames[s.depth - 1].index++;
              else
                want_key = TRUE;
            }
          p++;
          break;
        default:
          p++;
          break;
        }
      /* After the root closes, only spaces and comments may follow:
       * json-glib would ignore a second document. */
      if (root_done && p < end && !is_json_space (*p) && *p != '/')
        {
          scan_problem (&s, ORRERY_CONSTELLATION_ERROR_NOT_JSON, NULL, 0,
                        "not JSON: text after the end of the document");
          goto done;
        }
    }

done:
  if (out_depth)
    *out_depth = s.deepest;
  g_free (s.frames);
  if (s.n_problems > 0)
    {
      if (s.n_problems > MAX_PROBLEMS)
        {
          g_string_append_c (s.problems, '\n');
          if (name)
            {
              orrery_string_append_escaped (s.problems, name, -1);
              g_string_append (s.problems, ": ");
            }
          g_string_append (s.problems, "too many problems, giving up");
        }
      g_set_error_literal (error, ORRERY_CONSTELLATION_ERROR, s.first_code, s.problems->str);
      g_string_free (s.problems, TRUE);
      return FALSE;
    }
  g_string_free (s.problems, TRUE);
  return TRUE;
}

/* One parse. With @names, streams and sets @again when the parser
 * disagreed with the scan. */
static OrreryConstellation *
parse_and_load (const char  *text,
                gsize        length,
                const char  *name,
                gboolean     is_file,
                GPtrArray   *names,
                gboolean    *again,
                GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GError) err = NULL;
  Loader l;

  loader_init (&l, name, names);
  if (names)
    {
      g_signal_connect (parser, "object-start", G_CALLBACK (on_object_start), &l);
      g_signal_connect (parser, "array-start", G_CALLBACK (on_array_start), &l);
      g_signal_connect (parser, "object-end", G_CALLBACK (on_container_end), &l);
      g_signal_connect (parser, "array-end", G_CALLBACK (on_container_end), &l);
      g_signal_connect (parser, "array-element", G_CALLBACK (on_array_element), &l);
      g_signal_connect (parser, "object-member", G_CALLBACK (on_object_member), &l);
    }
  if (!json_parser_load_from_data (parser, text, length, &err))
    {
      loader_clear (&l);
      parse_error (error, name, is_file, err);
      return NULL;
    }
  if (names && (l.mismatch || l.n_members != names->len))
    {
      loader_clear (&l);
      *again = TRUE;
      return NULL;
    }
  return finish (&l, json_parser_get_root (parser), error);
}

/* A constellation from a tree already parsed (the journal's header). */
OrreryConstellation *
_orrery_constellation_new_from_node (JsonNode    *root,
                                     const char  *name,
                                     GError     **error)
{
  Loader l;

  loader_init (&l, name, NULL);
  return finish (&l, root, error);
}

static OrreryConstellation *
load_text (const char  *text,
           gsize        length,
           const char  *name,
           gboolean     is_file,
           GError     **error)
{
  g_autoptr(GPtrArray) names = NULL;

  /* Before any parse, streaming or whole. */
  if (!_orrery_json_check_text (text, length, name, ORRERY_CONSTELLATION_MAX_DEPTH, NULL, error))
    return NULL;
  names = scan_member_names (text, length);
  if (names)
    {
      gboolean again = FALSE;
      OrreryConstellation *c = parse_and_load (text, length, name, is_file, names, &again, error);

      if (!again)
        return c;
    }
  return parse_and_load (text, length, name, is_file, NULL, NULL, error);
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
 * The file is mapped, not copied, and the tasks and dependency lines are
 * loaded as they are parsed, so the memory a load needs is about the
 * file's size plus the constellation's.
 *
 * Returns: (transfer full) (nullable): the constellation, validated (no
 *   cycle); %NULL with @error set
 */
OrreryConstellation *
orrery_constellation_new_from_file (const char  *path,
                                    GError     **error)
{
  g_autoptr(GMappedFile) map = NULL;
  g_autoptr(GError) err = NULL;
  const char *text;

  g_return_val_if_fail (path != NULL, NULL);
  map = g_mapped_file_new (path, FALSE, &err);
  if (map == NULL)
    {
      parse_error (error, path, TRUE, err);
      return NULL;
    }
  text = g_mapped_file_get_contents (map);
  return load_text (text ? text : "", g_mapped_file_get_length (map), path, TRUE, error);
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
  g_return_val_if_fail (data != NULL, NULL);
  return load_text (data, length < 0 ? strlen (data) : (gsize) length,
                    name_for_errors ? name_for_errors : "<data>", FALSE, error);
}

/**
 * orrery_constellation_new_from_stream:
 * @stream: a stream of JSON text
 * @name_for_errors: (nullable): what to call the document in errors
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for an error
 *
 * Loads a constellation from a stream; see orrery_constellation_new_from_file().
 * The stream is read to its end first.
 *
 * Returns: (transfer full) (nullable): the constellation, or %NULL with @error set
 */
OrreryConstellation *
orrery_constellation_new_from_stream (GInputStream  *stream,
                                      const char    *name_for_errors,
                                      GCancellable  *cancellable,
                                      GError       **error)
{
  const char *name = name_for_errors ? name_for_errors : "<stream>";
  g_autoptr(GByteArray) content = NULL;
  g_autoptr(GError) err = NULL;
  gsize pos = 0;
  gssize res;

  g_return_val_if_fail (G_IS_INPUT_STREAM (stream), NULL);
  if (g_cancellable_set_error_if_cancelled (cancellable, &err))
    {
      parse_error (error, name, FALSE, err);
      return NULL;
    }
  content = g_byte_array_sized_new (64 * 1024);
  do
    {
      g_byte_array_set_size (content, pos + 64 * 1024);
      res = g_input_stream_read (stream, content->data + pos, 64 * 1024, cancellable, &err);
      if (res > 0)
        pos += res;
    }
  while (res > 0);
  if (res < 0)
    {
      parse_error (error, name, FALSE, err);
      return NULL;
    }
  g_byte_array_set_size (content, pos);
  return load_text ((const char *) content->data, pos, name, FALSE, error);
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

static int
compare_task_index (const void *a,
                    const void *b)
{
  guint x = (*(OrreryTask *const *) a)->index, y = (*(OrreryTask *const *) b)->index;

  return x < y ? -1 : x > y;
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
  /* Dependents in the order of the tasks, as a load of what is written
   * here links them (the lines go by dependent): the text round-trips. */
  a = json_array_new ();
  if (t->n_out > 0)
    {
      g_autofree OrreryTask **to = g_new (OrreryTask *, t->n_out);

      for (guint i = 0; i < t->n_out; i++)
        to[i] = t->out[i]->to;
      qsort (to, t->n_out, sizeof *to, compare_task_index);
      for (guint i = 0; i < t->n_out; i++)
        json_array_add_string_element (a, to[i]->id);
    }
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

JsonNode *
_orrery_task_to_json_node (OrreryTask *task)
{
  return task_to_json (task);
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
static char *
constellation_to_data (OrreryConstellation *self,
                       gboolean             pretty,
                       gsize               *length);

char *
orrery_constellation_to_data (OrreryConstellation *self,
                              gsize               *length)
{
  g_return_val_if_fail (ORRERY_IS_CONSTELLATION (self), NULL);
  return constellation_to_data (self, TRUE, length);
}

static char *
constellation_to_data (OrreryConstellation *self,
                       gboolean             pretty,
                       gsize               *length)
{
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = json_node_new (JSON_NODE_OBJECT);
  JsonObject *o = json_object_new ();
  JsonObject *tasks = json_object_new ();
  JsonObject *deps = json_object_new ();
  g_autofree char *state = NULL;

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
  if (pretty)
    {
      json_generator_set_pretty (gen, TRUE);
      json_generator_set_indent (gen, 2);
    }
  return json_generator_to_data (gen, length);
}

/**
 * orrery_constellation_save_to_file:
 * @self: a constellation
 * @path: (type filename): where to write
 * @error: return location for an error
 *
 * Writes the constellation as orrery_constellation_to_data() does, but
 * compact (no indentation: a machine file, whose size follows the data's),
 * to a file atomically: a reader sees the old file or the new one, never
 * half of one. The file is created readable and writable by its owner only
 * (mode 0600): it holds the tasks' environment and output.
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
  data = constellation_to_data (self, FALSE, &len);
  if (!g_file_set_contents_full (path, data, len, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &err))
    {
      g_set_error (error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_IO, "%s", err->message);
      return FALSE;
    }
  return TRUE;
}
