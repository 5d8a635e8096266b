/* orrery-plugin-elf.c: reads a plugin's descriptor from the bytes of its
 * ELF file, without the dynamic loader, so that no code of the plugin runs
 * (not even its ELF constructors).
 *
 * Everything here is a pure function of the bytes it is given: every
 * offset, size and count read from the file is checked against the buffer
 * before use, so a truncated or hostile file gives an error, never a read
 * outside the buffer.
 *
 * How the descriptor is found: the `orrery_plugin_descriptor` symbol of the
 * dynamic symbol table (SHT_DYNSYM, what dlsym() sees) gives its virtual
 * address; the PT_LOAD program headers map that address to a file offset.
 * Its pointer fields (name, version, description, init, shutdown, keys)
 * are in the file as relocations in a position-independent object: a
 * RELATIVE relocation (R_X86_64_RELATIVE, R_AARCH64_RELATIVE) carries the
 * target address in its addend; a 64-bit absolute or GLOB_DAT relocation
 * names a symbol defined in the object. Without a RELA relocation at the
 * field, the value in place is the target (REL and RELR relocations keep
 * their addend there; a NULL pointer has no relocation and 0 in place).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-Plugins"

#include <elf.h>
#include <link.h>
#include <string.h>

#include "orrery-plugin-private.h"

#if defined(__x86_64__)
# define HOST_MACHINE    EM_X86_64
# define RELOC_RELATIVE  R_X86_64_RELATIVE
# define RELOC_ABS       R_X86_64_64
# define RELOC_GLOB_DAT  R_X86_64_GLOB_DAT
#elif defined(__aarch64__)
# define HOST_MACHINE    EM_AARCH64
# define RELOC_RELATIVE  R_AARCH64_RELATIVE
# define RELOC_ABS       R_AARCH64_ABS64
# define RELOC_GLOB_DAT  R_AARCH64_GLOB_DAT
#else
# define HOST_MACHINE    EM_NONE   /* not checked; REL-style values only */
# define RELOC_RELATIVE  (-1)
# define RELOC_ABS       (-1)
# define RELOC_GLOB_DAT  (-1)
#endif

#if G_BYTE_ORDER == G_LITTLE_ENDIAN
# define HOST_DATA ELFDATA2LSB
#else
# define HOST_DATA ELFDATA2MSB
#endif
#define HOST_CLASS (sizeof (gpointer) == 8 ? ELFCLASS64 : ELFCLASS32)

#if __ELF_NATIVE_CLASS == 64
# define ELF_R_SYM(i)  ELF64_R_SYM (i)
# define ELF_R_TYPE(i) ELF64_R_TYPE (i)
# define ELF_ST_BIND(i) ELF64_ST_BIND (i)
#else
# define ELF_R_SYM(i)  ELF32_R_SYM (i)
# define ELF_R_TYPE(i) ELF32_R_TYPE (i)
# define ELF_ST_BIND(i) ELF32_ST_BIND (i)
#endif

#define MAX_STRING 4096   /* a name, version, description or key text */
#define MAX_KEYS   256
#define MAX_DEVICE_KINDS 64

typedef struct
{
  const guint8        *data;
  gsize                size;
  const char          *file;   /* for messages */
  const ElfW(Ehdr)    *ehdr;
  const ElfW(Phdr)    *phdrs;
  const ElfW(Shdr)    *shdrs;
  const ElfW(Sym)     *syms;   /* the dynamic symbol table */
  gsize                n_syms;
  const char          *strtab;
  gsize                strtab_size;
} Elf;

/* Whether [offset, offset + length) lies inside a buffer of @size bytes. */
static inline gboolean
in_bounds (guint64 offset,
           guint64 length,
           gsize   size)
{
  return offset <= size && length <= size - offset;
}

static gboolean
malformed (GError     **error,
           const Elf   *elf,
           const char  *what)
{
  g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_NOT_SHARED_OBJECT,
               "%s: %s", elf->file, what);
  return FALSE;
}

/* Reads @length bytes at virtual address @vaddr into @out: from the file
 * where a PT_LOAD segment has them, zeros where the segment is larger in
 * memory than in the file (.bss). FALSE if no segment holds them all. */
static gboolean
read_vaddr (const Elf *elf,
            guint64    vaddr,
            void      *out,
            gsize      length)
{
  for (guint i = 0; i < elf->ehdr->e_phnum; i++)
    {
      const ElfW(Phdr) *ph = &elf->phdrs[i];
      guint64 rel;

      if (ph->p_type != PT_LOAD || vaddr < ph->p_vaddr)
        continue;
      rel = vaddr - ph->p_vaddr;
      if (!in_bounds (rel, length, ph->p_memsz))
        continue;
      memset (out, 0, length);
      if (rel < ph->p_filesz)
        {
          gsize in_file = MIN (length, ph->p_filesz - rel);

          if (!in_bounds (ph->p_offset, ph->p_filesz, elf->size))
            return FALSE;
          memcpy (out, elf->data + ph->p_offset + rel, in_file);
        }
      return TRUE;
    }
  return FALSE;
}

/* The NUL-terminated string at @vaddr (at most MAX_STRING bytes, inside the
 * file part of one segment), as a new valid UTF-8 string. */
static char *
read_string (const Elf *elf,
             guint64    vaddr)
{
  for (guint i = 0; i < elf->ehdr->e_phnum; i++)
    {
      const ElfW(Phdr) *ph = &elf->phdrs[i];
      const char *start;
      gsize avail, len;
      guint64 rel;

      if (ph->p_type != PT_LOAD || vaddr < ph->p_vaddr)
        continue;
      rel = vaddr - ph->p_vaddr;
      if (rel >= ph->p_filesz || !in_bounds (ph->p_offset, ph->p_filesz, elf->size))
        continue;
      start = (const char *) elf->data + ph->p_offset + rel;
      avail = MIN (ph->p_filesz - rel, (guint64) MAX_STRING + 1);
      len = strnlen (start, avail);
      if (len == avail)
        return NULL;  /* unterminated, or too long */
      return g_utf8_make_valid (start, len);
    }
  return NULL;
}

/* Whether @vaddr lies in an executable segment. */
static gboolean
is_code (const Elf *elf,
         guint64    vaddr)
{
  for (guint i = 0; i < elf->ehdr->e_phnum; i++)
    {
      const ElfW(Phdr) *ph = &elf->phdrs[i];

      if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) != 0 && vaddr >= ph->p_vaddr &&
          vaddr - ph->p_vaddr < ph->p_memsz)
        return TRUE;
    }
  return FALSE;
}

typedef enum {
  POINTER_NULL,
  POINTER_LOCAL,     /* to @target, inside the object */
  POINTER_EXTERNAL,  /* to a symbol of another object: unknown until loaded */
  POINTER_BAD,       /* the field is not in the file */
} PointerKind;

/* What the pointer-sized field at virtual address @field holds once
 * relocated. */
static PointerKind
read_pointer (const Elf *elf,
              guint64    field,
              guint64   *target)
{
  ElfW(Addr) in_place = 0;

  *target = 0;
  for (guint i = 0; elf->shdrs != NULL && i < elf->ehdr->e_shnum; i++)
    {
      const ElfW(Shdr) *sh = &elf->shdrs[i];
      const guint8 *relas;
      gsize n;

      if (sh->sh_type != SHT_RELA || sh->sh_entsize != sizeof (ElfW(Rela)) ||
          !in_bounds (sh->sh_offset, sh->sh_size, elf->size))
        continue;
      relas = elf->data + sh->sh_offset;
      n = sh->sh_size / sizeof (ElfW(Rela));
      for (gsize r = 0; r < n; r++)
        {
          ElfW(Rela) rela;
          long type;
          gsize sym;

          memcpy (&rela, relas + r * sizeof (ElfW(Rela)), sizeof rela);
          if (rela.r_offset != field)
            continue;
          type = (long) ELF_R_TYPE (rela.r_info);
          sym = ELF_R_SYM (rela.r_info);
          if (type == RELOC_RELATIVE)
            {
              *target = (guint64) rela.r_addend;
              return *target != 0 ? POINTER_LOCAL : POINTER_NULL;
            }
          if (type == RELOC_ABS || type == RELOC_GLOB_DAT)
            {
              ElfW(Sym) s;

              if (sym == 0 || sym >= elf->n_syms)
                return POINTER_BAD;
              memcpy (&s, &elf->syms[sym], sizeof s);
              if (s.st_shndx == SHN_UNDEF)
                return POINTER_EXTERNAL;
              *target = (guint64) s.st_value + (guint64) rela.r_addend;
              return POINTER_LOCAL;
            }
          return POINTER_EXTERNAL;  /* a relocation this reader does not know */
        }
    }
  if (!read_vaddr (elf, field, &in_place, sizeof in_place))
    return POINTER_BAD;
  *target = in_place;
  return in_place != 0 ? POINTER_LOCAL : POINTER_NULL;
}

/* A string field of the descriptor or of a key: NULL stays NULL. */
static gboolean
read_string_field (const Elf   *elf,
                   guint64      field,
                   const char  *what,
                   char       **out,
                   GError     **error)
{
  guint64 target;

  *out = NULL;
  switch (read_pointer (elf, field, &target))
    {
    case POINTER_NULL:
      return TRUE;
    case POINTER_LOCAL:
      *out = read_string (elf, target);
      if (*out != NULL)
        return TRUE;
      break;
    case POINTER_EXTERNAL:
    case POINTER_BAD:
    default:
      break;
    }
  g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_NO_DESCRIPTOR,
               "%s: the descriptor is malformed (its %s cannot be read from the file)",
               elf->file, what);
  return FALSE;
}

/* A function a process calls once for good (see once_per_process). */
static gboolean
is_once_per_process (const char *name)
{
  return g_str_equal (name, "g_log_set_writer_func") ||
         g_str_has_prefix (name, "g_type_register_") ||
         g_str_has_prefix (name, "g_type_module_") ||
         g_str_equal (name, "g_type_add_interface_static") ||
         (g_str_has_prefix (name, "g_") && g_str_has_suffix (name, "_register_static"));
}

static gboolean
parse_headers (Elf     *elf,
               GError **error)
{
  ElfW(Half) shnum;

  if (elf->size < EI_NIDENT || memcmp (elf->data, ELFMAG, SELFMAG) != 0)
    return malformed (error, elf, "not an ELF file");
  if (elf->data[EI_CLASS] != HOST_CLASS || elf->data[EI_DATA] != HOST_DATA)
    return malformed (error, elf, "an ELF file for another architecture");
  if (elf->size < sizeof (ElfW(Ehdr)))
    return malformed (error, elf, "an incomplete ELF file");
  /* The buffer may be unaligned for ElfW types: the header is copied, the
   * tables are read through memcpy or from an aligned buffer (see
   * _orrery_plugin_elf_read()). */
  elf->ehdr = (const ElfW(Ehdr) *) elf->data;
  if (HOST_MACHINE != EM_NONE && elf->ehdr->e_machine != HOST_MACHINE)
    return malformed (error, elf, "an ELF file for another architecture");
  if (elf->ehdr->e_type != ET_DYN)
    return malformed (error, elf, "an ELF file but not a shared object");
  if (elf->ehdr->e_phentsize != sizeof (ElfW(Phdr)) || elf->ehdr->e_phnum == 0 ||
      !in_bounds (elf->ehdr->e_phoff, (guint64) elf->ehdr->e_phnum * sizeof (ElfW(Phdr)),
                  elf->size) ||
      elf->ehdr->e_phoff % sizeof (gpointer) != 0)
    {
      g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_NOT_SHARED_OBJECT,
                   "%s: an incomplete ELF file (%" G_GSIZE_FORMAT " bytes, program headers "
                   "missing)", elf->file, elf->size);
      return FALSE;
    }
  elf->phdrs = (const ElfW(Phdr) *) (elf->data + elf->ehdr->e_phoff);

  /* The section headers come last in the file: without them the file is
   * still being written or was stripped beyond what this reader handles. */
  shnum = elf->ehdr->e_shnum;
  if (elf->ehdr->e_shoff == 0 || shnum == 0)
    {
      g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_NOT_SHARED_OBJECT,
                   "%s: an ELF file without section headers: its descriptor cannot be read "
                   "without running its code", elf->file);
      return FALSE;
    }
  if (elf->ehdr->e_shentsize != sizeof (ElfW(Shdr)) ||
      !in_bounds (elf->ehdr->e_shoff, (guint64) shnum * sizeof (ElfW(Shdr)), elf->size) ||
      elf->ehdr->e_shoff % sizeof (gpointer) != 0)
    {
      g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_NOT_SHARED_OBJECT,
                   "%s: an incomplete ELF file (%" G_GSIZE_FORMAT " bytes)", elf->file,
                   elf->size);
      return FALSE;
    }
  elf->shdrs = (const ElfW(Shdr) *) (elf->data + elf->ehdr->e_shoff);

  for (guint i = 0; i < shnum; i++)
    {
      const ElfW(Shdr) *sh = &elf->shdrs[i];
      const ElfW(Shdr) *str;

      if (sh->sh_type != SHT_DYNSYM)
        continue;
      if (sh->sh_entsize != sizeof (ElfW(Sym)) || sh->sh_link >= shnum ||
          !in_bounds (sh->sh_offset, sh->sh_size, elf->size) ||
          sh->sh_offset % sizeof (gpointer) != 0)
        return malformed (error, elf, "a malformed dynamic symbol table");
      str = &elf->shdrs[sh->sh_link];
      if (str->sh_type != SHT_STRTAB || !in_bounds (str->sh_offset, str->sh_size, elf->size))
        return malformed (error, elf, "a malformed dynamic string table");
      elf->syms = (const ElfW(Sym) *) (elf->data + sh->sh_offset);
      elf->n_syms = sh->sh_size / sizeof (ElfW(Sym));
      elf->strtab = (const char *) elf->data + str->sh_offset;
      elf->strtab_size = str->sh_size;
      break;
    }
  return TRUE;
}

/* The name of symbol @sym, or NULL. */
static const char *
symbol_name (const Elf       *elf,
             const ElfW(Sym) *sym)
{
  const char *name;

  if (sym->st_name >= elf->strtab_size)
    return NULL;
  name = elf->strtab + sym->st_name;
  if (strnlen (name, elf->strtab_size - sym->st_name) == elf->strtab_size - sym->st_name)
    return NULL;
  return name;
}

void
_orrery_plugin_elf_info_free (OrreryPluginElfInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->name);
  g_free (info->version);
  g_free (info->description);
  for (guint i = 0; info->keys != NULL && i < info->n_keys; i++)
    {
      g_free ((char *) info->keys[i].name);
      g_free ((char *) info->keys[i].default_value);
      g_free ((char *) info->keys[i].description);
    }
  g_free (info->keys);
  g_strfreev (info->device_kinds);
  g_free (info);
}

static gboolean
read_keys (const Elf            *elf,
           guint64               table,
           OrreryPluginElfInfo  *info,
           GError              **error)
{
  GArray *keys = g_array_new (TRUE, TRUE, sizeof (OrreryPluginKey));
  gboolean ok = FALSE;

  for (guint i = 0; ; i++)
    {
      guint64 at = table + (guint64) i * sizeof (OrreryPluginKey);
      OrreryPluginKey key = { NULL };
      char *name = NULL, *def = NULL, *desc = NULL;
      guint32 type;

      if (i >= MAX_KEYS)
        {
          g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_NO_DESCRIPTOR,
                       "%s: the descriptor is malformed (more than %d keys, or a key table "
                       "without its end)", elf->file, MAX_KEYS);
          goto out;
        }
      if (!read_string_field (elf, at + G_STRUCT_OFFSET (OrreryPluginKey, name), "key name",
                              &name, error))
        goto out;
      if (name == NULL)
        break;
      if (!read_vaddr (elf, at + G_STRUCT_OFFSET (OrreryPluginKey, type), &type, sizeof type) ||
          !read_string_field (elf, at + G_STRUCT_OFFSET (OrreryPluginKey, default_value),
                              "key default", &def, error) ||
          !read_string_field (elf, at + G_STRUCT_OFFSET (OrreryPluginKey, description),
                              "key description", &desc, error))
        {
          if (error != NULL && *error == NULL)
            g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_NO_DESCRIPTOR,
                         "%s: the descriptor is malformed (key “%s”)", elf->file, name);
          g_free (name);
          g_free (def);
          g_free (desc);
          goto out;
        }
      key.name = name;
      key.type = type;
      key.default_value = def;
      key.description = desc;
      g_array_append_val (keys, key);
    }
  ok = TRUE;

out:
  info->n_keys = keys->len;
  info->keys = (OrreryPluginKey *) (gpointer) g_array_free (keys, FALSE);
  return ok;
}

/* The descriptor's device kinds: a NULL-terminated array of strings, each
 * a valid kind name (as orrery_device_manager_register_kind() wants). */
static gboolean
read_device_kinds (const Elf            *elf,
                   guint64               table,
                   OrreryPluginElfInfo  *info,
                   GError              **error)
{
  g_autoptr(GPtrArray) kinds = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; ; i++)
    {
      char *kind = NULL;

      if (i >= MAX_DEVICE_KINDS)
        {
          g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_NO_DESCRIPTOR,
                       "%s: the descriptor is malformed (more than %d device kinds, or a list "
                       "without its end)", elf->file, MAX_DEVICE_KINDS);
          return FALSE;
        }
      if (!read_string_field (elf, table + (guint64) i * sizeof (gpointer), "device kind",
                              &kind, error))
        return FALSE;
      if (kind == NULL)
        break;
      g_ptr_array_add (kinds, kind);
      if (strlen (kind) > 64 || !_orrery_plugin_name_is_valid (kind))
        {
          g_autofree char *shown = orrery_escape_for_terminal (kind, -1);

          g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_NO_DESCRIPTOR,
                       "%s: the descriptor is malformed (“%s” is not a device kind name: letters, digits, -, _ and ., at most 64)",
                       elf->file, shown);
          return FALSE;
        }
    }
  if (kinds->len > 0)
    {
      g_ptr_array_add (kinds, NULL);
      info->device_kinds = (char **) g_ptr_array_free (g_steal_pointer (&kinds), FALSE);
    }
  return TRUE;
}

static OrreryPluginElfInfo *
read_aligned (const guint8  *data,
              gsize          size,
              const char    *file,
              GError       **error)
{
  Elf elf = { data, size, file, NULL };
  g_autoptr(GError) local_error = NULL;
  OrreryPluginElfInfo *info;
  const ElfW(Sym) *desc_sym = NULL;
  OrreryPluginDescriptor raw;
  guint64 base, target;
  const gsize fixed = G_STRUCT_OFFSET (OrreryPluginDescriptor, reserved);

  if (!parse_headers (&elf, error))
    return NULL;

  info = g_new0 (OrreryPluginElfInfo, 1);
  for (gsize s = 1; s < elf.n_syms; s++)
    {
      const ElfW(Sym) *sym = &elf.syms[s];
      const char *name = symbol_name (&elf, sym);

      if (name == NULL)
        continue;
      if (sym->st_shndx == SHN_UNDEF)
        {
          if (is_once_per_process (name))
            info->once_per_process = TRUE;
          continue;
        }
      if (desc_sym == NULL && ELF_ST_BIND (sym->st_info) != STB_LOCAL &&
          strcmp (name, ORRERY_PLUGIN_SYMBOL) == 0)
        desc_sym = sym;
    }
  if (desc_sym == NULL)
    {
      g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_NO_DESCRIPTOR,
                   "%s: a shared object without the “%s” symbol: not an Orrery plugin",
                   file, ORRERY_PLUGIN_SYMBOL);
      goto fail;
    }

  /* The fixed part first: the ABI numbers decide how to read the rest. */
  base = desc_sym->st_value;
  memset (&raw, 0, sizeof raw);
  if (!read_vaddr (&elf, base, &raw, 2 * sizeof (guint32)))
    {
      g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_NOT_SHARED_OBJECT,
                   "%s: the descriptor lies outside the file", file);
      goto fail;
    }
  info->abi_major = raw.abi_major;
  info->abi_minor = raw.abi_minor;
  if (raw.abi_major != ORRERY_PLUGIN_ABI_MAJOR || raw.abi_minor > ORRERY_PLUGIN_ABI_MINOR)
    {
      g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_ABI_MISMATCH,
                   "%s: built for plugin ABI %u.%u, this SDK has %d.%d (the major must be "
                   "equal, the minor not newer)", file, raw.abi_major, raw.abi_minor,
                   ORRERY_PLUGIN_ABI_MAJOR, ORRERY_PLUGIN_ABI_MINOR);
      goto fail;
    }
  if (desc_sym->st_size < fixed || !read_vaddr (&elf, base, &raw, fixed))
    {
      g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_NO_DESCRIPTOR,
                   "%s: the descriptor is malformed (%" G_GUINT64_FORMAT " bytes)", file,
                   (guint64) desc_sym->st_size);
      goto fail;
    }
  info->struct_size = raw.struct_size;
  info->flags = raw.flags;
  if (raw.struct_size < fixed)
    {
      g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_NO_DESCRIPTOR,
                   "%s: the descriptor is malformed (size %u)", file, raw.struct_size);
      goto fail;
    }

  if (!read_string_field (&elf, base + G_STRUCT_OFFSET (OrreryPluginDescriptor, name),
                          "name", &info->name, error) ||
      !read_string_field (&elf, base + G_STRUCT_OFFSET (OrreryPluginDescriptor, version),
                          "version", &info->version, error) ||
      !read_string_field (&elf, base + G_STRUCT_OFFSET (OrreryPluginDescriptor, description),
                          "description", &info->description, error))
    goto fail;

  switch (read_pointer (&elf, base + G_STRUCT_OFFSET (OrreryPluginDescriptor, init), &target))
    {
    case POINTER_LOCAL:
      if (!is_code (&elf, target))
        {
          g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_NO_DESCRIPTOR,
                       "%s: the descriptor is malformed (init points outside the plugin's "
                       "code)", file);
          goto fail;
        }
      info->has_init = TRUE;
      break;
    case POINTER_EXTERNAL:
      info->has_init = TRUE;
      break;
    case POINTER_NULL:
    case POINTER_BAD:
    default:
      g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_NO_DESCRIPTOR,
                   "%s: the descriptor is malformed (size %u, init missing)", file,
                   raw.struct_size);
      goto fail;
    }
  info->has_shutdown =
    read_pointer (&elf, base + G_STRUCT_OFFSET (OrreryPluginDescriptor, shutdown), &target) !=
    POINTER_NULL;

  switch (read_pointer (&elf, base + G_STRUCT_OFFSET (OrreryPluginDescriptor, keys), &target))
    {
    case POINTER_NULL:
      break;
    case POINTER_LOCAL:
      if (!read_keys (&elf, target, info, &local_error))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          goto fail;
        }
      break;
    case POINTER_EXTERNAL:
    case POINTER_BAD:
    default:
      g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_NO_DESCRIPTOR,
                   "%s: the descriptor is malformed (its keys cannot be read from the file)",
                   file);
      goto fail;
    }

  /* Device kinds: since ABI 1.1, in what was reserved space before. */
  if (info->abi_minor >= 1)
    switch (read_pointer (&elf, base + G_STRUCT_OFFSET (OrreryPluginDescriptor, device_kinds),
                          &target))
      {
      case POINTER_NULL:
        break;
      case POINTER_LOCAL:
        if (!read_device_kinds (&elf, target, info, error))
          goto fail;
        break;
      case POINTER_EXTERNAL:
      case POINTER_BAD:
      default:
        g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_NO_DESCRIPTOR,
                     "%s: the descriptor is malformed (its device kinds cannot be read from "
                     "the file)", file);
        goto fail;
      }

  /* A view in the layout of the real descriptor, for the checks of the
   * configuration; it has no code. */
  info->descriptor.abi_major = info->abi_major;
  info->descriptor.abi_minor = info->abi_minor;
  info->descriptor.struct_size = info->struct_size;
  info->descriptor.flags = info->flags;
  info->descriptor.name = info->name;
  info->descriptor.version = info->version;
  info->descriptor.description = info->description;
  info->descriptor.keys = info->keys;
  info->descriptor.device_kinds = (const char * const *) info->device_kinds;
  return info;

fail:
  _orrery_plugin_elf_info_free (info);
  return NULL;
}

OrreryPluginElfInfo *
_orrery_plugin_elf_read (const guint8  *data,
                         gsize          size,
                         const char    *file,
                         GError       **error)
{
  OrreryPluginElfInfo *info;
  guint8 *copy = NULL;

  g_return_val_if_fail (data != NULL || size == 0, NULL);
  g_return_val_if_fail (file != NULL, NULL);

  /* The tables are read in place as ElfW structures: they need the
   * alignment the loader gives them. */
  if (((guintptr) data) % sizeof (gpointer) != 0)
    data = copy = g_memdup2 (data, size);
  if (data == NULL)
    data = (const guint8 *) "";
  info = read_aligned (data, size, file, error);
  g_free (copy);
  return info;
}

/* ------------------------------------------------------------------------ */
/* The plugin's name */

char *
_orrery_plugin_name_from_file (const char *file)
{
  g_autofree char *base = g_path_get_basename (file);
  const char *start = base;

  if (g_str_has_prefix (start, "lib") && strlen (start) > 6)
    start += 3;
  return g_strndup (start, strlen (start) - 3);
}

gboolean
_orrery_plugin_name_is_valid (const char *name)
{
  if (name == NULL || *name == '\0')
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_' && *p != '.')
      return FALSE;
  return TRUE;
}
