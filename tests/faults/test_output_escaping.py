# User data never reaches the terminal raw. First `orrery validate` and
# `orrery show`: they escape ids, names, conditions and file names (text),
# escape them for DOT's quoted strings too (dot), and write JSON whose
# strings hold no character a terminal acts on (json). Then `orrery run`
# with the shipped plugins.
import json

import pytest

# OSC 52 (set the clipboard), a bell, a newline forging a line, 8-bit CSI
# (U+009B), a bidirectional override, DEL.
SHOW_EVIL = "x\x1b]52;c;aGk=\x07\nFORGED\u009b2J\u202e\x7f"
SHOW_RAW = ["\x1b", "\x07", "\x7f", "\u009b", "\u202e"]


def assert_show_clean(text):
    for ch in SHOW_RAW:
        assert ch not in text, f"{ch!r} reached the output"
    for line in text.splitlines():
        assert not line.startswith("FORGED"), f"a forged line: {line!r}"


@pytest.fixture
def evil_file(tmp_path):
    f = tmp_path / "evil.json"
    f.write_text(json.dumps({
        "id": SHOW_EVIL, "name": SHOW_EVIL,
        "tasks": {SHOW_EVIL: {"name": SHOW_EVIL},
                  "b": {"name": "b"}},
        "dependencies": [{"from_task_id": SHOW_EVIL, "to_task_id": "b",
                          "dependency_type": "conditional",
                          "condition": {"field": SHOW_EVIL, "operator": "==", "value": SHOW_EVIL}}],
    }))
    return f


def test_validate_escapes_ids(orrery, tmp_path):
    f = tmp_path / "evil.json"
    f.write_text(json.dumps({"id": "x\x1b]52;c;aGk=\x07\nFORGED", "tasks": []}))
    r = orrery("validate", f)
    assert r.returncode == 0, r
    assert "\x1b" not in r.stdout + r.stderr
    assert "\x07" not in r.stdout + r.stderr
    assert "FORGED" not in (r.stdout + r.stderr).splitlines()[0][:6]


def test_validate_escapes_problems(orrery, tmp_path):
    # Every problem names user data: duplicate ids, unknown tasks, a cycle.
    f = tmp_path / "evil-invalid.json"
    f.write_text(json.dumps({
        "tasks": [{"task_id": SHOW_EVIL}, {"task_id": SHOW_EVIL}, {"task_id": "b", "dependencies": [SHOW_EVIL + "?"]}],
    }))
    r = orrery("validate", f)
    assert r.returncode == 3, r
    assert "duplicate task id" in r.stderr
    assert_show_clean(r.stdout + r.stderr)


def test_validate_escapes_file_name(orrery, tmp_path):
    f = tmp_path / "a\x1b[2Jb.json"
    f.write_text(json.dumps({"tasks": []}))
    r = orrery("validate", f)
    assert r.returncode == 0, r
    assert "\x1b" not in r.stdout + r.stderr
    assert "a\\e[2Jb.json" in r.stdout


def test_show_text_escapes(orrery, evil_file):
    r = orrery("show", evil_file)
    assert r.returncode == 0, r
    assert_show_clean(r.stdout + r.stderr)
    assert "x\\e]52;c;aGk=\\x07\\nFORGED" in r.stdout
    assert "layer 1" in r.stdout


def test_show_dot_escapes(orrery, evil_file):
    r = orrery("show", evil_file, "--format", "dot")
    assert r.returncode == 0, r
    assert_show_clean(r.stdout + r.stderr)
    # Every line of the graph is a DOT statement: no id broke out of its quotes.
    lines = r.stdout.splitlines()
    assert lines[0].startswith("digraph \"") and lines[-1] == "}"
    for line in lines[1:-1]:
        assert line.startswith("  ") and line.endswith(";"), line
        assert line.count('"') % 2 == 0 or '\\"' in line, line


def test_show_json_is_json_and_clean(orrery, evil_file):
    r = orrery("show", evil_file, "--format", "json")
    assert r.returncode == 0, r
    assert_show_clean(r.stdout + r.stderr)
    doc = json.loads(r.stdout)
    # The same data, escaped only as JSON.
    assert doc["constellation_id"] == SHOW_EVIL
    assert doc["tasks"][SHOW_EVIL]["name"] == SHOW_EVIL


def test_show_escapes_errors(orrery, tmp_path):
    f = tmp_path / "evil-cycle.json"
    f.write_text(json.dumps({"tasks": {SHOW_EVIL: {"dependencies": ["b"]}, "b": {"dependencies": [SHOW_EVIL]}}}))
    r = orrery("show", f)
    assert r.returncode == 3, r
    assert "cycle" in r.stderr
    assert_show_clean(r.stdout + r.stderr)


# --- orrery run with the shipped plugins --------------------------------------

import os
import re
import xml.dom.minidom

from conftest import BUILD_ROOT

# OSC 52 (writes the clipboard), a CSI that clears the screen, CR and LF
# (forge a line), an 8-bit CSI (U+009B, a C1 control) and a bidi override.
EVIL = "\x1b]52;c;aGk=\x07\x1b[2J\rCR\nFORGED line \u009b31m\u202eRTL"
RAW = ["\x1b", "\x07", "\r", "\u009b", "\u202e"]
PLUGINS = ["visualizer", "metrics", "failure-monitor"]


def plugin_args(tmp_path, *sets):
    conf = tmp_path / "orrery.conf"
    conf.write_text("[Host]\nAutoEnable=false\n" +
                    "".join(f"[Plugin {p}]\nEnabled=true\n" for p in PLUGINS))
    args = ["-c", conf, "--no-default-path"]
    for p in PLUGINS:
        args += ["-P", os.path.join(BUILD_ROOT, "plugins", p)]
    for s in sets:
        args += ["--set", s]
    return args


def evil_constellation(tmp_path):
    f = tmp_path / "evil.json"
    f.write_text(json.dumps({
        "constellation_id": "c" + EVIL, "name": "N" + EVIL,
        "tasks": {
            "a" + EVIL: {"task_id": "a" + EVIL, "name": "A" + EVIL,
                         "task_data": {"command": ["sh", "-c", "printf 'err\\033]52;c;eA==\\007\\r\\nFORGED err\\n' >&2; exit 0"]}},
            "b" + EVIL: {"task_id": "b" + EVIL, "name": "B" + EVIL,
                         "task_data": {"command": ["sh", "-c", "printf 'out\\033[2J\\r\\nFORGED\\n' >&2; exit 3"]}},
        },
        "dependencies": [{"from_task_id": "a" + EVIL, "to_task_id": "b" + EVIL}],
    }))
    return f


def assert_clean(text, what):
    for c in RAW:
        assert c not in text, f"raw {c!r} in {what}:\n{text}"
    for line in text.splitlines():
        assert not line.startswith("FORGED"), f"forged line in {what}: {line!r}"


def run_evil(orrery, tmp_path, *sets):
    out_dir = tmp_path / "out"
    r = orrery("run", *plugin_args(tmp_path, f"visualizer.OutputDir={out_dir}",
                                   f"metrics.OutputDir={out_dir}",
                                   f"failure-monitor.OutputDir={out_dir}", *sets),
               evil_constellation(tmp_path), cwd=tmp_path, timeout=60)
    assert r.returncode == 1, r
    return r, out_dir


def test_run_plain_lines_escape_user_data(orrery, tmp_path):
    r, out_dir = run_evil(orrery, tmp_path, "visualizer.LiveView=off")
    assert_clean(r.stdout, "stdout")
    assert_clean(r.stderr, "stderr")
    # Each plugin's text is there, escaped.
    assert "task-started a\\e]52;c;aGk=\\x07\\e[2J\\rCR\\nFORGED line \\u{009b}31m\\u{202e}RTL on " in r.stdout
    assert "Metrics: c\\e]52" in r.stdout
    assert "Task failed: task “b\\" in r.stderr
    # The last line of `orrery run`.
    last = r.stdout.splitlines()[-1]
    assert last.startswith("orrery: failed “c\\e]52;c;aGk=\\x07\\e[2J\\rCR\\nFORGED line \\u{009b}31m\\u{202e}RTL”: "), last

    # The files: names made only of safe characters; the DOT and the SVG
    # hold no raw control; the SVG is well-formed XML.
    names = sorted(os.listdir(out_dir))
    for n in names:
        assert re.fullmatch(r"[A-Za-z0-9_.-]+", n), names
    dots = [n for n in names if n.endswith(".dot")]
    svgs = [n for n in names if n.endswith(".svg")]
    assert len(dots) == 1 and len(svgs) == 1, names
    dot = (out_dir / dots[0]).read_text()
    assert_clean(dot, "the DOT file")
    svg = (out_dir / svgs[0]).read_text()
    assert_clean(svg, "the SVG file")
    xml.dom.minidom.parseString(svg.encode())
    # The JSON files keep the data as it was.
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics["constellation_id"] == "c" + EVIL
    failures = json.loads((out_dir / "failures.json").read_text())
    assert failures["failures"][0]["task_id"] == "b" + EVIL


def test_run_live_view_escapes_user_data(orrery, tmp_path):
    r, out_dir = run_evil(orrery, tmp_path, "visualizer.LiveView=on")
    # The live view's own codes are the only escape sequences: cursor
    # moves, clear to the end of the line, wrap and cursor on/off.
    own = re.compile(r"\r\x1b\[[0-9]+A|\x1b\[(\?7[lh]|\?25[lh]|K|J|[0-9;]*m)")
    assert "Orrery c\\e]52;c;aGk=\\x07" in r.stdout
    assert_clean(own.sub("", r.stdout), "stdout")
    assert_clean(r.stderr, "stderr")
