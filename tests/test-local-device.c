/* test-local-device.c: OrreryLocalDevice with real subprocesses.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <orrery.h>

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
run_task (OrreryLocalDevice *device,
          OrreryTask        *task,
          GCancellable      *cancellable,
          Outcome           *o)
{
  memset (o, 0, sizeof *o);
  orrery_device_execute_async (ORRERY_DEVICE (device), task, cancellable,
                               execute_cb, o);
  while (!o->done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (orrery_local_device_get_n_running (device), ==, 0);
}

static OrreryTask *
make_task (const char *id,
           const char *task_data)
{
  OrreryTask *task = orrery_task_new (id, id);

  if (task_data)
    orrery_task_set_task_data (task, g_variant_new_parsed (task_data));
  return task;
}

static const char *
lookup_s (GVariant   *dict,
          const char *key)
{
  const char *s = NULL;

  g_assert_true (g_variant_lookup (dict, key, "&s", &s));
  return s;
}

static gint32
lookup_i (GVariant   *dict,
          const char *key)
{
  gint32 i = 0;

  g_assert_true (g_variant_lookup (dict, key, "i", &i));
  return i;
}

static gboolean
lookup_b (GVariant   *dict,
          const char *key)
{
  gboolean b = FALSE;

  g_assert_true (g_variant_lookup (dict, key, "b", &b));
  return b;
}

/* Whether @pid is a live process (not a zombie). A zombie must not be
 * ours: our children are reaped. */
static gboolean
process_alive (pid_t pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *stat = NULL;
  char state;
  int ppid;
  const char *p;

  if (!g_file_get_contents (path, &stat, NULL, NULL))
    return FALSE;
  p = strrchr (stat, ')');
  g_assert_nonnull (p);
  g_assert_cmpint (sscanf (p + 1, " %c %d", &state, &ppid), ==, 2);
  if (state == 'Z' || state == 'X')
    {
      g_assert_cmpint (ppid, !=, (int) getpid ());
      return FALSE;
    }
  return TRUE;
}

/* Orphans are reaped by init, asynchronously: give it a moment. */
static void
assert_gone (pid_t pid)
{
  gint64 deadline = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;

  while (process_alive (pid) && g_get_monotonic_time () < deadline)
    g_usleep (10 * 1000);
  g_assert_false (process_alive (pid));
}

static void
test_success (void)
{
  g_autoptr(OrreryLocalDevice) device = orrery_local_device_new ("local", NULL, 2);
  g_autoptr(OrreryTask) task = make_task ("t", "{'command': <'echo hi; echo err >&2'>}");
  g_auto(Outcome) o = { 0 };
  double duration = -1;

  run_task (device, task, NULL, &o);
  g_assert_no_error (o.error);
  g_assert_true (o.ok);
  g_assert_nonnull (o.result);
  g_assert_true (g_variant_is_of_type (o.result, G_VARIANT_TYPE_VARDICT));
  g_assert_cmpint (lookup_i (o.result, "exit_status"), ==, 0);
  g_assert_cmpstr (lookup_s (o.result, "stdout"), ==, "hi\n");
  g_assert_cmpstr (lookup_s (o.result, "stderr"), ==, "err\n");
  g_assert_false (lookup_b (o.result, "stdout_truncated"));
  g_assert_false (lookup_b (o.result, "stderr_truncated"));
  g_assert_cmpint (lookup_i (o.result, "pid"), >, 0);
  g_assert_false (g_variant_lookup (o.result, "signal", "i", NULL));
  g_assert_true (g_variant_lookup (o.result, "duration", "d", &duration));
  g_assert_cmpfloat (duration, >=, 0.0);
  g_assert_cmpfloat (duration, <, 10.0);
  assert_gone (lookup_i (o.result, "pid"));
}

static void
test_properties (void)
{
  g_autoptr(OrreryLocalDevice) device = orrery_local_device_new ("here", NULL, 0);
  g_autoptr(OrreryLocalDevice) other = orrery_local_device_new ("there", "Windows", 3);
  const char *caps[] = { "shell", "gpu", NULL };

  g_assert_cmpstr (orrery_get_host_device_type (), ==, "linux");
  g_assert_cmpstr (orrery_device_get_id (ORRERY_DEVICE (device)), ==, "here");
  g_assert_cmpstr (orrery_device_get_device_type (ORRERY_DEVICE (device)), ==, "linux");
  g_assert_cmpuint (orrery_device_get_max_concurrency (ORRERY_DEVICE (device)), ==,
                    g_get_num_processors ());
  g_assert_cmpstr (orrery_device_get_device_type (ORRERY_DEVICE (other)), ==, "Windows");
  g_assert_cmpuint (orrery_device_get_max_concurrency (ORRERY_DEVICE (other)), ==, 3);
  g_assert_cmpint (orrery_device_get_status (ORRERY_DEVICE (other)), ==, ORRERY_DEVICE_STATUS_IDLE);
  g_assert_cmpuint (orrery_local_device_get_max_output_bytes (device), ==,
                    ORRERY_LOCAL_DEVICE_DEFAULT_MAX_OUTPUT_BYTES);

  g_assert_cmpuint (g_strv_length ((char **) orrery_device_get_capabilities (ORRERY_DEVICE (device))), ==, 0);
  orrery_local_device_set_capabilities (device, caps);
  g_assert_true (orrery_device_has_capability (ORRERY_DEVICE (device), "GPU"));
  g_assert_true (orrery_device_has_capability (ORRERY_DEVICE (device), "shell"));
  g_assert_false (orrery_device_has_capability (ORRERY_DEVICE (device), "docker"));
}

static void
test_argv (void)
{
  g_autoptr(OrreryLocalDevice) device = orrery_local_device_new ("local", NULL, 1);
  g_autoptr(OrreryTask) task = make_task ("t", "{'command': <['printf', '%s-%s', 'a b', '$HOME']>}");
  g_autoptr(OrreryTask) task_av = make_task ("t", "{'command': <[<'echo'>, <'x'>]>}");
  g_auto(Outcome) o = { 0 };
  g_auto(Outcome) o2 = { 0 };

  run_task (device, task, NULL, &o);
  g_assert_no_error (o.error);
  g_assert_cmpstr (lookup_s (o.result, "stdout"), ==, "a b-$HOME");

  /* JSON-made task data: an array of variants. */
  run_task (device, task_av, NULL, &o2);
  g_assert_no_error (o2.error);
  g_assert_cmpstr (lookup_s (o2.result, "stdout"), ==, "x\n");
}

static void
test_env_cwd (void)
{
  g_autoptr(OrreryLocalDevice) device = orrery_local_device_new ("local", NULL, 1);
  g_autofree char *dir = g_dir_make_tmp ("orrery-test-XXXXXX", NULL);
  g_autofree char *real = NULL;
  g_autofree char *data = NULL;
  g_autofree char *expected = NULL;
  g_autoptr(OrreryTask) task = NULL;
  g_auto(Outcome) o = { 0 };

  g_assert_nonnull (dir);
  real = realpath (dir, NULL);
  data = g_strdup_printf ("{'command': <'echo \"$ORRERY_TEST_VAR\"; pwd -P; echo \"$PATH\" | grep -c /'>,"
                          " 'env': <{'ORRERY_TEST_VAR': <'value 1'>}>,"
                          " 'cwd': <'%s'>}", dir);
  task = make_task ("t", data);
  run_task (device, task, NULL, &o);
  g_assert_no_error (o.error);
  /* Added to the environment, which is otherwise inherited (PATH). */
  expected = g_strdup_printf ("value 1\n%s\n1\n", real);
  g_assert_cmpstr (lookup_s (o.result, "stdout"), ==, expected);
  g_rmdir (dir);
}

static void
test_stdin_closed (void)
{
  g_autoptr(OrreryLocalDevice) device = orrery_local_device_new ("local", NULL, 1);
  g_autoptr(OrreryTask) task = make_task ("t", "{'command': <'cat; readlink /proc/self/fd/0 || true'>}");
  g_auto(Outcome) o = { 0 };

  run_task (device, task, NULL, &o);
  g_assert_no_error (o.error);
  g_assert_cmpstr (lookup_s (o.result, "stdout"), ==, "/dev/null\n");
}

static void
test_exit_status (void)
{
  g_autoptr(OrreryLocalDevice) device = orrery_local_device_new ("local", NULL, 1);
  g_autoptr(OrreryTask) task = make_task ("t", "{'command': <'echo out; echo bad >&2; exit 3'>}");
  g_auto(Outcome) o = { 0 };

  run_task (device, task, NULL, &o);
  g_assert_error (o.error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_EXIT_STATUS);
  g_assert_cmpstr (o.error->message, ==, "exited with status 3");
  g_assert_false (o.ok);
  g_assert_nonnull (o.result);
  g_assert_cmpint (lookup_i (o.result, "exit_status"), ==, 3);
  g_assert_cmpstr (lookup_s (o.result, "stdout"), ==, "out\n");
  g_assert_cmpstr (lookup_s (o.result, "stderr"), ==, "bad\n");
}

static void
test_signaled (void)
{
  g_autoptr(OrreryLocalDevice) device = orrery_local_device_new ("local", NULL, 1);
  g_autoptr(OrreryTask) task = make_task ("t", "{'command': <'echo before; kill -9 $$'>}");
  g_auto(Outcome) o = { 0 };

  run_task (device, task, NULL, &o);
  g_assert_error (o.error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_SIGNALED);
  g_assert_nonnull (o.result);
  g_assert_cmpint (lookup_i (o.result, "exit_status"), ==, -1);
  g_assert_cmpint (lookup_i (o.result, "signal"), ==, SIGKILL);
  g_assert_cmpstr (lookup_s (o.result, "stdout"), ==, "before\n");
}

static void
test_truncation (void)
{
  g_autoptr(OrreryLocalDevice) device = orrery_local_device_new ("local", NULL, 1);
  g_autoptr(OrreryTask) task =
    make_task ("t", "{'command': <'head -c 1000000 /dev/zero | tr \"\\\\0\" a; echo small >&2'>}");
  g_autoptr(OrreryTask) bad_utf8 = make_task ("t", "{'command': <['printf', 'x\\\\377y']>}");
  g_auto(Outcome) o = { 0 };
  g_auto(Outcome) o2 = { 0 };
  const char *out;

  orrery_local_device_set_max_output_bytes (device, 100);
  run_task (device, task, NULL, &o);
  g_assert_no_error (o.error);
  out = lookup_s (o.result, "stdout");
  g_assert_cmpuint (strlen (out), ==, 100);
  g_assert_cmpuint (strspn (out, "a"), ==, 100);
  g_assert_true (lookup_b (o.result, "stdout_truncated"));
  g_assert_false (lookup_b (o.result, "stderr_truncated"));
  g_assert_cmpstr (lookup_s (o.result, "stderr"), ==, "small\n");

  run_task (device, bad_utf8, NULL, &o2);
  g_assert_no_error (o2.error);
  out = lookup_s (o2.result, "stdout");
  g_assert_true (g_utf8_validate (out, -1, NULL));
  g_assert_cmpstr (out, ==, "x\xef\xbf\xbdy");
}

/* The shell and its background child, as the command prints it. */
static const char *group_command =
  "{'command': <'sleep 30 & echo $!; sleep 30; wait'>}";

static void
assert_group_gone (Outcome *o)
{
  pid_t shell, child;

  g_assert_nonnull (o->result);
  shell = lookup_i (o->result, "pid");
  child = (pid_t) g_ascii_strtoll (lookup_s (o->result, "stdout"), NULL, 10);
  g_assert_cmpint (shell, >, 0);
  g_assert_cmpint (child, >, 0);
  g_assert_cmpint (lookup_i (o->result, "exit_status"), ==, -1);
  g_assert_cmpint (lookup_i (o->result, "signal"), ==, SIGTERM);
  assert_gone (shell);
  assert_gone (child);
  /* Nothing left in the group (zombies of init aside). */
  if (kill (-shell, 0) == 0)
    assert_gone (child);
  else
    g_assert_cmpint (errno, ==, ESRCH);
}

static void
test_timeout (void)
{
  g_autoptr(OrreryLocalDevice) device = orrery_local_device_new ("local", NULL, 1);
  g_autoptr(OrreryTask) task = make_task ("t", group_command);
  g_auto(Outcome) o = { 0 };
  gint64 start;

  orrery_task_set_timeout (task, 0.5);
  start = g_get_monotonic_time ();
  run_task (device, task, NULL, &o);
  g_assert_error (o.error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_TIMEOUT);
  g_assert_cmpstr (o.error->message, ==, "timed out after 0.5 s; process group killed");
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
  g_assert_true (lookup_b (o.result, "timed_out"));
  assert_group_gone (&o);
}

static void
test_timeout_sigkill (void)
{
  g_autoptr(OrreryLocalDevice) device = orrery_local_device_new ("local", NULL, 1);
  /* Ignores SIGTERM: SIGKILL after the grace period. */
  g_autoptr(OrreryTask) task = make_task ("t", "{'command': <'trap \"\" TERM; echo ready; while :; do sleep 0.05; done'>}");
  g_auto(Outcome) o = { 0 };

  orrery_task_set_timeout (task, 0.3);
  run_task (device, task, NULL, &o);
  g_assert_error (o.error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_TIMEOUT);
  g_assert_cmpint (lookup_i (o.result, "signal"), ==, SIGKILL);
  g_assert_cmpstr (lookup_s (o.result, "stdout"), ==, "ready\n");
  assert_gone (lookup_i (o.result, "pid"));
}

static gboolean
cancel_cb (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

static void
test_cancel (void)
{
  g_autoptr(OrreryLocalDevice) device = orrery_local_device_new ("local", NULL, 1);
  g_autoptr(OrreryTask) task = make_task ("t", group_command);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_auto(Outcome) o = { 0 };
  gint64 start;

  g_timeout_add (300, cancel_cb, cancellable);
  start = g_get_monotonic_time ();
  run_task (device, task, cancellable, &o);
  g_assert_error (o.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
  assert_group_gone (&o);
}

static void
test_cancel_before (void)
{
  g_autoptr(OrreryLocalDevice) device = orrery_local_device_new ("local", NULL, 1);
  g_autoptr(OrreryTask) task = make_task ("t", "{'command': <'echo never'>}");
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_auto(Outcome) o = { 0 };

  g_cancellable_cancel (cancellable);
  run_task (device, task, cancellable, &o);
  g_assert_error (o.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (o.result);
}

static void
test_background_killed (void)
{
  g_autoptr(OrreryLocalDevice) device = orrery_local_device_new ("local", NULL, 1);
  g_autoptr(OrreryTask) task = make_task ("t", "{'command': <'sleep 30 & echo $!'>}");
  g_auto(Outcome) o = { 0 };
  gint64 start = g_get_monotonic_time ();

  /* The shell exits at once; its background child, still in the group and
   * holding stdout, is killed, so the execution ends at once too. */
  run_task (device, task, NULL, &o);
  g_assert_no_error (o.error);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 3 * G_USEC_PER_SEC);
  assert_gone ((pid_t) g_ascii_strtoll (lookup_s (o.result, "stdout"), NULL, 10));
}

static void
test_spawn_failure (void)
{
  g_autoptr(OrreryLocalDevice) device = orrery_local_device_new ("local", NULL, 1);
  g_autoptr(OrreryTask) task = make_task ("t", "{'command': <['/nonexistent/orrery-program']>}");
  g_autoptr(OrreryTask) bad_cwd = make_task ("t", "{'command': <'true'>, 'cwd': <'/nonexistent/dir'>}");
  g_auto(Outcome) o = { 0 };
  g_auto(Outcome) o2 = { 0 };

  run_task (device, task, NULL, &o);
  g_assert_error (o.error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_SPAWN);
  g_assert_nonnull (strstr (o.error->message, "/nonexistent/orrery-program"));
  g_assert_null (o.result);

  run_task (device, bad_cwd, NULL, &o2);
  g_assert_error (o2.error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_SPAWN);
}

static void
test_bad_task_data (void)
{
  g_autoptr(OrreryLocalDevice) device = orrery_local_device_new ("local", NULL, 1);
  const char *cases[] = {
    NULL,
    "@a{sv} {}",
    "{'command': <42>}",
    "{'command': <''>}",
    "{'command': <@as []>}",
    "{'command': <[<'echo'>, <1>]>}",
    "{'command': <'true'>, 'env': <'A=B'>}",
    "{'command': <'true'>, 'env': <{'A': <1>}>}",
    "{'command': <'true'>, 'cwd': <1>}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(OrreryTask) task = make_task ("bad", cases[i]);
      g_auto(Outcome) o = { 0 };

      g_test_message ("case %u: %s", i, cases[i] ? cases[i] : "(no task data)");
      run_task (device, task, NULL, &o);
      g_assert_error (o.error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_TASK_DATA);
      g_assert_nonnull (strstr (o.error->message, "“bad”"));
      g_assert_null (o.result);
    }
}

typedef struct
{
  guint done;
} Counter;

static void
count_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  Counter *counter = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) res = NULL;

  g_assert_true (orrery_device_execute_finish (ORRERY_DEVICE (source), result, &res, &error));
  g_assert_no_error (error);
  counter->done++;
}

static void
test_parallel (void)
{
  g_autoptr(OrreryLocalDevice) device = orrery_local_device_new ("local", NULL, 4);
  g_autoptr(OrreryTask) task = make_task ("t", "{'command': <'sleep 0.3'>}");
  Counter counter = { 0 };
  gint64 start = g_get_monotonic_time ();

  for (guint i = 0; i < 4; i++)
    orrery_device_execute_async (ORRERY_DEVICE (device), task, NULL, count_cb, &counter);
  g_assert_cmpuint (orrery_local_device_get_n_running (device), ==, 4);
  g_assert_cmpint (orrery_device_get_status (ORRERY_DEVICE (device)), ==, ORRERY_DEVICE_STATUS_BUSY);
  while (counter.done < 4)
    g_main_context_iteration (NULL, TRUE);
  /* Run side by side on the main loop, not one after the other. */
  g_assert_cmpint (g_get_monotonic_time () - start, <, 1100 * 1000);
  g_assert_cmpuint (orrery_local_device_get_n_running (device), ==, 0);
}

/* orrery_device_manager_set_run() reaches the devices it has and the
 * devices added later. */
static void
test_set_run (void)
{
  g_autoptr(OrreryDeviceManager) manager = orrery_device_manager_new ();
  g_autoptr(OrreryLocalDevice) first = orrery_local_device_new ("first", NULL, 1);
  g_autoptr(OrreryLocalDevice) later = orrery_local_device_new ("later", NULL, 1);
  g_autofree char *run_id = NULL;

  g_assert_true (orrery_device_manager_add_device (manager, ORRERY_DEVICE (first), NULL));
  g_assert_null (orrery_base_device_get_run_id (ORRERY_BASE_DEVICE (first)));
  g_assert_null (orrery_base_device_get_run_dir (ORRERY_BASE_DEVICE (first)));

  orrery_device_manager_set_run (manager, "r-1", "/tmp/runs/r-1");
  g_assert_cmpstr (orrery_base_device_get_run_id (ORRERY_BASE_DEVICE (first)), ==, "r-1");
  g_assert_cmpstr (orrery_base_device_get_run_dir (ORRERY_BASE_DEVICE (first)), ==, "/tmp/runs/r-1");
  g_object_get (first, "run-id", &run_id, NULL);
  g_assert_cmpstr (run_id, ==, "r-1");

  g_assert_true (orrery_device_manager_add_device (manager, ORRERY_DEVICE (later), NULL));
  g_assert_cmpstr (orrery_base_device_get_run_id (ORRERY_BASE_DEVICE (later)), ==, "r-1");
  g_assert_cmpstr (orrery_base_device_get_run_dir (ORRERY_BASE_DEVICE (later)), ==, "/tmp/runs/r-1");

  orrery_device_manager_set_run (manager, NULL, NULL);
  g_assert_null (orrery_base_device_get_run_id (ORRERY_BASE_DEVICE (later)));
  g_assert_null (orrery_base_device_get_run_dir (ORRERY_BASE_DEVICE (first)));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/local-device/properties", test_properties);
  g_test_add_func ("/local-device/success", test_success);
  g_test_add_func ("/local-device/argv", test_argv);
  g_test_add_func ("/local-device/env-cwd", test_env_cwd);
  g_test_add_func ("/local-device/stdin-closed", test_stdin_closed);
  g_test_add_func ("/local-device/exit-status", test_exit_status);
  g_test_add_func ("/local-device/signaled", test_signaled);
  g_test_add_func ("/local-device/truncation", test_truncation);
  g_test_add_func ("/local-device/timeout", test_timeout);
  g_test_add_func ("/local-device/timeout-sigkill", test_timeout_sigkill);
  g_test_add_func ("/local-device/cancel", test_cancel);
  g_test_add_func ("/local-device/cancel-before", test_cancel_before);
  g_test_add_func ("/local-device/background-killed", test_background_killed);
  g_test_add_func ("/local-device/spawn-failure", test_spawn_failure);
  g_test_add_func ("/local-device/bad-task-data", test_bad_task_data);
  g_test_add_func ("/local-device/parallel", test_parallel);
  g_test_add_func ("/local-device/set-run", test_set_run);

  return g_test_run ();
}
