/* test-config.c: OrreryConfig: search order, layers, overrides, typed
 * getters and their errors.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib/gstdio.h>
#include <orrery.h>

static char *
write_file (const char *dir,
            const char *name,
            const char *contents)
{
  g_autoptr(GError) error = NULL;
  char *path = g_build_filename (dir, name, NULL);

  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
  return path;
}

static void
test_search_order (void)
{
  g_autoptr(OrreryConfig) config = orrery_config_new ();
  g_autoptr(OrreryConfig) config2 = orrery_config_new ();
  g_autoptr(OrreryConfig) config3 = orrery_config_new ();
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) files = orrery_config_get_search_files ();
  g_autofree char *user_dir = g_build_filename (g_get_user_config_dir (), "orrery", NULL);
  g_autofree char *user_file = NULL;
  g_autofree char *tmp = g_dir_make_tmp ("orrery-config-XXXXXX", NULL);
  g_autofree char *explicit = write_file (tmp, "explicit.conf", "[Host]\nWho=explicit\n");
  g_autofree char *who = NULL;

  const char *const *xdg_dirs = g_get_system_config_dirs ();
  guint n_files = g_strv_length (files);

  /* The user's, one in each of $XDG_CONFIG_DIRS, the system's (unless one
   * of those), the default: the user's first, the default last. */
  g_assert_cmpuint (n_files, >=, 3);
  g_assert_cmpuint (n_files, <=, 3 + g_strv_length ((char **) xdg_dirs));
  g_assert_true (g_str_has_prefix (files[0], g_get_user_config_dir ()));
  for (guint i = 0; xdg_dirs[i] != NULL; i++)
    {
      g_autofree char *expected = g_build_filename (xdg_dirs[i], "orrery", "orrery.conf", NULL);

      g_assert_cmpstr (files[1 + i], ==, expected);
    }
  g_assert_true (g_str_has_suffix (files[n_files - 1], "orrery.conf"));

  /* No user file: the default shipped with Orrery (the build tree's copy). */
  g_assert_true (orrery_config_load (config, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (orrery_config_get_file (config), ==, files[n_files - 1]);
  g_assert_true (orrery_config_has_group (config, "Plugin metrics"));
  g_assert_true (orrery_config_get_boolean (config, "Plugin failure-monitor", "Enabled", FALSE,
                                            &error));
  g_assert_no_error (error);

  /* A user file wins over the default. */
  g_assert_cmpint (g_mkdir_with_parents (user_dir, 0700), ==, 0);
  user_file = write_file (user_dir, "orrery.conf", "[Host]\nWho=user\n");
  g_assert_cmpstr (files[0], ==, user_file);
  g_assert_true (orrery_config_load (config2, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (orrery_config_get_file (config2), ==, user_file);
  who = orrery_config_get_string (config2, "Host", "Who", NULL);
  g_assert_cmpstr (who, ==, "user");
  g_clear_pointer (&who, g_free);

  /* --config wins over both. */
  g_assert_true (orrery_config_load (config3, explicit, &error));
  g_assert_no_error (error);
  who = orrery_config_get_string (config3, "Host", "Who", NULL);
  g_assert_cmpstr (who, ==, "explicit");

  g_unlink (user_file);
  g_unlink (explicit);
  g_rmdir (tmp);
}

static void
test_load_errors (void)
{
  g_autoptr(OrreryConfig) config = orrery_config_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *tmp = g_dir_make_tmp ("orrery-config-XXXXXX", NULL);
  g_autofree char *missing = g_build_filename (tmp, "missing.conf", NULL);
  g_autofree char *broken = write_file (tmp, "broken.conf", "[Host\nnot a keyfile\n");

  g_assert_false (orrery_config_load (config, missing, &error));
  g_assert_error (error, ORRERY_CONFIG_ERROR, ORRERY_CONFIG_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, missing));
  g_clear_error (&error);

  g_assert_false (orrery_config_load (config, broken, &error));
  g_assert_error (error, ORRERY_CONFIG_ERROR, ORRERY_CONFIG_ERROR_PARSE);
  g_assert_nonnull (strstr (error->message, broken));
  g_assert_null (orrery_config_get_file (config));

  g_unlink (broken);
  g_rmdir (tmp);
}

/* A value ending in a backslash that escapes nothing (found by fuzz-config:
 * GLib reads `a\;b\` by setting its error twice, a warning on every read)
 * is refused where it is loaded, naming the file, group and key; an escaped
 * backslash at the end is a value like any other. */
static void
test_lone_escape_at_end (void)
{
  g_autoptr(OrreryConfig) config = orrery_config_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *tmp = g_dir_make_tmp ("orrery-config-XXXXXX", NULL);
  g_autofree char *file = write_file (tmp, "escape.conf", "[Plugin x]\nE=a\\;b;\\\n");
  g_autofree char *s = NULL;

  g_assert_false (orrery_config_load (config, file, &error));
  g_assert_error (error, ORRERY_CONFIG_ERROR, ORRERY_CONFIG_ERROR_PARSE);
  g_assert_nonnull (strstr (error->message, file));
  g_assert_nonnull (strstr (error->message, "[Plugin x] E: the value ends with a backslash"));
  g_clear_error (&error);

  g_assert_false (orrery_config_load_data (config, "[Host]\nX=\\\\\\\n", "data.conf", &error));
  g_assert_error (error, ORRERY_CONFIG_ERROR, ORRERY_CONFIG_ERROR_PARSE);
  g_assert_nonnull (strstr (error->message, "data.conf: [Host] X:"));
  g_clear_error (&error);

  g_assert_false (orrery_config_parse_override (config, "x.E=a\\;\\", &error));
  g_assert_error (error, ORRERY_CONFIG_ERROR, ORRERY_CONFIG_ERROR_BAD_OVERRIDE);
  g_clear_error (&error);

  g_assert_true (orrery_config_load_data (config, "[Host]\nX=a\\\\\n", "data.conf", &error));
  g_assert_no_error (error);
  s = orrery_config_get_string (config, "Host", "X", NULL);
  g_assert_cmpstr (s, ==, "a\\");

  g_unlink (file);
  g_rmdir (tmp);
}

static void
test_typed_getters (void)
{
  g_autoptr(OrreryConfig) config = orrery_config_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *s = NULL;
  g_auto(GStrv) list = NULL;

  g_assert_true (orrery_config_load_data (config,
                                          "[Plugin m]\n"
                                          "I=-42\nU=0x10\nD=2.5\nB=yes\nS= text \n"
                                          "L=a;b;c\n"
                                          "BadI=12x\nBadU=-1\nBadD=two\nBadB=maybe\n",
                                          "test.conf", &error));
  g_assert_no_error (error);

  g_assert_cmpint (orrery_config_get_int (config, "Plugin m", "I", 0, &error), ==, -42);
  g_assert_cmpuint (orrery_config_get_uint (config, "Plugin m", "U", 0, &error), ==, 16);
  g_assert_cmpfloat (orrery_config_get_double (config, "Plugin m", "D", 0, &error), ==, 2.5);
  g_assert_true (orrery_config_get_boolean (config, "Plugin m", "B", FALSE, &error));
  g_assert_no_error (error);
  s = orrery_config_get_string (config, "Plugin m", "S", NULL);
  g_assert_cmpstr (s, ==, "text ");
  list = orrery_config_get_string_list (config, "Plugin m", "L");
  g_assert_cmpuint (g_strv_length (list), ==, 3);
  g_assert_cmpstr (list[2], ==, "c");

  /* Defaults when unset, without error. */
  g_assert_cmpint (orrery_config_get_int (config, "Plugin m", "Nope", 7, &error), ==, 7);
  g_assert_true (orrery_config_get_boolean (config, "Nope", "Nope", TRUE, &error));
  g_assert_null (orrery_config_get_string_list (config, "Plugin m", "Nope"));
  g_assert_no_error (error);

  /* Bad values: the default comes back and the error names file, group, key. */
  g_assert_cmpint (orrery_config_get_int (config, "Plugin m", "BadI", 5, &error), ==, 5);
  g_assert_error (error, ORRERY_CONFIG_ERROR, ORRERY_CONFIG_ERROR_BAD_VALUE);
  g_assert_nonnull (strstr (error->message, "test.conf"));
  g_assert_nonnull (strstr (error->message, "[Plugin m]"));
  g_assert_nonnull (strstr (error->message, "BadI"));
  g_clear_error (&error);
  g_assert_cmpuint (orrery_config_get_uint (config, "Plugin m", "BadU", 3, &error), ==, 3);
  g_assert_error (error, ORRERY_CONFIG_ERROR, ORRERY_CONFIG_ERROR_BAD_VALUE);
  g_clear_error (&error);
  g_assert_cmpfloat (orrery_config_get_double (config, "Plugin m", "BadD", 1.5, &error), ==, 1.5);
  g_assert_error (error, ORRERY_CONFIG_ERROR, ORRERY_CONFIG_ERROR_BAD_VALUE);
  g_clear_error (&error);
  g_assert_false (orrery_config_get_boolean (config, "Plugin m", "BadB", FALSE, &error));
  g_assert_error (error, ORRERY_CONFIG_ERROR, ORRERY_CONFIG_ERROR_BAD_VALUE);
  g_assert_nonnull (strstr (error->message, "BadB"));
}

static void
test_layers_and_overrides (void)
{
  g_autoptr(OrreryConfig) config = orrery_config_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *tmp = g_dir_make_tmp ("orrery-config-XXXXXX", NULL);
  g_autofree char *defaults = write_file (tmp, "p.conf",
                                          "[Plugin p]\nA=from-defaults\nB=from-defaults\n"
                                          "C=from-defaults\n[Plugin q]\nX=ignored\n");
  g_autofree char *origin = NULL;
  g_autofree char *a = NULL, *b = NULL, *c = NULL;
  g_auto(GStrv) keys = NULL;
  g_auto(GStrv) names = NULL;

  g_assert_true (orrery_config_load_data (config, "[Plugin p]\nA=from-host\nB=from-host\n"
                                          "[Plugin r]\nEnabled=false\n[Device d1]\nKind=local\n",
                                          "host.conf", &error));
  g_assert_true (orrery_config_add_defaults_file (config, "Plugin p", defaults, &error));
  g_assert_no_error (error);
  g_assert_true (orrery_config_parse_override (config, "p.A=from-command-line", &error));
  g_assert_no_error (error);

  a = orrery_config_get_string (config, "Plugin p", "A", NULL);
  b = orrery_config_get_string (config, "Plugin p", "B", NULL);
  c = orrery_config_get_string (config, "Plugin p", "C", NULL);
  g_assert_cmpstr (a, ==, "from-command-line");
  g_assert_cmpstr (b, ==, "from-host");
  g_assert_cmpstr (c, ==, "from-defaults");
  origin = orrery_config_get_origin (config, "Plugin p", "C");
  g_assert_cmpstr (origin, ==, defaults);
  g_clear_pointer (&origin, g_free);
  origin = orrery_config_get_origin (config, "Plugin p", "A");
  g_assert_cmpstr (origin, ==, "command line");
  /* The defaults file provides only its own group. */
  g_assert_false (orrery_config_has_group (config, "Plugin q"));

  keys = orrery_config_get_keys (config, "Plugin p");
  g_assert_cmpuint (g_strv_length (keys), ==, 3);

  /* --enable/--disable */
  g_assert_false (orrery_config_get_boolean (config, "Plugin r", "Enabled", TRUE, NULL));
  orrery_config_set_plugin_enabled (config, "r", TRUE);
  g_assert_true (orrery_config_get_boolean (config, "Plugin r", "Enabled", FALSE, NULL));
  orrery_config_set_plugin_enabled (config, "new", FALSE);
  names = orrery_config_get_plugin_names (config);
  g_assert_true (g_strv_contains ((const char * const *) names, "p"));
  g_assert_true (g_strv_contains ((const char * const *) names, "r"));
  g_assert_true (g_strv_contains ((const char * const *) names, "new"));
  g_assert_false (g_strv_contains ((const char * const *) names, "d1"));

  /* Generic groups for other parts of Orrery. */
  g_clear_pointer (&a, g_free);
  a = orrery_config_get_string (config, "Device d1", "Kind", NULL);
  g_assert_cmpstr (a, ==, "local");

  g_unlink (defaults);
  g_rmdir (tmp);
}

static void
test_parse_override (void)
{
  g_autoptr(OrreryConfig) config = orrery_config_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *v = NULL;
  const char *bad[] = { "noequals", "nodot=1", ".K=1", "p.=1", "[G.K=1", "[].K=1", "p.a b=1" };

  g_assert_true (orrery_config_parse_override (config, "metrics.Interval=5", &error));
  g_assert_true (orrery_config_parse_override (config, "Host.PluginPath=/a;/b", &error));
  g_assert_true (orrery_config_parse_override (config, "[Device d.1].Kind=local", &error));
  g_assert_true (orrery_config_parse_override (config, "my.plugin.Key=x=y", &error));
  g_assert_no_error (error);

  g_assert_cmpint (orrery_config_get_int (config, "Plugin metrics", "Interval", 0, &error), ==, 5);
  v = orrery_config_get_string (config, "Host", "PluginPath", NULL);
  g_assert_cmpstr (v, ==, "/a;/b");
  g_clear_pointer (&v, g_free);
  v = orrery_config_get_string (config, "Device d.1", "Kind", NULL);
  g_assert_cmpstr (v, ==, "local");
  g_clear_pointer (&v, g_free);
  v = orrery_config_get_string (config, "Plugin my.plugin", "Key", NULL);
  g_assert_cmpstr (v, ==, "x=y");

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_assert_false (orrery_config_parse_override (config, bad[i], &error));
      g_assert_error (error, ORRERY_CONFIG_ERROR, ORRERY_CONFIG_ERROR_BAD_OVERRIDE);
      g_clear_error (&error);
    }
}

/* Names a keyfile cannot hold raised a GLib critical in GKeyFile and the
 * override was dropped: each is now an error that says why, with the
 * assignment escaped. (GLib criticals are fatal in tests.) */
static void
test_override_names (void)
{
  g_autoptr(OrreryConfig) config = orrery_config_new ();
  static const struct { const char *assignment; const char *message; } bad[] = {
    { "a[b.Key=1", "not a plugin name" },
    { "a]b.Key=1", "not a plugin name" },
    { "a\nb.Key=1", "--set “a\\nb.Key=1”: not a plugin name" },
    { "caf\xe9.Key=1", "not a plugin name" },
    { "[a[b].Key=1", "not a group name" },
    { "[\x1b[2J].Key=1", "--set “[\\e[2J].Key=1”: not a group name" },
    { "x.K\x01y=1", "not a key name" },
    { "x.K]=1", "not a key name" },
    { "x.Key=a\nb", "the value holds control characters" },
    { "x.Key=caf\xe9", "not UTF-8" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_false (orrery_config_parse_override (config, bad[i].assignment, &error));
      g_assert_error (error, ORRERY_CONFIG_ERROR, ORRERY_CONFIG_ERROR_BAD_OVERRIDE);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      if (strstr (error->message, bad[i].message) == NULL)
        g_error ("expected “%s” in “%s”", bad[i].message, error->message);
    }
  {
    g_auto(GStrv) groups = orrery_config_get_groups (config);
    g_assert_cmpuint (g_strv_length (groups), ==, 0);
  }
  /* Tabs are fine in a value. */
  g_assert_true (orrery_config_parse_override (config, "x.Key=a\tb", NULL));
}

/* Wrong values given on the command line: the keys the SDK reads itself
 * at once, a plugin's own keys once a getter has refused them. */
static void
test_check_overrides (void)
{
  g_autoptr(OrreryConfig) config = orrery_config_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (orrery_config_load_data (config, "[Plugin m]\nEnabled=maybe\nLimit=x\n", "m.conf", NULL));
  g_assert_true (orrery_config_parse_override (config, "m.Summary=true", NULL));
  /* A bad value in a file is the file's reader's business, not this. */
  g_assert_true (orrery_config_check_overrides (config, &error));
  g_assert_no_error (error);

  g_assert_true (orrery_config_parse_override (config, "m.Enabled=perhaps", NULL));
  g_assert_true (orrery_config_parse_override (config, "m.Events=task-completed;task-done", NULL));
  g_assert_true (orrery_config_parse_override (config, "m.Delivery=sometimes", NULL));
  g_assert_true (orrery_config_parse_override (config, "m.QueueLimit=99999999999", NULL));
  g_assert_true (orrery_config_parse_override (config, "Host.AutoEnable=2", NULL));
  g_assert_false (orrery_config_check_overrides (config, &error));
  g_assert_error (error, ORRERY_CONFIG_ERROR, ORRERY_CONFIG_ERROR_BAD_VALUE);
  g_assert_nonnull (strstr (error->message, "command line: [Plugin m] Enabled: “perhaps” is not a boolean"));
  g_assert_nonnull (strstr (error->message, "[Plugin m] Events: “task-done” is not an event type"));
  g_assert_nonnull (strstr (error->message, "[Plugin m] Delivery: “sometimes” is not sync or queued"));
  g_assert_nonnull (strstr (error->message, "[Plugin m] QueueLimit: “99999999999” is not a non-negative integer that fits"));
  g_assert_nonnull (strstr (error->message, "[Host] AutoEnable: “2” is not a boolean"));
  g_clear_error (&error);

  {
    g_autoptr(OrreryConfig) other = orrery_config_new ();

    /* A plugin's declared key, refused when the plugin reads it. */
    g_assert_true (orrery_config_parse_override (other, "m.Limit=ten", NULL));
    g_assert_true (orrery_config_check_overrides (other, &error));
    orrery_config_get_uint (other, "Plugin m", "Limit", 5, &error);
    g_assert_error (error, ORRERY_CONFIG_ERROR, ORRERY_CONFIG_ERROR_BAD_VALUE);
    g_clear_error (&error);
    g_assert_false (orrery_config_check_overrides (other, &error));
    g_assert_cmpstr (error->message, ==,
                     "command line: [Plugin m] Limit: “ten” is not a non-negative integer");
  }
}

/* GKeyFile takes group names that are not UTF-8, and every message naming
 * them was not UTF-8 either. */
static void
test_keyfile_not_utf8 (void)
{
  g_autoptr(OrreryConfig) config = orrery_config_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("orrery-config-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "bad.conf", NULL);

  g_assert_false (orrery_config_load_data (config, "[Host]\nA=1\n[Plugi\xff x]\nB=2\n", "x.conf", &error));
  g_assert_error (error, ORRERY_CONFIG_ERROR, ORRERY_CONFIG_ERROR_PARSE);
  g_assert_cmpstr (error->message, ==, "x.conf:3: not valid UTF-8");
  g_clear_error (&error);

  g_assert_true (g_file_set_contents (path, "[Host]\nA=1\0\n", 11, NULL));
  g_assert_false (orrery_config_load_file (config, path, &error));
  g_assert_error (error, ORRERY_CONFIG_ERROR, ORRERY_CONFIG_ERROR_PARSE);
  g_assert_nonnull (strstr (error->message, ":2: not valid UTF-8 (a NUL byte)"));
  g_unlink (path);
  g_rmdir (dir);
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *config_home = g_dir_make_tmp ("orrery-test-config-XXXXXX", NULL);
  g_autofree char *orrery_dir = NULL;
  int ret;

  /* A private user configuration directory (G_TEST_OPTION_ISOLATE_DIRS
   * leaks in GLib 2.74). */
  g_setenv ("XDG_CONFIG_HOME", config_home, TRUE);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/config/search-order", test_search_order);
  g_test_add_func ("/config/load-errors", test_load_errors);
  g_test_add_func ("/config/lone-escape-at-end", test_lone_escape_at_end);
  g_test_add_func ("/config/typed-getters", test_typed_getters);
  g_test_add_func ("/config/layers-and-overrides", test_layers_and_overrides);
  g_test_add_func ("/config/parse-override", test_parse_override);
  g_test_add_func ("/config/override-names", test_override_names);
  g_test_add_func ("/config/check-overrides", test_check_overrides);
  g_test_add_func ("/config/keyfile-not-utf8", test_keyfile_not_utf8);
  ret = g_test_run ();
  orrery_dir = g_build_filename (config_home, "orrery", NULL);
  g_rmdir (orrery_dir);
  g_rmdir (config_home);
  return ret;
}
