/* orrery-observer.h: the interface of everything that reacts to events.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ORRERY_INSIDE) && !defined(ORRERY_COMPILATION)
#error "Only <orrery.h> can be included directly."
#endif

#include <gio/gio.h>
#include "orrery-event.h"

G_BEGIN_DECLS

#define ORRERY_TYPE_OBSERVER (orrery_observer_get_type ())
ORRERY_EXPORT
G_DECLARE_INTERFACE (OrreryObserver, orrery_observer, ORRERY, OBSERVER, GObject)

/**
 * OrreryObserverInterface:
 * @g_iface: the parent interface
 * @get_name: a name for logs and reports; the default is the type name
 * @handle_event: handles one event synchronously; returns %FALSE and sets
 *   @error on failure. The default does nothing.
 * @handle_event_async: starts handling one event, for observers that do I/O;
 *   the default runs @handle_event. An observer that overrides it is
 *   asynchronous: the bus waits for it in orrery_event_bus_publish_async()
 *   and gives it a deadline.
 * @handle_event_finish: finishes @handle_event_async
 *
 * The virtual methods of #OrreryObserver.
 */
struct _OrreryObserverInterface
{
  GTypeInterface g_iface;

  const char *(*get_name)            (OrreryObserver       *self);
  gboolean    (*handle_event)        (OrreryObserver       *self,
                                      OrreryEvent          *event,
                                      GError              **error);
  void        (*handle_event_async)  (OrreryObserver       *self,
                                      OrreryEvent          *event,
                                      GCancellable         *cancellable,
                                      GAsyncReadyCallback   callback,
                                      gpointer              user_data);
  gboolean    (*handle_event_finish) (OrreryObserver       *self,
                                      GAsyncResult         *result,
                                      GError              **error);

  /*< private >*/
  gpointer padding[8];
};

ORRERY_EXPORT
const char *orrery_observer_get_name            (OrreryObserver       *self);
ORRERY_EXPORT
gboolean    orrery_observer_handle_event        (OrreryObserver       *self,
                                                 OrreryEvent          *event,
                                                 GError              **error);
ORRERY_EXPORT
void        orrery_observer_handle_event_async  (OrreryObserver       *self,
                                                 OrreryEvent          *event,
                                                 GCancellable         *cancellable,
                                                 GAsyncReadyCallback   callback,
                                                 gpointer              user_data);
ORRERY_EXPORT
gboolean    orrery_observer_handle_event_finish (OrreryObserver       *self,
                                                 GAsyncResult         *result,
                                                 GError              **error);
ORRERY_EXPORT
gboolean    orrery_observer_is_async            (OrreryObserver       *self);

/**
 * OrreryObserverFunc:
 * @event: the event
 * @user_data: (closure): the data given with the function
 * @error: return location for an error
 *
 * A function that handles one event, for orrery_func_observer_new().
 *
 * Returns: %TRUE on success, %FALSE with @error set on failure
 */
typedef gboolean (*OrreryObserverFunc) (OrreryEvent  *event,
                                        gpointer      user_data,
                                        GError      **error);

#define ORRERY_TYPE_FUNC_OBSERVER (orrery_func_observer_get_type ())
ORRERY_EXPORT
G_DECLARE_FINAL_TYPE (OrreryFuncObserver, orrery_func_observer, ORRERY, FUNC_OBSERVER, GObject)

ORRERY_EXPORT
OrreryObserver *orrery_func_observer_new (const char         *name,
                                          OrreryObserverFunc  func,
                                          gpointer            user_data,
                                          GDestroyNotify      destroy);

G_END_DECLS
