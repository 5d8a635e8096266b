/* orrery-host.h: what the host's commands share.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <orrery.h>

G_BEGIN_DECLS

/* Exit statuses (DESIGN section 7). */
enum {
  ORRERY_EXIT_OK = 0,
  ORRERY_EXIT_RUN_FAILED = 1,
  ORRERY_EXIT_USAGE = 2,
  ORRERY_EXIT_INVALID = 3,
};

typedef struct
{
  const char *name;
  const char *summary;
  /* argv[0] is the command's name. */
  int (*run) (int argc, char **argv);
} OrreryHostCommand;

int orrery_host_cmd_version (int argc, char **argv);
int orrery_host_cmd_plugins (int argc, char **argv);

G_END_DECLS
