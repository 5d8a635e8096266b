/* orrery-plugin-info-private.h: the fields of an OrreryPluginInfo, which
 * only the plugin engine writes. Not installed.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "orrery-private.h"

G_BEGIN_DECLS

struct _OrreryPluginInfo
{
  GObject            parent_instance;

  char              *name;
  char              *version;
  char              *description;
  char              *file;
  OrreryPluginState  state;
  GError            *error;
  /* From the descriptor read from the file (no code run). */
  gboolean           has_descriptor;
  guint              abi_major;
  guint              abi_minor;
  OrreryPluginKey   *keys;          /* nullable, ends with a NULL name */
  guint              n_keys;
  char             **device_kinds;  /* nullable */
};

ORRERY_HIDDEN OrreryPluginInfo *_orrery_plugin_info_new          (const char        *file);
ORRERY_HIDDEN void              _orrery_plugin_info_set_metadata (OrreryPluginInfo  *self,
                                                                  const char        *name,
                                                                  const char        *version,
                                                                  const char        *description);
/* Copies the ABI version, the declared keys and the device kinds of the
 * descriptor read from the file. */
ORRERY_HIDDEN void              _orrery_plugin_info_set_descriptor (OrreryPluginInfo      *self,
                                                                    guint                  abi_major,
                                                                    guint                  abi_minor,
                                                                    const OrreryPluginKey *keys,
                                                                    guint                  n_keys,
                                                                    const char * const    *device_kinds);
ORRERY_HIDDEN void              _orrery_plugin_info_set_state    (OrreryPluginInfo  *self,
                                                                  OrreryPluginState  state,
                                                                  const GError      *error);

G_END_DECLS
