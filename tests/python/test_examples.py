"""The scripting examples in data/examples run as a user would run them:
the Python agent with PyGObject, the JavaScript watcher with gjs."""
import os
import shutil
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(TOP, "data", "examples")


def run(argv):
    return subprocess.run(argv, cwd=TOP, capture_output=True, text=True, timeout=120)


def test_python_agent_extends_the_run():
    r = run([sys.executable, os.path.join(EXAMPLES, "agent.py")])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    # The agent added a report task after each plan task, under a hold.
    assert lines[-1] == "4 tasks, 4 completed"
    nicks = [line.split()[1] for line in lines[:-1]]
    assert nicks.count("constellation-modified") == 2
    assert nicks[-1] == "constellation-completed"
    started_report = next(i for i, l in enumerate(lines) if "task-started" in l and "report-plan-2" in l)
    modified = [i for i, n in enumerate(nicks) if n == "constellation-modified"]
    assert modified[-1] < started_report


def test_javascript_watcher_runs_a_constellation():
    gjs = shutil.which("gjs")
    assert gjs is not None, "gjs is needed (Debian package gjs; .ci/deps installs it)"
    r = run([gjs, "-m", os.path.join(EXAMPLES, "watch.js"),
             os.path.join(TOP, "data", "constellations", "build-and-test.json")])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[-1] == "7/7 tasks completed"
    assert "constellation-started" in lines[0]
    assert "constellation-completed" in lines[-2]
