/* test-event-bus.c: the contract of OrreryEventBus (docs/architecture.md, section 2).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <orrery.h>

#include "test-observer-fixture.h"

static OrreryEvent *
task_event (OrreryEventType  type,
            const char      *task_id)
{
  return orrery_event_new_task (type, "test", task_id, ORRERY_TASK_STATUS_COMPLETED);
}

static void
publish_task (OrreryEventBus  *bus,
              OrreryEventType  type,
              const char      *task_id)
{
  g_autoptr(OrreryEvent) ev = task_event (type, task_id);

  orrery_event_bus_publish (bus, ev);
}

static void
record_cb (OrreryEventBus *bus,
           OrreryEvent    *event,
           gpointer        user_data)
{
  g_ptr_array_add (user_data, orrery_event_ref (event));
}

static void
spin_until (gboolean *flag)
{
  while (!*flag)
    g_main_context_iteration (NULL, TRUE);
}

static void
spin_for (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;

  while (g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, FALSE);
}

/* The detailed signal: "event::nick" gets one type, "event" all. */
static void
test_signal_detail (void)
{
  g_autoptr(OrreryEventBus) bus = orrery_event_bus_new ();
  g_autoptr(GPtrArray) completed = g_ptr_array_new_with_free_func ((GDestroyNotify) orrery_event_unref);
  g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func ((GDestroyNotify) orrery_event_unref);

  g_signal_connect (bus, "event::task-completed", G_CALLBACK (record_cb), completed);
  g_signal_connect (bus, "event", G_CALLBACK (record_cb), all);

  publish_task (bus, ORRERY_EVENT_TASK_STARTED, "a");
  publish_task (bus, ORRERY_EVENT_TASK_COMPLETED, "a");
  publish_task (bus, ORRERY_EVENT_TASK_FAILED, "b");

  g_assert_cmpuint (completed->len, ==, 1);
  g_assert_cmpstr (orrery_event_get_task_id (completed->pdata[0]), ==, "a");
  g_assert_cmpint (orrery_event_get_event_type (completed->pdata[0]), ==,
                   ORRERY_EVENT_TASK_COMPLETED);
  g_assert_cmpuint (all->len, ==, 3);
  for (guint i = 0; i < all->len; i++)
    g_assert_cmpuint (orrery_event_get_sequence (all->pdata[i]), ==, i + 1);
  g_assert_cmpuint (orrery_event_bus_get_published_count (bus), ==, 3);
}

/* Exactly once per subscription, whatever mix of types it asked for. */
static void
test_subscribe_exactly_once (void)
{
  g_autoptr(OrreryEventBus) bus = orrery_event_bus_new ();
  g_autoptr(TestObserver) dup = test_observer_new ("dup");
  g_autoptr(TestObserver) wild = test_observer_new ("wild");
  g_autoptr(TestObserver) one = test_observer_new ("one");
  const OrreryEventType dup_types[] = {
    ORRERY_EVENT_TASK_COMPLETED, ORRERY_EVENT_TASK_FAILED, ORRERY_EVENT_TASK_COMPLETED,
  };
  const OrreryEventType one_type[] = { ORRERY_EVENT_TASK_FAILED };

  orrery_event_bus_subscribe (bus, ORRERY_OBSERVER (dup), dup_types, G_N_ELEMENTS (dup_types));
  orrery_event_bus_subscribe (bus, ORRERY_OBSERVER (wild), NULL, 0);
  orrery_event_bus_subscribe (bus, ORRERY_OBSERVER (one), one_type, 1);
  g_assert_cmpuint (orrery_event_bus_get_n_subscriptions (bus), ==, 3);

  for (guint t = 0; t < ORRERY_EVENT_TYPE_COUNT; t++)
    {
      g_autoptr(OrreryEvent) ev = orrery_event_new (t, "test", NULL);
      orrery_event_bus_publish (bus, ev);
    }

  {
    gsize n = 0;
    g_autofree guint *ids = orrery_event_bus_list_subscriptions (bus, &n);

    g_assert_cmpuint (n, ==, 3);
    g_assert_cmpuint (ids[0], <, ids[1]);
    g_assert_cmpuint (ids[1], <, ids[2]);
  }
  g_assert_cmpuint (dup->events->len, ==, 2);
  g_assert_cmpint (orrery_event_get_event_type (dup->events->pdata[0]), ==, ORRERY_EVENT_TASK_COMPLETED);
  g_assert_cmpint (orrery_event_get_event_type (dup->events->pdata[1]), ==, ORRERY_EVENT_TASK_FAILED);
  g_assert_cmpuint (wild->events->len, ==, ORRERY_EVENT_TYPE_COUNT);
  for (guint t = 0; t < ORRERY_EVENT_TYPE_COUNT; t++)
    g_assert_cmpint (orrery_event_get_event_type (wild->events->pdata[t]), ==, t);
  g_assert_cmpuint (one->events->len, ==, 1);
  g_assert_cmpint (orrery_event_get_event_type (one->events->pdata[0]), ==, ORRERY_EVENT_TASK_FAILED);
}

/* A sync observer has the event before publish() returns; the event is
 * sealed and numbered. */
static void
test_sync_delivery_and_seal (void)
{
  g_autoptr(OrreryEventBus) bus = orrery_event_bus_new ();
  g_autoptr(TestObserver) obs = test_observer_new ("obs");
  g_autoptr(OrreryEvent) ev = task_event (ORRERY_EVENT_TASK_COMPLETED, "t");

  orrery_event_bus_subscribe (bus, ORRERY_OBSERVER (obs), NULL, 0);
  g_assert_false (orrery_event_is_published (ev));
  g_assert_cmpuint (orrery_event_get_sequence (ev), ==, 0);
  orrery_event_bus_publish (bus, ev);
  g_assert_cmpuint (obs->events->len, ==, 1);
  g_assert_true (obs->events->pdata[0] == (gpointer) ev);
  g_assert_true (orrery_event_is_published (ev));
  g_assert_cmpuint (orrery_event_get_sequence (ev), ==, 1);

  /* Published events cannot change. */
  g_test_expect_message ("Orrery", G_LOG_LEVEL_CRITICAL, "*orrery_event_set_attempt*sealed*");
  orrery_event_set_attempt (ev, 7);
  g_test_assert_expected_messages ();
  g_assert_cmpuint (orrery_event_get_attempt (ev), ==, 0);

  /* Nor be published twice. */
  g_test_expect_message ("Orrery-Bus", G_LOG_LEVEL_CRITICAL, "*orrery_event_bus_publish*sealed*");
  orrery_event_bus_publish (bus, ev);
  g_test_assert_expected_messages ();
  g_assert_cmpuint (obs->events->len, ==, 1);
}

/* Events published from a handler are queued: every observer sees one
 * total order, and sequence numbers follow it. */
typedef struct
{
  OrreryEventBus *bus;
  guint           depth;
} Republish;

static void
republish_hook (TestObserver *self,
                OrreryEvent  *event,
                gpointer      data)
{
  Republish *r = data;

  if (orrery_event_get_event_type (event) == ORRERY_EVENT_TASK_COMPLETED)
    {
      const char *id = orrery_event_get_task_id (event);

      /* Two events from inside the emission: neither may overtake the
       * current one for the observers after us. */
      if (strlen (id) < 3)
        {
          g_autofree char *child = g_strconcat (id, "x", NULL);
          publish_task (r->bus, ORRERY_EVENT_TASK_COMPLETED, child);
        }
      publish_task (r->bus, ORRERY_EVENT_TASK_STARTED, id);
    }
}

static void
test_reentrant_total_order (void)
{
  g_autoptr(OrreryEventBus) bus = orrery_event_bus_new ();
  g_autoptr(TestObserver) first = test_observer_new ("first");
  g_autoptr(TestObserver) second = test_observer_new ("second");
  Republish r = { bus, 0 };

  first->hook = republish_hook;
  first->hook_data = &r;
  orrery_event_bus_subscribe (bus, ORRERY_OBSERVER (first), NULL, 0);
  orrery_event_bus_subscribe (bus, ORRERY_OBSERVER (second), NULL, 0);

  publish_task (bus, ORRERY_EVENT_TASK_COMPLETED, "a");

  /* a -> publishes ax, then started(a); ax -> axx, started(ax); axx -> started(axx) */
  g_assert_cmpuint (first->events->len, ==, 6);
  g_assert_cmpuint (second->events->len, ==, 6);
  for (guint i = 0; i < first->events->len; i++)
    {
      g_assert_true (first->events->pdata[i] == second->events->pdata[i]);
      g_assert_cmpuint (orrery_event_get_sequence (first->events->pdata[i]), ==, i + 1);
    }
  g_assert_cmpstr (orrery_event_get_task_id (first->events->pdata[1]), ==, "ax");
  g_assert_cmpint (orrery_event_get_event_type (first->events->pdata[2]), ==, ORRERY_EVENT_TASK_STARTED);
  g_assert_cmpstr (orrery_event_get_task_id (first->events->pdata[2]), ==, "a");
}

/* A failing observer is reported; the others and the publisher go on. */
static void
on_observer_failed (OrreryEventBus *bus,
                    OrreryObserver *observer,
                    OrreryEvent    *event,
                    GError         *error,
                    gpointer        user_data)
{
  GPtrArray *failures = user_data;

  g_ptr_array_add (failures, g_strdup_printf ("%s|%s|%s", orrery_observer_get_name (observer),
                                              orrery_event_get_type_nick (event), error->message));
}

static void
test_failing_observer_isolated (void)
{
  g_autoptr(OrreryEventBus) bus = orrery_event_bus_new ();
  g_autoptr(TestObserver) before = test_observer_new ("before");
  g_autoptr(TestObserver) bad = test_observer_new ("bad");
  g_autoptr(TestObserver) after = test_observer_new ("after");
  g_autoptr(GPtrArray) failures = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GVariant) stats = NULL;
  guint bad_id;
  guint64 failed = 0, delivered = 0;

  bad->fail = TRUE;
  orrery_event_bus_subscribe (bus, ORRERY_OBSERVER (before), NULL, 0);
  bad_id = orrery_event_bus_subscribe (bus, ORRERY_OBSERVER (bad), NULL, 0);
  orrery_event_bus_subscribe (bus, ORRERY_OBSERVER (after), NULL, 0);
  g_signal_connect (bus, "observer-failed", G_CALLBACK (on_observer_failed), failures);

  g_test_expect_message ("Orrery-Bus", G_LOG_LEVEL_WARNING, "*Observer “bad” failed on event #1 task-failed task=t*bad refuses event 1*");
  g_test_expect_message ("Orrery-Bus", G_LOG_LEVEL_WARNING, "*Observer “bad” failed on event #2*");
  publish_task (bus, ORRERY_EVENT_TASK_FAILED, "t");
  publish_task (bus, ORRERY_EVENT_TASK_COMPLETED, "t");
  g_test_assert_expected_messages ();

  g_assert_cmpuint (before->events->len, ==, 2);
  g_assert_cmpuint (bad->events->len, ==, 2);
  g_assert_cmpuint (after->events->len, ==, 2);
  g_assert_cmpuint (failures->len, ==, 2);
  g_assert_cmpstr (failures->pdata[0], ==, "bad|task-failed|bad refuses event 1");

  stats = orrery_event_bus_get_observer_stats (bus, bad_id);
  g_assert_true (g_variant_lookup (stats, "failed", "t", &failed));
  g_assert_true (g_variant_lookup (stats, "delivered", "t", &delivered));
  g_assert_cmpuint (failed, ==, 2);
  g_assert_cmpuint (delivered, ==, 0);
  g_assert_null (orrery_event_bus_get_observer_stats (bus, 9999));
}

/* publish_async completes when every observer, async ones included, has
 * finished; sync publish does not wait for async observers. */
static void
publish_done_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  gboolean *done = user_data;
  g_autoptr(GError) error = NULL;

  g_assert_true (orrery_event_bus_publish_finish (ORRERY_EVENT_BUS (source), result, &error));
  g_assert_no_error (error);
  *done = TRUE;
}

static void
test_publish_async_waits (void)
{
  g_autoptr(OrreryEventBus) bus = orrery_event_bus_new ();
  g_autoptr(TestObserver) sync_obs = test_observer_new ("sync");
  g_autoptr(TestAsyncObserver) slow = test_async_observer_new ("slow", 60);
  g_autoptr(TestAsyncObserver) fast = test_async_observer_new ("fast", 5);
  g_autoptr(OrreryEvent) ev = task_event (ORRERY_EVENT_TASK_COMPLETED, "t");
  gboolean done = FALSE;

  orrery_event_bus_subscribe (bus, ORRERY_OBSERVER (sync_obs), NULL, 0);
  orrery_event_bus_subscribe (bus, ORRERY_OBSERVER (slow), NULL, 0);
  orrery_event_bus_subscribe (bus, ORRERY_OBSERVER (fast), NULL, 0);

  orrery_event_bus_publish_async (bus, ev, NULL, publish_done_cb, &done);
  /* Sync observers have it; async ones have started it. */
  g_assert_cmpuint (sync_obs->events->len, ==, 1);
  g_assert_cmpuint (slow->started->len, ==, 1);
  g_assert_cmpuint (fast->started->len, ==, 1);
  g_assert_false (done);

  spin_until (&done);
  g_assert_cmpuint (slow->finished->len, ==, 1);
  g_assert_cmpuint (fast->finished->len, ==, 1);
}

/* An async observer gets its events one at a time, in order. */
static void
test_async_observer_serialized (void)
{
  g_autoptr(OrreryEventBus) bus = orrery_event_bus_new ();
  g_autoptr(TestAsyncObserver) obs = test_async_observer_new ("serial", 2);
  gboolean done = FALSE;

  orrery_event_bus_subscribe (bus, ORRERY_OBSERVER (obs), NULL, 0);
  for (guint i = 0; i < 5; i++)
    publish_task (bus, ORRERY_EVENT_TASK_STARTED, "t");
  {
    g_autoptr(OrreryEvent) last = task_event (ORRERY_EVENT_TASK_COMPLETED, "t");
    orrery_event_bus_publish_async (bus, last, NULL, publish_done_cb, &done);
  }
  spin_until (&done);
  g_assert_cmpuint (obs->finished->len, ==, 6);
  g_assert_cmpuint (obs->max_in_flight, ==, 1);
  for (guint i = 0; i < 6; i++)
    g_assert_cmpuint (orrery_event_get_sequence (obs->finished->pdata[i]), ==, i + 1);
}

/* An async observer past its deadline is reported, cancelled and no longer
 * waited for. */
static void
test_async_deadline (void)
{
  g_autoptr(OrreryEventBus) bus = orrery_event_bus_new ();
  g_autoptr(TestAsyncObserver) stuck = test_async_observer_new ("stuck", 2000);
  g_autoptr(TestAsyncObserver) ok = test_async_observer_new ("ok", 1);
  g_autoptr(GPtrArray) failures = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(OrreryEvent) ev = task_event (ORRERY_EVENT_TASK_COMPLETED, "t");
  g_autoptr(GVariant) stats = NULL;
  gboolean done = FALSE;
  guint stuck_id;
  guint64 timed_out = 0;

  stuck_id = orrery_event_bus_subscribe_full (bus, ORRERY_OBSERVER (stuck), NULL, 0,
                                              ORRERY_DELIVERY_SYNC, 0, 50);
  orrery_event_bus_subscribe (bus, ORRERY_OBSERVER (ok), NULL, 0);
  g_signal_connect (bus, "observer-failed", G_CALLBACK (on_observer_failed), failures);

  g_test_expect_message ("Orrery-Bus", G_LOG_LEVEL_WARNING, "*Observer “stuck” failed*deadline of 50 ms*");
  orrery_event_bus_publish_async (bus, ev, NULL, publish_done_cb, &done);
  spin_until (&done);
  g_test_assert_expected_messages ();

  /* Completed at the deadline, before the stuck observer's 2 s: it was
   * cancelled and had not finished when the publication completed. */
  g_assert_cmpuint (stuck->cancelled, ==, 1);
  g_assert_cmpuint (stuck->finished->len, ==, 0);
  g_assert_cmpuint (ok->finished->len, ==, 1);
  g_assert_cmpuint (failures->len, ==, 1);
  stats = orrery_event_bus_get_observer_stats (bus, stuck_id);
  g_assert_true (g_variant_lookup (stats, "timed-out", "t", &timed_out));
  g_assert_cmpuint (timed_out, ==, 1);
}

/* Publishing from a worker thread delivers on the bus's thread. */
typedef struct
{
  OrreryEventBus *bus;
  guint           n;
} ThreadData;

static gpointer
publisher_thread (gpointer data)
{
  ThreadData *td = data;

  for (guint i = 0; i < td->n; i++)
    publish_task (td->bus, ORRERY_EVENT_TASK_COMPLETED, "from-thread");
  return NULL;
}

static void
test_publish_from_thread (void)
{
  g_autoptr(OrreryEventBus) bus = orrery_event_bus_new ();
  g_autoptr(TestObserver) obs = test_observer_new ("obs");
  ThreadData td = { bus, 100 };
  GThread *thread;

  orrery_event_bus_subscribe (bus, ORRERY_OBSERVER (obs), NULL, 0);
  thread = g_thread_new ("publisher", publisher_thread, &td);
  g_thread_join (thread);

  /* Nothing is delivered on the worker thread... */
  g_assert_cmpuint (obs->events->len, ==, 0);
  /* ...and everything is, from the main loop, on this thread. */
  while (obs->events->len < td.n)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (obs->last_thread == g_thread_self ());
  for (guint i = 0; i < td.n; i++)
    g_assert_cmpuint (orrery_event_get_sequence (obs->events->pdata[i]), ==, i + 1);
}

/* Unsubscribing from inside a handler during an emission is safe: an
 * observer unsubscribed before its turn does not get the event, one that
 * unsubscribes itself gets nothing more. */
typedef struct
{
  OrreryEventBus *bus;
  guint           victim;
  guint           self_id;
} Unsub;

static void
unsub_hook (TestObserver *self,
            OrreryEvent  *event,
            gpointer      data)
{
  Unsub *u = data;

  if (u->victim)
    g_assert_true (orrery_event_bus_unsubscribe (u->bus, u->victim));
  if (u->self_id)
    g_assert_true (orrery_event_bus_unsubscribe (u->bus, u->self_id));
  u->victim = u->self_id = 0;
}

static void
test_unsubscribe_during_emission (void)
{
  g_autoptr(OrreryEventBus) bus = orrery_event_bus_new ();
  TestObserver *killer = test_observer_new ("killer");
  g_autoptr(TestObserver) victim = test_observer_new ("victim");
  g_autoptr(TestObserver) survivor = test_observer_new ("survivor");
  g_autoptr(TestAsyncObserver) async_victim = test_async_observer_new ("async-victim", 20);
  Unsub u = { bus, 0, 0 };
  gboolean done = FALSE;

  killer->hook = unsub_hook;
  killer->hook_data = &u;
  u.self_id = orrery_event_bus_subscribe (bus, ORRERY_OBSERVER (killer), NULL, 0);
  /* The bus holds the only reference to the killer from now on. */
  g_object_unref (killer);
  u.victim = orrery_event_bus_subscribe (bus, ORRERY_OBSERVER (victim), NULL, 0);
  orrery_event_bus_subscribe (bus, ORRERY_OBSERVER (survivor), NULL, 0);

  publish_task (bus, ORRERY_EVENT_TASK_COMPLETED, "a");
  publish_task (bus, ORRERY_EVENT_TASK_COMPLETED, "b");

  g_assert_cmpuint (victim->events->len, ==, 0);
  g_assert_cmpuint (survivor->events->len, ==, 2);
  g_assert_cmpuint (orrery_event_bus_get_n_subscriptions (bus), ==, 1);
  g_assert_false (orrery_event_bus_unsubscribe (bus, u.self_id));

  /* An async observer unsubscribed while its delivery is in flight is no
   * longer waited for. */
  {
    guint id = orrery_event_bus_subscribe (bus, ORRERY_OBSERVER (async_victim), NULL, 0);
    g_autoptr(OrreryEvent) ev = task_event (ORRERY_EVENT_TASK_COMPLETED, "c");

    orrery_event_bus_publish_async (bus, ev, NULL, publish_done_cb, &done);
    g_assert_cmpuint (async_victim->started->len, ==, 1);
    g_assert_true (orrery_event_bus_unsubscribe (bus, id));
    spin_until (&done);
    g_assert_cmpuint (async_victim->cancelled, ==, 1);
    /* Let its late answer arrive: it must be ignored quietly. */
    spin_for (50);
  }
}

/* Queued delivery: events go through a bounded queue drained from the main
 * loop; past the bound they are dropped, counted and reported. */
static void
test_queued_delivery_and_drops (void)
{
  g_autoptr(OrreryEventBus) bus = orrery_event_bus_new ();
  g_autoptr(TestObserver) queued = test_observer_new ("queued");
  g_autoptr(GPtrArray) failures = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GVariant) stats = NULL;
  g_autoptr(GVariant) bus_stats = NULL;
  guint id;
  guint64 dropped = 0, drops = 0;

  id = orrery_event_bus_subscribe_full (bus, ORRERY_OBSERVER (queued), NULL, 0,
                                        ORRERY_DELIVERY_QUEUED, 4, 0);
  g_signal_connect (bus, "observer-failed", G_CALLBACK (on_observer_failed), failures);

  /* Drops are logged at 1, 2, 4...: two warnings for 2 drops. */
  g_test_expect_message ("Orrery-Bus", G_LOG_LEVEL_WARNING, "*queued*queue full (4 events)*");
  g_test_expect_message ("Orrery-Bus", G_LOG_LEVEL_WARNING, "*queued*queue full (4 events)*");
  for (guint i = 0; i < 6; i++)
    publish_task (bus, ORRERY_EVENT_TASK_COMPLETED, "q");
  g_test_assert_expected_messages ();

  g_assert_cmpuint (queued->events->len, ==, 0);
  g_assert_cmpuint (failures->len, ==, 2);
  while (queued->events->len < 4)
    g_main_context_iteration (NULL, TRUE);
  spin_for (10);
  g_assert_cmpuint (queued->events->len, ==, 4);
  for (guint i = 0; i < 4; i++)
    g_assert_cmpuint (orrery_event_get_sequence (queued->events->pdata[i]), ==, i + 1);

  stats = orrery_event_bus_get_observer_stats (bus, id);
  g_assert_true (g_variant_lookup (stats, "dropped", "t", &dropped));
  g_assert_cmpuint (dropped, ==, 2);
  bus_stats = orrery_event_bus_get_stats (bus);
  g_assert_true (g_variant_lookup (bus_stats, "drops", "t", &drops));
  g_assert_cmpuint (drops, ==, 2);
}

/* Timing, when on, is counted per observer. */
static void
slow_hook (TestObserver *self,
           OrreryEvent  *event,
           gpointer      data)
{
  g_usleep (2000);
}

static void
test_timing (void)
{
  g_autoptr(OrreryEventBus) bus = orrery_event_bus_new ();
  g_autoptr(TestObserver) obs = test_observer_new ("timed");
  g_autoptr(GVariant) before = NULL;
  g_autoptr(GVariant) after = NULL;
  guint64 ns = 0;
  guint id;

  obs->hook = slow_hook;
  id = orrery_event_bus_subscribe (bus, ORRERY_OBSERVER (obs), NULL, 0);
  publish_task (bus, ORRERY_EVENT_TASK_COMPLETED, "t");
  before = orrery_event_bus_get_observer_stats (bus, id);
  g_assert_true (g_variant_lookup (before, "handling-ns", "t", &ns));
  g_assert_cmpuint (ns, ==, 0);

  g_object_set (bus, "timing", TRUE, NULL);
  publish_task (bus, ORRERY_EVENT_TASK_COMPLETED, "t");
  after = orrery_event_bus_get_observer_stats (bus, id);
  g_assert_true (g_variant_lookup (after, "handling-ns", "t", &ns));
  g_assert_cmpuint (ns, >=, 2000 * 1000);
}

/* Disposing the bus releases observers, including queued deliveries. */
static void
test_dispose_releases (void)
{
  OrreryEventBus *bus = orrery_event_bus_new ();
  TestObserver *obs = test_observer_new ("weak");

  g_object_add_weak_pointer (G_OBJECT (obs), (gpointer *) &obs);
  orrery_event_bus_subscribe_full (bus, ORRERY_OBSERVER (obs), NULL, 0,
                                   ORRERY_DELIVERY_QUEUED, 0, 0);
  g_object_unref (obs);
  g_assert_nonnull (obs);
  publish_task (bus, ORRERY_EVENT_TASK_COMPLETED, "t");
  g_object_unref (bus);
  g_assert_null (obs);
}

/* A handler drops the bus's last reference, after publishing another
 * event: the publish under way stops there (the queued event is released,
 * not delivered) and nothing touches the freed bus (ASan checks). */
typedef struct
{
  OrreryEventBus *bus;
  guint           calls;
} LastUnref;

static void
on_event_drop_bus (OrreryEventBus *bus,
                   OrreryEvent    *event,
                   gpointer        user_data)
{
  LastUnref *lu = user_data;

  lu->calls++;
  if (lu->calls == 1)
    {
      g_autoptr(OrreryEvent) nested = task_event (ORRERY_EVENT_TASK_STARTED, "nested");

      orrery_event_bus_publish (bus, nested);
      g_clear_object (&lu->bus);
    }
}

static void
test_last_unref_in_handler (void)
{
  LastUnref lu = { orrery_event_bus_new (), 0 };
  g_autoptr(OrreryEvent) ev = task_event (ORRERY_EVENT_TASK_COMPLETED, "t");

  g_object_add_weak_pointer (G_OBJECT (lu.bus), (gpointer *) &lu.bus);
  g_signal_connect (lu.bus, "event", G_CALLBACK (on_event_drop_bus), &lu);
  orrery_event_bus_publish (lu.bus, ev);
  g_assert_null (lu.bus);
  g_assert_cmpuint (lu.calls, ==, 1);
  g_assert_true (orrery_event_is_published (ev));
}

/* One type for every kind: each kind's fields, and NULL/0 (no critical)
 * for the fields a kind lacks; setters of those refuse. */
static void
test_event_kinds (void)
{
  g_autofree char *long_id = g_strnfill (300, 'x');
  g_autoptr(OrreryEvent) te = orrery_event_new_task (ORRERY_EVENT_TASK_FAILED, "src", long_id,
                                                     ORRERY_TASK_STATUS_FAILED);
  g_autoptr(OrreryEvent) ce = orrery_event_new_constellation (ORRERY_EVENT_CONSTELLATION_STARTED, NULL, "run",
                                                              ORRERY_CONSTELLATION_STATE_EXECUTING);
  g_autoptr(OrreryEvent) de = orrery_event_new_device (ORRERY_EVENT_DEVICE_ADDED, "src", "box",
                                                       ORRERY_DEVICE_STATUS_BUSY);
  g_autoptr(OrreryEvent) pe = orrery_event_new (ORRERY_EVENT_TASK_COMPLETED, NULL, NULL);
  g_autoptr(GError) err = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "boom");
  g_autofree char *desc = NULL;
  const char *ready[] = { "a", "b", NULL };

  g_assert_cmpint (orrery_event_get_kind (te), ==, ORRERY_EVENT_KIND_TASK);
  g_assert_true (ORRERY_EVENT_IS_TASK (te));
  g_assert_cmpstr (orrery_event_get_task_id (te), ==, long_id);
  g_assert_cmpstr (orrery_event_get_source_id (te), ==, "src");
  g_assert_cmpint (orrery_event_get_task_status (te), ==, ORRERY_TASK_STATUS_FAILED);
  orrery_event_set_error (te, err);
  orrery_event_set_device_id (te, "box");
  orrery_event_set_newly_ready (te, ready);
  g_assert_error (orrery_event_get_error (te), G_IO_ERROR, G_IO_ERROR_FAILED);
  g_assert_cmpstr (orrery_event_get_device_id (te), ==, "box");
  g_assert_cmpstrv (orrery_event_get_newly_ready (te), ready);
  g_assert_null (orrery_event_get_constellation_id (te));
  g_assert_cmpint (orrery_event_get_device_status (te), ==, 0);

  g_assert_true (ORRERY_EVENT_IS_CONSTELLATION (ce));
  g_assert_cmpstr (orrery_event_get_constellation_id (ce), ==, "run");
  g_assert_null (orrery_event_get_source_id (ce));
  g_assert_cmpint (orrery_event_get_constellation_state (ce), ==, ORRERY_CONSTELLATION_STATE_EXECUTING);
  g_assert_null (orrery_event_get_task_id (ce));
  g_assert_cmpint (orrery_event_get_task_status (ce), ==, 0);
  g_assert_null (orrery_event_get_device_id (ce));
  g_test_expect_message ("Orrery", G_LOG_LEVEL_CRITICAL, "*orrery_event_set_attempt*");
  orrery_event_set_attempt (ce, 3);
  g_test_assert_expected_messages ();
  g_assert_cmpuint (orrery_event_get_attempt (ce), ==, 0);

  g_assert_true (ORRERY_EVENT_IS_DEVICE (de));
  g_assert_cmpstr (orrery_event_get_device_id (de), ==, "box");
  g_assert_cmpint (orrery_event_get_device_status (de), ==, ORRERY_DEVICE_STATUS_BUSY);
  g_assert_null (orrery_event_get_task_id (de));
  g_test_expect_message ("Orrery", G_LOG_LEVEL_CRITICAL, "*orrery_event_set_device_id*");
  orrery_event_set_device_id (de, "other");
  g_test_assert_expected_messages ();
  g_assert_cmpstr (orrery_event_get_device_id (de), ==, "box");

  g_assert_cmpint (orrery_event_get_kind (pe), ==, ORRERY_EVENT_KIND_PLAIN);
  g_assert_cmpint (orrery_event_get_event_type (pe), ==, ORRERY_EVENT_TASK_COMPLETED);
  g_assert_null (orrery_event_get_task_id (pe));
  g_assert_cmpint (orrery_event_type_get_kind (ORRERY_EVENT_CONSTELLATION_MODIFIED), ==,
                   ORRERY_EVENT_KIND_CONSTELLATION);

  desc = orrery_event_to_string (de);
  g_assert_cmpstr (desc, ==, "#0 device-added device=box source=src");

  /* Boxed: a copy is a reference to the same event. */
  {
    OrreryEvent *copy = g_boxed_copy (ORRERY_TYPE_EVENT, te);

    g_assert_true (copy == te);
    g_boxed_free (ORRERY_TYPE_EVENT, copy);
    g_assert_cmpstr (orrery_event_get_task_id (te), ==, long_id);
  }
}

/* Nicks work both ways, in the forms keyfiles use. */
static void
test_event_type_nicks (void)
{
  OrreryEventType t;
  GEnumClass *klass = g_type_class_ref (ORRERY_TYPE_EVENT_TYPE);

  for (guint i = 0; i < ORRERY_EVENT_TYPE_COUNT; i++)
    {
      GEnumValue *v = g_enum_get_value (klass, i);

      g_assert_nonnull (v);
      g_assert_cmpstr (v->value_nick, ==, orrery_event_type_to_nick (i));
      g_assert_true (orrery_event_type_from_nick (v->value_nick, &t));
      g_assert_cmpint (t, ==, i);
    }
  g_assert_true (orrery_event_type_from_nick ("TASK_COMPLETED", &t));
  g_assert_cmpint (t, ==, ORRERY_EVENT_TASK_COMPLETED);
  g_assert_false (orrery_event_type_from_nick ("task-complete", &t));
  g_assert_false (orrery_event_type_from_nick ("task-completedx", &t));
  g_type_class_unref (klass);
}

/* ------------------------------------------------------------------------ */
/* Budgets: recursive publish, blocking handler (docs/architecture.md, section 2) */

typedef struct
{
  OrreryEventBus *bus;
  guint           handled;
  guint           published;
} Echo;

/* Answers every event with another one, without end. The safety cap only
 * keeps a broken bus from hanging the test. */
static gboolean
echo_handle (OrreryEvent  *event,
             gpointer      user_data,
             GError      **error)
{
  Echo *echo = user_data;

  echo->handled++;
  if (echo->published < 200000)
    {
      echo->published++;
      publish_task (echo->bus, ORRERY_EVENT_TASK_STARTED, "echo");
    }
  return TRUE;
}

static void
count_cb (OrreryEventBus *bus,
          OrreryEvent    *event,
          gpointer        user_data)
{
  (*(guint *) user_data)++;
}

/* An observer that publishes from its own handler for ever used to keep
 * the bus draining for ever (the host deaf to signals). Past the budget it
 * is reported once, with its name and the cause, and what it publishes from
 * its handlers is refused; the other observers go on. */
static void
test_publish_budget (void)
{
  g_autoptr(OrreryEventBus) bus = orrery_event_bus_new ();
  g_autoptr(GPtrArray) failures = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(OrreryObserver) loud = NULL;
  g_autoptr(TestObserver) quiet = test_observer_new ("quiet");
  g_autoptr(GVariant) stats = NULL;
  Echo echo = { bus, 0, 0 };
  guint64 refused = 0;
  guint seen = 0;

  g_assert_cmpuint (orrery_event_bus_get_publish_budget (bus), ==, ORRERY_EVENT_BUS_DEFAULT_PUBLISH_BUDGET);
  orrery_event_bus_set_publish_budget (bus, 100);
  loud = orrery_func_observer_new ("loud", echo_handle, &echo, NULL);
  orrery_event_bus_subscribe (bus, loud, NULL, 0);
  orrery_event_bus_subscribe (bus, ORRERY_OBSERVER (quiet), NULL, 0);
  g_signal_connect (bus, "observer-failed", G_CALLBACK (on_observer_failed), failures);
  g_signal_connect (bus, "event", G_CALLBACK (count_cb), &seen);

  g_test_expect_message ("Orrery-Bus", G_LOG_LEVEL_WARNING, "*Observer “loud” failed*more than 100 events*");
  publish_task (bus, ORRERY_EVENT_TASK_COMPLETED, "first");
  g_test_assert_expected_messages ();

  /* The first event and the 100 it was allowed, each seen by everyone. */
  g_assert_cmpuint (failures->len, ==, 1);
  g_assert_true (g_str_has_prefix (failures->pdata[0], "loud|"));
  g_assert_nonnull (strstr (failures->pdata[0], "refused"));
  g_assert_cmpuint (seen, ==, 101);
  g_assert_cmpuint (quiet->events->len, ==, 101);
  g_assert_cmpuint (echo.handled, ==, 101);
  g_assert_cmpuint (orrery_event_bus_get_published_count (bus), ==, 101);

  /* Refused from now on, without another report; the bus still works. */
  publish_task (bus, ORRERY_EVENT_TASK_COMPLETED, "second");
  g_assert_cmpuint (failures->len, ==, 1);
  g_assert_cmpuint (quiet->events->len, ==, 102);
  g_assert_cmpuint (echo.handled, ==, 102);
  stats = orrery_event_bus_get_stats (bus);
  g_assert_true (g_variant_lookup (stats, "refused", "t", &refused));
  g_assert_cmpuint (refused, ==, 2);
}

/* Publications of plain GSignal handlers (a script) share one budget per
 * outermost event and are refused past it, with a warning. */
static void
echo_signal_cb (OrreryEventBus *bus,
                OrreryEvent    *event,
                gpointer        user_data)
{
  guint *n = user_data;

  if (++*n < 200000)
    publish_task (bus, ORRERY_EVENT_TASK_STARTED, "echo");
}

static void
test_publish_budget_signal_handler (void)
{
  g_autoptr(OrreryEventBus) bus = orrery_event_bus_new ();
  guint n = 0;

  orrery_event_bus_set_publish_budget (bus, 50);
  g_signal_connect (bus, "event", G_CALLBACK (echo_signal_cb), &n);
  g_test_expect_message ("Orrery-Bus", G_LOG_LEVEL_WARNING, "*published more than 50 events*");
  publish_task (bus, ORRERY_EVENT_TASK_COMPLETED, "first");
  g_test_assert_expected_messages ();
  g_assert_cmpuint (n, ==, 51);
}

typedef struct
{
  guint sleep_ms;
  guint handled;
} Sleeper;

static gboolean
sleep_handle (OrreryEvent  *event,
              gpointer      user_data,
              GError      **error)
{
  Sleeper *sl = user_data;

  if (sl->handled++ == 0)
    g_usleep (sl->sleep_ms * 1000);
  return TRUE;
}

/* A synchronous (or queued) handler that blocks holds the whole main loop;
 * once it returns it is reported, with its name and the cause. (The sleep
 * is many times the budget: the report does not depend on how fast the
 * machine is.) */
static void
test_handler_budget (gconstpointer data)
{
  OrreryDeliveryMode mode = GPOINTER_TO_INT (data);
  g_autoptr(OrreryEventBus) bus = orrery_event_bus_new ();
  g_autoptr(GPtrArray) failures = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(OrreryObserver) slow = NULL;
  g_autoptr(GVariant) stats = NULL;
  Sleeper sl = { 300, 0 };
  guint64 n_slow = 0;
  guint id;

  g_assert_cmpuint (orrery_event_bus_get_handler_budget_ms (bus), ==, ORRERY_EVENT_BUS_DEFAULT_HANDLER_BUDGET_MS);
  orrery_event_bus_set_handler_budget_ms (bus, 30);
  slow = orrery_func_observer_new ("sleepy", sleep_handle, &sl, NULL);
  id = orrery_event_bus_subscribe_full (bus, slow, NULL, 0, mode, 0, 0);
  g_signal_connect (bus, "observer-failed", G_CALLBACK (on_observer_failed), failures);

  g_test_expect_message ("Orrery-Bus", G_LOG_LEVEL_WARNING, "*Observer “sleepy” failed on event #1*over its budget of 0.030 s*");
  publish_task (bus, ORRERY_EVENT_TASK_STARTED, "t");
  while (sl.handled < 1)
    g_main_context_iteration (NULL, TRUE);
  g_test_assert_expected_messages ();
  g_assert_cmpuint (failures->len, ==, 1);
  g_assert_true (g_str_has_prefix (failures->pdata[0], "sleepy|task-started|its handler took"));
  stats = orrery_event_bus_get_observer_stats (bus, id);
  g_assert_true (g_variant_lookup (stats, "slow", "t", &n_slow));
  g_assert_cmpuint (n_slow, ==, 1);
}

/* The end of a run: events still queued for a slow queued observer and
 * for an asynchronous one are delivered by orrery_event_bus_drain(), every
 * one, in order, the last included; an asynchronous observer that never
 * answers is given up at its deadline, its queued events reported as
 * dropped, and the drain ends. */
static void
test_drain (void)
{
  g_autoptr(OrreryEventBus) bus = orrery_event_bus_new ();
  g_autoptr(TestObserver) slow = test_observer_new ("slow-queued");
  g_autoptr(TestAsyncObserver) async = test_async_observer_new ("async", 1);
  g_autoptr(TestAsyncObserver) stuck = test_async_observer_new ("stuck", 60000);
  g_autoptr(GPtrArray) failures = g_ptr_array_new_with_free_func (g_free);
  const guint n = 50;
  GLogLevelFlags fatal;

  slow->hook = slow_hook;  /* 2 ms an event */
  orrery_event_bus_subscribe_full (bus, ORRERY_OBSERVER (slow), NULL, 0, ORRERY_DELIVERY_QUEUED, 0, 0);
  orrery_event_bus_subscribe (bus, ORRERY_OBSERVER (async), NULL, 0);
  for (guint i = 0; i < n; i++)
    publish_task (bus, i + 1 < n ? ORRERY_EVENT_TASK_STARTED : ORRERY_EVENT_TASK_COMPLETED, "t");
  /* Nothing has run the main loop: everything is still queued. */
  g_assert_cmpuint (slow->events->len, ==, 0);
  g_assert_cmpuint (async->finished->len, <, n);

  g_assert_true (orrery_event_bus_drain (bus));
  g_assert_cmpuint (slow->events->len, ==, n);
  g_assert_cmpuint (async->finished->len, ==, n);
  for (guint i = 0; i < n; i++)
    {
      g_assert_cmpuint (orrery_event_get_sequence (slow->events->pdata[i]), ==, i + 1);
      g_assert_cmpuint (orrery_event_get_sequence (async->finished->pdata[i]), ==, i + 1);
    }
  g_assert_cmpint (orrery_event_get_event_type (slow->events->pdata[n - 1]), ==, ORRERY_EVENT_TASK_COMPLETED);
  /* Nothing left: a second drain returns at once. */
  g_assert_true (orrery_event_bus_drain (bus));

  /* One that never answers (deadline 100 ms) with three more queued: the
   * drain gives up on it at its deadline (its first delivery may time out
   * just before: either way the rest is dropped and reported). */
  orrery_event_bus_subscribe_full (bus, ORRERY_OBSERVER (stuck), NULL, 0, ORRERY_DELIVERY_SYNC, 0, 100);
  g_signal_connect (bus, "observer-failed", G_CALLBACK (on_observer_failed), failures);
  /* Its warnings (a timeout, then the drop) come in an order that
   * depends on two timers of the same deadline: not asserted. */
  fatal = g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  for (guint i = 0; i < 4; i++)
    publish_task (bus, ORRERY_EVENT_TASK_STARTED, "late");
  g_assert_false (orrery_event_bus_drain (bus));
  g_assert_cmpuint (stuck->finished->len, ==, 0);
  g_assert_cmpuint (failures->len, >=, 1);
  g_assert_nonnull (strstr (failures->pdata[failures->len - 1], "still not delivered"));
  g_assert_nonnull (strstr (failures->pdata[failures->len - 1], "dropped"));
  g_assert_true (g_str_has_prefix (failures->pdata[failures->len - 1], "stuck|"));
  g_log_set_always_fatal (fatal);
  g_assert_cmpuint (slow->events->len, ==, n + 4);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/bus/signal-detail", test_signal_detail);
  g_test_add_func ("/bus/subscribe-exactly-once", test_subscribe_exactly_once);
  g_test_add_func ("/bus/sync-delivery-and-seal", test_sync_delivery_and_seal);
  g_test_add_func ("/bus/reentrant-total-order", test_reentrant_total_order);
  g_test_add_func ("/bus/failing-observer-isolated", test_failing_observer_isolated);
  g_test_add_func ("/bus/publish-async-waits", test_publish_async_waits);
  g_test_add_func ("/bus/async-observer-serialized", test_async_observer_serialized);
  g_test_add_func ("/bus/async-deadline", test_async_deadline);
  g_test_add_func ("/bus/publish-from-thread", test_publish_from_thread);
  g_test_add_func ("/bus/unsubscribe-during-emission", test_unsubscribe_during_emission);
  g_test_add_func ("/bus/queued-delivery-and-drops", test_queued_delivery_and_drops);
  g_test_add_func ("/bus/timing", test_timing);
  g_test_add_func ("/bus/drain", test_drain);
  g_test_add_func ("/bus/dispose-releases", test_dispose_releases);
  g_test_add_func ("/bus/last-unref-in-handler", test_last_unref_in_handler);
  g_test_add_func ("/bus/event-kinds", test_event_kinds);
  g_test_add_func ("/bus/event-type-nicks", test_event_type_nicks);
  g_test_add_func ("/bus/publish-budget", test_publish_budget);
  g_test_add_func ("/bus/publish-budget-signal-handler", test_publish_budget_signal_handler);
  g_test_add_data_func ("/bus/handler-budget/sync", GINT_TO_POINTER (ORRERY_DELIVERY_SYNC), test_handler_budget);
  g_test_add_data_func ("/bus/handler-budget/queued", GINT_TO_POINTER (ORRERY_DELIVERY_QUEUED), test_handler_budget);

  return g_test_run ();
}
