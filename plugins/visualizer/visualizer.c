/* visualizer.c: the visualizer plugin.
 *
 * On a terminal, a live view of the run redrawn in place: the DAG by
 * layers with a status mark per task and the kinds of its incoming edges,
 * the running tasks with their device and elapsed time, and a progress bar
 * with counts. Redraws are coalesced: an event only marks the view dirty
 * and arms a timer (at most RefreshRate frames a second); a frame is one
 * write that moves the cursor up over the previous frame and rewrites each
 * line followed by "clear to end of line", so nothing flickers.
 *
 * Not on a terminal (a pipe, a file, CI): one plain line per event.
 *
 * In both cases, and also with no text output at all, it writes the
 * constellation as Graphviz DOT into OutputDir when the run starts, after
 * every modification and when it ends, and an SVG of it when `dot` is on
 * PATH: a template laid out by `dot` in the background (asynchronously, one
 * process at a time) when the graph's structure is new, patched with the
 * run's state (see "The template" below).
 *
 * With no text output and no format, it subscribes to nothing: it costs
 * nothing per event.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <orrery.h>

#define DEFAULT_OUTPUT_DIR "orrery-output"
#define RUNNING_TICK_MS 250

typedef struct
{
  char   *device;
  gint64  started_us;    /* event time (real time) */
  gint64  started_mono;  /* for the live view's elapsed time */
  guint   attempt;
} Running;

/* A task that failed an attempt and waits for its retry: its status is
 * still running in the constellation, but nothing runs. */
typedef struct
{
  char   *device;
  gint64  retry_mono;    /* when the next attempt is due (monotonic) */
  guint   next_attempt;
} Retrying;

/* An SVG of the graph, laid out once, with where the state goes. */
typedef struct _Template Template;

typedef struct
{
  gatomicrefcount      ref;
  gboolean             shut_down;

  /* Configuration */
  char                *output_dir;
  gboolean             want_dot;
  gboolean             want_svg;
  char                *dot_program;
  gboolean             live;
  gboolean             lines;
  gboolean             color;
  guint                frame_ms;
  int                  fd;          /* text output */
  FILE                *out;
  gboolean             own_out;
  gboolean             out_is_tty;
  GSource             *flush_source; /* lines not on a terminal: flushed by it */

  /* State of the run */
  OrreryConstellation *constellation;
  GHashTable          *running;     /* task id -> Running */
  GHashTable          *retrying;    /* task id -> Retrying */
  GVariant            *layers;      /* cache, dropped on modification */
  gint64               run_start_mono;
  gboolean             run_over;
  char                *final_text;  /* how the run ended */

  /* Live view */
  GSource             *timer;
  gboolean             dirty;
  gint64               last_frame_mono;
  guint                frame_lines;
  guint64              n_frames;
  gboolean             cursor_hidden;

  /* DOT and SVG */
  guint                dot_timeout_s;
  guint                svg_max_nodes;
  gboolean             svg_skip_said;   /* this run's graph is too large: said so */
  guint                n_dot_written;
  GSubprocess         *dot_proc;
  GSource             *dot_deadline;
  gboolean             dot_killed;
  char                *svg_pending;   /* DOT file waiting for a render */
  gboolean             svg_pending_ascii;  /* its text is all ASCII */
  char                *svg_running;   /* DOT file being rendered */
  char                *dot_label;     /* the run's DOT file, as messages name it */
  gboolean             svg_full;      /* the pending DOT file needs a full render */
  char                *svg_dot_file;  /* the run's DOT file (OutputDir) */
  OrreryConstellation *svg_constellation;  /* the graph of the pending SVG */

  /* The SVG's template (ORRERY_DOT_TEMPLATE): rendered once per structure,
   * patched with the state */
  char                *work_dir;      /* private (0700): its DOT and SVG files */
  char                *tpl_dot;       /* the template of the graph now */
  guint                tpl_n_tasks;   /* its tasks */
  gboolean             tpl_ascii;     /* its text is all ASCII */
  char                *tpl_name;      /* its file's name in work_dir */
  char                *tpl_file;      /* the file of the last one rendered */
  gboolean             tpl_pending;   /* it waits for a render */
  char                *tpl_running;   /* the one dot_proc renders, if it does */
  guint                tpl_running_n;
  Template            *tpl;           /* the last one rendered, indexed */
  gboolean             gv_tried;      /* gv_dir was looked for */
  char                *gv_dir;        /* GVBINDIR of the core plugins, or NULL */
  GSource             *svg_defer;     /* the first render of a run, waiting */
} Visualizer;

/* A run's first SVG is rendered once the run has lasted this long: a
 * short run gets only its final render (`dot` takes ~0.1 s of CPU for
 * 1000 tasks, the cores the tasks run on). */
#define SVG_FIRST_DELAY_MS 2000

/* Lines to a file or a pipe are flushed within this time, not one write
 * per event (a terminal still gets each line at once). */
#define LINES_FLUSH_MS 100

/* The private Graphviz configuration goes (at shutdown, once the last
 * render is over). */
static void
gv_remove (Visualizer *v)
{
  g_autofree char *config = NULL;

  if (v->gv_dir == NULL)
    return;
  config = g_build_filename (v->gv_dir, "config6a", NULL);
  g_remove (config);
  g_rmdir (v->gv_dir);
  g_clear_pointer (&v->gv_dir, g_free);
}

static void template_free (Template *t);
static void work_dir_remove (Visualizer *v);

static Visualizer *
visualizer_ref (Visualizer *v)
{
  g_atomic_ref_count_inc (&v->ref);
  return v;
}

static void
visualizer_unref (Visualizer *v)
{
  if (!g_atomic_ref_count_dec (&v->ref))
    return;
  g_clear_pointer (&v->running, g_hash_table_unref);
  g_clear_pointer (&v->retrying, g_hash_table_unref);
  g_clear_pointer (&v->layers, g_variant_unref);
  g_clear_object (&v->constellation);
  g_clear_object (&v->dot_proc);
  if (v->dot_deadline != NULL)
    {
      g_source_destroy (v->dot_deadline);
      g_source_unref (v->dot_deadline);
    }
  if (v->svg_defer != NULL)
    {
      g_source_destroy (v->svg_defer);
      g_source_unref (v->svg_defer);
    }
  if (v->flush_source != NULL)
    {
      g_source_destroy (v->flush_source);
      g_source_unref (v->flush_source);
    }
  g_free (v->svg_pending);
  g_free (v->svg_running);
  g_free (v->dot_label);
  g_free (v->svg_dot_file);
  g_clear_object (&v->svg_constellation);
  g_free (v->tpl_dot);
  g_free (v->tpl_name);
  g_free (v->tpl_running);
  g_clear_pointer (&v->tpl, template_free);
  work_dir_remove (v);
  g_free (v->tpl_file);
  gv_remove (v);
  g_free (v->final_text);
  g_free (v->output_dir);
  g_free (v->dot_program);
  if (v->own_out && v->out != NULL)
    fclose (v->out);
  g_free (v);
}

static void
running_free (gpointer data)
{
  Running *r = data;

  g_free (r->device);
  g_free (r);
}

static void
retrying_free (gpointer data)
{
  Retrying *r = data;

  g_free (r->device);
  g_free (r);
}

/* ------------------------------------------------------------------------ */
/* Colours and marks */

#define C_RESET  "\033[0m"
#define C_DIM    "\033[2m"
#define C_BOLD   "\033[1m"
#define C_RED    "\033[31m"
#define C_GREEN  "\033[32m"
#define C_YELLOW "\033[33m"
#define C_BLUE   "\033[34m"
#define C_CYAN   "\033[36m"

static const char *
status_mark (OrreryTaskStatus status)
{
  switch (status)
    {
    case ORRERY_TASK_STATUS_PENDING:            return "·";
    case ORRERY_TASK_STATUS_WAITING_DEPENDENCY: return "·";
    case ORRERY_TASK_STATUS_RUNNING:            return "▶";
    case ORRERY_TASK_STATUS_COMPLETED:          return "✔";
    case ORRERY_TASK_STATUS_FAILED:             return "✘";
    case ORRERY_TASK_STATUS_CANCELLED:          return "⊘";
    case ORRERY_TASK_STATUS_SKIPPED:            return "↷";
    default:                                    return "?";
    }
}

/* A running task waiting for its next attempt. */
#define RETRY_MARK "⟳"

static const char *
status_color (OrreryTaskStatus status)
{
  switch (status)
    {
    case ORRERY_TASK_STATUS_RUNNING:   return C_YELLOW C_BOLD;
    case ORRERY_TASK_STATUS_COMPLETED: return C_GREEN;
    case ORRERY_TASK_STATUS_FAILED:    return C_RED C_BOLD;
    case ORRERY_TASK_STATUS_CANCELLED: return C_RED;
    case ORRERY_TASK_STATUS_SKIPPED:   return C_BLUE;
    case ORRERY_TASK_STATUS_PENDING:
    case ORRERY_TASK_STATUS_WAITING_DEPENDENCY:
    default:                           return C_DIM;
    }
}

/* One character per edge kind in the live view. */
static char
edge_char (OrreryDependencyType type)
{
  switch (type)
    {
    case ORRERY_DEPENDENCY_SUCCESS_ONLY:    return 's';
    case ORRERY_DEPENDENCY_COMPLETION_ONLY: return 'c';
    case ORRERY_DEPENDENCY_CONDITIONAL:     return '?';
    case ORRERY_DEPENDENCY_UNCONDITIONAL:
    default:                                return 'u';
    }
}

/* ------------------------------------------------------------------------ */
/* A line of the live view, cut at the terminal's width. */

typedef struct
{
  GString  *s;
  guint     col;
  guint     width;
  gboolean  color;
  gboolean  full;
} Line;

/* The terminal columns a character takes: 2 for wide (CJK, fullwidth,
 * most emoji), 0 for combining marks and other zero-width ones, else 1. */
static guint
char_columns (gunichar c)
{
  if (c < 0x300)
    return 1;   /* ASCII and Latin-1 (controls are escaped before) */
  if (g_unichar_iszerowidth (c))
    return 0;
  return g_unichar_iswide (c) ? 2 : 1;
}

/* The columns @text takes on a terminal (not its bytes, nor its code
 * points: a CJK character takes two). */
static guint
text_columns (const char *text)
{
  guint n = 0;
  const char *p = text;

  /* ASCII, nearly all text: one column a byte. */
  while (*p != '\0' && (guchar) *p < 0x80)
    p++;
  n = (guint) (p - text);
  for (; *p != '\0'; p = g_utf8_next_char (p))
    n += char_columns (g_utf8_get_char (p));
  return n;
}

static void
line_add (Line       *l,
          const char *color,
          const char *text)
{
  guint n;

  if (l->full || text == NULL)
    return;
  n = text_columns (text);
  if (l->color && color != NULL)
    g_string_append (l->s, color);
  if (l->col + n > l->width)
    {
      /* Cut, with an ellipsis in the last column: as many whole characters
       * as fit before it (a wide one that would straddle it is left out). */
      guint room = l->width > l->col ? l->width - l->col - 1 : 0;
      guint used = 0;
      const char *end = text;

      if (l->col >= l->width)
        {
          /* Full to the last column: no room even for the ellipsis. */
          if (l->color && color != NULL)
            g_string_append (l->s, C_RESET);
          l->full = TRUE;
          return;
        }

      while (*end != '\0')
        {
          guint w = char_columns (g_utf8_get_char (end));

          if (used + w > room)
            break;
          used += w;
          end = g_utf8_next_char (end);
        }
      g_string_append_len (l->s, text, end - text);
      g_string_append (l->s, "…");
      l->col += used + 1;
      l->full = TRUE;
    }
  else
    {
      g_string_append (l->s, text);
      l->col += n;
    }
  if (l->color && color != NULL)
    g_string_append (l->s, C_RESET);
}

static void
line_addf (Line       *l,
           const char *color,
           const char *format,
           ...) G_GNUC_PRINTF (3, 4);

static void
line_addf (Line       *l,
           const char *color,
           const char *format,
           ...)
{
  g_autofree char *text = NULL;
  va_list ap;

  va_start (ap, format);
  text = g_strdup_vprintf (format, ap);
  va_end (ap);
  line_add (l, color, text);
}

/* User data (ids, names, devices) as the terminal may show it: control
 * characters, escape sequences and bidirectional overrides escaped. Text
 * that needs nothing (nearly all of it) is not copied. */
static void
line_add_user (Line       *l,
               const char *color,
               const char *text)
{
  g_autofree char *escaped = NULL;

  if (text == NULL || orrery_text_is_terminal_safe (text, -1))
    {
      line_add (l, color, text);
      return;
    }
  escaped = orrery_escape_for_terminal (text, -1);
  line_add (l, color, escaped);
}

static void
append_user (GString    *s,
             const char *text)
{
  if (text == NULL)
    return;
  if (orrery_text_is_terminal_safe (text, -1))
    g_string_append (s, text);
  else
    orrery_string_append_escaped (s, text, -1);
}

static void
frame_end_line (GString *frame,
                Line    *l,
                guint   *n_lines)
{
  g_string_append_len (frame, l->s->str, l->s->len);
  g_string_append (frame, "\033[K\n");
  g_string_truncate (l->s, 0);
  l->col = 0;
  l->full = FALSE;
  (*n_lines)++;
}

static void
terminal_size (int    fd,
               guint *cols,
               guint *rows)
{
  struct winsize ws;

  *cols = 80;
  *rows = 24;
  if (ioctl (fd, TIOCGWINSZ, &ws) == 0)
    {
      if (ws.ws_col > 10)
        *cols = ws.ws_col;
      if (ws.ws_row > 5)
        *rows = ws.ws_row;
    }
  else
    {
      /* Not a terminal (a file, a pipe): $COLUMNS and $LINES if set, as
       * curses programs take them. */
      const char *c = g_getenv ("COLUMNS");
      const char *r = g_getenv ("LINES");
      guint64 n;

      if (c != NULL && g_ascii_string_to_unsigned (c, 10, 11, 1000, &n, NULL))
        *cols = (guint) n;
      if (r != NULL && g_ascii_string_to_unsigned (r, 10, 6, 1000, &n, NULL))
        *rows = (guint) n;
    }
}

static void
write_all (int         fd,
           const char *data,
           gsize       len)
{
  while (len > 0)
    {
      gssize n = write (fd, data, len);

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return;  /* a closed terminal: nothing useful to do */
        }
      data += n;
      len -= n;
    }
}

static GVariant *
get_layers (Visualizer *v)
{
  if (v->layers == NULL && v->constellation != NULL)
    v->layers = orrery_constellation_get_layers (v->constellation, NULL);
  return v->layers;
}

static void
draw_task (Visualizer *v,
           Line       *l,
           const char *id)
{
  OrreryTask *task = orrery_constellation_get_task (v->constellation, id);
  OrreryTaskStatus status;
  g_autoptr(GPtrArray) pre = NULL;

  if (task == NULL)
    return;
  status = orrery_task_get_status (task);
  if (status == ORRERY_TASK_STATUS_RUNNING && g_hash_table_contains (v->retrying, id))
    line_add (l, C_YELLOW, RETRY_MARK);
  else
    line_add (l, status_color (status), status_mark (status));
  line_add (l, NULL, " ");
  line_add_user (l, status == ORRERY_TASK_STATUS_RUNNING ? C_BOLD : NULL, id);

  /* Its incoming edges: up to three by name, more as counts by kind. */
  pre = orrery_constellation_get_prerequisites (v->constellation, id);
  if (pre != NULL && pre->len > 0)
    {
      g_autoptr(GString) e = g_string_new ("←");

      if (pre->len <= 3)
        for (guint i = 0; i < pre->len; i++)
          {
            OrreryDependency *d = pre->pdata[i];

            if (i > 0)
              g_string_append_c (e, ',');
            append_user (e, orrery_dependency_get_from_task_id (d));
            g_string_append_printf (e, ":%c", edge_char (orrery_dependency_get_dependency_type (d)));
          }
      else
        {
          guint kinds[4] = { 0 };

          for (guint i = 0; i < pre->len; i++)
            kinds[MIN ((guint) orrery_dependency_get_dependency_type (pre->pdata[i]), 3u)]++;
          g_string_append_printf (e, "%u", pre->len);
          for (guint k = 0; k < 4; k++)
            if (kinds[k] > 0)
              g_string_append_printf (e, " %u%c", kinds[k], edge_char (k));
        }
      line_add (l, C_DIM, e->str);
    }
  line_add (l, NULL, "  ");
}

/* The legend: its entries on as many lines as the width needs, never cut
 * (at 80 columns and more, one line of marks and one of edges). */
static void
draw_legend (GString *frame,
             Line    *l,
             guint   *n_lines)
{
  static const char *const marks[] = {
    "marks:", "· pending", "▶ running", RETRY_MARK " to retry", "✔ done", "✘ failed",
    "↷ skipped", "⊘ cancelled", NULL
  };
  static const char *const edges[] = {
    "edges ←task:", "u unconditional", "s success-only", "c completion-only",
    "? conditional", NULL
  };
  const char *const *groups[] = { marks, edges };

  for (guint g = 0; g < G_N_ELEMENTS (groups); g++)
    {
      line_add (l, C_DIM, "    ");
      for (guint i = 0; groups[g][i] != NULL; i++)
        {
          guint w = text_columns (groups[g][i]) + (i > 0 ? 1 : 0);

          /* Another line when the entry does not fit (and the line has
           * one already: an entry wider than the screen is cut). */
          if (i > 0 && l->col + w > l->width)
            {
              frame_end_line (frame, l, n_lines);
              line_add (l, C_DIM, "      ");
              w--;
            }
          else if (i > 0)
            line_add (l, C_DIM, " ");
          line_add (l, C_DIM, groups[g][i]);
        }
      frame_end_line (frame, l, n_lines);
    }
}

static gint
compare_running (gconstpointer a,
                 gconstpointer b,
                 gpointer      user_data)
{
  GHashTable *running = user_data;
  const Running *ra = g_hash_table_lookup (running, *(const char * const *) a);
  const Running *rb = g_hash_table_lookup (running, *(const char * const *) b);

  if (ra->started_mono != rb->started_mono)
    return ra->started_mono < rb->started_mono ? -1 : 1;
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static gint
compare_retrying (gconstpointer a,
                  gconstpointer b,
                  gpointer      user_data)
{
  GHashTable *retrying = user_data;
  const Retrying *ra = g_hash_table_lookup (retrying, *(const char * const *) a);
  const Retrying *rb = g_hash_table_lookup (retrying, *(const char * const *) b);

  if (ra->retry_mono != rb->retry_mono)
    return ra->retry_mono < rb->retry_mono ? -1 : 1;
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static void
draw_frame (Visualizer *v)
{
  g_autoptr(GString) frame = g_string_new (NULL);
  Line l = { g_string_new (NULL), 0, 80, v->color, FALSE };
  guint cols, rows, n_lines = 0, max_lines, total, done, counts[ORRERY_TASK_STATUS_SKIPPED + 1] = { 0 };
  GVariant *layers;
  gint64 now = g_get_monotonic_time ();
  gdouble elapsed;

  if (v->constellation == NULL)
    {
      g_string_free (l.s, TRUE);
      return;
    }
  terminal_size (v->fd, &cols, &rows);
  l.width = cols - 1;
  max_lines = rows > 4 ? rows - 2 : rows;

  /* Back to the top of the previous frame. Auto-wrap is off while drawing:
   * a line wider than the terminal thinks (a glyph it draws two columns
   * wide) is clipped instead of wrapping, so the line count stays exact. */
  if (v->frame_lines > 0)
    g_string_append_printf (frame, "\r\033[%uA", v->frame_lines);
  g_string_append (frame, "\033[?7l");
  if (!v->cursor_hidden)
    {
      g_string_append (frame, "\033[?25l");
      v->cursor_hidden = TRUE;
    }

  elapsed = (now - v->run_start_mono) / (gdouble) G_USEC_PER_SEC;
  line_add (&l, C_BOLD C_CYAN, "Orrery ");
  line_add_user (&l, C_BOLD, orrery_constellation_get_id (v->constellation));
  line_add (&l, NULL, " — ");
  line_add_user (&l, NULL, orrery_constellation_get_name (v->constellation));
  line_addf (&l, C_DIM, "  %.1fs", elapsed);
  if (v->final_text != NULL)
    line_addf (&l, NULL, "  %s", v->final_text);
  frame_end_line (frame, &l, &n_lines);

  /* The DAG by layers. Each layer is one line; layers past the screen are
   * summed up in one line. */
  layers = get_layers (v);
  if (layers != NULL)
    {
      gsize n_layers = g_variant_n_children (layers);
      guint room = max_lines > 8 ? max_lines - 8 : 1;

      for (gsize i = 0; i < n_layers; i++)
        {
          g_autoptr(GVariant) layer = g_variant_get_child_value (layers, i);
          g_autofree const char **ids = g_variant_get_strv (layer, NULL);

          if (i + 1 > room && i + 1 < n_layers)
            {
              line_addf (&l, C_DIM, "  … %" G_GSIZE_FORMAT " more layers", n_layers - i);
              frame_end_line (frame, &l, &n_lines);
              break;
            }
          line_addf (&l, C_DIM, "L%-2" G_GSIZE_FORMAT " ", i);
          for (guint j = 0; ids[j] != NULL && !l.full; j++)
            draw_task (v, &l, ids[j]);
          frame_end_line (frame, &l, &n_lines);
        }
    }
  draw_legend (frame, &l, &n_lines);

  /* The running tasks, oldest first. */
  {
    g_autofree gpointer *keys = NULL;
    guint n_running = 0;
    guint shown;

    keys = g_hash_table_get_keys_as_array (v->running, &n_running);
    g_qsort_with_data (keys, n_running, sizeof (gpointer), compare_running, v->running);
    line_addf (&l, C_BOLD, "Running (%u)", n_running);
    frame_end_line (frame, &l, &n_lines);
    shown = MIN (n_running, 5u);
    for (guint i = 0; i < shown; i++)
      {
        const Running *r = g_hash_table_lookup (v->running, keys[i]);

        line_add (&l, C_YELLOW, "  ▶ ");
        line_add_user (&l, NULL, keys[i]);
        line_add (&l, C_DIM, " on ");
        line_add_user (&l, C_DIM, r->device ? r->device : "?");
        line_addf (&l, NULL, "  %.1fs", (now - r->started_mono) / (gdouble) G_USEC_PER_SEC);
        if (r->attempt > 1)
          line_addf (&l, C_YELLOW, "  (attempt %u)", r->attempt);
        frame_end_line (frame, &l, &n_lines);
      }
    if (n_running > shown)
      {
        line_addf (&l, C_DIM, "  … and %u more", n_running - shown);
        frame_end_line (frame, &l, &n_lines);
      }
  }

  /* The tasks waiting for their next attempt, soonest first. */
  if (g_hash_table_size (v->retrying) > 0)
    {
      g_autofree gpointer *keys = NULL;
      guint n_retrying = 0;
      guint shown;

      keys = g_hash_table_get_keys_as_array (v->retrying, &n_retrying);
      g_qsort_with_data (keys, n_retrying, sizeof (gpointer), compare_retrying, v->retrying);
      line_addf (&l, C_BOLD, "Waiting to retry (%u)", n_retrying);
      frame_end_line (frame, &l, &n_lines);
      shown = MIN (n_retrying, 3u);
      for (guint i = 0; i < shown; i++)
        {
          const Retrying *r = g_hash_table_lookup (v->retrying, keys[i]);

          line_add (&l, C_YELLOW, "  " RETRY_MARK " ");
          line_add_user (&l, NULL, keys[i]);
          if (r->device != NULL)
            {
              line_add (&l, C_DIM, " on ");
              line_add_user (&l, C_DIM, r->device);
            }
          line_addf (&l, NULL, "  attempt %u in %.1fs", r->next_attempt,
                     MAX (r->retry_mono - now, 0) / (gdouble) G_USEC_PER_SEC);
          frame_end_line (frame, &l, &n_lines);
        }
      if (n_retrying > shown)
        {
          line_addf (&l, C_DIM, "  … and %u more", n_retrying - shown);
          frame_end_line (frame, &l, &n_lines);
        }
    }

  /* Progress. */
  total = orrery_constellation_get_n_tasks (v->constellation);
  for (guint s = 0; s <= ORRERY_TASK_STATUS_SKIPPED; s++)
    counts[s] = orrery_constellation_count_status (v->constellation, s);
  done = counts[ORRERY_TASK_STATUS_COMPLETED] + counts[ORRERY_TASK_STATUS_FAILED] +
         counts[ORRERY_TASK_STATUS_SKIPPED] + counts[ORRERY_TASK_STATUS_CANCELLED];
  {
    guint bar = MIN (30u, l.width > 50 ? l.width - 50 : 10);
    guint filled = total ? (guint) ((guint64) done * bar / total) : bar;
    g_autoptr(GString) b = g_string_new (NULL);

    for (guint i = 0; i < bar; i++)
      g_string_append (b, i < filled ? "█" : "░");
    line_add (&l, counts[ORRERY_TASK_STATUS_FAILED] ? C_RED : C_GREEN, b->str);
    line_addf (&l, C_BOLD, " %u/%u", done, total);
    line_addf (&l, C_GREEN, "  ✔ %u", counts[ORRERY_TASK_STATUS_COMPLETED]);
    line_addf (&l, C_RED, "  ✘ %u", counts[ORRERY_TASK_STATUS_FAILED]);
    line_addf (&l, C_BLUE, "  ↷ %u", counts[ORRERY_TASK_STATUS_SKIPPED]);
    line_addf (&l, C_RED, "  ⊘ %u", counts[ORRERY_TASK_STATUS_CANCELLED]);
    /* Running in the constellation, but some only wait for a retry. */
    line_addf (&l, C_YELLOW, "  ▶ %u", counts[ORRERY_TASK_STATUS_RUNNING] -
               MIN (counts[ORRERY_TASK_STATUS_RUNNING], g_hash_table_size (v->retrying)));
    if (g_hash_table_size (v->retrying) > 0)
      line_addf (&l, C_YELLOW, "  " RETRY_MARK " %u", g_hash_table_size (v->retrying));
    line_addf (&l, C_DIM, "  · %u", counts[ORRERY_TASK_STATUS_PENDING] +
               counts[ORRERY_TASK_STATUS_WAITING_DEPENDENCY]);
    frame_end_line (frame, &l, &n_lines);
  }

  /* A shorter frame than the last one: clear what is left below. */
  if (n_lines < v->frame_lines)
    g_string_append (frame, "\033[J");
  g_string_append (frame, "\033[?7h");
  v->frame_lines = n_lines;
  if (v->run_over && v->cursor_hidden)
    {
      g_string_append (frame, "\033[?25h");
      v->cursor_hidden = FALSE;
    }

  write_all (v->fd, frame->str, frame->len);
  g_string_free (l.s, TRUE);
  v->last_frame_mono = now;
  v->n_frames++;
  v->dirty = FALSE;
}

static gboolean on_frame_timer (gpointer user_data);

static void
arm_timer (Visualizer *v,
           guint       delay_ms)
{
  if (v->timer != NULL)
    return;
  v->timer = g_timeout_source_new (delay_ms);
  g_source_set_static_name (v->timer, "[orrery] visualizer frame");
  g_source_set_callback (v->timer, on_frame_timer, v, NULL);
  g_source_attach (v->timer, NULL);
}

static void
disarm_timer (Visualizer *v)
{
  if (v->timer == NULL)
    return;
  g_source_destroy (v->timer);
  g_clear_pointer (&v->timer, g_source_unref);
}

static gboolean
on_frame_timer (gpointer user_data)
{
  Visualizer *v = user_data;
  gboolean busy;

  g_clear_pointer (&v->timer, g_source_unref);
  busy = g_hash_table_size (v->running) > 0 || g_hash_table_size (v->retrying) > 0;
  if (v->dirty || busy)
    draw_frame (v);
  /* Elapsed times (and the time to a retry) move while tasks run: keep
   * ticking, slowly. */
  if (!v->run_over && busy)
    arm_timer (v, MAX (v->frame_ms, RUNNING_TICK_MS));
  return G_SOURCE_REMOVE;
}

/* The live view owns the terminal: a log line printed under it would push
 * the frame down and break the redraw in place. While a live view is
 * drawn, the process's default log handler erases the frame first, lets
 * the line scroll above, and has the frame drawn again below it.
 *
 * It is the default handler (g_log_set_default_handler()), chained to the
 * one before it, and not the structured log writer: a process has one
 * writer, set once for good (the `orrery` program sets its escaping
 * writer, and a second g_log_set_writer_func() aborts the process), while
 * the default handler can be wrapped and put back at shutdown. Every
 * g_warning(), g_message()... goes through it, then through the writer. */
static Visualizer *live_view;   /* the live view drawing now, or NULL */
static GThread    *live_view_thread;
static GLogFunc    live_view_prev_handler;  /* its data is lost: GLib does not give it back */

static void mark_dirty (Visualizer *v);

static void
live_view_log_handler (const char     *domain,
                       GLogLevelFlags  level,
                       const char     *message,
                       gpointer        user_data)
{
  Visualizer *v = live_view;

  if (v != NULL && v->frame_lines > 0 && g_thread_self () == live_view_thread &&
      !g_log_writer_default_would_drop (level, domain))
    {
      char erase[32];
      int n = g_snprintf (erase, sizeof erase, "\r\033[%uA\033[J", v->frame_lines);

      write_all (v->fd, erase, (gsize) n);
      v->frame_lines = 0;
      mark_dirty (v);
    }
  if (live_view_prev_handler != NULL)
    live_view_prev_handler (domain, level, message, NULL);
  else
    g_log_default_handler (domain, level, message, NULL);
}

static void
live_view_own_log (Visualizer *v)
{
  if (live_view == NULL)
    live_view_prev_handler = g_log_set_default_handler (live_view_log_handler, NULL);
  live_view_thread = g_thread_self ();
  live_view = v;
}

static void
live_view_release_log (Visualizer *v)
{
  if (live_view != v)
    return;
  live_view = NULL;
  g_log_set_default_handler (live_view_prev_handler ? live_view_prev_handler : g_log_default_handler,
                             NULL);
  live_view_prev_handler = NULL;
}

/* An event changed what the view shows: draw soon, never more often than
 * one frame per frame_ms. */
static void
mark_dirty (Visualizer *v)
{
  gint64 since;
  guint delay;

  v->dirty = TRUE;
  if (v->timer != NULL)
    {
      /* A slow tick is armed: bring it forward if it is late. */
      if (g_source_get_ready_time (v->timer) - g_get_monotonic_time () <= (gint64) v->frame_ms * 1000)
        return;
      disarm_timer (v);
    }
  since = (g_get_monotonic_time () - v->last_frame_mono) / 1000;
  delay = since >= v->frame_ms ? 0 : v->frame_ms - (guint) since;
  arm_timer (v, delay);
}

/* ------------------------------------------------------------------------ */
/* Plain lines */

static void
append_time (GString *s,
             gint64   usec)
{
  /* The local time of the last second seen: localtime_r() once a second,
   * not once an event (its time zone conversion was a fifth of this
   * plugin's time per event); per thread. */
  static __thread time_t cached_secs = (time_t) -1;
  static __thread char cached[16];
  time_t secs = (time_t) (usec / G_USEC_PER_SEC);

  if (secs != cached_secs)
    {
      struct tm tm;

      if (localtime_r (&secs, &tm) == NULL)
        return;
      g_snprintf (cached, sizeof cached, "%02d:%02d:%02d.", tm.tm_hour, tm.tm_min, tm.tm_sec);
      cached_secs = secs;
    }
  g_string_append (s, cached);
  g_string_append_printf (s, "%03d ", (int) ((usec % G_USEC_PER_SEC) / 1000));
}

static void
append_error (GString      *s,
              const GError *error)
{
  if (error != NULL && error->message != NULL)
    {
      const char *nl = strchr (error->message, '\n');
      gssize len = nl != NULL ? nl - error->message : (gssize) strlen (error->message);

      /* The first line only; whatever a task or a device put in it is
       * escaped (a command's stderr can hold anything). */
      g_string_append (s, ": ");
      if (orrery_text_is_terminal_safe (error->message, len))
        g_string_append_len (s, error->message, len);
      else
        orrery_string_append_escaped (s, error->message, len);
    }
}

static gboolean
on_lines_flush (gpointer user_data)
{
  Visualizer *v = user_data;

  g_clear_pointer (&v->flush_source, g_source_unref);
  fflush (v->out);
  return G_SOURCE_REMOVE;
}

static void
lines_flush_now (Visualizer *v)
{
  if (v->flush_source != NULL)
    {
      g_source_destroy (v->flush_source);
      g_clear_pointer (&v->flush_source, g_source_unref);
    }
  if (v->out != NULL)
    fflush (v->out);
}

/* After a line: a terminal gets it now; a file or a pipe within
 * LINES_FLUSH_MS, with the lines written meanwhile (one write, not one
 * per event), and at the end of the run. */
static void
lines_flush_soon (Visualizer *v)
{
  if (v->out_is_tty || v->run_over)
    {
      lines_flush_now (v);
      return;
    }
  if (v->flush_source != NULL)
    return;
  v->flush_source = g_timeout_source_new (LINES_FLUSH_MS);
  g_source_set_static_name (v->flush_source, "[orrery] visualizer lines flush");
  g_source_set_callback (v->flush_source, on_lines_flush, v, NULL);
  g_source_attach (v->flush_source, NULL);
}

static void
write_line (Visualizer  *v,
            OrreryEvent *event,
            gdouble      duration)
{
  g_autoptr(GString) s = g_string_new (NULL);
  OrreryEventType type = orrery_event_get_event_type (event);
  const char *type_color = NULL;

  append_time (s, orrery_event_get_timestamp (event));
  switch (type)
    {
    case ORRERY_EVENT_TASK_COMPLETED:
    case ORRERY_EVENT_CONSTELLATION_COMPLETED:
      type_color = C_GREEN;
      break;
    case ORRERY_EVENT_TASK_FAILED:
    case ORRERY_EVENT_CONSTELLATION_FAILED:
    case ORRERY_EVENT_TASK_CANCELLED:
    case ORRERY_EVENT_CONSTELLATION_CANCELLED:
      type_color = C_RED;
      break;
    case ORRERY_EVENT_TASK_RETRYING:
    case ORRERY_EVENT_TASK_STARTED:
      type_color = C_YELLOW;
      break;
    case ORRERY_EVENT_TASK_SKIPPED:
      type_color = C_BLUE;
      break;
    default:
      type_color = C_CYAN;
      break;
    }
  if (v->color)
    g_string_append (s, type_color);
  g_string_append (s, orrery_event_get_type_nick (event));
  if (v->color)
    g_string_append (s, C_RESET);

  if (ORRERY_EVENT_IS_TASK (event))
    {
      OrreryEvent *te = event;
      const char *device = orrery_event_get_device_id (te);
      GVariant *data = orrery_event_get_data (event);
      guint delay_ms = 0;

      g_string_append_c (s, ' ');
      append_user (s, orrery_event_get_task_id (te));
      if (device != NULL)
        {
          g_string_append (s, " on ");
          append_user (s, device);
        }
      if (type != ORRERY_EVENT_TASK_SKIPPED && orrery_event_get_attempt (te) > 0)
        g_string_append_printf (s, " (attempt %u)", orrery_event_get_attempt (te));
      if (duration >= 0)
        g_string_append_printf (s, " %.2fs", duration);
      if (type != ORRERY_EVENT_TASK_COMPLETED && type != ORRERY_EVENT_TASK_STARTED)
        append_error (s, orrery_event_get_error (te));
      if (type == ORRERY_EVENT_TASK_RETRYING && data != NULL &&
          g_variant_is_of_type (data, G_VARIANT_TYPE_VARDICT) &&
          g_variant_lookup (data, "delay_ms", "u", &delay_ms))
        g_string_append_printf (s, "; retry in %u ms", delay_ms);
    }
  else if (ORRERY_EVENT_IS_CONSTELLATION (event))
    {
      OrreryEvent *ce = event;
      OrreryConstellation *c = orrery_event_get_constellation (ce);
      const char * const *ready = orrery_event_get_newly_ready (ce);
      GVariant *mods = orrery_event_get_modifications (ce);
      GVariant *data = orrery_event_get_data (event);
      const char *reason = NULL;

      g_string_append_c (s, ' ');
      append_user (s, orrery_event_get_constellation_id (ce));
      switch (type)
        {
        case ORRERY_EVENT_CONSTELLATION_STARTED:
          g_string_append_printf (s, " (%u tasks, %u ready)",
                                  c ? orrery_constellation_get_n_tasks (c) : 0,
                                  ready ? g_strv_length ((char **) ready) : 0);
          break;
        case ORRERY_EVENT_CONSTELLATION_MODIFIED:
          g_string_append_printf (s, " (%" G_GSIZE_FORMAT " modifications, version %" G_GUINT64_FORMAT
                                  ", %u tasks)",
                                  mods ? g_variant_n_children (mods) : 0,
                                  c ? orrery_constellation_get_version (c) : 0,
                                  c ? orrery_constellation_get_n_tasks (c) : 0);
          break;
        default:
          g_string_append_printf (s, " in %.2fs", orrery_event_get_duration (ce));
          if (c != NULL)
            g_string_append_printf (s, ": %u completed, %u failed, %u skipped, %u cancelled",
                                    orrery_constellation_count_status (c, ORRERY_TASK_STATUS_COMPLETED),
                                    orrery_constellation_count_status (c, ORRERY_TASK_STATUS_FAILED),
                                    orrery_constellation_count_status (c, ORRERY_TASK_STATUS_SKIPPED),
                                    orrery_constellation_count_status (c, ORRERY_TASK_STATUS_CANCELLED));
          if (data != NULL && g_variant_is_of_type (data, G_VARIANT_TYPE_VARDICT) &&
              g_variant_lookup (data, "reason", "&s", &reason))
            {
              g_string_append (s, " — ");
              append_user (s, reason);
            }
          break;
        }
    }
  else if (ORRERY_EVENT_IS_DEVICE (event))
    {
      g_string_append_c (s, ' ');
      append_user (s, orrery_event_get_device_id (event));
    }

  g_string_append_c (s, '\n');
  fputs (s->str, v->out);
  lines_flush_soon (v);
}

/* ------------------------------------------------------------------------ */
/* DOT and SVG */

/* The DOT text is the SDK's, in Orrery's one style
 * (orrery_constellation_to_dot()): the run's statuses, one rank per
 * layer. */

/* SVG renders are bounded. `dot` can take minutes on a large graph (100k
 * nodes: more than 300 s), so:
 * - a graph of more than SvgMaxNodes tasks gets its DOT file and no SVG
 *   (said once per run);
 * - a render that runs past DotTimeoutSec is killed (said, and no SVG);
 * - at shutdown the last render is waited for, at most DotTimeoutSec, on a
 *   private main context that also watches SIGINT, SIGTERM and SIGHUP: a
 *   signal kills `dot` and ends the wait at once;
 * - `dot` dies with the process (PR_SET_PDEATHSIG) if the host is killed. */

static void
dot_child_setup (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  /* A template's render runs beside the run's tasks, which come first; a
   * run that waits for it at its end leaves it the processors anyway. */
  if (GPOINTER_TO_INT (user_data))
    setpriority (PRIO_PROCESS, 0, 19);
}

/* `dot` loads every plugin its configuration lists before it reads the
 * graph: cairo, pango and fontconfig, gd, webp and X11, 20-30 ms here, and
 * pango then measures every label (a 300-task chain: 84 ms, against 44 ms
 * without). The SVG needs two of them: `core` (the SVG writer) and
 * `dot_layout`. So a render of a graph whose text is all ASCII runs with
 * GVBINDIR set to a private directory (0700) holding a configuration of
 * those two, taken from Graphviz's own (the config6a `dot -c` wrote at
 * install, its entries naming the libraries by absolute path); labels are
 * then measured with Graphviz's built-in metrics of Helvetica, the font
 * the DOT asks for. Any other text (which those metrics do not cover), or
 * a `dot` whose configuration is not found, gets the full set. */

/* The block of @config (config6a) that starts with the library @lib, up to
 * its closing brace; NULL if there is none. */
static char *
gv_config_entry (const char *config,
                 const char *lib)
{
  gsize len = strlen (lib);

  for (const char *line = config; line != NULL && *line != '\0';
       line = strchr (line, '\n'), line = line ? line + 1 : NULL)
    {
      int depth = 0;

      if (strncmp (line, lib, len) != 0 || line[len] != ' ')
        continue;
      for (const char *q = line + len; *q != '\0'; q++)
        if (*q == '{')
          depth++;
        else if (*q == '}' && --depth == 0)
          return g_strndup (line + len, (gsize) (q + 1 - (line + len)));
      return NULL;
    }
  return NULL;
}

/* The directory of @dot's plugins (DIR/../lib[64]/[TRIPLET/]graphviz, the
 * one holding config6a); NULL if none is found. */
static char *
gv_find_plugin_dir (const char *dot)
{
  g_autofree char *real = realpath (dot, NULL);
  g_autofree char *bin = NULL;
  g_autofree char *prefix = NULL;
  const char *libs[] = { "lib", "lib64" };

  if (real == NULL)
    return NULL;
  bin = g_path_get_dirname (real);
  prefix = g_path_get_dirname (bin);
  for (gsize i = 0; i < G_N_ELEMENTS (libs); i++)
    {
      g_autofree char *libdir = g_build_filename (prefix, libs[i], NULL);
      g_autofree char *direct = g_build_filename (libdir, "graphviz", NULL);
      g_autofree char *config = g_build_filename (direct, "config6a", NULL);
      g_autoptr(GDir) dir = NULL;
      const char *name;

      if (g_file_test (config, G_FILE_TEST_IS_REGULAR))
        return g_steal_pointer (&direct);
      dir = g_dir_open (libdir, 0, NULL);
      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *sub = g_build_filename (libdir, name, "graphviz", NULL);
          g_autofree char *sub_config = g_build_filename (sub, "config6a", NULL);

          if (g_file_test (sub_config, G_FILE_TEST_IS_REGULAR))
            return g_steal_pointer (&sub);
        }
    }
  return NULL;
}

/* Makes v->gv_dir, once; stays NULL when it cannot be made. */
static void
gv_prepare (Visualizer *v)
{
  g_autofree char *plugin_dir = NULL;
  g_autofree char *system_config = NULL;
  g_autofree char *text = NULL;
  g_autoptr(GString) config = g_string_new ("# The SVG writer and the dot layout only (Orrery's visualizer).\n");
  const char *libs[] = { "libgvplugin_core", "libgvplugin_dot_layout" };
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;

  if (v->gv_tried)
    return;
  v->gv_tried = TRUE;
  plugin_dir = gv_find_plugin_dir (v->dot_program);
  if (plugin_dir == NULL)
    return;
  system_config = g_build_filename (plugin_dir, "config6a", NULL);
  if (!g_file_get_contents (system_config, &text, NULL, NULL))
    return;
  for (gsize i = 0; i < G_N_ELEMENTS (libs); i++)
    {
      /* The library's name as config6a gives it: NAME.so.N. */
      const char *at = strstr (text, libs[i]);
      g_autofree char *lib = NULL;
      g_autofree char *entry = NULL;
      gsize n = 0;

      while (at != NULL && at != text && at[-1] != '\n')
        at = strstr (at + 1, libs[i]);
      if (at == NULL)
        return;
      while (at[n] != '\0' && at[n] != ' ' && at[n] != '\n')
        n++;
      lib = g_strndup (at, n);
      entry = gv_config_entry (text, lib);
      if (entry == NULL || strchr (lib, '/') != NULL)
        return;
      g_string_append_printf (config, "%s/%s%s\n", plugin_dir, lib, entry);
    }
  dir = g_dir_make_tmp ("orrery-graphviz-XXXXXX", &error);
  if (dir == NULL)
    {
      g_debug ("No private Graphviz configuration: %s", error->message);
      return;
    }
  path = g_build_filename (dir, "config6a", NULL);
  if (!g_file_set_contents_full (path, config->str, (gssize) config->len,
                                 G_FILE_SET_CONTENTS_NONE, 0600, &error))
    {
      g_debug ("No private Graphviz configuration: %s", error->message);
      g_rmdir (dir);
      return;
    }
  v->gv_dir = g_steal_pointer (&dir);
}

static gboolean
text_is_ascii (const char *text)
{
  for (const guchar *p = (const guchar *) text; *p != '\0'; p++)
    if (*p >= 0x80)
      return FALSE;
  return TRUE;
}

static GSubprocess *
spawn_dot (Visualizer  *v,
           const char  *dot_file,
           const char  *svg_file,
           gboolean     ascii,
           gboolean     background,
           GError     **error)
{
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE);

  if (ascii)
    gv_prepare (v);
  if (ascii && v->gv_dir != NULL)
    g_subprocess_launcher_setenv (launcher, "GVBINDIR", v->gv_dir, TRUE);
  g_subprocess_launcher_set_child_setup (launcher, dot_child_setup, GINT_TO_POINTER (background), NULL);
  return g_subprocess_launcher_spawn (launcher, error, v->dot_program, "-Tsvg", "-o", svg_file, dot_file, NULL);
}

/* foo.dot.svg.tmp -> foo.svg once `dot` succeeded; removed otherwise. */
static void
svg_commit (const char *dot_file,
            gboolean    ok)
{
  g_autofree char *tmp = g_strconcat (dot_file, ".svg.tmp", NULL);
  g_autofree char *base = g_strndup (dot_file, strlen (dot_file) - 4);
  g_autofree char *dest = g_strconcat (base, ".svg", NULL);

  if (!ok)
    g_remove (tmp);
  else if (g_rename (tmp, dest) != 0)
    g_warning ("Cannot rename %s to %s: %s", tmp, dest, g_strerror (errno));
}

/* ------------------------------------------------------------------------ */
/* The template: laid out once, patched with the state.
 *
 * `dot` spends most of a render formatting and writing the SVG (a 300-task
 * chain: ~25 ms, ~5 of them the layout), which at the end of a run is
 * waited for. But the state changes nothing in the layout if the SDK's
 * ORRERY_DOT_TEMPLATE draws the graph: every task pending with a slot of
 * fixed width for its duration, the title's state and version as the
 * widest. So the template of the graph's structure is rendered in the
 * background when the run starts and after a modification that changes
 * it (its DOT text differs), into the private work directory, and kept in
 * memory, indexed; an SVG of the run's state (the last one at its end) is
 * that text with each task's fill, border, tooltip and duration and the
 * title's state and version put in, written at once. `dot` renders the
 * run's DOT file itself (a full render, as before) only when no template
 * fits: its render failed, its SVG is not what this code expects, or a
 * value does not fit its slot (a duration of 100000 s or more).
 *
 * The template is found by the ids the SDK writes (taskN, index in
 * orrery_constellation_get_tasks()) and by what `dot` writes for them; user
 * text cannot fake any of it: `dot` escapes <, > and " in the text it
 * writes, so markup is only its own. */

/* What the SDK's template holds (orrery-constellation-dot.h). */
#define TPL_DURATION       "00000.00s"
#define TPL_TOOLTIP        "<a xlink:title=\"status: pending\">"
#define TPL_SHAPE          "<path fill=\"white\" stroke=\"black\""
#define TPL_CRITICAL       " stroke-width=\"2\""
#define TPL_NODE           "<g id=\"task"
#define TPL_VERSION        ", version "

typedef enum
{
  EDIT_TITLE,     /* the title's " (STATE, version N)" */
  EDIT_TOOLTIP,   /* "pending" of a task's tooltip */
  EDIT_SHAPE,     /* a task's fill="..." stroke="..." [stroke-width="2"] */
  EDIT_DURATION,  /* a task's third line: <text ...>00000.00s</text>\n */
} EditKind;

typedef struct
{
  gsize    start;   /* the span of the template replaced */
  gsize    end;
  gsize    text;    /* EDIT_DURATION: where its text starts */
  guint    task;
  EditKind kind;
} Edit;

struct _Template
{
  char   *svg;
  gsize   len;
  char   *dot;          /* the template DOT it was rendered from */
  GArray *edits;        /* Edit, in the order of the text */
  guint   n_tasks;
  guint   version_digits;
};

static void
template_free (Template *t)
{
  g_free (t->svg);
  g_free (t->dot);
  g_array_unref (t->edits);
  g_free (t);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Template, template_free)

static int
edit_compare (gconstpointer a,
              gconstpointer b)
{
  const Edit *x = a, *y = b;

  return x->start < y->start ? -1 : x->start > y->start;
}

static void
add_edit (GArray   *edits,
          EditKind  kind,
          guint     task,
          gsize     start,
          gsize     end,
          gsize     text)
{
  Edit e = { start, end, text, task, kind };

  g_array_append_val (edits, e);
}

/* The title: the first <text> of the graph, before any node or edge, ends
 * with " (partially-failed, version 000000)" (the '-' as dot escapes it,
 * or not). */
static gboolean
template_find_title (Template *t)
{
  static const char *const states[] = { " (partially&#45;failed", " (partially-failed" };
  const char *svg = t->svg;
  const char *graph = strstr (svg, "class=\"graph\"");
  const char *first_g = graph ? strstr (graph, "<g id=") : NULL;
  const char *text = graph ? strstr (graph, "<text ") : NULL;
  const char *close, *content, *digits;
  guint n = 0;

  if (text == NULL || first_g == NULL || text > first_g)
    return FALSE;
  content = strchr (text, '>');
  close = content ? strstr (content, "</text>") : NULL;
  if (close == NULL || close > first_g)
    return FALSE;
  content++;
  if (close == content || close[-1] != ')')
    return FALSE;
  for (digits = close - 1; digits > content && digits[-1] == '0'; digits--)
    n++;
  if (n == 0 || (gsize) (digits - content) < strlen (TPL_VERSION) ||
      strncmp (digits - strlen (TPL_VERSION), TPL_VERSION, strlen (TPL_VERSION)) != 0)
    return FALSE;
  digits -= strlen (TPL_VERSION);
  for (gsize i = 0; i < G_N_ELEMENTS (states); i++)
    {
      gsize len = strlen (states[i]);

      if ((gsize) (digits - content) >= len && strncmp (digits - len, states[i], len) == 0)
        {
          t->version_digits = n;
          add_edit (t->edits, EDIT_TITLE, 0, (gsize) (digits - len - svg), (gsize) (close - svg), 0);
          return TRUE;
        }
    }
  return FALSE;
}

/* A task's group, from its id on: its tooltip, its shape's colours and its
 * third line, the last text before the end of its link. Where it ends, or
 * NULL if it is not what the template draws. */
static const char *
template_find_task (Template   *t,
                    guint       task,
                    const char *group)
{
  const char *svg = t->svg;
  const char *end = strstr (group, "</a>\n");
  const char *a = strstr (group, TPL_TOOLTIP);
  const char *shape = a ? strstr (a, TPL_SHAPE) : NULL;
  const char *d = shape ? strstr (shape, " d=\"") : NULL;
  const char *colours, *rest, *text;
  gsize text_len = strlen (TPL_DURATION "</text>\n");

  if (end == NULL || a == NULL || a > end || shape == NULL || d == NULL || d > end)
    return NULL;
  /* Nothing but a critical task's width between the colours and the path. */
  colours = shape + strlen ("<path ");
  rest = shape + strlen (TPL_SHAPE);
  if (rest != d && (d - rest != (gssize) strlen (TPL_CRITICAL) || strncmp (rest, TPL_CRITICAL, d - rest) != 0))
    return NULL;
  /* <text ...>00000.00s</text>, on one line, just before the link's end. */
  text = g_strrstr_len (d, end - d, "<text ");
  if (text == NULL || (gsize) (end - text) <= text_len || end[-(gssize) text_len - 1] != '>' ||
      strncmp (end - text_len, TPL_DURATION "</text>\n", text_len) != 0 ||
      memchr (text, '\n', (gsize) (end - text) - 1) != NULL)
    return NULL;
  a += strlen ("<a xlink:title=\"status: ");
  add_edit (t->edits, EDIT_TOOLTIP, task, (gsize) (a - svg), (gsize) (a - svg) + strlen ("pending"), 0);
  add_edit (t->edits, EDIT_SHAPE, task, (gsize) (colours - svg), (gsize) (d - svg), 0);
  add_edit (t->edits, EDIT_DURATION, task, (gsize) (text - svg), (gsize) (end - svg),
            (gsize) (end - text_len - svg));
  return end;
}

/* Indexes the SVG `dot` made of @dot (a template of @n_tasks tasks); NULL
 * (and why, for the debug log) if it is not as expected. Takes @svg. */
static Template *
template_new (char        *svg,
              gsize        len,
              const char  *dot,
              guint        n_tasks,
              const char **why)
{
  g_autoptr(Template) t = g_new0 (Template, 1);
  g_autofree guint8 *seen = g_malloc0 (MAX (n_tasks, 1));
  guint n_seen = 0;
  const char *p;

  t->svg = svg;
  t->len = len;
  t->dot = g_strdup (dot);
  t->n_tasks = n_tasks;
  t->edits = g_array_sized_new (FALSE, FALSE, sizeof (Edit), 3 * n_tasks + 1);
  if (strlen (svg) != len || !g_str_has_suffix (svg, "</svg>\n"))
    return *why = "not one whole SVG text", NULL;
  if (!template_find_title (t))
    return *why = "no title with its slots", NULL;
  for (p = strstr (svg, TPL_NODE); p != NULL; p = strstr (p, TPL_NODE))
    {
      const char *digits = p + strlen (TPL_NODE);
      char *after = NULL;
      guint64 task;

      if (!g_ascii_isdigit (*digits))
        return *why = "a task group without its index", NULL;
      task = g_ascii_strtoull (digits, &after, 10);
      if (task >= n_tasks || seen[task] || !g_str_has_prefix (after, "\" class=\"node\">\n"))
        return *why = "a task group of a wrong index", NULL;
      seen[task] = 1;
      n_seen++;
      p = template_find_task (t, (guint) task, after);
      if (p == NULL)
        return *why = "a task group not as the template draws it", NULL;
    }
  if (n_seen != n_tasks)
    return *why = "tasks missing", NULL;
  g_array_sort (t->edits, edit_compare);
  return g_steal_pointer (&t);
}

/* The template with @c's state; NULL if a value does not fit its slot (or
 * @c is not the graph of the template). */
static GString *
template_patch (Template            *t,
                OrreryConstellation *c)
{
  g_autoptr(GPtrArray) tasks = orrery_constellation_get_tasks (c);
  g_autoptr(GString) s = NULL;
  gsize at = 0;

  if (tasks->len != t->n_tasks)
    return NULL;
  s = g_string_sized_new (t->len + 32 * (gsize) t->n_tasks);
  for (guint i = 0; i < t->edits->len; i++)
    {
      const Edit *e = &g_array_index (t->edits, Edit, i);
      OrreryTask *task = e->kind == EDIT_TITLE ? NULL : tasks->pdata[e->task];
      OrreryTaskStatus st = task ? orrery_task_get_status (task) : ORRERY_TASK_STATUS_PENDING;

      g_string_append_len (s, t->svg + at, (gssize) (e->start - at));
      at = e->end;
      switch (e->kind)
        {
        case EDIT_TITLE:
          {
            char version[24];
            int n = g_snprintf (version, sizeof version, "%" G_GUINT64_FORMAT,
                                orrery_constellation_get_version (c));

            if ((guint) n > t->version_digits)
              return NULL;
            /* Nicks and digits: nothing to escape for XML. */
            g_string_append (s, " (");
            g_string_append (s, orrery_constellation_state_to_nick (orrery_constellation_get_state (c)));
            g_string_append (s, TPL_VERSION);
            g_string_append (s, version);
            g_string_append_c (s, ')');
          }
          break;
        case EDIT_TOOLTIP:
          g_string_append (s, orrery_task_status_to_nick (st));
          break;
        case EDIT_SHAPE:
          g_string_append (s, "fill=\"");
          g_string_append (s, orrery_task_status_to_dot_color (st));
          g_string_append (s, st == ORRERY_TASK_STATUS_FAILED ? "\" stroke=\"red\"" : "\" stroke=\"black\"");
          if (st == ORRERY_TASK_STATUS_FAILED || orrery_task_get_priority (task) == ORRERY_TASK_PRIORITY_CRITICAL)
            g_string_append (s, TPL_CRITICAL);
          break;
        case EDIT_DURATION:
          if (st == ORRERY_TASK_STATUS_COMPLETED || st == ORRERY_TASK_STATUS_FAILED)
            {
              char seconds[G_ASCII_DTOSTR_BUF_SIZE];

              /* As the SDK writes it: "%.2f" with a '.' in any locale. */
              g_ascii_formatd (seconds, sizeof seconds, "%.2f", orrery_task_get_duration (task));
              if (strlen (seconds) + 1 > strlen (TPL_DURATION))
                return NULL;
              g_string_append_len (s, t->svg + e->start, (gssize) (e->text - e->start));
              g_string_append (s, seconds);
              g_string_append (s, "s</text>\n");
            }
          /* else no third line, as the SDK draws a task not finished. */
          break;
        }
    }
  g_string_append_len (s, t->svg + at, (gssize) (t->len - at));
  return g_steal_pointer (&s);
}

/* The private directory of the template's files (0700), made once. */
static gboolean
work_dir_prepare (Visualizer *v)
{
  g_autoptr(GError) error = NULL;

  if (v->work_dir == NULL)
    v->work_dir = g_dir_make_tmp ("orrery-svg-XXXXXX", &error);
  if (v->work_dir == NULL)
    g_warning ("No directory for the SVG's template (a full render each time): %s", error->message);
  return v->work_dir != NULL;
}

/* At shutdown: the template's files go with their directory. */
static void
work_dir_remove (Visualizer *v)
{
  if (v->work_dir == NULL)
    return;
  if (v->tpl_file != NULL)
    {
      g_autofree char *svg = g_strconcat (v->tpl_file, ".svg", NULL);

      g_remove (v->tpl_file);
      g_remove (svg);
    }
  g_rmdir (v->work_dir);
  g_clear_pointer (&v->work_dir, g_free);
}

/* The template fits the graph now. */
static gboolean
tpl_ready (Visualizer *v)
{
  return v->tpl != NULL && g_strcmp0 (v->tpl->dot, v->tpl_dot) == 0;
}

/* The template of the graph now is being made or waits to be. */
static gboolean
tpl_coming (Visualizer *v)
{
  return v->tpl_pending || (v->dot_proc != NULL && v->tpl_running != NULL &&
                            g_strcmp0 (v->tpl_running, v->tpl_dot) == 0);
}

/* A template render is over: its SVG indexed, or dropped. */
static void
tpl_done (Visualizer *v,
          gboolean    ok)
{
  g_autofree char *dot = g_steal_pointer (&v->tpl_running);
  g_autofree char *svg_file = g_strconcat (v->tpl_file, ".svg", NULL);
  g_autoptr(GError) error = NULL;
  char *svg = NULL;
  gsize len = 0;
  const char *why = NULL;

  if (ok && !g_file_get_contents (svg_file, &svg, &len, &error))
    g_warning ("Cannot read %s: %s", svg_file, error->message);
  g_remove (svg_file);
  g_remove (v->tpl_file);
  if (svg == NULL)
    return;
  g_clear_pointer (&v->tpl, template_free);
  v->tpl = template_new (svg, len, dot, v->tpl_running_n, &why);
  if (v->tpl == NULL)
    g_debug ("The SVG of the template is not as expected (%s): a full render instead", why);
}

/* The SVG of the state now, from the template: written (DOT.svg.tmp would
 * be `dot`'s name: BASE.svg.tmp), then renamed over BASE.svg. Whether the
 * state fitted. */
static gboolean
svg_patch (Visualizer *v)
{
  g_autoptr(GString) text = template_patch (v->tpl, v->svg_constellation);
  g_autofree char *base = NULL;
  g_autofree char *tmp = NULL;
  g_autofree char *dest = NULL;
  g_autoptr(GError) error = NULL;

  if (text == NULL)
    return FALSE;
  base = g_strndup (v->svg_pending, strlen (v->svg_pending) - 4);
  tmp = g_strconcat (base, ".svg.tmp", NULL);
  dest = g_strconcat (base, ".svg", NULL);
  /* Atomic by the rename, as dot's output; no fsync, as for it. */
  if (!g_file_set_contents_full (tmp, text->str, (gssize) text->len, G_FILE_SET_CONTENTS_NONE, 0666, &error))
    {
      g_warning ("Cannot write %s: %s", tmp, error->message);
      g_remove (tmp);
    }
  else if (g_rename (tmp, dest) != 0)
    {
      g_warning ("Cannot rename %s to %s: %s", tmp, dest, g_strerror (errno));
      g_remove (tmp);
    }
  /* A full render of an older state would replace it when over. */
  if (v->dot_proc != NULL && v->tpl_running == NULL && !v->dot_killed)
    {
      v->dot_killed = TRUE;
      g_subprocess_force_exit (v->dot_proc);
    }
  return TRUE;
}

static void
dot_deadline_clear (Visualizer *v)
{
  if (v->dot_deadline == NULL)
    return;
  g_source_destroy (v->dot_deadline);
  g_clear_pointer (&v->dot_deadline, g_source_unref);
}

static gboolean
on_dot_deadline (gpointer user_data)
{
  Visualizer *v = user_data;

  g_clear_pointer (&v->dot_deadline, g_source_unref);
  if (v->dot_proc != NULL && !v->dot_killed)
    {
      g_warning ("dot ran past %u s on %s: killed, no SVG (DotTimeoutSec; SvgMaxNodes=%u)",
                 v->dot_timeout_s, v->dot_label, v->svg_max_nodes);
      v->dot_killed = TRUE;
      g_subprocess_force_exit (v->dot_proc);
    }
  return G_SOURCE_REMOVE;
}

static void start_dot (Visualizer *v);
static void svg_produce (Visualizer *v);

static void
on_dot_done (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Visualizer *v = user_data;
  g_autoptr(GError) error = NULL;
  gboolean ok = g_subprocess_wait_check_finish (G_SUBPROCESS (source), result, &error);

  /* After shutdown the wait there has dealt with this process. */
  if (!v->shut_down && G_SUBPROCESS (source) == v->dot_proc)
    {
      if (!ok && !v->dot_killed)
        g_warning ("dot failed on %s: %s", v->dot_label, error->message);
      if (v->tpl_running != NULL)
        {
          /* Killed at its deadline (said): no SVG of this state either,
           * as when a full render is (a full render would take as long). */
          if (v->dot_killed)
            g_clear_pointer (&v->svg_pending, g_free);
          tpl_done (v, ok);
        }
      else
        svg_commit (v->svg_running, ok);
      dot_deadline_clear (v);
      g_clear_object (&v->dot_proc);
      g_clear_pointer (&v->svg_running, g_free);
      g_clear_pointer (&v->dot_label, g_free);
      v->dot_killed = FALSE;
      /* The SVG waiting for this template, unless its time is not come. */
      if (v->svg_defer == NULL)
        svg_produce (v);
      start_dot (v);
    }
  visualizer_unref (v);
}

/* Runs `dot`, one at a time: the pending template first (an SVG of the
 * state waits for it), else the full render of the pending DOT file when
 * it needs one. */
static void
start_dot (Visualizer *v)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *svg_file = NULL;
  gboolean ascii = FALSE;

  if (v->dot_proc != NULL)
    return;
  if (v->tpl_pending)
    {
      v->tpl_pending = FALSE;
      if (work_dir_prepare (v))
        {
          g_free (v->tpl_file);
          v->tpl_file = g_build_filename (v->work_dir, v->tpl_name, NULL);
          if (!g_file_set_contents_full (v->tpl_file, v->tpl_dot, -1, G_FILE_SET_CONTENTS_NONE, 0600, &error))
            {
              g_warning ("Cannot write %s: %s", v->tpl_file, error->message);
              g_clear_error (&error);
            }
          else
            {
              v->tpl_running = g_strdup (v->tpl_dot);
              v->tpl_running_n = v->tpl_n_tasks;
              v->svg_running = g_strdup (v->tpl_file);
              svg_file = g_strconcat (v->tpl_file, ".svg", NULL);
              ascii = v->tpl_ascii;
            }
        }
      /* No template: the state's SVG by a full render (once due). */
      if (v->tpl_running == NULL && v->svg_defer == NULL)
        v->svg_full = TRUE;
    }
  if (v->tpl_running == NULL)
    {
      if (v->svg_pending == NULL || !v->svg_full)
        return;
      v->svg_running = g_steal_pointer (&v->svg_pending);
      svg_file = g_strconcat (v->svg_running, ".svg.tmp", NULL);
      ascii = v->svg_pending_ascii;
    }
  /* Messages name the run's DOT file, whichever file dot reads. */
  v->dot_label = g_strdup (v->tpl_running != NULL ? v->svg_dot_file : v->svg_running);
  v->dot_proc = spawn_dot (v, v->svg_running, svg_file, ascii, v->tpl_running != NULL, &error);
  if (v->dot_proc == NULL)
    {
      g_warning ("Cannot run %s: %s", v->dot_program, error->message);
      g_clear_pointer (&v->svg_running, g_free);
      g_clear_pointer (&v->tpl_running, g_free);
      g_clear_pointer (&v->dot_label, g_free);
      return;
    }
  v->dot_killed = FALSE;
  v->dot_deadline = g_timeout_source_new_seconds (v->dot_timeout_s);
  g_source_set_static_name (v->dot_deadline, "[orrery] visualizer dot deadline");
  g_source_set_callback (v->dot_deadline, on_dot_deadline, v, NULL);
  g_source_attach (v->dot_deadline, NULL);
  g_subprocess_wait_check_async (v->dot_proc, NULL, on_dot_done, visualizer_ref (v));
}

/* The SVG of the pending DOT file's state: patched into the template at
 * once if it fits, after it if it is coming, else by a full render. */
static void
svg_produce (Visualizer *v)
{
  if (v->svg_pending == NULL)
    return;
  if (tpl_ready (v))
    {
      if (svg_patch (v))
        {
          g_clear_pointer (&v->svg_pending, g_free);
          return;
        }
      g_debug ("A value of %s does not fit the template: a full render", v->svg_pending);
    }
  else if (tpl_coming (v))
    return;
  v->svg_full = TRUE;
  start_dot (v);
}

static void
svg_defer_clear (Visualizer *v)
{
  if (v->svg_defer == NULL)
    return;
  g_source_destroy (v->svg_defer);
  g_clear_pointer (&v->svg_defer, g_source_unref);
}

static gboolean
on_svg_defer (gpointer user_data)
{
  Visualizer *v = user_data;

  g_clear_pointer (&v->svg_defer, g_source_unref);
  svg_produce (v);
  return G_SOURCE_REMOVE;
}

/* The SVG of the pending DOT file: now, or, in a run's first
 * SVG_FIRST_DELAY_MS, when that time is over (the run's end makes it at
 * once, and replaces what waits). The template's render does not wait. */
static void
svg_render_soon (Visualizer *v)
{
  gint64 age_ms = (g_get_monotonic_time () - v->run_start_mono) / 1000;

  if (v->run_over || age_ms >= SVG_FIRST_DELAY_MS)
    {
      svg_defer_clear (v);
      svg_produce (v);
      return;
    }
  if (v->svg_defer != NULL)
    return;
  v->svg_defer = g_timeout_source_new ((guint) (SVG_FIRST_DELAY_MS - age_ms));
  g_source_set_static_name (v->svg_defer, "[orrery] visualizer first svg");
  g_source_set_callback (v->svg_defer, on_svg_defer, v, NULL);
  g_source_attach (v->svg_defer, NULL);
}

/* The bounded wait at shutdown, on a private main context. */
typedef struct
{
  gboolean done;
  gboolean ok;
  gboolean expired;
  int      signal;
} DotWait;

static void
on_dot_waited (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  DotWait *w = user_data;

  w->ok = g_subprocess_wait_check_finish (G_SUBPROCESS (source), result, NULL);
  w->done = TRUE;
}

static gboolean
on_dot_wait_expired (gpointer user_data)
{
  ((DotWait *) user_data)->expired = TRUE;
  return G_SOURCE_REMOVE;
}

static gboolean
on_dot_wait_sigterm (gpointer user_data)
{
  ((DotWait *) user_data)->signal = SIGTERM;
  return G_SOURCE_CONTINUE;
}

static gboolean
on_dot_wait_sigint (gpointer user_data)
{
  ((DotWait *) user_data)->signal = SIGINT;
  return G_SOURCE_CONTINUE;
}

static gboolean
on_dot_wait_sighup (gpointer user_data)
{
  ((DotWait *) user_data)->signal = SIGHUP;
  return G_SOURCE_CONTINUE;
}

static GSource *
attach_signal (GMainContext *ctx,
               int           signum,
               GSourceFunc   func,
               DotWait      *w)
{
  GSource *src = g_unix_signal_source_new (signum);

  g_source_set_callback (src, func, w, NULL);
  g_source_attach (src, ctx);
  return src;
}

/* Waits for PROC until DEADLINE_US (monotonic) or a signal, on CTX (the
 * thread-default context); kills it then (at once with QUIET_KILL, and
 * silently). Whether it succeeded, not killed. */
static gboolean
dot_wait_bounded (Visualizer   *v,
                  GSubprocess  *proc,
                  const char   *dot_file,
                  GMainContext *ctx,
                  gint64        deadline_us,
                  gboolean      quiet_kill,
                  int          *signal_out)
{
  DotWait w = { FALSE, FALSE, FALSE, *signal_out };
  gint64 left_ms = MAX ((deadline_us - g_get_monotonic_time ()) / 1000, 0);
  GSource *timer = g_timeout_source_new ((guint) MIN (left_ms, (gint64) G_MAXUINT));
  GSource *sig[3];

  sig[0] = attach_signal (ctx, SIGTERM, on_dot_wait_sigterm, &w);
  sig[1] = attach_signal (ctx, SIGINT, on_dot_wait_sigint, &w);
  sig[2] = attach_signal (ctx, SIGHUP, on_dot_wait_sighup, &w);
  g_source_set_callback (timer, on_dot_wait_expired, &w, NULL);
  g_source_attach (timer, ctx);
  g_subprocess_wait_check_async (proc, NULL, on_dot_waited, &w);
  if (quiet_kill)
    g_subprocess_force_exit (proc);
  while (!w.done && !w.expired && w.signal == 0)
    g_main_context_iteration (ctx, TRUE);
  if (!w.done)
    {
      if (w.signal != 0)
        g_message ("%s: dot killed, no SVG for %s", g_strsignal (w.signal), dot_file);
      else
        g_warning ("dot ran past %u s on %s: killed, no SVG (DotTimeoutSec; SvgMaxNodes=%u)",
                   v->dot_timeout_s, dot_file, v->svg_max_nodes);
      g_subprocess_force_exit (proc);
      /* SIGKILL: it ends at once; the wait completes. */
      while (!w.done)
        g_main_context_iteration (ctx, TRUE);
      w.ok = FALSE;
    }
  g_source_destroy (timer);
  g_source_unref (timer);
  for (guint i = 0; i < G_N_ELEMENTS (sig); i++)
    {
      g_source_destroy (sig[i]);
      g_source_unref (sig[i]);
    }
  *signal_out = w.signal;
  return w.ok && !quiet_kill;
}

/* At shutdown: the last SVG must not be lost when the host exits right
 * after the run, but the wait is bounded. A render still running is waited
 * for if the last SVG needs it (that state's render, or the template it is
 * to be patched into); an older one is stopped at once. */
static void
finish_svg (Visualizer *v)
{
  g_autoptr(GMainContext) ctx = NULL;
  gint64 deadline_us = g_get_monotonic_time () + (gint64) v->dot_timeout_s * G_USEC_PER_SEC;
  int signal = 0;

  dot_deadline_clear (v);
  svg_defer_clear (v);
  if (v->dot_proc == NULL && (v->svg_pending == NULL || v->dot_program == NULL))
    return;
  ctx = g_main_context_new ();
  g_main_context_push_thread_default (ctx);
  if (v->dot_proc != NULL)
    {
      gboolean template = v->tpl_running != NULL;
      gboolean needed = template ? v->svg_pending != NULL && g_strcmp0 (v->tpl_running, v->tpl_dot) == 0
                                 : v->svg_pending == NULL;
      gboolean ok = dot_wait_bounded (v, v->dot_proc, v->dot_label, ctx, deadline_us,
                                      !needed || v->dot_killed, &signal);

      if (template)
        tpl_done (v, ok);
      else
        svg_commit (v->svg_running, ok);
      g_clear_pointer (&v->svg_running, g_free);
      g_clear_pointer (&v->dot_label, g_free);
      g_clear_object (&v->dot_proc);
    }
  /* Past the deadline (a template killed at it, said), a full render
   * would be killed at once: not started. */
  if (v->svg_pending != NULL && v->dot_program != NULL && signal == 0 &&
      !(tpl_ready (v) && svg_patch (v)) && g_get_monotonic_time () < deadline_us)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *svg_file = g_strconcat (v->svg_pending, ".svg.tmp", NULL);
      g_autoptr(GSubprocess) p = spawn_dot (v, v->svg_pending, svg_file, v->svg_pending_ascii, FALSE, &error);

      if (p == NULL)
        g_warning ("Cannot run %s: %s", v->dot_program, error->message);
      else
        svg_commit (v->svg_pending, dot_wait_bounded (v, p, v->svg_pending, ctx, deadline_us, FALSE, &signal));
    }
  g_clear_pointer (&v->svg_pending, g_free);
  g_main_context_pop_thread_default (ctx);
}

static void
write_dot (Visualizer          *v,
           OrreryConstellation *c)
{
  g_autofree char *text = NULL;
  g_autofree char *stem = NULL;
  g_autofree char *name = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;

  if (!v->want_dot && !v->want_svg)
    return;
  if (g_mkdir_with_parents (v->output_dir, 0755) != 0)
    {
      g_warning ("Cannot create %s: %s", v->output_dir, g_strerror (errno));
      return;
    }
  text = orrery_constellation_to_dot (c, ORRERY_DOT_STATUS | ORRERY_DOT_LAYERS);
  /* The id comes from the file: only letters, digits, -, _ and . make it
   * into the file name (with a hash when it had to be changed). */
  stem = orrery_escape_for_filename (orrery_constellation_get_id (c));
  name = g_strconcat (stem, ".dot", NULL);
  path = g_build_filename (v->output_dir, name, NULL);
  if (!g_file_set_contents (path, text, -1, &error))
    {
      g_warning ("Cannot write %s: %s", path, error->message);
      return;
    }
  v->n_dot_written++;
  if (v->want_svg && v->dot_program != NULL && orrery_constellation_get_n_tasks (c) > v->svg_max_nodes)
    {
      if (!v->svg_skip_said)
        g_message ("%u tasks, more than SvgMaxNodes=%u: %s written, no SVG (dot would take too long)",
                   orrery_constellation_get_n_tasks (c), v->svg_max_nodes, path);
      v->svg_skip_said = TRUE;
      g_clear_pointer (&v->svg_pending, g_free);
      v->tpl_pending = FALSE;
    }
  else if (v->want_svg && v->dot_program != NULL)
    {
      g_autofree char *template = orrery_constellation_to_dot (c, ORRERY_DOT_TEMPLATE | ORRERY_DOT_LAYERS);

      /* A new structure (the run's first, or changed): its template, laid
       * out at once in the background, for the run's end to be patched in
       * (the state's SVG itself waits as before). */
      if (g_strcmp0 (template, v->tpl_dot) != 0)
        {
          g_free (v->tpl_dot);
          v->tpl_dot = g_steal_pointer (&template);
          v->tpl_n_tasks = orrery_constellation_get_n_tasks (c);
          v->tpl_ascii = text_is_ascii (v->tpl_dot);
          g_free (v->tpl_name);
          v->tpl_name = g_strconcat (stem, ".template.dot", NULL);
          v->tpl_pending = TRUE;
        }
      g_free (v->svg_dot_file);
      v->svg_dot_file = g_strdup (path);
      g_free (v->svg_pending);
      v->svg_pending = g_steal_pointer (&path);
      v->svg_pending_ascii = text_is_ascii (text);
      v->svg_full = FALSE;
      g_set_object (&v->svg_constellation, c);
      start_dot (v);
      svg_render_soon (v);
    }
}

/* ------------------------------------------------------------------------ */
/* Events */

static gboolean
visualizer_handle (OrreryEvent  *event,
                   gpointer      user_data,
                   GError      **error)
{
  Visualizer *v = user_data;
  OrreryEventType type = orrery_event_get_event_type (event);
  gdouble duration = -1;
  gboolean text = v->live || v->lines;

  if (ORRERY_EVENT_IS_TASK (event) && text)
    {
      OrreryEvent *te = event;
      const char *id = orrery_event_get_task_id (te);

      if (v->constellation == NULL && orrery_event_get_constellation (te) != NULL)
        v->constellation = g_object_ref (orrery_event_get_constellation (te));
      if (type == ORRERY_EVENT_TASK_STARTED)
        {
          Running *r = g_new0 (Running, 1);

          r->device = g_strdup (orrery_event_get_device_id (te));
          r->started_us = orrery_event_get_timestamp (event);
          r->started_mono = g_get_monotonic_time ();
          r->attempt = orrery_event_get_attempt (te);
          g_hash_table_replace (v->running, g_strdup (id), r);
          g_hash_table_remove (v->retrying, id);
        }
      else
        {
          Running *r = g_hash_table_lookup (v->running, id);

          if (type == ORRERY_EVENT_TASK_RETRYING)
            {
              Retrying *w = g_new0 (Retrying, 1);
              GVariant *data = orrery_event_get_data (event);
              guint delay_ms = 0;

              if (data != NULL && g_variant_is_of_type (data, G_VARIANT_TYPE_VARDICT))
                g_variant_lookup (data, "delay_ms", "u", &delay_ms);
              w->device = g_strdup (orrery_event_get_device_id (te));
              w->retry_mono = g_get_monotonic_time () + (gint64) delay_ms * 1000;
              w->next_attempt = orrery_event_get_attempt (te) + 1;
              g_hash_table_replace (v->retrying, g_strdup (id), w);
            }
          else
            g_hash_table_remove (v->retrying, id);
          if (r != NULL)
            {
              duration = (orrery_event_get_timestamp (event) - r->started_us) / (gdouble) G_USEC_PER_SEC;
              g_hash_table_remove (v->running, id);
            }
        }
    }
  else if (ORRERY_EVENT_IS_CONSTELLATION (event))
    {
      OrreryEvent *ce = event;
      OrreryConstellation *c = orrery_event_get_constellation (ce);

      switch (type)
        {
        case ORRERY_EVENT_CONSTELLATION_STARTED:
          g_set_object (&v->constellation, c);
          g_clear_pointer (&v->layers, g_variant_unref);
          g_hash_table_remove_all (v->running);
          g_hash_table_remove_all (v->retrying);
          g_clear_pointer (&v->final_text, g_free);
          v->run_start_mono = g_get_monotonic_time ();
          v->run_over = FALSE;
          v->svg_skip_said = FALSE;
          v->frame_lines = 0;
          if (c != NULL)
            write_dot (v, c);
          break;
        case ORRERY_EVENT_CONSTELLATION_MODIFIED:
          g_clear_pointer (&v->layers, g_variant_unref);
          if (c != NULL)
            write_dot (v, c);
          break;
        case ORRERY_EVENT_CONSTELLATION_COMPLETED:
        case ORRERY_EVENT_CONSTELLATION_FAILED:
        case ORRERY_EVENT_CONSTELLATION_CANCELLED:
          /* Over first: its graph is rendered at once, its lines flushed. */
          v->run_over = TRUE;
          if (c != NULL)
            write_dot (v, c);
          g_free (v->final_text);
          v->final_text = g_strdup_printf ("%s in %.2fs", orrery_event_get_type_nick (event),
                                           orrery_event_get_duration (ce));
          break;
        default:
          break;
        }
    }

  if (v->lines)
    write_line (v, event, duration);
  if (v->live && v->constellation != NULL)
    {
      if (v->run_over)
        {
          /* The last frame now, whole, before anyone prints below it. */
          disarm_timer (v);
          g_clear_pointer (&v->layers, g_variant_unref);
          draw_frame (v);
          v->frame_lines = 0;
        }
      else
        mark_dirty (v);
    }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Plugin */

static gboolean
visualizer_init (OrreryPluginContext  *context,
                 GError              **error)
{
  Visualizer *v;
  g_autofree char *live = NULL;
  g_autofree char *output_file = NULL;
  g_auto(GStrv) formats = NULL;
  gboolean lines, is_tty;
  guint64 rate = 0, dot_timeout = 0, max_nodes = 0;
  g_autofree char *dot_name = NULL;
  GError *local = NULL;
  g_autoptr(OrreryObserver) observer = NULL;
  const OrreryEventType dot_types[] = {
    ORRERY_EVENT_CONSTELLATION_STARTED, ORRERY_EVENT_CONSTELLATION_MODIFIED,
    ORRERY_EVENT_CONSTELLATION_COMPLETED, ORRERY_EVENT_CONSTELLATION_FAILED,
    ORRERY_EVENT_CONSTELLATION_CANCELLED,
  };

  live = orrery_plugin_context_get_string (context, "LiveView", "auto");
  if (g_strcmp0 (live, "auto") != 0 && g_strcmp0 (live, "on") != 0 && g_strcmp0 (live, "off") != 0)
    {
      g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_BAD_CONFIG,
                   "LiveView must be auto, on or off, not “%s”", live);
      return FALSE;
    }
  lines = orrery_plugin_context_get_boolean (context, "Lines", TRUE, &local);
  if (local == NULL)
    rate = orrery_plugin_context_get_uint (context, "RefreshRate", 20, &local);
  if (local == NULL)
    dot_timeout = orrery_plugin_context_get_uint (context, "DotTimeoutSec", 10, &local);
  if (local == NULL && (dot_timeout == 0 || dot_timeout > 3600))
    local = g_error_new (ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_BAD_CONFIG,
                         "DotTimeoutSec must be between 1 and 3600 seconds, not %" G_GUINT64_FORMAT, dot_timeout);
  if (local == NULL)
    max_nodes = orrery_plugin_context_get_uint (context, "SvgMaxNodes", 2000, &local);
  if (local != NULL)
    {
      g_propagate_error (error, local);
      return FALSE;
    }
  if (rate == 0 || rate > 100)
    {
      g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_BAD_CONFIG,
                   "RefreshRate must be between 1 and 100 frames a second, not %" G_GUINT64_FORMAT, rate);
      return FALSE;
    }

  v = g_new0 (Visualizer, 1);
  g_atomic_ref_count_init (&v->ref);
  v->running = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, running_free);
  v->retrying = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, retrying_free);
  v->frame_ms = (guint) (1000 / rate);
  v->dot_timeout_s = (guint) dot_timeout;
  v->svg_max_nodes = (guint) MIN (max_nodes, (guint64) G_MAXUINT);
  v->output_dir = orrery_plugin_context_get_string (context, "OutputDir", DEFAULT_OUTPUT_DIR);
  if (v->output_dir == NULL || v->output_dir[0] == '\0')
    {
      g_free (v->output_dir);
      v->output_dir = g_strdup (DEFAULT_OUTPUT_DIR);
    }
  formats = orrery_plugin_context_get_string_list (context, "Formats");
  if (formats == NULL)
    formats = g_strsplit ("dot;svg", ";", -1);
  for (guint i = 0; formats[i] != NULL; i++)
    {
      g_strstrip (formats[i]);
      if (g_ascii_strcasecmp (formats[i], "dot") == 0)
        v->want_dot = TRUE;
      else if (g_ascii_strcasecmp (formats[i], "svg") == 0)
        v->want_svg = TRUE;
      else if (formats[i][0] != '\0')
        {
          g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_BAD_CONFIG,
                       "Formats: unknown format “%s” (dot, svg)", formats[i]);
          visualizer_unref (v);
          return FALSE;
        }
    }
  if (v->want_svg)
    {
      dot_name = orrery_plugin_context_get_string (context, "DotProgram", "dot");
      v->dot_program = g_find_program_in_path (dot_name && *dot_name ? dot_name : "dot");
      if (v->dot_program == NULL)
        g_info ("Graphviz `%s` is not on PATH: no SVG, DOT only", dot_name && *dot_name ? dot_name : "dot");
    }

  /* Where text goes: OutputFile, or standard output. */
  output_file = orrery_plugin_context_get_string (context, "OutputFile", NULL);
  if (output_file != NULL && output_file[0] != '\0')
    {
      v->out = fopen (output_file, "w");
      if (v->out == NULL)
        {
          g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_INIT_FAILED,
                       "Cannot open OutputFile %s: %s", output_file, g_strerror (errno));
          visualizer_unref (v);
          return FALSE;
        }
      v->own_out = TRUE;
    }
  else
    v->out = stdout;
  v->fd = fileno (v->out);
  is_tty = isatty (v->fd);
  v->out_is_tty = is_tty;
  v->live = g_strcmp0 (live, "on") == 0 || (g_strcmp0 (live, "auto") == 0 && is_tty);
  v->lines = lines && !v->live;
  v->color = is_tty && g_getenv ("NO_COLOR") == NULL;

  orrery_plugin_context_set_data (context, v, (GDestroyNotify) visualizer_unref);

  if (v->live)
    live_view_own_log (v);
  if (v->live || v->lines)
    {
      observer = orrery_func_observer_new ("visualizer", visualizer_handle, v, NULL);
      orrery_plugin_context_add_observer (context, observer, NULL, 0, ORRERY_DELIVERY_SYNC, 0, 0);
    }
  else if (v->want_dot || v->want_svg)
    {
      observer = orrery_func_observer_new ("visualizer", visualizer_handle, v, NULL);
      orrery_plugin_context_add_observer (context, observer, dot_types, G_N_ELEMENTS (dot_types),
                                          ORRERY_DELIVERY_SYNC, 0, 0);
    }
  g_debug ("visualizer: live view %s, lines %s, colour %s, formats%s%s into %s",
           v->live ? "on" : "off", v->lines ? "on" : "off", v->color ? "on" : "off",
           v->want_dot ? " dot" : "", v->want_svg ? " svg" : "", v->output_dir);
  return TRUE;
}

static void
visualizer_shutdown (OrreryPluginContext *context)
{
  Visualizer *v = orrery_plugin_context_get_data (context);

  if (v == NULL)
    return;
  live_view_release_log (v);
  disarm_timer (v);
  if (v->live && v->cursor_hidden)
    {
      write_all (v->fd, "\033[?25h", strlen ("\033[?25h"));
      v->cursor_hidden = FALSE;
    }
  /* The last SVG, within DotTimeoutSec (or until a signal). */
  finish_svg (v);
  gv_remove (v);
  work_dir_remove (v);
  /* A pending on_dot_done holds its own reference and sees this flag. */
  v->shut_down = TRUE;
  lines_flush_now (v);
}

static const OrreryPluginKey visualizer_keys[] = {
  { "OutputDir", ORRERY_PLUGIN_KEY_STRING, DEFAULT_OUTPUT_DIR,
    "directory of the DOT and SVG files (created if missing)" },
  { "Formats", ORRERY_PLUGIN_KEY_STRING_LIST, "dot;svg",
    "graph files to write: dot, svg (svg needs Graphviz `dot` on PATH); empty for none" },
  { "LiveView", ORRERY_PLUGIN_KEY_STRING, "auto",
    "live view redrawn in place: auto (when the output is a terminal), on, off" },
  { "Lines", ORRERY_PLUGIN_KEY_BOOLEAN, "true",
    "one plain line per event when there is no live view" },
  { "OutputFile", ORRERY_PLUGIN_KEY_STRING, NULL,
    "write the text output to this file instead of standard output" },
  { "RefreshRate", ORRERY_PLUGIN_KEY_UINT, "20",
    "most live view frames per second (1-100)" },
  { "DotProgram", ORRERY_PLUGIN_KEY_STRING, "dot",
    "the Graphviz program that renders SVG: a name looked up in PATH, or a path" },
  { "DotTimeoutSec", ORRERY_PLUGIN_KEY_UINT, "10",
    "a `dot` render running longer is killed (no SVG), at the end of a run too (1-3600)" },
  { "SvgMaxNodes", ORRERY_PLUGIN_KEY_UINT, "2000",
    "a graph of more tasks gets its DOT file and no SVG" },
  { NULL }
};

ORRERY_PLUGIN_DEFINE ("visualizer", "1.0",
                      "Live view of the run in the terminal, plain lines elsewhere, DOT/SVG graphs",
                      visualizer_init, visualizer_shutdown, visualizer_keys)
