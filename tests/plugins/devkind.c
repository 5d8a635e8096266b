/* devkind.c: a fixture plugin that adds a device kind, `Kind=` (`fixture`
 * by default). Its factory builds a simulated device of device type
 * `fixture` with `Slots=` tasks at once (a count, 2 by default) and the
 * configured `Capabilities`; with Output=FILE it appends "built ID" to
 * FILE for every device it builds.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <orrery.h>

typedef struct
{
  char *output;
} Devkind;

static void
devkind_free (gpointer data)
{
  Devkind *dk = data;

  g_free (dk->output);
  g_free (dk);
}

static OrreryDevice *
build_device (OrreryConfig  *config,
              const char    *group,
              const char    *id,
              gpointer       user_data,
              GError       **error)
{
  Devkind *dk = user_data;
  GError *local_error = NULL;
  guint64 slots = orrery_device_kind_get_count (config, group, "Slots", 1, G_MAXUINT, 2, &local_error);
  g_auto(GStrv) caps = orrery_device_kind_get_capabilities (config, group);
  OrrerySimulatedDevice *device;

  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return NULL;
    }
  device = orrery_simulated_device_new (id, "fixture", (guint) slots);
  orrery_simulated_device_set_capabilities (device, (const char * const *) caps);
  if (dk->output != NULL)
    {
      FILE *f = fopen (dk->output, "a");

      if (f != NULL)
        {
          fprintf (f, "built %s\n", id);
          fclose (f);
        }
    }
  return ORRERY_DEVICE (device);
}

static gboolean
devkind_init (OrreryPluginContext  *context,
              GError              **error)
{
  g_autofree char *kind = orrery_plugin_context_get_string (context, "Kind", "fixture");
  Devkind *dk = g_new0 (Devkind, 1);

  dk->output = orrery_plugin_context_get_string (context, "Output", NULL);
  return orrery_plugin_context_register_device_kind (context, kind, build_device, dk,
                                                     devkind_free, error);
}

static const OrreryPluginKey devkind_keys[] = {
  { "Kind", ORRERY_PLUGIN_KEY_STRING, "fixture", "the name of the device kind it adds" },
  { "Output", ORRERY_PLUGIN_KEY_STRING, NULL, "a file to append “built ID” to for each device" },
  { NULL }
};

/* The default kind is declared (Kind= renames it: then it is not). A
 * second build declares a name no kind may have. */
#ifndef DEVKIND_DECLARED
#define DEVKIND_DECLARED "fixture"
#endif
static const char *const devkind_kinds[] = { DEVKIND_DECLARED, NULL };

ORRERY_PLUGIN_DEFINE_FULL ("devkind", "1.0", "Adds a device kind", devkind_init, NULL, devkind_keys,
                           devkind_kinds)
