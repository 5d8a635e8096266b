/* test-orchestrator.c: the orchestrator's contract (docs/architecture.md, section 4) on
 * simulated devices and real subprocesses.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <signal.h>
#include <glib/gstdio.h>
#include <orrery.h>

/* ------------------------------------------------------------------------ */
/* Fixture: a bus whose events are recorded as "nick:task" strings. */

typedef struct
{
  OrreryEventBus      *bus;
  OrreryDeviceManager *devices;
  OrreryOrchestrator  *orch;
  GPtrArray           *log;        /* of char*: "task-started:a", "constellation-completed" */
  GPtrArray           *events;     /* of OrreryEvent */
  guint                running;
  guint                max_running;
  gboolean             done;
  gboolean             ok;
  GError              *error;
} Fixture;

static void
on_event (OrreryEventBus *bus,
          OrreryEvent    *event,
          Fixture        *f)
{
  OrreryEventType type = orrery_event_get_event_type (event);

  g_ptr_array_add (f->events, orrery_event_ref (event));
  if (ORRERY_EVENT_IS_TASK (event))
    g_ptr_array_add (f->log, g_strdup_printf ("%s:%s", orrery_event_get_type_nick (event),
                                              orrery_event_get_task_id (event)));
  else
    g_ptr_array_add (f->log, g_strdup (orrery_event_get_type_nick (event)));

  if (type == ORRERY_EVENT_TASK_STARTED)
    {
      f->running++;
      f->max_running = MAX (f->max_running, f->running);
    }
  else if (type == ORRERY_EVENT_TASK_COMPLETED || type == ORRERY_EVENT_TASK_FAILED ||
           type == ORRERY_EVENT_TASK_RETRYING ||
           (type == ORRERY_EVENT_TASK_CANCELLED &&
            orrery_event_get_device_id (event) != NULL &&
            f->running > 0))
    f->running--;
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  f->bus = orrery_event_bus_new ();
  f->devices = orrery_device_manager_new ();
  f->orch = orrery_orchestrator_new (f->bus, f->devices);
  orrery_orchestrator_set_retry_policy (f->orch, 10, 2.0, 100);
  f->log = g_ptr_array_new_with_free_func (g_free);
  f->events = g_ptr_array_new_with_free_func ((GDestroyNotify) orrery_event_unref);
  g_signal_connect (f->bus, "event", G_CALLBACK (on_event), f);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_assert_false (orrery_orchestrator_is_running (f->orch));
  g_clear_object (&f->orch);
  g_clear_object (&f->devices);
  g_clear_object (&f->bus);
  g_ptr_array_unref (f->log);
  g_ptr_array_unref (f->events);
  g_clear_error (&f->error);
}

static void
add_simulated (Fixture    *f,
               const char *id,
               guint       concurrency)
{
  g_autoptr(OrrerySimulatedDevice) dev = orrery_simulated_device_new (id, NULL, concurrency);

  g_assert_true (orrery_device_manager_add_device (f->devices, ORRERY_DEVICE (dev), NULL));
}

static OrreryTask *
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
  return g_steal_pointer (&task);
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
run_done (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  Fixture *f = user_data;

  f->ok = orrery_orchestrator_run_finish (ORRERY_ORCHESTRATOR (source), result, &f->error);
  f->done = TRUE;
}

static void
run_start (Fixture             *f,
           OrreryConstellation *c,
           GCancellable        *cancellable)
{
  f->done = FALSE;
  orrery_orchestrator_run_async (f->orch, c, cancellable, run_done, f);
}

static void
run_wait (Fixture *f)
{
  while (!f->done)
    g_main_context_iteration (NULL, TRUE);
}

static gint
log_index (Fixture    *f,
           const char *entry)
{
  for (guint i = 0; i < f->log->len; i++)
    if (g_str_equal (f->log->pdata[i], entry))
      return (gint) i;
  return -1;
}

static void
assert_before (Fixture    *f,
               const char *a,
               const char *b)
{
  gint ia = log_index (f, a), ib = log_index (f, b);

  if (ia < 0 || ib < 0 || ia >= ib)
    {
      g_autofree char *joined = NULL;

      g_ptr_array_add (f->log, NULL);
      joined = g_strjoinv (" ", (char **) f->log->pdata);
      g_ptr_array_remove_index (f->log, f->log->len - 1);
      g_error ("expected “%s” before “%s” in: %s", a, b, joined);
    }
}

/* Every task has exactly one terminal event and the run exactly one;
 * tasks that never started when a cancel ended the run have none, and the
 * run's terminal event counts them (`bulk_cancelled`). */
static void
assert_one_terminal_each (Fixture             *f,
                          OrreryConstellation *c)
{
  g_autoptr(GPtrArray) tasks = orrery_constellation_get_tasks (c);
  guint run_terminals = 0, n_bulk = 0;
  guint32 bulk_cancelled = 0;

  for (guint i = 0; i < tasks->len; i++)
    {
      const char *id = orrery_task_get_id (tasks->pdata[i]);
      guint n = 0;

      for (guint e = 0; e < f->events->len; e++)
        {
          OrreryEvent *ev = f->events->pdata[e];
          OrreryEventType t = orrery_event_get_event_type (ev);

          if (ORRERY_EVENT_IS_TASK (ev) &&
              g_str_equal (orrery_event_get_task_id (ev), id) &&
              (t == ORRERY_EVENT_TASK_COMPLETED || t == ORRERY_EVENT_TASK_FAILED ||
               t == ORRERY_EVENT_TASK_SKIPPED || t == ORRERY_EVENT_TASK_CANCELLED))
            n++;
        }
      if (n == 0)
        {
          g_assert_cmpint (orrery_task_get_status (tasks->pdata[i]), ==, ORRERY_TASK_STATUS_CANCELLED);
          g_assert_nonnull (orrery_task_get_error (tasks->pdata[i]));
          n_bulk++;
        }
      else
        g_assert_cmpuint (n, ==, 1);
    }
  for (guint e = 0; e < f->events->len; e++)
    {
      OrreryEventType t = orrery_event_get_event_type (f->events->pdata[e]);
      GVariant *data = orrery_event_get_data (f->events->pdata[e]);

      if (t == ORRERY_EVENT_CONSTELLATION_COMPLETED || t == ORRERY_EVENT_CONSTELLATION_FAILED ||
          t == ORRERY_EVENT_CONSTELLATION_CANCELLED)
        {
          run_terminals++;
          if (data != NULL)
            g_variant_lookup (data, "bulk_cancelled", "u", &bulk_cancelled);
        }
    }
  g_assert_cmpuint (run_terminals, ==, 1);
  g_assert_cmpuint (bulk_cancelled, ==, n_bulk);
  g_assert_cmpstr (f->log->pdata[0], ==, "constellation-started");
}

/* ------------------------------------------------------------------------ */

static void
test_chain_order (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("chain", NULL);
  const char *expected[] = {
    "constellation-started",
    "task-started:a", "task-completed:a",
    "task-started:b", "task-completed:b",
    "task-started:c", "task-completed:c",
    "constellation-completed",
  };

  add_simulated (f, "sim", 4);
  g_object_unref (add_task (c, "a", NULL));
  g_object_unref (add_task (c, "b", NULL));
  g_object_unref (add_task (c, "c", NULL));
  add_dep (c, "a", "b", ORRERY_DEPENDENCY_SUCCESS_ONLY);
  add_dep (c, "b", "c", ORRERY_DEPENDENCY_UNCONDITIONAL);

  run_start (f, c, NULL);
  run_wait (f);
  g_assert_no_error (f->error);
  g_assert_true (f->ok);
  g_assert_cmpuint (f->log->len, ==, G_N_ELEMENTS (expected));
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    g_assert_cmpstr (f->log->pdata[i], ==, expected[i]);
  g_assert_cmpint (orrery_constellation_get_state (c), ==, ORRERY_CONSTELLATION_STATE_COMPLETED);

  /* task-completed:a names b as newly ready; the run event has statistics. */
  {
    OrreryEvent *ev = f->events->pdata[2];
    const char * const *ready = orrery_event_get_newly_ready (ev);
    OrreryEvent *end = f->events->pdata[7];

    g_assert_nonnull (ready);
    g_assert_cmpstr (ready[0], ==, "b");
    g_assert_null (ready[1]);
    g_assert_cmpuint (orrery_event_get_attempt (ev), ==, 1);
    g_assert_cmpstr (orrery_event_get_device_id (ev), ==, "sim");
    g_assert_nonnull (orrery_event_get_statistics (end));
    g_assert_true (orrery_event_get_constellation (end) == c);
  }
  assert_one_terminal_each (f, c);
}

static void
test_fan_out_fan_in (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("fan", NULL);
  const char *mid[] = { "x", "y", "z" };

  add_simulated (f, "sim", 8);
  g_object_unref (add_task (c, "root", NULL));
  g_object_unref (add_task (c, "sink", NULL));
  for (guint i = 0; i < 3; i++)
    {
      g_object_unref (add_task (c, mid[i], "{'duration_ms': <30>}"));
      add_dep (c, "root", mid[i], ORRERY_DEPENDENCY_SUCCESS_ONLY);
      add_dep (c, mid[i], "sink", ORRERY_DEPENDENCY_SUCCESS_ONLY);
    }

  run_start (f, c, NULL);
  run_wait (f);
  g_assert_true (f->ok);
  /* The three middle tasks ran in parallel... */
  for (guint i = 0; i < 3; i++)
    for (guint j = 0; j < 3; j++)
      {
        g_autofree char *s = g_strdup_printf ("task-started:%s", mid[i]);
        g_autofree char *e = g_strdup_printf ("task-completed:%s", mid[j]);
        assert_before (f, s, e);
      }
  /* ...and the sink waited for all of them. */
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *e = g_strdup_printf ("task-completed:%s", mid[i]);
      assert_before (f, e, "task-started:sink");
    }
  g_assert_cmpuint (f->max_running, ==, 3);
  assert_one_terminal_each (f, c);
}

static void
test_concurrency_limits (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("wide", NULL);

  add_simulated (f, "sim", 4);
  for (guint i = 0; i < 12; i++)
    {
      g_autofree char *id = g_strdup_printf ("t%02u", i);
      g_object_unref (add_task (c, id, "{'duration_ms': <15>}"));
    }

  /* The device's limit... */
  run_start (f, c, NULL);
  run_wait (f);
  g_assert_true (f->ok);
  g_assert_cmpuint (f->max_running, ==, 4);

  /* ...and the global cap below it. */
  {
    g_autoptr(OrreryConstellation) c2 = orrery_constellation_new ("wide2", NULL);

    for (guint i = 0; i < 12; i++)
      {
        g_autofree char *id = g_strdup_printf ("t%02u", i);
        g_object_unref (add_task (c2, id, "{'duration_ms': <15>}"));
      }
    f->max_running = 0;
    orrery_orchestrator_set_max_concurrency (f->orch, 2);
    run_start (f, c2, NULL);
    run_wait (f);
    g_assert_true (f->ok);
    g_assert_cmpuint (f->max_running, ==, 2);
  }
}

static void
test_targets_and_round_robin (Fixture       *f,
                              gconstpointer  data)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("rr", NULL);
  guint on_a = 0, on_b = 0;

  add_simulated (f, "dev-a", 8);
  add_simulated (f, "dev-b", 8);
  orrery_device_manager_set_strategy (f->devices, ORRERY_STRATEGY_ROUND_ROBIN);
  for (guint i = 0; i < 6; i++)
    {
      g_autofree char *id = g_strdup_printf ("t%u", i);
      g_object_unref (add_task (c, id, "{'duration_ms': <5>}"));
    }
  {
    g_autoptr(OrreryTask) pinned = add_task (c, "pinned", NULL);
    orrery_task_set_target_device_id (pinned, "dev-b");
  }

  run_start (f, c, NULL);
  run_wait (f);
  g_assert_true (f->ok);
  for (guint e = 0; e < f->events->len; e++)
    {
      OrreryEvent *ev = f->events->pdata[e];

      if (orrery_event_get_event_type (ev) != ORRERY_EVENT_TASK_STARTED)
        continue;
      if (g_str_equal (orrery_event_get_task_id (ev), "pinned"))
        {
          g_assert_cmpstr (orrery_event_get_device_id (ev), ==, "dev-b");
          continue;
        }
      if (g_str_equal (orrery_event_get_device_id (ev), "dev-a"))
        on_a++;
      else
        on_b++;
    }
  g_assert_cmpuint (on_a, ==, 3);
  g_assert_cmpuint (on_b, ==, 3);
}

static void
test_retries (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("retry", NULL);
  g_autoptr(OrreryTask) flaky = NULL;
  g_autoptr(OrreryTask) hopeless = NULL;
  const char *expected[] = {
    "task-started:flaky", "task-retrying:flaky",
    "task-started:flaky", "task-retrying:flaky",
    "task-started:flaky", "task-completed:flaky",
  };
  guint k = 0;

  add_simulated (f, "sim", 1);
  flaky = add_task (c, "flaky", "{'fail_attempts': <uint32 2>}");
  orrery_task_set_retry_count (flaky, 3);
  hopeless = add_task (c, "hopeless", "{'fail': <true>}");
  orrery_task_set_retry_count (hopeless, 1);
  add_dep (c, "flaky", "hopeless", ORRERY_DEPENDENCY_SUCCESS_ONLY);

  run_start (f, c, NULL);
  run_wait (f);
  g_assert_false (f->ok);
  g_assert_error (f->error, ORRERY_ORCHESTRATOR_ERROR, ORRERY_ORCHESTRATOR_ERROR_TASKS_FAILED);

  for (guint i = 0; i < f->log->len && k < G_N_ELEMENTS (expected); i++)
    if (g_str_has_suffix (f->log->pdata[i], ":flaky"))
      g_assert_cmpstr (f->log->pdata[i], ==, expected[k++]);
  g_assert_cmpuint (k, ==, G_N_ELEMENTS (expected));
  g_assert_cmpuint (orrery_task_get_attempt (flaky), ==, 3);
  /* One retry, then failed for good. */
  assert_before (f, "task-retrying:hopeless", "task-failed:hopeless");
  g_assert_cmpuint (orrery_task_get_attempt (hopeless), ==, 2);
  g_assert_cmpint (orrery_task_get_status (hopeless), ==, ORRERY_TASK_STATUS_FAILED);
  assert_one_terminal_each (f, c);
}

/* The delays of @id's task-retrying events, in order. */
static GArray *
retry_delays (Fixture    *f,
              const char *id)
{
  GArray *delays = g_array_new (FALSE, FALSE, sizeof (guint));

  for (guint i = 0; i < f->events->len; i++)
    {
      OrreryEvent *event = f->events->pdata[i];
      guint delay = G_MAXUINT;
      guint left = G_MAXUINT;

      if (orrery_event_get_event_type (event) != ORRERY_EVENT_TASK_RETRYING ||
          g_strcmp0 (orrery_event_get_task_id (event), id) != 0)
        continue;
      g_assert_nonnull (orrery_event_get_data (event));
      g_assert_true (g_variant_lookup (orrery_event_get_data (event), "delay_ms", "u", &delay));
      g_assert_true (g_variant_lookup (orrery_event_get_data (event), "retries_left", "u", &left));
      /* Counted down from the task's retry count (5 below), one per retry. */
      g_assert_cmpuint (left, ==, 5 - delays->len);
      g_array_append_val (delays, delay);
    }
  return delays;
}

/* The backoff: the first delay, multiplied by the factor at each retry,
 * capped. */
static void
test_retry_backoff (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("backoff", NULL);
  g_autoptr(OrreryTask) flaky = NULL;
  g_autoptr(OrreryTask) steady = NULL;
  g_autoptr(GArray) delays = NULL;
  const guint expected[] = { 4, 12, 36, 50, 50 };
  const guint expected_flat[] = { 7, 7 };

  add_simulated (f, "sim", 2);
  orrery_orchestrator_set_retry_policy (f->orch, 4, 3.0, 50);
  flaky = add_task (c, "flaky", "{'fail_attempts': <uint32 5>}");
  orrery_task_set_retry_count (flaky, 5);

  run_start (f, c, NULL);
  run_wait (f);
  g_assert_true (f->ok);
  delays = retry_delays (f, "flaky");
  g_assert_cmpmem (delays->data, delays->len * sizeof (guint), expected, sizeof expected);
  g_assert_cmpuint (orrery_task_get_attempt (flaky), ==, 6);
  g_assert_cmpint (orrery_task_get_status (flaky), ==, ORRERY_TASK_STATUS_COMPLETED);
  assert_one_terminal_each (f, c);

  /* Factor 1: every delay is the first; a cap below the first delay is
   * raised to it. */
  g_ptr_array_set_size (f->events, 0);
  g_ptr_array_set_size (f->log, 0);
  f->done = FALSE;
  g_clear_error (&f->error);
  g_clear_object (&c);
  c = orrery_constellation_new ("flat", NULL);
  orrery_orchestrator_set_retry_policy (f->orch, 7, 1.0, 1);
  steady = add_task (c, "steady", "{'fail_attempts': <uint32 2>}");
  orrery_task_set_retry_count (steady, 5);
  run_start (f, c, NULL);
  run_wait (f);
  g_assert_true (f->ok);
  g_clear_pointer (&delays, g_array_unref);
  delays = retry_delays (f, "steady");
  g_assert_cmpmem (delays->data, delays->len * sizeof (guint), expected_flat,
                   sizeof expected_flat);
}

static void
test_skip_propagation (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("skip", NULL);

  add_simulated (f, "sim", 4);
  g_object_unref (add_task (c, "a", "{'fail': <true>}"));
  g_object_unref (add_task (c, "b", NULL));
  g_object_unref (add_task (c, "c", NULL));
  g_object_unref (add_task (c, "cleanup", NULL));
  add_dep (c, "a", "b", ORRERY_DEPENDENCY_SUCCESS_ONLY);
  add_dep (c, "b", "c", ORRERY_DEPENDENCY_SUCCESS_ONLY);
  add_dep (c, "a", "cleanup", ORRERY_DEPENDENCY_COMPLETION_ONLY);

  run_start (f, c, NULL);
  run_wait (f);
  g_assert_false (f->ok);
  assert_before (f, "task-failed:a", "task-skipped:b");
  assert_before (f, "task-skipped:b", "task-skipped:c");
  assert_before (f, "task-failed:a", "task-completed:cleanup");
  g_assert_cmpint (log_index (f, "task-started:b"), ==, -1);
  g_assert_cmpstr (f->log->pdata[f->log->len - 1], ==, "constellation-failed");
  g_assert_cmpint (orrery_constellation_get_state (c), ==, ORRERY_CONSTELLATION_STATE_FAILED);
  assert_one_terminal_each (f, c);
}

static void
test_no_device (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("nodev", NULL);
  g_autoptr(OrreryTask) t = NULL;

  add_simulated (f, "sim", 1);
  t = add_task (c, "win", NULL);
  orrery_task_set_device_type (t, "windows");

  g_test_expect_message ("Orrery-Orchestrator", G_LOG_LEVEL_WARNING, "*Task “win” fails*windows*");
  run_start (f, c, NULL);
  run_wait (f);
  g_test_assert_expected_messages ();
  g_assert_false (f->ok);
  g_assert_cmpint (orrery_task_get_status (t), ==, ORRERY_TASK_STATUS_FAILED);
  g_assert_error (orrery_task_get_error (t), ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_NO_DEVICE);
  assert_one_terminal_each (f, c);
}

/* ------------------------------------------------------------------------ */
/* Real subprocesses */

static gboolean
pid_gone (gint pid)
{
  return kill (pid, 0) == -1 && errno == ESRCH;
}

static gint
result_pid (OrreryTask *task)
{
  gint pid = 0;

  g_assert_nonnull (orrery_task_get_result (task));
  g_assert_true (g_variant_lookup (orrery_task_get_result (task), "pid", "i", &pid));
  return pid;
}

static void
test_local_success_failure_timeout (Fixture       *f,
                                    gconstpointer  data)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("local", NULL);
  g_autoptr(OrreryLocalDevice) dev = orrery_local_device_new ("local", NULL, 4);
  g_autoptr(OrreryTask) ok = NULL;
  g_autoptr(OrreryTask) bad = NULL;
  g_autoptr(OrreryTask) slow = NULL;
  const char *out = NULL;
  gint status = 0;

  g_assert_true (orrery_device_manager_add_device (f->devices, ORRERY_DEVICE (dev), NULL));
  ok = add_task (c, "ok", "{'command': <'echo hello from $WHO'>, 'env': <{'WHO': 'orrery'}>}");
  bad = add_task (c, "bad", "{'command': <['sh', '-c', 'echo oops >&2; exit 3']>}");
  slow = add_task (c, "slow", "{'command': <'sleep 30'>}");
  orrery_task_set_timeout (slow, 0.3);

  run_start (f, c, NULL);
  run_wait (f);
  g_assert_false (f->ok);

  g_assert_no_error ((GError *) orrery_task_get_error (ok));
  g_assert_cmpint (orrery_task_get_status (ok), ==, ORRERY_TASK_STATUS_COMPLETED);
  g_assert_true (g_variant_lookup (orrery_task_get_result (ok), "stdout", "&s", &out));
  g_assert_cmpstr (out, ==, "hello from orrery\n");

  g_assert_cmpint (orrery_task_get_status (bad), ==, ORRERY_TASK_STATUS_FAILED);
  g_assert_error (orrery_task_get_error (bad), ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_EXIT_STATUS);
  g_assert_true (g_variant_lookup (orrery_task_get_result (bad), "exit_status", "i", &status));
  g_assert_cmpint (status, ==, 3);
  g_assert_true (g_variant_lookup (orrery_task_get_result (bad), "stderr", "&s", &out));
  g_assert_cmpstr (out, ==, "oops\n");

  g_assert_cmpint (orrery_task_get_status (slow), ==, ORRERY_TASK_STATUS_FAILED);
  g_assert_error (orrery_task_get_error (slow), ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_TIMEOUT);
  g_assert_true (pid_gone (result_pid (slow)));
  assert_one_terminal_each (f, c);
}

/* A task running @command through the shell. */
static OrreryTask *
add_command_task (OrreryConstellation *c,
                  const char          *id,
                  const char          *command)
{
  g_autoptr(OrreryTask) task = orrery_task_new (id, id);
  g_autoptr(GError) error = NULL;

  orrery_task_set_task_data (task, g_variant_new_parsed ("{'command': <%s>}", command));
  orrery_constellation_add_task (c, task, &error);
  g_assert_no_error (error);
  return g_steal_pointer (&task);
}

/* Reads the @n pids a command wrote into @file (written under another name,
 * then renamed: complete once it exists). */
static void
read_pids (const char *file,
           gint       *pids,
           guint       n)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) words = NULL;

  g_assert_true (g_file_get_contents (file, &text, NULL, NULL));
  words = g_strsplit_set (g_strstrip (text), " ", -1);
  g_assert_cmpuint (g_strv_length (words), ==, n);
  for (guint i = 0; i < n; i++)
    {
      pids[i] = (gint) g_ascii_strtoll (words[i], NULL, 10);
      g_assert_cmpint (pids[i], >, 1);
    }
}

typedef struct
{
  const char   *files[2];
  GCancellable *cancellable;
} CancelWhenStarted;

/* Cancels once every command wrote its pids: they all run, with their
 * children, when the cancel comes. */
static gboolean
cancel_when_started (gpointer data)
{
  CancelWhenStarted *when = data;

  for (guint i = 0; i < G_N_ELEMENTS (when->files); i++)
    if (!g_file_test (when->files[i], G_FILE_TEST_EXISTS))
      return G_SOURCE_CONTINUE;
  g_cancellable_cancel (when->cancellable);
  return G_SOURCE_REMOVE;
}

static gboolean
group_gone (gint pgid)
{
  return kill (-pgid, 0) == -1 && errno == ESRCH;
}

static void
test_local_cancel (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("cancel", NULL);
  g_autoptr(OrreryLocalDevice) dev = orrery_local_device_new ("local", NULL, 2);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(OrreryTask) s1 = NULL;
  g_autoptr(OrreryTask) s2 = NULL;
  g_autoptr(OrreryTask) after = NULL;
  g_autofree char *dir = g_dir_make_tmp ("orrery-cancel-XXXXXX", NULL);
  g_autofree char *s1_pids = g_build_filename (dir, "s1.pids", NULL);
  g_autofree char *s2_pids = g_build_filename (dir, "s2.pids", NULL);
  g_autofree char *cmd1 = NULL;
  g_autofree char *cmd2 = NULL;
  CancelWhenStarted when = { { s1_pids, s2_pids }, cancellable };
  gint pids1[2];
  gint pids2[1];
  gint64 start;

  g_assert_nonnull (dir);
  g_assert_true (orrery_device_manager_add_device (f->devices, ORRERY_DEVICE (dev), NULL));
  /* s1: the shell (leader of the task's process group) and a background
   * child of it; s2: a shell and its foreground child. */
  cmd1 = g_strdup_printf ("sleep 30 & echo $$ $! > %s.tmp && mv %s.tmp %s; sleep 30; wait",
                          s1_pids, s1_pids, s1_pids);
  cmd2 = g_strdup_printf ("echo $$ > %s.tmp && mv %s.tmp %s; sleep 30", s2_pids, s2_pids,
                          s2_pids);
  s1 = add_command_task (c, "s1", cmd1);
  s2 = add_command_task (c, "s2", cmd2);
  after = add_task (c, "after", "{'command': <'true'>}");
  add_dep (c, "s1", "after", ORRERY_DEPENDENCY_UNCONDITIONAL);

  start = g_get_monotonic_time ();
  g_timeout_add (10, cancel_when_started, &when);
  run_start (f, c, cancellable);
  run_wait (f);

  g_assert_error (f->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  /* Well before the sleeps would have ended on their own. */
  g_assert_cmpint (g_get_monotonic_time () - start, <, 20 * G_USEC_PER_SEC);
  g_assert_cmpstr (f->log->pdata[f->log->len - 1], ==, "constellation-cancelled");
  g_assert_cmpint (orrery_task_get_status (s1), ==, ORRERY_TASK_STATUS_CANCELLED);
  g_assert_cmpint (orrery_task_get_status (s2), ==, ORRERY_TASK_STATUS_CANCELLED);
  g_assert_cmpint (log_index (f, "task-started:after"), ==, -1);
  g_assert_cmpint (orrery_constellation_get_state (c), ==, ORRERY_CONSTELLATION_STATE_CANCELLED);

  /* The cancel killed each task's whole process group, the background
   * child with its shell, and the executions ended only once those were
   * reaped. */
  read_pids (s1_pids, pids1, 2);
  read_pids (s2_pids, pids2, 1);
  g_assert_true (pid_gone (pids1[0]));
  g_assert_true (pid_gone (pids1[1]));
  g_assert_true (group_gone (pids1[0]));
  g_assert_true (pid_gone (pids2[0]));
  g_assert_true (group_gone (pids2[0]));
  assert_one_terminal_each (f, c);

  g_assert_cmpint (g_unlink (s1_pids), ==, 0);
  g_assert_cmpint (g_unlink (s2_pids), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* ------------------------------------------------------------------------ */
/* Holds and edits */

static gboolean
quit_flag (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
spin_ms (guint ms)
{
  gboolean flag = FALSE;

  g_timeout_add (ms, quit_flag, &flag);
  while (!flag)
    g_main_context_iteration (NULL, TRUE);
}

static void
test_hold_blocks_dispatch (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("held", NULL);
  g_autoptr(OrreryHold) hold = NULL;

  add_simulated (f, "sim", 4);
  g_object_unref (add_task (c, "a", NULL));

  hold = orrery_orchestrator_hold (f->orch, "test", 0);
  run_start (f, c, NULL);
  spin_ms (50);
  g_assert_false (f->done);
  g_assert_cmpint (log_index (f, "task-started:a"), ==, -1);
  g_assert_cmpuint (orrery_orchestrator_get_n_holds (f->orch), ==, 1);

  g_assert_true (orrery_orchestrator_release (f->orch, hold));
  g_assert_false (orrery_orchestrator_release (f->orch, hold));
  run_wait (f);
  g_assert_true (f->ok);
}

/* An agent that holds the run after a completion, edits the graph, then
 * releases: what it adds runs, and nothing runs from the old graph. */
typedef struct
{
  Fixture             *f;
  OrreryConstellation *c;
  OrreryHold          *hold;
  const char          *trigger;
  void               (*edit) (OrreryConstellation *c);
} Agent;

static gboolean
agent_edit (gpointer data)
{
  Agent *agent = data;
  const char *on[] = { agent->trigger, NULL };

  (void) on;
  agent->edit (agent->c);
  g_assert_true (orrery_orchestrator_release (agent->f->orch, agent->hold));
  g_clear_pointer (&agent->hold, orrery_hold_unref);
  return G_SOURCE_REMOVE;
}

static void
agent_on_completed (OrreryEventBus *bus,
                    OrreryEvent    *event,
                    Agent          *agent)
{
  if (!g_str_equal (orrery_event_get_task_id (event), agent->trigger) ||
      agent->hold != NULL)
    return;
  agent->hold = orrery_orchestrator_hold (agent->f->orch, "agent", 0);
  /* The agent thinks for a while before it edits. */
  g_timeout_add (30, agent_edit, agent);
}

static void
edit_extend (OrreryConstellation *c)
{
  g_autoptr(OrreryEditBatch) batch = orrery_edit_batch_new ();
  g_autoptr(OrreryTask) n1 = orrery_task_new ("n1", "added");
  g_autoptr(OrreryTask) n2 = orrery_task_new ("n2", "added");
  g_autoptr(GVariant) mods = NULL;
  g_autoptr(GError) error = NULL;
  const char *on[] = { "last", NULL };

  orrery_edit_batch_add_task (batch, n1);
  orrery_edit_batch_add_task (batch, n2);
  orrery_edit_batch_add_dependency (batch, "last", "n1", ORRERY_DEPENDENCY_SUCCESS_ONLY, NULL);
  orrery_edit_batch_add_dependency (batch, "n1", "n2", ORRERY_DEPENDENCY_SUCCESS_ONLY, NULL);
  orrery_edit_batch_set_on_task_ids (batch, on);
  mods = orrery_constellation_apply_edits (c, batch, &error);
  g_assert_no_error (error);
  g_assert_nonnull (mods);
}

static void
test_edit_after_last_task (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("extend", NULL);
  Agent agent = { f, c, NULL, "last", edit_extend };
  OrreryEvent *modified;
  gint im;

  add_simulated (f, "sim", 4);
  g_object_unref (add_task (c, "last", NULL));
  g_signal_connect (f->bus, "event::task-completed", G_CALLBACK (agent_on_completed), &agent);

  run_start (f, c, NULL);
  run_wait (f);
  g_assert_no_error (f->error);
  g_assert_true (f->ok);
  /* The run did not end after "last": the agent's tasks ran. */
  assert_before (f, "task-completed:last", "constellation-modified");
  assert_before (f, "constellation-modified", "task-started:n1");
  assert_before (f, "task-completed:n1", "task-started:n2");
  g_assert_cmpstr (f->log->pdata[f->log->len - 1], ==, "constellation-completed");
  g_assert_cmpuint (orrery_constellation_get_n_tasks (c), ==, 3);

  im = log_index (f, "constellation-modified");
  modified = f->events->pdata[im];
  g_assert_cmpstr (orrery_event_get_on_task_ids (modified)[0], ==, "last");
  g_assert_nonnull (orrery_event_get_modifications (modified));
  assert_one_terminal_each (f, c);
}

static void
edit_insert_prerequisite (OrreryConstellation *c)
{
  g_autoptr(OrreryEditBatch) batch = orrery_edit_batch_new ();
  g_autoptr(OrreryTask) gate = orrery_task_new ("gate", "inserted");
  g_autoptr(GVariant) mods = NULL;
  g_autoptr(GError) error = NULL;

  orrery_edit_batch_add_task (batch, gate);
  orrery_edit_batch_add_dependency (batch, "gate", "b", ORRERY_DEPENDENCY_SUCCESS_ONLY, NULL);
  mods = orrery_constellation_apply_edits (c, batch, &error);
  g_assert_no_error (error);
}

static void
test_edit_ready_task_while_held (Fixture       *f,
                                 gconstpointer  data)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("gate", NULL);
  Agent agent = { f, c, NULL, "a", edit_insert_prerequisite };

  add_simulated (f, "sim", 4);
  g_object_unref (add_task (c, "a", NULL));
  g_object_unref (add_task (c, "b", NULL));
  add_dep (c, "a", "b", ORRERY_DEPENDENCY_SUCCESS_ONLY);
  g_signal_connect (f->bus, "event::task-completed", G_CALLBACK (agent_on_completed), &agent);

  run_start (f, c, NULL);
  run_wait (f);
  g_assert_true (f->ok);
  /* b was ready when a completed, but the agent made it wait for gate
   * before anything was dispatched from the old graph. */
  assert_before (f, "task-completed:gate", "task-started:b");
  assert_one_terminal_each (f, c);
}

static void
on_hold_expired (OrreryOrchestrator *orch,
                 OrreryHold         *hold,
                 gpointer            data)
{
  *(guint *) data += 1;
  g_assert_true (orrery_hold_has_expired (hold));
  g_assert_false (orrery_hold_is_active (hold));
}

static void
test_hold_deadline (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("deadline", NULL);
  g_autoptr(OrreryHold) hold = NULL;
  guint expired = 0;

  add_simulated (f, "sim", 1);
  g_object_unref (add_task (c, "a", NULL));
  g_signal_connect (f->orch, "hold-expired", G_CALLBACK (on_hold_expired), &expired);

  g_test_expect_message ("Orrery-Orchestrator", G_LOG_LEVEL_WARNING, "*Hold #1 (slow agent) expired*");
  run_start (f, c, NULL);
  hold = orrery_orchestrator_hold (f->orch, "slow agent", 60);
  run_wait (f);
  g_test_assert_expected_messages ();
  g_assert_true (f->ok);
  g_assert_cmpuint (expired, ==, 1);
  g_assert_false (orrery_orchestrator_release (f->orch, hold));
}

/* An observer that cancels the run from inside a task-failed delivery (as
 * the failure monitor's AbortAfter does): every task still gets one terminal
 * event, all before the run's own. */
static void
cancel_on_failure (OrreryEventBus *bus,
                   OrreryEvent    *event,
                   Fixture        *f)
{
  orrery_orchestrator_cancel (f->orch, "too many failures");
}

static void
test_cancel_from_observer (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("abort", NULL);

  add_simulated (f, "sim", 4);
  g_object_unref (add_task (c, "bad", "{'fail': <true>}"));
  g_object_unref (add_task (c, "after", NULL));
  g_object_unref (add_task (c, "slow", "{'duration_ms': <2000>}"));
  g_object_unref (add_task (c, "later", NULL));
  add_dep (c, "bad", "after", ORRERY_DEPENDENCY_SUCCESS_ONLY);
  add_dep (c, "slow", "later", ORRERY_DEPENDENCY_SUCCESS_ONLY);
  g_signal_connect (f->bus, "event::task-failed", G_CALLBACK (cancel_on_failure), f);

  run_start (f, c, NULL);
  run_wait (f);
  g_assert_error (f->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_nonnull (strstr (f->error->message, "too many failures"));
  assert_before (f, "task-failed:bad", "task-skipped:after");
  assert_before (f, "task-skipped:after", "constellation-cancelled");
  assert_before (f, "task-cancelled:slow", "constellation-cancelled");
  assert_before (f, "task-skipped:later", "constellation-cancelled");
  g_assert_cmpstr (f->log->pdata[f->log->len - 1], ==, "constellation-cancelled");
  assert_one_terminal_each (f, c);
}

/* A device added while the run goes on is announced and used at once. */
static gboolean
add_second_device (gpointer data)
{
  Fixture *f = data;

  add_simulated (f, "late", 1);
  return G_SOURCE_REMOVE;
}

static void
test_device_added_during_run (Fixture       *f,
                              gconstpointer  data)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("grow", NULL);
  guint on_late = 0;

  add_simulated (f, "first", 1);
  for (guint i = 0; i < 6; i++)
    {
      g_autofree char *id = g_strdup_printf ("t%u", i);
      g_object_unref (add_task (c, id, "{'duration_ms': <40>}"));
    }
  g_timeout_add (20, add_second_device, f);

  run_start (f, c, NULL);
  run_wait (f);
  g_assert_true (f->ok);
  g_assert_cmpint (log_index (f, "device-added"), >, 0);
  for (guint e = 0; e < f->events->len; e++)
    if (orrery_event_get_event_type (f->events->pdata[e]) == ORRERY_EVENT_TASK_STARTED &&
        g_strcmp0 (orrery_event_get_device_id (f->events->pdata[e]), "late") == 0)
      on_late++;
  g_assert_cmpuint (on_late, >=, 1);
  g_assert_cmpuint (f->max_running, ==, 2);
  {
    OrreryEvent *ev = f->events->pdata[log_index (f, "device-added")];

    g_assert_cmpstr (orrery_event_get_device_id (ev), ==, "late");
  }
}

static void
test_invalid_and_busy (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("one", NULL);
  g_autoptr(OrreryConstellation) c2 = orrery_constellation_new ("two", NULL);
  g_autoptr(GError) error = NULL;
  gboolean done2 = FALSE;

  add_simulated (f, "sim", 1);
  g_object_unref (add_task (c, "a", "{'duration_ms': <20>}"));
  g_object_unref (add_task (c2, "a", NULL));
  run_start (f, c, NULL);

  /* A second run while the first goes on is refused. */
  {
    Fixture f2 = { 0 };

    orrery_orchestrator_run_async (f->orch, c2, NULL, run_done, &f2);
    while (!f2.done)
      g_main_context_iteration (NULL, TRUE);
    g_assert_error (f2.error, ORRERY_ORCHESTRATOR_ERROR, ORRERY_ORCHESTRATOR_ERROR_BUSY);
    g_clear_error (&f2.error);
    done2 = TRUE;
  }
  run_wait (f);
  g_assert_true (f->ok);
  g_assert_true (done2);
}

/* Each run has its own state: a handler of a run's last event sees no run
 * in progress and may start the next one, which starts clean (the failure
 * of the first is not carried over). */
typedef struct
{
  Fixture             *f;
  OrreryConstellation *next;
  gboolean             started;
  gboolean             running_at_end;
  gboolean             constellation_at_end;
  gboolean             done;
  gboolean             ok;
  GError              *error;
} NextRun;

static void
next_run_done (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  NextRun *n = user_data;

  n->ok = orrery_orchestrator_run_finish (ORRERY_ORCHESTRATOR (source), result, &n->error);
  n->done = TRUE;
}

static void
fail_first_run (OrreryEventBus *bus,
                OrreryEvent    *event,
                NextRun        *n)
{
  g_autoptr(GError) error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_NO_SPACE, "journal: disk full");

  if (!n->started)
    orrery_orchestrator_fail (n->f->orch, error);
}

static void
start_next_run (OrreryEventBus *bus,
                OrreryEvent    *event,
                NextRun        *n)
{
  if (n->started)
    return;
  n->started = TRUE;
  n->running_at_end = orrery_orchestrator_is_running (n->f->orch);
  n->constellation_at_end = orrery_orchestrator_get_constellation (n->f->orch) != NULL;
  orrery_orchestrator_run_async (n->f->orch, n->next, NULL, next_run_done, n);
}

static void
test_next_run_from_last_event (Fixture       *f,
                               gconstpointer  data)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("first", NULL);
  g_autoptr(OrreryConstellation) c2 = orrery_constellation_new ("second", NULL);
  NextRun n = { .f = f, .next = c2 };
  gint second_start = -1;

  add_simulated (f, "sim", 2);
  g_object_unref (add_task (c, "a", "{'duration_ms': <20>}"));
  g_object_unref (add_task (c, "b", NULL));
  add_dep (c, "a", "b", ORRERY_DEPENDENCY_SUCCESS_ONLY);
  g_object_unref (add_task (c2, "x", NULL));
  g_object_unref (add_task (c2, "y", NULL));
  add_dep (c2, "x", "y", ORRERY_DEPENDENCY_SUCCESS_ONLY);
  g_signal_connect (f->bus, "event::task-started", G_CALLBACK (fail_first_run), &n);
  g_signal_connect (f->bus, "event::constellation-failed", G_CALLBACK (start_next_run), &n);

  g_test_expect_message ("Orrery-Orchestrator", G_LOG_LEVEL_WARNING, "*fails: journal: disk full*");
  run_start (f, c, NULL);
  run_wait (f);
  while (!n.done)
    g_main_context_iteration (NULL, TRUE);
  g_test_assert_expected_messages ();

  g_assert_error (f->error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  g_assert_true (n.started);
  g_assert_false (n.running_at_end);
  g_assert_false (n.constellation_at_end);
  g_assert_no_error (n.error);
  g_assert_true (n.ok);
  g_assert_null (orrery_orchestrator_get_cancel_reason (f->orch));
  g_assert_cmpint (orrery_task_get_status (orrery_constellation_get_task (c2, "y")), ==,
                   ORRERY_TASK_STATUS_COMPLETED);
  for (guint i = 1; i < f->log->len; i++)
    if (g_str_equal (f->log->pdata[i], "constellation-started"))
      second_start = (gint) i;
  g_assert_cmpint (second_start, >, log_index (f, "constellation-failed"));
  assert_before (f, "constellation-failed", "task-completed:y");
  g_assert_cmpstr (f->log->pdata[f->log->len - 1], ==, "constellation-completed");
}

/* ------------------------------------------------------------------------ */
/* Dispatch cost and order: the cost of a step follows the work, not the graph (docs/architecture.md, section 4) */

/* A device that forwards to a simulated one and counts how often the
 * device manager asks for its type: each time is one look at one task. */
#define TEST_TYPE_COUNTING_DEVICE (test_counting_device_get_type ())
G_DECLARE_FINAL_TYPE (TestCountingDevice, test_counting_device, TEST, COUNTING_DEVICE, GObject)

struct _TestCountingDevice
{
  GObject       parent_instance;
  OrreryDevice *inner;
  guint         type_calls;
};

static void test_counting_device_iface_init (OrreryDeviceInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestCountingDevice, test_counting_device, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (ORRERY_TYPE_DEVICE, test_counting_device_iface_init))

static const char *
counting_get_id (OrreryDevice *self)
{
  return orrery_device_get_id (TEST_COUNTING_DEVICE (self)->inner);
}

static const char *
counting_get_device_type (OrreryDevice *self)
{
  TEST_COUNTING_DEVICE (self)->type_calls++;
  return orrery_device_get_device_type (TEST_COUNTING_DEVICE (self)->inner);
}

static const char * const *
counting_get_capabilities (OrreryDevice *self)
{
  return orrery_device_get_capabilities (TEST_COUNTING_DEVICE (self)->inner);
}

static guint
counting_get_max_concurrency (OrreryDevice *self)
{
  return orrery_device_get_max_concurrency (TEST_COUNTING_DEVICE (self)->inner);
}

static OrreryDeviceStatus
counting_get_status (OrreryDevice *self)
{
  return orrery_device_get_status (TEST_COUNTING_DEVICE (self)->inner);
}

static void
counting_execute_async (OrreryDevice        *self,
                        OrreryTask          *task,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  /* The callback's source is the inner device: the orchestrator finishes
   * the call on it. */
  orrery_device_execute_async (TEST_COUNTING_DEVICE (self)->inner, task, cancellable,
                               callback, user_data);
}

static gboolean
counting_execute_finish (OrreryDevice  *self,
                         GAsyncResult  *result,
                         GVariant     **out_result,
                         GError       **error)
{
  return orrery_device_execute_finish (TEST_COUNTING_DEVICE (self)->inner, result, out_result, error);
}

static void
test_counting_device_iface_init (OrreryDeviceInterface *iface)
{
  iface->get_id = counting_get_id;
  iface->get_device_type = counting_get_device_type;
  iface->get_capabilities = counting_get_capabilities;
  iface->get_max_concurrency = counting_get_max_concurrency;
  iface->get_status = counting_get_status;
  iface->execute_async = counting_execute_async;
  iface->execute_finish = counting_execute_finish;
}

static void
test_counting_device_finalize (GObject *object)
{
  g_clear_object (&TEST_COUNTING_DEVICE (object)->inner);
  G_OBJECT_CLASS (test_counting_device_parent_class)->finalize (object);
}

static void
test_counting_device_class_init (TestCountingDeviceClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = test_counting_device_finalize;
}

static void
test_counting_device_init (TestCountingDevice *self)
{
}

/* Thousands of tasks wait for one busy device while another device has
 * free slots: each completion used to rescan the whole ready set (every
 * waiting task looked at again, N²/2 looks in all; 20k tasks took 287 s).
 * Now a completion looks at the class of tasks the freed device can take. */
static void
test_dispatch_cost_follows_work (Fixture       *f,
                                 gconstpointer  data)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("busy-one", NULL);
  g_autoptr(TestCountingDevice) busy = g_object_new (TEST_TYPE_COUNTING_DEVICE, NULL);
  g_autoptr(OrrerySimulatedDevice) other = orrery_simulated_device_new ("other", "y", 8);
  const guint n = 3000;
  guint on_busy = 0;

  busy->inner = ORRERY_DEVICE (orrery_simulated_device_new ("busy", "x", 2));
  g_assert_true (orrery_device_manager_add_device (f->devices, ORRERY_DEVICE (busy), NULL));
  g_assert_true (orrery_device_manager_add_device (f->devices, ORRERY_DEVICE (other), NULL));
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *id = g_strdup_printf ("t%05u", i);
      g_autoptr(OrreryTask) t = add_task (c, id, NULL);

      orrery_task_set_device_type (t, "x");
    }

  run_start (f, c, NULL);
  run_wait (f);
  g_assert_no_error (f->error);
  g_assert_true (f->ok);
  for (guint e = 0; e < f->events->len; e++)
    if (orrery_event_get_event_type (f->events->pdata[e]) == ORRERY_EVENT_TASK_STARTED &&
        g_str_equal (orrery_event_get_device_id (f->events->pdata[e]), "busy"))
      on_busy++;
  g_assert_cmpuint (on_busy, ==, n);
  /* A few looks per task (its own placement, the look that finds the
   * class blocked after each completion), not one per waiting task. */
  g_test_message ("%u looks at device “busy” for %u tasks", busy->type_calls, n);
  g_assert_cmpuint (busy->type_calls, <, 10 * n);
}

static OrreryTask *
add_task_with (OrreryConstellation *c,
               const char          *id,
               OrreryTaskPriority   priority,
               const char          *target,
               const char          *device_type,
               const char          *data_text)
{
  OrreryTask *t = add_task (c, id, data_text);

  orrery_task_set_priority (t, priority);
  orrery_task_set_target_device_id (t, target);
  orrery_task_set_device_type (t, device_type);
  return t;
}

/* Split by requirement class, the ready set still dispatches in one order:
 * priority first, then id, whatever each task asks of a device. */
static void
test_dispatch_order_across_classes (Fixture       *f,
                                    gconstpointer  data)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("classes", NULL);
  g_autoptr(OrrerySimulatedDevice) dev = orrery_simulated_device_new ("d", NULL, 1);
  const char *expected[] = { "c-target", "h-typed", "h-zany", "m-caps", "m-plain", "z-low" };
  guint k = 0;

  orrery_simulated_device_set_capabilities (dev, (const char *[]) { "gpu", "ssd", NULL });
  g_assert_true (orrery_device_manager_add_device (f->devices, ORRERY_DEVICE (dev), NULL));
  g_object_unref (add_task_with (c, "z-low", ORRERY_TASK_PRIORITY_LOW, NULL, NULL, NULL));
  g_object_unref (add_task_with (c, "m-plain", ORRERY_TASK_PRIORITY_MEDIUM, NULL, NULL, NULL));
  g_object_unref (add_task_with (c, "m-caps", ORRERY_TASK_PRIORITY_MEDIUM, NULL, NULL,
                                 "{'capabilities': <['ssd', 'gpu']>}"));
  g_object_unref (add_task_with (c, "h-zany", ORRERY_TASK_PRIORITY_HIGH, NULL, "simulated", NULL));
  g_object_unref (add_task_with (c, "h-typed", ORRERY_TASK_PRIORITY_HIGH, "d", "simulated", NULL));
  g_object_unref (add_task_with (c, "c-target", ORRERY_TASK_PRIORITY_CRITICAL, "d", NULL, NULL));
  {
    g_autoptr(GPtrArray) ready = orrery_constellation_get_ready_tasks (c);

    g_assert_cmpuint (ready->len, ==, G_N_ELEMENTS (expected));
    for (guint i = 0; i < ready->len; i++)
      g_assert_cmpstr (orrery_task_get_id (ready->pdata[i]), ==, expected[i]);
  }

  run_start (f, c, NULL);
  run_wait (f);
  g_assert_true (f->ok);
  for (guint e = 0; e < f->events->len; e++)
    if (orrery_event_get_event_type (f->events->pdata[e]) == ORRERY_EVENT_TASK_STARTED)
      g_assert_cmpstr (orrery_event_get_task_id (f->events->pdata[e]), ==, expected[k++]);
  g_assert_cmpuint (k, ==, G_N_ELEMENTS (expected));
}

static void
retarget_on_start (OrreryEventBus *bus,
                   OrreryEvent    *event,
                   gpointer        user_data)
{
  OrreryConstellation *c = user_data;

  if (g_str_equal (orrery_event_get_task_id (event), "blocker"))
    orrery_task_set_target_device_id (orrery_constellation_get_task (c, "moved"), "b");
}

/* A ready task whose target changes moves to the class of its new target:
 * it starts on the free device at once, not when its old one frees up. */
static void
test_dispatch_requirements_change (Fixture       *f,
                                   gconstpointer  data)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("moved", NULL);

  add_simulated (f, "a", 1);
  add_simulated (f, "b", 1);
  g_object_unref (add_task_with (c, "blocker", ORRERY_TASK_PRIORITY_MEDIUM, "a", NULL,
                                 "{'duration_ms': <100>}"));
  /* Waits for "a" ahead of "moved": the class of "a" is found blocked on it. */
  g_object_unref (add_task_with (c, "m0-stays", ORRERY_TASK_PRIORITY_MEDIUM, "a", NULL, NULL));
  g_object_unref (add_task_with (c, "moved", ORRERY_TASK_PRIORITY_MEDIUM, "a", NULL, NULL));
  g_signal_connect (f->bus, "event::task-started", G_CALLBACK (retarget_on_start), c);

  run_start (f, c, NULL);
  run_wait (f);
  g_assert_true (f->ok);
  assert_before (f, "task-started:moved", "task-completed:blocker");
  assert_before (f, "task-completed:blocker", "task-started:m0-stays");
  for (guint e = 0; e < f->events->len; e++)
    if (orrery_event_get_event_type (f->events->pdata[e]) == ORRERY_EVENT_TASK_STARTED &&
        g_str_equal (orrery_event_get_task_id (f->events->pdata[e]), "moved"))
      g_assert_cmpstr (orrery_event_get_device_id (f->events->pdata[e]), ==, "b");
}

/* ------------------------------------------------------------------------ */
/* Cancel under load: cancellation comes first (docs/architecture.md, section 4) */

typedef struct
{
  Fixture      *f;
  GCancellable *cancellable;
  guint         completed;
  guint         cancel_at;
  guint         started_after;
  guint         completed_after;
  guint         cancelled_events;
  gboolean      requested;
} LoadCancel;

static void
cancel_at_nth (OrreryEventBus *bus,
               OrreryEvent    *event,
               gpointer        user_data)
{
  LoadCancel *lc = user_data;
  OrreryEventType type = orrery_event_get_event_type (event);

  if (lc->requested)
    {
      if (type == ORRERY_EVENT_TASK_STARTED)
        lc->started_after++;
      else if (type == ORRERY_EVENT_TASK_COMPLETED)
        lc->completed_after++;
      else if (type == ORRERY_EVENT_TASK_CANCELLED)
        lc->cancelled_events++;
      return;
    }
  if (type == ORRERY_EVENT_TASK_COMPLETED && ++lc->completed == lc->cancel_at)
    {
      /* What the host's signal thread does, from inside the busiest part
       * of the run: a completion every main loop iteration. */
      lc->requested = TRUE;
      g_cancellable_cancel (lc->cancellable);
    }
}

/* A cancel requested while zero-duration tasks complete on every iteration
 * used to wait at idle priority, which never came: all 20k tasks completed
 * and the run succeeded. Now nothing is dispatched after the request, and
 * what was running is cancelled. */
static void
test_cancel_under_load (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("load", NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  LoadCancel lc = { f, cancellable, 0, 200, 0, 0, 0, FALSE };
  const guint n = 20000;

  add_simulated (f, "sim", 8);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *id = g_strdup_printf ("t%05u", i);
      g_object_unref (add_task (c, id, NULL));
    }
  g_signal_connect (f->bus, "event", G_CALLBACK (cancel_at_nth), &lc);

  run_start (f, c, cancellable);
  run_wait (f);
  g_assert_error (f->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (lc.started_after, ==, 0);
  /* At most what the device had already finished in that iteration. */
  g_assert_cmpuint (lc.completed_after, <=, 8);
  g_assert_cmpuint (orrery_constellation_count_status (c, ORRERY_TASK_STATUS_COMPLETED), <=, 200 + 8);
  g_assert_cmpuint (orrery_constellation_count_status (c, ORRERY_TASK_STATUS_CANCELLED), >=, n - 200 - 8);
  g_assert_cmpstr (f->log->pdata[f->log->len - 1], ==, "constellation-cancelled");
  /* One event for the lot (a task-cancelled each made the cancel of 100k
   * tasks take seconds): only the tasks that were running have their own. */
  g_assert_cmpuint (lc.cancelled_events, <=, 8);
  assert_one_terminal_each (f, c);
  {
    OrreryTask *last = orrery_constellation_get_task (c, "t19999");

    g_assert_cmpint (orrery_task_get_status (last), ==, ORRERY_TASK_STATUS_CANCELLED);
    g_assert_error (orrery_task_get_error (last), G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_assert_cmpstr (orrery_task_get_error (last)->message, ==, "Cancelled: cancelled by the caller");
  }
}

/* ------------------------------------------------------------------------ */
/* A blocking handler (the bus's budgets, docs/architecture.md, section 2) */

typedef struct
{
  guint     sleep_ms;
  gboolean  slept;
  GPtrArray *failures;
} Blocker;

/* Sleeps once, on the start of "a": the device starts "a" only after it,
 * and "b" (already running) finishes while the main loop is held. */
static gboolean
block_on_a (OrreryEvent  *event,
            gpointer      user_data,
            GError      **error)
{
  Blocker *bl = user_data;

  if (!bl->slept && ORRERY_EVENT_IS_TASK (event) &&
      orrery_event_get_event_type (event) == ORRERY_EVENT_TASK_STARTED &&
      g_str_equal (orrery_event_get_task_id (event), "a"))
    {
      bl->slept = TRUE;
      g_usleep (bl->sleep_ms * 1000);
    }
  return TRUE;
}

static void
record_failure (OrreryEventBus *bus,
                OrreryObserver *observer,
                OrreryEvent    *event,
                GError         *error,
                gpointer        user_data)
{
  Blocker *bl = user_data;

  g_ptr_array_add (bl->failures, g_strdup_printf ("%s|%s|%s|%d", orrery_observer_get_name (observer),
                                                  orrery_event_get_type_nick (event),
                                                  g_quark_to_string (error->domain), error->code));
}

/* A synchronous handler that holds the main loop used to inflate the
 * recorded duration of every task running meanwhile (and of the task whose
 * start it delayed) by as long as it slept. The durations are the device's
 * own: exactly the simulated durations. The handler is reported as over
 * its budget. */
static void
test_blocking_handler (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("blocked", NULL);
  g_autoptr(OrreryObserver) obs = NULL;
  Blocker bl = { 400, FALSE, g_ptr_array_new_with_free_func (g_free) };
  OrreryTask *a, *b;

  add_simulated (f, "sim", 2);
  /* "b" starts first (higher priority) and runs 20 ms; "a" 10 ms. */
  g_object_unref (add_task_with (c, "b", ORRERY_TASK_PRIORITY_HIGH, NULL, NULL, "{'duration_ms': <20>}"));
  g_object_unref (add_task_with (c, "a", ORRERY_TASK_PRIORITY_MEDIUM, NULL, NULL, "{'duration_ms': <10>}"));
  orrery_event_bus_set_handler_budget_ms (f->bus, 100);
  obs = orrery_func_observer_new ("blocker", block_on_a, &bl, NULL);
  orrery_event_bus_subscribe (f->bus, obs, NULL, 0);
  g_signal_connect (f->bus, "observer-failed", G_CALLBACK (record_failure), &bl);

  g_test_expect_message ("Orrery-Bus", G_LOG_LEVEL_WARNING, "*Observer “blocker” failed*task-started*over its budget*");
  run_start (f, c, NULL);
  run_wait (f);
  g_test_assert_expected_messages ();
  g_assert_true (f->ok);
  g_assert_true (bl.slept);

  a = orrery_constellation_get_task (c, "a");
  b = orrery_constellation_get_task (c, "b");
  g_assert_cmpint (orrery_task_get_ended_at (a) - orrery_task_get_started_at (a), ==, 10000);
  g_assert_cmpint (orrery_task_get_ended_at (b) - orrery_task_get_started_at (b), ==, 20000);

  g_assert_cmpuint (bl.failures->len, ==, 1);
  {
    g_autofree char *expected = g_strdup_printf ("blocker|task-started|%s|%d",
                                                 g_quark_to_string (ORRERY_BUS_ERROR),
                                                 ORRERY_BUS_ERROR_SLOW);
    g_assert_cmpstr (bl.failures->pdata[0], ==, expected);
  }
  g_ptr_array_unref (bl.failures);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) g_test_add ("/orchestrator/" path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("chain-order", test_chain_order);
  ADD ("fan-out-fan-in", test_fan_out_fan_in);
  ADD ("concurrency-limits", test_concurrency_limits);
  ADD ("targets-and-round-robin", test_targets_and_round_robin);
  ADD ("retries", test_retries);
  ADD ("skip-propagation", test_skip_propagation);
  ADD ("no-device", test_no_device);
  ADD ("local-success-failure-timeout", test_local_success_failure_timeout);
  ADD ("local-cancel", test_local_cancel);
  ADD ("retry-backoff", test_retry_backoff);
  ADD ("hold-blocks-dispatch", test_hold_blocks_dispatch);
  ADD ("edit-after-last-task", test_edit_after_last_task);
  ADD ("edit-ready-task-while-held", test_edit_ready_task_while_held);
  ADD ("hold-deadline", test_hold_deadline);
  ADD ("invalid-and-busy", test_invalid_and_busy);
  ADD ("cancel-from-observer", test_cancel_from_observer);
  ADD ("device-added-during-run", test_device_added_during_run);
  ADD ("next-run-from-last-event", test_next_run_from_last_event);
  ADD ("dispatch-cost-follows-work", test_dispatch_cost_follows_work);
  ADD ("dispatch-order-across-classes", test_dispatch_order_across_classes);
  ADD ("dispatch-requirements-change", test_dispatch_requirements_change);
  ADD ("cancel-under-load", test_cancel_under_load);
  ADD ("blocking-handler", test_blocking_handler);
#undef ADD

  return g_test_run ();
}
