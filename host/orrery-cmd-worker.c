/* orrery-cmd-worker.c: `orrery worker URL --pool NAME ...`.
 *
 * The worker is the redis plugin's program (orrery-redis-worker, in
 * libexecdir, or in the build tree when orrery runs from it): this command
 * only finds it and runs it in its place, so that the host links no Redis
 * client. $ORRERY_REDIS_WORKER names another one. The journal on a stream
 * is below.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <gio/gunixoutputstream.h>
#include <glib/gstdio.h>

#include "orrery-host.h"

static char *
redis_program (const char *name)
{
  const char *env = g_str_equal (name, "orrery-redis-worker") ? g_getenv ("ORRERY_REDIS_WORKER")
                                                               : NULL;
  g_autofree char *self = NULL;
  g_autofree char *root = NULL;

  if (env != NULL && *env != '\0')
    return g_strdup (env);
  self = realpath ("/proc/self/exe", NULL);
  root = realpath (ORRERY_HOST_BUILD_ROOT, NULL);
  if (self != NULL && root != NULL && g_str_has_prefix (self, root) &&
      self[strlen (root)] == '/')
    return g_build_filename (ORRERY_HOST_BUILD_ROOT, "plugins", "redis", name, NULL);
  return g_build_filename (ORRERY_HOST_LIBEXECDIR, name, NULL);
}

int
orrery_host_cmd_worker (int    argc,
                        char **argv)
{
  g_autofree char *program = redis_program ("orrery-redis-worker");
  g_autofree char **args = g_new0 (char *, argc + 1);

  args[0] = program;
  for (int i = 1; i < argc; i++)
    args[i] = argv[i];
  execv (program, args);
  g_printerr ("orrery worker: cannot run %s: %s (is the redis plugin built? it needs "
              "libhiredis-dev)\n", program, g_strerror (errno));
  return ORRERY_EXIT_USAGE;
}

/* ---------------------------------------------------------------- journals on a stream
 *
 * `orrery run --journal redis://...` writes the journal into a pipe read by
 * the redis plugin's orrery-redis-journal, which appends each line to the
 * stream orrery:run:RUN_ID:journal; `orrery watch|replay|resume|serve URL
 * --run RUN_ID` first has it copy the stream into a local journal (watch:
 * as it grows), and then reads that file as any journal. The SDK's
 * journal and reader stay file-based, and the host links no Redis client.
 */

gboolean
orrery_host_journal_is_remote (const char *arg)
{
  return arg != NULL &&
         (g_str_has_prefix (arg, "redis://") || g_str_has_prefix (arg, "redis+unix://"));
}

/* The URL without its password, for messages. */
char *
orrery_host_redact_url (const char *url)
{
  const char *auth = strstr (url, "://");
  const char *at, *slash, *colon;

  if (auth == NULL)
    return g_strdup (url);
  auth += 3;
  at = strchr (auth, '@');
  slash = strchr (auth, '/');
  if (at == NULL || (slash != NULL && slash < at))
    return g_strdup (url);
  colon = memchr (auth, ':', at - auth);
  if (colon != NULL)
    return g_strdup_printf ("%.*s:***%s", (int) (colon - url), url, at);
  return g_strdup_printf ("%.*s***%s", (int) (auth - url), url, at);
}

int
orrery_host_remote_journal_open (const char    *url,
                                 const char    *run_id,
                                 OrreryConfig  *config,
                                 GSubprocess  **out_helper,
                                 GError       **error)
{
  g_autofree char *program = redis_program ("orrery-redis-journal");
  g_autofree char *maxlen = NULL;
  g_autofree char *ttl = NULL;
  GSubprocess *helper;
  GError *local = NULL;
  guint64 n_max, n_ttl;
  int fd;

  n_max = orrery_config_get_uint (config, "Host", "JournalStreamMaxLen", 0, &local);
  if (local == NULL)
    n_ttl = orrery_config_get_uint (config, "Host", "JournalStreamTtlSec", 0, &local);
  if (local != NULL)
    {
      g_propagate_error (error, local);
      return -1;
    }
  maxlen = g_strdup_printf ("%" G_GUINT64_FORMAT, n_max);
  ttl = g_strdup_printf ("%" G_GUINT64_FORMAT, MIN (n_ttl, (guint64) G_MAXINT));
  helper = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE, error, program, "write", url,
                             "--run", run_id, "--maxlen", maxlen, "--ttl", ttl, NULL);
  if (helper == NULL)
    return -1;
  fd = dup (g_unix_output_stream_get_fd (G_UNIX_OUTPUT_STREAM (g_subprocess_get_stdin_pipe (helper))));
  g_output_stream_close (g_subprocess_get_stdin_pipe (helper), NULL, NULL);
  /* A helper that goes away is a write error (EPIPE) that fails the run. */
  signal (SIGPIPE, SIG_IGN);
  *out_helper = helper;
  return fd;
}

/* After the run: the end of the journal, then the helper's own end (every
 * line in Redis). Returns the run's exit status, made 1 if the stream
 * lost anything. */
int
orrery_host_remote_journal_close (GSubprocess *helper,
                                  int          fd,
                                  int          status)
{
  g_autoptr(GError) error = NULL;

  close (fd);
  if (!g_subprocess_wait (helper, NULL, &error) ||
      !g_subprocess_get_if_exited (helper) || g_subprocess_get_exit_status (helper) != 0)
    {
      g_printerr ("orrery run: the journal stream is incomplete%s%s\n",
                  error ? ": " : "", error ? error->message : "");
      return status == ORRERY_EXIT_OK ? ORRERY_EXIT_RUN_FAILED : status;
    }
  return status;
}

static char *remote_copy;
static GSubprocess *remote_follower;
static GPtrArray *remote_strings;   /* what the new argv owns */

static void
remote_cleanup (void)
{
  g_clear_pointer (&remote_strings, g_ptr_array_unref);
  if (remote_follower != NULL)
    {
      g_subprocess_force_exit (remote_follower);
      g_subprocess_wait (remote_follower, NULL, NULL);
      g_clear_object (&remote_follower);
    }
  if (remote_copy != NULL)
    {
      g_unlink (remote_copy);
      g_clear_pointer (&remote_copy, g_free);
    }
}

/* watch, replay, resume and serve: `URL --run RUN_ID` becomes a local
 * journal, and @argv names it instead. */
gboolean
orrery_host_remote_journal_args (int      *argc,
                                 char   ***argv,
                                 GError  **error)
{
  const char *command = (*argv)[0];
  gboolean follow = g_str_equal (command, "watch");
  int url_at = -1;
  const char *run_id = NULL;
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autofree char *program = NULL;
  g_autofree char *shown = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GSubprocess) helper = NULL;

  if (!follow && !g_str_equal (command, "replay") && !g_str_equal (command, "resume") &&
      !g_str_equal (command, "serve"))
    return TRUE;
  for (int i = 1; i < *argc; i++)
    {
      if (g_str_equal ((*argv)[i], "--run") && i + 1 < *argc)
        {
          run_id = (*argv)[++i];
          continue;
        }
      if (g_str_has_prefix ((*argv)[i], "--run="))
        {
          run_id = (*argv)[i] + strlen ("--run=");
          continue;
        }
      if (url_at < 0 && orrery_host_journal_is_remote ((*argv)[i]))
        url_at = (int) args->len;
      g_ptr_array_add (args, (*argv)[i]);
    }
  if (url_at < 0)
    {
      if (run_id != NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "--run RUN_ID goes with a Redis URL (redis://HOST[:PORT][/DB] or "
                       "redis+unix:///PATH)");
          return FALSE;
        }
      return TRUE;
    }
  shown = orrery_host_redact_url (args->pdata[url_at]);
  if (run_id == NULL || *run_id == '\0')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "%s: which run? (--run RUN_ID)", shown);
      return FALSE;
    }
  if (g_str_equal (command, "resume"))
    {
      /* The run goes on in a local journal, where resume appends. */
      g_autofree char *safe = orrery_escape_for_filename (run_id);
      g_autofree char *dir = g_build_filename ("orrery-output", "runs", safe, NULL);

      if (g_mkdir_with_parents (dir, 0700) < 0)
        {
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "%s: %s", dir,
                       g_strerror (errno));
          return FALSE;
        }
      path = g_build_filename (dir, "journal-from-redis.jsonl", NULL);
      if (g_file_test (path, G_FILE_TEST_EXISTS))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                       "%s exists: resume it (orrery resume %s)", path, path);
          return FALSE;
        }
    }
  else
    {
      int fd = g_file_open_tmp ("orrery-journal-XXXXXX.jsonl", &path, error);

      if (fd < 0)
        return FALSE;
      close (fd);
      remote_copy = g_strdup (path);
    }
  atexit (remote_cleanup);
  remote_strings = g_ptr_array_new_with_free_func (g_free);

  program = redis_program ("orrery-redis-journal");
  helper = g_subprocess_new (follow ? G_SUBPROCESS_FLAGS_STDOUT_PIPE : G_SUBPROCESS_FLAGS_NONE,
                             error, program, "read", args->pdata[url_at], "--run", run_id,
                             "--output", path, follow ? "--follow" : NULL, NULL);
  if (helper == NULL)
    return FALSE;
  if (follow)
    {
      /* Until the header is in the file; then it goes on as the run does. */
      g_autoptr(GDataInputStream) in =
        g_data_input_stream_new (g_subprocess_get_stdout_pipe (helper));
      g_autofree char *line = g_data_input_stream_read_line (in, NULL, NULL, NULL);

      if (g_strcmp0 (line, "ready") != 0)
        {
          g_subprocess_wait (helper, NULL, NULL);
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                       "%s: cannot follow the journal of run “%s”", shown, run_id);
          return FALSE;
        }
      remote_follower = g_steal_pointer (&helper);
    }
  else if (!g_subprocess_wait (helper, NULL, error))
    return FALSE;
  else if (!g_subprocess_get_if_exited (helper) || g_subprocess_get_exit_status (helper) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "%s: cannot read the journal of run “%s”", shown, run_id);
      return FALSE;
    }
  {
    char **out = g_new0 (char *, args->len + 4);
    char *copy_path = g_strdup (path);
    gboolean has_output = FALSE;
    int n = 0;

    g_ptr_array_add (remote_strings, out);
    g_ptr_array_add (remote_strings, copy_path);

    out[n++] = (*argv)[0];
    for (guint i = 0; i < args->len; i++)
      {
        const char *a = args->pdata[i];

        has_output |= g_str_equal (a, "-o") || g_str_has_prefix (a, "--output-dir");
        out[n++] = (int) i == url_at ? copy_path : (char *) a;
      }
    if (g_str_equal (command, "replay") && !has_output)
      {
        /* Not RUN_DIR/replay: the run directory is on the machine of the run. */
        g_autofree char *safe = orrery_escape_for_filename (run_id);

        out[n++] = "--output-dir";
        out[n++] = g_build_filename ("orrery-output", "replays", safe, NULL);
        g_ptr_array_add (remote_strings, out[n - 1]);
      }
    *argc = n;
    *argv = out;   /* lives as long as the program (freed at exit) */
  }
  return TRUE;
}
