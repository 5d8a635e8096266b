/* orrery-simulated-device.c: a device that pretends to run tasks.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-Devices"

#include "orrery-device-private.h"

struct _OrrerySimulatedDevice
{
  OrreryBaseDevice parent_instance;

  guint64       n_executed;

  GQueue        ready;         /* of SimRun, completing on the idle */
  GSource      *idle_source;
  GMainContext *idle_context;

  /* What the last task data said (see read_task_data()). */
  GVariant     *memo_data;     /* a reference: its address is not reused */
  guint         memo_duration_ms;
  gboolean      memo_fail;
  double        memo_fail_attempts;  /* 0: not given */
  char         *memo_error_message;
  GVariant     *memo_result;   /* NULL: the default */
};

/**
 * OrrerySimulatedDevice:
 *
 * A device that pretends to run tasks.
 *
 * The duration and the outcome come from the task data. A task of zero
 * duration completes on the next main loop iteration: the device keeps one
 * idle source for all of them and completes them in batches (one GTask and
 * one small allocation per task, no source), so that a benchmark can push a
 * million tasks through it. A task with a duration gets a timer.
 */
G_DEFINE_FINAL_TYPE (OrrerySimulatedDevice, orrery_simulated_device, ORRERY_TYPE_BASE_DEVICE)

typedef struct
{
  GList                  link;         /* in the device's ready queue */
  GTask                 *task;         /* owned until completion */
  OrrerySimulatedDevice *device;       /* borrowed: the GTask holds it */
  OrreryTask            *otask;        /* the task, for its device times */
  gint64                 started_us;
  GSource               *timer;
  GSource               *cancel_source;
  guint                  duration_ms;
  double                 timeout;
  gboolean               fail;
  gboolean               timed_out;
  char                  *error_message;
  GVariant              *result;
} SimRun;

static void
sim_run_free (SimRun *run)
{
  g_assert (run->timer == NULL && run->cancel_source == NULL);
  g_clear_pointer (&run->result, g_variant_unref);
  g_clear_object (&run->otask);
  g_free (run->error_message);
  g_free (run);
}

static void
destroy_source (GSource **source)
{
  if (*source)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

static GVariant *
default_result (void)
{
  static gsize result;

  if (g_once_init_enter (&result))
    {
      GVariantBuilder builder;
      GVariant *v;

      g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
      g_variant_builder_add (&builder, "{sv}", "simulated", g_variant_new_boolean (TRUE));
      v = g_variant_ref_sink (g_variant_builder_end (&builder));
      g_once_init_leave (&result, (gsize) v);
    }
  return g_variant_ref ((GVariant *) result);
}

static void
complete (SimRun  *run,
          gboolean cancelled)
{
  OrrerySimulatedDevice *self = run->device;
  GTask *task = g_steal_pointer (&run->task);

  destroy_source (&run->timer);
  destroy_source (&run->cancel_source);
  _orrery_base_device_task_finished ((OrreryBaseDevice *) self);
  self->n_executed++;

  if (!cancelled)
    cancelled = g_cancellable_is_cancelled (g_task_get_cancellable (task));
  /* The simulated work ends when its duration (or the timeout) is up,
   * however late the main loop gets to this callback; a cancel ends it
   * now. */
  if (cancelled)
    _orrery_base_device_record_end ((OrreryBaseDevice *) self, run->otask, 0);
  else
    _orrery_base_device_record_end ((OrreryBaseDevice *) self, run->otask,
                                    run->started_us + 1000 * (gint64) (run->timed_out
                                                                       ? (guint) (run->timeout * 1000.0 + 0.5)
                                                                       : run->duration_ms));
  if (cancelled)
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                             "cancelled");
  else if (run->timed_out)
    g_task_return_new_error (task, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_TIMEOUT,
                             "timed out after %g s", run->timeout);
  else if (run->fail)
    g_task_return_new_error (task, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_FAILED,
                             "%s", run->error_message ? run->error_message
                                                      : "simulated failure");
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static gboolean
idle_cb (gpointer user_data)
{
  OrrerySimulatedDevice *self = g_object_ref (user_data);
  GQueue batch = self->ready;
  GList *link;
  gboolean again;

  /* Only this batch: what the callbacks start waits for the next round. */
  g_queue_init (&self->ready);
  while ((link = g_queue_pop_head_link (&batch)))
    complete (link->data, FALSE);

  again = !g_queue_is_empty (&self->ready);
  if (!again)
    {
      g_clear_pointer (&self->idle_source, g_source_unref);
      self->idle_context = NULL;
    }
  g_object_unref (self);
  return again ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static gboolean
timer_cb (gpointer user_data)
{
  SimRun *run = user_data;

  g_clear_pointer (&run->timer, g_source_unref);
  complete (run, FALSE);
  return G_SOURCE_REMOVE;
}

static gboolean
cancel_cb (GCancellable *cancellable,
           gpointer      user_data)
{
  SimRun *run = user_data;

  g_clear_pointer (&run->cancel_source, g_source_unref);
  complete (run, TRUE);
  return G_SOURCE_REMOVE;
}

/* A number from task data, whatever its numeric type (JSON gives int64 or
 * double). */
static gboolean
get_number (GVariant   *dict,
            const char *key,
            double     *out_value)
{
  g_autoptr(GVariant) v = _orrery_vardict_lookup (dict, key);

  if (v == NULL)
    return FALSE;
  switch (g_variant_classify (v))
    {
    case G_VARIANT_CLASS_BYTE: *out_value = g_variant_get_byte (v); return TRUE;
    case G_VARIANT_CLASS_INT16: *out_value = g_variant_get_int16 (v); return TRUE;
    case G_VARIANT_CLASS_UINT16: *out_value = g_variant_get_uint16 (v); return TRUE;
    case G_VARIANT_CLASS_INT32: *out_value = g_variant_get_int32 (v); return TRUE;
    case G_VARIANT_CLASS_UINT32: *out_value = g_variant_get_uint32 (v); return TRUE;
    case G_VARIANT_CLASS_INT64: *out_value = g_variant_get_int64 (v); return TRUE;
    case G_VARIANT_CLASS_UINT64: *out_value = g_variant_get_uint64 (v); return TRUE;
    case G_VARIANT_CLASS_DOUBLE: *out_value = g_variant_get_double (v); return TRUE;
    case G_VARIANT_CLASS_BOOLEAN: *out_value = g_variant_get_boolean (v); return TRUE;
    default: return FALSE;
    }
}

/* Reads what @data says into the memo, unless it holds it already: tasks
 * loaded from one file share one GVariant for equal data, and each lookup
 * in serialised data costs about as much as the rest of a simulated task. */
static void
read_task_data (OrrerySimulatedDevice *self,
                GVariant              *data)
{
  g_autoptr(GVariant) msg = NULL;
  g_autoptr(GVariant) result = NULL;
  double n;

  if (data == self->memo_data)
    return;
  g_clear_pointer (&self->memo_data, g_variant_unref);
  g_clear_pointer (&self->memo_error_message, g_free);
  g_clear_pointer (&self->memo_result, g_variant_unref);
  self->memo_data = g_variant_ref (data);
  self->memo_duration_ms = 0;
  self->memo_fail = FALSE;
  self->memo_fail_attempts = 0;

  if (get_number (data, "duration_ms", &n) && n > 0)
    self->memo_duration_ms = (guint) MIN (n, (double) G_MAXUINT);
  if (get_number (data, "fail", &n) && n != 0)
    self->memo_fail = TRUE;
  if (get_number (data, "fail_attempts", &n) && n > 0)
    self->memo_fail_attempts = n;
  msg = _orrery_vardict_lookup (data, "error_message");
  if (msg && g_variant_is_of_type (msg, G_VARIANT_TYPE_STRING))
    self->memo_error_message = g_variant_dup_string (msg, NULL);
  result = _orrery_vardict_lookup (data, "result");
  if (result && g_variant_is_of_type (result, G_VARIANT_TYPE_VARDICT))
    self->memo_result = g_steal_pointer (&result);
  else if (result)
    {
      GVariantBuilder builder;

      g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
      g_variant_builder_add (&builder, "{sv}", "simulated", g_variant_new_boolean (TRUE));
      g_variant_builder_add (&builder, "{sv}", "value", result);
      self->memo_result = g_variant_ref_sink (g_variant_builder_end (&builder));
    }
}

static void
orrery_simulated_device_execute_async (OrreryBaseDevice    *device,
                                       OrreryTask          *task,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data)
{
  OrrerySimulatedDevice *self = ORRERY_SIMULATED_DEVICE (device);
  GVariant *data = orrery_task_get_task_data (task);
  GMainContext *context;
  SimRun *run;

  run = g_new0 (SimRun, 1);
  run->link.data = run;
  run->device = self;
  run->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (run->task, orrery_simulated_device_execute_async);
  g_task_set_check_cancellable (run->task, FALSE);
  g_task_set_task_data (run->task, run, (GDestroyNotify) sim_run_free);
  run->timeout = orrery_task_get_timeout (task);

  if (data != NULL && g_variant_n_children (data) > 0)
    {
      read_task_data (self, data);
      run->duration_ms = self->memo_duration_ms;
      run->fail = self->memo_fail ||
                  (self->memo_fail_attempts > 0 &&
                   (double) MAX (orrery_task_get_attempt (task), 1) <= self->memo_fail_attempts);
      if (run->fail)
        run->error_message = g_strdup (self->memo_error_message);
      if (self->memo_result != NULL)
        run->result = g_variant_ref (self->memo_result);
    }
  if (run->result == NULL)
    run->result = default_result ();

  _orrery_base_device_task_started (device);
  run->otask = g_object_ref (task);
  run->started_us = g_get_monotonic_time ();
  _orrery_base_device_record_start (device, task, run->started_us);
  context = g_task_get_context (run->task);

  if (run->duration_ms == 0)
    {
      if (self->idle_source != NULL && self->idle_context != context)
        {
          /* Another context: let GTask complete it on an idle of its own. */
          complete (run, FALSE);
          return;
        }
      g_queue_push_tail_link (&self->ready, &run->link);
      if (self->idle_source == NULL)
        {
          self->idle_source = g_idle_source_new ();
          self->idle_context = context;
          g_source_set_priority (self->idle_source, G_PRIORITY_DEFAULT);
          g_source_set_callback (self->idle_source, idle_cb, self, NULL);
          g_source_set_static_name (self->idle_source, "[orrery] simulated device");
          g_source_attach (self->idle_source, context);
        }
      return;
    }

  if (run->timeout > 0 && run->timeout * 1000.0 < run->duration_ms)
    {
      run->timed_out = TRUE;
      run->timer = g_timeout_source_new ((guint) (run->timeout * 1000.0 + 0.5));
    }
  else
    run->timer = g_timeout_source_new (run->duration_ms);
  g_source_set_callback (run->timer, timer_cb, run, NULL);
  g_source_set_static_name (run->timer, "[orrery] simulated device timer");
  g_source_attach (run->timer, context);

  if (cancellable != NULL)
    {
      run->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (run->cancel_source, G_SOURCE_FUNC (cancel_cb), run, NULL);
      g_source_set_static_name (run->cancel_source, "[orrery] simulated device cancel");
      g_source_attach (run->cancel_source, context);
    }
}

static gboolean
orrery_simulated_device_execute_finish (OrreryBaseDevice  *device,
                                        GAsyncResult      *result,
                                        GVariant         **out_result,
                                        GError           **error)
{
  SimRun *run;

  g_return_val_if_fail (g_task_is_valid (result, device), FALSE);

  run = g_task_get_task_data (G_TASK (result));
  if (out_result)
    *out_result = run && run->result ? g_variant_ref (run->result) : NULL;
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
orrery_simulated_device_finalize (GObject *object)
{
  OrrerySimulatedDevice *self = ORRERY_SIMULATED_DEVICE (object);

  /* Every queued run holds the device through its GTask. */
  g_assert (g_queue_is_empty (&self->ready));
  destroy_source (&self->idle_source);
  g_clear_pointer (&self->memo_data, g_variant_unref);
  g_clear_pointer (&self->memo_error_message, g_free);
  g_clear_pointer (&self->memo_result, g_variant_unref);

  G_OBJECT_CLASS (orrery_simulated_device_parent_class)->finalize (object);
}

static void
orrery_simulated_device_class_init (OrrerySimulatedDeviceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  OrreryBaseDeviceClass *device_class = ORRERY_BASE_DEVICE_CLASS (klass);

  object_class->finalize = orrery_simulated_device_finalize;
  device_class->execute_task_async = orrery_simulated_device_execute_async;
  device_class->execute_task_finish = orrery_simulated_device_execute_finish;
  device_class->default_id = "simulated";
  device_class->default_device_type = "simulated";
}

static void
orrery_simulated_device_init (OrrerySimulatedDevice *self)
{
  g_queue_init (&self->ready);
}

/**
 * orrery_simulated_device_new:
 * @id: the device's unique id
 * @device_type: (nullable): the kind of system it pretends to be; %NULL for
 *   `simulated`
 * @max_concurrency: how many tasks it runs at once; 0 for the number of
 *   processors
 *
 * Creates a device that runs nothing: the duration and the outcome of each
 * task come from its task data:
 *
 * - `duration_ms` (a number, default 0): how long the task takes; a task of
 *   zero duration completes on the next main loop iteration
 * - `fail` (`b`): the task fails (%ORRERY_DEVICE_ERROR_FAILED)
 * - `fail_attempts` (a number): the first N attempts fail (see
 *   orrery_task_get_attempt(), counting from 1)
 * - `error_message` (`s`): the message of the failure
 * - `result` (`v`): the task's result when it is a dictionary, else stored
 *   under `value`; by default `{"simulated": true}`
 *
 * The task's timeout applies (%ORRERY_DEVICE_ERROR_TIMEOUT) and so does the
 * cancellable (%G_IO_ERROR_CANCELLED).
 *
 * Returns: (transfer full): a new simulated device
 */
OrrerySimulatedDevice *
orrery_simulated_device_new (const char *id,
                             const char *device_type,
                             guint       max_concurrency)
{
  g_return_val_if_fail (id != NULL && *id != '\0', NULL);

  return g_object_new (ORRERY_TYPE_SIMULATED_DEVICE,
                       "id", id,
                       "device-type", device_type,
                       "max-concurrency", max_concurrency,
                       NULL);
}

/**
 * orrery_simulated_device_set_capabilities:
 * @self: a simulated device
 * @capabilities: (nullable) (array zero-terminated=1): what the device can
 *   do
 *
 * Sets the device's capabilities.
 */
void
orrery_simulated_device_set_capabilities (OrrerySimulatedDevice *self,
                                          const char * const    *capabilities)
{
  g_return_if_fail (ORRERY_IS_SIMULATED_DEVICE (self));

  orrery_base_device_set_capabilities (ORRERY_BASE_DEVICE (self), capabilities);
}

/**
 * orrery_simulated_device_get_n_running:
 * @self: a simulated device
 *
 * Returns: how many tasks the device is running now
 */
guint
orrery_simulated_device_get_n_running (OrrerySimulatedDevice *self)
{
  g_return_val_if_fail (ORRERY_IS_SIMULATED_DEVICE (self), 0);
  return orrery_base_device_get_n_running (ORRERY_BASE_DEVICE (self));
}

/**
 * orrery_simulated_device_get_n_executed:
 * @self: a simulated device
 *
 * Returns: how many executions the device has finished
 */
guint64
orrery_simulated_device_get_n_executed (OrrerySimulatedDevice *self)
{
  g_return_val_if_fail (ORRERY_IS_SIMULATED_DEVICE (self), 0);
  return self->n_executed;
}
