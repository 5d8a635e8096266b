/* test-task.c: OrreryTask on its own: ids, setters and their
 * notifications, device ids and types shared, task data as loaded.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <orrery.h>

static void
count_notify (GObject    *object,
              GParamSpec *pspec,
              gpointer    user_data)
{
  GHashTable *counts = user_data;
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (counts, pspec->name));

  g_hash_table_insert (counts, (gpointer) pspec->name, GUINT_TO_POINTER (n + 1));
}

static guint
notified (GHashTable *counts,
          const char *name)
{
  return GPOINTER_TO_UINT (g_hash_table_lookup (counts, name));
}

/* A task made without an id gets a random one; with one, keeps it. */
static void
test_ids (void)
{
  g_autoptr(OrreryTask) given = orrery_task_new ("build", "Build");
  g_autoptr(OrreryTask) random1 = orrery_task_new (NULL, NULL);
  g_autoptr(OrreryTask) random2 = g_object_new (ORRERY_TYPE_TASK, NULL);
  g_autoptr(OrreryTask) by_property = g_object_new (ORRERY_TYPE_TASK, "id", "p", NULL);

  g_assert_cmpstr (orrery_task_get_id (given), ==, "build");
  g_assert_cmpstr (orrery_task_get_name (given), ==, "Build");
  g_assert_true (g_uuid_string_is_valid (orrery_task_get_id (random1)));
  g_assert_true (g_uuid_string_is_valid (orrery_task_get_id (random2)));
  g_assert_cmpstr (orrery_task_get_id (random1), !=, orrery_task_get_id (random2));
  g_assert_cmpstr (orrery_task_get_id (by_property), ==, "p");
  /* A loaded task has its file's id, not a random one. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(OrreryConstellation) c =
      orrery_constellation_new_from_data ("{\"tasks\": [{\"task_id\": \"a\"}]}", -1, "doc", &error);

    g_assert_no_error (error);
    g_assert_cmpstr (orrery_task_get_id (orrery_constellation_get_task (c, "a")), ==, "a");
  }
}

/* Each setter changes its field and notifies once per change, never for
 * the value the task already has. */
static void
test_setters_notify (void)
{
  g_autoptr(OrreryTask) t = orrery_task_new ("t", NULL);
  g_autoptr(GHashTable) counts = g_hash_table_new (g_str_hash, g_str_equal);

  g_signal_connect (t, "notify", G_CALLBACK (count_notify), counts);
  for (guint round = 0; round < 2; round++)
    {
      orrery_task_set_name (t, "N");
      orrery_task_set_description (t, "D");
      orrery_task_set_target_device_id (t, "dev-1");
      orrery_task_set_device_type (t, "linux");
      orrery_task_set_timeout (t, 2.5);
      orrery_task_set_retry_count (t, 3);
      orrery_task_set_attempt (t, 1);
      orrery_task_set_created_at (t, 10);
      orrery_task_set_started_at (t, 20);
      orrery_task_set_ended_at (t, 30);
    }
  g_assert_cmpstr (orrery_task_get_name (t), ==, "N");
  g_assert_cmpstr (orrery_task_get_description (t), ==, "D");
  g_assert_cmpstr (orrery_task_get_target_device_id (t), ==, "dev-1");
  g_assert_cmpstr (orrery_task_get_device_type (t), ==, "linux");
  g_assert_cmpfloat (orrery_task_get_timeout (t), ==, 2.5);
  g_assert_cmpuint (orrery_task_get_retry_count (t), ==, 3);
  g_assert_cmpuint (orrery_task_get_attempt (t), ==, 1);
  g_assert_cmpint (orrery_task_get_created_at (t), ==, 10);
  g_assert_cmpint (orrery_task_get_started_at (t), ==, 20);
  g_assert_cmpint (orrery_task_get_ended_at (t), ==, 30);
  {
    const char *const props[] = { "name", "description", "target-device-id", "device-type", "timeout",
                                  "retry-count", "attempt", "created-at", "started-at", "ended-at" };

    for (guint i = 0; i < G_N_ELEMENTS (props); i++)
      if (notified (counts, props[i]) != 1)
        g_error ("%s notified %u times", props[i], notified (counts, props[i]));
  }

  /* A negative timeout is none; an empty device id or type is none. */
  orrery_task_set_timeout (t, -1);
  g_assert_cmpfloat (orrery_task_get_timeout (t), ==, 0);
  orrery_task_set_target_device_id (t, "");
  g_assert_null (orrery_task_get_target_device_id (t));
  orrery_task_set_device_type (t, NULL);
  g_assert_null (orrery_task_get_device_type (t));
  g_assert_cmpuint (notified (counts, "target-device-id"), ==, 2);
  g_assert_cmpuint (notified (counts, "device-type"), ==, 2);
}

/* The description is the caller's (setters that notify); the run state is
 * the constellation's: the status property cannot be written, and a run
 * through the constellation changes status, attempt and times without a
 * notification while the getters see each change. */
static void
test_run_state_read_only (void)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("c", NULL);
  g_autoptr(OrreryTask) t = orrery_task_new ("t", NULL);
  g_autoptr(GHashTable) counts = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) ready = NULL;
  GParamSpec *status = g_object_class_find_property (G_OBJECT_GET_CLASS (t), "status");

  g_assert_nonnull (status);
  g_assert_true (status->flags & G_PARAM_READABLE);
  g_assert_false (status->flags & G_PARAM_WRITABLE);

  g_assert_true (orrery_constellation_add_task (c, t, &error));
  g_assert_no_error (error);
  g_signal_connect (t, "notify", G_CALLBACK (count_notify), counts);
  g_assert_cmpint (orrery_task_get_status (t), ==, ORRERY_TASK_STATUS_PENDING);
  g_assert_true (orrery_constellation_mark_task_started (c, "t", &error));
  g_assert_no_error (error);
  g_assert_cmpint (orrery_task_get_status (t), ==, ORRERY_TASK_STATUS_RUNNING);
  g_assert_cmpint (orrery_task_get_started_at (t), >, 0);
  ready = orrery_constellation_mark_task_completed (c, "t", TRUE, g_variant_new_parsed ("{'n': <1>}"),
                                                    NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (orrery_task_get_status (t), ==, ORRERY_TASK_STATUS_COMPLETED);
  g_assert_nonnull (orrery_task_get_result (t));
  g_assert_cmpint (orrery_task_get_ended_at (t), >=, orrery_task_get_started_at (t));
  g_assert_cmpuint (g_hash_table_size (counts), ==, 0);

  /* The description still notifies, in the constellation or not. */
  orrery_task_set_name (t, "renamed");
  g_assert_cmpuint (notified (counts, "name"), ==, 1);
  g_assert_cmpuint (g_hash_table_size (counts), ==, 1);
}

/* One string for every task that names a device or a type, set or loaded. */
static void
test_device_names_shared (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryConstellation) c =
    orrery_constellation_new_from_data ("{\"tasks\": [{\"task_id\": \"a\", \"target_device_id\": \"box\", \"device_type\": \"linux\"},"
                                        "{\"task_id\": \"b\", \"target_device_id\": \"box\", \"device_type\": \"linux\"}]}",
                                        -1, "doc", &error);
  g_autoptr(OrreryTask) t = orrery_task_new ("t", NULL);
  g_autofree char *text = g_strdup ("box");
  OrreryTask *a, *b;

  g_assert_no_error (error);
  a = orrery_constellation_get_task (c, "a");
  b = orrery_constellation_get_task (c, "b");
  g_assert_true (orrery_task_get_target_device_id (a) == orrery_task_get_target_device_id (b));
  g_assert_true (orrery_task_get_device_type (a) == orrery_task_get_device_type (b));
  orrery_task_set_target_device_id (t, text);
  g_assert_true (orrery_task_get_target_device_id (t) == orrery_task_get_target_device_id (a));
  g_assert_true (orrery_task_get_target_device_id (t) != text);
  /* Still there when the tasks that loaded it are gone. */
  g_clear_object (&c);
  g_assert_cmpstr (orrery_task_get_target_device_id (t), ==, "box");
}

/* Task data as json-glib makes it, and equal data one shared value. */
static void
test_task_data_loaded (void)
{
  const char *const values[] = {
    "{\"duration_ms\": 0}",
    "{\"command\": [\"echo\", \"a b\"], \"env\": {\"A\": \"1\"}, \"cwd\": \"/tmp\"}",
    "{\"n\": -12, \"x\": 1.5, \"e\": 2.5e-3, \"t\": true, \"f\": false, \"z\": null}",
    "{\"empty\": [], \"nested\": [[1, 2], [], {\"k\": [null]}], \"o\": {}}",
    "{\"s\": \"\\u00e9\\ud83d\\ude00\\n\\\"\"}",
  };
  GString *doc = g_string_new ("{\"tasks\": [");
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryConstellation) c = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (values); i++)
    g_string_append_printf (doc, "%s{\"task_id\": \"t%u\", \"task_data\": %s},"
                            "{\"task_id\": \"u%u\", \"task_data\": %s}",
                            i ? "," : "", i, values[i], i, values[i]);
  g_string_append (doc, "]}");
  c = orrery_constellation_new_from_data (doc->str, -1, "doc", &error);
  g_string_free (doc, TRUE);
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (values); i++)
    {
      g_autofree char *tid = g_strdup_printf ("t%u", i);
      g_autofree char *uid = g_strdup_printf ("u%u", i);
      GVariant *v = orrery_task_get_task_data (orrery_constellation_get_task (c, tid));
      GVariant *w = orrery_task_get_task_data (orrery_constellation_get_task (c, uid));
      g_autoptr(JsonNode) node = json_from_string (values[i], NULL);
      g_autoptr(GVariant) expected = g_variant_ref_sink (json_gvariant_deserialize (node, NULL, NULL));

      g_assert_nonnull (v);
      if (!g_variant_equal (v, expected))
        g_error ("task data %s: %s, json-glib makes %s", values[i], g_variant_print (v, TRUE),
                 g_variant_print (expected, TRUE));
      g_assert_true (v == w);
      g_assert_false (i > 0 && v == orrery_task_get_task_data (orrery_constellation_get_task (c, "t0")));
    }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/task/ids", test_ids);
  g_test_add_func ("/task/setters-notify", test_setters_notify);
  g_test_add_func ("/task/run-state-read-only", test_run_state_read_only);
  g_test_add_func ("/task/device-names-shared", test_device_names_shared);
  g_test_add_func ("/task/task-data-loaded", test_task_data_loaded);
  return g_test_run ();
}
