/* orrery-version.c: the version of the SDK at run time.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "orrery-private.h"

/**
 * orrery_get_major_version:
 *
 * Returns: the major version of the SDK loaded at run time
 */
guint
orrery_get_major_version (void)
{
  return ORRERY_MAJOR_VERSION;
}

/**
 * orrery_get_minor_version:
 *
 * Returns: the minor version of the SDK loaded at run time
 */
guint
orrery_get_minor_version (void)
{
  return ORRERY_MINOR_VERSION;
}

/**
 * orrery_get_micro_version:
 *
 * Returns: the micro version of the SDK loaded at run time
 */
guint
orrery_get_micro_version (void)
{
  return ORRERY_MICRO_VERSION;
}
