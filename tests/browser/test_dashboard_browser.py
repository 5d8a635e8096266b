# The dashboard in a real browser: Debian's chromium, headless, driven by
# chromedriver through python3-selenium, against the real program running a
# constellation whose tasks wait for files the test creates. Skipped (with
# the reason) only where chromium, chromedriver or selenium is missing.
import os
import shutil
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "faults"))

from dashboard_helpers import start_dashboard, wait_file_cmd, write_constellation  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else None)
if CHROMIUM is None or CHROMEDRIVER is None:
    pytest.skip("chromium and chromium-driver are not installed (.ci/deps installs them)", allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver", reason="python3-selenium is not installed (.ci/deps)")

TASKS = ["fetch-a", "fetch-b", "merge", "report", "publish"]


@pytest.fixture
def browser(tmp_path):
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1280,900", "--no-first-run", "--disable-extensions",
              f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        opts.add_argument(a)
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER, log_output=str(tmp_path / "chromedriver.log"))
                           if "log_output" in Service.__init__.__code__.co_varnames
                           else Service(CHROMEDRIVER, log_path=str(tmp_path / "chromedriver.log")),
                           options=opts)
    drv.set_script_timeout(10)
    yield drv
    drv.quit()


def js(drv, expr):
    return drv.execute_script(f"return ({expr});")


def wait_js(drv, expr, what, d, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if js(drv, expr):
            return
        time.sleep(0.05)
    pytest.fail(f"never {what} ({expr}); page state: "
                f"{js(drv, 'JSON.stringify({seq: orrery.seq, tasks: orrery.tasks, run: orrery.runState})')}\n"
                f"{d.stderr()[-2000:]}")


def status_of(drv, task):
    return js(drv, f"orrery.tasks[{task!r}] && orrery.tasks[{task!r}].status")


def test_live_run_in_browser(tmp_path, browser):
    go1, go2, never = tmp_path / "go1", tmp_path / "go2", tmp_path / "never"
    c = write_constellation(tmp_path / "browser.json",
                            {"fetch-a": wait_file_cmd(go1), "fetch-b": wait_file_cmd(go1),
                             "merge": wait_file_cmd(go2), "report": ["sh", "-c", "echo report done"],
                             "publish": wait_file_cmd(never)},
                            [("fetch-a", "merge"), ("fetch-b", "merge"), ("merge", "report"), ("report", "publish")])
    d = start_dashboard(tmp_path, c)
    drv = browser
    try:
        drv.get(f"{d.base}/?token={d.token}")
        wait_js(drv, "window.orrery && orrery.connected && orrery.layout > 0", "connected with a layout", d)
        # The token leaves the address bar (the cookie and sessionStorage keep it).
        assert "token=" not in drv.current_url
        # Every task: in the table and as a node of the DAG.
        rows = js(drv, "Array.from(document.querySelectorAll('#tasks tbody tr')).map(r => r.dataset.task)")
        assert sorted(rows) == sorted(TASKS), rows
        for t in TASKS:
            assert js(drv, f"!!document.getElementById(nodeId({t!r}))"), t
        wait_js(drv, "orrery.tasks['fetch-a'].status === 'running'", "fetch-a running", d)

        # Statuses change as tasks finish: state, table and graph.
        go1.touch()
        wait_js(drv, "orrery.tasks['fetch-a'].status === 'completed' && orrery.tasks['fetch-b'].status === 'completed'",
                "fetch-a and fetch-b completed", d)
        wait_js(drv, "document.getElementById(nodeId('fetch-a')).getAttribute('class').includes('st-completed')",
                "the node recoloured", d)
        wait_js(drv, "document.querySelector('#tasks tr[data-task=\"fetch-a\"] td:nth-child(2)').textContent === 'completed'",
                "the table updated", d)

        # Reload mid-run: the page's events are 1..N, no gap, no repeat.
        before = js(drv, "orrery.seq")
        drv.refresh()
        wait_js(drv, f"window.orrery && orrery.connected && orrery.seq >= {before}", "reconnected after reload", d)
        seqs = js(drv, "orrery.events.map(e => e.seq)")
        assert seqs == list(range(1, len(seqs) + 1)), seqs
        assert js(drv, "orrery.gaps") == 0 and js(drv, "orrery.duplicates") == 0

        # Pause: merge finishes, report is not dispatched; resume: it runs.
        wait_js(drv, "!document.getElementById('pause').disabled", "pause enabled", d)
        drv.find_element("id", "pause").click()
        wait_js(drv, "orrery.snapshot && orrery.snapshot.run.paused", "paused", d)
        go2.touch()
        wait_js(drv, "orrery.tasks['merge'].status === 'completed'", "merge completed", d)
        time.sleep(1)
        assert d.state()["run"]["paused"]
        assert status_of(drv, "report") == "pending", status_of(drv, "report")
        drv.find_element("id", "resume").click()
        wait_js(drv, "orrery.tasks['report'].status === 'completed' && orrery.tasks['publish'].status === 'running'",
                "report completed and publish running after resume", d)

        # The event log filters by type and task.
        drv.execute_script("document.getElementById('filter-type').value = 'task-completed';"
                           "document.getElementById('filter-type').dispatchEvent(new Event('change'));")
        types = js(drv, "Array.from(document.querySelectorAll('#events tbody tr')).map(r => r.dataset.type)")
        assert types and set(types) == {"task-completed"}, types
        wait_js(drv, "document.querySelector('#tasks tr[data-task=\"report\"] td.output').textContent.includes('report done')",
                "report's output in the table", d)
        drv.save_screenshot(str(tmp_path / "dashboard.png"))
        shot = os.environ.get("ORRERY_DASHBOARD_SCREENSHOT")
        if shot:
            shutil.copy(tmp_path / "dashboard.png", shot)

        # Cancel: the run ends cancelled.
        drv.find_element("id", "cancel").click()
        wait_js(drv, "orrery.runState === 'cancelled'", "the run cancelled", d)
        d.proc.wait(timeout=60)
    finally:
        d.stop()
    assert d.proc.returncode == 1, d.stderr()[-3000:]
    assert (tmp_path / "dashboard.png").stat().st_size > 1000


def test_agent_edit_appears_in_dag(tmp_path, browser):
    import subprocess
    from conftest import BUILD_ROOT
    from dashboard_helpers import URL_RE
    go = tmp_path / "go"
    err = open(tmp_path / "stderr", "wb")
    proc = subprocess.Popen(["/usr/bin/python3", os.path.join(os.path.dirname(__file__), "agent_dashboard.py"),
                             os.path.join(BUILD_ROOT, "plugins", "dashboard"), str(go), str(tmp_path / "done")],
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    err.close()

    class D:
        def stderr(self):
            return (tmp_path / "stderr").read_text(errors="replace")
    d = D()
    try:
        deadline = time.monotonic() + 30
        m = None
        while m is None and time.monotonic() < deadline and proc.poll() is None:
            m = URL_RE.search(d.stderr())
            time.sleep(0.05)
        assert m, d.stderr()
        drv = browser
        drv.get(f"{m.group(1)}/?token={m.group(3)}")
        wait_js(drv, "orrery.layout > 0 && orrery.tasks['plan-1'] && orrery.tasks['plan-1'].status === 'completed'",
                "plan-1 completed with a layout", d)
        assert not js(drv, "!!document.getElementById(nodeId('report-plan-1'))")
        go.touch()
        # The agent's edit: a new node, laid out again, then run and recoloured.
        wait_js(drv, "!!document.getElementById(nodeId('report-plan-1'))", "the added task in the DAG", d)
        wait_js(drv, "orrery.events.some(e => e.type === 'constellation-modified')", "the edit's event", d)
        wait_js(drv, "orrery.tasks['report-plan-1'] && orrery.tasks['report-plan-1'].status === 'completed'",
                "the added task completed", d)
        (tmp_path / "done").touch()
        assert proc.wait(timeout=60) == 0, d.stderr()
    finally:
        (tmp_path / "done").touch()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
