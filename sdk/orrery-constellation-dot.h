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
 *
 * What orrery_constellation_to_dot() writes besides the graph itself.
 */
typedef enum /*< flags >*/ {
  ORRERY_DOT_NONE          = 0,
  ORRERY_DOT_STATUS        = 1 << 0,
  ORRERY_DOT_LAYERS        = 1 << 1,
  ORRERY_DOT_LEFT_TO_RIGHT = 1 << 2,
} OrreryDotFlags;

ORRERY_EXPORT
char *orrery_constellation_to_dot (OrreryConstellation *self,
                                   OrreryDotFlags       flags);

G_END_DECLS
