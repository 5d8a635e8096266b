/* redis-common.c: Redis URLs, the reconnecting link, the records.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "redis-common.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000

G_DEFINE_QUARK (orrery-redis-error-quark, redis_error)

/* ---------------------------------------------------------------- URLs */

void
redis_url_free (RedisUrl *url)
{
  if (url == NULL)
    return;
  g_free (url->host);
  g_free (url->path);
  g_free (url->user);
  if (url->password)
    explicit_bzero (url->password, strlen (url->password));
  g_free (url->password);
  g_free (url->shown);
  g_free (url);
}

gboolean
redis_url_looks_like (const char *text)
{
  return text != NULL &&
         (g_str_has_prefix (text, "redis://") || g_str_has_prefix (text, "redis+unix://"));
}

/* The URL with any password replaced by `***` (for messages); what is not
 * a URL is returned as it is. */
char *
redis_url_redact (const char *text)
{
  const char *scheme_end, *at, *slash;
  GString *s;

  if (text == NULL)
    return NULL;
  scheme_end = strstr (text, "://");
  if (scheme_end == NULL)
    return g_strdup (text);
  scheme_end += 3;
  slash = strchr (scheme_end, '/');
  at = strchr (scheme_end, '@');
  if (at == NULL || (slash != NULL && slash < at))
    return g_strdup (text);
  s = g_string_new_len (text, scheme_end - text);
  {
    const char *colon = memchr (scheme_end, ':', at - scheme_end);

    if (colon != NULL)
      {
        g_string_append_len (s, scheme_end, colon - scheme_end);
        g_string_append (s, ":***");
      }
    else
      g_string_append (s, "***");
  }
  g_string_append (s, at);
  return g_string_free (s, FALSE);
}

static gboolean
parse_uint (const char *text,
            guint64     max,
            guint64    *out)
{
  char *end = NULL;
  guint64 v;

  if (text == NULL || !g_ascii_isdigit (*text))
    return FALSE;
  errno = 0;
  v = g_ascii_strtoull (text, &end, 10);
  if (errno != 0 || *end != '\0' || v > max)
    return FALSE;
  *out = v;
  return TRUE;
}

static gboolean
split_userinfo (RedisUrl    *url,
                const char  *userinfo,
                GError     **error)
{
  const char *colon = strchr (userinfo, ':');
  g_autofree char *user = colon ? g_strndup (userinfo, colon - userinfo) : g_strdup (userinfo);

  url->user = *user ? g_uri_unescape_string (user, NULL) : NULL;
  if (colon != NULL)
    url->password = g_uri_unescape_string (colon + 1, NULL);
  if ((*user && url->user == NULL) || (colon && url->password == NULL))
    {
      g_set_error (error, REDIS_ERROR, REDIS_ERROR_BAD_URL,
                   "%s: bad escape in the user or password", url->shown);
      return FALSE;
    }
  if (colon == NULL && url->user != NULL)
    {
      /* redis://PASSWORD@host: a password alone, as redis-cli takes it. */
      url->password = g_steal_pointer (&url->user);
    }
  return TRUE;
}

RedisUrl *
redis_url_parse (const char  *text,
                 GError     **error)
{
  g_autoptr(RedisUrl) url = g_new0 (RedisUrl, 1);
  const char *rest, *at, *slash;
  gboolean is_unix;
  g_autofree char *authority = NULL;

  g_return_val_if_fail (text != NULL, NULL);
  url->shown = redis_url_redact (text);
  if (g_str_has_prefix (text, "redis://"))
    is_unix = FALSE, rest = text + strlen ("redis://");
  else if (g_str_has_prefix (text, "redis+unix://"))
    is_unix = TRUE, rest = text + strlen ("redis+unix://");
  else
    {
      g_set_error (error, REDIS_ERROR, REDIS_ERROR_BAD_URL,
                   "%s: not a Redis URL (redis://HOST[:PORT][/DB] or redis+unix:///PATH)",
                   url->shown);
      return NULL;
    }

  slash = strchr (rest, '/');
  at = strchr (rest, '@');
  if (at != NULL && (slash == NULL || at < slash))
    {
      g_autofree char *userinfo = g_strndup (rest, at - rest);

      if (!split_userinfo (url, userinfo, error))
        return NULL;
      rest = at + 1;
      slash = strchr (rest, '/');
    }

  if (is_unix)
    {
      const char *query;
      g_autofree char *path = NULL;

      if (*rest != '/')
        {
          g_set_error (error, REDIS_ERROR, REDIS_ERROR_BAD_URL,
                       "%s: a unix socket URL names an absolute path (redis+unix:///PATH)",
                       url->shown);
          return NULL;
        }
      query = strchr (rest, '?');
      path = query ? g_strndup (rest, query - rest) : g_strdup (rest);
      url->path = g_uri_unescape_string (path, NULL);
      if (url->path == NULL || strlen (url->path) < 2)
        {
          g_set_error (error, REDIS_ERROR, REDIS_ERROR_BAD_URL,
                       "%s: no socket path", url->shown);
          return NULL;
        }
      if (query != NULL)
        {
          guint64 db;

          if (!g_str_has_prefix (query, "?db=") || !parse_uint (query + 4, G_MAXINT, &db))
            {
              g_set_error (error, REDIS_ERROR, REDIS_ERROR_BAD_URL,
                           "%s: the only query is ?db=N", url->shown);
              return NULL;
            }
          url->db = (guint) db;
        }
      return g_steal_pointer (&url);
    }

  authority = slash ? g_strndup (rest, slash - rest) : g_strdup (rest);
  if (*authority == '[')
    {
      char *close = strchr (authority, ']');

      if (close == NULL)
        {
          g_set_error (error, REDIS_ERROR, REDIS_ERROR_BAD_URL, "%s: unclosed [", url->shown);
          return NULL;
        }
      url->host = g_strndup (authority + 1, close - authority - 1);
      rest = close + 1;
    }
  else
    {
      char *colon = strrchr (authority, ':');

      url->host = colon ? g_strndup (authority, colon - authority) : g_strdup (authority);
      rest = colon ? colon : "";
    }
  url->port = 6379;
  if (*rest == ':')
    {
      guint64 port;

      if (!parse_uint (rest + 1, 65535, &port) || port == 0)
        {
          g_set_error (error, REDIS_ERROR, REDIS_ERROR_BAD_URL, "%s: bad port", url->shown);
          return NULL;
        }
      url->port = (int) port;
    }
  else if (*rest != '\0')
    {
      g_set_error (error, REDIS_ERROR, REDIS_ERROR_BAD_URL, "%s: bad host", url->shown);
      return NULL;
    }
  if (*url->host == '\0')
    {
      g_set_error (error, REDIS_ERROR, REDIS_ERROR_BAD_URL, "%s: no host", url->shown);
      return NULL;
    }
  if (slash != NULL && slash[1] != '\0')
    {
      guint64 db;

      if (!parse_uint (slash + 1, G_MAXINT, &db))
        {
          g_set_error (error, REDIS_ERROR, REDIS_ERROR_BAD_URL,
                       "%s: the path is a database number (/DB)", url->shown);
          return NULL;
        }
      url->db = (guint) db;
    }
  return g_steal_pointer (&url);
}

/* ---------------------------------------------------------------- links */

/* The GSource of one hiredis context (the same idea as hiredis's own
 * adapters/glib.h, but it stops using the context as soon as hiredis
 * frees it, even in the middle of a dispatch). */
typedef struct
{
  GSource             source;
  redisAsyncContext  *ac;
  GPollFD             poll_fd;
} LinkSource;

struct _RedisLink
{
  RedisUrl           *url;
  char               *name;
  RedisLinkStateFunc  state_func;
  gpointer            user_data;
  redisAsyncContext  *ac;
  LinkSource         *source;
  gboolean            up;
  gboolean            closing;
  guint               backoff_ms;
  GSource            *retry;
  gint64              down_since;
  char               *last_error;
  gboolean            told_down;
  gboolean            refused;     /* the handshake failed on this connection */
};

static void link_connect (RedisLink *link);

static void
source_events (LinkSource *s,
               gushort     add,
               gushort     del)
{
  s->poll_fd.events = (s->poll_fd.events | add) & ~del;
}

static void src_add_read (void *d) { source_events (d, G_IO_IN, 0); }
static void src_del_read (void *d) { source_events (d, 0, G_IO_IN); }
static void src_add_write (void *d) { source_events (d, G_IO_OUT, 0); }
static void src_del_write (void *d) { source_events (d, 0, G_IO_OUT); }

static void
src_cleanup (void *d)
{
  LinkSource *s = d;

  s->ac = NULL;
  s->poll_fd.events = 0;
}

static gboolean
src_prepare (GSource *source,
             gint    *timeout)
{
  LinkSource *s = (LinkSource *) source;

  *timeout = -1;
  return s->ac != NULL && (s->poll_fd.events & s->poll_fd.revents) != 0;
}

static gboolean
src_check (GSource *source)
{
  LinkSource *s = (LinkSource *) source;

  return s->ac != NULL && (s->poll_fd.events & s->poll_fd.revents) != 0;
}

/* hiredis 0.14 writes with write(2), which has no MSG_NOSIGNAL: a write
 * to a connection whose peer went away since the last poll (Redis stopped
 * or restarted between two turns of the loop, a proxy closed) raises
 * SIGPIPE, whose default action kills the process silently: a worker died
 * so in the middle of a task, its result never sent, and the task ran
 * again after its lease. Around each write SIGPIPE is blocked on this
 * thread (the signal of a write goes to the thread that writes) and one it
 * raised is taken back, so that the write fails with EPIPE and the link
 * goes down and reconnects; the process's own disposition (a host may
 * keep the default) is left alone. */
typedef struct
{
  sigset_t old;
  gboolean guarded;
} PipeGuard;

static void
pipe_guard_enter (PipeGuard *g)
{
  sigset_t pipe;

  sigemptyset (&pipe);
  sigaddset (&pipe, SIGPIPE);
  g->guarded = pthread_sigmask (SIG_BLOCK, &pipe, &g->old) == 0 &&
               !sigismember (&g->old, SIGPIPE);
}

static void
pipe_guard_leave (PipeGuard *g)
{
  sigset_t pipe, pending;
  const struct timespec now = { 0, 0 };
  int errsv = errno;

  if (!g->guarded)
    return;   /* blocked already by the caller: its business */
  sigemptyset (&pipe);
  sigaddset (&pipe, SIGPIPE);
  if (sigpending (&pending) == 0 && sigismember (&pending, SIGPIPE))
    while (sigtimedwait (&pipe, NULL, &now) < 0 && errno == EINTR)
      ;
  pthread_sigmask (SIG_SETMASK, &g->old, NULL);
  errno = errsv;
}

static void
link_handle_write (redisAsyncContext *ac)
{
  PipeGuard g;

  /* Nothing to write (most turns: a read, the connect): no guard. */
  if ((ac->c.flags & REDIS_CONNECTED) && sdslen (ac->c.obuf) == 0)
    {
      redisAsyncHandleWrite (ac);
      return;
    }
  pipe_guard_enter (&g);
  redisAsyncHandleWrite (ac);
  pipe_guard_leave (&g);
}

static gboolean
src_dispatch (GSource     *source,
              GSourceFunc  callback,
              gpointer     user_data)
{
  LinkSource *s = (LinkSource *) source;
  gushort revents = s->poll_fd.revents;

  s->poll_fd.revents = 0;
  if (s->ac != NULL && (revents & (G_IO_OUT | G_IO_ERR | G_IO_HUP)))
    link_handle_write (s->ac);
  /* Writing may have freed the context (cleanup cleared s->ac). */
  if (s->ac != NULL && (revents & (G_IO_IN | G_IO_ERR | G_IO_HUP)))
    redisAsyncHandleRead (s->ac);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs link_source_funcs = {
  .prepare = src_prepare,
  .check = src_check,
  .dispatch = src_dispatch,
};

static void
link_drop_source (RedisLink *link)
{
  if (link->source == NULL)
    return;
  link->source->ac = NULL;
  g_source_destroy ((GSource *) link->source);
  g_source_unref ((GSource *) link->source);
  link->source = NULL;
}

static gboolean
on_retry (gpointer user_data)
{
  RedisLink *link = user_data;

  g_clear_pointer (&link->retry, g_source_unref);
  link_connect (link);
  return G_SOURCE_REMOVE;
}

static void
link_schedule_retry (RedisLink *link)
{
  if (link->closing || link->retry != NULL)
    return;
  link->retry = g_timeout_source_new (link->backoff_ms);
  g_source_set_callback (link->retry, on_retry, link, NULL);
  g_source_attach (link->retry, g_main_context_get_thread_default ());
  link->backoff_ms = MIN (link->backoff_ms * 2, BACKOFF_MAX_MS);
}

static void
link_went_down (RedisLink  *link,
                const char *why)
{
  gboolean was_up = link->up;

  link->up = FALSE;
  link->ac = NULL;
  link_drop_source (link);
  if (link->down_since == 0)
    link->down_since = g_get_monotonic_time ();
  if (why != NULL)
    {
      g_free (link->last_error);
      link->last_error = g_strdup (why);
    }
  link_schedule_retry (link);
  /* Told once per outage, not at every retry. */
  if (link->state_func && !link->closing && (was_up || !link->told_down))
    {
      link->told_down = TRUE;
      link->state_func (link, FALSE, link->last_error, link->user_data);
    }
}

static void
on_disconnect (const redisAsyncContext *ac,
               int                      status)
{
  RedisLink *link = ac->data;

  if (link == NULL)
    return;
  /* A refused handshake closed it: the refusal is the reason. */
  link_went_down (link, link->refused ? NULL : status == REDIS_OK ? "the connection was closed"
                                           : (ac->errstr[0] ? ac->errstr : "connection lost"));
}

static void
on_connect (const redisAsyncContext *ac,
            int                      status)
{
  RedisLink *link = ac->data;

  if (link == NULL)
    return;
  if (status != REDIS_OK)
    {
      /* hiredis frees the context after this callback. */
      g_autofree char *why = g_strdup_printf ("cannot connect to %s: %s", link->url->shown,
                                              ac->errstr[0] ? ac->errstr : "error");
      ((redisAsyncContext *) ac)->data = NULL;
      link_went_down (link, why);
    }
}

/* The reply to the AUTH/SELECT/PING sent first: the link is up once the
 * last of them answered. */
static void
on_handshake (redisAsyncContext *ac,
              void              *r,
              void              *privdata)
{
  redisReply *reply = r;
  RedisLink *link = ac->data;
  gboolean last = GPOINTER_TO_INT (privdata);

  if (link == NULL || link->ac != ac)
    return;
  if (reply == NULL || link->refused)
    return;   /* the connection went away (on_disconnect tells), or is refused */
  if (reply->type == REDIS_REPLY_ERROR)
    {
      g_autofree char *why = g_strdup_printf ("%s refused the connection: %.*s",
                                              link->url->shown,
                                              (int) MIN (reply->len, 200), reply->str);
      g_free (link->last_error);
      link->last_error = g_steal_pointer (&why);
      link->refused = TRUE;
      /* Closing it: the retry comes from on_disconnect. */
      redisAsyncDisconnect (ac);
      return;
    }
  if (!last)
    return;
  link->up = TRUE;
  link->told_down = FALSE;
  link->down_since = 0;
  link->backoff_ms = BACKOFF_MIN_MS;
  if (link->state_func)
    link->state_func (link, TRUE, NULL, link->user_data);
}

static void
link_connect (RedisLink *link)
{
  redisAsyncContext *ac;
  const char *argv[3];
  size_t lens[3];

  if (link->closing || link->ac != NULL)
    return;
  ac = link->url->path ? redisAsyncConnectUnix (link->url->path)
                       : redisAsyncConnect (link->url->host, link->url->port);
  if (ac == NULL || ac->err)
    {
      g_autofree char *why = g_strdup_printf ("cannot connect to %s: %s", link->url->shown,
                                              ac && ac->errstr[0] ? ac->errstr : "out of memory");

      if (ac)
        redisAsyncFree (ac);
      link_went_down (link, why);
      return;
    }
  ac->data = link;
  link->ac = ac;
  link->refused = FALSE;
  if (link->url->host)
    redisEnableKeepAlive (&ac->c);
  link->source = (LinkSource *) g_source_new (&link_source_funcs, sizeof (LinkSource));
  link->source->ac = ac;
  link->source->poll_fd.fd = ac->c.fd;
  g_source_add_poll ((GSource *) link->source, &link->source->poll_fd);
  ac->ev.addRead = src_add_read;
  ac->ev.delRead = src_del_read;
  ac->ev.addWrite = src_add_write;
  ac->ev.delWrite = src_del_write;
  ac->ev.cleanup = src_cleanup;
  ac->ev.data = link->source;
  g_source_attach ((GSource *) link->source, g_main_context_get_thread_default ());
  redisAsyncSetConnectCallback (ac, on_connect);
  redisAsyncSetDisconnectCallback (ac, on_disconnect);

  if (link->url->password)
    {
      int n = 0;

      argv[n] = "AUTH", lens[n++] = 4;
      if (link->url->user)
        argv[n] = link->url->user, lens[n] = strlen (link->url->user), n++;
      argv[n] = link->url->password, lens[n] = strlen (link->url->password), n++;
      redisAsyncCommandArgv (ac, on_handshake, GINT_TO_POINTER (FALSE), n, argv, lens);
    }
  {
    g_autofree char *db = g_strdup_printf ("%u", link->url->db);

    argv[0] = "SELECT", lens[0] = 6;
    argv[1] = db, lens[1] = strlen (db);
    redisAsyncCommandArgv (ac, on_handshake, GINT_TO_POINTER (TRUE), 2, argv, lens);
  }
}

RedisLink *
redis_link_new (const RedisUrl     *url,
                const char         *name,
                RedisLinkStateFunc  state_func,
                gpointer            user_data)
{
  RedisLink *link = g_new0 (RedisLink, 1);

  link->url = g_new0 (RedisUrl, 1);
  link->url->host = g_strdup (url->host);
  link->url->port = url->port;
  link->url->path = g_strdup (url->path);
  link->url->user = g_strdup (url->user);
  link->url->password = g_strdup (url->password);
  link->url->db = url->db;
  link->url->shown = g_strdup (url->shown);
  link->name = g_strdup (name);
  link->state_func = state_func;
  link->user_data = user_data;
  link->backoff_ms = BACKOFF_MIN_MS;
  link->down_since = g_get_monotonic_time ();
  link_connect (link);
  return link;
}

void
redis_link_free (RedisLink *link)
{
  if (link == NULL)
    return;
  link->closing = TRUE;
  if (link->retry)
    {
      g_source_destroy (link->retry);
      g_clear_pointer (&link->retry, g_source_unref);
    }
  if (link->ac)
    {
      redisAsyncContext *ac = link->ac;

      /* Pending callbacks run with a NULL reply; none of them may use the
       * link any more. */
      ac->data = NULL;
      link->ac = NULL;
      redisAsyncFree (ac);
    }
  link_drop_source (link);
  redis_url_free (link->url);
  g_free (link->name);
  g_free (link->last_error);
  g_free (link);
}

void
redis_link_flush (RedisLink *link,
                  guint      timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  int done = 0;

  if (link->ac == NULL || !link->up)
    return;
  while (!done)
    {
      struct pollfd pfd = { link->ac->c.fd, POLLOUT, 0 };
      gint64 left = deadline - g_get_monotonic_time ();

      PipeGuard g;
      int status;

      pipe_guard_enter (&g);
      status = redisBufferWrite (&link->ac->c, &done);
      pipe_guard_leave (&g);
      if (status != REDIS_OK)
        return;
      if (done || left <= 0)
        return;
      if (poll (&pfd, 1, (int) MAX (left / 1000, 1)) < 0 && errno != EINTR)
        return;
    }
}

gboolean
redis_link_is_up (RedisLink *link)
{
  return link->up;
}

gint64
redis_link_get_down_since (RedisLink *link)
{
  return link->up ? 0 : link->down_since;
}

const char *
redis_link_get_last_error (RedisLink *link)
{
  return link->last_error ? link->last_error : "not connected";
}

gboolean
redis_link_command (RedisLink        *link,
                    redisCallbackFn  *callback,
                    gpointer          privdata,
                    int               argc,
                    const char      **argv,
                    const size_t     *argvlen)
{
  if (!link->up || link->ac == NULL)
    return FALSE;
  return redisAsyncCommandArgv (link->ac, callback, privdata, argc, argv, argvlen) == REDIS_OK;
}

gboolean
redis_link_command_strv (RedisLink        *link,
                         redisCallbackFn  *callback,
                         gpointer          privdata,
                         GPtrArray        *args)
{
  g_autofree size_t *lens = g_new (size_t, args->len);

  for (guint i = 0; i < args->len; i++)
    lens[i] = strlen (args->pdata[i]);
  return redis_link_command (link, callback, privdata, (int) args->len,
                             (const char **) args->pdata, lens);
}

const char *
redis_reply_error (const redisReply *reply)
{
  if (reply == NULL)
    return "the connection was lost";
  if (reply->type == REDIS_REPLY_ERROR)
    return reply->str;
  return "unexpected reply";
}

gsize
redis_reply_foreach_entry (const redisReply *reply,
                           RedisEntryFunc    func,
                           gpointer          user_data)
{
  gsize n = 0;

  if (reply == NULL || reply->type != REDIS_REPLY_ARRAY)
    return 0;
  for (size_t s = 0; s < reply->elements; s++)
    {
      const redisReply *stream = reply->element[s];

      if (stream->type != REDIS_REPLY_ARRAY || stream->elements != 2 ||
          stream->element[1]->type != REDIS_REPLY_ARRAY)
        continue;
      for (size_t i = 0; i < stream->element[1]->elements; i++)
        {
          const redisReply *entry = stream->element[1]->element[i];

          if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
              entry->element[0]->type != REDIS_REPLY_STRING)
            continue;
          n++;
          if (!func (entry->element[0]->str, entry->element[0]->len, entry->element[1],
                     user_data))
            return n;
        }
    }
  return n;
}

/* ---------------------------------------------------------------- keys */

char *
redis_key_pool (const char *pool,
                const char *suffix)
{
  return g_strdup_printf ("orrery:pool:%s:%s", pool, suffix);
}

/* ---------------------------------------------------------------- records */

void
redis_task_record_free (RedisTaskRecord *record)
{
  if (record == NULL)
    return;
  g_free (record->pool);
  g_free (record->task_id);
  g_free (record->reply);
  g_free (record->run_id);
  g_free (record->name);
  g_clear_pointer (&record->data, g_variant_unref);
  g_free (record);
}

static void
add (GPtrArray  *args,
     const char *name,
     char       *value)   /* taken */
{
  g_ptr_array_add (args, g_strdup (name));
  g_ptr_array_add (args, value);
}

void
redis_task_record_encode (const RedisTaskRecord *r,
                          GPtrArray             *args)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  add (args, "v", g_strdup (REDIS_RECORD_VERSION));
  add (args, "pool", g_strdup (r->pool));
  add (args, "task", g_strdup (r->task_id));
  add (args, "attempt", g_strdup_printf ("%u", r->attempt));
  add (args, "delivery", g_strdup_printf ("%u", r->delivery));
  add (args, "maxdel", g_strdup_printf ("%u", r->max_deliveries));
  add (args, "reply", g_strdup (r->reply));
  if (r->run_id)
    add (args, "run", g_strdup (r->run_id));
  if (r->name)
    add (args, "name", g_strdup (r->name));
  if (r->timeout > 0)
    add (args, "timeout", g_strdup (g_ascii_dtostr (buf, sizeof buf, r->timeout)));
  if (r->data)
    add (args, "data", g_variant_print (r->data, TRUE));
}

/* A field may come once in a record. */
static gboolean
take_once (const char  *field,
           gboolean     seen,
           GError     **error)
{
  if (seen)
    {
      g_set_error (error, REDIS_ERROR, REDIS_ERROR_BAD_RECORD, "field “%s” repeated", field);
      return FALSE;
    }
  return TRUE;
}

/* A number's text, NUL-terminated in @buf (FALSE if empty or too long). */
static gboolean
copy_token (const char *value,
            size_t      len,
            char       *buf,
            size_t      size)
{
  if (len == 0 || len >= size)
    return FALSE;
  memcpy (buf, value, len);
  buf[len] = '\0';
  return TRUE;
}

/* A field's value as a checked string: valid UTF-8 without NUL, at most
 * @max bytes. */
static gboolean
take_string (const char  *field,
             const char  *value,
             size_t       len,
             size_t       max,
             char       **out,
             GError     **error)
{
  if (!take_once (field, *out != NULL, error))
    return FALSE;
  if (len > max)
    {
      g_set_error (error, REDIS_ERROR, REDIS_ERROR_BAD_RECORD,
                   "field “%s” too long (%zu bytes, at most %zu)", field, len, max);
      return FALSE;
    }
  if (memchr (value, '\0', len) != NULL || !g_utf8_validate_len (value, len, NULL))
    {
      g_set_error (error, REDIS_ERROR, REDIS_ERROR_BAD_RECORD,
                   "field “%s” is not UTF-8 text", field);
      return FALSE;
    }
  *out = g_strndup (value, len);
  return TRUE;
}

static gboolean
take_uint (const char  *field,
           const char  *value,
           size_t       len,
           guint64      min,
           guint64      max,
           gboolean    *seen,
           guint       *out,
           GError     **error)
{
  char buf[24];
  guint64 v;

  if (!take_once (field, *seen, error))
    return FALSE;
  *seen = TRUE;
  if (!copy_token (value, len, buf, sizeof buf))
    goto bad;
  if (!parse_uint (buf, max, &v) || v < min)
    goto bad;
  *out = (guint) v;
  return TRUE;

bad:
  g_set_error (error, REDIS_ERROR, REDIS_ERROR_BAD_RECORD,
               "field “%s” is not an integer from %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT,
               field, min, max);
  return FALSE;
}

static gboolean
take_double (const char  *field,
             const char  *value,
             size_t       len,
             gboolean    *seen,
             gdouble     *out,
             GError     **error)
{
  char buf[64];
  char *end = NULL;
  gdouble v;

  if (!take_once (field, *seen, error))
    return FALSE;
  *seen = TRUE;
  if (!copy_token (value, len, buf, sizeof buf))
    goto bad;
  v = g_ascii_strtod (buf, &end);
  if (*end != '\0' || !isfinite (v) || v < 0 || v > 1e9)
    goto bad;
  *out = v;
  return TRUE;

bad:
  g_set_error (error, REDIS_ERROR, REDIS_ERROR_BAD_RECORD,
               "field “%s” is not a number of seconds", field);
  return FALSE;
}

static gboolean
take_vardict (const char  *field,
              const char  *value,
              size_t       len,
              GVariant   **out,
              GError     **error)
{
  g_autofree char *text = NULL;
  g_autoptr(GError) local = NULL;
  GVariant *v;

  if (!take_once (field, *out != NULL, error))
    return FALSE;
  if (!take_string (field, value, len, REDIS_MAX_DATA_BYTES, &text, error))
    return FALSE;
  v = g_variant_parse (G_VARIANT_TYPE_VARDICT, text, NULL, NULL, &local);
  if (v == NULL)
    {
      g_set_error (error, REDIS_ERROR, REDIS_ERROR_BAD_RECORD,
                   "field “%s” is not an a{sv} dictionary: %s", field, local->message);
      return FALSE;
    }
  *out = v;   /* g_variant_parse() gives a full (non-floating) reference */
  return TRUE;
}

static gboolean
field_is (const char *field,
          size_t      len,
          const char *name)
{
  return strlen (name) == len && memcmp (field, name, len) == 0;
}

static gboolean
check_version (const char  *value,
               size_t       len,
               gboolean    *seen,
               GError     **error)
{
  if (!take_once ("v", *seen, error))
    return FALSE;
  *seen = TRUE;
  if (!field_is (value, len, REDIS_RECORD_VERSION))
    {
      g_set_error (error, REDIS_ERROR, REDIS_ERROR_BAD_RECORD,
                   "record version is not " REDIS_RECORD_VERSION);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_pairs (gsize    n,
             GError **error)
{
  if (n % 2 != 0)
    {
      g_set_error (error, REDIS_ERROR, REDIS_ERROR_BAD_RECORD, "odd number of fields and values");
      return FALSE;
    }
  if (n > 2 * REDIS_MAX_FIELDS)
    {
      g_set_error (error, REDIS_ERROR, REDIS_ERROR_BAD_RECORD, "too many fields (%zu)", n / 2);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_id (const char  *field,
          const char  *value,
          GError     **error)
{
  if (value == NULL)
    {
      g_set_error (error, REDIS_ERROR, REDIS_ERROR_BAD_RECORD, "no field “%s”", field);
      return FALSE;
    }
  if (*value == '\0')
    {
      g_set_error (error, REDIS_ERROR, REDIS_ERROR_BAD_RECORD, "field “%s” is empty", field);
      return FALSE;
    }
  return TRUE;
}

RedisTaskRecord *
redis_task_record_decode (const char * const *fields,
                          const size_t       *lens,
                          gsize               n,
                          GError            **error)
{
  g_autoptr(RedisTaskRecord) r = g_new0 (RedisTaskRecord, 1);
  gboolean has_v = FALSE, has_attempt = FALSE, has_delivery = FALSE, has_maxdel = FALSE;
  gboolean has_timeout = FALSE;

  if (!check_pairs (n, error))
    return NULL;
  for (gsize i = 0; i < n; i += 2)
    {
      const char *f = fields[i], *v = fields[i + 1];
      size_t fl = lens[i], vl = lens[i + 1];
      gboolean ok;

      if (field_is (f, fl, "v"))
        ok = check_version (v, vl, &has_v, error);
      else if (field_is (f, fl, "pool"))
        ok = take_string ("pool", v, vl, REDIS_MAX_ID_BYTES, &r->pool, error);
      else if (field_is (f, fl, "task"))
        ok = take_string ("task", v, vl, REDIS_MAX_ID_BYTES, &r->task_id, error);
      else if (field_is (f, fl, "attempt"))
        ok = take_uint ("attempt", v, vl, 1, G_MAXINT32, &has_attempt, &r->attempt, error);
      else if (field_is (f, fl, "delivery"))
        ok = take_uint ("delivery", v, vl, 1, G_MAXINT32, &has_delivery, &r->delivery, error);
      else if (field_is (f, fl, "maxdel"))
        ok = take_uint ("maxdel", v, vl, 1, G_MAXINT32, &has_maxdel, &r->max_deliveries, error);
      else if (field_is (f, fl, "reply"))
        ok = take_string ("reply", v, vl, REDIS_MAX_ID_BYTES, &r->reply, error);
      else if (field_is (f, fl, "run"))
        ok = take_string ("run", v, vl, REDIS_MAX_ID_BYTES, &r->run_id, error);
      else if (field_is (f, fl, "name"))
        ok = take_string ("name", v, vl, REDIS_MAX_ID_BYTES, &r->name, error);
      else if (field_is (f, fl, "timeout"))
        ok = take_double ("timeout", v, vl, &has_timeout, &r->timeout, error);
      else if (field_is (f, fl, "data"))
        ok = take_vardict ("data", v, vl, &r->data, error);
      else
        ok = TRUE;   /* a field of a later minor version */
      if (!ok)
        return NULL;
    }
  if (!has_v)
    {
      g_set_error (error, REDIS_ERROR, REDIS_ERROR_BAD_RECORD, "no field “v”");
      return NULL;
    }
  if (!check_id ("pool", r->pool, error) || !check_id ("task", r->task_id, error) ||
      !check_id ("reply", r->reply, error))
    return NULL;
  if (!has_attempt || !has_delivery || !has_maxdel)
    {
      g_set_error (error, REDIS_ERROR, REDIS_ERROR_BAD_RECORD, "no field “%s”",
                   !has_attempt ? "attempt" : !has_delivery ? "delivery" : "maxdel");
      return NULL;
    }
  /* A worker writes only to reply streams (never to a pool's own keys). */
  if (!g_str_has_prefix (r->reply, "orrery:reply:"))
    {
      g_set_error (error, REDIS_ERROR, REDIS_ERROR_BAD_RECORD,
                   "field “reply” is not an orrery:reply: stream");
      return NULL;
    }
  return g_steal_pointer (&r);
}

/* The field/value pairs of an entry ([id, [f, v, ...]]'s second part). */
static gboolean
reply_pairs (const redisReply  *fields,
             const char      ***out_fields,
             size_t           **out_lens,
             gsize             *out_n,
             GError           **error)
{
  if (fields == NULL || fields->type != REDIS_REPLY_ARRAY)
    {
      g_set_error (error, REDIS_ERROR, REDIS_ERROR_BAD_RECORD, "the entry has no fields");
      return FALSE;
    }
  if (!check_pairs (fields->elements, error))
    return FALSE;
  *out_fields = g_new (const char *, fields->elements + 1);
  *out_lens = g_new (size_t, fields->elements + 1);
  for (size_t i = 0; i < fields->elements; i++)
    {
      const redisReply *e = fields->element[i];

      if (e->type != REDIS_REPLY_STRING)
        {
          g_clear_pointer (out_fields, g_free);
          g_clear_pointer (out_lens, g_free);
          g_set_error (error, REDIS_ERROR, REDIS_ERROR_BAD_RECORD, "a field is not a string");
          return FALSE;
        }
      (*out_fields)[i] = e->str;
      (*out_lens)[i] = e->len;
    }
  *out_n = fields->elements;
  return TRUE;
}

RedisTaskRecord *
redis_task_record_decode_reply (const redisReply  *fields,
                                GError           **error)
{
  g_autofree const char **f = NULL;
  g_autofree size_t *l = NULL;
  gsize n;

  if (!reply_pairs (fields, &f, &l, &n, error))
    return NULL;
  return redis_task_record_decode (f, l, n, error);
}

void
redis_reply_record_free (RedisReplyRecord *record)
{
  if (record == NULL)
    return;
  g_free (record->task_id);
  g_free (record->worker);
  g_clear_pointer (&record->result, g_variant_unref);
  g_free (record->error_message);
  g_free (record->why);
  g_free (record);
}

void
redis_reply_record_encode (const RedisReplyRecord *r,
                           GPtrArray              *args)
{
  add (args, "v", g_strdup (REDIS_RECORD_VERSION));
  add (args, "kind", g_strdup (r->kind == REDIS_REPLY_RESULT ? "result" : "redelivered"));
  add (args, "task", g_strdup (r->task_id));
  add (args, "attempt", g_strdup_printf ("%u", r->attempt));
  add (args, "delivery", g_strdup_printf ("%u", r->delivery));
  if (r->worker)
    add (args, "worker", g_strdup (r->worker));
  if (r->kind == REDIS_REPLY_REDELIVERED)
    {
      add (args, "why", g_strdup (r->why ? r->why : ""));
      return;
    }
  add (args, "ok", g_strdup (r->ok ? "1" : "0"));
  if (r->result)
    add (args, "result", g_variant_print (r->result, TRUE));
  add (args, "us", g_strdup_printf ("%" G_GINT64_FORMAT, MAX (r->duration_us, 0)));
  if (!r->ok)
    {
      add (args, "ekind", g_strdup_printf ("%d", r->error_kind));
      add (args, "ecode", g_strdup_printf ("%d", r->error_code));
      add (args, "emsg", g_strdup (r->error_message ? r->error_message : "failed"));
    }
}

RedisReplyRecord *
redis_reply_record_decode (const char * const *fields,
                           const size_t       *lens,
                           gsize               n,
                           GError            **error)
{
  g_autoptr(RedisReplyRecord) r = g_new0 (RedisReplyRecord, 1);
  g_autofree char *kind = NULL;
  g_autofree char *ok = NULL;
  gboolean has_v = FALSE, has_attempt = FALSE, has_delivery = FALSE;
  gboolean has_ekind = FALSE, has_ecode = FALSE, has_us = FALSE;
  guint ekind = 0, ecode = 0, us = 0;

  if (!check_pairs (n, error))
    return NULL;
  for (gsize i = 0; i < n; i += 2)
    {
      const char *f = fields[i], *v = fields[i + 1];
      size_t fl = lens[i], vl = lens[i + 1];
      gboolean good;

      if (field_is (f, fl, "v"))
        good = check_version (v, vl, &has_v, error);
      else if (field_is (f, fl, "kind"))
        good = take_string ("kind", v, vl, 32, &kind, error);
      else if (field_is (f, fl, "task"))
        good = take_string ("task", v, vl, REDIS_MAX_ID_BYTES, &r->task_id, error);
      else if (field_is (f, fl, "attempt"))
        good = take_uint ("attempt", v, vl, 1, G_MAXINT32, &has_attempt, &r->attempt, error);
      else if (field_is (f, fl, "delivery"))
        good = take_uint ("delivery", v, vl, 1, G_MAXINT32, &has_delivery, &r->delivery, error);
      else if (field_is (f, fl, "worker"))
        good = take_string ("worker", v, vl, REDIS_MAX_ID_BYTES, &r->worker, error);
      else if (field_is (f, fl, "why"))
        good = take_string ("why", v, vl, 64 * 1024, &r->why, error);
      else if (field_is (f, fl, "ok"))
        good = take_string ("ok", v, vl, 1, &ok, error);
      else if (field_is (f, fl, "result"))
        good = take_vardict ("result", v, vl, &r->result, error);
      else if (field_is (f, fl, "us"))
        good = take_uint ("us", v, vl, 0, G_MAXINT32, &has_us, &us, error);
      else if (field_is (f, fl, "ekind"))
        good = take_uint ("ekind", v, vl, 0, 1, &has_ekind, &ekind, error);
      else if (field_is (f, fl, "ecode"))
        good = take_uint ("ecode", v, vl, 0, 1000, &has_ecode, &ecode, error);
      else if (field_is (f, fl, "emsg"))
        good = take_string ("emsg", v, vl, 64 * 1024, &r->error_message, error);
      else
        good = TRUE;
      if (!good)
        return NULL;
    }
  if (!has_v || kind == NULL || !has_attempt || !has_delivery)
    {
      g_set_error (error, REDIS_ERROR, REDIS_ERROR_BAD_RECORD, "no field “%s”",
                   !has_v ? "v" : kind == NULL ? "kind" : !has_attempt ? "attempt" : "delivery");
      return NULL;
    }
  if (!check_id ("task", r->task_id, error))
    return NULL;
  if (g_str_equal (kind, "redelivered"))
    {
      r->kind = REDIS_REPLY_REDELIVERED;
      return g_steal_pointer (&r);
    }
  if (!g_str_equal (kind, "result"))
    {
      g_set_error (error, REDIS_ERROR, REDIS_ERROR_BAD_RECORD, "unknown kind “%s”", kind);
      return NULL;
    }
  r->kind = REDIS_REPLY_RESULT;
  if (ok == NULL || (!g_str_equal (ok, "0") && !g_str_equal (ok, "1")))
    {
      g_set_error (error, REDIS_ERROR, REDIS_ERROR_BAD_RECORD, "field “ok” is not 0 or 1");
      return NULL;
    }
  r->ok = g_str_equal (ok, "1");
  r->duration_us = us;
  r->error_kind = (int) ekind;
  r->error_code = (int) ecode;
  if (!r->ok && r->error_message == NULL)
    r->error_message = g_strdup ("the task failed on the worker");
  return g_steal_pointer (&r);
}

RedisReplyRecord *
redis_reply_record_decode_reply (const redisReply  *fields,
                                 GError           **error)
{
  g_autofree const char **f = NULL;
  g_autofree size_t *l = NULL;
  gsize n;

  if (!reply_pairs (fields, &f, &l, &n, error))
    return NULL;
  return redis_reply_record_decode (f, l, n, error);
}

/* ---------------------------------------------------------------- takeover */

static void
on_redeliver (redisAsyncContext *ac,
              void              *r,
              void              *privdata)
{
  redisReply *reply = r;

  if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
    g_warning ("Cannot deliver a task again: %.*s", (int) MIN (reply->len, 200), reply->str);
}

gboolean
redis_redeliver (RedisLink             *link,
                 const char            *tasks_key,
                 const char            *entry_id,
                 const RedisTaskRecord *record,
                 const char            *why)
{
  g_autoptr(GPtrArray) a = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) b = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) c = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) d = g_ptr_array_new_with_free_func (g_free);
  const char *multi[] = { "MULTI" }, *exec[] = { "EXEC" };
  size_t multi_len[] = { 5 }, exec_len[] = { 4 };
  RedisReplyRecord notice = { 0 };
  gboolean ok;

  if (!redis_link_is_up (link))
    return FALSE;

  g_ptr_array_add (a, g_strdup ("XACK"));
  g_ptr_array_add (a, g_strdup (tasks_key));
  g_ptr_array_add (a, g_strdup (REDIS_GROUP));
  g_ptr_array_add (a, g_strdup (entry_id));
  g_ptr_array_add (b, g_strdup ("XDEL"));
  g_ptr_array_add (b, g_strdup (tasks_key));
  g_ptr_array_add (b, g_strdup (entry_id));

  notice.task_id = record->task_id;
  notice.attempt = record->attempt;
  if (record->delivery >= record->max_deliveries)
    {
      /* Past its limit: the task fails, with the reason. */
      notice.kind = REDIS_REPLY_RESULT;
      notice.delivery = record->delivery;
      notice.ok = FALSE;
      notice.error_kind = 0;
      notice.error_code = 0;  /* ORRERY_DEVICE_ERROR_FAILED */
      notice.error_message = g_strdup_printf ("delivered %u times (the limit), each time lost: %s",
                                              record->delivery, why);
      g_ptr_array_add (d, g_strdup ("XADD"));
      g_ptr_array_add (d, g_strdup (record->reply));
      g_ptr_array_add (d, g_strdup ("*"));
      redis_reply_record_encode (&notice, d);
      g_free (notice.error_message);
    }
  else
    {
      RedisTaskRecord next = *record;

      next.delivery = record->delivery + 1;
      g_ptr_array_add (c, g_strdup ("XADD"));
      g_ptr_array_add (c, g_strdup (tasks_key));
      g_ptr_array_add (c, g_strdup ("*"));
      redis_task_record_encode (&next, c);
      notice.kind = REDIS_REPLY_REDELIVERED;
      notice.delivery = next.delivery;
      notice.why = (char *) why;
      g_ptr_array_add (d, g_strdup ("XADD"));
      g_ptr_array_add (d, g_strdup (record->reply));
      g_ptr_array_add (d, g_strdup ("*"));
      redis_reply_record_encode (&notice, d);
    }

  ok = redis_link_command (link, NULL, NULL, 1, multi, multi_len) &&
       redis_link_command_strv (link, NULL, NULL, a) &&
       redis_link_command_strv (link, NULL, NULL, b) &&
       (c->len == 0 || redis_link_command_strv (link, NULL, NULL, c)) &&
       redis_link_command_strv (link, NULL, NULL, d) &&
       redis_link_command (link, on_redeliver, NULL, 1, exec, exec_len);
  return ok;
}

gboolean
redis_put_back (RedisLink             *link,
                const char            *tasks_key,
                const char            *entry_id,
                const RedisTaskRecord *record)
{
  g_autoptr(GPtrArray) ack = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) del = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) again = g_ptr_array_new_with_free_func (g_free);
  const char *multi[] = { "MULTI" }, *exec[] = { "EXEC" };
  size_t multi_len[] = { 5 }, exec_len[] = { 4 };

  g_ptr_array_add (ack, g_strdup ("XACK"));
  g_ptr_array_add (ack, g_strdup (tasks_key));
  g_ptr_array_add (ack, g_strdup (REDIS_GROUP));
  g_ptr_array_add (ack, g_strdup (entry_id));
  g_ptr_array_add (del, g_strdup ("XDEL"));
  g_ptr_array_add (del, g_strdup (tasks_key));
  g_ptr_array_add (del, g_strdup (entry_id));
  g_ptr_array_add (again, g_strdup ("XADD"));
  g_ptr_array_add (again, g_strdup (tasks_key));
  g_ptr_array_add (again, g_strdup ("*"));
  redis_task_record_encode (record, again);
  return redis_link_is_up (link) &&
         redis_link_command (link, NULL, NULL, 1, multi, multi_len) &&
         redis_link_command_strv (link, NULL, NULL, ack) &&
         redis_link_command_strv (link, NULL, NULL, del) &&
         redis_link_command_strv (link, NULL, NULL, again) &&
         redis_link_command (link, on_redeliver, NULL, 1, exec, exec_len);
}
