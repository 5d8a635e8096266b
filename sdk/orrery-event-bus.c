/* orrery-event-bus.c: the event bus.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-Bus"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "orrery-private.h"

G_DEFINE_QUARK (orrery-bus-error-quark, orrery_bus_error)

typedef struct _PublishOp PublishOp;
typedef struct _Subscription Subscription;

typedef gboolean (*HandleFunc) (OrreryObserver *, OrreryEvent *, GError **);

/* One publish_async() waiting for its event to reach every observer. */
struct _PublishOp
{
  GTask    *task;
  guint     pending;   /* deliveries queued or in flight */
  gboolean  emitted;   /* the signal emission is over */
};

/* One event on its way to one observer (or to the signal, in the bus's
 * reentrancy queue). */
typedef struct
{
  OrreryEvent *event;
  PublishOp   *op;
} Delivery;

struct _Subscription
{
  guint              ref_count;
  OrreryEventBus    *bus;         /* NULL once detached */
  guint              id;
  gulong             handler_id;
  OrreryObserver    *observer;
  HandleFunc         handle_event;
  guint64            mask;
  OrreryDeliveryMode mode;
  gboolean           is_async;
  gboolean           queued;      /* goes through the queue, not called in place */
  guint              queue_limit;
  guint              deadline_ms;

  GQueue             queue;       /* of Delivery */
  gboolean           pumping;
  gboolean           in_flight;
  Delivery          *current;
  guint64            generation;
  GCancellable      *cancellable;
  GSource           *deadline_source;
  GSource           *drain_source;
  gint64             started_ns;

  guint64            delivered;
  guint64            failed;
  guint64            dropped;
  guint64            timed_out;
  guint64            slow;
  guint64            handling_ns;

  guint64            budget_emission;  /* the outermost event nested counts for */
  guint              nested;           /* publications from its handlers in it */
  gboolean           runaway;          /* over the budget: publications refused */
};

struct _OrreryEventBus
{
  GObject       parent_instance;

  GMainContext *context;
  pthread_t     owner;
  GHashTable   *subscriptions;   /* id -> Subscription */
  guint         next_id;
  guint64       sequence;
  gboolean      dispatching;
  gboolean     *alive;           /* the outermost publish's, while it runs */
  GQueue        pending;         /* of Delivery: published from a handler */
  PublishOp    *current_op;
  gboolean      timing;

  /* Budgets */
  Subscription *current_sub;       /* whose handler runs now, if any */
  OrreryEvent  *current_event;     /* the event it handles */
  guint64       emission;          /* counts outermost publications */
  guint         publish_budget;    /* 0: none */
  guint64       anon_emission;     /* the same for handlers that are no */
  guint         anon_nested;       /*   subscription (GSignal handlers) */
  gint64        handler_budget_ns; /* 0: none */

  guint64       failures;
  guint64       drops;
  guint64       timeouts;
  guint64       slows;
  guint64       refused;
};

/**
 * OrreryEventBus:
 *
 * The event bus.
 *
 * The bus is one GObject with one detailed signal, #OrreryEventBus::event, whose detail is
 * the nick of the event's type. Scripts connect to it directly; observers
 * are connected to it by orrery_event_bus_subscribe(), one handler per
 * subscription: on `event::NICK` when the subscription asks for one type
 * (GSignal filters by detail), on `event` with a bit mask otherwise, so each
 * matching event reaches the observer once whatever mix of types it asked.
 *
 * Ordering: publishing from inside a handler queues the event; the outermost
 * publish drains the queue, so every handler sees one total order and each
 * event's sequence number is its place in that order.
 *
 * Isolation: a synchronous observer is called inside the emission; an
 * asynchronous one (or one subscribed with ORRERY_DELIVERY_QUEUED) gets a
 * bounded queue of its own, drained one event at a time, each asynchronous
 * delivery with a deadline. Failures, drops and missed deadlines are logged,
 * counted and reported through "observer-failed"; nothing stops the other
 * observers or the publisher.
 *
 * Budgets: a synchronous handler that takes longer than handler-budget-ms
 * (it held the whole main loop: dispatch, timers, completions) is reported
 * (ORRERY_BUS_ERROR_SLOW) once it returns; it cannot be interrupted here.
 * Publications made from inside handlers are counted per publishing
 * observer (the subscription whose handler is running) and per outermost
 * event: past publish-budget the observer is reported
 * (ORRERY_BUS_ERROR_PUBLISH_BUDGET) and what it publishes from its handlers
 * is refused from then on, so an observer that answers each event with
 * another cannot keep the bus draining for ever.
 */
G_DEFINE_FINAL_TYPE (OrreryEventBus, orrery_event_bus, G_TYPE_OBJECT)

enum {
  SIGNAL_EVENT,
  SIGNAL_OBSERVER_FAILED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

enum {
  PROP_0,
  PROP_TIMING,
  PROP_PUBLISH_BUDGET,
  PROP_HANDLER_BUDGET_MS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void sub_pump (Subscription *sub, guint budget);

static inline gint64
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

/* A few nanoseconds a read (no system call, a tick's resolution): enough
 * to tell a handler that took a second from one that did not, on every
 * delivery. */
static inline gint64
coarse_now_ns (void)
{
  struct timespec ts;

#ifdef CLOCK_MONOTONIC_COARSE
  clock_gettime (CLOCK_MONOTONIC_COARSE, &ts);
#else
  clock_gettime (CLOCK_MONOTONIC, &ts);
#endif
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

/* ------------------------------------------------------------------------ */
/* Publish operations and deliveries */

static void
op_maybe_complete (PublishOp *op)
{
  if (!op->emitted || op->pending > 0)
    return;
  g_task_return_boolean (op->task, TRUE);
  g_object_unref (op->task);
  g_free (op);
}

static Delivery *
delivery_new (OrreryEvent *event,
              PublishOp   *op)
{
  Delivery *d = g_new (Delivery, 1);

  d->event = orrery_event_ref (event);
  d->op = op;
  if (op != NULL)
    op->pending++;
  return d;
}

static void
delivery_done (Delivery *d)
{
  PublishOp *op = d->op;

  orrery_event_unref (d->event);
  g_free (d);
  if (op != NULL)
    {
      op->pending--;
      op_maybe_complete (op);
    }
}

/* ------------------------------------------------------------------------ */
/* Subscriptions */

static Subscription *
sub_ref (Subscription *sub)
{
  sub->ref_count++;
  return sub;
}

static void
sub_unref (Subscription *sub)
{
  if (--sub->ref_count > 0)
    return;
  g_assert (sub->bus == NULL);
  g_clear_object (&sub->observer);
  g_free (sub);
}

static void
sub_closure_notify (gpointer  data,
                    GClosure *closure)
{
  sub_unref (data);
}

static void
sub_report (Subscription *sub,
            OrreryEvent  *event,
            GError       *error)
{
  OrreryEventBus *bus = sub->bus;
  g_autofree char *desc = orrery_event_to_string (event);
  gboolean log = TRUE;

  if (g_error_matches (error, ORRERY_BUS_ERROR, ORRERY_BUS_ERROR_DROPPED))
    {
      sub->dropped++;
      bus->drops++;
      /* A flood of drops is logged at 1, 2, 4, 8, ... so the log stays
       * readable; every drop is still counted and signalled. */
      log = (sub->dropped & (sub->dropped - 1)) == 0;
    }
  else if (g_error_matches (error, ORRERY_BUS_ERROR, ORRERY_BUS_ERROR_TIMEOUT))
    {
      sub->timed_out++;
      bus->timeouts++;
    }
  else if (g_error_matches (error, ORRERY_BUS_ERROR, ORRERY_BUS_ERROR_SLOW))
    {
      sub->slow++;
      bus->slows++;
    }
  else
    {
      sub->failed++;
      bus->failures++;
    }

  if (log)
    g_warning ("Observer “%s” failed on event %s: %s",
               orrery_observer_get_name (sub->observer), desc, error->message);

  g_signal_emit (bus, signals[SIGNAL_OBSERVER_FAILED], 0, sub->observer, event, error);
  g_error_free (error);
}

static void
sub_call_sync (Subscription *sub,
               OrreryEvent  *event)
{
  OrreryEventBus *bus = sub->bus;
  Subscription *outer_sub = bus->current_sub;
  OrreryEvent *outer_event = bus->current_event;
  GError *error = NULL;
  gint64 t0 = 0, dt = 0;
  gboolean ok;

  bus->current_sub = sub;
  bus->current_event = event;
  if (G_UNLIKELY (bus->timing))
    {
      t0 = now_ns ();
      ok = sub->handle_event (sub->observer, event, &error);
      dt = now_ns () - t0;
      sub->handling_ns += (guint64) dt;
    }
  else if (G_LIKELY (bus->handler_budget_ns > 0))
    {
      t0 = coarse_now_ns ();
      ok = sub->handle_event (sub->observer, event, &error);
      dt = coarse_now_ns () - t0;
    }
  else
    ok = sub->handle_event (sub->observer, event, &error);
  bus->current_sub = outer_sub;
  bus->current_event = outer_event;

  /* The handler may have unsubscribed itself. */
  if (G_UNLIKELY (bus->handler_budget_ns > 0 && dt > bus->handler_budget_ns) && sub->bus != NULL)
    sub_report (sub, event,
                g_error_new (ORRERY_BUS_ERROR, ORRERY_BUS_ERROR_SLOW,
                             "its handler took %.3f s, over its budget of %.3f s: the whole main "
                             "loop (dispatch, timers, task completions) waited for it",
                             dt / 1e9, bus->handler_budget_ns / 1e9));

  if (G_LIKELY (ok))
    {
      sub->delivered++;
      return;
    }
  if (error == NULL)
    error = g_error_new (ORRERY_BUS_ERROR, ORRERY_BUS_ERROR_OBSERVER_FAILED,
                         "handler failed without an error (an exception raised in a language binding?)");
  if (sub->bus != NULL)
    sub_report (sub, event, error);
  else
    g_error_free (error);
}

static void
sub_end_in_flight (Subscription *sub)
{
  Delivery *d = sub->current;

  sub->in_flight = FALSE;
  sub->current = NULL;
  sub->generation++;
  if (sub->deadline_source != NULL)
    {
      g_source_destroy (sub->deadline_source);
      g_clear_pointer (&sub->deadline_source, g_source_unref);
    }
  if (sub->bus != NULL && sub->bus->timing)
    sub->handling_ns += (guint64) (now_ns () - sub->started_ns);
  g_clear_object (&sub->cancellable);
  delivery_done (d);
}

typedef struct
{
  Subscription *sub;
  guint64       generation;
} AsyncCall;

static void
sub_async_done (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  AsyncCall *call = user_data;
  Subscription *sub = call->sub;
  GError *error = NULL;
  gboolean ok;

  ok = orrery_observer_handle_event_finish (ORRERY_OBSERVER (source), result, &error);

  if (sub->bus == NULL || !sub->in_flight || call->generation != sub->generation)
    {
      /* Late: past its deadline, or unsubscribed. Already accounted for. */
      g_clear_error (&error);
    }
  else
    {
      g_autoptr(OrreryEvent) event = orrery_event_ref (sub->current->event);

      sub_end_in_flight (sub);
      if (ok)
        sub->delivered++;
      else
        {
          if (error == NULL)
            error = g_error_new (ORRERY_BUS_ERROR, ORRERY_BUS_ERROR_OBSERVER_FAILED,
                                 "handler failed without an error (an exception raised in a language binding?)");
          sub_report (sub, event, error);
        }
      if (sub->bus != NULL)
        sub_pump (sub, G_MAXUINT);
    }

  sub_unref (call->sub);
  g_free (call);
}

static gboolean
sub_deadline_cb (gpointer user_data)
{
  Subscription *sub = user_data;
  g_autoptr(GCancellable) cancellable = g_steal_pointer (&sub->cancellable);
  g_autoptr(OrreryEvent) event = orrery_event_ref (sub->current->event);
  guint deadline = sub->deadline_ms;

  /* sub_end_in_flight() would destroy this very source: let it go first. */
  g_clear_pointer (&sub->deadline_source, g_source_unref);
  sub_end_in_flight (sub);
  g_cancellable_cancel (cancellable);
  sub_report (sub, event,
              g_error_new (ORRERY_BUS_ERROR, ORRERY_BUS_ERROR_TIMEOUT,
                           "no answer within its deadline of %u ms; no longer waited for",
                           deadline));
  if (sub->bus != NULL)
    sub_pump (sub, G_MAXUINT);
  return G_SOURCE_REMOVE;
}

static void
sub_start_async (Subscription *sub,
                 Delivery     *d)
{
  AsyncCall *call = g_new (AsyncCall, 1);

  sub->in_flight = TRUE;
  sub->current = d;
  sub->generation++;
  sub->cancellable = g_cancellable_new ();
  if (sub->bus->timing)
    sub->started_ns = now_ns ();
  if (sub->deadline_ms > 0)
    {
      sub->deadline_source = g_timeout_source_new (sub->deadline_ms);
      g_source_set_static_name (sub->deadline_source, "[orrery] observer deadline");
      g_source_set_callback (sub->deadline_source, sub_deadline_cb, sub, NULL);
      g_source_attach (sub->deadline_source, sub->bus->context);
    }

  call->sub = sub_ref (sub);
  call->generation = sub->generation;
  {
    OrreryEventBus *bus = sub->bus;
    Subscription *outer_sub = bus->current_sub;
    OrreryEvent *outer_event = bus->current_event;

    bus->current_sub = sub;
    bus->current_event = d->event;
    orrery_observer_handle_event_async (sub->observer, d->event, sub->cancellable,
                                        sub_async_done, call);
    bus->current_sub = outer_sub;
    bus->current_event = outer_event;
  }
}

/* Hands queued events to the observer, at most @budget of them, one at a
 * time: an asynchronous observer gets the next one when it has finished the
 * previous one. */
static void
sub_pump (Subscription *sub,
          guint         budget)
{
  if (sub->pumping)
    return;
  sub->pumping = TRUE;
  sub_ref (sub);

  while (budget > 0 && sub->bus != NULL && !sub->in_flight)
    {
      Delivery *d = g_queue_pop_head (&sub->queue);

      if (d == NULL)
        break;
      budget--;
      if (sub->is_async)
        sub_start_async (sub, d);
      else
        {
          sub_call_sync (sub, d->event);
          delivery_done (d);
        }
    }

  sub->pumping = FALSE;
  sub_unref (sub);
}

static gboolean
sub_drain_cb (gpointer user_data)
{
  Subscription *sub = user_data;

  /* A bounded batch per main-loop iteration keeps a slow observer from
   * starving everything else on the loop. */
  sub_pump (sub, 64);
  if (sub->bus != NULL && !sub->in_flight && sub->queue.length > 0)
    return G_SOURCE_CONTINUE;
  g_clear_pointer (&sub->drain_source, g_source_unref);
  return G_SOURCE_REMOVE;
}

static void
sub_schedule_drain (Subscription *sub)
{
  if (sub->drain_source != NULL)
    return;
  sub->drain_source = g_idle_source_new ();
  g_source_set_static_name (sub->drain_source, "[orrery] observer queue");
  g_source_set_callback (sub->drain_source, sub_drain_cb, sub, NULL);
  g_source_attach (sub->drain_source, sub->bus->context);
}

static void
sub_enqueue (Subscription *sub,
             OrreryEvent  *event,
             PublishOp    *op)
{
  if (sub->queue.length + (sub->in_flight ? 1 : 0) >= sub->queue_limit)
    {
      sub_report (sub, event,
                  g_error_new (ORRERY_BUS_ERROR, ORRERY_BUS_ERROR_DROPPED,
                               "queue full (%u events): event dropped for this observer",
                               sub->queue_limit));
      return;
    }

  g_queue_push_tail (&sub->queue, delivery_new (event, op));
  if (sub->mode == ORRERY_DELIVERY_SYNC)
    sub_pump (sub, G_MAXUINT);
  else
    sub_schedule_drain (sub);
}

/* Cuts the subscription from the bus: no further event reaches it, queued
 * events are released and an asynchronous delivery in flight is cancelled
 * and no longer waited for. */
static void
sub_detach (Subscription *sub)
{
  OrreryEventBus *bus = sub->bus;
  Delivery *d;

  if (bus == NULL)
    return;

  if (sub->handler_id != 0)
    g_signal_handler_disconnect (bus, sub->handler_id);
  sub->handler_id = 0;
  sub->bus = NULL;

  if (sub->drain_source != NULL)
    {
      g_source_destroy (sub->drain_source);
      g_clear_pointer (&sub->drain_source, g_source_unref);
    }
  if (sub->in_flight)
    {
      g_autoptr(GCancellable) cancellable = g_steal_pointer (&sub->cancellable);

      sub_end_in_flight (sub);
      g_cancellable_cancel (cancellable);
    }
  while ((d = g_queue_pop_head (&sub->queue)) != NULL)
    delivery_done (d);
}

static void
on_bus_event (OrreryEventBus *bus,
              OrreryEvent    *event,
              gpointer        user_data)
{
  Subscription *sub = user_data;

  if (!(sub->mask & (G_GUINT64_CONSTANT (1) << _orrery_event_peek_type (event))))
    return;
  if (G_LIKELY (!sub->queued))
    sub_call_sync (sub, event);
  else
    sub_enqueue (sub, event, bus->current_op);
}

/* ------------------------------------------------------------------------ */
/* Publishing */

/* @alive turns FALSE if a handler dropped the bus's last reference: the
 * bus is gone once the emission returns. */
static void
bus_emit (OrreryEventBus *self,
          OrreryEvent    *event,
          PublishOp      *op,
          const gboolean *alive)
{
  self->current_op = op;
  g_signal_emit (self, signals[SIGNAL_EVENT],
                 _orrery_event_type_quark (_orrery_event_peek_type (event)), event);
  if (*alive)
    self->current_op = NULL;
  if (op != NULL)
    {
      op->emitted = TRUE;
      op_maybe_complete (op);
    }
}

/* Whether a publication from inside a handler fits the budget of whoever
 * makes it (see the top of this file). */
static gboolean
nested_publish_allowed (OrreryEventBus *self,
                        OrreryEvent    *event)
{
  Subscription *sub = self->current_sub;

  if (self->publish_budget == 0)
    return TRUE;
  if (sub == NULL || sub->bus == NULL)
    {
      /* A plain GSignal handler (a script): counted together. */
      if (self->anon_emission != self->emission)
        {
          self->anon_emission = self->emission;
          self->anon_nested = 0;
        }
      if (++self->anon_nested <= self->publish_budget)
        return TRUE;
      if (self->anon_nested == self->publish_budget + 1)
        g_warning ("Handlers of the bus published more than %u events while one event was "
                   "delivered: further events they publish during it are refused",
                   self->publish_budget);
      return FALSE;
    }
  if (sub->runaway)
    return FALSE;
  if (sub->budget_emission != self->emission)
    {
      sub->budget_emission = self->emission;
      sub->nested = 0;
    }
  if (++sub->nested <= self->publish_budget)
    return TRUE;
  sub->runaway = TRUE;
  sub_report (sub, self->current_event ? self->current_event : event,
              g_error_new (ORRERY_BUS_ERROR, ORRERY_BUS_ERROR_PUBLISH_BUDGET,
                           "published more than %u events from its handlers while one event "
                           "was delivered (a loop?): what it publishes from its handlers is "
                           "refused from now on", self->publish_budget));
  return FALSE;
}

static void
bus_publish_here (OrreryEventBus *self,
                  OrreryEvent    *event,
                  PublishOp      *op)
{
  gboolean alive = TRUE;
  Delivery *d;

  if (self->dispatching && !nested_publish_allowed (self, event))
    {
      self->refused++;
      g_debug ("Refused event %s: over the publish budget",
               orrery_event_get_type_nick (event));
      if (op != NULL)
        {
          g_task_return_new_error (op->task, ORRERY_BUS_ERROR, ORRERY_BUS_ERROR_PUBLISH_BUDGET,
                                   "refused: the publisher is over its publish budget");
          g_object_unref (op->task);
          g_free (op);
        }
      return;
    }

  _orrery_event_seal (event, ++self->sequence);

  if (self->dispatching)
    {
      /* Not a delivery to an observer: the op is not pending on it, it
       * completes once its emission is over. */
      d = g_new (Delivery, 1);
      d->event = orrery_event_ref (event);
      d->op = op;
      g_queue_push_tail (&self->pending, d);
      return;
    }

  /* No reference of its own on the bus (two atomic operations and the
   * type checks of g_object_ref/unref on every event): each emission holds
   * one while handlers run, and if a handler drops the last one, dispose
   * clears @alive and nothing here touches the bus again. */
  self->dispatching = TRUE;
  self->emission++;
  self->alive = &alive;
  bus_emit (self, event, op, &alive);
  /* Read inline first: nothing was published from a handler, usually. */
  while (alive && self->pending.head != NULL && (d = g_queue_pop_head (&self->pending)) != NULL)
    {
      bus_emit (self, d->event, d->op, &alive);
      orrery_event_unref (d->event);
      g_free (d);
    }
  if (!alive)
    return;
  self->alive = NULL;
  self->dispatching = FALSE;
}

static inline gboolean
bus_is_home (OrreryEventBus *self)
{
  return pthread_equal (pthread_self (), self->owner) || g_main_context_is_owner (self->context);
}

typedef struct
{
  OrreryEventBus *bus;
  OrreryEvent    *event;
  PublishOp      *op;
} Marshal;

static gboolean
marshal_dispatch (gpointer user_data)
{
  Marshal *m = user_data;

  bus_publish_here (m->bus, m->event, m->op);
  orrery_event_unref (m->event);
  g_object_unref (m->bus);
  g_free (m);
  return G_SOURCE_REMOVE;
}

static void
bus_publish (OrreryEventBus *self,
             OrreryEvent    *event,
             PublishOp      *op)
{
  Marshal *m;
  GSource *source;

  if (G_LIKELY (bus_is_home (self)))
    {
      bus_publish_here (self, event, op);
      return;
    }

  /* From another thread: seal now so the publisher cannot change the event
   * any more, and deliver from an idle source on the bus's context, so every
   * handler runs on the bus's thread. */
  _orrery_event_seal (event, 0);
  m = g_new (Marshal, 1);
  m->bus = g_object_ref (self);
  m->event = orrery_event_ref (event);
  m->op = op;
  source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_static_name (source, "[orrery] publish from thread");
  g_source_set_callback (source, marshal_dispatch, m, NULL);
  g_source_attach (source, self->context);
  g_source_unref (source);
}

/**
 * orrery_event_bus_publish:
 * @self: a bus
 * @event: the event; it is sealed and can no longer change
 *
 * Publishes @event. Called on the bus's thread outside any handler, it
 * delivers the event to every handler of #OrreryEventBus::event and to every
 * synchronous observer before it returns (asynchronous and queued observers
 * have their delivery started or queued). Called from inside a handler, it
 * queues the event: it is delivered right after the current one, so every
 * observer sees one total order. Called from another thread, it hands the
 * event to the bus's main context and returns at once. From a handler of an
 * observer over its #OrreryEventBus:publish-budget, the event is refused
 * (not delivered, not sealed).
 */
void
orrery_event_bus_publish (OrreryEventBus *self,
                          OrreryEvent    *event)
{
  g_return_if_fail (ORRERY_IS_EVENT_BUS (self));
  g_return_if_fail (event != NULL);
  g_return_if_fail (!event->sealed);

  bus_publish (self, event, NULL);
}

/**
 * orrery_event_bus_publish_async:
 * @self: a bus
 * @event: the event; it is sealed and can no longer change
 * @cancellable: (nullable): a cancellable
 * @callback: (scope async): called when every observer has finished with
 *   the event
 * @user_data: (closure): data for @callback
 *
 * Publishes @event like orrery_event_bus_publish() and completes when every
 * observer, asynchronous ones included, has finished with it (or missed its
 * deadline, or was unsubscribed).
 */
void
orrery_event_bus_publish_async (OrreryEventBus      *self,
                                OrreryEvent         *event,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  PublishOp *op;

  g_return_if_fail (ORRERY_IS_EVENT_BUS (self));
  g_return_if_fail (event != NULL);
  g_return_if_fail (!orrery_event_is_published (event));

  op = g_new0 (PublishOp, 1);
  op->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (op->task, orrery_event_bus_publish_async);
  g_task_set_task_data (op->task, orrery_event_ref (event), (GDestroyNotify) orrery_event_unref);
  bus_publish (self, event, op);
}

/**
 * orrery_event_bus_publish_finish:
 * @self: a bus
 * @result: the result given to the callback
 * @error: return location for an error
 *
 * Returns: %TRUE once every observer has finished with the event; %FALSE
 *   only if the cancellable was cancelled
 */
gboolean
orrery_event_bus_publish_finish (OrreryEventBus  *self,
                                 GAsyncResult    *result,
                                 GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ------------------------------------------------------------------------ */
/* Subscribing */

/**
 * orrery_event_bus_subscribe:
 * @self: a bus
 * @observer: the observer
 * @types: (array length=n_types) (nullable): the event types it wants;
 *   none means every type
 * @n_types: the length of @types
 *
 * Subscribes @observer with the default settings: synchronous delivery,
 * a queue of %ORRERY_EVENT_BUS_DEFAULT_QUEUE_LIMIT events and a deadline of
 * %ORRERY_EVENT_BUS_DEFAULT_DEADLINE_MS for asynchronous observers.
 *
 * Returns: the subscription's id, for orrery_event_bus_unsubscribe()
 */
guint
orrery_event_bus_subscribe (OrreryEventBus        *self,
                            OrreryObserver        *observer,
                            const OrreryEventType *types,
                            gsize                  n_types)
{
  return orrery_event_bus_subscribe_full (self, observer, types, n_types,
                                          ORRERY_DELIVERY_SYNC,
                                          ORRERY_EVENT_BUS_DEFAULT_QUEUE_LIMIT,
                                          ORRERY_EVENT_BUS_DEFAULT_DEADLINE_MS);
}

/**
 * orrery_event_bus_subscribe_full:
 * @self: a bus
 * @observer: the observer
 * @types: (array length=n_types) (nullable): the event types it wants;
 *   none means every type
 * @n_types: the length of @types
 * @mode: how events are handed to the observer
 * @queue_limit: the bound of its queue (asynchronous or queued delivery);
 *   0 for the default. Events past it are dropped for this observer,
 *   counted and reported.
 * @deadline_ms: how long an asynchronous delivery may take; 0 for no
 *   deadline. Past it the delivery is cancelled, reported and no longer
 *   waited for.
 *
 * Subscribes @observer to the events of the given types. Each matching
 * event is delivered to it exactly once per subscription, whatever types
 * are listed (duplicates are fine).
 *
 * Returns: the subscription's id, for orrery_event_bus_unsubscribe()
 */
guint
orrery_event_bus_subscribe_full (OrreryEventBus        *self,
                                 OrreryObserver        *observer,
                                 const OrreryEventType *types,
                                 gsize                  n_types,
                                 OrreryDeliveryMode     mode,
                                 guint                  queue_limit,
                                 guint                  deadline_ms)
{
  Subscription *sub;
  guint64 mask = 0;
  GQuark detail = 0;
  GClosure *closure;

  g_return_val_if_fail (ORRERY_IS_EVENT_BUS (self), 0);
  g_return_val_if_fail (ORRERY_IS_OBSERVER (observer), 0);
  g_return_val_if_fail (types != NULL || n_types == 0, 0);
  g_return_val_if_fail (mode == ORRERY_DELIVERY_SYNC || mode == ORRERY_DELIVERY_QUEUED, 0);

  for (gsize i = 0; i < n_types; i++)
    {
      g_return_val_if_fail ((guint) types[i] < ORRERY_EVENT_TYPE_COUNT, 0);
      mask |= G_GUINT64_CONSTANT (1) << types[i];
    }
  if (mask == 0)
    mask = (G_GUINT64_CONSTANT (1) << ORRERY_EVENT_TYPE_COUNT) - 1;
  else if ((mask & (mask - 1)) == 0)
    detail = _orrery_event_type_quark (types[0]);

  sub = g_new0 (Subscription, 1);
  sub->ref_count = 1;
  sub->bus = self;
  sub->id = ++self->next_id;
  sub->observer = g_object_ref (observer);
  sub->handle_event = ORRERY_OBSERVER_GET_IFACE (observer)->handle_event;
  sub->mask = mask;
  sub->mode = mode;
  sub->is_async = orrery_observer_is_async (observer);
  sub->queued = sub->is_async || mode == ORRERY_DELIVERY_QUEUED;
  sub->queue_limit = queue_limit > 0 ? queue_limit : ORRERY_EVENT_BUS_DEFAULT_QUEUE_LIMIT;
  sub->deadline_ms = deadline_ms;
  g_queue_init (&sub->queue);

  closure = g_cclosure_new (G_CALLBACK (on_bus_event), sub_ref (sub), sub_closure_notify);
  sub->handler_id = g_signal_connect_closure_by_id (self, signals[SIGNAL_EVENT],
                                                    detail, closure, FALSE);
  g_hash_table_insert (self->subscriptions, GUINT_TO_POINTER (sub->id), sub);

  g_debug ("Subscribed “%s” as #%u (%s, %s)",
           orrery_observer_get_name (observer), sub->id,
           sub->is_async ? "async" : "sync",
           mode == ORRERY_DELIVERY_QUEUED ? "queued" : "in place");
  return sub->id;
}

/**
 * orrery_event_bus_unsubscribe:
 * @self: a bus
 * @subscription_id: an id from orrery_event_bus_subscribe()
 *
 * Ends a subscription. Safe at any time, including from inside a handler
 * during an emission: the observer receives nothing after this call, its
 * queued events are released and an asynchronous delivery in flight is
 * cancelled and no longer waited for.
 *
 * Returns: whether @subscription_id was a subscription of @self
 */
gboolean
orrery_event_bus_unsubscribe (OrreryEventBus *self,
                              guint           subscription_id)
{
  Subscription *sub;

  g_return_val_if_fail (ORRERY_IS_EVENT_BUS (self), FALSE);

  sub = g_hash_table_lookup (self->subscriptions, GUINT_TO_POINTER (subscription_id));
  if (sub == NULL)
    return FALSE;
  g_hash_table_steal (self->subscriptions, GUINT_TO_POINTER (subscription_id));
  sub_detach (sub);
  sub_unref (sub);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Draining at the end of a run */

static gint
compare_sub_id (gconstpointer a,
                gconstpointer b)
{
  const Subscription *x = *(Subscription * const *) a, *y = *(Subscription * const *) b;

  return x->id < y->id ? -1 : x->id > y->id;
}

/* The subscriptions with events queued or in flight, oldest first, each
 * with a reference (a handler may unsubscribe any of them). */
static GPtrArray *
subs_with_pending (OrreryEventBus *self)
{
  GPtrArray *subs = g_ptr_array_new_with_free_func ((GDestroyNotify) sub_unref);
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->subscriptions);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Subscription *sub = value;

      if (sub->queued && (sub->in_flight || sub->queue.length > 0))
        g_ptr_array_add (subs, sub_ref (sub));
    }
  g_ptr_array_sort (subs, compare_sub_id);
  return subs;
}

/* Past its deadline at the end of a run: what is still queued for it is
 * dropped, a delivery in flight is cancelled and no longer waited for, and
 * that is reported once. */
static void
sub_give_up (Subscription *sub,
             guint        deadline_ms)
{
  Delivery *first = sub->in_flight ? sub->current : g_queue_peek_head (&sub->queue);
  g_autoptr(OrreryEvent) event = NULL;
  guint n = sub->queue.length + (sub->in_flight ? 1 : 0);
  Delivery *d;

  if (first == NULL)
    return;
  event = orrery_event_ref (first->event);
  if (sub->in_flight)
    {
      g_autoptr(GCancellable) cancellable = g_steal_pointer (&sub->cancellable);

      sub_end_in_flight (sub);
      g_cancellable_cancel (cancellable);
    }
  while ((d = g_queue_pop_head (&sub->queue)) != NULL)
    delivery_done (d);
  /* One report for the lot (it counts one drop: the others are added). */
  sub_report (sub, event,
              g_error_new (ORRERY_BUS_ERROR, ORRERY_BUS_ERROR_DROPPED,
                           "%u events still not delivered %u ms after the bus began to drain: dropped",
                           n, deadline_ms));
  sub->dropped += n - 1;
  if (sub->bus != NULL)
    sub->bus->drops += n - 1;
}

static gboolean
drain_wake_cb (gpointer user_data)
{
  return G_SOURCE_REMOVE;
}

/**
 * orrery_event_bus_drain:
 * @self: a bus
 *
 * Delivers what is still queued for queued and asynchronous observers,
 * in order, before a program unsubscribes them or exits: events published
 * at the end of a run (its last event among them) are otherwise still in
 * their queues when the run's callback returns, and unsubscribing releases
 * them undelivered.
 *
 * Queued observers with a synchronous handler are called here, one event
 * after the other; asynchronous ones are waited for, iterating the bus's
 * main context. Events their handlers publish are delivered too. Each
 * observer is given its deadline (%ORRERY_EVENT_BUS_DEFAULT_DEADLINE_MS if
 * it has none) from the start of the drain: what is still queued for it
 * then is dropped and reported through #OrreryEventBus::observer-failed
 * (%ORRERY_BUS_ERROR_DROPPED), so the drain ends within the longest
 * deadline. Call it on the bus's thread, outside any handler.
 *
 * Returns: %TRUE if every queued event was delivered (or its delivery
 *   ended: answered, failed or timed out), %FALSE if some were dropped
 */
gboolean
orrery_event_bus_drain (OrreryEventBus *self)
{
  gint64 start;
  gboolean all = TRUE;

  g_return_val_if_fail (ORRERY_IS_EVENT_BUS (self), FALSE);
  g_return_val_if_fail (bus_is_home (self), FALSE);
  g_return_val_if_fail (!self->dispatching, FALSE);

  g_object_ref (self);
  start = g_get_monotonic_time ();
  for (;;)
    {
      g_autoptr(GPtrArray) subs = subs_with_pending (self);
      gint64 elapsed_ms = (g_get_monotonic_time () - start) / 1000;
      gint64 wait_ms = -1;

      if (subs->len == 0)
        break;
      for (guint i = 0; i < subs->len; i++)
        {
          Subscription *sub = subs->pdata[i];
          guint deadline = sub->deadline_ms > 0 ? sub->deadline_ms : ORRERY_EVENT_BUS_DEFAULT_DEADLINE_MS;

          if (sub->bus == NULL)
            continue;
          if (elapsed_ms >= deadline)
            {
              all = FALSE;
              sub_give_up (sub, deadline);
              continue;
            }
          /* A bounded batch, so the deadline is looked at again. */
          sub_pump (sub, 256);
          if (sub->bus != NULL && sub->in_flight)
            wait_ms = wait_ms < 0 ? deadline - elapsed_ms : MIN (wait_ms, deadline - elapsed_ms);
        }
      if (wait_ms >= 0)
        {
          /* An asynchronous delivery in flight: its answer (or its own
           * deadline) comes from the main context; wake up at this
           * drain's deadline at the latest. */
          GSource *wake = g_timeout_source_new ((guint) MAX (wait_ms, 1));

          g_source_set_static_name (wake, "[orrery] bus drain deadline");
          g_source_set_callback (wake, drain_wake_cb, NULL, NULL);
          g_source_attach (wake, self->context);
          g_main_context_iteration (self->context, TRUE);
          g_source_destroy (wake);
          g_source_unref (wake);
        }
    }
  g_object_unref (self);
  return all;
}

static int
compare_uint (gconstpointer a,
              gconstpointer b)
{
  guint x = *(const guint *) a, y = *(const guint *) b;

  return x < y ? -1 : x > y;
}

/**
 * orrery_event_bus_list_subscriptions:
 * @self: a bus
 * @n_ids: (out): the number of ids returned
 *
 * The ids of the current subscriptions, oldest first, for
 * orrery_event_bus_get_observer_stats().
 *
 * Returns: (array length=n_ids) (transfer full): the ids
 */
guint *
orrery_event_bus_list_subscriptions (OrreryEventBus *self,
                                     gsize          *n_ids)
{
  GHashTableIter iter;
  gpointer key;
  guint *ids;
  gsize n = 0;

  g_return_val_if_fail (ORRERY_IS_EVENT_BUS (self), NULL);
  g_return_val_if_fail (n_ids != NULL, NULL);

  ids = g_new (guint, g_hash_table_size (self->subscriptions) + 1);
  g_hash_table_iter_init (&iter, self->subscriptions);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    ids[n++] = GPOINTER_TO_UINT (key);
  qsort (ids, n, sizeof (guint), compare_uint);
  *n_ids = n;
  return ids;
}

/**
 * orrery_event_bus_get_n_subscriptions:
 * @self: a bus
 *
 * Returns: the number of observer subscriptions
 */
guint
orrery_event_bus_get_n_subscriptions (OrreryEventBus *self)
{
  g_return_val_if_fail (ORRERY_IS_EVENT_BUS (self), 0);
  return g_hash_table_size (self->subscriptions);
}

/* ------------------------------------------------------------------------ */
/* Statistics */

/**
 * orrery_event_bus_is_dispatching:
 * @self: a bus
 *
 * Whether the bus is delivering events right now: code running inside a
 * handler sees %TRUE, and what it publishes is queued behind the current
 * event.
 *
 * Returns: %TRUE during an emission
 */
gboolean
orrery_event_bus_is_dispatching (OrreryEventBus *self)
{
  g_return_val_if_fail (ORRERY_IS_EVENT_BUS (self), FALSE);
  return self->dispatching;
}

/**
 * orrery_event_bus_get_published_count:
 * @self: a bus
 *
 * Returns: how many events were delivered so far (the last sequence number)
 */
guint64
orrery_event_bus_get_published_count (OrreryEventBus *self)
{
  g_return_val_if_fail (ORRERY_IS_EVENT_BUS (self), 0);
  return self->sequence;
}

/**
 * orrery_event_bus_get_observer_stats:
 * @self: a bus
 * @subscription_id: a subscription id
 *
 * The counters of one subscription, as an `a{sv}` dictionary: `name` (s),
 * `delivered`, `failed`, `dropped`, `timed-out`, `slow` (handlers over the
 * handler budget), `handling-ns` (t; the time
 * spent in the observer, counted only while timing is on) and `queued` (u).
 *
 * Returns: (transfer full) (nullable): the counters, or %NULL if there is no
 *   such subscription
 */
GVariant *
orrery_event_bus_get_observer_stats (OrreryEventBus *self,
                                     guint           subscription_id)
{
  Subscription *sub;
  GVariantDict dict;

  g_return_val_if_fail (ORRERY_IS_EVENT_BUS (self), NULL);

  sub = g_hash_table_lookup (self->subscriptions, GUINT_TO_POINTER (subscription_id));
  if (sub == NULL)
    return NULL;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "name", "s", orrery_observer_get_name (sub->observer));
  g_variant_dict_insert (&dict, "delivered", "t", sub->delivered);
  g_variant_dict_insert (&dict, "failed", "t", sub->failed);
  g_variant_dict_insert (&dict, "dropped", "t", sub->dropped);
  g_variant_dict_insert (&dict, "timed-out", "t", sub->timed_out);
  g_variant_dict_insert (&dict, "slow", "t", sub->slow);
  g_variant_dict_insert (&dict, "handling-ns", "t", sub->handling_ns);
  g_variant_dict_insert (&dict, "queued", "u",
                         sub->queue.length + (sub->in_flight ? 1 : 0));
  return g_variant_ref_sink (g_variant_dict_end (&dict));
}

/**
 * orrery_event_bus_get_stats:
 * @self: a bus
 *
 * The bus's counters as an `a{sv}` dictionary: `published`, `failures`,
 * `drops`, `timeouts`, `slow-handlers` (handlers over the handler budget),
 * `refused` (publications over the publish budget) (t) and
 * `subscriptions` (u).
 *
 * Returns: (transfer full): the counters
 */
GVariant *
orrery_event_bus_get_stats (OrreryEventBus *self)
{
  GVariantDict dict;

  g_return_val_if_fail (ORRERY_IS_EVENT_BUS (self), NULL);

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "published", "t", self->sequence);
  g_variant_dict_insert (&dict, "failures", "t", self->failures);
  g_variant_dict_insert (&dict, "drops", "t", self->drops);
  g_variant_dict_insert (&dict, "timeouts", "t", self->timeouts);
  g_variant_dict_insert (&dict, "slow-handlers", "t", self->slows);
  g_variant_dict_insert (&dict, "refused", "t", self->refused);
  g_variant_dict_insert (&dict, "subscriptions", "u", g_hash_table_size (self->subscriptions));
  return g_variant_ref_sink (g_variant_dict_end (&dict));
}

/**
 * orrery_event_bus_set_timing:
 * @self: a bus
 * @enabled: whether to measure the time each observer takes
 *
 * Timing costs two clock reads per delivery, so it is off by default; the
 * metrics plugin turns it on.
 */
void
orrery_event_bus_set_timing (OrreryEventBus *self,
                             gboolean        enabled)
{
  g_return_if_fail (ORRERY_IS_EVENT_BUS (self));
  enabled = !!enabled;
  if (self->timing == enabled)
    return;
  self->timing = enabled;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TIMING]);
}

/**
 * orrery_event_bus_get_timing:
 * @self: a bus
 *
 * Returns: whether the bus measures the time each observer takes
 */
gboolean
orrery_event_bus_get_timing (OrreryEventBus *self)
{
  g_return_val_if_fail (ORRERY_IS_EVENT_BUS (self), FALSE);
  return self->timing;
}

/**
 * orrery_event_bus_set_publish_budget:
 * @self: a bus
 * @budget: how many events one observer may publish from its handlers
 *   while one outermost event is delivered; 0 for no limit
 *
 * Sets #OrreryEventBus:publish-budget.
 */
void
orrery_event_bus_set_publish_budget (OrreryEventBus *self,
                                     guint           budget)
{
  g_return_if_fail (ORRERY_IS_EVENT_BUS (self));
  if (self->publish_budget == budget)
    return;
  self->publish_budget = budget;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PUBLISH_BUDGET]);
}

/**
 * orrery_event_bus_get_publish_budget:
 * @self: a bus
 *
 * Returns: the #OrreryEventBus:publish-budget (0: none)
 */
guint
orrery_event_bus_get_publish_budget (OrreryEventBus *self)
{
  g_return_val_if_fail (ORRERY_IS_EVENT_BUS (self), 0);
  return self->publish_budget;
}

/**
 * orrery_event_bus_set_handler_budget_ms:
 * @self: a bus
 * @budget_ms: how long a synchronous handler may take, in milliseconds; 0
 *   for no limit
 *
 * Sets #OrreryEventBus:handler-budget-ms.
 */
void
orrery_event_bus_set_handler_budget_ms (OrreryEventBus *self,
                                        guint           budget_ms)
{
  g_return_if_fail (ORRERY_IS_EVENT_BUS (self));
  if (orrery_event_bus_get_handler_budget_ms (self) == budget_ms)
    return;
  self->handler_budget_ns = (gint64) budget_ms * G_GINT64_CONSTANT (1000000);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HANDLER_BUDGET_MS]);
}

/**
 * orrery_event_bus_get_handler_budget_ms:
 * @self: a bus
 *
 * Returns: the #OrreryEventBus:handler-budget-ms (0: none)
 */
guint
orrery_event_bus_get_handler_budget_ms (OrreryEventBus *self)
{
  g_return_val_if_fail (ORRERY_IS_EVENT_BUS (self), 0);
  return (guint) (self->handler_budget_ns / G_GINT64_CONSTANT (1000000));
}

/**
 * orrery_event_bus_get_context:
 * @self: a bus
 *
 * Returns: (transfer none): the main context on whose thread handlers run
 */
GMainContext *
orrery_event_bus_get_context (OrreryEventBus *self)
{
  g_return_val_if_fail (ORRERY_IS_EVENT_BUS (self), NULL);
  return self->context;
}

/* ------------------------------------------------------------------------ */

static void
orrery_event_bus_dispose (GObject *object)
{
  OrreryEventBus *self = ORRERY_EVENT_BUS (object);
  GHashTableIter iter;
  gpointer value;
  Delivery *d;

  g_hash_table_iter_init (&iter, self->subscriptions);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      g_hash_table_iter_steal (&iter);
      sub_detach (value);
      sub_unref (value);
    }

  /* Disposed from a handler (its last reference dropped): the publish
   * under way stops; what handlers published meanwhile is not delivered. */
  if (self->alive != NULL)
    {
      *self->alive = FALSE;
      self->alive = NULL;
      self->dispatching = FALSE;
      while ((d = g_queue_pop_head (&self->pending)) != NULL)
        {
          PublishOp *op = d->op;

          orrery_event_unref (d->event);
          g_free (d);
          if (op != NULL)
            {
              op->emitted = TRUE;
              op_maybe_complete (op);
            }
        }
    }

  G_OBJECT_CLASS (orrery_event_bus_parent_class)->dispose (object);
}

static void
orrery_event_bus_finalize (GObject *object)
{
  OrreryEventBus *self = ORRERY_EVENT_BUS (object);

  g_assert (self->pending.length == 0);
  g_hash_table_unref (self->subscriptions);
  g_main_context_unref (self->context);

  G_OBJECT_CLASS (orrery_event_bus_parent_class)->finalize (object);
}

static void
orrery_event_bus_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  OrreryEventBus *self = ORRERY_EVENT_BUS (object);

  switch (prop_id)
    {
    case PROP_TIMING:
      g_value_set_boolean (value, self->timing);
      break;
    case PROP_PUBLISH_BUDGET:
      g_value_set_uint (value, self->publish_budget);
      break;
    case PROP_HANDLER_BUDGET_MS:
      g_value_set_uint (value, orrery_event_bus_get_handler_budget_ms (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
orrery_event_bus_set_property (GObject      *object,
                               guint         prop_id,
                               const GValue *value,
                               GParamSpec   *pspec)
{
  OrreryEventBus *self = ORRERY_EVENT_BUS (object);

  switch (prop_id)
    {
    case PROP_TIMING:
      orrery_event_bus_set_timing (self, g_value_get_boolean (value));
      break;
    case PROP_PUBLISH_BUDGET:
      orrery_event_bus_set_publish_budget (self, g_value_get_uint (value));
      break;
    case PROP_HANDLER_BUDGET_MS:
      orrery_event_bus_set_handler_budget_ms (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
orrery_event_bus_class_init (OrreryEventBusClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = orrery_event_bus_dispose;
  object_class->finalize = orrery_event_bus_finalize;
  object_class->get_property = orrery_event_bus_get_property;
  object_class->set_property = orrery_event_bus_set_property;

  /**
   * OrreryEventBus:timing:
   *
   * Whether the bus measures the time each observer takes.
   */
  properties[PROP_TIMING] =
    g_param_spec_boolean ("timing", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY |
                          G_PARAM_STATIC_STRINGS);
  /**
   * OrreryEventBus:publish-budget:
   *
   * How many events one observer may publish from its handlers while one
   * outermost event is delivered (what it publishes in answer to the
   * events that follow from it included); 0 for no limit. Past it, the
   * observer is reported through #OrreryEventBus::observer-failed with
   * %ORRERY_BUS_ERROR_PUBLISH_BUDGET and every event it publishes from its
   * handlers after that is refused: orrery_event_bus_publish() drops it
   * (with a debug message; the report was the warning), and
   * orrery_event_bus_publish_async() fails with that error. Handlers that
   * are no subscription (plain #OrreryEventBus::event handlers) share one
   * budget per outermost event, with a warning past it.
   */
  properties[PROP_PUBLISH_BUDGET] =
    g_param_spec_uint ("publish-budget", NULL, NULL, 0, G_MAXUINT,
                       ORRERY_EVENT_BUS_DEFAULT_PUBLISH_BUDGET,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * OrreryEventBus:handler-budget-ms:
   *
   * How long a synchronous handler (of a synchronous or queued
   * subscription) may take, in milliseconds; 0 for no limit. A handler
   * that takes longer held the whole main loop: once it returns it is
   * reported through #OrreryEventBus::observer-failed with
   * %ORRERY_BUS_ERROR_SLOW and counted. It is not interrupted.
   */
  properties[PROP_HANDLER_BUDGET_MS] =
    g_param_spec_uint ("handler-budget-ms", NULL, NULL, 0, G_MAXUINT,
                       ORRERY_EVENT_BUS_DEFAULT_HANDLER_BUDGET_MS,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * OrreryEventBus::event:
   * @self: the bus
   * @event: the event
   *
   * Emitted for every published event, on the bus's thread. The detail is
   * the nick of the event's type: connect to `event::task-completed` for
   * one type, to `event` for all.
   */
  signals[SIGNAL_EVENT] =
    g_signal_new_class_handler ("event",
                                G_TYPE_FROM_CLASS (klass),
                                G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED | G_SIGNAL_NO_HOOKS,
                                NULL, NULL, NULL,
                                g_cclosure_marshal_VOID__BOXED,
                                G_TYPE_NONE, 1, ORRERY_TYPE_EVENT | G_SIGNAL_TYPE_STATIC_SCOPE);
  g_signal_set_va_marshaller (signals[SIGNAL_EVENT], G_TYPE_FROM_CLASS (klass),
                              g_cclosure_marshal_VOID__BOXEDv);

  /**
   * OrreryEventBus::observer-failed:
   * @self: the bus
   * @observer: the observer
   * @event: the event it failed on
   * @error: what went wrong: the observer's own error, or an
   *   %ORRERY_BUS_ERROR for a missed deadline or a dropped event
   *
   * Emitted when an observer fails on an event, misses its deadline or has
   * an event dropped because its queue is full.
   */
  signals[SIGNAL_OBSERVER_FAILED] =
    g_signal_new ("observer-failed",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 3, ORRERY_TYPE_OBSERVER,
                  ORRERY_TYPE_EVENT | G_SIGNAL_TYPE_STATIC_SCOPE, G_TYPE_ERROR);

  /* Register the quarks now, so no emission pays for it. */
  for (guint i = 0; i < ORRERY_EVENT_TYPE_COUNT; i++)
    _orrery_event_type_quark (i);
}

static void
orrery_event_bus_init (OrreryEventBus *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->owner = pthread_self ();
  self->subscriptions = g_hash_table_new (NULL, NULL);
  g_queue_init (&self->pending);
  self->publish_budget = ORRERY_EVENT_BUS_DEFAULT_PUBLISH_BUDGET;
  self->handler_budget_ns = (gint64) ORRERY_EVENT_BUS_DEFAULT_HANDLER_BUDGET_MS * G_GINT64_CONSTANT (1000000);
}

/**
 * orrery_event_bus_new:
 *
 * Creates a bus bound to the thread-default main context of the calling
 * thread: handlers always run on that context's thread.
 *
 * Returns: (transfer full): a new bus
 */
OrreryEventBus *
orrery_event_bus_new (void)
{
  return g_object_new (ORRERY_TYPE_EVENT_BUS, NULL);
}
