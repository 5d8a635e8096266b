/* bench-bus.c: the cost of the event bus against its two baselines.
 *
 * For 1, 10, 50 and 200 observers, in one run: the bus (creating, publishing
 * and releasing a task event, delivered to N counting observers), a bare
 * g_signal_emit() on a minimal GObject with N counting handlers, and a plain
 * loop over N function pointers. Then the resident memory before and after
 * publishing 10 million events. One JSON object per line. Times are the
 * thread's CPU time, best of 3 interleaved rounds.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <orrery.h>

/* A counting observer: the least an observer can do. */
#define BENCH_TYPE_COUNTER (bench_counter_get_type ())
G_DECLARE_FINAL_TYPE (BenchCounter, bench_counter, BENCH, COUNTER, GObject)

struct _BenchCounter
{
  GObject parent_instance;
  guint64 count;
};

static gboolean
bench_counter_handle_event (OrreryObserver  *observer,
                            OrreryEvent     *event,
                            GError         **error)
{
  ((BenchCounter *) observer)->count++;
  return TRUE;
}

static void
bench_counter_iface_init (OrreryObserverInterface *iface)
{
  iface->handle_event = bench_counter_handle_event;
}

G_DEFINE_FINAL_TYPE_WITH_CODE (BenchCounter, bench_counter, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (ORRERY_TYPE_OBSERVER, bench_counter_iface_init))

static void bench_counter_class_init (BenchCounterClass *klass) { }
static void bench_counter_init (BenchCounter *self) { }

/* The baseline: a minimal GObject with one signal taking an object. */
#define BENCH_TYPE_EMITTER (bench_emitter_get_type ())
G_DECLARE_FINAL_TYPE (BenchEmitter, bench_emitter, BENCH, EMITTER, GObject)

struct _BenchEmitter
{
  GObject parent_instance;
};

G_DEFINE_FINAL_TYPE (BenchEmitter, bench_emitter, G_TYPE_OBJECT)

static guint ping_signal;

static void
bench_emitter_class_init (BenchEmitterClass *klass)
{
  ping_signal = g_signal_new ("ping", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                              0, NULL, NULL, g_cclosure_marshal_VOID__OBJECT,
                              G_TYPE_NONE, 1, G_TYPE_OBJECT);
  g_signal_set_va_marshaller (ping_signal, G_TYPE_FROM_CLASS (klass),
                              g_cclosure_marshal_VOID__OBJECTv);
}

static void bench_emitter_init (BenchEmitter *self) { }

static void
on_ping (GObject *emitter,
         GObject *arg,
         gpointer data)
{
  ((guint64 *) data)[0]++;
}

typedef void (*CountFunc) (gpointer event, guint64 *counter);

static void
count_fn (gpointer  event,
          guint64  *counter)
{
  (*counter)++;
}

static volatile CountFunc fn_table_seed = count_fn;

/* The thread's CPU time: the machine is shared (other processes take the
 * cores for whole time slices), and a wall-clock loop of nanoseconds then
 * measures them, not the bus. */
static gint64
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

static double
time_bus (guint n_observers,
          guint n_events)
{
  g_autoptr(OrreryEventBus) bus = orrery_event_bus_new ();
  g_autoptr(GPtrArray) observers = g_ptr_array_new_with_free_func (g_object_unref);
  guint64 total = 0;
  gint64 t0, t1;

  for (guint i = 0; i < n_observers; i++)
    {
      BenchCounter *c = g_object_new (BENCH_TYPE_COUNTER, NULL);
      g_ptr_array_add (observers, c);
      orrery_event_bus_subscribe (bus, ORRERY_OBSERVER (c), NULL, 0);
    }

  t0 = now_ns ();
  for (guint i = 0; i < n_events; i++)
    {
      OrreryEvent *ev = orrery_event_new_task (ORRERY_EVENT_TASK_COMPLETED, "bench", "task",
                                               ORRERY_TASK_STATUS_COMPLETED);
      orrery_event_bus_publish (bus, ev);
      orrery_event_unref (ev);
    }
  t1 = now_ns ();

  for (guint i = 0; i < n_observers; i++)
    total += ((BenchCounter *) observers->pdata[i])->count;
  g_assert_cmpuint (total, ==, (guint64) n_observers * n_events);
  return (double) (t1 - t0) / n_events;
}

static double
time_signal (guint n_handlers,
             guint n_events)
{
  g_autoptr(BenchEmitter) emitter = g_object_new (BENCH_TYPE_EMITTER, NULL);
  g_autoptr(GObject) arg = g_object_new (G_TYPE_OBJECT, NULL);
  guint64 *counters = g_new0 (guint64, n_handlers);
  guint64 total = 0;
  gint64 t0, t1;

  for (guint i = 0; i < n_handlers; i++)
    g_signal_connect (emitter, "ping", G_CALLBACK (on_ping), &counters[i]);

  t0 = now_ns ();
  for (guint i = 0; i < n_events; i++)
    g_signal_emit (emitter, ping_signal, 0, arg);
  t1 = now_ns ();

  for (guint i = 0; i < n_handlers; i++)
    total += counters[i];
  g_assert_cmpuint (total, ==, (guint64) n_handlers * n_events);
  g_free (counters);
  return (double) (t1 - t0) / n_events;
}

static double
time_fnptr (guint n_funcs,
            guint n_events)
{
  CountFunc *table = g_new (CountFunc, n_funcs);
  guint64 *counters = g_new0 (guint64, n_funcs);
  gpointer event = &table;
  guint64 total = 0;
  gint64 t0, t1;

  for (guint i = 0; i < n_funcs; i++)
    table[i] = fn_table_seed;

  t0 = now_ns ();
  for (guint i = 0; i < n_events; i++)
    for (guint j = 0; j < n_funcs; j++)
      table[j] (event, &counters[j]);
  t1 = now_ns ();

  for (guint i = 0; i < n_funcs; i++)
    total += counters[i];
  g_assert_cmpuint (total, ==, (guint64) n_funcs * n_events);
  g_free (table);
  g_free (counters);
  return (double) (t1 - t0) / n_events;
}

static long
rss_kib (void)
{
  long pages = 0, resident = 0;
  FILE *f = fopen ("/proc/self/statm", "r");

  if (f == NULL)
    return -1;
  if (fscanf (f, "%ld %ld", &pages, &resident) != 2)
    resident = -1;
  fclose (f);
  return resident * (sysconf (_SC_PAGESIZE) / 1024);
}

int
main (int    argc,
      char **argv)
{
  static const guint sizes[] = { 1, 10, 50, 200 };
  guint64 memory_events = 10000000;

  if (argc > 1)
    memory_events = g_ascii_strtoull (argv[1], NULL, 10);

  for (gsize s = 0; s < G_N_ELEMENTS (sizes); s++)
    {
      guint n = sizes[s];
      guint events = MAX (20000, 4000000 / n);
      double bus = G_MAXDOUBLE, sig = G_MAXDOUBLE, fn = G_MAXDOUBLE;

      /* Best of 3, interleaved: a neighbour's burst hits one round of
       * each rather than all three rounds of one. */
      for (int r = 0; r < 3; r++)
        {
          bus = MIN (bus, time_bus (n, events));
          sig = MIN (sig, time_signal (n, events));
          fn = MIN (fn, time_fnptr (n, events));
        }

      printf ("{\"bench\":\"bus\",\"observers\":%u,\"events\":%u,"
              "\"bus_ns_per_event\":%.1f,\"bus_ns_per_delivery\":%.2f,\"bus_events_per_sec\":%.0f,"
              "\"signal_ns_per_event\":%.1f,\"signal_ns_per_delivery\":%.2f,"
              "\"fnptr_ns_per_event\":%.1f,\"fnptr_ns_per_delivery\":%.2f,"
              "\"bus_vs_signal\":%.2f}\n",
              n, events, bus, bus / n, 1e9 / bus, sig, sig / n, fn, fn / n, bus / sig);
      fflush (stdout);
    }

  /* Memory: warm up, then publish many events with one observer. */
  {
    g_autoptr(OrreryEventBus) bus = orrery_event_bus_new ();
    g_autoptr(BenchCounter) c = g_object_new (BENCH_TYPE_COUNTER, NULL);
    long before, after;
    gint64 t0;

    orrery_event_bus_subscribe (bus, ORRERY_OBSERVER (c), NULL, 0);
    for (guint i = 0; i < 200000; i++)
      {
        OrreryEvent *ev = orrery_event_new_task (ORRERY_EVENT_TASK_COMPLETED, "bench", "task",
                                                 ORRERY_TASK_STATUS_COMPLETED);
        orrery_event_bus_publish (bus, ev);
        orrery_event_unref (ev);
      }
    before = rss_kib ();
    t0 = now_ns ();
    for (guint64 i = 0; i < memory_events; i++)
      {
        OrreryEvent *ev = orrery_event_new_task (ORRERY_EVENT_TASK_COMPLETED, "bench", "task",
                                                 ORRERY_TASK_STATUS_COMPLETED);
        orrery_event_bus_publish (bus, ev);
        orrery_event_unref (ev);
      }
    after = rss_kib ();
    printf ("{\"bench\":\"bus-memory\",\"events\":%" G_GUINT64_FORMAT ",\"rss_before_kib\":%ld,"
            "\"rss_after_kib\":%ld,\"rss_growth_kib\":%ld,\"ns_per_event\":%.1f}\n",
            memory_events, before, after, after - before,
            (double) (now_ns () - t0) / (double) memory_events);
  }
  return 0;
}
