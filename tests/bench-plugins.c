/* bench-plugins.c: time to discover, check and load 100 plugins.
 *
 * 100 copies of the anon fixture (which takes its name from its file) in a
 * fresh temporary directory for each round, so every round really opens
 * 100 new shared objects. Prints one JSON object per line.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <orrery.h>

#include "plugins/fixture-util.h"

#define N_PLUGINS 100
#define N_ROUNDS 5

static int
compare_doubles (gconstpointer a,
                 gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

int
main (int    argc,
      char **argv)
{
  double totals[N_ROUNDS];

  g_unsetenv ("ORRERY_PLUGIN_PATH");
  for (guint round = 0; round < N_ROUNDS; round++)
    {
      g_autofree char *dir = fixture_tmpdir ();
      g_autoptr(OrreryEventBus) bus = orrery_event_bus_new ();
      g_autoptr(OrreryPluginEngine) engine = NULL;
      gint64 t0, t1, t2, t3;
      guint found, enabled, subscriptions;

      for (guint i = 0; i < N_PLUGINS; i++)
        {
          g_autofree char *as = g_strdup_printf ("bench-r%u-p%03u.so", round, i);
          g_autofree char *path = fixture_install (dir, "anon", as);
        }

      engine = orrery_plugin_engine_new (bus, NULL);
      orrery_plugin_engine_set_use_default_path (engine, FALSE);
      orrery_plugin_engine_add_search_path (engine, dir);

      t0 = g_get_monotonic_time ();
      found = orrery_plugin_engine_discover (engine);
      t1 = g_get_monotonic_time ();
      enabled = orrery_plugin_engine_load_all (engine);
      t2 = g_get_monotonic_time ();
      subscriptions = orrery_event_bus_get_n_subscriptions (bus);
      orrery_plugin_engine_shutdown (engine);
      t3 = g_get_monotonic_time ();

      if (found != N_PLUGINS || enabled != N_PLUGINS || subscriptions != N_PLUGINS)
        g_error ("round %u: found %u, enabled %u of %d", round, found, enabled, N_PLUGINS);
      totals[round] = (t2 - t0) / 1000.0;
      g_print ("{\"benchmark\": \"plugins-load\", \"round\": %u, \"plugins\": %d, "
               "\"discover_ms\": %.3f, \"check_load_init_ms\": %.3f, \"total_ms\": %.3f, "
               "\"per_plugin_us\": %.1f, \"shutdown_ms\": %.3f, \"subscriptions\": %u}\n",
               round, N_PLUGINS, (t1 - t0) / 1000.0, (t2 - t1) / 1000.0, totals[round],
               (t2 - t0) / (double) N_PLUGINS, (t3 - t2) / 1000.0, subscriptions);
      g_clear_object (&engine);
      fixture_rmrf (dir);
    }
  qsort (totals, N_ROUNDS, sizeof (double), compare_doubles);
  g_print ("{\"benchmark\": \"plugins-load-summary\", \"plugins\": %d, \"rounds\": %d, "
           "\"median_total_ms\": %.3f, \"min_total_ms\": %.3f, \"max_total_ms\": %.3f, "
           "\"target_ms\": 50, \"ok\": %s}\n",
           N_PLUGINS, N_ROUNDS, totals[N_ROUNDS / 2], totals[0], totals[N_ROUNDS - 1],
           totals[N_ROUNDS / 2] < 50 ? "true" : "false");
  return 0;
}
