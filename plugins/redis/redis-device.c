/* redis-device.c: the `redis` device kind.
 *
 * A task placed on the device is appended (XADD) with its attempt and
 * delivery numbers to the pool's task stream, where the workers of the
 * pool (`orrery worker URL --pool NAME`) take it through the consumer group
 * `workers`. The worker sends the result to this device's own reply stream,
 * read by one blocking XREAD on a second connection: replies arrive on the
 * main context, no thread, no polling of the task state.
 *
 * A timer (a quarter of the lease) does what needs a clock:
 * - takeover: XAUTOCLAIM hands this device the entries of the pool that
 *   stayed pending for longer than the lease (a worker renews the lease of
 *   what it holds at every heartbeat, with XCLAIM ... JUSTID); each is
 *   acknowledged, deleted and appended again with the next delivery number
 *   (one MULTI), and its owner is told, so that a late result of the
 *   superseded delivery is ignored; past MaxDeliveries the task fails with
 *   that reason instead. Any host of the pool may take over any entry.
 * - presence: the members of KEY:workers whose presence key exists are
 *   online; a new one is a `device-added` (device id DEVICE/WORKER), one
 *   whose key expired a `device-status-changed` to offline (and back).
 * - a Redis that stays away for UnreachableSec fails the open tasks.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-Redis"

#include <string.h>

#include "redis-device.h"

#define READ_COUNT    "512"
#define READ_BLOCK_MS "5000"
#define CLAIM_COUNT   "64"
#define MIN_TICK_MS   25

typedef struct
{
  RedisPoolDevice *self;
  char            *key;          /* "ATTEMPT:TASK" */
  GTask           *gtask;
  OrreryTask      *task;
  RedisTaskRecord *record;
  char            *entry_id;     /* the stream entry, once appended */
  gboolean         sending;      /* XADD in flight */
  GCancellable    *cancellable;
  gulong           cancel_id;
  GSource         *cancel_idle;
  gint64           queued_us;
} Exec;

typedef struct
{
  gboolean online;
} Worker;

struct _RedisPoolDevice
{
  OrreryBaseDevice   parent_instance;

  RedisUrl          *url;
  char              *pool;
  RedisPoolSettings  settings;
  OrreryEventBus    *bus;          /* nullable, weak */

  char              *tasks_key;
  char              *control_key;
  char              *workers_key;
  char              *worker_prefix;
  char              *reply_key;
  char              *consumer;

  RedisLink         *cmd;
  RedisLink         *reader;
  char              *last_reply_id;
  gboolean           reading;
  gboolean           claiming;
  gboolean           presence_busy;
  char              *claim_cursor;

  GHashTable        *execs;        /* key -> Exec */
  GQueue             unsent;       /* Exec, not yet appended */
  GHashTable        *workers;      /* id -> Worker */
  GSource           *tick;
  guint64            n_late;
  gboolean           unreachable_reported;
  gboolean           was_down;
  gboolean           disposed;
};

G_DEFINE_FINAL_TYPE (RedisPoolDevice, redis_pool_device, ORRERY_TYPE_BASE_DEVICE)

static void send_exec (RedisPoolDevice *self, Exec *exec);
static void start_reading (RedisPoolDevice *self);

/* ---------------------------------------------------------------- execs */

static void
exec_free (Exec *exec)
{
  if (exec->cancel_idle)
    {
      g_source_destroy (exec->cancel_idle);
      g_source_unref (exec->cancel_idle);
    }
  if (exec->cancel_id)
    g_cancellable_disconnect (exec->cancellable, exec->cancel_id);
  g_clear_object (&exec->cancellable);
  g_clear_object (&exec->task);
  g_clear_object (&exec->gtask);
  redis_task_record_free (exec->record);
  g_free (exec->entry_id);
  g_free (exec->key);
  g_free (exec);
}

static char *
exec_key (guint       attempt,
          const char *task_id)
{
  return g_strdup_printf ("%u:%s", attempt, task_id);
}

/* Ends an execution: exactly once, whatever ends it. Takes @result (a
 * full reference) and @error. */
static void
exec_finish (Exec     *exec,
             GVariant *result,
             gint64    duration_us,
             GError   *error)
{
  RedisPoolDevice *self = exec->self;
  g_autoptr(GTask) gtask = g_steal_pointer (&exec->gtask);
  gint64 now = g_get_monotonic_time ();

  g_hash_table_steal (self->execs, exec->key);
  g_queue_remove (&self->unsent, exec);

  if (result != NULL)   /* taken */
    g_task_set_task_data (gtask, result, (GDestroyNotify) g_variant_unref);
  if (duration_us >= 0)
    {
      orrery_base_device_record_start (ORRERY_BASE_DEVICE (self), exec->task,
                                       MAX (now - duration_us, exec->queued_us));
      orrery_base_device_record_end (ORRERY_BASE_DEVICE (self), exec->task, now);
    }
  exec_free (exec);
  orrery_base_device_task_finished (ORRERY_BASE_DEVICE (self));
  if (error != NULL)
    g_task_return_error (gtask, error);
  else
    g_task_return_boolean (gtask, TRUE);
}

static void
on_control_sent (redisAsyncContext *ac,
                 void              *r,
                 void              *privdata)
{
  redisReply *reply = r;

  if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
    g_warning ("Cannot send a cancel: %.*s", (int) MIN (reply->len, 200), reply->str);
}

/* A cancel: the entry is deleted (if no worker took it yet, none will) and
 * every worker of the pool is told; the one running it kills its process
 * group. The execution ends now with one terminal event. */
static gboolean
on_cancel_idle (gpointer user_data)
{
  Exec *exec = user_data;
  RedisPoolDevice *self = exec->self;

  g_clear_pointer (&exec->cancel_idle, g_source_unref);
  /* Not sent yet: never will be (exec_finish takes it off the queue); on
   * the way: on_exec_sent deletes it; sent: deleted here, and told. */
  if ((exec->entry_id != NULL || exec->sending) && redis_link_is_up (self->cmd))
    {
      g_autoptr(GPtrArray) add = g_ptr_array_new_with_free_func (g_free);

      if (exec->entry_id != NULL)
        {
          g_autoptr(GPtrArray) del = g_ptr_array_new_with_free_func (g_free);

          g_ptr_array_add (del, g_strdup ("XDEL"));
          g_ptr_array_add (del, g_strdup (self->tasks_key));
          g_ptr_array_add (del, g_strdup (exec->entry_id));
          redis_link_command_strv (self->cmd, NULL, NULL, del);
        }

      g_ptr_array_add (add, g_strdup ("XADD"));
      g_ptr_array_add (add, g_strdup (self->control_key));
      g_ptr_array_add (add, g_strdup ("MAXLEN"));
      g_ptr_array_add (add, g_strdup ("~"));
      g_ptr_array_add (add, g_strdup ("10000"));
      g_ptr_array_add (add, g_strdup ("*"));
      g_ptr_array_add (add, g_strdup ("op"));
      g_ptr_array_add (add, g_strdup ("cancel"));
      g_ptr_array_add (add, g_strdup ("task"));
      g_ptr_array_add (add, g_strdup (exec->record->task_id));
      g_ptr_array_add (add, g_strdup ("attempt"));
      g_ptr_array_add (add, g_strdup_printf ("%u", exec->record->attempt));
      g_ptr_array_add (add, g_strdup ("reply"));
      g_ptr_array_add (add, g_strdup (self->reply_key));
      redis_link_command_strv (self->cmd, on_control_sent, NULL, add);
    }
  exec_finish (exec, NULL, -1,
               g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED, "Task cancelled"));
  return G_SOURCE_REMOVE;
}

static void
on_cancelled (GCancellable *cancellable,
              gpointer      user_data)
{
  Exec *exec = user_data;

  /* Never end it inside the cancel's emission (the canceller may be
   * cancelling many): from an idle. */
  if (exec->cancel_idle != NULL)
    return;
  exec->cancel_idle = g_idle_source_new ();
  g_source_set_priority (exec->cancel_idle, G_PRIORITY_DEFAULT);
  g_source_set_callback (exec->cancel_idle, on_cancel_idle, exec, NULL);
  g_source_attach (exec->cancel_idle, g_main_context_get_thread_default ());
}

typedef struct
{
  RedisPoolDevice *self;
  char            *key;
  char            *sent_key;
} SendCall;

/* A task's record is appended once per delivery, however often it is
 * sent: the append and a mark (KEYS[2], the new entry's id, expiring
 * after ARGV[1] ms) are one script, and a record sent again finds the mark
 * and gets the same id back. A send whose answer was lost (Redis stopped
 * or the link dropped after it appended the record) is sent again once
 * Redis is back: a plain XADD appended the record a second time, and two
 * workers ran the task. */
static const char append_once_script[] =
  "local id = redis.call('GET', KEYS[2]) "
  "if id then return id end "
  "id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2)) "
  "redis.call('SET', KEYS[2], id, 'PX', ARGV[1]) "
  "return id";

static void
send_call_free (SendCall *call)
{
  g_free (call->key);
  g_free (call->sent_key);
  g_free (call);
}

static void
on_exec_sent (redisAsyncContext *ac,
              void              *r,
              void              *privdata)
{
  redisReply *reply = r;
  SendCall *call = privdata;
  RedisPoolDevice *self = call->self;
  Exec *exec = NULL;

  /* A link freed with the device runs its callbacks with ac->data NULL. */
  if (ac->data != NULL && !self->disposed)
    exec = g_hash_table_lookup (self->execs, call->key);
  if (ac->data != NULL && !self->disposed && reply != NULL && reply->type == REDIS_REPLY_STRING)
    {
      /* The answer came: the record will not be sent again, its mark can go. */
      const char *argv[] = { "DEL", call->sent_key };
      size_t lens[] = { 3, strlen (call->sent_key) };

      redis_link_command (self->cmd, NULL, NULL, 2, argv, lens);
    }
  send_call_free (call);
  if (exec == NULL && ac->data != NULL && !self->disposed && reply != NULL &&
      reply->type == REDIS_REPLY_STRING)
    {
      /* Cancelled while its record was on the way: no worker may take it. */
      const char *argv[] = { "XDEL", self->tasks_key, reply->str };
      size_t lens[] = { 4, strlen (self->tasks_key), reply->len };

      redis_link_command (self->cmd, NULL, NULL, 3, argv, lens);
      return;
    }
  if (exec == NULL || !exec->sending)
    return;
  exec->sending = FALSE;
  if (reply == NULL)
    {
      /* The connection dropped: sent again once it is back. */
      g_queue_push_tail (&self->unsent, exec);
    }
  else if (reply->type == REDIS_REPLY_STRING)
    {
      g_free (exec->entry_id);
      exec->entry_id = g_strndup (reply->str, reply->len);
    }
  else
    {
      exec_finish (exec, NULL, -1,
                   g_error_new (ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_FAILED,
                                "Cannot queue the task on %s: %s", self->url->shown,
                                redis_reply_error (reply)));
    }
}

static void
send_exec (RedisPoolDevice *self,
           Exec            *exec)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func (g_free);
  SendCall *call = g_new (SendCall, 1);

  call->self = self;
  call->key = g_strdup (exec->key);
  /* This device's reply stream is its own: the mark is this delivery's. */
  call->sent_key = g_strdup_printf ("%s:sent:%u:%s", self->reply_key, exec->record->delivery,
                                    exec->key);
  g_ptr_array_add (args, g_strdup ("EVAL"));
  g_ptr_array_add (args, g_strdup (append_once_script));
  g_ptr_array_add (args, g_strdup ("2"));
  g_ptr_array_add (args, g_strdup (self->tasks_key));
  g_ptr_array_add (args, g_strdup (call->sent_key));
  /* Kept while the record may be sent again: as long as Redis may be away
   * before the device gives its tasks up, and a minute more. */
  g_ptr_array_add (args, g_strdup_printf ("%" G_GUINT64_FORMAT,
                                          (guint64) self->settings.unreachable_ms + 60000));
  redis_task_record_encode (exec->record, args);
  exec->sending = TRUE;
  if (!redis_link_command_strv (self->cmd, on_exec_sent, call, args))
    {
      exec->sending = FALSE;
      send_call_free (call);
      g_queue_push_tail (&self->unsent, exec);
    }
}

static void
flush_unsent (RedisPoolDevice *self)
{
  while (!g_queue_is_empty (&self->unsent) && redis_link_is_up (self->cmd))
    send_exec (self, g_queue_pop_head (&self->unsent));
}

static void
fail_all (RedisPoolDevice *self,
          const char      *why)
{
  g_autoptr(GList) execs = g_hash_table_get_values (self->execs);

  for (GList *l = execs; l; l = l->next)
    exec_finish (l->data, NULL, -1,
                 g_error_new (ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_FAILED, "%s", why));
}

/* ---------------------------------------------------------------- results */

static GError *
error_of (const RedisReplyRecord *r)
{
  int code = r->error_code;

  if (r->error_kind == 1)
    return g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED, "%s", r->error_message);
  if (code < ORRERY_DEVICE_ERROR_FAILED || code > ORRERY_DEVICE_ERROR_BAD_OUTPUTS)
    code = ORRERY_DEVICE_ERROR_FAILED;
  if (r->worker != NULL)
    return g_error_new (ORRERY_DEVICE_ERROR, code, "%s (on worker %s)",
                        r->error_message, r->worker);
  return g_error_new (ORRERY_DEVICE_ERROR, code, "%s", r->error_message);
}

static void
handle_reply (RedisPoolDevice  *self,
              const char       *entry_id,
              const redisReply *fields)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RedisReplyRecord) r = redis_reply_record_decode_reply (fields, &error);
  g_autofree char *key = NULL;
  Exec *exec;

  if (r == NULL)
    {
      g_warning ("%s: entry %s of %s is not a result, ignored: %s", self->url->shown,
                 entry_id, self->reply_key, error->message);
      return;
    }
  key = exec_key (r->attempt, r->task_id);
  exec = g_hash_table_lookup (self->execs, key);
  if (r->kind == REDIS_REPLY_REDELIVERED)
    {
      if (exec != NULL && r->delivery > exec->record->delivery)
        {
          g_message ("Task “%s” (attempt %u) delivered again (delivery %u): %s",
                     r->task_id, r->attempt, r->delivery, r->why ? r->why : "");
          exec->record->delivery = r->delivery;
        }
      return;
    }
  if (exec == NULL || exec->record->delivery != r->delivery)
    {
      self->n_late++;
      g_message ("Ignored a late result of task “%s” (attempt %u, delivery %u%s%s): %s",
                 r->task_id, r->attempt, r->delivery,
                 r->worker ? ", from worker " : "", r->worker ? r->worker : "",
                 exec == NULL ? "the task is no longer running here"
                              : "a later delivery superseded it");
      return;
    }
  exec_finish (exec, g_steal_pointer (&r->result), r->duration_us,
               r->ok ? NULL : error_of (r));
}

static void
on_trimmed (redisAsyncContext *ac,
            void              *r,
            void              *privdata)
{
}

static gboolean
read_one_reply (const char       *id,
                size_t            id_len,
                const redisReply *fields,
                gpointer          user_data)
{
  RedisPoolDevice *self = user_data;

  g_free (self->last_reply_id);
  self->last_reply_id = g_strndup (id, id_len);
  handle_reply (self, self->last_reply_id, fields);
  return !self->disposed;
}

static void
on_read (redisAsyncContext *ac,
         void              *r,
         void              *privdata)
{
  redisReply *reply = r;
  RedisPoolDevice *self = privdata;

  if (ac->data == NULL || self->disposed)
    return;
  self->reading = FALSE;
  if (reply == NULL)
    return;   /* the link went down; reading starts again when it is up */
  if (reply->type == REDIS_REPLY_ARRAY)
    {
      redis_reply_foreach_entry (reply, read_one_reply, self);
      if (self->disposed)
        return;
      /* What was read is no longer needed (this device is its only reader). */
      {
        const char *argv[] = { "XTRIM", self->reply_key, "MINID", self->last_reply_id };
        size_t lens[] = { 5, strlen (self->reply_key), 5, strlen (self->last_reply_id) };

        redis_link_command (self->cmd, on_trimmed, NULL, 4, argv, lens);
      }
    }
  else if (reply->type == REDIS_REPLY_ERROR)
    g_warning ("%s: cannot read the results: %.*s", self->url->shown,
               (int) MIN (reply->len, 200), reply->str);
  start_reading (self);
}

static void
start_reading (RedisPoolDevice *self)
{
  const char *argv[] = { "XREAD", "COUNT", READ_COUNT, "BLOCK", READ_BLOCK_MS, "STREAMS",
                         self->reply_key, self->last_reply_id };
  size_t lens[G_N_ELEMENTS (argv)];

  if (self->reading || self->disposed)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (argv); i++)
    lens[i] = strlen (argv[i]);
  self->reading = redis_link_command (self->reader, on_read, self, G_N_ELEMENTS (argv),
                                      argv, lens);
}

/* ---------------------------------------------------------------- takeover */

static void
on_claimed (redisAsyncContext *ac,
            void              *r,
            void              *privdata)
{
  redisReply *reply = r;
  RedisPoolDevice *self = privdata;

  if (ac->data == NULL || self->disposed)
    return;
  self->claiming = FALSE;
  if (reply == NULL)
    return;
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 ||
      reply->element[0]->type != REDIS_REPLY_STRING ||
      reply->element[1]->type != REDIS_REPLY_ARRAY)
    {
      g_warning ("%s: XAUTOCLAIM failed: %s", self->url->shown, redis_reply_error (reply));
      return;
    }
  g_free (self->claim_cursor);
  self->claim_cursor = g_strndup (reply->element[0]->str, reply->element[0]->len);
  for (size_t i = 0; i < reply->element[1]->elements; i++)
    {
      redisReply *entry = reply->element[1]->element[i];
      g_autoptr(RedisTaskRecord) record = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *id = NULL;
      g_autofree char *why = NULL;

      if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
          entry->element[0]->type != REDIS_REPLY_STRING)
        continue;
      id = g_strndup (entry->element[0]->str, entry->element[0]->len);
      record = redis_task_record_decode_reply (entry->element[1], &error);
      if (record == NULL)
        {
          const char *argv[] = { "XACK", self->tasks_key, REDIS_GROUP, id };
          size_t lens[] = { 4, strlen (self->tasks_key), strlen (REDIS_GROUP), strlen (id) };

          g_warning ("%s: entry %s of %s is not a task record, dropped: %s",
                     self->url->shown, id, self->tasks_key, error->message);
          redis_link_command (self->cmd, NULL, NULL, 4, argv, lens);
          continue;
        }
      why = g_strdup_printf ("its worker renewed no lease for %u ms", self->settings.lease_ms);
      redis_redeliver (self->cmd, self->tasks_key, id, record, why);
    }
}

static void
claim (RedisPoolDevice *self)
{
  g_autofree char *idle = g_strdup_printf ("%u", self->settings.lease_ms);
  const char *argv[] = { "XAUTOCLAIM", self->tasks_key, REDIS_GROUP, self->consumer, idle,
                         self->claim_cursor, "COUNT", CLAIM_COUNT };
  size_t lens[G_N_ELEMENTS (argv)];

  if (self->claiming)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (argv); i++)
    lens[i] = strlen (argv[i]);
  self->claiming = redis_link_command (self->cmd, on_claimed, self, G_N_ELEMENTS (argv),
                                       argv, lens);
}

/* ---------------------------------------------------------------- presence */

static void
publish_worker (RedisPoolDevice    *self,
                OrreryEventType     type,
                const char         *worker,
                OrreryDeviceStatus  status)
{
  g_autofree char *id = g_strdup_printf ("%s/%s",
                                         orrery_device_get_id (ORRERY_DEVICE (self)), worker);

  if (type == ORRERY_EVENT_DEVICE_ADDED)
    g_message ("Worker “%s” joined pool “%s”", worker, self->pool);
  else
    g_message ("Worker “%s” of pool “%s” is %s", worker, self->pool,
               status == ORRERY_DEVICE_STATUS_OFFLINE ? "offline" : "online");
  if (self->bus != NULL)
    {
      g_autoptr(OrreryEvent) ev = orrery_event_new_device (type, "redis", id, status);

      orrery_event_bus_publish (self->bus, ev);
    }
}

typedef struct
{
  RedisPoolDevice *self;
  GPtrArray       *ids;
} PresenceCheck;

static void
on_presence (redisAsyncContext *ac,
             void              *r,
             void              *privdata)
{
  redisReply *reply = r;
  PresenceCheck *check = privdata;
  RedisPoolDevice *self = check->self;

  if (ac->data != NULL && !self->disposed)
    {
      self->presence_busy = FALSE;
      if (reply != NULL && reply->type == REDIS_REPLY_ARRAY &&
          reply->elements == check->ids->len)
        for (guint i = 0; i < check->ids->len; i++)
          {
            const char *id = check->ids->pdata[i];
            gboolean online = reply->element[i]->type == REDIS_REPLY_STRING;
            Worker *w = g_hash_table_lookup (self->workers, id);

            if (w == NULL)
              {
                if (!online)
                  continue;   /* gone before it was seen */
                w = g_new0 (Worker, 1);
                w->online = TRUE;
                g_hash_table_insert (self->workers, g_strdup (id), w);
                publish_worker (self, ORRERY_EVENT_DEVICE_ADDED, id, ORRERY_DEVICE_STATUS_IDLE);
              }
            else if (w->online != online)
              {
                w->online = online;
                publish_worker (self, ORRERY_EVENT_DEVICE_STATUS_CHANGED, id,
                                online ? ORRERY_DEVICE_STATUS_IDLE : ORRERY_DEVICE_STATUS_OFFLINE);
              }
          }
    }
  g_ptr_array_unref (check->ids);
  g_free (check);
}

static void
on_members (redisAsyncContext *ac,
            void              *r,
            void              *privdata)
{
  redisReply *reply = r;
  RedisPoolDevice *self = privdata;
  g_autoptr(GPtrArray) args = NULL;
  PresenceCheck *check;

  if (ac->data == NULL || self->disposed)
    return;
  if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements == 0)
    {
      self->presence_busy = FALSE;
      return;
    }
  args = g_ptr_array_new_with_free_func (g_free);
  check = g_new0 (PresenceCheck, 1);
  check->self = self;
  check->ids = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (args, g_strdup ("MGET"));
  for (size_t i = 0; i < reply->elements && i < 10000; i++)
    {
      redisReply *e = reply->element[i];

      if (e->type != REDIS_REPLY_STRING || e->len == 0 || e->len > REDIS_MAX_ID_BYTES ||
          memchr (e->str, '\0', e->len) || !g_utf8_validate_len (e->str, e->len, NULL))
        continue;
      g_ptr_array_add (check->ids, g_strndup (e->str, e->len));
      g_ptr_array_add (args, g_strdup_printf ("%s%.*s", self->worker_prefix,
                                              (int) e->len, e->str));
    }
  if (check->ids->len == 0 || !redis_link_command_strv (self->cmd, on_presence, check, args))
    {
      self->presence_busy = FALSE;
      g_ptr_array_unref (check->ids);
      g_free (check);
    }
}

static void
check_presence (RedisPoolDevice *self)
{
  const char *argv[] = { "SMEMBERS", self->workers_key };
  size_t lens[] = { 8, strlen (self->workers_key) };

  if (self->presence_busy)
    return;
  self->presence_busy = redis_link_command (self->cmd, on_members, self, 2, argv, lens);
}

/* ---------------------------------------------------------------- the clock */

static gboolean
on_tick (gpointer user_data)
{
  RedisPoolDevice *self = user_data;
  gint64 down_since = redis_link_get_down_since (self->cmd);

  if (redis_link_is_up (self->cmd))
    {
      self->unreachable_reported = FALSE;
      claim (self);
      check_presence (self);
    }
  else if (down_since > 0 &&
           g_get_monotonic_time () - down_since >= (gint64) self->settings.unreachable_ms * 1000)
    {
      g_autofree char *why = g_strdup_printf ("Redis at %s unreachable for %u s: %s",
                                              self->url->shown,
                                              self->settings.unreachable_ms / 1000,
                                              redis_link_get_last_error (self->cmd));

      if (!self->unreachable_reported && g_hash_table_size (self->execs) > 0)
        g_warning ("Device “%s”: %s; its tasks fail",
                   orrery_device_get_id (ORRERY_DEVICE (self)), why);
      self->unreachable_reported = TRUE;
      fail_all (self, why);
    }
  return G_SOURCE_CONTINUE;
}

static void
on_group (redisAsyncContext *ac,
          void              *r,
          void              *privdata)
{
  redisReply *reply = r;

  if (reply != NULL && reply->type == REDIS_REPLY_ERROR &&
      !g_str_has_prefix (reply->str, "BUSYGROUP"))
    g_warning ("Cannot create the consumer group: %.*s", (int) MIN (reply->len, 200), reply->str);
}

static void
on_cmd_state (RedisLink  *link,
              gboolean    up,
              const char *error,
              gpointer    user_data)
{
  RedisPoolDevice *self = user_data;

  if (up)
    {
      const char *argv[] = { "XGROUP", "CREATE", self->tasks_key, REDIS_GROUP, "0", "MKSTREAM" };
      size_t lens[G_N_ELEMENTS (argv)];

      for (guint i = 0; i < G_N_ELEMENTS (argv); i++)
        lens[i] = strlen (argv[i]);
      redis_link_command (link, on_group, NULL, G_N_ELEMENTS (argv), argv, lens);
      if (self->was_down)
        g_message ("Device “%s”: reconnected to %s", orrery_device_get_id (ORRERY_DEVICE (self)),
                   self->url->shown);
      else
        g_debug ("Device “%s”: connected to %s (pool “%s”)",
                 orrery_device_get_id (ORRERY_DEVICE (self)), self->url->shown, self->pool);
      self->was_down = FALSE;
      flush_unsent (self);
    }
  else
    {
      self->claiming = self->presence_busy = FALSE;
      self->was_down = TRUE;
      g_warning ("Device “%s”: %s; reconnecting", orrery_device_get_id (ORRERY_DEVICE (self)),
                 error ? error : "disconnected");
    }
}

static void
on_reader_state (RedisLink  *link,
                 gboolean    up,
                 const char *error,
                 gpointer    user_data)
{
  RedisPoolDevice *self = user_data;

  if (up)
    start_reading (self);
  else
    self->reading = FALSE;
}

/* ---------------------------------------------------------------- the device */

static void
redis_pool_device_execute_task_async (OrreryBaseDevice    *device,
                                      OrreryTask          *task,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  RedisPoolDevice *self = REDIS_POOL_DEVICE (device);
  g_autoptr(GTask) gtask = g_task_new (self, cancellable, callback, user_data);
  Exec *exec;
  RedisTaskRecord *record;
  gint64 down_since = redis_link_get_down_since (self->cmd);

  g_task_set_source_tag (gtask, redis_pool_device_execute_task_async);
  orrery_base_device_task_started (device);

  if (!redis_link_is_up (self->cmd) && down_since > 0 &&
      g_get_monotonic_time () - down_since >= (gint64) self->settings.unreachable_ms * 1000)
    {
      orrery_base_device_task_finished (device);
      g_task_return_new_error (gtask, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_FAILED,
                               "Redis at %s unreachable for %u s: %s", self->url->shown,
                               self->settings.unreachable_ms / 1000,
                               redis_link_get_last_error (self->cmd));
      return;
    }

  record = g_new0 (RedisTaskRecord, 1);
  record->pool = g_strdup (self->pool);
  record->task_id = g_strdup (orrery_task_get_id (task));
  record->attempt = MAX (orrery_task_get_attempt (task), 1);
  record->delivery = 1;
  record->max_deliveries = self->settings.max_deliveries;
  record->reply = g_strdup (self->reply_key);
  record->run_id = g_strdup (orrery_base_device_get_run_id (device));
  record->name = g_strdup (orrery_task_get_name (task));
  record->timeout = orrery_task_get_timeout (task);
  if (orrery_task_get_task_data (task))
    record->data = g_variant_ref (orrery_task_get_task_data (task));

  exec = g_new0 (Exec, 1);
  exec->self = self;
  exec->record = record;
  exec->key = exec_key (record->attempt, record->task_id);
  exec->gtask = g_steal_pointer (&gtask);
  exec->task = g_object_ref (task);
  exec->queued_us = g_get_monotonic_time ();
  if (g_hash_table_contains (self->execs, exec->key))
    {
      GTask *t = g_steal_pointer (&exec->gtask);

      exec_free (exec);
      orrery_base_device_task_finished (device);
      g_task_return_new_error (t, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_FAILED,
                               "Task “%s” attempt %u is already running on this device",
                               orrery_task_get_id (task), orrery_task_get_attempt (task));
      g_object_unref (t);
      return;
    }
  g_hash_table_insert (self->execs, exec->key, exec);
  if (cancellable != NULL)
    {
      exec->cancellable = g_object_ref (cancellable);
      exec->cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled), exec, NULL);
    }
  if (exec->cancel_idle == NULL)
    send_exec (self, exec);
}

static gboolean
redis_pool_device_execute_task_finish (OrreryBaseDevice  *device,
                                       GAsyncResult      *result,
                                       GVariant         **out_result,
                                       GError           **error)
{
  GVariant *v = g_task_get_task_data (G_TASK (result));

  if (out_result != NULL)
    *out_result = v ? g_variant_ref (v) : NULL;
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
redis_pool_device_dispose (GObject *object)
{
  RedisPoolDevice *self = REDIS_POOL_DEVICE (object);

  if (!self->disposed)
    {
      self->disposed = TRUE;
      if (self->tick)
        {
          g_source_destroy (self->tick);
          g_clear_pointer (&self->tick, g_source_unref);
        }
      if (self->cmd && redis_link_is_up (self->cmd))
        {
          const char *argv[] = { "DEL", self->reply_key };
          size_t lens[] = { 3, strlen (self->reply_key) };

          redis_link_command (self->cmd, NULL, NULL, 2, argv, lens);
        }
      fail_all (self, "the device was removed");
      /* What is queued (a cancel, the DEL) goes out before the links close. */
      if (self->cmd)
        redis_link_flush (self->cmd, 1000);
      g_clear_pointer (&self->reader, redis_link_free);
      g_clear_pointer (&self->cmd, redis_link_free);
    }
  G_OBJECT_CLASS (redis_pool_device_parent_class)->dispose (object);
}

static void
redis_pool_device_finalize (GObject *object)
{
  RedisPoolDevice *self = REDIS_POOL_DEVICE (object);

  g_hash_table_unref (self->execs);
  g_hash_table_unref (self->workers);
  g_queue_clear (&self->unsent);
  redis_url_free (self->url);
  g_free (self->pool);
  g_free (self->tasks_key);
  g_free (self->control_key);
  g_free (self->workers_key);
  g_free (self->worker_prefix);
  g_free (self->reply_key);
  g_free (self->consumer);
  g_free (self->last_reply_id);
  g_free (self->claim_cursor);
  if (self->bus)
    g_object_remove_weak_pointer (G_OBJECT (self->bus), (gpointer *) &self->bus);
  G_OBJECT_CLASS (redis_pool_device_parent_class)->finalize (object);
}

static void
redis_pool_device_class_init (RedisPoolDeviceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  OrreryBaseDeviceClass *base_class = ORRERY_BASE_DEVICE_CLASS (klass);

  object_class->dispose = redis_pool_device_dispose;
  object_class->finalize = redis_pool_device_finalize;
  base_class->execute_task_async = redis_pool_device_execute_task_async;
  base_class->execute_task_finish = redis_pool_device_execute_task_finish;
  base_class->default_id = "redis";
  base_class->default_device_type = "redis";
}

static void
redis_pool_device_init (RedisPoolDevice *self)
{
  self->execs = g_hash_table_new (g_str_hash, g_str_equal);
  self->workers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_queue_init (&self->unsent);
  self->last_reply_id = g_strdup ("0-0");
  self->claim_cursor = g_strdup ("0-0");
}

RedisPoolDevice *
redis_pool_device_new (const char              *id,
                       const char              *device_type,
                       guint                    max_concurrency,
                       const char * const      *capabilities,
                       const RedisUrl          *url,
                       const char              *pool,
                       const RedisPoolSettings *settings,
                       OrreryEventBus          *bus)
{
  RedisPoolDevice *self;
  g_autofree char *uuid = g_uuid_string_random ();
  g_autofree char *reply_name = NULL;

  self = g_object_new (REDIS_TYPE_POOL_DEVICE,
                       "id", id,
                       "device-type", device_type,
                       "max-concurrency", MAX (max_concurrency, 1),
                       NULL);
  orrery_base_device_set_capabilities (ORRERY_BASE_DEVICE (self), capabilities);
  self->url = g_new0 (RedisUrl, 1);
  self->url->host = g_strdup (url->host);
  self->url->port = url->port;
  self->url->path = g_strdup (url->path);
  self->url->shown = g_strdup (url->shown);
  self->pool = g_strdup (pool);
  self->settings = *settings;
  self->bus = bus;
  if (bus)
    g_object_add_weak_pointer (G_OBJECT (bus), (gpointer *) &self->bus);
  self->tasks_key = redis_key_pool (pool, "tasks");
  self->control_key = redis_key_pool (pool, "control");
  self->workers_key = redis_key_pool (pool, "workers");
  self->worker_prefix = redis_key_pool (pool, "worker:");
  self->reply_key = g_strdup_printf ("orrery:reply:%s", uuid);
  self->consumer = g_strdup_printf ("host-%s", uuid);

  reply_name = g_strdup_printf ("%s (reader)", id);
  self->cmd = redis_link_new (url, id, on_cmd_state, self);
  self->reader = redis_link_new (url, reply_name, on_reader_state, self);
  self->tick = g_timeout_source_new (MAX (settings->lease_ms / 4, MIN_TICK_MS));
  g_source_set_callback (self->tick, on_tick, self, NULL);
  g_source_attach (self->tick, g_main_context_get_thread_default ());
  return self;
}

guint64
redis_pool_device_get_n_late (RedisPoolDevice *self)
{
  return self->n_late;
}

/* ---------------------------------------------------------------- keyfile */

static char *
config_origin (OrreryConfig *config,
               const char   *group,
               const char   *key)
{
  char *origin = key ? orrery_config_get_origin (config, group, key) : NULL;

  if (origin != NULL)
    return origin;
  return g_strdup (orrery_config_get_file (config) ? orrery_config_get_file (config)
                                                   : "configuration");
}

static gboolean
read_uint_key (OrreryConfig  *config,
               const char    *group,
               const char    *key,
               guint64        min,
               guint64        max,
               guint64       *value,
               GError       **error)
{
  g_autofree char *text = NULL;
  guint64 v;

  if (!orrery_config_has_key (config, group, key))
    return TRUE;
  text = g_strstrip (orrery_config_get_string (config, group, key, ""));
  if (!g_ascii_string_to_unsigned (text, 10, min, max, &v, NULL))
    {
      g_autofree char *file = config_origin (config, group, key);
      g_autofree char *shown = orrery_escape_for_terminal (text, -1);

      g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_CONFIG,
                   "%s: [%s] %s: “%s” is not a whole number from %" G_GUINT64_FORMAT " to %"
                   G_GUINT64_FORMAT, file, group, key, shown, min, max);
      return FALSE;
    }
  *value = v;
  return TRUE;
}

static gboolean
pool_name_ok (const char *pool)
{
  if (*pool == '\0' || strlen (pool) > 200)
    return FALSE;
  for (const char *p = pool; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_' && *p != '.')
      return FALSE;
  return TRUE;
}

OrreryDevice *
redis_pool_device_from_config (OrreryConfig    *config,
                               const char      *group,
                               const char      *id,
                               OrreryEventBus  *bus,
                               GError         **error)
{
  g_autofree char *url_text = orrery_config_get_string (config, group, "URL", NULL);
  g_autofree char *pool = orrery_config_get_string (config, group, "Pool", NULL);
  g_autofree char *device_type = orrery_config_get_string (config, group, "DeviceType", NULL);
  g_auto(GStrv) caps = NULL;
  g_autoptr(RedisUrl) url = NULL;
  g_autoptr(GError) local = NULL;
  RedisPoolSettings settings = {
    REDIS_POOL_DEFAULT_LEASE_MS, REDIS_POOL_DEFAULT_MAX_DELIVERIES,
    REDIS_POOL_DEFAULT_UNREACHABLE_MS
  };
  guint64 max_concurrency = 16, lease = settings.lease_ms, maxdel = settings.max_deliveries;
  guint64 unreachable = settings.unreachable_ms / 1000;

  if (url_text == NULL || *g_strstrip (url_text) == '\0')
    {
      g_autofree char *file = config_origin (config, group, NULL);

      g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_CONFIG,
                   "%s: [%s] URL: missing (redis://HOST[:PORT][/DB] or redis+unix:///PATH)",
                   file, group);
      return NULL;
    }
  url = redis_url_parse (url_text, &local);
  if (url == NULL)
    {
      g_autofree char *file = config_origin (config, group, "URL");

      g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_CONFIG,
                   "%s: [%s] URL: %s", file, group, local->message);
      return NULL;
    }
  if (pool == NULL || !pool_name_ok (g_strstrip (pool)))
    {
      g_autofree char *file = config_origin (config, group, pool ? "Pool" : NULL);

      g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_CONFIG,
                   "%s: [%s] Pool: %s (letters, digits, '-', '_' and '.')", file, group,
                   pool == NULL ? "missing" : "not a pool name");
      return NULL;
    }
  if (!read_uint_key (config, group, "MaxConcurrency", 1, 100000, &max_concurrency, error) ||
      !read_uint_key (config, group, "LeaseMs", 100, 24 * 3600 * 1000, &lease, error) ||
      !read_uint_key (config, group, "MaxDeliveries", 1, 1000, &maxdel, error) ||
      !read_uint_key (config, group, "UnreachableSec", 1, 7 * 24 * 3600, &unreachable, error))
    return NULL;
  settings.lease_ms = (guint) lease;
  settings.max_deliveries = (guint) maxdel;
  settings.unreachable_ms = (guint) unreachable * 1000;
  if (orrery_config_has_key (config, group, "Capabilities"))
    {
      g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
      g_auto(GStrv) raw = orrery_config_get_string_list (config, group, "Capabilities");

      for (char **c = raw; c && *c; c++)
        if (*g_strstrip (*c) != '\0')
          g_strv_builder_add (builder, *c);
      caps = g_strv_builder_end (builder);
    }
  if (device_type != NULL && *g_strstrip (device_type) == '\0')
    g_clear_pointer (&device_type, g_free);
  return ORRERY_DEVICE (redis_pool_device_new (id, device_type, (guint) max_concurrency,
                                               (const char * const *) caps, url, pool,
                                               &settings, bus));
}
