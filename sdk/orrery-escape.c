/* orrery-escape.c: printing user data safely.
 *
 * Ids, names, commands and outputs come from files that anyone may have
 * written. Printed raw, an escape sequence in a task name rewrites the
 * terminal (OSC 52 sets the clipboard, CSI moves the cursor) and a newline
 * in a task id forges a log line. Everything Orrery prints that comes from
 * user data goes through one of the functions below.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "orrery-private.h"

#include <string.h>

/* Characters that are printed as escapes: C0 controls and DEL, C1 controls
 * (U+0080 to U+009F: 8-bit CSI and OSC), the bidirectional overrides and
 * isolates (text that reads differently from what it is), and the line and
 * paragraph separators. The backslash is escaped too, so that an escape in
 * the output always means a character that was escaped. */
static gboolean
needs_escape (gunichar c)
{
  return c < 0x20 || c == 0x7f || c == '\\' ||
         (c >= 0x80 && c <= 0x9f) ||
         (c >= 0x202a && c <= 0x202e) ||
         (c >= 0x2066 && c <= 0x2069) ||
         c == 0x2028 || c == 0x2029 || c == 0x200e || c == 0x200f ||
         c == 0x061c;
}

static void
append_escape (GString *out,
               gunichar c)
{
  switch (c)
    {
    case '\n': g_string_append (out, "\\n"); break;
    case '\r': g_string_append (out, "\\r"); break;
    case '\t': g_string_append (out, "\\t"); break;
    case '\\': g_string_append (out, "\\\\"); break;
    case 0x1b: g_string_append (out, "\\e"); break;
    default:
      if (c < 0x80)
        g_string_append_printf (out, "\\x%02x", c);
      else
        g_string_append_printf (out, "\\u{%04x}", c);
    }
}

/**
 * orrery_text_is_terminal_safe:
 * @text: (nullable): text, in any encoding
 * @length: its length in bytes, or -1 if it ends with a NUL
 *
 * Whether @text can be printed as it is: valid UTF-8 with none of the
 * characters that orrery_string_append_escaped() escapes. Lets a hot path
 * skip the copy.
 *
 * Returns: whether @text is safe to print unchanged
 */
gboolean
orrery_text_is_terminal_safe (const char *text,
                              gssize      length)
{
  const char *p, *end;

  if (text == NULL)
    return TRUE;
  if (length < 0)
    length = strlen (text);
  end = text + length;
  for (p = text; p < end; p++)
    {
      guchar b = (guchar) *p;

      if (b < 0x80)
        {
          if (needs_escape (b))
            return FALSE;
          continue;
        }
      /* Multibyte: check it in full on the slow path. */
      {
        gunichar c = g_utf8_get_char_validated (p, end - p);

        if (c == (gunichar) -1 || c == (gunichar) -2 || needs_escape (c))
          return FALSE;
        p = g_utf8_next_char (p) - 1;
      }
    }
  return TRUE;
}

/**
 * orrery_string_append_escaped:
 * @string: the string to append to
 * @text: (nullable): text, in any encoding
 * @length: its length in bytes, or -1 if it ends with a NUL
 *
 * Appends @text to @string with every control character (C0, DEL, C1), the
 * backslash, the bidirectional controls and the line separators written as
 * escapes (`\n`, `\e`, `\x07`, `\u{202e}`), and every byte that is not part
 * of valid UTF-8 as `\xHH`. The result is valid UTF-8 that a terminal shows
 * as it is, on one line. A %NULL @text appends nothing.
 */
void
orrery_string_append_escaped (GString    *string,
                              const char *text,
                              gssize      length)
{
  const char *p, *end, *run;

  g_return_if_fail (string != NULL);

  if (text == NULL)
    return;
  if (length < 0)
    length = strlen (text);
  end = text + length;
  run = text;
  for (p = text; p < end;)
    {
      guchar b = (guchar) *p;
      gunichar c;
      const char *next;

      if (b < 0x80)
        {
          c = b;
          next = p + 1;
        }
      else
        {
          c = g_utf8_get_char_validated (p, end - p);
          if (c == (gunichar) -1 || c == (gunichar) -2)
            {
              g_string_append_len (string, run, p - run);
              g_string_append_printf (string, "\\x%02x", b);
              p++;
              run = p;
              continue;
            }
          next = g_utf8_next_char (p);
        }
      if (needs_escape (c))
        {
          g_string_append_len (string, run, p - run);
          append_escape (string, c);
          run = next;
        }
      p = next;
    }
  g_string_append_len (string, run, end - run);
}

/**
 * orrery_escape_for_terminal:
 * @text: (nullable): text, in any encoding
 * @length: its length in bytes, or -1 if it ends with a NUL
 *
 * A copy of @text that is safe to print: see orrery_string_append_escaped().
 *
 * Returns: (transfer full): the escaped text (empty for %NULL)
 */
char *
orrery_escape_for_terminal (const char *text,
                            gssize      length)
{
  GString *out;

  if (text == NULL)
    return g_strdup ("");
  if (length < 0)
    length = strlen (text);
  if (orrery_text_is_terminal_safe (text, length))
    return g_strndup (text, length);
  out = g_string_sized_new (length + 16);
  orrery_string_append_escaped (out, text, length);
  return g_string_free (out, FALSE);
}

#define FILENAME_MAX_STEM 96

/**
 * orrery_escape_for_filename:
 * @text: (nullable): an id or a name, in any encoding
 *
 * A file name made from @text that is safe in any directory: only ASCII
 * letters, digits, `-`, `_` and `.`; never empty, never `.` or `..`, never
 * starting with `.` or `-`; at most a little over 100 bytes. When @text had
 * to be changed, a hash of the original is appended (`a_b-6f1c2d3e`), so two
 * different ids never share a file name (`a/b` and `a_b` differ).
 *
 * Returns: (transfer full): the file name
 */
char *
orrery_escape_for_filename (const char *text)
{
  GString *out = g_string_new (NULL);
  gboolean changed = FALSE;
  const char *p;

  if (text == NULL || *text == '\0')
    {
      text = "";
      changed = TRUE;
    }
  for (p = text; *p; p++)
    {
      char c = *p;
      gboolean ok = g_ascii_isalnum (c) || c == '_' || c == '.' || c == '-';

      if (out->len == 0 && (c == '.' || c == '-'))
        ok = FALSE;
      if (out->len >= FILENAME_MAX_STEM)
        {
          changed = TRUE;
          break;
        }
      g_string_append_c (out, ok ? c : '_');
      if (!ok)
        changed = TRUE;
    }
  if (changed)
    {
      /* FNV-1a over the whole original: 32 bits tell apart the ids of one
       * constellation; the readable stem does the rest. */
      guint32 h = 2166136261u;

      for (p = text; *p; p++)
        h = (h ^ (guchar) *p) * 16777619u;
      g_string_append_printf (out, "%s%08x", out->len ? "-" : "_", h);
    }
  return g_string_free (out, FALSE);
}

/**
 * orrery_log_writer_escaped: (skip)
 * @log_level: the level of the message
 * @fields: (array length=n_fields): the fields of the message
 * @n_fields: the number of fields
 * @user_data: unused
 *
 * A #GLogWriterFunc that escapes the `MESSAGE` field as
 * orrery_string_append_escaped() does, then hands the message to
 * g_log_writer_default(). Messages carry ids and names from user files; with
 * this writer a task id holding a newline or an escape sequence cannot forge
 * a log line or drive the terminal. Install it with g_log_set_writer_func();
 * the `orrery` program does.
 *
 * Returns: what g_log_writer_default() returns
 */
GLogWriterOutput
orrery_log_writer_escaped (GLogLevelFlags   log_level,
                           const GLogField *fields,
                           gsize            n_fields,
                           gpointer         user_data)
{
  g_autofree GLogField *copy = NULL;
  g_autoptr(GString) message = NULL;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_strcmp0 (fields[i].key, "MESSAGE") != 0 || fields[i].value == NULL)
        continue;
      if (orrery_text_is_terminal_safe (fields[i].value, fields[i].length))
        break;
      message = g_string_new (NULL);
      orrery_string_append_escaped (message, fields[i].value, fields[i].length);
      copy = g_memdup2 (fields, sizeof (GLogField) * n_fields);
      copy[i].value = message->str;
      copy[i].length = -1;
      break;
    }
  return g_log_writer_default (log_level, copy ? copy : fields, n_fields, user_data);
}
