/* faulty.c: a fixture plugin that fails the way it is told to, for the
 * isolation tests (`Isolation=process`).
 *
 * Mode=none|segv|abort-init|hang-init|block|exit|garbage|oversize: on the
 * AtEvent-th event it receives (1-based, default 3) it dereferences NULL
 * (segv), blocks forever (block), calls _exit(0) (exit), writes garbage on
 * descriptor 3, the helper's socket (garbage), or a frame header claiming
 * 64 MiB (oversize); abort-init aborts in init, hang-init never returns
 * from init. Before that it appends "SEQUENCE NICK" per event to Output.
 * Delivery=queued makes its observer queued (the engine's own key).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <orrery.h>

typedef struct
{
  char    *mode;
  char    *output;
  guint64  at;
  guint64  seen;
} Faulty;

static void
faulty_free (gpointer data)
{
  Faulty *f = data;

  g_free (f->mode);
  g_free (f->output);
  g_free (f);
}

/* A real SIGSEGV, also in the sanitizer build: UBSan would report the
 * store through a null pointer and exit instead. */
#if defined(__clang__)
#define FAULTY_NO_UBSAN __attribute__ ((no_sanitize ("undefined")))
#else
#define FAULTY_NO_UBSAN __attribute__ ((no_sanitize_undefined))
#endif

FAULTY_NO_UBSAN static void
crash_now (void)
{
  /* Read through a volatile pointer: the compiler cannot see it is NULL. */
  static volatile int *volatile target = NULL;

  signal (SIGSEGV, SIG_DFL);  /* a real crash, also under ASan */
  *target = 42;
}

static gboolean
faulty_handle (OrreryEvent  *event,
               gpointer      user_data,
               GError      **error)
{
  Faulty *f = user_data;

  if (++f->seen == f->at)
    {
      if (g_str_equal (f->mode, "segv"))
        {
          crash_now ();
        }
      else if (g_str_equal (f->mode, "block"))
        for (;;)
          pause ();
      else if (g_str_equal (f->mode, "exit"))
        _exit (0);  /* as exit(0), without LeakSanitizer's exit status under ASan */
      else if (g_str_equal (f->mode, "garbage"))
        {
          static const char junk[] = "\x05\x00\x00\x00GET / HTTP/1.0\r\n\r\nnot a frame at all";

          if (write (3, junk, sizeof junk) < 0)
            return FALSE;
        }
      else if (g_str_equal (f->mode, "oversize"))
        {
          guint32 header[4] = { 64u << 20, 18, 0, 0 };

          if (write (3, header, sizeof header) < 0)
            return FALSE;
        }
    }
  if (f->output != NULL)
    {
      FILE *out = fopen (f->output, "a");

      if (out == NULL)
        return FALSE;
      fprintf (out, "%" G_GUINT64_FORMAT " %s\n", orrery_event_get_sequence (event),
               orrery_event_get_type_nick (event));
      fclose (out);
    }
  return TRUE;
}

static gboolean
faulty_init (OrreryPluginContext  *context,
             GError              **error)
{
  Faulty *f = g_new0 (Faulty, 1);
  g_autoptr(OrreryObserver) observer = NULL;

  f->mode = orrery_plugin_context_get_string (context, "Mode", "none");
  f->output = orrery_plugin_context_get_string (context, "Output", NULL);
  f->at = orrery_plugin_context_get_uint (context, "AtEvent", 3, NULL);
  orrery_plugin_context_set_data (context, f, faulty_free);
  if (g_str_equal (f->mode, "abort-init"))
    abort ();
  if (g_str_equal (f->mode, "hang-init"))
    for (;;)
      pause ();
  observer = orrery_func_observer_new ("faulty", faulty_handle, f, NULL);
  orrery_plugin_context_add_observer (context, observer, NULL, 0, ORRERY_DELIVERY_SYNC, 0, 0);
  return TRUE;
}

static const OrreryPluginKey faulty_keys[] = {
  { "Mode", ORRERY_PLUGIN_KEY_STRING, "none", "how to fail" },
  { "AtEvent", ORRERY_PLUGIN_KEY_UINT, "3", "on which event (1-based)" },
  { "Output", ORRERY_PLUGIN_KEY_STRING, NULL, "a file to append each event to" },
  { NULL }
};

ORRERY_PLUGIN_DEFINE ("faulty", "1.0", "Fails the way it is told to", faulty_init, NULL,
                      faulty_keys)
