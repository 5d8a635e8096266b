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
 * Large documents: the text is read with Orrery's JSON reader
 * (orrery-json-reader.h), the root object member by member and each
 * element of the top-level `tasks` and `dependencies` into an arena reset
 * after it, so a load needs about the constellation (a mapped file's
 * pages are given back as they are read). Text the reader refuses
 * (json-glib's dialect, or no JSON at all) is checked byte by byte
 * (_orrery_json_check_text()) and handed to json-glib, whose tree is read
 * by the same code, or whose parser says what is wrong.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-Constellation"

#include <math.h>

#include "orrery-constellation-private.h"
#include "orrery-json-reader.h"

#define MAX_PROBLEMS 200

/* Problems are reported in the same order whatever the order of the
 * document's members: the root's own fields, then the tasks, then the
 * dependency lines and the tasks' lists. (Lines written before the tasks
 * report what they say on their own as they are read, then what needs
 * the tasks, such as an unknown task, once the tasks are loaded.) */
typedef enum { PHASE_ROOT, PHASE_TASKS, PHASE_DEPS, N_PHASES } Phase;

#define NO_INDEX G_MAXUINT

/* Where a value is, for the path of a problem: made into text only when
 * there is a problem. */
typedef struct
{
  const char *collection;   /* "tasks", "dependencies"; NULL: the root */
  const char *key;          /* the element's key in a keyed collection */
  guint       index;        /* else its index; NO_INDEX: the collection itself */
} Where;

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
  gboolean             has_tasks;  /* the root has a "tasks" member */
  gboolean             has_deps;   /* ... and a "dependencies" member that is not null */
  gboolean             keyed;      /* the tasks are keyed by id */
  gboolean             defer;      /* dependency lines read before the tasks */
  gboolean             not_object; /* the document is no object */
  GArray              *root;       /* OrreryJsonValue: the root's other members, name then value */
  OrreryJsonArena     *root_arena;
  /* Equal task data (by its text) is one shared value: a million
   * `{"duration_ms": 0}` are one GVariant. For this load only. */
  OrreryJsonVariantCache *shared;
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

/* Members by name: a table of the names a reader knows, each name's slot
 * in it found by length and bytes. */
static gint
field_index (const char *const     *names,
             const guint8          *lengths,
             gint                   n,
             const OrreryJsonValue *name)
{
  for (gint i = 0; i < n; i++)
    if (lengths[i] == name->len && names[i][0] == name->u.s[0] && memcmp (names[i], name->u.s, name->len) == 0)
      return i;
  return -1;
}

static void
init_lengths (const char *const *names,
              guint8            *lengths,
              gint               n)
{
  for (gint i = 0; i < n; i++)
    lengths[i] = strlen (names[i]);
}

typedef enum {
  TF_TASK_ID, TF_ID, TF_NAME, TF_DESCRIPTION, TF_TASK_DESCRIPTION, TF_TIPS, TF_TARGET_DEVICE_ID,
  TF_DEVICE_TYPE, TF_PRIORITY, TF_STATUS, TF_RESULT, TF_ERROR, TF_TIMEOUT, TF_RETRY_COUNT,
  TF_CURRENT_RETRY, TF_ATTEMPT, TF_TASK_DATA, TF_CREATED_AT, TF_EXECUTION_START_TIME,
  TF_EXECUTION_END_TIME, TF_STARTED_AT, TF_ENDED_AT, TF_EXECUTION_DURATION, TF_DEPENDENCIES,
  TF_DEPENDENTS, N_TASK_FIELDS
} TaskField;

static const char *const task_fields[N_TASK_FIELDS] = {
  "task_id", "id", "name", "description", "task_description", "tips", "target_device_id",
  "device_type", "priority", "status", "result", "error", "timeout", "retry_count",
  "current_retry", "attempt", "task_data", "created_at", "execution_start_time",
  "execution_end_time", "started_at", "ended_at", "execution_duration", "dependencies",
  "dependents",
};
static guint8 task_field_lengths[N_TASK_FIELDS];

typedef enum {
  DF_LINE_ID, DF_FROM_TASK_ID, DF_TO_TASK_ID, DF_DEPENDENCY_TYPE, DF_CONDITION,
  DF_CONDITION_DESCRIPTION, DF_IS_SATISFIED, DF_LAST_EVALUATION_RESULT, N_DEP_FIELDS
} DepField;

static const char *const dep_fields[N_DEP_FIELDS] = {
  "line_id", "from_task_id", "to_task_id", "dependency_type", "condition",
  "condition_description", "is_satisfied", "last_evaluation_result",
};
static guint8 dep_field_lengths[N_DEP_FIELDS];

static void
loader_init (Loader     *l,
             const char *name)
{
  memset (l, 0, sizeof *l);
  l->name = name;
  for (guint i = 0; i < N_PHASES; i++)
    l->problems[i] = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  l->c = orrery_constellation_new (NULL, NULL);
  l->root = g_array_new (FALSE, FALSE, sizeof (OrreryJsonValue));
  l->root_arena = _orrery_json_arena_new ();
  l->shared = _orrery_json_variant_cache_new ();
  init_lengths (task_fields, task_field_lengths, N_TASK_FIELDS);
  init_lengths (dep_fields, dep_field_lengths, N_DEP_FIELDS);
}

static void
loader_clear (Loader *l)
{
  for (guint i = 0; i < N_PHASES; i++)
    g_clear_pointer (&l->problems[i], g_ptr_array_unref);
  g_clear_pointer (&l->lists, g_ptr_array_unref);
  g_clear_pointer (&l->pending, g_ptr_array_unref);
  g_clear_pointer (&l->root, g_array_unref);
  g_clear_pointer (&l->root_arena, _orrery_json_arena_free);
  g_clear_pointer (&l->shared, _orrery_json_variant_cache_free);
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

/* `$`, `$.tasks`, `$.tasks[3]`, `$.tasks.KEY`, then `.MEMBER` (which
 * may go on: `tips[2]`, `condition.operator`). */
static char *
where_path (const Where *w,
            const char  *member)
{
  GString *s = g_string_new ("$");

  if (w && w->collection)
    {
      g_string_append_c (s, '.');
      g_string_append (s, w->collection);
      if (w->key)
        {
          g_string_append_c (s, '.');
          g_string_append (s, w->key);
        }
      else if (w->index != NO_INDEX)
        g_string_append_printf (s, "[%u]", w->index);
    }
  if (member)
    {
      g_string_append_c (s, '.');
      g_string_append (s, member);
    }
  return g_string_free (s, FALSE);
}

static void
add_problem (Loader     *l,
             gint        code,
             const char *path,
             const char *msg)
{
  GPtrArray *list = l->problems[l->phase];

  /* Each phase keeps its first MAX_PROBLEMS; the report keeps the first
   * MAX_PROBLEMS of all, in phase order. */
  if (list->len >= MAX_PROBLEMS)
    return;
  g_ptr_array_add (list, g_error_new (ORRERY_CONSTELLATION_ERROR, code, "%s: %s: %s", l->name, path, msg));
}

/* A problem at @member of @w (NULL: @w itself). */
static void G_GNUC_PRINTF (5, 6)
problem (Loader                   *l,
         OrreryConstellationError  code,
         const Where              *w,
         const char               *member,
         const char               *format,
         ...)
{
  va_list args;
  g_autofree char *msg = NULL;
  g_autofree char *path = NULL;

  if (l->problems[l->phase]->len >= MAX_PROBLEMS)
    return;
  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  path = where_path (w, member);
  add_problem (l, code, path, msg);
}

/* The same, at a path already made. */
static void G_GNUC_PRINTF (4, 5)
problem_at (Loader                   *l,
            OrreryConstellationError  code,
            const char               *path,
            const char               *format,
            ...)
{
  va_list args;
  g_autofree char *msg = NULL;

  if (l->problems[l->phase]->len >= MAX_PROBLEMS)
    return;
  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  add_problem (l, code, path, msg);
}

static void
wrong_type (Loader                *l,
            const Where           *w,
            const char            *member,
            const OrreryJsonValue *v,
            const char            *expected)
{
  problem (l, ORRERY_CONSTELLATION_ERROR_WRONG_TYPE, w, member, "wrong type: expected %s, found %s",
           expected, _orrery_json_value_type_name (v));
}

static gboolean
is_null (const OrreryJsonValue *v)
{
  return v == NULL || v->kind == ORRERY_JSON_NULL;
}

static gboolean
is_number (const OrreryJsonValue *v)
{
  return v->kind == ORRERY_JSON_INT || v->kind == ORRERY_JSON_DOUBLE;
}

static gdouble
number_value (const OrreryJsonValue *v)
{
  return v->kind == ORRERY_JSON_INT ? (gdouble) v->u.i : v->u.d;
}

/* A string member, or NULL (absent or null); wrong types are reported. */
static const char *
read_string (Loader                *l,
             const Where           *w,
             const char            *member,
             const OrreryJsonValue *v)
{
  if (is_null (v))
    return NULL;
  if (v->kind != ORRERY_JSON_STRING)
    {
      wrong_type (l, w, member, v, "a string");
      return NULL;
    }
  return v->u.s;
}

static gint64
read_time (Loader                *l,
           const Where           *w,
           const char            *member,
           const OrreryJsonValue *v)
{
  if (is_null (v))
    return 0;
  if (is_number (v))
    {
      gdouble seconds = number_value (v);

      /* GDateTime's years 1 to 9999; a number past what microseconds in
       * a gint64 hold was undefined behaviour (found by fuzzing the
       * journal reader). */
      if (!(seconds >= -62135596800.0 && seconds <= 253402300799.0))
        {
          problem (l, ORRERY_CONSTELLATION_ERROR_BAD_VALUE, w, member,
                   "%g seconds since the epoch is out of range (years 1 to 9999)", seconds);
          return 0;
        }
      return (gint64) (seconds * G_USEC_PER_SEC);
    }
  if (v->kind == ORRERY_JSON_STRING)
    {
      g_autoptr(GTimeZone) utc = g_time_zone_new_utc ();
      g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601 (v->u.s, utc);

      if (dt)
        return g_date_time_to_unix (dt) * G_USEC_PER_SEC + g_date_time_get_microsecond (dt);
      problem (l, ORRERY_CONSTELLATION_ERROR_BAD_VALUE, w, member, "“%s” is not an ISO 8601 time", v->u.s);
      return 0;
    }
  wrong_type (l, w, member, v, "an ISO 8601 time string or seconds since the epoch");
  return 0;
}

static char *
format_time (gint64 usec)
{
  g_autoptr(GDateTime) base = g_date_time_new_from_unix_utc (usec / G_USEC_PER_SEC);
  g_autoptr(GDateTime) dt = g_date_time_add (base, usec % G_USEC_PER_SEC);

  return g_date_time_format_iso8601 (dt);
}

/* A value as a GVariant (json-glib's mapping), compact and shared. */
static GVariant *
read_variant (Loader                *l,
              const OrreryJsonValue *v)
{
  return _orrery_json_variant_cache_get (l->shared, v);
}

static TaskLists *
task_lists_new (guint                  json_index,
                const OrreryJsonValue *arrays[2])
{
  gsize size = 0;
  TaskLists *tl;
  char *p;

  for (guint i = 0; i < 2; i++)
    for (guint k = 0; arrays[i] && k < arrays[i]->len; k++)
      size += arrays[i]->u.items[k].len + 1;
  tl = g_malloc (sizeof *tl + size);
  tl->json_index = json_index;
  p = tl->ids;
  for (guint i = 0; i < 2; i++)
    {
      tl->n[i] = arrays[i] ? (gint) arrays[i]->len : -1;
      for (gint k = 0; k < tl->n[i]; k++)
        {
          const OrreryJsonValue *id = &arrays[i]->u.items[k];

          memcpy (p, id->u.s, id->len + 1);
          p += id->len + 1;
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
  if (l->lists->len <= t->state.index)
    g_ptr_array_set_size (l->lists, t->state.index + 1);
  l->lists->pdata[t->state.index] = tl;
}

/* What one task reader needs. */
typedef struct
{
  Loader                *l;
  const Where           *w;
  OrreryTask            *t;
  const OrreryJsonValue *f[N_TASK_FIELDS];   /* NULL: absent */
} TaskInput;

static void
read_task_names (TaskInput *in)
{
  OrreryTask *t = in->t;
  const char *s;

  t->name = g_strdup (read_string (in->l, in->w, "name", in->f[TF_NAME]));
  t->description = g_strdup (read_string (in->l, in->w, "description", in->f[TF_DESCRIPTION]));
  if (t->description == NULL)
    t->description = g_strdup (read_string (in->l, in->w, "task_description", in->f[TF_TASK_DESCRIPTION]));
  if ((s = read_string (in->l, in->w, "target_device_id", in->f[TF_TARGET_DEVICE_ID])) && *s)
    t->target_device_id = _orrery_intern (s);
  if ((s = read_string (in->l, in->w, "device_type", in->f[TF_DEVICE_TYPE])) && *s)
    t->device_type = _orrery_intern (s);
}

static void
read_task_tips (TaskInput *in)
{
  const OrreryJsonValue *v = in->f[TF_TIPS];
  GStrvBuilder *b;

  if (is_null (v))
    return;
  if (v->kind != ORRERY_JSON_ARRAY)
    {
      wrong_type (in->l, in->w, "tips", v, "an array of strings");
      return;
    }
  b = g_strv_builder_new ();
  for (guint i = 0; i < v->len; i++)
    {
      const OrreryJsonValue *e = &v->u.items[i];

      if (e->kind == ORRERY_JSON_STRING)
        g_strv_builder_add (b, e->u.s);
      else
        {
          g_autofree char *member = g_strdup_printf ("tips[%u]", i);
          wrong_type (in->l, in->w, member, e, "a string");
        }
    }
  in->t->tips = g_strv_builder_end (b);
  g_strv_builder_unref (b);
}

static void
read_task_priority (TaskInput *in)
{
  const OrreryJsonValue *v = in->f[TF_PRIORITY];
  OrreryTaskPriority prio;

  if (is_null (v))
    return;
  if (v->kind == ORRERY_JSON_INT && v->u.i >= 1 && v->u.i <= 4)
    in->t->priority = v->u.i;
  else if (v->kind == ORRERY_JSON_STRING && orrery_task_priority_from_string (v->u.s, &prio))
    in->t->priority = prio;
  else if (v->kind == ORRERY_JSON_INT)
    problem (in->l, ORRERY_CONSTELLATION_ERROR_BAD_ENUM, in->w, "priority", "bad enum value %" G_GINT64_FORMAT
             " for priority (expected 1-4 or low, medium, high, critical)", v->u.i);
  else if (v->kind == ORRERY_JSON_STRING)
    problem (in->l, ORRERY_CONSTELLATION_ERROR_BAD_ENUM, in->w, "priority", "bad enum value “%s” for priority "
             "(expected low, medium, high, critical or 1-4)", v->u.s);
  else
    wrong_type (in->l, in->w, "priority", v, "a priority name or number");
}

static void
read_task_status (TaskInput *in)
{
  const char *s = read_string (in->l, in->w, "status", in->f[TF_STATUS]);
  OrreryTaskStatus st;

  if (s == NULL)
    return;
  if (orrery_task_status_from_string (s, &st))
    in->t->state.status = st;
  else
    problem (in->l, ORRERY_CONSTELLATION_ERROR_BAD_ENUM, in->w, "status", "bad enum value “%s” for status (expected "
             "pending, waiting_dependency, running, completed, failed, cancelled, skipped)", s);
}

/* The depth of @v as a GVariant (json-glib's mapping): a scalar is one
 * level, an array two (av), an object three (a{sv}). GVariant keeps
 * VARIANT_MAX_DEPTH levels, nested variants included; what is
 * deeper comes back from its serialised form as () or an empty container:
 * a task would run with other data than the file's, and nothing said so.
 * (The recursion is bounded by the document's depth limit.) */
#define VARIANT_MAX_DEPTH 128   /* GLib's G_VARIANT_MAX_RECURSION_DEPTH (not public) */

static gsize
variant_depth (const OrreryJsonValue *v)
{
  gsize deepest = 0;

  if (v->kind != ORRERY_JSON_OBJECT && v->kind != ORRERY_JSON_ARRAY)
    return 1;
  for (guint i = 0; i < v->len; i++)
    {
      /* Not inside MAX(), which evaluates its arguments twice. */
      gsize d = variant_depth (v->kind == ORRERY_JSON_ARRAY ? &v->u.items[i] : &v->u.items[2 * i + 1]);

      deepest = MAX (deepest, d);
    }
  return deepest + (v->kind == ORRERY_JSON_ARRAY ? 2 : 3);
}

/* Whether the value of @member can be kept as a GVariant whole. */
static gboolean
check_variant_depth (TaskInput             *in,
                     const char            *member,
                     const OrreryJsonValue *v)
{
  if (variant_depth (v) <= VARIANT_MAX_DEPTH)
    return TRUE;
  problem (in->l, ORRERY_CONSTELLATION_ERROR_TOO_DEEP, in->w, member,
           "nested too deep to be kept whole (an object counts 3 levels, an array 2, "
           "at most %u in all)", VARIANT_MAX_DEPTH);
  return FALSE;
}

static void
read_task_outcome (TaskInput *in)
{
  const OrreryJsonValue *v = in->f[TF_RESULT];
  const char *s;

  if (!is_null (v) && check_variant_depth (in, "result", v))
    in->t->state.result = read_variant (in->l, v);
  v = in->f[TF_ERROR];
  if (is_null (v))
    return;
  if (v->kind == ORRERY_JSON_STRING)
    _orrery_task_set_error_message (in->t, v->u.s);
  else if (v->kind == ORRERY_JSON_OBJECT &&
           (s = read_string (in->l, in->w, "message", _orrery_json_value_get_member (v, "message"))))
    _orrery_task_set_error_message (in->t, s);
  else
    wrong_type (in->l, in->w, "error", v, "a string");
}

static void
read_task_limits (TaskInput *in)
{
  const OrreryJsonValue *v = in->f[TF_TIMEOUT];
  const TaskField counters[] = { TF_RETRY_COUNT, TF_CURRENT_RETRY, TF_ATTEMPT };

  if (!is_null (v))
    {
      if (!is_number (v))
        wrong_type (in->l, in->w, "timeout", v, "a number of seconds");
      else if (number_value (v) < 0)
        problem (in->l, ORRERY_CONSTELLATION_ERROR_BAD_VALUE, in->w, "timeout", "a timeout cannot be negative");
      else
        in->t->timeout = number_value (v);
    }
  for (guint i = 0; i < G_N_ELEMENTS (counters); i++)
    {
      const char *member = task_fields[counters[i]];

      v = in->f[counters[i]];
      if (is_null (v))
        continue;
      if (v->kind != ORRERY_JSON_INT)
        wrong_type (in->l, in->w, member, v, "an integer");
      else if (v->u.i < 0 || v->u.i > G_MAXUINT)
        problem (in->l, ORRERY_CONSTELLATION_ERROR_BAD_VALUE, in->w, member, "out of range");
      else if (i == 0)
        in->t->retry_count = v->u.i;
      else
        in->t->state.attempt = v->u.i;
    }
}

static void
read_task_data (TaskInput *in)
{
  const OrreryJsonValue *v = in->f[TF_TASK_DATA];

  if (is_null (v))
    return;
  if (v->kind != ORRERY_JSON_OBJECT)
    wrong_type (in->l, in->w, "task_data", v, "an object");
  else if (v->len > 0 && check_variant_depth (in, "task_data", v))
    in->t->task_data = read_variant (in->l, v);
}

static void
read_task_times (TaskInput *in)
{
  OrreryTask *t = in->t;
  gboolean started = in->f[TF_STARTED_AT] != NULL, ended = in->f[TF_ENDED_AT] != NULL;

  if (in->f[TF_CREATED_AT])
    t->created_at = read_time (in->l, in->w, "created_at", in->f[TF_CREATED_AT]);
  t->state.started_at = read_time (in->l, in->w, started ? "started_at" : "execution_start_time",
                             in->f[started ? TF_STARTED_AT : TF_EXECUTION_START_TIME]);
  t->state.ended_at = read_time (in->l, in->w, ended ? "ended_at" : "execution_end_time",
                           in->f[ended ? TF_ENDED_AT : TF_EXECUTION_END_TIME]);
}

/* The task's own lists, checked against the dependency lines once they
 * are all read; NULL when it has none usable. */
static TaskLists *
read_task_lists (TaskInput *in,
                 guint      index)
{
  const TaskField fields[] = { TF_DEPENDENCIES, TF_DEPENDENTS };
  const OrreryJsonValue *usable[2] = { NULL, NULL };

  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      const OrreryJsonValue *v = in->f[fields[i]];
      const char *member = task_fields[fields[i]];
      gboolean ok = TRUE;

      if (is_null (v))
        continue;
      if (v->kind != ORRERY_JSON_ARRAY)
        {
          wrong_type (in->l, in->w, member, v, "an array of task ids");
          continue;
        }
      for (guint k = 0; k < v->len; k++)
        if (v->u.items[k].kind != ORRERY_JSON_STRING)
          {
            g_autofree char *at = g_strdup_printf ("%s[%u]", member, k);
            wrong_type (in->l, in->w, at, &v->u.items[k], "a task id");
            ok = FALSE;
          }
      if (ok)
        usable[i] = v;
    }
  return usable[0] || usable[1] ? task_lists_new (index, usable) : NULL;
}

/* Members a task keeps for the writer: what it does not know, and UFO's
 * task_description when it says something else than the description. */
static gboolean
task_member_known (const OrreryJsonValue *name,
                   const OrreryJsonValue *value,
                   gpointer               data)
{
  OrreryTask *t = data;
  gint i = field_index (task_fields, task_field_lengths, N_TASK_FIELDS, name);

  if (i == TF_TASK_DESCRIPTION)
    return value->kind == ORRERY_JSON_STRING && g_strcmp0 (value->u.s, t->description) == 0;
  return i >= 0;
}

static void
load_task (Loader                *l,
           const Where           *w,
           const OrreryJsonValue *v)
{
  TaskInput in = { l, w, NULL, { NULL } };
  const char *id = NULL;
  gboolean unknown = FALSE;
  TaskLists *tl;

  if (v->kind != ORRERY_JSON_OBJECT)
    {
      wrong_type (l, w, NULL, v, "a task object");
      return;
    }
  for (guint i = 0; i < v->len; i++)
    {
      gint f = field_index (task_fields, task_field_lengths, N_TASK_FIELDS, &v->u.items[2 * i]);

      if (f >= 0)
        in.f[f] = &v->u.items[2 * i + 1];
      unknown |= f < 0 || f == TF_TASK_DESCRIPTION;
    }
  id = read_string (l, w, "task_id", in.f[TF_TASK_ID]);
  if (id == NULL)
    id = read_string (l, w, "id", in.f[TF_ID]);
  if (id == NULL)
    id = w->key;
  if (id == NULL || *id == '\0')
    {
      problem (l, ORRERY_CONSTELLATION_ERROR_MISSING_FIELD, w, NULL, "missing field: a task needs a \"task_id\"");
      return;
    }
  if (w->key && strcmp (w->key, id) != 0)
    problem (l, ORRERY_CONSTELLATION_ERROR_BAD_VALUE, w, NULL, "task_id “%s” differs from its key “%s”", id, w->key);
  if (g_hash_table_contains (l->c->by_id, id))
    {
      problem (l, ORRERY_CONSTELLATION_ERROR_DUPLICATE_ID, w, NULL, "duplicate task id “%s”", id);
      return;
    }

  in.t = _orrery_task_new_fast (id);
  read_task_names (&in);
  read_task_tips (&in);
  read_task_priority (&in);
  read_task_status (&in);
  read_task_outcome (&in);
  read_task_limits (&in);
  read_task_data (&in);
  read_task_times (&in);
  tl = read_task_lists (&in, w->index);
  if (unknown)
    in.t->extra = _orrery_json_keep_unknown (v, task_member_known, in.t);

  _orrery_constellation_add_task_internal (l->c, in.t);
  if (tl)
    keep_task_lists (l, in.t, tl);
  g_object_unref (in.t);
}

/* Dependency lines */

static gboolean
dep_member_known (const OrreryJsonValue *name,
                  const OrreryJsonValue *value,
                  gpointer               data)
{
  return field_index (dep_fields, dep_field_lengths, N_DEP_FIELDS, name) >= 0;
}

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
      problem_at (l, ORRERY_CONSTELLATION_ERROR_UNKNOWN_TASK, p, "dependency on an unknown task “%s”",
                  *from == NULL ? from_id : to_id);
      return FALSE;
    }
  return TRUE;
}

/* The dependency type and condition; FALSE when either is bad. */
static gboolean
read_dependency_type (Loader                 *l,
                      const Where            *w,
                      const OrreryJsonValue **f,
                      OrreryDependencyType   *type,
                      OrreryCondition       **cond)
{
  const char *s;
  gboolean ok = TRUE;

  *type = ORRERY_DEPENDENCY_UNCONDITIONAL;
  *cond = NULL;
  if ((s = read_string (l, w, "dependency_type", f[DF_DEPENDENCY_TYPE])) &&
      !orrery_dependency_type_from_string (s, type))
    {
      problem (l, ORRERY_CONSTELLATION_ERROR_BAD_ENUM, w, "dependency_type", "bad enum value “%s” for dependency_type "
               "(expected unconditional, success_only, completion_only, conditional)", s);
      ok = FALSE;
    }
  if (!is_null (f[DF_CONDITION]))
    {
      g_autofree char *p = where_path (w, "condition");
      g_autoptr(JsonNode) node = _orrery_json_value_to_node (f[DF_CONDITION]);
      g_autoptr(GError) err = NULL;

      *cond = _orrery_condition_from_json (node, p, &err);
      if (*cond == NULL)
        {
          /* The message is "PATH: rule", PATH being @p or below it. */
          const char *sep = g_str_has_prefix (err->message, p) ? strstr (err->message + strlen (p), ": ") : NULL;

          if (sep)
            {
              g_autofree char *at = g_strndup (err->message, sep - err->message);
              problem_at (l, err->code, at, "%s", sep + 2);
            }
          else
            problem_at (l, err->code, p, "%s", err->message);
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
      problem_at (l, ORRERY_CONSTELLATION_ERROR_SELF_DEPENDENCY, path, "task “%s” cannot depend on itself", from->id);
      return FALSE;
    }
  if (_orrery_constellation_find_edge (from, to))
    {
      problem_at (l, ORRERY_CONSTELLATION_ERROR_DUPLICATE_DEPENDENCY, path, "duplicate dependency %s → %s",
                  from->id, to->id);
      return FALSE;
    }
  return TRUE;
}

/* The line id (when not the implied FROM->TO), the condition description
 * and the fields we do not know. */
static void
read_dependency_tail (Loader                 *l,
                      const Where            *w,
                      const OrreryJsonValue  *obj,
                      const OrreryJsonValue **f,
                      const char             *from_id,
                      const char             *to_id,
                      char                  **line_id,
                      char                  **condition_description,
                      JsonObject            **extra)
{
  const char *s = read_string (l, w, "line_id", f[DF_LINE_ID]);

  if (s == NULL)
    s = w->key;
  if (s)
    {
      gsize from_len = strlen (from_id);

      /* Not the implied FROM->TO. */
      if (strncmp (s, from_id, from_len) != 0 || strncmp (s + from_len, "->", 2) != 0 ||
          strcmp (s + from_len + 2, to_id) != 0)
        *line_id = g_strdup (s);
    }
  *condition_description = g_strdup (read_string (l, w, "condition_description", f[DF_CONDITION_DESCRIPTION]));
  if (*condition_description && **condition_description == '\0')
    g_clear_pointer (condition_description, g_free);
  *extra = _orrery_json_keep_unknown (obj, dep_member_known, NULL);
}

static void
load_dependency (Loader                *l,
                 const Where           *w,
                 const OrreryJsonValue *v)
{
  const OrreryJsonValue *f[N_DEP_FIELDS] = { NULL };
  const char *from_id, *to_id;
  g_autofree char *path = NULL;
  OrreryTask *from, *to;
  OrreryDependencyType type;
  g_autoptr(OrreryCondition) cond = NULL;
  OrreryDependency *dep;
  gboolean ok;

  if (v->kind != ORRERY_JSON_OBJECT)
    {
      wrong_type (l, w, NULL, v, "a dependency object");
      return;
    }
  for (guint i = 0; i < v->len; i++)
    {
      gint k = field_index (dep_fields, dep_field_lengths, N_DEP_FIELDS, &v->u.items[2 * i]);

      if (k >= 0)
        f[k] = &v->u.items[2 * i + 1];
    }
  from_id = read_string (l, w, "from_task_id", f[DF_FROM_TASK_ID]);
  to_id = read_string (l, w, "to_task_id", f[DF_TO_TASK_ID]);
  if (from_id == NULL || to_id == NULL)
    {
      problem (l, ORRERY_CONSTELLATION_ERROR_MISSING_FIELD, w, NULL,
               "missing field: a dependency needs \"from_task_id\" and \"to_task_id\"");
      return;
    }

  if (l->defer)
    {
      /* The tasks come later in the document: keep what the line says,
       * checked as far as it can be without them; resolve_pending() links it. */
      PendingDependency *pd = g_new0 (PendingDependency, 1);

      pd->path = where_path (w, NULL);
      pd->from_id = g_strdup (from_id);
      pd->to_id = g_strdup (to_id);
      pd->ok = read_dependency_type (l, w, f, &pd->type, &pd->condition);
      read_dependency_tail (l, w, v, f, from_id, to_id, &pd->line_id, &pd->condition_description, &pd->extra);
      if (l->pending == NULL)
        l->pending = g_ptr_array_new_with_free_func ((GDestroyNotify) pending_dependency_free);
      g_ptr_array_add (l->pending, pd);
      return;
    }

  from = g_hash_table_lookup (l->c->by_id, from_id);
  to = g_hash_table_lookup (l->c->by_id, to_id);
  if (from == NULL || to == NULL || from == to)
    {
      path = where_path (w, NULL);
      if (!find_ends (l, path, from_id, to_id, &from, &to))
        return;
    }
  ok = read_dependency_type (l, w, f, &type, &cond);
  if (from == to || _orrery_constellation_find_edge (from, to))
    {
      if (path == NULL)
        path = where_path (w, NULL);
      can_link (l, path, from, to);
      return;
    }
  if (!ok)
    return;
  dep = _orrery_constellation_link (l->c, from, to, type, cond, NULL, NULL);
  read_dependency_tail (l, w, v, f, from_id, to_id, &dep->line_id, &dep->condition_description, &dep->extra);
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

              for (guint j = 0; j < t->state.n_in && !found; j++)
                found = g_str_equal (t->state.in[j]->from->id, id);
              if (!found)
                problem_at (l, ORRERY_CONSTELLATION_ERROR_INCONSISTENT_DEPENDENCIES, p,
                         "lists “%s”, but no dependency line goes from “%s” to “%s”", id, id, t->id);
            }
          /* UFO drops a prerequisite from the list once it is satisfied. */
          for (guint j = 0; j < t->state.n_in; j++)
            if (t->state.in[j]->state == EDGE_PENDING && !task_lists_has (tl, 0, t->state.in[j]->from->id))
              problem_at (l, ORRERY_CONSTELLATION_ERROR_INCONSISTENT_DEPENDENCIES, p,
                       "does not list “%s”, but a dependency line goes from “%s” to “%s”",
                       t->state.in[j]->from->id, t->state.in[j]->from->id, t->id);
        }
      if (tl->n[1] >= 0)
        {
          g_autofree char *p = g_strdup_printf ("%s.dependents", base);

          id = task_lists_first (tl, 1);
          for (gint k = 0; k < tl->n[1]; k++, id += strlen (id) + 1)
            {
              gboolean found = FALSE;

              for (guint j = 0; j < t->state.n_out && !found; j++)
                found = g_str_equal (t->state.out[j]->to->id, id);
              if (!found)
                problem_at (l, ORRERY_CONSTELLATION_ERROR_INCONSISTENT_DEPENDENCIES, p,
                         "lists “%s”, but no dependency line goes from “%s” to “%s”", id, t->id, id);
            }
          for (guint j = 0; j < t->state.n_out; j++)
            if (!task_lists_has (tl, 1, t->state.out[j]->to->id))
              problem_at (l, ORRERY_CONSTELLATION_ERROR_INCONSISTENT_DEPENDENCIES, p,
                       "does not list “%s”, but a dependency line goes from “%s” to “%s”",
                       t->state.out[j]->to->id, t->id, t->state.out[j]->to->id);
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
            problem_at (l, ORRERY_CONSTELLATION_ERROR_UNKNOWN_TASK, p, "dependency on an unknown task “%s”", id);
          else if (from == t)
            problem_at (l, ORRERY_CONSTELLATION_ERROR_SELF_DEPENDENCY, p, "task “%s” cannot depend on itself", id);
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

      for (guint j = 0; j < t->state.n_in; j++)
        {
          OrreryDependency *d = t->state.in[j];
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
            problem_at (l, ORRERY_CONSTELLATION_ERROR_DUPLICATE_DEPENDENCY, "$.dependencies",
                     "duplicate line id “%s” (%s → %s and %s → %s)", id, other->from->id, other->to->id,
                     d->from->id, d->to->id);
          else
            g_hash_table_insert (seen, (gpointer) id, d);
        }
    }
}


/* The root */

static const char *const top_known[] = {
  "constellation_id", "id", "name", "state", "version", "tasks", "dependencies", NULL,
};

static gboolean
root_member_known (const OrreryJsonValue *name,
                   const OrreryJsonValue *value,
                   gpointer               data)
{
  return g_strv_contains (top_known, name->u.s);
}

static void
load_element (Loader                *l,
              gboolean               tasks,
              const char            *key,
              guint                  index,
              const OrreryJsonValue *v)
{
  Where w = { tasks ? "tasks" : "dependencies", key, index };

  l->phase = tasks ? PHASE_TASKS : PHASE_DEPS;
  if (tasks)
    load_task (l, &w, v);
  else
    load_dependency (l, &w, v);
}

/* The root has a `tasks` (or `dependencies`) member: what follows from
 * that before its elements are read. */
static void
collection_seen (Loader                *l,
                 gboolean               tasks,
                 gboolean               keyed,
                 gboolean               null)
{
  if (tasks)
    {
      l->has_tasks = TRUE;
      l->keyed = keyed;
    }
  else
    {
      l->has_deps = !null;
      l->defer = !l->has_tasks;
    }
}

/* A collection read whole (from a tree, or when it is no container). */
static void
load_collection (Loader                *l,
                 gboolean               tasks,
                 const OrreryJsonValue *v)
{
  Where w = { tasks ? "tasks" : "dependencies", NULL, NO_INDEX };

  collection_seen (l, tasks, v->kind == ORRERY_JSON_OBJECT, is_null (v));
  if (v->kind == ORRERY_JSON_ARRAY)
    for (guint i = 0; i < v->len; i++)
      load_element (l, tasks, NULL, i, &v->u.items[i]);
  else if (v->kind == ORRERY_JSON_OBJECT)
    for (guint i = 0; i < v->len; i++)
      load_element (l, tasks, v->u.items[2 * i].u.s, i, &v->u.items[2 * i + 1]);
  else if (!is_null (v))
    {
      l->phase = tasks ? PHASE_TASKS : PHASE_DEPS;
      wrong_type (l, &w, NULL, v, "an object keyed by id or an array");
    }
  l->defer = FALSE;
}

/* A collection read element by element from the text, each one loaded,
 * then forgotten: the document is never held as a tree. */
static void
stream_collection (Loader           *l,
                   OrreryJsonReader *r,
                   gboolean          tasks,
                   char              open,
                   gboolean          mapped)
{
  g_autoptr(OrreryJsonArena) arena = _orrery_json_arena_new ();
  OrreryJsonValue key, v;
  guint i = 0;

  collection_seen (l, tasks, open == '{', FALSE);
  _orrery_json_reader_enter (r, open);
  while (_orrery_json_reader_next (r, arena, &key))
    {
      if (!_orrery_json_reader_read (r, arena, &v))
        break;
      load_element (l, tasks, open == '{' ? key.u.s : NULL, i++, &v);
      _orrery_json_arena_reset (arena);
      if (mapped)
        _orrery_json_reader_release_behind (r);
    }
  l->defer = FALSE;
}

static void
keep_root_member (Loader                *l,
                  const OrreryJsonValue *name,
                  const OrreryJsonValue *value)
{
  g_array_append_val (l->root, *name);
  g_array_append_val (l->root, *value);
}

/* Reads the document with Orrery's reader; FALSE when the text is not
 * what it takes (not JSON, or json-glib's dialect: comments, single
 * quotes, a collection named twice...). */
static gboolean
read_document (Loader     *l,
               const char *text,
               gsize       length,
               gboolean    mapped)
{
  OrreryJsonReader r;
  OrreryJsonValue name, value;
  gboolean seen[2] = { FALSE, FALSE };
  gboolean ok = FALSE;

  _orrery_json_reader_init (&r, text, length, ORRERY_CONSTELLATION_MAX_DEPTH);
  if (_orrery_json_reader_peek (&r) != '{' || !_orrery_json_reader_enter (&r, '{'))
    goto out;
  while (_orrery_json_reader_next (&r, l->root_arena, &name))
    {
      gboolean tasks = _orrery_json_value_equal_str (&name, "tasks");
      gboolean collection = tasks || _orrery_json_value_equal_str (&name, "dependencies");
      char open;

      if (collection)
        {
          /* Named twice: the last one wins in json-glib's tree. */
          if (seen[tasks])
            goto out;
          seen[tasks] = TRUE;
          open = _orrery_json_reader_peek (&r);
          if (open == '[' || open == '{')
            {
              stream_collection (l, &r, tasks, open, mapped);
              continue;
            }
        }
      if (!_orrery_json_reader_read (&r, l->root_arena, &value))
        goto out;
      if (collection)
        load_collection (l, tasks, &value);
      else
        keep_root_member (l, &name, &value);
    }
  ok = !r.failed && _orrery_json_reader_at_end (&r);
out:
  _orrery_json_reader_clear (&r);
  return ok;
}

/* The same from a json-glib tree. */
static void
read_tree (Loader   *l,
           JsonNode *root)
{
  OrreryJsonValue doc;

  _orrery_json_value_from_node (&doc, root, l->root_arena);
  if (root == NULL || doc.kind != ORRERY_JSON_OBJECT)
    {
      l->not_object = TRUE;
      l->phase = PHASE_ROOT;
      problem (l, ORRERY_CONSTELLATION_ERROR_WRONG_TYPE, NULL, NULL,
               "wrong type: a constellation is an object, found %s",
               root ? _orrery_json_value_type_name (&doc) : "nothing");
      return;
    }
  for (guint i = 0; i < doc.len; i++)
    {
      const OrreryJsonValue *name = &doc.u.items[2 * i], *value = name + 1;
      gboolean tasks = _orrery_json_value_equal_str (name, "tasks");

      if (tasks || _orrery_json_value_equal_str (name, "dependencies"))
        load_collection (l, tasks, value);
      else
        keep_root_member (l, name, value);
    }
}

static void
read_root_fields (Loader                *l,
                  const OrreryJsonValue *root)
{
  const Where w = { NULL, NULL, NO_INDEX };
  const OrreryJsonValue *v;
  const char *s;

  s = read_string (l, &w, "constellation_id", _orrery_json_value_get_member (root, "constellation_id"));
  if (s == NULL)
    s = read_string (l, &w, "id", _orrery_json_value_get_member (root, "id"));
  if (s)
    {
      g_free (l->c->id);
      l->c->id = g_strdup (s);
    }
  g_free (l->c->name);
  l->c->name = g_strdup (read_string (l, &w, "name", _orrery_json_value_get_member (root, "name")));
  if ((s = read_string (l, &w, "state", _orrery_json_value_get_member (root, "state"))))
    {
      gboolean found = FALSE;

      for (guint i = 0; i <= ORRERY_CONSTELLATION_STATE_CANCELLED && !found; i++)
        if (_orrery_enum_name_equal (s, orrery_constellation_state_to_nick (i)))
          l->c->state = i, found = TRUE;
      if (!found)
        problem (l, ORRERY_CONSTELLATION_ERROR_BAD_ENUM, &w, "state", "bad enum value “%s” for state (expected "
                 "created, executing, completed, failed, partially_failed, cancelled)", s);
    }
  v = _orrery_json_value_get_member (root, "version");
  if (!is_null (v))
    {
      if (v->kind == ORRERY_JSON_INT && v->u.i >= 0)
        l->c->version = v->u.i;
      else
        wrong_type (l, &w, "version", v, "a non-negative integer");
    }
  if (!l->has_tasks)
    problem (l, ORRERY_CONSTELLATION_ERROR_MISSING_FIELD, &w, NULL, "missing field \"tasks\"");
}

/* Checks the whole once every member is read, and makes the result.
 * Clears @l. */
static OrreryConstellation *
finish (Loader  *l,
        GError **error)
{
  OrreryConstellation *result = NULL;
  OrreryJsonValue root = { ORRERY_JSON_OBJECT, l->root->len / 2, { .items = (OrreryJsonValue *) l->root->data },
                           NULL, 0 };

  if (l->not_object)
    goto out;
  l->phase = PHASE_ROOT;
  read_root_fields (l, &root);
  l->phase = PHASE_DEPS;
  if (l->has_deps)
    {
      resolve_pending (l);
      check_lists (l, l->keyed);
    }
  else
    edges_from_lists (l, l->keyed);
  g_clear_pointer (&l->lists, g_ptr_array_unref);
  check_line_ids (l);
  l->c->extra = _orrery_json_keep_unknown (&root, root_member_known, NULL);

  if (n_problems (l) == 0)
    {
      g_autoptr(GError) err = NULL;

      if (!orrery_constellation_validate (l->c, &err))
        problem_at (l, err->code, "$.dependencies", "%s", err->message);
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

static gboolean
is_json_space (char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
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
        {
          if (!run_is_utf8 (p, end))
            STRING_PROBLEM (ORRERY_CONSTELLATION_ERROR_NOT_UTF8, "not valid UTF-8");
          goto unterminated;
        }
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
          goto unterminated;
        if (*p == '"')
          break;
        /* A backslash */
        if (end - p < 2)
          goto unterminated;
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
              goto unterminated;
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

unterminated:
  /* The parser says that the string does not end, but only after decoding
   * it: what json-glib must not see counts here too (1.6.6 leaks a
   * GString on a malformed surrogate pair, found by fuzzing a condition's
   * unterminated value). */
  if (code >= 0)
    scan_problem (s, code, NULL, 0, "%s%s", is_key ? "member name " : "", detail);
  return NULL;
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
  gboolean want_key = FALSE, root_done = FALSE, scalar_root = FALSE;
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
            scalar_root |= s.depth == 0;
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
            scalar_root |= s.depth == 0;
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
      /* A second value after a root number or string: json-glib 1.6.6
       * builds it and leaks it ("0[0, {}]", a condition's value, found by
       * fuzzing). Other text there is left to json-glib (a condition's
       * value may be a bare word: "2nd place"). */
      if (p < end && !is_json_space (*p) && *p != '/' &&
          (root_done || (scalar_root && (*p == '[' || *p == '{' || *p == '"' || *p == '\''))))
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

/* Loads @text: with Orrery's reader, element by element; when the text is
 * not what it takes, after the checks above, from json-glib's tree (its
 * dialect: comments, single quotes, a member named twice), or with
 * json-glib's word on what is wrong. @mapped: @text is a private
 * read-only mapping of the file, whose pages may be given back as read. */
static OrreryConstellation *
load_text (const char  *text,
           gsize        length,
           const char  *name,
           gboolean     is_file,
           gboolean     mapped,
           GError     **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) err = NULL;
  Loader l;

  loader_init (&l, name);
  if (read_document (&l, text, length, mapped))
    return finish (&l, error);
  loader_clear (&l);

  if (!_orrery_json_check_text (text, length, name, ORRERY_CONSTELLATION_MAX_DEPTH, NULL, error))
    return NULL;
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, text, length, &err))
    {
      parse_error (error, name, is_file, err);
      return NULL;
    }
  loader_init (&l, name);
  read_tree (&l, json_parser_get_root (parser));
  return finish (&l, error);
}

/* A constellation from text (the journal's header). */
OrreryConstellation *
_orrery_constellation_new_from_text (const char  *text,
                                     gsize        length,
                                     const char  *name,
                                     GError     **error)
{
  return load_text (text, length, name, FALSE, FALSE, error);
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
  return load_text (text ? text : "", g_mapped_file_get_length (map), path, TRUE, text != NULL, error);
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
                    name_for_errors ? name_for_errors : "<data>", FALSE, FALSE, error);
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
  return load_text ((const char *) content->data, pos, name, FALSE, FALSE, error);
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
  guint x = (*(OrreryTask *const *) a)->state.index, y = (*(OrreryTask *const *) b)->state.index;

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
  json_object_set_string_member (o, "status", _orrery_task_status_ufo_name (t->state.status));
  if (t->state.result)
    json_object_set_member (o, "result", json_gvariant_serialize (t->state.result));
  else
    json_object_set_null_member (o, "result");
  set_string_or_null (o, "error", _orrery_task_peek_error (t) ? _orrery_task_peek_error (t)->message : NULL);
  if (t->timeout > 0)
    json_object_set_double_member (o, "timeout", t->timeout);
  else
    json_object_set_null_member (o, "timeout");
  json_object_set_int_member (o, "retry_count", t->retry_count);
  json_object_set_int_member (o, "current_retry", t->state.attempt);
  if (t->task_data)
    json_object_set_member (o, "task_data", json_gvariant_serialize (t->task_data));
  else
    json_object_set_object_member (o, "task_data", json_object_new ());
  set_time (o, "created_at", t->created_at);
  set_time (o, "execution_start_time", t->state.started_at);
  set_time (o, "execution_end_time", t->state.ended_at);
  if (t->state.started_at > 0 && t->state.ended_at >= t->state.started_at)
    json_object_set_double_member (o, "execution_duration", orrery_task_get_duration (t));
  else
    json_object_set_null_member (o, "execution_duration");
  a = json_array_new ();
  for (guint i = 0; i < t->state.n_in; i++)
    if (t->state.in[i]->state == EDGE_PENDING)
      json_array_add_string_element (a, t->state.in[i]->from->id);
  json_object_set_array_member (o, "dependencies", a);
  /* Dependents in the order of the tasks, as a load of what is written
   * here links them (the lines go by dependent): the text round-trips. */
  a = json_array_new ();
  if (t->state.n_out > 0)
    {
      g_autofree OrreryTask **to = g_new (OrreryTask *, t->state.n_out);

      for (guint i = 0; i < t->state.n_out; i++)
        to[i] = t->state.out[i]->to;
      qsort (to, t->state.n_out, sizeof *to, compare_task_index);
      for (guint i = 0; i < t->state.n_out; i++)
        json_array_add_string_element (a, to[i]->id);
    }
  json_object_set_array_member (o, "dependents", a);
  _orrery_json_write_unknown (o, t->extra);
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
  _orrery_json_write_unknown (o, d->extra);
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

      for (guint j = 0; j < t->state.n_in; j++)
        json_object_set_member (deps, orrery_dependency_get_line_id (t->state.in[j]), dependency_to_json (t->state.in[j]));
    }
  json_object_set_object_member (o, "tasks", tasks);
  json_object_set_object_member (o, "dependencies", deps);
  _orrery_json_write_unknown (o, self->extra);
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
