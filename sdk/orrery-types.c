/* orrery-types.c: helpers around the SDK's enumerations.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "orrery-private.h"

static const char *const event_nicks[ORRERY_EVENT_TYPE_COUNT] = {
  [ORRERY_EVENT_TASK_STARTED] = "task-started",
  [ORRERY_EVENT_TASK_COMPLETED] = "task-completed",
  [ORRERY_EVENT_TASK_FAILED] = "task-failed",
  [ORRERY_EVENT_CONSTELLATION_STARTED] = "constellation-started",
  [ORRERY_EVENT_CONSTELLATION_COMPLETED] = "constellation-completed",
  [ORRERY_EVENT_CONSTELLATION_MODIFIED] = "constellation-modified",
  [ORRERY_EVENT_TASK_RETRYING] = "task-retrying",
  [ORRERY_EVENT_TASK_SKIPPED] = "task-skipped",
  [ORRERY_EVENT_TASK_CANCELLED] = "task-cancelled",
  [ORRERY_EVENT_CONSTELLATION_FAILED] = "constellation-failed",
  [ORRERY_EVENT_CONSTELLATION_CANCELLED] = "constellation-cancelled",
  [ORRERY_EVENT_DEVICE_ADDED] = "device-added",
  [ORRERY_EVENT_DEVICE_REMOVED] = "device-removed",
  [ORRERY_EVENT_DEVICE_STATUS_CHANGED] = "device-status-changed",
};

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
  return event_nicks[type];
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
  g_return_val_if_fail (nick != NULL, FALSE);

  for (guint i = 0; i < ORRERY_EVENT_TYPE_COUNT; i++)
    {
      const char *a = event_nicks[i];
      const char *b = nick;

      while (*a && *b &&
             (g_ascii_tolower (*b) == *a || (*b == '_' && *a == '-')))
        a++, b++;
      if (*a == '\0' && *b == '\0')
        {
          if (out_type)
            *out_type = (OrreryEventType) i;
          return TRUE;
        }
    }
  return FALSE;
}

GQuark
_orrery_event_type_quark (OrreryEventType type)
{
  static GQuark quarks[ORRERY_EVENT_TYPE_COUNT];

  if (G_UNLIKELY (quarks[type] == 0))
    quarks[type] = g_quark_from_static_string (event_nicks[type]);
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
  static const char *const nicks[] = {
    "pending", "waiting-dependency", "running", "completed",
    "failed", "cancelled", "skipped",
  };

  g_return_val_if_fail ((guint) status < G_N_ELEMENTS (nicks), NULL);
  return nicks[status];
}
