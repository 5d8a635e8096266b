/* fuzz-redis-task-record.c: the worker's decoder of task records (and the
 * host's of results), plugins/redis/redis-common.c.
 *
 * The input is a stream entry's field/value pairs, one per line (a field
 * line, then its value line; a value may hold any byte but a newline).
 * Decoding may fail only with a REDIS_ERROR_BAD_RECORD whose message is
 * UTF-8; a record that decodes has what the worker relies on (a task id
 * and a reply stream of at most REDIS_MAX_ID_BYTES, valid UTF-8, the reply
 * an orrery:reply: stream, attempt and delivery at least 1, data an a{sv})
 * and encodes back to fields that decode to the same record.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "fuzz-common.h"
#include "redis-common.h"

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_init_glib ();
  return 0;
}

static void
check_error (const GError *error)
{
  FUZZ_CHECK (error->domain == REDIS_ERROR && error->code == REDIS_ERROR_BAD_RECORD,
              "%s", error->message);
  FUZZ_CHECK (g_utf8_validate (error->message, -1, NULL), "message not UTF-8");
}

static void
check_text (const char *s)
{
  FUZZ_CHECK (s != NULL && *s != '\0', "empty");
  FUZZ_CHECK (strlen (s) <= REDIS_MAX_ID_BYTES, "too long");
  FUZZ_CHECK (g_utf8_validate (s, -1, NULL), "not UTF-8");
}

static gboolean
same_variant (GVariant *a,
              GVariant *b)
{
  if (a == NULL || b == NULL)
    return a == b;
  return g_variant_equal (a, b);
}

static void
round_trip (const RedisTaskRecord *r)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func (g_free);
  g_autofree size_t *lens = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(RedisTaskRecord) again = NULL;

  redis_task_record_encode (r, args);
  lens = g_new (size_t, args->len);
  for (guint i = 0; i < args->len; i++)
    lens[i] = strlen (args->pdata[i]);
  again = redis_task_record_decode ((const char * const *) args->pdata, lens, args->len, &error);
  FUZZ_CHECK (again != NULL, "the encoded record does not decode: %s", error->message);
  FUZZ_CHECK (g_str_equal (again->task_id, r->task_id) && g_str_equal (again->pool, r->pool) &&
              g_str_equal (again->reply, r->reply) && again->attempt == r->attempt &&
              again->delivery == r->delivery && again->max_deliveries == r->max_deliveries &&
              g_strcmp0 (again->run_id, r->run_id) == 0 && g_strcmp0 (again->name, r->name) == 0,
              "the round trip changed the record");
  FUZZ_CHECK (same_variant (again->data, r->data), "the round trip changed the data");
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GPtrArray) fields = g_ptr_array_new ();
  g_autoptr(GArray) lens = g_array_new (FALSE, FALSE, sizeof (size_t));
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) error2 = NULL;
  g_autoptr(RedisTaskRecord) record = NULL;
  g_autoptr(RedisReplyRecord) reply = NULL;
  const char *p = (const char *) data, *end = p + size;

  while (p < end)
    {
      const char *nl = memchr (p, '\n', end - p);
      size_t len = nl ? (size_t) (nl - p) : (size_t) (end - p);

      g_ptr_array_add (fields, (gpointer) p);
      g_array_append_val (lens, len);
      p += len + 1;
    }

  record = redis_task_record_decode ((const char * const *) fields->pdata,
                                     (const size_t *) lens->data, fields->len, &error);
  if (record == NULL)
    check_error (error);
  else
    {
      check_text (record->task_id);
      check_text (record->pool);
      check_text (record->reply);
      FUZZ_CHECK (g_str_has_prefix (record->reply, "orrery:reply:"), "reply stream");
      FUZZ_CHECK (record->attempt >= 1 && record->delivery >= 1 && record->max_deliveries >= 1,
                  "numbers");
      FUZZ_CHECK (record->data == NULL ||
                  g_variant_is_of_type (record->data, G_VARIANT_TYPE_VARDICT), "data");
      FUZZ_CHECK (record->timeout >= 0, "timeout");
      round_trip (record);
    }

  reply = redis_reply_record_decode ((const char * const *) fields->pdata,
                                     (const size_t *) lens->data, fields->len, &error2);
  if (reply == NULL)
    check_error (error2);
  else
    {
      check_text (reply->task_id);
      FUZZ_CHECK (reply->ok || reply->kind != REDIS_REPLY_RESULT || reply->error_message != NULL,
                  "a failure without a message");
      FUZZ_CHECK (reply->result == NULL ||
                  g_variant_is_of_type (reply->result, G_VARIANT_TYPE_VARDICT), "result");
    }
  return 0;
}
