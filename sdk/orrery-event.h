/* orrery-event.h: the events published on the bus.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ORRERY_INSIDE) && !defined(ORRERY_COMPILATION)
#error "Only <orrery.h> can be included directly."
#endif

#include <gio/gio.h>
#include "orrery-types.h"

G_BEGIN_DECLS

/* An event published on the bus: see orrery-event.c. */
typedef struct _OrreryEvent OrreryEvent;

#define ORRERY_TYPE_EVENT (orrery_event_get_type ())
ORRERY_EXPORT
GType             orrery_event_get_type          (void) G_GNUC_CONST;

ORRERY_EXPORT
OrreryEvent      *orrery_event_ref               (OrreryEvent     *self);
ORRERY_EXPORT
void              orrery_event_unref             (OrreryEvent     *self);

ORRERY_EXPORT
OrreryEvent      *orrery_event_new               (OrreryEventType  type,
                                                  const char      *source_id,
                                                  GVariant        *data);
ORRERY_EXPORT
OrreryEvent      *orrery_event_new_task          (OrreryEventType  type,
                                                  const char      *source_id,
                                                  const char      *task_id,
                                                  OrreryTaskStatus status);
ORRERY_EXPORT
OrreryEvent      *orrery_event_new_constellation (OrreryEventType  type,
                                                  const char      *source_id,
                                                  const char      *constellation_id,
                                                  OrreryConstellationState state);
ORRERY_EXPORT
OrreryEvent      *orrery_event_new_device        (OrreryEventType  type,
                                                  const char      *source_id,
                                                  const char      *device_id,
                                                  OrreryDeviceStatus status);

ORRERY_EXPORT
OrreryEventKind   orrery_event_type_get_kind     (OrreryEventType  type);

/* Every event */

ORRERY_EXPORT
OrreryEventType   orrery_event_get_event_type    (OrreryEvent     *self);
ORRERY_EXPORT
OrreryEventKind   orrery_event_get_kind          (OrreryEvent     *self);
ORRERY_EXPORT
const char       *orrery_event_get_type_nick     (OrreryEvent     *self);
ORRERY_EXPORT
const char       *orrery_event_get_source_id     (OrreryEvent     *self);
ORRERY_EXPORT
gint64            orrery_event_get_timestamp     (OrreryEvent     *self);
ORRERY_EXPORT
GVariant         *orrery_event_get_data          (OrreryEvent     *self);
ORRERY_EXPORT
void              orrery_event_set_data          (OrreryEvent     *self,
                                                  GVariant        *data);
ORRERY_EXPORT
guint64           orrery_event_get_sequence      (OrreryEvent     *self);
ORRERY_EXPORT
gboolean          orrery_event_is_published      (OrreryEvent     *self);
ORRERY_EXPORT
char             *orrery_event_to_string         (OrreryEvent     *self);

/**
 * ORRERY_EVENT_IS_TASK:
 * @ev: an #OrreryEvent
 *
 * Whether @ev is a task event (%ORRERY_EVENT_KIND_TASK).
 */
#define ORRERY_EVENT_IS_TASK(ev) (orrery_event_get_kind (ev) == ORRERY_EVENT_KIND_TASK)
/**
 * ORRERY_EVENT_IS_CONSTELLATION:
 * @ev: an #OrreryEvent
 *
 * Whether @ev is a constellation event (%ORRERY_EVENT_KIND_CONSTELLATION).
 */
#define ORRERY_EVENT_IS_CONSTELLATION(ev) (orrery_event_get_kind (ev) == ORRERY_EVENT_KIND_CONSTELLATION)
/**
 * ORRERY_EVENT_IS_DEVICE:
 * @ev: an #OrreryEvent
 *
 * Whether @ev is a device event (%ORRERY_EVENT_KIND_DEVICE).
 */
#define ORRERY_EVENT_IS_DEVICE(ev) (orrery_event_get_kind (ev) == ORRERY_EVENT_KIND_DEVICE)

/* Task events */

ORRERY_EXPORT
const char         *orrery_event_get_task_id            (OrreryEvent        *self);
ORRERY_EXPORT
OrreryTaskStatus    orrery_event_get_task_status        (OrreryEvent        *self);
ORRERY_EXPORT
GVariant           *orrery_event_get_result             (OrreryEvent        *self);
ORRERY_EXPORT
void                orrery_event_set_result             (OrreryEvent        *self,
                                                         GVariant           *result);
ORRERY_EXPORT
const GError       *orrery_event_get_error              (OrreryEvent        *self);
ORRERY_EXPORT
void                orrery_event_set_error              (OrreryEvent        *self,
                                                         const GError       *error);
ORRERY_EXPORT
guint               orrery_event_get_attempt            (OrreryEvent        *self);
ORRERY_EXPORT
void                orrery_event_set_attempt            (OrreryEvent        *self,
                                                         guint               attempt);

/* Task and device events */

ORRERY_EXPORT
const char         *orrery_event_get_device_id          (OrreryEvent        *self);
ORRERY_EXPORT
void                orrery_event_set_device_id          (OrreryEvent        *self,
                                                         const char         *device_id);

/* Task and constellation events */

ORRERY_EXPORT
const char * const *orrery_event_get_newly_ready        (OrreryEvent        *self);
ORRERY_EXPORT
void                orrery_event_set_newly_ready        (OrreryEvent        *self,
                                                         const char * const *task_ids);
ORRERY_EXPORT
OrreryConstellation *orrery_event_get_constellation     (OrreryEvent        *self);
ORRERY_EXPORT
void                orrery_event_set_constellation      (OrreryEvent        *self,
                                                         OrreryConstellation *constellation);

/* Constellation events */

ORRERY_EXPORT
const char               *orrery_event_get_constellation_id    (OrreryEvent               *self);
ORRERY_EXPORT
OrreryConstellationState  orrery_event_get_constellation_state (OrreryEvent               *self);
ORRERY_EXPORT
GVariant                 *orrery_event_get_statistics          (OrreryEvent               *self);
ORRERY_EXPORT
void                      orrery_event_set_statistics          (OrreryEvent               *self,
                                                                GVariant                  *statistics);
ORRERY_EXPORT
gdouble                   orrery_event_get_duration            (OrreryEvent               *self);
ORRERY_EXPORT
void                      orrery_event_set_duration            (OrreryEvent               *self,
                                                                gdouble                    seconds);
ORRERY_EXPORT
GVariant                 *orrery_event_get_modifications       (OrreryEvent               *self);
ORRERY_EXPORT
void                      orrery_event_set_modifications       (OrreryEvent               *self,
                                                                GVariant                  *modifications);
ORRERY_EXPORT
const char * const       *orrery_event_get_on_task_ids         (OrreryEvent               *self);
ORRERY_EXPORT
void                      orrery_event_set_on_task_ids         (OrreryEvent               *self,
                                                                const char * const        *task_ids);

/* Device events */

ORRERY_EXPORT
OrreryDeviceStatus  orrery_event_get_device_status      (OrreryEvent        *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (OrreryEvent, orrery_event_unref)

G_END_DECLS
