/* test-plugin-synchronizer.c: the synchronizer plugin, loaded through the
 * engine from the build tree, with an agent written in C that answers
 * completions by editing the constellation a little later. The run
 * dispatches only from the edited graph, including after its last task;
 * a missing edit is released at the deadline and reported, a late one is
 * reported; one edit answers several completions; no agent, no hold.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <orrery.h>

#include "plugin-harness.h"

typedef struct _Agent Agent;

typedef struct
{
  PluginHarness  h;
  GPtrArray     *log;        /* "task-started:a", "constellation-modified", ... */
  GPtrArray     *events;
  guint          max_holds;  /* sampled at every event */
  guint          n_expired;
} Fixture;

static void
on_event (OrreryEventBus *bus,
          OrreryEvent    *event,
          Fixture        *f)
{
  g_ptr_array_add (f->events, orrery_event_ref (event));
  if (ORRERY_EVENT_IS_TASK (event))
    g_ptr_array_add (f->log, g_strdup_printf ("%s:%s", orrery_event_get_type_nick (event),
                                              orrery_event_get_task_id (event)));
  else
    g_ptr_array_add (f->log, g_strdup (orrery_event_get_type_nick (event)));
  f->max_holds = MAX (f->max_holds, orrery_orchestrator_get_n_holds (f->h.orch));
}

static void
on_hold_expired (OrreryOrchestrator *orch,
                 OrreryHold         *hold,
                 Fixture            *f)
{
  g_assert_true (orrery_hold_has_expired (hold));
  f->n_expired++;
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  plugin_harness_init (&f->h, "synchronizer", 4);
  f->log = g_ptr_array_new_with_free_func (g_free);
  f->events = g_ptr_array_new_with_free_func ((GDestroyNotify) orrery_event_unref);
  g_signal_connect (f->h.bus, "event", G_CALLBACK (on_event), f);
  g_signal_connect (f->h.orch, "hold-expired", G_CALLBACK (on_hold_expired), f);
}

/* Loads the built synchronizer with these keys (NULL value: unset). */
static void
load_plugin (Fixture    *f,
             const char *agent,
             const char *deadline_ms)
{
  if (agent != NULL)
    plugin_harness_set (&f->h, "Agent", agent);
  if (deadline_ms != NULL)
    plugin_harness_set (&f->h, "EditDeadlineMs", deadline_ms);
  plugin_harness_load (&f->h);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_assert_false (orrery_orchestrator_is_running (f->h.orch));
  plugin_harness_shutdown (&f->h);
  g_assert_cmpuint (orrery_orchestrator_get_n_holds (f->h.orch), ==, 0);
  plugin_harness_clear (&f->h);
  g_ptr_array_unref (f->log);
  g_ptr_array_unref (f->events);
}

static OrreryTask *
sim_task (const char *id,
          guint       duration_ms)
{
  OrreryTask *task = orrery_task_new (id, id);

  orrery_task_set_task_data (task, g_variant_new_parsed ("{'duration_ms': <%u>}", duration_ms));
  return task;
}

static void
add_task (OrreryConstellation *c,
          const char          *id,
          guint                duration_ms)
{
  g_autoptr(OrreryTask) task = sim_task (id, duration_ms);
  g_autoptr(GError) error = NULL;

  orrery_constellation_add_task (c, task, &error);
  g_assert_no_error (error);
}

static void
add_dep (OrreryConstellation *c,
         const char          *from,
         const char          *to)
{
  g_autoptr(GError) error = NULL;

  orrery_constellation_add_dependency (c, from, to, ORRERY_DEPENDENCY_SUCCESS_ONLY, NULL, &error);
  g_assert_no_error (error);
}

static void
run (Fixture             *f,
     OrreryConstellation *c)
{
  plugin_harness_run (&f->h, c);
  g_assert_no_error (f->h.error);
  g_assert_true (f->h.ok);
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

/* No task starts between a completion and the edit that answers it: the
 * `constellation-modified` event whose on_task_ids names it. */
static void
assert_nothing_started_until_answered (Fixture *f)
{
  for (guint i = 0; i < f->events->len; i++)
    {
      OrreryEvent *ev = f->events->pdata[i];
      OrreryEventType t = orrery_event_get_event_type (ev);
      const char *id;

      if (t != ORRERY_EVENT_TASK_COMPLETED && t != ORRERY_EVENT_TASK_FAILED)
        continue;
      id = orrery_event_get_task_id (ev);
      for (guint j = i + 1; j < f->events->len; j++)
        {
          OrreryEvent *later = f->events->pdata[j];
          const char * const *on;

          if (orrery_event_get_event_type (later) == ORRERY_EVENT_CONSTELLATION_MODIFIED)
            {
              on = orrery_event_get_on_task_ids (later);
              if (on != NULL && g_strv_contains (on, id))
                break;
            }
          if (orrery_event_get_event_type (later) == ORRERY_EVENT_TASK_STARTED)
            g_error ("“%s” started before the edit answering “%s”",
                     (char *) f->log->pdata[j], id);
          if (orrery_event_get_event_type (later) == ORRERY_EVENT_CONSTELLATION_COMPLETED)
            g_error ("the run completed before the edit answering “%s”", id);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* The agent: reacts to each completion by editing the graph a little later,
 * naming the completions it answers. */

struct _Agent
{
  Fixture             *f;
  OrreryConstellation *c;
  /* Called for each completion: fills the batch (empty: nothing to change)
   * and says how long the agent thinks; FALSE: no answer (yet). */
  gboolean           (*respond) (Agent           *agent,
                                 const char      *task_id,
                                 OrreryEditBatch *batch,
                                 guint           *delay_ms);
  GPtrArray           *group;      /* completions answered together */
  guint                n_answers;
  guint                holds_seen; /* holds standing when it answered */
};

typedef struct
{
  Agent           *agent;
  OrreryEditBatch *batch;
} Answer;

static gboolean
answer_cb (gpointer data)
{
  Answer *answer = data;
  Agent *agent = answer->agent;
  g_autoptr(GVariant) mods = NULL;
  g_autoptr(GError) error = NULL;

  agent->holds_seen = MAX (agent->holds_seen, orrery_orchestrator_get_n_holds (agent->f->h.orch));
  mods = orrery_constellation_apply_edits (agent->c, answer->batch, &error);
  g_assert_no_error (error);
  g_assert_nonnull (mods);
  agent->n_answers++;
  g_object_unref (answer->batch);
  g_free (answer);
  return G_SOURCE_REMOVE;
}

static void
agent_answer (Agent           *agent,
              OrreryEditBatch *batch,
              const char      *task_id,
              guint            delay_ms)
{
  Answer *answer = g_new0 (Answer, 1);
  const char *on[] = { task_id, NULL };

  if (orrery_edit_batch_get_on_task_ids (batch) == NULL)
    orrery_edit_batch_set_on_task_ids (batch, on);
  answer->agent = agent;
  answer->batch = g_object_ref (batch);
  g_timeout_add (delay_ms, answer_cb, answer);
}

static void
agent_on_completed (OrreryEventBus *bus,
                    OrreryEvent    *event,
                    Agent          *agent)
{
  const char *id = orrery_event_get_task_id (event);
  g_autoptr(OrreryEditBatch) batch = orrery_edit_batch_new ();
  guint delay = 10;

  if (agent->respond != NULL && !agent->respond (agent, id, batch, &delay))
    return;
  agent_answer (agent, batch, id, delay);
}

static void
agent_start (Agent               *agent,
             Fixture             *f,
             OrreryConstellation *c)
{
  agent->f = f;
  agent->c = c;
  g_signal_connect (f->h.bus, "event::task-completed", G_CALLBACK (agent_on_completed), agent);
  g_signal_connect (f->h.bus, "event::task-failed", G_CALLBACK (agent_on_completed), agent);
}

/* ------------------------------------------------------------------------ */

static gboolean
respond_insert_gate (Agent           *agent,
                     const char      *task_id,
                     OrreryEditBatch *batch,
                     guint           *delay_ms)
{
  if (g_str_equal (task_id, "a"))
    {
      g_autoptr(OrreryTask) gate = sim_task ("gate", 20);

      /* b became ready when a completed; the agent makes it wait for a
       * new prerequisite, and thinks for a while first. */
      orrery_edit_batch_add_task (batch, gate);
      orrery_edit_batch_add_dependency (batch, "gate", "b", ORRERY_DEPENDENCY_SUCCESS_ONLY, NULL);
      *delay_ms = 60;
    }
  return TRUE;
}

static void
test_insert_prerequisite (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("gate", NULL);
  Agent agent = { .respond = respond_insert_gate };
  OrreryEvent *completed_a;
  gint ia;

  load_plugin (f, "planner", "5000");
  add_task (c, "a", 10);
  add_task (c, "b", 10);
  add_dep (c, "a", "b");
  agent_start (&agent, f, c);

  run (f, c);
  /* b was among the tasks a made ready ... */
  ia = log_index (f, "task-completed:a");
  g_assert_cmpint (ia, >=, 0);
  completed_a = f->events->pdata[ia];
  g_assert_true (g_strv_contains (orrery_event_get_newly_ready (completed_a), "b"));
  /* ... but it ran from the edited graph: after gate. */
  assert_before (f, "task-completed:a", "constellation-modified");
  assert_before (f, "constellation-modified", "task-started:gate");
  assert_before (f, "task-completed:gate", "task-started:b");
  assert_nothing_started_until_answered (f);
  g_assert_cmpuint (agent.holds_seen, ==, 1);
  g_assert_cmpuint (f->max_holds, >=, 1);
  g_assert_cmpuint (f->n_expired, ==, 0);
  g_assert_cmpuint (agent.n_answers, ==, 3);   /* a, gate, b */
  g_assert_cmpuint (orrery_constellation_get_n_tasks (c), ==, 3);
}

static gboolean
respond_extend (Agent           *agent,
                const char      *task_id,
                OrreryEditBatch *batch,
                guint           *delay_ms)
{
  if (g_str_equal (task_id, "last"))
    {
      g_autoptr(OrreryTask) n1 = sim_task ("n1", 10);
      g_autoptr(OrreryTask) n2 = sim_task ("n2", 10);

      orrery_edit_batch_add_task (batch, n1);
      orrery_edit_batch_add_task (batch, n2);
      orrery_edit_batch_add_dependency (batch, "last", "n1", ORRERY_DEPENDENCY_SUCCESS_ONLY, NULL);
      orrery_edit_batch_add_dependency (batch, "n1", "n2", ORRERY_DEPENDENCY_SUCCESS_ONLY, NULL);
      *delay_ms = 60;
    }
  return TRUE;
}

static void
test_extend_after_last (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("extend", NULL);
  Agent agent = { .respond = respond_extend };

  load_plugin (f, "true", "5000");
  add_task (c, "last", 10);
  agent_start (&agent, f, c);

  run (f, c);
  /* The run did not end after its last task: the agent extended it. */
  assert_before (f, "task-completed:last", "constellation-modified");
  assert_before (f, "constellation-modified", "task-started:n1");
  assert_before (f, "task-completed:n1", "task-started:n2");
  g_assert_cmpstr (f->log->pdata[f->log->len - 1], ==, "constellation-completed");
  g_assert_cmpint (log_index (f, "constellation-completed"), ==, (gint) f->log->len - 1);
  assert_nothing_started_until_answered (f);
  g_assert_cmpuint (orrery_constellation_get_n_tasks (c), ==, 3);
  g_assert_cmpuint (agent.n_answers, ==, 3);
  g_assert_cmpuint (f->n_expired, ==, 0);
}

/* The agent never answers a in time: its hold expires at the deadline,
 * b runs, and the answer that comes later is reported as late. */
static gboolean
respond_late (Agent           *agent,
              const char      *task_id,
              OrreryEditBatch *batch,
              guint           *delay_ms)
{
  if (g_str_equal (task_id, "a"))
    *delay_ms = 250;    /* past the 100 ms deadline, while b still runs */
  return TRUE;
}

static void
test_missing_edit_deadline (Fixture       *f,
                            gconstpointer  data)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("deadline", NULL);
  Agent agent = { .respond = respond_late };
  const char *keys = data;
  gint64 completed_us = 0, started_us = 0;
  gint ia, ib;

  if (g_strcmp0 (keys, "old") == 0)
    {
      /* The key's old name, the engine's delivery deadline too: read, with
       * a warning naming the new one. */
      plugin_harness_set (&f->h, "DeadlineMs", "100");
      g_test_expect_message ("Orrery-Synchronizer", G_LOG_LEVEL_WARNING,
                             "*[Plugin synchronizer] DeadlineMs is deprecated as the "
                             "synchronizer's edit deadline*use EditDeadlineMs");
      load_plugin (f, "slowpoke", NULL);
      g_test_assert_expected_messages ();
    }
  else if (g_strcmp0 (keys, "both") == 0)
    {
      /* The new name wins, without a warning; the old one is left to the
       * engine. */
      plugin_harness_set (&f->h, "DeadlineMs", "60000");
      load_plugin (f, "slowpoke", "100");
    }
  else
    load_plugin (f, "slowpoke", "100");
  add_task (c, "a", 10);
  add_task (c, "b", 400);
  add_dep (c, "a", "b");
  agent_start (&agent, f, c);

  g_test_expect_message ("Orrery-Orchestrator", G_LOG_LEVEL_WARNING,
                         "*Hold #1 (synchronizer: waiting for agent “slowpoke” to answer task “a”*expired*");
  g_test_expect_message ("Orrery-Synchronizer", G_LOG_LEVEL_WARNING,
                         "Missing edit: agent “slowpoke” did not answer task “a” within 100 ms*");
  g_test_expect_message ("Orrery-Synchronizer", G_LOG_LEVEL_WARNING,
                         "Late edit: agent “slowpoke” answered task “a”*after its deadline*");
  run (f, c);
  g_test_assert_expected_messages ();

  g_assert_cmpuint (f->n_expired, ==, 1);
  ia = log_index (f, "task-completed:a");
  ib = log_index (f, "task-started:b");
  g_assert_cmpint (ia, >=, 0);
  g_assert_cmpint (ib, >, ia);
  completed_us = orrery_event_get_timestamp (f->events->pdata[ia]);
  started_us = orrery_event_get_timestamp (f->events->pdata[ib]);
  /* b waited for the deadline, not for ever. */
  g_assert_cmpint (started_us - completed_us, >=, 90 * 1000);
  /* The late answer came while b ran, after it had started. */
  assert_before (f, "task-started:b", "constellation-modified");
  assert_before (f, "constellation-modified", "task-completed:b");
}

/* a, b and c complete; the agent answers all three with one edit that
 * adds a task after d. Until then three holds stand and d does not start;
 * the one edit releases them together. */
static gboolean
respond_grouped (Agent           *agent,
                 const char      *task_id,
                 OrreryEditBatch *batch,
                 guint           *delay_ms)
{
  if (g_str_equal (task_id, "a") || g_str_equal (task_id, "b") || g_str_equal (task_id, "c"))
    {
      g_autoptr(OrreryTask) e = NULL;

      g_ptr_array_add (agent->group, g_strdup (task_id));
      if (agent->group->len < 3)
        return FALSE;
      e = sim_task ("e", 10);
      orrery_edit_batch_add_task (batch, e);
      orrery_edit_batch_add_dependency (batch, "d", "e", ORRERY_DEPENDENCY_SUCCESS_ONLY, NULL);
      g_ptr_array_add (agent->group, NULL);
      orrery_edit_batch_set_on_task_ids (batch, (const char * const *) agent->group->pdata);
      g_ptr_array_remove_index (agent->group, agent->group->len - 1);
      *delay_ms = 40;
    }
  return TRUE;
}

static void
test_one_edit_answers_several (Fixture       *f,
                               gconstpointer  data)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("group", NULL);
  g_autoptr(GPtrArray) group = g_ptr_array_new_with_free_func (g_free);
  Agent agent = { .respond = respond_grouped, .group = group };
  guint n_modified = 0;

  load_plugin (f, "planner", "5000");
  add_task (c, "a", 10);
  add_task (c, "b", 20);
  add_task (c, "c", 30);
  add_task (c, "d", 10);
  add_dep (c, "a", "d");
  add_dep (c, "b", "d");
  add_dep (c, "c", "d");
  agent_start (&agent, f, c);

  run (f, c);
  g_assert_cmpuint (agent.holds_seen, ==, 3);
  g_assert_cmpuint (f->max_holds, >=, 3);
  g_assert_cmpuint (f->n_expired, ==, 0);
  for (guint i = 0; i < f->events->len; i++)
    if (orrery_event_get_event_type (f->events->pdata[i]) == ORRERY_EVENT_CONSTELLATION_MODIFIED)
      {
        const char * const *on =
          orrery_event_get_on_task_ids (f->events->pdata[i]);

        if (n_modified++ == 0)
          {
            g_assert_cmpuint (g_strv_length ((char **) on), ==, 3);
            /* d became ready with c, but waited for the edit. */
            g_assert_cmpint (log_index (f, "task-started:d"), >, (gint) i);
          }
      }
  g_assert_cmpuint (n_modified, ==, 3);   /* {a,b,c}, d, e */
  assert_before (f, "task-completed:c", "constellation-modified");
  assert_before (f, "task-completed:d", "task-started:e");
  assert_nothing_started_until_answered (f);
}

/* No agent configured: the synchronizer holds nothing and subscribes to
 * nothing; the run goes on without waiting for edits. */
static void
test_no_agent (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("free", NULL);

  load_plugin (f, (const char *) data, NULL);
  g_assert_cmpuint (orrery_event_bus_get_n_subscriptions (f->h.bus), ==, 0);
  add_task (c, "a", 10);
  add_task (c, "b", 10);
  add_dep (c, "a", "b");

  run (f, c);
  g_assert_cmpuint (f->max_holds, ==, 0);
  g_assert_cmpint (log_index (f, "constellation-modified"), ==, -1);
  assert_before (f, "task-completed:a", "task-started:b");
}

/* No orchestrator (as in `orrery plugins`): loads, does nothing. */
static void
test_no_orchestrator (Fixture       *f,
                      gconstpointer  data)
{
  OrreryPluginInfo *info;

  plugin_harness_set (&f->h, "Agent", "planner");
  info = plugin_harness_load_info (&f->h, FALSE);
  g_assert_nonnull (info);
  g_assert_cmpint (orrery_plugin_info_get_state (info), ==, ORRERY_PLUGIN_STATE_ENABLED);
  g_assert_cmpuint (orrery_event_bus_get_n_subscriptions (f->h.bus), ==, 0);
}

/* Queued delivery would break the guarantee: refused. */
static void
test_queued_refused (Fixture       *f,
                     gconstpointer  data)
{
  OrreryPluginInfo *info;

  plugin_harness_set (&f->h, "Agent", "planner");
  plugin_harness_set (&f->h, "Delivery", "queued");
  info = plugin_harness_load_info (&f->h, TRUE);
  g_assert_nonnull (info);
  g_assert_cmpint (orrery_plugin_info_get_state (info), ==, ORRERY_PLUGIN_STATE_FAILED);
  g_assert_nonnull (strstr (orrery_plugin_info_get_error (info)->message, "synchronously"));
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func, data) \
  g_test_add ("/plugin-synchronizer/" path, Fixture, data, fixture_set_up, func, fixture_tear_down)
  ADD ("insert-prerequisite", test_insert_prerequisite, NULL);
  ADD ("extend-after-last-task", test_extend_after_last, NULL);
  ADD ("missing-edit-deadline", test_missing_edit_deadline, NULL);
  ADD ("missing-edit-deadline-old-key", test_missing_edit_deadline, "old");
  ADD ("missing-edit-deadline-both-keys", test_missing_edit_deadline, "both");
  ADD ("one-edit-answers-several", test_one_edit_answers_several, NULL);
  ADD ("no-agent", test_no_agent, NULL);
  ADD ("agent-false", test_no_agent, "false");
  ADD ("no-orchestrator", test_no_orchestrator, NULL);
  ADD ("queued-refused", test_queued_refused, NULL);
#undef ADD

  return g_test_run ();
}
