/* orrery-plugin-isolation-private.h: plugins in a helper process
 * (`Isolation=process`). Not installed.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "orrery-plugin-private.h"

G_BEGIN_DECLS

/* The helper program's name, in libexecdir (or host/ of the build tree). */
#define ORRERY_PLUGIN_HOST_PROGRAM "orrery-plugin-host"

/* The default of `DeadlineMs` for an isolated plugin's answers (a
 * sync event, a batch of queued events) and of `InitDeadlineMs` (its init,
 * from the start of the helper). */
#define ORRERY_ISOLATION_DEFAULT_DEADLINE_MS 5000
/* The least of `DeadlineMs` for an isolated plugin's answers. */
#define ORRERY_ISOLATION_MIN_DEADLINE_MS 1000

typedef struct _OrreryIsolatedPlugin OrreryIsolatedPlugin;

/* Called once, from the main context (never inside a delivery), when the
 * child crashed, exited, missed a deadline or broke the protocol: @error
 * (ORRERY_PLUGIN_ERROR_CRASHED, _EXITED, _TIMED_OUT or _PROTOCOL) says why. */
typedef void (*OrreryIsolatedFailedFunc) (OrreryIsolatedPlugin *plugin,
                                          const GError         *error,
                                          gpointer              user_data);

/* Whether the configuration asks for @name to run in a helper process:
 * `[Plugin NAME] Isolation=process` (`in-process` is the default). FALSE
 * with @error on a bad value. */
ORRERY_HIDDEN gboolean              _orrery_plugin_config_isolated   (OrreryConfig         *config,
                                                                      const char           *name,
                                                                      gboolean             *isolated,
                                                                      GError              **error);

/* Starts the helper on the private copy @memfd (taken) of the plugin checked
 * from @file, runs its init there with the host's configuration and
 * subscribes, through @context, one proxy per observer the plugin added.
 * NULL with an ORRERY_PLUGIN_ERROR on failure (the child is gone then). */
ORRERY_HIDDEN OrreryIsolatedPlugin *_orrery_isolated_plugin_start    (OrreryPluginContext  *context,
                                                                      const char           *file,
                                                                      int                   memfd,
                                                                      OrreryIsolatedFailedFunc func,
                                                                      gpointer              user_data,
                                                                      GError              **error);
/* Runs the plugin's shutdown in the child (bounded wait), ends the child
 * and frees @self. The proxies must be detached already. */
ORRERY_HIDDEN void                  _orrery_isolated_plugin_stop     (OrreryIsolatedPlugin *self);
ORRERY_HIDDEN GPid                  _orrery_isolated_plugin_get_pid  (OrreryIsolatedPlugin *self);
/* Why the child failed, or NULL (it may have failed and the engine not
 * been told yet: its idle had not run). */
ORRERY_HIDDEN const GError         *_orrery_isolated_plugin_get_failure (OrreryIsolatedPlugin *self);

/* The child side: what `orrery-plugin-host` runs. Exported for the helper
 * program only (not API). */
ORRERY_EXPORT int                   _orrery_plugin_host_main         (int                   argc,
                                                                      char                **argv);

/* In a child, orrery_plugin_context_add_observer() calls this instead of
 * subscribing on the bus; it returns the id to give the plugin. */
typedef guint (*OrreryPluginObserverHook) (OrreryPluginContext   *context,
                                           OrreryObserver        *observer,
                                           const OrreryEventType *types,
                                           gsize                  n_types,
                                           OrreryDeliveryMode     mode,
                                           guint                  queue_limit,
                                           guint                  deadline_ms,
                                           gpointer               user_data);
ORRERY_HIDDEN void                  _orrery_plugin_context_set_observer_hook (OrreryPluginContext     *self,
                                                                              OrreryPluginObserverHook hook,
                                                                              gpointer                 user_data);

G_END_DECLS
