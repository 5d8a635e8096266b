# Helpers of the dashboard tests (tests/faults/test_dashboard.py and the
# browser suite tests/browser): start `orrery run --enable dashboard` on a
# constellation whose tasks wait for files the test creates, read the URL
# line, talk HTTP and WebSocket to it over real sockets.
import json
import os
import re
import resource
import signal
import socket
import subprocess
import time
import urllib.parse

import pytest

from conftest import BUILD_ROOT, ORRERY

URL_RE = re.compile(r"^dashboard: (http://([^/]+))/\?token=([0-9a-f]+)$", re.M)


def wait_file_cmd(flag):
    """A command that waits for FLAG (at most 60 s): the test decides when it ends."""
    return ["sh", "-c", f"i=0; while [ ! -e '{flag}' ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; [ -e '{flag}' ]"]


def write_constellation(path, tasks, deps=(), cid="dash"):
    doc = {"constellation_id": cid, "name": "Dashboard test",
           "tasks": {t: {"task_id": t, "task_data": {"command": cmd}} for t, cmd in tasks.items()},
           "dependencies": [{"from_task_id": a, "to_task_id": b} for a, b in deps]}
    path.write_text(json.dumps(doc))
    return path


class Dashboard:
    def __init__(self, proc, base, host, token, tmp_path):
        self.proc, self.base, self.host, self.token, self.tmp_path = proc, base, host, token, tmp_path
        self.port = int(host.rsplit(":", 1)[1])

    def stderr(self):
        return (self.tmp_path / "stderr").read_text(errors="replace")

    def request(self, path, method="GET", headers=None, host=None, auth=True):
        """One raw HTTP request: (status, headers dict (lower-case), body)."""
        h = {"Host": host or self.host, "Connection": "close"}
        if auth:
            h["X-Orrery-Token"] = self.token
        h.update(headers or {})
        if method == "POST":
            h.setdefault("Content-Length", "0")
        head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(head.encode())
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        raw_head, _, body = data.partition(b"\r\n\r\n")
        lines = raw_head.decode(errors="replace").split("\r\n")
        status = int(lines[0].split(" ", 2)[1]) if lines[0].startswith("HTTP/1.") else 0
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hdrs.setdefault(k.strip().lower(), []).append(v.strip())
        return status, hdrs, body

    def state(self):
        status, _, body = self.request("/api/state")
        assert status == 200, (status, body)
        return json.loads(body)

    def wait_state(self, pred, what, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.state()
            if pred(s):
                return s
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        pytest.fail(f"never {what}: {self.stderr()[-3000:]}")

    def websocket(self, since=0, origin=None, token=True, timeout=20):
        import websocket
        hdr = [f"X-Orrery-Token: {self.token}"] if token else []
        ws = websocket.create_connection(f"ws://{self.host}/events?since={since}", header=hdr,
                                         origin=origin or f"http://{self.host}", timeout=timeout)
        return ws

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def task_states(state):
    return {t["id"]: t["status"] for t in state["tasks"]}


def start_dashboard(tmp_path, constellation, *sets, fd_limit=None, expect_url=True):
    args = [ORRERY, "run", "--no-default-path",
            "-P", os.path.join(BUILD_ROOT, "plugins", "dashboard"),
            "--enable", "dashboard"]
    # ORRERY_TEST_ISOLATED=1 (suite isolated): the dashboard in its helper
    # process (Isolation=process), the same tests.
    if os.environ.get("ORRERY_TEST_ISOLATED") == "1":
        args += ["--isolate", "dashboard"]
    for s in sets:
        args += ["--set", s]
    args.append(constellation)

    def limit():
        if fd_limit:
            resource.setrlimit(resource.RLIMIT_NOFILE, (fd_limit, fd_limit))

    out = open(tmp_path / "stdout", "wb")
    err = open(tmp_path / "stderr", "wb")
    env = dict(os.environ, NO_COLOR="1")
    proc = subprocess.Popen(list(map(str, args)), cwd=tmp_path, stdout=out, stderr=err,
                            stdin=subprocess.DEVNULL, env=env, preexec_fn=limit,
                            start_new_session=True)
    out.close()
    err.close()
    if not expect_url:
        return proc
    deadline = time.monotonic() + 30
    while True:
        m = URL_RE.search((tmp_path / "stderr").read_text(errors="replace"))
        if m:
            return Dashboard(proc, m.group(1), m.group(2), m.group(3), tmp_path)
        if proc.poll() is not None or time.monotonic() > deadline:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            pytest.fail(f"no dashboard URL: {(tmp_path / 'stderr').read_text()[-3000:]}")
        time.sleep(0.05)
