/* test-plugin-metrics.c: the metrics plugin, loaded through the engine
 * from the build tree, on a run whose events are known: a small DAG on a
 * simulated device with one failure (and the task it makes skip), one retry
 * and a failing observer. Checks the JSON numbers, `promtool check metrics`
 * on the Prometheus file (promtool is required: CI installs it), and the
 * HTTP /metrics endpoint with a real loopback request.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <string.h>
#include <json-glib/json-glib.h>
#include <orrery.h>

#include "plugin-harness.h"

typedef struct
{
  PluginHarness  h;
} Fixture;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  plugin_harness_init (&f->h, "metrics", 4);
  orrery_orchestrator_set_retry_policy (f->h.orch, 10, 1.0, 10);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  plugin_harness_assert_unsubscribed (&f->h);
  plugin_harness_clear (&f->h);
}

static gboolean
failing_observer (OrreryEvent  *event,
                  gpointer      user_data,
                  GError      **error)
{
  if (orrery_event_get_event_type (event) != ORRERY_EVENT_TASK_COMPLETED)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "flaky observer");
  return FALSE;
}

static gint64
member_int (JsonObject *o,
            const char *path)
{
  g_auto(GStrv) parts = g_strsplit (path, ".", -1);
  guint n = g_strv_length (parts);

  for (guint i = 0; i + 1 < n; i++)
    {
      g_assert_true (json_object_has_member (o, parts[i]));
      o = json_object_get_object_member (o, parts[i]);
    }
  g_assert_true (json_object_has_member (o, parts[n - 1]));
  return json_object_get_int_member (o, parts[n - 1]);
}

static gdouble
member_double (JsonObject *o,
               const char *path)
{
  g_auto(GStrv) parts = g_strsplit (path, ".", -1);
  guint n = g_strv_length (parts);

  for (guint i = 0; i + 1 < n; i++)
    o = json_object_get_object_member (o, parts[i]);
  g_assert_true (json_object_has_member (o, parts[n - 1]));
  return json_object_get_double_member (o, parts[n - 1]);
}

static void
promtool_check (const char *file)
{
  g_autofree char *promtool = g_find_program_in_path ("promtool");
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  /* Not a skip: CI installs the Debian package `prometheus`. */
  if (promtool == NULL)
    g_error ("promtool is not on PATH: install the Debian package `prometheus` (.ci/deps)");
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_set_stdin_file_path (launcher, file);
  proc = g_subprocess_launcher_spawn (launcher, &error, promtool, "check", "metrics", NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (proc, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  if (g_subprocess_get_exit_status (proc) != 0 || (out && *out) || (err && *err))
    g_error ("promtool check metrics %s: %s%s", file, out ? out : "", err ? err : "");
}

static void
test_json_and_prometheus (Fixture       *f,
                          gconstpointer  data)
{
  g_autofree char *out_dir = plugin_harness_path (&f->h, "out");
  g_autofree char *json_file = plugin_harness_path (&f->h, "out/metrics.json");
  g_autofree char *prom_file = plugin_harness_path (&f->h, "out/metrics.prom");
  g_autofree char *prom = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryObserver) flaky = orrery_func_observer_new ("flaky", failing_observer, NULL, NULL);
  JsonObject *root, *sim;
  JsonArray *observers;
  gboolean seen_metrics = FALSE, seen_flaky = FALSE;

  for (guint i = 0; i < 3; i++)
    g_test_expect_message ("Orrery-Bus", G_LOG_LEVEL_WARNING, "*Observer*flaky*failed on event*task-completed*");
  plugin_harness_set (&f->h, "OutputDir", out_dir);
  plugin_harness_set (&f->h, "Summary", "false");
  /* As `orrery run` names the run for its plugins. */
  orrery_config_set_override (f->h.config, "Host", "RunId", "small-20260101T000000Z-abcdef");
  plugin_harness_load (&f->h);
  /* Isolated (ORRERY_TEST_ISOLATED=1), the plugin's bus is the helper's
   * own: the host's timing and observer counts are not in its view. */
  if (!f->h.isolated)
    g_assert_true (orrery_event_bus_get_timing (f->h.bus));
  f->h.probe_id = orrery_event_bus_subscribe (f->h.bus, flaky, NULL, 0);
  plugin_harness_run_json (&f->h, plugin_harness_small_dag);
  g_test_assert_expected_messages ();
  g_assert_false (f->h.ok);

  /* JSON: the numbers of the known run. */
  json_parser_load_from_file (parser, json_file, &error);
  g_assert_no_error (error);
  root = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (root, "constellation_id"), ==, "small");
  g_assert_cmpstr (json_object_get_string_member (root, "state"), ==, "failed");
  g_assert_true (json_object_get_boolean_member (root, "finished"));
  g_assert_cmpint (member_int (root, "events.total"), ==, 13);
  g_assert_cmpint (member_int (root, "events.by_type.constellation-started"), ==, 1);
  g_assert_cmpint (member_int (root, "events.by_type.task-started"), ==, 5);
  g_assert_cmpint (member_int (root, "events.by_type.task-completed"), ==, 3);
  g_assert_cmpint (member_int (root, "events.by_type.task-failed"), ==, 1);
  g_assert_cmpint (member_int (root, "events.by_type.task-retrying"), ==, 1);
  g_assert_cmpint (member_int (root, "events.by_type.task-skipped"), ==, 1);
  g_assert_cmpint (member_int (root, "events.by_type.constellation-failed"), ==, 1);
  g_assert_false (json_object_has_member (json_object_get_object_member (
                    json_object_get_object_member (root, "events"), "by_type"), "task-cancelled"));
  g_assert_cmpfloat (member_double (root, "events.per_second"), >, 0);
  g_assert_cmpint (member_int (root, "tasks.total"), ==, 5);
  g_assert_cmpint (member_int (root, "tasks.completed"), ==, 3);
  g_assert_cmpint (member_int (root, "tasks.failed"), ==, 1);
  g_assert_cmpint (member_int (root, "tasks.skipped"), ==, 1);
  g_assert_cmpint (member_int (root, "tasks.attempts"), ==, 5);
  g_assert_cmpint (member_int (root, "tasks.retries"), ==, 1);

  /* Durations, one per attempt: the device was told a 30, b 80 twice,
   * c 10, d 10 ms. A loaded machine (valgrind, sanitizers) only makes them
   * longer: each is at least what the device was told (minus a timer's
   * millisecond of rounding), and the quantiles keep their order. No upper
   * bound: that would be a wall-clock assertion. */
  g_assert_cmpint (member_int (root, "task_duration_seconds.count"), ==, 5);
  g_assert_cmpfloat (member_double (root, "task_duration_seconds.min"), >=, 0.009);
  g_assert_cmpfloat (member_double (root, "task_duration_seconds.median"), >=, 0.029);
  g_assert_cmpfloat (member_double (root, "task_duration_seconds.max"), >=, 0.079);
  g_assert_cmpfloat (member_double (root, "task_duration_seconds.sum"), >=, 0.205);
  g_assert_cmpfloat (member_double (root, "task_duration_seconds.min"), <=,
                     member_double (root, "task_duration_seconds.median"));
  g_assert_cmpfloat (member_double (root, "task_duration_seconds.median"), <=,
                     member_double (root, "task_duration_seconds.p95"));
  g_assert_cmpfloat (member_double (root, "task_duration_seconds.p95"), <=,
                     member_double (root, "task_duration_seconds.max"));
  /* Queue wait: one per start; the waits fit in the run. */
  g_assert_cmpint (member_int (root, "queue_wait_seconds.count"), ==, 5);
  g_assert_cmpfloat (member_double (root, "queue_wait_seconds.min"), >=, 0);
  g_assert_cmpfloat (member_double (root, "queue_wait_seconds.min"), <=,
                     member_double (root, "queue_wait_seconds.max"));
  g_assert_cmpfloat (member_double (root, "queue_wait_seconds.max"), <=,
                     member_double (root, "run.makespan_seconds"));

  /* Makespan at least a + b twice + the 10 ms backoff + d, and at least
   * the critical path a, b, b, d; the critical path at least a + b + d as
   * the device was told, and at most the longest chain of measured
   * durations. */
  g_assert_cmpfloat (member_double (root, "run.makespan_seconds"), >=, 0.2);
  g_assert_cmpfloat (member_double (root, "run.critical_path_seconds"), >=, 0.115);
  g_assert_cmpfloat (member_double (root, "run.critical_path_seconds"), <=,
                     member_double (root, "run.makespan_seconds"));
  g_assert_cmpfloat (member_double (root, "run.critical_path_seconds"), <=,
                     member_double (root, "task_duration_seconds.sum"));
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (root, "run"),
                                                  "critical_path_source"), ==, "ran-tasks");

  /* The device: 5 attempts, 2 at once at most, busy less than all the time. */
  sim = json_object_get_object_member (json_object_get_object_member (root, "devices"), "sim");
  g_assert_nonnull (sim);
  g_assert_cmpint (json_object_get_int_member (sim, "started"), ==, 5);
  g_assert_cmpint (json_object_get_int_member (sim, "completed"), ==, 3);
  g_assert_cmpint (json_object_get_int_member (sim, "failed"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (sim, "retried"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (sim, "slots"), ==, 2);
  g_assert_cmpfloat (json_object_get_double_member (sim, "busy_seconds"), >=, 0.2);
  /* Busy time is the attempts' durations, summed: the same cause. */
  g_assert_cmpfloat (fabs (json_object_get_double_member (sim, "busy_seconds") -
                           member_double (root, "task_duration_seconds.sum")), <, 1e-5);
  g_assert_cmpfloat (json_object_get_double_member (sim, "utilization"), >, 0);
  g_assert_cmpfloat (json_object_get_double_member (sim, "utilization"), <=, 1);

  /* Observers as the bus counts them, and the failure it reported. */
  observers = json_object_get_array_member (root, "observers");
  if (f->h.isolated)
    goto prometheus;
  for (guint i = 0; i < json_array_get_length (observers); i++)
    {
      JsonObject *o = json_array_get_object_element (observers, i);
      const char *name = json_object_get_string_member (o, "name");

      if (g_strcmp0 (name, "metrics") == 0)
        {
          seen_metrics = TRUE;
          g_assert_cmpint (json_object_get_int_member (o, "delivered"), ==, 12);
          g_assert_cmpfloat (json_object_get_double_member (o, "handling_seconds"), >, 0);
        }
      else if (g_strcmp0 (name, "flaky") == 0)
        {
          seen_flaky = TRUE;
          g_assert_cmpint (json_object_get_int_member (o, "failed"), ==, 3);
          g_assert_cmpstr (json_object_get_string_member (o, "last_error"), ==,
                           "flaky observer on task-completed");
        }
    }
  g_assert_true (seen_metrics);
  g_assert_true (seen_flaky);
  g_assert_cmpint (member_int (root, "bus.failures"), ==, 3);

  /* Prometheus: promtool accepts it; the values and labels are right. */
prometheus:
  promtool_check (prom_file);
  g_assert_true (g_file_get_contents (prom_file, &prom, NULL, NULL));
  g_assert_nonnull (strstr (prom, "# TYPE orrery_events_total counter\n"));
  g_assert_nonnull (strstr (prom, "\norrery_events_total{event_type=\"task-retrying\"} 1\n"));
  g_assert_nonnull (strstr (prom, "\norrery_events_total{event_type=\"task-started\"} 5\n"));
  g_assert_nonnull (strstr (prom, "\norrery_tasks_total{status=\"failed\"} 1\n"));
  g_assert_nonnull (strstr (prom, "\norrery_task_retries_total 1\n"));
  /* Histograms (they aggregate across runs, summaries do not), with the
   * run's constellation and id as labels, as every run-level series. */
#define RUN_LABELS "constellation=\"small\",run_id=\"small-20260101T000000Z-abcdef\""
  g_assert_nonnull (strstr (prom, "# TYPE orrery_task_duration_seconds histogram\n"));
  g_assert_null (strstr (prom, " summary\n"));
  g_assert_null (strstr (prom, "quantile="));
  g_assert_nonnull (strstr (prom, "\norrery_task_duration_seconds_count{" RUN_LABELS "} 5\n"));
  g_assert_nonnull (strstr (prom, "\norrery_task_duration_seconds_bucket{" RUN_LABELS ",le=\"+Inf\"} 5\n"));
  /* Every attempt took at least 9 ms: none in the 5 ms bucket, and the
   * buckets only grow. */
  g_assert_nonnull (strstr (prom, "\norrery_task_duration_seconds_bucket{" RUN_LABELS ",le=\"0.005\"} 0\n"));
  {
    g_autoptr(GRegex) bucket = g_regex_new ("^orrery_task_duration_seconds_bucket\\{[^}]*\\} (\\d+)$",
                                            G_REGEX_MULTILINE, 0, NULL);
    g_autoptr(GMatchInfo) match = NULL;
    guint64 previous = 0, n_buckets = 0;

    g_regex_match (bucket, prom, 0, &match);
    for (; g_match_info_matches (match); g_match_info_next (match, NULL))
      {
        g_autofree char *value = g_match_info_fetch (match, 1);
        guint64 v = g_ascii_strtoull (value, NULL, 10);

        g_assert_cmpuint (v, >=, previous);
        previous = v;
        n_buckets++;
      }
    g_assert_cmpuint (n_buckets, >, 10);
    g_assert_cmpuint (previous, ==, 5);
  }
  g_assert_nonnull (strstr (prom, "# TYPE orrery_task_queue_wait_seconds histogram\n"));
  g_assert_nonnull (strstr (prom, "\norrery_run_tasks{" RUN_LABELS "} 5\n"));
  g_assert_nonnull (strstr (prom, "\norrery_run_finished{" RUN_LABELS "} 1\n"));
  g_assert_nonnull (strstr (prom, "\norrery_run_makespan_seconds{" RUN_LABELS "} "));
  /* Counters, no gauge of a rate: Prometheus computes rates. */
  g_assert_null (strstr (prom, "orrery_event_rate"));
  g_assert_null (strstr (prom, "_rate "));
  /* The build. */
  g_assert_nonnull (strstr (prom, "# TYPE orrery_build_info gauge\n"));
  g_assert_nonnull (strstr (prom, "\norrery_build_info{version=\"" ORRERY_VERSION_S "\",sdk_version=\""));
  {
    g_autofree char *abi = g_strdup_printf ("\",plugin_abi=\"%d.%d\"} 1\n", ORRERY_PLUGIN_ABI_MAJOR,
                                            ORRERY_PLUGIN_ABI_MINOR);

    g_assert_nonnull (strstr (prom, abi));
  }
  g_assert_nonnull (strstr (prom, "\norrery_device_slots{device=\"sim\"} 2\n"));
  if (!f->h.isolated)
    g_assert_nonnull (strstr (prom, "\norrery_observer_failures_total{observer=\"flaky\",reason=\"failed\"} 3\n"));
  /* Low cardinality: no task id is a label. */
  g_assert_null (strstr (prom, "task=\""));
  g_assert_null (strstr (prom, "task_id"));
  g_assert_null (strstr (prom, "\"b\""));

  orrery_plugin_engine_shutdown (f->h.engine);
  g_assert_false (orrery_event_bus_get_timing (f->h.bus));
}

typedef struct
{
  guint16   port;
  char     *request;
  char     *response;
  gboolean  done;
} HttpGet;

static gpointer
http_get_thread (gpointer data)
{
  HttpGet *g = data;
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) conn = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GByteArray) bytes = g_byte_array_new ();
  guint8 buf[4096];
  gssize n;

  conn = g_socket_client_connect_to_host (client, "127.0.0.1", g->port, NULL, &error);
  g_assert_no_error (error);
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (conn)), g->request,
                             strlen (g->request), NULL, NULL, &error);
  g_assert_no_error (error);
  while ((n = g_input_stream_read (g_io_stream_get_input_stream (G_IO_STREAM (conn)), buf, sizeof buf,
                                   NULL, &error)) > 0)
    g_byte_array_append (bytes, buf, n);
  g_assert_no_error (error);
  g_byte_array_append (bytes, (const guint8 *) "", 1);
  g->response = g_strdup ((const char *) bytes->data);
  g_atomic_int_set (&g->done, TRUE);
  g_main_context_wakeup (NULL);
  return NULL;
}

/* A real request on loopback, from another thread while this one runs
 * the main loop the server answers on. */
static char *
http_get (guint16     port,
          const char *request)
{
  HttpGet g = { port, (char *) request, NULL, FALSE };
  GThread *thread = g_thread_new ("http-get", http_get_thread, &g);

  while (!g_atomic_int_get (&g.done))
    g_main_context_iteration (NULL, TRUE);
  g_thread_join (thread);
  return g.response;
}

/* The status line of an answer: HTTP/1.0 or 1.1, as the request was. */
static void
assert_status (const char *answer,
               const char *status)
{
  g_assert_nonnull (answer);
  if (!(g_str_has_prefix (answer, "HTTP/1.1 ") || g_str_has_prefix (answer, "HTTP/1.0 ")) ||
      !g_str_has_prefix (answer + 9, status) || strncmp (answer + 9 + strlen (status), "\r\n", 2) != 0)
    g_error ("expected “%s”, got: %.200s", status, answer);
}

static guint16
free_port (void)
{
  g_autoptr(GSocket) s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;
  guint16 port;

  g_socket_bind (s, any, TRUE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (s, &error);
  g_assert_no_error (error);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_socket_close (s, NULL);
  return port;
}

static void
test_http (Fixture       *f,
           gconstpointer  data)
{
  g_autofree char *out_dir = plugin_harness_path (&f->h, "out");
  g_autofree char *prom_file = plugin_harness_path (&f->h, "http.prom");
  g_autofree char *port_text = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *missing = NULL;
  g_autofree char *post = NULL;
  g_autofree char *host = NULL;
  g_autofree char *get = NULL;
  const char *body;
  guint16 port = free_port ();

  port_text = g_strdup_printf ("%u", port);
  plugin_harness_set (&f->h, "OutputDir", out_dir);
  plugin_harness_set (&f->h, "Summary", "false");
  plugin_harness_set (&f->h, "HttpPort", port_text);
  plugin_harness_load (&f->h);

  host = g_strdup_printf ("Host: 127.0.0.1:%u\r\n", port);
  get = g_strdup_printf ("GET /metrics HTTP/1.1\r\nHost: localhost:%u\r\n\r\n", port);
  before = http_get (port, get);
  assert_status (before, "200 OK");
  g_assert_nonnull (strstr (before, "Content-Type: text/plain; version=0.0.4"));
  g_assert_nonnull (strstr (before, "\norrery_run_finished{constellation=\"\",run_id=\"\"} 0\n"));

  plugin_harness_run_json (&f->h, plugin_harness_small_dag);
  g_free (get);
  get = g_strdup_printf ("GET /metrics HTTP/1.0\r\n%s\r\n", host);
  after = http_get (port, get);
  assert_status (after, "200 OK");
  body = strstr (after, "\r\n\r\n");
  g_assert_nonnull (body);
  g_assert_nonnull (strstr (body, "\norrery_run_finished{constellation=\"small\",run_id=\"\"} 1\n"));
  g_assert_nonnull (strstr (body, "\norrery_events_total{event_type=\"task-retrying\"} 1\n"));
  /* What it serves passes promtool too. */
  g_assert_true (g_file_set_contents (prom_file, body + 4, -1, NULL));
  promtool_check (prom_file);

  g_free (get);
  get = g_strdup_printf ("GET /other HTTP/1.0\r\n%s\r\n", host);
  missing = http_get (port, get);
  assert_status (missing, "404 Not Found");
  g_free (get);
  get = g_strdup_printf ("POST /metrics HTTP/1.0\r\n%sContent-Length: 0\r\n\r\n", host);
  post = http_get (port, get);
  assert_status (post, "405 Method Not Allowed");

  /* After shutdown the port is closed. */
  orrery_plugin_engine_shutdown (f->h.engine);
  {
    g_autoptr(GSocketClient) client = g_socket_client_new ();
    g_autoptr(GSocketConnection) conn = NULL;
    g_autoptr(GError) error = NULL;

    conn = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, &error);
    g_assert_null (conn);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  }
}

static char *
http_get_host (guint16     port,
               const char *host_line)
{
  g_autofree char *request = g_strdup_printf ("GET /metrics HTTP/1.1\r\n%s\r\n", host_line);

  return http_get (port, request);
}

/* DNS rebinding: a page of evil.example whose name now resolves to
 * 127.0.0.1 sends `Host: evil.example:PORT`. Only the listen address and
 * the loopback names with the port are answered. */
static void
test_http_host_check (Fixture       *f,
                      gconstpointer  data)
{
  guint16 port = free_port ();
  g_autofree char *port_text = g_strdup_printf ("%u", port);
  struct { const char *host; gboolean ok; } cases[] = {
    { "Host: 127.0.0.1:PORT\r\n", TRUE },
    { "Host: localhost:PORT\r\n", TRUE },
    { "Host: LocalHost:PORT\r\n", TRUE },
    { "Host: [::1]:PORT\r\n", TRUE },
    { "Host: evil.example:PORT\r\n", FALSE },
    { "Host: 127.0.0.1.evil.example:PORT\r\n", FALSE },
    { "Host: localhost:OTHER\r\n", FALSE },  /* another port */
    { "Host: localhost\r\n", FALSE },          /* port 80 implied: not ours */
    { "Host: 10.0.0.1:PORT\r\n", FALSE },
  };

  plugin_harness_set (&f->h, "Summary", "false");
  plugin_harness_set (&f->h, "JsonFile", "");
  plugin_harness_set (&f->h, "PrometheusFile", "");
  plugin_harness_set (&f->h, "HttpPort", port_text);
  plugin_harness_load (&f->h);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *other = g_strdup_printf ("%u", port == 65535 ? port - 1 : port + 1);
      g_auto(GStrv) parts = g_strsplit (cases[i].host, "PORT", -1);
      g_autofree char *with_port = g_strjoinv (port_text, parts);
      g_auto(GStrv) parts2 = g_strsplit (with_port, "OTHER", -1);
      g_autofree char *line = g_strjoinv (other, parts2);
      g_autofree char *answer = http_get_host (port, line);

      g_test_message ("%s", line);

      if (cases[i].ok)
        assert_status (answer, "200 OK");
      else
        {
          assert_status (answer, "421 Misdirected Request");
          g_assert_null (strstr (answer, "orrery_events_total"));
        }
    }
  /* No Host at all (HTTP/1.0): refused too. */
  {
    g_autofree char *answer = http_get (port, "GET /metrics HTTP/1.0\r\n\r\n");

    assert_status (answer, "421 Misdirected Request");
  }
  plugin_harness_shutdown (&f->h);
}

static GSocket *
connect_idle (guint16 port)
{
  g_autoptr(GSocket) s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new (lo, port);
  g_autoptr(GError) error = NULL;

  g_socket_connect (s, addr, NULL, &error);
  g_assert_no_error (error);
  return g_steal_pointer (&s);
}

typedef struct
{
  GSocket  *socket;
  char      buf[512];
  gint      n;        /* -1 while waiting */
} Reader;

static gpointer
read_thread (gpointer data)
{
  Reader *r = data;
  gsize len = 0;
  gssize n;

  /* Until the server closes: what it said, if anything. A server that
   * never closes is given 30 s, then recorded as such. */
  g_socket_set_timeout (r->socket, 30);
  while ((n = g_socket_receive (r->socket, r->buf + len, sizeof r->buf - 1 - len, NULL, NULL)) > 0)
    len += n;
  if (n < 0)
    len = g_strlcpy (r->buf, "(not closed by the server)", sizeof r->buf);
  r->buf[len] = '\0';
  g_atomic_int_set (&r->n, (gint) len);
  g_main_context_wakeup (NULL);
  return NULL;
}

/* A connection beyond MaxConnections is answered 503 and closed at once;
 * idle ones are closed after IdleTimeoutSec and their slots are free
 * again. */
static void
test_http_connection_cap (Fixture       *f,
                          gconstpointer  data)
{
  guint16 port = free_port ();
  g_autofree char *port_text = g_strdup_printf ("%u", port);
  g_autofree char *get = g_strdup_printf ("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n\r\n", port);
  GSocket *idle[4];
  Reader extra = { NULL, "", -1 };
  Reader first = { NULL, "", -1 };
  GThread *t1, *t2;
  g_autofree char *answer = NULL;

  plugin_harness_set (&f->h, "Summary", "false");
  plugin_harness_set (&f->h, "JsonFile", "");
  plugin_harness_set (&f->h, "PrometheusFile", "");
  plugin_harness_set (&f->h, "HttpPort", port_text);
  plugin_harness_set (&f->h, "MaxConnections", "4");
  plugin_harness_set (&f->h, "IdleTimeoutSec", "1");
  plugin_harness_set (&f->h, "RequestTimeoutSec", "3600");   /* only the idle timeout closes */
  plugin_harness_load (&f->h);

  for (guint i = 0; i < G_N_ELEMENTS (idle); i++)
    idle[i] = connect_idle (port);
  /* Let the server accept the four before the fifth comes. */
  for (guint i = 0; i < 20; i++)
    g_main_context_iteration (NULL, FALSE);
  extra.socket = connect_idle (port);
  first.socket = idle[0];
  t1 = g_thread_new ("extra", read_thread, &extra);
  t2 = g_thread_new ("first", read_thread, &first);
  /* The fifth: refused with a 503, before any idle one times out. */
  while (g_atomic_int_get (&extra.n) < 0)
    g_main_context_iteration (NULL, TRUE);
  assert_status (extra.buf, "503 Service Unavailable");
  g_assert_cmpint (g_atomic_int_get (&first.n), <, 0);
  /* An idle one: closed by the server, having said nothing. */
  while (g_atomic_int_get (&first.n) < 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpstr (first.buf, ==, "");
  g_thread_join (t1);
  g_thread_join (t2);
  /* Their slots are free again: a real request is answered. */
  answer = http_get (port, get);
  assert_status (answer, "200 OK");

  for (guint i = 0; i < G_N_ELEMENTS (idle); i++)
    g_object_unref (idle[i]);
  g_object_unref (extra.socket);
  plugin_harness_shutdown (&f->h);
}

static gboolean
send_one_byte (gpointer data)
{
  /* A slow client: one byte of a request that never ends. */
  g_socket_send (data, "X", 1, NULL, NULL);
  return G_SOURCE_CONTINUE;
}

/* A client that trickles a byte more often than the idle timeout is shut
 * out at the request deadline all the same. */
static void
test_http_request_deadline (Fixture       *f,
                            gconstpointer  data)
{
  guint16 port = free_port ();
  g_autofree char *port_text = g_strdup_printf ("%u", port);
  Reader slow = { NULL, "", -1 };
  GThread *t;
  guint trickle;
  const char *start = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";

  plugin_harness_set (&f->h, "Summary", "false");
  plugin_harness_set (&f->h, "JsonFile", "");
  plugin_harness_set (&f->h, "PrometheusFile", "");
  plugin_harness_set (&f->h, "HttpPort", port_text);
  plugin_harness_set (&f->h, "IdleTimeoutSec", "2");
  plugin_harness_set (&f->h, "RequestTimeoutSec", "1");
  plugin_harness_load (&f->h);

  slow.socket = connect_idle (port);
  g_socket_send (slow.socket, start, strlen (start), NULL, NULL);
  trickle = g_timeout_add (200, send_one_byte, slow.socket);
  t = g_thread_new ("slow", read_thread, &slow);
  while (g_atomic_int_get (&slow.n) < 0)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (trickle);
  g_thread_join (t);
  /* Closed without an answer (the request never ended). */
  g_assert_cmpstr (slow.buf, ==, "");
  g_object_unref (slow.socket);
  plugin_harness_shutdown (&f->h);
}

static void
test_bad_port (Fixture       *f,
               gconstpointer  data)
{
  OrreryPluginInfo *info;

  plugin_harness_set (&f->h, "HttpPort", "70000");
  info = plugin_harness_load_info (&f->h, FALSE);
  g_assert_cmpint (orrery_plugin_info_get_state (info), ==, ORRERY_PLUGIN_STATE_FAILED);
  g_assert_nonnull (strstr (orrery_plugin_info_get_error (info)->message, "HttpPort"));
}

/* A device id and a constellation id holding escape sequences, a CR, a
 * quote, a backslash and a newline: the summary shows them escaped (run in
 * a subprocess to see its standard output), the Prometheus file escapes
 * the label value as the format says, and promtool accepts it. */
#define EVIL_DEVICE "ev\"il\\dev\nNEXT\r\033]52;c;aGk=\007"

static void
test_hostile_text (Fixture       *f,
                   gconstpointer  data)
{
  g_autofree char *out_dir = plugin_harness_path (&f->h, "out");
  g_autofree char *prom_file = plugin_harness_path (&f->h, "out/metrics.prom");
  g_autofree char *prom = NULL;
  g_autoptr(OrrerySimulatedDevice) evil = orrery_simulated_device_new (EVIL_DEVICE, NULL, 4);
  const char *json =
    "{\"constellation_id\": \"c\\u001b]52;c;aGk=\\u0007\\r\\nFORGED\\u009b\", \"tasks\": {"
    " \"a\": {\"task_id\": \"a\", \"task_data\": {\"duration_ms\": 1}}}}";

  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      g_test_trap_assert_stdout ("*Metrics: c\\e]52;c;aGk=\\x07\\r\\nFORGED\\u{009b} (completed)*");
      g_test_trap_assert_stdout ("*\n  ev\"il\\\\dev\\nNEXT\\r\\e]52;c;aGk=\\x07 *");
      g_test_trap_assert_stdout_unmatched ("*\033*");
      g_test_trap_assert_stdout_unmatched ("*\r*");
      g_test_trap_assert_stdout_unmatched ("*\007*");
      g_test_trap_assert_stdout_unmatched ("*\302\233*");
      g_test_trap_assert_stdout_unmatched ("*\nFORGED*");
      g_test_trap_assert_stdout_unmatched ("*\nNEXT*");
      return;
    }

  g_assert_true (orrery_device_manager_remove_device (f->h.devices, "sim"));
  g_assert_true (orrery_device_manager_add_device (f->h.devices, ORRERY_DEVICE (evil), NULL));
  plugin_harness_set (&f->h, "OutputDir", out_dir);
  plugin_harness_set (&f->h, "Summary", "true");
  plugin_harness_load (&f->h);
  plugin_harness_run_json (&f->h, json);
  g_assert_true (f->h.ok);
  orrery_plugin_engine_shutdown (f->h.engine);

  promtool_check (prom_file);
  g_assert_true (g_file_get_contents (prom_file, &prom, NULL, NULL));
  g_assert_nonnull (strstr (prom, "\norrery_device_slots{device=\"ev\\\"il\\\\dev\\nNEXT\r\033]52;c;aGk=\007\"} 1\n"));
}

/* A cancel cancels the tasks that never started with no event each (the
 * run's last event counts them): tasks.cancelled and the Prometheus
 * outcome count them all the same. */
static void
cancel_on_first_completion (OrreryEventBus *bus,
                            OrreryEvent    *event,
                            Fixture        *f)
{
  orrery_orchestrator_cancel (f->h.orch, "enough");
}

static void
test_cancelled_in_bulk (Fixture       *f,
                        gconstpointer  data)
{
  g_autofree char *out_dir = plugin_harness_path (&f->h, "out");
  g_autofree char *json_file = plugin_harness_path (&f->h, "out/metrics.json");
  g_autofree char *prom_file = plugin_harness_path (&f->h, "out/metrics.prom");
  g_autofree char *prom = NULL;
  g_autofree char *expect = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  GString *json = g_string_new ("{\"constellation_id\": \"bulk\", \"tasks\": [");
  g_autofree char *text = NULL;
  JsonObject *root;
  gint64 cancelled, events;

  for (guint i = 0; i < 100; i++)
    g_string_append_printf (json, "%s{\"task_id\": \"t%03u\", \"task_data\": {\"duration_ms\": 5}}",
                            i ? ", " : "", i);
  g_string_append (json, "]}");
  text = g_string_free (json, FALSE);
  plugin_harness_set (&f->h, "OutputDir", out_dir);
  plugin_harness_set (&f->h, "Summary", "false");
  plugin_harness_load (&f->h);
  g_signal_connect (f->h.bus, "event::task-completed", G_CALLBACK (cancel_on_first_completion), f);
  plugin_harness_run_json (&f->h, text);
  g_assert_false (f->h.ok);
  orrery_plugin_engine_shutdown (f->h.engine);

  json_parser_load_from_file (parser, json_file, &error);
  g_assert_no_error (error);
  root = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (root, "state"), ==, "cancelled");
  cancelled = member_int (root, "tasks.cancelled");
  g_assert_cmpint (member_int (root, "tasks.completed") + cancelled, ==, 100);
  g_assert_cmpint (cancelled, >=, 90);
  /* The events themselves: only the running tasks' task-cancelled. */
  events = json_object_has_member (json_object_get_object_member (
             json_object_get_object_member (root, "events"), "by_type"), "task-cancelled")
           ? member_int (root, "events.by_type.task-cancelled") : 0;
  g_assert_cmpint (events, <=, 4);
  g_assert_true (g_file_get_contents (prom_file, &prom, NULL, NULL));
  expect = g_strdup_printf ("\norrery_tasks_total{status=\"cancelled\"} %" G_GINT64_FORMAT "\n", cancelled);
  g_assert_nonnull (strstr (prom, expect));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/plugin-metrics/json-and-prometheus", Fixture, NULL, fixture_set_up,
              test_json_and_prometheus, fixture_tear_down);
  g_test_add ("/plugin-metrics/http", Fixture, NULL, fixture_set_up, test_http, fixture_tear_down);
  g_test_add ("/plugin-metrics/http-host-check", Fixture, NULL, fixture_set_up, test_http_host_check,
              fixture_tear_down);
  g_test_add ("/plugin-metrics/http-connection-cap", Fixture, NULL, fixture_set_up, test_http_connection_cap,
              fixture_tear_down);
  g_test_add ("/plugin-metrics/http-request-deadline", Fixture, NULL, fixture_set_up, test_http_request_deadline,
              fixture_tear_down);
  g_test_add ("/plugin-metrics/hostile-text", Fixture, NULL, fixture_set_up, test_hostile_text, fixture_tear_down);
  g_test_add ("/plugin-metrics/bad-port", Fixture, NULL, fixture_set_up, test_bad_port, fixture_tear_down);
  g_test_add ("/plugin-metrics/cancelled-in-bulk", Fixture, NULL, fixture_set_up, test_cancelled_in_bulk,
              fixture_tear_down);
  return g_test_run ();
}
