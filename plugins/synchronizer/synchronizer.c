/* synchronizer.c: holds dispatch between a task's completion and the edit
 * of the constellation that answers it (docs/architecture.md, sections 4 and 8).
 *
 * When a task completes or fails, the synchronizer takes an orchestrator
 * hold at once, inside the synchronous delivery of the event, so the
 * orchestrator cannot dispatch anything from the graph the agent is about
 * to edit. The hold is released when a `constellation-modified` event whose
 * `on_task_ids` names the task arrives (one edit can answer several
 * completions: their holds are released together), or when the deadline
 * passes: a missing edit is logged and reported through the orchestrator's
 * `hold-expired` signal, and an edit that arrives after its deadline is
 * logged as late. While a hold stands the run does not complete either, so
 * an agent can extend a run after its last task.
 *
 * With no agent configured it holds nothing; with no orchestrator (e.g.
 * `orrery plugins`) it does nothing.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-Synchronizer"

#include <orrery.h>

#define DEFAULT_DEADLINE_MS 30000
/* How long a completion waits for its edit. */
#define DEADLINE_KEY "EditDeadlineMs"
/* The name it had before: the same key, in the same group, as the engine's
 * deadline of an asynchronous delivery. Still read, with a warning, when
 * the new one is not set. */
#define OLD_DEADLINE_KEY "DeadlineMs"

/* A task's completion, held (no dispatch) until its edit arrives or the
 * deadline passes. */
typedef struct
{
  char       *task_id;
  OrreryHold *hold;
  gint64      since_us;
} HeldCompletion;

typedef struct
{
  OrreryOrchestrator *orch;
  char               *agent;
  guint               deadline_ms;
  gulong              expired_id;

  GHashTable         *pending;   /* task id -> HeldCompletion */
  GHashTable         *expired;   /* task id -> gint64* (monotonic us of the expiry) */

  /* Counters of the current run (logged at its end). */
  guint               n_held;
  guint               n_answered;
  guint               n_missing;
  guint               n_late;
} Synchronizer;

static void
held_completion_free (gpointer data)
{
  HeldCompletion *p = data;

  g_free (p->task_id);
  g_clear_pointer (&p->hold, orrery_hold_unref);
  g_free (p);
}

/* Releases every hold still standing (end of a run, shutdown). */
static void
release_all (Synchronizer *sync)
{
  g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func (held_completion_free);
  GHashTableIter iter;
  gpointer value;

  /* Out of the table first: a release may dispatch, and what that
   * publishes may come back here. */
  g_hash_table_iter_init (&iter, sync->pending);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      g_ptr_array_add (all, value);
      g_hash_table_iter_steal (&iter);
    }
  for (guint i = 0; i < all->len; i++)
    orrery_orchestrator_release (sync->orch, ((HeldCompletion *) all->pdata[i])->hold);
}

static void
hold_for (Synchronizer *sync,
          const char   *task_id,
          const char   *what)
{
  g_autofree char *reason = NULL;
  HeldCompletion *p;

  if (task_id == NULL || g_hash_table_contains (sync->pending, task_id))
    return;
  reason = g_strdup_printf ("synchronizer: waiting for agent “%s” to answer task “%s” (%s)",
                            sync->agent, task_id, what);
  p = g_new0 (HeldCompletion, 1);
  p->task_id = g_strdup (task_id);
  p->since_us = g_get_monotonic_time ();
  /* Taken before the delivery of the event returns: the orchestrator
   * dispatches again only after publishing it. */
  p->hold = orrery_orchestrator_hold (sync->orch, reason, sync->deadline_ms);
  g_hash_table_insert (sync->pending, p->task_id, p);
  g_hash_table_remove (sync->expired, task_id);
  sync->n_held++;
  g_debug ("Holding dispatch for task “%s” (%s): hold #%u, deadline %u ms", task_id, what,
           orrery_hold_get_id (p->hold), sync->deadline_ms);
}

static void
answer (Synchronizer             *sync,
        OrreryEvent *event)
{
  const char * const *ids = orrery_event_get_on_task_ids (event);
  g_autoptr(GPtrArray) answered = g_ptr_array_new_with_free_func (held_completion_free);

  if (ids == NULL)
    return;

  /* Take every answered hold out first, then release them together: the
   * orchestrator resumes once, from the edited graph. */
  for (guint i = 0; ids[i] != NULL; i++)
    {
      gpointer key, value;
      gint64 *expired_at;

      if (g_hash_table_steal_extended (sync->pending, ids[i], &key, &value))
        {
          g_ptr_array_add (answered, value);
          continue;
        }
      expired_at = g_hash_table_lookup (sync->expired, ids[i]);
      if (expired_at != NULL)
        {
          sync->n_late++;
          g_warning ("Late edit: agent “%s” answered task “%s” %.0f ms after its deadline "
                     "of %u ms; tasks may have been dispatched from the graph before it",
                     sync->agent, ids[i], (g_get_monotonic_time () - *expired_at) / 1000.0,
                     sync->deadline_ms);
          g_hash_table_remove (sync->expired, ids[i]);
        }
    }

  for (guint i = 0; i < answered->len; i++)
    {
      HeldCompletion *p = answered->pdata[i];

      sync->n_answered++;
      g_debug ("Task “%s” answered after %.1f ms: releasing hold #%u", p->task_id,
               (g_get_monotonic_time () - p->since_us) / 1000.0, orrery_hold_get_id (p->hold));
      orrery_orchestrator_release (sync->orch, p->hold);
    }
}

static void
on_hold_expired (OrreryOrchestrator *orch,
                 OrreryHold         *hold,
                 gpointer            user_data)
{
  Synchronizer *sync = user_data;
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, sync->pending);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      HeldCompletion *p = value;
      gint64 *now;

      if (p->hold != hold)
        continue;
      sync->n_missing++;
      g_warning ("Missing edit: agent “%s” did not answer task “%s” within %u ms; "
                 "dispatch resumes from the graph as it is", sync->agent, p->task_id,
                 sync->deadline_ms);
      now = g_new (gint64, 1);
      *now = g_get_monotonic_time ();
      g_hash_table_insert (sync->expired, g_strdup (p->task_id), now);
      g_hash_table_iter_remove (&iter);
      return;
    }
}

static void
run_ended (Synchronizer *sync,
           OrreryEvent  *event)
{
  guint left = g_hash_table_size (sync->pending);

  if (left > 0)
    g_debug ("Run ended with %u completions unanswered: releasing their holds", left);
  release_all (sync);
  g_hash_table_remove_all (sync->expired);
  g_info ("Run ended: %u completions held for agent “%s”, %u answered, %u missing, %u late",
          sync->n_held, sync->agent, sync->n_answered, sync->n_missing, sync->n_late);
}

static gboolean
synchronizer_handle (OrreryEvent  *event,
                     gpointer      user_data,
                     GError      **error)
{
  Synchronizer *sync = user_data;

  switch (orrery_event_get_event_type (event))
    {
    case ORRERY_EVENT_TASK_COMPLETED:
      hold_for (sync, orrery_event_get_task_id (event), "completed");
      break;
    case ORRERY_EVENT_TASK_FAILED:
      hold_for (sync, orrery_event_get_task_id (event), "failed");
      break;
    case ORRERY_EVENT_CONSTELLATION_MODIFIED:
      answer (sync, event);
      break;
    case ORRERY_EVENT_CONSTELLATION_STARTED:
      release_all (sync);
      g_hash_table_remove_all (sync->expired);
      sync->n_held = sync->n_answered = sync->n_missing = sync->n_late = 0;
      break;
    case ORRERY_EVENT_CONSTELLATION_COMPLETED:
    case ORRERY_EVENT_CONSTELLATION_FAILED:
    case ORRERY_EVENT_CONSTELLATION_CANCELLED:
      run_ended (sync, event);
      break;
    default:
      break;
    }
  return TRUE;
}

static void
synchronizer_free (gpointer data)
{
  Synchronizer *sync = data;

  if (sync->orch != NULL)
    {
      g_clear_signal_handler (&sync->expired_id, sync->orch);
      release_all (sync);
    }
  g_hash_table_unref (sync->pending);
  g_hash_table_unref (sync->expired);
  g_clear_object (&sync->orch);
  g_free (sync->agent);
  g_free (sync);
}

/* `EditDeadlineMs` (or the deprecated `DeadlineMs`), in milliseconds, 0
 * for no limit. */
static gboolean
read_deadline (OrreryPluginContext  *context,
               guint                *out_deadline_ms,
               GError              **error)
{
  OrreryConfig *config = orrery_plugin_context_get_config (context);
  const char *group = orrery_plugin_context_get_group (context);
  const char *key = DEADLINE_KEY;
  GError *local_error = NULL;
  guint64 deadline;

  if (!orrery_config_has_key (config, group, DEADLINE_KEY) &&
      orrery_config_has_key (config, group, OLD_DEADLINE_KEY))
    {
      g_autofree char *origin = orrery_config_get_origin (config, group, OLD_DEADLINE_KEY);

      g_warning ("%s: [%s] %s is deprecated as the synchronizer's edit deadline (it is also "
                 "the engine's deadline of an asynchronous delivery): use %s", origin, group,
                 OLD_DEADLINE_KEY, DEADLINE_KEY);
      key = OLD_DEADLINE_KEY;
    }
  deadline = orrery_plugin_context_get_uint (context, key, DEFAULT_DEADLINE_MS, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return FALSE;
    }
  if (deadline > G_MAXUINT)
    {
      g_autofree char *origin = orrery_config_get_origin (config, group, key);

      g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_BAD_CONFIG,
                   "%s: [%s] %s: %" G_GUINT64_FORMAT " is too large", origin, group, key,
                   deadline);
      return FALSE;
    }
  *out_deadline_ms = (guint) deadline;
  return TRUE;
}

/* `Agent` names the agent whose edits answer completions; unset, empty,
 * `false` or `none` means there is none. */
static char *
read_agent (OrreryPluginContext *context)
{
  g_autofree char *agent = orrery_plugin_context_get_string (context, "Agent", NULL);

  if (agent == NULL)
    return NULL;
  g_strstrip (agent);
  if (*agent == '\0' || g_ascii_strcasecmp (agent, "false") == 0 ||
      g_ascii_strcasecmp (agent, "none") == 0 || g_ascii_strcasecmp (agent, "no") == 0)
    return NULL;
  if (g_ascii_strcasecmp (agent, "true") == 0 || g_ascii_strcasecmp (agent, "yes") == 0)
    return g_strdup ("agent");
  return g_steal_pointer (&agent);
}

static gboolean
synchronizer_init (OrreryPluginContext  *context,
                   GError              **error)
{
  OrreryOrchestrator *orch = orrery_plugin_context_get_orchestrator (context);
  g_autoptr(OrreryObserver) observer = NULL;
  g_autofree char *agent = NULL;
  g_autofree char *delivery = NULL;
  Synchronizer *sync;
  guint deadline;
  const OrreryEventType types[] = {
    ORRERY_EVENT_TASK_COMPLETED,
    ORRERY_EVENT_TASK_FAILED,
    ORRERY_EVENT_CONSTELLATION_MODIFIED,
    ORRERY_EVENT_CONSTELLATION_STARTED,
    ORRERY_EVENT_CONSTELLATION_COMPLETED,
    ORRERY_EVENT_CONSTELLATION_FAILED,
    ORRERY_EVENT_CONSTELLATION_CANCELLED,
  };

  if (!read_deadline (context, &deadline, error))
    return FALSE;
  /* A queued delivery would let the orchestrator dispatch before the
   * hold is taken: refuse it rather than silently break the guarantee. */
  delivery = orrery_plugin_context_get_string (context, "Delivery", NULL);
  if (delivery != NULL && g_ascii_strcasecmp (g_strstrip (delivery), "sync") != 0)
    {
      g_set_error (error, ORRERY_PLUGIN_ERROR, ORRERY_PLUGIN_ERROR_BAD_CONFIG,
                   "[%s] Delivery: the synchronizer must be delivered synchronously, not “%s”",
                   orrery_plugin_context_get_group (context), delivery);
      return FALSE;
    }

  agent = read_agent (context);
  if (orch == NULL)
    {
      g_debug ("No orchestrator: nothing to synchronize");
      return TRUE;
    }
  if (agent == NULL)
    {
      g_debug ("No agent configured (key Agent): holding nothing");
      return TRUE;
    }

  sync = g_new0 (Synchronizer, 1);
  sync->orch = g_object_ref (orch);
  sync->agent = g_steal_pointer (&agent);
  sync->deadline_ms = deadline;
  sync->pending = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, held_completion_free);
  sync->expired = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  sync->expired_id = g_signal_connect (orch, "hold-expired", G_CALLBACK (on_hold_expired), sync);
  orrery_plugin_context_set_data (context, sync, synchronizer_free);

  observer = orrery_func_observer_new ("synchronizer", synchronizer_handle, sync, NULL);
  orrery_plugin_context_add_observer (context, observer, types, G_N_ELEMENTS (types),
                                      ORRERY_DELIVERY_SYNC, 0, 0);
  g_debug ("Synchronizing with agent “%s”, deadline %u ms", sync->agent, sync->deadline_ms);
  return TRUE;
}

static void
synchronizer_shutdown (OrreryPluginContext *context)
{
  Synchronizer *sync = orrery_plugin_context_get_data (context);

  /* The context frees it (synchronizer_free), releasing what still
   * stands: a disabled synchronizer must not keep a run held. */
  if (sync != NULL && g_hash_table_size (sync->pending) > 0)
    g_debug ("Shutting down with %u holds standing: releasing them",
             g_hash_table_size (sync->pending));
  if (sync != NULL)
    release_all (sync);
}

static const OrreryPluginKey synchronizer_keys[] = {
  { "Agent", ORRERY_PLUGIN_KEY_STRING, NULL,
    "the agent whose edits answer completions (a name or true); unset: hold nothing" },
  { DEADLINE_KEY, ORRERY_PLUGIN_KEY_UINT, "30000",
    "how long a completion waits for its edit before dispatch resumes (0: for ever)" },
  { NULL }
};

ORRERY_PLUGIN_DEFINE ("synchronizer", "1.0",
                      "Holds dispatch between a completion and the agent's edit that answers it",
                      synchronizer_init, synchronizer_shutdown, synchronizer_keys)
