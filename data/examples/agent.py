#!/usr/bin/python3
"""An agent that edits a constellation while it runs, from Python.

It runs a constellation on a simulated device (or the default local
device), and every time a task whose id starts with "plan" completes, it
takes a hold on the orchestrator, thinks for a moment, adds a follow-up
task that depends on it, and releases the hold. The hold guarantees nothing
is dispatched from the graph before the agent's edit, including after the
last task: the run ends only when the agent has nothing left to add.

    GI_TYPELIB_PATH=build/sdk LD_LIBRARY_PATH=build/sdk \\
      /usr/bin/python3 data/examples/agent.py [FILE]

Without FILE it builds a two-task constellation of its own. Prints one line
per event and exits 0 if the run succeeded.
"""
import sys

import gi

gi.require_version("Orrery", "1.0")
from gi.repository import GLib, Orrery  # noqa: E402


def build_default():
    c = Orrery.Constellation.new("agent-demo", "Planned by a Python agent")
    for task_id in ("plan-1", "plan-2"):
        c.add_task(Orrery.Task.new(task_id, task_id))
    c.add_dependency("plan-1", "plan-2", Orrery.DependencyType.SUCCESS_ONLY, None)
    return c


def main(argv):
    c = Orrery.Constellation.new_from_file(argv[1]) if len(argv) > 1 else build_default()
    bus = Orrery.EventBus.new()
    devices = Orrery.DeviceManager.new()
    devices.add_device(Orrery.SimulatedDevice.new("sim", None, 4))
    orch = Orrery.Orchestrator.new(bus, devices)
    loop = GLib.MainLoop()
    outcome = {}

    def show(_bus, ev):
        detail = ev.get_task_id() if ev.get_kind() == Orrery.EventKind.TASK else ev.get_source_id()
        print(f"{ev.get_sequence():3d} {ev.get_type_nick():24s} {detail}")

    def answer(task_id, hold):
        batch = Orrery.EditBatch.new()
        follow_up = Orrery.Task.new(f"report-{task_id}", f"Report on {task_id}")
        batch.add_task(follow_up)
        batch.add_dependency(task_id, follow_up.get_id(), Orrery.DependencyType.SUCCESS_ONLY, None)
        batch.set_on_task_ids([task_id])
        c.apply_edits(batch)
        orch.release(hold)
        return GLib.SOURCE_REMOVE

    def on_completed(_bus, ev):
        if ev.get_task_id().startswith("plan"):
            hold = orch.hold(f"agent thinking about {ev.get_task_id()}", 5000)
            GLib.timeout_add(50, answer, ev.get_task_id(), hold)

    def done(source, res):
        try:
            outcome["ok"] = source.run_finish(res)
        except GLib.Error as e:
            print("run failed:", e.message, file=sys.stderr)
            outcome["ok"] = False
        loop.quit()

    bus.connect("event", show)
    bus.connect("event::task-completed", on_completed)
    orch.run_async(c, None, done)
    loop.run()
    print(f"{c.get_n_tasks()} tasks, {c.count_status(Orrery.TaskStatus.COMPLETED)} completed")
    return 0 if outcome.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
