/* orrery-edit-batch.c: a batch of edits applied to a constellation as one.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-Constellation"

#include "orrery-constellation-private.h"

struct _OrreryEditBatch
{
  GObject  parent_instance;
  GArray  *edits;        /* OrreryEdit */
  char   **on_task_ids;
};

/**
 * OrreryEditBatch:
 *
 * A batch of edits applied to a constellation as one.
 *
 * The batch only records edits; orrery_constellation_apply_edits() checks
 * them all against the graph, then applies them all or none.
 */
G_DEFINE_FINAL_TYPE (OrreryEditBatch, orrery_edit_batch, G_TYPE_OBJECT)

static void
edit_clear (gpointer data)
{
  OrreryEdit *e = data;

  g_clear_object (&e->task);
  g_free (e->task_id);
  g_free (e->from_id);
  g_free (e->to_id);
  g_clear_pointer (&e->condition, orrery_condition_unref);
  g_clear_pointer (&e->changes, g_variant_unref);
}

static void
orrery_edit_batch_finalize (GObject *object)
{
  OrreryEditBatch *self = ORRERY_EDIT_BATCH (object);

  g_array_unref (self->edits);
  g_strfreev (self->on_task_ids);
  G_OBJECT_CLASS (orrery_edit_batch_parent_class)->finalize (object);
}

static void
orrery_edit_batch_class_init (OrreryEditBatchClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = orrery_edit_batch_finalize;
}

static void
orrery_edit_batch_init (OrreryEditBatch *self)
{
  self->edits = g_array_new (FALSE, TRUE, sizeof (OrreryEdit));
  g_array_set_clear_func (self->edits, edit_clear);
}

/**
 * orrery_edit_batch_new:
 *
 * Creates an empty batch of edits.
 *
 * Returns: (transfer full): a new batch
 */
OrreryEditBatch *
orrery_edit_batch_new (void)
{
  return g_object_new (ORRERY_TYPE_EDIT_BATCH, NULL);
}

static OrreryEdit *
push (OrreryEditBatch *self,
      EditKind         kind)
{
  OrreryEdit e = { .kind = kind };

  g_array_append_val (self->edits, e);
  return &g_array_index (self->edits, OrreryEdit, self->edits->len - 1);
}

/**
 * orrery_edit_batch_add_task:
 * @self: a batch
 * @task: a task that belongs to no constellation; it must be pending
 *
 * Adds a task to the constellation.
 */
void
orrery_edit_batch_add_task (OrreryEditBatch *self,
                            OrreryTask      *task)
{
  g_return_if_fail (ORRERY_IS_EDIT_BATCH (self));
  g_return_if_fail (ORRERY_IS_TASK (task));
  push (self, EDIT_ADD_TASK)->task = g_object_ref (task);
}

/**
 * orrery_edit_batch_remove_task:
 * @self: a batch
 * @task_id: the id of a task not yet dispatched
 *
 * Removes a task and every dependency that touches it.
 */
void
orrery_edit_batch_remove_task (OrreryEditBatch *self,
                               const char      *task_id)
{
  g_return_if_fail (ORRERY_IS_EDIT_BATCH (self));
  g_return_if_fail (task_id != NULL);
  push (self, EDIT_REMOVE_TASK)->task_id = g_strdup (task_id);
}

/**
 * orrery_edit_batch_update_task:
 * @self: a batch
 * @task_id: the id of a task not yet dispatched
 * @changes: an `a{sv}` dictionary of fields to change: `name`,
 *   `description` (strings), `tips` (`as`), `target_device_id`,
 *   `device_type` (strings, empty to unset), `priority` (a number 1-4 or a
 *   name), `timeout` (seconds), `retry_count` (a number), `task_data`
 *   (`a{sv}`); a floating reference is sunk
 *
 * Changes fields of a task.
 */
void
orrery_edit_batch_update_task (OrreryEditBatch *self,
                               const char      *task_id,
                               GVariant        *changes)
{
  OrreryEdit *e;

  g_return_if_fail (ORRERY_IS_EDIT_BATCH (self));
  g_return_if_fail (task_id != NULL);
  g_return_if_fail (changes != NULL && g_variant_is_of_type (changes, G_VARIANT_TYPE_VARDICT));
  e = push (self, EDIT_UPDATE_TASK);
  e->task_id = g_strdup (task_id);
  e->changes = g_variant_ref_sink (changes);
}

/**
 * orrery_edit_batch_add_dependency:
 * @self: a batch
 * @from_id: the prerequisite
 * @to_id: the dependent, not yet dispatched
 * @type: the kind of edge
 * @condition: (nullable): the condition of a conditional edge
 *
 * Adds a dependency.
 */
void
orrery_edit_batch_add_dependency (OrreryEditBatch      *self,
                                  const char           *from_id,
                                  const char           *to_id,
                                  OrreryDependencyType  type,
                                  OrreryCondition      *condition)
{
  OrreryEdit *e;

  g_return_if_fail (ORRERY_IS_EDIT_BATCH (self));
  g_return_if_fail (from_id != NULL && to_id != NULL);
  e = push (self, EDIT_ADD_DEPENDENCY);
  e->from_id = g_strdup (from_id);
  e->to_id = g_strdup (to_id);
  e->dep_type = type;
  e->condition = condition ? orrery_condition_ref (condition) : NULL;
}

/**
 * orrery_edit_batch_remove_dependency:
 * @self: a batch
 * @from_id: the prerequisite
 * @to_id: the dependent, not yet dispatched
 *
 * Removes a dependency.
 */
void
orrery_edit_batch_remove_dependency (OrreryEditBatch *self,
                                     const char      *from_id,
                                     const char      *to_id)
{
  OrreryEdit *e;

  g_return_if_fail (ORRERY_IS_EDIT_BATCH (self));
  g_return_if_fail (from_id != NULL && to_id != NULL);
  e = push (self, EDIT_REMOVE_DEPENDENCY);
  e->from_id = g_strdup (from_id);
  e->to_id = g_strdup (to_id);
}

/**
 * orrery_edit_batch_set_on_task_ids:
 * @self: a batch
 * @task_ids: (nullable) (array zero-terminated=1): the completed tasks this
 *   edit answers (the synchronizer matches them with its holds)
 *
 * Sets which completions the batch answers.
 */
void
orrery_edit_batch_set_on_task_ids (OrreryEditBatch    *self,
                                   const char * const *task_ids)
{
  g_return_if_fail (ORRERY_IS_EDIT_BATCH (self));
  g_strfreev (self->on_task_ids);
  self->on_task_ids = g_strdupv ((char **) task_ids);
}

/**
 * orrery_edit_batch_get_on_task_ids:
 * @self: a batch
 *
 * Returns: (transfer none) (nullable) (array zero-terminated=1): the
 *   completed tasks this edit answers
 */
const char * const *
orrery_edit_batch_get_on_task_ids (OrreryEditBatch *self)
{
  g_return_val_if_fail (ORRERY_IS_EDIT_BATCH (self), NULL);
  return (const char * const *) self->on_task_ids;
}

/**
 * orrery_edit_batch_get_n_edits:
 * @self: a batch
 *
 * Returns: how many edits the batch holds
 */
guint
orrery_edit_batch_get_n_edits (OrreryEditBatch *self)
{
  g_return_val_if_fail (ORRERY_IS_EDIT_BATCH (self), 0);
  return self->edits->len;
}

GArray *
_orrery_edit_batch_peek_edits (OrreryEditBatch *batch)
{
  return batch->edits;
}

const char *
_orrery_edit_kind_name (EditKind kind)
{
  static const char *const names[] = {
    "add_task", "remove_task", "update_task", "add_dependency", "remove_dependency",
  };
  return names[kind];
}
