/* orrery-constellation.h: a DAG of tasks with typed dependencies.
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
#include "orrery-edit-batch.h"

G_BEGIN_DECLS

/**
 * ORRERY_CONSTELLATION_ERROR:
 *
 * The error domain of constellations: loading, validation, edits and
 * state changes.
 */
#define ORRERY_CONSTELLATION_ERROR (orrery_constellation_error_quark ())

/**
 * OrreryConstellationError:
 * @ORRERY_CONSTELLATION_ERROR_IO: the file or stream could not be read or written
 * @ORRERY_CONSTELLATION_ERROR_NOT_JSON: the document is not JSON
 * @ORRERY_CONSTELLATION_ERROR_WRONG_TYPE: a field has the wrong JSON type
 * @ORRERY_CONSTELLATION_ERROR_MISSING_FIELD: a required field is missing
 * @ORRERY_CONSTELLATION_ERROR_BAD_ENUM: an unknown enumeration value
 *   (status, priority, dependency type, state, operator)
 * @ORRERY_CONSTELLATION_ERROR_BAD_VALUE: a value out of range or a field
 *   that cannot be changed
 * @ORRERY_CONSTELLATION_ERROR_DUPLICATE_ID: two tasks share an id
 * @ORRERY_CONSTELLATION_ERROR_UNKNOWN_TASK: a reference to a task that does
 *   not exist
 * @ORRERY_CONSTELLATION_ERROR_DUPLICATE_DEPENDENCY: the same edge twice
 * @ORRERY_CONSTELLATION_ERROR_UNKNOWN_DEPENDENCY: a reference to an edge that
 *   does not exist
 * @ORRERY_CONSTELLATION_ERROR_SELF_DEPENDENCY: a task depending on itself
 * @ORRERY_CONSTELLATION_ERROR_CYCLE: the graph has a cycle (the message names
 *   its members)
 * @ORRERY_CONSTELLATION_ERROR_INCONSISTENT_DEPENDENCIES: a task's own
 *   `dependencies` or `dependents` list disagrees with the dependency lines
 * @ORRERY_CONSTELLATION_ERROR_BAD_CONDITION: a conditional dependency without
 *   a usable condition
 * @ORRERY_CONSTELLATION_ERROR_TASK_DISPATCHED: an edit touches a task that is
 *   running or finished
 * @ORRERY_CONSTELLATION_ERROR_INVALID_STATE: a status change that the task's
 *   current status does not allow
 * @ORRERY_CONSTELLATION_ERROR_TASK_OWNED: the task already belongs to a
 *   constellation
 * @ORRERY_CONSTELLATION_ERROR_TOO_DEEP: the document nests arrays and objects
 *   deeper than %ORRERY_CONSTELLATION_MAX_DEPTH
 * @ORRERY_CONSTELLATION_ERROR_NOT_UTF8: a string or member name is not valid
 *   UTF-8 (a lone UTF-16 surrogate escape, or bytes that are not UTF-8)
 * @ORRERY_CONSTELLATION_ERROR_NUL_CHARACTER: a string or member name holds a
 *   NUL character (the escape for U+0000), which would silently cut it short
 *
 * One code per rule.
 */
typedef enum {
  ORRERY_CONSTELLATION_ERROR_IO,
  ORRERY_CONSTELLATION_ERROR_NOT_JSON,
  ORRERY_CONSTELLATION_ERROR_WRONG_TYPE,
  ORRERY_CONSTELLATION_ERROR_MISSING_FIELD,
  ORRERY_CONSTELLATION_ERROR_BAD_ENUM,
  ORRERY_CONSTELLATION_ERROR_BAD_VALUE,
  ORRERY_CONSTELLATION_ERROR_DUPLICATE_ID,
  ORRERY_CONSTELLATION_ERROR_UNKNOWN_TASK,
  ORRERY_CONSTELLATION_ERROR_DUPLICATE_DEPENDENCY,
  ORRERY_CONSTELLATION_ERROR_UNKNOWN_DEPENDENCY,
  ORRERY_CONSTELLATION_ERROR_SELF_DEPENDENCY,
  ORRERY_CONSTELLATION_ERROR_CYCLE,
  ORRERY_CONSTELLATION_ERROR_INCONSISTENT_DEPENDENCIES,
  ORRERY_CONSTELLATION_ERROR_BAD_CONDITION,
  ORRERY_CONSTELLATION_ERROR_TASK_DISPATCHED,
  ORRERY_CONSTELLATION_ERROR_INVALID_STATE,
  ORRERY_CONSTELLATION_ERROR_TASK_OWNED,
  ORRERY_CONSTELLATION_ERROR_TOO_DEEP,
  ORRERY_CONSTELLATION_ERROR_NOT_UTF8,
  ORRERY_CONSTELLATION_ERROR_NUL_CHARACTER,
} OrreryConstellationError;

/**
 * ORRERY_CONSTELLATION_MAX_DEPTH:
 *
 * How deep a constellation document may nest arrays and objects, the root
 * object counting as 1 (so a task's `task_data` may hold 60 more levels).
 * Deeper documents are refused before they are parsed, with
 * %ORRERY_CONSTELLATION_ERROR_TOO_DEEP: json-glib's parser recurses once a
 * level and a few tens of thousands of levels overflow the stack.
 */
#define ORRERY_CONSTELLATION_MAX_DEPTH 64

ORRERY_EXPORT
GQuark orrery_constellation_error_quark (void);

#define ORRERY_TYPE_CONSTELLATION (orrery_constellation_get_type ())
ORRERY_EXPORT
G_DECLARE_FINAL_TYPE (OrreryConstellation, orrery_constellation, ORRERY, CONSTELLATION, GObject)

ORRERY_EXPORT
OrreryConstellation      *orrery_constellation_new                 (const char           *id,
                                                                    const char           *name);
ORRERY_EXPORT
const char               *orrery_constellation_get_id              (OrreryConstellation  *self);
ORRERY_EXPORT
const char               *orrery_constellation_get_name            (OrreryConstellation  *self);
ORRERY_EXPORT
void                      orrery_constellation_set_name            (OrreryConstellation  *self,
                                                                    const char           *name);
ORRERY_EXPORT
OrreryConstellationState  orrery_constellation_get_state           (OrreryConstellation  *self);
ORRERY_EXPORT
void                      orrery_constellation_set_state           (OrreryConstellation  *self,
                                                                    OrreryConstellationState state);
ORRERY_EXPORT
guint64                   orrery_constellation_get_version         (OrreryConstellation  *self);

/* Building */
ORRERY_EXPORT
gboolean                  orrery_constellation_add_task            (OrreryConstellation  *self,
                                                                    OrreryTask           *task,
                                                                    GError              **error);
ORRERY_EXPORT
gboolean                  orrery_constellation_add_dependency      (OrreryConstellation  *self,
                                                                    const char           *from_id,
                                                                    const char           *to_id,
                                                                    OrreryDependencyType  type,
                                                                    OrreryCondition      *condition,
                                                                    GError              **error);

/* Queries */
ORRERY_EXPORT
OrreryTask               *orrery_constellation_get_task            (OrreryConstellation  *self,
                                                                    const char           *id);
ORRERY_EXPORT
GPtrArray                *orrery_constellation_get_tasks           (OrreryConstellation  *self);
ORRERY_EXPORT
guint                     orrery_constellation_get_n_tasks         (OrreryConstellation  *self);
ORRERY_EXPORT
guint                     orrery_constellation_get_n_dependencies  (OrreryConstellation  *self);
ORRERY_EXPORT
GPtrArray                *orrery_constellation_get_dependencies    (OrreryConstellation  *self);
ORRERY_EXPORT
OrreryDependency         *orrery_constellation_get_dependency      (OrreryConstellation  *self,
                                                                    const char           *from_id,
                                                                    const char           *to_id);
ORRERY_EXPORT
GPtrArray                *orrery_constellation_get_prerequisites   (OrreryConstellation  *self,
                                                                    const char           *task_id);
ORRERY_EXPORT
GPtrArray                *orrery_constellation_get_dependents      (OrreryConstellation  *self,
                                                                    const char           *task_id);
ORRERY_EXPORT
GPtrArray                *orrery_constellation_get_ready_tasks     (OrreryConstellation  *self);
ORRERY_EXPORT
GPtrArray                *orrery_constellation_peek_ready_tasks    (OrreryConstellation  *self,
                                                                    guint                 max_tasks);
ORRERY_EXPORT
guint                     orrery_constellation_get_n_ready         (OrreryConstellation  *self);
ORRERY_EXPORT
guint                     orrery_constellation_count_status        (OrreryConstellation  *self,
                                                                    OrreryTaskStatus      status);
ORRERY_EXPORT
gboolean                  orrery_constellation_is_finished         (OrreryConstellation  *self);
ORRERY_EXPORT
gboolean                  orrery_constellation_validate            (OrreryConstellation  *self,
                                                                    GError              **error);
ORRERY_EXPORT
GPtrArray                *orrery_constellation_get_topological_order (OrreryConstellation *self,
                                                                      GError            **error);
ORRERY_EXPORT
GVariant                 *orrery_constellation_get_layers          (OrreryConstellation  *self,
                                                                    GError              **error);
ORRERY_EXPORT
GVariant                 *orrery_constellation_get_statistics      (OrreryConstellation  *self);

/* Running */
ORRERY_EXPORT
gboolean                  orrery_constellation_mark_task_started   (OrreryConstellation  *self,
                                                                    const char           *task_id,
                                                                    GError              **error);
ORRERY_EXPORT
GPtrArray                *orrery_constellation_mark_task_completed (OrreryConstellation  *self,
                                                                    const char           *task_id,
                                                                    gboolean              success,
                                                                    GVariant             *result,
                                                                    const GError         *task_error,
                                                                    GPtrArray           **out_skipped,
                                                                    GError              **error);
ORRERY_EXPORT
GPtrArray                *orrery_constellation_complete_task       (OrreryConstellation  *self,
                                                                    const char           *task_id,
                                                                    GVariant             *result,
                                                                    GPtrArray           **out_skipped,
                                                                    GError              **error);
ORRERY_EXPORT
GPtrArray                *orrery_constellation_fail_task           (OrreryConstellation  *self,
                                                                    const char           *task_id,
                                                                    GVariant             *result,
                                                                    const char           *message,
                                                                    GPtrArray           **out_skipped,
                                                                    GError              **error);
ORRERY_EXPORT
gboolean                  orrery_constellation_mark_task_cancelled (OrreryConstellation  *self,
                                                                    const char           *task_id,
                                                                    GError              **error);
ORRERY_EXPORT
GPtrArray                *orrery_constellation_mark_task_cancelled_full (OrreryConstellation *self,
                                                                         const char          *task_id,
                                                                         GPtrArray          **out_skipped,
                                                                         GError             **error);
ORRERY_EXPORT
guint                     orrery_constellation_cancel_pending      (OrreryConstellation  *self,
                                                                    const GError         *reason,
                                                                    gint64                ended_at);
ORRERY_EXPORT
gboolean                  orrery_constellation_requeue_task        (OrreryConstellation  *self,
                                                                    const char           *task_id,
                                                                    GError              **error);
ORRERY_EXPORT
void                      orrery_constellation_reset_running       (OrreryConstellation  *self);
ORRERY_EXPORT
guint                     orrery_constellation_reset_interrupted   (OrreryConstellation  *self);
ORRERY_EXPORT
OrreryConstellationState  orrery_constellation_update_state        (OrreryConstellation  *self);

/* Atomic edits */
ORRERY_EXPORT
GVariant                 *orrery_constellation_apply_edits         (OrreryConstellation  *self,
                                                                    OrreryEditBatch      *batch,
                                                                    GError              **error);

/* JSON */
ORRERY_EXPORT
OrreryConstellation      *orrery_constellation_new_from_file       (const char           *path,
                                                                    GError              **error);
ORRERY_EXPORT
OrreryConstellation      *orrery_constellation_new_from_data       (const char           *data,
                                                                    gssize                length,
                                                                    const char           *name_for_errors,
                                                                    GError              **error);
ORRERY_EXPORT
OrreryConstellation      *orrery_constellation_new_from_stream     (GInputStream         *stream,
                                                                    const char           *name_for_errors,
                                                                    GCancellable         *cancellable,
                                                                    GError              **error);
ORRERY_EXPORT
char                     *orrery_constellation_to_data             (OrreryConstellation  *self,
                                                                    gsize                *length);
ORRERY_EXPORT
gboolean                  orrery_constellation_save_to_file        (OrreryConstellation  *self,
                                                                    const char           *path,
                                                                    GError              **error);

ORRERY_EXPORT
const char               *orrery_constellation_state_to_nick       (OrreryConstellationState state);

G_END_DECLS
