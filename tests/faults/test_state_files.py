# What Orrery keeps of a constellation (the loaded task data, the journal)
# is what the file said, and no bigger than it needs.
#
# - Task data nested deeper than GVariant keeps (128 levels, nested
#   variants included: an object is 3, an array 2) used to pass `validate`
#   and reach the task cut short: past 42 levels of objects the values came
#   back as () from GVariant's serialised form, and nothing said so. Now it
#   is refused with the path; what is kept comes back exactly.
# - Issue 9: pretty-printed state amplified deep values (a 40 KB input
#   wrote an 800 MB state file). The journal is compact: a deep, wide
#   value costs about its own size.
import json
import os

from conftest import SOURCE_ROOT


def nested(depth, leaf):
    v = leaf
    for _ in range(depth):
        v = {"x": v}
    return v


def write(tmp_path, name, task_data):
    path = tmp_path / name
    path.write_text(json.dumps({"constellation_id": "deep",
                                "tasks": {"a": {"task_id": "a", "task_data": task_data}}},
                               separators=(",", ":")))
    return path


def shown_task_data(orrery, path, cwd):
    r = orrery("show", "--format", "json", path, cwd=cwd, timeout=60)
    assert r.returncode == 0, r
    tasks = json.loads(r.stdout)["tasks"]
    task = tasks[0] if isinstance(tasks, list) else tasks["a"]
    return task["task_data"]


def test_deepest_task_data_kept_exactly(orrery, tmp_path):
    # task_data (3) + 40 objects (120) + an array (2) of numbers (1): 126.
    data = {"command": "true", "deep": nested(40, [1, 2])}
    path = write(tmp_path, "kept.json", data)
    r = orrery("validate", path, cwd=tmp_path, timeout=60)
    assert r.returncode == 0, r
    assert shown_task_data(orrery, path, tmp_path) == data


def test_task_data_deeper_than_gvariant_keeps_is_refused(orrery, tmp_path):
    path = os.path.join(SOURCE_ROOT, "tests", "data", "bad", "task-data-deeper-than-gvariant-keeps.json")
    for command in ("validate", "run"):
        r = orrery(command, "--no-plugins", path, cwd=tmp_path, timeout=60) if command == "run" \
            else orrery(command, path, cwd=tmp_path, timeout=60)
        assert r.returncode == 3, r
        assert "$.tasks.a.task_data: nested too deep to be kept whole" in r.stderr, r


def test_journal_does_not_amplify_deep_values(orrery, tmp_path):
    # 37 levels of objects and arrays around 10,000 numbers:
    # printed with indentation, each number would cost a line of ~110
    # spaces (over 1 MB); compact, the journal holds the task data once
    # more than the file.
    data = {"command": "true", "deep": nested(25, [{"y": nested(10, list(range(10000)))}])}
    path = write(tmp_path, "wide.json", data)
    journal = tmp_path / "journal.jsonl"
    r = orrery("run", "--no-plugins", "--journal", journal, path, cwd=tmp_path, timeout=60)
    assert r.returncode == 0, r
    size = os.path.getsize(path)
    assert os.path.getsize(journal) < 2 * size + 4096, (os.path.getsize(journal), size)
    # And what it holds is the task's data, whole.
    header = json.loads(journal.read_text().splitlines()[0])
    tasks = header["constellation"]["tasks"]
    task = tasks[0] if isinstance(tasks, list) else tasks["a"]
    assert task["task_data"] == data
