/* orrery-orchestrator.h: runs a constellation on devices, event driven.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ORRERY_INSIDE) && !defined(ORRERY_COMPILATION)
#error "Only <orrery.h> can be included directly."
#endif

#include <gio/gio.h>
#include "orrery-constellation.h"
#include "orrery-device-manager.h"
#include "orrery-event-bus.h"
#include "orrery-config.h"

G_BEGIN_DECLS

/**
 * ORRERY_ORCHESTRATOR_DEFAULT_RETRY_DELAY_MS:
 *
 * The delay before a failed task's first retry, unless
 * orrery_orchestrator_set_retry_policy() or `[Host] RetryDelayMs` says
 * otherwise.
 */
#define ORRERY_ORCHESTRATOR_DEFAULT_RETRY_DELAY_MS 500

/**
 * ORRERY_ORCHESTRATOR_DEFAULT_RETRY_BACKOFF:
 *
 * What each further retry delay is multiplied by, unless
 * orrery_orchestrator_set_retry_policy() or `[Host] RetryBackoff` says
 * otherwise.
 */
#define ORRERY_ORCHESTRATOR_DEFAULT_RETRY_BACKOFF 2.0

/**
 * ORRERY_ORCHESTRATOR_DEFAULT_RETRY_MAX_DELAY_MS:
 *
 * The longest retry delay, unless orrery_orchestrator_set_retry_policy()
 * or `[Host] RetryMaxDelayMs` says otherwise.
 */
#define ORRERY_ORCHESTRATOR_DEFAULT_RETRY_MAX_DELAY_MS 30000

/**
 * ORRERY_ORCHESTRATOR_ERROR:
 *
 * The error domain of the orchestrator. A cancelled run fails with
 * %G_IO_ERROR_CANCELLED instead.
 */
#define ORRERY_ORCHESTRATOR_ERROR (orrery_orchestrator_error_quark ())
ORRERY_EXPORT
GQuark orrery_orchestrator_error_quark (void);

/**
 * OrreryOrchestratorError:
 * @ORRERY_ORCHESTRATOR_ERROR_BUSY: the orchestrator is already running a
 *   constellation
 * @ORRERY_ORCHESTRATOR_ERROR_INVALID: the constellation is not valid
 * @ORRERY_ORCHESTRATOR_ERROR_TASKS_FAILED: the run ended with failed
 *   tasks (and the tasks they made skip)
 *
 * Why a run did not succeed.
 */
typedef enum {
  ORRERY_ORCHESTRATOR_ERROR_BUSY,
  ORRERY_ORCHESTRATOR_ERROR_INVALID,
  ORRERY_ORCHESTRATOR_ERROR_TASKS_FAILED,
} OrreryOrchestratorError;

/**
 * OrreryHold:
 *
 * A hold on an orchestrator: while one is taken, no new task is dispatched
 * and the run does not complete. Taken with orrery_orchestrator_hold(),
 * given back with orrery_orchestrator_release().
 */
typedef struct _OrreryHold OrreryHold;

#define ORRERY_TYPE_HOLD (orrery_hold_get_type ())
ORRERY_EXPORT
GType       orrery_hold_get_type      (void) G_GNUC_CONST;
ORRERY_EXPORT
OrreryHold *orrery_hold_ref           (OrreryHold *hold);
ORRERY_EXPORT
void        orrery_hold_unref         (OrreryHold *hold);
ORRERY_EXPORT
guint       orrery_hold_get_id        (OrreryHold *hold);
ORRERY_EXPORT
const char *orrery_hold_get_reason    (OrreryHold *hold);
ORRERY_EXPORT
gboolean    orrery_hold_is_active     (OrreryHold *hold);
ORRERY_EXPORT
gboolean    orrery_hold_has_expired   (OrreryHold *hold);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (OrreryHold, orrery_hold_unref)

#define ORRERY_TYPE_ORCHESTRATOR (orrery_orchestrator_get_type ())
ORRERY_EXPORT
G_DECLARE_FINAL_TYPE (OrreryOrchestrator, orrery_orchestrator, ORRERY, ORCHESTRATOR, GObject)

ORRERY_EXPORT
OrreryOrchestrator  *orrery_orchestrator_new                (OrreryEventBus       *bus,
                                                             OrreryDeviceManager  *devices);
ORRERY_EXPORT
OrreryEventBus      *orrery_orchestrator_get_bus            (OrreryOrchestrator   *self);
ORRERY_EXPORT
OrreryDeviceManager *orrery_orchestrator_get_device_manager (OrreryOrchestrator   *self);
ORRERY_EXPORT
OrreryConstellation *orrery_orchestrator_get_constellation  (OrreryOrchestrator   *self);
ORRERY_EXPORT
gboolean             orrery_orchestrator_is_running         (OrreryOrchestrator   *self);
ORRERY_EXPORT
void                 orrery_orchestrator_set_max_concurrency (OrreryOrchestrator  *self,
                                                             guint                 max_concurrency);
ORRERY_EXPORT
guint                orrery_orchestrator_get_max_concurrency (OrreryOrchestrator  *self);
ORRERY_EXPORT
void                 orrery_orchestrator_set_retry_policy   (OrreryOrchestrator   *self,
                                                             guint                 delay_ms,
                                                             gdouble               factor,
                                                             guint                 max_delay_ms);
ORRERY_EXPORT
void                 orrery_orchestrator_get_retry_policy   (OrreryOrchestrator   *self,
                                                             guint                *out_delay_ms,
                                                             gdouble              *out_factor,
                                                             guint                *out_max_delay_ms);
ORRERY_EXPORT
gboolean             orrery_orchestrator_apply_config       (OrreryOrchestrator   *self,
                                                             OrreryConfig         *config,
                                                             GError              **error);
ORRERY_EXPORT
guint                orrery_orchestrator_get_n_running      (OrreryOrchestrator   *self);

ORRERY_EXPORT
void                 orrery_orchestrator_run_async          (OrreryOrchestrator   *self,
                                                             OrreryConstellation  *constellation,
                                                             GCancellable         *cancellable,
                                                             GAsyncReadyCallback   callback,
                                                             gpointer              user_data);
ORRERY_EXPORT
gboolean             orrery_orchestrator_run_finish         (OrreryOrchestrator   *self,
                                                             GAsyncResult         *result,
                                                             GError              **error);
ORRERY_EXPORT
void                 orrery_orchestrator_cancel             (OrreryOrchestrator   *self,
                                                             const char           *reason);
ORRERY_EXPORT
void                 orrery_orchestrator_fail               (OrreryOrchestrator   *self,
                                                             const GError         *error);
ORRERY_EXPORT
const char          *orrery_orchestrator_get_cancel_reason  (OrreryOrchestrator   *self);

ORRERY_EXPORT
OrreryHold          *orrery_orchestrator_hold               (OrreryOrchestrator   *self,
                                                             const char           *reason,
                                                             guint                 timeout_ms);
ORRERY_EXPORT
gboolean             orrery_orchestrator_release            (OrreryOrchestrator   *self,
                                                             OrreryHold           *hold);
ORRERY_EXPORT
guint                orrery_orchestrator_get_n_holds        (OrreryOrchestrator   *self);

G_END_DECLS
