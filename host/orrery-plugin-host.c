/* orrery-plugin-host.c: runs one plugin in a process of its own for the
 * host (`[Plugin NAME] Isolation=process`). Started by the SDK with its
 * socket and the plugin's checked private copy as descriptors 3 and 4;
 * not meant to be run by hand.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <orrery.h>

int _orrery_plugin_host_main (int argc, char **argv);

int
main (int    argc,
      char **argv)
{
  return _orrery_plugin_host_main (argc, argv);
}
