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
