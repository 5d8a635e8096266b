"""Scripting a run from Python: devices, the orchestrator, events, holds and
an agent that edits the DAG while it runs."""
import gi

gi.require_version("Orrery", "1.0")
from gi.repository import GLib, Orrery  # noqa: E402


def make_run(tasks, deps=()):
    bus = Orrery.EventBus.new()
    devices = Orrery.DeviceManager.new()
    devices.add_device(Orrery.SimulatedDevice.new("sim", None, 4))
    orch = Orrery.Orchestrator.new(bus, devices)
    c = Orrery.Constellation.new("py", "from python")
    for task_id, data in tasks:
        t = Orrery.Task.new(task_id, task_id)
        if data is not None:
            t.set_task_data(GLib.Variant("a{sv}", data))
        c.add_task(t)
    for a, b in deps:
        c.add_dependency(a, b, Orrery.DependencyType.SUCCESS_ONLY, None)
    return bus, orch, c


def run(orch, c):
    loop = GLib.MainLoop()
    outcome = {}

    def done(source, res):
        try:
            outcome["ok"] = source.run_finish(res)
        except GLib.Error as e:
            outcome["error"] = e
        loop.quit()

    orch.run_async(c, None, done)
    GLib.timeout_add_seconds(10, loop.quit)
    loop.run()
    return outcome


def test_run_publishes_events_in_order():
    bus, orch, c = make_run([("a", None), ("b", None)], [("a", "b")])
    seen = []
    bus.connect("event", lambda _b, ev: seen.append(
        ev.get_type_nick() + (":" + ev.get_task_id() if ev.get_kind() == Orrery.EventKind.TASK else "")))
    assert run(orch, c) == {"ok": True}
    assert seen == ["constellation-started", "task-started:a", "task-completed:a",
                    "task-started:b", "task-completed:b", "constellation-completed"]


def test_failed_run_raises_with_the_reason():
    bus, orch, c = make_run([("bad", {"fail": GLib.Variant("b", True)}), ("after", None)],
                            [("bad", "after")])
    skipped = []
    bus.connect("event::task-skipped", lambda _b, ev: skipped.append(ev.get_task_id()))
    outcome = run(orch, c)
    assert "error" in outcome
    assert "1 failed, 1 skipped" in outcome["error"].message
    assert skipped == ["after"]


def test_agent_extends_the_run_under_a_hold():
    bus, orch, c = make_run([("first", None)])
    state = {}
    seen = []
    bus.connect("event", lambda _b, ev: seen.append(
        ev.get_type_nick() + (":" + ev.get_task_id() if ev.get_kind() == Orrery.EventKind.TASK else "")))

    def edit():
        batch = Orrery.EditBatch.new()
        batch.add_task(Orrery.Task.new("second", "added by the agent"))
        batch.add_dependency("first", "second", Orrery.DependencyType.SUCCESS_ONLY, None)
        batch.set_on_task_ids(["first"])
        c.apply_edits(batch)
        assert orch.release(state["hold"])
        return GLib.SOURCE_REMOVE

    def on_completed(_bus, ev):
        if ev.get_task_id() == "first":
            state["hold"] = orch.hold("python agent", 0)
            GLib.timeout_add(20, edit)

    bus.connect("event::task-completed", on_completed)
    assert run(orch, c) == {"ok": True}
    # Without the hold the run would have ended after "first".
    assert seen.index("constellation-modified") < seen.index("task-started:second")
    assert seen[-1] == "constellation-completed"
    assert c.get_n_tasks() == 2
