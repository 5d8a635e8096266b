/* test-escape.c: user data printed safely.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <orrery.h>

static void
check (const char *in,
       gssize      len,
       const char *expected)
{
  g_autofree char *out = orrery_escape_for_terminal (in, len);

  g_assert_cmpstr (out, ==, expected);
  g_assert_true (g_utf8_validate (out, -1, NULL));
  for (const char *p = out; *p; p++)
    g_assert_true ((guchar) *p >= 0x20 && *p != 0x7f);
}

static void
test_terminal (void)
{
  check ("plain id", -1, "plain id");
  check ("naïve — ok", -1, "naïve — ok");
  check ("a\nb", -1, "a\\nb");
  check ("\x1b]52;c;aGk=\x07x", -1, "\\e]52;c;aGk=\\x07x");
  check ("\x1b[2J\rover", -1, "\\e[2J\\rover");
  check ("c1 \xc2\x9b" "31m", -1, "c1 \\u{009b}31m");
  check ("bidi \xe2\x80\xae" "evil", -1, "bidi \\u{202e}evil");
  check ("bad \xff\xfe" " utf8", -1, "bad \\xff\\xfe utf8");
  check ("back\\slash", -1, "back\\\\slash");
  check ("nul\0hidden", 10, "nul\\x00hidden");
  check (NULL, -1, "");
  g_assert_false (orrery_text_is_terminal_safe ("a\tb", -1));
  g_assert_true (orrery_text_is_terminal_safe ("日本語", -1));
}

static void
test_filename (void)
{
  const char *cases[] = { "build", "a/b", "a_b", "../../etc/passwd", "", ".hidden", "-rf",
                          "x\ny", "日本" };
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *plain = orrery_escape_for_filename ("build-1.log");
  g_autofree char *longer = NULL;
  g_autofree char *big = g_strnfill (500, 'x');

  g_assert_cmpstr (plain, ==, "build-1.log");
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      char *name = orrery_escape_for_filename (cases[i]);

      g_assert_cmpuint (strlen (name), >, 0);
      g_assert_null (strchr (name, '/'));
      g_assert_true (name[0] != '.' && name[0] != '-');
      for (const char *p = name; *p; p++)
        g_assert_true (g_ascii_isalnum (*p) || *p == '_' || *p == '-' || *p == '.');
      g_assert_false (g_hash_table_contains (seen, name));
      g_hash_table_add (seen, name);
    }
  longer = orrery_escape_for_filename (big);
  g_assert_cmpuint (strlen (longer), <=, 110);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/escape/terminal", test_terminal);
  g_test_add_func ("/escape/filename", test_filename);
  return g_test_run ();
}
