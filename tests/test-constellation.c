/* test-constellation.c: readiness, skip propagation, edits, statistics.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <string.h>
#include <glib/gstdio.h>
#include <orrery.h>

static OrreryConstellation *
build (const char *spec)
{
  /* spec: "a b c; a>b:s c>b:c" — tasks, then edges with u/s/c/x types. */
  OrreryConstellation *c = orrery_constellation_new ("t", NULL);
  g_auto(GStrv) parts = g_strsplit (spec, ";", 2);
  g_auto(GStrv) ids = g_strsplit (g_strstrip (parts[0]), " ", -1);

  for (guint i = 0; ids[i]; i++)
    {
      g_autoptr(OrreryTask) t = orrery_task_new (ids[i], NULL);
      g_assert_true (orrery_constellation_add_task (c, t, NULL));
    }
  if (parts[1])
    {
      g_auto(GStrv) edges = g_strsplit (g_strstrip (parts[1]), " ", -1);

      for (guint i = 0; edges[i]; i++)
        {
          char from[32], to[32], type = 'u';
          OrreryDependencyType dt;

          if (*edges[i] == '\0')
            continue;
          g_assert_cmpint (sscanf (edges[i], "%31[^>]>%31[^:]:%c", from, to, &type), >=, 2);
          dt = type == 's' ? ORRERY_DEPENDENCY_SUCCESS_ONLY
             : type == 'c' ? ORRERY_DEPENDENCY_COMPLETION_ONLY : ORRERY_DEPENDENCY_UNCONDITIONAL;
          g_assert_true (orrery_constellation_add_dependency (c, from, to, dt, NULL, NULL));
        }
    }
  return c;
}

static char *
ids (GPtrArray *tasks)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; tasks && i < tasks->len; i++)
    g_string_append_printf (s, "%s%s", i ? " " : "", orrery_task_get_id (tasks->pdata[i]));
  return g_string_free (s, FALSE);
}

static char *
ready_ids (OrreryConstellation *c)
{
  g_autoptr(GPtrArray) r = orrery_constellation_get_ready_tasks (c);
  return ids (r);
}

static char *
complete (OrreryConstellation *c,
          const char          *id,
          gboolean             success,
          char               **skipped_out)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) skipped = NULL;
  g_autoptr(GPtrArray) ready = NULL;

  g_assert_true (orrery_constellation_mark_task_started (c, id, &error));
  g_assert_no_error (error);
  ready = orrery_constellation_mark_task_completed (c, id, success, NULL, NULL, &skipped, &error);
  g_assert_no_error (error);
  g_assert_nonnull (ready);
  if (skipped_out)
    *skipped_out = ids (skipped);
  return ids (ready);
}

static void
test_ready_order (void)
{
  g_autoptr(OrreryConstellation) c = build ("d b a c e; a>e");
  g_autofree char *r1 = NULL, *r2 = NULL;

  orrery_task_set_priority (orrery_constellation_get_task (c, "d"), ORRERY_TASK_PRIORITY_CRITICAL);
  orrery_task_set_priority (orrery_constellation_get_task (c, "c"), ORRERY_TASK_PRIORITY_LOW);
  r1 = ready_ids (c);
  g_assert_cmpstr (r1, ==, "d a b c");
  /* Changing the priority of a ready task moves it. */
  orrery_task_set_priority (orrery_constellation_get_task (c, "c"), ORRERY_TASK_PRIORITY_HIGH);
  r2 = ready_ids (c);
  g_assert_cmpstr (r2, ==, "d c a b");
  g_assert_cmpuint (orrery_constellation_get_n_ready (c), ==, 4);
}

static void
test_readiness (void)
{
  g_autoptr(OrreryConstellation) c = build ("a b c d; a>c b>c c>d");
  g_autofree char *r = NULL, *n1 = NULL, *n2 = NULL, *n3 = NULL, *n4 = NULL;
  g_autoptr(GError) error = NULL;

  r = ready_ids (c);
  g_assert_cmpstr (r, ==, "a b");
  /* c is not ready: starting it is refused. */
  g_assert_false (orrery_constellation_mark_task_started (c, "c", &error));
  g_assert_error (error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_INVALID_STATE);
  g_clear_error (&error);

  n1 = complete (c, "a", TRUE, NULL);
  g_assert_cmpstr (n1, ==, "");
  n2 = complete (c, "b", TRUE, NULL);
  g_assert_cmpstr (n2, ==, "c");
  g_assert_false (orrery_constellation_is_finished (c));
  n3 = complete (c, "c", TRUE, NULL);
  g_assert_cmpstr (n3, ==, "d");
  n4 = complete (c, "d", TRUE, NULL);
  g_assert_cmpstr (n4, ==, "");
  g_assert_true (orrery_constellation_is_finished (c));
  g_assert_cmpint (orrery_constellation_update_state (c), ==, ORRERY_CONSTELLATION_STATE_COMPLETED);
  g_assert_cmpint (orrery_task_get_status (orrery_constellation_get_task (c, "d")), ==, ORRERY_TASK_STATUS_COMPLETED);
  g_assert_cmpint (orrery_task_get_started_at (orrery_constellation_get_task (c, "d")), >, 0);

  /* Completing twice is refused. */
  g_assert_null (orrery_constellation_mark_task_completed (c, "d", TRUE, NULL, NULL, NULL, &error));
  g_assert_error (error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_INVALID_STATE);
}

static void
test_skip_propagation (void)
{
  /* a fails: b (success-only) is skipped, then d (success-only on b) too;
   * c (completion-only on a) becomes ready; e (unconditional on b) runs
   * because a skipped task is terminal. */
  g_autoptr(OrreryConstellation) c = build ("a b c d e; a>b:s a>c:c b>d:s b>e:u");
  g_autofree char *skipped = NULL, *ready = NULL;

  ready = complete (c, "a", FALSE, &skipped);
  g_assert_cmpstr (ready, ==, "c e");
  g_assert_cmpstr (skipped, ==, "b d");
  g_assert_cmpint (orrery_task_get_status (orrery_constellation_get_task (c, "b")), ==, ORRERY_TASK_STATUS_SKIPPED);
  g_assert_cmpint (orrery_task_get_status (orrery_constellation_get_task (c, "d")), ==, ORRERY_TASK_STATUS_SKIPPED);
  g_assert_nonnull (orrery_task_get_error (orrery_constellation_get_task (c, "a")));
  g_assert_cmpuint (orrery_constellation_count_status (c, ORRERY_TASK_STATUS_SKIPPED), ==, 2);
  g_free (complete (c, "c", TRUE, NULL));
  g_free (complete (c, "e", TRUE, NULL));
  g_assert_true (orrery_constellation_is_finished (c));
  /* a failed: the constellation failed, as the orchestrator ends the run. */
  g_assert_cmpint (orrery_constellation_update_state (c), ==, ORRERY_CONSTELLATION_STATE_FAILED);
}

static void
test_conditional (void)
{
  g_autoptr(OrreryConstellation) c = build ("check");
  g_autoptr(OrreryCondition) ok = orrery_condition_parse ("exit_status == 0", NULL);
  g_autoptr(OrreryCondition) bad = orrery_condition_new ("exit_status", ORRERY_CONDITION_NE,
                                                         g_variant_new_int32 (0));
  g_autoptr(OrreryCondition) rows = orrery_condition_parse ("outputs.rows >= 10", NULL);
  g_autoptr(GPtrArray) ready = NULL;
  g_autoptr(GPtrArray) skipped = NULL;
  GVariantDict d, o;
  const char *names[] = { "on_ok", "on_bad", "big" };

  g_assert_nonnull (ok);
  g_assert_nonnull (rows);
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(OrreryTask) t = orrery_task_new (names[i], NULL);
      orrery_constellation_add_task (c, t, NULL);
    }
  g_assert_true (orrery_constellation_add_dependency (c, "check", "on_ok", ORRERY_DEPENDENCY_CONDITIONAL, ok, NULL));
  g_assert_true (orrery_constellation_add_dependency (c, "check", "on_bad", ORRERY_DEPENDENCY_CONDITIONAL, bad, NULL));
  g_assert_true (orrery_constellation_add_dependency (c, "check", "big", ORRERY_DEPENDENCY_CONDITIONAL, rows, NULL));

  g_variant_dict_init (&o, NULL);
  g_variant_dict_insert (&o, "rows", "x", (gint64) 12);
  g_variant_dict_init (&d, NULL);
  g_variant_dict_insert (&d, "exit_status", "i", 0);
  g_variant_dict_insert_value (&d, "outputs", g_variant_dict_end (&o));
  g_assert_true (orrery_constellation_mark_task_started (c, "check", NULL));
  ready = orrery_constellation_mark_task_completed (c, "check", TRUE, g_variant_dict_end (&d), NULL, &skipped, NULL);
  g_assert_cmpuint (ready->len, ==, 2);
  g_assert_cmpstr (orrery_task_get_id (ready->pdata[0]), ==, "big");
  g_assert_cmpstr (orrery_task_get_id (ready->pdata[1]), ==, "on_ok");
  g_assert_cmpuint (skipped->len, ==, 1);
  g_assert_cmpstr (orrery_task_get_id (skipped->pdata[0]), ==, "on_bad");

  /* The branch not taken is no failure: completed, as the orchestrator
   * ends the run. */
  g_free (complete (c, "big", TRUE, NULL));
  g_assert_cmpint (orrery_constellation_update_state (c), ==, ORRERY_CONSTELLATION_STATE_EXECUTING);
  g_free (complete (c, "on_ok", TRUE, NULL));
  g_assert_true (orrery_constellation_is_finished (c));
  g_assert_cmpint (orrery_constellation_update_state (c), ==, ORRERY_CONSTELLATION_STATE_COMPLETED);
}

static void
test_condition_ops (void)
{
  g_autoptr(GVariant) r = g_variant_ref_sink (g_variant_new_parsed (
      "{'exit_status': <1>, 'name': <'x'>, 'flag': <false>, 'list': <['a', 'b']>, 'ratio': <0.5>}"));
  struct { const char *text; gboolean expect; } cases[] = {
    { "exit_status == 1", TRUE }, { "exit_status != 0", TRUE }, { "exit_status < 2", TRUE },
    { "exit_status >= 2", FALSE }, { "ratio > 0.25", TRUE }, { "ratio <= 0.25", FALSE },
    { "name == \"x\"", TRUE }, { "name == x", TRUE }, { "name != \"y\"", TRUE },
    { "missing exists", FALSE }, { "name exists", TRUE }, { "flag truthy", FALSE },
    { "flag falsy", TRUE }, { "list truthy", TRUE }, { "list.1 == \"b\"", TRUE },
    { "missing != 3", TRUE }, { "missing == 3", FALSE }, { "name < 3", FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(OrreryCondition) c = orrery_condition_parse (cases[i].text, &error);
      g_autofree char *text = NULL;
      g_autoptr(OrreryCondition) again = NULL;

      g_assert_no_error (error);
      g_assert_cmpint (orrery_condition_evaluate (c, r), ==, cases[i].expect);
      /* to_string reads back as the same condition */
      text = orrery_condition_to_string (c);
      again = orrery_condition_parse (text, NULL);
      g_assert_true (orrery_condition_equal (c, again));
    }
  {
    g_autoptr(GError) error = NULL;
    g_assert_null (orrery_condition_parse ("exit_status ~ 3", &error));
    g_assert_error (error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_BAD_CONDITION);
  }
}

static void
test_cancel_and_requeue (void)
{
  g_autoptr(OrreryConstellation) c = build ("a b c; a>b:s a>c:c");
  g_autoptr(GPtrArray) skipped = NULL;
  g_autoptr(GPtrArray) ready = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (orrery_constellation_mark_task_started (c, "a", NULL));
  g_assert_true (orrery_constellation_requeue_task (c, "a", NULL));
  g_assert_cmpuint (orrery_task_get_attempt (orrery_constellation_get_task (c, "a")), ==, 1);
  g_assert_cmpuint (orrery_constellation_get_n_ready (c), ==, 1);
  g_assert_true (orrery_constellation_mark_task_started (c, "a", NULL));
  orrery_constellation_reset_running (c);
  g_assert_cmpint (orrery_task_get_status (orrery_constellation_get_task (c, "a")), ==, ORRERY_TASK_STATUS_PENDING);
  ready = orrery_constellation_mark_task_cancelled_full (c, "a", &skipped, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ready->len, ==, 1);
  g_assert_cmpstr (orrery_task_get_id (ready->pdata[0]), ==, "c");
  g_assert_cmpuint (skipped->len, ==, 1);
  g_assert_false (orrery_constellation_mark_task_cancelled (c, "a", &error));
  g_assert_error (error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_INVALID_STATE);
}

static void
test_validate_cycle (void)
{
  g_autoptr(OrreryConstellation) c = build ("s a b c; s>a a>b b>c c>a");
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryConstellation) ok = build ("a b; a>b");

  g_assert_false (orrery_constellation_validate (c, &error));
  g_assert_error (error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_CYCLE);
  g_assert_nonnull (strstr (error->message, "a → b → c → a"));
  g_assert_true (orrery_constellation_validate (ok, NULL));
  g_clear_error (&error);
  g_assert_false (orrery_constellation_add_dependency (ok, "a", "b", ORRERY_DEPENDENCY_UNCONDITIONAL, NULL, &error));
  g_assert_error (error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_DUPLICATE_DEPENDENCY);
  g_clear_error (&error);
  g_assert_false (orrery_constellation_add_dependency (ok, "a", "a", ORRERY_DEPENDENCY_UNCONDITIONAL, NULL, &error));
  g_assert_error (error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_SELF_DEPENDENCY);
  g_clear_error (&error);
  g_assert_false (orrery_constellation_add_dependency (ok, "a", "zz", ORRERY_DEPENDENCY_UNCONDITIONAL, NULL, &error));
  g_assert_error (error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_UNKNOWN_TASK);
}

/* Edits */

static void
on_modified (OrreryConstellation *c,
             GVariant            *mods,
             char               **on_ids,
             gpointer             user_data)
{
  guint *count = user_data;

  (*count)++;
  g_assert_true (g_variant_is_of_type (mods, G_VARIANT_TYPE ("aa{sv}")));
  g_assert_nonnull (on_ids);
  g_assert_cmpstr (on_ids[0], ==, "a");
}

static void
expect_rejected (OrreryConstellation      *c,
                 OrreryEditBatch          *batch,
                 OrreryConstellationError  code,
                 const char               *fragment)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *before = orrery_constellation_to_data (c, NULL);
  g_autofree char *after = NULL;
  guint64 version = orrery_constellation_get_version (c);
  g_autoptr(GVariant) mods = orrery_constellation_apply_edits (c, batch, &error);

  g_assert_null (mods);
  g_assert_error (error, ORRERY_CONSTELLATION_ERROR, (gint) code);
  if (fragment && !strstr (error->message, fragment))
    g_error ("“%s” not in “%s”", fragment, error->message);
  after = orrery_constellation_to_data (c, NULL);
  /* A rejected batch leaves no trace. */
  g_assert_cmpstr (before, ==, after);
  g_assert_cmpuint (version, ==, orrery_constellation_get_version (c));
}

static void
test_edits_apply (void)
{
  g_autoptr(OrreryConstellation) c = build ("a b c; a>b");
  g_autoptr(OrreryEditBatch) batch = orrery_edit_batch_new ();
  g_autoptr(OrreryTask) d = orrery_task_new ("d", "new one");
  g_autoptr(GVariant) mods = NULL;
  g_autoptr(GError) error = NULL;
  const char *on[] = { "a", NULL };
  guint modified = 0;
  g_autofree char *r = NULL, *r2 = NULL;
  GVariantDict ch;

  g_signal_connect (c, "modified", G_CALLBACK (on_modified), &modified);
  g_free (complete (c, "a", TRUE, NULL));   /* b ready */

  g_variant_dict_init (&ch, NULL);
  g_variant_dict_insert (&ch, "priority", "s", "critical");
  g_variant_dict_insert (&ch, "name", "s", "renamed");
  orrery_edit_batch_add_task (batch, d);
  orrery_edit_batch_add_dependency (batch, "d", "b", ORRERY_DEPENDENCY_UNCONDITIONAL, NULL);
  orrery_edit_batch_update_task (batch, "c", g_variant_dict_end (&ch));
  orrery_edit_batch_remove_dependency (batch, "a", "b");
  orrery_edit_batch_set_on_task_ids (batch, on);
  g_assert_cmpuint (orrery_edit_batch_get_n_edits (batch), ==, 4);

  mods = orrery_constellation_apply_edits (c, batch, &error);
  g_assert_no_error (error);
  g_assert_nonnull (mods);
  g_assert_cmpuint (g_variant_n_children (mods), ==, 4);
  g_assert_cmpuint (modified, ==, 1);
  g_assert_cmpuint (orrery_constellation_get_version (c), ==, 1);
  g_assert_cmpstr (orrery_task_get_name (orrery_constellation_get_task (c, "c")), ==, "renamed");
  /* b now waits for d; c went first by priority. */
  r = ready_ids (c);
  g_assert_cmpstr (r, ==, "c d");
  g_assert_null (orrery_constellation_get_dependency (c, "a", "b"));
  g_assert_nonnull (orrery_constellation_get_dependency (c, "d", "b"));
  r2 = complete (c, "d", TRUE, NULL);
  g_assert_cmpstr (r2, ==, "b");
}

static void
test_edits_rejected (void)
{
  g_autoptr(OrreryConstellation) c = build ("a b c r; a>b b>c");
  g_autoptr(OrreryTask) dup = orrery_task_new ("a", NULL);
  g_autoptr(OrreryTask) fresh = orrery_task_new ("n", NULL);
  OrreryEditBatch *b;

  g_assert_true (orrery_constellation_mark_task_started (c, "r", NULL));

  /* A cycle, built over two edits, names its members; the valid edit
   * before it is not applied. */
  b = orrery_edit_batch_new ();
  orrery_edit_batch_add_task (b, fresh);
  orrery_edit_batch_add_dependency (b, "c", "n", ORRERY_DEPENDENCY_UNCONDITIONAL, NULL);
  orrery_edit_batch_add_dependency (b, "n", "a", ORRERY_DEPENDENCY_UNCONDITIONAL, NULL);
  expect_rejected (c, b, ORRERY_CONSTELLATION_ERROR_CYCLE, "edit 1 (add_dependency c → n): would create a cycle: c → n → a → b → c");
  g_assert_null (orrery_constellation_get_task (c, "n"));
  g_assert_null (orrery_task_get_constellation (fresh));
  g_object_unref (b);

  b = orrery_edit_batch_new ();
  orrery_edit_batch_add_task (b, dup);
  expect_rejected (c, b, ORRERY_CONSTELLATION_ERROR_DUPLICATE_ID, "edit 0 (add_task a)");
  g_object_unref (b);

  b = orrery_edit_batch_new ();
  orrery_edit_batch_remove_task (b, "c");
  orrery_edit_batch_add_dependency (b, "a", "c", ORRERY_DEPENDENCY_UNCONDITIONAL, NULL);
  expect_rejected (c, b, ORRERY_CONSTELLATION_ERROR_UNKNOWN_TASK, "edit 1");
  g_object_unref (b);

  b = orrery_edit_batch_new ();
  orrery_edit_batch_update_task (b, "r", g_variant_new_parsed ("{'name': <'x'>}"));
  expect_rejected (c, b, ORRERY_CONSTELLATION_ERROR_TASK_DISPATCHED, "running");
  g_object_unref (b);

  b = orrery_edit_batch_new ();
  orrery_edit_batch_add_dependency (b, "a", "r", ORRERY_DEPENDENCY_UNCONDITIONAL, NULL);
  expect_rejected (c, b, ORRERY_CONSTELLATION_ERROR_TASK_DISPATCHED, NULL);
  g_object_unref (b);

  b = orrery_edit_batch_new ();
  orrery_edit_batch_remove_task (b, "r");
  expect_rejected (c, b, ORRERY_CONSTELLATION_ERROR_TASK_DISPATCHED, NULL);
  g_object_unref (b);

  b = orrery_edit_batch_new ();
  orrery_edit_batch_remove_dependency (b, "a", "c");
  expect_rejected (c, b, ORRERY_CONSTELLATION_ERROR_UNKNOWN_DEPENDENCY, NULL);
  g_object_unref (b);

  b = orrery_edit_batch_new ();
  orrery_edit_batch_add_dependency (b, "a", "b", ORRERY_DEPENDENCY_UNCONDITIONAL, NULL);
  expect_rejected (c, b, ORRERY_CONSTELLATION_ERROR_DUPLICATE_DEPENDENCY, NULL);
  g_object_unref (b);

  b = orrery_edit_batch_new ();
  orrery_edit_batch_add_dependency (b, "b", "b", ORRERY_DEPENDENCY_UNCONDITIONAL, NULL);
  expect_rejected (c, b, ORRERY_CONSTELLATION_ERROR_SELF_DEPENDENCY, NULL);
  g_object_unref (b);

  b = orrery_edit_batch_new ();
  orrery_edit_batch_update_task (b, "a", g_variant_new_parsed ("{'status': <'completed'>}"));
  expect_rejected (c, b, ORRERY_CONSTELLATION_ERROR_BAD_VALUE, "status");
  g_object_unref (b);

  b = orrery_edit_batch_new ();
  orrery_edit_batch_update_task (b, "a", g_variant_new_parsed ("{'priority': <'urgent'>}"));
  expect_rejected (c, b, ORRERY_CONSTELLATION_ERROR_BAD_ENUM, "priority");
  g_object_unref (b);

  /* Removing then re-adding an id in one batch is fine. */
  {
    g_autoptr(OrreryTask) again = orrery_task_new ("c", "again");
    g_autoptr(GVariant) mods = NULL;
    g_autoptr(GError) error = NULL;

    b = orrery_edit_batch_new ();
    orrery_edit_batch_remove_task (b, "c");
    orrery_edit_batch_add_task (b, again);
    mods = orrery_constellation_apply_edits (c, b, &error);
    g_assert_no_error (error);
    g_assert_true (orrery_constellation_get_task (c, "c") == again);
    g_assert_null (orrery_constellation_get_dependency (c, "b", "c"));
    g_assert_cmpuint (orrery_constellation_get_n_dependencies (c), ==, 1);
    g_object_unref (b);
  }
}

static void
test_edit_skips (void)
{
  /* A new success-only edge from a failed task: the dependent is skipped
   * and the modifications say so. */
  g_autoptr(OrreryConstellation) c = build ("f x");
  g_autoptr(OrreryEditBatch) b = orrery_edit_batch_new ();
  g_autoptr(GVariant) mods = NULL;
  g_autoptr(GVariant) last = NULL;
  const char *type = NULL, *id = NULL;

  g_free (complete (c, "f", FALSE, NULL));
  orrery_edit_batch_add_dependency (b, "f", "x", ORRERY_DEPENDENCY_SUCCESS_ONLY, NULL);
  mods = orrery_constellation_apply_edits (c, b, NULL);
  g_assert_nonnull (mods);
  last = g_variant_get_child_value (mods, g_variant_n_children (mods) - 1);
  g_variant_lookup (last, "type", "&s", &type);
  g_variant_lookup (last, "task_id", "&s", &id);
  g_assert_cmpstr (type, ==, "skip_task");
  g_assert_cmpstr (id, ==, "x");
  g_assert_cmpint (orrery_task_get_status (orrery_constellation_get_task (c, "x")), ==, ORRERY_TASK_STATUS_SKIPPED);
  g_assert_true (orrery_constellation_is_finished (c));
}

/* A task that an edit makes ready or skipped, then removed later in the
 * same batch: the modifications do not name it (they named freed memory,
 * found by fuzz-edit-batch). */
static void
test_edit_removed_after_settling (void)
{
  g_autoptr(OrreryConstellation) c = build ("f x a b; a>b");
  g_autoptr(OrreryEditBatch) b = orrery_edit_batch_new ();
  g_autoptr(GVariant) mods = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *printed = NULL;

  g_free (complete (c, "f", FALSE, NULL));
  orrery_edit_batch_add_dependency (b, "f", "x", ORRERY_DEPENDENCY_SUCCESS_ONLY, NULL);
  orrery_edit_batch_remove_dependency (b, "a", "b");
  orrery_edit_batch_remove_task (b, "x");
  orrery_edit_batch_remove_task (b, "b");
  mods = orrery_constellation_apply_edits (c, b, &error);
  g_assert_no_error (error);
  g_assert_nonnull (mods);
  printed = g_variant_print (mods, FALSE);
  g_assert_null (strstr (printed, "skip_task"));
  g_assert_null (strstr (printed, "task_ready"));
  g_assert_null (orrery_constellation_get_task (c, "x"));
  g_assert_null (orrery_constellation_get_task (c, "b"));
}

/* Statistics on a hand-checked graph:
 *
 *   a → b → d → e
 *   a → c → d
 *   f (alone, on device gpu)
 *
 * depth: a0 b1 c1 d2 e3 f0 → widths 2,2,1,1 → max width 2; longest path
 * a b d e (4 tasks, b before c by id); total work 6; ratio 6/4 = 1.5. */
static void
test_statistics (void)
{
  g_autoptr(OrreryConstellation) c = build ("a b c d e f; a>b a>c b>d c>d d>e");
  g_autoptr(GVariant) s = NULL;
  g_autoptr(GVariant) counts = NULL;
  g_autoptr(GVariant) dev = NULL;
  g_autofree const char **path = NULL;
  guint u;
  gdouble d;

  orrery_task_set_target_device_id (orrery_constellation_get_task (c, "f"), "gpu");
  g_free (complete (c, "a", TRUE, NULL));
  g_free (complete (c, "f", FALSE, NULL));
  s = orrery_constellation_get_statistics (c);

  g_assert_true (g_variant_lookup (s, "total_tasks", "u", &u)); g_assert_cmpuint (u, ==, 6);
  g_assert_true (g_variant_lookup (s, "total_dependencies", "u", &u)); g_assert_cmpuint (u, ==, 5);
  g_assert_true (g_variant_lookup (s, "longest_path_length", "u", &u)); g_assert_cmpuint (u, ==, 4);
  g_assert_true (g_variant_lookup (s, "max_width", "u", &u)); g_assert_cmpuint (u, ==, 2);
  g_assert_true (g_variant_lookup (s, "total_work", "d", &d)); g_assert_cmpfloat (d, ==, 6);
  g_assert_true (g_variant_lookup (s, "critical_path_length", "d", &d)); g_assert_cmpfloat (d, ==, 4);
  g_assert_true (g_variant_lookup (s, "parallelism_ratio", "d", &d)); g_assert_cmpfloat (d, ==, 1.5);
  g_assert_true (g_variant_lookup (s, "completed_work", "d", &d)); g_assert_cmpfloat (d, ==, 1);
  g_assert_true (g_variant_lookup (s, "longest_path_tasks", "^a&s", &path));
  g_assert_cmpuint (g_strv_length ((char **) path), ==, 4);
  g_assert_cmpstr (path[0], ==, "a");
  g_assert_cmpstr (path[3], ==, "e");
  counts = g_variant_lookup_value (s, "task_status_counts", G_VARIANT_TYPE ("a{su}"));
  g_assert_true (g_variant_lookup (counts, "completed", "u", &u)); g_assert_cmpuint (u, ==, 1);
  g_assert_true (g_variant_lookup (counts, "failed", "u", &u)); g_assert_cmpuint (u, ==, 1);
  g_assert_true (g_variant_lookup (counts, "pending", "u", &u)); g_assert_cmpuint (u, ==, 4);
  dev = g_variant_lookup_value (s, "tasks_by_device", G_VARIANT_TYPE ("a{su}"));
  g_assert_true (g_variant_lookup (dev, "gpu", "u", &u)); g_assert_cmpuint (u, ==, 1);
  g_assert_true (g_variant_lookup (dev, "", "u", &u)); g_assert_cmpuint (u, ==, 5);
  {
    const char *mode;
    g_assert_true (g_variant_lookup (s, "parallelism_calculation_mode", "&s", &mode));
    g_assert_cmpstr (mode, ==, "node_count");
  }
}

static gint
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* The statistics' figures of the shape, as text: a{su} sorted (their
 * order follows a hash table's). */
static char *
shape_text (GVariant *stats)
{
  static const char * const keys[] = {
    "total_tasks", "total_dependencies", "is_acyclic", "longest_path_length",
    "longest_path_tasks", "max_width", "critical_path_length", "critical_path_tasks",
    "total_work", "completed_work", "parallelism_ratio", "parallelism_calculation_mode",
    "total_task_duration", "tasks_by_device", "tasks_by_device_type", NULL
  };
  GString *out = g_string_new (NULL);

  for (guint i = 0; keys[i]; i++)
    {
      g_autoptr(GVariant) v = g_variant_lookup_value (stats, keys[i], NULL);

      g_assert_nonnull (v);
      g_string_append_printf (out, "%s=", keys[i]);
      if (g_variant_is_of_type (v, G_VARIANT_TYPE ("a{su}")))
        {
          g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func (g_free);
          GVariantIter it;
          const char *k;
          guint n;

          g_variant_iter_init (&it, v);
          while (g_variant_iter_next (&it, "{&su}", &k, &n))
            g_ptr_array_add (items, g_strdup_printf ("%s:%u", k, n));
          g_ptr_array_sort (items, compare_strings);
          for (guint j = 0; j < items->len; j++)
            g_string_append_printf (out, "%s ", (char *) items->pdata[j]);
        }
      else
        {
          g_autofree char *text = g_variant_print (v, FALSE);

          g_string_append (out, text);
        }
      g_string_append_c (out, '\n');
    }
  return g_string_free (out, FALSE);
}

/* Every task of @c run and ended, in ready order, task x taking (x - 'a'
 * + 1) seconds, so the critical path is by duration. */
static void
run_all (OrreryConstellation *c)
{
  g_autoptr(GPtrArray) ready = NULL;

  while ((ready = orrery_constellation_get_ready_tasks (c)) != NULL && ready->len > 0)
    {
      OrreryTask *t = ready->pdata[0];
      const char *id = orrery_task_get_id (t);

      g_free (complete (c, id, TRUE, NULL));
      orrery_task_set_started_at (t, 1000000);
      orrery_task_set_ended_at (t, 1000000 + (id[0] - 'a' + 1) * G_USEC_PER_SEC);
      g_clear_pointer (&ready, g_ptr_array_unref);
    }
}

/* The statistics keep what depends on the graph's shape until it changes:
 * after each kind of change (a task or an edge added or removed, a task's
 * device changed, the run ended) they are those of the same graph built
 * afresh. */
static void
test_statistics_after_changes (void)
{
  static const struct {
    const char *spec;     /* the graph after the step, for build() */
    const char *gpu;      /* the task on device gpu, if any */
  } steps[] = {
    { "a b c d e f; a>b a>c b>d c>d d>e", NULL },
    { "a b c d e f g; a>b a>c b>d c>d d>e e>g", NULL },        /* + g, + e>g */
    { "a b c d e f g; a>b a>c b>d c>d e>g", NULL },            /* - d>e */
    { "a b c d e f g; a>b a>c b>d c>d e>g", "b" },             /* b on gpu */
    { "a b d e f g; a>b b>d e>g", "b" },                       /* - c */
    { "a b d e f g; a>b b>d e>g d>f", "b" },                   /* + d>f */
  };
  g_autoptr(OrreryConstellation) c = build (steps[0].spec);

  for (guint i = 0; i < G_N_ELEMENTS (steps); i++)
    {
      g_autoptr(OrreryConstellation) fresh = build (steps[i].spec);
      g_autoptr(OrreryEditBatch) b = orrery_edit_batch_new ();
      g_autoptr(GVariant) mods = NULL;
      g_autoptr(GVariant) s = NULL;
      g_autoptr(GVariant) expected = NULL;
      g_autofree char *text = NULL;
      g_autofree char *expected_text = NULL;

      switch (i)
        {
        case 1:
          {
            g_autoptr(OrreryTask) g = orrery_task_new ("g", NULL);

            g_assert_true (orrery_constellation_add_task (c, g, NULL));
            g_assert_true (orrery_constellation_add_dependency (c, "e", "g", ORRERY_DEPENDENCY_UNCONDITIONAL,
                                                                NULL, NULL));
            break;
          }
        case 2:
          orrery_edit_batch_remove_dependency (b, "d", "e");
          break;
        case 3:
          orrery_task_set_target_device_id (orrery_constellation_get_task (c, "b"), "gpu");
          break;
        case 4:
          orrery_edit_batch_remove_task (b, "c");
          break;
        case 5:
          orrery_edit_batch_add_dependency (b, "d", "f", ORRERY_DEPENDENCY_UNCONDITIONAL, NULL);
          break;
        default:
          break;
        }
      if (i == 2 || i == 4 || i == 5)
        {
          mods = orrery_constellation_apply_edits (c, b, NULL);
          g_assert_nonnull (mods);
        }
      if (steps[i].gpu)
        orrery_task_set_target_device_id (orrery_constellation_get_task (fresh, steps[i].gpu), "gpu");

      s = orrery_constellation_get_statistics (c);
      expected = orrery_constellation_get_statistics (fresh);
      text = shape_text (s);
      expected_text = shape_text (expected);
      g_assert_cmpstr (text, ==, expected_text);
    }

  /* Run to the end: the critical path by duration, in the kept order. */
  {
    g_autoptr(OrreryConstellation) fresh = build (steps[G_N_ELEMENTS (steps) - 1].spec);
    g_autoptr(GVariant) s = NULL;
    g_autoptr(GVariant) expected = NULL;
    g_autofree char *text = NULL;
    g_autofree char *expected_text = NULL;
    const char *mode = NULL;
    gdouble critical = 0;

    orrery_task_set_target_device_id (orrery_constellation_get_task (fresh, "b"), "gpu");
    run_all (c);
    run_all (fresh);
    s = orrery_constellation_get_statistics (c);
    expected = orrery_constellation_get_statistics (fresh);
    text = shape_text (s);
    expected_text = shape_text (expected);
    g_assert_cmpstr (text, ==, expected_text);
    g_assert_true (g_variant_lookup (s, "parallelism_calculation_mode", "&s", &mode));
    g_assert_cmpstr (mode, ==, "duration");
    /* a b d f: 1 + 2 + 4 + 6 s, longer than e g (5 + 7). */
    g_assert_true (g_variant_lookup (s, "critical_path_length", "d", &critical));
    g_assert_cmpfloat (critical, ==, 13);
  }
}

static void
test_layers (void)
{
  g_autoptr(OrreryConstellation) c = build ("a b c d e f; a>b a>c b>d c>d d>e");
  g_autoptr(GVariant) layers = orrery_constellation_get_layers (c, NULL);
  g_autofree char *text = g_variant_print (layers, FALSE);

  g_assert_cmpstr (text, ==, "[['a', 'f'], ['b', 'c'], ['d'], ['e']]");
}

static gint
compare_ready (gconstpointer a,
               gconstpointer b)
{
  OrreryTask *x = *(OrreryTask **) a, *y = *(OrreryTask **) b;

  if (orrery_task_get_priority (x) != orrery_task_get_priority (y))
    return orrery_task_get_priority (x) > orrery_task_get_priority (y) ? -1 : 1;
  return strcmp (orrery_task_get_id (x), orrery_task_get_id (y));
}

/* The layers of a random graph, with long ids, mixed priorities and a wide
 * first layer (so the serialised form needs 1-, 2- and 4-byte offsets),
 * against the same layers built the obvious way: depth by repeated
 * relaxation, a GVariantBuilder per layer. */
static void
test_layers_random (void)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("random", NULL);
  g_autoptr(GVariant) layers = NULL;
  g_autoptr(GVariant) expected = NULL;
  g_autoptr(GPtrArray) sorted = NULL;
  g_autofree guint *depth = NULL;
  const guint n = 6000;
  guint max_depth = 0;
  GRand *rand = g_rand_new_with_seed (9);
  g_autoptr(GArray) edges = g_array_new (FALSE, FALSE, sizeof (guint));
  GVariantBuilder b;
  gboolean changed = TRUE;

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *id = g_strdup_printf ("task-with-a-long-name-%05u", (i * 7919) % n);
      g_autoptr(OrreryTask) t = orrery_task_new (id, NULL);

      orrery_task_set_priority (t, ORRERY_TASK_PRIORITY_LOW + g_rand_int_range (rand, 0, 4));
      g_assert_true (orrery_constellation_add_task (c, t, NULL));
    }
  /* Edges only from a lower to a higher index: acyclic. The first 4000 tasks
   * have none into them, so layer 0 is wide. */
  sorted = orrery_constellation_get_tasks (c);
  for (guint i = 4000; i < n; i++)
    for (guint k = 0; k < 3; k++)
      {
        guint from = g_rand_int_range (rand, 3000, i);
        OrreryTask *a = sorted->pdata[from];
        OrreryTask *z = sorted->pdata[i];

        if (orrery_constellation_add_dependency (c, orrery_task_get_id (a), orrery_task_get_id (z),
                                                 ORRERY_DEPENDENCY_UNCONDITIONAL, NULL, NULL))
          {
            g_array_append_val (edges, from);
            g_array_append_val (edges, i);
          }
      }
  g_rand_free (rand);

  depth = g_new0 (guint, n);
  while (changed)
    {
      changed = FALSE;
      for (guint e = 0; e < edges->len; e += 2)
        {
          guint j = g_array_index (edges, guint, e), i = g_array_index (edges, guint, e + 1);

          if (depth[j] + 1 > depth[i])
            depth[i] = depth[j] + 1, changed = TRUE;
          max_depth = MAX (max_depth, depth[i]);
        }
    }
  g_variant_builder_init (&b, G_VARIANT_TYPE ("aas"));
  {
    /* By priority (critical first), then id. */
    for (guint d = 0; d <= max_depth; d++)
      {
        g_autoptr(GPtrArray) layer = g_ptr_array_new ();

        for (guint i = 0; i < n; i++)
          if (depth[i] == d)
            g_ptr_array_add (layer, sorted->pdata[i]);
        g_ptr_array_sort (layer, compare_ready);
        g_variant_builder_open (&b, G_VARIANT_TYPE ("as"));
        for (guint i = 0; i < layer->len; i++)
          g_variant_builder_add (&b, "s", orrery_task_get_id (layer->pdata[i]));
        g_variant_builder_close (&b);
      }
  }
  expected = g_variant_ref_sink (g_variant_builder_end (&b));

  layers = orrery_constellation_get_layers (c, NULL);
  g_assert_nonnull (layers);
  g_assert_true (g_variant_is_normal_form (layers));
  g_assert_cmpuint (g_variant_n_children (layers), ==, max_depth + 1);
  g_assert_true (g_variant_equal (layers, expected));
}

/* A long chain: each depth loop over every task made this quadratic (a
 * 200k chain took over ten minutes; it is a fraction of a second). */
static void
test_layers_long_chain (void)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("chain", NULL);
  g_autoptr(GVariant) layers = NULL;
  g_autoptr(GVariant) last = NULL;
  const guint n = 200000;
  char id[16], prev[16];

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(OrreryTask) t = NULL;

      g_snprintf (id, sizeof id, "c%06u", i);
      t = orrery_task_new (id, NULL);
      g_assert_true (orrery_constellation_add_task (c, t, NULL));
      if (i > 0)
        {
          g_snprintf (prev, sizeof prev, "c%06u", i - 1);
          g_assert_true (orrery_constellation_add_dependency (c, prev, id, ORRERY_DEPENDENCY_UNCONDITIONAL,
                                                              NULL, NULL));
        }
    }
  layers = orrery_constellation_get_layers (c, NULL);
  g_assert_cmpuint (g_variant_n_children (layers), ==, n);
  last = g_variant_get_child_value (layers, n - 1);
  g_assert_cmpuint (g_variant_n_children (last), ==, 1);
  {
    g_autoptr(GVariant) s = g_variant_get_child_value (last, 0);
    g_assert_cmpstr (g_variant_get_string (s, NULL), ==, "c199999");
  }
}

static void
test_layers_empty (void)
{
  g_autoptr(OrreryConstellation) c = orrery_constellation_new ("empty", NULL);
  g_autoptr(GVariant) layers = orrery_constellation_get_layers (c, NULL);

  g_assert_cmpstr (g_variant_get_type_string (layers), ==, "aas");
  g_assert_cmpuint (g_variant_n_children (layers), ==, 0);
}

/* orrery_constellation_cancel_pending(): every task that never started is
 * cancelled in one pass (dependents too, never skipped), running and
 * finished ones are left alone, the ready set is empty, every cancelled
 * task reports the one error, also once it leaves the constellation, and
 * a reset makes the cancelled tasks pending again. */
static void
test_cancel_pending (void)
{
  g_autoptr(OrreryConstellation) c = build ("a b d e f; a>b:s d>e:u");
  g_autoptr(GError) reason = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "Cancelled: stop");
  g_autoptr(GError) other = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "Cancelled: again");
  g_autoptr(GPtrArray) ready = NULL;
  g_autoptr(OrreryTask) d = NULL;
  g_autofree char *r = NULL;

  g_assert_true (orrery_constellation_mark_task_started (c, "a", NULL));
  g_assert_true (orrery_constellation_mark_task_started (c, "f", NULL));
  ready = orrery_constellation_mark_task_completed (c, "f", TRUE, NULL, NULL, NULL, NULL);
  g_clear_pointer (&ready, g_ptr_array_unref);

  g_assert_cmpuint (orrery_constellation_cancel_pending (c, reason, 1234), ==, 3);
  g_assert_cmpint (orrery_task_get_status (orrery_constellation_get_task (c, "a")), ==, ORRERY_TASK_STATUS_RUNNING);
  g_assert_cmpint (orrery_task_get_status (orrery_constellation_get_task (c, "f")), ==, ORRERY_TASK_STATUS_COMPLETED);
  for (const char * const *id = (const char * const[]) { "b", "d", "e", NULL }; *id; id++)
    {
      OrreryTask *t = orrery_constellation_get_task (c, *id);

      g_assert_cmpint (orrery_task_get_status (t), ==, ORRERY_TASK_STATUS_CANCELLED);
      g_assert_error (orrery_task_get_error (t), G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_assert_cmpstr (orrery_task_get_error (t)->message, ==, "Cancelled: stop");
      g_assert_cmpint (orrery_task_get_ended_at (t), ==, 1234);
    }
  g_assert_cmpuint (orrery_constellation_count_status (c, ORRERY_TASK_STATUS_CANCELLED), ==, 3);
  r = ready_ids (c);
  g_assert_cmpstr (r, ==, "");
  g_clear_pointer (&r, g_free);
  g_assert_true (orrery_constellation_is_finished (c) == FALSE);

  /* The running task ends: nothing becomes ready, nothing is skipped. */
  ready = orrery_constellation_mark_task_completed (c, "a", TRUE, NULL, NULL, NULL, NULL);
  g_assert_cmpuint (ready->len, ==, 0);
  g_clear_pointer (&ready, g_ptr_array_unref);
  g_assert_cmpint (orrery_task_get_status (orrery_constellation_get_task (c, "b")), ==, ORRERY_TASK_STATUS_CANCELLED);
  g_assert_true (orrery_constellation_is_finished (c));
  g_assert_cmpuint (orrery_constellation_cancel_pending (c, reason, 0), ==, 0);

  /* Resumed: the cancelled ones are pending again, with no error. */
  g_assert_cmpuint (orrery_constellation_reset_interrupted (c), ==, 3);
  g_assert_null (orrery_task_get_error (orrery_constellation_get_task (c, "b")));
  r = ready_ids (c);
  g_assert_cmpstr (r, ==, "b d");
  g_assert_cmpint (orrery_task_get_status (orrery_constellation_get_task (c, "e")), ==,
                   ORRERY_TASK_STATUS_PENDING);
  g_clear_pointer (&r, g_free);

  /* Cancelled again for another reason. */
  g_assert_cmpuint (orrery_constellation_cancel_pending (c, other, 0), ==, 3);
  g_assert_cmpstr (orrery_task_get_error (orrery_constellation_get_task (c, "d"))->message, ==, "Cancelled: again");
  g_assert_cmpstr (orrery_task_get_error (orrery_constellation_get_task (c, "e"))->message, ==, "Cancelled: again");

  /* A task kept beyond its constellation keeps its error. */
  d = g_object_ref (orrery_constellation_get_task (c, "d"));
  g_clear_object (&c);
  g_assert_nonnull (orrery_task_get_error (d));
  g_assert_cmpstr (orrery_task_get_error (d)->message, ==, "Cancelled: again");
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/constellation/ready-order", test_ready_order);
  g_test_add_func ("/constellation/readiness", test_readiness);
  g_test_add_func ("/constellation/skip-propagation", test_skip_propagation);
  g_test_add_func ("/constellation/conditional", test_conditional);
  g_test_add_func ("/constellation/condition-operators", test_condition_ops);
  g_test_add_func ("/constellation/cancel-requeue", test_cancel_and_requeue);
  g_test_add_func ("/constellation/cancel-pending", test_cancel_pending);
  g_test_add_func ("/constellation/validate-cycle", test_validate_cycle);
  g_test_add_func ("/constellation/edits/apply", test_edits_apply);
  g_test_add_func ("/constellation/edits/rejected", test_edits_rejected);
  g_test_add_func ("/constellation/edits/skips", test_edit_skips);
  g_test_add_func ("/constellation/edits/removed-after-settling", test_edit_removed_after_settling);
  g_test_add_func ("/constellation/statistics", test_statistics);
  g_test_add_func ("/constellation/statistics-after-changes", test_statistics_after_changes);
  g_test_add_func ("/constellation/layers", test_layers);
  g_test_add_func ("/constellation/layers-random", test_layers_random);
  g_test_add_func ("/constellation/layers-long-chain", test_layers_long_chain);
  g_test_add_func ("/constellation/layers-empty", test_layers_empty);
  return g_test_run ();
}
