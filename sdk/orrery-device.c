/* orrery-device.c: the interface of where tasks run.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-Devices"

#include <string.h>

#include "orrery-device-private.h"

G_DEFINE_QUARK (orrery-device-error-quark, orrery_device_error)

/**
 * OrreryDevice:
 *
 * Where tasks run: a device has an id, a device type, capabilities, a
 * status and a number of tasks it takes at once, and executes one task
 * asynchronously (orrery_device_execute_async()), failing with an
 * %ORRERY_DEVICE_ERROR or %G_IO_ERROR_CANCELLED. #OrreryBaseDevice holds
 * what every device shares; #OrreryLocalDevice and #OrrerySimulatedDevice
 * are the built-in kinds.
 */
G_DEFINE_INTERFACE (OrreryDevice, orrery_device, G_TYPE_OBJECT)

static const char *
orrery_device_real_get_device_type (OrreryDevice *self)
{
  return "unknown";
}

static const char * const *
orrery_device_real_get_capabilities (OrreryDevice *self)
{
  static const char * const none[] = { NULL };

  return none;
}

static guint
orrery_device_real_get_max_concurrency (OrreryDevice *self)
{
  return 1;
}

static OrreryDeviceStatus
orrery_device_real_get_status (OrreryDevice *self)
{
  return ORRERY_DEVICE_STATUS_IDLE;
}

static void
orrery_device_real_execute_async (OrreryDevice        *self,
                                  OrreryTask          *task,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_task_report_new_error (self, callback, user_data,
                           orrery_device_real_execute_async,
                           ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_FAILED,
                           "device “%s” cannot run tasks",
                           orrery_device_get_id (self));
}

static gboolean
orrery_device_real_execute_finish (OrreryDevice  *self,
                                   GAsyncResult  *result,
                                   GVariant     **out_result,
                                   GError       **error)
{
  if (out_result)
    *out_result = NULL;
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
orrery_device_default_init (OrreryDeviceInterface *iface)
{
  iface->get_device_type = orrery_device_real_get_device_type;
  iface->get_capabilities = orrery_device_real_get_capabilities;
  iface->get_max_concurrency = orrery_device_real_get_max_concurrency;
  iface->get_status = orrery_device_real_get_status;
  iface->execute_async = orrery_device_real_execute_async;
  iface->execute_finish = orrery_device_real_execute_finish;
}

/**
 * orrery_device_get_id:
 * @self: a device
 *
 * Returns: (transfer none): the device's unique id
 */
const char *
orrery_device_get_id (OrreryDevice *self)
{
  OrreryDeviceInterface *iface;

  g_return_val_if_fail (ORRERY_IS_DEVICE (self), NULL);
  iface = ORRERY_DEVICE_GET_IFACE (self);
  g_return_val_if_fail (iface->get_id != NULL, NULL);
  return iface->get_id (self);
}

/**
 * orrery_device_get_device_type:
 * @self: a device
 *
 * Returns: (transfer none): the kind of system the device is (`linux`,
 *   `windows`, `simulated`, ...), compared without case to a task's
 *   device type
 */
const char *
orrery_device_get_device_type (OrreryDevice *self)
{
  g_return_val_if_fail (ORRERY_IS_DEVICE (self), NULL);
  return ORRERY_DEVICE_GET_IFACE (self)->get_device_type (self);
}

/**
 * orrery_device_get_capabilities:
 * @self: a device
 *
 * Returns: (transfer none) (array zero-terminated=1): what the device can
 *   do; never %NULL
 */
const char * const *
orrery_device_get_capabilities (OrreryDevice *self)
{
  const char * const *caps;

  g_return_val_if_fail (ORRERY_IS_DEVICE (self), NULL);
  caps = ORRERY_DEVICE_GET_IFACE (self)->get_capabilities (self);
  if (caps == NULL)
    caps = orrery_device_real_get_capabilities (self);
  return caps;
}

/**
 * orrery_device_has_capability:
 * @self: a device
 * @capability: a capability, compared without case
 *
 * Returns: whether @self has @capability
 */
gboolean
orrery_device_has_capability (OrreryDevice *self,
                              const char   *capability)
{
  const char * const *caps;

  g_return_val_if_fail (ORRERY_IS_DEVICE (self), FALSE);
  g_return_val_if_fail (capability != NULL, FALSE);

  caps = orrery_device_get_capabilities (self);
  for (; *caps; caps++)
    if (g_ascii_strcasecmp (*caps, capability) == 0)
      return TRUE;
  return FALSE;
}

/**
 * orrery_device_get_max_concurrency:
 * @self: a device
 *
 * Returns: how many tasks the device runs at once (at least 1)
 */
guint
orrery_device_get_max_concurrency (OrreryDevice *self)
{
  g_return_val_if_fail (ORRERY_IS_DEVICE (self), 1);
  return MAX (1, ORRERY_DEVICE_GET_IFACE (self)->get_max_concurrency (self));
}

/**
 * orrery_device_get_status:
 * @self: a device
 *
 * Returns: the device's status
 */
OrreryDeviceStatus
orrery_device_get_status (OrreryDevice *self)
{
  g_return_val_if_fail (ORRERY_IS_DEVICE (self), ORRERY_DEVICE_STATUS_FAILED);
  return ORRERY_DEVICE_GET_IFACE (self)->get_status (self);
}

/**
 * orrery_device_execute_async:
 * @self: a device
 * @task: the task to run
 * @cancellable: (nullable): stops the task: the device kills whatever it
 *   started and fails with %G_IO_ERROR_CANCELLED
 * @callback: (scope async): called when the task has finished
 * @user_data: (closure): data for @callback
 *
 * Runs @task once on @self. The device applies the task's timeout itself.
 * The caller keeps track of how many tasks it runs on the device (see
 * orrery_device_manager_acquire()).
 */
void
orrery_device_execute_async (OrreryDevice        *self,
                             OrreryTask          *task,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_return_if_fail (ORRERY_IS_DEVICE (self));
  g_return_if_fail (ORRERY_IS_TASK (task));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  ORRERY_DEVICE_GET_IFACE (self)->execute_async (self, task, cancellable,
                                                 callback, user_data);
}

/**
 * orrery_device_execute_finish:
 * @self: a device
 * @result: the result given to the callback
 * @out_result: (out) (optional) (nullable) (transfer full): where to store
 *   the task's result, an `a{sv}` dictionary, when the device has one; it is
 *   set on failure too (a failed command still has an exit status and output)
 * @error: return location for an error
 *
 * Finishes orrery_device_execute_async().
 *
 * Returns: %TRUE if the task succeeded
 */
gboolean
orrery_device_execute_finish (OrreryDevice  *self,
                              GAsyncResult  *result,
                              GVariant     **out_result,
                              GError       **error)
{
  g_return_val_if_fail (ORRERY_IS_DEVICE (self), FALSE);
  g_return_val_if_fail (G_IS_ASYNC_RESULT (result), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  if (out_result)
    *out_result = NULL;
  return ORRERY_DEVICE_GET_IFACE (self)->execute_finish (self, result,
                                                         out_result, error);
}

/* ------------------------------------------------------------------------ */
/* Helpers shared by the built-in devices and the manager. */

/* The members of the last a{sv} looked up on this thread, read once: a
 * task's data is asked for several keys in a row (the command, the
 * environment, the directory, the capabilities...), and in serialised data
 * each g_variant_lookup_value() makes and frees a GVariant for every
 * member it passes (about 4.5k instructions for a one-member dictionary). */
typedef struct
{
  const char *key;     /* in the dictionary's data */
  GVariant   *value;   /* unwrapped; a reference */
} VardictMember;

typedef struct
{
  GVariant *dict;      /* a reference: its address is not reused */
  GArray   *members;   /* of VardictMember, in the dictionary's order */
} VardictIndex;

static void
vardict_index_clear (VardictIndex *index)
{
  for (guint i = 0; i < index->members->len; i++)
    g_variant_unref (g_array_index (index->members, VardictMember, i).value);
  g_array_set_size (index->members, 0);
  g_clear_pointer (&index->dict, g_variant_unref);
}

static void
vardict_index_free (gpointer data)
{
  VardictIndex *index = data;

  vardict_index_clear (index);
  g_array_unref (index->members);
  g_free (index);
}

static VardictIndex *
vardict_index_get (GVariant *dict)
{
  static GPrivate index_key = G_PRIVATE_INIT (vardict_index_free);
  VardictIndex *index = g_private_get (&index_key);
  GVariantIter iter;
  const char *key;
  GVariant *value;

  if (index == NULL)
    {
      index = g_new0 (VardictIndex, 1);
      index->members = g_array_new (FALSE, FALSE, sizeof (VardictMember));
      g_private_set (&index_key, index);
    }
  if (index->dict == dict)
    return index;
  vardict_index_clear (index);
  index->dict = g_variant_ref (dict);
  g_variant_iter_init (&iter, dict);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      VardictMember m = { key, value };

      while (g_variant_is_of_type (m.value, G_VARIANT_TYPE_VARIANT))
        {
          GVariant *inner = g_variant_get_variant (m.value);

          g_variant_unref (m.value);
          m.value = inner;
        }
      g_array_append_val (index->members, m);
    }
  return index;
}

GVariant *
_orrery_vardict_lookup (GVariant   *dict,
                        const char *key)
{
  GVariant *value;

  if (dict == NULL)
    return NULL;
  if (g_variant_is_of_type (dict, G_VARIANT_TYPE_VARDICT))
    {
      VardictIndex *index = vardict_index_get (dict);

      /* The first member of that name, as g_variant_lookup_value(). */
      for (guint i = 0; i < index->members->len; i++)
        {
          VardictMember *m = &g_array_index (index->members, VardictMember, i);

          if (strcmp (m->key, key) == 0)
            return g_variant_ref (m->value);
        }
      return NULL;
    }
  value = g_variant_lookup_value (dict, key, NULL);
  while (value && g_variant_is_of_type (value, G_VARIANT_TYPE_VARIANT))
    {
      GVariant *inner = g_variant_get_variant (value);

      g_variant_unref (value);
      value = inner;
    }
  return value;
}

const char *
_orrery_variant_json_kind (GVariant *value)
{
  if (value && g_variant_is_of_type (value, G_VARIANT_TYPE_VARIANT))
    {
      /* The kind of what the variant holds (the kinds are static text). */
      g_autoptr(GVariant) inner = g_variant_get_variant (value);

      return _orrery_variant_json_kind (inner);
    }
  if (value == NULL)
    return "null";
  switch (g_variant_classify (value))
    {
    case G_VARIANT_CLASS_BOOLEAN:
      return "a boolean";
    case G_VARIANT_CLASS_BYTE: case G_VARIANT_CLASS_INT16: case G_VARIANT_CLASS_UINT16:
    case G_VARIANT_CLASS_INT32: case G_VARIANT_CLASS_UINT32: case G_VARIANT_CLASS_INT64:
    case G_VARIANT_CLASS_UINT64: case G_VARIANT_CLASS_HANDLE: case G_VARIANT_CLASS_DOUBLE:
      return "a number";
    case G_VARIANT_CLASS_STRING: case G_VARIANT_CLASS_OBJECT_PATH: case G_VARIANT_CLASS_SIGNATURE:
      return "a string";
    case G_VARIANT_CLASS_MAYBE:
      return "null";
    case G_VARIANT_CLASS_ARRAY:
      if (g_variant_type_is_dict_entry (g_variant_type_element (g_variant_get_type (value))))
        return "an object";
      return "a list";
    case G_VARIANT_CLASS_TUPLE:
    case G_VARIANT_CLASS_DICT_ENTRY:
      return "a list";
    case G_VARIANT_CLASS_VARIANT:
    default:
      return "a value";
    }
}

gboolean
_orrery_variant_dup_strv (GVariant   *value,
                          char     ***out_strv)
{
  g_autoptr(GPtrArray) strv = NULL;
  GVariantIter iter;
  GVariant *child;

  *out_strv = NULL;
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_VARIANT))
    {
      g_autoptr(GVariant) inner = g_variant_get_variant (value);

      return _orrery_variant_dup_strv (inner, out_strv);
    }
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    {
      char **one = g_new0 (char *, 2);

      one[0] = g_variant_dup_string (value, NULL);
      *out_strv = one;
      return TRUE;
    }
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING_ARRAY))
    {
      *out_strv = g_variant_dup_strv (value, NULL);
      return TRUE;
    }
  if (!g_variant_is_of_type (value, G_VARIANT_TYPE ("av")))
    return FALSE;

  strv = g_ptr_array_new_with_free_func (g_free);
  g_variant_iter_init (&iter, value);
  while ((child = g_variant_iter_next_value (&iter)))
    {
      g_autoptr(GVariant) inner = g_variant_get_variant (child);

      g_variant_unref (child);
      while (g_variant_is_of_type (inner, G_VARIANT_TYPE_VARIANT))
        {
          GVariant *next = g_variant_get_variant (inner);

          g_variant_unref (inner);
          inner = next;
        }
      if (!g_variant_is_of_type (inner, G_VARIANT_TYPE_STRING))
        return FALSE;
      g_ptr_array_add (strv, g_variant_dup_string (inner, NULL));
    }
  g_ptr_array_add (strv, NULL);
  *out_strv = (char **) g_ptr_array_free (g_steal_pointer (&strv), FALSE);
  return TRUE;
}

gboolean
_orrery_task_dup_capabilities (OrreryTask   *task,
                               char       ***out_caps,
                               GError      **error)
{
  g_autoptr(GVariant) value = NULL;

  *out_caps = NULL;
  value = _orrery_vardict_lookup (orrery_task_get_task_data (task), "capabilities");
  if (value == NULL)
    return TRUE;
  if (!_orrery_variant_dup_strv (value, out_caps))
    {
      g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_TASK_DATA,
                   "task “%s”: “capabilities” must be a list of strings, not %s",
                   orrery_task_get_id (task), _orrery_variant_json_kind (value));
      return FALSE;
    }
  if ((*out_caps)[0] == NULL)
    g_clear_pointer (out_caps, g_strfreev);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* OrreryVardictWriter: `a{sv}` in GVariant's serialised form.
 *
 * The layout (GVariant's serialisation, "normal form"): the array's
 * members one after the other, each aligned to 8 (the alignment of `v`,
 * hence of `{sv}`), then one framing offset per member, its end; each
 * member is the key with its NUL, zeros up to 8, the variant (the value's
 * bytes, a NUL, the value's type string), then one framing offset, the
 * key's end. Offsets are little-endian, relative to their container's
 * start, and as wide as the container's size needs (1, 2, 4 or 8 bytes).
 * The test of every local result (tests/test-local-device.c) reads the
 * bytes back untrusted and checks them against GVariant's own. */

static void
writer_reserve (OrreryVardictWriter *w,
                gsize                more)
{
  if (w->len + more <= w->alloc)
    return;
  w->alloc = MAX (w->alloc * 2, MAX (w->len + more, 256));
  w->data = g_realloc (w->data, w->alloc);
}

static void
writer_put (OrreryVardictWriter *w,
            const void          *bytes,
            gsize                n)
{
  /* memcpy() and memset() must not see the NULL of a buffer not yet
   * allocated, even for no bytes (C11 7.24.1). */
  if (n == 0)
    return;
  writer_reserve (w, n);
  memcpy (w->data + w->len, bytes, n);
  w->len += n;
}

static void
writer_pad8 (OrreryVardictWriter *w)
{
  gsize pad = (8 - (w->len & 7)) & 7;

  if (pad == 0)
    return;
  writer_reserve (w, pad);
  memset (w->data + w->len, 0, pad);
  w->len += pad;
}

/* The width of the framing offsets of a container of @body bytes with
 * @n offsets. */
static guint
offset_size (gsize body,
             gsize n)
{
  if (body + n <= G_MAXUINT8)
    return 1;
  if (body + 2 * n <= G_MAXUINT16)
    return 2;
  if (body + 4 * n <= G_MAXUINT32)
    return 4;
  return 8;
}

static void
writer_put_offset (OrreryVardictWriter *w,
                   guint64              value,
                   guint                size)
{
  guint8 le[8];

  for (guint i = 0; i < size; i++)
    le[i] = (guint8) (value >> (8 * i));
  writer_put (w, le, size);
}

/* The member's key and alignment; returns where the member starts. */
static gsize
writer_begin (OrreryVardictWriter *w,
              const char          *key,
              gsize               *key_end)
{
  gsize start;

  g_assert (w->n < ORRERY_VARDICT_WRITER_MAX);
  writer_pad8 (w);
  start = w->len;
  writer_put (w, key, strlen (key) + 1);
  *key_end = w->len - start;
  writer_pad8 (w);
  return start;
}

/* After the value's bytes: its type and the member's framing offset. */
static void
writer_finish (OrreryVardictWriter *w,
               gsize                start,
               gsize                key_end,
               const char          *type,
               gsize                type_len)
{
  writer_reserve (w, 1 + type_len);
  w->data[w->len++] = '\0';
  memcpy (w->data + w->len, type, type_len);
  w->len += type_len;
  writer_put_offset (w, key_end, offset_size (w->len - start, 1));
  w->ends[w->n++] = w->len;
}

static void
writer_add_fixed (OrreryVardictWriter *w,
                  const char          *key,
                  const void          *bytes,
                  gsize                n,
                  char                 type)
{
  gsize key_end, start = writer_begin (w, key, &key_end);

  writer_put (w, bytes, n);
  writer_finish (w, start, key_end, &type, 1);
}

void
_orrery_vardict_writer_add_int32 (OrreryVardictWriter *w,
                                  const char          *key,
                                  gint32               value)
{
  writer_add_fixed (w, key, &value, sizeof value, 'i');
}

void
_orrery_vardict_writer_add_int64 (OrreryVardictWriter *w,
                                  const char          *key,
                                  gint64               value)
{
  writer_add_fixed (w, key, &value, sizeof value, 'x');
}

void
_orrery_vardict_writer_add_boolean (OrreryVardictWriter *w,
                                    const char          *key,
                                    gboolean             value)
{
  guint8 b = value ? 1 : 0;

  writer_add_fixed (w, key, &b, 1, 'b');
}

void
_orrery_vardict_writer_add_double (OrreryVardictWriter *w,
                                   const char          *key,
                                   double               value)
{
  writer_add_fixed (w, key, &value, sizeof value, 'd');
}

void
_orrery_vardict_writer_add_string (OrreryVardictWriter *w,
                                   const char          *key,
                                   const char          *value,
                                   gssize               length)
{
  gsize key_end, start, n = length < 0 ? strlen (value) : (gsize) length;

  start = writer_begin (w, key, &key_end);
  /* A GVariant string is UTF-8 without NUL: what is not is made so. */
  if (g_utf8_validate_len (value, n, NULL))
    writer_put (w, value, n);
  else
    {
      g_autofree char *valid = g_utf8_make_valid (value, (gssize) n);

      writer_put (w, valid, strlen (valid));
    }
  writer_reserve (w, 1);
  w->data[w->len++] = '\0';
  writer_finish (w, start, key_end, "s", 1);
}

void
_orrery_vardict_writer_add_value (OrreryVardictWriter *w,
                                  const char          *key,
                                  GVariant            *value)
{
  g_autoptr(GVariant) v = g_variant_take_ref (value);
  gsize key_end, start = writer_begin (w, key, &key_end);
  gsize size = g_variant_get_size (v);
  const char *type = g_variant_get_type_string (v);

  if (size > 0)
    {
      writer_reserve (w, size);
      g_variant_store (v, w->data + w->len);
      w->len += size;
    }
  writer_finish (w, start, key_end, type, strlen (type));
}

GVariant *
_orrery_vardict_writer_end (OrreryVardictWriter *w)
{
  guint size = offset_size (w->len, w->n);
  GVariant *dict;

  for (guint i = 0; i < w->n; i++)
    writer_put_offset (w, w->ends[i], size);
  if (w->len == 0)
    {
      dict = g_variant_new_array (G_VARIANT_TYPE ("{sv}"), NULL, 0);
      g_clear_pointer (&w->data, g_free);
    }
  else
    dict = g_variant_new_from_data (G_VARIANT_TYPE_VARDICT, w->data, w->len, TRUE, g_free, w->data);
  w->data = NULL;
  w->len = w->alloc = 0;
  w->n = 0;
  return g_variant_ref_sink (dict);
}
