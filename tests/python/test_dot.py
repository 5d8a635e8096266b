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
