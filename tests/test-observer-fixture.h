/* test-observer-fixture.h: observers that record what they receive, for the
 * bus tests and benchmarks.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <orrery.h>

G_BEGIN_DECLS

/* A synchronous observer: records every event (a reference each), the
 * thread it ran on, and fails when told to. */
#define TEST_TYPE_OBSERVER (test_observer_get_type ())
G_DECLARE_FINAL_TYPE (TestObserver, test_observer, TEST, OBSERVER, GObject)

struct _TestObserver
{
  GObject    parent_instance;
  char      *name;
  GPtrArray *events;        /* of OrreryEvent */
  GThread   *last_thread;
  gboolean   fail;          /* fail every event with a GError */
  /* Called from handle_event before recording, if set. */
  void     (*hook) (TestObserver *self, OrreryEvent *event, gpointer data);
  gpointer   hook_data;
};

TestObserver *test_observer_new (const char *name);

/* An asynchronous observer: answers each event after delay_ms from a
 * timeout, recording the event when it starts and when it finishes. */
#define TEST_TYPE_ASYNC_OBSERVER (test_async_observer_get_type ())
G_DECLARE_FINAL_TYPE (TestAsyncObserver, test_async_observer, TEST, ASYNC_OBSERVER, GObject)

struct _TestAsyncObserver
{
  GObject    parent_instance;
  char      *name;
  guint      delay_ms;
  gboolean   fail;
  GPtrArray *started;        /* of OrreryEvent */
  GPtrArray *finished;       /* of OrreryEvent */
  guint      cancelled;
  guint      in_flight;
  guint      max_in_flight;
};

TestAsyncObserver *test_async_observer_new (const char *name,
                                            guint       delay_ms);

G_END_DECLS
