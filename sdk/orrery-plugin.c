/* orrery-plugin.c: the context handed to a plugin's init.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-Plugins"

#include "orrery-plugin-isolation-private.h"

/**
 * OrreryPluginContext:
 *
 * What a plugin's init gets: the bus, the plugin's configuration (its
 * `[Plugin NAME]` group, read through typed getters), a place for its own
 * data, and orrery_plugin_context_add_observer(), which subscribes an
 * observer and remembers it so that disabling the plugin detaches it.
 *
 * A context lives from one init to the matching shutdown; enabling the
 * plugin again creates a new one.
 */

struct _OrreryPluginContext
{
  GObject         parent_instance;

  OrreryEventBus *bus;
  OrreryConfig   *config;
  OrreryConfig   *declared;     /* the descriptor's defaults */
  char           *name;
  char           *group;
  const OrreryPluginDescriptor *descriptor;

  gpointer        data;
  GDestroyNotify  data_destroy;

  GArray         *subscriptions; /* of guint */

  /* From the configuration; override what the plugin asks for. */
  gboolean        has_events;
  OrreryEventType *events;
  gsize           n_events;
  gboolean        has_delivery;
  OrreryDeliveryMode delivery;
  gboolean        has_queue_limit;
  guint           queue_limit;
  gboolean        has_deadline;
  guint           deadline_ms;

  OrreryOrchestrator *orchestrator;   /* nullable: no run, e.g. `orrery plugins` */
  gboolean        orchestrator_asked;  /* the plugin called get_orchestrator() */

  /* The device kinds the plugin registered, removed on detach. */
  OrreryDeviceManager *kind_manager;
  GPtrArray      *kinds;         /* of char * */

  /* In an isolation child: where add_observer() goes instead of the bus. */
  OrreryPluginObserverHook observer_hook;
  gpointer        observer_hook_data;
};

G_DEFINE_FINAL_TYPE (OrreryPluginContext, orrery_plugin_context, G_TYPE_OBJECT)
G_DEFINE_QUARK (orrery-plugin-error-quark, orrery_plugin_error)

/* The keys the engine itself reads from every plugin group. */
/* Keys of every plugin's group that are the engine's or the host's, not
 * the plugin's: OutputDir is where the host puts every plugin's files (the
 * run directory), used by the plugins that write some, ignored by others. */
static const char * const engine_keys[] = {
  "Enabled", "Events", "Delivery", "QueueLimit", "DeadlineMs", "Isolation", "Restart",
  "RestartLimit", "InitDeadlineMs", "OutputDir", NULL
};

static void
orrery_plugin_context_dispose (GObject *object)
{
  OrreryPluginContext *self = ORRERY_PLUGIN_CONTEXT (object);

  _orrery_plugin_context_detach (self);
  if (self->data_destroy != NULL && self->data != NULL)
    self->data_destroy (self->data);
  self->data = NULL;
  self->data_destroy = NULL;
  G_OBJECT_CLASS (orrery_plugin_context_parent_class)->dispose (object);
}

static void
orrery_plugin_context_finalize (GObject *object)
{
  OrreryPluginContext *self = ORRERY_PLUGIN_CONTEXT (object);

  g_clear_object (&self->bus);
  g_clear_object (&self->orchestrator);
  g_clear_object (&self->config);
  g_clear_object (&self->declared);
  g_free (self->name);
  g_free (self->group);
  g_free (self->events);
  g_array_unref (self->subscriptions);
  g_ptr_array_unref (self->kinds);
  g_clear_object (&self->kind_manager);
  G_OBJECT_CLASS (orrery_plugin_context_parent_class)->finalize (object);
}

static void
orrery_plugin_context_class_init (OrreryPluginContextClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = orrery_plugin_context_dispose;
  object_class->finalize = orrery_plugin_context_finalize;
}

static void
orrery_plugin_context_init (OrreryPluginContext *self)
{
  self->subscriptions = g_array_new (FALSE, FALSE, sizeof (guint));
  self->kinds = g_ptr_array_new_with_free_func (g_free);
}

OrreryPluginContext *
_orrery_plugin_context_new (OrreryEventBus               *bus,
                            OrreryOrchestrator           *orchestrator,
                            OrreryConfig                 *config,
                            const char                   *name,
                            const OrreryPluginDescriptor *descriptor)
{
  OrreryPluginContext *self = g_object_new (ORRERY_TYPE_PLUGIN_CONTEXT, NULL);

  self->bus = g_object_ref (bus);
  self->orchestrator = orchestrator ? g_object_ref (orchestrator) : NULL;
  self->config = g_object_ref (config);
  self->declared = orrery_config_new ();
  self->name = g_strdup (name);
  self->group = orrery_config_plugin_group (name);
  self->descriptor = descriptor;
  if (descriptor != NULL && descriptor->keys != NULL)
    for (const OrreryPluginKey *k = descriptor->keys; k->name != NULL; k++)
      if (k->default_value != NULL)
        orrery_config_set_override (self->declared, self->group, k->name, k->default_value);
  return self;
}

static const OrreryPluginKey *
find_declared_key (OrreryPluginContext *self,
                   const char          *key)
{
  if (self->descriptor == NULL || self->descriptor->keys == NULL)
    return NULL;
  for (const OrreryPluginKey *k = self->descriptor->keys; k->name != NULL; k++)
    if (g_str_equal (k->name, key))
      return k;
  return NULL;
}

static gboolean
wrap_config_error (GError  *local_error,
                   GError **error)
{
  if (local_error == NULL)
    return TRUE;
  g_set_error_literal (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_BAD_CONFIG,
                       local_error->message);
  g_error_free (local_error);
  return FALSE;
}

static gboolean
check_declared_key (OrreryPluginContext    *self,
                    const OrreryPluginKey  *k,
                    GError                **error)
{
  GError *local_error = NULL;

  switch (k->type)
    {
    case ORRERY_PLUGIN_KEY_BOOLEAN:
      orrery_config_get_boolean (self->config, self->group, k->name, FALSE, &local_error);
      break;
    case ORRERY_PLUGIN_KEY_INT:
      orrery_config_get_int (self->config, self->group, k->name, 0, &local_error);
      break;
    case ORRERY_PLUGIN_KEY_UINT:
      orrery_config_get_uint (self->config, self->group, k->name, 0, &local_error);
      break;
    case ORRERY_PLUGIN_KEY_DOUBLE:
      orrery_config_get_double (self->config, self->group, k->name, 0, &local_error);
      break;
    case ORRERY_PLUGIN_KEY_STRING:
    case ORRERY_PLUGIN_KEY_STRING_LIST:
    default:
      break;
    }
  return wrap_config_error (local_error, error);
}

gboolean
_orrery_plugin_context_configure (OrreryPluginContext  *self,
                                  GError              **error)
{
  GError *local_error = NULL;
  g_autofree char *delivery = NULL;
  g_auto(GStrv) events = NULL;
  g_auto(GStrv) keys = NULL;

  orrery_config_get_boolean (self->config, self->group, "Enabled", TRUE, &local_error);
  if (!wrap_config_error (local_error, error))
    return FALSE;

  events = orrery_config_get_string_list (self->config, self->group, "Events");
  g_clear_pointer (&self->events, g_free);
  self->n_events = 0;
  self->has_events = events != NULL;
  if (events != NULL)
    {
      self->events = g_new0 (OrreryEventType, g_strv_length (events) + 1);
      for (guint i = 0; events[i] != NULL; i++)
        {
          const char *nick = g_strstrip (events[i]);
          OrreryEventType type;

          if (*nick == '\0')
            continue;
          if (g_str_equal (nick, "*") || g_str_equal (nick, "all"))
            {
              self->n_events = 0;  /* every type */
              break;
            }
          if (!orrery_event_type_from_nick (nick, &type))
            {
              g_autofree char *origin = orrery_config_get_origin (self->config, self->group,
                                                                  "Events");

              g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_BAD_CONFIG,
                           "%s: [%s] Events: “%s” is not an event type", origin, self->group,
                           nick);
              return FALSE;
            }
          self->events[self->n_events++] = type;
        }
    }

  delivery = orrery_config_get_string (self->config, self->group, "Delivery", NULL);
  self->has_delivery = delivery != NULL;
  if (delivery != NULL)
    {
      g_strstrip (delivery);
      if (g_ascii_strcasecmp (delivery, "sync") == 0)
        self->delivery = ORRERY_DELIVERY_SYNC;
      else if (g_ascii_strcasecmp (delivery, "queued") == 0)
        self->delivery = ORRERY_DELIVERY_QUEUED;
      else
        {
          g_autofree char *origin = orrery_config_get_origin (self->config, self->group,
                                                              "Delivery");

          g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_BAD_CONFIG,
                       "%s: [%s] Delivery: “%s” is not sync or queued", origin, self->group,
                       delivery);
          return FALSE;
        }
    }

  self->has_queue_limit = orrery_config_has_key (self->config, self->group, "QueueLimit");
  self->queue_limit = orrery_config_get_uint (self->config, self->group, "QueueLimit", 0,
                                              &local_error);
  if (local_error == NULL && self->queue_limit > G_MAXUINT)
    {
      g_autofree char *origin = orrery_config_get_origin (self->config, self->group,
                                                          "QueueLimit");

      g_set_error (&local_error, ORRERY_CONFIG_ERROR, ORRERY_CONFIG_ERROR_BAD_VALUE,
                   "%s: [%s] QueueLimit: out of range", origin, self->group);
    }
  if (!wrap_config_error (local_error, error))
    return FALSE;

  self->has_deadline = orrery_config_has_key (self->config, self->group, "DeadlineMs");
  self->deadline_ms = orrery_config_get_uint (self->config, self->group, "DeadlineMs", 0,
                                              &local_error);
  if (!wrap_config_error (local_error, error))
    return FALSE;

  if (self->descriptor != NULL && self->descriptor->keys != NULL)
    for (const OrreryPluginKey *k = self->descriptor->keys; k->name != NULL; k++)
      if (!check_declared_key (self, k, error))
        return FALSE;

  keys = orrery_config_get_keys (self->config, self->group);
  /* In an isolation child, the host has warned already. */
  if (self->observer_hook == NULL && self->descriptor != NULL && self->descriptor->keys != NULL)
    for (guint i = 0; keys[i] != NULL; i++)
      if (!g_strv_contains (engine_keys, keys[i]) && find_declared_key (self, keys[i]) == NULL)
        {
          g_autofree char *origin = orrery_config_get_origin (self->config, self->group,
                                                              keys[i]);

          g_warning ("%s: [%s] %s: unknown key (plugin “%s” does not declare it)",
                     origin, self->group, keys[i], self->name);
        }
  return TRUE;
}

void
_orrery_plugin_context_set_observer_hook (OrreryPluginContext     *self,
                                          OrreryPluginObserverHook hook,
                                          gpointer                 user_data)
{
  self->observer_hook = hook;
  self->observer_hook_data = user_data;
}

void
_orrery_plugin_context_detach (OrreryPluginContext *self)
{
  for (guint i = 0; i < self->subscriptions->len; i++)
    orrery_event_bus_unsubscribe (self->bus, g_array_index (self->subscriptions, guint, i));
  g_array_set_size (self->subscriptions, 0);
  for (guint i = 0; i < self->kinds->len; i++)
    orrery_device_manager_unregister_kind (self->kind_manager, self->kinds->pdata[i]);
  g_ptr_array_set_size (self->kinds, 0);
}

/**
 * orrery_plugin_context_get_name:
 * @self: a plugin context
 *
 * Returns: (transfer none): the plugin's name
 */
const char *
orrery_plugin_context_get_name (OrreryPluginContext *self)
{
  g_return_val_if_fail (ORRERY_IS_PLUGIN_CONTEXT (self), NULL);
  return self->name;
}

/**
 * orrery_plugin_context_get_group:
 * @self: a plugin context
 *
 * Returns: (transfer none): the plugin's configuration group, `Plugin NAME`
 */
const char *
orrery_plugin_context_get_group (OrreryPluginContext *self)
{
  g_return_val_if_fail (ORRERY_IS_PLUGIN_CONTEXT (self), NULL);
  return self->group;
}

/**
 * orrery_plugin_context_get_bus:
 * @self: a plugin context
 *
 * Returns: (transfer none): the event bus
 */
OrreryEventBus *
orrery_plugin_context_get_bus (OrreryPluginContext *self)
{
  g_return_val_if_fail (ORRERY_IS_PLUGIN_CONTEXT (self), NULL);
  return self->bus;
}

/**
 * orrery_plugin_context_get_orchestrator:
 * @self: a plugin context
 *
 * The orchestrator of the run the plugin observes: through it a plugin
 * takes holds (orrery_orchestrator_hold()) or cancels the run
 * (orrery_orchestrator_cancel()).
 *
 * Returns: (transfer none) (nullable): the orchestrator, or %NULL when the
 *   host runs nothing (as in `orrery plugins`)
 */
OrreryOrchestrator *
orrery_plugin_context_get_orchestrator (OrreryPluginContext *self)
{
  g_return_val_if_fail (ORRERY_IS_PLUGIN_CONTEXT (self), NULL);
  self->orchestrator_asked = TRUE;
  return self->orchestrator;
}

gboolean
_orrery_plugin_context_orchestrator_asked (OrreryPluginContext *self)
{
  return self->orchestrator_asked;
}

/**
 * orrery_plugin_context_get_config:
 * @self: a plugin context
 *
 * The whole host configuration, for plugins that read other groups too
 * (their own is orrery_plugin_context_get_group()).
 *
 * Returns: (transfer none): the host configuration
 */
OrreryConfig *
orrery_plugin_context_get_config (OrreryPluginContext *self)
{
  g_return_val_if_fail (ORRERY_IS_PLUGIN_CONTEXT (self), NULL);
  return self->config;
}

/**
 * orrery_plugin_context_get_data:
 * @self: a plugin context
 *
 * Returns: (nullable) (transfer none): the plugin's data, from
 *   orrery_plugin_context_set_data()
 */
gpointer
orrery_plugin_context_get_data (OrreryPluginContext *self)
{
  g_return_val_if_fail (ORRERY_IS_PLUGIN_CONTEXT (self), NULL);
  return self->data;
}

/**
 * orrery_plugin_context_set_data:
 * @self: a plugin context
 * @data: (nullable): the plugin's data
 * @destroy: (nullable): frees @data when it is replaced or the context
 *   ends (after shutdown)
 *
 * Keeps a pointer for the plugin, typically its state from init to
 * shutdown.
 */
void
orrery_plugin_context_set_data (OrreryPluginContext *self,
                                gpointer             data,
                                GDestroyNotify       destroy)
{
  g_return_if_fail (ORRERY_IS_PLUGIN_CONTEXT (self));

  if (self->data_destroy != NULL && self->data != NULL && self->data != data)
    self->data_destroy (self->data);
  self->data = data;
  self->data_destroy = destroy;
}

/**
 * orrery_plugin_context_add_observer:
 * @self: a plugin context
 * @observer: the observer
 * @types: (array length=n_types) (nullable): the event types it wants;
 *   none means every type
 * @n_types: the length of @types
 * @mode: how the bus hands it events
 * @queue_limit: the bound of its queue; 0 for the default
 * @deadline_ms: the deadline of an asynchronous delivery; 0 for none
 *
 * Subscribes @observer through orrery_event_bus_subscribe_full() and
 * remembers the subscription: disabling the plugin detaches it. The
 * plugin's configuration wins over the arguments: `Events=` replaces
 * @types, `Delivery=sync|queued` @mode, `QueueLimit=` @queue_limit and
 * `DeadlineMs=` @deadline_ms.
 *
 * Returns: the subscription's id on the bus
 */
guint
orrery_plugin_context_add_observer (OrreryPluginContext   *self,
                                    OrreryObserver        *observer,
                                    const OrreryEventType *types,
                                    gsize                  n_types,
                                    OrreryDeliveryMode     mode,
                                    guint                  queue_limit,
                                    guint                  deadline_ms)
{
  guint id;

  g_return_val_if_fail (ORRERY_IS_PLUGIN_CONTEXT (self), 0);
  g_return_val_if_fail (ORRERY_IS_OBSERVER (observer), 0);

  if (self->has_events)
    {
      types = self->events;
      n_types = self->n_events;
    }
  if (self->has_delivery)
    mode = self->delivery;
  if (self->has_queue_limit)
    queue_limit = self->queue_limit;
  if (self->has_deadline)
    deadline_ms = self->deadline_ms;

  if (self->observer_hook != NULL)
    return self->observer_hook (self, observer, types, n_types, mode, queue_limit, deadline_ms,
                                self->observer_hook_data);
  id = orrery_event_bus_subscribe_full (self->bus, observer, types, n_types, mode,
                                        queue_limit, deadline_ms);
  if (id != 0)
    g_array_append_val (self->subscriptions, id);
  return id;
}

/**
 * orrery_plugin_context_get_n_observers:
 * @self: a plugin context
 *
 * Returns: how many observers the plugin has attached
 */
guint
orrery_plugin_context_get_n_observers (OrreryPluginContext *self)
{
  g_return_val_if_fail (ORRERY_IS_PLUGIN_CONTEXT (self), 0);
  return self->subscriptions->len;
}

/**
 * orrery_plugin_context_register_device_kind:
 * @self: a plugin context
 * @kind: the kind's name, the `Type=` of its devices' groups (any case)
 * @factory: (scope notified) (closure user_data) (destroy destroy): what
 *   builds a device of @kind from its `[Device NAME]` group
 * @user_data: data for @factory
 * @destroy: (nullable): frees @user_data when the kind is removed
 * @error: return location for an error
 *
 * Adds a device kind to the devices of the run
 * (orrery_device_manager_register_kind() on the orchestrator's device
 * manager), so that `[Device NAME] Type=`@kind builds its devices with
 * @factory. The host loads the plugins before it builds the devices.
 * Disabling the plugin removes the kind; devices already built stay.
 *
 * When the host runs nothing (no orchestrator, as in `orrery plugins`)
 * there are no devices to build: the call does nothing and succeeds
 * (@destroy is called at once).
 *
 * Returns: %TRUE on success; %FALSE with
 *   %ORRERY_DEVICE_ERROR_DUPLICATE_KIND when the kind exists already, or
 *   %ORRERY_PLUGIN_ERROR_BAD_CONFIG for a plugin in its own process
 *   (`Isolation=process`), which cannot build devices for the host
 */
gboolean
orrery_plugin_context_register_device_kind (OrreryPluginContext      *self,
                                            const char               *kind,
                                            OrreryDeviceKindFactory   factory,
                                            gpointer                  user_data,
                                            GDestroyNotify            destroy,
                                            GError                  **error)
{
  OrreryDeviceManager *devices;

  g_return_val_if_fail (ORRERY_IS_PLUGIN_CONTEXT (self), FALSE);
  g_return_val_if_fail (kind != NULL && *kind != '\0', FALSE);
  g_return_val_if_fail (factory != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->observer_hook != NULL)
    {
      if (destroy != NULL)
        destroy (user_data);
      g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_BAD_CONFIG,
                   "[%s] Isolation: a plugin in its own process cannot add the device kind “%s”",
                   self->group, kind);
      return FALSE;
    }
  if (self->orchestrator == NULL)
    {
      if (destroy != NULL)
        destroy (user_data);
      return TRUE;
    }
  devices = orrery_orchestrator_get_device_manager (self->orchestrator);
  if (!orrery_device_manager_register_kind (devices, kind, factory, user_data, destroy, error))
    return FALSE;
  if (self->kind_manager == NULL)
    self->kind_manager = g_object_ref (devices);
  g_ptr_array_add (self->kinds, g_strdup (kind));
  return TRUE;
}

/* The layer to read @key from: the host configuration when it sets the
 * key, else the descriptor's declared default, else none. */
static OrreryConfig *
config_for (OrreryPluginContext *self,
            const char          *key)
{
  if (orrery_config_has_key (self->config, self->group, key))
    return self->config;
  if (orrery_config_has_key (self->declared, self->group, key))
    return self->declared;
  return NULL;
}

/**
 * orrery_plugin_context_get_string:
 * @self: a plugin context
 * @key: a key of the plugin's group
 * @default_value: (nullable): used when neither the configuration nor the
 *   plugin's declared default has a value
 *
 * Returns: (transfer full) (nullable): the value
 */
char *
orrery_plugin_context_get_string (OrreryPluginContext *self,
                                  const char          *key,
                                  const char          *default_value)
{
  OrreryConfig *config;

  g_return_val_if_fail (ORRERY_IS_PLUGIN_CONTEXT (self), NULL);
  config = config_for (self, key);
  if (config == NULL)
    return g_strdup (default_value);
  return orrery_config_get_string (config, self->group, key, default_value);
}

/**
 * orrery_plugin_context_get_string_list:
 * @self: a plugin context
 * @key: a key of the plugin's group
 *
 * Returns: (transfer full) (array zero-terminated=1) (nullable): the list,
 *   or %NULL when unset
 */
char **
orrery_plugin_context_get_string_list (OrreryPluginContext *self,
                                       const char          *key)
{
  OrreryConfig *config;

  g_return_val_if_fail (ORRERY_IS_PLUGIN_CONTEXT (self), NULL);
  config = config_for (self, key);
  if (config == NULL)
    return NULL;
  return orrery_config_get_string_list (config, self->group, key);
}

/**
 * orrery_plugin_context_get_boolean:
 * @self: a plugin context
 * @key: a key of the plugin's group
 * @default_value: used when neither the configuration nor the plugin's
 *   declared default has a value
 * @error: return location for an error naming the file, group and key
 *
 * Returns: the value
 */
gboolean
orrery_plugin_context_get_boolean (OrreryPluginContext  *self,
                                   const char           *key,
                                   gboolean              default_value,
                                   GError              **error)
{
  OrreryConfig *config;

  g_return_val_if_fail (ORRERY_IS_PLUGIN_CONTEXT (self), default_value);
  config = config_for (self, key);
  if (config == NULL)
    return default_value;
  return orrery_config_get_boolean (config, self->group, key, default_value, error);
}

/**
 * orrery_plugin_context_get_int:
 * @self: a plugin context
 * @key: a key of the plugin's group
 * @default_value: used when neither the configuration nor the plugin's
 *   declared default has a value
 * @error: return location for an error naming the file, group and key
 *
 * Returns: the value
 */
gint64
orrery_plugin_context_get_int (OrreryPluginContext  *self,
                               const char           *key,
                               gint64                default_value,
                               GError              **error)
{
  OrreryConfig *config;

  g_return_val_if_fail (ORRERY_IS_PLUGIN_CONTEXT (self), default_value);
  config = config_for (self, key);
  if (config == NULL)
    return default_value;
  return orrery_config_get_int (config, self->group, key, default_value, error);
}

/**
 * orrery_plugin_context_get_uint:
 * @self: a plugin context
 * @key: a key of the plugin's group
 * @default_value: used when neither the configuration nor the plugin's
 *   declared default has a value
 * @error: return location for an error naming the file, group and key
 *
 * Returns: the value
 */
guint64
orrery_plugin_context_get_uint (OrreryPluginContext  *self,
                                const char           *key,
                                guint64               default_value,
                                GError              **error)
{
  OrreryConfig *config;

  g_return_val_if_fail (ORRERY_IS_PLUGIN_CONTEXT (self), default_value);
  config = config_for (self, key);
  if (config == NULL)
    return default_value;
  return orrery_config_get_uint (config, self->group, key, default_value, error);
}

/**
 * orrery_plugin_context_get_double:
 * @self: a plugin context
 * @key: a key of the plugin's group
 * @default_value: used when neither the configuration nor the plugin's
 *   declared default has a value
 * @error: return location for an error naming the file, group and key
 *
 * Returns: the value
 */
gdouble
orrery_plugin_context_get_double (OrreryPluginContext  *self,
                                  const char           *key,
                                  gdouble               default_value,
                                  GError              **error)
{
  OrreryConfig *config;

  g_return_val_if_fail (ORRERY_IS_PLUGIN_CONTEXT (self), default_value);
  config = config_for (self, key);
  if (config == NULL)
    return default_value;
  return orrery_config_get_double (config, self->group, key, default_value, error);
}
