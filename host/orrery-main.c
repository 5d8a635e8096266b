/* orrery-main.c: the `orrery` program.
 *
 * `orrery [OPTION…] COMMAND [ARG…]`: global options, then one of the
 * commands of the table below, each parsing its own options with its own
 * GOptionContext.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <locale.h>
#include <gio/gunixinputstream.h>
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
  { "plugins", "List the plugins found, or show one plugin and its keys", orrery_host_cmd_plugins },
  { "worker", "Run a Redis pool's tasks on this machine", orrery_host_cmd_worker },
  { "help", "Show the options of a command (orrery help COMMAND)", orrery_host_cmd_help },
};

/* The log domains, for G_MESSAGES_DEBUG and --verbose. */
#define LOG_DOMAINS \
  "Orrery Orrery-Host Orrery-Bus Orrery-Constellation Orrery-Orchestrator Orrery-Devices " \
  "Orrery-Plugins Orrery-Plugin-Host Orrery-Journal Orrery-Visualizer Orrery-Metrics " \
  "Orrery-Synchronizer Orrery-FailureMonitor Orrery-Dashboard"

void
orrery_host_usage_error (GOptionContext *context,
                         const char     *command,
                         const char     *message)
{
  g_autofree char *help = context != NULL ? g_option_context_get_help (context, TRUE, NULL) : NULL;
  const char *usage = NULL;
  g_autofree char *line = NULL;

  /* The help text starts "Usage:\n  orrery CMD [OPTION…] ARGS\n". */
  if (help != NULL && g_str_has_prefix (help, "Usage:\n"))
    {
      const char *end;

      usage = help + strlen ("Usage:\n");
      while (*usage == ' ')
        usage++;
      end = strchr (usage, '\n');
      line = end != NULL ? g_strndup (usage, end - usage) : g_strdup (usage);
      /* Some commands add a summary to their parameters: "FILE — show…". */
      end = strstr (line, " — ");
      if (end != NULL)
        line[end - line] = '\0';
    }
  g_printerr ("orrery %s: %s\n", command, message);
  if (line != NULL)
    g_printerr ("Usage: %s\n", line);
  g_printerr ("Run “orrery help %s” for its options.\n", command);
}

OrreryConstellation *
orrery_host_load_constellation (const char  *file,
                                GError     **error)
{
  g_autoptr(GInputStream) stream = NULL;

  if (g_strcmp0 (file, "-") != 0)
    return orrery_constellation_new_from_file (file, error);
  stream = g_unix_input_stream_new (0, FALSE);
  return orrery_constellation_new_from_stream (stream, ORRERY_HOST_STDIN_NAME, NULL, error);
}

static const OrreryHostCommand *
find_command (const char *name)
{
  for (gsize c = 0; c < G_N_ELEMENTS (commands); c++)
    if (g_strcmp0 (name, commands[c].name) == 0)
      return &commands[c];
  return NULL;
}

/* The name the commands' help and usage lines start with. */
static void
set_command_prgname (const char *name)
{
  g_autofree char *prgname = g_strconcat ("orrery ", name, NULL);

  g_set_prgname (prgname);
}

int
orrery_host_cmd_help (int    argc,
                      char **argv)
{
  const OrreryHostCommand *command;
  char *help_argv[] = { NULL, (char *) "--help", NULL };

  /* `orrery help` alone is main()'s. */
  g_return_val_if_fail (argc >= 2, ORRERY_EXIT_USAGE);
  command = argc == 2 ? find_command (argv[1]) : NULL;
  if (command == NULL || command->run == orrery_host_cmd_help)
    {
      g_autofree char *shown = orrery_escape_for_terminal (argv[1], -1);

      if (argc > 2)
        g_printerr ("orrery help: expected one COMMAND\n");
      else
        g_printerr ("orrery help: %s “%s”\n", command == NULL ? "unknown command" : "no options for",
                    shown);
      g_printerr ("Usage: orrery help [COMMAND]\nRun “orrery --help” for the commands.\n");
      return ORRERY_EXIT_USAGE;
    }
  set_command_prgname (command->name);
  help_argv[0] = (char *) command->name;
  /* GOption prints the help and exits 0. */
  return command->run (2, help_argv);
}

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
  g_string_append (s, "\nRun “orrery help COMMAND” (or “orrery COMMAND --help”) for the options "
                      "of a command, “man orrery” for the manual.\n"
                      "A constellation FILE may be “-”: it is read from standard input.\n\n"
                      "Environment:\n"
                      "  G_MESSAGES_DEBUG   log domains whose debug and info messages are printed\n"
                      "                     (“all”, or some of: " LOG_DOMAINS ");\n"
                      "                     --verbose sets it to all of Orrery's\n"
                      "  XDG_CONFIG_HOME, XDG_CONFIG_DIRS   where orrery.conf is searched\n"
                      "  ORRERY_PLUGIN_PATH                 more plugin directories\n\n"
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
  gboolean verbose = FALSE;
  const GOptionEntry entries[] = {
    { "version", 'V', 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose,
      "Print Orrery's debug and info messages (G_MESSAGES_DEBUG for its log domains); "
      "also accepted after the command", NULL },
    { NULL }
  };
  const OrreryHostCommand *command;
  int first = 1;
  int global_argc;

  setlocale (LC_ALL, "");
  /* Debug and info messages (--verbose) on standard error, as every other
   * message: standard output is the command's (a journal, JSON, DOT). */
  g_log_writer_default_set_use_stderr (TRUE);
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

  /* --verbose after the command too: taken out of the command's words
   * (before a “--”) so that every command accepts it. */
  for (int i = first + 1; i < argc; i++)
    {
      if (g_str_equal (argv[i], "--"))
        break;
      if (g_str_equal (argv[i], "--verbose") || g_str_equal (argv[i], "-v"))
        {
          verbose = TRUE;
          memmove (argv + i, argv + i + 1, sizeof (char *) * (argc - i));
          argc--;
          i--;
        }
    }
  if (verbose)
    {
      const char *current = g_getenv ("G_MESSAGES_DEBUG");
      g_autofree char *domains = current != NULL && *current != '\0'
                                 ? g_strconcat (current, " " LOG_DOMAINS, NULL)
                                 : g_strdup (LOG_DOMAINS);

      /* Child processes (orrery-plugin-host) inherit it. */
      g_setenv ("G_MESSAGES_DEBUG", domains, TRUE);
    }

  if (first >= argc)
    {
      g_autofree char *help = g_option_context_get_help (context, TRUE, NULL);

      g_printerr ("%s", help);
      return ORRERY_EXIT_USAGE;
    }

  command = find_command (argv[first]);
  if (command != NULL && command->run == orrery_host_cmd_help && argc - first == 1)
    {
      g_autofree char *help = g_option_context_get_help (context, TRUE, NULL);

      g_print ("%s", help);
      return ORRERY_EXIT_OK;
    }
  if (command != NULL)
    {
      int cmd_argc = argc - first;
      char **cmd_argv = argv + first;

      set_command_prgname (command->name);
      /* `URL --run RUN_ID`: a journal on a Redis stream, read locally. */
      if (!orrery_host_remote_journal_args (&cmd_argc, &cmd_argv, &error))
        {
          g_printerr ("orrery %s: %s\n", argv[first], error->message);
          return ORRERY_EXIT_USAGE;
        }
      return command->run (cmd_argc, cmd_argv);
    }

  g_printerr ("orrery: unknown command “%s”\nRun “orrery --help” for usage.\n", argv[first]);
  return ORRERY_EXIT_USAGE;
}
