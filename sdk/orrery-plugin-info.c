/* orrery-plugin-info.c: what the plugin engine knows of one plugin.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-Plugins"

#include "orrery-plugin-info-private.h"

/**
 * OrreryPluginInfo:
 *
 * What the engine knows of one plugin file (or of one plugin the
 * configuration asks for and no file provides): its name, version,
 * description and file, its state and the error of its failure.
 */
G_DEFINE_FINAL_TYPE (OrreryPluginInfo, orrery_plugin_info, G_TYPE_OBJECT)

enum {
  INFO_PROP_0,
  INFO_PROP_NAME,
  INFO_PROP_VERSION,
  INFO_PROP_DESCRIPTION,
  INFO_PROP_FILE,
  INFO_PROP_STATE,
  INFO_N_PROPS
};

static GParamSpec *info_properties[INFO_N_PROPS];

static void
free_keys (OrreryPluginKey *keys,
           guint            n_keys)
{
  for (guint i = 0; keys != NULL && i < n_keys; i++)
    {
      g_free ((char *) keys[i].name);
      g_free ((char *) keys[i].default_value);
      g_free ((char *) keys[i].description);
    }
  g_free (keys);
}

static void
orrery_plugin_info_finalize (GObject *object)
{
  OrreryPluginInfo *self = ORRERY_PLUGIN_INFO (object);

  g_free (self->name);
  g_free (self->version);
  g_free (self->description);
  g_free (self->file);
  g_clear_error (&self->error);
  free_keys (self->keys, self->n_keys);
  g_strfreev (self->device_kinds);
  G_OBJECT_CLASS (orrery_plugin_info_parent_class)->finalize (object);
}

static void
orrery_plugin_info_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  OrreryPluginInfo *self = ORRERY_PLUGIN_INFO (object);

  switch (prop_id)
    {
    case INFO_PROP_NAME:
      g_value_set_string (value, self->name);
      break;
    case INFO_PROP_VERSION:
      g_value_set_string (value, self->version);
      break;
    case INFO_PROP_DESCRIPTION:
      g_value_set_string (value, self->description);
      break;
    case INFO_PROP_FILE:
      g_value_set_string (value, self->file);
      break;
    case INFO_PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
orrery_plugin_info_class_init (OrreryPluginInfoClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = orrery_plugin_info_finalize;
  object_class->get_property = orrery_plugin_info_get_property;

  /**
   * OrreryPluginInfo:name:
   *
   * The plugin's name, once its descriptor was read.
   */
  info_properties[INFO_PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * OrreryPluginInfo:version:
   *
   * The plugin's version, once its descriptor was read.
   */
  info_properties[INFO_PROP_VERSION] =
    g_param_spec_string ("version", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * OrreryPluginInfo:description:
   *
   * The plugin's description, once its descriptor was read.
   */
  info_properties[INFO_PROP_DESCRIPTION] =
    g_param_spec_string ("description", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * OrreryPluginInfo:file:
   *
   * The plugin's shared object.
   */
  info_properties[INFO_PROP_FILE] =
    g_param_spec_string ("file", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * OrreryPluginInfo:state:
   *
   * The plugin's state.
   */
  info_properties[INFO_PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, ORRERY_TYPE_PLUGIN_STATE, ORRERY_PLUGIN_STATE_FOUND,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, INFO_N_PROPS, info_properties);
}

static void
orrery_plugin_info_init (OrreryPluginInfo *self)
{
}

OrreryPluginInfo *
_orrery_plugin_info_new (const char *file)
{
  OrreryPluginInfo *self = g_object_new (ORRERY_TYPE_PLUGIN_INFO, NULL);

  self->file = g_strdup (file);
  return self;
}

void
_orrery_plugin_info_set_metadata (OrreryPluginInfo *self,
                                  const char       *name,
                                  const char       *version,
                                  const char       *description)
{
  g_free (self->name);
  self->name = g_strdup (name);
  g_free (self->version);
  self->version = g_strdup (version);
  g_free (self->description);
  self->description = g_strdup (description);
}

void
_orrery_plugin_info_set_descriptor (OrreryPluginInfo      *self,
                                    guint                  abi_major,
                                    guint                  abi_minor,
                                    const OrreryPluginKey *keys,
                                    guint                  n_keys,
                                    const char * const    *device_kinds)
{
  free_keys (self->keys, self->n_keys);
  self->keys = NULL;
  self->n_keys = 0;
  g_strfreev (self->device_kinds);
  self->device_kinds = device_kinds != NULL ? g_strdupv ((char **) device_kinds) : NULL;
  self->has_descriptor = TRUE;
  self->abi_major = abi_major;
  self->abi_minor = abi_minor;
  if (keys == NULL || n_keys == 0)
    return;
  self->n_keys = n_keys;
  self->keys = g_new0 (OrreryPluginKey, n_keys + 1);
  for (guint i = 0; i < n_keys; i++)
    {
      self->keys[i].name = g_strdup (keys[i].name);
      self->keys[i].type = keys[i].type;
      self->keys[i].default_value = g_strdup (keys[i].default_value);
      self->keys[i].description = g_strdup (keys[i].description);
    }
}

void
_orrery_plugin_info_set_state (OrreryPluginInfo  *self,
                               OrreryPluginState  state,
                               const GError      *error)
{
  g_clear_error (&self->error);
  if (error != NULL)
    self->error = g_error_copy (error);
  if (self->state != state)
    {
      self->state = state;
      g_object_notify_by_pspec (G_OBJECT (self), info_properties[INFO_PROP_STATE]);
    }
}

/**
 * orrery_plugin_info_get_name:
 * @self: a plugin info
 *
 * Returns: (nullable): the plugin's name, or %NULL if its descriptor could
 *   not be read
 */
const char *
orrery_plugin_info_get_name (OrreryPluginInfo *self)
{
  g_return_val_if_fail (ORRERY_IS_PLUGIN_INFO (self), NULL);
  return self->name;
}

/**
 * orrery_plugin_info_get_version:
 * @self: a plugin info
 *
 * Returns: (nullable): the plugin's version
 */
const char *
orrery_plugin_info_get_version (OrreryPluginInfo *self)
{
  g_return_val_if_fail (ORRERY_IS_PLUGIN_INFO (self), NULL);
  return self->version;
}

/**
 * orrery_plugin_info_get_description:
 * @self: a plugin info
 *
 * Returns: (nullable): the plugin's description
 */
const char *
orrery_plugin_info_get_description (OrreryPluginInfo *self)
{
  g_return_val_if_fail (ORRERY_IS_PLUGIN_INFO (self), NULL);
  return self->description;
}

/**
 * orrery_plugin_info_get_file:
 * @self: a plugin info
 *
 * Returns: (nullable) (type filename): the plugin's file, or %NULL for a
 *   plugin that was not found
 */
const char *
orrery_plugin_info_get_file (OrreryPluginInfo *self)
{
  g_return_val_if_fail (ORRERY_IS_PLUGIN_INFO (self), NULL);
  return self->file;
}

/**
 * orrery_plugin_info_get_state:
 * @self: a plugin info
 *
 * Returns: the plugin's state
 */
OrreryPluginState
orrery_plugin_info_get_state (OrreryPluginInfo *self)
{
  g_return_val_if_fail (ORRERY_IS_PLUGIN_INFO (self), ORRERY_PLUGIN_STATE_FAILED);
  return self->state;
}

/**
 * orrery_plugin_info_get_error:
 * @self: a plugin info
 *
 * Returns: (nullable) (transfer none): why the plugin failed or was not
 *   found (an %ORRERY_PLUGIN_ERROR), or %NULL
 */
const GError *
orrery_plugin_info_get_error (OrreryPluginInfo *self)
{
  g_return_val_if_fail (ORRERY_IS_PLUGIN_INFO (self), NULL);
  return self->error;
}

/**
 * orrery_plugin_info_get_keys:
 * @self: a plugin's information
 * @n_keys: (out): the number of keys
 *
 * The configuration keys the plugin declares in its descriptor, as read
 * from its file without running any of its code (once the plugin was
 * checked or loaded).
 *
 * Returns: (transfer none) (array length=n_keys) (nullable): the keys, or
 *   %NULL if the plugin declares none or its descriptor could not be read
 */
const OrreryPluginKey *
orrery_plugin_info_get_keys (OrreryPluginInfo *self,
                             guint            *n_keys)
{
  g_return_val_if_fail (ORRERY_IS_PLUGIN_INFO (self), NULL);
  g_return_val_if_fail (n_keys != NULL, NULL);
  *n_keys = self->n_keys;
  return self->keys;
}

/**
 * orrery_plugin_info_get_device_kinds:
 * @self: a plugin's information
 *
 * The device kinds (`Type=` names) the plugin declares in its descriptor
 * (ORRERY_PLUGIN_DEFINE_FULL()), as read from its file without running any
 * of its code (once the plugin was checked or loaded). What its init then
 * registers is up to the plugin; `orrery validate` and `orrery run
 * --dry-run` go by this list.
 *
 * Returns: (transfer none) (array zero-terminated=1) (nullable): the
 *   kinds, or %NULL if it declares none
 */
const char * const *
orrery_plugin_info_get_device_kinds (OrreryPluginInfo *self)
{
  g_return_val_if_fail (ORRERY_IS_PLUGIN_INFO (self), NULL);
  return (const char * const *) self->device_kinds;
}

/**
 * orrery_plugin_info_get_abi_version:
 * @self: a plugin's information
 * @major: (out) (optional): the plugin ABI major version of its descriptor
 * @minor: (out) (optional): the plugin ABI minor version of its descriptor
 *
 * The plugin ABI version the plugin was built for, as read from its
 * descriptor in the file.
 *
 * Returns: whether the descriptor was read (if not, @major and @minor are 0)
 */
gboolean
orrery_plugin_info_get_abi_version (OrreryPluginInfo *self,
                                    guint            *major,
                                    guint            *minor)
{
  g_return_val_if_fail (ORRERY_IS_PLUGIN_INFO (self), FALSE);
  if (major != NULL)
    *major = self->abi_major;
  if (minor != NULL)
    *minor = self->abi_minor;
  return self->has_descriptor;
}

/**
 * orrery_plugin_state_to_nick:
 * @state: a plugin state
 *
 * Returns: (transfer none): the nick of @state (`enabled`, `failed`, ...)
 */
const char *
orrery_plugin_state_to_nick (OrreryPluginState state)
{
  const char *nick = _orrery_enum_to_nick (ORRERY_TYPE_PLUGIN_STATE, state);

  return nick != NULL ? nick : "invalid";
}
