/* test-plugin-isolation.c: a plugin in its own process (`Isolation=process`):
 * the fixture faulty crashes, aborts, blocks, exits or writes garbage in
 * its helper; the bus, every other observer and the host go on, and the
 * plugin is FAILED with a coded reason naming the event.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <orrery.h>

#include "plugins/fixture-util.h"

typedef struct
{
  char               *dir;
  char               *output;
  OrreryEventBus     *bus;
  OrreryConfig       *config;
  OrreryPluginEngine *engine;
  GArray             *witness;       /* sequences seen by an in-process observer */
  guint               n_observer_failed;
  /* For runs: one simulated device "sim", the engine's orchestrator. */
  OrreryDeviceManager *devices;
  OrreryOrchestrator *orch;
  gboolean            done;
  gboolean            ok;
  GError             *run_error;
  GPtrArray          *after;         /* "NICK[:TASK] HOLDS" seen after the plugin */
} Fixture;

static gboolean
witness_handle (OrreryEvent  *event,
                gpointer      user_data,
                GError      **error)
{
  Fixture *f = user_data;
  guint64 seq = orrery_event_get_sequence (event);

  g_array_append_val (f->witness, seq);
  return TRUE;
}

static void
on_observer_failed (OrreryEventBus *bus,
                    OrreryObserver *observer,
                    OrreryEvent    *event,
                    GError         *error,
                    gpointer        user_data)
{
  Fixture *f = user_data;

  f->n_observer_failed++;
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(OrreryObserver) witness = NULL;
  g_autofree char *installed = NULL;

  g_unsetenv ("ORRERY_PLUGIN_PATH");
  f->dir = fixture_tmpdir ();
  f->output = g_build_filename (f->dir, "faulty.out", NULL);
  installed = fixture_install (f->dir, "faulty", NULL);
  f->bus = orrery_event_bus_new ();
  f->config = orrery_config_new ();
  orrery_config_set_override (f->config, "Host", "AutoEnable", "false");
  orrery_config_set_override (f->config, "Plugin faulty", "Isolation", "process");
  orrery_config_set_override (f->config, "Plugin faulty", "Output", f->output);
  orrery_config_set_override (f->config, "Plugin faulty", "DeadlineMs", "300");
  f->engine = orrery_plugin_engine_new (f->bus, f->config);
  {
    g_autoptr(OrrerySimulatedDevice) sim = orrery_simulated_device_new ("sim", NULL, 2);

    f->devices = orrery_device_manager_new ();
    g_assert_true (orrery_device_manager_add_device (f->devices, ORRERY_DEVICE (sim), NULL));
    f->orch = orrery_orchestrator_new (f->bus, f->devices);
    orrery_plugin_engine_set_orchestrator (f->engine, f->orch);
  }
  f->after = g_ptr_array_new_with_free_func (g_free);
  orrery_plugin_engine_set_use_default_path (f->engine, FALSE);
  orrery_plugin_engine_add_search_path (f->engine, f->dir);
  f->witness = g_array_new (FALSE, FALSE, sizeof (guint64));
  witness = orrery_func_observer_new ("witness", witness_handle, f, NULL);
  orrery_event_bus_subscribe (f->bus, witness, NULL, 0);
  g_signal_connect (f->bus, "observer-failed", G_CALLBACK (on_observer_failed), f);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_clear_object (&f->engine);
  /* The witness only (and the observer after the plugin): every proxy was
   * detached. */
  g_assert_cmpuint (orrery_event_bus_get_n_subscriptions (f->bus), ==, f->after->len > 0 ? 2 : 1);
  /* No hold of the plugin outlives it. */
  g_assert_cmpuint (orrery_orchestrator_get_n_holds (f->orch), ==, 0);
  g_clear_object (&f->orch);
  g_clear_object (&f->devices);
  g_clear_error (&f->run_error);
  g_ptr_array_unref (f->after);
  g_clear_object (&f->config);
  g_clear_object (&f->bus);
  g_array_unref (f->witness);
  fixture_rmrf (f->dir);
  g_free (f->dir);
  g_free (f->output);
}

static void
set (Fixture    *f,
     const char *key,
     const char *value)
{
  orrery_config_set_override (f->config, "Plugin faulty", key, value);
}

static void
publish_tasks (Fixture *f,
               guint    n)
{
  for (guint i = 1; i <= n; i++)
    {
      g_autofree char *id = g_strdup_printf ("t%u", i);
      g_autoptr(OrreryEvent) event =
        orrery_event_new_task (ORRERY_EVENT_TASK_COMPLETED, "test", id,
                               ORRERY_TASK_STATUS_COMPLETED);

      orrery_event_bus_publish (f->bus, event);
    }
}

static gboolean
is_failed (gpointer data)
{
  Fixture *f = data;
  OrreryPluginInfo *info = orrery_plugin_engine_lookup (f->engine, "faulty");

  return orrery_plugin_info_get_state (info) == ORRERY_PLUGIN_STATE_FAILED;
}

/* Every event reached the witness, in bus order. */
static void
assert_witness_complete (Fixture *f,
                         guint    n)
{
  g_assert_cmpuint (f->witness->len, ==, n);
  for (guint i = 0; i < n; i++)
    g_assert_cmpuint (g_array_index (f->witness, guint64, i), ==, i + 1);
}

/* The sequences the plugin wrote, in order. */
static GArray *
plugin_saw (Fixture *f)
{
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  GArray *seen = g_array_new (FALSE, FALSE, sizeof (guint64));

  if (!g_file_get_contents (f->output, &contents, NULL, NULL))
    return seen;
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (*lines[i] != '\0')
      {
        guint64 seq = g_ascii_strtoull (lines[i], NULL, 10);

        g_array_append_val (seen, seq);
      }
  return seen;
}

static void
assert_failure (Fixture    *f,
                gint        code,
                const char *needle)
{
  OrreryPluginInfo *info = orrery_plugin_engine_lookup (f->engine, "faulty");
  const GError *error = orrery_plugin_info_get_error (info);

  g_assert_cmpint (orrery_plugin_info_get_state (info), ==, ORRERY_PLUGIN_STATE_FAILED);
  g_assert_error ((GError *) error, ORRERY_PLUGIN_ERROR, code);
  if (strstr (error->message, needle) == NULL)
    g_error ("“%s” not in “%s”", needle, error->message);
  g_assert_nonnull (strstr (error->message, "faulty.so"));
}

static void
load (Fixture *f)
{
  g_autoptr(GError) error = NULL;

  orrery_plugin_engine_load_all (f->engine);
  orrery_plugin_engine_enable (f->engine, "faulty", &error);
  g_assert_no_error (error);
}

/* No fault: the isolated plugin sees every event, in order, as in process. */
static void
test_isolated_delivers_in_order (Fixture       *f,
                                 gconstpointer  data)
{
  g_autoptr(GArray) seen = NULL;
  OrreryPluginInfo *info;

  set (f, "Delivery", data);
  load (f);
  publish_tasks (f, 50);
  /* What the bus still holds for the queued proxy (the idle that hands it
   * on may not have run), then the proxy's last batch at shutdown. */
  g_assert_true (orrery_event_bus_drain (f->bus));
  orrery_plugin_engine_shutdown (f->engine);  /* flushes the queued ones */
  info = orrery_plugin_engine_lookup (f->engine, "faulty");
  g_assert_cmpint (orrery_plugin_info_get_state (info), ==, ORRERY_PLUGIN_STATE_DISABLED);
  g_assert_null (orrery_plugin_info_get_error (info));
  seen = plugin_saw (f);
  assert_witness_complete (f, 50);
  g_assert_cmpuint (seen->len, ==, 50);
  for (guint i = 0; i < 50; i++)
    g_assert_cmpuint (g_array_index (seen, guint64, i), ==, i + 1);
  g_assert_cmpuint (f->n_observer_failed, ==, 0);
}

/* A segfault on the 3rd event: the plugin fails, named with the event;
 * the bus goes on. */
static void
test_segv (Fixture       *f,
           gconstpointer  data)
{
  g_autoptr(GArray) seen = NULL;

  set (f, "Mode", "segv");
  set (f, "AtEvent", "3");
  set (f, "Delivery", data);
  load (f);
  publish_tasks (f, 10);
  g_assert_true (fixture_wait (is_failed, f, 10000));
  publish_tasks (f, 5);
  assert_witness_complete (f, 15);
  assert_failure (f, ORRERY_PLUGIN_ERROR_CRASHED, "crashed with SIGSEGV at event 3, task-completed t3");
  seen = plugin_saw (f);
  g_assert_cmpuint (seen->len, ==, 2);
  g_assert_cmpuint (g_array_index (seen, guint64, 1), ==, 2);
  if (g_strcmp0 (data, "sync") == 0)
    g_assert_cmpuint (f->n_observer_failed, ==, 1);
}

static void
test_exit (Fixture       *f,
           gconstpointer  data)
{
  set (f, "Mode", "exit");
  load (f);
  publish_tasks (f, 10);
  g_assert_true (fixture_wait (is_failed, f, 10000));
  assert_witness_complete (f, 10);
  assert_failure (f, ORRERY_PLUGIN_ERROR_EXITED, "exited with status 0 at event 3, task-completed t3");
}

/* A handler that never returns: killed at its deadline (DeadlineMs=300). */
static void
test_block (Fixture       *f,
            gconstpointer  data)
{
  set (f, "Mode", "block");
  set (f, "Delivery", data);
  load (f);
  publish_tasks (f, 10);
  g_assert_true (fixture_wait (is_failed, f, 10000));
  assert_witness_complete (f, 10);
  assert_failure (f, ORRERY_PLUGIN_ERROR_TIMED_OUT, "did not");
  g_assert_nonnull (strstr (orrery_plugin_info_get_error (orrery_plugin_engine_lookup (f->engine, "faulty"))->message,
                            "at event 3, task-completed t3; killed"));
}

static void
test_garbage (Fixture       *f,
              gconstpointer  data)
{
  set (f, "Mode", data);
  load (f);
  publish_tasks (f, 10);
  g_assert_true (fixture_wait (is_failed, f, 10000));
  assert_witness_complete (f, 10);
  assert_failure (f, ORRERY_PLUGIN_ERROR_PROTOCOL,
                  g_str_equal (data, "oversize") ? "bytes (the limit is 1048576)" : "sent a message");
}

/* abort() in init, or an init that never returns: enabling fails, with
 * the reason; nothing stays subscribed. */
static void
test_init_fault (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  set (f, "Mode", data);
  set (f, "InitDeadlineMs", "300");
  orrery_plugin_engine_load_all (f->engine);
  g_assert_false (orrery_plugin_engine_enable (f->engine, "faulty", &error));
  g_assert_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_INIT_FAILED);
  g_assert_nonnull (strstr (error->message,
                            g_str_equal (data, "abort-init") ? "crashed with SIGABRT in init"
                                                             : "did not answer within 300 ms in init"));
  assert_failure (f, ORRERY_PLUGIN_ERROR_INIT_FAILED, "in init");
  publish_tasks (f, 3);
  assert_witness_complete (f, 3);
}

/* Restart=on-failure, RestartLimit=2: each new child crashes on its own
 * 2nd event; it is restarted twice for the following events, then stays
 * FAILED. Each child wrote its first event: 1, 3, 5. */
static void
test_restart (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(GArray) seen = NULL;

  set (f, "Mode", "segv");
  set (f, "AtEvent", "2");
  set (f, "Restart", "on-failure");
  set (f, "RestartLimit", "2");
  load (f);
  for (guint i = 0; i < 10; i++)
    {
      publish_tasks (f, 1);
      /* Let the failure be handled (and the restart happen) before the
       * next event, as the main loop does between dispatches. */
      while (g_main_context_iteration (NULL, FALSE))
        ;
    }
  g_assert_true (fixture_wait (is_failed, f, 10000));
  assert_failure (f, ORRERY_PLUGIN_ERROR_CRASHED, "crashed with SIGSEGV at event 6");
  seen = plugin_saw (f);
  g_assert_cmpuint (seen->len, ==, 3);
  g_assert_cmpuint (g_array_index (seen, guint64, 0), ==, 1);
  g_assert_cmpuint (g_array_index (seen, guint64, 1), ==, 3);
  g_assert_cmpuint (g_array_index (seen, guint64, 2), ==, 5);
  assert_witness_complete (f, 10);
}

/* ------------------------------------------------------------------------ */
/* Calls from the child on the host's orchestrator, during a real run. */

/* a -> b -> c on "sim", 10 ms each: the plugin (all types, sync) sees
 * constellation-started, task-started a, task-completed a (its 3rd), ... */
static const char chain_json[] =
  "{\"constellation_id\": \"chain\", \"tasks\": {"
  " \"a\": {\"task_id\": \"a\", \"task_data\": {\"duration_ms\": 10}},"
  " \"b\": {\"task_id\": \"b\", \"task_data\": {\"duration_ms\": 10}},"
  " \"c\": {\"task_id\": \"c\", \"task_data\": {\"duration_ms\": 10}}},"
  " \"dependencies\": ["
  "  {\"from_task_id\": \"a\", \"to_task_id\": \"b\"},"
  "  {\"from_task_id\": \"b\", \"to_task_id\": \"c\"}]}";

/* Subscribed after the plugin: sees each event once the plugin's sync
 * delivery returned, with the holds standing on the host then. */
static gboolean
after_handle (OrreryEvent  *event,
              gpointer      user_data,
              GError      **error)
{
  Fixture *f = user_data;
  const char *task = ORRERY_EVENT_IS_TASK (event) ?
                     orrery_event_get_task_id (event) : NULL;

  g_ptr_array_add (f->after, g_strdup_printf ("%s%s%s %u", orrery_event_get_type_nick (event),
                                              task ? ":" : "", task ? task : "",
                                              orrery_orchestrator_get_n_holds (f->orch)));
  return TRUE;
}

static void
run_done (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  Fixture *f = user_data;

  f->ok = orrery_orchestrator_run_finish (ORRERY_ORCHESTRATOR (source), result, &f->run_error);
  f->done = TRUE;
}

/* Loads the plugin, subscribes the observer after it, runs @json. */
static void
run_json (Fixture    *f,
          const char *json)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryConstellation) c = orrery_constellation_new_from_data (json, -1, "test",
                                                                        &error);
  g_autoptr(OrreryObserver) after = orrery_func_observer_new ("after", after_handle, f, NULL);

  g_assert_no_error (error);
  load (f);
  orrery_event_bus_subscribe (f->bus, after, NULL, 0);
  orrery_orchestrator_run_async (f->orch, c, NULL, run_done, f);
  while (!f->done)
    g_main_context_iteration (NULL, TRUE);
}

static void
run_chain (Fixture *f)
{
  run_json (f, chain_json);
}

static gboolean
after_has (Fixture    *f,
           const char *line)
{
  for (guint i = 0; i < f->after->len; i++)
    if (g_str_equal (f->after->pdata[i], line))
      return TRUE;
  return FALSE;
}

/* The lines the plugin wrote that start with @prefix. */
static guint
count_noted (Fixture    *f,
             const char *line)
{
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  guint n = 0;

  if (!g_file_get_contents (f->output, &contents, NULL, NULL))
    return 0;
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_equal (lines[i], line))
      n++;
  return n;
}

/* A hold taken in the child during task-completed a stands on the host
 * before that delivery returns; b is dispatched only once the child
 * released it (50 ms later, from a timer there). */
static void
test_call_hold_release (Fixture       *f,
                        gconstpointer  data)
{
  set (f, "Mode", "hold");
  set (f, "ReleaseMs", "50");
  run_chain (f);
  g_assert_no_error (f->run_error);
  g_assert_true (f->ok);
  g_assert_true (after_has (f, "task-completed:a 1"));
  g_assert_true (after_has (f, "task-started:b 0"));
  g_assert_true (after_has (f, "constellation-completed 0"));
  g_assert_cmpint (orrery_plugin_info_get_state (orrery_plugin_engine_lookup (f->engine, "faulty")),
                   ==, ORRERY_PLUGIN_STATE_ENABLED);
}

/* A hold with a deadline, never released: it expires on the host, and the
 * child's orchestrator emits hold-expired for it. */
static void
test_call_hold_expired (Fixture       *f,
                        gconstpointer  data)
{
  set (f, "Mode", "hold");
  set (f, "HoldMs", "50");
  run_chain (f);
  g_assert_no_error (f->run_error);
  g_assert_true (f->ok);
  g_assert_true (after_has (f, "task-completed:a 1"));
  orrery_plugin_engine_shutdown (f->engine);
  g_assert_cmpuint (count_noted (f, "hold-expired"), ==, 1);
}

static void
test_call_cancel (Fixture       *f,
                  gconstpointer  data)
{
  set (f, "Mode", "cancel");
  run_chain (f);
  g_assert_false (f->ok);
  g_assert_error (f->run_error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpstr (orrery_orchestrator_get_cancel_reason (f->orch), ==, "faulty says stop");
  g_assert_false (after_has (f, "task-started:b 0"));
}

static void
test_call_fail (Fixture       *f,
                gconstpointer  data)
{
  set (f, "Mode", "fail");
  run_chain (f);
  g_assert_false (f->ok);
  g_assert_error (f->run_error, g_quark_from_static_string ("faulty-error"), 7);
  g_assert_cmpstr (f->run_error->message, ==, "faulty fails the run");
}

/* Edits applied in the child to the event's constellation edit the host's
 * (a refused batch is refused with the host's error); the task added runs. */
static void
test_call_edit (Fixture       *f,
                gconstpointer  data)
{
  set (f, "Mode", "edit");
  run_chain (f);
  g_assert_no_error (f->run_error);
  g_assert_true (f->ok);
  g_assert_true (after_has (f, "task-completed:added 0"));
  g_assert_true (after_has (f, "constellation-modified 0"));
  orrery_plugin_engine_shutdown (f->engine);
  g_assert_cmpuint (count_noted (f, "edit-refused"), ==, 1);
  g_assert_cmpuint (count_noted (f, "edit-applied"), ==, 1);
  g_assert_cmpuint (count_noted (f, "copy-has-added"), ==, 1);
}

/* A constellation of 5000 tasks (more than the copies once had) is
 * copied to the child, and the copy's statuses follow the host's: at the
 * run's end the plugin there reads every task completed. */
static void
test_copy_large (Fixture       *f,
                 gconstpointer  data)
{
  GString *json = g_string_new ("{\"constellation_id\": \"large\", \"tasks\": [");
  g_autofree char *text = NULL;

  for (guint i = 0; i < 5000; i++)
    g_string_append_printf (json, "%s{\"task_id\": \"t%u\", \"task_data\": {\"duration_ms\": 0}}",
                            i ? ", " : "", i);
  g_string_append (json, "]}");
  text = g_string_free (json, FALSE);
  set (f, "Mode", "copy");
  /* Its task events unawaited (in batches): quick under the sanitizers. */
  set (f, "AskOrchestrator", "false");
  run_json (f, text);
  g_assert_no_error (f->run_error);
  g_assert_true (f->ok);
  orrery_plugin_engine_shutdown (f->engine);
  g_assert_cmpuint (count_noted (f, "copy 5000 5000"), ==, 1);
}

/* Subscribed after the plugin: "NICK LINES", the lines the plugin had
 * written (one an event it handled) when this observer got the event. */
static gboolean
lines_handle (OrreryEvent  *event,
              gpointer      user_data,
              GError      **error)
{
  Fixture *f = user_data;
  g_autofree char *contents = NULL;
  guint n = 0;

  if (g_file_get_contents (f->output, &contents, NULL, NULL))
    for (const char *p = contents; *p != '\0'; p++)
      n += *p == '\n';
  g_ptr_array_add (f->after, g_strdup_printf ("%s %u", orrery_event_get_type_nick (event), n));
  return TRUE;
}

/* Three task events, then the run's end, with no main loop iteration
 * between: what the observer after the plugin sees the plugin has done. */
static void
publish_and_watch (Fixture *f)
{
  g_autoptr(OrreryObserver) after = orrery_func_observer_new ("after", lines_handle, f, NULL);
  g_autoptr(OrreryEvent) end =
    orrery_event_new_constellation (ORRERY_EVENT_CONSTELLATION_COMPLETED, "test", "c",
                                    ORRERY_CONSTELLATION_STATE_COMPLETED);

  load (f);
  orrery_event_bus_subscribe (f->bus, after, NULL, 0);
  publish_tasks (f, 3);
  orrery_event_bus_publish (f->bus, end);
  g_assert_cmpuint (f->after->len, ==, 4);
}

/* A plugin that did not take the orchestrator in init: its sync answers
 * can change nothing on the host, so its task events go unawaited (in
 * one batch); the run's own events are awaited, after the ones before. */
static void
test_post_unawaited (Fixture       *f,
                     gconstpointer  data)
{
  set (f, "AskOrchestrator", "false");
  publish_and_watch (f);
  g_assert_cmpstr (f->after->pdata[0], ==, "task-completed 0");
  g_assert_cmpstr (f->after->pdata[1], ==, "task-completed 0");
  g_assert_cmpstr (f->after->pdata[2], ==, "task-completed 0");
  g_assert_cmpstr (f->after->pdata[3], ==, "constellation-completed 4");
  orrery_plugin_engine_shutdown (f->engine);
  assert_witness_complete (f, 4);
}

/* A plugin that took it: each sync answer is awaited (a hold it takes
 * stands before the delivery returns). */
static void
test_post_awaited (Fixture       *f,
                   gconstpointer  data)
{
  publish_and_watch (f);
  g_assert_cmpstr (f->after->pdata[0], ==, "task-completed 1");
  g_assert_cmpstr (f->after->pdata[1], ==, "task-completed 2");
  g_assert_cmpstr (f->after->pdata[2], ==, "task-completed 3");
  g_assert_cmpstr (f->after->pdata[3], ==, "constellation-completed 4");
}

/* orrery_orchestrator_is_running() in the child asks the host's. */
static void
test_call_is_running (Fixture       *f,
                      gconstpointer  data)
{
  set (f, "Mode", "running");
  run_chain (f);
  g_assert_true (f->ok);
  orrery_plugin_engine_shutdown (f->engine);
  g_assert_cmpuint (count_noted (f, "running 1"), >=, 6);
  g_assert_cmpuint (count_noted (f, "running 0"), <=, 1);  /* constellation-completed */
}

/* A warning in the child reaches the host's log handlers, in order. */
static void
test_call_log (Fixture       *f,
               gconstpointer  data)
{
  set (f, "Mode", "warn");
  load (f);
  g_test_expect_message ("Faulty", G_LOG_LEVEL_WARNING, "faulty warns at 3");
  publish_tasks (f, 5);
  g_test_assert_expected_messages ();
  assert_witness_complete (f, 5);
}

/* The child's configuration getters read the host's configuration, other
 * groups too. */
static void
test_call_config (Fixture       *f,
                  gconstpointer  data)
{
  orrery_config_set_override (f->config, "Host", "Probe", "from the host");
  set (f, "Mode", "config");
  load (f);
  publish_tasks (f, 5);
  orrery_plugin_engine_shutdown (f->engine);
  g_assert_cmpuint (count_noted (f, "config from the host"), ==, 1);
}

/* A child that floods calls back, holding for ever or taking and releasing
 * without end: killed and reported, its holds released, the run done. */
static void
test_flood (Fixture       *f,
            gconstpointer  data)
{
  set (f, "Mode", data);
  /* The budget, not the deadline, however slow the host is. */
  set (f, "DeadlineMs", "60000");
  run_chain (f);
  g_assert_no_error (f->run_error);
  g_assert_true (f->ok);
  assert_failure (f, ORRERY_PLUGIN_ERROR_PROTOCOL,
                  g_str_equal (data, "flood-holds") ? "took more than 1024 holds at event 3"
                                                    : "made calls faster than");
  g_assert_true (after_has (f, "constellation-completed 0"));
  g_assert_cmpuint (f->witness->len, ==, 8);
}

/* A bad Isolation value is a configuration error naming the key. */
static void
test_bad_isolation_value (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  set (f, "Isolation", "jail");
  orrery_plugin_engine_load_all (f->engine);
  g_assert_false (orrery_plugin_engine_enable (f->engine, "faulty", &error));
  g_assert_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_BAD_CONFIG);
  g_assert_nonnull (strstr (error->message, "Isolation"));
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* The bus warns of every observer that fails: here that is expected. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  /* A killed child must not kill the test with SIGPIPE. */
  signal (SIGPIPE, SIG_IGN);

#define ADD(path, data, func) \
  g_test_add (path, Fixture, data, fixture_setup, func, fixture_teardown)
  ADD ("/plugin-isolation/in-order/sync", "sync", test_isolated_delivers_in_order);
  ADD ("/plugin-isolation/in-order/queued", "queued", test_isolated_delivers_in_order);
  ADD ("/plugin-isolation/segv/sync", "sync", test_segv);
  ADD ("/plugin-isolation/segv/queued", "queued", test_segv);
  ADD ("/plugin-isolation/exit", NULL, test_exit);
  ADD ("/plugin-isolation/block/sync", "sync", test_block);
  ADD ("/plugin-isolation/block/queued", "queued", test_block);
  ADD ("/plugin-isolation/garbage", "garbage", test_garbage);
  ADD ("/plugin-isolation/oversize", "oversize", test_garbage);
  ADD ("/plugin-isolation/init/abort", "abort-init", test_init_fault);
  ADD ("/plugin-isolation/init/hang", "hang-init", test_init_fault);
  ADD ("/plugin-isolation/restart", NULL, test_restart);
  ADD ("/plugin-isolation/bad-value", NULL, test_bad_isolation_value);
  ADD ("/plugin-isolation/call/hold-release", NULL, test_call_hold_release);
  ADD ("/plugin-isolation/call/hold-expired", NULL, test_call_hold_expired);
  ADD ("/plugin-isolation/call/cancel", NULL, test_call_cancel);
  ADD ("/plugin-isolation/call/fail", NULL, test_call_fail);
  ADD ("/plugin-isolation/call/is-running", NULL, test_call_is_running);
  ADD ("/plugin-isolation/call/edit", NULL, test_call_edit);
  ADD ("/plugin-isolation/copy/large", NULL, test_copy_large);
  ADD ("/plugin-isolation/post/unawaited", NULL, test_post_unawaited);
  ADD ("/plugin-isolation/post/awaited", NULL, test_post_awaited);
  ADD ("/plugin-isolation/call/log", NULL, test_call_log);
  ADD ("/plugin-isolation/call/config", NULL, test_call_config);
  ADD ("/plugin-isolation/flood/holds", "flood-holds", test_flood);
  ADD ("/plugin-isolation/flood/calls", "flood-calls", test_flood);
#undef ADD
  return g_test_run ();
}
