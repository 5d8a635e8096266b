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

#define ORRERY_TYPE_EVENT (orrery_event_get_type ())
ORRERY_EXPORT
G_DECLARE_DERIVABLE_TYPE (OrreryEvent, orrery_event, ORRERY, EVENT, GObject)

/**
 * OrreryEventClass:
 * @parent_class: the parent class
 *
 * The class of #OrreryEvent.
 */
struct _OrreryEventClass
{
  GObjectClass parent_class;

  /*< private >*/
  gpointer padding[8];
};

ORRERY_EXPORT
OrreryEvent      *orrery_event_new               (OrreryEventType  type,
                                                  const char      *source_id,
                                                  GVariant        *data);
ORRERY_EXPORT
OrreryEventType   orrery_event_get_event_type    (OrreryEvent     *self);
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

/* Task events */

#define ORRERY_TYPE_TASK_EVENT (orrery_task_event_get_type ())
ORRERY_EXPORT
G_DECLARE_FINAL_TYPE (OrreryTaskEvent, orrery_task_event, ORRERY, TASK_EVENT, OrreryEvent)

ORRERY_EXPORT
OrreryTaskEvent    *orrery_task_event_new               (OrreryEventType     type,
                                                         const char         *source_id,
                                                         const char         *task_id,
                                                         OrreryTaskStatus    status);
ORRERY_EXPORT
const char         *orrery_task_event_get_task_id       (OrreryTaskEvent    *self);
ORRERY_EXPORT
OrreryTaskStatus    orrery_task_event_get_status        (OrreryTaskEvent    *self);
ORRERY_EXPORT
GVariant           *orrery_task_event_get_result        (OrreryTaskEvent    *self);
ORRERY_EXPORT
void                orrery_task_event_set_result        (OrreryTaskEvent    *self,
                                                         GVariant           *result);
ORRERY_EXPORT
const GError       *orrery_task_event_get_error         (OrreryTaskEvent    *self);
ORRERY_EXPORT
void                orrery_task_event_set_error         (OrreryTaskEvent    *self,
                                                         const GError       *error);
ORRERY_EXPORT
const char * const *orrery_task_event_get_newly_ready   (OrreryTaskEvent    *self);
ORRERY_EXPORT
void                orrery_task_event_set_newly_ready   (OrreryTaskEvent    *self,
                                                         const char * const *task_ids);
ORRERY_EXPORT
guint               orrery_task_event_get_attempt       (OrreryTaskEvent    *self);
ORRERY_EXPORT
void                orrery_task_event_set_attempt       (OrreryTaskEvent    *self,
                                                         guint               attempt);
ORRERY_EXPORT
const char         *orrery_task_event_get_device_id     (OrreryTaskEvent    *self);
ORRERY_EXPORT
void                orrery_task_event_set_device_id     (OrreryTaskEvent    *self,
                                                         const char         *device_id);
ORRERY_EXPORT
OrreryConstellation *orrery_task_event_get_constellation (OrreryTaskEvent   *self);
ORRERY_EXPORT
void                orrery_task_event_set_constellation (OrreryTaskEvent    *self,
                                                         OrreryConstellation *constellation);

/* Constellation events */

#define ORRERY_TYPE_CONSTELLATION_EVENT (orrery_constellation_event_get_type ())
ORRERY_EXPORT
G_DECLARE_FINAL_TYPE (OrreryConstellationEvent, orrery_constellation_event, ORRERY, CONSTELLATION_EVENT, OrreryEvent)

ORRERY_EXPORT
OrreryConstellationEvent *orrery_constellation_event_new                (OrreryEventType            type,
                                                                         const char                *source_id,
                                                                         const char                *constellation_id,
                                                                         OrreryConstellationState   state);
ORRERY_EXPORT
const char               *orrery_constellation_event_get_constellation_id (OrreryConstellationEvent *self);
ORRERY_EXPORT
OrreryConstellationState  orrery_constellation_event_get_state          (OrreryConstellationEvent  *self);
ORRERY_EXPORT
const char * const       *orrery_constellation_event_get_newly_ready    (OrreryConstellationEvent  *self);
ORRERY_EXPORT
void                      orrery_constellation_event_set_newly_ready    (OrreryConstellationEvent  *self,
                                                                         const char * const        *task_ids);
ORRERY_EXPORT
GVariant                 *orrery_constellation_event_get_statistics     (OrreryConstellationEvent  *self);
ORRERY_EXPORT
void                      orrery_constellation_event_set_statistics     (OrreryConstellationEvent  *self,
                                                                         GVariant                  *statistics);
ORRERY_EXPORT
gdouble                   orrery_constellation_event_get_duration       (OrreryConstellationEvent  *self);
ORRERY_EXPORT
void                      orrery_constellation_event_set_duration       (OrreryConstellationEvent  *self,
                                                                         gdouble                    seconds);
ORRERY_EXPORT
GVariant                 *orrery_constellation_event_get_modifications  (OrreryConstellationEvent  *self);
ORRERY_EXPORT
void                      orrery_constellation_event_set_modifications  (OrreryConstellationEvent  *self,
                                                                         GVariant                  *modifications);
ORRERY_EXPORT
const char * const       *orrery_constellation_event_get_on_task_ids    (OrreryConstellationEvent  *self);
ORRERY_EXPORT
void                      orrery_constellation_event_set_on_task_ids    (OrreryConstellationEvent  *self,
                                                                         const char * const        *task_ids);
ORRERY_EXPORT
OrreryConstellation      *orrery_constellation_event_get_constellation  (OrreryConstellationEvent  *self);
ORRERY_EXPORT
void                      orrery_constellation_event_set_constellation  (OrreryConstellationEvent  *self,
                                                                         OrreryConstellation       *constellation);

/* Device events */

#define ORRERY_TYPE_DEVICE_EVENT (orrery_device_event_get_type ())
ORRERY_EXPORT
G_DECLARE_FINAL_TYPE (OrreryDeviceEvent, orrery_device_event, ORRERY, DEVICE_EVENT, OrreryEvent)

ORRERY_EXPORT
OrreryDeviceEvent  *orrery_device_event_new             (OrreryEventType     type,
                                                         const char         *source_id,
                                                         const char         *device_id,
                                                         OrreryDeviceStatus  status);
ORRERY_EXPORT
const char         *orrery_device_event_get_device_id   (OrreryDeviceEvent  *self);
ORRERY_EXPORT
OrreryDeviceStatus  orrery_device_event_get_status      (OrreryDeviceEvent  *self);

G_END_DECLS
