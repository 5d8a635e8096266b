# Device kinds added by a plugin, against the real program: the fixture
# devkind registers a kind through its plugin context, `[Device NAME]
# Type=KIND` builds its device (the host loads plugins before it builds
# devices) and a constellation runs on it; an unknown kind, or a bad value
# of a plugin kind's own key, is a configuration error (exit 2) naming the
# file, the group, the key and the known kinds.
import json
import os
import shutil

import pytest

from conftest import BUILD_ROOT


@pytest.fixture
def world(tmp_path):
    os.chmod(tmp_path, 0o700)
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    dest = plugins / "devkind.so"
    shutil.copyfile(os.path.join(BUILD_ROOT, "tests", "plugins", "devkind.so"), dest)
    os.chmod(dest, 0o755)
    tasks = {f"t{i}": {"task_id": f"t{i}", "target_device_id": "far",
                       "task_data": {"duration_ms": 0}} for i in range(4)}
    tasks["t3"]["dependencies"] = ["t0", "t1", "t2"]
    constellation = tmp_path / "kinds.json"
    constellation.write_text(json.dumps({"constellation_id": "kinds", "tasks": tasks}))

    class World:
        pass

    w = World()
    w.dir, w.plugins, w.constellation = tmp_path, plugins, constellation
    w.built = tmp_path / "built.txt"
    w.journal = tmp_path / "journal.jsonl"
    return w


def run(orrery, w, device_group, plugins=True):
    conf = w.dir / "host.conf"
    conf.write_text(f"[Host]\nAutoEnable=false\nOutputDir={w.dir / 'out'}\n"
                    f"[Plugin devkind]\nEnabled=true\nOutput={w.built}\n" + device_group)
    args = ["run", "--config", conf, "--no-default-path", "--journal", w.journal]
    if plugins:
        args += ["--plugin-path", w.plugins]
    else:
        args += ["--no-plugins"]
    return orrery(*args, w.constellation, cwd=w.dir, timeout=60)


def test_run_on_a_plugin_kind(orrery, world):
    r = run(orrery, world, "[Device far]\nType=Fixture\nSlots=3\n")
    assert r.returncode == 0, r
    assert "4/4 tasks completed" in r.stdout, r
    assert world.built.read_text() == "built far\n"
    records = [json.loads(line) for line in world.journal.read_text().splitlines()]
    started = [x for x in records if x.get("type") == "task-started"]
    assert len(started) == 4, records
    assert {x.get("device") for x in started} == {"far"}, started


def test_unknown_kind_names_the_known_ones(orrery, world):
    r = run(orrery, world, "[Device far]\nType=quantum\n")
    assert r.returncode == 2, r
    conf = str(world.dir / "host.conf")
    assert (f"{conf}: [Device far] Type: unknown device kind “quantum” "
            "(known kinds: fixture, local, simulated)") in r.stderr, r
    assert not world.built.exists()


def test_plugin_kind_without_its_plugin(orrery, world):
    r = run(orrery, world, "[Device far]\nType=fixture\n", plugins=False)
    assert r.returncode == 2, r
    assert "[Device far] Type: unknown device kind “fixture” (known kinds: local, simulated)" in r.stderr, r


def test_bad_value_of_a_plugin_kind(orrery, world):
    r = run(orrery, world, "[Device far]\nType=fixture\nSlots=plenty\n")
    assert r.returncode == 2, r
    conf = str(world.dir / "host.conf")
    assert f"{conf}: [Device far] Slots: “plenty” is not a positive integer" in r.stderr, r


def plan_conf(w, device_group, enabled=True):
    conf = w.dir / "plan.conf"
    conf.write_text(f"[Host]\nAutoEnable=false\nPluginPath={w.plugins}\n"
                    f"[Plugin devkind]\nEnabled={'true' if enabled else 'false'}\n"
                    f"Output={w.built}\n" + device_group)
    return conf


def test_validate_and_dry_run_know_a_declared_kind(orrery, world):
    # validate and the dry run load no plugin: the kind comes from the
    # plugin's descriptor (ORRERY_PLUGIN_DEFINE_FULL), no plugin code runs.
    conf = plan_conf(world, "[Device far]\nType=fixture\nMaxConcurrency=3\n")
    r = orrery("validate", "--config", conf, world.constellation, cwd=world.dir, timeout=60)
    assert r.returncode == 0, r
    assert "would fail" not in r.stderr, r
    r = orrery("run", "--dry-run", "--config", conf, world.constellation, cwd=world.dir, timeout=60)
    assert r.returncode == 0, r
    assert "t0                   on far          (run by the plugin devkind)" in r.stdout, r
    assert "4 tasks in 2 steps would be started" in r.stdout, r   # 3 slots, then t3
    assert not world.built.exists()          # the plugin's factory never ran
    assert not (world.dir / "orrery-output").exists()
    r = orrery("plugins", "--config", conf, "devkind", cwd=world.dir, timeout=60)
    assert r.returncode == 0, r
    assert "Device kinds       fixture" in r.stdout, r


def test_validate_refuses_a_kind_no_enabled_plugin_declares(orrery, world):
    conf = plan_conf(world, "[Device far]\nType=fixtur\n")
    r = orrery("validate", "--config", conf, world.constellation, cwd=world.dir, timeout=60)
    assert r.returncode == 2, r
    assert ("[Device far] Type: unknown device kind “fixtur” "
            "(known kinds: fixture, local, simulated)") in r.stderr, r
    conf = plan_conf(world, "[Device far]\nType=fixture\n", enabled=False)
    r = orrery("run", "--dry-run", "--config", conf, world.constellation, cwd=world.dir, timeout=60)
    assert r.returncode == 2, r
    assert "unknown device kind “fixture” (known kinds: local, simulated)" in r.stderr, r
