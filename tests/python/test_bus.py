"""The event bus through PyGObject: what a script sees."""
import threading

import gi

gi.require_version("Orrery", "1.0")
from gi.repository import GLib, GObject, Orrery  # noqa: E402


def task_event(kind, task_id):
    return Orrery.Event.new_task(kind, "pytest", task_id, Orrery.TaskStatus.COMPLETED)


def test_detailed_and_wildcard_callbacks():
    bus = Orrery.EventBus.new()
    completed, everything = [], []
    bus.connect("event::task-completed",
                lambda _bus, ev: completed.append(ev.get_task_id()))
    bus.connect("event", lambda _bus, ev: everything.append(
        (ev.get_type_nick(), ev.get_sequence())))

    bus.publish(task_event(Orrery.EventType.TASK_STARTED, "build"))
    bus.publish(task_event(Orrery.EventType.TASK_COMPLETED, "build"))
    bus.publish(task_event(Orrery.EventType.TASK_FAILED, "test"))

    assert completed == ["build"]
    assert everything == [("task-started", 1), ("task-completed", 2), ("task-failed", 3)]


def test_raising_callback_does_not_stop_the_others(capfd):
    bus = Orrery.EventBus.new()
    before, after = [], []

    def explode(_bus, ev):
        raise RuntimeError("callback blew up on " + ev.get_task_id())

    bus.connect("event", lambda _bus, ev: before.append(ev.get_task_id()))
    bus.connect("event::task-completed", explode)
    bus.connect("event", lambda _bus, ev: after.append(ev.get_task_id()))

    bus.publish(task_event(Orrery.EventType.TASK_COMPLETED, "a"))
    bus.publish(task_event(Orrery.EventType.TASK_COMPLETED, "b"))

    assert before == ["a", "b"]
    assert after == ["a", "b"]
    assert "callback blew up on a" in capfd.readouterr().err


class Recorder(GObject.Object, Orrery.Observer):
    def __init__(self, name, fail=False):
        super().__init__()
        self.name = name
        self.fail = fail
        self.seen = []

    def do_get_name(self):
        return self.name

    def do_handle_event(self, event):
        self.seen.append(event.get_type_nick())
        if self.fail:
            raise ValueError("observer refuses")
        return True


def test_python_observer_subscription_and_failure_report():
    bus = Orrery.EventBus.new()
    good = Recorder("good")
    bad = Recorder("bad", fail=True)
    failures = []
    bus.connect("observer-failed",
                lambda _bus, obs, ev, err: failures.append((obs.do_get_name(), ev.get_type_nick())))

    bus.subscribe(bad, [Orrery.EventType.TASK_COMPLETED, Orrery.EventType.TASK_FAILED])
    bus.subscribe(good, None)

    bus.publish(task_event(Orrery.EventType.TASK_STARTED, "x"))
    bus.publish(task_event(Orrery.EventType.TASK_COMPLETED, "x"))

    assert good.seen == ["task-started", "task-completed"]
    assert bad.seen == ["task-completed"]
    assert failures == [("bad", "task-completed")]
    stats = bus.get_stats().unpack()
    assert stats["published"] == 2
    assert stats["failures"] == 1


def test_publish_async_and_thread_marshalling():
    bus = Orrery.EventBus.new()
    loop = GLib.MainLoop()
    threads = []
    bus.connect("event", lambda _bus, ev: threads.append(threading.get_ident()))
    result = {}

    def done(source, res):
        result["ok"] = source.publish_finish(res)
        loop.quit()

    def worker():
        bus.publish(task_event(Orrery.EventType.TASK_COMPLETED, "from-thread"))

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert threads == []  # not delivered on the worker thread

    bus.publish_async(task_event(Orrery.EventType.TASK_COMPLETED, "async"), None, done)
    GLib.timeout_add_seconds(5, loop.quit)
    loop.run()
    assert result.get("ok") is True
    assert threads == [threading.get_ident()] * 2


class Keeper(GObject.Object, Orrery.Observer):
    """Keeps every event it is given, past its handler."""
    def __init__(self):
        super().__init__()
        self.kept = []

    def do_get_name(self):
        return "keeper"

    def do_handle_event(self, event):
        self.kept.append(event)
        return True


def test_events_kept_past_the_handler_stay_valid():
    # Events are boxed, handed to handlers (transfer none) without a copy:
    # a Python handler that keeps one must still read it once the bus and
    # the publisher have dropped theirs.
    bus = Orrery.EventBus.new()
    keeper = Keeper()
    from_signal = []
    bus.subscribe(keeper, None)
    bus.connect("event", lambda _bus, ev: from_signal.append(ev))

    for i in range(50):
        ev = task_event(Orrery.EventType.TASK_COMPLETED, "t%d" % i)
        ev.set_attempt(i + 1)
        bus.publish(ev)
        del ev
    dev = Orrery.Event.new_device(Orrery.EventType.DEVICE_ADDED, "pytest", "box",
                                  Orrery.DeviceStatus.IDLE)
    bus.publish(dev)
    del dev
    # Churn the allocator so a dangling pointer would read someone else's event.
    junk = [task_event(Orrery.EventType.TASK_STARTED, "junk%d" % i) for i in range(200)]
    del junk

    for kept in (keeper.kept, from_signal):
        assert [e.get_task_id() for e in kept[:50]] == ["t%d" % i for i in range(50)]
        assert [e.get_attempt() for e in kept[:50]] == list(range(1, 51))
        assert [e.get_sequence() for e in kept] == list(range(1, 52))
        assert kept[0].get_kind() == Orrery.EventKind.TASK
        assert kept[0].get_task_status() == Orrery.TaskStatus.COMPLETED
        assert kept[0].is_published()
        last = kept[50]
        assert last.get_kind() == Orrery.EventKind.DEVICE
        assert last.get_device_id() == "box"
        assert last.get_device_status() == Orrery.DeviceStatus.IDLE
        # A field its kind lacks reads as None / 0.
        assert last.get_task_id() is None
        assert last.get_constellation_id() is None


def test_event_kinds_and_their_fields():
    ce = Orrery.Event.new_constellation(Orrery.EventType.CONSTELLATION_COMPLETED, "pytest", "run",
                                        Orrery.ConstellationState.COMPLETED)
    ce.set_duration(1.5)
    ce.set_newly_ready(["a", "b"])
    assert ce.get_kind() == Orrery.EventKind.CONSTELLATION
    assert ce.get_constellation_id() == "run"
    assert ce.get_constellation_state() == Orrery.ConstellationState.COMPLETED
    assert ce.get_duration() == 1.5
    assert ce.get_newly_ready() == ["a", "b"]
    assert ce.get_task_id() is None
    assert ce.get_task_status() == 0
    plain = Orrery.Event.new(Orrery.EventType.TASK_COMPLETED, "pytest", GLib.Variant("s", "x"))
    assert plain.get_kind() == Orrery.EventKind.PLAIN
    assert plain.get_data().unpack() == "x"
    assert plain.get_task_id() is None
    assert Orrery.event_type_get_kind(Orrery.EventType.DEVICE_REMOVED) == Orrery.EventKind.DEVICE
    assert ce.to_string() == "#0 constellation-completed constellation=run source=pytest"
