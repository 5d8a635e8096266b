# A run's journal on a Redis stream: `orrery run --journal redis+unix://...`
# followed from another process by `orrery watch URL --run RUN_ID`, and
# `orrery replay URL --run RUN_ID` giving the live run's metrics; a few
# lines of Python (python3-redis) read the same stream.
import json
import os
import re
import signal
import subprocess

from conftest import (ORRERY, finish, records, start_orrery, wait_for, wait_for_workers,
                      write_config, write_constellation)


def test_journal_on_a_stream_watch_and_replay(tmp_path, redis_server, workers):
    for wid in ("wa", "wb"):
        workers.start(redis_server.url, "p", wid, "-j", "2")
    wait_for_workers(redis_server, "p", ["wa", "wb"])
    flag = tmp_path / "go"
    # "a" waits until the watch follows: the watch sees the run live.
    tasks = [{"task_id": t, "task_data": {"command": "sleep 0.2"}} for t in "bcdef"]
    tasks.insert(0, {"task_id": "a", "task_data": {
        "command": f"while [ ! -e {flag} ]; do sleep 0.05; done"}})
    deps = [("a", "b"), ("b", "c"), ("a", "d"), ("d", "e"), ("c", "f"), ("e", "f")]
    cfg = write_config(tmp_path / "orrery.conf", redis_server.url, "p")
    file = write_constellation(tmp_path / "c.json", tasks, deps)
    err = tmp_path / "orrery.err"
    proc = start_orrery("run", file, "--config", cfg, "--journal", redis_server.url,
                        cwd=tmp_path, stderr_path=err)
    latest = tmp_path / "orrery-output" / "latest"
    run_id = wait_for(lambda: latest.is_symlink() and os.path.basename(os.readlink(latest)),
                      30, "the run directory")
    watch_out = tmp_path / "watch.out"
    with open(watch_out, "wb") as out:
        watch = subprocess.Popen([ORRERY, "watch", redis_server.url, "--run", run_id],
                                 cwd=tmp_path, stdout=out, stderr=subprocess.PIPE,
                                 env=dict(os.environ, NO_COLOR="1"))
    wait_for(lambda: "task-started" in watch_out.read_text(), 30, "the watch to follow")
    flag.touch()
    code, _ = finish(proc)
    assert code == 0, err.read_text()
    assert watch.wait(timeout=60) == 0, watch.stderr.read()
    watch.stdout = watch_out.read_text()
    completed = [line.split()[2] for line in watch.stdout.splitlines() if "task-completed" in line]
    assert sorted(completed) == list("abcdef") and completed[-1] == "f", watch.stdout
    assert "6/6 tasks completed" in watch.stdout.splitlines()[-1]

    # The stream holds the same records as the run directory's copy.
    c = redis_server.client()
    entries = c.xrange(f"orrery:run:{run_id}:journal")
    run_dir = tmp_path / "orrery-output" / "runs" / run_id
    local = records(run_dir / "journal.jsonl")
    assert [json.loads(e["line"]) for _, e in entries] == local

    # Replay from the stream: the live run's metrics.
    out = tmp_path / "replayed"
    r = subprocess.run([ORRERY, "replay", "--config", str(cfg), redis_server.url, "--run", run_id,
                        "-o", str(out)], cwd=tmp_path, capture_output=True, text=True,
                       timeout=60, env=dict(os.environ, NO_COLOR="1"))
    assert r.returncode == 0, r.stderr
    live = json.loads((run_dir / "metrics.json").read_text())
    replayed = json.loads((out / "metrics.json").read_text())
    live.pop("observers", None)
    replayed.pop("observers", None)
    assert replayed == live

    # No such run: a clear error, exit 2.
    r = subprocess.run([ORRERY, "replay", redis_server.url, "--run", "no-such-run"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "no journal of run “no-such-run”" in r.stderr, r.stderr
    r = subprocess.run([ORRERY, "replay", redis_server.url], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--run RUN_ID" in r.stderr, r.stderr


def test_readme_python_observer(tmp_path, redis_server):
    """The README's observer, as written there, on a finished run's stream."""
    readme = open(os.path.join(os.environ.get("ORRERY_SOURCE_ROOT", "."), "README.md")).read()
    code = re.search(r"<!-- redis-observer -->\n```python\n(.*?)```", readme, re.S)[1]
    c = redis_server.client()
    for rec in ({"seq": 1, "type": "constellation-started"},
                {"seq": 2, "type": "task-completed", "task": "a"},
                {"seq": 3, "type": "constellation-completed"}):
        c.xadd("orrery:run:r1:journal", {"line": json.dumps(rec)})
    script = tmp_path / "observer.py"
    script.write_text(code)
    r = subprocess.run(["/usr/bin/python3", str(script), redis_server.sock, "r1"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["1 constellation-started", "2 task-completed a",
                                     "3 constellation-completed"]


def test_resume_from_the_stream(tmp_path, redis_server, workers):
    """The host is killed mid-run; `orrery resume URL --run RUN_ID` from
    another directory (as from another machine) finishes the run."""
    workers.start(redis_server.url, "p", "wa", "-j", "2")
    wait_for_workers(redis_server, "p", ["wa"])
    marks = tmp_path / "marks"
    marks.mkdir()
    tasks = [{"task_id": "a", "task_data": {"command": f"touch {marks}/a"}},
             {"task_id": "b", "task_data": {"command": f"echo x >> {marks}/b; sleep 1"}},
             {"task_id": "c", "task_data": {"command": f"touch {marks}/c"}}]
    cfg = write_config(tmp_path / "orrery.conf", redis_server.url, "p")
    file = write_constellation(tmp_path / "c.json", tasks, [("a", "b"), ("b", "c")])
    proc = start_orrery("run", file, "--config", cfg, "--journal", redis_server.url,
                        cwd=tmp_path, stderr_path=tmp_path / "orrery.err")
    latest = tmp_path / "orrery-output" / "latest"
    run_id = wait_for(lambda: latest.is_symlink() and os.path.basename(os.readlink(latest)),
                      30, "the run directory")
    c = redis_server.client()
    stream = f"orrery:run:{run_id}:journal"
    wait_for(lambda: any(json.loads(e["line"]).get("task") == "b" and
                         json.loads(e["line"])["type"] == "task-started"
                         for _, e in c.xrange(stream)), 30, "b to start")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = subprocess.run([ORRERY, "resume", "--config", str(cfg), redis_server.url, "--run", run_id],
                       cwd=elsewhere, capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, NO_COLOR="1"))
    assert r.returncode == 0, r.stderr
    copy = elsewhere / "orrery-output" / "runs" / run_id / "journal-from-redis.jsonl"
    types = [(x["type"], x.get("task")) for x in records(copy)]
    assert ("task-completed", "c") in types and types[-1][0] == "constellation-completed"
    assert [t for t in types if t == ("task-completed", "a")] == [("task-completed", "a")]
