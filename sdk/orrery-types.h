/* orrery-types.h: the enumerations shared by the whole SDK.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ORRERY_INSIDE) && !defined(ORRERY_COMPILATION)
#error "Only <orrery.h> can be included directly."
#endif

#include <glib-object.h>
#include "orrery-version.h"

G_BEGIN_DECLS

/* Declared here so that headers can name it without including the DAG
 * model (orrery-constellation.h defines it). */
typedef struct _OrreryConstellation OrreryConstellation;

/**
 * OrreryEventType:
 * @ORRERY_EVENT_TASK_STARTED: a task was dispatched to a device
 * @ORRERY_EVENT_TASK_COMPLETED: a task finished successfully
 * @ORRERY_EVENT_TASK_FAILED: a task failed for good (no retry left)
 * @ORRERY_EVENT_CONSTELLATION_STARTED: a run started
 * @ORRERY_EVENT_CONSTELLATION_COMPLETED: a run ended with every task done
 * @ORRERY_EVENT_CONSTELLATION_MODIFIED: an edit batch was applied
 * @ORRERY_EVENT_TASK_RETRYING: a task failed and will be tried again
 * @ORRERY_EVENT_TASK_SKIPPED: a task can never run (a prerequisite failed)
 * @ORRERY_EVENT_TASK_CANCELLED: a task was cancelled
 * @ORRERY_EVENT_CONSTELLATION_FAILED: a run ended with failed tasks
 * @ORRERY_EVENT_CONSTELLATION_CANCELLED: a run was cancelled
 * @ORRERY_EVENT_DEVICE_ADDED: a device became available
 * @ORRERY_EVENT_DEVICE_REMOVED: a device went away
 * @ORRERY_EVENT_DEVICE_STATUS_CHANGED: a device changed status
 *
 * The kinds of event published on an #OrreryEventBus. The nick of each
 * value (`task-started`, ...) is the detail of the bus's #OrreryEventBus::event
 * signal and the name used in keyfiles and JSON.
 */
typedef enum {
  ORRERY_EVENT_TASK_STARTED,
  ORRERY_EVENT_TASK_COMPLETED,
  ORRERY_EVENT_TASK_FAILED,
  ORRERY_EVENT_CONSTELLATION_STARTED,
  ORRERY_EVENT_CONSTELLATION_COMPLETED,
  ORRERY_EVENT_CONSTELLATION_MODIFIED,
  ORRERY_EVENT_TASK_RETRYING,
  ORRERY_EVENT_TASK_SKIPPED,
  ORRERY_EVENT_TASK_CANCELLED,
  ORRERY_EVENT_CONSTELLATION_FAILED,
  ORRERY_EVENT_CONSTELLATION_CANCELLED,
  ORRERY_EVENT_DEVICE_ADDED,
  ORRERY_EVENT_DEVICE_REMOVED,
  ORRERY_EVENT_DEVICE_STATUS_CHANGED,
} OrreryEventType;

/**
 * ORRERY_EVENT_TYPE_COUNT:
 *
 * The number of #OrreryEventType values.
 */
#define ORRERY_EVENT_TYPE_COUNT (ORRERY_EVENT_DEVICE_STATUS_CHANGED + 1)

/**
 * OrreryEventKind:
 * @ORRERY_EVENT_KIND_PLAIN: a plain event, made by orrery_event_new(): a
 *   type, a source and free-form data
 * @ORRERY_EVENT_KIND_TASK: an event about one task, made by
 *   orrery_event_new_task()
 * @ORRERY_EVENT_KIND_CONSTELLATION: an event about a whole run, made by
 *   orrery_event_new_constellation()
 * @ORRERY_EVENT_KIND_DEVICE: an event about a device, made by
 *   orrery_event_new_device()
 *
 * Which fields an #OrreryEvent carries: the kind is set by the constructor
 * that made it (see orrery_event_get_kind()).
 */
typedef enum {
  ORRERY_EVENT_KIND_PLAIN,
  ORRERY_EVENT_KIND_TASK,
  ORRERY_EVENT_KIND_CONSTELLATION,
  ORRERY_EVENT_KIND_DEVICE,
} OrreryEventKind;

/**
 * OrreryTaskStatus:
 * @ORRERY_TASK_STATUS_PENDING: not yet ready or not yet dispatched
 * @ORRERY_TASK_STATUS_WAITING_DEPENDENCY: waiting for a prerequisite
 * @ORRERY_TASK_STATUS_RUNNING: dispatched to a device
 * @ORRERY_TASK_STATUS_COMPLETED: finished successfully
 * @ORRERY_TASK_STATUS_FAILED: finished with an error
 * @ORRERY_TASK_STATUS_CANCELLED: cancelled before or while running
 * @ORRERY_TASK_STATUS_SKIPPED: can never run: a prerequisite cannot be met
 *
 * The life cycle of an #OrreryTask.
 */
typedef enum {
  ORRERY_TASK_STATUS_PENDING,
  ORRERY_TASK_STATUS_WAITING_DEPENDENCY,
  ORRERY_TASK_STATUS_RUNNING,
  ORRERY_TASK_STATUS_COMPLETED,
  ORRERY_TASK_STATUS_FAILED,
  ORRERY_TASK_STATUS_CANCELLED,
  ORRERY_TASK_STATUS_SKIPPED,
} OrreryTaskStatus;

/**
 * OrreryTaskPriority:
 * @ORRERY_TASK_PRIORITY_LOW: low
 * @ORRERY_TASK_PRIORITY_MEDIUM: medium (the default)
 * @ORRERY_TASK_PRIORITY_HIGH: high
 * @ORRERY_TASK_PRIORITY_CRITICAL: critical
 *
 * How urgent a task is; ready tasks are dispatched by priority, then id.
 */
typedef enum {
  ORRERY_TASK_PRIORITY_LOW = 1,
  ORRERY_TASK_PRIORITY_MEDIUM = 2,
  ORRERY_TASK_PRIORITY_HIGH = 3,
  ORRERY_TASK_PRIORITY_CRITICAL = 4,
} OrreryTaskPriority;

/**
 * OrreryDependencyType:
 * @ORRERY_DEPENDENCY_UNCONDITIONAL: satisfied by any terminal state
 * @ORRERY_DEPENDENCY_SUCCESS_ONLY: satisfied only when the prerequisite succeeded
 * @ORRERY_DEPENDENCY_COMPLETION_ONLY: satisfied by any terminal state
 * @ORRERY_DEPENDENCY_CONDITIONAL: satisfied when a condition on the
 *   prerequisite's result holds
 *
 * The kinds of edge between two tasks.
 */
typedef enum {
  ORRERY_DEPENDENCY_UNCONDITIONAL,
  ORRERY_DEPENDENCY_SUCCESS_ONLY,
  ORRERY_DEPENDENCY_COMPLETION_ONLY,
  ORRERY_DEPENDENCY_CONDITIONAL,
} OrreryDependencyType;

/**
 * OrreryConstellationState:
 * @ORRERY_CONSTELLATION_STATE_CREATED: built, not yet run
 * @ORRERY_CONSTELLATION_STATE_EXECUTING: being run
 * @ORRERY_CONSTELLATION_STATE_COMPLETED: ended with no task failed or
 *   cancelled (tasks skipped because their condition did not hold are
 *   branches not taken)
 * @ORRERY_CONSTELLATION_STATE_FAILED: ended with failed tasks (and the
 *   tasks they made skip)
 * @ORRERY_CONSTELLATION_STATE_PARTIALLY_FAILED: ended, some tasks failed;
 *   read from files, no run ends in it (a run ends failed)
 * @ORRERY_CONSTELLATION_STATE_CANCELLED: the run was cancelled
 *
 * The life cycle of a constellation.
 */
typedef enum {
  ORRERY_CONSTELLATION_STATE_CREATED,
  ORRERY_CONSTELLATION_STATE_EXECUTING,
  ORRERY_CONSTELLATION_STATE_COMPLETED,
  ORRERY_CONSTELLATION_STATE_FAILED,
  ORRERY_CONSTELLATION_STATE_PARTIALLY_FAILED,
  ORRERY_CONSTELLATION_STATE_CANCELLED,
} OrreryConstellationState;

/**
 * OrreryDeviceStatus:
 * @ORRERY_DEVICE_STATUS_IDLE: connected and not busy
 * @ORRERY_DEVICE_STATUS_BUSY: running as many tasks as it can
 * @ORRERY_DEVICE_STATUS_OFFLINE: not available
 * @ORRERY_DEVICE_STATUS_FAILED: broken
 *
 * The status of a device.
 */
typedef enum {
  ORRERY_DEVICE_STATUS_IDLE,
  ORRERY_DEVICE_STATUS_BUSY,
  ORRERY_DEVICE_STATUS_OFFLINE,
  ORRERY_DEVICE_STATUS_FAILED,
} OrreryDeviceStatus;

/**
 * OrreryDeliveryMode:
 * @ORRERY_DELIVERY_SYNC: delivered inside orrery_event_bus_publish(); an
 *   asynchronous observer has its async handler started there
 * @ORRERY_DELIVERY_QUEUED: pushed onto a bounded per-observer queue that
 *   is drained from the main loop, one event at a time
 *
 * How the bus hands events to an observer.
 */
typedef enum {
  ORRERY_DELIVERY_SYNC,
  ORRERY_DELIVERY_QUEUED,
} OrreryDeliveryMode;

/**
 * OrreryDispatchStrategy:
 * @ORRERY_STRATEGY_ROUND_ROBIN: take the eligible devices in turn
 * @ORRERY_STRATEGY_CAPABILITY_MATCH: prefer the eligible device whose
 *   capabilities match the task's best
 * @ORRERY_STRATEGY_LOAD_BALANCE: prefer the eligible device with the lowest
 *   load (running tasks over its concurrency limit)
 *
 * How the device manager picks a device for a task (the names UFO Galaxy
 * uses).
 */
typedef enum {
  ORRERY_STRATEGY_ROUND_ROBIN,
  ORRERY_STRATEGY_CAPABILITY_MATCH,
  ORRERY_STRATEGY_LOAD_BALANCE,
} OrreryDispatchStrategy;

ORRERY_EXPORT
const char *orrery_event_type_to_nick (OrreryEventType type);
ORRERY_EXPORT
gboolean orrery_event_type_from_nick (const char      *nick,
                                      OrreryEventType *out_type);
ORRERY_EXPORT
const char *orrery_task_status_to_nick (OrreryTaskStatus status);

G_END_DECLS
