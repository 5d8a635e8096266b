/* orrery-event-bus.h: the event bus.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ORRERY_INSIDE) && !defined(ORRERY_COMPILATION)
#error "Only <orrery.h> can be included directly."
#endif

#include <gio/gio.h>
#include "orrery-event.h"
#include "orrery-observer.h"

G_BEGIN_DECLS

/**
 * ORRERY_BUS_ERROR:
 *
 * The error domain of the event bus.
 */
#define ORRERY_BUS_ERROR (orrery_bus_error_quark ())
ORRERY_EXPORT
GQuark orrery_bus_error_quark (void);

/**
 * OrreryBusError:
 * @ORRERY_BUS_ERROR_OBSERVER_FAILED: an observer failed without saying why
 * @ORRERY_BUS_ERROR_TIMEOUT: an asynchronous observer missed its deadline
 * @ORRERY_BUS_ERROR_DROPPED: an observer's queue was full: the event was
 *   dropped for it
 * @ORRERY_BUS_ERROR_PUBLISH_BUDGET: an observer published more events from
 *   its handlers, while one outermost event was being delivered, than the
 *   bus's #OrreryEventBus:publish-budget; its further publications from
 *   its handlers are refused
 * @ORRERY_BUS_ERROR_SLOW: a synchronous handler took longer than the bus's
 *   #OrreryEventBus:handler-budget-ms (everything else on the main loop
 *   waited for it)
 *
 * Errors reported through #OrreryEventBus::observer-failed.
 */
typedef enum {
  ORRERY_BUS_ERROR_OBSERVER_FAILED,
  ORRERY_BUS_ERROR_TIMEOUT,
  ORRERY_BUS_ERROR_DROPPED,
  ORRERY_BUS_ERROR_PUBLISH_BUDGET,
  ORRERY_BUS_ERROR_SLOW,
} OrreryBusError;

/**
 * ORRERY_EVENT_BUS_DEFAULT_QUEUE_LIMIT:
 *
 * The default bound of an observer's queue.
 */
#define ORRERY_EVENT_BUS_DEFAULT_QUEUE_LIMIT 1024

/**
 * ORRERY_EVENT_BUS_DEFAULT_DEADLINE_MS:
 *
 * The default deadline of an asynchronous delivery, in milliseconds.
 */
#define ORRERY_EVENT_BUS_DEFAULT_DEADLINE_MS 5000

/**
 * ORRERY_EVENT_BUS_DEFAULT_PUBLISH_BUDGET:
 *
 * The default #OrreryEventBus:publish-budget: how many events one observer
 * may publish from its handlers while one outermost event is delivered.
 */
#define ORRERY_EVENT_BUS_DEFAULT_PUBLISH_BUDGET 10000

/**
 * ORRERY_EVENT_BUS_DEFAULT_HANDLER_BUDGET_MS:
 *
 * The default #OrreryEventBus:handler-budget-ms: how long a synchronous
 * handler may take before it is reported, in milliseconds.
 */
#define ORRERY_EVENT_BUS_DEFAULT_HANDLER_BUDGET_MS 1000

#define ORRERY_TYPE_EVENT_BUS (orrery_event_bus_get_type ())
ORRERY_EXPORT
G_DECLARE_FINAL_TYPE (OrreryEventBus, orrery_event_bus, ORRERY, EVENT_BUS, GObject)

ORRERY_EXPORT
OrreryEventBus *orrery_event_bus_new                  (void);
ORRERY_EXPORT
GMainContext   *orrery_event_bus_get_context          (OrreryEventBus         *self);
ORRERY_EXPORT
guint           orrery_event_bus_subscribe            (OrreryEventBus         *self,
                                                       OrreryObserver         *observer,
                                                       const OrreryEventType  *types,
                                                       gsize                   n_types);
ORRERY_EXPORT
guint           orrery_event_bus_subscribe_full       (OrreryEventBus         *self,
                                                       OrreryObserver         *observer,
                                                       const OrreryEventType  *types,
                                                       gsize                   n_types,
                                                       OrreryDeliveryMode      mode,
                                                       guint                   queue_limit,
                                                       guint                   deadline_ms);
ORRERY_EXPORT
gboolean        orrery_event_bus_unsubscribe          (OrreryEventBus         *self,
                                                       guint                   subscription_id);
ORRERY_EXPORT
guint          *orrery_event_bus_list_subscriptions   (OrreryEventBus         *self,
                                                       gsize                  *n_ids);
ORRERY_EXPORT
guint           orrery_event_bus_get_n_subscriptions  (OrreryEventBus         *self);
ORRERY_EXPORT
void            orrery_event_bus_publish              (OrreryEventBus         *self,
                                                       OrreryEvent            *event);
ORRERY_EXPORT
void            orrery_event_bus_publish_async        (OrreryEventBus         *self,
                                                       OrreryEvent            *event,
                                                       GCancellable           *cancellable,
                                                       GAsyncReadyCallback     callback,
                                                       gpointer                user_data);
ORRERY_EXPORT
gboolean        orrery_event_bus_publish_finish       (OrreryEventBus         *self,
                                                       GAsyncResult           *result,
                                                       GError                **error);
ORRERY_EXPORT
gboolean        orrery_event_bus_is_dispatching       (OrreryEventBus         *self);
ORRERY_EXPORT
gboolean        orrery_event_bus_drain                (OrreryEventBus         *self);
ORRERY_EXPORT
guint64         orrery_event_bus_get_published_count  (OrreryEventBus         *self);
ORRERY_EXPORT
GVariant       *orrery_event_bus_get_observer_stats   (OrreryEventBus         *self,
                                                       guint                   subscription_id);
ORRERY_EXPORT
GVariant       *orrery_event_bus_get_stats            (OrreryEventBus         *self);
ORRERY_EXPORT
void            orrery_event_bus_set_timing           (OrreryEventBus         *self,
                                                       gboolean                enabled);
ORRERY_EXPORT
gboolean        orrery_event_bus_get_timing           (OrreryEventBus         *self);
ORRERY_EXPORT
void            orrery_event_bus_set_publish_budget   (OrreryEventBus         *self,
                                                       guint                   budget);
ORRERY_EXPORT
guint           orrery_event_bus_get_publish_budget   (OrreryEventBus         *self);
ORRERY_EXPORT
void            orrery_event_bus_set_handler_budget_ms (OrreryEventBus        *self,
                                                        guint                  budget_ms);
ORRERY_EXPORT
guint           orrery_event_bus_get_handler_budget_ms (OrreryEventBus        *self);

G_END_DECLS
