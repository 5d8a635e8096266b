/* orrery-local-device.c: a device that runs commands on this machine.
 *
 * Each execution is one GSubprocess in a process group of its own, with
 * stdin on /dev/null and stdout and stderr read asynchronously into bounded
 * buffers (the rest is read and dropped, so the child never blocks on a
 * full pipe). Everything happens on the caller's main context: the child
 * watch, the pipe reads, the timeout and the cancellation are sources there;
 * no thread, no blocking wait, no polling.
 *
 * Killing: on a timeout or a cancel the whole group gets SIGTERM, and SIGKILL
 * after a short grace if the leader is still there. When the leader has
 * exited (for whatever reason) the group gets SIGKILL, so nothing the
 * command started in the background outlives the execution; the leader is
 * reaped by g_subprocess_wait_async(). The execution completes once the
 * leader is reaped and both pipes are at end of file (or, if a process that
 * left the group still holds them, after a short drain delay).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-Devices"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <signal.h>
#include <string.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "orrery-device-private.h"

#define KILL_GRACE_MS 200
#define DRAIN_GRACE_MS 1000
#define READ_CHUNK 8192

struct _OrreryLocalDevice
{
  OrreryBaseDevice parent_instance;

  gsize            max_output_bytes;
};

G_DEFINE_FINAL_TYPE (OrreryLocalDevice, orrery_local_device, ORRERY_TYPE_BASE_DEVICE)

enum {
  PROP_0,
  PROP_MAX_OUTPUT_BYTES,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* ------------------------------------------------------------------------ */
/* One execution. */

typedef enum {
  STOP_NONE,
  STOP_TIMEOUT,
  STOP_CANCEL,
} StopReason;

typedef struct _Run Run;

typedef struct
{
  Run          *run;
  GInputStream *stream;
  GByteArray   *data;
  gboolean      truncated;
  gboolean      done;
  guint8        chunk[READ_CHUNK];
} Output;

struct _Run
{
  GTask             *task;       /* owned until completion */
  OrreryLocalDevice *device;
  char              *task_id;
  GSubprocess       *proc;
  GPid               pid;        /* also the process group id */
  gint64             started_us;
  double             timeout;
  gsize              limit;

  Output             out;
  Output             err;
  GCancellable      *io_cancel;  /* cancels the pipe reads */

  GSource           *timeout_source;
  GSource           *cancel_source;
  GSource           *grace_source;
  GSource           *drain_source;

  StopReason         stop;
  gboolean           exited;
  gboolean           completed;

  GVariant          *result;     /* handed to execute_finish() */
};

static void
destroy_source (GSource **source)
{
  if (*source)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

static void
run_free (Run *run)
{
  g_assert (run->timeout_source == NULL && run->cancel_source == NULL &&
            run->grace_source == NULL && run->drain_source == NULL);
  g_clear_object (&run->out.stream);
  g_clear_object (&run->err.stream);
  g_clear_pointer (&run->out.data, g_byte_array_unref);
  g_clear_pointer (&run->err.data, g_byte_array_unref);
  g_clear_object (&run->io_cancel);
  g_clear_object (&run->proc);
  g_clear_object (&run->device);
  g_clear_pointer (&run->result, g_variant_unref);
  g_free (run->task_id);
  g_free (run);
}

static GSource *
attach_timeout (guint        ms,
                GSourceFunc  func,
                Run         *run)
{
  GSource *source = g_timeout_source_new (ms);

  g_source_set_callback (source, func, run, NULL);
  g_source_set_static_name (source, "[orrery] local device");
  g_source_attach (source, g_task_get_context (run->task));
  return source;
}

static void
signal_group (Run *run,
              int  signum)
{
  if (run->pid <= 0)
    return;
  if (kill (-run->pid, signum) < 0 && errno != ESRCH)
    g_warning ("task “%s”: cannot send signal %d to process group %d: %s",
               run->task_id, signum, (int) run->pid, g_strerror (errno));
}

static gboolean
grace_cb (gpointer user_data)
{
  Run *run = user_data;

  g_clear_pointer (&run->grace_source, g_source_unref);
  if (!run->exited)
    {
      g_debug ("task “%s”: process group %d still there after %d ms, killing",
               run->task_id, (int) run->pid, KILL_GRACE_MS);
      signal_group (run, SIGKILL);
    }
  return G_SOURCE_REMOVE;
}

static void
stop (Run        *run,
      StopReason  reason)
{
  if (run->stop != STOP_NONE || run->exited)
    return;
  run->stop = reason;
  destroy_source (&run->timeout_source);
  destroy_source (&run->cancel_source);
  signal_group (run, SIGTERM);
  run->grace_source = attach_timeout (KILL_GRACE_MS, grace_cb, run);
}

static gboolean
timeout_cb (gpointer user_data)
{
  Run *run = user_data;

  g_clear_pointer (&run->timeout_source, g_source_unref);
  g_debug ("task “%s”: timed out after %g s", run->task_id, run->timeout);
  stop (run, STOP_TIMEOUT);
  return G_SOURCE_REMOVE;
}

static gboolean
cancel_cb (GCancellable *cancellable,
           gpointer      user_data)
{
  Run *run = user_data;

  g_clear_pointer (&run->cancel_source, g_source_unref);
  stop (run, STOP_CANCEL);
  return G_SOURCE_REMOVE;
}

static GVariant *
output_to_variant (Output *out)
{
  g_autofree char *text = NULL;

  if (out->data->len == 0)
    return g_variant_new_string ("");
  text = g_utf8_make_valid ((const char *) out->data->data, out->data->len);
  return g_variant_new_take_string (g_steal_pointer (&text));
}

static void
maybe_complete (Run *run)
{
  GVariantBuilder builder;
  GTask *task;
  double duration;
  int exit_status = -1;
  int signum = 0;

  if (run->completed || !run->exited || !run->out.done || !run->err.done)
    return;
  run->completed = TRUE;

  destroy_source (&run->timeout_source);
  destroy_source (&run->cancel_source);
  destroy_source (&run->grace_source);
  destroy_source (&run->drain_source);

  duration = (g_get_monotonic_time () - run->started_us) / (double) G_USEC_PER_SEC;
  if (g_subprocess_get_if_exited (run->proc))
    exit_status = g_subprocess_get_exit_status (run->proc);
  else if (g_subprocess_get_if_signaled (run->proc))
    signum = g_subprocess_get_term_sig (run->proc);

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&builder, "{sv}", "exit_status", g_variant_new_int32 (exit_status));
  if (signum != 0)
    g_variant_builder_add (&builder, "{sv}", "signal", g_variant_new_int32 (signum));
  g_variant_builder_add (&builder, "{sv}", "stdout", output_to_variant (&run->out));
  g_variant_builder_add (&builder, "{sv}", "stderr", output_to_variant (&run->err));
  g_variant_builder_add (&builder, "{sv}", "stdout_truncated", g_variant_new_boolean (run->out.truncated));
  g_variant_builder_add (&builder, "{sv}", "stderr_truncated", g_variant_new_boolean (run->err.truncated));
  g_variant_builder_add (&builder, "{sv}", "duration", g_variant_new_double (duration));
  g_variant_builder_add (&builder, "{sv}", "pid", g_variant_new_int32 (run->pid));
  if (run->stop == STOP_TIMEOUT)
    g_variant_builder_add (&builder, "{sv}", "timed_out", g_variant_new_boolean (TRUE));
  run->result = g_variant_ref_sink (g_variant_builder_end (&builder));

  _orrery_base_device_task_finished ((OrreryBaseDevice *) run->device);

  task = g_steal_pointer (&run->task);
  if (run->stop == STOP_TIMEOUT)
    g_task_return_new_error (task, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_TIMEOUT,
                             "timed out after %g s; process group killed", run->timeout);
  else if (run->stop == STOP_CANCEL)
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                             "cancelled; process group killed");
  else if (signum != 0)
    g_task_return_new_error (task, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_SIGNALED,
                             "killed by signal %d (%s)", signum, g_strsignal (signum));
  else if (exit_status != 0)
    g_task_return_new_error (task, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_EXIT_STATUS,
                             "exited with status %d", exit_status);
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static gboolean
drain_cb (gpointer user_data)
{
  Run *run = user_data;

  g_clear_pointer (&run->drain_source, g_source_unref);
  g_debug ("task “%s”: output still open %d ms after the process exited; "
           "a process that left the group holds it", run->task_id, DRAIN_GRACE_MS);
  g_cancellable_cancel (run->io_cancel);
  return G_SOURCE_REMOVE;
}

static void
wait_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Run *run = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_subprocess_wait_finish (G_SUBPROCESS (source), result, &error))
    g_warning ("task “%s”: waiting for process %d: %s",
               run->task_id, (int) run->pid, error->message);
  run->exited = TRUE;
  /* Whatever the leader left running in its group goes too. */
  signal_group (run, SIGKILL);
  destroy_source (&run->grace_source);
  destroy_source (&run->timeout_source);
  destroy_source (&run->cancel_source);
  if (!run->out.done || !run->err.done)
    run->drain_source = attach_timeout (DRAIN_GRACE_MS, drain_cb, run);
  maybe_complete (run);
}

static void read_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data);

static void
read_next (Output *out)
{
  g_input_stream_read_async (out->stream, out->chunk, sizeof out->chunk,
                             G_PRIORITY_DEFAULT, out->run->io_cancel,
                             read_cb, out);
}

static void
read_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Output *out = user_data;
  Run *run = out->run;
  g_autoptr(GError) error = NULL;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  if (n > 0)
    {
      gsize room = run->limit > out->data->len ? run->limit - out->data->len : 0;

      if ((gsize) n > room)
        out->truncated = TRUE;
      if (room > 0)
        g_byte_array_append (out->data, out->chunk, MIN ((gsize) n, room));
      read_next (out);
      return;
    }
  if (n < 0 && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_debug ("task “%s”: reading output: %s", run->task_id, error->message);
  out->done = TRUE;
  g_input_stream_close (out->stream, NULL, NULL);
  maybe_complete (run);
}

/* Between fork and exec: async-signal-safe calls only. The child reports
 * its pid on a pipe because g_subprocess_get_identifier() is NULL once a
 * quick child has been reaped, and its group may still need killing. */
static void
child_setup (gpointer user_data)
{
  int fd = GPOINTER_TO_INT (user_data);
  pid_t pid;

  setpgid (0, 0);
  pid = getpid ();
  if (write (fd, &pid, sizeof pid) < 0)
    _exit (127);
}

static gboolean
lookup_string (GVariant    *task_data,
               const char  *key,
               char       **out_value,
               OrreryTask  *task,
               GError     **error)
{
  g_autoptr(GVariant) value = _orrery_vardict_lookup (task_data, key);

  *out_value = NULL;
  if (value == NULL)
    return TRUE;
  if (!g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    {
      g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_TASK_DATA,
                   "task “%s”: “%s” must be a string, not %s",
                   orrery_task_get_id (task), key, g_variant_get_type_string (value));
      return FALSE;
    }
  *out_value = g_variant_dup_string (value, NULL);
  return TRUE;
}

/* Reads the command, the environment and the working directory of @task
 * into @launcher and @out_argv. */
static gboolean
parse_task_data (OrreryTask            *task,
                 GSubprocessLauncher   *launcher,
                 char                ***out_argv,
                 GError               **error)
{
  GVariant *task_data = orrery_task_get_task_data (task);
  g_autoptr(GVariant) command = NULL;
  g_autoptr(GVariant) env = NULL;
  g_autofree char *cwd = NULL;
  g_auto(GStrv) argv = NULL;

  command = _orrery_vardict_lookup (task_data, "command");
  if (command == NULL)
    {
      g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_TASK_DATA,
                   "task “%s” has no command", orrery_task_get_id (task));
      return FALSE;
    }
  if (g_variant_is_of_type (command, G_VARIANT_TYPE_STRING))
    {
      const char *line = g_variant_get_string (command, NULL);

      if (*line == '\0')
        {
          g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_TASK_DATA,
                       "task “%s” has an empty command", orrery_task_get_id (task));
          return FALSE;
        }
      argv = g_new0 (char *, 4);
      argv[0] = g_strdup ("/bin/sh");
      argv[1] = g_strdup ("-c");
      argv[2] = g_strdup (line);
    }
  else if (!_orrery_variant_dup_strv (command, &argv))
    {
      g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_TASK_DATA,
                   "task “%s”: “command” must be a string or a list of strings, not %s",
                   orrery_task_get_id (task), g_variant_get_type_string (command));
      return FALSE;
    }
  else if (argv[0] == NULL || argv[0][0] == '\0')
    {
      g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_TASK_DATA,
                   "task “%s” has an empty command", orrery_task_get_id (task));
      return FALSE;
    }

  env = _orrery_vardict_lookup (task_data, "env");
  if (env != NULL)
    {
      GVariantIter iter;
      GVariant *entry;

      /* a{sv} as JSON gives it, or a{ss} as a C or Python caller may. */
      if (!g_variant_is_of_type (env, G_VARIANT_TYPE_VARDICT) &&
          !g_variant_is_of_type (env, G_VARIANT_TYPE ("a{ss}")))
        {
          g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_TASK_DATA,
                       "task “%s”: “env” must be a dictionary of strings, not %s",
                       orrery_task_get_id (task), g_variant_get_type_string (env));
          return FALSE;
        }
      g_variant_iter_init (&iter, env);
      while ((entry = g_variant_iter_next_value (&iter)) != NULL)
        {
          g_autoptr(GVariant) pair = entry;
          g_autoptr(GVariant) key = g_variant_get_child_value (pair, 0);
          g_autoptr(GVariant) str = g_variant_get_child_value (pair, 1);
          const char *name = g_variant_get_string (key, NULL);

          while (g_variant_is_of_type (str, G_VARIANT_TYPE_VARIANT))
            {
              GVariant *inner = g_variant_get_variant (str);

              g_variant_unref (str);
              str = inner;
            }
          if (!g_variant_is_of_type (str, G_VARIANT_TYPE_STRING) ||
              *name == '\0' || strchr (name, '=') != NULL)
            {
              g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_TASK_DATA,
                           "task “%s”: environment variable “%s” must be a string, not %s",
                           orrery_task_get_id (task), name, g_variant_get_type_string (str));
              return FALSE;
            }
          g_subprocess_launcher_setenv (launcher, name,
                                        g_variant_get_string (str, NULL), TRUE);
        }
    }

  if (!lookup_string (task_data, "cwd", &cwd, task, error))
    return FALSE;
  if (cwd != NULL)
    g_subprocess_launcher_set_cwd (launcher, cwd);

  *out_argv = g_steal_pointer (&argv);
  return TRUE;
}

static void
orrery_local_device_execute_async (OrreryBaseDevice    *device,
                                   OrreryTask          *task,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  OrreryLocalDevice *self = ORRERY_LOCAL_DEVICE (device);
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GTask) gtask = NULL;
  g_auto(GStrv) argv = NULL;
  GError *error = NULL;
  int pid_pipe[2];
  pid_t pid = 0;
  Run *run;

  gtask = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (gtask, orrery_local_device_execute_async);
  g_task_set_check_cancellable (gtask, FALSE);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  if (!parse_task_data (task, launcher, &argv, &error))
    {
      g_task_return_error (gtask, error);
      return;
    }
  if (g_cancellable_set_error_if_cancelled (cancellable, &error))
    {
      g_task_return_error (gtask, error);
      return;
    }
  if (!g_unix_open_pipe (pid_pipe, FD_CLOEXEC, &error))
    {
      g_task_return_new_error (gtask, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_SPAWN,
                               "cannot start “%s”: %s", argv[0], error->message);
      g_error_free (error);
      return;
    }
  if (!g_unix_set_fd_nonblocking (pid_pipe[0], TRUE, &error))
    {
      close (pid_pipe[0]);
      close (pid_pipe[1]);
      g_task_return_new_error (gtask, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_SPAWN,
                               "cannot start “%s”: %s", argv[0], error->message);
      g_error_free (error);
      return;
    }
  g_subprocess_launcher_set_stdin_file_path (launcher, "/dev/null");
  g_subprocess_launcher_set_child_setup (launcher, child_setup,
                                         GINT_TO_POINTER (pid_pipe[1]), NULL);

  run = g_new0 (Run, 1);
  run->device = g_object_ref (self);
  run->task_id = g_strdup (orrery_task_get_id (task));
  run->timeout = orrery_task_get_timeout (task);
  run->limit = self->max_output_bytes;
  g_task_set_task_data (gtask, run, (GDestroyNotify) run_free);

  run->started_us = g_get_monotonic_time ();
  run->proc = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv, &error);
  /* The child wrote its pid before exec, and spawnv() returns after it. */
  if (run->proc != NULL && read (pid_pipe[0], &pid, sizeof pid) == sizeof pid)
    run->pid = pid;
  close (pid_pipe[0]);
  close (pid_pipe[1]);
  if (run->proc == NULL)
    {
      g_task_return_new_error (gtask, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_SPAWN,
                               "cannot start “%s”: %s", argv[0], error->message);
      g_error_free (error);
      return;
    }
  if (run->pid <= 0)
    {
      const char *ident = g_subprocess_get_identifier (run->proc);

      run->pid = ident ? (GPid) g_ascii_strtoll (ident, NULL, 10) : 0;
    }
  g_debug ("task “%s”: started process %d", run->task_id, (int) run->pid);

  run->task = g_steal_pointer (&gtask);
  _orrery_base_device_task_started (device);

  run->io_cancel = g_cancellable_new ();
  run->out.run = run;
  run->out.stream = g_object_ref (g_subprocess_get_stdout_pipe (run->proc));
  run->out.data = g_byte_array_new ();
  run->err.run = run;
  run->err.stream = g_object_ref (g_subprocess_get_stderr_pipe (run->proc));
  run->err.data = g_byte_array_new ();

  g_subprocess_wait_async (run->proc, NULL, wait_cb, run);
  read_next (&run->out);
  read_next (&run->err);

  if (run->timeout > 0)
    run->timeout_source = attach_timeout ((guint) MIN (run->timeout * 1000.0 + 0.5,
                                                       (double) G_MAXUINT),
                                          timeout_cb, run);
  if (cancellable != NULL)
    {
      run->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (run->cancel_source, G_SOURCE_FUNC (cancel_cb), run, NULL);
      g_source_set_static_name (run->cancel_source, "[orrery] local device cancel");
      g_source_attach (run->cancel_source, g_task_get_context (run->task));
    }
}

static gboolean
orrery_local_device_execute_finish (OrreryBaseDevice  *device,
                                    GAsyncResult      *result,
                                    GVariant         **out_result,
                                    GError           **error)
{
  Run *run;

  g_return_val_if_fail (g_task_is_valid (result, device), FALSE);

  run = g_task_get_task_data (G_TASK (result));
  if (out_result)
    *out_result = run && run->result ? g_variant_ref (run->result) : NULL;
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
orrery_local_device_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  OrreryLocalDevice *self = ORRERY_LOCAL_DEVICE (object);

  switch (prop_id)
    {
    case PROP_MAX_OUTPUT_BYTES: g_value_set_uint64 (value, self->max_output_bytes); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
orrery_local_device_set_property (GObject      *object,
                                  guint         prop_id,
                                  const GValue *value,
                                  GParamSpec   *pspec)
{
  OrreryLocalDevice *self = ORRERY_LOCAL_DEVICE (object);

  switch (prop_id)
    {
    case PROP_MAX_OUTPUT_BYTES:
      orrery_local_device_set_max_output_bytes (self, g_value_get_uint64 (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
orrery_local_device_class_init (OrreryLocalDeviceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  OrreryBaseDeviceClass *device_class = ORRERY_BASE_DEVICE_CLASS (klass);

  object_class->get_property = orrery_local_device_get_property;
  object_class->set_property = orrery_local_device_set_property;
  device_class->execute_task_async = orrery_local_device_execute_async;
  device_class->execute_task_finish = orrery_local_device_execute_finish;
  device_class->default_id = "local";
  device_class->default_device_type = orrery_get_host_device_type ();

  /**
   * OrreryLocalDevice:max-output-bytes:
   *
   * How many bytes of standard output (and as many of standard error) are
   * kept in a result; the rest is dropped and the truncation noted.
   */
  properties[PROP_MAX_OUTPUT_BYTES] =
    g_param_spec_uint64 ("max-output-bytes", NULL, NULL, 0, G_MAXSIZE,
                         ORRERY_LOCAL_DEVICE_DEFAULT_MAX_OUTPUT_BYTES,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_EXPLICIT_NOTIFY |
                         G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
orrery_local_device_init (OrreryLocalDevice *self)
{
  self->max_output_bytes = ORRERY_LOCAL_DEVICE_DEFAULT_MAX_OUTPUT_BYTES;
}

/**
 * orrery_local_device_new:
 * @id: the device's unique id
 * @device_type: (nullable): the kind of system; %NULL for the host's (see
 *   orrery_get_host_device_type())
 * @max_concurrency: how many commands it runs at once; 0 for the number of
 *   processors
 *
 * Creates a device that runs a task's `command` as a subprocess of this
 * process. The task data it reads:
 *
 * - `command`: a string, run by `/bin/sh -c`, or a list of strings, run as
 *   the argument vector (the program is looked up in `PATH`)
 * - `env` (optional): a dictionary of strings added to the environment
 * - `cwd` (optional): the working directory
 *
 * Standard input is `/dev/null`. The result is a dictionary with
 * `exit_status` (`i`, -1 when killed), `signal` (`i`, when killed by a
 * signal), `stdout` and `stderr` (`s`, at most
 * #OrreryLocalDevice:max-output-bytes bytes each, invalid UTF-8 replaced),
 * `stdout_truncated` and `stderr_truncated` (`b`), `duration` (`d`, in
 * seconds), `pid` (`i`) and, after a timeout, `timed_out` (`b`).
 *
 * The command runs in a process group of its own; on a timeout or a cancel
 * the whole group is killed (%SIGTERM, then %SIGKILL after 200 ms), and
 * whatever is left in the group when the command exits is killed too.
 *
 * Returns: (transfer full): a new local device
 */
OrreryLocalDevice *
orrery_local_device_new (const char *id,
                         const char *device_type,
                         guint       max_concurrency)
{
  g_return_val_if_fail (id != NULL && *id != '\0', NULL);

  return g_object_new (ORRERY_TYPE_LOCAL_DEVICE,
                       "id", id,
                       "device-type", device_type,
                       "max-concurrency", max_concurrency,
                       NULL);
}

/**
 * orrery_local_device_set_capabilities:
 * @self: a local device
 * @capabilities: (nullable) (array zero-terminated=1): what the device can
 *   do
 *
 * Sets the device's capabilities.
 */
void
orrery_local_device_set_capabilities (OrreryLocalDevice  *self,
                                      const char * const *capabilities)
{
  g_return_if_fail (ORRERY_IS_LOCAL_DEVICE (self));

  orrery_base_device_set_capabilities (ORRERY_BASE_DEVICE (self), capabilities);
}

/**
 * orrery_local_device_get_max_output_bytes:
 * @self: a local device
 *
 * Returns: how many bytes of each output stream a result keeps
 */
gsize
orrery_local_device_get_max_output_bytes (OrreryLocalDevice *self)
{
  g_return_val_if_fail (ORRERY_IS_LOCAL_DEVICE (self), 0);
  return self->max_output_bytes;
}

/**
 * orrery_local_device_set_max_output_bytes:
 * @self: a local device
 * @max_output_bytes: how many bytes of standard output and of standard
 *   error a result keeps (the default is
 *   %ORRERY_LOCAL_DEVICE_DEFAULT_MAX_OUTPUT_BYTES)
 *
 * Sets the bound on the captured output of later executions.
 */
void
orrery_local_device_set_max_output_bytes (OrreryLocalDevice *self,
                                          gsize              max_output_bytes)
{
  g_return_if_fail (ORRERY_IS_LOCAL_DEVICE (self));

  if (self->max_output_bytes == max_output_bytes)
    return;
  self->max_output_bytes = max_output_bytes;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_OUTPUT_BYTES]);
}

/**
 * orrery_local_device_get_n_running:
 * @self: a local device
 *
 * Returns: how many commands the device is running now
 */
guint
orrery_local_device_get_n_running (OrreryLocalDevice *self)
{
  g_return_val_if_fail (ORRERY_IS_LOCAL_DEVICE (self), 0);
  return orrery_base_device_get_n_running (ORRERY_BASE_DEVICE (self));
}

/**
 * orrery_get_host_device_type:
 *
 * The device type of this machine: its system name in lower case, as
 * uname(2) gives it (`linux`, `freebsd`, `darwin`, ...).
 *
 * Returns: (transfer none): the host's device type
 */
const char *
orrery_get_host_device_type (void)
{
  static gsize host_type;

  if (g_once_init_enter (&host_type))
    {
      struct utsname name;
      char *type;

      if (uname (&name) == 0 && name.sysname[0] != '\0')
        type = g_ascii_strdown (name.sysname, -1);
      else
        type = g_strdup ("unknown");
      g_once_init_leave (&host_type, (gsize) type);
    }
  return (const char *) host_type;
}
