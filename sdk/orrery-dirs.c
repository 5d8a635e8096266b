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
