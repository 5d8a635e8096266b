/* orrery-constellation-dot.h: a constellation as Graphviz DOT.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ORRERY_INSIDE) && !defined(ORRERY_COMPILATION)
#error "Only <orrery.h> can be included directly."
#endif

#include <glib-object.h>
#include "orrery-version.h"
#include "orrery-constellation.h"

G_BEGIN_DECLS

/**
 * OrreryDotFlags:
 * @ORRERY_DOT_NONE: the description only: ids, names, edges by kind
 * @ORRERY_DOT_STATUS: the run's state: each task filled with its status's
 *   colour (`white` pending or waiting, `gold` running, `palegreen`
 *   completed, `tomato` failed with a red border, `orange` cancelled,
 *   `lightblue` skipped) and its status as tooltip, the duration of a
 *   finished task, the constellation's state and version in the title
 * @ORRERY_DOT_LAYERS: the tasks of one layer (same depth) on one rank
 * @ORRERY_DOT_LEFT_TO_RIGHT: dependencies drawn from left to right
 *   instead of top to bottom
 * @ORRERY_DOT_TEMPLATE: a drawing whose layout no run can change, for a
 *   program that lays the graph out once and fills in the run's state in
 *   the SVG itself: every task drawn as pending
 *   (`white`, tooltip `status: pending`) with a third line that is a
 *   fixed-width slot for its duration (`00000.00s`), the title's state and
 *   version as slots too (`NAME (partially-failed, version 000000)`: the
 *   widest state, six digits or the version's own if it has more), and an
 *   `id` attribute on every task (`taskN`, N its index in
 *   orrery_constellation_get_tasks()) and dependency (`depN`, its index in
 *   orrery_constellation_get_dependencies()), which Graphviz gives the SVG
 *   group drawing it. Fill and border colours, border widths and tooltips
 *   do not move anything; a task's size is the same whatever its status.
 *   #ORRERY_DOT_STATUS is ignored with it.
 *
 * What orrery_constellation_to_dot() writes besides the graph itself.
 */
typedef enum /*< flags >*/ {
  ORRERY_DOT_NONE          = 0,
  ORRERY_DOT_STATUS        = 1 << 0,
  ORRERY_DOT_LAYERS        = 1 << 1,
  ORRERY_DOT_LEFT_TO_RIGHT = 1 << 2,
  ORRERY_DOT_TEMPLATE      = 1 << 3,
} OrreryDotFlags;

ORRERY_EXPORT
char *orrery_constellation_to_dot (OrreryConstellation *self,
                                   OrreryDotFlags       flags);
ORRERY_EXPORT
const char *orrery_task_status_to_dot_color (OrreryTaskStatus status);

G_END_DECLS
