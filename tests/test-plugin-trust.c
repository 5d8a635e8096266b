/* test-plugin-trust.c: the pure checks of the plugin engine, on values and
 * bytes: the trust rule over stat results, and the descriptor read from
 * the ELF bytes of the fixture plugins (also truncated, corrupted and
 * unaligned), with no plugin code run.
 *
 * Built with sdk/orrery-plugin-trust.c and sdk/orrery-plugin-elf.c (their
 * functions are hidden in liborrery).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <string.h>
#include <sys/stat.h>

#include "orrery-plugin-private.h"
#include "plugins/fixture-util.h"

#define ME      1000
#define OTHER   4242

static struct stat
make_stat (uid_t  uid,
           mode_t mode)
{
  struct stat st;

  memset (&st, 0, sizeof st);
  st.st_uid = uid;
  st.st_mode = mode;
  return st;
}

static void
assert_refused (GError     *error,
                gint        code,
                const char *must_contain[])
{
  g_assert_error (error, ORRERY_PLUGIN_ERROR, code);
  g_test_message ("%s", error->message);
  for (guint i = 0; must_contain[i] != NULL; i++)
    if (strstr (error->message, must_contain[i]) == NULL)
      g_error ("“%s” does not contain “%s”", error->message, must_contain[i]);
}

static void
test_check_dir (void)
{
  struct stat mine = make_stat (ME, S_IFDIR | 0700);
  struct stat root_dir = make_stat (0, S_IFDIR | 0755);
  struct stat foreign = make_stat (OTHER, S_IFDIR | 0755);
  struct stat open_dir = make_stat (0, S_IFDIR | 0777);
  struct stat group_dir = make_stat (ME, S_IFDIR | 0775);
  struct stat sticky = make_stat (0, S_IFDIR | 01777);
  struct stat sticky_foreign = make_stat (OTHER, S_IFDIR | 01777);
  struct stat child_mine = make_stat (ME, S_IFDIR | 0700);
  struct stat child_root = make_stat (0, S_IFREG | 0644);
  struct stat child_foreign = make_stat (OTHER, S_IFDIR | 0700);
  GError *error = NULL;

  /* Owned by root or the running user, not writable by others: safe. */
  g_assert_true (_orrery_plugin_trust_check_dir ("/", &root_dir, "/a", &child_foreign, ME,
                                                 &error));
  g_assert_true (_orrery_plugin_trust_check_dir ("/h/me", &mine, "/h/me/p", &child_mine, ME,
                                                 &error));
  g_assert_no_error (error);

  /* Another user's directory. */
  g_assert_false (_orrery_plugin_trust_check_dir ("/h/other", &foreign, "/h/other/p",
                                                  &child_mine, ME, &error));
  assert_refused (error, ORRERY_PLUGIN_ERROR_UNSAFE_PERMISSIONS,
                  (const char *[]) { "/h/other", "uid 4242", "uid 1000", "0755", NULL });
  g_clear_error (&error);
  /* ... even the user's own uid from another point of view. */
  g_assert_false (_orrery_plugin_trust_check_dir ("/h/me", &mine, "/h/me/p", &child_mine,
                                                  OTHER, &error));
  g_clear_error (&error);

  /* Writable by others or the group, not sticky: never safe. */
  g_assert_false (_orrery_plugin_trust_check_dir ("/srv/open", &open_dir, "/srv/open/p",
                                                  &child_root, ME, &error));
  assert_refused (error, ORRERY_PLUGIN_ERROR_UNSAFE_PERMISSIONS,
                  (const char *[]) { "/srv/open", "others", "not sticky", "0777", "uid 0",
                                     NULL });
  g_clear_error (&error);
  g_assert_false (_orrery_plugin_trust_check_dir ("/h/me", &group_dir, "/h/me/p", &child_mine,
                                                  ME, &error));
  assert_refused (error, ORRERY_PLUGIN_ERROR_UNSAFE_PERMISSIONS,
                  (const char *[]) { "its group", "0775", NULL });
  g_clear_error (&error);

  /* Sticky and world-writable (/tmp): safe only for an entry of root or
   * the running user, which nobody else can rename or replace. */
  g_assert_true (_orrery_plugin_trust_check_dir ("/tmp", &sticky, "/tmp/mine", &child_mine, ME,
                                                 &error));
  g_assert_true (_orrery_plugin_trust_check_dir ("/tmp", &sticky, "/tmp/x.so", &child_root, ME,
                                                 &error));
  g_assert_no_error (error);
  g_assert_false (_orrery_plugin_trust_check_dir ("/tmp", &sticky, "/tmp/theirs",
                                                  &child_foreign, ME, &error));
  assert_refused (error, ORRERY_PLUGIN_ERROR_UNSAFE_PERMISSIONS,
                  (const char *[]) { "/tmp", "sticky", "/tmp/theirs", "uid 4242", "1777",
                                     NULL });
  g_clear_error (&error);
  /* A sticky directory of another user: its owner can replace anything. */
  g_assert_false (_orrery_plugin_trust_check_dir ("/srv/drop", &sticky_foreign,
                                                  "/srv/drop/mine", &child_mine, ME, &error));
  assert_refused (error, ORRERY_PLUGIN_ERROR_UNSAFE_PERMISSIONS,
                  (const char *[]) { "/srv/drop", "uid 4242", NULL });
  g_clear_error (&error);
}

static void
test_check_file (void)
{
  struct stat ok_root = make_stat (0, S_IFREG | 0755);
  struct stat ok_mine = make_stat (ME, S_IFREG | 0700);
  struct stat group_w = make_stat (ME, S_IFREG | 0775);
  struct stat other_w = make_stat (0, S_IFREG | 0757);
  struct stat foreign = make_stat (OTHER, S_IFREG | 0755);
  struct stat dir = make_stat (0, S_IFDIR | 0755);
  struct stat link_foreign = make_stat (OTHER, S_IFLNK | 0777);
  struct stat link_mine = make_stat (ME, S_IFLNK | 0777);
  GError *error = NULL;

  g_assert_true (_orrery_plugin_trust_check_file ("/p/a.so", &ok_root, ME, &error));
  g_assert_true (_orrery_plugin_trust_check_file ("/p/a.so", &ok_mine, ME, &error));
  g_assert_no_error (error);

  g_assert_false (_orrery_plugin_trust_check_file ("/p/a.so", &group_w, ME, &error));
  assert_refused (error, ORRERY_PLUGIN_ERROR_UNSAFE_PERMISSIONS,
                  (const char *[]) { "/p/a.so", "its group", "0775", "uid 1000", NULL });
  g_clear_error (&error);
  g_assert_false (_orrery_plugin_trust_check_file ("/p/a.so", &other_w, ME, &error));
  assert_refused (error, ORRERY_PLUGIN_ERROR_UNSAFE_PERMISSIONS,
                  (const char *[]) { "others", "0757", NULL });
  g_clear_error (&error);
  g_assert_false (_orrery_plugin_trust_check_file ("/p/a.so", &foreign, ME, &error));
  assert_refused (error, ORRERY_PLUGIN_ERROR_UNSAFE_PERMISSIONS,
                  (const char *[]) { "/p/a.so", "uid 4242", "0755", NULL });
  g_clear_error (&error);
  g_assert_false (_orrery_plugin_trust_check_file ("/p/a.so", &dir, ME, &error));
  g_assert_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_NOT_SHARED_OBJECT);
  g_clear_error (&error);

  /* A link's mode means nothing; its owner could point it elsewhere. */
  g_assert_true (_orrery_plugin_trust_check_link ("/p/l.so", &link_mine, ME, &error));
  g_assert_no_error (error);
  g_assert_false (_orrery_plugin_trust_check_link ("/p/l.so", &link_foreign, ME, &error));
  assert_refused (error, ORRERY_PLUGIN_ERROR_UNSAFE_PERMISSIONS,
                  (const char *[]) { "symbolic link", "/p/l.so", "uid 4242", NULL });
  g_clear_error (&error);
}

static GBytes *
fixture_bytes (const char *name)
{
  g_autofree char *path = fixture_path (name, ".so");
  g_autoptr(GError) error = NULL;
  char *contents = NULL;
  gsize length;

  g_file_get_contents (path, &contents, &length, &error);
  g_assert_no_error (error);
  return g_bytes_new_take (contents, length);
}

static OrreryPluginElfInfo *
read_fixture (const char  *name,
              GError     **error)
{
  g_autoptr(GBytes) bytes = fixture_bytes (name);
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);

  return _orrery_plugin_elf_read (data, size, name, error);
}

static void
test_elf_descriptor (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryPluginElfInfo) good = read_fixture ("good", &error);
  g_autoptr(OrreryPluginElfInfo) anon = NULL;
  g_autoptr(OrreryPluginElfInfo) trap = NULL;
  g_autoptr(OrreryPluginElfInfo) typed = NULL;
  g_autoptr(OrreryPluginElfInfo) v2 = NULL;

  g_assert_no_error (error);
  g_assert_nonnull (good);
  g_assert_cmpuint (good->abi_major, ==, ORRERY_PLUGIN_ABI_MAJOR);
  g_assert_cmpuint (good->abi_minor, ==, ORRERY_PLUGIN_ABI_MINOR);
  g_assert_cmpuint (good->struct_size, ==, sizeof (OrreryPluginDescriptor));
  g_assert_cmpstr (good->name, ==, "good");
  g_assert_cmpstr (good->version, ==, "1.2.3");
  g_assert_cmpstr (good->description, ==, "Counts the events it receives");
  g_assert_true (good->has_init);
  g_assert_true (good->has_shutdown);
  g_assert_false (good->once_per_process);
  g_assert_cmpuint (good->n_keys, ==, 2);
  g_assert_cmpstr (good->keys[0].name, ==, "Output");
  g_assert_cmpint (good->keys[0].type, ==, ORRERY_PLUGIN_KEY_STRING);
  g_assert_null (good->keys[0].default_value);
  g_assert_cmpstr (good->keys[0].description, ==, "a file to append each event's type to");
  g_assert_cmpstr (good->keys[1].name, ==, "Increment");
  g_assert_cmpint (good->keys[1].type, ==, ORRERY_PLUGIN_KEY_INT);
  g_assert_cmpstr (good->keys[1].default_value, ==, "1");
  g_assert_null (good->keys[2].name);
  /* The view for the configuration checks has no code. */
  g_assert_true (good->descriptor.keys == good->keys);
  g_assert_null (good->descriptor.init);
  g_assert_null (good->device_kinds);

  /* Device kinds (ABI 1.1), read through the relocations of the array. */
  {
    g_autoptr(OrreryPluginElfInfo) devkind = read_fixture ("devkind", &error);
    const char *expected[] = { "fixture", NULL };

    g_assert_no_error (error);
    g_assert_nonnull (devkind->device_kinds);
    g_assert_cmpstrv (devkind->device_kinds, expected);
    g_assert_true (devkind->descriptor.device_kinds == (const char * const *) devkind->device_kinds);
  }

  v2 = read_fixture ("good-v2", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (v2->version, ==, "2.0.0");

  anon = read_fixture ("anon", &error);
  g_assert_no_error (error);
  g_assert_null (anon->name);  /* named after its file by the engine */
  g_assert_false (anon->has_shutdown);
  g_assert_null (anon->keys);

  trap = read_fixture ("trap", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (trap->name, ==, "trap");
  g_assert_cmpuint (trap->n_keys, ==, 2);
  g_assert_cmpint (trap->keys[0].type, ==, ORRERY_PLUGIN_KEY_UINT);
  g_assert_cmpstr (trap->keys[0].default_value, ==, "3");
  g_assert_cmpint (trap->keys[1].type, ==, ORRERY_PLUGIN_KEY_BOOLEAN);

  /* Pointers through absolute relocations against its own symbols. */
  {
    g_autoptr(OrreryPluginElfInfo) exported = read_fixture ("exported", &error);

    g_assert_no_error (error);
    g_assert_cmpstr (exported->name, ==, "exported");
    g_assert_cmpstr (exported->version, ==, "3.1");
    g_assert_true (exported->has_init);
    g_assert_false (exported->has_shutdown);
  }

  /* It registers a GType: it cannot be loaded a second time. */
  typed = read_fixture ("typed", &error);
  g_assert_no_error (error);
  g_assert_true (typed->once_per_process);
}

static void
test_elf_refusals (void)
{
  GError *error = NULL;
  const char *text = "this is not a shared object\n";

  g_assert_null (read_fixture ("abi-major", &error));
  g_assert_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_ABI_MISMATCH);
  g_clear_error (&error);
  g_assert_null (read_fixture ("abi-minor", &error));
  g_assert_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_ABI_MISMATCH);
  g_clear_error (&error);
  g_assert_null (read_fixture ("devkind-badname", &error));
  g_assert_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_NO_DESCRIPTOR);
  g_assert_nonnull (strstr (error->message, "“two words” is not a device kind name"));
  g_clear_error (&error);
  g_assert_null (read_fixture ("nodesc", &error));
  g_assert_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_NO_DESCRIPTOR);
  g_clear_error (&error);
  g_assert_null (_orrery_plugin_elf_read ((const guint8 *) text, strlen (text), "text.so",
                                          &error));
  g_assert_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_NOT_SHARED_OBJECT);
  g_assert_nonnull (strstr (error->message, "text.so"));
  g_clear_error (&error);
  g_assert_null (_orrery_plugin_elf_read (NULL, 0, "empty.so", &error));
  g_assert_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_NOT_SHARED_OBJECT);
  g_clear_error (&error);

  /* A real shared object of the system that is not a plugin (GLib). */
  {
    Dl_info info;
    g_autofree char *contents = NULL;
    gsize length;

    if (dladdr ((gpointer) g_malloc, &info) != 0 && info.dli_fname != NULL &&
        g_file_get_contents (info.dli_fname, &contents, &length, NULL))
      {
        g_assert_null (_orrery_plugin_elf_read ((const guint8 *) contents, length,
                                                info.dli_fname, &error));
        g_assert_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_NO_DESCRIPTOR);
        g_clear_error (&error);
      }
  }
}

/* Every prefix of a plugin (a file still being written) is refused, and
 * none is read outside its bytes (each prefix is its own allocation, so
 * the sanitizer build catches any read past the end). */
static void
test_elf_truncated (void)
{
  g_autoptr(GBytes) bytes = fixture_bytes ("good");
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  gsize step = MAX (size / 97, 1);

  for (gsize n = 0; n < size; n += step)
    {
      g_autofree guint8 *prefix = g_memdup2 (data, n);
      GError *error = NULL;
      OrreryPluginElfInfo *info = _orrery_plugin_elf_read (prefix, n, "good.so", &error);

      /* The section headers are the end of the file: no prefix has them. */
      g_assert_null (info);
      g_assert_nonnull (error);
      g_clear_error (&error);
    }
}

/* Random corruption never crashes the reader nor reads outside the buffer;
 * whatever it accepts has a valid name or none. */
static void
test_elf_corrupted (void)
{
  g_autoptr(GBytes) bytes = fixture_bytes ("trap");
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  g_autoptr(GRand) rand = g_rand_new_with_seed (9);
  guint accepted = 0;

  for (guint round = 0; round < 3000; round++)
    {
      g_autofree guint8 *copy = g_memdup2 (data, size);
      guint n_flips = 1 + g_rand_int_range (rand, 0, 8);
      GError *error = NULL;
      OrreryPluginElfInfo *info;

      for (guint i = 0; i < n_flips; i++)
        {
          /* Most flips where the headers and tables are: the first pages
           * and the section headers at the end. */
          gsize at = g_rand_boolean (rand) ? (gsize) g_rand_int_range (rand, 0, MIN (size, 4096))
                                           : (gsize) g_rand_int_range (rand, 0, size);

          copy[at] = (guint8) g_rand_int_range (rand, 0, 256);
        }
      info = _orrery_plugin_elf_read (copy, size, "trap.so", &error);
      if (info != NULL)
        {
          accepted++;
          g_assert_no_error (error);
          g_assert_true (info->name == NULL || g_utf8_validate (info->name, -1, NULL));
          _orrery_plugin_elf_info_free (info);
        }
      else
        {
          g_assert_nonnull (error);
          g_assert_true (error->domain == ORRERY_PLUGIN_ERROR);
          g_clear_error (&error);
        }
    }
  g_test_message ("%u of 3000 corrupted copies still read as a descriptor", accepted);
}

/* The reader takes any buffer, aligned or not. */
static void
test_elf_unaligned (void)
{
  g_autoptr(GBytes) bytes = fixture_bytes ("good");
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  g_autofree guint8 *shifted = g_malloc (size + 1);
  g_autoptr(GError) error = NULL;
  g_autoptr(OrreryPluginElfInfo) info = NULL;

  memcpy (shifted + 1, data, size);
  info = _orrery_plugin_elf_read (shifted + 1, size, "good.so", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (info->name, ==, "good");
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/plugin-trust/check-dir", test_check_dir);
  g_test_add_func ("/plugin-trust/check-file-and-link", test_check_file);
  g_test_add_func ("/plugin-trust/elf-descriptor", test_elf_descriptor);
  g_test_add_func ("/plugin-trust/elf-refusals", test_elf_refusals);
  g_test_add_func ("/plugin-trust/elf-truncated", test_elf_truncated);
  g_test_add_func ("/plugin-trust/elf-corrupted", test_elf_corrupted);
  g_test_add_func ("/plugin-trust/elf-unaligned", test_elf_unaligned);
  return g_test_run ();
}
