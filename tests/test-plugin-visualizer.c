/* test-plugin-visualizer.c: the visualizer plugin, loaded through the
 * engine from the build tree, on a run whose events are known: a small DAG
 * on a simulated device with one failure (and the task it makes skip) and
 * one retry. Checks the plain lines, the DOT file at the start and at the
 * end, the SVG, the coalesced live view and that it subscribes to nothing
 * when its output is off.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <glib/gstdio.h>
#include <orrery.h>

#include "plugin-harness.h"

typedef struct
{
  PluginHarness  h;
  char          *dot_at_start;
  guint          n_events;
} Fixture;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  plugin_harness_init (&f->h, "visualizer", 4);
  orrery_orchestrator_set_retry_policy (f->h.orch, 10, 1.0, 10);
  /* Isolated, under the sanitizers on a loaded machine, the helper's first
   * live-view frame has been seen to take over the default 5 s answer
   * deadline. */
  if (f->h.isolated)
    plugin_harness_set (&f->h, "DeadlineMs", "30000");
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  plugin_harness_assert_unsubscribed (&f->h);
  plugin_harness_clear (&f->h);
  g_free (f->dot_at_start);
}

/* Subscribed after the plugin: sees the DOT file it wrote at the start. */
static gboolean
read_dot_at_start (OrreryEvent  *event,
                   gpointer      user_data,
                   GError      **error)
{
  Fixture *f = user_data;
  g_autofree char *dot = plugin_harness_path (&f->h, "out/small.dot");

  f->n_events++;
  if (orrery_event_get_event_type (event) == ORRERY_EVENT_CONSTELLATION_STARTED &&
      g_strcmp0 (orrery_event_get_constellation_id (event), "small") == 0)
    g_assert_true (g_file_get_contents (dot, &f->dot_at_start, NULL, NULL));
  return TRUE;
}

/* The line without its time stamp and with every duration as D. */
static char *
normalise (const char *line)
{
  g_autoptr(GRegex) ts = g_regex_new ("^\\d\\d:\\d\\d:\\d\\d\\.\\d\\d\\d ", 0, 0, NULL);
  g_autoptr(GRegex) dur = g_regex_new ("\\b\\d+\\.\\d\\ds\\b", 0, 0, NULL);
  g_autofree char *no_ts = NULL;

  g_assert_true (g_regex_match (ts, line, 0, NULL));
  no_ts = g_regex_replace_literal (ts, line, -1, 0, "", 0, NULL);
  return g_regex_replace_literal (dur, no_ts, -1, 0, "D", 0, NULL);
}

static void
test_lines_and_dot (Fixture       *f,
                    gconstpointer  data)
{
  g_autofree char *out_file = plugin_harness_path (&f->h, "lines.txt");
  g_autofree char *out_dir = plugin_harness_path (&f->h, "out");
  g_autofree char *dot_file = plugin_harness_path (&f->h, "out/small.dot");
  g_autofree char *svg_file = plugin_harness_path (&f->h, "out/small.svg");
  g_autofree char *text = NULL;
  g_autofree char *dot = NULL;
  g_autofree char *svg = NULL;
  g_autofree char *dot_program = g_find_program_in_path ("dot");
  g_auto(GStrv) lines = NULL;
  g_autoptr(OrreryObserver) probe = orrery_func_observer_new ("probe", read_dot_at_start, f, NULL);
  const char *expected[] = {
    "constellation-started small (5 tasks, 1 ready)",
    "task-started a on sim (attempt 1)",
    "task-completed a on sim (attempt 1) D",
    "task-started b on sim (attempt 1)",
    "task-started c on sim (attempt 1)",
    "task-failed c on sim (attempt 1) D: boom",
    "task-skipped e",
    "task-retrying b on sim (attempt 1) D: simulated failure; retry in 10 ms",
    "task-started b on sim (attempt 2)",
    "task-completed b on sim (attempt 2) D",
    "task-started d on sim (attempt 1)",
    "task-completed d on sim (attempt 1) D",
    "constellation-failed small in D: 3 completed, 1 failed, 1 skipped, 0 cancelled",
  };

  plugin_harness_set (&f->h, "OutputFile", out_file);
  plugin_harness_set (&f->h, "OutputDir", out_dir);
  plugin_harness_set (&f->h, "LiveView", "auto");   /* a file is not a terminal: plain lines */
  plugin_harness_set (&f->h, "Formats", "dot;svg");
  plugin_harness_load (&f->h);
  f->h.probe_id = orrery_event_bus_subscribe (f->h.bus, probe, NULL, 0);
  plugin_harness_run_json (&f->h, plugin_harness_small_dag);
  g_assert_false (f->h.ok);
  g_assert_error (f->h.error, ORRERY_ORCHESTRATOR_ERROR, ORRERY_ORCHESTRATOR_ERROR_TASKS_FAILED);

  /* Shutting down flushes the text and waits for the last SVG. */
  orrery_plugin_engine_shutdown (f->h.engine);

  g_assert_true (g_file_get_contents (out_file, &text, NULL, NULL));
  g_assert_null (strchr (text, '\033'));  /* no colour, no cursor codes off a terminal */
  lines = g_strsplit (text, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, G_N_ELEMENTS (expected) + 1);
  g_assert_cmpstr (lines[G_N_ELEMENTS (expected)], ==, "");
  g_assert_cmpuint (f->n_events, ==, G_N_ELEMENTS (expected));
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      g_autofree char *norm = normalise (lines[i]);

      if (i + 1 == G_N_ELEMENTS (expected))
        g_assert_true (g_str_has_prefix (norm, expected[i]));  /* then the reason */
      else
        g_assert_cmpstr (norm, ==, expected[i]);
    }

  /* At the start every task is pending (white); the edges have their style. */
  g_assert_nonnull (f->dot_at_start);
  g_assert_true (g_str_has_prefix (f->dot_at_start, "digraph \"small\" {"));
  for (const char *const *id = (const char *const[]) { "a", "b", "c", "d", "e", NULL }; *id; id++)
    {
      g_autofree char *node = g_strdup_printf ("\n  \"%s\" [label=\"%s\\n%c\", fillcolor=\"white\"",
                                               *id, *id, g_ascii_toupper (**id));

      g_assert_nonnull (strstr (f->dot_at_start, node));
    }
  g_assert_null (strstr (f->dot_at_start, "palegreen"));

  /* At the end: status as colour, edge kind as style. */
  g_assert_true (g_file_get_contents (dot_file, &dot, NULL, NULL));
  g_assert_nonnull (strstr (dot, "\"a\" [label=\"a\\nA\\n"));
  g_assert_nonnull (strstr (dot, "fillcolor=\"palegreen\", tooltip=\"status: completed\""));
  g_assert_nonnull (strstr (dot, "\n  \"c\" [label=\"c\\nC\\n"));
  g_assert_nonnull (strstr (dot, "fillcolor=\"tomato\", color=\"red\", penwidth=2, tooltip=\"status: failed\""));
  g_assert_nonnull (strstr (dot, "\n  \"e\" [label=\"e\\nE\", fillcolor=\"lightblue\", tooltip=\"status: skipped\"]"));
  g_assert_nonnull (strstr (dot, "\"a\" -> \"b\" [style=bold, tooltip=\"success-only\"]"));
  g_assert_nonnull (strstr (dot, "\"a\" -> \"c\" [style=solid, tooltip=\"unconditional\"]"));
  g_assert_nonnull (strstr (dot, "\"b\" -> \"d\" [style=dashed, tooltip=\"completion-only\"]"));
  g_assert_nonnull (strstr (dot, "\"c\" -> \"e\" [style=bold, tooltip=\"success-only\"]"));
  g_assert_nonnull (strstr (dot, "{ rank=same; \"a\"; }"));
  g_assert_nonnull (strstr (dot, "label=\"Small DAG (failed, version "));
  g_assert_true (g_str_has_suffix (dot, "}\n"));

  /* Graphviz is part of the CI's packages: the SVG must be there. */
  g_assert_nonnull (dot_program);
  g_assert_true (g_file_get_contents (svg_file, &svg, NULL, NULL));
  g_assert_nonnull (strstr (svg, "<svg"));
  g_assert_nonnull (strstr (svg, "tomato"));
}

static void
test_off_subscribes_nothing (Fixture       *f,
                             gconstpointer  data)
{
  g_autofree char *out_file = plugin_harness_path (&f->h, "lines.txt");
  g_autofree char *out_dir = plugin_harness_path (&f->h, "out");
  g_autofree char *text = NULL;

  plugin_harness_set (&f->h, "OutputFile", out_file);
  plugin_harness_set (&f->h, "OutputDir", out_dir);
  plugin_harness_set (&f->h, "LiveView", "off");
  plugin_harness_set (&f->h, "Lines", "false");
  plugin_harness_set (&f->h, "Formats", "");
  plugin_harness_load (&f->h);
  g_assert_cmpuint (orrery_event_bus_get_n_subscriptions (f->h.bus), ==, 0);
  plugin_harness_run_json (&f->h, plugin_harness_small_dag);
  orrery_plugin_engine_shutdown (f->h.engine);
  g_assert_true (g_file_get_contents (out_file, &text, NULL, NULL));
  g_assert_cmpstr (text, ==, "");
  g_assert_false (g_file_test (out_dir, G_FILE_TEST_EXISTS));
}

/* Lines to a file are not written one by one (they are flushed within a
 * moment), but the run's end flushes them all: once the run is over, the
 * file has every line, the last one included, before any shutdown. */
static void
test_lines_flushed_at_end (Fixture       *f,
                           gconstpointer  data)
{
  g_autofree char *out_file = plugin_harness_path (&f->h, "lines.txt");
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  guint n;

  plugin_harness_set (&f->h, "OutputFile", out_file);
  plugin_harness_set (&f->h, "LiveView", "off");
  plugin_harness_set (&f->h, "Formats", "");
  plugin_harness_load (&f->h);
  plugin_harness_run_json (&f->h, plugin_harness_small_dag);
  g_assert_true (g_file_get_contents (out_file, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  n = g_strv_length (lines);
  g_assert_cmpuint (n, >=, 3);
  g_assert_cmpstr (lines[n - 1], ==, "");
  g_assert_nonnull (strstr (lines[0], "constellation-started small"));
  g_assert_nonnull (strstr (lines[n - 2], "constellation-failed small"));
  orrery_plugin_engine_shutdown (f->h.engine);
}

static void
test_dot_only (Fixture       *f,
               gconstpointer  data)
{
  g_autofree char *out_dir = plugin_harness_path (&f->h, "out");
  g_autofree char *dot_file = plugin_harness_path (&f->h, "out/small.dot");
  g_autofree char *svg_file = plugin_harness_path (&f->h, "out/small.svg");

  /* Text off, DOT on: only the constellation events are subscribed to. */
  plugin_harness_set (&f->h, "OutputDir", out_dir);
  plugin_harness_set (&f->h, "LiveView", "off");
  plugin_harness_set (&f->h, "Lines", "false");
  plugin_harness_set (&f->h, "Formats", "dot");
  plugin_harness_load (&f->h);
  /* Isolated, the host adds one observer of its own, in process: it keeps
   * the helper's copy of the constellation's statuses current. */
  g_assert_cmpuint (orrery_event_bus_get_n_subscriptions (f->h.bus), ==, f->h.isolated ? 2 : 1);
  plugin_harness_run_json (&f->h, plugin_harness_small_dag);
  g_assert_true (g_file_test (dot_file, G_FILE_TEST_IS_REGULAR));
  g_assert_false (g_file_test (svg_file, G_FILE_TEST_EXISTS));
}

/* The file is the SDK's DOT writer's text (the one style `orrery show
 * --format dot` writes too), with the statuses and layers. */
static void
test_dot_is_the_sdk_writer (Fixture       *f,
                            gconstpointer  data)
{
  g_autofree char *out_dir = plugin_harness_path (&f->h, "out");
  g_autofree char *dot_file = plugin_harness_path (&f->h, "out/small.dot");
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryConstellation) c = orrery_constellation_new_from_data (plugin_harness_small_dag, -1,
                                                                         "test", &error);
  g_autofree char *written = NULL;
  g_autofree char *expected = NULL;

  g_assert_no_error (error);
  plugin_harness_set (&f->h, "OutputDir", out_dir);
  plugin_harness_set (&f->h, "LiveView", "off");
  plugin_harness_set (&f->h, "Lines", "false");
  plugin_harness_set (&f->h, "Formats", "dot");
  plugin_harness_load (&f->h);
  plugin_harness_run (&f->h, c);
  plugin_harness_shutdown (&f->h);

  g_assert_true (g_file_get_contents (dot_file, &written, NULL, NULL));
  expected = orrery_constellation_to_dot (c, ORRERY_DOT_STATUS | ORRERY_DOT_LAYERS);
  /* Isolated too: the helper's copy has the host's statuses and times. */
  g_assert_cmpstr (written, ==, expected);
}

/* Many tasks of no duration: about 140 events within milliseconds. */
static char *
wide_dag (guint n)
{
  GString *s = g_string_new ("{\"constellation_id\": \"wide\", \"name\": \"Wide\", \"tasks\": {"
                             "\"split\": {\"task_id\": \"split\", \"task_data\": {\"duration_ms\": 0}},"
                             "\"merge\": {\"task_id\": \"merge\", \"task_data\": {\"duration_ms\": 0}}");

  for (guint i = 0; i < n; i++)
    g_string_append_printf (s, ", \"t%02u\": {\"task_id\": \"t%02u\", \"task_data\": {\"duration_ms\": 0}}", i, i);
  g_string_append (s, "}, \"dependencies\": [");
  for (guint i = 0; i < n; i++)
    g_string_append_printf (s, "%s{\"from_task_id\": \"split\", \"to_task_id\": \"t%02u\"},"
                            " {\"from_task_id\": \"t%02u\", \"to_task_id\": \"merge\"}", i ? ", " : "", i, i);
  g_string_append (s, "]}");
  return g_string_free (s, FALSE);
}

static gboolean
timeout_flag (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

static guint
count (const char *haystack,
       const char *needle)
{
  guint n = 0;

  for (const char *p = strstr (haystack, needle); p != NULL; p = strstr (p + 1, needle))
    n++;
  return n;
}

static void
test_live_view_coalesced (Fixture       *f,
                          gconstpointer  data)
{
  g_autofree char *out_file = plugin_harness_path (&f->h, "live.txt");
  g_autofree char *json = wide_dag (60);
  g_autofree char *text = NULL;
  g_autoptr(OrreryObserver) probe = orrery_func_observer_new ("probe", read_dot_at_start, f, NULL);
  const char *last;
  guint frames;

  plugin_harness_set (&f->h, "OutputFile", out_file);
  plugin_harness_set (&f->h, "LiveView", "on");
  plugin_harness_set (&f->h, "Formats", "");
  plugin_harness_set (&f->h, "RefreshRate", "10");
  plugin_harness_load (&f->h);
  f->h.probe_id = orrery_event_bus_subscribe (f->h.bus, probe, NULL, 0);
  plugin_harness_run_json (&f->h, json);
  g_assert_true (f->h.ok);
  orrery_plugin_engine_shutdown (f->h.engine);

  g_assert_true (g_file_get_contents (out_file, &text, NULL, NULL));
  /* Every frame but the first starts by moving up over the last one. */
  frames = count (text, "\033[?25l") + count (text, "\r\033[");
  g_assert_cmpuint (f->n_events, >=, 120);
  g_assert_cmpuint (frames, >=, 1);
  /* Fewer frames than events, whatever the machine's speed: how many
   * fewer depends on time (at most 10 a second), so the exact count is
   * left to live-view-burst, which does not. */
  g_assert_cmpuint (frames, <, f->n_events);
  /* Each line is cleared to its end: no flicker from clearing the screen. */
  g_assert_null (strstr (text, "\033[2J"));
  g_assert_cmpuint (count (text, "\033[K\n"), >=, 5 * frames);
  /* Not a terminal: no colour. The last frame shows the end, the cursor back. */
  g_assert_null (strstr (text, "\033[32m"));
  last = g_strrstr (text, "Orrery wide");
  g_assert_nonnull (last);
  g_assert_nonnull (strstr (last, "constellation-completed"));
  g_assert_nonnull (strstr (last, "62/62"));
  g_assert_nonnull (strstr (last, "L1  ✔ t00←split:u"));
  g_assert_nonnull (strstr (last, "L2  ✔ merge←60 60u"));
  g_assert_nonnull (strstr (last, "Running (0)"));
  g_assert_true (g_str_has_suffix (text, "\033[?25h"));
}

/* Ids, names and an error message holding an OSC 52 (sets the clipboard),
 * a CSI (clears the screen), CR and LF (forge a line), an 8-bit CSI
 * (U+009B) and a bidi override: in JSON, as a hostile file has them. */
#define EVIL_JSON "\\u001b]52;c;aGk=\\u0007\\u001b[2J\\rCR\\nFORGED \\u009b31m\\u202eRTL\\\\ \\\"q"
#define EVIL_RAW  "\033]52;c;aGk=\007\033[2J\rCR\nFORGED \302\233" "31m\342\200\256RTL\\ \"q"

static const char evil_dag[] =
  "{\"constellation_id\": \"c" EVIL_JSON "\", \"name\": \"N" EVIL_JSON "\", \"tasks\": {"
  " \"a" EVIL_JSON "\": {\"task_id\": \"a" EVIL_JSON "\", \"name\": \"A" EVIL_JSON "\","
  "   \"task_data\": {\"duration_ms\": 5}},"
  " \"b" EVIL_JSON "\": {\"task_id\": \"b" EVIL_JSON "\", \"name\": \"B" EVIL_JSON "\","
  "   \"task_data\": {\"duration_ms\": 5, \"fail\": 1, \"error_message\": \"E" EVIL_JSON "\"}}},"
  " \"dependencies\": [{\"from_task_id\": \"a" EVIL_JSON "\", \"to_task_id\": \"b" EVIL_JSON "\"}]}";

/* No raw control character of user data: nothing below 0x20 but LF (and
 * the ESC and CR of the live view's own codes, which the caller strips),
 * no C1 control, no bidi override. */
static void
assert_no_raw_controls (const char *text)
{
  g_assert_true (g_utf8_validate (text, -1, NULL));
  for (const char *p = text; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c == '\n')
        continue;
      if (c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f) || (c >= 0x202a && c <= 0x202e) ||
          (c >= 0x2066 && c <= 0x2069))
        g_error ("raw U+%04X at offset %" G_GSIZE_FORMAT " in: %s", c, (gsize) (p - text), text);
    }
}

/* The live view's own codes: CSI sequences it writes and the CR before a
 * move up. Whatever is left is what the user data became. */
static char *
strip_own_codes (const char *text)
{
  g_autoptr(GRegex) own = g_regex_new ("\r\033\\[[0-9]+A|\033\\[(\\?7[lh]|\\?25[lh]|K|J|[0-9;]*m)", 0, 0, NULL);

  return g_regex_replace_literal (own, text, -1, 0, "", 0, NULL);
}

static void
test_hostile_text (Fixture       *f,
                   gconstpointer  data)
{
  g_autofree char *out_file = plugin_harness_path (&f->h, "lines.txt");
  g_autofree char *out_dir = plugin_harness_path (&f->h, "out");
  g_autofree char *stem = orrery_escape_for_filename ("c" EVIL_RAW);
  g_autofree char *dot_name = g_strconcat ("out/", stem, ".dot", NULL);
  g_autofree char *svg_name = g_strconcat ("out/", stem, ".svg", NULL);
  g_autofree char *dot_file = plugin_harness_path (&f->h, dot_name);
  g_autofree char *svg_file = plugin_harness_path (&f->h, svg_name);
  g_autofree char *text = NULL;
  g_autofree char *dot = NULL;
  g_autofree char *svg = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GDir) dir = NULL;
  const char *name;
  guint n_files = 0;

  plugin_harness_set (&f->h, "OutputFile", out_file);
  plugin_harness_set (&f->h, "OutputDir", out_dir);
  plugin_harness_set (&f->h, "LiveView", "off");
  plugin_harness_set (&f->h, "Formats", "dot;svg");
  plugin_harness_load (&f->h);
  plugin_harness_run_json (&f->h, evil_dag);
  g_assert_false (f->h.ok);
  orrery_plugin_engine_shutdown (f->h.engine);

  /* Plain lines: one per event (6), nothing raw, nothing forged. */
  g_assert_true (g_file_get_contents (out_file, &text, NULL, NULL));
  assert_no_raw_controls (text);
  lines = g_strsplit (text, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 6 + 1);
  for (guint i = 0; lines[i + 1] != NULL; i++)
    {
      g_autofree char *norm = normalise (lines[i]);   /* each starts with its time stamp */

      g_assert_false (g_str_has_prefix (norm, "FORGED"));
    }
  g_assert_nonnull (strstr (text, " task-started a\\e]52;c;aGk=\\x07\\e[2J\\rCR\\nFORGED \\u{009b}31m\\u{202e}RTL\\\\ \"q on sim"));
  /* The error's first line only, escaped. */
  g_assert_nonnull (strstr (text, ": E\\e]52;c;aGk=\\x07\\e[2J\\rCR\n"));
  g_assert_nonnull (strstr (text, "constellation-started c\\e]52"));

  /* The DOT file: its name made safe, its text free of raw controls, the
   * quotes and backslashes of the ids escaped for DOT. */
  dir = g_dir_open (out_dir, 0, NULL);
  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      for (const char *p = name; *p; p++)
        g_assert_true (g_ascii_isalnum (*p) || *p == '-' || *p == '_' || *p == '.');
      n_files++;
    }
  g_assert_cmpuint (n_files, ==, 2);
  g_assert_true (g_file_get_contents (dot_file, &dot, NULL, NULL));
  assert_no_raw_controls (dot);
  g_assert_true (g_str_has_prefix (dot, "digraph \"c\\\\e]52;c;aGk=\\\\x07\\\\e[2J\\\\rCR\\\\nFORGED "
                                        "\\\\u{009b}31m\\\\u{202e}RTL\\\\\\\\ \\\"q\" {"));
  g_assert_nonnull (strstr (dot, "[label=\"a\\\\e]52;c;aGk=\\\\x07\\\\e[2J\\\\rCR\\\\nFORGED \\\\u{009b}31m"
                                 "\\\\u{202e}RTL\\\\\\\\ \\\"q\\nA\\\\e]52"));
  /* Graphviz read it (a quote left raw would end the string early and
   * make it fail) and wrote an SVG with no raw control either. */
  g_assert_true (g_file_get_contents (svg_file, &svg, NULL, NULL));
  g_assert_nonnull (strstr (svg, "<svg"));
  assert_no_raw_controls (svg);
  g_assert_nonnull (strstr (svg, "FORGED"));
}

static void
test_hostile_text_live (Fixture       *f,
                        gconstpointer  data)
{
  g_autofree char *out_file = plugin_harness_path (&f->h, "live.txt");
  g_autofree char *text = NULL;
  g_autofree char *rest = NULL;

  plugin_harness_set (&f->h, "OutputFile", out_file);
  plugin_harness_set (&f->h, "LiveView", "on");
  plugin_harness_set (&f->h, "Formats", "");
  plugin_harness_load (&f->h);
  plugin_harness_run_json (&f->h, evil_dag);
  g_assert_false (f->h.ok);
  orrery_plugin_engine_shutdown (f->h.engine);

  g_assert_true (g_file_get_contents (out_file, &text, NULL, NULL));
  g_assert_null (strstr (text, "\033]"));
  g_assert_null (strstr (text, "\033[2J"));
  rest = strip_own_codes (text);
  assert_no_raw_controls (rest);
  g_assert_nonnull (strstr (rest, "Orrery c\\e]52;c;aGk=\\x07"));
  g_assert_nonnull (strstr (rest, "✘ b\\e]52"));
}

/* Coalescing, by counts: events published in one go, with no main loop
 * iteration between them, mark the view dirty; a frame is drawn only from
 * the main loop. So 200 task events make one frame, not 200. */
static void
test_live_view_burst (Fixture       *f,
                      gconstpointer  data)
{
  g_autofree char *out_file = plugin_harness_path (&f->h, "burst.txt");
  g_autofree char *json = wide_dag (100);
  g_autofree char *text = NULL;
  g_autoptr(OrreryConstellation) c = NULL;
  g_autoptr(OrreryEvent) started = NULL;
  g_autoptr(GError) error = NULL;
  guint frames_after_start, frames;

  plugin_harness_set (&f->h, "OutputFile", out_file);
  plugin_harness_set (&f->h, "LiveView", "on");
  plugin_harness_set (&f->h, "Formats", "");
  plugin_harness_set (&f->h, "RefreshRate", "100");
  plugin_harness_load (&f->h);
  c = orrery_constellation_new_from_data (json, -1, "test", &error);
  g_assert_no_error (error);

  started = orrery_event_new_constellation (ORRERY_EVENT_CONSTELLATION_STARTED, "test",
                                            orrery_constellation_get_id (c),
                                            ORRERY_CONSTELLATION_STATE_EXECUTING);
  orrery_event_set_constellation (started, c);
  orrery_event_bus_publish (f->h.bus, started);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_true (g_file_get_contents (out_file, &text, NULL, NULL));
  frames_after_start = count (text, "Orrery wide");
  g_clear_pointer (&text, g_free);

  for (guint i = 0; i < 100; i++)
    {
      g_autofree char *id = g_strdup_printf ("t%02u", i);
      g_autoptr(OrreryEvent) st = orrery_event_new_task (ORRERY_EVENT_TASK_STARTED, "test", id,
                                                             ORRERY_TASK_STATUS_RUNNING);
      g_autoptr(OrreryEvent) done = orrery_event_new_task (ORRERY_EVENT_TASK_COMPLETED, "test", id,
                                                               ORRERY_TASK_STATUS_COMPLETED);

      orrery_event_set_constellation (st, c);
      orrery_event_set_device_id (st, "sim");
      orrery_event_bus_publish (f->h.bus, st);
      orrery_event_set_constellation (done, c);
      orrery_event_bus_publish (f->h.bus, done);
    }
  /* Everything delivered, and the frame it asked for drawn. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  {
    /* The frame timer waits up to 10 ms after the last frame. */
    gboolean expired = FALSE;

    g_timeout_add (50, timeout_flag, &expired);
    while (!expired)
      g_main_context_iteration (NULL, TRUE);
  }
  g_assert_true (g_file_get_contents (out_file, &text, NULL, NULL));
  frames = count (text, "Orrery wide");
  g_assert_cmpuint (frames_after_start, <=, 1);
  /* Isolated (ORRERY_TEST_ISOLATED=1), each of the 200 sync deliveries is
   * a round trip to the helper: the burst outlasts the 10 ms frame timer a
   * few times, and still draws far fewer frames than events. */
  if (f->h.isolated)
    g_assert_cmpuint (frames - frames_after_start, <, 20);
  else
    g_assert_cmpuint (frames - frames_after_start, ==, 1);
  orrery_plugin_engine_shutdown (f->h.engine);
}

/* ------------------------------------------------------------------------ */
/* Bounded `dot` */

static void
capture_log (const char     *domain,
             GLogLevelFlags  level,
             const char     *message,
             gpointer        user_data)
{
  g_ptr_array_add (user_data, g_strdup (message));
}

static gboolean
not_fatal (const char     *domain,
           GLogLevelFlags  level,
           const char     *message,
           gpointer        user_data)
{
  return g_strcmp0 (domain, "Orrery-Visualizer") != 0;
}

static guint
count_matching (GPtrArray  *lines,
                const char *pattern)
{
  guint n = 0;

  for (guint i = 0; i < lines->len; i++)
    if (g_pattern_match_simple (pattern, lines->pdata[i]))
      n++;
  return n;
}

/* A `dot` that records its pid and never ends (a graph too large for it). */
static char *
write_slow_dot (Fixture *f)
{
  g_autofree char *pids = plugin_harness_path (&f->h, "dot.pids");
  char *script = plugin_harness_path (&f->h, "slow-dot");
  g_autofree char *text = g_strdup_printf ("#!/bin/sh\necho $$ >> '%s'\nexec sleep 600\n", pids);

  g_assert_true (g_file_set_contents (script, text, -1, NULL));
  g_assert_cmpint (g_chmod (script, 0755), ==, 0);
  return script;
}

static void
test_dot_deadline (Fixture       *f,
                   gconstpointer  data)
{
  g_autofree char *out_dir = plugin_harness_path (&f->h, "out");
  g_autofree char *dot_file = plugin_harness_path (&f->h, "out/small.dot");
  g_autofree char *svg_file = plugin_harness_path (&f->h, "out/small.svg");
  g_autofree char *pids_file = plugin_harness_path (&f->h, "dot.pids");
  g_autofree char *script = write_slow_dot (f);
  g_autofree char *pids = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GPtrArray) log = g_ptr_array_new_with_free_func (g_free);
  guint handler = g_log_set_handler ("Orrery-Visualizer", G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL, capture_log, log);
  guint n_pids = 0;

  g_test_log_set_fatal_handler (not_fatal, NULL);
  plugin_harness_set (&f->h, "OutputDir", out_dir);
  plugin_harness_set (&f->h, "LiveView", "off");
  plugin_harness_set (&f->h, "Lines", "false");
  plugin_harness_set (&f->h, "Formats", "dot;svg");
  plugin_harness_set (&f->h, "DotProgram", script);
  plugin_harness_set (&f->h, "DotTimeoutSec", "1");
  plugin_harness_load (&f->h);
  plugin_harness_run_json (&f->h, plugin_harness_small_dag);

  /* Shutdown returns: the render that would take 600 s was killed at its
   * deadline, and said so; the DOT file is there, no SVG. */
  orrery_plugin_engine_shutdown (f->h.engine);
  g_log_remove_handler ("Orrery-Visualizer", handler);
  g_assert_cmpuint (count_matching (log, "dot ran past 1 s on *small.dot: killed, no SVG*"), >=, 1);
  g_assert_true (g_file_test (dot_file, G_FILE_TEST_IS_REGULAR));
  g_assert_false (g_file_test (svg_file, G_FILE_TEST_EXISTS));
  /* Every `dot` it started is gone. */
  g_assert_true (g_file_get_contents (pids_file, &pids, NULL, NULL));
  lines = g_strsplit (pids, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (*lines[i] != '\0')
      {
        int pid = atoi (lines[i]);

        g_assert_cmpint (pid, >, 1);
        g_assert_cmpint (kill (pid, 0), ==, -1);
        g_assert_cmpint (errno, ==, ESRCH);
        n_pids++;
      }
  g_assert_cmpuint (n_pids, >=, 1);
}

static void
test_svg_max_nodes (Fixture       *f,
                    gconstpointer  data)
{
  g_autofree char *out_dir = plugin_harness_path (&f->h, "out");
  g_autofree char *dot_file = plugin_harness_path (&f->h, "out/small.dot");
  g_autofree char *svg_file = plugin_harness_path (&f->h, "out/small.svg");
  g_autofree char *pids_file = plugin_harness_path (&f->h, "dot.pids");
  g_autofree char *script = write_slow_dot (f);
  g_autoptr(GPtrArray) log = g_ptr_array_new_with_free_func (g_free);
  guint handler = g_log_set_handler ("Orrery-Visualizer", G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL, capture_log, log);

  g_test_log_set_fatal_handler (not_fatal, NULL);
  plugin_harness_set (&f->h, "OutputDir", out_dir);
  plugin_harness_set (&f->h, "LiveView", "off");
  plugin_harness_set (&f->h, "Lines", "false");
  plugin_harness_set (&f->h, "Formats", "dot;svg");
  plugin_harness_set (&f->h, "DotProgram", script);
  plugin_harness_set (&f->h, "SvgMaxNodes", "4");
  plugin_harness_load (&f->h);
  plugin_harness_run_json (&f->h, plugin_harness_small_dag);
  orrery_plugin_engine_shutdown (f->h.engine);
  g_log_remove_handler ("Orrery-Visualizer", handler);

  /* 5 tasks > 4: the DOT file at every change, `dot` never run, said once. */
  g_assert_true (g_file_test (dot_file, G_FILE_TEST_IS_REGULAR));
  g_assert_false (g_file_test (svg_file, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (pids_file, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (count_matching (log, "5 tasks, more than SvgMaxNodes=4: *small.dot written, no SVG*"), ==, 1);
}

/* A `dot` that records the file it got, then is Graphviz's. */
static char *
write_logging_dot (Fixture *f)
{
  g_autofree char *calls = plugin_harness_path (&f->h, "dot.calls");
  g_autofree char *dot = g_find_program_in_path ("dot");
  char *script = plugin_harness_path (&f->h, "logging-dot");
  g_autofree char *text = NULL;

  g_assert_nonnull (dot);   /* part of the CI's packages */
  /* Its niceness too (the 19th field of its stat). */
  text = g_strdup_printf ("#!/bin/sh\necho \"$4\" >> '%s'\ncut -d' ' -f19 /proc/$$/stat >> '%s.nice'\n"
                          "exec '%s' \"$@\"\n", calls, calls, dot);
  g_assert_true (g_file_set_contents (script, text, -1, NULL));
  g_assert_cmpint (g_chmod (script, 0755), ==, 0);
  return script;
}

/* The group that draws the task of DOT name @name in @svg, to its end. */
static char *
svg_node (const char *svg,
          const char *name)
{
  g_autofree char *title = g_strdup_printf ("\" class=\"node\">\n<title>%s</title>\n", name);
  const char *start = strstr (svg, title);
  const char *end = start ? strstr (start, "</g>\n</g>\n") : NULL;

  g_assert_nonnull (end);
  return g_strndup (start, end - start);
}

/* The task's fill, border, tooltip and third line in @svg: @duration TRUE
 * for a duration there, FALSE for no third line. */
static void
assert_svg_node (const char *svg,
                 const char *name,
                 const char *shape,
                 const char *status,
                 gboolean    duration)
{
  g_autofree char *node = svg_node (svg, name);
  g_autofree char *tooltip = g_strdup_printf ("<a xlink:title=\"status: %s\">", status);
  g_autoptr(GRegex) seconds = g_regex_new (">\\d+\\.\\d\\ds</text>\n</a>$", 0, 0, NULL);
  const char *last;

  g_assert_nonnull (strstr (node, shape));
  g_assert_nonnull (strstr (node, tooltip));
  last = g_strrstr (node, "<text ");
  g_assert_nonnull (last);
  g_assert_cmpint (g_regex_match (seconds, last, 0, NULL), ==, duration);
  if (!duration)
    {
      /* Its id and its name only. */
      guint n = 0;

      for (const char *p = strstr (node, "<text "); p != NULL; p = strstr (p + 1, "<text "))
        n++;
      g_assert_cmpuint (n, ==, 2);
    }
}

/* A run shorter than the first SVG's delay (2 s) gets its SVG once, at its
 * end, with the final statuses; `dot` ran once, at the start, on the
 * template (out of OutputDir), which the end patched: no render waited
 * for then. */
static void
test_svg_short_run_once (Fixture       *f,
                         gconstpointer  data)
{
  g_autofree char *out_dir = plugin_harness_path (&f->h, "out");
  g_autofree char *svg_file = plugin_harness_path (&f->h, "out/small.svg");
  g_autofree char *calls_file = plugin_harness_path (&f->h, "dot.calls");
  g_autofree char *nice_file = plugin_harness_path (&f->h, "dot.calls.nice");
  g_autofree char *script = write_logging_dot (f);
  g_autofree char *calls = NULL;
  g_autofree char *nice = NULL;
  g_autofree char *svg = NULL;
  g_autoptr(GDir) dir = NULL;
  guint n_files = 0;

  plugin_harness_set (&f->h, "OutputDir", out_dir);
  plugin_harness_set (&f->h, "LiveView", "off");
  plugin_harness_set (&f->h, "Lines", "false");
  plugin_harness_set (&f->h, "Formats", "dot;svg");
  plugin_harness_set (&f->h, "DotProgram", script);
  plugin_harness_load (&f->h);
  plugin_harness_run_json (&f->h, plugin_harness_small_dag);
  orrery_plugin_engine_shutdown (f->h.engine);

  g_assert_true (g_file_get_contents (calls_file, &calls, NULL, NULL));
  g_assert_true (g_str_has_suffix (calls, "/small.template.dot\n"));
  g_assert_false (g_str_has_prefix (calls, out_dir));
  g_assert_true (strchr (calls, '\n') == calls + strlen (calls) - 1);
  /* In the background: the run's tasks come first. */
  g_assert_true (g_file_get_contents (nice_file, &nice, NULL, NULL));
  g_assert_cmpstr (nice, ==, "19\n");
  /* Its files went with it; OutputDir has the DOT file and the SVG. */
  calls[strlen (calls) - 1] = '\0';
  g_assert_false (g_file_test (calls, G_FILE_TEST_EXISTS));
  dir = g_dir_open (out_dir, 0, NULL);
  while (g_dir_read_name (dir) != NULL)
    n_files++;
  g_assert_cmpuint (n_files, ==, 2);

  g_assert_true (g_file_get_contents (svg_file, &svg, NULL, NULL));
  assert_svg_node (svg, "a", "<path fill=\"palegreen\" stroke=\"black\" d=", "completed", TRUE);
  assert_svg_node (svg, "b", "<path fill=\"palegreen\" stroke=\"black\" d=", "completed", TRUE);
  assert_svg_node (svg, "c", "<path fill=\"tomato\" stroke=\"red\" stroke-width=\"2\" d=", "failed", TRUE);
  assert_svg_node (svg, "d", "<path fill=\"palegreen\" stroke=\"black\" d=", "completed", TRUE);
  assert_svg_node (svg, "e", "<path fill=\"lightblue\" stroke=\"black\" d=", "skipped", FALSE);
  g_assert_nonnull (strstr (svg, ">Small DAG (failed, version 0)</text>"));
  g_assert_null (strstr (svg, "00000.00s"));
  g_assert_null (strstr (svg, "pending"));
}

typedef struct
{
  PluginHarness *h;
  OrreryHold    *hold;
  const char    *calls_file;
  guint          polls;
} Editor;

/* The run goes on once `dot` has been called twice (the first template's
 * and the one with n1), or after 30 s, so that broken code fails the
 * assertions below instead of hanging. */
static gboolean
release_after_two_renders (gpointer data)
{
  Editor *e = data;
  g_autofree char *calls = NULL;
  guint n = 0;

  if (g_file_get_contents (e->calls_file, &calls, NULL, NULL))
    for (const char *p = calls; (p = strchr (p, '\n')) != NULL; p++)
      n++;
  if (n < 2 && ++e->polls < 3000)
    return G_SOURCE_CONTINUE;
  g_assert_true (orrery_orchestrator_release (e->h->orch, e->hold));
  g_clear_pointer (&e->hold, orrery_hold_unref);
  return G_SOURCE_REMOVE;
}

static gboolean
add_task_after_a (gpointer data)
{
  Editor *e = data;
  g_autoptr(OrreryEditBatch) batch = orrery_edit_batch_new ();
  g_autoptr(OrreryTask) n1 = orrery_task_new ("n1", "Added");
  g_autoptr(GVariant) mods = NULL;
  g_autoptr(GError) error = NULL;

  orrery_edit_batch_add_task (batch, n1);
  orrery_edit_batch_add_dependency (batch, "a", "n1", ORRERY_DEPENDENCY_SUCCESS_ONLY, NULL);
  mods = orrery_constellation_apply_edits (orrery_orchestrator_get_constellation (e->h->orch), batch, &error);
  g_assert_no_error (error);
  g_timeout_add (10, release_after_two_renders, e);
  return G_SOURCE_REMOVE;
}

static void
on_completed_edit (OrreryEventBus *bus,
                   OrreryEvent    *event,
                   Editor         *e)
{
  if (!g_str_equal (orrery_event_get_task_id (event), "a") || e->hold != NULL)
    return;
  e->hold = orrery_orchestrator_hold (e->h->orch, "test", 0);
  g_idle_add (add_task_after_a, e);
}

/* A task added during the run (constellation-modified) changes the
 * layout: its template is rendered again, and the SVG is of the new graph
 * with its final statuses. The run is held until both templates have
 * been rendered: a run that ends while the second one still renders gets
 * a full render instead (the stale template is dropped), which is right
 * but not what this test is about, and on a loaded machine that is how
 * it ended. */
static void
test_svg_after_modification (Fixture       *f,
                             gconstpointer  data)
{
  g_autofree char *out_dir = plugin_harness_path (&f->h, "out");
  g_autofree char *svg_file = plugin_harness_path (&f->h, "out/small.svg");
  g_autofree char *calls_file = plugin_harness_path (&f->h, "dot.calls");
  g_autofree char *script = write_logging_dot (f);
  g_autofree char *calls = NULL;
  g_autofree char *svg = NULL;
  g_auto(GStrv) lines = NULL;
  Editor e = { &f->h, NULL, calls_file, 0 };
  gulong handler = g_signal_connect (f->h.bus, "event::task-completed", G_CALLBACK (on_completed_edit), &e);

  plugin_harness_set (&f->h, "OutputDir", out_dir);
  plugin_harness_set (&f->h, "LiveView", "off");
  plugin_harness_set (&f->h, "Lines", "false");
  plugin_harness_set (&f->h, "Formats", "dot;svg");
  plugin_harness_set (&f->h, "DotProgram", script);
  plugin_harness_load (&f->h);
  plugin_harness_run_json (&f->h, plugin_harness_small_dag);
  g_signal_handler_disconnect (f->h.bus, handler);
  orrery_plugin_engine_shutdown (f->h.engine);

  /* Two templates: the graph's, then the one with n1; no full render. */
  g_assert_true (g_file_get_contents (calls_file, &calls, NULL, NULL));
  lines = g_strsplit (calls, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 3);
  g_assert_true (g_str_has_suffix (lines[0], "/small.template.dot"));
  g_assert_true (g_str_has_suffix (lines[1], "/small.template.dot"));

  g_assert_true (g_file_get_contents (svg_file, &svg, NULL, NULL));
  assert_svg_node (svg, "n1", "<path fill=\"palegreen\" stroke=\"black\" d=", "completed", TRUE);
  assert_svg_node (svg, "c", "<path fill=\"tomato\" stroke=\"red\" stroke-width=\"2\" d=", "failed", TRUE);
  assert_svg_node (svg, "e", "<path fill=\"lightblue\" stroke=\"black\" d=", "skipped", FALSE);
  g_assert_nonnull (strstr (svg, ">Small DAG (failed, version 1)</text>"));
  g_assert_true (g_regex_match_simple ("<title>a(&#45;|-)&gt;n1</title>", svg, 0, 0));
}

/* A Graphviz installation in the test's directory: PREFIX/bin/dot records
 * its GVBINDIR and the configuration there, and writes an SVG; the
 * plugins' configuration, PREFIX/lib/TRIPLET/graphviz/config6a, lists
 * three plugins. Returns PREFIX/bin/dot. */
static char *
write_graphviz_prefix (Fixture *f)
{
  g_autofree char *bin = plugin_harness_path (&f->h, "gv/bin");
  g_autofree char *lib = plugin_harness_path (&f->h, "gv/lib/x86_64-linux-gnu/graphviz");
  g_autofree char *config = g_build_filename (lib, "config6a", NULL);
  g_autofree char *seen = plugin_harness_path (&f->h, "dot.seen");
  char *dot = g_build_filename (bin, "dot", NULL);
  g_autofree char *text = g_strdup_printf ("#!/bin/sh\n{ echo \"GVBINDIR=${GVBINDIR-unset}\"; "
                                           "[ -n \"$GVBINDIR\" ] && cat \"$GVBINDIR/config6a\"; } > '%s'\n"
                                           "echo '<svg/>' > \"$3\"\n", seen);
  static const char plugins[] =
    "# This file was generated by \"dot -c\" at time of install.\n\n"
    "libgvplugin_core.so.6 core {\n\trender {\n\t\tsvg 1\n\t}\n\tdevice {\n\t\tsvg:svg 1\n\t}\n}\n"
    "libgvplugin_dot_layout.so.6 dot_layout {\n\tlayout {\n\t\tdot 0\n\t}\n}\n"
    "libgvplugin_pango.so.6 cairo {\n\trender {\n\t\tcairo 10\n\t}\n}\n";

  g_assert_cmpint (g_mkdir_with_parents (bin, 0755), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (lib, 0755), ==, 0);
  g_assert_true (g_file_set_contents (config, plugins, -1, NULL));
  g_assert_true (g_file_set_contents (dot, text, -1, NULL));
  g_assert_cmpint (g_chmod (dot, 0755), ==, 0);
  return dot;
}

/* An ASCII graph is rendered with GVBINDIR set to a private directory whose
 * configuration holds Graphviz's own entries of the SVG writer and the dot
 * layout, by absolute path, and no other plugin (pango and cairo would take
 * most of the render); the directory goes at shutdown. A graph with other
 * text, which Graphviz's built-in metrics do not measure, gets every
 * plugin. */
static void
test_svg_core_plugins (Fixture       *f,
                       gconstpointer  data)
{
  gboolean ascii = GPOINTER_TO_INT (data);
  g_autofree char *out_dir = plugin_harness_path (&f->h, "out");
  g_autofree char *svg_file = plugin_harness_path (&f->h, "out/small.svg");
  g_autofree char *seen_file = plugin_harness_path (&f->h, "dot.seen");
  g_autofree char *lib = plugin_harness_path (&f->h, "gv/lib/x86_64-linux-gnu/graphviz");
  g_autofree char *dot = write_graphviz_prefix (f);
  g_autofree char *seen = NULL;
  g_autofree char *core = NULL;
  g_autofree char *layout = NULL;
  g_autofree char *json = NULL;
  g_auto(GStrv) lines = NULL;

  plugin_harness_set (&f->h, "OutputDir", out_dir);
  plugin_harness_set (&f->h, "LiveView", "off");
  plugin_harness_set (&f->h, "Lines", "false");
  plugin_harness_set (&f->h, "Formats", "dot;svg");
  plugin_harness_set (&f->h, "DotProgram", dot);
  plugin_harness_load (&f->h);
  json = ascii ? g_strdup (plugin_harness_small_dag)
               : g_strdup ("{\"constellation_id\": \"small\", \"name\": \"Z\xc3\xbcrich\", \"tasks\": {"
                           " \"a\": {\"task_id\": \"a\", \"name\": \"\xe6\x97\xa5\", \"task_data\": {}}}}");
  plugin_harness_run_json (&f->h, json);
  orrery_plugin_engine_shutdown (f->h.engine);

  g_assert_true (g_file_test (svg_file, G_FILE_TEST_IS_REGULAR));
  g_assert_true (g_file_get_contents (seen_file, &seen, NULL, NULL));
  if (!ascii)
    {
      g_assert_cmpstr (seen, ==, "GVBINDIR=unset\n");
      return;
    }
  lines = g_strsplit (seen, "\n", 2);
  g_assert_true (g_str_has_prefix (lines[0], "GVBINDIR=/"));
  /* Gone with the plugin. */
  g_assert_false (g_file_test (lines[0] + strlen ("GVBINDIR="), G_FILE_TEST_EXISTS));
  core = g_strdup_printf ("\n%s/libgvplugin_core.so.6 core {\n\trender {\n\t\tsvg 1\n\t}\n"
                          "\tdevice {\n\t\tsvg:svg 1\n\t}\n}\n", lib);
  layout = g_strdup_printf ("\n%s/libgvplugin_dot_layout.so.6 dot_layout {\n\tlayout {\n\t\tdot 0\n\t}\n}\n",
                            lib);
  g_assert_nonnull (strstr (lines[1], core));
  g_assert_nonnull (strstr (lines[1], layout));
  g_assert_null (strstr (lines[1], "pango"));
}

static gboolean
log_under_live_view (gpointer data)
{
  GStatBuf st;

  /* Once a frame is on the output (a cause, not a time). */
  if (g_stat (data, &st) != 0 || st.st_size == 0)
    return G_SOURCE_CONTINUE;
  g_message ("a log line while the live view is drawn");
  return G_SOURCE_REMOVE;
}

/* A log line printed during the live view erases the frame first, so it
 * scrolls above it; the next frame is drawn afresh below it. */
static void
test_live_view_log_lines (Fixture       *f,
                          gconstpointer  data)
{
  g_autofree char *out_file = plugin_harness_path (&f->h, "live-log.txt");
  g_autofree char *text = NULL;
  g_autoptr(GRegex) erase = g_regex_new ("\r\033\\[[0-9]+A\033\\[J", 0, 0, NULL);
  const char *json =
    "{\"constellation_id\": \"slow\", \"name\": \"Slow\", \"tasks\": ["
    " {\"task_id\": \"a\", \"task_data\": {\"duration_ms\": 1500}}]}";
  g_autoptr(GMatchInfo) match = NULL;
  const char *after;

  if (f->h.isolated)
    {
      /* The live view erases itself before this process's log lines
       * through its log handler, which, isolated, is in another process. */
      g_test_skip ("isolated: the host's log lines do not reach the helper's log handler");
      return;
    }
  plugin_harness_set (&f->h, "OutputFile", out_file);
  plugin_harness_set (&f->h, "LiveView", "on");
  plugin_harness_set (&f->h, "Formats", "");
  plugin_harness_set (&f->h, "RefreshRate", "20");
  plugin_harness_load (&f->h);
  /* While the task runs (1.5 s: room enough under valgrind), as soon as
   * the first frame is drawn. */
  g_timeout_add (10, log_under_live_view, out_file);
  plugin_harness_run_json (&f->h, json);
  g_assert_true (f->h.ok);
  orrery_plugin_engine_shutdown (f->h.engine);

  g_assert_true (g_file_get_contents (out_file, &text, NULL, NULL));
  g_assert_true (g_regex_match (erase, text, 0, &match));
  /* The frame after the erase does not move up: it starts where the log
   * line left the cursor. */
  {
    gint end = 0;

    g_match_info_fetch_pos (match, 0, NULL, &end);
    after = text + end;
  }
  g_assert_true (g_str_has_prefix (after, "\033[?7l") || g_str_has_prefix (after, "\033[?25l") ||
                 g_str_has_prefix (after, "Orrery"));
}

static void
test_bad_config (Fixture       *f,
                 gconstpointer  data)
{
  OrreryPluginInfo *info;

  plugin_harness_set (&f->h, "LiveView", "sometimes");
  info = plugin_harness_load_info (&f->h, FALSE);
  g_assert_nonnull (info);
  g_assert_cmpint (orrery_plugin_info_get_state (info), ==, ORRERY_PLUGIN_STATE_FAILED);
  g_assert_nonnull (strstr (orrery_plugin_info_get_error (info)->message, "LiveView"));
}

/* The columns a terminal gives @line: wide (CJK) characters two, combining
 * marks none. */
static guint
display_columns (const char *line)
{
  guint n = 0;

  for (const char *p = line; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      n += g_unichar_iszerowidth (c) ? 0 : g_unichar_iswide (c) ? 2 : 1;
    }
  return n;
}

/* Three layers of tasks named in Chinese (two columns a character), so
 * wide that each layer's line must be cut. */
static const char cjk_dag[] =
  "{\"constellation_id\": \"cjk\", \"name\": \"数据处理流水线\", \"tasks\": {"
  " \"下载原始数据文件\": {\"task_id\": \"下载原始数据文件\", \"task_data\": {\"duration_ms\": 5}},"
  " \"清洗并校验第一批记录\": {\"task_id\": \"清洗并校验第一批记录\", \"task_data\": {\"duration_ms\": 5}},"
  " \"清洗并校验第二批记录\": {\"task_id\": \"清洗并校验第二批记录\", \"task_data\": {\"duration_ms\": 5}},"
  " \"清洗并校验第三批记录\": {\"task_id\": \"清洗并校验第三批记录\", \"task_data\": {\"duration_ms\": 5}},"
  " \"清洗并校验第四批记录\": {\"task_id\": \"清洗并校验第四批记录\", \"task_data\": {\"duration_ms\": 5}},"
  " \"合并结果并生成最终报告\": {\"task_id\": \"合并结果并生成最终报告\", \"task_data\": {\"duration_ms\": 5}}},"
  " \"dependencies\": ["
  "  {\"from_task_id\": \"下载原始数据文件\", \"to_task_id\": \"清洗并校验第一批记录\"},"
  "  {\"from_task_id\": \"下载原始数据文件\", \"to_task_id\": \"清洗并校验第二批记录\"},"
  "  {\"from_task_id\": \"下载原始数据文件\", \"to_task_id\": \"清洗并校验第三批记录\"},"
  "  {\"from_task_id\": \"下载原始数据文件\", \"to_task_id\": \"清洗并校验第四批记录\"},"
  "  {\"from_task_id\": \"清洗并校验第一批记录\", \"to_task_id\": \"合并结果并生成最终报告\"}]}";

/* At any width, no line of the live view is wider than the terminal
 * (counted in display columns: CJK names take two a character), and the
 * legend is never cut: at 80 columns and more its marks and its edges
 * take one line each. The live view goes to a file, whose width is
 * $COLUMNS. */
static void
test_live_view_widths (Fixture       *f,
                       gconstpointer  data)
{
  guint width = GPOINTER_TO_UINT (data);
  g_autofree char *previous = g_strdup (g_getenv ("COLUMNS"));
  g_autofree char *out_file = plugin_harness_path (&f->h, "live.txt");
  g_autofree char *columns = g_strdup_printf ("%u", width);
  g_autofree char *text = NULL;
  g_autofree char *rest = NULL;
  g_auto(GStrv) lines = NULL;
  const char *last;
  gboolean cut_seen = FALSE;
  guint n_legend = 0;

  g_setenv ("COLUMNS", columns, TRUE);
  plugin_harness_set (&f->h, "LiveView", "on");
  plugin_harness_set (&f->h, "Formats", "");
  plugin_harness_set (&f->h, "OutputFile", out_file);
  plugin_harness_load (&f->h);
  plugin_harness_run_json (&f->h, cjk_dag);
  g_assert_true (f->h.ok);
  orrery_plugin_engine_shutdown (f->h.engine);
  if (previous != NULL)
    g_setenv ("COLUMNS", previous, TRUE);
  else
    g_unsetenv ("COLUMNS");

  g_assert_true (g_file_get_contents (out_file, &text, NULL, NULL));
  rest = strip_own_codes (text);
  lines = g_strsplit (rest, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (display_columns (lines[i]) > width - 1)
        g_error ("%u columns: a line of %u columns: %s", width, display_columns (lines[i]), lines[i]);
      cut_seen |= strstr (lines[i], "…") != NULL;
    }
  /* The layers were wide enough to be cut. */
  g_assert_true (cut_seen);

  /* The last frame's legend, whole. */
  last = g_strrstr (rest, "Orrery cjk");
  g_assert_nonnull (last);
  g_clear_pointer (&lines, g_strfreev);
  lines = g_strsplit (last, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], "    "))
      {
        g_assert_null (strstr (lines[i], "…"));
        n_legend++;
      }
  g_assert_nonnull (strstr (last, "⊘ cancelled"));
  g_assert_nonnull (strstr (last, "⟳ to retry"));
  g_assert_nonnull (strstr (last, "? conditional"));
  if (width >= 80)
    g_assert_cmpuint (n_legend, ==, 2);
  else
    g_assert_cmpuint (n_legend, >, 2);
}

typedef struct
{
  Fixture  *f;
  char     *out_file;
  gboolean  seen;
  guint     poll_id;
} RetryWatch;

/* Polls the live view's output until a frame lists b as waiting for its
 * retry, then cancels the run (the retry is far off). */
static gboolean
poll_retry_frame (gpointer data)
{
  RetryWatch *w = data;
  g_autofree char *text = NULL;
  const char *last;

  if (!g_file_get_contents (w->out_file, &text, NULL, NULL))
    return G_SOURCE_CONTINUE;
  last = g_strrstr (text, "Orrery small");
  if (last == NULL || strstr (last, "Waiting to retry (1)") == NULL || strstr (last, "⟳ b") == NULL)
    return G_SOURCE_CONTINUE;
  w->seen = TRUE;
  /* In that frame b is not listed as running, and the counts say so. */
  g_assert_null (strstr (last, "▶ b"));
  g_assert_nonnull (strstr (last, "attempt 2 in "));
  g_assert_nonnull (strstr (last, "L1  ⟳ b"));
  g_assert_nonnull (strstr (last, "  ▶ 0  ⟳ 1"));
  orrery_orchestrator_cancel (w->f->h.orch, "seen");
  w->poll_id = 0;
  return G_SOURCE_REMOVE;
}

static gboolean
on_retrying (OrreryEvent  *event,
             gpointer      user_data,
             GError      **error)
{
  RetryWatch *w = user_data;

  if (orrery_event_get_event_type (event) == ORRERY_EVENT_TASK_RETRYING && w->poll_id == 0 && !w->seen)
    w->poll_id = g_timeout_add (10, poll_retry_frame, w);
  return TRUE;
}

/* A task waiting for its retry is shown as such, in its layer, in a list
 * of its own with its next attempt, and in the counts, not as running. */
static void
test_live_view_retry_waiting (Fixture       *f,
                              gconstpointer  data)
{
  g_autofree char *out_file = plugin_harness_path (&f->h, "live.txt");
  RetryWatch w = { f, out_file, FALSE, 0 };
  g_autoptr(OrreryObserver) probe = orrery_func_observer_new ("probe", on_retrying, &w, NULL);
  const OrreryEventType types[] = { ORRERY_EVENT_TASK_RETRYING };

  /* The retry is 20 s away: the test ends (cancels) once it saw the frame. */
  orrery_orchestrator_set_retry_policy (f->h.orch, 20000, 1.0, 20000);
  plugin_harness_set (&f->h, "OutputFile", out_file);
  plugin_harness_set (&f->h, "LiveView", "on");
  plugin_harness_set (&f->h, "Formats", "");
  plugin_harness_load (&f->h);
  f->h.probe_id = orrery_event_bus_subscribe (f->h.bus, probe, types, G_N_ELEMENTS (types));
  plugin_harness_run_json (&f->h, plugin_harness_small_dag);
  g_clear_handle_id (&w.poll_id, g_source_remove);
  g_assert_true (w.seen);
  g_assert_false (f->h.ok);
  orrery_plugin_engine_shutdown (f->h.engine);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/plugin-visualizer/live-view-log-lines", Fixture, NULL, fixture_set_up,
              test_live_view_log_lines, fixture_tear_down);
  g_test_add ("/plugin-visualizer/lines-and-dot", Fixture, NULL, fixture_set_up, test_lines_and_dot, fixture_tear_down);
  g_test_add ("/plugin-visualizer/off-subscribes-nothing", Fixture, NULL, fixture_set_up,
              test_off_subscribes_nothing, fixture_tear_down);
  g_test_add ("/plugin-visualizer/dot-only", Fixture, NULL, fixture_set_up, test_dot_only, fixture_tear_down);
  g_test_add ("/plugin-visualizer/dot-is-the-sdk-writer", Fixture, NULL, fixture_set_up,
              test_dot_is_the_sdk_writer, fixture_tear_down);
  g_test_add ("/plugin-visualizer/live-view-coalesced", Fixture, NULL, fixture_set_up,
              test_live_view_coalesced, fixture_tear_down);
  g_test_add ("/plugin-visualizer/hostile-text", Fixture, NULL, fixture_set_up, test_hostile_text, fixture_tear_down);
  g_test_add ("/plugin-visualizer/hostile-text-live", Fixture, NULL, fixture_set_up, test_hostile_text_live,
              fixture_tear_down);
  g_test_add ("/plugin-visualizer/live-view-burst", Fixture, NULL, fixture_set_up, test_live_view_burst,
              fixture_tear_down);
  g_test_add ("/plugin-visualizer/dot-deadline", Fixture, NULL, fixture_set_up, test_dot_deadline, fixture_tear_down);
  g_test_add ("/plugin-visualizer/svg-max-nodes", Fixture, NULL, fixture_set_up, test_svg_max_nodes, fixture_tear_down);
  g_test_add ("/plugin-visualizer/svg-core-plugins", Fixture, GINT_TO_POINTER (TRUE), fixture_set_up,
              test_svg_core_plugins, fixture_tear_down);
  g_test_add ("/plugin-visualizer/svg-all-plugins-for-other-text", Fixture, GINT_TO_POINTER (FALSE),
              fixture_set_up, test_svg_core_plugins, fixture_tear_down);
  g_test_add ("/plugin-visualizer/svg-short-run-once", Fixture, NULL, fixture_set_up, test_svg_short_run_once,
              fixture_tear_down);
  g_test_add ("/plugin-visualizer/svg-after-modification", Fixture, NULL, fixture_set_up,
              test_svg_after_modification, fixture_tear_down);
  g_test_add ("/plugin-visualizer/lines-flushed-at-end", Fixture, NULL, fixture_set_up, test_lines_flushed_at_end,
              fixture_tear_down);
  g_test_add ("/plugin-visualizer/bad-config", Fixture, NULL, fixture_set_up, test_bad_config, fixture_tear_down);
  g_test_add ("/plugin-visualizer/live-view-widths/40", Fixture, GUINT_TO_POINTER (40), fixture_set_up,
              test_live_view_widths, fixture_tear_down);
  g_test_add ("/plugin-visualizer/live-view-widths/80", Fixture, GUINT_TO_POINTER (80), fixture_set_up,
              test_live_view_widths, fixture_tear_down);
  g_test_add ("/plugin-visualizer/live-view-widths/120", Fixture, GUINT_TO_POINTER (120), fixture_set_up,
              test_live_view_widths, fixture_tear_down);
  g_test_add ("/plugin-visualizer/live-view-retry-waiting", Fixture, NULL, fixture_set_up,
              test_live_view_retry_waiting, fixture_tear_down);
  return g_test_run ();
}
