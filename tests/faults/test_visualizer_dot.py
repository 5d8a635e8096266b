# The visualizer's `dot` renders are bounded: a graph too large for dot gets
# no SVG, a render past its deadline is killed, and a signal during the
# last render at exit ends it at once (before: `orrery run` waited for dot
# without limit, deaf to SIGTERM).
import json
import os
import signal
import subprocess
import time

from conftest import BUILD_ROOT, ORRERY


def make_run(tmp_path, n_tasks):
    conf = tmp_path / "orrery.conf"
    conf.write_text("[Host]\nAutoEnable=false\n[Device sim]\nType=simulated\nMaxConcurrency=8\n"
                    "[Plugin visualizer]\nEnabled=true\n")
    tasks = {f"t{i}": {"task_id": f"t{i}", "task_data": {"duration_ms": 1}} for i in range(n_tasks)}
    f = tmp_path / "graph.json"
    f.write_text(json.dumps({"constellation_id": "graph", "tasks": tasks}))
    # A dot that records its pid (in dot.final too when it got the run's
    # final graph: `dot -Tsvg -o OUT FILE`) and never ends.
    dot = tmp_path / "slow-dot"
    dot.write_text(f"#!/bin/sh\necho $$ >> '{tmp_path / 'dot.pids'}'\n"
                   f"grep -q '(completed' \"$4\" && echo $$ >> '{tmp_path / 'dot.final'}'\n"
                   "exec sleep 600\n")
    dot.chmod(0o755)
    return ["run", "-c", conf, "--no-default-path", "-P", os.path.join(BUILD_ROOT, "plugins", "visualizer"),
            "--set", f"visualizer.OutputDir={tmp_path / 'out'}", "--set", "visualizer.LiveView=off",
            "--set", f"visualizer.DotProgram={dot}"], f


def dot_pids(tmp_path):
    p = tmp_path / "dot.pids"
    return [int(x) for x in p.read_text().split()] if p.exists() else []


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose.
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(") ")[-1][0] != "Z"


def test_dot_deadline_kills_the_render(orrery, tmp_path):
    args, f = make_run(tmp_path, 5)
    r = orrery(*args, "--set", "visualizer.DotTimeoutSec=1", f, cwd=tmp_path, timeout=60)
    assert r.returncode == 0, r
    assert "dot ran past 1 s on " in r.stderr and "killed, no SVG" in r.stderr, r
    assert (tmp_path / "out" / "graph.dot").exists()
    assert not (tmp_path / "out" / "graph.svg").exists()
    pids = dot_pids(tmp_path)
    assert pids and not any(alive(p) for p in pids), pids


def test_large_graph_gets_no_svg(orrery, tmp_path):
    args, f = make_run(tmp_path, 50)
    r = orrery(*args, "--set", "visualizer.SvgMaxNodes=20", f, cwd=tmp_path, timeout=60)
    assert r.returncode == 0, r
    assert "50 tasks, more than SvgMaxNodes=20" in r.stderr, r
    assert (tmp_path / "out" / "graph.dot").exists()
    assert dot_pids(tmp_path) == []


def test_sigterm_during_the_last_render(tmp_path):
    args, f = make_run(tmp_path, 5)
    env = dict(os.environ, NO_COLOR="1")
    proc = subprocess.Popen([ORRERY, *map(str, args), "--set", "visualizer.DotTimeoutSec=600", str(f)],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        # The render of the final graph (a short run has no other: its
        # first render waits until it has lasted 2 s), waited for at
        # shutdown.
        final = tmp_path / "dot.final"
        deadline = time.monotonic() + 30
        while not (final.exists() and final.read_text().strip()) and time.monotonic() < deadline \
                and proc.poll() is None:
            time.sleep(0.05)
        assert final.exists() and final.read_text().strip(), "the last render never started"
        time.sleep(0.2)   # it waits for that render now
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    err = err.decode(errors="replace")
    assert "Terminated: dot killed, no SVG" in err, err
    assert not any(alive(p) for p in dot_pids(tmp_path)), dot_pids(tmp_path)
