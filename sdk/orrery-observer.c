/* orrery-observer.c: the interface of everything that reacts to events.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "orrery-private.h"

/**
 * OrreryObserver:
 *
 * What receives events from an #OrreryEventBus: a name for logs and
 * reports, a synchronous handler, and optionally an asynchronous one. A
 * handler's failure is reported through #OrreryEventBus::observer-failed
 * and stops nothing else; see orrery_event_bus_subscribe() for how and in
 * what order events are delivered.
 */
G_DEFINE_INTERFACE (OrreryObserver, orrery_observer, G_TYPE_OBJECT)

static const char *
orrery_observer_real_get_name (OrreryObserver *self)
{
  return G_OBJECT_TYPE_NAME (self);
}

static gboolean
orrery_observer_real_handle_event (OrreryObserver  *self,
                                   OrreryEvent     *event,
                                   GError         **error)
{
  return TRUE;
}

static void
orrery_observer_real_handle_event_async (OrreryObserver      *self,
                                         OrreryEvent         *event,
                                         GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  GError *error = NULL;

  g_task_set_source_tag (task, orrery_observer_real_handle_event_async);
  if (orrery_observer_handle_event (self, event, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static gboolean
orrery_observer_real_handle_event_finish (OrreryObserver  *self,
                                          GAsyncResult    *result,
                                          GError         **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
orrery_observer_default_init (OrreryObserverInterface *iface)
{
  iface->get_name = orrery_observer_real_get_name;
  iface->handle_event = orrery_observer_real_handle_event;
  iface->handle_event_async = orrery_observer_real_handle_event_async;
  iface->handle_event_finish = orrery_observer_real_handle_event_finish;
}

/**
 * orrery_observer_get_name:
 * @self: an observer
 *
 * Returns: (transfer none): the observer's name, for logs and reports
 */
const char *
orrery_observer_get_name (OrreryObserver *self)
{
  g_return_val_if_fail (ORRERY_IS_OBSERVER (self), NULL);
  return ORRERY_OBSERVER_GET_IFACE (self)->get_name (self);
}

/**
 * orrery_observer_handle_event:
 * @self: an observer
 * @event: the event
 * @error: return location for an error
 *
 * Handles one event synchronously.
 *
 * Returns: %TRUE on success
 */
gboolean
orrery_observer_handle_event (OrreryObserver  *self,
                              OrreryEvent     *event,
                              GError         **error)
{
  g_return_val_if_fail (ORRERY_IS_OBSERVER (self), FALSE);
  g_return_val_if_fail (event != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  return ORRERY_OBSERVER_GET_IFACE (self)->handle_event (self, event, error);
}

/**
 * orrery_observer_handle_event_async:
 * @self: an observer
 * @event: the event
 * @cancellable: (nullable): cancels the handling (the bus cancels it when
 *   the delivery's deadline passes)
 * @callback: (scope async): called when the event is handled
 * @user_data: (closure): data for @callback
 *
 * Starts handling one event.
 */
void
orrery_observer_handle_event_async (OrreryObserver      *self,
                                    OrreryEvent         *event,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_return_if_fail (ORRERY_IS_OBSERVER (self));
  g_return_if_fail (event != NULL);
  ORRERY_OBSERVER_GET_IFACE (self)->handle_event_async (self, event, cancellable,
                                                        callback, user_data);
}

/**
 * orrery_observer_handle_event_finish:
 * @self: an observer
 * @result: the result given to the callback
 * @error: return location for an error
 *
 * Returns: %TRUE if the event was handled
 */
gboolean
orrery_observer_handle_event_finish (OrreryObserver  *self,
                                     GAsyncResult    *result,
                                     GError         **error)
{
  g_return_val_if_fail (ORRERY_IS_OBSERVER (self), FALSE);
  return ORRERY_OBSERVER_GET_IFACE (self)->handle_event_finish (self, result, error);
}

/**
 * orrery_observer_is_async:
 * @self: an observer
 *
 * Returns: whether the observer implements its own asynchronous handler
 */
gboolean
orrery_observer_is_async (OrreryObserver *self)
{
  g_return_val_if_fail (ORRERY_IS_OBSERVER (self), FALSE);
  return ORRERY_OBSERVER_GET_IFACE (self)->handle_event_async !=
         orrery_observer_real_handle_event_async;
}

/* ------------------------------------------------------------------------ */

struct _OrreryFuncObserver
{
  GObject             parent_instance;
  char               *name;
  OrreryObserverFunc  func;
  gpointer            user_data;
  GDestroyNotify      destroy;
};

static void func_observer_iface_init (OrreryObserverInterface *iface);

/**
 * OrreryFuncObserver:
 *
 * An #OrreryObserver made of a function (orrery_func_observer_new()), for
 * scripts and small plugins that need no type of their own.
 */
G_DEFINE_FINAL_TYPE_WITH_CODE (OrreryFuncObserver, orrery_func_observer, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (ORRERY_TYPE_OBSERVER,
                                                      func_observer_iface_init))

static const char *
func_observer_get_name (OrreryObserver *observer)
{
  return ORRERY_FUNC_OBSERVER (observer)->name;
}

static gboolean
func_observer_handle_event (OrreryObserver  *observer,
                            OrreryEvent     *event,
                            GError         **error)
{
  OrreryFuncObserver *self = (OrreryFuncObserver *) observer;

  return self->func (event, self->user_data, error);
}

static void
func_observer_iface_init (OrreryObserverInterface *iface)
{
  iface->get_name = func_observer_get_name;
  iface->handle_event = func_observer_handle_event;
}

static void
orrery_func_observer_finalize (GObject *object)
{
  OrreryFuncObserver *self = ORRERY_FUNC_OBSERVER (object);

  if (self->destroy)
    self->destroy (self->user_data);
  g_free (self->name);
  G_OBJECT_CLASS (orrery_func_observer_parent_class)->finalize (object);
}

static void
orrery_func_observer_class_init (OrreryFuncObserverClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = orrery_func_observer_finalize;
}

static void
orrery_func_observer_init (OrreryFuncObserver *self)
{
}

/**
 * orrery_func_observer_new:
 * @name: the observer's name, for logs and reports
 * @func: (scope notified) (closure user_data) (destroy destroy): handles each event
 * @user_data: data for @func
 * @destroy: (nullable): frees @user_data when the observer is finalized
 *
 * Makes an observer out of a function: the simplest way for C code (a
 * plugin, a test) to react to events.
 *
 * Returns: (transfer full): a new observer
 */
OrreryObserver *
orrery_func_observer_new (const char         *name,
                          OrreryObserverFunc  func,
                          gpointer            user_data,
                          GDestroyNotify      destroy)
{
  OrreryFuncObserver *self;

  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (func != NULL, NULL);

  self = g_object_new (ORRERY_TYPE_FUNC_OBSERVER, NULL);
  self->name = g_strdup (name);
  self->func = func;
  self->user_data = user_data;
  self->destroy = destroy;
  return ORRERY_OBSERVER (self);
}
