/* orrery-device-kind.c: device kinds and the registry of them.
 *
 * A device kind is a name, the `Type=` of a `[Device NAME]` group, and a
 * factory that builds the device from that group. Each device manager
 * keeps its own registry (no process-wide state: two managers, or two
 * tests, never see each other's kinds), filled with the built-in kinds
 * `local` and `simulated`; a script adds a kind with
 * orrery_device_manager_register_kind(), a plugin with
 * orrery_plugin_context_register_device_kind() (removed again when the
 * plugin is disabled). Names match in any case, as `Type=` always did.
 *
 * The factories read the group through #OrreryConfig, so that an error
 * names the file the key came from (the main file, a defaults file or the
 * command line), the group and the key.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-Devices"

#include <string.h>

#include "orrery-device-kind-private.h"

typedef struct
{
  char                    *name;
  OrreryDeviceKindFactory  factory;
  gpointer                 user_data;
  GDestroyNotify           destroy;
} DeviceKind;

struct _OrreryDeviceKinds
{
  GHashTable *by_name;   /* lower-case name -> DeviceKind */
};

static void
device_kind_free (DeviceKind *kind)
{
  if (kind->destroy != NULL)
    kind->destroy (kind->user_data);
  g_free (kind->name);
  g_free (kind);
}

/* ------------------------------------------------------------------------ */
/* Reading a device's group, for every kind. */

/* Where @group's values come from, for an error about the group itself. */
static char *
group_origin (OrreryConfig *config,
              const char   *group)
{
  g_auto(GStrv) keys = orrery_config_get_keys (config, group);
  const char *file = orrery_config_get_file (config);

  if (keys != NULL && keys[0] != NULL)
    return orrery_config_get_origin (config, group, keys[0]);
  return g_strdup (file != NULL ? file : "configuration");
}

static char *
key_origin (OrreryConfig *config,
            const char   *group,
            const char   *key)
{
  char *origin = orrery_config_get_origin (config, group, key);

  return origin != NULL ? origin : group_origin (config, group);
}

/* "FILE: [GROUP] KEY: " with the user's text escaped; @key may be NULL. */
static void G_GNUC_PRINTF (5, 6)
set_config_error (GError       **error,
                  OrreryConfig  *config,
                  const char    *group,
                  const char    *key,
                  const char    *format,
                  ...)
{
  g_autofree char *origin = key != NULL ? key_origin (config, group, key) : group_origin (config, group);
  g_autofree char *where = orrery_escape_for_terminal (origin, -1);
  g_autofree char *group_shown = orrery_escape_for_terminal (group, -1);
  g_autofree char *what = NULL;
  va_list args;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_CONFIG,
               "%s: [%s]%s%s: %s", where, group_shown, key ? " " : "", key ? key : "", what);
}

/**
 * orrery_device_kind_get_count:
 * @config: the host configuration
 * @group: a device's group
 * @key: a key of @group, such as `MaxConcurrency`
 * @min: the smallest value accepted
 * @max: the largest value accepted
 * @default_value: returned when @key is not set
 * @error: return location for an error
 *
 * Reads a count (a decimal integer from @min to @max) from a device's
 * group, as the built-in kinds read `MaxConcurrency` (from 1) and
 * `MaxOutputBytes` (from 0).
 *
 * Returns: the value, or @default_value when @key is unset or invalid
 *   (then @error is %ORRERY_DEVICE_ERROR_BAD_CONFIG, naming the file, the
 *   group and the key)
 */
guint64
orrery_device_kind_get_count (OrreryConfig  *config,
                              const char    *group,
                              const char    *key,
                              guint64        min,
                              guint64        max,
                              guint64        default_value,
                              GError       **error)
{
  g_autofree char *raw = NULL;
  guint64 value;

  g_return_val_if_fail (ORRERY_IS_CONFIG (config), default_value);
  g_return_val_if_fail (group != NULL && key != NULL, default_value);

  if (!orrery_config_has_key (config, group, key))
    return default_value;
  raw = orrery_config_get_string (config, group, key, "");
  g_strstrip (raw);
  if (!g_ascii_string_to_unsigned (raw, 10, min, max, &value, NULL))
    {
      g_autofree char *shown = orrery_escape_for_terminal (raw, -1);

      set_config_error (error, config, group, key, "“%s” is not %s integer", shown,
                        min > 0 ? "a positive" : "a non-negative");
      return default_value;
    }
  return value;
}

/**
 * orrery_device_kind_get_capabilities:
 * @config: the host configuration
 * @group: a device's group
 *
 * Reads `Capabilities`, a list such as `gpu;docker`, without blank entries.
 *
 * Returns: (transfer full) (array zero-terminated=1) (nullable): the
 *   capabilities, or %NULL when the key is not set
 */
char **
orrery_device_kind_get_capabilities (OrreryConfig *config,
                                     const char   *group)
{
  g_autoptr(GStrvBuilder) builder = NULL;
  g_auto(GStrv) raw = NULL;

  g_return_val_if_fail (ORRERY_IS_CONFIG (config), NULL);
  g_return_val_if_fail (group != NULL, NULL);

  if (!orrery_config_has_key (config, group, "Capabilities"))
    return NULL;
  raw = orrery_config_get_string_list (config, group, "Capabilities");
  builder = g_strv_builder_new ();
  for (char **c = raw; c != NULL && *c != NULL; c++)
    if (*g_strstrip (*c) != '\0')
      g_strv_builder_add (builder, *c);
  return g_strv_builder_end (builder);
}

/**
 * orrery_device_kind_get_device_type:
 * @config: the host configuration
 * @group: a device's group
 *
 * Reads `DeviceType`, the kind of system (`Linux`, `Windows`...).
 *
 * Returns: (transfer full) (nullable): the device type, or %NULL when it
 *   is unset or blank (the kind's default then applies)
 */
char *
orrery_device_kind_get_device_type (OrreryConfig *config,
                                    const char   *group)
{
  g_autofree char *value = NULL;

  g_return_val_if_fail (ORRERY_IS_CONFIG (config), NULL);
  g_return_val_if_fail (group != NULL, NULL);

  value = orrery_config_get_string (config, group, "DeviceType", NULL);
  if (value == NULL || *g_strstrip (value) == '\0')
    return NULL;
  return g_steal_pointer (&value);
}

/* ------------------------------------------------------------------------ */
/* The built-in kinds. */

static OrreryDevice *
build_local (OrreryConfig  *config,
             const char    *group,
             const char    *id,
             gpointer       user_data,
             GError       **error)
{
  g_autofree char *device_type = orrery_device_kind_get_device_type (config, group);
  g_auto(GStrv) caps = orrery_device_kind_get_capabilities (config, group);
  GError *local_error = NULL;
  guint64 max_concurrency, max_output, log_max;
  OrreryLocalDevice *device;

  max_concurrency = orrery_device_kind_get_count (config, group, "MaxConcurrency", 1, G_MAXUINT,
                                                  0, &local_error);
  if (local_error == NULL)
    max_output = orrery_device_kind_get_count (config, group, "MaxOutputBytes", 0, G_MAXSIZE,
                                               ORRERY_LOCAL_DEVICE_DEFAULT_MAX_OUTPUT_BYTES,
                                               &local_error);
  if (local_error == NULL)
    log_max = orrery_device_kind_get_count (config, group, "LogMaxBytes", 0, G_MAXUINT64,
                                            ORRERY_LOCAL_DEVICE_DEFAULT_LOG_MAX_BYTES,
                                            &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return NULL;
    }

  device = orrery_local_device_new (id, device_type, (guint) max_concurrency);
  orrery_local_device_set_capabilities (device, (const char * const *) caps);
  orrery_local_device_set_max_output_bytes (device, (gsize) max_output);
  orrery_local_device_set_log_max_bytes (device, log_max);
  return ORRERY_DEVICE (device);
}

static OrreryDevice *
build_simulated (OrreryConfig  *config,
                 const char    *group,
                 const char    *id,
                 gpointer       user_data,
                 GError       **error)
{
  static const char *const local_only[] = { "MaxOutputBytes", "LogMaxBytes" };
  g_autofree char *device_type = orrery_device_kind_get_device_type (config, group);
  g_auto(GStrv) caps = orrery_device_kind_get_capabilities (config, group);
  GError *local_error = NULL;
  guint64 max_concurrency;
  OrrerySimulatedDevice *device;

  max_concurrency = orrery_device_kind_get_count (config, group, "MaxConcurrency", 1, G_MAXUINT,
                                                  0, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return NULL;
    }
  /* Checked as the local device checks them, then refused. */
  for (guint i = 0; i < G_N_ELEMENTS (local_only); i++)
    {
      orrery_device_kind_get_count (config, group, local_only[i], 0, G_MAXUINT64, 0, &local_error);
      if (local_error != NULL)
        {
          g_propagate_error (error, local_error);
          return NULL;
        }
    }
  for (guint i = 0; i < G_N_ELEMENTS (local_only); i++)
    if (orrery_config_has_key (config, group, local_only[i]))
      {
        set_config_error (error, config, group, local_only[i], "only local devices capture output");
        return NULL;
      }

  device = orrery_simulated_device_new (id, device_type, (guint) max_concurrency);
  orrery_simulated_device_set_capabilities (device, (const char * const *) caps);
  return ORRERY_DEVICE (device);
}

/* ------------------------------------------------------------------------ */
/* The registry. */

OrreryDeviceKinds *
_orrery_device_kinds_new (void)
{
  OrreryDeviceKinds *kinds = g_new0 (OrreryDeviceKinds, 1);

  kinds->by_name = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                          (GDestroyNotify) device_kind_free);
  _orrery_device_kinds_add (kinds, "local", build_local, NULL, NULL, NULL);
  _orrery_device_kinds_add (kinds, "simulated", build_simulated, NULL, NULL, NULL);
  return kinds;
}

void
_orrery_device_kinds_free (OrreryDeviceKinds *kinds)
{
  if (kinds == NULL)
    return;
  g_hash_table_unref (kinds->by_name);
  g_free (kinds);
}

gboolean
_orrery_device_kinds_add (OrreryDeviceKinds        *kinds,
                          const char               *name,
                          OrreryDeviceKindFactory   factory,
                          gpointer                  user_data,
                          GDestroyNotify            destroy,
                          GError                  **error)
{
  g_autofree char *key = g_ascii_strdown (name, -1);
  DeviceKind *kind;

  if (g_hash_table_contains (kinds->by_name, key))
    {
      g_autofree char *shown = orrery_escape_for_terminal (name, -1);

      g_set_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_DUPLICATE_KIND,
                   "There is already a device kind “%s”", shown);
      return FALSE;
    }
  kind = g_new0 (DeviceKind, 1);
  kind->name = g_steal_pointer (&key);
  kind->factory = factory;
  kind->user_data = user_data;
  kind->destroy = destroy;
  g_hash_table_insert (kinds->by_name, kind->name, kind);
  return TRUE;
}

gboolean
_orrery_device_kinds_remove (OrreryDeviceKinds *kinds,
                             const char        *name)
{
  g_autofree char *key = g_ascii_strdown (name, -1);

  return g_hash_table_remove (kinds->by_name, key);
}

gboolean
_orrery_device_kinds_has (OrreryDeviceKinds *kinds,
                          const char        *name)
{
  g_autofree char *key = g_ascii_strdown (name, -1);

  return g_hash_table_contains (kinds->by_name, key);
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

char **
_orrery_device_kinds_list (OrreryDeviceKinds *kinds)
{
  guint n = 0;
  char **names = (char **) g_hash_table_get_keys_as_array (kinds->by_name, &n);

  /* The keys belong to the table: copy them. */
  for (guint i = 0; i < n; i++)
    names[i] = g_strdup (names[i]);
  qsort (names, n, sizeof (char *), compare_names);
  return names;
}

OrreryDevice *
_orrery_device_kinds_build (OrreryDeviceKinds  *kinds,
                            OrreryConfig       *config,
                            const char         *group,
                            GError            **error)
{
  g_autofree char *id = g_strstrip (g_strdup (group + strlen (ORRERY_DEVICE_GROUP_PREFIX)));
  g_autofree char *name = orrery_config_get_string (config, group, "Type", ORRERY_DEVICE_KIND_DEFAULT);
  g_autofree char *key = NULL;
  g_autoptr(OrreryDevice) device = NULL;
  DeviceKind *kind;

  if (*id == '\0')
    {
      set_config_error (error, config, group, NULL, "the device has no name");
      return NULL;
    }
  g_strstrip (name);
  key = g_ascii_strdown (name, -1);
  kind = g_hash_table_lookup (kinds->by_name, key);
  if (kind == NULL)
    {
      g_auto(GStrv) known = _orrery_device_kinds_list (kinds);
      g_autofree char *list = g_strjoinv (", ", known);
      g_autofree char *shown = orrery_escape_for_terminal (name, -1);

      set_config_error (error, config, group, "Type", "unknown device kind “%s” (known kinds: %s)",
                        shown, list);
      return NULL;
    }
  device = kind->factory (config, group, id, kind->user_data, error);
  if (device == NULL)
    {
      if (error != NULL && *error == NULL)
        set_config_error (error, config, group, "Type", "the “%s” kind built no device", kind->name);
      return NULL;
    }
  if (g_strcmp0 (orrery_device_get_id (device), id) != 0)
    {
      g_autofree char *shown = orrery_escape_for_terminal (orrery_device_get_id (device), -1);

      set_config_error (error, config, group, "Type", "the “%s” kind built a device named “%s”",
                        kind->name, shown);
      return NULL;
    }
  return g_steal_pointer (&device);
}
