# The README's Python snippet, as a user copies it: extracted from README.md
# and run against a constellation whose task fails, and one that succeeds.
# It must end either way (the first version waited forever when run_finish
# raised before loop.quit()).
import json
import os
import re
import subprocess
import sys

import pytest

SOURCE_ROOT = os.environ.get("ORRERY_SOURCE_ROOT",
                             os.path.join(os.path.dirname(__file__), "..", ".."))
SNIPPET_FILE = "data/constellations/build-and-test.json"


def readme_snippet():
    with open(os.path.join(SOURCE_ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    section = readme[readme.index("## Scripting from Python"):]
    block = re.search(r"```python\n(.*?)```", section, re.S)
    assert block, "no Python block in the README's Scripting from Python section"
    code = block.group(1)
    assert SNIPPET_FILE in code, "the snippet no longer loads " + SNIPPET_FILE
    return code


@pytest.mark.parametrize("command,outcome", [("exit 3", "failed"), ("true", "ok")])
def test_readme_python_snippet_ends(tmp_path, command, outcome):
    constellation = tmp_path / "one.json"
    constellation.write_text(json.dumps({
        "constellation_id": "readme", "name": "readme",
        "tasks": {"only": {"task_id": "only", "task_data": {"command": command}}},
    }))
    script = tmp_path / "snippet.py"
    script.write_text(readme_snippet().replace(SNIPPET_FILE, str(constellation)))
    try:
        r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                           text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("the README's Python snippet did not end within 60 s")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines and lines[-1].startswith(outcome), r.stdout + r.stderr
