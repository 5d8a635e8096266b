/* orrery-json-reader.c: Orrery's one JSON reader; see orrery-json-reader.h.
 *
 * Why its own: json-glib's parser emits a GSignal for every member and
 * element (61 % of a load went to the generic marshaller), builds a hash
 * table per object and reads through GScanner; json-c and jansson build a
 * hash table per object too. A constellation's tasks are small objects
 * read once, member by member: values in an arena, read in one pass over
 * the text, are what that needs (measured: bench-constellation, and
 * bench-json-libs, parse only, CPU time, 100k tasks at load ~17: json-c
 * and jansson 7.3x this reader as the loader uses it on the simulated
 * file, 6.9x and 10.8x on the UFO file; json-glib 14x and 17x; this reader
 * keeping the whole document as a tree 1.4x and 1.5x).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-Json"

#include <math.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "orrery-json-reader.h"

/* ------------------------------------------------------------------------ */
/* The arena */

#define CHUNK_SIZE (64 * 1024)

typedef struct _Chunk Chunk;
struct _Chunk
{
  Chunk *next;
  gsize  size;
  gsize  used;
  char   data[];
};

struct _OrreryJsonArena
{
  Chunk *head;
};

OrreryJsonArena *
_orrery_json_arena_new (void)
{
  return g_new0 (OrreryJsonArena, 1);
}

static Chunk *
chunk_new (gsize  size,
           Chunk *next)
{
  Chunk *c = g_malloc (sizeof (Chunk) + size);

  c->next = next;
  c->size = size;
  c->used = 0;
  return c;
}

gpointer
_orrery_json_arena_alloc (OrreryJsonArena *arena,
                          gsize            size)
{
  Chunk *c = arena->head;
  gpointer p;

  size = (size + 7) & ~(gsize) 7;
  if (c == NULL || c->size - c->used < size)
    {
      if (size > CHUNK_SIZE / 4)
        {
          /* A large block of its own, behind the current chunk. */
          Chunk *big = chunk_new (size, c ? c->next : NULL);

          if (c)
            c->next = big;
          else
            arena->head = big;
          big->used = size;
          return big->data;
        }
      c = arena->head = chunk_new (CHUNK_SIZE, c);
    }
  p = c->data + c->used;
  c->used += size;
  return p;
}

/* The common case inline: room in the current chunk. */
static inline gpointer
arena_alloc (OrreryJsonArena *arena,
             gsize            size)
{
  Chunk *c = arena->head;

  size = (size + 7) & ~(gsize) 7;
  if (G_LIKELY (c != NULL && c->size - c->used >= size))
    {
      gpointer p = c->data + c->used;

      c->used += size;
      return p;
    }
  return _orrery_json_arena_alloc (arena, size);
}

void
_orrery_json_arena_reset (OrreryJsonArena *arena)
{
  Chunk *keep = NULL;

  /* Keep one chunk of the usual size: most reads need no more. */
  while (arena->head)
    {
      Chunk *c = arena->head;

      arena->head = c->next;
      if (keep == NULL && c->size == CHUNK_SIZE)
        keep = c;
      else
        g_free (c);
    }
  if (keep)
    {
      keep->next = NULL;
      keep->used = 0;
    }
  arena->head = keep;
}

void
_orrery_json_arena_free (OrreryJsonArena *arena)
{
  if (arena == NULL)
    return;
  while (arena->head)
    {
      Chunk *c = arena->head;

      arena->head = c->next;
      g_free (c);
    }
  g_free (arena);
}

/* ------------------------------------------------------------------------ */
/* Reading */

void
_orrery_json_reader_init (OrreryJsonReader *r,
                          const char       *text,
                          gsize             length,
                          guint             max_depth)
{
  memset (r, 0, sizeof *r);
  r->start = r->p = text;
  r->end = text + length;
  /* enter() keeps its state in one bit per level. */
  r->max_depth = MIN (max_depth, 512);
  r->stack_cap = 64;
  r->stack = g_new (OrreryJsonValue, r->stack_cap);
  /* A UTF-8 byte order mark, as json-glib takes it. */
  if (length >= 3 && memcmp (text, "\xef\xbb\xbf", 3) == 0)
    r->p += 3;
}

void
_orrery_json_reader_reuse (OrreryJsonReader *r,
                           const char       *text,
                           gsize             length)
{
  OrreryJsonValue *stack = r->stack;
  guint cap = r->stack_cap;
  guint max_depth = r->max_depth;

  memset (r, 0, sizeof *r);
  r->start = r->p = text;
  r->end = text + length;
  r->max_depth = max_depth;
  r->stack = stack;
  r->stack_cap = cap;
  if (length >= 3 && memcmp (text, "\xef\xbb\xbf", 3) == 0)
    r->p += 3;
}

void
_orrery_json_reader_clear (OrreryJsonReader *r)
{
  g_clear_pointer (&r->stack, g_free);
  r->stack_len = r->stack_cap = 0;
}

static inline void
skip_space (OrreryJsonReader *r)
{
  while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
    r->p++;
}

static gboolean
fail (OrreryJsonReader *r)
{
  r->failed = TRUE;
  return FALSE;
}

char
_orrery_json_reader_peek (OrreryJsonReader *r)
{
  skip_space (r);
  return r->p < r->end ? *r->p : 0;
}

#define RELEASE_STEP (1024 * 1024)

void
_orrery_json_reader_release_behind (OrreryJsonReader *r)
{
  static gsize page;
  const char *upto;

  if (page == 0)
    page = sysconf (_SC_PAGESIZE);
  if (r->released == NULL)
    r->released = r->start;
  upto = r->p - ((guintptr) r->p % page);
  if (upto - r->released < RELEASE_STEP)
    return;
  /* The mapping starts on a page; a failure only keeps the pages. */
  if ((guintptr) r->released % page == 0)
    madvise ((void *) r->released, upto - r->released, MADV_DONTNEED);
  r->released = upto;
}

gboolean
_orrery_json_reader_at_end (OrreryJsonReader *r)
{
  skip_space (r);
  return r->p == r->end;
}

static gint
hex4 (const char *p)
{
  gint v = 0;

  for (guint i = 0; i < 4; i++)
    {
      gint d = g_ascii_xdigit_value (p[i]);

      if (d < 0)
        return -1;
      v = v * 16 + d;
    }
  return v;
}

/* Decodes the escapes of a string whose text (between its quotes) is
 * [p, close) into @out, which has room for close - p bytes. Returns the
 * decoded length, or -1. */
static gssize
decode_string (const char *p,
               const char *close,
               char       *out)
{
  char *o = out;

  while (p < close)
    {
      const char *run = p;
      gint u;

      while (p < close && *p != '\\')
        p++;
      if (p > run)
        {
          if (!g_utf8_validate_len (run, p - run, NULL))
            return -1;
          memcpy (o, run, p - run);
          o += p - run;
        }
      if (p == close)
        break;
      switch (p[1])
        {
        case '"': *o++ = '"'; p += 2; break;
        case '\\': *o++ = '\\'; p += 2; break;
        case '/': *o++ = '/'; p += 2; break;
        case 'b': *o++ = '\b'; p += 2; break;
        case 'f': *o++ = '\f'; p += 2; break;
        case 'n': *o++ = '\n'; p += 2; break;
        case 'r': *o++ = '\r'; p += 2; break;
        case 't': *o++ = '\t'; p += 2; break;
        case 'u':
          if (close - p < 6 || (u = hex4 (p + 2)) < 0)
            return -1;
          p += 6;
          if (u >= 0xd800 && u <= 0xdbff)
            {
              gint lo = close - p >= 6 && p[0] == '\\' && p[1] == 'u' ? hex4 (p + 2) : -1;

              if (lo < 0xdc00 || lo > 0xdfff)
                return -1;
              u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
              p += 6;
            }
          else if ((u >= 0xdc00 && u <= 0xdfff) || u == 0)
            return -1;   /* a lone surrogate; a NUL would cut the string */
          o += g_unichar_to_utf8 ((gunichar) u, o);
          break;
        default:
          return -1;
        }
    }
  *o = '\0';
  return o - out;
}

/* Whether a byte of @x is below @n (@n <= 128): exact as a whole (a
 * borrow only crosses into a byte from one that is below @n itself). */
#define HAS_LESS(x, n) (((x) - G_GUINT64_CONSTANT (0x0101010101010101) * (n)) & ~(x) & \
                        G_GUINT64_CONSTANT (0x8080808080808080))

/* A string, at its opening quote. */
static gboolean
read_string (OrreryJsonReader *r,
             OrreryJsonArena  *arena,
             OrreryJsonValue  *out)
{
  const guchar *q = (const guchar *) ++r->p;
  const guchar *end = (const guchar *) r->end;
  guint64 high = 0;     /* every byte before the quote, or-ed */
  gboolean escaped = FALSE;
  char *s;
  gsize len;

  /* Find the closing quote: no control character (NUL included) before it. */
  for (;;)
    {
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
      /* Eight bytes at a time: the first quote, backslash or control
       * character is the lowest byte flagged (bytes of 0x80 and over go
       * through, noted for the UTF-8 check). */
      while (end - q >= 8)
        {
          guint64 w, m;

          memcpy (&w, q, 8);
          m = HAS_LESS (w, 0x20) | HAS_LESS (w ^ G_GUINT64_CONSTANT (0x2222222222222222), 1) |
              HAS_LESS (w ^ G_GUINT64_CONSTANT (0x5c5c5c5c5c5c5c5c), 1);
          if (m != 0)
            {
              guint k = (guint) __builtin_ctzll (m) / 8;

              if (k > 0)
                high |= w & (G_MAXUINT64 >> (64 - 8 * k));
              q += k;
              goto special;
            }
          high |= w;
          q += 8;
        }
#endif
      while (q < end && *q != '"' && *q != '\\' && *q >= 0x20)
        high |= *q++;
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
    special:
#endif
      if (q >= end || *q < 0x20)
        return fail (r);
      if (*q == '"')
        break;
      escaped = TRUE;
      if (q + 1 >= end || q[1] < 0x20)
        return fail (r);
      q += 2;
    }
  len = (const char *) q - r->p;
  s = arena_alloc (arena, len + 1);
  if (escaped)
    {
      gssize n = decode_string (r->p, (const char *) q, s);

      if (n < 0)
        return fail (r);
      len = n;
    }
  else
    {
      if ((high & G_GUINT64_CONSTANT (0x8080808080808080)) && !g_utf8_validate_len (r->p, len, NULL))
        return fail (r);
      memcpy (s, r->p, len);
      s[len] = '\0';
    }
  out->kind = ORRERY_JSON_STRING;
  out->len = len;
  out->u.s = s;
  r->p = (const char *) q + 1;
  return TRUE;
}

/* A decimal without an exponent whose digits, as an integer, a double
 * holds exactly (at most 2^53), with at most 22 decimals: that integer,
 * divided once by a power of ten that a double holds exactly, is the
 * correctly rounded value (Clinger's fast path), as strtod() makes it. */
static gboolean
fast_double (const char *p,
             const char *end,
             gdouble    *out)
{
  static const gdouble pow10[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
  };
  gboolean negative = *p == '-';
  guint64 m = 0;
  guint digits = 0, decimals = 0;
  gboolean point = FALSE;

  for (p += negative; p < end; p++)
    {
      if (*p == '.')
        {
          point = TRUE;
          continue;
        }
      if (!g_ascii_isdigit (*p))
        return FALSE;   /* an exponent */
      m = m * 10 + (*p - '0');
      if (m > 0)
        digits++;
      decimals += point;
      if (digits > 16 || decimals > 22)
        return FALSE;
    }
  /* The digits must be a double exactly (a time in microseconds,
   * 1796174400.510125, has 16). */
  if (m > (G_GUINT64_CONSTANT (1) << 53))
    return FALSE;
  *out = (gdouble) m / pow10[decimals];
  if (negative)
    *out = -*out;
  return TRUE;
}

static gboolean
read_number (OrreryJsonReader *r,
             OrreryJsonValue  *out)
{
  const char *start = r->p, *p = r->p, *end = r->end;
  gboolean negative = FALSE, is_double = FALSE;
  guint64 v = 0;

  if (p < end && *p == '-')
    negative = TRUE, p++;
  if (p >= end || !g_ascii_isdigit (*p))
    return fail (r);
  if (*p == '0' && p + 1 < end && g_ascii_isdigit (p[1]))
    return fail (r);
  for (; p < end && g_ascii_isdigit (*p); p++)
    {
      guint d = *p - '0';

      if (v > (G_MAXUINT64 - d) / 10)
        return fail (r);   /* json-glib wraps it: let it say what it makes of it */
      v = v * 10 + d;
    }
  if (p < end && *p == '.')
    {
      is_double = TRUE;
      if (++p >= end || !g_ascii_isdigit (*p))
        return fail (r);
      while (p < end && g_ascii_isdigit (*p))
        p++;
    }
  if (p < end && (*p == 'e' || *p == 'E'))
    {
      is_double = TRUE;
      if (++p < end && (*p == '+' || *p == '-'))
        p++;
      if (p >= end || !g_ascii_isdigit (*p))
        return fail (r);
      while (p < end && g_ascii_isdigit (*p))
        p++;
    }
  if (is_double && fast_double (start, p, &out->u.d))
    out->kind = ORRERY_JSON_DOUBLE;
  else if (is_double)
    {
      char buf[64];

      if ((gsize) (p - start) >= sizeof buf)
        return fail (r);
      memcpy (buf, start, p - start);
      buf[p - start] = '\0';
      out->kind = ORRERY_JSON_DOUBLE;
      out->u.d = g_ascii_strtod (buf, NULL);
      if (isinf (out->u.d))
        return fail (r);
    }
  else
    {
      if (v > (guint64) G_MAXINT64 + negative)
        return fail (r);
      out->kind = ORRERY_JSON_INT;
      out->u.i = negative ? (gint64) (0 - v) : (gint64) v;
    }
  r->p = p;
  return TRUE;
}

static gboolean
read_literal (OrreryJsonReader *r,
              const char       *word,
              gsize             len)
{
  if ((gsize) (r->end - r->p) < len || memcmp (r->p, word, len) != 0)
    return fail (r);
  r->p += len;
  return TRUE;
}

static inline void
push (OrreryJsonReader      *r,
      const OrreryJsonValue *v)
{
  if (G_UNLIKELY (r->stack_len == r->stack_cap))
    {
      r->stack_cap = MAX (64, r->stack_cap * 2);
      r->stack = g_renew (OrreryJsonValue, r->stack, r->stack_cap);
    }
  r->stack[r->stack_len++] = *v;
}

/* Moves the children pushed since @base into @out's items. */
static void
take_children (OrreryJsonReader *r,
               OrreryJsonArena  *arena,
               guint             base,
               OrreryJsonValue  *out)
{
  guint n = r->stack_len - base;

  out->u.items = NULL;
  if (n > 0)
    {
      out->u.items = arena_alloc (arena, n * sizeof (OrreryJsonValue));
      memcpy (out->u.items, r->stack + base, n * sizeof (OrreryJsonValue));
    }
  r->stack_len = base;
}

static gboolean
read_value (OrreryJsonReader *r,
            OrreryJsonArena  *arena,
            OrreryJsonValue  *out)
{
  const char *raw;

  skip_space (r);
  if (r->p >= r->end)
    return fail (r);
  raw = r->p;
  switch (*r->p)
    {
    case '{':
    case '[':
      {
        gboolean object = *r->p == '{';
        char close = object ? '}' : ']';
        guint base = r->stack_len;
        OrreryJsonValue item;

        if (r->depth >= r->max_depth)
          {
            r->too_deep = TRUE;
            return fail (r);
          }
        r->depth++;
        r->p++;
        skip_space (r);
        if (r->p < r->end && *r->p == close)
          r->p++;
        else
          for (;;)
            {
              if (object)
                {
                  skip_space (r);
                  if (r->p >= r->end || *r->p != '"' || !read_string (r, arena, &item))
                    return fail (r);
                  item.raw = NULL;
                  push (r, &item);
                  skip_space (r);
                  if (r->p >= r->end || *r->p != ':')
                    return fail (r);
                  r->p++;
                }
              if (!read_value (r, arena, &item))
                return FALSE;
              push (r, &item);
              skip_space (r);
              if (r->p < r->end && *r->p == ',')
                {
                  r->p++;
                  continue;
                }
              if (r->p < r->end && *r->p == close)
                {
                  r->p++;
                  break;
                }
              return fail (r);
            }
        r->depth--;
        out->kind = object ? ORRERY_JSON_OBJECT : ORRERY_JSON_ARRAY;
        out->len = (r->stack_len - base) / (object ? 2 : 1);
        take_children (r, arena, base, out);
        break;
      }
    case '"':
      if (!read_string (r, arena, out))
        return FALSE;
      break;
    case 't':
      if (!read_literal (r, "true", 4))
        return FALSE;
      out->kind = ORRERY_JSON_BOOLEAN;
      out->u.b = TRUE;
      break;
    case 'f':
      if (!read_literal (r, "false", 5))
        return FALSE;
      out->kind = ORRERY_JSON_BOOLEAN;
      out->u.b = FALSE;
      break;
    case 'n':
      if (!read_literal (r, "null", 4))
        return FALSE;
      out->kind = ORRERY_JSON_NULL;
      break;
    default:
      if (!read_number (r, out))
        return FALSE;
      break;
    }
  out->raw = raw;
  out->raw_len = r->p - raw;
  if (out->kind != ORRERY_JSON_STRING && out->kind < ORRERY_JSON_ARRAY)
    out->len = 0;
  return TRUE;
}

gboolean
_orrery_json_reader_read (OrreryJsonReader *r,
                          OrreryJsonArena  *arena,
                          OrreryJsonValue  *out)
{
  if (r->failed)
    return FALSE;
  return read_value (r, arena, out);
}

/* Steps over a string at its opening quote. */
static gboolean
skip_string (OrreryJsonReader *r)
{
  const char *p = r->p + 1;

  for (;;)
    {
      const char *q = memchr (p, '"', r->end - p);
      const char *b;

      if (q == NULL)
        return fail (r);
      /* Escaped when an odd number of backslashes comes before it. */
      for (b = q; b > p && b[-1] == '\\'; b--)
        ;
      p = q + 1;
      if ((q - b) % 2 == 0)
        break;
    }
  r->p = p;
  return TRUE;
}

gboolean
_orrery_json_reader_skip (OrreryJsonReader *r,
                          const char      **out_raw,
                          gsize            *out_len)
{
  const char *start;

  if (r->failed)
    return FALSE;
  skip_space (r);
  if (r->p >= r->end)
    return fail (r);
  start = r->p;
  /* The structure only: whoever reads the text later checks the rest. */
  if (*r->p == '"')
    {
      if (!skip_string (r))
        return FALSE;
    }
  else if (*r->p == '{' || *r->p == '[')
    {
      guint depth = 0;

      do
        {
          if (r->p >= r->end)
            return fail (r);
          switch (*r->p)
            {
            case '"':
              if (!skip_string (r))
                return FALSE;
              continue;
            case '{': case '[':
              depth++;
              break;
            case '}': case ']':
              depth--;
              break;
            default:
              break;
            }
          r->p++;
        }
      while (depth > 0);
    }
  else
    while (r->p < r->end && !strchr (",]} \t\r\n", *r->p))
      r->p++;
  if (out_raw)
    *out_raw = start;
  if (out_len)
    *out_len = r->p - start;
  return TRUE;
}

#define LEVEL_BITS 64

/* Levels entered with enter() keep, in one bit each, whether they are
 * objects and whether their first item is still to come. */
gboolean
_orrery_json_reader_enter (OrreryJsonReader *r,
                           char              open)
{
  guint64 bit;

  if (r->failed)
    return FALSE;
  skip_space (r);
  if (r->p >= r->end || *r->p != open || r->depth >= MIN (r->max_depth, LEVEL_BITS))
    {
      r->too_deep = r->depth >= r->max_depth;
      return fail (r);
    }
  bit = G_GUINT64_CONSTANT (1) << r->depth;
  if (open == '{')
    r->object_bits |= bit;
  else
    r->object_bits &= ~bit;
  r->first_bits |= bit;
  r->depth++;
  r->p++;
  return TRUE;
}

gboolean
_orrery_json_reader_next (OrreryJsonReader *r,
                          OrreryJsonArena  *arena,
                          OrreryJsonValue  *name)
{
  guint64 bit;
  gboolean object;

  if (r->failed || r->depth == 0)
    return FALSE;
  bit = G_GUINT64_CONSTANT (1) << (r->depth - 1);
  object = (r->object_bits & bit) != 0;
  skip_space (r);
  if (r->p >= r->end)
    return fail (r);
  if (*r->p == (object ? '}' : ']') && (r->first_bits & bit))
    {
      r->p++;
      r->depth--;
      return FALSE;
    }
  if (r->first_bits & bit)
    r->first_bits &= ~bit;
  else if (*r->p == (object ? '}' : ']'))
    {
      r->p++;
      r->depth--;
      return FALSE;
    }
  else if (*r->p == ',')
    {
      r->p++;
      skip_space (r);
    }
  else
    return fail (r);
  if (object)
    {
      if (r->p >= r->end || *r->p != '"' || !read_string (r, arena, name))
        return fail (r);
      skip_space (r);
      if (r->p >= r->end || *r->p != ':')
        return fail (r);
      r->p++;
    }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Values */

const OrreryJsonValue *
_orrery_json_value_get_member (const OrreryJsonValue *object,
                               const char            *name)
{
  const OrreryJsonValue *found = NULL;
  gsize len;

  if (object == NULL || object->kind != ORRERY_JSON_OBJECT)
    return NULL;
  len = strlen (name);
  /* The last of a name, as json-glib keeps it. Names are short: compared
   * here, byte by byte, after their length (no call per member). */
  for (guint i = 0; i < object->len; i++)
    {
      const OrreryJsonValue *k = &object->u.items[2 * i];
      gsize j;

      if (k->len != len)
        continue;
      for (j = 0; j < len && k->u.s[j] == name[j]; j++)
        ;
      if (j == len)
        found = k + 1;
    }
  return found;
}

const char *
_orrery_json_value_get_string (const OrreryJsonValue *object,
                               const char            *name)
{
  const OrreryJsonValue *v = _orrery_json_value_get_member (object, name);

  return v && v->kind == ORRERY_JSON_STRING ? v->u.s : NULL;
}

/* A JSON number as a gint64: its integer part, or @default_value when it
 * has none a gint64 holds (1e300: the conversion would be undefined). */
gint64
_orrery_json_double_to_int (double d,
                            gint64 default_value)
{
  /* -2^63 is exact as a double; 2^63 is the first one past the range. */
  if (d >= -9223372036854775808.0 && d < 9223372036854775808.0)
    return (gint64) d;
  return default_value;
}

gint64
_orrery_json_value_get_int (const OrreryJsonValue *object,
                            const char            *name,
                            gint64                 default_value)
{
  const OrreryJsonValue *v = _orrery_json_value_get_member (object, name);

  if (v && v->kind == ORRERY_JSON_INT)
    return v->u.i;
  if (v && v->kind == ORRERY_JSON_DOUBLE)
    return _orrery_json_double_to_int (v->u.d, default_value);
  return default_value;
}

gboolean
_orrery_json_value_equal_str (const OrreryJsonValue *string,
                              const char            *text)
{
  gsize len = strlen (text);

  return string->kind == ORRERY_JSON_STRING && string->len == len && memcmp (string->u.s, text, len) == 0;
}

const char *
_orrery_json_value_type_name (const OrreryJsonValue *value)
{
  switch (value->kind)
    {
    case ORRERY_JSON_NULL: return "null";
    case ORRERY_JSON_BOOLEAN: return "a boolean";
    case ORRERY_JSON_INT:
    case ORRERY_JSON_DOUBLE: return "a number";
    case ORRERY_JSON_STRING: return "a string";
    case ORRERY_JSON_ARRAY: return "an array";
    default: return "an object";
    }
}

GVariant *
_orrery_json_value_to_variant (const OrreryJsonValue *value)
{
  GVariant *stack_children[16];
  GVariant **children;
  GVariant *v;

  switch (value->kind)
    {
    case ORRERY_JSON_NULL: return g_variant_new_maybe (G_VARIANT_TYPE_VARIANT, NULL);
    case ORRERY_JSON_BOOLEAN: return g_variant_new_boolean (value->u.b);
    case ORRERY_JSON_INT: return g_variant_new_int64 (value->u.i);
    case ORRERY_JSON_DOUBLE: return g_variant_new_double (value->u.d);
    case ORRERY_JSON_STRING: return g_variant_new_string (value->u.s);
    default: break;
    }
  children = value->len <= G_N_ELEMENTS (stack_children) ? stack_children : g_new (GVariant *, value->len);
  for (guint i = 0; i < value->len; i++)
    {
      if (value->kind == ORRERY_JSON_ARRAY)
        children[i] = g_variant_new_variant (_orrery_json_value_to_variant (&value->u.items[i]));
      else
        children[i] = g_variant_new_dict_entry (g_variant_new_string (value->u.items[2 * i].u.s),
                                                g_variant_new_variant (_orrery_json_value_to_variant (&value->u.items[2 * i + 1])));
    }
  v = g_variant_new_array (value->kind == ORRERY_JSON_ARRAY ? G_VARIANT_TYPE_VARIANT : G_VARIANT_TYPE ("{sv}"),
                           children, value->len);
  if (children != stack_children)
    g_free (children);
  return v;
}

/* Shared values */

#define CACHE_MAX_TEXT   256
#define CACHE_MAX_VALUES 4096

struct _OrreryJsonVariantCache
{
  GHashTable *values;   /* Span (its own copy of the text) -> GVariant */
};

typedef struct
{
  const char *text;
  gsize       len;
} Span;

static guint
span_hash (gconstpointer p)
{
  const Span *s = p;
  guint h = 5381;

  for (gsize i = 0; i < s->len; i++)
    h = h * 33 + (guchar) s->text[i];
  return h;
}

static gboolean
span_equal (gconstpointer a,
            gconstpointer b)
{
  const Span *x = a, *y = b;

  return x->len == y->len && memcmp (x->text, y->text, x->len) == 0;
}

OrreryJsonVariantCache *
_orrery_json_variant_cache_new (void)
{
  OrreryJsonVariantCache *cache = g_new0 (OrreryJsonVariantCache, 1);

  cache->values = g_hash_table_new_full (span_hash, span_equal, g_free, (GDestroyNotify) g_variant_unref);
  return cache;
}

void
_orrery_json_variant_cache_free (OrreryJsonVariantCache *cache)
{
  if (cache == NULL)
    return;
  g_hash_table_unref (cache->values);
  g_free (cache);
}

GVariant *
_orrery_json_variant_cache_get (OrreryJsonVariantCache *cache,
                                const OrreryJsonValue  *value)
{
  Span key = { value->raw, value->raw_len };
  gboolean shareable = cache != NULL && value->raw != NULL && value->raw_len <= CACHE_MAX_TEXT;
  GVariant *variant;

  if (value->kind == ORRERY_JSON_NULL)
    return NULL;
  if (shareable && (variant = g_hash_table_lookup (cache->values, &key)) != NULL)
    return g_variant_ref (variant);
  variant = g_variant_ref_sink (_orrery_json_value_to_variant (value));
  /* One block instead of a tree of small GVariants. */
  g_variant_get_data (variant);
  if (shareable && g_hash_table_size (cache->values) < CACHE_MAX_VALUES)
    {
      /* The key's own copy of the text: the text's pages may go. */
      Span *copy = g_malloc (sizeof (Span) + value->raw_len);

      copy->text = memcpy ((char *) (copy + 1), value->raw, value->raw_len);
      copy->len = value->raw_len;
      g_hash_table_insert (cache->values, copy, g_variant_ref (variant));
    }
  return variant;
}

JsonNode *
_orrery_json_value_to_node (const OrreryJsonValue *value)
{
  JsonNode *node = json_node_alloc ();

  switch (value->kind)
    {
    case ORRERY_JSON_NULL: return json_node_init_null (node);
    case ORRERY_JSON_BOOLEAN: return json_node_init_boolean (node, value->u.b);
    case ORRERY_JSON_INT: return json_node_init_int (node, value->u.i);
    case ORRERY_JSON_DOUBLE: return json_node_init_double (node, value->u.d);
    case ORRERY_JSON_STRING: return json_node_init_string (node, value->u.s);
    case ORRERY_JSON_ARRAY:
      {
        JsonArray *a = json_array_sized_new (value->len);

        for (guint i = 0; i < value->len; i++)
          json_array_add_element (a, _orrery_json_value_to_node (&value->u.items[i]));
        json_node_init_array (node, a);
        json_array_unref (a);
        return node;
      }
    default:
      {
        JsonObject *o = json_object_new ();

        for (guint i = 0; i < value->len; i++)
          json_object_set_member (o, value->u.items[2 * i].u.s, _orrery_json_value_to_node (&value->u.items[2 * i + 1]));
        json_node_init_object (node, o);
        json_object_unref (o);
        return node;
      }
    }
}

static void
string_from (OrreryJsonValue *out,
             const char      *s)
{
  out->kind = ORRERY_JSON_STRING;
  out->u.s = s;
  out->len = strlen (s);
}

void
_orrery_json_value_from_node (OrreryJsonValue *out,
                              JsonNode        *node,
                              OrreryJsonArena *arena)
{
  memset (out, 0, sizeof *out);
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    out->kind = ORRERY_JSON_NULL;
  else if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *a = json_node_get_array (node);

      out->kind = ORRERY_JSON_ARRAY;
      out->len = json_array_get_length (a);
      out->u.items = _orrery_json_arena_alloc (arena, MAX (1, out->len) * sizeof (OrreryJsonValue));
      for (guint i = 0; i < out->len; i++)
        _orrery_json_value_from_node (&out->u.items[i], json_array_get_element (a, i), arena);
    }
  else if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *o = json_node_get_object (node);
      JsonObjectIter it;
      const char *name;
      JsonNode *member;
      guint i = 0;

      out->kind = ORRERY_JSON_OBJECT;
      out->len = json_object_get_size (o);
      out->u.items = _orrery_json_arena_alloc (arena, MAX (1, 2 * out->len) * sizeof (OrreryJsonValue));
      json_object_iter_init_ordered (&it, o);
      while (json_object_iter_next_ordered (&it, &name, &member) && i < out->len)
        {
          OrreryJsonValue *k = &out->u.items[2 * i];

          memset (k, 0, sizeof *k);
          string_from (k, name);
          _orrery_json_value_from_node (k + 1, member, arena);
          i++;
        }
      out->len = i;
    }
  else
    switch (json_node_get_value_type (node))
      {
      case G_TYPE_STRING:
        string_from (out, json_node_get_string (node));
        break;
      case G_TYPE_BOOLEAN:
        out->kind = ORRERY_JSON_BOOLEAN;
        out->u.b = json_node_get_boolean (node);
        break;
      case G_TYPE_DOUBLE:
        out->kind = ORRERY_JSON_DOUBLE;
        out->u.d = json_node_get_double (node);
        break;
      default:
        out->kind = ORRERY_JSON_INT;
        out->u.i = json_node_get_int (node);
        break;
      }
}

JsonObject *
_orrery_json_keep_unknown (const OrreryJsonValue *object,
                           OrreryJsonKnownFunc    is_known,
                           gpointer               data)
{
  JsonObject *kept = NULL;

  for (guint i = 0; object->kind == ORRERY_JSON_OBJECT && i < object->len; i++)
    {
      const OrreryJsonValue *name = &object->u.items[2 * i];

      if (is_known (name, name + 1, data))
        continue;
      if (kept == NULL)
        kept = json_object_new ();
      json_object_set_member (kept, name->u.s, _orrery_json_value_to_node (name + 1));
    }
  return kept;
}

void
_orrery_json_write_unknown (JsonObject *to,
                            JsonObject *unknown)
{
  JsonObjectIter it;
  const char *name;
  JsonNode *value;

  if (unknown == NULL)
    return;
  json_object_iter_init_ordered (&it, unknown);
  while (json_object_iter_next_ordered (&it, &name, &value))
    json_object_set_member (to, name, json_node_copy (value));
}
