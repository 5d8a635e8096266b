/* fixture-util.h: helpers of the plugin tests and benchmark.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <orrery.h>

G_BEGIN_DECLS

/* The built fixture NAME.so (or NAME.conf with ext ".conf"). */
char   *fixture_path      (const char     *name,
                           const char     *ext);
/* A new private (0700) temporary directory. */
char   *fixture_tmpdir    (void);
/* Copies fixture NAME into DIR as AS (or NAME.so), mode 0755. */
char   *fixture_install   (const char     *dir,
                           const char     *name,
                           const char     *as);
/* Copies SRC to DEST with MODE. */
void    fixture_copy      (const char     *src,
                           const char     *dest,
                           int             mode);
void    fixture_rmrf      (const char     *dir);
gsize   fixture_count     (OrreryEventBus *bus,
                           const char     *key);
void    fixture_publish   (OrreryEventBus *bus,
                           OrreryEventType type,
                           guint           n);
/* Runs the default main context until COND or a timeout (ms): whether COND held. */
gboolean fixture_wait     (gboolean      (*cond) (gpointer),
                           gpointer        data,
                           guint           timeout_ms);

G_END_DECLS
