/* orrery-event.c: the events published on the bus.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "orrery-private.h"

typedef struct
{
  OrreryEventType type;
  gboolean        sealed;
  guint64         sequence;
  gint64          timestamp;
  char           *source_id;
  GVariant       *data;
} OrreryEventPrivate;

/**
 * OrreryEvent:
 *
 * The events published on the bus.
 *
 * Events are small GObjects: creating one sets a handful of fields and takes
 * the wall-clock time, nothing more. Once published an event is sealed: its
 * setters refuse to change it, so every observer sees the same values.
 */
G_DEFINE_TYPE_WITH_PRIVATE (OrreryEvent, orrery_event, G_TYPE_OBJECT)

#define CHECK_UNSEALED(ev) \
  g_return_if_fail (!orrery_event_is_published (ORRERY_EVENT (ev)))

static void
orrery_event_finalize (GObject *object)
{
  OrreryEventPrivate *priv = orrery_event_get_instance_private (ORRERY_EVENT (object));

  g_free (priv->source_id);
  g_clear_pointer (&priv->data, g_variant_unref);

  G_OBJECT_CLASS (orrery_event_parent_class)->finalize (object);
}

static void
orrery_event_class_init (OrreryEventClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = orrery_event_finalize;
}

static void
orrery_event_init (OrreryEvent *self)
{
}

static void
event_setup (OrreryEvent     *self,
             OrreryEventType  type,
             const char      *source_id,
             GVariant        *data)
{
  OrreryEventPrivate *priv = orrery_event_get_instance_private (self);

  priv->type = type;
  priv->timestamp = g_get_real_time ();
  priv->source_id = g_strdup (source_id);
  if (data != NULL)
    priv->data = g_variant_ref_sink (data);
}

/**
 * orrery_event_new:
 * @type: the event type
 * @source_id: (nullable): who publishes the event
 * @data: (nullable): free-form data, usually an `a{sv}` dictionary; a
 *   floating reference is sunk
 *
 * Creates a plain event. The task, constellation and device kinds have
 * their own constructors with their own fields.
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

  self = g_object_new (ORRERY_TYPE_EVENT, NULL);
  event_setup (self, type, source_id, data);
  return self;
}

OrreryEventType
_orrery_event_peek_type (OrreryEvent *event)
{
  return ((OrreryEventPrivate *) orrery_event_get_instance_private (event))->type;
}

void
_orrery_event_seal (OrreryEvent *event,
                    guint64      sequence)
{
  OrreryEventPrivate *priv = orrery_event_get_instance_private (event);

  priv->sealed = TRUE;
  priv->sequence = sequence;
}

void
_orrery_event_set_timestamp (OrreryEvent *event,
                             gint64       timestamp)
{
  OrreryEventPrivate *priv = orrery_event_get_instance_private (event);

  priv->timestamp = timestamp;
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
  g_return_val_if_fail (ORRERY_IS_EVENT (self), 0);
  return _orrery_event_peek_type (self);
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
  g_return_val_if_fail (ORRERY_IS_EVENT (self), NULL);
  return orrery_event_type_to_nick (_orrery_event_peek_type (self));
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
  OrreryEventPrivate *priv;

  g_return_val_if_fail (ORRERY_IS_EVENT (self), NULL);
  priv = orrery_event_get_instance_private (self);
  return priv->source_id;
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
  OrreryEventPrivate *priv;

  g_return_val_if_fail (ORRERY_IS_EVENT (self), 0);
  priv = orrery_event_get_instance_private (self);
  return priv->timestamp;
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
  OrreryEventPrivate *priv;

  g_return_val_if_fail (ORRERY_IS_EVENT (self), NULL);
  priv = orrery_event_get_instance_private (self);
  return priv->data;
}

/**
 * orrery_event_set_data:
 * @self: an event not yet published
 * @data: (nullable): free-form data; a floating reference is sunk
 *
 * Sets the event's free-form data. Published events cannot change.
 */
void
orrery_event_set_data (OrreryEvent *self,
                       GVariant    *data)
{
  OrreryEventPrivate *priv;

  g_return_if_fail (ORRERY_IS_EVENT (self));
  CHECK_UNSEALED (self);
  priv = orrery_event_get_instance_private (self);
  if (data != NULL)
    g_variant_ref_sink (data);
  g_clear_pointer (&priv->data, g_variant_unref);
  priv->data = data;
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
  OrreryEventPrivate *priv;

  g_return_val_if_fail (ORRERY_IS_EVENT (self), 0);
  priv = orrery_event_get_instance_private (self);
  return priv->sequence;
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
  OrreryEventPrivate *priv;

  g_return_val_if_fail (ORRERY_IS_EVENT (self), FALSE);
  priv = orrery_event_get_instance_private (self);
  return priv->sealed;
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
  OrreryEventPrivate *priv;
  GString *s;

  g_return_val_if_fail (ORRERY_IS_EVENT (self), NULL);
  priv = orrery_event_get_instance_private (self);
  s = g_string_new (NULL);
  g_string_append_printf (s, "#%" G_GUINT64_FORMAT " %s", priv->sequence,
                          orrery_event_type_to_nick (priv->type));
  if (ORRERY_IS_TASK_EVENT (self))
    g_string_append_printf (s, " task=%s",
                            orrery_task_event_get_task_id (ORRERY_TASK_EVENT (self)));
  else if (ORRERY_IS_CONSTELLATION_EVENT (self))
    g_string_append_printf (s, " constellation=%s",
                            orrery_constellation_event_get_constellation_id (ORRERY_CONSTELLATION_EVENT (self)));
  else if (ORRERY_IS_DEVICE_EVENT (self))
    g_string_append_printf (s, " device=%s",
                            orrery_device_event_get_device_id (ORRERY_DEVICE_EVENT (self)));
  if (priv->source_id != NULL)
    g_string_append_printf (s, " source=%s", priv->source_id);
  return g_string_free (s, FALSE);
}

/* ------------------------------------------------------------------------ */

struct _OrreryTaskEvent
{
  OrreryEvent       parent_instance;
  char             *task_id;
  OrreryTaskStatus  status;
  guint             attempt;
  GVariant         *result;
  GError           *error;
  GStrv             newly_ready;
  char             *device_id;
  OrreryConstellation *constellation;
};

/**
 * OrreryTaskEvent:
 *
 * An event about one task: started, completed, failed, retrying, skipped
 * or cancelled. It names the task, its status and attempt, the device that
 * ran it, and carries its result or error and the tasks that became ready.
 */
G_DEFINE_FINAL_TYPE (OrreryTaskEvent, orrery_task_event, ORRERY_TYPE_EVENT)

static void
orrery_task_event_finalize (GObject *object)
{
  OrreryTaskEvent *self = ORRERY_TASK_EVENT (object);

  g_free (self->task_id);
  g_clear_pointer (&self->result, g_variant_unref);
  g_clear_error (&self->error);
  g_strfreev (self->newly_ready);
  g_free (self->device_id);
  g_clear_object (&self->constellation);

  G_OBJECT_CLASS (orrery_task_event_parent_class)->finalize (object);
}

static void
orrery_task_event_class_init (OrreryTaskEventClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = orrery_task_event_finalize;
}

static void
orrery_task_event_init (OrreryTaskEvent *self)
{
}

static gboolean
is_task_event_type (OrreryEventType type)
{
  switch (type)
    {
    case ORRERY_EVENT_TASK_STARTED:
    case ORRERY_EVENT_TASK_COMPLETED:
    case ORRERY_EVENT_TASK_FAILED:
    case ORRERY_EVENT_TASK_RETRYING:
    case ORRERY_EVENT_TASK_SKIPPED:
    case ORRERY_EVENT_TASK_CANCELLED:
      return TRUE;
    default:
      return FALSE;
    }
}

/**
 * orrery_task_event_new:
 * @type: a task event type (`task-started`, `task-completed`, ...)
 * @source_id: (nullable): who publishes the event
 * @task_id: the task the event is about
 * @status: the task's status when the event was made
 *
 * Returns: (transfer full): a new task event
 */
OrreryTaskEvent *
orrery_task_event_new (OrreryEventType   type,
                       const char       *source_id,
                       const char       *task_id,
                       OrreryTaskStatus  status)
{
  OrreryTaskEvent *self;

  g_return_val_if_fail (is_task_event_type (type), NULL);
  g_return_val_if_fail (task_id != NULL, NULL);

  self = g_object_new (ORRERY_TYPE_TASK_EVENT, NULL);
  event_setup (ORRERY_EVENT (self), type, source_id, NULL);
  self->task_id = g_strdup (task_id);
  self->status = status;
  return self;
}

/**
 * orrery_task_event_get_task_id:
 * @self: a task event
 *
 * Returns: (transfer none): the task's id
 */
const char *
orrery_task_event_get_task_id (OrreryTaskEvent *self)
{
  g_return_val_if_fail (ORRERY_IS_TASK_EVENT (self), NULL);
  return self->task_id;
}

/**
 * orrery_task_event_get_status:
 * @self: a task event
 *
 * Returns: the task's status when the event was made
 */
OrreryTaskStatus
orrery_task_event_get_status (OrreryTaskEvent *self)
{
  g_return_val_if_fail (ORRERY_IS_TASK_EVENT (self), 0);
  return self->status;
}

/**
 * orrery_task_event_get_result:
 * @self: a task event
 *
 * Returns: (transfer none) (nullable): the task's result
 */
GVariant *
orrery_task_event_get_result (OrreryTaskEvent *self)
{
  g_return_val_if_fail (ORRERY_IS_TASK_EVENT (self), NULL);
  return self->result;
}

/**
 * orrery_task_event_set_result:
 * @self: a task event not yet published
 * @result: (nullable): the task's result; a floating reference is sunk
 */
void
orrery_task_event_set_result (OrreryTaskEvent *self,
                              GVariant        *result)
{
  g_return_if_fail (ORRERY_IS_TASK_EVENT (self));
  CHECK_UNSEALED (self);
  if (result != NULL)
    g_variant_ref_sink (result);
  g_clear_pointer (&self->result, g_variant_unref);
  self->result = result;
}

/**
 * orrery_task_event_get_error:
 * @self: a task event
 *
 * Returns: (transfer none) (nullable): why the task failed
 */
const GError *
orrery_task_event_get_error (OrreryTaskEvent *self)
{
  g_return_val_if_fail (ORRERY_IS_TASK_EVENT (self), NULL);
  return self->error;
}

/**
 * orrery_task_event_set_error:
 * @self: a task event not yet published
 * @error: (nullable): why the task failed; copied
 */
void
orrery_task_event_set_error (OrreryTaskEvent *self,
                             const GError    *error)
{
  g_return_if_fail (ORRERY_IS_TASK_EVENT (self));
  CHECK_UNSEALED (self);
  g_clear_error (&self->error);
  if (error != NULL)
    self->error = g_error_copy (error);
}

/**
 * orrery_task_event_get_newly_ready:
 * @self: a task event
 *
 * Returns: (transfer none) (nullable) (array zero-terminated=1): the ids of
 *   the tasks that became ready because of this event
 */
const char * const *
orrery_task_event_get_newly_ready (OrreryTaskEvent *self)
{
  g_return_val_if_fail (ORRERY_IS_TASK_EVENT (self), NULL);
  return (const char * const *) self->newly_ready;
}

/**
 * orrery_task_event_set_newly_ready:
 * @self: a task event not yet published
 * @task_ids: (nullable) (array zero-terminated=1): task ids; copied
 */
void
orrery_task_event_set_newly_ready (OrreryTaskEvent    *self,
                                   const char * const *task_ids)
{
  g_return_if_fail (ORRERY_IS_TASK_EVENT (self));
  CHECK_UNSEALED (self);
  g_strfreev (self->newly_ready);
  self->newly_ready = g_strdupv ((char **) task_ids);
}

/**
 * orrery_task_event_get_attempt:
 * @self: a task event
 *
 * Returns: the attempt number, counting from 1 (0 if not set)
 */
guint
orrery_task_event_get_attempt (OrreryTaskEvent *self)
{
  g_return_val_if_fail (ORRERY_IS_TASK_EVENT (self), 0);
  return self->attempt;
}

/**
 * orrery_task_event_set_attempt:
 * @self: a task event not yet published
 * @attempt: the attempt number, counting from 1
 */
void
orrery_task_event_set_attempt (OrreryTaskEvent *self,
                               guint            attempt)
{
  g_return_if_fail (ORRERY_IS_TASK_EVENT (self));
  CHECK_UNSEALED (self);
  self->attempt = attempt;
}

/**
 * orrery_task_event_get_device_id:
 * @self: a task event
 *
 * Returns: (transfer none) (nullable): the device the task runs or ran on
 */
const char *
orrery_task_event_get_device_id (OrreryTaskEvent *self)
{
  g_return_val_if_fail (ORRERY_IS_TASK_EVENT (self), NULL);
  return self->device_id;
}

/**
 * orrery_task_event_set_device_id:
 * @self: a task event not yet published
 * @device_id: (nullable): the device the task runs or ran on
 */
void
orrery_task_event_set_device_id (OrreryTaskEvent *self,
                                 const char      *device_id)
{
  g_return_if_fail (ORRERY_IS_TASK_EVENT (self));
  CHECK_UNSEALED (self);
  g_free (self->device_id);
  self->device_id = g_strdup (device_id);
}

/**
 * orrery_task_event_get_constellation:
 * @self: a task event
 *
 * Returns: (transfer none) (nullable): the constellation the task belongs to
 */
OrreryConstellation *
orrery_task_event_get_constellation (OrreryTaskEvent *self)
{
  g_return_val_if_fail (ORRERY_IS_TASK_EVENT (self), NULL);
  return self->constellation;
}

/**
 * orrery_task_event_set_constellation:
 * @self: a task event not yet published
 * @constellation: (nullable): the constellation the task belongs to
 */
void
orrery_task_event_set_constellation (OrreryTaskEvent     *self,
                                     OrreryConstellation *constellation)
{
  g_return_if_fail (ORRERY_IS_TASK_EVENT (self));
  CHECK_UNSEALED (self);
  g_set_object (&self->constellation, constellation);
}

/* ------------------------------------------------------------------------ */

struct _OrreryConstellationEvent
{
  OrreryEvent               parent_instance;
  char                     *constellation_id;
  OrreryConstellationState  state;
  GStrv                     newly_ready;
  GVariant                 *statistics;
  gdouble                   duration;
  GVariant                 *modifications;
  GStrv                     on_task_ids;
  OrreryConstellation      *constellation;
};

/**
 * OrreryConstellationEvent:
 *
 * An event about a whole run: started, modified (an edit applied, with
 * the edits and the tasks they answer), completed, failed or cancelled. It
 * names the constellation and its state, and carries the run's statistics
 * and duration once it ended.
 */
G_DEFINE_FINAL_TYPE (OrreryConstellationEvent, orrery_constellation_event, ORRERY_TYPE_EVENT)

static void
orrery_constellation_event_finalize (GObject *object)
{
  OrreryConstellationEvent *self = ORRERY_CONSTELLATION_EVENT (object);

  g_free (self->constellation_id);
  g_strfreev (self->newly_ready);
  g_clear_pointer (&self->statistics, g_variant_unref);
  g_clear_pointer (&self->modifications, g_variant_unref);
  g_strfreev (self->on_task_ids);
  g_clear_object (&self->constellation);

  G_OBJECT_CLASS (orrery_constellation_event_parent_class)->finalize (object);
}

static void
orrery_constellation_event_class_init (OrreryConstellationEventClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = orrery_constellation_event_finalize;
}

static void
orrery_constellation_event_init (OrreryConstellationEvent *self)
{
}

static gboolean
is_constellation_event_type (OrreryEventType type)
{
  switch (type)
    {
    case ORRERY_EVENT_CONSTELLATION_STARTED:
    case ORRERY_EVENT_CONSTELLATION_COMPLETED:
    case ORRERY_EVENT_CONSTELLATION_MODIFIED:
    case ORRERY_EVENT_CONSTELLATION_FAILED:
    case ORRERY_EVENT_CONSTELLATION_CANCELLED:
      return TRUE;
    default:
      return FALSE;
    }
}

/**
 * orrery_constellation_event_new:
 * @type: a constellation event type (`constellation-started`, ...)
 * @source_id: (nullable): who publishes the event
 * @constellation_id: the constellation the event is about
 * @state: the constellation's state when the event was made
 *
 * Returns: (transfer full): a new constellation event
 */
OrreryConstellationEvent *
orrery_constellation_event_new (OrreryEventType           type,
                                const char               *source_id,
                                const char               *constellation_id,
                                OrreryConstellationState  state)
{
  OrreryConstellationEvent *self;

  g_return_val_if_fail (is_constellation_event_type (type), NULL);
  g_return_val_if_fail (constellation_id != NULL, NULL);

  self = g_object_new (ORRERY_TYPE_CONSTELLATION_EVENT, NULL);
  event_setup (ORRERY_EVENT (self), type, source_id, NULL);
  self->constellation_id = g_strdup (constellation_id);
  self->state = state;
  return self;
}

/**
 * orrery_constellation_event_get_constellation_id:
 * @self: a constellation event
 *
 * Returns: (transfer none): the constellation's id
 */
const char *
orrery_constellation_event_get_constellation_id (OrreryConstellationEvent *self)
{
  g_return_val_if_fail (ORRERY_IS_CONSTELLATION_EVENT (self), NULL);
  return self->constellation_id;
}

/**
 * orrery_constellation_event_get_state:
 * @self: a constellation event
 *
 * Returns: the constellation's state when the event was made
 */
OrreryConstellationState
orrery_constellation_event_get_state (OrreryConstellationEvent *self)
{
  g_return_val_if_fail (ORRERY_IS_CONSTELLATION_EVENT (self), 0);
  return self->state;
}

/**
 * orrery_constellation_event_get_newly_ready:
 * @self: a constellation event
 *
 * Returns: (transfer none) (nullable) (array zero-terminated=1): the ids of
 *   the tasks ready at this point (at the start, or made ready by an edit)
 */
const char * const *
orrery_constellation_event_get_newly_ready (OrreryConstellationEvent *self)
{
  g_return_val_if_fail (ORRERY_IS_CONSTELLATION_EVENT (self), NULL);
  return (const char * const *) self->newly_ready;
}

/**
 * orrery_constellation_event_set_newly_ready:
 * @self: a constellation event not yet published
 * @task_ids: (nullable) (array zero-terminated=1): task ids; copied
 */
void
orrery_constellation_event_set_newly_ready (OrreryConstellationEvent *self,
                                            const char * const       *task_ids)
{
  g_return_if_fail (ORRERY_IS_CONSTELLATION_EVENT (self));
  CHECK_UNSEALED (self);
  g_strfreev (self->newly_ready);
  self->newly_ready = g_strdupv ((char **) task_ids);
}

/**
 * orrery_constellation_event_get_statistics:
 * @self: a constellation event
 *
 * Returns: (transfer none) (nullable): the statistics (an `a{sv}` dictionary)
 */
GVariant *
orrery_constellation_event_get_statistics (OrreryConstellationEvent *self)
{
  g_return_val_if_fail (ORRERY_IS_CONSTELLATION_EVENT (self), NULL);
  return self->statistics;
}

/**
 * orrery_constellation_event_set_statistics:
 * @self: a constellation event not yet published
 * @statistics: (nullable): an `a{sv}` dictionary; a floating reference is sunk
 */
void
orrery_constellation_event_set_statistics (OrreryConstellationEvent *self,
                                           GVariant                 *statistics)
{
  g_return_if_fail (ORRERY_IS_CONSTELLATION_EVENT (self));
  CHECK_UNSEALED (self);
  if (statistics != NULL)
    g_variant_ref_sink (statistics);
  g_clear_pointer (&self->statistics, g_variant_unref);
  self->statistics = statistics;
}

/**
 * orrery_constellation_event_get_duration:
 * @self: a constellation event
 *
 * Returns: the run's duration in seconds (terminal events), or 0
 */
gdouble
orrery_constellation_event_get_duration (OrreryConstellationEvent *self)
{
  g_return_val_if_fail (ORRERY_IS_CONSTELLATION_EVENT (self), 0.0);
  return self->duration;
}

/**
 * orrery_constellation_event_set_duration:
 * @self: a constellation event not yet published
 * @seconds: the run's duration
 */
void
orrery_constellation_event_set_duration (OrreryConstellationEvent *self,
                                         gdouble                   seconds)
{
  g_return_if_fail (ORRERY_IS_CONSTELLATION_EVENT (self));
  CHECK_UNSEALED (self);
  self->duration = seconds;
}

/**
 * orrery_constellation_event_get_modifications:
 * @self: a constellation event
 *
 * Returns: (transfer none) (nullable): the modifications of an applied edit
 *   batch (an `aa{sv}` array), for `constellation-modified`
 */
GVariant *
orrery_constellation_event_get_modifications (OrreryConstellationEvent *self)
{
  g_return_val_if_fail (ORRERY_IS_CONSTELLATION_EVENT (self), NULL);
  return self->modifications;
}

/**
 * orrery_constellation_event_set_modifications:
 * @self: a constellation event not yet published
 * @modifications: (nullable): the modifications; a floating reference is sunk
 */
void
orrery_constellation_event_set_modifications (OrreryConstellationEvent *self,
                                              GVariant                 *modifications)
{
  g_return_if_fail (ORRERY_IS_CONSTELLATION_EVENT (self));
  CHECK_UNSEALED (self);
  if (modifications != NULL)
    g_variant_ref_sink (modifications);
  g_clear_pointer (&self->modifications, g_variant_unref);
  self->modifications = modifications;
}

/**
 * orrery_constellation_event_get_on_task_ids:
 * @self: a constellation event
 *
 * Returns: (transfer none) (nullable) (array zero-terminated=1): the ids of
 *   the tasks whose completion an edit answers
 */
const char * const *
orrery_constellation_event_get_on_task_ids (OrreryConstellationEvent *self)
{
  g_return_val_if_fail (ORRERY_IS_CONSTELLATION_EVENT (self), NULL);
  return (const char * const *) self->on_task_ids;
}

/**
 * orrery_constellation_event_set_on_task_ids:
 * @self: a constellation event not yet published
 * @task_ids: (nullable) (array zero-terminated=1): task ids; copied
 */
void
orrery_constellation_event_set_on_task_ids (OrreryConstellationEvent *self,
                                            const char * const       *task_ids)
{
  g_return_if_fail (ORRERY_IS_CONSTELLATION_EVENT (self));
  CHECK_UNSEALED (self);
  g_strfreev (self->on_task_ids);
  self->on_task_ids = g_strdupv ((char **) task_ids);
}

/**
 * orrery_constellation_event_get_constellation:
 * @self: a constellation event
 *
 * Returns: (transfer none) (nullable): the constellation
 */
OrreryConstellation *
orrery_constellation_event_get_constellation (OrreryConstellationEvent *self)
{
  g_return_val_if_fail (ORRERY_IS_CONSTELLATION_EVENT (self), NULL);
  return self->constellation;
}

/**
 * orrery_constellation_event_set_constellation:
 * @self: a constellation event not yet published
 * @constellation: (nullable): the constellation
 */
void
orrery_constellation_event_set_constellation (OrreryConstellationEvent *self,
                                              OrreryConstellation      *constellation)
{
  g_return_if_fail (ORRERY_IS_CONSTELLATION_EVENT (self));
  CHECK_UNSEALED (self);
  g_set_object (&self->constellation, constellation);
}

/* ------------------------------------------------------------------------ */

struct _OrreryDeviceEvent
{
  OrreryEvent         parent_instance;
  char               *device_id;
  OrreryDeviceStatus  status;
};

/**
 * OrreryDeviceEvent:
 *
 * An event about a device: added, removed, or a change of its status.
 */
G_DEFINE_FINAL_TYPE (OrreryDeviceEvent, orrery_device_event, ORRERY_TYPE_EVENT)

static void
orrery_device_event_finalize (GObject *object)
{
  g_free (ORRERY_DEVICE_EVENT (object)->device_id);
  G_OBJECT_CLASS (orrery_device_event_parent_class)->finalize (object);
}

static void
orrery_device_event_class_init (OrreryDeviceEventClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = orrery_device_event_finalize;
}

static void
orrery_device_event_init (OrreryDeviceEvent *self)
{
}

/**
 * orrery_device_event_new:
 * @type: a device event type (`device-added`, ...)
 * @source_id: (nullable): who publishes the event
 * @device_id: the device the event is about
 * @status: the device's status
 *
 * Returns: (transfer full): a new device event
 */
OrreryDeviceEvent *
orrery_device_event_new (OrreryEventType     type,
                         const char         *source_id,
                         const char         *device_id,
                         OrreryDeviceStatus  status)
{
  OrreryDeviceEvent *self;

  g_return_val_if_fail (type == ORRERY_EVENT_DEVICE_ADDED ||
                        type == ORRERY_EVENT_DEVICE_REMOVED ||
                        type == ORRERY_EVENT_DEVICE_STATUS_CHANGED, NULL);
  g_return_val_if_fail (device_id != NULL, NULL);

  self = g_object_new (ORRERY_TYPE_DEVICE_EVENT, NULL);
  event_setup (ORRERY_EVENT (self), type, source_id, NULL);
  self->device_id = g_strdup (device_id);
  self->status = status;
  return self;
}

/**
 * orrery_device_event_get_device_id:
 * @self: a device event
 *
 * Returns: (transfer none): the device's id
 */
const char *
orrery_device_event_get_device_id (OrreryDeviceEvent *self)
{
  g_return_val_if_fail (ORRERY_IS_DEVICE_EVENT (self), NULL);
  return self->device_id;
}

/**
 * orrery_device_event_get_status:
 * @self: a device event
 *
 * Returns: the device's status
 */
OrreryDeviceStatus
orrery_device_event_get_status (OrreryDeviceEvent *self)
{
  g_return_val_if_fail (ORRERY_IS_DEVICE_EVENT (self), 0);
  return self->status;
}
