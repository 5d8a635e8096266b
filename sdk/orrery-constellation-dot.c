/* orrery-constellation-dot.c: a constellation as Graphviz DOT, in one
 * style for `orrery show --format dot`, the visualizer's DOT files and
 * scripts.
 *
 * The style:
 *
 * - the graph is named after the constellation's id and titled with its
 *   name (with ORRERY_DOT_STATUS: "NAME (STATE, version N)"), drawn top to
 *   bottom (ORRERY_DOT_LEFT_TO_RIGHT: left to right), Helvetica;
 * - a task is a rounded box labelled with its id and its name; a critical
 *   task has a thicker border; with ORRERY_DOT_STATUS it is filled by
 *   status (`white` pending or waiting, `gold` running, `palegreen`
 *   completed, `tomato` failed with a red border, `orange` cancelled,
 *   `lightblue` skipped), has its status as tooltip and, once finished, its
 *   duration as a third line;
 * - an edge's style says its kind: `solid` unconditional, `bold`
 *   success-only, `dashed` completion-only, `dotted` conditional (labelled
 *   with its condition); its tooltip names the kind;
 * - with ORRERY_DOT_LAYERS the tasks of one layer share a rank;
 * - with ORRERY_DOT_TEMPLATE the state is left out but its room is kept:
 *   every task as pending, a fixed-width third line where the duration
 *   goes (digits have one width in Helvetica, as in nearly every font),
 *   the title's state and version as the widest ones, and ids (taskN,
 *   depN: from indices, never from user text, so that they need no
 *   escaping) by which the SVG's elements are found and patched.
 *
 * User text (ids, names, conditions) is escaped as on a terminal first
 * (orrery_escape_for_terminal(): valid UTF-8 with no control character,
 * which Graphviz needs and the SVG it writes must not hold, since XML
 * forbids most C0 controls), then for DOT: a quote and a backslash get a
 * backslash, so that neither ends the string nor becomes one of Graphviz's
 * label escapes (\N, \G, \l...). The mapping is one to one: node names
 * stay distinct.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-Constellation"

#include <string.h>

#include "orrery-private.h"
#include "orrery-constellation-private.h"

/* ORRERY_DOT_TEMPLATE's slots. The duration's holds "%.2fs" up to 99999.99
 * s; the title's state is the widest nick (partially-failed: 16
 * characters, the next longest has 9) and the version six digits, or
 * more if it has more. Documented in
 * orrery-constellation-dot.h: a program that patches the SVG looks for
 * them. */
#define TEMPLATE_DURATION     "00000.00s"
#define TEMPLATE_STATE        "partially-failed"
#define TEMPLATE_VERSION_MIN  6

static void
append_escaped (GString    *s,
                const char *text)
{
  g_autofree char *escaped = NULL;

  if (text == NULL)
    return;
  if (!orrery_text_is_terminal_safe (text, -1))
    text = escaped = orrery_escape_for_terminal (text, -1);
  /* Runs without a quote or a backslash in one append each. */
  for (const char *p = text; *p; )
    {
      size_t run = strcspn (p, "\"\\");

      g_string_append_len (s, p, (gssize) run);
      p += run;
      if (*p == '\0')
        break;
      g_string_append_c (s, '\\');
      g_string_append_c (s, *p++);
    }
}

static void
append_quoted (GString    *s,
               const char *text)
{
  g_string_append_c (s, '"');
  append_escaped (s, text);
  g_string_append_c (s, '"');
}

/**
 * orrery_task_status_to_dot_color:
 * @status: a task status
 *
 * The fill colour #ORRERY_DOT_STATUS gives a task of @status: an X11
 * colour name, which Graphviz writes unchanged into an SVG's `fill`
 * attribute, so a program that patches a drawing laid out with
 * #ORRERY_DOT_TEMPLATE colours it exactly as orrery_constellation_to_dot()
 * would.
 *
 * Returns: (transfer none): `white` (pending or waiting), `gold`
 *   (running), `palegreen` (completed), `tomato` (failed), `orange`
 *   (cancelled) or `lightblue` (skipped)
 */
const char *
orrery_task_status_to_dot_color (OrreryTaskStatus status)
{
  switch (status)
    {
    case ORRERY_TASK_STATUS_RUNNING:   return "gold";
    case ORRERY_TASK_STATUS_COMPLETED: return "palegreen";
    case ORRERY_TASK_STATUS_FAILED:    return "tomato";
    case ORRERY_TASK_STATUS_CANCELLED: return "orange";
    case ORRERY_TASK_STATUS_SKIPPED:   return "lightblue";
    case ORRERY_TASK_STATUS_PENDING:
    case ORRERY_TASK_STATUS_WAITING_DEPENDENCY:
    default:                           return "white";
    }
}

static const char *
edge_style (OrreryDependencyType type)
{
  switch (type)
    {
    case ORRERY_DEPENDENCY_SUCCESS_ONLY:    return "bold";
    case ORRERY_DEPENDENCY_COMPLETION_ONLY: return "dashed";
    case ORRERY_DEPENDENCY_CONDITIONAL:     return "dotted";
    case ORRERY_DEPENDENCY_UNCONDITIONAL:
    default:                                return "solid";
    }
}

static void
append_header (GString             *s,
               OrreryConstellation *c,
               OrreryDotFlags       flags)
{
  g_string_append (s, "digraph ");
  append_quoted (s, orrery_constellation_get_id (c));
  g_string_append_printf (s, " {\n  graph [rankdir=%s, labelloc=t, fontname=\"Helvetica\", label=\"",
                          flags & ORRERY_DOT_LEFT_TO_RIGHT ? "LR" : "TB");
  append_escaped (s, orrery_constellation_get_name (c));
  if (flags & ORRERY_DOT_TEMPLATE)
    {
      char digits[24];
      int n = g_snprintf (digits, sizeof digits, "%" G_GUINT64_FORMAT, orrery_constellation_get_version (c));

      g_string_append (s, " (" TEMPLATE_STATE ", version ");
      for (int i = 0; i < MAX (n, TEMPLATE_VERSION_MIN); i++)
        g_string_append_c (s, '0');
      g_string_append_c (s, ')');
    }
  else if (flags & ORRERY_DOT_STATUS)
    g_string_append_printf (s, " (%s, version %" G_GUINT64_FORMAT ")",
                            orrery_constellation_state_to_nick (orrery_constellation_get_state (c)),
                            orrery_constellation_get_version (c));
  g_string_append (s, "\"];\n  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\"];\n"
                      "  edge [fontname=\"Helvetica\", fontsize=10];\n");
}

static void
append_task (GString        *s,
             OrreryTask     *t,
             guint           index,
             OrreryDotFlags  flags)
{
  gboolean template = (flags & ORRERY_DOT_TEMPLATE) != 0;
  OrreryTaskStatus st = template ? ORRERY_TASK_STATUS_PENDING : orrery_task_get_status (t);
  gboolean status = template || (flags & ORRERY_DOT_STATUS) != 0;
  gboolean failed = status && st == ORRERY_TASK_STATUS_FAILED;

  g_string_append (s, "  ");
  append_quoted (s, orrery_task_get_id (t));
  if (template)
    g_string_append_printf (s, " [id=\"task%u\", label=\"", index);
  else
    g_string_append (s, " [label=\"");
  append_escaped (s, orrery_task_get_id (t));
  g_string_append (s, "\\n");
  append_escaped (s, orrery_task_get_name (t));
  if (template)
    g_string_append (s, "\\n" TEMPLATE_DURATION);
  else if (status && (st == ORRERY_TASK_STATUS_COMPLETED || st == ORRERY_TASK_STATUS_FAILED))
    {
      char seconds[G_ASCII_DTOSTR_BUF_SIZE];

      /* With a '.' whatever the locale: DOT is read back by dot. */
      g_string_append (s, "\\n");
      g_string_append (s, g_ascii_formatd (seconds, sizeof seconds, "%.2f",
                                           orrery_task_get_duration (t)));
      g_string_append_c (s, 's');
    }
  g_string_append (s, "\", fillcolor=\"");
  g_string_append (s, status ? orrery_task_status_to_dot_color (st) : "white");
  g_string_append_c (s, '"');
  if (failed)
    g_string_append (s, ", color=\"red\"");
  if (failed || orrery_task_get_priority (t) == ORRERY_TASK_PRIORITY_CRITICAL)
    g_string_append (s, ", penwidth=2");
  if (status)
    {
      g_string_append (s, ", tooltip=\"status: ");
      g_string_append (s, orrery_task_status_to_nick (st));
      g_string_append_c (s, '"');
    }
  g_string_append (s, "];\n");
}

static void
append_layers (GString             *s,
               OrreryConstellation *c)
{
  g_autofree OrreryTask **by_layer = NULL;
  g_autofree gsize *ends = NULL;
  guint n_layers;
  gsize first = 0;

  /* What orrery_constellation_get_layers() gives, without its GVariant. */
  if (!_orrery_constellation_layers (c, &by_layer, &ends, &n_layers, NULL))
    return;
  for (guint d = 0; d < n_layers; d++)
    {
      g_string_append (s, "  { rank=same;");
      for (gsize i = first; i < ends[d]; i++)
        {
          g_string_append_c (s, ' ');
          append_quoted (s, orrery_task_get_id (by_layer[i]));
          g_string_append_c (s, ';');
        }
      g_string_append (s, " };\n");
      first = ends[d];
    }
}

static void
append_dependency (GString          *s,
                   OrreryDependency *d,
                   guint             index,
                   OrreryDotFlags    flags)
{
  OrreryDependencyType type = orrery_dependency_get_dependency_type (d);

  g_string_append (s, "  ");
  append_quoted (s, orrery_dependency_get_from_task_id (d));
  g_string_append (s, " -> ");
  append_quoted (s, orrery_dependency_get_to_task_id (d));
  if (flags & ORRERY_DOT_TEMPLATE)
    g_string_append_printf (s, " [id=\"dep%u\", style=", index);
  else
    g_string_append (s, " [style=");
  g_string_append (s, edge_style (type));
  g_string_append (s, ", tooltip=\"");
  g_string_append (s, orrery_dependency_type_to_nick (type));
  g_string_append_c (s, '"');
  if (type == ORRERY_DEPENDENCY_CONDITIONAL && orrery_dependency_get_condition (d) != NULL)
    {
      g_autofree char *cond = orrery_condition_to_string (orrery_dependency_get_condition (d));

      g_string_append (s, ", label=");
      append_quoted (s, cond);
    }
  g_string_append (s, "];\n");
}

/**
 * orrery_constellation_to_dot:
 * @self: a constellation
 * @flags: what to show besides the graph
 *
 * Writes @self as a Graphviz DOT graph, in the one style of Orrery (`orrery
 * show --format dot` and the visualizer's files write exactly this): tasks
 * as rounded boxes labelled with their id and name (a critical task with a
 * thicker border), edges styled by kind (`solid` unconditional, `bold`
 * success-only, `dashed` completion-only, `dotted` conditional, labelled
 * with its condition). @flags add the run's state (#ORRERY_DOT_STATUS: a
 * colour per status, `tomato` for failed, durations), one rank per layer
 * (#ORRERY_DOT_LAYERS) and the direction (#ORRERY_DOT_LEFT_TO_RIGHT; top
 * to bottom otherwise); #ORRERY_DOT_TEMPLATE writes instead a graph whose
 * layout the run's state cannot change, with slots and ids where an SVG
 * of it is to be patched (see #OrreryDotFlags). User text is escaped for
 * the terminal, then for DOT, so that no file can inject DOT or control
 * characters.
 *
 * Returns: (transfer full): the DOT text
 */
char *
orrery_constellation_to_dot (OrreryConstellation *self,
                             OrreryDotFlags       flags)
{
  g_autoptr(GPtrArray) tasks = NULL;
  g_autoptr(GPtrArray) deps = NULL;
  GString *s;

  g_return_val_if_fail (ORRERY_IS_CONSTELLATION (self), NULL);

  tasks = orrery_constellation_get_tasks (self);
  deps = orrery_constellation_get_dependencies (self);
  s = g_string_sized_new (128 + 96 * (tasks->len + deps->len));
  append_header (s, self, flags);
  for (guint i = 0; i < tasks->len; i++)
    append_task (s, tasks->pdata[i], i, flags);
  if (flags & ORRERY_DOT_LAYERS)
    append_layers (s, self);
  for (guint i = 0; i < deps->len; i++)
    append_dependency (s, deps->pdata[i], i, flags);
  g_string_append (s, "}\n");
  return g_string_free (s, FALSE);
}
