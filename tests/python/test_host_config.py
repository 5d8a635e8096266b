"""What `orrery run` builds from an orrery.conf, built by a script with one
call each: the devices (DeviceManager.load_config) and the run settings
(Orchestrator.apply_config); a device kind of the script's own; errors that
name the file and the key."""
import gi
import pytest

gi.require_version("Orrery", "1.0")
from gi.repository import GLib, Orrery  # noqa: E402

CONF = """\
[Host]
Strategy=load-balance
MaxConcurrency=6
RetryDelayMs=25
RetryBackoff=1.5
RetryMaxDelayMs=400

[Device builder]
Type=local
DeviceType=Windows
Capabilities=docker;
MaxConcurrency=2
MaxOutputBytes=1024

[Device sim]
Type=simulated
MaxConcurrency=8
Capabilities=gpu;fast

[Plugin metrics]
Enabled=false
"""


def load(tmp_path, text):
    path = tmp_path / "orrery.conf"
    path.write_text(text)
    config = Orrery.Config.new()
    assert config.load_file(str(path))
    return config, str(path)


def test_devices_and_settings_from_orrery_conf(tmp_path):
    config, _ = load(tmp_path, CONF)
    devices = Orrery.DeviceManager.new()
    orch = Orrery.Orchestrator.new(None, devices)

    assert devices.load_config(config)
    assert orch.apply_config(config)

    assert sorted(d.get_id() for d in devices.get_devices()) == ["builder", "sim"]
    builder = devices.get_device("builder")
    assert isinstance(builder, Orrery.LocalDevice)
    assert builder.get_device_type() == "Windows"
    assert builder.get_max_concurrency() == 2
    assert list(builder.get_capabilities()) == ["docker"]
    assert builder.get_max_output_bytes() == 1024
    sim = devices.get_device("sim")
    assert isinstance(sim, Orrery.SimulatedDevice)
    assert sim.get_max_concurrency() == 8
    assert sim.has_capability("gpu") and sim.has_capability("fast")

    assert devices.get_strategy() == Orrery.DispatchStrategy.LOAD_BALANCE
    assert orch.get_max_concurrency() == 6
    assert orch.get_retry_policy() == (25, 1.5, 400)


def test_defaults_without_a_host_group(tmp_path):
    config, _ = load(tmp_path, "[Plugin metrics]\nEnabled=false\n")
    devices = Orrery.DeviceManager.new()
    orch = Orrery.Orchestrator.new(None, devices)

    assert devices.load_config(config)
    assert orch.apply_config(config)
    # The default device, as `orrery run` has it.
    assert [d.get_id() for d in devices.get_devices()] == ["local"]
    assert devices.get_strategy() == Orrery.DispatchStrategy.ROUND_ROBIN
    assert orch.get_max_concurrency() == 0
    assert orch.get_retry_policy() == (Orrery.ORCHESTRATOR_DEFAULT_RETRY_DELAY_MS,
                                       Orrery.ORCHESTRATOR_DEFAULT_RETRY_BACKOFF,
                                       Orrery.ORCHESTRATOR_DEFAULT_RETRY_MAX_DELAY_MS)


def test_errors_name_the_file_and_key(tmp_path):
    config, path = load(tmp_path, "[Host]\nRetryDelayMs=soon\n[Device a]\nMaxConcurrency=0\n")
    devices = Orrery.DeviceManager.new()
    orch = Orrery.Orchestrator.new(None, devices)

    with pytest.raises(GLib.Error) as e:
        devices.load_config(config)
    assert e.value.matches(Orrery.device_error_quark(), Orrery.DeviceError.BAD_CONFIG)
    assert e.value.message.startswith(f"{path}: [Device a] MaxConcurrency: “0”")
    assert devices.get_n_devices() == 0

    with pytest.raises(GLib.Error) as e:
        orch.apply_config(config)
    assert e.value.matches(Orrery.config_error_quark(), Orrery.ConfigError.BAD_VALUE)
    assert e.value.message.startswith(f"{path}: [Host] RetryDelayMs: “soon”")


def test_a_script_registers_a_device_kind(tmp_path):
    config, path = load(tmp_path, "[Device pool]\nType=Pool\nSlots=3\n")
    devices = Orrery.DeviceManager.new()
    calls = []

    def build(config, group, device_id):
        slots = Orrery.device_kind_get_count(config, group, "Slots", 1, 100, 1)
        calls.append((group, device_id))
        return Orrery.SimulatedDevice.new(device_id, "pool", slots)

    assert devices.register_kind("pool", build)
    assert "pool" in devices.get_kinds()
    assert devices.load_config(config)
    assert calls == [("Device pool", "pool")]
    pool = devices.get_device("pool")
    assert pool.get_device_type() == "pool"
    assert pool.get_max_concurrency() == 3

    # A run on it.
    bus = Orrery.EventBus.new()
    orch = Orrery.Orchestrator.new(bus, devices)
    c = Orrery.Constellation.new("kinds", "on a script's kind")
    for i in range(3):
        c.add_task(Orrery.Task.new(f"t{i}", f"t{i}"))
    started = []
    bus.connect("event::task-started", lambda b, ev: started.append(ev.get_device_id()))
    loop = GLib.MainLoop()
    result = {}

    def done(o, res):
        result["ok"] = o.run_finish(res)
        loop.quit()

    orch.run_async(c, None, done)
    loop.run()
    assert result["ok"]
    assert started == ["pool"] * 3

    # The factory's error reaches the caller.
    bad, _ = load(tmp_path, "[Device pool2]\nType=pool\nSlots=none\n")
    with pytest.raises(GLib.Error) as e:
        devices.load_config(bad)
    assert "[Device pool2] Slots: “none” is not a positive integer" in e.value.message
