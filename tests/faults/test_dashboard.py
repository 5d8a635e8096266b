# The dashboard plugin against the real program over real sockets: the
# token, the Host and Origin checks, path traversal, the WebSocket stream
# (catch-up with since, no gap, no repeat, a slow client dropped), the
# controls, and 500 idle connections while the tasks run.
import json
import os
import socket
import time

import pytest

from dashboard_helpers import start_dashboard, task_states, wait_file_cmd, write_constellation

websocket = pytest.importorskip("websocket", reason="python3-websocket is not installed (.ci/deps)")

N_TASKS = 20


def gated(tmp_path, n=N_TASKS):
    """gate -> t00..tNN -> last; gate and last wait for files."""
    go, end = tmp_path / "go", tmp_path / "end"
    tasks = {"gate": wait_file_cmd(go), "last": wait_file_cmd(end)}
    deps = []
    for i in range(n):
        tasks[f"t{i:02}"] = ["sh", "-c", f"echo out {i}"]
        deps += [("gate", f"t{i:02}"), (f"t{i:02}", "last")]
    return write_constellation(tmp_path / "gated.json", tasks, deps), go, end


def recv_event(ws):
    while True:
        text = ws.recv()
        assert text, "the stream ended early"
        msg = json.loads(text)
        if "seq" in msg:
            return msg


def test_token_cookie_and_health(tmp_path):
    c, go, end = gated(tmp_path, 2)
    d = start_dashboard(tmp_path, c)
    try:
        assert d.request("/health", auth=False)[0] == 200
        for path in ("/", "/api/state", "/static/dashboard.js", "/api/graph.svg", "/run/journal.jsonl"):
            status, _, body = d.request(path, auth=False)
            assert status == 401, (path, status, body)
        assert d.request("/api/state", auth=False, headers={"X-Orrery-Token": "0" * 32})[0] == 401
        assert d.request("/api/state", auth=False, headers={"Authorization": f"Bearer {d.token}"})[0] == 200
        # The first page load with ?token= sets an HttpOnly SameSite=Strict cookie ...
        status, hdrs, body = d.request(f"/?token={d.token}", auth=False)
        assert status == 200 and b"dashboard.js" in body
        cookie = hdrs["set-cookie"][0]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie, cookie
        pair = cookie.split(";")[0]
        # ... which then opens the page and the API, but not a control.
        assert d.request("/api/state", auth=False, headers={"Cookie": pair})[0] == 200
        assert d.request("/api/pause", method="POST", auth=False, headers={"Cookie": pair})[0] == 403
        # The page loads nothing from elsewhere.
        assert b"http://" not in body and b"https://" not in body
        go.touch()
        end.touch()
        d.proc.wait(timeout=60)
    finally:
        d.stop()
    assert d.proc.returncode == 0, d.stderr()[-3000:]


def test_foreign_host_and_origin_refused(tmp_path):
    c, go, end = gated(tmp_path, 2)
    d = start_dashboard(tmp_path, c)
    try:
        for host in (f"evil.example:{d.port}", f"127.0.0.1.nip.io:{d.port}", "localhost",
                     f"localhost:{d.port + 1}", f"10.0.0.1:{d.port}"):
            status, _, body = d.request("/api/state", host=host)
            assert status == 421 and b"tasks" not in body, (host, status, body)
        assert d.request("/api/state", host=f"localhost:{d.port}")[0] == 200
        assert d.request("/api/state", host=f"[::1]:{d.port}")[0] == 200
        # A WebSocket from another origin (or without the token) is refused.
        for origin in ("http://evil.example", f"http://evil.example:{d.port}", "null"):
            with pytest.raises(websocket.WebSocketBadStatusException) as e:
                d.websocket(origin=origin)
            assert e.value.status_code == 403, origin
        with pytest.raises(websocket.WebSocketBadStatusException) as e:
            d.websocket(token=False)
        assert e.value.status_code == 401
        ws = d.websocket()
        assert recv_event(ws)["seq"] == 1
        ws.close()
    finally:
        go.touch()
        end.touch()
        d.stop()


def test_no_file_outside(tmp_path):
    c, go, end = gated(tmp_path, 2)
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET")
    d = start_dashboard(tmp_path, c)
    try:
        run_dir = os.path.realpath(tmp_path / "orrery-output" / "latest")
        os.symlink(secret, os.path.join(run_dir, "link.txt"))
        os.symlink(tmp_path, os.path.join(run_dir, "linkdir"))
        for path in ("/static/../dashboard.c", "/static/%2e%2e/dashboard.c", "/static/%2E%2E%2Fdashboard.c",
                     "/static/..%2fmeson.build", "/run/../secret.txt", "/run/%2e%2e/%2e%2e/secret.txt",
                     "/run/link.txt", "/run/linkdir/secret.txt", "/static/%2fetc%2fpasswd",
                     "/run/logs", "/run/", "/static/%00index.html"):
            status, _, body = d.request(path)
            # 404 from the plugin; libsoup itself answers 400 to a few it cannot parse.
            assert status in (400, 404) and b"SECRET" not in body and b"#include" not in body, (path, status, body)
        assert d.request("/static/dashboard.css")[0] == 200
        assert d.request("/run/journal.jsonl")[0] in (200, 404)  # only with --journal
        go.touch()
        d.wait_state(lambda s: task_states(s).get("t00") == "completed", "t00 completed")
        log = next(t["log"] for t in d.state()["tasks"] if t["id"] == "t00")
        status, _, body = d.request("/run/" + log)
        assert status == 200 and body == b"out 0\n", (log, status, body)
    finally:
        go.touch()
        end.touch()
        d.stop()


def test_websocket_catch_up_no_gap_no_repeat(tmp_path):
    c, go, end = gated(tmp_path)
    d = start_dashboard(tmp_path, c)
    try:
        first = d.websocket()
        go.touch()
        # .get(): the first states may come before the run's start (seen
        # with the dashboard isolated: its helper serves while it starts).
        d.wait_state(lambda s: bool(task_states(s)) and
                     (task_states(s).get("t19") == "completed" or
                      all(v == "completed" for k, v in task_states(s).items() if k.startswith("t"))),
                     "the middle tasks completed")
        mid = d.state()["seq"]
        # A client that reconnects from N gets N+1 ... with nothing missing.
        late = d.websocket(since=mid - 5)
        end.touch()
        d.proc.wait(timeout=60)
        seqs_first, seqs_late, types = [], [], []
        while True:
            e = recv_event(first)
            seqs_first.append(e["seq"])
            types.append(e["type"])
            if e["type"].startswith("constellation-") and e["type"] not in ("constellation-started", "constellation-modified"):
                break
        while len(seqs_late) < seqs_first[-1] - (mid - 5):
            seqs_late.append(recv_event(late)["seq"])
    finally:
        d.stop()
    assert seqs_first == list(range(1, len(seqs_first) + 1)), seqs_first
    assert types[0] == "constellation-started" and types[-1] == "constellation-completed", types
    assert seqs_late == list(range(mid - 4, seqs_first[-1] + 1)), (mid, seqs_late)
    # The journal's schema: each message is a record as the journal writes it.
    assert d.proc.returncode == 0


def test_slow_client_dropped_run_goes_on(tmp_path):
    c, go, end = gated(tmp_path)
    d = start_dashboard(tmp_path, c, "dashboard.QueueLimit=4", "dashboard.SlowClientSec=1")
    try:
        slow = d.websocket()          # never acknowledges
        go.touch()
        end.touch()
        d.proc.wait(timeout=60)       # the run ends whatever the client does
        got = []
        try:
            while True:
                op, data = slow.recv_data(control_frame=True)
                if op == websocket.ABNF.OPCODE_CLOSE:
                    code = int.from_bytes(data[:2], "big")
                    break
                if op == websocket.ABNF.OPCODE_TEXT and "seq" in json.loads(data):
                    got.append(json.loads(data)["seq"])
        except websocket.WebSocketConnectionClosedException:
            code = None
    finally:
        d.stop()
    assert d.proc.returncode == 0, d.stderr()[-3000:]
    # It got at most its window, then was dropped (or the run ended first).
    assert got == list(range(1, len(got) + 1)) and len(got) <= 4, got
    assert code in (4000, 1001, None), code


def test_controls_pause_resume_cancel(tmp_path):
    go = tmp_path / "go"
    c = write_constellation(tmp_path / "chain.json",
                            {"a": wait_file_cmd(go), "b": ["true"], "c": wait_file_cmd(tmp_path / "never")},
                            [("a", "b"), ("b", "c")])
    d = start_dashboard(tmp_path, c)
    try:
        d.wait_state(lambda s: task_states(s).get("a") == "running", "a running")
        status, _, body = d.request("/api/pause", method="POST")
        assert status == 200 and json.loads(body)["paused"] is True
        go.touch()
        s = d.wait_state(lambda s: task_states(s).get("a") == "completed", "a completed")
        # Paused: b is ready but not dispatched (a second later, still not).
        time.sleep(1)
        s = d.state()
        assert s["run"]["paused"] and task_states(s)["b"] == "pending", s
        assert d.request("/api/resume", method="POST")[0] == 200
        d.wait_state(lambda s: task_states(s).get("c") == "running", "c running after resume")
        assert d.request("/api/cancel", method="POST")[0] == 200
        d.proc.wait(timeout=60)
    finally:
        d.stop()
    assert d.proc.returncode == 1, d.stderr()[-3000:]


def test_remote_listen_needs_allow_remote(tmp_path):
    c = write_constellation(tmp_path / "one.json", {"a": ["true"]})
    proc = start_dashboard(tmp_path, c, "dashboard.Listen=0.0.0.0:0", expect_url=False)
    proc.wait(timeout=60)
    err = (tmp_path / "stderr").read_text()
    assert "AllowRemote" in err and "dashboard: http" not in err, err
    d = start_dashboard(tmp_path, c, "dashboard.Listen=0.0.0.0:0", "dashboard.AllowRemote=true")
    d.proc.wait(timeout=60)
    assert "dashboard: warning: listening on 0.0.0.0" in d.stderr(), d.stderr()


def test_idle_connections_do_not_starve_tasks(tmp_path):
    c, go, end = gated(tmp_path, 30)
    d = start_dashboard(tmp_path, c, "dashboard.MaxConnections=8", "dashboard.IdleTimeoutSec=1",
                        fd_limit=256)
    idle = []
    try:
        stuck = 0
        for _ in range(500):
            s = socket.socket()
            s.settimeout(1)
            try:
                s.connect(("127.0.0.1", d.port))
                stuck = 0
            except OSError:
                stuck += 1
            idle.append(s)
            if stuck >= 3:
                break
        go.touch()
        end.touch()
        d.proc.wait(timeout=90)
    finally:
        for s in idle:
            s.close()
        d.stop()
    err = d.stderr()
    assert d.proc.returncode == 0, err[-3000:]
    assert "Too many open files" not in err, err[-3000:]


def serve(tmp_path, target):
    import re
    import signal
    import subprocess
    from conftest import BUILD_ROOT, ORRERY
    from dashboard_helpers import Dashboard, URL_RE
    err = open(tmp_path / "stderr", "wb")
    proc = subprocess.Popen([ORRERY, "serve", "--no-default-path", "-P",
                             os.path.join(BUILD_ROOT, "plugins", "dashboard"), str(target)],
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=err,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    err.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        m = URL_RE.search((tmp_path / "stderr").read_text(errors="replace"))
        if m:
            return Dashboard(proc, m.group(1), m.group(2), m.group(3), tmp_path)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"orrery serve printed no URL: {(tmp_path / 'stderr').read_text()}")


def test_serve_finished_and_running_run(tmp_path, orrery):
    import signal
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    c, go, end = gated(tmp_path, 3)
    go.touch()
    end.touch()
    r = orrery("run", "--no-plugins", c, cwd=run_dir, timeout=60)
    assert r.returncode == 0, r
    served = tmp_path / "serve1"
    served.mkdir()
    d = serve(served, run_dir / "orrery-output" / "latest")
    try:
        s = d.wait_state(lambda s: s["run"]["state"] == "completed", "the finished run shown")
        assert s["run"]["controls"] is False
        assert set(task_states(s).values()) == {"completed"} and len(s["tasks"]) == 5, s
        assert d.request("/api/pause", method="POST")[0] == 409
        ws = d.websocket()
        seqs = []
        while True:
            e = recv_event(ws)
            seqs.append(e["seq"])
            if e["type"] == "constellation-completed":
                break
        assert seqs == list(range(1, len(seqs) + 1))
        ws.close()
        os.killpg(d.proc.pid, signal.SIGTERM)
        assert d.proc.wait(timeout=30) == 0
    finally:
        d.stop()

    # A run still being written: followed live.
    (tmp_path / "go").unlink()
    (tmp_path / "end").unlink()
    live = tmp_path / "live"
    live.mkdir()
    writer = start_dashboard(live, c, "dashboard.Listen=127.0.0.1:0")
    served = tmp_path / "serve2"
    served.mkdir()
    d = None
    try:
        writer.wait_state(lambda s: task_states(s).get("gate") == "running", "gate running")
        d = serve(served, live / "orrery-output" / "latest")
        d.wait_state(lambda s: task_states(s).get("gate") == "running", "gate running, served")
        go.touch()
        end.touch()
        s = d.wait_state(lambda s: s["run"]["state"] == "completed", "the live run followed to its end")
        assert set(task_states(s).values()) == {"completed"}, s
        writer.proc.wait(timeout=60)
    finally:
        writer.stop()
        if d is not None:
            d.stop()


def test_websocket_outlives_request_and_idle_timeouts(tmp_path):
    c, go, end = gated(tmp_path, 2)
    d = start_dashboard(tmp_path, c, "dashboard.RequestTimeoutSec=1", "dashboard.IdleTimeoutSec=1")
    try:
        ws = d.websocket()
        first = recv_event(ws)["seq"]
        # Past both deadlines with nothing to send, the WebSocket is still there.
        time.sleep(2.5)
        go.touch()
        end.touch()
        seqs = [first]
        while True:
            e = recv_event(ws)
            seqs.append(e["seq"])
            if e["type"] == "constellation-completed":
                break
        assert seqs == list(range(1, len(seqs) + 1)), seqs
        d.proc.wait(timeout=60)
    finally:
        d.stop()
    assert d.proc.returncode == 0, d.stderr()[-3000:]


def test_linger_keeps_a_short_run_on_view(tmp_path):
    # The demo is over in seconds, before anyone opens its URL: with
    # LingerSec the finished run stays on view until Ctrl-C.
    import signal as sig
    c = write_constellation(tmp_path / "short.json", {"a": ["true"], "b": ["true"]}, [("a", "b")])
    d = start_dashboard(tmp_path, c, "dashboard.LingerSec=600")
    try:
        deadline = time.monotonic() + 60
        while "still serving" not in d.stderr():
            assert d.proc.poll() is None, d.stderr()[-3000:]
            assert time.monotonic() < deadline, d.stderr()[-3000:]
            time.sleep(0.05)
        status, _, body = d.request("/api/state")
        assert status == 200, (status, body)
        state = json.loads(body)
        assert state["run"]["state"] == "completed", state["run"]
        assert task_states(state) == {"a": "completed", "b": "completed"}
        assert d.proc.poll() is None
        d.proc.send_signal(sig.SIGINT)
        d.proc.wait(timeout=30)
    finally:
        d.stop()
    assert d.proc.returncode == 0, d.stderr()[-3000:]
