/* orrery-local-device.c: a device that runs commands on this machine.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define _GNU_SOURCE
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-Devices"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <pthread.h>
#include <sched.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "orrery-constellation-private.h"
#include "orrery-device-private.h"

#define KILL_GRACE_MS 200
#define DRAIN_GRACE_MS 1000
#define READ_CHUNK (64 * 1024)
#define OUTPUTS_MAX_BYTES (1024 * 1024)
#define OUTPUTS_MAX_DEPTH 64
/* GVariant keeps 128 levels (GLib's G_VARIANT_MAX_RECURSION_DEPTH, not
 * public), nested variants included; result.outputs sits 3 of them down in
 * the task's result (a{sv}). */
#define OUTPUTS_MAX_VARIANT_DEPTH (128 - 3)
#define TOKEN_VAR "ORRERY_TASK_TOKEN"
#define MAX_TREE 65536

struct _OrreryLocalDevice
{
  OrreryBaseDevice parent_instance;

  gsize            max_output_bytes;
  guint64          log_max_bytes;
  char            *logs_dir_made;   /* the logs/ directory known to exist */
  struct _ProcessLog *plog;         /* its processes file */
};

/**
 * OrreryLocalDevice:
 *
 * A device that runs commands on this machine.
 *
 * Each execution is one process started by clone(CLONE_VM | CLONE_VFORK),
 * as posix_spawn() does (no copy of this process's memory), in a process
 * group of its own, with stdin on /dev/null and stdout and stderr on two
 * pipes; the pipes and the leader's pidfd are one source on the caller's
 * main context, and so are the timeout and the cancellation: no thread, no
 * SIGCHLD handler, no blocking wait, no
 * polling. Without a run directory the output is kept in bounded buffers
 * (the rest is read and dropped, so the child never blocks on a full
 * pipe); with one (orrery_base_device_set_run()) it is also written, as it
 * comes, to RUN_DIR/logs/ID.ATTEMPT.stdout and .stderr (up to a cap; each
 * file created at its first byte), and the result keeps the tail.
 *
 * The task's environment carries ORRERY_RUN_ID, ORRERY_CONSTELLATION_ID,
 * ORRERY_TASK_ID, ORRERY_ATTEMPT, ORRERY_OUTPUTS (a path in a private
 * directory where nothing is yet; a JSON object written there becomes
 * result.outputs) and ORRERY_TASK_TOKEN, a
 * tag unique to the execution that every descendant inherits.
 *
 * Process lifetime:
 * - The leader gets PR_SET_PDEATHSIG (SIGKILL) before exec, so it dies
 *   with this process even on a SIGKILL. The kernel sends it when the
 *   *thread* that forked exits, so it is set only when spawning from the
 *   main thread (the orchestrator's).
 * - This process makes itself a child subreaper (PR_SET_CHILD_SUBREAPER)
 *   at the first execution of any local device: a descendant whose parent
 *   dies (a `setsid cmd &`, a double-forked daemon) is re-parented here
 *   instead of to init, so it can still be found, killed and reaped. Set
 *   here rather than in the host so that every SDK user (Python scripts,
 *   tests) gets it; the cost is that orphans of other children of the
 *   process come here too (they are left alone: see below).
 * - Finding a task's processes: its process group (the leader's pid) and
 *   the token in /proc/PID/environ. On a timeout or a cancel, the leader's
 *   process tree is walked and the processes that left the group get
 *   SIGTERM with the group. When the leader has exited, the group gets
 *   SIGKILL, and so does every child of this process (from
 *   /proc/self/task/TID/children of the threads that start executions and
 *   the main one, where adopted orphans go) that is in the group or
 *   carries the token,
 *   with its whole subtree; the execution completes once those are reaped.
 *   A child carrying the token of an execution that ended is killed at
 *   the next sweep (one runs at every task end and whenever a process
 *   being reaped exits).
 * - Reaping without racing GLib: a leader is reaped through its pidfd
 *   (waitid(P_PIDFD)), or GLib's child watch for its pid where pidfds are
 *   missing; GLib's own child watches wait only for the pids they watch.
 *   The processes killed or adopted here are
 *   kept in a table with their start times and a pidfd each; when one
 *   exits, a sweep waitpid()s, by pid, those that are now zombie children
 *   of this process. Nothing here ever calls waitpid(-1) or touches a
 *   child that belongs to neither a group nor a token of ours.
 * - With a run directory, RUN_DIR/logs/processes holds a line
 *   `PID STARTTIME PGID TOKEN` per running execution (a slot of 128
 *   bytes, written by the child before exec, blanked when the execution
 *   ends); orrery_local_device_kill_survivors() reads it after a crash.
 *
 * Known limit: an escaped process that exits on its own *after* being
 * adopted here but before any sweep saw it alive is a zombie nothing can
 * attribute (a zombie has no environment); it stays until this process
 * exits. Same for the orphans of children that are not tasks.
 */
G_DEFINE_FINAL_TYPE (OrreryLocalDevice, orrery_local_device, ORRERY_TYPE_BASE_DEVICE)

enum {
  PROP_0,
  PROP_MAX_OUTPUT_BYTES,
  PROP_LOG_MAX_BYTES,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* ------------------------------------------------------------------------ */
/* One execution. */

typedef enum {
  STOP_NONE,
  STOP_TIMEOUT,
  STOP_CANCEL,
} StopReason;

typedef struct _Run Run;

typedef struct
{
  Run          *run;
  const char   *name;       /* "stdout" or "stderr" */
  int           pipe_fd;    /* the read end, or -1 once closed */
  gpointer      tag;        /* its entry in the execution's source */
  GByteArray   *data;       /* the head (no log) or the tail (log) */
  gboolean      truncated;  /* data does not hold everything */
  gboolean      done;
  guint64       total;      /* bytes read */
  int           fd;         /* the log file once opened, or -1 */
  char         *path;       /* its name (a run directory), created at the first byte */
  gboolean      created;    /* the log file exists */
  guint64       written;
  gboolean      log_truncated;
  char         *log_error;  /* why writing the log failed */
} Output;

struct _Run
{
  GTask             *task;       /* owned until completion */
  OrreryLocalDevice *device;
  char              *task_id;
  GPid               pid;        /* also the process group id */
  int                pidfd;      /* -1 without pidfds */
  guint              seq;        /* the token's number */
  gint64             started_us;
  gint64             ended_us;   /* the exit seen */
  OrreryTask        *task_obj;   /* for its device times */
  double             timeout;
  gsize              limit;
  guint64            log_cap;

  Output             out;
  Output             err;

  char              *outputs_path;
  const char        *outputs_name;  /* its last part, in the logs directory (run dir) */
  gboolean           outputs_temporary;  /* removed at the end (no run dir) */
  struct _ProcessLog *plog;          /* the process record's file (run dir) */
  guint              slot;            /* the record's slot there */

  GSource           *io_source;  /* the pipes and the pidfd, on the task's context */
  gpointer           pid_tag;
  GSource           *child_watch;  /* without a pidfd */
  GSource           *timeout_source;
  GSource           *cancel_source;
  GSource           *grace_source;
  GSource           *drain_source;

  StopReason         stop;
  gboolean           exited;
  int                exit_status;  /* -1 when killed */
  int                term_signal;  /* 0 unless killed by a signal */
  gboolean           drained;    /* gave up waiting for pipes and processes */
  gboolean           completed;
  guint              n_pending;  /* processes of this run waiting to be reaped */

  GVariant          *result;     /* handed to execute_finish() */
};

typedef struct
{
  GSource  source;
  Run     *run;
} RunSource;

static void maybe_complete (Run *run);
static int fd_above_stdio (int fd);

/* RUN_DIR/logs/processes: the process records of the executions running
 * with that run directory, one slot of RECORD_SLOT bytes each, a line
 * `PID STARTTIME PGID TOKEN` padded with spaces; a slot whose execution
 * ended is all spaces (and is used again). One file for every execution
 * rather than a file each: creating and removing a file costs more than
 * the command `true` on some file systems, a pwrite() of a slot does not.
 * Shared by the local devices of the process that use the same run
 * directory (the slots are handed out under the registry lock). */
#define RECORD_SLOT 128
#define PROCESS_LOG_NAME "processes"

typedef struct _ProcessLog
{
  char    *path;
  int      fd;
  int      dir_fd;      /* the logs directory (O_PATH), or -1 */
  guint    refs;        /* devices and executions using it */
  guint    n_slots;     /* the file's slots (those past the end are free) */
  GArray  *free_slots;  /* guint */
  /* The outputs files: with a logs directory this process made or found
   * empty, only the names in `outputs` (executions that left a file) can
   * be taken; in another one, any. */
  gboolean     made_here;
  GHashTable  *outputs;  /* paths */
} ProcessLog;

static ProcessLog *process_log_acquire (const char *logs, gboolean made_here, GError **error);
static void process_log_unref (ProcessLog *plog);
static void process_log_take_slot (ProcessLog *plog, guint *out_slot);
static void process_log_release (ProcessLog *plog, guint slot);

static void
destroy_source (GSource **source)
{
  if (*source)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

static void
output_clear (Output *out)
{
  if (out->pipe_fd >= 0)
    close (out->pipe_fd);
  out->pipe_fd = -1;
  g_clear_pointer (&out->data, g_byte_array_unref);
  if (out->fd >= 0)
    close (out->fd);
  out->fd = -1;
  g_clear_pointer (&out->path, g_free);
  g_clear_pointer (&out->log_error, g_free);
}

static void
run_free (Run *run)
{
  g_assert (run->timeout_source == NULL && run->cancel_source == NULL &&
            run->grace_source == NULL && run->drain_source == NULL);
  destroy_source (&run->io_source);
  destroy_source (&run->child_watch);
  output_clear (&run->out);
  output_clear (&run->err);
  if (run->pidfd >= 0)
    close (run->pidfd);
  g_clear_object (&run->device);
  g_clear_pointer (&run->result, g_variant_unref);
  g_free (run->outputs_path);
  if (run->plog != NULL)
    process_log_release (run->plog, run->slot);
  g_clear_object (&run->task_obj);
  g_free (run->task_id);
  g_free (run);
}

static GSource *
attach_timeout (guint        ms,
                GSourceFunc  func,
                Run         *run)
{
  GSource *source = g_timeout_source_new (ms);

  g_source_set_callback (source, func, run, NULL);
  g_source_set_static_name (source, "[orrery] local device");
  g_source_attach (source, g_task_get_context (run->task));
  return source;
}

/* ------------------------------------------------------------------------ */
/* Processes: /proc, the executions' registry and the reaper. */

typedef struct
{
  pid_t   ppid;
  pid_t   pgid;
  char    state;
  guint64 start;   /* field 22 of /proc/PID/stat: clock ticks after boot */
} ProcStat;

static gboolean
read_proc_stat (pid_t     pid,
                ProcStat *st)
{
  char path[64], buf[1024];
  const char *p;
  ssize_t n;
  int fd;

  g_snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return FALSE;
  do
    n = read (fd, buf, sizeof buf - 1);
  while (n < 0 && errno == EINTR);
  close (fd);
  if (n <= 0)
    return FALSE;
  buf[n] = '\0';
  p = strrchr (buf, ')');
  if (p == NULL)
    return FALSE;
  {
    int ppid = 0, pgid = 0;
    unsigned long long start = 0;

    if (sscanf (p + 1, " %c %d %d %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu",
                &st->state, &ppid, &pgid, &start) != 4)
      return FALSE;
    st->ppid = ppid;
    st->pgid = pgid;
    st->start = start;
  }
  return TRUE;
}

/* The start time of @pid, or 0 if it is gone. */
static guint64
proc_start_time (pid_t pid)
{
  ProcStat st;

  return read_proc_stat (pid, &st) ? st.start : 0;
}

/* Appends the children of every thread of @pid to @out. */
static void
list_children (pid_t   pid,
               GArray *out)
{
  char path[64];
  DIR *dir;
  struct dirent *entry;

  g_snprintf (path, sizeof path, "/proc/%d/task", (int) pid);
  dir = opendir (path);
  if (dir == NULL)
    return;
  while ((entry = readdir (dir)) != NULL)
    {
      g_autofree char *file = NULL;
      g_autofree char *text = NULL;
      char *p, *end;

      if (entry->d_name[0] < '0' || entry->d_name[0] > '9')
        continue;
      file = g_strdup_printf ("/proc/%d/task/%s/children", (int) pid, entry->d_name);
      if (!g_file_get_contents (file, &text, NULL, NULL))
        continue;
      for (p = text; *p; p = end)
        {
          gint64 child = g_ascii_strtoll (p, &end, 10);

          if (end == p)
            break;
          if (child > 0)
            {
              pid_t c = (pid_t) child;
              g_array_append_val (out, c);
            }
        }
    }
  closedir (dir);
}

/* getpid() and gettid() are system calls (glibc caches neither), asked
 * five times a task: cached, the thread's id per thread. A fork()ed child
 * forgets both (pthread_atfork); the child of a clone() here never asks. */
static int cached_pid;
static __thread pid_t cached_tid;

static void
forget_ids (void)
{
  g_atomic_int_set (&cached_pid, 0);
  cached_tid = 0;
}

static pid_t
self_pid (void)
{
  static gsize once;
  pid_t pid = (pid_t) g_atomic_int_get (&cached_pid);

  if (G_LIKELY (pid != 0))
    return pid;
  if (g_once_init_enter (&once))
    {
      pthread_atfork (NULL, NULL, forget_ids);
      g_once_init_leave (&once, 1);
    }
  pid = getpid ();
  g_atomic_int_set (&cached_pid, (int) pid);
  return pid;
}

static pid_t
self_tid (void)
{
  if (G_UNLIKELY (cached_tid == 0))
    {
      self_pid ();   /* registers the fork handler */
      cached_tid = (pid_t) syscall (SYS_gettid);
    }
  return cached_tid;
}

/* Appends the pids in /proc/self/task/@tid/children to @out; FALSE if that
 * thread is gone. Plain system calls and a stack buffer: this runs at every
 * task end. */
static gboolean
read_thread_children (pid_t   tid,
                      GArray *out)
{
  /* The main thread's list is read at every task end: its file stays
   * open (a pread() from offset 0 makes the kernel list them again), one
   * system call where an open, two reads and a close were four. Reopened
   * in a forked child. */
  static int main_fd = -1;
  static pid_t main_fd_pid;
  char path[64], buf[4096];
  guint64 value = 0;
  gboolean in_number = FALSE;
  gboolean keep = FALSE;
  off_t offset = 0;
  ssize_t n;
  int fd = -1;

  if (tid == self_pid ())
    {
      if (main_fd >= 0 && main_fd_pid != tid)
        main_fd = -1;  /* the parent's, in a forked child: not ours to close */
      if (main_fd < 0)
        {
          g_snprintf (path, sizeof path, "/proc/self/task/%d/children", (int) tid);
          main_fd = fd_above_stdio (open (path, O_RDONLY | O_CLOEXEC));
          main_fd_pid = tid;
        }
      fd = main_fd;
      keep = TRUE;
    }
  else
    {
      g_snprintf (path, sizeof path, "/proc/self/task/%d/children", (int) tid);
      fd = open (path, O_RDONLY | O_CLOEXEC);
    }
  if (fd < 0)
    return FALSE;
  for (;;)
    {
      do
        n = pread (fd, buf, sizeof buf, offset);
      while (n < 0 && errno == EINTR);
      if (n <= 0)
        break;
      offset += n;
      for (ssize_t i = 0; i < n; i++)
        {
          if (buf[i] >= '0' && buf[i] <= '9')
            {
              value = value * 10 + (guint64) (buf[i] - '0');
              in_number = TRUE;
            }
          else if (in_number)
            {
              pid_t c = (pid_t) value;

              if (c > 0)
                g_array_append_val (out, c);
              value = 0;
              in_number = FALSE;
            }
        }
      /* The kernel fills the buffer but for less than one entry unless
       * the list ends: a shorter read is the end. */
      if (n < (ssize_t) sizeof buf - 32)
        break;
    }
  if (in_number && value > 0)
    {
      pid_t c = (pid_t) value;

      g_array_append_val (out, c);
    }
  if (!keep)
    close (fd);
  return TRUE;
}

/* The threads that started executions (under the registry lock). A
 * leader is a child of the thread that started it; an orphan adopted by
 * this subreaper goes to the first live thread of the process, the main
 * one while it lives. Reading those threads' children is enough; when one
 * of them has gone, its children moved to another thread and every thread
 * is read from then on. */
static GArray *spawn_tids;
static gboolean children_anywhere;

static void
note_spawn_thread (pid_t tid)
{
  if (spawn_tids == NULL)
    {
      pid_t main_tid = self_pid ();

      spawn_tids = g_array_new (FALSE, FALSE, sizeof (pid_t));
      g_array_append_val (spawn_tids, main_tid);
    }
  for (guint i = 0; i < spawn_tids->len; i++)
    if (g_array_index (spawn_tids, pid_t, i) == tid)
      return;
  g_array_append_val (spawn_tids, tid);
}

/* The children of this process, as far as executions are concerned. */
static void
list_own_children (GArray *out)
{
  if (!children_anywhere && spawn_tids != NULL)
    {
      guint i;

      for (i = 0; i < spawn_tids->len; i++)
        if (!read_thread_children (g_array_index (spawn_tids, pid_t, i), out))
          break;
      if (i == spawn_tids->len)
        return;
      children_anywhere = TRUE;
      g_array_set_size (out, 0);
    }
  list_children (self_pid (), out);
}

/* The value of ORRERY_TASK_TOKEN in the environment of @pid, or NULL (gone,
 * a zombie, another user's, or not set). */
static char *
read_token (pid_t     pid,
            gboolean *out_empty)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/environ", (int) pid);
  g_autofree char *env = NULL;
  gsize len = 0;
  const char *key = TOKEN_VAR "=";
  gsize key_len = strlen (key);

  if (out_empty)
    *out_empty = FALSE;
  if (!g_file_get_contents (path, &env, &len, NULL) || len == 0)
    {
      /* Also what a process in the middle of an execve() shows. */
      if (out_empty)
        *out_empty = TRUE;
      return NULL;
    }
  for (gsize i = 0; i < len; )
    {
      const char *entry = env + i;
      gsize n = strnlen (entry, len - i);

      if (n > key_len && memcmp (entry, key, key_len) == 0)
        return g_strndup (entry + key_len, n - key_len);
      i += n + 1;
    }
  return NULL;
}

/* Tokens: PREFIX-SEQ, PREFIX naming this process (pid, start time, a
 * random part), SEQ the execution. */
static const char *
token_prefix (void)
{
  static gsize prefix;

  if (g_once_init_enter (&prefix))
    {
      char *p = g_strdup_printf ("%d.%" G_GUINT64_FORMAT ".%08x", (int) getpid (),
                                 proc_start_time (getpid ()), g_random_int ());
      g_once_init_leave (&prefix, (gsize) p);
    }
  return (const char *) prefix;
}

/* Whether @token is one of ours; its execution number in @out_seq. */
static gboolean
token_is_ours (const char *token,
               guint      *out_seq)
{
  const char *prefix = token_prefix ();
  gsize len = strlen (prefix);
  guint64 seq;

  if (token == NULL || strncmp (token, prefix, len) != 0 || token[len] != '-')
    return FALSE;
  if (!g_ascii_string_to_unsigned (token + len + 1, 10, 1, G_MAXUINT, &seq, NULL))
    return FALSE;
  *out_seq = (guint) seq;
  return TRUE;
}

/* A process being watched until it is reaped: killed, or adopted from a
 * running execution (then killed when that one ends). */
typedef struct
{
  pid_t     pid;
  guint64   start;
  guint     owner;     /* the execution's seq; 0: none left */
  gboolean  killed;
  gboolean  polled;    /* no pidfd could be had */
  int       pidfd;
  GSource  *source;
} Tracked;

/* The registry, shared by every local device of the process. Executions
 * run on one main context; the lock only keeps the tables whole. */
G_LOCK_DEFINE_STATIC (registry);
static GHashTable *by_leader;  /* pid -> Run, until completion */
static GHashTable *by_seq;     /* seq -> Run, until completion */
static GHashTable *tracked;    /* pid -> Tracked */
static GHashTable *unsure;     /* pid -> how many times it showed no environment */
#define UNSURE_TRIES 8
static gboolean unsure_pending;  /* the last sweep will look again */
static guint next_seq;

static void sweep (void);

static void
registry_init (void)
{
  if (by_leader == NULL)
    {
      by_leader = g_hash_table_new (NULL, NULL);
      by_seq = g_hash_table_new (NULL, NULL);
      tracked = g_hash_table_new (NULL, NULL);
      unsure = g_hash_table_new (NULL, NULL);
    }
}

static GHashTable *process_logs;  /* path -> ProcessLog, while used */

/* The processes file of the logs directory @logs (which exists), opened
 * (created, 0600) at the first use; a reference for the caller. Records
 * already there (a host that died, not resumed) are kept: their slots are
 * not handed out again. */
static ProcessLog *
process_log_acquire (const char  *logs,
                     gboolean     made_here,
                     GError     **error)
{
  g_autofree char *path = g_build_filename (logs, PROCESS_LOG_NAME, NULL);
  ProcessLog *plog;
  struct stat st;
  int fd;

  G_LOCK (registry);
  if (process_logs == NULL)
    process_logs = g_hash_table_new (g_str_hash, g_str_equal);
  plog = g_hash_table_lookup (process_logs, path);
  if (plog != NULL)
    {
      plog->refs++;
      G_UNLOCK (registry);
      return plog;
    }
  fd = fd_above_stdio (open (path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd < 0 || fstat (fd, &st) < 0)
    {
      int err = errno;

      if (fd >= 0)
        close (fd);
      G_UNLOCK (registry);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
                   "cannot create %s: %s", path, g_strerror (err));
      return NULL;
    }
  plog = g_new0 (ProcessLog, 1);
  plog->path = g_steal_pointer (&path);
  plog->fd = fd;
  /* Each task's outputs file is looked up here, by its name alone: a walk
   * of the whole path at every task end was 5 % of the host's time for a
   * chain of `true`. */
  plog->dir_fd = fd_above_stdio (open (logs, O_PATH | O_DIRECTORY | O_CLOEXEC));
  plog->refs = 1;
  plog->n_slots = (guint) MIN ((st.st_size + RECORD_SLOT - 1) / RECORD_SLOT, (off_t) G_MAXUINT / 2);
  plog->free_slots = g_array_new (FALSE, FALSE, sizeof (guint));
  plog->made_here = made_here;
  plog->outputs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_hash_table_insert (process_logs, plog->path, plog);
  G_UNLOCK (registry);
  return plog;
}

static void
process_log_unref_locked (ProcessLog *plog)
{
  if (--plog->refs > 0)
    return;
  g_hash_table_remove (process_logs, plog->path);
  close (plog->fd);
  if (plog->dir_fd >= 0)
    close (plog->dir_fd);
  g_array_unref (plog->free_slots);
  g_hash_table_unref (plog->outputs);
  g_free (plog->path);
  g_free (plog);
}

static void
process_log_unref (ProcessLog *plog)
{
  G_LOCK (registry);
  process_log_unref_locked (plog);
  G_UNLOCK (registry);
}

/* A free slot for an execution, which takes a reference. */
static void
process_log_take_slot (ProcessLog *plog,
                       guint      *out_slot)
{
  G_LOCK (registry);
  if (plog->free_slots->len > 0)
    {
      *out_slot = g_array_index (plog->free_slots, guint, plog->free_slots->len - 1);
      g_array_set_size (plog->free_slots, plog->free_slots->len - 1);
    }
  else
    *out_slot = plog->n_slots++;
  plog->refs++;
  G_UNLOCK (registry);
}

/* The execution in @slot has ended: its record goes (the slot is blanked),
 * and so does its reference. */
static void
process_log_release (ProcessLog *plog,
                     guint       slot)
{
  char blank[RECORD_SLOT];
  ssize_t n;

  memset (blank, ' ', sizeof blank);
  blank[RECORD_SLOT - 1] = '\n';
  do
    n = pwrite (plog->fd, blank, sizeof blank, (off_t) slot * RECORD_SLOT);
  while (n < 0 && errno == EINTR);
  G_LOCK (registry);
  /* A slot that could not be blanked keeps its record: not used again. */
  if (n == (ssize_t) sizeof blank)
    g_array_append_val (plog->free_slots, slot);
  process_log_unref_locked (plog);
  G_UNLOCK (registry);
}

/* An execution left an outputs file at @path (or may have). */
static void
process_log_note_outputs (ProcessLog *plog,
                          const char *path)
{
  G_LOCK (registry);
  if (!g_hash_table_contains (plog->outputs, path))
    g_hash_table_add (plog->outputs, g_strdup (path));
  G_UNLOCK (registry);
}

/* Whether a file may be at @path, an outputs file's name. */
static gboolean
process_log_outputs_may_exist (ProcessLog *plog,
                               const char *path)
{
  gboolean may;

  G_LOCK (registry);
  may = !plog->made_here || g_hash_table_contains (plog->outputs, path);
  G_UNLOCK (registry);
  return may;
}

/* pidfd_open(2) (Linux 5.3); not under valgrind 3.19, for one. */
static gboolean no_pidfd;

static int
open_pidfd (pid_t pid)
{
  int fd = -1;

  errno = ENOSYS;
#ifdef SYS_pidfd_open
  if (!no_pidfd)
    {
      fd = (int) syscall (SYS_pidfd_open, pid, 0);
      if (fd < 0 && (errno == ENOSYS || errno == EPERM))
        no_pidfd = TRUE;
    }
#else
  no_pidfd = TRUE;
#endif
  return fd;
}

/* Without pidfds, tracked processes are looked at on a timer (10 ms, then
 * less often, up to 200 ms), only while there are some. */
static GSource *poll_source;
static guint poll_ms;

static gboolean
poll_cb (gpointer user_data)
{
  G_LOCK (registry);
  g_clear_pointer (&poll_source, g_source_unref);
  G_UNLOCK (registry);
  sweep ();
  return G_SOURCE_REMOVE;
}

static void
schedule_poll (void)
{
  if (poll_source != NULL)
    return;
  poll_ms = poll_ms ? MIN (poll_ms * 2, 200) : 10;
  poll_source = g_timeout_source_new (poll_ms);
  g_source_set_callback (poll_source, poll_cb, NULL, NULL);
  g_source_set_static_name (poll_source, "[orrery] local device reaper (no pidfd)");
  g_source_attach (poll_source, g_main_context_get_thread_default ());
}

static void
tracked_free (Tracked *t)
{
  if (t->source)
    {
      g_source_destroy (t->source);
      g_clear_pointer (&t->source, g_source_unref);
    }
  if (t->pidfd >= 0)
    close (t->pidfd);
  g_free (t);
}

static gboolean
tracked_exited_cb (gint         fd,
                   GIOCondition condition,
                   gpointer     user_data)
{
  Tracked *t = user_data;

  /* A pidfd stays readable once the process has exited: one shot. */
  g_clear_pointer (&t->source, g_source_unref);
  close (t->pidfd);
  t->pidfd = -1;
  sweep ();
  return G_SOURCE_REMOVE;
}

static Run *
owner_run (guint seq)
{
  return seq ? g_hash_table_lookup (by_seq, GUINT_TO_POINTER (seq)) : NULL;
}

/* Starts tracking @pid (which has @start) for the execution @owner. */
static Tracked *
track (pid_t    pid,
       guint64  start,
       guint    owner,
       gboolean killed)
{
  Tracked *t = g_hash_table_lookup (tracked, GINT_TO_POINTER (pid));
  Run *run;

  if (t != NULL)
    {
      t->killed |= killed;
      return t;
    }
  t = g_new0 (Tracked, 1);
  t->pid = pid;
  t->start = start;
  t->owner = owner;
  t->killed = killed;
  t->pidfd = open_pidfd (pid);
  if (t->pidfd >= 0)
    {
      t->source = g_unix_fd_source_new (t->pidfd, G_IO_IN);
      g_source_set_callback (t->source, G_SOURCE_FUNC (tracked_exited_cb), t, NULL);
      g_source_set_static_name (t->source, "[orrery] local device reaper");
      g_source_attach (t->source, g_main_context_get_thread_default ());
    }
  else if (errno != ESRCH)
    t->polled = TRUE;
  g_hash_table_insert (tracked, GINT_TO_POINTER (pid), t);
  run = owner_run (owner);
  if (run != NULL)
    run->n_pending++;
  return t;
}

/* Stops tracking @t. When it was the last process its execution waited
 * for, that execution goes in @to_complete (completed by the caller, once
 * the registry is unlocked: completing runs callbacks). */
static void
untrack (Tracked   *t,
         GPtrArray *to_complete)
{
  Run *run = owner_run (t->owner);

  g_hash_table_remove (tracked, GINT_TO_POINTER (t->pid));
  tracked_free (t);
  if (run != NULL && run->n_pending > 0 && --run->n_pending == 0 && run->task != NULL)
    g_ptr_array_add (to_complete, g_object_ref (run->task));
}

/* Sends @signum to @pid if it still is the process that started at
 * @start, and to its process group if it leads one. */
static void
signal_process (pid_t   pid,
                guint64 start,
                int     signum)
{
  ProcStat st;

  if (!read_proc_stat (pid, &st) || st.start != start || st.state == 'Z')
    return;
  if (st.pgid == pid)
    kill (-pid, signum);
  kill (pid, signum);
}

/* @root and all its descendants, as (pid, start) pairs, parents first. */
static GArray *
collect_tree (pid_t root)
{
  GArray *tree = g_array_new (FALSE, FALSE, sizeof (pid_t));
  g_autoptr(GArray) kids = g_array_new (FALSE, FALSE, sizeof (pid_t));

  g_array_append_val (tree, root);
  for (guint i = 0; i < tree->len && tree->len < MAX_TREE; i++)
    {
      g_array_set_size (kids, 0);
      list_children (g_array_index (tree, pid_t, i), kids);
      g_array_append_vals (tree, kids->data, kids->len);
    }
  return tree;
}

/* SIGKILLs @pid (if it still started at @start) and its whole subtree, and
 * tracks them all until they are reaped. */
static void
kill_tree (pid_t   pid,
           guint64 start,
           guint   owner)
{
  g_autoptr(GArray) tree = collect_tree (pid);

  for (guint i = 0; i < tree->len; i++)
    {
      pid_t p = g_array_index (tree, pid_t, i);
      ProcStat st;

      if (!read_proc_stat (p, &st) || (i == 0 && st.start != start))
        {
          if (i == 0)
            return;
          continue;
        }
      if (st.state != 'Z')
        {
          if (st.pgid == p)
            kill (-p, SIGKILL);
          kill (p, SIGKILL);
        }
      track (p, st.start, owner, TRUE);
    }
}

/* Reaps what can be reaped, adopts the new children of this process that
 * belong to an execution, and kills those whose execution has ended. */
static void
sweep (void)
{
  g_autoptr(GArray) children = g_array_new (FALSE, FALSE, sizeof (pid_t));
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GPtrArray) to_complete = g_ptr_array_new_with_free_func (g_object_unref);
  pid_t self = self_pid ();
  gboolean look_again = FALSE;

  G_LOCK (registry);
  registry_init ();

  list_own_children (children);
  for (guint i = 0; i < children->len; i++)
    {
      pid_t c = g_array_index (children, pid_t, i);
      Run *run = g_hash_table_lookup (by_leader, GINT_TO_POINTER (c));
      g_autofree char *token = NULL;
      gboolean empty = FALSE;
      ProcStat st;
      guint owner = 0;

      if ((run != NULL && !run->exited) ||
          g_hash_table_contains (tracked, GINT_TO_POINTER (c)))
        continue;  /* a leader GLib waits for, or known */
      if (!read_proc_stat (c, &st))
        continue;
      run = g_hash_table_lookup (by_leader, GINT_TO_POINTER (st.pgid));
      if (run != NULL)
        owner = run->seq;
      else if (st.state != 'Z' && (token = read_token (c, &empty)) != NULL &&
               token_is_ours (token, &owner))
        ;
      else
        {
          /* Not ours: leave it alone. No environment at all may be an
           * execve() under way: look again a few times. */
          if (empty && st.state != 'Z')
            {
              guint tries = GPOINTER_TO_UINT (g_hash_table_lookup (unsure, GINT_TO_POINTER (c)));

              if (tries < UNSURE_TRIES)
                {
                  g_hash_table_insert (unsure, GINT_TO_POINTER (c), GUINT_TO_POINTER (tries + 1));
                  look_again = TRUE;
                }
            }
          continue;
        }
      g_hash_table_remove (unsure, GINT_TO_POINTER (c));
      track (c, st.start, owner_run (owner) ? owner : 0, FALSE);
    }

  {
    GHashTableIter iter;
    gpointer value;

    all = g_ptr_array_sized_new (g_hash_table_size (tracked));
    g_hash_table_iter_init (&iter, tracked);
    while (g_hash_table_iter_next (&iter, NULL, &value))
      g_ptr_array_add (all, value);
  }
  for (guint i = 0; i < all->len; i++)
    {
      Tracked *t = all->pdata[i];
      Run *run;
      ProcStat st;

      if (!read_proc_stat (t->pid, &st) || st.start != t->start)
        {
          untrack (t, to_complete);  /* gone (reaped by its parent) */
          continue;
        }
      if (st.state == 'Z')
        {
          if (st.ppid == self && waitpid (t->pid, NULL, WNOHANG) == t->pid)
            untrack (t, to_complete);
          continue;
        }
      run = owner_run (t->owner);
      if (!t->killed && (run == NULL || run->exited))
        kill_tree (t->pid, t->start, t->owner);
    }
  {
    GHashTableIter iter;
    gpointer value;
    gboolean polled = FALSE;

    g_hash_table_iter_init (&iter, tracked);
    while (!polled && g_hash_table_iter_next (&iter, NULL, &value))
      polled = ((Tracked *) value)->polled;
    if (polled || look_again)
      schedule_poll ();
    else
      poll_ms = 0;
    /* Forget the children looked at again that are gone; the others keep
     * their count (a foreign child with an empty environment is looked
     * at UNSURE_TRIES times, not at every sweep). */
    if (g_hash_table_size (unsure) > 0)
      {
        g_autoptr(GHashTable) present = g_hash_table_new (NULL, NULL);
        gpointer key;

        for (guint i = 0; i < children->len; i++)
          g_hash_table_add (present, GINT_TO_POINTER (g_array_index (children, pid_t, i)));
        g_hash_table_iter_init (&iter, unsure);
        while (g_hash_table_iter_next (&iter, &key, NULL))
          if (!g_hash_table_contains (present, key))
            g_hash_table_iter_remove (&iter);
      }
  }
  /* Executions that ended wait while a child is being looked at again. */
  if (unsure_pending && !look_again)
    {
      GHashTableIter iter;
      gpointer value;

      g_hash_table_iter_init (&iter, by_seq);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          Run *run = value;

          if (run->exited && !run->completed && run->task != NULL)
            g_ptr_array_add (to_complete, g_object_ref (run->task));
        }
    }
  unsure_pending = look_again;
  G_UNLOCK (registry);

  for (guint i = 0; i < to_complete->len; i++)
    {
      Run *run = g_task_get_task_data (to_complete->pdata[i]);

      if (run != NULL && !run->completed)
        maybe_complete (run);
    }
}

static void
signal_group (Run *run,
              int  signum)
{
  if (run->pid <= 0)
    return;
  if (kill (-run->pid, signum) < 0 && errno != ESRCH)
    g_warning ("task “%s”: cannot send signal %d to process group %d: %s",
               run->task_id, signum, (int) run->pid, g_strerror (errno));
}

/* On a timeout or a cancel, while the leader may still run: the processes
 * of its tree that left its group get @signum with it, and are tracked. */
static void
signal_escaped (Run *run,
                int  signum)
{
  g_autoptr(GArray) tree = NULL;

  if (run->pid <= 0)
    return;
  tree = collect_tree (run->pid);
  G_LOCK (registry);
  for (guint i = 1; i < tree->len; i++)
    {
      pid_t p = g_array_index (tree, pid_t, i);
      ProcStat st;

      if (!read_proc_stat (p, &st) || st.pgid == run->pid || st.state == 'Z')
        continue;
      signal_process (p, st.start, signum);
      track (p, st.start, run->seq, FALSE);
    }
  G_UNLOCK (registry);
}

/* ------------------------------------------------------------------------ */

static gboolean
grace_cb (gpointer user_data)
{
  Run *run = user_data;

  g_clear_pointer (&run->grace_source, g_source_unref);
  if (!run->exited)
    {
      g_debug ("task “%s”: process group %d still there after %d ms, killing",
               run->task_id, (int) run->pid, KILL_GRACE_MS);
      signal_group (run, SIGKILL);
    }
  return G_SOURCE_REMOVE;
}

static void
stop (Run        *run,
      StopReason  reason)
{
  if (run->stop != STOP_NONE || run->exited)
    return;
  run->stop = reason;
  destroy_source (&run->timeout_source);
  destroy_source (&run->cancel_source);
  signal_escaped (run, SIGTERM);
  signal_group (run, SIGTERM);
  run->grace_source = attach_timeout (KILL_GRACE_MS, grace_cb, run);
}

static gboolean
timeout_cb (gpointer user_data)
{
  Run *run = user_data;

  g_clear_pointer (&run->timeout_source, g_source_unref);
  g_debug ("task “%s”: timed out after %g s", run->task_id, run->timeout);
  stop (run, STOP_TIMEOUT);
  return G_SOURCE_REMOVE;
}

static gboolean
cancel_cb (GCancellable *cancellable,
           gpointer      user_data)
{
  Run *run = user_data;

  g_clear_pointer (&run->cancel_source, g_source_unref);
  stop (run, STOP_CANCEL);
  return G_SOURCE_REMOVE;
}

/* What the result keeps of a stream: all of it without a log, its tail
 * with one (at most limit bytes). Made valid UTF-8 where it is added. */
static void
output_add (OrreryVardictWriter *w,
            const char          *key,
            Output              *out)
{
  const guint8 *data = out->data->data;
  gsize len = out->data->len;

  if (out->fd >= 0 || out->path != NULL)
    {
      gsize limit = out->run->limit;

      if (len > limit)
        {
          data += len - limit;
          len = limit;
        }
    }
  _orrery_vardict_writer_add_string (w, key, (const char *) data, (gssize) len);
}

/* ------------------------------------------------------------------------ */
/* Outputs: the JSON object a task leaves in $ORRERY_OUTPUTS. */

/* Refuses nesting deeper than OUTPUTS_MAX_DEPTH before json-glib's
 * recursive parser sees it. */
static gboolean
json_depth_ok (const char *text,
               gsize       len)
{
  gboolean in_string = FALSE;
  guint depth = 0;

  for (gsize i = 0; i < len; i++)
    {
      char c = text[i];

      if (in_string)
        {
          if (c == '\\')
            i++;
          else if (c == '"')
            in_string = FALSE;
        }
      else if (c == '"')
        in_string = TRUE;
      else if (c == '{' || c == '[')
        {
          if (++depth > OUTPUTS_MAX_DEPTH)
            return FALSE;
        }
      else if ((c == '}' || c == ']') && depth > 0)
        depth--;
    }
  return TRUE;
}

/* JSON to GVariant: objects a{sv}, arrays av, integers x, other numbers d,
 * strings s, booleans b, null an empty maybe. Every string must be valid
 * UTF-8 (json-glib lets a lone surrogate escape through). */
static GVariant *
json_to_variant (JsonNode    *node,
                 const char  *path,
                 GError     **error)
{
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObject *object = json_node_get_object (node);
        g_autoptr(GList) members = json_object_get_members (object);
        GVariantBuilder builder;

        g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
        for (GList *l = members; l; l = l->next)
          {
            const char *name = l->data;
            g_autofree char *sub = NULL;
            GVariant *v;

            if (!g_utf8_validate (name, -1, NULL))
              {
                g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_OUTPUTS,
                             "%s: a member name is not valid UTF-8", path);
                g_variant_builder_clear (&builder);
                return NULL;
              }
            sub = g_strdup_printf ("%s.%s", path, name);
            v = json_to_variant (json_object_get_member (object, name), sub, error);
            if (v == NULL)
              {
                g_variant_builder_clear (&builder);
                return NULL;
              }
            g_variant_builder_add (&builder, "{sv}", name, v);
          }
        return g_variant_builder_end (&builder);
      }
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);
        GVariantBuilder builder;

        g_variant_builder_init (&builder, G_VARIANT_TYPE ("av"));
        for (guint i = 0; i < json_array_get_length (array); i++)
          {
            g_autofree char *sub = g_strdup_printf ("%s[%u]", path, i);
            GVariant *v = json_to_variant (json_array_get_element (array, i), sub, error);

            if (v == NULL)
              {
                g_variant_builder_clear (&builder);
                return NULL;
              }
            g_variant_builder_add (&builder, "v", v);
          }
        return g_variant_builder_end (&builder);
      }
    case JSON_NODE_NULL:
      return g_variant_new_maybe (G_VARIANT_TYPE_VARIANT, NULL);
    case JSON_NODE_VALUE:
    default:
      switch (json_node_get_value_type (node))
        {
        case G_TYPE_INT64: return g_variant_new_int64 (json_node_get_int (node));
        case G_TYPE_DOUBLE: return g_variant_new_double (json_node_get_double (node));
        case G_TYPE_BOOLEAN: return g_variant_new_boolean (json_node_get_boolean (node));
        case G_TYPE_STRING:
          {
            const char *str = json_node_get_string (node);

            if (!g_utf8_validate (str, -1, NULL))
              {
                g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_OUTPUTS,
                             "%s: not valid UTF-8", path);
                return NULL;
              }
            return g_variant_new_string (str);
          }
        default:
          g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_OUTPUTS,
                       "%s: a value JSON cannot hold", path);
          return NULL;
        }
    }
}

/* The levels @node takes as a GVariant (json_to_variant()): a value 1, an
 * array 2 (av) and an object 3 (a{sv}) more than their deepest member. What
 * is deeper than GVariant keeps comes back from the serialised form (an
 * isolated plugin's copy, a worker's, and the task's result itself once
 * serialised) as () or an empty container: outputs would be cut short and
 * nothing would say so. The recursion is bounded by OUTPUTS_MAX_DEPTH. */
static guint
json_variant_depth (JsonNode *node)
{
  guint deepest = 0;

  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObjectIter it;
        JsonNode *member;

        json_object_iter_init (&it, json_node_get_object (node));
        while (json_object_iter_next (&it, NULL, &member))
          {
            guint d = json_variant_depth (member);

            deepest = MAX (deepest, d);
          }
        return deepest + 3;
      }
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);

        for (guint i = 0; i < json_array_get_length (array); i++)
          {
            guint d = json_variant_depth (json_array_get_element (array, i));

            deepest = MAX (deepest, d);
          }
        return deepest + 2;
      }
    case JSON_NODE_NULL:
    case JSON_NODE_VALUE:
    default:
      return 1;
    }
}

static const char *
json_kind (JsonNode *node)
{
  if (node == NULL)
    return "nothing";
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT: return "an object";
    case JSON_NODE_ARRAY: return "an array";
    case JSON_NODE_NULL: return "null";
    case JSON_NODE_VALUE:
    default:
      switch (json_node_get_value_type (node))
        {
        case G_TYPE_STRING: return "a string";
        case G_TYPE_BOOLEAN: return "a boolean";
        default: return "a number";
        }
    }
}

/* Reads the outputs file: *out_outputs is NULL when it is empty or absent
 * (*out_exists says which). Fails on anything but one JSON object, naming
 * the file. */
static gboolean
read_outputs (int          dir_fd,
              const char  *path,
              const char  *name,
              GVariant   **out_outputs,
              gboolean    *out_exists,
              GError     **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *text = NULL;
  JsonNode *root;
  GVariant *value;
  struct stat st;
  gsize len = 0;
  int fd;

  *out_outputs = NULL;
  *out_exists = TRUE;
  if (dir_fd >= 0)
    fd = openat (dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  else
    fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    {
      if (errno == ENOENT)
        {
          *out_exists = FALSE;
          return TRUE;
        }
      g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_OUTPUTS,
                   "outputs file %s: %s", path, g_strerror (errno));
      return FALSE;
    }
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_OUTPUTS,
                   "outputs file %s: not a regular file", path);
      return FALSE;
    }
  if (st.st_size > OUTPUTS_MAX_BYTES)
    {
      close (fd);
      g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_OUTPUTS,
                   "outputs file %s: %" G_GINT64_FORMAT " bytes, more than the %d allowed",
                   path, (gint64) st.st_size, OUTPUTS_MAX_BYTES);
      return FALSE;
    }
  text = g_malloc (st.st_size + 1);
  while (len < (gsize) st.st_size)
    {
      ssize_t n = read (fd, text + len, st.st_size - len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      len += n;
    }
  close (fd);
  text[len] = '\0';
  {
    gsize i = 0;

    while (i < len && g_ascii_isspace (text[i]))
      i++;
    if (i == len)
      return TRUE;  /* empty: no outputs */
  }
  if (!json_depth_ok (text, len))
    {
      g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_OUTPUTS,
                   "outputs file %s: nested deeper than %d", path, OUTPUTS_MAX_DEPTH);
      return FALSE;
    }
  /* Strings json-glib must not see: a lone surrogate (1.6.6 leaks a
   * GString on a malformed pair such as \ud83d\u0041), a NUL, bytes
   * that are not UTF-8. */
  if (!_orrery_json_check_text (text, len, NULL, OUTPUTS_MAX_DEPTH, NULL, &local_error))
    {
      g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_OUTPUTS,
                   "outputs file %s: %s", path, local_error->message);
      return FALSE;
    }
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, text, len, &local_error))
    {
      g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_OUTPUTS,
                   "outputs file %s: not valid JSON: %s", path, local_error->message);
      return FALSE;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_OUTPUTS,
                   "outputs file %s: must hold one JSON object, not %s", path,
                   json_kind (root));
      return FALSE;
    }
  if (json_variant_depth (root) > OUTPUTS_MAX_VARIANT_DEPTH)
    {
      g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_OUTPUTS,
                   "outputs file %s: nested too deep to be kept whole in the task's result "
                   "(an object counts 3 levels, an array 2, a value 1, at most %d in all)",
                   path, OUTPUTS_MAX_VARIANT_DEPTH);
      return FALSE;
    }
  value = json_to_variant (root, "$", &local_error);
  if (value == NULL)
    {
      g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_OUTPUTS,
                   "outputs file %s: %s", path, local_error->message);
      return FALSE;
    }
  *out_outputs = g_variant_ref_sink (value);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Logs */

static gboolean
write_all (int         fd,
           const void *data,
           gsize       len,
           int        *out_errno)
{
  const guint8 *p = data;

  while (len > 0)
    {
      ssize_t n = write (fd, p, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          *out_errno = n < 0 ? errno : EIO;
          return FALSE;
        }
      p += n;
      len -= n;
    }
  return TRUE;
}

static void
output_log_error (Output *out,
                  int     err)
{
  if (out->log_error == NULL)
    out->log_error = g_strdup_printf ("cannot write %s: %s", out->path, g_strerror (err));
  close (out->fd);
  out->fd = -1;
}

/* The end of a log: a note when the cap cut it. */
static void
output_close_log (Output *out)
{
  if (out->fd < 0)
    return;
  if (out->log_truncated)
    {
      g_autofree char *note =
        g_strdup_printf ("\n[orrery: log cut at %" G_GUINT64_FORMAT " bytes (LogMaxBytes); "
                         "%" G_GUINT64_FORMAT " more bytes not written]\n",
                         out->written, out->total - out->written);
      int err = 0;

      if (!write_all (out->fd, note, strlen (note), &err))
        {
          output_log_error (out, err);
          return;
        }
    }
  if (close (out->fd) < 0 && out->log_error == NULL)
    out->log_error = g_strdup_printf ("cannot write %s: %s", out->path, g_strerror (errno));
  out->fd = -1;
}

static void output_close_pipe (Output *out);

/* The pidfd leaves the execution's source (if it is still there) and is
 * closed. */
static void
run_close_pidfd (Run *run)
{
  if (run->pid_tag != NULL && run->io_source != NULL)
    g_source_remove_unix_fd (run->io_source, run->pid_tag);
  run->pid_tag = NULL;
  if (run->pidfd >= 0)
    close (run->pidfd);
  run->pidfd = -1;
}

/* The execution's source goes with its fds: the pipes and the pidfd (gone
 * with the source, then closed). */
static void
run_release_fds (Run *run)
{
  destroy_source (&run->io_source);
  run->out.tag = run->err.tag = run->pid_tag = NULL;
  output_close_pipe (&run->out);
  output_close_pipe (&run->err);
  run_close_pidfd (run);
}

static void
maybe_complete (Run *run)
{
  OrreryVardictWriter result = { 0 };
  g_autoptr(GVariant) outputs = NULL;
  g_autoptr(GError) outputs_error = NULL;
  gboolean outputs_exists = FALSE;
  GTask *task;
  double duration;
  int exit_status = -1;
  int signum = 0;
  const char *log_error = NULL;
  g_autofree char *where = NULL;

  if (run->completed || !run->exited || !run->out.done || !run->err.done)
    return;
  if ((run->n_pending > 0 || unsure_pending) && !run->drained)
    return;
  run->completed = TRUE;

  destroy_source (&run->timeout_source);
  destroy_source (&run->cancel_source);
  destroy_source (&run->grace_source);
  destroy_source (&run->drain_source);
  destroy_source (&run->child_watch);

  G_LOCK (registry);
  g_hash_table_remove (by_leader, GINT_TO_POINTER (run->pid));
  g_hash_table_remove (by_seq, GUINT_TO_POINTER (run->seq));
  G_UNLOCK (registry);

  if (run->ended_us == 0)
    run->ended_us = g_get_monotonic_time ();
  duration = (run->ended_us - run->started_us) / (double) G_USEC_PER_SEC;
  exit_status = run->exit_status;
  signum = run->term_signal;

  output_close_log (&run->out);
  output_close_log (&run->err);
  log_error = run->out.log_error ? run->out.log_error : run->err.log_error;
  if (run->outputs_path != NULL)
    read_outputs (run->plog != NULL && run->outputs_name != NULL ? run->plog->dir_fd : -1,
                  run->outputs_path, run->outputs_name, &outputs, &outputs_exists, &outputs_error);
  if (run->outputs_temporary && outputs_exists)
    g_unlink (run->outputs_path);
  if (run->plog != NULL)
    {
      /* A process left after a drain may still write it. */
      if (outputs_exists || run->drained)
        process_log_note_outputs (run->plog, run->outputs_path);
    }

  _orrery_vardict_writer_add_int32 (&result, "exit_status", exit_status);
  if (signum != 0)
    _orrery_vardict_writer_add_int32 (&result, "signal", signum);
  output_add (&result, "stdout", &run->out);
  output_add (&result, "stderr", &run->err);
  _orrery_vardict_writer_add_boolean (&result, "stdout_truncated", run->out.truncated);
  _orrery_vardict_writer_add_boolean (&result, "stderr_truncated", run->err.truncated);
  if (run->out.path != NULL)
    {
      _orrery_vardict_writer_add_string (&result, "stdout_path", run->out.path, -1);
      _orrery_vardict_writer_add_string (&result, "stderr_path", run->err.path, -1);
      _orrery_vardict_writer_add_int64 (&result, "stdout_bytes", (gint64) run->out.total);
      _orrery_vardict_writer_add_int64 (&result, "stderr_bytes", (gint64) run->err.total);
      _orrery_vardict_writer_add_boolean (&result, "stdout_log_truncated", run->out.log_truncated);
      _orrery_vardict_writer_add_boolean (&result, "stderr_log_truncated", run->err.log_truncated);
      /* A log file exists only when its stream had something. */
      if (run->out.created && run->err.created)
        where = g_strdup_printf (" (output in %s and %s)", run->out.path, run->err.path);
      else if (run->out.created || run->err.created)
        where = g_strdup_printf (" (output in %s)",
                                 run->out.created ? run->out.path : run->err.path);
    }
  if (outputs != NULL)
    _orrery_vardict_writer_add_value (&result, "outputs", g_steal_pointer (&outputs));
  _orrery_vardict_writer_add_double (&result, "duration", duration);
  _orrery_vardict_writer_add_int32 (&result, "pid", run->pid);
  if (run->stop == STOP_TIMEOUT)
    _orrery_vardict_writer_add_boolean (&result, "timed_out", TRUE);
  run->result = _orrery_vardict_writer_end (&result);

  _orrery_base_device_record_end ((OrreryBaseDevice *) run->device, run->task_obj, run->ended_us);
  _orrery_base_device_task_finished ((OrreryBaseDevice *) run->device);

  if (where == NULL)
    where = g_strdup ("");
  task = g_steal_pointer (&run->task);
  if (run->stop == STOP_TIMEOUT)
    g_task_return_new_error (task, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_TIMEOUT,
                             "timed out after %g s; process group killed%s", run->timeout, where);
  else if (run->stop == STOP_CANCEL)
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                             "cancelled; process group killed%s", where);
  else if (signum != 0)
    g_task_return_new_error (task, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_SIGNALED,
                             "killed by signal %d (%s)%s", signum, g_strsignal (signum), where);
  else if (exit_status != 0)
    g_task_return_new_error (task, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_EXIT_STATUS,
                             "exited with status %d%s", exit_status, where);
  else if (outputs_error != NULL)
    g_task_return_error (task, g_steal_pointer (&outputs_error));
  else if (log_error != NULL)
    g_task_return_new_error (task, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_FAILED,
                             "%s", log_error);
  else
    g_task_return_boolean (task, TRUE);
  /* The caller has heard of the end (and started what it made ready, most
   * often): what is left to undo is off that path. Each fd leaving the
   * source makes GLib write to its context's wake-up eventfd (three a
   * task), and blanking the process record is a pwrite(). */
  run_release_fds (run);
  if (run->plog != NULL)
    {
      process_log_release (run->plog, run->slot);
      run->plog = NULL;
    }
  g_object_unref (task);
}

static gboolean
drain_cb (gpointer user_data)
{
  Run *run = user_data;

  g_clear_pointer (&run->drain_source, g_source_unref);
  if (!run->out.done || !run->err.done)
    g_debug ("task “%s”: output still open %d ms after the process exited; "
             "a process that left the group holds it", run->task_id, DRAIN_GRACE_MS);
  if (run->n_pending > 0)
    g_debug ("task “%s”: %u killed processes not reaped after %d ms",
             run->task_id, run->n_pending, DRAIN_GRACE_MS);
  run->drained = TRUE;
  output_close_pipe (&run->out);
  output_close_pipe (&run->err);
  maybe_complete (run);
  return G_SOURCE_REMOVE;
}

/* The leader has exited (and is reaped). */
static void
leader_exited (Run *run,
               int  exit_status,
               int  term_signal)
{
  run->exited = TRUE;
  run->ended_us = g_get_monotonic_time ();
  run->exit_status = exit_status;
  run->term_signal = term_signal;
  /* Whatever the leader left running in its group goes too, and so does
   * whatever left the group: those are children of this process now. The
   * common case, an empty group, costs one kill() that fails. */
  signal_group (run, SIGKILL);
  sweep ();
  if (run->completed)
    return;
  destroy_source (&run->grace_source);
  destroy_source (&run->timeout_source);
  destroy_source (&run->cancel_source);
  if (!run->out.done || !run->err.done || run->n_pending > 0 || unsure_pending)
    run->drain_source = attach_timeout (DRAIN_GRACE_MS, drain_cb, run);
  maybe_complete (run);
}

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* The pidfd is readable: the leader has exited. */
static void
reap_leader (Run *run)
{
  siginfo_t info;
  int r;

  memset (&info, 0, sizeof info);
  do
    r = waitid ((idtype_t) P_PIDFD, (id_t) run->pidfd, &info, WEXITED | WNOHANG);
  while (r < 0 && errno == EINTR);
  if (r == 0 && info.si_pid == 0)
    return;  /* not yet */
  /* The pidfd leaves the source after this dispatch, or with the source
   * at the completion this most often makes. */
  if (r < 0)
    {
      g_warning ("task “%s”: waiting for process %d: %s",
                 run->task_id, (int) run->pid, g_strerror (errno));
      leader_exited (run, -1, 0);
    }
  else if (info.si_code == CLD_EXITED)
    leader_exited (run, info.si_status, 0);
  else
    leader_exited (run, -1, info.si_status);
}

/* Without a pidfd: GLib's child watch, which waits for this pid only. */
static void
child_watch_cb (GPid     pid,
                gint     wait_status,
                gpointer user_data)
{
  Run *run = user_data;
  g_autoptr(GTask) keep = g_object_ref (run->task);

  g_clear_pointer (&run->child_watch, g_source_unref);
  if (WIFEXITED (wait_status))
    leader_exited (run, WEXITSTATUS (wait_status), 0);
  else if (WIFSIGNALED (wait_status))
    leader_exited (run, -1, WTERMSIG (wait_status));
  else
    leader_exited (run, -1, 0);
}

/* A log file, created at the first byte written to it. */
static gboolean
output_open_log (Output *out)
{
  int fd;

  if (out->fd >= 0 || out->log_error != NULL)
    return out->fd >= 0;
  fd = open (out->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    {
      out->log_error = g_strdup_printf ("cannot create %s: %s", out->path, g_strerror (errno));
      return FALSE;
    }
  out->fd = fd;
  out->created = TRUE;
  return TRUE;
}

static void
output_take (Output       *out,
             const guint8 *chunk,
             gsize         n)
{
  Run *run = out->run;

  out->total += n;
  if (out->path == NULL)
    {
      /* In memory only: the head, as much as the limit allows. */
      gsize room = run->limit > out->data->len ? run->limit - out->data->len : 0;

      if (n > room)
        out->truncated = TRUE;
      if (room > 0)
        g_byte_array_append (out->data, chunk, MIN (n, room));
      return;
    }

  {
    guint64 room = run->log_cap > out->written ? run->log_cap - out->written : 0;
    gsize w = (gsize) MIN ((guint64) n, room);
    int err = 0;

    if (w < n)
      out->log_truncated = TRUE;
    if (w > 0 && output_open_log (out))
      {
        if (write_all (out->fd, chunk, w, &err))
          out->written += w;
        else
          output_log_error (out, err);
      }
  }

  /* The tail: keep at most twice the limit, cut back to the limit. */
  if (out->total > run->limit)
    out->truncated = TRUE;
  if (run->limit == 0)
    return;
  if (n >= run->limit)
    {
      g_byte_array_set_size (out->data, 0);
      g_byte_array_append (out->data, chunk + n - run->limit, run->limit);
      return;
    }
  g_byte_array_append (out->data, chunk, n);
  if (out->data->len > 2 * run->limit)
    g_byte_array_remove_range (out->data, 0, out->data->len - run->limit);
}

static void
output_close_pipe (Output *out)
{
  if (out->tag != NULL && out->run->io_source != NULL)
    g_source_remove_unix_fd (out->run->io_source, out->tag);
  out->tag = NULL;
  if (out->pipe_fd >= 0)
    close (out->pipe_fd);
  out->pipe_fd = -1;
  out->done = TRUE;
}

/* The pipe is readable (or closed): one read() of what is there, which
 * cannot block. */
static void
output_read (Output *out)
{
  guint8 chunk[READ_CHUNK];
  ssize_t n;

  do
    n = read (out->pipe_fd, chunk, sizeof chunk);
  while (n < 0 && errno == EINTR);
  if (n > 0)
    {
      output_take (out, chunk, (gsize) n);
      return;
    }
  if (n < 0 && errno == EAGAIN)
    return;
  if (n < 0)
    g_debug ("task “%s”: reading its %s: %s", out->run->task_id, out->name, g_strerror (errno));
  out->done = TRUE;  /* its fd leaves the source after this dispatch */
  maybe_complete (out->run);
}

/* What poll() said of a pipe. A pipe that hung up with nothing left to
 * read (no G_IO_IN) is at its end without a read() returning 0 (two
 * system calls a task, for the common command that printed nothing). */
static void
output_ready (Output       *out,
              GIOCondition  revents)
{
  if (revents == 0)
    return;
  if ((revents & G_IO_IN) == 0)
    {
      out->done = TRUE;  /* its fd leaves the source after this dispatch */
      maybe_complete (out->run);
      return;
    }
  output_read (out);
}

/* One source per execution on the task's main context: the two pipes and
 * the pidfd, three entries of that context's poll() (no epoll set, no
 * thread). */
static gboolean
run_source_dispatch (GSource     *source,
                     GSourceFunc  callback,
                     gpointer     user_data)
{
  Run *run = ((RunSource *) source)->run;
  g_autoptr(GTask) keep = NULL;

  /* The source can recurse (see where it is made): a main loop iterated
   * from a handler of the completion, before the source is gone, brings
   * it here. */
  if (run->completed)
    {
      run_release_fds (run);
      return G_SOURCE_REMOVE;
    }
  /* Completing the execution may drop the last other reference. */
  keep = g_object_ref (run->task);

  if (run->out.tag != NULL && !run->out.done)
    output_ready (&run->out, g_source_query_unix_fd (source, run->out.tag));
  if (!run->completed && run->err.tag != NULL && !run->err.done)
    output_ready (&run->err, g_source_query_unix_fd (source, run->err.tag));
  /* Both pipes at their end: the leader has most likely exited too (its
   * files close a few steps before it becomes a zombie), though poll()
   * did not see its pidfd yet. Asking now (waitid() with WNOHANG) saves
   * a main-loop iteration on the way to the next task. */
  if (!run->completed && run->pid_tag != NULL && !run->exited &&
      (g_source_query_unix_fd (source, run->pid_tag) != 0 || (run->out.done && run->err.done)))
    reap_leader (run);
  /* Not complete yet (a process still holds a pipe, or the leader runs
   * with its output closed): what is at its end must leave poll(), which
   * would return at once for it again. */
  if (!run->completed)
    {
      if (run->out.done)
        output_close_pipe (&run->out);
      if (run->err.done)
        output_close_pipe (&run->err);
      if (run->exited)
        run_close_pidfd (run);
    }
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs run_source_funcs = {
  NULL, NULL, run_source_dispatch, NULL, NULL, NULL,
};

/* ------------------------------------------------------------------------ */
/* Starting a process.
 *
 * clone(CLONE_VM | CLONE_VFORK), as posix_spawn() does it: the child runs
 * on a small stack in this process's memory until it execs, so there is no
 * copy of the page tables (a fork of a large host costs more than the
 * command `true`), and this thread sleeps meanwhile. posix_spawn() itself
 * cannot be used: PR_SET_PDEATHSIG and the process record have to be done
 * between fork and exec. The child makes plain system calls only (no
 * allocation, no lock, no sanitizer instrumentation: it shares the
 * memory of this process) and reports a failure (errno, at which step) in
 * that shared memory before it exits with 127. CLONE_PIDFD hands back a
 * pidfd: the exit is one more fd in the execution's source on the task's
 * main context (no SIGCHLD handler, no helper thread, no waitpid(-1)). */

typedef enum {
  STEP_NONE,
  STEP_SETUP,
  STEP_CHDIR,
  STEP_EXEC,
} ChildStep;

/* Prepared before the clone: the child only reads it, and writes the
 * fields below `reached`. */
typedef struct
{
  const char        *path;       /* the program, resolved */
  char *const       *argv;
  char *const       *envp;
  const char        *cwd;        /* or NULL */
  int                fds[3];     /* stdin, stdout, stderr: all >= 3 */
  pid_t              parent;
  gboolean           pdeathsig;
  int                record_fd;  /* the processes file, or -1 */
  off_t              record_off; /* where the record goes in it */
  guint64            tick_ns;    /* the length of a clock tick (USER_HZ) */
  guint64            ticks_before; /* CLOCK_BOOTTIME in ticks before the clone */
  const char        *token;
  sigset_t           mask;       /* the caller's signal mask, restored before exec */
  int                report_fd;  /* where a failure is also written, or -1 */

  volatile int       reached;    /* the child ran in this memory */
  volatile int       step;       /* where it failed */
  volatile int       error;      /* errno there */
  volatile int       record_failed;
} ChildArgs;

#if defined(__GNUC__) || defined(__clang__)
#define CHILD_CODE __attribute__ ((no_sanitize ("address", "undefined"), noinline))
#else
#define CHILD_CODE
#endif

/* The kernel's struct sigaction, for rt_sigaction(2) without libc (whose
 * wrapper a sanitizer may intercept). */
struct kernel_sigaction
{
  void          *handler;
  unsigned long  flags;
  void          *restorer;
  unsigned long  mask;
};

CHILD_CODE static long
child_open (const char *path,
            int         flags,
            int         mode)
{
  return syscall (SYS_openat, AT_FDCWD, path, flags, mode);
}

/* Appends @value in decimal at @p; returns the end. */
CHILD_CODE static char *
append_decimal (char    *p,
                guint64  value)
{
  char digits[24];
  int n = 0;

  do
    digits[n++] = (char) ('0' + value % 10);
  while ((value /= 10) > 0);
  while (n > 0)
    *p++ = digits[--n];
  return p;
}

/* `PID STARTTIME PGID TOKEN` for this process, written before exec so that
 * the record exists before the command runs: one pwrite() of its slot. */
CHILD_CODE static gboolean
child_write_record (const ChildArgs *a,
                    pid_t            pid)
{
  char stat[1024], line[RECORD_SLOT];
  char *p = line, *q, *end;
  struct timespec now;
  const char *t;
  guint64 start = 0;
  long n;
  int fd, field;

  /* The start time /proc/PID/stat gives (field 22): the boot time of the
   * clone in clock ticks, which lies between the tick before the clone
   * and this one. Most often they are the same tick, and that is it
   * (one clock_gettime() instead of reading /proc/self/stat: three system
   * calls, a tenth of what this child does before exec). */
  if (syscall (SYS_clock_gettime, CLOCK_BOOTTIME, &now) == 0 && a->tick_ns > 0 &&
      ((guint64) now.tv_sec * G_GUINT64_CONSTANT (1000000000) + (guint64) now.tv_nsec) / a->tick_ns ==
        a->ticks_before)
    start = a->ticks_before;
  else
    {
      fd = (int) child_open ("/proc/self/stat", O_RDONLY | O_CLOEXEC, 0);
      if (fd < 0)
        return FALSE;
      n = syscall (SYS_read, fd, stat, sizeof stat - 1);
      syscall (SYS_close, fd);
      if (n <= 0)
        return FALSE;
      stat[n] = '\0';
      /* Field 22, counting from the last ')' (field 2 ends there). */
      for (q = end = stat; *q; q++)
        if (*q == ')')
          end = q;
      for (q = end + 1, field = 2; *q && field < 22; q++)
        if (*q == ' ')
          field++;
      while (*q >= '0' && *q <= '9')
        start = start * 10 + (guint64) (*q++ - '0');
    }

  p = append_decimal (p, (guint64) pid);
  *p++ = ' ';
  p = append_decimal (p, start);
  *p++ = ' ';
  p = append_decimal (p, (guint64) pid);
  *p++ = ' ';
  for (t = a->token; *t && p < line + sizeof line - 1; t++)
    *p++ = *t;
  while (p < line + sizeof line - 1)
    *p++ = ' ';
  *p = '\n';

  n = syscall (SYS_pwrite64, a->record_fd, line, sizeof line, a->record_off);
  return n == (long) sizeof line;
}

CHILD_CODE G_NORETURN static void
child_fail (ChildArgs *a,
            ChildStep  step,
            int        err)
{
  int report[2] = { step, err };

  a->step = step;
  a->error = err;
  if (a->report_fd >= 0)
    syscall (SYS_write, a->report_fd, report, sizeof report);
  syscall (SYS_exit_group, 127);
  for (;;)
    ;
}

CHILD_CODE static int
child_main (void *data)
{
  ChildArgs *a = data;
  pid_t pid;
  long r;

  a->reached = 1;
  syscall (SYS_setpgid, 0, 0);
  if (a->pdeathsig)
    {
      syscall (SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
      /* The parent may have died before the prctl(). */
      if (syscall (SYS_getppid) != a->parent)
        child_fail (a, STEP_SETUP, ESRCH);
    }

  /* The handlers of this process must not run in the child (a signal
   * between the unblocking below and the exec would run them here, in the
   * parent's memory): back to the default, as posix_spawn() does. SIGPIPE,
   * which a host may ignore, is a command's default again too. */
  for (int sig = 1; sig < 65; sig++)
    {
      struct kernel_sigaction old = { 0 }, dfl = { 0 };

      if (sig == SIGKILL || sig == SIGSTOP || sig == 32 || sig == 33)
        continue;  /* 32 and 33: glibc's own */
      if (syscall (SYS_rt_sigaction, sig, NULL, &old, (size_t) 8) < 0)
        continue;
      if (old.handler == (void *) SIG_DFL || (old.handler == (void *) SIG_IGN && sig != SIGPIPE))
        continue;
      dfl.handler = (void *) SIG_DFL;
      syscall (SYS_rt_sigaction, sig, &dfl, NULL, (size_t) 8);
    }

  for (int i = 0; i < 3; i++)
    if (syscall (SYS_dup3, a->fds[i], i, 0) < 0)
      child_fail (a, STEP_SETUP, errno);
  /* Whatever else this process has open stays here (the fds GLib and
   * Orrery open are close-on-exec; this covers the others). */
#ifdef SYS_close_range
  syscall (SYS_close_range, 3, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */);
#endif

  pid = (pid_t) syscall (SYS_getpid);
  if (a->record_fd >= 0 && !child_write_record (a, pid))
    a->record_failed = 1;
  if (a->cwd != NULL && syscall (SYS_chdir, a->cwd) < 0)
    child_fail (a, STEP_CHDIR, errno);

  syscall (SYS_rt_sigprocmask, SIG_SETMASK, &a->mask, NULL, (size_t) 8);
  r = syscall (SYS_execve, a->path, a->argv, a->envp);
  child_fail (a, STEP_EXEC, r < 0 ? errno : ENOEXEC);
  return 127;
}

/* The child's stack: it only runs child_main() and the calls above. */
#define CHILD_STACK_SIZE (32 * 1024)

/* Starts the child described by @a; its pid in @out_pid, a pidfd (or -1)
 * in @out_pidfd. FALSE with errno set if no process could be made. */
static gboolean
spawn_child (ChildArgs *a,
             pid_t     *out_pid,
             int       *out_pidfd)
{
  static gboolean no_clone_pidfd;
  sigset_t all;
  int pidfd = -1;
  pid_t pid;
  int err = 0;
  /* On this thread's stack, which sleeps while the child uses it. */
  guint64 stack[CHILD_STACK_SIZE / sizeof (guint64)];

  /* Every signal blocked until the child has put its handlers back to
   * the default, but SIGCHLD: a child of this thread that exits while it
   * waits here would otherwise find it blocking SIGCHLD, and the kernel,
   * which drops a SIGCHLD nobody handles at once, would queue it and wake
   * another thread of the process to take it (one wake-up per task end
   * that met a spawn). The child itself has no child yet, and a handler
   * GLib may have for SIGCHLD only sets flags and writes to a wake-up fd. */
  sigfillset (&all);
  sigdelset (&all, SIGCHLD);
  pthread_sigmask (SIG_SETMASK, &all, &a->mask);
  pid = clone (child_main, (char *) stack + sizeof stack,
               CLONE_VM | CLONE_VFORK | SIGCHLD | (no_clone_pidfd ? 0 : CLONE_PIDFD),
               a, &pidfd);
  if (pid < 0 && errno == EINVAL && !no_clone_pidfd)
    {
      no_clone_pidfd = TRUE;
      pidfd = -1;
      pid = clone (child_main, (char *) stack + sizeof stack,
                   CLONE_VM | CLONE_VFORK | SIGCHLD, a, NULL);
    }
  if (pid < 0)
    err = errno;
  pthread_sigmask (SIG_SETMASK, &a->mask, NULL);
  if (pid < 0)
    {
      errno = err;
      return FALSE;
    }
  if (no_clone_pidfd || pidfd < 0)
    pidfd = -1;
  *out_pid = pid;
  *out_pidfd = pidfd;
  return TRUE;
}

static gboolean
lookup_string (GVariant    *task_data,
               const char  *key,
               char       **out_value,
               OrreryTask  *task,
               GError     **error)
{
  g_autoptr(GVariant) value = _orrery_vardict_lookup (task_data, key);

  *out_value = NULL;
  if (value == NULL)
    return TRUE;
  if (!g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    {
      g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_TASK_DATA,
                   "task “%s”: “%s” must be a string, not %s",
                   orrery_task_get_id (task), key, _orrery_variant_json_kind (value));
      return FALSE;
    }
  *out_value = g_variant_dup_string (value, NULL);
  return TRUE;
}

/* What a list that is not a list of strings holds, for messages. */
static const char *
not_strv_kind (GVariant *value,
               char     *buf,
               gsize     size)
{
  const char *kind = _orrery_variant_json_kind (value);

  if (g_str_equal (kind, "a list"))
    {
      g_autoptr(GVariant) plain = g_variant_is_of_type (value, G_VARIANT_TYPE_VARIANT)
                                    ? g_variant_get_variant (value) : g_variant_ref (value);
      gsize n = g_variant_is_container (plain) ? g_variant_n_children (plain) : 0;

      for (gsize i = 0; i < n; i++)
        {
          g_autoptr(GVariant) child = g_variant_get_child_value (plain, i);
          const char *child_kind = _orrery_variant_json_kind (child);

          if (!g_str_equal (child_kind, "a string"))
            {
              g_snprintf (buf, size, "a list holding %s", child_kind);
              return buf;
            }
        }
    }
  return kind;
}

/* Reads the command, the environment (as `NAME=VALUE` strings added to
 * @env) and the working directory of @task; with a %NULL @env, only checks
 * them. */
static gboolean
parse_task_data (OrreryTask   *task,
                 GPtrArray    *env_out,
                 char       ***out_argv,
                 char        **out_cwd,
                 GError      **error)
{
  char kind[64];

  GVariant *task_data = orrery_task_get_task_data (task);
  g_autoptr(GVariant) command = NULL;
  g_autoptr(GVariant) env = NULL;
  g_autofree char *cwd = NULL;
  g_auto(GStrv) argv = NULL;

  command = _orrery_vardict_lookup (task_data, "command");
  if (command == NULL)
    {
      g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_TASK_DATA,
                   "task “%s” has no command", orrery_task_get_id (task));
      return FALSE;
    }
  if (g_variant_is_of_type (command, G_VARIANT_TYPE_STRING))
    {
      const char *line = g_variant_get_string (command, NULL);

      if (*line == '\0')
        {
          g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_TASK_DATA,
                       "task “%s” has an empty command", orrery_task_get_id (task));
          return FALSE;
        }
      argv = g_new0 (char *, 4);
      argv[0] = g_strdup ("/bin/sh");
      argv[1] = g_strdup ("-c");
      argv[2] = g_strdup (line);
    }
  else if (!_orrery_variant_dup_strv (command, &argv))
    {
      g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_TASK_DATA,
                   "task “%s”: “command” must be a string or a list of strings, not %s",
                   orrery_task_get_id (task), not_strv_kind (command, kind, sizeof kind));
      return FALSE;
    }
  else if (argv[0] == NULL || argv[0][0] == '\0')
    {
      g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_TASK_DATA,
                   "task “%s” has an empty command", orrery_task_get_id (task));
      return FALSE;
    }

  env = _orrery_vardict_lookup (task_data, "env");
  if (env != NULL)
    {
      GVariantIter iter;
      GVariant *entry;

      /* a{sv} as JSON gives it, or a{ss} as a C or Python caller may. */
      if (!g_variant_is_of_type (env, G_VARIANT_TYPE_VARDICT) &&
          !g_variant_is_of_type (env, G_VARIANT_TYPE ("a{ss}")))
        {
          g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_TASK_DATA,
                       "task “%s”: “env” must be an object of strings, not %s",
                       orrery_task_get_id (task), _orrery_variant_json_kind (env));
          return FALSE;
        }
      g_variant_iter_init (&iter, env);
      while ((entry = g_variant_iter_next_value (&iter)) != NULL)
        {
          g_autoptr(GVariant) pair = entry;
          g_autoptr(GVariant) key = g_variant_get_child_value (pair, 0);
          g_autoptr(GVariant) str = g_variant_get_child_value (pair, 1);
          const char *name = g_variant_get_string (key, NULL);

          while (g_variant_is_of_type (str, G_VARIANT_TYPE_VARIANT))
            {
              GVariant *inner = g_variant_get_variant (str);

              g_variant_unref (str);
              str = inner;
            }
          if (!g_variant_is_of_type (str, G_VARIANT_TYPE_STRING) ||
              *name == '\0' || strchr (name, '=') != NULL)
            {
              if (*name == '\0' || strchr (name, '=') != NULL)
                g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_TASK_DATA,
                             "task “%s”: “%s” is not an environment variable name (not empty, "
                             "no “=”)", orrery_task_get_id (task), name);
              else
                g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_TASK_DATA,
                             "task “%s”: environment variable “%s” must be a string, not %s",
                             orrery_task_get_id (task), name, _orrery_variant_json_kind (str));
              return FALSE;
            }
          if (env_out != NULL)
            g_ptr_array_add (env_out, g_strconcat (name, "=", g_variant_get_string (str, NULL),
                                                   NULL));
        }
    }

  if (!lookup_string (task_data, "cwd", &cwd, task, error))
    return FALSE;
  if (out_cwd != NULL)
    *out_cwd = g_steal_pointer (&cwd);
  if (out_argv != NULL)
    *out_argv = g_steal_pointer (&argv);
  return TRUE;
}

/* One private directory (0700) per process for the outputs files of
 * executions without a run directory: a directory per execution would
 * cost a mkdir and an rmdir each (milliseconds on some file systems). Each
 * file goes when its execution ends, the directory when the process
 * exits. */
static char *tmpdir_path;

static void
remove_private_tmpdir (void)
{
  if (tmpdir_path != NULL)
    g_rmdir (tmpdir_path);
}

static const char *
private_tmpdir (GError **error)
{
  G_LOCK (registry);
  if (tmpdir_path == NULL)
    {
      tmpdir_path = g_dir_make_tmp ("orrery-outputs-XXXXXX", error);
      if (tmpdir_path != NULL)
        atexit (remove_private_tmpdir);
    }
  G_UNLOCK (registry);
  return tmpdir_path;
}

/* Whether @path is a directory with nothing in it but a processes file
 * (which names no file). */
static gboolean
dir_is_empty (const char *path)
{
  DIR *dir = opendir (path);
  struct dirent *entry;
  gboolean empty = TRUE;

  if (dir == NULL)
    return FALSE;
  while (empty && (entry = readdir (dir)) != NULL)
    empty = strcmp (entry->d_name, ".") == 0 || strcmp (entry->d_name, "..") == 0 ||
            strcmp (entry->d_name, PROCESS_LOG_NAME) == 0;
  closedir (dir);
  return empty;
}

/* The per-execution files: the logs, the outputs file, in RUN_DIR/logs/
 * when there is a run directory, else the outputs file alone in a private
 * temporary directory. */
static gboolean
prepare_files (OrreryLocalDevice  *self,
               Run                *run,
               OrreryTask         *task,
               guint               attempt,
               GError            **error)
{
  const char *run_dir = orrery_base_device_get_run_dir (ORRERY_BASE_DEVICE (self));
  g_autofree char *logs = NULL;
  g_autofree char *stem = NULL;
  g_autofree char *base = NULL;

  if (run_dir == NULL)
    {
      const char *dir = private_tmpdir (error);

      if (dir == NULL)
        return FALSE;
      /* Fresh: the directory is this process's, the name never used. */
      run->outputs_path = g_strdup_printf ("%s/%u.outputs.json", dir, run->seq);
      run->outputs_temporary = TRUE;
      return TRUE;
    }

  logs = g_build_filename (run_dir, "logs", NULL);
  if (g_strcmp0 (self->logs_dir_made, logs) != 0)
    {
      struct stat st;
      gboolean made = FALSE;

      /* Whether this process makes it, or finds it empty (the host makes
       * it with the run directory): then no file in it is another's. */
      if (mkdir (logs, 0700) == 0)
        made = TRUE;
      else if (errno == ENOENT && g_mkdir_with_parents (logs, 0700) == 0)
        made = TRUE;
      else if (errno == EEXIST)
        made = dir_is_empty (logs);
      else
        {
          int err = errno;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
                       "cannot create %s: %s", logs, g_strerror (err));
          return FALSE;
        }
      /* Logs hold what tasks print, secrets included: private, even when
       * someone else made the directory. */
      if (lstat (logs, &st) == 0 && S_ISDIR (st.st_mode) && st.st_uid == getuid () &&
          (st.st_mode & 0077) != 0)
        g_chmod (logs, st.st_mode & 0700);
      g_free (self->logs_dir_made);
      self->logs_dir_made = NULL;
      g_clear_pointer (&self->plog, process_log_unref);
      self->plog = process_log_acquire (logs, made, error);
      if (self->plog == NULL)
        return FALSE;
      self->logs_dir_made = g_strdup (logs);
    }
  stem = orrery_escape_for_filename (orrery_task_get_id (task));
  base = g_strdup_printf ("%s/%s.%u", logs, stem, attempt);

  run->out.path = g_strconcat (base, ".stdout", NULL);
  run->err.path = g_strconcat (base, ".stderr", NULL);
  run->outputs_path = g_strconcat (base, ".outputs.json", NULL);
  run->outputs_name = strrchr (run->outputs_path, '/') + 1;
  process_log_take_slot (self->plog, &run->slot);
  run->plog = self->plog;
  /* The log files are created at their first byte (most commands print
   * nothing on one stream or both), and the outputs file by the task, if
   * it writes one: what an earlier execution may have left under that
   * name (an interrupted attempt, the same attempt run again) goes, so
   * the task finds none. In a directory this process made or found empty
   * (the host makes logs/ with the run directory), only a name an
   * execution here left a file under can hold one (a failing unlink()
   * costs a directory search per task). */
  if (process_log_outputs_may_exist (self->plog, run->outputs_path) &&
      unlink (run->outputs_path) < 0 && errno != ENOENT)
    {
      int err = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
                   "cannot remove %s: %s", run->outputs_path, g_strerror (err));
      return FALSE;
    }
  return TRUE;
}

/* An execution that never started: its temporary outputs file goes. */
static void
discard_files (Run *run)
{
  if (run->outputs_temporary)
    {
      g_unlink (run->outputs_path);
      run->outputs_temporary = FALSE;
    }
}

static void
become_subreaper (void)
{
  static gsize done;

  if (g_once_init_enter (&done))
    {
      if (prctl (PR_SET_CHILD_SUBREAPER, 1) < 0)
        g_debug ("cannot become a child subreaper: %s; processes that leave a task's "
                 "group are found only while their parent lives", g_strerror (errno));
      g_once_init_leave (&done, 1);
    }
}

/**
 * orrery_local_device_check_task_data:
 * @task: a task
 * @error: return location for an error
 *
 * Checks, without running anything, that a local device would accept the
 * task's data: a `command` that is a non-empty string (run by `/bin/sh -c`)
 * or list of strings, an `env` object of strings, a `cwd` string, and, when
 * given, `capabilities` as a list of strings. `orrery validate` uses it for
 * the tasks that would run on a local device.
 *
 * Returns: %TRUE if a local device would accept the task's data; %FALSE
 *   with %ORRERY_DEVICE_ERROR_BAD_TASK_DATA (the message says, in JSON's
 *   words, what was found) otherwise
 */
gboolean
orrery_local_device_check_task_data (OrreryTask  *task,
                                     GError     **error)
{
  g_auto(GStrv) caps = NULL;

  g_return_val_if_fail (ORRERY_IS_TASK (task), FALSE);
  return parse_task_data (task, NULL, NULL, NULL, error) &&
         _orrery_task_dup_capabilities (task, &caps, error);
}

/* The program a command names, looked up in this process's PATH as execvp()
 * would (GLib's spawn did the same with the host's PATH), remembered per
 * PATH and name so that each execution does not try every directory
 * again. A remembered program that has gone is looked up again. */
G_LOCK_DEFINE_STATIC (programs);
static GHashTable *program_cache;  /* "PATH\nNAME" -> path */
#define PROGRAM_CACHE_MAX 4096

static char *
program_cache_key (const char *name)
{
  const char *path = g_getenv ("PATH");

  return g_strconcat (path ? path : "/bin:/usr/bin", "\n", name, NULL);
}

static char *
resolve_program (const char *name,
                 int        *out_errno)
{
  g_autofree char *key = NULL;
  g_auto(GStrv) dirs = NULL;
  const char *path;
  char *found;
  int err = ENOENT;

  if (strchr (name, '/') != NULL)
    return g_strdup (name);
  key = program_cache_key (name);
  G_LOCK (programs);
  found = program_cache ? g_strdup (g_hash_table_lookup (program_cache, key)) : NULL;
  G_UNLOCK (programs);
  if (found != NULL)
    return found;

  path = strchr (key, '\n');
  {
    g_autofree char *path_value = g_strndup (key, path - key);

    dirs = g_strsplit (path_value, ":", -1);
  }
  for (guint i = 0; dirs[i] != NULL && found == NULL; i++)
    {
      g_autofree char *candidate = g_build_filename (*dirs[i] ? dirs[i] : ".", name, NULL);
      struct stat st;

      if (stat (candidate, &st) < 0 || !S_ISREG (st.st_mode))
        continue;
      if (access (candidate, X_OK) < 0)
        {
          err = errno;
          continue;
        }
      found = g_steal_pointer (&candidate);
    }
  if (found == NULL)
    {
      *out_errno = err;
      return NULL;
    }
  G_LOCK (programs);
  if (program_cache == NULL)
    program_cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  if (g_hash_table_size (program_cache) >= PROGRAM_CACHE_MAX)
    g_hash_table_remove_all (program_cache);
  g_hash_table_insert (program_cache, g_steal_pointer (&key), g_strdup (found));
  G_UNLOCK (programs);
  return found;
}

static void
forget_program (const char *name)
{
  g_autofree char *key = NULL;

  if (strchr (name, '/') != NULL)
    return;
  key = program_cache_key (name);
  G_LOCK (programs);
  if (program_cache != NULL)
    g_hash_table_remove (program_cache, key);
  G_UNLOCK (programs);
}

/* @fd moved above the standard streams (the child dup3()s onto 0, 1, 2). */
static int
fd_above_stdio (int fd)
{
  int moved;

  if (fd < 0 || fd > 2)
    return fd;
  moved = fcntl (fd, F_DUPFD_CLOEXEC, 3);
  close (fd);
  return moved;
}

/* /dev/null for every command's stdin, opened once. */
static int
devnull_fd (void)
{
  static int fd = -1;

  G_LOCK (registry);
  if (fd < 0)
    fd = fd_above_stdio (open ("/dev/null", O_RDONLY | O_CLOEXEC));
  G_UNLOCK (registry);
  return fd;
}

static gboolean
same_name (const char *a,
           const char *b)
{
  /* Both `NAME=...`. */
  while (*a != '\0' && *a != '=' && *a == *b)
    a++, b++;
  return *a == '=' && *b == '=';
}

/* The child's environment: @vars (ours, then the task's: the first of a
 * name wins), then this process's environment without the names they set.
 * Borrows every string. */
static GPtrArray *
build_envp (GPtrArray *vars)
{
  GPtrArray *envp;
  char **environ_now = environ;
  guint n = 0;

  while (environ_now[n] != NULL)
    n++;
  envp = g_ptr_array_sized_new (vars->len + n + 1);
  for (guint i = 0; i < vars->len; i++)
    {
      gboolean dup = FALSE;

      for (guint k = 0; k < envp->len && !dup; k++)
        dup = same_name (envp->pdata[k], vars->pdata[i]);
      if (!dup)
        g_ptr_array_add (envp, vars->pdata[i]);
    }
  n = envp->len;
  for (char **e = environ_now; *e != NULL; e++)
    {
      gboolean dup = FALSE;

      if (strchr (*e, '=') == NULL)
        continue;
      for (guint k = 0; k < n && !dup; k++)
        dup = **e == *(const char *) envp->pdata[k] && same_name (envp->pdata[k], *e);
      if (!dup)
        g_ptr_array_add (envp, *e);
    }
  g_ptr_array_add (envp, NULL);
  return envp;
}

static void
close_pipe (int p[2])
{
  if (p[0] >= 0)
    close (p[0]);
  if (p[1] >= 0)
    close (p[1]);
  p[0] = p[1] = -1;
}

static gboolean
open_pipe (int      p[2],
           GError **error)
{
  if (pipe2 (p, O_CLOEXEC) < 0)
    {
      int err = errno;

      p[0] = p[1] = -1;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
                   "cannot create a pipe: %s", g_strerror (err));
      return FALSE;
    }
  p[0] = fd_above_stdio (p[0]);
  p[1] = fd_above_stdio (p[1]);
  if (p[0] < 0 || p[1] < 0)
    {
      close_pipe (p);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES,
                   "cannot create a pipe: %s", g_strerror (EMFILE));
      return FALSE;
    }
  return TRUE;
}

/* Where the child's memory is not this one's (valgrind): whether it wrote
 * its record. */
static gboolean
record_written (Run *run)
{
  char line[RECORD_SLOT];

  return pread (run->plog->fd, line, sizeof line, (off_t) run->slot * RECORD_SLOT) ==
           (ssize_t) sizeof line && line[0] != ' ';
}

/* Whether the child of clone(CLONE_VM) runs in this memory: -1 not known
 * yet. */
static int clone_shares_memory = -1;

static void
orrery_local_device_execute_async (OrreryBaseDevice    *device,
                                   OrreryTask          *task,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  OrreryLocalDevice *self = ORRERY_LOCAL_DEVICE (device);
  g_autoptr(GTask) gtask = NULL;
  g_auto(GStrv) argv = NULL;
  g_autofree char *cwd = NULL;
  g_autofree char *program = NULL;
  g_autoptr(GPtrArray) vars = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) task_vars = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) envp = NULL;
  g_autofree char *token = NULL;
  GError *error = NULL;
  OrreryConstellation *constellation;
  ChildArgs cs;
  char attempt_text[16];
  guint attempt;
  int out_pipe[2] = { -1, -1 }, err_pipe[2] = { -1, -1 }, report_pipe[2] = { -1, -1 };
  int stdin_fd, lookup_errno = 0;
  pid_t pid = 0;
  int pidfd = -1;
  Run *run;

  gtask = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (gtask, orrery_local_device_execute_async);
  g_task_set_check_cancellable (gtask, FALSE);

  if (!parse_task_data (task, task_vars, &argv, &cwd, &error))
    {
      g_task_return_error (gtask, error);
      return;
    }
  if (g_cancellable_set_error_if_cancelled (cancellable, &error))
    {
      g_task_return_error (gtask, error);
      return;
    }
  program = resolve_program (argv[0], &lookup_errno);
  if (program == NULL)
    {
      g_task_return_new_error (gtask, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_SPAWN,
                               "cannot start “%s”: %s", argv[0], g_strerror (lookup_errno));
      return;
    }

  become_subreaper ();

  run = g_new0 (Run, 1);
  run->device = g_object_ref (self);
  run->task_id = g_strdup (orrery_task_get_id (task));
  run->task_obj = g_object_ref (task);
  run->timeout = orrery_task_get_timeout (task);
  run->limit = self->max_output_bytes;
  run->log_cap = self->log_max_bytes;
  run->pidfd = -1;
  run->exit_status = -1;
  run->out.fd = run->err.fd = -1;
  run->out.pipe_fd = run->err.pipe_fd = -1;
  run->out.name = "stdout";
  run->err.name = "stderr";
  g_task_set_task_data (gtask, run, (GDestroyNotify) run_free);

  attempt = MAX (orrery_task_get_attempt (task), 1);
  G_LOCK (registry);
  registry_init ();
  run->seq = ++next_seq;
  note_spawn_thread (self_tid ());
  G_UNLOCK (registry);
  if (!prepare_files (self, run, task, attempt, &error))
    {
      g_task_return_new_error (gtask, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_SPAWN,
                               "cannot start task “%s”: %s", run->task_id, error->message);
      g_error_free (error);
      discard_files (run);
      return;
    }

  /* The task's environment: ours win over the task's own `env`. */
  token = g_strdup_printf ("%s-%u", token_prefix (), run->seq);
  constellation = orrery_task_get_constellation (task);
  g_snprintf (attempt_text, sizeof attempt_text, "%u", attempt);
  g_ptr_array_add (vars, g_strconcat ("ORRERY_RUN_ID=",
                                      orrery_base_device_get_run_id (device) ?: "", NULL));
  g_ptr_array_add (vars, g_strconcat ("ORRERY_CONSTELLATION_ID=",
                                      ORRERY_IS_CONSTELLATION (constellation)
                                      ? orrery_constellation_get_id (ORRERY_CONSTELLATION (constellation))
                                      : "", NULL));
  g_ptr_array_add (vars, g_strconcat ("ORRERY_TASK_ID=", run->task_id, NULL));
  g_ptr_array_add (vars, g_strconcat ("ORRERY_ATTEMPT=", attempt_text, NULL));
  g_ptr_array_add (vars, g_strconcat ("ORRERY_OUTPUTS=", run->outputs_path, NULL));
  g_ptr_array_add (vars, g_strconcat (TOKEN_VAR "=", token, NULL));
  g_ptr_array_extend_and_steal (vars, g_steal_pointer (&task_vars));
  envp = build_envp (vars);

  stdin_fd = devnull_fd ();
  if (stdin_fd < 0 || !open_pipe (out_pipe, &error) || !open_pipe (err_pipe, &error))
    {
      close_pipe (out_pipe);
      discard_files (run);
      g_task_return_new_error (gtask, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_SPAWN,
                               "cannot start “%s”: %s", argv[0],
                               error ? error->message : "cannot open /dev/null");
      g_clear_error (&error);
      return;
    }

  memset (&cs, 0, sizeof cs);
  cs.path = program;
  cs.argv = argv;
  cs.envp = (char *const *) envp->pdata;
  cs.cwd = cwd;
  cs.fds[0] = stdin_fd;
  cs.fds[1] = out_pipe[1];
  cs.fds[2] = err_pipe[1];
  cs.parent = self_pid ();
  /* PDEATHSIG follows the thread that forks: only from the main thread,
   * which lives as long as the process. */
  cs.pdeathsig = self_tid () == self_pid ();
  cs.record_fd = run->plog != NULL ? run->plog->fd : -1;
  cs.record_off = (off_t) run->slot * RECORD_SLOT;
  if (cs.record_fd >= 0)
    {
      static guint64 tick_ns;
      struct timespec now;

      if (tick_ns == 0)
        {
          long hz = sysconf (_SC_CLK_TCK);

          tick_ns = hz > 0 && 1000000000 % hz == 0 ? (guint64) (1000000000 / hz) : 1;
        }
      /* 1: no exact tick (the child reads /proc/self/stat). */
      if (tick_ns > 1 && clock_gettime (CLOCK_BOOTTIME, &now) == 0)
        {
          cs.tick_ns = tick_ns;
          cs.ticks_before = ((guint64) now.tv_sec * G_GUINT64_CONSTANT (1000000000) +
                             (guint64) now.tv_nsec) / tick_ns;
        }
    }
  cs.token = token;

  /* Where CLONE_VM is not honoured (valgrind makes it a fork), the child's
   * report does not reach this memory: a close-on-exec pipe carries it,
   * for the first execution of the process (which finds out) and, if so,
   * every later one. */
  cs.report_fd = -1;
  if (clone_shares_memory != 1 && open_pipe (report_pipe, NULL))
    cs.report_fd = report_pipe[1];

  run->started_us = g_get_monotonic_time ();
  if (!spawn_child (&cs, &pid, &pidfd))
    {
      int err = errno;

      close_pipe (report_pipe);
      close_pipe (out_pipe);
      close_pipe (err_pipe);
      discard_files (run);
      g_task_return_new_error (gtask, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_SPAWN,
                               "cannot start “%s”: %s", argv[0], g_strerror (err));
      return;
    }
  close (out_pipe[1]);
  close (err_pipe[1]);
  if (clone_shares_memory == -1)
    clone_shares_memory = cs.reached ? 1 : 0;
  if (report_pipe[1] >= 0)
    {
      int report[2];
      gssize n;

      close (report_pipe[1]);
      report_pipe[1] = -1;
      /* Closed at the exec, or a report. */
      do
        n = read (report_pipe[0], report, sizeof report);
      while (n < 0 && errno == EINTR);
      if (!cs.reached && n == sizeof report)
        {
          cs.step = report[0];
          cs.error = report[1];
        }
      close_pipe (report_pipe);
    }
  if (cs.step != STEP_NONE)
    {
      /* It has exited already: reap it here. */
      int status;

      if (pidfd >= 0)
        close (pidfd);
      while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
        ;
      close (out_pipe[0]);
      close (err_pipe[0]);
      if (run->plog != NULL)
        {
          process_log_release (run->plog, run->slot);
          run->plog = NULL;
        }
      discard_files (run);
      if (cs.step == STEP_EXEC && cs.error == ENOENT)
        forget_program (argv[0]);
      if (cs.step == STEP_CHDIR)
        g_task_return_new_error (gtask, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_SPAWN,
                                 "cannot start “%s”: cannot change to directory “%s”: %s",
                                 argv[0], cwd, g_strerror (cs.error));
      else
        g_task_return_new_error (gtask, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_SPAWN,
                                 "cannot start “%s”: %s%s", argv[0],
                                 cs.step == STEP_EXEC ? "" : "setting up the process: ",
                                 g_strerror (cs.error));
      return;
    }
  run->pid = pid;
  if (pidfd < 0)
    pidfd = open_pidfd (pid);
  run->pidfd = pidfd;
  run->out.pipe_fd = out_pipe[0];
  run->err.pipe_fd = err_pipe[0];
  /* Formatted even when dropped: ask first (once per task). */
  if (!g_log_writer_default_would_drop (G_LOG_LEVEL_DEBUG, G_LOG_DOMAIN))
    g_debug ("task “%s”: started process %d", run->task_id, (int) run->pid);

  G_LOCK (registry);
  g_hash_table_insert (by_leader, GINT_TO_POINTER (run->pid), run);
  g_hash_table_insert (by_seq, GUINT_TO_POINTER (run->seq), run);
  G_UNLOCK (registry);
  if (run->plog != NULL && (cs.record_failed || (cs.reached == 0 && !record_written (run))))
    g_warning ("task “%s”: cannot record its process in %s", run->task_id, run->plog->path);

  run->task = g_steal_pointer (&gtask);
  _orrery_base_device_task_started (device);
  _orrery_base_device_record_start (device, task, run->started_us);

  run->out.run = run;
  run->out.data = g_byte_array_new ();
  run->err.run = run;
  run->err.data = g_byte_array_new ();

  run->io_source = g_source_new (&run_source_funcs, sizeof (RunSource));
  ((RunSource *) run->io_source)->run = run;
  g_source_set_static_name (run->io_source, "[orrery] local device");
  /* Not blocked while dispatched: GLib blocks a source by taking its fds
   * out of the context's poll set and puts them back afterwards, each a
   * write to the context's wake-up eventfd (six a dispatch, on the way
   * from a task's exit to the next task's start). The dispatch is
   * reentrant for this: it reads only the fds that poll() reported and
   * that are not at their end, reaps once, and a completed execution
   * leaves at once. */
  g_source_set_can_recurse (run->io_source, TRUE);
  run->out.tag = g_source_add_unix_fd (run->io_source, run->out.pipe_fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
  run->err.tag = g_source_add_unix_fd (run->io_source, run->err.pipe_fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
  if (run->pidfd >= 0)
    run->pid_tag = g_source_add_unix_fd (run->io_source, run->pidfd, G_IO_IN);
  g_source_attach (run->io_source, g_task_get_context (run->task));
  if (run->pidfd < 0)
    {
      run->child_watch = g_child_watch_source_new (run->pid);
      g_source_set_callback (run->child_watch, G_SOURCE_FUNC (child_watch_cb), run, NULL);
      g_source_set_static_name (run->child_watch, "[orrery] local device exit");
      g_source_attach (run->child_watch, g_task_get_context (run->task));
    }

  if (run->timeout > 0)
    run->timeout_source = attach_timeout ((guint) MIN (run->timeout * 1000.0 + 0.5,
                                                       (double) G_MAXUINT),
                                          timeout_cb, run);
  if (cancellable != NULL)
    {
      run->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (run->cancel_source, G_SOURCE_FUNC (cancel_cb), run, NULL);
      g_source_set_static_name (run->cancel_source, "[orrery] local device cancel");
      g_source_attach (run->cancel_source, g_task_get_context (run->task));
    }
}

static gboolean
orrery_local_device_execute_finish (OrreryBaseDevice  *device,
                                    GAsyncResult      *result,
                                    GVariant         **out_result,
                                    GError           **error)
{
  Run *run;

  g_return_val_if_fail (g_task_is_valid (result, device), FALSE);

  run = g_task_get_task_data (G_TASK (result));
  if (out_result)
    *out_result = run && run->result ? g_variant_ref (run->result) : NULL;
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
orrery_local_device_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  OrreryLocalDevice *self = ORRERY_LOCAL_DEVICE (object);

  switch (prop_id)
    {
    case PROP_MAX_OUTPUT_BYTES: g_value_set_uint64 (value, self->max_output_bytes); break;
    case PROP_LOG_MAX_BYTES: g_value_set_uint64 (value, self->log_max_bytes); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
orrery_local_device_set_property (GObject      *object,
                                  guint         prop_id,
                                  const GValue *value,
                                  GParamSpec   *pspec)
{
  OrreryLocalDevice *self = ORRERY_LOCAL_DEVICE (object);

  switch (prop_id)
    {
    case PROP_MAX_OUTPUT_BYTES:
      orrery_local_device_set_max_output_bytes (self, g_value_get_uint64 (value));
      break;
    case PROP_LOG_MAX_BYTES:
      orrery_local_device_set_log_max_bytes (self, g_value_get_uint64 (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
orrery_local_device_finalize (GObject *object)
{
  OrreryLocalDevice *self = ORRERY_LOCAL_DEVICE (object);

  g_free (self->logs_dir_made);
  g_clear_pointer (&self->plog, process_log_unref);

  G_OBJECT_CLASS (orrery_local_device_parent_class)->finalize (object);
}

static void
orrery_local_device_class_init (OrreryLocalDeviceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  OrreryBaseDeviceClass *device_class = ORRERY_BASE_DEVICE_CLASS (klass);

  object_class->finalize = orrery_local_device_finalize;
  object_class->get_property = orrery_local_device_get_property;
  object_class->set_property = orrery_local_device_set_property;
  device_class->execute_task_async = orrery_local_device_execute_async;
  device_class->execute_task_finish = orrery_local_device_execute_finish;
  device_class->default_id = "local";
  device_class->default_device_type = orrery_get_host_device_type ();

  /**
   * OrreryLocalDevice:max-output-bytes:
   *
   * How many bytes of standard output (and as many of standard error) are
   * kept in a result: the first ones without a run directory (the rest is
   * dropped), the last ones with one (everything is in the log files);
   * `stdout_truncated` says the result does not hold it all.
   */
  properties[PROP_MAX_OUTPUT_BYTES] =
    g_param_spec_uint64 ("max-output-bytes", NULL, NULL, 0, G_MAXSIZE,
                         ORRERY_LOCAL_DEVICE_DEFAULT_MAX_OUTPUT_BYTES,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_EXPLICIT_NOTIFY |
                         G_PARAM_STATIC_STRINGS);
  /**
   * OrreryLocalDevice:log-max-bytes:
   *
   * With a run directory, how many bytes of standard output (and as many
   * of standard error) each execution writes to its log files; past it
   * the rest is counted but not written, and the file ends with a note
   * saying so (`stdout_log_truncated` in the result).
   */
  properties[PROP_LOG_MAX_BYTES] =
    g_param_spec_uint64 ("log-max-bytes", NULL, NULL, 0, G_MAXUINT64,
                         ORRERY_LOCAL_DEVICE_DEFAULT_LOG_MAX_BYTES,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_EXPLICIT_NOTIFY |
                         G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
orrery_local_device_init (OrreryLocalDevice *self)
{
  self->max_output_bytes = ORRERY_LOCAL_DEVICE_DEFAULT_MAX_OUTPUT_BYTES;
  self->log_max_bytes = ORRERY_LOCAL_DEVICE_DEFAULT_LOG_MAX_BYTES;
}

/**
 * orrery_local_device_new:
 * @id: the device's unique id
 * @device_type: (nullable): the kind of system; %NULL for the host's (see
 *   orrery_get_host_device_type())
 * @max_concurrency: how many commands it runs at once; 0 for the number of
 *   processors
 *
 * Creates a device that runs a task's `command` as a subprocess of this
 * process. The task data it reads:
 *
 * - `command`: a string, run by `/bin/sh -c`, or a list of strings, run as
 *   the argument vector (the program is looked up in this process's `PATH`,
 *   once per `PATH` and name)
 * - `env` (optional): a dictionary of strings added to the environment
 * - `cwd` (optional): the working directory
 *
 * Standard input is `/dev/null`. The environment is this process's, with
 * the task's `env` added, and then:
 *
 * - `ORRERY_RUN_ID`: the #OrreryBaseDevice:run-id (empty without one)
 * - `ORRERY_CONSTELLATION_ID`, `ORRERY_TASK_ID`, `ORRERY_ATTEMPT` (from 1)
 * - `ORRERY_OUTPUTS`: a path, in a directory only this user can enter
 *   (0700), where nothing is when the task starts (the task creates the
 *   file), where the task may write one JSON object (at most 1 MiB, nested
 *   at most 64 deep); after the task exits it becomes the result's
 *   `outputs` (`a{sv}`), so a conditional dependency such as
 *   `outputs.rows >= 1000` can test it. No file, or an empty one, means no
 *   outputs; anything but one JSON object fails a task that otherwise
 *   succeeded, with %ORRERY_DEVICE_ERROR_BAD_OUTPUTS naming the file. With
 *   a run directory the path is `RUN_DIR/logs/ID.ATTEMPT.outputs.json` and
 *   the file stays; without one it is in a private temporary directory
 *   (one per process) and is removed after the task. (The file is not made
 *   in advance: creating and reading back an empty file per task cost
 *   more than the command `true` does.)
 * - `ORRERY_TASK_TOKEN`: a tag unique to this execution, which its
 *   descendants inherit; it is how the device finds them.
 *
 * The result is a dictionary with `exit_status` (`i`, -1 when killed),
 * `signal` (`i`, when killed by a signal), `stdout` and `stderr` (`s`, at
 * most #OrreryLocalDevice:max-output-bytes bytes each, invalid UTF-8
 * replaced), `stdout_truncated` and `stderr_truncated` (`b`), `outputs`
 * (`a{sv}`, when the task wrote some), `duration` (`d`, in seconds), `pid`
 * (`i`) and, after a timeout, `timed_out` (`b`).
 *
 * With a run directory (orrery_base_device_set_run()), each execution's
 * standard output and error are written as they come to
 * `RUN_DIR/logs/ID.ATTEMPT.stdout` and `.stderr` (ID through
 * orrery_escape_for_filename(); files 0600, directories 0700), complete up
 * to #OrreryLocalDevice:log-max-bytes each (a file is created at the first
 * byte of its stream: a stream that stayed empty has none); `stdout` and
 * `stderr` in the result then hold the last bytes, and the result adds
 * `stdout_path`,
 * `stderr_path`, `stdout_bytes`, `stderr_bytes` (`x`, all that was
 * printed) and `stdout_log_truncated`, `stderr_log_truncated` (`b`). A
 * failure's message names the log files that exist. While the execution runs,
 * a line of `RUN_DIR/logs/processes` (`PID STARTTIME PGID TOKEN`, blanked
 * when it ends) records its process (see
 * orrery_local_device_kill_survivors()).
 *
 * The command runs in a process group of its own; on a timeout or a cancel
 * the whole group is killed (%SIGTERM, then %SIGKILL after 200 ms), with
 * the processes of its tree that left the group; whatever is left when the
 * command exits is killed too: the group, and every process that carries
 * the execution's token (a `setsid cmd &`, a daemon). The execution
 * completes once those are reaped. For that the first execution makes this
 * process a child subreaper (`PR_SET_CHILD_SUBREAPER`: orphans of its
 * descendants are re-parented to it rather than to init; those that are
 * not a task's are left alone). The command gets `PR_SET_PDEATHSIG`
 * (%SIGKILL): it dies with this process, even on a %SIGKILL, when it was
 * started from the main thread.
 *
 * Returns: (transfer full): a new local device
 */
OrreryLocalDevice *
orrery_local_device_new (const char *id,
                         const char *device_type,
                         guint       max_concurrency)
{
  g_return_val_if_fail (id != NULL && *id != '\0', NULL);

  return g_object_new (ORRERY_TYPE_LOCAL_DEVICE,
                       "id", id,
                       "device-type", device_type,
                       "max-concurrency", max_concurrency,
                       NULL);
}

/**
 * orrery_local_device_set_capabilities:
 * @self: a local device
 * @capabilities: (nullable) (array zero-terminated=1): what the device can
 *   do
 *
 * Sets the device's capabilities.
 */
void
orrery_local_device_set_capabilities (OrreryLocalDevice  *self,
                                      const char * const *capabilities)
{
  g_return_if_fail (ORRERY_IS_LOCAL_DEVICE (self));

  orrery_base_device_set_capabilities (ORRERY_BASE_DEVICE (self), capabilities);
}

/**
 * orrery_local_device_get_max_output_bytes:
 * @self: a local device
 *
 * Returns: how many bytes of each output stream a result keeps
 */
gsize
orrery_local_device_get_max_output_bytes (OrreryLocalDevice *self)
{
  g_return_val_if_fail (ORRERY_IS_LOCAL_DEVICE (self), 0);
  return self->max_output_bytes;
}

/**
 * orrery_local_device_set_max_output_bytes:
 * @self: a local device
 * @max_output_bytes: how many bytes of standard output and of standard
 *   error a result keeps (the default is
 *   %ORRERY_LOCAL_DEVICE_DEFAULT_MAX_OUTPUT_BYTES)
 *
 * Sets the bound on the captured output of later executions.
 */
void
orrery_local_device_set_max_output_bytes (OrreryLocalDevice *self,
                                          gsize              max_output_bytes)
{
  g_return_if_fail (ORRERY_IS_LOCAL_DEVICE (self));

  if (self->max_output_bytes == max_output_bytes)
    return;
  self->max_output_bytes = max_output_bytes;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_OUTPUT_BYTES]);
}

/**
 * orrery_local_device_get_log_max_bytes:
 * @self: a local device
 *
 * Returns: how many bytes of each output stream an execution writes to its
 *   log file
 */
guint64
orrery_local_device_get_log_max_bytes (OrreryLocalDevice *self)
{
  g_return_val_if_fail (ORRERY_IS_LOCAL_DEVICE (self), 0);
  return self->log_max_bytes;
}

/**
 * orrery_local_device_set_log_max_bytes:
 * @self: a local device
 * @log_max_bytes: how many bytes of standard output and of standard error
 *   each execution writes to its log files (the default is
 *   %ORRERY_LOCAL_DEVICE_DEFAULT_LOG_MAX_BYTES)
 *
 * Sets the cap on the log files of later executions.
 */
void
orrery_local_device_set_log_max_bytes (OrreryLocalDevice *self,
                                       guint64            log_max_bytes)
{
  g_return_if_fail (ORRERY_IS_LOCAL_DEVICE (self));

  if (self->log_max_bytes == log_max_bytes)
    return;
  self->log_max_bytes = log_max_bytes;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOG_MAX_BYTES]);
}

typedef struct
{
  char    *file;
  pid_t    pid;
  guint64  start;
  pid_t    pgid;
  char    *token;
  gboolean group_ok;  /* no other process holds the group's number */
} Record;

static void
record_free (Record *r)
{
  g_free (r->file);
  g_free (r->token);
  g_free (r);
}

typedef struct
{
  pid_t    pid;
  guint64  start;
  pid_t    pgid;
  char    *token;
} Proc;

static void
proc_clear (gpointer data)
{
  g_free (((Proc *) data)->token);
}

/**
 * orrery_local_device_kill_survivors:
 * @run_dir: (type filename): a run directory
 * @n_killed: (out) (optional): where to store how many processes were
 *   killed
 * @error: return location for an error
 *
 * Kills what the executions recorded in `RUN_DIR/logs/processes` (and in
 * the `RUN_DIR/logs/ *.pid` files of older versions) left running
 * when their host died (a SIGKILL, a crash, a power cut of the terminal):
 * every process still alive that is the recorded one (same pid *and* same
 * start time: a reused pid is never killed), that is in its process group
 * (unless the group's number now belongs to another process), or that
 * carries its `ORRERY_TASK_TOKEN`. They get %SIGKILL; the call returns once
 * they are gone (waiting at most a few seconds) and removes the record
 * files.
 * Call it before running the interrupted tasks again, as `orrery resume`
 * does.
 *
 * Returns: %TRUE on success (also when there was nothing to kill); %FALSE
 *   with a #GIOErrorEnum error naming the directory if it cannot be read
 */
gboolean
orrery_local_device_kill_survivors (const char  *run_dir,
                                    guint       *n_killed,
                                    GError     **error)
{
  g_autofree char *logs = NULL;
  g_autoptr(GPtrArray) records = g_ptr_array_new_with_free_func ((GDestroyNotify) record_free);
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GArray) procs = NULL;
  g_autoptr(GArray) killed = g_array_new (FALSE, FALSE, sizeof (Proc));
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GError) local_error = NULL;
  const char *name;
  pid_t self = getpid ();
  DIR *proc_dir;
  struct dirent *entry;
  gint64 deadline;

  g_return_val_if_fail (run_dir != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (n_killed)
    *n_killed = 0;
  logs = g_build_filename (run_dir, "logs", NULL);
  dir = g_dir_open (logs, 0, &local_error);
  if (dir == NULL)
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return TRUE;
      g_set_error (error, G_IO_ERROR, g_io_error_from_file_error (local_error->code),
                   "cannot read the process records in %s: %s", logs, local_error->message);
      return FALSE;
    }
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autofree char *text = NULL;
      g_auto(GStrv) lines = NULL;

      /* The processes file, and the record files (one per execution) of
       * older versions. */
      if (!g_str_has_suffix (name, ".pid") && strcmp (name, PROCESS_LOG_NAME) != 0)
        continue;
      path = g_build_filename (logs, name, NULL);
      g_ptr_array_add (files, g_strdup (path));
      if (!g_file_get_contents (path, &text, NULL, NULL))
        continue;
      lines = g_strsplit (text, "\n", -1);
      for (guint i = 0; lines[i] != NULL; i++)
        {
          g_auto(GStrv) fields = NULL;
          Record *r;

          if (*g_strstrip (lines[i]) == '\0')
            continue;
          r = g_new0 (Record, 1);
          r->file = g_strdup (path);
          g_ptr_array_add (records, r);
          fields = g_strsplit_set (lines[i], " \t", 5);
          if (g_strv_length (fields) >= 3)
            {
              guint64 v;

              if (g_ascii_string_to_unsigned (fields[0], 10, 1, G_MAXINT, &v, NULL))
                r->pid = (pid_t) v;
              if (g_ascii_string_to_unsigned (fields[1], 10, 1, G_MAXUINT64, &v, NULL))
                r->start = v;
              if (g_ascii_string_to_unsigned (fields[2], 10, 1, G_MAXINT, &v, NULL))
                r->pgid = (pid_t) v;
              if (r->pid == 0 || r->start == 0)
                r->pid = r->pgid = 0;
              if (fields[3] != NULL && *fields[3] != '\0')
                r->token = g_strdup (fields[3]);
            }
          r->group_ok = r->pgid > 0;
        }
    }
  if (records->len == 0)
    {
      for (guint k = 0; k < files->len; k++)
        g_unlink (files->pdata[k]);
      return TRUE;
    }

  /* Every process, once. */
  procs = g_array_new (FALSE, FALSE, sizeof (Proc));
  g_array_set_clear_func (procs, proc_clear);
  proc_dir = opendir ("/proc");
  if (proc_dir == NULL)
    {
      int err = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
                   "cannot list the processes in /proc: %s", g_strerror (err));
      return FALSE;
    }
  while ((entry = readdir (proc_dir)) != NULL)
    {
      guint64 v;
      ProcStat st;
      Proc p = { 0 };

      if (!g_ascii_string_to_unsigned (entry->d_name, 10, 1, G_MAXINT, &v, NULL) ||
          (pid_t) v == self || !read_proc_stat ((pid_t) v, &st) || st.state == 'Z')
        continue;
      p.pid = (pid_t) v;
      p.start = st.start;
      p.pgid = st.pgid;
      p.token = read_token (p.pid, NULL);
      g_array_append_val (procs, p);
    }
  closedir (proc_dir);

  /* A group number now held by a process that is not the recorded one:
   * the group is someone else's. */
  for (guint i = 0; i < procs->len; i++)
    {
      Proc *p = &g_array_index (procs, Proc, i);

      for (guint k = 0; k < records->len; k++)
        {
          Record *r = records->pdata[k];

          if (r->group_ok && p->pid == r->pgid && !(r->pgid == r->pid && p->start == r->start))
            r->group_ok = FALSE;
        }
    }

  for (guint i = 0; i < procs->len; i++)
    {
      Proc *p = &g_array_index (procs, Proc, i);

      for (guint k = 0; k < records->len; k++)
        {
          Record *r = records->pdata[k];
          gboolean same = r->pid > 0 && p->pid == r->pid && p->start == r->start;
          gboolean tagged = r->token != NULL && g_strcmp0 (p->token, r->token) == 0;
          gboolean member = r->group_ok && p->pgid == r->pgid && p->start >= r->start;

          if (!same && !tagged && !member)
            continue;
          g_debug ("killing process %d, left by %s", (int) p->pid, r->file);
          if (p->pgid == p->pid && (same || tagged))
            kill (-p->pid, SIGKILL);
          if (kill (p->pid, SIGKILL) == 0)
            {
              Proc copy = { p->pid, p->start, p->pgid, NULL };

              g_array_append_val (killed, copy);
            }
          break;
        }
    }

  /* Gone (or zombies, which run nothing) before the task runs again. */
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  for (guint i = 0; i < killed->len; )
    {
      Proc *p = &g_array_index (killed, Proc, i);
      ProcStat st;

      if (!read_proc_stat (p->pid, &st) || st.start != p->start || st.state == 'Z' ||
          g_get_monotonic_time () > deadline)
        i++;
      else
        g_usleep (2000);
    }

  for (guint k = 0; k < files->len; k++)
    g_unlink (files->pdata[k]);
  if (n_killed)
    *n_killed = killed->len;
  return TRUE;
}

/**
 * orrery_local_device_get_n_running:
 * @self: a local device
 *
 * Returns: how many commands the device is running now
 */
guint
orrery_local_device_get_n_running (OrreryLocalDevice *self)
{
  g_return_val_if_fail (ORRERY_IS_LOCAL_DEVICE (self), 0);
  return orrery_base_device_get_n_running (ORRERY_BASE_DEVICE (self));
}

/**
 * orrery_get_host_device_type:
 *
 * The device type of this machine: its system name in lower case, as
 * uname(2) gives it (`linux`, `freebsd`, `darwin`, ...).
 *
 * Returns: (transfer none): the host's device type
 */
const char *
orrery_get_host_device_type (void)
{
  static gsize host_type;

  if (g_once_init_enter (&host_type))
    {
      struct utsname name;
      char *type;

      if (uname (&name) == 0 && name.sysname[0] != '\0')
        type = g_ascii_strdown (name.sysname, -1);
      else
        type = g_strdup ("unknown");
      g_once_init_leave (&host_type, (gsize) type);
    }
  return (const char *) host_type;
}
