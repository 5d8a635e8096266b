#!/usr/bin/python3
"""An agent's edit under the dashboard (for test_dashboard_browser.py).

Runs plan-1 -> plan-2 on a simulated device with the dashboard plugin
loaded (it prints its URL on stderr). When plan-1 completes, the agent takes
an orchestrator hold (as the synchronizer does for an agent) and answers only
once the file GO exists: it adds report-plan-1 after plan-1, then releases
the hold. Exits 0 if the run succeeded.

    agent_dashboard.py PLUGIN_DIR GO DONE

After the run it keeps serving until the file DONE exists (at most 60 s),
so the page can be checked against the finished run.
"""
import os
import sys

import gi

gi.require_version("Orrery", "1.0")
from gi.repository import GLib, Orrery  # noqa: E402


def main(plugin_dir, go, done_file):
    c = Orrery.Constellation.new("agent-demo", "Planned by an agent")
    for task_id in ("plan-1", "plan-2"):
        c.add_task(Orrery.Task.new(task_id, task_id))
    c.add_dependency("plan-1", "plan-2", Orrery.DependencyType.SUCCESS_ONLY, None)
    bus = Orrery.EventBus.new()
    devices = Orrery.DeviceManager.new()
    devices.add_device(Orrery.SimulatedDevice.new("sim", None, 4))
    orch = Orrery.Orchestrator.new(bus, devices)
    config = Orrery.Config.new()
    config.set_override("Host", "AutoEnable", "false")
    config.set_override("Plugin dashboard", "Enabled", "true")
    engine = Orrery.PluginEngine.new(bus, config)
    engine.set_use_default_path(False)
    engine.add_search_path(plugin_dir)
    engine.set_orchestrator(orch)
    if engine.load_all() != 1:
        print("the dashboard plugin did not load", file=sys.stderr)
        return 2
    loop = GLib.MainLoop()
    outcome = {}

    def answer(task_id, hold):
        if not os.path.exists(go):
            return GLib.SOURCE_CONTINUE
        batch = Orrery.EditBatch.new()
        follow_up = Orrery.Task.new(f"report-{task_id}", f"Report on {task_id}")
        batch.add_task(follow_up)
        batch.add_dependency(task_id, follow_up.get_id(), Orrery.DependencyType.SUCCESS_ONLY, None)
        batch.set_on_task_ids([task_id])
        c.apply_edits(batch)
        orch.release(hold)
        return GLib.SOURCE_REMOVE

    def on_completed(_bus, ev):
        if ev.get_task_id() == "plan-1":
            hold = orch.hold("agent thinking about plan-1", 60000)
            GLib.timeout_add(50, answer, ev.get_task_id(), hold)

    def done(source, res):
        try:
            outcome["ok"] = source.run_finish(res)
        except GLib.Error as e:
            print("run failed:", e.message, file=sys.stderr)
            outcome["ok"] = False
        loop.quit()

    bus.connect("event::task-completed", on_completed)
    orch.run_async(c, None, done)
    loop.run()

    waited = {"n": 0}

    def wait_done():
        waited["n"] += 1
        if os.path.exists(done_file) or waited["n"] > 1200:
            loop.quit()
            return GLib.SOURCE_REMOVE
        return GLib.SOURCE_CONTINUE

    GLib.timeout_add(50, wait_done)
    loop.run()
    engine.shutdown()
    return 0 if outcome.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3]))
