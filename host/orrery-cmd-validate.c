/* orrery-cmd-validate.c: `orrery validate FILE...`.
 *
 * Loads each file and reports every problem found (the loader collects
 * them all: types, enums, ids, dependency lines, cycles). Exit status 0 when
 * every file is valid, 3 otherwise, 2 on a usage error.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <orrery.h>

#include "orrery-host.h"

int
orrery_host_cmd_validate (int    argc,
                          char **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("FILE… — check constellation files");
  g_autoptr(GError) error = NULL;
  gboolean quiet = FALSE;
  const GOptionEntry entries[] = {
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Print only the problems", NULL },
    { NULL }
  };
  int status = ORRERY_EXIT_OK;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context,
                                     "Reads Orrery's and UFO Galaxy's JSON format. Every problem is "
                                     "reported as FILE: $.json.path: rule.\n"
                                     "Exit status: 0 all files valid, 3 some file invalid, 2 usage error.");
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("orrery validate: %s\n", error->message);
      return ORRERY_EXIT_USAGE;
    }
  if (argc < 2)
    {
      g_printerr ("orrery validate: no file given\nUsage: orrery validate FILE…\n");
      return ORRERY_EXIT_USAGE;
    }

  for (int i = 1; i < argc; i++)
    {
      g_autoptr(GError) err = NULL;
      g_autoptr(OrreryConstellation) c = orrery_constellation_new_from_file (argv[i], &err);

      if (c == NULL)
        {
          g_auto(GStrv) lines = g_strsplit (err->message, "\n", -1);

          for (guint k = 0; lines[k]; k++)
            g_printerr ("%s\n", lines[k]);
          g_printerr ("%s: invalid (%u problem%s)\n", argv[i], g_strv_length (lines),
                      g_strv_length (lines) == 1 ? "" : "s");
          status = ORRERY_EXIT_INVALID;
        }
      else if (!quiet)
        g_print ("%s: valid: “%s”, %u tasks, %u dependencies, %u ready\n", argv[i],
                 orrery_constellation_get_name (c), orrery_constellation_get_n_tasks (c),
                 orrery_constellation_get_n_dependencies (c), orrery_constellation_get_n_ready (c));
    }
  return status;
}
