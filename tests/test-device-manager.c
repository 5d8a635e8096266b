/* test-device-manager.c: OrreryDeviceManager and OrrerySimulatedDevice.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include <orrery.h>

static OrreryTask *
make_task (const char *id,
           const char *task_data)
{
  OrreryTask *task = orrery_task_new (id, id);

  if (task_data)
    orrery_task_set_task_data (task, g_variant_new_parsed (task_data));
  return task;
}

static OrreryDevice *
add_sim (OrreryDeviceManager *manager,
         const char          *id,
         const char          *type,
         guint                max,
         const char * const  *caps)
{
  g_autoptr(OrrerySimulatedDevice) device = orrery_simulated_device_new (id, type, max);
  g_autoptr(GError) error = NULL;

  orrery_simulated_device_set_capabilities (device, caps);
  g_assert_true (orrery_device_manager_add_device (manager, ORRERY_DEVICE (device), &error));
  g_assert_no_error (error);
  return orrery_device_manager_get_device (manager, id);
}

/* Selects a device for @task and acquires it; returns its id, or NULL. */
static const char *
take (OrreryDeviceManager *manager,
      OrreryTask          *task)
{
  g_autoptr(GError) error = NULL;
  OrreryDevice *device = orrery_device_manager_select (manager, task, &error);

  g_assert_no_error (error);
  if (device == NULL)
    return NULL;
  orrery_device_manager_acquire (manager, device);
  return orrery_device_get_id (device);
}

static void
test_round_robin (void)
{
  g_autoptr(OrreryDeviceManager) manager = orrery_device_manager_new ();
  g_autoptr(OrreryTask) task = make_task ("t", NULL);
  OrreryDevice *b;

  add_sim (manager, "a", NULL, 2, NULL);
  b = add_sim (manager, "b", NULL, 2, NULL);
  add_sim (manager, "c", NULL, 2, NULL);
  g_assert_cmpint (orrery_device_manager_get_strategy (manager), ==, ORRERY_STRATEGY_ROUND_ROBIN);
  g_assert_cmpuint (orrery_device_manager_get_free_slots_total (manager), ==, 6);

  g_assert_cmpstr (take (manager, task), ==, "a");
  g_assert_cmpstr (take (manager, task), ==, "b");
  g_assert_cmpstr (take (manager, task), ==, "c");
  g_assert_cmpstr (take (manager, task), ==, "a");
  g_assert_cmpstr (take (manager, task), ==, "b");
  g_assert_cmpstr (take (manager, task), ==, "c");
  /* Every device busy: NULL without an error. */
  g_assert_null (take (manager, task));
  g_assert_cmpuint (orrery_device_manager_get_free_slots_total (manager), ==, 0);
  g_assert_cmpuint (orrery_device_manager_get_running_total (manager), ==, 6);

  orrery_device_manager_release (manager, b);
  g_assert_cmpuint (orrery_device_manager_get_running (manager, b), ==, 1);
  g_assert_cmpstr (take (manager, task), ==, "b");
  g_assert_null (take (manager, task));
}

static void
test_load_balance (void)
{
  g_autoptr(OrreryDeviceManager) manager = orrery_device_manager_new ();
  g_autoptr(OrreryTask) task = make_task ("t", NULL);
  OrreryDevice *a, *b;

  orrery_device_manager_set_strategy (manager, ORRERY_STRATEGY_LOAD_BALANCE);
  a = add_sim (manager, "a", NULL, 4, NULL);
  b = add_sim (manager, "b", NULL, 2, NULL);

  /* a at 2/4, b at 0/2: b. */
  orrery_device_manager_acquire (manager, a);
  orrery_device_manager_acquire (manager, a);
  g_assert_cmpstr (take (manager, task), ==, "b");
  /* a at 2/4, b at 1/2: a tie, taken in turn (b was last: a). */
  g_assert_cmpstr (take (manager, task), ==, "a");
  /* a at 3/4, b at 1/2: b. */
  g_assert_cmpstr (take (manager, task), ==, "b");
  /* b full: a. */
  g_assert_cmpstr (take (manager, task), ==, "a");
  g_assert_null (take (manager, task));

  /* Free one slot on each: a at 3/4, b at 1/2: b. */
  orrery_device_manager_release (manager, a);
  orrery_device_manager_release (manager, b);
  g_assert_cmpstr (take (manager, task), ==, "b");
}

static void
test_capability_match (void)
{
  g_autoptr(OrreryDeviceManager) manager = orrery_device_manager_new ();
  g_autoptr(OrreryTask) gpu = make_task ("gpu", "{'capabilities': <['gpu']>}");
  g_autoptr(OrreryTask) docker = make_task ("docker", "{'capabilities': <['DOCKER']>}");
  g_autoptr(OrreryTask) plain = make_task ("plain", NULL);
  const char *big_caps[] = { "gpu", "cuda", "docker", NULL };
  const char *gpu_caps[] = { "gpu", NULL };
  OrreryDevice *small, *bare;

  orrery_device_manager_set_strategy (manager, ORRERY_STRATEGY_CAPABILITY_MATCH);
  add_sim (manager, "big", NULL, 2, big_caps);
  small = add_sim (manager, "small", NULL, 1, gpu_caps);
  bare = add_sim (manager, "bare", NULL, 1, NULL);

  /* The device that fits best, keeping the big one for what needs it. */
  g_assert_cmpstr (take (manager, gpu), ==, "small");
  g_assert_cmpstr (take (manager, gpu), ==, "big");
  g_assert_cmpstr (take (manager, plain), ==, "bare");
  g_assert_cmpstr (take (manager, docker), ==, "big");
  g_assert_null (take (manager, docker));
  g_assert_null (take (manager, gpu));
  /* A task that needs nothing goes anywhere free. */
  orrery_device_manager_release (manager, small);
  g_assert_cmpstr (take (manager, plain), ==, "small");

  /* Ties go to the least loaded. */
  orrery_device_manager_release (manager, bare);
  orrery_device_manager_release (manager, small);
  {
    g_autoptr(OrreryDeviceManager) m2 = orrery_device_manager_new ();
    OrreryDevice *x;

    orrery_device_manager_set_strategy (m2, ORRERY_STRATEGY_CAPABILITY_MATCH);
    x = add_sim (m2, "x", NULL, 4, gpu_caps);
    add_sim (m2, "y", NULL, 4, gpu_caps);
    orrery_device_manager_acquire (m2, x);
    g_assert_cmpstr (take (m2, gpu), ==, "y");
    g_assert_cmpstr (take (m2, gpu), ==, "x");
  }
}

static void
test_target_device (void)
{
  g_autoptr(OrreryDeviceManager) manager = orrery_device_manager_new ();
  g_autoptr(OrreryTask) task = make_task ("t", NULL);
  g_autoptr(OrreryTask) missing = make_task ("m", NULL);
  g_autoptr(GError) error = NULL;

  add_sim (manager, "a", NULL, 1, NULL);
  add_sim (manager, "b", NULL, 1, NULL);
  orrery_task_set_target_device_id (task, "b");
  g_assert_cmpstr (take (manager, task), ==, "b");
  /* b is busy: the task waits for it, though a is free. */
  g_assert_null (take (manager, task));
  g_assert_true (orrery_device_manager_can_run (manager, task, NULL));

  orrery_task_set_target_device_id (missing, "zzz");
  g_assert_null (orrery_device_manager_select (manager, missing, &error));
  g_assert_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_NO_DEVICE);
  g_assert_cmpstr (error->message, ==,
                   "no device can run task “m”: target device “zzz” does not exist");
  g_clear_error (&error);
  g_assert_false (orrery_device_manager_can_run (manager, missing, &error));
  g_assert_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_NO_DEVICE);
  g_clear_error (&error);

  /* A target of another type than the task asks. */
  orrery_task_set_target_device_id (missing, "a");
  orrery_task_set_device_type (missing, "windows");
  g_assert_null (orrery_device_manager_select (manager, missing, &error));
  g_assert_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_NO_DEVICE);
  g_assert_nonnull (strstr (error->message, "target device “a” is of type “simulated”"));
}

static void
test_device_type (void)
{
  g_autoptr(OrreryDeviceManager) manager = orrery_device_manager_new ();
  g_autoptr(OrreryTask) task = make_task ("t", NULL);
  g_autoptr(OrreryTask) win = make_task ("w", NULL);
  g_autoptr(GError) error = NULL;

  add_sim (manager, "l1", "linux", 1, NULL);
  add_sim (manager, "other", NULL, 4, NULL);
  add_sim (manager, "l2", "Linux", 1, NULL);

  orrery_task_set_device_type (task, "LINUX");
  g_assert_cmpstr (take (manager, task), ==, "l1");
  g_assert_cmpstr (take (manager, task), ==, "l2");
  g_assert_null (take (manager, task));

  orrery_task_set_device_type (win, "windows");
  g_assert_null (orrery_device_manager_select (manager, win, &error));
  g_assert_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_NO_DEVICE);
  g_assert_cmpstr (error->message, ==, "no device can run task “w”: no device of type “windows”");
}

static void
test_capabilities_missing (void)
{
  g_autoptr(OrreryDeviceManager) manager = orrery_device_manager_new ();
  g_autoptr(OrreryTask) task = make_task ("q", "{'capabilities': <['gpu', 'quantum']>}");
  g_autoptr(OrreryTask) bad = make_task ("b", "{'capabilities': <42>}");
  g_autoptr(OrreryTask) typed = make_task ("t", "{'capabilities': <['gpu']>}");
  g_autoptr(GError) error = NULL;
  const char *caps[] = { "gpu", NULL };

  add_sim (manager, "a", NULL, 1, caps);
  g_assert_null (orrery_device_manager_select (manager, task, &error));
  g_assert_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_NO_DEVICE);
  g_assert_cmpstr (error->message, ==,
                   "no device can run task “q”: no device with capabilities “gpu”, “quantum”");
  g_clear_error (&error);

  orrery_task_set_device_type (typed, "linux");
  g_assert_null (orrery_device_manager_select (manager, typed, &error));
  g_assert_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_NO_DEVICE);
  g_assert_cmpstr (error->message, ==,
                   "no device can run task “t”: no device of type “linux” with capabilities “gpu”");
  g_clear_error (&error);

  g_assert_null (orrery_device_manager_select (manager, bad, &error));
  g_assert_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_TASK_DATA);
  g_clear_error (&error);

  /* The manager remembers task data that asks for no capability: a task
   * whose data asks for one, after it, is still refused. */
  {
    g_autoptr(OrreryTask) plain = make_task ("p", "{'duration_ms': <0>}");

    g_assert_nonnull (orrery_device_manager_select (manager, plain, &error));
    g_assert_no_error (error);
    g_assert_null (orrery_device_manager_select (manager, task, &error));
    g_assert_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_NO_DEVICE);
    g_clear_error (&error);
    g_assert_nonnull (orrery_device_manager_select (manager, plain, &error));
    g_assert_no_error (error);
  }
}

static void
test_no_devices (void)
{
  g_autoptr(OrreryDeviceManager) manager = orrery_device_manager_new ();
  g_autoptr(OrreryTask) task = make_task ("t", NULL);
  g_autoptr(GError) error = NULL;

  g_assert_null (orrery_device_manager_select (manager, task, &error));
  g_assert_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_NO_DEVICE);
  g_assert_cmpuint (orrery_device_manager_get_free_slots_total (manager), ==, 0);
}

static void
count_signal (OrreryDeviceManager *manager,
              OrreryDevice        *device,
              gpointer             user_data)
{
  (*(guint *) user_data)++;
}

static void
test_add_remove (void)
{
  g_autoptr(OrreryDeviceManager) manager = orrery_device_manager_new ();
  g_autoptr(OrrerySimulatedDevice) dup = orrery_simulated_device_new ("a", NULL, 1);
  g_autoptr(GError) error = NULL;
  g_autoptr(GList) devices = NULL;
  g_autoptr(OrreryDevice) a = NULL;
  guint added = 0, removed = 0;

  g_signal_connect (manager, "device-added", G_CALLBACK (count_signal), &added);
  g_signal_connect (manager, "device-removed", G_CALLBACK (count_signal), &removed);
  a = g_object_ref (add_sim (manager, "a", NULL, 1, NULL));
  add_sim (manager, "b", NULL, 1, NULL);
  g_assert_cmpuint (added, ==, 2);
  g_assert_cmpuint (orrery_device_manager_get_n_devices (manager), ==, 2);

  g_assert_false (orrery_device_manager_add_device (manager, ORRERY_DEVICE (dup), &error));
  g_assert_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_CONFIG);
  g_assert_cmpuint (added, ==, 2);

  devices = orrery_device_manager_get_devices (manager);
  g_assert_cmpuint (g_list_length (devices), ==, 2);
  g_assert_true (devices->data == (gpointer) a);
  g_assert_cmpstr (orrery_device_get_id (devices->next->data), ==, "b");

  orrery_device_manager_acquire (manager, a);
  g_assert_true (orrery_device_manager_remove_device (manager, "a"));
  g_assert_false (orrery_device_manager_remove_device (manager, "a"));
  g_assert_cmpuint (removed, ==, 1);
  g_assert_null (orrery_device_manager_get_device (manager, "a"));
  /* Releasing a removed device is harmless. */
  orrery_device_manager_release (manager, a);
  g_assert_cmpuint (orrery_device_manager_get_running (manager, a), ==, 0);
  g_assert_cmpuint (orrery_device_manager_get_n_devices (manager), ==, 1);
}

static void
test_keyfile (void)
{
  g_autoptr(OrreryDeviceManager) manager = orrery_device_manager_new ();
  g_autoptr(GKeyFile) keyfile = g_key_file_new ();
  g_autoptr(GError) error = NULL;
  OrreryDevice *sim, *loc;
  const char *text =
    "[Host]\n"
    "AutoEnable=true\n"
    "[Device sim1]\n"
    "Type=simulated\n"
    "Capabilities=gpu;docker\n"
    "MaxConcurrency=3\n"
    "[Plugin metrics]\n"
    "Enabled=true\n"
    "[Device builder]\n"
    "DeviceType=Windows\n"
    "MaxOutputBytes=1024\n";

  g_assert_true (g_key_file_load_from_data (keyfile, text, -1, G_KEY_FILE_NONE, &error));
  g_assert_true (orrery_device_manager_load_keyfile (manager, keyfile, "test.conf", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (orrery_device_manager_get_n_devices (manager), ==, 2);

  sim = orrery_device_manager_get_device (manager, "sim1");
  g_assert_true (ORRERY_IS_SIMULATED_DEVICE (sim));
  g_assert_cmpstr (orrery_device_get_device_type (sim), ==, "simulated");
  g_assert_cmpuint (orrery_device_get_max_concurrency (sim), ==, 3);
  g_assert_true (orrery_device_has_capability (sim, "gpu"));
  g_assert_true (orrery_device_has_capability (sim, "docker"));

  loc = orrery_device_manager_get_device (manager, "builder");
  g_assert_true (ORRERY_IS_LOCAL_DEVICE (loc));
  g_assert_cmpstr (orrery_device_get_device_type (loc), ==, "Windows");
  g_assert_cmpuint (orrery_device_get_max_concurrency (loc), ==, g_get_num_processors ());
  g_assert_cmpuint (orrery_local_device_get_max_output_bytes (ORRERY_LOCAL_DEVICE (loc)), ==, 1024);

  /* add_default_devices() leaves a configured manager alone. */
  orrery_device_manager_add_default_devices (manager);
  g_assert_cmpuint (orrery_device_manager_get_n_devices (manager), ==, 2);
}

static void
test_keyfile_errors (void)
{
  struct {
    const char *text;
    const char *expected;
  } cases[] = {
    { "[Device a]\nType=simulated\n[Device b]\nMaxConcurrency=abc\n",
      "my.conf: [Device b] MaxConcurrency: “abc” is not a positive integer" },
    { "[Device a]\nMaxConcurrency=0\n", "my.conf: [Device a] MaxConcurrency:" },
    { "[Device a]\nMaxConcurrency=-2\n", "my.conf: [Device a] MaxConcurrency:" },
    { "[Device a]\nType=quantum\n", "my.conf: [Device a] Type: unknown device kind “quantum”" },
    { "[Device a]\nMaxOutputBytes=lots\n", "my.conf: [Device a] MaxOutputBytes:" },
    { "[Device a]\nType=simulated\nMaxOutputBytes=10\n", "my.conf: [Device a] MaxOutputBytes:" },
    { "[Device  ]\nType=local\n", "my.conf: [Device  ]" },
    { "[Device taken]\n", "my.conf: [Device taken]: there is already a device “taken”" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(OrreryDeviceManager) manager = orrery_device_manager_new ();
      g_autoptr(GKeyFile) keyfile = g_key_file_new ();
      g_autoptr(GError) error = NULL;

      add_sim (manager, "taken", NULL, 1, NULL);
      g_test_message ("case %u", i);
      g_assert_true (g_key_file_load_from_data (keyfile, cases[i].text, -1, G_KEY_FILE_NONE, NULL));
      g_assert_false (orrery_device_manager_load_keyfile (manager, keyfile, "my.conf", &error));
      g_assert_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_CONFIG);
      g_test_message ("%s", error->message);
      g_assert_true (g_str_has_prefix (error->message, cases[i].expected));
      /* All or nothing. */
      g_assert_cmpuint (orrery_device_manager_get_n_devices (manager), ==, 1);
    }
}

static void
test_default_device (void)
{
  g_autoptr(OrreryDeviceManager) manager = orrery_device_manager_new ();
  g_autoptr(GKeyFile) keyfile = g_key_file_new ();
  g_autoptr(OrreryTask) task = make_task ("t", NULL);
  OrreryDevice *device;

  g_assert_true (g_key_file_load_from_data (keyfile, "[Host]\nA=b\n", -1, G_KEY_FILE_NONE, NULL));
  g_assert_true (orrery_device_manager_load_keyfile (manager, keyfile, NULL, NULL));
  g_assert_cmpuint (orrery_device_manager_get_n_devices (manager), ==, 0);

  orrery_device_manager_add_default_devices (manager);
  g_assert_cmpuint (orrery_device_manager_get_n_devices (manager), ==, 1);
  device = orrery_device_manager_get_device (manager, "local");
  g_assert_true (ORRERY_IS_LOCAL_DEVICE (device));
  g_assert_cmpstr (orrery_device_get_device_type (device), ==, orrery_get_host_device_type ());
  g_assert_cmpuint (orrery_device_get_max_concurrency (device), ==, g_get_num_processors ());

  /* UFO Galaxy files say LINUX. */
  orrery_task_set_device_type (task, "LINUX");
  g_assert_true (orrery_device_manager_select (manager, task, NULL) == device);
}

static void
test_strategy_nicks (void)
{
  OrreryDispatchStrategy s;

  g_assert_cmpstr (orrery_dispatch_strategy_to_nick (ORRERY_STRATEGY_LOAD_BALANCE), ==, "load-balance");
  g_assert_true (orrery_dispatch_strategy_from_nick ("round-robin", &s));
  g_assert_cmpint (s, ==, ORRERY_STRATEGY_ROUND_ROBIN);
  g_assert_true (orrery_dispatch_strategy_from_nick ("Capability_Match", &s));
  g_assert_cmpint (s, ==, ORRERY_STRATEGY_CAPABILITY_MATCH);
  g_assert_true (orrery_dispatch_strategy_from_nick ("LOAD-BALANCE", &s));
  g_assert_cmpint (s, ==, ORRERY_STRATEGY_LOAD_BALANCE);
  g_assert_false (orrery_dispatch_strategy_from_nick ("random", &s));
  g_assert_false (orrery_dispatch_strategy_from_nick ("round", &s));
}

/* ------------------------------------------------------------------------ */
/* The simulated device. */

typedef struct
{
  gboolean  done;
  gboolean  ok;
  GVariant *result;
  GError   *error;
} Outcome;

static void
outcome_clear (Outcome *o)
{
  g_clear_pointer (&o->result, g_variant_unref);
  g_clear_error (&o->error);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Outcome, outcome_clear)

static void
execute_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Outcome *o = user_data;

  o->ok = orrery_device_execute_finish (ORRERY_DEVICE (source), result,
                                        &o->result, &o->error);
  o->done = TRUE;
}

static void
run_sim (OrrerySimulatedDevice *device,
         OrreryTask            *task,
         GCancellable          *cancellable,
         Outcome               *o)
{
  outcome_clear (o);
  memset (o, 0, sizeof *o);
  orrery_device_execute_async (ORRERY_DEVICE (device), task, cancellable, execute_cb, o);
  /* Never synchronously. */
  g_assert_false (o->done);
  while (!o->done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (orrery_simulated_device_get_n_running (device), ==, 0);
}

static void
test_sim_success (void)
{
  g_autoptr(OrrerySimulatedDevice) device = orrery_simulated_device_new ("sim", NULL, 0);
  g_autoptr(OrreryTask) task = make_task ("t", NULL);
  g_autoptr(OrreryTask) custom = make_task ("c", "{'result': <{'answer': <42>}>}");
  g_autoptr(OrreryTask) scalar = make_task ("s", "{'result': <'text'>}");
  g_auto(Outcome) o = { 0 };
  gboolean simulated = FALSE;
  gint32 answer = 0;
  const char *text = NULL;

  g_assert_cmpstr (orrery_device_get_device_type (ORRERY_DEVICE (device)), ==, "simulated");
  g_assert_cmpuint (orrery_device_get_max_concurrency (ORRERY_DEVICE (device)), ==,
                    g_get_num_processors ());

  run_sim (device, task, NULL, &o);
  g_assert_no_error (o.error);
  g_assert_true (o.ok);
  g_assert_true (g_variant_lookup (o.result, "simulated", "b", &simulated));
  g_assert_true (simulated);

  run_sim (device, custom, NULL, &o);
  g_assert_no_error (o.error);
  g_assert_true (g_variant_lookup (o.result, "answer", "i", &answer));
  g_assert_cmpint (answer, ==, 42);

  run_sim (device, scalar, NULL, &o);
  g_assert_no_error (o.error);
  g_assert_true (g_variant_lookup (o.result, "value", "&s", &text));
  g_assert_cmpstr (text, ==, "text");
  g_assert_cmpuint (orrery_simulated_device_get_n_executed (device), ==, 3);
}

static void
test_sim_fail (void)
{
  g_autoptr(OrrerySimulatedDevice) device = orrery_simulated_device_new ("sim", NULL, 1);
  g_autoptr(OrreryTask) task = make_task ("t", "{'fail': <true>, 'error_message': <'disk on fire'>}");
  g_autoptr(OrreryTask) plain = make_task ("p", "{'fail': <true>}");
  g_auto(Outcome) o = { 0 };

  run_sim (device, task, NULL, &o);
  g_assert_error (o.error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_FAILED);
  g_assert_cmpstr (o.error->message, ==, "disk on fire");
  g_assert_nonnull (o.result);

  run_sim (device, plain, NULL, &o);
  g_assert_error (o.error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_FAILED);
  g_assert_cmpstr (o.error->message, ==, "simulated failure");
}

static void
test_sim_fail_attempts (void)
{
  g_autoptr(OrrerySimulatedDevice) device = orrery_simulated_device_new ("sim", NULL, 1);
  /* JSON numbers come as int64. */
  g_autoptr(OrreryTask) task = make_task ("t", "{'fail_attempts': <int64 2>}");
  g_auto(Outcome) o = { 0 };

  for (guint attempt = 1; attempt <= 4; attempt++)
    {
      orrery_task_set_attempt (task, attempt);
      run_sim (device, task, NULL, &o);
      if (attempt <= 2)
        g_assert_error (o.error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_FAILED);
      else
        g_assert_no_error (o.error);
    }
}

static void
test_sim_duration (void)
{
  g_autoptr(OrrerySimulatedDevice) device = orrery_simulated_device_new ("sim", NULL, 1);
  g_autoptr(OrreryTask) task = make_task ("t", "{'duration_ms': <uint32 80>}");
  g_auto(Outcome) o = { 0 };
  gint64 start = g_get_monotonic_time ();

  orrery_task_set_timeout (task, 10);
  run_sim (device, task, NULL, &o);
  g_assert_no_error (o.error);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 75 * 1000);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 3 * G_USEC_PER_SEC);
}

static void
test_sim_timeout (void)
{
  g_autoptr(OrrerySimulatedDevice) device = orrery_simulated_device_new ("sim", NULL, 1);
  g_autoptr(OrreryTask) task = make_task ("t", "{'duration_ms': <10000.0>}");
  g_auto(Outcome) o = { 0 };
  gint64 start = g_get_monotonic_time ();

  orrery_task_set_timeout (task, 0.1);
  run_sim (device, task, NULL, &o);
  g_assert_error (o.error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_TIMEOUT);
  g_assert_cmpstr (o.error->message, ==, "timed out after 0.1 s");
  g_assert_cmpint (g_get_monotonic_time () - start, <, 3 * G_USEC_PER_SEC);
}

static gboolean
cancel_cb (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

static void
test_sim_cancel (void)
{
  g_autoptr(OrrerySimulatedDevice) device = orrery_simulated_device_new ("sim", NULL, 1);
  g_autoptr(OrreryTask) task = make_task ("t", "{'duration_ms': <10000>}");
  g_autoptr(OrreryTask) quick = make_task ("q", NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_auto(Outcome) o = { 0 };
  gint64 start = g_get_monotonic_time ();

  g_timeout_add (50, cancel_cb, cancellable);
  run_sim (device, task, cancellable, &o);
  g_assert_error (o.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 3 * G_USEC_PER_SEC);

  /* Zero duration, cancelled before it completes. */
  run_sim (device, quick, cancellable, &o);
  g_assert_error (o.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

typedef struct
{
  OrrerySimulatedDevice *device;
  OrreryTask            *task;
  guint                  remaining;
  guint                  done;
} Chain;

static void
chain_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  Chain *chain = user_data;

  g_assert_true (orrery_device_execute_finish (ORRERY_DEVICE (source), result, NULL, NULL));
  chain->done++;
  if (chain->remaining > 0)
    {
      chain->remaining--;
      orrery_device_execute_async (ORRERY_DEVICE (chain->device), chain->task, NULL,
                                   chain_cb, chain);
    }
}

static void
test_sim_many (void)
{
  g_autoptr(OrrerySimulatedDevice) device = orrery_simulated_device_new ("sim", NULL, 64);
  g_autoptr(OrreryTask) task = make_task ("t", NULL);
  Chain chain = { device, task, 100000, 0 };
  gint64 start = g_get_monotonic_time ();
  double per_task;

  /* 64 in flight, each completion starting the next. */
  for (guint i = 0; i < 64; i++)
    orrery_device_execute_async (ORRERY_DEVICE (device), task, NULL, chain_cb, &chain);
  while (chain.done < 100000 + 64)
    g_main_context_iteration (NULL, TRUE);
  per_task = (g_get_monotonic_time () - start) / (double) chain.done;
  g_test_message ("%.3f µs per zero-duration task", per_task);
  g_assert_cmpuint (orrery_simulated_device_get_n_executed (device), ==, 100000 + 64);
  g_assert_cmpuint (orrery_simulated_device_get_n_running (device), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/device-manager/round-robin", test_round_robin);
  g_test_add_func ("/device-manager/load-balance", test_load_balance);
  g_test_add_func ("/device-manager/capability-match", test_capability_match);
  g_test_add_func ("/device-manager/target-device", test_target_device);
  g_test_add_func ("/device-manager/device-type", test_device_type);
  g_test_add_func ("/device-manager/capabilities-missing", test_capabilities_missing);
  g_test_add_func ("/device-manager/no-devices", test_no_devices);
  g_test_add_func ("/device-manager/add-remove", test_add_remove);
  g_test_add_func ("/device-manager/keyfile", test_keyfile);
  g_test_add_func ("/device-manager/keyfile-errors", test_keyfile_errors);
  g_test_add_func ("/device-manager/default-device", test_default_device);
  g_test_add_func ("/device-manager/strategy-nicks", test_strategy_nicks);
  g_test_add_func ("/simulated-device/success", test_sim_success);
  g_test_add_func ("/simulated-device/fail", test_sim_fail);
  g_test_add_func ("/simulated-device/fail-attempts", test_sim_fail_attempts);
  g_test_add_func ("/simulated-device/duration", test_sim_duration);
  g_test_add_func ("/simulated-device/timeout", test_sim_timeout);
  g_test_add_func ("/simulated-device/cancel", test_sim_cancel);
  g_test_add_func ("/simulated-device/many", test_sim_many);

  return g_test_run ();
}
