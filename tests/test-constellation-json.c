/* test-constellation-json.c: the UFO-format fixtures, round trips and
 * every malformed-input case.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <string.h>
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

/* Comparing what Orrery writes with the file it read. */

static gboolean
is_number_node (JsonNode *n)
{
  return JSON_NODE_HOLDS_VALUE (n) && (json_node_get_value_type (n) == G_TYPE_INT64 ||
                                       json_node_get_value_type (n) == G_TYPE_DOUBLE);
}

static gboolean
nodes_equal (JsonNode *a,
             JsonNode *b)
{
  if (is_number_node (a) && is_number_node (b))
    return json_node_get_double (a) == json_node_get_double (b);
  return json_node_equal (a, b);
}

/* An enum name as the writer spells it: lower case, '_' for '-'. */
static char *
enum_text (JsonNode *n)
{
  char *s = g_ascii_strdown (json_node_get_string (n), -1);

  return g_strdelimit (s, "-", '_');
}

static gint64
time_usec (JsonNode *n)
{
  g_autoptr(GTimeZone) utc = g_time_zone_new_utc ();
  g_autoptr(GDateTime) dt = NULL;

  if (JSON_NODE_HOLDS_NULL (n))
    return 0;
  if (is_number_node (n))
    return (gint64) (json_node_get_double (n) * G_USEC_PER_SEC);
  dt = g_date_time_new_from_iso8601 (json_node_get_string (n), utc);
  g_assert_nonnull (dt);
  return g_date_time_to_unix (dt) * G_USEC_PER_SEC + g_date_time_get_microsecond (dt);
}

static gboolean
same_ids (JsonNode *a,
          JsonNode *b)
{
  g_autoptr(GHashTable) in_a = g_hash_table_new (g_str_hash, g_str_equal);
  JsonArray *x = json_node_get_array (a), *y = json_node_get_array (b);

  if (json_array_get_length (x) != json_array_get_length (y))
    return FALSE;
  for (guint i = 0; i < json_array_get_length (x); i++)
    g_hash_table_add (in_a, (gpointer) json_array_get_string_element (x, i));
  for (guint i = 0; i < json_array_get_length (y); i++)
    if (!g_hash_table_contains (in_a, json_array_get_string_element (y, i)))
      return FALSE;
  return TRUE;
}

/* Every member of @in is in @out, with its value: verbatim for what
 * Orrery does not know, in Orrery's spelling for what it reads (enum
 * names, times, priorities by name, lists in another order). */
static void
assert_members_kept (JsonObject *in,
                     JsonObject *out,
                     const char *where)
{
  const char *const enums[] = { "status", "dependency_type", "state", NULL };
  const char *const times[] = { "execution_start_time", "execution_end_time", NULL };
  const char *const lists[] = { "dependencies", "dependents", NULL };
  JsonObjectIter it;
  const char *name;
  JsonNode *v;

  json_object_iter_init_ordered (&it, in);
  while (json_object_iter_next_ordered (&it, &name, &v))
    {
      JsonNode *w = json_object_get_member (out, name);
      gboolean same;

      /* What Orrery derives again rather than keeps. */
      if (g_str_equal (name, "last_evaluation_result"))
        continue;
      if (g_str_equal (name, "task_description") && w == NULL)
        w = json_object_get_member (out, "description");
      if (w == NULL)
        g_error ("%s: member “%s” was not written back", where, name);
      if (g_strv_contains (enums, name) && JSON_NODE_HOLDS_VALUE (v))
        {
          g_autofree char *a = enum_text (v), *b = enum_text (w);
          same = g_str_equal (a, b);
        }
      else if (g_str_equal (name, "priority") && !is_number_node (v))
        {
          OrreryTaskPriority prio;
          same = orrery_task_priority_from_string (json_node_get_string (v), &prio) &&
                 json_node_get_int (w) == prio;
        }
      else if (g_strv_contains (times, name) || (g_str_equal (name, "created_at") && strstr (where, "task")))
        same = time_usec (v) == time_usec (w);
      else if (g_strv_contains (lists, name) && JSON_NODE_HOLDS_ARRAY (v))
        same = same_ids (v, w);
      else if (g_str_equal (name, "condition") && JSON_NODE_HOLDS_VALUE (v) && JSON_NODE_HOLDS_OBJECT (w))
        {
          /* A condition as text, written as an object. */
          g_autoptr(OrreryCondition) cond = orrery_condition_parse (json_node_get_string (v), NULL);
          JsonObject *wo = json_node_get_object (w);
          g_autoptr(GVariant) value = json_gvariant_deserialize (json_object_get_member (wo, "value"), NULL, NULL);

          same = cond != NULL && g_str_equal (orrery_condition_get_field (cond), json_object_get_string_member (wo, "field")) &&
                 g_variant_equal (orrery_condition_get_value (cond), value);
        }
      else
        same = nodes_equal (v, w);
      if (!same)
        g_error ("%s: member “%s” is %s, written as %s", where, name,
                 json_to_string (v, FALSE), json_to_string (w, FALSE));
    }
}

/* The elements of a collection, by the key the writer gives them. */
static JsonObject *
collection_by_key (JsonNode *n,
                   gboolean  lines)
{
  JsonObject *o = json_object_new ();

  if (JSON_NODE_HOLDS_OBJECT (n))
    {
      json_object_unref (o);
      return json_object_ref (json_node_get_object (n));
    }
  for (guint i = 0; i < json_array_get_length (json_node_get_array (n)); i++)
    {
      JsonNode *e = json_array_get_element (json_node_get_array (n), i);
      JsonObject *eo = json_node_get_object (e);
      g_autofree char *key = NULL;

      if (!lines)
        key = g_strdup (json_object_get_string_member (eo, "task_id"));
      else if (json_object_has_member (eo, "line_id"))
        key = g_strdup (json_object_get_string_member (eo, "line_id"));
      else
        key = g_strdup_printf ("%s->%s", json_object_get_string_member (eo, "from_task_id"),
                               json_object_get_string_member (eo, "to_task_id"));
      json_object_set_member (o, key, json_node_copy (e));
    }
  return o;
}

static void
assert_file_kept (const char *path,
                  const char *written)
{
  g_autoptr(JsonParser) pin = json_parser_new ();
  g_autoptr(JsonParser) pout = json_parser_new ();
  JsonObject *in, *out;
  const char *const collections[] = { "tasks", "dependencies" };

  g_assert_true (json_parser_load_from_file (pin, path, NULL));
  g_assert_true (json_parser_load_from_data (pout, written, -1, NULL));
  in = json_node_get_object (json_parser_get_root (pin));
  out = json_node_get_object (json_parser_get_root (pout));
  for (guint c = 0; c < G_N_ELEMENTS (collections); c++)
    {
      g_autoptr(JsonObject) a = NULL, b = NULL;
      JsonObjectIter it;
      const char *key;
      JsonNode *v;

      if (!json_object_has_member (in, collections[c]))
        continue;
      a = collection_by_key (json_object_get_member (in, collections[c]), c == 1);
      b = collection_by_key (json_object_get_member (out, collections[c]), c == 1);
      g_assert_cmpuint (json_object_get_size (a), ==, json_object_get_size (b));
      json_object_iter_init_ordered (&it, a);
      while (json_object_iter_next_ordered (&it, &key, &v))
        {
          g_autofree char *where = g_strdup_printf ("%s %s.%s", path, collections[c] ? "task" : "", key);
          g_autofree char *at = g_strdup_printf ("%s: %s.%s", path, c == 0 ? "task" : "line", key);

          g_assert_true (json_object_has_member (b, key));
          assert_members_kept (json_node_get_object (v), json_object_get_object_member (b, key), at);
        }
    }
  {
    g_autoptr(JsonObject) root = json_object_new ();
    JsonObjectIter it;
    const char *name;
    JsonNode *v;

    /* The root's own members (the collections compared above). */
    json_object_iter_init_ordered (&it, in);
    while (json_object_iter_next_ordered (&it, &name, &v))
      if (!g_str_equal (name, "tasks") && !g_str_equal (name, "dependencies"))
        json_object_set_member (root, name, json_node_copy (v));
    assert_members_kept (root, out, path);
  }
}

static void
test_round_trip (void)
{
  const char *fixtures[] = { "ufo-keyed.json", "ufo-array.json" };

  for (guint i = 0; i < G_N_ELEMENTS (fixtures); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(OrreryConstellation) c = load_fixture (fixtures[i], &error);
      g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "constellations", fixtures[i], NULL);
      g_autofree char *first = NULL, *second = NULL;
      g_autoptr(OrreryConstellation) again = NULL;
      g_autofree char *tmp = NULL;
      g_autoptr(OrreryConstellation) from_file = NULL;
      g_autofree char *third = NULL;
      g_autofree char *as_read = NULL;
      int fd;

      g_assert_no_error (error);
      /* What is written holds every member of the file, known or not. */
      as_read = orrery_constellation_to_data (c, NULL);
      assert_file_kept (path, as_read);

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

static OrreryConstellation *
load_text (const char  *text,
           GError     **error)
{
  return orrery_constellation_new_from_data (text, -1, "doc", error);
}

static void
assert_problems (const char              *text,
                 OrreryConstellationError  code,
                 const char *const        *fragments)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryConstellation) c = load_text (text, &error);

  g_assert_null (c);
  g_assert_error (error, ORRERY_CONSTELLATION_ERROR, (gint) code);
  for (guint k = 0; fragments[k]; k++)
    if (!strstr (error->message, fragments[k]))
      g_error ("“%s” not in:\n%s", fragments[k], error->message);
}

/* The loader handles the tasks and dependency lines as the parser reads
 * them; lines written before the tasks wait for them. */
static void
test_dependencies_first (void)
{
  const char *tasks =
    "\"tasks\": {\"a\": {\"task_id\": \"a\", \"created_at\": 1, \"dependencies\": [], \"dependents\": [\"b\", \"c\"]},"
    "          \"b\": {\"task_id\": \"b\", \"created_at\": 2, \"dependencies\": [\"a\"], \"dependents\": [\"c\"], \"mine\": [1]},"
    "          \"c\": {\"task_id\": \"c\", \"created_at\": 3, \"dependencies\": [\"a\", \"b\"], \"dependents\": []}}";
  const char *deps =
    "\"dependencies\": {\"a->b\": {\"from_task_id\": \"a\", \"to_task_id\": \"b\", \"dependency_type\": \"SUCCESS_ONLY\"},"
    "                 \"l2\": {\"from_task_id\": \"a\", \"to_task_id\": \"c\", \"dependency_type\": \"conditional\","
    "                          \"condition\": {\"field\": \"exit_status\", \"operator\": \"==\", \"value\": 0},"
    "                          \"condition_description\": \"a passed\", \"weight\": 3},"
    "                 \"b->c\": {\"from_task_id\": \"b\", \"to_task_id\": \"c\", \"dependency_type\": \"completion_only\"}}";
  g_autofree char *tasks_first = g_strdup_printf ("{\"constellation_id\": \"x\", %s, %s}", tasks, deps);
  g_autofree char *deps_first = g_strdup_printf ("{%s, \"constellation_id\": \"x\", %s}", deps, tasks);
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryConstellation) one = load_text (tasks_first, &error);
  g_autoptr(OrreryConstellation) two = NULL;
  g_autofree char *text_one = NULL, *text_two = NULL;
  OrreryDependency *dep;

  g_assert_no_error (error);
  two = load_text (deps_first, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (orrery_constellation_get_n_dependencies (two), ==, 3);
  dep = orrery_constellation_get_dependency (two, "a", "c");
  g_assert_cmpstr (orrery_dependency_get_line_id (dep), ==, "l2");
  g_assert_cmpstr (orrery_dependency_get_condition_description (dep), ==, "a passed");
  g_assert_nonnull (orrery_dependency_get_condition (dep));
  g_assert_cmpint (orrery_dependency_get_dependency_type (orrery_constellation_get_dependency (two, "a", "b")), ==,
                   ORRERY_DEPENDENCY_SUCCESS_ONLY);
  text_one = orrery_constellation_to_data (one, NULL);
  text_two = orrery_constellation_to_data (two, NULL);
  g_assert_cmpstr (text_one, ==, text_two);

  /* The array forms too, and the tasks' lists still checked. */
  assert_problems ("{\"dependencies\": [{\"from_task_id\": \"a\", \"to_task_id\": \"b\"},"
                   "                   {\"from_task_id\": \"a\", \"to_task_id\": \"ghost\"},"
                   "                   {\"from_task_id\": \"b\", \"to_task_id\": \"b\"},"
                   "                   {\"from_task_id\": \"a\", \"to_task_id\": \"b\", \"dependency_type\": \"often\"},"
                   "                   {\"from_task_id\": \"a\", \"to_task_id\": \"b\"}],"
                   " \"tasks\": [{\"task_id\": \"a\", \"dependents\": []}, {\"task_id\": \"b\"}]}",
                   ORRERY_CONSTELLATION_ERROR_BAD_ENUM,
                   (const char *const[]) {
                     "doc: $.dependencies[3].dependency_type: bad enum value “often”",
                     "doc: $.dependencies[1].to_task_id: dependency on an unknown task “ghost”",
                     "doc: $.dependencies[2]: task “b” cannot depend on itself",
                     "doc: $.dependencies[4]: duplicate dependency a → b",
                     "doc: $.tasks[0].dependents: does not list “b”",
                     NULL });
}

/* Problems in the last elements of large collections keep their paths,
 * and the report keeps every problem. */
static void
test_late_problems (void)
{
  const guint n = 10000;
  GString *s = g_string_new ("{\"tasks\": [");
  g_autofree char *keyed = NULL;

  for (guint i = 0; i < n; i++)
    g_string_append_printf (s, "%s{\"task_id\": \"t%u\"%s}", i ? "," : "", i,
                            i == n - 1 ? ", \"priority\": \"URGENT\"" : i == n / 2 ? ", \"timeout\": \"soon\"" : "");
  g_string_append (s, "], \"dependencies\": [");
  for (guint i = 1; i < n; i++)
    g_string_append_printf (s, "%s{\"from_task_id\": \"t%u\", \"to_task_id\": \"%s%u\"}", i > 1 ? "," : "",
                            i - 1, i == n - 1 ? "nobody" : "t", i);
  g_string_append (s, "]}");
  assert_problems (s->str, ORRERY_CONSTELLATION_ERROR_WRONG_TYPE,
                   (const char *const[]) {
                     "doc: $.tasks[5000].timeout: wrong type",
                     "doc: $.tasks[9999].priority: bad enum value “URGENT”",
                     "doc: $.dependencies[9998].to_task_id: dependency on an unknown task “nobody9999”",
                     NULL });

  g_string_assign (s, "{\"tasks\": {");
  for (guint i = 0; i < n; i++)
    g_string_append_printf (s, "%s\"t%u\": {\"retry_count\": %s}", i ? "," : "", i, i == n - 1 ? "-1" : "1");
  g_string_append (s, "}}");
  keyed = g_string_free (s, FALSE);
  assert_problems (keyed, ORRERY_CONSTELLATION_ERROR_BAD_VALUE,
                   (const char *const[]) { "doc: $.tasks.t9999.retry_count: out of range", NULL });
}

/* The root's own fields come first in the report, wherever they are in
 * the document; past 200 problems the report says it gave up. */
static void
test_problem_order (void)
{
  GString *s = g_string_new ("{\"tasks\": [{\"task_id\": \"a\", \"priority\": \"x\"}], \"version\": -1}");
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryConstellation) c = load_text (s->str, &error);
  g_auto(GStrv) lines = NULL;

  g_assert_error (error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_WRONG_TYPE);
  g_assert_true (g_str_has_prefix (error->message, "doc: $.version: wrong type"));
  g_assert_nonnull (strstr (error->message, "\ndoc: $.tasks[0].priority: bad enum value"));
  g_clear_error (&error);

  g_string_assign (s, "{\"tasks\": [");
  for (guint i = 0; i < 300; i++)
    g_string_append_printf (s, "%s{\"task_id\": \"t%u\", \"priority\": \"x\"}", i ? "," : "", i);
  g_string_append (s, "]}");
  g_assert_null (load_text (s->str, &error));
  lines = g_strsplit (error->message, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 201);
  g_assert_cmpstr (lines[199], ==, "doc: $.tasks[199].priority: bad enum value “x” for priority "
                                   "(expected low, medium, high, critical or 1-4)");
  g_assert_cmpstr (lines[200], ==, "doc: too many problems, giving up");
  g_string_free (s, TRUE);
}

/* Fields of the root after the tasks, and unknown ones anywhere, are kept;
 * a member named like a collection but nested is just data. */
static void
test_root_fields_anywhere (void)
{
  const char *text =
    "{\"before\": [{\"tasks\": [1]}], \"tasks\": [{\"task_id\": \"a\", \"status\": \"COMPLETED\", \"result\": {\"n\": 4}},"
    "                                          {\"task_id\": \"b\", \"x\": {\"dependencies\": [2]}}],"
    " \"between\": {\"dependencies\": {}}, \"dependencies\": [{\"from_task_id\": \"a\", \"to_task_id\": \"b\"}],"
    " \"constellation_id\": \"late\", \"name\": \"Late\", \"state\": \"EXECUTING\", \"version\": 7, \"after\": \"z\"}";
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryConstellation) c = load_text (text, &error);
  g_autoptr(OrreryConstellation) again = NULL;
  g_autofree char *first = NULL, *second = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (orrery_constellation_get_id (c), ==, "late");
  g_assert_cmpstr (orrery_constellation_get_name (c), ==, "Late");
  g_assert_cmpint (orrery_constellation_get_state (c), ==, ORRERY_CONSTELLATION_STATE_EXECUTING);
  g_assert_cmpuint (orrery_constellation_get_n_tasks (c), ==, 2);
  g_assert_nonnull (orrery_task_get_extra (orrery_constellation_get_task (c, "b"), "x"));
  first = orrery_constellation_to_data (c, NULL);
  g_assert_nonnull (strstr (first, "\"before\""));
  g_assert_nonnull (strstr (first, "\"between\""));
  g_assert_nonnull (strstr (first, "\"after\""));
  again = load_text (first, &error);
  g_assert_no_error (error);
  second = orrery_constellation_to_data (again, NULL);
  g_assert_cmpstr (first, ==, second);
}

/* Text json-glib accepts but the loader's scan of the root does not
 * follow is loaded from the whole tree, as before. */
static void
test_unusual_text (void)
{
  const struct { const char *text; guint n_tasks; const char *problem; } cases[] = {
    { "{/* c */ \"tasks\": [{\"task_id\": \"a\"}, {\"task_id\": \"b\"}], \"dependencies\": []}", 2, NULL },
    { "{'tasks': [{'task_id': 'a'}]}", 1, NULL },
    { "\xef\xbb\xbf{\"tasks\": [{\"task_id\": \"a\"}]}", 1, NULL },
    { "{\"tasks\": [{\"task_id\": \"a\"}], \"tasks\": [{\"task_id\": \"b\"}, {\"task_id\": \"c\"}]}", 2, NULL },
    { "{\"ta\\u0073ks\": [{\"task_id\": \"a\"}, {\"task_id\": \"a\"}]}", 0, "doc: $.tasks[1]: duplicate task id “a”" },
    { "{\"tasks\": [{\"task_id\": \"a\"}], \"dependencies\": [{\"from_task_id\": \"a\", \"to_task_id\": \"z\"}]} ", 0,
      "doc: $.dependencies[0].to_task_id: dependency on an unknown task “z”" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(OrreryConstellation) c = load_text (cases[i].text, &error);

      if (cases[i].problem)
        {
          g_assert_null (c);
          g_assert_nonnull (error);
          if (!strstr (error->message, cases[i].problem))
            g_error ("case %u: “%s” not in:\n%s", i, cases[i].problem, error->message);
        }
      else
        {
          g_assert_no_error (error);
          g_assert_cmpuint (orrery_constellation_get_n_tasks (c), ==, cases[i].n_tasks);
        }
    }
}

/* The tasks' own lists, in a file without dependency lines, are reported
 * at their place in an array; a list with a bad element is not used. */
static void
test_lists_paths (void)
{
  assert_problems ("{\"tasks\": [{\"task_id\": \"x\"}, {\"task_id\": \"y\", \"dependencies\": [\"x\", \"ghost\", \"y\"]}]}",
                   ORRERY_CONSTELLATION_ERROR_UNKNOWN_TASK,
                   (const char *const[]) {
                     "doc: $.tasks[1].dependencies[1]: dependency on an unknown task “ghost”",
                     "doc: $.tasks[1].dependencies[2]: task “y” cannot depend on itself",
                     NULL });
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(OrreryConstellation) c =
      load_text ("{\"tasks\": [{\"task_id\": \"x\", \"dependencies\": [1], \"dependents\": [\"y\"]},"
                 "           {\"task_id\": \"y\", \"dependencies\": [\"x\"]}],"
                 " \"dependencies\": [{\"from_task_id\": \"x\", \"to_task_id\": \"y\"}]}", &error);

    g_assert_null (c);
    g_assert_cmpstr (error->message, ==, "doc: $.tasks[0].dependencies[0]: wrong type: expected a task id, found a number");
  }
}

/* A file is mapped and parsed from memory: errors still name it. */
static void
test_file_errors (void)
{
  g_autofree char *tmp = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryConstellation) c = NULL;
  g_autofree char *expected = NULL;
  int fd = g_file_open_tmp ("orrery-XXXXXX.json", &tmp, NULL);

  close (fd);
  g_assert_true (g_file_set_contents (tmp, "{\"tasks\": [{\"task_id\": \"a\"},\n {\"task_id\": }]}", -1, NULL));
  c = orrery_constellation_new_from_file (tmp, &error);
  g_assert_error (error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_NOT_JSON);
  expected = g_strdup_printf ("%s: not JSON: %s:2:", tmp, tmp);
  g_assert_true (g_str_has_prefix (error->message, expected));
  g_clear_error (&error);

  g_assert_true (g_file_set_contents (tmp, "", 0, NULL));
  c = orrery_constellation_new_from_file (tmp, &error);
  g_assert_error (error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_WRONG_TYPE);
  g_assert_nonnull (strstr (error->message, ": $: wrong type: a constellation is an object, found nothing"));
  g_clear_error (&error);
  g_unlink (tmp);

  c = orrery_constellation_new_from_file (tmp, &error);
  g_assert_error (error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_IO);
  g_assert_true (g_str_has_prefix (error->message, tmp));
}

/* Loads @text; expects it refused with @code and a message holding @what. */
static void
assert_refused (const char *text,
                gssize      length,
                gint        code,
                const char *what)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryConstellation) c = orrery_constellation_new_from_data (text, length, "doc", &error);

  g_assert_null (c);
  g_assert_error (error, ORRERY_CONSTELLATION_ERROR, code);
  if (strstr (error->message, what) == NULL)
    g_error ("expected “%s” in “%s”", what, error->message);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
}

static char *
nested (const char *open,
        const char *close,
        guint       depth,
        const char *inside)
{
  GString *s = g_string_new ("{\"tasks\": {\"a\": {\"task_data\": ");

  for (guint i = 0; i < depth; i++)
    g_string_append (s, open);
  g_string_append (s, inside);
  for (guint i = 0; i < depth; i++)
    g_string_append (s, close);
  g_string_append (s, "}}}");
  return g_string_free (s, FALSE);
}

/* 50,000 levels overflowed json-glib's stack; refused before it parses,
 * whether the loader streams or falls back to the whole tree. */
static void
test_depth (void)
{
  g_autofree char *deep = nested ("{\"x\": ", "}", 50000, "1");
  g_autofree char *deep_arrays = nested ("[", "]", 50000, "1");
  /* A comment makes the loader parse the whole tree. */
  g_autofree char *deep_tree = g_strconcat ("/* tree */", deep, NULL);
  /* The deepest accepted: root, tasks, a, task_data and 60 more, arrays
   * (as a GVariant, 3 + 60 × 2 + 1 levels of the 128 GVariant keeps). */
  g_autofree char *open60 = g_strnfill (ORRERY_CONSTELLATION_MAX_DEPTH - 4, '[');
  g_autofree char *close60 = g_strnfill (ORRERY_CONSTELLATION_MAX_DEPTH - 4, ']');
  g_autofree char *arrays60 = g_strconcat (open60, "1", close60, NULL);
  g_autofree char *limit = nested ("{\"x\": ", "}", 1, arrays60);
  /* Task data deeper than GVariant keeps (an object is 3 levels, an array
   * 2) came back cut short, as (): refused. */
  g_autofree char *objects = nested ("{\"x\": ", "}", ORRERY_CONSTELLATION_MAX_DEPTH - 3, "1");
  g_autofree char *over = nested ("{\"x\": ", "}", ORRERY_CONSTELLATION_MAX_DEPTH - 2, "1");
  /* Brackets in strings, escaped quotes and single-quoted strings are not structure. */
  g_autofree char *in_strings = nested ("{\"x\": ", "}", 10,
                                        "\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[\"");
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryConstellation) c = NULL;
  GString *many = g_string_new ("{\"tasks\": {}, \"x\": '");

  assert_refused (deep, -1, ORRERY_CONSTELLATION_ERROR_TOO_DEEP,
                  "doc: $.tasks.a.task_data.x.x.x.x.x…(48 more)….x.x.x.x.x.x.x.x: nested deeper than 64");
  assert_refused (deep_arrays, -1, ORRERY_CONSTELLATION_ERROR_TOO_DEEP, "$.tasks.a.task_data[0][0]");
  assert_refused (deep_tree, -1, ORRERY_CONSTELLATION_ERROR_TOO_DEEP, "nested deeper than 64");
  assert_refused (over, -1, ORRERY_CONSTELLATION_ERROR_TOO_DEEP, "nested deeper than 64");

  assert_refused (objects, -1, ORRERY_CONSTELLATION_ERROR_TOO_DEEP,
                  "doc: $.tasks.a.task_data: nested too deep to be kept whole");

  c = orrery_constellation_new_from_data (limit, -1, "doc", &error);
  g_assert_no_error (error);
  {
    /* Kept whole: the innermost value is still the number. */
    g_autofree char *text = g_variant_print (orrery_task_get_task_data (orrery_constellation_get_task (c, "a")), FALSE);

    g_assert_nonnull (strstr (text, "<int64 1>"));
  }
  g_clear_object (&c);
  c = orrery_constellation_new_from_data (in_strings, -1, "doc", &error);
  g_assert_no_error (error);
  g_clear_object (&c);

  for (guint i = 0; i < 100; i++)
    g_string_append (many, "[\"");
  g_string_append (many, "'}");
  c = orrery_constellation_new_from_data (many->str, many->len, "doc", &error);
  g_assert_no_error (error);
  g_string_free (many, TRUE);
}

static void
test_bad_strings (void)
{
  /* Lone surrogates: passed validation, or raised criticals, and made a
   * saved state that would not load. */
  assert_refused ("{\"tasks\": {\"a\\ud800\": {}}}", -1, ORRERY_CONSTELLATION_ERROR_NOT_UTF8,
                  "doc: $.tasks.a\\\\ud800: member name not valid UTF-8 (a lone surrogate U+D800)");
  assert_refused ("{\"tasks\": {\"a\": {\"name\": \"\\udc00\"}}}", -1, ORRERY_CONSTELLATION_ERROR_NOT_UTF8,
                  "$.tasks.a.name: not valid UTF-8 (a lone surrogate U+DC00)");
  assert_refused ("{\"tasks\": [{\"task_id\": \"a\", \"task_data\": {\"x\": [\"ok\", \"\\ud83d\"]}}]}", -1,
                  ORRERY_CONSTELLATION_ERROR_NOT_UTF8, "$.tasks[0].task_data.x[1]: not valid UTF-8");
  /* A NUL cut the command short: "echo safe" ran. */
  assert_refused ("{\"tasks\": {\"a\": {\"task_data\": {\"command\": \"echo safe\\u0000; rm -rf x\"}}}}", -1,
                  ORRERY_CONSTELLATION_ERROR_NUL_CHARACTER,
                  "$.tasks.a.task_data.command: holds a NUL character (U+0000)");
  /* Bytes that are not UTF-8, and a NUL byte. */
  assert_refused ("{\"tasks\": {\"a\": {\"name\": \"caf\xe9\"}}}", -1, ORRERY_CONSTELLATION_ERROR_NOT_UTF8,
                  "$.tasks.a.name: not valid UTF-8");
  assert_refused ("{\"tasks\": {\"a\": {\"name\": \"a\0b\"}}}", 30, ORRERY_CONSTELLATION_ERROR_NOT_UTF8,
                  "$.tasks.a.name: not valid UTF-8");
  /* Escapes JSON does not have: json-glib read \101 as octal, \0 as NUL. */
  assert_refused ("{\"tasks\": {\"a\": {\"name\": \"\\0\"}}}", -1, ORRERY_CONSTELLATION_ERROR_NOT_JSON,
                  "not JSON: a backslash before “0” is not an escape");
  assert_refused ("{\"tasks\": {\"a\": {\"name\": \"\\u12\"}}}", -1, ORRERY_CONSTELLATION_ERROR_NOT_JSON,
                  "a Unicode escape needs four hexadecimal digits");
  /* A number json-glib reads as infinity, written back as `inf`. */
  assert_refused ("{\"tasks\": {\"a\": {\"timeout\": 1e400}}}", -1, ORRERY_CONSTELLATION_ERROR_BAD_VALUE,
                  "$.tasks.a.timeout: number out of range: 1e400");
  /* json-glib read the first document and ignored the second. */
  assert_refused ("{\"tasks\": {}} {\"tasks\": {\"a\": {}}}", -1, ORRERY_CONSTELLATION_ERROR_NOT_JSON,
                  "$: not JSON: text after the end of the document");
  /* A condition's value is JSON in a string: checked too. */
  assert_refused ("{\"tasks\": {\"a\": {}, \"b\": {}}, \"dependencies\": [{\"from_task_id\": \"a\", "
                  "\"to_task_id\": \"b\", \"dependency_type\": \"conditional\", "
                  "\"condition\": \"result == \\\"\\\\ud800\\\"\"}]}", -1,
                  ORRERY_CONSTELLATION_ERROR_BAD_CONDITION, "is not a condition: its value at $: not valid UTF-8");

  /* A proper pair, and every JSON escape, load and round-trip. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(OrreryConstellation) c =
      orrery_constellation_new_from_data ("{\"tasks\": {\"a\": {\"name\": \"\\ud83d\\ude00 \\\" \\\\ \\/ \\b\\f\\n\\r\\t \\u00e9\"}}}",
                                          -1, "doc", &error);
    g_autofree char *text = NULL;
    g_autoptr(OrreryConstellation) again = NULL;

    g_assert_no_error (error);
    g_assert_cmpstr (orrery_task_get_name (orrery_constellation_get_task (c, "a")), ==,
                     "\xf0\x9f\x98\x80 \" \\ / \b\f\n\r\t \xc3\xa9");
    text = orrery_constellation_to_data (c, NULL);
    again = orrery_constellation_new_from_data (text, -1, "again", &error);
    g_assert_no_error (error);
  }
}

/* Problems that name user data are one line each, escaped. */
static void
test_messages_escaped (void)
{
  assert_refused ("{\"tasks\": [{\"task_id\": \"a\\nFORGED \\u001b[2J\"}, {\"task_id\": \"a\\nFORGED \\u001b[2J\"}]}", -1,
                  ORRERY_CONSTELLATION_ERROR_DUPLICATE_ID, "duplicate task id “a\\nFORGED \\e[2J”");
}

static void
test_cycle_cut (void)
{
  GString *s = g_string_new ("{\"tasks\": {");
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryConstellation) c = NULL;
  /* 200 members: the cut is the same for 100,000 (the fault suite runs
   * that one), and the sanitizer build stays quick. */
  const guint n = 200;

  for (guint i = 0; i < n; i++)
    g_string_append_printf (s, "%s\"t%u\": {\"dependencies\": [\"t%u\"]}", i ? ", " : "", i, (i + n - 1) % n);
  g_string_append (s, "}}");
  c = orrery_constellation_new_from_data (s->str, s->len, "doc", &error);
  g_string_free (s, TRUE);
  g_assert_null (c);
  g_assert_error (error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_CYCLE);
  /* Was every member named: a megabyte for 100,000. */
  g_assert_cmpstr (error->message, ==, "doc: $.dependencies: cycle: t0 → t1 → t2 → t3 → t4 → t5 → t6 → t7 → "
                   "… (191 more) → t199 → t0");
}

/* The state file: compact (a 40 KB document wrote 800 MB pretty), private
 * (it holds task environments and output), and the text round-trips. */
static void
test_save_compact_private (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("orrery-json-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "state.json", NULL);
  /* As deep as a document and task data go: 59 arrays around [1, 2, 3]
   * (objects that deep came back cut short, so they round-tripped too). */
  g_autofree char *open59 = g_strnfill (ORRERY_CONSTELLATION_MAX_DEPTH - 5, '[');
  g_autofree char *close59 = g_strnfill (ORRERY_CONSTELLATION_MAX_DEPTH - 5, ']');
  g_autofree char *arrays = g_strconcat (open59, "[1, 2, 3]", close59, NULL);
  g_autofree char *deep = nested ("{\"x\": ", "}", 1, arrays);
  g_autoptr(OrreryConstellation) c = orrery_constellation_new_from_data (deep, -1, "doc", &error);
  g_autoptr(OrreryConstellation) again = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  gsize length;
  GStatBuf st;

  g_assert_no_error (error);
  /* An existing world-readable file is replaced by a private one. */
  g_assert_true (g_file_set_contents_full (path, "old", -1, G_FILE_SET_CONTENTS_NONE, 0644, NULL));
  g_assert_true (orrery_constellation_save_to_file (c, path, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
  g_assert_null (strchr (contents, '\n'));
  g_assert_null (strstr (contents, "  "));
  g_assert_cmpuint (length, <, strlen (deep) + 600);

  again = orrery_constellation_new_from_file (path, &error);
  g_assert_no_error (error);
  first = orrery_constellation_to_data (c, NULL);
  second = orrery_constellation_to_data (again, NULL);
  g_assert_cmpstr (first, ==, second);
  g_assert_nonnull (strstr (contents, "[1,2,3]"));
  g_unlink (path);
  g_rmdir (dir);
}

/* Lines in an order the writer does not keep (the dependents of a task)
 * and line ids written as keys: what is written loads back the same. */
static void
test_round_trip_orders (void)
{
  const char *text =
    "{\"tasks\": {\"a\": {}, \"b\": {}, \"c\": {}},"
    " \"dependencies\": [{\"from_task_id\": \"a\", \"to_task_id\": \"c\"},"
    "                    {\"from_task_id\": \"a\", \"to_task_id\": \"b\"}]}";
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryConstellation) c = orrery_constellation_new_from_data (text, -1, "doc", &error);
  g_autofree char *first = orrery_constellation_to_data (c, NULL);
  g_autoptr(OrreryConstellation) again = orrery_constellation_new_from_data (first, -1, "again", &error);
  g_autofree char *second = orrery_constellation_to_data (again, NULL);

  g_assert_no_error (error);
  g_assert_cmpstr (first, ==, second);

  /* Two lines under one id would be written as one. */
  assert_refused ("{\"tasks\": {\"a\": {}, \"b\": {}, \"c\": {}}, \"dependencies\": ["
                  "{\"line_id\": \"l\", \"from_task_id\": \"a\", \"to_task_id\": \"b\"},"
                  "{\"line_id\": \"l\", \"from_task_id\": \"a\", \"to_task_id\": \"c\"}]}", -1,
                  ORRERY_CONSTELLATION_ERROR_DUPLICATE_DEPENDENCY, "duplicate line id “l” (a → b and a → c)");
  /* An explicit id that is another line's implied FROM->TO. */
  assert_refused ("{\"tasks\": {\"a\": {}, \"b\": {}, \"c\": {}}, \"dependencies\": ["
                  "{\"from_task_id\": \"a\", \"to_task_id\": \"b\"},"
                  "{\"line_id\": \"a->b\", \"from_task_id\": \"a\", \"to_task_id\": \"c\"}]}", -1,
                  ORRERY_CONSTELLATION_ERROR_DUPLICATE_DEPENDENCY, "duplicate line id “a->b”");
}

/* An edit or a build that adds a task with an empty id: the saved
 * constellation would not load again. */
static void
test_empty_id_refused (void)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("c", NULL);
  g_autoptr(OrreryTask) t = orrery_task_new ("", NULL);
  g_autoptr(OrreryEditBatch) batch = orrery_edit_batch_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) mods = NULL;

  g_assert_false (orrery_constellation_add_task (c, t, &error));
  g_assert_error (error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_MISSING_FIELD);
  g_clear_error (&error);
  orrery_edit_batch_add_task (batch, t);
  mods = orrery_constellation_apply_edits (c, batch, &error);
  g_assert_null (mods);
  g_assert_error (error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_MISSING_FIELD);
  g_assert_cmpuint (orrery_constellation_get_n_tasks (c), ==, 0);
  g_assert_cmpuint (orrery_constellation_get_version (c), ==, 0);
}

/* The local device's check, without running anything, in JSON's words. */
static void
test_local_task_data (void)
{
  static const struct { const char *data; const char *message; } cases[] = {
    { "{\"command\": 42}", "task “a”: “command” must be a string or a list of strings, not a number" },
    { "{\"command\": [\"ls\", true]}", "not a list holding a boolean" },
    { "{\"command\": {\"x\": 1}}", "not an object" },
    { "{\"command\": \"\"}", "task “a” has an empty command" },
    { "{}", "task “a” has no command" },
    { "{\"command\": \"true\", \"env\": [\"A=1\"]}", "“env” must be an object of strings, not a list" },
    { "{\"command\": \"true\", \"env\": {\"A\": 1}}", "environment variable “A” must be a string, not a number" },
    { "{\"command\": \"true\", \"env\": {\"A=B\": \"1\"}}", "“A=B” is not an environment variable name" },
    { "{\"command\": \"true\", \"cwd\": 1.5}", "“cwd” must be a string, not a number" },
    { "{\"command\": \"true\", \"capabilities\": \"gpu\"}", NULL },
    { "{\"command\": \"true\", \"capabilities\": [1]}", "“capabilities” must be a list of strings, not a list" },
    { "{\"command\": [\"sh\", \"-c\", \"true\"], \"env\": {\"A\": \"1\"}, \"cwd\": \"/\"}", NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = g_strdup_printf ("{\"tasks\": {\"a\": {\"task_data\": %s}}}", cases[i].data);
      g_autoptr(GError) error = NULL;
      g_autoptr(OrreryConstellation) c = orrery_constellation_new_from_data (text, -1, "doc", &error);
      gboolean ok;

      g_assert_no_error (error);
      ok = orrery_local_device_check_task_data (orrery_constellation_get_task (c, "a"), &error);
      if (cases[i].message == NULL)
        {
          g_assert_no_error (error);
          g_assert_true (ok);
          continue;
        }
      g_assert_false (ok);
      g_assert_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_TASK_DATA);
      if (strstr (error->message, cases[i].message) == NULL)
        g_error ("%s: expected “%s” in “%s”", cases[i].data, cases[i].message, error->message);
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
  g_test_add_func ("/constellation-json/dependencies-first", test_dependencies_first);
  g_test_add_func ("/constellation-json/late-problems", test_late_problems);
  g_test_add_func ("/constellation-json/problem-order", test_problem_order);
  g_test_add_func ("/constellation-json/root-fields-anywhere", test_root_fields_anywhere);
  g_test_add_func ("/constellation-json/unusual-text", test_unusual_text);
  g_test_add_func ("/constellation-json/lists-paths", test_lists_paths);
  g_test_add_func ("/constellation-json/file-errors", test_file_errors);
  g_test_add_func ("/constellation-json/depth", test_depth);
  g_test_add_func ("/constellation-json/bad-strings", test_bad_strings);
  g_test_add_func ("/constellation-json/messages-escaped", test_messages_escaped);
  g_test_add_func ("/constellation-json/cycle-cut", test_cycle_cut);
  g_test_add_func ("/constellation-json/save-compact-private", test_save_compact_private);
  g_test_add_func ("/constellation-json/round-trip-orders", test_round_trip_orders);
  g_test_add_func ("/constellation-json/empty-id-refused", test_empty_id_refused);
  g_test_add_func ("/constellation-json/local-task-data", test_local_task_data);
  return g_test_run ();
}
