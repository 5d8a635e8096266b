# Scale (dispatch and layers in time linear in the work, docs/architecture.md,
# sections 3 and 4): the real program on the shapes that used to take
# minutes. The timeouts are the fixture's hang detector, far above what the
# runs take now (seconds), far below what they took (20k targeted tasks:
# 287 s; a 100k chain in `orrery show`: hours).
import json
import os
import re

SOURCE_ROOT = os.environ.get("ORRERY_SOURCE_ROOT", ".")

# The sanitizer pass exports ASAN_OPTIONS with fast_unwind_on_malloc=0:
# every allocation is then unwound through DWARF, which made these runs of
# 20k tasks 13 to 14 times slower (measured: `orrery show` of the 20k chain
# 8.3 s of CPU against 0.6 s, the 20k targeted run 32.5 s against 2.3 s),
# past their timeout once the machine was loaded (~30). They still run
# under ASan and LeakSanitizer, with the default (frame pointer) unwinding:
# only a report's allocation stacks are shorter.
ENV = ({"ASAN_OPTIONS": re.sub(r"(^|:)fast_unwind_on_malloc=0", "", os.environ["ASAN_OPTIONS"])}
       if "ASAN_OPTIONS" in os.environ else None)


def test_targeted_tasks_with_two_devices(orrery, tmp_path):
    """data/simulated.conf has two devices (local and sim); 20k tasks all
    target the busy one, so every completion used to rescan the 20k."""
    n = 20000
    tasks = [{"task_id": "t%05d" % i, "target_device_id": "sim",
              "task_data": {"duration_ms": 0}} for i in range(n)]
    f = tmp_path / "targeted.json"
    f.write_text(json.dumps({"constellation_id": "targeted", "tasks": tasks}))
    conf = os.path.join(SOURCE_ROOT, "data", "simulated.conf")
    r = orrery("run", "--no-plugins", "--config", conf, f, cwd=tmp_path, timeout=120, env=ENV)
    assert r.returncode == 0, r
    assert f"{n}/{n} tasks completed" in r.stdout, r


def test_show_long_chain(orrery, tmp_path):
    """`orrery show` lays the DAG out by layers: a 100k chain is 100k
    layers, which used to cost a pass over every task per layer."""
    # Under the sanitizers (about 30 times slower) a 20k chain says the same.
    n = 20000 if os.environ.get("ASAN_OPTIONS") else 100000
    tasks = [{"task_id": "c%06d" % i} for i in range(n)]
    deps = [{"from_task_id": "c%06d" % (i - 1), "to_task_id": "c%06d" % i} for i in range(1, n)]
    f = tmp_path / "chain.json"
    f.write_text(json.dumps({"constellation_id": "chain", "tasks": tasks, "dependencies": deps}))
    r = orrery("show", f, cwd=tmp_path, timeout=120, env=ENV)
    assert r.returncode == 0, r
    assert f"{n} layers" in r.stdout, r.stdout[:500]
