/* faulty.c: a fixture plugin that fails the way it is told to, for the
 * isolation tests (`Isolation=process`).
 *
 * Mode=none|segv|abort-init|hang-init|block|exit|garbage|oversize: on the
 * AtEvent-th event it receives (1-based, default 3) it dereferences NULL
 * (segv), blocks forever (block), calls _exit(0) (exit), writes garbage on
 * descriptor 3, the helper's socket (garbage), or a frame header claiming
 * 64 MiB (oversize); abort-init aborts in init, hang-init never returns
 * from init. Before that it appends "SEQUENCE NICK" per event to Output.
 * Delivery=queued makes its observer queued (the engine's own key).
 *
 * Calls on the orchestrator, on the AtEvent-th event: hold takes a hold
 * (HoldMs its deadline) released ReleaseMs later from a timer (never if
 * 0), writing "hold-expired" to Output if it expires; cancel and fail
 * cancel or fail the run ("faulty says stop", faulty-error 7); running
 * writes "running 0|1" (orrery_orchestrator_is_running()) at every event;
 * warn logs a warning "faulty warns at SEQUENCE"; config writes
 * "config VALUE" of [Host] Probe; edit applies, to the event's
 * constellation, a batch removing an unknown task ("edit-refused" if
 * refused), then one adding task "added" ("edit-applied", and
 * "copy-has-added" if the constellation it holds has it then);
 * copy writes, at the run's end (constellation-completed), "copy N M":
 * the tasks of the constellation the event carries and how many of them
 * it says completed ("copy none" without one);
 * flood-holds takes holds for ever;
 * AskOrchestrator=false: init does not take the orchestrator (isolated, its
 * sync answers then go unawaited: see docs/architecture.md);
 * flood-calls takes and releases a hold for ever.
 *
 * Runaway observers (its observer is synchronous, on the host's bus):
 * publish-loop publishes a device-status-changed event from its handler
 * at every event from the AtEvent-th on, its own included, so one event
 * starts a chain without end; it writes "loop" to Output when it starts,
 * "refused SEQUENCE" at its first publication the bus refuses (SEQUENCE:
 * the event being handled), and "published N refused M" when the plugin
 * is shut down. sleep sleeps SleepMs (default 2000) in its handler on the
 * AtEvent-th event, writing "slept MS" (as measured) to Output after it.
 * AtType=NICK (such as task-started) puts the AtEvent-th event of that
 * type instead of any type.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <orrery.h>

typedef struct
{
  char               *mode;
  char               *output;
  guint64             at;
  guint64             seen;
  OrreryOrchestrator *orch;          /* nullable */
  OrreryConfig       *config;
  guint64             hold_ms;
  guint64             release_ms;
  OrreryHold         *hold;
  gulong              expired_id;
  guint               release_id;
  char               *at_type;       /* nullable: count events of this type only */
  guint64             seen_of_type;
  guint64             sleep_ms;
  OrreryEventBus     *bus;
  gboolean            looping;
  guint64             published;
  guint64             refused;
} Faulty;

static void
faulty_free (gpointer data)
{
  Faulty *f = data;

  if (f->looping && f->output != NULL)
    {
      FILE *out = fopen (f->output, "a");

      if (out != NULL)
        {
          fprintf (out, "published %" G_GUINT64_FORMAT " refused %" G_GUINT64_FORMAT "\n",
                   f->published, f->refused);
          fclose (out);
        }
    }
  g_clear_object (&f->bus);
  g_free (f->at_type);
  g_clear_handle_id (&f->release_id, g_source_remove);
  if (f->orch != NULL)
    g_clear_signal_handler (&f->expired_id, f->orch);
  g_clear_pointer (&f->hold, orrery_hold_unref);
  g_clear_object (&f->orch);
  g_clear_object (&f->config);
  g_free (f->mode);
  g_free (f->output);
  g_free (f);
}

static void
note (Faulty     *f,
      const char *line)
{
  FILE *out;

  if (f->output == NULL || (out = fopen (f->output, "a")) == NULL)
    return;
  fprintf (out, "%s\n", line);
  fclose (out);
}

static gboolean
release_cb (gpointer user_data)
{
  Faulty *f = user_data;

  f->release_id = 0;
  if (f->hold != NULL)
    orrery_orchestrator_release (f->orch, f->hold);
  return G_SOURCE_REMOVE;
}

static void
on_hold_expired (OrreryOrchestrator *orch,
                 OrreryHold         *hold,
                 gpointer            user_data)
{
  Faulty *f = user_data;

  if (hold == f->hold)
    note (f, "hold-expired");
}

/* Calls on the orchestrator (see the modes above); FALSE if Mode is none. */
static gboolean
call_orchestrator (Faulty      *f,
                   OrreryEvent *event)
{
  if (g_str_equal (f->mode, "copy"))
    {
      OrreryConstellation *c;
      g_autoptr(GPtrArray) tasks = NULL;
      g_autofree char *line = NULL;
      guint done = 0;

      if (orrery_event_get_event_type (event) != ORRERY_EVENT_CONSTELLATION_COMPLETED)
        return TRUE;
      c = orrery_event_get_constellation (event);
      if (c == NULL)
        {
          note (f, "copy none");
          return TRUE;
        }
      tasks = orrery_constellation_get_tasks (c);
      for (guint i = 0; i < tasks->len; i++)
        done += orrery_task_get_status (tasks->pdata[i]) == ORRERY_TASK_STATUS_COMPLETED;
      line = g_strdup_printf ("copy %u %u", tasks->len, done);
      note (f, line);
      return TRUE;
    }
  if (g_str_equal (f->mode, "running"))
    {
      g_autofree char *line = g_strdup_printf ("running %d",
                                               f->orch && orrery_orchestrator_is_running (f->orch));

      note (f, line);
      return TRUE;
    }
  if (f->seen != f->at)
    return FALSE;
  if (g_str_equal (f->mode, "warn"))
    g_log ("Faulty", G_LOG_LEVEL_WARNING, "faulty warns at %" G_GUINT64_FORMAT,
           orrery_event_get_sequence (event));
  else if (g_str_equal (f->mode, "config"))
    {
      g_autofree char *value = orrery_config_get_string (f->config, "Host", "Probe", "unset");
      g_autofree char *line = g_strdup_printf ("config %s", value);

      note (f, line);
    }
  else if (g_str_equal (f->mode, "edit"))
    {
      OrreryConstellation *c = ORRERY_EVENT_IS_TASK (event) ?
        orrery_event_get_constellation (event) : NULL;
      g_autoptr(OrreryEditBatch) bad = orrery_edit_batch_new ();
      g_autoptr(OrreryEditBatch) good = orrery_edit_batch_new ();
      g_autoptr(OrreryTask) added = orrery_task_new ("added", "Added");
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) refused = NULL;
      g_autoptr(GVariant) applied = NULL;

      if (c == NULL)
        {
          note (f, "edit without a constellation");
          return TRUE;
        }
      orrery_edit_batch_remove_task (bad, "nope");
      refused = orrery_constellation_apply_edits (c, bad, &error);
      if (refused == NULL && g_error_matches (error, ORRERY_CONSTELLATION_ERROR,
                                              ORRERY_CONSTELLATION_ERROR_UNKNOWN_TASK))
        note (f, "edit-refused");
      g_clear_error (&error);
      orrery_task_set_task_data (added, g_variant_new_parsed ("{'duration_ms': <10>}"));
      orrery_edit_batch_add_task (good, added);
      applied = orrery_constellation_apply_edits (c, good, &error);
      if (applied != NULL)
        note (f, "edit-applied");
      if (orrery_constellation_get_task (c, "added") != NULL)
        note (f, "copy-has-added");
    }
  else if (f->orch == NULL)
    return FALSE;
  else if (g_str_equal (f->mode, "hold"))
    {
      f->hold = orrery_orchestrator_hold (f->orch, "faulty holds", (guint) f->hold_ms);
      if (f->release_ms > 0)
        f->release_id = g_timeout_add ((guint) f->release_ms, release_cb, f);
    }
  else if (g_str_equal (f->mode, "cancel"))
    orrery_orchestrator_cancel (f->orch, "faulty says stop");
  else if (g_str_equal (f->mode, "fail"))
    {
      g_autoptr(GError) error = g_error_new_literal (g_quark_from_static_string ("faulty-error"), 7,
                                                     "faulty fails the run");

      orrery_orchestrator_fail (f->orch, error);
    }
  else if (g_str_equal (f->mode, "flood-holds"))
    for (;;)
      orrery_hold_unref (orrery_orchestrator_hold (f->orch, "flood", 0));
  else if (g_str_equal (f->mode, "flood-calls"))
    for (;;)
      {
        OrreryHold *hold = orrery_orchestrator_hold (f->orch, "flood", 0);

        orrery_orchestrator_release (f->orch, hold);
        orrery_hold_unref (hold);
      }
  else
    return FALSE;
  return TRUE;
}

/* A real SIGSEGV, also in the sanitizer build: UBSan would report the
 * store through a null pointer and exit instead. */
#if defined(__clang__)
#define FAULTY_NO_UBSAN __attribute__ ((no_sanitize ("undefined")))
#else
#define FAULTY_NO_UBSAN __attribute__ ((no_sanitize_undefined))
#endif

FAULTY_NO_UBSAN static void
crash_now (void)
{
  /* Read through a volatile pointer: the compiler cannot see it is NULL. */
  static volatile int *volatile target = NULL;

  signal (SIGSEGV, SIG_DFL);  /* a real crash, also under ASan */
  *target = 42;
}

/* The runaway modes; FALSE if Mode is neither. */
static gboolean
runaway (Faulty      *f,
         OrreryEvent *event)
{
  if (g_str_equal (f->mode, "publish-loop"))
    {
      g_autoptr(OrreryEvent) echo = NULL;

      if (!f->looping && f->seen != f->at)
        return TRUE;
      if (!f->looping)
        note (f, "loop");
      f->looping = TRUE;
      echo = orrery_event_new_device (ORRERY_EVENT_DEVICE_STATUS_CHANGED, "faulty", "faulty-echo",
                                      ORRERY_DEVICE_STATUS_IDLE);
      orrery_event_bus_publish (f->bus, echo);
      if (orrery_event_is_published (echo))
        f->published++;
      else if (f->refused++ == 0)
        {
          g_autofree char *line = g_strdup_printf ("refused %" G_GUINT64_FORMAT,
                                                   orrery_event_get_sequence (event));

          note (f, line);
        }
      return TRUE;
    }
  if (g_str_equal (f->mode, "sleep"))
    {
      gint64 t0;
      g_autofree char *line = NULL;

      if (f->seen != f->at)
        return TRUE;
      t0 = g_get_monotonic_time ();
      g_usleep (f->sleep_ms * 1000);
      line = g_strdup_printf ("slept %" G_GINT64_FORMAT, (g_get_monotonic_time () - t0) / 1000);
      note (f, line);
      return TRUE;
    }
  return FALSE;
}

static gboolean
faulty_handle (OrreryEvent  *event,
               gpointer      user_data,
               GError      **error)
{
  Faulty *f = user_data;

  if (f->at_type != NULL)
    {
      /* The AtEvent-th event of that type counts as the AtEvent-th, no
       * other does. */
      gboolean hit = g_str_equal (orrery_event_get_type_nick (event), f->at_type) &&
                     ++f->seen_of_type == f->at;

      f->seen = hit ? f->at : f->at + 1;
    }
  else
    f->seen++;
  if (runaway (f, event))
    ;
  else if (call_orchestrator (f, event))
    ;
  else if (f->seen == f->at)
    {
      if (g_str_equal (f->mode, "segv"))
        {
          crash_now ();
        }
      else if (g_str_equal (f->mode, "block"))
        for (;;)
          pause ();
      else if (g_str_equal (f->mode, "exit"))
        _exit (0);  /* as exit(0), without LeakSanitizer's exit status under ASan */
      else if (g_str_equal (f->mode, "garbage"))
        {
          static const char junk[] = "\x05\x00\x00\x00GET / HTTP/1.0\r\n\r\nnot a frame at all";

          if (write (3, junk, sizeof junk) < 0)
            return FALSE;
        }
      else if (g_str_equal (f->mode, "oversize"))
        {
          guint32 header[4] = { 64u << 20, 18, 0, 0 };

          if (write (3, header, sizeof header) < 0)
            return FALSE;
        }
    }
  if (f->output != NULL)
    {
      FILE *out = fopen (f->output, "a");

      if (out == NULL)
        return FALSE;
      fprintf (out, "%" G_GUINT64_FORMAT " %s\n", orrery_event_get_sequence (event),
               orrery_event_get_type_nick (event));
      fclose (out);
    }
  return TRUE;
}

static gboolean
faulty_init (OrreryPluginContext  *context,
             GError              **error)
{
  Faulty *f = g_new0 (Faulty, 1);
  g_autoptr(OrreryObserver) observer = NULL;

  f->mode = orrery_plugin_context_get_string (context, "Mode", "none");
  f->output = orrery_plugin_context_get_string (context, "Output", NULL);
  f->at = orrery_plugin_context_get_uint (context, "AtEvent", 3, NULL);
  f->hold_ms = orrery_plugin_context_get_uint (context, "HoldMs", 0, NULL);
  f->release_ms = orrery_plugin_context_get_uint (context, "ReleaseMs", 0, NULL);
  f->sleep_ms = orrery_plugin_context_get_uint (context, "SleepMs", 2000, NULL);
  f->at_type = orrery_plugin_context_get_string (context, "AtType", NULL);
  if (f->at_type != NULL && *f->at_type == '\0')
    g_clear_pointer (&f->at_type, g_free);
  f->bus = g_object_ref (orrery_plugin_context_get_bus (context));
  f->config = g_object_ref (orrery_plugin_context_get_config (context));
  if (orrery_plugin_context_get_boolean (context, "AskOrchestrator", TRUE, NULL) &&
      orrery_plugin_context_get_orchestrator (context) != NULL)
    {
      f->orch = g_object_ref (orrery_plugin_context_get_orchestrator (context));
      f->expired_id = g_signal_connect (f->orch, "hold-expired", G_CALLBACK (on_hold_expired), f);
    }
  orrery_plugin_context_set_data (context, f, faulty_free);
  if (g_str_equal (f->mode, "abort-init"))
    abort ();
  if (g_str_equal (f->mode, "hang-init"))
    for (;;)
      pause ();
  observer = orrery_func_observer_new ("faulty", faulty_handle, f, NULL);
  orrery_plugin_context_add_observer (context, observer, NULL, 0, ORRERY_DELIVERY_SYNC, 0, 0);
  return TRUE;
}

static const OrreryPluginKey faulty_keys[] = {
  { "Mode", ORRERY_PLUGIN_KEY_STRING, "none", "how to fail" },
  { "AtEvent", ORRERY_PLUGIN_KEY_UINT, "3", "on which event (1-based)" },
  { "Output", ORRERY_PLUGIN_KEY_STRING, NULL, "a file to append each event to" },
  { "HoldMs", ORRERY_PLUGIN_KEY_UINT, "0", "the deadline of the hold (Mode=hold)" },
  { "ReleaseMs", ORRERY_PLUGIN_KEY_UINT, "0", "release the hold after this long (0: never)" },
  { "AskOrchestrator", ORRERY_PLUGIN_KEY_BOOLEAN, "true", "take the orchestrator in init" },
  { "AtType", ORRERY_PLUGIN_KEY_STRING, NULL, "count only events of this type (a nick)" },
  { "SleepMs", ORRERY_PLUGIN_KEY_UINT, "2000", "how long to sleep in the handler (Mode=sleep)" },
  { NULL }
};

ORRERY_PLUGIN_DEFINE ("faulty", "1.0", "Fails the way it is told to", faulty_init, NULL,
                      faulty_keys)
