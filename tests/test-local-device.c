/* test-local-device.c: OrreryLocalDevice with real subprocesses.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
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

static void assert_result_normal (GVariant *result);

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
  if (o->result != NULL)
    assert_result_normal (o->result);
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

/* A result is in GVariant's normal form: its bytes, read back untrusted,
 * are valid and the same value, and GVariant serialises the same members
 * to the same bytes (the local device writes results itself). */
static void
assert_result_normal (GVariant *result)
{
  g_autoptr(GBytes) bytes = g_variant_get_data_as_bytes (result);
  g_autoptr(GVariant) untrusted = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE_VARDICT,
                                                                                 bytes, FALSE));
  g_auto(GVariantBuilder) builder = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  g_autoptr(GVariant) rebuilt = NULL;
  GVariantIter iter;
  const char *key;
  GVariant *value;

  g_assert_true (g_variant_is_of_type (result, G_VARIANT_TYPE_VARDICT));
  g_assert_true (g_variant_is_normal_form (untrusted));
  g_assert_true (g_variant_equal (untrusted, result));
  g_variant_iter_init (&iter, untrusted);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      g_variant_builder_add (&builder, "{sv}", key, value);
      g_variant_unref (value);
    }
  rebuilt = g_variant_ref_sink (g_variant_builder_end (&builder));
  g_assert_cmpmem (g_variant_get_data (rebuilt), g_variant_get_size (rebuilt),
                   g_variant_get_data (result), g_variant_get_size (result));
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

static guint
count_fds (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

typedef struct
{
  Outcome  o;
  guint    iterations;
} Nested;

/* A completion callback that iterates the main context itself (as a
 * handler waiting for something may): the execution's source, whose fds
 * leave it only after the callback, is dispatched from in there. */
static void
execute_nested_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  Nested *n = user_data;

  n->o.ok = orrery_device_execute_finish (ORRERY_DEVICE (source), result,
                                          &n->o.result, &n->o.error);
  for (guint i = 0; i < 50; i++)
    if (g_main_context_iteration (NULL, FALSE))
      n->iterations++;
  n->o.done = TRUE;
}

static void
test_nested_loop_in_completion (void)
{
  g_autoptr(OrreryLocalDevice) device = orrery_local_device_new ("local", NULL, 2);
  guint before;

  /* Once, for what the first execution opens for good (the private
   * directory's, the registry's). */
  {
    g_autoptr(OrreryTask) warm = make_task ("w", "{'command': <['true']>}");
    g_auto(Outcome) o = { 0 };

    run_task (device, warm, NULL, &o);
    g_assert_true (o.ok);
  }
  before = count_fds ();
  for (guint round = 0; round < 3; round++)
    {
      g_autoptr(OrreryTask) task = make_task ("t", "{'command': <'echo out; echo err >&2'>}");
      Nested n = { { 0 } };

      orrery_device_execute_async (ORRERY_DEVICE (device), task, NULL, execute_nested_cb, &n);
      while (!n.o.done)
        g_main_context_iteration (NULL, TRUE);
      g_assert_no_error (n.o.error);
      g_assert_true (n.o.ok);
      g_assert_cmpstr (lookup_s (n.o.result, "stdout"), ==, "out\n");
      g_assert_cmpstr (lookup_s (n.o.result, "stderr"), ==, "err\n");
      /* Nothing is left to dispatch over and over: not the pipes at their
       * end, not the reaped pidfd. */
      g_assert_cmpuint (n.iterations, <, 5);
      while (g_main_context_iteration (NULL, FALSE))
        ;
      g_assert_cmpuint (orrery_local_device_get_n_running (device), ==, 0);
      g_assert_cmpuint (count_fds (), ==, before);
      outcome_clear (&n.o);
    }
}

/* A process that forks after running tasks runs tasks in its child too:
 * what the device keeps of its own ids (its pid, the thread's) are the
 * child's there. The leader's parent is the child. */
static void
test_in_forked_child (void)
{
  g_autoptr(OrreryLocalDevice) device = orrery_local_device_new ("local", NULL, 2);
  g_autoptr(OrreryTask) task = make_task ("t", "{'command': <['sh', '-c', 'echo $PPID']>}");
  g_auto(Outcome) o = { 0 };
  int status = -1;
  pid_t pid;

  run_task (device, task, NULL, &o);
  g_assert_true (o.ok);
  g_assert_cmpint (atoi (lookup_s (o.result, "stdout")), ==, getpid ());
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      OrreryTask *again = make_task ("again", "{'command': <['sh', '-c', 'echo $PPID']>}");
      Outcome child = { 0 };
      gboolean ok;

      run_task (device, again, NULL, &child);
      ok = child.ok && atoi (lookup_s (child.result, "stdout")) == getpid ();
      if (!ok)
        g_printerr ("in the forked child: %s\n", child.error ? child.error->message : "wrong parent");
      /* Nothing left to valgrind's leak check in the child either. */
      outcome_clear (&child);
      g_object_unref (again);
      outcome_clear (&o);
      g_clear_object (&task);
      g_clear_object (&device);
      _exit (ok ? 0 : 1);
    }
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
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

/* Output that is not UTF-8 is kept as valid UTF-8 (U+FFFD for each bad
 * byte), a NUL too: GVariant strings are UTF-8 without NUL. */
static void
test_output_not_utf8 (void)
{
  g_autoptr(OrreryLocalDevice) device = orrery_local_device_new ("local", NULL, 1);
  g_autoptr(OrreryTask) task = make_task ("t", "{'command': <'printf \"a\\\\377b\\\\000c\"; printf \"\\\\303\" >&2'>}");
  g_auto(Outcome) o = { 0 };

  run_task (device, task, NULL, &o);
  g_assert_no_error (o.error);
  g_assert_cmpstr (lookup_s (o.result, "stdout"), ==, "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c");
  g_assert_cmpstr (lookup_s (o.result, "stderr"), ==, "\xef\xbf\xbd");
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

/* A command starts with default signal dispositions and no blocked
 * signal, whatever this process ignores or blocks around the start (SIGPIPE
 * ignored, as the host does; the spawn path blocks every signal while the
 * child is set up). Nothing but its standard streams is open. */
static void
test_child_state (void)
{
  g_autoptr(OrreryLocalDevice) device = orrery_local_device_new ("local", NULL, 1);
  g_autoptr(OrreryTask) task = make_task ("t",
    "{'command': <'grep -E \"^Sig(Blk|Ign)\" /proc/self/status; ls /proc/self/fd | wc -l'>}");
  g_auto(Outcome) o = { 0 };
  void (*old) (int) = signal (SIGPIPE, SIG_IGN);
  int leak = open ("/dev/null", O_RDONLY);  /* not close-on-exec */

  g_assert_cmpint (leak, >=, 3);
  run_task (device, task, NULL, &o);
  signal (SIGPIPE, old);
  close (leak);
  g_assert_no_error (o.error);
  /* `ls` sees 0, 1, 2 and the directory it reads. */
  g_assert_cmpstr (lookup_s (o.result, "stdout"), ==,
                   "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n4\n");
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

static void remove_tree (const char *path);

typedef struct
{
  guint done;
  gint64 exit_status_sum;
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
  counter->exit_status_sum += lookup_i (res, "exit_status");
  counter->done++;
}

static void
test_parallel (void)
{
  g_autoptr(OrreryLocalDevice) device = orrery_local_device_new ("local", NULL, 4);
  g_autofree char *dir = g_dir_make_tmp ("orrery-parallel-XXXXXX", NULL);
  /* Each run leaves a file and waits (up to 60 s) until all four are
   * there: it exits 0 only if the four ran side by side, whatever the
   * machine's load (the test asserts no time). */
  g_autofree char *data = g_strdup_printf (
    "{'command': <'mktemp -p %s >/dev/null; i=0; "
    "while [ $(ls %s | wc -l) -lt 4 ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; "
    "[ $(ls %s | wc -l) -ge 4 ]'>}", dir, dir, dir);
  g_autoptr(OrreryTask) task = make_task ("t", data);
  Counter counter = { 0 };

  for (guint i = 0; i < 4; i++)
    orrery_device_execute_async (ORRERY_DEVICE (device), task, NULL, count_cb, &counter);
  g_assert_cmpuint (orrery_local_device_get_n_running (device), ==, 4);
  g_assert_cmpint (orrery_device_get_status (ORRERY_DEVICE (device)), ==, ORRERY_DEVICE_STATUS_BUSY);
  while (counter.done < 4)
    g_main_context_iteration (NULL, TRUE);
  /* Run side by side on the main loop, not one after the other. */
  g_assert_cmpint (counter.exit_status_sum, ==, 0);
  g_assert_cmpuint (orrery_local_device_get_n_running (device), ==, 0);
  remove_tree (dir);
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

/* ------------------------------------------------------------------------ */
/* Task environment, outputs, logs, process lifetime. */

static char *
make_run_dir (void)
{
  char *dir = g_dir_make_tmp ("orrery-run-XXXXXX", NULL);

  g_assert_nonnull (dir);
  return dir;
}

static void
remove_tree (const char *path)
{
  g_autofree char *command = g_strdup_printf ("rm -rf '%s'", path);

  g_assert_cmpint (system (command), ==, 0);
}

static gint64
lookup_x (GVariant   *dict,
          const char *key)
{
  gint64 x = 0;

  g_assert_true (g_variant_lookup (dict, key, "x", &x));
  return x;
}

static guint
file_mode (const char *path)
{
  struct stat st;

  g_assert_cmpint (stat (path, &st), ==, 0);
  return st.st_mode & 07777;
}

static void
test_task_env (void)
{
  g_autoptr(OrreryLocalDevice) device = orrery_local_device_new ("local", NULL, 1);
  g_autoptr(OrreryConstellation) constellation = orrery_constellation_new ("the-c", "C");
  g_autoptr(OrreryTask) task = make_task ("the-t",
    "{'command': <'printf \"%s|\" \"$ORRERY_RUN_ID\" \"$ORRERY_CONSTELLATION_ID\" \"$ORRERY_TASK_ID\" "
    "\"$ORRERY_ATTEMPT\" \"$ORRERY_OUTPUTS\" \"${ORRERY_TASK_TOKEN:+token}\"; "
    "test ! -e \"$ORRERY_OUTPUTS\" && test -d \"${ORRERY_OUTPUTS%/*}\" && echo fresh'>,"
    " 'env': <{'ORRERY_TASK_ID': <'forged'>}>}");
  g_autofree char *run_dir = make_run_dir ();
  g_autofree char *expected = NULL;
  g_auto(GStrv) fields = NULL;
  g_auto(Outcome) o = { 0 };
  g_auto(Outcome) o2 = { 0 };

  g_assert_true (orrery_constellation_add_task (constellation, task, NULL));
  orrery_task_set_attempt (task, 2);

  /* Without a run: no run id, the outputs file in a private directory,
   * removed afterwards. */
  run_task (device, task, NULL, &o);
  g_assert_no_error (o.error);
  fields = g_strsplit (lookup_s (o.result, "stdout"), "|", -1);
  g_assert_cmpuint (g_strv_length (fields), ==, 7);
  g_assert_cmpstr (fields[0], ==, "");
  g_assert_cmpstr (fields[1], ==, "the-c");
  g_assert_cmpstr (fields[2], ==, "the-t");  /* the task's own env cannot forge it */
  g_assert_cmpstr (fields[3], ==, "2");
  g_assert_true (g_str_has_suffix (fields[4], ".outputs.json"));
  g_assert_cmpstr (fields[5], ==, "token");
  g_assert_cmpstr (fields[6], ==, "fresh\n");
  g_assert_false (g_file_test (fields[4], G_FILE_TEST_EXISTS));
  {
    g_autofree char *tmpdir = g_path_get_dirname (fields[4]);

    /* The process's private directory for them. */
    g_assert_cmpuint (file_mode (tmpdir), ==, 0700);
  }
  g_assert_false (g_variant_lookup (o.result, "outputs", "@a{sv}", NULL));
  g_assert_false (g_variant_lookup (o.result, "stdout_path", "&s", NULL));

  /* With a run: its id, and the outputs file among the logs, kept. */
  orrery_base_device_set_run (ORRERY_BASE_DEVICE (device), "run-42", run_dir);
  run_task (device, task, NULL, &o2);
  g_assert_no_error (o2.error);
  expected = g_strdup_printf ("run-42|the-c|the-t|2|%s/logs/the-t.2.outputs.json|token|fresh\n",
                              run_dir);
  g_assert_cmpstr (lookup_s (o2.result, "stdout"), ==, expected);
  {
    g_autofree char *logs = g_build_filename (run_dir, "logs", NULL);
    g_autofree char *other_dir = make_run_dir ();
    g_autofree char *other_logs = g_build_filename (other_dir, "logs", NULL);
    g_autofree char *stale = g_build_filename (other_logs, "the-t.2.outputs.json", NULL);
    g_autofree char *expected3 = NULL;
    g_autoptr(OrreryLocalDevice) device2 = orrery_local_device_new ("local2", NULL, 1);
    g_autoptr(OrreryTask) writer = make_task ("w", "{'command': <'echo \\'{\"a\": 1}\\' > \"$ORRERY_OUTPUTS\"'>}");
    g_autoptr(OrreryTask) again = make_task ("w", "{'command': <'test ! -e \"$ORRERY_OUTPUTS\"'>}");
    g_auto(Outcome) o3 = { 0 };
    g_auto(Outcome) o4 = { 0 };
    g_auto(Outcome) o5 = { 0 };

    /* Private by its directory. */
    g_assert_cmpuint (file_mode (logs), ==, 0700);

    /* The same attempt run again in this process: what the first one
     * wrote is not what the second finds, nor becomes its outputs. */
    run_task (device, writer, NULL, &o3);
    g_assert_no_error (o3.error);
    g_assert_true (g_variant_lookup (o3.result, "outputs", "@a{sv}", NULL));
    run_task (device, again, NULL, &o4);
    g_assert_no_error (o4.error);
    g_assert_false (g_variant_lookup (o4.result, "outputs", "@a{sv}", NULL));

    /* A run directory with logs from before (an interrupted attempt of
     * another process): the file under the name goes too. */
    g_assert_cmpint (g_mkdir_with_parents (other_logs, 0700), ==, 0);
    g_assert_true (g_file_set_contents (stale, "{\"stale\": 1}", -1, NULL));
    orrery_base_device_set_run (ORRERY_BASE_DEVICE (device2), "run-43", other_dir);
    run_task (device2, task, NULL, &o5);
    g_assert_no_error (o5.error);
    expected3 = g_strdup_printf ("run-43|the-c|the-t|2|%s|token|fresh\n", stale);
    g_assert_cmpstr (lookup_s (o5.result, "stdout"), ==, expected3);
    g_assert_false (g_variant_lookup (o5.result, "outputs", "@a{sv}", NULL));
    remove_tree (other_dir);
  }
  remove_tree (run_dir);
}

static void
test_outputs (void)
{
  g_autoptr(OrreryLocalDevice) device = orrery_local_device_new ("local", NULL, 1);
  g_autoptr(OrreryCondition) many = orrery_condition_parse ("outputs.rows >= 1000", NULL);
  g_autoptr(OrreryCondition) kind = orrery_condition_parse ("outputs.kind == \"csv\"", NULL);
  const char *rows[] = { "2000", "10" };

  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      g_autofree char *data = g_strdup_printf (
        "{'command': <'printf \\'{\"rows\": %s, \"kind\": \"csv\", \"nested\": {\"list\": [1, \"x\", null, []]}}\\' "
        "> \"$ORRERY_OUTPUTS\"'>}", rows[i]);
      g_autoptr(OrreryTask) task = make_task ("t", data);
      g_autoptr(GVariant) outputs = NULL;
      g_autoptr(GVariant) nested = NULL;
      g_auto(Outcome) o = { 0 };

      run_task (device, task, NULL, &o);
      g_assert_no_error (o.error);
      g_assert_true (g_variant_lookup (o.result, "outputs", "@a{sv}", &outputs));
      g_assert_cmpint (lookup_x (outputs, "rows"), ==, g_ascii_strtoll (rows[i], NULL, 10));
      g_assert_cmpstr (lookup_s (outputs, "kind"), ==, "csv");
      g_assert_true (g_variant_lookup (outputs, "nested", "@a{sv}", &nested));
      /* What a conditional dependency sees. */
      g_assert_true (orrery_condition_evaluate (many, o.result) == (i == 0));
      g_assert_true (orrery_condition_evaluate (kind, o.result));
    }

  /* Empty (or only blanks): no outputs, no failure. */
  {
    g_autoptr(OrreryTask) task = make_task ("t", "{'command': <'echo \"  \" > \"$ORRERY_OUTPUTS\"'>}");
    g_autoptr(OrreryTask) removed = make_task ("t", "{'command': <'echo 42 > \"$ORRERY_OUTPUTS\"; rm \"$ORRERY_OUTPUTS\"'>}");
    g_auto(Outcome) o = { 0 };
    g_auto(Outcome) o2 = { 0 };

    run_task (device, task, NULL, &o);
    g_assert_no_error (o.error);
    g_assert_false (g_variant_lookup (o.result, "outputs", "@a{sv}", NULL));
    g_assert_false (orrery_condition_evaluate (many, o.result));
    run_task (device, removed, NULL, &o2);
    g_assert_no_error (o2.error);
    g_assert_false (g_variant_lookup (o2.result, "outputs", "@a{sv}", NULL));
  }
}

static void
test_outputs_malformed (void)
{
  g_autoptr(OrreryLocalDevice) device = orrery_local_device_new ("local", NULL, 1);
  g_autofree char *run_dir = make_run_dir ();
  g_autofree char *path = NULL;
  g_autofree char *deep = NULL;
  struct {
    const char *command;
    const char *message;
  } cases[] = {
    { "printf \\'{\"rows\": \\' > \"$ORRERY_OUTPUTS\"", "not valid JSON" },
    { "echo \\'[1, 2]\\' > \"$ORRERY_OUTPUTS\"", "must hold one JSON object, not an array" },
    { "echo 42 > \"$ORRERY_OUTPUTS\"", "must hold one JSON object, not a number" },
    { "printf \\'{\"a\": \"\\\\\\\\ud800\"}\\' > \"$ORRERY_OUTPUTS\"", "not valid" },
    /* A malformed surrogate pair: json-glib 1.6.6 leaks on it (LeakSanitizer
     * in the sanitizer build), so it is refused before json-glib. */
    { "printf \\'{\"a\": \"\\\\\\\\ud83d\\\\\\\\u0041\"}\\' > \"$ORRERY_OUTPUTS\"",
      "$.a: not valid UTF-8 (a lone surrogate U+D83D)" },
    { NULL, "nested deeper than 64" },
    { "head -c 2000000 /dev/zero > \"$ORRERY_OUTPUTS\"", "more than the 1048576 allowed" },
  };

  orrery_base_device_set_run (ORRERY_BASE_DEVICE (device), "r", run_dir);
  path = g_strdup_printf ("outputs file %s/logs/bad.1.outputs.json: ", run_dir);
  {
    GString *s = g_string_new ("python3 -c \"print(\\'{\\\\\\\"a\\\\\\\": \\' + \\'[\\' * 100000)\" > \"$ORRERY_OUTPUTS\"");
    deep = g_string_free (s, FALSE);
  }
  cases[5].command = deep;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *data = g_strdup_printf ("{'command': <'%s'>}", cases[i].command);
      g_autoptr(OrreryTask) task = make_task ("bad", data);
      g_auto(Outcome) o = { 0 };

      g_test_message ("case %u: %s", i, cases[i].command);
      run_task (device, task, NULL, &o);
      g_assert_error (o.error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_OUTPUTS);
      g_test_message ("%s", o.error->message);
      g_assert_true (g_str_has_prefix (o.error->message, path));
      g_assert_nonnull (strstr (o.error->message, cases[i].message));
      /* The command's own result is still there. */
      g_assert_cmpint (lookup_i (o.result, "exit_status"), ==, 0);
    }
  remove_tree (run_dir);
}

/* Outputs nested as deep as the task's result can keep them whole are
 * kept, and come back whole from the result's serialised form (what an
 * isolated plugin or a worker gets, and the result itself once serialised);
 * one level deeper is refused with the file named, not cut short. The
 * result (a{sv}) takes 3 levels, each object 3, each array 2, the value 1,
 * of GVariant's 128: 41 nested objects fit, 42 do not; an object holding
 * 60 nested arrays fits, 61 do not. */
static void
test_outputs_depth (void)
{
  g_autoptr(OrreryLocalDevice) device = orrery_local_device_new ("local", NULL, 1);
  g_autofree char *run_dir = make_run_dir ();
  g_autofree char *prefix = NULL;
  struct {
    guint    objects;   /* nested objects {"a": ...} */
    guint    arrays;    /* then nested arrays [...] */
    gboolean kept;
  } cases[] = {
    { 41, 0, TRUE }, { 42, 0, FALSE }, { 1, 60, TRUE }, { 1, 61, FALSE },
  };

  orrery_base_device_set_run (ORRERY_BASE_DEVICE (device), "r", run_dir);
  prefix = g_strdup_printf ("outputs file %s/logs/deep.1.outputs.json: ", run_dir);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      GString *json = g_string_new (NULL);
      g_autofree char *file = g_strdup_printf ("%s/deep-%u.json", run_dir, i);
      g_autofree char *data = NULL;
      g_autoptr(OrreryTask) task = NULL;
      g_auto(Outcome) o = { 0 };

      for (guint k = 0; k < cases[i].objects; k++)
        g_string_append (json, "{\"a\": ");
      for (guint k = 0; k < cases[i].arrays; k++)
        g_string_append_c (json, '[');
      g_string_append (json, "7");
      for (guint k = 0; k < cases[i].arrays; k++)
        g_string_append_c (json, ']');
      for (guint k = 0; k < cases[i].objects; k++)
        g_string_append_c (json, '}');
      g_assert_true (g_file_set_contents (file, json->str, -1, NULL));
      g_string_free (json, TRUE);
      data = g_strdup_printf ("{'command': <'cat %s > \"$ORRERY_OUTPUTS\"'>}", file);
      task = make_task ("deep", data);

      g_test_message ("case %u: %u objects, %u arrays", i, cases[i].objects, cases[i].arrays);
      run_task (device, task, NULL, &o);
      if (cases[i].kept)
        {
          g_autofree char *before = NULL;
          g_autofree char *after = NULL;
          g_autoptr(GVariant) copy = NULL;
          g_autoptr(GVariant) outputs = NULL;
          g_autoptr(GBytes) bytes = NULL;

          g_assert_no_error (o.error);
          /* Printed before anything serialises it (g_variant_lookup() would):
           * serialising a GVariant deeper than GVariant keeps cuts it short
           * in place. */
          outputs = g_variant_lookup_value (o.result, "outputs", G_VARIANT_TYPE_VARDICT);
          g_assert_nonnull (outputs);
          before = g_variant_print (o.result, FALSE);
          bytes = g_variant_get_data_as_bytes (o.result);
          copy = g_variant_new_from_bytes (g_variant_get_type (o.result), bytes, FALSE);
          after = g_variant_print (copy, FALSE);
          g_assert_cmpstr (after, ==, before);
          g_assert_nonnull (strstr (before, "7"));
        }
      else
        {
          g_assert_error (o.error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_OUTPUTS);
          g_test_message ("%s", o.error->message);
          g_assert_true (g_str_has_prefix (o.error->message, prefix));
          g_assert_nonnull (strstr (o.error->message, "nested too deep to be kept whole"));
          g_assert_cmpint (lookup_i (o.result, "exit_status"), ==, 0);
          g_assert_false (g_variant_lookup (o.result, "outputs", "@a{sv}", NULL));
        }
    }
  remove_tree (run_dir);
}

static char *
read_file (const char *path,
           gsize      *len)
{
  char *text = NULL;

  g_assert_true (g_file_get_contents (path, &text, len, NULL));
  return text;
}

static void
test_logs (void)
{
  g_autoptr(OrreryLocalDevice) device = orrery_local_device_new ("local", NULL, 1);
  /* 300000 bytes of numbered lines on stdout, a little on stderr. */
  g_autoptr(OrreryTask) task = make_task ("a/b c",
    "{'command': <'seq 1 50000 | sed s/^/line-/; echo END; echo oops >&2'>}");
  g_autoptr(OrreryTask) failing = make_task ("f", "{'command': <'echo why >&2; exit 4'>}");
  g_autofree char *run_dir = make_run_dir ();
  g_autofree char *logs = g_build_filename (run_dir, "logs", NULL);
  g_autofree char *expected = NULL;
  g_autofree char *text = NULL;
  g_autofree char *err_text = NULL;
  g_autofree char *stem = orrery_escape_for_filename ("a/b c");
  g_autofree char *out_path = NULL;
  g_autofree char *err_path = NULL;
  g_autofree char *message = NULL;
  g_auto(Outcome) o = { 0 };
  g_auto(Outcome) o2 = { 0 };
  gsize len = 0;
  const char *tail;

  {
    GString *s = g_string_new (NULL);

    for (guint i = 1; i <= 50000; i++)
      g_string_append_printf (s, "line-%u\n", i);
    g_string_append (s, "END\n");
    expected = g_string_free (s, FALSE);
  }
  g_assert_cmpuint (strlen (expected), >, 4 * ORRERY_LOCAL_DEVICE_DEFAULT_MAX_OUTPUT_BYTES);

  orrery_base_device_set_run (ORRERY_BASE_DEVICE (device), "r", run_dir);
  run_task (device, task, NULL, &o);
  g_assert_no_error (o.error);
  out_path = g_strdup_printf ("%s/%s.1.stdout", logs, stem);
  err_path = g_strdup_printf ("%s/%s.1.stderr", logs, stem);
  g_assert_cmpstr (lookup_s (o.result, "stdout_path"), ==, out_path);
  g_assert_cmpstr (lookup_s (o.result, "stderr_path"), ==, err_path);

  /* Complete on disk, beyond what a result holds. */
  text = read_file (out_path, &len);
  g_assert_cmpuint (len, ==, strlen (expected));
  g_assert_cmpstr (text, ==, expected);
  err_text = read_file (err_path, NULL);
  g_assert_cmpstr (err_text, ==, "oops\n");
  g_assert_cmpint (lookup_x (o.result, "stdout_bytes"), ==, (gint64) strlen (expected));
  g_assert_false (lookup_b (o.result, "stdout_log_truncated"));

  /* The result keeps the tail. */
  tail = lookup_s (o.result, "stdout");
  g_assert_cmpuint (strlen (tail), ==, ORRERY_LOCAL_DEVICE_DEFAULT_MAX_OUTPUT_BYTES);
  g_assert_true (g_str_has_suffix (expected, tail));
  g_assert_true (lookup_b (o.result, "stdout_truncated"));
  g_assert_cmpstr (lookup_s (o.result, "stderr"), ==, "oops\n");
  g_assert_false (lookup_b (o.result, "stderr_truncated"));

  /* Private. */
  g_assert_cmpuint (file_mode (logs), ==, 0700);
  g_assert_cmpuint (file_mode (out_path), ==, 0600);
  g_assert_cmpuint (file_mode (err_path), ==, 0600);

  /* A failure names its log files: only those that exist, a log file is
   * created at its first byte (the command printed nothing on stdout). */
  run_task (device, failing, NULL, &o2);
  g_assert_error (o2.error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_EXIT_STATUS);
  message = g_strdup_printf ("exited with status 4 (output in %s/f.1.stderr)", logs);
  g_assert_cmpstr (o2.error->message, ==, message);
  {
    g_autofree char *f_out = g_strdup_printf ("%s/f.1.stdout", logs);

    g_assert_cmpstr (lookup_s (o2.result, "stdout_path"), ==, f_out);
    g_assert_false (g_file_test (f_out, G_FILE_TEST_EXISTS));
  }
  remove_tree (run_dir);
}

static void
test_log_cap (void)
{
  g_autoptr(OrreryLocalDevice) device = orrery_local_device_new ("local", NULL, 1);
  g_autoptr(OrreryTask) task = make_task ("t",
    "{'command': <'head -c 5000 /dev/zero | tr \"\\\\\\\\0\" a; echo; echo end'>}");
  g_autofree char *run_dir = make_run_dir ();
  g_autofree char *text = NULL;
  g_auto(Outcome) o = { 0 };
  gsize len = 0;

  orrery_local_device_set_log_max_bytes (device, 1000);
  g_assert_cmpuint (orrery_local_device_get_log_max_bytes (device), ==, 1000);
  orrery_base_device_set_run (ORRERY_BASE_DEVICE (device), "r", run_dir);
  run_task (device, task, NULL, &o);
  g_assert_no_error (o.error);
  text = read_file (lookup_s (o.result, "stdout_path"), &len);
  g_assert_cmpuint (strspn (text, "a"), ==, 1000);
  g_assert_true (g_str_has_suffix (text, "\n[orrery: log cut at 1000 bytes (LogMaxBytes); "
                                         "4005 more bytes not written]\n"));
  g_assert_true (lookup_b (o.result, "stdout_log_truncated"));
  g_assert_false (lookup_b (o.result, "stderr_log_truncated"));
  g_assert_cmpint (lookup_x (o.result, "stdout_bytes"), ==, 5005);
  /* The result still has the tail. */
  g_assert_true (g_str_has_suffix (lookup_s (o.result, "stdout"), "aaa\nend\n"));
  remove_tree (run_dir);
}

/* The process record exists while the task runs (a line of
 * logs/processes, written before the command runs), and goes after (the
 * line is blanked, and used again by the next execution). */
static void
test_pid_record (void)
{
  g_autoptr(OrreryLocalDevice) device = orrery_local_device_new ("local", NULL, 1);
  g_autoptr(OrreryTask) task = make_task ("t",
    "{'command': <'grep -v \\'^ *$\\' \"${ORRERY_OUTPUTS%/*}/processes\"; echo \"$$ $ORRERY_TASK_TOKEN\"; "
    "cut -d \\' \\' -f 22 /proc/$$/stat'>}");
  g_autoptr(OrreryTask) again = make_task ("u", "{'command': <'true'>}");
  g_autofree char *run_dir = make_run_dir ();
  g_autofree char *record = NULL;
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  g_auto(GStrv) fields = NULL;
  g_auto(GStrv) self = NULL;
  g_auto(Outcome) o = { 0 };
  g_auto(Outcome) o2 = { 0 };
  gsize len = 0;

  orrery_base_device_set_run (ORRERY_BASE_DEVICE (device), "r", run_dir);
  run_task (device, task, NULL, &o);
  g_assert_no_error (o.error);
  lines = g_strsplit (lookup_s (o.result, "stdout"), "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 4);
  fields = g_strsplit (g_strstrip (lines[0]), " ", -1);
  self = g_strsplit (lines[1], " ", -1);
  g_assert_cmpuint (g_strv_length (fields), ==, 4);
  g_assert_cmpstr (fields[0], ==, self[0]);                     /* PID */
  g_assert_cmpint (g_ascii_strtoll (fields[1], NULL, 10), >, 0); /* start time */
  g_assert_cmpstr (fields[1], ==, lines[2]);                    /* as /proc says */
  g_assert_cmpstr (fields[2], ==, self[0]);                     /* its own group */
  g_assert_cmpstr (fields[3], ==, self[1]);                     /* the token */
  g_assert_cmpint (lookup_i (o.result, "pid"), ==, g_ascii_strtoll (self[0], NULL, 10));
  record = g_strdup_printf ("%s/logs/processes", run_dir);
  g_assert_true (g_file_get_contents (record, &text, &len, NULL));
  g_assert_cmpuint (len, ==, 128);
  g_assert_cmpstr (g_strstrip (text), ==, "");
  g_clear_pointer (&text, g_free);
  /* The slot is used again: the file does not grow. */
  run_task (device, again, NULL, &o2);
  g_assert_no_error (o2.error);
  g_assert_true (g_file_get_contents (record, &text, &len, NULL));
  g_assert_cmpuint (len, ==, 128);
  remove_tree (run_dir);
}

static guint64
start_time_of (pid_t pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *stat = NULL;
  unsigned long long start = 0;
  const char *p;

  g_assert_true (g_file_get_contents (path, &stat, NULL, NULL));
  p = strrchr (stat, ')');
  g_assert_cmpint (sscanf (p + 1, " %*c %*d %*d %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
                                   "%*s %*s %*s %*s %*s %llu", &start), ==, 1);
  return start;
}

static pid_t
spawn_sleeper (const char *seconds,
               const char *token)
{
  const char *argv[] = { "sleep", seconds, NULL };
  g_auto(GStrv) envp = g_get_environ ();
  g_autoptr(GError) error = NULL;
  GPid pid = 0;

  if (token)
    envp = g_environ_setenv (envp, "ORRERY_TASK_TOKEN", token, TRUE);
  g_assert_true (g_spawn_async (NULL, (char **) argv, envp,
                                G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
                                G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                                NULL, NULL, &pid, &error));
  g_assert_no_error (error);
  /* Exec'd (its start time and environment are the sleeper's). */
  for (;;)
    {
      g_autofree char *exe = g_strdup_printf ("/proc/%d/exe", (int) pid);
      g_autofree char *target = g_file_read_link (exe, NULL);

      if (target && g_str_has_suffix (target, "/sleep"))
        break;
      g_usleep (1000);
    }
  return pid;
}

static void
write_record (const char *run_dir,
              const char *name,
              const char *line)
{
  g_autofree char *logs = g_build_filename (run_dir, "logs", NULL);
  g_autofree char *path = g_build_filename (logs, name, NULL);

  g_assert_cmpint (g_mkdir_with_parents (logs, 0700), ==, 0);
  g_assert_true (g_file_set_contents (path, line, -1, NULL));
}

/* Reaps @pid, our child: whether SIGKILL killed it. */
static gboolean
was_killed (pid_t pid)
{
  int status = 0;

  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  return WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL;
}

static void
test_kill_survivors (void)
{
  g_autofree char *run_dir = make_run_dir ();
  g_autofree char *line = NULL;
  g_autofree char *reused = NULL;
  g_autofree char *rec_a = NULL;
  g_autofree char *s_alive = NULL;
  g_autofree char *s_other = NULL;
  g_autofree char *s_tagged = NULL;
  g_autofree char *token = NULL;
  g_autofree char *gone = NULL;
  g_autoptr(GError) error = NULL;
  pid_t alive, other, tagged;
  guint n_killed = 99;

  /* Nothing recorded: nothing to do. */
  g_assert_true (orrery_local_device_kill_survivors (run_dir, &n_killed, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n_killed, ==, 0);

  /* Unique arguments and token: other copies of this test may run. */
  s_alive = g_strdup_printf ("1000.%d1", (int) getpid ());
  s_other = g_strdup_printf ("1000.%d2", (int) getpid ());
  s_tagged = g_strdup_printf ("1000.%d3", (int) getpid ());
  token = g_strdup_printf ("dead.%d.abc-7", (int) getpid ());
  alive = spawn_sleeper (s_alive, NULL);
  other = spawn_sleeper (s_other, NULL);
  tagged = spawn_sleeper (s_tagged, token);
  /* The recorded process, still there. */
  line = g_strdup_printf ("%d %" G_GUINT64_FORMAT " %d tok-a-%d\n", (int) alive,
                          start_time_of (alive), (int) alive, (int) getpid ());
  /* A pid now used by another process (its start time differs), in a
   * record file of an older version. */
  reused = g_strdup_printf ("%d %" G_GUINT64_FORMAT " %d tok-b-%d\n", (int) other,
                            start_time_of (other) + 1, (int) other, (int) getpid ());
  write_record (run_dir, "b.1.pid", reused);
  /* A leader long gone, whose descendant carries its token. The
   * processes file: slots of 128 bytes, lines padded with spaces, a slot
   * of an execution that ended blank. */
  gone = g_strdup_printf ("4194303 12 4194303 %s", token);
  {
    g_autofree char *slots = g_strdup_printf ("%-127s\n%-127s\n%-127s\n", g_strchomp (line), "", gone);

    write_record (run_dir, "processes", slots);
  }

  g_assert_true (orrery_local_device_kill_survivors (run_dir, &n_killed, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n_killed, ==, 2);
  g_assert_true (was_killed (alive));
  g_assert_true (was_killed (tagged));
  g_assert_cmpint (kill (other, 0), ==, 0);
  g_assert_cmpint (waitpid (other, NULL, WNOHANG), ==, 0);
  kill (other, SIGKILL);
  g_assert_true (was_killed (other));

  /* The records are gone. */
  rec_a = g_build_filename (run_dir, "logs", "processes", NULL);
  g_assert_false (g_file_test (rec_a, G_FILE_TEST_EXISTS));
  g_free (rec_a);
  rec_a = g_build_filename (run_dir, "logs", "b.1.pid", NULL);
  g_assert_false (g_file_test (rec_a, G_FILE_TEST_EXISTS));
  g_assert_true (orrery_local_device_kill_survivors (run_dir, &n_killed, &error));
  g_assert_cmpuint (n_killed, ==, 0);
  remove_tree (run_dir);
}

/* Whether a live process has @arg among its arguments. */
static gboolean
running_with_arg (const char *arg)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc", 0, NULL);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autofree char *cmdline = NULL;
      gsize len = 0;

      if (!g_ascii_isdigit (name[0]))
        continue;
      path = g_strdup_printf ("/proc/%s/cmdline", name);
      if (!g_file_get_contents (path, &cmdline, &len, NULL))
        continue;
      for (gsize i = 0; i < len; i += strlen (cmdline + i) + 1)
        if (strcmp (cmdline + i, arg) == 0 &&
            process_alive ((pid_t) g_ascii_strtoll (name, NULL, 10)))
          return TRUE;
    }
  return FALSE;
}

typedef struct
{
  const char   *marker;
  GCancellable *cancellable;
} CancelWhen;

/* Cancels once the sleeper with the marker runs (not at a fixed time: the
 * machine may be slow). */
static gboolean
cancel_when_running_cb (gpointer user_data)
{
  CancelWhen *when = user_data;

  if (!running_with_arg (when->marker))
    return G_SOURCE_CONTINUE;
  g_cancellable_cancel (when->cancellable);
  return G_SOURCE_REMOVE;
}

/* Processes that leave the task's group (setsid) go with the task: at its
 * end, on a cancel, on a timeout; also when they cleared their
 * environment, as long as they were still in the task's tree. */
static void
test_escaped_killed (void)
{
  g_autoptr(OrreryLocalDevice) device = orrery_local_device_new ("local", NULL, 1);
  /* Each sleeper has a unique argument, this process's pid in it: other
   * copies of this test may run at the same time. */
  struct {
    const char *command;
    gboolean    cancel;
    double      timeout;
    char       *marker;
  } cases[] = {
    /* Ends at once; the escaped one is adopted here when the shell exits. */
    { "setsid sleep %s & echo $!", FALSE, 0, NULL },
    /* Its parent exits first: adopted here while the task still runs. */
    { "(setsid sh -c \\'exec sleep %s\\' &); sleep 0.3", FALSE, 0, NULL },
    { "setsid sleep %s & wait", TRUE, 0, NULL },
    { "setsid sleep %s & wait", FALSE, 0.3, NULL },
    { "env -i /usr/bin/setsid sleep %s & wait", TRUE, 0, NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *marker = g_strdup_printf ("1000.%d%02u", (int) getpid (), i);
      g_auto(GStrv) parts = g_strsplit (cases[i].command, "%s", -1);
      g_autofree char *command = g_strjoinv (marker, parts);
      g_autofree char *data = g_strdup_printf ("{'command': <'%s'>}", command);
      g_autoptr(OrreryTask) task = make_task ("t", data);
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      g_auto(Outcome) o = { 0 };
      CancelWhen when = { marker, cancellable };
      guint watch = 0;

      g_test_message ("case %u: %s", i, command);
      if (cases[i].cancel)
        watch = g_timeout_add (10, cancel_when_running_cb, &when);
      orrery_task_set_timeout (task, cases[i].timeout);
      run_task (device, task, cancellable, &o);
      if (watch && !g_cancellable_is_cancelled (cancellable))
        g_source_remove (watch);
      if (cases[i].cancel)
        g_assert_error (o.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      else if (cases[i].timeout > 0)
        g_assert_error (o.error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_TIMEOUT);
      else
        g_assert_no_error (o.error);
      /* Gone, and reaped: no zombie of ours either. */
      g_assert_false (running_with_arg (marker));
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/local-device/properties", test_properties);
  g_test_add_func ("/local-device/success", test_success);
  g_test_add_func ("/local-device/nested-loop-in-completion", test_nested_loop_in_completion);
  g_test_add_func ("/local-device/in-forked-child", test_in_forked_child);
  g_test_add_func ("/local-device/output-not-utf8", test_output_not_utf8);
  g_test_add_func ("/local-device/argv", test_argv);
  g_test_add_func ("/local-device/env-cwd", test_env_cwd);
  g_test_add_func ("/local-device/stdin-closed", test_stdin_closed);
  g_test_add_func ("/local-device/child-state", test_child_state);
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
  g_test_add_func ("/local-device/task-env", test_task_env);
  g_test_add_func ("/local-device/outputs", test_outputs);
  g_test_add_func ("/local-device/outputs-malformed", test_outputs_malformed);
  g_test_add_func ("/local-device/outputs-depth", test_outputs_depth);
  g_test_add_func ("/local-device/logs", test_logs);
  g_test_add_func ("/local-device/log-cap", test_log_cap);
  g_test_add_func ("/local-device/pid-record", test_pid_record);
  g_test_add_func ("/local-device/kill-survivors", test_kill_survivors);
  g_test_add_func ("/local-device/escaped-killed", test_escaped_killed);

  return g_test_run ();
}
