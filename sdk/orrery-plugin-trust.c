/* orrery-plugin-trust.c: whether a plugin file may be loaded, as sshd's
 * StrictModes decides for its key files, and opening it without a race.
 *
 * The rule: the plugin file, every directory on its path up to `/`, and
 * every directory and symbolic link met while resolving that path, must be
 * owned by root or by the running (effective) user. The file must not be
 * writable by its group or others. A directory writable by its group or
 * others is accepted only if it is sticky (like `/tmp`) AND the entry below
 * it on the path is owned by root or the running user: in a sticky
 * directory nobody else can rename, remove or replace that entry, so the
 * path stays what was checked. A group- or world-writable directory
 * without the sticky bit is always refused.
 *
 * The path is walked from `/` one component at a time with openat()
 * (O_NOFOLLOW): each directory is checked through the descriptor that the
 * walk goes on from, each symbolic link is checked and resolved by hand,
 * and the file is opened relative to its checked directory and fstat()ed,
 * so what is checked is what is opened, and the engine loads from that
 * descriptor's content.
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
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "orrery-plugin-private.h"

#ifndef O_PATH
# define O_PATH O_RDONLY
#endif

#define MAX_SYMLINKS 40

char *
_orrery_plugin_describe_uid (uid_t uid)
{
  struct passwd pw, *result = NULL;
  char buffer[1024];

  if (getpwuid_r (uid, &pw, buffer, sizeof buffer, &result) == 0 && result != NULL &&
      result->pw_name != NULL)
    {
      g_autofree char *name = orrery_escape_for_terminal (result->pw_name, -1);

      return g_strdup_printf ("uid %u (%s)", (unsigned) uid, name);
    }
  return g_strdup_printf ("uid %u (no user of that id)", (unsigned) uid);
}

static const char *
writable_by (mode_t mode)
{
  if ((mode & S_IWGRP) && (mode & S_IWOTH))
    return "its group and others";
  return (mode & S_IWOTH) ? "others" : "its group";
}

static gboolean
trusted_owner (const struct stat *st,
               uid_t              uid)
{
  return st->st_uid == 0 || st->st_uid == uid;
}

static gboolean
refuse_owner (const char         *what,
              const char         *path,
              const struct stat  *st,
              uid_t               uid,
              GError            **error)
{
  g_autofree char *owner = _orrery_plugin_describe_uid (st->st_uid);
  g_autofree char *me = _orrery_plugin_describe_uid (uid);

  g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_UNSAFE_PERMISSIONS,
               "%s %s is owned by %s, neither root nor the running user %s (mode %04o)",
               what, path, owner, me, (unsigned) (st->st_mode & 07777));
  return FALSE;
}

gboolean
_orrery_plugin_trust_check_dir (const char         *dir,
                                const struct stat  *dir_st,
                                const char         *child,
                                const struct stat  *child_st,
                                uid_t               uid,
                                GError            **error)
{
  mode_t mode = dir_st->st_mode;

  if (!trusted_owner (dir_st, uid))
    return refuse_owner ("the directory", dir, dir_st, uid, error);
  if ((mode & (S_IWGRP | S_IWOTH)) == 0)
    return TRUE;
  if ((mode & S_ISVTX) == 0)
    {
      g_autofree char *owner = _orrery_plugin_describe_uid (dir_st->st_uid);

      g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_UNSAFE_PERMISSIONS,
                   "the directory %s is writable by %s and not sticky (owner %s, mode %04o)",
                   dir, writable_by (mode), owner, (unsigned) (mode & 07777));
      return FALSE;
    }
  if (!trusted_owner (child_st, uid))
    {
      g_autofree char *owner = _orrery_plugin_describe_uid (child_st->st_uid);

      g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_UNSAFE_PERMISSIONS,
                   "the directory %s is writable by %s (sticky, mode %04o) and %s in it is "
                   "owned by %s: only entries of root or the running user are safe there",
                   dir, writable_by (mode), (unsigned) (mode & 07777), child, owner);
      return FALSE;
    }
  return TRUE;
}

gboolean
_orrery_plugin_trust_check_link (const char         *link,
                                 const struct stat  *st,
                                 uid_t               uid,
                                 GError            **error)
{
  if (!trusted_owner (st, uid))
    return refuse_owner ("the symbolic link", link, st, uid, error);
  return TRUE;
}

gboolean
_orrery_plugin_trust_check_file (const char         *file,
                                 const struct stat  *st,
                                 uid_t               uid,
                                 GError            **error)
{
  if (!S_ISREG (st->st_mode))
    {
      g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_NOT_SHARED_OBJECT,
                   "%s is not a regular file", file);
      return FALSE;
    }
  if (!trusted_owner (st, uid))
    return refuse_owner ("the file", file, st, uid, error);
  if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0)
    {
      g_autofree char *owner = _orrery_plugin_describe_uid (st->st_uid);

      g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_UNSAFE_PERMISSIONS,
                   "the file %s is writable by %s (owner %s, mode %04o)", file,
                   writable_by (st->st_mode), owner, (unsigned) (st->st_mode & 07777));
      return FALSE;
    }
  return TRUE;
}

typedef struct
{
  int          fd;
  char        *path;
  struct stat  st;
} Level;

static void
level_clear (gpointer data)
{
  Level *level = data;

  if (level->fd >= 0)
    close (level->fd);
  g_free (level->path);
}

static char *
child_path (const char *dir,
            const char *name)
{
  return g_str_equal (dir, "/") ? g_strconcat ("/", name, NULL)
                                : g_strconcat (dir, "/", name, NULL);
}

/* Pushes the components of @path in front of @todo, in order. */
static void
push_components (GQueue     *todo,
                 const char *path)
{
  g_auto(GStrv) parts = g_strsplit (path, "/", -1);
  guint n = g_strv_length (parts);

  for (guint i = n; i > 0; i--)
    {
      const char *part = parts[i - 1];

      if (*part != '\0' && !g_str_equal (part, "."))
        g_queue_push_head (todo, g_strdup (part));
    }
}

static gboolean
errno_error (GError     **error,
             int          saved,
             const char  *path)
{
  g_set_error (error, ORRERY_PLUGIN_ERROR,
               saved == ELOOP ? ORRERY_PLUGIN_ERROR_UNSAFE_PERMISSIONS
                              : ORRERY_PLUGIN_ERROR_NOT_SHARED_OBJECT,
               "%s: %s", path, g_strerror (saved));
  return FALSE;
}

static gboolean
same_file (const struct stat *a,
           const struct stat *b)
{
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

static int
walk (const char   *path,
      uid_t         uid,
      char        **real_path,
      struct stat  *file_st,
      GError      **error)
{
  g_autoptr(GArray) stack = g_array_new (FALSE, TRUE, sizeof (Level));
  g_autoptr(GQueue) todo = g_queue_new ();
  g_autofree char *absolute = NULL;
  guint n_links = 0;
  int result = -1;
  Level root = { -1, NULL };

  g_array_set_clear_func (stack, level_clear);
  if (g_path_is_absolute (path))
    absolute = g_strdup (path);
  else
    {
      g_autofree char *cwd = g_get_current_dir ();

      absolute = g_build_filename (cwd, path, NULL);
    }
  push_components (todo, absolute);

  root.fd = open ("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root.fd < 0 || fstat (root.fd, &root.st) != 0)
    {
      errno_error (error, errno, "/");
      if (root.fd >= 0)
        close (root.fd);
      goto out;
    }
  root.path = g_strdup ("/");
  g_array_append_val (stack, root);

  while (!g_queue_is_empty (todo))
    {
      g_autofree char *name = g_queue_pop_head (todo);
      Level *top = &g_array_index (stack, Level, stack->len - 1);
      g_autofree char *here = NULL;
      struct stat st;
      Level next = { -1, NULL };

      if (g_str_equal (name, ".."))
        {
          if (stack->len > 1)
            g_array_set_size (stack, stack->len - 1);
          continue;
        }
      here = child_path (top->path, name);
      if (fstatat (top->fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        {
          errno_error (error, errno, here);
          goto out;
        }
      if (!_orrery_plugin_trust_check_dir (top->path, &top->st, here, &st, uid, error))
        goto out;

      if (S_ISLNK (st.st_mode))
        {
          g_autofree char *target = NULL;
          gsize size = st.st_size > 0 ? (gsize) st.st_size + 1 : PATH_MAX;
          ssize_t len;

          if (!_orrery_plugin_trust_check_link (here, &st, uid, error))
            goto out;
          if (++n_links > MAX_SYMLINKS)
            {
              errno_error (error, ELOOP, here);
              goto out;
            }
          target = g_malloc (size + 1);
          len = readlinkat (top->fd, name, target, size);
          if (len < 0 || (gsize) len >= size)
            {
              errno_error (error, len < 0 ? errno : ENAMETOOLONG, here);
              goto out;
            }
          target[len] = '\0';
          if (target[0] == '/')
            g_array_set_size (stack, 1);
          push_components (todo, target);
          continue;
        }

      if (g_queue_is_empty (todo))
        {
          /* The file itself. */
          struct stat opened;
          int fd;

          if (!_orrery_plugin_trust_check_file (here, &st, uid, error))
            goto out;
          fd = openat (top->fd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
          if (fd < 0)
            {
              errno_error (error, errno, here);
              goto out;
            }
          if (fstat (fd, &opened) != 0 || !same_file (&opened, &st) ||
              !_orrery_plugin_trust_check_file (here, &opened, uid, error))
            {
              if (error != NULL && *error == NULL)
                g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_UNSAFE_PERMISSIONS,
                             "%s was replaced while it was checked", here);
              close (fd);
              goto out;
            }
          *file_st = opened;
          *real_path = g_steal_pointer (&here);
          result = fd;
          goto out;
        }

      if (!S_ISDIR (st.st_mode))
        {
          errno_error (error, ENOTDIR, here);
          goto out;
        }
      next.fd = openat (top->fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (next.fd < 0)
        {
          errno_error (error, errno, here);
          goto out;
        }
      if (fstat (next.fd, &next.st) != 0 || !same_file (&next.st, &st))
        {
          g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_UNSAFE_PERMISSIONS,
                       "%s was replaced while it was checked", here);
          close (next.fd);
          goto out;
        }
      next.path = g_steal_pointer (&here);
      g_array_append_val (stack, next);
    }
  /* The path ended on a directory (or on "/"). */
  {
    Level *top = &g_array_index (stack, Level, stack->len - 1);

    g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_NOT_SHARED_OBJECT,
                 "%s is not a regular file", top->path);
  }

out:
  while (!g_queue_is_empty (todo))
    g_free (g_queue_pop_head (todo));
  return result;
}

int
_orrery_plugin_trust_open (const char   *path,
                           char        **real_path,
                           struct stat  *st,
                           GError      **error)
{
  g_autofree char *real = NULL;
  GError *local_error = NULL;
  struct stat dummy;
  int fd;

  g_return_val_if_fail (path != NULL, -1);

  fd = walk (path, geteuid (), &real, st != NULL ? st : &dummy, &local_error);
  if (fd < 0)
    {
      if (local_error->code == ORRERY_PLUGIN_ERROR_UNSAFE_PERMISSIONS)
        g_prefix_error (&local_error, "%s: refused: ", path);
      else if (!g_str_has_prefix (local_error->message, path))
        g_prefix_error (&local_error, "%s: ", path);
      g_propagate_error (error, local_error);
      return -1;
    }
  if (real_path != NULL)
    *real_path = g_steal_pointer (&real);
  return fd;
}

/* ------------------------------------------------------------------------ */
/* Reading a trusted file */

/* The largest file taken for a plugin. */
#define MAX_PLUGIN_SIZE (G_GINT64_CONSTANT (256) << 20)

/* Opens @file through the trust check and reads all of it from that
 * descriptor: what is checked is what is read, and what is read is what is
 * loaded (from a private copy, see _orrery_plugin_open_copy()). */
GBytes *
_orrery_plugin_trust_read (const char  *file,
                           GError     **error)
{
  g_autofree char *real = NULL;
  g_autoptr(GByteArray) buffer = NULL;
  struct stat st;
  int fd;

  fd = _orrery_plugin_trust_open (file, &real, &st, error);
  if (fd < 0)
    return NULL;
  if (st.st_size > MAX_PLUGIN_SIZE)
    {
      g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_NOT_SHARED_OBJECT,
                   "%s: %" G_GINT64_FORMAT " bytes: too large for a plugin", file,
                   (gint64) st.st_size);
      close (fd);
      return NULL;
    }
  buffer = g_byte_array_sized_new (st.st_size > 0 ? (guint) st.st_size : 1);
  for (;;)
    {
      guint8 chunk[65536];
      ssize_t n = read (fd, chunk, sizeof chunk);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved = errno;

          g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_NOT_SHARED_OBJECT,
                       "%s: %s", file, g_strerror (saved));
          close (fd);
          return NULL;
        }
      if (n == 0)
        break;
      if (buffer->len + (guint64) n > MAX_PLUGIN_SIZE)
        {
          g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_NOT_SHARED_OBJECT,
                       "%s: too large for a plugin", file);
          close (fd);
          return NULL;
        }
      g_byte_array_append (buffer, chunk, n);
    }
  close (fd);
  return g_byte_array_free_to_bytes (g_steal_pointer (&buffer));
}
