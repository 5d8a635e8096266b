/* test-json-reader.c: Orrery's JSON reader (sdk/orrery-json-reader.c),
 * built with its source: what its callers rely on that the loaders' tests
 * do not show.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include <glib.h>

#include "orrery-json-reader.h"

/* Reads one value from [text, text + len) with nothing after it. */
static gboolean
read_slice (OrreryJsonReader *r,
            OrreryJsonArena  *arena,
            const char       *text,
            gsize             len,
            OrreryJsonValue  *out)
{
  _orrery_json_arena_reset (arena);
  _orrery_json_reader_reuse (r, text, len);
  return _orrery_json_reader_read (r, arena, out) && _orrery_json_reader_at_end (r);
}

/* The text is read through its length, never past it: a value that the
 * bytes after the slice would extend (or complete) is read as the slice
 * has it. The journal reader relies on it to read its records where they
 * lie in its buffer, without a NUL-terminated copy per line. */
static void
test_slice (void)
{
  g_autoptr(OrreryJsonArena) arena = _orrery_json_arena_new ();
  OrreryJsonReader r;
  OrreryJsonValue v;
  /* Each slice is the first bytes of a longer text. */
  static const char number[] = "123456";
  static const char fraction[] = "1.2345e17";
  static const char cut_string[] = "\"abc\"";
  static const char cut_word[] = "true";
  static const char word[] = "nullnull";
  static const char object[] = "{\"a\": 12}{";

  _orrery_json_reader_init (&r, "", 0, 64);

  g_assert_true (read_slice (&r, arena, number, 3, &v));
  g_assert_cmpint (v.kind, ==, ORRERY_JSON_INT);
  g_assert_cmpint (v.u.i, ==, 123);

  g_assert_true (read_slice (&r, arena, fraction, 4, &v));
  g_assert_cmpint (v.kind, ==, ORRERY_JSON_DOUBLE);
  g_assert_cmpfloat (v.u.d, ==, 1.23);
  /* Past the fast path (an exponent): the copy for strtod is the slice's. */
  g_assert_true (read_slice (&r, arena, fraction, 8, &v));
  g_assert_cmpfloat (v.u.d, ==, 1.2345e1);

  g_assert_false (read_slice (&r, arena, cut_string, 4, &v));
  g_assert_false (read_slice (&r, arena, cut_word, 3, &v));
  g_assert_true (read_slice (&r, arena, word, 4, &v));
  g_assert_cmpint (v.kind, ==, ORRERY_JSON_NULL);

  g_assert_true (read_slice (&r, arena, object, 9, &v));
  g_assert_cmpint (v.kind, ==, ORRERY_JSON_OBJECT);
  g_assert_cmpint (_orrery_json_value_get_int (&v, "a", -1), ==, 12);
  g_assert_false (read_slice (&r, arena, object, 10, &v));

  _orrery_json_reader_clear (&r);
}

/* Lines of one buffer read in place, one after the other, with the same
 * reader and arena; strings are the arena's copies (NUL-terminated), not
 * pointers into the buffer, so they outlive a change of the buffer. */
static void
test_lines_in_place (void)
{
  g_autoptr(OrreryJsonArena) arena = _orrery_json_arena_new ();
  char buffer[] = "{\"seq\": 1, \"id\": \"first\"}\n{\"seq\": 22, \"id\": \"second\"}\n";
  const char *line = buffer;
  OrreryJsonReader r;
  gint64 seqs[2];
  guint n = 0;

  _orrery_json_reader_init (&r, "", 0, 64);
  while (*line)
    {
      const char *nl = strchr (line, '\n');
      OrreryJsonValue v;
      const char *id;

      g_assert_true (read_slice (&r, arena, line, nl - line, &v));
      seqs[n] = _orrery_json_value_get_int (&v, "seq", -1);
      id = _orrery_json_value_get_string (&v, "id");
      /* The buffer overwritten: the value read keeps its string. */
      memset ((char *) line, 'x', nl - line);
      g_assert_cmpstr (id, ==, n == 0 ? "first" : "second");
      g_assert_cmpuint (strlen (id), ==, n == 0 ? 5 : 6);
      n++;
      line = nl + 1;
    }
  g_assert_cmpuint (n, ==, 2);
  g_assert_cmpint (seqs[0], ==, 1);
  g_assert_cmpint (seqs[1], ==, 22);
  _orrery_json_reader_clear (&r);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/json-reader/slice", test_slice);
  g_test_add_func ("/json-reader/lines-in-place", test_lines_in_place);
  return g_test_run ();
}
