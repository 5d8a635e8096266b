/* badconf.c: a fixture plugin that declares an integer key; badconf.conf
 * beside it gives the key a value that is not an integer.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <orrery.h>

static gboolean
badconf_init (OrreryPluginContext  *context,
              GError              **error)
{
  GError *local_error = NULL;
  gint64 threshold = orrery_plugin_context_get_int (context, "Threshold", 0, &local_error);

  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return FALSE;
    }
  g_object_set_data (G_OBJECT (orrery_plugin_context_get_bus (context)), "badconf-threshold",
                     GSIZE_TO_POINTER ((gsize) threshold));
  return TRUE;
}

static const OrreryPluginKey badconf_keys[] = {
  { "Threshold", ORRERY_PLUGIN_KEY_INT, "10", "an integer" },
  { NULL }
};

ORRERY_PLUGIN_DEFINE ("badconf", "1.0", "Declares an integer key", badconf_init, NULL,
                      badconf_keys)
