# The command line as a user of GStreamer, GLib or make meets it: `orrery
# plugins NAME` (like gst-inspect-1.0 NAME) shows a plugin's keys without
# running its code, per-command usage lines and `orrery help CMD`, `-` for
# standard input, --verbose, a plugin named on the command line that does
# not exist is a usage error (2), `orrery validate` checks the tasks against
# the configured devices, `orrery run --dry-run` runs nothing.
#
# The trap fixture's ELF constructor and init append to $ORRERY_FIXTURE_TRAP:
# the mark file tells whether any of its code ran.
import json
import os
import re
import shlex
import shutil
import subprocess

import pytest

from conftest import BUILD_ROOT, ORRERY, SOURCE_ROOT


def fixture(name):
    return os.path.join(BUILD_ROOT, "tests", "plugins", name + ".so")


@pytest.fixture
def world(tmp_path):
    """A private working directory with the trap plugin in plugins/, a
    configuration that enables nothing by itself, and the trap's mark."""
    os.chmod(tmp_path, 0o700)
    plugins = tmp_path / "plugins"
    plugins.mkdir(mode=0o755)
    shutil.copyfile(fixture("trap"), plugins / "trap.so")
    os.chmod(plugins / "trap.so", 0o755)
    conf = tmp_path / "host.conf"
    conf.write_text("[Host]\nAutoEnable=false\n\n[Plugin trap]\nLevel=7\n")

    class World:
        pass

    w = World()
    w.dir, w.plugins, w.conf = tmp_path, plugins, conf
    w.mark = tmp_path / "trap-ran"
    w.env = {"ORRERY_FIXTURE_TRAP": str(w.mark)}
    w.args = ["--config", conf, "--no-default-path", "--plugin-path", plugins]
    return w


def write_constellation(path, tasks, deps=None):
    path.write_text(json.dumps({"constellation_id": "cli", "name": "cli",
                                "tasks": tasks, "dependencies": deps or {}}))
    return path


# ---------------------------------------------------------------------------
# orrery plugins NAME


def test_plugins_name_shows_keys_without_running_code(orrery, world):
    r = orrery("plugins", "trap", *world.args, "--set", "trap.Verbose=true",
               env=world.env, timeout=60)
    assert r.returncode == 0, r
    out = r.stdout
    assert "Leaves a mark when its code runs" in out, r
    assert "0.9" in out and str(world.plugins / "trap.so") in out, r
    assert "checked" in out, r
    # Every declared key: name, description, type, default, current value
    # and where it comes from.
    level = out[out.index("  Level\n"):]
    assert "how loud the trap is" in level.split("\n")[1], r
    assert "unsigned integer" in level and "Default:  3" in level, r
    assert "Current:  7 (from " + str(world.conf) + ")" in level, r
    verbose = out[out.index("  Verbose\n"):]
    assert "boolean" in verbose and "Current:  true (from command line)" in verbose, r
    # The keys the host reads for every plugin.
    assert "Isolation" in out and "Enabled" in out, r
    # Neither its constructor nor its init ran.
    assert not world.mark.exists(), world.mark.read_text()

    # --load runs its init: the mark is real.
    r = orrery("plugins", "trap", "--load", "--enable", "trap", *world.args,
               env=world.env, timeout=60)
    assert r.returncode == 0, r
    assert "init" in world.mark.read_text().split(), r


def test_plugins_metrics_lists_http_port(orrery, tmp_path):
    # The build tree's plugins, as a user finds them after building.
    r = orrery("plugins", "metrics", cwd=tmp_path, timeout=60)
    assert r.returncode == 0, r
    assert "HttpPort" in r.stdout, r
    port = r.stdout[r.stdout.index("HttpPort"):]
    assert "serve /metrics" in port and "unsigned integer" in port, r


def test_plugins_unknown_name_is_a_usage_error(orrery, world):
    r = orrery("plugins", "no-such-plugin", *world.args, env=world.env, timeout=60)
    assert r.returncode == 2, r
    assert "no-such-plugin" in r.stderr and "orrery plugins" in r.stderr, r


# ---------------------------------------------------------------------------
# Usage lines, help, standard input, --verbose


@pytest.mark.parametrize("command,usage", [
    ("run", "Usage: orrery run [OPTION…] FILE"),
    ("validate", "Usage: orrery validate [OPTION…] FILE…"),
    ("show", "Usage: orrery show [OPTION…] FILE"),
])
def test_usage_line_of_a_command(orrery, tmp_path, command, usage):
    r = orrery(command, cwd=tmp_path, timeout=60)
    assert r.returncode == 2, r
    assert usage in r.stderr.splitlines(), r
    assert f"orrery help {command}" in r.stderr, r


def test_help_command(orrery, tmp_path):
    r = orrery("help", "run", cwd=tmp_path, timeout=60)
    assert r.returncode == 0, r
    assert "orrery run [OPTION…] FILE" in r.stdout and "--dry-run" in r.stdout, r

    r = orrery("help", cwd=tmp_path, timeout=60)
    assert r.returncode == 0, r
    assert "Commands:" in r.stdout and "G_MESSAGES_DEBUG" in r.stdout, r

    r = orrery("help", "frobnicate", cwd=tmp_path, timeout=60)
    assert r.returncode == 2, r
    assert "unknown command" in r.stderr, r


def test_dash_reads_standard_input(orrery, tmp_path):
    text = json.dumps({"constellation_id": "piped", "name": "piped",
                       "tasks": {"a": {"task_id": "a", "task_data": {"command": "true"}}}})
    r = orrery("validate", "-", cwd=tmp_path, input=text, timeout=60)
    assert r.returncode == 0, r
    assert "(standard input): valid: “piped”" in r.stdout, r

    r = orrery("show", "-", cwd=tmp_path, input=text, timeout=60)
    assert r.returncode == 0, r

    r = orrery("validate", "-", cwd=tmp_path, input="{ not json", timeout=60)
    assert r.returncode == 3, r
    assert "(standard input)" in r.stderr, r


def test_verbose_prints_debug_messages(orrery, world):
    r = orrery("plugins", *world.args, "--plugin-path", world.dir / "missing",
               env=world.env, timeout=60)
    assert r.returncode == 0, r
    assert "DEBUG" not in r.stderr + r.stdout, r
    # After the command as before it.
    for args in (["plugins", "--verbose"], ["--verbose", "plugins"]):
        r = orrery(*args, *world.args, "--plugin-path", world.dir / "missing",
                   env=world.env, timeout=60)
        assert r.returncode == 0, r
        # On standard error: standard output stays the command's.
        assert "Orrery-Plugins-DEBUG" in r.stderr and "missing" in r.stderr, r
        assert "DEBUG" not in r.stdout, r


@pytest.mark.parametrize("option", [
    ["--enable", "no-such-plugin"],
    ["--set", "no-such-plugin.Level=1"],
    ["--isolate", "no-such-plugin"],
])
def test_a_plugin_that_does_not_exist_is_a_usage_error(orrery, world, option):
    c = write_constellation(world.dir / "one.json",
                            {"a": {"task_id": "a", "task_data": {"command": "touch ran"}}})
    r = orrery("run", *world.args, *option, c, cwd=world.dir, env=world.env, timeout=60)
    assert r.returncode == 2, r
    assert "no-such-plugin" in r.stderr and "not in the plugin search path" in r.stderr, r
    assert not (world.dir / "ran").exists()
    assert not (world.dir / "orrery-output").exists()
    # A plugin that exists is accepted, and none of its code runs to check it.
    r = orrery("plugins", *world.args, "--set", "trap.Level=1", "--enable", "trap",
               "--isolate", "trap", cwd=world.dir, env=world.env, timeout=60)
    assert r.returncode == 0, r
    assert not world.mark.exists(), world.mark.read_text()
    r = orrery("run", *world.args, "--set", "trap.Level=1", "--disable", "trap", c,
               cwd=world.dir, env=world.env, timeout=60)
    assert r.returncode == 0, r
    assert (world.dir / "ran").exists()


# ---------------------------------------------------------------------------
# validate against the devices, run --dry-run


def devices_world(tmp_path):
    conf = tmp_path / "devices.conf"
    conf.write_text("[Host]\nAutoEnable=false\n\n[Device box]\nType=local\n\n"
                    "[Device sim]\nType=simulated\n")
    c = write_constellation(tmp_path / "tasks.json", {
        "ghost": {"task_id": "ghost", "target_device_id": "nowhere",
                  "task_data": {"command": "true"}},
        "gpu": {"task_id": "gpu", "device_type": "gpu", "task_data": {"command": "true"}},
        "typo": {"task_id": "typo", "target_device_id": "box", "task_data": {"comand": "true"}},
        "fine": {"task_id": "fine", "target_device_id": "box", "task_data": {"command": "true"}},
    })
    return conf, c


def test_validate_checks_tasks_against_devices(orrery, tmp_path):
    conf, c = devices_world(tmp_path)
    r = orrery("validate", "--config", conf, c, cwd=tmp_path, timeout=60)
    assert r.returncode == 0, r
    assert "3 warnings" in r.stdout, r
    err = r.stderr
    assert "warning: task “ghost” would fail" in err and "“nowhere” does not exist" in err, r
    assert "warning: task “gpu” would fail" in err and "“gpu”" in err, r
    assert "warning: task “typo” would fail on local device “box”" in err, r
    assert "“fine”" not in err, r

    r = orrery("validate", "--strict", "--config", conf, c, cwd=tmp_path, timeout=60)
    assert r.returncode == 3, r
    assert "error: task “ghost”" in r.stderr and "invalid (3 problems)" in r.stderr, r

    r = orrery("validate", "--strict", "--config", tmp_path / "missing.conf", c,
               cwd=tmp_path, timeout=60)
    assert r.returncode == 2, r
    assert "missing.conf" in r.stderr, r


def test_dry_run_prints_the_plan_and_runs_nothing(orrery, tmp_path):
    os.chmod(tmp_path, 0o700)
    conf = tmp_path / "host.conf"
    conf.write_text("[Host]\nAutoEnable=false\n\n[Device box]\nType=local\n\n"
                    "[Device sim]\nType=simulated\n")
    c = write_constellation(tmp_path / "plan.json", {
        "first": {"task_id": "first", "device_type": "linux", "priority": "low",
                  "task_data": {"command": ["touch", "first-ran"]}},
        "urgent": {"task_id": "urgent", "device_type": "linux", "priority": "critical",
                   "task_data": {"command": "touch urgent-ran"}},
        "then": {"task_id": "then", "device_type": "linux",
                 "task_data": {"command": "touch then-ran"}},
        "sim": {"task_id": "sim", "device_type": "simulated", "priority": "low",
                "task_data": {"duration_ms": 5000}},
    }, {
        "first->then": {"from_task_id": "first", "to_task_id": "then",
                        "dependency_type": "success_only"},
    })
    r = orrery("run", "--dry-run", "--config", conf, c, cwd=tmp_path, timeout=60)
    assert r.returncode == 0, r
    out = r.stdout
    # Dispatch order: by priority, then by id; then the newly ready.
    order = re.findall(r"^  (\S+) +on ", out, re.M)
    assert order == ["urgent", "first", "sim", "then"], r
    assert "on box" in out and "$ touch urgent-ran" in out and "$ 'touch' 'first-ran'" in out, r
    assert "on sim" in out and "simulated for 5000 ms" in out, r
    # Nothing ran, nothing was created.
    assert sorted(os.listdir(tmp_path)) == ["host.conf", "plan.json"], r

    # A task no device can take: the plan says so, exit status 1.
    c2 = write_constellation(tmp_path / "bad.json", {
        "a": {"task_id": "a", "target_device_id": "nowhere", "task_data": {"command": "true"}},
        "b": {"task_id": "b", "task_data": {"command": "true"}},
    }, {"a->b": {"from_task_id": "a", "to_task_id": "b", "dependency_type": "success_only"}})
    r = orrery("run", "-n", "--config", conf, c2, cwd=tmp_path, timeout=60)
    assert r.returncode == 1, r
    assert "would fail" in r.stdout and "b " in r.stdout and "skipped" in r.stdout, r
    assert sorted(os.listdir(tmp_path)) == ["bad.json", "host.conf", "plan.json"], r


# ---------------------------------------------------------------------------
# The manual page and bash completion, as installed


COMMANDS = ["run", "resume", "replay", "watch", "serve", "validate", "show", "plugins"]
# `orrery help worker` runs the redis plugin's program: built (and a
# dependency of the fault suite) where hiredis is.
WORKER = os.path.join(BUILD_ROOT, "plugins", "redis", "orrery-redis-worker")
if os.access(WORKER, os.X_OK):
    COMMANDS.append("worker")


def long_options(orrery, command, cwd):
    r = orrery("help", command, cwd=cwd, timeout=60)
    assert r.returncode == 0, r
    return sorted(set(re.findall(r"^  (?:-\w, )?(--[a-z-]+)", r.stdout, re.M)) - {"--help"})


def test_man_page_renders_and_covers_every_option(orrery, tmp_path):
    page = os.path.join(BUILD_ROOT, "data", "orrery.1")
    env = dict(os.environ, LC_ALL="C", MANWIDTH="120", MANPAGER="cat", PAGER="cat")
    r = subprocess.run(["man", "--warnings", "-l", page], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", r.stderr
    text = r.stdout
    assert text.startswith("ORRERY(1)"), text[:200]
    for section in ("NAME", "SYNOPSIS", "COMMANDS", "EXIT STATUS", "ENVIRONMENT", "FILES"):
        assert "\n" + section + "\n" in text, section
    assert "@" not in text, "a configure_file variable was left: " + text[text.index("@") - 80:][:160]
    for command in COMMANDS:
        assert f"orrery {command} [OPTION...]" in text, command
        for option in long_options(orrery, command, tmp_path):
            assert option in text, f"orrery {command} {option} is not in the manual"
    for domain in ("Orrery-Plugins", "Orrery-Bus", "Orrery-Metrics"):
        assert domain in text


def complete(tmp_path, line, path_dirs, extra_env=None):
    """What bash's completion offers for LINE (completed at its end), in an
    interactive `bash -i` with bash-completion and orrery's completion
    loaded from the build tree, as a user's shell has them."""
    script = os.path.join(SOURCE_ROOT, "data", "orrery.bash-completion")
    rc = tmp_path / "bashrc"
    rc.write_text(
        "source /usr/share/bash-completion/bash_completion\n"
        f"source {shlex.quote(script)}\n")
    words = shlex.split(line) + ([""] if line.endswith(" ") else [])
    probe = (
        f"COMP_LINE={shlex.quote(line)}; COMP_POINT=${{#COMP_LINE}}; "
        f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)}); "
        f"COMP_CWORD={len(words) - 1}; _orrery orrery; "
        "printf 'COMPREPLY:%s\\n' \"${COMPREPLY[@]}\"; exit\n")
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join(path_dirs + [env.get("PATH", "")])
    env["HOME"] = str(tmp_path)
    env.update(extra_env or {})
    r = subprocess.run(["bash", "--rcfile", str(rc), "-i"], input=probe, env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    return [line[len("COMPREPLY:"):] for line in r.stdout.splitlines()
            if line.startswith("COMPREPLY:") and line != "COMPREPLY:"], r


def test_bash_completion_offers_plugin_names(tmp_path):
    bindir = [os.path.dirname(os.path.abspath(ORRERY))]
    offered, r = complete(tmp_path, "orrery plugins me", bindir)
    assert offered == ["metrics"], r
    offered, r = complete(tmp_path, "orrery run --enable ", bindir)
    assert {"metrics", "visualizer", "dashboard"} <= set(offered), r
    offered, r = complete(tmp_path, "orrery run --set=vis", bindir)
    assert offered == ["visualizer."], r
    offered, r = complete(tmp_path, "orrery ", bindir)
    assert {"run", "validate", "plugins", "help"} <= set(offered), r
    offered, r = complete(tmp_path, "orrery run --dry", bindir)
    assert offered == ["--dry-run"], r
    offered, r = complete(tmp_path, "orrery run --strategy ", bindir)
    assert offered == ["round-robin", "capability-match", "load-balance"], r
    (tmp_path / "build.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("")
    offered, r = complete(tmp_path, "orrery run b", bindir)
    assert offered == ["build.json"], r


# ---------------------------------------------------------------------------
# Search paths: the per-user plugin directory, XDG_CONFIG_DIRS


def test_user_plugin_directory(orrery, tmp_path):
    os.chmod(tmp_path, 0o700)
    data_home = tmp_path / "data"
    user_plugins = data_home / "orrery" / "plugins"
    user_plugins.mkdir(parents=True)
    shutil.copyfile(fixture("trap"), user_plugins / "trap.so")
    os.chmod(user_plugins / "trap.so", 0o755)
    mark = tmp_path / "trap-ran"
    env = {"XDG_DATA_HOME": str(data_home), "ORRERY_FIXTURE_TRAP": str(mark)}

    r = orrery("plugins", "trap", cwd=tmp_path, env=env, timeout=60)
    assert r.returncode == 0, r
    assert str(user_plugins / "trap.so") in r.stdout, r
    r = orrery("plugins", cwd=tmp_path, env=env, timeout=60)
    assert str(user_plugins) + "\n" in r.stdout, r
    # Before the default directory: the build tree's plugins are still found.
    assert r.stdout.index(str(user_plugins)) < r.stdout.index("metrics"), r
    # --no-default-path leaves it out, with the default directory.
    r = orrery("plugins", "trap", "--no-default-path", cwd=tmp_path, env=env, timeout=60)
    assert r.returncode == 2, r
    assert not mark.exists()


def test_xdg_config_dirs(orrery, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    for d in (first, second):
        (d / "orrery").mkdir(parents=True)
    (second / "orrery" / "orrery.conf").write_text("[Host]\nAutoEnable=false\n")
    env = {"XDG_CONFIG_HOME": str(tmp_path / "nothing-here"),
           "XDG_CONFIG_DIRS": f"{first}:{second}"}
    r = orrery("plugins", cwd=tmp_path, env=env, timeout=60)
    assert r.returncode == 0, r
    assert f"Configuration: {second}/orrery/orrery.conf\n" in r.stdout, r
    # AutoEnable=false from that file: nothing would be enabled.
    assert re.search(r"^metrics +\S+ +checked +no ", r.stdout, re.M), r
    # The first directory wins.
    (first / "orrery" / "orrery.conf").write_text("[Host]\n")
    r = orrery("plugins", cwd=tmp_path, env=env, timeout=60)
    assert f"Configuration: {first}/orrery/orrery.conf\n" in r.stdout, r
    # The user's own still comes first.
    (tmp_path / "nothing-here" / "orrery").mkdir(parents=True)
    (tmp_path / "nothing-here" / "orrery" / "orrery.conf").write_text("[Host]\n")
    r = orrery("plugins", cwd=tmp_path, env=env, timeout=60)
    assert f"Configuration: {tmp_path}/nothing-here/orrery/orrery.conf\n" in r.stdout, r


# ---------------------------------------------------------------------------
# Metrics as Prometheus wants them, from the real program


def test_metrics_label_the_run(orrery, tmp_path):
    os.chmod(tmp_path, 0o700)
    conf = tmp_path / "host.conf"
    conf.write_text("[Host]\nAutoEnable=false\n\n[Plugin metrics]\nEnabled=true\nSummary=false\n")
    c = write_constellation(tmp_path / "one.json",
                            {"a": {"task_id": "a", "task_data": {"command": "true"}}})
    r = orrery("run", "--config", conf, c, cwd=tmp_path, timeout=60)
    assert r.returncode == 0, r
    run_id = re.search(r"^orrery: run (\S+) in ", r.stderr, re.M).group(1)
    prom = (tmp_path / "orrery-output" / "runs" / run_id / "metrics.prom").read_text()
    labels = f'{{constellation="cli",run_id="{run_id}"}}'
    assert f"\norrery_run_finished{labels} 1\n" in prom, prom
    assert f"\norrery_run_tasks{labels} 1\n" in prom, prom
    assert "# TYPE orrery_task_duration_seconds histogram\n" in prom, prom
    assert re.search(r'^orrery_build_info\{version="[^"]+",sdk_version="[^"]+",plugin_abi="\d+\.\d+"\} 1$',
                     prom, re.M), prom
    assert "orrery_event_rate" not in prom
