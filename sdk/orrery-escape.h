/* orrery-escape.h: printing user data safely.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ORRERY_INSIDE) && !defined(ORRERY_COMPILATION)
#error "Only <orrery.h> can be included directly."
#endif

#include <glib.h>
#include "orrery-version.h"

G_BEGIN_DECLS

ORRERY_EXPORT
gboolean orrery_text_is_terminal_safe   (const char *text,
                                         gssize      length);
ORRERY_EXPORT
void     orrery_string_append_escaped   (GString    *string,
                                         const char *text,
                                         gssize      length);
ORRERY_EXPORT
char    *orrery_escape_for_terminal     (const char *text,
                                         gssize      length);
ORRERY_EXPORT
char    *orrery_escape_for_filename     (const char *text);
ORRERY_EXPORT
GLogWriterOutput orrery_log_writer_escaped (GLogLevelFlags   log_level,
                                            const GLogField *fields,
                                            gsize            n_fields,
                                            gpointer         user_data);

G_END_DECLS
