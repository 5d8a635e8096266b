/* orrery-cmd-show.c: `orrery show FILE [--format text|dot|json]`.
 *
 * text: the DAG by layers (depth from the sources) with status and
 * priority; dot: Graphviz; json: the normalised JSON Orrery writes.
 * User data never reaches the terminal raw: text escapes it
 * (orrery_escape_for_terminal()), DOT is the SDK's
 * (orrery_constellation_to_dot(), which escapes it so and then for DOT's
 * quoted strings), JSON writes the characters a terminal would act on as
 * \uXXXX escapes (the same JSON).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <orrery.h>

#include "orrery-host.h"

static const char *
status_mark (OrreryTaskStatus s)
{
  static const char *const marks[] = { "·", "…", "▶", "✔", "✘", "⊘", "↷" };
  return marks[s];
}

/* User data for text output. */
static char *
esc (const char *s)
{
  return orrery_escape_for_terminal (s ? s : "", -1);
}

/* Whether a character of JSON text must not reach a terminal raw: json-glib
 * escapes C0 controls, not DEL, C1 controls (8-bit CSI, OSC), the
 * bidirectional controls or the line separators. */
static gboolean
json_needs_escape (gunichar c)
{
  return c == 0x7f || (c >= 0x80 && c <= 0x9f) || (c >= 0x202a && c <= 0x202e) ||
         (c >= 0x2066 && c <= 0x2069) || c == 0x2028 || c == 0x2029 || c == 0x200e ||
         c == 0x200f || c == 0x061c;
}

/* The JSON text with those characters as \uXXXX escapes: the same JSON.
 * They only occur inside strings (the structure is ASCII). */
static char *
json_for_terminal (const char *json)
{
  GString *out = g_string_sized_new (strlen (json));

  for (const char *p = json; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (json_needs_escape (c))
        g_string_append_printf (out, "\\u%04x", c);
      else
        g_string_append_len (out, p, g_utf8_next_char (p) - p);
    }
  return g_string_free (out, FALSE);
}

/* An error message, one line at a time. */
static void
print_error (const char *prefix,
             const char *message)
{
  g_auto(GStrv) lines = g_strsplit (message, "\n", -1);
  g_autofree char *safe_prefix = prefix ? orrery_escape_for_terminal (prefix, -1) : NULL;

  for (guint i = 0; lines[i]; i++)
    {
      g_autofree char *line = safe_prefix ? g_strdup_printf ("%s: %s", safe_prefix, lines[i])
                                          : g_strdup (lines[i]);

      orrery_host_print_escaped_line (line);
    }
}

static char *
edge_label (OrreryDependency *d)
{
  OrreryCondition *c = orrery_dependency_get_condition (d);

  if (c)
    return orrery_condition_to_string (c);
  return g_strdup (orrery_dependency_type_to_nick (orrery_dependency_get_dependency_type (d)));
}

static void
show_text (OrreryConstellation *c,
           GVariant            *layers)
{
  GVariantIter it;
  GVariant *layer;
  guint depth = 0;
  g_autoptr(GVariant) stats = orrery_constellation_get_statistics (c);
  guint width = 0, longest = 0;
  g_autofree char *cname = esc (orrery_constellation_get_name (c));
  g_autofree char *cid = esc (orrery_constellation_get_id (c));

  g_variant_lookup (stats, "max_width", "u", &width);
  g_variant_lookup (stats, "longest_path_length", "u", &longest);

  g_print ("%s (%s) — %s, %u tasks, %u dependencies, %u layers, width %u\n",
           cname, cid,
           orrery_constellation_state_to_nick (orrery_constellation_get_state (c)),
           orrery_constellation_get_n_tasks (c), orrery_constellation_get_n_dependencies (c),
           longest, width);
  g_variant_iter_init (&it, layers);
  while (g_variant_iter_loop (&it, "@as", &layer))
    {
      GVariantIter ids;
      const char *id;

      g_print ("layer %u\n", depth++);
      g_variant_iter_init (&ids, layer);
      while (g_variant_iter_next (&ids, "&s", &id))
        {
          OrreryTask *t = orrery_constellation_get_task (c, id);
          g_autoptr(GPtrArray) pre = orrery_constellation_get_prerequisites (c, id);
          GString *after = g_string_new (NULL);

          g_autofree char *sid = esc (id);
          g_autofree char *sname = strcmp (orrery_task_get_name (t), id) ? esc (orrery_task_get_name (t))
                                                                        : g_strdup ("");

          for (guint k = 0; k < pre->len; k++)
            {
              g_autofree char *label = edge_label (pre->pdata[k]);
              g_string_append (after, k ? ", " : " ← ");
              orrery_string_append_escaped (after, orrery_dependency_get_from_task_id (pre->pdata[k]), -1);
              g_string_append (after, " [");
              orrery_string_append_escaped (after, label, -1);
              g_string_append (after, "]");
            }
          g_print ("  %s %-20s %-10s %-8s %s%s\n", status_mark (orrery_task_get_status (t)), sid,
                   orrery_task_status_to_nick (orrery_task_get_status (t)),
                   orrery_task_priority_to_nick (orrery_task_get_priority (t)),
                   sname, after->str);
          g_string_free (after, TRUE);
        }
    }
}

/* Orrery's one DOT style (orrery_constellation_to_dot()), as the
 * visualizer writes it: statuses (those the file holds) and layers. */
static void
show_dot (OrreryConstellation *c)
{
  g_autofree char *text = orrery_constellation_to_dot (c, ORRERY_DOT_STATUS | ORRERY_DOT_LAYERS);

  g_print ("%s", text);
}

int
orrery_host_cmd_show (int    argc,
                      char **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("FILE — show a constellation");
  g_autoptr(GError) error = NULL;
  g_autofree char *format = NULL;
  g_autoptr(OrreryConstellation) c = NULL;
  g_autoptr(GVariant) layers = NULL;
  const GOptionEntry entries[] = {
    { "format", 'f', 0, G_OPTION_ARG_STRING, &format, "Output format: text (default), dot or json", "FORMAT" },
    { NULL }
  };

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context, "Exit status: 0 shown, 3 invalid constellation, 2 usage error.");
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      orrery_host_usage_error (context, "show", error->message);
      return ORRERY_EXIT_USAGE;
    }
  if (argc != 2)
    {
      orrery_host_usage_error (context, "show", "give exactly one file (“-”: standard input)");
      return ORRERY_EXIT_USAGE;
    }
  if (format && !g_strv_contains ((const char *const[]) { "text", "dot", "json", NULL }, format))
    {
      g_printerr ("orrery show: unknown format “%s” (text, dot or json)\n", format);
      return ORRERY_EXIT_USAGE;
    }
  c = orrery_host_load_constellation (argv[1], &error);
  if (c == NULL)
    {
      print_error (NULL, error->message);
      return ORRERY_EXIT_INVALID;
    }
  if (format == NULL || g_str_equal (format, "text"))
    {
      layers = orrery_constellation_get_layers (c, &error);
      if (layers == NULL)
        {
          print_error (argv[1], error->message);
          return ORRERY_EXIT_INVALID;
        }
      show_text (c, layers);
    }
  else if (g_str_equal (format, "dot"))
    show_dot (c);
  else
    {
      g_autofree char *data = orrery_constellation_to_data (c, NULL);
      g_autofree char *safe = json_for_terminal (data);

      g_print ("%s\n", safe);
    }
  return ORRERY_EXIT_OK;
}
