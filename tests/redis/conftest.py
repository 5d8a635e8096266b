# The redis suite: the redis device kind and `orrery worker` against a real
# redis-server that each test starts itself (a unix socket in the test's
# directory, AOF on, no RDB) and stops by pid, with real worker processes.
# Leases, heartbeats and TTLs are short so that each test takes seconds.
#
# meson test sets ORRERY, ORRERY_BUILD_ROOT and ORRERY_SOURCE_ROOT.
import json
import os
import shutil
import signal
import subprocess
import time

import pytest

ORRERY = os.environ.get("ORRERY", "orrery")
BUILD_ROOT = os.environ.get("ORRERY_BUILD_ROOT", ".")
SOURCE_ROOT = os.environ.get("ORRERY_SOURCE_ROOT", ".")
REDIS_SERVER = shutil.which("redis-server")

LEASE_MS = 1000
HEARTBEAT_MS = 100


def wait_for(pred, timeout=30, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


class RedisServer:
    def __init__(self, directory):
        self.dir = directory
        self.sock = str(directory / "redis.sock")
        self.url = f"redis+unix://{self.sock}"
        self.proc = None
        self.start()

    def start(self):
        self.log = open(self.dir / "redis.log", "ab")
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", "0", "--unixsocket", self.sock, "--save", "",
             "--appendonly", "yes", "--dir", str(self.dir)],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(lambda: self.ping(), 20, "redis-server to answer")

    def ping(self):
        try:
            return self.client().ping()
        except Exception:
            return False

    def client(self):
        import redis
        return redis.Redis(unix_socket_path=self.sock, decode_responses=True,
                           socket_timeout=5)

    def stop(self):
        """SIGTERM by pid (redis writes the AOF out and exits), and waits."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
        self.log.close()

    def kill(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.log.close()


@pytest.fixture
def redis_server(tmp_path):
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (Debian: redis-server)")
    try:
        import redis  # noqa: F401
    except ImportError:
        pytest.skip("python3-redis is not installed")
    d = tmp_path / "redis"
    d.mkdir()
    server = RedisServer(d)
    yield server
    server.kill()


class Workers:
    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.procs = {}

    def start(self, url, pool, wid, *extra, heartbeat_ms=HEARTBEAT_MS):
        out = self.tmp / f"worker-{wid}"
        out.mkdir(exist_ok=True)
        err = open(self.tmp / f"worker-{wid}.log", "wb")
        proc = subprocess.Popen(
            [ORRERY, "worker", url, "--pool", pool, "--id", wid,
             "--heartbeat-ms", str(heartbeat_ms), "--output-dir", str(out), *extra],
            stdout=err, stderr=subprocess.STDOUT, start_new_session=True,
            env=dict(os.environ, NO_COLOR="1"))
        self.procs[wid] = proc
        return proc

    def log(self, wid):
        return (self.tmp / f"worker-{wid}.log").read_text(errors="replace")

    def stop_all(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.kill(proc.pid, signal.SIGCONT)
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=30)


@pytest.fixture
def workers(tmp_path):
    w = Workers(tmp_path)
    yield w
    w.stop_all()


def wait_for_workers(server, pool, ids, timeout=20):
    """Until every worker's presence key exists (they joined the pool)."""
    c = server.client()
    wait_for(lambda: all(c.exists(f"orrery:pool:{pool}:worker:{i}") for i in ids),
             timeout, f"workers {ids} to join pool {pool}")


def write_config(path, url, pool, lease_ms=LEASE_MS, unreachable_sec=20, extra=""):
    path.write_text(f"""[Host]
AutoEnable=false

[Plugin redis]
Enabled=true

[Plugin metrics]
Enabled=true
Summary=false

[Device pool]
Type=redis
URL={url}
Pool={pool}
MaxConcurrency=8
LeaseMs={lease_ms}
UnreachableSec={unreachable_sec}
{extra}
""")
    return path


def write_constellation(path, tasks, deps=()):
    path.write_text(json.dumps({"constellation_id": "redis-test", "tasks": tasks,
                                "dependencies": [{"from_task_id": a, "to_task_id": b,
                                                  "dependency_type": "success_only"}
                                                 for a, b in deps]}))
    return path


def records(path):
    with open(path, "rb") as f:
        return [json.loads(line) for line in f.read().split(b"\n") if line]


def start_orrery(*args, cwd, stderr_path):
    err = open(stderr_path, "wb")
    return subprocess.Popen([ORRERY, *map(str, args)], cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=err, start_new_session=True,
                            env=dict(os.environ, NO_COLOR="1"))


def finish(proc, timeout=60):
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"orrery hung for {timeout} s")
    return proc.returncode, out.decode(errors="replace")
