# The plugin engine through PyGObject: load the good fixture plugin, see it
# receive events, disable and re-enable it, and read a refused plugin's error.
import os
import shutil

import gi

gi.require_version("Orrery", "1.0")
from gi.repository import GLib, Orrery  # noqa: E402

BUILDDIR = os.environ.get("G_TEST_BUILDDIR", os.path.join(os.path.dirname(__file__), ".."))


def fixture(name):
    return os.path.join(BUILDDIR, "plugins", name + ".so")


def plugin_dir(tmp_path, *names):
    d = tmp_path / "plugins"
    d.mkdir()
    os.chmod(d, 0o700)
    for name in names:
        dest = d / (name + ".so")
        shutil.copyfile(fixture(name), dest)
        os.chmod(dest, 0o755)
    return d


def make_engine(bus, config, directory):
    engine = Orrery.PluginEngine.new(bus, config)
    engine.set_use_default_path(False)
    engine.add_search_path(str(directory))
    return engine


def publish(bus, event_type, n=1):
    for _ in range(n):
        bus.publish(Orrery.Event.new(event_type, "python", None))


def test_good_plugin_receives_events(tmp_path, monkeypatch):
    monkeypatch.delenv("ORRERY_PLUGIN_PATH", raising=False)
    directory = plugin_dir(tmp_path, "good")
    output = tmp_path / "events.txt"
    bus = Orrery.EventBus.new()
    config = Orrery.Config.new()
    config.set_override("Plugin good", "Output", str(output))
    engine = make_engine(bus, config, directory)
    changes = []
    engine.connect("plugin-state-changed", lambda _e, info: changes.append(info.get_state()))

    assert engine.load_all() == 1
    info = engine.lookup("good")
    assert info.get_name() == "good"
    assert info.get_version() == "1.2.3"
    assert info.props.file == str(directory / "good.so")
    assert info.get_state() == Orrery.PluginState.ENABLED
    assert info.get_error() is None
    assert changes == [Orrery.PluginState.DISABLED, Orrery.PluginState.ENABLED]

    publish(bus, Orrery.EventType.TASK_COMPLETED)
    publish(bus, Orrery.EventType.TASK_FAILED)
    publish(bus, Orrery.EventType.CONSTELLATION_COMPLETED)
    assert output.read_text().split() == [
        "task-completed", "task-failed", "constellation-completed"]

    # Disabled: no more events; enabled again: events flow again.
    assert engine.disable("good")
    assert info.get_state() == Orrery.PluginState.DISABLED
    publish(bus, Orrery.EventType.TASK_COMPLETED, 2)
    assert len(output.read_text().split()) == 3
    assert engine.enable("good")
    publish(bus, Orrery.EventType.TASK_STARTED)
    assert output.read_text().split()[-1] == "task-started"

    engine.shutdown()
    assert bus.get_n_subscriptions() == 0


def test_refused_plugin_reports_why(tmp_path, monkeypatch):
    monkeypatch.delenv("ORRERY_PLUGIN_PATH", raising=False)
    directory = plugin_dir(tmp_path, "abi-major", "initfail")
    bus = Orrery.EventBus.new()
    engine = make_engine(bus, Orrery.Config.new(), directory)

    assert engine.load_all() == 0
    states = {os.path.basename(p.get_file()): p for p in engine.get_plugins()}
    abi = states["abi-major.so"]
    assert abi.get_state() == Orrery.PluginState.FAILED
    error = abi.get_error()
    assert error.matches(Orrery.plugin_error_quark(), Orrery.PluginError.ABI_MISMATCH)
    assert "abi-major.so" in error.message

    initfail = engine.lookup("initfail")
    assert initfail.get_error().matches(Orrery.plugin_error_quark(),
                                        Orrery.PluginError.INIT_FAILED)
    try:
        engine.enable("initfail")
    except GLib.Error as e:
        assert e.matches(Orrery.plugin_error_quark(), Orrery.PluginError.INIT_FAILED)
        assert "deliberate failure" in e.message
    else:
        raise AssertionError("enabling a plugin whose init fails must raise")


def test_config_errors_name_file_group_key():
    config = Orrery.Config.new()
    config.load_data("[Plugin p]\nLimit=lots\n", "host.conf")
    try:
        config.get_int("Plugin p", "Limit", 3)
    except GLib.Error as e:
        assert e.matches(Orrery.config_error_quark(), Orrery.ConfigError.BAD_VALUE)
        assert "host.conf" in e.message and "[Plugin p]" in e.message and "Limit" in e.message
    else:
        raise AssertionError("a bad integer must raise")
    assert config.get_int("Plugin p", "Missing", 3) == 3
