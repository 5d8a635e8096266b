/* bench-json-libs: Orrery's JSON reader against the C JSON libraries of
 * Debian 12, parse only, on the files bench-constellation loads.
 *
 * Why: Orrery reads constellations and journals with its own reader
 * (sdk/orrery-json-reader.c) rather than a library. This measures the
 * choice: the same text, in memory, parsed by
 *
 * - `json-glib`: json_parser_load_from_data(), a JsonNode tree (what the
 *   loader used before it had its own reader, and its fallback)
 * - `json-c`: json_tokener_parse_ex() on the text and its length
 * - `jansson`: json_loadb()
 * - `orrery-tree`: Orrery's reader, the whole document as one value tree
 *   in an arena (the same work as the libraries: everything kept)
 * - `orrery-stream`: Orrery's reader as the loader uses it: the root's
 *   members one by one, each element of an array or object collection
 *   read into an arena that is reset after it
 *
 * Each parse is timed in CPU time (CLOCK_PROCESS_CPUTIME_ID; the machine
 * is shared) and wall time; freeing the document is not timed. Prints one
 * JSON object per file and parser: the median of ORRERY_BENCH_REPEAT (5)
 * parses, ns per task and MB/s, and the ratio to `orrery-stream`.
 *
 * The files: `simulated` and `ufo` at ORRERY_BENCH_FILE_SIZES tasks
 * (100000), written by `bench-constellation --write` (found through
 * ORRERY_BUILD_ROOT), or the files named on the command line.
 *
 * Built only when json-c and jansson are found (not a dependency of CI).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "orrery-json-reader.h"

#include "bench-stats.h"

/* bench-json-libs-jsonc.c and -jansson.c: json-c's, jansson's and
 * json-glib's headers declare the same names (json_object_iter_next...). */
void *bench_json_c_parse  (const char *text, size_t len);
void  bench_json_c_free   (void *doc);
void *bench_jansson_parse (const char *text, size_t len);
void  bench_jansson_free  (void *doc);

typedef enum {
  PARSER_JSON_GLIB,
  PARSER_JSON_C,
  PARSER_JANSSON,
  PARSER_ORRERY_TREE,
  PARSER_ORRERY_STREAM,
  N_PARSERS
} Parser;

static const char *const parser_names[] = {
  "json-glib", "json-c", "jansson", "orrery-tree", "orrery-stream",
};

static gdouble
cpu_now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Orrery's reader over the root object, as the loader walks it. */
static gboolean
orrery_stream (const char *text,
               gsize       len)
{
  OrreryJsonReader r;
  g_autoptr(OrreryJsonArena) root = _orrery_json_arena_new ();
  g_autoptr(OrreryJsonArena) element = _orrery_json_arena_new ();
  OrreryJsonValue name, value;
  gboolean ok;

  _orrery_json_reader_init (&r, text, len, 64);
  if (_orrery_json_reader_peek (&r) != '{' || !_orrery_json_reader_enter (&r, '{'))
    {
      _orrery_json_reader_clear (&r);
      return FALSE;
    }
  while (_orrery_json_reader_next (&r, root, &name))
    {
      char open = _orrery_json_reader_peek (&r);

      if ((open == '[' || open == '{') &&
          (_orrery_json_value_equal_str (&name, "tasks") || _orrery_json_value_equal_str (&name, "dependencies")))
        {
          OrreryJsonValue key;

          _orrery_json_reader_enter (&r, open);
          while (_orrery_json_reader_next (&r, element, &key))
            {
              if (!_orrery_json_reader_read (&r, element, &value))
                break;
              _orrery_json_arena_reset (element);
            }
        }
      else if (!_orrery_json_reader_read (&r, root, &value))
        break;
    }
  ok = !r.failed && _orrery_json_reader_at_end (&r);
  _orrery_json_reader_clear (&r);
  return ok;
}

/* One parse of @text by @parser: its CPU and wall seconds; FALSE if it
 * refused the text. */
static gboolean
parse_once (Parser      parser,
            const char *text,
            gsize       len,
            gdouble    *cpu,
            gdouble    *wall)
{
  gdouble c0 = cpu_now ();
  gint64 t0 = g_get_monotonic_time ();
  gboolean ok = FALSE;
  gpointer doc = NULL;

  switch (parser)
    {
    case PARSER_JSON_GLIB:
      doc = json_parser_new_immutable ();
      ok = json_parser_load_from_data (doc, text, len, NULL);
      break;
    case PARSER_JSON_C:
      doc = bench_json_c_parse (text, len);
      ok = doc != NULL;
      break;
    case PARSER_JANSSON:
      doc = bench_jansson_parse (text, len);
      ok = doc != NULL;
      break;
    case PARSER_ORRERY_TREE:
      {
        OrreryJsonReader r;
        OrreryJsonValue v;

        doc = _orrery_json_arena_new ();
        _orrery_json_reader_init (&r, text, len, 64);
        ok = _orrery_json_reader_read (&r, doc, &v) && _orrery_json_reader_at_end (&r);
        _orrery_json_reader_clear (&r);
      }
      break;
    case PARSER_ORRERY_STREAM:
      ok = orrery_stream (text, len);
      break;
    case N_PARSERS:
    default:
      g_assert_not_reached ();
    }
  *cpu = cpu_now () - c0;
  *wall = (g_get_monotonic_time () - t0) / 1e6;
  switch (parser)
    {
    case PARSER_JSON_GLIB: g_object_unref (doc); break;
    case PARSER_JSON_C: bench_json_c_free (doc); break;
    case PARSER_JANSSON: bench_jansson_free (doc); break;
    case PARSER_ORRERY_TREE: _orrery_json_arena_free (doc); break;
    case PARSER_ORRERY_STREAM:
    case N_PARSERS:
    default:
      break;
    }
  return ok;
}

static int
bench_file (const char *path,
            const char *format,
            guint       tasks)
{
  g_autofree char *text = NULL;
  gsize len = 0;
  const char *env = g_getenv ("ORRERY_BENCH_REPEAT");
  guint repeat = MIN (env ? MAX (1, atoi (env)) : 5, 32);
  gdouble cpu[N_PARSERS][32], wall[N_PARSERS][32], cpu_median[N_PARSERS], wall_median[N_PARSERS];

  if (!g_file_get_contents (path, &text, &len, NULL))
    {
      fprintf (stderr, "bench-json-libs: cannot read %s\n", path);
      return 1;
    }
  /* Interleaved: round r parses with every parser before round r + 1. */
  for (guint r = 0; r < repeat; r++)
    for (Parser p = 0; p < N_PARSERS; p++)
      if (!parse_once (p, text, len, &cpu[p][r], &wall[p][r]))
        {
          fprintf (stderr, "bench-json-libs: %s refused %s\n", parser_names[p], path);
          return 1;
        }
  for (Parser p = 0; p < N_PARSERS; p++)
    {
      cpu_median[p] = bench_median (cpu[p], repeat);
      wall_median[p] = bench_median (wall[p], repeat);
    }
  for (Parser p = 0; p < N_PARSERS; p++)
    printf ("{\"bench\":\"json-libs\",\"format\":\"%s\",\"tasks\":%u,\"file_bytes\":%" G_GSIZE_FORMAT ","
            "\"parser\":\"%s\",\"runs\":%u,\"cpu_s\":%.4f,\"wall_s\":%.4f,\"cpu_ns_per_task\":%.0f,"
            "\"cpu_mb_per_s\":%.0f,\"cpu_ratio_to_orrery_stream\":%.2f}\n",
            format, tasks, len, parser_names[p], repeat, cpu_median[p], wall_median[p],
            tasks ? cpu_median[p] * 1e9 / tasks : 0, len / 1e6 / cpu_median[p],
            cpu_median[p] / cpu_median[PARSER_ORRERY_STREAM]);
  fflush (stdout);
  return 0;
}

int
main (int    argc,
      char **argv)
{
  const char *build = g_getenv ("ORRERY_BUILD_ROOT");
  const char *sizes_env = g_getenv ("ORRERY_BENCH_FILE_SIZES");
  g_auto(GStrv) sizes = g_strsplit (sizes_env && *sizes_env ? sizes_env : "100000", ",", -1);
  g_autofree char *dir = NULL;
  g_autofree char *writer = NULL;
  int failed = 0;

  if (argc > 1)
    {
      for (int i = 1; i < argc; i++)
        failed |= bench_file (argv[i], "file", 0);
      return failed;
    }
  if (build == NULL)
    {
      fprintf (stderr, "bench-json-libs: set ORRERY_BUILD_ROOT or name the files\n");
      return 2;
    }
  writer = g_build_filename (build, "tests", "bench-constellation", NULL);
  dir = g_dir_make_tmp ("bench-json-libs-XXXXXX", NULL);
  for (guint s = 0; sizes[s] && !failed; s++)
    {
      static const char *const formats[] = { "simulated", "ufo" };

      for (guint f = 0; f < G_N_ELEMENTS (formats) && !failed; f++)
        {
          g_autofree char *path = g_build_filename (dir, "constellation.json", NULL);
          const char *const wargv[] = { writer, "--write", formats[f], sizes[s], path, NULL };
          g_autoptr(GError) error = NULL;
          int status = 0;

          if (!g_spawn_sync (NULL, (char **) wargv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL, &status, &error) ||
              !g_spawn_check_wait_status (status, &error))
            {
              fprintf (stderr, "bench-json-libs: %s: %s\n", writer, error->message);
              failed = 1;
              break;
            }
          failed |= bench_file (path, formats[f], (guint) g_ascii_strtoull (sizes[s], NULL, 10));
          g_unlink (path);
        }
    }
  g_rmdir (dir);
  return failed;
}
