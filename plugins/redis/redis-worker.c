/* redis-worker.c: `orrery worker URL --pool NAME`, the program that runs a
 * pool's tasks on this machine (orrery-redis-worker; `orrery worker` execs
 * it, so that the host has no Redis code).
 *
 * - Takes task records from KEY:tasks through the consumer group
 *   `workers` (XREADGROUP, as many as it has free slots), decodes each
 *   defensively (redis_task_record_decode()) and runs it with the local
 *   device (or the simulated one with --simulated): same environment,
 *   logs and outputs as at home, in OUTPUT_DIR/runs/RUN_ID/.
 * - Sends each result to the record's reply stream, then acknowledges and
 *   deletes the entry. Results made while Redis is away are kept and sent
 *   when it is back, and so are those sent but not answered when the link
 *   dropped (they may not have reached Redis: sent again, a result twice
 *   is harmless, the host keeps the first of a delivery).
 * - After a reconnect of its tasks link, first reads its own pending
 *   entries (XREADGROUP ... 0, on the command link, after what waited
 *   there): an entry Redis gave it whose reply the drop lost is run now,
 *   as the same delivery, rather than taken over after its lease; those it
 *   runs or has finished are skipped.
 * - Heartbeats (every --heartbeat-ms): its presence key KEY:worker:ID with
 *   a TTL of three heartbeats, and the lease of what it holds (XCLAIM
 *   ... JUSTID resets the entries' idle time). A worker that stops
 *   heartbeating (killed, stopped, cut off) loses its tasks to a takeover.
 * - Reads the pool's control stream: a cancel of a task it runs cancels it
 *   (the local device kills the process group).
 * - A task asking for a capability it lacks is handed back at once (a new
 *   delivery); a record of another pool or one that does not decode is
 *   dropped with a warning.
 * - SIGTERM or SIGINT: takes nothing more, finishes what it runs, sends the
 *   results, leaves the pool (its presence key deleted), exits 0. A second
 *   one cancels what runs and hands it back.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-Worker"

#include <errno.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib-unix.h>
#include <glib/gstdio.h>

#include <orrery.h>
#include "redis-common.h"

#define EXIT_OK     0
#define EXIT_FAILED 1
#define EXIT_USAGE  2

typedef struct
{
  struct _Worker  *worker;
  char            *entry_id;
  RedisTaskRecord *record;
  OrreryTask      *task;
  GCancellable    *cancellable;
  gint64           start_us;
  gboolean         handed_back;
  gboolean         superseded;
} Run;

typedef struct _Worker
{
  GMainLoop     *loop;
  RedisUrl      *url;
  char          *pool;
  char          *id;
  guint          slots;
  char         **capabilities;
  guint          heartbeat_ms;
  char          *output_dir;
  OrreryDevice  *device;

  char          *tasks_key;
  char          *control_key;
  char          *workers_key;
  char          *presence_key;
  char          *presence;

  RedisLink     *cmd;
  RedisLink     *tasks;
  RedisLink     *control;
  gboolean       reading;
  gboolean       reading_control;
  char          *control_last;

  GHashTable    *runs;          /* entry id -> Run */
  GQueue         outbox;        /* GPtrArray commands waiting for the link */
  GQueue         inflight;      /* GPtrArray commands sent, not yet answered */
  GHashTable    *acking;        /* entry ids whose XACK is not answered yet */
  gboolean       tasks_was_up;  /* the tasks link was up before (a reconnect) */
  char          *pending_from;  /* its pending entries to read, after this id */
  gboolean       scanning;      /* a read of them is on the command link */
  guint          leave_timeout;
  GSource       *heartbeat;
  guint          n_signals;
  gboolean       stopping;
  gboolean       left;
  int            status;
  guint64        n_done;
} Worker;

static void read_tasks (Worker *w);
static void maybe_finish (Worker *w);

static GPtrArray *
cmd_new (const char *first,
         ...)
{
  GPtrArray *a = g_ptr_array_new_with_free_func (g_free);
  va_list ap;

  va_start (ap, first);
  for (const char *s = first; s != NULL; s = va_arg (ap, const char *))
    g_ptr_array_add (a, g_strdup (s));
  va_end (ap);
  return a;
}

/* The answer to a command of send_or_keep(): the oldest of w->inflight
 * (answers come in order). A NULL reply is the link dropping: the command
 * stays there, and on_cmd_state() puts it back in the outbox. */
static void
on_sent (redisAsyncContext *ac,
         void              *r,
         void              *privdata)
{
  redisReply *reply = r;
  Worker *w = privdata;
  GPtrArray *cmd;

  if (ac->data == NULL || reply == NULL)
    return;
  if (reply->type == REDIS_REPLY_ERROR)
    g_warning ("Redis refused a command: %.*s", (int) MIN (reply->len, 200), reply->str);
  cmd = g_queue_pop_head (&w->inflight);
  g_return_if_fail (cmd != NULL);
  if (g_str_equal (cmd->pdata[0], "XACK"))
    g_hash_table_remove (w->acking, cmd->pdata[3]);
  g_ptr_array_unref (cmd);
}

/* Sends @cmd now, or when the link is back (taken); kept until answered. */
static void
send_or_keep (Worker    *w,
              GPtrArray *cmd)
{
  if (g_queue_is_empty (&w->outbox) && redis_link_command_strv (w->cmd, on_sent, w, cmd))
    {
      g_queue_push_tail (&w->inflight, cmd);
      return;
    }
  g_queue_push_tail (&w->outbox, cmd);
}

static void
flush_outbox (Worker *w)
{
  while (!g_queue_is_empty (&w->outbox))
    {
      GPtrArray *cmd = g_queue_peek_head (&w->outbox);

      if (!redis_link_command_strv (w->cmd, on_sent, w, cmd))
        return;
      g_queue_push_tail (&w->inflight, g_queue_pop_head (&w->outbox));
    }
}

/* ---------------------------------------------------------------- runs */

static void
run_free (Run *run)
{
  g_free (run->entry_id);
  redis_task_record_free (run->record);
  g_clear_object (&run->task);
  g_clear_object (&run->cancellable);
  g_free (run);
}

static void
ack_entry (Worker     *w,
           const char *entry_id)
{
  g_hash_table_add (w->acking, g_strdup (entry_id));
  send_or_keep (w, cmd_new ("XACK", w->tasks_key, REDIS_GROUP, entry_id, NULL));
  send_or_keep (w, cmd_new ("XDEL", w->tasks_key, entry_id, NULL));
}

static void
on_run_done (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Run *run = user_data;
  Worker *w = run->worker;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  RedisReplyRecord reply = { 0 };
  GPtrArray *cmd;
  gboolean ok;

  ok = orrery_device_execute_finish (ORRERY_DEVICE (source), result, &value, &error);
  g_hash_table_steal (w->runs, run->entry_id);
  w->n_done++;
  if (run->handed_back)
    {
      g_message ("Task “%s” handed back", run->record->task_id);
      run_free (run);
      maybe_finish (w);
      return;
    }
  reply.kind = REDIS_REPLY_RESULT;
  reply.task_id = run->record->task_id;
  reply.attempt = run->record->attempt;
  reply.delivery = run->record->delivery;
  reply.worker = w->id;
  reply.ok = ok;
  reply.result = value;
  reply.duration_us = g_get_monotonic_time () - run->start_us;
  if (!ok)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        reply.error_kind = 1;
      else if (error->domain == ORRERY_DEVICE_ERROR)
        reply.error_code = error->code;
      reply.error_message = error->message;
    }
  g_debug ("Task “%s” (attempt %u, delivery %u) %s", reply.task_id, reply.attempt,
           reply.delivery, ok ? "succeeded" : error->message);
  cmd = cmd_new ("XADD", run->record->reply, "*", NULL);
  redis_reply_record_encode (&reply, cmd);
  send_or_keep (w, cmd);
  ack_entry (w, run->entry_id);
  run_free (run);
  read_tasks (w);
  maybe_finish (w);
}

/* The task's `capabilities` (a list of strings, `as` or `av` as JSON
 * gives them) that this worker lacks: the first one, or FALSE. */
static gboolean
has_capabilities (Worker      *w,
                  GVariant    *data,
                  char       **missing)
{
  g_autoptr(GVariant) caps = NULL;
  GVariantIter iter;
  GVariant *item;

  if (data == NULL)
    return TRUE;
  caps = g_variant_lookup_value (data, "capabilities", NULL);
  if (caps == NULL || !g_variant_is_container (caps))
    return TRUE;
  g_variant_iter_init (&iter, caps);
  while ((item = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_autoptr(GVariant) v = item;
      g_autoptr(GVariant) inner = g_variant_is_of_type (v, G_VARIANT_TYPE_VARIANT)
                                  ? g_variant_get_variant (v) : g_variant_ref (v);
      const char *c;

      if (!g_variant_is_of_type (inner, G_VARIANT_TYPE_STRING))
        continue;
      c = g_variant_get_string (inner, NULL);
      if (w->capabilities == NULL || !g_strv_contains ((const char * const *) w->capabilities, c))
        {
          *missing = g_strdup (c);
          return FALSE;
        }
    }
  return TRUE;
}

static void
start_run (Worker          *w,
           const char      *entry_id,
           RedisTaskRecord *record)   /* taken */
{
  Run *run = g_new0 (Run, 1);

  run->worker = w;
  run->entry_id = g_strdup (entry_id);
  run->record = record;
  run->task = orrery_task_new (record->task_id, record->name);
  orrery_task_set_attempt (run->task, record->attempt);
  orrery_task_set_timeout (run->task, record->timeout);
  if (record->data)
    orrery_task_set_task_data (run->task, record->data);
  run->cancellable = g_cancellable_new ();
  run->start_us = g_get_monotonic_time ();
  g_hash_table_insert (w->runs, run->entry_id, run);

  if (record->run_id != NULL)
    {
      g_autofree char *safe = orrery_escape_for_filename (record->run_id);
      g_autofree char *dir = g_build_filename (w->output_dir, "runs", safe, NULL);

      if (g_mkdir_with_parents (dir, 0700) < 0)
        g_warning ("Cannot create %s: %s", dir, g_strerror (errno));
      orrery_base_device_set_run (ORRERY_BASE_DEVICE (w->device), record->run_id, dir);
    }
  g_debug ("Running “%s” (attempt %u, delivery %u)", record->task_id, record->attempt,
           record->delivery);
  orrery_device_execute_async (w->device, run->task, run->cancellable, on_run_done, run);
}

static void
handle_entry (Worker           *w,
              const char       *entry_id,
              const redisReply *fields)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RedisTaskRecord) record = redis_task_record_decode_reply (fields, &error);
  g_autofree char *missing = NULL;

  if (record == NULL)
    {
      g_warning ("Entry %s of %s is not a task record, dropped: %s", entry_id,
                 w->tasks_key, error->message);
      ack_entry (w, entry_id);
      return;
    }
  if (!g_str_equal (record->pool, w->pool))
    {
      g_warning ("Entry %s of %s is a task of pool “%s”, not “%s”: dropped", entry_id,
                 w->tasks_key, record->pool, w->pool);
      ack_entry (w, entry_id);
      return;
    }
  if (w->stopping)
    {
      /* Taken by the read that was waiting when the signal came: back to
       * the pool as it was, for another worker. */
      if (!redis_put_back (w->cmd, w->tasks_key, entry_id, record))
        g_warning ("Cannot put task “%s” back now; it is taken over after its lease",
                   record->task_id);
      return;
    }
  if (!has_capabilities (w, record->data, &missing))
    {
      g_autofree char *why = g_strdup_printf ("worker %s lacks the capability “%s”",
                                              w->id, missing);

      g_message ("Task “%s” handed back: %s", record->task_id, why);
      if (!redis_redeliver (w->cmd, w->tasks_key, entry_id, record, why))
        g_warning ("Cannot hand task “%s” back now; it is taken over after its lease",
                   record->task_id);
      return;
    }
  start_run (w, entry_id, g_steal_pointer (&record));
}

static gboolean
read_one_task (const char       *id,
               size_t            id_len,
               const redisReply *fields,
               gpointer          user_data)
{
  g_autofree char *entry_id = g_strndup (id, id_len);

  handle_entry (user_data, entry_id, fields);
  return TRUE;
}

static void
on_tasks (redisAsyncContext *ac,
          void              *r,
          void              *privdata)
{
  redisReply *reply = r;
  Worker *w = privdata;

  if (ac->data == NULL)
    return;
  w->reading = FALSE;
  if (reply == NULL)
    return;
  if (reply->type == REDIS_REPLY_ERROR)
    {
      g_warning ("Cannot read %s: %.*s", w->tasks_key, (int) MIN (reply->len, 200), reply->str);
      if (g_str_has_prefix (reply->str, "NOGROUP"))
        send_or_keep (w, cmd_new ("XGROUP", "CREATE", w->tasks_key, REDIS_GROUP, "0",
                                  "MKSTREAM", NULL));
    }
  else
    redis_reply_foreach_entry (reply, read_one_task, w);
  read_tasks (w);
  maybe_finish (w);
}

/* One of its own pending entries (the scan after a reconnect). */
static gboolean
read_one_pending (const char       *id,
                  size_t            id_len,
                  const redisReply *fields,
                  gpointer          user_data)
{
  Worker *w = user_data;
  g_autofree char *entry_id = g_strndup (id, id_len);

  /* The next page starts after this one. */
  g_free (w->pending_from);
  w->pending_from = g_strdup (entry_id);
  if (g_hash_table_contains (w->runs, entry_id) || g_hash_table_contains (w->acking, entry_id))
    return TRUE;   /* running here, or finished (its XACK comes after this read) */
  if (fields->type == REDIS_REPLY_NIL)
    {
      ack_entry (w, entry_id);   /* deleted before its XACK went in */
      return TRUE;
    }
  g_message ("Entry %s was given to this worker before the link dropped, its reply lost: "
             "running it now", entry_id);
  handle_entry (w, entry_id, fields);
  return TRUE;
}

static void
on_pending (redisAsyncContext *ac,
            void              *r,
            void              *privdata)
{
  redisReply *reply = r;
  Worker *w = privdata;

  if (ac->data == NULL)
    return;
  w->scanning = FALSE;
  if (reply == NULL)
    return;   /* the command link dropped: the scan goes on once it is back */
  if (reply->type == REDIS_REPLY_ERROR)
    {
      g_warning ("Cannot read the pending entries of %s: %.*s", w->tasks_key,
                 (int) MIN (reply->len, 200), reply->str);
      g_clear_pointer (&w->pending_from, g_free);
    }
  else if (redis_reply_foreach_entry (reply, read_one_pending, w) == 0)
    g_clear_pointer (&w->pending_from, g_free);   /* all read */
  read_tasks (w);
  maybe_finish (w);
}

/* The scan of its own pending entries, a page at a time, on the command
 * link: there its reply comes in order with the XACKs of what finished
 * (on the tasks link, an XACK answered first could make an entry this
 * read saw pending look new, and it would run twice). */
static void
scan_pending (Worker *w)
{
  g_autofree char *count = NULL;
  guint running = g_hash_table_size (w->runs);
  const char *argv[9];
  size_t lens[9];

  if (w->scanning || w->stopping || running >= w->slots)
    return;
  count = g_strdup_printf ("%u", w->slots - running);
  argv[0] = "XREADGROUP"; argv[1] = "GROUP"; argv[2] = REDIS_GROUP; argv[3] = w->id;
  argv[4] = "COUNT"; argv[5] = count; argv[6] = "STREAMS"; argv[7] = w->tasks_key;
  argv[8] = w->pending_from;
  for (guint i = 0; i < 9; i++)
    lens[i] = strlen (argv[i]);
  /* Only once what waited in the outbox (XACKs among it) is sent. */
  w->scanning = g_queue_is_empty (&w->outbox) &&
                redis_link_command (w->cmd, on_pending, w, 9, argv, lens);
}

static void
read_tasks (Worker *w)
{
  g_autofree char *count = NULL;
  g_autofree char *block = NULL;
  guint running = g_hash_table_size (w->runs);
  const char *argv[11];
  size_t lens[11];

  /* After a reconnect, its pending entries first; new ones after. */
  if (w->pending_from != NULL)
    {
      scan_pending (w);
      return;
    }
  if (w->reading || w->stopping || running >= w->slots)
    return;
  count = g_strdup_printf ("%u", w->slots - running);
  block = g_strdup_printf ("%u", w->heartbeat_ms);
  argv[0] = "XREADGROUP"; argv[1] = "GROUP"; argv[2] = REDIS_GROUP; argv[3] = w->id;
  argv[4] = "COUNT"; argv[5] = count; argv[6] = "BLOCK"; argv[7] = block;
  argv[8] = "STREAMS"; argv[9] = w->tasks_key; argv[10] = ">";
  for (guint i = 0; i < 11; i++)
    lens[i] = strlen (argv[i]);
  w->reading = redis_link_command (w->tasks, on_tasks, w, 11, argv, lens);
}

/* ---------------------------------------------------------------- control */

static void read_control (Worker *w);

static void
handle_control (Worker           *w,
                const redisReply *fields)
{
  const char *op = NULL, *task = NULL, *attempt = NULL, *reply = NULL;
  GHashTableIter iter;
  gpointer value;

  if (fields->type != REDIS_REPLY_ARRAY || fields->elements % 2 != 0)
    return;
  for (size_t i = 0; i + 1 < fields->elements; i += 2)
    {
      const redisReply *f = fields->element[i], *v = fields->element[i + 1];

      if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
        return;
      if (g_str_equal (f->str, "op")) op = v->str;
      else if (g_str_equal (f->str, "task")) task = v->str;
      else if (g_str_equal (f->str, "attempt")) attempt = v->str;
      else if (g_str_equal (f->str, "reply")) reply = v->str;
    }
  if (g_strcmp0 (op, "cancel") != 0 || task == NULL || attempt == NULL || reply == NULL)
    return;
  g_hash_table_iter_init (&iter, w->runs);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Run *run = value;
      g_autofree char *a = g_strdup_printf ("%u", run->record->attempt);

      if (g_str_equal (run->record->task_id, task) && g_str_equal (a, attempt) &&
          g_str_equal (run->record->reply, reply))
        {
          g_message ("Cancelling task “%s” (attempt %s): the host cancelled it", task, attempt);
          g_cancellable_cancel (run->cancellable);
        }
    }
}

static gboolean
read_one_control (const char       *id,
                  size_t            id_len,
                  const redisReply *fields,
                  gpointer          user_data)
{
  Worker *w = user_data;

  g_free (w->control_last);
  w->control_last = g_strndup (id, id_len);
  handle_control (w, fields);
  return TRUE;
}

static void
on_control (redisAsyncContext *ac,
            void              *r,
            void              *privdata)
{
  redisReply *reply = r;
  Worker *w = privdata;

  if (ac->data == NULL)
    return;
  w->reading_control = FALSE;
  if (reply == NULL)
    return;
  redis_reply_foreach_entry (reply, read_one_control, w);
  read_control (w);
}

static void
read_control (Worker *w)
{
  g_autofree char *block = g_strdup_printf ("%u", w->heartbeat_ms);
  const char *argv[] = { "XREAD", "BLOCK", block, "STREAMS", w->control_key, w->control_last };
  size_t lens[G_N_ELEMENTS (argv)];

  if (w->reading_control || w->left)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (argv); i++)
    lens[i] = strlen (argv[i]);
  w->reading_control = redis_link_command (w->control, on_control, w, G_N_ELEMENTS (argv),
                                           argv, lens);
}

static void
on_control_id (redisAsyncContext *ac,
               void              *r,
               void              *privdata)
{
  redisReply *reply = r;
  Worker *w = privdata;

  if (ac->data == NULL || reply == NULL)
    return;
  /* XINFO STREAM's last-generated-id, or 0-0 for a stream not made yet:
   * cancels from now on. */
  if (w->control_last == NULL)
    {
      w->control_last = g_strdup ("0-0");
      if (reply->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i + 1 < reply->elements; i += 2)
          if (reply->element[i]->type == REDIS_REPLY_STRING &&
              g_str_equal (reply->element[i]->str, "last-generated-id") &&
              reply->element[i + 1]->type == REDIS_REPLY_STRING)
            {
              g_free (w->control_last);
              w->control_last = g_strdup (reply->element[i + 1]->str);
            }
    }
  read_control (w);
}

/* ---------------------------------------------------------------- heartbeats */

static void
on_renewed (redisAsyncContext *ac,
            void              *r,
            void              *privdata)
{
  redisReply *reply = r;
  Worker *w = privdata;
  g_autoptr(GHashTable) kept = NULL;
  GHashTableIter iter;
  gpointer value;

  if (ac->data == NULL || reply == NULL || reply->type != REDIS_REPLY_ARRAY)
    return;
  kept = g_hash_table_new (g_str_hash, g_str_equal);
  for (size_t i = 0; i < reply->elements; i++)
    if (reply->element[i]->type == REDIS_REPLY_STRING)
      g_hash_table_add (kept, reply->element[i]->str);
  g_hash_table_iter_init (&iter, w->runs);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Run *run = value;

      if (!g_hash_table_contains (kept, run->entry_id) && !run->handed_back &&
          !run->superseded)
        {
          /* Taken over while this worker was away (stopped, cut off): it
           * runs on, but the host ignores its result (deduplicated by
           * task, attempt and delivery). */
          run->superseded = TRUE;
          g_message ("Task “%s” (attempt %u, delivery %u) was taken over while this worker "
                     "was away; its result here will be ignored", run->record->task_id,
                     run->record->attempt, run->record->delivery);
        }
    }
}

static gboolean
on_heartbeat (gpointer user_data)
{
  Worker *w = user_data;
  g_autofree char *ttl = g_strdup_printf ("%u", w->heartbeat_ms * 3);

  if (!redis_link_is_up (w->cmd) || w->left)
    return G_SOURCE_CONTINUE;
  send_or_keep (w, cmd_new ("SET", w->presence_key, w->presence, "PX", ttl, NULL));
  if (g_hash_table_size (w->runs) > 0)
    {
      g_autoptr(GPtrArray) cmd = cmd_new ("XCLAIM", w->tasks_key, REDIS_GROUP, w->id, "0", NULL);
      GHashTableIter iter;
      gpointer key;

      g_hash_table_iter_init (&iter, w->runs);
      while (g_hash_table_iter_next (&iter, &key, NULL))
        g_ptr_array_add (cmd, g_strdup (key));
      g_ptr_array_add (cmd, g_strdup ("JUSTID"));
      redis_link_command_strv (w->cmd, on_renewed, w, cmd);
    }
  return G_SOURCE_CONTINUE;
}

/* ---------------------------------------------------------------- life */

static void
on_left (redisAsyncContext *ac,
         void              *r,
         void              *privdata)
{
  Worker *w = privdata;

  if (ac->data != NULL && r == NULL)
    {
      /* The link dropped before Redis answered: what went before it may
       * not be in. on_cmd_state() puts it back in the outbox and finishes. */
      w->left = FALSE;
      g_clear_handle_id (&w->leave_timeout, g_source_remove);
      return;
    }
  g_main_loop_quit (w->loop);
}

static gboolean
on_leave_timeout (gpointer user_data)
{
  Worker *w = user_data;

  w->leave_timeout = 0;
  g_warning ("Redis did not answer in time; leaving without saying so");
  g_main_loop_quit (w->loop);
  return G_SOURCE_REMOVE;
}

static void
maybe_finish (Worker *w)
{
  const char *ping[] = { "PING" };
  size_t ping_len[] = { 4 };

  if (!w->stopping || w->left || g_hash_table_size (w->runs) > 0 || w->reading || w->scanning)
    return;
  w->left = TRUE;
  send_or_keep (w, cmd_new ("DEL", w->presence_key, NULL));
  if (redis_link_is_up (w->cmd) && g_queue_is_empty (&w->outbox) &&
      redis_link_command (w->cmd, on_left, w, 1, ping, ping_len))
    {
      w->leave_timeout = g_timeout_add_seconds (5, on_leave_timeout, w);
      return;
    }
  if (!g_queue_is_empty (&w->outbox))
    {
      g_warning ("%u results could not be sent: Redis is away", g_queue_get_length (&w->outbox));
      w->status = EXIT_FAILED;
    }
  g_main_loop_quit (w->loop);
}

static gboolean
on_signal (gpointer user_data)
{
  Worker *w = user_data;

  w->n_signals++;
  w->stopping = TRUE;
  if (w->n_signals == 1)
    {
      g_message ("Stopping: finishing %u running tasks (a second signal hands them back)",
                 g_hash_table_size (w->runs));
    }
  else
    {
      GHashTableIter iter;
      gpointer value;

      g_hash_table_iter_init (&iter, w->runs);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          Run *run = value;
          g_autofree char *why = g_strdup_printf ("worker %s stopped", w->id);

          if (run->handed_back)
            continue;
          run->handed_back = redis_redeliver (w->cmd, w->tasks_key, run->entry_id, run->record,
                                              why);
          g_cancellable_cancel (run->cancellable);
        }
    }
  maybe_finish (w);
  return G_SOURCE_CONTINUE;
}

static void
on_cmd_state (RedisLink  *link,
              gboolean    up,
              const char *error,
              gpointer    user_data)
{
  Worker *w = user_data;

  if (!up)
    {
      g_warning ("%s; reconnecting", error ? error : "disconnected");
      /* Sent but not answered: maybe never in Redis. First in the outbox
       * again, in their order (a result before its XACK). */
      while (!g_queue_is_empty (&w->inflight))
        g_queue_push_head (&w->outbox, g_queue_pop_tail (&w->inflight));
      maybe_finish (w);
      return;
    }
  g_message ("Worker “%s” of pool “%s” connected to %s (%u slots)", w->id, w->pool,
             w->url->shown, w->slots);
  {
    g_autoptr(GPtrArray) group = cmd_new ("XGROUP", "CREATE", w->tasks_key, REDIS_GROUP, "0",
                                          "MKSTREAM", NULL);
    g_autoptr(GPtrArray) join = cmd_new ("SADD", w->workers_key, w->id, NULL);

    redis_link_command_strv (link, NULL, NULL, group);
    redis_link_command_strv (link, NULL, NULL, join);
  }
  if (!w->left)
    on_heartbeat (w);
  flush_outbox (w);
  read_tasks (w);   /* (a scan of its pending entries waits for this link) */
  maybe_finish (w);
}

static void
on_tasks_state (RedisLink  *link,
                gboolean    up,
                const char *error,
                gpointer    user_data)
{
  Worker *w = user_data;

  if (up)
    {
      /* A reconnect, not the first connect: what Redis gave this worker
       * may have been lost with the old link. (At the first connect the
       * pending entries of an earlier worker of this id are left to the
       * takeover, which counts the delivery.) */
      if (w->tasks_was_up && w->pending_from == NULL)
        w->pending_from = g_strdup ("0");
      w->tasks_was_up = TRUE;
      read_tasks (w);
    }
  else
    w->reading = FALSE;
  maybe_finish (w);
}

static void
on_control_state (RedisLink  *link,
                  gboolean    up,
                  const char *error,
                  gpointer    user_data)
{
  Worker *w = user_data;
  const char *argv[] = { "XINFO", "STREAM", w->control_key };
  size_t lens[] = { 5, 6, strlen (w->control_key) };

  if (!up)
    {
      w->reading_control = FALSE;
      return;
    }
  if (w->control_last != NULL)
    read_control (w);
  else
    redis_link_command (link, on_control_id, w, 3, argv, lens);
}

static gboolean
id_ok (const char *id)
{
  if (*id == '\0' || strlen (id) > 200)
    return FALSE;
  for (const char *p = id; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_' && *p != '.')
      return FALSE;
  return TRUE;
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *pool = NULL;
  g_autofree char *id = NULL;
  g_autofree char *caps = NULL;
  g_autofree char *config_file = NULL;
  g_autofree char *output_dir = NULL;
  gint jobs = 0, heartbeat = 0;
  gboolean simulated = FALSE;
  GOptionEntry entries[] = {
    { "pool", 'p', 0, G_OPTION_ARG_STRING, &pool, "The pool whose tasks to run (required)", "NAME" },
    { "id", 0, 0, G_OPTION_ARG_STRING, &id, "This worker's id (default HOSTNAME-PID)", "ID" },
    { "jobs", 'j', 0, G_OPTION_ARG_INT, &jobs, "Tasks run at once (default 1)", "N" },
    { "capabilities", 0, 0, G_OPTION_ARG_STRING, &caps, "What this worker can do", "A,B" },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_file,
      "A keyfile with a [Worker] group (Jobs, Capabilities, OutputDir, HeartbeatMs)", "FILE" },
    { "output-dir", 'o', 0, G_OPTION_ARG_FILENAME, &output_dir,
      "Where the runs' logs go (default orrery-output)", "DIR" },
    { "heartbeat-ms", 0, 0, G_OPTION_ARG_INT, &heartbeat,
      "Heartbeat period; the presence lives three of them (default 1000)", "MS" },
    { "simulated", 0, 0, G_OPTION_ARG_NONE, &simulated,
      "Run tasks with the simulated device (benchmarks, demos)", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GKeyFile) keyfile = NULL;
  g_autofree char *hostname = NULL;
  Worker w_storage = { 0 };
  Worker *w = &w_storage;

  setlocale (LC_ALL, "");
  g_log_set_writer_func (orrery_log_writer_escaped, NULL, NULL);
  g_set_prgname ("orrery worker");
  context = g_option_context_new ("URL — run a pool's tasks on this machine");
  g_option_context_set_summary (context,
    "URL is redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] or redis+unix:///PATH[?db=N].\n"
    "SIGTERM finishes the running tasks and leaves the pool; a second one hands them back.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("orrery worker: %s\n", error->message);
      return EXIT_USAGE;
    }
  if (argc != 2)
    {
      g_printerr ("orrery worker: give one Redis URL (see --help)\n");
      return EXIT_USAGE;
    }
  if (config_file != NULL)
    {
      keyfile = g_key_file_new ();
      if (!g_key_file_load_from_file (keyfile, config_file, G_KEY_FILE_NONE, &error))
        {
          g_printerr ("orrery worker: %s: %s\n", config_file, error->message);
          return EXIT_USAGE;
        }
#define FROM_KEYFILE_INT(var, key) \
      if (var == 0 && g_key_file_has_key (keyfile, "Worker", key, NULL)) \
        { \
          var = g_key_file_get_integer (keyfile, "Worker", key, &error); \
          if (error != NULL) \
            { \
              g_printerr ("orrery worker: %s: [Worker] %s: %s\n", config_file, key, error->message); \
              return EXIT_USAGE; \
            } \
        }
      FROM_KEYFILE_INT (jobs, "Jobs");
      FROM_KEYFILE_INT (heartbeat, "HeartbeatMs");
      if (caps == NULL)
        caps = g_key_file_get_string (keyfile, "Worker", "Capabilities", NULL);
      if (output_dir == NULL)
        output_dir = g_key_file_get_string (keyfile, "Worker", "OutputDir", NULL);
      if (pool == NULL)
        pool = g_key_file_get_string (keyfile, "Worker", "Pool", NULL);
    }
  if (pool == NULL || !id_ok (pool))
    {
      g_printerr ("orrery worker: %s\n", pool == NULL ? "--pool NAME is required"
                  : "--pool: letters, digits, '-', '_' and '.' only");
      return EXIT_USAGE;
    }
  hostname = g_strdup (g_get_host_name ());
  for (char *p = hostname; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '.')
      *p = '_';
  if (id == NULL)
    id = g_strdup_printf ("%s-%d", hostname, (int) getpid ());
  if (!id_ok (id))
    {
      g_printerr ("orrery worker: --id: letters, digits, '-', '_' and '.' only\n");
      return EXIT_USAGE;
    }
  if (jobs < 0 || jobs > 10000 || heartbeat < 0 || (heartbeat > 0 && heartbeat < 20))
    {
      g_printerr ("orrery worker: -j is 1 to 10000, --heartbeat-ms at least 20\n");
      return EXIT_USAGE;
    }
  w->url = redis_url_parse (argv[1], &error);
  if (w->url == NULL)
    {
      g_printerr ("orrery worker: %s\n", error->message);
      return EXIT_USAGE;
    }

  /* The tasks' environment says where they run. */
  g_setenv ("ORRERY_WORKER_ID", id, TRUE);
  g_setenv ("ORRERY_WORKER_POOL", pool, TRUE);
  w->loop = g_main_loop_new (NULL, FALSE);
  w->pool = g_strdup (pool);
  w->id = g_strdup (id);
  w->slots = jobs > 0 ? (guint) jobs : 1;
  w->heartbeat_ms = heartbeat > 0 ? (guint) heartbeat : 1000;
  w->output_dir = g_strdup (output_dir ? output_dir : "orrery-output");
  if (caps != NULL)
    {
      g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
      g_auto(GStrv) raw = g_strsplit_set (caps, ",;", -1);

      for (char **c = raw; *c; c++)
        if (*g_strstrip (*c))
          g_strv_builder_add (b, *c);
      w->capabilities = g_strv_builder_end (b);
    }
  if (simulated)
    {
      OrrerySimulatedDevice *d = orrery_simulated_device_new (id, NULL, w->slots);

      orrery_simulated_device_set_capabilities (d, (const char * const *) w->capabilities);
      w->device = ORRERY_DEVICE (d);
    }
  else
    {
      OrreryLocalDevice *d = orrery_local_device_new (id, NULL, w->slots);

      orrery_local_device_set_capabilities (d, (const char * const *) w->capabilities);
      w->device = ORRERY_DEVICE (d);
    }
  w->tasks_key = redis_key_pool (pool, "tasks");
  w->control_key = redis_key_pool (pool, "control");
  w->workers_key = redis_key_pool (pool, "workers");
  {
    g_autofree char *suffix = g_strdup_printf ("worker:%s", id);
    g_autofree char *caps_json = NULL;
    GString *s = g_string_new ("[");

    w->presence_key = redis_key_pool (pool, suffix);
    for (char **c = w->capabilities; c && *c; c++)
      {
        g_autofree char *q = g_strescape (*c, NULL);

        g_string_append_printf (s, "%s\"%s\"", s->len > 1 ? "," : "", q);
      }
    g_string_append_c (s, ']');
    caps_json = g_string_free (s, FALSE);
    w->presence = g_strdup_printf ("{\"id\":\"%s\",\"host\":\"%s\",\"pid\":%d,\"slots\":%u,"
                                   "\"capabilities\":%s,\"simulated\":%s}",
                                   id, hostname, (int) getpid (), w->slots, caps_json,
                                   simulated ? "true" : "false");
  }
  w->runs = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) run_free);
  w->acking = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_queue_init (&w->outbox);
  g_queue_init (&w->inflight);

  g_unix_signal_add (SIGTERM, on_signal, w);
  g_unix_signal_add (SIGINT, on_signal, w);
  w->cmd = redis_link_new (w->url, "commands", on_cmd_state, w);
  w->tasks = redis_link_new (w->url, "tasks", on_tasks_state, w);
  w->control = redis_link_new (w->url, "control", on_control_state, w);
  w->heartbeat = g_timeout_source_new (w->heartbeat_ms);
  g_source_set_callback (w->heartbeat, on_heartbeat, w, NULL);
  g_source_attach (w->heartbeat, NULL);

  g_main_loop_run (w->loop);

  g_message ("Worker “%s” left pool “%s” after %" G_GUINT64_FORMAT " tasks", w->id, w->pool,
             w->n_done);
  g_source_destroy (w->heartbeat);
  g_source_unref (w->heartbeat);
  redis_link_free (w->control);
  redis_link_free (w->tasks);
  redis_link_free (w->cmd);
  g_hash_table_unref (w->runs);
  g_queue_clear_full (&w->outbox, (GDestroyNotify) g_ptr_array_unref);
  g_queue_clear_full (&w->inflight, (GDestroyNotify) g_ptr_array_unref);
  g_hash_table_unref (w->acking);
  g_free (w->pending_from);
  g_object_unref (w->device);
  redis_url_free (w->url);
  g_free (w->pool);
  g_free (w->id);
  g_strfreev (w->capabilities);
  g_free (w->output_dir);
  g_free (w->tasks_key);
  g_free (w->control_key);
  g_free (w->workers_key);
  g_free (w->presence_key);
  g_free (w->presence);
  g_free (w->control_last);
  g_main_loop_unref (w->loop);
  return w->status;
}
