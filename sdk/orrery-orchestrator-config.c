/* orrery-orchestrator-config.c: the run settings of the `[Host]` group.
 *
 * What `orrery run` reads from the host configuration besides the devices
 * (orrery_device_manager_load_config()): the dispatch strategy, the bound
 * on tasks at once and the retry policy. One function, so that a script
 * builds the same orchestrator as the host; the defaults are the
 * orchestrator's own (ORRERY_ORCHESTRATOR_DEFAULT_RETRY_DELAY_MS ...).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-Orchestrator"

#include "orrery-private.h"

static void
set_bad_value (GError       **error,
               OrreryConfig  *config,
               const char    *key,
               const char    *value,
               const char    *expected)
{
  g_autofree char *origin = orrery_config_get_origin (config, ORRERY_CONFIG_HOST_GROUP, key);
  g_autofree char *where = orrery_escape_for_terminal (origin ? origin : "configuration", -1);
  g_autofree char *shown = orrery_escape_for_terminal (value, -1);

  g_set_error (error, ORRERY_CONFIG_ERROR, ORRERY_CONFIG_ERROR_BAD_VALUE,
               "%s: [%s] %s: “%s” is not %s", where, ORRERY_CONFIG_HOST_GROUP, key, shown, expected);
}

static gboolean
read_strategy (OrreryConfig            *config,
               gboolean                *out_set,
               OrreryDispatchStrategy  *out_strategy,
               GError                 **error)
{
  g_autofree char *nick = orrery_config_get_string (config, ORRERY_CONFIG_HOST_GROUP, "Strategy", NULL);

  *out_set = nick != NULL;
  if (nick == NULL || orrery_dispatch_strategy_from_nick (g_strstrip (nick), out_strategy))
    return TRUE;
  set_bad_value (error, config, "Strategy", nick, "round-robin, capability-match or load-balance");
  return FALSE;
}

static gboolean
read_ms (OrreryConfig  *config,
         const char    *key,
         guint          default_value,
         guint         *out_value,
         GError       **error)
{
  GError *local_error = NULL;
  guint64 value = orrery_config_get_uint (config, ORRERY_CONFIG_HOST_GROUP, key, default_value,
                                          &local_error);

  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return FALSE;
    }
  if (value > G_MAXUINT)
    {
      g_autofree char *raw = orrery_config_get_string (config, ORRERY_CONFIG_HOST_GROUP, key, NULL);

      set_bad_value (error, config, key, raw, "an integer of at most 4294967295");
      return FALSE;
    }
  *out_value = (guint) value;
  return TRUE;
}

/**
 * orrery_orchestrator_apply_config:
 * @self: an orchestrator
 * @config: the host configuration
 * @error: return location for an error
 *
 * Applies the run settings of the `[Host]` group of @config, as `orrery
 * run` does (its `--strategy` and `--max-concurrency` are overrides of the
 * same keys):
 *
 * - `Strategy`: how tasks are placed on devices, `round-robin` (the
 *   default), `capability-match` or `load-balance`; set on the
 *   orchestrator's device manager
 * - `MaxConcurrency`: at most this many tasks at once; 0 (the default):
 *   the devices' limits only
 * - `RetryDelayMs` (500), `RetryBackoff` (2.0), `RetryMaxDelayMs` (30000):
 *   the retry policy (orrery_orchestrator_set_retry_policy())
 *
 * A key @config does not set leaves the orchestrator's value as it is.
 * On an error nothing is changed.
 *
 * Returns: %TRUE on success; %FALSE with %ORRERY_CONFIG_ERROR_BAD_VALUE,
 *   naming the file the value came from, the group and the key, otherwise
 */
gboolean
orrery_orchestrator_apply_config (OrreryOrchestrator  *self,
                                  OrreryConfig        *config,
                                  GError             **error)
{
  GError *local_error = NULL;
  OrreryDispatchStrategy strategy = ORRERY_STRATEGY_ROUND_ROBIN;
  gboolean has_strategy;
  guint max_concurrency, delay, max_delay;
  gdouble factor;

  g_return_val_if_fail (ORRERY_IS_ORCHESTRATOR (self), FALSE);
  g_return_val_if_fail (ORRERY_IS_CONFIG (config), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  orrery_orchestrator_get_retry_policy (self, &delay, &factor, &max_delay);
  if (!read_strategy (config, &has_strategy, &strategy, error) ||
      !read_ms (config, "MaxConcurrency", orrery_orchestrator_get_max_concurrency (self),
                &max_concurrency, error) ||
      !read_ms (config, "RetryDelayMs", delay, &delay, error))
    return FALSE;
  factor = orrery_config_get_double (config, ORRERY_CONFIG_HOST_GROUP, "RetryBackoff", factor,
                                     &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return FALSE;
    }
  if (!read_ms (config, "RetryMaxDelayMs", max_delay, &max_delay, error))
    return FALSE;

  if (has_strategy)
    orrery_device_manager_set_strategy (orrery_orchestrator_get_device_manager (self), strategy);
  orrery_orchestrator_set_max_concurrency (self, max_concurrency);
  orrery_orchestrator_set_retry_policy (self, delay, factor, max_delay);
  return TRUE;
}
