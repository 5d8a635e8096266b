/* orrery-cmd-dry-run.c: `orrery run --dry-run FILE`, and the checks of a
 * constellation's tasks against the configured devices that `orrery
 * validate` and the dry run share.
 *
 * The dry run places every task as the orchestrator would, on the devices
 * of the configuration, and prints in dispatch order what would run where
 * (the command of a local task, the simulated duration of a simulated
 * one), as if every task succeeded. Nothing runs: no device executes, no
 * plugin is loaded, no run directory or journal is created.
 *
 * Dispatch order: the orchestrator starts the ready tasks by priority
 * (critical first), then by id; a task becomes ready when its
 * prerequisites end. The dry run completes every started task of a step
 * before the next step, so a step holds the tasks that may run at the same
 * time (the concurrency limits decide how many really do).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <orrery.h>

#include "orrery-host.h"

/* The string of a GVariant that holds one (directly or in a "v"). */
static const char *
variant_string (GVariant *v)
{
  g_autoptr(GVariant) inner = NULL;

  if (g_variant_is_of_type (v, G_VARIANT_TYPE_STRING))
    return g_variant_get_string (v, NULL);
  if (g_variant_is_of_type (v, G_VARIANT_TYPE_VARIANT))
    {
      inner = g_variant_get_variant (v);
      if (g_variant_is_of_type (inner, G_VARIANT_TYPE_STRING))
        return g_variant_get_string (inner, NULL);
    }
  return NULL;
}

/* The command of a local task as a shell line: a string as it is (run by
 * /bin/sh -c), a list of strings quoted. NULL if there is none. */
static char *
command_line (OrreryTask *task)
{
  GVariant *data = orrery_task_get_task_data (task);
  g_autoptr(GVariant) command = NULL;
  g_autoptr(GVariant) inner = NULL;
  GString *line;
  const char *text;

  if (data == NULL || !g_variant_is_of_type (data, G_VARIANT_TYPE_VARDICT))
    return NULL;
  command = g_variant_lookup_value (data, "command", NULL);
  if (command == NULL)
    return NULL;
  inner = g_variant_is_of_type (command, G_VARIANT_TYPE_VARIANT)
          ? g_variant_get_variant (command) : g_variant_ref (command);
  text = variant_string (inner);
  if (text != NULL)
    return g_strdup (text);
  if (!g_variant_is_container (inner))
    return NULL;
  line = g_string_new (NULL);
  for (gsize i = 0; i < g_variant_n_children (inner); i++)
    {
      g_autoptr(GVariant) child = g_variant_get_child_value (inner, i);
      const char *word = variant_string (child);
      g_autofree char *quoted = g_shell_quote (word != NULL ? word : "?");

      if (i > 0)
        g_string_append_c (line, ' ');
      g_string_append (line, quoted);
    }
  return g_string_free (line, FALSE);
}

/* What a device would do with @task, for the plan. */
static char *
describe_work (OrreryDevice *device,
               OrreryTask   *task)
{
  GVariant *data = orrery_task_get_task_data (task);
  g_autofree char *command = command_line (task);
  const char *plugin = orrery_host_device_stand_in_plugin (device);

  if (plugin != NULL)
    {
      g_autofree char *shown = orrery_escape_for_terminal (plugin, -1);

      return g_strdup_printf ("(run by the plugin %s%s%s)", shown, command != NULL ? ": $ " : "",
                              command != NULL ? command : "");
    }
  if (ORRERY_IS_LOCAL_DEVICE (device))
    return g_strdup_printf ("$ %s", command != NULL ? command : "(no command)");
  if (ORRERY_IS_SIMULATED_DEVICE (device))
    {
      g_autoptr(GVariant) ms = NULL;
      g_autoptr(GVariant) fail = NULL;
      g_autofree char *ms_text = NULL;

      if (data != NULL && g_variant_is_of_type (data, G_VARIANT_TYPE_VARDICT))
        {
          ms = g_variant_lookup_value (data, "duration_ms", NULL);
          fail = g_variant_lookup_value (data, "fail", NULL);
        }
      ms_text = ms != NULL ? g_variant_print (ms, FALSE) : g_strdup ("0");
      return g_strdup_printf ("simulated for %s ms%s", ms_text,
                              fail != NULL ? " (told to fail)" : "");
    }
  if (command != NULL)
    return g_strdup_printf ("$ %s", command);
  return g_strdup ("(task data for this device)");
}

guint
orrery_host_check_devices (OrreryConstellation *c,
                           OrreryDeviceManager *devices,
                           const char          *prefix,
                           const char          *file,
                           const char          *severity)
{
  g_autoptr(GPtrArray) tasks = orrery_constellation_get_tasks (c);
  g_autofree char *shown_file = orrery_escape_for_terminal (file, -1);
  guint n = 0;

  for (guint i = 0; i < tasks->len; i++)
    {
      OrreryTask *task = tasks->pdata[i];
      g_autoptr(GError) error = NULL;
      g_autofree char *id = orrery_escape_for_terminal (orrery_task_get_id (task), -1);
      g_autoptr(GList) all = NULL;
      const char *target = orrery_task_get_target_device_id (task);
      const char *type = orrery_task_get_device_type (task);

      if (!orrery_device_manager_can_run (devices, task, &error))
        {
          g_autofree char *message = orrery_escape_for_terminal (error->message, -1);

          if (n++ < 200)
            g_printerr ("%s%s: %s: task “%s” would fail: %s\n", prefix ? prefix : "", shown_file,
                        severity, id, message);
          continue;
        }
      /* Local devices that could take it must accept its data. */
      all = orrery_device_manager_get_devices (devices);
      for (GList *l = all; l != NULL; l = l->next)
        {
          OrreryDevice *device = l->data;
          g_autoptr(GError) data_error = NULL;
          g_autofree char *device_id = NULL;
          g_autofree char *message = NULL;

          if (!ORRERY_IS_LOCAL_DEVICE (device))
            continue;
          if (target != NULL && *target != '\0' && g_strcmp0 (target, orrery_device_get_id (device)) != 0)
            continue;
          if (type != NULL && *type != '\0' &&
              g_ascii_strcasecmp (type, orrery_device_get_device_type (device)) != 0)
            continue;
          if (orrery_local_device_check_task_data (task, &data_error))
            continue;
          device_id = orrery_escape_for_terminal (orrery_device_get_id (device), -1);
          message = orrery_escape_for_terminal (data_error->message, -1);
          if (n++ < 200)
            g_printerr ("%s%s: %s: task “%s” would fail on local device “%s”: %s\n",
                        prefix ? prefix : "", shown_file, severity, id, device_id, message);
          break;
        }
    }
  return n;
}

int
orrery_host_dry_run (OrreryConstellation *c,
                     OrreryConfig        *config,
                     const char          *strategy,
                     const char          *file)
{
  g_autoptr(OrreryDeviceManager) devices = orrery_device_manager_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *nick = strategy != NULL ? g_strdup (strategy)
                                           : orrery_config_get_string (config, "Host", "Strategy", NULL);
  g_autofree char *shown_file = orrery_escape_for_terminal (file, -1);
  g_autofree char *name = orrery_escape_for_terminal (orrery_constellation_get_name (c), -1);
  OrreryDispatchStrategy value = orrery_device_manager_get_strategy (devices);
  guint n_problems;
  guint step = 0;
  guint n_placed = 0;
  guint n_unplaced = 0;
  guint n_skipped = 0;
  g_autoptr(GPtrArray) outcomes = g_ptr_array_new ();

  orrery_host_add_declared_kinds (devices, config);
  if (!orrery_host_devices_from_config (devices, config, &error))
    {
      g_printerr ("orrery run: %s\n", error->message);
      return ORRERY_EXIT_USAGE;
    }
  if (nick != NULL)
    {
      if (!orrery_dispatch_strategy_from_nick (nick, &value))
        {
          g_autofree char *shown = orrery_escape_for_terminal (nick, -1);

          g_printerr ("orrery run: unknown strategy “%s” (round-robin, capability-match, "
                      "load-balance)\n", shown);
          return ORRERY_EXIT_USAGE;
        }
      orrery_device_manager_set_strategy (devices, value);
    }

  g_print ("Dry run of “%s” (%s): %u tasks on %u devices, strategy %s; nothing is run.\n",
           name, shown_file, orrery_constellation_get_n_tasks (c),
           orrery_device_manager_get_n_devices (devices),
           orrery_dispatch_strategy_to_nick (orrery_device_manager_get_strategy (devices)));
  n_problems = orrery_host_check_devices (c, devices, "orrery run: ", file, "warning");

  for (;;)
    {
      g_autoptr(GPtrArray) ready = orrery_constellation_get_ready_tasks (c);
      g_autoptr(GPtrArray) started = NULL;

      if (ready->len == 0)
        break;
      g_print ("Step %u:\n", ++step);
      started = g_ptr_array_new ();
      for (guint i = 0; i < ready->len; i++)
        {
          OrreryTask *task = ready->pdata[i];
          g_autoptr(GError) select_error = NULL;
          g_autofree char *id = orrery_escape_for_terminal (orrery_task_get_id (task), -1);
          OrreryDevice *device = orrery_device_manager_select (devices, task, &select_error);

          if (device != NULL)
            {
              g_autofree char *device_id = orrery_escape_for_terminal (orrery_device_get_id (device), -1);
              g_autofree char *work = describe_work (device, task);
              g_autofree char *shown_work = orrery_escape_for_terminal (work, -1);

              g_print ("  %-20s on %-12s %s\n", id, device_id, shown_work);
              /* Its slot is taken for the rest of the step, as it would be. */
              orrery_device_manager_acquire (devices, device);
              g_ptr_array_add (started, task);
              g_ptr_array_add (outcomes, GINT_TO_POINTER (TRUE));
              n_placed++;
            }
          else if (select_error != NULL)
            {
              g_autofree char *message = orrery_escape_for_terminal (select_error->message, -1);

              g_print ("  %-20s on %-12s would fail: %s\n", id, "(none)", message);
              g_ptr_array_add (started, task);
              g_ptr_array_add (outcomes, GINT_TO_POINTER (FALSE));
              n_unplaced++;
            }
          /* else every device it could take is busy: it waits for the
           * next step, as it would wait for a task to end. */
        }
      if (started->len == 0)
        {
          g_print ("  (every device that could take the ready tasks has no slot: "
                   "a concurrency limit of 0?)\n");
          n_unplaced += ready->len;
          break;
        }
      /* Every task of the step ends (a success if it was placed) and
       * frees its slot. */
      for (guint i = 0; i < started->len; i++)
        {
          OrreryTask *task = started->pdata[i];
          const char *task_id = orrery_task_get_id (task);
          gboolean success = GPOINTER_TO_INT (outcomes->pdata[outcomes->len - started->len + i]);
          g_autoptr(GPtrArray) newly = NULL;
          g_autoptr(GPtrArray) skipped = NULL;
          g_autoptr(GError) task_error = NULL;
          g_autoptr(GVariant) result = NULL;

          if (!success)
            task_error = g_error_new_literal (ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_NO_DEVICE,
                                              "no device");
          else
            {
              /* A success as a device reports it: exit status 0 (what
               * conditions on a command's result look at most). */
              GVariantBuilder builder;

              g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
              g_variant_builder_add (&builder, "{sv}", "exit_status", g_variant_new_int32 (0));
              result = g_variant_ref_sink (g_variant_builder_end (&builder));
            }
          if (!orrery_constellation_mark_task_started (c, task_id, &error))
            {
              g_printerr ("orrery run: %s\n", error->message);
              return ORRERY_EXIT_INVALID;
            }
          newly = orrery_constellation_mark_task_completed (c, task_id, success, result, task_error,
                                                            &skipped, &error);
          if (error != NULL)
            {
              g_printerr ("orrery run: %s\n", error->message);
              return ORRERY_EXIT_INVALID;
            }
          for (guint k = 0; skipped != NULL && k < skipped->len; k++)
            {
              g_autofree char *skipped_id = orrery_escape_for_terminal (orrery_task_get_id (skipped->pdata[k]), -1);

              g_print ("  %-20s    %-12s skipped (%s)\n", skipped_id, "",
                       success ? "a condition on a result, with exit status 0 assumed, is not met"
                               : "a prerequisite would fail");
              n_skipped++;
            }
        }
      {
        g_autoptr(GList) all = orrery_device_manager_get_devices (devices);

        for (GList *l = all; l != NULL; l = l->next)
          while (orrery_device_manager_get_running (devices, l->data) > 0)
            orrery_device_manager_release (devices, l->data);
      }
    }
  g_print ("%u tasks in %u step%s would be started%s", n_placed, step, step == 1 ? "" : "s",
           n_unplaced > 0 || n_problems > 0 ? "" : ".\n");
  if (n_unplaced > 0 || n_problems > 0)
    g_print (", %u would fail, %u be skipped (%u problems found).\n", n_unplaced, n_skipped,
             n_problems);
  return n_unplaced > 0 || n_problems > 0 ? ORRERY_EXIT_RUN_FAILED : ORRERY_EXIT_OK;
}
