/* orrery-types.c: helpers around the SDK's enumerations.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "orrery-private.h"

/* ------------------------------------------------------------------------ */
/* Names of enumeration values: the nicks glib-mkenums generated into each
 * enum's GEnumClass (`ORRERY_TASK_STATUS_WAITING_DEPENDENCY` has the nick
 * `waiting-dependency`). Read in any case, with `_` for `-`. */

static GEnumClass *
enum_class (GType type)
{
  gpointer klass = g_type_class_peek_static (type);

  /* Kept for the life of the process, as every static type's class. */
  return klass != NULL ? klass : g_type_class_ref (type);
}

gboolean
_orrery_enum_name_equal (const char *text,
                         const char *nick)
{
  for (; *text && *nick; text++, nick++)
    {
      char c = g_ascii_tolower (*text);

      if (c == '_')
        c = '-';
      if (c != *nick)
        return FALSE;
    }
  return *text == '\0' && *nick == '\0';
}

const char *
_orrery_enum_to_nick (GType type,
                      gint  value)
{
  GEnumValue *v = g_enum_get_value (enum_class (type), value);

  return v != NULL ? v->value_nick : NULL;
}

gboolean
_orrery_enum_from_nick (GType       type,
                        const char *text,
                        gint       *out_value)
{
  GEnumClass *klass = enum_class (type);

  for (guint i = 0; i < klass->n_values; i++)
    if (_orrery_enum_name_equal (text, klass->values[i].value_nick))
      {
        if (out_value != NULL)
          *out_value = klass->values[i].value;
        return TRUE;
      }
  return FALSE;
}

/* The nicks of the event types by value, read once from the GEnumClass:
 * the bus and the journal name every event. */
static const char *const *
event_nicks (void)
{
  static gsize once = 0;
  static const char *nicks[ORRERY_EVENT_TYPE_COUNT];

  if (g_once_init_enter (&once))
    {
      for (guint i = 0; i < ORRERY_EVENT_TYPE_COUNT; i++)
        {
          nicks[i] = _orrery_enum_to_nick (ORRERY_TYPE_EVENT_TYPE, (gint) i);
          g_assert (nicks[i] != NULL);
        }
      g_once_init_leave (&once, 1);
    }
  return nicks;
}

/**
 * orrery_event_type_to_nick:
 * @type: an event type
 *
 * Returns: (transfer none): the nick of @type, such as `task-completed`
 */
const char *
orrery_event_type_to_nick (OrreryEventType type)
{
  g_return_val_if_fail ((guint) type < ORRERY_EVENT_TYPE_COUNT, NULL);
  return event_nicks ()[type];
}

/**
 * orrery_event_type_from_nick:
 * @nick: a nick such as `task-completed` (`task_completed` and any case are
 *   accepted too)
 * @out_type: (out): where to store the type
 *
 * Returns: whether @nick names an event type
 */
gboolean
orrery_event_type_from_nick (const char      *nick,
                             OrreryEventType *out_type)
{
  gint value;

  g_return_val_if_fail (nick != NULL, FALSE);

  if (!_orrery_enum_from_nick (ORRERY_TYPE_EVENT_TYPE, nick, &value))
    return FALSE;
  if (out_type != NULL)
    *out_type = (OrreryEventType) value;
  return TRUE;
}

GQuark
_orrery_event_type_quark (OrreryEventType type)
{
  static GQuark quarks[ORRERY_EVENT_TYPE_COUNT];

  if (G_UNLIKELY (quarks[type] == 0))
    quarks[type] = g_quark_from_static_string (event_nicks ()[type]);
  return quarks[type];
}

/**
 * orrery_task_status_to_nick:
 * @status: a task status
 *
 * Returns: (transfer none): the nick of @status, such as `completed`
 */
const char *
orrery_task_status_to_nick (OrreryTaskStatus status)
{
  /* Read once from the GEnumClass: the journal names a status in every
   * task record. */
  static gsize once = 0;
  static const char *nicks[ORRERY_TASK_STATUS_SKIPPED + 1];

  if (g_once_init_enter (&once))
    {
      for (guint i = 0; i <= ORRERY_TASK_STATUS_SKIPPED; i++)
        nicks[i] = _orrery_enum_to_nick (ORRERY_TYPE_TASK_STATUS, (gint) i);
      g_once_init_leave (&once, 1);
    }
  g_return_val_if_fail ((guint) status <= ORRERY_TASK_STATUS_SKIPPED && nicks[status] != NULL, NULL);
  return nicks[status];
}

/* The status as the constellation file and the journal write it:
 * `waiting_dependency`. */
const char *
_orrery_task_status_ufo_name (OrreryTaskStatus status)
{
  static gsize once = 0;
  static const char *names[ORRERY_TASK_STATUS_SKIPPED + 1];

  if (g_once_init_enter (&once))
    {
      for (guint i = 0; i < G_N_ELEMENTS (names); i++)
        {
          g_autofree char *name = g_strdup (_orrery_enum_to_nick (ORRERY_TYPE_TASK_STATUS, (gint) i));

          g_assert (name != NULL);
          names[i] = g_intern_string (g_strdelimit (name, "-", '_'));
        }
      g_once_init_leave (&once, 1);
    }
  return names[status];
}
