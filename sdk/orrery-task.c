/* orrery-task.c: one task (a "TaskStar") of a constellation.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-Constellation"

#include "orrery-constellation-private.h"

/**
 * OrreryTask:
 *
 * One task (a "TaskStar") of a constellation.
 *
 * A task is two things. Its description is the caller's to edit, with
 * setters that notify: id, name, description, tips, target device and
 * device type, task data, priority, retries, timeout, and the unknown
 * members a file carried (extras). Its run state (status, attempt, start
 * and end times, result, error, and its place in the graph) belongs to
 * the constellation it is in, which changes it without notification: a run
 * of a million tasks must not pay for a million property notifications.
 * The getters read both; #OrreryTask:status is read-only, and changes
 * through orrery_constellation_mark_task_started() and its siblings. Watch
 * the bus (or the constellation) for state changes. (The setters of the
 * attempt, result, error and times are for a task outside a constellation,
 * such as the copy a remote worker runs.)
 */
G_DEFINE_FINAL_TYPE (OrreryTask, orrery_task, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ID,
  PROP_NAME,
  PROP_DESCRIPTION,
  PROP_TIPS,
  PROP_TARGET_DEVICE_ID,
  PROP_DEVICE_TYPE,
  PROP_PRIORITY,
  PROP_STATUS,
  PROP_TIMEOUT,
  PROP_RETRY_COUNT,
  PROP_ATTEMPT,
  PROP_TASK_DATA,
  PROP_RESULT,
  PROP_CREATED_AT,
  PROP_STARTED_AT,
  PROP_ENDED_AT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
orrery_task_finalize (GObject *object)
{
  OrreryTask *self = ORRERY_TASK (object);

  /* The constellation has released the edges before letting go. */
  g_assert (self->state.n_in == 0 && self->state.n_out == 0);
  g_free (self->state.in);
  g_free (self->state.out);
  g_free (self->id);
  g_free (self->name);
  g_free (self->description);
  _orrery_unintern (self->target_device_id);
  _orrery_unintern (self->device_type);
  g_strfreev (self->tips);
  g_clear_pointer (&self->task_data, g_variant_unref);
  g_clear_pointer (&self->state.result, g_variant_unref);
  g_clear_error (&self->state.error);
  g_clear_pointer (&self->extra, json_object_unref);

  G_OBJECT_CLASS (orrery_task_parent_class)->finalize (object);
}

/* Set while _orrery_task_new_fast() makes a task whose id it gives after. */
static GPrivate making_with_id;

static void
orrery_task_constructed (GObject *object)
{
  OrreryTask *self = ORRERY_TASK (object);

  G_OBJECT_CLASS (orrery_task_parent_class)->constructed (object);
  if (self->id == NULL && g_private_get (&making_with_id) == NULL)
    self->id = g_uuid_string_random ();
}

static void
orrery_task_get_property (GObject    *object,
                          guint       prop_id,
                          GValue     *value,
                          GParamSpec *pspec)
{
  OrreryTask *self = ORRERY_TASK (object);

  switch (prop_id)
    {
    case PROP_ID: g_value_set_string (value, self->id); break;
    case PROP_NAME: g_value_set_string (value, orrery_task_get_name (self)); break;
    case PROP_DESCRIPTION: g_value_set_string (value, self->description); break;
    case PROP_TIPS: g_value_set_boxed (value, self->tips); break;
    case PROP_TARGET_DEVICE_ID: g_value_set_string (value, self->target_device_id); break;
    case PROP_DEVICE_TYPE: g_value_set_string (value, self->device_type); break;
    case PROP_PRIORITY: g_value_set_enum (value, self->priority); break;
    case PROP_STATUS: g_value_set_enum (value, self->state.status); break;
    case PROP_TIMEOUT: g_value_set_double (value, self->timeout); break;
    case PROP_RETRY_COUNT: g_value_set_uint (value, self->retry_count); break;
    case PROP_ATTEMPT: g_value_set_uint (value, self->state.attempt); break;
    case PROP_TASK_DATA: g_value_set_variant (value, self->task_data); break;
    case PROP_RESULT: g_value_set_variant (value, self->state.result); break;
    case PROP_CREATED_AT: g_value_set_int64 (value, self->created_at); break;
    case PROP_STARTED_AT: g_value_set_int64 (value, self->state.started_at); break;
    case PROP_ENDED_AT: g_value_set_int64 (value, self->state.ended_at); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
orrery_task_set_property (GObject      *object,
                          guint         prop_id,
                          const GValue *value,
                          GParamSpec   *pspec)
{
  OrreryTask *self = ORRERY_TASK (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_free (self->id);
      self->id = g_value_dup_string (value);
      break;
    case PROP_NAME: orrery_task_set_name (self, g_value_get_string (value)); break;
    case PROP_DESCRIPTION: orrery_task_set_description (self, g_value_get_string (value)); break;
    case PROP_TIPS: orrery_task_set_tips (self, g_value_get_boxed (value)); break;
    case PROP_TARGET_DEVICE_ID: orrery_task_set_target_device_id (self, g_value_get_string (value)); break;
    case PROP_DEVICE_TYPE: orrery_task_set_device_type (self, g_value_get_string (value)); break;
    case PROP_PRIORITY: orrery_task_set_priority (self, g_value_get_enum (value)); break;
    case PROP_TIMEOUT: orrery_task_set_timeout (self, g_value_get_double (value)); break;
    case PROP_RETRY_COUNT: orrery_task_set_retry_count (self, g_value_get_uint (value)); break;
    case PROP_ATTEMPT: orrery_task_set_attempt (self, g_value_get_uint (value)); break;
    case PROP_TASK_DATA: orrery_task_set_task_data (self, g_value_get_variant (value)); break;
    case PROP_RESULT: orrery_task_set_result (self, g_value_get_variant (value)); break;
    case PROP_CREATED_AT: orrery_task_set_created_at (self, g_value_get_int64 (value)); break;
    case PROP_STARTED_AT: orrery_task_set_started_at (self, g_value_get_int64 (value)); break;
    case PROP_ENDED_AT: orrery_task_set_ended_at (self, g_value_get_int64 (value)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
orrery_task_class_init (OrreryTaskClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->finalize = orrery_task_finalize;
  object_class->constructed = orrery_task_constructed;
  object_class->get_property = orrery_task_get_property;
  object_class->set_property = orrery_task_set_property;

  /**
   * OrreryTask:id:
   *
   * The task's unique id in its constellation (UFO's `task_id`). A random
   * UUID when none is given.
   */
  properties[PROP_ID] = g_param_spec_string ("id", NULL, NULL, NULL,
                                             G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                                             G_PARAM_STATIC_STRINGS);
  /**
   * OrreryTask:name:
   *
   * A short name; the id when unset.
   */
  properties[PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL, rw);
  /**
   * OrreryTask:description:
   *
   * What the task does, in natural language.
   */
  properties[PROP_DESCRIPTION] = g_param_spec_string ("description", NULL, NULL, NULL, rw);
  /**
   * OrreryTask:tips:
   *
   * Hints for whoever carries out the task.
   */
  properties[PROP_TIPS] = g_param_spec_boxed ("tips", NULL, NULL, G_TYPE_STRV, rw);
  /**
   * OrreryTask:target-device-id:
   *
   * The device that should run the task, if any.
   */
  properties[PROP_TARGET_DEVICE_ID] = g_param_spec_string ("target-device-id", NULL, NULL, NULL, rw);
  /**
   * OrreryTask:device-type:
   *
   * The kind of device the task needs (`local`, `simulated`, `linux`, ...).
   */
  properties[PROP_DEVICE_TYPE] = g_param_spec_string ("device-type", NULL, NULL, NULL, rw);
  /**
   * OrreryTask:priority:
   *
   * How urgent the task is.
   */
  properties[PROP_PRIORITY] = g_param_spec_enum ("priority", NULL, NULL, ORRERY_TYPE_TASK_PRIORITY,
                                                 ORRERY_TASK_PRIORITY_MEDIUM, rw);
  /**
   * OrreryTask:status:
   *
   * Where the task is in its life cycle: read-only. It is run state, which
   * the constellation owns: it changes through
   * orrery_constellation_mark_task_started() and its siblings (and a
   * loaded file), without notification.
   */
  properties[PROP_STATUS] = g_param_spec_enum ("status", NULL, NULL, ORRERY_TYPE_TASK_STATUS,
                                               ORRERY_TASK_STATUS_PENDING,
                                               G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * OrreryTask:timeout:
   *
   * The longest a run may take, in seconds; 0 for no limit.
   */
  properties[PROP_TIMEOUT] = g_param_spec_double ("timeout", NULL, NULL, 0, G_MAXDOUBLE, 0, rw);
  /**
   * OrreryTask:retry-count:
   *
   * How many times a failed run may be retried.
   */
  properties[PROP_RETRY_COUNT] = g_param_spec_uint ("retry-count", NULL, NULL, 0, G_MAXUINT, 0, rw);
  /**
   * OrreryTask:attempt:
   *
   * How many retries have been made so far (UFO's `current_retry`).
   */
  properties[PROP_ATTEMPT] = g_param_spec_uint ("attempt", NULL, NULL, 0, G_MAXUINT, 0, rw);
  /**
   * OrreryTask:task-data:
   *
   * The device-specific payload, an `a{sv}` dictionary (for a local device,
   * `command` as a string or an array of strings).
   */
  properties[PROP_TASK_DATA] = g_param_spec_variant ("task-data", NULL, NULL, G_VARIANT_TYPE_VARDICT,
                                                     NULL, rw);
  /**
   * OrreryTask:result:
   *
   * What the task produced, usually an `a{sv}` dictionary.
   */
  properties[PROP_RESULT] = g_param_spec_variant ("result", NULL, NULL, G_VARIANT_TYPE_ANY, NULL, rw);
  /**
   * OrreryTask:created-at:
   *
   * When the task was created, in microseconds since the epoch.
   */
  properties[PROP_CREATED_AT] = g_param_spec_int64 ("created-at", NULL, NULL, 0, G_MAXINT64, 0, rw);
  /**
   * OrreryTask:started-at:
   *
   * When the task started, in microseconds since the epoch; 0 if it has not.
   */
  properties[PROP_STARTED_AT] = g_param_spec_int64 ("started-at", NULL, NULL, 0, G_MAXINT64, 0, rw);
  /**
   * OrreryTask:ended-at:
   *
   * When the task ended, in microseconds since the epoch; 0 if it has not.
   */
  properties[PROP_ENDED_AT] = g_param_spec_int64 ("ended-at", NULL, NULL, 0, G_MAXINT64, 0, rw);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
orrery_task_init (OrreryTask *self)
{
  self->priority = ORRERY_TASK_PRIORITY_MEDIUM;
  self->state.status = ORRERY_TASK_STATUS_PENDING;
  self->created_at = g_get_real_time ();
}

OrreryTask *
_orrery_task_new_fast (const char *id)
{
  OrreryTask *self;

  /* No random id to throw away (a UUID is formatted with printf: 17 % of
   * a load), and no property set (a GValue and a lookup by name). */
  g_private_set (&making_with_id, GINT_TO_POINTER (1));
  self = g_object_new (ORRERY_TYPE_TASK, NULL);
  g_private_set (&making_with_id, NULL);
  self->id = g_strdup (id);
  return self;
}

/**
 * orrery_task_new:
 * @id: (nullable): the task's id; a random UUID when %NULL
 * @name: (nullable): a short name
 *
 * Creates a pending task of medium priority.
 *
 * Returns: (transfer full): a new task
 */
OrreryTask *
orrery_task_new (const char *id,
                 const char *name)
{
  OrreryTask *self = id ? _orrery_task_new_fast (id) : g_object_new (ORRERY_TYPE_TASK, NULL);

  self->name = g_strdup (name);
  return self;
}

/* Setters change a field and notify only when the value changes. */

static void
notify (OrreryTask *self,
        guint       prop)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

static gboolean
set_string (char       **field,
            const char  *value)
{
  if (g_strcmp0 (*field, value) == 0)
    return FALSE;
  g_free (*field);
  *field = g_strdup (value);
  return TRUE;
}

/* Device ids and types: one string for every task that names it, freed
 * with the last of them (GRefString's interning; g_intern_string() would
 * keep every name any file ever held for the life of the process). */
const char *
_orrery_intern (const char *text)
{
  return text && *text ? g_ref_string_new_intern (text) : NULL;
}

void
_orrery_unintern (const char *interned)
{
  if (interned)
    g_ref_string_release ((char *) interned);
}

static gboolean
set_interned (const char **field,
              const char  *value)
{
  const char *interned = _orrery_intern (value);

  if (interned == *field)
    {
      _orrery_unintern (interned);
      return FALSE;
    }
  _orrery_unintern (*field);
  *field = interned;
  return TRUE;
}

/**
 * orrery_task_get_id:
 * @self: a task
 *
 * Returns: (transfer none): the task's id
 */
const char *
orrery_task_get_id (OrreryTask *self)
{
  g_return_val_if_fail (ORRERY_IS_TASK (self), NULL);
  return self->id;
}

/**
 * orrery_task_get_name:
 * @self: a task
 *
 * Returns: (transfer none): the task's name, or its id when it has none
 */
const char *
orrery_task_get_name (OrreryTask *self)
{
  g_return_val_if_fail (ORRERY_IS_TASK (self), NULL);
  return self->name ? self->name : self->id;
}

/**
 * orrery_task_set_name:
 * @self: a task
 * @name: (nullable): the new name
 *
 * Sets the task's name.
 */
void
orrery_task_set_name (OrreryTask *self,
                      const char *name)
{
  g_return_if_fail (ORRERY_IS_TASK (self));
  if (set_string (&self->name, name))
    notify (self, PROP_NAME);
}

/**
 * orrery_task_get_description:
 * @self: a task
 *
 * Returns: (transfer none) (nullable): the task's description
 */
const char *
orrery_task_get_description (OrreryTask *self)
{
  g_return_val_if_fail (ORRERY_IS_TASK (self), NULL);
  return self->description;
}

/**
 * orrery_task_set_description:
 * @self: a task
 * @description: (nullable): the new description
 *
 * Sets the task's description.
 */
void
orrery_task_set_description (OrreryTask *self,
                             const char *description)
{
  g_return_if_fail (ORRERY_IS_TASK (self));
  if (set_string (&self->description, description))
    notify (self, PROP_DESCRIPTION);
}

/**
 * orrery_task_get_tips:
 * @self: a task
 *
 * Returns: (transfer none) (nullable) (array zero-terminated=1): the task's tips
 */
const char * const *
orrery_task_get_tips (OrreryTask *self)
{
  g_return_val_if_fail (ORRERY_IS_TASK (self), NULL);
  return (const char * const *) self->tips;
}

/**
 * orrery_task_set_tips:
 * @self: a task
 * @tips: (nullable) (array zero-terminated=1): the new tips
 *
 * Sets the task's tips.
 */
void
orrery_task_set_tips (OrreryTask         *self,
                      const char * const *tips)
{
  g_return_if_fail (ORRERY_IS_TASK (self));
  if (tips == NULL && self->tips == NULL)
    return;
  if (tips != NULL && self->tips != NULL &&
      g_strv_equal ((const char * const *) self->tips, tips))
    return;
  g_strfreev (self->tips);
  self->tips = g_strdupv ((char **) tips);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TIPS]);
}

/**
 * orrery_task_get_target_device_id:
 * @self: a task
 *
 * Returns: (transfer none) (nullable): the id of the device that should run the task
 */
const char *
orrery_task_get_target_device_id (OrreryTask *self)
{
  g_return_val_if_fail (ORRERY_IS_TASK (self), NULL);
  return self->target_device_id;
}

/**
 * orrery_task_set_target_device_id:
 * @self: a task
 * @device_id: (nullable): a device id
 *
 * Sets the device that should run the task.
 */
void
orrery_task_set_target_device_id (OrreryTask *self,
                                  const char *device_id)
{
  g_return_if_fail (ORRERY_IS_TASK (self));
  if (!set_interned (&self->target_device_id, device_id))
    return;
  notify (self, PROP_TARGET_DEVICE_ID);
  if (self->state.owner != NULL)
    _orrery_constellation_requirements_changed (self->state.owner, self);
}

/**
 * orrery_task_get_device_type:
 * @self: a task
 *
 * Returns: (transfer none) (nullable): the kind of device the task needs
 */
const char *
orrery_task_get_device_type (OrreryTask *self)
{
  g_return_val_if_fail (ORRERY_IS_TASK (self), NULL);
  return self->device_type;
}

/**
 * orrery_task_set_device_type:
 * @self: a task
 * @device_type: (nullable): a device type
 *
 * Sets the kind of device the task needs.
 */
void
orrery_task_set_device_type (OrreryTask *self,
                             const char *device_type)
{
  g_return_if_fail (ORRERY_IS_TASK (self));
  if (!set_interned (&self->device_type, device_type))
    return;
  notify (self, PROP_DEVICE_TYPE);
  if (self->state.owner != NULL)
    _orrery_constellation_requirements_changed (self->state.owner, self);
}

/**
 * orrery_task_get_priority:
 * @self: a task
 *
 * Returns: the task's priority
 */
OrreryTaskPriority
orrery_task_get_priority (OrreryTask *self)
{
  g_return_val_if_fail (ORRERY_IS_TASK (self), ORRERY_TASK_PRIORITY_MEDIUM);
  return self->priority;
}

/**
 * orrery_task_set_priority:
 * @self: a task
 * @priority: the new priority
 *
 * Sets the task's priority. A ready task in a constellation moves to its
 * new place among the ready tasks.
 */
void
orrery_task_set_priority (OrreryTask         *self,
                          OrreryTaskPriority  priority)
{
  g_return_if_fail (ORRERY_IS_TASK (self));
  g_return_if_fail (priority >= ORRERY_TASK_PRIORITY_LOW && priority <= ORRERY_TASK_PRIORITY_CRITICAL);
  if (self->priority == priority)
    return;
  if (self->state.owner != NULL)
    _orrery_constellation_priority_changing (self->state.owner, self, priority);
  else
    self->priority = priority;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PRIORITY]);
}

/**
 * orrery_task_get_status:
 * @self: a task
 *
 * Returns: the task's status
 */
OrreryTaskStatus
orrery_task_get_status (OrreryTask *self)
{
  g_return_val_if_fail (ORRERY_IS_TASK (self), ORRERY_TASK_STATUS_PENDING);
  return self->state.status;
}

/**
 * orrery_task_get_timeout:
 * @self: a task
 *
 * Returns: the longest a run may take, in seconds; 0 for no limit
 */
gdouble
orrery_task_get_timeout (OrreryTask *self)
{
  g_return_val_if_fail (ORRERY_IS_TASK (self), 0);
  return self->timeout;
}

/**
 * orrery_task_set_timeout:
 * @self: a task
 * @seconds: the longest a run may take; 0 for no limit
 *
 * Sets the task's timeout.
 */
void
orrery_task_set_timeout (OrreryTask *self,
                         gdouble     seconds)
{
  g_return_if_fail (ORRERY_IS_TASK (self));
  seconds = MAX (seconds, 0);
  if (self->timeout == seconds)
    return;
  self->timeout = seconds;
  notify (self, PROP_TIMEOUT);
}

/**
 * orrery_task_get_retry_count:
 * @self: a task
 *
 * Returns: how many times a failed run may be retried
 */
guint
orrery_task_get_retry_count (OrreryTask *self)
{
  g_return_val_if_fail (ORRERY_IS_TASK (self), 0);
  return self->retry_count;
}

/**
 * orrery_task_set_retry_count:
 * @self: a task
 * @retry_count: how many retries are allowed
 *
 * Sets how many times a failed run may be retried.
 */
void
orrery_task_set_retry_count (OrreryTask *self,
                             guint       retry_count)
{
  g_return_if_fail (ORRERY_IS_TASK (self));
  if (self->retry_count == retry_count)
    return;
  self->retry_count = retry_count;
  notify (self, PROP_RETRY_COUNT);
}

/**
 * orrery_task_get_attempt:
 * @self: a task
 *
 * Returns: how many retries have been made so far
 */
guint
orrery_task_get_attempt (OrreryTask *self)
{
  g_return_val_if_fail (ORRERY_IS_TASK (self), 0);
  return self->state.attempt;
}

/**
 * orrery_task_set_attempt:
 * @self: a task
 * @attempt: the number of retries made so far
 *
 * Sets the retry counter.
 */
void
orrery_task_set_attempt (OrreryTask *self,
                         guint       attempt)
{
  g_return_if_fail (ORRERY_IS_TASK (self));
  if (self->state.attempt == attempt)
    return;
  self->state.attempt = attempt;
  notify (self, PROP_ATTEMPT);
}

/**
 * orrery_task_get_task_data:
 * @self: a task
 *
 * Returns: (transfer none) (nullable): the device-specific payload, `a{sv}`
 */
GVariant *
orrery_task_get_task_data (OrreryTask *self)
{
  g_return_val_if_fail (ORRERY_IS_TASK (self), NULL);
  return self->task_data;
}

/**
 * orrery_task_set_task_data:
 * @self: a task
 * @task_data: (nullable): an `a{sv}` dictionary; a floating reference is sunk
 *
 * Sets the device-specific payload.
 */
void
orrery_task_set_task_data (OrreryTask *self,
                           GVariant   *task_data)
{
  g_return_if_fail (ORRERY_IS_TASK (self));
  g_return_if_fail (task_data == NULL || g_variant_is_of_type (task_data, G_VARIANT_TYPE_VARDICT));
  if (task_data)
    g_variant_ref_sink (task_data);
  g_clear_pointer (&self->task_data, g_variant_unref);
  self->task_data = task_data;
  /* The capabilities it asks for may have changed. */
  if (self->state.owner != NULL)
    _orrery_constellation_requirements_changed (self->state.owner, self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TASK_DATA]);
}

/**
 * orrery_task_get_result:
 * @self: a task
 *
 * Returns: (transfer none) (nullable): what the task produced
 */
GVariant *
orrery_task_get_result (OrreryTask *self)
{
  g_return_val_if_fail (ORRERY_IS_TASK (self), NULL);
  return self->state.result;
}

/**
 * orrery_task_set_result:
 * @self: a task
 * @result: (nullable): the result; a floating reference is sunk
 *
 * Sets the task's result.
 */
void
orrery_task_set_result (OrreryTask *self,
                        GVariant   *result)
{
  g_return_if_fail (ORRERY_IS_TASK (self));
  if (result)
    g_variant_ref_sink (result);
  g_clear_pointer (&self->state.result, g_variant_unref);
  self->state.result = result;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RESULT]);
}

/**
 * orrery_task_get_error:
 * @self: a task
 *
 * Returns: (transfer none) (nullable): why the task failed
 */
const GError *
orrery_task_get_error (OrreryTask *self)
{
  g_return_val_if_fail (ORRERY_IS_TASK (self), NULL);
  return _orrery_task_peek_error (self);
}

/**
 * orrery_task_set_error:
 * @self: a task
 * @error: (nullable): why the task failed; copied
 *
 * Sets the task's error.
 */
void
orrery_task_set_error (OrreryTask   *self,
                       const GError *error)
{
  g_return_if_fail (ORRERY_IS_TASK (self));
  g_clear_error (&self->state.error);
  if (error)
    self->state.error = g_error_copy (error);
}

void
_orrery_task_set_error_message (OrreryTask *task,
                                const char *message)
{
  g_clear_error (&task->state.error);
  if (message)
    task->state.error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, message);
}

static void
set_time (OrreryTask *self,
          gint64     *field,
          gint64      usec,
          guint       prop)
{
  if (*field == usec)
    return;
  *field = usec;
  notify (self, prop);
}

/**
 * orrery_task_get_created_at:
 * @self: a task
 *
 * Returns: when the task was created, in microseconds since the epoch
 */
gint64
orrery_task_get_created_at (OrreryTask *self)
{
  g_return_val_if_fail (ORRERY_IS_TASK (self), 0);
  return self->created_at;
}

/**
 * orrery_task_set_created_at:
 * @self: a task
 * @usec: microseconds since the epoch
 *
 * Sets when the task was created.
 */
void
orrery_task_set_created_at (OrreryTask *self,
                            gint64      usec)
{
  g_return_if_fail (ORRERY_IS_TASK (self));
  set_time (self, &self->created_at, usec, PROP_CREATED_AT);
}

/**
 * orrery_task_get_started_at:
 * @self: a task
 *
 * Returns: when the task started, in microseconds since the epoch; 0 if not yet
 */
gint64
orrery_task_get_started_at (OrreryTask *self)
{
  g_return_val_if_fail (ORRERY_IS_TASK (self), 0);
  return self->state.started_at;
}

/**
 * orrery_task_set_started_at:
 * @self: a task
 * @usec: microseconds since the epoch, or 0
 *
 * Sets when the task started.
 */
void
orrery_task_set_started_at (OrreryTask *self,
                            gint64      usec)
{
  g_return_if_fail (ORRERY_IS_TASK (self));
  set_time (self, &self->state.started_at, usec, PROP_STARTED_AT);
}

/**
 * orrery_task_get_ended_at:
 * @self: a task
 *
 * Returns: when the task ended, in microseconds since the epoch; 0 if not yet
 */
gint64
orrery_task_get_ended_at (OrreryTask *self)
{
  g_return_val_if_fail (ORRERY_IS_TASK (self), 0);
  return self->state.ended_at;
}

/**
 * orrery_task_set_ended_at:
 * @self: a task
 * @usec: microseconds since the epoch, or 0
 *
 * Sets when the task ended.
 */
void
orrery_task_set_ended_at (OrreryTask *self,
                          gint64      usec)
{
  g_return_if_fail (ORRERY_IS_TASK (self));
  set_time (self, &self->state.ended_at, usec, PROP_ENDED_AT);
}

/**
 * orrery_task_get_duration:
 * @self: a task
 *
 * Returns: how long the task ran, in seconds; 0 if it has not both
 *   started and ended
 */
gdouble
orrery_task_get_duration (OrreryTask *self)
{
  g_return_val_if_fail (ORRERY_IS_TASK (self), 0);
  if (self->state.started_at == 0 || self->state.ended_at < self->state.started_at)
    return 0;
  return (self->state.ended_at - self->state.started_at) / (gdouble) G_USEC_PER_SEC;
}

/**
 * orrery_task_get_extra_keys:
 * @self: a task
 *
 * The fields read from a file that Orrery does not know (UFO's
 * `expected_output_type`, `updated_at`, a tool's own keys...). They are
 * written back when the constellation is saved.
 *
 * Returns: (transfer full) (array zero-terminated=1): the names of the extra fields
 */
char **
orrery_task_get_extra_keys (OrreryTask *self)
{
  GStrvBuilder *builder;
  GList *members;

  g_return_val_if_fail (ORRERY_IS_TASK (self), NULL);
  builder = g_strv_builder_new ();
  if (self->extra)
    {
      members = json_object_get_members (self->extra);
      for (GList *l = members; l; l = l->next)
        g_strv_builder_add (builder, l->data);
      g_list_free (members);
    }
  {
    char **strv = g_strv_builder_end (builder);
    g_strv_builder_unref (builder);
    return strv;
  }
}

/**
 * orrery_task_get_extra:
 * @self: a task
 * @key: the name of an extra field
 *
 * Returns: (transfer none) (nullable): the value of an extra field
 */
JsonNode *
orrery_task_get_extra (OrreryTask *self,
                       const char *key)
{
  g_return_val_if_fail (ORRERY_IS_TASK (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);
  if (self->extra == NULL)
    return NULL;
  return json_object_get_member (self->extra, key);
}

/**
 * orrery_task_is_terminal:
 * @self: a task
 *
 * Returns: whether the task is completed, failed, cancelled or skipped
 */
gboolean
orrery_task_is_terminal (OrreryTask *self)
{
  g_return_val_if_fail (ORRERY_IS_TASK (self), FALSE);
  return TASK_TERMINAL (self);
}

/**
 * orrery_task_is_dispatched:
 * @self: a task
 *
 * Returns: whether the task is running or finished, that is, no longer
 *   editable
 */
gboolean
orrery_task_is_dispatched (OrreryTask *self)
{
  g_return_val_if_fail (ORRERY_IS_TASK (self), FALSE);
  return !TASK_NOT_STARTED (self);
}

/**
 * orrery_task_get_constellation:
 * @self: a task
 *
 * Returns: (transfer none) (nullable): the #OrreryConstellation the task belongs to
 */
OrreryConstellation *
orrery_task_get_constellation (OrreryTask *self)
{
  g_return_val_if_fail (ORRERY_IS_TASK (self), NULL);
  return self->state.owner;
}

/**
 * orrery_task_status_from_string:
 * @str: a status name in any case, such as `COMPLETED`, `waiting_dependency`
 *   or `waiting-dependency`
 * @out_status: (out) (optional): where to store the status
 *
 * Returns: whether @str names a status
 */
gboolean
orrery_task_status_from_string (const char       *str,
                                OrreryTaskStatus *out_status)
{
  gint value;

  g_return_val_if_fail (str != NULL, FALSE);
  if (!_orrery_enum_from_nick (ORRERY_TYPE_TASK_STATUS, str, &value))
    return FALSE;
  if (out_status)
    *out_status = value;
  return TRUE;
}

/**
 * orrery_task_priority_to_nick:
 * @priority: a priority
 *
 * Returns: (transfer none): the nick of @priority, such as `high`
 */
const char *
orrery_task_priority_to_nick (OrreryTaskPriority priority)
{
  const char *nick = _orrery_enum_to_nick (ORRERY_TYPE_TASK_PRIORITY, priority);

  g_return_val_if_fail (nick != NULL, NULL);
  return nick;
}

/**
 * orrery_task_priority_from_string:
 * @str: a priority name in any case (`HIGH`, `high`) or its number (`1` to `4`)
 * @out_priority: (out) (optional): where to store the priority
 *
 * Returns: whether @str names a priority
 */
gboolean
orrery_task_priority_from_string (const char         *str,
                                  OrreryTaskPriority *out_priority)
{
  gint value;

  g_return_val_if_fail (str != NULL, FALSE);
  if (str[0] >= '0' + ORRERY_TASK_PRIORITY_LOW && str[0] <= '0' + ORRERY_TASK_PRIORITY_CRITICAL &&
      str[1] == '\0')
    value = str[0] - '0';
  else if (!_orrery_enum_from_nick (ORRERY_TYPE_TASK_PRIORITY, str, &value))
    return FALSE;
  if (out_priority)
    *out_priority = value;
  return TRUE;
}
