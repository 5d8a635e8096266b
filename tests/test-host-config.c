/* test-host-config.c: what `orrery run` builds from the host configuration,
 * through the SDK: the device kinds (built-in, a script's, a plugin's),
 * orrery_device_manager_load_config() and orrery_orchestrator_apply_config(),
 * with errors naming the file each value came from, the group and the key.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <orrery.h>

#include "plugins/fixture-util.h"

static OrreryConfig *
config_from (const char *text,
             const char *origin)
{
  OrreryConfig *config = orrery_config_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (orrery_config_load_data (config, text, origin, &error));
  g_assert_no_error (error);
  return config;
}

/* A kind whose factory counts its calls and its data's destruction. */
typedef struct
{
  guint built;
  guint destroyed;
  char *wrong_id;      /* builds a device of this id instead */
  gboolean no_device;  /* returns NULL without an error */
} Counter;

static OrreryDevice *
counting_factory (OrreryConfig  *config,
                  const char    *group,
                  const char    *id,
                  gpointer       user_data,
                  GError       **error)
{
  Counter *c = user_data;
  GError *local_error = NULL;
  guint64 slots = orrery_device_kind_get_count (config, group, "Slots", 1, 64, 3, &local_error);

  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return NULL;
    }
  c->built++;
  if (c->no_device)
    return NULL;
  return ORRERY_DEVICE (orrery_simulated_device_new (c->wrong_id ? c->wrong_id : id, "counted",
                                                     (guint) slots));
}

static void
counter_destroyed (gpointer data)
{
  ((Counter *) data)->destroyed++;
}

static void
test_builtin_kinds (void)
{
  g_autoptr(OrreryDeviceManager) manager = orrery_device_manager_new ();
  g_auto(GStrv) kinds = orrery_device_manager_get_kinds (manager);
  g_autoptr(OrreryConfig) config = config_from ("[Device s]\nType=SIMULATED\n[Device l]\n", "a.conf");
  g_autoptr(GError) error = NULL;

  g_assert_cmpstrv (kinds, ((const char *[]) { "local", "simulated", NULL }));
  g_assert_true (orrery_device_manager_has_kind (manager, "Local"));
  g_assert_false (orrery_device_manager_has_kind (manager, "redis"));

  g_assert_true (orrery_device_manager_load_config (manager, config, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (orrery_device_manager_get_n_devices (manager), ==, 2);
  g_assert_true (ORRERY_IS_SIMULATED_DEVICE (orrery_device_manager_get_device (manager, "s")));
  /* An empty group is a local device of that name, as in a keyfile. */
  g_assert_true (ORRERY_IS_LOCAL_DEVICE (orrery_device_manager_get_device (manager, "l")));
}

static void
test_register_kind (void)
{
  g_autoptr(OrreryDeviceManager) manager = orrery_device_manager_new ();
  g_autoptr(OrreryConfig) config = config_from ("[Device pool]\nType=Counted\nSlots=5\n"
                                                "Capabilities=gpu\n", "kinds.conf");
  g_autoptr(GError) error = NULL;
  Counter c = { 0 }, other = { 0 };
  g_auto(GStrv) kinds = NULL;
  OrreryDevice *device;

  g_assert_true (orrery_device_manager_register_kind (manager, "counted", counting_factory, &c,
                                                      counter_destroyed, &error));
  g_assert_no_error (error);
  kinds = orrery_device_manager_get_kinds (manager);
  g_assert_cmpstrv (kinds, ((const char *[]) { "counted", "local", "simulated", NULL }));

  /* A name is taken once, in any case; the refused data is freed. */
  g_assert_false (orrery_device_manager_register_kind (manager, "COUNTED", counting_factory,
                                                       &other, counter_destroyed, &error));
  g_assert_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_DUPLICATE_KIND);
  g_assert_cmpuint (other.destroyed, ==, 1);
  g_clear_error (&error);
  g_assert_false (orrery_device_manager_register_kind (manager, "local", counting_factory,
                                                       &other, NULL, &error));
  g_assert_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_DUPLICATE_KIND);
  g_clear_error (&error);

  g_assert_true (orrery_device_manager_load_config (manager, config, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (c.built, ==, 1);
  device = orrery_device_manager_get_device (manager, "pool");
  g_assert_nonnull (device);
  g_assert_cmpstr (orrery_device_get_device_type (device), ==, "counted");
  g_assert_cmpuint (orrery_device_get_max_concurrency (device), ==, 5);
  /* A configured device: no default one. */
  g_assert_cmpuint (orrery_device_manager_get_n_devices (manager), ==, 1);

  /* Unregistered: the device stays, the kind is unknown again. */
  g_assert_true (orrery_device_manager_unregister_kind (manager, "Counted"));
  g_assert_cmpuint (c.destroyed, ==, 1);
  g_assert_false (orrery_device_manager_unregister_kind (manager, "counted"));
  g_assert_nonnull (orrery_device_manager_get_device (manager, "pool"));
  {
    g_autoptr(OrreryDeviceManager) fresh = orrery_device_manager_new ();

    g_assert_false (orrery_device_manager_load_config (fresh, config, &error));
    g_assert_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_CONFIG);
    g_assert_cmpstr (error->message, ==,
                     "kinds.conf: [Device pool] Type: unknown device kind “Counted” "
                     "(known kinds: local, simulated)");
    g_assert_cmpuint (orrery_device_manager_get_n_devices (fresh), ==, 0);
  }
}

static void
test_kind_freed_with_manager (void)
{
  OrreryDeviceManager *manager = orrery_device_manager_new ();
  Counter c = { 0 };

  g_assert_true (orrery_device_manager_register_kind (manager, "counted", counting_factory, &c,
                                                      counter_destroyed, NULL));
  g_assert_cmpuint (c.destroyed, ==, 0);
  g_object_unref (manager);
  g_assert_cmpuint (c.destroyed, ==, 1);
}

static void
test_factory_errors (void)
{
  struct {
    const char *text;
    gboolean    no_device;
    const char *wrong_id;
    const char *expected;
  } cases[] = {
    /* The factory's own key, read with orrery_device_kind_get_count(). */
    { "[Device a]\nType=counted\nSlots=0\n", FALSE, NULL,
      "f.conf: [Device a] Slots: “0” is not a positive integer" },
    { "[Device a]\nType=counted\nSlots=many\n", FALSE, NULL,
      "f.conf: [Device a] Slots: “many” is not a positive integer" },
    { "[Device a]\nType=counted\n", TRUE, NULL,
      "f.conf: [Device a] Type: the “counted” kind built no device" },
    { "[Device a]\nType=counted\n", FALSE, "b",
      "f.conf: [Device a] Type: the “counted” kind built a device named “b”" },
    /* Two groups, one id. */
    { "[Device a]\nType=counted\n[Device  a ]\nType=simulated\n", FALSE, NULL,
      "f.conf: [Device  a ]: there is already a device “a”" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(OrreryDeviceManager) manager = orrery_device_manager_new ();
      g_autoptr(OrreryConfig) config = config_from (cases[i].text, "f.conf");
      g_autoptr(GError) error = NULL;
      Counter c = { 0 };

      c.no_device = cases[i].no_device;
      c.wrong_id = (char *) cases[i].wrong_id;
      g_test_message ("case %u", i);
      g_assert_true (orrery_device_manager_register_kind (manager, "counted", counting_factory,
                                                          &c, NULL, NULL));
      g_assert_false (orrery_device_manager_load_config (manager, config, &error));
      g_assert_error (error, ORRERY_DEVICE_ERROR, ORRERY_DEVICE_ERROR_BAD_CONFIG);
      g_assert_cmpstr (error->message, ==, cases[i].expected);
      /* All or nothing, and no default device after an error. */
      g_assert_cmpuint (orrery_device_manager_get_n_devices (manager), ==, 0);
    }
}

/* Each value's error names where that value came from. */
static void
test_errors_name_the_origin (void)
{
  g_autoptr(OrreryDeviceManager) manager = orrery_device_manager_new ();
  g_autoptr(OrreryOrchestrator) orch = NULL;
  g_autoptr(OrreryConfig) config = config_from ("[Host]\nRetryDelayMs=10\n"
                                                "[Device a]\nType=simulated\n", "main.conf");
  g_autoptr(GError) error = NULL;

  g_assert_true (orrery_config_parse_override (config, "[Device a].MaxConcurrency=lots", NULL));
  g_assert_false (orrery_device_manager_load_config (manager, config, &error));
  g_assert_cmpstr (error->message, ==,
                   "command line: [Device a] MaxConcurrency: “lots” is not a positive integer");
  g_clear_error (&error);

  orch = orrery_orchestrator_new (NULL, manager);
  g_assert_true (orrery_config_parse_override (config, "Host.RetryBackoff=fast", NULL));
  g_assert_false (orrery_orchestrator_apply_config (orch, config, &error));
  g_assert_error (error, ORRERY_CONFIG_ERROR, ORRERY_CONFIG_ERROR_BAD_VALUE);
  g_assert_true (g_str_has_prefix (error->message, "command line: [Host] RetryBackoff: “fast”"));
}

static void
test_load_config_default_device (void)
{
  g_autoptr(OrreryDeviceManager) manager = orrery_device_manager_new ();
  g_autoptr(OrreryConfig) config = config_from ("[Host]\nStrategy=load-balance\n", NULL);
  g_autoptr(GError) error = NULL;

  g_assert_true (orrery_device_manager_load_config (manager, config, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (orrery_device_manager_get_n_devices (manager), ==, 1);
  g_assert_true (ORRERY_IS_LOCAL_DEVICE (orrery_device_manager_get_device (manager, "local")));
}

static void
test_apply_config (void)
{
  g_autoptr(OrreryDeviceManager) manager = orrery_device_manager_new ();
  g_autoptr(OrreryOrchestrator) orch = orrery_orchestrator_new (NULL, manager);
  guint delay, max_delay;
  gdouble factor;

  /* The defaults, in one place. */
  orrery_orchestrator_get_retry_policy (orch, &delay, &factor, &max_delay);
  g_assert_cmpuint (delay, ==, ORRERY_ORCHESTRATOR_DEFAULT_RETRY_DELAY_MS);
  g_assert_cmpfloat (factor, ==, ORRERY_ORCHESTRATOR_DEFAULT_RETRY_BACKOFF);
  g_assert_cmpuint (max_delay, ==, ORRERY_ORCHESTRATOR_DEFAULT_RETRY_MAX_DELAY_MS);

  {
    g_autoptr(OrreryConfig) config = config_from ("[Host]\nStrategy=Capability_Match\n"
                                                  "MaxConcurrency=7\nRetryDelayMs=20\n"
                                                  "RetryBackoff=3.5\nRetryMaxDelayMs=900\n",
                                                  "host.conf");
    g_autoptr(GError) error = NULL;

    g_assert_true (orrery_orchestrator_apply_config (orch, config, &error));
    g_assert_no_error (error);
    g_assert_cmpint (orrery_device_manager_get_strategy (manager), ==,
                     ORRERY_STRATEGY_CAPABILITY_MATCH);
    g_assert_cmpuint (orrery_orchestrator_get_max_concurrency (orch), ==, 7);
    orrery_orchestrator_get_retry_policy (orch, &delay, &factor, &max_delay);
    g_assert_cmpuint (delay, ==, 20);
    g_assert_cmpfloat (factor, ==, 3.5);
    g_assert_cmpuint (max_delay, ==, 900);
  }

  /* A configuration without [Host] changes nothing. */
  {
    g_autoptr(OrreryConfig) config = config_from ("[Device a]\n", "other.conf");

    g_assert_true (orrery_orchestrator_apply_config (orch, config, NULL));
    g_assert_cmpint (orrery_device_manager_get_strategy (manager), ==,
                     ORRERY_STRATEGY_CAPABILITY_MATCH);
    g_assert_cmpuint (orrery_orchestrator_get_max_concurrency (orch), ==, 7);
    orrery_orchestrator_get_retry_policy (orch, &delay, &factor, &max_delay);
    g_assert_cmpuint (delay, ==, 20);
    g_assert_cmpuint (max_delay, ==, 900);
  }
}

static void
test_apply_config_errors (void)
{
  struct {
    const char *text;
    const char *expected;
  } cases[] = {
    { "[Host]\nStrategy=fastest\n",
      "h.conf: [Host] Strategy: “fastest” is not round-robin, capability-match or load-balance" },
    { "[Host]\nMaxConcurrency=-1\n", "h.conf: [Host] MaxConcurrency: “-1”" },
    { "[Host]\nMaxConcurrency=4294967296\n", "h.conf: [Host] MaxConcurrency: “4294967296”" },
    { "[Host]\nRetryDelayMs=soon\n", "h.conf: [Host] RetryDelayMs: “soon”" },
    { "[Host]\nRetryBackoff=x2\n", "h.conf: [Host] RetryBackoff: “x2”" },
    { "[Host]\nRetryMaxDelayMs=1.5\n", "h.conf: [Host] RetryMaxDelayMs: “1.5”" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(OrreryDeviceManager) manager = orrery_device_manager_new ();
      g_autoptr(OrreryOrchestrator) orch = orrery_orchestrator_new (NULL, manager);
      g_autoptr(OrreryConfig) config = config_from (cases[i].text, "h.conf");
      g_autoptr(GError) error = NULL;
      guint delay, max_delay;
      gdouble factor;

      g_test_message ("case %u", i);
      g_assert_false (orrery_orchestrator_apply_config (orch, config, &error));
      g_assert_error (error, ORRERY_CONFIG_ERROR, ORRERY_CONFIG_ERROR_BAD_VALUE);
      g_test_message ("%s", error->message);
      g_assert_true (g_str_has_prefix (error->message, cases[i].expected));
      /* Nothing applied. */
      g_assert_cmpuint (orrery_orchestrator_get_max_concurrency (orch), ==, 0);
      orrery_orchestrator_get_retry_policy (orch, &delay, &factor, &max_delay);
      g_assert_cmpuint (delay, ==, ORRERY_ORCHESTRATOR_DEFAULT_RETRY_DELAY_MS);
    }
}

/* The fixture devkind adds a kind through its context; disabling the
 * plugin removes it. */
static void
test_plugin_kind (void)
{
  g_autofree char *dir = fixture_tmpdir ();
  g_autofree char *so = fixture_install (dir, "devkind", NULL);
  g_autofree char *out = g_build_filename (dir, "built.txt", NULL);
  g_autofree char *text = g_strdup_printf ("[Plugin devkind]\nKind=remote\nOutput=%s\n"
                                           "[Device far]\nType=remote\nSlots=4\n"
                                           "Capabilities=gpu;;\n", out);
  g_autoptr(OrreryConfig) config = config_from (text, "plugin.conf");
  g_autoptr(OrreryEventBus) bus = orrery_event_bus_new ();
  g_autoptr(OrreryDeviceManager) manager = orrery_device_manager_new ();
  g_autoptr(OrreryOrchestrator) orch = orrery_orchestrator_new (bus, manager);
  g_autoptr(OrreryPluginEngine) engine = orrery_plugin_engine_new (bus, config);
  g_autoptr(GError) error = NULL;
  g_autofree char *built = NULL;
  OrreryDevice *device;

  g_unsetenv ("ORRERY_PLUGIN_PATH");
  orrery_plugin_engine_set_use_default_path (engine, FALSE);
  orrery_plugin_engine_add_search_path (engine, dir);
  orrery_plugin_engine_set_orchestrator (engine, orch);
  g_assert_false (orrery_device_manager_has_kind (manager, "remote"));
  g_assert_cmpuint (orrery_plugin_engine_load_all (engine), ==, 1);
  g_assert_true (orrery_device_manager_has_kind (manager, "remote"));

  g_assert_true (orrery_device_manager_load_config (manager, config, &error));
  g_assert_no_error (error);
  device = orrery_device_manager_get_device (manager, "far");
  g_assert_nonnull (device);
  g_assert_cmpstr (orrery_device_get_device_type (device), ==, "fixture");
  g_assert_cmpuint (orrery_device_get_max_concurrency (device), ==, 4);
  g_assert_cmpstrv (orrery_device_get_capabilities (device), ((const char *[]) { "gpu", NULL }));
  g_assert_true (g_file_get_contents (out, &built, NULL, NULL));
  g_assert_cmpstr (built, ==, "built far\n");

  g_assert_true (orrery_plugin_engine_disable (engine, "devkind", &error));
  g_assert_no_error (error);
  g_assert_false (orrery_device_manager_has_kind (manager, "remote"));
  /* Devices already built stay. */
  g_assert_nonnull (orrery_device_manager_get_device (manager, "far"));

  /* Enabled again, it registers again. */
  g_assert_true (orrery_plugin_engine_enable (engine, "devkind", &error));
  g_assert_no_error (error);
  g_assert_true (orrery_device_manager_has_kind (manager, "remote"));
  orrery_plugin_engine_shutdown (engine);
  g_assert_false (orrery_device_manager_has_kind (manager, "remote"));
  fixture_rmrf (dir);
}

/* Without an orchestrator (`orrery plugins`) registering does nothing. */
static void
test_plugin_kind_without_run (void)
{
  g_autofree char *dir = fixture_tmpdir ();
  g_autofree char *so = fixture_install (dir, "devkind", NULL);
  g_autoptr(OrreryConfig) config = orrery_config_new ();
  g_autoptr(OrreryEventBus) bus = orrery_event_bus_new ();
  g_autoptr(OrreryPluginEngine) engine = orrery_plugin_engine_new (bus, config);
  OrreryPluginInfo *info;

  orrery_plugin_engine_set_use_default_path (engine, FALSE);
  orrery_plugin_engine_add_search_path (engine, dir);
  g_assert_cmpuint (orrery_plugin_engine_load_all (engine), ==, 1);
  info = orrery_plugin_engine_lookup (engine, "devkind");
  g_assert_cmpint (orrery_plugin_info_get_state (info), ==, ORRERY_PLUGIN_STATE_ENABLED);
  orrery_plugin_engine_shutdown (engine);
  fixture_rmrf (dir);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/host-config/builtin-kinds", test_builtin_kinds);
  g_test_add_func ("/host-config/register-kind", test_register_kind);
  g_test_add_func ("/host-config/kind-freed-with-manager", test_kind_freed_with_manager);
  g_test_add_func ("/host-config/factory-errors", test_factory_errors);
  g_test_add_func ("/host-config/errors-name-the-origin", test_errors_name_the_origin);
  g_test_add_func ("/host-config/load-config-default-device", test_load_config_default_device);
  g_test_add_func ("/host-config/apply-config", test_apply_config);
  g_test_add_func ("/host-config/apply-config-errors", test_apply_config_errors);
  g_test_add_func ("/host-config/plugin-kind", test_plugin_kind);
  g_test_add_func ("/host-config/plugin-kind-without-run", test_plugin_kind_without_run);
  return g_test_run ();
}
