/* redis-common.h: what the redis device (in the host) and `orrery worker`
 * share: Redis URLs, a reconnecting hiredis link on the GLib main context,
 * the key names of a pool and the records on its streams.
 *
 * The streams of a pool NAME (KEY = `orrery:pool:NAME`):
 *   KEY:tasks     task records (XADD by hosts, XREADGROUP by the workers of
 *                 the consumer group `workers`); an entry is acknowledged
 *                 and deleted once its result is sent
 *   KEY:control   cancels, read by every worker (XREAD, no group)
 *   KEY:workers   the set of worker ids that ever joined
 *   KEY:worker:ID a worker's presence: a JSON object, with a TTL that the
 *                 worker's heartbeats renew
 *   orrery:reply:UUID  one host device's results (XREAD by that device)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>

G_BEGIN_DECLS

#define REDIS_GROUP             "workers"
#define REDIS_RECORD_VERSION    "1"
/* Bounds of what a decoder accepts from a stream. */
#define REDIS_MAX_ID_BYTES      4096
#define REDIS_MAX_DATA_BYTES    (16 * 1024 * 1024)
#define REDIS_MAX_FIELDS        64

#define REDIS_ERROR (redis_error_quark ())
GQuark redis_error_quark (void);

typedef enum {
  REDIS_ERROR_BAD_URL,
  REDIS_ERROR_BAD_RECORD,
  REDIS_ERROR_CONNECT,
  REDIS_ERROR_REPLY,
} RedisError;

/* redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] or
 * redis+unix://[[USER]:PASSWORD@]/PATH[?db=DB] */
typedef struct
{
  char   *host;       /* NULL for a unix socket */
  int     port;
  char   *path;       /* the unix socket, or NULL */
  char   *user;       /* nullable */
  char   *password;   /* nullable; never printed */
  guint   db;
  char   *shown;      /* the URL without its password, for messages */
} RedisUrl;

RedisUrl   *redis_url_parse          (const char  *text,
                                      GError     **error);
void        redis_url_free           (RedisUrl    *url);
gboolean    redis_url_looks_like     (const char  *text);
char       *redis_url_redact         (const char  *text);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RedisUrl, redis_url_free)

/* A hiredis async context on the thread-default main context that
 * reconnects with a backoff (100 ms doubling to 2 s). */
typedef struct _RedisLink RedisLink;

/* Called when the link is up (connected and authenticated: @error NULL,
 * @up TRUE) and when it goes down (@up FALSE, @error says why). Commands
 * issued while it is down fail at once (redis_link_command() returns
 * FALSE); their callbacks run with a NULL reply when a connection drops. */
typedef void (*RedisLinkStateFunc) (RedisLink  *link,
                                    gboolean    up,
                                    const char *error,
                                    gpointer    user_data);

RedisLink  *redis_link_new           (const RedisUrl     *url,
                                      const char         *name,
                                      RedisLinkStateFunc  state_func,
                                      gpointer            user_data);
void        redis_link_free          (RedisLink          *link);
gboolean    redis_link_is_up         (RedisLink          *link);
/* Writes out what is queued, waiting at most @timeout_ms (before exit). */
void        redis_link_flush         (RedisLink          *link,
                                      guint               timeout_ms);
gint64      redis_link_get_down_since (RedisLink         *link);
const char *redis_link_get_last_error (RedisLink         *link);
gboolean    redis_link_command       (RedisLink          *link,
                                      redisCallbackFn    *callback,
                                      gpointer            privdata,
                                      int                 argc,
                                      const char        **argv,
                                      const size_t       *argvlen);
gboolean    redis_link_command_strv  (RedisLink          *link,
                                      redisCallbackFn    *callback,
                                      gpointer            privdata,
                                      GPtrArray          *args);

/* Key names (newly allocated). */
char       *redis_key_pool           (const char *pool,
                                      const char *suffix);

/* A task record, as a host appends it to KEY:tasks. */
typedef struct
{
  char     *pool;
  char     *task_id;
  guint     attempt;      /* the orchestrator's attempt */
  guint     delivery;     /* 1 for the first delivery; +1 per takeover */
  guint     max_deliveries;
  char     *reply;        /* the stream of the results */
  char     *run_id;       /* nullable */
  char     *name;         /* nullable */
  gdouble   timeout;      /* seconds; 0 for none */
  GVariant *data;         /* a{sv}, nullable */
} RedisTaskRecord;

void        redis_task_record_free   (RedisTaskRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RedisTaskRecord, redis_task_record_free)

/* Appends the record's fields (name, value, ...) to @args (strings). */
void        redis_task_record_encode (const RedisTaskRecord  *record,
                                      GPtrArray              *args);
/* Decodes the field/value pairs of one stream entry, defensively: a
 * missing, repeated, overlong, non-UTF-8 or malformed field is a
 * REDIS_ERROR_BAD_RECORD naming it. @fields and @lens have @n items. */
RedisTaskRecord *redis_task_record_decode (const char * const *fields,
                                           const size_t       *lens,
                                           gsize               n,
                                           GError            **error);
RedisTaskRecord *redis_task_record_decode_reply (const redisReply *fields,
                                                 GError          **error);

/* A message on a reply stream. */
typedef enum {
  REDIS_REPLY_RESULT,
  REDIS_REPLY_REDELIVERED,
} RedisReplyKind;

typedef struct
{
  RedisReplyKind  kind;
  char           *task_id;
  guint           attempt;
  guint           delivery;
  char           *worker;       /* nullable */
  gboolean        ok;
  GVariant       *result;       /* a{sv}, nullable */
  int             error_kind;   /* 0 device, 1 cancelled */
  int             error_code;   /* OrreryDeviceError */
  char           *error_message;
  gint64          duration_us;
  char           *why;          /* redelivered: why */
} RedisReplyRecord;

void        redis_reply_record_free   (RedisReplyRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RedisReplyRecord, redis_reply_record_free)
void        redis_reply_record_encode (const RedisReplyRecord *record,
                                       GPtrArray              *args);
RedisReplyRecord *redis_reply_record_decode (const char * const *fields,
                                             const size_t       *lens,
                                             gsize               n,
                                             GError            **error);
RedisReplyRecord *redis_reply_record_decode_reply (const redisReply *fields,
                                                   GError          **error);

/* Takeover: acknowledges and deletes the entry @entry_id of @tasks_key and,
 * in the same MULTI, appends the record again with the next delivery
 * number and tells its reply stream (@why says why), or, past its
 * max_deliveries, appends a failure to its reply stream instead. */
gboolean    redis_redeliver          (RedisLink             *link,
                                      const char            *tasks_key,
                                      const char            *entry_id,
                                      const RedisTaskRecord *record,
                                      const char            *why);
/* Puts an entry that never ran back as it is (same delivery number). */
gboolean    redis_put_back           (RedisLink             *link,
                                      const char            *tasks_key,
                                      const char            *entry_id,
                                      const RedisTaskRecord *record);

/* A reply's error as text, for messages (static or the reply's). */
const char *redis_reply_error        (const redisReply *reply);

/* Called for each entry of a stream read, with its id (NUL-terminated,
 * @id_len bytes) and its [field, value, ...] array; returns FALSE to stop. */
typedef gboolean (*RedisEntryFunc) (const char       *id,
                                    size_t            id_len,
                                    const redisReply *fields,
                                    gpointer          user_data);

/* Walks an XREAD/XREADGROUP reply ([[stream, [[id, [f, v, ...]], ...]], ...]),
 * skipping the parts that do not have that shape (a hostile or broken
 * server's reply is never trusted), until @func returns FALSE. Returns the
 * number of entries given to @func. */
gsize       redis_reply_foreach_entry (const redisReply *reply,
                                       RedisEntryFunc    func,
                                       gpointer          user_data);

G_END_DECLS
