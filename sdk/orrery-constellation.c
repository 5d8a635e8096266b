/* orrery-constellation.c: a DAG of tasks with typed dependencies.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-Constellation"

#include <stdlib.h>
#include <string.h>

#include "orrery-constellation-private.h"
#include "orrery-device-private.h"

G_DEFINE_QUARK (orrery-constellation-error-quark, orrery_constellation_error)

/**
 * OrreryConstellation:
 *
 * A DAG of tasks with typed dependencies.
 *
 * Cost grows with the work, not with the graph: each task keeps its own
 * incoming and outgoing edges and a count of incoming edges still pending;
 * finishing a task looks only at its outgoing edges. The ready tasks live
 * in a GSequence ordered by (priority, id), built once by a scan the first
 * time it is needed and updated incrementally after that.
 */
G_DEFINE_FINAL_TYPE (OrreryConstellation, orrery_constellation, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ID,
  PROP_NAME,
  PROP_STATE,
  PROP_VERSION,
  N_PROPS
};

enum {
  SIGNAL_MODIFIED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

#define SET_ERROR(err, code, ...) \
  g_set_error (err, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_##code, __VA_ARGS__)

/* Small arrays of edges */

static void
edges_append (OrreryDependency ***arr,
              guint              *n,
              guint              *cap,
              OrreryDependency   *dep)
{
  if (*n == *cap)
    {
      *cap = *cap ? *cap * 2 : 1;
      *arr = g_renew (OrreryDependency *, *arr, *cap);
    }
  (*arr)[(*n)++] = dep;
}

static void
edges_remove (OrreryDependency **arr,
              guint             *n,
              OrreryDependency  *dep)
{
  for (guint i = 0; i < *n; i++)
    if (arr[i] == dep)
      {
        memmove (arr + i, arr + i + 1, (*n - i - 1) * sizeof (*arr));
        (*n)--;
        return;
      }
  g_assert_not_reached ();
}

/* Status and ready set */

static inline void
set_status (OrreryConstellation *self,
            OrreryTask          *task,
            OrreryTaskStatus     status)
{
  self->status_counts[task->state.status]--;
  self->status_counts[status]++;
  task->state.status = status;
  task->state.bulk_cancelled = FALSE;
}

static inline gboolean
task_is_ready (OrreryTask *t)
{
  return TASK_NOT_STARTED (t) && t->state.n_pending_in == 0 && t->state.n_impossible_in == 0;
}

/* Ready classes */

static guint
ready_class_hash (gconstpointer key)
{
  const OrreryReadyClass *c = key;

  return g_direct_hash (c->target_device_id) * 31 + g_direct_hash (c->device_type) * 7 +
         (c->capabilities ? g_str_hash (c->capabilities) : 0);
}

static gboolean
ready_class_equal (gconstpointer a,
                   gconstpointer b)
{
  const OrreryReadyClass *x = a, *y = b;

  return x->target_device_id == y->target_device_id && x->device_type == y->device_type &&
         g_strcmp0 (x->capabilities, y->capabilities) == 0;
}

static void
ready_class_free (gpointer data)
{
  OrreryReadyClass *c = data;

  g_sequence_free (c->tasks);
  g_free (c->capabilities);
  _orrery_unintern (c->target_device_id);
  _orrery_unintern (c->device_type);
  g_free (c);
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char **) a, *(const char **) b);
}

/* The capabilities a task asks for, in a canonical form: NULL for none,
 * the sorted list joined by newlines, or a form no list has when its task
 * data has a `capabilities` that is not a list of strings (the device
 * manager refuses those tasks). */
static char *
capabilities_key (OrreryTask *t)
{
  g_auto(GStrv) caps = NULL;
  g_autoptr(GError) error = NULL;

  if (t->task_data == NULL)
    return NULL;
  if (!_orrery_task_dup_capabilities (t, &caps, &error))
    return g_strdup ("\001invalid");
  if (caps == NULL)
    return NULL;
  qsort (caps, g_strv_length (caps), sizeof (char *), compare_strings);
  return g_strjoinv ("\n", caps);
}

/* capabilities_key(), remembered for the last task data: a GVariant
 * does not change, and a loaded constellation's tasks share one for
 * equal data, so a million tasks look their capabilities up once. */
static char *
capabilities_key_memo (OrreryConstellation *self,
                       OrreryTask          *t)
{
  if (t->task_data == NULL)
    return NULL;
  if (t->task_data != self->caps_memo_data)
    {
      g_clear_pointer (&self->caps_memo_data, g_variant_unref);
      g_free (self->caps_memo_key);
      self->caps_memo_key = capabilities_key (t);
      self->caps_memo_data = g_variant_ref (t->task_data);
    }
  return g_strdup (self->caps_memo_key);
}

static OrreryReadyClass *
ready_class_for (OrreryConstellation *self,
                 OrreryTask          *t)
{
  OrreryReadyClass key = { t->target_device_id, t->device_type, capabilities_key_memo (self, t) };
  OrreryReadyClass *c = g_hash_table_lookup (self->classes, &key);

  if (c != NULL)
    {
      g_free (key.capabilities);
      return c;
    }
  c = g_new0 (OrreryReadyClass, 1);
  *c = key;
  /* Its own references: the class outlives the tasks that made it. */
  c->target_device_id = _orrery_intern (key.target_device_id);
  c->device_type = _orrery_intern (key.device_type);
  c->tasks = g_sequence_new (NULL);
  c->index = G_MAXUINT;
  g_hash_table_add (self->classes, c);
  return c;
}

/* The order of ready tasks: higher priority first, then by id. */
gint
_orrery_task_ready_compare (gconstpointer a,
                            gconstpointer b,
                            gpointer      user_data)
{
  const OrreryTask *ta = a, *tb = b;

  if (ta->priority != tb->priority)
    return ta->priority > tb->priority ? -1 : 1;
  return strcmp (ta->id, tb->id);
}

static inline void
ready_insert (OrreryConstellation *self,
              OrreryTask          *t)
{
  OrreryReadyClass *c;

  if (!self->ready_live || t->state.ready_iter != NULL)
    return;
  c = ready_class_for (self, t);
  t->state.ready_class = c;
  t->state.ready_iter = g_sequence_insert_sorted (c->tasks, t, _orrery_task_ready_compare, NULL);
  self->n_ready++;
  if (c->index == G_MAXUINT)
    {
      c->index = self->ready_classes->len;
      g_ptr_array_add (self->ready_classes, c);
    }
}

static inline void
ready_remove (OrreryConstellation *self,
              OrreryTask          *t)
{
  OrreryReadyClass *c = t->state.ready_class;

  if (t->state.ready_iter == NULL)
    return;
  g_sequence_remove (t->state.ready_iter);
  t->state.ready_iter = NULL;
  t->state.ready_class = NULL;
  self->n_ready--;
  if (g_sequence_is_empty (c->tasks))
    {
      g_assert (self->ready_classes->pdata[c->index] == c);
      g_ptr_array_remove_index_fast (self->ready_classes, c->index);
      /* The last class took c's place. */
      if (c->index < self->ready_classes->len)
        ((OrreryReadyClass *) self->ready_classes->pdata[c->index])->index = c->index;
      c->index = G_MAXUINT;
    }
}

GPtrArray *
_orrery_constellation_peek_ready_classes (OrreryConstellation *self)
{
  _orrery_constellation_ensure_ready (self, NULL);
  return self->ready_classes;
}

void
_orrery_constellation_requirements_changed (OrreryConstellation *self,
                                            OrreryTask          *task)
{
  self->shape_serial++;
  if (task->state.ready_iter == NULL)
    return;
  ready_remove (self, task);
  ready_insert (self, task);
}

static int
task_ptr_compare (gconstpointer a,
                  gconstpointer b)
{
  return _orrery_task_ready_compare (*(OrreryTask **) a, *(OrreryTask **) b, NULL);
}

/* Resolves the outgoing edges of tasks that just became terminal: newly
 * ready dependents go to @newly_ready, dependents that can never run
 * become skipped (transitively) and go to @skipped. */
static void
resolve_outgoing (OrreryConstellation *self,
                  OrreryTask          *task,
                  GPtrArray           *newly_ready,
                  GPtrArray           *skipped)
{
  g_autoptr(GPtrArray) stack = NULL;
  gint64 now = 0;

  for (;;)
    {
      for (guint i = 0; i < task->state.n_out; i++)
        {
          OrreryDependency *e = task->state.out[i];
          OrreryTask *d = e->to;
          gboolean ok;

          if (e->state != EDGE_PENDING)
            continue;
          ok = _orrery_dependency_evaluate (e);
          e->state = ok ? EDGE_SATISFIED : EDGE_IMPOSSIBLE;
          d->state.n_pending_in--;
          if (!ok)
            d->state.n_impossible_in++;
          if (!TASK_NOT_STARTED (d))
            continue;
          if (!ok)
            {
              ready_remove (self, d);
              set_status (self, d, ORRERY_TASK_STATUS_SKIPPED);
              if (now == 0)
                now = g_get_real_time ();
              d->state.ended_at = now;
              if (skipped)
                g_ptr_array_add (skipped, d);
              if (stack == NULL)
                stack = g_ptr_array_new ();
              g_ptr_array_add (stack, d);
            }
          else if (d->state.n_pending_in == 0 && d->state.n_impossible_in == 0)
            {
              ready_insert (self, d);
              if (newly_ready)
                g_ptr_array_add (newly_ready, d);
            }
        }
      if (stack == NULL || stack->len == 0)
        break;
      task = g_ptr_array_steal_index_fast (stack, stack->len - 1);
    }
}

/* Skips a not-started task that can never run, and what follows from it. */
static void
skip_task (OrreryConstellation *self,
           OrreryTask          *t,
           GPtrArray           *newly_ready,
           GPtrArray           *skipped)
{
  ready_remove (self, t);
  set_status (self, t, ORRERY_TASK_STATUS_SKIPPED);
  t->state.ended_at = g_get_real_time ();
  if (skipped)
    g_ptr_array_add (skipped, t);
  resolve_outgoing (self, t, newly_ready, skipped);
}

/* Settles tasks that a loaded file left unable to run (once: later
 * changes skip at once what they make impossible). */
static void
settle_skips (OrreryConstellation *self,
              GPtrArray           *skipped)
{
  if (self->skips_live)
    return;
  self->skips_live = TRUE;
  for (guint i = 0; i < self->tasks->len; i++)
    {
      OrreryTask *t = self->tasks->pdata[i];

      if (TASK_NOT_STARTED (t) && t->state.n_impossible_in > 0)
        skip_task (self, t, NULL, skipped);
    }
}

void
_orrery_constellation_ensure_ready (OrreryConstellation *self,
                                    GPtrArray           *skipped)
{
  g_autoptr(GPtrArray) ready = NULL;

  if (self->ready_live)
    return;
  self->ready_live = TRUE;
  settle_skips (self, skipped);

  ready = g_ptr_array_new ();
  for (guint i = 0; i < self->tasks->len; i++)
    {
      OrreryTask *t = self->tasks->pdata[i];

      if (task_is_ready (t) && t->state.ready_iter == NULL)
        g_ptr_array_add (ready, t);
    }
  g_ptr_array_sort (ready, task_ptr_compare);
  for (guint i = 0; i < ready->len; i++)
    {
      OrreryTask *t = ready->pdata[i];
      OrreryReadyClass *c = ready_class_for (self, t);

      /* In order: appending keeps each class sorted. */
      t->state.ready_class = c;
      t->state.ready_iter = g_sequence_append (c->tasks, t);
      self->n_ready++;
      if (c->index == G_MAXUINT)
        {
          c->index = self->ready_classes->len;
          g_ptr_array_add (self->ready_classes, c);
        }
    }
}

void
_orrery_constellation_priority_changing (OrreryConstellation *self,
                                         OrreryTask          *task,
                                         OrreryTaskPriority   priority)
{
  gboolean was_ready = task->state.ready_iter != NULL;

  ready_remove (self, task);
  task->priority = priority;
  if (was_ready)
    ready_insert (self, task);
}

/* GObject */

static void
orrery_constellation_dispose (GObject *object)
{
  OrreryConstellation *self = ORRERY_CONSTELLATION (object);

  g_clear_pointer (&self->stale_ready, g_ptr_array_unref);
  if (self->tasks)
    {
      g_clear_pointer (&self->ready_classes, g_ptr_array_unref);
      g_clear_pointer (&self->classes, g_hash_table_unref);
      self->n_ready = 0;
      for (guint i = 0; i < self->tasks->len; i++)
        {
          OrreryTask *t = self->tasks->pdata[i];

          t->state.ready_iter = NULL;
          t->state.ready_class = NULL;
          for (guint j = 0; j < t->state.n_in; j++)
            orrery_dependency_unref (t->state.in[j]);
          t->state.n_in = 0;
          t->state.n_out = 0;
          /* A task someone else keeps takes its copy of the shared error. */
          if (t->state.bulk_cancelled && G_OBJECT (t)->ref_count > 1)
            _orrery_task_own_bulk_error (t);
          t->state.bulk_cancelled = FALSE;
          t->state.owner = NULL;
        }
      g_clear_pointer (&self->by_id, g_hash_table_unref);
      g_clear_pointer (&self->tasks, g_ptr_array_unref);
    }
  G_OBJECT_CLASS (orrery_constellation_parent_class)->dispose (object);
}

static void
orrery_constellation_finalize (GObject *object)
{
  OrreryConstellation *self = ORRERY_CONSTELLATION (object);

  g_free (self->id);
  g_free (self->name);
  g_clear_pointer (&self->extra, json_object_unref);
  g_clear_error (&self->bulk_cancel_error);
  g_clear_pointer (&self->stats_cache, _orrery_stats_cache_free);
  g_clear_pointer (&self->caps_memo_data, g_variant_unref);
  g_clear_pointer (&self->caps_memo_key, g_free);
  G_OBJECT_CLASS (orrery_constellation_parent_class)->finalize (object);
}

static void
orrery_constellation_constructed (GObject *object)
{
  OrreryConstellation *self = ORRERY_CONSTELLATION (object);

  G_OBJECT_CLASS (orrery_constellation_parent_class)->constructed (object);
  if (self->id == NULL)
    self->id = g_uuid_string_random ();
}

static void
orrery_constellation_get_property (GObject    *object,
                                   guint       prop_id,
                                   GValue     *value,
                                   GParamSpec *pspec)
{
  OrreryConstellation *self = ORRERY_CONSTELLATION (object);

  switch (prop_id)
    {
    case PROP_ID: g_value_set_string (value, self->id); break;
    case PROP_NAME: g_value_set_string (value, orrery_constellation_get_name (self)); break;
    case PROP_STATE: g_value_set_enum (value, self->state); break;
    case PROP_VERSION: g_value_set_uint64 (value, self->version); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
orrery_constellation_set_property (GObject      *object,
                                   guint         prop_id,
                                   const GValue *value,
                                   GParamSpec   *pspec)
{
  OrreryConstellation *self = ORRERY_CONSTELLATION (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_free (self->id);
      self->id = g_value_dup_string (value);
      break;
    case PROP_NAME: orrery_constellation_set_name (self, g_value_get_string (value)); break;
    case PROP_STATE: orrery_constellation_set_state (self, g_value_get_enum (value)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
orrery_constellation_class_init (OrreryConstellationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = orrery_constellation_dispose;
  object_class->finalize = orrery_constellation_finalize;
  object_class->constructed = orrery_constellation_constructed;
  object_class->get_property = orrery_constellation_get_property;
  object_class->set_property = orrery_constellation_set_property;

  /**
   * OrreryConstellation:id:
   *
   * The constellation's id (UFO's `constellation_id`); a random UUID when
   * none is given.
   */
  properties[PROP_ID] = g_param_spec_string ("id", NULL, NULL, NULL,
                                             G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                                             G_PARAM_STATIC_STRINGS);
  /**
   * OrreryConstellation:name:
   *
   * A name for people; the id when unset.
   */
  properties[PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL,
                                               G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                               G_PARAM_EXPLICIT_NOTIFY);
  /**
   * OrreryConstellation:state:
   *
   * Where the constellation is in its life cycle; the orchestrator sets it.
   */
  properties[PROP_STATE] = g_param_spec_enum ("state", NULL, NULL, ORRERY_TYPE_CONSTELLATION_STATE,
                                              ORRERY_CONSTELLATION_STATE_CREATED,
                                              G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                              G_PARAM_EXPLICIT_NOTIFY);
  /**
   * OrreryConstellation:version:
   *
   * Bumped by every applied edit batch.
   */
  properties[PROP_VERSION] = g_param_spec_uint64 ("version", NULL, NULL, 0, G_MAXUINT64, 0,
                                                  G_PARAM_READABLE | G_PARAM_STATIC_STRINGS |
                                                  G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * OrreryConstellation::modified:
   * @self: the constellation
   * @modifications: the `aa{sv}` list of modifications, as returned by
   *   orrery_constellation_apply_edits()
   * @on_task_ids: (nullable) (array zero-terminated=1): the completed tasks
   *   the edit answers
   *
   * Emitted after an edit batch was applied.
   */
  signals[SIGNAL_MODIFIED] = g_signal_new ("modified", G_TYPE_FROM_CLASS (klass),
                                           G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                           G_TYPE_NONE, 2, G_TYPE_VARIANT, G_TYPE_STRV);
}

static void
orrery_constellation_init (OrreryConstellation *self)
{
  self->tasks = g_ptr_array_new_with_free_func (g_object_unref);
  self->by_id = g_hash_table_new (g_str_hash, g_str_equal);
  self->classes = g_hash_table_new_full (ready_class_hash, ready_class_equal, ready_class_free, NULL);
  self->ready_classes = g_ptr_array_new ();
  self->created_at = g_get_real_time ();
}

/**
 * orrery_constellation_new:
 * @id: (nullable): the constellation's id; a random UUID when %NULL
 * @name: (nullable): a name for people
 *
 * Creates an empty constellation.
 *
 * Returns: (transfer full): a new constellation
 */
OrreryConstellation *
orrery_constellation_new (const char *id,
                          const char *name)
{
  return g_object_new (ORRERY_TYPE_CONSTELLATION, "id", id, "name", name, NULL);
}

/**
 * orrery_constellation_get_id:
 * @self: a constellation
 *
 * Returns: (transfer none): the constellation's id
 */
const char *
orrery_constellation_get_id (OrreryConstellation *self)
{
  g_return_val_if_fail (ORRERY_IS_CONSTELLATION (self), NULL);
  return self->id;
}

/**
 * orrery_constellation_get_name:
 * @self: a constellation
 *
 * Returns: (transfer none): the constellation's name, or its id
 */
const char *
orrery_constellation_get_name (OrreryConstellation *self)
{
  g_return_val_if_fail (ORRERY_IS_CONSTELLATION (self), NULL);
  return self->name ? self->name : self->id;
}

/**
 * orrery_constellation_set_name:
 * @self: a constellation
 * @name: (nullable): the new name
 *
 * Sets the constellation's name.
 */
void
orrery_constellation_set_name (OrreryConstellation *self,
                               const char          *name)
{
  g_return_if_fail (ORRERY_IS_CONSTELLATION (self));
  if (g_strcmp0 (self->name, name) == 0)
    return;
  g_free (self->name);
  self->name = g_strdup (name);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NAME]);
}

/**
 * orrery_constellation_get_state:
 * @self: a constellation
 *
 * Returns: the constellation's state
 */
OrreryConstellationState
orrery_constellation_get_state (OrreryConstellation *self)
{
  g_return_val_if_fail (ORRERY_IS_CONSTELLATION (self), 0);
  return self->state;
}

/**
 * orrery_constellation_set_state:
 * @self: a constellation
 * @state: the new state
 *
 * Sets the constellation's state (the orchestrator does).
 */
void
orrery_constellation_set_state (OrreryConstellation      *self,
                                OrreryConstellationState  state)
{
  g_return_if_fail (ORRERY_IS_CONSTELLATION (self));
  if (self->state == state)
    return;
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

/**
 * orrery_constellation_get_version:
 * @self: a constellation
 *
 * Returns: the number of edit batches applied
 */
guint64
orrery_constellation_get_version (OrreryConstellation *self)
{
  g_return_val_if_fail (ORRERY_IS_CONSTELLATION (self), 0);
  return self->version;
}

/* Building */

void
_orrery_constellation_add_task_internal (OrreryConstellation *self,
                   OrreryTask          *task)
{
  task->state.owner = self;
  task->state.index = self->tasks->len;
  self->shape_serial++;
  g_ptr_array_add (self->tasks, g_object_ref (task));
  g_hash_table_insert (self->by_id, task->id, task);
  self->status_counts[task->state.status]++;
  if (task_is_ready (task))
    ready_insert (self, task);
}

/**
 * orrery_constellation_add_task:
 * @self: a constellation
 * @task: a task that belongs to no constellation
 * @error: return location for an error
 *
 * Adds a task. Its status, result and timestamps are kept, so a saved run
 * can be rebuilt.
 *
 * Returns: whether the task was added (its id must be new)
 */
gboolean
orrery_constellation_add_task (OrreryConstellation  *self,
                               OrreryTask           *task,
                               GError              **error)
{
  g_return_val_if_fail (ORRERY_IS_CONSTELLATION (self), FALSE);
  g_return_val_if_fail (ORRERY_IS_TASK (task), FALSE);

  if (task->state.owner != NULL)
    {
      SET_ERROR (error, TASK_OWNED, "task “%s” already belongs to a constellation", task->id);
      return FALSE;
    }
  /* An id that a saved constellation could not load back. */
  if (task->id == NULL || task->id[0] == '\0')
    {
      SET_ERROR (error, MISSING_FIELD, "a task needs a non-empty id");
      return FALSE;
    }
  if (!g_utf8_validate (task->id, -1, NULL))
    {
      SET_ERROR (error, NOT_UTF8, "the task id is not valid UTF-8");
      return FALSE;
    }
  if (g_hash_table_contains (self->by_id, task->id))
    {
      SET_ERROR (error, DUPLICATE_ID, "duplicate task id “%s”", task->id);
      return FALSE;
    }
  _orrery_constellation_add_task_internal (self, task);
  return TRUE;
}

OrreryDependency *
_orrery_constellation_find_edge (OrreryTask *from,
                                 OrreryTask *to)
{
  if (from->state.n_out <= to->state.n_in)
    {
      for (guint i = 0; i < from->state.n_out; i++)
        if (from->state.out[i]->to == to)
          return from->state.out[i];
    }
  else
    {
      for (guint i = 0; i < to->state.n_in; i++)
        if (to->state.in[i]->from == from)
          return to->state.in[i];
    }
  return NULL;
}

/* Links an edge into both tasks and settles its state. Returns the edge
 * (owned by the dependent's incoming list). */
OrreryDependency *
_orrery_constellation_link (OrreryConstellation  *self,
                            OrreryTask           *from,
                            OrreryTask           *to,
                            OrreryDependencyType  type,
                            OrreryCondition      *condition,
                            GPtrArray            *newly_ready,
                            GPtrArray            *skipped)
{
  OrreryDependency *dep = _orrery_dependency_new (from, to, type, condition);

  edges_append (&to->state.in, &to->state.n_in, &to->state.cap_in, dep);
  edges_append (&from->state.out, &from->state.n_out, &from->state.cap_out, dep);
  self->n_deps++;
  self->shape_serial++;

  if (TASK_TERMINAL (from))
    {
      dep->state = _orrery_dependency_evaluate (dep) ? EDGE_SATISFIED : EDGE_IMPOSSIBLE;
      if (dep->state == EDGE_IMPOSSIBLE)
        {
          to->state.n_impossible_in++;
          if (self->skips_live && TASK_NOT_STARTED (to))
            skip_task (self, to, newly_ready, skipped);
        }
    }
  else
    {
      dep->state = EDGE_PENDING;
      to->state.n_pending_in++;
      ready_remove (self, to);
    }
  return dep;
}

/* Unlinks and frees an edge; the dependent's readiness is the caller's. */
void
_orrery_constellation_unlink (OrreryConstellation *self,
                              OrreryDependency    *dep)
{
  OrreryTask *to = dep->to;

  if (dep->state == EDGE_PENDING)
    to->state.n_pending_in--;
  else if (dep->state == EDGE_IMPOSSIBLE)
    to->state.n_impossible_in--;
  edges_remove (dep->from->state.out, &dep->from->state.n_out, dep);
  edges_remove (to->state.in, &to->state.n_in, dep);
  self->n_deps--;
  self->shape_serial++;
  orrery_dependency_unref (dep);
}

/**
 * orrery_constellation_add_dependency:
 * @self: a constellation
 * @from_id: the prerequisite
 * @to_id: the dependent
 * @type: the kind of edge
 * @condition: (nullable): for a conditional edge, the condition on the
 *   prerequisite's result (without one, a conditional edge behaves as
 *   success-only)
 * @error: return location for an error
 *
 * Adds a dependency. Cycles are not looked for here (that would make
 * building a graph quadratic): orrery_constellation_validate() finds them,
 * and orrery_constellation_apply_edits() refuses them.
 *
 * Returns: whether the dependency was added
 */
gboolean
orrery_constellation_add_dependency (OrreryConstellation   *self,
                                     const char            *from_id,
                                     const char            *to_id,
                                     OrreryDependencyType   type,
                                     OrreryCondition       *condition,
                                     GError               **error)
{
  OrreryTask *from, *to;

  g_return_val_if_fail (ORRERY_IS_CONSTELLATION (self), FALSE);
  g_return_val_if_fail (from_id != NULL && to_id != NULL, FALSE);

  if ((guint) type > ORRERY_DEPENDENCY_CONDITIONAL)
    {
      SET_ERROR (error, BAD_ENUM, "dependency %s → %s: unknown dependency type %d", from_id, to_id, type);
      return FALSE;
    }
  from = g_hash_table_lookup (self->by_id, from_id);
  to = g_hash_table_lookup (self->by_id, to_id);
  if (from == NULL || to == NULL)
    {
      SET_ERROR (error, UNKNOWN_TASK, "dependency %s → %s: unknown task “%s”", from_id, to_id,
                 from == NULL ? from_id : to_id);
      return FALSE;
    }
  if (from == to)
    {
      SET_ERROR (error, SELF_DEPENDENCY, "dependency %s → %s: a task cannot depend on itself", from_id, to_id);
      return FALSE;
    }
  if (_orrery_constellation_find_edge (from, to))
    {
      SET_ERROR (error, DUPLICATE_DEPENDENCY, "dependency %s → %s: already present", from_id, to_id);
      return FALSE;
    }
  _orrery_constellation_link (self, from, to, type, condition, NULL, NULL);
  return TRUE;
}

/* Queries */

/**
 * orrery_constellation_get_task:
 * @self: a constellation
 * @id: a task id
 *
 * Returns: (transfer none) (nullable): the task with that id
 */
OrreryTask *
orrery_constellation_get_task (OrreryConstellation *self,
                               const char          *id)
{
  g_return_val_if_fail (ORRERY_IS_CONSTELLATION (self), NULL);
  g_return_val_if_fail (id != NULL, NULL);
  return g_hash_table_lookup (self->by_id, id);
}

/**
 * orrery_constellation_get_tasks:
 * @self: a constellation
 *
 * Returns: (transfer container) (element-type OrreryTask): every task, in
 *   the order they were added
 */
GPtrArray *
orrery_constellation_get_tasks (OrreryConstellation *self)
{
  GPtrArray *out;

  g_return_val_if_fail (ORRERY_IS_CONSTELLATION (self), NULL);
  out = g_ptr_array_sized_new (self->tasks->len);
  for (guint i = 0; i < self->tasks->len; i++)
    g_ptr_array_add (out, self->tasks->pdata[i]);
  return out;
}

/**
 * orrery_constellation_get_n_tasks:
 * @self: a constellation
 *
 * Returns: the number of tasks
 */
guint
orrery_constellation_get_n_tasks (OrreryConstellation *self)
{
  g_return_val_if_fail (ORRERY_IS_CONSTELLATION (self), 0);
  return self->tasks->len;
}

/**
 * orrery_constellation_get_n_dependencies:
 * @self: a constellation
 *
 * Returns: the number of dependencies
 */
guint
orrery_constellation_get_n_dependencies (OrreryConstellation *self)
{
  g_return_val_if_fail (ORRERY_IS_CONSTELLATION (self), 0);
  return self->n_deps;
}

/**
 * orrery_constellation_get_dependencies:
 * @self: a constellation
 *
 * Returns: (transfer container) (element-type OrreryDependency): every
 *   dependency, grouped by dependent in task order
 */
GPtrArray *
orrery_constellation_get_dependencies (OrreryConstellation *self)
{
  GPtrArray *out;

  g_return_val_if_fail (ORRERY_IS_CONSTELLATION (self), NULL);
  out = g_ptr_array_sized_new (self->n_deps);
  for (guint i = 0; i < self->tasks->len; i++)
    {
      OrreryTask *t = self->tasks->pdata[i];
      for (guint j = 0; j < t->state.n_in; j++)
        g_ptr_array_add (out, t->state.in[j]);
    }
  return out;
}

/**
 * orrery_constellation_get_dependency:
 * @self: a constellation
 * @from_id: the prerequisite
 * @to_id: the dependent
 *
 * Returns: (transfer none) (nullable): the edge from @from_id to @to_id
 */
OrreryDependency *
orrery_constellation_get_dependency (OrreryConstellation *self,
                                     const char          *from_id,
                                     const char          *to_id)
{
  OrreryTask *from, *to;

  g_return_val_if_fail (ORRERY_IS_CONSTELLATION (self), NULL);
  from = g_hash_table_lookup (self->by_id, from_id);
  to = g_hash_table_lookup (self->by_id, to_id);
  if (from == NULL || to == NULL)
    return NULL;
  return _orrery_constellation_find_edge (from, to);
}

/**
 * orrery_constellation_get_prerequisites:
 * @self: a constellation
 * @task_id: a task id
 *
 * Returns: (transfer container) (element-type OrreryDependency) (nullable):
 *   the incoming edges of the task, %NULL if there is no such task
 */
GPtrArray *
orrery_constellation_get_prerequisites (OrreryConstellation *self,
                                        const char          *task_id)
{
  OrreryTask *t;
  GPtrArray *out;

  g_return_val_if_fail (ORRERY_IS_CONSTELLATION (self), NULL);
  t = g_hash_table_lookup (self->by_id, task_id);
  if (t == NULL)
    return NULL;
  out = g_ptr_array_sized_new (t->state.n_in);
  for (guint i = 0; i < t->state.n_in; i++)
    g_ptr_array_add (out, t->state.in[i]);
  return out;
}

/**
 * orrery_constellation_get_dependents:
 * @self: a constellation
 * @task_id: a task id
 *
 * Returns: (transfer container) (element-type OrreryDependency) (nullable):
 *   the outgoing edges of the task, %NULL if there is no such task
 */
GPtrArray *
orrery_constellation_get_dependents (OrreryConstellation *self,
                                     const char          *task_id)
{
  OrreryTask *t;
  GPtrArray *out;

  g_return_val_if_fail (ORRERY_IS_CONSTELLATION (self), NULL);
  t = g_hash_table_lookup (self->by_id, task_id);
  if (t == NULL)
    return NULL;
  out = g_ptr_array_sized_new (t->state.n_out);
  for (guint i = 0; i < t->state.n_out; i++)
    g_ptr_array_add (out, t->state.out[i]);
  return out;
}

/**
 * orrery_constellation_get_ready_tasks:
 * @self: a constellation
 *
 * The tasks not yet started whose incoming dependencies are all
 * satisfied, by priority (critical first), then by id. The set is kept up
 * to date as tasks finish; this only copies it.
 *
 * Returns: (transfer container) (element-type OrreryTask): the ready tasks
 */
GPtrArray *
orrery_constellation_get_ready_tasks (OrreryConstellation *self)
{
  return orrery_constellation_peek_ready_tasks (self, 0);
}

/**
 * orrery_constellation_peek_ready_tasks:
 * @self: a constellation
 * @max_tasks: the most tasks to return; 0 for all
 *
 * The first @max_tasks ready tasks, in the order of
 * orrery_constellation_get_ready_tasks(). The cost is that of the tasks
 * returned, not of the ready set: a dispatcher with a few free slots asks
 * for a few tasks, however many are ready.
 *
 * Returns: (transfer container) (element-type OrreryTask): the ready tasks
 */
GPtrArray *
orrery_constellation_peek_ready_tasks (OrreryConstellation *self,
                                       guint                max_tasks)
{
  g_autofree GSequenceIter **heads = NULL;
  GPtrArray *out;
  guint n, k;

  g_return_val_if_fail (ORRERY_IS_CONSTELLATION (self), NULL);
  _orrery_constellation_ensure_ready (self, NULL);
  n = self->n_ready;
  if (max_tasks > 0 && max_tasks < n)
    n = max_tasks;
  out = g_ptr_array_sized_new (n);
  /* A merge of the classes, each sorted: the next task is the best head. */
  k = self->ready_classes->len;
  heads = g_new (GSequenceIter *, k + 1);
  for (guint i = 0; i < k; i++)
    heads[i] = g_sequence_get_begin_iter (((OrreryReadyClass *) self->ready_classes->pdata[i])->tasks);
  while (out->len < n)
    {
      guint best = G_MAXUINT;

      for (guint i = 0; i < k; i++)
        if (!g_sequence_iter_is_end (heads[i]) &&
            (best == G_MAXUINT ||
             _orrery_task_ready_compare (g_sequence_get (heads[i]), g_sequence_get (heads[best]), NULL) < 0))
          best = i;
      if (best == G_MAXUINT)
        break;
      g_ptr_array_add (out, g_sequence_get (heads[best]));
      heads[best] = g_sequence_iter_next (heads[best]);
    }
  return out;
}

/**
 * orrery_constellation_get_n_ready:
 * @self: a constellation
 *
 * Returns: how many tasks are ready
 */
guint
orrery_constellation_get_n_ready (OrreryConstellation *self)
{
  g_return_val_if_fail (ORRERY_IS_CONSTELLATION (self), 0);
  _orrery_constellation_ensure_ready (self, NULL);
  return self->n_ready;
}

/**
 * orrery_constellation_count_status:
 * @self: a constellation
 * @status: a status
 *
 * Returns: how many tasks have that status (kept as a counter, no scan)
 */
guint
orrery_constellation_count_status (OrreryConstellation *self,
                                   OrreryTaskStatus     status)
{
  g_return_val_if_fail (ORRERY_IS_CONSTELLATION (self), 0);
  g_return_val_if_fail ((guint) status <= ORRERY_TASK_STATUS_SKIPPED, 0);
  return self->status_counts[status];
}

/**
 * orrery_constellation_is_finished:
 * @self: a constellation
 *
 * Returns: whether every task is terminal (an empty constellation is)
 */
gboolean
orrery_constellation_is_finished (OrreryConstellation *self)
{
  guint terminal;

  g_return_val_if_fail (ORRERY_IS_CONSTELLATION (self), FALSE);
  terminal = self->status_counts[ORRERY_TASK_STATUS_COMPLETED] +
             self->status_counts[ORRERY_TASK_STATUS_FAILED] +
             self->status_counts[ORRERY_TASK_STATUS_CANCELLED] +
             self->status_counts[ORRERY_TASK_STATUS_SKIPPED];
  return terminal == self->tasks->len;
}

/* Kahn's algorithm: fills @order (task indices, then, if there is a cycle,
 * the members of one cycle ended by G_MAXUINT; @order holds n + 1) and
 * @depth (longest path from a source, in edges); returns the number of
 * tasks reached, n when there is no cycle. */
guint
_orrery_constellation_topo (OrreryConstellation *self,
                            guint               *order,
                            guint               *depth)
{
  guint n = self->tasks->len;
  g_autofree guint *indeg = g_new (guint, n + 1);
  guint head = 0, tail = 0;

  for (guint i = 0; i < n; i++)
    {
      OrreryTask *t = self->tasks->pdata[i];

      indeg[i] = t->state.n_in;
      depth[i] = 0;
      if (t->state.n_in == 0)
        order[tail++] = i;
    }
  while (head < tail)
    {
      OrreryTask *t = self->tasks->pdata[order[head++]];

      for (guint j = 0; j < t->state.n_out; j++)
        {
          guint k = t->state.out[j]->to->state.index;

          depth[k] = MAX (depth[k], depth[t->state.index] + 1);
          if (--indeg[k] == 0)
            order[tail++] = k;
        }
    }
  if (tail == n)
    return n;

  /* Walk backwards along edges between unreached tasks until one repeats:
   * what lies between the two visits is a cycle. */
  {
    g_autofree guint *seen_at = g_new (guint, n);
    g_autofree guint *walk = g_new (guint, n + 1);
    guint start = G_MAXUINT, len = 0, cur, k = tail;

    for (guint i = 0; i < n; i++)
      {
        seen_at[i] = G_MAXUINT;
        if (indeg[i] > 0 && start == G_MAXUINT)
          start = i;
      }
    cur = start;
    while (seen_at[cur] == G_MAXUINT)
      {
        OrreryTask *t = self->tasks->pdata[cur];

        seen_at[cur] = len;
        walk[len++] = cur;
        for (guint j = 0; j < t->state.n_in; j++)
          if (indeg[t->state.in[j]->from->state.index] > 0)
            {
              cur = t->state.in[j]->from->state.index;
              break;
            }
      }
    for (guint i = len; i > seen_at[cur]; i--)
      order[k++] = walk[i - 1];
    order[k] = G_MAXUINT;
  }
  return tail;
}

/* How many members of a cycle its description names before it cuts. */
#define CYCLE_SHOWN 8

char *
_orrery_constellation_describe_cycle (OrreryConstellation *self,
                                      const guint         *members)
{
  GString *s = g_string_new (NULL);
  guint n = 0, first = 0;

  /* Start with the member added first, so the message is stable. */
  while (members[n] != G_MAXUINT)
    {
      if (members[n] < members[first])
        first = n;
      n++;
    }
  /* A long cycle is cut: its first members, a count, the last one. */
  for (guint i = 0; i < n; i++)
    {
      if (n > CYCLE_SHOWN + 1 && i == CYCLE_SHOWN)
        {
          g_string_append_printf (s, "… (%u more) → ", n - CYCLE_SHOWN - 1);
          i = n - 1;
        }
      g_string_append_printf (s, "%s → ", ((OrreryTask *) self->tasks->pdata[members[(first + i) % n]])->id);
    }
  g_string_append (s, ((OrreryTask *) self->tasks->pdata[members[first]])->id);
  return g_string_free (s, FALSE);
}

/**
 * orrery_constellation_validate:
 * @self: a constellation
 * @error: return location for an error
 *
 * Checks that the graph is acyclic (task ids are always known: a
 * dependency cannot be added to a missing task). A cycle error names the
 * members of one cycle in order, such as `a → b → c → a`.
 *
 * Returns: whether the constellation is valid
 */
gboolean
orrery_constellation_validate (OrreryConstellation  *self,
                               GError              **error)
{
  guint n, reached;
  g_autofree guint *order = NULL;
  g_autofree guint *depth = NULL;

  g_return_val_if_fail (ORRERY_IS_CONSTELLATION (self), FALSE);
  n = self->tasks->len;
  order = g_new (guint, n + 1);
  depth = g_new (guint, n + 1);
  reached = _orrery_constellation_topo (self, order, depth);
  if (reached < n)
    {
      g_autofree char *cycle = _orrery_constellation_describe_cycle (self, order + reached);

      SET_ERROR (error, CYCLE, "cycle: %s", cycle);
      return FALSE;
    }
  return TRUE;
}

void
_orrery_constellation_remove_task_internal (OrreryConstellation *self,
                                            OrreryTask          *task)
{
  guint idx = task->state.index;

  while (task->state.n_in > 0)
    _orrery_constellation_unlink (self, task->state.in[task->state.n_in - 1]);
  while (task->state.n_out > 0)
    _orrery_constellation_unlink (self, task->state.out[task->state.n_out - 1]);
  ready_remove (self, task);
  self->status_counts[task->state.status]--;
  g_hash_table_remove (self->by_id, task->id);
  _orrery_task_own_bulk_error (task);
  task->state.owner = NULL;
  self->shape_serial++;
  g_ptr_array_remove_index (self->tasks, idx);
  for (guint i = idx; i < self->tasks->len; i++)
    ((OrreryTask *) self->tasks->pdata[i])->state.index = i;
}

void
_orrery_constellation_set_status (OrreryConstellation *self,
                                  OrreryTask          *task,
                                  OrreryTaskStatus     status)
{
  /* A task that has started is not ready: orrery_constellation_cancel_pending()
   * counts on it (it only clears the ready place of tasks not started). */
  if (status != ORRERY_TASK_STATUS_PENDING && status != ORRERY_TASK_STATUS_WAITING_DEPENDENCY)
    ready_remove (self, task);
  set_status (self, task, status);
}

/* Brings a not-started task's place in the ready set in line with its
 * counters, skipping it if it can never run. */
void
_orrery_constellation_settle (OrreryConstellation *self,
                              OrreryTask          *task,
                              GPtrArray           *newly_ready,
                              GPtrArray           *skipped)
{
  if (!TASK_NOT_STARTED (task))
    return;
  if (task->state.n_impossible_in > 0)
    skip_task (self, task, newly_ready, skipped);
  else if (task->state.n_pending_in == 0)
    {
      if (task->state.ready_iter == NULL)
        {
          ready_insert (self, task);
          if (newly_ready)
            g_ptr_array_add (newly_ready, task);
        }
    }
  else
    ready_remove (self, task);
}

void
_orrery_constellation_emit_modified (OrreryConstellation *self,
                                     GVariant            *modifications,
                                     const char * const  *on_task_ids)
{
  self->version++;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_VERSION]);
  g_signal_emit (self, signals[SIGNAL_MODIFIED], 0, modifications, on_task_ids);
}

/**
 * orrery_constellation_get_topological_order:
 * @self: a constellation
 * @error: return location for an error
 *
 * Returns: (transfer container) (element-type OrreryTask) (nullable): the
 *   tasks, each after all its prerequisites; %NULL with a cycle error
 */
GPtrArray *
orrery_constellation_get_topological_order (OrreryConstellation  *self,
                                            GError              **error)
{
  guint n, reached;
  g_autofree guint *order = NULL;
  g_autofree guint *depth = NULL;
  GPtrArray *out;

  g_return_val_if_fail (ORRERY_IS_CONSTELLATION (self), NULL);
  n = self->tasks->len;
  order = g_new (guint, n + 1);
  depth = g_new (guint, n + 1);
  reached = _orrery_constellation_topo (self, order, depth);
  if (reached < n)
    {
      g_autofree char *cycle = _orrery_constellation_describe_cycle (self, order + reached);

      SET_ERROR (error, CYCLE, "cycle: %s", cycle);
      return NULL;
    }
  out = g_ptr_array_sized_new (n);
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (out, self->tasks->pdata[order[i]]);
  return out;
}

/* GVariant's serialised form, written directly: a million one-task layers
 * through GVariantBuilder cost seconds (a GVariant per string and per
 * layer), this costs a copy of the ids. An array of strings is the strings
 * with their NUL, then one framing offset per element (the end of the
 * element), little endian, all of the smallest size (1, 2, 4 or 8 bytes)
 * that can address the whole container; an array of such arrays is the
 * same one level up (both have alignment 1, so there is no padding). */
static guint
offset_size_for (gsize body,
                 gsize n_offsets)
{
  if (n_offsets == 0)
    return 0;
  if (body + n_offsets <= G_MAXUINT8)
    return 1;
  if (body + 2 * n_offsets <= G_MAXUINT16)
    return 2;
  if (body + 4 * n_offsets <= G_MAXUINT32)
    return 4;
  return 8;
}

static inline void
put_offset (guchar *p,
            gsize   value,
            guint   size)
{
  for (guint i = 0; i < size; i++)
    p[i] = (guchar) (value >> (8 * i));
}

static GVariant *
layers_to_variant (OrreryTask  **by_layer,
                   const gsize  *end,
                   gsize         n_layers)
{
  g_autofree gsize *layer_size = g_new (gsize, n_layers);
  gsize body = 0, total, pos = 0, first = 0;
  guint outer_size;
  guchar *data;

  for (gsize d = 0; d < n_layers; d++)
    {
      gsize strings = 0;

      for (gsize i = first; i < end[d]; i++)
        strings += strlen (by_layer[i]->id) + 1;
      layer_size[d] = strings + offset_size_for (strings, end[d] - first) * (end[d] - first);
      body += layer_size[d];
      first = end[d];
    }
  outer_size = offset_size_for (body, n_layers);
  total = body + (gsize) outer_size * n_layers;
  data = g_malloc (total);

  first = 0;
  for (gsize d = 0; d < n_layers; d++)
    {
      gsize layer_start = pos, n = end[d] - first;
      guint inner_size;
      guchar *offsets;

      for (gsize i = first; i < end[d]; i++)
        {
          gsize len = strlen (by_layer[i]->id) + 1;

          memcpy (data + pos, by_layer[i]->id, len);
          pos += len;
        }
      inner_size = offset_size_for (pos - layer_start, n);
      offsets = data + pos;
      pos = layer_start;
      for (gsize i = first; i < end[d]; i++)
        {
          pos += strlen (by_layer[i]->id) + 1;
          put_offset (offsets + (i - first) * inner_size, pos - layer_start, inner_size);
        }
      pos += (gsize) inner_size * n;
      g_assert (pos - layer_start == layer_size[d]);
      first = end[d];
    }
  for (gsize d = 0, e = 0; d < n_layers; d++)
    {
      e += layer_size[d];
      put_offset (data + body + d * outer_size, e, outer_size);
    }
  return g_variant_new_from_data (G_VARIANT_TYPE ("aas"), data, total, FALSE, g_free, data);
}

/**
 * orrery_constellation_get_layers:
 * @self: a constellation
 * @error: return location for an error
 *
 * Groups the tasks by depth: layer 0 holds the tasks without
 * prerequisites, layer k the tasks whose longest chain of prerequisites
 * has k edges. Within a layer, tasks are by priority then id.
 *
 * Returns: (transfer full) (nullable): the layers as an `aas` of task ids;
 *   %NULL with a cycle error
 */
GVariant *
orrery_constellation_get_layers (OrreryConstellation  *self,
                                 GError              **error)
{
  g_autofree gsize *ends = NULL;
  g_autofree OrreryTask **by_layer = NULL;
  guint n_layers;

  g_return_val_if_fail (ORRERY_IS_CONSTELLATION (self), NULL);
  if (!_orrery_constellation_layers (self, &by_layer, &ends, &n_layers, error))
    return NULL;
  if (n_layers == 0)
    return g_variant_ref_sink (g_variant_new_array (G_VARIANT_TYPE ("as"), NULL, 0));
  return g_variant_ref_sink (layers_to_variant (by_layer, ends, n_layers));
}

/* The layers without a GVariant: the tasks by layer in @out_tasks, layer d
 * being [@out_ends[d - 1] (0 for the first), @out_ends[d]), and their
 * number in @out_n_layers (0 without tasks). */
gboolean
_orrery_constellation_layers (OrreryConstellation  *self,
                              OrreryTask         ***out_tasks,
                              gsize               **out_ends,
                              guint                *out_n_layers,
                              GError              **error)
{
  guint n, reached, max_depth = 0;
  g_autofree guint *order = NULL;
  g_autofree guint *depth = NULL;
  gsize *start = NULL;
  OrreryTask **by_layer = NULL;
  g_autoptr(GPtrArray) sorted = NULL;

  *out_tasks = NULL;
  *out_ends = NULL;
  *out_n_layers = 0;
  n = self->tasks->len;
  order = g_new (guint, n + 1);
  depth = g_new (guint, n + 1);
  reached = _orrery_constellation_topo (self, order, depth);
  if (reached < n)
    {
      g_autofree char *cycle = _orrery_constellation_describe_cycle (self, order + reached);

      SET_ERROR (error, CYCLE, "cycle: %s", cycle);
      return FALSE;
    }
  /* One pass: sort once by (priority, id), then count the tasks per depth
   * and place each task in its layer in that order (a counting sort), so
   * the cost is that of the sort, not depth × tasks. */
  sorted = g_ptr_array_sized_new (n);
  for (guint i = 0; i < n; i++)
    {
      g_ptr_array_add (sorted, self->tasks->pdata[i]);
      max_depth = MAX (max_depth, depth[i]);
    }
  g_ptr_array_sort (sorted, task_ptr_compare);
  if (n == 0)
    return TRUE;

  start = g_new0 (gsize, max_depth + 2);
  by_layer = g_new (OrreryTask *, n);
  for (guint i = 0; i < n; i++)
    start[depth[i] + 1]++;
  for (guint d = 1; d <= max_depth + 1; d++)
    start[d] += start[d - 1];
  for (guint i = 0; i < n; i++)
    {
      OrreryTask *t = sorted->pdata[i];
      by_layer[start[depth[t->state.index]]++] = t;
    }
  /* start[d] is now the end of layer d. */
  *out_tasks = by_layer;
  *out_ends = start;
  *out_n_layers = max_depth + 1;
  return TRUE;
}

/* Running */

static OrreryTask *
lookup_or_error (OrreryConstellation  *self,
                 const char           *task_id,
                 GError              **error)
{
  OrreryTask *t = g_hash_table_lookup (self->by_id, task_id);

  if (t == NULL)
    SET_ERROR (error, UNKNOWN_TASK, "unknown task “%s”", task_id);
  return t;
}

/* ------------------------------------------------------------------------ */
/* Run state written for the orchestrator and the devices */

void
_orrery_task_state_begin_attempt (OrreryTask *task,
                                  guint       attempt)
{
  task->state.attempt = attempt;
  task->state.device_started_us = task->state.device_ended_us = 0;
}

void
_orrery_task_state_record_device_start (OrreryTask *task,
                                        gint64      monotonic_us)
{
  task->state.device_started_us = monotonic_us > 0 ? monotonic_us : g_get_monotonic_time ();
  task->state.device_ended_us = 0;
}

void
_orrery_task_state_record_device_end (OrreryTask *task,
                                      gint64      monotonic_us)
{
  task->state.device_ended_us = monotonic_us > 0 ? monotonic_us : g_get_monotonic_time ();
}

/* The task's recorded start and end (and so its duration) are the device's
 * own times when it recorded them, not when the task was dispatched or when
 * its end was heard of: a handler that held the main loop for seconds
 * delayed both, and every running task's duration grew by as much. */
void
_orrery_task_state_apply_device_times (OrreryTask *task)
{
  OrreryTaskState *st = &task->state;
  gint64 real_now, mono_now;

  if (st->device_started_us <= 0 || st->device_ended_us < st->device_started_us)
    return;
  real_now = g_get_real_time ();
  mono_now = g_get_monotonic_time ();
  st->started_at = real_now - (mono_now - st->device_started_us);
  st->ended_at = st->started_at + (st->device_ended_us - st->device_started_us);
}

/**
 * orrery_constellation_mark_task_started:
 * @self: a constellation
 * @task_id: a ready task
 * @error: return location for an error
 *
 * Marks a ready task running and sets its start time.
 *
 * Returns: whether the task was ready and is now running
 */
gboolean
orrery_constellation_mark_task_started (OrreryConstellation  *self,
                                        const char           *task_id,
                                        GError              **error)
{
  OrreryTask *t;

  g_return_val_if_fail (ORRERY_IS_CONSTELLATION (self), FALSE);
  g_return_val_if_fail (task_id != NULL, FALSE);
  if ((t = lookup_or_error (self, task_id, error)) == NULL)
    return FALSE;
  /* Not the ready set: whoever asks for it gets it built then. */
  settle_skips (self, NULL);
  if (!task_is_ready (t))
    {
      SET_ERROR (error, INVALID_STATE, "task “%s” cannot start: it is %s%s", task_id,
                 orrery_task_status_to_nick (t->state.status),
                 TASK_NOT_STARTED (t) ? " and waits for prerequisites" : "");
      return FALSE;
    }
  ready_remove (self, t);
  set_status (self, t, ORRERY_TASK_STATUS_RUNNING);
  t->state.started_at = g_get_real_time ();
  t->state.ended_at = 0;
  return TRUE;
}

static void
sort_tasks (GPtrArray *arr)
{
  if (arr && arr->len > 1)
    g_ptr_array_sort (arr, task_ptr_compare);
}

/**
 * orrery_constellation_mark_task_completed:
 * @self: a constellation
 * @task_id: a running task (a ready one is started first)
 * @success: whether it succeeded
 * @result: (nullable): what it produced; a floating reference is sunk
 * @task_error: (nullable): why it failed
 * @out_skipped: (out) (optional) (transfer container) (element-type OrreryTask):
 *   the dependents that can now never run and became skipped, transitively
 * @error: return location for an error
 *
 * Marks a task completed (or failed), then looks at its dependents only:
 * an edge that is satisfied (any end for unconditional and completion-only
 * edges, success for success-only ones, a condition that holds on the
 * result for conditional ones) counts down the dependent's pending edges;
 * an edge that cannot be satisfied makes the dependent skipped, and its
 * own dependents after it.
 *
 * Returns: (transfer container) (element-type OrreryTask) (nullable): the
 *   tasks that became ready, by priority then id; %NULL on error
 */
GPtrArray *
orrery_constellation_mark_task_completed (OrreryConstellation  *self,
                                          const char           *task_id,
                                          gboolean              success,
                                          GVariant             *result,
                                          const GError         *task_error,
                                          GPtrArray           **out_skipped,
                                          GError              **error)
{
  OrreryTask *t;
  GPtrArray *newly_ready;
  GPtrArray *skipped = NULL;

  g_return_val_if_fail (ORRERY_IS_CONSTELLATION (self), NULL);
  g_return_val_if_fail (task_id != NULL, NULL);

  if (result)
    g_variant_ref_sink (result);
  if ((t = lookup_or_error (self, task_id, error)) == NULL)
    goto fail;
  settle_skips (self, NULL);
  if (t->state.status != ORRERY_TASK_STATUS_RUNNING)
    {
      if (!task_is_ready (t))
        {
          SET_ERROR (error, INVALID_STATE, "task “%s” cannot complete: it is %s", task_id,
                     orrery_task_status_to_nick (t->state.status));
          goto fail;
        }
      ready_remove (self, t);
      t->state.started_at = g_get_real_time ();
    }
  set_status (self, t, success ? ORRERY_TASK_STATUS_COMPLETED : ORRERY_TASK_STATUS_FAILED);
  t->state.ended_at = g_get_real_time ();
  if (t->state.result)
    g_variant_unref (t->state.result);
  t->state.result = result;
  g_clear_error (&t->state.error);
  if (task_error)
    t->state.error = g_error_copy (task_error);
  else if (!success)
    _orrery_task_set_error_message (t, "failed");

  newly_ready = g_ptr_array_new ();
  if (out_skipped)
    skipped = g_ptr_array_new ();
  if (t->state.n_out > 0)
    resolve_outgoing (self, t, newly_ready, skipped);
  sort_tasks (newly_ready);
  if (out_skipped)
    *out_skipped = skipped;
  return newly_ready;

fail:
  if (result)
    g_variant_unref (result);
  return NULL;
}

/**
 * orrery_constellation_mark_task_cancelled_full:
 * @self: a constellation
 * @task_id: a task not yet finished
 * @out_skipped: (out) (optional) (transfer container) (element-type OrreryTask):
 *   the dependents that became skipped
 * @error: return location for an error
 *
 * Cancels a pending or running task. Completion-only and unconditional
 * edges from it are satisfied (so dependents may become ready), the others
 * make their dependents skipped.
 *
 * Returns: (transfer container) (element-type OrreryTask) (nullable): the
 *   tasks that became ready; %NULL on error
 */
GPtrArray *
orrery_constellation_mark_task_cancelled_full (OrreryConstellation  *self,
                                               const char           *task_id,
                                               GPtrArray           **out_skipped,
                                               GError              **error)
{
  OrreryTask *t;
  GPtrArray *newly_ready;
  GPtrArray *skipped = NULL;

  g_return_val_if_fail (ORRERY_IS_CONSTELLATION (self), NULL);
  g_return_val_if_fail (task_id != NULL, NULL);
  if ((t = lookup_or_error (self, task_id, error)) == NULL)
    return NULL;
  settle_skips (self, NULL);
  if (TASK_TERMINAL (t))
    {
      SET_ERROR (error, INVALID_STATE, "task “%s” cannot be cancelled: it is already %s", task_id,
                 orrery_task_status_to_nick (t->state.status));
      return NULL;
    }
  ready_remove (self, t);
  set_status (self, t, ORRERY_TASK_STATUS_CANCELLED);
  t->state.ended_at = g_get_real_time ();
  newly_ready = g_ptr_array_new ();
  if (out_skipped)
    skipped = g_ptr_array_new ();
  resolve_outgoing (self, t, newly_ready, skipped);
  sort_tasks (newly_ready);
  if (out_skipped)
    *out_skipped = skipped;
  return newly_ready;
}

/**
 * orrery_constellation_mark_task_cancelled:
 * @self: a constellation
 * @task_id: a task not yet finished
 * @error: return location for an error
 *
 * Cancels a pending or running task; see
 * orrery_constellation_mark_task_cancelled_full() for what happens to its
 * dependents.
 *
 * Returns: whether the task was cancelled
 */
gboolean
orrery_constellation_mark_task_cancelled (OrreryConstellation  *self,
                                          const char           *task_id,
                                          GError              **error)
{
  g_autoptr(GPtrArray) ready = orrery_constellation_mark_task_cancelled_full (self, task_id, NULL, error);

  return ready != NULL;
}

/**
 * orrery_constellation_cancel_pending:
 * @self: a constellation
 * @reason: (nullable): the error every cancelled task gets
 * @ended_at: their end time (µs since the epoch), or 0 for now
 *
 * Cancels, in one pass, every task that has not started (pending, waiting
 * for its prerequisites, or ready): the end of a cancelled run. Running and
 * finished tasks are left as they are. Unlike
 * orrery_constellation_mark_task_cancelled_full() one task at a time, no
 * dependent becomes ready or skipped: every not-started dependent is
 * cancelled too, whatever the order of the tasks. Edges from the cancelled
 * tasks are settled as a cancel settles them, so
 * orrery_constellation_reset_interrupted() finds the graph as it expects.
 *
 * The cost is one pass over the tasks and their outgoing edges, with no
 * event and no signal: the orchestrator publishes one
 * `constellation-cancelled` (or `-failed`) for the lot (see
 * `docs/journal.md`). The pass only reads a task that has started; the
 * ready set's nodes are freed later (with the constellation, or at the
 * next bulk cancel), not at the end of the run.
 *
 * Returns: how many tasks were cancelled
 */
guint
orrery_constellation_cancel_pending (OrreryConstellation *self,
                                     const GError        *reason,
                                     gint64               ended_at)
{
  guint n = 0;

  g_return_val_if_fail (ORRERY_IS_CONSTELLATION (self), 0);

  if (ended_at == 0)
    ended_at = g_get_real_time ();

  /* The ready set empties at once: no removal one task at a time, and
   * its nodes (one per ready task: 90k at the end of a cancelled run of
   * 100k, up to a third of the cancel's cost under load) are freed later. */
  g_clear_pointer (&self->stale_ready, g_ptr_array_unref);
  if (self->ready_classes->len > 0)
    self->stale_ready = g_ptr_array_new_full (self->ready_classes->len,
                                              (GDestroyNotify) g_sequence_free);
  for (guint i = 0; i < self->ready_classes->len; i++)
    {
      OrreryReadyClass *c = self->ready_classes->pdata[i];

      g_ptr_array_add (self->stale_ready, c->tasks);
      c->tasks = g_sequence_new (NULL);
      c->index = G_MAXUINT;
    }
  g_ptr_array_set_size (self->ready_classes, 0);
  self->n_ready = 0;

  /* One error for all of them: a copy per task was most of the cost. A
   * different reason than a previous bulk cancel's (a resumed run
   * cancelled again) gives the earlier ones their own copy first. */
  if (self->bulk_cancel_error != NULL &&
      (reason == NULL || !g_error_matches (self->bulk_cancel_error, reason->domain, reason->code) ||
       g_strcmp0 (self->bulk_cancel_error->message, reason->message) != 0))
    {
      for (guint i = 0; i < self->tasks->len; i++)
        _orrery_task_own_bulk_error (self->tasks->pdata[i]);
      g_clear_error (&self->bulk_cancel_error);
    }
  if (self->bulk_cancel_error == NULL && reason != NULL)
    self->bulk_cancel_error = g_error_copy (reason);

  for (guint i = 0; i < self->tasks->len; i++)
    {
      OrreryTask *t = self->tasks->pdata[i];

      /* Only a task not started can be ready: the others are only read. */
      if (!TASK_NOT_STARTED (t))
        continue;
      t->state.ready_iter = NULL;
      t->state.ready_class = NULL;
      set_status (self, t, ORRERY_TASK_STATUS_CANCELLED);
      t->state.ended_at = ended_at;
      g_clear_error (&t->state.error);
      t->state.bulk_cancelled = reason != NULL;
      n++;
      /* Settle its outgoing edges as a cancel does; its dependents are
       * cancelled in this pass or finished already, so no status changes. */
      for (guint k = 0; k < t->state.n_out; k++)
        {
          OrreryDependency *e = t->state.out[k];

          if (e->state != EDGE_PENDING)
            continue;
          e->state = _orrery_dependency_evaluate (e) ? EDGE_SATISFIED : EDGE_IMPOSSIBLE;
          e->to->state.n_pending_in--;
          if (e->state == EDGE_IMPOSSIBLE)
            e->to->state.n_impossible_in++;
        }
    }
  return n;
}

/**
 * orrery_constellation_requeue_task:
 * @self: a constellation
 * @task_id: a running task
 * @error: return location for an error
 *
 * Puts a running task back among the ready tasks for another attempt (a
 * retry): its attempt counter goes up, its times and result are cleared.
 *
 * Returns: whether the task was requeued
 */
gboolean
orrery_constellation_requeue_task (OrreryConstellation  *self,
                                   const char           *task_id,
                                   GError              **error)
{
  OrreryTask *t;

  g_return_val_if_fail (ORRERY_IS_CONSTELLATION (self), FALSE);
  if ((t = lookup_or_error (self, task_id, error)) == NULL)
    return FALSE;
  if (t->state.status != ORRERY_TASK_STATUS_RUNNING)
    {
      SET_ERROR (error, INVALID_STATE, "task “%s” cannot be requeued: it is %s, not running", task_id,
                 orrery_task_status_to_nick (t->state.status));
      return FALSE;
    }
  set_status (self, t, ORRERY_TASK_STATUS_PENDING);
  t->state.attempt++;
  t->state.started_at = 0;
  t->state.ended_at = 0;
  g_clear_pointer (&t->state.result, g_variant_unref);
  ready_insert (self, t);
  return TRUE;
}

/**
 * orrery_constellation_reset_running:
 * @self: a constellation
 *
 * Puts every running task back to pending (and ready), to resume a run
 * that was saved or interrupted while they ran.
 */
void
orrery_constellation_reset_running (OrreryConstellation *self)
{
  g_return_if_fail (ORRERY_IS_CONSTELLATION (self));
  if (self->status_counts[ORRERY_TASK_STATUS_RUNNING] == 0)
    return;
  for (guint i = 0; i < self->tasks->len; i++)
    {
      OrreryTask *t = self->tasks->pdata[i];

      if (t->state.status != ORRERY_TASK_STATUS_RUNNING)
        continue;
      set_status (self, t, ORRERY_TASK_STATUS_PENDING);
      t->state.started_at = 0;
      if (task_is_ready (t))
        ready_insert (self, t);
    }
}

/**
 * orrery_constellation_reset_interrupted:
 * @self: a constellation
 *
 * Prepares a saved or interrupted run to continue: tasks that were
 * running or cancelled go back to pending, and so do tasks skipped only
 * because of them; completed and failed tasks (and what they made skip)
 * stay as they are. Readiness is recomputed from the finished tasks.
 *
 * Returns: how many tasks went back to pending
 */
guint
orrery_constellation_reset_interrupted (OrreryConstellation *self)
{
  guint n_reset = 0;

  g_return_val_if_fail (ORRERY_IS_CONSTELLATION (self), 0);

  if (self->status_counts[ORRERY_TASK_STATUS_RUNNING] == 0 &&
      self->status_counts[ORRERY_TASK_STATUS_CANCELLED] == 0)
    return 0;

  /* Every task that did not finish for good starts again from pending;
   * the skips that still hold are found again below. */
  for (guint i = 0; i < self->tasks->len; i++)
    {
      OrreryTask *t = self->tasks->pdata[i];

      ready_remove (self, t);
      if (t->state.status == ORRERY_TASK_STATUS_RUNNING ||
          t->state.status == ORRERY_TASK_STATUS_CANCELLED ||
          t->state.status == ORRERY_TASK_STATUS_SKIPPED)
        {
          if (t->state.status != ORRERY_TASK_STATUS_SKIPPED)
            n_reset++;
          set_status (self, t, ORRERY_TASK_STATUS_PENDING);
          t->state.started_at = 0;
          t->state.ended_at = 0;
          g_clear_pointer (&t->state.result, g_variant_unref);
          g_clear_error (&t->state.error);
        }
    }

  /* Edge states and counters from the finished prerequisites only. */
  for (guint i = 0; i < self->tasks->len; i++)
    {
      OrreryTask *t = self->tasks->pdata[i];

      t->state.n_pending_in = 0;
      t->state.n_impossible_in = 0;
      for (guint k = 0; k < t->state.n_in; k++)
        {
          OrreryDependency *e = t->state.in[k];

          if (TASK_TERMINAL (e->from))
            e->state = _orrery_dependency_evaluate (e) ? EDGE_SATISFIED : EDGE_IMPOSSIBLE;
          else
            e->state = EDGE_PENDING;
          if (e->state == EDGE_PENDING)
            t->state.n_pending_in++;
          else if (e->state == EDGE_IMPOSSIBLE)
            t->state.n_impossible_in++;
        }
    }

  /* Rebuild the ready set (if it was kept); tasks that still cannot run
   * are skipped again. */
  if (self->ready_live)
    {
      self->ready_live = self->skips_live = FALSE;
      _orrery_constellation_ensure_ready (self, NULL);
    }
  else
    {
      self->skips_live = FALSE;
      settle_skips (self, NULL);
    }
  return n_reset;
}

/**
 * orrery_constellation_update_state:
 * @self: a constellation
 *
 * Derives the state from the task counts: every task terminal gives the
 * state a run ends in (completed unless a task failed or was cancelled,
 * else failed: a skipped task alone is a branch not taken, see
 * #OrreryConstellationState); some running or finished gives executing;
 * otherwise the state is left as it is.
 *
 * Returns: the new state
 */
OrreryConstellationState
orrery_constellation_update_state (OrreryConstellation *self)
{
  guint *c;

  g_return_val_if_fail (ORRERY_IS_CONSTELLATION (self), 0);
  c = self->status_counts;
  if (self->tasks->len > 0 && orrery_constellation_is_finished (self))
    orrery_constellation_set_state (self, _orrery_constellation_outcome (self));
  else if (c[ORRERY_TASK_STATUS_RUNNING] > 0 || c[ORRERY_TASK_STATUS_COMPLETED] +
           c[ORRERY_TASK_STATUS_FAILED] + c[ORRERY_TASK_STATUS_SKIPPED] +
           c[ORRERY_TASK_STATUS_CANCELLED] > 0)
    orrery_constellation_set_state (self, ORRERY_CONSTELLATION_STATE_EXECUTING);
  return self->state;
}

/* The one rule for how a finished constellation ended (the orchestrator's
 * end of a run that was not cancelled, orrery_constellation_update_state()):
 * completed unless a task failed or was cancelled. A task skipped because a
 * condition did not hold is a branch not taken; one skipped because a
 * prerequisite failed comes with that failure. */
OrreryConstellationState
_orrery_constellation_outcome (OrreryConstellation *self)
{
  const guint *c = self->status_counts;

  return c[ORRERY_TASK_STATUS_FAILED] + c[ORRERY_TASK_STATUS_CANCELLED] == 0
         ? ORRERY_CONSTELLATION_STATE_COMPLETED : ORRERY_CONSTELLATION_STATE_FAILED;
}

/**
 * orrery_constellation_state_to_nick:
 * @state: a constellation state
 *
 * Returns: (transfer none): the nick of @state, such as `partially-failed`
 */
const char *
orrery_constellation_state_to_nick (OrreryConstellationState state)
{
  const char *nick = _orrery_enum_to_nick (ORRERY_TYPE_CONSTELLATION_STATE, state);

  g_return_val_if_fail (nick != NULL, NULL);
  return nick;
}

/**
 * orrery_constellation_complete_task:
 * @self: a constellation
 * @task_id: a running (or ready) task
 * @result: (nullable): what it produced; a floating reference is sunk
 * @out_skipped: (out) (optional) (transfer container) (element-type OrreryTask):
 *   the dependents that became skipped
 * @error: return location for an error
 *
 * Marks a task completed successfully: orrery_constellation_mark_task_completed()
 * without an error argument (bindings cannot pass a %NULL #GError).
 *
 * Returns: (transfer container) (element-type OrreryTask) (nullable): the
 *   tasks that became ready; %NULL on error
 */
GPtrArray *
orrery_constellation_complete_task (OrreryConstellation  *self,
                                    const char           *task_id,
                                    GVariant             *result,
                                    GPtrArray           **out_skipped,
                                    GError              **error)
{
  return orrery_constellation_mark_task_completed (self, task_id, TRUE, result, NULL, out_skipped, error);
}

/**
 * orrery_constellation_fail_task:
 * @self: a constellation
 * @task_id: a running (or ready) task
 * @result: (nullable): what it produced; a floating reference is sunk
 * @message: why it failed
 * @out_skipped: (out) (optional) (transfer container) (element-type OrreryTask):
 *   the dependents that became skipped
 * @error: return location for an error
 *
 * Marks a task failed with a message: orrery_constellation_mark_task_completed()
 * for bindings.
 *
 * Returns: (transfer container) (element-type OrreryTask) (nullable): the
 *   tasks that became ready; %NULL on error
 */
GPtrArray *
orrery_constellation_fail_task (OrreryConstellation  *self,
                                const char           *task_id,
                                GVariant             *result,
                                const char           *message,
                                GPtrArray           **out_skipped,
                                GError              **error)
{
  g_autoptr(GError) task_error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, message ? message : "failed");

  return orrery_constellation_mark_task_completed (self, task_id, FALSE, result, task_error, out_skipped, error);
}
