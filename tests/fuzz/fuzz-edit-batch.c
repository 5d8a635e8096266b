/* fuzz-edit-batch.c: atomic edit batches.
 *
 * The input is a small program: a first byte picks which tasks of a fixed
 * six-task constellation have already run (so edits meet running and
 * finished tasks), then each group of bytes is one edit (add, remove or
 * update a task, add or remove a dependency, with ids, types, conditions
 * and field values drawn from the bytes) and a zero byte ends a batch.
 * After each batch: an accepted one leaves a valid (acyclic) graph, bumps
 * the version by one and round-trips through JSON exactly; a rejected one
 * leaves the graph and the version exactly as they were.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fuzz-common.h"

static const char base_json[] =
  "{\"constellation_id\": \"fuzz\", \"tasks\": {"
  "\"a\": {}, \"b\": {}, \"c\": {\"priority\": \"high\"}, \"d\": {}, \"e\": {}, \"f\": {}},"
  "\"dependencies\": ["
  "{\"from_task_id\": \"a\", \"to_task_id\": \"b\"},"
  "{\"from_task_id\": \"a\", \"to_task_id\": \"c\", \"dependency_type\": \"success_only\"},"
  "{\"from_task_id\": \"b\", \"to_task_id\": \"d\", \"dependency_type\": \"completion_only\"},"
  "{\"from_task_id\": \"c\", \"to_task_id\": \"d\", \"dependency_type\": \"conditional\","
  " \"condition\": \"exit_status == 0\"},"
  "{\"from_task_id\": \"d\", \"to_task_id\": \"e\"}]}";

static const char *const names[] = { "a", "b", "c", "d", "e", "f", "g", "h", "", "a\xc3\xa9" };
static const char *const fields[] = {
  "name", "description", "tips", "target_device_id", "device_type", "priority",
  "timeout", "retry_count", "task_data", "status", "task_id",
};
static const char *const conditions[] = {
  "exit_status == 0", "outputs.kind != \"csv\"", "result truthy", "x exists", "== 1", "a < [1, 2]",
};

typedef struct
{
  const uint8_t *p, *end;
} Reader;

static guint
next (Reader *r)
{
  return r->p < r->end ? *r->p++ : 0;
}

static const char *
next_name (Reader *r)
{
  return names[next (r) % G_N_ELEMENTS (names)];
}

/* A value of a type picked by the input: right or wrong for the field. */
static GVariant *
next_value (Reader *r)
{
  guint kind = next (r) % 10;
  gint v = (gint8) next (r);

  switch (kind)
    {
    case 0: return g_variant_new_string (names[(guint) v % G_N_ELEMENTS (names)]);
    case 1: return g_variant_new_int32 (v);
    case 2: return g_variant_new_int64 ((gint64) v * ((gint64) 1 << (next (r) % 40)));
    case 3: return g_variant_new_double (v / 3.0);
    case 4: return g_variant_new_uint32 ((guint) v);
    case 5:
      {
        const char *tips[] = { "x", names[(guint) v % G_N_ELEMENTS (names)], NULL };
        return g_variant_new_strv (tips, -1);
      }
    case 6:
      {
        GVariantDict d;

        g_variant_dict_init (&d, NULL);
        g_variant_dict_insert (&d, "command", "s", "true");
        if (v & 1)
          g_variant_dict_insert (&d, "duration", "d", 0.0);
        return g_variant_dict_end (&d);
      }
    case 7: return g_variant_new_boolean (v & 1);
    case 8: return g_variant_new_string ("critical");
    default: return g_variant_new_double (-1.0);
    }
}

static void
add_edit (OrreryEditBatch *batch,
          Reader          *r,
          guint            op)
{
  switch (op % 5)
    {
    case 0:
      {
        g_autoptr(OrreryTask) t = orrery_task_new (next_name (r), NULL);

        if (next (r) & 1)
          orrery_task_set_priority (t, 1 + next (r) % 4);
        orrery_edit_batch_add_task (batch, t);
      }
      break;
    case 1:
      orrery_edit_batch_remove_task (batch, next_name (r));
      break;
    case 2:
      {
        const char *id = next_name (r);
        GVariantDict d;
        guint n = 1 + next (r) % 3;

        g_variant_dict_init (&d, NULL);
        for (guint i = 0; i < n; i++)
          {
            const char *field = fields[next (r) % G_N_ELEMENTS (fields)];
            g_variant_dict_insert_value (&d, field, next_value (r));
          }
        orrery_edit_batch_update_task (batch, id, g_variant_dict_end (&d));
      }
      break;
    case 3:
      {
        const char *from = next_name (r);
        const char *to = next_name (r);
        guint type = next (r) % 5;
        g_autoptr(OrreryCondition) cond = NULL;

        if (type == ORRERY_DEPENDENCY_CONDITIONAL || type == 4)
          cond = orrery_condition_parse (conditions[next (r) % G_N_ELEMENTS (conditions)], NULL);
        orrery_edit_batch_add_dependency (batch, from, to,
                                          type == 4 ? ORRERY_DEPENDENCY_CONDITIONAL : type, cond);
      }
      break;
    default:
      {
        const char *from = next_name (r);
        orrery_edit_batch_remove_dependency (batch, from, next_name (r));
      }
      break;
    }
}

static void
check_batch (OrreryConstellation *c,
             OrreryEditBatch     *batch)
{
  g_autofree char *before = orrery_constellation_to_data (c, NULL);
  guint64 version = orrery_constellation_get_version (c);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) mods = orrery_constellation_apply_edits (c, batch, &error);
  g_autofree char *after = orrery_constellation_to_data (c, NULL);

  if (mods == NULL)
    {
      FUZZ_CHECK (error != NULL && error->domain == ORRERY_CONSTELLATION_ERROR, "no error");
      FUZZ_CHECK (g_str_equal (before, after), "a rejected batch changed the graph (%s)", error->message);
      FUZZ_CHECK (orrery_constellation_get_version (c) == version, "a rejected batch changed the version");
      return;
    }
  FUZZ_CHECK (orrery_constellation_get_version (c) == version + 1, "version %" G_GUINT64_FORMAT
              " after %" G_GUINT64_FORMAT, orrery_constellation_get_version (c), version);
  FUZZ_CHECK (orrery_constellation_validate (c, &error), "accepted batch left %s", error->message);
  {
    g_autoptr(OrreryConstellation) again = orrery_constellation_new_from_data (after, -1, "again", &error);
    g_autofree char *text = NULL;

    FUZZ_CHECK (again != NULL, "edited graph does not load back: %s", error->message);
    text = orrery_constellation_to_data (again, NULL);
    FUZZ_CHECK (g_str_equal (after, text), "edited graph does not round-trip");
  }
}

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_init_glib ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryConstellation) c = orrery_constellation_new_from_data (base_json, -1, "base", &error);
  Reader r = { data, data + size };
  guint ran = next (&r);
  g_autoptr(OrreryEditBatch) batch = NULL;

  FUZZ_CHECK (c != NULL, "%s", error->message);
  /* a ran (completed or failed by bit 1), and b is running (bit 2). */
  if (ran & 1)
    {
      g_autoptr(GPtrArray) ready = NULL;

      orrery_constellation_mark_task_started (c, "a", NULL);
      if (ran & 2)
        ready = orrery_constellation_complete_task (c, "a", NULL, NULL, NULL);
      else
        ready = orrery_constellation_fail_task (c, "a", NULL, "fuzz", NULL, NULL);
      if ((ran & 4) && orrery_task_get_status (orrery_constellation_get_task (c, "b")) == ORRERY_TASK_STATUS_PENDING)
        orrery_constellation_mark_task_started (c, "b", NULL);
    }

  batch = orrery_edit_batch_new ();
  while (r.p < r.end)
    {
      guint op = next (&r);

      if (op == 0)
        {
          check_batch (c, batch);
          g_clear_object (&batch);
          batch = orrery_edit_batch_new ();
          continue;
        }
      add_edit (batch, &r, op - 1);
    }
  check_batch (c, batch);
  return 0;
}
