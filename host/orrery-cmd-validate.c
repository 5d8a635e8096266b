/* orrery-cmd-validate.c: `orrery validate FILE...`.
 *
 * Loads each file and reports every problem found (the loader collects
 * them all: types, enums, ids, dependency lines, cycles, depth, text that
 * is not UTF-8), then checks the task data of every task that would run on
 * a local device as the device itself would (orrery_local_device_check_task_data()):
 * a task whose device_type is this host's (linux), or that has none and
 * gives a `command`. Exit status 0 when every file is valid, 3 otherwise,
 * 2 on a usage error. Everything printed that comes from the files (and
 * the file names) is escaped for the terminal.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <orrery.h>

#include "orrery-host.h"

/* Prints one line of an SDK message on stderr. The SDK escapes the user
 * data in its messages already; whatever is still unsafe is escaped here
 * (escaping a line that only holds the SDK's backslashes would double
 * them). Used by validate and show. */
void
orrery_host_print_escaped_line (const char *line)
{
  g_autofree char *probe = g_strdup (line);
  char *w = probe;

  for (const char *r = line; *r; r++)
    if (*r != '\\')
      *w++ = *r;
  *w = '\0';
  if (orrery_text_is_terminal_safe (probe, -1))
    g_printerr ("%s\n", line);
  else
    {
      g_autofree char *safe = orrery_escape_for_terminal (line, -1);

      g_printerr ("%s\n", safe);
    }
}

/* Whether @task would run on a local device: its device type is this
 * host's, or it has none and gives a command. */
static gboolean
goes_to_local_device (OrreryTask *task)
{
  const char *type = orrery_task_get_device_type (task);
  GVariant *data = orrery_task_get_task_data (task);
  g_autoptr(GVariant) command = NULL;

  if (type != NULL)
    return g_ascii_strcasecmp (type, orrery_get_host_device_type ()) == 0;
  if (data == NULL || !g_variant_is_of_type (data, G_VARIANT_TYPE_VARDICT))
    return FALSE;
  command = g_variant_lookup_value (data, "command", NULL);
  return command != NULL;
}

/* Checks the task data of the tasks bound for a local device; prints each
 * problem (after @prefix, if any); returns how many there were. `run`
 * uses it too, before it runs anything. */
guint
orrery_host_check_task_data (OrreryConstellation *c,
                             const char          *prefix,
                             const char          *file)
{
  g_autoptr(GPtrArray) tasks = orrery_constellation_get_tasks (c);
  GVariant *accepted = NULL;   /* the last data found good (tasks of a file share equal data) */
  const char *accepted_type = NULL;
  guint n = 0;

  for (guint i = 0; i < tasks->len; i++)
    {
      g_autoptr(GError) err = NULL;
      g_autofree char *line = NULL;
      GVariant *data = orrery_task_get_task_data (tasks->pdata[i]);
      const char *type = orrery_task_get_device_type (tasks->pdata[i]);

      /* What is checked depends on the data and the device type alone;
       * the constellation holds both while this runs. */
      if (data != NULL && data == accepted && g_strcmp0 (type, accepted_type) == 0)
        continue;
      if (!goes_to_local_device (tasks->pdata[i]) ||
          orrery_local_device_check_task_data (tasks->pdata[i], &err))
        {
          accepted = data;
          accepted_type = type;
          continue;
        }
      if (n++ < 200)
        {
          line = g_strdup_printf ("%s%s: %s", prefix ? prefix : "", file, err->message);
          orrery_host_print_escaped_line (line);
        }
    }
  return n;
}

/* The devices `orrery run` would have, for the checks of the task data
 * against them; NULL (and a message) if the configuration cannot be read. */
static OrreryDeviceManager *
configured_devices (const char  *config_file,
                    GError     **error)
{
  g_autoptr(OrreryConfig) config = orrery_config_new ();
  g_autoptr(OrreryDeviceManager) devices = orrery_device_manager_new ();

  if (!orrery_config_load (config, config_file, error))
    return NULL;
  orrery_host_add_declared_kinds (devices, config);
  if (!orrery_host_devices_from_config (devices, config, error))
    return NULL;
  return g_steal_pointer (&devices);
}

int
orrery_host_cmd_validate (int    argc,
                          char **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("FILE…");
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryDeviceManager) devices = NULL;
  g_autofree char *config_file = NULL;
  gboolean quiet = FALSE;
  gboolean strict = FALSE;
  gboolean no_devices = FALSE;
  const GOptionEntry entries[] = {
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Print only the problems", NULL },
    { "strict", 0, 0, G_OPTION_ARG_NONE, &strict,
      "What would fail on the configured devices is an error, not a warning", NULL },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_file,
      "Check against the devices of FILE (default: the configuration `orrery run` reads)", "FILE" },
    { "no-devices", 0, 0, G_OPTION_ARG_NONE, &no_devices,
      "Do not check the tasks against the configured devices", NULL },
    { NULL }
  };
  int status = ORRERY_EXIT_OK;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (context, "Check constellation files, reporting every problem.");
  g_option_context_set_description (context,
                                     "Reads Orrery's and UFO Galaxy's JSON format (FILE “-”: standard "
                                     "input). Every problem is reported as FILE: $.json.path: rule. "
                                     "Tasks that would run on a local device (device_type linux, or none "
                                     "and a command) have their task data checked as the device would.\n"
                                     "Then every task is checked against the devices of the "
                                     "configuration (the [Device ID] groups, or the default local device): "
                                     "an unknown target device, no device able to take the task, task "
                                     "data a local device able to take it would refuse (a missing or "
                                     "mistyped command). These are warnings (the file is still valid) "
                                     "or, with --strict, errors.\n"
                                     "Exit status: 0 all files valid, 3 some file invalid, 2 usage or "
                                     "configuration error.");
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      orrery_host_usage_error (context, "validate", error->message);
      return ORRERY_EXIT_USAGE;
    }
  if (argc < 2)
    {
      orrery_host_usage_error (context, "validate", "no file given (“-”: standard input)");
      return ORRERY_EXIT_USAGE;
    }
  if (!no_devices)
    {
      devices = configured_devices (config_file, &error);
      if (devices == NULL)
        {
          /* Asked for (--config, --strict): a configuration error; else
           * the files are still checked, without the devices. */
          if (config_file != NULL || strict)
            {
              g_printerr ("orrery validate: %s\n", error->message);
              return ORRERY_EXIT_USAGE;
            }
          g_printerr ("orrery validate: warning: not checked against the devices: %s\n",
                      error->message);
        }
    }

  for (int i = 1; i < argc; i++)
    {
      g_autoptr(GError) err = NULL;
      g_autoptr(OrreryConstellation) c = orrery_host_load_constellation (argv[i], &err);
      const char *raw_file = g_str_equal (argv[i], "-") ? ORRERY_HOST_STDIN_NAME : argv[i];
      g_autofree char *file = orrery_escape_for_terminal (raw_file, -1);
      guint n_problems = 0;
      guint n_warnings = 0;

      if (c == NULL)
        {
          g_auto(GStrv) lines = g_strsplit (err->message, "\n", -1);

          for (guint k = 0; lines[k]; k++)
            orrery_host_print_escaped_line (lines[k]);
          n_problems = g_strv_length (lines);
        }
      else
        {
          n_problems = orrery_host_check_task_data (c, NULL, raw_file);
          if (devices != NULL)
            n_warnings = orrery_host_check_devices (c, devices, NULL, raw_file,
                                                    strict ? "error" : "warning");
          if (strict)
            n_problems += n_warnings;
        }

      if (n_problems > 0)
        {
          g_printerr ("%s: invalid (%u problem%s)\n", file, n_problems, n_problems == 1 ? "" : "s");
          status = ORRERY_EXIT_INVALID;
        }
      else if (!quiet)
        {
          g_autofree char *name = orrery_escape_for_terminal (orrery_constellation_get_name (c), -1);

          g_print ("%s: valid: “%s”, %u tasks, %u dependencies, %u ready", file, name,
                   orrery_constellation_get_n_tasks (c), orrery_constellation_get_n_dependencies (c),
                   orrery_constellation_get_n_ready (c));
          if (n_warnings > 0)
            g_print (" (%u warning%s: would fail on the configured devices)", n_warnings,
                     n_warnings == 1 ? "" : "s");
          g_print ("\n");
        }
    }
  return status;
}
