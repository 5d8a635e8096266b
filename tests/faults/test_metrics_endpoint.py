# The metrics plugin's /metrics endpoint against hostile local clients: a
# crowd of idle connections must not take the descriptors the tasks need,
# and a page that DNS rebinding points at 127.0.0.1 must not read it.
import json
import os
import resource
import socket
import subprocess
import time

import pytest

from conftest import BUILD_ROOT, ORRERY

N_IDLE = 500
N_TASKS = 30
FD_LIMIT = 256       # the host's descriptors: fewer than the idle clients


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port, host, timeout=5):
    """One GET /metrics with the given Host header: (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET /metrics HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.") else 0
    return status, body.decode(errors="replace")


def wait_file_cmd(flag):
    # Waits for FLAG (at most 60 s), so the test decides when tasks run.
    return ["sh", "-c", f"i=0; while [ ! -e '{flag}' ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; [ -e '{flag}' ]"]


def constellation(tmp_path, go, end):
    tasks = {"gate": {"task_id": "gate", "task_data": {"command": wait_file_cmd(go)}},
             "last": {"task_id": "last", "task_data": {"command": wait_file_cmd(end)}}}
    deps = []
    for i in range(N_TASKS):
        tid = f"t{i:02}"
        tasks[tid] = {"task_id": tid, "task_data": {"command": ["sh", "-c", "echo out; echo err >&2"]}}
        deps += [{"from_task_id": "gate", "to_task_id": tid},
                 {"from_task_id": tid, "to_task_id": "last"}]
    f = tmp_path / "endpoint.json"
    f.write_text(json.dumps({"constellation_id": "endpoint", "tasks": tasks, "dependencies": deps}))
    return f


def start_orrery(tmp_path, port, *sets):
    conf = tmp_path / "orrery.conf"
    conf.write_text("[Host]\nAutoEnable=false\n[Plugin metrics]\nEnabled=true\n")
    go, end = tmp_path / "go", tmp_path / "end"
    args = [ORRERY, "run", "-c", conf, "--no-default-path",
            "-P", os.path.join(BUILD_ROOT, "plugins", "metrics"),
            "--set", f"metrics.HttpPort={port}", "--set", "metrics.Summary=false",
            "--set", f"metrics.OutputDir={tmp_path / 'out'}"]
    for s in sets:
        args += ["--set", s]
    args.append(constellation(tmp_path, go, end))

    def limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))

    out = open(tmp_path / "stdout", "wb")
    err = open(tmp_path / "stderr", "wb")
    env = dict(os.environ, NO_COLOR="1")
    proc = subprocess.Popen(list(map(str, args)), cwd=tmp_path, stdout=out, stderr=err,
                            stdin=subprocess.DEVNULL, env=env, preexec_fn=limit,
                            start_new_session=True)
    out.close()
    err.close()
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                stop(proc)
                pytest.fail(f"/metrics never listened: {(tmp_path / 'stderr').read_text()}")
            time.sleep(0.05)
    return proc, go, end


def stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, 9)
        proc.wait()


def open_idle(port, n):
    """N connections that send nothing, one after the other (a burst of
    non-blocking connects would mostly wait in SYN retries). Stops early if
    the server stops accepting (3 connects in a row time out)."""
    socks, stuck = [], 0
    for _ in range(n):
        s = socket.socket()
        s.settimeout(1)
        try:
            s.connect(("127.0.0.1", port))
            stuck = 0
        except OSError:
            stuck += 1
        socks.append(s)
        if stuck >= 3:
            break
    return socks


def completed(body):
    for line in body.splitlines():
        if line.startswith('orrery_tasks_total{status="completed"}'):
            return int(float(line.split()[-1]))
    return -1


def test_idle_connections_do_not_starve_tasks(tmp_path):
    port = free_port()
    proc, go, end = start_orrery(tmp_path, port, "metrics.IdleTimeoutSec=1",
                                 "metrics.MaxConnections=8")
    idle = []
    try:
        idle = open_idle(port, N_IDLE)
        go.touch()
        # The tasks run while 500 clients hold (or held) a connection; once
        # the idle ones are closed, /metrics answers again and counts them.
        deadline = time.monotonic() + 60
        done = -1
        while time.monotonic() < deadline:
            try:
                status, body = http_get(port, f"127.0.0.1:{port}")
                if status == 200:
                    done = completed(body)
                    if done == N_TASKS + 1:
                        break
            except OSError:
                pass
            time.sleep(0.2)
        assert done == N_TASKS + 1, (done, (tmp_path / "stderr").read_text()[-3000:])
        # DNS rebinding: another name with the right port is refused.
        status, body = http_get(port, f"evil.example:{port}")
        assert status == 421 and "orrery_" not in body, (status, body)
        end.touch()
        proc.wait(timeout=60)
    finally:
        for s in idle:
            s.close()
        stop(proc)
    err = (tmp_path / "stderr").read_text()
    assert proc.returncode == 0, err[-3000:]
    assert "Too many open files" not in err, err[-3000:]


def test_foreign_host_refused(tmp_path):
    port = free_port()
    proc, go, end = start_orrery(tmp_path, port)
    try:
        for host in (f"evil.example:{port}", f"127.0.0.1.nip.io:{port}", "localhost", f"localhost:{port + 1}"):
            status, body = http_get(port, host)
            assert status == 421, (host, status, body)
            assert "orrery_events_total" not in body
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"):
            status, body = http_get(port, host)
            assert status == 200 and "orrery_events_total" in body, (host, status)
        go.touch()
        end.touch()
        proc.wait(timeout=60)
    finally:
        stop(proc)
    assert proc.returncode == 0


@pytest.mark.parametrize("endpoint", [False, True])
def test_libsoup_loaded_only_for_an_endpoint(tmp_path, endpoint):
    """Without HttpPort the metrics plugin does not load libsoup (nor the
    libraries it brings): a task reads its host's memory map."""
    conf = tmp_path / "orrery.conf"
    conf.write_text("[Host]\nAutoEnable=false\n[Plugin metrics]\nEnabled=true\n")
    f = tmp_path / "maps.json"
    f.write_text(json.dumps({"constellation_id": "maps", "tasks": {"a": {
        "task_id": "a", "task_data": {"command": ["sh", "-c", "grep -c 'libsoup-3' /proc/$PPID/maps || true"]}}}}))
    args = [ORRERY, "run", "-c", conf, "--no-default-path",
            "-P", os.path.join(BUILD_ROOT, "plugins", "metrics"),
            "--set", "metrics.Summary=false", "--set", f"metrics.OutputDir={tmp_path / 'out'}",
            "--journal", tmp_path / "j.jsonl"]
    if endpoint:
        args += ["--set", f"metrics.HttpPort={free_port()}"]
    r = subprocess.run(list(map(str, args + [f])), cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r
    done = [json.loads(line) for line in (tmp_path / "j.jsonl").read_text().splitlines()
            if '"task-completed"' in line]
    mapped = int(done[0]["result"]["stdout"].strip())
    if not endpoint:
        assert mapped == 0, r
    else:
        assert mapped > 0, r
