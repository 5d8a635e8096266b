/* plugin-harness.c: what the tests of a shipped plugin share (see the
 * header).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib/gstdio.h>

#include "plugin-harness.h"

/* A run whose events are known, on "sim":
 * a -> b (success-only, fails once then succeeds) -> d
 * a -> c (unconditional, fails) -> e (success-only: skipped) */
const char plugin_harness_small_dag[] =
  "{\"constellation_id\": \"small\", \"name\": \"Small DAG\", \"tasks\": {"
  " \"a\": {\"task_id\": \"a\", \"name\": \"A\", \"task_data\": {\"duration_ms\": 30}},"
  " \"b\": {\"task_id\": \"b\", \"name\": \"B\", \"retry_count\": 1,"
  "        \"task_data\": {\"duration_ms\": 80, \"fail_attempts\": 1}},"
  " \"c\": {\"task_id\": \"c\", \"name\": \"C\","
  "        \"task_data\": {\"duration_ms\": 10, \"fail\": 1, \"error_message\": \"boom\"}},"
  " \"d\": {\"task_id\": \"d\", \"name\": \"D\", \"task_data\": {\"duration_ms\": 10}},"
  " \"e\": {\"task_id\": \"e\", \"name\": \"E\", \"task_data\": {\"duration_ms\": 10}}},"
  " \"dependencies\": ["
  "  {\"from_task_id\": \"a\", \"to_task_id\": \"b\", \"dependency_type\": \"success_only\"},"
  "  {\"from_task_id\": \"a\", \"to_task_id\": \"c\", \"dependency_type\": \"unconditional\"},"
  "  {\"from_task_id\": \"b\", \"to_task_id\": \"d\", \"dependency_type\": \"completion_only\"},"
  "  {\"from_task_id\": \"c\", \"to_task_id\": \"e\", \"dependency_type\": \"success_only\"}]}";

/* Removes PATH and, if it is a directory, everything below it. */
void
plugin_harness_rmrf (const char *path)
{
  g_autoptr(GDir) d = g_dir_open (path, 0, NULL);
  const char *name;

  if (d != NULL)
    while ((name = g_dir_read_name (d)) != NULL)
      {
        g_autofree char *p = g_build_filename (path, name, NULL);

        plugin_harness_rmrf (p);
      }
  g_remove (path);
}

/* Sets everything up for the plugin PLUGIN_NAME ("visualizer"), with a
 * simulated device "sim" that runs DEVICE_CONCURRENCY tasks at once. A test
 * that wants more devices or another retry policy adds them to h->devices
 * or h->orch afterwards. */
void
plugin_harness_init (PluginHarness *h,
                     const char    *plugin_name,
                     guint          device_concurrency)
{
  g_autoptr(OrrerySimulatedDevice) dev = orrery_simulated_device_new ("sim", NULL, device_concurrency);
  g_autofree char *template = g_strdup_printf ("orrery-%s-XXXXXX", plugin_name);
  g_autoptr(GError) error = NULL;

  g_unsetenv ("ORRERY_PLUGIN_PATH");
  h->plugin = g_strdup (plugin_name);
  h->dir = g_dir_make_tmp (template, &error);
  g_assert_no_error (error);
  h->bus = orrery_event_bus_new ();
  h->devices = orrery_device_manager_new ();
  g_assert_true (orrery_device_manager_add_device (h->devices, ORRERY_DEVICE (dev), NULL));
  h->orch = orrery_orchestrator_new (h->bus, h->devices);
  h->config = orrery_config_new ();
  h->engine = orrery_plugin_engine_new (h->bus, h->config);
  /* ORRERY_TEST_ISOLATED=1: the same tests with the plugin in its helper
   * process (`Isolation=process`), as meson registers them a second time. */
  h->isolated = g_strcmp0 (g_getenv ("ORRERY_TEST_ISOLATED"), "1") == 0;
  if (h->isolated)
    {
      plugin_harness_set (h, "Isolation", "process");
      /* A delivery is a round trip to another process, the first one with
       * the copy of the constellation: under the sanitizers on a loaded
       * machine that can pass the bus's 1 s budget for a handler, whose
       * warning the tests make fatal. */
      orrery_event_bus_set_handler_budget_ms (h->bus, 30000);
    }
}

/* Shuts the engine down (its plugins unsubscribe, release their holds)
 * and drops it. Does nothing the second time. */
void
plugin_harness_shutdown (PluginHarness *h)
{
  if (h->engine == NULL)
    return;
  orrery_plugin_engine_shutdown (h->engine);
  g_clear_object (&h->engine);
}

/* Shuts the engine down, drops h->probe_id and asserts that nothing is
 * left subscribed to the bus. */
void
plugin_harness_assert_unsubscribed (PluginHarness *h)
{
  plugin_harness_shutdown (h);
  if (h->probe_id != 0)
    orrery_event_bus_unsubscribe (h->bus, h->probe_id);
  g_assert_cmpuint (orrery_event_bus_get_n_subscriptions (h->bus), ==, 0);
}

/* The tear-down: the engine if still there, then the rest, and the
 * temporary directory with what is in it. Asserts nothing. */
void
plugin_harness_clear (PluginHarness *h)
{
  plugin_harness_shutdown (h);
  g_clear_object (&h->config);
  g_clear_object (&h->orch);
  g_clear_object (&h->devices);
  g_clear_object (&h->bus);
  g_clear_error (&h->error);
  plugin_harness_rmrf (h->dir);
  g_clear_pointer (&h->dir, g_free);
  g_clear_pointer (&h->plugin, g_free);
}

/* NAME in the temporary directory (free it). */
char *
plugin_harness_path (PluginHarness *h,
                     const char    *name)
{
  return g_build_filename (h->dir, name, NULL);
}

/* KEY=VALUE in the plugin's group, "Plugin <name>". */
void
plugin_harness_set (PluginHarness *h,
                    const char    *key,
                    const char    *value)
{
  g_autofree char *group = g_strconcat ("Plugin ", h->plugin, NULL);

  orrery_config_set_override (h->config, group, key, value);
}

/* Loads the plugin from the build tree only (and gives the engine the
 * orchestrator first, WITH_ORCHESTRATOR); returns its info, whatever its
 * state, or NULL if it was not found. */
OrreryPluginInfo *
plugin_harness_load_info (PluginHarness *h,
                          gboolean       with_orchestrator)
{
  g_autofree char *plugin_dir = g_test_build_filename (G_TEST_BUILT, "..", "plugins", h->plugin, NULL);

  orrery_plugin_engine_set_use_default_path (h->engine, FALSE);
  orrery_plugin_engine_add_search_path (h->engine, plugin_dir);
  if (with_orchestrator)
    orrery_plugin_engine_set_orchestrator (h->engine, h->orch);
  orrery_plugin_engine_load_all (h->engine);
  return orrery_plugin_engine_lookup (h->engine, h->plugin);
}

/* Loads the plugin with the orchestrator and asserts it is enabled. */
void
plugin_harness_load (PluginHarness *h)
{
  OrreryPluginInfo *info = plugin_harness_load_info (h, TRUE);

  g_assert_nonnull (info);
  g_assert_no_error ((GError *) orrery_plugin_info_get_error (info));
  g_assert_cmpint (orrery_plugin_info_get_state (info), ==, ORRERY_PLUGIN_STATE_ENABLED);
}

static void
run_done (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  PluginHarness *h = user_data;

  h->ok = orrery_orchestrator_run_finish (ORRERY_ORCHESTRATOR (source), result, &h->error);
  h->done = TRUE;
}

/* Runs C and spins the default main context until the run is over; the
 * outcome is in h->ok and h->error, unchecked. */
void
plugin_harness_run (PluginHarness       *h,
                    OrreryConstellation *c)
{
  h->done = FALSE;
  orrery_orchestrator_run_async (h->orch, c, NULL, run_done, h);
  while (!h->done)
    g_main_context_iteration (NULL, TRUE);
}

/* The same with the constellation in JSON, which must parse. */
void
plugin_harness_run_json (PluginHarness *h,
                         const char    *json)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryConstellation) c = orrery_constellation_new_from_data (json, -1, "test", &error);

  g_assert_no_error (error);
  plugin_harness_run (h, c);
}
