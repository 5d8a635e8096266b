/* orrery-cmd-worker.c: `orrery worker URL --pool NAME ...`.
 *
 * The worker is the redis plugin's program (orrery-redis-worker, in
 * libexecdir, or in the build tree when orrery runs from it): this command
 * only finds it and runs it in its place, so that the host links no Redis
 * client. $ORRERY_REDIS_WORKER names another one.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "orrery-host.h"

static char *
worker_program (void)
{
  const char *env = g_getenv ("ORRERY_REDIS_WORKER");
  g_autofree char *self = NULL;
  g_autofree char *root = NULL;

  if (env != NULL && *env != '\0')
    return g_strdup (env);
  self = realpath ("/proc/self/exe", NULL);
  root = realpath (ORRERY_HOST_BUILD_ROOT, NULL);
  if (self != NULL && root != NULL && g_str_has_prefix (self, root) &&
      self[strlen (root)] == '/')
    return g_strdup (ORRERY_HOST_BUILD_ROOT "/plugins/redis/orrery-redis-worker");
  return g_strdup (ORRERY_HOST_LIBEXECDIR "/orrery-redis-worker");
}

int
orrery_host_cmd_worker (int    argc,
                        char **argv)
{
  g_autofree char *program = worker_program ();
  g_autofree char **args = g_new0 (char *, argc + 1);

  args[0] = program;
  for (int i = 1; i < argc; i++)
    args[i] = argv[i];
  execv (program, args);
  g_printerr ("orrery worker: cannot run %s: %s (is the redis plugin built? it needs "
              "libhiredis-dev)\n", program, g_strerror (errno));
  return ORRERY_EXIT_USAGE;
}
