/* test-redis-common.c: the redis plugin's shared reply walk and record
 * decoder (plugins/redis/redis-common.c), on replies parsed by hiredis's
 * own protocol reader from RESP bytes, as a server (or a hostile one)
 * would send them.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include <glib.h>

#include "redis-common.h"

/* A reply as hiredis builds it from @resp (one whole reply). */
static redisReply *
parse_resp (const char *resp)
{
  redisReader *reader = redisReaderCreate ();
  void *reply = NULL;

  g_assert_cmpint (redisReaderFeed (reader, resp, strlen (resp)), ==, REDIS_OK);
  g_assert_cmpint (redisReaderGetReply (reader, &reply), ==, REDIS_OK);
  g_assert_nonnull (reply);
  redisReaderFree (reader);
  return reply;
}

typedef struct
{
  GPtrArray *ids;
  GPtrArray *first_fields;
  guint      stop_after;   /* 0: never */
} Seen;

static gboolean
collect (const char       *id,
         size_t            id_len,
         const redisReply *fields,
         gpointer          user_data)
{
  Seen *seen = user_data;

  g_assert_cmpuint (strlen (id), ==, id_len);
  g_ptr_array_add (seen->ids, g_strndup (id, id_len));
  g_ptr_array_add (seen->first_fields,
                   fields->type == REDIS_REPLY_ARRAY && fields->elements > 0 &&
                   fields->element[0]->type == REDIS_REPLY_STRING
                   ? g_strdup (fields->element[0]->str) : g_strdup ("-"));
  return seen->stop_after == 0 || seen->ids->len < seen->stop_after;
}

/* Two streams; between good entries: an entry that is not an array, one
 * with three elements, one whose id is an integer, a stream with one
 * element and one whose entries are not an array. Only the good ones are
 * given, in order. */
static const char hostile_read[] =
  "*4\r\n"
  "*2\r\n$1\r\na\r\n"
    "*5\r\n"
      "*2\r\n$3\r\n1-0\r\n*2\r\n$4\r\ntask\r\n$1\r\nx\r\n"
      ":7\r\n"
      "*3\r\n$3\r\n2-0\r\n*0\r\n*0\r\n"
      "*2\r\n:3\r\n*0\r\n"
      "*2\r\n$3\r\n4-0\r\n*2\r\n$2\r\nop\r\n$6\r\ncancel\r\n"
  "*1\r\n$1\r\nb\r\n"
  "*2\r\n$1\r\nc\r\n$5\r\nnoise\r\n"
  "*2\r\n$1\r\nd\r\n*1\r\n*2\r\n$3\r\n9-1\r\n*0\r\n";

static void
test_walk_skips_malformed (void)
{
  redisReply *reply = parse_resp (hostile_read);
  Seen seen = { g_ptr_array_new_with_free_func (g_free),
                g_ptr_array_new_with_free_func (g_free), 0 };

  g_assert_cmpuint (redis_reply_foreach_entry (reply, collect, &seen), ==, 3);
  g_assert_cmpuint (seen.ids->len, ==, 3);
  g_assert_cmpstr (seen.ids->pdata[0], ==, "1-0");
  g_assert_cmpstr (seen.first_fields->pdata[0], ==, "task");
  g_assert_cmpstr (seen.ids->pdata[1], ==, "4-0");
  g_assert_cmpstr (seen.first_fields->pdata[1], ==, "op");
  g_assert_cmpstr (seen.ids->pdata[2], ==, "9-1");
  g_assert_cmpstr (seen.first_fields->pdata[2], ==, "-");

  g_ptr_array_unref (seen.ids);
  g_ptr_array_unref (seen.first_fields);
  freeReplyObject (reply);
}

static void
test_walk_stops (void)
{
  redisReply *reply = parse_resp (hostile_read);
  Seen seen = { g_ptr_array_new_with_free_func (g_free),
                g_ptr_array_new_with_free_func (g_free), 2 };

  g_assert_cmpuint (redis_reply_foreach_entry (reply, collect, &seen), ==, 2);
  g_assert_cmpstr (seen.ids->pdata[1], ==, "4-0");

  g_ptr_array_unref (seen.ids);
  g_ptr_array_unref (seen.first_fields);
  freeReplyObject (reply);
}

static void
test_walk_not_a_read (void)
{
  const char *replies[] = { "$-1\r\n", "-ERR no\r\n", ":1\r\n", "*0\r\n", "*1\r\n:5\r\n" };
  Seen seen = { g_ptr_array_new_with_free_func (g_free),
                g_ptr_array_new_with_free_func (g_free), 0 };

  g_assert_cmpuint (redis_reply_foreach_entry (NULL, collect, &seen), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (replies); i++)
    {
      redisReply *reply = parse_resp (replies[i]);

      g_assert_cmpuint (redis_reply_foreach_entry (reply, collect, &seen), ==, 0);
      freeReplyObject (reply);
    }
  g_assert_cmpuint (seen.ids->len, ==, 0);
  g_ptr_array_unref (seen.ids);
  g_ptr_array_unref (seen.first_fields);
}

static RedisTaskRecord *
decode (const char * const *fields,
        gsize               n,
        GError            **error)
{
  g_autofree size_t *lens = g_new (size_t, n);

  for (gsize i = 0; i < n; i++)
    lens[i] = strlen (fields[i]);
  return redis_task_record_decode (fields, lens, n, error);
}

static void
test_decode_rules (void)
{
  const char *good[] = { "v", REDIS_RECORD_VERSION, "maxdel", "3", "task", "t1", "pool", "p", "reply", "orrery:reply:h", "attempt", "2",
                         "delivery", "1", "timeout", "1.5" };
  struct { const char *field, *value, *message; } bad[] = {
    { "attempt", "2", "field “attempt” repeated" },
    { "timeout", "3", "field “timeout” repeated" },
    { "task", "t2", "field “task” repeated" },
    { "v", REDIS_RECORD_VERSION, "field “v” repeated" },
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(RedisTaskRecord) record = decode (good, G_N_ELEMENTS (good), &error);

  g_assert_no_error (error);
  g_assert_cmpstr (record->task_id, ==, "t1");
  g_assert_cmpuint (record->attempt, ==, 2);
  g_assert_cmpfloat (record->timeout, ==, 1.5);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      const char *fields[G_N_ELEMENTS (good) + 2];
      g_autoptr(GError) e = NULL;
      RedisTaskRecord *r;

      memcpy (fields, good, sizeof good);
      fields[G_N_ELEMENTS (good)] = bad[i].field;
      fields[G_N_ELEMENTS (good) + 1] = bad[i].value;
      r = decode (fields, G_N_ELEMENTS (fields), &e);
      g_assert_null (r);
      g_assert_error (e, REDIS_ERROR, REDIS_ERROR_BAD_RECORD);
      g_assert_cmpstr (e->message, ==, bad[i].message);
    }

  /* Numbers: empty, too long for the buffer, or not a number. */
  {
    const char *values[] = { "", "123456789012345678901234567890", "x" };

    for (guint i = 0; i < G_N_ELEMENTS (values); i++)
      {
        const char *fields[G_N_ELEMENTS (good)];
        g_autoptr(GError) e = NULL;
        RedisTaskRecord *r;

        memcpy (fields, good, sizeof good);
        fields[11] = values[i];   /* attempt */
        r = decode (fields, G_N_ELEMENTS (fields), &e);
        g_assert_null (r);
        g_assert_error (e, REDIS_ERROR, REDIS_ERROR_BAD_RECORD);
        g_assert_true (g_str_has_prefix (e->message, "field “attempt” is not an integer"));
      }
  }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/redis-common/walk/skips-malformed", test_walk_skips_malformed);
  g_test_add_func ("/redis-common/walk/stops", test_walk_stops);
  g_test_add_func ("/redis-common/walk/not-a-read", test_walk_not_a_read);
  g_test_add_func ("/redis-common/decode/rules", test_decode_rules);
  return g_test_run ();
}
