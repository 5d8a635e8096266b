/* good.c: a fixture plugin that counts the events it receives.
 *
 * The counts are kept as data on the bus, so a test can read them:
 * "good-count" (events, times Increment), "good-inits", "good-shutdowns".
 * With Output=FILE it also appends each event's type nick to FILE.
 * GOOD_VERSION tells two builds apart (good-v2.so is another build, for
 * the hot-plug tests).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <orrery.h>

#ifndef GOOD_VERSION
# define GOOD_VERSION "1.2.3"
#endif

typedef struct
{
  OrreryEventBus *bus;
  char           *output;
  gint64          increment;
} Good;

static void
bump (OrreryEventBus *bus,
      const char     *key,
      gint64          by)
{
  gint64 n = GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (bus), key));

  g_object_set_data (G_OBJECT (bus), key, GSIZE_TO_POINTER ((gsize) (n + by)));
}

static gboolean
good_handle (OrreryEvent  *event,
             gpointer      user_data,
             GError      **error)
{
  Good *good = user_data;

  bump (good->bus, "good-count", good->increment);
  if (good->output != NULL)
    {
      FILE *f = fopen (good->output, "a");

      if (f == NULL)
        return FALSE;
      fprintf (f, "%s\n", orrery_event_get_type_nick (event));
      fclose (f);
    }
  return TRUE;
}

static void
good_free (gpointer data)
{
  Good *good = data;

  g_free (good->output);
  g_free (good);
}

static gboolean
good_init (OrreryPluginContext  *context,
           GError              **error)
{
  Good *good = g_new0 (Good, 1);
  g_autoptr(OrreryObserver) observer = NULL;
  GError *local_error = NULL;

  good->bus = orrery_plugin_context_get_bus (context);
  good->output = orrery_plugin_context_get_string (context, "Output", NULL);
  good->increment = orrery_plugin_context_get_int (context, "Increment", 7, &local_error);
  orrery_plugin_context_set_data (context, good, good_free);
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return FALSE;
    }
  observer = orrery_func_observer_new ("good", good_handle, good, NULL);
  orrery_plugin_context_add_observer (context, observer, NULL, 0, ORRERY_DELIVERY_SYNC, 0, 0);
  bump (good->bus, "good-inits", 1);
  return TRUE;
}

static void
good_shutdown (OrreryPluginContext *context)
{
  Good *good = orrery_plugin_context_get_data (context);

  bump (good->bus, "good-shutdowns", 1);
}

static const OrreryPluginKey good_keys[] = {
  { "Output", ORRERY_PLUGIN_KEY_STRING, NULL, "a file to append each event's type to" },
  { "Increment", ORRERY_PLUGIN_KEY_INT, "1", "how much each event adds to the count" },
  { NULL }
};

ORRERY_PLUGIN_DEFINE ("good", GOOD_VERSION, "Counts the events it receives", good_init,
                      good_shutdown, good_keys)
