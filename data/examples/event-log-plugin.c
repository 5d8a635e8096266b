/* event-log-plugin.c: an Orrery plugin built out of tree.
 *
 * It writes one line per event it receives, to the file of its `File` key
 * (or to the log when unset). Build it with nothing but the SDK's .pc:
 *
 *   cc -shared -fPIC -o event-log.so event-log-plugin.c \
 *      $(pkg-config --cflags --libs orrery-1.0)
 *
 * and drop event-log.so into a plugin directory (`orrery plugins
 * --plugin-path DIR` lists it). Configure it in orrery.conf:
 *
 *   [Plugin event-log]
 *   Enabled=true
 *   File=/tmp/orrery-events.log
 *   Events=task-completed;task-failed
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <orrery.h>

typedef struct
{
  char   *file;
  gint64  lines;
} EventLog;

static gboolean
event_log_handle (OrreryEvent  *event,
                  gpointer      user_data,
                  GError      **error)
{
  EventLog *log = user_data;
  g_autofree char *text = orrery_event_to_string (event);
  FILE *f;

  log->lines++;
  if (log->file == NULL)
    {
      g_message ("event-log: %s", text);
      return TRUE;
    }
  f = fopen (log->file, "a");
  if (f == NULL)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "cannot open %s", log->file);
      return FALSE;
    }
  fprintf (f, "%s %s\n", orrery_event_get_type_nick (event), text);
  fclose (f);
  return TRUE;
}

static void
event_log_free (gpointer data)
{
  EventLog *log = data;

  g_free (log->file);
  g_free (log);
}

static gboolean
event_log_init (OrreryPluginContext  *context,
                GError              **error)
{
  EventLog *log = g_new0 (EventLog, 1);
  g_autoptr(OrreryObserver) observer = NULL;
  /* What it asks for; `Events=` in its group overrides it. */
  const OrreryEventType types[] = {
    ORRERY_EVENT_TASK_COMPLETED,
    ORRERY_EVENT_TASK_FAILED,
    ORRERY_EVENT_CONSTELLATION_COMPLETED,
    ORRERY_EVENT_CONSTELLATION_FAILED,
  };

  log->file = orrery_plugin_context_get_string (context, "File", NULL);
  orrery_plugin_context_set_data (context, log, event_log_free);

  observer = orrery_func_observer_new ("event-log", event_log_handle, log, NULL);
  orrery_plugin_context_add_observer (context, observer, types, G_N_ELEMENTS (types),
                                      ORRERY_DELIVERY_SYNC, 0, 0);
  return TRUE;
}

static void
event_log_shutdown (OrreryPluginContext *context)
{
  EventLog *log = orrery_plugin_context_get_data (context);

  g_debug ("event-log: %" G_GINT64_FORMAT " events logged", log->lines);
}

static const OrreryPluginKey event_log_keys[] = {
  { "File", ORRERY_PLUGIN_KEY_STRING, NULL, "the file to append events to" },
  { NULL }
};

ORRERY_PLUGIN_DEFINE ("event-log", "1.0", "Writes one line per event", event_log_init,
                      event_log_shutdown, event_log_keys)
