/* abi-major.c: a fixture plugin built for a plugin ABI this SDK refuses
 * (major differs). Its constructor leaves a mark in the
 * environment: the engine must refuse it without running any of its code.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>
#include <orrery.h>

__attribute__((constructor)) static void
abi_major_constructor (void)
{
  setenv ("ORRERY_FIXTURE_ABI_MAJOR_RAN", "1", 1);
}

static gboolean
abi_major_init (OrreryPluginContext  *context,
               GError              **error)
{
  setenv ("ORRERY_FIXTURE_ABI_MAJOR_RAN", "1", 1);
  return TRUE;
}

__attribute__((visibility ("default")))
extern const OrreryPluginDescriptor orrery_plugin_descriptor;
__attribute__((visibility ("default")))
const OrreryPluginDescriptor orrery_plugin_descriptor = {
  ORRERY_PLUGIN_ABI_MAJOR + 1, ORRERY_PLUGIN_ABI_MINOR, sizeof (OrreryPluginDescriptor), 0,
  "abi-major", "1.0", "Built for another plugin ABI", abi_major_init, NULL, NULL, NULL, { NULL }
};
