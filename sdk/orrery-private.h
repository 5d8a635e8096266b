/* orrery-private.h: SDK-internal helpers, not installed.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "orrery.h"

G_BEGIN_DECLS

#define ORRERY_HIDDEN __attribute__((visibility ("hidden")))

/* The event type, read without a type check: the bus calls this once per
 * delivery. */
ORRERY_HIDDEN OrreryEventType _orrery_event_peek_type   (OrreryEvent *event);
/* Seals the event and gives it its sequence number. */
ORRERY_HIDDEN void            _orrery_event_seal        (OrreryEvent *event,
                                                         guint64      sequence);
/* The detail quark of each event type, indexed by OrreryEventType. */
ORRERY_HIDDEN GQuark          _orrery_event_type_quark  (OrreryEventType type);

/* Gives an event the time it was first published (a replayed journal). */
ORRERY_HIDDEN void            _orrery_event_set_timestamp (OrreryEvent *event,
                                                           gint64       timestamp);

G_END_DECLS
