/* orrery-edit-batch.h: a batch of edits applied to a constellation as one.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ORRERY_INSIDE) && !defined(ORRERY_COMPILATION)
#error "Only <orrery.h> can be included directly."
#endif

#include <gio/gio.h>
#include "orrery-types.h"
#include "orrery-task.h"
#include "orrery-dependency.h"

G_BEGIN_DECLS

#define ORRERY_TYPE_EDIT_BATCH (orrery_edit_batch_get_type ())
ORRERY_EXPORT
G_DECLARE_FINAL_TYPE (OrreryEditBatch, orrery_edit_batch, ORRERY, EDIT_BATCH, GObject)

ORRERY_EXPORT
OrreryEditBatch    *orrery_edit_batch_new               (void);
ORRERY_EXPORT
void                orrery_edit_batch_add_task          (OrreryEditBatch      *self,
                                                         OrreryTask           *task);
ORRERY_EXPORT
void                orrery_edit_batch_remove_task       (OrreryEditBatch      *self,
                                                         const char           *task_id);
ORRERY_EXPORT
void                orrery_edit_batch_update_task       (OrreryEditBatch      *self,
                                                         const char           *task_id,
                                                         GVariant             *changes);
ORRERY_EXPORT
void                orrery_edit_batch_add_dependency    (OrreryEditBatch      *self,
                                                         const char           *from_id,
                                                         const char           *to_id,
                                                         OrreryDependencyType  type,
                                                         OrreryCondition      *condition);
ORRERY_EXPORT
void                orrery_edit_batch_remove_dependency (OrreryEditBatch      *self,
                                                         const char           *from_id,
                                                         const char           *to_id);
ORRERY_EXPORT
void                orrery_edit_batch_set_on_task_ids   (OrreryEditBatch      *self,
                                                         const char * const   *task_ids);
ORRERY_EXPORT
const char * const *orrery_edit_batch_get_on_task_ids   (OrreryEditBatch      *self);
ORRERY_EXPORT
guint               orrery_edit_batch_get_n_edits       (OrreryEditBatch      *self);

G_END_DECLS
