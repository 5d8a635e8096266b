/* fuzz-journal-reader.c: the journal reader.
 *
 * The input is a journal file. It is read twice: rebuilt to the end
 * (orrery_journal_reader_read_to()) and replayed on a bus with an observer
 * (orrery_journal_reader_next() through orrery_journal_reader_replay()).
 * Neither may crash or raise a GLib critical or warning; an error must be
 * in the journal domain, name the file and be valid UTF-8; both reads must
 * agree on where they stopped. When the whole journal reads, every task is
 * in a state, its counts add up, and a torn last line is the line after
 * the last one read.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <fcntl.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "fuzz-common.h"

static char *path;

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_init_glib ();
  path = g_strdup_printf ("%s/orrery-fuzz-journal-%d.jsonl",
                          g_file_test ("/dev/shm", G_FILE_TEST_IS_DIR) ? "/dev/shm" : g_get_tmp_dir (),
                          (int) getpid ());
  return 0;
}

static gboolean
count_event (OrreryEvent  *event,
             gpointer      user_data,
             GError      **error)
{
  (*(guint64 *) user_data)++;
  return TRUE;
}

static void
check_error (const GError *error)
{
  FUZZ_CHECK (error->domain == ORRERY_JOURNAL_ERROR, "%s", error->message);
  FUZZ_CHECK (g_str_has_prefix (error->message, path) || strstr (error->message, path) != NULL,
              "the message does not name the file: %s", error->message);
  FUZZ_CHECK (g_utf8_validate (error->message, -1, NULL), "message not UTF-8");
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) error2 = NULL;
  g_autoptr(OrreryJournalReader) reader = NULL;
  g_autoptr(OrreryJournalReader) replayer = NULL;
  g_autoptr(OrreryEventBus) bus = NULL;
  g_autoptr(OrreryObserver) counter = NULL;
  guint64 n_events = 0, published;
  gboolean ok;

  if (!g_file_set_contents (path, (const char *) data, (gssize) size, NULL))
    abort ();

  reader = orrery_journal_reader_new (path, &error);
  if (reader == NULL)
    {
      check_error (error);
      return 0;
    }
  ok = orrery_journal_reader_read_to (reader, 0, &error);
  if (!ok)
    check_error (error);
  else
    {
      OrreryConstellation *c = orrery_journal_reader_get_constellation (reader);
      guint total = 0;

      for (int s = ORRERY_TASK_STATUS_PENDING; s <= ORRERY_TASK_STATUS_SKIPPED; s++)
        total += orrery_constellation_count_status (c, s);
      FUZZ_CHECK (total == orrery_constellation_get_n_tasks (c), "counts %u, tasks %u", total,
                  orrery_constellation_get_n_tasks (c));
      FUZZ_CHECK (orrery_journal_reader_get_torn_line (reader) == 0 ||
                  orrery_journal_reader_get_torn_line (reader) == orrery_journal_reader_get_line (reader) + 1,
                  "torn line %" G_GUINT64_FORMAT " after line %" G_GUINT64_FORMAT,
                  orrery_journal_reader_get_torn_line (reader), orrery_journal_reader_get_line (reader));
      FUZZ_CHECK ((gsize) orrery_journal_reader_get_valid_length (reader) <= size, "valid length past the end");
    }

  /* The same journal, replayed: it stops where the rebuild stopped. */
  replayer = orrery_journal_reader_new (path, &error2);
  FUZZ_CHECK (replayer != NULL, "the header read once, not twice");
  bus = orrery_event_bus_new ();
  counter = orrery_func_observer_new ("counter", count_event, &n_events, NULL);
  orrery_event_bus_subscribe (bus, counter, NULL, 0);
  published = orrery_journal_reader_replay (replayer, bus, &error2);
  FUZZ_CHECK ((error2 == NULL) == ok, "rebuild %s, replay %s", ok ? "ok" : error->message,
              error2 ? error2->message : "ok");
  if (error2 != NULL)
    check_error (error2);
  FUZZ_CHECK (published == n_events, "published %" G_GUINT64_FORMAT ", delivered %" G_GUINT64_FORMAT,
              published, n_events);
  FUZZ_CHECK (orrery_journal_reader_get_sequence (replayer) == orrery_journal_reader_get_sequence (reader),
              "replay stopped at %" G_GUINT64_FORMAT ", rebuild at %" G_GUINT64_FORMAT,
              orrery_journal_reader_get_sequence (replayer), orrery_journal_reader_get_sequence (reader));
  return 0;
}
