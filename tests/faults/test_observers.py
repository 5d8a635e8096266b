# Runaway observers against the real program (the bus's budgets,
# docs/architecture.md, section 2), with the fixture faulty loaded in the
# host's process:
#
# - Recursive publish: a handler that publishes an event at every event it
#   receives, its own included, used to keep the host in the bus's drain
#   loop for ever, deaf to signals. Past publish-budget (10000) events from
#   its handlers during one outermost event, the observer is reported and
#   what it publishes from its handlers is refused: the run goes on and
#   ends as it would have, and a SIGINT sent during the loop cancels it.
# - Blocking handler: a synchronous handler that sleeps past
#   handler-budget-ms (1 s) is reported, and the task whose start it held
#   does not get the sleep in its recorded duration (the device's own times).
import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import BUILD_ROOT, ORRERY

# The bus's defaults (sdk/orrery-event-bus.h).
PUBLISH_BUDGET = 10000


@pytest.fixture
def world(tmp_path):
    # Trusted plugin directory: the user's own, not writable by others.
    os.chmod(tmp_path, 0o700)
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    dest = plugins / "faulty.so"
    shutil.copyfile(os.path.join(BUILD_ROOT, "tests", "plugins", "faulty.so"), dest)
    os.chmod(dest, 0o755)

    class World:
        pass

    w = World()
    w.dir, w.plugins, w.out = tmp_path, plugins, tmp_path / "faulty.out"
    w.conf = tmp_path / "host.conf"
    w.conf.write_text(f"[Host]\nAutoEnable=true\n[Plugin faulty]\nOutput={w.out}\n")
    return w


def constellation(w, tasks):
    path = w.dir / "c.json"
    path.write_text(json.dumps({"constellation_id": "observers", "tasks": tasks}))
    return path


def chain(n, command="true"):
    return [{"task_id": f"t{i}", "task_data": {"command": command},
             **({"dependencies": [f"t{i - 1}"]} if i else {})} for i in range(n)]


def args(w, path, *settings):
    a = ["run", "--config", w.conf, "--no-default-path", "--plugin-path", w.plugins]
    for s in settings:
        a += ["--set", s]
    return a + [path]


def journal_records(w):
    with open(w.dir / "orrery-output" / "latest" / "journal.jsonl") as f:
        return [json.loads(line) for line in f]


def reports(stderr, what):
    return [line for line in stderr.splitlines() if "Observer “faulty” failed" in line and what in line]


def wait_for(pred, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")


def test_recursive_publish_is_reported_and_refused(world, orrery):
    """The loop starts at the first task-started; the observer is reported
    once, exactly PUBLISH_BUDGET of its events go out, its later
    publications are refused (one per event it still receives: it is not
    dropped), and the run completes with every task."""
    path = constellation(world, chain(3))
    r = orrery(*args(world, path, "faulty.Mode=publish-loop", "faulty.AtType=task-started",
                     "faulty.AtEvent=1"), cwd=world.dir, timeout=120)
    assert r.returncode == 0, r
    assert "orrery: completed “observers”: 3/3 tasks completed" in r.stdout, r
    # The host points every plugin's OutputDir at the run directory; a
    # plugin that declares no such key (faulty) is not warned about it.
    assert "unknown key" not in r.stderr, r.stderr
    found = reports(r.stderr, f"published more than {PUBLISH_BUDGET} events")
    assert len(found) == 1, r
    assert "refused from now on" in found[0], r

    lines = world.out.read_text().splitlines()
    assert lines[-1].startswith("published "), lines[-10:]
    published, refused = int(lines[-1].split()[1]), int(lines[-1].split()[3])
    assert published == PUBLISH_BUDGET, lines[-1]
    assert refused >= 1, lines[-1]
    # After the first refusal the observer still gets the run's events,
    # and each of its publications then is refused: none of its echoes
    # comes after the first refusal.
    after = lines[next(i for i, l in enumerate(lines) if l.startswith("refused ")) + 1:-1]
    kinds = [l.split()[1] for l in after]
    assert "device-status-changed" not in kinds[1:], after
    assert kinds[-1] == "constellation-completed", after
    # One refusal per event handled from then on (the first is the echo
    # being handled when the budget ran out).
    assert refused == len(kinds), (refused, kinds)

    recs = journal_records(world)
    echoes = [x for x in recs if x["type"] == "device-status-changed"]
    assert len(echoes) == PUBLISH_BUDGET
    assert [x["type"] for x in recs if x["type"].startswith("task-")] == \
        ["task-started", "task-completed"] * 3
    assert recs[-1]["type"] == "constellation-completed"


def test_sigint_during_recursive_publish(world):
    """A SIGINT sent once the loop has started (from constellation-started,
    before any task) cancels the run: the host is not stuck in the drain
    loop, the run ends cancelled (exit 1) on the first signal, and the
    task's process is not left behind."""
    pids = world.dir / "pids"
    pids.mkdir()
    path = constellation(world, [{"task_id": "sleeper",
                                  "task_data": {"command": f"echo $$ > {pids}/p; exec sleep 300"}}])
    env = dict(os.environ, NO_COLOR="1")
    proc = subprocess.Popen([ORRERY, *map(str, args(world, path, "faulty.Mode=publish-loop",
                                                    "faulty.AtType=constellation-started",
                                                    "faulty.AtEvent=1"))],
                            cwd=world.dir, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        wait_for(lambda: world.out.exists() and "loop" in world.out.read_text().splitlines(),
                 "the loop to start")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail("the host did not end after SIGINT during the loop\n"
                    f"stderr: {err.decode(errors='replace')[-2000:]}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    out, err = out.decode(errors="replace"), err.decode(errors="replace")
    assert proc.returncode == 1, (proc.returncode, out, err)
    assert "orrery: cancelled “observers”" in out, out
    assert "cancelling the run" in err, err
    assert "SIGINT again: killed" not in err, err
    assert len(reports(err, f"published more than {PUBLISH_BUDGET} events")) == 1, err
    if (pids / "p").exists() and (pids / "p").read_text().strip():
        pid = int((pids / "p").read_text())
        assert not os.path.exists(f"/proc/{pid}") or \
            open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z", \
            "the task's process was left running"


def test_blocking_handler_is_reported_and_not_in_durations(world, orrery):
    """The observer sleeps 1.5 s in its handler of t1's task-started, which
    the orchestrator publishes before the device starts t1: the observer is
    reported as over its budget, the run completes, and t1's recorded
    duration (its start and end times, in the run's statistics) is the
    device's, without the sleep. Before, the start was the dispatch's and
    t1 lasted as long as the sleep."""
    path = constellation(world, chain(2))
    r = orrery(*args(world, path, "faulty.Mode=sleep", "faulty.SleepMs=1500",
                     "faulty.AtType=task-started", "faulty.AtEvent=2"), cwd=world.dir, timeout=120)
    assert r.returncode == 0, r
    assert "orrery: completed “observers”: 2/2 tasks completed" in r.stdout, r
    found = reports(r.stderr, "over its budget")
    assert len(found) == 1 and "task-started task=t1" in found[0], r

    slept = [int(l.split()[1]) for l in world.out.read_text().splitlines() if l.startswith("slept ")]
    assert len(slept) == 1 and slept[0] >= 1500, slept
    recs = journal_records(world)
    end = recs[-1]
    assert end["type"] == "constellation-completed", end
    stats = end["statistics"]
    # Each task's duration, the longest included, is shorter than the sleep
    # (true takes milliseconds), and the device's measure agrees.
    assert stats["max_task_duration"] < slept[0] / 1000, (stats["max_task_duration"], slept)
    done = {x["task"]: x for x in recs if x["type"] == "task-completed"}
    assert done["t1"]["result"]["duration"] < slept[0] / 1000, done["t1"]
