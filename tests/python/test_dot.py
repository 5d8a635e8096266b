"""The one DOT writer, Orrery.Constellation.to_dot(): `orrery show --format
dot` prints exactly its text; the flags change only what they say."""
import json
import os
import subprocess

import gi

gi.require_version("Orrery", "1.0")
from gi.repository import Orrery  # noqa: E402

DAG = {
    "constellation_id": "dot",
    "name": "Dot \"quoted\"",
    "tasks": {
        "a": {"task_id": "a", "name": "A"},
        "b": {"task_id": "b", "name": "B\\back"},
        "c": {"task_id": "c", "name": "C"},
    },
    "dependencies": [
        {"from_task_id": "a", "to_task_id": "b", "dependency_type": "completion_only"},
        {"from_task_id": "a", "to_task_id": "c", "dependency_type": "conditional",
         "condition": "outputs.ok truthy"},
    ],
}


def test_show_prints_the_sdk_dot(tmp_path):
    f = tmp_path / "dot.json"
    f.write_text(json.dumps(DAG))
    r = subprocess.run([os.environ["ORRERY"], "show", str(f), "--format", "dot"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    c = Orrery.Constellation.new_from_file(str(f))
    assert r.stdout == c.to_dot(Orrery.DotFlags.STATUS | Orrery.DotFlags.LAYERS)


def test_flags():
    c = Orrery.Constellation.new_from_data(json.dumps(DAG), -1, "test")
    plain = c.to_dot(Orrery.DotFlags.NONE)
    assert plain.startswith('digraph "dot" {\n  graph [rankdir=TB, labelloc=t, fontname="Helvetica", '
                            'label="Dot \\"quoted\\""];\n')
    assert "tooltip=\"status:" not in plain and "rank=same" not in plain
    # The backslash is escaped for the terminal (\\), then each for DOT.
    assert r'  "b" [label="b\nB\\\\back", fillcolor="white"];' + "\n" in plain
    assert '  "a" -> "b" [style=dashed, tooltip="completion-only"];\n' in plain
    assert '  "a" -> "c" [style=dotted, tooltip="conditional", label="' in plain
    lr = c.to_dot(Orrery.DotFlags.LEFT_TO_RIGHT)
    assert lr == plain.replace("rankdir=TB", "rankdir=LR", 1)
    full = c.to_dot(Orrery.DotFlags.STATUS | Orrery.DotFlags.LAYERS)
    assert 'label="Dot \\"quoted\\" (' in full and ", version " in full
    assert '  "a" [label="a\\nA", fillcolor="white", tooltip="status: pending"];\n' in full
    assert '  { rank=same; "a"; };\n' in full


HOSTILE = {
    "constellation_id": "evil",
    "name": "N \"q\" <x> & ]]> \x01",
    "tasks": {
        "a\"] x [label=\"inj": {"task_id": "a\"] x [label=\"inj", "name": "<g id=\"task9\"> & ]]>\x07",
                                 "priority": "critical"},
        "b": {"task_id": "b", "name": "B"},
    },
    "dependencies": [{"from_task_id": "a\"] x [label=\"inj", "to_task_id": "b"}],
}


def test_template():
    """ORRERY_DOT_TEMPLATE: the layout without the state (every task pending,
    a fixed slot for its duration, the title's slots) and ids made from
    indices, whatever the user text; Graphviz reads it and the SVG groups
    carry those ids."""
    c = Orrery.Constellation.new_from_data(json.dumps(HOSTILE), -1, "test")
    t = c.to_dot(Orrery.DotFlags.TEMPLATE | Orrery.DotFlags.LAYERS)
    # STATUS changes nothing with TEMPLATE: the state is not in it.
    assert t == c.to_dot(Orrery.DotFlags.TEMPLATE | Orrery.DotFlags.LAYERS | Orrery.DotFlags.STATUS)
    assert 'label="N \\"q\\" <x> & ]]> \\\\x01 (partially-failed, version 000000)"' in t
    ids = [task.get_id() for task in c.get_tasks()]
    for i, tid in enumerate(ids):
        assert f' [id="task{i}", label="' in t
    assert '  "b" [id="task%d", label="b\\nB\\n00000.00s", fillcolor="white", tooltip="status: pending"];\n' \
        % ids.index("b") in t
    assert '", fillcolor="white", penwidth=2, tooltip="status: pending"];\n' in t   # critical
    assert ' [id="dep0", style=solid, tooltip="unconditional"];\n' in t
    assert "color=\"red\"" not in t and "\x01" not in t and "\x07" not in t
    svg = subprocess.run(["dot", "-Tsvg"], input=t, capture_output=True, text=True, timeout=60, check=True).stdout
    import xml.dom.minidom
    doc = xml.dom.minidom.parseString(svg)
    groups = {g.getAttribute("id"): g for g in doc.getElementsByTagName("g")}
    assert {g for g in groups if g.startswith("task") or g.startswith("dep")} == {"task0", "task1", "dep0"}
    for i, tid in enumerate(ids):
        g = groups[f"task{i}"]
        assert g.getAttribute("class") == "node"
        texts = [x.firstChild.data for x in g.getElementsByTagName("text") if x.firstChild]
        assert texts[0] == tid.replace("\\", "\\\\") and texts[-1] == "00000.00s"


def test_template_version_slot():
    c = Orrery.Constellation.new_from_data(json.dumps(DAG), -1, "test")
    t = c.to_dot(Orrery.DotFlags.TEMPLATE)
    assert ' (partially-failed, version 000000)"' in t
    assert "tooltip=\"status: pending\"" in t


def test_status_colors():
    """Orrery.TaskStatus.to_dot_color() is the fill ORRERY_DOT_STATUS gives
    each status (what the visualizer patches into its SVG template)."""
    statuses = ["pending", "waiting_dependency", "running", "completed", "failed",
                "cancelled", "skipped"]
    dag = {"constellation_id": "colors", "name": "Colors",
           "tasks": {s: {"task_id": s, "name": s, "status": s} for s in statuses},
           "dependencies": []}
    c = Orrery.Constellation.new_from_data(json.dumps(dag), -1, "test")
    text = c.to_dot(Orrery.DotFlags.STATUS)
    seen = set()
    for s in statuses:
        status = c.get_task(s).get_status()
        color = Orrery.TaskStatus.to_dot_color(status)
        assert f'  "{s}" [label="{s}\\n{s}' in text
        line = next(ln for ln in text.splitlines() if ln.startswith(f'  "{s}" ['))
        assert f'fillcolor="{color}"' in line, line
        seen.add(color)
    assert seen == {"white", "gold", "palegreen", "tomato", "orange", "lightblue"}
