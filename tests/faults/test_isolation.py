# Crash-contained plugins, against the real program: the fixture faulty,
# run with --isolate (or Isolation=process), segfaults, aborts in init,
# blocks in a handler, exits mid-run or writes garbage on its socket; the
# run completes with exit 0, the fixture good (in process) receives every
# event in order, and the failure is reported with its reason at the end.
import json
import os
import shutil
import subprocess

import pytest

from conftest import BUILD_ROOT


def fixture(name):
    return os.path.join(BUILD_ROOT, "tests", "plugins", name + ".so")


N_TASKS = 5
# Every event of a chain of N_TASKS local tasks, in order.
EXPECTED = (["constellation-started"] + ["task-started", "task-completed"] * N_TASKS
            + ["constellation-completed"])


@pytest.fixture
def world(tmp_path):
    os.chmod(tmp_path, 0o700)
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    for name in ("faulty", "good"):
        dest = plugins / (name + ".so")
        shutil.copyfile(fixture(name), dest)
        os.chmod(dest, 0o755)
    tasks = {}
    for i in range(N_TASKS):
        tasks[f"t{i}"] = {"task_id": f"t{i}", "device_type": "LINUX",
                          "task_data": {"command": "true"},
                          **({"dependencies": [f"t{i - 1}"]} if i else {})}
    constellation = tmp_path / "chain.json"
    constellation.write_text(json.dumps({"constellation_id": "iso", "tasks": tasks}))

    class World:
        pass

    w = World()
    w.dir, w.plugins, w.constellation = tmp_path, plugins, constellation
    w.good_out = tmp_path / "good.out"
    w.faulty_out = tmp_path / "faulty.out"
    return w


def run(orrery, w, *settings, isolate=True, conf_text=""):
    conf = w.dir / "host.conf"
    conf.write_text("[Host]\nAutoEnable=true\n"
                    f"[Plugin good]\nOutput={w.good_out}\n"
                    f"[Plugin faulty]\nOutput={w.faulty_out}\nDeadlineMs=500\n" + conf_text)
    args = ["run", "--config", conf, "--no-default-path", "--plugin-path", w.plugins]
    if isolate:
        args += ["--isolate", "faulty"]
    for s in settings:
        args += ["--set", s]
    args.append(w.constellation)
    return orrery(*args, cwd=w.dir, timeout=60)


def good_events(w):
    return w.good_out.read_text().split()


@pytest.mark.parametrize("mode,reason", [
    ("segv", "crashed with SIGSEGV at event 3, task-completed t0"),
    ("exit", "exited with status 0 at event 3, task-completed t0"),
    ("block", "did not answer within 1000 ms at event 3, task-completed t0; killed"),
    ("garbage", "sent a message of unknown kind"),
])
def test_fault_costs_only_the_plugin(orrery, world, mode, reason):
    r = run(orrery, world, f"faulty.Mode={mode}", "faulty.AtEvent=3")
    assert r.returncode == 0, r
    assert "5/5 tasks completed" in r.stdout, r
    assert good_events(world) == EXPECTED
    # The end-of-run report says which plugin failed, and why.
    line = [l for l in r.stderr.splitlines() if "failed during the run" in l]
    assert len(line) == 1, r
    assert "plugin “faulty”" in line[0] and reason in line[0], r
    # What it received before the fault, in order (garbage mode goes on
    # with its handler after writing, until the host, reading the garbage,
    # kills it: event 3 may or may not be written).
    seen = [int(l.split()[0]) for l in world.faulty_out.read_text().splitlines()]
    if mode == "garbage":
        assert seen in ([1, 2], [1, 2, 3])
    else:
        assert seen == [1, 2]


@pytest.mark.parametrize("mode,reason", [
    ("abort-init", "crashed with SIGABRT in init"),
    ("hang-init", "did not answer within 500 ms in init"),
])
def test_init_fault(orrery, world, mode, reason):
    r = run(orrery, world, f"faulty.Mode={mode}", "faulty.InitDeadlineMs=500")
    assert r.returncode == 0, r
    assert good_events(world) == EXPECTED
    line = [l for l in r.stderr.splitlines() if "not loaded" in l and "faulty" in l]
    assert len(line) == 1 and reason in line[0], r
    assert "failed during the run" not in r.stderr


def test_isolated_sees_what_in_process_sees(orrery, world):
    r = run(orrery, world)
    assert r.returncode == 0, r
    assert "failed" not in r.stderr, r
    names = [l.split()[1] for l in world.faulty_out.read_text().splitlines()]
    assert names == EXPECTED == good_events(world)


@pytest.mark.parametrize("isolate", [True, False], ids=["isolated", "in-process"])
def test_queued_gets_every_event(orrery, world, isolate):
    # Queued, events arrive batched, in bus order, every one of them: the
    # run's last events are still in the bus's queue when the run ends, and
    # used to be dropped at shutdown (in process too; under the sanitizers
    # often all of them). The host drains the queues first.
    r = run(orrery, world, "faulty.Delivery=queued", isolate=isolate)
    assert r.returncode == 0, r
    assert "failed" not in r.stderr, r
    lines = world.faulty_out.read_text().splitlines()
    assert [l.split()[1] for l in lines] == EXPECTED, r
    assert [int(l.split()[0]) for l in lines] == list(range(1, len(EXPECTED) + 1))


def test_restart_on_failure(orrery, world):
    # Each new helper crashes on its own 2nd event; two restarts, then failed.
    r = run(orrery, world, "faulty.Mode=segv", "faulty.AtEvent=2",
            conf_text="Restart=on-failure\nRestartLimit=2\n")
    assert r.returncode == 0, r
    assert good_events(world) == EXPECTED
    assert r.stderr.count("Restarting isolated plugin") == 2, r
    seen = [int(l.split()[0]) for l in world.faulty_out.read_text().splitlines()]
    assert len(seen) == 3 and seen == sorted(seen), r
    assert "failed during the run" in r.stderr


def test_bad_isolation_value(orrery, world):
    # A bad value on the command line is a usage error, before anything runs.
    for setting in ("faulty.Isolation=jail", "faulty.Restart=always", "faulty.RestartLimit=-1"):
        r = run(orrery, world, setting, isolate=False)
        assert r.returncode == 2, r
        key, value = setting.split(".", 1)[1].split("=")
        assert key in r.stderr and value in r.stderr, r
        assert not world.good_out.exists(), r


def test_bad_isolation_value_in_file(orrery, world):
    # In the configuration file, the plugin is refused with the reason;
    # the run goes on.
    r = run(orrery, world, isolate=False, conf_text="Isolation=jail\n")
    assert r.returncode == 0, r
    assert "Isolation" in r.stderr and "jail" in r.stderr, r


def test_plugins_shows_isolation(orrery, world):
    conf = world.dir / "host.conf"
    conf.write_text("[Plugin faulty]\nIsolation=process\nRestart=on-failure\nRestartLimit=2\n")
    r = orrery("plugins", "--config", conf, "--no-default-path", "--plugin-path", world.plugins,
               cwd=world.dir, timeout=60)
    assert r.returncode == 0, r
    block = r.stdout.split("\nfaulty ", 1)[1].split("\ngood ", 1)[0]
    assert "isolation: process (orrery-plugin-host), restarted on failure up to 2 times" in block, r
    assert "isolation:" not in r.stdout.split("\ngood ", 1)[1], r


@pytest.mark.parametrize("mode,reason", [
    ("flood-holds", "took more than 1024 holds at event 3, task-completed t0; killed"),
    ("flood-calls", "made calls faster than"),
])
def test_flood_costs_only_the_plugin(orrery, world, mode, reason):
    # DeadlineMs large: the budget kills it, not the deadline.
    r = run(orrery, world, f"faulty.Mode={mode}", "faulty.AtEvent=3", "faulty.DeadlineMs=60000")
    assert r.returncode == 0, r
    assert "5/5 tasks completed" in r.stdout, r
    assert good_events(world) == EXPECTED
    line = [l for l in r.stderr.splitlines() if "failed during the run" in l]
    assert len(line) == 1 and reason in line[0], r


def test_isolated_hold_and_cancel_act_on_the_host(orrery, world):
    # A hold from the helper keeps the run open until it expires there...
    r = run(orrery, world, "faulty.Mode=hold", "faulty.AtEvent=3", "faulty.HoldMs=300")
    assert r.returncode == 0, r
    assert "Hold #1 (faulty holds) expired" in r.stderr, r
    assert "hold-expired" in world.faulty_out.read_text().split("\n"), r
    # ... and a cancel from it cancels the host's run (exit 1).
    r = run(orrery, world, "faulty.Mode=cancel", "faulty.AtEvent=3")
    assert r.returncode == 1, r
    assert "faulty says stop" in r.stdout + r.stderr, r


def test_same_fixture_in_process(orrery, world):
    # Not isolated, the harmless fixture behaves the same (the crash modes
    # would take the host down: that is what isolation is for).
    r = run(orrery, world, isolate=False)
    assert r.returncode == 0, r
    names = [l.split()[1] for l in world.faulty_out.read_text().splitlines()]
    assert names == EXPECTED


def test_helper_refuses_to_run_by_hand():
    helper = os.path.join(BUILD_ROOT, "host", "orrery-plugin-host")
    r = subprocess.run([helper, "--name", "x"], capture_output=True, text=True, timeout=10,
                       stdin=subprocess.DEVNULL, close_fds=True)
    assert r.returncode == 2
    assert "only orrery starts it" in r.stderr
