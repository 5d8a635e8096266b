/* test-journal.c: OrreryJournal and OrreryJournalReader on simulated runs.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <orrery.h>

typedef struct
{
  char                *dir;
  char                *path;
  OrreryEventBus      *bus;
  OrreryDeviceManager *devices;
  OrreryOrchestrator  *orch;
  OrreryConstellation *c;
  gboolean             done;
  gboolean             ok;
  GError              *error;
  guint                n_failed_signals;
} Fixture;

/* Every fdatasync of the library comes here first (a definition in the
 * executable wins over libc's), so a test can tell which thread synced. */
static GThread *main_thread;
static gint syncs_on_main, syncs_elsewhere;

int fdatasync (int fd);

int
fdatasync (int fd)
{
  if (g_thread_self () == main_thread)
    g_atomic_int_inc (&syncs_on_main);
  else
    g_atomic_int_inc (&syncs_elsewhere);
  return (int) syscall (SYS_fdatasync, fd);
}

/* And every write(): with the gate armed, a write of the header (a buffer
 * that starts the journal) from a thread other than the main one waits
 * until the gate opens (or 30 s pass: gate_timed_out). */
static GMutex gate_lock;
static GCond gate_cond;
static gboolean gate_armed, gate_open, gate_timed_out;
static gboolean header_on_main, header_elsewhere, header_done;
/* And of the other writes: how many, from which thread; with
 * fail_aside set, those from another thread fail with ENOSPC. */
static gint records_on_main, records_elsewhere, records_failed;
static gboolean fail_aside;

ssize_t write (int fd, const void *buf, size_t n);

ssize_t
write (int         fd,
       const void *buf,
       size_t      n)
{
  static const char start[] = "{\"journal\":\"orrery\"";
  gboolean header = n >= sizeof start - 1 && memcmp (buf, start, sizeof start - 1) == 0;
  ssize_t r;

  if (header && g_atomic_int_get (&gate_armed))
    {
      gint64 end = g_get_monotonic_time () + 30 * G_TIME_SPAN_SECOND;

      g_mutex_lock (&gate_lock);
      if (g_thread_self () == main_thread)
        header_on_main = TRUE;
      else
        {
          header_elsewhere = TRUE;
          while (!gate_open && !gate_timed_out)
            if (!g_cond_wait_until (&gate_cond, &gate_lock, end))
              gate_timed_out = TRUE;
        }
      g_mutex_unlock (&gate_lock);
      /* The main thread, let go on, would be first to write if it did
       * not wait for the header. */
      if (!header_on_main)
        g_usleep (100 * G_TIME_SPAN_MILLISECOND);
    }
  if (!header && n > 0 && memcmp (buf, "{\"seq\":", 7) == 0)
    {
      if (g_thread_self () == main_thread)
        g_atomic_int_inc (&records_on_main);
      else if (g_atomic_int_get (&fail_aside))
        {
          g_atomic_int_inc (&records_failed);
          errno = ENOSPC;
          return -1;
        }
      else
        g_atomic_int_inc (&records_elsewhere);
    }
  r = (ssize_t) syscall (SYS_write, fd, buf, n);
  if (header && g_atomic_int_get (&gate_armed))
    g_atomic_int_set (&header_done, TRUE);
  return r;
}

static OrreryTask *
sim_task (const char *id,
          const char *data)
{
  OrreryTask *t = orrery_task_new (id, NULL);

  if (data != NULL)
    orrery_task_set_task_data (t, g_variant_new_parsed (data));
  return t;
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(OrrerySimulatedDevice) sim = orrery_simulated_device_new ("sim", NULL, 4);
  const char *ids[] = { "a", "b", "c" };

  f->dir = g_dir_make_tmp ("test-journal-XXXXXX", NULL);
  f->path = g_build_filename (f->dir, "journal.jsonl", NULL);
  f->bus = orrery_event_bus_new ();
  f->devices = orrery_device_manager_new ();
  orrery_device_manager_add_device (f->devices, ORRERY_DEVICE (sim), NULL);
  f->orch = orrery_orchestrator_new (f->bus, f->devices);
  f->c = orrery_constellation_new ("journal-test", "Journal test");
  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      g_autoptr(OrreryTask) t = sim_task (ids[i], i == 1 ? "{'duration_ms': <5>}" : NULL);

      g_assert_true (orrery_constellation_add_task (f->c, t, NULL));
    }
  g_assert_true (orrery_constellation_add_dependency (f->c, "a", "b", ORRERY_DEPENDENCY_SUCCESS_ONLY, NULL, NULL));
  g_assert_true (orrery_constellation_add_dependency (f->c, "b", "c", ORRERY_DEPENDENCY_SUCCESS_ONLY, NULL, NULL));
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_remove (f->path);
  g_rmdir (f->dir);
  g_free (f->path);
  g_free (f->dir);
  g_clear_error (&f->error);
  g_object_unref (f->c);
  g_object_unref (f->orch);
  g_object_unref (f->devices);
  g_object_unref (f->bus);
}

static void
run_done (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  Fixture *f = user_data;

  f->ok = orrery_orchestrator_run_finish (ORRERY_ORCHESTRATOR (source), result, &f->error);
  f->done = TRUE;
}

static void
run (Fixture *f)
{
  orrery_orchestrator_run_async (f->orch, f->c, NULL, run_done, f);
  while (!f->done)
    g_main_context_iteration (NULL, TRUE);
}

/* A journal at f->path recording f's bus, failing f's run if it cannot
 * be written. */
static OrreryJournal *
open_journal (Fixture    *f,
              const char *run_id)
{
  g_autoptr(GError) error = NULL;
  OrreryJournal *journal = orrery_journal_new (f->path, run_id, &error);

  g_assert_no_error (error);
  orrery_journal_attach (journal, f->bus);
  orrery_journal_set_orchestrator (journal, f->orch);
  return journal;
}

static void
close_journal (OrreryJournal *journal)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (orrery_journal_close (journal, &error));
  g_assert_no_error (error);
}

/* A reader that has read the whole journal at @path. */
static OrreryJournalReader *
read_journal (const char *path)
{
  g_autoptr(GError) error = NULL;
  OrreryJournalReader *reader = orrery_journal_reader_new (path, &error);

  g_assert_no_error (error);
  g_assert_true (orrery_journal_reader_read_to (reader, 0, &error));
  g_assert_no_error (error);
  return reader;
}

/* @n simulated tasks t0000... with no dependencies, into f->c. */
static void
add_independent_tasks (Fixture *f,
                       guint    n)
{
  g_clear_object (&f->c);
  f->c = orrery_constellation_new ("independent", NULL);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *id = g_strdup_printf ("t%05u", i);
      g_autoptr(OrreryTask) t = orrery_task_new (id, NULL);

      g_assert_true (orrery_constellation_add_task (f->c, t, NULL));
    }
}

static GPtrArray *
read_lines (const char *path)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  GPtrArray *records = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL && lines[i][0] != '\0'; i++)
    {
      g_autoptr(GError) error = NULL;
      JsonNode *node = json_from_string (lines[i], &error);

      g_assert_no_error (error);
      g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
      g_ptr_array_add (records, node);
    }
  return records;
}

static const char *
record_type (GPtrArray *records,
             guint      i)
{
  return json_object_get_string_member (json_node_get_object (records->pdata[i]), "type");
}

/* Every event, in order, one compact line each, from the header on; the
 * file is private to its owner. */
static void
test_records_every_event (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(OrreryJournal) journal = open_journal (f, "run-1");
  g_autoptr(GPtrArray) records = NULL;
  const char *expected[] = {
    "header", "constellation-started", "task-started", "task-completed", "task-started",
    "task-completed", "task-started", "task-completed", "constellation-completed",
  };
  struct stat st;

  run (f);
  g_assert_no_error (f->error);
  close_journal (journal);

  g_assert_cmpint (stat (f->path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  records = read_lines (f->path);
  g_assert_cmpuint (records->len, ==, G_N_ELEMENTS (expected));
  for (guint i = 0; i < records->len; i++)
    {
      JsonObject *o = json_node_get_object (records->pdata[i]);

      g_assert_cmpstr (record_type (records, i), ==, expected[i]);
      g_assert_cmpint (json_object_get_int_member (o, "seq"), ==, i + 1);
    }
  {
    JsonObject *header = json_node_get_object (records->pdata[0]);
    JsonObject *done = json_node_get_object (records->pdata[3]);

    g_assert_cmpint (json_object_get_int_member (header, "format"), ==, ORRERY_JOURNAL_FORMAT_VERSION);
    g_assert_cmpstr (json_object_get_string_member (header, "run_id"), ==, "run-1");
    g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (header, "constellation"),
                                                    "constellation_id"), ==, "journal-test");
    g_assert_cmpstr (json_object_get_string_member (done, "task"), ==, "a");
    g_assert_cmpstr (json_object_get_string_member (done, "status"), ==, "completed");
    g_assert_cmpint (json_object_get_int_member (done, "attempt"), ==, 1);
    g_assert_cmpstr (json_object_get_string_member (done, "device"), ==, "sim");
    g_assert_true (json_object_has_member (done, "result"));
  }
}

/* Nothing is written before the run starts. */
static void
test_nothing_before_start (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryJournal) journal = orrery_journal_new (f->path, NULL, &error);
  g_autoptr(OrreryEvent) early = orrery_event_new (ORRERY_EVENT_DEVICE_ADDED, "test", NULL);
  struct stat st;

  g_assert_no_error (error);
  orrery_journal_attach (journal, f->bus);
  orrery_event_bus_publish (f->bus, early);
  g_assert_true (orrery_journal_flush (journal, TRUE, &error));
  g_assert_cmpint (stat (f->path, &st), ==, 0);
  g_assert_cmpint (st.st_size, ==, 0);
  run (f);
  g_assert_true (orrery_journal_close (journal, &error));
  g_assert_cmpint (stat (f->path, &st), ==, 0);
  g_assert_cmpint (st.st_size, >, 0);
  /* A journal is never overwritten. */
  g_assert_null (orrery_journal_new (f->path, NULL, &error));
  g_assert_error (error, ORRERY_JOURNAL_ERROR, ORRERY_JOURNAL_ERROR_EXISTS);
}

static void
on_failed (OrreryJournal *journal,
           const GError  *error,
           Fixture       *f)
{
  f->n_failed_signals++;
}

/* A write error fails the run: constellation-failed, the run's error
 * naming the file and the system's reason; reported once. */
static void
test_write_error_fails_the_run (Fixture       *f,
                                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  int fd = open ("/dev/full", O_WRONLY | O_CLOEXEC);
  g_autoptr(OrreryJournal) journal = NULL;

  if (fd < 0)
    {
      g_test_skip ("no /dev/full");
      return;
    }
  journal = orrery_journal_new_for_fd (fd, "full-journal", NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (journal, "failed", G_CALLBACK (on_failed), f);
  orrery_journal_attach (journal, f->bus);
  orrery_journal_set_orchestrator (journal, f->orch);
  g_test_expect_message ("Orrery-Orchestrator", G_LOG_LEVEL_WARNING, "*fails*No space left on device*");
  run (f);
  g_test_assert_expected_messages ();
  g_assert_false (f->ok);
  g_assert_nonnull (f->error);
  g_assert_nonnull (strstr (f->error->message, "full-journal"));
  g_assert_nonnull (strstr (f->error->message, g_strerror (ENOSPC)));
  g_assert_cmpint (orrery_constellation_get_state (f->c), ==, ORRERY_CONSTELLATION_STATE_FAILED);
  g_assert_cmpuint (orrery_constellation_count_status (f->c, ORRERY_TASK_STATUS_COMPLETED), ==, 0);
  g_assert_cmpuint (f->n_failed_signals, ==, 1);
  g_assert_false (orrery_journal_close (journal, &error));
  g_assert_error (error, ORRERY_JOURNAL_ERROR, ORRERY_JOURNAL_ERROR_IO);
  close (fd);
}

/* An agent's edits during the run: the records alone rebuild the DAG,
 * before and after the edit. */
static gboolean
edit_after_a (OrreryEvent  *event,
              gpointer      user_data,
              GError      **error)
{
  Fixture *f = user_data;
  g_autoptr(OrreryEditBatch) batch = NULL;
  g_autoptr(OrreryTask) d = NULL;
  g_autoptr(GVariant) mods = NULL;
  g_autoptr(GError) local = NULL;

  if (!g_str_equal (orrery_event_get_task_id (event), "a"))
    return TRUE;
  batch = orrery_edit_batch_new ();
  d = sim_task ("d", "{'result': <'from d'>}");
  orrery_task_set_name (d, "added by the agent");
  orrery_edit_batch_add_task (batch, d);
  orrery_edit_batch_add_dependency (batch, "a", "d", ORRERY_DEPENDENCY_SUCCESS_ONLY, NULL);
  orrery_edit_batch_update_task (batch, "c", g_variant_new_parsed ("{'priority': <4>, 'name': <'renamed'>}"));
  mods = orrery_constellation_apply_edits (f->c, batch, &local);
  g_assert_no_error (local);
  return TRUE;
}

static void
test_edits_rebuild (Fixture       *f,
                    gconstpointer  data)
{
  const OrreryEventType completed[] = { ORRERY_EVENT_TASK_COMPLETED };
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryJournal) journal = orrery_journal_new (f->path, NULL, &error);
  g_autoptr(OrreryObserver) agent = orrery_func_observer_new ("agent", edit_after_a, f, NULL);
  g_autoptr(OrreryJournalReader) reader = NULL;
  g_autoptr(OrreryJournalReader) before = NULL;
  g_autoptr(GPtrArray) records = NULL;
  OrreryConstellation *c;
  OrreryTask *d;
  guint64 modified_seq = 0;

  g_assert_no_error (error);
  orrery_journal_attach (journal, f->bus);
  orrery_event_bus_subscribe (f->bus, agent, completed, 1);
  run (f);
  g_assert_no_error (f->error);
  g_assert_true (orrery_journal_close (journal, &error));

  records = read_lines (f->path);
  for (guint i = 0; i < records->len; i++)
    if (g_str_equal (record_type (records, i), "constellation-modified"))
      modified_seq = i + 1;
  g_assert_cmpuint (modified_seq, >, 0);

  /* Just before the edit: no d, c as it was. */
  before = orrery_journal_reader_new (f->path, &error);
  g_assert_no_error (error);
  g_assert_true (orrery_journal_reader_read_to (before, modified_seq - 1, &error));
  g_assert_no_error (error);
  c = orrery_journal_reader_get_constellation (before);
  g_assert_null (orrery_constellation_get_task (c, "d"));
  g_assert_cmpint (orrery_task_get_priority (orrery_constellation_get_task (c, "c")), ==, ORRERY_TASK_PRIORITY_MEDIUM);
  g_assert_cmpint (orrery_task_get_status (orrery_constellation_get_task (c, "a")), ==, ORRERY_TASK_STATUS_COMPLETED);
  g_assert_cmpint (orrery_task_get_status (orrery_constellation_get_task (c, "b")), !=, ORRERY_TASK_STATUS_COMPLETED);

  /* At the end: the edited DAG, every task's state as the live run's. */
  reader = orrery_journal_reader_new (f->path, &error);
  g_assert_no_error (error);
  g_assert_true (orrery_journal_reader_read_to (reader, 0, &error));
  g_assert_no_error (error);
  g_assert_true (orrery_journal_reader_is_finished (reader));
  c = orrery_journal_reader_get_constellation (reader);
  d = orrery_constellation_get_task (c, "d");
  g_assert_nonnull (d);
  g_assert_cmpstr (orrery_task_get_name (d), ==, "added by the agent");
  g_assert_nonnull (orrery_constellation_get_dependency (c, "a", "d"));
  g_assert_cmpstr (orrery_task_get_name (orrery_constellation_get_task (c, "c")), ==, "renamed");
  g_assert_cmpint (orrery_task_get_priority (orrery_constellation_get_task (c, "c")), ==, ORRERY_TASK_PRIORITY_CRITICAL);
  g_assert_cmpuint (orrery_constellation_get_n_tasks (c), ==, orrery_constellation_get_n_tasks (f->c));
  for (guint i = 0; i < 4; i++)
    {
      const char *id = (const char *[]) { "a", "b", "c", "d" }[i];

      g_assert_cmpint (orrery_task_get_status (orrery_constellation_get_task (c, id)), ==,
                       orrery_task_get_status (orrery_constellation_get_task (f->c, id)));
      g_assert_cmpint (orrery_task_get_attempt (orrery_constellation_get_task (c, id)), ==,
                       orrery_task_get_attempt (orrery_constellation_get_task (f->c, id)));
    }
}

/* An agent that, answering one event, adds a task and then removes it in
 * a second edit: both constellation-modified events wait behind the event
 * being delivered, and the task is gone when the first record is written.
 * The record still says what was added, and the reader rebuilds the DAG
 * at every record: x after the first edit, no x after the second. */
static gboolean
add_then_remove_after_a (OrreryEvent  *event,
                         gpointer      user_data,
                         GError      **error)
{
  Fixture *f = user_data;
  g_autoptr(OrreryEditBatch) add = NULL;
  g_autoptr(OrreryEditBatch) remove = NULL;
  g_autoptr(OrreryTask) x = NULL;
  g_autoptr(GVariant) mods1 = NULL;
  g_autoptr(GVariant) mods2 = NULL;
  g_autoptr(GError) local = NULL;

  if (!g_str_equal (orrery_event_get_task_id (event), "a"))
    return TRUE;
  add = orrery_edit_batch_new ();
  x = sim_task ("x", NULL);
  orrery_task_set_name (x, "short-lived");
  orrery_edit_batch_add_task (add, x);
  orrery_edit_batch_add_dependency (add, "a", "x", ORRERY_DEPENDENCY_SUCCESS_ONLY, NULL);
  mods1 = orrery_constellation_apply_edits (f->c, add, &local);
  g_assert_no_error (local);
  remove = orrery_edit_batch_new ();
  orrery_edit_batch_remove_task (remove, "x");
  mods2 = orrery_constellation_apply_edits (f->c, remove, &local);
  g_assert_no_error (local);
  return TRUE;
}

static void
test_edit_removes_added_task (Fixture       *f,
                              gconstpointer  data)
{
  const OrreryEventType completed[] = { ORRERY_EVENT_TASK_COMPLETED };
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryJournal) journal = orrery_journal_new (f->path, NULL, &error);
  g_autoptr(OrreryObserver) agent = orrery_func_observer_new ("agent", add_then_remove_after_a, f, NULL);
  g_autoptr(OrreryJournalReader) reader = NULL;
  g_autoptr(OrreryJournalReader) between = NULL;
  g_autoptr(GPtrArray) records = NULL;
  OrreryConstellation *c;
  guint64 first_modified = 0, n_modified = 0;

  g_assert_no_error (error);
  orrery_journal_attach (journal, f->bus);
  orrery_event_bus_subscribe (f->bus, agent, completed, 1);
  run (f);
  g_assert_no_error (f->error);
  g_assert_true (orrery_journal_close (journal, &error));
  g_assert_null (orrery_constellation_get_task (f->c, "x"));

  records = read_lines (f->path);
  for (guint i = 0; i < records->len; i++)
    if (g_str_equal (record_type (records, i), "constellation-modified"))
      {
        JsonArray *mods = json_object_get_array_member (json_node_get_object (records->pdata[i]), "modifications");

        if (n_modified++ == 0)
          {
            first_modified = i + 1;
            /* The added task is in its record, though it was gone. */
            for (guint k = 0; k < json_array_get_length (mods); k++)
              {
                JsonObject *m = json_array_get_object_element (mods, k);

                if (g_strcmp0 (json_object_get_string_member (m, "type"), "add_task") == 0)
                  g_assert_true (json_object_has_member (m, "task"));
              }
          }
      }
  g_assert_cmpuint (n_modified, ==, 2);

  between = orrery_journal_reader_new (f->path, &error);
  g_assert_no_error (error);
  g_assert_true (orrery_journal_reader_read_to (between, first_modified, &error));
  g_assert_no_error (error);
  c = orrery_journal_reader_get_constellation (between);
  g_assert_nonnull (orrery_constellation_get_task (c, "x"));
  g_assert_cmpstr (orrery_task_get_name (orrery_constellation_get_task (c, "x")), ==, "short-lived");
  g_assert_nonnull (orrery_constellation_get_dependency (c, "a", "x"));

  reader = orrery_journal_reader_new (f->path, &error);
  g_assert_no_error (error);
  g_assert_true (orrery_journal_reader_read_to (reader, 0, &error));
  g_assert_no_error (error);
  g_assert_true (orrery_journal_reader_is_finished (reader));
  c = orrery_journal_reader_get_constellation (reader);
  g_assert_null (orrery_constellation_get_task (c, "x"));
  g_assert_cmpuint (orrery_constellation_get_n_tasks (c), ==, orrery_constellation_get_n_tasks (f->c));
  for (guint i = 0; i < 3; i++)
    {
      const char *id = (const char *[]) { "a", "b", "c" }[i];

      g_assert_cmpint (orrery_task_get_status (orrery_constellation_get_task (c, id)), ==,
                       orrery_task_get_status (orrery_constellation_get_task (f->c, id)));
    }
}

/* Replayed events: the same types in the same order, the recorded times. */
static gboolean
collect (OrreryEvent  *event,
         gpointer      user_data,
         GError      **error)
{
  g_ptr_array_add (user_data, orrery_event_ref (event));
  return TRUE;
}

static void
test_replay (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryJournal) journal = open_journal (f, NULL);
  g_autoptr(GPtrArray) live = g_ptr_array_new_with_free_func ((GDestroyNotify) orrery_event_unref);
  g_autoptr(GPtrArray) replayed = g_ptr_array_new_with_free_func ((GDestroyNotify) orrery_event_unref);
  g_autoptr(OrreryObserver) live_obs = orrery_func_observer_new ("live", collect, live, NULL);
  g_autoptr(OrreryObserver) replay_obs = orrery_func_observer_new ("replay", collect, replayed, NULL);
  g_autoptr(OrreryEventBus) bus = orrery_event_bus_new ();
  g_autoptr(OrreryJournalReader) reader = NULL;

  orrery_event_bus_subscribe (f->bus, live_obs, NULL, 0);
  run (f);
  close_journal (journal);

  orrery_event_bus_subscribe (bus, replay_obs, NULL, 0);
  reader = orrery_journal_reader_new (f->path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (orrery_journal_reader_replay (reader, bus, &error), ==, live->len);
  g_assert_no_error (error);
  g_assert_cmpuint (replayed->len, ==, live->len);
  for (guint i = 0; i < live->len; i++)
    {
      OrreryEvent *a = live->pdata[i], *b = replayed->pdata[i];

      g_assert_cmpint (orrery_event_get_event_type (a), ==, orrery_event_get_event_type (b));
      g_assert_cmpint (orrery_event_get_timestamp (a), ==, orrery_event_get_timestamp (b));
      if (ORRERY_EVENT_IS_TASK (a))
        {
          g_assert_cmpstr (orrery_event_get_task_id (a), ==,
                           orrery_event_get_task_id (b));
          g_assert_cmpstr (orrery_event_get_device_id (a), ==,
                           orrery_event_get_device_id (b));
        }
      if (orrery_event_get_data (a) != NULL)
        g_assert_true (g_variant_equal (orrery_event_get_data (a), orrery_event_get_data (b)));
    }
}

/* Bad journals: each error names the file and the line. */
static void
check_bad (const char         *dir,
           const char         *name,
           const char         *content,
           gssize              length,
           OrreryJournalError  code,
           const char         *where)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autofree char *expected = g_strconcat (path, where, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryJournalReader) reader = NULL;

  g_assert_true (g_file_set_contents (path, content, length, NULL));
  reader = orrery_journal_reader_new (path, &error);
  if (reader != NULL)
    orrery_journal_reader_read_to (reader, 0, &error);
  g_assert_error (error, ORRERY_JOURNAL_ERROR, (gint) code);
  if (!g_str_has_prefix (error->message, expected))
    g_error ("“%s” does not start with “%s”", error->message, expected);
  g_remove (path);
}

static void
test_bad_journals (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryJournal) journal = orrery_journal_new (f->path, NULL, &error);
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  g_autofree char *gap = NULL, *repeat = NULL, *torn = NULL, *version = NULL, *garbage = NULL;
  g_autoptr(OrreryJournalReader) reader = NULL;
  guint n;

  orrery_journal_attach (journal, f->bus);
  run (f);
  g_assert_true (orrery_journal_close (journal, &error));
  g_assert_true (g_file_get_contents (f->path, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  n = g_strv_length (lines) - 1;   /* the last is empty */
  g_assert_cmpuint (n, ==, 9);

  gap = g_strjoin ("\n", lines[0], lines[1], lines[3], "", NULL);
  check_bad (f->dir, "gap.jsonl", gap, -1, ORRERY_JOURNAL_ERROR_SEQUENCE, ":3: gap");
  repeat = g_strjoin ("\n", lines[0], lines[1], lines[2], lines[2], "", NULL);
  check_bad (f->dir, "repeat.jsonl", repeat, -1, ORRERY_JOURNAL_ERROR_SEQUENCE, ":4: sequence number 3 repeats");
  garbage = g_strjoin ("\n", lines[0], lines[1], "[1, 2]", lines[2], "", NULL);
  check_bad (f->dir, "garbage.jsonl", garbage, -1, ORRERY_JOURNAL_ERROR_BAD_RECORD, ":3: not a journal record");
  check_bad (f->dir, "not.jsonl", "{\n  \"tasks\": []\n}\n", -1, ORRERY_JOURNAL_ERROR_NOT_A_JOURNAL, ":1: not an Orrery journal");
  check_bad (f->dir, "empty.jsonl", "", 0, ORRERY_JOURNAL_ERROR_NOT_A_JOURNAL, ":1: not an Orrery journal");
  {
    g_autofree char *rest = g_strjoinv ("\n", lines + 1);
    const char *p = strstr (lines[0], "\"format\":1");

    g_assert_nonnull (p);
    version = g_strdup_printf ("%.*s\"format\":7%s\n%s", (int) (p - lines[0]), lines[0],
                               p + strlen ("\"format\":1"), rest);
    check_bad (f->dir, "version.jsonl", version, -1, ORRERY_JOURNAL_ERROR_VERSION, ":1: journal format version 7");
  }

  /* A torn last line is reported and ignored. */
  torn = g_strjoin ("\n", lines[0], lines[1], lines[2], "{\"seq\":4,\"type\":\"task-comp", NULL);
  g_assert_true (g_file_set_contents (f->path, torn, -1, NULL));
  reader = orrery_journal_reader_new (f->path, &error);
  g_assert_no_error (error);
  g_assert_true (orrery_journal_reader_read_to (reader, 0, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (orrery_journal_reader_get_torn_line (reader), ==, 4);
  g_assert_cmpuint (orrery_journal_reader_get_sequence (reader), ==, 3);
  g_assert_cmpint (orrery_journal_reader_get_valid_length (reader), ==,
                   strlen (lines[0]) + strlen (lines[1]) + strlen (lines[2]) + 3);
  g_assert_false (orrery_journal_reader_is_finished (reader));
  g_assert_cmpint (orrery_task_get_status (orrery_constellation_get_task (orrery_journal_reader_get_constellation (reader), "a")),
                   ==, ORRERY_TASK_STATUS_RUNNING);
}

/* A resumed journal: appended after the torn line is cut, the sequence
 * going on; a reader applies the resume as the run did. */
static void
test_resume_appends (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryJournal) journal = open_journal (f, "run-r");
  g_autoptr(OrreryJournalReader) reader = NULL;
  g_autoptr(OrreryJournalReader) again = NULL;
  g_autoptr(OrreryJournal) appended = NULL;
  g_autoptr(OrreryOrchestrator) orch2 = NULL;
  g_autoptr(OrreryEventBus) bus2 = orrery_event_bus_new ();
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  g_autofree char *cut = NULL;

  run (f);
  close_journal (journal);
  /* As if the host died after a had started: header, started, a started,
   * and a torn line. */
  g_assert_true (g_file_get_contents (f->path, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  cut = g_strjoin ("\n", lines[0], lines[1], lines[2], "{\"seq\":4,", NULL);
  g_assert_true (g_file_set_contents (f->path, cut, -1, NULL));

  reader = read_journal (f->path);
  appended = orrery_journal_open_append (f->path, orrery_journal_reader_get_run_id (reader),
                                         orrery_journal_reader_get_sequence (reader) + 1,
                                         orrery_journal_reader_get_valid_length (reader), &error);
  g_assert_no_error (error);
  orrery_journal_set_resumed (appended, NULL);
  orrery_journal_attach (appended, bus2);
  orch2 = orrery_orchestrator_new (bus2, f->devices);
  f->done = FALSE;
  orrery_orchestrator_run_async (orch2, orrery_journal_reader_get_constellation (reader), NULL, run_done, f);
  while (!f->done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_no_error (f->error);
  g_assert_true (orrery_journal_close (appended, &error));

  again = read_journal (f->path);
  g_assert_cmpuint (orrery_journal_reader_get_torn_line (again), ==, 0);
  g_assert_cmpuint (orrery_journal_reader_get_n_runs (again), ==, 2);
  g_assert_true (orrery_journal_reader_is_finished (again));
  g_assert_cmpstr (orrery_journal_reader_get_run_id (again), ==, "run-r");
  /* a ran again as its second attempt. */
  g_assert_cmpuint (orrery_task_get_attempt (orrery_constellation_get_task (orrery_journal_reader_get_constellation (again), "a")),
                    ==, 2);
  g_assert_cmpuint (orrery_constellation_count_status (orrery_journal_reader_get_constellation (again),
                                                       ORRERY_TASK_STATUS_COMPLETED), ==, 3);
}

/* A cancel ends the run with one record for the tasks that never started
 * (`bulk_cancelled` in the data of constellation-cancelled), not one each:
 * the reader rebuilds every task's state and error all the same. */
static void
cancel_on_first_completion (OrreryEventBus *bus,
                            OrreryEvent    *event,
                            Fixture        *f)
{
  orrery_orchestrator_cancel (f->orch, "enough");
}

static void
test_cancel_in_bulk (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(OrreryJournal) journal = open_journal (f, "run-c");
  g_autoptr(OrreryJournalReader) reader = NULL;
  g_autoptr(GPtrArray) records = NULL;
  g_autoptr(GPtrArray) tasks = NULL;
  OrreryConstellation *rebuilt;
  JsonObject *last, *last_data;
  guint n_cancel_records = 0;

  for (guint i = 0; i < 200; i++)
    {
      g_autofree char *id = g_strdup_printf ("p%03u", i);
      g_autoptr(OrreryTask) t = sim_task (id, "{'duration_ms': <5>}");

      g_assert_true (orrery_constellation_add_task (f->c, t, NULL));
    }
  g_signal_connect (f->bus, "event::task-completed", G_CALLBACK (cancel_on_first_completion), f);
  run (f);
  g_assert_error (f->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  close_journal (journal);

  records = read_lines (f->path);
  for (guint i = 0; i < records->len; i++)
    if (g_strcmp0 (record_type (records, i), "task-cancelled") == 0)
      n_cancel_records++;
  /* At most the four that were running have a record of their own. */
  g_assert_cmpuint (n_cancel_records, <=, 4);
  last = json_node_get_object (records->pdata[records->len - 1]);
  g_assert_cmpstr (json_object_get_string_member (last, "type"), ==, "constellation-cancelled");
  last_data = json_object_get_object_member (last, "data");
  g_assert_cmpint (json_object_get_int_member (last_data, "bulk_cancelled") + n_cancel_records, ==,
                   orrery_constellation_count_status (f->c, ORRERY_TASK_STATUS_CANCELLED));
  g_assert_cmpint (json_object_get_int_member (last_data, "bulk_cancelled"), >=, 190);
  g_assert_cmpstr (json_object_get_string_member (last_data, "bulk_cancel_message"), ==, "Cancelled: enough");

  reader = read_journal (f->path);
  g_assert_true (orrery_journal_reader_is_finished (reader));
  rebuilt = orrery_journal_reader_get_constellation (reader);
  tasks = orrery_constellation_get_tasks (f->c);
  for (guint i = 0; i < tasks->len; i++)
    {
      OrreryTask *live = tasks->pdata[i];
      OrreryTask *t = orrery_constellation_get_task (rebuilt, orrery_task_get_id (live));
      const GError *live_error = orrery_task_get_error (live);

      g_assert_nonnull (t);
      g_assert_cmpint (orrery_task_get_status (t), ==, orrery_task_get_status (live));
      if (orrery_task_get_status (live) == ORRERY_TASK_STATUS_CANCELLED)
        {
          g_assert_nonnull (live_error);
          g_assert_nonnull (orrery_task_get_error (t));
          g_assert_cmpstr (orrery_task_get_error (t)->message, ==, live_error->message);
        }
    }
  g_assert_cmpuint (orrery_constellation_count_status (rebuilt, ORRERY_TASK_STATUS_CANCELLED), ==,
                    orrery_constellation_count_status (f->c, ORRERY_TASK_STATUS_CANCELLED));
}

/* The record parser: escapes and every kind of character round trip; a
 * lone surrogate, bad UTF-8, a NUL escape or nesting past the limit are
 * refused naming the line, never a crash. */
static void
test_record_parser (Fixture       *f,
                    gconstpointer  data)
{
  const char *odd = "t\"\\/\b\f\n\r\t\x01 é ☃ 😀";
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("odd", NULL);
  g_autoptr(OrreryTask) t = sim_task (odd, "{'result': <{'text': <'\\u00e9 \"quoted\" \\\\'>, 'n': <int64 -12>, 'x': <1.5e300>}>}");
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryJournal) journal = NULL;
  g_autoptr(OrreryJournalReader) reader = NULL;
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  OrreryTask *back;
  GVariant *result;
  gint64 n = 0;
  gdouble x = 0;

  g_assert_true (orrery_constellation_add_task (c, t, NULL));
  g_set_object (&f->c, c);
  journal = open_journal (f, NULL);
  run (f);
  close_journal (journal);
  reader = read_journal (f->path);
  back = orrery_constellation_get_task (orrery_journal_reader_get_constellation (reader), odd);
  g_assert_nonnull (back);
  g_assert_cmpint (orrery_task_get_status (back), ==, ORRERY_TASK_STATUS_COMPLETED);
  result = orrery_task_get_result (back);
  g_assert_true (g_variant_lookup (result, "n", "x", &n));
  g_assert_cmpint (n, ==, -12);
  g_assert_true (g_variant_lookup (result, "x", "d", &x));
  g_assert_cmpfloat (x, ==, 1.5e300);

  /* Hand-made records after a real header. */
  g_assert_true (g_file_get_contents (f->path, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", 2);
  {
    struct { const char *record; const char *message; } bad[] = {
      { "{\"seq\":2,\"type\":\"device-added\",\"ts\":1,\"device\":\"\\ud800\"}", ":2: not a journal record" },
      { "{\"seq\":2,\"type\":\"device-added\",\"ts\":1,\"device\":\"\xff\xfe\"}", ":2: not a journal record" },
      { "{\"seq\":2,\"type\":\"device-added\",\"ts\":1,\"device\":\"a\\u0000b\"}", ":2: not a journal record" },
      { "{\"seq\":2,\"type\":\"device-added\",\"ts\":1,\"device\":\"d\",}", ":2: not a journal record" },
      /* Found by fuzz-journal-reader: this one leaked what the reader
       * had built for the task (LeakSanitizer in the ASan pass). */
      { "{\"seq\":2,\"type\":\"constellation-modified\",\"ts\":1,\"id\":\"odd\",\"state\":\"executing\",\"modifications\":[{\"type\":\"add_task\"}]}",
        ":2: an add_task modification without its task" },
    };
    GString *deep = g_string_new ("{\"seq\":2,\"type\":\"device-added\",\"ts\":1,\"device\":\"d\",\"data\":");

    for (guint i = 0; i < 100000; i++)
      g_string_append_c (deep, '[');
    for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
      {
        g_autofree char *content = g_strconcat (lines[0], "\n", bad[i].record, "\n", NULL);

        check_bad (f->dir, "bad.jsonl", content, -1, ORRERY_JOURNAL_ERROR_BAD_RECORD, bad[i].message);
      }
    {
      g_autofree char *content = g_strconcat (lines[0], "\n", deep->str, "\n", NULL);

      check_bad (f->dir, "deep.jsonl", content, -1, ORRERY_JOURNAL_ERROR_BAD_RECORD, ":2: not a journal record: nested deeper");
    }
    g_string_free (deep, TRUE);
    {
      /* An escaped surrogate pair is one character. */
      g_autofree char *content = g_strconcat (lines[0], "\n",
        "{\"seq\":2,\"type\":\"device-added\",\"ts\":1,\"device\":\"\\ud83d\\ude00 \\u00e9\",\"status\":\"idle\"}\n", NULL);
      g_autofree char *path = g_build_filename (f->dir, "pair.jsonl", NULL);
      g_autoptr(OrreryJournalReader) r = NULL;
      g_autoptr(OrreryEvent) ev = NULL;

      g_assert_true (g_file_set_contents (path, content, -1, NULL));
      r = orrery_journal_reader_new (path, &error);
      g_assert_no_error (error);
      ev = orrery_journal_reader_next (r, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (orrery_event_get_device_id (ev), ==, "😀 é");
      g_remove (path);
    }
    {
      /* Found by fuzz-journal-reader: a time or an attempt past what a
       * gint64 holds was converted anyway (undefined behaviour; on x86 the
       * time came back as G_MININT64). Such a number reads as absent. */
      g_autofree char *content = g_strconcat (lines[0], "\n",
        "{\"seq\":2,\"type\":\"device-added\",\"ts\":1796144957378e227,\"device\":\"d\",\"status\":\"idle\"}\n",
        "{\"seq\":3,\"type\":\"task-started\",\"ts\":-1e300,\"task\":\"t\\\"\\\\/\\b\\f\\n\\r\\t\\u0001 é ☃ 😀\",",
        "\"status\":\"running\",\"attempt\":1e300}\n", NULL);
      g_autofree char *path = g_build_filename (f->dir, "huge.jsonl", NULL);
      g_autoptr(OrreryJournalReader) r = NULL;
      g_autoptr(OrreryJournalReader) r2 = NULL;
      g_autoptr(OrreryEvent) ev = NULL;
      g_autoptr(OrreryEvent) ev2 = NULL;

      g_assert_true (g_file_set_contents (path, content, -1, NULL));
      r = orrery_journal_reader_new (path, &error);
      g_assert_no_error (error);
      ev = orrery_journal_reader_next (r, &error);
      g_assert_no_error (error);
      g_assert_cmpint (orrery_event_get_timestamp (ev), ==, 0);
      ev2 = orrery_journal_reader_next (r, &error);
      g_assert_no_error (error);
      g_assert_nonnull (ev2);
      g_assert_cmpint (orrery_event_get_timestamp (ev2), ==, 0);
      g_assert_cmpuint (orrery_event_get_attempt (ev2), ==, 0);
      r2 = orrery_journal_reader_new (path, &error);
      g_assert_no_error (error);
      g_assert_true (orrery_journal_reader_read_to (r2, 0, &error));
      g_assert_no_error (error);
      g_remove (path);
    }
  }
}

/* JournalSync=batch: the run's end is on the disk when the run is (the
 * journal syncs at constellation-completed, before anyone after it on
 * the bus hears of it), and a chain of short tasks shares syncs: no more
 * than one per run-level event and one per 10 ms window of the run (an
 * upper bound from the run's length: a slow machine only loosens it; the
 * timer's syncs are at least 10 ms apart), where a sync per write would
 * be one per task. */
typedef struct
{
  OrreryJournal *journal;
  guint64        syncs_at_last_task;
  guint64        syncs_at_end;
  guint64        n_records;
} SyncProbe;

static gboolean
probe_syncs (OrreryEvent  *event,
             gpointer      user_data,
             GError      **error)
{
  SyncProbe *p = user_data;
  OrreryEventType type = orrery_event_get_event_type (event);

  p->n_records++;
  if (type == ORRERY_EVENT_TASK_COMPLETED)
    p->syncs_at_last_task = orrery_journal_get_sync_count (p->journal);
  else if (type == ORRERY_EVENT_CONSTELLATION_COMPLETED)
    p->syncs_at_end = orrery_journal_get_sync_count (p->journal);
  return TRUE;
}

static void
test_batch_sync (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(OrreryJournal) journal = open_journal (f, NULL);
  SyncProbe probe = { journal };
  g_autoptr(OrreryObserver) obs = orrery_func_observer_new ("probe", probe_syncs, &probe, NULL);
  char prev[16] = "c";
  gint64 t0, elapsed_us;
  guint64 bound;

  /* 2 ms each: longer than the writer waits to write a finished task
   * (each is written on its own), shorter than a sync window. */
  for (guint i = 0; i < 100; i++)
    {
      char id[16];
      g_autoptr(OrreryTask) t = NULL;

      g_snprintf (id, sizeof id, "k%03u", i);
      t = sim_task (id, "{'duration_ms': <2>}");
      g_assert_true (orrery_constellation_add_task (f->c, t, NULL));
      g_assert_true (orrery_constellation_add_dependency (f->c, prev, id, ORRERY_DEPENDENCY_SUCCESS_ONLY, NULL, NULL));
      g_strlcpy (prev, id, sizeof prev);
    }
  g_assert_cmpint (orrery_journal_get_sync (journal), ==, ORRERY_JOURNAL_SYNC_BATCH);
  orrery_event_bus_subscribe (f->bus, obs, NULL, 0);
  g_atomic_int_set (&syncs_on_main, 0);
  g_atomic_int_set (&syncs_elsewhere, 0);
  t0 = g_get_monotonic_time ();
  run (f);
  elapsed_us = g_get_monotonic_time () - t0;
  g_assert_no_error (f->error);
  /* The end record was synced before the probe heard of it. */
  g_assert_cmpuint (probe.syncs_at_end, >, probe.syncs_at_last_task);
  /* Two run-level events (started, completed), one sync per window. */
  bound = 2 + (guint64) (elapsed_us / 10000) + 1;
  g_test_message ("%" G_GUINT64_FORMAT " syncs for %" G_GUINT64_FORMAT " records in %" G_GINT64_FORMAT " µs (bound %" G_GUINT64_FORMAT ")",
                  orrery_journal_get_sync_count (journal), probe.n_records, elapsed_us, bound);
  g_assert_cmpuint (orrery_journal_get_sync_count (journal), <=, bound);
  close_journal (journal);
  /* The windows' syncs and the header's are the sync thread's (the main
   * context went on dispatching meanwhile); only the run's end synced on
   * it. */
  g_test_message ("fdatasync: %d on the main thread, %d elsewhere", syncs_on_main, syncs_elsewhere);
  g_assert_cmpint (syncs_on_main, ==, 1);
  g_assert_cmpint (syncs_elsewhere, >=, 1);
  g_assert_cmpuint (orrery_journal_get_sync_count (journal), ==, (guint64) (syncs_on_main + syncs_elsewhere));
}

typedef struct
{
  const char *path;
  guint       completed;     /* task-completed events heard */
  guint       starts_checked;
} StartProbe;

static guint
count_in_file (const char *path,
               const char *needle)
{
  g_autofree char *text = NULL;
  guint n = 0;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  for (const char *p = text; (p = strstr (p, needle)) != NULL; p++)
    n++;
  return n;
}

static gboolean
probe_starts (OrreryEvent  *event,
              gpointer      user_data,
              GError      **error)
{
  StartProbe *p = user_data;
  OrreryEventType type = orrery_event_get_event_type (event);

  if (type == ORRERY_EVENT_TASK_COMPLETED)
    p->completed++;
  else if (type == ORRERY_EVENT_TASK_STARTED && p->completed > 0)
    {
      /* Every task that finished before this one started is in the file. */
      g_assert_cmpuint (count_in_file (p->path, "\"type\":\"task-completed\""), ==, p->completed);
      p->starts_checked++;
    }
  return TRUE;
}

/* Tasks that end within a millisecond of the last write are buffered for up
 * to a millisecond, but never past the next task's start: what that task
 * does may rely on them, and may kill the host (/host/resume-after-crash). */
static void
test_task_end_before_next_start (Fixture       *f,
                                 gconstpointer  data)
{
  g_autoptr(OrreryJournal) journal = open_journal (f, NULL);
  StartProbe probe = { f->path };
  g_autoptr(OrreryObserver) obs = orrery_func_observer_new ("probe", probe_starts, &probe, NULL);
  char prev[16] = "c";

  for (guint i = 0; i < 50; i++)
    {
      char id[16];
      g_autoptr(OrreryTask) t = NULL;

      g_snprintf (id, sizeof id, "z%03u", i);
      t = sim_task (id, NULL);
      g_assert_true (orrery_constellation_add_task (f->c, t, NULL));
      g_assert_true (orrery_constellation_add_dependency (f->c, prev, id, ORRERY_DEPENDENCY_SUCCESS_ONLY, NULL, NULL));
      g_strlcpy (prev, id, sizeof prev);
    }
  orrery_journal_set_sync (journal, ORRERY_JOURNAL_SYNC_NONE);
  orrery_event_bus_subscribe (f->bus, obs, NULL, 0);
  run (f);
  g_assert_no_error (f->error);
  g_assert_cmpuint (probe.starts_checked, ==, 52);
  close_journal (journal);
}

/* In a DAG with independent tasks, a chain, a fan-out and a retry: when a
 * task starts, every task end that made it ready (and, for a retry, its own
 * last attempt's end) is in the file; the start of an unrelated task need
 * not write (a thousand independent tasks: a write per millisecond). */
typedef struct
{
  const char *path;
  GHashTable *needed;        /* task id -> records of task ends needed in the file */
  guint       ends;          /* task ends heard (completed, retrying) */
  guint       checked;
} ReadyProbe;

static guint
count_task_ends (const char *path)
{
  return count_in_file (path, "\"type\":\"task-completed\"") +
         count_in_file (path, "\"type\":\"task-retrying\"");
}

static gboolean
probe_ready_starts (OrreryEvent  *event,
                    gpointer      user_data,
                    GError      **error)
{
  ReadyProbe *p = user_data;
  OrreryEventType type = orrery_event_get_event_type (event);
  const char *id = orrery_event_get_task_id (event);

  if (type == ORRERY_EVENT_TASK_COMPLETED || type == ORRERY_EVENT_TASK_RETRYING)
    {
      const char * const *ready = orrery_event_get_newly_ready (event);

      p->ends++;
      for (guint i = 0; ready != NULL && ready[i] != NULL; i++)
        g_hash_table_insert (p->needed, g_strdup (ready[i]), GUINT_TO_POINTER (p->ends));
      if (type == ORRERY_EVENT_TASK_RETRYING)
        g_hash_table_insert (p->needed, g_strdup (id), GUINT_TO_POINTER (p->ends));
    }
  else if (type == ORRERY_EVENT_TASK_STARTED && g_hash_table_contains (p->needed, id))
    {
      g_assert_cmpuint (count_task_ends (p->path), >=, GPOINTER_TO_UINT (g_hash_table_lookup (p->needed, id)));
      g_hash_table_remove (p->needed, id);
      p->checked++;
    }
  return TRUE;
}

static void
test_task_end_before_dependent_start (Fixture       *f,
                                      gconstpointer  data)
{
  g_autoptr(OrreryJournal) journal = open_journal (f, NULL);
  g_autoptr(GHashTable) needed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  ReadyProbe probe = { f->path, needed };
  g_autoptr(OrreryObserver) obs = orrery_func_observer_new ("probe", probe_ready_starts, &probe, NULL);
  g_autoptr(OrreryTask) flaky = sim_task ("flaky", "{'fail_attempts': <1>}");

  for (guint i = 0; i < 40; i++)
    {
      char id[16];
      g_autoptr(OrreryTask) t = NULL;

      g_snprintf (id, sizeof id, "i%03u", i);
      t = sim_task (id, NULL);
      g_assert_true (orrery_constellation_add_task (f->c, t, NULL));
      /* Every fifth one fans out to the next four. */
      if (i % 5 != 0)
        {
          char from[16];

          g_snprintf (from, sizeof from, "i%03u", i - i % 5);
          g_assert_true (orrery_constellation_add_dependency (f->c, from, id, ORRERY_DEPENDENCY_SUCCESS_ONLY,
                                                              NULL, NULL));
        }
    }
  orrery_task_set_retry_count (flaky, 1);
  g_assert_true (orrery_constellation_add_task (f->c, flaky, NULL));
  g_assert_true (orrery_constellation_add_dependency (f->c, "flaky", "a", ORRERY_DEPENDENCY_SUCCESS_ONLY,
                                                      NULL, NULL));
  orrery_journal_set_sync (journal, ORRERY_JOURNAL_SYNC_NONE);
  orrery_event_bus_subscribe (f->bus, obs, NULL, 0);
  run (f);
  g_assert_no_error (f->error);
  /* 32 fanned-out tasks, b and c after a, a after flaky, flaky again. */
  g_assert_cmpuint (probe.checked, ==, 32 + 2 + 1 + 1);
  close_journal (journal);
}

static JsonObject *
header_task (GPtrArray  *records,
             const char *id)
{
  JsonObject *c = json_object_get_object_member (json_node_get_object (records->pdata[0]), "constellation");
  JsonArray *tasks = json_object_get_array_member (c, "tasks");

  for (guint i = 0; i < json_array_get_length (tasks); i++)
    {
      JsonObject *t = json_array_get_object_element (tasks, i);

      if (g_strcmp0 (json_object_get_string_member (t, "task_id"), id) == 0)
        return t;
    }
  return NULL;
}

/* The header goes to the file from the writer thread: the run goes on
 * meanwhile, its records held back until the header is written, then
 * behind it, in order; a run-level write, and close, wait for it. Here
 * the thread's write waits until every task has completed, and a little
 * more (the run's end comes meanwhile). */
typedef struct
{
  guint    n_tasks;
  guint    n_completed;
  gboolean header_done_at_last;
} GateProbe;

static gboolean
open_gate_at_last (OrreryEvent  *event,
                   gpointer      user_data,
                   GError      **error)
{
  GateProbe *probe = user_data;

  if (orrery_event_get_event_type (event) != ORRERY_EVENT_TASK_COMPLETED ||
      ++probe->n_completed < probe->n_tasks)
    return TRUE;
  probe->header_done_at_last = g_atomic_int_get (&header_done);
  g_mutex_lock (&gate_lock);
  gate_open = TRUE;
  g_cond_broadcast (&gate_cond);
  g_mutex_unlock (&gate_lock);
  return TRUE;
}

static goffset
file_size (const char *path)
{
  struct stat st;

  g_assert_cmpint (stat (path, &st), ==, 0);
  return st.st_size;
}

/* The closed @journal of a run of @n independent tasks that all
 * completed: the header, constellation-started, each task's two records,
 * constellation-completed, in order; the reader rebuilds it; every byte
 * counted. */
static void
assert_whole_independent_run (Fixture       *f,
                              OrreryJournal *journal,
                              guint          n)
{
  g_autoptr(GPtrArray) records = read_lines (f->path);
  g_autoptr(OrreryJournalReader) reader = NULL;

  g_assert_cmpuint (records->len, ==, 1 + 1 + 2 * n + 1);
  g_assert_cmpstr (record_type (records, 0), ==, "header");
  g_assert_cmpstr (record_type (records, 1), ==, "constellation-started");
  g_assert_cmpstr (record_type (records, records->len - 1), ==, "constellation-completed");
  reader = read_journal (f->path);
  g_assert_cmpuint (orrery_journal_reader_get_sequence (reader), ==, records->len);
  g_assert_cmpuint (orrery_constellation_count_status (orrery_journal_reader_get_constellation (reader),
                                                       ORRERY_TASK_STATUS_COMPLETED), ==, n);
  g_assert_cmpuint (orrery_journal_get_bytes_written (journal), ==, (guint64) file_size (f->path));
}

static void
test_header_written_aside (Fixture       *f,
                           gconstpointer  data)
{
  const char *mode = data;
  g_autoptr(OrreryJournal) journal = open_journal (f, "run-aside");
  GateProbe probe = { 0 };
  g_autoptr(OrreryObserver) obs = orrery_func_observer_new ("gate", open_gate_at_last, &probe, NULL);
  g_autoptr(GError) error = NULL;

  /* Independent tasks: no start waits for an end to be written. */
  add_independent_tasks (f, 200);
  probe.n_tasks = 200;
  orrery_journal_set_sync (journal, g_str_equal (mode, "batch") ? ORRERY_JOURNAL_SYNC_BATCH : ORRERY_JOURNAL_SYNC_NONE);
  if (g_str_equal (mode, "batch"))
    orrery_journal_prepare (journal, f->c);   /* the body handed over as it is */
  orrery_event_bus_subscribe (f->bus, obs, NULL, 0);
  gate_open = gate_timed_out = header_on_main = header_elsewhere = FALSE;
  g_atomic_int_set (&header_done, FALSE);
  g_atomic_int_set (&gate_armed, TRUE);
  run (f);
  g_atomic_int_set (&gate_armed, FALSE);
  g_assert_no_error (f->error);
  g_assert_true (orrery_journal_close (journal, &error));
  g_assert_no_error (error);

  g_assert_false (gate_timed_out);
  g_assert_false (header_on_main);
  g_assert_true (header_elsewhere);
  /* Every task ran while the header was being written... */
  g_assert_cmpuint (probe.n_completed, ==, 200);
  g_assert_false (probe.header_done_at_last);
  /* ... and the file holds it first, then every record in order. */
  assert_whole_independent_run (f, journal, 200);
}

/* orrery_journal_prepare() formats the header's tasks before the run: the
 * handler at constellation-started writes that text (a change no
 * fingerprint sees, a task's description set after it, is not in the
 * header), nothing is written before the start, and a change it does see
 * (a task added) has the header formatted again. Times go through
 * exactly, to the microsecond. */
static void
test_header_prepared (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(OrreryJournal) journal = open_journal (f, "run-p");
  g_autoptr(GPtrArray) records = NULL;
  g_autoptr(OrreryJournalReader) reader = NULL;
  OrreryTask *a = orrery_constellation_get_task (f->c, "a");
  /* 2026-12-02, and times whose seconds * 1e6 is not a whole number in
   * doubles (truncating them loses a microsecond). */
  const gint64 times[] = { 1796174400510125, 1796174400000001, 1796174400999999, 1700000000123457 };
  struct stat st;

  for (guint i = 0; i < G_N_ELEMENTS (times); i++)
    {
      g_autofree char *id = g_strdup_printf ("time%u", i);
      g_autoptr(OrreryTask) t = sim_task (id, NULL);

      orrery_task_set_created_at (t, times[i]);
      g_assert_true (orrery_constellation_add_task (f->c, t, NULL));
    }
  orrery_task_set_description (a, "before");
  orrery_journal_prepare (journal, f->c);
  orrery_task_set_description (a, "after");
  g_assert_cmpint (stat (f->path, &st), ==, 0);
  g_assert_cmpint (st.st_size, ==, 0);
  run (f);
  g_assert_no_error (f->error);
  close_journal (journal);
  records = read_lines (f->path);
  g_assert_cmpstr (record_type (records, 0), ==, "header");
  g_assert_cmpstr (json_object_get_string_member (header_task (records, "a"), "description"), ==, "before");
  /* The head is the start's: the constellation runs. */
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (
                     json_node_get_object (records->pdata[0]), "constellation"), "state"), ==, "executing");

  reader = read_journal (f->path);
  for (guint i = 0; i < G_N_ELEMENTS (times); i++)
    {
      g_autofree char *id = g_strdup_printf ("time%u", i);
      OrreryTask *t = orrery_constellation_get_task (orrery_journal_reader_get_constellation (reader), id);

      g_assert_nonnull (t);
      g_assert_cmpint (orrery_task_get_created_at (t), ==, times[i]);
    }
}

/* A task added after orrery_journal_prepare() is in the header: the
 * handler sees the constellation changed and formats it again. */
static void
test_header_prepared_stale (Fixture       *f,
                            gconstpointer  data)
{
  g_autoptr(OrreryJournal) journal = open_journal (f, "run-s");
  g_autoptr(OrreryTask) late = sim_task ("late", NULL);
  g_autoptr(GPtrArray) records = NULL;
  OrreryTask *a = orrery_constellation_get_task (f->c, "a");

  orrery_journal_prepare (journal, f->c);
  g_assert_true (orrery_constellation_add_task (f->c, late, NULL));
  orrery_task_set_description (a, "after");
  run (f);
  g_assert_no_error (f->error);
  close_journal (journal);
  records = read_lines (f->path);
  g_assert_nonnull (header_task (records, "late"));
  g_assert_cmpstr (json_object_get_string_member (header_task (records, "a"), "description"), ==, "after");
}

/* Results as JSON: every integer type at its limits (formatted by hand,
 * not by printf), and the last result's text reused only for the same
 * result. */
static char *
result_record (GVariant *result)
{
  g_autoptr(OrreryEvent) e = orrery_event_new_task (ORRERY_EVENT_TASK_COMPLETED, "orchestrator",
                                                    "t", ORRERY_TASK_STATUS_COMPLETED);

  orrery_event_set_result (e, result);
  return orrery_journal_event_to_json (e, 7);
}

static void
test_result_values (void)
{
  g_autoptr(GVariant) limits = g_variant_ref_sink (g_variant_new_parsed (
    "{'i16': <int16 -32768>, 'u16': <uint16 65535>, 'i32': <-2147483648>,"
    " 'u32': <uint32 4294967295>, 'i64': <int64 -9223372036854775808>,"
    " 'u64': <uint64 18446744073709551615>, 'y': <byte 255>, 'z': <0>,"
    " 'h': <int64 1234567890123>, 'b': <true>, 'f': <false>}"));
  g_autoptr(GVariant) other = g_variant_ref_sink (g_variant_new_parsed ("{'exit_code': <-1>}"));
  const char *expected =
    "\"result\":{\"i16\":-32768,\"u16\":65535,\"i32\":-2147483648,\"u32\":4294967295,"
    "\"i64\":-9223372036854775808,\"u64\":18446744073709551615,\"y\":255,\"z\":0,"
    "\"h\":1234567890123,\"b\":true,\"f\":false}";
  g_autofree char *first = result_record (limits);
  g_autofree char *again = result_record (limits);
  g_autofree char *second = result_record (other);
  g_autofree char *third = result_record (limits);
  g_autoptr(JsonNode) node = json_from_string (first, NULL);

  g_assert_nonnull (node);
  g_assert_nonnull (strstr (first, expected));
  g_assert_cmpstr (strstr (again, "\"result\""), ==, strstr (first, "\"result\""));
  g_assert_nonnull (strstr (second, "\"result\":{\"exit_code\":-1}"));
  g_assert_null (strstr (second, "i16"));
  g_assert_cmpstr (strstr (third, "\"result\""), ==, strstr (first, "\"result\""));
}

/* A result is formatted the same whether its GVariant is a tree (made
 * by g_variant_new_*()) or serialised bytes (as the local device makes
 * it, read here from bytes): the journal reads serialised dictionaries
 * straight from their bytes. Sizes cover framing offsets of 1, 2 and 4
 * bytes; members of other types, nesting and strings to escape too. */
static void
test_result_serialised (void)
{
  g_autofree char *big = g_strnfill (70000, 'x');
  g_autofree char *mid = g_strnfill (300, 'y');
  const char *const texts[] = {
    "{'a': <1>}",
    "{'exit_status': <0>, 'stdout': <'hi\\n\\\"q\\\"\\t\\u0001'>, 'ok': <false>, 'yes': <true>,"
    " 'bytes': <int64 -5>, 'duration': <0.25>, 'whole': <2.0>, 'u': <uint32 7>, 'h': <int16 -3>,"
    " 'list': <['a', 'b']>, 'outputs': <{'n': <[1, 2]>, 'deep': <{'k': <'é ✓'>}>}>, 'none': <@ms nothing>,"
    " 'vv': <<<'nested'>>>, 'empty': <''>}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (texts) + 2; i++)
    {
      g_autoptr(GVariant) tree = NULL;
      g_autoptr(GVariant) serialised = NULL;
      g_autoptr(GBytes) bytes = NULL;
      g_autofree char *from_tree = NULL;
      g_autofree char *from_bytes = NULL;

      if (i < G_N_ELEMENTS (texts))
        tree = g_variant_ref_sink (g_variant_new_parsed (texts[i]));
      else
        {
          g_auto(GVariantBuilder) b = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);

          g_variant_builder_add (&b, "{sv}", "stdout", g_variant_new_string (i == G_N_ELEMENTS (texts) ? mid : big));
          g_variant_builder_add (&b, "{sv}", "pid", g_variant_new_int32 (42));
          tree = g_variant_ref_sink (g_variant_builder_end (&b));
        }
      /* Formatted first, before g_variant_get_data_as_bytes() gives the
       * tree its serialised form too. */
      from_tree = result_record (tree);
      bytes = g_variant_get_data_as_bytes (tree);
      serialised = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE_VARDICT, bytes, TRUE));
      from_bytes = result_record (serialised);
      g_assert_cmpstr (strstr (from_bytes, "\"result\""), ==, strstr (from_tree, "\"result\""));
      if (i == 1)
        g_assert_nonnull (strstr (from_bytes,
          "\"result\":{\"exit_status\":0,\"stdout\":\"hi\\n\\\"q\\\"\\t\\u0001\",\"ok\":false,"
          "\"yes\":true,\"bytes\":-5,\"duration\":0.25,\"whole\":2.0,\"u\":7,\"h\":-3,"
          "\"list\":[\"a\",\"b\"],\"outputs\":{\"n\":[1,2],\"deep\":{\"k\":\"é ✓\"}},"
          "\"none\":null,\"vv\":\"nested\",\"empty\":\"\"}"));
      if (i >= G_N_ELEMENTS (texts))
        {
          g_autofree char *want = g_strdup_printf ("\"result\":{\"stdout\":\"%s\",\"pid\":42}",
                                                   i == G_N_ELEMENTS (texts) ? mid : big);

          g_assert_nonnull (strstr (from_bytes, want));
        }
    }
}

/* A run of independent tasks: its records (past the first 64 KiB) go to
 * the file from the journal's writer thread, in order behind the header;
 * the run's last record from the main thread, after them. */
static void
test_records_written_aside (Fixture       *f,
                            gconstpointer  data)
{
  g_autoptr(OrreryJournal) journal = open_journal (f, "run-records");

  add_independent_tasks (f, 2000);
  orrery_journal_set_sync (journal, ORRERY_JOURNAL_SYNC_BATCH);
  g_atomic_int_set (&records_on_main, 0);
  g_atomic_int_set (&records_elsewhere, 0);
  run (f);
  g_assert_no_error (f->error);
  close_journal (journal);

  /* 2000 tasks' 4000 records are more than 64 KiB many times over. */
  g_assert_cmpint (g_atomic_int_get (&records_elsewhere), >=, 2);
  /* constellation-completed (a run-level event: written at once). */
  g_assert_cmpint (g_atomic_int_get (&records_on_main), >=, 1);
  assert_whole_independent_run (f, journal, 2000);
}

/* Holds the run at its 1000th task end until the writer's write has
 * failed (30 s at most), so the run hears of it before its end. */
static gboolean
await_failed_write (OrreryEvent  *event,
                    gpointer      user_data,
                    GError      **error)
{
  guint *n = user_data;

  if (orrery_event_get_event_type (event) != ORRERY_EVENT_TASK_COMPLETED || ++*n != 1000)
    return TRUE;
  for (guint i = 0; i < 30000 && g_atomic_int_get (&records_failed) == 0; i++)
    g_usleep (G_TIME_SPAN_MILLISECOND);
  return TRUE;
}

/* A write the writer thread makes fails (a full disk): the run fails with
 * that error, reported once, and nothing is written after it. */
static void
test_write_error_aside_fails_the_run (Fixture       *f,
                                      gconstpointer  data)
{
  g_autoptr(OrreryJournal) journal = open_journal (f, "run-full");
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) records = NULL;
  guint n_ends = 0;
  g_autoptr(OrreryObserver) obs = orrery_func_observer_new ("await", await_failed_write, &n_ends, NULL);

  add_independent_tasks (f, 2000);
  orrery_event_bus_subscribe (f->bus, obs, NULL, 0);
  g_atomic_int_set (&records_failed, 0);
  orrery_journal_set_sync (journal, ORRERY_JOURNAL_SYNC_NONE);
  g_signal_connect (journal, "failed", G_CALLBACK (on_failed), f);
  g_test_expect_message ("Orrery-Orchestrator", G_LOG_LEVEL_WARNING, "*fails*No space left on device*");
  g_atomic_int_set (&fail_aside, TRUE);
  run (f);
  g_atomic_int_set (&fail_aside, FALSE);
  g_test_assert_expected_messages ();
  g_assert_cmpint (g_atomic_int_get (&records_failed), ==, 1);
  g_assert_false (f->ok);
  g_assert_nonnull (f->error);
  g_assert_nonnull (strstr (f->error->message, f->path));
  g_assert_nonnull (strstr (f->error->message, g_strerror (ENOSPC)));
  g_assert_cmpint (orrery_constellation_get_state (f->c), ==, ORRERY_CONSTELLATION_STATE_FAILED);
  g_assert_cmpuint (f->n_failed_signals, ==, 1);
  g_assert_false (orrery_journal_close (journal, &error));
  g_assert_error (error, ORRERY_JOURNAL_ERROR, ORRERY_JOURNAL_ERROR_IO);
  /* What reached the file is whole records, the last not the run's end. */
  records = read_lines (f->path);
  g_assert_cmpuint (records->len, <, 1 + 1 + 2 * 2000 + 1);
  g_assert_cmpstr (record_type (records, records->len - 1), !=, "constellation-completed");
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  main_thread = g_thread_self ();
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/journal/records-every-event", test_records_every_event);
  ADD ("/journal/nothing-before-start", test_nothing_before_start);
  ADD ("/journal/write-error-fails-the-run", test_write_error_fails_the_run);
  ADD ("/journal/edits-rebuild", test_edits_rebuild);
  ADD ("/journal/replay", test_replay);
  ADD ("/journal/bad-journals", test_bad_journals);
  ADD ("/journal/resume-appends", test_resume_appends);
  ADD ("/journal/record-parser", test_record_parser);
  ADD ("/journal/cancel-in-bulk", test_cancel_in_bulk);
  ADD ("/journal/edit-removes-added-task", test_edit_removes_added_task);
  ADD ("/journal/batch-sync", test_batch_sync);
  g_test_add ("/journal/header-written-aside/batch-prepared", Fixture, "batch", fixture_set_up,
              test_header_written_aside, fixture_tear_down);
  g_test_add ("/journal/header-written-aside/none", Fixture, "none", fixture_set_up,
              test_header_written_aside, fixture_tear_down);
  ADD ("/journal/header-prepared", test_header_prepared);
  ADD ("/journal/header-prepared-stale", test_header_prepared_stale);
  ADD ("/journal/task-end-before-next-start", test_task_end_before_next_start);
  ADD ("/journal/task-end-before-dependent-start", test_task_end_before_dependent_start);
  ADD ("/journal/records-written-aside", test_records_written_aside);
  ADD ("/journal/write-error-aside-fails-the-run", test_write_error_aside_fails_the_run);
  g_test_add_func ("/journal/result-values", test_result_values);
  g_test_add_func ("/journal/result-serialised", test_result_serialised);
  return g_test_run ();
}
