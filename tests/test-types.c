/* test-types.c: the names of the SDK's enumeration values (orrery-types.c):
 * each to_nick gives the nick glib-mkenums generated, each from_string or
 * from_nick reads it back in any case and with `_` for `-`, and refuses
 * what is not a name.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <orrery.h>

typedef const char *(*ToNick)   (gint value);
typedef gboolean    (*FromNick) (const char *text, gint *out_value);

/* Every value of @type: to_nick is the generated nick; from_nick reads
 * the nick, its upper-case form with `_`, and a mixed form back. */
static void
check_enum (GType    type,
            ToNick   to_nick,
            FromNick from_nick)
{
  GEnumClass *klass = g_type_class_ref (type);

  g_assert_cmpuint (klass->n_values, >, 1);
  for (guint i = 0; i < klass->n_values; i++)
    {
      const GEnumValue *v = &klass->values[i];
      g_autofree char *upper = g_ascii_strup (v->value_nick, -1);
      g_autofree char *mixed = g_strdup (v->value_nick);
      gint got = -1;

      g_strdelimit (upper, "-", '_');
      mixed[0] = g_ascii_toupper (mixed[0]);
      g_assert_cmpstr (to_nick (v->value), ==, v->value_nick);
      g_assert_true (from_nick (v->value_nick, &got));
      g_assert_cmpint (got, ==, v->value);
      got = -1;
      g_assert_true (from_nick (upper, &got));
      g_assert_cmpint (got, ==, v->value);
      got = -1;
      g_assert_true (from_nick (mixed, &got));
      g_assert_cmpint (got, ==, v->value);
      g_assert_true (from_nick (v->value_nick, NULL));
    }
  g_assert_false (from_nick ("", NULL));
  g_assert_false (from_nick ("no-such-value", NULL));
  /* A prefix or an extension of a nick is not the nick. */
  {
    g_autofree char *longer = g_strconcat (klass->values[0].value_nick, "x", NULL);
    g_autofree char *shorter = g_strndup (klass->values[0].value_nick,
                                          strlen (klass->values[0].value_nick) - 1);

    g_assert_false (from_nick (longer, NULL));
    g_assert_false (from_nick (shorter, NULL));
  }
  g_type_class_unref (klass);
}

static void
test_event_type (void)
{
  check_enum (ORRERY_TYPE_EVENT_TYPE, (ToNick) orrery_event_type_to_nick,
              (FromNick) orrery_event_type_from_nick);
  g_assert_cmpstr (orrery_event_type_to_nick (ORRERY_EVENT_DEVICE_STATUS_CHANGED), ==,
                   "device-status-changed");
}

static void
test_task_status (void)
{
  check_enum (ORRERY_TYPE_TASK_STATUS, (ToNick) orrery_task_status_to_nick,
              (FromNick) orrery_task_status_from_string);
  g_assert_cmpstr (orrery_task_status_to_nick (ORRERY_TASK_STATUS_WAITING_DEPENDENCY), ==,
                   "waiting-dependency");
}

static void
test_task_priority (void)
{
  OrreryTaskPriority p = 0;

  check_enum (ORRERY_TYPE_TASK_PRIORITY, (ToNick) orrery_task_priority_to_nick,
              (FromNick) orrery_task_priority_from_string);
  /* Its number too, 1 to 4. */
  g_assert_true (orrery_task_priority_from_string ("4", &p));
  g_assert_cmpint (p, ==, ORRERY_TASK_PRIORITY_CRITICAL);
  g_assert_true (orrery_task_priority_from_string ("1", &p));
  g_assert_cmpint (p, ==, ORRERY_TASK_PRIORITY_LOW);
  g_assert_false (orrery_task_priority_from_string ("0", NULL));
  g_assert_false (orrery_task_priority_from_string ("5", NULL));
  g_assert_false (orrery_task_priority_from_string ("12", NULL));
}

static void
test_dependency_type (void)
{
  check_enum (ORRERY_TYPE_DEPENDENCY_TYPE, (ToNick) orrery_dependency_type_to_nick,
              (FromNick) orrery_dependency_type_from_string);
}

static void
test_constellation_state (void)
{
  g_assert_cmpstr (orrery_constellation_state_to_nick (ORRERY_CONSTELLATION_STATE_PARTIALLY_FAILED),
                   ==, "partially-failed");
  g_assert_cmpstr (orrery_constellation_state_to_nick (ORRERY_CONSTELLATION_STATE_CANCELLED),
                   ==, "cancelled");
}

static void
test_dispatch_strategy (void)
{
  check_enum (ORRERY_TYPE_DISPATCH_STRATEGY, (ToNick) orrery_dispatch_strategy_to_nick,
              (FromNick) orrery_dispatch_strategy_from_nick);
}

static void
test_plugin_state (void)
{
  g_assert_cmpstr (orrery_plugin_state_to_nick (ORRERY_PLUGIN_STATE_NOT_FOUND), ==, "not-found");
  g_assert_cmpstr (orrery_plugin_state_to_nick ((OrreryPluginState) 99), ==, "invalid");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/types/event-type", test_event_type);
  g_test_add_func ("/types/task-status", test_task_status);
  g_test_add_func ("/types/task-priority", test_task_priority);
  g_test_add_func ("/types/dependency-type", test_dependency_type);
  g_test_add_func ("/types/constellation-state", test_constellation_state);
  g_test_add_func ("/types/dispatch-strategy", test_dispatch_strategy);
  g_test_add_func ("/types/plugin-state", test_plugin_state);
  return g_test_run ();
}
