/* orrery-event.c: the events published on the bus.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <time.h>

#include "orrery-private.h"


/**
 * OrreryEvent:
 *
 * The events published on the bus.
 *
 * An event is a small ref-counted boxed structure (orrery_event_ref(),
 * orrery_event_unref()), not a GObject: creating one is one clock read and
 * one block (taken from the thread's cache of freed events when the ids
 * fit in it, so usually no allocation at all). There is one type for every kind of event; its
 * #OrreryEventKind, set by the constructor that made it, says which fields
 * it carries: orrery_event_new_task() makes task events (task id, status,
 * attempt, device, result, error, newly ready tasks), orrery_event_new_constellation()
 * constellation events (id, state, statistics, duration, modifications),
 * orrery_event_new_device() device events (id, status), orrery_event_new()
 * plain ones. An accessor of a field the event's kind lacks returns %NULL
 * or 0; a setter of such a field refuses, with a critical warning.
 *
 * Once published an event is sealed: its setters refuse to change it, so
 * every observer sees the same values. Observers receive events
 * `(transfer none)`: one that keeps an event past its handler takes a
 * reference.
 */
G_DEFINE_BOXED_TYPE (OrreryEvent, orrery_event, orrery_event_ref, orrery_event_unref)

#define CHECK_UNSEALED(ev) g_return_if_fail (!(ev)->sealed)

/* Each thread keeps up to EVENT_CACHE_MAX freed events of one block size
 * (room for the usual ids behind the fields) and makes new ones from them:
 * no malloc or free on the path of an event. Not under AddressSanitizer,
 * which must see every event freed. */
#define EVENT_BLOCK_SIZE 320
#define EVENT_CACHE_MAX  64

#if defined(__SANITIZE_ADDRESS__)
# define EVENT_CACHE 0
#elif defined(__has_feature)
# if __has_feature(address_sanitizer)
#  define EVENT_CACHE 0
# endif
#endif
#ifndef EVENT_CACHE
# define EVENT_CACHE 1
#endif

#if EVENT_CACHE
/* One thread-local block: one TLS lookup per use. The initial-exec model
 * makes that lookup an offset from the thread pointer instead of a call to
 * __tls_get_addr (three of them per event, about 8 ns): the block is 16
 * bytes, well within the static TLS glibc keeps for libraries opened
 * later (a binding's dlopen of the typelib's library). */
static __thread __attribute__ ((tls_model ("initial-exec"))) struct
{
  OrreryEvent *head;         /* linked through their first word */
  guint        len;
  gboolean     registered;
} cache;

static void
cache_drain (gpointer marker)
{
  while (cache.head != NULL)
    {
      OrreryEvent *ev = cache.head;

      cache.head = *(OrreryEvent **) ev;
      g_free (ev);
    }
  cache.len = 0;
}

/* Frees a thread's cache when it exits. */
static GPrivate cache_key = G_PRIVATE_INIT (cache_drain);
#endif

/* g_get_real_time() without its wrapper: read on every event. */
static inline gint64
real_time_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_REALTIME, &ts);
  return (gint64) ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

static OrreryEvent *
event_alloc (OrreryEventType  type,
             OrreryEventKind  kind,
             const char      *source_id,
             const char      *subject_id)
{
  gsize source_len = source_id != NULL ? strlen (source_id) + 1 : 0;
  gsize subject_len = subject_id != NULL ? strlen (subject_id) + 1 : 0;
  gsize size = sizeof (OrreryEvent) + source_len + subject_len;
  gboolean pooled = size <= EVENT_BLOCK_SIZE;
  OrreryEvent *self;
  char *p;

#if EVENT_CACHE
  if (pooled && cache.head != NULL)
    {
      self = cache.head;
      cache.head = *(OrreryEvent **) self;
      cache.len--;
    }
  else
#endif
    self = g_malloc (pooled ? EVENT_BLOCK_SIZE : size);

  memset (self, 0, sizeof (OrreryEvent));
  self->ref_count = 1;
  self->type = (guint8) type;
  self->kind = (guint8) kind;
  self->pooled = pooled;
  self->strings_size = (guint16) MIN ((pooled ? EVENT_BLOCK_SIZE : size) - sizeof (OrreryEvent), G_MAXUINT16);
  self->timestamp = real_time_us ();
  p = self->strings;
  if (source_id != NULL)
    {
      memcpy (p, source_id, source_len);
      self->source_id = p;
      p += source_len;
    }
  if (subject_id != NULL)
    {
      memcpy (p, subject_id, subject_len);
      self->subject_id = p;
    }
  self->strings_used = (guint16) MIN (source_len + subject_len, G_MAXUINT16);
  return self;
}

static void
event_free (OrreryEvent *self)
{
#if EVENT_CACHE
  if (self->pooled && cache.len < EVENT_CACHE_MAX)
    {
      if (G_UNLIKELY (!cache.registered))
        {
          cache.registered = TRUE;
          g_private_set (&cache_key, GINT_TO_POINTER (1));
        }
      *(OrreryEvent **) self = cache.head;
      cache.head = self;
      cache.len++;
      return;
    }
#endif
  g_free (self);
}

static inline gboolean
is_inline_string (OrreryEvent *self,
                  const char  *s)
{
  return s >= self->strings && s < self->strings + self->strings_size;
}

/**
 * orrery_event_ref:
 * @self: an event
 *
 * Takes a reference to @self. Any thread may take and drop references.
 *
 * Returns: (transfer full): @self
 */
OrreryEvent *
orrery_event_ref (OrreryEvent *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_atomic_int_inc (&self->ref_count);
  return self;
}

/**
 * orrery_event_unref:
 * @self: (transfer full): an event
 *
 * Drops a reference to @self; the last one frees it.
 */
void
orrery_event_unref (OrreryEvent *self)
{
  g_return_if_fail (self != NULL);
  if (!g_atomic_int_dec_and_test (&self->ref_count))
    return;
  if (self->device_id != NULL && !is_inline_string (self, self->device_id))
    g_free (self->device_id);
  if (self->data != NULL)
    g_variant_unref (self->data);
  if (self->result != NULL)
    g_variant_unref (self->result);
  if (self->error != NULL)
    g_error_free (self->error);
  if (self->newly_ready != NULL)
    g_strfreev (self->newly_ready);
  if (self->constellation != NULL)
    g_object_unref (self->constellation);
  if (self->statistics != NULL)
    g_variant_unref (self->statistics);
  if (self->modifications != NULL)
    g_variant_unref (self->modifications);
  if (self->on_task_ids != NULL)
    g_strfreev (self->on_task_ids);
  event_free (self);
}

/**
 * orrery_event_type_get_kind:
 * @type: an event type
 *
 * The kind of event that carries @type: %ORRERY_EVENT_KIND_TASK for
 * `task-*`, %ORRERY_EVENT_KIND_CONSTELLATION for `constellation-*`,
 * %ORRERY_EVENT_KIND_DEVICE for `device-*`.
 *
 * Returns: the kind
 */
OrreryEventKind
orrery_event_type_get_kind (OrreryEventType type)
{
  switch (type)
    {
    case ORRERY_EVENT_TASK_STARTED:
    case ORRERY_EVENT_TASK_COMPLETED:
    case ORRERY_EVENT_TASK_FAILED:
    case ORRERY_EVENT_TASK_RETRYING:
    case ORRERY_EVENT_TASK_SKIPPED:
    case ORRERY_EVENT_TASK_CANCELLED:
      return ORRERY_EVENT_KIND_TASK;
    case ORRERY_EVENT_CONSTELLATION_STARTED:
    case ORRERY_EVENT_CONSTELLATION_COMPLETED:
    case ORRERY_EVENT_CONSTELLATION_MODIFIED:
    case ORRERY_EVENT_CONSTELLATION_FAILED:
    case ORRERY_EVENT_CONSTELLATION_CANCELLED:
      return ORRERY_EVENT_KIND_CONSTELLATION;
    case ORRERY_EVENT_DEVICE_ADDED:
    case ORRERY_EVENT_DEVICE_REMOVED:
    case ORRERY_EVENT_DEVICE_STATUS_CHANGED:
      return ORRERY_EVENT_KIND_DEVICE;
    default:
      return ORRERY_EVENT_KIND_PLAIN;
    }
}

/**
 * orrery_event_new:
 * @type: the event type
 * @source_id: (nullable): who publishes the event
 * @data: (nullable): free-form data, usually an `a{sv}` dictionary; a
 *   floating reference is sunk
 *
 * Creates a plain event (%ORRERY_EVENT_KIND_PLAIN) of any type. The task,
 * constellation and device kinds have their own constructors with their
 * own fields.
 *
 * Returns: (transfer full): a new event
 */
OrreryEvent *
orrery_event_new (OrreryEventType  type,
                  const char      *source_id,
                  GVariant        *data)
{
  OrreryEvent *self;

  g_return_val_if_fail ((guint) type < ORRERY_EVENT_TYPE_COUNT, NULL);

  self = event_alloc (type, ORRERY_EVENT_KIND_PLAIN, source_id, NULL);
  if (data != NULL)
    self->data = g_variant_ref_sink (data);
  return self;
}

/**
 * orrery_event_new_task:
 * @type: a task event type (`task-started`, `task-completed`, ...)
 * @source_id: (nullable): who publishes the event
 * @task_id: the task the event is about
 * @status: the task's status when the event was made
 *
 * Creates a task event (%ORRERY_EVENT_KIND_TASK).
 *
 * Returns: (transfer full): a new task event
 */
OrreryEvent *
orrery_event_new_task (OrreryEventType   type,
                       const char       *source_id,
                       const char       *task_id,
                       OrreryTaskStatus  status)
{
  OrreryEvent *self;

  g_return_val_if_fail (orrery_event_type_get_kind (type) == ORRERY_EVENT_KIND_TASK, NULL);
  g_return_val_if_fail (task_id != NULL, NULL);

  self = event_alloc (type, ORRERY_EVENT_KIND_TASK, source_id, task_id);
  self->status = status;
  return self;
}

/**
 * orrery_event_new_constellation:
 * @type: a constellation event type (`constellation-started`, ...)
 * @source_id: (nullable): who publishes the event
 * @constellation_id: the constellation the event is about
 * @state: the constellation's state when the event was made
 *
 * Creates a constellation event (%ORRERY_EVENT_KIND_CONSTELLATION).
 *
 * Returns: (transfer full): a new constellation event
 */
OrreryEvent *
orrery_event_new_constellation (OrreryEventType           type,
                                const char               *source_id,
                                const char               *constellation_id,
                                OrreryConstellationState  state)
{
  OrreryEvent *self;

  g_return_val_if_fail (orrery_event_type_get_kind (type) == ORRERY_EVENT_KIND_CONSTELLATION, NULL);
  g_return_val_if_fail (constellation_id != NULL, NULL);

  self = event_alloc (type, ORRERY_EVENT_KIND_CONSTELLATION, source_id, constellation_id);
  self->status = state;
  return self;
}

/**
 * orrery_event_new_device:
 * @type: a device event type (`device-added`, ...)
 * @source_id: (nullable): who publishes the event
 * @device_id: the device the event is about
 * @status: the device's status
 *
 * Creates a device event (%ORRERY_EVENT_KIND_DEVICE).
 *
 * Returns: (transfer full): a new device event
 */
OrreryEvent *
orrery_event_new_device (OrreryEventType     type,
                         const char         *source_id,
                         const char         *device_id,
                         OrreryDeviceStatus  status)
{
  OrreryEvent *self;

  g_return_val_if_fail (orrery_event_type_get_kind (type) == ORRERY_EVENT_KIND_DEVICE, NULL);
  g_return_val_if_fail (device_id != NULL, NULL);

  self = event_alloc (type, ORRERY_EVENT_KIND_DEVICE, source_id, device_id);
  self->status = status;
  return self;
}

/**
 * orrery_event_get_event_type:
 * @self: an event
 *
 * Returns: the type of the event
 */
OrreryEventType
orrery_event_get_event_type (OrreryEvent *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return (OrreryEventType) self->type;
}

/**
 * orrery_event_get_kind:
 * @self: an event
 *
 * Which fields the event carries: the kind of the constructor that made
 * it. Also see the C shorthands ORRERY_EVENT_IS_TASK(),
 * ORRERY_EVENT_IS_CONSTELLATION() and ORRERY_EVENT_IS_DEVICE().
 *
 * Returns: the event's kind
 */
OrreryEventKind
orrery_event_get_kind (OrreryEvent *self)
{
  g_return_val_if_fail (self != NULL, ORRERY_EVENT_KIND_PLAIN);
  return (OrreryEventKind) self->kind;
}

/**
 * orrery_event_get_type_nick:
 * @self: an event
 *
 * Returns: (transfer none): the nick of the event's type, such as `task-completed`
 */
const char *
orrery_event_get_type_nick (OrreryEvent *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return orrery_event_type_to_nick ((OrreryEventType) self->type);
}

/**
 * orrery_event_get_source_id:
 * @self: an event
 *
 * Returns: (transfer none) (nullable): the id of whoever published the event
 */
const char *
orrery_event_get_source_id (OrreryEvent *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->source_id;
}

/**
 * orrery_event_get_timestamp:
 * @self: an event
 *
 * Returns: when the event was created, in microseconds since the epoch
 */
gint64
orrery_event_get_timestamp (OrreryEvent *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->timestamp;
}

/**
 * orrery_event_get_data:
 * @self: an event
 *
 * Returns: (transfer none) (nullable): the event's free-form data
 */
GVariant *
orrery_event_get_data (OrreryEvent *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->data;
}

static void
replace_variant (GVariant **slot,
                 GVariant  *value)
{
  if (value != NULL)
    g_variant_ref_sink (value);
  if (*slot != NULL)
    g_variant_unref (*slot);
  *slot = value;
}

/**
 * orrery_event_set_data:
 * @self: an event not yet published
 * @data: (nullable): free-form data; a floating reference is sunk
 *
 * Sets the event's free-form data (any kind). Published events cannot change.
 */
void
orrery_event_set_data (OrreryEvent *self,
                       GVariant    *data)
{
  g_return_if_fail (self != NULL);
  CHECK_UNSEALED (self);
  replace_variant (&self->data, data);
}

/**
 * orrery_event_get_sequence:
 * @self: an event
 *
 * The bus gives every event it publishes a sequence number, counting from 1,
 * in the order in which observers receive them.
 *
 * Returns: the sequence number, or 0 if the event was not published
 */
guint64
orrery_event_get_sequence (OrreryEvent *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->sequence;
}

/**
 * orrery_event_is_published:
 * @self: an event
 *
 * Returns: whether the event was handed to a bus (and can no longer change)
 */
gboolean
orrery_event_is_published (OrreryEvent *self)
{
  g_return_val_if_fail (self != NULL, FALSE);
  return self->sealed;
}

/**
 * orrery_event_to_string:
 * @self: an event
 *
 * A one-line description for logs, such as `#12 task-completed task=build`.
 *
 * Returns: (transfer full): the description
 */
char *
orrery_event_to_string (OrreryEvent *self)
{
  static const char * const subject_names[] = { NULL, "task", "constellation", "device" };
  GString *s;

  g_return_val_if_fail (self != NULL, NULL);
  s = g_string_new (NULL);
  g_string_append_printf (s, "#%" G_GUINT64_FORMAT " %s", self->sequence,
                          orrery_event_type_to_nick ((OrreryEventType) self->type));
  if (self->subject_id != NULL)
    g_string_append_printf (s, " %s=%s", subject_names[self->kind], self->subject_id);
  if (self->source_id != NULL)
    g_string_append_printf (s, " source=%s", self->source_id);
  return g_string_free (s, FALSE);
}

/* ------------------------------------------------------------------------ */
/* Task events */

#define IS_KIND(ev, k) ((ev)->kind == ORRERY_EVENT_KIND_##k)

/**
 * orrery_event_get_task_id:
 * @self: an event
 *
 * Returns: (transfer none) (nullable): the task's id (task events), or
 *   %NULL for the other kinds
 */
const char *
orrery_event_get_task_id (OrreryEvent *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return IS_KIND (self, TASK) ? self->subject_id : NULL;
}

/**
 * orrery_event_get_task_status:
 * @self: an event
 *
 * Returns: the task's status when the event was made (task events), or 0
 *   (%ORRERY_TASK_STATUS_PENDING) for the other kinds
 */
OrreryTaskStatus
orrery_event_get_task_status (OrreryEvent *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return IS_KIND (self, TASK) ? (OrreryTaskStatus) self->status : 0;
}

/**
 * orrery_event_get_result:
 * @self: an event
 *
 * Returns: (transfer none) (nullable): the task's result (task events)
 */
GVariant *
orrery_event_get_result (OrreryEvent *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->result;
}

/**
 * orrery_event_set_result:
 * @self: a task event not yet published
 * @result: (nullable): the task's result; a floating reference is sunk
 */
void
orrery_event_set_result (OrreryEvent *self,
                         GVariant    *result)
{
  g_return_if_fail (self != NULL && IS_KIND (self, TASK));
  CHECK_UNSEALED (self);
  replace_variant (&self->result, result);
}

/**
 * orrery_event_get_error:
 * @self: an event
 *
 * Returns: (transfer none) (nullable): why the task failed (task events)
 */
const GError *
orrery_event_get_error (OrreryEvent *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->error;
}

/**
 * orrery_event_set_error:
 * @self: a task event not yet published
 * @error: (nullable): why the task failed; copied
 */
void
orrery_event_set_error (OrreryEvent  *self,
                        const GError *error)
{
  g_return_if_fail (self != NULL && IS_KIND (self, TASK));
  CHECK_UNSEALED (self);
  g_clear_error (&self->error);
  if (error != NULL)
    self->error = g_error_copy (error);
}

/**
 * orrery_event_get_attempt:
 * @self: an event
 *
 * Returns: the attempt number, counting from 1 (task events; 0 if not set)
 */
guint
orrery_event_get_attempt (OrreryEvent *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->attempt;
}

/**
 * orrery_event_set_attempt:
 * @self: a task event not yet published
 * @attempt: the attempt number, counting from 1
 */
void
orrery_event_set_attempt (OrreryEvent *self,
                          guint        attempt)
{
  g_return_if_fail (self != NULL && IS_KIND (self, TASK));
  CHECK_UNSEALED (self);
  self->attempt = attempt;
}

/**
 * orrery_event_get_device_id:
 * @self: an event
 *
 * Returns: (transfer none) (nullable): the device the event is about
 *   (device events), or the device the task runs or ran on (task events);
 *   %NULL for the other kinds
 */
const char *
orrery_event_get_device_id (OrreryEvent *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return IS_KIND (self, DEVICE) ? self->subject_id : self->device_id;
}

/**
 * orrery_event_set_device_id:
 * @self: a task event not yet published
 * @device_id: (nullable): the device the task runs or ran on
 *
 * Sets a task event's device (a device event's device is set by
 * orrery_event_new_device()).
 */
void
orrery_event_set_device_id (OrreryEvent *self,
                            const char  *device_id)
{
  gsize len;

  g_return_if_fail (self != NULL && IS_KIND (self, TASK));
  CHECK_UNSEALED (self);
  if (self->device_id != NULL && !is_inline_string (self, self->device_id))
    g_free (self->device_id);
  self->device_id = NULL;
  if (device_id == NULL)
    return;
  /* In the event's own block when there is room (the usual case). */
  len = strlen (device_id) + 1;
  if (len <= (gsize) (self->strings_size - self->strings_used))
    {
      self->device_id = memcpy (self->strings + self->strings_used, device_id, len);
      self->strings_used += (guint16) len;
    }
  else
    self->device_id = g_strdup (device_id);
}

/**
 * orrery_event_get_newly_ready:
 * @self: an event
 *
 * Returns: (transfer none) (nullable) (array zero-terminated=1): the ids of
 *   the tasks that became ready because of this event (task events), or
 *   that are ready at this point: at the start, or made ready by an edit
 *   (constellation events)
 */
const char * const *
orrery_event_get_newly_ready (OrreryEvent *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return (const char * const *) self->newly_ready;
}

/**
 * orrery_event_set_newly_ready:
 * @self: a task or constellation event not yet published
 * @task_ids: (nullable) (array zero-terminated=1): task ids; copied
 */
void
orrery_event_set_newly_ready (OrreryEvent        *self,
                              const char * const *task_ids)
{
  g_return_if_fail (self != NULL && (IS_KIND (self, TASK) || IS_KIND (self, CONSTELLATION)));
  CHECK_UNSEALED (self);
  g_strfreev (self->newly_ready);
  self->newly_ready = g_strdupv ((char **) task_ids);
}

/**
 * orrery_event_get_constellation:
 * @self: an event
 *
 * Returns: (transfer none) (nullable): the constellation the event is
 *   about (constellation events) or the task belongs to (task events)
 */
OrreryConstellation *
orrery_event_get_constellation (OrreryEvent *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->constellation;
}

/**
 * orrery_event_set_constellation:
 * @self: a task or constellation event not yet published
 * @constellation: (nullable): the constellation; a reference is taken
 */
void
orrery_event_set_constellation (OrreryEvent         *self,
                                OrreryConstellation *constellation)
{
  g_return_if_fail (self != NULL && (IS_KIND (self, TASK) || IS_KIND (self, CONSTELLATION)));
  CHECK_UNSEALED (self);
  g_set_object (&self->constellation, constellation);
}

/* ------------------------------------------------------------------------ */
/* Constellation events */

/**
 * orrery_event_get_constellation_id:
 * @self: an event
 *
 * Returns: (transfer none) (nullable): the constellation's id
 *   (constellation events), or %NULL for the other kinds
 */
const char *
orrery_event_get_constellation_id (OrreryEvent *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return IS_KIND (self, CONSTELLATION) ? self->subject_id : NULL;
}

/**
 * orrery_event_get_constellation_state:
 * @self: an event
 *
 * Returns: the constellation's state when the event was made
 *   (constellation events), or 0 (%ORRERY_CONSTELLATION_STATE_CREATED)
 *   for the other kinds
 */
OrreryConstellationState
orrery_event_get_constellation_state (OrreryEvent *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return IS_KIND (self, CONSTELLATION) ? (OrreryConstellationState) self->status : 0;
}

/**
 * orrery_event_get_statistics:
 * @self: an event
 *
 * Returns: (transfer none) (nullable): the run's statistics (an `a{sv}`
 *   dictionary; constellation events)
 */
GVariant *
orrery_event_get_statistics (OrreryEvent *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->statistics;
}

/**
 * orrery_event_set_statistics:
 * @self: a constellation event not yet published
 * @statistics: (nullable): an `a{sv}` dictionary; a floating reference is sunk
 */
void
orrery_event_set_statistics (OrreryEvent *self,
                             GVariant    *statistics)
{
  g_return_if_fail (self != NULL && IS_KIND (self, CONSTELLATION));
  CHECK_UNSEALED (self);
  replace_variant (&self->statistics, statistics);
}

/**
 * orrery_event_get_duration:
 * @self: an event
 *
 * Returns: the run's duration in seconds (terminal constellation events), or 0
 */
gdouble
orrery_event_get_duration (OrreryEvent *self)
{
  g_return_val_if_fail (self != NULL, 0.0);
  return self->duration;
}

/**
 * orrery_event_set_duration:
 * @self: a constellation event not yet published
 * @seconds: the run's duration
 */
void
orrery_event_set_duration (OrreryEvent *self,
                           gdouble      seconds)
{
  g_return_if_fail (self != NULL && IS_KIND (self, CONSTELLATION));
  CHECK_UNSEALED (self);
  self->duration = seconds;
}

/**
 * orrery_event_get_modifications:
 * @self: an event
 *
 * Returns: (transfer none) (nullable): the modifications of an applied edit
 *   batch (an `aa{sv}` array), for `constellation-modified`
 */
GVariant *
orrery_event_get_modifications (OrreryEvent *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->modifications;
}

/**
 * orrery_event_set_modifications:
 * @self: a constellation event not yet published
 * @modifications: (nullable): the modifications; a floating reference is sunk
 */
void
orrery_event_set_modifications (OrreryEvent *self,
                                GVariant    *modifications)
{
  g_return_if_fail (self != NULL && IS_KIND (self, CONSTELLATION));
  CHECK_UNSEALED (self);
  replace_variant (&self->modifications, modifications);
}

/**
 * orrery_event_get_on_task_ids:
 * @self: an event
 *
 * Returns: (transfer none) (nullable) (array zero-terminated=1): the ids of
 *   the tasks whose completion an edit answers (`constellation-modified`)
 */
const char * const *
orrery_event_get_on_task_ids (OrreryEvent *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return (const char * const *) self->on_task_ids;
}

/**
 * orrery_event_set_on_task_ids:
 * @self: a constellation event not yet published
 * @task_ids: (nullable) (array zero-terminated=1): task ids; copied
 */
void
orrery_event_set_on_task_ids (OrreryEvent        *self,
                              const char * const *task_ids)
{
  g_return_if_fail (self != NULL && IS_KIND (self, CONSTELLATION));
  CHECK_UNSEALED (self);
  g_strfreev (self->on_task_ids);
  self->on_task_ids = g_strdupv ((char **) task_ids);
}

/* ------------------------------------------------------------------------ */
/* Device events */

/**
 * orrery_event_get_device_status:
 * @self: an event
 *
 * Returns: the device's status (device events), or 0 for the other kinds
 */
OrreryDeviceStatus
orrery_event_get_device_status (OrreryEvent *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return IS_KIND (self, DEVICE) ? (OrreryDeviceStatus) self->status : 0;
}
