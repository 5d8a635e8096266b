/* orrery-plugin-private.h: internals shared by the plugin engine, its
 * checks (trust, ELF), its loader and the plugin context. Not installed.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "orrery-private.h"
#include "orrery-dirs.h"
#include "orrery-config.h"
#include "orrery-plugin.h"
#include "orrery-plugin-engine.h"

#include <sys/stat.h>
#include <sys/types.h>

G_BEGIN_DECLS

ORRERY_HIDDEN OrreryPluginContext *_orrery_plugin_context_new       (OrreryEventBus               *bus,
                                                                     OrreryOrchestrator           *orchestrator,
                                                                     OrreryConfig                 *config,
                                                                     const char                   *name,
                                                                     const OrreryPluginDescriptor *descriptor);
/* Reads and checks Events, Delivery, QueueLimit, DeadlineMs and the
 * plugin's declared keys; warns about unknown keys. */
ORRERY_HIDDEN gboolean             _orrery_plugin_context_configure (OrreryPluginContext          *self,
                                                                     GError                      **error);
/* Unsubscribes every observer the plugin added. */
ORRERY_HIDDEN void                 _orrery_plugin_context_detach    (OrreryPluginContext          *self);
/* Whether the plugin asked for the orchestrator (the isolated helper's
 * sync answers are awaited only then: see docs/architecture.md). */
ORRERY_HIDDEN gboolean             _orrery_plugin_context_orchestrator_asked (OrreryPluginContext *self);

/* ------------------------------------------------------------------------ */
/* Trust (orrery-plugin-trust.c): the rule is documented there. */

/* "uid N (name)" for messages. */
ORRERY_HIDDEN char                *_orrery_plugin_describe_uid      (uid_t                         uid);
/* Pure checks over stat results, for the running user @uid. @dir contains
 * @child (the next component of the path being walked). */
ORRERY_HIDDEN gboolean             _orrery_plugin_trust_check_dir   (const char                   *dir,
                                                                     const struct stat            *dir_st,
                                                                     const char                   *child,
                                                                     const struct stat            *child_st,
                                                                     uid_t                         uid,
                                                                     GError                      **error);
ORRERY_HIDDEN gboolean             _orrery_plugin_trust_check_link  (const char                   *link,
                                                                     const struct stat            *st,
                                                                     uid_t                         uid,
                                                                     GError                      **error);
ORRERY_HIDDEN gboolean             _orrery_plugin_trust_check_file  (const char                   *file,
                                                                     const struct stat            *st,
                                                                     uid_t                         uid,
                                                                     GError                      **error);
/* Walks @path from "/" checking every directory and link met, opens the
 * file (O_RDONLY) and checks the descriptor's file: the fd, or -1 with an
 * ORRERY_PLUGIN_ERROR (UNSAFE_PERMISSIONS naming the offending path, its
 * owner and mode; NOT_SHARED_OBJECT for a missing or irregular file). */
ORRERY_HIDDEN int                  _orrery_plugin_trust_open        (const char                   *path,
                                                                     char                        **real_path,
                                                                     struct stat                  *st,
                                                                     GError                      **error);
/* _orrery_plugin_trust_open() @file and reads all of it (at most 256 MiB)
 * from that descriptor: the bytes checked, read and loaded are the same. */
ORRERY_HIDDEN GBytes              *_orrery_plugin_trust_read        (const char                   *file,
                                                                     GError                      **error);

/* ------------------------------------------------------------------------ */
/* The descriptor read from the ELF bytes (orrery-plugin-elf.c), no code run. */

typedef struct
{
  guint32                 abi_major;
  guint32                 abi_minor;
  guint32                 struct_size;
  guint32                 flags;
  char                   *name;          /* nullable: take the file's */
  char                   *version;
  char                   *description;
  gboolean                has_init;
  gboolean                has_shutdown;
  OrreryPluginKey        *keys;          /* nullable, ends with a NULL name */
  guint                   n_keys;
  char                  **device_kinds;  /* nullable */
  /* It imports a function that a process may call only once for good: a
   * GType registration (GTypes cannot be unregistered: a second copy would
   * register its types again, which GLib refuses) or
   * g_log_set_writer_func(). A new build of it cannot replace a loaded
   * copy in the same process. */
  gboolean                once_per_process;
  /* The same, in the layout of the real descriptor (init and shutdown
   * NULL): what the configuration checks read. */
  OrreryPluginDescriptor  descriptor;
} OrreryPluginElfInfo;

/* Reads the descriptor of the plugin in @data (the whole file). NULL with
 * NOT_SHARED_OBJECT, NO_DESCRIPTOR or ABI_MISMATCH. @file names it in
 * messages. */
ORRERY_HIDDEN OrreryPluginElfInfo *_orrery_plugin_elf_read          (const guint8                 *data,
                                                                     gsize                         size,
                                                                     const char                   *file,
                                                                     GError                      **error);
ORRERY_HIDDEN void                 _orrery_plugin_elf_info_free     (OrreryPluginElfInfo          *info);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (OrreryPluginElfInfo, _orrery_plugin_elf_info_free)

/* The name of a plugin without one in its descriptor: its file's, less
 * `lib` and `.so`. */
ORRERY_HIDDEN char                *_orrery_plugin_name_from_file    (const char                   *file);
/* Letters, digits, `-`, `_` and `.`; not empty. */
ORRERY_HIDDEN gboolean             _orrery_plugin_name_is_valid     (const char                   *name);

/* ------------------------------------------------------------------------ */
/* Loading from a private copy (orrery-plugin-loader.c) */

/* A sealed memfd holding @bytes, or -1 with LOAD_FAILED naming @file. */
ORRERY_HIDDEN int                  _orrery_plugin_private_copy      (const char                   *file,
                                                                     GBytes                       *bytes,
                                                                     GError                      **error);
/* Loads @bytes with RTLD_LOCAL from a private copy, or opens again the
 * copy of the same content loaded before; resident. */
ORRERY_HIDDEN GModule             *_orrery_plugin_open_copy         (const char                   *file,
                                                                     GBytes                       *bytes,
                                                                     GError                      **error);

G_END_DECLS
