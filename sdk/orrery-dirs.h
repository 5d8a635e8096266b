/* orrery-dirs.h: where liborrery finds what it ships (plugins, the default
 * configuration, the plugin host), installed or in the build tree. Not
 * installed.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "orrery-private.h"

G_BEGIN_DECLS

/* Whether the liborrery in this process is the one of the build tree. */
ORRERY_HIDDEN gboolean    _orrery_is_uninstalled      (void);

/* The plugin directory that ends the search path: the build tree's
 * `plugins/` when uninstalled, else `LIBDIR/orrery-1.0/plugins`. */
ORRERY_HIDDEN const char *_orrery_dirs_get_plugin_dir (void);

G_END_DECLS
