/* failure-monitor.c: logs every failure with its cause, keeps a failure
 * report, runs an alert command and can abort a run (docs/architecture.md, section 8).
 *
 * - `task-failed` is logged as a warning with the task, the device, the
 *   attempt, the cause (exit status N, killed by signal N, timeout,
 *   cancelled, device error: message) and the last lines of stderr;
 *   `task-retrying` as a message, and a running task killed by a cancel as
 *   a message too.
 * - At the end of the run (its terminal constellation event) the report is
 *   written as JSON to OutputDir/ReportFile: one entry per failed task,
 *   the retries and cancels, the alerts, the totals. It is written again
 *   when an alert that was still running then finishes.
 * - AlertCommand runs through `/bin/sh -c` (GSubprocess, asynchronously,
 *   in a process group of its own) for each failed task, with the details
 *   in ORRERY_* environment variables. One that exits non-zero, cannot
 *   start, or runs past AlertTimeoutMs (its group is killed) is logged and
 *   recorded; none ever blocks the run.
 * - AbortAfter=N cancels the run once N tasks have failed, with the reason
 *   in the run's result. A hold stops dispatch from the failure until the
 *   cancel, which runs from an idle (never inside the orchestrator's own
 *   publication).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-FailureMonitor"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>
#include <json-glib/json-glib.h>
#include <orrery.h>

#define DEFAULT_OUTPUT_DIR       "orrery-output"
#define DEFAULT_REPORT_FILE      "failures.json"
#define DEFAULT_ALERT_TIMEOUT_MS 10000
#define DEFAULT_STDERR_LINES     5
#define SHUTDOWN_WAIT_MS         5000

typedef enum {
  INCIDENT_FAILED,
  INCIDENT_RETRYING,
  INCIDENT_CANCELLED,
} IncidentKind;

/* One failure (or retry, or cancel) of one task. Reference counted: a
 * running alert keeps its incident. */
typedef struct
{
  IncidentKind kind;
  char        *task_id;
  char        *task_shown;     /* task_id as the log shows it (escaped) */
  char        *device_id;
  guint        attempt;
  char        *cause_kind;     /* exit-status, signal, timeout, cancelled, device-error, unknown */
  char        *cause;          /* for people */
  gboolean     has_exit_status;
  gint         exit_status;
  gboolean     has_signal;
  gint         signal;
  gboolean     timed_out;
  gboolean     has_duration;
  gdouble      duration;
  char        *error_message;
  char        *error_domain;
  gint         error_code;
  char       **stderr_tail;
  char        *time;           /* ISO 8601 */
  guint        delay_ms;       /* retrying: the backoff */

  /* Its alert (failed incidents only) */
  char        *alert_status;   /* NULL (none), running, ok, failed, timed-out, spawn-failed */
  gint         alert_exit_status;
  char        *alert_detail;
  gdouble      alert_seconds;
} Incident;

typedef struct _Monitor Monitor;

typedef struct
{
  Monitor      *monitor;     /* a reference */
  Incident     *incident;    /* a reference */
  GSubprocess  *proc;
  GCancellable *cancellable;
  GSource      *timeout;
  GMainContext *context;
  gint64        start_us;
  gboolean      timed_out;
  gint          pid;
} Alert;

struct _Monitor
{
  OrreryOrchestrator *orch;           /* nullable */
  char               *output_dir;
  char               *report_file;
  char               *alert_command;  /* nullable */
  guint               alert_timeout_ms;
  guint               abort_after;
  guint               stderr_lines;

  /* The current run */
  char               *constellation_id;
  char               *start_time;
  GPtrArray          *incidents;      /* of Incident, in order */
  guint               n_failed;
  guint               n_retries;
  guint               n_cancelled;
  guint               n_alerts;
  guint               n_alerts_ok;
  guint               n_alerts_failed;
  guint               n_alerts_timed_out;
  char               *abort_reason;
  OrreryHold         *abort_hold;
  GSource            *abort_source;
  gboolean            ended;
  char               *end_state;
  char               *end_reason;
  gdouble             end_duration;
  char               *report_path;    /* once written */

  GList              *alerts;         /* of Alert, running */
  gboolean            shut_down;
  gboolean            detached;       /* shut down and done with the report */
};

/* ------------------------------------------------------------------------ */
/* Log text */

/* User data (ids, error messages, stderr lines) as a log message may hold
 * it: every control character, escape sequence and bidirectional override
 * escaped (orrery_escape_for_terminal()), so that a task id or a line of
 * stderr can neither drive the terminal nor forge a log line, whoever
 * runs the plugin. Text whose only unusual character is a backslash stays
 * as it is: the `orrery` program's log writer escapes backslashes itself,
 * and doing it here too would double them in every Windows path. */
static char *
log_safe (const char *text)
{
  const char *p, *seg;

  if (text == NULL)
    return NULL;
  for (seg = p = text;; p++)
    if (*p == '\\' || *p == '\0')
      {
        /* A backslash is never inside a multibyte UTF-8 sequence. */
        if (!orrery_text_is_terminal_safe (seg, p - seg))
          return orrery_escape_for_terminal (text, -1);
        if (*p == '\0')
          break;
        seg = p + 1;
      }
  return g_strdup (text);
}

/* ------------------------------------------------------------------------ */
/* Entries */

static void
incident_clear (gpointer data)
{
  Incident *e = data;

  g_free (e->task_id);
  g_free (e->task_shown);
  g_free (e->device_id);
  g_free (e->cause_kind);
  g_free (e->cause);
  g_free (e->error_message);
  g_free (e->error_domain);
  g_strfreev (e->stderr_tail);
  g_free (e->time);
  g_free (e->alert_status);
  g_free (e->alert_detail);
}

static Incident *
incident_ref (Incident *e)
{
  return g_rc_box_acquire (e);
}

static void
incident_unref (gpointer e)
{
  g_rc_box_release_full (e, incident_clear);
}

static gboolean
lookup_int (GVariant   *dict,
            const char *key,
            gint       *out)
{
  g_autoptr(GVariant) v = NULL;

  if (dict == NULL || !g_variant_is_of_type (dict, G_VARIANT_TYPE_VARDICT))
    return FALSE;
  v = g_variant_lookup_value (dict, key, NULL);
  if (v == NULL)
    return FALSE;
  if (g_variant_is_of_type (v, G_VARIANT_TYPE_INT32))
    *out = g_variant_get_int32 (v);
  else if (g_variant_is_of_type (v, G_VARIANT_TYPE_INT64))
    *out = (gint) g_variant_get_int64 (v);
  else if (g_variant_is_of_type (v, G_VARIANT_TYPE_UINT32))
    *out = (gint) g_variant_get_uint32 (v);
  else if (g_variant_is_of_type (v, G_VARIANT_TYPE_DOUBLE))
    *out = (gint) g_variant_get_double (v);
  else
    return FALSE;
  return TRUE;
}

static gboolean
lookup_double (GVariant   *dict,
               const char *key,
               gdouble    *out)
{
  gint i;

  if (dict != NULL && g_variant_is_of_type (dict, G_VARIANT_TYPE_VARDICT) &&
      g_variant_lookup (dict, key, "d", out))
    return TRUE;
  if (lookup_int (dict, key, &i))
    {
      *out = i;
      return TRUE;
    }
  return FALSE;
}

/* The last @n non-empty lines of @text. */
static char **
tail_lines (const char *text,
            guint       n)
{
  g_auto(GStrv) lines = NULL;
  g_autoptr(GPtrArray) tail = g_ptr_array_new ();
  guint len;

  if (text == NULL || n == 0)
    return NULL;
  lines = g_strsplit (text, "\n", -1);
  len = g_strv_length (lines);
  while (len > 0 && *g_strstrip (lines[len - 1]) == '\0')
    len--;
  for (guint i = len > n ? len - n : 0; i < len; i++)
    g_ptr_array_add (tail, g_strdup (lines[i]));
  if (tail->len == 0)
    return NULL;
  g_ptr_array_add (tail, NULL);
  return (char **) g_ptr_array_steal (tail, NULL);
}

static Incident *
incident_new (Monitor         *mon,
              IncidentKind     kind,
              OrreryEvent *event)
{
  Incident *e = g_rc_box_new0 (Incident);
  const GError *error = orrery_event_get_error (event);
  GVariant *result = orrery_event_get_result (event);
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  const char *stderr_text = NULL;
  gboolean timed_out = FALSE;

  e->kind = kind;
  e->task_id = g_strdup (orrery_event_get_task_id (event));
  e->task_shown = log_safe (e->task_id);
  e->device_id = g_strdup (orrery_event_get_device_id (event));
  e->attempt = orrery_event_get_attempt (event);
  e->time = g_date_time_format_iso8601 (now);
  e->has_exit_status = lookup_int (result, "exit_status", &e->exit_status);
  e->has_signal = lookup_int (result, "signal", &e->signal);
  e->has_duration = lookup_double (result, "duration", &e->duration);
  if (result != NULL && g_variant_is_of_type (result, G_VARIANT_TYPE_VARDICT))
    {
      g_variant_lookup (result, "timed_out", "b", &timed_out);
      g_variant_lookup (result, "stderr", "&s", &stderr_text);
    }
  e->stderr_tail = tail_lines (stderr_text, mon->stderr_lines);
  if (error != NULL)
    {
      e->error_message = g_strdup (error->message);
      e->error_domain = g_strdup (g_quark_to_string (error->domain));
      e->error_code = error->code;
    }

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || kind == INCIDENT_CANCELLED)
    {
      e->cause_kind = g_strdup ("cancelled");
      e->cause = g_strdup ("cancelled");
    }
  else if (timed_out || g_error_matches (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_TIMEOUT))
    {
      e->timed_out = TRUE;
      e->cause_kind = g_strdup ("timeout");
      e->cause = e->has_duration ? g_strdup_printf ("timeout (killed after %.1f s)", e->duration)
                                 : g_strdup ("timeout");
    }
  else if (g_error_matches (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_SIGNALED) ||
           (e->has_signal && e->signal > 0))
    {
      e->cause_kind = g_strdup ("signal");
      e->cause = e->has_signal ? g_strdup_printf ("killed by signal %d (%s)", e->signal,
                                                  g_strsignal (e->signal))
                               : g_strdup ("killed by a signal");
    }
  else if (g_error_matches (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_EXIT_STATUS) ||
           (error == NULL && e->has_exit_status && e->exit_status != 0))
    {
      e->cause_kind = g_strdup ("exit-status");
      e->cause = e->has_exit_status ? g_strdup_printf ("exit status %d", e->exit_status)
                                    : g_strdup_printf ("exit status: %s", error->message);
    }
  else if (error != NULL)
    {
      e->cause_kind = g_strdup ("device-error");
      e->cause = g_strdup_printf ("device error: %s", error->message);
    }
  else
    {
      e->cause_kind = g_strdup ("unknown");
      e->cause = g_strdup ("unknown cause");
    }
  return e;
}

static char *
incident_describe (Incident *e)
{
  GString *s = g_string_new (NULL);
  g_autofree char *device = log_safe (e->device_id ? e->device_id : "none");
  g_autofree char *cause = log_safe (e->cause);

  g_string_append_printf (s, "task “%s” on device “%s”, attempt %u: %s", e->task_shown,
                          device, e->attempt, cause);
  if (e->stderr_tail != NULL)
    {
      g_string_append (s, "; stderr:");
      for (guint i = 0; e->stderr_tail[i] != NULL; i++)
        {
          g_autofree char *line = log_safe (e->stderr_tail[i]);

          g_string_append_printf (s, "\n    | %s", line);
        }
    }
  return g_string_free (s, FALSE);
}

/* ------------------------------------------------------------------------ */
/* The monitor */

static void
monitor_clear (gpointer data)
{
  Monitor *mon = data;

  g_assert (mon->abort_source == NULL);
  g_clear_pointer (&mon->abort_hold, orrery_hold_unref);
  g_clear_object (&mon->orch);
  g_free (mon->output_dir);
  g_free (mon->report_file);
  g_free (mon->alert_command);
  g_free (mon->constellation_id);
  g_free (mon->start_time);
  g_ptr_array_unref (mon->incidents);
  g_free (mon->abort_reason);
  g_free (mon->end_state);
  g_free (mon->end_reason);
  g_free (mon->report_path);
}

static Monitor *
monitor_ref (Monitor *mon)
{
  return g_rc_box_acquire (mon);
}

static void
monitor_unref (gpointer mon)
{
  g_rc_box_release_full (mon, monitor_clear);
}

static void
monitor_reset (Monitor *mon)
{
  g_ptr_array_set_size (mon->incidents, 0);
  mon->n_failed = mon->n_retries = mon->n_cancelled = 0;
  mon->n_alerts = mon->n_alerts_ok = mon->n_alerts_failed = mon->n_alerts_timed_out = 0;
  g_clear_pointer (&mon->abort_reason, g_free);
  g_clear_pointer (&mon->constellation_id, g_free);
  g_clear_pointer (&mon->start_time, g_free);
  g_clear_pointer (&mon->end_state, g_free);
  g_clear_pointer (&mon->end_reason, g_free);
  g_clear_pointer (&mon->report_path, g_free);
  mon->end_duration = 0;
  mon->ended = FALSE;
}

/* ------------------------------------------------------------------------ */
/* The report */

static void
add_incident_json (JsonBuilder *b,
                   Incident    *e)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "task_id");
  json_builder_add_string_value (b, e->task_id);
  json_builder_set_member_name (b, "device_id");
  if (e->device_id)
    json_builder_add_string_value (b, e->device_id);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "attempt");
  json_builder_add_int_value (b, e->attempt);
  json_builder_set_member_name (b, "time");
  json_builder_add_string_value (b, e->time);
  json_builder_set_member_name (b, "cause_kind");
  json_builder_add_string_value (b, e->cause_kind);
  json_builder_set_member_name (b, "cause");
  json_builder_add_string_value (b, e->cause);
  json_builder_set_member_name (b, "exit_status");
  if (e->has_exit_status)
    json_builder_add_int_value (b, e->exit_status);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "signal");
  if (e->has_signal)
    json_builder_add_int_value (b, e->signal);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "timed_out");
  json_builder_add_boolean_value (b, e->timed_out);
  json_builder_set_member_name (b, "duration");
  if (e->has_duration)
    json_builder_add_double_value (b, e->duration);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "error");
  if (e->error_message)
    {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "domain");
      json_builder_add_string_value (b, e->error_domain);
      json_builder_set_member_name (b, "code");
      json_builder_add_int_value (b, e->error_code);
      json_builder_set_member_name (b, "message");
      json_builder_add_string_value (b, e->error_message);
      json_builder_end_object (b);
    }
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "stderr_tail");
  json_builder_begin_array (b);
  for (guint i = 0; e->stderr_tail && e->stderr_tail[i]; i++)
    json_builder_add_string_value (b, e->stderr_tail[i]);
  json_builder_end_array (b);
  if (e->kind == INCIDENT_RETRYING)
    {
      json_builder_set_member_name (b, "delay_ms");
      json_builder_add_int_value (b, e->delay_ms);
    }
  if (e->kind == INCIDENT_FAILED)
    {
      json_builder_set_member_name (b, "alert");
      if (e->alert_status == NULL)
        json_builder_add_null_value (b);
      else
        {
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "status");
          json_builder_add_string_value (b, e->alert_status);
          json_builder_set_member_name (b, "exit_status");
          if (g_str_equal (e->alert_status, "ok") || g_str_equal (e->alert_status, "failed"))
            json_builder_add_int_value (b, e->alert_exit_status);
          else
            json_builder_add_null_value (b);
          json_builder_set_member_name (b, "seconds");
          json_builder_add_double_value (b, e->alert_seconds);
          json_builder_set_member_name (b, "detail");
          if (e->alert_detail)
            json_builder_add_string_value (b, e->alert_detail);
          else
            json_builder_add_null_value (b);
          json_builder_end_object (b);
        }
    }
  json_builder_end_object (b);
}

static void
add_incidents (JsonBuilder  *b,
               Monitor      *mon,
               const char   *member,
               IncidentKind  kind)
{
  json_builder_set_member_name (b, member);
  json_builder_begin_array (b);
  for (guint i = 0; i < mon->incidents->len; i++)
    if (((Incident *) mon->incidents->pdata[i])->kind == kind)
      add_incident_json (b, mon->incidents->pdata[i]);
  json_builder_end_array (b);
}

static void
add_uint (JsonBuilder *b,
          const char  *name,
          guint        value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, value);
}

static void
add_nullable_string (JsonBuilder *b,
                     const char  *name,
                     const char  *value)
{
  json_builder_set_member_name (b, name);
  if (value != NULL)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

static char *
report_path (Monitor *mon)
{
  if (g_path_is_absolute (mon->report_file))
    return g_strdup (mon->report_file);
  return g_build_filename (mon->output_dir, mon->report_file, NULL);
}

static gboolean
write_report (Monitor  *mon,
              GError  **error)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *path = report_path (mon);
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *text = NULL;

  json_builder_begin_object (b);
  add_nullable_string (b, "constellation_id", mon->constellation_id);
  add_nullable_string (b, "started", mon->start_time);
  add_nullable_string (b, "state", mon->end_state);
  add_nullable_string (b, "reason", mon->end_reason);
  json_builder_set_member_name (b, "duration");
  json_builder_add_double_value (b, mon->end_duration);

  json_builder_set_member_name (b, "totals");
  json_builder_begin_object (b);
  add_uint (b, "failed", mon->n_failed);
  add_uint (b, "retries", mon->n_retries);
  add_uint (b, "cancelled", mon->n_cancelled);
  add_uint (b, "alerts", mon->n_alerts);
  add_uint (b, "alerts_ok", mon->n_alerts_ok);
  add_uint (b, "alerts_failed", mon->n_alerts_failed);
  add_uint (b, "alerts_timed_out", mon->n_alerts_timed_out);
  add_uint (b, "alerts_running", g_list_length (mon->alerts));
  json_builder_end_object (b);

  json_builder_set_member_name (b, "abort");
  if (mon->abort_reason != NULL)
    {
      json_builder_begin_object (b);
      add_uint (b, "after", mon->abort_after);
      add_nullable_string (b, "reason", mon->abort_reason);
      json_builder_end_object (b);
    }
  else
    json_builder_add_null_value (b);

  add_incidents (b, mon, "failures", INCIDENT_FAILED);
  add_incidents (b, mon, "retries", INCIDENT_RETRYING);
  add_incidents (b, mon, "cancelled", INCIDENT_CANCELLED);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  text = json_generator_to_data (gen, NULL);

  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      int saved = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                   "Cannot create %s: %s", dir, g_strerror (saved));
      return FALSE;
    }
  /* 0600: the report holds the tail of what the failed tasks printed,
   * which may be as secret as their environment (a token echoed). The
   * flags are g_file_set_contents()'s: an fsync() only to replace a file. */
  if (!g_file_set_contents_full (path, text, -1,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_ONLY_EXISTING,
                                 0600, error))
    return FALSE;
  g_free (mon->report_path);
  mon->report_path = g_steal_pointer (&path);
  return TRUE;
}

static void
write_report_logged (Monitor *mon)
{
  g_autoptr(GError) error = NULL;

  if (mon->report_file == NULL || *mon->report_file == '\0')
    return;
  if (!write_report (mon, &error))
    g_warning ("Cannot write the failure report: %s", error->message);
}

/* ------------------------------------------------------------------------ */
/* Alerts */

static void
alert_free (Alert *alert)
{
  if (alert->timeout != NULL)
    {
      g_source_destroy (alert->timeout);
      g_source_unref (alert->timeout);
    }
  g_clear_object (&alert->proc);
  g_clear_object (&alert->cancellable);
  g_clear_pointer (&alert->context, g_main_context_unref);
  incident_unref (alert->incident);
  monitor_unref (alert->monitor);
  g_free (alert);
}

static void
alert_kill (Alert *alert)
{
  if (alert->pid > 0)
    kill (-alert->pid, SIGKILL);    /* its process group */
  if (alert->proc != NULL)
    g_subprocess_force_exit (alert->proc);
}

static gboolean
alert_timeout_cb (gpointer user_data)
{
  Alert *alert = user_data;

  g_clear_pointer (&alert->timeout, g_source_unref);
  alert->timed_out = TRUE;
  alert_kill (alert);
  /* Its pipes may be held by something it started elsewhere: stop
   * waiting for them now. */
  g_cancellable_cancel (alert->cancellable);
  return G_SOURCE_REMOVE;
}

static void
alert_done (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Alert *alert = user_data;
  Monitor *mon = alert->monitor;
  Incident *e = alert->incident;
  g_autofree char *shown = NULL;
  g_autoptr(GBytes) out = NULL;
  g_autoptr(GBytes) err = NULL;
  g_autoptr(GError) error = NULL;
  gboolean ok;

  ok = g_subprocess_communicate_finish (G_SUBPROCESS (source), result, &out, &err, &error);
  e->alert_seconds = (g_get_monotonic_time () - alert->start_us) / (gdouble) G_USEC_PER_SEC;
  g_free (e->alert_status);
  g_clear_pointer (&e->alert_detail, g_free);

  if (alert->timed_out)
    {
      e->alert_status = g_strdup ("timed-out");
      e->alert_detail = g_strdup_printf ("ran past %u ms: killed", mon->alert_timeout_ms);
      mon->n_alerts_timed_out++;
      g_warning ("Alert for task “%s” ran past %u ms: killed", e->task_shown, mon->alert_timeout_ms);
    }
  else if (!ok)
    {
      e->alert_status = g_strdup ("failed");
      e->alert_exit_status = -1;
      e->alert_detail = g_strdup (error->message);
      mon->n_alerts_failed++;
      shown = log_safe (error->message);
      g_warning ("Alert for task “%s” failed: %s", e->task_shown, shown);
    }
  else if (g_subprocess_get_if_exited (alert->proc) &&
           g_subprocess_get_exit_status (alert->proc) == 0)
    {
      e->alert_status = g_strdup ("ok");
      e->alert_exit_status = 0;
      mon->n_alerts_ok++;
      g_debug ("Alert for task “%s” done", e->task_shown);
    }
  else
    {
      g_auto(GStrv) tail = NULL;
      g_autofree char *joined = NULL;
      gsize len = 0;
      const char *data = err ? g_bytes_get_data (err, &len) : NULL;
      g_autofree char *text = data ? g_utf8_make_valid (data, len) : NULL;

      tail = tail_lines (text, mon->stderr_lines);
      joined = tail ? g_strjoinv (" | ", tail) : NULL;
      e->alert_status = g_strdup ("failed");
      if (g_subprocess_get_if_exited (alert->proc))
        {
          e->alert_exit_status = g_subprocess_get_exit_status (alert->proc);
          e->alert_detail = g_strdup_printf ("exit status %d%s%s", e->alert_exit_status,
                                             joined ? ": " : "", joined ? joined : "");
        }
      else
        {
          e->alert_exit_status = -1;
          e->alert_detail = g_strdup_printf ("killed by signal %d",
                                             g_subprocess_get_term_sig (alert->proc));
        }
      mon->n_alerts_failed++;
      shown = log_safe (e->alert_detail);
      g_warning ("Alert for task “%s” failed: %s", e->task_shown, shown);
    }

  mon->alerts = g_list_remove (mon->alerts, alert);
  /* The run is over and its report written: bring it up to date. */
  if (mon->ended && !mon->detached)
    write_report_logged (mon);
  alert_free (alert);
}

static void
alert_child_setup (gpointer user_data)
{
  setpgid (0, 0);
}

static void
alert_start (Monitor         *mon,
             Incident        *e,
             OrreryEvent *event)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *attempt = g_strdup_printf ("%u", e->attempt);
  g_autofree char *exit_status = e->has_exit_status ? g_strdup_printf ("%d", e->exit_status)
                                                    : g_strdup ("");
  g_autofree char *sig = e->has_signal ? g_strdup_printf ("%d", e->signal) : g_strdup ("");
  g_autofree char *tail = e->stderr_tail ? g_strjoinv ("\n", e->stderr_tail) : g_strdup ("");
  g_autofree char *shown = NULL;
  Alert *alert;
  const char *pid;

  mon->n_alerts++;
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_set_stdin_file_path (launcher, "/dev/null");
  g_subprocess_launcher_setenv (launcher, "ORRERY_TASK_ID", e->task_id, TRUE);
  g_subprocess_launcher_setenv (launcher, "ORRERY_DEVICE_ID", e->device_id ? e->device_id : "", TRUE);
  g_subprocess_launcher_setenv (launcher, "ORRERY_ATTEMPT", attempt, TRUE);
  g_subprocess_launcher_setenv (launcher, "ORRERY_CAUSE", e->cause, TRUE);
  g_subprocess_launcher_setenv (launcher, "ORRERY_CAUSE_KIND", e->cause_kind, TRUE);
  g_subprocess_launcher_setenv (launcher, "ORRERY_EXIT_STATUS", exit_status, TRUE);
  g_subprocess_launcher_setenv (launcher, "ORRERY_SIGNAL", sig, TRUE);
  g_subprocess_launcher_setenv (launcher, "ORRERY_ERROR", e->error_message ? e->error_message : "", TRUE);
  g_subprocess_launcher_setenv (launcher, "ORRERY_STDERR_TAIL", tail, TRUE);
  g_subprocess_launcher_setenv (launcher, "ORRERY_CONSTELLATION_ID",
                                mon->constellation_id ? mon->constellation_id : "", TRUE);
  g_subprocess_launcher_set_child_setup (launcher, alert_child_setup, NULL, NULL);

  alert = g_new0 (Alert, 1);
  alert->monitor = monitor_ref (mon);
  alert->incident = incident_ref (e);
  alert->start_us = g_get_monotonic_time ();
  alert->cancellable = g_cancellable_new ();
  alert->context = g_main_context_ref_thread_default ();
  g_free (e->alert_status);
  e->alert_status = g_strdup ("running");

  alert->proc = g_subprocess_launcher_spawn (launcher, &error, "/bin/sh", "-c",
                                             mon->alert_command, NULL);
  if (alert->proc == NULL)
    {
      g_free (e->alert_status);
      e->alert_status = g_strdup ("spawn-failed");
      e->alert_exit_status = -1;
      e->alert_detail = g_strdup (error->message);
      mon->n_alerts_failed++;
      shown = log_safe (error->message);
      g_warning ("Alert for task “%s” could not start: %s", e->task_shown, shown);
      alert_free (alert);
      return;
    }
  pid = g_subprocess_get_identifier (alert->proc);
  alert->pid = pid ? atoi (pid) : 0;
  mon->alerts = g_list_prepend (mon->alerts, alert);
  if (mon->alert_timeout_ms > 0)
    {
      alert->timeout = g_timeout_source_new (mon->alert_timeout_ms);
      g_source_set_static_name (alert->timeout, "[orrery] failure-monitor alert timeout");
      g_source_set_callback (alert->timeout, alert_timeout_cb, alert, NULL);
      g_source_attach (alert->timeout, alert->context);
    }
  g_subprocess_communicate_async (alert->proc, NULL, alert->cancellable, alert_done, alert);
}

/* ------------------------------------------------------------------------ */
/* Abort */

static gboolean
abort_cb (gpointer user_data)
{
  Monitor *mon = user_data;
  g_autoptr(OrreryHold) hold = g_steal_pointer (&mon->abort_hold);

  g_clear_pointer (&mon->abort_source, g_source_unref);
  if (orrery_orchestrator_is_running (mon->orch))
    orrery_orchestrator_cancel (mon->orch, mon->abort_reason);
  if (hold != NULL)
    orrery_orchestrator_release (mon->orch, hold);
  return G_SOURCE_REMOVE;
}

static void
maybe_abort (Monitor *mon)
{
  if (mon->abort_after == 0 || mon->n_failed < mon->abort_after || mon->abort_reason != NULL)
    return;
  mon->abort_reason = g_strdup_printf ("failure-monitor: %u tasks failed (AbortAfter=%u)",
                                       mon->n_failed, mon->abort_after);
  if (mon->orch == NULL || !orrery_orchestrator_is_running (mon->orch))
    {
      g_warning ("%s, but there is no run to cancel", mon->abort_reason);
      return;
    }
  g_warning ("Aborting the run: %s", mon->abort_reason);
  /* Nothing more is dispatched from now on; the cancel itself runs from
   * the main loop, outside the orchestrator's publication of the failure. */
  mon->abort_hold = orrery_orchestrator_hold (mon->orch, mon->abort_reason, 0);
  mon->abort_source = g_idle_source_new ();
  g_source_set_priority (mon->abort_source, G_PRIORITY_HIGH);
  g_source_set_static_name (mon->abort_source, "[orrery] failure-monitor abort");
  g_source_set_callback (mon->abort_source, abort_cb, mon, NULL);
  g_source_attach (mon->abort_source, g_main_context_get_thread_default ());
}

static void
abort_stop (Monitor *mon)
{
  if (mon->abort_source != NULL)
    {
      g_source_destroy (mon->abort_source);
      g_clear_pointer (&mon->abort_source, g_source_unref);
    }
  if (mon->abort_hold != NULL)
    {
      orrery_orchestrator_release (mon->orch, mon->abort_hold);
      g_clear_pointer (&mon->abort_hold, orrery_hold_unref);
    }
}

/* ------------------------------------------------------------------------ */
/* Events */

static void
remember_constellation (Monitor         *mon,
                        OrreryEvent *event)
{
  OrreryConstellation *c = orrery_event_get_constellation (event);

  if (mon->constellation_id == NULL && c != NULL)
    mon->constellation_id = g_strdup (orrery_constellation_get_id (c));
}

static void
on_task_failed (Monitor         *mon,
                OrreryEvent *event)
{
  Incident *e;
  g_autofree char *text = NULL;

  remember_constellation (mon, event);
  e = incident_new (mon, INCIDENT_FAILED, event);
  g_ptr_array_add (mon->incidents, e);
  mon->n_failed++;
  text = incident_describe (e);
  g_warning ("Task failed: %s", text);
  if (mon->alert_command != NULL && !mon->shut_down)
    alert_start (mon, e, event);
  maybe_abort (mon);
}

static void
on_task_retrying (Monitor         *mon,
                  OrreryEvent *event)
{
  Incident *e;
  g_autofree char *text = NULL;
  GVariant *data = orrery_event_get_data (event);
  guint delay = 0;

  remember_constellation (mon, event);
  e = incident_new (mon, INCIDENT_RETRYING, event);
  if (data != NULL && g_variant_is_of_type (data, G_VARIANT_TYPE_VARDICT))
    g_variant_lookup (data, "delay_ms", "u", &delay);
  e->delay_ms = delay;
  g_ptr_array_add (mon->incidents, e);
  mon->n_retries++;
  text = incident_describe (e);
  g_message ("Task will be retried in %u ms: %s", delay, text);
}

static void
on_task_cancelled (Monitor         *mon,
                   OrreryEvent *event)
{
  Incident *e;
  g_autofree char *text = NULL;
  g_autofree char *message = NULL;

  /* Only tasks a cancel killed while they ran; the ones that never
   * started are in the totals of the run's terminal event. */
  if (orrery_event_get_device_id (event) == NULL)
    return;
  remember_constellation (mon, event);
  e = incident_new (mon, INCIDENT_CANCELLED, event);
  g_ptr_array_add (mon->incidents, e);
  mon->n_cancelled++;
  text = incident_describe (e);
  message = log_safe (e->error_message);
  g_message ("Task cancelled while running: %s%s%s", text, message ? " — " : "", message ? message : "");
}

static void
on_run_started (Monitor                  *mon,
                OrreryEvent *event)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();

  abort_stop (mon);
  monitor_reset (mon);
  mon->constellation_id = g_strdup (orrery_event_get_constellation_id (event));
  mon->start_time = g_date_time_format_iso8601 (now);
}

static void
on_run_ended (Monitor                  *mon,
              OrreryEvent *event)
{
  GVariant *data = orrery_event_get_data (event);
  const char *reason = NULL;

  abort_stop (mon);
  if (mon->constellation_id == NULL)
    mon->constellation_id = g_strdup (orrery_event_get_constellation_id (event));
  g_free (mon->end_state);
  mon->end_state = g_strdup (orrery_event_get_type_nick (event));
  if (data != NULL && g_variant_is_of_type (data, G_VARIANT_TYPE_VARDICT))
    g_variant_lookup (data, "reason", "&s", &reason);
  g_free (mon->end_reason);
  mon->end_reason = g_strdup (reason);
  mon->end_duration = orrery_event_get_duration (event);
  mon->ended = TRUE;
  write_report_logged (mon);
  if (mon->n_failed > 0 || mon->n_retries > 0 || mon->n_cancelled > 0)
    {
      g_autofree char *id = log_safe (mon->constellation_id ? mon->constellation_id : "?");
      g_autofree char *report = log_safe (mon->report_path);

      g_message ("Failures of “%s”: %u failed, %u retries, %u cancelled while running%s%s",
                 id, mon->n_failed, mon->n_retries, mon->n_cancelled,
                 report ? "; report: " : "", report ? report : "");
    }
}

static gboolean
monitor_handle (OrreryEvent  *event,
                gpointer      user_data,
                GError      **error)
{
  Monitor *mon = user_data;

  switch (orrery_event_get_event_type (event))
    {
    case ORRERY_EVENT_TASK_FAILED:
      on_task_failed (mon, event);
      break;
    case ORRERY_EVENT_TASK_RETRYING:
      on_task_retrying (mon, event);
      break;
    case ORRERY_EVENT_TASK_CANCELLED:
      on_task_cancelled (mon, event);
      break;
    case ORRERY_EVENT_CONSTELLATION_STARTED:
      on_run_started (mon, event);
      break;
    case ORRERY_EVENT_CONSTELLATION_COMPLETED:
    case ORRERY_EVENT_CONSTELLATION_FAILED:
    case ORRERY_EVENT_CONSTELLATION_CANCELLED:
      on_run_ended (mon, event);
      break;
    default:
      break;
    }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Plugin */

static gboolean
shutdown_wait_cb (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
failure_monitor_shutdown (OrreryPluginContext *context)
{
  Monitor *mon = orrery_plugin_context_get_data (context);
  GMainContext *ctx;

  if (mon == NULL)
    return;
  ctx = mon->alerts ? ((Alert *) mon->alerts->data)->context : NULL;
  mon->shut_down = TRUE;
  abort_stop (mon);

  /* Give the alerts still running the time they have left (at most a
   * few seconds), then kill them: an alert of the last failure of a run
   * should still go out when the host exits right after the run. */
  if (mon->alerts != NULL && g_main_context_acquire (ctx))
    {
      gboolean give_up = FALSE;
      guint wait = mon->alert_timeout_ms > 0 ? MIN (mon->alert_timeout_ms, SHUTDOWN_WAIT_MS)
                                             : SHUTDOWN_WAIT_MS;
      GSource *timer = g_timeout_source_new (wait + 100);

      g_source_set_callback (timer, shutdown_wait_cb, &give_up, NULL);
      g_source_attach (timer, ctx);
      while (mon->alerts != NULL && !give_up)
        g_main_context_iteration (ctx, TRUE);
      g_source_destroy (timer);
      g_source_unref (timer);
      g_main_context_release (ctx);
    }
  for (GList *l = mon->alerts; l != NULL; l = l->next)
    {
      Alert *alert = l->data;

      g_warning ("Alert for task “%s” still running at shutdown: killed", alert->incident->task_shown);
      g_free (alert->incident->alert_status);
      alert->incident->alert_status = g_strdup ("timed-out");
      g_free (alert->incident->alert_detail);
      alert->incident->alert_detail = g_strdup ("still running at shutdown: killed");
      mon->n_alerts_timed_out++;
      alert->timed_out = TRUE;
      alert_kill (alert);
      g_cancellable_cancel (alert->cancellable);
    }
  if (mon->alerts != NULL && mon->ended)
    {
      GList *alerts = g_steal_pointer (&mon->alerts);

      write_report_logged (mon);
      mon->alerts = alerts;
    }
  mon->detached = TRUE;
  /* Their callbacks come later (or never, if the loop is gone): each
   * holds its own references. */
  while (mon->alerts != NULL)
    {
      Alert *alert = mon->alerts->data;

      mon->alerts = g_list_delete_link (mon->alerts, mon->alerts);
      g_debug ("Alert for task “%s” abandoned at shutdown", alert->incident->task_id);
    }
}

static gboolean
failure_monitor_init (OrreryPluginContext  *context,
                      GError              **error)
{
  g_autoptr(OrreryObserver) observer = NULL;
  GError *local_error = NULL;
  Monitor *mon;
  guint64 timeout, abort_after, lines;
  const OrreryEventType types[] = {
    ORRERY_EVENT_TASK_FAILED,
    ORRERY_EVENT_TASK_RETRYING,
    ORRERY_EVENT_TASK_CANCELLED,
    ORRERY_EVENT_CONSTELLATION_STARTED,
    ORRERY_EVENT_CONSTELLATION_COMPLETED,
    ORRERY_EVENT_CONSTELLATION_FAILED,
    ORRERY_EVENT_CONSTELLATION_CANCELLED,
  };

  timeout = orrery_plugin_context_get_uint (context, "AlertTimeoutMs", DEFAULT_ALERT_TIMEOUT_MS,
                                            &local_error);
  if (local_error == NULL)
    abort_after = orrery_plugin_context_get_uint (context, "AbortAfter", 0, &local_error);
  if (local_error == NULL)
    lines = orrery_plugin_context_get_uint (context, "StderrLines", DEFAULT_STDERR_LINES,
                                            &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return FALSE;
    }

  mon = g_rc_box_new0 (Monitor);
  mon->orch = orrery_plugin_context_get_orchestrator (context);
  if (mon->orch != NULL)
    g_object_ref (mon->orch);
  mon->output_dir = orrery_plugin_context_get_string (context, "OutputDir", DEFAULT_OUTPUT_DIR);
  mon->report_file = orrery_plugin_context_get_string (context, "ReportFile", DEFAULT_REPORT_FILE);
  mon->alert_command = orrery_plugin_context_get_string (context, "AlertCommand", NULL);
  if (mon->alert_command != NULL && *g_strstrip (mon->alert_command) == '\0')
    g_clear_pointer (&mon->alert_command, g_free);
  mon->alert_timeout_ms = (guint) MIN (timeout, G_MAXUINT);
  mon->abort_after = (guint) MIN (abort_after, G_MAXUINT);
  mon->stderr_lines = (guint) MIN (lines, 1000);
  mon->incidents = g_ptr_array_new_with_free_func (incident_unref);
  orrery_plugin_context_set_data (context, mon, monitor_unref);

  observer = orrery_func_observer_new ("failure-monitor", monitor_handle, mon, NULL);
  orrery_plugin_context_add_observer (context, observer, types, G_N_ELEMENTS (types),
                                      ORRERY_DELIVERY_SYNC, 0, 0);
  g_debug ("Watching failures: report %s/%s, alert %s, abort after %u", mon->output_dir,
           mon->report_file, mon->alert_command ? mon->alert_command : "none", mon->abort_after);
  return TRUE;
}

static const OrreryPluginKey failure_monitor_keys[] = {
  { "OutputDir", ORRERY_PLUGIN_KEY_STRING, DEFAULT_OUTPUT_DIR,
    "the directory of the failure report" },
  { "ReportFile", ORRERY_PLUGIN_KEY_STRING, DEFAULT_REPORT_FILE,
    "the failure report's file name in OutputDir (or an absolute path); empty: none" },
  { "AlertCommand", ORRERY_PLUGIN_KEY_STRING, NULL,
    "a shell command run for each failed task, with ORRERY_* variables" },
  { "AlertTimeoutMs", ORRERY_PLUGIN_KEY_UINT, "10000",
    "an alert running longer is killed and reported (0: no limit)" },
  { "AbortAfter", ORRERY_PLUGIN_KEY_UINT, "0",
    "cancel the run after this many failed tasks (0: never)" },
  { "StderrLines", ORRERY_PLUGIN_KEY_UINT, "5",
    "how many last lines of stderr a failure shows" },
  { NULL }
};

ORRERY_PLUGIN_DEFINE ("failure-monitor", "1.0",
                      "Logs failures with their cause, writes a failure report, alerts, aborts",
                      failure_monitor_init, failure_monitor_shutdown, failure_monitor_keys)
