# Tasks on a redis device run by real `orrery worker` processes: sharing,
# SIGKILL and SIGSTOP of a worker (takeover after the lease, a late result
# ignored), a Redis restart mid-run, cancel and timeout reaching the worker,
# presence events, a password never shown.
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import (ORRERY, LEASE_MS, finish, records, start_orrery, wait_for,
                      wait_for_workers, write_config, write_constellation)


def terminal_events(journal, task):
    return [r for r in records(journal)
            if r.get("task") == task and r["type"] in
            ("task-completed", "task-failed", "task-cancelled", "task-skipped")]


def alive(pid):
    """Whether a process runs (a zombie, whose parent did not reap it yet, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        # Gone before the open, or between the open and the read (ESRCH).
        return False


def ran_by(marker):
    """The worker ids a marker file recorded, one line per run."""
    return marker.read_text().split() if marker.exists() else []


def test_two_workers_share_twenty_tasks(tmp_path, redis_server, workers):
    for wid in ("wa", "wb"):
        workers.start(redis_server.url, "p", wid, "-j", "2")
    wait_for_workers(redis_server, "p", ["wa", "wb"])
    marks = tmp_path / "marks"
    marks.mkdir()
    tasks = [{"task_id": f"t{i:02d}", "task_data": {
        "command": f"echo $ORRERY_WORKER_ID >> {marks}/$ORRERY_TASK_ID; sleep 0.2"}}
        for i in range(20)]
    cfg = write_config(tmp_path / "orrery.conf", redis_server.url, "p")
    file = write_constellation(tmp_path / "c.json", tasks)
    journal = tmp_path / "j.jsonl"
    proc = start_orrery("run", file, "--config", cfg, "--journal", journal, cwd=tmp_path,
                        stderr_path=tmp_path / "orrery.err")
    code, _ = finish(proc)
    err = (tmp_path / "orrery.err").read_text()
    assert code == 0, err
    used = set()
    for t in tasks:
        runs = ran_by(marks / t["task_id"])
        assert len(runs) == 1, (t["task_id"], runs)     # each task once
        used.update(runs)
        assert len(terminal_events(journal, t["task_id"])) == 1
    assert used == {"wa", "wb"}                         # both workers used
    # Each worker's join was a device-added event of the run.
    added = {r["device"] for r in records(journal) if r["type"] == "device-added"}
    assert {"pool/wa", "pool/wb"} <= added


def run_with_victim(tmp_path, redis_server, workers, hurt, first_run, later_runs="true"):
    """Starts two workers and a run whose task `victim` records the worker
    that runs it; its first run does `first_run`, a later one `later_runs`.
    Once it runs, calls hurt(worker_id, marker, pids) and returns what the
    run left."""
    for wid in ("wa", "wb"):
        workers.start(redis_server.url, "p", wid, "-j", "2")
    wait_for_workers(redis_server, "p", ["wa", "wb"])
    marker = tmp_path / "victim.ran"
    pids = tmp_path / "victim.pids"
    command = (f"echo $ORRERY_WORKER_ID >> {marker}; echo $$ >> {pids}; "
               f"if [ $(wc -l < {marker}) -eq 1 ]; then {first_run}; else {later_runs}; fi; "
               f"echo ran-on-$ORRERY_WORKER_ID")
    tasks = [{"task_id": "victim", "task_data": {"command": command}}]
    cfg = write_config(tmp_path / "orrery.conf", redis_server.url, "p")
    file = write_constellation(tmp_path / "c.json", tasks)
    journal = tmp_path / "j.jsonl"
    proc = start_orrery("run", file, "--config", cfg, "--journal", journal, cwd=tmp_path,
                        stderr_path=tmp_path / "orrery.err")
    first = wait_for(lambda: ran_by(marker), 30, "the victim task to start")[0]
    hurt(first, marker, pids)
    code, _ = finish(proc)
    return code, first, marker, journal, (tmp_path / "orrery.err").read_text()


def test_sigkill_of_a_worker_mid_task(tmp_path, redis_server, workers):
    def hurt(wid, marker, pids):
        # The machine is lost: the worker and its task's process group.
        os.kill(workers.procs[wid].pid, signal.SIGKILL)
        os.killpg(int(pids.read_text().split()[0]), signal.SIGKILL)

    code, first, marker, journal, err = run_with_victim(tmp_path, redis_server, workers, hurt,
                                                        "sleep 30")
    assert code == 0, err
    runs = ran_by(marker)
    assert len(runs) == 2 and runs[0] == first and runs[1] != first, runs
    ends = terminal_events(journal, "victim")
    assert [e["type"] for e in ends] == ["task-completed"]      # exactly one terminal event
    assert f"ran-on-{runs[1]}" in str(ends[0]["result"])
    assert "delivered again (delivery 2)" in err


def test_sigstop_past_the_lease_late_result_ignored(tmp_path, redis_server, workers):
    release = tmp_path / "release"

    def hurt(wid, marker, pids):
        os.kill(workers.procs[wid].pid, signal.SIGSTOP)
        # Taken over after the lease: the other worker runs it again, and
        # that run lasts until released.
        wait_for(lambda: len(ran_by(marker)) == 2, 30, "the takeover")
        # The first run's process ends (it slept 1.5 s) while its worker is
        # stopped; SIGCONT: the worker sends its late result, while the
        # second delivery still runs.
        wait_for(lambda: not alive(pids.read_text().split()[0]), 30,
                 "the first run's process to end")
        os.kill(workers.procs[wid].pid, signal.SIGCONT)
        wait_for(lambda: "Ignored a late result of task “victim”" in
                 (tmp_path / "orrery.err").read_text(), 30, "the late result")
        release.touch()

    code, first, marker, journal, err = run_with_victim(
        tmp_path, redis_server, workers, hurt, "sleep 1.5",
        f"while [ ! -e {release} ]; do sleep 0.05; done")
    assert code == 0, err
    runs = ran_by(marker)
    assert len(runs) == 2 and runs[0] == first and runs[1] != first, runs
    ends = terminal_events(journal, "victim")
    assert [e["type"] for e in ends] == ["task-completed"]
    # The result kept is the second delivery's, not the stopped worker's.
    assert f"ran-on-{runs[1]}" in str(ends[0]["result"])
    assert f"delivery 1, from worker {first}): a later delivery superseded it" in err


def test_redis_restart_mid_run(tmp_path, redis_server, workers):
    for wid in ("wa", "wb"):
        workers.start(redis_server.url, "p", wid, "-j", "2")
    wait_for_workers(redis_server, "p", ["wa", "wb"])
    marks = tmp_path / "marks"
    marks.mkdir()
    tasks = [{"task_id": f"t{i:02d}", "task_data": {
        "command": f"echo $ORRERY_WORKER_ID >> {marks}/$ORRERY_TASK_ID; sleep 0.3"}}
        for i in range(12)]
    # A chain of pairs: tasks are still to be dispatched after the restart.
    deps = [(f"t{i:02d}", f"t{i + 2:02d}") for i in range(10)]
    # A lease longer than the outage: what the workers hold is not taken over.
    cfg = write_config(tmp_path / "orrery.conf", redis_server.url, "p", lease_ms=8000)
    file = write_constellation(tmp_path / "c.json", tasks, deps)
    journal = tmp_path / "j.jsonl"
    proc = start_orrery("run", file, "--config", cfg, "--journal", journal, cwd=tmp_path,
                        stderr_path=tmp_path / "orrery.err")
    wait_for(lambda: len(os.listdir(marks)) >= 2, 30, "the first tasks to run")
    redis_server.stop()
    time.sleep(0.5)   # away for a while: results made meanwhile wait in the workers
    redis_server.start()
    code, _ = finish(proc, timeout=90)
    err = (tmp_path / "orrery.err").read_text()
    assert code == 0, err
    # Nothing lost: results made while Redis was away were sent when it came
    # back; no task had to run again.
    for t in tasks:
        assert len(ran_by(marks / t["task_id"])) == 1, t
        assert [e["type"] for e in terminal_events(journal, t["task_id"])] == ["task-completed"]
    assert "reconnecting" in err and "delivered again" not in err
    # Both workers lived through it (one killed by SIGPIPE was the failure
    # CI saw under ASan: its result never sent, its task run again).
    for wid, w in workers.procs.items():
        assert w.poll() is None, (wid, w.returncode, workers.log(wid))


def test_redis_gone_before_a_write_the_worker_lives(tmp_path, redis_server, workers):
    """Redis stops between two turns of a worker's loop that has a write to
    make (a heartbeat, a result): the write used to raise SIGPIPE, which
    killed the worker silently in the middle of its task (the result never
    sent, the task run again after the lease: test_redis_restart_mid_run's
    failure under ASan). Made certain here: the worker is stopped (SIGSTOP)
    for longer than a heartbeat while Redis stops, so that the turn after
    SIGCONT runs the heartbeat, which queues its commands, before the
    connections' hangup (after a first restart the connections' sources come
    after the heartbeat's in the loop). The task runs until the test says."""
    w = workers.start(redis_server.url, "p", "wa")
    wait_for_workers(redis_server, "p", ["wa"])
    started, go = tmp_path / "started", tmp_path / "go"
    marker = tmp_path / "ran"
    tasks = [{"task_id": "t", "task_data": {
        "command": f"echo $ORRERY_WORKER_ID >> {marker}; touch {started}; "
                   f"while [ ! -e {go} ]; do sleep 0.02; done; echo done"}}]
    cfg = write_config(tmp_path / "orrery.conf", redis_server.url, "p", lease_ms=8000)
    file = write_constellation(tmp_path / "c.json", tasks)
    journal = tmp_path / "j.jsonl"
    proc = start_orrery("run", file, "--config", cfg, "--journal", journal, cwd=tmp_path,
                        stderr_path=tmp_path / "orrery.err")
    wait_for(started.exists, 30, "the task to start")
    redis_server.stop()
    redis_server.start()
    wait_for(lambda: workers.log("wa").count("connected to") == 2, 30, "the worker to reconnect")
    os.kill(w.pid, signal.SIGSTOP)
    time.sleep(0.3)                       # three heartbeats due
    redis_server.stop()
    os.kill(w.pid, signal.SIGCONT)
    wait_for(lambda: w.poll() is not None or workers.log("wa").count("reconnecting") == 2,
             30, "the worker to see Redis gone")
    assert w.poll() is None, (f"the worker died (status {w.returncode}) instead of reconnecting",
                              workers.log("wa"))
    redis_server.start()
    wait_for(lambda: workers.log("wa").count("connected to") == 3, 30, "the worker to reconnect")
    go.touch()
    code, _ = finish(proc, timeout=90)
    err = (tmp_path / "orrery.err").read_text()
    assert code == 0, err
    assert ran_by(marker) == ["wa"]                     # once, by the worker that lived
    ends = terminal_events(journal, "t")
    assert [e["type"] for e in ends] == ["task-completed"] and "done" in str(ends[0]["result"])
    assert "delivered again" not in err, err
    assert w.poll() is None


def test_a_task_finished_while_redis_is_away_runs_once(tmp_path, redis_server, workers):
    """A task ends while Redis is away: its result waits in the worker and
    is sent, once, when Redis is back; the worker's scan of its pending
    entries after the reconnect, which comes after that XACK on the same
    connection (or skips the entry while its XACK is unanswered), does not
    run it again."""
    w = workers.start(redis_server.url, "p", "wa")
    wait_for_workers(redis_server, "p", ["wa"])
    go, pid = tmp_path / "go", tmp_path / "pid"
    marker = tmp_path / "ran"
    tasks = [{"task_id": "t", "task_data": {
        "command": f"echo $ORRERY_WORKER_ID >> {marker}; echo $$ > {pid}; "
                   f"while [ ! -e {go} ]; do sleep 0.02; done; echo done"}}]
    cfg = write_config(tmp_path / "orrery.conf", redis_server.url, "p", lease_ms=8000)
    file = write_constellation(tmp_path / "c.json", tasks)
    journal = tmp_path / "j.jsonl"
    proc = start_orrery("run", file, "--config", cfg, "--journal", journal, cwd=tmp_path,
                        stderr_path=tmp_path / "orrery.err")
    wait_for(lambda: pid.exists() and pid.read_text().strip(), 30, "the task to start")
    redis_server.stop()
    wait_for(lambda: "reconnecting" in workers.log("wa"), 30, "the worker to see Redis gone")
    go.touch()
    wait_for(lambda: not alive(pid.read_text().strip()), 30, "the task to end")
    redis_server.start()
    code, _ = finish(proc, timeout=90)
    err = (tmp_path / "orrery.err").read_text()
    assert code == 0, err
    assert ran_by(marker) == ["wa"], workers.log("wa")
    ends = terminal_events(journal, "t")
    assert [e["type"] for e in ends] == ["task-completed"] and "done" in str(ends[0]["result"])
    assert "delivered again" not in err and "Ignored a late result" not in err, err
    assert "running it now" not in workers.log("wa")
    assert w.poll() is None


class DropFirstAppend:
    """A unix-socket proxy from the host to Redis that forwards the host's
    first task record (its append to KEY:tasks) and everything else, but
    drops that connection once Redis has had time to append the record,
    before its answer reaches the host: the send's outcome is unknown to the
    host, as when Redis stops right after a command."""

    def __init__(self, upstream, path, tasks_key):
        self.upstream, self.path, self.tasks_key = upstream, str(path), tasks_key.encode()
        self.dropped = threading.Event()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(16)
        self.url = f"redis+unix://{self.path}"
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            up.connect(self.upstream)
            state = {"dropping": False}
            threading.Thread(target=self.to_redis, args=(client, up, state), daemon=True).start()
            threading.Thread(target=self.to_host, args=(client, up, state), daemon=True).start()

    def to_redis(self, client, up, state):
        try:
            while data := client.recv(65536):
                if (not self.dropped.is_set() and not state["dropping"] and self.tasks_key in data
                        and b"\r\ndelivery\r\n" in data):
                    # No answer goes back from now on; for 0.2 s what
                    # follows (the rest of the command, if it comes in
                    # pieces) goes on to Redis, which appends the record;
                    # then the link drops.
                    state["dropping"] = True
                    up.sendall(data)
                    deadline = time.monotonic() + 0.2
                    try:
                        while (left := deadline - time.monotonic()) > 0:
                            client.settimeout(left)
                            if not (more := client.recv(65536)):
                                break
                            up.sendall(more)
                    except socket.timeout:
                        pass
                    time.sleep(0.1)
                    self.dropped.set()
                    break
                up.sendall(data)
        except OSError:
            pass
        for s in (client, up):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def to_host(self, client, up, state):
        try:
            while data := up.recv(65536):
                if not state["dropping"]:
                    client.sendall(data)
        except OSError:
            pass

    def close(self):
        self.listener.close()


def test_a_send_whose_answer_is_lost_appends_once(tmp_path, redis_server, workers):
    """The host's first task record reaches Redis, which appends it, and the
    link drops before the answer: the host sends the record again once it
    has reconnected. It used to be appended twice, and the task ran twice
    (the cause of test_redis_restart_mid_run's rare double run: Redis
    stopped right after an append); now the second send finds the first
    one's mark and gets its entry back."""
    for wid in ("wa", "wb"):
        workers.start(redis_server.url, "p", wid, "-j", "2")
    wait_for_workers(redis_server, "p", ["wa", "wb"])
    proxy = DropFirstAppend(redis_server.sock, tmp_path / "proxy.sock", "orrery:pool:p:tasks")
    try:
        marks = tmp_path / "marks"
        marks.mkdir()
        tasks = [{"task_id": f"t{i}", "task_data": {
            "command": f"echo $ORRERY_WORKER_ID >> {marks}/$ORRERY_TASK_ID; sleep 1.5"}}
            for i in range(3)]
        # Each runs for longer than the link takes to come back (0.1 s):
        # the record is sent again while its first delivery runs.
        cfg = write_config(tmp_path / "orrery.conf", proxy.url, "p", lease_ms=8000)
        file = write_constellation(tmp_path / "c.json", tasks)
        journal = tmp_path / "j.jsonl"
        proc = start_orrery("run", file, "--config", cfg, "--journal", journal, cwd=tmp_path,
                            stderr_path=tmp_path / "orrery.err")
        code, _ = finish(proc, timeout=90)
    finally:
        proxy.close()
    err = (tmp_path / "orrery.err").read_text()
    assert proxy.dropped.is_set(), "the proxy never saw a task record"
    assert code == 0, err
    for t in tasks:
        assert len(ran_by(marks / t["task_id"])) == 1, (t, ran_by(marks / t["task_id"]))
        assert [e["type"] for e in terminal_events(journal, t["task_id"])] == ["task-completed"]
    assert "delivered again" not in err, err
    # Nothing of the run is left in the pool's stream.
    assert redis_server.client().xlen("orrery:pool:p:tasks") == 0


class CutOnce:
    """A unix-socket proxy from workers to Redis that forwards everything
    until the first piece of data one way (`to_redis` or `to_worker`) that
    holds `marker`: that piece is dropped and that connection closed, as
    when Redis goes away with a command unread or an answer unsent. Later
    connections are forwarded as they are."""

    def __init__(self, upstream, path, marker, direction):
        self.upstream, self.path, self.marker = upstream, str(path), marker
        self.direction = direction
        self.cut = threading.Event()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(16)
        self.url = f"redis+unix://{self.path}"
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                worker, _ = self.listener.accept()
            except OSError:
                return
            up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            up.connect(self.upstream)
            for src, dst, way in ((worker, up, "to_redis"), (up, worker, "to_worker")):
                threading.Thread(target=self.pump, args=(src, dst, way, (worker, up)),
                                 daemon=True).start()

    def pump(self, src, dst, way, pair):
        try:
            while data := src.recv(65536):
                if way == self.direction and not self.cut.is_set() and self.marker in data:
                    self.cut.set()
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in pair:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.listener.close()


def run_behind_cut(tmp_path, redis_server, workers, marker, direction, command):
    """One worker behind a CutOnce proxy runs one task; returns the proxy,
    the exit status, the journal, the host's standard error, the marker."""
    proxy = CutOnce(redis_server.sock, tmp_path / "proxy.sock", marker, direction)
    try:
        w = workers.start(proxy.url, "p", "wa")
        wait_for_workers(redis_server, "p", ["wa"])
        ran = tmp_path / "ran"
        tasks = [{"task_id": "t", "task_data": {
            "command": f"echo $ORRERY_WORKER_ID >> {ran}; {command}; echo done"}}]
        # A lease the cut's reconnect (0.1 s) is far from, but short enough
        # that a lost entry is taken over within the test.
        cfg = write_config(tmp_path / "orrery.conf", redis_server.url, "p", lease_ms=3000)
        file = write_constellation(tmp_path / "c.json", tasks)
        journal = tmp_path / "j.jsonl"
        proc = start_orrery("run", file, "--config", cfg, "--journal", journal, cwd=tmp_path,
                            stderr_path=tmp_path / "orrery.err")
        code, _ = finish(proc, timeout=90)
    finally:
        proxy.close()
    assert w.poll() is None, workers.log("wa")
    return proxy, code, journal, (tmp_path / "orrery.err").read_text(), ran


def test_a_result_lost_with_the_link_is_sent_again(tmp_path, redis_server, workers):
    """The worker's result (its XADD to the reply stream, with the XACK and
    XDEL after it) is written, and the link drops before Redis reads it:
    the worker used to count it sent, so the host never had it and took
    the task over after the lease (run twice). Now what the link had not
    answered is sent again once it is back."""
    proxy, code, journal, err, ran = run_behind_cut(
        tmp_path, redis_server, workers, b"\r\nkind\r\n$6\r\nresult\r\n", "to_redis",
        "sleep 0.2")
    assert proxy.cut.is_set(), "the proxy never saw the result"
    assert code == 0, err
    assert ran_by(ran) == ["wa"]
    ends = terminal_events(journal, "t")
    assert [e["type"] for e in ends] == ["task-completed"] and "done" in str(ends[0]["result"])
    assert "delivered again" not in err, err
    assert "reconnecting" in workers.log("wa")
    # Acknowledged and deleted: nothing left in the pool's stream.
    c = redis_server.client()
    assert c.xlen("orrery:pool:p:tasks") == 0
    assert c.xpending("orrery:pool:p:tasks", "workers")["pending"] == 0


def test_an_entry_whose_reply_was_lost_runs_at_once(tmp_path, redis_server, workers):
    """Redis gives the worker a task entry (XREADGROUP: in the worker's
    pending list) and the link drops before the reply reaches it: the
    worker used to read only new entries after reconnecting, so the task
    waited for the host's takeover after the lease (delivered again).
    Now it reads its own pending entries first and runs it, once, as
    delivery 1."""
    proxy, code, journal, err, ran = run_behind_cut(
        tmp_path, redis_server, workers, b"\r\ndelivery\r\n", "to_worker", "true")
    assert proxy.cut.is_set(), "the proxy never saw the task"
    assert code == 0, err
    assert ran_by(ran) == ["wa"]
    assert [e["type"] for e in terminal_events(journal, "t")] == ["task-completed"]
    assert "delivered again" not in err, err
    assert "its reply lost: running it now" in workers.log("wa")


def test_cancel_kills_the_remote_process_group(tmp_path, redis_server, workers):
    workers.start(redis_server.url, "p", "wa")
    wait_for_workers(redis_server, "p", ["wa"])
    pids = tmp_path / "pids"
    tasks = [{"task_id": "long", "task_data": {
        "command": f"sleep 60 & echo $! >> {pids}; echo $$ >> {pids}; wait"}}]
    cfg = write_config(tmp_path / "orrery.conf", redis_server.url, "p")
    file = write_constellation(tmp_path / "c.json", tasks)
    journal = tmp_path / "j.jsonl"
    proc = start_orrery("run", file, "--config", cfg, "--journal", journal, cwd=tmp_path,
                        stderr_path=tmp_path / "orrery.err")
    wait_for(lambda: pids.exists() and len(pids.read_text().split()) == 2, 30, "the task")
    os.kill(proc.pid, signal.SIGINT)
    code, _ = finish(proc)
    assert code == 1
    assert [e["type"] for e in terminal_events(journal, "long")] == ["task-cancelled"]
    # The worker killed the task's whole process group, the background
    # sleep included.
    wait_for(lambda: not any(alive(p) for p in pids.read_text().split()),
             20, "the remote processes to be killed")
    assert "the host cancelled it" in workers.log("wa")


def test_timeout_on_the_worker(tmp_path, redis_server, workers):
    workers.start(redis_server.url, "p", "wa")
    wait_for_workers(redis_server, "p", ["wa"])
    tasks = [{"task_id": "slow", "timeout": 0.5, "task_data": {"command": "sleep 30"}}]
    cfg = write_config(tmp_path / "orrery.conf", redis_server.url, "p")
    file = write_constellation(tmp_path / "c.json", tasks)
    journal = tmp_path / "j.jsonl"
    proc = start_orrery("run", file, "--config", cfg, "--journal", journal, cwd=tmp_path,
                        stderr_path=tmp_path / "orrery.err")
    code, _ = finish(proc)
    assert code == 1
    ends = terminal_events(journal, "slow")
    assert [e["type"] for e in ends] == ["task-failed"]
    assert "on worker wa" in ends[0]["error"]["message"]
    assert ends[0]["error"]["code"] == 3   # ORRERY_DEVICE_ERROR_TIMEOUT


def test_presence_offline_and_back(tmp_path, redis_server, workers):
    # wb leaves (SIGSTOP past its TTL) and comes back while a run lasts.
    workers.start(redis_server.url, "p", "wa")
    workers.start(redis_server.url, "p", "wb")
    wait_for_workers(redis_server, "p", ["wa", "wb"])
    flag = tmp_path / "finish"
    tasks = [{"task_id": "keeper", "task_data": {
        "command": f"while [ ! -e {flag} ]; do sleep 0.05; done"}}]
    cfg = write_config(tmp_path / "orrery.conf", redis_server.url, "p")
    file = write_constellation(tmp_path / "c.json", tasks)
    journal = tmp_path / "j.jsonl"
    err = tmp_path / "orrery.err"
    proc = start_orrery("run", file, "--config", cfg, "--journal", journal, cwd=tmp_path,
                        stderr_path=err)
    wait_for(lambda: "Worker “wb” joined" in err.read_text(), 30, "wb to be seen")
    os.kill(workers.procs["wb"].pid, signal.SIGSTOP)
    wait_for(lambda: "Worker “wb” of pool “p” is offline" in err.read_text(), 30, "wb offline")
    os.kill(workers.procs["wb"].pid, signal.SIGCONT)
    wait_for(lambda: "Worker “wb” of pool “p” is online" in err.read_text(), 30, "wb online")
    flag.touch()
    code, _ = finish(proc)
    assert code == 0, err.read_text()
    changes = [(r["device"], r["status"]) for r in records(journal)
               if r["type"] == "device-status-changed" and r["device"] == "pool/wb"]
    assert [s for _, s in changes] == ["offline", "idle"], changes


def test_sigterm_finishes_and_leaves(tmp_path, redis_server, workers):
    w = workers.start(redis_server.url, "p", "wa")
    wait_for_workers(redis_server, "p", ["wa"])
    done = tmp_path / "done"
    tasks = [{"task_id": "t", "task_data": {"command": f"sleep 0.5; touch {done}"}}]
    cfg = write_config(tmp_path / "orrery.conf", redis_server.url, "p")
    file = write_constellation(tmp_path / "c.json", tasks)
    proc = start_orrery("run", file, "--config", cfg, cwd=tmp_path,
                        stderr_path=tmp_path / "orrery.err")
    c = redis_server.client()
    wait_for(lambda: c.xpending("orrery:pool:p:tasks", "workers")["pending"] == 1, 30,
             "the worker to take the task")
    os.kill(w.pid, signal.SIGTERM)
    assert w.wait(timeout=30) == 0
    assert done.exists()                      # finished what it held
    code, _ = finish(proc)
    assert code == 0
    assert not c.exists("orrery:pool:p:worker:wa")   # left the pool


def test_password_never_shown(tmp_path, redis_server, workers):
    c = redis_server.client()
    c.acl_setuser("orr", enabled=True, passwords=["+s3cr3t-pw"], keys=["*"], commands=["+@all"])
    url = f"redis+unix://orr:s3cr3t-pw@{redis_server.sock}"
    workers.start(url, "p", "wa")
    wait_for_workers(redis_server, "p", ["wa"])
    tasks = [{"task_id": "t", "task_data": {"command": "true"}}]
    cfg = write_config(tmp_path / "orrery.conf", url, "p")
    file = write_constellation(tmp_path / "c.json", tasks)
    proc = start_orrery("run", file, "--config", cfg, cwd=tmp_path,
                        stderr_path=tmp_path / "orrery.err")
    code, out = finish(proc)
    err = (tmp_path / "orrery.err").read_text()
    assert code == 0, err
    # A wrong password: refused, said so, still without the password.
    bad = write_config(tmp_path / "bad.conf",
                       f"redis+unix://orr:wrong-pw@{redis_server.sock}", "p", unreachable_sec=1)
    r = subprocess.run([ORRERY, "run", str(file), "--config", str(bad)], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, NO_COLOR="1"))
    assert r.returncode == 1
    assert "refused the connection" in r.stderr and "redis+unix://orr:***@" in r.stderr
    for text in (out, err, r.stdout, r.stderr, workers.log("wa")):
        assert "s3cr3t-pw" not in text and "wrong-pw" not in text


def test_a_task_that_kills_every_worker_fails(tmp_path, redis_server, workers):
    for wid in ("wa", "wb", "wc"):
        workers.start(redis_server.url, "p", wid)
    wait_for_workers(redis_server, "p", ["wa", "wb", "wc"])
    marker = tmp_path / "ran"
    tasks = [{"task_id": "killer", "task_data": {
        "command": f"echo $ORRERY_WORKER_ID >> {marker}; kill -KILL $PPID"}}]
    cfg = write_config(tmp_path / "orrery.conf", redis_server.url, "p", extra="MaxDeliveries=2")
    file = write_constellation(tmp_path / "c.json", tasks)
    journal = tmp_path / "j.jsonl"
    proc = start_orrery("run", file, "--config", cfg, "--journal", journal, cwd=tmp_path,
                        stderr_path=tmp_path / "orrery.err")
    code, _ = finish(proc)
    assert code == 1
    assert len(ran_by(marker)) == 2                   # two deliveries, two workers lost
    ends = terminal_events(journal, "killer")
    assert [e["type"] for e in ends] == ["task-failed"]
    assert "delivered 2 times (the limit), each time lost" in ends[0]["error"]["message"]


def test_a_worker_hands_back_what_it_cannot_do(tmp_path, redis_server, workers):
    workers.start(redis_server.url, "p", "wa", "--capabilities", "cpu")
    wait_for_workers(redis_server, "p", ["wa"])
    tasks = [{"task_id": "g", "task_data": {"command": "true", "capabilities": ["gpu"]}}]
    cfg = write_config(tmp_path / "orrery.conf", redis_server.url, "p",
                       extra="Capabilities=gpu;cpu\nMaxDeliveries=2")
    file = write_constellation(tmp_path / "c.json", tasks)
    journal = tmp_path / "j.jsonl"
    proc = start_orrery("run", file, "--config", cfg, "--journal", journal, cwd=tmp_path,
                        stderr_path=tmp_path / "orrery.err")
    code, _ = finish(proc)
    assert code == 1
    ends = terminal_events(journal, "g")
    assert [e["type"] for e in ends] == ["task-failed"]
    assert "worker wa lacks the capability “gpu”" in ends[0]["error"]["message"]
    # Then a worker that can: the same task runs.
    workers.start(redis_server.url, "p", "wb", "--capabilities", "gpu")
    wait_for_workers(redis_server, "p", ["wb"])
    os.kill(workers.procs["wa"].pid, signal.SIGTERM)
    workers.procs["wa"].wait(timeout=30)
    proc = start_orrery("run", file, "--config", cfg, cwd=tmp_path,
                        stderr_path=tmp_path / "orrery2.err")
    code, _ = finish(proc)
    assert code == 0, (tmp_path / "orrery2.err").read_text()


def test_a_redis_that_stays_away_fails_the_tasks(tmp_path, redis_server, workers):
    workers.start(redis_server.url, "p", "wa")
    wait_for_workers(redis_server, "p", ["wa"])
    started = tmp_path / "started"
    tasks = [{"task_id": "t", "task_data": {"command": f"touch {started}; sleep 30"}}]
    cfg = write_config(tmp_path / "orrery.conf", redis_server.url, "p", unreachable_sec=1)
    file = write_constellation(tmp_path / "c.json", tasks)
    journal = tmp_path / "j.jsonl"
    proc = start_orrery("run", file, "--config", cfg, "--journal", journal, cwd=tmp_path,
                        stderr_path=tmp_path / "orrery.err")
    wait_for(started.exists, 30, "the task to start")
    redis_server.kill()
    code, _ = finish(proc)
    assert code == 1
    ends = terminal_events(journal, "t")
    assert [e["type"] for e in ends] == ["task-failed"]
    assert "unreachable for 1 s" in ends[0]["error"]["message"]


def test_a_second_sigterm_hands_back_at_once(tmp_path, redis_server, workers):
    def hurt(wid, marker, pids):
        proc = workers.procs[wid]
        os.kill(proc.pid, signal.SIGTERM)
        wait_for(lambda: "Stopping" in workers.log(wid), 30, "the first signal")
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        # Its task's process group was killed, not left behind.
        wait_for(lambda: not alive(pids.read_text().split()[0]), 20, "the task to be killed")

    code, first, marker, journal, err = run_with_victim(tmp_path, redis_server, workers, hurt,
                                                        "sleep 30")
    assert code == 0, err
    runs = ran_by(marker)
    assert len(runs) == 2 and runs[1] != first, runs
    # Handed back at once, not after a lease.
    assert f"delivered again (delivery 2): worker {first} stopped" in err
    assert [e["type"] for e in terminal_events(journal, "victim")] == ["task-completed"]
