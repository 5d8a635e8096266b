/* test-base-device.c: OrreryBaseDevice, through a device written here the
 * way a plugin would write one: a subclass that implements only
 * execute_task_async.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <orrery.h>

/* ------------------------------------------------------------------------ */
/* A trivial synchronous device: "runs" a task by completing it at once,
 * failing when its task data says `fail`. */

#define TEST_TYPE_SYNC_DEVICE (test_sync_device_get_type ())
G_DECLARE_FINAL_TYPE (TestSyncDevice, test_sync_device, TEST, SYNC_DEVICE, OrreryBaseDevice)

struct _TestSyncDevice
{
  OrreryBaseDevice parent_instance;

  guint            n_executed;
  guint            max_seen_running;
  GPtrArray       *ran;              /* task ids */
};

G_DEFINE_FINAL_TYPE (TestSyncDevice, test_sync_device, ORRERY_TYPE_BASE_DEVICE)

static void
test_sync_device_execute_task_async (OrreryBaseDevice    *device,
                                     OrreryTask          *task,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  TestSyncDevice *self = TEST_SYNC_DEVICE (device);
  g_autoptr(GTask) gtask = g_task_new (self, cancellable, callback, user_data);
  GVariant *data = orrery_task_get_task_data (task);
  gboolean fail = FALSE;
  gint64 work_us = 0;

  orrery_base_device_task_started (device);
  /* A device with its own clock of the work: it says when the work started
   * and ended (here: a second ago, lasting work_us). */
  if (data != NULL && g_variant_lookup (data, "work_us", "x", &work_us))
    {
      gint64 start = g_get_monotonic_time () - G_USEC_PER_SEC;

      orrery_base_device_record_start (device, task, start);
      orrery_base_device_record_end (device, task, start + work_us);
    }
  self->max_seen_running = MAX (self->max_seen_running,
                                orrery_base_device_get_n_running (device));
  self->n_executed++;
  g_ptr_array_add (self->ran, g_strdup (orrery_task_get_id (task)));
  if (data != NULL)
    g_variant_lookup (data, "fail", "b", &fail);
  orrery_base_device_task_finished (device);

  if (fail)
    g_task_return_new_error (gtask, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_FAILED,
                             "told to fail");
  else
    g_task_return_boolean (gtask, TRUE);
}

static void
test_sync_device_finalize (GObject *object)
{
  g_ptr_array_unref (TEST_SYNC_DEVICE (object)->ran);
  G_OBJECT_CLASS (test_sync_device_parent_class)->finalize (object);
}

static void
test_sync_device_class_init (TestSyncDeviceClass *klass)
{
  OrreryBaseDeviceClass *device_class = ORRERY_BASE_DEVICE_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = test_sync_device_finalize;

  device_class->execute_task_async = test_sync_device_execute_task_async;
  device_class->default_id = "sync";
  device_class->default_device_type = "test";
}

static void
test_sync_device_init (TestSyncDevice *self)
{
  self->ran = g_ptr_array_new_with_free_func (g_free);
}

static gboolean
ran (TestSyncDevice *self,
     const char     *task_id)
{
  return g_ptr_array_find_with_equal_func (self->ran, task_id, g_str_equal, NULL);
}

static TestSyncDevice *
test_sync_device_new (const char *id,
                      guint       max_concurrency)
{
  return g_object_new (TEST_TYPE_SYNC_DEVICE,
                       "id", id,
                       "max-concurrency", max_concurrency,
                       NULL);
}

/* ------------------------------------------------------------------------ */

static void
count_notify (GObject    *object,
              GParamSpec *pspec,
              guint      *count)
{
  (*count)++;
}

static void
test_properties_and_status (void)
{
  g_autoptr(TestSyncDevice) plain = g_object_new (TEST_TYPE_SYNC_DEVICE, NULL);
  g_autoptr(TestSyncDevice) dev = test_sync_device_new ("two", 2);
  OrreryDevice *device = ORRERY_DEVICE (dev);
  OrreryBaseDevice *base = ORRERY_BASE_DEVICE (dev);
  const char *caps[] = { "gpu", NULL };
  OrreryDeviceStatus status;
  guint n_status = 0, n_caps = 0;

  g_assert_true (G_TYPE_IS_ABSTRACT (ORRERY_TYPE_BASE_DEVICE));
  g_assert_true (g_type_is_a (TEST_TYPE_SYNC_DEVICE, ORRERY_TYPE_DEVICE));

  /* The class's defaults, and the number of processors for 0. */
  g_assert_cmpstr (orrery_device_get_id (ORRERY_DEVICE (plain)), ==, "sync");
  g_assert_cmpstr (orrery_device_get_device_type (ORRERY_DEVICE (plain)), ==, "test");
  g_assert_cmpuint (orrery_device_get_max_concurrency (ORRERY_DEVICE (plain)), ==,
                    g_get_num_processors ());
  g_assert_nonnull (orrery_device_get_capabilities (ORRERY_DEVICE (plain)));
  g_assert_null (orrery_device_get_capabilities (ORRERY_DEVICE (plain))[0]);

  g_assert_cmpstr (orrery_device_get_id (device), ==, "two");
  g_assert_cmpuint (orrery_device_get_max_concurrency (device), ==, 2);

  g_signal_connect (dev, "notify::capabilities", G_CALLBACK (count_notify), &n_caps);
  orrery_base_device_set_capabilities (base, caps);
  g_assert_cmpuint (n_caps, ==, 1);
  g_assert_true (orrery_device_has_capability (device, "GPU"));
  orrery_base_device_set_capabilities (base, NULL);
  g_assert_false (orrery_device_has_capability (device, "gpu"));

  /* Busy at the limit, and "status" notified on each change only. */
  g_signal_connect (dev, "notify::status", G_CALLBACK (count_notify), &n_status);
  g_assert_cmpint (orrery_device_get_status (device), ==, ORRERY_DEVICE_STATUS_IDLE);
  orrery_base_device_task_started (base);
  g_assert_cmpint (orrery_device_get_status (device), ==, ORRERY_DEVICE_STATUS_IDLE);
  g_assert_cmpuint (n_status, ==, 0);
  orrery_base_device_task_started (base);
  g_assert_cmpuint (orrery_base_device_get_n_running (base), ==, 2);
  g_assert_cmpint (orrery_device_get_status (device), ==, ORRERY_DEVICE_STATUS_BUSY);
  g_object_get (dev, "status", &status, NULL);
  g_assert_cmpint (status, ==, ORRERY_DEVICE_STATUS_BUSY);
  g_assert_cmpuint (n_status, ==, 1);
  orrery_base_device_task_finished (base);
  g_assert_cmpint (orrery_device_get_status (device), ==, ORRERY_DEVICE_STATUS_IDLE);
  g_assert_cmpuint (n_status, ==, 2);
  orrery_base_device_task_finished (base);
  g_assert_cmpuint (orrery_base_device_get_n_running (base), ==, 0);
  g_assert_cmpuint (n_status, ==, 2);
}

static void
run_done (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  GError **error = user_data;

  orrery_orchestrator_run_finish (ORRERY_ORCHESTRATOR (source), result, error);
  *(gboolean *) g_object_get_data (source, "done") = TRUE;
}

static void
add_task (OrreryConstellation *c,
          const char          *id,
          const char          *data_text)
{
  g_autoptr(OrreryTask) task = orrery_task_new (id, id);
  g_autoptr(GError) error = NULL;

  if (data_text != NULL)
    orrery_task_set_task_data (task, g_variant_new_parsed (data_text));
  orrery_constellation_add_task (c, task, &error);
  g_assert_no_error (error);
}

/* The point of the base class: a device that only implements
 * execute_task_async runs a constellation through the manager and the
 * orchestrator, capabilities and all. */
static void
test_orchestrator_run (void)
{
  g_autoptr(OrreryEventBus) bus = orrery_event_bus_new ();
  g_autoptr(OrreryDeviceManager) devices = orrery_device_manager_new ();
  g_autoptr(OrreryOrchestrator) orch = orrery_orchestrator_new (bus, devices);
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("c", "c");
  g_autoptr(TestSyncDevice) plain = test_sync_device_new ("plain", 2);
  g_autoptr(TestSyncDevice) gpu = test_sync_device_new ("gpu", 1);
  g_autoptr(GError) error = NULL;
  const char *caps[] = { "gpu", NULL };
  gboolean done = FALSE;
  char id[16];

  orrery_base_device_set_capabilities (ORRERY_BASE_DEVICE (gpu), caps);
  g_assert_true (orrery_device_manager_add_device (devices, ORRERY_DEVICE (plain), &error));
  g_assert_no_error (error);
  g_assert_true (orrery_device_manager_add_device (devices, ORRERY_DEVICE (gpu), &error));
  g_assert_no_error (error);

  for (guint i = 0; i < 20; i++)
    {
      g_snprintf (id, sizeof id, "t%02u", i);
      add_task (c, id, NULL);
    }
  add_task (c, "needs-gpu", "{'capabilities': <['gpu']>}");
  add_task (c, "timed", "{'work_us': <int64 1234567>}");
  orrery_constellation_add_dependency (c, "t00", "needs-gpu", ORRERY_DEPENDENCY_SUCCESS_ONLY,
                                       NULL, &error);
  g_assert_no_error (error);

  g_object_set_data (G_OBJECT (orch), "done", &done);
  orrery_orchestrator_run_async (orch, c, NULL, run_done, &error);
  while (!done)
    g_main_context_iteration (NULL, TRUE);

  g_assert_no_error (error);
  g_assert_cmpuint (plain->n_executed + gpu->n_executed, ==, 22);
  /* The recorded duration is the one the device recorded. */
  {
    OrreryTask *timed = orrery_constellation_get_task (c, "timed");

    g_assert_cmpint (orrery_task_get_ended_at (timed) - orrery_task_get_started_at (timed), ==, 1234567);
  }
  g_assert_true (ran (gpu, "needs-gpu"));
  g_assert_false (ran (plain, "needs-gpu"));
  g_assert_cmpint (orrery_task_get_status (orrery_constellation_get_task (c, "t19")), ==,
                   ORRERY_TASK_STATUS_COMPLETED);
  g_assert_cmpuint (plain->max_seen_running, <=, 2);
  g_assert_cmpuint (orrery_base_device_get_n_running (ORRERY_BASE_DEVICE (plain)), ==, 0);
  g_assert_cmpuint (orrery_base_device_get_n_running (ORRERY_BASE_DEVICE (gpu)), ==, 0);
  g_assert_cmpuint (orrery_device_manager_get_running_total (devices), ==, 0);
}

/* A failed execution fails the task (and so the run). */
static void
test_orchestrator_failure (void)
{
  g_autoptr(OrreryEventBus) bus = orrery_event_bus_new ();
  g_autoptr(OrreryDeviceManager) devices = orrery_device_manager_new ();
  g_autoptr(OrreryOrchestrator) orch = orrery_orchestrator_new (bus, devices);
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("c", "c");
  g_autoptr(TestSyncDevice) dev = test_sync_device_new ("sync", 1);
  g_autoptr(GError) error = NULL;
  gboolean done = FALSE;

  g_assert_true (orrery_device_manager_add_device (devices, ORRERY_DEVICE (dev), NULL));
  add_task (c, "ok", NULL);
  add_task (c, "bad", "{'fail': <true>}");

  g_object_set_data (G_OBJECT (orch), "done", &done);
  orrery_orchestrator_run_async (orch, c, NULL, run_done, &error);
  while (!done)
    g_main_context_iteration (NULL, TRUE);

  g_assert_nonnull (error);
  g_assert_cmpint (orrery_task_get_status (orrery_constellation_get_task (c, "ok")), ==,
                   ORRERY_TASK_STATUS_COMPLETED);
  g_assert_cmpint (orrery_task_get_status (orrery_constellation_get_task (c, "bad")), ==,
                   ORRERY_TASK_STATUS_FAILED);
  g_assert_cmpuint (orrery_base_device_get_n_running (ORRERY_BASE_DEVICE (dev)), ==, 0);
}

/* The built-in devices are base devices, with their own defaults. */
static void
test_builtin_subclasses (void)
{
  g_autoptr(OrreryLocalDevice) local = g_object_new (ORRERY_TYPE_LOCAL_DEVICE, NULL);
  g_autoptr(OrrerySimulatedDevice) sim = g_object_new (ORRERY_TYPE_SIMULATED_DEVICE,
                                                       "device-type", "", NULL);

  g_assert_true (ORRERY_IS_BASE_DEVICE (local));
  g_assert_true (ORRERY_IS_BASE_DEVICE (sim));
  g_assert_cmpstr (orrery_device_get_id (ORRERY_DEVICE (local)), ==, "local");
  g_assert_cmpstr (orrery_device_get_device_type (ORRERY_DEVICE (local)), ==,
                   orrery_get_host_device_type ());
  g_assert_cmpuint (orrery_device_get_max_concurrency (ORRERY_DEVICE (local)), ==,
                    g_get_num_processors ());
  g_assert_cmpstr (orrery_device_get_id (ORRERY_DEVICE (sim)), ==, "simulated");
  g_assert_cmpstr (orrery_device_get_device_type (ORRERY_DEVICE (sim)), ==, "simulated");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/base-device/properties-and-status", test_properties_and_status);
  g_test_add_func ("/base-device/orchestrator-run", test_orchestrator_run);
  g_test_add_func ("/base-device/orchestrator-failure", test_orchestrator_failure);
  g_test_add_func ("/base-device/builtin-subclasses", test_builtin_subclasses);

  return g_test_run ();
}
