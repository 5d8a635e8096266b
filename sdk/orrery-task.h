/* orrery-task.h: one task (a "TaskStar") of a constellation.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ORRERY_INSIDE) && !defined(ORRERY_COMPILATION)
#error "Only <orrery.h> can be included directly."
#endif

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include "orrery-types.h"

G_BEGIN_DECLS

#define ORRERY_TYPE_TASK (orrery_task_get_type ())
ORRERY_EXPORT
G_DECLARE_FINAL_TYPE (OrreryTask, orrery_task, ORRERY, TASK, GObject)

ORRERY_EXPORT
OrreryTask         *orrery_task_new                  (const char         *id,
                                                      const char         *name);
ORRERY_EXPORT
const char         *orrery_task_get_id               (OrreryTask         *self);
ORRERY_EXPORT
const char         *orrery_task_get_name             (OrreryTask         *self);
ORRERY_EXPORT
void                orrery_task_set_name             (OrreryTask         *self,
                                                      const char         *name);
ORRERY_EXPORT
const char         *orrery_task_get_description      (OrreryTask         *self);
ORRERY_EXPORT
void                orrery_task_set_description      (OrreryTask         *self,
                                                      const char         *description);
ORRERY_EXPORT
const char * const *orrery_task_get_tips             (OrreryTask         *self);
ORRERY_EXPORT
void                orrery_task_set_tips             (OrreryTask         *self,
                                                      const char * const *tips);
ORRERY_EXPORT
const char         *orrery_task_get_target_device_id (OrreryTask         *self);
ORRERY_EXPORT
void                orrery_task_set_target_device_id (OrreryTask         *self,
                                                      const char         *device_id);
ORRERY_EXPORT
const char         *orrery_task_get_device_type      (OrreryTask         *self);
ORRERY_EXPORT
void                orrery_task_set_device_type      (OrreryTask         *self,
                                                      const char         *device_type);
ORRERY_EXPORT
OrreryTaskPriority  orrery_task_get_priority         (OrreryTask         *self);
ORRERY_EXPORT
void                orrery_task_set_priority         (OrreryTask         *self,
                                                      OrreryTaskPriority  priority);
ORRERY_EXPORT
OrreryTaskStatus    orrery_task_get_status           (OrreryTask         *self);
ORRERY_EXPORT
gdouble             orrery_task_get_timeout          (OrreryTask         *self);
ORRERY_EXPORT
void                orrery_task_set_timeout          (OrreryTask         *self,
                                                      gdouble             seconds);
ORRERY_EXPORT
guint               orrery_task_get_retry_count      (OrreryTask         *self);
ORRERY_EXPORT
void                orrery_task_set_retry_count      (OrreryTask         *self,
                                                      guint               retry_count);
ORRERY_EXPORT
guint               orrery_task_get_attempt          (OrreryTask         *self);
ORRERY_EXPORT
void                orrery_task_set_attempt          (OrreryTask         *self,
                                                      guint               attempt);
ORRERY_EXPORT
GVariant           *orrery_task_get_task_data        (OrreryTask         *self);
ORRERY_EXPORT
void                orrery_task_set_task_data        (OrreryTask         *self,
                                                      GVariant           *task_data);
ORRERY_EXPORT
GVariant           *orrery_task_get_result           (OrreryTask         *self);
ORRERY_EXPORT
void                orrery_task_set_result           (OrreryTask         *self,
                                                      GVariant           *result);
ORRERY_EXPORT
const GError       *orrery_task_get_error            (OrreryTask         *self);
ORRERY_EXPORT
void                orrery_task_set_error            (OrreryTask         *self,
                                                      const GError       *error);
ORRERY_EXPORT
gint64              orrery_task_get_created_at       (OrreryTask         *self);
ORRERY_EXPORT
void                orrery_task_set_created_at       (OrreryTask         *self,
                                                      gint64              usec);
ORRERY_EXPORT
gint64              orrery_task_get_started_at       (OrreryTask         *self);
ORRERY_EXPORT
void                orrery_task_set_started_at       (OrreryTask         *self,
                                                      gint64              usec);
ORRERY_EXPORT
gint64              orrery_task_get_ended_at         (OrreryTask         *self);
ORRERY_EXPORT
void                orrery_task_set_ended_at         (OrreryTask         *self,
                                                      gint64              usec);
ORRERY_EXPORT
gdouble             orrery_task_get_duration         (OrreryTask         *self);
ORRERY_EXPORT
char              **orrery_task_get_extra_keys       (OrreryTask         *self);
ORRERY_EXPORT
JsonNode           *orrery_task_get_extra            (OrreryTask         *self,
                                                      const char         *key);
ORRERY_EXPORT
gboolean            orrery_task_is_terminal          (OrreryTask         *self);
ORRERY_EXPORT
gboolean            orrery_task_is_dispatched        (OrreryTask         *self);
ORRERY_EXPORT
OrreryConstellation *orrery_task_get_constellation  (OrreryTask         *self);

ORRERY_EXPORT
gboolean            orrery_task_status_from_string   (const char         *str,
                                                      OrreryTaskStatus   *out_status);
ORRERY_EXPORT
gboolean            orrery_task_priority_from_string (const char         *str,
                                                      OrreryTaskPriority *out_priority);
ORRERY_EXPORT
const char         *orrery_task_priority_to_nick     (OrreryTaskPriority  priority);

G_END_DECLS
