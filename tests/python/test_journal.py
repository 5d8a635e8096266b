"""The journal from Python: record a run, read it back line by line,
rebuild the run at any record, replay it on a bus, and the errors a bad
journal gives."""
import json
import os

import gi

gi.require_version("Orrery", "1.0")
from gi.repository import GLib, Orrery  # noqa: E402

from test_orchestrator import make_run, run  # noqa: E402


def record(tmp_path, tasks, deps=()):
    bus, orch, c = make_run(tasks, deps)
    path = str(tmp_path / "journal.jsonl")
    journal = Orrery.Journal.new(path, "py-run")
    journal.set_sync(Orrery.JournalSync.NONE)
    journal.attach(bus)
    journal.set_orchestrator(orch)
    outcome = run(orch, c)
    assert journal.close()
    return path, outcome


def test_record_and_rebuild(tmp_path):
    path, outcome = record(tmp_path, [("a", None), ("b", {"fail": GLib.Variant("b", True)}), ("c", None)],
                           [("a", "b"), ("b", "c")])
    assert "error" in outcome  # b fails, c is skipped
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    lines = [json.loads(line) for line in open(path)]
    assert lines[0]["type"] == "header" and lines[0]["run_id"] == "py-run"
    assert [x["seq"] for x in lines] == list(range(1, len(lines) + 1))
    assert lines[-1]["type"] == "constellation-failed"

    reader = Orrery.JournalReader.new(path)
    assert reader.get_run_id() == "py-run"
    assert reader.read_to(0)
    c = reader.get_constellation()
    assert c.get_task("a").get_status() == Orrery.TaskStatus.COMPLETED
    assert c.get_task("b").get_status() == Orrery.TaskStatus.FAILED
    assert c.get_task("c").get_status() == Orrery.TaskStatus.SKIPPED
    assert reader.is_finished()

    # At the record where a completed, b has not finished yet.
    a_done = next(x["seq"] for x in lines if x["type"] == "task-completed" and x["task"] == "a")
    early = Orrery.JournalReader.new(path)
    assert early.read_to(a_done)
    assert early.get_sequence() == a_done
    c = early.get_constellation()
    assert c.get_task("a").get_status() == Orrery.TaskStatus.COMPLETED
    assert c.get_task("b").get_status() in (Orrery.TaskStatus.PENDING, Orrery.TaskStatus.RUNNING)
    assert not early.is_finished()


def test_replay_on_a_bus(tmp_path):
    path, _ = record(tmp_path, [("a", None), ("b", None)], [("a", "b")])
    bus = Orrery.EventBus.new()
    seen = []
    bus.connect("event", lambda _bus, event: seen.append((event.get_type_nick(), event.get_timestamp())))
    reader = Orrery.JournalReader.new(path)
    n = reader.replay(bus)
    lines = [json.loads(line) for line in open(path)][1:]
    assert n == len(lines)
    assert seen == [(x["type"], x["ts"]) for x in lines]


def test_bad_journal_errors(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"tasks": []}\n')
    try:
        Orrery.JournalReader.new(str(bad))
        raise AssertionError("not refused")
    except GLib.Error as e:
        assert e.matches(Orrery.journal_error_quark(), Orrery.JournalError.NOT_A_JOURNAL)
        assert f"{bad}:1:" in e.message
