/* orrery-journal-reader.c: reads a journal back, record by record.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-Journal"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <json-glib/json-glib.h>

#include "orrery-private.h"
#include "orrery-constellation-private.h"
#include "orrery-journal-private.h"
#include "orrery-journal.h"
#include "orrery-journal-reader.h"
#include "orrery-json-reader.h"

#define CHUNK (256 * 1024)
/* Records nested deeper are refused. */
#define MAX_DEPTH 512

struct _OrreryJournalReader
{
  GObject              parent_instance;

  char                *path;
  int                  fd;
  gboolean             follow;
  gboolean             eof;
  GString             *pending;      /* bytes read, not yet split */
  gsize                pending_pos;  /* start of the next line in pending */
  goffset              consumed;     /* file offset of pending_pos */
  guint64              line;         /* last line read */
  guint64              seq;          /* last sequence number */
  guint64              torn_line;

  char                *run_id;
  GHashTable          *header;       /* string members of the header */
  OrreryConstellation *constellation;
  guint                n_runs;
  gboolean             finished;
  OrreryEvent         *last_event;
  OrreryJsonArena     *arena;        /* the record being read */
  OrreryJsonReader     json;
  OrreryJsonVariantCache *shared;    /* results and data, shared when equal */
};

/**
 * OrreryJournalReader:
 *
 * Reads a journal back, record by record.
 *
 * Linear: the file is read in chunks and split into lines; each line is
 * parsed on its own (a small strict parser, below), turned into the event it records, and
 * applied to the constellation rebuilt from the header with the
 * constellation's own state changes (start, complete, fail, cancel,
 * requeue, edits), so the state after any record is the run's state after
 * that event. The whole file is never held, as text or as a tree.
 *
 * A last line without its newline is a write torn by a crash: it is
 * reported (orrery_journal_reader_get_torn_line()) and ignored; in follow
 * mode (`orrery watch`) it is kept until the rest of it arrives. Every
 * other fault is an error naming the file and the line.
 */
G_DEFINE_FINAL_TYPE (OrreryJournalReader, orrery_journal_reader, G_TYPE_OBJECT)

static void
orrery_journal_reader_finalize (GObject *object)
{
  OrreryJournalReader *self = ORRERY_JOURNAL_READER (object);

  if (self->fd >= 0)
    close (self->fd);
  g_string_free (self->pending, TRUE);
  g_clear_object (&self->constellation);
  g_clear_pointer (&self->last_event, orrery_event_unref);
  g_clear_pointer (&self->arena, _orrery_json_arena_free);
  _orrery_json_reader_clear (&self->json);
  _orrery_json_variant_cache_free (self->shared);
  g_clear_pointer (&self->header, g_hash_table_unref);
  g_free (self->run_id);
  g_free (self->path);
  G_OBJECT_CLASS (orrery_journal_reader_parent_class)->finalize (object);
}

static void
orrery_journal_reader_class_init (OrreryJournalReaderClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = orrery_journal_reader_finalize;
}

static void
orrery_journal_reader_init (OrreryJournalReader *self)
{
  self->fd = -1;
  self->pending = g_string_sized_new (CHUNK);
  self->header = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->arena = _orrery_json_arena_new ();
  _orrery_json_reader_init (&self->json, "", 0, MAX_DEPTH);
  self->shared = _orrery_json_variant_cache_new ();
}

/* ------------------------------------------------------------------------ */
/* Lines */

static gboolean G_GNUC_PRINTF (4, 5)
line_error (OrreryJournalReader  *self,
            GError              **error,
            OrreryJournalError    code,
            const char           *format,
            ...)
{
  va_list args;
  g_autofree char *msg = NULL;

  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, ORRERY_JOURNAL_ERROR, code, "%s:%" G_GUINT64_FORMAT ": %s",
               self->path, self->line, msg);
  return FALSE;
}

/* The next complete line (without its newline, NUL-terminated in place
 * of it), or NULL at the end of what is there (with *error unset) or on a
 * read error. It points into the reader's buffer: valid until the next
 * call (no copy of every line). */
static const char *
next_line (OrreryJournalReader  *self,
           gsize                *length,
           GError              **error)
{
  gsize searched = 0;   /* bytes after start known to hold no newline */

  for (;;)
    {
      const char *start = self->pending->str + self->pending_pos;
      gsize avail = self->pending->len - self->pending_pos;
      const char *nl = memchr (start + searched, '\n', avail - searched);
      gssize n;

      if (nl != NULL)
        {
          gsize len = nl - start;
          char *line = (char *) start;

          line[len] = '\0';
          self->pending_pos += len + 1;
          self->consumed += len + 1;
          self->line++;
          *length = len;
          return line;
        }
      /* Keep what is left at the front and read more. */
      searched = avail;
      if (self->pending_pos > 0)
        {
          g_string_erase (self->pending, 0, self->pending_pos);
          self->pending_pos = 0;
        }
      {
        gsize old = self->pending->len;

        g_string_set_size (self->pending, old + CHUNK);
        do
          n = read (self->fd, self->pending->str + old, CHUNK);
        while (n < 0 && errno == EINTR);
        g_string_set_size (self->pending, old + MAX (n, 0));
      }
      if (n < 0)
        {
          int errsv = errno;

          g_set_error (error, ORRERY_JOURNAL_ERROR, ORRERY_JOURNAL_ERROR_IO,
                       "Cannot read the journal “%s”: %s", self->path, g_strerror (errsv));
          return NULL;
        }
      if (n == 0)
        {
          self->eof = TRUE;
          if (self->pending->len > 0 && !self->follow)
            {
              /* A torn last line: reported, ignored. */
              if (self->torn_line == 0)
                {
                  self->torn_line = self->line + 1;
                  g_info ("%s:%" G_GUINT64_FORMAT ": torn last line (%zu bytes without a newline), ignored",
                          self->path, self->torn_line, self->pending->len);
                }
            }
          return NULL;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Values */

typedef OrreryJsonValue Value;

static GVariant *
value_variant (const Value *v)
{
  if (v == NULL || v->kind == ORRERY_JSON_NULL)
    return NULL;
  return g_variant_ref_sink (_orrery_json_value_to_variant (v));
}

/* The result, shared with the equal results before it. */
static GVariant *
result_from_value (OrreryJournalReader *self,
                   const Value         *v)
{
  return v ? _orrery_json_variant_cache_get (self->shared, v) : NULL;
}

static const char *
member_string (const Value *o,
               const char  *name)
{
  return _orrery_json_value_get_string (o, name);
}

/* The exact value from its GVariant text when the record has it, else
 * from the JSON. */
static GVariant *
member_variant (const Value *o,
                const char  *name)
{
  g_autofree char *typed = NULL;
  const Value *v = _orrery_json_value_get_member (o, name);
  const char *text;

  /* The writer puts NAME_gvariant beside NAME, never alone. */
  if (v == NULL)
    return NULL;
  typed = g_strconcat (name, "_gvariant", NULL);
  if ((text = member_string (o, typed)) != NULL)
    {
      /* g_variant_parse() returns a reference that is not floating. */
      GVariant *parsed = g_variant_parse (NULL, text, NULL, NULL, NULL);

      if (parsed != NULL)
        return parsed;
    }
  return value_variant (v);
}

static char **
member_strv (const Value *o,
             const char  *name)
{
  const Value *a = _orrery_json_value_get_member (o, name);
  char **v;

  if (a == NULL || a->kind != ORRERY_JSON_ARRAY)
    return NULL;
  v = g_new0 (char *, a->len + 1);
  for (guint i = 0; i < a->len; i++)
    v[i] = g_strdup (a->u.items[i].kind == ORRERY_JSON_STRING ? a->u.items[i].u.s : "");
  return v;
}

static gboolean
enum_from_nick (GType       type,
                const char *nick,
                gint       *value)
{
  GEnumClass *klass;
  GEnumValue *ev;

  if (nick == NULL)
    return FALSE;
  /* Kept: static enum types' classes live as long as the program (no
   * reference taken and dropped for every record). */
  klass = g_type_class_peek (type);
  if (klass == NULL)
    klass = g_type_class_ref (type);
  ev = g_enum_get_value_by_nick (klass, nick);
  if (ev != NULL)
    *value = ev->value;
  return ev != NULL;
}

static GError *
error_from_value (const Value *e)
{
  const char *domain, *message;

  if (e == NULL || e->kind != ORRERY_JSON_OBJECT)
    return NULL;
  domain = member_string (e, "domain");
  message = member_string (e, "message");
  return g_error_new_literal (domain ? g_quark_from_string (domain) : ORRERY_JOURNAL_ERROR,
                              (gint) _orrery_json_value_get_int (e, "code", 0),
                              message ? message : "");
}

/* The members every record has or a task record needs, found in one pass
 * over the record (the last of a name, as a lookup by name finds it):
 * a lookup each would scan the record's members again for every one. */
typedef struct
{
  const Value *seq, *type, *ts, *source, *task, *status, *attempt, *result, *error;
} Known;

static inline gboolean
name_is (const Value *name,
         const char  *text,
         guint        len)
{
  return name->len == len && memcmp (name->u.s, text, len) == 0;
}

static void
known_members (const Value *o,
               Known       *k)
{
  memset (k, 0, sizeof *k);
  for (guint i = 0; i < o->len; i++)
    {
      const Value *name = &o->u.items[2 * i], *v = name + 1;

      switch (name->len)
        {
        case 2:
          if (name_is (name, "ts", 2))
            k->ts = v;
          break;
        case 3:
          if (name_is (name, "seq", 3))
            k->seq = v;
          break;
        case 4:
          if (name_is (name, "type", 4))
            k->type = v;
          else if (name_is (name, "task", 4))
            k->task = v;
          break;
        case 5:
          if (name_is (name, "error", 5))
            k->error = v;
          break;
        case 6:
          if (name_is (name, "status", 6))
            k->status = v;
          else if (name_is (name, "result", 6))
            k->result = v;
          else if (name_is (name, "source", 6))
            k->source = v;
          break;
        case 7:
          if (name_is (name, "attempt", 7))
            k->attempt = v;
          break;
        default:
          break;
        }
    }
}

/* As _orrery_json_value_get_string() and _get_int() on a member found. */
static inline const char *
value_string (const Value *v)
{
  return v != NULL && v->kind == ORRERY_JSON_STRING ? v->u.s : NULL;
}

static inline gint64
value_int (const Value *v,
           gint64       default_value)
{
  if (v != NULL && v->kind == ORRERY_JSON_INT)
    return v->u.i;
  if (v != NULL && v->kind == ORRERY_JSON_DOUBLE)
    return _orrery_json_double_to_int (v->u.d, default_value);
  return default_value;
}

/* ------------------------------------------------------------------------ */
/* Records are read with Orrery's JSON reader (orrery-json-reader.h),
 * strictly (RFC 8259: no comments, no trailing commas, valid UTF-8 and no
 * lone surrogate, no NUL, bounded depth), into values in the reader's
 * arena, which the next record reuses. */

/* The record as a value, or FALSE if it is not JSON the reader takes
 * (*too_deep: nested past MAX_DEPTH). */
static gboolean
parse_record (OrreryJournalReader *self,
              const char          *line,
              gsize                len,
              Value               *out,
              gboolean            *too_deep,
              gsize               *column)
{
  OrreryJsonReader *r = &self->json;
  gboolean ok;

  _orrery_json_arena_reset (self->arena);
  _orrery_json_reader_reuse (r, line, len);
  ok = _orrery_json_reader_read (r, self->arena, out) && _orrery_json_reader_at_end (r);
  *too_deep = r->too_deep;
  *column = (gsize) (r->p - line) + 1;
  return ok;
}

/* ------------------------------------------------------------------------ */
/* The header */

/* The header's members but the constellation, as values in @arena; and
 * where the constellation's text is (the writer puts it last). */
static gboolean
parse_header (OrreryJournalReader  *self,
              const char           *line,
              gsize                 len,
              GArray               *members,
              const char          **ctext,
              gsize                *clen)
{
  OrreryJsonReader r;
  Value name, value;
  gboolean ok = FALSE;

  _orrery_json_reader_init (&r, line, len, MAX_DEPTH);
  if (_orrery_json_reader_peek (&r) != '{' || !_orrery_json_reader_enter (&r, '{'))
    goto out;
  while (_orrery_json_reader_next (&r, self->arena, &name))
    {
      if (_orrery_json_value_equal_str (&name, "constellation"))
        {
          /* Read by the constellation's loader, element by element. */
          if (!_orrery_json_reader_skip (&r, ctext, clen))
            goto out;
          continue;
        }
      if (!_orrery_json_reader_read (&r, self->arena, &value))
        goto out;
      g_array_append_val (members, name);
      g_array_append_val (members, value);
    }
  ok = !r.failed && _orrery_json_reader_at_end (&r);
out:
  _orrery_json_reader_clear (&r);
  return ok;
}

static gboolean
read_header (OrreryJournalReader  *self,
             GError              **error)
{
  const char *line = NULL;
  g_autoptr(GError) local = NULL;
  g_autoptr(GArray) members = g_array_new (FALSE, FALSE, sizeof (Value));
  const char *ctext = NULL;
  gsize clen = 0;
  Value o = { ORRERY_JSON_OBJECT, 0, { .items = NULL }, NULL, 0 };
  const Value *format;
  gsize len;
  g_autofree char *where = NULL;

  line = next_line (self, &len, &local);
  if (line == NULL)
    {
      if (local != NULL)
        g_propagate_error (error, g_steal_pointer (&local));
      else
        g_set_error (error, ORRERY_JOURNAL_ERROR, ORRERY_JOURNAL_ERROR_NOT_A_JOURNAL,
                     "%s:1: not an Orrery journal: %s", self->path,
                     self->torn_line ? "its header line is torn (the run was killed while it started)"
                                     : "the file is empty (the run never started)");
      return FALSE;
    }
  _orrery_json_arena_reset (self->arena);
  if (!parse_header (self, line, len, members, &ctext, &clen) ||
      (o.len = members->len / 2, o.u.items = (Value *) members->data,
       g_strcmp0 (member_string (&o, "journal"), "orrery") != 0) ||
      ctext == NULL)
    return line_error (self, error, ORRERY_JOURNAL_ERROR_NOT_A_JOURNAL,
                       "not an Orrery journal (no journal header on the first line)");
  format = _orrery_json_value_get_member (&o, "format");
  if (format == NULL || format->kind != ORRERY_JSON_INT)
    return line_error (self, error, ORRERY_JOURNAL_ERROR_NOT_A_JOURNAL,
                       "not an Orrery journal (the header has no format version)");
  if (format->u.i != ORRERY_JOURNAL_FORMAT_VERSION)
    return line_error (self, error, ORRERY_JOURNAL_ERROR_VERSION,
                       "journal format version %" G_GINT64_FORMAT ", this Orrery reads version %d",
                       format->u.i, ORRERY_JOURNAL_FORMAT_VERSION);
  if (_orrery_json_value_get_int (&o, "seq", 0) != 1)
    return line_error (self, error, ORRERY_JOURNAL_ERROR_SEQUENCE, "the header's sequence number is not 1");
  if (member_string (&o, "run_id") == NULL)
    return line_error (self, error, ORRERY_JOURNAL_ERROR_BAD_RECORD, "the header has no run_id");
  self->run_id = g_strdup (member_string (&o, "run_id"));
  for (guint i = 0; i < o.len; i++)
    if (o.u.items[2 * i + 1].kind == ORRERY_JSON_STRING)
      g_hash_table_insert (self->header, g_strdup (o.u.items[2 * i].u.s), g_strdup (o.u.items[2 * i + 1].u.s));
  self->seq = 1;

  where = g_strdup_printf ("%s:1: the constellation", self->path);
  self->constellation = _orrery_constellation_new_from_text (ctext, clen, where, &local);
  if (self->constellation == NULL)
    {
      g_set_error (error, ORRERY_JOURNAL_ERROR, ORRERY_JOURNAL_ERROR_BAD_RECORD, "%s", local->message);
      return FALSE;
    }
  return TRUE;
}

/**
 * orrery_journal_reader_new:
 * @path: (type filename): a journal file
 * @error: return location for an error
 *
 * Opens a journal and reads its header: the run id and the constellation
 * as the run started. Records are read with orrery_journal_reader_next()
 * or orrery_journal_reader_read_to().
 *
 * Returns: (transfer full) (nullable): the reader, or %NULL with @error set
 *   (%ORRERY_JOURNAL_ERROR_NOT_A_JOURNAL, %ORRERY_JOURNAL_ERROR_VERSION,
 *   %ORRERY_JOURNAL_ERROR_IO...), the message naming the file and line
 */
OrreryJournalReader *
orrery_journal_reader_new (const char  *path,
                           GError     **error)
{
  g_autoptr(OrreryJournalReader) self = NULL;

  g_return_val_if_fail (path != NULL, NULL);

  self = g_object_new (ORRERY_TYPE_JOURNAL_READER, NULL);
  self->path = g_strdup (path);
  self->fd = open (path, O_RDONLY | O_CLOEXEC);
  if (self->fd < 0)
    {
      int errsv = errno;

      g_set_error (error, ORRERY_JOURNAL_ERROR, ORRERY_JOURNAL_ERROR_IO,
                   "Cannot open the journal “%s”: %s", path, g_strerror (errsv));
      return NULL;
    }
  if (!read_header (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

/* ------------------------------------------------------------------------ */
/* Records to events, applied to the constellation */

static OrreryTask *
lookup_task (OrreryJournalReader  *self,
             const char           *id,
             GError              **error)
{
  OrreryTask *t = id ? orrery_constellation_get_task (self->constellation, id) : NULL;

  if (t == NULL)
    line_error (self, error, ORRERY_JOURNAL_ERROR_BAD_RECORD, "unknown task “%s”", id ? id : "(none)");
  return t;
}

static gboolean
ensure_started (OrreryJournalReader  *self,
                OrreryTask           *t,
                GError              **error)
{
  g_autoptr(GError) local = NULL;

  if (t->state.status == ORRERY_TASK_STATUS_RUNNING)
    return TRUE;
  if (!orrery_constellation_mark_task_started (self->constellation, t->id, &local))
    return line_error (self, error, ORRERY_JOURNAL_ERROR_BAD_RECORD, "%s", local->message);
  return TRUE;
}

static gboolean
apply_task_record (OrreryJournalReader  *self,
                   OrreryEventType       type,
                   guint                 attempt,
                   OrreryTask           *t,
                   GVariant             *result,
                   const GError         *task_error,
                   gint64                ts,
                   GError              **error)
{
  g_autoptr(GError) local = NULL;
  g_autoptr(GPtrArray) ready = NULL;

  switch (type)
    {
    case ORRERY_EVENT_TASK_STARTED:
      if (!ensure_started (self, t, error))
        return FALSE;
      t->state.started_at = ts;
      t->state.attempt = attempt;
      break;
    case ORRERY_EVENT_TASK_COMPLETED:
    case ORRERY_EVENT_TASK_FAILED:
      if (TASK_TERMINAL (t))
        return line_error (self, error, ORRERY_JOURNAL_ERROR_BAD_RECORD,
                           "task “%s” finishes twice", t->id);
      if (!ensure_started (self, t, error))
        return FALSE;
      ready = orrery_constellation_mark_task_completed (self->constellation, t->id,
                                                        type == ORRERY_EVENT_TASK_COMPLETED,
                                                        result, task_error, NULL, &local);
      if (local != NULL)
        return line_error (self, error, ORRERY_JOURNAL_ERROR_BAD_RECORD, "%s", local->message);
      t->state.attempt = attempt;
      t->state.ended_at = ts;
      if (t->state.started_at == 0)
        t->state.started_at = ts;
      break;
    case ORRERY_EVENT_TASK_RETRYING:
      if (!ensure_started (self, t, error))
        return FALSE;
      if (!orrery_constellation_requeue_task (self->constellation, t->id, &local))
        return line_error (self, error, ORRERY_JOURNAL_ERROR_BAD_RECORD, "%s", local->message);
      t->state.attempt = attempt;
      break;
    case ORRERY_EVENT_TASK_CANCELLED:
      if (TASK_TERMINAL (t))
        break;
      if (task_error != NULL)
        orrery_task_set_error (t, task_error);
      ready = orrery_constellation_mark_task_cancelled_full (self->constellation, t->id, NULL, &local);
      if (local != NULL)
        return line_error (self, error, ORRERY_JOURNAL_ERROR_BAD_RECORD, "%s", local->message);
      t->state.ended_at = ts;
      break;
    case ORRERY_EVENT_TASK_SKIPPED:
      /* Skips follow from the failures and edits already applied. */
      break;
    default:
      break;
    }
  return TRUE;
}

/* A whole number from a record's data, whatever integer type the JSON
 * gave it. */
static gboolean
data_lookup_uint (GVariant   *data,
                  const char *key,
                  guint64    *out)
{
  g_autoptr(GVariant) v = NULL;

  if (data == NULL || !g_variant_is_of_type (data, G_VARIANT_TYPE_VARDICT) ||
      (v = g_variant_lookup_value (data, key, NULL)) == NULL)
    return FALSE;
  if (g_variant_is_of_type (v, G_VARIANT_TYPE_UINT32))
    *out = g_variant_get_uint32 (v);
  else if (g_variant_is_of_type (v, G_VARIANT_TYPE_UINT64))
    *out = g_variant_get_uint64 (v);
  else if (g_variant_is_of_type (v, G_VARIANT_TYPE_INT64) && g_variant_get_int64 (v) >= 0)
    *out = (guint64) g_variant_get_int64 (v);
  else if (g_variant_is_of_type (v, G_VARIANT_TYPE_INT32) && g_variant_get_int32 (v) >= 0)
    *out = (guint64) g_variant_get_int32 (v);
  else
    return FALSE;
  return TRUE;
}

/* The run's last record (`constellation-cancelled` or `-failed`) cancels
 * every task that never started, without a `task-cancelled` record each:
 * its data says how many (`bulk_cancelled`) and the error they got
 * (`bulk_cancel_message`). Older journals have a record per task and no
 * such member. */
static gboolean
apply_bulk_cancel (OrreryJournalReader  *self,
                   GVariant             *data,
                   gint64                ts,
                   GError              **error)
{
  g_autoptr(GError) reason = NULL;
  const char *message = NULL;
  guint64 expected;
  guint n;

  if (!data_lookup_uint (data, "bulk_cancelled", &expected))
    return TRUE;
  g_variant_lookup (data, "bulk_cancel_message", "&s", &message);
  reason = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                message ? message : "Cancelled: run cancelled");
  n = orrery_constellation_cancel_pending (self->constellation, reason, ts);
  if (n != expected)
    return line_error (self, error, ORRERY_JOURNAL_ERROR_BAD_RECORD,
                       "the run's end cancels %" G_GUINT64_FORMAT " tasks that never started, "
                       "but %u had not started", expected, n);
  return TRUE;
}

static OrreryTask *
task_from_json (OrreryJournalReader  *self,
                const Value          *value,
                GError              **error)
{
  g_autoptr(JsonNode) node = value ? _orrery_json_value_to_node (value) : NULL;
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = json_node_new (JSON_NODE_OBJECT);
  JsonObject *o;
  JsonArray *a;
  g_autofree char *text = NULL;
  g_autofree char *where = g_strdup_printf ("%s:%" G_GUINT64_FORMAT ": added task", self->path, self->line);
  g_autoptr(OrreryConstellation) tmp = NULL;
  g_autoptr(GError) local = NULL;
  OrreryTask *t;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      line_error (self, error, ORRERY_JOURNAL_ERROR_BAD_RECORD, "an add_task modification without its task");
      return NULL;
    }
  o = json_object_new ();
  a = json_array_new ();
  /* A task on its own: its status and lists from the live graph do not
   * apply to the new one. */
  {
    g_autoptr(JsonNode) n = json_node_copy (node);
    JsonObject *c = json_node_get_object (n);

    json_object_set_string_member (c, "status", "pending");
    json_object_remove_member (c, "dependencies");
    json_object_remove_member (c, "dependents");
    json_array_add_element (a, g_steal_pointer (&n));
  }
  json_object_set_string_member (o, "constellation_id", "added");
  json_object_set_array_member (o, "tasks", a);
  json_node_take_object (root, o);
  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, NULL);
  tmp = orrery_constellation_new_from_data (text, -1, where, &local);
  if (tmp == NULL || orrery_constellation_get_n_tasks (tmp) != 1)
    {
      line_error (self, error, ORRERY_JOURNAL_ERROR_BAD_RECORD, "%s",
                  local ? local->message : "bad added task");
      return NULL;
    }
  t = g_object_ref (g_ptr_array_index (tmp->tasks, 0));
  _orrery_constellation_remove_task_internal (tmp, t);
  return t;
}

static gboolean
apply_modifications (OrreryJournalReader  *self,
                     const Value          *o,
                     GVariant            **out_mods,
                     GError              **error)
{
  const Value *n = _orrery_json_value_get_member (o, "modifications");
  g_autoptr(OrreryEditBatch) batch = orrery_edit_batch_new ();
  g_auto(GStrv) on = member_strv (o, "on");
  GVariantBuilder mods;
  g_autoptr(GError) local = NULL;
  g_autoptr(GVariant) applied = NULL;

  if (n == NULL || n->kind != ORRERY_JSON_ARRAY)
    return line_error (self, error, ORRERY_JOURNAL_ERROR_BAD_RECORD,
                       "constellation-modified without its modifications");
  g_variant_builder_init (&mods, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < n->len; i++)
    {
      const Value *m = &n->u.items[i];
      const char *type, *task_id, *from, *to;
      GVariantDict d;
      g_autoptr(GVariant) changes = NULL;

      if (m->kind != ORRERY_JSON_OBJECT)
        return line_error (self, error, ORRERY_JOURNAL_ERROR_BAD_RECORD, "modification %u is not an object", i);
      type = member_string (m, "type");
      task_id = member_string (m, "task_id");
      from = member_string (m, "from_task_id");
      to = member_string (m, "to_task_id");
      changes = member_variant (m, "changes");

      /* The modification as the live event carried it. */
      g_variant_dict_init (&d, NULL);
      for (guint k = 0; k < m->len; k++)
        {
          const char *name = m->u.items[2 * k].u.s;
          g_autoptr(GVariant) v = NULL;

          if (g_str_equal (name, "task") || g_str_has_suffix (name, "_gvariant"))
            continue;
          v = g_str_equal (name, "changes") && changes ? g_variant_ref (changes) : value_variant (&m->u.items[2 * k + 1]);
          if (v != NULL)
            g_variant_dict_insert_value (&d, name, v);
        }
      g_variant_builder_add_value (&mods, g_variant_dict_end (&d));

      if (g_strcmp0 (type, "add_task") == 0)
        {
          g_autoptr(OrreryTask) t = task_from_json (self, _orrery_json_value_get_member (m, "task"), error);

          if (t == NULL)
            {
              g_variant_builder_clear (&mods);
              return FALSE;
            }
          orrery_edit_batch_add_task (batch, t);
        }
      else if (g_strcmp0 (type, "remove_task") == 0 && task_id)
        orrery_edit_batch_remove_task (batch, task_id);
      else if (g_strcmp0 (type, "update_task") == 0 && task_id && changes)
        orrery_edit_batch_update_task (batch, task_id, changes);
      else if (g_strcmp0 (type, "add_dependency") == 0 && from && to)
        {
          OrreryDependencyType dep_type = ORRERY_DEPENDENCY_UNCONDITIONAL;
          const char *cond_text = member_string (m, "condition");
          g_autoptr(OrreryCondition) cond = NULL;

          if (member_string (m, "dependency_type") &&
              !orrery_dependency_type_from_string (member_string (m, "dependency_type"), &dep_type))
            {
              g_variant_builder_clear (&mods);
              return line_error (self, error, ORRERY_JOURNAL_ERROR_BAD_RECORD, "unknown dependency type “%s”",
                                 member_string (m, "dependency_type"));
            }
          if (cond_text != NULL && (cond = orrery_condition_parse (cond_text, &local)) == NULL)
            {
              g_variant_builder_clear (&mods);
              return line_error (self, error, ORRERY_JOURNAL_ERROR_BAD_RECORD, "%s", local->message);
            }
          orrery_edit_batch_add_dependency (batch, from, to, dep_type, cond);
        }
      else if (g_strcmp0 (type, "remove_dependency") == 0 && from && to)
        orrery_edit_batch_remove_dependency (batch, from, to);
      else if (g_strcmp0 (type, "skip_task") != 0 && g_strcmp0 (type, "task_ready") != 0)
        {
          g_variant_builder_clear (&mods);
          return line_error (self, error, ORRERY_JOURNAL_ERROR_BAD_RECORD, "unknown modification “%s”",
                             type ? type : "(none)");
        }
    }
  *out_mods = g_variant_ref_sink (g_variant_builder_end (&mods));
  if (on != NULL)
    orrery_edit_batch_set_on_task_ids (batch, (const char * const *) on);
  if (orrery_edit_batch_get_n_edits (batch) == 0)
    return TRUE;
  applied = orrery_constellation_apply_edits (self->constellation, batch, &local);
  if (applied == NULL)
    {
      g_clear_pointer (out_mods, g_variant_unref);
      return line_error (self, error, ORRERY_JOURNAL_ERROR_BAD_RECORD, "the edits do not apply: %s",
                         local->message);
    }
  return TRUE;
}

static void
apply_resumed (OrreryJournalReader *self,
               const Value         *o)
{
  g_auto(GStrv) retried = member_strv (o, "retried");

  for (guint i = 0; retried != NULL && retried[i] != NULL; i++)
    {
      OrreryTask *t = orrery_constellation_get_task (self->constellation, retried[i]);

      if (t != NULL && t->state.status == ORRERY_TASK_STATUS_FAILED)
        _orrery_constellation_set_status (self->constellation, t, ORRERY_TASK_STATUS_CANCELLED);
    }
  self->finished = FALSE;
}

/* One record: checked, turned into its event, applied. Returns FALSE with
 * @error set on a fault; *out is NULL for a record that is no event
 * (run-resumed). */
static gboolean
read_record (OrreryJournalReader  *self,
             const char           *line,
             gsize                 len,
             gboolean              want_event,
             OrreryEvent         **out,
             GError              **error)
{
  Value root;
  const Value *o = &root, *seqn;
  const char *type_nick, *source;
  gint64 seq, ts;
  gint type;
  g_autoptr(OrreryEvent) event = NULL;
  g_autoptr(GVariant) data = NULL;
  gboolean too_deep = FALSE;
  gsize column = 0;
  Known known;

  *out = NULL;
  if (!parse_record (self, line, len, &root, &too_deep, &column))
    {
      if (too_deep)
        return line_error (self, error, ORRERY_JOURNAL_ERROR_BAD_RECORD,
                           "not a journal record: nested deeper than %d", MAX_DEPTH);
      return line_error (self, error, ORRERY_JOURNAL_ERROR_BAD_RECORD,
                         "not a journal record: not valid JSON (at byte %zu)", column);
    }
  if (root.kind != ORRERY_JSON_OBJECT)
    return line_error (self, error, ORRERY_JOURNAL_ERROR_BAD_RECORD, "not a journal record: not a JSON object");
  known_members (o, &known);
  seqn = known.seq;
  if (seqn == NULL || seqn->kind != ORRERY_JSON_INT)
    return line_error (self, error, ORRERY_JOURNAL_ERROR_BAD_RECORD, "a record without a sequence number");
  seq = seqn->u.i;
  if (seq <= (gint64) self->seq)
    return line_error (self, error, ORRERY_JOURNAL_ERROR_SEQUENCE,
                       "sequence number %" G_GINT64_FORMAT " repeats (the last one was %" G_GUINT64_FORMAT ")",
                       seq, self->seq);
  if (seq != (gint64) self->seq + 1)
    return line_error (self, error, ORRERY_JOURNAL_ERROR_SEQUENCE,
                       "gap in the sequence numbers: %" G_GINT64_FORMAT " after %" G_GUINT64_FORMAT,
                       seq, self->seq);
  type_nick = value_string (known.type);
  ts = value_int (known.ts, 0);
  source = value_string (known.source);
  if (source == NULL)
    source = "orchestrator";

  if (g_strcmp0 (type_nick, "run-resumed") == 0)
    {
      apply_resumed (self, o);
      self->seq = seq;
      return TRUE;
    }
  if (!enum_from_nick (ORRERY_TYPE_EVENT_TYPE, type_nick, &type))
    return line_error (self, error, ORRERY_JOURNAL_ERROR_BAD_RECORD, "unknown record type “%s”",
                       type_nick ? type_nick : "(none)");
  /* The run's end also cancels in bulk (its data says how many). */
  if (want_event || type == ORRERY_EVENT_CONSTELLATION_CANCELLED || type == ORRERY_EVENT_CONSTELLATION_FAILED)
    data = member_variant (o, "data");

  switch (type)
    {
    case ORRERY_EVENT_TASK_STARTED:
    case ORRERY_EVENT_TASK_COMPLETED:
    case ORRERY_EVENT_TASK_FAILED:
    case ORRERY_EVENT_TASK_RETRYING:
    case ORRERY_EVENT_TASK_SKIPPED:
    case ORRERY_EVENT_TASK_CANCELLED:
      {
        OrreryTask *t = lookup_task (self, value_string (known.task), error);
        gint status = ORRERY_TASK_STATUS_PENDING;
        g_autoptr(GVariant) result = NULL;
        g_autoptr(GError) task_error = NULL;
        g_auto(GStrv) ready = NULL;
        OrreryEvent *te;

        if (t == NULL)
          return FALSE;
        if (!enum_from_nick (ORRERY_TYPE_TASK_STATUS, value_string (known.status), &status))
          return line_error (self, error, ORRERY_JOURNAL_ERROR_BAD_RECORD, "unknown task status “%s”",
                             value_string (known.status) ? value_string (known.status) : "(none)");
        result = result_from_value (self, known.result);
        task_error = error_from_value (known.error);
        if (!apply_task_record (self, type, (guint) value_int (known.attempt, 0), t, result, task_error, ts,
                                error))
          return FALSE;
        if (!want_event)
          {
            /* Rebuilding only: no event to make. */
            self->seq = seq;
            return TRUE;
          }
        te = orrery_event_new_task (type, source, t->id, status);
        event = te;
        orrery_event_set_attempt (te, (guint) _orrery_json_value_get_int (o, "attempt", 0));
        orrery_event_set_device_id (te, member_string (o, "device"));
        if (result != NULL)
          orrery_event_set_result (te, result);
        if (task_error != NULL)
          orrery_event_set_error (te, task_error);
        ready = member_strv (o, "ready");
        if (ready != NULL)
          orrery_event_set_newly_ready (te, (const char * const *) ready);
        orrery_event_set_constellation (te, self->constellation);
        break;
      }
    case ORRERY_EVENT_CONSTELLATION_STARTED:
    case ORRERY_EVENT_CONSTELLATION_COMPLETED:
    case ORRERY_EVENT_CONSTELLATION_MODIFIED:
    case ORRERY_EVENT_CONSTELLATION_FAILED:
    case ORRERY_EVENT_CONSTELLATION_CANCELLED:
      {
        gint state = ORRERY_CONSTELLATION_STATE_EXECUTING;
        g_autoptr(GVariant) stats = member_variant (o, "statistics");
        g_autoptr(GVariant) mods = NULL;
        g_auto(GStrv) ready = member_strv (o, "ready");
        g_auto(GStrv) on = member_strv (o, "on");
        OrreryEvent *ce;
        const char *id = member_string (o, "id");
        const Value *duration;

        if (!enum_from_nick (ORRERY_TYPE_CONSTELLATION_STATE, member_string (o, "state"), &state))
          return line_error (self, error, ORRERY_JOURNAL_ERROR_BAD_RECORD, "unknown constellation state “%s”",
                             member_string (o, "state") ? member_string (o, "state") : "(none)");
        if (type == ORRERY_EVENT_CONSTELLATION_STARTED)
          {
            orrery_constellation_reset_interrupted (self->constellation);
            self->n_runs++;
            self->finished = FALSE;
          }
        else if (type == ORRERY_EVENT_CONSTELLATION_MODIFIED)
          {
            if (!apply_modifications (self, o, &mods, error))
              return FALSE;
          }
        else
          {
            if (!apply_bulk_cancel (self, data, ts, error))
              return FALSE;
            self->finished = TRUE;
          }
        orrery_constellation_set_state (self->constellation, state);
        ce = orrery_event_new_constellation (type, source,
                                             id ? id : orrery_constellation_get_id (self->constellation),
                                             state);
        event = ce;
        if (stats != NULL)
          orrery_event_set_statistics (ce, stats);
        if ((duration = _orrery_json_value_get_member (o, "duration")) != NULL)
          orrery_event_set_duration (ce, duration->kind == ORRERY_JSON_INT ? (gdouble) duration->u.i
                                                       : duration->kind == ORRERY_JSON_DOUBLE ? duration->u.d : 0);
        if (mods != NULL)
          orrery_event_set_modifications (ce, mods);
        if (on != NULL)
          orrery_event_set_on_task_ids (ce, (const char * const *) on);
        if (ready != NULL)
          orrery_event_set_newly_ready (ce, (const char * const *) ready);
        orrery_event_set_constellation (ce, self->constellation);
        break;
      }
    default:
      {
        gint status = ORRERY_DEVICE_STATUS_IDLE;
        const char *device = member_string (o, "device");

        if (device == NULL)
          return line_error (self, error, ORRERY_JOURNAL_ERROR_BAD_RECORD, "a device record without its device");
        enum_from_nick (ORRERY_TYPE_DEVICE_STATUS, member_string (o, "status"), &status);
        event = orrery_event_new_device (type, source, device, status);
        break;
      }
    }
  if (data != NULL)
    orrery_event_set_data (event, data);
  _orrery_event_set_timestamp (event, ts);
  self->seq = seq;
  *out = g_steal_pointer (&event);
  return TRUE;
}

/**
 * orrery_journal_reader_next:
 * @self: a reader
 * @error: return location for an error
 *
 * Reads the next record, applies it to the constellation (which is then
 * the run's state just after that event) and returns the event it
 * records, with the original timestamp. Records that are no event
 * (`run-resumed`) are applied and skipped.
 *
 * Returns: (transfer full) (nullable): the event, or %NULL at the end of
 *   the file (with @error unset; in follow mode, more may come later) or
 *   on an error
 */
OrreryEvent *
orrery_journal_reader_next (OrreryJournalReader  *self,
                           GError              **error)
{
  g_return_val_if_fail (ORRERY_IS_JOURNAL_READER (self), NULL);

  for (;;)
    {
      gsize len;
      const char *line = next_line (self, &len, error);
      OrreryEvent *event = NULL;

      if (line == NULL)
        return NULL;
      if (!read_record (self, line, len, TRUE, &event, error))
        return NULL;
      if (event != NULL)
        {
          orrery_event_ref (event);
          g_clear_pointer (&self->last_event, orrery_event_unref);
          self->last_event = event;
          return event;
        }
    }
}

/**
 * orrery_journal_reader_read_to:
 * @self: a reader
 * @sequence: the last record to apply; 0 for all
 * @error: return location for an error
 *
 * Applies records until the one numbered @sequence (or the end of the
 * file): the constellation then holds every task's state at that point.
 *
 * Returns: whether the records read were valid
 */
gboolean
orrery_journal_reader_read_to (OrreryJournalReader  *self,
                               guint64               sequence,
                               GError              **error)
{
  g_return_val_if_fail (ORRERY_IS_JOURNAL_READER (self), FALSE);

  while (sequence == 0 || self->seq < sequence)
    {
      g_autoptr(GError) local = NULL;
      g_autoptr(OrreryEvent) event = NULL;
      gsize len;
      const char *line = next_line (self, &len, &local);

      if (line == NULL && local == NULL)
        break;
      if (line == NULL || !read_record (self, line, len, FALSE, &event, &local))
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
    }
  return TRUE;
}

/**
 * orrery_journal_reader_replay:
 * @self: a reader
 * @bus: where to publish
 * @error: return location for an error
 *
 * Publishes every remaining record on @bus as its event, in order, as fast
 * as the observers take them.
 *
 * Returns: how many events were published; on an error, those before it
 *   (with @error set)
 */
guint64
orrery_journal_reader_replay (OrreryJournalReader  *self,
                              OrreryEventBus       *bus,
                              GError              **error)
{
  guint64 n = 0;

  g_return_val_if_fail (ORRERY_IS_JOURNAL_READER (self), 0);
  g_return_val_if_fail (ORRERY_IS_EVENT_BUS (bus), 0);

  for (;;)
    {
      g_autoptr(GError) local = NULL;
      g_autoptr(OrreryEvent) event = orrery_journal_reader_next (self, &local);

      if (local != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return n;
        }
      if (event == NULL)
        return n;
      orrery_event_bus_publish (bus, event);
      n++;
    }
}

/**
 * orrery_journal_reader_set_follow:
 * @self: a reader
 * @follow: whether the file is still being written
 *
 * In follow mode a last line without its newline is not torn: it waits
 * for the writer to finish it, and orrery_journal_reader_next() returns
 * %NULL until it has.
 */
void
orrery_journal_reader_set_follow (OrreryJournalReader *self,
                                  gboolean             follow)
{
  g_return_if_fail (ORRERY_IS_JOURNAL_READER (self));
  self->follow = follow;
}

/**
 * orrery_journal_reader_reset_failed:
 * @self: a reader
 *
 * Prepares `--retry-failed`: every failed task is marked to run again, so
 * that the next run (orrery_orchestrator_run_async() on
 * orrery_journal_reader_get_constellation()) runs it and what it made skip.
 *
 * Returns: (transfer full) (array zero-terminated=1): the ids of those tasks
 */
char **
orrery_journal_reader_reset_failed (OrreryJournalReader *self)
{
  GStrvBuilder *b;
  char **ids;

  g_return_val_if_fail (ORRERY_IS_JOURNAL_READER (self), NULL);

  b = g_strv_builder_new ();
  for (guint i = 0; i < self->constellation->tasks->len; i++)
    {
      OrreryTask *t = self->constellation->tasks->pdata[i];

      if (t->state.status == ORRERY_TASK_STATUS_FAILED)
        {
          g_strv_builder_add (b, t->id);
          _orrery_constellation_set_status (self->constellation, t, ORRERY_TASK_STATUS_CANCELLED);
        }
    }
  ids = g_strv_builder_end (b);
  g_strv_builder_unref (b);
  return ids;
}

/**
 * orrery_journal_reader_get_path:
 * @self: a reader
 *
 * Returns: (transfer none) (type filename): the journal's path
 */
const char *
orrery_journal_reader_get_path (OrreryJournalReader *self)
{
  g_return_val_if_fail (ORRERY_IS_JOURNAL_READER (self), NULL);
  return self->path;
}

/**
 * orrery_journal_reader_get_run_id:
 * @self: a reader
 *
 * Returns: (transfer none): the run id of the header
 */
const char *
orrery_journal_reader_get_run_id (OrreryJournalReader *self)
{
  g_return_val_if_fail (ORRERY_IS_JOURNAL_READER (self), NULL);
  return self->run_id;
}

/**
 * orrery_journal_reader_get_header_member:
 * @self: a reader
 * @name: a member of the header
 *
 * Returns: (transfer none) (nullable): its value, if it is a string
 */
const char *
orrery_journal_reader_get_header_member (OrreryJournalReader *self,
                                         const char          *name)
{
  g_return_val_if_fail (ORRERY_IS_JOURNAL_READER (self), NULL);
  return g_hash_table_lookup (self->header, name);
}

/**
 * orrery_journal_reader_get_constellation:
 * @self: a reader
 *
 * Returns: (transfer none): the constellation, in its state after the
 *   last record read
 */
OrreryConstellation *
orrery_journal_reader_get_constellation (OrreryJournalReader *self)
{
  g_return_val_if_fail (ORRERY_IS_JOURNAL_READER (self), NULL);
  return self->constellation;
}

/**
 * orrery_journal_reader_get_sequence:
 * @self: a reader
 *
 * Returns: the sequence number of the last record read
 */
guint64
orrery_journal_reader_get_sequence (OrreryJournalReader *self)
{
  g_return_val_if_fail (ORRERY_IS_JOURNAL_READER (self), 0);
  return self->seq;
}

/**
 * orrery_journal_reader_get_line:
 * @self: a reader
 *
 * Returns: the number of the last line read, from 1
 */
guint64
orrery_journal_reader_get_line (OrreryJournalReader *self)
{
  g_return_val_if_fail (ORRERY_IS_JOURNAL_READER (self), 0);
  return self->line;
}

/**
 * orrery_journal_reader_get_valid_length:
 * @self: a reader
 *
 * Returns: the size in bytes of the complete lines read so far (where a
 *   resumed run appends, past a torn line)
 */
goffset
orrery_journal_reader_get_valid_length (OrreryJournalReader *self)
{
  g_return_val_if_fail (ORRERY_IS_JOURNAL_READER (self), 0);
  return self->consumed;
}

/**
 * orrery_journal_reader_get_torn_line:
 * @self: a reader
 *
 * Returns: the number of the torn last line found at the end of the file
 *   (a write cut by a crash, ignored), or 0
 */
guint64
orrery_journal_reader_get_torn_line (OrreryJournalReader *self)
{
  g_return_val_if_fail (ORRERY_IS_JOURNAL_READER (self), 0);
  return self->torn_line;
}

/**
 * orrery_journal_reader_get_n_runs:
 * @self: a reader
 *
 * Returns: how many `constellation-started` records were read (1 + the
 *   number of resumes)
 */
guint
orrery_journal_reader_get_n_runs (OrreryJournalReader *self)
{
  g_return_val_if_fail (ORRERY_IS_JOURNAL_READER (self), 0);
  return self->n_runs;
}

/**
 * orrery_journal_reader_is_finished:
 * @self: a reader
 *
 * Returns: whether the last run read ended (`constellation-completed`,
 *   `-failed` or `-cancelled` after the last start)
 */
gboolean
orrery_journal_reader_is_finished (OrreryJournalReader *self)
{
  g_return_val_if_fail (ORRERY_IS_JOURNAL_READER (self), FALSE);
  return self->finished;
}

/**
 * orrery_journal_reader_get_last_event:
 * @self: a reader
 *
 * Returns: (transfer none) (nullable): the last event
 *   orrery_journal_reader_next() returned
 */
OrreryEvent *
orrery_journal_reader_get_last_event (OrreryJournalReader *self)
{
  g_return_val_if_fail (ORRERY_IS_JOURNAL_READER (self), NULL);
  return self->last_event;
}
