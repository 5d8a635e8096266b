/* orrery.h: the umbrella header of the Orrery SDK.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#define ORRERY_INSIDE

#include "orrery-version.h"
#include "orrery-types.h"
#include "orrery-escape.h"
#include "orrery-enum-types.h"
#include "orrery-event.h"
#include "orrery-observer.h"
#include "orrery-event-bus.h"
#include "orrery-task.h"
#include "orrery-dependency.h"
#include "orrery-edit-batch.h"
#include "orrery-constellation.h"
#include "orrery-constellation-dot.h"
#include "orrery-config.h"
#include "orrery-plugin.h"
#include "orrery-plugin-engine.h"
#include "orrery-device.h"
#include "orrery-base-device.h"
#include "orrery-local-device.h"
#include "orrery-simulated-device.h"
#include "orrery-device-kind.h"
#include "orrery-device-manager.h"
#include "orrery-orchestrator.h"
#include "orrery-journal.h"
#include "orrery-journal-reader.h"

#undef ORRERY_INSIDE
