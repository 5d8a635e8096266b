/* exported.c: a fixture plugin whose descriptor points at exported
 * (preemptible) symbols: its name string and its init are global, so the
 * linker writes 64-bit absolute relocations against them instead of
 * RELATIVE ones. The descriptor reader must resolve both kinds.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <orrery.h>

__attribute__((visibility ("default"))) extern const char exported_plugin_name[];
__attribute__((visibility ("default"))) const char exported_plugin_name[] = "exported";

__attribute__((visibility ("default"))) gboolean exported_plugin_init (OrreryPluginContext  *context,
                                                                       GError              **error);

__attribute__((visibility ("default"))) gboolean
exported_plugin_init (OrreryPluginContext  *context,
                      GError              **error)
{
  return TRUE;
}

ORRERY_PLUGIN_DEFINE (exported_plugin_name, "3.1", "Points at exported symbols",
                      exported_plugin_init, NULL, NULL)
