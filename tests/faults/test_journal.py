# The journal against the real `orrery` program: crashes (SIGKILL of the
# host at random moments, each followed by `orrery resume`), a torn last
# line, a full disk, replay, `--journal -`, `watch` on a run written by
# another process, file modes and bad journals.
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from conftest import ORRERY, SOURCE_ROOT


def write_constellation(path, tasks, deps=(), dep_type="unconditional"):
    path.write_text(json.dumps({"constellation_id": "journal-test", "tasks": tasks,
                                "dependencies": [{"from_task_id": a, "to_task_id": b, "dependency_type": dep_type}
                                                 for a, b in deps]}))
    return path


def records(path):
    with open(path, "rb") as f:
        return [json.loads(line) for line in f.read().split(b"\n") if line]


def wait_for(pred, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.01)
    return False


def marker_processes(marker):
    out = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


# 500 tasks and 20 kills at random moments, each followed by a resume
# (about ten seconds): every task completes exactly once among the
# recorded completions, no task recorded as finished starts again, and no
# task process is left. ORRERY_TEST_SEED replays a run.
def test_sigkill_and_resume(tmp_path, orrery):
    seed = int(os.environ.get("ORRERY_TEST_SEED", time.time()))
    rng = random.Random(seed)
    print(f"seed {seed}")
    marker = f"orrery-journal-kill-{os.getpid()}"
    n = 500
    tasks = [{"task_id": f"t{i:03d}",
              "task_data": {"command": f"sleep 0.0{rng.randint(1, 5)} # {marker}"}}
             for i in range(n)]
    deps = [(f"t{i:03d}", f"t{i + 10:03d}") for i in range(0, n - 10, 7)]
    file = write_constellation(tmp_path / "many.json", tasks, deps)
    journal = tmp_path / "orrery-output" / "latest" / "journal.jsonl"

    kills = 0
    args = ["run", "--no-plugins", "-j", "4", file]
    while kills < 20:
        proc = subprocess.Popen([ORRERY, *map(str, args)], cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # Kill once the run is on record, at a random moment of it.
        assert wait_for(lambda: journal.exists() and journal.stat().st_size > 0 or proc.poll() is not None)
        time.sleep(rng.uniform(0.0, 0.25))
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        args = ["resume", "--no-plugins", "-j", "4", "--last"]
    if not any(x["type"] == "constellation-completed" for x in records(journal)):
        r = orrery("resume", "--no-plugins", "-j", "4", "--last", cwd=tmp_path, timeout=120)
        assert r.returncode == 0, r
    recs = records(journal)
    assert recs[-1]["type"] == "constellation-completed"
    completed = [x["task"] for x in recs if x["type"] == "task-completed"]
    assert sorted(completed) == sorted(t["task_id"] for t in tasks), "each task completed exactly once"
    finished = set()
    for x in recs:
        if x["type"] == "task-started":
            assert x["task"] not in finished, f"{x['task']} started again after it finished"
        if x["type"] in ("task-completed", "task-failed"):
            finished.add(x["task"])
    # Sequence numbers consecutive across every resume, one run id.
    assert [x["seq"] for x in recs] == list(range(1, len(recs) + 1))
    assert sum(x["type"] == "run-resumed" for x in recs) >= min(kills, 1)
    print(f"{kills} kills, {sum(x['type'] == 'run-resumed' for x in recs)} resumes")
    # Attempt numbers go on across resumes for tasks that were running.
    assert wait_for(lambda: not marker_processes(marker), timeout=10), "task processes left behind"


def interrupted_journal(tmp_path):
    """A journal whose run was killed: a done, b running."""
    flag = tmp_path / "flag"
    file = write_constellation(tmp_path / "two.json", [
        {"task_id": "a", "task_data": {"command": "true"}},
        {"task_id": "b", "task_data": {"command": f"if [ ! -e {flag} ]; then touch {flag}; kill -KILL $PPID; fi"}},
    ], [("a", "b")])
    journal = tmp_path / "j.jsonl"
    r = run_plain("run", "--no-plugins", "--journal", journal, file, cwd=tmp_path)
    assert r.returncode == -signal.SIGKILL, r
    return journal


def run_plain(*args, cwd):
    p = subprocess.run([ORRERY, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=60)
    return p


def test_torn_last_line_is_ignored_and_resume_goes_on(tmp_path, orrery):
    journal = interrupted_journal(tmp_path)
    with open(journal, "ab") as f:
        f.write(b'{"seq":99,"type":"task-comp')
    r = orrery("resume", "--no-plugins", journal, cwd=tmp_path)
    assert r.returncode == 0, r
    assert "torn last line" in r.stderr and str(journal) in r.stderr
    recs = records(journal)  # every line whole again
    assert recs[-1]["type"] == "constellation-completed"
    assert [x["seq"] for x in recs] == list(range(1, len(recs) + 1))


def test_bad_journals_are_refused_and_left_alone(tmp_path, orrery):
    journal = interrupted_journal(tmp_path)
    lines = journal.read_bytes().split(b"\n")[:-1]
    header = json.loads(lines[0])
    other = dict(header, format=2)
    cases = {
        "not-a-journal": (open(os.path.join(SOURCE_ROOT, "data", "constellations", "demo.json"), "rb").read(),
                          ":1: not an Orrery journal"),
        "version": (b"\n".join([json.dumps(other).encode()] + lines[1:]) + b"\n", ":1: journal format version 2"),
        "gap": (b"\n".join(lines[:2] + lines[3:]) + b"\n", ":3: gap in the sequence numbers"),
        "repeat": (b"\n".join(lines[:3] + lines[2:]) + b"\n", ":4: sequence number 3 repeats"),
        "garbage": (b"\n".join(lines[:2] + [b"{not json"] + lines[2:]) + b"\n", ":3: not a journal record"),
        "empty": (b"", ":1: not an Orrery journal"),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / f"{name}.jsonl"
        path.write_bytes(content)
        r = orrery("resume", "--no-plugins", path, cwd=tmp_path)
        assert r.returncode in (2, 3), (name, r)
        assert f"{path}{message}" in r.stderr, (name, r)
        assert path.read_bytes() == content, f"{name}: the journal was written to"
    # A run that completed: nothing to resume, nothing written.
    assert orrery("resume", "--no-plugins", journal, cwd=tmp_path).returncode == 0
    before = journal.read_bytes()
    r = orrery("resume", "--no-plugins", journal, cwd=tmp_path)
    assert r.returncode == 2, r
    assert "nothing to resume" in r.stderr and str(journal) in r.stderr
    assert journal.read_bytes() == before


def test_retry_failed(tmp_path, orrery):
    flag = tmp_path / "flag"
    file = write_constellation(tmp_path / "f.json", [
        {"task_id": "a", "task_data": {"command": f"test -e {flag}"}},
        {"task_id": "b", "task_data": {"command": "true"}},
    ], [("a", "b")], dep_type="success_only")
    journal = tmp_path / "j.jsonl"
    r = orrery("run", "--no-plugins", "--journal", journal, file, cwd=tmp_path)
    assert r.returncode == 1 and "1 failed, 1 skipped" in r.stdout, r
    r = orrery("resume", "--no-plugins", journal, cwd=tmp_path)
    assert r.returncode == 2 and "--retry-failed" in r.stderr, r
    flag.touch()
    r = orrery("resume", "--no-plugins", "--retry-failed", journal, cwd=tmp_path)
    assert r.returncode == 0, r
    recs = records(journal)
    starts = [(x["task"], x["attempt"]) for x in recs if x["type"] == "task-started"]
    assert starts == [("a", 1), ("a", 2), ("b", 1)]


def test_journal_mode_and_run_directory(tmp_path, orrery):
    file = write_constellation(tmp_path / "one.json", [{"task_id": "a", "task_data": {"command": "true"}}])
    r = orrery("run", "--no-plugins", file, cwd=tmp_path)
    assert r.returncode == 0, r
    latest = tmp_path / "orrery-output" / "latest"
    assert latest.is_symlink() and os.readlink(latest).startswith("runs/journal-test-")
    journal = latest / "journal.jsonl"
    assert (journal.stat().st_mode & 0o777) == 0o600
    assert (latest / "logs").is_dir()
    recs = records(journal)
    assert recs[0]["type"] == "header" and recs[0]["format"] == 1
    assert recs[0]["run_id"] == os.path.basename(os.readlink(latest))
    assert recs[0]["constellation"]["constellation_id"] == "journal-test"
    # A second run gets its own directory; latest moves.
    assert orrery("run", "--no-plugins", file, cwd=tmp_path).returncode == 0
    assert len(os.listdir(tmp_path / "orrery-output" / "runs")) == 2
    # A journal is never overwritten.
    r = orrery("run", "--no-plugins", "--journal", journal, file, cwd=tmp_path)
    assert r.returncode == 2 and "never overwritten" in r.stderr, r
    # A journal elsewhere: the run directory leads to it.
    elsewhere = tmp_path / "elsewhere.jsonl"
    assert orrery("run", "--no-plugins", "--journal", elsewhere, file, cwd=tmp_path).returncode == 0
    assert os.path.samefile(latest / "journal.jsonl", elsewhere)


def test_journal_to_stdout(tmp_path, orrery):
    file = write_constellation(tmp_path / "three.json", [
        {"task_id": t, "task_data": {"command": f"echo {t}"}} for t in "abc"], [("a", "b"), ("b", "c")])
    r = orrery("run", "--no-plugins", "--journal", "-", file, cwd=tmp_path)
    assert r.returncode == 0, r
    recs = [json.loads(line) for line in r.stdout.splitlines()]
    assert recs[0]["type"] == "header"
    assert [x["seq"] for x in recs] == list(range(1, len(recs) + 1))
    assert [x["task"] for x in recs if x["type"] == "task-completed"] == ["a", "b", "c"]
    assert recs[-1]["type"] == "constellation-completed"
    assert "3/3 tasks completed" in r.stderr
    # The run directory keeps the same records, for resume.
    kept = records(tmp_path / "orrery-output" / "latest" / "journal.jsonl")
    assert kept == recs


@contextlib.contextmanager
def small_tmpfs(mnt, options, what):
    """A 64 KiB tmpfs at MNT (with OPTIONS), unmounted afterwards; the test
    is skipped, naming WHAT, where the machine refuses the mount."""
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k" + options, "tmpfs", str(mnt)],
                      capture_output=True).returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {what} is not tested")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)])


def test_full_disk_fails_the_run(tmp_path, orrery):
    with small_tmpfs(tmp_path / "small", "", "the full-disk case") as mnt:
        file = write_constellation(tmp_path / "big.json", [
            {"task_id": f"t{i:03d}", "name": "n" * 300, "task_data": {"command": "true"}} for i in range(300)])
        r = orrery("run", "--no-plugins", "--journal", mnt / "j.jsonl", file, cwd=tmp_path)
        assert r.returncode == 1, r
        assert f"Cannot write the journal “{mnt / 'j.jsonl'}”: No space left on device" in r.stdout + r.stderr


def test_read_only_file_system_fails_the_run(tmp_path, orrery):
    """A journal or a run directory on a read-only file system (root ignores
    permission bits, not a read-only mount): the run fails, naming it, and
    no task runs."""
    with small_tmpfs(tmp_path / "ro", ",ro", "the read-only case") as mnt:
        mark = tmp_path / "ran"
        file = write_constellation(tmp_path / "one.json", [
            {"task_id": "a", "task_data": {"command": ["touch", str(mark)]}}])
        r = orrery("run", "--no-plugins", "--journal", mnt / "j.jsonl", file, cwd=tmp_path)
        assert r.returncode == 1, r
        assert f"Cannot create the journal “{mnt / 'j.jsonl'}”: Read-only file system" in r.stderr, r
        assert not mark.exists()
        r = orrery("run", "--no-plugins", "--set", f"Host.OutputDir={mnt / 'out'}", file, cwd=tmp_path)
        assert r.returncode == 1, r
        assert "Cannot create the run directory" in r.stderr and "Read-only file system" in r.stderr, r
        assert not mark.exists()


def test_replay_metrics_equal_live_metrics(tmp_path, orrery):
    conf = os.path.join(SOURCE_ROOT, "data", "simulated.conf")
    demo = os.path.join(SOURCE_ROOT, "data", "constellations", "fan-out-fan-in.json")
    env = {"ORRERY_PLUGIN_PATH": os.path.join(os.environ.get("ORRERY_BUILD_ROOT", "."), "plugins")}
    r = orrery("run", "--config", conf, "--enable", "metrics", demo, cwd=tmp_path, env=env)
    assert r.returncode in (0, 1), r
    run_dir = tmp_path / "orrery-output" / "latest"
    live = json.loads((run_dir / "metrics.json").read_text())
    r = orrery("replay", "--config", conf, "--enable", "metrics", run_dir, cwd=tmp_path, env=env)
    assert r.returncode == 0, r
    replayed = json.loads((run_dir / "replay" / "metrics.json").read_text())
    live.pop("observers", None)
    replayed.pop("observers", None)
    assert replayed == live


def test_watch_follows_another_process(tmp_path, orrery):
    file = write_constellation(tmp_path / "slow.json", [
        {"task_id": t, "task_data": {"command": "sleep 0.2"}} for t in "abcd"],
        [("a", "b"), ("b", "c"), ("c", "d")])
    journal = tmp_path / "j.jsonl"
    writer = subprocess.Popen([ORRERY, "run", "--no-plugins", "--journal", str(journal), str(file)],
                              cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: journal.exists() and journal.stat().st_size > 0)
        r = orrery("watch", journal, cwd=tmp_path, timeout=60)
    finally:
        writer.wait(timeout=60)
    assert r.returncode == 0, r
    lines = r.stdout.splitlines()
    completed = [line.split()[2] for line in lines if "task-completed" in line]
    assert completed == ["a", "b", "c", "d"]
    assert "constellation-completed" in r.stdout
    assert "completed: 4/4 tasks completed" in lines[-1]
    # Watching a run that has ended prints its summary.
    r = orrery("watch", journal, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.count("\n") == 1 and "4/4 tasks completed" in r.stdout, r


def test_replay_speed_scales_the_gaps(tmp_path, orrery):
    """--speed N replays the recorded gaps divided by N. A journal whose
    last event comes 1000 s after the others: at --speed 1 the replay is
    still waiting for it 2 s later (a lower bound only: a loaded machine
    makes it later still); at --speed 1000000 the gap is a millisecond and
    the replay ends (within a generous bound), as it does at full speed.
    Ignoring --speed, or applying it the wrong way round, fails one of
    the two."""
    file = write_constellation(tmp_path / "two.json", [
        {"task_id": t, "task_data": {"command": "true"}} for t in "ab"], [("a", "b")])
    journal = tmp_path / "j.jsonl"
    r = run_plain("run", "--no-plugins", "--journal", journal, file, cwd=tmp_path)
    assert r.returncode == 0, r
    lines = journal.read_bytes().split(b"\n")[:-1]
    last = json.loads(lines[-1])
    last["ts"] += 1000 * 1000 * 1000
    lines[-1] = json.dumps(last, separators=(",", ":")).encode()
    gap = tmp_path / "gap.jsonl"
    gap.write_bytes(b"\n".join(lines) + b"\n")

    slow = subprocess.Popen([ORRERY, "replay", "--no-default-path", "--speed", "1", str(gap)], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(2)
        assert slow.poll() is None, "--speed 1 did not wait for the 1000 s gap"
    finally:
        slow.kill()
        slow.wait()
    r = orrery("replay", "--no-default-path", "--speed", "1000000", gap, cwd=tmp_path, timeout=60)
    assert r.returncode == 0, r
    r = orrery("replay", "--no-default-path", gap, cwd=tmp_path, timeout=60)
    assert r.returncode == 0, r


def test_watch_ends_when_the_writer_is_killed(tmp_path, orrery):
    """A writer SIGKILLed mid-run leaves a journal with no end record:
    `watch` learns it from the writer's lock (the kernel drops it with the
    process) and ends with exit 1 and a message, instead of waiting for
    ever. While the writer lives, a second writer (a resume) is refused and
    the journal left alone, and the run's task process is not killed as
    a survivor."""
    pid_file = tmp_path / "long.pid"
    file = write_constellation(tmp_path / "long.json", [
        {"task_id": "quick", "task_data": {"command": "true"}},
        {"task_id": "long", "task_data": {"command": f"echo $$ > {pid_file}.tmp && mv {pid_file}.tmp {pid_file} && exec sleep 60"}}],
        [("quick", "long")])
    journal = tmp_path / "j.jsonl"
    writer = subprocess.Popen([ORRERY, "run", "--no-plugins", "--journal", str(journal), str(file)],
                              cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    watch = None
    try:
        assert wait_for(lambda: pid_file.exists() and journal.exists() and any(
            x["type"] == "task-started" and x["task"] == "long" for x in records(journal)))
        task_pid = int(pid_file.read_text())
        before = journal.read_bytes()
        r = orrery("resume", "--no-plugins", journal, cwd=tmp_path, timeout=60)
        assert r.returncode == 2, r
        assert "another process is writing it" in r.stderr, r
        assert journal.read_bytes() == before
        # The live run's task was not taken for a survivor and killed.
        with open(f"/proc/{task_pid}/stat") as f:
            assert f.read().rsplit(")", 1)[1].split()[0] != "Z"
        assert writer.poll() is None, "the writer ended when its journal was refused to a resume"
        watch = subprocess.Popen([ORRERY, "watch", str(journal)], cwd=tmp_path,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # Following: the events so far are printed.
        line = ""
        while "task-started" not in line or "long" not in line:
            line = watch.stdout.readline()
            assert line, "watch ended before the writer was killed"
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=60)
        out, err = watch.communicate(timeout=60)
    finally:
        for p in (writer, watch):
            if p is not None and p.poll() is None:
                p.kill()
                p.communicate()
    last_seq = records(journal)[-1]["seq"]
    assert watch.returncode == 1, (out, err)
    assert f"writer gone; the journal ends at seq {last_seq} without an end record" in err, err
    assert str(journal) in err, err


def test_missing_directory_fails_loudly(tmp_path, orrery):
    file = write_constellation(tmp_path / "one.json", [{"task_id": "a", "task_data": {"command": "true"}}])
    journal = tmp_path / "no" / "such" / "dir" / "j.jsonl"
    r = orrery("run", "--no-plugins", "--journal", journal, file, cwd=tmp_path)
    assert r.returncode == 1, r
    assert f"Cannot create the journal “{journal}”: No such file or directory" in r.stderr
    # An output directory that cannot be made: the run does not start.
    (tmp_path / "blocker").write_text("a file where the output directory should be")
    r = orrery("run", "--no-plugins", "--set", "Host.OutputDir=blocker", file, cwd=tmp_path)
    assert r.returncode == 1, r
    assert "Cannot create the run directory" in r.stderr and "blocker" in r.stderr


def test_journal_reader_going_away_fails_the_run(tmp_path):
    file = write_constellation(tmp_path / "slow.json", [
        {"task_id": f"t{i}", "task_data": {"command": "sleep 0.05"}} for i in range(20)],
        [(f"t{i}", f"t{i + 1}") for i in range(19)])
    proc = subprocess.Popen([ORRERY, "run", "--no-plugins", "--journal", "-", str(file)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()   # the header
    proc.stdout.close()      # the reader goes away (as `| head -1` would)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert b"Cannot write the journal" in err and b"Broken pipe" in err
    # The run directory's copy has the run, up to its failure.
    recs = records(tmp_path / "orrery-output" / "latest" / "journal.jsonl")
    assert recs[-1]["type"] == "constellation-failed"
