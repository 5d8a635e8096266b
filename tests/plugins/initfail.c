/* initfail.c: a fixture plugin whose init fails (after adding an observer,
 * which the engine must detach).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <orrery.h>

static gboolean
initfail_handle (OrreryEvent  *event,
                 gpointer      user_data,
                 GError      **error)
{
  g_error ("initfail: an observer of a failed init received an event");
  return TRUE;
}

static gboolean
initfail_init (OrreryPluginContext  *context,
               GError              **error)
{
  g_autoptr(OrreryObserver) observer = orrery_func_observer_new ("initfail", initfail_handle,
                                                                 NULL, NULL);

  orrery_plugin_context_add_observer (context, observer, NULL, 0, ORRERY_DELIVERY_SYNC, 0, 0);
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "deliberate failure");
  return FALSE;
}

ORRERY_PLUGIN_DEFINE ("initfail", "1.0", "Fails in init", initfail_init, NULL, NULL)
