/* bench-json-libs-jansson.c: jansson's parse for bench-json-libs, in a
 * file of its own (jansson's headers declare names json-c and json-glib
 * declare too).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stddef.h>

#include <jansson.h>

void *bench_jansson_parse (const char *text, size_t len);
void  bench_jansson_free  (void *doc);

/* The document, or NULL if jansson refused the text. */
void *
bench_jansson_parse (const char *text,
                     size_t      len)
{
  json_error_t err;

  return json_loadb (text, len, 0, &err);
}

void
bench_jansson_free (void *doc)
{
  json_decref (doc);
}
