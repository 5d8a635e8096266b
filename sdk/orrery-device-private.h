/* orrery-device-private.h: helpers shared by the built-in devices.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "orrery-private.h"

G_BEGIN_DECLS

/* Reads a list of strings from task data: `as`, `av` of strings or a single
 * string (nested variants are unwrapped). Returns FALSE on any other type;
 * *out_strv is then NULL. */
ORRERY_HIDDEN gboolean   _orrery_variant_dup_strv        (GVariant             *value,
                                                          char               ***out_strv);
/* What @value is in JSON's words, for messages: "a string", "a number",
 * "a boolean", "a list", "an object", "null" (variants unwrapped). */
ORRERY_HIDDEN const char *_orrery_variant_json_kind      (GVariant             *value);
/* The value of @key in the `a{sv}` @dict with nested variants unwrapped,
 * or NULL. */
ORRERY_HIDDEN GVariant  *_orrery_vardict_lookup          (GVariant             *dict,
                                                          const char           *key);
/* The capabilities required by a task (task_data.capabilities), or NULL
 * when it requires none. Fails on a value that is not a list of strings. */
ORRERY_HIDDEN gboolean   _orrery_task_dup_capabilities   (OrreryTask           *task,
                                                          char               ***out_caps,
                                                          GError              **error);

/* orrery_base_device_task_started() and _finished() without the type
 * check, for the built-in devices: on the path of every task. */
ORRERY_HIDDEN void       _orrery_base_device_task_started  (OrreryBaseDevice     *self);
ORRERY_HIDDEN void       _orrery_base_device_task_finished (OrreryBaseDevice     *self);
ORRERY_HIDDEN void       _orrery_base_device_record_start  (OrreryBaseDevice     *self,
                                                            OrreryTask           *task,
                                                            gint64                monotonic_us);
ORRERY_HIDDEN void       _orrery_base_device_record_end    (OrreryBaseDevice     *self,
                                                            OrreryTask           *task,
                                                            gint64                monotonic_us);

/* An `a{sv}` written straight in GVariant's serialised form (one buffer,
 * no GVariant per member): a task's result, made on the path of every
 * task, is then one allocation to make, free and read. Members are
 * appended in order; _end() gives the dictionary (a new reference, not
 * floating) and resets @w. At most ORRERY_VARDICT_WRITER_MAX members.
 * Strings that are not UTF-8 are made valid (U+FFFD). */
#define ORRERY_VARDICT_WRITER_MAX 32
typedef struct
{
  guint8 *data;
  gsize   len;
  gsize   alloc;
  gsize   ends[ORRERY_VARDICT_WRITER_MAX];
  guint   n;
} OrreryVardictWriter;

ORRERY_HIDDEN void      _orrery_vardict_writer_add_int32   (OrreryVardictWriter  *w,
                                                            const char           *key,
                                                            gint32                value);
ORRERY_HIDDEN void      _orrery_vardict_writer_add_int64   (OrreryVardictWriter  *w,
                                                            const char           *key,
                                                            gint64                value);
ORRERY_HIDDEN void      _orrery_vardict_writer_add_boolean (OrreryVardictWriter  *w,
                                                            const char           *key,
                                                            gboolean              value);
ORRERY_HIDDEN void      _orrery_vardict_writer_add_double  (OrreryVardictWriter  *w,
                                                            const char           *key,
                                                            double                value);
ORRERY_HIDDEN void      _orrery_vardict_writer_add_string  (OrreryVardictWriter  *w,
                                                            const char           *key,
                                                            const char           *value,
                                                            gssize                length);
/* Any value; takes the caller's reference (or the floating one). */
ORRERY_HIDDEN void      _orrery_vardict_writer_add_value   (OrreryVardictWriter  *w,
                                                            const char           *key,
                                                            GVariant             *value);
ORRERY_HIDDEN GVariant *_orrery_vardict_writer_end         (OrreryVardictWriter  *w);

G_END_DECLS
