/* fuzz-common.h: what the libFuzzer targets share.
 *
 * Each target is one fuzz-NAME.c defining LLVMFuzzerTestOneInput(), listed
 * in tests/fuzz/meson.build and seeded from tests/fuzz/corpus/NAME/. A
 * GLib critical or warning is a finding: the process aborts and libFuzzer
 * keeps the input.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stdint.h>
#include <stdlib.h>
#include <orrery.h>

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static GLogWriterOutput
fuzz_log_writer (GLogLevelFlags   log_level,
                 const GLogField *fields,
                 gsize            n_fields,
                 gpointer         user_data)
{
  if (log_level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    {
      g_log_writer_standard_streams (log_level, fields, n_fields, user_data);
      abort ();
    }
  return G_LOG_WRITER_HANDLED;  /* debug, info and messages: quiet */
}

static inline void
fuzz_init_glib (void)
{
  g_log_set_writer_func (fuzz_log_writer, NULL, NULL);
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
}

/* Stops the target when an invariant breaks: libFuzzer keeps the input. */
#define FUZZ_CHECK(cond, ...) \
  G_STMT_START { if (!(cond)) { g_printerr ("fuzz: %s: ", #cond); g_printerr (__VA_ARGS__); \
                                g_printerr ("\n"); abort (); } } G_STMT_END
