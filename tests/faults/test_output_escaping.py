# User data never reaches the terminal raw.
import json

import pytest


@pytest.mark.xfail(strict=True, reason="validate prints ids raw (issue 9)")
def test_validate_escapes_ids(orrery, tmp_path):
    f = tmp_path / "evil.json"
    f.write_text(json.dumps({"id": "x\x1b]52;c;aGk=\x07\nFORGED", "tasks": []}))
    r = orrery("validate", f)
    assert "\x1b" not in r.stdout + r.stderr
    assert "\x07" not in r.stdout + r.stderr
    assert "FORGED" not in (r.stdout + r.stderr).splitlines()[0][:6]


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
