/* orrery-journal-private.h: the journal's JSON helpers, shared with the
 * reader.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "orrery-private.h"

G_BEGIN_DECLS

ORRERY_HIDDEN void _orrery_json_append_string  (GString      *s,
                                                const char   *str);
ORRERY_HIDDEN void _orrery_json_append_variant (GString      *s,
                                                GVariant     *v);
ORRERY_HIDDEN void _orrery_json_append_error   (GString      *s,
                                                const GError *error);
/* The constellation as JSON its loader reads, written by hand (fast). */
ORRERY_HIDDEN char *_orrery_constellation_to_compact_json (OrreryConstellation *c,
                                                          gsize               *length);

G_END_DECLS
