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

#define CHUNK (256 * 1024)

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
  g_clear_object (&self->last_event);
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

/* The next complete line (without its newline), or NULL at the end of
 * what is there (with *error unset) or on a read error. */
static char *
next_line (OrreryJournalReader  *self,
           gsize                *length,
           GError              **error)
{
  for (;;)
    {
      const char *start = self->pending->str + self->pending_pos;
      gsize avail = self->pending->len - self->pending_pos;
      const char *nl = memchr (start, '\n', avail);
      gssize n;

      if (nl != NULL)
        {
          gsize len = nl - start;
          char *line = g_strndup (start, len);

          self->pending_pos += len + 1;
          self->consumed += len + 1;
          self->line++;
          *length = len;
          return line;
        }
      /* Keep what is left at the front and read more. */
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

static GVariant *
json_to_variant (JsonNode *node)
{
  GVariant *v;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return NULL;
  if (JSON_NODE_HOLDS_ARRAY (node) && json_array_get_length (json_node_get_array (node)) == 0)
    return g_variant_ref_sink (g_variant_new_array (G_VARIANT_TYPE_VARIANT, NULL, 0));
  v = json_gvariant_deserialize (node, NULL, NULL);
  return v ? g_variant_ref_sink (v) : NULL;
}

/* The exact value from its GVariant text when the record has it, else
 * from the JSON. */
static GVariant *
member_variant (JsonObject *o,
                const char *name)
{
  g_autofree char *typed = NULL;
  JsonNode *n;

  /* The writer puts NAME_gvariant beside NAME, never alone. */
  if (!json_object_has_member (o, name))
    return NULL;
  typed = g_strconcat (name, "_gvariant", NULL);
  n = json_object_get_member (o, typed);
  if (n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING)
    {
      /* g_variant_parse() returns a reference that is not floating. */
      GVariant *v = g_variant_parse (NULL, json_node_get_string (n), NULL, NULL, NULL);

      if (v != NULL)
        return v;
    }
  return json_to_variant (json_object_get_member (o, name));
}

static const char *
member_string (JsonObject *o,
               const char *name)
{
  JsonNode *n = json_object_get_member (o, name);

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (n);
}

static char **
member_strv (JsonObject *o,
             const char *name)
{
  JsonNode *n = json_object_get_member (o, name);
  JsonArray *a;
  char **v;
  guint len;

  if (n == NULL || !JSON_NODE_HOLDS_ARRAY (n))
    return NULL;
  a = json_node_get_array (n);
  len = json_array_get_length (a);
  v = g_new0 (char *, len + 1);
  for (guint i = 0; i < len; i++)
    {
      JsonNode *e = json_array_get_element (a, i);

      v[i] = g_strdup (JSON_NODE_HOLDS_VALUE (e) && json_node_get_value_type (e) == G_TYPE_STRING
                       ? json_node_get_string (e) : "");
    }
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
  klass = g_type_class_ref (type);
  ev = g_enum_get_value_by_nick (klass, nick);
  if (ev != NULL)
    *value = ev->value;
  g_type_class_unref (klass);
  return ev != NULL;
}

static GError *
member_error (JsonObject *o)
{
  JsonNode *n = json_object_get_member (o, "error");
  JsonObject *e;
  const char *domain, *message;

  if (n == NULL || !JSON_NODE_HOLDS_OBJECT (n))
    return NULL;
  e = json_node_get_object (n);
  domain = member_string (e, "domain");
  message = member_string (e, "message");
  return g_error_new_literal (domain ? g_quark_from_string (domain) : ORRERY_JOURNAL_ERROR,
                              (gint) json_object_get_int_member_with_default (e, "code", 0),
                              message ? message : "");
}

/* ------------------------------------------------------------------------ */
/* A small JSON parser for records.
 *
 * json-glib's parser (GScanner underneath) takes some 15 µs for a 150-byte
 * record, ten times what the rest of reading it costs: a million-task
 * journal would take a minute to resume. Records are parsed here into the
 * same JsonNode trees, strictly (RFC 8259: no comments, no trailing commas,
 * valid UTF-8 and no lone surrogate, no NUL, bounded depth: what
 * json-glib lets through and the rest of Orrery refuses). */

#define MAX_DEPTH 512

typedef struct
{
  const char *p;
  const char *end;
  gboolean    too_deep;
} Scan;

static void
skip_space (Scan *sc)
{
  while (sc->p < sc->end && (*sc->p == ' ' || *sc->p == '\t' || *sc->p == '\n' || *sc->p == '\r'))
    sc->p++;
}

static int
hex4 (const char *p)
{
  int v = 0;

  for (int i = 0; i < 4; i++)
    {
      int d = g_ascii_xdigit_value (p[i]);

      if (d < 0)
        return -1;
      v = v * 16 + d;
    }
  return v;
}

/* A string, the opening quote at sc->p; returns a new string or NULL. */
static char *
scan_string (Scan *sc)
{
  const char *start = ++sc->p;
  GString *out = NULL;

  while (sc->p < sc->end)
    {
      guchar ch = *sc->p;

      if (ch == '"')
        {
          char *str;

          if (out == NULL)
            str = g_strndup (start, sc->p - start);
          else
            {
              g_string_append_len (out, start, sc->p - start);
              str = g_string_free (out, FALSE);
            }
          sc->p++;
          if (!g_utf8_validate (str, -1, NULL))
            {
              g_free (str);
              return NULL;
            }
          return str;
        }
      if (ch < 0x20)
        break;
      if (ch != '\\')
        {
          sc->p++;
          continue;
        }
      if (out == NULL)
        out = g_string_new (NULL);
      g_string_append_len (out, start, sc->p - start);
      if (sc->p + 1 >= sc->end)
        break;
      switch (sc->p[1])
        {
        case '"': g_string_append_c (out, '"'); break;
        case '\\': g_string_append_c (out, '\\'); break;
        case '/': g_string_append_c (out, '/'); break;
        case 'b': g_string_append_c (out, '\b'); break;
        case 'f': g_string_append_c (out, '\f'); break;
        case 'n': g_string_append_c (out, '\n'); break;
        case 'r': g_string_append_c (out, '\r'); break;
        case 't': g_string_append_c (out, '\t'); break;
        case 'u':
          {
            int u = sc->end - sc->p >= 6 ? hex4 (sc->p + 2) : -1;

            if (u < 0)
              goto fail;
            sc->p += 4;
            if (u >= 0xD800 && u < 0xDC00)
              {
                int lo = sc->end - sc->p >= 8 && sc->p[2] == '\\' && sc->p[3] == 'u' ? hex4 (sc->p + 4) : -1;

                if (lo < 0xDC00 || lo > 0xDFFF)
                  goto fail;
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                sc->p += 6;
              }
            else if (u >= 0xDC00 && u <= 0xDFFF)
              goto fail;
            if (u == 0)
              goto fail;   /* a NUL would cut the string */
            g_string_append_unichar (out, (gunichar) u);
            break;
          }
        default:
          goto fail;
        }
      sc->p += 2;
      start = sc->p;
    }
fail:
  if (out != NULL)
    g_string_free (out, TRUE);
  return NULL;
}

static JsonNode *scan_value (Scan *sc, guint depth);

static JsonNode *
scan_number (Scan *sc)
{
  const char *start = sc->p;
  gboolean is_double = FALSE;
  char buf[64];
  char *endp;
  JsonNode *node;

  if (sc->p < sc->end && *sc->p == '-')
    sc->p++;
  if (sc->p >= sc->end || !g_ascii_isdigit (*sc->p))
    return NULL;
  if (*sc->p == '0' && sc->p + 1 < sc->end && g_ascii_isdigit (sc->p[1]))
    return NULL;
  while (sc->p < sc->end && g_ascii_isdigit (*sc->p))
    sc->p++;
  if (sc->p < sc->end && *sc->p == '.')
    {
      is_double = TRUE;
      sc->p++;
      if (sc->p >= sc->end || !g_ascii_isdigit (*sc->p))
        return NULL;
      while (sc->p < sc->end && g_ascii_isdigit (*sc->p))
        sc->p++;
    }
  if (sc->p < sc->end && (*sc->p == 'e' || *sc->p == 'E'))
    {
      is_double = TRUE;
      sc->p++;
      if (sc->p < sc->end && (*sc->p == '+' || *sc->p == '-'))
        sc->p++;
      if (sc->p >= sc->end || !g_ascii_isdigit (*sc->p))
        return NULL;
      while (sc->p < sc->end && g_ascii_isdigit (*sc->p))
        sc->p++;
    }
  if ((gsize) (sc->p - start) >= sizeof buf)
    return NULL;
  memcpy (buf, start, sc->p - start);
  buf[sc->p - start] = '\0';
  node = json_node_alloc ();
  if (is_double)
    json_node_init_double (node, g_ascii_strtod (buf, &endp));
  else
    {
      errno = 0;
      json_node_init_int (node, g_ascii_strtoll (buf, &endp, 10));
      if (errno == ERANGE)
        json_node_init_double (node, g_ascii_strtod (buf, &endp));
    }
  return node;
}

static gboolean
scan_literal (Scan       *sc,
              const char *word)
{
  gsize n = strlen (word);

  if ((gsize) (sc->end - sc->p) < n || memcmp (sc->p, word, n) != 0)
    return FALSE;
  sc->p += n;
  return TRUE;
}

static JsonNode *
scan_value (Scan  *sc,
            guint  depth)
{
  JsonNode *node = NULL;

  skip_space (sc);
  if (depth > MAX_DEPTH)
    sc->too_deep = TRUE;
  if (sc->p >= sc->end || depth > MAX_DEPTH)
    return NULL;
  switch (*sc->p)
    {
    case '{':
      {
        JsonObject *o = json_object_new ();

        sc->p++;
        skip_space (sc);
        if (sc->p < sc->end && *sc->p == '}')
          sc->p++;
        else
          for (;;)
            {
              char *name;
              JsonNode *v;

              skip_space (sc);
              if (sc->p >= sc->end || *sc->p != '"' || (name = scan_string (sc)) == NULL)
                {
                  json_object_unref (o);
                  return NULL;
                }
              skip_space (sc);
              if (sc->p >= sc->end || *sc->p != ':' || (sc->p++, v = scan_value (sc, depth + 1)) == NULL)
                {
                  g_free (name);
                  json_object_unref (o);
                  return NULL;
                }
              json_object_set_member (o, name, v);
              g_free (name);
              skip_space (sc);
              if (sc->p < sc->end && *sc->p == ',')
                {
                  sc->p++;
                  continue;
                }
              if (sc->p < sc->end && *sc->p == '}')
                {
                  sc->p++;
                  break;
                }
              json_object_unref (o);
              return NULL;
            }
        node = json_node_init_object (json_node_alloc (), o);
        json_object_unref (o);
        return node;
      }
    case '[':
      {
        JsonArray *a = json_array_new ();

        sc->p++;
        skip_space (sc);
        if (sc->p < sc->end && *sc->p == ']')
          sc->p++;
        else
          for (;;)
            {
              JsonNode *v = scan_value (sc, depth + 1);

              if (v == NULL)
                {
                  json_array_unref (a);
                  return NULL;
                }
              json_array_add_element (a, v);
              skip_space (sc);
              if (sc->p < sc->end && *sc->p == ',')
                {
                  sc->p++;
                  continue;
                }
              if (sc->p < sc->end && *sc->p == ']')
                {
                  sc->p++;
                  break;
                }
              json_array_unref (a);
              return NULL;
            }
        node = json_node_init_array (json_node_alloc (), a);
        json_array_unref (a);
        return node;
      }
    case '"':
      {
        char *str = scan_string (sc);

        if (str == NULL)
          return NULL;
        node = json_node_init_string (json_node_alloc (), str);
        g_free (str);
        return node;
      }
    case 't':
      return scan_literal (sc, "true") ? json_node_init_boolean (json_node_alloc (), TRUE) : NULL;
    case 'f':
      return scan_literal (sc, "false") ? json_node_init_boolean (json_node_alloc (), FALSE) : NULL;
    case 'n':
      return scan_literal (sc, "null") ? json_node_init_null (json_node_alloc ()) : NULL;
    default:
      return scan_number (sc);
    }
}

/* The record as a tree, or NULL if this parser does not take it
 * (*too_deep: nested past MAX_DEPTH, which json-glib must not see either:
 * its recursion would overflow the stack). */
static JsonNode *
parse_record (const char *line,
              gsize       len,
              gboolean   *too_deep,
              gsize      *column)
{
  Scan sc = { line, line + len, FALSE };
  JsonNode *root = scan_value (&sc, 0);

  skip_space (&sc);
  if (root != NULL && sc.p != sc.end)
    g_clear_pointer (&root, json_node_unref);
  *too_deep = sc.too_deep;
  *column = (gsize) (sc.p - line) + 1;
  return root;
}

/* ------------------------------------------------------------------------ */
/* The header */

static gboolean
read_header (OrreryJournalReader  *self,
             GError              **error)
{
  g_autofree char *line = NULL;
  g_autoptr(GError) local = NULL;
  g_autoptr(JsonNode) tree = NULL;
  gboolean too_deep = FALSE;
  gsize column = 0;
  JsonNode *cnode;
  JsonObject *o;
  JsonNode *root, *format;
  JsonObjectIter iter;
  const char *name;
  JsonNode *value;
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
  /* The header: with the record parser, else json-glib. */
  tree = parse_record (line, len, &too_deep, &column);
  root = tree;
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root) ||
      g_strcmp0 (member_string (json_node_get_object (root), "journal"), "orrery") != 0 ||
      (cnode = json_object_get_member (json_node_get_object (root), "constellation")) == NULL)
    return line_error (self, error, ORRERY_JOURNAL_ERROR_NOT_A_JOURNAL,
                       "not an Orrery journal (no journal header on the first line)");
  o = json_node_get_object (root);
  format = json_object_get_member (o, "format");
  if (format == NULL || !JSON_NODE_HOLDS_VALUE (format) ||
      json_node_get_value_type (format) != G_TYPE_INT64)
    return line_error (self, error, ORRERY_JOURNAL_ERROR_NOT_A_JOURNAL,
                       "not an Orrery journal (the header has no format version)");
  if (json_node_get_int (format) != ORRERY_JOURNAL_FORMAT_VERSION)
    return line_error (self, error, ORRERY_JOURNAL_ERROR_VERSION,
                       "journal format version %" G_GINT64_FORMAT ", this Orrery reads version %d",
                       json_node_get_int (format), ORRERY_JOURNAL_FORMAT_VERSION);
  if (json_object_get_int_member_with_default (o, "seq", 0) != 1)
    return line_error (self, error, ORRERY_JOURNAL_ERROR_SEQUENCE, "the header's sequence number is not 1");
  if (member_string (o, "run_id") == NULL)
    return line_error (self, error, ORRERY_JOURNAL_ERROR_BAD_RECORD, "the header has no run_id");
  self->run_id = g_strdup (member_string (o, "run_id"));
  json_object_iter_init (&iter, o);
  while (json_object_iter_next (&iter, &name, &value))
    if (JSON_NODE_HOLDS_VALUE (value) && json_node_get_value_type (value) == G_TYPE_STRING)
      g_hash_table_insert (self->header, g_strdup (name), g_strdup (json_node_get_string (value)));
  self->seq = 1;

  where = g_strdup_printf ("%s:1: the constellation", self->path);
  self->constellation = _orrery_constellation_new_from_node (cnode, where, &local);
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

  if (t->status == ORRERY_TASK_STATUS_RUNNING)
    return TRUE;
  if (!orrery_constellation_mark_task_started (self->constellation, t->id, &local))
    return line_error (self, error, ORRERY_JOURNAL_ERROR_BAD_RECORD, "%s", local->message);
  return TRUE;
}

static gboolean
apply_task_record (OrreryJournalReader  *self,
                   OrreryEventType       type,
                   JsonObject           *o,
                   OrreryTask           *t,
                   GVariant             *result,
                   const GError         *task_error,
                   gint64                ts,
                   GError              **error)
{
  g_autoptr(GError) local = NULL;
  g_autoptr(GPtrArray) ready = NULL;
  guint attempt = (guint) json_object_get_int_member_with_default (o, "attempt", 0);

  switch (type)
    {
    case ORRERY_EVENT_TASK_STARTED:
      if (!ensure_started (self, t, error))
        return FALSE;
      t->started_at = ts;
      t->attempt = attempt;
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
      t->attempt = attempt;
      t->ended_at = ts;
      if (t->started_at == 0)
        t->started_at = ts;
      break;
    case ORRERY_EVENT_TASK_RETRYING:
      if (!ensure_started (self, t, error))
        return FALSE;
      if (!orrery_constellation_requeue_task (self->constellation, t->id, &local))
        return line_error (self, error, ORRERY_JOURNAL_ERROR_BAD_RECORD, "%s", local->message);
      t->attempt = attempt;
      break;
    case ORRERY_EVENT_TASK_CANCELLED:
      if (TASK_TERMINAL (t))
        break;
      if (task_error != NULL)
        orrery_task_set_error (t, task_error);
      ready = orrery_constellation_mark_task_cancelled_full (self->constellation, t->id, NULL, &local);
      if (local != NULL)
        return line_error (self, error, ORRERY_JOURNAL_ERROR_BAD_RECORD, "%s", local->message);
      t->ended_at = ts;
      break;
    case ORRERY_EVENT_TASK_SKIPPED:
      /* Skips follow from the failures and edits already applied. */
      break;
    default:
      break;
    }
  return TRUE;
}

static OrreryTask *
task_from_json (OrreryJournalReader  *self,
                JsonNode             *node,
                GError              **error)
{
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = json_node_new (JSON_NODE_OBJECT);
  JsonObject *o = json_object_new ();
  JsonArray *a = json_array_new ();
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
                     JsonObject           *o,
                     GVariant            **out_mods,
                     GError              **error)
{
  JsonNode *n = json_object_get_member (o, "modifications");
  g_autoptr(OrreryEditBatch) batch = orrery_edit_batch_new ();
  g_auto(GStrv) on = member_strv (o, "on");
  GVariantBuilder mods;
  JsonArray *a;
  g_autoptr(GError) local = NULL;
  g_autoptr(GVariant) applied = NULL;

  if (n == NULL || !JSON_NODE_HOLDS_ARRAY (n))
    return line_error (self, error, ORRERY_JOURNAL_ERROR_BAD_RECORD,
                       "constellation-modified without its modifications");
  a = json_node_get_array (n);
  g_variant_builder_init (&mods, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      JsonNode *e = json_array_get_element (a, i);
      JsonObject *m;
      const char *type, *task_id, *from, *to;
      GVariantDict d;
      JsonObjectIter iter;
      const char *name;
      JsonNode *value;
      g_autoptr(GVariant) changes = NULL;

      if (!JSON_NODE_HOLDS_OBJECT (e))
        return line_error (self, error, ORRERY_JOURNAL_ERROR_BAD_RECORD, "modification %u is not an object", i);
      m = json_node_get_object (e);
      type = member_string (m, "type");
      task_id = member_string (m, "task_id");
      from = member_string (m, "from_task_id");
      to = member_string (m, "to_task_id");
      changes = member_variant (m, "changes");

      /* The modification as the live event carried it. */
      g_variant_dict_init (&d, NULL);
      json_object_iter_init_ordered (&iter, m);
      while (json_object_iter_next_ordered (&iter, &name, &value))
        {
          g_autoptr(GVariant) v = NULL;

          if (g_str_equal (name, "task") || g_str_has_suffix (name, "_gvariant"))
            continue;
          v = g_str_equal (name, "changes") && changes ? g_variant_ref (changes) : json_to_variant (value);
          if (v != NULL)
            g_variant_dict_insert_value (&d, name, v);
        }
      g_variant_builder_add_value (&mods, g_variant_dict_end (&d));

      if (g_strcmp0 (type, "add_task") == 0)
        {
          g_autoptr(OrreryTask) t = task_from_json (self, json_object_get_member (m, "task"), error);

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
               JsonObject          *o)
{
  g_auto(GStrv) retried = member_strv (o, "retried");

  for (guint i = 0; retried != NULL && retried[i] != NULL; i++)
    {
      OrreryTask *t = orrery_constellation_get_task (self->constellation, retried[i]);

      if (t != NULL && t->status == ORRERY_TASK_STATUS_FAILED)
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
  JsonNode *root, *seqn;
  JsonObject *o;
  const char *type_nick, *source;
  gint64 seq, ts;
  gint type;
  g_autoptr(OrreryEvent) event = NULL;
  g_autoptr(GVariant) data = NULL;
  g_autoptr(JsonNode) tree = NULL;
  gboolean too_deep = FALSE;
  gsize column = 0;

  *out = NULL;
  tree = parse_record (line, len, &too_deep, &column);
  root = tree;
  if (too_deep)
    return line_error (self, error, ORRERY_JOURNAL_ERROR_BAD_RECORD,
                       "not a journal record: nested deeper than %d", MAX_DEPTH);
  if (root == NULL)
    return line_error (self, error, ORRERY_JOURNAL_ERROR_BAD_RECORD,
                       "not a journal record: not valid JSON (at byte %zu)", column);
  if (!JSON_NODE_HOLDS_OBJECT (root))
    return line_error (self, error, ORRERY_JOURNAL_ERROR_BAD_RECORD, "not a journal record: not a JSON object");
  o = json_node_get_object (root);
  seqn = json_object_get_member (o, "seq");
  if (seqn == NULL || !JSON_NODE_HOLDS_VALUE (seqn) || json_node_get_value_type (seqn) != G_TYPE_INT64)
    return line_error (self, error, ORRERY_JOURNAL_ERROR_BAD_RECORD, "a record without a sequence number");
  seq = json_node_get_int (seqn);
  if (seq <= (gint64) self->seq)
    return line_error (self, error, ORRERY_JOURNAL_ERROR_SEQUENCE,
                       "sequence number %" G_GINT64_FORMAT " repeats (the last one was %" G_GUINT64_FORMAT ")",
                       seq, self->seq);
  if (seq != (gint64) self->seq + 1)
    return line_error (self, error, ORRERY_JOURNAL_ERROR_SEQUENCE,
                       "gap in the sequence numbers: %" G_GINT64_FORMAT " after %" G_GUINT64_FORMAT,
                       seq, self->seq);
  type_nick = member_string (o, "type");
  ts = json_object_get_int_member_with_default (o, "ts", 0);
  source = member_string (o, "source");
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
        OrreryTask *t = lookup_task (self, member_string (o, "task"), error);
        gint status = ORRERY_TASK_STATUS_PENDING;
        g_autoptr(GVariant) result = NULL;
        g_autoptr(GError) task_error = NULL;
        g_auto(GStrv) ready = NULL;
        OrreryTaskEvent *te;

        if (t == NULL)
          return FALSE;
        if (!enum_from_nick (ORRERY_TYPE_TASK_STATUS, member_string (o, "status"), &status))
          return line_error (self, error, ORRERY_JOURNAL_ERROR_BAD_RECORD, "unknown task status “%s”",
                             member_string (o, "status") ? member_string (o, "status") : "(none)");
        result = json_to_variant (json_object_get_member (o, "result"));
        task_error = member_error (o);
        if (!apply_task_record (self, type, o, t, result, task_error, ts, error))
          return FALSE;
        if (!want_event)
          {
            /* Rebuilding only: no event to make. */
            self->seq = seq;
            return TRUE;
          }
        te = orrery_task_event_new (type, source, t->id, status);
        event = ORRERY_EVENT (te);
        orrery_task_event_set_attempt (te, (guint) json_object_get_int_member_with_default (o, "attempt", 0));
        orrery_task_event_set_device_id (te, member_string (o, "device"));
        if (result != NULL)
          orrery_task_event_set_result (te, result);
        if (task_error != NULL)
          orrery_task_event_set_error (te, task_error);
        ready = member_strv (o, "ready");
        if (ready != NULL)
          orrery_task_event_set_newly_ready (te, (const char * const *) ready);
        orrery_task_event_set_constellation (te, self->constellation);
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
        OrreryConstellationEvent *ce;
        const char *id = member_string (o, "id");

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
          self->finished = TRUE;
        orrery_constellation_set_state (self->constellation, state);
        ce = orrery_constellation_event_new (type, source,
                                             id ? id : orrery_constellation_get_id (self->constellation),
                                             state);
        event = ORRERY_EVENT (ce);
        if (stats != NULL)
          orrery_constellation_event_set_statistics (ce, stats);
        if (json_object_has_member (o, "duration"))
          orrery_constellation_event_set_duration (ce, json_object_get_double_member_with_default (o, "duration", 0));
        if (mods != NULL)
          orrery_constellation_event_set_modifications (ce, mods);
        if (on != NULL)
          orrery_constellation_event_set_on_task_ids (ce, (const char * const *) on);
        if (ready != NULL)
          orrery_constellation_event_set_newly_ready (ce, (const char * const *) ready);
        orrery_constellation_event_set_constellation (ce, self->constellation);
        break;
      }
    default:
      {
        gint status = ORRERY_DEVICE_STATUS_IDLE;
        const char *device = member_string (o, "device");

        if (device == NULL)
          return line_error (self, error, ORRERY_JOURNAL_ERROR_BAD_RECORD, "a device record without its device");
        enum_from_nick (ORRERY_TYPE_DEVICE_STATUS, member_string (o, "status"), &status);
        event = ORRERY_EVENT (orrery_device_event_new (type, source, device, status));
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
      g_autofree char *line = next_line (self, &len, error);
      OrreryEvent *event = NULL;

      if (line == NULL)
        return NULL;
      if (!read_record (self, line, len, TRUE, &event, error))
        return NULL;
      if (event != NULL)
        {
          g_set_object (&self->last_event, event);
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
      g_autofree char *line = next_line (self, &len, &local);

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

      if (t->status == ORRERY_TASK_STATUS_FAILED)
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
