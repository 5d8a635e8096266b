/* orrery-host.h: what the host's commands share.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <orrery.h>

G_BEGIN_DECLS

/* Exit statuses (docs/architecture.md, section 10). */
enum {
  ORRERY_EXIT_OK = 0,
  ORRERY_EXIT_RUN_FAILED = 1,
  ORRERY_EXIT_USAGE = 2,
  ORRERY_EXIT_INVALID = 3,
};

typedef struct
{
  const char *name;
  const char *summary;
  /* argv[0] is the command's name. */
  int (*run) (int argc, char **argv);
} OrreryHostCommand;

int orrery_host_cmd_version (int argc, char **argv);
int orrery_host_cmd_run (int argc, char **argv);
int orrery_host_cmd_validate (int argc, char **argv);
int orrery_host_cmd_show (int argc, char **argv);
int orrery_host_cmd_plugins (int argc, char **argv);
/* orrery-cmd-worker.c: runs the redis plugin's worker program. */
int orrery_host_cmd_worker (int argc, char **argv);
/* A journal on a Redis stream (orrery-cmd-worker.c): `run --journal URL`
 * writes into a pipe to the redis plugin's helper; watch, replay, resume and
 * serve of `URL --run RUN_ID` read a local copy. */
gboolean orrery_host_journal_is_remote     (const char     *arg);
char    *orrery_host_redact_url            (const char     *url);
int      orrery_host_remote_journal_open   (const char     *url,
                                            const char     *run_id,
                                            OrreryConfig   *config,
                                            GSubprocess   **out_helper,
                                            GError        **error);
int      orrery_host_remote_journal_close  (GSubprocess    *helper,
                                            int             fd,
                                            int             status);
gboolean orrery_host_remote_journal_args   (int            *argc,
                                            char         ***argv,
                                            GError        **error);
int orrery_host_cmd_help (int argc, char **argv);

/* A usage error of @command (orrery-main.c): "orrery COMMAND: MESSAGE",
 * the command's usage line taken from @context (nullable), and where its
 * options are described. The caller returns ORRERY_EXIT_USAGE. */
void orrery_host_usage_error (GOptionContext *context,
                              const char     *command,
                              const char     *message);

/* What a constellation read from standard input is called in messages. */
#define ORRERY_HOST_STDIN_NAME "(standard input)"

/* Loads the constellation in @file, or from standard input for "-". */
OrreryConstellation *orrery_host_load_constellation (const char  *file,
                                                     GError     **error);

/* One line of an SDK message on stderr, with what is still unsafe escaped
 * (orrery-cmd-validate.c). */
void  orrery_host_print_escaped_line (const char *line);

/* The task data of the tasks bound for a local device, checked as the
 * device would (orrery-cmd-validate.c): prints each problem after @prefix
 * and returns how many there were. */
guint orrery_host_check_task_data (OrreryConstellation *c,
                                   const char          *prefix,
                                   const char          *file);

/* The devices of the configuration's [Device ID] groups, or the default
 * local device if it has none (orrery-cmd-run.c). */
gboolean orrery_host_devices_from_config (OrreryDeviceManager  *devices,
                                          OrreryConfig         *config,
                                          GError              **error);

/* Checks every task of @c against @devices (orrery-cmd-dry-run.c): an
 * unknown target device, no device able to take it, task data a local
 * device that could take it would refuse. Prints each problem as
 * "PREFIXFILE: SEVERITY: ..." and returns how many there were. */
guint orrery_host_check_devices (OrreryConstellation *c,
                                 OrreryDeviceManager *devices,
                                 const char          *prefix,
                                 const char          *file,
                                 const char          *severity);

/* `orrery run --dry-run` (orrery-cmd-dry-run.c): prints in dispatch order
 * what would run where; runs nothing. Returns the exit status: 0, 1 when
 * some task would fail for want of a device or with its data, 2 for a
 * configuration error. @strategy is nullable ([Host] Strategy). */
/* The device kinds that enabled plugins declare (orrery-host-kinds.c), as
 * stand-ins on @devices, for commands that load no plugin: placed on, never
 * executed. Returns how many kinds were added. */
guint       orrery_host_add_declared_kinds     (OrreryDeviceManager *devices,
                                                OrreryConfig        *config);
/* The plugin a stand-in device stands for, or NULL for a real device. */
const char *orrery_host_device_stand_in_plugin (OrreryDevice        *device);

int orrery_host_dry_run (OrreryConstellation *c,
                         OrreryConfig        *config,
                         const char          *strategy,
                         const char          *file);

/* Options shared by the commands that load plugins (orrery-cmd-plugins.c):
 * --config, --plugin-path, --set, --enable, --disable, --isolate,
 * --no-default-path. */
typedef struct
{
  char     *config_file;
  char    **plugin_path;
  char    **sets;
  char    **enables;
  char    **disables;
  char    **isolates;
  gboolean  no_default_path;
} OrreryHostPluginOptions;

void                orrery_host_plugin_options_add         (GOptionContext          *context,
                                                            OrreryHostPluginOptions *options);
void                orrery_host_plugin_options_clear       (OrreryHostPluginOptions *options);
OrreryConfig       *orrery_host_plugin_options_load_config (OrreryHostPluginOptions *options,
                                                            GError                 **error);
OrreryPluginEngine *orrery_host_plugin_options_new_engine  (OrreryHostPluginOptions *options,
                                                            OrreryEventBus          *bus,
                                                            OrreryConfig            *config);
/* A plugin named by --enable, --set or --isolate that @engine (checked or
 * loaded) did not find: an error (a usage error, exit status 2). */
gboolean            orrery_host_plugin_options_check_names (OrreryHostPluginOptions  *options,
                                                            OrreryPluginEngine       *engine,
                                                            GError                  **error);
/* The same with an engine of its own that only checks the plugins (runs
 * none of their code), for commands that load them later. */
gboolean            orrery_host_plugin_options_check_names_early (OrreryHostPluginOptions  *options,
                                                                  OrreryConfig             *config,
                                                                  GError                  **error);

/* Runs and their directories (orrery-cmd-run.c). */
#define ORRERY_HOST_DEFAULT_OUTPUT_DIR "orrery-output"
#define ORRERY_HOST_JOURNAL_NAME       "journal.jsonl"

typedef struct
{
  const char              *command;          /* for messages: "run", "resume" */
  OrreryHostPluginOptions *options;
  OrreryConfig            *config;
  OrreryConstellation     *constellation;
  const char              *strategy;
  gint                     max_concurrency;
  gboolean                 no_plugins;
  OrreryJournal           *journal;          /* opened, not yet attached */
  OrreryJournal           *second_journal;   /* nullable: the run directory's, with --journal - */
  const char              *run_id;
  const char              *run_dir;
} OrreryHostRun;

int       orrery_host_run                  (OrreryHostRun  *run);
char     *orrery_host_output_dir           (OrreryConfig   *config);
void      orrery_host_plugins_into_run_dir (OrreryConfig   *config,
                                            const char     *run_dir);
gboolean  orrery_host_apply_journal_sync   (OrreryJournal  *journal,
                                            OrreryConfig   *config,
                                            GError        **error);
char     *orrery_host_resolve_journal      (const char     *arg,
                                            gboolean        last,
                                            OrreryConfig   *config,
                                            const char     *command,
                                            GError        **error);

int orrery_host_cmd_resume (int argc, char **argv);
int orrery_host_cmd_replay (int argc, char **argv);
int orrery_host_cmd_watch (int argc, char **argv);
int orrery_host_cmd_serve (int argc, char **argv);

G_END_DECLS
