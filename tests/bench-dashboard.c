/* bench-dashboard.c: what the dashboard costs a run, with browsers watching.
 *
 * A run of N independent simulated tasks of zero duration (default
 * 100000), in the same process: once without the dashboard, then with the
 * dashboard plugin loaded and 10 WebSocket clients connected from another
 * thread (libsoup's client, each acknowledging every 256 events as the
 * page does). One JSON object per line: both run times, their ratio, and
 * for each client how many events it got and at what rate (from the run's
 * start to its last event).
 *
 * Usage: bench-dashboard [N_TASKS [N_CLIENTS]]
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libsoup/soup.h>
#include <orrery.h>

#define TOKEN "0123456789abcdef0123456789abcdef"

typedef struct
{
  SoupWebsocketConnection *ws;
  guint64                  received;
  guint64                  last_seq;
  gint64                   last_us;
} BenchClient;

typedef struct
{
  guint          port;
  guint          n_clients;
  BenchClient   *clients;
  GMainContext  *context;
  GMainLoop     *loop;
  gint           connected;   /* atomic */
  gint           stop;        /* atomic */
} Clients;

static OrreryConstellation *
build (guint n)
{
  OrreryConstellation *c = orrery_constellation_new ("bench", "bench");
  char id[32];

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(OrreryTask) t = NULL;

      g_snprintf (id, sizeof id, "t%07u", i);
      t = orrery_task_new (id, NULL);
      g_assert_true (orrery_constellation_add_task (c, t, NULL));
    }
  return c;
}

static void
run_done (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  gboolean *done = user_data;

  if (!orrery_orchestrator_run_finish (ORRERY_ORCHESTRATOR (source), result, &error))
    g_error ("run failed: %s", error->message);
  *done = TRUE;
}

static void
on_message (SoupWebsocketConnection *ws,
            SoupWebsocketDataType    type,
            GBytes                  *message,
            gpointer                 user_data)
{
  BenchClient *cl = user_data;
  gsize len;
  const char *data = g_bytes_get_data (message, &len);

  if (len < 8 || strncmp (data, "{\"seq\":", 7) != 0)
    return;
  cl->received++;
  cl->last_seq = g_ascii_strtoull (data + 7, NULL, 10);
  cl->last_us = g_get_monotonic_time ();
  if (cl->received % 256 == 0)
    {
      char ack[48];

      g_snprintf (ack, sizeof ack, "{\"ack\":%" G_GUINT64_FORMAT "}", cl->last_seq);
      soup_websocket_connection_send_text (ws, ack);
    }
}

static void
on_connected (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  BenchClient *cl = user_data;
  g_autoptr(GError) error = NULL;
  Clients *all = g_object_get_data (source, "bench-clients");

  cl->ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
  if (cl->ws == NULL)
    g_error ("websocket: %s", error->message);
  soup_websocket_connection_set_max_incoming_payload_size (cl->ws, 0);
  g_signal_connect (cl->ws, "message", G_CALLBACK (on_message), cl);
  g_atomic_int_inc (&all->connected);
}

static gboolean
check_stop (gpointer user_data)
{
  Clients *all = user_data;

  if (g_atomic_int_get (&all->stop))
    g_main_loop_quit (all->loop);
  return G_SOURCE_CONTINUE;
}

static gpointer
clients_thread (gpointer user_data)
{
  Clients *all = user_data;
  g_autoptr(SoupSession) session = NULL;
  g_autofree char *url = g_strdup_printf ("ws://127.0.0.1:%u/events?since=0", all->port);
  g_autofree char *origin = g_strdup_printf ("http://127.0.0.1:%u", all->port);
  GSource *tick;

  g_main_context_push_thread_default (all->context);
  session = soup_session_new ();
  g_object_set_data (G_OBJECT (session), "bench-clients", all);
  for (guint i = 0; i < all->n_clients; i++)
    {
      SoupMessage *msg = soup_message_new ("GET", url);

      soup_message_headers_replace (soup_message_get_request_headers (msg), "X-Orrery-Token", TOKEN);
      soup_session_websocket_connect_async (session, msg, origin, NULL, G_PRIORITY_DEFAULT, NULL,
                                            on_connected, &all->clients[i]);
      g_object_unref (msg);
    }
  tick = g_timeout_source_new (20);
  g_source_set_callback (tick, check_stop, all, NULL);
  g_source_attach (tick, all->context);
  g_main_loop_run (all->loop);
  g_source_destroy (tick);
  g_source_unref (tick);
  for (guint i = 0; i < all->n_clients; i++)
    if (all->clients[i].ws != NULL)
      {
        soup_websocket_connection_close (all->clients[i].ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
        g_clear_object (&all->clients[i].ws);
      }
  g_main_context_pop_thread_default (all->context);
  return NULL;
}

static guint
free_port (void)
{
  g_autoptr(GSocket) s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;

  g_assert_true (g_socket_bind (s, addr, TRUE, NULL));
  bound = g_socket_get_local_address (s, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

/* One run; with N_CLIENTS > 0 the dashboard watched by that many clients.
 * Returns the run's wall time in µs. */
static gint64
one_run (guint     n,
         guint     n_clients,
         gboolean  dashboard)
{
  g_autoptr(OrreryEventBus) bus = orrery_event_bus_new ();
  g_autoptr(OrreryDeviceManager) devices = orrery_device_manager_new ();
  g_autoptr(OrrerySimulatedDevice) sim = orrery_simulated_device_new ("sim", NULL, 64);
  g_autoptr(OrreryOrchestrator) orch = NULL;
  g_autoptr(OrreryConstellation) c = build (n);
  g_autoptr(OrreryPluginEngine) engine = NULL;
  g_autoptr(OrreryConfig) config = NULL;
  g_autofree char *listen = NULL;
  g_autofree char *dir = NULL;
  Clients all = { 0 };
  GThread *thread = NULL;
  gboolean done = FALSE;
  gint64 t0, t1, t_all = 0;
  guint64 total;

  orrery_device_manager_add_device (devices, ORRERY_DEVICE (sim), NULL);
  orch = orrery_orchestrator_new (bus, devices);
  if (dashboard)
    {
      all.port = free_port ();
      listen = g_strdup_printf ("127.0.0.1:%u", all.port);
      config = orrery_config_new ();
      orrery_config_set_override (config, "Host", "AutoEnable", "false");
      orrery_config_set_override (config, "Plugin dashboard", "Enabled", "true");
      orrery_config_set_override (config, "Plugin dashboard", "Listen", listen);
      orrery_config_set_override (config, "Plugin dashboard", "Token", TOKEN);
      orrery_config_set_override (config, "Plugin dashboard", "OutputDir", "");
      /* The clients here keep up as fast as they can: none is dropped. */
      orrery_config_set_override (config, "Plugin dashboard", "SlowClientSec", "3600");
      engine = orrery_plugin_engine_new (bus, config);
      orrery_plugin_engine_set_use_default_path (engine, FALSE);
      dir = g_build_filename (g_getenv ("ORRERY_BUILD_ROOT") ? g_getenv ("ORRERY_BUILD_ROOT") : ".",
                              "plugins", "dashboard", NULL);
      orrery_plugin_engine_add_search_path (engine, dir);
      orrery_plugin_engine_set_orchestrator (engine, orch);
      if (orrery_plugin_engine_load_all (engine) != 1)
        g_error ("the dashboard plugin did not load from %s", dir);

      all.n_clients = n_clients;
      all.clients = g_new0 (BenchClient, n_clients);
      all.context = g_main_context_new ();
      all.loop = g_main_loop_new (all.context, FALSE);
      thread = g_thread_new ("bench-clients", clients_thread, &all);
      while ((guint) g_atomic_int_get (&all.connected) < n_clients)
        g_main_context_iteration (NULL, TRUE);
    }

  t0 = g_get_monotonic_time ();
  orrery_orchestrator_run_async (orch, c, NULL, run_done, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
  t1 = g_get_monotonic_time ();

  if (dashboard)
    {
      /* The events still queued reach the clients. */
      total = orrery_event_bus_get_published_count (bus);
      for (;;)
        {
          gboolean all_in = TRUE;

          for (guint i = 0; i < n_clients; i++)
            if (all.clients[i].received < total - 1)   /* less the one before the start */
              all_in = FALSE;
          if (all_in || g_get_monotonic_time () - t1 > 120 * G_USEC_PER_SEC)
            break;
          g_main_context_iteration (NULL, FALSE);
        }
      t_all = g_get_monotonic_time ();
      g_atomic_int_set (&all.stop, 1);
      g_thread_join (thread);
      for (guint i = 0; i < n_clients; i++)
        {
          BenchClient *cl = &all.clients[i];
          gdouble secs = (cl->last_us - t0) / (gdouble) G_USEC_PER_SEC;

          g_print ("{\"benchmark\": \"dashboard-client\", \"tasks\": %u, \"client\": %u, \"events\": %" G_GUINT64_FORMAT
                   ", \"last_seq\": %" G_GUINT64_FORMAT ", \"events_per_s\": %.0f}\n",
                   n, i, cl->received, cl->last_seq, secs > 0 ? cl->received / secs : 0);
        }
      g_print ("{\"benchmark\": \"dashboard-delivery\", \"tasks\": %u, \"clients\": %u, \"events\": %" G_GUINT64_FORMAT
               ", \"run_ms\": %.1f, \"all_delivered_ms\": %.1f, \"complete\": %s}\n", n, n_clients, total - 1,
               (t1 - t0) / 1000.0, (t_all - t0) / 1000.0, t_all - t1 > 120 * G_USEC_PER_SEC ? "false" : "true");
      orrery_plugin_engine_shutdown (engine);
      g_main_loop_unref (all.loop);
      g_main_context_unref (all.context);
      g_free (all.clients);
    }
  return t1 - t0;
}

int
main (int    argc,
      char **argv)
{
  guint n = argc > 1 ? (guint) atoi (argv[1]) : 100000;
  guint n_clients = argc > 2 ? (guint) atoi (argv[2]) : 10;
  gint64 plain, watched;

  one_run (1000, 0, FALSE);  /* warm-up */
  plain = one_run (n, 0, FALSE);
  watched = one_run (n, n_clients, TRUE);
  g_print ("{\"benchmark\": \"dashboard\", \"tasks\": %u, \"clients\": %u, \"without_ms\": %.1f, "
           "\"with_ms\": %.1f, \"ratio\": %.3f}\n", n, n_clients, plain / 1000.0, watched / 1000.0,
           (gdouble) watched / plain);
  return 0;
}
