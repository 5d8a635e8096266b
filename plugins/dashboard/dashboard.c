/* dashboard.c: the dashboard plugin, the run in a browser.
 *
 * An HTTP server (libsoup's SoupServer, on connections the plugin accepts
 * itself, as the metrics plugin does) that serves:
 * - `/`, `/static/NAME`: the page (plain HTML, CSS and JavaScript from the
 *   plugin's static directory; nothing is fetched from elsewhere);
 * - `/api/state`: a JSON snapshot (constellation, tasks, devices, metrics,
 *   the run's state, the last sequence number);
 * - `/api/graph.svg`: the DAG laid out by Graphviz's dot (run with
 *   GSubprocess, bounded in time), node ids `task-ESCAPED_ID`;
 * - `/events?since=SEQ`: a WebSocket streaming each event after SEQ as one
 *   JSON message in the journal's schema (orrery_journal_event_to_json());
 * - `/run/PATH`: files of the run directory (the tasks' logs);
 * - POST `/api/pause`, `/api/resume`, `/api/cancel`: an orchestrator hold
 *   taken and released, the run cancelled;
 * - `/health`: `ok`, the only path that needs no token.
 *
 * Security (see README.md): loopback unless AllowRemote=true; a random
 * 128-bit token (or Token=) in a header, in a cookie set by the first
 * page load with `?token=`, or that query; POSTs only with the header;
 * the Host header must name the listen address or a loopback name (421);
 * a WebSocket's Origin must be the served origin (403); nothing outside
 * the static and run directories (404); a connection cap, idle and
 * request timeouts.
 *
 * Flow control: the run's events are kept in memory (one JSON string
 * each, sequence = index + 1). Each client has a cursor; events are sent
 * from an idle callback, at most QueueLimit unacknowledged at once (the
 * page acknowledges with `{"ack":SEQ}`). A client whose window stays full
 * for SlowClientSec is dropped (close code 4000) and catches up on
 * reconnect with `since`. The run never waits for a client.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <glib/gstdio.h>
#include <glib-unix.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <orrery.h>

#define DEFAULT_OUTPUT_DIR "orrery-output"
#define COOKIE_NAME "orrery_dashboard"
#define OUTPUT_LINES 5

typedef struct
{
  char             *id;
  OrreryTaskStatus  status;
  guint             attempt;
  char             *device;
  gint64            started_us;
  gint64            ended_us;
  int               exit_status;   /* -1 unknown */
  char             *output;        /* last lines */
  char             *log;           /* path relative to the run directory */
} TaskRec;

typedef struct _Dashboard Dashboard;

/* One event of the run: kept as the event until a client needs its JSON
 * (formatted once, then shared by every client). */
typedef struct
{
  OrreryEvent *event;
  char        *json;
} EventRec;

/* Messages sent per client per pump: the loop goes back to the run between. */
#define PUMP_BUDGET 256
/* Below the orchestrator's work: the run goes first, the viewers get the
 * loop's spare time (a run of real tasks leaves plenty). */
#define PUMP_PRIORITY (G_PRIORITY_DEFAULT_IDLE + 50)

typedef struct
{
  Dashboard *d;
  GSocket   *socket;     /* not a reference: weakly watched */
  GSource   *deadline;
  char      *peer;       /* ADDRESS:PORT of the client: finds it again */
} HttpConn;

/* ADDRESS:PORT of ADDR (an inet socket address), or NULL. */
static char *
peer_text (GSocketAddress *addr)
{
  g_autofree char *ip = NULL;

  if (!G_IS_INET_SOCKET_ADDRESS (addr))
    return NULL;
  ip = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (addr)));
  return g_strdup_printf ("%s:%u", ip, g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (addr)));
}

typedef struct
{
  Dashboard               *d;
  SoupWebsocketConnection *ws;
  guint64                  sent;      /* events sent: the next index */
  guint64                  acked;     /* last sequence acknowledged */
  gint64                   full_since; /* monotonic µs the window got full; 0 */
  gboolean                 closed;
} Client;

struct _Dashboard
{
  OrreryEventBus     *bus;
  OrreryOrchestrator *orch;          /* NULL: read-only (orrery serve) */
  OrreryHold         *hold;

  /* Configuration */
  char               *listen_host;   /* as in the URL: 127.0.0.1, [::1] */
  GInetAddress       *listen_addr;
  guint               port;
  char               *token;
  char               *static_dir;    /* real path */
  char               *run_dir;       /* real path, or NULL */
  char               *dot_program;
  guint               dot_timeout_s;
  guint               max_layout_tasks;
  guint               max_connections;
  guint               idle_timeout_s;
  guint               request_timeout_s;
  guint               queue_limit;
  guint               slow_client_s;
  guint               linger_s;       /* serving on after the run's end */

  /* Server */
  GSocketService     *service;
  SoupServer         *server;
  GHashTable         *http_conns;    /* GSocket (weak) -> HttpConn */
  guint16             bound_port;
  GPtrArray          *clients;       /* of Client */
  guint               pump_id;
  guint               slow_check_id;
  guint               reap_id;
  guint64             dropped_clients;

  /* The run */
  GArray             *events;        /* EventRec, sequence = index + 1 */
  OrreryConstellation *constellation;
  char               *constellation_id;
  char               *run_state;     /* a constellation state nick, or "waiting" */
  GHashTable         *tasks;         /* id -> TaskRec */
  GHashTable         *devices;       /* id -> status nick */
  guint64             counts[ORRERY_EVENT_TYPE_COUNT];
  gint64              first_us;
  gint64              last_us;

  /* The graph */
  guint               graph_version; /* graph changes seen */
  guint               svg_version;   /* the version svg was laid out for */
  char               *svg;
  GSubprocess        *dot;
  GSource            *dot_deadline;
  GCancellable       *dot_cancel;
};

/* ------------------------------------------------------------------------ */
/* State from events */

static void
task_rec_free (gpointer data)
{
  TaskRec *t = data;

  g_free (t->id);
  g_free (t->device);
  g_free (t->output);
  g_free (t->log);
  g_free (t);
}

static TaskRec *
task_rec (Dashboard  *d,
          const char *id)
{
  TaskRec *t = g_hash_table_lookup (d->tasks, id);

  if (t == NULL)
    {
      t = g_new0 (TaskRec, 1);
      t->id = g_strdup (id);
      t->exit_status = -1;
      g_hash_table_insert (d->tasks, t->id, t);
    }
  return t;
}

static const char *
enum_nick (GType type,
           int   value)
{
  GEnumClass *klass = g_type_class_ref (type);
  GEnumValue *v = g_enum_get_value (klass, value);
  const char *nick = v != NULL ? v->value_nick : "unknown";

  g_type_class_unref (klass);
  return nick;
}

/* The last OUTPUT_LINES lines of TEXT. */
static char *
last_lines (const char *text)
{
  gsize len = strlen (text);
  const char *p = text + len;
  guint lines = 0;

  while (len > 0 && text[len - 1] == '\n')
    len--;
  p = text + len;
  while (p > text)
    {
      if (p[-1] == '\n' && ++lines == OUTPUT_LINES)
        break;
      p--;
    }
  return g_utf8_make_valid (p, text + len - p);
}

static void
take_result (Dashboard *d,
             TaskRec   *t,
             GVariant  *result)
{
  const char *out = NULL, *err = NULL, *path = NULL;
  GVariantIter iter;
  const char *key;
  GVariant *value;

  if (result == NULL || !g_variant_is_of_type (result, G_VARIANT_TYPE_VARDICT))
    return;
  /* One pass over the dictionary. The exit status: an int32 from the
   * local device, another integer type from a journal. */
  g_variant_iter_init (&iter, result);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      if (strcmp (key, "exit_status") == 0)
        {
          if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT32))
            t->exit_status = g_variant_get_int32 (value);
          else if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT64))
            t->exit_status = (int) CLAMP (g_variant_get_int64 (value), -1, G_MAXINT);
          else if (g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE))
            t->exit_status = (int) g_variant_get_double (value);
        }
      else if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
        {
          /* Borrowed from VALUE, which RESULT keeps alive. */
          if (strcmp (key, "stdout") == 0)
            out = g_variant_get_string (value, NULL);
          else if (strcmp (key, "stderr") == 0)
            err = g_variant_get_string (value, NULL);
          else if (strcmp (key, "stdout_path") == 0)
            path = g_variant_get_string (value, NULL);
        }
      g_variant_unref (value);
    }
  if ((out != NULL && out[0] != '\0') || (err != NULL && err[0] != '\0'))
    {
      g_free (t->output);
      t->output = last_lines (out != NULL && out[0] != '\0' ? out : err);
    }
  if (path != NULL && d->run_dir != NULL)
    {
      g_autofree char *real = realpath (path, NULL);
      gsize n = strlen (d->run_dir);

      if (real != NULL && strncmp (real, d->run_dir, n) == 0 && real[n] == '/')
        {
          g_free (t->log);
          t->log = g_strdup (real + n + 1);
        }
    }
}

static void schedule_pump (Dashboard *d);
static void start_layout (Dashboard *d);

static void
take_constellation (Dashboard           *d,
                    OrreryConstellation *c)
{
  if (c == NULL || c == d->constellation)
    return;
  g_set_object (&d->constellation, c);
}

static gboolean
dashboard_handle (OrreryEvent  *event,
                  gpointer      user_data,
                  GError      **error)
{
  Dashboard *d = user_data;
  OrreryEventType type = orrery_event_get_event_type (event);
  gint64 ts = orrery_event_get_timestamp (event);

  EventRec rec = { orrery_event_ref (event), NULL };

  g_array_append_val (d->events, rec);
  if ((guint) type < ORRERY_EVENT_TYPE_COUNT)
    d->counts[type]++;
  if (d->first_us == 0)
    d->first_us = ts;
  d->last_us = ts;

  if (ORRERY_EVENT_IS_TASK (event))
    {
      OrreryEvent *te = event;
      TaskRec *t = task_rec (d, orrery_event_get_task_id (te));
      const char *device = orrery_event_get_device_id (te);

      t->status = orrery_event_get_task_status (te);
      t->attempt = orrery_event_get_attempt (te);
      if (device != NULL && g_strcmp0 (device, t->device) != 0)
        {
          g_free (t->device);
          t->device = g_strdup (device);
        }
      if (type == ORRERY_EVENT_TASK_STARTED)
        {
          t->started_us = ts;
          t->ended_us = 0;
        }
      else
        t->ended_us = ts;
      take_result (d, t, orrery_event_get_result (te));
      if (device != NULL && !g_hash_table_contains (d->devices, device))
        g_hash_table_insert (d->devices, g_strdup (device), g_strdup ("idle"));
    }
  else if (ORRERY_EVENT_IS_CONSTELLATION (event))
    {
      OrreryEvent *ce = event;

      take_constellation (d, orrery_event_get_constellation (ce));
      g_free (d->constellation_id);
      d->constellation_id = g_strdup (orrery_event_get_constellation_id (ce));
      g_free (d->run_state);
      d->run_state = g_strdup (orrery_constellation_state_to_nick (orrery_event_get_constellation_state (ce)));
      if (type == ORRERY_EVENT_CONSTELLATION_STARTED || type == ORRERY_EVENT_CONSTELLATION_MODIFIED)
        {
          d->graph_version++;
          start_layout (d);
        }
      if (type != ORRERY_EVENT_CONSTELLATION_STARTED && type != ORRERY_EVENT_CONSTELLATION_MODIFIED &&
          d->hold != NULL)
        {
          /* The run has ended (a pause does not outlive it). */
          if (d->orch != NULL)
            orrery_orchestrator_release (d->orch, d->hold);
          g_clear_pointer (&d->hold, orrery_hold_unref);
        }
    }
  else if (ORRERY_EVENT_IS_DEVICE (event))
    {
      OrreryEvent *de = event;
      const char *id = orrery_event_get_device_id (de);

      if (type == ORRERY_EVENT_DEVICE_REMOVED)
        g_hash_table_remove (d->devices, id);
      else
        g_hash_table_insert (d->devices, g_strdup (id),
                             g_strdup (enum_nick (ORRERY_TYPE_DEVICE_STATUS, orrery_event_get_device_status (de))));
    }
  schedule_pump (d);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* The graph: DOT text, laid out by dot into SVG */

/* task-ID with every byte outside [A-Za-z0-9-] as _XX: a valid XML id,
 * the same for the same task in every layout (the page computes it too). */
static void
append_node_id (GString    *s,
                const char *id)
{
  g_string_append (s, "task-");
  for (const guchar *p = (const guchar *) id; *p != '\0'; p++)
    {
      if (g_ascii_isalnum (*p) || *p == '-')
        g_string_append_c (s, (char) *p);
      else
        g_string_append_printf (s, "_%02x", *p);
    }
}

static void
append_dot_string (GString    *s,
                   const char *text)
{
  g_string_append_c (s, '"');
  for (const char *p = text; *p != '\0'; p++)
    {
      if (*p == '"' || *p == '\\')
        g_string_append_c (s, '\\');
      if ((guchar) *p < 0x20)
        g_string_append_c (s, ' ');
      else
        g_string_append_c (s, *p);
    }
  g_string_append_c (s, '"');
}

static char *
constellation_to_dot (OrreryConstellation *c)
{
  g_autoptr(GString) s = g_string_new ("digraph orrery {\n  rankdir=LR;\n"
                                       "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#e0e0e0\", "
                                       "fontname=\"sans-serif\", fontsize=11];\n");
  g_autoptr(GPtrArray) tasks = orrery_constellation_get_tasks (c);
  g_autoptr(GPtrArray) deps = orrery_constellation_get_dependencies (c);

  for (guint i = 0; i < tasks->len; i++)
    {
      const char *id = orrery_task_get_id (tasks->pdata[i]);
      g_autofree char *label = g_utf8_make_valid (id, -1);
      GString *nid = g_string_new (NULL);

      append_node_id (nid, id);
      g_string_append (s, "  ");
      append_dot_string (s, nid->str);
      g_string_append (s, " [id=");
      append_dot_string (s, nid->str);
      g_string_append (s, ", class=\"task\", label=");
      append_dot_string (s, label);
      g_string_append (s, "];\n");
      g_string_free (nid, TRUE);
    }
  for (guint i = 0; i < deps->len; i++)
    {
      GString *from = g_string_new (NULL), *to = g_string_new (NULL);

      append_node_id (from, orrery_dependency_get_from_task_id (deps->pdata[i]));
      append_node_id (to, orrery_dependency_get_to_task_id (deps->pdata[i]));
      g_string_append (s, "  ");
      append_dot_string (s, from->str);
      g_string_append (s, " -> ");
      append_dot_string (s, to->str);
      g_string_append (s, ";\n");
      g_string_free (from, TRUE);
      g_string_free (to, TRUE);
    }
  g_string_append (s, "}\n");
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static void
broadcast_text (Dashboard  *d,
                const char *text)
{
  for (guint i = 0; i < d->clients->len; i++)
    {
      Client *cl = d->clients->pdata[i];

      if (soup_websocket_connection_get_state (cl->ws) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_send_text (cl->ws, text);
    }
}

static void
on_dot_done (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Dashboard *d = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  guint version;

  if (!g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result, &out, NULL, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;  /* shut down: D may be gone */
    }
  version = GPOINTER_TO_UINT (g_object_get_data (source, "orrery-version"));
  if (d->dot_deadline != NULL)
    {
      g_source_destroy (d->dot_deadline);
      g_clear_pointer (&d->dot_deadline, g_source_unref);
    }
  g_clear_object (&d->dot);
  g_clear_object (&d->dot_cancel);
  if (error == NULL && g_subprocess_get_if_exited (G_SUBPROCESS (source)) &&
      g_subprocess_get_exit_status (G_SUBPROCESS (source)) == 0 && out != NULL)
    {
      const char *svg = strstr (out, "<svg");

      g_free (d->svg);
      d->svg = g_strdup (svg != NULL ? svg : out);
      d->svg_version = version;
      {
        g_autofree char *msg = g_strdup_printf ("{\"layout\":%u}", version);

        broadcast_text (d, msg);
      }
    }
  else
    g_message ("dashboard: dot could not lay out the graph: %s",
               error != NULL ? error->message : "it failed or was stopped");
  if (d->svg_version != d->graph_version)
    start_layout (d);
}

static gboolean
on_dot_deadline (gpointer data)
{
  Dashboard *d = data;

  g_clear_pointer (&d->dot_deadline, g_source_unref);
  if (d->dot != NULL)
    g_subprocess_force_exit (d->dot);
  return G_SOURCE_REMOVE;
}

static void
start_layout (Dashboard *d)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dot = NULL;

  if (d->dot != NULL || d->constellation == NULL || d->svg_version == d->graph_version)
    return;  /* one at a time: the one running starts the next when done */
  if (orrery_constellation_get_n_tasks (d->constellation) > d->max_layout_tasks)
    {
      d->svg_version = d->graph_version;
      g_clear_pointer (&d->svg, g_free);
      return;
    }
  dot = constellation_to_dot (d->constellation);
  d->dot = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                             G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error,
                             d->dot_program, "-Tsvg", NULL);
  if (d->dot == NULL)
    {
      g_message ("dashboard: cannot run %s: %s (no graph)", d->dot_program, error->message);
      d->svg_version = d->graph_version;
      return;
    }
  g_object_set_data (G_OBJECT (d->dot), "orrery-version", GUINT_TO_POINTER (d->graph_version));
  d->dot_cancel = g_cancellable_new ();
  d->dot_deadline = g_timeout_source_new_seconds (d->dot_timeout_s);
  g_source_set_static_name (d->dot_deadline, "[orrery] dashboard dot deadline");
  g_source_set_callback (d->dot_deadline, on_dot_deadline, d, NULL);
  g_source_attach (d->dot_deadline, NULL);
  g_subprocess_communicate_utf8_async (d->dot, dot, d->dot_cancel, on_dot_done, d);
}

/* ------------------------------------------------------------------------ */
/* WebSocket clients */

static void
client_free (gpointer data)
{
  Client *cl = data;

  g_signal_handlers_disconnect_by_data (cl->ws, cl);
  if (soup_websocket_connection_get_state (cl->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (cl->ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "shutting down");
  g_object_unref (cl->ws);
  g_free (cl);
}

static const char *
event_json (Dashboard *d,
            guint64    index)
{
  EventRec *rec = &g_array_index (d->events, EventRec, index);

  if (rec->json == NULL)
    {
      rec->json = orrery_journal_event_to_json (rec->event, index + 1);
      g_clear_pointer (&rec->event, orrery_event_unref);
    }
  return rec->json;
}

static void
event_rec_clear (gpointer data)
{
  EventRec *rec = data;

  g_clear_pointer (&rec->event, orrery_event_unref);
  g_free (rec->json);
}

static gboolean
pump (gpointer user_data)
{
  Dashboard *d = user_data;
  gint64 now = g_get_monotonic_time ();
  gboolean more = FALSE;

  d->pump_id = 0;
  for (guint i = 0; i < d->clients->len; i++)
    {
      Client *cl = d->clients->pdata[i];

      if (soup_websocket_connection_get_state (cl->ws) != SOUP_WEBSOCKET_STATE_OPEN)
        continue;
      for (guint n = 0; cl->sent < d->events->len && cl->sent - cl->acked < d->queue_limit; n++)
        {
          if (n == PUMP_BUDGET)
            {
              more = TRUE;
              break;
            }
          soup_websocket_connection_send_text (cl->ws, event_json (d, cl->sent++));
        }
      if (cl->sent < d->events->len && cl->sent - cl->acked >= d->queue_limit)
        {
          if (cl->full_since == 0)
            cl->full_since = now;
        }
      else
        cl->full_since = 0;
    }
  if (more)
    schedule_pump (d);
  return G_SOURCE_REMOVE;
}

static void
schedule_pump (Dashboard *d)
{
  if (d->pump_id == 0 && d->clients->len > 0)
    d->pump_id = g_idle_add_full (PUMP_PRIORITY, pump, d, NULL);
}

/* Drops the clients whose window has been full for SlowClientSec. */
static gboolean
on_slow_check (gpointer user_data)
{
  Dashboard *d = user_data;
  gint64 now = g_get_monotonic_time ();

  for (guint i = 0; i < d->clients->len; i++)
    {
      Client *cl = d->clients->pdata[i];

      if (cl->full_since != 0 && now - cl->full_since >= (gint64) d->slow_client_s * G_USEC_PER_SEC &&
          soup_websocket_connection_get_state (cl->ws) == SOUP_WEBSOCKET_STATE_OPEN)
        {
          d->dropped_clients++;
          g_info ("dashboard: a client fell behind (%" G_GUINT64_FORMAT " events unacknowledged): dropped",
                  cl->sent - cl->acked);
          soup_websocket_connection_close (cl->ws, 4000, "too slow: reconnect with since");
        }
    }
  return G_SOURCE_CONTINUE;
}

static void
on_ws_message (SoupWebsocketConnection *ws,
               SoupWebsocketDataType    type,
               GBytes                  *message,
               gpointer                 user_data)
{
  Client *cl = user_data;
  gsize len;
  const char *data = g_bytes_get_data (message, &len);
  char buf[64];
  const char *p;
  guint64 seq;

  if (type != SOUP_WEBSOCKET_DATA_TEXT || len == 0 || len >= sizeof buf)
    return;
  memcpy (buf, data, len);
  buf[len] = '\0';
  p = strstr (buf, "\"ack\":");
  if (p == NULL)
    return;
  seq = g_ascii_strtoull (p + 6, NULL, 10);
  if (seq > cl->acked && seq <= cl->sent)
    {
      cl->acked = seq;
      cl->full_since = 0;
      if (cl->sent < cl->d->events->len)
        {
          if (cl->d->pump_id == 0)
            cl->d->pump_id = g_idle_add_full (PUMP_PRIORITY, pump, cl->d, NULL);
        }
    }
}

/* Frees the clients whose connection has closed (outside the signal). */
static gboolean
reap_clients (gpointer user_data)
{
  Dashboard *d = user_data;

  d->reap_id = 0;
  for (guint i = d->clients->len; i > 0; i--)
    if (((Client *) d->clients->pdata[i - 1])->closed)
      g_ptr_array_remove_index_fast (d->clients, i - 1);
  return G_SOURCE_REMOVE;
}

static void
on_ws_closed (SoupWebsocketConnection *ws,
              gpointer                 user_data)
{
  Client *cl = user_data;

  cl->closed = TRUE;
  if (cl->d->reap_id == 0)
    cl->d->reap_id = g_idle_add (reap_clients, cl->d);
}

static void
on_websocket (SoupServer              *server,
              SoupServerMessage       *msg,
              const char              *path,
              SoupWebsocketConnection *ws,
              gpointer                 user_data)
{
  Dashboard *d = user_data;
  GUri *uri = soup_server_message_get_uri (msg);
  const char *query = g_uri_get_query (uri);
  guint64 since = 0;
  Client *cl;

  if (query != NULL)
    {
      g_autoptr(GHashTable) params = g_uri_parse_params (query, -1, "&", G_URI_PARAMS_NONE, NULL);
      const char *s = params != NULL ? g_hash_table_lookup (params, "since") : NULL;

      if (s != NULL)
        since = g_ascii_strtoull (s, NULL, 10);
    }
  soup_websocket_connection_set_keepalive_interval (ws, 15);
  soup_websocket_connection_set_max_incoming_payload_size (ws, 4096);

  cl = g_new0 (Client, 1);
  cl->d = d;
  cl->ws = g_object_ref (ws);
  cl->sent = cl->acked = MIN (since, d->events->len);
  g_signal_connect (ws, "message", G_CALLBACK (on_ws_message), cl);
  g_signal_connect (ws, "closed", G_CALLBACK (on_ws_closed), cl);
  g_ptr_array_add (d->clients, cl);
  schedule_pump (d);
}

/* ------------------------------------------------------------------------ */
/* The snapshot */

static gint
cmp_task_rec (gconstpointer a,
              gconstpointer b)
{
  return strcmp ((*(TaskRec * const *) a)->id, (*(TaskRec * const *) b)->id);
}

static void
add_string_member (JsonBuilder *b,
                   const char  *name,
                   const char  *value)
{
  g_autofree char *valid = value != NULL ? g_utf8_make_valid (value, -1) : NULL;

  json_builder_set_member_name (b, name);
  if (valid != NULL)
    json_builder_add_string_value (b, valid);
  else
    json_builder_add_null_value (b);
}

static void
add_string_value (JsonBuilder *b,
                  const char  *value)
{
  g_autofree char *valid = g_utf8_make_valid (value, -1);

  json_builder_add_string_value (b, valid);
}

static char *
snapshot_json (Dashboard *d)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GPtrArray) tasks = g_ptr_array_new ();
  g_autoptr(GPtrArray) ctasks = NULL;
  g_autoptr(GPtrArray) deps = NULL;
  guint64 by_status[ORRERY_TASK_STATUS_SKIPPED + 1] = { 0 };
  GHashTableIter iter;
  gpointer key, value;
  gdouble elapsed = d->last_us > d->first_us ? (d->last_us - d->first_us) / (gdouble) G_USEC_PER_SEC : 0;

  if (d->constellation != NULL)
    {
      /* Every task of the graph, also those no event has named yet. */
      ctasks = orrery_constellation_get_tasks (d->constellation);
      for (guint i = 0; i < ctasks->len; i++)
        {
          OrreryTask *task = ctasks->pdata[i];

          if (!g_hash_table_contains (d->tasks, orrery_task_get_id (task)))
            task_rec (d, orrery_task_get_id (task))->status = orrery_task_get_status (task);
        }
      deps = orrery_constellation_get_dependencies (d->constellation);
    }
  g_hash_table_iter_init (&iter, d->tasks);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_ptr_array_add (tasks, value);
  g_ptr_array_sort (tasks, cmp_task_rec);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "seq");
  json_builder_add_int_value (b, (gint64) d->events->len);
  json_builder_set_member_name (b, "run");
  json_builder_begin_object (b);
  add_string_member (b, "constellation", d->constellation_id);
  add_string_member (b, "name", d->constellation != NULL ? orrery_constellation_get_name (d->constellation) : NULL);
  add_string_member (b, "state", d->run_state != NULL ? d->run_state : "waiting");
  json_builder_set_member_name (b, "paused");
  json_builder_add_boolean_value (b, d->hold != NULL);
  json_builder_set_member_name (b, "controls");
  json_builder_add_boolean_value (b, d->orch != NULL);
  json_builder_set_member_name (b, "graph_version");
  json_builder_add_int_value (b, d->graph_version);
  json_builder_set_member_name (b, "layout_version");
  json_builder_add_int_value (b, d->svg != NULL ? d->svg_version : 0);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "tasks");
  json_builder_begin_array (b);
  for (guint i = 0; i < tasks->len; i++)
    {
      TaskRec *t = tasks->pdata[i];
      OrreryTask *task = d->constellation != NULL ? orrery_constellation_get_task (d->constellation, t->id) : NULL;

      if ((guint) t->status < G_N_ELEMENTS (by_status))
        by_status[t->status]++;
      json_builder_begin_object (b);
      add_string_member (b, "id", t->id);
      add_string_member (b, "name", task != NULL ? orrery_task_get_name (task) : NULL);
      add_string_member (b, "status", orrery_task_status_to_nick (t->status));
      add_string_member (b, "device", t->device);
      json_builder_set_member_name (b, "attempt");
      json_builder_add_int_value (b, t->attempt);
      json_builder_set_member_name (b, "duration");
      if (t->started_us > 0 && t->ended_us >= t->started_us)
        json_builder_add_double_value (b, (t->ended_us - t->started_us) / (gdouble) G_USEC_PER_SEC);
      else
        json_builder_add_null_value (b);
      json_builder_set_member_name (b, "exit_status");
      if (t->exit_status >= 0)
        json_builder_add_int_value (b, t->exit_status);
      else
        json_builder_add_null_value (b);
      add_string_member (b, "output", t->output);
      add_string_member (b, "log", t->log);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);

  json_builder_set_member_name (b, "dependencies");
  json_builder_begin_array (b);
  for (guint i = 0; deps != NULL && i < deps->len; i++)
    {
      json_builder_begin_array (b);
      add_string_value (b, orrery_dependency_get_from_task_id (deps->pdata[i]));
      add_string_value (b, orrery_dependency_get_to_task_id (deps->pdata[i]));
      json_builder_end_array (b);
    }
  json_builder_end_array (b);

  json_builder_set_member_name (b, "devices");
  json_builder_begin_array (b);
  {
    g_autoptr(GList) ids = g_list_sort (g_hash_table_get_keys (d->devices), (GCompareFunc) strcmp);

    for (GList *l = ids; l != NULL; l = l->next)
      {
        json_builder_begin_object (b);
        add_string_member (b, "id", l->data);
        add_string_member (b, "status", g_hash_table_lookup (d->devices, l->data));
        json_builder_end_object (b);
      }
  }
  json_builder_end_array (b);

  json_builder_set_member_name (b, "metrics");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "events");
  json_builder_add_int_value (b, (gint64) d->events->len);
  json_builder_set_member_name (b, "elapsed");
  json_builder_add_double_value (b, elapsed);
  json_builder_set_member_name (b, "events_per_second");
  json_builder_add_double_value (b, elapsed > 0 ? d->events->len / elapsed : 0);
  json_builder_set_member_name (b, "tasks");
  json_builder_add_int_value (b, tasks->len);
  json_builder_set_member_name (b, "by_status");
  json_builder_begin_object (b);
  for (guint i = 0; i < G_N_ELEMENTS (by_status); i++)
    {
      json_builder_set_member_name (b, orrery_task_status_to_nick (i));
      json_builder_add_int_value (b, (gint64) by_status[i]);
    }
  json_builder_end_object (b);
  json_builder_set_member_name (b, "by_type");
  json_builder_begin_object (b);
  for (guint i = 0; i < ORRERY_EVENT_TYPE_COUNT; i++)
    if (d->counts[i] > 0)
      {
        json_builder_set_member_name (b, orrery_event_type_to_nick (i));
        json_builder_add_int_value (b, (gint64) d->counts[i]);
      }
  json_builder_end_object (b);
  json_builder_set_member_name (b, "clients");
  json_builder_add_int_value (b, d->clients->len);
  json_builder_set_member_name (b, "dropped_clients");
  json_builder_add_int_value (b, (gint64) d->dropped_clients);
  json_builder_end_object (b);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, NULL);
}

/* ------------------------------------------------------------------------ */
/* HTTP: connections (as the metrics plugin: a cap, an idle timeout, a
 * request deadline) */

static const char http_busy[] =
  "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
  "Content-Length: 21\r\nConnection: close\r\n\r\ntoo many connections\n";

static void
http_conn_forget (HttpConn *c)
{
  g_free (c->peer);
  if (c->deadline != NULL)
    {
      g_source_destroy (c->deadline);
      g_clear_pointer (&c->deadline, g_source_unref);
    }
  g_free (c);
}

static void
on_http_socket_gone (gpointer  data,
                     GObject  *where_the_socket_was)
{
  HttpConn *c = data;

  g_hash_table_remove (c->d->http_conns, where_the_socket_was);
}

static gboolean
on_http_deadline (gpointer data)
{
  HttpConn *c = data;

  g_clear_pointer (&c->deadline, g_source_unref);
  g_socket_shutdown (c->socket, TRUE, TRUE, NULL);
  return G_SOURCE_REMOVE;
}

static gboolean
on_http_incoming (GSocketService    *service,
                  GSocketConnection *connection,
                  GObject           *source_object,
                  gpointer           user_data)
{
  Dashboard *d = user_data;
  GSocket *socket = g_socket_connection_get_socket (connection);
  g_autoptr(GSocketAddress) local = g_socket_connection_get_local_address (connection, NULL);
  g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address (connection, NULL);
  g_autoptr(GError) error = NULL;
  HttpConn *c;

  if (g_hash_table_size (d->http_conns) >= d->max_connections)
    {
      g_socket_set_blocking (socket, FALSE);
      g_socket_send (socket, http_busy, sizeof http_busy - 1, NULL, NULL);
      g_socket_shutdown (socket, FALSE, TRUE, NULL);
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      return TRUE;
    }
  g_socket_set_timeout (socket, d->idle_timeout_s);
  c = g_new0 (HttpConn, 1);
  c->d = d;
  c->socket = socket;
  c->peer = peer_text (remote);
  c->deadline = g_timeout_source_new_seconds (d->request_timeout_s);
  g_source_set_static_name (c->deadline, "[orrery] dashboard request deadline");
  g_source_set_callback (c->deadline, on_http_deadline, c, NULL);
  g_source_attach (c->deadline, NULL);
  g_hash_table_insert (d->http_conns, socket, c);
  g_object_weak_ref (G_OBJECT (socket), on_http_socket_gone, c);
  if (!soup_server_accept_iostream (d->server, G_IO_STREAM (connection), local, remote, &error))
    {
      g_debug ("dashboard: cannot take a connection: %s", error->message);
      g_object_weak_unref (G_OBJECT (socket), on_http_socket_gone, c);
      g_hash_table_remove (d->http_conns, socket);
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
    }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* HTTP: checks */

/* Whether HOST (a Host header) names this server: a loopback name or the
 * listen address (any IP literal when listening on every address), with
 * the port. A DNS rebinding sends a name of its own and is refused. */
static gboolean
host_allowed (Dashboard  *d,
              const char *host)
{
  static const char *const names[] = { "127.0.0.1", "localhost", "[::1]" };
  g_autofree char *name = NULL;
  const char *colon;
  g_autoptr(GInetAddress) addr = NULL;

  if (host == NULL)
    return FALSE;
  colon = strrchr (host, ':');
  if (colon == NULL || strchr (colon, ']') != NULL ||
      g_ascii_strtoull (colon + 1, NULL, 10) != d->bound_port ||
      strspn (colon + 1, "0123456789") != strlen (colon + 1) || colon[1] == '\0')
    return FALSE;
  name = g_strndup (host, colon - host);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (g_ascii_strcasecmp (name, names[i]) == 0)
      return TRUE;
  if (name[0] == '[' && name[strlen (name) - 1] == ']')
    {
      name[strlen (name) - 1] = '\0';
      memmove (name, name + 1, strlen (name));
    }
  addr = g_inet_address_new_from_string (name);
  if (addr == NULL)
    return FALSE;
  return g_inet_address_equal (addr, d->listen_addr) || g_inet_address_get_is_any (d->listen_addr);
}

static gboolean
token_equal (const char *given,
             const char *token)
{
  gsize n = strlen (token);
  guchar diff = 0;

  if (given == NULL || strlen (given) != n)
    return FALSE;
  for (gsize i = 0; i < n; i++)
    diff |= (guchar) given[i] ^ (guchar) token[i];
  return diff == 0;
}

typedef enum {
  TOKEN_NONE,
  TOKEN_HEADER,
  TOKEN_COOKIE,
  TOKEN_QUERY,
} TokenSource;

static TokenSource
request_token (Dashboard         *d,
               SoupServerMessage *msg,
               GHashTable        *query)
{
  SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);
  const char *auth = soup_message_headers_get_one (h, "Authorization");
  const char *cookie = soup_message_headers_get_list (h, "Cookie");

  if (auth != NULL && g_ascii_strncasecmp (auth, "Bearer ", 7) == 0 && token_equal (auth + 7, d->token))
    return TOKEN_HEADER;
  if (token_equal (soup_message_headers_get_one (h, "X-Orrery-Token"), d->token))
    return TOKEN_HEADER;
  if (cookie != NULL)
    {
      g_auto(GStrv) parts = g_strsplit (cookie, ";", -1);

      for (guint i = 0; parts[i] != NULL; i++)
        {
          const char *p = parts[i];

          while (*p == ' ')
            p++;
          if (g_str_has_prefix (p, COOKIE_NAME "=") && token_equal (p + strlen (COOKIE_NAME) + 1, d->token))
            return TOKEN_COOKIE;
        }
    }
  if (query != NULL && token_equal (g_hash_table_lookup (query, "token"), d->token))
    return TOKEN_QUERY;
  return TOKEN_NONE;
}

static void
http_text (SoupServerMessage *msg,
           guint              status,
           const char        *text)
{
  soup_server_message_set_status (msg, status, status == 421 ? "Misdirected Request" : NULL);
  soup_server_message_set_response (msg, "text/plain; charset=utf-8", SOUP_MEMORY_STATIC, text, strlen (text));
}

static void
common_headers (SoupServerMessage *msg)
{
  SoupMessageHeaders *r = soup_server_message_get_response_headers (msg);

  soup_message_headers_replace (r, "X-Content-Type-Options", "nosniff");
  soup_message_headers_replace (r, "Referrer-Policy", "no-referrer");
  soup_message_headers_replace (r, "Cache-Control", "no-store");
  soup_message_headers_replace (r, "X-Frame-Options", "DENY");
  soup_message_headers_replace (r, "Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                                "script-src 'self'; connect-src 'self'; frame-ancestors 'none'");
}

/* A WebSocket lives on: no request deadline, no socket timeout (the
 * keepalive pings show it is there). Done before the upgrade, so the
 * WebSocket's reads are made without the timeout. libsoup does not say
 * which socket a message is on: the client's address and port find it. */
static void
keep_connection (Dashboard         *d,
                 SoupServerMessage *msg)
{
  g_autofree char *peer = peer_text (soup_server_message_get_remote_address (msg));
  HttpConn *conn = NULL;
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, d->http_conns);
  while (conn == NULL && peer != NULL && g_hash_table_iter_next (&iter, NULL, &value))
    if (g_strcmp0 (((HttpConn *) value)->peer, peer) == 0)
      conn = value;
  if (conn == NULL)
    {
      g_warning ("dashboard: a WebSocket on a connection not accepted here (%s)", peer ? peer : "?");
      return;
    }
  if (conn->deadline != NULL)
    {
      g_source_destroy (conn->deadline);
      g_clear_pointer (&conn->deadline, g_source_unref);
    }
  g_socket_set_timeout (conn->socket, 0);
}

/* Every request, once its headers are in: Host, token, Origin. A status
 * set here is the answer (no handler runs, no WebSocket is made). */
static void
on_early_request (SoupServer        *server,
                  SoupServerMessage *msg,
                  const char        *path,
                  GHashTable        *query,
                  gpointer           user_data)
{
  Dashboard *d = user_data;
  SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);
  const char *host = soup_message_headers_get_one (h, "Host");
  const char *method = soup_server_message_get_method (msg);
  TokenSource source;

  common_headers (msg);
  if (!host_allowed (d, host))
    {
      http_text (msg, SOUP_STATUS_MISDIRECTED_REQUEST,
                 "this server answers only to its listen address or a loopback name, with its port\n");
      return;
    }
  if (strcmp (path, "/health") == 0)
    return;
  source = request_token (d, msg, query);
  if (source == TOKEN_NONE)
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "WWW-Authenticate",
                                    "Bearer realm=\"orrery\"");
      http_text (msg, SOUP_STATUS_UNAUTHORIZED, "a token is needed (see the URL the dashboard printed)\n");
      return;
    }
  if (strcmp (method, "POST") == 0 && source != TOKEN_HEADER)
    {
      http_text (msg, SOUP_STATUS_FORBIDDEN, "a POST needs the token in a header\n");
      return;
    }
  if (soup_message_headers_header_contains (h, "Upgrade", "websocket"))
    {
      const char *origin = soup_message_headers_get_one (h, "Origin");
      g_autofree char *expected = g_strdup_printf ("http://%s", host);

      if (origin == NULL || g_ascii_strcasecmp (origin, expected) != 0)
        {
          http_text (msg, SOUP_STATUS_FORBIDDEN, "a WebSocket from another origin\n");
          return;
        }
      keep_connection (d, msg);
    }
}

/* ------------------------------------------------------------------------ */
/* HTTP: files */

static const char *
content_type (const char *path)
{
  if (g_str_has_suffix (path, ".html"))
    return "text/html; charset=utf-8";
  if (g_str_has_suffix (path, ".js"))
    return "text/javascript; charset=utf-8";
  if (g_str_has_suffix (path, ".css"))
    return "text/css; charset=utf-8";
  if (g_str_has_suffix (path, ".png"))
    return "image/png";
  if (g_str_has_suffix (path, ".svg"))
    return "image/svg+xml";
  if (g_str_has_suffix (path, ".json"))
    return "application/json";
  return "text/plain; charset=utf-8";
}

/* Serves REL (percent-decoded, relative) from the directory ROOT (a real
 * path): 404 for anything that resolves outside it (`..`, a symbolic link
 * out), is not a regular file, or is missing. */
static void
serve_file (SoupServerMessage *msg,
            const char        *root,
            const char        *rel)
{
  g_autofree char *decoded = g_uri_unescape_string (rel, NULL);
  g_autofree char *joined = NULL;
  g_autofree char *real = NULL;
  g_autofree char *contents = NULL;
  gsize len = 0, n;
  GStatBuf st;

  if (root == NULL || decoded == NULL || decoded[0] == '\0' || decoded[0] == '/')
    {
      http_text (msg, SOUP_STATUS_NOT_FOUND, "not found\n");
      return;
    }
  {
    g_auto(GStrv) parts = g_strsplit (decoded, "/", -1);

    for (guint i = 0; parts[i] != NULL; i++)
      if (parts[i][0] == '.' || strchr (parts[i], '\\') != NULL)
        {
          http_text (msg, SOUP_STATUS_NOT_FOUND, "not found\n");
          return;
        }
  }
  joined = g_build_filename (root, decoded, NULL);
  real = realpath (joined, NULL);
  n = strlen (root);
  if (real == NULL || strncmp (real, root, n) != 0 || real[n] != '/' ||
      g_stat (real, &st) != 0 || !S_ISREG (st.st_mode) ||
      !g_file_get_contents (real, &contents, &len, NULL))
    {
      http_text (msg, SOUP_STATUS_NOT_FOUND, "not found\n");
      return;
    }
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, content_type (real), SOUP_MEMORY_TAKE, g_steal_pointer (&contents), len);
}

static void
json_answer (SoupServerMessage *msg,
             guint              status,
             char              *body)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, body, strlen (body));
}

static void
control (Dashboard         *d,
         SoupServerMessage *msg,
         const char        *what)
{
  if (d->orch == NULL)
    {
      http_text (msg, SOUP_STATUS_CONFLICT, "read-only: this dashboard shows a journal\n");
      return;
    }
  if (strcmp (what, "pause") == 0)
    {
      if (d->hold == NULL)
        d->hold = orrery_orchestrator_hold (d->orch, "paused from the dashboard", 0);
    }
  else if (strcmp (what, "resume") == 0)
    {
      if (d->hold != NULL)
        {
          orrery_orchestrator_release (d->orch, d->hold);
          g_clear_pointer (&d->hold, orrery_hold_unref);
        }
    }
  else if (strcmp (what, "cancel") == 0)
    {
      if (d->hold != NULL)
        {
          orrery_orchestrator_release (d->orch, d->hold);
          g_clear_pointer (&d->hold, orrery_hold_unref);
        }
      orrery_orchestrator_cancel (d->orch, "cancelled from the dashboard");
    }
  else
    {
      http_text (msg, SOUP_STATUS_NOT_FOUND, "no such control\n");
      return;
    }
  json_answer (msg, SOUP_STATUS_OK, g_strdup_printf ("{\"paused\":%s}", d->hold != NULL ? "true" : "false"));
}

static void
on_request (SoupServer        *server,
            SoupServerMessage *msg,
            const char        *path,
            GHashTable        *query,
            gpointer           user_data)
{
  Dashboard *d = user_data;
  const char *method = soup_server_message_get_method (msg);
  gboolean get = strcmp (method, "GET") == 0 || strcmp (method, "HEAD") == 0;

  if (strcmp (path, "/health") == 0)
    http_text (msg, SOUP_STATUS_OK, "ok\n");
  else if (g_str_has_prefix (path, "/api/") && strcmp (method, "POST") == 0)
    control (d, msg, path + 5);
  else if (!get)
    http_text (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "only GET, and POST for the controls\n");
  else if (strcmp (path, "/") == 0 || strcmp (path, "/index.html") == 0)
    {
      serve_file (msg, d->static_dir, "index.html");
      if (query != NULL && token_equal (g_hash_table_lookup (query, "token"), d->token))
        {
          g_autofree char *cookie = g_strdup_printf (COOKIE_NAME "=%s; Path=/; HttpOnly; SameSite=Strict", d->token);

          soup_message_headers_append (soup_server_message_get_response_headers (msg), "Set-Cookie", cookie);
        }
    }
  else if (g_str_has_prefix (path, "/static/"))
    serve_file (msg, d->static_dir, path + 8);
  else if (g_str_has_prefix (path, "/run/"))
    serve_file (msg, d->run_dir, path + 5);
  else if (strcmp (path, "/api/state") == 0)
    json_answer (msg, SOUP_STATUS_OK, snapshot_json (d));
  else if (strcmp (path, "/api/graph.svg") == 0)
    {
      if (d->svg == NULL)
        http_text (msg, SOUP_STATUS_NOT_FOUND, "no layout (yet)\n");
      else
        {
          soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
          soup_server_message_set_response (msg, "image/svg+xml", SOUP_MEMORY_COPY, d->svg, strlen (d->svg));
        }
    }
  else
    http_text (msg, SOUP_STATUS_NOT_FOUND, "not found\n");
}

/* ------------------------------------------------------------------------ */
/* Start and stop */

static gboolean
parse_listen (const char    *listen,
              char         **host_out,
              GInetAddress **addr_out,
              guint         *port_out,
              GError       **error)
{
  const char *colon = strrchr (listen, ':');
  g_autofree char *name = NULL;
  guint64 port;
  char *end = NULL;

  if (colon == NULL || colon == listen)
    goto bad;
  port = g_ascii_strtoull (colon + 1, &end, 10);
  if (colon[1] == '\0' || *end != '\0' || port > 65535)
    goto bad;
  name = g_strndup (listen, colon - listen);
  if (name[0] == '[')
    {
      gsize n = strlen (name);

      if (n < 3 || name[n - 1] != ']')
        goto bad;
      name[n - 1] = '\0';
      memmove (name, name + 1, n - 1);
    }
  if (g_ascii_strcasecmp (name, "localhost") == 0)
    *addr_out = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  else
    *addr_out = g_inet_address_new_from_string (name);
  if (*addr_out == NULL)
    goto bad;
  {
    g_autofree char *text = g_inet_address_to_string (*addr_out);

    *host_out = g_inet_address_get_family (*addr_out) == G_SOCKET_FAMILY_IPV6
      ? g_strdup_printf ("[%s]", text) : g_steal_pointer (&text);
  }
  *port_out = (guint) port;
  return TRUE;

bad:
  g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_BAD_CONFIG,
               "Listen must be ADDRESS:PORT with an IP address (or localhost), such as 127.0.0.1:0 or [::1]:8080, not “%s”",
               listen);
  return FALSE;
}

static gboolean
start_http (Dashboard  *d,
            GError    **error)
{
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new (d->listen_addr, d->port);
  g_autoptr(GSocketAddress) bound = NULL;

  d->service = g_socket_service_new ();
  g_socket_listener_set_backlog (G_SOCKET_LISTENER (d->service), 128);
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (d->service), addr, G_SOCKET_TYPE_STREAM,
                                      G_SOCKET_PROTOCOL_TCP, NULL, &bound, error))
    {
      g_clear_object (&d->service);
      return FALSE;
    }
  d->bound_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  d->server = soup_server_new ("server-header", "orrery-dashboard", NULL);
  /* libsoup keeps one entry per path, early handler included: the checks
   * go on /events as well as on the default one. */
  soup_server_add_early_handler (d->server, NULL, on_early_request, d, NULL);
  soup_server_add_early_handler (d->server, "/events", on_early_request, d, NULL);
  soup_server_add_websocket_handler (d->server, "/events", NULL, NULL, on_websocket, d, NULL);
  soup_server_add_handler (d->server, NULL, on_request, d, NULL);
  d->http_conns = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) http_conn_forget);
  g_signal_connect (d->service, "incoming", G_CALLBACK (on_http_incoming), d);
  g_socket_service_start (d->service);
  return TRUE;
}

static void
stop_http (Dashboard *d)
{
  GHashTableIter iter;
  gpointer socket;

  g_clear_handle_id (&d->pump_id, g_source_remove);
  g_clear_handle_id (&d->slow_check_id, g_source_remove);
  g_clear_handle_id (&d->reap_id, g_source_remove);
  if (d->clients != NULL)
    g_ptr_array_set_size (d->clients, 0);
  if (d->service != NULL)
    {
      g_signal_handlers_disconnect_by_data (d->service, d);
      g_socket_service_stop (d->service);
      g_socket_listener_close (G_SOCKET_LISTENER (d->service));
      g_clear_object (&d->service);
    }
  if (d->http_conns != NULL)
    {
      g_hash_table_iter_init (&iter, d->http_conns);
      while (g_hash_table_iter_next (&iter, &socket, NULL))
        g_object_weak_unref (socket, on_http_socket_gone, g_hash_table_lookup (d->http_conns, socket));
      g_clear_pointer (&d->http_conns, g_hash_table_unref);
    }
  if (d->server != NULL)
    {
      soup_server_disconnect (d->server);
      g_clear_object (&d->server);
    }
}

static void
stop_layout (Dashboard *d)
{
  if (d->dot_cancel != NULL)
    g_cancellable_cancel (d->dot_cancel);
  if (d->dot != NULL)
    g_subprocess_force_exit (d->dot);
  g_clear_object (&d->dot);
  g_clear_object (&d->dot_cancel);
  if (d->dot_deadline != NULL)
    {
      g_source_destroy (d->dot_deadline);
      g_clear_pointer (&d->dot_deadline, g_source_unref);
    }
}

static void
dashboard_free (gpointer data)
{
  Dashboard *d = data;

  stop_http (d);
  stop_layout (d);
  if (d->hold != NULL && d->orch != NULL)
    orrery_orchestrator_release (d->orch, d->hold);
  g_clear_pointer (&d->hold, orrery_hold_unref);
  g_clear_object (&d->orch);
  g_clear_object (&d->bus);
  g_clear_pointer (&d->clients, g_ptr_array_unref);
  g_array_unref (d->events);
  g_hash_table_unref (d->tasks);
  g_hash_table_unref (d->devices);
  g_clear_object (&d->constellation);
  g_clear_object (&d->listen_addr);
  g_free (d->constellation_id);
  g_free (d->run_state);
  g_free (d->svg);
  g_free (d->listen_host);
  g_free (d->token);
  g_free (d->static_dir);
  g_free (d->run_dir);
  g_free (d->dot_program);
  g_free (d);
}

static char *
find_static_dir (OrreryPluginContext *context)
{
  g_autofree char *configured = orrery_plugin_context_get_string (context, "StaticDir", "");
  const char *candidates[] = { configured, DASHBOARD_DATADIR, DASHBOARD_SOURCE_STATIC_DIR };

  for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
    {
      g_autofree char *index = NULL;

      if (candidates[i] == NULL || candidates[i][0] == '\0')
        continue;
      index = g_build_filename (candidates[i], "index.html", NULL);
      if (g_file_test (index, G_FILE_TEST_IS_REGULAR))
        return realpath (candidates[i], NULL);
      if (i == 0)
        return NULL;  /* configured and wrong: said by the caller */
    }
  return NULL;
}

static char *
random_token (void)
{
  guint8 bytes[16];
  GString *s = g_string_new (NULL);
  gsize got = 0;

  while (got < sizeof bytes)
    {
      ssize_t n = getrandom (bytes + got, sizeof bytes - got, 0);

      if (n < 0 && errno != EINTR)
        {
          /* No getrandom (an old kernel): GLib's generator, seeded from /dev/urandom. */
          for (gsize i = got; i < sizeof bytes; i++)
            bytes[i] = (guint8) g_random_int_range (0, 256);
          break;
        }
      if (n > 0)
        got += (gsize) n;
    }
  for (gsize i = 0; i < sizeof bytes; i++)
    g_string_append_printf (s, "%02x", bytes[i]);
  return g_string_free (s, FALSE);
}

static gboolean
get_bounded_uint (OrreryPluginContext  *context,
                  const char           *key,
                  guint64               def,
                  guint64               min,
                  guint64               max,
                  guint                *out,
                  GError              **error)
{
  GError *local = NULL;
  guint64 v = orrery_plugin_context_get_uint (context, key, def, &local);

  if (local == NULL && (v < min || v > max))
    local = g_error_new (ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_BAD_CONFIG,
                         "%s must be between %" G_GUINT64_FORMAT " and %" G_GUINT64_FORMAT ", not %" G_GUINT64_FORMAT,
                         key, min, max, v);
  if (local != NULL)
    {
      g_propagate_error (error, local);
      return FALSE;
    }
  *out = (guint) v;
  return TRUE;
}

static gboolean
dashboard_init (OrreryPluginContext  *context,
                GError              **error)
{
  Dashboard *d;
  GError *local = NULL;
  gboolean allow_remote;
  g_autofree char *listen = NULL;
  g_autofree char *output_dir = NULL;
  g_autoptr(OrreryObserver) observer = NULL;
  OrreryOrchestrator *orch;

  d = g_new0 (Dashboard, 1);
  d->events = g_array_new (FALSE, FALSE, sizeof (EventRec));
  g_array_set_clear_func (d->events, event_rec_clear);
  d->tasks = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, task_rec_free);
  d->devices = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  d->clients = g_ptr_array_new_with_free_func (client_free);
  orrery_plugin_context_set_data (context, d, dashboard_free);

  allow_remote = orrery_plugin_context_get_boolean (context, "AllowRemote", FALSE, &local);
  if (local == NULL)
    get_bounded_uint (context, "MaxConnections", 64, 1, 1024, &d->max_connections, &local);
  if (local == NULL)
    get_bounded_uint (context, "IdleTimeoutSec", 10, 1, 3600, &d->idle_timeout_s, &local);
  if (local == NULL)
    get_bounded_uint (context, "RequestTimeoutSec", 30, 1, 3600, &d->request_timeout_s, &local);
  if (local == NULL)
    get_bounded_uint (context, "QueueLimit", 4096, 1, 1000000, &d->queue_limit, &local);
  if (local == NULL)
    get_bounded_uint (context, "SlowClientSec", 10, 1, 3600, &d->slow_client_s, &local);
  if (local == NULL)
    get_bounded_uint (context, "DotTimeoutSec", 10, 1, 3600, &d->dot_timeout_s, &local);
  if (local == NULL)
    get_bounded_uint (context, "MaxLayoutTasks", 500, 0, 100000, &d->max_layout_tasks, &local);
  if (local == NULL)
    get_bounded_uint (context, "LingerSec", 0, 0, 86400, &d->linger_s, &local);
  listen = orrery_plugin_context_get_string (context, "Listen", "127.0.0.1:0");
  if (local == NULL)
    parse_listen (listen != NULL && listen[0] != '\0' ? listen : "127.0.0.1:0",
                  &d->listen_host, &d->listen_addr, &d->port, &local);
  if (local == NULL && !g_inet_address_get_is_loopback (d->listen_addr) && !allow_remote)
    local = g_error_new (ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_BAD_CONFIG,
                         "Listen=%s is not a loopback address: set AllowRemote=true to serve the dashboard "
                         "to other machines (anyone who has the token can then pause or cancel the run)",
                         listen);
  if (local == NULL)
    {
      d->token = orrery_plugin_context_get_string (context, "Token", "");
      if (d->token == NULL || d->token[0] == '\0')
        {
          g_free (d->token);
          d->token = random_token ();
        }
      else if (strlen (d->token) < 16 || strspn (d->token, "0123456789abcdefABCDEF-_") != strlen (d->token))
        local = g_error_new (ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_BAD_CONFIG,
                             "Token must be at least 16 characters of [0-9A-Za-z-_] (hex is best), or empty for a random one");
    }
  if (local == NULL && (d->static_dir = find_static_dir (context)) == NULL)
    local = g_error_new (ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_BAD_CONFIG,
                         "No static directory with index.html (StaticDir, %s or %s)",
                         DASHBOARD_DATADIR, DASHBOARD_SOURCE_STATIC_DIR);
  if (local != NULL)
    {
      g_propagate_error (error, local);
      return FALSE;
    }
  d->dot_program = orrery_plugin_context_get_string (context, "DotProgram", "dot");
  if (d->dot_program == NULL || d->dot_program[0] == '\0')
    {
      g_free (d->dot_program);
      d->dot_program = g_strdup ("dot");
    }
  output_dir = orrery_plugin_context_get_string (context, "OutputDir", DEFAULT_OUTPUT_DIR);
  if (output_dir != NULL && output_dir[0] != '\0')
    d->run_dir = realpath (output_dir, NULL);

  d->bus = g_object_ref (orrery_plugin_context_get_bus (context));
  orch = orrery_plugin_context_get_orchestrator (context);
  d->orch = orch != NULL ? g_object_ref (orch) : NULL;

  if (!start_http (d, &local))
    {
      g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_INIT_FAILED,
                   "Cannot serve the dashboard on %s: %s", listen, local->message);
      g_error_free (local);
      return FALSE;
    }
  d->slow_check_id = g_timeout_add_seconds (1, on_slow_check, d);
  if (!g_inet_address_get_is_loopback (d->listen_addr))
    g_printerr ("dashboard: warning: listening on %s, not only this machine: anyone who can reach it "
                "and has the token can watch, pause and cancel the run (plain HTTP: the token "
                "crosses the network unencrypted)\n", d->listen_host);
  g_printerr ("dashboard: http://%s:%u/?token=%s\n",
              g_inet_address_get_is_any (d->listen_addr) ? "127.0.0.1" : d->listen_host,
              d->bound_port, d->token);

  observer = orrery_func_observer_new ("dashboard", dashboard_handle, d, NULL);
  orrery_plugin_context_add_observer (context, observer, NULL, 0, ORRERY_DELIVERY_SYNC, 0, 0);
  return TRUE;
}

static gboolean
on_flush_deadline (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* The last events to every client, then a close frame, and a bounded wait
 * (FLUSH_MS) for the clients to answer it: a browser sees the run's end
 * before the process exits; a client that does not read is not waited
 * for longer. */
#define FLUSH_MS 2000

static void
flush_clients (Dashboard *d)
{
  gboolean expired = FALSE;
  guint timeout_id;

  g_clear_handle_id (&d->pump_id, g_source_remove);
  pump (d);
  for (guint i = 0; i < d->clients->len; i++)
    {
      Client *cl = d->clients->pdata[i];

      if (soup_websocket_connection_get_state (cl->ws) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (cl->ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "the run has ended");
    }
  timeout_id = g_timeout_add (FLUSH_MS, on_flush_deadline, &expired);
  while (!expired)
    {
      gboolean open = FALSE;

      for (guint i = 0; i < d->clients->len && !open; i++)
        open = soup_websocket_connection_get_state (((Client *) d->clients->pdata[i])->ws) !=
               SOUP_WEBSOCKET_STATE_CLOSED;
      if (!open)
        break;
      g_main_context_iteration (NULL, TRUE);
    }
  if (!expired)
    g_source_remove (timeout_id);
}

static gboolean
on_linger_end (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_CONTINUE;
}

/* LingerSec: a short run (the demo takes seconds) is over before anyone
 * opens its URL. The page goes on being served, the run finished, for
 * LingerSec seconds or until SIGINT, SIGTERM or SIGHUP. */
static void
linger (Dashboard *d)
{
  const int signums[] = { SIGINT, SIGTERM, SIGHUP };
  GSource *sources[G_N_ELEMENTS (signums) + 1];
  gboolean done = FALSE;

  g_printerr ("dashboard: the run has ended; still serving http://%s:%u/?token=%s for %u s "
              "(Ctrl-C to stop)\n",
              g_inet_address_get_is_any (d->listen_addr) ? "127.0.0.1" : d->listen_host,
              d->bound_port, d->token, d->linger_s);
  for (gsize i = 0; i < G_N_ELEMENTS (signums); i++)
    sources[i] = g_unix_signal_source_new (signums[i]);
  sources[G_N_ELEMENTS (signums)] = g_timeout_source_new_seconds (d->linger_s);
  for (gsize i = 0; i < G_N_ELEMENTS (sources); i++)
    {
      g_source_set_callback (sources[i], on_linger_end, &done, NULL);
      g_source_attach (sources[i], NULL);
    }
  while (!done)
    g_main_context_iteration (NULL, TRUE);
  for (gsize i = 0; i < G_N_ELEMENTS (sources); i++)
    {
      g_source_destroy (sources[i]);
      g_source_unref (sources[i]);
    }
}

static void
dashboard_shutdown (OrreryPluginContext *context)
{
  Dashboard *d = orrery_plugin_context_get_data (context);

  if (d == NULL)
    return;
  if (d->linger_s > 0)
    linger (d);
  if (d->clients != NULL && d->clients->len > 0)
    flush_clients (d);
  stop_http (d);
  stop_layout (d);
}

static const OrreryPluginKey dashboard_keys[] = {
  { "Listen", ORRERY_PLUGIN_KEY_STRING, "127.0.0.1:0",
    "ADDRESS:PORT to serve on (port 0: an ephemeral one; the URL is printed on stderr)" },
  { "AllowRemote", ORRERY_PLUGIN_KEY_BOOLEAN, "false",
    "allow a Listen address that is not loopback (prints a warning)" },
  { "Token", ORRERY_PLUGIN_KEY_STRING, "",
    "the access token (at least 16 of [0-9A-Za-z-_]); empty: a random 128-bit one per run" },
  { "OutputDir", ORRERY_PLUGIN_KEY_STRING, DEFAULT_OUTPUT_DIR,
    "the run directory whose files (logs) are served under /run/ (the host sets it)" },
  { "StaticDir", ORRERY_PLUGIN_KEY_STRING, "",
    "directory of the page's files; empty: the installed ones, else the source tree's" },
  { "MaxConnections", ORRERY_PLUGIN_KEY_UINT, "64",
    "connections open at once (1-1024); one more is answered 503 and closed" },
  { "IdleTimeoutSec", ORRERY_PLUGIN_KEY_UINT, "10",
    "an HTTP connection on which nothing moves for this long is closed (1-3600)" },
  { "RequestTimeoutSec", ORRERY_PLUGIN_KEY_UINT, "30",
    "an HTTP connection is closed this long after it was accepted (1-3600; WebSockets excepted)" },
  { "QueueLimit", ORRERY_PLUGIN_KEY_UINT, "4096",
    "events sent to a WebSocket client and not yet acknowledged, at most (1-1000000)" },
  { "SlowClientSec", ORRERY_PLUGIN_KEY_UINT, "10",
    "a client whose queue stays full this long is dropped (it catches up on reconnect)" },
  { "DotProgram", ORRERY_PLUGIN_KEY_STRING, "dot",
    "Graphviz's dot, run to lay out the DAG" },
  { "DotTimeoutSec", ORRERY_PLUGIN_KEY_UINT, "10",
    "a layout that takes longer is stopped (1-3600)" },
  { "MaxLayoutTasks", ORRERY_PLUGIN_KEY_UINT, "500",
    "constellations with more tasks get no drawing, only the table (0-100000)" },
  { "LingerSec", ORRERY_PLUGIN_KEY_UINT, "0",
    "after the run has ended, go on serving the page this long, or until Ctrl-C (0-86400)" },
  { NULL }
};

ORRERY_PLUGIN_DEFINE ("dashboard", "1.0",
                      "A live web dashboard: the DAG, tasks, events and controls in a browser",
                      dashboard_init, dashboard_shutdown, dashboard_keys)
