/* orrery-plugin-engine-private.h: the plugin engine's state, shared by the
 * engine (orrery-plugin-engine.c) and its hot plug
 * (orrery-plugin-hotplug.c). Not installed.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gmodule.h>

#include "orrery-plugin-isolation-private.h"

G_BEGIN_DECLS

/* One plugin file (or one configured plugin that no file provides). */
typedef struct
{
  OrreryPluginInfo             *info;
  char                         *dir;         /* the search path entry it came from */
  OrreryPluginElfInfo          *elf;         /* the descriptor read from the file */
  GBytes                       *content;     /* the bytes checked (and loaded) */
  GModule                      *module;      /* loaded from a private copy */
  const OrreryPluginDescriptor *descriptor;  /* the loaded one */
  OrreryPluginContext          *context;     /* while enabled */
  OrreryIsolatedPlugin         *isolated;    /* while enabled in a helper process */
  OrreryPluginEngine           *engine;      /* borrowed: for the isolated plugin's failure */
  guint                         restarts;    /* after failures of the helper (Restart=) */
} OrreryPluginEntry;

/* A file of a watched directory that changed, waiting to settle. */
typedef struct
{
  OrreryPluginEngine *engine;
  char               *path;
  char               *dir;
  guint               source_id;
  gboolean            seen;
  goffset             size;
  gint64              mtime_ns;
} OrreryPendingFile;

struct _OrreryPluginEngine
{
  GObject         parent_instance;

  OrreryEventBus *bus;
  OrreryConfig   *config;
  OrreryOrchestrator *orchestrator;   /* nullable */

  GPtrArray      *command_line_path;
  gboolean        use_default_path;
  guint           settle_ms;

  GPtrArray      *entries;        /* of OrreryPluginEntry, in the order found */
  GPtrArray      *enabled_order;  /* of OrreryPluginEntry, borrowed */
  GHashTable     *scanned_dirs;   /* canonical dir -> TRUE */

  GPtrArray      *monitors;       /* of GFileMonitor */
  GHashTable     *pending;        /* path -> OrreryPendingFile */
};

/* orrery-plugin-engine.c */
ORRERY_HIDDEN OrreryPluginEntry *_orrery_plugin_engine_add_entry             (OrreryPluginEngine *self,
                                                                              const char         *file,
                                                                              const char         *dir);
ORRERY_HIDDEN OrreryPluginEntry *_orrery_plugin_engine_find_entry_by_file    (OrreryPluginEngine *self,
                                                                              const char         *file);
/* Detaches, shuts down and leaves the entry in @new_state. */
ORRERY_HIDDEN void               _orrery_plugin_engine_disable_entry         (OrreryPluginEngine *self,
                                                                              OrreryPluginEntry  *entry,
                                                                              OrreryPluginState   new_state);
/* Checks and loads a found entry; enables it if the configuration says so. */
ORRERY_HIDDEN void               _orrery_plugin_engine_load_and_maybe_enable (OrreryPluginEngine *self,
                                                                              OrreryPluginEntry  *entry);
/* Forgets the configured plugins marked as not found that were found since. */
ORRERY_HIDDEN void               _orrery_plugin_engine_prune_not_found       (OrreryPluginEngine *self);
/* A name the engine takes for a plugin file: `*.so`, no leading dot. */
ORRERY_HIDDEN gboolean           _orrery_plugin_is_file_name                 (const char         *name);

/* orrery-plugin-hotplug.c */
ORRERY_HIDDEN void               _orrery_pending_file_free                   (OrreryPendingFile  *pending);

G_END_DECLS
