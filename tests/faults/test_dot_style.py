# One DOT style: `orrery show --format dot` and the visualizer's DOT file
# of a run of the same constellation agree (both are the SDK's
# orrery_constellation_to_dot()): the same graph attributes, the same edge
# statements (dashed completion-only, dotted conditional with its
# condition, bold success-only, solid unconditional), the same ranks and
# the same nodes but for what the run changed (status colour, tooltip and
# duration).
import json
import os
import re

import pytest

from conftest import BUILD_ROOT

CONSTELLATION = {
    "constellation_id": "style",
    "name": "Style",
    "tasks": {
        "a": {"task_id": "a", "name": "A", "priority": "critical", "task_data": {"duration_ms": 0}},
        "b": {"task_id": "b", "name": "B", "task_data": {"duration_ms": 0}},
        "c": {"task_id": "c", "name": "C", "task_data": {"duration_ms": 0}},
        "d": {"task_id": "d", "name": "D", "task_data": {"duration_ms": 0}},
        "e": {"task_id": "e", "name": "E", "task_data": {"duration_ms": 0}},
    },
    "dependencies": [
        {"from_task_id": "a", "to_task_id": "b", "dependency_type": "success_only"},
        {"from_task_id": "a", "to_task_id": "c", "dependency_type": "completion_only"},
        {"from_task_id": "b", "to_task_id": "d", "dependency_type": "unconditional"},
        {"from_task_id": "c", "to_task_id": "e", "dependency_type": "conditional",
         "condition": "outputs.ok truthy"},
    ],
}


def without_run_state(line):
    """A node statement without what a run changes."""
    line = re.sub(r'\\n\d+\.\d\ds(?=")', "", line)
    line = re.sub(r', fillcolor="[a-z]+"', "", line)
    return re.sub(r', tooltip="status: [a-z-]+"', "", line)


# Isolated (`--isolate visualizer`), the DOT comes from the helper's copy
# of the constellation: the host keeps its statuses current.
@pytest.mark.parametrize("isolate", [False, True], ids=["in-process", "isolated"])
def test_show_and_visualizer_agree(orrery, tmp_path, isolate):
    f = tmp_path / "style.json"
    f.write_text(json.dumps(CONSTELLATION))
    conf = tmp_path / "orrery.conf"
    conf.write_text("[Host]\nAutoEnable=false\n[Device sim]\nType=simulated\n"
                    "[Plugin visualizer]\nEnabled=true\n")
    shown = orrery("show", f, "--format", "dot")
    assert shown.returncode == 0, shown
    r = orrery("run", "-c", conf, "--no-default-path",
               "-P", os.path.join(BUILD_ROOT, "plugins", "visualizer"),
               "--set", f"visualizer.OutputDir={tmp_path / 'out'}", "--set", "visualizer.LiveView=off",
               "--set", "visualizer.Lines=false", "--set", "visualizer.Formats=dot",
               *(["--isolate", "visualizer"] if isolate else []), f,
               cwd=tmp_path, timeout=60)
    assert r.returncode == 0, r
    show = shown.stdout.splitlines()
    vis = (tmp_path / "out" / "style.dot").read_text().splitlines()

    assert len(show) == len(vis), (show, vis)
    # The title says the constellation's state: created before, completed after.
    assert show[1].startswith('  graph [rankdir=TB, labelloc=t, fontname="Helvetica", label="Style ('), show
    assert re.sub(r'label="[^"]*"', "", show[1]) == re.sub(r'label="[^"]*"', "", vis[1])
    for s, v in zip(show[:1] + show[2:], vis[:1] + vis[2:]):
        if " -> " in s or "rank=same" in s or not s.startswith('  "'):
            assert s == v
        else:
            assert without_run_state(s) == without_run_state(v)

    edges = [x for x in show if " -> " in x]
    assert '  "a" -> "b" [style=bold, tooltip="success-only"];' in edges
    assert '  "a" -> "c" [style=dashed, tooltip="completion-only"];' in edges
    assert '  "b" -> "d" [style=solid, tooltip="unconditional"];' in edges
    assert any(x.startswith('  "c" -> "e" [style=dotted, tooltip="conditional", label="') for x in edges), edges
    # The critical task has the thicker border in both.
    assert any(x.startswith('  "a" [label="a\\nA"') and "penwidth=2" in x for x in show), show
    assert any(x.startswith('  "a" [label="a\\nA\\n') and 'fillcolor="palegreen"' in x
               and "penwidth=2" in x for x in vis), vis
    # Every task ran: none is left pending in the run's last DOT.
    assert not any('tooltip="status: pending"' in x for x in vis), vis
