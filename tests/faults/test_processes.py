# Process lifetime and the task environment of the local device, against
# the real `orrery run`: nothing a task started outlives it (setsid escapees
# on a cancel, direct children when the host is SIGKILLed), and the
# ORRERY_OUTPUTS file drives conditional branches.
#
# Each test gives its sleepers a unique duration (`sleep 1000.NNNNN`) and
# finds them by that argument in /proc/*/cmdline.
import json
import os
import random
import signal
import subprocess
import time

import pytest

from conftest import ORRERY


def marker():
    return "1000.%d%04d" % (os.getpid(), random.randrange(10000))


def live_with_arg(arg):
    """Pids of the live (not zombie) processes with @arg in their command line."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            with open(f"/proc/{name}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if arg.encode() in argv and state not in ("Z", "X"):
            found.append(int(name))
    return found


def wait_for(predicate, what, timeout=20):
    """Waits for a condition (not a timing assertion: the bound only ends a hang)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def assert_none_left(arg):
    # Killed processes re-parented to init are reaped asynchronously: give
    # them a moment, then none may be left.
    deadline = time.monotonic() + 5
    while live_with_arg(arg) and time.monotonic() < deadline:
        time.sleep(0.02)
    left = live_with_arg(arg)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    assert left == [], f"processes left behind: {left}"


_started = []


@pytest.fixture(autouse=True)
def no_leftover_host():
    """A failed test never leaves its `orrery run` (and so its tasks) behind."""
    yield
    while _started:
        proc = _started.pop()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()


def start_run(path, *args):
    """`orrery run` in the constellation's directory (its run directories go there)."""
    env = dict(os.environ, NO_COLOR="1")
    proc = subprocess.Popen([ORRERY, "run", "--no-plugins", str(path), *map(str, args)], env=env,
                            cwd=os.path.dirname(str(path)),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    _started.append(proc)
    return proc


def finish(proc, timeout=60):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"orrery run hung\nstdout: {out.decode()[-2000:]}\nstderr: {err.decode()[-2000:]}")
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def write_constellation(tmp_path, tasks, dependencies=()):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"constellation_id": "procs", "tasks": tasks,
                                "dependencies": list(dependencies)}))
    return path


@pytest.mark.parametrize("how", ["sigterm", "timeout"])
def test_setsid_escapee_does_not_survive(tmp_path, how):
    """A task whose child leaves its process group (setsid) and which then
    waits: a SIGTERM of the host (cancel) or the task's timeout kills the
    escaped child too."""
    m = marker()
    task = {"task_id": "escape", "task_data": {"command": f"setsid sleep {m} & wait"}}
    if how == "timeout":
        task["timeout"] = 1
    proc = start_run(write_constellation(tmp_path, [task]))
    wait_for(lambda: live_with_arg(m), "the escaped sleeper to start")
    if how == "sigterm":
        proc.send_signal(signal.SIGTERM)
    status, out, err = finish(proc)
    assert status == 1, (out, err)
    assert ("cancelled" if how == "sigterm" else "failed") in out
    assert_none_left(m)


def test_escapee_of_finished_task_killed(tmp_path):
    """A task that starts a daemon (double fork, new session) and exits:
    the daemon goes when the task ends; the run still succeeds."""
    m = marker()
    tasks = [{"task_id": "daemon",
              "task_data": {"command": f"(setsid sleep {m} &); sleep 0.2"}},
             {"task_id": "after", "task_data": {"command": "true"}}]
    proc = start_run(write_constellation(tmp_path, tasks,
                                         [{"from_task_id": "daemon", "to_task_id": "after"}]))
    status, out, err = finish(proc)
    assert status == 0, (out, err)
    assert_none_left(m)


def test_host_sigkill_kills_direct_children(tmp_path):
    """SIGKILL of the host while tasks run: their processes get
    PR_SET_PDEATHSIG and die with it instead of running on for good."""
    m = marker()
    conf = tmp_path / "orrery.conf"
    conf.write_text("[Device local]\nMaxConcurrency=3\n")
    tasks = [{"task_id": f"sleep-{i}", "task_data": {"command": ["sleep", m]}} for i in range(3)]
    proc = start_run(write_constellation(tmp_path, tasks), "--config", conf)
    wait_for(lambda: len(live_with_arg(m)) == 3, "three sleepers to start")
    proc.kill()
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    assert_none_left(m)


@pytest.mark.parametrize("rows,taken,not_taken", [(2000, "bulk", "small"), (10, "small", "bulk")])
def test_outputs_drive_conditional_branch(tmp_path, rows, taken, not_taken):
    """A shell task writes {"rows": N} to $ORRERY_OUTPUTS; the edge
    `outputs.rows >= 1000` is taken or not accordingly."""
    tasks = [
        {"task_id": "count", "task_data": {"command": f"printf '{{\"rows\": {rows}}}' > \"$ORRERY_OUTPUTS\""}},
        {"task_id": "bulk", "task_data": {"command": ["touch", str(tmp_path / "bulk.ran")]}},
        {"task_id": "small", "task_data": {"command": ["touch", str(tmp_path / "small.ran")]}},
    ]
    deps = [
        {"from_task_id": "count", "to_task_id": "bulk", "dependency_type": "conditional",
         "condition": "outputs.rows >= 1000"},
        {"from_task_id": "count", "to_task_id": "small", "dependency_type": "conditional",
         "condition": {"field": "outputs.rows", "operator": "<", "value": 1000}},
    ]
    status, out, err = finish(start_run(write_constellation(tmp_path, tasks, deps)))
    assert status == 0, (out, err)
    assert (tmp_path / f"{taken}.ran").exists()
    assert not (tmp_path / f"{not_taken}.ran").exists()
    assert "2/3 tasks completed, 0 failed, 1 skipped" in out


def run_dir_of(tmp_path):
    runs = list((tmp_path / "orrery-output" / "runs").iterdir())
    assert len(runs) == 1
    return runs[0]


def test_malformed_outputs_fail_the_task_naming_the_file(tmp_path):
    tasks = [{"task_id": "bad", "task_data": {"command": "echo '{\"rows\":' > \"$ORRERY_OUTPUTS\""}}]
    journal = tmp_path / "journal.jsonl"
    status, out, err = finish(start_run(write_constellation(tmp_path, tasks), "--journal", journal))
    assert status == 1, (out, err)
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    error = [r for r in records if r["type"] == "task-failed" and r["task"] == "bad"][0]["error"]["message"]
    run_dir = run_dir_of(tmp_path)
    assert f"outputs file {run_dir.resolve()}/logs/bad.1.outputs.json: not valid JSON" in error, error


def test_logs_in_the_run_directory(tmp_path):
    """Each attempt's stdout and stderr, complete on disk (beyond the 64 KiB
    a result keeps), private; the process record gone after the run."""
    tasks = [{"task_id": "talk", "task_data": {"command": "seq 1 100000; echo done >&2"}}]
    status, out, err = finish(start_run(write_constellation(tmp_path, tasks)))
    assert status == 0, (out, err)
    logs = run_dir_of(tmp_path) / "logs"
    stdout = (logs / "talk.1.stdout").read_text()
    assert stdout == "".join(f"{i}\n" for i in range(1, 100001))
    assert len(stdout) > 64 * 1024
    assert (logs / "talk.1.stderr").read_text() == "done\n"
    assert os.stat(logs).st_mode & 0o777 == 0o700
    for f in ("talk.1.stdout", "talk.1.stderr"):
        assert os.stat(logs / f).st_mode & 0o777 == 0o600
    # No outputs written, no outputs file (it is not made in advance).
    assert not (logs / "talk.1.outputs.json").exists()
    # The record's line was blanked (the file keeps the slot).
    assert (logs / "processes").read_text().strip() == ""
    assert os.stat(logs / "processes").st_mode & 0o777 == 0o600


def test_task_environment(tmp_path):
    out_file = tmp_path / "env.txt"
    tasks = [{"task_id": "show-env",
              "task_data": {"command": "printf '%s|%s|%s|%s|%s' \"$ORRERY_RUN_ID\" "
                                       "\"$ORRERY_CONSTELLATION_ID\" "
                                       "\"$ORRERY_TASK_ID\" \"$ORRERY_ATTEMPT\" "
                                       f"\"$ORRERY_OUTPUTS\" > {out_file}"}}]
    status, out, err = finish(start_run(write_constellation(tmp_path, tasks)))
    assert status == 0, (out, err)
    run_dir = run_dir_of(tmp_path)
    run_id, constellation, task, attempt, outputs = out_file.read_text().split("|")
    assert run_id == run_dir.name
    assert (constellation, task, attempt) == ("procs", "show-env", "1")
    # Where the task may write; nothing there (it wrote nothing).
    assert os.path.realpath(outputs) == os.path.realpath(run_dir / "logs" / "show-env.1.outputs.json")
    assert not os.path.exists(outputs)


@pytest.mark.parametrize("escape", [False, True])
def test_resume_kills_what_a_sigkilled_host_left(tmp_path, escape):
    """SIGKILL of the host while a shell task runs a background sleeper: the
    shell dies with the host (pdeathsig), the sleeper does not (it is not a
    direct child; with setsid it is not even in the group). `orrery resume`
    kills it, from the process record, before running the task again."""
    m = marker()
    flag = tmp_path / "first-attempt-done"
    start = "setsid sleep" if escape else "sleep"
    tasks = [{"task_id": "long",
              "task_data": {"command": f"if [ ! -e {flag} ]; then touch {flag}; {start} {m} & wait; fi"}}]
    path = write_constellation(tmp_path, tasks)
    proc = start_run(path)
    wait_for(lambda: live_with_arg(m), "the sleeper to start")
    wait_for(lambda: any(f.read_text().strip() for f in
                         (tmp_path / "orrery-output" / "runs").glob("*/logs/processes")),
             "the process record")
    proc.kill()
    proc.communicate()
    # The leftover is there (and would run on for good without resume).
    assert live_with_arg(m)

    env = dict(os.environ, NO_COLOR="1")
    resume = subprocess.Popen([ORRERY, "resume", "--last", "--no-plugins"], cwd=tmp_path, env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, start_new_session=True)
    _started.append(resume)
    status, out, err = finish(resume)
    assert status == 0, (out, err)
    assert_none_left(m)
    assert not any(f.read_text().strip() for f in
                   (tmp_path / "orrery-output" / "runs").glob("*/logs/processes"))
