/* orrery-base-device.c: the plumbing every device shares.
 *
 * The id, the device type, the capabilities, the concurrency limit, and the
 * count of running executions with the status it gives. A subclass
 * implements the execution and calls task_started()/task_finished() around
 * each one.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-Devices"

#include "orrery-device-private.h"
#include "orrery-constellation-private.h"

/**
 * OrreryBaseDevice:
 *
 * An abstract #OrreryDevice that owns what every device has: its
 * #OrreryBaseDevice:id, #OrreryBaseDevice:device-type,
 * #OrreryBaseDevice:capabilities and #OrreryBaseDevice:max-concurrency, and
 * its #OrreryBaseDevice:status, derived from the number of executions
 * running now.
 *
 * A subclass implements #OrreryBaseDeviceClass.execute_task_async (and,
 * when its executions have a result,
 * #OrreryBaseDeviceClass.execute_task_finish),
 * and calls orrery_base_device_task_started() when an execution starts and
 * orrery_base_device_task_finished() before it completes, and records when
 * the work really started and ended with orrery_base_device_record_start()
 * and orrery_base_device_record_end(). The built-in
 * #OrreryLocalDevice and #OrrerySimulatedDevice are such subclasses; a
 * plugin can add its own the same way.
 */

typedef struct
{
  char   *id;
  char   *device_type;
  char  **capabilities;
  guint   max_concurrency;
  guint   n_running;
  /* The run the device's executions belong to (orrery_base_device_set_run()). */
  char   *run_id;
  char   *run_dir;
} OrreryBaseDevicePrivate;

static void orrery_base_device_iface_init (OrreryDeviceInterface *iface);

G_DEFINE_ABSTRACT_TYPE_WITH_CODE (OrreryBaseDevice, orrery_base_device, G_TYPE_OBJECT,
                                  G_ADD_PRIVATE (OrreryBaseDevice)
                                  G_IMPLEMENT_INTERFACE (ORRERY_TYPE_DEVICE,
                                                         orrery_base_device_iface_init))

enum {
  PROP_0,
  PROP_ID,
  PROP_DEVICE_TYPE,
  PROP_CAPABILITIES,
  PROP_MAX_CONCURRENCY,
  PROP_STATUS,
  PROP_RUN_ID,
  PROP_RUN_DIR,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

#define PRIV(self) ((OrreryBaseDevicePrivate *) orrery_base_device_get_instance_private (self))
/* The interface's wrappers have checked the instance already: these are on
 * the dispatch path of every task. */
#define PRIV_OF_DEVICE(device) PRIV ((OrreryBaseDevice *) (device))

/* ------------------------------------------------------------------------ */
/* OrreryDevice */

static const char *
orrery_base_device_get_id (OrreryDevice *device)
{
  return PRIV_OF_DEVICE (device)->id;
}

static const char *
orrery_base_device_get_device_type (OrreryDevice *device)
{
  return PRIV_OF_DEVICE (device)->device_type;
}

static const char * const *
orrery_base_device_get_capabilities (OrreryDevice *device)
{
  return (const char * const *) PRIV_OF_DEVICE (device)->capabilities;
}

static guint
orrery_base_device_get_max_concurrency (OrreryDevice *device)
{
  return PRIV_OF_DEVICE (device)->max_concurrency;
}

static inline OrreryDeviceStatus
status_of (OrreryBaseDevicePrivate *priv)
{
  return priv->n_running >= priv->max_concurrency ? ORRERY_DEVICE_STATUS_BUSY
                                                  : ORRERY_DEVICE_STATUS_IDLE;
}

static OrreryDeviceStatus
orrery_base_device_get_status (OrreryDevice *device)
{
  return status_of (PRIV_OF_DEVICE (device));
}

static void
orrery_base_device_execute_async (OrreryDevice        *device,
                                  OrreryTask          *task,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  OrreryBaseDevice *self = (OrreryBaseDevice *) device;
  OrreryBaseDeviceClass *klass = ORRERY_BASE_DEVICE_GET_CLASS (self);

  if (G_UNLIKELY (klass->execute_task_async == NULL))
    {
      g_critical ("%s does not implement OrreryBaseDeviceClass.execute_task_async()",
                  G_OBJECT_TYPE_NAME (self));
      g_task_report_new_error (self, callback, user_data,
                               orrery_base_device_execute_async,
                               ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_FAILED,
                               "device “%s” cannot run tasks", PRIV (self)->id);
      return;
    }
  klass->execute_task_async (self, task, cancellable, callback, user_data);
}

static gboolean
orrery_base_device_execute_finish (OrreryDevice  *device,
                                   GAsyncResult  *result,
                                   GVariant     **out_result,
                                   GError       **error)
{
  OrreryBaseDevice *self = (OrreryBaseDevice *) device;

  if (g_async_result_is_tagged (result, orrery_base_device_execute_async))
    {
      if (out_result)
        *out_result = NULL;
      return g_task_propagate_boolean (G_TASK (result), error);
    }
  return ORRERY_BASE_DEVICE_GET_CLASS (self)->execute_task_finish (self, result,
                                                              out_result, error);
}

static void
orrery_base_device_iface_init (OrreryDeviceInterface *iface)
{
  iface->get_id = orrery_base_device_get_id;
  iface->get_device_type = orrery_base_device_get_device_type;
  iface->get_capabilities = orrery_base_device_get_capabilities;
  iface->get_max_concurrency = orrery_base_device_get_max_concurrency;
  iface->get_status = orrery_base_device_get_status;
  iface->execute_async = orrery_base_device_execute_async;
  iface->execute_finish = orrery_base_device_execute_finish;
}

/**
 * OrreryBaseDeviceClass::execute_task_async:
 * @self: a device
 * @task: the task to run
 * @cancellable: (nullable): stops the task: the device stops whatever it
 *   started and fails with %G_IO_ERROR_CANCELLED
 * @callback: (scope async): called when the task has finished
 * @user_data: (closure): data for @callback
 *
 * Runs @task once on @self, as orrery_device_execute_async() describes.
 * The implementation calls orrery_base_device_task_started() when the
 * execution has started and orrery_base_device_task_finished() just before
 * it completes it.
 */

/**
 * OrreryBaseDeviceClass::execute_task_finish:
 * @self: a device
 * @result: the result given to the callback
 * @out_result: (out) (optional) (nullable) (transfer full): where to store
 *   the task's result, an `a{sv}` dictionary, when the device has one
 * @error: return location for an error
 *
 * Finishes #OrreryBaseDeviceClass.execute_task_async, as
 * orrery_device_execute_finish() describes. The default implementation
 * takes a #GTask that returned a boolean and gives no result.
 *
 * Returns: %TRUE if the task succeeded
 */
static gboolean
orrery_base_device_real_execute_task_finish (OrreryBaseDevice  *self,
                                        GAsyncResult      *result,
                                        GVariant         **out_result,
                                        GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  if (out_result)
    *out_result = NULL;
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ------------------------------------------------------------------------ */
/* GObject */

static void
orrery_base_device_finalize (GObject *object)
{
  OrreryBaseDevicePrivate *priv = PRIV (ORRERY_BASE_DEVICE (object));

  g_free (priv->id);
  g_free (priv->device_type);
  g_strfreev (priv->capabilities);
  g_free (priv->run_id);
  g_free (priv->run_dir);

  G_OBJECT_CLASS (orrery_base_device_parent_class)->finalize (object);
}

static void
orrery_base_device_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  OrreryBaseDevicePrivate *priv = PRIV (ORRERY_BASE_DEVICE (object));

  switch (prop_id)
    {
    case PROP_ID: g_value_set_string (value, priv->id); break;
    case PROP_DEVICE_TYPE: g_value_set_string (value, priv->device_type); break;
    case PROP_CAPABILITIES: g_value_set_boxed (value, priv->capabilities); break;
    case PROP_MAX_CONCURRENCY: g_value_set_uint (value, priv->max_concurrency); break;
    case PROP_STATUS: g_value_set_enum (value, status_of (priv)); break;
    case PROP_RUN_ID: g_value_set_string (value, priv->run_id); break;
    case PROP_RUN_DIR: g_value_set_string (value, priv->run_dir); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
orrery_base_device_set_property (GObject      *object,
                                 guint         prop_id,
                                 const GValue *value,
                                 GParamSpec   *pspec)
{
  OrreryBaseDevice *self = ORRERY_BASE_DEVICE (object);
  OrreryBaseDevicePrivate *priv = PRIV (self);

  switch (prop_id)
    {
    case PROP_ID:
      priv->id = g_value_dup_string (value);
      break;
    case PROP_DEVICE_TYPE:
      {
        const char *type = g_value_get_string (value);

        /* NULL or empty: the class's default, set in constructed(). */
        priv->device_type = type && *type ? g_strdup (type) : NULL;
      }
      break;
    case PROP_CAPABILITIES:
      orrery_base_device_set_capabilities (self, g_value_get_boxed (value));
      break;
    case PROP_MAX_CONCURRENCY:
      priv->max_concurrency = g_value_get_uint (value);
      if (priv->max_concurrency == 0)
        priv->max_concurrency = g_get_num_processors ();
      break;
    case PROP_RUN_ID:
      orrery_base_device_set_run (self, g_value_get_string (value), priv->run_dir);
      break;
    case PROP_RUN_DIR:
      orrery_base_device_set_run (self, priv->run_id, g_value_get_string (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
orrery_base_device_constructed (GObject *object)
{
  OrreryBaseDevice *self = ORRERY_BASE_DEVICE (object);
  OrreryBaseDeviceClass *klass = ORRERY_BASE_DEVICE_GET_CLASS (self);
  OrreryBaseDevicePrivate *priv = PRIV (self);

  G_OBJECT_CLASS (orrery_base_device_parent_class)->constructed (object);
  if (priv->id == NULL)
    priv->id = g_strdup (klass->default_id ? klass->default_id : "device");
  if (priv->device_type == NULL)
    priv->device_type = g_strdup (klass->default_device_type ? klass->default_device_type
                                                             : "unknown");
  if (priv->capabilities == NULL)
    priv->capabilities = g_new0 (char *, 1);
  if (priv->max_concurrency == 0)
    priv->max_concurrency = g_get_num_processors ();
}

static void
orrery_base_device_class_init (OrreryBaseDeviceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = orrery_base_device_finalize;
  object_class->get_property = orrery_base_device_get_property;
  object_class->set_property = orrery_base_device_set_property;
  object_class->constructed = orrery_base_device_constructed;

  klass->execute_task_finish = orrery_base_device_real_execute_task_finish;
  klass->default_id = "device";
  klass->default_device_type = "unknown";

  /**
   * OrreryBaseDevice:id:
   *
   * The device's unique id (by default
   * #OrreryBaseDeviceClass.default_id).
   */
  properties[PROP_ID] =
    g_param_spec_string ("id", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * OrreryBaseDevice:device-type:
   *
   * The kind of system it is (`linux`, `windows`, ...), compared without
   * case to a task's `device_type`. %NULL or empty at construction means
   * #OrreryBaseDeviceClass.default_device_type: the host's for a
   * #OrreryLocalDevice, `simulated` for an #OrrerySimulatedDevice.
   */
  properties[PROP_DEVICE_TYPE] =
    g_param_spec_string ("device-type", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * OrreryBaseDevice:capabilities:
   *
   * What the device can do.
   */
  properties[PROP_CAPABILITIES] =
    g_param_spec_boxed ("capabilities", NULL, NULL, G_TYPE_STRV,
                        G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * OrreryBaseDevice:max-concurrency:
   *
   * How many tasks it runs at once; 0 at construction means the number of
   * processors.
   */
  properties[PROP_MAX_CONCURRENCY] =
    g_param_spec_uint ("max-concurrency", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * OrreryBaseDevice:status:
   *
   * %ORRERY_DEVICE_STATUS_BUSY while the device runs
   * #OrreryBaseDevice:max-concurrency executions, else
   * %ORRERY_DEVICE_STATUS_IDLE. Notified when it changes.
   */
  properties[PROP_STATUS] =
    g_param_spec_enum ("status", NULL, NULL,
                       ORRERY_TYPE_DEVICE_STATUS, ORRERY_DEVICE_STATUS_IDLE,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * OrreryBaseDevice:run-id:
   *
   * The id of the run the device's executions belong to, or %NULL. A
   * #OrreryLocalDevice gives it to its tasks as `ORRERY_RUN_ID`. Usually
   * set for every device at once by orrery_device_manager_set_run().
   */
  properties[PROP_RUN_ID] =
    g_param_spec_string ("run-id", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * OrreryBaseDevice:run-dir:
   *
   * The directory of the run, or %NULL. A #OrreryLocalDevice writes its
   * tasks' output, outputs and process records into its `logs/`
   * subdirectory.
   */
  properties[PROP_RUN_DIR] =
    g_param_spec_string ("run-dir", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
orrery_base_device_init (OrreryBaseDevice *self)
{
}

/* ------------------------------------------------------------------------ */
/* Public API */

/**
 * orrery_base_device_set_capabilities:
 * @self: a device
 * @capabilities: (nullable) (array zero-terminated=1): what the device can
 *   do
 *
 * Sets the device's capabilities.
 */
void
orrery_base_device_set_capabilities (OrreryBaseDevice   *self,
                                     const char * const *capabilities)
{
  OrreryBaseDevicePrivate *priv;

  g_return_if_fail (ORRERY_IS_BASE_DEVICE (self));

  priv = PRIV (self);
  g_strfreev (priv->capabilities);
  priv->capabilities = capabilities ? g_strdupv ((char **) capabilities) : g_new0 (char *, 1);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CAPABILITIES]);
}

/**
 * orrery_base_device_get_n_running:
 * @self: a device
 *
 * Returns: how many executions the device is running now
 */
guint
orrery_base_device_get_n_running (OrreryBaseDevice *self)
{
  g_return_val_if_fail (ORRERY_IS_BASE_DEVICE (self), 0);
  return PRIV (self)->n_running;
}

/**
 * orrery_base_device_task_started:
 * @self: a device
 *
 * Counts one more running execution. A subclass calls this when its
 * #OrreryBaseDeviceClass.execute_task_async has started one (not when it
 * fails at once), and notifies #OrreryBaseDevice:status when the device
 * becomes busy.
 */
void
orrery_base_device_task_started (OrreryBaseDevice *self)
{
  g_return_if_fail (ORRERY_IS_BASE_DEVICE (self));

  _orrery_base_device_task_started (self);
}

void
_orrery_base_device_task_started (OrreryBaseDevice *self)
{
  OrreryBaseDevicePrivate *priv = PRIV (self);

  if (++priv->n_running == priv->max_concurrency)
    g_object_notify_by_pspec ((GObject *) self, properties[PROP_STATUS]);
}

/**
 * orrery_base_device_task_finished:
 * @self: a device
 *
 * Counts one running execution less. A subclass calls this for each
 * orrery_base_device_task_started(), before it completes the execution
 * (so that the completion callback sees the device's new status), and
 * notifies #OrreryBaseDevice:status when the device stops being busy.
 */
void
orrery_base_device_task_finished (OrreryBaseDevice *self)
{
  g_return_if_fail (ORRERY_IS_BASE_DEVICE (self));

  _orrery_base_device_task_finished (self);
}

void
_orrery_base_device_task_finished (OrreryBaseDevice *self)
{
  OrreryBaseDevicePrivate *priv = PRIV (self);

  g_return_if_fail (priv->n_running > 0);
  if (priv->n_running-- == priv->max_concurrency)
    g_object_notify_by_pspec ((GObject *) self, properties[PROP_STATUS]);
}

/**
 * orrery_base_device_set_run:
 * @self: a device
 * @run_id: (nullable): the id of the run, or %NULL
 * @run_dir: (nullable) (type filename): the run's directory, or %NULL; a
 *   relative one is made absolute (against the current directory)
 *
 * Says which run later executions belong to: a device that keeps files per
 * run (the #OrreryLocalDevice writes each task's output to
 * `RUN_DIR/logs/`) puts them under @run_dir; @run_id is given to the tasks.
 * Executions already running keep the run they started with.
 * orrery_device_manager_set_run() calls this for every device it has and
 * will have.
 */
void
orrery_base_device_set_run (OrreryBaseDevice *self,
                            const char       *run_id,
                            const char       *run_dir)
{
  OrreryBaseDevicePrivate *priv;
  g_autofree char *absolute = NULL;

  g_return_if_fail (ORRERY_IS_BASE_DEVICE (self));

  priv = PRIV (self);
  if (g_strcmp0 (priv->run_id, run_id) != 0)
    {
      char *old = priv->run_id;

      priv->run_id = run_id && *run_id ? g_strdup (run_id) : NULL;
      g_free (old);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RUN_ID]);
    }
  /* Absolute: tasks get paths in it and may run in another directory. */
  if (run_dir != NULL && *run_dir != '\0')
    absolute = g_canonicalize_filename (run_dir, NULL);
  if (g_strcmp0 (priv->run_dir, absolute) != 0)
    {
      g_free (priv->run_dir);
      priv->run_dir = g_steal_pointer (&absolute);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RUN_DIR]);
    }
}

/**
 * orrery_base_device_get_run_id:
 * @self: a device
 *
 * Returns: (nullable): the id of the run set by
 *   orrery_base_device_set_run(), or %NULL
 */
const char *
orrery_base_device_get_run_id (OrreryBaseDevice *self)
{
  g_return_val_if_fail (ORRERY_IS_BASE_DEVICE (self), NULL);
  return PRIV (self)->run_id;
}

/**
 * orrery_base_device_get_run_dir:
 * @self: a device
 *
 * Returns: (nullable) (type filename): the run's directory set by
 *   orrery_base_device_set_run(), or %NULL
 */
const char *
orrery_base_device_get_run_dir (OrreryBaseDevice *self)
{
  g_return_val_if_fail (ORRERY_IS_BASE_DEVICE (self), NULL);
  return PRIV (self)->run_dir;
}

/**
 * orrery_base_device_record_start:
 * @self: a device
 * @task: the task being executed
 * @monotonic_us: when the work really started, as g_get_monotonic_time()
 *   gave it; 0 for now
 *
 * Records when the device started the work of @task (the process spawned,
 * the request sent). The orchestrator takes the task's recorded start,
 * end and duration (#OrreryTask:started-at, #OrreryTask:ended-at) from the
 * times the device records, not from when it dispatched the task or heard
 * of its end: a handler that holds the main loop cannot inflate them.
 * A device that records nothing gets the orchestrator's own times.
 */
void
orrery_base_device_record_start (OrreryBaseDevice *self,
                                 OrreryTask       *task,
                                 gint64            monotonic_us)
{
  g_return_if_fail (ORRERY_IS_BASE_DEVICE (self));
  g_return_if_fail (ORRERY_IS_TASK (task));

  _orrery_base_device_record_start (self, task, monotonic_us);
}

/**
 * orrery_base_device_record_end:
 * @self: a device
 * @task: the task being executed
 * @monotonic_us: when the work really ended (the process exited), as
 *   g_get_monotonic_time() gave it; 0 for now
 *
 * Records when the device's work on @task ended; see
 * orrery_base_device_record_start(). Call it before completing the
 * execution.
 */
void
orrery_base_device_record_end (OrreryBaseDevice *self,
                               OrreryTask       *task,
                               gint64            monotonic_us)
{
  g_return_if_fail (ORRERY_IS_BASE_DEVICE (self));
  g_return_if_fail (ORRERY_IS_TASK (task));

  _orrery_base_device_record_end (self, task, monotonic_us);
}

void
_orrery_base_device_record_start (OrreryBaseDevice *self,
                                  OrreryTask       *task,
                                  gint64            monotonic_us)
{
  _orrery_task_state_record_device_start (task, monotonic_us);
}

void
_orrery_base_device_record_end (OrreryBaseDevice *self,
                                OrreryTask       *task,
                                gint64            monotonic_us)
{
  _orrery_task_state_record_device_end (task, monotonic_us);
}
