/* orrery-journal.c: the run's events, appended to a file as JSON Lines.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-Journal"

#ifndef _GNU_SOURCE
# define _GNU_SOURCE   /* F_OFD_SETLK */
#endif
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-glib/json-glib.h>

#include "orrery-private.h"
#include "orrery-constellation-private.h"
#include "orrery-journal-private.h"

/* Flushed at once past this size; otherwise by the timer. */
#define FLUSH_BYTES     (64 * 1024)
#define FLUSH_DELAY_MS  5
/* A finished task is written at most this long after it finished. */
#define TASK_END_DELAY_US 1000
/* Handed to the writer thread and not yet written, at most: past it the
 * main context waits for the thread (the header, being written, is not
 * counted: records wait behind it up to this much). */
#define QUEUED_BYTES_MAX (16 * 1024 * 1024)
/* Written buffers kept for the next hand-offs, at most. */
#define SPARE_BUFFERS   4
/* JournalSync=batch: what is written is synced this long after the first
 * write since the last sync (one fdatasync for every record of the
 * window), and at once at run-level events. */
#define SYNC_DELAY_MS   10

/* Two threads of the journal's (a journal of a regular file, JournalSync
 * none or batch), sharing one lock:
 *
 * - The writer writes the buffers the main context hands it, in order:
 *   the header (the constellation-started buffer: 95 MB for a million
 *   tasks, a write() of 65 to 220 ms here), then every 64 KiB or
 *   millisecond of records. Copying them into the page cache is most of
 *   what a journal costs the kernel (a million tasks write 370 MB: 0.8 s
 *   of system time on the main thread when it wrote them itself); the
 *   tasks run meanwhile. A write that cannot wait (a run-level event, the
 *   start of a task a buffered end made ready, close) waits until the
 *   writer has written what it was handed, then is made on the main
 *   context, so the file's order is the bus's and the record is in the
 *   kernel when the observer after the journal hears of it.
 *
 * - The syncer (batch) makes the windows' fdatasync calls: one takes
 *   milliseconds on a real disk (a median of 3.35 ms on a 300-chain of
 *   `true` here), and nothing would be dispatched while the main context
 *   waited for it. A write (the writer's or the main context's) opens a
 *   window if none is open; the syncer waits it out, then syncs; the
 *   header's sync it makes at once. Run-level events and close still sync
 *   on the main context, before the next observer hears of them. */
typedef struct
{
  GString *text;
  GString *body;        /* or NULL: written inside text, */
  gsize    split;       /* at this offset */
  gboolean sync_at_once;
} Chunk;

typedef struct
{
  GMutex   lock;
  int      fd;
  gboolean batch;       /* writes open windows */
  gboolean quit;

  /* The syncer */
  GThread *thread;
  GCond    cond;
  gboolean requested;   /* a window is open */
  gboolean at_once;     /* no window: sync now (the header) */
  int      errsv;       /* of the first failed fdatasync */
  guint64  n_syncs;

  /* The writer */
  GThread *writer;
  GCond    wcond;       /* to the writer: a chunk, or quit */
  GCond    written;     /* from it: a chunk written, or room in the queue */
  GQueue   chunks;      /* to write, in order */
  gsize    queued;      /* their bytes */
  gboolean writing;     /* one is being written */
  gboolean idle;        /* the writer waits on wcond (a hand-off signals it) */
  gboolean main_waits;  /* the main context waits on written */
  int      write_errsv; /* of the first failed write */
  guint64  bytes;       /* it wrote */
  GPtrArray *spare;     /* written buffers, for the next hand-offs */
} Syncer;

struct _OrreryJournal
{
  GObject             parent_instance;

  char               *path;          /* for messages */
  char               *run_id;
  int                 fd;
  gboolean            own_fd;
  gboolean            can_sync;      /* a regular file */
  gboolean            resumed;       /* appending to an existing journal */
  gboolean            started;       /* constellation-started seen */
  gboolean            unsynced;      /* written, not yet synced */
  gboolean            task_end_pending; /* a finished task in buf */
  GString            *header_body;    /* the prepared body, for the thread to write */
  gsize               header_split;   /* where it goes in buf */
  GHashTable         *awaited;       /* ids whose start writes buf first (see note_task_end()) */
  gint64              last_write_us;
  guint64             n_syncs;       /* fdatasync calls made */
  OrreryJournalSync   sync;
  GString            *buf;
  guint64             next_seq;
  guint64             bytes_written;
  GError             *error;
  char              **retried;       /* run-resumed record */
  GPtrArray          *header_members; /* name, value, name, value... */

  /* orrery_journal_prepare(): the header's constellation past its head,
   * formatted before the run, and what it was made from. */
  GString            *prepared;
  OrreryConstellation *prepared_for;
  guint64             prepared_version;
  guint               prepared_n_tasks;
  guint               prepared_n_deps;
  guint               prepared_counts[ORRERY_TASK_STATUS_SKIPPED + 1];

  GVariant           *memo_result;   /* see append_result() */
  GString            *memo_text;

  GMainContext       *context;
  GSource            *timer;         /* writes the buffer */
  Syncer             *syncer;        /* writes and syncs (see Syncer) */
  OrreryEventBus     *bus;
  guint               subscription;
  GWeakRef            orchestrator;

  /* The tasks edits added, as they were at the edit, for the
   * constellation-modified records still to come (see on_modified()). */
  OrreryConstellation *edited;
  gulong              modified_id;
  GQueue              snapshots;     /* of EditSnapshot */
};

typedef struct
{
  GVariant   *mods;                   /* the edit's modifications */
  GHashTable *tasks;                  /* added task id -> its JSON */
} EditSnapshot;

/**
 * OrreryJournal:
 *
 * The run's events, appended to a file as JSON Lines.
 *
 * One compact JSON object per line, in the bus's delivery order (the total
 * order every observer sees). The first record (`"type":"header"`) holds
 * the format version, the run id and the constellation as the run started
 * (the JSON the SDK writes for a constellation); every event after it is
 * one record with its own journal sequence number (`seq`, consecutive from
 * 1, going on across resumes). `constellation-modified` records carry the
 * edits with what they need to be applied again (the added task, the
 * changes as GVariant text), so the records alone rebuild the DAG.
 *
 * The hot path: each record is formatted by hand into one buffer (no JSON
 * tree), and the buffer goes to the file in one write() at a task's end
 * (retrying, completed, failed, cancelled, skipped: what a resume must not
 * lose; within a millisecond when the last write was less than that ago,
 * and before a task it made ready, or its own next attempt, starts), at
 * run-level events, when it is
 * large, or when a short timer fires; task-started records ride along
 * with the next write. With JournalSync=batch a thread syncs, once per
 * SYNC_DELAY_MS window that saw a write, everything written by then
 * (the main context only signals it when a window opens) and the header
 * at once, and the later run-level events fdatasync on the main context;
 * with always, every record is
 * written and synced on the main context. A
 * write error is sticky: nothing more is written, #OrreryJournal::failed
 * is emitted and the orchestrator given with
 * orrery_journal_set_orchestrator() fails its run.
 */
G_DEFINE_FINAL_TYPE (OrreryJournal, orrery_journal, G_TYPE_OBJECT)

enum {
  SIGNAL_FAILED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_QUARK (orrery-journal-error-quark, orrery_journal_error)

/* ------------------------------------------------------------------------ */
/* JSON, by hand */

/* Appends @n bytes; while there is room (nearly always: the buffer is
 * sized for a batch of records), without a call into GLib. */
static inline void
buf_append (GString    *s,
            const char *p,
            gsize       n)
{
  if (G_LIKELY (s->len + n < s->allocated_len))
    {
      memcpy (s->str + s->len, p, n);
      s->len += n;
      s->str[s->len] = '\0';
    }
  else
    g_string_append_len (s, p, n);
}

#define APPEND_LIT(s, lit) buf_append ((s), "" lit, sizeof (lit) - 1)

static inline void
append_cstr (GString    *s,
             const char *str)
{
  buf_append (s, str, strlen (str));
}

/* Two digits per division: a record's sequence number and time stamp
 * (16 digits) are formatted in every record. */
static const char digit_pairs[] =
  "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
  "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
  "8081828384858687888990919293949596979899";

static void
append_uint (GString *s,
             guint64  v)
{
  char buf[24];
  char *p = buf + sizeof buf;

  while (v >= 100)
    {
      p -= 2;
      memcpy (p, digit_pairs + (v % 100) * 2, 2);
      v /= 100;
    }
  if (v >= 10)
    {
      p -= 2;
      memcpy (p, digit_pairs + v * 2, 2);
    }
  else
    *--p = '0' + (char) v;
  buf_append (s, p, buf + sizeof buf - p);
}

static void
append_int (GString *s,
            gint64   v)
{
  if (v < 0)
    {
      g_string_append_c (s, '-');
      /* -(v + 1) + 1: no overflow for G_MININT64 */
      append_uint (s, (guint64) -(v + 1) + 1);
    }
  else
    append_uint (s, (guint64) v);
}

void
_orrery_json_append_string (GString    *s,
                            const char *str)
{
  const guchar *p = (const guchar *) str;
  const guchar *run;

  g_string_append_c (s, '"');
  if (str == NULL)
    {
      g_string_append_c (s, '"');
      return;
    }
  run = p;
  while (*p)
    {
      if (G_LIKELY (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\'))
        {
          p++;
          continue;
        }
      buf_append (s, (const char *) run, p - run);
      if (*p >= 0x80)
        {
          /* Valid UTF-8 goes through; a bad byte becomes U+FFFD. */
          const char *end;
          gsize left = strlen ((const char *) p);
          gsize n = 1;

          while (n < 4 && n < left && (p[n] & 0xC0) == 0x80)
            n++;
          if (g_utf8_validate ((const char *) p, n, &end) && (gsize) (end - (const char *) p) == n)
            {
              g_string_append_len (s, (const char *) p, n);
              p += n;
            }
          else
            {
              APPEND_LIT (s, "\\ufffd");
              p++;
            }
        }
      else
        {
          switch (*p)
            {
            case '"': APPEND_LIT (s, "\\\""); break;
            case '\\': APPEND_LIT (s, "\\\\"); break;
            case '\n': APPEND_LIT (s, "\\n"); break;
            case '\r': APPEND_LIT (s, "\\r"); break;
            case '\t': APPEND_LIT (s, "\\t"); break;
            default: g_string_append_printf (s, "\\u%04x", *p); break;
            }
          p++;
        }
      run = p;
    }
  buf_append (s, (const char *) run, p - run);
  g_string_append_c (s, '"');
}

static void
append_double (GString *s,
               gdouble  d)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (!isfinite (d))
    {
      APPEND_LIT (s, "null");
      return;
    }
  g_ascii_dtostr (buf, sizeof buf, d);
  g_string_append (s, buf);
  /* Keep doubles doubles when read back. */
  if (strpbrk (buf, ".eEn") == NULL)
    APPEND_LIT (s, ".0");
}

void
_orrery_json_append_variant (GString  *s,
                             GVariant *v)
{
  const GVariantType *type;

  if (v == NULL)
    {
      APPEND_LIT (s, "null");
      return;
    }
  type = g_variant_get_type (v);
  switch (g_variant_classify (v))
    {
    case G_VARIANT_CLASS_BOOLEAN:
      if (g_variant_get_boolean (v))
        APPEND_LIT (s, "true");
      else
        APPEND_LIT (s, "false");
      return;
    case G_VARIANT_CLASS_BYTE:
      append_uint (s, g_variant_get_byte (v));
      return;
    case G_VARIANT_CLASS_INT16:
      append_int (s, g_variant_get_int16 (v));
      return;
    case G_VARIANT_CLASS_UINT16:
      append_uint (s, g_variant_get_uint16 (v));
      return;
    case G_VARIANT_CLASS_INT32:
      append_int (s, g_variant_get_int32 (v));
      return;
    case G_VARIANT_CLASS_UINT32:
      append_uint (s, g_variant_get_uint32 (v));
      return;
    case G_VARIANT_CLASS_INT64:
      append_int (s, g_variant_get_int64 (v));
      return;
    case G_VARIANT_CLASS_UINT64:
      append_uint (s, g_variant_get_uint64 (v));
      return;
    case G_VARIANT_CLASS_HANDLE:
      append_int (s, g_variant_get_handle (v));
      return;
    case G_VARIANT_CLASS_DOUBLE:
      append_double (s, g_variant_get_double (v));
      return;
    case G_VARIANT_CLASS_STRING:
    case G_VARIANT_CLASS_OBJECT_PATH:
    case G_VARIANT_CLASS_SIGNATURE:
      _orrery_json_append_string (s, g_variant_get_string (v, NULL));
      return;
    case G_VARIANT_CLASS_VARIANT:
      {
        g_autoptr(GVariant) inner = g_variant_get_variant (v);

        _orrery_json_append_variant (s, inner);
        return;
      }
    case G_VARIANT_CLASS_MAYBE:
      {
        g_autoptr(GVariant) inner = g_variant_get_maybe (v);

        _orrery_json_append_variant (s, inner);
        return;
      }
    case G_VARIANT_CLASS_ARRAY:
      {
        gsize n = g_variant_n_children (v);
        gboolean dict = g_variant_type_is_dict_entry (g_variant_type_element (type));

        g_string_append_c (s, dict ? '{' : '[');
        for (gsize i = 0; i < n; i++)
          {
            g_autoptr(GVariant) child = g_variant_get_child_value (v, i);

            if (i > 0)
              g_string_append_c (s, ',');
            if (dict)
              {
                g_autoptr(GVariant) key = g_variant_get_child_value (child, 0);
                g_autoptr(GVariant) value = g_variant_get_child_value (child, 1);

                if (g_variant_is_of_type (key, G_VARIANT_TYPE_STRING) ||
                    g_variant_is_of_type (key, G_VARIANT_TYPE_OBJECT_PATH))
                  _orrery_json_append_string (s, g_variant_get_string (key, NULL));
                else
                  {
                    g_autofree char *k = g_variant_print (key, FALSE);

                    _orrery_json_append_string (s, k);
                  }
                g_string_append_c (s, ':');
                _orrery_json_append_variant (s, value);
              }
            else
              _orrery_json_append_variant (s, child);
          }
        g_string_append_c (s, dict ? '}' : ']');
        return;
      }
    case G_VARIANT_CLASS_TUPLE:
    case G_VARIANT_CLASS_DICT_ENTRY:
      {
        gsize n = g_variant_n_children (v);

        g_string_append_c (s, '[');
        for (gsize i = 0; i < n; i++)
          {
            g_autoptr(GVariant) child = g_variant_get_child_value (v, i);

            if (i > 0)
              g_string_append_c (s, ',');
            _orrery_json_append_variant (s, child);
          }
        g_string_append_c (s, ']');
        return;
      }
    }
  APPEND_LIT (s, "null");
}

/* Member names are ours: plain ASCII, no escaping needed. */
static void
append_member_name (GString    *s,
                    const char *name)
{
  APPEND_LIT (s, ",\"");
  append_cstr (s, name);
  APPEND_LIT (s, "\":");
}

#define append_member(s, lit) APPEND_LIT (s, ",\"" lit "\":")

static void
append_strv (GString            *s,
             const char * const *v)
{
  g_string_append_c (s, '[');
  for (guint i = 0; v != NULL && v[i] != NULL; i++)
    {
      if (i > 0)
        g_string_append_c (s, ',');
      _orrery_json_append_string (s, v[i]);
    }
  g_string_append_c (s, ']');
}

static const char *
enum_nick (GType type,
           gint  value)
{
  GEnumClass *klass = g_type_class_ref (type);
  GEnumValue *ev = g_enum_get_value (klass, value);
  const char *nick = ev ? ev->value_nick : "unknown";

  g_type_class_unref (klass);
  return nick;
}

void
_orrery_json_append_error (GString      *s,
                           const GError *error)
{
  APPEND_LIT (s, "{\"domain\":");
  _orrery_json_append_string (s, g_quark_to_string (error->domain));
  g_string_append_printf (s, ",\"code\":%d,\"message\":", error->code);
  _orrery_json_append_string (s, error->message);
  g_string_append_c (s, '}');
}

static void
append_extra (GString    *s,
              JsonObject *extra)
{
  JsonObjectIter it;
  const char *k;
  JsonNode *v;

  if (extra == NULL)
    return;
  json_object_iter_init_ordered (&it, extra);
  while (json_object_iter_next_ordered (&it, &k, &v))
    {
      g_autofree char *text = json_to_string (v, FALSE);

      g_string_append_c (s, ',');
      _orrery_json_append_string (s, k);
      g_string_append_c (s, ':');
      g_string_append (s, text);
    }
}

/* A time in microseconds as seconds since the epoch, exactly: the
 * decimal of the microseconds (16 significant digits for this century),
 * which a reader turns back into the same double as usec / 1e6 (and its
 * fast path takes it: no strtod()). */
static void
append_time (GString    *s,
             const char *member,
             gint64      usec)
{
  char frac[8];
  guint f;
  int n = 6;

  if (usec <= 0)
    return;
  append_member_name (s, member);
  append_uint (s, (guint64) (usec / G_USEC_PER_SEC));
  f = (guint) (usec % G_USEC_PER_SEC);
  for (int i = 5; i >= 0; i--, f /= 10)
    frac[i] = '0' + f % 10;
  while (n > 1 && frac[n - 1] == '0')
    n--;
  g_string_append_c (s, '.');
  g_string_append_len (s, frac, n);
}

/* One task in the constellation's vocabulary (what
 * orrery_constellation_to_data() writes), compact: members without a value
 * or at the loader's default are left out, times are seconds since the epoch, and the task's own
 * dependency lists are left to the dependency lines. */
/* The text of the last task data written: tasks loaded from one file
 * share one GVariant for equal data (the loader's cache), so a million
 * `{"duration_ms": 0}` are formatted once. */
typedef struct
{
  GVariant *data;     /* not a reference: valid while the task holds it */
  gsize     offset;   /* its text in the string being written */
  gsize     len;
} DataMemo;

static void
append_task (GString    *s,
             OrreryTask *t,
             DataMemo   *memo)
{
  const GError *task_error;

  APPEND_LIT (s, "{\"task_id\":");
  _orrery_json_append_string (s, t->id);
  if (t->name)
    {
      append_member (s, "name");
      _orrery_json_append_string (s, t->name);
    }
  if (t->description)
    {
      append_member (s, "description");
      _orrery_json_append_string (s, t->description);
    }
  if (t->tips)
    {
      append_member (s, "tips");
      append_strv (s, (const char * const *) t->tips);
    }
  if (t->target_device_id)
    {
      append_member (s, "target_device_id");
      _orrery_json_append_string (s, t->target_device_id);
    }
  if (t->device_type)
    {
      append_member (s, "device_type");
      _orrery_json_append_string (s, t->device_type);
    }
  /* What the loader gives a task that does not say (medium priority,
   * pending, no retries, no attempt yet) is left out too: a million
   * tasks, 60 bytes each less to write and to read back. */
  if (t->priority != ORRERY_TASK_PRIORITY_MEDIUM)
    {
      APPEND_LIT (s, ",\"priority\":");
      append_uint (s, t->priority);
    }
  if (t->state.status != ORRERY_TASK_STATUS_PENDING)
    {
      APPEND_LIT (s, ",\"status\":\"");
      g_string_append (s, _orrery_task_status_ufo_name (t->state.status));
      g_string_append_c (s, '"');
    }
  if (t->state.result)
    {
      append_member (s, "result");
      _orrery_json_append_variant (s, t->state.result);
    }
  if ((task_error = _orrery_task_peek_error (t)) != NULL)
    {
      append_member (s, "error");
      _orrery_json_append_string (s, task_error->message);
    }
  if (t->timeout > 0)
    {
      append_member (s, "timeout");
      append_double (s, t->timeout);
    }
  if (t->retry_count > 0)
    {
      APPEND_LIT (s, ",\"retry_count\":");
      append_uint (s, t->retry_count);
    }
  if (t->state.attempt > 0)
    {
      APPEND_LIT (s, ",\"current_retry\":");
      append_uint (s, t->state.attempt);
    }
  if (t->task_data)
    {
      append_member (s, "task_data");
      if (memo != NULL && memo->data == t->task_data)
        {
          /* The string may move as it grows: copy by offset. */
          g_string_set_size (s, s->len + memo->len);
          memcpy (s->str + s->len - memo->len, s->str + memo->offset, memo->len);
        }
      else
        {
          gsize start = s->len;

          _orrery_json_append_variant (s, t->task_data);
          if (memo != NULL)
            {
              memo->data = t->task_data;
              memo->offset = start;
              memo->len = s->len - start;
            }
        }
    }
  append_time (s, "created_at", t->created_at);
  append_time (s, "execution_start_time", t->state.started_at);
  append_time (s, "execution_end_time", t->state.ended_at);
  append_extra (s, t->extra);
  g_string_append_c (s, '}');
}

static void
append_dependency (GString          *s,
                   OrreryDependency *d)
{
  APPEND_LIT (s, "{\"from_task_id\":");
  _orrery_json_append_string (s, d->from->id);
  append_member (s, "to_task_id");
  _orrery_json_append_string (s, d->to->id);
  APPEND_LIT (s, ",\"dependency_type\":\"");
  switch (d->type)
    {
    case ORRERY_DEPENDENCY_UNCONDITIONAL: APPEND_LIT (s, "unconditional"); break;
    case ORRERY_DEPENDENCY_SUCCESS_ONLY: APPEND_LIT (s, "success_only"); break;
    case ORRERY_DEPENDENCY_COMPLETION_ONLY: APPEND_LIT (s, "completion_only"); break;
    default: APPEND_LIT (s, "conditional"); break;
    }
  g_string_append_c (s, '"');
  if (d->condition_description)
    {
      append_member (s, "condition_description");
      _orrery_json_append_string (s, d->condition_description);
    }
  if (d->condition)
    {
      g_autoptr(JsonNode) node = _orrery_condition_to_json (d->condition);
      g_autofree char *text = json_to_string (node, FALSE);

      append_member (s, "condition");
      g_string_append (s, text);
    }
  append_extra (s, d->extra);
  g_string_append_c (s, '}');
}

/* The constellation as the run starts, in its own JSON vocabulary (the
 * SDK's loader reads it back), formatted by hand: json-glib's tree and
 * generator cost more than the whole run of a zero-duration task. In two
 * parts: the head (id, name, state, version: what the start changes) and
 * the body (tasks, dependencies, unknown members), which
 * orrery_journal_prepare() formats before the run. */
static void
append_constellation_head (GString             *s,
                           OrreryConstellation *c)
{
  APPEND_LIT (s, "{\"constellation_id\":");
  _orrery_json_append_string (s, c->id);
  if (c->name)
    {
      append_member (s, "name");
      _orrery_json_append_string (s, c->name);
    }
  append_member (s, "state");
  _orrery_json_append_string (s, orrery_constellation_state_to_nick (c->state));
  APPEND_LIT (s, ",\"version\":");
  append_uint (s, c->version);
}

static void
append_constellation_body (GString             *s,
                           OrreryConstellation *c)
{
  gboolean first = TRUE;
  DataMemo memo = { NULL, 0, 0 };

  APPEND_LIT (s, ",\"tasks\":[");
  for (guint i = 0; i < c->tasks->len; i++)
    {
      if (i > 0)
        g_string_append_c (s, ',');
      append_task (s, c->tasks->pdata[i], &memo);
    }
  APPEND_LIT (s, "],\"dependencies\":[");
  for (guint i = 0; i < c->tasks->len; i++)
    {
      OrreryTask *t = c->tasks->pdata[i];

      for (guint j = 0; j < t->state.n_in; j++)
        {
          if (!first)
            g_string_append_c (s, ',');
          first = FALSE;
          append_dependency (s, t->state.in[j]);
        }
    }
  g_string_append_c (s, ']');
  append_extra (s, c->extra);
  g_string_append_c (s, '}');
}

static void
append_constellation (GString             *s,
                      OrreryConstellation *c)
{
  append_constellation_head (s, c);
  append_constellation_body (s, c);
}

/* The same text for others in the SDK (the isolated helper's copy). */
char *
_orrery_constellation_to_compact_json (OrreryConstellation *c,
                                       gsize               *length)
{
  GString *s = g_string_sized_new (256 + 160 * (gsize) c->tasks->len);

  append_constellation (s, c);
  if (length != NULL)
    *length = s->len;
  return g_string_free (s, FALSE);
}

static void
append_task_json (GString    *s,
                  OrreryTask *task)
{
  g_autoptr(JsonNode) node = _orrery_task_to_json_node (task);
  g_autofree char *text = json_to_string (node, FALSE);

  g_string_append (s, text);
}

/* The modifications of constellation-modified, with what an added task
 * was (looked up in the constellation) and the changes of an update as
 * GVariant text too, so a reader applies them exactly. */
static void
append_modifications (GString             *s,
                      GVariant            *mods,
                      OrreryConstellation *c,
                      GHashTable          *added)
{
  gsize n = g_variant_n_children (mods);

  g_string_append_c (s, '[');
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) mod = g_variant_get_child_value (mods, i);
      const char *type = NULL, *task_id = NULL;
      g_autoptr(GVariant) changes = NULL;
      GVariantIter iter;
      const char *key;
      GVariant *value;
      gboolean first = TRUE;

      if (i > 0)
        g_string_append_c (s, ',');
      g_string_append_c (s, '{');
      g_variant_iter_init (&iter, mod);
      while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
        {
          if (!first)
            g_string_append_c (s, ',');
          first = FALSE;
          _orrery_json_append_string (s, key);
          g_string_append_c (s, ':');
          _orrery_json_append_variant (s, value);
          g_variant_unref (value);
        }
      g_variant_lookup (mod, "type", "&s", &type);
      g_variant_lookup (mod, "task_id", "&s", &task_id);
      if (g_strcmp0 (type, "add_task") == 0 && task_id != NULL &&
          added != NULL && g_hash_table_contains (added, task_id))
        {
          /* As it was when it was added: a later edit may have removed it. */
          APPEND_LIT (s, ",\"task\":");
          g_string_append (s, g_hash_table_lookup (added, task_id));
        }
      else if (g_strcmp0 (type, "add_task") == 0 && task_id != NULL && c != NULL)
        {
          OrreryTask *task = orrery_constellation_get_task (c, task_id);

          if (task != NULL)
            {
              APPEND_LIT (s, ",\"task\":");
              append_task_json (s, task);
            }
        }
      if (g_strcmp0 (type, "update_task") == 0 &&
          (changes = g_variant_lookup_value (mod, "changes", NULL)) != NULL)
        {
          g_autofree char *text = g_variant_print (changes, TRUE);

          APPEND_LIT (s, ",\"changes_variant\":");
          _orrery_json_append_string (s, text);
        }
      g_string_append_c (s, '}');
    }
  g_string_append_c (s, ']');
}

static void
clear_prepared (OrreryJournal *self)
{
  if (self->prepared != NULL)
    g_string_free (self->prepared, TRUE);
  self->prepared = NULL;
  g_clear_object (&self->prepared_for);
}

/* Whether the body orrery_journal_prepare() made is @c's as it is now:
 * the same constellation, with no edit, no task or dependency added or
 * removed and no task's status changed since (a resumed constellation's
 * interrupted tasks reset by the run's start change the counts). */
static gboolean
prepared_is_current (OrreryJournal       *self,
                     OrreryConstellation *c)
{
  return self->prepared != NULL && self->prepared_for == c &&
         self->prepared_version == c->version && self->prepared_n_tasks == c->tasks->len &&
         self->prepared_n_deps == c->n_deps &&
         memcmp (self->prepared_counts, c->status_counts, sizeof self->prepared_counts) == 0;
}

/* Whether the writer is to write the header (see Syncer). */
static gboolean
can_hand_header (OrreryJournal *self)
{
  return self->sync != ORRERY_JOURNAL_SYNC_ALWAYS && self->can_sync && self->error == NULL;
}

static void
append_header (OrreryJournal       *self,
               OrreryConstellation *c,
               gint64               ts)
{
  GString *s = self->buf;

  g_string_append_printf (s, "{\"journal\":\"orrery\",\"format\":%d,\"seq\":%" G_GUINT64_FORMAT
                          ",\"type\":\"header\",\"ts\":%" G_GINT64_FORMAT,
                          ORRERY_JOURNAL_FORMAT_VERSION, self->next_seq++, ts);
  append_member (s, "run_id");
  _orrery_json_append_string (s, self->run_id);
  for (guint i = 0; i + 1 < self->header_members->len; i += 2)
    {
      append_member_name (s, self->header_members->pdata[i]);
      _orrery_json_append_string (s, self->header_members->pdata[i + 1]);
    }
  /* Last, so a reader finds where the constellation's text starts. */
  append_member (s, "constellation");
  append_constellation_head (s, c);
  if (prepared_is_current (self, c) && can_hand_header (self))
    {
      /* Not copied: the thread writes it where it belongs. */
      self->header_body = g_steal_pointer (&self->prepared);
      self->header_split = s->len;
    }
  else if (prepared_is_current (self, c))
    g_string_append_len (s, self->prepared->str, self->prepared->len);
  else
    append_constellation_body (s, c);
  clear_prepared (self);
  APPEND_LIT (s, "}\n");
}

static void
append_resumed (OrreryJournal *self,
                gint64         ts)
{
  GString *s = self->buf;

  g_string_append_printf (s, "{\"seq\":%" G_GUINT64_FORMAT ",\"type\":\"run-resumed\",\"ts\":%"
                          G_GINT64_FORMAT, self->next_seq++, ts);
  append_member (s, "run_id");
  _orrery_json_append_string (s, self->run_id);
  append_member (s, "retried");
  append_strv (s, (const char * const *) self->retried);
  APPEND_LIT (s, "}\n");
}

/* Edits made from inside a bus handler (an agent answering an event)
 * publish their constellation-modified behind the event being delivered:
 * by the time it reaches the journal, a later edit may have removed the
 * task the first one added (or added another of the same id), and the
 * record could not say what was added. The constellation's "modified"
 * signal comes during the edit itself: then, and only when the event will
 * wait (the bus is dispatching), the added tasks are kept as JSON until
 * their record is written. */
static void
edit_snapshot_free (gpointer data)
{
  EditSnapshot *snap = data;

  g_variant_unref (snap->mods);
  g_hash_table_unref (snap->tasks);
  g_free (snap);
}

static void
on_modified (OrreryConstellation *c,
             GVariant            *mods,
             GStrv                on_task_ids,
             gpointer             user_data)
{
  OrreryJournal *self = user_data;
  EditSnapshot *snap;
  gsize n;

  if (self->bus == NULL || !orrery_event_bus_is_dispatching (self->bus) || mods == NULL)
    return;
  snap = g_new0 (EditSnapshot, 1);
  snap->mods = g_variant_ref (mods);
  snap->tasks = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  n = g_variant_n_children (mods);
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) mod = g_variant_get_child_value (mods, i);
      const char *type = NULL, *task_id = NULL;
      OrreryTask *task;

      if (!g_variant_lookup (mod, "type", "&s", &type) || g_strcmp0 (type, "add_task") != 0 ||
          !g_variant_lookup (mod, "task_id", "&s", &task_id) ||
          (task = orrery_constellation_get_task (c, task_id)) == NULL)
        continue;
      {
        GString *js = g_string_new (NULL);

        append_task_json (js, task);
        g_hash_table_replace (snap->tasks, g_strdup (task_id), g_string_free (js, FALSE));
      }
    }
  g_queue_push_tail (&self->snapshots, snap);
}

/* The snapshot of the edit @mods comes from, if one was kept; older ones
 * (edits whose event never came) are let go. */
static EditSnapshot *
take_snapshot (OrreryJournal *self,
               GVariant      *mods)
{
  GList *l;

  for (l = self->snapshots.head; l != NULL; l = l->next)
    if (((EditSnapshot *) l->data)->mods == mods)
      break;
  if (l == NULL)
    return NULL;
  for (;;)
    {
      EditSnapshot *snap = g_queue_pop_head (&self->snapshots);

      if (snap->mods == mods)
        return snap;
      edit_snapshot_free (snap);
    }
}

static void
watch_edits (OrreryJournal       *self,
             OrreryConstellation *c)
{
  if (self->edited == c)
    return;
  if (self->edited != NULL)
    g_clear_signal_handler (&self->modified_id, self->edited);
  g_clear_object (&self->edited);
  g_queue_clear_full (&self->snapshots, edit_snapshot_free);
  if (c == NULL)
    return;
  self->edited = g_object_ref (c);
  self->modified_id = g_signal_connect (c, "modified", G_CALLBACK (on_modified), self);
}

/* The width of the framing offsets in a serialised container of @size
 * bytes (GVariant's rule). */
static gsize
framing_size (gsize size)
{
  return size > G_MAXUINT32 ? 8 : size > G_MAXUINT16 ? 4 : size > G_MAXUINT8 ? 2 : size > 0 ? 1 : 0;
}

static gsize
read_offset (const guint8 *p,
             gsize         size)
{
  gsize v = 0;

  for (gsize i = 0; i < size; i++)
    v |= (gsize) p[i] << (8 * i);
  return v;
}

/* An `a{sv}` formatted from its serialised bytes, without a GVariant per
 * member (a local device's result is made serialised: walking it with
 * g_variant_get_child_value() made an instance of each key, value and
 * variant). Members whose value is not a string, an integer, a boolean
 * or a double go through _orrery_json_append_variant(). For a value in
 * normal form; every bound is checked all the same: FALSE, with nothing
 * appended, where one does not hold (the caller then walks the value). */
static gboolean
append_vardict_serialised (GString  *s,
                           GVariant *dict)
{
  const guint8 *data = g_variant_get_data (dict);
  gsize size = g_variant_get_size (dict), osz, n, table, start = 0;
  gsize mark = s->len;

  if (size == 0)
    {
      APPEND_LIT (s, "{}");
      return TRUE;
    }
  if (data == NULL)
    return FALSE;
  osz = framing_size (size);
  table = read_offset (data + size - osz, osz);   /* the last member's end */
  if (table > size || (size - table) % osz != 0)
    return FALSE;
  n = (size - table) / osz;
  g_string_append_c (s, '{');
  for (gsize i = 0; i < n; i++)
    {
      gsize end = read_offset (data + table + i * osz, osz), eosz, key_end, vstart, vend, t;
      const guint8 *e;
      const char *type;
      gsize type_len;

      if (end > table || end < start)
        goto bad;
      e = data + start;
      eosz = framing_size (end - start);
      if (end - start < eosz)
        goto bad;
      key_end = read_offset (data + end - eosz, eosz);
      if (key_end == 0 || key_end > end - start - eosz || e[key_end - 1] != '\0')
        goto bad;
      vstart = (key_end + 7) & ~(gsize) 7;
      vend = end - start - eosz;
      if (vstart > vend)
        goto bad;
      /* The variant: the value's bytes, a NUL, the value's type. */
      for (t = vend; t > vstart && e[t - 1] != '\0'; t--)
        ;
      if (t == vstart)
        goto bad;
      type = (const char *) e + t;
      type_len = vend - t;
      if (i > 0)
        g_string_append_c (s, ',');
      _orrery_json_append_string (s, (const char *) e);
      g_string_append_c (s, ':');
      {
        const guint8 *v = e + vstart;
        gsize vlen = t - 1 - vstart;

        if (type_len == 1 && type[0] == 's' && vlen > 0 && v[vlen - 1] == '\0')
          _orrery_json_append_string (s, (const char *) v);
        else if (type_len == 1 && type[0] == 'i' && vlen == 4)
          {
            gint32 x;

            memcpy (&x, v, 4);
            append_int (s, x);
          }
        else if (type_len == 1 && type[0] == 'x' && vlen == 8)
          {
            gint64 x;

            memcpy (&x, v, 8);
            append_int (s, x);
          }
        else if (type_len == 1 && type[0] == 'b' && vlen == 1 && v[0] <= 1)
          {
            if (v[0])
              APPEND_LIT (s, "true");
            else
              APPEND_LIT (s, "false");
          }
        else if (type_len == 1 && type[0] == 'd' && vlen == 8)
          {
            double x;

            memcpy (&x, v, 8);
            append_double (s, x);
          }
        else
          {
            g_autoptr(GVariant) member = g_variant_get_child_value (dict, i);
            g_autoptr(GVariant) boxed = g_variant_get_child_value (member, 1);

            _orrery_json_append_variant (s, boxed);
          }
      }
      start = (end + 7) & ~(gsize) 7;
    }
  g_string_append_c (s, '}');
  return TRUE;

bad:
  g_string_truncate (s, mark);
  return FALSE;
}

/* A task's result; the last one formatted is kept (a reference, so its
 * address is not reused) with its text: a device that gives every task
 * one shared result (the simulated device's `{"simulated": true}`) has it
 * formatted once. */
static void
append_result (OrreryJournal *self,
               GVariant      *result)
{
  GString *s = self->buf;
  gsize start = s->len;

  if (result == self->memo_result)
    {
      buf_append (s, self->memo_text->str, self->memo_text->len);
      return;
    }
  /* Normal form: cheap to ask of trusted values (every value GVariant's
   * constructors made, the local device's results), a whole check once of
   * bytes from elsewhere (g_variant_new_from_bytes() untrusted), whose
   * reading by GLib the walk below would then not match. */
  if (!g_variant_is_of_type (result, G_VARIANT_TYPE_VARDICT) ||
      !g_variant_is_normal_form (result) ||
      !append_vardict_serialised (s, result))
    _orrery_json_append_variant (s, result);
  g_clear_pointer (&self->memo_result, g_variant_unref);
  self->memo_result = g_variant_ref (result);
  if (self->memo_text == NULL)
    self->memo_text = g_string_sized_new (64);
  g_string_truncate (self->memo_text, 0);
  g_string_append_len (self->memo_text, s->str + start, s->len - start);
}

static void
append_event (OrreryJournal *self,
              OrreryEvent   *event)
{
  GString *s = self->buf;
  OrreryEventType type = _orrery_event_peek_type (event);
  const char *source = orrery_event_get_source_id (event);
  GVariant *data = orrery_event_get_data (event);

  APPEND_LIT (s, "{\"seq\":");
  append_uint (s, self->next_seq++);
  APPEND_LIT (s, ",\"type\":\"");
  append_cstr (s, orrery_event_type_to_nick (type));
  APPEND_LIT (s, "\",\"ts\":");
  append_uint (s, (guint64) MAX (orrery_event_get_timestamp (event), 0));
  if (source != NULL && strcmp (source, "orchestrator") != 0)
    {
      append_member (s, "source");
      _orrery_json_append_string (s, source);
    }

  if (ORRERY_EVENT_IS_TASK (event))
    {
      OrreryEvent *te = (OrreryEvent *) event;
      const char *device = orrery_event_get_device_id (te);
      GVariant *result = orrery_event_get_result (te);
      const GError *error = orrery_event_get_error (te);
      const char * const *ready = orrery_event_get_newly_ready (te);

      append_member (s, "task");
      _orrery_json_append_string (s, orrery_event_get_task_id (te));
      APPEND_LIT (s, ",\"status\":\"");
      append_cstr (s, orrery_task_status_to_nick (orrery_event_get_task_status (te)));
      APPEND_LIT (s, "\",\"attempt\":");
      append_uint (s, orrery_event_get_attempt (te));
      if (device != NULL)
        {
          append_member (s, "device");
          _orrery_json_append_string (s, device);
        }
      if (result != NULL)
        {
          append_member (s, "result");
          append_result (self, result);
        }
      if (error != NULL)
        {
          append_member (s, "error");
          _orrery_json_append_error (s, error);
        }
      if (ready != NULL && ready[0] != NULL)
        {
          append_member (s, "ready");
          append_strv (s, ready);
        }
    }
  else if (ORRERY_EVENT_IS_CONSTELLATION (event))
    {
      OrreryEvent *ce = (OrreryEvent *) event;
      const char * const *ready = orrery_event_get_newly_ready (ce);
      const char * const *on = orrery_event_get_on_task_ids (ce);
      GVariant *stats = orrery_event_get_statistics (ce);
      GVariant *mods = orrery_event_get_modifications (ce);

      append_member (s, "id");
      _orrery_json_append_string (s, orrery_event_get_constellation_id (ce));
      g_string_append_printf (s, ",\"state\":\"%s\"",
                              orrery_constellation_state_to_nick (orrery_event_get_constellation_state (ce)));
      if (type == ORRERY_EVENT_CONSTELLATION_COMPLETED || type == ORRERY_EVENT_CONSTELLATION_FAILED ||
          type == ORRERY_EVENT_CONSTELLATION_CANCELLED)
        {
          append_member (s, "duration");
          append_double (s, orrery_event_get_duration (ce));
        }
      if (stats != NULL)
        {
          g_autofree char *text = g_variant_print (stats, TRUE);

          append_member (s, "statistics");
          _orrery_json_append_variant (s, stats);
          append_member (s, "statistics_gvariant");
          _orrery_json_append_string (s, text);
        }
      if (mods != NULL)
        {
          EditSnapshot *snap = take_snapshot (self, mods);

          append_member (s, "modifications");
          append_modifications (s, mods, orrery_event_get_constellation (ce),
                                snap ? snap->tasks : NULL);
          if (snap != NULL)
            edit_snapshot_free (snap);
        }
      if (on != NULL && on[0] != NULL)
        {
          append_member (s, "on");
          append_strv (s, on);
        }
      if (ready != NULL && ready[0] != NULL)
        {
          append_member (s, "ready");
          append_strv (s, ready);
        }
    }
  else if (ORRERY_EVENT_IS_DEVICE (event))
    {
      OrreryEvent *de = (OrreryEvent *) event;

      append_member (s, "device");
      _orrery_json_append_string (s, orrery_event_get_device_id (de));
      append_member (s, "status");
      _orrery_json_append_string (s, enum_nick (ORRERY_TYPE_DEVICE_STATUS,
                                                orrery_event_get_device_status (de)));
    }
  if (data != NULL)
    {
      g_autofree char *text = g_variant_print (data, TRUE);

      append_member (s, "data");
      _orrery_json_append_variant (s, data);
      /* The exact types, for observers of a replay. */
      append_member (s, "data_gvariant");
      _orrery_json_append_string (s, text);
    }
  APPEND_LIT (s, "}\n");
}

/* ------------------------------------------------------------------------ */
/* Writing */

static void
fail (OrreryJournal *self,
      int            errsv,
      const char    *what)
{
  g_autoptr(OrreryOrchestrator) orch = NULL;

  if (self->error != NULL)
    return;
  self->error = g_error_new (ORRERY_JOURNAL_ERROR, ORRERY_JOURNAL_ERROR_IO,
                             "Cannot %s the journal “%s”: %s", what, self->path, g_strerror (errsv));
  g_string_truncate (self->buf, 0);
  g_object_ref (self);
  g_signal_emit (self, signals[SIGNAL_FAILED], 0, self->error);
  orch = g_weak_ref_get (&self->orchestrator);
  if (orch != NULL)
    orrery_orchestrator_fail (orch, self->error);
  g_object_unref (self);
}

static void request_sync_full (OrreryJournal *self,
                               gboolean       at_once);

/* write() until all of @len is written; adds to @done what was. Returns
 * 0 or the errno. */
static int
write_all (int         fd,
           const char *p,
           gsize       len,
           guint64    *done)
{
  while (len > 0)
    {
      gssize n = write (fd, p, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return n < 0 ? errno : ENOSPC;
      p += n;
      len -= n;
      *done += n;
    }
  return 0;
}

static int
write_chunk (int      fd,
             Chunk   *chunk,
             guint64 *done)
{
  GString *text = chunk->text, *body = chunk->body;
  gsize split = body != NULL ? chunk->split : text->len;
  int errsv = write_all (fd, text->str, split, done);

  if (errsv == 0 && body != NULL)
    errsv = write_all (fd, body->str, body->len, done);
  if (errsv == 0)
    errsv = write_all (fd, text->str + split, text->len - split, done);
  return errsv;
}

static gsize
chunk_len (Chunk *chunk)
{
  return chunk->text->len + (chunk->body != NULL ? chunk->body->len : 0);
}

/* Frees @chunk; its text is kept as a spare buffer if it is not the
 * header's (a buffer's size) and there is room. Under the lock. */
static void
chunk_free (Syncer *syncer,
            Chunk  *chunk)
{
  if (chunk->body == NULL && chunk->text->allocated_len <= 2 * (FLUSH_BYTES + 4096) &&
      syncer->spare->len < SPARE_BUFFERS)
    {
      g_string_truncate (chunk->text, 0);
      g_ptr_array_add (syncer->spare, chunk->text);
    }
  else
    g_string_free (chunk->text, TRUE);
  if (chunk->body != NULL)
    g_string_free (chunk->body, TRUE);
  g_free (chunk);
}

/* Opens a window if none is (with @at_once, the sync is made as soon as
 * the syncer can). Under the lock. */
static void
syncer_request (Syncer   *syncer,
                gboolean  at_once)
{
  if (syncer->thread == NULL)
    return;
  if (!syncer->requested || (at_once && !syncer->at_once))
    {
      syncer->requested = TRUE;
      syncer->at_once |= at_once;
      g_cond_signal (&syncer->cond);
    }
}

static gpointer
writer_thread (gpointer data)
{
  Syncer *syncer = data;

  g_mutex_lock (&syncer->lock);
  for (;;)
    {
      Chunk *chunk;
      int errsv;
      guint64 done = 0;

      while (syncer->chunks.length == 0 && !syncer->quit)
        {
          syncer->idle = TRUE;
          g_cond_wait (&syncer->wcond, &syncer->lock);
          syncer->idle = FALSE;
        }
      /* Quit comes after the main context took back what was left. */
      if (syncer->chunks.length == 0)
        break;
      chunk = g_queue_pop_head (&syncer->chunks);
      syncer->queued -= chunk_len (chunk);
      if (syncer->main_waits && syncer->queued + chunk_len (chunk) > QUEUED_BYTES_MAX)
        g_cond_broadcast (&syncer->written);   /* room again */
      if (syncer->write_errsv != 0)
        {
          /* Nothing more is written after a failed write. */
          chunk_free (syncer, chunk);
          continue;
        }
      syncer->writing = TRUE;
      g_mutex_unlock (&syncer->lock);
      errsv = write_chunk (syncer->fd, chunk, &done);
      g_mutex_lock (&syncer->lock);
      syncer->writing = FALSE;
      syncer->bytes += done;
      if (errsv != 0)
        syncer->write_errsv = errsv;
      else if (syncer->batch)
        syncer_request (syncer, chunk->sync_at_once);
      chunk_free (syncer, chunk);
      if (syncer->main_waits)
        g_cond_broadcast (&syncer->written);
    }
  g_mutex_unlock (&syncer->lock);
  return NULL;
}

static gpointer
syncer_thread (gpointer data)
{
  Syncer *syncer = data;

  g_mutex_lock (&syncer->lock);
  for (;;)
    {
      gint64 end;
      int r, errsv;

      while (!syncer->requested && !syncer->quit)
        g_cond_wait (&syncer->cond, &syncer->lock);
      if (syncer->quit)
        break;
      /* The window: what is written meanwhile rides along. */
      end = g_get_monotonic_time () + SYNC_DELAY_MS * G_TIME_SPAN_MILLISECOND;
      while (!syncer->quit && !syncer->at_once && g_cond_wait_until (&syncer->cond, &syncer->lock, end))
        ;
      if (syncer->quit)
        break;   /* close syncs on the main context */
      syncer->requested = FALSE;
      syncer->at_once = FALSE;
      g_mutex_unlock (&syncer->lock);
      r = fdatasync (syncer->fd);
      errsv = errno;
      g_mutex_lock (&syncer->lock);
      syncer->n_syncs++;
      if (r < 0 && syncer->errsv == 0)
        syncer->errsv = errsv;
    }
  g_mutex_unlock (&syncer->lock);
  return NULL;
}

/* Whether the threads write (a regular file, not synced at every record)
 * and are still to. */
static gboolean
can_hand (OrreryJournal *self)
{
  return self->sync != ORRERY_JOURNAL_SYNC_ALWAYS && self->can_sync && self->error == NULL &&
         self->fd >= 0;
}

static Syncer *
ensure_syncer (OrreryJournal *self)
{
  Syncer *syncer = self->syncer;

  if (syncer == NULL)
    {
      syncer = self->syncer = g_new0 (Syncer, 1);
      g_mutex_init (&syncer->lock);
      g_cond_init (&syncer->cond);
      g_cond_init (&syncer->wcond);
      g_cond_init (&syncer->written);
      g_queue_init (&syncer->chunks);
      syncer->spare = g_ptr_array_new ();
      syncer->fd = self->fd;
      syncer->batch = self->sync == ORRERY_JOURNAL_SYNC_BATCH;
      if (syncer->batch)
        syncer->thread = g_thread_new ("orrery-journal-sync", syncer_thread, syncer);
    }
  return syncer;
}

/* What failed in a thread fails the run (a write: at the next record
 * handed or written; a sync: at the latest at the run's end, whose sync
 * is the main context's). */
static gboolean
syncer_failed (OrreryJournal *self)
{
  int errsv, write_errsv;

  if (self->syncer == NULL)
    return FALSE;
  g_mutex_lock (&self->syncer->lock);
  errsv = self->syncer->errsv;
  write_errsv = self->syncer->write_errsv;
  g_mutex_unlock (&self->syncer->lock);
  if (write_errsv != 0)
    fail (self, write_errsv, "write");
  else if (errsv != 0)
    fail (self, errsv, "sync");
  return self->error != NULL;
}

/* The buffer's records left it (written, or handed to the writer): to
 * be synced, and no task start waits for them any more. */
static void
buffer_gone (OrreryJournal *self)
{
  self->unsynced = TRUE;   /* close syncs, whatever the threads did */
  self->last_write_us = g_get_monotonic_time ();
  self->task_end_pending = FALSE;
  if (self->awaited != NULL && g_hash_table_size (self->awaited) > 0)
    g_hash_table_remove_all (self->awaited);
}

/* The buffer goes to the writer (with @body written at @split inside it,
 * and with @sync_at_once synced at once, batch); the records that follow
 * start a new buffer. Waits for the writer when more than
 * QUEUED_BYTES_MAX is queued. */
static void
hand_buffer (OrreryJournal *self,
             GString       *body,
             gsize          split,
             gboolean       sync_at_once)
{
  Syncer *syncer = ensure_syncer (self);
  Chunk *chunk;
  int write_errsv;

  if (syncer->writer == NULL)
    syncer->writer = g_thread_new ("orrery-journal-write", writer_thread, syncer);
  chunk = g_new0 (Chunk, 1);
  chunk->text = self->buf;
  chunk->body = body;
  chunk->split = split;
  chunk->sync_at_once = sync_at_once;
  g_mutex_lock (&syncer->lock);
  g_queue_push_tail (&syncer->chunks, chunk);
  syncer->queued += chunk_len (chunk);
  /* A busy writer takes it without a wake-up (a system call each). */
  if (syncer->idle)
    g_cond_signal (&syncer->wcond);
  self->buf = syncer->spare->len > 0 ? g_ptr_array_steal_index_fast (syncer->spare, syncer->spare->len - 1)
                                     : g_string_sized_new (FLUSH_BYTES + 4096);
  /* Not for the header itself: it is the writer's as soon as it wakes. */
  while (body == NULL && syncer->queued > QUEUED_BYTES_MAX && syncer->write_errsv == 0)
    {
      syncer->main_waits = TRUE;
      g_cond_wait (&syncer->written, &syncer->lock);
      syncer->main_waits = FALSE;
    }
  write_errsv = syncer->write_errsv;
  g_mutex_unlock (&syncer->lock);
  buffer_gone (self);
  if (write_errsv != 0)
    fail (self, write_errsv, "write");
}

/* Waits until the writer has written everything handed to it (its
 * writes are what the main context would make itself, in its place):
 * then the main context writes what follows. */
static void
wait_writer (OrreryJournal *self)
{
  Syncer *syncer = self->syncer;
  int errsv;

  if (syncer == NULL || syncer->writer == NULL)
    return;
  g_mutex_lock (&syncer->lock);
  while ((syncer->writing || syncer->chunks.length > 0) && syncer->write_errsv == 0)
    {
      syncer->main_waits = TRUE;
      g_cond_wait (&syncer->written, &syncer->lock);
      syncer->main_waits = FALSE;
    }
  errsv = syncer->write_errsv;
  g_mutex_unlock (&syncer->lock);
  if (errsv != 0)
    fail (self, errsv, "write");
}

/* Writes what is buffered (after what the writer had yet to write); with
 * @sync, then fdatasyncs the file (what this write and every write
 * before it put there). */
static gboolean
write_buffer (OrreryJournal *self,
              gboolean       sync)
{
  int errsv;
  gsize len = self->buf->len;

  wait_writer (self);
  if (self->error != NULL || syncer_failed (self))
    return FALSE;
  errsv = write_all (self->fd, self->buf->str, len, &self->bytes_written);
  if (errsv != 0)
    {
      fail (self, errsv, "write");
      return FALSE;
    }
  g_string_truncate (self->buf, 0);
  if (len > 0)
    buffer_gone (self);
  if (sync && self->unsynced && self->can_sync)
    {
      self->n_syncs++;
      if (fdatasync (self->fd) < 0)
        {
          fail (self, errno, "sync");
          return FALSE;
        }
    }
  if (sync)
    self->unsynced = FALSE;
  else if (self->unsynced && self->sync == ORRERY_JOURNAL_SYNC_BATCH)
    request_sync_full (self, FALSE);
  return TRUE;
}

/* The buffer, to the kernel soon: by the writer when there is one and no
 * task start is to wait for a record in it (see note_task_end()), else
 * here. */
static void
flush_soon (OrreryJournal *self)
{
  if (self->buf->len == 0)
    return;
  if (can_hand (self) && (self->awaited == NULL || g_hash_table_size (self->awaited) == 0))
    {
      if (!syncer_failed (self))
        hand_buffer (self, NULL, 0, FALSE);
    }
  else
    write_buffer (self, FALSE);
}

static void
request_sync_full (OrreryJournal *self,
                   gboolean       at_once)
{
  Syncer *syncer;

  if (self->error != NULL || !self->can_sync || self->sync != ORRERY_JOURNAL_SYNC_BATCH)
    return;
  syncer = ensure_syncer (self);
  g_mutex_lock (&syncer->lock);
  syncer_request (syncer, at_once);
  g_mutex_unlock (&syncer->lock);
}

/* The header (with the prepared body, when there is one) goes to the
 * writer, then (batch) to the disk at once. */
static void
hand_header (OrreryJournal *self)
{
  hand_buffer (self, g_steal_pointer (&self->header_body), self->header_split,
               self->sync == ORRERY_JOURNAL_SYNC_BATCH);
}

/* Stops the threads (before the descriptor is closed), once the writer
 * has written what it was handed: what they had not synced yet is the
 * caller's to sync. */
static void
stop_syncer (OrreryJournal *self)
{
  Syncer *syncer = self->syncer;

  if (syncer == NULL)
    return;
  wait_writer (self);
  g_mutex_lock (&syncer->lock);
  syncer->quit = TRUE;
  g_cond_signal (&syncer->cond);
  g_cond_signal (&syncer->wcond);
  g_mutex_unlock (&syncer->lock);
  if (syncer->writer != NULL)
    g_thread_join (syncer->writer);
  if (syncer->thread != NULL)
    g_thread_join (syncer->thread);
  self->n_syncs += syncer->n_syncs;
  self->bytes_written += syncer->bytes;
  if (syncer->write_errsv != 0)
    fail (self, syncer->write_errsv, "write");
  else if (syncer->errsv != 0)
    fail (self, syncer->errsv, "sync");
  for (guint i = 0; i < syncer->spare->len; i++)
    g_string_free (syncer->spare->pdata[i], TRUE);
  g_ptr_array_unref (syncer->spare);
  g_mutex_clear (&syncer->lock);
  g_cond_clear (&syncer->cond);
  g_cond_clear (&syncer->wcond);
  g_cond_clear (&syncer->written);
  g_clear_pointer (&self->syncer, g_free);
}

static void arm_timer (OrreryJournal *self);

static gboolean
timer_cb (gpointer user_data)
{
  OrreryJournal *self = user_data;

  g_clear_pointer (&self->timer, g_source_unref);
  flush_soon (self);
  return G_SOURCE_REMOVE;
}

static void
disarm_timer (OrreryJournal *self)
{
  if (self->timer == NULL)
    return;
  g_source_destroy (self->timer);
  g_clear_pointer (&self->timer, g_source_unref);
}

static void
arm_timer (OrreryJournal *self)
{
  gint64 deadline = g_get_monotonic_time () +
                    (self->task_end_pending ? TASK_END_DELAY_US : FLUSH_DELAY_MS * 1000);

  if (self->timer != NULL && g_source_get_ready_time (self->timer) <= deadline)
    return;
  disarm_timer (self);
  self->timer = g_timeout_source_new (FLUSH_DELAY_MS);
  g_source_set_ready_time (self->timer, deadline);
  g_source_set_static_name (self->timer, "[orrery] journal flush");
  g_source_set_callback (self->timer, timer_cb, self, NULL);
  g_source_attach (self->timer, self->context);
}


static gboolean
is_task_end (OrreryEventType type)
{
  return type == ORRERY_EVENT_TASK_COMPLETED || type == ORRERY_EVENT_TASK_FAILED ||
         type == ORRERY_EVENT_TASK_CANCELLED || type == ORRERY_EVENT_TASK_SKIPPED ||
         type == ORRERY_EVENT_TASK_RETRYING;
}

static gboolean
is_run_level (OrreryEventType type)
{
  return type == ORRERY_EVENT_CONSTELLATION_STARTED || type == ORRERY_EVENT_CONSTELLATION_COMPLETED ||
         type == ORRERY_EVENT_CONSTELLATION_FAILED || type == ORRERY_EVENT_CONSTELLATION_CANCELLED ||
         type == ORRERY_EVENT_CONSTELLATION_MODIFIED;
}

/* A task end stays in the buffer (for up to a millisecond): the tasks it
 * made ready, and the task itself when it is to run again, are noted, and
 * the start of one of them writes the buffer first (what such a task does
 * relies on the finished one, and may kill the host). The start of a task
 * it did not make ready does not (a thousand independent tasks: a write a
 * millisecond, not one per task). */
static void
note_task_end (OrreryJournal   *self,
               OrreryEvent     *event,
               OrreryEventType  type)
{
  const char * const *ready = orrery_event_get_newly_ready (event);

  self->task_end_pending = TRUE;
  if ((ready == NULL || ready[0] == NULL) && type != ORRERY_EVENT_TASK_RETRYING)
    return;
  if (self->awaited == NULL)
    self->awaited = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; ready != NULL && ready[i] != NULL; i++)
    g_hash_table_add (self->awaited, g_strdup (ready[i]));
  if (type == ORRERY_EVENT_TASK_RETRYING && orrery_event_get_task_id (event) != NULL)
    g_hash_table_add (self->awaited, g_strdup (orrery_event_get_task_id (event)));
}

static gboolean
is_awaited (OrreryJournal *self,
            OrreryEvent   *event)
{
  const char *id = orrery_event_get_task_id (event);

  return self->awaited != NULL && id != NULL && g_hash_table_contains (self->awaited, id);
}

/**
 * orrery_journal_append_event:
 * @self: a journal
 * @event: an event, usually one the bus delivers
 * @error: return location for an error
 *
 * Appends @event as one record. Nothing is written before the first
 * `constellation-started` (which first writes the header, or the
 * `run-resumed` record of a resumed journal); events before it are
 * ignored. After a write error nothing more is written and every call
 * fails with that error.
 *
 * Returns: whether the record was taken (or ignored); %FALSE once the
 *   journal cannot be written
 */
gboolean
orrery_journal_append_event (OrreryJournal  *self,
                             OrreryEvent    *event,
                             GError        **error)
{
  OrreryEventType type;

  g_return_val_if_fail (ORRERY_IS_JOURNAL (self), FALSE);
  g_return_val_if_fail (event != NULL, FALSE);

  if (self->error != NULL)
    {
      if (error != NULL)
        *error = g_error_copy (self->error);
      return FALSE;
    }
  type = _orrery_event_peek_type (event);
  if (type == ORRERY_EVENT_CONSTELLATION_STARTED)
    watch_edits (self, orrery_event_get_constellation (event));
  if (!self->started)
    {
      OrreryConstellation *c;

      if (type != ORRERY_EVENT_CONSTELLATION_STARTED)
        return TRUE;
      self->started = TRUE;
      if (self->resumed)
        append_resumed (self, orrery_event_get_timestamp (event));
      else if ((c = orrery_event_get_constellation (event)) != NULL)
        append_header (self, c, orrery_event_get_timestamp (event));
      else
        {
          g_autoptr(OrreryConstellation) empty =
            orrery_constellation_new (orrery_event_get_constellation_id (event), NULL);

          append_header (self, empty, orrery_event_get_timestamp (event));
        }
    }
  append_event (self, event);
  if (type == ORRERY_EVENT_CONSTELLATION_COMPLETED || type == ORRERY_EVENT_CONSTELLATION_FAILED ||
      type == ORRERY_EVENT_CONSTELLATION_CANCELLED)
    watch_edits (self, NULL);

  if (self->header_body != NULL && !(type == ORRERY_EVENT_CONSTELLATION_STARTED && can_hand_header (self)))
    {
      /* Not the thread's after all: the body where it belongs. */
      if (self->error == NULL)
        g_string_insert_len (self->buf, self->header_split, self->header_body->str, self->header_body->len);
      g_string_free (g_steal_pointer (&self->header_body), TRUE);
    }
  if (type == ORRERY_EVENT_CONSTELLATION_STARTED && can_hand_header (self))
    {
      /* The header (the whole constellation: 95 MB for a million tasks)
       * goes to the file, then (batch) to the disk, in the sync thread: the
       * first tasks start meanwhile instead of waiting for the write (a
       * host crash while it is written loses the records behind it, the
       * tasks that ended in that time, as the millisecond's window below
       * does; a power loss, what the sync had not reached, as in any
       * window). */
      disarm_timer (self);
      hand_header (self);
    }
  else if (self->sync == ORRERY_JOURNAL_SYNC_ALWAYS || is_run_level (type))
    {
      disarm_timer (self);
      write_buffer (self, self->sync != ORRERY_JOURNAL_SYNC_NONE);
    }
  else if (type == ORRERY_EVENT_TASK_STARTED && self->task_end_pending && is_awaited (self, event))
    {
      /* What this task does relies on the end in the buffer (see
       * note_task_end()): in the kernel first. */
      write_buffer (self, FALSE);
    }
  else if (self->buf->len >= FLUSH_BYTES ||
           (is_task_end (type) && g_get_monotonic_time () - self->last_write_us >= TASK_END_DELAY_US))
    {
      /* A finished task goes to the kernel before the orchestrator goes
       * on (a crash of the host then loses nothing that finished): by the
       * writer (see Syncer), or here when a task it made ready is about to
       * start. Unless the last write was less than a millisecond ago: then
       * within a millisecond, by the timer, so a busy run makes few
       * syscalls, and in any case before a task it made ready starts. The
       * disk sync (batch) is the syncer's. An armed timer stays: when it
       * fires it writes what is pending, if anything, and goes (one timer
       * per millisecond of a busy run, not one per task). */
      if (is_task_end (type))
        note_task_end (self, event, type);
      flush_soon (self);
    }
  else if (is_task_end (type))
    note_task_end (self, event, type);
  if (self->error == NULL && self->buf->len > 0)
    arm_timer (self);

  if (self->error != NULL)
    {
      if (error != NULL)
        *error = g_error_copy (self->error);
      return FALSE;
    }
  return TRUE;
}

static gboolean
journal_handle (OrreryEvent  *event,
                gpointer      user_data,
                GError      **error)
{
  OrreryJournal *self = user_data;

  /* A write error is reported once, through the failed signal and the
   * orchestrator; the bus need not report it again for every event. */
  orrery_journal_append_event (self, event, NULL);
  return TRUE;
}

/**
 * orrery_journal_flush:
 * @self: a journal
 * @sync: also fdatasync the file (when it is a regular file)
 * @error: return location for an error
 *
 * Writes what is buffered.
 *
 * Returns: whether it was written
 */
gboolean
orrery_journal_flush (OrreryJournal  *self,
                      gboolean        sync,
                      GError        **error)
{
  g_return_val_if_fail (ORRERY_IS_JOURNAL (self), FALSE);

  disarm_timer (self);
  if (!write_buffer (self, sync))
    {
      if (error != NULL && self->error != NULL)
        *error = g_error_copy (self->error);
      return FALSE;
    }
  return TRUE;
}

/**
 * orrery_journal_close:
 * @self: a journal
 * @error: return location for an error
 *
 * Writes and syncs what is buffered, stops following the bus and closes
 * the file. Further events are not written.
 *
 * Returns: whether everything was written
 */
gboolean
orrery_journal_close (OrreryJournal  *self,
                      GError        **error)
{
  gboolean ok;

  g_return_val_if_fail (ORRERY_IS_JOURNAL (self), FALSE);

  if (self->bus != NULL && self->subscription != 0)
    orrery_event_bus_unsubscribe (self->bus, self->subscription);
  self->subscription = 0;
  g_clear_object (&self->bus);
  if (self->fd < 0)
    {
      if (self->error != NULL && error != NULL)
        *error = g_error_copy (self->error);
      return self->error == NULL;
    }
  stop_syncer (self);
  ok = orrery_journal_flush (self, self->sync != ORRERY_JOURNAL_SYNC_NONE, error);
  g_debug ("Journal “%s” closed: %" G_GUINT64_FORMAT " records, %" G_GUINT64_FORMAT " bytes, %"
           G_GUINT64_FORMAT " syncs (JournalSync=%s)", self->path, self->next_seq - 1,
           self->bytes_written, self->n_syncs, orrery_journal_sync_to_nick (self->sync));
  if (!self->own_fd && self->can_sync)
    {
      /* Closing our own descriptor drops the writer's lock; this one stays
       * open. */
      struct flock lk = { .l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };

      fcntl (self->fd, F_OFD_SETLK, &lk);
    }
  if (self->own_fd && close (self->fd) < 0 && ok)
    {
      fail (self, errno, "close");
      if (error != NULL)
        *error = g_error_copy (self->error);
      ok = FALSE;
    }
  self->fd = -1;
  return ok;
}

/* ------------------------------------------------------------------------ */
/* Construction */

static void
orrery_journal_dispose (GObject *object)
{
  OrreryJournal *self = ORRERY_JOURNAL (object);

  if (self->fd >= 0)
    orrery_journal_close (self, NULL);
  watch_edits (self, NULL);
  disarm_timer (self);
  stop_syncer (self);
  g_weak_ref_set (&self->orchestrator, NULL);
  G_OBJECT_CLASS (orrery_journal_parent_class)->dispose (object);
}

static void
orrery_journal_finalize (GObject *object)
{
  OrreryJournal *self = ORRERY_JOURNAL (object);

  g_weak_ref_clear (&self->orchestrator);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_string_free (self->buf, TRUE);
  g_clear_pointer (&self->memo_result, g_variant_unref);
  g_clear_pointer (&self->awaited, g_hash_table_unref);
  if (self->memo_text != NULL)
    g_string_free (self->memo_text, TRUE);
  g_ptr_array_unref (self->header_members);
  clear_prepared (self);
  if (self->header_body != NULL)
    g_string_free (self->header_body, TRUE);
  g_strfreev (self->retried);
  g_clear_error (&self->error);
  g_free (self->path);
  g_free (self->run_id);
  G_OBJECT_CLASS (orrery_journal_parent_class)->finalize (object);
}

static void
orrery_journal_class_init (OrreryJournalClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = orrery_journal_dispose;
  object_class->finalize = orrery_journal_finalize;

  /**
   * OrreryJournal::failed:
   * @self: the journal
   * @error: why it cannot be written
   *
   * Emitted once, at the first write error; nothing more is written.
   */
  signals[SIGNAL_FAILED] = g_signal_new ("failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                         0, NULL, NULL, NULL, G_TYPE_NONE, 1,
                                         G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
orrery_journal_init (OrreryJournal *self)
{
  self->fd = -1;
  self->sync = ORRERY_JOURNAL_SYNC_BATCH;
  self->buf = g_string_sized_new (FLUSH_BYTES + 4096);
  self->next_seq = 1;
  self->header_members = g_ptr_array_new_with_free_func (g_free);
  self->context = g_main_context_ref_thread_default ();
  g_weak_ref_init (&self->orchestrator, NULL);
}

static char *
make_run_id (void)
{
  return g_strdup_printf ("run-%08x", g_random_int ());
}

/* The writer's lock: an open file description (OFD) write lock on the
 * whole file, held from the journal's creation to its close. The kernel
 * drops it when the writer's process ends, however it ends (SIGKILL
 * included), and it belongs to the open file, not to a pid that could be
 * reused: `orrery watch` waits on it to learn that the writer is gone, and
 * a second writer (two `orrery resume` of one run) is refused. A reader
 * that takes it for a moment (a watch checking) is waited for, briefly. */
static gboolean
take_writer_lock (int          fd,
                  const char  *path,
                  GError     **error)
{
  struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };

  for (guint attempt = 0; attempt < 200; attempt++)
    {
      struct flock probe = lk;

      if (fcntl (fd, F_OFD_SETLK, &lk) == 0)
        return TRUE;
      if (errno != EAGAIN && errno != EACCES)
        return TRUE;   /* a file system without locks: no lock, no refusal */
      if (fcntl (fd, F_OFD_GETLK, &probe) == 0 && probe.l_type == F_WRLCK)
        break;
      g_usleep (1000);
    }
  g_set_error (error, ORRERY_JOURNAL_ERROR, ORRERY_JOURNAL_ERROR_BUSY,
               "Cannot write the journal “%s”: another process is writing it", path);
  return FALSE;
}

static OrreryJournal *
journal_new (int         fd,
             gboolean    own_fd,
             const char *name,
             const char *run_id)
{
  OrreryJournal *self = g_object_new (ORRERY_TYPE_JOURNAL, NULL);
  struct stat st;

  self->fd = fd;
  self->own_fd = own_fd;
  self->path = g_strdup (name);
  self->run_id = run_id ? g_strdup (run_id) : make_run_id ();
  self->can_sync = fstat (fd, &st) == 0 && S_ISREG (st.st_mode);
  return self;
}

static gboolean
io_error (GError     **error,
          int          errsv,
          const char  *what,
          const char  *path)
{
  g_set_error (error, ORRERY_JOURNAL_ERROR,
               errsv == EEXIST ? ORRERY_JOURNAL_ERROR_EXISTS : ORRERY_JOURNAL_ERROR_IO,
               "Cannot %s the journal “%s”: %s", what, path, g_strerror (errsv));
  return FALSE;
}

/**
 * orrery_journal_new:
 * @path: (type filename): the file to create; it must not exist
 * @run_id: (nullable): the run's id (a random one if %NULL)
 * @error: return location for an error
 *
 * Creates a new journal file, readable and writable by its owner only
 * (0600). Nothing is written to it before the run starts.
 *
 * Returns: (transfer full) (nullable): the journal, or %NULL with @error
 *   set (%ORRERY_JOURNAL_ERROR_EXISTS if the file exists)
 */
OrreryJournal *
orrery_journal_new (const char  *path,
                    const char  *run_id,
                    GError     **error)
{
  int fd;

  g_return_val_if_fail (path != NULL, NULL);

  fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      io_error (error, errno, "create", path);
      return NULL;
    }
  if (!take_writer_lock (fd, path, error))
    {
      close (fd);
      return NULL;
    }
  return journal_new (fd, TRUE, path, run_id);
}

/**
 * orrery_journal_new_for_fd:
 * @fd: a file descriptor open for writing (standard output, a pipe); the
 *   journal does not close it
 * @name: (nullable): what to call it in messages
 * @run_id: (nullable): the run's id (a random one if %NULL)
 * @error: return location for an error
 *
 * A journal written to @fd, from its current position.
 *
 * Returns: (transfer full) (nullable): the journal, or %NULL with @error set
 */
OrreryJournal *
orrery_journal_new_for_fd (int          fd,
                           const char  *name,
                           const char  *run_id,
                           GError     **error)
{
  struct stat st;

  if (fstat (fd, &st) < 0)
    {
      io_error (error, errno, "open", name ? name : "(file descriptor)");
      return NULL;
    }
  if (S_ISREG (st.st_mode) && !take_writer_lock (fd, name ? name : "(file descriptor)", error))
    return NULL;
  return journal_new (fd, FALSE, name ? name : "(file descriptor)", run_id);
}

/**
 * orrery_journal_open_append:
 * @path: (type filename): an existing journal, as read by
 *   #OrreryJournalReader
 * @run_id: the run id its header holds
 * @next_sequence: the sequence number of the next record (the last one
 *   read plus one)
 * @valid_length: the size of its complete lines: a torn last line past it
 *   is cut off before anything is appended; -1 to keep the file as it is
 * @error: return location for an error
 *
 * Opens a journal to continue its run (`orrery resume`). The first record
 * written, at the next `constellation-started`, is `run-resumed`
 * (see orrery_journal_set_resumed()).
 *
 * Returns: (transfer full) (nullable): the journal, or %NULL with @error set
 */
OrreryJournal *
orrery_journal_open_append (const char  *path,
                            const char  *run_id,
                            guint64      next_sequence,
                            goffset      valid_length,
                            GError     **error)
{
  OrreryJournal *self;
  int fd;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (run_id != NULL, NULL);
  g_return_val_if_fail (next_sequence > 1, NULL);

  fd = open (path, O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0)
    {
      io_error (error, errno, "open", path);
      return NULL;
    }
  /* Before anything is cut: a live writer's journal is left alone. */
  if (!take_writer_lock (fd, path, error))
    {
      close (fd);
      return NULL;
    }
  if (valid_length >= 0)
    {
      struct stat st;

      if (fstat (fd, &st) < 0 || (st.st_size > valid_length && ftruncate (fd, valid_length) < 0))
        {
          int errsv = errno;

          close (fd);
          io_error (error, errsv, "cut the torn last line of", path);
          return NULL;
        }
    }
  self = journal_new (fd, TRUE, path, run_id);
  self->resumed = TRUE;
  self->next_seq = next_sequence;
  return self;
}

/**
 * orrery_journal_set_sync:
 * @self: a journal
 * @sync: how hard to push records to the disk
 *
 * Sets the durability (%ORRERY_JOURNAL_SYNC_BATCH by default).
 */
void
orrery_journal_set_sync (OrreryJournal     *self,
                         OrreryJournalSync  sync)
{
  g_return_if_fail (ORRERY_IS_JOURNAL (self));
  g_return_if_fail (sync <= ORRERY_JOURNAL_SYNC_ALWAYS);
  self->sync = sync;
}

/**
 * orrery_journal_get_sync:
 * @self: a journal
 *
 * Returns: the durability setting
 */
OrreryJournalSync
orrery_journal_get_sync (OrreryJournal *self)
{
  g_return_val_if_fail (ORRERY_IS_JOURNAL (self), ORRERY_JOURNAL_SYNC_BATCH);
  return self->sync;
}

/**
 * orrery_journal_set_header_member:
 * @self: a journal
 * @name: a member name (ASCII letters, digits and `_`), not one the
 *   journal writes itself
 * @value: a string value
 *
 * Adds a string member to the header record (the host records the run
 * directory there). Only before the run starts.
 */
void
orrery_journal_set_header_member (OrreryJournal *self,
                                  const char    *name,
                                  const char    *value)
{
  g_return_if_fail (ORRERY_IS_JOURNAL (self));
  g_return_if_fail (name != NULL && value != NULL);
  g_return_if_fail (!self->started);
  for (const char *p = name; *p; p++)
    g_return_if_fail (g_ascii_isalnum (*p) || *p == '_');
  g_return_if_fail (!g_str_equal (name, "constellation") && !g_str_equal (name, "run_id") &&
                    !g_str_equal (name, "seq") && !g_str_equal (name, "type") &&
                    !g_str_equal (name, "format") && !g_str_equal (name, "journal") &&
                    !g_str_equal (name, "ts"));
  g_ptr_array_add (self->header_members, g_strdup (name));
  g_ptr_array_add (self->header_members, g_strdup (value));
}

/**
 * orrery_journal_set_resumed:
 * @self: a journal opened with orrery_journal_open_append()
 * @retried_task_ids: (array zero-terminated=1) (nullable): failed tasks
 *   that run again (`--retry-failed`)
 *
 * Sets what the `run-resumed` record says: a reader applies it as the
 * resumed run did (failed tasks listed go back to pending with what they
 * made skip, then running and cancelled ones).
 */
void
orrery_journal_set_resumed (OrreryJournal      *self,
                            const char * const *retried_task_ids)
{
  g_return_if_fail (ORRERY_IS_JOURNAL (self));
  g_return_if_fail (self->resumed);
  g_strfreev (self->retried);
  self->retried = g_strdupv ((char **) retried_task_ids);
}

/**
 * orrery_journal_prepare:
 * @self: a journal
 * @constellation: the constellation about to run
 *
 * Formats the header's constellation (its tasks and dependencies) now,
 * before the run, so that the journal's handler at `constellation-started`
 * only writes it: at a million tasks the formatting takes seconds, which
 * would hold up the bus (and every observer) inside that handler. Nothing
 * is written before the run starts.
 *
 * Call it right before orrery_orchestrator_run_async(). The header then
 * holds the tasks as they were here, with the constellation's id, name,
 * state and version as they are at the start. If the constellation
 * changes in between (an edit, a task or dependency added or removed, a
 * task's status), the handler formats it again; a change to a task's own
 * fields through its setters is not seen. A journal that continues a run
 * (orrery_journal_open_append()) writes no header and ignores this.
 */
void
orrery_journal_prepare (OrreryJournal       *self,
                        OrreryConstellation *constellation)
{
  g_return_if_fail (ORRERY_IS_JOURNAL (self));
  g_return_if_fail (ORRERY_IS_CONSTELLATION (constellation));

  clear_prepared (self);
  if (self->started || self->resumed)
    return;
  self->prepared = g_string_sized_new (256 + 160 * (gsize) constellation->tasks->len);
  append_constellation_body (self->prepared, constellation);
  self->prepared_for = g_object_ref (constellation);
  self->prepared_version = constellation->version;
  self->prepared_n_tasks = constellation->tasks->len;
  self->prepared_n_deps = constellation->n_deps;
  memcpy (self->prepared_counts, constellation->status_counts, sizeof self->prepared_counts);
}

/**
 * orrery_journal_attach:
 * @self: a journal
 * @bus: the bus whose events it records
 *
 * Subscribes the journal to every event of @bus, delivered synchronously
 * in the bus's order.
 *
 * Returns: the subscription id
 */
guint
orrery_journal_attach (OrreryJournal  *self,
                       OrreryEventBus *bus)
{
  g_autoptr(OrreryObserver) observer = NULL;

  g_return_val_if_fail (ORRERY_IS_JOURNAL (self), 0);
  g_return_val_if_fail (ORRERY_IS_EVENT_BUS (bus), 0);
  g_return_val_if_fail (self->bus == NULL, 0);

  observer = orrery_func_observer_new ("journal", journal_handle, self, NULL);
  self->bus = g_object_ref (bus);
  g_clear_pointer (&self->context, g_main_context_unref);
  self->context = g_main_context_ref (orrery_event_bus_get_context (bus));
  self->subscription = orrery_event_bus_subscribe (bus, observer, NULL, 0);
  return self->subscription;
}

/**
 * orrery_journal_set_orchestrator:
 * @self: a journal
 * @orchestrator: (nullable): the orchestrator whose run fails, through
 *   orrery_orchestrator_fail(), when the journal cannot be written
 *
 * A run whose journal cannot be written is not durable: it fails with
 * the journal's error instead of going on unrecorded. Kept as a weak
 * reference.
 */
void
orrery_journal_set_orchestrator (OrreryJournal      *self,
                                 OrreryOrchestrator *orchestrator)
{
  g_return_if_fail (ORRERY_IS_JOURNAL (self));
  g_return_if_fail (orchestrator == NULL || ORRERY_IS_ORCHESTRATOR (orchestrator));
  g_weak_ref_set (&self->orchestrator, orchestrator);
}

/**
 * orrery_journal_get_path:
 * @self: a journal
 *
 * Returns: (transfer none): the file's path (or the name given for a file
 *   descriptor)
 */
const char *
orrery_journal_get_path (OrreryJournal *self)
{
  g_return_val_if_fail (ORRERY_IS_JOURNAL (self), NULL);
  return self->path;
}

/**
 * orrery_journal_get_run_id:
 * @self: a journal
 *
 * Returns: (transfer none): the run id
 */
const char *
orrery_journal_get_run_id (OrreryJournal *self)
{
  g_return_val_if_fail (ORRERY_IS_JOURNAL (self), NULL);
  return self->run_id;
}

/**
 * orrery_journal_get_next_sequence:
 * @self: a journal
 *
 * Returns: the sequence number the next record gets
 */
guint64
orrery_journal_get_next_sequence (OrreryJournal *self)
{
  g_return_val_if_fail (ORRERY_IS_JOURNAL (self), 0);
  return self->next_seq;
}

/**
 * orrery_journal_get_bytes_written:
 * @self: a journal
 *
 * What the journal's writer thread writes (the header, and most records
 * of a busy run) counts once it is written (at the latest, when the
 * journal is closed).
 *
 * Returns: how many bytes went to the file so far
 */
guint64
orrery_journal_get_bytes_written (OrreryJournal *self)
{
  guint64 n;

  g_return_val_if_fail (ORRERY_IS_JOURNAL (self), 0);
  n = self->bytes_written;
  if (self->syncer != NULL)
    {
      g_mutex_lock (&self->syncer->lock);
      n += self->syncer->bytes;
      g_mutex_unlock (&self->syncer->lock);
    }
  return n;
}

/**
 * orrery_journal_get_sync_count:
 * @self: a journal
 *
 * How many times the journal synced its file to the disk (`fdatasync`)
 * so far: with %ORRERY_JOURNAL_SYNC_BATCH, once per run-level event and
 * at most once per 10 ms window that saw a write, however many records
 * it held.
 *
 * Returns: the number of syncs
 */
guint64
orrery_journal_get_sync_count (OrreryJournal *self)
{
  guint64 n;

  g_return_val_if_fail (ORRERY_IS_JOURNAL (self), 0);
  n = self->n_syncs;
  if (self->syncer != NULL)
    {
      g_mutex_lock (&self->syncer->lock);
      n += self->syncer->n_syncs;
      g_mutex_unlock (&self->syncer->lock);
    }
  return n;
}

/**
 * orrery_journal_get_error:
 * @self: a journal
 *
 * Returns: (transfer none) (nullable): the write error that stopped the
 *   journal, if any
 */
const GError *
orrery_journal_get_error (OrreryJournal *self)
{
  g_return_val_if_fail (ORRERY_IS_JOURNAL (self), NULL);
  return self->error;
}

/**
 * orrery_journal_sync_from_nick:
 * @nick: `none`, `batch` or `always`
 * @sync: (out): the value
 *
 * Returns: whether @nick names a setting
 */
gboolean
orrery_journal_sync_from_nick (const char        *nick,
                               OrreryJournalSync *sync)
{
  static const char *const nicks[] = { "none", "batch", "always" };

  g_return_val_if_fail (sync != NULL, FALSE);
  for (guint i = 0; nick != NULL && i < G_N_ELEMENTS (nicks); i++)
    if (g_ascii_strcasecmp (nick, nicks[i]) == 0)
      {
        *sync = (OrreryJournalSync) i;
        return TRUE;
      }
  return FALSE;
}

/**
 * orrery_journal_sync_to_nick:
 * @sync: a setting
 *
 * Returns: (transfer none): its nick
 */
const char *
orrery_journal_sync_to_nick (OrreryJournalSync sync)
{
  switch (sync)
    {
    case ORRERY_JOURNAL_SYNC_NONE: return "none";
    case ORRERY_JOURNAL_SYNC_BATCH: return "batch";
    case ORRERY_JOURNAL_SYNC_ALWAYS: return "always";
    }
  return "batch";
}

/**
 * orrery_journal_event_to_json:
 * @event: an event
 * @sequence: the `seq` member of the record
 *
 * Formats @event as one journal record, exactly as a journal writes it
 * (the same members and vocabulary), with @sequence as its `seq`: for
 * those who pass the run's events on elsewhere in the journal's schema
 * (the dashboard's WebSocket).
 *
 * Returns: (transfer full): one compact JSON object, without a newline
 */
char *
orrery_journal_event_to_json (OrreryEvent *event,
                              guint64      sequence)
{
  /* One scratch journal per thread (never opened), reused: a record costs
   * what it costs a journal, not an object and its 68 KiB buffer. */
  static GPrivate scratch_key = G_PRIVATE_INIT (g_object_unref);
  OrreryJournal *scratch;
  GString *s;

  g_return_val_if_fail (event != NULL, NULL);

  scratch = g_private_get (&scratch_key);
  if (scratch == NULL)
    {
      scratch = g_object_new (ORRERY_TYPE_JOURNAL, NULL);
      g_private_set (&scratch_key, scratch);
    }
  s = scratch->buf;
  g_string_truncate (s, 0);
  scratch->next_seq = sequence;
  append_event (scratch, event);
  if (s->len > 0 && s->str[s->len - 1] == '\n')
    g_string_truncate (s, s->len - 1);
  return g_strndup (s->str, s->len);
}
