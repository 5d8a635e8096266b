/* bench-json-libs-jsonc.c: json-c's parse for bench-json-libs, in a file
 * of its own (json-c's and jansson's headers declare the same names).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stddef.h>

#include <json-c/json.h>

void *bench_json_c_parse (const char *text, size_t len);
void  bench_json_c_free  (void *doc);

/* The document, or NULL if json-c refused the text. */
void *
bench_json_c_parse (const char *text,
                    size_t      len)
{
  json_tokener *tok = json_tokener_new ();
  json_object *doc = json_tokener_parse_ex (tok, text, (int) len);

  if (doc != NULL && json_tokener_get_error (tok) != json_tokener_success)
    {
      json_object_put (doc);
      doc = NULL;
    }
  json_tokener_free (tok);
  return doc;
}

void
bench_json_c_free (void *doc)
{
  json_object_put (doc);
}
