#!/usr/bin/gjs -m
// Runs a constellation from JavaScript (gjs) through GObject Introspection
// and prints every event as it happens, then a summary.
//
//   GI_TYPELIB_PATH=build/sdk LD_LIBRARY_PATH=build/sdk \
//     gjs -m data/examples/watch.js data/constellations/build-and-test.json
//
// Exits 0 if the run succeeded, 1 otherwise.
import GLib from 'gi://GLib';
import Orrery from 'gi://Orrery?version=1.0';
import System from 'system';

const file = ARGV[0] ?? 'data/constellations/build-and-test.json';
const constellation = Orrery.Constellation.new_from_file(file);
const bus = Orrery.EventBus.new();
const devices = Orrery.DeviceManager.new();
devices.add_default_devices();
const orchestrator = Orrery.Orchestrator.new(bus, devices);
const loop = new GLib.MainLoop(null, false);
let ok = false;

bus.connect('event', (_bus, ev) => {
    const what = ev.get_kind() === Orrery.EventKind.TASK ? ev.get_task_id() : ev.get_source_id();
    print(`${String(ev.get_sequence()).padStart(3)} ${ev.get_type_nick().padEnd(24)} ${what}`);
});
bus.connect('event::task-failed', (_bus, ev) => {
    printerr(`  ${ev.get_task_id()} failed: ${ev.get_error()?.message ?? 'no error'}`);
});

orchestrator.run_async(constellation, null, (source, res) => {
    try {
        ok = source.run_finish(res);
    } catch (e) {
        printerr(`run failed: ${e.message}`);
    }
    loop.quit();
});
loop.run();

const done = constellation.count_status(Orrery.TaskStatus.COMPLETED);
print(`${done}/${constellation.get_n_tasks()} tasks completed`);
System.exit(ok ? 0 : 1);
