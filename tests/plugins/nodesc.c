/* nodesc.c: a fixture shared object without the plugin descriptor.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib.h>

__attribute__((visibility ("default"))) int nodesc_answer (void);

int
nodesc_answer (void)
{
  return 42;
}
