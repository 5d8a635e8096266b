/* fuzz-constellation-json.c: the constellation JSON loader.
 *
 * Loads the input; when it loads: writes it compact to a file and pretty
 * in memory, loads both back and requires the same text (round trip
 * exact), then drives every task to an end (marking the ready tasks
 * completed or failed, by a bit of the input, until none is ready) and
 * requires that none is left unfinished. When it does not load, the error
 * must be in the constellation domain and name the document.
 *
 * It also checks the loader's pre-scan against json-glib: whatever json-glib
 * parses is at most ORRERY_CONSTELLATION_MAX_DEPTH deep unless the loader
 * refused the text as too deep (a scan that missed structure would let a
 * deep document through to json-glib's recursive parser), or for a string
 * json-glib is never given.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <json-glib/json-glib.h>
#include <unistd.h>

#include "fuzz-common.h"

static char *save_path;

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_init_glib ();
  /* The save syncs the file: on tmpfs that costs nothing. */
  save_path = g_strdup_printf ("%s/orrery-fuzz-%d.json",
                               g_file_test ("/dev/shm", G_FILE_TEST_IS_DIR) ? "/dev/shm" : g_get_tmp_dir (),
                               (int) getpid ());
  return 0;
}

/* The depth of a json-glib tree, without recursion. */
static guint
tree_depth (JsonNode *root)
{
  g_autoptr(GPtrArray) stack = g_ptr_array_new ();
  g_autoptr(GArray) depths = g_array_new (FALSE, FALSE, sizeof (guint));
  guint deepest = 0;
  guint d = 1;

  g_ptr_array_add (stack, root);
  g_array_append_val (depths, d);
  while (stack->len > 0)
    {
      JsonNode *n = g_ptr_array_steal_index (stack, stack->len - 1);
      guint depth = g_array_index (depths, guint, depths->len - 1);

      g_array_set_size (depths, depths->len - 1);
      if (JSON_NODE_HOLDS_OBJECT (n) || JSON_NODE_HOLDS_ARRAY (n))
        {
          g_autoptr(GList) values = JSON_NODE_HOLDS_OBJECT (n)
                                      ? json_object_get_values (json_node_get_object (n))
                                      : json_array_get_elements (json_node_get_array (n));
          guint child = depth + 1;

          deepest = MAX (deepest, depth);
          for (GList *l = values; l; l = l->next)
            {
              g_ptr_array_add (stack, l->data);
              g_array_append_val (depths, child);
            }
        }
    }
  return deepest;
}

static void
drive_to_end (OrreryConstellation *c,
              const uint8_t       *data,
              size_t               size)
{
  guint step = 0;

  orrery_constellation_reset_interrupted (c);
  for (;;)
    {
      g_autoptr(GPtrArray) ready = orrery_constellation_get_ready_tasks (c);

      if (ready->len == 0)
        break;
      for (guint i = 0; i < ready->len; i++, step++)
        {
          const char *id = orrery_task_get_id (ready->pdata[i]);
          gboolean ok = size == 0 || (data[step % size] >> (step / size % 8)) & 1;
          g_autoptr(GError) error = NULL;
          g_autoptr(GPtrArray) newly = NULL;

          /* A task ready earlier in this pass may have been skipped since. */
          if (orrery_task_get_status (ready->pdata[i]) != ORRERY_TASK_STATUS_PENDING &&
              orrery_task_get_status (ready->pdata[i]) != ORRERY_TASK_STATUS_WAITING_DEPENDENCY)
            continue;
          FUZZ_CHECK (orrery_constellation_mark_task_started (c, id, &error), "%s", error->message);
          if (ok)
            newly = orrery_constellation_complete_task (c, id, NULL, NULL, &error);
          else
            newly = orrery_constellation_fail_task (c, id, NULL, "fuzz", NULL, &error);
          FUZZ_CHECK (newly != NULL, "%s", error->message);
        }
    }
  FUZZ_CHECK (orrery_constellation_is_finished (c), "%u of %u tasks never ended",
              orrery_constellation_get_n_tasks (c) -
              orrery_constellation_count_status (c, ORRERY_TASK_STATUS_COMPLETED) -
              orrery_constellation_count_status (c, ORRERY_TASK_STATUS_FAILED) -
              orrery_constellation_count_status (c, ORRERY_TASK_STATUS_SKIPPED) -
              orrery_constellation_count_status (c, ORRERY_TASK_STATUS_CANCELLED),
              orrery_constellation_get_n_tasks (c));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryConstellation) c = NULL;

  c = orrery_constellation_new_from_data ((const char *) data, size, "fuzz.json", &error);

  /* The pre-scan never lets json-glib see a deeper document. A text the
   * pre-scan refused for its strings (a lone surrogate, a NUL) never
   * reaches json-glib in the loader either, and is not given to it here:
   * json-glib 1.6.6 leaks a GString on a malformed surrogate pair
   * ("\ud83d\u0041", "malformed surrogate pair"), a leak of the library
   * that would stop every run of this target. */
  if (!g_error_matches (error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_TOO_DEEP) &&
      !g_error_matches (error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_NOT_UTF8) &&
      !g_error_matches (error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_NUL_CHARACTER) &&
      /* Not JSON by the pre-scan (a second document, a bad escape), not
       * by json-glib's parser: json-glib leaks what it built of a second
       * document. The loader words json-glib's errors `NAME: not JSON:
       * <data>:LINE:COL: ...` and the pre-scan's `NAME: $.path: ...`; the
       * prefix is told apart before any of the document's own text (a
       * member name "Parse error" once passed a search of the message). */
      !(g_error_matches (error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_NOT_JSON) &&
        !g_str_has_prefix (error->message, "fuzz.json: not JSON: <data>:")))
    {
      g_autoptr(JsonParser) parser = json_parser_new ();

      if (json_parser_load_from_data (parser, (const char *) data, size, NULL) &&
          json_parser_get_root (parser) != NULL)
        FUZZ_CHECK (tree_depth (json_parser_get_root (parser)) <= ORRERY_CONSTELLATION_MAX_DEPTH,
                    "json-glib parsed a document deeper than the pre-scan saw");
    }

  if (c == NULL)
    {
      FUZZ_CHECK (error != NULL && error->domain == ORRERY_CONSTELLATION_ERROR, "no error");
      FUZZ_CHECK (g_str_has_prefix (error->message, "fuzz.json: "), "%s", error->message);
      FUZZ_CHECK (g_utf8_validate (error->message, -1, NULL), "message not UTF-8");
      return 0;
    }

  {
    g_autofree char *first = orrery_constellation_to_data (c, NULL);
    g_autofree char *second = NULL;
    g_autofree char *third = NULL;
    g_autoptr(OrreryConstellation) again = NULL;
    g_autoptr(OrreryConstellation) from_file = NULL;

    FUZZ_CHECK (g_utf8_validate (first, -1, NULL), "written text is not UTF-8");
    again = orrery_constellation_new_from_data (first, -1, "again", &error);
    FUZZ_CHECK (again != NULL, "written text does not load: %s", error->message);
    second = orrery_constellation_to_data (again, NULL);
    FUZZ_CHECK (g_str_equal (first, second), "round trip differs");

    FUZZ_CHECK (orrery_constellation_save_to_file (c, save_path, &error), "%s", error->message);
    from_file = orrery_constellation_new_from_file (save_path, &error);
    FUZZ_CHECK (from_file != NULL, "saved file does not load: %s", error->message);
    third = orrery_constellation_to_data (from_file, NULL);
    FUZZ_CHECK (g_str_equal (first, third), "saved file differs");
  }

  drive_to_end (c, data, size);
  return 0;
}
