# The fault suite: each scenario runs the real `orrery` program as a user
# would (hostile files, signals, full disks, other users' plugins) and checks
# that it survives: the right exit status, a clear message, nothing lost,
# no process left behind.
#
# meson test sets ORRERY (the program under test), ORRERY_BUILD_ROOT and
# ORRERY_SOURCE_ROOT; the same tests run against the sanitizer build in CI.
import os
import signal
import subprocess

import pytest

ORRERY = os.environ.get("ORRERY", "orrery")
BUILD_ROOT = os.environ.get("ORRERY_BUILD_ROOT", ".")
SOURCE_ROOT = os.environ.get("ORRERY_SOURCE_ROOT", ".")


class Result:
    def __init__(self, proc, stdout, stderr):
        self.returncode = proc.returncode
        self.stdout = stdout
        self.stderr = stderr

    def __repr__(self):
        return f"<exit {self.returncode}\nstdout: {self.stdout[-2000:]}\nstderr: {self.stderr[-2000:]}>"


def run_orrery(*args, cwd=None, env=None, timeout=120, input=None):
    """Runs `orrery ARGS...` to its end and returns its exit status and output."""
    full_env = dict(os.environ)
    full_env.setdefault("NO_COLOR", "1")
    if env:
        full_env.update(env)
    proc = subprocess.Popen([ORRERY, *map(str, args)], cwd=cwd, env=full_env,
                            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        out, err = proc.communicate(input=input.encode() if isinstance(input, str) else input,
                                    timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"orrery {' '.join(map(str, args))} hung for {timeout} s\n"
                    f"stdout: {out.decode(errors='replace')[-2000:]}\n"
                    f"stderr: {err.decode(errors='replace')[-2000:]}")
    return Result(proc, out.decode(errors="replace"), err.decode(errors="replace"))


@pytest.fixture
def orrery():
    return run_orrery
