/* fuzz-edit-batch.c: atomic edit batches.
 *
 * The input is a small program: a first byte picks which tasks of a fixed
 * six-task constellation have already run (so edits meet running and
 * finished tasks), then each group of bytes is one edit (add, remove or
 * update a task, add or remove a dependency, with ids, types, conditions
 * and field values drawn from the bytes) and a zero byte ends a batch (up
 * to four batches).
 * After each batch: an accepted one leaves a valid (acyclic) graph, bumps
 * the version by one and round-trips through JSON exactly; a rejected one
 * leaves the graph and the version exactly as they were.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fuzz-common.h"

/* The base: a → b, a → c (success only), b → d (completion only),
 * c → d (conditional), d → e, and f alone; built through the API, which
 * costs a tenth of parsing it. */
static OrreryConstellation *
make_base (void)
{
  OrreryConstellation *c = orrery_constellation_new ("fuzz", NULL);
  g_autoptr(OrreryCondition) cond = orrery_condition_parse ("exit_status == 0", NULL);
  static const struct { const char *from, *to; OrreryDependencyType type; } deps[] = {
    { "a", "b", ORRERY_DEPENDENCY_UNCONDITIONAL },
    { "a", "c", ORRERY_DEPENDENCY_SUCCESS_ONLY },
    { "b", "d", ORRERY_DEPENDENCY_COMPLETION_ONLY },
    { "c", "d", ORRERY_DEPENDENCY_CONDITIONAL },
    { "d", "e", ORRERY_DEPENDENCY_UNCONDITIONAL },
  };

  for (char id[2] = "a"; id[0] <= 'f'; id[0]++)
    {
      g_autoptr(OrreryTask) t = orrery_task_new (id, NULL);

      if (id[0] == 'c')
        orrery_task_set_priority (t, ORRERY_TASK_PRIORITY_HIGH);
      FUZZ_CHECK (orrery_constellation_add_task (c, t, NULL), "add %s", id);
    }
  for (guint i = 0; i < G_N_ELEMENTS (deps); i++)
    FUZZ_CHECK (orrery_constellation_add_dependency (c, deps[i].from, deps[i].to, deps[i].type,
                                                     deps[i].type == ORRERY_DEPENDENCY_CONDITIONAL ? cond : NULL,
                                                     NULL), "dependency %u", i);
  return c;
}

/* More batches per input cost more than they find. */
#define MAX_BATCHES 4

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

/* Everything an edit can change, as text: a tenth of the cost of the
 * JSON text, which is checked once at the end. */
static char *
fingerprint (OrreryConstellation *c)
{
  g_autoptr(GPtrArray) tasks = orrery_constellation_get_tasks (c);
  g_autoptr(GPtrArray) deps = orrery_constellation_get_dependencies (c);
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < tasks->len; i++)
    {
      OrreryTask *t = tasks->pdata[i];
      const char *const *tips = orrery_task_get_tips (t);
      GVariant *data = orrery_task_get_task_data (t);

      g_string_append_printf (s, "%s|%s|%s|%s|%s|%d|%d|%g|%u|", orrery_task_get_id (t),
                              orrery_task_get_name (t), orrery_task_get_description (t),
                              orrery_task_get_target_device_id (t), orrery_task_get_device_type (t),
                              orrery_task_get_priority (t), orrery_task_get_status (t),
                              orrery_task_get_timeout (t), orrery_task_get_retry_count (t));
      for (guint k = 0; tips && tips[k]; k++)
        g_string_append_printf (s, "%s,", tips[k]);
      if (data)
        {
          g_autofree char *text = g_variant_print (data, TRUE);
          g_string_append (s, text);
        }
      g_string_append_c (s, '\n');
    }
  for (guint i = 0; i < deps->len; i++)
    {
      OrreryDependency *d = deps->pdata[i];
      OrreryCondition *cond = orrery_dependency_get_condition (d);
      g_autofree char *text = cond ? orrery_condition_to_string (cond) : NULL;

      g_string_append_printf (s, "%s->%s %d %s\n", orrery_dependency_get_from_task_id (d),
                              orrery_dependency_get_to_task_id (d), orrery_dependency_get_dependency_type (d),
                              text ? text : "");
    }
  return g_string_free (s, FALSE);
}

/* Returns whether the batch was accepted. */
static gboolean
check_batch (OrreryConstellation *c,
             OrreryEditBatch     *batch)
{
  g_autofree char *before = fingerprint (c);
  guint64 version = orrery_constellation_get_version (c);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) mods = orrery_constellation_apply_edits (c, batch, &error);
  g_autofree char *after = fingerprint (c);

  if (mods == NULL)
    {
      FUZZ_CHECK (error != NULL && error->domain == ORRERY_CONSTELLATION_ERROR, "no error");
      FUZZ_CHECK (g_str_equal (before, after), "a rejected batch changed the graph (%s)", error->message);
      FUZZ_CHECK (orrery_constellation_get_version (c) == version, "a rejected batch changed the version");
      return FALSE;
    }
  FUZZ_CHECK (orrery_constellation_get_version (c) == version + 1, "version %" G_GUINT64_FORMAT
              " after %" G_GUINT64_FORMAT, orrery_constellation_get_version (c), version);
  FUZZ_CHECK (orrery_constellation_validate (c, &error), "accepted batch left %s", error->message);
  return TRUE;
}

/* What the accepted batches made round-trips through JSON exactly: the
 * graph loaded back from the text has the same fingerprint (everything an
 * edit can change; the rest of the text is the base's, whose round trip
 * fuzz-constellation-json checks). A JSON text of the copy would cost as
 * much again. */
static void
check_round_trip (OrreryConstellation *c)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = orrery_constellation_to_data (c, NULL);
  g_autoptr(OrreryConstellation) again = orrery_constellation_new_from_data (text, -1, "again", &error);
  g_autofree char *expected = NULL;
  g_autofree char *found = NULL;

  FUZZ_CHECK (again != NULL, "edited graph does not load back: %s", error->message);
  expected = fingerprint (c);
  found = fingerprint (again);
  FUZZ_CHECK (g_str_equal (expected, found), "edited graph does not round-trip:\n%s\n%s", expected, found);
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
  g_autoptr(OrreryConstellation) c = make_base ();
  Reader r = { data, data + size };
  guint ran = next (&r);
  guint n_batches = 1;
  gboolean accepted = FALSE;
  g_autoptr(OrreryEditBatch) batch = NULL;

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

      if (op == 0 && n_batches < MAX_BATCHES)
        {
          n_batches++;
          accepted |= check_batch (c, batch);
          g_clear_object (&batch);
          batch = orrery_edit_batch_new ();
          continue;
        }
      if (op > 0)
        add_edit (batch, &r, op - 1);
    }
  accepted |= check_batch (c, batch);
  /* Only edits make the graph differ from the base. */
  if (accepted)
    check_round_trip (c);
  return 0;
}
