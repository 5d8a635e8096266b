/* orrery-event-private.h: the layout of an event, for the SDK only (the bus
 * reads an event's type and seal on every delivery without a call).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "orrery-event.h"

G_BEGIN_DECLS

/* One allocation per event: the fixed part, then the source id and the
 * subject's id (task, constellation or device) copied behind it. */
struct _OrreryEvent
{
  gint                  ref_count;     /* atomic */
  guint8                type;          /* OrreryEventType */
  guint8                kind;          /* OrreryEventKind */
  guint8                sealed;
  guint8                pooled;        /* a block of the thread caches' size */
  guint16               strings_used;
  guint16               strings_size;
  gint                  status;        /* task status, constellation state or device status */
  guint                 attempt;
  guint64               sequence;
  gint64                timestamp;
  const char           *source_id;     /* in strings[] or NULL */
  const char           *subject_id;    /* in strings[] or NULL */
  char                 *device_id;     /* a task's device: in strings[] or its own */
  GVariant             *data;
  GVariant             *result;
  GError               *error;
  GStrv                 newly_ready;
  OrreryConstellation  *constellation;
  GVariant             *statistics;
  GVariant             *modifications;
  GStrv                 on_task_ids;
  gdouble               duration;
  char                  strings[];
};

/* The event type, read without a check: the bus reads it on every delivery. */
static inline OrreryEventType
_orrery_event_peek_type (OrreryEvent *event)
{
  return (OrreryEventType) event->type;
}

/* Seals the event and gives it its sequence number. */
static inline void
_orrery_event_seal (OrreryEvent *event,
                    guint64      sequence)
{
  event->sealed = TRUE;
  event->sequence = sequence;
}

/* Gives an event the time it was first published (a replayed journal). */
static inline void
_orrery_event_set_timestamp (OrreryEvent *event,
                             gint64       timestamp)
{
  event->timestamp = timestamp;
}

G_END_DECLS
