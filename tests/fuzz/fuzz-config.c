/* fuzz-config.c: the keyfile configuration with command-line overrides.
 *
 * The input is a keyfile, then, after a line `%%`, one `--set` assignment
 * a line (and `+NAME`/`-NAME` lines for --enable/--disable). Every group
 * and key of the result is read through every typed getter; nothing may
 * raise a GLib critical or warning (a fatal finding here), and every error
 * must be in the configuration domain.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fuzz-common.h"

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_init_glib ();
  return 0;
}

static void
check_error (GError *error)
{
  FUZZ_CHECK (error == NULL || error->domain == ORRERY_CONFIG_ERROR, "%s", error->message);
  FUZZ_CHECK (error == NULL || g_utf8_validate (error->message, -1, NULL), "message not UTF-8");
}

static void
read_everything (OrreryConfig *config)
{
  g_auto(GStrv) groups = orrery_config_get_groups (config);
  g_auto(GStrv) plugins = orrery_config_get_plugin_names (config);

  for (guint i = 0; groups[i]; i++)
    {
      g_auto(GStrv) keys = orrery_config_get_keys (config, groups[i]);

      FUZZ_CHECK (orrery_config_has_group (config, groups[i]), "group %s", groups[i]);
      for (guint k = 0; keys[k]; k++)
        {
          g_autoptr(GError) e1 = NULL, e2 = NULL, e3 = NULL, e4 = NULL, e5 = NULL;
          g_autofree char *s = orrery_config_get_string (config, groups[i], keys[k], NULL);
          g_autofree char *origin = orrery_config_get_origin (config, groups[i], keys[k]);
          g_auto(GStrv) list = orrery_config_get_string_list (config, groups[i], keys[k]);

          FUZZ_CHECK (origin != NULL, "no origin for [%s] %s", groups[i], keys[k]);
          orrery_config_get_boolean (config, groups[i], keys[k], FALSE, &e1);
          orrery_config_get_int (config, groups[i], keys[k], 0, &e2);
          orrery_config_get_uint (config, groups[i], keys[k], 0, &e3);
          orrery_config_get_double (config, groups[i], keys[k], 0, &e4);
          check_error (e1);
          check_error (e2);
          check_error (e3);
          check_error (e4);
          orrery_config_check_overrides (config, &e5);
          check_error (e5);
        }
    }
  for (guint i = 0; plugins[i]; i++)
    {
      g_autofree char *group = orrery_config_plugin_group (plugins[i]);

      FUZZ_CHECK (orrery_config_has_group (config, group), "plugin group %s", group);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autofree char *text = g_strndup ((const char *) data, size);
  g_autoptr(OrreryConfig) config = orrery_config_new ();
  g_autoptr(GError) error = NULL;
  char *split = strstr (text, "\n%%\n");
  g_auto(GStrv) lines = NULL;

  if (split)
    {
      *split = '\0';
      lines = g_strsplit (split + 4, "\n", -1);
    }
  if (!orrery_config_load_data (config, text, "fuzz.conf", &error))
    {
      check_error (error);
      g_clear_error (&error);
    }
  for (guint i = 0; lines && lines[i]; i++)
    {
      if (lines[i][0] == '+' || lines[i][0] == '-')
        {
          /* As the host does --enable and --disable. */
          g_autofree char *assignment = g_strdup_printf ("[Plugin %s].Enabled=%s", lines[i] + 1,
                                                         lines[i][0] == '+' ? "true" : "false");

          orrery_config_parse_override (config, assignment, &error);
        }
      else
        orrery_config_parse_override (config, lines[i], &error);
      check_error (error);
      g_clear_error (&error);
    }
  read_everything (config);
  return 0;
}
