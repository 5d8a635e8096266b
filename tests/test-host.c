/* test-host.c: the `orrery` program as a user runs it: exit statuses,
 * error messages that name the file, the summary line, signals, the journal and resume.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <signal.h>
#include <glib/gstdio.h>
#include <orrery.h>

typedef struct
{
  int   status;
  char *out;
  char *err;
} Result;

static void
result_clear (Result *r)
{
  g_free (r->out);
  g_free (r->err);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Result, result_clear)

static char *
orrery_bin (void)
{
  g_autofree char *path = g_test_build_filename (G_TEST_BUILT, "..", "host", "orrery", NULL);

  return g_canonicalize_filename (path, NULL);
}

/* Runs `orrery ARGS…` with no plugins unless asked, the default devices. */
static void
run_orrery (Result             *r,
            const char * const *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;

  g_ptr_array_add (argv, orrery_bin ());
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (args[i]));
  g_ptr_array_add (argv, NULL);

  proc = g_subprocess_newv ((const char * const *) argv->pdata,
                            G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                            &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (proc, NULL, NULL, &r->out, &r->err, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (proc));
  r->status = g_subprocess_get_exit_status (proc);
}

static char *
write_file (const char *dir,
            const char *name,
            const char *contents)
{
  char *path = g_build_filename (dir, name, NULL);
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
  return path;
}

static void
test_version_and_help (void)
{
  g_auto(Result) v = { 0 };
  g_auto(Result) h = { 0 };
  g_auto(Result) bad = { 0 };

  run_orrery (&v, (const char *[]) { "--version", NULL });
  g_assert_cmpint (v.status, ==, 0);
  g_assert_true (g_str_has_prefix (v.out, "orrery " ORRERY_VERSION_S));

  run_orrery (&h, (const char *[]) { "--help", NULL });
  g_assert_cmpint (h.status, ==, 0);
  g_assert_nonnull (strstr (h.out, "run "));
  g_assert_nonnull (strstr (h.out, "validate "));

  run_orrery (&bad, (const char *[]) { "fly", NULL });
  g_assert_cmpint (bad.status, ==, 2);
  g_assert_nonnull (strstr (bad.err, "unknown command “fly”"));
}

static void
test_run_exit_statuses (void)
{
  g_autofree char *dir = g_dir_make_tmp ("orrery-host-XXXXXX", NULL);
  g_autofree char *ok = write_file (dir, "ok.json",
    "{\"tasks\": [{\"task_id\": \"a\", \"task_data\": {\"command\": \"true\"}},"
    "            {\"task_id\": \"b\", \"task_data\": {\"command\": [\"echo\", \"b\"]}}],"
    " \"dependencies\": [{\"from_task_id\": \"a\", \"to_task_id\": \"b\", \"dependency_type\": \"SUCCESS_ONLY\"}]}");
  g_autofree char *failing = write_file (dir, "failing.json",
    "{\"tasks\": [{\"task_id\": \"a\", \"task_data\": {\"command\": \"exit 3\"}},"
    "            {\"task_id\": \"b\", \"task_data\": {\"command\": \"true\"}}],"
    " \"dependencies\": [{\"from_task_id\": \"a\", \"to_task_id\": \"b\", \"dependency_type\": \"success_only\"}]}");
  g_autofree char *cyclic = write_file (dir, "cyclic.json",
    "{\"tasks\": [{\"task_id\": \"a\"}, {\"task_id\": \"b\"}],"
    " \"dependencies\": [{\"from_task_id\": \"a\", \"to_task_id\": \"b\"},"
    "                   {\"from_task_id\": \"b\", \"to_task_id\": \"a\"}]}");
  g_autofree char *missing = g_build_filename (dir, "missing.json", NULL);
  g_autofree char *bad_conf = write_file (dir, "bad.conf", "[Host]\nMaxConcurrency=lots\n");
  g_auto(Result) r_ok = { 0 };
  g_auto(Result) r_fail = { 0 };
  g_auto(Result) r_cycle = { 0 };
  g_auto(Result) r_missing = { 0 };
  g_auto(Result) r_strategy = { 0 };
  g_auto(Result) r_conf = { 0 };

  run_orrery (&r_ok, (const char *[]) { "run", "--no-plugins", ok, NULL });
  g_assert_cmpint (r_ok.status, ==, 0);
  g_assert_nonnull (strstr (r_ok.out, "completed"));
  g_assert_nonnull (strstr (r_ok.out, "2/2 tasks completed"));

  run_orrery (&r_fail, (const char *[]) { "run", "--no-plugins", failing, NULL });
  g_assert_cmpint (r_fail.status, ==, 1);
  g_assert_nonnull (strstr (r_fail.out, "0/2 tasks completed, 1 failed, 1 skipped"));

  run_orrery (&r_cycle, (const char *[]) { "run", "--no-plugins", cyclic, NULL });
  g_assert_cmpint (r_cycle.status, ==, 3);
  g_assert_nonnull (strstr (r_cycle.err, "cyclic.json"));
  g_assert_nonnull (strstr (r_cycle.err, "cycle"));

  run_orrery (&r_missing, (const char *[]) { "run", "--no-plugins", missing, NULL });
  g_assert_cmpint (r_missing.status, ==, 3);
  g_assert_nonnull (strstr (r_missing.err, "missing.json"));

  run_orrery (&r_strategy, (const char *[]) { "run", "--no-plugins", "--strategy", "fastest", ok, NULL });
  g_assert_cmpint (r_strategy.status, ==, 2);
  g_assert_nonnull (strstr (r_strategy.err, "fastest"));

  run_orrery (&r_conf, (const char *[]) { "run", "--no-plugins", "--config", bad_conf, ok, NULL });
  g_assert_cmpint (r_conf.status, ==, 2);
  g_assert_nonnull (strstr (r_conf.err, "bad.conf"));
  g_assert_nonnull (strstr (r_conf.err, "MaxConcurrency"));
}

/* The journal keeps the run; `orrery resume` continues where it stopped:
 * finished tasks are not run again, interrupted ones are. Task b kills the
 * host the first time (SIGTERM: a clean cancel; SIGKILL: a crash). */
static void
check_resume (const char *signal_name)
{
  g_autofree char *dir = g_dir_make_tmp ("orrery-state-XXXXXX", NULL);
  g_autofree char *log = g_build_filename (dir, "log", NULL);
  g_autofree char *marker = g_build_filename (dir, "marker", NULL);
  g_autofree char *state = g_build_filename (dir, "journal.jsonl", NULL);
  g_autofree char *json = g_strdup_printf (
    "{\"tasks\": ["
    "  {\"task_id\": \"a\", \"task_data\": {\"command\": \"echo a >> %s\"}},"
    "  {\"task_id\": \"b\", \"task_data\": {\"command\": "
    "     \"if [ ! -e %s ]; then touch %s; kill -%s $PPID; %s; fi; echo b >> %s\"}},"
    "  {\"task_id\": \"c\", \"task_data\": {\"command\": \"echo c >> %s\"}}],"
    " \"dependencies\": [{\"from_task_id\": \"a\", \"to_task_id\": \"b\"},"
    "                   {\"from_task_id\": \"b\", \"to_task_id\": \"c\"}]}",
    log, marker, marker, signal_name,
    /* After SIGTERM the host cancels the run and kills this process group:
     * wait for it, or the task's own exit could race the cancel. */
    g_str_equal (signal_name, "TERM") ? "sleep 10" : "exit 1",
    log, log);
  g_autofree char *file = write_file (dir, "resume.json", json);
  g_autofree char *contents = NULL;
  g_autoptr(OrreryConstellation) saved = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(Result) first = { 0 };
  g_auto(Result) second = { 0 };

  {
    g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
    g_autoptr(GSubprocess) proc = NULL;

    g_ptr_array_add (argv, orrery_bin ());
    g_ptr_array_add (argv, g_strdup ("run"));
    g_ptr_array_add (argv, g_strdup ("--no-plugins"));
    g_ptr_array_add (argv, g_strdup ("--journal"));
    g_ptr_array_add (argv, g_strdup (state));
    g_ptr_array_add (argv, g_strdup (file));
    g_ptr_array_add (argv, NULL);
    proc = g_subprocess_newv ((const char * const *) argv->pdata,
                              G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                              &error);
    g_assert_no_error (error);
    g_subprocess_communicate_utf8 (proc, NULL, NULL, &first.out, &first.err, &error);
    g_assert_no_error (error);
    if (g_str_equal (signal_name, "KILL"))
      {
        g_assert_true (g_subprocess_get_if_signaled (proc));
        g_assert_cmpint (g_subprocess_get_term_sig (proc), ==, SIGKILL);
      }
    else
      {
        /* Cancelled cleanly: exit 1 and the reason. */
        g_assert_true (g_subprocess_get_if_exited (proc));
        g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, 1);
        g_assert_nonnull (strstr (first.out, "cancelled"));
      }
  }

  /* The journal records a as done, b not done. */
  {
    g_autoptr(OrreryJournalReader) reader = orrery_journal_reader_new (state, &error);

    g_assert_no_error (error);
    g_assert_true (orrery_journal_reader_read_to (reader, 0, &error));
    g_assert_no_error (error);
    saved = g_object_ref (orrery_journal_reader_get_constellation (reader));
  }
  g_assert_cmpint (orrery_task_get_status (orrery_constellation_get_task (saved, "a")), ==,
                   ORRERY_TASK_STATUS_COMPLETED);
  g_assert_cmpint (orrery_task_get_status (orrery_constellation_get_task (saved, "b")), !=,
                   ORRERY_TASK_STATUS_COMPLETED);

  run_orrery (&second, (const char *[]) { "resume", "--no-plugins", state, NULL });
  g_assert_cmpint (second.status, ==, 0);
  g_assert_true (g_file_get_contents (log, &contents, NULL, NULL));
  /* a ran once; b and c ran in the second run. */
  g_assert_cmpstr (contents, ==, "a\nb\nc\n");

  g_remove (log);
  g_remove (marker);
  g_remove (state);
  g_remove (file);
  g_rmdir (dir);
}

/* A plugin that fails (not a shared object, an init that fails) is
 * reported and never changes the run's outcome; the shipped plugins still
 * run and write their files. */
static void
test_broken_plugins_do_not_change_the_run (void)
{
  g_autofree char *dir = g_dir_make_tmp ("orrery-plugins-XXXXXX", NULL);
  g_autofree char *plugins = g_build_filename (dir, "plugins", NULL);
  g_autofree char *fake = NULL;
  g_autofree char *initfail_src = g_test_build_filename (G_TEST_BUILT, "plugins", "initfail.so", NULL);
  g_autofree char *initfail = NULL;
  g_autofree char *ok = write_file (dir, "ok.json",
    "{\"tasks\": [{\"task_id\": \"a\", \"task_data\": {\"command\": \"true\"}}]}");
  g_autofree char *metrics_json = g_build_filename (dir, "orrery-output", "latest", "metrics.json", NULL);
  g_autofree char *contents = NULL;
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                                       G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *bin = orrery_bin ();
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  gsize len = 0;

  g_assert_cmpint (g_mkdir (plugins, 0755), ==, 0);
  fake = write_file (plugins, "broken.so", "this is not a shared object\n");
  g_assert_true (g_file_get_contents (initfail_src, &contents, &len, NULL));
  initfail = g_build_filename (plugins, "initfail.so", NULL);
  g_assert_true (g_file_set_contents (initfail, contents, (gssize) len, NULL));
  g_assert_cmpint (g_chmod (plugins, 0755), ==, 0);
  g_assert_cmpint (g_chmod (initfail, 0755), ==, 0);
  g_assert_cmpint (g_chmod (fake, 0644), ==, 0);

  /* Run where the shipped plugins write their files: a scratch directory. */
  g_subprocess_launcher_set_cwd (launcher, dir);
  g_subprocess_launcher_setenv (launcher, "NO_COLOR", "1", TRUE);
  proc = g_subprocess_launcher_spawn (launcher, &error, bin, "run", "--plugin-path", plugins, ok, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (proc, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  g_test_message ("stdout:\n%s\nstderr:\n%s", out, err);
  g_assert_true (g_subprocess_get_if_exited (proc));
  g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, 0);
  g_assert_nonnull (strstr (out, "1/1 tasks completed"));
  /* Both failures are reported, naming the plugin. */
  g_assert_nonnull (strstr (err, "broken.so"));
  g_assert_nonnull (strstr (err, "initfail"));
  /* The shipped plugins ran: metrics wrote its file. */
  g_assert_true (g_file_test (metrics_json, G_FILE_TEST_IS_REGULAR));
}

static void
test_resume_after_sigterm (void)
{
  check_resume ("TERM");
}

static void
test_resume_after_crash (void)
{
  check_resume ("KILL");
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/host/version-and-help", test_version_and_help);
  g_test_add_func ("/host/run-exit-statuses", test_run_exit_statuses);
  g_test_add_func ("/host/broken-plugins-do-not-change-the-run", test_broken_plugins_do_not_change_the_run);
  g_test_add_func ("/host/resume-after-sigterm", test_resume_after_sigterm);
  g_test_add_func ("/host/resume-after-crash", test_resume_after_crash);

  return g_test_run ();
}
