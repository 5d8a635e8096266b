/* anon.c: a fixture plugin without a name of its own: it takes its file's
 * name, so copies of it are distinct plugins (used by the benchmark).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <orrery.h>

static gboolean
anon_handle (OrreryEvent  *event,
             gpointer      user_data,
             GError      **error)
{
  return TRUE;
}

static gboolean
anon_init (OrreryPluginContext  *context,
           GError              **error)
{
  g_autoptr(OrreryObserver) observer = orrery_func_observer_new (
      orrery_plugin_context_get_name (context), anon_handle, NULL, NULL);
  const OrreryEventType types[] = { ORRERY_EVENT_TASK_COMPLETED };

  orrery_plugin_context_add_observer (context, observer, types, G_N_ELEMENTS (types),
                                      ORRERY_DELIVERY_SYNC, 0, 0);
  return TRUE;
}

ORRERY_PLUGIN_DEFINE (NULL, "1.0", "Named after its file", anon_init, NULL, NULL)
