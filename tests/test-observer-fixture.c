/* test-observer-fixture.c: observers that record what they receive.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-observer-fixture.h"

static void test_observer_iface_init (OrreryObserverInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestObserver, test_observer, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (ORRERY_TYPE_OBSERVER,
                                                      test_observer_iface_init))

static const char *
test_observer_get_name (OrreryObserver *observer)
{
  return TEST_OBSERVER (observer)->name;
}

static gboolean
test_observer_handle_event (OrreryObserver  *observer,
                            OrreryEvent     *event,
                            GError         **error)
{
  TestObserver *self = (TestObserver *) observer;

  self->last_thread = g_thread_self ();
  if (self->hook)
    self->hook (self, event, self->hook_data);
  g_ptr_array_add (self->events, orrery_event_ref (event));
  if (self->fail)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s refuses event %" G_GUINT64_FORMAT,
                   self->name, orrery_event_get_sequence (event));
      return FALSE;
    }
  return TRUE;
}

static void
test_observer_iface_init (OrreryObserverInterface *iface)
{
  iface->get_name = test_observer_get_name;
  iface->handle_event = test_observer_handle_event;
}

static void
test_observer_finalize (GObject *object)
{
  TestObserver *self = TEST_OBSERVER (object);

  g_ptr_array_unref (self->events);
  g_free (self->name);
  G_OBJECT_CLASS (test_observer_parent_class)->finalize (object);
}

static void
test_observer_class_init (TestObserverClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = test_observer_finalize;
}

static void
test_observer_init (TestObserver *self)
{
  self->events = g_ptr_array_new_with_free_func ((GDestroyNotify) orrery_event_unref);
}

TestObserver *
test_observer_new (const char *name)
{
  TestObserver *self = g_object_new (TEST_TYPE_OBSERVER, NULL);

  self->name = g_strdup (name);
  return self;
}

/* ------------------------------------------------------------------------ */

static void test_async_observer_iface_init (OrreryObserverInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestAsyncObserver, test_async_observer, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (ORRERY_TYPE_OBSERVER,
                                                      test_async_observer_iface_init))

static const char *
test_async_observer_get_name (OrreryObserver *observer)
{
  return TEST_ASYNC_OBSERVER (observer)->name;
}

typedef struct
{
  TestAsyncObserver *self;
  OrreryEvent       *event;
  guint              timeout_id;
  gulong             cancel_id;
} AsyncJob;

static void
async_job_free (gpointer data)
{
  AsyncJob *job = data;

  orrery_event_unref (job->event);
  g_free (job);
}

static gboolean
async_job_done (gpointer user_data)
{
  GTask *task = user_data;
  AsyncJob *job = g_task_get_task_data (task);
  TestAsyncObserver *self = job->self;

  job->timeout_id = 0;
  self->in_flight--;
  g_ptr_array_add (self->finished, orrery_event_ref (job->event));
  if (g_task_get_cancellable (task) && job->cancel_id)
    g_cancellable_disconnect (g_task_get_cancellable (task), job->cancel_id);
  if (self->fail)
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_FAILED, "%s failed", self->name);
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
  return G_SOURCE_REMOVE;
}

static void
async_job_cancelled (GCancellable *cancellable,
                     gpointer      user_data)
{
  GTask *task = user_data;
  AsyncJob *job = g_task_get_task_data (task);

  job->self->cancelled++;
}

static void
test_async_observer_handle_event_async (OrreryObserver      *observer,
                                        OrreryEvent         *event,
                                        GCancellable        *cancellable,
                                        GAsyncReadyCallback  callback,
                                        gpointer             user_data)
{
  TestAsyncObserver *self = (TestAsyncObserver *) observer;
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  AsyncJob *job = g_new0 (AsyncJob, 1);

  g_task_set_check_cancellable (task, FALSE);
  job->self = self;
  job->event = orrery_event_ref (event);
  g_task_set_task_data (task, job, async_job_free);
  g_ptr_array_add (self->started, orrery_event_ref (event));
  self->in_flight++;
  self->max_in_flight = MAX (self->max_in_flight, self->in_flight);
  if (cancellable)
    job->cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (async_job_cancelled),
                                            task, NULL);
  job->timeout_id = g_timeout_add (self->delay_ms, async_job_done, task);
}

static gboolean
test_async_observer_handle_event_finish (OrreryObserver  *observer,
                                         GAsyncResult    *result,
                                         GError         **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
test_async_observer_iface_init (OrreryObserverInterface *iface)
{
  iface->get_name = test_async_observer_get_name;
  iface->handle_event_async = test_async_observer_handle_event_async;
  iface->handle_event_finish = test_async_observer_handle_event_finish;
}

static void
test_async_observer_finalize (GObject *object)
{
  TestAsyncObserver *self = TEST_ASYNC_OBSERVER (object);

  g_ptr_array_unref (self->started);
  g_ptr_array_unref (self->finished);
  g_free (self->name);
  G_OBJECT_CLASS (test_async_observer_parent_class)->finalize (object);
}

static void
test_async_observer_class_init (TestAsyncObserverClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = test_async_observer_finalize;
}

static void
test_async_observer_init (TestAsyncObserver *self)
{
  self->started = g_ptr_array_new_with_free_func ((GDestroyNotify) orrery_event_unref);
  self->finished = g_ptr_array_new_with_free_func ((GDestroyNotify) orrery_event_unref);
}

TestAsyncObserver *
test_async_observer_new (const char *name,
                         guint       delay_ms)
{
  TestAsyncObserver *self = g_object_new (TEST_TYPE_ASYNC_OBSERVER, NULL);

  self->name = g_strdup (name);
  self->delay_ms = delay_ms;
  return self;
}
