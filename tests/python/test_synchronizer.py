# The synchronizer plugin from Python: load it through Orrery.PluginEngine
# from the build tree, run a constellation with Orrery.Orchestrator on a
# simulated device, and let an agent written in Python answer completions
# by editing the graph (Orrery.EditBatch) a little later. The run
# dispatches only from the edited graph, including after its last task.
import os

import gi

gi.require_version("Orrery", "1.0")
from gi.repository import GLib, Orrery  # noqa: E402

BUILDDIR = os.environ.get("G_TEST_BUILDDIR", os.path.join(os.path.dirname(__file__), ".."))
PLUGIN_DIR = os.path.join(BUILDDIR, "..", "plugins", "synchronizer")


def sim_task(task_id, duration_ms=10):
    task = Orrery.Task.new(task_id, task_id)
    task.set_task_data(GLib.Variant("a{sv}", {"duration_ms": GLib.Variant("u", duration_ms)}))
    return task


class Run:
    """A bus, a simulated device, an orchestrator, the synchronizer."""

    def __init__(self, agent="python-agent", deadline_ms="5000"):
        self.bus = Orrery.EventBus.new()
        devices = Orrery.DeviceManager.new()
        devices.add_device(Orrery.SimulatedDevice.new("sim", None, 4))
        self.orch = Orrery.Orchestrator.new(self.bus, devices)
        self.config = Orrery.Config.new()
        if agent is not None:
            self.config.set_override("Plugin synchronizer", "Agent", agent)
        self.config.set_override("Plugin synchronizer", "EditDeadlineMs", deadline_ms)
        self.engine = Orrery.PluginEngine.new(self.bus, self.config)
        self.engine.set_use_default_path(False)
        self.engine.add_search_path(PLUGIN_DIR)
        self.engine.set_orchestrator(self.orch)
        self.engine.load_all()
        info = self.engine.lookup("synchronizer")
        assert info is not None
        assert info.get_state() == Orrery.PluginState.ENABLED, info.get_error()
        self.log = []
        self.modified = []
        self.max_holds = 0
        self.expired = 0
        self.bus.connect("event", self.on_event)
        self.orch.connect("hold-expired", self.on_expired)

    def on_event(self, bus, event):
        if event.get_kind() == Orrery.EventKind.TASK:
            self.log.append("%s:%s" % (event.get_type_nick(), event.get_task_id()))
        else:
            self.log.append(event.get_type_nick())
            if event.get_event_type() == Orrery.EventType.CONSTELLATION_MODIFIED:
                self.modified.append(list(event.get_on_task_ids() or []))
        self.max_holds = max(self.max_holds, self.orch.get_n_holds())

    def on_expired(self, orch, hold):
        self.expired += 1

    def run(self, constellation):
        loop = GLib.MainLoop()
        outcome = {}

        def done(orch, result):
            try:
                outcome["ok"] = orch.run_finish(result)
            except GLib.Error as e:
                outcome["error"] = e
            loop.quit()

        self.orch.run_async(constellation, None, done)
        GLib.timeout_add_seconds(20, loop.quit)
        loop.run()
        self.engine.shutdown()
        assert outcome.get("ok") is True, outcome
        assert self.orch.get_n_holds() == 0

    def index(self, entry):
        return self.log.index(entry)

    def before(self, a, b):
        assert self.index(a) < self.index(b), self.log


class Agent:
    """Answers every completion after `think_ms`; `plan(task_id, batch)`
    fills the batch (left empty: nothing to change)."""

    def __init__(self, run, constellation, plan, think_ms=40):
        self.run = run
        self.constellation = constellation
        self.plan = plan
        self.think_ms = think_ms
        self.holds_seen = []
        run.bus.connect("event::task-completed", self.on_completed)

    def on_completed(self, bus, event):
        task_id = event.get_task_id()
        GLib.timeout_add(self.think_ms, self.answer, task_id)

    def answer(self, task_id):
        self.holds_seen.append(self.run.orch.get_n_holds())
        batch = Orrery.EditBatch.new()
        self.plan(task_id, batch)
        batch.set_on_task_ids([task_id])
        self.constellation.apply_edits(batch)
        return GLib.SOURCE_REMOVE


def test_agent_inserts_prerequisite_and_extends_the_run():
    run = Run()
    c = Orrery.Constellation.new("python-agent", None)
    c.add_task(sim_task("a"))
    c.add_task(sim_task("b"))
    c.add_dependency("a", "b", Orrery.DependencyType.SUCCESS_ONLY, None)

    def plan(task_id, batch):
        if task_id == "a":
            # b was made ready by a: make it wait for a new task first.
            batch.add_task(sim_task("gate", 20))
            batch.add_dependency("gate", "b", Orrery.DependencyType.SUCCESS_ONLY, None)
        elif task_id == "b":
            # b was the last task: extend the run.
            batch.add_task(sim_task("extra"))
            batch.add_dependency("b", "extra", Orrery.DependencyType.SUCCESS_ONLY, None)

    agent = Agent(run, c, plan)
    run.run(c)

    run.before("task-completed:a", "constellation-modified")
    run.before("task-completed:gate", "task-started:b")
    run.before("task-completed:b", "task-started:extra")
    assert run.log[-1] == "constellation-completed"
    assert c.get_n_tasks() == 4
    # Each answer found the synchronizer's hold standing, and nothing was
    # started between a completion and the edit that answers it.
    assert agent.holds_seen == [1, 1, 1, 1]
    assert run.modified == [["a"], ["gate"], ["b"], ["extra"]]
    for i, entry in enumerate(run.log):
        if entry.startswith("task-completed:"):
            answered = run.log.index("constellation-modified", i)
            assert not any(e.startswith("task-started:") for e in run.log[i:answered]), run.log
    assert run.expired == 0


def test_no_agent_holds_nothing():
    run = Run(agent=None)
    c = Orrery.Constellation.new("python-free", None)
    c.add_task(sim_task("a"))
    c.add_task(sim_task("b"))
    c.add_dependency("a", "b", Orrery.DependencyType.SUCCESS_ONLY, None)
    run.run(c)
    assert run.max_holds == 0
    assert "constellation-modified" not in run.log
    run.before("task-completed:a", "task-started:b")
