/* bench-local.c: running commands with `orrery run` against make and ninja.
 *
 * Two shapes: 1000 independent `true` and a chain of 300 `true`, each run
 * at -j2 by the real `orrery` program ($ORRERY) without plugins
 * (--no-plugins) and with the default plugins (data/orrery.conf, the
 * plugins of the build tree), by GNU make and by ninja, and once more
 * without plugins with JournalSync=none (the journal's share: its batch
 * fdatasync runs on the main context). The tools alternate
 * within each round (several rounds); for each run the wall time and the
 * CPU time of the whole process tree (user + system, from wait4()). One
 * JSON object per shape and tool, with medians, ms per task, and the
 * medians of the per-round ratios to make and to ninja; then one line with
 * the goals: without plugins at most 1.1x make, with the default plugins
 * at most 1.25x make, and the default plugins at most 1.15x the run
 * without them (wall; per-round ratios, the worst shape).
 *
 * With ORRERY_BENCH_BEFORE set to another build tree (say, of the commit
 * before a change), its orrery and plugins run in the same rounds too.
 *
 * Usage: bench-local [ROUNDS]  (default 5)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

enum { TOOL_ORRERY, TOOL_ORRERY_PLUGINS, TOOL_MAKE, TOOL_NINJA, TOOL_ORRERY_NOSYNC,
       TOOL_BEFORE, TOOL_BEFORE_PLUGINS, MAX_TOOLS };
static const char *tool_names[MAX_TOOLS] = { "orrery --no-plugins", "orrery (default plugins)",
                                             "make -j2", "ninja -j2",
                                             "orrery --no-plugins, JournalSync=none",
                                             "before: orrery --no-plugins",
                                             "before: orrery (default plugins)" };

typedef struct
{
  const char *name;
  guint       n;
  gboolean    chain;
} Shape;

static void
write_file (const char *path,
            GString    *text)
{
  g_autoptr(GError) error = NULL;

  if (!g_file_set_contents (path, text->str, text->len, &error))
    g_error ("%s", error->message);
}

/* The constellation, the makefile and the ninja file of @shape in @dir. */
static void
write_inputs (const char  *dir,
              const Shape *shape)
{
  g_autoptr(GString) json = g_string_new (NULL);
  g_autoptr(GString) mk = g_string_new ("all:");
  g_autoptr(GString) ninja = g_string_new ("rule t\n  command = true\n");
  g_autofree char *json_path = g_strdup_printf ("%s/%s.json", dir, shape->name);
  g_autofree char *mk_path = g_strdup_printf ("%s/%s.mk", dir, shape->name);
  g_autofree char *ninja_path = g_strdup_printf ("%s/%s.ninja", dir, shape->name);

  g_string_append_printf (json, "{\"constellation_id\": \"%s\", \"name\": \"%s\", \"tasks\": {",
                          shape->name, shape->name);
  for (guint i = 0; i < shape->n; i++)
    g_string_append_printf (json, "%s\"t%u\": {\"task_id\": \"t%u\", \"name\": \"t%u\", "
                            "\"task_data\": {\"command\": [\"true\"]}}",
                            i ? ", " : "", i, i, i);
  g_string_append (json, "}, \"dependencies\": {");
  for (guint i = 1; shape->chain && i < shape->n; i++)
    g_string_append_printf (json, "%s\"t%u->t%u\": {\"from_task_id\": \"t%u\", "
                            "\"to_task_id\": \"t%u\", \"dependency_type\": \"success_only\"}",
                            i > 1 ? ", " : "", i - 1, i, i - 1, i);
  g_string_append (json, "}}\n");

  for (guint i = 0; i < shape->n; i++)
    g_string_append_printf (mk, " t%u", i);
  g_string_append (mk, "\n");
  for (guint i = 0; i < shape->n; i++)
    {
      if (shape->chain && i > 0)
        g_string_append_printf (mk, "t%u: t%u\n\t@true\n", i, i - 1);
      else
        g_string_append_printf (mk, "t%u:\n\t@true\n", i);
      g_string_append_printf (ninja, "build t%u: t", i);
      if (shape->chain && i > 0)
        g_string_append_printf (ninja, " t%u", i - 1);
      g_string_append (ninja, "\n");
    }
  g_string_append (mk, ".PHONY: all");
  for (guint i = 0; i < shape->n; i++)
    g_string_append_printf (mk, " t%u", i);
  g_string_append (mk, "\n");

  write_file (json_path, json);
  write_file (mk_path, mk);
  write_file (ninja_path, ninja);
}

/* Runs @argv in @dir, output to /dev/null; wall and CPU seconds. */
static gboolean
run_timed (const char  *dir,
           char       **argv,
           double      *out_wall,
           double      *out_cpu)
{
  posix_spawn_file_actions_t fa;
  struct rusage ru;
  gint64 t0;
  pid_t pid;
  int status, err;
  g_autofree char *here = g_get_current_dir ();

  posix_spawn_file_actions_init (&fa);
  posix_spawn_file_actions_addopen (&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen (&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen (&fa, 2, "/dev/null", O_WRONLY, 0);
  if (chdir (dir) < 0)
    g_error ("cd %s: %s", dir, g_strerror (errno));
  t0 = g_get_monotonic_time ();
  err = posix_spawnp (&pid, argv[0], &fa, NULL, argv, environ);
  if (chdir (here) < 0)
    g_error ("cd %s: %s", here, g_strerror (errno));
  posix_spawn_file_actions_destroy (&fa);
  if (err != 0)
    {
      g_printerr ("bench-local: cannot run %s: %s\n", argv[0], g_strerror (err));
      return FALSE;
    }
  while (wait4 (pid, &status, 0, &ru) < 0)
    if (errno != EINTR)
      return FALSE;
  *out_wall = (g_get_monotonic_time () - t0) / 1e6;
  *out_cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
             ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    {
      g_printerr ("bench-local: %s failed (status %d)\n", argv[0], status);
      return FALSE;
    }
  return TRUE;
}

static int
compare (const void *a,
         const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

static double
median (double *v,
        guint   n)
{
  g_autofree double *copy = g_memdup2 (v, n * sizeof (double));

  qsort (copy, n, sizeof (double), compare);
  return n % 2 ? copy[n / 2] : (copy[n / 2 - 1] + copy[n / 2]) / 2;
}

int
main (int   argc,
      char *argv[])
{
  static const Shape shapes[] = {
    { "independent-1000", 1000, FALSE },
    { "chain-300", 300, TRUE },
  };
  guint rounds = argc > 1 ? (guint) atoi (argv[1]) : 5;
  const char *orrery = g_getenv ("ORRERY");
  const char *build_root = g_getenv ("ORRERY_BUILD_ROOT");
  const char *source_root = g_getenv ("ORRERY_SOURCE_ROOT");
  const char *before = g_getenv ("ORRERY_BENCH_BEFORE");
  guint n_tools = before != NULL && *before != '\0' ? MAX_TOOLS : TOOL_BEFORE;
  g_autofree char *before_orrery = before ? g_build_filename (before, "host", "orrery", NULL) : NULL;
  g_autofree char *dir = g_dir_make_tmp ("orrery-bench-local-XXXXXX", NULL);
  g_autofree char *conf = NULL;
  g_autofree char *plugins = NULL;
  g_autofree char *make = g_find_program_in_path ("make");
  g_autofree char *ninja = g_find_program_in_path ("ninja");
  double goal_plain = 0, goal_plugins = 0, goal_share = 0;
  g_autofree char *cleanup = NULL;
  g_autofree char *nosync_conf = NULL;

  if (orrery == NULL || build_root == NULL || source_root == NULL)
    {
      g_printerr ("bench-local: run it through meson (ORRERY, ORRERY_BUILD_ROOT, "
                  "ORRERY_SOURCE_ROOT)\n");
      return 77;
    }
  if (make == NULL || ninja == NULL)
    {
      g_printerr ("bench-local: needs make and ninja on PATH\n");
      return 77;
    }
  conf = g_build_filename (source_root, "data", "orrery.conf", NULL);
  plugins = g_build_filename (build_root, "plugins", NULL);
  rounds = MAX (rounds, 1);
  nosync_conf = g_build_filename (dir, "nosync.conf", NULL);
  {
    g_autoptr(GString) text = g_string_new ("[Host]\nJournalSync=none\n");

    write_file (nosync_conf, text);
  }

  for (gsize s = 0; s < G_N_ELEMENTS (shapes); s++)
    {
      const Shape *shape = &shapes[s];
      g_autofree char *json = g_strdup_printf ("%s.json", shape->name);
      g_autofree char *mk = g_strdup_printf ("%s.mk", shape->name);
      g_autofree char *nj = g_strdup_printf ("%s.ninja", shape->name);
      g_autofree char *p_vis = g_build_filename (plugins, "visualizer", NULL);
      g_autofree char *p_met = g_build_filename (plugins, "metrics", NULL);
      g_autofree char *p_syn = g_build_filename (plugins, "synchronizer", NULL);
      g_autofree char *p_fail = g_build_filename (plugins, "failure-monitor", NULL);
      char *cmd_plain[] = { (char *) orrery, "run", "--no-plugins", "-j", "2", json, NULL };
      char *cmd_plugins[] = { (char *) orrery, "run", "-c", conf, "--no-default-path",
                              "-P", p_vis, "-P", p_met, "-P", p_syn, "-P", p_fail,
                              "-j", "2", json, NULL };
      char *cmd_make[] = { make, "-s", "-j2", "-f", mk, NULL };
      char *cmd_ninja[] = { ninja, "-j2", "-f", nj, NULL };
      char *cmd_nosync[] = { (char *) orrery, "run", "--no-plugins", "--no-default-path", "-c",
                             nosync_conf, "-j", "2", json, NULL };
      g_autofree char *b_vis = before ? g_build_filename (before, "plugins", "visualizer", NULL) : NULL;
      g_autofree char *b_met = before ? g_build_filename (before, "plugins", "metrics", NULL) : NULL;
      g_autofree char *b_syn = before ? g_build_filename (before, "plugins", "synchronizer", NULL) : NULL;
      g_autofree char *b_fail = before ? g_build_filename (before, "plugins", "failure-monitor", NULL) : NULL;
      char *cmd_before[] = { before_orrery, "run", "--no-plugins", "-j", "2", json, NULL };
      char *cmd_before_plugins[] = { before_orrery, "run", "-c", conf, "--no-default-path",
                                     "-P", b_vis, "-P", b_met, "-P", b_syn, "-P", b_fail,
                                     "-j", "2", json, NULL };
      char **cmds[MAX_TOOLS] = { cmd_plain, cmd_plugins, cmd_make, cmd_ninja, cmd_nosync,
                                 cmd_before, cmd_before_plugins };
      g_autofree double *wall = g_new0 (double, MAX_TOOLS * rounds);
      g_autofree double *cpu = g_new0 (double, MAX_TOOLS * rounds);
      g_autofree double *ratio = g_new0 (double, rounds);

      write_inputs (dir, shape);
      for (guint r = 0; r < rounds; r++)
        for (guint k = 0; k < n_tools; k++)
          {
            /* Interleaved, and the order turns each round. */
            guint t = (k + r) % n_tools;

            if (!run_timed (dir, cmds[t], &wall[t * rounds + r], &cpu[t * rounds + r]))
              return 1;
          }

      for (guint t = 0; t < n_tools; t++)
        {
          double w = median (&wall[t * rounds], rounds);
          double c = median (&cpu[t * rounds], rounds);
          double wm, cm, wn, cn;

          for (guint r = 0; r < rounds; r++)
            ratio[r] = wall[t * rounds + r] / wall[TOOL_MAKE * rounds + r];
          wm = median (ratio, rounds);
          for (guint r = 0; r < rounds; r++)
            ratio[r] = cpu[t * rounds + r] / cpu[TOOL_MAKE * rounds + r];
          cm = median (ratio, rounds);
          for (guint r = 0; r < rounds; r++)
            ratio[r] = wall[t * rounds + r] / wall[TOOL_NINJA * rounds + r];
          wn = median (ratio, rounds);
          for (guint r = 0; r < rounds; r++)
            ratio[r] = cpu[t * rounds + r] / cpu[TOOL_NINJA * rounds + r];
          cn = median (ratio, rounds);
          printf ("{\"bench\": \"local\", \"shape\": \"%s\", \"tool\": \"%s\", \"tasks\": %u, "
                  "\"rounds\": %u, \"wall_s\": %.3f, \"cpu_s\": %.3f, \"ms_per_task\": %.3f, "
                  "\"cpu_ms_per_task\": %.3f, \"wall_vs_make\": %.2f, \"cpu_vs_make\": %.2f, "
                  "\"wall_vs_ninja\": %.2f, \"cpu_vs_ninja\": %.2f}\n",
                  shape->name, tool_names[t], shape->n, rounds, w, c, w * 1000 / shape->n,
                  c * 1000 / shape->n, wm, cm, wn, cn);
          if (t == TOOL_ORRERY)
            goal_plain = MAX (goal_plain, wm);
          else if (t == TOOL_ORRERY_PLUGINS)
            goal_plugins = MAX (goal_plugins, wm);
          fflush (stdout);
        }
      /* The plugins' share: the default-plugin run against the plugin-less
       * one of the same round. */
      for (guint r = 0; r < rounds; r++)
        ratio[r] = wall[TOOL_ORRERY_PLUGINS * rounds + r] / wall[TOOL_ORRERY * rounds + r];
      goal_share = MAX (goal_share, median (ratio, rounds));
    }
  printf ("{\"bench\": \"local-goals\", \"worst_wall_vs_make_no_plugins\": %.2f, "
          "\"goal_no_plugins\": 1.10, \"met_no_plugins\": %s, "
          "\"worst_wall_vs_make_default_plugins\": %.2f, \"goal_default_plugins\": 1.25, "
          "\"met_default_plugins\": %s, \"worst_wall_default_vs_no_plugins\": %.2f, "
          "\"goal_default_vs_no_plugins\": 1.15, \"met_default_vs_no_plugins\": %s}\n",
          goal_plain, goal_plain <= 1.10 ? "true" : "false",
          goal_plugins, goal_plugins <= 1.25 ? "true" : "false",
          goal_share, goal_share <= 1.15 ? "true" : "false");
  cleanup = g_strdup_printf ("rm -rf '%s'", dir);
  return system (cleanup) == 0 ? 0 : 1;
}
