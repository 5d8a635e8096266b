# test_constellation.py: the constellation API through GObject Introspection.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
import os

import gi
gi.require_version('Orrery', '1.0')
from gi.repository import GLib, Orrery  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(__file__), '..', 'data', 'constellations')


def ids(tasks):
    return [t.get_id() for t in tasks]


def test_build_and_drain():
    c = Orrery.Constellation.new('py', 'built in Python')
    for tid in ('fetch', 'check', 'report', 'alert'):
        assert c.add_task(Orrery.Task.new(tid, tid.title()))
    c.get_task('alert').set_priority(Orrery.TaskPriority.CRITICAL)
    cond = Orrery.Condition.parse('exit_status == 0')
    c.add_dependency('fetch', 'check', Orrery.DependencyType.SUCCESS_ONLY, None)
    c.add_dependency('check', 'report', Orrery.DependencyType.CONDITIONAL, cond)
    assert c.validate()
    assert ids(c.get_ready_tasks()) == ['alert', 'fetch']

    assert c.mark_task_started('fetch')
    ready, skipped = c.complete_task('fetch', None)
    assert ids(ready) == ['check']
    assert skipped == []

    c.mark_task_started('check')
    result = GLib.Variant('a{sv}', {'exit_status': GLib.Variant('i', 1)})
    ready, skipped = c.complete_task('check', result)
    assert ready == []
    assert ids(skipped) == ['report']
    assert c.get_task('report').get_status() == Orrery.TaskStatus.SKIPPED

    c.mark_task_started('alert')
    ready, skipped = c.fail_task('alert', None, 'boom')
    assert c.get_task('alert').get_status() == Orrery.TaskStatus.FAILED
    assert c.is_finished()

    stats = c.get_statistics().unpack()
    assert stats['total_tasks'] == 4
    assert stats['task_status_counts']['skipped'] == 1


def test_edit_batch_and_signal():
    c = Orrery.Constellation.new('edits', None)
    c.add_task(Orrery.Task.new('a', None))
    seen = []
    c.connect('modified', lambda _c, mods, on_ids: seen.append((mods.unpack(), list(on_ids or []))))
    batch = Orrery.EditBatch.new()
    batch.add_task(Orrery.Task.new('b', None))
    batch.add_dependency('b', 'a', Orrery.DependencyType.UNCONDITIONAL, None)
    batch.set_on_task_ids(['a'])
    mods = c.apply_edits(batch)
    assert [m['type'] for m in mods.unpack()][:2] == ['add_task', 'add_dependency']
    assert c.get_version() == 1
    assert seen and seen[0][1] == ['a']

    bad = Orrery.EditBatch.new()
    bad.add_dependency('a', 'b', Orrery.DependencyType.UNCONDITIONAL, None)
    try:
        c.apply_edits(bad)
        assert False, 'a cycle was accepted'
    except GLib.Error as e:
        assert e.matches(Orrery.constellation_error_quark(), Orrery.ConstellationError.CYCLE)
        assert 'a → b → a' in e.message or 'b → a → b' in e.message
    assert c.get_version() == 1


def test_load_fixture_and_readiness():
    c = Orrery.Constellation.new_from_file(os.path.join(FIXTURES, 'ufo-keyed.json'))
    assert c.get_n_tasks() == 4
    assert ids(c.get_ready_tasks()) == ['alert', 'clean']
    assert c.get_task('fetch').get_status() == Orrery.TaskStatus.COMPLETED
    c.mark_task_started('clean')
    ready, _ = c.complete_task('clean', None)
    assert ids(ready) == ['report']
    text = c.to_data()[0] if isinstance(c.to_data(), tuple) else c.to_data()
    again = Orrery.Constellation.new_from_data(text, -1, 'round-trip')
    assert again.get_task('clean').get_status() == Orrery.TaskStatus.COMPLETED


def test_bad_file_reports_path():
    try:
        Orrery.Constellation.new_from_file(os.path.join(FIXTURES, 'bad', 'unknown-task.json'))
        assert False
    except GLib.Error as e:
        assert e.code == int(Orrery.ConstellationError.UNKNOWN_TASK)
        assert '$.dependencies[0].to_task_id' in e.message


def test_task_status_read_only():
    """A task's status is the constellation's run state: it cannot be set."""
    c = Orrery.Constellation.new('ro', None)
    t = Orrery.Task.new('t', None)
    assert c.add_task(t)
    assert not hasattr(t, 'set_status')
    try:
        t.props.status = Orrery.TaskStatus.COMPLETED
    except TypeError:
        pass
    else:
        raise AssertionError('the status property was writable')
    assert t.get_status() == Orrery.TaskStatus.PENDING
    assert c.mark_task_started('t')
    assert t.props.status == Orrery.TaskStatus.RUNNING


def test_hostile_documents_are_errors_not_crashes():
    """What crashed every SDK caller (json-glib's parser recursing 50,000
    levels deep) or slipped through (a lone surrogate, a NUL in a command)
    is a GLib.Error naming the place, in Python as in C."""
    deep = '{"constellation_id": "d", "tasks": {"a": {"task_id": "a", "task_data": {"x": ' \
        + '[' * 50000 + ']' * 50000 + '}}}}'
    cases = [
        (deep, 'nested deeper than'),
        ('{"constellation_id": "s", "tasks": {"a": {"task_id": "a", "name": "\\ud800"}}}',
         'not valid UTF-8'),
        ('{"constellation_id": "n", "tasks": {"a": {"task_id": "a", '
         '"task_data": {"command": ["echo", "x\\u0000; rm -rf ~"]}}}}',
         'NUL'),
    ]
    for text, expected in cases:
        try:
            Orrery.Constellation.new_from_data(text, -1, 'hostile.json')
            assert False, expected
        except GLib.Error as e:
            assert expected in e.message, e.message
            assert e.message.startswith('hostile.json: $.'), e.message
