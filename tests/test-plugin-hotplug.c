/* test-plugin-hotplug.c: plugins added and removed while the main loop
 * runs: copy-then-rename, a half-written file, removal, re-adding, a
 * broken file among working ones; a loaded plugin overwritten in place
 * (`cp new.so x.so`, the same inode) or renamed over, and one that cannot
 * be loaded twice (it registers a GType).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <orrery.h>

#include "plugins/fixture-util.h"

#define SETTLE_MS 30

typedef struct
{
  OrreryPluginEngine *engine;
  const char         *name;
  const char         *file;
  OrreryPluginState   state;
} Expect;

static gboolean
has_state (gpointer data)
{
  Expect *e = data;
  OrreryPluginInfo *info = NULL;

  if (e->name != NULL)
    info = orrery_plugin_engine_lookup (e->engine, e->name);
  else
    {
      g_autoptr(GPtrArray) plugins = orrery_plugin_engine_get_plugins (e->engine);

      for (guint i = 0; i < plugins->len; i++)
        if (g_strcmp0 (orrery_plugin_info_get_file (g_ptr_array_index (plugins, i)),
                       e->file) == 0)
          info = g_ptr_array_index (plugins, i);
    }
  return info != NULL && orrery_plugin_info_get_state (info) == e->state;
}

static void
wait_for (OrreryPluginEngine *engine,
          const char         *name,
          const char         *file,
          OrreryPluginState   state)
{
  Expect e = { engine, name, file, state };

  if (!fixture_wait (has_state, &e, 5000))
    g_error ("timed out waiting for %s to become %s", name != NULL ? name : file,
             orrery_plugin_state_to_nick (state));
}

static gboolean
never (gpointer data)
{
  return FALSE;
}

/* Runs the main loop for @ms. */
static void
spin (guint ms)
{
  fixture_wait (never, NULL, ms);
}

static void
test_hotplug (void)
{
  g_autofree char *dir = fixture_tmpdir ();
  g_autofree char *src_good = fixture_path ("good", ".so");
  g_autofree char *src_anon = fixture_path ("anon", ".so");
  g_autofree char *tmp = g_build_filename (dir, ".good.so.part", NULL);
  g_autofree char *good = g_build_filename (dir, "good.so", NULL);
  g_autofree char *anon = g_build_filename (dir, "anon.so", NULL);
  g_autofree char *text = g_build_filename (dir, "text.so", NULL);
  g_autofree char *contents = NULL;
  g_autoptr(OrreryEventBus) bus = orrery_event_bus_new ();
  g_autoptr(OrreryPluginEngine) engine = NULL;
  g_autoptr(GError) error = NULL;
  gsize length;
  gssize half;
  int fd;

  g_unsetenv ("ORRERY_PLUGIN_PATH");
  engine = orrery_plugin_engine_new (bus, NULL);
  orrery_plugin_engine_set_use_default_path (engine, FALSE);
  orrery_plugin_engine_set_settle_ms (engine, SETTLE_MS);
  orrery_plugin_engine_add_search_path (engine, dir);
  g_assert_cmpuint (orrery_plugin_engine_load_all (engine), ==, 0);
  g_assert_true (orrery_plugin_engine_watch (engine, &error));
  g_assert_no_error (error);

  /* Copy under a hidden name, then rename into place: loaded, and it gets
   * the events that follow. */
  fixture_copy (src_good, tmp, 0755);
  spin (3 * SETTLE_MS);
  g_assert_null (orrery_plugin_engine_lookup (engine, "good"));
  g_assert_cmpint (g_rename (tmp, good), ==, 0);
  wait_for (engine, "good", NULL, ORRERY_PLUGIN_STATE_ENABLED);
  g_assert_cmpstr (orrery_plugin_info_get_file (orrery_plugin_engine_lookup (engine, "good")),
                   ==, good);
  fixture_publish (bus, ORRERY_EVENT_TASK_COMPLETED, 3);
  g_assert_cmpint (fixture_count (bus, "good-count"), ==, 3);

  /* A half-written file is never loaded; once complete, it is. */
  g_file_get_contents (src_anon, &contents, &length, &error);
  g_assert_no_error (error);
  fd = g_open (anon, O_WRONLY | O_CREAT | O_TRUNC, 0755);
  g_assert_cmpint (fd, >=, 0);
  half = length / 2;
  g_assert_cmpint (write (fd, contents, half), ==, half);
  spin (6 * SETTLE_MS);
  g_assert_null (orrery_plugin_engine_lookup (engine, "anon"));  /* name never read */
  g_assert_cmpuint (orrery_event_bus_get_n_subscriptions (bus), ==, 1);
  g_assert_cmpint (write (fd, contents + half, length - half), ==, (gssize) (length - half));
  g_assert_cmpint (close (fd), ==, 0);
  wait_for (engine, "anon", NULL, ORRERY_PLUGIN_STATE_ENABLED);
  g_assert_cmpuint (orrery_event_bus_get_n_subscriptions (bus), ==, 2);

  /* A broken file is reported and changes nothing else. */
  g_file_set_contents (text, "not a plugin", -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (text, 0755), ==, 0);
  wait_for (engine, NULL, text, ORRERY_PLUGIN_STATE_FAILED);
  fixture_publish (bus, ORRERY_EVENT_TASK_COMPLETED, 1);
  g_assert_cmpint (fixture_count (bus, "good-count"), ==, 4);

  /* Removed: disabled, no more events. */
  g_assert_cmpint (g_unlink (good), ==, 0);
  wait_for (engine, NULL, good, ORRERY_PLUGIN_STATE_REMOVED);
  g_assert_cmpint (fixture_count (bus, "good-shutdowns"), ==, 1);
  g_assert_cmpuint (orrery_event_bus_get_n_subscriptions (bus), ==, 1);
  fixture_publish (bus, ORRERY_EVENT_TASK_COMPLETED, 2);
  g_assert_cmpint (fixture_count (bus, "good-count"), ==, 4);

  /* Back again (a new file of the same name): enabled again. */
  fixture_copy (src_good, tmp, 0755);
  g_assert_cmpint (g_rename (tmp, good), ==, 0);
  wait_for (engine, NULL, good, ORRERY_PLUGIN_STATE_ENABLED);
  g_assert_cmpint (fixture_count (bus, "good-inits"), ==, 2);
  fixture_publish (bus, ORRERY_EVENT_TASK_FAILED, 2);
  g_assert_cmpint (fixture_count (bus, "good-count"), ==, 6);

  /* Moved out of the directory: disabled. */
  {
    g_autofree char *outside = g_build_filename (g_get_tmp_dir (), "orrery-moved-out.so", NULL);
    g_autofree char *moved = g_build_filename (dir, "elsewhere", NULL);

    g_assert_cmpint (g_mkdir (moved, 0700), ==, 0);
    g_clear_pointer (&outside, g_free);
    outside = g_build_filename (moved, "anon.so", NULL);
    g_assert_cmpint (g_rename (anon, outside), ==, 0);
    wait_for (engine, NULL, anon, ORRERY_PLUGIN_STATE_REMOVED);
  }

  orrery_plugin_engine_shutdown (engine);
  g_assert_cmpuint (orrery_event_bus_get_n_subscriptions (bus), ==, 0);
  g_clear_object (&engine);
  fixture_rmrf (dir);
}

typedef struct
{
  OrreryPluginEngine *engine;
  const char         *name;
  const char         *version;
} ExpectVersion;

static gboolean
has_version (gpointer data)
{
  ExpectVersion *e = data;
  OrreryPluginInfo *info = orrery_plugin_engine_lookup (e->engine, e->name);

  return info != NULL && orrery_plugin_info_get_state (info) == ORRERY_PLUGIN_STATE_ENABLED &&
         g_strcmp0 (orrery_plugin_info_get_version (info), e->version) == 0;
}

static void
wait_for_version (OrreryPluginEngine *engine,
                  const char         *name,
                  const char         *version)
{
  ExpectVersion e = { engine, name, version };

  if (!fixture_wait (has_version, &e, 5000))
    g_error ("timed out waiting for %s %s to be enabled", name, version);
}

/* Writes @src's content into the existing file @dest, in place (the same
 * inode, as `cp` does), in two halves with events published between them:
 * the loaded code must not notice. */
static void
overwrite_in_place (const char     *src,
                    const char     *dest,
                    OrreryEventBus *bus)
{
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  struct stat before, after;
  gsize length, half;
  int fd;

  g_file_get_contents (src, &contents, &length, &error);
  g_assert_no_error (error);
  g_assert_cmpint (stat (dest, &before), ==, 0);
  fd = open (dest, O_WRONLY | O_TRUNC);
  g_assert_cmpint (fd, >=, 0);
  half = length / 2;
  g_assert_cmpint (write (fd, contents, half), ==, (gssize) half);
  fixture_publish (bus, ORRERY_EVENT_TASK_COMPLETED, 1);
  spin (2 * SETTLE_MS);
  fixture_publish (bus, ORRERY_EVENT_TASK_COMPLETED, 1);
  g_assert_cmpint (write (fd, contents + half, length - half), ==, (gssize) (length - half));
  g_assert_cmpint (close (fd), ==, 0);
  g_assert_cmpint (stat (dest, &after), ==, 0);
  g_assert_cmpuint (before.st_ino, ==, after.st_ino);
}

static void
test_overwrite_loaded (void)
{
  g_autofree char *dir = fixture_tmpdir ();
  g_autofree char *src_v1 = fixture_path ("good", ".so");
  g_autofree char *src_v2 = fixture_path ("good-v2", ".so");
  g_autofree char *good = NULL;
  g_autofree char *tmp = g_build_filename (dir, ".good.so.part", NULL);
  g_autoptr(OrreryEventBus) bus = orrery_event_bus_new ();
  g_autoptr(OrreryPluginEngine) engine = NULL;
  g_autoptr(OrreryPluginInfo) old_info = NULL;
  g_autoptr(GError) error = NULL;

  g_unsetenv ("ORRERY_PLUGIN_PATH");
  good = fixture_install (dir, "good", NULL);
  engine = orrery_plugin_engine_new (bus, NULL);
  orrery_plugin_engine_set_use_default_path (engine, FALSE);
  orrery_plugin_engine_set_settle_ms (engine, SETTLE_MS);
  orrery_plugin_engine_add_search_path (engine, dir);
  g_assert_cmpuint (orrery_plugin_engine_load_all (engine), ==, 1);
  g_assert_true (orrery_plugin_engine_watch (engine, &error));
  g_assert_no_error (error);
  old_info = g_object_ref (orrery_plugin_engine_lookup (engine, "good"));
  fixture_publish (bus, ORRERY_EVENT_TASK_COMPLETED, 1);
  g_assert_cmpint (fixture_count (bus, "good-count"), ==, 1);

  /* A new build copied over the loaded one, in place: the running copy
   * goes on receiving events while the file is half written (it runs from
   * a private copy), then the new build replaces it. */
  overwrite_in_place (src_v2, good, bus);
  g_assert_cmpint (fixture_count (bus, "good-count"), ==, 3);
  wait_for_version (engine, "good", "2.0.0");
  g_assert_cmpint (orrery_plugin_info_get_state (old_info), ==, ORRERY_PLUGIN_STATE_REMOVED);
  g_assert_cmpint (fixture_count (bus, "good-shutdowns"), ==, 1);
  g_assert_cmpint (fixture_count (bus, "good-inits"), ==, 2);
  g_assert_cmpuint (orrery_event_bus_get_n_subscriptions (bus), ==, 1);
  fixture_publish (bus, ORRERY_EVENT_TASK_FAILED, 2);
  g_assert_cmpint (fixture_count (bus, "good-count"), ==, 5);

  /* The same content again (touched, or copied again): nothing changes. */
  overwrite_in_place (src_v2, good, bus);
  spin (8 * SETTLE_MS);
  g_assert_cmpint (fixture_count (bus, "good-inits"), ==, 2);
  g_assert_cmpint (fixture_count (bus, "good-count"), ==, 7);

  /* Another build renamed over it (a new inode): replaced as well. */
  fixture_copy (src_v1, tmp, 0755);
  g_assert_cmpint (g_rename (tmp, good), ==, 0);
  wait_for_version (engine, "good", "1.2.3");
  g_assert_cmpint (fixture_count (bus, "good-shutdowns"), ==, 2);
  g_assert_cmpint (fixture_count (bus, "good-inits"), ==, 3);
  fixture_publish (bus, ORRERY_EVENT_TASK_COMPLETED, 1);
  g_assert_cmpint (fixture_count (bus, "good-count"), ==, 8);
  g_assert_cmpuint (orrery_event_bus_get_n_subscriptions (bus), ==, 1);

  orrery_plugin_engine_shutdown (engine);
  g_clear_object (&engine);
  fixture_rmrf (dir);
}

static GString *plugin_log;

static void
collect_log (const char     *domain,
             GLogLevelFlags  level,
             const char     *message,
             gpointer        data)
{
  g_string_append_printf (plugin_log, "%s\n", message);
}

static gboolean
warnings_not_fatal (const char     *domain,
                    GLogLevelFlags  level,
                    const char     *message,
                    gpointer        data)
{
  return g_strcmp0 (domain, "Orrery-Plugins") != 0;
}

static gboolean
log_has_types (gpointer data)
{
  return strstr (plugin_log->str, "registers types") != NULL;
}

/* A plugin that registers a GType cannot have a second copy in the
 * process (GLib would refuse the type): the running copy stays, and the
 * log says the new build takes effect at the next start. */
static void
test_overwrite_typed (void)
{
  g_autofree char *dir = fixture_tmpdir ();
  g_autofree char *src_v2 = fixture_path ("typed-v2", ".so");
  g_autofree char *typed = NULL;
  g_autoptr(OrreryEventBus) bus = orrery_event_bus_new ();
  g_autoptr(OrreryPluginEngine) engine = NULL;
  g_autoptr(GError) error = NULL;
  OrreryPluginInfo *info;
  guint handler;

  g_unsetenv ("ORRERY_PLUGIN_PATH");
  plugin_log = g_string_new (NULL);
  handler = g_log_set_handler ("Orrery-Plugins",
                               G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE | G_LOG_FLAG_FATAL,
                               collect_log, NULL);
  g_test_log_set_fatal_handler (warnings_not_fatal, NULL);

  typed = fixture_install (dir, "typed", NULL);
  engine = orrery_plugin_engine_new (bus, NULL);
  orrery_plugin_engine_set_use_default_path (engine, FALSE);
  orrery_plugin_engine_set_settle_ms (engine, SETTLE_MS);
  orrery_plugin_engine_add_search_path (engine, dir);
  g_assert_cmpuint (orrery_plugin_engine_load_all (engine), ==, 1);
  g_assert_true (orrery_plugin_engine_watch (engine, &error));
  info = orrery_plugin_engine_lookup (engine, "typed");
  g_assert_cmpstr (orrery_plugin_info_get_version (info), ==, "1.0");

  overwrite_in_place (src_v2, typed, bus);
  g_assert_true (fixture_wait (log_has_types, NULL, 5000));
  g_test_message ("%s", plugin_log->str);
  g_assert_nonnull (strstr (plugin_log->str, typed));
  g_assert_nonnull (strstr (plugin_log->str, "next start"));
  g_assert_true (orrery_plugin_engine_lookup (engine, "typed") == info);
  g_assert_cmpint (orrery_plugin_info_get_state (info), ==, ORRERY_PLUGIN_STATE_ENABLED);
  g_assert_cmpstr (orrery_plugin_info_get_version (info), ==, "1.0");

  orrery_plugin_engine_shutdown (engine);
  g_clear_object (&engine);
  g_log_remove_handler ("Orrery-Plugins", handler);
  g_test_log_set_fatal_handler (NULL, NULL);
  g_string_free (plugin_log, TRUE);
  fixture_rmrf (dir);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/plugin-hotplug/add-remove-while-running", test_hotplug);
  g_test_add_func ("/plugin-hotplug/overwrite-loaded-in-place", test_overwrite_loaded);
  g_test_add_func ("/plugin-hotplug/overwrite-typed", test_overwrite_typed);
  return g_test_run ();
}
