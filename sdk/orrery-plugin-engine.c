/* orrery-plugin-engine.c: finds, checks, loads, enables and disables
 * plugins. Its checks are in orrery-plugin-trust.c and orrery-plugin-elf.c,
 * its loader in orrery-plugin-loader.c, its watching in
 * orrery-plugin-hotplug.c, what it tells of a plugin in
 * orrery-plugin-info.c.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-Plugins"

#include <string.h>
#include <unistd.h>

#include "orrery-plugin-engine-private.h"
#include "orrery-plugin-info-private.h"

/* ------------------------------------------------------------------------ */
/* OrreryPluginEngine */

/**
 * OrreryPluginEngine:
 *
 * Finds plugins (`.so` files) in its search path, checks them, loads them
 * with `RTLD_LOCAL` (and keeps them resident), runs the init of those
 * enabled in the configuration, enables and disables them at run time,
 * and watches its directories for plugins added, replaced or removed while
 * it runs.
 *
 * Before any code of a plugin runs, the engine checks its trust, as sshd's
 * StrictModes: the file, every directory above it up to `/` and every
 * symbolic link on its path must be owned by root or the running user; the
 * file must not be writable by group or others; a directory writable by
 * group or others is accepted only if it is sticky and the entry below it
 * is owned by root or the running user. The path is walked from `/` with
 * openat(), and the bytes checked are read from the descriptor opened.
 * The descriptor (ABI, name, version, description, keys) is then read from
 * those bytes, and the plugin is loaded from a private sealed copy of them
 * (a memfd), so that overwriting its file never touches the code that
 * runs. One content is loaded once per process.
 *
 * The search path, first found wins per plugin name: the directories added
 * with orrery_plugin_engine_add_search_path() (the command line), then
 * `ORRERY_PLUGIN_PATH` (`:`-separated), then `PluginPath` of the `[Host]`
 * group (`;`-separated), then, unless #OrreryPluginEngine:use-default-path
 * is %FALSE, the user's plugin directory (`$XDG_DATA_HOME/orrery/plugins`,
 * by default `~/.local/share/orrery/plugins`) and
 * orrery_plugin_engine_get_default_path(). Each directory is
 * read in name order, its `*.so` files and those of its immediate
 * subdirectories (the layout of the build tree's `plugins/`).
 *
 * A plugin is enabled when its group's `Enabled` key says so; without the
 * key, when `[Host] AutoEnable` (default %TRUE) says so. Disabling a plugin
 * detaches its observers, then calls its shutdown.
 * orrery_plugin_engine_shutdown() disables every enabled plugin in the
 * reverse of the order they were enabled in.
 */

G_DEFINE_FINAL_TYPE (OrreryPluginEngine, orrery_plugin_engine, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_BUS,
  PROP_CONFIG,
  PROP_USE_DEFAULT_PATH,
  PROP_SETTLE_MS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_PLUGIN_ADDED,
  SIGNAL_PLUGIN_STATE_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

#define DEFAULT_SETTLE_MS 100

static void
entry_free (OrreryPluginEntry *entry)
{
  if (entry->isolated != NULL)
    {
      _orrery_plugin_context_detach (entry->context);
      _orrery_isolated_plugin_stop (g_steal_pointer (&entry->isolated));
    }
  g_clear_object (&entry->context);
  g_clear_object (&entry->info);
  g_free (entry->dir);
  g_clear_pointer (&entry->content, g_bytes_unref);
  _orrery_plugin_elf_info_free (entry->elf);
  /* Modules stay resident: GTypes cannot be unregistered. */
  if (entry->module != NULL)
    g_module_close (entry->module);
  g_free (entry);
}

static void
orrery_plugin_engine_dispose (GObject *object)
{
  OrreryPluginEngine *self = ORRERY_PLUGIN_ENGINE (object);

  orrery_plugin_engine_unwatch (self);
  if (self->entries != NULL)
    orrery_plugin_engine_shutdown (self);
  G_OBJECT_CLASS (orrery_plugin_engine_parent_class)->dispose (object);
}

static void
orrery_plugin_engine_finalize (GObject *object)
{
  OrreryPluginEngine *self = ORRERY_PLUGIN_ENGINE (object);

  g_ptr_array_unref (self->enabled_order);
  g_ptr_array_unref (self->entries);
  g_ptr_array_unref (self->command_line_path);
  g_hash_table_unref (self->scanned_dirs);
  g_ptr_array_unref (self->monitors);
  g_hash_table_unref (self->pending);
  g_clear_object (&self->bus);
  g_clear_object (&self->config);
  g_clear_object (&self->orchestrator);
  G_OBJECT_CLASS (orrery_plugin_engine_parent_class)->finalize (object);
}

static void
orrery_plugin_engine_get_property (GObject    *object,
                                   guint       prop_id,
                                   GValue     *value,
                                   GParamSpec *pspec)
{
  OrreryPluginEngine *self = ORRERY_PLUGIN_ENGINE (object);

  switch (prop_id)
    {
    case PROP_BUS:
      g_value_set_object (value, self->bus);
      break;
    case PROP_CONFIG:
      g_value_set_object (value, self->config);
      break;
    case PROP_USE_DEFAULT_PATH:
      g_value_set_boolean (value, self->use_default_path);
      break;
    case PROP_SETTLE_MS:
      g_value_set_uint (value, self->settle_ms);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
orrery_plugin_engine_set_property (GObject      *object,
                                   guint         prop_id,
                                   const GValue *value,
                                   GParamSpec   *pspec)
{
  OrreryPluginEngine *self = ORRERY_PLUGIN_ENGINE (object);

  switch (prop_id)
    {
    case PROP_BUS:
      self->bus = g_value_dup_object (value);
      break;
    case PROP_CONFIG:
      self->config = g_value_dup_object (value);
      break;
    case PROP_USE_DEFAULT_PATH:
      orrery_plugin_engine_set_use_default_path (self, g_value_get_boolean (value));
      break;
    case PROP_SETTLE_MS:
      orrery_plugin_engine_set_settle_ms (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
orrery_plugin_engine_constructed (GObject *object)
{
  OrreryPluginEngine *self = ORRERY_PLUGIN_ENGINE (object);

  G_OBJECT_CLASS (orrery_plugin_engine_parent_class)->constructed (object);
  if (self->bus == NULL)
    self->bus = orrery_event_bus_new ();
  if (self->config == NULL)
    self->config = orrery_config_new ();
}

static void
orrery_plugin_engine_class_init (OrreryPluginEngineClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = orrery_plugin_engine_dispose;
  object_class->finalize = orrery_plugin_engine_finalize;
  object_class->get_property = orrery_plugin_engine_get_property;
  object_class->set_property = orrery_plugin_engine_set_property;
  object_class->constructed = orrery_plugin_engine_constructed;

  /**
   * OrreryPluginEngine:bus:
   *
   * The bus plugins subscribe their observers to.
   */
  properties[PROP_BUS] =
    g_param_spec_object ("bus", NULL, NULL, ORRERY_TYPE_EVENT_BUS,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * OrreryPluginEngine:config:
   *
   * The host configuration.
   */
  properties[PROP_CONFIG] =
    g_param_spec_object ("config", NULL, NULL, ORRERY_TYPE_CONFIG,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * OrreryPluginEngine:use-default-path:
   *
   * Whether the default plugin directory ends the search path.
   */
  properties[PROP_USE_DEFAULT_PATH] =
    g_param_spec_boolean ("use-default-path", NULL, NULL, TRUE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * OrreryPluginEngine:settle-ms:
   *
   * How long a file that appears in a watched directory must stay
   * unchanged (size and modification time) before it is loaded.
   */
  properties[PROP_SETTLE_MS] =
    g_param_spec_uint ("settle-ms", NULL, NULL, 1, 60000, DEFAULT_SETTLE_MS,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * OrreryPluginEngine::plugin-added:
   * @self: the engine
   * @info: the new plugin
   *
   * A plugin file was found (or a configured plugin was not).
   */
  signals[SIGNAL_PLUGIN_ADDED] =
    g_signal_new ("plugin-added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, ORRERY_TYPE_PLUGIN_INFO);

  /**
   * OrreryPluginEngine::plugin-state-changed:
   * @self: the engine
   * @info: the plugin
   *
   * A plugin changed state (see orrery_plugin_info_get_state()).
   */
  signals[SIGNAL_PLUGIN_STATE_CHANGED] =
    g_signal_new ("plugin-state-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, ORRERY_TYPE_PLUGIN_INFO);
}

static void
orrery_plugin_engine_init (OrreryPluginEngine *self)
{
  self->command_line_path = g_ptr_array_new_with_free_func (g_free);
  self->use_default_path = TRUE;
  self->settle_ms = DEFAULT_SETTLE_MS;
  self->entries = g_ptr_array_new_with_free_func ((GDestroyNotify) entry_free);
  self->enabled_order = g_ptr_array_new ();
  self->scanned_dirs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->monitors = g_ptr_array_new_with_free_func (g_object_unref);
  self->pending = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                         (GDestroyNotify) _orrery_pending_file_free);
}

/**
 * orrery_plugin_engine_new:
 * @bus: (nullable): the bus plugins subscribe to; a new one if %NULL
 * @config: (nullable): the host configuration; an empty one if %NULL
 *
 * Returns: (transfer full): a new plugin engine
 */
OrreryPluginEngine *
orrery_plugin_engine_new (OrreryEventBus *bus,
                          OrreryConfig   *config)
{
  g_return_val_if_fail (bus == NULL || ORRERY_IS_EVENT_BUS (bus), NULL);
  g_return_val_if_fail (config == NULL || ORRERY_IS_CONFIG (config), NULL);
  return g_object_new (ORRERY_TYPE_PLUGIN_ENGINE, "bus", bus, "config", config, NULL);
}

/**
 * orrery_plugin_engine_get_bus:
 * @self: an engine
 *
 * Returns: (transfer none): the bus
 */
OrreryEventBus *
orrery_plugin_engine_get_bus (OrreryPluginEngine *self)
{
  g_return_val_if_fail (ORRERY_IS_PLUGIN_ENGINE (self), NULL);
  return self->bus;
}

/**
 * orrery_plugin_engine_get_config:
 * @self: an engine
 *
 * Returns: (transfer none): the configuration
 */
OrreryConfig *
orrery_plugin_engine_get_config (OrreryPluginEngine *self)
{
  g_return_val_if_fail (ORRERY_IS_PLUGIN_ENGINE (self), NULL);
  return self->config;
}

/**
 * orrery_plugin_engine_set_orchestrator:
 * @self: an engine
 * @orchestrator: (nullable): the orchestrator of the run
 *
 * Sets the orchestrator handed to the plugins enabled from now on (through
 * orrery_plugin_context_get_orchestrator()). Set it before
 * orrery_plugin_engine_load_all().
 */
void
orrery_plugin_engine_set_orchestrator (OrreryPluginEngine *self,
                                       OrreryOrchestrator *orchestrator)
{
  g_return_if_fail (ORRERY_IS_PLUGIN_ENGINE (self));
  g_return_if_fail (orchestrator == NULL || ORRERY_IS_ORCHESTRATOR (orchestrator));
  g_set_object (&self->orchestrator, orchestrator);
}

/**
 * orrery_plugin_engine_get_orchestrator:
 * @self: an engine
 *
 * Returns: (transfer none) (nullable): the orchestrator handed to plugins
 */
OrreryOrchestrator *
orrery_plugin_engine_get_orchestrator (OrreryPluginEngine *self)
{
  g_return_val_if_fail (ORRERY_IS_PLUGIN_ENGINE (self), NULL);
  return self->orchestrator;
}

/**
 * orrery_plugin_engine_get_default_path:
 *
 * The directory that ends the search path: the build tree's `plugins/`
 * when this liborrery is the one of the build tree, else the installed
 * plugin directory (`LIBDIR/orrery-1.0/plugins`).
 *
 * Returns: (type filename): the default plugin directory
 */
const char *
orrery_plugin_engine_get_default_path (void)
{
  return _orrery_dirs_get_plugin_dir ();
}

/**
 * orrery_plugin_engine_add_search_path:
 * @self: an engine
 * @directory: (type filename): a directory
 *
 * Adds a directory from the command line: these come first, in the order
 * they are added.
 */
void
orrery_plugin_engine_add_search_path (OrreryPluginEngine *self,
                                      const char         *directory)
{
  g_return_if_fail (ORRERY_IS_PLUGIN_ENGINE (self));
  g_return_if_fail (directory != NULL);
  g_ptr_array_add (self->command_line_path, g_strdup (directory));
}

/**
 * orrery_plugin_engine_set_use_default_path:
 * @self: an engine
 * @use_default: whether to search the default directory last
 *
 * Sets #OrreryPluginEngine:use-default-path.
 */
void
orrery_plugin_engine_set_use_default_path (OrreryPluginEngine *self,
                                           gboolean            use_default)
{
  g_return_if_fail (ORRERY_IS_PLUGIN_ENGINE (self));
  use_default = !!use_default;
  if (self->use_default_path == use_default)
    return;
  self->use_default_path = use_default;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_USE_DEFAULT_PATH]);
}

/**
 * orrery_plugin_engine_get_use_default_path:
 * @self: an engine
 *
 * Returns: whether the default directory ends the search path
 */
gboolean
orrery_plugin_engine_get_use_default_path (OrreryPluginEngine *self)
{
  g_return_val_if_fail (ORRERY_IS_PLUGIN_ENGINE (self), FALSE);
  return self->use_default_path;
}

/**
 * orrery_plugin_engine_set_settle_ms:
 * @self: an engine
 * @settle_ms: milliseconds, at least 1
 *
 * Sets #OrreryPluginEngine:settle-ms.
 */
void
orrery_plugin_engine_set_settle_ms (OrreryPluginEngine *self,
                                    guint               settle_ms)
{
  g_return_if_fail (ORRERY_IS_PLUGIN_ENGINE (self));
  settle_ms = MAX (settle_ms, 1);
  if (self->settle_ms == settle_ms)
    return;
  self->settle_ms = settle_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SETTLE_MS]);
}

static void
add_path_unique (GPtrArray  *out,
                 const char *dir)
{
  if (dir == NULL || *dir == '\0')
    return;
  if (!g_ptr_array_find_with_equal_func (out, dir, g_str_equal, NULL))
    g_ptr_array_add (out, g_strdup (dir));
}

/**
 * orrery_plugin_engine_get_search_path:
 * @self: an engine
 *
 * The directories searched for plugins, in order (see #OrreryPluginEngine),
 * whether they exist or not.
 *
 * Returns: (transfer full) (array zero-terminated=1): the directories
 */
char **
orrery_plugin_engine_get_search_path (OrreryPluginEngine *self)
{
  GPtrArray *out;
  const char *env;
  g_auto(GStrv) configured = NULL;

  g_return_val_if_fail (ORRERY_IS_PLUGIN_ENGINE (self), NULL);

  out = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < self->command_line_path->len; i++)
    add_path_unique (out, g_ptr_array_index (self->command_line_path, i));

  env = g_getenv ("ORRERY_PLUGIN_PATH");
  if (env != NULL)
    {
      g_auto(GStrv) dirs = g_strsplit (env, G_SEARCHPATH_SEPARATOR_S, -1);

      for (guint i = 0; dirs[i] != NULL; i++)
        add_path_unique (out, dirs[i]);
    }

  configured = orrery_config_get_string_list (self->config, ORRERY_CONFIG_HOST_GROUP,
                                              "PluginPath");
  for (guint i = 0; configured != NULL && configured[i] != NULL; i++)
    add_path_unique (out, g_strstrip (configured[i]));

  if (self->use_default_path)
    {
      g_autofree char *user_dir = _orrery_dirs_get_user_plugin_dir ();

      add_path_unique (out, user_dir);
      add_path_unique (out, orrery_plugin_engine_get_default_path ());
    }

  g_ptr_array_add (out, NULL);
  g_ptr_array_set_free_func (out, NULL);
  return (char **) g_ptr_array_free (out, FALSE);
}

/* ------------------------------------------------------------------------ */
/* State changes */

static void
set_state (OrreryPluginEngine *self,
           OrreryPluginEntry  *entry,
           OrreryPluginState   state,
           const GError       *error)
{
  gboolean changed = entry->info->state != state || error != NULL ||
                     entry->info->error != NULL;

  _orrery_plugin_info_set_state (entry->info, state, error);
  if (error != NULL)
    g_debug ("%s: %s: %s", entry->info->file ? entry->info->file : entry->info->name,
             orrery_plugin_state_to_nick (state), error->message);
  if (changed)
    g_signal_emit (self, signals[SIGNAL_PLUGIN_STATE_CHANGED], 0, entry->info);
}

static void
fail (OrreryPluginEngine *self,
      OrreryPluginEntry  *entry,
      GError             *error)
{
  set_state (self, entry, ORRERY_PLUGIN_STATE_FAILED, error);
  g_error_free (error);
}

OrreryPluginEntry *
_orrery_plugin_engine_add_entry (OrreryPluginEngine *self,
                                 const char         *file,
                                 const char         *dir)
{
  OrreryPluginEntry *entry = g_new0 (OrreryPluginEntry, 1);

  entry->info = _orrery_plugin_info_new (file);
  entry->dir = g_strdup (dir);
  g_ptr_array_add (self->entries, entry);
  g_signal_emit (self, signals[SIGNAL_PLUGIN_ADDED], 0, entry->info);
  return entry;
}

OrreryPluginEntry *
_orrery_plugin_engine_find_entry_by_file (OrreryPluginEngine *self,
                                          const char         *file)
{
  for (guint i = 0; i < self->entries->len; i++)
    {
      OrreryPluginEntry *entry = g_ptr_array_index (self->entries, i);

      if (g_strcmp0 (entry->info->file, file) == 0)
        return entry;
    }
  return NULL;
}

/* The live entry that owns @name: loaded (enabled or not) or failing after
 * its descriptor was read, but neither a duplicate, removed nor missing. */
static OrreryPluginEntry *
find_entry_by_name (OrreryPluginEngine *self,
                    const char         *name)
{
  for (guint i = 0; i < self->entries->len; i++)
    {
      OrreryPluginEntry *entry = g_ptr_array_index (self->entries, i);

      if (entry->elf == NULL || g_strcmp0 (entry->info->name, name) != 0)
        continue;
      if (entry->info->state == ORRERY_PLUGIN_STATE_REMOVED)
        continue;
      if (entry->info->error != NULL &&
          g_error_matches (entry->info->error, ORRERY_PLUGIN_ERROR,
                           ORRERY_PLUGIN_ERROR_DUPLICATE_NAME))
        continue;
      return entry;
    }
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* Discovery */

gboolean
_orrery_plugin_is_file_name (const char *name)
{
  return name[0] != '.' && g_str_has_suffix (name, ".so") && strlen (name) > 3;
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static GPtrArray *
list_dir_sorted (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  if (d == NULL)
    return names;
  while ((name = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_strings);
  return names;
}

static guint
discover_dir (OrreryPluginEngine *self,
              const char         *dir,
              gboolean            recurse)
{
  g_autoptr(GPtrArray) names = list_dir_sorted (dir);
  guint found = 0;

  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      g_autofree char *path = g_build_filename (dir, name, NULL);

      if (name[0] == '.')
        continue;
      if (_orrery_plugin_is_file_name (name))
        {
          if (_orrery_plugin_engine_find_entry_by_file (self, path) == NULL)
            {
              _orrery_plugin_engine_add_entry (self, path, dir);
              found++;
            }
        }
      else if (recurse && !g_str_has_suffix (name, ".p") &&
               g_file_test (path, G_FILE_TEST_IS_DIR))
        {
          g_autoptr(GPtrArray) sub = list_dir_sorted (path);

          for (guint j = 0; j < sub->len; j++)
            {
              const char *subname = g_ptr_array_index (sub, j);
              g_autofree char *subpath = g_build_filename (path, subname, NULL);

              if (_orrery_plugin_is_file_name (subname) && _orrery_plugin_engine_find_entry_by_file (self, subpath) == NULL)
                {
                  _orrery_plugin_engine_add_entry (self, subpath, path);
                  found++;
                }
            }
        }
    }
  return found;
}

/**
 * orrery_plugin_engine_discover:
 * @self: an engine
 *
 * Lists the `.so` files of the search path that the engine does not know
 * yet, as plugins in state %ORRERY_PLUGIN_STATE_FOUND. Nothing is opened.
 * orrery_plugin_engine_check_all() checks them without running their code,
 * orrery_plugin_engine_load_all() loads them.
 *
 * Returns: the number of new files
 */
guint
orrery_plugin_engine_discover (OrreryPluginEngine *self)
{
  g_auto(GStrv) path = NULL;
  guint found = 0;

  g_return_val_if_fail (ORRERY_IS_PLUGIN_ENGINE (self), 0);

  path = orrery_plugin_engine_get_search_path (self);
  for (guint i = 0; path[i] != NULL; i++)
    {
      if (!g_file_test (path[i], G_FILE_TEST_IS_DIR))
        {
          g_debug ("Plugin directory %s: not a directory, skipped", path[i]);
          continue;
        }
      g_hash_table_add (self->scanned_dirs, g_strdup (path[i]));
      found += discover_dir (self, path[i], TRUE);
    }
  return found;
}

/* Every check that needs none of the plugin's code: trust, ELF, descriptor
 * (read from the bytes), ABI, name, duplicates, the defaults file. On
 * success the entry has its name, version, description and ELF info, and
 * @out_bytes the exact content checked; on failure it is FAILED. */
static gboolean
inspect_entry (OrreryPluginEngine  *self,
               OrreryPluginEntry   *entry,
               GBytes             **out_bytes)
{
  const char *file = entry->info->file;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(OrreryPluginElfInfo) elf = NULL;
  g_autofree char *name = NULL;
  g_autofree char *defaults = NULL;
  g_autofree char *group = NULL;
  GError *error = NULL;
  OrreryPluginEntry *owner;
  gsize size;
  const guint8 *data;

  bytes = _orrery_plugin_trust_read (file, &error);
  if (bytes == NULL)
    {
      fail (self, entry, error);
      return FALSE;
    }
  data = g_bytes_get_data (bytes, &size);
  elf = _orrery_plugin_elf_read (data, size, file, &error);
  if (elf == NULL)
    {
      fail (self, entry, error);
      return FALSE;
    }

  name = elf->name != NULL ? g_strdup (elf->name) : _orrery_plugin_name_from_file (file);
  _orrery_plugin_info_set_metadata (entry->info, name, elf->version, elf->description);
  _orrery_plugin_info_set_descriptor (entry->info, elf->abi_major, elf->abi_minor, elf->keys,
                                      elf->n_keys, (const char * const *) elf->device_kinds);
  if (!_orrery_plugin_name_is_valid (name))
    {
      g_autofree char *shown = orrery_escape_for_terminal (name, -1);

      fail (self, entry, g_error_new (ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_NO_DESCRIPTOR,
                                      "%s: “%s” is not a valid plugin name (letters, digits, "
                                      "-, _ and .)", file, shown));
      return FALSE;
    }

  owner = find_entry_by_name (self, name);
  if (owner != NULL && owner != entry)
    {
      fail (self, entry, g_error_new (ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_DUPLICATE_NAME,
                                      "%s: a plugin named “%s” was found first in %s", file,
                                      name, owner->info->file));
      return FALSE;
    }
  _orrery_plugin_elf_info_free (entry->elf);
  entry->elf = g_steal_pointer (&elf);
  /* Kept to tell a new build from the same one copied again (hot plug):
   * comparing bytes costs a fraction of a SHA-256 (which was a tenth of
   * the host's instructions in a run of a thousand short commands). */
  g_clear_pointer (&entry->content, g_bytes_unref);
  entry->content = g_bytes_ref (bytes);

  /* NAME.conf beside it sets defaults of its configuration (commands
   * among them): it must be as trustworthy as the plugin. */
  group = orrery_config_plugin_group (name);
  defaults = g_strconcat (entry->dir, G_DIR_SEPARATOR_S, name, ".conf", NULL);
  if (g_file_test (defaults, G_FILE_TEST_IS_REGULAR))
    {
      int fd = _orrery_plugin_trust_open (defaults, NULL, NULL, &error);

      if (fd >= 0)
        close (fd);
      else
        g_prefix_error (&error, "%s: its defaults file: ", file);
      if (fd < 0 || !orrery_config_add_defaults_file (self->config, group, defaults, &error))
        {
          GError *wrapped = g_error_new_literal (ORRERY_PLUGIN_ERROR,
                                                 error->domain == ORRERY_PLUGIN_ERROR
                                                   ? (OrreryPluginError) error->code
                                                   : ORRERY_PLUGIN_ERROR_BAD_CONFIG,
                                                 error->message);

          g_error_free (error);
          fail (self, entry, wrapped);
          return FALSE;
        }
    }
  if (out_bytes != NULL)
    *out_bytes = g_steal_pointer (&bytes);
  return TRUE;
}

static void load_inspected (OrreryPluginEngine *self,
                            OrreryPluginEntry  *entry,
                            GBytes             *bytes);

/* Checks and opens one found file; leaves it DISABLED (loaded) or FAILED. */
static void
load_entry (OrreryPluginEngine *self,
            OrreryPluginEntry  *entry)
{
  g_autoptr(GBytes) bytes = NULL;

  if (inspect_entry (self, entry, &bytes))
    load_inspected (self, entry, bytes);
}

/* Opens the file inspect_entry() checked, from the @bytes it checked. */
static void
load_inspected (OrreryPluginEngine *self,
                OrreryPluginEntry  *entry,
                GBytes             *bytes)
{
  const char *file = entry->info->file;
  gpointer symbol = NULL;
  const OrreryPluginDescriptor *desc;
  GError *error = NULL;
  gboolean isolated = FALSE;

  /* An isolated plugin is never loaded here: enable_entry() checks it
   * again and hands the child its private copy. */
  if (_orrery_plugin_config_isolated (self->config, entry->info->name, &isolated, &error) &&
      isolated)
    {
      set_state (self, entry, ORRERY_PLUGIN_STATE_DISABLED, NULL);
      return;
    }
  if (error != NULL)
    {
      fail (self, entry, error);
      return;
    }

  entry->module = _orrery_plugin_open_copy (file, bytes, &error);
  if (entry->module == NULL)
    {
      fail (self, entry, error);
      return;
    }
  if (!g_module_symbol (entry->module, ORRERY_PLUGIN_SYMBOL, &symbol) || symbol == NULL)
    {
      fail (self, entry, g_error_new (ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_NO_DESCRIPTOR,
                                      "%s: a shared object without the “%s” symbol: not an "
                                      "Orrery plugin", file, ORRERY_PLUGIN_SYMBOL));
      return;
    }
  desc = symbol;
  /* What the loader gives must be what was read from the file. */
  if (desc->abi_major != entry->elf->abi_major || desc->abi_minor != entry->elf->abi_minor ||
      desc->struct_size != entry->elf->struct_size || desc->init == NULL ||
      g_strcmp0 (desc->name, entry->elf->name) != 0)
    {
      fail (self, entry, g_error_new (ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_LOAD_FAILED,
                                      "%s: the loaded descriptor differs from the one in the "
                                      "file", file));
      return;
    }
  entry->descriptor = desc;
  set_state (self, entry, ORRERY_PLUGIN_STATE_DISABLED, NULL);
}

/* ------------------------------------------------------------------------ */
/* Enable and disable */

static gboolean enable_isolated (OrreryPluginEngine  *self,
                                 OrreryPluginEntry   *entry,
                                 GError             **error);

static gboolean
enable_entry (OrreryPluginEngine  *self,
              OrreryPluginEntry   *entry,
              GError             **error)
{
  g_autoptr(OrreryPluginContext) context = NULL;
  GError *local_error = NULL;

  if (entry->info->state == ORRERY_PLUGIN_STATE_ENABLED)
    return TRUE;
  /* Checked but not loaded (by orrery_plugin_engine_check_all(), failed or
   * not): load it now, checking it again. */
  if (entry->module == NULL && entry->info->file != NULL &&
      entry->info->state != ORRERY_PLUGIN_STATE_REMOVED)
    load_entry (self, entry);
  /* An isolated plugin: load_entry() checked it and loaded nothing. */
  if (entry->module == NULL && entry->info->name != NULL && entry->info->file != NULL &&
      entry->info->state == ORRERY_PLUGIN_STATE_DISABLED)
    {
      gboolean isolated = FALSE;

      if (!_orrery_plugin_config_isolated (self->config, entry->info->name, &isolated,
                                           &local_error))
        {
          g_propagate_error (error, g_error_copy (local_error));
          fail (self, entry, local_error);
          return FALSE;
        }
      if (isolated)
        return enable_isolated (self, entry, error);
    }
  if (entry->descriptor == NULL || entry->info->state == ORRERY_PLUGIN_STATE_REMOVED)
    {
      if (entry->info->error != NULL)
        g_propagate_error (error, g_error_copy (entry->info->error));
      else
        g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_UNKNOWN,
                     "plugin “%s” is not loaded", entry->info->name);
      return FALSE;
    }

  context = _orrery_plugin_context_new (self->bus, self->orchestrator, self->config, entry->info->name,
                                        entry->descriptor);
  if (!_orrery_plugin_context_configure (context, &local_error))
    {
      g_propagate_error (error, g_error_copy (local_error));
      fail (self, entry, local_error);
      return FALSE;
    }

  if (!entry->descriptor->init (context, &local_error))
    {
      GError *wrapped = g_error_new (ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_INIT_FAILED,
                                     "%s: init of plugin “%s” failed: %s", entry->info->file,
                                     entry->info->name,
                                     local_error != NULL ? local_error->message
                                                         : "no reason given");

      g_clear_error (&local_error);
      _orrery_plugin_context_detach (context);
      g_propagate_error (error, g_error_copy (wrapped));
      fail (self, entry, wrapped);
      return FALSE;
    }
  g_clear_error (&local_error);  /* a sloppy init that set an error and succeeded */

  entry->context = g_steal_pointer (&context);
  g_ptr_array_add (self->enabled_order, entry);
  g_debug ("Plugin “%s” enabled (%u observers)", entry->info->name,
           orrery_plugin_context_get_n_observers (entry->context));
  set_state (self, entry, ORRERY_PLUGIN_STATE_ENABLED, NULL);
  return TRUE;
}

void
_orrery_plugin_engine_disable_entry (OrreryPluginEngine *self,
                                     OrreryPluginEntry  *entry,
                                     OrreryPluginState   new_state)
{
  if (entry->isolated != NULL)
    {
      OrreryPluginContext *context = g_steal_pointer (&entry->context);
      const GError *failure = _orrery_isolated_plugin_get_failure (entry->isolated);
      g_autoptr(GError) failed = failure ? g_error_copy (failure) : NULL;

      /* Its observers first (no more events), then its shutdown in the
       * child (bounded), then the child ends. */
      _orrery_plugin_context_detach (context);
      _orrery_isolated_plugin_stop (g_steal_pointer (&entry->isolated));
      g_object_run_dispose (G_OBJECT (context));
      g_object_unref (context);
      g_ptr_array_remove (self->enabled_order, entry);
      g_debug ("Plugin “%s” disabled (isolated)", entry->info->name);
      if (failed != NULL)
        {
          /* It failed on the last events, before its idle told us. */
          set_state (self, entry, ORRERY_PLUGIN_STATE_FAILED, failed);
          return;
        }
    }
  else if (entry->context != NULL)
    {
      OrreryPluginContext *context = g_steal_pointer (&entry->context);

      _orrery_plugin_context_detach (context);
      if (entry->descriptor->shutdown != NULL)
        entry->descriptor->shutdown (context);
      g_object_run_dispose (G_OBJECT (context));
      g_object_unref (context);
      g_ptr_array_remove (self->enabled_order, entry);
      g_debug ("Plugin “%s” disabled", entry->info->name);
    }
  set_state (self, entry, new_state, NULL);
}

/* The helper process of @entry's plugin failed: its observers are
 * detached, the plugin FAILED with the coded reason, restarted for the
 * following events if `Restart=on-failure` allows (`RestartLimit`, 3). */
static void
isolated_failed (OrreryIsolatedPlugin *plugin,
                 const GError         *reason,
                 gpointer              user_data)
{
  OrreryPluginEntry *entry = user_data;
  OrreryPluginEngine *self = entry->engine;
  OrreryPluginContext *context = g_steal_pointer (&entry->context);
  g_autofree char *group = orrery_config_plugin_group (entry->info->name);
  g_autofree char *restart = orrery_config_get_string (self->config, group, "Restart", NULL);
  guint64 limit = orrery_config_get_uint (self->config, group, "RestartLimit", 3, NULL);

  g_return_if_fail (entry->isolated == plugin);
  _orrery_plugin_context_detach (context);
  g_object_run_dispose (G_OBJECT (context));
  g_object_unref (context);
  g_ptr_array_remove (self->enabled_order, entry);
  set_state (self, entry, ORRERY_PLUGIN_STATE_FAILED, reason);
  _orrery_isolated_plugin_stop (g_steal_pointer (&entry->isolated));

  if (restart != NULL && g_ascii_strcasecmp (g_strstrip (restart), "on-failure") == 0 &&
      entry->restarts < limit)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GError) failure = g_error_copy (entry->info->error);

      entry->restarts++;
      g_message ("Restarting isolated plugin “%s” (%u of %" G_GUINT64_FORMAT ")",
                 entry->info->name, entry->restarts, limit);
      if (!enable_isolated (self, entry, &error))
        g_warning ("%s", error->message);
      else
        /* Enabled again, but what happened stays told. */
        _orrery_plugin_info_set_state (entry->info, ORRERY_PLUGIN_STATE_ENABLED, failure);
    }
}

static gboolean
enable_isolated (OrreryPluginEngine  *self,
                 OrreryPluginEntry   *entry,
                 GError             **error)
{
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(OrreryPluginContext) context = NULL;
  GError *local_error = NULL;
  int fd;

  /* The same checks as in process (trust, ELF, descriptor), none of its
   * code run here: the child loads the private copy of these bytes. */
  if (!inspect_entry (self, entry, &bytes))
    {
      g_propagate_error (error, g_error_copy (entry->info->error));
      return FALSE;
    }
  fd = _orrery_plugin_private_copy (entry->info->file, bytes, &local_error);
  if (fd < 0)
    {
      g_propagate_error (error, g_error_copy (local_error));
      fail (self, entry, local_error);
      return FALSE;
    }
  context = _orrery_plugin_context_new (self->bus, self->orchestrator, self->config,
                                        entry->info->name, &entry->elf->descriptor);
  if (!_orrery_plugin_context_configure (context, &local_error))
    {
      close (fd);
      g_propagate_error (error, g_error_copy (local_error));
      fail (self, entry, local_error);
      return FALSE;
    }
  entry->engine = self;
  entry->isolated = _orrery_isolated_plugin_start (context, entry->info->file, fd,
                                                   isolated_failed, entry, &local_error);
  if (entry->isolated == NULL)
    {
      g_propagate_error (error, g_error_copy (local_error));
      fail (self, entry, local_error);
      return FALSE;
    }
  entry->context = g_steal_pointer (&context);
  g_ptr_array_add (self->enabled_order, entry);
  g_debug ("Plugin “%s” enabled in process %d (%u observers)", entry->info->name,
           (int) _orrery_isolated_plugin_get_pid (entry->isolated),
           orrery_plugin_context_get_n_observers (entry->context));
  set_state (self, entry, ORRERY_PLUGIN_STATE_ENABLED, NULL);
  return TRUE;
}

/* Whether the configuration enables the plugin of @entry. */
static gboolean
configured_enabled (OrreryPluginEngine  *self,
                    OrreryPluginEntry   *entry,
                    GError             **error)
{
  g_autofree char *group = orrery_config_plugin_group (entry->info->name);
  GError *local_error = NULL;
  gboolean auto_enable;
  gboolean enabled;

  auto_enable = orrery_config_get_boolean (self->config, ORRERY_CONFIG_HOST_GROUP,
                                           "AutoEnable", TRUE, NULL);
  enabled = orrery_config_get_boolean (self->config, group, "Enabled", auto_enable,
                                       &local_error);
  if (local_error != NULL)
    {
      g_set_error_literal (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_BAD_CONFIG,
                           local_error->message);
      g_error_free (local_error);
      return FALSE;
    }
  return enabled;
}

void
_orrery_plugin_engine_load_and_maybe_enable (OrreryPluginEngine *self,
                                             OrreryPluginEntry  *entry)
{
  GError *error = NULL;

  load_entry (self, entry);
  if (entry->info->state != ORRERY_PLUGIN_STATE_DISABLED)
    return;
  if (configured_enabled (self, entry, &error))
    enable_entry (self, entry, NULL);
  else if (error != NULL)
    fail (self, entry, error);
}

/* Checks one found file, and loads and enables it only if the
 * configuration enables it: CHECKED (no code run), ENABLED or FAILED. */
static void
load_if_enabled (OrreryPluginEngine *self,
                 OrreryPluginEntry  *entry)
{
  g_autoptr(GBytes) bytes = NULL;
  GError *error = NULL;

  if (!inspect_entry (self, entry, &bytes))
    return;
  if (!configured_enabled (self, entry, &error))
    {
      if (error != NULL)
        fail (self, entry, error);
      else
        set_state (self, entry, ORRERY_PLUGIN_STATE_CHECKED, NULL);
      return;
    }
  load_inspected (self, entry, bytes);
  if (entry->info->state == ORRERY_PLUGIN_STATE_DISABLED)
    enable_entry (self, entry, NULL);
}

/* Checks one found file without loading it: CHECKED or FAILED. */
static void
check_entry (OrreryPluginEngine *self,
             OrreryPluginEntry  *entry)
{
  GError *error = NULL;

  if (!inspect_entry (self, entry, NULL))
    return;
  if (configured_enabled (self, entry, &error))
    {
      /* The configuration checks of enabling, against the keys read from
       * the file; no init. */
      g_autoptr(OrreryPluginContext) context =
        _orrery_plugin_context_new (self->bus, self->orchestrator, self->config,
                                    entry->info->name, &entry->elf->descriptor);

      if (!_orrery_plugin_context_configure (context, &error))
        {
          fail (self, entry, error);
          return;
        }
    }
  else if (error != NULL)
    {
      fail (self, entry, error);
      return;
    }
  set_state (self, entry, ORRERY_PLUGIN_STATE_CHECKED, NULL);
}

/* Forgets the configured plugins marked as not found that were found since. */
void
_orrery_plugin_engine_prune_not_found (OrreryPluginEngine *self)
{
  for (guint i = self->entries->len; i > 0; i--)
    {
      OrreryPluginEntry *entry = g_ptr_array_index (self->entries, i - 1);

      if (entry->info->state == ORRERY_PLUGIN_STATE_NOT_FOUND &&
          find_entry_by_name (self, entry->info->name) != NULL)
        g_ptr_array_remove_index (self->entries, i - 1);
    }
}

static void
add_not_found (OrreryPluginEngine *self)
{
  g_auto(GStrv) names = orrery_config_get_plugin_names (self->config);

  for (guint i = 0; names[i] != NULL; i++)
    {
      g_autofree char *group = orrery_config_plugin_group (names[i]);
      gboolean listed = FALSE;
      OrreryPluginEntry *entry;

      if (!orrery_config_get_boolean (self->config, group, "Enabled", FALSE, NULL))
        continue;
      for (guint j = 0; j < self->entries->len && !listed; j++)
        {
          OrreryPluginEntry *other = g_ptr_array_index (self->entries, j);

          listed = g_strcmp0 (other->info->name, names[i]) == 0;
        }
      if (listed)
        continue;
      entry = g_new0 (OrreryPluginEntry, 1);
      entry->info = _orrery_plugin_info_new (NULL);
      _orrery_plugin_info_set_metadata (entry->info, names[i], NULL, NULL);
      g_ptr_array_add (self->entries, entry);
      g_signal_emit (self, signals[SIGNAL_PLUGIN_ADDED], 0, entry->info);
      {
        GError *error = g_error_new (ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_NOT_FOUND,
                                     "plugin “%s” is enabled in the configuration but was "
                                     "not found in the search path", names[i]);

        set_state (self, entry, ORRERY_PLUGIN_STATE_NOT_FOUND, error);
        g_error_free (error);
      }
    }
}

/* Discovers, then hands @load every plugin found or checked and not yet
 * loaded, in search-path order; returns the number enabled. */
static guint
load_found (OrreryPluginEngine *self,
            void              (*load) (OrreryPluginEngine *self,
                                       OrreryPluginEntry  *entry))
{
  orrery_plugin_engine_discover (self);
  for (guint i = 0; i < self->entries->len; i++)
    {
      OrreryPluginEntry *entry = g_ptr_array_index (self->entries, i);

      if (entry->info->state == ORRERY_PLUGIN_STATE_FOUND ||
          entry->info->state == ORRERY_PLUGIN_STATE_CHECKED)
        load (self, entry);
    }
  _orrery_plugin_engine_prune_not_found (self);
  add_not_found (self);
  return self->enabled_order->len;
}

/**
 * orrery_plugin_engine_load_all:
 * @self: an engine
 *
 * Discovers the plugins of the search path, checks and loads every one
 * found and not yet loaded, in search-path order, and enables those the
 * configuration enables. Plugins enabled in the configuration that no file
 * provides are listed as %ORRERY_PLUGIN_STATE_NOT_FOUND. Failures stay on
 * each plugin's #OrreryPluginInfo and stop nothing else.
 *
 * Returns: the number of plugins enabled after the call
 */
guint
orrery_plugin_engine_load_all (OrreryPluginEngine *self)
{
  g_return_val_if_fail (ORRERY_IS_PLUGIN_ENGINE (self), 0);

  return load_found (self, _orrery_plugin_engine_load_and_maybe_enable);
}

/**
 * orrery_plugin_engine_load_enabled:
 * @self: an engine
 *
 * Discovers the plugins of the search path, checks every one found and not
 * yet checked or loaded, and loads and enables only those the
 * configuration enables, in search-path order. The others are checked as
 * orrery_plugin_engine_check_all() checks them, without running any of
 * their code, and stay %ORRERY_PLUGIN_STATE_CHECKED: they are loaded if
 * orrery_plugin_engine_enable() enables one later. What `orrery run` does:
 * a plugin left disabled costs no load of it or of its libraries (the
 * dashboard's libsoup, say). Plugins enabled in the configuration that no
 * file provides are listed as %ORRERY_PLUGIN_STATE_NOT_FOUND; failures stay
 * on each plugin's #OrreryPluginInfo and stop nothing else.
 *
 * Returns: the number of plugins enabled after the call
 */
guint
orrery_plugin_engine_load_enabled (OrreryPluginEngine *self)
{
  g_return_val_if_fail (ORRERY_IS_PLUGIN_ENGINE (self), 0);

  return load_found (self, load_if_enabled);
}

/**
 * orrery_plugin_engine_check_all:
 * @self: an engine
 *
 * Discovers the plugins of the search path and checks every one found and
 * not yet checked or loaded, without running any of its code: neither
 * `init` nor the ELF constructors run, the shared object is not even handed
 * to the dynamic loader. The checks are those of
 * orrery_plugin_engine_load_all() that need no code: the trust of the file
 * and its directories, the ELF file, the descriptor (read from the file's
 * bytes and relocations), the ABI, the name, duplicates, and the
 * configuration values of the plugins the configuration enables. Each one
 * becomes %ORRERY_PLUGIN_STATE_CHECKED or %ORRERY_PLUGIN_STATE_FAILED; what
 * only `init` can tell is not known. This is what `orrery plugins` lists.
 *
 * Returns: the number of plugins that passed the checks
 */
guint
orrery_plugin_engine_check_all (OrreryPluginEngine *self)
{
  guint n_checked = 0;

  g_return_val_if_fail (ORRERY_IS_PLUGIN_ENGINE (self), 0);

  orrery_plugin_engine_discover (self);
  for (guint i = 0; i < self->entries->len; i++)
    {
      OrreryPluginEntry *entry = g_ptr_array_index (self->entries, i);

      if (entry->info->state == ORRERY_PLUGIN_STATE_FOUND)
        check_entry (self, entry);
      if (entry->info->state == ORRERY_PLUGIN_STATE_CHECKED)
        n_checked++;
    }
  _orrery_plugin_engine_prune_not_found (self);
  add_not_found (self);
  return n_checked;
}

/**
 * orrery_plugin_engine_get_enabled_by_config:
 * @self: an engine
 * @name: a plugin's name
 *
 * Whether the configuration enables the plugin @name: its group's
 * `Enabled` key, else `[Host] AutoEnable` (default %TRUE). An invalid
 * `Enabled` value counts as %FALSE.
 *
 * Returns: whether `orrery run` would enable the plugin
 */
gboolean
orrery_plugin_engine_get_enabled_by_config (OrreryPluginEngine *self,
                                            const char         *name)
{
  g_autofree char *group = NULL;
  gboolean auto_enable;
  g_autoptr(GError) error = NULL;
  gboolean enabled;

  g_return_val_if_fail (ORRERY_IS_PLUGIN_ENGINE (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  group = orrery_config_plugin_group (name);
  auto_enable = orrery_config_get_boolean (self->config, ORRERY_CONFIG_HOST_GROUP,
                                           "AutoEnable", TRUE, NULL);
  enabled = orrery_config_get_boolean (self->config, group, "Enabled", auto_enable, &error);
  return error == NULL && enabled;
}

static OrreryPluginEntry *
lookup_entry (OrreryPluginEngine  *self,
              const char          *name,
              GError             **error)
{
  OrreryPluginEntry *entry = find_entry_by_name (self, name);

  if (entry == NULL)
    g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_UNKNOWN,
                 "no plugin named “%s” is loaded", name);
  return entry;
}

/**
 * orrery_plugin_engine_enable:
 * @self: an engine
 * @name: a plugin's name
 * @error: return location for an error
 *
 * Enables a loaded plugin: checks its configuration, runs its init and
 * attaches its observers. Enabling an enabled plugin does nothing; a
 * plugin whose configuration or init failed is tried again.
 *
 * Returns: %TRUE if the plugin is enabled
 */
gboolean
orrery_plugin_engine_enable (OrreryPluginEngine  *self,
                             const char          *name,
                             GError             **error)
{
  OrreryPluginEntry *entry;

  g_return_val_if_fail (ORRERY_IS_PLUGIN_ENGINE (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  entry = lookup_entry (self, name, error);
  return entry != NULL && enable_entry (self, entry, error);
}

/**
 * orrery_plugin_engine_disable:
 * @self: an engine
 * @name: a plugin's name
 * @error: return location for an error
 *
 * Disables a plugin: detaches its observers, then calls its shutdown. Its
 * code stays loaded; orrery_plugin_engine_enable() starts it again.
 *
 * Returns: %TRUE if the plugin is known (and now disabled)
 */
gboolean
orrery_plugin_engine_disable (OrreryPluginEngine  *self,
                              const char          *name,
                              GError             **error)
{
  OrreryPluginEntry *entry;

  g_return_val_if_fail (ORRERY_IS_PLUGIN_ENGINE (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  entry = lookup_entry (self, name, error);
  if (entry == NULL)
    return FALSE;
  if (entry->info->state == ORRERY_PLUGIN_STATE_ENABLED)
    _orrery_plugin_engine_disable_entry (self, entry, ORRERY_PLUGIN_STATE_DISABLED);
  return TRUE;
}

/**
 * orrery_plugin_engine_shutdown:
 * @self: an engine
 *
 * Stops watching and disables every enabled plugin, in the reverse of the
 * order they were enabled in (so the first plugin loaded is the last one
 * shut down). Plugins can be enabled again afterwards.
 */
void
orrery_plugin_engine_shutdown (OrreryPluginEngine *self)
{
  g_return_if_fail (ORRERY_IS_PLUGIN_ENGINE (self));

  orrery_plugin_engine_unwatch (self);
  while (self->enabled_order->len > 0)
    _orrery_plugin_engine_disable_entry (self, g_ptr_array_index (self->enabled_order, self->enabled_order->len - 1),
                   ORRERY_PLUGIN_STATE_DISABLED);
}

/**
 * orrery_plugin_engine_get_plugins:
 * @self: an engine
 *
 * Every plugin the engine knows, in the order found (plugins that were
 * configured but not found last).
 *
 * Returns: (transfer container) (element-type OrreryPluginInfo): the plugins
 */
GPtrArray *
orrery_plugin_engine_get_plugins (OrreryPluginEngine *self)
{
  GPtrArray *out;

  g_return_val_if_fail (ORRERY_IS_PLUGIN_ENGINE (self), NULL);

  out = g_ptr_array_new_full (self->entries->len, g_object_unref);
  for (guint i = 0; i < self->entries->len; i++)
    {
      OrreryPluginEntry *entry = g_ptr_array_index (self->entries, i);

      g_ptr_array_add (out, g_object_ref (entry->info));
    }
  return out;
}

/**
 * orrery_plugin_engine_lookup:
 * @self: an engine
 * @name: a plugin's name
 *
 * The plugin that owns @name: the first found of that name that is not a
 * duplicate nor removed; else any plugin of that name (a failed one, a
 * missing one).
 *
 * Returns: (transfer none) (nullable): the plugin, or %NULL
 */
OrreryPluginInfo *
orrery_plugin_engine_lookup (OrreryPluginEngine *self,
                             const char         *name)
{
  OrreryPluginEntry *entry;

  g_return_val_if_fail (ORRERY_IS_PLUGIN_ENGINE (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);

  entry = find_entry_by_name (self, name);
  if (entry != NULL)
    return entry->info;
  for (guint i = self->entries->len; i > 0; i--)
    {
      entry = g_ptr_array_index (self->entries, i - 1);
      if (g_strcmp0 (entry->info->name, name) == 0)
        return entry->info;
    }
  return NULL;
}
