/* test-plugin-engine.c: discovery, search path, configuration, every
 * failure mode, enable/disable/re-enable, permissions, shutdown order,
 * the out-of-tree build and `orrery plugins`.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <orrery.h>

#include "plugins/fixture-util.h"

typedef struct
{
  char               *dir;
  OrreryEventBus     *bus;
  OrreryConfig       *config;
  OrreryPluginEngine *engine;
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_unsetenv ("ORRERY_PLUGIN_PATH");
  f->dir = fixture_tmpdir ();
  f->bus = orrery_event_bus_new ();
  f->config = orrery_config_new ();
  f->engine = orrery_plugin_engine_new (f->bus, f->config);
  orrery_plugin_engine_set_use_default_path (f->engine, FALSE);
  orrery_plugin_engine_add_search_path (f->engine, f->dir);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_clear_object (&f->engine);
  g_assert_cmpuint (orrery_event_bus_get_n_subscriptions (f->bus), ==, 0);
  g_clear_object (&f->config);
  g_clear_object (&f->bus);
  fixture_rmrf (f->dir);
  g_free (f->dir);
}

static OrreryPluginInfo *
info_by_file (OrreryPluginEngine *engine,
              const char         *file)
{
  g_autoptr(GPtrArray) plugins = orrery_plugin_engine_get_plugins (engine);

  for (guint i = 0; i < plugins->len; i++)
    {
      OrreryPluginInfo *info = g_ptr_array_index (plugins, i);

      if (g_strcmp0 (orrery_plugin_info_get_file (info), file) == 0)
        return info;  /* the engine keeps it alive */
    }
  g_assert_not_reached ();
  return NULL;
}

static void
assert_failed (OrreryPluginEngine *engine,
               const char         *file,
               gint                code)
{
  OrreryPluginInfo *info = info_by_file (engine, file);
  const GError *error = orrery_plugin_info_get_error (info);

  g_assert_cmpint (orrery_plugin_info_get_state (info), ==, ORRERY_PLUGIN_STATE_FAILED);
  g_assert_error ((GError *) error, ORRERY_PLUGIN_ERROR, code);
  /* Every message names the file (a configuration error names the
   * configuration file instead, with group and key). */
  if (code != ORRERY_PLUGIN_ERROR_BAD_CONFIG)
    g_assert_nonnull (strstr (error->message, file));
}

static void
test_discover_and_load (Fixture       *f,
                        gconstpointer  data)
{
  g_autofree char *good = fixture_install (f->dir, "good", NULL);
  g_autofree char *hidden = fixture_install (f->dir, "good", ".hidden.so");
  g_autofree char *other = fixture_install (f->dir, "good", "good.so.tmp");
  g_autofree char *subdir = g_build_filename (f->dir, "sub", NULL);
  g_autofree char *objdir = g_build_filename (f->dir, "x.so.p", NULL);
  g_autofree char *sub_anon = NULL;
  g_autofree char *obj_anon = NULL;
  g_autoptr(GPtrArray) plugins = NULL;
  OrreryPluginInfo *info;

  g_assert_cmpint (g_mkdir (subdir, 0755), ==, 0);
  g_assert_cmpint (g_mkdir (objdir, 0755), ==, 0);
  sub_anon = fixture_install (subdir, "anon", "sub-anon.so");
  obj_anon = fixture_install (objdir, "anon", "obj-anon.so");

  /* Discovery opens nothing: good.so and sub/sub-anon.so only. */
  g_assert_cmpuint (orrery_plugin_engine_discover (f->engine), ==, 2);
  plugins = orrery_plugin_engine_get_plugins (f->engine);
  g_assert_cmpuint (plugins->len, ==, 2);
  info = g_ptr_array_index (plugins, 0);
  g_assert_cmpstr (orrery_plugin_info_get_file (info), ==, good);
  g_assert_cmpint (orrery_plugin_info_get_state (info), ==, ORRERY_PLUGIN_STATE_FOUND);
  g_assert_null (orrery_plugin_info_get_name (info));
  g_assert_cmpint (fixture_count (f->bus, "good-inits"), ==, 0);

  g_assert_cmpuint (orrery_plugin_engine_load_all (f->engine), ==, 2);
  g_assert_cmpstr (orrery_plugin_info_get_name (info), ==, "good");
  g_assert_cmpstr (orrery_plugin_info_get_version (info), ==, "1.2.3");
  g_assert_cmpstr (orrery_plugin_info_get_description (info), ==,
                   "Counts the events it receives");
  g_assert_cmpint (orrery_plugin_info_get_state (info), ==, ORRERY_PLUGIN_STATE_ENABLED);
  g_assert_null (orrery_plugin_info_get_error (info));
  g_assert_true (orrery_plugin_engine_lookup (f->engine, "good") == info);
  /* The anonymous plugin is named after its file. */
  g_assert_nonnull (orrery_plugin_engine_lookup (f->engine, "sub-anon"));
  g_assert_cmpint (orrery_plugin_info_get_state (orrery_plugin_engine_lookup (f->engine,
                                                                              "sub-anon")),
                   ==, ORRERY_PLUGIN_STATE_ENABLED);
  g_assert_cmpuint (orrery_event_bus_get_n_subscriptions (f->bus), ==, 2);

  /* Loading again finds nothing new and changes nothing. */
  g_assert_cmpuint (orrery_plugin_engine_load_all (f->engine), ==, 2);
  g_assert_cmpint (fixture_count (f->bus, "good-inits"), ==, 1);

  /* The declared default of Increment (1) wins over the caller's (7). */
  fixture_publish (f->bus, ORRERY_EVENT_TASK_COMPLETED, 3);
  g_assert_cmpint (fixture_count (f->bus, "good-count"), ==, 3);

  orrery_plugin_engine_shutdown (f->engine);
  g_assert_cmpint (orrery_plugin_info_get_state (info), ==, ORRERY_PLUGIN_STATE_DISABLED);
  g_assert_cmpint (fixture_count (f->bus, "good-shutdowns"), ==, 1);
  g_assert_cmpuint (orrery_event_bus_get_n_subscriptions (f->bus), ==, 0);
  fixture_publish (f->bus, ORRERY_EVENT_TASK_COMPLETED, 3);
  g_assert_cmpint (fixture_count (f->bus, "good-count"), ==, 3);
}

static void
test_failure_modes (Fixture       *f,
                    gconstpointer  data)
{
  g_autofree char *dir2 = fixture_tmpdir ();
  g_autofree char *good = fixture_install (f->dir, "good", NULL);
  g_autofree char *abi_major = fixture_install (f->dir, "abi-major", NULL);
  g_autofree char *abi_minor = fixture_install (f->dir, "abi-minor", NULL);
  g_autofree char *nodesc = fixture_install (f->dir, "nodesc", NULL);
  g_autofree char *initfail = fixture_install (f->dir, "initfail", NULL);
  g_autofree char *badconf = fixture_install (f->dir, "badconf", NULL);
  g_autofree char *badconf_src = fixture_path ("badconf", ".conf");
  g_autofree char *badconf_conf = g_build_filename (f->dir, "badconf.conf", NULL);
  g_autofree char *text = g_build_filename (f->dir, "text.so", NULL);
  g_autofree char *dup = fixture_install (dir2, "dup", NULL);
  g_autofree char *exported = fixture_install (dir2, "exported", NULL);
  g_autoptr(GError) error = NULL;
  OrreryPluginInfo *info;
  guint n_subscriptions;

  fixture_copy (badconf_src, badconf_conf, 0644);
  g_file_set_contents (text, "this is not a shared object\n", -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (text, 0755), ==, 0);
  orrery_plugin_engine_add_search_path (f->engine, dir2);
  g_unsetenv ("ORRERY_FIXTURE_ABI_MAJOR_RAN");
  g_unsetenv ("ORRERY_FIXTURE_ABI_MINOR_RAN");

  /* Only good (and exported, whose descriptor points at exported
   * symbols) survive, and the host goes on. */
  g_assert_cmpuint (orrery_plugin_engine_load_all (f->engine), ==, 2);
  g_assert_cmpint (orrery_plugin_info_get_state (info_by_file (f->engine, exported)), ==,
                   ORRERY_PLUGIN_STATE_ENABLED);
  g_assert_cmpstr (orrery_plugin_info_get_version (info_by_file (f->engine, exported)), ==,
                   "3.1");

  assert_failed (f->engine, abi_major, ORRERY_PLUGIN_ERROR_ABI_MISMATCH);
  assert_failed (f->engine, abi_minor, ORRERY_PLUGIN_ERROR_ABI_MISMATCH);
  /* Refused before any of their code ran (not even constructors). */
  g_assert_null (g_getenv ("ORRERY_FIXTURE_ABI_MAJOR_RAN"));
  g_assert_null (g_getenv ("ORRERY_FIXTURE_ABI_MINOR_RAN"));
  assert_failed (f->engine, nodesc, ORRERY_PLUGIN_ERROR_NO_DESCRIPTOR);
  assert_failed (f->engine, initfail, ORRERY_PLUGIN_ERROR_INIT_FAILED);
  info = info_by_file (f->engine, initfail);
  g_assert_cmpstr (orrery_plugin_info_get_name (info), ==, "initfail");
  g_assert_nonnull (strstr (orrery_plugin_info_get_error (info)->message,
                            "deliberate failure"));
  assert_failed (f->engine, badconf, ORRERY_PLUGIN_ERROR_BAD_CONFIG);
  info = info_by_file (f->engine, badconf);
  g_assert_nonnull (strstr (orrery_plugin_info_get_error (info)->message, badconf_conf));
  g_assert_nonnull (strstr (orrery_plugin_info_get_error (info)->message, "[Plugin badconf]"));
  g_assert_nonnull (strstr (orrery_plugin_info_get_error (info)->message, "Threshold"));
  assert_failed (f->engine, text, ORRERY_PLUGIN_ERROR_NOT_SHARED_OBJECT);
  assert_failed (f->engine, dup, ORRERY_PLUGIN_ERROR_DUPLICATE_NAME);
  info = info_by_file (f->engine, dup);
  g_assert_cmpstr (orrery_plugin_info_get_version (info), ==, "9.9");
  g_assert_nonnull (strstr (orrery_plugin_info_get_error (info)->message, good));
  g_assert_null (g_object_get_data (G_OBJECT (f->bus), "dup-inits"));

  /* The first found owns the name. */
  info = orrery_plugin_engine_lookup (f->engine, "good");
  g_assert_cmpstr (orrery_plugin_info_get_file (info), ==, good);
  g_assert_cmpint (orrery_plugin_info_get_state (info), ==, ORRERY_PLUGIN_STATE_ENABLED);

  /* initfail's observer was detached (it would abort on an event). */
  n_subscriptions = orrery_event_bus_get_n_subscriptions (f->bus);
  g_assert_cmpuint (n_subscriptions, ==, 1);
  fixture_publish (f->bus, ORRERY_EVENT_TASK_FAILED, 2);
  g_assert_cmpint (fixture_count (f->bus, "good-count"), ==, 2);

  /* Enabling a refused plugin reports why; an unknown name is an error. */
  g_assert_false (orrery_plugin_engine_enable (f->engine, "initfail", &error));
  g_assert_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_INIT_FAILED);
  g_clear_error (&error);
  g_assert_false (orrery_plugin_engine_enable (f->engine, "no-such-plugin", &error));
  g_assert_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_UNKNOWN);
  g_clear_error (&error);

  /* Fixing the configuration and enabling again works. */
  orrery_config_parse_override (f->config, "badconf.Threshold=25", &error);
  g_assert_no_error (error);
  g_assert_true (orrery_plugin_engine_enable (f->engine, "badconf", &error));
  g_assert_no_error (error);
  g_assert_cmpint (fixture_count (f->bus, "badconf-threshold"), ==, 25);

  fixture_rmrf (dir2);
}

static void
test_enable_disable (Fixture       *f,
                     gconstpointer  data)
{
  g_autofree char *good = fixture_install (f->dir, "good", NULL);
  g_autoptr(GError) error = NULL;
  OrreryPluginInfo *info;
  GPtrArray *states = g_ptr_array_new ();
  guint base;

  base = orrery_event_bus_get_n_subscriptions (f->bus);
  orrery_config_parse_override (f->config, "good.Delivery=queued", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (orrery_plugin_engine_load_all (f->engine), ==, 1);
  info = orrery_plugin_engine_lookup (f->engine, "good");
  g_signal_connect_swapped (f->engine, "plugin-state-changed", G_CALLBACK (g_ptr_array_add),
                            states);

  /* Queued: nothing yet, then the main loop delivers. */
  fixture_publish (f->bus, ORRERY_EVENT_TASK_COMPLETED, 4);
  g_assert_cmpint (fixture_count (f->bus, "good-count"), ==, 0);
  while (g_main_context_iteration (NULL, FALSE));
  g_assert_cmpint (fixture_count (f->bus, "good-count"), ==, 4);

  /* Disabled with events in its queue: they are dropped for it. */
  fixture_publish (f->bus, ORRERY_EVENT_TASK_COMPLETED, 5);
  g_assert_true (orrery_plugin_engine_disable (f->engine, "good", &error));
  g_assert_no_error (error);
  g_assert_cmpint (orrery_plugin_info_get_state (info), ==, ORRERY_PLUGIN_STATE_DISABLED);
  g_assert_cmpint (fixture_count (f->bus, "good-shutdowns"), ==, 1);
  g_assert_cmpuint (orrery_event_bus_get_n_subscriptions (f->bus), ==, base);
  while (g_main_context_iteration (NULL, FALSE));
  fixture_publish (f->bus, ORRERY_EVENT_TASK_COMPLETED, 5);
  while (g_main_context_iteration (NULL, FALSE));
  g_assert_cmpint (fixture_count (f->bus, "good-count"), ==, 4);

  /* Disabling twice is harmless. */
  g_assert_true (orrery_plugin_engine_disable (f->engine, "good", &error));
  g_assert_cmpint (fixture_count (f->bus, "good-shutdowns"), ==, 1);

  /* Enabled again: a new init, events flow again. */
  g_assert_true (orrery_plugin_engine_enable (f->engine, "good", &error));
  g_assert_no_error (error);
  g_assert_true (orrery_plugin_engine_enable (f->engine, "good", &error));
  g_assert_cmpint (fixture_count (f->bus, "good-inits"), ==, 2);
  fixture_publish (f->bus, ORRERY_EVENT_TASK_FAILED, 3);
  while (g_main_context_iteration (NULL, FALSE));
  g_assert_cmpint (fixture_count (f->bus, "good-count"), ==, 7);

  /* The signal reported disabled, then enabled. */
  g_assert_cmpuint (states->len, ==, 2);
  g_signal_handlers_disconnect_by_data (f->engine, states);
  g_ptr_array_unref (states);
}

static void
test_config_overrides (Fixture       *f,
                       gconstpointer  data)
{
  g_autofree char *good = fixture_install (f->dir, "good", NULL);
  g_autoptr(GError) error = NULL;

  /* Events in the keyfile replace what the plugin asked for (every type);
   * the plugin's own key is read with its typed getter. */
  g_assert_true (orrery_config_load_data (f->config,
                                          "[Plugin good]\n"
                                          "Events=task-failed;constellation-failed\n"
                                          "Increment=10\n", "host.conf", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (orrery_plugin_engine_load_all (f->engine), ==, 1);
  fixture_publish (f->bus, ORRERY_EVENT_TASK_COMPLETED, 3);
  fixture_publish (f->bus, ORRERY_EVENT_TASK_FAILED, 2);
  fixture_publish (f->bus, ORRERY_EVENT_CONSTELLATION_FAILED, 1);
  g_assert_cmpint (fixture_count (f->bus, "good-count"), ==, 30);
}

static void
test_bad_host_config (Fixture       *f,
                      gconstpointer  data)
{
  const char *bad[][2] = {
    { "Increment=abc", "Increment" },
    { "Events=task-completed;no-such-event", "no-such-event" },
    { "Delivery=sometimes", "Delivery" },
    { "QueueLimit=-3", "QueueLimit" },
    { "Enabled=perhaps", "Enabled" },
  };
  g_autofree char *good = fixture_install (f->dir, "good", NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(OrreryConfig) config = orrery_config_new ();
      g_autoptr(OrreryPluginEngine) engine = orrery_plugin_engine_new (f->bus, config);
      g_autofree char *text = g_strdup_printf ("[Plugin good]\n%s\n", bad[i][0]);
      g_autoptr(GError) error = NULL;
      const GError *failure;
      OrreryPluginInfo *info;

      g_assert_true (orrery_config_load_data (config, text, "host.conf", &error));
      orrery_plugin_engine_set_use_default_path (engine, FALSE);
      orrery_plugin_engine_add_search_path (engine, f->dir);
      g_assert_cmpuint (orrery_plugin_engine_load_all (engine), ==, 0);
      info = orrery_plugin_engine_lookup (engine, "good");
      g_assert_cmpint (orrery_plugin_info_get_state (info), ==, ORRERY_PLUGIN_STATE_FAILED);
      failure = orrery_plugin_info_get_error (info);
      g_assert_error ((GError *) failure, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_BAD_CONFIG);
      g_test_message ("%s", failure->message);
      g_assert_nonnull (strstr (failure->message, "host.conf"));
      g_assert_nonnull (strstr (failure->message, "[Plugin good]"));
      g_assert_nonnull (strstr (failure->message, bad[i][1]));
      /* Refused before init. */
      g_assert_cmpint (fixture_count (f->bus, "good-inits"), ==, 0);
    }
}

static void
test_unknown_key_warning (Fixture       *f,
                          gconstpointer  data)
{
  g_autofree char *good = fixture_install (f->dir, "good", NULL);
  g_autoptr(GError) error = NULL;

  g_assert_true (orrery_config_load_data (f->config, "[Plugin good]\nIncremnet=2\n",
                                          "host.conf", &error));
  g_test_expect_message ("Orrery-Plugins", G_LOG_LEVEL_WARNING,
                         "host.conf: [Plugin good] Incremnet: unknown key*");
  g_assert_cmpuint (orrery_plugin_engine_load_all (f->engine), ==, 1);
  g_test_assert_expected_messages ();
}

static void
test_enabled_settings (Fixture       *f,
                       gconstpointer  data)
{
  g_autofree char *good = fixture_install (f->dir, "good", NULL);
  g_autoptr(GError) error = NULL;
  OrreryPluginInfo *info;

  /* The shipped default configuration enables four plugins not present
   * here: they are reported as not found, nothing fails. */
  g_assert_true (orrery_config_load (f->config, NULL, &error));
  g_assert_no_error (error);
  orrery_config_set_plugin_enabled (f->config, "good", FALSE);
  g_assert_cmpuint (orrery_plugin_engine_load_all (f->engine), ==, 0);
  info = orrery_plugin_engine_lookup (f->engine, "good");
  g_assert_cmpint (orrery_plugin_info_get_state (info), ==, ORRERY_PLUGIN_STATE_DISABLED);
  for (guint i = 0; i < 4; i++)
    {
      const char *names[] = { "visualizer", "metrics", "synchronizer", "failure-monitor" };
      OrreryPluginInfo *missing = orrery_plugin_engine_lookup (f->engine, names[i]);

      g_assert_nonnull (missing);
      g_assert_cmpint (orrery_plugin_info_get_state (missing), ==,
                       ORRERY_PLUGIN_STATE_NOT_FOUND);
      g_assert_null (orrery_plugin_info_get_file (missing));
      g_assert_error ((GError *) orrery_plugin_info_get_error (missing), ORRERY_PLUGIN_ERROR,
                      ORRERY_PLUGIN_ERROR_NOT_FOUND);
    }
  fixture_publish (f->bus, ORRERY_EVENT_TASK_COMPLETED, 1);
  g_assert_cmpint (fixture_count (f->bus, "good-count"), ==, 0);

  /* Disabled by configuration, enabled at run time. */
  g_assert_true (orrery_plugin_engine_enable (f->engine, "good", &error));
  fixture_publish (f->bus, ORRERY_EVENT_TASK_COMPLETED, 1);
  g_assert_cmpint (fixture_count (f->bus, "good-count"), ==, 1);
}

static void
test_auto_enable (Fixture       *f,
                  gconstpointer  data)
{
  g_autofree char *good = fixture_install (f->dir, "good", NULL);
  g_autofree char *anon = fixture_install (f->dir, "anon", NULL);
  g_autoptr(GError) error = NULL;

  g_assert_true (orrery_config_load_data (f->config,
                                          "[Host]\nAutoEnable=false\n"
                                          "[Plugin anon]\nEnabled=true\n", NULL, &error));
  g_assert_cmpuint (orrery_plugin_engine_load_all (f->engine), ==, 1);
  g_assert_cmpint (orrery_plugin_info_get_state (orrery_plugin_engine_lookup (f->engine, "good")),
                   ==, ORRERY_PLUGIN_STATE_DISABLED);
  g_assert_cmpint (orrery_plugin_info_get_state (orrery_plugin_engine_lookup (f->engine, "anon")),
                   ==, ORRERY_PLUGIN_STATE_ENABLED);
}

static void
test_search_path (Fixture       *f,
                  gconstpointer  data)
{
  g_autofree char *env_dir = fixture_tmpdir ();
  g_autofree char *conf_dir = fixture_tmpdir ();
  g_autofree char *host_conf = g_strdup_printf ("[Host]\nPluginPath=%s;/nonexistent\n",
                                                conf_dir);
  g_autofree char *in_conf = fixture_install (conf_dir, "good", NULL);
  g_autofree char *in_env = fixture_install (env_dir, "dup", NULL);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) path = NULL;
  g_auto(GStrv) path_default = NULL;

  g_setenv ("ORRERY_PLUGIN_PATH", env_dir, TRUE);
  g_assert_true (orrery_config_load_data (f->config, host_conf, NULL, &error));

  path = orrery_plugin_engine_get_search_path (f->engine);
  g_assert_cmpuint (g_strv_length (path), ==, 4);
  g_assert_cmpstr (path[0], ==, f->dir);
  g_assert_cmpstr (path[1], ==, env_dir);
  g_assert_cmpstr (path[2], ==, conf_dir);
  g_assert_cmpstr (path[3], ==, "/nonexistent");

  /* The user's directory, then the default last; uninstalled, it is the
   * build tree's plugins/. */
  orrery_plugin_engine_set_use_default_path (f->engine, TRUE);
  path_default = orrery_plugin_engine_get_search_path (f->engine);
  g_assert_cmpuint (g_strv_length (path_default), ==, 6);
  {
    g_autofree char *user_dir = g_build_filename (g_get_user_data_dir (), "orrery", "plugins", NULL);

    g_assert_cmpstr (path_default[4], ==, user_dir);
  }
  g_assert_cmpstr (path_default[5], ==, orrery_plugin_engine_get_default_path ());
  g_assert_true (g_str_has_suffix (orrery_plugin_engine_get_default_path (), "/plugins"));
  g_assert_false (g_str_has_prefix (orrery_plugin_engine_get_default_path (), "/usr"));
  orrery_plugin_engine_set_use_default_path (f->engine, FALSE);

  /* $ORRERY_PLUGIN_PATH (dup, “good” 9.9) wins over the configuration. */
  orrery_plugin_engine_load_all (f->engine);
  g_assert_cmpstr (orrery_plugin_info_get_version (orrery_plugin_engine_lookup (f->engine,
                                                                                "good")),
                   ==, "9.9");
  g_assert_nonnull (g_object_get_data (G_OBJECT (f->bus), "dup-inits"));
  assert_failed (f->engine, in_conf, ORRERY_PLUGIN_ERROR_DUPLICATE_NAME);
  orrery_plugin_engine_shutdown (f->engine);

  /* The command line wins over both. */
  {
    g_autoptr(OrreryPluginEngine) engine = orrery_plugin_engine_new (f->bus, f->config);
    g_autofree char *in_cmdline = fixture_install (f->dir, "good", NULL);

    orrery_plugin_engine_set_use_default_path (engine, FALSE);
    orrery_plugin_engine_add_search_path (engine, f->dir);
    orrery_plugin_engine_load_all (engine);
    g_assert_cmpstr (orrery_plugin_info_get_file (orrery_plugin_engine_lookup (engine, "good")),
                     ==, in_cmdline);
    assert_failed (engine, in_env, ORRERY_PLUGIN_ERROR_DUPLICATE_NAME);
    assert_failed (engine, in_conf, ORRERY_PLUGIN_ERROR_DUPLICATE_NAME);
  }

  g_unsetenv ("ORRERY_PLUGIN_PATH");
  fixture_rmrf (env_dir);
  fixture_rmrf (conf_dir);
}

static void
test_permissions (Fixture       *f,
                  gconstpointer  data)
{
  g_autofree char *good = fixture_install (f->dir, "good", NULL);
  g_autofree char *anon = fixture_install (f->dir, "anon", NULL);
  g_autofree char *open_dir = fixture_tmpdir ();
  g_autofree char *in_open = fixture_install (open_dir, "dup", NULL);
  OrreryPluginInfo *info;

  if (getuid () == 0)
    g_test_message ("running as root: the check does not depend on the user");

  g_assert_cmpint (g_chmod (good, 0775), ==, 0);  /* group-writable file */
  g_assert_cmpint (g_chmod (anon, 0757), ==, 0);  /* world-writable file */
  g_assert_cmpint (g_chmod (open_dir, 0777), ==, 0);  /* world-writable directory */
  orrery_plugin_engine_add_search_path (f->engine, open_dir);

  g_assert_cmpuint (orrery_plugin_engine_load_all (f->engine), ==, 0);
  assert_failed (f->engine, good, ORRERY_PLUGIN_ERROR_UNSAFE_PERMISSIONS);
  assert_failed (f->engine, anon, ORRERY_PLUGIN_ERROR_UNSAFE_PERMISSIONS);
  assert_failed (f->engine, in_open, ORRERY_PLUGIN_ERROR_UNSAFE_PERMISSIONS);
  info = info_by_file (f->engine, in_open);
  g_assert_nonnull (strstr (orrery_plugin_info_get_error (info)->message, "directory"));
  /* Refused before loading: no name read, no init run. */
  g_assert_null (orrery_plugin_info_get_name (info));
  g_assert_null (g_object_get_data (G_OBJECT (f->bus), "dup-inits"));
  g_assert_cmpint (fixture_count (f->bus, "good-inits"), ==, 0);

  g_assert_cmpint (g_chmod (open_dir, 0700), ==, 0);
  fixture_rmrf (open_dir);
}

#define OTHER_UID 4242

/* A trap plugin (its constructor and init leave a mark in $ORRERY_FIXTURE_TRAP)
 * installed as @as in @dir. */
static char *
install_trap (const char *dir,
              const char *as)
{
  return fixture_install (dir, "trap", as);
}

static void
assert_refused_with (OrreryPluginEngine *engine,
                     const char         *file,
                     const char         *must_contain[])
{
  OrreryPluginInfo *info = info_by_file (engine, file);
  const GError *error = orrery_plugin_info_get_error (info);

  assert_failed (engine, file, ORRERY_PLUGIN_ERROR_UNSAFE_PERMISSIONS);
  g_test_message ("%s", error->message);
  for (guint i = 0; must_contain[i] != NULL; i++)
    if (strstr (error->message, must_contain[i]) == NULL)
      g_error ("“%s” does not contain “%s”", error->message, must_contain[i]);
  /* Refused before anything was read: no name. */
  g_assert_null (orrery_plugin_info_get_name (info));
}

/* The cases that ran a plugin's init as root before the trust rule. Those
 * that need another user's files chown to an unused uid (root only). */
static void
test_trust (Fixture       *f,
            gconstpointer  data)
{
  g_autofree char *trap_mark = g_build_filename (f->dir, "trap-ran", NULL);
  g_autofree char *open_dir = g_build_filename (f->dir, "open", NULL);
  g_autofree char *sticky_dir = g_build_filename (f->dir, "sticky", NULL);
  g_autofree char *mine_in_sticky = g_build_filename (sticky_dir, "mine", NULL);
  g_autofree char *theirs_in_sticky = g_build_filename (sticky_dir, "theirs", NULL);
  g_autofree char *under_open = g_build_filename (open_dir, "plugins", NULL);
  g_autofree char *sub_of_open = g_build_filename (open_dir, "sub", NULL);
  g_autofree char *theirs_dir = g_build_filename (f->dir, "theirs", NULL);
  g_autofree char *safe = g_build_filename (f->dir, "safe", NULL);
  g_autofree char *target = NULL, *link = NULL, *in_under_open = NULL, *in_sub = NULL;
  g_autofree char *in_sticky = NULL, *in_theirs_sticky = NULL, *foreign_file = NULL;
  g_autofree char *in_theirs_dir = NULL, *foreign_link = NULL, *foreign_target = NULL;
  gboolean can_chown;

  g_setenv ("ORRERY_FIXTURE_TRAP", trap_mark, TRUE);
  g_assert_cmpint (g_mkdir (open_dir, 0700), ==, 0);
  g_assert_cmpint (g_mkdir (under_open, 0755), ==, 0);
  g_assert_cmpint (g_mkdir (sub_of_open, 0755), ==, 0);
  g_assert_cmpint (g_mkdir (sticky_dir, 0700), ==, 0);
  g_assert_cmpint (g_mkdir (mine_in_sticky, 0700), ==, 0);
  g_assert_cmpint (g_mkdir (theirs_in_sticky, 0755), ==, 0);
  g_assert_cmpint (g_mkdir (theirs_dir, 0755), ==, 0);
  g_assert_cmpint (g_mkdir (safe, 0755), ==, 0);

  /* 1. A symlink in a safe directory to a plugin in a world-writable one. */
  target = install_trap (open_dir, "target.so");
  link = g_build_filename (safe, "link.so", NULL);
  g_assert_cmpint (symlink (target, link), ==, 0);
  /* 2. A plugin directory whose parent is writable by others. */
  in_under_open = install_trap (under_open, "parent-open.so");
  /* 3. A .so in a subdirectory of a world-writable search directory. */
  in_sub = install_trap (sub_of_open, "sub-of-open.so");
  /* 4. Sticky and world-writable (like /tmp): a directory of ours in it is
   * safe; one of another user is not. */
  in_sticky = fixture_install (mine_in_sticky, "good", NULL);
  in_theirs_sticky = install_trap (theirs_in_sticky, "in-theirs-sticky.so");
  /* 5. A plugin file, a directory and a symlink owned by another user. */
  foreign_file = install_trap (safe, "foreign-file.so");
  in_theirs_dir = install_trap (theirs_dir, "in-theirs-dir.so");
  foreign_target = fixture_install (mine_in_sticky, "anon", "foreign-target.so");
  foreign_link = g_build_filename (safe, "foreign-link.so", NULL);
  g_assert_cmpint (symlink (foreign_target, foreign_link), ==, 0);

  can_chown = chown (foreign_file, OTHER_UID, OTHER_UID) == 0;
  if (can_chown)
    {
      g_assert_cmpint (chown (in_theirs_dir, 0, 0), ==, 0);
      g_assert_cmpint (chown (theirs_dir, OTHER_UID, OTHER_UID), ==, 0);
      g_assert_cmpint (chown (theirs_in_sticky, OTHER_UID, OTHER_UID), ==, 0);
      g_assert_cmpint (lchown (foreign_link, OTHER_UID, OTHER_UID), ==, 0);
    }
  else
    g_test_message ("not root: the cases of another user's files are skipped (chown: %s)",
                    g_strerror (errno));

  /* World-writable last (fixture_install wrote into them first). */
  g_assert_cmpint (g_chmod (open_dir, 0777), ==, 0);
  g_assert_cmpint (g_chmod (sticky_dir, 01777), ==, 0);

  orrery_plugin_engine_add_search_path (f->engine, safe);
  orrery_plugin_engine_add_search_path (f->engine, under_open);
  orrery_plugin_engine_add_search_path (f->engine, open_dir);
  orrery_plugin_engine_add_search_path (f->engine, mine_in_sticky);
  orrery_plugin_engine_add_search_path (f->engine, theirs_in_sticky);
  orrery_plugin_engine_add_search_path (f->engine, theirs_dir);

  orrery_plugin_engine_load_all (f->engine);

  assert_refused_with (f->engine, link,
                       (const char *[]) { open_dir, "not sticky", "0777", "uid 0", NULL });
  assert_refused_with (f->engine, in_under_open,
                       (const char *[]) { open_dir, "writable by", "0777", NULL });
  assert_refused_with (f->engine, in_sub,
                       (const char *[]) { open_dir, "not sticky", NULL });
  /* Under the search path open_dir itself, target.so is refused too. */
  assert_refused_with (f->engine, target, (const char *[]) { open_dir, NULL });

  g_assert_cmpint (orrery_plugin_info_get_state (info_by_file (f->engine, in_sticky)), ==,
                   ORRERY_PLUGIN_STATE_ENABLED);

  if (can_chown)
    {
      assert_refused_with (f->engine, foreign_file,
                           (const char *[]) { foreign_file, "uid 4242", "0755", NULL });
      assert_refused_with (f->engine, in_theirs_dir,
                           (const char *[]) { theirs_dir, "uid 4242", "0755", NULL });
      assert_refused_with (f->engine, in_theirs_sticky,
                           (const char *[]) { theirs_in_sticky, "sticky", "uid 4242", NULL });
      assert_refused_with (f->engine, foreign_link,
                           (const char *[]) { "symbolic link", foreign_link, "uid 4242", NULL });
      /* The target itself, found through its own directory, is fine. */
      g_assert_cmpint (orrery_plugin_info_get_state (info_by_file (f->engine, foreign_target)),
                       ==, ORRERY_PLUGIN_STATE_ENABLED);
    }

  /* None of the refused plugins ran any code: every trap was refused (and
   * none was loaded in this process before: see check-all). */
  g_assert_false (g_file_test (trap_mark, G_FILE_TEST_EXISTS));

  g_unsetenv ("ORRERY_FIXTURE_TRAP");
  g_assert_cmpint (g_chmod (open_dir, 0700), ==, 0);
  g_assert_cmpint (g_chmod (sticky_dir, 0700), ==, 0);
}

/* NAME.conf beside a plugin sets defaults of its configuration (commands
 * among them): it must pass the same rule as the plugin. */
static void
test_trust_defaults_file (Fixture       *f,
                          gconstpointer  data)
{
  g_autofree char *good = fixture_install (f->dir, "good", NULL);
  g_autofree char *conf = g_build_filename (f->dir, "good.conf", NULL);
  g_autoptr(GError) error = NULL;
  const char *message;

  g_file_set_contents (conf, "[Plugin good]\nIncrement=2\n", -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (conf, 0666), ==, 0);
  g_assert_cmpuint (orrery_plugin_engine_load_all (f->engine), ==, 0);
  assert_failed (f->engine, good, ORRERY_PLUGIN_ERROR_UNSAFE_PERMISSIONS);
  message = orrery_plugin_info_get_error (info_by_file (f->engine, good))->message;
  g_assert_nonnull (strstr (message, conf));
  g_assert_nonnull (strstr (message, "0666"));
  g_assert_cmpint (fixture_count (f->bus, "good-inits"), ==, 0);

  /* Made safe, it is read. */
  g_assert_cmpint (g_chmod (conf, 0644), ==, 0);
  g_assert_true (orrery_plugin_engine_enable (f->engine, "good", &error));
  g_assert_no_error (error);
  fixture_publish (f->bus, ORRERY_EVENT_TASK_COMPLETED, 2);
  g_assert_cmpint (fixture_count (f->bus, "good-count"), ==, 4);
}

/* Listing checks everything that needs no code and runs none: no
 * constructor, no init. */
/* Only what the configuration enables is loaded: the others are checked,
 * run no code, and load when enabled. */
static void
test_load_enabled (Fixture       *f,
                   gconstpointer  data)
{
  g_autofree char *trap_mark = g_build_filename (f->dir, "trap-ran", NULL);
  g_autofree char *trap = fixture_install (f->dir, "trap", NULL);
  g_autofree char *good = fixture_install (f->dir, "good", NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *marks = NULL;
  OrreryPluginInfo *info;

  g_setenv ("ORRERY_FIXTURE_TRAP", trap_mark, TRUE);
  g_assert_true (orrery_config_load_data (f->config, "[Plugin trap]\nEnabled=false\n",
                                          "host.conf", &error));
  g_assert_no_error (error);

  g_assert_cmpuint (orrery_plugin_engine_load_enabled (f->engine), ==, 1);
  g_assert_cmpint (orrery_plugin_info_get_state (orrery_plugin_engine_lookup (f->engine, "good")),
                   ==, ORRERY_PLUGIN_STATE_ENABLED);
  g_assert_cmpint (fixture_count (f->bus, "good-inits"), ==, 1);
  info = orrery_plugin_engine_lookup (f->engine, "trap");
  g_assert_nonnull (info);
  g_assert_cmpint (orrery_plugin_info_get_state (info), ==, ORRERY_PLUGIN_STATE_CHECKED);
  g_assert_null (orrery_plugin_info_get_error (info));
  g_assert_false (g_file_test (trap_mark, G_FILE_TEST_EXISTS));

  /* Again: nothing new, nothing loaded. */
  g_assert_cmpuint (orrery_plugin_engine_load_enabled (f->engine), ==, 1);
  g_assert_false (g_file_test (trap_mark, G_FILE_TEST_EXISTS));

  /* Enabled later, it is loaded then. */
  g_assert_true (orrery_plugin_engine_enable (f->engine, "trap", &error));
  g_assert_no_error (error);
  g_assert_cmpint (orrery_plugin_info_get_state (info), ==, ORRERY_PLUGIN_STATE_ENABLED);
  g_assert_true (g_file_get_contents (trap_mark, &marks, NULL, NULL));
  /* (The constructor ran only if no earlier test loaded the same bytes.) */
  g_assert_true (g_str_has_suffix (marks, "init\n"));
  orrery_plugin_engine_shutdown (f->engine);
  g_unsetenv ("ORRERY_FIXTURE_TRAP");
}

static void
test_check_all (Fixture       *f,
                gconstpointer  data)
{
  g_autofree char *trap_mark = g_build_filename (f->dir, "trap-ran", NULL);
  g_autofree char *trap = install_trap (f->dir, NULL);
  g_autofree char *good = fixture_install (f->dir, "good", NULL);
  g_autofree char *initfail = fixture_install (f->dir, "initfail", NULL);
  g_autofree char *abi_major = fixture_install (f->dir, "abi-major", NULL);
  g_autofree char *nodesc = fixture_install (f->dir, "nodesc", NULL);
  g_autoptr(GError) error = NULL;
  OrreryPluginInfo *info;

  g_setenv ("ORRERY_FIXTURE_TRAP", trap_mark, TRUE);
  g_unsetenv ("ORRERY_FIXTURE_ABI_MAJOR_RAN");
  /* A bad value of a key the plugin declares (read from its file). */
  g_assert_true (orrery_config_load_data (f->config, "[Plugin trap]\nLevel=-1\n"
                                          "[Plugin initfail]\nEnabled=false\n",
                                          "host.conf", &error));
  g_assert_no_error (error);

  g_assert_cmpuint (orrery_plugin_engine_check_all (f->engine), ==, 2);
  g_assert_false (g_file_test (trap_mark, G_FILE_TEST_EXISTS));
  g_assert_null (g_getenv ("ORRERY_FIXTURE_ABI_MAJOR_RAN"));
  g_assert_cmpint (fixture_count (f->bus, "good-inits"), ==, 0);
  g_assert_cmpuint (orrery_event_bus_get_n_subscriptions (f->bus), ==, 0);

  info = orrery_plugin_engine_lookup (f->engine, "good");
  g_assert_cmpint (orrery_plugin_info_get_state (info), ==, ORRERY_PLUGIN_STATE_CHECKED);
  g_assert_cmpstr (orrery_plugin_info_get_version (info), ==, "1.2.3");
  g_assert_cmpstr (orrery_plugin_info_get_description (info), ==,
                   "Counts the events it receives");
  g_assert_true (orrery_plugin_engine_get_enabled_by_config (f->engine, "good"));
  info = orrery_plugin_engine_lookup (f->engine, "initfail");
  g_assert_cmpint (orrery_plugin_info_get_state (info), ==, ORRERY_PLUGIN_STATE_CHECKED);
  g_assert_false (orrery_plugin_engine_get_enabled_by_config (f->engine, "initfail"));
  assert_failed (f->engine, trap, ORRERY_PLUGIN_ERROR_BAD_CONFIG);
  info = info_by_file (f->engine, trap);
  g_assert_nonnull (strstr (orrery_plugin_info_get_error (info)->message, "Level"));
  g_assert_cmpstr (orrery_plugin_info_get_version (info), ==, "0.9");
  assert_failed (f->engine, abi_major, ORRERY_PLUGIN_ERROR_ABI_MISMATCH);
  assert_failed (f->engine, nodesc, ORRERY_PLUGIN_ERROR_NO_DESCRIPTOR);

  /* The configuration fixed, loading runs the code: the trap is real. */
  orrery_config_parse_override (f->config, "trap.Level=2", &error);
  g_assert_no_error (error);
  g_assert_true (orrery_plugin_engine_enable (f->engine, "trap", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (orrery_plugin_engine_load_all (f->engine), ==, 2);
  g_assert_cmpint (orrery_plugin_info_get_state (orrery_plugin_engine_lookup (f->engine, "good")),
                   ==, ORRERY_PLUGIN_STATE_ENABLED);
  {
    g_autofree char *marks = NULL;

    /* Its constructor runs once per process, when this content is first
     * loaded: no test of this program loads the trap before. */
    g_assert_true (g_file_get_contents (trap_mark, &marks, NULL, NULL));
    g_assert_cmpstr (marks, ==, "constructor\ninit\n");
  }
  g_unsetenv ("ORRERY_FIXTURE_TRAP");
}

static GPtrArray *shutdown_order;

static void
on_state_changed (OrreryPluginEngine *engine,
                  OrreryPluginInfo   *info,
                  gpointer            data)
{
  if (orrery_plugin_info_get_state (info) == ORRERY_PLUGIN_STATE_DISABLED)
    g_ptr_array_add (shutdown_order, g_strdup (orrery_plugin_info_get_name (info)));
}

static void
test_shutdown_order (Fixture       *f,
                     gconstpointer  data)
{
  g_autofree char *a = fixture_install (f->dir, "anon", "a1.so");
  g_autofree char *b = fixture_install (f->dir, "anon", "a2.so");
  g_autofree char *good = fixture_install (f->dir, "good", NULL);
  g_autoptr(GPtrArray) plugins = NULL;

  g_assert_cmpuint (orrery_plugin_engine_load_all (f->engine), ==, 3);
  plugins = orrery_plugin_engine_get_plugins (f->engine);
  g_assert_cmpstr (orrery_plugin_info_get_name (g_ptr_array_index (plugins, 0)), ==, "a1");
  g_assert_cmpstr (orrery_plugin_info_get_name (g_ptr_array_index (plugins, 1)), ==, "a2");
  g_assert_cmpstr (orrery_plugin_info_get_name (g_ptr_array_index (plugins, 2)), ==, "good");

  /* Re-enabling a1 puts it last: shutdown is the reverse of enabling. */
  g_assert_true (orrery_plugin_engine_disable (f->engine, "a1", NULL));
  g_assert_true (orrery_plugin_engine_enable (f->engine, "a1", NULL));

  shutdown_order = g_ptr_array_new_with_free_func (g_free);
  g_signal_connect (f->engine, "plugin-state-changed", G_CALLBACK (on_state_changed), NULL);
  orrery_plugin_engine_shutdown (f->engine);
  g_assert_cmpuint (shutdown_order->len, ==, 3);
  g_assert_cmpstr (g_ptr_array_index (shutdown_order, 0), ==, "a1");
  g_assert_cmpstr (g_ptr_array_index (shutdown_order, 1), ==, "good");
  g_assert_cmpstr (g_ptr_array_index (shutdown_order, 2), ==, "a2");
  g_signal_handlers_disconnect_by_func (f->engine, on_state_changed, NULL);
  g_clear_pointer (&shutdown_order, g_ptr_array_unref);
}

static char *
build_root (void)
{
  return g_test_build_filename (G_TEST_BUILT, "..", NULL);
}

static void
test_out_of_tree (Fixture       *f,
                  gconstpointer  data)
{
  g_autofree char *source = g_test_build_filename (G_TEST_DIST, "..", "data", "examples",
                                                   "event-log-plugin.c", NULL);
  g_autofree char *root = build_root ();
  g_autofree char *pc_path = g_build_filename (root, "meson-uninstalled", NULL);
  g_autofree char *output = g_build_filename (f->dir, "event-log.so", NULL);
  g_autofree char *log = g_build_filename (f->dir, "events.log", NULL);
  g_autofree char *quoted_source = g_shell_quote (source);
  g_autofree char *quoted_output = g_shell_quote (output);
  g_autofree char *command = NULL;
  g_autofree char *err = NULL;
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) env = g_get_environ ();
  g_auto(GStrv) lines = NULL;
  g_autofree char *cc = g_find_program_in_path ("cc");
  g_autofree char *pkg_config = g_find_program_in_path ("pkg-config");
  char *argv[] = { "/bin/sh", "-c", NULL, NULL };
  int status;

  if (!g_file_test (pc_path, G_FILE_TEST_IS_DIR) || cc == NULL || pkg_config == NULL)
    {
      g_test_skip ("no cc, pkg-config or uninstalled .pc");
      return;
    }

  /* Nothing but the compiler and the SDK's .pc; -fsanitize flags are not
   * passed, the plugin is built like any third-party one. */
  command = g_strdup_printf ("cc -shared -fPIC -o %s %s $(pkg-config --cflags --libs orrery-1.0)",
                             quoted_output, quoted_source);
  argv[2] = command;
  env = g_environ_setenv (env, "PKG_CONFIG_PATH", pc_path, TRUE);
  g_spawn_sync (NULL, argv, env, G_SPAWN_DEFAULT, NULL, NULL, NULL, &err, &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, &error))
    g_error ("%s failed: %s", command, err);
  g_assert_cmpint (g_chmod (output, 0755), ==, 0);

  orrery_config_set_override (f->config, "Plugin event-log", "File", log);
  g_assert_cmpuint (orrery_plugin_engine_load_all (f->engine), ==, 1);
  g_assert_cmpint (orrery_plugin_info_get_state (orrery_plugin_engine_lookup (f->engine,
                                                                              "event-log")),
                   ==, ORRERY_PLUGIN_STATE_ENABLED);
  fixture_publish (f->bus, ORRERY_EVENT_TASK_STARTED, 2);   /* not asked for */
  fixture_publish (f->bus, ORRERY_EVENT_TASK_COMPLETED, 2);
  fixture_publish (f->bus, ORRERY_EVENT_TASK_FAILED, 1);
  g_file_get_contents (log, &contents, NULL, &error);
  g_assert_no_error (error);
  lines = g_strsplit (contents, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 4);  /* 3 lines and the empty tail */
  g_assert_true (g_str_has_prefix (contents, "task-completed "));
}

static void
test_plugins_command (Fixture       *f,
                      gconstpointer  data)
{
  g_autofree char *root = build_root ();
  g_autofree char *orrery = g_build_filename (root, "host", "orrery", NULL);
  g_autofree char *good = fixture_install (f->dir, "good", NULL);
  g_autofree char *initfail = fixture_install (f->dir, "initfail", NULL);
  g_autofree char *conf = g_build_filename (f->dir, "host.conf", NULL);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  char *argv[] = { orrery, "plugins", "--config", conf, "--plugin-path", f->dir,
                   "--disable", "good", NULL };
  int status;

  g_file_set_contents (conf, "[Host]\nAutoEnable=true\n[Plugin no-such-plugin]\nEnabled=true\n", -1,
                       &error);
  g_assert_no_error (error);
  /* Listing runs no code: init failures do not show, every plugin that
   * passes the checks is “checked”, ENABLED says what a run would do. */
  g_spawn_sync (NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, &error);
  g_assert_no_error (error);
  g_test_message ("stdout:\n%s\nstderr:\n%s", out, err);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_nonnull (strstr (out, "ENABLED"));
  g_assert_nonnull (strstr (out, good));
  g_assert_nonnull (strstr (out, "good                 1.2.3      checked    no "));
  g_assert_nonnull (strstr (out, "initfail             1.0        checked    yes "));
  g_assert_null (strstr (out, "deliberate failure"));
  g_assert_nonnull (strstr (out, "no-such-plugin"));
  g_assert_nonnull (strstr (out, "not-found"));
  g_assert_nonnull (strstr (out, "no plugin code was run"));

  /* --load runs their init too. */
  {
    char *load_argv[] = { orrery, "plugins", "--load", "--config", conf, "--plugin-path",
                          f->dir, "--disable", "good", NULL };

    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);
    g_spawn_sync (NULL, load_argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status,
                  &error);
    g_assert_no_error (error);
    g_test_message ("stdout:\n%s\nstderr:\n%s", out, err);
    g_assert_true (g_spawn_check_wait_status (status, NULL));
    g_assert_nonnull (strstr (out, "good                 1.2.3      disabled   no "));
    g_assert_nonnull (strstr (out, "initfail"));
    g_assert_nonnull (strstr (out, "failed"));
    g_assert_nonnull (strstr (out, "deliberate failure"));
  }

  /* A bad command line or configuration is a usage error (2). */
  {
    char *bad_argv[] = { orrery, "plugins", "--config", "/nonexistent.conf", NULL };

    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);
    g_spawn_sync (NULL, bad_argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status,
                  &error);
    g_assert_no_error (error);
    g_assert_true (WIFEXITED (status));
    g_assert_cmpint (WEXITSTATUS (status), ==, 2);
    g_assert_nonnull (strstr (err, "/nonexistent.conf"));
  }
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *config_home = g_dir_make_tmp ("orrery-test-config-XXXXXX", NULL);
  int ret;

  /* An empty user configuration directory, so that the search finds the
   * shipped default (G_TEST_OPTION_ISOLATE_DIRS leaks in GLib 2.74). */
  g_setenv ("XDG_CONFIG_HOME", config_home, TRUE);
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add ("/plugin-engine/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("discover-and-load", test_discover_and_load);
  ADD ("failure-modes", test_failure_modes);
  ADD ("enable-disable", test_enable_disable);
  ADD ("config-overrides", test_config_overrides);
  ADD ("bad-host-config", test_bad_host_config);
  ADD ("unknown-key-warning", test_unknown_key_warning);
  ADD ("enabled-settings", test_enabled_settings);
  ADD ("auto-enable", test_auto_enable);
  ADD ("search-path", test_search_path);
  ADD ("permissions", test_permissions);
  ADD ("trust", test_trust);
  ADD ("trust-defaults-file", test_trust_defaults_file);
  ADD ("check-all", test_check_all);
  ADD ("load-enabled", test_load_enabled);
  ADD ("shutdown-order", test_shutdown_order);
  ADD ("out-of-tree", test_out_of_tree);
  ADD ("plugins-command", test_plugins_command);
#undef ADD
  ret = g_test_run ();
  fixture_rmrf (config_home);
  return ret;
}
