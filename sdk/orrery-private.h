/* orrery-private.h: SDK-internal helpers, not installed.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "orrery.h"
#include "orrery-event-private.h"

G_BEGIN_DECLS

#define ORRERY_HIDDEN __attribute__((visibility ("hidden")))

/* The detail quark of each event type, indexed by OrreryEventType. */
ORRERY_HIDDEN GQuark          _orrery_event_type_quark  (OrreryEventType type);

/* An orchestrator that stands for another process's (an isolated plugin's
 * helper, orrery-plugin-isolation.c): its holds are kept here without a
 * deadline and told to @hold/@release, which act on the host's
 * orchestrator; cancel, fail and is_running go to the host too. */
typedef struct
{
  void     (*hold)       (gpointer data, guint id, const char *reason, guint timeout_ms);
  void     (*release)    (gpointer data, guint id);
  void     (*cancel)     (gpointer data, const char *reason);
  void     (*fail)       (gpointer data, const GError *error);
  gboolean (*is_running) (gpointer data);
} OrreryOrchestratorRemote;

ORRERY_HIDDEN void            _orrery_orchestrator_set_remote (OrreryOrchestrator             *self,
                                                               const OrreryOrchestratorRemote *remote,
                                                               gpointer                        data);
/* The host's hold behind @id expired: released here, `hold-expired`
 * emitted. FALSE if no such hold stands. */
ORRERY_HIDDEN gboolean        _orrery_orchestrator_expire_hold (OrreryOrchestrator *self,
                                                                guint               id);

/* Enumeration values by their nicks (orrery-types.c), from the GEnumClass
 * glib-mkenums generated. */
/* @text names @nick in any case, with `_` for `-`. */
ORRERY_HIDDEN gboolean        _orrery_enum_name_equal   (const char *text,
                                                         const char *nick);
/* The nick of @value, or NULL if @type has no such value. */
ORRERY_HIDDEN const char     *_orrery_enum_to_nick      (GType       type,
                                                         gint        value);
/* The value whose nick @text names (_orrery_enum_name_equal()). */
ORRERY_HIDDEN gboolean        _orrery_enum_from_nick    (GType       type,
                                                         const char *text,
                                                         gint       *out_value);
/* A task status as files write it: `waiting_dependency`. */
ORRERY_HIDDEN const char     *_orrery_task_status_ufo_name (OrreryTaskStatus status);

G_END_DECLS
