/* typed.c: a fixture plugin that registers a GType in its init, as a
 * plugin with G_DEFINE_TYPE does. A process can register a type name only
 * once, so a new build of it cannot replace a loaded copy in the same
 * process. TYPED_VERSION tells two builds apart.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <orrery.h>

#ifndef TYPED_VERSION
# define TYPED_VERSION "1.0"
#endif

#define FIXTURE_TYPE_TYPED_THING (fixture_typed_thing_get_type ())
G_DECLARE_FINAL_TYPE (FixtureTypedThing, fixture_typed_thing, FIXTURE, TYPED_THING, GObject)

struct _FixtureTypedThing
{
  GObject parent_instance;
};

G_DEFINE_TYPE (FixtureTypedThing, fixture_typed_thing, G_TYPE_OBJECT)

static void
fixture_typed_thing_class_init (FixtureTypedThingClass *klass)
{
}

static void
fixture_typed_thing_init (FixtureTypedThing *self)
{
}

static gboolean
typed_init (OrreryPluginContext  *context,
            GError              **error)
{
  orrery_plugin_context_set_data (context, g_object_new (FIXTURE_TYPE_TYPED_THING, NULL),
                                  g_object_unref);
  return TRUE;
}

ORRERY_PLUGIN_DEFINE ("typed", TYPED_VERSION, "Registers a GType", typed_init, NULL, NULL)
