/* test-plugin-failure-monitor.c: the failure-monitor plugin, loaded through
 * the engine from the build tree, against runs whose failures are known:
 * real local commands (exit 3 with stderr, a timeout) and simulated device
 * errors. Checks the log lines, the JSON report, the alert command and its
 * environment, failing and slow alerts, and AbortAfter.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <orrery.h>

#include "plugin-harness.h"

#define DOMAIN "Orrery-FailureMonitor"

typedef struct
{
  PluginHarness  h;
  GPtrArray     *log;       /* "task-started:a", ... */
  GPtrArray     *lines;     /* the plugin's log lines: "WARNING Task failed: ..." */
  guint          handler;
} Fixture;

static void
on_event (OrreryEventBus *bus,
          OrreryEvent    *event,
          Fixture        *f)
{
  if (ORRERY_EVENT_IS_TASK (event))
    g_ptr_array_add (f->log, g_strdup_printf ("%s:%s", orrery_event_get_type_nick (event),
                                              orrery_event_get_task_id (event)));
  else
    g_ptr_array_add (f->log, g_strdup (orrery_event_get_type_nick (event)));
}

static void
capture_log (const char     *domain,
             GLogLevelFlags  level,
             const char     *message,
             gpointer        user_data)
{
  Fixture *f = user_data;
  const char *name = (level & G_LOG_LEVEL_WARNING) ? "WARNING" :
                     (level & G_LOG_LEVEL_MESSAGE) ? "MESSAGE" : "OTHER";

  if (level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO))
    return;
  g_ptr_array_add (f->lines, g_strdup_printf ("%s %s", name, message));
  if (g_test_verbose ())
    g_printerr ("[%s] %s %s\n", domain, name, message);
}

/* The plugin's warnings are what is tested: not fatal. */
static gboolean
fatal_handler (const char     *domain,
               GLogLevelFlags  level,
               const char     *message,
               gpointer        user_data)
{
  return g_strcmp0 (domain, DOMAIN) != 0;
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(OrreryLocalDevice) local = orrery_local_device_new ("local", NULL, 4);

  plugin_harness_init (&f->h, "failure-monitor", 4);
  g_assert_true (orrery_device_manager_add_device (f->h.devices, ORRERY_DEVICE (local), NULL));
  orrery_orchestrator_set_retry_policy (f->h.orch, 10, 2.0, 100);
  f->log = g_ptr_array_new_with_free_func (g_free);
  f->lines = g_ptr_array_new_with_free_func (g_free);
  g_signal_connect (f->h.bus, "event", G_CALLBACK (on_event), f);
  f->handler = g_log_set_handler (DOMAIN, G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL | G_LOG_FLAG_RECURSION,
                                  capture_log, f);
  g_test_log_set_fatal_handler (fatal_handler, NULL);
  plugin_harness_set (&f->h, "OutputDir", f->h.dir);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_assert_false (orrery_orchestrator_is_running (f->h.orch));
  plugin_harness_shutdown (&f->h);
  g_assert_cmpuint (orrery_orchestrator_get_n_holds (f->h.orch), ==, 0);
  g_log_remove_handler (DOMAIN, f->handler);
  plugin_harness_clear (&f->h);
  g_ptr_array_unref (f->log);
  g_ptr_array_unref (f->lines);
}

static void
add_task (OrreryConstellation *c,
          const char          *id,
          const char          *device,
          const char          *data_text,
          gdouble              timeout,
          guint                retries)
{
  g_autoptr(OrreryTask) task = orrery_task_new (id, id);
  g_autoptr(GError) error = NULL;

  orrery_task_set_target_device_id (task, device);
  orrery_task_set_task_data (task, g_variant_new_parsed (data_text));
  orrery_task_set_timeout (task, timeout);
  orrery_task_set_retry_count (task, retries);
  orrery_constellation_add_task (c, task, &error);
  g_assert_no_error (error);
}

static void
add_dep (OrreryConstellation  *c,
         const char           *from,
         const char           *to,
         OrreryDependencyType  type)
{
  g_autoptr(GError) error = NULL;

  orrery_constellation_add_dependency (c, from, to, type, NULL, &error);
  g_assert_no_error (error);
}

static void
run (Fixture             *f,
     OrreryConstellation *c)
{
  plugin_harness_run (&f->h, c);
}

static gboolean
timeout_flag (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Spins the main loop until COND holds or TIMEOUT_MS pass. */
static gboolean
wait_for (gboolean (*cond) (Fixture *f),
          Fixture  *f,
          guint     timeout_ms)
{
  gboolean expired = FALSE;
  guint id = g_timeout_add (timeout_ms, timeout_flag, &expired);

  while (!cond (f) && !expired)
    g_main_context_iteration (NULL, TRUE);
  if (!expired)
    g_source_remove (id);
  return cond (f);
}

static gboolean
has_line (Fixture    *f,
          const char *pattern)
{
  for (guint i = 0; i < f->lines->len; i++)
    if (g_pattern_match_simple (pattern, f->lines->pdata[i]))
      return TRUE;
  return FALSE;
}

static void
assert_line (Fixture    *f,
             const char *pattern)
{
  if (!has_line (f, pattern))
    {
      g_autofree char *joined = NULL;

      g_ptr_array_add (f->lines, NULL);
      joined = g_strjoinv ("\n  ", (char **) f->lines->pdata);
      g_ptr_array_remove_index (f->lines, f->lines->len - 1);
      g_error ("no log line matches “%s” in:\n  %s", pattern, joined);
    }
}

static JsonObject *
read_report (Fixture    *f,
             JsonParser *parser)
{
  g_autofree char *path = g_build_filename (f->h.dir, "failures.json", NULL);
  g_autoptr(GError) error = NULL;
  GStatBuf st;

  /* It holds the tail of what failed tasks printed: the owner's alone. */
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  return json_node_get_object (json_parser_get_root (parser));
}

static JsonObject *
find_entry (JsonObject *report,
            const char *list,
            const char *task_id)
{
  JsonArray *array = json_object_get_array_member (report, list);

  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonObject *e = json_array_get_object_element (array, i);

      if (g_str_equal (json_object_get_string_member (e, "task_id"), task_id))
        return e;
    }
  g_error ("no entry for “%s” in “%s”", task_id, list);
  return NULL;
}

static gint64
total (JsonObject *report,
       const char *name)
{
  return json_object_get_int_member (json_object_get_object_member (report, "totals"), name);
}

/* The value of KEY in a file of `env` output. */
static char *
env_value (const char *path,
           const char *key)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  g_autofree char *prefix = g_strconcat (key, "=", NULL);

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], prefix))
      return g_strdup (lines[i] + strlen (prefix));
  g_error ("%s not in %s", key, path);
  return NULL;
}

/* ------------------------------------------------------------------------ */

static gboolean
three_alerts_done (Fixture *f)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *path = g_build_filename (f->h.dir, "failures.json", NULL);
  JsonObject *report;

  if (!g_file_test (path, G_FILE_TEST_EXISTS) || !json_parser_load_from_file (parser, path, NULL))
    return FALSE;
  report = json_node_get_object (json_parser_get_root (parser));
  return total (report, "alerts_ok") == 3;
}

static void
test_report_log_and_alert (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("failures", NULL);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *alert = g_strdup_printf ("env > '%s'/\"$ORRERY_TASK_ID.env.tmp\" && "
                                            "mv '%s'/\"$ORRERY_TASK_ID.env.tmp\" '%s'/\"$ORRERY_TASK_ID.env\"",
                                            f->h.dir, f->h.dir, f->h.dir);
  g_autofree char *bad_env = g_build_filename (f->h.dir, "bad.env", NULL);
  g_autofree char *slow_env = g_build_filename (f->h.dir, "slow.env", NULL);
  g_autofree char *sim_env = g_build_filename (f->h.dir, "simfail.env", NULL);
  g_autofree char *v = NULL;
  JsonObject *report, *e;
  JsonArray *tail;

  plugin_harness_set (&f->h, "AlertCommand", alert);
  plugin_harness_set (&f->h, "StderrLines", "2");
  plugin_harness_load (&f->h);

  add_task (c, "ok", "local", "{'command': <'true'>}", 0, 0);
  add_task (c, "bad", "local",
            "{'command': <'echo one >&2; echo two >&2; echo three >&2; exit 3'>}", 0, 1);
  add_task (c, "slow", "local", "{'command': <'sleep 5'>}", 0.3, 0);
  add_task (c, "simfail", "sim", "{'fail': <1>, 'error_message': <'disk on fire'>}", 0, 0);
  add_task (c, "dependent", "sim", "{'duration_ms': <1>}", 0, 0);
  add_dep (c, "bad", "dependent", ORRERY_DEPENDENCY_SUCCESS_ONLY);

  run (f, c);
  g_assert_error (f->h.error, ORRERY_ORCHESTRATOR_ERROR, ORRERY_ORCHESTRATOR_ERROR_TASKS_FAILED);

  /* The log: each failure with its cause and stderr's last lines. */
  assert_line (f, "MESSAGE Task will be retried in * ms: task “bad” on device “local”, attempt 1: "
                  "exit status 3; stderr:\n    | two\n    | three");
  assert_line (f, "WARNING Task failed: task “bad” on device “local”, attempt 2: exit status 3; "
                  "stderr:\n    | two\n    | three");
  assert_line (f, "WARNING Task failed: task “slow” on device “local”, attempt 1: timeout*");
  assert_line (f, "WARNING Task failed: task “simfail” on device “sim”, attempt 1: "
                  "device error: disk on fire");
  assert_line (f, "MESSAGE Failures of “failures”: 3 failed, 1 retries, 0 cancelled while running; "
                  "report: *failures.json");
  g_assert_false (has_line (f, "*task “ok”*"));

  /* The alerts ran (asynchronously) and the report was brought up to date. */
  g_assert_true (wait_for (three_alerts_done, f, 10000));
  g_assert_cmpstr ((v = env_value (bad_env, "ORRERY_TASK_ID")), ==, "bad");
  g_clear_pointer (&v, g_free);
  g_assert_cmpstr ((v = env_value (bad_env, "ORRERY_DEVICE_ID")), ==, "local");
  g_clear_pointer (&v, g_free);
  g_assert_cmpstr ((v = env_value (bad_env, "ORRERY_ATTEMPT")), ==, "2");
  g_clear_pointer (&v, g_free);
  g_assert_cmpstr ((v = env_value (bad_env, "ORRERY_CAUSE")), ==, "exit status 3");
  g_clear_pointer (&v, g_free);
  g_assert_cmpstr ((v = env_value (bad_env, "ORRERY_EXIT_STATUS")), ==, "3");
  g_clear_pointer (&v, g_free);
  g_assert_cmpstr ((v = env_value (bad_env, "ORRERY_ERROR")), ==, "exited with status 3");
  g_clear_pointer (&v, g_free);
  g_assert_cmpstr ((v = env_value (bad_env, "ORRERY_CONSTELLATION_ID")), ==, "failures");
  g_clear_pointer (&v, g_free);
  g_assert_true (g_str_has_prefix ((v = env_value (slow_env, "ORRERY_CAUSE")), "timeout"));
  g_clear_pointer (&v, g_free);
  g_assert_cmpstr ((v = env_value (slow_env, "ORRERY_EXIT_STATUS")), ==, "-1");
  g_clear_pointer (&v, g_free);
  g_assert_cmpstr ((v = env_value (sim_env, "ORRERY_CAUSE")), ==, "device error: disk on fire");
  g_clear_pointer (&v, g_free);
  g_assert_cmpstr ((v = env_value (sim_env, "ORRERY_DEVICE_ID")), ==, "sim");
  g_clear_pointer (&v, g_free);
  g_assert_cmpstr ((v = env_value (sim_env, "ORRERY_EXIT_STATUS")), ==, "");
  g_clear_pointer (&v, g_free);

  /* The report. */
  report = read_report (f, parser);
  g_assert_cmpstr (json_object_get_string_member (report, "constellation_id"), ==, "failures");
  g_assert_cmpstr (json_object_get_string_member (report, "state"), ==, "constellation-failed");
  g_assert_nonnull (strstr (json_object_get_string_member (report, "reason"), "3 failed"));
  g_assert_cmpint (total (report, "failed"), ==, 3);
  g_assert_cmpint (total (report, "retries"), ==, 1);
  g_assert_cmpint (total (report, "cancelled"), ==, 0);
  g_assert_cmpint (total (report, "alerts"), ==, 3);
  g_assert_cmpint (total (report, "alerts_failed"), ==, 0);
  g_assert_cmpint (total (report, "alerts_running"), ==, 0);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (report, "failures")), ==, 3);
  g_assert_true (json_object_get_null_member (report, "abort"));

  e = find_entry (report, "failures", "bad");
  g_assert_cmpstr (json_object_get_string_member (e, "device_id"), ==, "local");
  g_assert_cmpint (json_object_get_int_member (e, "attempt"), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (e, "cause_kind"), ==, "exit-status");
  g_assert_cmpstr (json_object_get_string_member (e, "cause"), ==, "exit status 3");
  g_assert_cmpint (json_object_get_int_member (e, "exit_status"), ==, 3);
  g_assert_false (json_object_get_boolean_member (e, "timed_out"));
  tail = json_object_get_array_member (e, "stderr_tail");
  g_assert_cmpuint (json_array_get_length (tail), ==, 2);
  g_assert_cmpstr (json_array_get_string_element (tail, 0), ==, "two");
  g_assert_cmpstr (json_array_get_string_element (tail, 1), ==, "three");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (e, "error"), "message"),
                   ==, "exited with status 3");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (e, "alert"), "status"),
                   ==, "ok");

  e = find_entry (report, "failures", "slow");
  g_assert_cmpstr (json_object_get_string_member (e, "cause_kind"), ==, "timeout");
  g_assert_true (json_object_get_boolean_member (e, "timed_out"));
  g_assert_cmpfloat (json_object_get_double_member (e, "duration"), <, 4.0);

  e = find_entry (report, "failures", "simfail");
  g_assert_cmpstr (json_object_get_string_member (e, "device_id"), ==, "sim");
  g_assert_cmpstr (json_object_get_string_member (e, "cause_kind"), ==, "device-error");
  g_assert_true (json_object_get_null_member (e, "exit_status"));

  e = find_entry (report, "retries", "bad");
  g_assert_cmpint (json_object_get_int_member (e, "attempt"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (e, "exit_status"), ==, 3);
}

/* The report counts both alerts as ended (polled: another process writes it). */
static gboolean
wait_report_settled (Fixture *f)
{
  g_autofree char *path = g_build_filename (f->h.dir, "failures.json", NULL);

  for (guint i = 0; i < 1000; i++)
    {
      g_autoptr(JsonParser) parser = json_parser_new ();

      if (json_parser_load_from_file (parser, path, NULL) &&
          JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
        {
          JsonObject *report = json_node_get_object (json_parser_get_root (parser));

          if (total (report, "alerts_running") == 0 && total (report, "alerts_timed_out") == 1)
            return TRUE;
        }
      g_usleep (10000);
      while (g_main_context_iteration (NULL, FALSE))
        ;
    }
  return FALSE;
}

static gboolean
two_alerts_done (Fixture *f)
{
  return has_line (f, "WARNING Alert for task “f1” failed*") &&
         has_line (f, "WARNING Alert for task “f2” ran past*");
}

static void
test_failing_and_slow_alert (Fixture       *f,
                             gconstpointer  data)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("alerts", NULL);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *marker = g_build_filename (f->h.dir, "slow-alert-survived", NULL);
  g_autofree char *alert = g_strdup_printf ("case \"$ORRERY_TASK_ID\" in "
                                            "f1) echo oops >&2; exit 7;; "
                                            "f2) sleep 3; touch '%s';; esac", marker);
  JsonObject *report, *e;

  plugin_harness_set (&f->h, "AlertCommand", alert);
  plugin_harness_set (&f->h, "AlertTimeoutMs", "1000");
  plugin_harness_load (&f->h);

  add_task (c, "f1", "sim", "{'fail': <1>}", 0, 0);
  add_task (c, "f2", "sim", "{'fail': <1>, 'duration_ms': <5>}", 0, 0);
  add_task (c, "fine", "sim", "{'duration_ms': <20>}", 0, 0);
  add_dep (c, "f2", "fine", ORRERY_DEPENDENCY_COMPLETION_ONLY);

  run (f, c);
  g_assert_error (f->h.error, ORRERY_ORCHESTRATOR_ERROR, ORRERY_ORCHESTRATOR_ERROR_TASKS_FAILED);
  /* The slow alert did not hold the run up: the run ended before the
   * alert's end, which comes no sooner than its kill at AlertTimeoutMs
   * (an alert waited for in the handler would log "ran past" during the
   * run). What the run does after f2's failure (the 20 ms "fine") is far
   * shorter than that timeout; the run's own length is not asserted. */
  g_assert_false (has_line (f, "*Alert for task “f2”*"));

  g_assert_true (wait_for (two_alerts_done, f, 10000));
  assert_line (f, "WARNING Alert for task “f1” failed: exit status 7: oops");
  assert_line (f, "WARNING Alert for task “f2” ran past 1000 ms: killed");
  /* Isolated (ORRERY_TEST_ISOLATED=1), the plugin's warning reaches this
   * process before the report it writes next: wait for that too. */
  if (f->h.isolated)
    g_assert_true (wait_report_settled (f));

  report = read_report (f, parser);
  g_assert_cmpint (total (report, "alerts"), ==, 2);
  g_assert_cmpint (total (report, "alerts_failed"), ==, 1);
  g_assert_cmpint (total (report, "alerts_timed_out"), ==, 1);
  g_assert_cmpint (total (report, "alerts_running"), ==, 0);
  e = json_object_get_object_member (find_entry (report, "failures", "f1"), "alert");
  g_assert_cmpstr (json_object_get_string_member (e, "status"), ==, "failed");
  g_assert_cmpint (json_object_get_int_member (e, "exit_status"), ==, 7);
  g_assert_nonnull (strstr (json_object_get_string_member (e, "detail"), "oops"));
  e = json_object_get_object_member (find_entry (report, "failures", "f2"), "alert");
  g_assert_cmpstr (json_object_get_string_member (e, "status"), ==, "timed-out");

  /* Its whole process group was killed: `sleep 3` never got to touch. */
  {
    gboolean flag = FALSE;

    g_timeout_add (2500, timeout_flag, &flag);
    while (!flag)
      g_main_context_iteration (NULL, TRUE);
    g_assert_false (g_file_test (marker, G_FILE_TEST_EXISTS));
  }
}

static void
test_abort_after (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("abort", NULL);
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *report, *abort_info, *e;
  gint second_failure = -1;

  plugin_harness_set (&f->h, "AbortAfter", "2");
  plugin_harness_load (&f->h);

  add_task (c, "x1", "sim", "{'fail': <1>, 'duration_ms': <10>}", 0, 0);
  add_task (c, "x2", "sim", "{'fail': <1>, 'duration_ms': <10>}", 0, 0);
  add_task (c, "x3", "sim", "{'fail': <1>}", 0, 0);
  add_task (c, "long", "local", "{'command': <'sleep 5'>}", 0, 0);
  add_dep (c, "x1", "x2", ORRERY_DEPENDENCY_COMPLETION_ONLY);
  add_dep (c, "x2", "x3", ORRERY_DEPENDENCY_COMPLETION_ONLY);

  run (f, c);
  g_assert_error (f->h.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_nonnull (strstr (f->h.error->message, "failure-monitor: 2 tasks failed (AbortAfter=2)"));
  g_assert_cmpstr (orrery_orchestrator_get_cancel_reason (f->h.orch), ==,
                   "failure-monitor: 2 tasks failed (AbortAfter=2)");
  /* The abort cancelled "long" (sleep 5) rather than waiting for it. */
  assert_line (f, "WARNING Aborting the run: failure-monitor: 2 tasks failed (AbortAfter=2)");
  assert_line (f, "MESSAGE Task cancelled while running: task “long” on device “local”*");
  g_assert_cmpint (orrery_task_get_status (orrery_constellation_get_task (c, "long")), ==,
                   ORRERY_TASK_STATUS_CANCELLED);

  /* Nothing was dispatched after the second failure: x3 never started. */
  for (guint i = 0; i < f->log->len; i++)
    if (g_str_equal (f->log->pdata[i], "task-failed:x2"))
      second_failure = (gint) i;
  g_assert_cmpint (second_failure, >=, 0);
  for (guint i = second_failure; i < f->log->len; i++)
    g_assert_false (g_str_has_prefix (f->log->pdata[i], "task-started:"));
  /* x3 never started: the run's end cancelled it (with no event of its own). */
  g_assert_cmpint (orrery_task_get_status (orrery_constellation_get_task (c, "x3")), ==,
                   ORRERY_TASK_STATUS_CANCELLED);

  report = read_report (f, parser);
  g_assert_cmpstr (json_object_get_string_member (report, "state"), ==, "constellation-cancelled");
  g_assert_nonnull (strstr (json_object_get_string_member (report, "reason"), "AbortAfter=2"));
  abort_info = json_object_get_object_member (report, "abort");
  g_assert_nonnull (abort_info);
  g_assert_cmpint (json_object_get_int_member (abort_info, "after"), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (abort_info, "reason"), ==,
                   "failure-monitor: 2 tasks failed (AbortAfter=2)");
  g_assert_cmpint (total (report, "failed"), ==, 2);
  g_assert_cmpint (total (report, "cancelled"), ==, 1);
  e = find_entry (report, "cancelled", "long");
  g_assert_cmpstr (json_object_get_string_member (e, "cause_kind"), ==, "cancelled");
}

/* No failure: an empty report, nothing logged above info. */
static void
test_clean_run (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("clean", NULL);
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *report;

  plugin_harness_load (&f->h);
  add_task (c, "a", "sim", "{'duration_ms': <1>}", 0, 0);
  run (f, c);
  g_assert_no_error (f->h.error);
  g_assert_cmpuint (f->lines->len, ==, 0);
  report = read_report (f, parser);
  g_assert_cmpstr (json_object_get_string_member (report, "state"), ==, "constellation-completed");
  g_assert_cmpint (total (report, "failed"), ==, 0);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (report, "failures")), ==, 0);
}

/* A hostile task id and a stderr full of escape sequences: the log lines
 * carry them escaped (whoever runs the plugin, with or without the
 * program's escaping log writer), the report keeps them as they are. */
#define HOSTILE_ID "bad\033]52;c;aGk=\007\r\nFORGED \302\233" "31m\342\200\256x"

static void
test_hostile_text_escaped (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("hostile\033[2J", NULL);
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *report, *e;

  plugin_harness_load (&f->h);
  /* stderr: an OSC 52, a CSI, a CR that rewrites the line, an 8-bit CSI,
   * a bidi override; and a Windows path, whose backslash stays single. */
  add_task (c, HOSTILE_ID, "local",
            "{'command': <['sh', '-c', 'printf \"\\\\033]52;c;aGk=\\\\007\\\\033[2Jx\\\\rFORGED\\\\n"
            "\\\\302\\\\233" "31m\\\\342\\\\200\\\\256y\\\\nC:\\\\\\\\dir\\\\n\" >&2; exit 3']>}", 0, 0);
  run (f, c);
  g_assert_error (f->h.error, ORRERY_ORCHESTRATOR_ERROR, ORRERY_ORCHESTRATOR_ERROR_TASKS_FAILED);

  g_assert_cmpuint (f->lines->len, >=, 2);
  for (guint i = 0; i < f->lines->len; i++)
    {
      const char *line = f->lines->pdata[i];
      g_auto(GStrv) parts = g_strsplit (line, "\n", -1);

      g_assert_null (strchr (line, '\033'));
      g_assert_null (strchr (line, '\007'));
      g_assert_null (strchr (line, '\r'));
      g_assert_null (strstr (line, "\302\233"));
      g_assert_null (strstr (line, "\342\200\256"));
      /* The only line breaks are the plugin's own, before stderr lines. */
      for (guint j = 1; parts[j] != NULL; j++)
        g_assert_true (g_str_has_prefix (parts[j], "    | "));
    }
  assert_line (f, "WARNING Task failed: task “bad\\e]52;c;aGk=\\x07\\r\\nFORGED \\u{009b}31m\\u{202e}x” "
                  "on device “local”, attempt 1: exit status 3; stderr:\n"
                  "    | \\e]52;c;aGk=\\x07\\e[2Jx\\rFORGED\n"
                  "    | \\u{009b}31m\\u{202e}y\n"
                  "    | C:\\dir");
  assert_line (f, "MESSAGE Failures of “hostile\\e[2J”: 1 failed*");

  /* The report is data: the id as it was. */
  report = read_report (f, parser);
  e = find_entry (report, "failures", HOSTILE_ID);
  g_assert_nonnull (e);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add ("/plugin-failure-monitor/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("report-log-and-alert", test_report_log_and_alert);
  ADD ("failing-and-slow-alert", test_failing_and_slow_alert);
  ADD ("abort-after", test_abort_after);
  ADD ("clean-run", test_clean_run);
  ADD ("hostile-text-escaped", test_hostile_text_escaped);
#undef ADD

  return g_test_run ();
}
