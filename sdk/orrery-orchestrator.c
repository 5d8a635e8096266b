/* orrery-orchestrator.c: runs a constellation on devices, event driven.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-Orchestrator"

#include "orrery-constellation-private.h"

#define SOURCE_ID "orchestrator"
#define CANCEL_REASON_CALLER "cancelled by the caller"

G_DEFINE_QUARK (orrery-orchestrator-error-quark, orrery_orchestrator_error)

/* ------------------------------------------------------------------------ */
/* Holds */

struct _OrreryHold
{
  gatomicrefcount     ref_count;
  guint               id;
  char               *reason;
  gboolean            active;
  gboolean            expired;
  OrreryOrchestrator *owner;     /* not a reference; cleared on release */
  GSource            *deadline;
};

G_DEFINE_BOXED_TYPE (OrreryHold, orrery_hold, orrery_hold_ref, orrery_hold_unref)

/**
 * orrery_hold_ref:
 * @hold: a hold
 *
 * Returns: (transfer full): @hold
 */
OrreryHold *
orrery_hold_ref (OrreryHold *hold)
{
  g_return_val_if_fail (hold != NULL, NULL);
  g_atomic_ref_count_inc (&hold->ref_count);
  return hold;
}

/**
 * orrery_hold_unref:
 * @hold: (transfer full): a hold
 *
 * Drops a reference. Dropping the last reference does not release the hold:
 * orrery_orchestrator_release() does.
 */
void
orrery_hold_unref (OrreryHold *hold)
{
  g_return_if_fail (hold != NULL);
  if (!g_atomic_ref_count_dec (&hold->ref_count))
    return;
  g_assert (hold->deadline == NULL);
  g_free (hold->reason);
  g_free (hold);
}

/**
 * orrery_hold_get_id:
 * @hold: a hold
 *
 * Returns: the hold's id, unique per orchestrator
 */
guint
orrery_hold_get_id (OrreryHold *hold)
{
  g_return_val_if_fail (hold != NULL, 0);
  return hold->id;
}

/**
 * orrery_hold_get_reason:
 * @hold: a hold
 *
 * Returns: (transfer none) (nullable): why the hold was taken
 */
const char *
orrery_hold_get_reason (OrreryHold *hold)
{
  g_return_val_if_fail (hold != NULL, NULL);
  return hold->reason;
}

/**
 * orrery_hold_is_active:
 * @hold: a hold
 *
 * Returns: whether the hold still stands
 */
gboolean
orrery_hold_is_active (OrreryHold *hold)
{
  g_return_val_if_fail (hold != NULL, FALSE);
  return hold->active;
}

/**
 * orrery_hold_has_expired:
 * @hold: a hold
 *
 * Returns: whether the hold was released because its deadline passed
 */
gboolean
orrery_hold_has_expired (OrreryHold *hold)
{
  g_return_val_if_fail (hold != NULL, FALSE);
  return hold->expired;
}

/* ------------------------------------------------------------------------ */

/* One task between its dispatch and its terminal state. */
typedef struct
{
  OrreryOrchestrator *self;
  OrreryTask         *task;
  OrreryDevice       *device;        /* while executing */
  char               *device_id;     /* the last device it ran on */
  GCancellable       *cancellable;
  GSource            *retry_source;  /* while waiting to be tried again */
  guint               attempts;      /* started in this run */
} TaskRun;

/* The run in progress: allocated by orrery_orchestrator_run_async(), freed
 * by finish_run() once its last event is out. Nothing of a run outlives it
 * but the cancel reason (orrery_orchestrator_get_cancel_reason()). */
typedef struct
{
  OrreryOrchestrator  *owner;          /* not a reference: the GTask holds one */
  OrreryConstellation *constellation;
  GTask               *task;
  GMainContext        *context;
  GCancellable        *cancellable;
  gulong               cancel_id;
  gulong               modified_id;
  gulong               device_added_id;
  gulong               device_removed_id;
  GHashTable          *tasks;          /* task id -> TaskRun */
  guint                n_running;      /* executing on a device */
  guint                n_waiting;      /* waiting for a retry */
  gint64               start_us;
  gboolean             cancelling;
  GError              *fail_error;     /* orrery_orchestrator_fail() */
  GError              *cancel_error;   /* what cancelled tasks get, from cancel_reason */
  guint                bulk_cancelled; /* cancelled at the end without their own event */
  GSource             *after_delivery; /* advance() deferred until the bus is idle */
} OrchestratorRun;

struct _OrreryOrchestrator
{
  GObject              parent_instance;

  OrreryEventBus      *bus;
  OrreryDeviceManager *devices;
  guint                max_concurrency;
  guint                retry_delay_ms;
  gdouble              retry_factor;
  guint                retry_max_delay_ms;

  OrchestratorRun     *current;         /* nullable: the run in progress */
  char                *cancel_reason;   /* why the last run was cancelled */
  /* Marks the ready classes found blocked; never reset, because the marks
   * stay in the constellation's classes from one run to the next. */
  guint64              dispatch_pass;

  /* Deferred dispatch: step_begin(), step_end(), advance() */
  guint                step_depth;      /* steps under way, nested */
  gboolean             advancing;       /* inside advance()'s loop */
  gboolean             advance_pending; /* asked for during a step or advance() */

  GHashTable          *holds;         /* id -> OrreryHold */
  guint                next_hold_id;

  /* Standing for the host's orchestrator (an isolated plugin's helper). */
  const OrreryOrchestratorRemote *remote;
  gpointer             remote_data;
};

/**
 * OrreryOrchestrator:
 *
 * Runs a constellation on devices, event driven.
 *
 * Nothing here polls or sleeps. Work happens in answer to four things: the
 * start of a run, a device finishing a task, an edit of the constellation
 * (its "modified" signal) and a hold being released. Each of them is one
 * step; what observers do in answer to the step's events (cancel, hold,
 * release, edit) joins it, and dispatch is deferred to the end of the
 * outermost step, which starts every ready task a device can take and
 * finishes the run when nothing is left to do.
 */
G_DEFINE_FINAL_TYPE (OrreryOrchestrator, orrery_orchestrator, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_BUS,
  PROP_DEVICE_MANAGER,
  PROP_MAX_CONCURRENCY,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_HOLD_EXPIRED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void advance (OrreryOrchestrator *self);

/* Deferred dispatch. Every entry point (a device finishing, a retry timer,
 * an edit, a cancel, a hold released or expired, a device added or removed)
 * is one step, between step_begin() and step_end(). advance() dispatches
 * what is ready and finishes the run when nothing is left; asked for inside
 * a step (an observer the step publishes to calls back: cancel, hold,
 * release, edit), it only notes that it is pending, and the outermost
 * step_end() runs it once. So events keep their order and the run never
 * finishes in the middle of another step. */
static void
step_begin (OrreryOrchestrator *self)
{
  g_object_ref (self);
  self->step_depth++;
}

static void
step_end (OrreryOrchestrator *self)
{
  if (--self->step_depth == 0)
    advance (self);
  g_object_unref (self);
}

static void
task_run_free (gpointer data)
{
  TaskRun *run = data;

  g_assert (run->device == NULL);
  g_assert (run->retry_source == NULL);
  g_clear_object (&run->cancellable);
  g_free (run->device_id);
  g_object_unref (run->task);
  g_free (run);
}

/* ------------------------------------------------------------------------ */
/* Events */

static char **
task_ids (GPtrArray *tasks)
{
  char **ids;

  if (tasks == NULL || tasks->len == 0)
    return NULL;
  ids = g_new (char *, tasks->len + 1);
  for (guint i = 0; i < tasks->len; i++)
    ids[i] = (char *) orrery_task_get_id (tasks->pdata[i]);
  ids[tasks->len] = NULL;
  return ids;
}

static void
publish_task_event (OrreryOrchestrator *self,
                    OrreryEventType     type,
                    OrreryTask         *task,
                    const char         *device_id,
                    GPtrArray          *newly_ready,
                    GVariant           *result,
                    const GError       *error,
                    GVariant           *data)
{
  g_autoptr(OrreryEvent) ev = orrery_event_new_task (type, SOURCE_ID,
                                                         orrery_task_get_id (task),
                                                         orrery_task_get_status (task));
  g_autofree char **ids = task_ids (newly_ready);

  orrery_event_set_attempt (ev, orrery_task_get_attempt (task));
  orrery_event_set_device_id (ev, device_id);
  orrery_event_set_constellation (ev, self->current->constellation);
  if (ids != NULL)
    orrery_event_set_newly_ready (ev, (const char * const *) ids);
  if (result != NULL)
    orrery_event_set_result (ev, result);
  if (error != NULL)
    orrery_event_set_error (ev, error);
  if (data != NULL)
    orrery_event_set_data (ev, data);
  orrery_event_bus_publish (self->bus, ev);
}

static void
publish_skipped (OrreryOrchestrator *self,
                 GPtrArray          *skipped)
{
  if (skipped == NULL)
    return;
  for (guint i = 0; i < skipped->len; i++)
    publish_task_event (self, ORRERY_EVENT_TASK_SKIPPED, skipped->pdata[i], NULL,
                        NULL, NULL, orrery_task_get_error (skipped->pdata[i]), NULL);
}

static OrreryEvent *
constellation_event_new (OrreryOrchestrator       *self,
                         OrreryEventType           type,
                         OrreryConstellationState  state)
{
  OrreryEvent *ev;

  ev = orrery_event_new_constellation (type, SOURCE_ID,
                                       orrery_constellation_get_id (self->current->constellation),
                                       state);
  orrery_event_set_constellation (ev, self->current->constellation);
  return ev;
}

static void
set_ready_ids (OrreryOrchestrator       *self,
               OrreryEvent *ev)
{
  g_autoptr(GPtrArray) ready = orrery_constellation_get_ready_tasks (self->current->constellation);
  g_autofree char **ids = task_ids (ready);

  if (ids != NULL)
    orrery_event_set_newly_ready (ev, (const char * const *) ids);
}

/* ------------------------------------------------------------------------ */
/* Task life cycle */

static void on_execute_done (GObject      *source,
                             GAsyncResult *result,
                             gpointer      user_data);

static void
start_task (OrreryOrchestrator *self,
            OrreryTask         *task,
            OrreryDevice       *device)
{
  const char *id = orrery_task_get_id (task);
  TaskRun *run = g_hash_table_lookup (self->current->tasks, id);
  g_autoptr(GError) error = NULL;

  if (!orrery_constellation_mark_task_started (self->current->constellation, id, &error))
    {
      g_critical ("Cannot start task “%s”: %s", id, error->message);
      return;
    }
  if (run == NULL)
    {
      run = g_new0 (TaskRun, 1);
      run->self = self;
      run->task = g_object_ref (task);
      /* A resumed run: attempt numbers go on from the recorded ones. */
      run->attempts = orrery_task_get_attempt (task);
      g_hash_table_insert (self->current->tasks, (gpointer) orrery_task_get_id (task), run);
    }
  /* The orchestrator counts attempts itself, from the task's last one
   * (0 for a task that never ran); the device records when the work
   * really starts and ends. */
  _orrery_task_state_begin_attempt (task, ++run->attempts);
  run->device = g_object_ref (device);
  g_free (run->device_id);
  run->device_id = g_strdup (orrery_device_get_id (device));
  g_clear_object (&run->cancellable);
  run->cancellable = g_cancellable_new ();
  orrery_device_manager_acquire (self->devices, device);
  self->current->n_running++;

  /* g_debug() formats its message even when it is dropped (a few µs a
   * task, with the host's escaping writer): ask first. */
  if (!g_log_writer_default_would_drop (G_LOG_LEVEL_DEBUG, G_LOG_DOMAIN))
    g_debug ("Dispatching “%s” (attempt %u) to “%s”", id, orrery_task_get_attempt (task),
             run->device_id);
  publish_task_event (self, ORRERY_EVENT_TASK_STARTED, task, run->device_id,
                      NULL, NULL, NULL, NULL);
  orrery_device_execute_async (device, task, run->cancellable, on_execute_done, run);
}

/* The task reached a terminal state through its device (or could not get
 * one): record it, publish it, and publish whatever it made skip. */
static void
finish_task (OrreryOrchestrator *self,
             TaskRun            *run,
             OrreryTask         *task,
             gboolean            success,
             GVariant           *result,
             const GError       *task_error)
{
  g_autoptr(GPtrArray) ready = NULL;
  g_autoptr(GPtrArray) skipped = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryTask) keep = g_object_ref (task);
  g_autofree char *device_id = run ? g_strdup (run->device_id) : NULL;

  if (run != NULL)
    g_hash_table_remove (self->current->tasks, orrery_task_get_id (task));

  ready = orrery_constellation_mark_task_completed (self->current->constellation,
                                                    orrery_task_get_id (task), success,
                                                    result, task_error, &skipped, &error);
  if (error != NULL)
    {
      g_critical ("Cannot complete task “%s”: %s", orrery_task_get_id (task), error->message);
      return;
    }
  if (run != NULL)
    _orrery_task_state_apply_device_times (task);

  publish_task_event (self, success ? ORRERY_EVENT_TASK_COMPLETED : ORRERY_EVENT_TASK_FAILED,
                      task, device_id, ready, result, task_error, NULL);
  publish_skipped (self, skipped);
}

/* One error for every task of this cancel: a cancel of 100k tasks
 * formatted the same message 100k times. */
static const GError *
cancel_error (OrreryOrchestrator *self)
{
  if (self->current->cancel_error == NULL)
    self->current->cancel_error = g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED, "Cancelled: %s",
                                      self->cancel_reason ? self->cancel_reason : "run cancelled");
  return self->current->cancel_error;
}

static void
cancel_task (OrreryOrchestrator *self,
             OrreryTask         *task)
{
  g_autoptr(GPtrArray) skipped = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryTask) keep = g_object_ref (task);
  TaskRun *run = g_hash_table_lookup (self->current->tasks, orrery_task_get_id (task));
  g_autofree char *device_id = run ? g_strdup (run->device_id) : NULL;
  const GError *reason = cancel_error (self);

  if (run != NULL)
    g_hash_table_remove (self->current->tasks, orrery_task_get_id (task));

  orrery_task_set_error (task, reason);
  g_ptr_array_unref (orrery_constellation_mark_task_cancelled_full (self->current->constellation,
                                                                    orrery_task_get_id (task),
                                                                    &skipped, &error) ?: g_ptr_array_new ());
  if (error != NULL)
    {
      g_critical ("Cannot cancel task “%s”: %s", orrery_task_get_id (task), error->message);
      return;
    }
  if (run != NULL)
    _orrery_task_state_apply_device_times (task);
  publish_task_event (self, ORRERY_EVENT_TASK_CANCELLED, task, device_id, NULL, NULL, reason, NULL);
  publish_skipped (self, skipped);
}

static gboolean
is_retryable (const GError *error)
{
  return !(g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
           g_error_matches (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_NO_DEVICE) ||
           g_error_matches (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_TASK_DATA));
}

static gboolean
retry_cb (gpointer user_data)
{
  TaskRun *run = user_data;
  OrreryOrchestrator *self = run->self;
  g_autoptr(GError) error = NULL;

  step_begin (self);
  g_clear_pointer (&run->retry_source, g_source_unref);
  self->current->n_waiting--;
  if (!orrery_constellation_requeue_task (self->current->constellation,
                                          orrery_task_get_id (run->task), &error))
    g_critical ("Cannot requeue task “%s”: %s", orrery_task_get_id (run->task), error->message);
  step_end (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_retry (OrreryOrchestrator *self,
                TaskRun            *run,
                GVariant           *result,
                const GError       *error)
{
  guint attempt = orrery_task_get_attempt (run->task);
  gdouble delay = self->retry_delay_ms;
  g_autoptr(GVariant) data = NULL;

  for (guint i = 1; i < attempt; i++)
    delay *= self->retry_factor;
  delay = MIN (delay, (gdouble) self->retry_max_delay_ms);

  data = g_variant_ref_sink (g_variant_new_parsed ("{'delay_ms': <%u>, 'retries_left': <%u>}",
                                                   (guint) delay,
                                                   orrery_task_get_retry_count (run->task) + 1 - attempt));
  publish_task_event (self, ORRERY_EVENT_TASK_RETRYING, run->task, run->device_id,
                      NULL, result, error, data);

  self->current->n_waiting++;
  run->retry_source = g_timeout_source_new ((guint) delay);
  g_source_set_static_name (run->retry_source, "[orrery] retry backoff");
  g_source_set_callback (run->retry_source, retry_cb, run, NULL);
  g_source_attach (run->retry_source, self->current->context);
}

static void
on_execute_done (GObject      *source,
                 GAsyncResult *res,
                 gpointer      user_data)
{
  TaskRun *run = user_data;
  OrreryOrchestrator *self = run->self;
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GError) error = NULL;
  gboolean ok;

  step_begin (self);
  ok = orrery_device_execute_finish (ORRERY_DEVICE (source), res, &result, &error);
  orrery_device_manager_release (self->devices, run->device);
  g_clear_object (&run->device);
  self->current->n_running--;

  if (!ok && error == NULL)
    error = g_error_new (ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_FAILED,
                         "device “%s” failed the task without saying why", run->device_id);

  if (ok)
    finish_task (self, run, run->task, TRUE, result, NULL);
  else if (self->current->cancelling || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    cancel_task (self, run->task);
  else if (is_retryable (error) &&
           orrery_task_get_attempt (run->task) <= orrery_task_get_retry_count (run->task))
    schedule_retry (self, run, result, error);
  else
    finish_task (self, run, run->task, FALSE, result, error);

  step_end (self);
}

/* ------------------------------------------------------------------------ */
/* Dispatch and completion */

/* The run's cancellable was cancelled (by a signal handler, another thread,
 * an observer) and the cancel has not been carried out yet: nothing more
 * may be dispatched, whatever else is ready on the main loop. */
static inline gboolean
cancel_requested (OrreryOrchestrator *self)
{
  return self->current != NULL && self->current->cancellable != NULL &&
         g_cancellable_is_cancelled (self->current->cancellable);
}

static guint
free_slots (OrreryOrchestrator *self)
{
  guint cap = self->max_concurrency > 0 ? self->max_concurrency : G_MAXUINT;
  guint left = self->current->n_running < cap ? cap - self->current->n_running : 0;

  /* With no device at all, let every ready task meet its NO_DEVICE error. */
  if (orrery_device_manager_get_n_devices (self->devices) == 0)
    return left;
  return MIN (left, orrery_device_manager_get_free_slots_total (self->devices));
}

/* Starts every ready task a device can take, best first. The ready set
 * comes split by requirement class (target device, device type,
 * capabilities): the next task is the best head among the classes not yet
 * found blocked in this pass, and a class whose head no device can take
 * now (every eligible device is busy) is passed over whole. A completion on
 * a busy device thus looks at the classes, never at the thousands of ready
 * tasks waiting for that device. */
static void
start_ready_tasks (OrreryOrchestrator *self)
{
  guint64 pass;

  if (self->current == NULL || self->current->cancelling || cancel_requested (self) ||
      g_hash_table_size (self->holds) > 0)
    return;

  pass = ++self->dispatch_pass;
  while (free_slots (self) > 0)
    {
      GPtrArray *classes = _orrery_constellation_peek_ready_classes (self->current->constellation);
      OrreryReadyClass *best_class = NULL;
      OrreryTask *task = NULL;
      g_autoptr(GError) error = NULL;
      OrreryDevice *device;

      for (guint i = 0; i < classes->len; i++)
        {
          OrreryReadyClass *cls = classes->pdata[i];
          OrreryTask *head;

          if (cls->mark == pass)
            continue;
          head = _orrery_ready_class_head (cls);
          if (task == NULL || _orrery_task_ready_compare (head, task, NULL) < 0)
            task = head, best_class = cls;
        }
      if (task == NULL)
        break;

      device = orrery_device_manager_select (self->devices, task, &error);
      if (error != NULL)
        {
          g_autoptr(GError) mark_error = NULL;

          /* No device can ever take it: fail it now instead of waiting for
           * ever. */
          g_warning ("Task “%s” fails: %s", orrery_task_get_id (task), error->message);
          if (!orrery_constellation_mark_task_started (self->current->constellation,
                                                       orrery_task_get_id (task), &mark_error))
            {
              g_critical ("Cannot start task “%s”: %s", orrery_task_get_id (task),
                          mark_error->message);
              best_class->mark = pass;
              continue;
            }
          finish_task (self, NULL, task, FALSE, NULL, error);
          /* Its failure may have made other tasks ready (completion-only
           * edges); they are in the classes already. */
        }
      else if (device == NULL)
        best_class->mark = pass;   /* every device that could take it is busy */
      else
        start_task (self, task, device);

      /* An observer of the last event may have taken a hold or cancelled
       * the run. */
      if (self->current->cancelling || cancel_requested (self) || g_hash_table_size (self->holds) > 0)
        return;
    }
}

/* Devices: `device-added` and `device-removed` as the manager reports them.
 * No device kind has an offline or failed state yet, so nothing publishes
 * `device-status-changed`; busy and idle are the running counts, which the
 * task events carry. (Watching `notify::status` would put a GObject
 * notification on every dispatch and completion: +0.7 µs per task.) */
static void
publish_device_event (OrreryOrchestrator *self,
                      OrreryEventType     type,
                      OrreryDevice       *device)
{
  g_autoptr(OrreryEvent) ev = orrery_event_new_device (type, SOURCE_ID,
                                                             orrery_device_get_id (device),
                                                             orrery_device_get_status (device));

  orrery_event_bus_publish (self->bus, ev);
}

static void
on_device_added (OrreryDeviceManager *devices,
                 OrreryDevice        *device,
                 gpointer             user_data)
{
  OrreryOrchestrator *self = user_data;

  step_begin (self);
  publish_device_event (self, ORRERY_EVENT_DEVICE_ADDED, device);
  step_end (self);   /* new capacity: dispatch */
}

static void
on_device_removed (OrreryDeviceManager *devices,
                   OrreryDevice        *device,
                   gpointer             user_data)
{
  OrreryOrchestrator *self = user_data;

  step_begin (self);
  publish_device_event (self, ORRERY_EVENT_DEVICE_REMOVED, device);
  step_end (self);
}

static OrchestratorRun *
orchestrator_run_new (OrreryOrchestrator  *self,
                      OrreryConstellation *constellation,
                      GTask               *task)
{
  OrchestratorRun *run = g_new0 (OrchestratorRun, 1);

  run->owner = self;
  run->task = task;
  run->constellation = g_object_ref (constellation);
  run->context = g_main_context_ref_thread_default ();
  run->start_us = g_get_monotonic_time ();
  run->tasks = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, task_run_free);
  return run;
}

/* Nothing of the outside calls into @run any more: the constellation's
 * and the devices' signals, the cancellable, the deferred dispatch. */
static void
orchestrator_run_detach (OrchestratorRun *run)
{
  OrreryOrchestrator *self = run->owner;

  g_clear_signal_handler (&run->modified_id, run->constellation);
  g_clear_signal_handler (&run->device_added_id, self->devices);
  g_clear_signal_handler (&run->device_removed_id, self->devices);
  /* Waits for an on_cancelled() running in another thread. */
  if (run->cancellable != NULL)
    g_cancellable_disconnect (run->cancellable, run->cancel_id);
  run->cancel_id = 0;
  if (run->after_delivery != NULL)
    {
      g_source_destroy (run->after_delivery);
      g_clear_pointer (&run->after_delivery, g_source_unref);
    }
}

static void
orchestrator_run_free (OrchestratorRun *run)
{
  g_assert (run->task == NULL);
  g_assert (run->after_delivery == NULL);
  g_hash_table_unref (run->tasks);
  g_clear_object (&run->cancellable);
  g_clear_object (&run->constellation);
  g_clear_pointer (&run->context, g_main_context_unref);
  g_clear_error (&run->fail_error);
  g_clear_error (&run->cancel_error);
  g_free (run);
}

static void
finish_run (OrreryOrchestrator *self)
{
  OrchestratorRun *run = self->current;
  g_autoptr(GTask) task = g_steal_pointer (&run->task);
  g_autoptr(OrreryEvent) ev = NULL;
  g_autoptr(GVariant) stats = NULL;
  OrreryConstellation *constellation = run->constellation;
  OrreryConstellationState state;
  OrreryEventType type;
  GError *error = NULL;
  guint n_tasks = orrery_constellation_get_n_tasks (constellation);
  guint completed = orrery_constellation_count_status (constellation, ORRERY_TASK_STATUS_COMPLETED);
  guint failed = orrery_constellation_count_status (constellation, ORRERY_TASK_STATUS_FAILED);
  guint skipped = orrery_constellation_count_status (constellation, ORRERY_TASK_STATUS_SKIPPED);
  guint cancelled = orrery_constellation_count_status (constellation, ORRERY_TASK_STATUS_CANCELLED);
  gdouble duration = (g_get_monotonic_time () - run->start_us) / (gdouble) G_USEC_PER_SEC;

  if (run->cancelling && run->fail_error != NULL)
    {
      /* orrery_orchestrator_fail(): stopped like a cancel, but failed. */
      state = ORRERY_CONSTELLATION_STATE_FAILED;
      type = ORRERY_EVENT_CONSTELLATION_FAILED;
      error = g_steal_pointer (&run->fail_error);
    }
  else if (run->cancelling)
    {
      state = ORRERY_CONSTELLATION_STATE_CANCELLED;
      type = ORRERY_EVENT_CONSTELLATION_CANCELLED;
      error = g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED, "Run cancelled: %s",
                           self->cancel_reason ? self->cancel_reason : "cancelled");
    }
  else if (_orrery_constellation_outcome (constellation) == ORRERY_CONSTELLATION_STATE_COMPLETED)
    {
      state = ORRERY_CONSTELLATION_STATE_COMPLETED;
      type = ORRERY_EVENT_CONSTELLATION_COMPLETED;
    }
  else
    {
      state = ORRERY_CONSTELLATION_STATE_FAILED;
      type = ORRERY_EVENT_CONSTELLATION_FAILED;
      error = g_error_new (ORRERY_ORCHESTRATOR_ERROR, ORRERY_ORCHESTRATOR_ERROR_TASKS_FAILED,
                           "%u of %u tasks did not complete: %u failed, %u skipped, %u cancelled",
                           n_tasks - completed, n_tasks, failed, skipped, cancelled);
    }

  orrery_constellation_set_state (constellation, state);
  ev = constellation_event_new (self, type, state);
  stats = orrery_constellation_get_statistics (constellation);
  orrery_event_set_statistics (ev, stats);
  orrery_event_set_duration (ev, duration);
  if (error != NULL && run->bulk_cancelled > 0)
    orrery_event_set_data (ev,
                           g_variant_new_parsed ("{'reason': <%s>, 'bulk_cancelled': <%u>, "
                                                 "'bulk_cancel_message': <%s>}",
                                                 error->message, run->bulk_cancelled,
                                                 cancel_error (self)->message));
  else if (error != NULL)
    orrery_event_set_data (ev,
                           g_variant_new_parsed ("{'reason': <%s>}", error->message));
  run->bulk_cancelled = 0;

  /* The run is over for everyone before its last event goes out (a
   * handler of that event may start the next one). */
  orchestrator_run_detach (run);
  self->current = NULL;

  g_info ("Run of “%s” ended: %u completed, %u failed, %u skipped, %u cancelled in %.3f s",
          orrery_constellation_get_id (constellation), completed, failed, skipped, cancelled,
          duration);

  orrery_event_bus_publish (self->bus, ev);

  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
  orchestrator_run_free (run);
}

/* The end of a cancelled (or stuck) run: nothing runs or waits for a
 * retry any more, and every task that never started is cancelled at once,
 * with no task-cancelled event each: the run's last event carries their
 * number and the error they got (`bulk_cancelled`, `bulk_cancel_message`
 * in its data), from which the journal reader and observers derive each
 * one's state (docs/journal.md). One event per task made the cancel of
 * 100k tasks take 0.4 to 3.4 s. */
static void
cancel_remaining (OrreryOrchestrator *self)
{
  const GError *reason = cancel_error (self);

  /* Tasks requeued for a retry (ready again) keep a TaskRun. */
  g_hash_table_remove_all (self->current->tasks);
  self->current->bulk_cancelled += orrery_constellation_cancel_pending (self->current->constellation, reason, 0);
}

static void
maybe_finish (OrreryOrchestrator *self)
{
  if (self->current == NULL || self->current->n_running > 0 || self->current->n_waiting > 0)
    return;

  if (self->current->cancelling)
    {
      cancel_remaining (self);
      finish_run (self);
      return;
    }

  /* A hold keeps the run open: an agent may still add work. */
  if (g_hash_table_size (self->holds) > 0)
    return;

  if (!orrery_constellation_is_finished (self->current->constellation))
    {
      /* Nothing runs, nothing waits, no hold, and dispatch found nothing it
       * could start: what is left can never run. End instead of hanging. */
      g_warning ("Run of “%s” is stuck: %u tasks can never run",
                 orrery_constellation_get_id (self->current->constellation),
                 orrery_constellation_get_n_tasks (self->current->constellation) -
                 orrery_constellation_count_status (self->current->constellation, ORRERY_TASK_STATUS_COMPLETED) -
                 orrery_constellation_count_status (self->current->constellation, ORRERY_TASK_STATUS_FAILED) -
                 orrery_constellation_count_status (self->current->constellation, ORRERY_TASK_STATUS_SKIPPED) -
                 orrery_constellation_count_status (self->current->constellation, ORRERY_TASK_STATUS_CANCELLED));
      g_free (self->cancel_reason);
      self->cancel_reason = g_strdup ("stuck: the remaining tasks can never run");
      g_clear_error (&self->current->cancel_error);
      cancel_remaining (self);
    }
  finish_run (self);
}

static gboolean
advance_after_delivery_cb (gpointer user_data)
{
  OrreryOrchestrator *self = user_data;

  g_clear_pointer (&self->current->after_delivery, g_source_unref);
  advance (self);
  return G_SOURCE_REMOVE;
}

static void
advance (OrreryOrchestrator *self)
{
  if (self->advancing || self->step_depth > 0)
    {
      self->advance_pending = TRUE;
      return;
    }

  /* Called from inside a bus delivery (an agent editing or releasing from
   * its handler): events published now would wait behind the current one,
   * so an observer (the synchronizer) could not answer them before the
   * next dispatch. Dispatch once the bus has delivered everything. */
  if (orrery_event_bus_is_dispatching (self->bus))
    {
      if (self->current != NULL && self->current->after_delivery == NULL)
        {
          self->current->after_delivery = g_idle_source_new ();
          g_source_set_priority (self->current->after_delivery, G_PRIORITY_HIGH);
          g_source_set_static_name (self->current->after_delivery, "[orrery] dispatch after delivery");
          g_source_set_callback (self->current->after_delivery, advance_after_delivery_cb,
                                 g_object_ref (self), g_object_unref);
          g_source_attach (self->current->after_delivery, self->current->context);
        }
      return;
    }
  self->advancing = TRUE;
  g_object_ref (self);
  do
    {
      self->advance_pending = FALSE;
      /* A cancel requested since the last advance goes before anything else:
       * completions that arrive in the same main loop iteration as the
       * request must not dispatch more. */
      if (self->current != NULL && !self->current->cancelling && cancel_requested (self))
        orrery_orchestrator_cancel (self, CANCEL_REASON_CALLER);
      start_ready_tasks (self);
      maybe_finish (self);
    }
  while (self->advance_pending && self->current != NULL);
  self->advancing = FALSE;
  g_object_unref (self);
}

/* ------------------------------------------------------------------------ */
/* Edits and cancellation */

static void
on_constellation_modified (OrreryConstellation *constellation,
                           GVariant            *modifications,
                           GStrv                on_task_ids,
                           gpointer             user_data)
{
  OrreryOrchestrator *self = user_data;
  g_autoptr(OrreryEvent) ev = NULL;

  step_begin (self);
  ev = constellation_event_new (self, ORRERY_EVENT_CONSTELLATION_MODIFIED,
                                orrery_constellation_get_state (constellation));
  orrery_event_set_modifications (ev, modifications);
  orrery_event_set_on_task_ids (ev, (const char * const *) on_task_ids);
  set_ready_ids (self, ev);
  orrery_event_bus_publish (self->bus, ev);
  step_end (self);
}

typedef struct
{
  OrreryOrchestrator *self;
  GCancellable       *cancellable;
} CancelRequest;

static void
cancel_request_free (gpointer data)
{
  CancelRequest *req = data;

  g_object_unref (req->self);
  g_object_unref (req->cancellable);
  g_free (req);
}

static gboolean
cancel_request_cb (gpointer user_data)
{
  CancelRequest *req = user_data;

  /* Only for the run it was made for (not one started since). */
  if (req->self->current != NULL && req->self->current->cancellable == req->cancellable)
    orrery_orchestrator_cancel (req->self, CANCEL_REASON_CALLER);
  return G_SOURCE_REMOVE;
}

static void
on_cancelled (GCancellable *cancellable,
              gpointer      user_data)
{
  OrchestratorRun *run = user_data;
  CancelRequest *req = g_new (CancelRequest, 1);
  GSource *source = g_idle_source_new ();

  /* May run on any thread (a signal thread), and inside
   * g_cancellable_connect(): act from the run's main context, before
   * anything else there. At the default idle priority this never ran while
   * tasks kept completing (a busy run went on for minutes after SIGINT);
   * at G_PRIORITY_HIGH it runs in the next iteration, and advance() checks
   * the cancellable too, so completions already queued dispatch nothing.
   * (@run is alive: finish_run() disconnects, which waits for this
   * handler, before it frees the run.) */
  req->self = g_object_ref (run->owner);
  req->cancellable = g_object_ref (cancellable);
  g_source_set_priority (source, G_PRIORITY_HIGH);
  g_source_set_callback (source, cancel_request_cb, req, cancel_request_free);
  g_source_set_static_name (source, "[orrery] cancel run");
  g_source_attach (source, run->context);
  g_source_unref (source);
}

/**
 * orrery_orchestrator_cancel:
 * @self: an orchestrator
 * @reason: (nullable): why, for the events and the run's error
 *
 * Cancels the run in progress: running tasks are killed, the others are
 * cancelled, `constellation-cancelled` is published and the run finishes
 * with %G_IO_ERROR_CANCELLED. Holds do not delay a cancel.
 */
void
orrery_orchestrator_cancel (OrreryOrchestrator *self,
                            const char         *reason)
{
  GHashTableIter iter;
  gpointer value;
  g_autoptr(GPtrArray) waiting = g_ptr_array_new ();

  g_return_if_fail (ORRERY_IS_ORCHESTRATOR (self));

  if (self->remote != NULL)
    {
      self->remote->cancel (self->remote_data, reason);
      return;
    }
  if (self->current == NULL || self->current->cancelling)
    return;

  g_info ("Cancelling the run of “%s”: %s", orrery_constellation_get_id (self->current->constellation),
          reason ? reason : "no reason given");
  step_begin (self);
  self->current->cancelling = TRUE;
  g_free (self->cancel_reason);
  self->cancel_reason = g_strdup (reason ? reason : "cancelled");
  g_clear_error (&self->current->cancel_error);

  g_hash_table_iter_init (&iter, self->current->tasks);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      TaskRun *run = value;

      if (run->device != NULL)
        g_cancellable_cancel (run->cancellable);
      else if (run->retry_source != NULL)
        g_ptr_array_add (waiting, run);
    }
  for (guint i = 0; i < waiting->len; i++)
    {
      TaskRun *run = waiting->pdata[i];

      g_source_destroy (run->retry_source);
      g_clear_pointer (&run->retry_source, g_source_unref);
      self->current->n_waiting--;
      cancel_task (self, run->task);
    }
  step_end (self);
}

/**
 * orrery_orchestrator_fail:
 * @self: an orchestrator
 * @error: why the run cannot go on (a journal that cannot be written, say)
 *
 * Fails the run in progress: it stops as orrery_orchestrator_cancel()
 * stops it (running tasks are killed, the others cancelled, with
 * @error's message as the reason), but ends with `constellation-failed`
 * whose `reason` is @error's message, and the run finishes with a copy of
 * @error. If the run is being cancelled already, it ends failed all the
 * same. Does nothing when no run is in progress.
 */
void
orrery_orchestrator_fail (OrreryOrchestrator *self,
                          const GError       *error)
{
  g_return_if_fail (ORRERY_IS_ORCHESTRATOR (self));
  g_return_if_fail (error != NULL);

  if (self->remote != NULL)
    {
      self->remote->fail (self->remote_data, error);
      return;
    }
  if (self->current == NULL || self->current->fail_error != NULL)
    return;
  g_warning ("The run of “%s” fails: %s", orrery_constellation_get_id (self->current->constellation),
             error->message);
  self->current->fail_error = g_error_copy (error);
  orrery_orchestrator_cancel (self, error->message);
}

/**
 * orrery_orchestrator_get_cancel_reason:
 * @self: an orchestrator
 *
 * Returns: (transfer none) (nullable): why the last run was cancelled
 */
const char *
orrery_orchestrator_get_cancel_reason (OrreryOrchestrator *self)
{
  g_return_val_if_fail (ORRERY_IS_ORCHESTRATOR (self), NULL);
  return self->cancel_reason;
}

/* ------------------------------------------------------------------------ */
/* Running */

/**
 * orrery_orchestrator_run_async:
 * @self: an orchestrator
 * @constellation: the constellation to run; tasks already finished (a
 *   resumed run) are not run again
 * @cancellable: (nullable): cancels the run
 * @callback: (scope async): called when the run has ended
 * @user_data: (closure): data for @callback
 *
 * Runs @constellation on the main context of the calling thread: publishes
 * `constellation-started`, dispatches every ready task a device can take,
 * publishes each task's events, and ends with exactly one of
 * `constellation-completed`, `-failed` or `-cancelled`.
 */
void
orrery_orchestrator_run_async (OrreryOrchestrator  *self,
                               OrreryConstellation *constellation,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryEvent) ev = NULL;
  g_autoptr(GList) devices = NULL;
  GVariantBuilder assignments;
  GVariantBuilder device_ids;
  g_autoptr(GPtrArray) tasks = NULL;

  g_return_if_fail (ORRERY_IS_ORCHESTRATOR (self));
  g_return_if_fail (ORRERY_IS_CONSTELLATION (constellation));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, orrery_orchestrator_run_async);
  g_task_set_check_cancellable (task, FALSE);

  if (self->current != NULL)
    {
      g_task_return_new_error (task, ORRERY_ORCHESTRATOR_ERROR, ORRERY_ORCHESTRATOR_ERROR_BUSY,
                               "The orchestrator is already running “%s”",
                               orrery_constellation_get_id (self->current->constellation));
      return;
    }
  if (!orrery_constellation_validate (constellation, &error))
    {
      g_task_return_new_error (task, ORRERY_ORCHESTRATOR_ERROR, ORRERY_ORCHESTRATOR_ERROR_INVALID,
                               "Invalid constellation: %s", error->message);
      return;
    }

  self->current = orchestrator_run_new (self, constellation, g_steal_pointer (&task));
  g_clear_pointer (&self->cancel_reason, g_free);
  self->current->modified_id = g_signal_connect (constellation, "modified",
                                                 G_CALLBACK (on_constellation_modified), self);
  self->current->device_added_id = g_signal_connect (self->devices, "device-added",
                                                     G_CALLBACK (on_device_added), self);
  self->current->device_removed_id = g_signal_connect (self->devices, "device-removed",
                                                       G_CALLBACK (on_device_removed), self);
  /* A resumed run: what was running or cancelled runs again. */
  if (orrery_constellation_reset_interrupted (constellation) > 0)
    g_info ("Resuming “%s”: %u tasks already finished",
            orrery_constellation_get_id (constellation),
            orrery_constellation_count_status (constellation, ORRERY_TASK_STATUS_COMPLETED) +
            orrery_constellation_count_status (constellation, ORRERY_TASK_STATUS_FAILED));
  orrery_constellation_set_state (constellation, ORRERY_CONSTELLATION_STATE_EXECUTING);
  /* The statistics' figures of the graph's shape, now rather than in the
   * run's last event: the end of a cancel does not wait for them unless an
   * edit changed the graph meanwhile. */
  _orrery_constellation_prepare_statistics (constellation);

  /* What the run starts with. */
  g_variant_builder_init (&device_ids, G_VARIANT_TYPE ("as"));
  devices = orrery_device_manager_get_devices (self->devices);
  for (GList *l = devices; l != NULL; l = l->next)
    g_variant_builder_add (&device_ids, "s", orrery_device_get_id (l->data));
  g_variant_builder_init (&assignments, G_VARIANT_TYPE ("a{ss}"));
  tasks = orrery_constellation_get_tasks (constellation);
  for (guint i = 0; i < tasks->len; i++)
    if (orrery_task_get_target_device_id (tasks->pdata[i]) != NULL)
      g_variant_builder_add (&assignments, "{ss}", orrery_task_get_id (tasks->pdata[i]),
                             orrery_task_get_target_device_id (tasks->pdata[i]));

  ev = constellation_event_new (self, ORRERY_EVENT_CONSTELLATION_STARTED,
                                ORRERY_CONSTELLATION_STATE_EXECUTING);
  orrery_event_set_data (ev,
                         g_variant_new_parsed ("{'total_tasks': <%u>, 'strategy': <%s>,"
                                               " 'max_concurrency': <%u>, 'devices': <%v>,"
                                               " 'assignments': <%v>}",
                                               orrery_constellation_get_n_tasks (constellation),
                                               orrery_dispatch_strategy_to_nick (
                                                 orrery_device_manager_get_strategy (self->devices)),
                                               self->max_concurrency,
                                               g_variant_builder_end (&device_ids),
                                               g_variant_builder_end (&assignments)));
  set_ready_ids (self, ev);

  step_begin (self);
  orrery_event_bus_publish (self->bus, ev);
  if (cancellable != NULL)
    {
      self->current->cancellable = g_object_ref (cancellable);
      self->current->cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled),
                                                        self->current, NULL);
    }
  step_end (self);
}

/**
 * orrery_orchestrator_run_finish:
 * @self: an orchestrator
 * @result: the result given to the callback
 * @error: return location for an error
 *
 * Returns: %TRUE if no task failed (tasks skipped because a condition did
 *   not hold are branches not taken); otherwise %FALSE with
 *   %ORRERY_ORCHESTRATOR_ERROR_TASKS_FAILED, %ORRERY_ORCHESTRATOR_ERROR_INVALID,
 *   %ORRERY_ORCHESTRATOR_ERROR_BUSY or %G_IO_ERROR_CANCELLED (with the reason)
 */
gboolean
orrery_orchestrator_run_finish (OrreryOrchestrator  *self,
                                GAsyncResult        *result,
                                GError             **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ------------------------------------------------------------------------ */
/* Holds */

static void
hold_drop (OrreryOrchestrator *self,
           OrreryHold         *hold)
{
  hold->active = FALSE;
  hold->owner = NULL;
  if (hold->deadline != NULL)
    {
      g_source_destroy (hold->deadline);
      g_clear_pointer (&hold->deadline, g_source_unref);
    }
  g_hash_table_remove (self->holds, GUINT_TO_POINTER (hold->id));
}

static gboolean
hold_deadline_cb (gpointer user_data)
{
  OrreryHold *hold = user_data;
  OrreryOrchestrator *self = hold->owner;
  g_autoptr(OrreryHold) keep = orrery_hold_ref (hold);

  step_begin (self);
  g_clear_pointer (&hold->deadline, g_source_unref);
  hold->expired = TRUE;
  g_warning ("Hold #%u (%s) expired: released without an answer", hold->id,
             hold->reason ? hold->reason : "no reason");
  hold_drop (self, hold);
  g_signal_emit (self, signals[SIGNAL_HOLD_EXPIRED], 0, hold);
  step_end (self);
  return G_SOURCE_REMOVE;
}

/**
 * orrery_orchestrator_hold:
 * @self: an orchestrator
 * @reason: (nullable): why, for logs and reports
 * @timeout_ms: the hold's deadline in milliseconds; 0 for none. An expired
 *   hold is released and reported through #OrreryOrchestrator::hold-expired.
 *
 * Takes a hold: until it is released, no new task is dispatched (running
 * ones go on) and the run does not complete.
 *
 * Returns: (transfer full): the hold, for orrery_orchestrator_release()
 */
OrreryHold *
orrery_orchestrator_hold (OrreryOrchestrator *self,
                          const char         *reason,
                          guint               timeout_ms)
{
  OrreryHold *hold;

  g_return_val_if_fail (ORRERY_IS_ORCHESTRATOR (self), NULL);

  hold = g_new0 (OrreryHold, 1);
  g_atomic_ref_count_init (&hold->ref_count);
  hold->id = ++self->next_hold_id;
  hold->reason = g_strdup (reason);
  hold->active = TRUE;
  hold->owner = self;
  if (self->remote != NULL)
    {
      /* The host keeps the deadline and says when it passed. */
      g_hash_table_insert (self->holds, GUINT_TO_POINTER (hold->id), orrery_hold_ref (hold));
      self->remote->hold (self->remote_data, hold->id, reason, timeout_ms);
      return hold;
    }
  if (timeout_ms > 0)
    {
      hold->deadline = g_timeout_source_new (timeout_ms);
      g_source_set_static_name (hold->deadline, "[orrery] hold deadline");
      g_source_set_callback (hold->deadline, hold_deadline_cb, hold, NULL);
      g_source_attach (hold->deadline, self->current != NULL ? self->current->context
                                                             : g_main_context_get_thread_default ());
    }
  g_hash_table_insert (self->holds, GUINT_TO_POINTER (hold->id), orrery_hold_ref (hold));
  g_debug ("Hold #%u taken (%s)", hold->id, reason ? reason : "no reason");
  return hold;
}

/**
 * orrery_orchestrator_release:
 * @self: an orchestrator
 * @hold: a hold taken on @self
 *
 * Releases a hold. When no hold is left, dispatching resumes at once.
 *
 * Returns: %TRUE if the hold was standing, %FALSE if it was already
 *   released (or expired)
 */
gboolean
orrery_orchestrator_release (OrreryOrchestrator *self,
                             OrreryHold         *hold)
{
  g_return_val_if_fail (ORRERY_IS_ORCHESTRATOR (self), FALSE);
  g_return_val_if_fail (hold != NULL, FALSE);

  if (!hold->active || hold->owner != self)
    return FALSE;
  g_debug ("Hold #%u released", hold->id);
  if (self->remote != NULL)
    {
      guint id = hold->id;

      hold_drop (self, hold);
      self->remote->release (self->remote_data, id);
      return TRUE;
    }
  step_begin (self);
  hold_drop (self, hold);
  step_end (self);
  return TRUE;
}

void
_orrery_orchestrator_set_remote (OrreryOrchestrator             *self,
                                 const OrreryOrchestratorRemote *remote,
                                 gpointer                        data)
{
  self->remote = remote;
  self->remote_data = data;
}

gboolean
_orrery_orchestrator_expire_hold (OrreryOrchestrator *self,
                                  guint               id)
{
  OrreryHold *found = g_hash_table_lookup (self->holds, GUINT_TO_POINTER (id));
  g_autoptr(OrreryHold) hold = NULL;

  if (found == NULL)
    return FALSE;
  hold = orrery_hold_ref (found);
  hold->expired = TRUE;
  /* The host warned already. */
  g_debug ("Hold #%u (%s) expired on the host", hold->id, hold->reason ? hold->reason : "no reason");
  hold_drop (self, hold);
  g_signal_emit (self, signals[SIGNAL_HOLD_EXPIRED], 0, hold);
  return TRUE;
}

/**
 * orrery_orchestrator_get_n_holds:
 * @self: an orchestrator
 *
 * Returns: how many holds stand
 */
guint
orrery_orchestrator_get_n_holds (OrreryOrchestrator *self)
{
  g_return_val_if_fail (ORRERY_IS_ORCHESTRATOR (self), 0);
  return g_hash_table_size (self->holds);
}

/* ------------------------------------------------------------------------ */
/* Accessors */

/**
 * orrery_orchestrator_get_bus:
 * @self: an orchestrator
 *
 * Returns: (transfer none): the bus it publishes on
 */
OrreryEventBus *
orrery_orchestrator_get_bus (OrreryOrchestrator *self)
{
  g_return_val_if_fail (ORRERY_IS_ORCHESTRATOR (self), NULL);
  return self->bus;
}

/**
 * orrery_orchestrator_get_device_manager:
 * @self: an orchestrator
 *
 * Returns: (transfer none): its devices
 */
OrreryDeviceManager *
orrery_orchestrator_get_device_manager (OrreryOrchestrator *self)
{
  g_return_val_if_fail (ORRERY_IS_ORCHESTRATOR (self), NULL);
  return self->devices;
}

/**
 * orrery_orchestrator_get_constellation:
 * @self: an orchestrator
 *
 * Returns: (transfer none) (nullable): the constellation being run
 */
OrreryConstellation *
orrery_orchestrator_get_constellation (OrreryOrchestrator *self)
{
  g_return_val_if_fail (ORRERY_IS_ORCHESTRATOR (self), NULL);
  return self->current != NULL ? self->current->constellation : NULL;
}

/**
 * orrery_orchestrator_is_running:
 * @self: an orchestrator
 *
 * Returns: whether a run is in progress
 */
gboolean
orrery_orchestrator_is_running (OrreryOrchestrator *self)
{
  g_return_val_if_fail (ORRERY_IS_ORCHESTRATOR (self), FALSE);
  if (self->remote != NULL)
    return self->remote->is_running (self->remote_data);
  return self->current != NULL;
}

/**
 * orrery_orchestrator_get_n_running:
 * @self: an orchestrator
 *
 * Returns: how many tasks are executing on devices
 */
guint
orrery_orchestrator_get_n_running (OrreryOrchestrator *self)
{
  g_return_val_if_fail (ORRERY_IS_ORCHESTRATOR (self), 0);
  return self->current != NULL ? self->current->n_running : 0;
}

/**
 * orrery_orchestrator_set_max_concurrency:
 * @self: an orchestrator
 * @max_concurrency: the most tasks running at once over all devices; 0 for
 *   no cap beyond the devices' own limits
 */
void
orrery_orchestrator_set_max_concurrency (OrreryOrchestrator *self,
                                         guint               max_concurrency)
{
  g_return_if_fail (ORRERY_IS_ORCHESTRATOR (self));
  if (self->max_concurrency == max_concurrency)
    return;
  self->max_concurrency = max_concurrency;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_CONCURRENCY]);
  if (self->current != NULL)
    advance (self);
}

/**
 * orrery_orchestrator_get_max_concurrency:
 * @self: an orchestrator
 *
 * Returns: the global concurrency cap (0: none)
 */
guint
orrery_orchestrator_get_max_concurrency (OrreryOrchestrator *self)
{
  g_return_val_if_fail (ORRERY_IS_ORCHESTRATOR (self), 0);
  return self->max_concurrency;
}

/**
 * orrery_orchestrator_set_retry_policy:
 * @self: an orchestrator
 * @delay_ms: the delay before the first retry
 * @factor: what each further delay is multiplied by (at least 1)
 * @max_delay_ms: the longest delay
 *
 * How failed tasks with retries left wait before their next attempt. A
 * task's own `retry_count` says how many retries it gets.
 */
void
orrery_orchestrator_set_retry_policy (OrreryOrchestrator *self,
                                      guint               delay_ms,
                                      gdouble             factor,
                                      guint               max_delay_ms)
{
  g_return_if_fail (ORRERY_IS_ORCHESTRATOR (self));
  self->retry_delay_ms = delay_ms;
  self->retry_factor = MAX (factor, 1.0);
  self->retry_max_delay_ms = MAX (max_delay_ms, delay_ms);
}

/**
 * orrery_orchestrator_get_retry_policy:
 * @self: an orchestrator
 * @out_delay_ms: (out) (optional): the delay before the first retry
 * @out_factor: (out) (optional): what each further delay is multiplied by
 * @out_max_delay_ms: (out) (optional): the longest delay
 *
 * The retry policy, as orrery_orchestrator_set_retry_policy() left it
 * (the factor at least 1, the longest delay at least the first).
 */
void
orrery_orchestrator_get_retry_policy (OrreryOrchestrator *self,
                                      guint              *out_delay_ms,
                                      gdouble            *out_factor,
                                      guint              *out_max_delay_ms)
{
  g_return_if_fail (ORRERY_IS_ORCHESTRATOR (self));
  if (out_delay_ms != NULL)
    *out_delay_ms = self->retry_delay_ms;
  if (out_factor != NULL)
    *out_factor = self->retry_factor;
  if (out_max_delay_ms != NULL)
    *out_max_delay_ms = self->retry_max_delay_ms;
}

/* ------------------------------------------------------------------------ */

static void
orrery_orchestrator_dispose (GObject *object)
{
  OrreryOrchestrator *self = ORRERY_ORCHESTRATOR (object);
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->holds);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      OrreryHold *hold = value;

      hold->active = FALSE;
      hold->owner = NULL;
      if (hold->deadline != NULL)
        {
          g_source_destroy (hold->deadline);
          g_clear_pointer (&hold->deadline, g_source_unref);
        }
      g_hash_table_iter_remove (&iter);
    }
  g_clear_object (&self->bus);
  g_clear_object (&self->devices);

  G_OBJECT_CLASS (orrery_orchestrator_parent_class)->dispose (object);
}

static void
orrery_orchestrator_finalize (GObject *object)
{
  OrreryOrchestrator *self = ORRERY_ORCHESTRATOR (object);

  g_assert (self->current == NULL);
  g_hash_table_unref (self->holds);
  g_free (self->cancel_reason);

  G_OBJECT_CLASS (orrery_orchestrator_parent_class)->finalize (object);
}

static void
orrery_orchestrator_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  OrreryOrchestrator *self = ORRERY_ORCHESTRATOR (object);

  switch (prop_id)
    {
    case PROP_BUS:
      g_value_set_object (value, self->bus);
      break;
    case PROP_DEVICE_MANAGER:
      g_value_set_object (value, self->devices);
      break;
    case PROP_MAX_CONCURRENCY:
      g_value_set_uint (value, self->max_concurrency);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
orrery_orchestrator_set_property (GObject      *object,
                                  guint         prop_id,
                                  const GValue *value,
                                  GParamSpec   *pspec)
{
  OrreryOrchestrator *self = ORRERY_ORCHESTRATOR (object);

  switch (prop_id)
    {
    case PROP_BUS:
      self->bus = g_value_dup_object (value);
      break;
    case PROP_DEVICE_MANAGER:
      self->devices = g_value_dup_object (value);
      break;
    case PROP_MAX_CONCURRENCY:
      orrery_orchestrator_set_max_concurrency (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
orrery_orchestrator_constructed (GObject *object)
{
  OrreryOrchestrator *self = ORRERY_ORCHESTRATOR (object);

  G_OBJECT_CLASS (orrery_orchestrator_parent_class)->constructed (object);
  if (self->bus == NULL)
    self->bus = orrery_event_bus_new ();
  if (self->devices == NULL)
    {
      self->devices = orrery_device_manager_new ();
      orrery_device_manager_add_default_devices (self->devices);
    }
}

static void
orrery_orchestrator_class_init (OrreryOrchestratorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = orrery_orchestrator_constructed;
  object_class->dispose = orrery_orchestrator_dispose;
  object_class->finalize = orrery_orchestrator_finalize;
  object_class->get_property = orrery_orchestrator_get_property;
  object_class->set_property = orrery_orchestrator_set_property;

  /**
   * OrreryOrchestrator:bus:
   *
   * The bus it publishes on; a new one if none is given.
   */
  properties[PROP_BUS] =
    g_param_spec_object ("bus", NULL, NULL, ORRERY_TYPE_EVENT_BUS,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * OrreryOrchestrator:device-manager:
   *
   * Its devices; a manager with the default local device if none is given.
   */
  properties[PROP_DEVICE_MANAGER] =
    g_param_spec_object ("device-manager", NULL, NULL, ORRERY_TYPE_DEVICE_MANAGER,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * OrreryOrchestrator:max-concurrency:
   *
   * The most tasks running at once over all devices; 0 for no cap.
   */
  properties[PROP_MAX_CONCURRENCY] =
    g_param_spec_uint ("max-concurrency", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * OrreryOrchestrator::hold-expired:
   * @self: the orchestrator
   * @hold: the hold whose deadline passed; it is released
   *
   * Emitted when a hold is released because its deadline passed.
   */
  signals[SIGNAL_HOLD_EXPIRED] =
    g_signal_new ("hold-expired", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, ORRERY_TYPE_HOLD);
}

static void
orrery_orchestrator_init (OrreryOrchestrator *self)
{
  self->holds = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) orrery_hold_unref);
  self->retry_delay_ms = ORRERY_ORCHESTRATOR_DEFAULT_RETRY_DELAY_MS;
  self->retry_factor = ORRERY_ORCHESTRATOR_DEFAULT_RETRY_BACKOFF;
  self->retry_max_delay_ms = ORRERY_ORCHESTRATOR_DEFAULT_RETRY_MAX_DELAY_MS;
}

/**
 * orrery_orchestrator_new:
 * @bus: (nullable): the bus to publish on; a new one if %NULL
 * @devices: (nullable): the devices; one local device if %NULL
 *
 * Returns: (transfer full): a new orchestrator
 */
OrreryOrchestrator *
orrery_orchestrator_new (OrreryEventBus      *bus,
                         OrreryDeviceManager *devices)
{
  return g_object_new (ORRERY_TYPE_ORCHESTRATOR, "bus", bus, "device-manager", devices, NULL);
}
