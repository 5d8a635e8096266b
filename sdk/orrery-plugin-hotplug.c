/* orrery-plugin-hotplug.c: the plugin engine watching its directories
 * (orrery_plugin_engine_watch()): plugins added, replaced or removed while
 * it runs.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-Plugins"

#include <sys/stat.h>

#include "orrery-plugin-engine-private.h"
#include "orrery-plugin-info-private.h"

void
_orrery_pending_file_free (OrreryPendingFile *pending)
{
  g_clear_handle_id (&pending->source_id, g_source_remove);
  g_free (pending->path);
  g_free (pending->dir);
  g_free (pending);
}

/* The file of a loaded plugin changed (overwritten in place, or another
 * file renamed over it). The running copy is private (a memfd), so nothing
 * of it changed; the new content replaces it, as a new copy, unless it is
 * the same content or the plugin does what a process does only once
 * (registers GTypes, installs the log writer): then the running copy stays
 * and the change takes effect at the next start. Returns whether @entry was
 * disabled for the new content to be loaded. */
static gboolean
replace_loaded (OrreryPluginEngine *self,
                OrreryPluginEntry  *entry,
                const char         *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = _orrery_plugin_trust_read (path, &error);
  g_autoptr(OrreryPluginElfInfo) elf = NULL;
  const guint8 *data;
  gsize size;

  if (bytes != NULL)
    {
      if (entry->content != NULL && g_bytes_equal (bytes, entry->content))
        return FALSE;  /* touched, or the same build copied again */
      data = g_bytes_get_data (bytes, &size);
      elf = _orrery_plugin_elf_read (data, size, path, &error);
    }
  if (elf == NULL)
    {
      /* Still being written, broken, or no longer trusted: the running
       * copy (private, checked when it was loaded) goes on; a later change
       * that is complete and sound replaces it. */
      if (g_error_matches (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_UNSAFE_PERMISSIONS))
        g_warning ("%s: plugin “%s” keeps running its loaded copy: %s", path,
                   entry->info->name, error->message);
      else
        g_message ("%s changed: plugin “%s” keeps running its loaded copy until the new "
                   "content is complete: %s", path, entry->info->name, error->message);
      return FALSE;
    }
  if (entry->elf->once_per_process)
    {
      g_warning ("%s changed while loaded: plugin “%s” registers types or installs a log "
                 "writer, which a process does only once, so it cannot be replaced while "
                 "running: the running copy stays, the new build takes effect at the next "
                 "start", path, entry->info->name);
      return FALSE;
    }
  g_message ("Plugin file %s changed: plugin “%s” %s, the new content is loaded as a new "
             "copy", path, entry->info->name,
             entry->info->state == ORRERY_PLUGIN_STATE_ENABLED ? "disabled" : "unloaded");
  _orrery_plugin_engine_disable_entry (self, entry, ORRERY_PLUGIN_STATE_REMOVED);
  return TRUE;
}

static gboolean
on_settled (gpointer user_data)
{
  OrreryPendingFile *pending = user_data;
  OrreryPluginEngine *self = pending->engine;
  struct stat st;
  gint64 mtime_ns;
  OrreryPluginEntry *entry;

  if (stat (pending->path, &st) != 0)
    {
      pending->source_id = 0;
      g_hash_table_remove (self->pending, pending->path);
      return G_SOURCE_REMOVE;
    }
  mtime_ns = (gint64) st.st_mtim.tv_sec * G_GINT64_CONSTANT (1000000000) + st.st_mtim.tv_nsec;
  if (!pending->seen || pending->size != st.st_size || pending->mtime_ns != mtime_ns)
    {
      /* Still changing (or first look): wait another settle period. */
      pending->seen = TRUE;
      pending->size = st.st_size;
      pending->mtime_ns = mtime_ns;
      return G_SOURCE_CONTINUE;
    }

  pending->source_id = 0;
  entry = _orrery_plugin_engine_find_entry_by_file (self, pending->path);
  if (entry != NULL && entry->module != NULL &&
      (entry->info->state == ORRERY_PLUGIN_STATE_ENABLED ||
       entry->info->state == ORRERY_PLUGIN_STATE_DISABLED) &&
      !replace_loaded (self, entry, pending->path))
    {
      /* Unchanged content, or a plugin that cannot be loaded twice. */
    }
  else
    {
      if (entry != NULL)
        g_ptr_array_remove (self->entries, entry);  /* failed, removed or replaced */
      entry = _orrery_plugin_engine_add_entry (self, pending->path, pending->dir);
      _orrery_plugin_engine_load_and_maybe_enable (self, entry);
      _orrery_plugin_engine_prune_not_found (self);
      if (entry->info->state == ORRERY_PLUGIN_STATE_FAILED)
        g_message ("Plugin %s: %s", pending->path, entry->info->error->message);
      else
        g_message ("Plugin “%s” added from %s: %s", entry->info->name, pending->path,
                   orrery_plugin_state_to_nick (entry->info->state));
    }
  g_hash_table_remove (self->pending, pending->path);
  return G_SOURCE_REMOVE;
}

static void
file_appeared (OrreryPluginEngine *self,
               GFile              *file,
               const char         *dir)
{
  g_autofree char *path = g_file_get_path (file);
  g_autofree char *base = g_file_get_basename (file);
  OrreryPendingFile *pending;

  if (path == NULL || !_orrery_plugin_is_file_name (base))
    return;
  pending = g_hash_table_lookup (self->pending, path);
  if (pending == NULL)
    {
      pending = g_new0 (OrreryPendingFile, 1);
      pending->engine = self;
      pending->path = g_strdup (path);
      pending->dir = g_strdup (dir);
      g_hash_table_insert (self->pending, pending->path, pending);
    }
  /* Every change restarts the wait. */
  pending->seen = FALSE;
  g_clear_handle_id (&pending->source_id, g_source_remove);
  pending->source_id = g_timeout_add (self->settle_ms, on_settled, pending);
}

static void
file_disappeared (OrreryPluginEngine *self,
                  GFile              *file)
{
  g_autofree char *path = g_file_get_path (file);
  OrreryPluginEntry *entry;

  if (path == NULL)
    return;
  g_hash_table_remove (self->pending, path);
  entry = _orrery_plugin_engine_find_entry_by_file (self, path);
  if (entry == NULL || entry->info->state == ORRERY_PLUGIN_STATE_REMOVED)
    return;
  g_message ("Plugin file %s removed%s", path,
             entry->info->state == ORRERY_PLUGIN_STATE_ENABLED ? ": plugin disabled" : "");
  _orrery_plugin_engine_disable_entry (self, entry, ORRERY_PLUGIN_STATE_REMOVED);
}

static void
on_monitor_changed (GFileMonitor      *monitor,
                    GFile             *file,
                    GFile             *other_file,
                    GFileMonitorEvent  event,
                    gpointer           user_data)
{
  OrreryPluginEngine *self = user_data;
  const char *dir = g_object_get_data (G_OBJECT (monitor), "orrery-dir");

  switch (event)
    {
    case G_FILE_MONITOR_EVENT_CREATED:
    case G_FILE_MONITOR_EVENT_CHANGED:
    case G_FILE_MONITOR_EVENT_CHANGES_DONE_HINT:
    case G_FILE_MONITOR_EVENT_ATTRIBUTE_CHANGED:
    case G_FILE_MONITOR_EVENT_MOVED_IN:
      file_appeared (self, file, dir);
      break;
    case G_FILE_MONITOR_EVENT_DELETED:
    case G_FILE_MONITOR_EVENT_MOVED_OUT:
      file_disappeared (self, file);
      break;
    case G_FILE_MONITOR_EVENT_RENAMED:
      file_disappeared (self, file);
      if (other_file != NULL)
        file_appeared (self, other_file, dir);
      break;
    case G_FILE_MONITOR_EVENT_PRE_UNMOUNT:
    case G_FILE_MONITOR_EVENT_UNMOUNTED:
    case G_FILE_MONITOR_EVENT_MOVED:
    default:
      break;
    }
}

/**
 * orrery_plugin_engine_watch:
 * @self: an engine
 * @error: return location for an error
 *
 * Watches the directories of the search path that exist (in the thread-
 * default main context): a `.so` that appears (created, or renamed into
 * place) is loaded, once its size and time stayed unchanged for
 * #OrreryPluginEngine:settle-ms and it is a complete ELF shared object, and
 * enabled as the configuration says; one that is removed is disabled and
 * becomes %ORRERY_PLUGIN_STATE_REMOVED. Names starting with a dot and names
 * not ending in `.so` are ignored, so copying to a temporary name and then
 * renaming is the cleanest way to install a plugin.
 *
 * When the content of a loaded plugin's file changes (overwritten in place,
 * or another file renamed over it), the running copy is not affected (it
 * runs from a private copy); once the new content is complete and passes
 * every check, the old plugin is disabled (%ORRERY_PLUGIN_STATE_REMOVED, its
 * code stays mapped but is never called again) and the new content is
 * loaded as a new copy and enabled as the configuration says. Incomplete or
 * refused new content leaves the running copy as it is. A plugin that
 * registers GTypes or installs a log writer (what a process does once) is
 * never replaced in a running process: a warning says the new build takes
 * effect at the next start.
 *
 * Returns: %TRUE on success
 */
gboolean
orrery_plugin_engine_watch (OrreryPluginEngine  *self,
                            GError             **error)
{
  g_auto(GStrv) path = NULL;

  g_return_val_if_fail (ORRERY_IS_PLUGIN_ENGINE (self), FALSE);

  orrery_plugin_engine_unwatch (self);
  path = orrery_plugin_engine_get_search_path (self);
  for (guint i = 0; path[i] != NULL; i++)
    {
      g_autoptr(GFile) dir = NULL;
      GFileMonitor *monitor;

      if (!g_file_test (path[i], G_FILE_TEST_IS_DIR))
        continue;
      dir = g_file_new_for_path (path[i]);
      monitor = g_file_monitor_directory (dir, G_FILE_MONITOR_WATCH_MOVES, NULL, error);
      if (monitor == NULL)
        {
          orrery_plugin_engine_unwatch (self);
          return FALSE;
        }
      g_object_set_data_full (G_OBJECT (monitor), "orrery-dir", g_strdup (path[i]), g_free);
      g_signal_connect (monitor, "changed", G_CALLBACK (on_monitor_changed), self);
      g_ptr_array_add (self->monitors, monitor);
    }
  return TRUE;
}

/**
 * orrery_plugin_engine_unwatch:
 * @self: an engine
 *
 * Stops watching the directories; files waiting to settle are forgotten.
 */
void
orrery_plugin_engine_unwatch (OrreryPluginEngine *self)
{
  g_return_if_fail (ORRERY_IS_PLUGIN_ENGINE (self));

  for (guint i = 0; i < self->monitors->len; i++)
    {
      GFileMonitor *monitor = g_ptr_array_index (self->monitors, i);

      g_signal_handlers_disconnect_by_data (monitor, self);
      g_file_monitor_cancel (monitor);
    }
  g_ptr_array_set_size (self->monitors, 0);
  g_hash_table_remove_all (self->pending);
}
