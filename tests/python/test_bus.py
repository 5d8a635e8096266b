"""The event bus through PyGObject: what a script sees."""
import threading

import gi

gi.require_version("Orrery", "1.0")
from gi.repository import GLib, GObject, Orrery  # noqa: E402


def task_event(kind, task_id):
    return Orrery.TaskEvent.new(kind, "pytest", task_id, Orrery.TaskStatus.COMPLETED)


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
