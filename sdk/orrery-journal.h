/* orrery-journal.h: the run's events, appended to a file as JSON Lines.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ORRERY_INSIDE) && !defined(ORRERY_COMPILATION)
#error "Only <orrery.h> can be included directly."
#endif

#include <gio/gio.h>
#include "orrery-event-bus.h"
#include "orrery-orchestrator.h"

G_BEGIN_DECLS

/**
 * ORRERY_JOURNAL_FORMAT_VERSION:
 *
 * The version of the journal's format, in the `format` member of its
 * first record. A reader refuses any other.
 */
#define ORRERY_JOURNAL_FORMAT_VERSION 1

/**
 * ORRERY_JOURNAL_ERROR:
 *
 * The error domain of journals: writing and reading.
 */
#define ORRERY_JOURNAL_ERROR (orrery_journal_error_quark ())
ORRERY_EXPORT
GQuark orrery_journal_error_quark (void);

/**
 * OrreryJournalError:
 * @ORRERY_JOURNAL_ERROR_IO: the file could not be opened, read or written
 *   (the message names the file and the system's reason)
 * @ORRERY_JOURNAL_ERROR_EXISTS: a new journal would overwrite a file
 * @ORRERY_JOURNAL_ERROR_NOT_A_JOURNAL: the file is not an Orrery journal
 * @ORRERY_JOURNAL_ERROR_VERSION: the journal has another format version
 * @ORRERY_JOURNAL_ERROR_SEQUENCE: a gap or a repeat in the sequence numbers
 * @ORRERY_JOURNAL_ERROR_BAD_RECORD: a line is not a record, or a record does
 *   not fit the run it belongs to
 * @ORRERY_JOURNAL_ERROR_BUSY: another process is writing the journal (it
 *   holds its lock)
 * @ORRERY_JOURNAL_ERROR_WRITER_GONE: the process writing the journal ended
 *   without its run's end record
 *
 * One code per rule; the message names the file and the line.
 */
typedef enum {
  ORRERY_JOURNAL_ERROR_IO,
  ORRERY_JOURNAL_ERROR_EXISTS,
  ORRERY_JOURNAL_ERROR_NOT_A_JOURNAL,
  ORRERY_JOURNAL_ERROR_VERSION,
  ORRERY_JOURNAL_ERROR_SEQUENCE,
  ORRERY_JOURNAL_ERROR_BAD_RECORD,
  ORRERY_JOURNAL_ERROR_BUSY,
  ORRERY_JOURNAL_ERROR_WRITER_GONE,
} OrreryJournalError;

/**
 * OrreryJournalSync:
 * @ORRERY_JOURNAL_SYNC_NONE: records are written to the file (the kernel
 *   keeps them through a crash of the process), never forced to the disk
 * @ORRERY_JOURNAL_SYNC_BATCH: `fdatasync` at most every few milliseconds and
 *   after every run-level event
 * @ORRERY_JOURNAL_SYNC_ALWAYS: every record is written and synced before
 *   the next event is delivered
 *
 * How hard the journal pushes its records to the disk (`[Host] JournalSync`).
 */
typedef enum {
  ORRERY_JOURNAL_SYNC_NONE,
  ORRERY_JOURNAL_SYNC_BATCH,
  ORRERY_JOURNAL_SYNC_ALWAYS,
} OrreryJournalSync;

ORRERY_EXPORT
gboolean    orrery_journal_sync_from_nick (const char        *nick,
                                           OrreryJournalSync *sync);
ORRERY_EXPORT
const char *orrery_journal_sync_to_nick   (OrreryJournalSync  sync);

#define ORRERY_TYPE_JOURNAL (orrery_journal_get_type ())
ORRERY_EXPORT
G_DECLARE_FINAL_TYPE (OrreryJournal, orrery_journal, ORRERY, JOURNAL, GObject)

ORRERY_EXPORT
OrreryJournal *orrery_journal_new              (const char          *path,
                                                const char          *run_id,
                                                GError             **error);
ORRERY_EXPORT
OrreryJournal *orrery_journal_new_for_fd       (int                  fd,
                                                const char          *name,
                                                const char          *run_id,
                                                GError             **error);
ORRERY_EXPORT
OrreryJournal *orrery_journal_open_append      (const char          *path,
                                                const char          *run_id,
                                                guint64              next_sequence,
                                                goffset              valid_length,
                                                GError             **error);
ORRERY_EXPORT
void           orrery_journal_set_sync         (OrreryJournal       *self,
                                                OrreryJournalSync    sync);
ORRERY_EXPORT
OrreryJournalSync orrery_journal_get_sync      (OrreryJournal       *self);
ORRERY_EXPORT
void           orrery_journal_set_header_member (OrreryJournal      *self,
                                                const char          *name,
                                                const char          *value);
ORRERY_EXPORT
void           orrery_journal_set_resumed      (OrreryJournal       *self,
                                                const char * const  *retried_task_ids);
ORRERY_EXPORT
void           orrery_journal_prepare          (OrreryJournal       *self,
                                                OrreryConstellation *constellation);
ORRERY_EXPORT
guint          orrery_journal_attach           (OrreryJournal       *self,
                                                OrreryEventBus      *bus);
ORRERY_EXPORT
void           orrery_journal_set_orchestrator (OrreryJournal       *self,
                                                OrreryOrchestrator  *orchestrator);
ORRERY_EXPORT
gboolean       orrery_journal_append_event     (OrreryJournal       *self,
                                                OrreryEvent         *event,
                                                GError             **error);
ORRERY_EXPORT
gboolean       orrery_journal_flush            (OrreryJournal       *self,
                                                gboolean             sync,
                                                GError             **error);
ORRERY_EXPORT
gboolean       orrery_journal_close            (OrreryJournal       *self,
                                                GError             **error);
ORRERY_EXPORT
const char    *orrery_journal_get_path         (OrreryJournal       *self);
ORRERY_EXPORT
const char    *orrery_journal_get_run_id       (OrreryJournal       *self);
ORRERY_EXPORT
guint64        orrery_journal_get_next_sequence (OrreryJournal      *self);
ORRERY_EXPORT
guint64        orrery_journal_get_bytes_written (OrreryJournal      *self);
ORRERY_EXPORT
guint64        orrery_journal_get_sync_count   (OrreryJournal       *self);
ORRERY_EXPORT
const GError  *orrery_journal_get_error        (OrreryJournal       *self);

ORRERY_EXPORT
char          *orrery_journal_event_to_json   (OrreryEvent         *event,
                                                guint64              sequence);

G_END_DECLS
