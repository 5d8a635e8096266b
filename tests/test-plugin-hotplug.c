/* test-plugin-hotplug.c: plugins added and removed while the main loop
 * runs: copy-then-rename, a half-written file, removal, re-adding, a
 * broken file among working ones.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <fcntl.h>
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

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/plugin-hotplug/add-remove-while-running", test_hotplug);
  return g_test_run ();
}
