/* trap.c: a fixture plugin that leaves a mark when any of its code runs.
 *
 * Its ELF constructor appends "constructor" and its init "init" to the file
 * named by $ORRERY_FIXTURE_TRAP (if set): a test that must run none of a
 * plugin's code (listing, a refused plugin) checks the file never appears.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <orrery.h>

static void
mark (const char *what)
{
  const char *path = getenv ("ORRERY_FIXTURE_TRAP");
  FILE *f;

  if (path == NULL || *path == '\0')
    return;
  f = fopen (path, "a");
  if (f == NULL)
    return;
  fprintf (f, "%s\n", what);
  fclose (f);
}

__attribute__((constructor)) static void
trap_constructor (void)
{
  mark ("constructor");
}

static gboolean
trap_init (OrreryPluginContext  *context,
           GError              **error)
{
  mark ("init");
  return TRUE;
}

static void
trap_shutdown (OrreryPluginContext *context)
{
  mark ("shutdown");
}

static const OrreryPluginKey trap_keys[] = {
  { "Level", ORRERY_PLUGIN_KEY_UINT, "3", "how loud the trap is" },
  { "Verbose", ORRERY_PLUGIN_KEY_BOOLEAN, NULL, "whether it talks" },
  { NULL }
};

ORRERY_PLUGIN_DEFINE ("trap", "0.9", "Leaves a mark when its code runs", trap_init,
                      trap_shutdown, trap_keys)
