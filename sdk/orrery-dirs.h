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

/* The per-user plugin directory, `$XDG_DATA_HOME/orrery/plugins`
 * (`~/.local/share/orrery/plugins`): searched before the default one. */
ORRERY_HIDDEN char       *_orrery_dirs_get_user_plugin_dir (void);

/* The configuration files searched, in order: the user's
 * (`$XDG_CONFIG_HOME/orrery/orrery.conf`), `orrery/orrery.conf` in each
 * directory of `$XDG_CONFIG_DIRS` (default `/etc/xdg`), the system's
 * (`SYSCONFDIR/orrery/orrery.conf`, unless one of those), then the default
 * shipped with Orrery. NULL-terminated. */
ORRERY_HIDDEN char      **_orrery_dirs_get_config_files (void);

G_END_DECLS
