/* orrery-device-manager.c: the devices of a host and how tasks pick one.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-Devices"

#include <string.h>

#include "orrery-device-private.h"
#include "orrery-device-kind-private.h"

typedef struct
{
  OrreryDevice *device;
  char         *id;
  guint         max;
  guint         running;
} ManagedDevice;

struct _OrreryDeviceManager
{
  GObject                 parent_instance;

  GPtrArray              *entries;     /* of ManagedDevice, in the order added */
  GHashTable             *by_id;       /* id -> ManagedDevice */
  GHashTable             *by_device;   /* device -> ManagedDevice */
  OrreryDispatchStrategy  strategy;
  guint                   cursor;      /* index of the last device picked */
  char                   *run_id;      /* orrery_device_manager_set_run() */
  char                   *run_dir;
  OrreryDeviceKinds      *kinds;       /* Type= name -> factory */
  /* The last task data seen to ask for no capability (a reference: its
   * address is not reused): tasks of one file share equal data, and a
   * lookup in serialised data costs more than the rest of select(). */
  GVariant               *no_caps_data;
};

/**
 * OrreryDeviceManager:
 *
 * The devices of a host and how tasks pick one.
 *
 * The manager keeps the devices in the order they were added, with the
 * number of tasks the orchestrator runs on each (acquire/release). Picking
 * a device is a scan of that short list: the device count is small, the
 * task count is not, so select() allocates nothing on the common path (a
 * task that names no target, no type and no capability).
 */
G_DEFINE_FINAL_TYPE (OrreryDeviceManager, orrery_device_manager, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_STRATEGY,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_DEVICE_ADDED,
  SIGNAL_DEVICE_REMOVED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
managed_device_free (ManagedDevice *entry)
{
  g_object_unref (entry->device);
  g_free (entry->id);
  g_free (entry);
}

static void
orrery_device_manager_finalize (GObject *object)
{
  OrreryDeviceManager *self = ORRERY_DEVICE_MANAGER (object);

  g_hash_table_unref (self->by_id);
  g_hash_table_unref (self->by_device);
  g_ptr_array_unref (self->entries);
  g_free (self->run_id);
  g_free (self->run_dir);
  _orrery_device_kinds_free (self->kinds);
  g_clear_pointer (&self->no_caps_data, g_variant_unref);

  G_OBJECT_CLASS (orrery_device_manager_parent_class)->finalize (object);
}

static void
orrery_device_manager_get_property (GObject    *object,
                                    guint       prop_id,
                                    GValue     *value,
                                    GParamSpec *pspec)
{
  OrreryDeviceManager *self = ORRERY_DEVICE_MANAGER (object);

  switch (prop_id)
    {
    case PROP_STRATEGY: g_value_set_enum (value, self->strategy); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
orrery_device_manager_set_property (GObject      *object,
                                    guint         prop_id,
                                    const GValue *value,
                                    GParamSpec   *pspec)
{
  OrreryDeviceManager *self = ORRERY_DEVICE_MANAGER (object);

  switch (prop_id)
    {
    case PROP_STRATEGY: orrery_device_manager_set_strategy (self, g_value_get_enum (value)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
orrery_device_manager_class_init (OrreryDeviceManagerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = orrery_device_manager_finalize;
  object_class->get_property = orrery_device_manager_get_property;
  object_class->set_property = orrery_device_manager_set_property;

  /**
   * OrreryDeviceManager:strategy:
   *
   * How orrery_device_manager_select() picks among the devices that can
   * take a task.
   */
  properties[PROP_STRATEGY] =
    g_param_spec_enum ("strategy", NULL, NULL,
                       ORRERY_TYPE_DISPATCH_STRATEGY, ORRERY_STRATEGY_ROUND_ROBIN,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * OrreryDeviceManager::device-added:
   * @self: the manager
   * @device: the device
   *
   * Emitted when a device is added.
   */
  signals[SIGNAL_DEVICE_ADDED] =
    g_signal_new ("device-added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, ORRERY_TYPE_DEVICE);

  /**
   * OrreryDeviceManager::device-removed:
   * @self: the manager
   * @device: the device
   *
   * Emitted when a device is removed.
   */
  signals[SIGNAL_DEVICE_REMOVED] =
    g_signal_new ("device-removed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, ORRERY_TYPE_DEVICE);
}

static void
orrery_device_manager_init (OrreryDeviceManager *self)
{
  self->entries = g_ptr_array_new_with_free_func ((GDestroyNotify) managed_device_free);
  self->by_id = g_hash_table_new (g_str_hash, g_str_equal);
  self->by_device = g_hash_table_new (g_direct_hash, g_direct_equal);
  self->strategy = ORRERY_STRATEGY_ROUND_ROBIN;
  self->cursor = G_MAXUINT;
  self->kinds = _orrery_device_kinds_new ();
}

/**
 * orrery_device_manager_new:
 *
 * Creates a manager with no device, the built-in device kinds and the
 * round-robin strategy.
 *
 * Returns: (transfer full): a new device manager
 */
OrreryDeviceManager *
orrery_device_manager_new (void)
{
  return g_object_new (ORRERY_TYPE_DEVICE_MANAGER, NULL);
}

/* Gives @device the run of @self: through orrery_base_device_set_run(), or
 * the `run-id` and `run-dir` string properties of a device of another kind
 * that has them. */
static void
apply_run (OrreryDeviceManager *self,
           OrreryDevice        *device)
{
  GObjectClass *klass;
  GParamSpec *id_spec, *dir_spec;

  if (ORRERY_IS_BASE_DEVICE (device))
    {
      orrery_base_device_set_run (ORRERY_BASE_DEVICE (device), self->run_id, self->run_dir);
      return;
    }
  klass = G_OBJECT_GET_CLASS (device);
  id_spec = g_object_class_find_property (klass, "run-id");
  dir_spec = g_object_class_find_property (klass, "run-dir");
  if (id_spec != NULL && id_spec->value_type == G_TYPE_STRING && (id_spec->flags & G_PARAM_WRITABLE))
    g_object_set (device, "run-id", self->run_id, NULL);
  if (dir_spec != NULL && dir_spec->value_type == G_TYPE_STRING && (dir_spec->flags & G_PARAM_WRITABLE))
    g_object_set (device, "run-dir", self->run_dir, NULL);
}

/**
 * orrery_device_manager_set_run:
 * @self: a device manager
 * @run_id: (nullable): the id of the run, or %NULL
 * @run_dir: (nullable) (type filename): the run's directory, or %NULL
 *
 * Says which run the tasks dispatched from now on belong to, for every
 * device of @self, now and added later: an #OrreryBaseDevice through
 * orrery_base_device_set_run(), a device of another kind through its
 * `run-id` and `run-dir` string properties if it has them. The local
 * device gives @run_id to its tasks (`ORRERY_RUN_ID`) and writes their
 * output and process records into `RUN_DIR/logs/`.
 */
void
orrery_device_manager_set_run (OrreryDeviceManager *self,
                               const char          *run_id,
                               const char          *run_dir)
{
  g_return_if_fail (ORRERY_IS_DEVICE_MANAGER (self));

  if (run_id != self->run_id)
    {
      g_free (self->run_id);
      self->run_id = run_id && *run_id ? g_strdup (run_id) : NULL;
    }
  if (run_dir != self->run_dir)
    {
      g_free (self->run_dir);
      self->run_dir = run_dir && *run_dir ? g_strdup (run_dir) : NULL;
    }
  for (guint i = 0; i < self->entries->len; i++)
    apply_run (self, ((ManagedDevice *) self->entries->pdata[i])->device);
}

/**
 * orrery_device_manager_add_device:
 * @self: a device manager
 * @device: the device to add
 * @error: return location for an error
 *
 * Adds @device, which must have an id no other device of @self has, and
 * emits #OrreryDeviceManager::device-added.
 *
 * Returns: %TRUE if the device was added; %FALSE with
 *   %ORRERY_DEVICE_ERROR_BAD_CONFIG if the id is taken or empty
 */
gboolean
orrery_device_manager_add_device (OrreryDeviceManager  *self,
                                  OrreryDevice         *device,
                                  GError              **error)
{
  const char *id;
  ManagedDevice *entry;

  g_return_val_if_fail (ORRERY_IS_DEVICE_MANAGER (self), FALSE);
  g_return_val_if_fail (ORRERY_IS_DEVICE (device), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  id = orrery_device_get_id (device);
  if (id == NULL || *id == '\0')
    {
      g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_CONFIG,
                   "a device (%s) has no id", G_OBJECT_TYPE_NAME (device));
      return FALSE;
    }
  if (g_hash_table_contains (self->by_id, id) ||
      g_hash_table_contains (self->by_device, device))
    {
      g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_CONFIG,
                   "there is already a device “%s”", id);
      return FALSE;
    }

  entry = g_new0 (ManagedDevice, 1);
  entry->device = g_object_ref (device);
  entry->id = g_strdup (id);
  entry->max = orrery_device_get_max_concurrency (device);
  g_ptr_array_add (self->entries, entry);
  g_hash_table_insert (self->by_id, entry->id, entry);
  g_hash_table_insert (self->by_device, device, entry);

  if (self->run_id != NULL || self->run_dir != NULL)
    apply_run (self, device);

  g_debug ("device “%s” added (type %s, %u slots)", id,
           orrery_device_get_device_type (device), entry->max);
  g_signal_emit (self, signals[SIGNAL_DEVICE_ADDED], 0, device);
  return TRUE;
}

/**
 * orrery_device_manager_remove_device:
 * @self: a device manager
 * @device_id: the id of the device to remove
 *
 * Removes a device and emits #OrreryDeviceManager::device-removed. Tasks
 * running on it go on; releasing them later is harmless.
 *
 * Returns: %TRUE if there was such a device
 */
gboolean
orrery_device_manager_remove_device (OrreryDeviceManager *self,
                                     const char          *device_id)
{
  g_autoptr(OrreryDevice) device = NULL;
  ManagedDevice *entry;
  guint index;

  g_return_val_if_fail (ORRERY_IS_DEVICE_MANAGER (self), FALSE);
  g_return_val_if_fail (device_id != NULL, FALSE);

  entry = g_hash_table_lookup (self->by_id, device_id);
  if (entry == NULL)
    return FALSE;

  device = g_object_ref (entry->device);
  g_hash_table_remove (self->by_id, entry->id);
  g_hash_table_remove (self->by_device, entry->device);
  if (g_ptr_array_find (self->entries, entry, &index))
    {
      g_ptr_array_remove_index (self->entries, index);
      if (self->cursor != G_MAXUINT && self->cursor >= index)
        self->cursor = self->cursor > 0 ? self->cursor - 1 : G_MAXUINT;
    }

  g_signal_emit (self, signals[SIGNAL_DEVICE_REMOVED], 0, device);
  return TRUE;
}

/**
 * orrery_device_manager_get_device:
 * @self: a device manager
 * @device_id: a device id
 *
 * Returns: (transfer none) (nullable): the device with that id, if any
 */
OrreryDevice *
orrery_device_manager_get_device (OrreryDeviceManager *self,
                                  const char          *device_id)
{
  ManagedDevice *entry;

  g_return_val_if_fail (ORRERY_IS_DEVICE_MANAGER (self), NULL);
  g_return_val_if_fail (device_id != NULL, NULL);

  entry = g_hash_table_lookup (self->by_id, device_id);
  return entry ? entry->device : NULL;
}

/**
 * orrery_device_manager_get_devices:
 * @self: a device manager
 *
 * Returns: (transfer container) (element-type OrreryDevice): the devices,
 *   in the order they were added
 */
GList *
orrery_device_manager_get_devices (OrreryDeviceManager *self)
{
  GList *list = NULL;

  g_return_val_if_fail (ORRERY_IS_DEVICE_MANAGER (self), NULL);

  for (guint i = self->entries->len; i > 0; i--)
    list = g_list_prepend (list, ((ManagedDevice *) self->entries->pdata[i - 1])->device);
  return list;
}

/**
 * orrery_device_manager_get_n_devices:
 * @self: a device manager
 *
 * Returns: how many devices @self has
 */
guint
orrery_device_manager_get_n_devices (OrreryDeviceManager *self)
{
  g_return_val_if_fail (ORRERY_IS_DEVICE_MANAGER (self), 0);
  return self->entries->len;
}

/**
 * orrery_device_manager_set_strategy:
 * @self: a device manager
 * @strategy: how to pick a device
 *
 * Sets the dispatch strategy.
 */
void
orrery_device_manager_set_strategy (OrreryDeviceManager    *self,
                                    OrreryDispatchStrategy  strategy)
{
  g_return_if_fail (ORRERY_IS_DEVICE_MANAGER (self));
  g_return_if_fail (strategy <= ORRERY_STRATEGY_LOAD_BALANCE);

  if (self->strategy == strategy)
    return;
  self->strategy = strategy;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STRATEGY]);
}

/**
 * orrery_device_manager_get_strategy:
 * @self: a device manager
 *
 * Returns: the dispatch strategy
 */
OrreryDispatchStrategy
orrery_device_manager_get_strategy (OrreryDeviceManager *self)
{
  g_return_val_if_fail (ORRERY_IS_DEVICE_MANAGER (self), ORRERY_STRATEGY_ROUND_ROBIN);
  return self->strategy;
}

/* ------------------------------------------------------------------------ */
/* Eligibility and selection. */

typedef struct
{
  const char  *device_type;   /* NULL: any */
  char       **caps;          /* NULL: none */
} Requirements;

static void
requirements_clear (Requirements *req)
{
  g_clear_pointer (&req->caps, g_strfreev);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Requirements, requirements_clear)

static gboolean
requirements_init (OrreryDeviceManager  *self,
                   Requirements         *req,
                   OrreryTask           *task,
                   GError              **error)
{
  const char *type = orrery_task_get_device_type (task);
  GVariant *data = orrery_task_get_task_data (task);

  req->device_type = type && *type ? type : NULL;
  req->caps = NULL;
  if (data == NULL || data == self->no_caps_data)
    return TRUE;
  if (!_orrery_task_dup_capabilities (task, &req->caps, error))
    return FALSE;
  if (req->caps == NULL)
    {
      g_clear_pointer (&self->no_caps_data, g_variant_unref);
      self->no_caps_data = g_variant_ref (data);
    }
  return TRUE;
}

static gboolean
has_all_caps (ManagedDevice      *entry,
              const Requirements *req)
{
  if (req->caps == NULL)
    return TRUE;
  for (char **c = req->caps; *c; c++)
    if (!orrery_device_has_capability (entry->device, *c))
      return FALSE;
  return TRUE;
}

static gboolean
is_eligible (ManagedDevice      *entry,
             const Requirements *req)
{
  if (req->device_type != NULL &&
      g_ascii_strcasecmp (orrery_device_get_device_type (entry->device), req->device_type) != 0)
    return FALSE;
  return has_all_caps (entry, req);
}

static char *
join_caps (char **caps)
{
  GString *s = g_string_new (NULL);

  for (char **c = caps; *c; c++)
    g_string_append_printf (s, "%s“%s”", c == caps ? "" : ", ", *c);
  return g_string_free (s, FALSE);
}

static char *
missing_caps (ManagedDevice      *entry,
              const Requirements *req)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) missing = NULL;

  for (char **c = req->caps; *c; c++)
    if (!orrery_device_has_capability (entry->device, *c))
      g_strv_builder_add (builder, *c);
  missing = g_strv_builder_end (builder);
  return join_caps (missing);
}

/* Why no device could ever take @task. */
static void
set_no_device_error (OrreryDeviceManager *self,
                     OrreryTask          *task,
                     ManagedDevice       *target,
                     const Requirements  *req,
                     GError             **error)
{
  const char *task_id = orrery_task_get_id (task);
  const char *target_id = orrery_task_get_target_device_id (task);
  g_autofree char *caps = req->caps ? join_caps (req->caps) : NULL;
  g_autofree char *reason = NULL;

  if (target_id && *target_id)
    {
      if (target == NULL)
        reason = g_strdup_printf ("target device “%s” does not exist", target_id);
      else if (req->device_type &&
               g_ascii_strcasecmp (orrery_device_get_device_type (target->device),
                                   req->device_type) != 0)
        reason = g_strdup_printf ("target device “%s” is of type “%s”, not “%s”",
                                  target_id, orrery_device_get_device_type (target->device),
                                  req->device_type);
      else
        {
          g_autofree char *missing = missing_caps (target, req);

          reason = g_strdup_printf ("target device “%s” lacks the capabilities %s",
                                    target_id, missing);
        }
    }
  else if (self->entries->len == 0)
    reason = g_strdup ("there is no device");
  else if (req->device_type && caps)
    reason = g_strdup_printf ("no device of type “%s” with capabilities %s",
                              req->device_type, caps);
  else if (req->device_type)
    reason = g_strdup_printf ("no device of type “%s”", req->device_type);
  else
    reason = g_strdup_printf ("no device with capabilities %s", caps);

  g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_NO_DEVICE,
               "no device can run task “%s”: %s", task_id, reason);
}

static inline gboolean
has_free_slot (ManagedDevice *entry)
{
  return entry->running < entry->max;
}

/* Whether a's load (running / max) is below b's. */
static inline gboolean
less_loaded (ManagedDevice *a,
             ManagedDevice *b)
{
  return (guint64) a->running * b->max < (guint64) b->running * a->max;
}

/* The share of the device's capabilities that the task uses: 1 for a
 * device that has exactly what the task needs (or nothing, for a task that
 * needs nothing). */
static double
match_score (ManagedDevice      *entry,
             const Requirements *req)
{
  guint n_caps = g_strv_length ((char **) orrery_device_get_capabilities (entry->device));
  guint n_req = req->caps ? g_strv_length (req->caps) : 0;

  if (n_caps == 0)
    return 1.0;
  return (double) MIN (n_req, n_caps) / n_caps;
}

/* Picks among the eligible entries with a free slot, scanning from the one
 * after the last pick so that ties rotate. Sets *out_eligible to whether
 * any entry is eligible at all. */
static ManagedDevice *
pick (OrreryDeviceManager *self,
      const Requirements  *req,
      gboolean            *out_eligible)
{
  guint n = self->entries->len;
  guint start = self->cursor == G_MAXUINT ? 0 : (self->cursor + 1) % n;
  gboolean any_requirement = req->device_type != NULL || req->caps != NULL;
  gboolean eligible = !any_requirement;
  ManagedDevice *best = NULL;
  double best_score = -1.0;
  guint best_index = 0;

  for (guint k = 0; k < n; k++)
    {
      guint i = (start + k) % n;
      ManagedDevice *entry = self->entries->pdata[i];

      if (any_requirement && !is_eligible (entry, req))
        continue;
      eligible = TRUE;
      if (!has_free_slot (entry))
        continue;

      switch (self->strategy)
        {
        case ORRERY_STRATEGY_ROUND_ROBIN:
          self->cursor = i;
          *out_eligible = TRUE;
          return entry;

        case ORRERY_STRATEGY_LOAD_BALANCE:
          if (best == NULL || less_loaded (entry, best))
            best = entry, best_index = i;
          break;

        case ORRERY_STRATEGY_CAPABILITY_MATCH:
        default:
          {
            double score = match_score (entry, req);

            if (best == NULL || score > best_score ||
                (score == best_score && less_loaded (entry, best)))
              best = entry, best_index = i, best_score = score;
          }
          break;
        }
    }

  *out_eligible = eligible;
  if (best != NULL)
    self->cursor = best_index;
  return best;
}

/**
 * orrery_device_manager_can_run:
 * @self: a device manager
 * @task: a task
 * @error: return location for an error
 *
 * Checks that some device could take @task, busy or not: its target device
 * if it names one, else a device of its device type (compared without case)
 * with every capability listed in its task data's `capabilities`.
 *
 * Returns: %TRUE if a device could take @task; %FALSE with
 *   %ORRERY_DEVICE_ERROR_NO_DEVICE (or %ORRERY_DEVICE_ERROR_BAD_TASK_DATA
 *   when `capabilities` is not a list of strings) otherwise
 */
gboolean
orrery_device_manager_can_run (OrreryDeviceManager  *self,
                               OrreryTask           *task,
                               GError              **error)
{
  g_auto(Requirements) req = { NULL, NULL };
  const char *target_id;

  g_return_val_if_fail (ORRERY_IS_DEVICE_MANAGER (self), FALSE);
  g_return_val_if_fail (ORRERY_IS_TASK (task), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!requirements_init (self, &req, task, error))
    return FALSE;

  target_id = orrery_task_get_target_device_id (task);
  if (target_id && *target_id)
    {
      ManagedDevice *target = g_hash_table_lookup (self->by_id, target_id);

      if (target == NULL || !is_eligible (target, &req))
        {
          set_no_device_error (self, task, target, &req, error);
          return FALSE;
        }
      return TRUE;
    }

  for (guint i = 0; i < self->entries->len; i++)
    if (is_eligible (self->entries->pdata[i], &req))
      return TRUE;
  set_no_device_error (self, task, NULL, &req, error);
  return FALSE;
}

/**
 * orrery_device_manager_select:
 * @self: a device manager
 * @task: the task to place
 * @error: return location for an error
 *
 * Picks a device that can take @task now, by the manager's strategy:
 *
 * - round-robin: the next eligible device (after the last one picked) with
 *   a free slot
 * - capability-match: the eligible device with a free slot whose
 *   capabilities fit the task best (the largest share of the device's
 *   capabilities required by the task, so that devices with more are kept
 *   for the tasks that need them); ties go to the least loaded
 * - load-balance: the eligible device with the lowest load (running tasks
 *   over its concurrency limit)
 *
 * Eligibility is that of orrery_device_manager_can_run(). A device has a
 * free slot when fewer tasks than its concurrency limit are acquired on it.
 * Selecting does not acquire: call orrery_device_manager_acquire() when
 * the task is started on the device.
 *
 * Returns: (transfer none) (nullable): a device; %NULL without an error
 *   when every eligible device is busy (try again after a release); %NULL
 *   with %ORRERY_DEVICE_ERROR_NO_DEVICE when no device could ever take the
 *   task
 */
OrreryDevice *
orrery_device_manager_select (OrreryDeviceManager  *self,
                              OrreryTask           *task,
                              GError              **error)
{
  g_auto(Requirements) req = { NULL, NULL };
  const char *target_id;
  gboolean eligible = FALSE;
  ManagedDevice *entry;

  g_return_val_if_fail (ORRERY_IS_DEVICE_MANAGER (self), NULL);
  g_return_val_if_fail (ORRERY_IS_TASK (task), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!requirements_init (self, &req, task, error))
    return NULL;

  target_id = orrery_task_get_target_device_id (task);
  if (target_id && *target_id)
    {
      entry = g_hash_table_lookup (self->by_id, target_id);
      if (entry == NULL || !is_eligible (entry, &req))
        {
          set_no_device_error (self, task, entry, &req, error);
          return NULL;
        }
      return has_free_slot (entry) ? entry->device : NULL;
    }

  if (self->entries->len == 0)
    {
      set_no_device_error (self, task, NULL, &req, error);
      return NULL;
    }

  entry = pick (self, &req, &eligible);
  if (entry != NULL)
    return entry->device;
  if (!eligible)
    set_no_device_error (self, task, NULL, &req, error);
  return NULL;
}

/**
 * orrery_device_manager_acquire:
 * @self: a device manager
 * @device: a device of @self
 *
 * Counts one more task running on @device (call it when the task is
 * started there).
 */
void
orrery_device_manager_acquire (OrreryDeviceManager *self,
                               OrreryDevice        *device)
{
  ManagedDevice *entry;

  g_return_if_fail (ORRERY_IS_DEVICE_MANAGER (self));

  entry = g_hash_table_lookup (self->by_device, device);
  g_return_if_fail (entry != NULL);
  entry->running++;
}

/**
 * orrery_device_manager_release:
 * @self: a device manager
 * @device: a device
 *
 * Counts one task fewer running on @device (call it when the task has
 * finished there). Releasing a device that has been removed does nothing.
 */
void
orrery_device_manager_release (OrreryDeviceManager *self,
                               OrreryDevice        *device)
{
  ManagedDevice *entry;

  g_return_if_fail (ORRERY_IS_DEVICE_MANAGER (self));

  entry = g_hash_table_lookup (self->by_device, device);
  if (entry == NULL)
    return;
  g_return_if_fail (entry->running > 0);
  entry->running--;
}

/**
 * orrery_device_manager_get_running:
 * @self: a device manager
 * @device: a device
 *
 * Returns: how many tasks are acquired on @device (0 for a device @self
 *   does not have)
 */
guint
orrery_device_manager_get_running (OrreryDeviceManager *self,
                                   OrreryDevice        *device)
{
  ManagedDevice *entry;

  g_return_val_if_fail (ORRERY_IS_DEVICE_MANAGER (self), 0);

  entry = g_hash_table_lookup (self->by_device, device);
  return entry ? entry->running : 0;
}

/**
 * orrery_device_manager_get_running_total:
 * @self: a device manager
 *
 * Returns: how many tasks are acquired on all devices
 */
guint
orrery_device_manager_get_running_total (OrreryDeviceManager *self)
{
  guint total = 0;

  g_return_val_if_fail (ORRERY_IS_DEVICE_MANAGER (self), 0);

  for (guint i = 0; i < self->entries->len; i++)
    total += ((ManagedDevice *) self->entries->pdata[i])->running;
  return total;
}

/**
 * orrery_device_manager_get_free_slots_total:
 * @self: a device manager
 *
 * Returns: how many more tasks the devices can take now, all together
 *   (saturating at %G_MAXUINT)
 */
guint
orrery_device_manager_get_free_slots_total (OrreryDeviceManager *self)
{
  guint64 total = 0;

  g_return_val_if_fail (ORRERY_IS_DEVICE_MANAGER (self), 0);

  for (guint i = 0; i < self->entries->len; i++)
    {
      ManagedDevice *entry = self->entries->pdata[i];

      if (entry->running < entry->max)
        total += entry->max - entry->running;
    }
  return (guint) MIN (total, G_MAXUINT);
}

/* ------------------------------------------------------------------------ */
/* Configuration. */

/**
 * orrery_device_manager_register_kind:
 * @self: a device manager
 * @kind: the kind's name, the `Type=` of its devices' groups (any case)
 * @factory: (scope notified) (closure user_data) (destroy destroy): what
 *   builds a device of @kind from its group
 * @user_data: data for @factory
 * @destroy: (nullable): frees @user_data when the kind is unregistered or
 *   @self finalized
 * @error: return location for an error
 *
 * Adds a device kind: from then on orrery_device_manager_load_config()
 * builds every `[Device NAME]` group with `Type=`@kind with @factory.
 * Every manager starts with the built-in kinds `local` and `simulated`.
 *
 * Returns: %TRUE on success; %FALSE with
 *   %ORRERY_DEVICE_ERROR_DUPLICATE_KIND when @self already has a kind of
 *   that name (@destroy is then called on @user_data)
 */
gboolean
orrery_device_manager_register_kind (OrreryDeviceManager      *self,
                                     const char               *kind,
                                     OrreryDeviceKindFactory   factory,
                                     gpointer                  user_data,
                                     GDestroyNotify            destroy,
                                     GError                  **error)
{
  g_return_val_if_fail (ORRERY_IS_DEVICE_MANAGER (self), FALSE);
  g_return_val_if_fail (kind != NULL && *kind != '\0', FALSE);
  g_return_val_if_fail (factory != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!_orrery_device_kinds_add (self->kinds, kind, factory, user_data, destroy, error))
    {
      if (destroy != NULL)
        destroy (user_data);
      return FALSE;
    }
  return TRUE;
}

/**
 * orrery_device_manager_unregister_kind:
 * @self: a device manager
 * @kind: a kind's name (any case)
 *
 * Removes a device kind. Devices already built stay.
 *
 * Returns: whether @self had that kind
 */
gboolean
orrery_device_manager_unregister_kind (OrreryDeviceManager *self,
                                       const char          *kind)
{
  g_return_val_if_fail (ORRERY_IS_DEVICE_MANAGER (self), FALSE);
  g_return_val_if_fail (kind != NULL, FALSE);

  return _orrery_device_kinds_remove (self->kinds, kind);
}

/**
 * orrery_device_manager_has_kind:
 * @self: a device manager
 * @kind: a kind's name (any case)
 *
 * Returns: whether @self can build devices of @kind
 */
gboolean
orrery_device_manager_has_kind (OrreryDeviceManager *self,
                                const char          *kind)
{
  g_return_val_if_fail (ORRERY_IS_DEVICE_MANAGER (self), FALSE);
  g_return_val_if_fail (kind != NULL, FALSE);

  return _orrery_device_kinds_has (self->kinds, kind);
}

/**
 * orrery_device_manager_get_kinds:
 * @self: a device manager
 *
 * Returns: (transfer full) (array zero-terminated=1): the names of the
 *   device kinds @self can build, sorted (in lower case)
 */
char **
orrery_device_manager_get_kinds (OrreryDeviceManager *self)
{
  g_return_val_if_fail (ORRERY_IS_DEVICE_MANAGER (self), NULL);

  return _orrery_device_kinds_list (self->kinds);
}

/* Every `[Device NAME]` group of @config, all or none. */
static gboolean
load_devices (OrreryDeviceManager  *self,
              OrreryConfig         *config,
              GError              **error)
{
  g_autoptr(GPtrArray) devices = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_auto(GStrv) groups = orrery_config_get_groups (config);

  for (char **g = groups; *g; g++)
    {
      OrreryDevice *device;
      const char *id;

      if (!g_str_has_prefix (*g, ORRERY_DEVICE_GROUP_PREFIX))
        continue;
      device = _orrery_device_kinds_build (self->kinds, config, *g, error);
      if (device == NULL)
        return FALSE;
      g_ptr_array_add (devices, device);
      id = orrery_device_get_id (device);
      if (g_hash_table_contains (seen, id) ||
          g_hash_table_contains (self->by_id, id))
        {
          g_auto(GStrv) keys = orrery_config_get_keys (config, *g);
          g_autofree char *origin = keys[0] ? orrery_config_get_origin (config, *g, keys[0]) : NULL;
          const char *file = origin ? origin : orrery_config_get_file (config);
          g_autofree char *where = orrery_escape_for_terminal (file ? file : "configuration", -1);
          g_autofree char *shown = orrery_escape_for_terminal (id, -1);
          g_autofree char *group = orrery_escape_for_terminal (*g, -1);

          g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_CONFIG,
                       "%s: [%s]: there is already a device “%s”", where, group, shown);
          return FALSE;
        }
      g_hash_table_add (seen, (gpointer) id);
    }

  for (guint i = 0; i < devices->len; i++)
    if (!orrery_device_manager_add_device (self, devices->pdata[i], error))
      return FALSE;
  return TRUE;
}

/**
 * orrery_device_manager_load_config:
 * @self: a device manager
 * @config: the host configuration
 * @error: return location for an error
 *
 * Builds the devices of the host configuration, as `orrery run` does: a
 * device for every `[Device NAME]` group (NAME is the device's id), built
 * by the factory of its kind (`Type`); then, if @self still has no
 * device, the default one (orrery_device_manager_add_default_devices()).
 * The keys every kind reads:
 *
 * - `Type`: the kind, `local` (the default), `simulated`, or one a script
 *   or a plugin registered (orrery_device_manager_register_kind(),
 *   orrery_plugin_context_register_device_kind())
 * - `DeviceType`: the kind of system; by default the host's for a local
 *   device (see orrery_get_host_device_type()), `simulated` for a simulated
 *   one
 * - `Capabilities`: a list, such as `gpu;docker`
 * - `MaxConcurrency`: a positive integer; by default the number of
 *   processors
 *
 * and those of the local kind only:
 *
 * - `MaxOutputBytes`: how many bytes of each output stream a result keeps
 * - `LogMaxBytes`: with a run directory, how many bytes of each output
 *   stream an execution writes to its log files (64 MiB by default)
 *
 * Plugins that add kinds must be loaded before this call (the host loads
 * them first). Either every device is added or, on an error, none.
 *
 * Returns: %TRUE on success; %FALSE with %ORRERY_DEVICE_ERROR_BAD_CONFIG
 *   (or the error of a plugin kind's factory), naming the file the key
 *   came from, the group and the key, otherwise
 */
gboolean
orrery_device_manager_load_config (OrreryDeviceManager  *self,
                                   OrreryConfig         *config,
                                   GError              **error)
{
  g_return_val_if_fail (ORRERY_IS_DEVICE_MANAGER (self), FALSE);
  g_return_val_if_fail (ORRERY_IS_CONFIG (config), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!load_devices (self, config, error))
    return FALSE;
  orrery_device_manager_add_default_devices (self);
  return TRUE;
}

/**
 * orrery_device_manager_load_keyfile:
 * @self: a device manager
 * @keyfile: the host configuration
 * @file_name_for_errors: (nullable): the name of the file, for the error
 *   messages
 * @error: return location for an error
 *
 * Adds a device for every `[Device NAME]` group of @keyfile, as
 * orrery_device_manager_load_config() does, but adds no default device.
 *
 * Returns: %TRUE on success; %FALSE with %ORRERY_DEVICE_ERROR_BAD_CONFIG,
 *   naming the file, the group and the key, otherwise
 */
gboolean
orrery_device_manager_load_keyfile (OrreryDeviceManager  *self,
                                    GKeyFile             *keyfile,
                                    const char           *file_name_for_errors,
                                    GError              **error)
{
  g_autoptr(OrreryConfig) config = orrery_config_new ();
  g_autofree char *data = NULL;

  g_return_val_if_fail (ORRERY_IS_DEVICE_MANAGER (self), FALSE);
  g_return_val_if_fail (keyfile != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  data = g_key_file_to_data (keyfile, NULL, NULL);
  if (!orrery_config_load_data (config, data,
                                file_name_for_errors ? file_name_for_errors : "configuration",
                                error))
    return FALSE;
  return load_devices (self, config, error);
}

/**
 * orrery_device_manager_add_default_devices:
 * @self: a device manager
 *
 * If @self has no device, adds the default one: a local device `local` of
 * the host's device type that runs as many tasks at once as there are
 * processors. Call it after loading the configuration.
 */
void
orrery_device_manager_add_default_devices (OrreryDeviceManager *self)
{
  g_autoptr(OrreryLocalDevice) device = NULL;

  g_return_if_fail (ORRERY_IS_DEVICE_MANAGER (self));

  if (self->entries->len > 0)
    return;
  device = orrery_local_device_new ("local", NULL, g_get_num_processors ());
  orrery_device_manager_add_device (self, ORRERY_DEVICE (device), NULL);
}

/* ------------------------------------------------------------------------ */

/**
 * orrery_dispatch_strategy_to_nick:
 * @strategy: a dispatch strategy
 *
 * Returns: (transfer none): the name of @strategy: `round-robin`,
 *   `capability-match` or `load-balance`
 */
const char *
orrery_dispatch_strategy_to_nick (OrreryDispatchStrategy strategy)
{
  const char *nick = _orrery_enum_to_nick (ORRERY_TYPE_DISPATCH_STRATEGY, strategy);

  g_return_val_if_fail (nick != NULL, NULL);
  return nick;
}

/**
 * orrery_dispatch_strategy_from_nick:
 * @nick: a name such as `load-balance` (`load_balance` and any case are
 *   accepted too)
 * @out_strategy: (out): where to store the strategy
 *
 * Returns: whether @nick names a dispatch strategy
 */
gboolean
orrery_dispatch_strategy_from_nick (const char             *nick,
                                    OrreryDispatchStrategy *out_strategy)
{
  gint value;

  g_return_val_if_fail (nick != NULL, FALSE);

  if (!_orrery_enum_from_nick (ORRERY_TYPE_DISPATCH_STRATEGY, nick, &value))
    return FALSE;
  if (out_strategy)
    *out_strategy = value;
  return TRUE;
}
