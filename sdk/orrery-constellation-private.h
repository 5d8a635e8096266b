/* orrery-constellation-private.h: the insides of tasks, dependencies and
 * constellations, shared by the constellation's sources. Not installed.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "orrery-private.h"
#include "orrery-task.h"
#include "orrery-dependency.h"
#include "orrery-edit-batch.h"
#include "orrery-constellation.h"

G_BEGIN_DECLS

typedef enum {
  EDGE_PENDING,      /* the prerequisite has not finished */
  EDGE_SATISFIED,    /* finished and the edge lets the dependent run */
  EDGE_IMPOSSIBLE,   /* finished and the dependent can never run */
} EdgeState;

struct _OrreryCondition
{
  gint                     ref_count;
  OrreryConditionOperator  op;
  char                    *field;
  GVariant                *value;
};

struct _OrreryDependency
{
  gint             ref_count;
  guint8           type;
  guint8           state;       /* EdgeState */
  OrreryTask      *from;        /* strong; the constellation breaks the cycle */
  OrreryTask      *to;
  OrreryCondition *condition;
  char            *line_id;     /* nullable: "from->to" is implied */
  char            *condition_description;
  JsonObject      *extra;       /* unknown fields kept for round trips */
};

/* The ready set is split by what a task asks of a device: its target
 * device id, its device type and its capabilities. Tasks of one class are
 * interchangeable for placement, so a dispatcher that finds the head of a
 * class unplaceable (every device that could take it is busy) passes over
 * the whole class at once: the cost of a dispatch follows the classes, not
 * the ready tasks. */
typedef struct
{
  const char *target_device_id;   /* _orrery_intern(), a reference of its own; NULL: none */
  const char *device_type;        /* the same; NULL: any */
  char       *capabilities;       /* sorted, joined by '\n'; NULL: none */
  GSequence  *tasks;              /* OrreryTask by (priority, id) */
  guint       index;              /* in ready_classes; G_MAXUINT when empty */
  guint64     mark;               /* for the dispatcher: blocked in its pass #mark */
} OrreryReadyClass;

/* A task's run state: what runs make of it (status, attempt, times,
 * result, error) and its place in the graph. The constellation owns it:
 * orrery-constellation*.c write it (the loader among them), the
 * orchestrator and the devices through the _orrery_task_state_*()
 * writers below, the journal reader while it rebuilds a run into its own
 * constellation; the task's getters read it, and nothing notifies (a run
 * of a million tasks must not pay for a million property notifications).
 * Kept small: adjacency as tiny arrays. */
typedef struct
{
  guint8               status;
  /* Cancelled by orrery_constellation_cancel_pending() with no error of its
   * own: its error is the owner's bulk_cancel_error (one GError for 100k
   * tasks instead of 100k copies). Cleared by any status change. */
  guint8               bulk_cancelled;
  guint                attempt;
  gint64               started_at;
  gint64               ended_at;
  /* When the device really started and ended the work of the current
   * attempt (monotonic µs; 0: not recorded), see
   * orrery_base_device_record_start(). */
  gint64               device_started_us;
  gint64               device_ended_us;
  GVariant            *result;
  GError              *error;

  /* The graph */
  OrreryConstellation *owner;              /* weak */
  guint                index;
  guint                n_pending_in;       /* incoming edges still pending */
  guint                n_impossible_in;    /* incoming edges that cannot be met */
  guint                n_in, cap_in;
  guint                n_out, cap_out;
  OrreryDependency   **in;
  OrreryDependency   **out;
  GSequenceIter       *ready_iter;         /* in ready_class->tasks */
  OrreryReadyClass    *ready_class;
} OrreryTaskState;

/* A task is its description, which the caller edits (orrery-task.c's
 * setters: id, name, data, priority, retries, timeout, extras...), and its
 * run state, which the constellation owns. Device type and id are
 * interned. */
struct _OrreryTask
{
  GObject              parent_instance;

  char                *id;
  char                *name;
  char                *description;
  char               **tips;
  const char          *target_device_id;   /* _orrery_intern() */
  const char          *device_type;        /* _orrery_intern() */
  GVariant            *task_data;
  JsonObject          *extra;
  gdouble              timeout;
  gint64               created_at;
  guint                retry_count;
  guint8               priority;

  OrreryTaskState      state;
};

/* Run-state writers for the orchestrator and the devices, beside the
 * constellation's own (orrery-constellation.c). No notification. */
/* A new attempt: its number, and no device times recorded yet. */
ORRERY_HIDDEN void _orrery_task_state_begin_attempt       (OrreryTask *task,
                                                           guint       attempt);
/* When the device really started (ended) the work; 0: now (monotonic µs). */
ORRERY_HIDDEN void _orrery_task_state_record_device_start (OrreryTask *task,
                                                           gint64      monotonic_us);
ORRERY_HIDDEN void _orrery_task_state_record_device_end   (OrreryTask *task,
                                                           gint64      monotonic_us);
/* The recorded start and end become the device's own times, when it
 * recorded both. */
ORRERY_HIDDEN void _orrery_task_state_apply_device_times  (OrreryTask *task);

typedef GVariant *(*OrreryConstellationRemoteEdits) (OrreryConstellation  *self,
                                                      OrreryEditBatch      *batch,
                                                      gpointer              data,
                                                      GError              **error);

/* orrery_constellation_apply_edits() on @self calls @func instead (NULL:
 * applies them here again). */
ORRERY_HIDDEN void _orrery_constellation_set_remote_edits (OrreryConstellation            *self,
                                                           OrreryConstellationRemoteEdits  func,
                                                           gpointer                        data);

struct _OrreryConstellation
{
  GObject                   parent_instance;
  char                     *id;
  char                     *name;
  OrreryConstellationState  state;
  guint64                   version;
  GPtrArray                *tasks;        /* OrreryTask, owned, insertion order */
  GHashTable               *by_id;        /* id -> OrreryTask */
  guint                     n_deps;
  GHashTable               *classes;      /* OrreryReadyClass, owned, every class seen */
  GPtrArray                *ready_classes;/* the classes with ready tasks */
  guint                     n_ready;
  gboolean                  ready_live;
  /* Skips settled (what a loaded file left unable to run is skipped, an
   * edge that cannot be met skips its dependent at once) without the
   * ready set being kept: state changes need only that (a journal reader
   * rebuilding a million tasks never dispatches); implied by ready_live. */
  gboolean                  skips_live;
  guint                     status_counts[ORRERY_TASK_STATUS_SKIPPED + 1];
  gint64                    created_at;
  JsonObject               *extra;        /* unknown top-level fields */
  /* A copy standing for another process's constellation (an isolated
   * plugin's helper): edits go there (orrery-plugin-isolation.c). */
  OrreryConstellationRemoteEdits remote_edits;
  gpointer                  remote_edits_data;
  GError                   *bulk_cancel_error; /* shared by bulk_cancelled tasks */
  /* The graph's shape as the statistics see it: bumped by every task or
   * edge added or removed and by every change of a task's device
   * requirements. The statistics keep what depends on it alone
   * (topological order, longest path, widths, tasks by device) until it
   * changes (orrery-constellation-stats.c). */
  guint64                   shape_serial;
  struct _OrreryStatsCache *stats_cache;
  /* The ready set's sequences a bulk cancel dropped: freeing their nodes
   * (one per ready task) is left for later, off the end of the run. */
  GPtrArray                *stale_ready;
  /* The capabilities key of the last task data seen (a reference):
   * tasks loaded from one file share one GVariant for equal data. */
  GVariant                 *caps_memo_data;
  char                     *caps_memo_key;
};

/* The statistics' cache, dropped with the constellation. */
ORRERY_HIDDEN void              _orrery_stats_cache_free (struct _OrreryStatsCache *cache);
/* Computes the figures of the shape now (a run's start), so that
 * orrery_constellation_get_statistics() at the run's end only passes over
 * the run states. */
ORRERY_HIDDEN void              _orrery_constellation_prepare_statistics (OrreryConstellation *self);

/* A task's error, the shared one for a task cancelled in bulk. */
static inline const GError *
_orrery_task_peek_error (OrreryTask *t)
{
  if (t->state.error == NULL && t->state.bulk_cancelled && t->state.owner != NULL)
    return t->state.owner->bulk_cancel_error;
  return t->state.error;
}

/* Gives a task cancelled in bulk its own copy of the shared error (it
 * leaves its constellation, or the shared error changes). */
static inline void
_orrery_task_own_bulk_error (OrreryTask *t)
{
  if (t->state.bulk_cancelled && t->state.error == NULL && t->state.owner != NULL &&
      t->state.owner->bulk_cancel_error != NULL)
    t->state.error = g_error_copy (t->state.owner->bulk_cancel_error);
  t->state.bulk_cancelled = FALSE;
}

#define TASK_NOT_STARTED(t) ((t)->state.status == ORRERY_TASK_STATUS_PENDING || \
                             (t)->state.status == ORRERY_TASK_STATUS_WAITING_DEPENDENCY)
#define TASK_TERMINAL(t)    ((t)->state.status >= ORRERY_TASK_STATUS_COMPLETED)

/* Reads JSON text before json-glib parses it (orrery-constellation-json.c):
 * refuses nesting deeper than @max_depth, escapes JSON does not have,
 * NUL characters and strings that are not UTF-8. Errors are in the
 * constellation domain, one problem a line as `NAME: $.path: rule`
 * (without `NAME: ` when @name is NULL). @out_depth, if not NULL, gets
 * the deepest nesting seen. */
ORRERY_HIDDEN gboolean          _orrery_json_check_text  (const char           *text,
                                                          gsize                 length,
                                                          const char           *name,
                                                          guint                 max_depth,
                                                          guint                *out_depth,
                                                          GError              **error);

ORRERY_HIDDEN OrreryDependency *_orrery_dependency_new   (OrreryTask           *from,
                                                          OrreryTask           *to,
                                                          OrreryDependencyType  type,
                                                          OrreryCondition      *condition);
/* Whether the edge lets its dependent run, now that the prerequisite is terminal. */
ORRERY_HIDDEN gboolean          _orrery_dependency_evaluate (OrreryDependency  *dep);
ORRERY_HIDDEN const char       *_orrery_dependency_peek_line_id (OrreryDependency *dep);

/* Completed or failed: how a finished constellation ended. */
ORRERY_HIDDEN OrreryConstellationState _orrery_constellation_outcome (OrreryConstellation *self);
ORRERY_HIDDEN gint              _orrery_task_ready_compare (gconstpointer a,
                                                            gconstpointer b,
                                                            gpointer      user_data);
ORRERY_HIDDEN OrreryTask       *_orrery_task_new_fast     (const char *id);
/* Device ids and types, shared while some task names them: a new
 * reference (NULL for NULL or ""), and its release. */
ORRERY_HIDDEN const char       *_orrery_intern            (const char *text);
ORRERY_HIDDEN void              _orrery_unintern          (const char *interned);
ORRERY_HIDDEN void              _orrery_task_set_error_message (OrreryTask *task,
                                                                const char *message);

/* Hooks from OrreryTask setters into the owning constellation. */
ORRERY_HIDDEN void              _orrery_constellation_priority_changing (OrreryConstellation *self,
                                                                         OrreryTask          *task,
                                                                         OrreryTaskPriority   priority);
/* The target device, device type or task data (capabilities) changed. */
ORRERY_HIDDEN void              _orrery_constellation_requirements_changed (OrreryConstellation *self,
                                                                            OrreryTask          *task);

/* The classes with ready tasks (OrreryReadyClass), for the dispatcher; the
 * array and the classes stay valid until the constellation changes. */
ORRERY_HIDDEN GPtrArray        *_orrery_constellation_peek_ready_classes (OrreryConstellation *self);
static inline OrreryTask *
_orrery_ready_class_head (OrreryReadyClass *cls)
{
  return g_sequence_get (g_sequence_get_begin_iter (cls->tasks));
}

/* Constellation internals shared by its source files */
ORRERY_HIDDEN void              _orrery_constellation_ensure_ready (OrreryConstellation *self,
                                                                    GPtrArray           *skipped);
ORRERY_HIDDEN OrreryDependency *_orrery_constellation_find_edge (OrreryTask *from,
                                                                 OrreryTask *to);
ORRERY_HIDDEN OrreryDependency *_orrery_constellation_link (OrreryConstellation  *self,
                                                            OrreryTask           *from,
                                                            OrreryTask           *to,
                                                            OrreryDependencyType  type,
                                                            OrreryCondition      *condition,
                                                            GPtrArray            *newly_ready,
                                                            GPtrArray            *skipped);
ORRERY_HIDDEN void              _orrery_constellation_unlink (OrreryConstellation *self,
                                                              OrreryDependency    *dep);
ORRERY_HIDDEN guint             _orrery_constellation_topo (OrreryConstellation *self,
                                                            guint               *order,
                                                            guint               *depth);
ORRERY_HIDDEN gboolean          _orrery_constellation_layers (OrreryConstellation  *self,
                                                              OrreryTask         ***out_tasks,
                                                              gsize               **out_ends,
                                                              guint                *out_n_layers,
                                                              GError              **error);
ORRERY_HIDDEN char             *_orrery_constellation_describe_cycle (OrreryConstellation *self,
                                                                      const guint         *members);
ORRERY_HIDDEN void              _orrery_constellation_add_task_internal (OrreryConstellation *self,
                                                                         OrreryTask          *task);
ORRERY_HIDDEN void              _orrery_constellation_remove_task_internal (OrreryConstellation *self,
                                                                            OrreryTask          *task);
ORRERY_HIDDEN void              _orrery_constellation_set_status (OrreryConstellation *self,
                                                                  OrreryTask          *task,
                                                                  OrreryTaskStatus     status);
ORRERY_HIDDEN void              _orrery_constellation_settle (OrreryConstellation *self,
                                                              OrreryTask          *task,
                                                              GPtrArray           *newly_ready,
                                                              GPtrArray           *skipped);
ORRERY_HIDDEN void              _orrery_constellation_emit_modified (OrreryConstellation *self,
                                                                     GVariant            *modifications,
                                                                     const char * const  *on_task_ids);

/* Edit batch internals */
typedef enum {
  EDIT_ADD_TASK,
  EDIT_REMOVE_TASK,
  EDIT_UPDATE_TASK,
  EDIT_ADD_DEPENDENCY,
  EDIT_REMOVE_DEPENDENCY,
} EditKind;

typedef struct
{
  EditKind              kind;
  OrreryTask           *task;        /* add_task */
  char                 *task_id;     /* remove/update */
  char                 *from_id;
  char                 *to_id;
  OrreryDependencyType  dep_type;
  OrreryCondition      *condition;
  GVariant             *changes;     /* update: a{sv} */
} OrreryEdit;

ORRERY_HIDDEN GArray           *_orrery_edit_batch_peek_edits (OrreryEditBatch *batch);
ORRERY_HIDDEN const char       *_orrery_edit_kind_name (EditKind kind);

/* JSON helpers shared by the loader and the writer. */
ORRERY_HIDDEN JsonNode         *_orrery_condition_to_json (OrreryCondition *cond);
ORRERY_HIDDEN OrreryCondition  *_orrery_condition_from_json (JsonNode   *node,
                                                             const char *where,
                                                             GError    **error);

/* One task as the constellation's JSON writes it (the journal's added tasks). */
ORRERY_HIDDEN JsonNode         *_orrery_task_to_json_node (OrreryTask *task);
/* A constellation from text (the journal's header). */
ORRERY_HIDDEN OrreryConstellation *_orrery_constellation_new_from_text (const char  *text,
                                                                        gsize        length,
                                                                        const char  *name,
                                                                        GError     **error);

G_END_DECLS
