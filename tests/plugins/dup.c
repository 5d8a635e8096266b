/* dup.c: a fixture plugin with the same name as good.c.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <orrery.h>

static gboolean
dup_init (OrreryPluginContext  *context,
          GError              **error)
{
  g_object_set_data (G_OBJECT (orrery_plugin_context_get_bus (context)), "dup-inits",
                     GINT_TO_POINTER (1));
  return TRUE;
}

ORRERY_PLUGIN_DEFINE ("good", "9.9", "A second plugin named good", dup_init, NULL, NULL)
