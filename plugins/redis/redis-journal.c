/* redis-journal.c: orrery-redis-journal, a run's journal on a Redis stream.
 *
 *   orrery-redis-journal write URL --run RUN_ID [--maxlen N] [--ttl SEC]
 *     appends each line of standard input (the JSON lines the host's
 *     OrreryJournal writes into a pipe: `orrery run --journal redis://...`)
 *     to the stream orrery:run:RUN_ID:journal as the field `line`, XADD
 *     MAXLEN ~ N when N > 0; at the end, EXPIRE SEC when SEC > 0. Lines
 *     wait in memory while Redis is away (reconnecting with a backoff); one
 *     away for --unreachable-sec (60) ends it with status 1, so the host's
 *     next write fails the run as a full disk would.
 *   orrery-redis-journal read URL --run RUN_ID --output FILE [--follow]
 *     writes the stream's lines to FILE, in order, each record once (a line
 *     sent twice across a reconnect has the same `seq`); with --follow
 *     prints `ready` on standard output once the header is in FILE and goes
 *     on until the run's terminal record (what `orrery watch URL --run ID`
 *     follows). While following it holds the journal writer's lock on
 *     FILE (an OFD write lock), as an OrreryJournal does on the file it
 *     writes: released when the run's end record is in FILE or when this
 *     process ends, so a watch knows when nothing more can come.
 *
 * Blocking hiredis: each mode is one process with nothing else to do.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-Redis-Journal"

#ifndef _GNU_SOURCE
# define _GNU_SOURCE   /* F_OFD_SETLK */
#endif
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <json-glib/json-glib.h>
#include <orrery.h>

#include "redis-common.h"

static redisContext *
connect_sync (const RedisUrl  *url,
              GError         **error)
{
  struct timeval tv = { 5, 0 };
  redisContext *c = url->path ? redisConnectUnixWithTimeout (url->path, tv)
                              : redisConnectWithTimeout (url->host, url->port, tv);
  redisReply *r;

  if (c == NULL || c->err)
    {
      g_set_error (error, REDIS_ERROR, REDIS_ERROR_CONNECT, "cannot connect to %s: %s",
                   url->shown, c ? c->errstr : "out of memory");
      if (c)
        redisFree (c);
      return NULL;
    }
  redisSetTimeout (c, tv);
  if (url->password)
    {
      const char *argv[3] = { "AUTH" };
      size_t lens[3] = { 4 };
      int n = 1;

      if (url->user)
        argv[n] = url->user, lens[n++] = strlen (url->user);
      argv[n] = url->password, lens[n++] = strlen (url->password);
      r = redisCommandArgv (c, n, argv, lens);
      if (r == NULL || r->type == REDIS_REPLY_ERROR)
        {
          g_set_error (error, REDIS_ERROR, REDIS_ERROR_CONNECT, "%s refused the connection: %s",
                       url->shown, r ? r->str : c->errstr);
          if (r)
            freeReplyObject (r);
          redisFree (c);
          return NULL;
        }
      freeReplyObject (r);
    }
  r = redisCommand (c, "SELECT %u", url->db);
  if (r == NULL || r->type == REDIS_REPLY_ERROR)
    {
      g_set_error (error, REDIS_ERROR, REDIS_ERROR_CONNECT, "%s: SELECT %u: %s", url->shown,
                   url->db, r ? r->str : c->errstr);
      if (r)
        freeReplyObject (r);
      redisFree (c);
      return NULL;
    }
  freeReplyObject (r);
  return c;
}

/* ---------------------------------------------------------------- write */

typedef struct
{
  const RedisUrl *url;
  char           *key;
  guint64         maxlen;
  guint           unreachable_sec;
  redisContext   *c;
  GQueue          unconfirmed;   /* char* lines sent, reply not read yet */
  GQueue          waiting;       /* char* lines not sent yet */
} Writer;

static gboolean
writer_connect (Writer  *w,
                GError **error)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) w->unreachable_sec * G_USEC_PER_SEC;
  guint backoff_ms = 100;
  gboolean told = FALSE;

  while (w->c == NULL)
    {
      g_autoptr(GError) local = NULL;

      w->c = connect_sync (w->url, &local);
      if (w->c != NULL)
        {
          if (told)
            g_message ("Journal stream: reconnected to %s", w->url->shown);
          break;
        }
      if (!told)
        g_warning ("Journal stream: %s; retrying", local->message);
      told = TRUE;
      if (g_get_monotonic_time () >= deadline)
        {
          g_set_error (error, REDIS_ERROR, REDIS_ERROR_CONNECT,
                       "Redis unreachable for %u s: %s", w->unreachable_sec, local->message);
          return FALSE;
        }
      g_usleep (backoff_ms * 1000);
      backoff_ms = MIN (backoff_ms * 2, 2000);
    }
  /* What was sent but not confirmed goes again (the reader drops a repeated seq). */
  while (!g_queue_is_empty (&w->unconfirmed))
    g_queue_push_head (&w->waiting, g_queue_pop_tail (&w->unconfirmed));
  return TRUE;
}

static void
writer_drop (Writer *w)
{
  if (w->c)
    redisFree (w->c);
  w->c = NULL;
}

/* Sends what waits and reads every reply; on a broken connection,
 * reconnects and starts again. */
static gboolean
writer_flush (Writer  *w,
              GError **error)
{
  g_autofree char *maxlen = g_strdup_printf ("%" G_GUINT64_FORMAT, w->maxlen);

  for (;;)
    {
      gboolean broken = FALSE;

      if (w->c == NULL && !writer_connect (w, error))
        return FALSE;
      while (!g_queue_is_empty (&w->waiting))
        {
          char *line = g_queue_pop_head (&w->waiting);
          const char *argv[8];
          size_t lens[8];
          int n = 0;

          argv[n++] = "XADD";
          argv[n++] = w->key;
          if (w->maxlen > 0)
            {
              argv[n++] = "MAXLEN";
              argv[n++] = "~";
              argv[n++] = maxlen;
            }
          argv[n++] = "*";
          argv[n++] = "line";
          argv[n++] = line;
          for (int i = 0; i < n; i++)
            lens[i] = strlen (argv[i]);
          g_queue_push_tail (&w->unconfirmed, line);
          if (redisAppendCommandArgv (w->c, n, argv, lens) != REDIS_OK)
            {
              broken = TRUE;
              break;
            }
        }
      while (!broken && !g_queue_is_empty (&w->unconfirmed))
        {
          void *r = NULL;

          if (redisGetReply (w->c, &r) != REDIS_OK)
            {
              broken = TRUE;
              break;
            }
          if (((redisReply *) r)->type == REDIS_REPLY_ERROR)
            {
              g_set_error (error, REDIS_ERROR, REDIS_ERROR_REPLY, "XADD %s: %s", w->key,
                           ((redisReply *) r)->str);
              freeReplyObject (r);
              return FALSE;
            }
          freeReplyObject (r);
          g_free (g_queue_pop_head (&w->unconfirmed));
        }
      if (!broken)
        return TRUE;
      g_warning ("Journal stream: the connection to %s broke: %s; reconnecting", w->url->shown,
                 w->c->errstr);
      writer_drop (w);
    }
}

static int
cmd_write (const RedisUrl *url,
           const char     *run_id,
           guint64         maxlen,
           guint           ttl,
           guint           unreachable_sec)
{
  Writer w = { url, NULL, maxlen, unreachable_sec };
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) partial = g_string_new (NULL);
  char buf[65536];

  w.key = g_strdup_printf ("orrery:run:%s:journal", run_id);
  g_queue_init (&w.unconfirmed);
  g_queue_init (&w.waiting);
  if (!writer_connect (&w, &error))
    goto fail;
  /* Each read takes what is there: one round trip per batch of lines. */
  for (;;)
    {
      ssize_t n = read (STDIN_FILENO, buf, sizeof buf);
      const char *p, *nl;

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      g_string_append_len (partial, buf, n);
      p = partial->str;
      while ((nl = memchr (p, '\n', partial->str + partial->len - p)) != NULL)
        {
          if (nl > p)
            g_queue_push_tail (&w.waiting, g_strndup (p, nl - p));
          p = nl + 1;
        }
      g_string_erase (partial, 0, p - partial->str);
      if (!writer_flush (&w, &error))
        goto fail;
    }
  if (partial->len > 0)
    g_queue_push_tail (&w.waiting, g_strdup (partial->str));
  if (!writer_flush (&w, &error))
    goto fail;
  if (ttl > 0)
    {
      redisReply *r = redisCommand (w.c, "EXPIRE %s %u", w.key, ttl);

      if (r)
        freeReplyObject (r);
    }
  writer_drop (&w);
  g_free (w.key);
  return 0;

fail:
  g_printerr ("orrery: the journal stream at %s: %s\n", url->shown, error->message);
  writer_drop (&w);
  g_free (w.key);
  return 1;
}

/* ---------------------------------------------------------------- read */

typedef struct
{
  int      fd;
  gint64   last_seq;
  gboolean header;
  gboolean ended;
} Output;

static gboolean
write_all (int         fd,
           const char *data,
           size_t      len)
{
  while (len > 0)
    {
      ssize_t n = write (fd, data, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      data += n;
      len -= n;
    }
  return TRUE;
}

/* One entry's line to the file, unless its seq was written already. */
static gboolean
output_entry (Output           *out,
              const redisReply *fields,
              GError          **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  const char *line = NULL;
  size_t len = 0;
  JsonObject *o;
  gint64 seq;

  if (fields->type != REDIS_REPLY_ARRAY)
    return TRUE;
  for (size_t i = 0; i + 1 < fields->elements; i += 2)
    if (fields->element[i]->type == REDIS_REPLY_STRING &&
        g_str_equal (fields->element[i]->str, "line") &&
        fields->element[i + 1]->type == REDIS_REPLY_STRING)
      {
        line = fields->element[i + 1]->str;
        len = fields->element[i + 1]->len;
      }
  if (line == NULL || !json_parser_load_from_data (parser, line, len, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error (error, REDIS_ERROR, REDIS_ERROR_BAD_RECORD,
                   "an entry of the stream is not a journal line");
      return FALSE;
    }
  o = json_node_get_object (json_parser_get_root (parser));
  seq = json_object_get_int_member_with_default (o, "seq", 0);
  if (seq != 0 && seq <= out->last_seq)
    return TRUE;   /* sent twice across a reconnect */
  out->last_seq = seq;
  if (!write_all (out->fd, line, len) || !write_all (out->fd, "\n", 1))
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "cannot write: %s",
                   g_strerror (errno));
      return FALSE;
    }
  out->header = TRUE;
  {
    const char *type = json_object_get_string_member_with_default (o, "type", "");

    out->ended = g_str_equal (type, "constellation-completed") ||
                 g_str_equal (type, "constellation-failed") ||
                 g_str_equal (type, "constellation-cancelled");
  }
  return TRUE;
}

/* Entries ([[id, fields], ...]) to the file; updates @last_id. */
static gboolean
output_entries (Output            *out,
                const redisReply  *entries,
                char             **last_id,
                GError           **error)
{
  for (size_t i = 0; i < entries->elements; i++)
    {
      const redisReply *e = entries->element[i];

      if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
          e->element[0]->type != REDIS_REPLY_STRING)
        continue;
      g_free (*last_id);
      *last_id = g_strdup (e->element[0]->str);
      if (!output_entry (out, e->element[1], error))
        return FALSE;
    }
  return TRUE;
}

static int
cmd_read (const RedisUrl *url,
          const char     *run_id,
          const char     *output,
          gboolean        follow)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *key = g_strdup_printf ("orrery:run:%s:journal", run_id);
  g_autofree char *last_id = g_strdup ("-");
  Output out = { -1, 0, FALSE, FALSE };
  redisContext *c = connect_sync (url, &error);
  gboolean told_ready = FALSE;

  if (c == NULL)
    goto fail;
#ifdef __linux__
  /* Following for an `orrery watch`: not a moment longer than it. */
  if (follow && (prctl (PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid () == 1))
    goto done_early;
#endif
  out.fd = open (output, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (out.fd < 0)
    {
      g_set_error (&error, G_IO_ERROR, g_io_error_from_errno (errno), "%s: %s", output,
                   g_strerror (errno));
      goto fail;
    }
  /* Following: the file is ours as a journal's writer's (the lock an
   * OrreryJournal holds, see docs/journal.md) until the run's end record is
   * in it or this process ends, so `orrery watch` learns from the lock's
   * release that no more is coming. Taken before `ready` is printed. */
  if (follow)
    {
      struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };

      if (fcntl (out.fd, F_OFD_SETLK, &lk) < 0 && (errno == EAGAIN || errno == EACCES))
        {
          g_set_error (&error, G_IO_ERROR, g_io_error_from_errno (errno),
                       "%s: another process is writing it", output);
          goto fail;
        }
    }
  /* What is there: XRANGE in pages. */
  for (;;)
    {
      g_autofree char *start = g_str_equal (last_id, "-") ? g_strdup ("-")
                                                          : g_strdup_printf ("(%s", last_id);
      redisReply *r = redisCommand (c, "XRANGE %s %s + COUNT 1000", key, start);
      gboolean more;

      if (r == NULL || r->type != REDIS_REPLY_ARRAY)
        {
          g_set_error (&error, REDIS_ERROR, REDIS_ERROR_REPLY, "XRANGE %s: %s", key,
                       r ? (r->str ? r->str : "unexpected reply") : c->errstr);
          if (r)
            freeReplyObject (r);
          goto fail;
        }
      more = r->elements == 1000;
      if (!output_entries (&out, r, &last_id, &error))
        {
          freeReplyObject (r);
          goto fail;
        }
      freeReplyObject (r);
      if (!more)
        break;
    }
  if (!follow)
    {
      if (!out.header)
        {
          g_set_error (&error, REDIS_ERROR, REDIS_ERROR_REPLY,
                       "no journal of run “%s” (no stream %s)", run_id, key);
          goto fail;
        }
      goto done;
    }
  if (g_str_equal (last_id, "-"))
    {
      g_free (last_id);
      last_id = g_strdup ("0-0");
    }
  /* Follow until the run's terminal record. */
  while (!out.ended)
    {
      redisReply *r;

      if (out.header && !told_ready)
        {
          printf ("ready\n");
          fflush (stdout);
          told_ready = TRUE;
        }
      r = redisCommand (c, "XREAD BLOCK 1000 STREAMS %s %s", key, last_id);
      if (r == NULL)
        {
          /* The connection broke (a restart): again, from where it was. */
          g_autoptr(GError) again = NULL;

          redisFree (c);
          g_usleep (500 * 1000);
          c = connect_sync (url, &again);
          if (c == NULL)
            {
              g_propagate_error (&error, g_steal_pointer (&again));
              goto fail;
            }
          continue;
        }
      if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
          r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2 &&
          !output_entries (&out, r->element[0]->element[1], &last_id, &error))
        {
          freeReplyObject (r);
          goto fail;
        }
      freeReplyObject (r);
    }
  if (!told_ready)
    {
      printf ("ready\n");
      fflush (stdout);
    }

done:
  close (out.fd);
#ifdef __linux__
done_early:
#endif
  redisFree (c);
  return 0;

fail:
  g_printerr ("orrery: the journal stream at %s: %s\n", url->shown, error->message);
  if (out.fd >= 0)
    close (out.fd);
  if (c)
    redisFree (c);
  return 2;
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *run_id = NULL;
  g_autofree char *output = NULL;
  gint64 maxlen = 0;
  gint ttl = 0, unreachable = 60;
  gboolean follow = FALSE;
  GOptionEntry entries[] = {
    { "run", 0, 0, G_OPTION_ARG_STRING, &run_id, "The run", "RUN_ID" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "read: the journal file", "FILE" },
    { "follow", 'f', 0, G_OPTION_ARG_NONE, &follow, "read: until the run ends", NULL },
    { "maxlen", 0, 0, G_OPTION_ARG_INT64, &maxlen, "write: trim to about N records", "N" },
    { "ttl", 0, 0, G_OPTION_ARG_INT, &ttl, "write: the stream expires SEC after the run", "SEC" },
    { "unreachable-sec", 0, 0, G_OPTION_ARG_INT, &unreachable,
      "write: give up after Redis was away this long", "SEC" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("write|read URL — a journal on a Redis stream");
  g_autoptr(GError) error = NULL;
  g_autoptr(RedisUrl) url = NULL;

  setlocale (LC_ALL, "");
  g_log_set_writer_func (orrery_log_writer_escaped, NULL, NULL);
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("orrery-redis-journal: %s\n", error->message);
      return 2;
    }
  if (argc != 3 || run_id == NULL || *run_id == '\0' || strlen (run_id) > REDIS_MAX_ID_BYTES ||
      strpbrk (run_id, " \n\r\t") != NULL || maxlen < 0 || ttl < 0 || unreachable < 1)
    {
      g_printerr ("orrery-redis-journal: write|read URL --run RUN_ID (see --help)\n");
      return 2;
    }
  url = redis_url_parse (argv[2], &error);
  if (url == NULL)
    {
      g_printerr ("orrery: %s\n", error->message);
      return 2;
    }
  if (g_str_equal (argv[1], "write"))
    return cmd_write (url, run_id, (guint64) maxlen, (guint) ttl, (guint) unreachable);
  if (g_str_equal (argv[1], "read") && output != NULL)
    return cmd_read (url, run_id, output, follow);
  g_printerr ("orrery-redis-journal: write|read URL --run RUN_ID (read needs --output FILE)\n");
  return 2;
}
