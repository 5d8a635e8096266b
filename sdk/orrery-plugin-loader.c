/* orrery-plugin-loader.c: loads a checked plugin from a private, sealed
 * copy of the bytes that were checked (a memfd), so that overwriting its
 * file never touches the code that runs; one content is loaded once per
 * process.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-Plugins"

#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gmodule.h>

#include "orrery-plugin-private.h"

#ifndef MFD_EXEC
# define MFD_EXEC 0x0010U
#endif

/* A private, sealed copy of @bytes that the loader can map: a memfd, whose
 * content nobody can change (overwriting the plugin's file in place, as
 * `cp new.so plugin.so` does, changes nothing that is mapped). */
int
_orrery_plugin_private_copy (const char  *file,
                             GBytes      *bytes,
                             GError     **error)
{
  g_autofree char *base = g_path_get_basename (file);
  g_autofree char *name = g_strconcat ("orrery-plugin:", base, NULL);
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  gsize done = 0;
  int fd;

  fd = memfd_create (name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  if (fd < 0 && errno == EINVAL)  /* a kernel before 6.3 has no MFD_EXEC */
    fd = memfd_create (name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0)
    {
      int saved = errno;

      g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_LOAD_FAILED,
                   "%s: cannot make a private copy to load: memfd_create: %s", file,
                   g_strerror (saved));
      return -1;
    }
  while (done < size)
    {
      ssize_t n = write (fd, data + done, size - done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          int saved = n < 0 ? errno : EIO;

          g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_LOAD_FAILED,
                       "%s: cannot make a private copy to load: %s", file, g_strerror (saved));
          close (fd);
          return -1;
        }
      done += n;
    }
  /* Best effort: the copy is already private to this process. */
  (void) fcntl (fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
  return fd;
}

/* The copies loaded in this process: SHA-256 of the content -> the path
 * the loader knows it by. One content is loaded once per process (as
 * dlopen() of one file is): a plugin's static state, and what a process
 * does once (install the log writer, register types), stays single. */
G_LOCK_DEFINE_STATIC (copies);
/* Of Copy: a few plugins, looked up by size and then content (a hash of
 * the bytes would read them all, every time). */
static GPtrArray *copies;

typedef struct
{
  GBytes *bytes;
  char   *proc_path;
} Copy;

static const char *
find_copy (GBytes *bytes)
{
  for (guint i = 0; copies != NULL && i < copies->len; i++)
    {
      Copy *c = copies->pdata[i];

      if (g_bytes_equal (c->bytes, bytes))
        return c->proc_path;
    }
  return NULL;
}

/* Loads @bytes from a private copy, or takes the copy of the same content
 * already loaded (the table compares the bytes themselves). */
GModule *
_orrery_plugin_open_copy (const char  *file,
                          GBytes      *bytes,
                          GError     **error)
{
  g_autofree char *proc_path = NULL;
  GModule *module = NULL;
  int fd;

  G_LOCK (copies);
  if (copies == NULL)
    copies = g_ptr_array_new ();
  proc_path = g_strdup (find_copy (bytes));
  if (proc_path != NULL)
    {
      module = g_module_open (proc_path, G_MODULE_BIND_LOCAL | G_MODULE_BIND_LAZY);
      G_UNLOCK (copies);
      if (module == NULL)
        g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_LOAD_FAILED, "%s: %s",
                     file, g_module_error ());
      return module;
    }

  /* A private copy of the bytes just checked. It stays open as long as the
   * process lives: the loader knows the object by its path,
   * /proc/self/fd/N, and a later copy must never get the same one. */
  fd = _orrery_plugin_private_copy (file, bytes, error);
  if (fd >= 0)
    {
      proc_path = g_strdup_printf ("/proc/self/fd/%d", fd);
      module = g_module_open (proc_path, G_MODULE_BIND_LOCAL | G_MODULE_BIND_LAZY);
      if (module == NULL)
        {
          g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_LOAD_FAILED, "%s: %s",
                       file, g_module_error ());
          close (fd);
        }
      else
        {
          /* Whatever happens next, it stays: its constructors may have
           * registered types. */
          Copy *c = g_new (Copy, 1);

          g_module_make_resident (module);
          c->bytes = g_bytes_ref (bytes);
          c->proc_path = g_steal_pointer (&proc_path);
          g_ptr_array_add (copies, c);
        }
    }
  G_UNLOCK (copies);
  return module;
}
