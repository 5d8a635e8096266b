/* orrery-json-reader.h: Orrery's one JSON reader (private, not installed).
 *
 * A strict pull reader of RFC 8259 JSON (no comments, no trailing comma,
 * no single quotes; UTF-8 checked, no NUL, no lone surrogate, bounded
 * depth) into small values allocated from an arena: no hash table, no
 * per-member signal, no GObject. The constellation loader and the
 * journal reader both read with it; they walk the root object member by
 * member and read each element of a large collection into an arena they
 * reset after it, so a document is never held as a tree.
 *
 * The reader says only whether it could read: what it refuses, the
 * constellation loader hands to json-glib and to its checks, which name
 * the problem (see orrery-constellation-json.c).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

#include "orrery-private.h"

G_BEGIN_DECLS

typedef enum {
  ORRERY_JSON_NULL,
  ORRERY_JSON_BOOLEAN,
  ORRERY_JSON_INT,
  ORRERY_JSON_DOUBLE,
  ORRERY_JSON_STRING,
  ORRERY_JSON_ARRAY,
  ORRERY_JSON_OBJECT,
} OrreryJsonKind;

typedef struct _OrreryJsonValue OrreryJsonValue;

/* A value. Strings are NUL-terminated (and hold no NUL); an object's
 * items are 2 × len values, each member's name (a string) then its value,
 * in the order of the text. @raw/@raw_len: the value's text, when it was
 * read from text (NULL when made from a json-glib tree). */
struct _OrreryJsonValue
{
  guint32      kind;
  guint32      len;        /* string: bytes; array: elements; object: members */
  union {
    gboolean          b;
    gint64            i;
    gdouble           d;
    const char       *s;
    OrreryJsonValue  *items;
  } u;
  const char  *raw;
  gsize        raw_len;
};

/* A bump allocator: values and strings of one read, freed at once. */
typedef struct _OrreryJsonArena OrreryJsonArena;

ORRERY_HIDDEN OrreryJsonArena *_orrery_json_arena_new   (void);
ORRERY_HIDDEN void             _orrery_json_arena_reset (OrreryJsonArena *arena);
ORRERY_HIDDEN void             _orrery_json_arena_free  (OrreryJsonArena *arena);
ORRERY_HIDDEN gpointer         _orrery_json_arena_alloc (OrreryJsonArena *arena,
                                                         gsize            size);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (OrreryJsonArena, _orrery_json_arena_free)

typedef struct
{
  const char *start;
  const char *p;
  const char *end;
  guint       max_depth;
  guint       depth;       /* containers open around the position */
  gboolean    failed;      /* the text is not what the reader takes */
  gboolean    too_deep;    /* ... because it is nested deeper than max_depth */
  guint64     object_bits; /* entered levels: bit d set when level d is an object */
  guint64     first_bits;  /* ... and when its first item is still to come */
  OrreryJsonValue *stack;  /* children of open containers */
  guint       stack_len;
  guint       stack_cap;
  const char *released;    /* with release_behind: text given back up to here */
} OrreryJsonReader;

/* The text is a slice: [text, text + length), read through its length
 * and never past it, so it need not end in a NUL and may be a line in a
 * larger buffer or mapping (a journal's records: reuse() the reader on
 * each line where it lies, no copy). Strings read are copied into the
 * arena, NUL-terminated; only @raw points into the text. */
ORRERY_HIDDEN void     _orrery_json_reader_init  (OrreryJsonReader *r,
                                                  const char       *text,
                                                  gsize             length,
                                                  guint             max_depth);
/* Reads @text with what @r has allocated (after init()). */
ORRERY_HIDDEN void     _orrery_json_reader_reuse (OrreryJsonReader *r,
                                                  const char       *text,
                                                  gsize             length);
ORRERY_HIDDEN void     _orrery_json_reader_clear (OrreryJsonReader *r);

/* The kind of the next value ('{', '[', '"', ...), after spaces; 0 at the end. */
ORRERY_HIDDEN char     _orrery_json_reader_peek  (OrreryJsonReader *r);
/* Reads the next value into @out, allocated from @arena. */
ORRERY_HIDDEN gboolean _orrery_json_reader_read  (OrreryJsonReader *r,
                                                  OrreryJsonArena  *arena,
                                                  OrreryJsonValue  *out);
/* Steps over the next value; @out_raw/@out_len (optional): its text. */
ORRERY_HIDDEN gboolean _orrery_json_reader_skip  (OrreryJsonReader *r,
                                                  const char      **out_raw,
                                                  gsize            *out_len);
/* Containers read one item at a time: enter at '{' or '[', then next
 * until it returns FALSE (at the end, or with r->failed set). For an
 * object, next reads the member's name into @name (from @arena) and
 * leaves the reader at its value, which must then be read or skipped. */
ORRERY_HIDDEN gboolean _orrery_json_reader_enter (OrreryJsonReader *r,
                                                  char              open);
ORRERY_HIDDEN gboolean _orrery_json_reader_next  (OrreryJsonReader *r,
                                                  OrreryJsonArena  *arena,
                                                  OrreryJsonValue  *name);
/* For text mapped from a file (read-only, private): gives the pages
 * already read back to the system, so that a large file is not resident
 * whole at the end of a load. Whoever reads a value must have copied what
 * it keeps of it (a later read of the text faults the pages in again). */
ORRERY_HIDDEN void     _orrery_json_reader_release_behind (OrreryJsonReader *r);
/* Whether only spaces are left. */
ORRERY_HIDDEN gboolean _orrery_json_reader_at_end (OrreryJsonReader *r);

/* Values */
ORRERY_HIDDEN const OrreryJsonValue *_orrery_json_value_get_member (const OrreryJsonValue *object,
                                                                    const char            *name);
ORRERY_HIDDEN const char   *_orrery_json_value_get_string (const OrreryJsonValue *object,
                                                           const char            *name);
ORRERY_HIDDEN gint64        _orrery_json_double_to_int    (double                 d,
                                                           gint64                 default_value);
ORRERY_HIDDEN gint64        _orrery_json_value_get_int    (const OrreryJsonValue *object,
                                                           const char            *name,
                                                           gint64                 default_value);
ORRERY_HIDDEN gboolean      _orrery_json_value_equal_str  (const OrreryJsonValue *string,
                                                           const char            *text);
ORRERY_HIDDEN const char   *_orrery_json_value_type_name  (const OrreryJsonValue *value);
/* As json_gvariant_deserialize() without a signature makes it (an empty
 * array is `av`); floating. */
ORRERY_HIDDEN GVariant     *_orrery_json_value_to_variant (const OrreryJsonValue *value);
ORRERY_HIDDEN JsonNode     *_orrery_json_value_to_node    (const OrreryJsonValue *value);

/* Values as GVariants, compact (serialised in one block, not a tree of
 * small GVariants) and shared: equal text (up to a few hundred bytes)
 * gives the same GVariant, so a million `{"duration_ms": 0}` are one.
 * Bounded (a few thousand values); for one load or one journal. */
typedef struct _OrreryJsonVariantCache OrreryJsonVariantCache;

ORRERY_HIDDEN OrreryJsonVariantCache *_orrery_json_variant_cache_new  (void);
ORRERY_HIDDEN void                    _orrery_json_variant_cache_free (OrreryJsonVariantCache *cache);
/* A new reference to @value as a GVariant (json-glib's mapping, see
 * _orrery_json_value_to_variant()); NULL for null. */
ORRERY_HIDDEN GVariant               *_orrery_json_variant_cache_get  (OrreryJsonVariantCache *cache,
                                                                       const OrreryJsonValue  *value);
/* A json-glib tree as values, allocated from @arena. */
ORRERY_HIDDEN void          _orrery_json_value_from_node  (OrreryJsonValue       *out,
                                                           JsonNode              *node,
                                                           OrreryJsonArena       *arena);

/* Unknown members, kept for round trips: the members of @object for
 * which @is_known returns FALSE, as json-glib nodes (the last of a name
 * wins, as in json-glib); NULL when there are none. */
typedef gboolean (*OrreryJsonKnownFunc) (const OrreryJsonValue *name,
                                         const OrreryJsonValue *value,
                                         gpointer               data);
ORRERY_HIDDEN JsonObject   *_orrery_json_keep_unknown     (const OrreryJsonValue *object,
                                                           OrreryJsonKnownFunc    is_known,
                                                           gpointer               data);
/* ... and written back, after what the writer wrote itself. */
ORRERY_HIDDEN void          _orrery_json_write_unknown    (JsonObject            *to,
                                                           JsonObject            *unknown);

G_END_DECLS
