/* orrery-journal-reader.h: reads a journal back, record by record.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ORRERY_INSIDE) && !defined(ORRERY_COMPILATION)
#error "Only <orrery.h> can be included directly."
#endif

#include <gio/gio.h>
#include "orrery-event-bus.h"
#include "orrery-constellation.h"

G_BEGIN_DECLS

#define ORRERY_TYPE_JOURNAL_READER (orrery_journal_reader_get_type ())
ORRERY_EXPORT
G_DECLARE_FINAL_TYPE (OrreryJournalReader, orrery_journal_reader, ORRERY, JOURNAL_READER, GObject)

ORRERY_EXPORT
OrreryJournalReader *orrery_journal_reader_new              (const char           *path,
                                                             GError              **error);
ORRERY_EXPORT
void                 orrery_journal_reader_set_follow       (OrreryJournalReader  *self,
                                                             gboolean              follow);
ORRERY_EXPORT
OrreryEvent         *orrery_journal_reader_next             (OrreryJournalReader  *self,
                                                             GError              **error);
ORRERY_EXPORT
gboolean             orrery_journal_reader_read_to          (OrreryJournalReader  *self,
                                                             guint64               sequence,
                                                             GError              **error);
ORRERY_EXPORT
guint64              orrery_journal_reader_replay           (OrreryJournalReader  *self,
                                                             OrreryEventBus       *bus,
                                                             GError              **error);
ORRERY_EXPORT
const char          *orrery_journal_reader_get_path         (OrreryJournalReader  *self);
ORRERY_EXPORT
const char          *orrery_journal_reader_get_run_id       (OrreryJournalReader  *self);
ORRERY_EXPORT
const char          *orrery_journal_reader_get_header_member (OrreryJournalReader *self,
                                                             const char           *name);
ORRERY_EXPORT
OrreryConstellation *orrery_journal_reader_get_constellation (OrreryJournalReader *self);
ORRERY_EXPORT
guint64              orrery_journal_reader_get_sequence     (OrreryJournalReader  *self);
ORRERY_EXPORT
guint64              orrery_journal_reader_get_line         (OrreryJournalReader  *self);
ORRERY_EXPORT
goffset              orrery_journal_reader_get_valid_length (OrreryJournalReader  *self);
ORRERY_EXPORT
guint64              orrery_journal_reader_get_torn_line    (OrreryJournalReader  *self);
ORRERY_EXPORT
guint                orrery_journal_reader_get_n_runs       (OrreryJournalReader  *self);
ORRERY_EXPORT
gboolean             orrery_journal_reader_is_finished      (OrreryJournalReader  *self);
ORRERY_EXPORT
OrreryEvent         *orrery_journal_reader_get_last_event   (OrreryJournalReader  *self);
ORRERY_EXPORT
char               **orrery_journal_reader_reset_failed     (OrreryJournalReader  *self);

G_END_DECLS
