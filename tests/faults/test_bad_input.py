# The bad-input corpus (tests/data/bad/): every file through `orrery
# validate` and `orrery run --no-plugins`. Each must end with the expected
# exit status (3: invalid constellation) and a message that names the file
# and the problem; never a crash, a hang, a GLib critical or raw control
# characters. The large cases (a 100,000-task cycle, 50,000 levels of
# nesting) and the ones that are not files are made at test time.
import json
import os

import pytest

from conftest import SOURCE_ROOT

BAD = os.path.join(SOURCE_ROOT, "tests", "data", "bad")

# file: (exit status, what the message must say). `run` says the same as
# `validate` (prefixed with "orrery run: ") and exits with the same status.
EXPECTED = {
    "empty.json": (3, "a constellation is an object, found nothing"),
    "whitespace.json": (3, "a constellation is an object, found nothing"),
    "not-json.json": (3, "not JSON"),
    "binary.json": (3, "not JSON"),
    "two-roots.json": (3, "$: not JSON: text after the end of the document"),
    "truncated.json": (3, "not JSON"),
    "unterminated-string.json": (3, "unterminated string constant"),
    "trailing-comma.json": (3, "not JSON"),
    "top-level-array.json": (3, "$: wrong type: a constellation is an object, found an array"),
    "top-level-string.json": (3, "found a string"),
    "null.json": (3, "found null"),
    "bom-not-object.json": (3, "found an array"),
    "bom.json": (0, None),
    "deep-arrays.json": (3, ": nested deeper than 64"),
    "deep-task-data.json": (3, "$.tasks.a.task_data.x.x.x.x.x…(48 more)…"),
    "deep-in-string-is-fine-but-condition.json": (3, "is not a condition: its value at $"),
    "lone-surrogate-id.json": (3, "member name not valid UTF-8 (a lone surrogate U+D800)"),
    "lone-surrogate-name.json": (3, "$.tasks.a.name: not valid UTF-8 (a lone surrogate U+D83D)"),
    "lone-low-surrogate.json": (3, "$.tasks.a.task_data.command: not valid UTF-8 (a lone surrogate U+DC00)"),
    "surrogate-then-bad-pair.json": (3, "$.name: not valid UTF-8 (a lone surrogate U+D800)"),
    # Found by fuzzing: a string that does not end kept its problem from
    # the pre-scan, and json-glib (1.6.6 leaks on a malformed pair) saw it.
    "unterminated-bad-pair.json": (3, "$.tasks.a.name: not valid UTF-8 (a lone surrogate U+D83D)"),
    "condition-unterminated-bad-pair.json":
        (3, "is not a condition: its value at $[1].a: not valid UTF-8 (a lone surrogate U+D83D)"),
    # Passed validation and reached the task cut short (GVariant keeps 128
    # levels; deeper values came back as ()).
    # Found by fuzzing: json-glib 1.6.6 builds a second value after a root
    # number and leaks it.
    "condition-two-values.json": (3, "is not a condition: its value at $: not JSON: text after the end of the document"),
    # Found by fuzzing the journal reader: seconds past what a gint64 of
    # microseconds holds (undefined behaviour in the conversion).
    "time-out-of-range.json": (3, "$.tasks.a.created_at: 1.8e+19 seconds since the epoch is out of range"),
    "task-data-deeper-than-gvariant-keeps.json": (3, "$.tasks.a.task_data: nested too deep to be kept whole"),
    "surrogate-member-name.json": (3, "member name not valid UTF-8 (a lone surrogate U+DFFF)"),
    "nul-in-command.json": (3, "$.tasks.a.task_data.command: holds a NUL character (U+0000)"),
    "nul-in-id.json": (3, "$.tasks[0].task_id: holds a NUL character"),
    "nul-in-member-name.json": (3, "member name holds a NUL character"),
    "raw-invalid-utf8.json": (3, "$.tasks.a.name: not valid UTF-8"),
    "raw-nul-byte.json": (3, "$.tasks.a.name: not valid UTF-8"),
    "bad-escape.json": (3, "$.tasks.a.name: not JSON: a backslash before “q” is not an escape"),
    "octal-escape.json": (3, "a backslash before “1” is not an escape"),
    "short-unicode-escape.json": (3, "a Unicode escape needs four hexadecimal digits"),
    "command-number.json": (3, "task “a”: “command” must be a string or a list of strings, not a number"),
    "command-list-with-number.json": (3, "not a list holding a number"),
    "command-empty.json": (3, "task “a” has an empty command"),
    # Tasks sharing equal data (one GVariant) after good ones: the check
    # skips data it found good, never data it found bad.
    "command-bad-shared.json": (3, "task “d”: “command” must be a string or a list of strings, not a number"),
    "command-object.json": (3, "not an object"),
    "env-not-object.json": (3, "“env” must be an object of strings, not a list"),
    "env-value-number.json": (3, "environment variable “A” must be a string, not a number"),
    "cwd-number.json": (3, "“cwd” must be a string, not a number"),
    "capabilities-number.json": (3, "“capabilities” must be a list of strings, not a number"),
    "no-command-linux.json": (3, "task “a” has no command"),
    "huge-number.json": (3, "$.tasks.a.timeout: number out of range: 1e400"),
    "huge-integer.json": (3, "$.tasks.a.retry_count: out of range"),
    "retry-out-of-range.json": (3, "$.tasks.a.retry_count: out of range"),
    "negative-timeout.json": (3, "a timeout cannot be negative"),
    "timeout-string.json": (3, "expected a number of seconds, found a string"),
    "priority-out-of-range.json": (3, "bad enum value 9 for priority"),
    "bad-priority.json": (3, "bad enum value “urgent” for priority"),
    "bad-status.json": (3, "bad enum value “done” for status"),
    "bad-state.json": (3, "$.state: bad enum value “sleeping”"),
    "bad-dependency-type.json": (3, "bad enum value “sometimes” for dependency_type"),
    "bad-operator.json": (3, "$.dependencies[0].condition.operator: unknown operator “~=”"),
    "condition-without-value.json": (3, "operator “==” needs a \"value\""),
    "bad-time.json": (3, "“yesterday” is not an ISO 8601 time"),
    "negative-version.json": (3, "$.version: wrong type"),
    "missing-tasks.json": (3, "missing field \"tasks\""),
    "tasks-number.json": (3, "$.tasks: wrong type"),
    "task-not-object.json": (3, "expected a task object, found a string"),
    "task-without-id.json": (3, "a task needs a \"task_id\""),
    "id-differs-from-key.json": (3, "task_id “b” differs from its key “a”"),
    "name-number.json": (3, "$.tasks.a.name: wrong type: expected a string, found a number"),
    "tips-not-list.json": (3, "$.tasks.a.tips: wrong type"),
    "duplicate-id.json": (3, "$.tasks[1]: duplicate task id “a”"),
    "duplicate-dependency.json": (3, "duplicate dependency a → b"),
    "duplicate-line-id.json": (3, "duplicate line id “l” (a → b and a → c)"),
    "self-dependency.json": (3, "task “a” cannot depend on itself"),
    "cycle.json": (3, "cycle: a → b → c → a"),
    "unknown-from.json": (3, "$.dependencies[0].from_task_id: dependency on an unknown task “ghost”"),
    "unknown-to.json": (3, "$.dependencies[0].to_task_id: dependency on an unknown task “ghost”"),
    "unknown-in-list.json": (3, "$.tasks.a.dependencies[0]: dependency on an unknown task “ghost”"),
    "dependency-missing-ends.json": (3, "a dependency needs \"from_task_id\" and \"to_task_id\""),
    "inconsistent-lists.json": (3, "lists “b”, but no dependency line goes from “a” to “b”"),
    "escape-sequence-id.json": (3, "task “a\\e]52;c;aGk=\\x07\\nFORGED”: “command” must be"),
}

RAW = ["\x1b", "\x07", "\x00"]

# Under the sanitizers (CI exports ASAN_OPTIONS for that build only, with
# the slow unwinder on every malloc) a 100,000-task load takes minutes:
# the cycle is smaller there, cut the same way.
CYCLE = 1_000 if "ASAN_OPTIONS" in os.environ else 100_000


def check(r, path, status, fragment, command):
    name = os.path.basename(str(path))
    out = r.stdout + r.stderr
    assert r.returncode == status, f"{command} {name}: {r}"
    assert "CRITICAL" not in out and "WARNING" not in out, r
    for ch in RAW:
        assert ch not in out, f"{command} {name}: {ch!r} reached the terminal"
    if fragment is None:
        return
    # Every problem line names the file.
    problem_lines = [l for l in r.stderr.splitlines() if fragment in l]
    assert problem_lines, f"{command} {name}: expected {fragment!r}\n{r}"
    assert all(name in l for l in problem_lines), r


def test_corpus_is_complete():
    on_disk = set(os.listdir(BAD))
    assert on_disk == set(EXPECTED), (on_disk ^ set(EXPECTED))
    assert len(on_disk) >= 40


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_validate(orrery, name):
    status, fragment = EXPECTED[name]
    path = os.path.join(BAD, name)
    r = orrery("validate", path, timeout=60)
    check(r, path, status, fragment, "validate")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_run(orrery, tmp_path, name):
    status, fragment = EXPECTED[name]
    path = os.path.join(BAD, name)
    # The host's configuration: one local device, and nothing of the user's.
    r = orrery("run", "--no-plugins", path, cwd=tmp_path, timeout=60,
               env={"XDG_CONFIG_HOME": str(tmp_path)})
    check(r, path, status, fragment, "run")
    if status == 3:
        assert "orrery run: " in r.stderr


def made(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("command", ["validate", "run"])
def test_long_cycle_is_cut(orrery, tmp_path, command):
    n = CYCLE
    tasks = {f"t{i}": {"dependencies": [f"t{(i - 1) % n}"]} for i in range(n)}
    p = made(tmp_path, "cycle-100k.json", json.dumps({"tasks": tasks}))
    args = ["run", "--no-plugins"] if command == "run" else ["validate"]
    r = orrery(*args, p, timeout=120, env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert r.returncode == 3, r
    assert "cycle: t0 → t1 → " in r.stderr
    assert f"… ({n - 9} more) → t{n - 1} → t0" in r.stderr
    # Cut: a short message, not a megabyte.
    assert len(r.stderr) < 2000, len(r.stderr)


@pytest.mark.parametrize("opener,closer", [("[", "]"), ('{"a":', "}")])
def test_50k_deep_refused_before_parsing(orrery, tmp_path, opener, closer):
    # 50,000 levels overflowed json-glib's stack (SIGSEGV) before the check.
    depth = 50_000
    p = made(tmp_path, "deep.json", '{"tasks": ' + opener * depth + "1" + closer * depth + "}")
    for args in (["validate"], ["show"], ["run", "--no-plugins"]):
        r = orrery(*args, p, timeout=60, env={"XDG_CONFIG_HOME": str(tmp_path)})
        assert r.returncode == 3, (args, r)
        assert "deep.json: $.tasks" in r.stderr and "nested deeper than 64" in r.stderr, r


def test_directory(orrery, tmp_path):
    d = tmp_path / "a-directory.json"
    d.mkdir()
    for args in (["validate"], ["run", "--no-plugins"]):
        r = orrery(*args, d, timeout=60)
        assert r.returncode == 3, r
        assert "a-directory.json" in r.stderr, r


def test_missing_file(orrery, tmp_path):
    p = tmp_path / "missing.json"
    for args in (["validate"], ["run", "--no-plugins"]):
        r = orrery(*args, p, timeout=60)
        assert r.returncode == 3, r
        assert "missing.json" in r.stderr and "No such file" in r.stderr, r


@pytest.mark.parametrize("args,fragment", [
    (["--set", "a[b.Key=1"], "not a plugin name"),
    (["--set", "[].Key=1"], "not a group name"),
    (["--set", "x.Ke y=1"], "not a key name"),
    (["--set", "x.Key=a\x01b"], "the value holds control characters"),
    (["--set", "noequals"], "expected PLUGIN.KEY=VALUE"),
    (["--set", "visualizer.Enabled=maybe"], "[Plugin visualizer] Enabled: “maybe” is not a boolean"),
    (["--set", "metrics.QueueLimit=-3"], "[Plugin metrics] QueueLimit: “-3” is not a non-negative integer"),
    (["--set", "metrics.Events=task-done"], "“task-done” is not an event type"),
    (["--set", "metrics.Delivery=later"], "“later” is not sync or queued"),
    (["--set", "Host.AutoEnable=sometimes"], "[Host] AutoEnable"),
    (["--enable", "a]b"], "--enable “a]b”: not a plugin name"),
])
def test_bad_set_is_a_configuration_error(orrery, tmp_path, args, fragment):
    # Values given on the command line that are wrong: exit 2 with the
    # message, before anything runs (a GLib critical was raised, or the
    # plugin quietly dropped, and the run went on to exit 0).
    good = made(tmp_path, "good.json", json.dumps({"tasks": {"a": {"task_data": {"command": "true"}}}}))
    r = orrery("run", "--no-plugins", *args, good, timeout=60, env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert r.returncode == 2, r
    assert fragment in r.stderr, r
    assert "CRITICAL" not in r.stderr and "orrery: completed" not in r.stdout, r


def test_bad_set_of_a_plugin_key(orrery, tmp_path):
    # Summary is a boolean the metrics plugin declares: only known once the
    # plugin is loaded, and still a configuration error.
    good = made(tmp_path, "good.json", json.dumps({"tasks": {"a": {"task_data": {"command": "true"}}}}))
    conf = made(tmp_path, "orrery.conf", "[Plugin metrics]\nEnabled=true\n")
    r = orrery("run", "--config", conf, "--set", "metrics.Summary=perhaps", good, timeout=60,
               cwd=tmp_path)
    assert r.returncode == 2, r
    assert "command line: [Plugin metrics] Summary: “perhaps” is not a boolean" in r.stderr, r
    assert "orrery: completed" not in r.stdout, r
