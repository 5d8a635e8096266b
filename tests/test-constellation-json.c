/* test-constellation-json.c: the UFO-format fixtures, round trips and
 * every malformed-input case.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <glib/gstdio.h>
#include <orrery.h>

static OrreryConstellation *
load_fixture (const char *name,
              GError    **error)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "constellations", name, NULL);
  return orrery_constellation_new_from_file (path, error);
}

static void
test_ufo_keyed (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryConstellation) c = load_fixture ("ufo-keyed.json", &error);
  OrreryTask *fetch, *clean, *report;
  g_autoptr(GPtrArray) ready = NULL;
  g_autoptr(GPtrArray) newly = NULL;
  g_autoptr(JsonNode) none = NULL;
  const char *const *tips;
  OrreryDependency *dep;

  g_assert_no_error (error);
  g_assert_cmpstr (orrery_constellation_get_id (c), ==, "ufo-keyed-1");
  g_assert_cmpuint (orrery_constellation_get_n_tasks (c), ==, 4);
  g_assert_cmpuint (orrery_constellation_get_n_dependencies (c), ==, 3);
  fetch = orrery_constellation_get_task (c, "fetch");
  clean = orrery_constellation_get_task (c, "clean");
  report = orrery_constellation_get_task (c, "report");
  g_assert_cmpint (orrery_task_get_status (fetch), ==, ORRERY_TASK_STATUS_COMPLETED);
  g_assert_cmpint (orrery_task_get_priority (fetch), ==, ORRERY_TASK_PRIORITY_HIGH);
  g_assert_cmpint (orrery_task_get_priority (clean), ==, ORRERY_TASK_PRIORITY_HIGH);
  g_assert_cmpint (orrery_task_get_priority (report), ==, ORRERY_TASK_PRIORITY_LOW);
  g_assert_cmpstr (orrery_task_get_device_type (clean), ==, "LINUX");
  g_assert_cmpstr (orrery_task_get_target_device_id (fetch), ==, "linux_1");
  g_assert_cmpfloat (orrery_task_get_timeout (fetch), ==, 30.0);
  g_assert_cmpuint (orrery_task_get_retry_count (fetch), ==, 2);
  g_assert_cmpuint (orrery_task_get_attempt (fetch), ==, 1);
  g_assert_cmpfloat (orrery_task_get_duration (fetch), ==, 3.5);
  tips = orrery_task_get_tips (fetch);
  g_assert_cmpstr (tips[1], ==, "retry on 503");
  g_assert_nonnull (orrery_task_get_extra (fetch, "expected_output_type"));
  g_assert_nonnull (orrery_task_get_extra (report, "custom_field"));
  g_assert_null (orrery_task_get_extra (fetch, "task_description"));
  dep = orrery_constellation_get_dependency (c, "fetch", "report");
  g_assert_cmpint (orrery_dependency_get_dependency_type (dep), ==, ORRERY_DEPENDENCY_CONDITIONAL);
  g_assert_cmpstr (orrery_dependency_get_line_id (dep), ==, "line-3");
  g_assert_true (orrery_dependency_is_satisfied (dep));   /* rows 42 > 0 */
  g_assert_cmpstr (orrery_dependency_get_condition_description (dep), ==, "there are rows");

  /* fetch is done: clean and alert are ready, critical first. */
  ready = orrery_constellation_get_ready_tasks (c);
  g_assert_cmpuint (ready->len, ==, 2);
  g_assert_cmpstr (orrery_task_get_id (ready->pdata[0]), ==, "alert");
  g_assert_cmpstr (orrery_task_get_id (ready->pdata[1]), ==, "clean");
  g_assert_true (orrery_constellation_mark_task_started (c, "clean", NULL));
  newly = orrery_constellation_mark_task_completed (c, "clean", TRUE, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (newly->len, ==, 1);
  g_assert_cmpstr (orrery_task_get_id (newly->pdata[0]), ==, "report");
}

static void
test_ufo_array (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryConstellation) c = load_fixture ("ufo-array.json", &error);
  g_autoptr(GPtrArray) ready = NULL;
  g_autoptr(GPtrArray) newly = NULL;
  g_autoptr(GPtrArray) skipped = NULL;
  OrreryCondition *cond;

  g_assert_no_error (error);
  g_assert_cmpuint (orrery_constellation_get_n_tasks (c), ==, 4);
  ready = orrery_constellation_get_ready_tasks (c);
  g_assert_cmpuint (ready->len, ==, 2);
  g_assert_cmpstr (orrery_task_get_id (ready->pdata[0]), ==, "b");   /* critical */
  cond = orrery_dependency_get_condition (orrery_constellation_get_dependency (c, "c", "d"));
  g_assert_nonnull (cond);
  g_assert_cmpstr (orrery_condition_get_field (cond), ==, "exit_status");
  g_assert_cmpint (orrery_condition_get_operator (cond), ==, ORRERY_CONDITION_EQ);

  g_assert_true (orrery_constellation_mark_task_started (c, "a", NULL));
  g_clear_pointer (&newly, g_ptr_array_unref);
  newly = orrery_constellation_mark_task_completed (c, "a", TRUE, NULL, NULL, NULL, NULL);
  g_assert_cmpuint (newly->len, ==, 0);
  g_clear_pointer (&newly, g_ptr_array_unref);
  g_assert_true (orrery_constellation_mark_task_started (c, "b", NULL));
  newly = orrery_constellation_mark_task_completed (c, "b", FALSE, NULL, NULL, NULL, NULL);
  g_assert_cmpuint (newly->len, ==, 1);   /* completion-only from b */
  g_clear_pointer (&newly, g_ptr_array_unref);
  g_assert_true (orrery_constellation_mark_task_started (c, "c", NULL));
  newly = orrery_constellation_mark_task_completed (c, "c", TRUE, g_variant_new_parsed ("{'exit_status': <3>}"),
                                                    NULL, &skipped, NULL);
  g_assert_cmpuint (newly->len, ==, 0);
  g_assert_cmpuint (skipped->len, ==, 1);
  g_assert_true (orrery_constellation_is_finished (c));
}

static void
test_lists_only (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryConstellation) c = load_fixture ("ufo-lists-only.json", &error);

  g_assert_no_error (error);
  g_assert_nonnull (orrery_constellation_get_dependency (c, "x", "y"));
}

static void
test_round_trip (void)
{
  const char *fixtures[] = { "ufo-keyed.json", "ufo-array.json" };

  for (guint i = 0; i < G_N_ELEMENTS (fixtures); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(OrreryConstellation) c = load_fixture (fixtures[i], &error);
      g_autofree char *first = NULL, *second = NULL;
      g_autoptr(OrreryConstellation) again = NULL;
      g_autofree char *tmp = NULL;
      g_autoptr(OrreryConstellation) from_file = NULL;
      g_autofree char *third = NULL;
      int fd;

      g_assert_no_error (error);
      /* run a bit so statuses and results are in play */
      if (orrery_constellation_get_n_ready (c) > 0)
        {
          g_autoptr(GPtrArray) r = orrery_constellation_get_ready_tasks (c);
          const char *id = orrery_task_get_id (r->pdata[0]);
          g_autoptr(GPtrArray) n = NULL;

          orrery_constellation_mark_task_started (c, id, NULL);
          n = orrery_constellation_mark_task_completed (c, id, TRUE,
                                                        g_variant_new_parsed ("{'exit_status': <0>, 'stdout': <'ok\\n'>}"),
                                                        NULL, NULL, NULL);
        }
      first = orrery_constellation_to_data (c, NULL);
      again = orrery_constellation_new_from_data (first, -1, "first", &error);
      g_assert_no_error (error);
      second = orrery_constellation_to_data (again, NULL);
      g_assert_cmpstr (first, ==, second);

      fd = g_file_open_tmp ("orrery-XXXXXX.json", &tmp, NULL);
      close (fd);
      g_assert_true (orrery_constellation_save_to_file (again, tmp, &error));
      g_assert_no_error (error);
      from_file = orrery_constellation_new_from_file (tmp, &error);
      g_assert_no_error (error);
      third = orrery_constellation_to_data (from_file, NULL);
      g_assert_cmpstr (first, ==, third);
      g_unlink (tmp);
    }
}

static void
test_stream (void)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "constellations", "ufo-array.json", NULL);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFileInputStream) in = g_file_read (file, NULL, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryConstellation) c = orrery_constellation_new_from_stream (G_INPUT_STREAM (in), "stream", NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (orrery_constellation_get_n_tasks (c), ==, 4);
}

typedef struct
{
  const char               *file;
  OrreryConstellationError  code;
  const char               *fragments[4];
} BadCase;

static void
test_malformed (void)
{
  const BadCase cases[] = {
    { "not-json.json", ORRERY_CONSTELLATION_ERROR_NOT_JSON, { "not-json.json: not JSON" } },
    { "not-object.json", ORRERY_CONSTELLATION_ERROR_WRONG_TYPE, { ": $: wrong type" } },
    { "wrong-type.json", ORRERY_CONSTELLATION_ERROR_WRONG_TYPE,
      { "$.tasks.a.priority: wrong type", "$.tasks.a.timeout: wrong type", "$.tasks.a.tips: wrong type" } },
    { "duplicate-id.json", ORRERY_CONSTELLATION_ERROR_DUPLICATE_ID, { "$.tasks[2]: duplicate task id “a”" } },
    { "unknown-task.json", ORRERY_CONSTELLATION_ERROR_UNKNOWN_TASK,
      { "$.dependencies[0].to_task_id: dependency on an unknown task “ghost”" } },
    { "cycle.json", ORRERY_CONSTELLATION_ERROR_CYCLE, { "cycle: ", "a → b → c → a" } },
    { "bad-enum.json", ORRERY_CONSTELLATION_ERROR_BAD_ENUM,
      { "$.tasks[0].priority: bad enum value “URGENT”", "$.tasks[0].status: bad enum value “exploded”",
        "$.dependencies[0].dependency_type: bad enum value “sometimes”" } },
    { "inconsistent.json", ORRERY_CONSTELLATION_ERROR_INCONSISTENT_DEPENDENCIES,
      { "$.tasks.a.dependents: lists “c”", "$.tasks.b.dependencies: does not list “a”",
        "$.tasks.c.dependencies: lists “a”" } },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *name = g_build_filename ("bad", cases[i].file, NULL);
      g_autoptr(GError) error = NULL;
      g_autoptr(OrreryConstellation) c = load_fixture (name, &error);

      g_assert_null (c);
      g_assert_error (error, ORRERY_CONSTELLATION_ERROR, (gint) cases[i].code);
      g_assert_nonnull (strstr (error->message, cases[i].file));
      for (guint k = 0; k < G_N_ELEMENTS (cases[i].fragments) && cases[i].fragments[k]; k++)
        if (!strstr (error->message, cases[i].fragments[k]))
          g_error ("%s: “%s” not in:\n%s", cases[i].file, cases[i].fragments[k], error->message);
    }
}

static void
test_examples (void)
{
  const char *examples[] = { "build-and-test.json", "data-pipeline.json", "fan-out-fan-in.json" };

  for (guint i = 0; i < G_N_ELEMENTS (examples); i++)
    {
      g_autofree char *path = g_test_build_filename (G_TEST_DIST, "..", "data", "constellations", examples[i], NULL);
      g_autoptr(GError) error = NULL;
      g_autoptr(OrreryConstellation) c = orrery_constellation_new_from_file (path, &error);

      g_assert_no_error (error);
      g_assert_true (orrery_constellation_validate (c, NULL));
      g_assert_cmpuint (orrery_constellation_get_n_ready (c), >, 0);
    }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/constellation-json/ufo-keyed", test_ufo_keyed);
  g_test_add_func ("/constellation-json/ufo-array", test_ufo_array);
  g_test_add_func ("/constellation-json/lists-only", test_lists_only);
  g_test_add_func ("/constellation-json/round-trip", test_round_trip);
  g_test_add_func ("/constellation-json/stream", test_stream);
  g_test_add_func ("/constellation-json/malformed", test_malformed);
  g_test_add_func ("/constellation-json/examples", test_examples);
  return g_test_run ();
}
