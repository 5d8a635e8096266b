/* plugin-harness.h: what the tests of a shipped plugin share. A temporary
 * directory, a bus, a device manager with one simulated device "sim", an
 * orchestrator, a config and a plugin engine that loads the plugin from the
 * build tree (plugins/<name>), and runs that wait on the main loop.
 *
 * A test's Fixture embeds a PluginHarness and adds its own fields; its
 * set-up calls plugin_harness_init() and its tear-down
 * plugin_harness_clear(), with whatever it checks in between (for that,
 * plugin_harness_shutdown() ends the engine first;
 * plugin_harness_assert_unsubscribed() also checks the bus is left empty).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <orrery.h>

G_BEGIN_DECLS

typedef struct
{
  char                *plugin;     /* "visualizer": its build dir and its config group */
  char                *dir;        /* a temporary directory, removed with what is in it */
  OrreryEventBus      *bus;
  OrreryDeviceManager *devices;    /* "sim", a simulated device */
  OrreryOrchestrator  *orch;       /* default retry policy */
  OrreryConfig        *config;
  OrreryPluginEngine  *engine;     /* NULL after plugin_harness_shutdown() */
  gboolean             done;       /* of the last run */
  gboolean             ok;
  GError              *error;
  guint                probe_id;   /* a test's own subscription, if any */
  gboolean             isolated;   /* ORRERY_TEST_ISOLATED=1: Isolation=process */
} PluginHarness;

/* A small DAG in JSON for "sim" with one failure (and the task it makes
 * skip) and one retry: 5 tasks, 13 events. */
extern const char plugin_harness_small_dag[];

void              plugin_harness_init      (PluginHarness       *h,
                                            const char          *plugin_name,
                                            guint                device_concurrency);
void              plugin_harness_shutdown  (PluginHarness       *h);
void              plugin_harness_assert_unsubscribed
                                           (PluginHarness       *h);
void              plugin_harness_clear     (PluginHarness       *h);

char             *plugin_harness_path      (PluginHarness       *h,
                                            const char          *name);
void              plugin_harness_set       (PluginHarness       *h,
                                            const char          *key,
                                            const char          *value);

OrreryPluginInfo *plugin_harness_load_info (PluginHarness       *h,
                                            gboolean             with_orchestrator);
void              plugin_harness_load      (PluginHarness       *h);

void              plugin_harness_run       (PluginHarness       *h,
                                            OrreryConstellation *c);
void              plugin_harness_run_json  (PluginHarness       *h,
                                            const char          *json);

void              plugin_harness_rmrf      (const char          *path);

G_END_DECLS
