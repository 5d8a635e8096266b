/* orrery-dirs.c: installation paths. liborrery is either the installed
 * one or the one of the build tree (tests, `meson devenv`, running
 * `build/host/orrery`): the directory of the shared object that holds this
 * code says which, and the paths follow.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdlib.h>

#include "orrery-dirs.h"

gboolean
_orrery_is_uninstalled (void)
{
  static gsize once = 0;
  static gboolean uninstalled = FALSE;

  if (g_once_init_enter (&once))
    {
      Dl_info info;

      if (dladdr ((gpointer) _orrery_is_uninstalled, &info) != 0 && info.dli_fname != NULL)
        {
          g_autofree char *lib = realpath (info.dli_fname, NULL);
          g_autofree char *root = realpath (ORRERY_BUILD_ROOT, NULL);

          if (lib != NULL && root != NULL)
            {
              g_autofree char *prefix = g_strconcat (root, "/", NULL);

              uninstalled = g_str_has_prefix (lib, prefix);
            }
        }
      g_once_init_leave (&once, 1);
    }
  return uninstalled;
}

const char *
_orrery_dirs_get_plugin_dir (void)
{
  return _orrery_is_uninstalled () ? ORRERY_BUILD_PLUGINDIR : ORRERY_PLUGINDIR;
}

char *
_orrery_dirs_get_user_plugin_dir (void)
{
  return g_build_filename (g_get_user_data_dir (), "orrery", "plugins", NULL);
}

char **
_orrery_dirs_get_config_files (void)
{
  GPtrArray *files = g_ptr_array_new ();
  const char *const *system_dirs = g_get_system_config_dirs ();
  g_autofree char *sysconf = g_build_filename (ORRERY_SYSCONFDIR, "orrery", "orrery.conf", NULL);
  gboolean have_sysconf = FALSE;

  g_ptr_array_add (files, g_build_filename (g_get_user_config_dir (), "orrery", "orrery.conf", NULL));
  for (guint i = 0; system_dirs != NULL && system_dirs[i] != NULL; i++)
    {
      char *file;

      if (*system_dirs[i] == '\0')
        continue;
      file = g_build_filename (system_dirs[i], "orrery", "orrery.conf", NULL);
      have_sysconf |= g_str_equal (file, sysconf);
      g_ptr_array_add (files, file);
    }
  if (!have_sysconf)
    g_ptr_array_add (files, g_steal_pointer (&sysconf));
  if (_orrery_is_uninstalled ())
    g_ptr_array_add (files, g_build_filename (ORRERY_BUILD_ROOT, "data", "orrery.conf", NULL));
  else
    g_ptr_array_add (files, g_build_filename (ORRERY_DATADIR, "orrery.conf", NULL));
  g_ptr_array_add (files, NULL);
  return (char **) g_ptr_array_free (files, FALSE);
}
