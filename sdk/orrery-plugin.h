/* orrery-plugin.h: the plugin ABI (descriptor) and the context of a plugin.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ORRERY_INSIDE) && !defined(ORRERY_COMPILATION)
#error "Only <orrery.h> can be included directly."
#endif

#include <gio/gio.h>
#include "orrery-version.h"
#include "orrery-types.h"
#include "orrery-observer.h"
#include "orrery-event-bus.h"
#include "orrery-config.h"
#include "orrery-orchestrator.h"
#include "orrery-device-kind.h"

G_BEGIN_DECLS

/**
 * ORRERY_PLUGIN_ERROR:
 *
 * The error domain of plugins and of the plugin engine.
 */
#define ORRERY_PLUGIN_ERROR (orrery_plugin_error_quark ())
ORRERY_EXPORT
GQuark orrery_plugin_error_quark (void);

/**
 * OrreryPluginError:
 * @ORRERY_PLUGIN_ERROR_NOT_SHARED_OBJECT: the file is not an ELF shared
 *   object (or is incomplete)
 * @ORRERY_PLUGIN_ERROR_NO_DESCRIPTOR: a shared object without the
 *   `orrery_plugin_descriptor` symbol
 * @ORRERY_PLUGIN_ERROR_ABI_MISMATCH: built for another ABI major, or for a
 *   newer ABI minor than this SDK
 * @ORRERY_PLUGIN_ERROR_INIT_FAILED: the plugin's init function failed
 * @ORRERY_PLUGIN_ERROR_DUPLICATE_NAME: a plugin of that name was found
 *   earlier in the search path (the first found wins)
 * @ORRERY_PLUGIN_ERROR_BAD_CONFIG: a value of the plugin's configuration
 *   is invalid (the message names the file, the group and the key)
 * @ORRERY_PLUGIN_ERROR_UNSAFE_PERMISSIONS: the file, a directory above it
 *   or a symbolic link on its path is owned by another user than root and
 *   the running one, or the file or a directory is writable by group or
 *   others (a sticky directory only where the entry below it is not owned
 *   by root or the running user); the message names the path, its owner
 *   and its mode
 * @ORRERY_PLUGIN_ERROR_LOAD_FAILED: the dynamic loader refused the shared
 *   object (missing library, undefined symbol, ...), or its private copy
 *   could not be made
 * @ORRERY_PLUGIN_ERROR_NOT_FOUND: the plugin is enabled in the
 *   configuration but no file provides it
 * @ORRERY_PLUGIN_ERROR_UNKNOWN: no plugin of that name is known (from
 *   orrery_plugin_engine_enable() and orrery_plugin_engine_disable())
 * @ORRERY_PLUGIN_ERROR_CRASHED: an isolated plugin's helper process was
 *   killed by a signal (the message names it and the event it was handling)
 * @ORRERY_PLUGIN_ERROR_EXITED: an isolated plugin's helper process exited
 *   before it was stopped
 * @ORRERY_PLUGIN_ERROR_TIMED_OUT: an isolated plugin did not answer in time
 *   (init, a sync event or a batch of queued events past `DeadlineMs`): its
 *   helper process was killed
 * @ORRERY_PLUGIN_ERROR_PROTOCOL: an isolated plugin's helper process wrote
 *   something that is not a valid message, too large a message, or too many
 *   messages: it was killed
 *
 * The failures of a plugin. Each one stays on the plugin's
 * #OrreryPluginInfo; none stops the host or the other plugins.
 */
typedef enum {
  ORRERY_PLUGIN_ERROR_NOT_SHARED_OBJECT,
  ORRERY_PLUGIN_ERROR_NO_DESCRIPTOR,
  ORRERY_PLUGIN_ERROR_ABI_MISMATCH,
  ORRERY_PLUGIN_ERROR_INIT_FAILED,
  ORRERY_PLUGIN_ERROR_DUPLICATE_NAME,
  ORRERY_PLUGIN_ERROR_BAD_CONFIG,
  ORRERY_PLUGIN_ERROR_UNSAFE_PERMISSIONS,
  ORRERY_PLUGIN_ERROR_LOAD_FAILED,
  ORRERY_PLUGIN_ERROR_NOT_FOUND,
  ORRERY_PLUGIN_ERROR_UNKNOWN,
  ORRERY_PLUGIN_ERROR_CRASHED,
  ORRERY_PLUGIN_ERROR_EXITED,
  ORRERY_PLUGIN_ERROR_TIMED_OUT,
  ORRERY_PLUGIN_ERROR_PROTOCOL,
} OrreryPluginError;

/**
 * OrreryPluginKeyType:
 * @ORRERY_PLUGIN_KEY_STRING: any string
 * @ORRERY_PLUGIN_KEY_BOOLEAN: `true` or `false`
 * @ORRERY_PLUGIN_KEY_INT: a signed integer
 * @ORRERY_PLUGIN_KEY_UINT: a non-negative integer
 * @ORRERY_PLUGIN_KEY_DOUBLE: a floating-point number
 * @ORRERY_PLUGIN_KEY_STRING_LIST: a `;`-separated list of strings
 *
 * The type of a key a plugin declares in its descriptor; the engine checks
 * configured values against it before the plugin's init runs.
 */
typedef enum {
  ORRERY_PLUGIN_KEY_STRING,
  ORRERY_PLUGIN_KEY_BOOLEAN,
  ORRERY_PLUGIN_KEY_INT,
  ORRERY_PLUGIN_KEY_UINT,
  ORRERY_PLUGIN_KEY_DOUBLE,
  ORRERY_PLUGIN_KEY_STRING_LIST,
} OrreryPluginKeyType;

/**
 * OrreryPluginKey:
 * @name: the key, as written in the keyfile
 * @type: its type
 * @default_value: (nullable): its default, in keyfile syntax, or %NULL
 * @description: one line for `orrery plugins` and documentation
 *
 * One configuration key of a plugin. A plugin's table of keys ends with an
 * entry whose @name is %NULL.
 */
typedef struct
{
  const char          *name;
  OrreryPluginKeyType  type;
  const char          *default_value;
  const char          *description;
} OrreryPluginKey;

#define ORRERY_TYPE_PLUGIN_CONTEXT (orrery_plugin_context_get_type ())
ORRERY_EXPORT
G_DECLARE_FINAL_TYPE (OrreryPluginContext, orrery_plugin_context, ORRERY, PLUGIN_CONTEXT, GObject)

/**
 * OrreryPluginInitFunc:
 * @context: the plugin's context
 * @error: return location for an error
 *
 * Starts a plugin: reads its configuration from @context and adds its
 * observers with orrery_plugin_context_add_observer(). Called every time
 * the plugin is enabled.
 *
 * Returns: %TRUE on success, %FALSE with @error set on failure
 */
typedef gboolean (*OrreryPluginInitFunc)     (OrreryPluginContext  *context,
                                              GError              **error);

/**
 * OrreryPluginShutdownFunc:
 * @context: the plugin's context
 *
 * Stops a plugin, after its observers were detached: flushes its output
 * and frees what init allocated (see orrery_plugin_context_set_data()).
 */
typedef void     (*OrreryPluginShutdownFunc) (OrreryPluginContext  *context);

/**
 * OrreryPluginDescriptor:
 * @abi_major: %ORRERY_PLUGIN_ABI_MAJOR of the SDK the plugin was built with
 * @abi_minor: %ORRERY_PLUGIN_ABI_MINOR of the SDK the plugin was built with
 * @struct_size: sizeof (OrreryPluginDescriptor) when it was built
 * @flags: zero (reserved for flags of later ABI minors)
 * @name: (nullable): the plugin's unique name; %NULL to take the file's
 *   base name without `lib` and `.so`
 * @version: the plugin's version
 * @description: one line about the plugin
 * @init: starts the plugin
 * @shutdown: (nullable): stops the plugin
 * @keys: (nullable) (array zero-terminated=1): the plugin's own
 *   configuration keys, ending with an entry whose name is %NULL; %NULL if
 *   it declares none (then unknown keys are not warned about)
 * @device_kinds: (nullable) (array zero-terminated=1): the device kinds
 *   (`Type=` names) the plugin's init registers with
 *   orrery_plugin_context_register_device_kind(), ending with %NULL; read
 *   from the file without running the plugin, so that `orrery validate` and
 *   `orrery run --dry-run` know a `[Device NAME] Type=KIND` of the plugin
 *   (since plugin ABI 1.1)
 *
 * What a plugin exports under the symbol %ORRERY_PLUGIN_SYMBOL. Do not fill
 * it by hand: use ORRERY_PLUGIN_DEFINE(). The engine reads @abi_major and
 * @abi_minor before anything else; fields are only ever added at the end
 * (in the reserved space) within one ABI major.
 */
typedef struct
{
  guint32                   abi_major;
  guint32                   abi_minor;
  guint32                   struct_size;
  guint32                   flags;
  const char               *name;
  const char               *version;
  const char               *description;
  OrreryPluginInitFunc      init;
  OrreryPluginShutdownFunc  shutdown;
  const OrreryPluginKey    *keys;
  const char * const       *device_kinds;

  /*< private >*/
  gpointer                  reserved[15];
} OrreryPluginDescriptor;

/**
 * ORRERY_PLUGIN_SYMBOL:
 *
 * The name of the symbol a plugin exports its #OrreryPluginDescriptor under.
 */
#define ORRERY_PLUGIN_SYMBOL "orrery_plugin_descriptor"

/**
 * ORRERY_PLUGIN_DEFINE:
 * @name: the plugin's name (a string literal), or %NULL for the file name
 * @version: its version (a string)
 * @description: one line about it
 * @init: its #OrreryPluginInitFunc
 * @shutdown: its #OrreryPluginShutdownFunc, or %NULL
 * @keys: its table of #OrreryPluginKey, or %NULL
 *
 * Defines and exports the descriptor of a plugin. Use it once, at file
 * scope, in one source file of the plugin:
 *
 * |[<!-- language="C" -->
 * ORRERY_PLUGIN_DEFINE ("hello", "1.0", "Says hello", hello_init, hello_shutdown, hello_keys)
 * ]|
 */
#define ORRERY_PLUGIN_DEFINE(name, version, description, init, shutdown, keys) \
  ORRERY_PLUGIN_DEFINE_FULL (name, version, description, init, shutdown, keys, NULL)

/**
 * ORRERY_PLUGIN_DEFINE_FULL:
 * @name: the plugin's name (a string literal), or %NULL for the file name
 * @version: its version (a string)
 * @description: one line about it
 * @init: its #OrreryPluginInitFunc
 * @shutdown: its #OrreryPluginShutdownFunc, or %NULL
 * @keys: its table of #OrreryPluginKey, or %NULL
 * @device_kinds: the device kinds its init registers (a %NULL-terminated
 *   array of strings), or %NULL
 *
 * As ORRERY_PLUGIN_DEFINE(), for a plugin that adds device kinds:
 *
 * |[<!-- language="C" -->
 * static const char *const kinds[] = { "redis", NULL };
 * ORRERY_PLUGIN_DEFINE_FULL ("redis", "1.0", "Pools of remote workers", redis_init, NULL,
 *                            NULL, kinds)
 * ]|
 */
#define ORRERY_PLUGIN_DEFINE_FULL(name, version, description, init, shutdown, keys, device_kinds) \
  G_BEGIN_DECLS \
  __attribute__((visibility ("default"))) \
  extern const OrreryPluginDescriptor orrery_plugin_descriptor; \
  __attribute__((visibility ("default"))) \
  const OrreryPluginDescriptor orrery_plugin_descriptor = { \
    ORRERY_PLUGIN_ABI_MAJOR, ORRERY_PLUGIN_ABI_MINOR, \
    sizeof (OrreryPluginDescriptor), 0, \
    (name), (version), (description), (init), (shutdown), (keys), (device_kinds), { NULL } \
  }; \
  G_END_DECLS

ORRERY_EXPORT
const char     *orrery_plugin_context_get_name         (OrreryPluginContext    *self);
ORRERY_EXPORT
const char     *orrery_plugin_context_get_group        (OrreryPluginContext    *self);
ORRERY_EXPORT
OrreryEventBus *orrery_plugin_context_get_bus          (OrreryPluginContext    *self);
ORRERY_EXPORT
OrreryConfig   *orrery_plugin_context_get_config       (OrreryPluginContext    *self);
ORRERY_EXPORT
OrreryOrchestrator *orrery_plugin_context_get_orchestrator (OrreryPluginContext *self);
ORRERY_EXPORT
gpointer        orrery_plugin_context_get_data         (OrreryPluginContext    *self);
ORRERY_EXPORT
void            orrery_plugin_context_set_data         (OrreryPluginContext    *self,
                                                        gpointer                data,
                                                        GDestroyNotify          destroy);

ORRERY_EXPORT
guint           orrery_plugin_context_add_observer     (OrreryPluginContext    *self,
                                                        OrreryObserver         *observer,
                                                        const OrreryEventType  *types,
                                                        gsize                   n_types,
                                                        OrreryDeliveryMode      mode,
                                                        guint                   queue_limit,
                                                        guint                   deadline_ms);
ORRERY_EXPORT
guint           orrery_plugin_context_get_n_observers  (OrreryPluginContext    *self);
ORRERY_EXPORT
gboolean        orrery_plugin_context_register_device_kind (OrreryPluginContext      *self,
                                                            const char               *kind,
                                                            OrreryDeviceKindFactory   factory,
                                                            gpointer                  user_data,
                                                            GDestroyNotify            destroy,
                                                            GError                  **error);

ORRERY_EXPORT
char           *orrery_plugin_context_get_string       (OrreryPluginContext    *self,
                                                        const char             *key,
                                                        const char             *default_value);
ORRERY_EXPORT
char          **orrery_plugin_context_get_string_list  (OrreryPluginContext    *self,
                                                        const char             *key);
ORRERY_EXPORT
gboolean        orrery_plugin_context_get_boolean      (OrreryPluginContext    *self,
                                                        const char             *key,
                                                        gboolean                default_value,
                                                        GError                **error);
ORRERY_EXPORT
gint64          orrery_plugin_context_get_int          (OrreryPluginContext    *self,
                                                        const char             *key,
                                                        gint64                  default_value,
                                                        GError                **error);
ORRERY_EXPORT
guint64         orrery_plugin_context_get_uint         (OrreryPluginContext    *self,
                                                        const char             *key,
                                                        guint64                 default_value,
                                                        GError                **error);
ORRERY_EXPORT
gdouble         orrery_plugin_context_get_double       (OrreryPluginContext    *self,
                                                        const char             *key,
                                                        gdouble                 default_value,
                                                        GError                **error);

G_END_DECLS
