# Plugin trust and hot plug, against the real program: `orrery plugins` runs
# no plugin code; `orrery run` refuses plugins another user could have
# written or swapped (as sshd's StrictModes), naming the path, its owner and
# mode, and never runs their code; copying a new build over a loaded plugin
# (`cp new.so x.so`, the same inode) during a run does not crash the host.
#
# The trap fixture's ELF constructor and init append to $ORRERY_FIXTURE_TRAP:
# the mark file tells whether any of its code ran. CI runs as root: the
# cases of another user's files chown to an unused uid; they are skipped
# where the machine refuses chown.
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from conftest import BUILD_ROOT, ORRERY

OTHER_UID = 4242


def fixture(name):
    return os.path.join(BUILD_ROOT, "tests", "plugins", name + ".so")


def install(directory, name, as_name=None):
    os.makedirs(directory, exist_ok=True)
    dest = os.path.join(directory, as_name or name + ".so")
    shutil.copyfile(fixture(name), dest)
    os.chmod(dest, 0o755)
    return dest


@pytest.fixture
def world(tmp_path):
    """A private (0700) working directory, a host configuration that enables
    nothing by itself, a one-task constellation and the trap mark."""
    os.chmod(tmp_path, 0o700)
    conf = tmp_path / "host.conf"
    conf.write_text("[Host]\nAutoEnable=true\n")
    constellation = tmp_path / "one.json"
    constellation.write_text(json.dumps({
        "constellation_id": "trust",
        "tasks": {"a": {"task_id": "a", "device_type": "LINUX",
                        "task_data": {"command": "true"}}},
    }))
    mark = tmp_path / "trap-ran"

    class World:
        pass

    w = World()
    w.dir, w.conf, w.constellation, w.mark = tmp_path, conf, constellation, mark
    w.env = {"ORRERY_FIXTURE_TRAP": str(mark)}
    return w


def run_with(orrery, w, *dirs, command="run", extra=()):
    args = [command, "--config", w.conf, "--no-default-path"]
    for d in dirs:
        args += ["--plugin-path", d]
    args += list(extra)
    if command == "run":
        args.append(w.constellation)
    return orrery(*args, env=w.env, timeout=60)


def can_chown(path):
    try:
        os.chown(path, OTHER_UID, OTHER_UID)
        os.chown(path, os.geteuid(), os.getegid())
        return True
    except PermissionError:
        return False


def test_listing_runs_no_plugin_code(orrery, world):
    plugins = world.dir / "plugins"
    os.mkdir(plugins, 0o755)
    install(plugins, "trap")
    install(plugins, "initfail")

    r = run_with(orrery, world, plugins, command="plugins")
    assert r.returncode == 0, r
    assert "trap" in r.stdout and "0.9" in r.stdout and "checked" in r.stdout, r
    assert "Leaves a mark when its code runs" in r.stdout
    # Neither the constructor nor init ran; initfail's init was not called.
    assert not world.mark.exists(), world.mark.read_text()
    assert "deliberate failure" not in r.stdout

    # The same plugin under `orrery run` does run: the trap is real.
    r = run_with(orrery, world, plugins)
    assert r.returncode == 0, r
    assert world.mark.read_text().splitlines()[:2] == ["constructor", "init"]


def test_run_loads_no_disabled_plugin(orrery, world):
    """`orrery run` checks a plugin the configuration leaves disabled but
    loads none of it: neither its ELF constructor nor its init runs (nor do
    its libraries load); enabled, the same file runs."""
    plugins = world.dir / "plugins"
    os.mkdir(plugins, 0o755)
    install(plugins, "trap")
    r = run_with(orrery, world, plugins, extra=("--disable", "trap"))
    assert r.returncode == 0, r
    assert not world.mark.exists(), world.mark.read_text()
    r = run_with(orrery, world, plugins, extra=("--enable", "trap"))
    assert r.returncode == 0, r
    assert world.mark.read_text().splitlines()[:2] == ["constructor", "init"]


def test_listing_escapes_what_it_reads(orrery, world):
    # Paths from the user are printed escaped (a directory name with ESC).
    plugins = world.dir / "plug\x1b]0;x\x07ins"
    os.mkdir(plugins, 0o755)
    install(plugins, "good")
    r = run_with(orrery, world, plugins, command="plugins")
    assert r.returncode == 0, r
    assert "\x1b" not in r.stdout and "\x07" not in r.stdout


def refused(r, path, *words):
    """`orrery run` went on and named the refused plugin and why."""
    assert r.returncode == 0, r
    text = r.stderr
    assert "not loaded" in text and "refused" in text, r
    assert str(path) in text, r
    for word in words:
        assert word in text, (word, r)


def test_symlink_into_world_writable_directory(orrery, world):
    open_dir = world.dir / "open"
    safe = world.dir / "safe"
    os.mkdir(open_dir, 0o755)
    os.mkdir(safe, 0o755)
    target = install(open_dir, "trap")
    os.chmod(open_dir, 0o777)
    os.symlink(target, safe / "trap.so")

    r = run_with(orrery, world, safe)
    refused(r, open_dir, "not sticky", "mode 0777", "uid 0" if os.geteuid() == 0 else "uid")
    assert not world.mark.exists()


def test_directory_whose_parent_is_writable_by_others(orrery, world):
    parent = world.dir / "shared"
    plugins = parent / "plugins"
    os.makedirs(plugins, 0o755)
    install(plugins, "trap")
    os.chmod(parent, 0o777)

    r = run_with(orrery, world, plugins)
    refused(r, parent, "writable by", "mode 0777")
    assert not world.mark.exists()


def test_so_in_subdirectory_of_world_writable_search_directory(orrery, world):
    search = world.dir / "drop"
    sub = search / "sub"
    os.makedirs(sub, 0o755)
    install(sub, "trap")
    os.chmod(search, 0o777)

    r = run_with(orrery, world, search)
    refused(r, search, "not sticky")
    assert not world.mark.exists()


def test_plugin_file_owned_by_another_user(orrery, world):
    plugins = world.dir / "plugins"
    os.mkdir(plugins, 0o755)
    trap = install(plugins, "trap")
    if not can_chown(trap):
        pytest.skip("chown to another uid refused (not root): cannot create another user's file")
    os.chown(trap, OTHER_UID, OTHER_UID)

    r = run_with(orrery, world, plugins)
    refused(r, trap, f"uid {OTHER_UID}", "mode 0755")
    assert not world.mark.exists()


def test_plugin_directory_owned_by_another_user(orrery, world):
    plugins = world.dir / "theirs"
    os.mkdir(plugins, 0o755)
    install(plugins, "trap")
    if not can_chown(plugins):
        pytest.skip("chown to another uid refused (not root): cannot create another user's directory")
    os.chown(plugins, OTHER_UID, OTHER_UID)

    r = run_with(orrery, world, plugins)
    refused(r, plugins, f"uid {OTHER_UID}")
    assert not world.mark.exists()


def test_sticky_directory_is_safe_only_for_own_entries(orrery, world):
    sticky = world.dir / "sticky"
    mine = sticky / "mine"
    theirs = sticky / "theirs"
    os.makedirs(mine, 0o700)
    os.makedirs(theirs, 0o755)
    install(mine, "good")
    install(theirs, "trap")
    chown_ok = can_chown(theirs)
    if chown_ok:
        os.chown(theirs, OTHER_UID, OTHER_UID)
    os.chmod(sticky, 0o1777)

    r = run_with(orrery, world, mine, theirs, command="plugins")
    assert r.returncode == 0, r
    good_line = next(l for l in r.stdout.splitlines() if l.startswith("good "))
    assert "checked" in good_line, r
    if chown_ok:
        assert "refused" in r.stdout and f"uid {OTHER_UID}" in r.stdout, r
    assert not world.mark.exists()


def test_build_tree_plugins_are_trusted(orrery):
    """The build tree's own plugins (default path) pass the rule wherever the
    tree is, /tmp included, as long as no directory above is open to others."""
    r = orrery("plugins", timeout=60)
    assert r.returncode == 0, r
    assert "refused" not in r.stdout, r
    for name in ("visualizer", "metrics", "synchronizer", "failure-monitor"):
        line = next(l for l in r.stdout.splitlines() if l.startswith(name + " "))
        assert "checked" in line, r


def test_copy_over_loaded_plugin_during_run(orrery, world):
    """`cp new.so plugins/good.so` (the same inode) while the run uses it:
    the host survives, and the new build is loaded as a new copy."""
    plugins = world.dir / "plugins"
    os.mkdir(plugins, 0o755)
    good = install(plugins, "good")
    log = world.dir / "events.log"
    inode = os.stat(good).st_ino
    constellation = world.dir / "slow.json"
    tasks = {f"t{i}": {"task_id": f"t{i}", "device_type": "LINUX",
                       "task_data": {"command": "sleep 0.25"}} for i in range(12)}
    chain = [{"from_task_id": f"t{i}", "to_task_id": f"t{i + 1}",
              "dependency_type": "SUCCESS_ONLY"} for i in range(11)]
    constellation.write_text(json.dumps({"constellation_id": "slow", "tasks": tasks,
                                         "dependencies": chain}))

    env = dict(os.environ, NO_COLOR="1", **world.env)
    proc = subprocess.Popen([ORRERY, "run", "--config", str(world.conf), "--no-default-path",
                             "--plugin-path", str(plugins), "--set", f"good.Output={log}",
                             str(constellation)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not (log.exists() and log.read_text().count("task-completed") >= 2):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the run never got going"
            time.sleep(0.05)
        # What cp does: truncate and write the same inode, here in two halves.
        new = open(fixture("good-v2"), "rb").read()
        with open(good, "r+b") as f:
            f.truncate(0)
            f.write(new[: len(new) // 2])
            f.flush()
            time.sleep(0.3)
            f.write(new[len(new) // 2:])
        assert os.stat(good).st_ino == inode
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.communicate()
    out, err = out.decode(errors="replace"), err.decode(errors="replace")
    assert proc.returncode == 0, (proc.returncode, out, err)
    assert "12/12 tasks completed" in out + err, (out, err)
    assert "changed" in err, err
    # Events kept flowing, to the old copy then the new one.
    assert log.read_text().count("task-completed") >= 10, log.read_text()
