# The visualizer's `dot` renders are bounded: a graph too large for dot gets
# no SVG, a render past its deadline is killed, and a signal during the
# last render at exit ends it at once (before: `orrery run` waited for dot
# without limit, deaf to SIGTERM).
import json
import os
import re
import signal
import subprocess
import time
import xml.dom.minidom

from conftest import BUILD_ROOT, ORRERY


def make_run(tmp_path, n_tasks):
    conf = tmp_path / "orrery.conf"
    conf.write_text("[Host]\nAutoEnable=false\n[Device sim]\nType=simulated\nMaxConcurrency=8\n"
                    "[Plugin visualizer]\nEnabled=true\n")
    tasks = {f"t{i}": {"task_id": f"t{i}", "task_data": {"duration_ms": 1}} for i in range(n_tasks)}
    f = tmp_path / "graph.json"
    f.write_text(json.dumps({"constellation_id": "graph", "tasks": tasks}))
    # A dot that records its pid (in dot.final too when the run's final
    # DOT file is written: the render it is then is the one waited for at
    # exit, the template's, the run being shorter than it) and never ends.
    dot = tmp_path / "slow-dot"
    final_dot = tmp_path / "out" / "graph.dot"
    dot.write_text(f"#!/bin/sh\necho $$ >> '{tmp_path / 'dot.pids'}'\n"
                   f"until grep -q '(completed' '{final_dot}' 2>/dev/null; do sleep 0.05; done\n"
                   f"echo $$ >> '{tmp_path / 'dot.final'}'\n"
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
        # The render running when the run is over (its template's: a short
        # run's SVG is the template patched at its end), waited for at
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


# The SVG of a run is the template `dot` laid out at its start, patched with
# the final state: what a full render of the final DOT file would show, per
# task (fill, border, tooltip, texts) and in the title, with `dot` run once.
HOSTILE = "q\"<&>]]>\x07\x1b[2J\\N"


def local_run(tmp_path, tasks, deps, cid="mixed", name="Mixed " + HOSTILE):
    conf = tmp_path / "orrery.conf"
    conf.write_text("[Host]\nAutoEnable=false\n[Device local]\nType=local\nMaxConcurrency=2\n"
                    "[Plugin visualizer]\nEnabled=true\n")
    f = tmp_path / "graph.json"
    f.write_text(json.dumps({"constellation_id": cid, "name": name, "tasks": tasks, "dependencies": deps}))
    # A dot that says which file it got, then is the real one.
    dot = tmp_path / "logging-dot"
    dot.write_text(f"#!/bin/sh\necho \"$4\" >> '{tmp_path / 'dot.calls'}'\nexec /usr/bin/dot \"$@\"\n")
    dot.chmod(0o755)
    return ["run", "-c", conf, "--no-default-path", "-P", os.path.join(BUILD_ROOT, "plugins", "visualizer"),
            "--set", f"visualizer.OutputDir={tmp_path / 'out'}", "--set", "visualizer.LiveView=off",
            "--set", f"visualizer.DotProgram={dot}", f]


def text_of(node):
    return "".join(c.data for c in node.childNodes if c.nodeType == c.TEXT_NODE)


def nodes_of(svg_text):
    """What an SVG shows per task, by its DOT name (<title>), and its title."""
    doc = xml.dom.minidom.parseString(svg_text.encode())
    shown = {}
    graph = [g for g in doc.getElementsByTagName("g") if g.getAttribute("class") == "graph"][0]
    title = [text_of(t) for t in graph.childNodes if t.nodeType == t.ELEMENT_NODE and t.tagName == "text"]
    for g in doc.getElementsByTagName("g"):
        if g.getAttribute("class") != "node":
            continue
        name = text_of(g.getElementsByTagName("title")[0])
        path = g.getElementsByTagName("path")[0]
        link = g.getElementsByTagName("a")[0]
        shown[name] = {
            "fill": path.getAttribute("fill"), "stroke": path.getAttribute("stroke"),
            "stroke-width": path.getAttribute("stroke-width"),
            "tooltip": link.getAttribute("xlink:title"),
            "texts": [text_of(t) for t in g.getElementsByTagName("text")],
        }
    return title, shown


def assert_no_controls(text):
    assert not any(ord(ch) < 0x20 and ch not in "\n\t" for ch in text), "a raw control character"


def test_svg_is_the_template_patched(orrery, tmp_path):
    marker = tmp_path / "d.started"
    tasks = {
        "a" + HOSTILE: {"task_id": "a" + HOSTILE, "name": "A" + HOSTILE, "task_data": {"command": ["true"]}},
        "b": {"task_id": "b", "name": "B", "priority": "critical", "task_data": {"command": ["false"]}},
        "c": {"task_id": "c", "name": "C", "task_data": {"command": ["true"]}},
        "d": {"task_id": "d", "name": "D", "task_data": {"command": ["sh", "-c", f"touch '{marker}'; exec sleep 60"]}},
        "e": {"task_id": "e", "name": "E", "task_data": {"command": ["true"]}},
    }
    # d runs once b has failed (and c is skipped): SIGTERM then cancels e.
    deps = [{"from_task_id": "a" + HOSTILE, "to_task_id": "b"},
            {"from_task_id": "b", "to_task_id": "c", "dependency_type": "success_only"},
            {"from_task_id": "b", "to_task_id": "d", "dependency_type": "completion_only"},
            {"from_task_id": "d", "to_task_id": "e"}]
    args = local_run(tmp_path, tasks, deps)
    env = dict(os.environ, NO_COLOR="1")
    proc = subprocess.Popen([ORRERY, *map(str, args)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None and not marker.exists():
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    err = err.decode(errors="replace")
    svg = (tmp_path / "out" / "mixed.svg").read_text()
    dot = (tmp_path / "out" / "mixed.dot").read_text()
    assert_no_controls(svg)
    title, shown = nodes_of(svg)
    # One dot: the template's, at the start, out of OutputDir.
    calls = (tmp_path / "dot.calls").read_text().splitlines()
    assert len(calls) == 1 and calls[0].endswith("mixed.template.dot"), calls
    assert not calls[0].startswith(str(tmp_path / "out")), calls
    assert sorted(os.listdir(tmp_path / "out")) == ["mixed.dot", "mixed.svg"]
    assert not os.path.exists(calls[0])
    # The state, per task.
    # The hostile id as text, escaped for the terminal.
    a = [v for k, v in shown.items() if k.startswith("aq\"<&>]]>\\")][0]
    assert a["fill"] == "palegreen" and a["tooltip"] == "status: completed" and a["stroke-width"] == ""
    assert re.fullmatch(r"\d+\.\d\ds", a["texts"][-1]), a
    assert shown["b"]["fill"] == "tomato" and shown["b"]["stroke"] == "red" and shown["b"]["stroke-width"] == "2"
    assert shown["b"]["tooltip"] == "status: failed" and re.fullmatch(r"\d+\.\d\ds", shown["b"]["texts"][-1])
    assert shown["c"] == {"fill": "lightblue", "stroke": "black", "stroke-width": "", "tooltip": "status: skipped",
                          "texts": ["c", "C"]}
    assert shown["e"]["fill"] == "orange" and shown["e"]["tooltip"] == "status: cancelled"
    assert shown["e"]["texts"] == ["e", "E"]
    assert title[0].startswith("Mixed q\"<&>]]>") and title[0].endswith(" (cancelled, version 0)"), title
    # What a full render of the final DOT file shows, but where things are.
    full = subprocess.run(["/usr/bin/dot", "-Tsvg"], input=dot, capture_output=True, text=True,
                          timeout=60, check=True).stdout
    assert nodes_of(full) == (title, shown)
    assert "killed" not in err, err


def test_svg_with_no_template_is_a_full_render(orrery, tmp_path):
    """A dot whose SVG is not the template's (here: no task group) is
    rendered the run's DOT file instead: the SVG is its render."""
    dot = tmp_path / "odd-dot"
    dot.write_text(f"#!/bin/sh\necho \"$4\" >> '{tmp_path / 'dot.calls'}'\n"
                   "/usr/bin/dot \"$@\" && sed -i 's/class=\"node\"/class=\"nodes\"/' \"$3\"\n")
    dot.chmod(0o755)
    tasks = {"a": {"task_id": "a", "name": "A", "task_data": {"command": ["true"]}}}
    args = local_run(tmp_path, tasks, [], cid="one", name="One")
    args[-2] = f"visualizer.DotProgram={dot}"
    r = orrery(*args, cwd=tmp_path, timeout=60)
    assert r.returncode == 0, r
    calls = (tmp_path / "dot.calls").read_text().splitlines()
    assert len(calls) == 2 and calls[0].endswith("one.template.dot") and calls[1] == str(tmp_path / "out" / "one.dot")
    svg = (tmp_path / "out" / "one.svg").read_text()
    assert "status: completed" in svg and "palegreen" in svg
