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
orrery_plugin_info_finalize (GObject *object)
{
  OrreryPluginInfo *self = ORRERY_PLUGIN_INFO (object);

  g_free (self->name);
  g_free (self->version);
  g_free (self->description);
  g_free (self->file);
  g_clear_error (&self->error);
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
