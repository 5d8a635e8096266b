/* fixture-util.c: helpers of the plugin tests and benchmark.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib/gstdio.h>
#include <sys/stat.h>

#include "fixture-util.h"

char *
fixture_path (const char *name,
              const char *ext)
{
  const char *builddir = g_getenv ("G_TEST_BUILDDIR");
  g_autofree char *file = g_strconcat (name, ext != NULL ? ext : ".so", NULL);

  return g_build_filename (builddir != NULL ? builddir : ".", "plugins", file, NULL);
}

char *
fixture_tmpdir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("orrery-plugins-XXXXXX", &error);

  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (dir, 0700), ==, 0);
  return dir;
}

void
fixture_copy (const char *src,
              const char *dest,
              int         mode)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize length;

  g_file_get_contents (src, &contents, &length, &error);
  g_assert_no_error (error);
  g_file_set_contents_full (dest, contents, length, G_FILE_SET_CONTENTS_NONE, mode, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (dest, mode), ==, 0);
}

char *
fixture_install (const char *dir,
                 const char *name,
                 const char *as)
{
  g_autofree char *src = fixture_path (name, ".so");
  g_autofree char *base = g_strconcat (name, ".so", NULL);
  char *dest = g_build_filename (dir, as != NULL ? as : base, NULL);

  fixture_copy (src, dest, 0755);
  return dest;
}

void
fixture_rmrf (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  if (d == NULL)
    return;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
        fixture_rmrf (path);
      else
        g_unlink (path);
    }
  g_rmdir (dir);
}

gsize
fixture_count (OrreryEventBus *bus,
               const char     *key)
{
  return GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (bus), key));
}

void
fixture_publish (OrreryEventBus  *bus,
                 OrreryEventType  type,
                 guint            n)
{
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(OrreryEvent) event = orrery_event_new (type, "test", NULL);

      orrery_event_bus_publish (bus, event);
    }
}

static gboolean
on_timeout (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

gboolean
fixture_wait (gboolean (*cond) (gpointer),
              gpointer   data,
              guint      timeout_ms)
{
  gboolean timed_out = FALSE;
  guint id = g_timeout_add (timeout_ms, on_timeout, &timed_out);

  while (!cond (data) && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (id);
  return cond (data);
}
