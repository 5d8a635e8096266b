/* orrery-main.c: the `orrery` program.
 *
 * `orrery [OPTION…] COMMAND [ARG…]`: global options, then one of the
 * commands of the table below, each parsing its own options with its own
 * GOptionContext.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <locale.h>
#include <orrery.h>

#include "orrery-host.h"

static const OrreryHostCommand commands[] = {
  { "version", "Print the version", orrery_host_cmd_version },
  { "run", "Run a constellation with the enabled plugins", orrery_host_cmd_run },
  { "resume", "Continue a recorded run from its journal", orrery_host_cmd_resume },
  { "replay", "Feed a recorded run's events to the plugins again", orrery_host_cmd_replay },
  { "watch", "Follow a run another orrery process is writing", orrery_host_cmd_watch },
  { "serve", "Serve the dashboard over a recorded or running run", orrery_host_cmd_serve },
  { "validate", "Check constellation files, reporting every problem", orrery_host_cmd_validate },
  { "show", "Show a constellation by layers, as DOT or as JSON", orrery_host_cmd_show },
  { "plugins", "List the plugins found, their state and failures", orrery_host_cmd_plugins },
  { "worker", "Run a Redis pool's tasks on this machine", orrery_host_cmd_worker },
};

int
orrery_host_cmd_version (int    argc,
                         char **argv)
{
  g_print ("orrery %s (SDK %u.%u.%u, plugin ABI %d.%d)\n", ORRERY_VERSION_S,
           orrery_get_major_version (), orrery_get_minor_version (),
           orrery_get_micro_version (), ORRERY_PLUGIN_ABI_MAJOR, ORRERY_PLUGIN_ABI_MINOR);
  return ORRERY_EXIT_OK;
}

static char *
commands_help (void)
{
  GString *s = g_string_new ("Commands:\n");

  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    g_string_append_printf (s, "  %-10s %s\n", commands[i].name, commands[i].summary);
  g_string_append (s, "\nRun “orrery COMMAND --help” for the options of a command.\n"
                      "Exit status: 0 success, 1 the run failed, 2 usage or configuration "
                      "error, 3 invalid constellation.");
  return g_string_free (s, FALSE);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *description = commands_help ();
  g_autofree char **global_argv = NULL;
  gboolean version = FALSE;
  const GOptionEntry entries[] = {
    { "version", 'V', 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
    { NULL }
  };
  int first = 1;
  int global_argc;

  setlocale (LC_ALL, "");
  /* Log messages carry ids and names from user files. */
  g_log_set_writer_func (orrery_log_writer_escaped, NULL, NULL);

  /* Global options stop at the first word that is not an option. */
  while (first < argc && argv[first][0] == '-')
    first++;
  global_argc = first;
  global_argv = g_new0 (char *, global_argc + 1);
  memcpy (global_argv, argv, sizeof (char *) * global_argc);

  context = g_option_context_new ("COMMAND [ARG…]");
  g_option_context_set_summary (context,
                                "Run constellations (DAGs of tasks) on devices and report "
                                "every state change on an event bus.");
  g_option_context_set_description (context, description);
  g_option_context_add_main_entries (context, entries, NULL);

  {
    char **parse_argv = global_argv;

    if (!g_option_context_parse (context, &global_argc, &parse_argv, &error))
      {
        g_printerr ("orrery: %s\nRun “orrery --help” for usage.\n", error->message);
        return ORRERY_EXIT_USAGE;
      }
  }

  if (version)
    return orrery_host_cmd_version (0, NULL);

  if (first >= argc)
    {
      g_autofree char *help = g_option_context_get_help (context, TRUE, NULL);

      g_printerr ("%s", help);
      return ORRERY_EXIT_USAGE;
    }

  for (gsize c = 0; c < G_N_ELEMENTS (commands); c++)
    if (g_strcmp0 (argv[first], commands[c].name) == 0)
      {
        int cmd_argc = argc - first;
        char **cmd_argv = argv + first;

        /* `URL --run RUN_ID`: a journal on a Redis stream, read locally. */
        if (!orrery_host_remote_journal_args (&cmd_argc, &cmd_argv, &error))
          {
            g_printerr ("orrery %s: %s\n", argv[first], error->message);
            return ORRERY_EXIT_USAGE;
          }
        return commands[c].run (cmd_argc, cmd_argv);
      }

  g_printerr ("orrery: unknown command “%s”\nRun “orrery --help” for usage.\n", argv[first]);
  return ORRERY_EXIT_USAGE;
}
