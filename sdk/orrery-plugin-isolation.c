/* orrery-plugin-isolation.c: a plugin in a helper process.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The host starts `orrery-plugin-host` with two descriptors: 3, its end of
 * a socket pair, and 4, the sealed private copy (memfd) of the plugin's
 * bytes that passed the trust check; a shared page (descriptor 5) where
 * the child writes, before each event it hands the plugin, which event it
 * is (so a crash names it exactly). The child dlopens /proc/self/fd/4,
 * never the path.
 *
 * The wire: frames of a 12-byte header (body size, kind, id; native
 * order: both ends are one machine) and a body that is a serialised
 * GVariant of a type fixed per kind (GVariant's serialisation, the one
 * GDBus uses on the wire, without a bus: the host checks the type, the
 * size and the normal form of everything it reads). Bodies are at most
 * MAX_BODY bytes. A message from the child answers something the host
 * sent, or is a call of the plugin on the host (a hold, a release, a
 * cancel, a log line...): calls are charged to a budget (CALL_BUDGET a
 * second and CALLS_PER_EVENT per event sent, at most CALL_BURST saved up)
 * and at most MAX_HOLDS holds stand at once; past either, or on anything
 * else, the child is killed. The host trusts no count or length from the
 * child: every id is looked up, every size checked against what it read.
 *
 *   host -> child   INIT (sa(sss)b)       name, every key of the configuration,
 *                                         whether there is an orchestrator
 *                   EVENT (ay)            one event record (see RecordHead) for a
 *                                         sync observer
 *                   BATCH (ay)            queued event records, in bus order
 *                   SHUTDOWN ()
 *                   EXPIRED () id=hold    the host's hold behind it expired
 *                   CONSTELLATION (s)     the constellation of the events that follow, as
 *                                         JSON (as the run starts, after each edit;
 *                                         empty: too large, none): the child keeps a
 *                                         copy, brought up to date by the status
 *                                         records in front of the events (CLASS_STATUS)
 *                   REPLY (b) id=query    the orchestrator is running
 *   child -> host   OBSERVER (sauuuu)     name, types, mode, queue limit, deadline
 *                   INIT_DONE (bs)        init succeeded, or its message
 *                   ACK_OK (ay, empty)    a sync event handled
 *                   ACK (bs)              a sync event handled, or its error
 *                   BATCH_ACK (u)         a batch handled
 *                   BYE ()                shutdown done
 *                   HOLD (su) id=hold     orrery_orchestrator_hold(): reason, timeout
 *                   RELEASE () id=hold    orrery_orchestrator_release()
 *                   CANCEL (s)            orrery_orchestrator_cancel()
 *                   FAIL (sis)            orrery_orchestrator_fail(): the error
 *                   QUERY () id=query     orrery_orchestrator_is_running()
 *                   EDIT EDITS id=query   orrery_constellation_apply_edits() on the
 *                                         child's copy: applied to the host's
 *                                         constellation, answered by EDITED
 *                                         (bsis@aa{sv}): ok, the error's domain,
 *                                         code and message, the modifications
 *                   LOG (sus)             a log line: domain, level, message
 *                   POST ()               (before INIT_DONE) the plugin did not ask for
 *                                         the orchestrator: its sync answers change
 *                                         nothing on the host, its task and device
 *                                         events go in batches, unawaited
 *                   AWAIT ()              it asked for it since, or edits: await again
 *
 * Both ends drain what the other sends while they wait to write, so two
 * full sockets never wait on each other.
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-Plugins"

#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmodule.h>
#include <glib-unix.h>

#include "orrery-plugin-isolation-private.h"
#include "orrery-event.h"
#include "orrery-constellation-private.h"
#include "orrery-journal-private.h"

enum {
  WIRE_INIT = 1,
  WIRE_EVENT,
  WIRE_BATCH,
  WIRE_SHUTDOWN,
  WIRE_EXPIRED,
  WIRE_REPLY,
  WIRE_CONSTELLATION,
  WIRE_EDITED,
  WIRE_OBSERVER = 16,
  WIRE_INIT_DONE,
  WIRE_ACK,
  WIRE_BATCH_ACK,
  WIRE_BYE,
  WIRE_HOLD,
  WIRE_RELEASE,
  WIRE_CANCEL,
  WIRE_FAIL,
  WIRE_QUERY,
  WIRE_LOG,
  WIRE_ACK_OK,
  WIRE_EDIT,
  WIRE_POST,
  WIRE_AWAIT,
};

typedef struct
{
  guint32 size;       /* of the body, without its padding */
  guint32 kind;
  guint32 id;
  guint32 reserved;   /* zero: the body starts 8-aligned */
} FrameHeader;

/* Bodies are padded to 8 bytes, so that each one is stored aligned. */
#define PADDED(n) (((gsize) (n) + 7) & ~(gsize) 7)

#define MAX_BODY        (1u << 20)       /* 1 MiB: from the child */
#define MAX_HOST_BODY   (1u << 30)       /* from the host: a constellation may be large */
#define MAX_OBSERVERS   64
#define BATCH_EVENTS    256
#define BATCH_BYTES     (64u << 10)
#define MAX_UNACKED     8                 /* batches in flight */
#define SOCKET_FD       3
#define PLUGIN_FD       4
#define PAGE_FD         5
#define MAX_HOLDS       1024              /* standing at once */
#define CALL_BUDGET     5000              /* calls a second */
#define CALLS_PER_EVENT 50                /* more for each event sent */
#define CALL_BURST      5000              /* saved up at most */
#define DRAIN_LIMIT     (16u << 20)       /* read ahead while writing */
#define MIRROR_MAX_TASKS 250000           /* larger constellations are not copied */
#define MIRROR_US_PER_TASK 100            /* more time for the answer after a copy */

#define INIT_TYPE_STRING  "(sa(sss)b)"
/* Each edit: kind, the added task as JSON, task id, from, to, dependency
 * type, condition as JSON, changes; then the task ids it answers. */
#define EDITS_TYPE_STRING "(a(ussssusa{sv})as)"
#define OBSERVER_TYPE_STRING "(sauuuu)"

/* What the child writes before each event it hands the plugin. */
typedef struct
{
  volatile guint64 sequence;
  volatile guint32 in_handler;
  char             description[244];
} SharedPage;

/* ------------------------------------------------------------------------ */
/* Events <-> GVariant */

/* CLASS_STATUS: no event, a task of the child's copy as the host's is now
 * (status, attempt, started in timestamp, ended in sequence, result,
 * error), in front of the events that follow. */
enum { CLASS_EVENT, CLASS_TASK, CLASS_CONSTELLATION, CLASS_DEVICE, CLASS_STATUS };

/* An event on the wire: a fixed head, then its strings and its optional
 * parts in the order of their flags. Strings are a guint32 length (NO_STRING
 * for NULL), the bytes and a NUL; a GVariant is its type string, a guint32
 * size and its serialised bytes. Written straight into the frame being
 * built (no allocation per event); read back with every length checked. */
typedef struct
{
  guint32 size;        /* of the whole record */
  guint32 index;       /* the observer, in the child */
  guint32 type;
  guint32 klass;
  gint64  timestamp;
  guint64 sequence;
  gint32  status;
  guint32 attempt;
  guint32 flags;
  guint32 reserved;
} RecordHead;

enum {
  R_CONSTELLATION = 1 << 0,   /* the event had one (the child attaches its copy) */
  R_DATA          = 1 << 1,
  R_RESULT        = 1 << 2,
  R_ERROR         = 1 << 3,
  R_READY         = 1 << 4,
  R_DURATION      = 1 << 5,
  R_STATISTICS    = 1 << 6,
  R_MODIFICATIONS = 1 << 7,
  R_ON            = 1 << 8,
};

#define NO_STRING G_MAXUINT32

static void
put_u32 (GByteArray *b,
         guint32     v)
{
  g_byte_array_append (b, (const guint8 *) &v, sizeof v);
}

static void
put_string (GByteArray *b,
            const char *s)
{
  gsize len = s ? strlen (s) : 0;

  put_u32 (b, s ? (guint32) len : NO_STRING);
  if (s != NULL)
    g_byte_array_append (b, (const guint8 *) s, len + 1);
}

static void
put_strv (GByteArray         *b,
          const char * const *strv)
{
  guint n = strv ? g_strv_length ((char **) strv) : 0;

  put_u32 (b, n);
  for (guint i = 0; i < n; i++)
    put_string (b, strv[i]);
}

/* Pads the record that starts at @start to a multiple of 8 bytes, with
 * zeros (what goes to the child is never uninitialised memory). */
static void
pad_record (GByteArray *b,
            guint       start)
{
  guint len = b->len;

  g_byte_array_set_size (b, start + PADDED (len - start));
  if (b->len > len)
    memset (b->data + len, 0, b->len - len);
}

static void
put_variant (GByteArray *b,
             GVariant   *v)
{
  gsize size = g_variant_get_size (v);
  guint offset;

  put_string (b, g_variant_get_type_string (v));
  put_u32 (b, (guint32) size);
  offset = b->len;
  g_byte_array_set_size (b, b->len + size);
  if (size > 0)
    memcpy (b->data + offset, g_variant_get_data (v), size);
}

/* Appends @event, for the child's observer @index, to @b. */
static void
record_append (GByteArray  *b,
               guint32      index,
               OrreryEvent *event)
{
  RecordHead head = { 0, index, (guint32) orrery_event_get_event_type (event), CLASS_EVENT,
                      orrery_event_get_timestamp (event), orrery_event_get_sequence (event),
                      0, 0, 0, 0 };
  guint start = b->len;
  GVariant *data = orrery_event_get_data (event);
  const char *id = NULL, *device = NULL;
  const GError *error = NULL;
  GVariant *result = NULL, *stats = NULL, *mods = NULL;
  const char * const *ready = NULL, *const *on = NULL;
  gdouble duration = 0;

  if (ORRERY_EVENT_IS_TASK (event))
    {
      OrreryEvent *te = event;

      head.klass = CLASS_TASK;
      id = orrery_event_get_task_id (te);
      head.status = orrery_event_get_task_status (te);
      head.attempt = orrery_event_get_attempt (te);
      device = orrery_event_get_device_id (te);
      result = orrery_event_get_result (te);
      error = orrery_event_get_error (te);
      ready = orrery_event_get_newly_ready (te);
      if (orrery_event_get_constellation (te) != NULL)
        head.flags |= R_CONSTELLATION;
    }
  else if (ORRERY_EVENT_IS_CONSTELLATION (event))
    {
      OrreryEvent *ce = event;

      head.klass = CLASS_CONSTELLATION;
      id = orrery_event_get_constellation_id (ce);
      head.status = orrery_event_get_constellation_state (ce);
      duration = orrery_event_get_duration (ce);
      stats = orrery_event_get_statistics (ce);
      mods = orrery_event_get_modifications (ce);
      ready = orrery_event_get_newly_ready (ce);
      on = orrery_event_get_on_task_ids (ce);
      head.flags |= R_DURATION;
      if (orrery_event_get_constellation (ce) != NULL)
        head.flags |= R_CONSTELLATION;
    }
  else if (ORRERY_EVENT_IS_DEVICE (event))
    {
      OrreryEvent *de = event;

      head.klass = CLASS_DEVICE;
      id = orrery_event_get_device_id (de);
      head.status = orrery_event_get_device_status (de);
    }
  head.flags |= (data ? R_DATA : 0) | (result ? R_RESULT : 0) | (error ? R_ERROR : 0) |
                (ready ? R_READY : 0) | (stats ? R_STATISTICS : 0) |
                (mods ? R_MODIFICATIONS : 0) | (on ? R_ON : 0);

  g_byte_array_append (b, (const guint8 *) &head, sizeof head);
  put_string (b, orrery_event_get_source_id (event));
  put_string (b, id);
  put_string (b, device);
  if (data != NULL)
    put_variant (b, data);
  if (result != NULL)
    put_variant (b, result);
  if (error != NULL)
    {
      gint32 code = error->code;

      put_string (b, g_quark_to_string (error->domain));
      g_byte_array_append (b, (const guint8 *) &code, sizeof code);
      put_string (b, error->message);
    }
  if (ready != NULL)
    put_strv (b, ready);
  if (head.flags & R_DURATION)
    g_byte_array_append (b, (const guint8 *) &duration, sizeof duration);
  if (stats != NULL)
    put_variant (b, stats);
  if (mods != NULL)
    put_variant (b, mods);
  if (on != NULL)
    put_strv (b, on);
  /* Each record starts 8-aligned. */
  pad_record (b, start);
  head.size = b->len - start;
  memcpy (b->data + start, &head.size, sizeof head.size);
}

/* Appends a CLASS_STATUS record of @task (the host's) to @b. */
static void
status_append (GByteArray *b,
               OrreryTask *task)
{
  RecordHead head = { 0, 0, 0, CLASS_STATUS, orrery_task_get_started_at (task),
                      (guint64) orrery_task_get_ended_at (task), orrery_task_get_status (task),
                      orrery_task_get_attempt (task), 0, 0 };
  guint start = b->len;
  GVariant *result = orrery_task_get_result (task);
  const GError *error = orrery_task_get_error (task);

  head.flags = (result ? R_RESULT : 0) | (error ? R_ERROR : 0);
  g_byte_array_append (b, (const guint8 *) &head, sizeof head);
  put_string (b, NULL);
  put_string (b, orrery_task_get_id (task));
  put_string (b, NULL);
  if (result != NULL)
    put_variant (b, result);
  if (error != NULL)
    {
      gint32 code = error->code;

      put_string (b, g_quark_to_string (error->domain));
      g_byte_array_append (b, (const guint8 *) &code, sizeof code);
      put_string (b, error->message);
    }
  pad_record (b, start);
  head.size = b->len - start;
  memcpy (b->data + start, &head.size, sizeof head.size);
}

/* A cursor over a record, every read bounds-checked. */
typedef struct
{
  const guint8 *p;
  const guint8 *end;
  gboolean      bad;
} Reader;

static gboolean
take (Reader  *r,
      void    *out,
      gsize    n)
{
  if (r->bad || (gsize) (r->end - r->p) < n)
    {
      r->bad = TRUE;
      return FALSE;
    }
  memcpy (out, r->p, n);
  r->p += n;
  return TRUE;
}

/* A string in the record itself (NULL for none, or on a bad record). */
static const char *
take_string (Reader *r)
{
  guint32 len = 0;
  const char *s;

  if (!take (r, &len, sizeof len) || len == NO_STRING)
    return NULL;
  if ((gsize) (r->end - r->p) < (gsize) len + 1 || r->p[len] != '\0')
    {
      r->bad = TRUE;
      return NULL;
    }
  s = (const char *) r->p;
  r->p += (gsize) len + 1;
  return s;
}

/* NULL-terminated, pointing into the record (free the array only). */
static const char **
take_strv (Reader *r)
{
  guint32 n = 0;
  const char **strv;

  if (!take (r, &n, sizeof n) || n > (gsize) (r->end - r->p) / 5)
    {
      r->bad = TRUE;
      return NULL;
    }
  strv = g_new0 (const char *, n + 1);
  for (guint32 i = 0; i < n && !r->bad; i++)
    strv[i] = take_string (r);
  return strv;
}

static GVariant *
take_variant (Reader *r)
{
  const char *type = take_string (r);
  guint32 size = 0;
  gpointer copy;
  GVariant *v;

  if (type == NULL || !g_variant_type_string_is_valid (type) || !take (r, &size, sizeof size) ||
      (gsize) (r->end - r->p) < size)
    {
      r->bad = TRUE;
      return NULL;
    }
  /* Copied: GVariant wants its data aligned. */
  copy = g_memdup2 (r->p, size);
  v = g_variant_new_from_data (G_VARIANT_TYPE (type), copy, size, FALSE, g_free, copy);
  r->p += size;
  return g_variant_ref_sink (v);
}

/* The child's copy of the host's constellation: a task brought up to date
 * from a CLASS_STATUS record (as the host's task is when the events that
 * follow it are sent: what an observer in process would read then). */
static void
mirror_status (OrreryConstellation *mirror,
               const char          *id,
               const RecordHead    *head,
               GVariant            *result,
               const GError        *error)
{
  OrreryTask *task = id ? orrery_constellation_get_task (mirror, id) : NULL;
  OrreryTaskStatus status = head->status;

  if (task == NULL || (guint) status > ORRERY_TASK_STATUS_SKIPPED)
    return;
  if (orrery_task_get_status (task) != status)
    _orrery_constellation_set_status (mirror, task, status);
  orrery_task_set_attempt (task, head->attempt);
  orrery_task_set_result (task, result);
  orrery_task_set_error (task, error);
  orrery_task_set_started_at (task, head->timestamp);
  orrery_task_set_ended_at (task, (gint64) head->sequence);
}

/* Reads the record at the front of @data (@size bytes): its size in
 * *@used, the observer index, the event. NULL for a bad record (*@used 0),
 * an event of an unknown type (skipped) or a status record (*@status
 * TRUE: applied to @mirror). @mirror (nullable): the child's copy of the
 * constellation. */
static OrreryEvent *
record_read (const guint8        *data,
             gsize                size,
             gsize               *used,
             guint32             *index,
             gboolean            *status,
             OrreryConstellation *mirror)
{
  RecordHead head;
  Reader r = { data, data + size, FALSE };
  const char *source, *id, *device;
  g_autoptr(GVariant) payload = NULL;
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GVariant) stats = NULL;
  g_autoptr(GVariant) mods = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree const char **ready = NULL;
  g_autofree const char **on = NULL;
  gdouble duration = 0;
  OrreryEvent *event;

  *used = 0;
  *status = FALSE;
  if (!take (&r, &head, sizeof head) || head.size < sizeof head || head.size > size)
    return NULL;
  r.end = data + head.size;
  source = take_string (&r);
  id = take_string (&r);
  device = take_string (&r);
  if (head.flags & R_DATA)
    payload = take_variant (&r);
  if (head.flags & R_RESULT)
    result = take_variant (&r);
  if (head.flags & R_ERROR)
    {
      const char *domain = take_string (&r);
      gint32 code = 0;
      const char *message;

      take (&r, &code, sizeof code);
      message = take_string (&r);
      if (!r.bad)
        error = g_error_new_literal (g_quark_from_string (domain ? domain : "orrery-unknown"),
                                     code, message ? message : "");
    }
  if (head.flags & R_READY)
    ready = take_strv (&r);
  if (head.flags & R_DURATION)
    take (&r, &duration, sizeof duration);
  if (head.flags & R_STATISTICS)
    stats = take_variant (&r);
  if (head.flags & R_MODIFICATIONS)
    mods = take_variant (&r);
  if (head.flags & R_ON)
    on = take_strv (&r);
  if (r.bad)
    return NULL;
  *used = head.size;
  *index = head.index;
  if (head.klass == CLASS_STATUS)
    {
      *status = TRUE;
      if (mirror != NULL)
        mirror_status (mirror, id, &head, result, error);
      return NULL;
    }
  if (head.type >= ORRERY_EVENT_TYPE_COUNT)
    return NULL;

  switch (head.klass)
    {
    case CLASS_TASK:
      {
        OrreryEvent *te = orrery_event_new_task (head.type, source, id ? id : "", head.status);

        orrery_event_set_attempt (te, head.attempt);
        if (result != NULL)
          orrery_event_set_result (te, result);
        if (device != NULL)
          orrery_event_set_device_id (te, device);
        if (error != NULL)
          orrery_event_set_error (te, error);
        if (ready != NULL)
          orrery_event_set_newly_ready (te, ready);
        if (mirror != NULL && (head.flags & R_CONSTELLATION))
          orrery_event_set_constellation (te, mirror);
        event = te;
        break;
      }
    case CLASS_CONSTELLATION:
      {
        OrreryEvent *ce =
          orrery_event_new_constellation (head.type, source, id ? id : "", head.status);

        orrery_event_set_duration (ce, duration);
        if (stats != NULL)
          orrery_event_set_statistics (ce, stats);
        if (mods != NULL)
          orrery_event_set_modifications (ce, mods);
        if (ready != NULL)
          orrery_event_set_newly_ready (ce, ready);
        if (on != NULL)
          orrery_event_set_on_task_ids (ce, on);
        if (mirror != NULL && (head.flags & R_CONSTELLATION))
          {
            orrery_constellation_set_state (mirror, head.status);
            orrery_event_set_constellation (ce, mirror);
          }
        event = ce;
        break;
      }
    case CLASS_DEVICE:
      event = orrery_event_new_device (head.type, source, id ? id : "", head.status);
      break;
    default:
      event = orrery_event_new (head.type, source, NULL);
      break;
    }
  if (payload != NULL)
    orrery_event_set_data (event, payload);
  _orrery_event_set_timestamp (event, head.timestamp);
  _orrery_event_seal (event, head.sequence);
  return event;
}

/* "task-completed build" into @buf (no allocation). */
static void
describe_event_into (OrreryEvent *event,
                     char        *buf,
                     gsize        size)
{
  const char *id = NULL;

  if (ORRERY_EVENT_IS_TASK (event))
    id = orrery_event_get_task_id (event);
  else if (ORRERY_EVENT_IS_CONSTELLATION (event))
    id = orrery_event_get_constellation_id (event);
  else if (ORRERY_EVENT_IS_DEVICE (event))
    id = orrery_event_get_device_id (event);
  else
    id = orrery_event_get_source_id (event);
  /* Before each event the child hands its plugin: copied, not formatted. */
  {
    const char *nick = orrery_event_get_type_nick (event);
    gsize n = MIN (strlen (nick), size - 1);
    gsize m;

    memcpy (buf, nick, n);
    if (id != NULL && *id != '\0' && n + 1 < size - 1)
      {
        buf[n++] = ' ';
        m = MIN (strlen (id), size - 1 - n);
        memcpy (buf + n, id, m);
        n += m;
      }
    buf[n] = '\0';
  }
}

/* "task-completed build" */
static char *
describe_event (OrreryEvent *event)
{
  const char *id = NULL;

  if (ORRERY_EVENT_IS_TASK (event))
    id = orrery_event_get_task_id (event);
  else if (ORRERY_EVENT_IS_CONSTELLATION (event))
    id = orrery_event_get_constellation_id (event);
  else if (ORRERY_EVENT_IS_DEVICE (event))
    id = orrery_event_get_device_id (event);
  else
    id = orrery_event_get_source_id (event);
  return g_strdup_printf ("%s%s%s", orrery_event_get_type_nick (event), id && *id ? " " : "",
                          id ? id : "");
}

/* ------------------------------------------------------------------------ */
/* Frames */

static void
frame_append (GByteArray *out,
              guint32     kind,
              guint32     id,
              GVariant   *body)
{
  FrameHeader header = { 0, kind, id, 0 };
  g_autoptr(GVariant) sunk = body ? g_variant_ref_sink (body) : NULL;
  gsize size = sunk ? g_variant_get_size (sunk) : 0;
  guint offset;

  header.size = (guint32) size;
  g_byte_array_append (out, (const guint8 *) &header, sizeof header);
  offset = out->len;
  g_byte_array_set_size (out, out->len + PADDED (size));
  if (size > 0)
    {
      /* GVariant stores into aligned memory only. */
      if (((gsize) (out->data + offset) & 7) == 0)
        g_variant_store (sunk, out->data + offset);
      else
        memcpy (out->data + offset, g_variant_get_data (sunk), size);
      memset (out->data + offset + size, 0, PADDED (size) - size);
    }
}

static gboolean read_some (int fd, GByteArray *in);

/* Writes all of @data to @fd (non-blocking) within @deadline_us
 * (monotonic; 0: no limit), reading what the other end sends meanwhile
 * into @drain (up to DRAIN_LIMIT), so that it never blocks on us. FALSE
 * with errno (ETIMEDOUT) on failure. */
static gboolean
write_all (int           fd,
           const guint8 *data,
           gsize         size,
           gint64        deadline_us,
           GByteArray   *drain)
{
  while (size > 0)
    {
      ssize_t n = send (fd, data, size, MSG_NOSIGNAL);

      if (n > 0)
        {
          data += n;
          size -= n;
          continue;
        }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        {
          gboolean draining = drain != NULL && drain->len < DRAIN_LIMIT;
          struct pollfd pfd = { fd, POLLOUT | (draining ? POLLIN : 0), 0 };
          int timeout = -1;

          if (deadline_us > 0)
            {
              gint64 left = deadline_us - g_get_monotonic_time ();

              if (left <= 0)
                {
                  errno = ETIMEDOUT;
                  return FALSE;
                }
              timeout = (int) MAX (1, left / 1000);
            }
          if (poll (&pfd, 1, timeout) < 0 && errno != EINTR)
            return FALSE;
          if (draining && (pfd.revents & POLLIN))
            read_some (fd, drain);
          continue;
        }
      if (n == 0)
        errno = EPIPE;
      return FALSE;
    }
  return TRUE;
}

static const GVariantType *child_type_of (guint32 kind);

typedef enum {
  READ_OK,       /* a frame */
  READ_AGAIN,    /* no whole frame yet */
  READ_BAD,      /* garbage: *why says what */
} ReadStatus;

/* Takes one frame from the front of @in: its kind, id and body (checked
 * against the type of its kind by @type_of). */
static ReadStatus
frame_take (GByteArray          *in,
            guint32             *kind,
            guint32             *id,
            GVariant           **body,
            const GVariantType *(*type_of) (guint32 kind),
            char               **why)
{
  FrameHeader header;
  const GVariantType *type;
  g_autoptr(GBytes) bytes = NULL;
  GVariant *v;

  guint32 limit = type_of == child_type_of ? MAX_HOST_BODY : MAX_BODY;

  if (in->len < sizeof header)
    return READ_AGAIN;
  memcpy (&header, in->data, sizeof header);
  if (header.size > limit)
    {
      *why = g_strdup_printf ("a message of %u bytes (the limit is %u)", header.size, limit);
      return READ_BAD;
    }
  type = type_of (header.kind);
  if (type == NULL)
    {
      *why = g_strdup_printf ("a message of unknown kind %u", header.kind);
      return READ_BAD;
    }
  if (in->len < sizeof header + PADDED (header.size))
    return READ_AGAIN;
  bytes = g_bytes_new (in->data + sizeof header, header.size);
  g_byte_array_remove_range (in, 0, sizeof header + PADDED (header.size));
  v = g_variant_new_from_bytes (type, bytes, FALSE);
  /* Any bytes are an `ay` in normal form (GLib would check each byte). */
  if (!g_variant_type_equal (type, G_VARIANT_TYPE_BYTESTRING) && !g_variant_is_normal_form (v))
    {
      g_variant_unref (g_variant_ref_sink (v));
      *why = g_strdup_printf ("a malformed message of kind %u", header.kind);
      return READ_BAD;
    }
  *kind = header.kind;
  *id = header.id;
  *body = g_variant_ref_sink (v);
  return READ_OK;
}

/* Reads what is there (non-blocking) into @in: FALSE at end of file or on
 * an error. */
static gboolean
read_some (int         fd,
           GByteArray *in)
{
  for (;;)
    {
      guint8 buf[65536];
      ssize_t n = recv (fd, buf, sizeof buf, MSG_DONTWAIT);

      if (n > 0)
        {
          g_byte_array_append (in, buf, n);
          if ((gsize) n < sizeof buf || in->len > DRAIN_LIMIT)
            return TRUE;
          continue;
        }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return TRUE;
      return FALSE;
    }
}

static const GVariantType *
host_type_of (guint32 kind)
{
  switch (kind)
    {
    case WIRE_OBSERVER: return G_VARIANT_TYPE (OBSERVER_TYPE_STRING);
    case WIRE_INIT_DONE: return G_VARIANT_TYPE ("(bs)");
    case WIRE_ACK: return G_VARIANT_TYPE ("(bs)");
    case WIRE_ACK_OK: return G_VARIANT_TYPE_BYTESTRING;
    case WIRE_BATCH_ACK: return G_VARIANT_TYPE ("(u)");
    case WIRE_BYE: return G_VARIANT_TYPE_UNIT;
    case WIRE_HOLD: return G_VARIANT_TYPE ("(su)");
    case WIRE_RELEASE: return G_VARIANT_TYPE_UNIT;
    case WIRE_CANCEL: return G_VARIANT_TYPE ("(s)");
    case WIRE_FAIL: return G_VARIANT_TYPE ("(sis)");
    case WIRE_QUERY: return G_VARIANT_TYPE_UNIT;
    case WIRE_LOG: return G_VARIANT_TYPE ("(sus)");
    case WIRE_EDIT: return G_VARIANT_TYPE (EDITS_TYPE_STRING);
    case WIRE_POST: return G_VARIANT_TYPE_UNIT;
    case WIRE_AWAIT: return G_VARIANT_TYPE_UNIT;
    default: return NULL;
    }
}

static const GVariantType *
child_type_of (guint32 kind)
{
  switch (kind)
    {
    case WIRE_INIT: return G_VARIANT_TYPE (INIT_TYPE_STRING);
    case WIRE_EVENT: return G_VARIANT_TYPE_BYTESTRING;
    case WIRE_BATCH: return G_VARIANT_TYPE_BYTESTRING;
    case WIRE_SHUTDOWN: return G_VARIANT_TYPE_UNIT;
    case WIRE_EXPIRED: return G_VARIANT_TYPE_UNIT;
    case WIRE_REPLY: return G_VARIANT_TYPE ("(b)");
    case WIRE_CONSTELLATION: return G_VARIANT_TYPE ("(s)");
    case WIRE_EDITED: return G_VARIANT_TYPE ("(bsisaa{sv})");
    default: return NULL;
    }
}

/* ------------------------------------------------------------------------ */
/* The host side */

typedef struct
{
  OrreryIsolatedPlugin *plugin;   /* a reference */
  guint32               index;    /* in the child */
  OrreryDeliveryMode    mode;
} Proxy;

struct _OrreryIsolatedPlugin
{
  OrreryPluginContext *context;
  char                *name;
  char                *file;
  GPid                 pid;
  int                  sock;
  SharedPage          *page;
  guint                watch_id;
  guint                deadline_ms;
  guint                copy_ms;      /* the child reads a copy: more for its next answer */

  GByteArray          *in;
  GByteArray          *out;          /* the frame being written (reused) */
  GByteArray          *batch;        /* the records of the next BATCH (reused) */
  GByteArray          *scratch;      /* a sync event's record (reused) */
  guint                n_batched;
  guint                flush_id;
  guint32              batch_serial;
  guint                n_unacked;
  guint                unacked_timer;
  guint64              first_unacked_sequence;

  gboolean             waiting_ack;
  gboolean             posting;      /* sync task/device events go unawaited (POST) */
  gboolean             got_ack;
  gboolean             ack_ok;
  char                *ack_message;
  gboolean             init_done;
  gboolean             init_ok;
  char                *init_message;
  gboolean             bye;

  OrreryEvent         *last_event;   /* the last one sent (for a failure's reason) */

  OrreryConstellation *mirrored;     /* sent to the child, at this version */
  guint64              mirrored_version;
  gboolean             mirror_refused;
  gboolean             mirror_said;  /* the refusal was logged */
  GHashTable          *dirty;        /* ids of tasks changed since the child was told */
  GByteArray          *statuses;     /* their CLASS_STATUS records (reused) */
  gboolean             tracking;     /* the tracker observer is added */

  /* The plugin's calls on the host's orchestrator. */
  OrreryOrchestrator  *orch;         /* nullable */
  gulong               expired_id;
  GHashTable          *holds;        /* child's hold id -> OrreryHold */
  GPtrArray           *calls;        /* of Call, to run from calls_idle */
  guint                calls_idle;
  gboolean             direct;       /* calls may act at once (see plugin_call) */
  gboolean             drained;      /* @in got bytes while writing: pump it */
  guint                pump_idle;
  gdouble              call_tokens;
  gint64               tokens_at;

  gboolean             dead;
  GError              *failure;
  guint                failed_idle;
  OrreryIsolatedFailedFunc func;
  gpointer             user_data;
};

/* A call of the plugin that may dispatch or publish, kept for a moment
 * when it arrives while the host waits inside its own bookkeeping. */
typedef struct
{
  guint32     kind;
  OrreryHold *hold;       /* RELEASE */
  char       *reason;     /* CANCEL */
  GError     *error;      /* FAIL */
} Call;

static void
call_free (gpointer data)
{
  Call *call = data;

  g_clear_pointer (&call->hold, orrery_hold_unref);
  g_free (call->reason);
  g_clear_error (&call->error);
  g_free (call);
}

static void
call_run (OrreryOrchestrator *orch,
          Call               *call)
{
  switch (call->kind)
    {
    case WIRE_RELEASE:
      orrery_orchestrator_release (orch, call->hold);
      break;
    case WIRE_CANCEL:
      orrery_orchestrator_cancel (orch, call->reason);
      break;
    case WIRE_FAIL:
      orrery_orchestrator_fail (orch, call->error);
      break;
    default:
      g_assert_not_reached ();
    }
}

/* Runs the calls kept, in their order. */
static void
plugin_run_calls (OrreryIsolatedPlugin *self)
{
  g_clear_handle_id (&self->calls_idle, g_source_remove);
  while (self->calls->len > 0 && self->orch != NULL)
    {
      g_autoptr(GPtrArray) calls = g_steal_pointer (&self->calls);
      g_autoptr(OrreryOrchestrator) orch = g_object_ref (self->orch);

      self->calls = g_ptr_array_new_with_free_func (call_free);
      for (guint i = 0; i < calls->len; i++)
        call_run (orch, calls->pdata[i]);
    }
}

static gboolean
calls_idle_cb (gpointer user_data)
{
  OrreryIsolatedPlugin *self = user_data;

  self->calls_idle = 0;
  plugin_run_calls (self);
  return G_SOURCE_REMOVE;
}

/* Releases what the plugin still holds on the host (it is gone, or going). */
static void
plugin_release_holds (OrreryIsolatedPlugin *self)
{
  g_autoptr(GPtrArray) holds = NULL;
  GHashTableIter iter;
  gpointer value;

  if (self->holds == NULL || g_hash_table_size (self->holds) == 0)
    return;
  holds = g_ptr_array_new_with_free_func ((GDestroyNotify) orrery_hold_unref);
  /* Out of the table first: a release may dispatch and come back here. */
  g_hash_table_iter_init (&iter, self->holds);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      g_ptr_array_add (holds, value);
      g_hash_table_iter_steal (&iter);
    }
  g_debug ("Isolated plugin “%s”: releasing its %u holds", self->name, holds->len);
  for (guint i = 0; i < holds->len && self->orch != NULL; i++)
    orrery_orchestrator_release (self->orch, holds->pdata[i]);
}

static void
plugin_clear (OrreryIsolatedPlugin *self)
{
  g_clear_handle_id (&self->watch_id, g_source_remove);
  g_clear_handle_id (&self->flush_id, g_source_remove);
  g_clear_handle_id (&self->unacked_timer, g_source_remove);
  g_clear_handle_id (&self->failed_idle, g_source_remove);
  plugin_run_calls (self);
  plugin_release_holds (self);
  g_clear_handle_id (&self->calls_idle, g_source_remove);
  g_clear_handle_id (&self->pump_idle, g_source_remove);
  if (self->orch != NULL)
    g_clear_signal_handler (&self->expired_id, self->orch);
  g_clear_object (&self->orch);
  g_clear_object (&self->mirrored);
  g_clear_pointer (&self->dirty, g_hash_table_unref);
  g_clear_pointer (&self->statuses, g_byte_array_unref);
  g_clear_pointer (&self->holds, g_hash_table_unref);
  g_clear_pointer (&self->calls, g_ptr_array_unref);
  if (self->sock >= 0)
    close (self->sock);
  if (self->page != NULL)
    munmap (self->page, sizeof (SharedPage));
  g_byte_array_unref (self->out);
  g_byte_array_unref (self->batch);
  g_byte_array_unref (self->scratch);
  g_byte_array_unref (self->in);
  g_free (self->name);
  g_free (self->file);
  g_free (self->ack_message);
  g_free (self->init_message);
  g_clear_pointer (&self->last_event, orrery_event_unref);
  g_clear_error (&self->failure);
}

static OrreryIsolatedPlugin *
plugin_ref (OrreryIsolatedPlugin *self)
{
  return g_rc_box_acquire (self);
}

static void
plugin_unref (OrreryIsolatedPlugin *self)
{
  g_rc_box_release_full (self, (GDestroyNotify) plugin_clear);
}

/* Reaps the child: waits up to @wait_ms for it to end by itself, then
 * kills it. The status, or -1 if it could not be had. */
static int
reap (OrreryIsolatedPlugin *self,
      guint                 wait_ms)
{
  gint64 until = g_get_monotonic_time () + (gint64) wait_ms * 1000;
  int status = -1;

  if (self->pid <= 0)
    return -1;
  for (;;)
    {
      pid_t r = waitpid (self->pid, &status, WNOHANG);

      if (r == self->pid)
        break;
      if (r < 0 && errno != EINTR)
        {
          status = -1;
          break;
        }
      if (g_get_monotonic_time () >= until)
        {
          kill (self->pid, SIGKILL);
          while (waitpid (self->pid, &status, 0) < 0 && errno == EINTR)
            ;
          break;
        }
      g_usleep (1000);
    }
  self->pid = 0;
  return status;
}

static char *
signal_name (int sig)
{
  const char *abbrev = sigabbrev_np (sig);

  return abbrev ? g_strconcat ("SIG", abbrev, NULL) : g_strdup_printf ("signal %d", sig);
}

/* " at event 42, task-completed build" (the one the child was handling,
 * from the shared page; else the last one sent). */
static char *
where (OrreryIsolatedPlugin *self)
{
  if (self->page != NULL && self->page->in_handler)
    {
      char desc[sizeof self->page->description + 1];

      memcpy (desc, (const char *) self->page->description, sizeof self->page->description);
      desc[sizeof desc - 1] = '\0';
      return g_strdup_printf (" at event %" G_GUINT64_FORMAT ", %s", self->page->sequence, desc);
    }
  if (!self->init_done)
    return g_strdup (" in init");
  if (self->last_event != NULL)
    {
      g_autofree char *desc = describe_event (self->last_event);

      return g_strdup_printf (" after event %" G_GUINT64_FORMAT ", %s",
                              orrery_event_get_sequence (self->last_event), desc);
    }
  return g_strdup (" before any event");
}

static gboolean
failed_idle_cb (gpointer user_data)
{
  OrreryIsolatedPlugin *self = user_data;

  self->failed_idle = 0;
  plugin_run_calls (self);
  plugin_release_holds (self);
  if (self->func != NULL)
    self->func (self, self->failure, self->user_data);
  return G_SOURCE_REMOVE;
}

/* The child is gone or must go: kills and reaps it, builds the coded
 * reason, tells the engine from an idle. @code: TIMED_OUT or PROTOCOL (the
 * child is killed, @detail says why), or EXITED (it closed the socket: the
 * status says whether it crashed). */
static void
plugin_die (OrreryIsolatedPlugin *self,
            OrreryPluginError     code,
            const char           *detail)
{
  g_autofree char *at = NULL;
  g_autofree char *how = NULL;
  int status;

  if (self->dead)
    return;
  self->dead = TRUE;
  at = where (self);
  if (code != ORRERY_PLUGIN_ERROR_EXITED && self->pid > 0)
    kill (self->pid, SIGKILL);
  status = reap (self, code == ORRERY_PLUGIN_ERROR_EXITED ? 2000 : 0);
  g_clear_handle_id (&self->watch_id, g_source_remove);
  g_clear_handle_id (&self->flush_id, g_source_remove);
  g_clear_handle_id (&self->unacked_timer, g_source_remove);
  if (self->sock >= 0)
    {
      close (self->sock);
      self->sock = -1;
    }

  if (code == ORRERY_PLUGIN_ERROR_EXITED && status != -1 && WIFSIGNALED (status))
    {
      g_autofree char *sig = signal_name (WTERMSIG (status));

      code = ORRERY_PLUGIN_ERROR_CRASHED;
      how = g_strdup_printf ("crashed with %s%s", sig, at);
    }
  else if (code == ORRERY_PLUGIN_ERROR_EXITED)
    {
      if (status != -1 && WIFEXITED (status))
        how = g_strdup_printf ("exited with status %d%s", WEXITSTATUS (status), at);
      else
        how = g_strdup_printf ("closed its connection%s", at);
    }
  else
    how = g_strdup_printf ("%s%s; killed", detail, at);

  self->failure = g_error_new (ORRERY_PLUGIN_ERROR, code, "%s: isolated plugin “%s” %s",
                               self->file, self->name, how);
  g_message ("%s", self->failure->message);
  if (self->func != NULL)
    self->failed_idle = g_idle_add_full (G_PRIORITY_HIGH, failed_idle_cb, self, NULL);
}

static void
plugin_die_protocol (OrreryIsolatedPlugin *self,
                     const char           *why)
{
  g_autofree char *detail = g_strdup_printf ("sent %s", why);

  plugin_die (self, ORRERY_PLUGIN_ERROR_PROTOCOL, detail);
}

static gboolean pump_idle_cb (gpointer user_data);

/* How long the child has for its next answer: its deadline, and
 * MIRROR_US_PER_TASK a task more after a copy of the constellation. */
static guint
plugin_answer_ms (OrreryIsolatedPlugin *self)
{
  return self->deadline_ms + self->copy_ms;
}

/* Writes the frame built in self->out, within the deadline. */
static gboolean
plugin_write (OrreryIsolatedPlugin *self)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) self->deadline_ms * 1000;
  guint before;
  gboolean written;

  if (self->dead)
    return FALSE;
  before = self->in->len;
  written = write_all (self->sock, self->out->data, self->out->len, deadline, self->in);
  if (self->in->len > before)
    {
      /* Read while writing: the socket may say nothing more about it. */
      self->drained = TRUE;
      if (self->pump_idle == 0)
        self->pump_idle = g_idle_add_full (G_PRIORITY_HIGH, pump_idle_cb, self, NULL);
    }
  if (!written)
    {
      if (errno == ETIMEDOUT)
        {
          g_autofree char *detail = g_strdup_printf ("did not take its events within %u ms",
                                                     self->deadline_ms);

          plugin_die (self, ORRERY_PLUGIN_ERROR_TIMED_OUT, detail);
        }
      else
        plugin_die (self, ORRERY_PLUGIN_ERROR_EXITED, NULL);
      return FALSE;
    }
  return TRUE;
}

static gboolean
plugin_send (OrreryIsolatedPlugin *self,
             guint32               kind,
             guint32               id,
             GVariant             *body)
{
  g_byte_array_set_size (self->out, 0);
  frame_append (self->out, kind, id, body);
  return plugin_write (self);
}

/* The child's copy is kept current: the host's tasks changed since it
 * was last told, as CLASS_STATUS records into self->statuses (emptied). */
static void
plugin_take_statuses (OrreryIsolatedPlugin *self)
{
  GHashTableIter iter;
  gpointer key;

  g_byte_array_set_size (self->statuses, 0);
  if (g_hash_table_size (self->dirty) == 0)
    return;
  if (self->mirrored != NULL && !self->mirror_refused)
    {
      g_hash_table_iter_init (&iter, self->dirty);
      while (g_hash_table_iter_next (&iter, &key, NULL))
        {
          OrreryTask *task = orrery_constellation_get_task (self->mirrored, key);

          if (task != NULL)
            status_append (self->statuses, task);
        }
    }
  g_hash_table_remove_all (self->dirty);
}

/* A frame whose body is the status records of the tasks changed, then
 * @size bytes of records (a GVariant `ay` is its bytes). */
static gboolean
plugin_send_records (OrreryIsolatedPlugin *self,
                     guint32               kind,
                     guint32               id,
                     const guint8         *data,
                     gsize                 size)
{
  FrameHeader header = { 0, kind, id, 0 };
  gsize total;

  plugin_take_statuses (self);
  total = self->statuses->len + size;
  header.size = (guint32) total;
  g_byte_array_set_size (self->out, 0);
  g_byte_array_append (self->out, (const guint8 *) &header, sizeof header);
  g_byte_array_append (self->out, self->statuses->data, self->statuses->len);
  g_byte_array_append (self->out, data, size);
  g_byte_array_set_size (self->out, sizeof header + PADDED (total));
  memset (self->out->data + sizeof header + total, 0, PADDED (total) - total);
  return plugin_write (self);
}

static void proxies_from_observer (OrreryIsolatedPlugin *self, GVariant *body, guint32 index);
static gboolean unacked_timeout_cb (gpointer user_data);

/* Adds to the call budget: CALL_BUDGET a second since the last time (not
 * while a sync answer is awaited: what the child does then is charged to
 * that event, however slowly the host takes it) and CALLS_PER_EVENT for
 * each of @n_events events sent, CALL_BURST at most. */
static void
plugin_refill (OrreryIsolatedPlugin *self,
               guint                 n_events)
{
  gint64 now = g_get_monotonic_time ();

  if (!self->waiting_ack)
    self->call_tokens += (gdouble) (now - self->tokens_at) * CALL_BUDGET / G_USEC_PER_SEC;
  self->call_tokens += (gdouble) n_events * CALLS_PER_EVENT;
  self->call_tokens = MIN (self->call_tokens, CALL_BURST);
  self->tokens_at = now;
}

static void
on_hold_expired (OrreryOrchestrator *orch,
                 OrreryHold         *hold,
                 gpointer            user_data)
{
  OrreryIsolatedPlugin *self = user_data;
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, self->holds);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (value == hold)
      {
        guint32 id = GPOINTER_TO_UINT (key);

        g_hash_table_iter_steal (&iter);
        orrery_hold_unref (value);
        plugin_send (self, WIRE_EXPIRED, id, g_variant_new ("()"));
        return;
      }
}

/* A task of an edit, from the JSON the child's copy wrote: read as a
 * constellation of one, its fields copied into a task of no constellation. */
static OrreryTask *
edit_task_from_json (const char  *json,
                     GError     **error)
{
  g_autofree char *doc = g_strdup_printf ("{\"constellation_id\": \"edit\", \"tasks\": [%s]}", json);
  g_autoptr(OrreryConstellation) c = orrery_constellation_new_from_data (doc, -1, "an isolated edit",
                                                                        error);
  g_autoptr(GPtrArray) tasks = NULL;
  OrreryTask *from, *task;

  if (c == NULL)
    return NULL;
  if (orrery_constellation_get_n_tasks (c) != 1)
    {
      g_set_error (error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_BAD_VALUE,
                   "an isolated edit: not one task");
      return NULL;
    }
  tasks = orrery_constellation_get_tasks (c);
  from = g_ptr_array_index (tasks, 0);
  task = orrery_task_new (orrery_task_get_id (from), orrery_task_get_name (from));
  orrery_task_set_description (task, orrery_task_get_description (from));
  orrery_task_set_tips (task, orrery_task_get_tips (from));
  orrery_task_set_target_device_id (task, orrery_task_get_target_device_id (from));
  orrery_task_set_device_type (task, orrery_task_get_device_type (from));
  orrery_task_set_priority (task, orrery_task_get_priority (from));
  orrery_task_set_timeout (task, orrery_task_get_timeout (from));
  orrery_task_set_retry_count (task, orrery_task_get_retry_count (from));
  orrery_task_set_task_data (task, orrery_task_get_task_data (from));
  return task;
}

/* The child's edit batch, rebuilt. NULL with @error if it is not one. */
static OrreryEditBatch *
edits_from_variant (GVariant  *body,
                    GError   **error)
{
  g_autoptr(OrreryEditBatch) batch = orrery_edit_batch_new ();
  g_autoptr(GVariantIter) iter = NULL;
  g_autofree const char **on = NULL;
  const char *task_json, *task_id, *from, *to, *cond_json;
  guint32 kind, dep_type;
  GVariant *changes;

  g_variant_get (body, "(a(ussssusa{sv})^a&s)", &iter, &on);
  while (g_variant_iter_loop (iter, "(u&s&s&s&su&s@a{sv})", &kind, &task_json, &task_id, &from,
                              &to, &dep_type, &cond_json, &changes))
    switch (kind)
      {
      case EDIT_ADD_TASK:
        {
          OrreryTask *task = edit_task_from_json (task_json, error);

          if (task == NULL)
            {
              g_variant_unref (changes);
              return NULL;
            }
          orrery_edit_batch_add_task (batch, task);
          g_object_unref (task);
          break;
        }
      case EDIT_REMOVE_TASK:
        orrery_edit_batch_remove_task (batch, task_id);
        break;
      case EDIT_UPDATE_TASK:
        orrery_edit_batch_update_task (batch, task_id, changes);
        break;
      case EDIT_ADD_DEPENDENCY:
        {
          g_autoptr(OrreryCondition) cond = NULL;

          if (dep_type > ORRERY_DEPENDENCY_CONDITIONAL)
            {
              g_set_error (error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_BAD_VALUE,
                           "an isolated edit: dependency type %u", dep_type);
              g_variant_unref (changes);
              return NULL;
            }
          if (*cond_json != '\0')
            {
              g_autoptr(JsonNode) node = json_from_string (cond_json, error);

              if (node == NULL ||
                  (cond = _orrery_condition_from_json (node, "an isolated edit", error)) == NULL)
                {
                  g_variant_unref (changes);
                  return NULL;
                }
            }
          orrery_edit_batch_add_dependency (batch, from, to, dep_type, cond);
          break;
        }
      case EDIT_REMOVE_DEPENDENCY:
        orrery_edit_batch_remove_dependency (batch, from, to);
        break;
      default:
        g_set_error (error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_BAD_VALUE,
                     "an isolated edit: kind %u", kind);
        g_variant_unref (changes);
        return NULL;
      }
  if (on != NULL && on[0] != NULL)
    orrery_edit_batch_set_on_task_ids (batch, on);
  return g_steal_pointer (&batch);
}

/* The child's edits, applied to the host's constellation at once, as an
 * agent's from the main loop or from a handler would be; the answer goes
 * back before anything else for the child (a constellation-modified
 * published meanwhile is handled by the child while it waits). */
static void
plugin_edit (OrreryIsolatedPlugin *self,
             guint32               id,
             GVariant             *body)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryEditBatch) batch = NULL;
  g_autoptr(GVariant) mods = NULL;
  g_autoptr(GVariant) empty = g_variant_ref_sink (g_variant_new_array (G_VARIANT_TYPE_VARDICT,
                                                                       NULL, 0));
  OrreryConstellation *c = self->orch ? orrery_orchestrator_get_constellation (self->orch) : NULL;

  if (c == NULL)
    g_set_error (&error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_INVALID_STATE,
                 "no run: there is no constellation to edit");
  else if ((batch = edits_from_variant (body, &error)) != NULL)
    mods = orrery_constellation_apply_edits (c, batch, &error);  /* transfer full */
  plugin_send (self, WIRE_EDITED, id,
               g_variant_new ("(bsis@aa{sv})", mods != NULL,
                              error ? g_quark_to_string (error->domain) : "",
                              error ? error->code : 0, error ? error->message : "",
                              mods ? mods : empty));
}

/* A call of the plugin on the host. Holds are taken at once (a sync
 * observer's hold stands before its delivery returns, as in process);
 * what may dispatch or publish (release, cancel, fail) acts at once when
 * the host reads the child from its main loop or while it waits for a sync
 * answer (inside a delivery, as in process), else from an idle, so that it
 * never runs inside the host's own batching. */
static void
plugin_call (OrreryIsolatedPlugin *self,
             guint32               kind,
             guint32               id,
             GVariant             *body)
{
  Call *call;

  plugin_refill (self, 0);
  if (self->call_tokens < 1)
    {
      g_autofree char *detail =
        g_strdup_printf ("made calls faster than %u a second (and %u an event)", CALL_BUDGET,
                         CALLS_PER_EVENT);

      plugin_die (self, ORRERY_PLUGIN_ERROR_PROTOCOL, detail);
      return;
    }
  self->call_tokens -= 1;

  switch (kind)
    {
    case WIRE_LOG:
      {
        const char *domain, *message;
        guint32 level;

        g_variant_get (body, "(&su&s)", &domain, &level, &message);
        /* One level, never fatal here: the child ends itself on G_LOG_LEVEL_ERROR. */
        level &= G_LOG_LEVEL_MASK;
        if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
          level = G_LOG_LEVEL_CRITICAL;
        else if (level & G_LOG_LEVEL_WARNING)
          level = G_LOG_LEVEL_WARNING;
        else if (level & G_LOG_LEVEL_MESSAGE)
          level = G_LOG_LEVEL_MESSAGE;
        else if (level & G_LOG_LEVEL_INFO)
          level = G_LOG_LEVEL_INFO;
        else
          level = G_LOG_LEVEL_DEBUG;
        g_log (*domain ? domain : NULL, level, "%s", message);
        return;
      }
    case WIRE_EDIT:
      plugin_edit (self, id, body);
      return;
    case WIRE_QUERY:
      plugin_send (self, WIRE_REPLY, id,
                   g_variant_new ("(b)", self->orch != NULL &&
                                         orrery_orchestrator_is_running (self->orch)));
      return;
    case WIRE_HOLD:
      {
        const char *reason;
        guint32 timeout_ms;

        if (self->orch == NULL)
          return;
        if (g_hash_table_contains (self->holds, GUINT_TO_POINTER (id)))
          {
            plugin_die_protocol (self, "a hold it had taken already");
            return;
          }
        if (g_hash_table_size (self->holds) >= MAX_HOLDS)
          {
            g_autofree char *detail = g_strdup_printf ("took more than %u holds", MAX_HOLDS);

            plugin_die (self, ORRERY_PLUGIN_ERROR_PROTOCOL, detail);
            return;
          }
        g_variant_get (body, "(&su)", &reason, &timeout_ms);
        g_hash_table_insert (self->holds, GUINT_TO_POINTER (id),
                             orrery_orchestrator_hold (self->orch, reason, timeout_ms));
        return;
      }
    default:
      break;
    }

  if (self->orch == NULL)
    return;
  call = g_new0 (Call, 1);
  call->kind = kind;
  if (kind == WIRE_RELEASE)
    {
      gpointer hold = NULL;

      /* Not standing (expired on the host, told already): nothing to do. */
      if (!g_hash_table_steal_extended (self->holds, GUINT_TO_POINTER (id), NULL, &hold))
        {
          g_free (call);
          return;
        }
      call->hold = hold;
    }
  else if (kind == WIRE_CANCEL)
    g_variant_get (body, "(s)", &call->reason);
  else
    {
      const char *domain, *message;
      gint32 code;

      g_variant_get (body, "(&si&s)", &domain, &code, &message);
      call->error = g_error_new_literal (*domain ? g_quark_from_string (domain)
                                                 : ORRERY_PLUGIN_ERROR, code, message);
    }
  g_ptr_array_add (self->calls, call);
  if (self->direct)
    plugin_run_calls (self);
  else if (self->calls_idle == 0)
    self->calls_idle = g_idle_add_full (G_PRIORITY_HIGH, calls_idle_cb, self, NULL);
}

/* Handles one frame from the child. */
static void
plugin_handle (OrreryIsolatedPlugin *self,
               guint32               kind,
               guint32               id,
               GVariant             *body)
{
  switch (kind)
    {
    case WIRE_OBSERVER:
      if (self->init_done)
        {
          plugin_die_protocol (self, "an observer after init");
          return;
        }
      proxies_from_observer (self, body, id);
      break;
    case WIRE_INIT_DONE:
      if (self->init_done)
        {
          plugin_die_protocol (self, "a second end of init");
          return;
        }
      self->init_done = TRUE;
      g_variant_get (body, "(bs)", &self->init_ok, &self->init_message);
      break;
    case WIRE_ACK:
    case WIRE_ACK_OK:
      if (!self->waiting_ack || self->got_ack)
        {
          plugin_die_protocol (self, "an answer to no event");
          return;
        }
      self->got_ack = TRUE;
      self->copy_ms = 0;
      g_clear_pointer (&self->ack_message, g_free);
      if (kind == WIRE_ACK_OK)
        self->ack_ok = TRUE;
      else
        g_variant_get (body, "(bs)", &self->ack_ok, &self->ack_message);
      break;
    case WIRE_BATCH_ACK:
      if (self->n_unacked == 0)
        {
          plugin_die_protocol (self, "an answer to no batch");
          return;
        }
      self->n_unacked--;
      if (!self->waiting_ack)
        self->copy_ms = 0;
      g_clear_handle_id (&self->unacked_timer, g_source_remove);
      if (self->n_unacked > 0)
        self->unacked_timer = g_timeout_add (plugin_answer_ms (self), unacked_timeout_cb, self);
      break;
    case WIRE_BYE:
      self->bye = TRUE;
      break;
    case WIRE_POST:
      if (self->init_done)
        {
          plugin_die_protocol (self, "a post after init");
          return;
        }
      self->posting = TRUE;
      break;
    case WIRE_AWAIT:
      self->posting = FALSE;
      break;
    case WIRE_HOLD:
    case WIRE_RELEASE:
    case WIRE_CANCEL:
    case WIRE_FAIL:
    case WIRE_QUERY:
    case WIRE_LOG:
    case WIRE_EDIT:
      plugin_call (self, kind, id, body);
      break;
    default:
      g_assert_not_reached ();
    }
}

/* Reads and handles what the child sent. FALSE when it is dead. */
static gboolean
plugin_pump (OrreryIsolatedPlugin *self)
{
  gboolean open;

  if (self->dead)
    return FALSE;
  self->drained = FALSE;
  open = read_some (self->sock, self->in);
  while (!self->dead)
    {
      g_autoptr(GVariant) body = NULL;
      g_autofree char *why = NULL;
      guint32 kind, id;
      ReadStatus status = frame_take (self->in, &kind, &id, &body, host_type_of, &why);

      if (status == READ_AGAIN)
        break;
      if (status == READ_BAD)
        {
          plugin_die_protocol (self, why);
          return FALSE;
        }
      plugin_handle (self, kind, id, body);
    }
  /* After its BYE, the end of the socket is the child's exit. */
  if (!open && !self->dead && !self->bye)
    plugin_die (self, ORRERY_PLUGIN_ERROR_EXITED, NULL);
  return !self->dead;
}

/* Waits for *@flag within the deadline, handling what arrives. */
static gboolean
plugin_wait_for (OrreryIsolatedPlugin *self,
                 gboolean             *flag)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) plugin_answer_ms (self) * 1000;
  guint unacked = self->n_unacked;

  while (!*flag)
    {
      struct pollfd pfd = { self->sock, POLLIN, 0 };
      gint64 left;
      int r;

      /* Batches before it still being handled (unawaited events): the
       * deadline runs from the last one the child acknowledged. */
      if (self->n_unacked < unacked)
        {
          unacked = self->n_unacked;
          deadline = g_get_monotonic_time () + (gint64) plugin_answer_ms (self) * 1000;
        }
      left = deadline - g_get_monotonic_time ();
      if (self->dead)
        return FALSE;
      if (self->drained)
        {
          if (!plugin_pump (self))
            return FALSE;
          continue;
        }
      if (left <= 0)
        {
          g_autofree char *detail = g_strdup_printf ("did not answer within %u ms",
                                                     self->deadline_ms);

          plugin_die (self, ORRERY_PLUGIN_ERROR_TIMED_OUT, detail);
          return FALSE;
        }
      r = poll (&pfd, 1, (int) MAX (1, left / 1000));
      if (r < 0 && errno != EINTR)
        {
          plugin_die (self, ORRERY_PLUGIN_ERROR_EXITED, NULL);
          return FALSE;
        }
      if (r > 0 && !plugin_pump (self))
        return FALSE;
    }
  return TRUE;
}

static gboolean
socket_cb (int          fd,
           GIOCondition condition,
           gpointer     user_data)
{
  OrreryIsolatedPlugin *self = user_data;

  gboolean alive;

  (void) fd;
  (void) condition;
  plugin_ref (self);
  self->direct = TRUE;
  alive = plugin_pump (self);
  self->direct = FALSE;
  if (!alive)
    self->watch_id = 0;
  plugin_unref (self);
  return alive ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static gboolean
pump_idle_cb (gpointer user_data)
{
  OrreryIsolatedPlugin *self = user_data;

  self->pump_idle = 0;
  if (self->drained && self->watch_id != 0)
    socket_cb (self->sock, G_IO_IN, self);
  return G_SOURCE_REMOVE;
}

static gboolean
unacked_timeout_cb (gpointer user_data)
{
  OrreryIsolatedPlugin *self = user_data;
  g_autofree char *detail = g_strdup_printf ("did not take its queued events within %u ms",
                                             self->deadline_ms);

  self->unacked_timer = 0;
  /* What is waiting on the socket first. */
  if (plugin_pump (self) && self->n_unacked > 0)
    plugin_die (self, ORRERY_PLUGIN_ERROR_TIMED_OUT, detail);
  return G_SOURCE_REMOVE;
}

static void
note_event (OrreryIsolatedPlugin *self,
            OrreryEvent          *event)
{
  /* A reference, described only if the child fails. */
  orrery_event_ref (event);
  g_clear_pointer (&self->last_event, orrery_event_unref);
  self->last_event = event;
}

static void
plugin_flush (OrreryIsolatedPlugin *self)
{
  gboolean sent;

  g_clear_handle_id (&self->flush_id, g_source_remove);
  if (self->n_batched == 0)
    return;
  plugin_refill (self, self->n_batched);
  self->n_batched = 0;
  if (self->dead)
    {
      g_byte_array_set_size (self->batch, 0);
      return;
    }
  /* Too many batches in flight: wait for the child to catch up. */
  while (self->n_unacked >= MAX_UNACKED && !self->dead)
    {
      gboolean caught_up = FALSE;
      guint before = self->n_unacked;
      gint64 deadline = g_get_monotonic_time () + (gint64) plugin_answer_ms (self) * 1000;

      while (self->n_unacked >= before && !self->dead)
        {
          struct pollfd pfd = { self->sock, POLLIN, 0 };
          gint64 left = deadline - g_get_monotonic_time ();

          if (left <= 0)
            break;
          if (self->drained || poll (&pfd, 1, (int) MAX (1, left / 1000)) > 0)
            plugin_pump (self);
        }
      caught_up = self->n_unacked < before;
      if (!caught_up && !self->dead)
        {
          g_autofree char *detail = g_strdup_printf ("did not take its queued events within %u ms",
                                                     self->deadline_ms);

          plugin_die (self, ORRERY_PLUGIN_ERROR_TIMED_OUT, detail);
        }
    }
  if (self->dead)
    {
      g_byte_array_set_size (self->batch, 0);
      return;
    }
  /* One write per batch; the buffer is kept for the next one. */
  sent = plugin_send_records (self, WIRE_BATCH, ++self->batch_serial, self->batch->data,
                              self->batch->len);
  g_byte_array_set_size (self->batch, 0);
  self->n_batched = 0;
  if (sent)
    {
      if (self->n_unacked++ == 0)
        {
          g_clear_handle_id (&self->unacked_timer, g_source_remove);
          self->unacked_timer = g_timeout_add (plugin_answer_ms (self), unacked_timeout_cb, self);
        }
    }
}

static gboolean
flush_cb (gpointer user_data)
{
  OrreryIsolatedPlugin *self = user_data;

  self->flush_id = 0;
  plugin_flush (self);
  return G_SOURCE_REMOVE;
}

static void plugin_mirror (OrreryIsolatedPlugin *self, OrreryEvent *event);

/* A task of the host's constellation changed: the child's copy is told
 * before the next frame of events. */
static void
plugin_mark (OrreryIsolatedPlugin *self,
             const char           *id)
{
  if (self->mirrored == NULL || self->mirror_refused || id == NULL)
    return;
  if (!g_hash_table_contains (self->dirty, id))
    g_hash_table_add (self->dirty, g_strdup (id));
}

/* Sees every task event in process, whatever the child observes (a DOT
 * written at the end reads every task's status); a run's end may cancel
 * tasks that never started with no event of their own. */
static gboolean
tracker_handle (OrreryEvent  *event,
                gpointer      user_data,
                GError      **error)
{
  OrreryIsolatedPlugin *self = user_data;

  if (self->dead)
    return TRUE;
  /* The copy goes as the run starts or is edited, unawaited: the child
   * reads it while the host goes on (before its next answer). */
  if (orrery_event_get_event_type (event) == ORRERY_EVENT_CONSTELLATION_STARTED ||
      orrery_event_get_event_type (event) == ORRERY_EVENT_CONSTELLATION_MODIFIED)
    {
      plugin_mirror (self, event);
      return TRUE;
    }
  if (self->mirrored == NULL || self->mirror_refused)
    return TRUE;
  if (ORRERY_EVENT_IS_TASK (event))
    plugin_mark (self, orrery_event_get_task_id (event));
  else if (orrery_event_get_constellation (event) ==
           self->mirrored)
    {
      g_autoptr(GPtrArray) tasks = orrery_constellation_get_tasks (self->mirrored);

      for (guint i = 0; i < tasks->len; i++)
        if (orrery_task_get_status (tasks->pdata[i]) == ORRERY_TASK_STATUS_CANCELLED)
          plugin_mark (self, orrery_task_get_id (tasks->pdata[i]));
    }
  return TRUE;
}

static void
plugin_add_tracker (OrreryIsolatedPlugin *self)
{
  static const OrreryEventType types[] = {
    ORRERY_EVENT_TASK_STARTED, ORRERY_EVENT_TASK_COMPLETED, ORRERY_EVENT_TASK_FAILED,
    ORRERY_EVENT_TASK_RETRYING, ORRERY_EVENT_TASK_SKIPPED, ORRERY_EVENT_TASK_CANCELLED,
    ORRERY_EVENT_CONSTELLATION_STARTED, ORRERY_EVENT_CONSTELLATION_MODIFIED,
    ORRERY_EVENT_CONSTELLATION_FAILED, ORRERY_EVENT_CONSTELLATION_CANCELLED,
  };
  g_autoptr(OrreryObserver) tracker = NULL;
  g_autofree char *name = g_strdup_printf ("%s (isolated: its copy's statuses)", self->name);

  if (self->tracking)
    return;
  self->tracking = TRUE;
  tracker = orrery_func_observer_new (name, tracker_handle, plugin_ref (self),
                                      (GDestroyNotify) plugin_unref);
  orrery_plugin_context_add_observer (self->context, tracker, types, G_N_ELEMENTS (types),
                                      ORRERY_DELIVERY_SYNC, 0, 0);
}

/* The JSON of the last constellation copied, as it was at one event: the
 * helpers of several isolated plugins copying it at that event get the
 * same text (main thread only). */
static struct
{
  OrreryConstellation *c;        /* a weak pointer */
  guint64              version;
  guint64              sequence; /* of the event */
  char                *json;
  gsize                length;
} copy_cache;

static char *
copy_text (OrreryConstellation *c,
           OrreryEvent         *event,
           gsize               *length)
{
  guint64 version = orrery_constellation_get_version (c);
  guint64 sequence = orrery_event_get_sequence (event);

  if (copy_cache.c != c || copy_cache.version != version || copy_cache.sequence != sequence ||
      sequence == 0)
    {
      if (copy_cache.c != NULL)
        g_object_remove_weak_pointer (G_OBJECT (copy_cache.c), (gpointer *) &copy_cache.c);
      g_free (copy_cache.json);
      copy_cache.json = _orrery_constellation_to_compact_json (c, &copy_cache.length);
      copy_cache.c = c;
      copy_cache.version = version;
      copy_cache.sequence = sequence;
      g_object_add_weak_pointer (G_OBJECT (c), (gpointer *) &copy_cache.c);
    }
  *length = copy_cache.length;
  return g_strdup (copy_cache.json);
}

/* The child gets the event's constellation before the event, when it has
 * not got it yet at this version (the first event, after an edit). */
static void
plugin_mirror (OrreryIsolatedPlugin *self,
               OrreryEvent          *event)
{
  OrreryConstellation *c = NULL;
  g_autofree char *json = NULL;
  gsize length = 0;

  if (ORRERY_EVENT_IS_TASK (event))
    c = orrery_event_get_constellation (event);
  else if (ORRERY_EVENT_IS_CONSTELLATION (event))
    c = orrery_event_get_constellation (event);
  if (c == NULL || (c == self->mirrored && orrery_constellation_get_version (c) == self->mirrored_version))
    return;
  g_set_object (&self->mirrored, c);
  self->mirrored_version = orrery_constellation_get_version (c);
  self->mirror_refused = FALSE;
  /* Its JSON (by hand, about 150 bytes a task) costs a few µs a task to
   * write and to read back: past MIRROR_MAX_TASKS the child has none
   * (NULL, as a plugin must expect when there is no run), said once. */
  if (orrery_constellation_get_n_tasks (c) > MIRROR_MAX_TASKS)
    {
      if (!self->mirror_said)
        g_message ("Isolated plugin “%s”: the constellation “%s” has %u tasks, more than %u: "
                   "its events there come without it", self->name, orrery_constellation_get_id (c),
                   orrery_constellation_get_n_tasks (c), MIRROR_MAX_TASKS);
      self->mirror_said = TRUE;
      self->mirror_refused = TRUE;
      if (self->n_batched > 0)
        plugin_flush (self);
      plugin_send (self, WIRE_CONSTELLATION, 0, g_variant_new ("(s)", ""));
      return;
    }
  /* In bus order: what is batched before it goes first. */
  if (self->n_batched > 0)
    plugin_flush (self);
  /* The copy has every status as of now. */
  g_hash_table_remove_all (self->dirty);
  json = copy_text (c, event, &length);
  self->copy_ms = (guint) MIN ((guint64) orrery_constellation_get_n_tasks (c) * MIRROR_US_PER_TASK / 1000,
                               G_MAXINT / 4);
  g_debug ("Isolated plugin “%s”: its copy of the constellation, version %" G_GUINT64_FORMAT
           " (%u tasks, %" G_GSIZE_FORMAT " bytes)", self->name, self->mirrored_version,
           orrery_constellation_get_n_tasks (c), length);
  plugin_send (self, WIRE_CONSTELLATION, 0, g_variant_new ("(s)", json));
}

static gboolean
proxy_handle (OrreryEvent  *event,
              gpointer      user_data,
              GError      **error)
{
  Proxy *proxy = user_data;
  OrreryIsolatedPlugin *self = proxy->plugin;

  if (self->dead)
    return TRUE;  /* detached at once, from an idle */
  note_event (self, event);
  plugin_mirror (self, event);
  /* The tracker may come after this proxy on the bus. */
  if (ORRERY_EVENT_IS_TASK (event))
    plugin_mark (self, orrery_event_get_task_id (event));

  /* Queued, or sync but posted: a sync answer of a plugin that cannot
   * act on the host changes nothing but its failure (logged, then); the
   * run's own events (started, modified, ended) stay awaited, so the
   * plugin has caught up, and done what it does then (a DOT file, a
   * summary), before the observers after it see them. */
  if (proxy->mode == ORRERY_DELIVERY_QUEUED ||
      (self->posting && !ORRERY_EVENT_IS_CONSTELLATION (event)))
    {
      record_append (self->batch, proxy->index, event);
      if (++self->n_batched >= BATCH_EVENTS || self->batch->len >= BATCH_BYTES)
        plugin_flush (self);
      else if (self->flush_id == 0)
        self->flush_id = g_idle_add_full (G_PRIORITY_LOW, flush_cb, self, NULL);
      return TRUE;
    }

  /* Sync: the queued events before it first, so the child sees bus order. */
  if (self->n_batched > 0)
    plugin_flush (self);
  /* At the run's own events a plugin may walk the whole constellation (the
   * visualizer writes its DOT: 8.8 s for 100k tasks in process at load
   * 15): as much more time again as a copy. */
  if (ORRERY_EVENT_IS_CONSTELLATION (event) &&
      orrery_event_get_constellation (event) != NULL)
    self->copy_ms += (guint) MIN ((guint64) orrery_constellation_get_n_tasks (
                         orrery_event_get_constellation (event)) *
                       MIRROR_US_PER_TASK / 1000, G_MAXINT / 4);
  plugin_refill (self, 1);
  self->waiting_ack = TRUE;
  self->got_ack = FALSE;
  g_byte_array_set_size (self->scratch, 0);
  record_append (self->scratch, proxy->index, event);
  if (plugin_send_records (self, WIRE_EVENT, proxy->index, self->scratch->data,
                           self->scratch->len))
    {
      /* Inside a delivery: the plugin's calls act as they would in process. */
      self->direct = TRUE;
      plugin_wait_for (self, &self->got_ack);
      self->direct = FALSE;
    }
  self->waiting_ack = FALSE;
  self->tokens_at = g_get_monotonic_time ();
  if (self->dead)
    {
      g_set_error_literal (error, ORRERY_PLUGIN_ERROR, self->failure->code,
                           self->failure->message);
      return FALSE;
    }
  if (!self->ack_ok)
    {
      g_set_error_literal (error, ORRERY_BUS_ERROR, ORRERY_BUS_ERROR_OBSERVER_FAILED,
                           self->ack_message ? self->ack_message : "failed");
      return FALSE;
    }
  return TRUE;
}

static void
proxy_free (gpointer data)
{
  Proxy *proxy = data;

  plugin_unref (proxy->plugin);
  g_free (proxy);
}

static void
proxies_from_observer (OrreryIsolatedPlugin *self,
                       GVariant             *body,
                       guint32               index)
{
  g_autoptr(GVariant) types_v = NULL;
  g_autoptr(OrreryObserver) observer = NULL;
  g_autofree char *proxy_name = NULL;
  const char *name;
  guint32 mode, queue_limit, deadline_ms;
  const guint32 *types;
  gsize n_types;
  Proxy *proxy;

  g_variant_get (body, "(&s@auuuu)", &name, &types_v, &mode, &queue_limit, &deadline_ms);
  types = g_variant_get_fixed_array (types_v, &n_types, sizeof (guint32));
  if (index >= MAX_OBSERVERS || mode > ORRERY_DELIVERY_QUEUED)
    {
      plugin_die_protocol (self, "a bad observer");
      return;
    }
  for (gsize i = 0; i < n_types; i++)
    if (types[i] >= ORRERY_EVENT_TYPE_COUNT)
      {
        plugin_die_protocol (self, "an observer of an unknown event type");
        return;
      }
  plugin_add_tracker (self);
  proxy = g_new0 (Proxy, 1);
  proxy->plugin = plugin_ref (self);
  proxy->index = index;
  proxy->mode = mode;
  proxy_name = g_strdup_printf ("%s (isolated)", name);
  observer = orrery_func_observer_new (proxy_name, proxy_handle, proxy, proxy_free);
  /* OrreryEventType is an enum of int size: the guint32 array is one. */
  orrery_plugin_context_add_observer (self->context, observer, (const OrreryEventType *) types,
                                      n_types, mode, queue_limit, deadline_ms);
}

static char *
find_helper (void)
{
  const char *env = g_getenv ("ORRERY_PLUGIN_HOST");

  if (env != NULL && *env != '\0')
    return g_strdup (env);
  if (_orrery_is_uninstalled ())
    return g_build_filename (ORRERY_BUILD_ROOT, "host", ORRERY_PLUGIN_HOST_PROGRAM, NULL);
  return g_build_filename (ORRERY_LIBEXECDIR, ORRERY_PLUGIN_HOST_PROGRAM, NULL);
}

static GVariant *
config_variant (OrreryConfig *config)
{
  g_auto(GStrv) groups = orrery_config_get_groups (config);
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("a(sss)"));
  for (guint i = 0; groups != NULL && groups[i] != NULL; i++)
    {
      g_auto(GStrv) keys = orrery_config_get_keys (config, groups[i]);

      for (guint j = 0; keys != NULL && keys[j] != NULL; j++)
        {
          g_autofree char *value = orrery_config_get_string (config, groups[i], keys[j], NULL);

          if (value != NULL)
            g_variant_builder_add (&b, "(sss)", groups[i], keys[j], value);
        }
    }
  return g_variant_builder_end (&b);
}

gboolean
_orrery_plugin_config_isolated (OrreryConfig  *config,
                                const char    *name,
                                gboolean      *isolated,
                                GError       **error)
{
  g_autofree char *group = orrery_config_plugin_group (name);
  g_autofree char *value = orrery_config_get_string (config, group, "Isolation", NULL);

  *isolated = FALSE;
  if (value == NULL)
    return TRUE;
  g_strstrip (value);
  if (g_ascii_strcasecmp (value, "process") == 0)
    *isolated = TRUE;
  else if (g_ascii_strcasecmp (value, "in-process") != 0 && g_ascii_strcasecmp (value, "none") != 0)
    {
      g_autofree char *origin = orrery_config_get_origin (config, group, "Isolation");
      g_autofree char *shown = orrery_escape_for_terminal (value, -1);

      g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_BAD_CONFIG,
                   "%s: [%s] Isolation: “%s” is not process or in-process", origin, group, shown);
      return FALSE;
    }
  return TRUE;
}

static int
make_page (void)
{
  int fd = memfd_create ("orrery-isolation-page", MFD_CLOEXEC);

  if (fd >= 0 && ftruncate (fd, sizeof (SharedPage)) < 0)
    {
      close (fd);
      fd = -1;
    }
  return fd;
}

OrreryIsolatedPlugin *
_orrery_isolated_plugin_start (OrreryPluginContext      *context,
                               const char               *file,
                               int                       memfd,
                               OrreryIsolatedFailedFunc  func,
                               gpointer                  user_data,
                               GError                  **error)
{
  OrreryIsolatedPlugin *self;
  g_autofree char *helper = find_helper ();
  g_autoptr(GError) local_error = NULL;
  OrreryConfig *config = orrery_plugin_context_get_config (context);
  const char *group = orrery_plugin_context_get_group (context);
  const char *argv[] = { helper, "--name", orrery_plugin_context_get_name (context), NULL };
  int sv[2] = { -1, -1 };
  int page_fd;
  GError *deadline_error = NULL;
  guint64 deadline_ms, init_ms;

  deadline_ms = orrery_config_get_uint (config, group, "DeadlineMs",
                                        ORRERY_ISOLATION_DEFAULT_DEADLINE_MS, &deadline_error);
  if (deadline_error != NULL || deadline_ms == 0 || deadline_ms > G_MAXINT / 2)
    {
      g_clear_error (&deadline_error);
      deadline_ms = ORRERY_ISOLATION_DEFAULT_DEADLINE_MS;
    }
  /* At least a second: below that a loaded machine's scheduling alone
   * misses it (and the synchronizer's own DeadlineMs, for its holds, is
   * often shorter). */
  deadline_ms = MAX (deadline_ms, ORRERY_ISOLATION_MIN_DEADLINE_MS);
  init_ms = orrery_config_get_uint (config, group, "InitDeadlineMs",
                                    ORRERY_ISOLATION_DEFAULT_DEADLINE_MS, &deadline_error);
  if (deadline_error != NULL || init_ms == 0 || init_ms > G_MAXINT / 2)
    {
      g_clear_error (&deadline_error);
      init_ms = ORRERY_ISOLATION_DEFAULT_DEADLINE_MS;
    }

  page_fd = make_page ();
  if (page_fd < 0 || socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    {
      int saved = errno;

      g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_LOAD_FAILED,
                   "%s: cannot start an isolated plugin: %s", file, g_strerror (saved));
      if (page_fd >= 0)
        close (page_fd);
      close (memfd);
      return NULL;
    }

  self = g_rc_box_new0 (OrreryIsolatedPlugin);
  self->context = context;
  self->name = g_strdup (orrery_plugin_context_get_name (context));
  self->file = g_strdup (file);
  self->sock = sv[0];
  self->in = g_byte_array_new ();
  self->deadline_ms = (guint) deadline_ms;
  self->func = func;
  self->user_data = user_data;
  self->page = mmap (NULL, sizeof (SharedPage), PROT_READ | PROT_WRITE, MAP_SHARED, page_fd, 0);
  if (self->page == MAP_FAILED)
    self->page = NULL;
  self->holds = g_hash_table_new (NULL, NULL);
  self->dirty = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->statuses = g_byte_array_new ();
  self->out = g_byte_array_sized_new (BATCH_BYTES + 4096);
  self->batch = g_byte_array_sized_new (BATCH_BYTES + 4096);
  self->scratch = g_byte_array_sized_new (4096);
  self->calls = g_ptr_array_new_with_free_func (call_free);
  self->call_tokens = CALL_BUDGET;
  self->tokens_at = g_get_monotonic_time ();
  if (orrery_plugin_context_get_orchestrator (context) != NULL)
    {
      self->orch = g_object_ref (orrery_plugin_context_get_orchestrator (context));
      self->expired_id = g_signal_connect (self->orch, "hold-expired",
                                           G_CALLBACK (on_hold_expired), self);
    }

  {
    int source_fds[] = { sv[1], memfd, page_fd };
    int target_fds[] = { SOCKET_FD, PLUGIN_FD, PAGE_FD };

    if (!g_spawn_async_with_pipes_and_fds (NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                           -1, -1, -1, source_fds, target_fds, 3, &self->pid,
                                           NULL, NULL, NULL, &local_error))
      {
        g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_LOAD_FAILED,
                     "%s: cannot start its helper %s: %s", file, helper, local_error->message);
        close (sv[1]);
        close (memfd);
        close (page_fd);
        self->func = NULL;
        plugin_unref (self);
        return NULL;
      }
  }
  close (sv[1]);
  close (memfd);
  close (page_fd);
  fcntl (self->sock, F_SETFL, fcntl (self->sock, F_GETFL) | O_NONBLOCK);

  /* Init, awaited (InitDeadlineMs: starting a process takes longer than
   * answering an event): its observers arrive before its end. */
  if (plugin_send (self, WIRE_INIT, 0,
                   g_variant_new ("(s@a(sss)b)", self->name, config_variant (config),
                                  self->orch != NULL)))
    {
      guint answer_ms = self->deadline_ms;

      self->deadline_ms = (guint) init_ms;
      plugin_wait_for (self, &self->init_done);
      self->deadline_ms = answer_ms;
    }
  if (self->dead || !self->init_ok)
    {
      if (self->dead)
        g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_INIT_FAILED, "%s",
                     self->failure->message);
      else
        g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_INIT_FAILED,
                     "%s: init of plugin “%s” failed: %s", file, self->name,
                     self->init_message ? self->init_message : "no reason given");
      self->func = NULL;
      g_clear_handle_id (&self->failed_idle, g_source_remove);
      _orrery_plugin_context_detach (context);
      if (!self->dead)
        {
          self->dead = TRUE;
          reap (self, 1000);
        }
      plugin_unref (self);
      return NULL;
    }
  self->watch_id = g_unix_fd_add (self->sock, G_IO_IN | G_IO_HUP | G_IO_ERR, socket_cb, self);
  return self;
}

GPid
_orrery_isolated_plugin_get_pid (OrreryIsolatedPlugin *self)
{
  return self->pid;
}

const GError *
_orrery_isolated_plugin_get_failure (OrreryIsolatedPlugin *self)
{
  return self->failure;
}

void
_orrery_isolated_plugin_stop (OrreryIsolatedPlugin *self)
{
  self->func = NULL;
  g_clear_handle_id (&self->failed_idle, g_source_remove);
  if (!self->dead)
    {
      plugin_flush (self);
      if (!self->dead && plugin_send (self, WIRE_SHUTDOWN, 0, g_variant_new ("()")))
        {
          /* Its shutdown may release holds: as in process, at once. */
          self->direct = TRUE;
          plugin_wait_for (self, &self->bye);
          self->direct = FALSE;
        }
      if (!self->dead)
        {
          self->dead = TRUE;
          g_clear_handle_id (&self->watch_id, g_source_remove);
          reap (self, self->deadline_ms);
        }
    }
  plugin_run_calls (self);
  plugin_release_holds (self);
  plugin_unref (self);
}

/* ------------------------------------------------------------------------ */
/* The child side */

typedef struct
{
  OrreryObserver *observer;
  OrreryDeliveryMode mode;
} ChildObserver;

/* A frame read ahead while the child waited for a reply. */
typedef struct
{
  guint32   kind;
  guint32   id;
  GVariant *body;
} Deferred;

typedef struct
{
  int                  sock;
  SharedPage          *page;
  GByteArray          *in;
  GPtrArray           *observers;     /* of ChildObserver */
  OrreryPluginContext *context;
  const OrreryPluginDescriptor *descriptor;
  GMainLoop           *loop;
  int                  status;
  OrreryOrchestrator  *orch;          /* stands for the host's (nullable) */
  GQueue               deferred;      /* of Deferred, before what is in @in */
  guint32              query_serial;
  gboolean             logging;
  guint                kick_idle;     /* frames read ahead, to handle */
  OrreryConstellation *mirror;        /* the host's, as of the last event */
  GByteArray          *out;           /* the frame being written (reused) */
  GSource             *watch;         /* the socket's (see child_watch_new) */
  gpointer             watch_tag;
  gboolean             handling;      /* in child_socket_cb */
  gboolean             posting;       /* the host does not await sync answers */
} Child;

static gboolean child_socket_cb (int fd, GIOCondition condition, gpointer user_data);

static gboolean
child_kick_cb (gpointer user_data)
{
  Child *child = user_data;

  child->kick_idle = 0;
  /* Inside a handler (an async observer's wait), the frames are taken
   * when it returns, by the loop of child_socket_cb under way. */
  if (child->loop != NULL && g_main_loop_is_running (child->loop) && !child->handling)
    child_socket_cb (child->sock, G_IO_IN, child);
  return G_SOURCE_REMOVE;
}

/* Frames were read ahead (while writing, or waiting for a reply): the
 * socket may say nothing more, so they are handled from an idle. */
static void
child_kick (Child *child)
{
  if (child->loop != NULL && child->kick_idle == 0)
    child->kick_idle = g_idle_add (child_kick_cb, child);
}

static void
deferred_free (gpointer data)
{
  Deferred *d = data;

  g_clear_pointer (&d->body, g_variant_unref);
  g_free (d);
}

static void
child_observer_free (gpointer data)
{
  ChildObserver *o = data;

  g_object_unref (o->observer);
  g_free (o);
}

static void
child_send (Child    *child,
            guint32   kind,
            guint32   id,
            GVariant *body)
{
  guint before = child->in->len;

  g_byte_array_set_size (child->out, 0);
  frame_append (child->out, kind, id, body);
  if (!write_all (child->sock, child->out->data, child->out->len, 0, child->in))
    _exit (1);  /* the host is gone */
  if (child->in->len > before)
    child_kick (child);
}

/* The plugin may act on the host now (it asked for the orchestrator, or
 * edits): the host awaits its sync answers again, from this event on. */
static void
child_await (Child *child)
{
  if (!child->posting)
    return;
  child->posting = FALSE;
  child_send (child, WIRE_AWAIT, 0, g_variant_new ("()"));
}

/* A frame with an empty body (a GVariant `ay` of no bytes). */
static void
child_send_empty (Child   *child,
                  guint32  kind,
                  guint32  id)
{
  FrameHeader header = { 0, kind, id, 0 };
  guint before = child->in->len;

  if (!write_all (child->sock, (const guint8 *) &header, sizeof header, 0, child->in))
    _exit (1);
  if (child->in->len > before)
    child_kick (child);
}

/* The next frame from the host: what was read ahead first. */
static ReadStatus
child_next_frame (Child     *child,
                  guint32   *kind,
                  guint32   *id,
                  GVariant **body,
                  char     **why)
{
  Deferred *d = g_queue_pop_head (&child->deferred);

  if (d != NULL)
    {
      *kind = d->kind;
      *id = d->id;
      *body = g_steal_pointer (&d->body);
      deferred_free (d);
      return READ_OK;
    }
  return frame_take (child->in, kind, id, body, child_type_of, why);
}

static void child_handle (Child *child, guint32 kind, guint32 id, GVariant *body);

/* Waits for the host's answer (@reply_kind, @serial) to a call, and returns
 * its body. Frames that come first are kept for later, in their order;
 * with @handle_events, sync events are handled meanwhile (as in process,
 * inside the call). */
static GVariant *
child_wait_reply (Child    *child,
                  guint32   reply_kind,
                  guint32   serial,
                  gboolean  handle_events)
{
  for (;;)
    {
      g_autofree char *why = NULL;
      GVariant *body = NULL;
      guint32 kind, id;
      ReadStatus status = frame_take (child->in, &kind, &id, &body, child_type_of, &why);

      if (status == READ_OK && kind == reply_kind && id == serial)
        {
          if (!g_queue_is_empty (&child->deferred) || child->in->len > 0)
            child_kick (child);
          return body;
        }
      if (status == READ_OK && handle_events && kind == WIRE_EVENT)
        {
          child_handle (child, kind, id, body);
          g_variant_unref (body);
          continue;
        }
      if (status == READ_OK)
        {
          Deferred *d = g_new0 (Deferred, 1);

          d->kind = kind;
          d->id = id;
          d->body = body;
          g_queue_push_tail (&child->deferred, d);
          continue;
        }
      if (status == READ_BAD)
        {
          g_printerr ("orrery-plugin-host: the host sent %s\n", why);
          _exit (2);
        }
      {
        struct pollfd pfd = { child->sock, POLLIN, 0 };

        if (poll (&pfd, 1, -1) < 0 && errno != EINTR)
          _exit (1);
        if (!read_some (child->sock, child->in))
          _exit (1);  /* the host is gone */
      }
    }
}

/* Asks the host whether its orchestrator runs, and waits for the answer. */
static gboolean
child_query_running (Child *child)
{
  guint32 serial = ++child->query_serial;
  g_autoptr(GVariant) body = NULL;
  gboolean running = FALSE;

  child_send (child, WIRE_QUERY, serial, g_variant_new ("()"));
  body = child_wait_reply (child, WIRE_REPLY, serial, FALSE);
  g_variant_get (body, "(b)", &running);
  return running;
}


static GVariant *
edits_to_variant (OrreryEditBatch *batch)
{
  GArray *edits = _orrery_edit_batch_peek_edits (batch);
  const char * const *on = orrery_edit_batch_get_on_task_ids (batch);
  const char *none[] = { NULL };
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("a(ussssusa{sv})"));
  for (guint i = 0; i < edits->len; i++)
    {
      OrreryEdit *e = &g_array_index (edits, OrreryEdit, i);
      g_autofree char *task_json = NULL;
      g_autofree char *cond_json = NULL;

      if (e->task != NULL)
        {
          g_autoptr(JsonNode) node = _orrery_task_to_json_node (e->task);

          task_json = json_to_string (node, FALSE);
        }
      if (e->condition != NULL)
        {
          g_autoptr(JsonNode) node = _orrery_condition_to_json (e->condition);

          cond_json = json_to_string (node, FALSE);
        }
      g_variant_builder_add (&b, "(ussssus@a{sv})", (guint32) e->kind, task_json ? task_json : "",
                             e->task_id ? e->task_id : "", e->from_id ? e->from_id : "",
                             e->to_id ? e->to_id : "", (guint32) e->dep_type,
                             cond_json ? cond_json : "",
                             e->changes ? e->changes : g_variant_new_array (G_VARIANT_TYPE ("{sv}"),
                                                                            NULL, 0));
    }
  return g_variant_new ("(@a(ussssusa{sv})^as)", g_variant_builder_end (&b),
                        on ? on : (const char * const *) none);
}

/* orrery_constellation_apply_edits() on the child's copy: the host's
 * constellation is edited, then the copy the same way. Sync events that
 * the edit publishes meanwhile are handled (as in process, inside the
 * call); anything else waits. */
static GVariant *
child_remote_edits (OrreryConstellation  *copy,
                    OrreryEditBatch      *batch,
                    gpointer              data,
                    GError              **error)
{
  Child *child = data;
  guint32 serial = ++child->query_serial;
  g_autoptr(GVariant) body = NULL;
  gboolean ok;
  const char *domain, *message;
  gint32 code;
  GVariant *mods, *here;

  child_await (child);
  child_send (child, WIRE_EDIT, serial, edits_to_variant (batch));
  body = child_wait_reply (child, WIRE_EDITED, serial, TRUE);
  g_variant_get (body, "(b&si&s@aa{sv})", &ok, &domain, &code, &message, &mods);
  if (!ok)
    {
      g_variant_unref (mods);
      g_set_error_literal (error, *domain ? g_quark_from_string (domain) : ORRERY_CONSTELLATION_ERROR,
                           code, message);
      return NULL;
    }
  /* The copy follows (the host sends it again at its next event). */
  _orrery_constellation_set_remote_edits (copy, NULL, NULL);
  here = orrery_constellation_apply_edits (copy, batch, NULL);
  g_clear_pointer (&here, g_variant_unref);
  _orrery_constellation_set_remote_edits (copy, child_remote_edits, child);
  return mods;
}

/* The orchestrator the plugin sees: each call goes to the host's. */

static char *
valid_text (const char *text)
{
  return g_utf8_make_valid (text ? text : "", -1);
}

static void
child_remote_hold (gpointer    data,
                   guint       id,
                   const char *reason,
                   guint       timeout_ms)
{
  g_autofree char *text = valid_text (reason);

  child_await (data);
  child_send (data, WIRE_HOLD, id, g_variant_new ("(su)", text, (guint32) timeout_ms));
}

static void
child_remote_release (gpointer data,
                      guint    id)
{
  child_await (data);
  child_send (data, WIRE_RELEASE, id, g_variant_new ("()"));
}

static void
child_remote_cancel (gpointer    data,
                     const char *reason)
{
  g_autofree char *text = valid_text (reason);

  child_await (data);
  child_send (data, WIRE_CANCEL, 0, g_variant_new ("(s)", text));
}

static void
child_remote_fail (gpointer      data,
                   const GError *error)
{
  g_autofree char *message = valid_text (error->message);
  g_autofree char *domain = valid_text (g_quark_to_string (error->domain));

  child_await (data);
  child_send (data, WIRE_FAIL, 0, g_variant_new ("(sis)", domain, error->code, message));
}

static gboolean
child_remote_is_running (gpointer data)
{
  return child_query_running (data);
}

static const OrreryOrchestratorRemote child_remote = {
  child_remote_hold,
  child_remote_release,
  child_remote_cancel,
  child_remote_fail,
  child_remote_is_running,
};

/* The plugin's log lines go to the host's log (its writer, its handlers). */
static GLogWriterOutput
child_log_writer (GLogLevelFlags   log_level,
                  const GLogField *fields,
                  gsize            n_fields,
                  gpointer         user_data)
{
  Child *child = user_data;
  const char *domain = NULL;
  g_autofree char *message = NULL;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_str_equal (fields[i].key, "GLIB_DOMAIN") && fields[i].length < 0)
        domain = fields[i].value;
      else if (g_str_equal (fields[i].key, "MESSAGE") && message == NULL)
        message = g_utf8_make_valid (fields[i].value, fields[i].length);
    }
  if (g_log_writer_default_would_drop (log_level, domain))
    return G_LOG_WRITER_HANDLED;
  if (child->logging || child->sock < 0)
    return g_log_writer_default (log_level, fields, n_fields, NULL);
  {
    g_autofree char *dom = valid_text (domain);

    child->logging = TRUE;
    child_send (child, WIRE_LOG, 0, g_variant_new ("(sus)", dom, (guint32) log_level,
                                                   message ? message : ""));
    child->logging = FALSE;
  }
  return G_LOG_WRITER_HANDLED;
}

static guint
child_observer_hook (OrreryPluginContext   *context,
                     OrreryObserver        *observer,
                     const OrreryEventType *types,
                     gsize                  n_types,
                     OrreryDeliveryMode     mode,
                     guint                  queue_limit,
                     guint                  deadline_ms,
                     gpointer               user_data)
{
  Child *child = user_data;
  ChildObserver *o;
  guint index = child->observers->len;

  (void) context;
  if (index >= MAX_OBSERVERS)
    {
      g_warning ("an isolated plugin has at most %d observers", MAX_OBSERVERS);
      return 0;
    }
  o = g_new0 (ChildObserver, 1);
  o->observer = g_object_ref (observer);
  /* An asynchronous observer is queued on the host's bus too. */
  o->mode = orrery_observer_is_async (observer) ? ORRERY_DELIVERY_QUEUED : mode;
  g_ptr_array_add (child->observers, o);
  child_send (child, WIRE_OBSERVER, index,
              g_variant_new ("(s@auuuu)", orrery_observer_get_name (observer),
                             g_variant_new_fixed_array (G_VARIANT_TYPE_UINT32, types, n_types,
                                                        sizeof (guint32)),
                             (guint32) o->mode, (guint32) queue_limit, (guint32) deadline_ms));
  return index + 1;
}

typedef struct
{
  gboolean  done;
  gboolean  ok;
  GError   *error;
} AsyncWait;

static void
async_done (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  AsyncWait *wait = user_data;

  wait->ok = orrery_observer_handle_event_finish (ORRERY_OBSERVER (source), result, &wait->error);
  wait->done = TRUE;
}

static gboolean
child_deliver (Child        *child,
               guint32       index,
               OrreryEvent  *event,
               GError      **error)
{
  ChildObserver *o;
  gboolean ok;

  if (index >= child->observers->len)
    return TRUE;
  o = child->observers->pdata[index];
  if (child->page != NULL)
    {
      child->page->sequence = orrery_event_get_sequence (event);
      describe_event_into (event, (char *) child->page->description,
                           sizeof child->page->description);
      child->page->in_handler = 1;
    }
  if (orrery_observer_is_async (o->observer))
    {
      AsyncWait wait = { FALSE, FALSE, NULL };

      /* The socket is left alone meanwhile: the next event waits. */
      if (child->watch != NULL)
        g_source_modify_unix_fd (child->watch, child->watch_tag, 0);
      orrery_observer_handle_event_async (o->observer, event, NULL, async_done, &wait);
      while (!wait.done)
        g_main_context_iteration (NULL, TRUE);
      if (child->watch != NULL)
        g_source_modify_unix_fd (child->watch, child->watch_tag, G_IO_IN | G_IO_HUP | G_IO_ERR);
      ok = wait.ok;
      if (!ok)
        g_propagate_error (error, wait.error);
      else
        g_clear_error (&wait.error);
    }
  else
    ok = orrery_observer_handle_event (o->observer, event, error);
  if (child->page != NULL)
    child->page->in_handler = 0;
  if (child->posting && _orrery_plugin_context_orchestrator_asked (child->context))
    child_await (child);
  return ok;
}

static void
child_handle (Child    *child,
              guint32   kind,
              guint32   id,
              GVariant *body)
{
  switch (kind)
    {
    case WIRE_EVENT:
    case WIRE_BATCH:
      {
        gsize size = 0;
        const guint8 *data = g_variant_get_fixed_array (body, &size, 1);
        guint32 n = 0;

        while (size > 0)
          {
            g_autoptr(OrreryEvent) event = NULL;
            g_autoptr(GError) error = NULL;
            guint32 index = 0;
            gsize used = 0;
            gboolean status = FALSE;

            event = record_read (data, size, &used, &index, &status, child->mirror);
            if (used == 0)
              {
                g_printerr ("orrery-plugin-host: the host sent a bad event record\n");
                _exit (2);
              }
            data += used;
            size -= used;
            if (status)
              continue;
            n++;
            if (kind == WIRE_EVENT)
              {
                gboolean ok = event == NULL || child_deliver (child, index, event, &error);

                if (ok)
                  child_send_empty (child, WIRE_ACK_OK, id);
                else
                  child_send (child, WIRE_ACK, id,
                              g_variant_new ("(bs)", FALSE, error ? error->message : "failed"));
                return;
              }
            if (event != NULL && !child_deliver (child, index, event, &error))
              g_warning ("%s: %s", orrery_plugin_context_get_name (child->context),
                         error ? error->message : "failed");
          }
        if (kind == WIRE_EVENT)
          {
            g_printerr ("orrery-plugin-host: the host sent an empty event\n");
            _exit (2);
          }
        child_send (child, WIRE_BATCH_ACK, id, g_variant_new ("(u)", n));
        break;
      }
    case WIRE_CONSTELLATION:
      {
        const char *json = NULL;
        gsize length = 0;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) text = g_variant_get_child_value (body, 0);
        OrreryConstellation *c;

        json = g_variant_get_string (text, &length);
        /* Empty: too large to copy, the events come without one. */
        c = length == 0 ? NULL : orrery_constellation_new_from_data (json, (gssize) length,
                                                                     "the host", &error);
        if (c == NULL && error != NULL)
          g_debug ("the host's constellation: %s", error->message);
        if (c != NULL && child->orch != NULL)
          _orrery_constellation_set_remote_edits (c, child_remote_edits, child);
        g_clear_object (&child->mirror);
        child->mirror = c;
        break;
      }
    case WIRE_EXPIRED:
      if (child->orch != NULL)
        _orrery_orchestrator_expire_hold (child->orch, id);
      break;
    case WIRE_SHUTDOWN:
      _orrery_plugin_context_detach (child->context);
      if (child->descriptor->shutdown != NULL)
        child->descriptor->shutdown (child->context);
      child_send (child, WIRE_BYE, 0, g_variant_new ("()"));
      child->status = 0;
      g_main_loop_quit (child->loop);
      break;
    default:
      break;
    }
}

static gboolean
child_socket_cb (int          fd,
                 GIOCondition condition,
                 gpointer     user_data)
{
  Child *child = user_data;
  gboolean open;

  (void) condition;
  if (child->handling)
    return G_SOURCE_CONTINUE;  /* the loop under way takes what came */
  open = read_some (fd, child->in);
  child->handling = TRUE;
  for (;;)
    {
      g_autoptr(GVariant) body = NULL;
      g_autofree char *why = NULL;
      guint32 kind, id;
      ReadStatus status = child_next_frame (child, &kind, &id, &body, &why);

      if (status == READ_AGAIN)
        break;
      if (status == READ_BAD || kind == WIRE_INIT)
        {
          g_printerr ("orrery-plugin-host: the host sent %s\n", why ? why : "a second init");
          _exit (2);
        }
      child_handle (child, kind, id, body);
      if (!g_main_loop_is_running (child->loop))
        {
          child->handling = FALSE;
          return G_SOURCE_REMOVE;
        }
    }
  child->handling = FALSE;
  if (!open)
    {
      child->status = 1;
      g_main_loop_quit (child->loop);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

/* The socket's source. It may recurse: GLib then does not take its
 * descriptor out of the poll set around each dispatch (two wake-ups of the
 * main context an event); child_deliver() sets its events to none while it
 * runs the loop itself. */
static gboolean
child_watch_dispatch (GSource     *source,
                      GSourceFunc  callback,
                      gpointer     user_data)
{
  return child_socket_cb (SOCKET_FD, G_IO_IN, user_data);
}

static GSourceFuncs child_watch_funcs = {
  NULL, NULL, child_watch_dispatch, NULL, NULL, NULL
};

static void
child_watch_new (Child *child)
{
  child->watch = g_source_new (&child_watch_funcs, sizeof (GSource));
  g_source_set_static_name (child->watch, "[orrery] plugin host socket");
  child->watch_tag = g_source_add_unix_fd (child->watch, child->sock,
                                           G_IO_IN | G_IO_HUP | G_IO_ERR);
  g_source_set_can_recurse (child->watch, TRUE);
  g_source_set_callback (child->watch, NULL, child, NULL);
  g_source_attach (child->watch, NULL);
}

/* Blocks until the INIT frame. */
static GVariant *
child_read_init (Child *child)
{
  for (;;)
    {
      struct pollfd pfd = { child->sock, POLLIN, 0 };
      g_autofree char *why = NULL;
      GVariant *body = NULL;
      guint32 kind, id;
      ReadStatus status = frame_take (child->in, &kind, &id, &body, child_type_of, &why);

      if (status == READ_OK && kind == WIRE_INIT)
        return body;
      if (status != READ_AGAIN)
        {
          g_clear_pointer (&body, g_variant_unref);
          return NULL;
        }
      if (poll (&pfd, 1, -1) < 0 && errno != EINTR)
        return NULL;
      if (!read_some (child->sock, child->in))
        return NULL;
    }
}

int
_orrery_plugin_host_main (int    argc,
                          char **argv)
{
  g_autoptr(GOptionContext) options = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) init = NULL;
  g_autoptr(GVariant) config_v = NULL;
  g_autoptr(OrreryConfig) config = NULL;
  g_autoptr(OrreryEventBus) bus = NULL;
  g_autofree char *name = NULL;
  g_autofree char *module_path = NULL;
  GModule *module;
  gpointer symbol = NULL;
  const char *sent_name;
  GVariantIter iter;
  const char *group, *key, *value;
  Child child = { SOCKET_FD, NULL, NULL, NULL, NULL, NULL, NULL, 1, NULL, G_QUEUE_INIT, 0, FALSE, 0,
                  NULL, NULL };
  gboolean ok, has_orchestrator = FALSE;
  const GOptionEntry entries[] = {
    { "name", 0, 0, G_OPTION_ARG_STRING, &name, "The plugin's name", "NAME" },
    { NULL }
  };

  /* Dies with the host. */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  options = g_option_context_new ("- run one Orrery plugin for its host (started by orrery)");
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error) || name == NULL)
    {
      g_printerr ("orrery-plugin-host: %s\n", error ? error->message : "--name is required");
      return 2;
    }
  if (fcntl (SOCKET_FD, F_GETFD) < 0 || fcntl (PLUGIN_FD, F_GETFD) < 0)
    {
      g_printerr ("orrery-plugin-host: started without its descriptors (only orrery starts it)\n");
      return 2;
    }
  fcntl (SOCKET_FD, F_SETFD, FD_CLOEXEC);
  fcntl (PAGE_FD, F_SETFD, FD_CLOEXEC);
  child.page = mmap (NULL, sizeof (SharedPage), PROT_READ | PROT_WRITE, MAP_SHARED, PAGE_FD, 0);
  if (child.page == MAP_FAILED)
    child.page = NULL;
  close (PAGE_FD);
  child.in = g_byte_array_new ();
  child.out = g_byte_array_new ();
  child.observers = g_ptr_array_new_with_free_func (child_observer_free);

  init = child_read_init (&child);
  if (init == NULL)
    return 1;
  g_variant_get (init, "(&s@a(sss)b)", &sent_name, &config_v, &has_orchestrator);
  g_log_set_writer_func (child_log_writer, &child, NULL);
  config = orrery_config_new ();
  g_variant_iter_init (&iter, config_v);
  while (g_variant_iter_next (&iter, "(&s&s&s)", &group, &key, &value))
    orrery_config_set_override (config, group, key, value);

  /* The private copy the host checked, never the path. */
  module_path = g_strdup_printf ("/proc/self/fd/%d", PLUGIN_FD);
  module = g_module_open (module_path, G_MODULE_BIND_LOCAL | G_MODULE_BIND_LAZY);
  if (module == NULL || !g_module_symbol (module, ORRERY_PLUGIN_SYMBOL, &symbol) ||
      symbol == NULL || ((const OrreryPluginDescriptor *) symbol)->init == NULL)
    {
      g_autofree char *message = g_strdup_printf ("cannot load it in its helper: %s",
                                                  module ? "no descriptor" : g_module_error ());

      child_send (&child, WIRE_INIT_DONE, 0, g_variant_new ("(bs)", FALSE, message));
      return 1;
    }
  g_module_make_resident (module);
  child.descriptor = symbol;

  bus = orrery_event_bus_new ();
  if (has_orchestrator)
    {
      g_autoptr(OrreryDeviceManager) devices = orrery_device_manager_new ();

      child.orch = orrery_orchestrator_new (bus, devices);
      _orrery_orchestrator_set_remote (child.orch, &child_remote, &child);
    }
  child.context = _orrery_plugin_context_new (bus, child.orch, config, name, child.descriptor);
  _orrery_plugin_context_set_observer_hook (child.context, child_observer_hook, &child);
  ok = _orrery_plugin_context_configure (child.context, &error) &&
       child.descriptor->init (child.context, &error);
  /* A plugin that did not take the orchestrator cannot act on the host
   * from its handlers: the host need not await its sync answers
   * (ORRERY_ISOLATION_AWAIT=1: it always does, for comparisons). */
  if (ok && !_orrery_plugin_context_orchestrator_asked (child.context) &&
      g_strcmp0 (g_getenv ("ORRERY_ISOLATION_AWAIT"), "1") != 0)
    {
      child.posting = TRUE;
      child_send (&child, WIRE_POST, 0, g_variant_new ("()"));
    }
  child_send (&child, WIRE_INIT_DONE, 0,
              g_variant_new ("(bs)", ok, ok ? "" : error ? error->message : "no reason given"));
  g_clear_error (&error);

  if (ok)
    {
      child.loop = g_main_loop_new (NULL, FALSE);
      child_watch_new (&child);
      if (child.in->len > 0)
        child_kick (&child);
      g_main_loop_run (child.loop);
      g_source_destroy (child.watch);
      g_clear_pointer (&child.watch, g_source_unref);
    }
  else
    child.status = 1;
  g_clear_handle_id (&child.kick_idle, g_source_remove);
  g_clear_pointer (&child.loop, g_main_loop_unref);
  g_ptr_array_unref (child.observers);
  g_object_run_dispose (G_OBJECT (child.context));
  g_object_unref (child.context);
  g_clear_object (&child.orch);
  g_clear_object (&child.mirror);
  g_queue_clear_full (&child.deferred, deferred_free);
  g_byte_array_unref (child.in);
  g_byte_array_unref (child.out);
  return child.status;
}
