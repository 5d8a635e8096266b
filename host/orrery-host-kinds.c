/* orrery-host-kinds.c: the device kinds plugins declare, for the commands
 * that build the configured devices without loading any plugin (`orrery
 * validate`, `orrery run --dry-run`).
 *
 * A plugin adds a device kind in its init, which these commands never run.
 * Its descriptor declares the kinds (ORRERY_PLUGIN_DEFINE_FULL()), and the
 * engine reads them from the file without running its code. Each kind an
 * enabled plugin declares gets a stand-in here: a device with the group's
 * common keys (DeviceType, Capabilities, MaxConcurrency), so that tasks
 * are placed on it as on the real one, marked so that the plan says which
 * plugin would run them. Its own keys (a URL, a pool) are the plugin's to
 * check when it runs.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "orrery-host.h"

#define STAND_IN_KEY "orrery-host-stand-in-plugin"

static OrreryDevice *
build_stand_in (OrreryConfig  *config,
                const char    *group,
                const char    *id,
                gpointer       user_data,
                GError       **error)
{
  const char *plugin = user_data;
  g_autofree char *device_type = orrery_device_kind_get_device_type (config, group);
  g_auto(GStrv) caps = orrery_device_kind_get_capabilities (config, group);
  GError *local_error = NULL;
  guint64 max_concurrency;
  OrrerySimulatedDevice *device;

  max_concurrency = orrery_device_kind_get_count (config, group, "MaxConcurrency", 1, G_MAXUINT,
                                                  1, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return NULL;
    }
  /* Never executed: only placed on. */
  device = orrery_simulated_device_new (id, device_type, (guint) max_concurrency);
  orrery_simulated_device_set_capabilities (device, (const char * const *) caps);
  g_object_set_data_full (G_OBJECT (device), STAND_IN_KEY, g_strdup (plugin), g_free);
  return ORRERY_DEVICE (device);
}

guint
orrery_host_add_declared_kinds (OrreryDeviceManager *devices,
                                OrreryConfig        *config)
{
  g_autoptr(OrreryEventBus) bus = orrery_event_bus_new ();
  g_autoptr(OrreryPluginEngine) engine = orrery_plugin_engine_new (bus, config);
  g_autoptr(GPtrArray) plugins = NULL;
  guint n = 0;

  orrery_plugin_engine_check_all (engine);
  plugins = orrery_plugin_engine_get_plugins (engine);
  for (guint i = 0; i < plugins->len; i++)
    {
      OrreryPluginInfo *info = plugins->pdata[i];
      const char *name = orrery_plugin_info_get_name (info);
      const char * const *kinds = orrery_plugin_info_get_device_kinds (info);

      if (kinds == NULL || orrery_plugin_info_get_state (info) != ORRERY_PLUGIN_STATE_CHECKED ||
          !orrery_plugin_engine_get_enabled_by_config (engine, name))
        continue;
      for (guint k = 0; kinds[k] != NULL; k++)
        if (!orrery_device_manager_has_kind (devices, kinds[k]) &&
            orrery_device_manager_register_kind (devices, kinds[k], build_stand_in,
                                                 g_strdup (name), g_free, NULL))
          n++;
    }
  orrery_plugin_engine_shutdown (engine);
  return n;
}

const char *
orrery_host_device_stand_in_plugin (OrreryDevice *device)
{
  return g_object_get_data (G_OBJECT (device), STAND_IN_KEY);
}
