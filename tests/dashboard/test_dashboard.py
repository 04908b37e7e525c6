"""The live dashboard (admin listener's "/") in real headless Chromium.

Debian's /usr/bin/chromium is driven by playwright-core from npm (tests/dashboard/run_browser.mjs,
never a downloaded browser). Two targets run the same scenario:
  weir   the real thing: backend.py servers, weir (WEIR_BIN, else build-lead/ or build-asan/)
         with an admin listener and 200 ms active health checks
  mock   tests/dashboard/mock_admin.py, a stand-in serving the same page and status documents
         (it also covers what weir rarely shows: a half-open breaker, null breaker/concurrency)
Scenario: the page loads and goes live with no console error, page error, failed request or
HTTP error; the throughput figure changes while a load runs; a server that goes down shows
data-up="false" and the text DOWN; a screenshot goes to the pytest tmp dir and to
tests/dashboard/out/ (dashboard.png for weir, dashboard-mock.png for the mock).

Every process is bounded in time and stopped by its PID; Chromium processes left behind are
found by their unique --user-data-dir and killed by PID.
"""

import importlib.util
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
OUT_DIR = os.path.join(HERE, "out")
RUNNER = os.path.join(HERE, "run_browser.mjs")
MOCK = os.path.join(HERE, "mock_admin.py")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
NODE = shutil.which("node")
PLAYWRIGHT = os.path.join(HERE, "node_modules", "playwright-core")

# the integration suite's process helpers (Backend, Weir, ...), under a name of our own
_spec = importlib.util.spec_from_file_location(
    "weir_integration_helpers", os.path.join(ROOT, "tests", "integration", "conftest.py"))
it = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(it)

_missing = [what for what, ok in (("Chromium at " + CHROMIUM, os.access(CHROMIUM, os.X_OK)),
                                  ("node", NODE is not None),
                                  ("tests/dashboard/node_modules/playwright-core",
                                   os.path.isdir(PLAYWRIGHT)))
            if not ok]
pytestmark = pytest.mark.skipif(bool(_missing), reason="no %s: run scripts/install-deps.sh "
                                "--browser (make browser-deps)" % ", ".join(_missing))


# --------------------------------------------------------------------------------------------
# the browser

class Browser:
    """run_browser.mjs as a child: one JSON command per line, one JSON answer per line."""

    def __init__(self, workdir):
        self.profile = os.path.join(workdir, "chromium-profile")
        self.stderr_path = os.path.join(workdir, "run_browser.stderr")
        self._err = open(self.stderr_path, "wb")
        env = dict(os.environ, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD="1", CHROMIUM=CHROMIUM,
                   WEIR_CHROMIUM_PROFILE=self.profile)
        self.proc = subprocess.Popen([NODE, RUNNER], cwd=HERE, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._err,
                                     start_new_session=True)
        self._answers = queue.Queue()
        self._seq = 0
        threading.Thread(target=self._read, daemon=True).start()
        try:
            hello = self._answer(0, 45.0)
            assert hello.get("ok"), "browser did not start: %s%s" % (hello.get("error"),
                                                                     self._tail())
        except BaseException:
            self.close()
            raise
        self.version = hello.get("version")

    def _read(self):
        for line in self.proc.stdout:
            try:
                self._answers.put(json.loads(line))
            except ValueError:
                self._answers.put({"id": None, "ok": False, "error": "bad line %r" % line})
        self._answers.put(None)

    def _tail(self):
        try:
            with open(self.stderr_path, "r", errors="replace") as f:
                return "\n--- run_browser stderr ---\n" + f.read()[-4000:]
        except OSError:
            return ""

    def _answer(self, want_id, timeout):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("browser: no answer to command %s within %.0fs%s"
                                     % (want_id, timeout, self._tail()))
            try:
                a = self._answers.get(timeout=left)
            except queue.Empty:
                continue
            if a is None:
                raise AssertionError("browser exited (%s)%s" % (self.proc.poll(), self._tail()))
            if a.get("id") == want_id:
                return a

    def call(self, cmd, timeout=20.0, **kw):
        self._seq += 1
        kw.update(id=self._seq, cmd=cmd)
        self.proc.stdin.write((json.dumps(kw) + "\n").encode())
        self.proc.stdin.flush()
        a = self._answer(self._seq, timeout)
        if not a.get("ok"):
            raise AssertionError("browser %s failed: %s" % (cmd, a.get("error")))
        return a.get("value")

    def eval(self, expr):
        return self.call("eval", expr=expr)

    def wait(self, expr, timeout=10.0, what=None):
        try:
            return self.call("wait", timeout=timeout + 5, expr=expr, ms=int(timeout * 1000))
        except AssertionError as e:
            raise AssertionError("%s: %s" % (what or expr, e))

    def text(self, selector):
        return self.eval("(() => { const e = document.querySelector(%s); "
                         "return e ? e.textContent : null; })()" % json.dumps(selector))

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b'{"id": -1, "cmd": "close"}\n')
                self.proc.stdin.flush()
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)
        self._err.close()
        for pid in _pids_with_arg(self.profile):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def _pids_with_arg(needle):
    """PIDs of processes whose command line mentions needle (our unique profile dir)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                if needle.encode() in f.read():
                    out.append(int(d))
        except OSError:
            pass
    return out


@pytest.fixture
def browser(tmp_path):
    b = Browser(str(tmp_path))
    yield b
    b.close()


# --------------------------------------------------------------------------------------------
# load

class Load:
    """Keep-alive GETs to 127.0.0.1:port on a thread, until stop() or `seconds` or `limit`."""

    def __init__(self, port, paths, seconds=40.0, limit=200000, pause=0.002):
        self.port, self.paths, self.seconds, self.limit, self.pause = port, paths, seconds, \
            limit, pause
        self.sent = 0
        self.statuses = {}
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        deadline = time.monotonic() + self.seconds
        c = None
        i = 0
        while not self._stop.is_set() and time.monotonic() < deadline and self.sent < self.limit:
            try:
                if c is None:
                    c = it.Client(self.port, timeout=5)
                r = c.get(self.paths[i % len(self.paths)])
                self.statuses[r.status] = self.statuses.get(r.status, 0) + 1
                if (r.header("connection") or "").lower() == "close":
                    c.close()
                    c = None
            except Exception:  # a backend going down mid-test: reconnect and go on
                self.statuses["error"] = self.statuses.get("error", 0) + 1
                if c is not None:
                    c.close()
                c = None
                time.sleep(0.01)
            self.sent += 1
            i += 1
            if self.pause:
                time.sleep(self.pause)
        if c is not None:
            c.close()

    def stop(self):
        self._stop.set()
        self._t.join(10)


# --------------------------------------------------------------------------------------------
# the targets

def _weir_bin():
    env = os.environ.get("WEIR_BIN")
    if env:
        assert os.path.isfile(env) and os.access(env, os.X_OK), \
            "WEIR_BIN=%s: no such binary" % env
        return os.path.abspath(env)
    for p in (os.path.join(ROOT, "build-lead", "weir"), os.path.join(ROOT, "build-asan", "weir")):
        if p and os.path.isfile(p) and os.access(p, os.X_OK):
            return os.path.abspath(p)
    return None


def _get(url, timeout=5.0, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.headers.get("Content-Type", ""), r.read()


class WeirTarget:
    name = "weir"

    def __init__(self, workdir, token=None):
        binary = _weir_bin()
        if binary is None:
            pytest.skip("no weir binary (set WEIR_BIN or build build-lead/ or build-asan/)")
        self.lx = it.Launcher(binary, workdir)
        try:
            self._start(binary, workdir, token)
        except BaseException:      # a failed start (or a skip) still stops what it started
            self.lx.close()
            raise

    def _start(self, binary, workdir, token):
        self.a = self.lx.backend("a")
        self.b = self.lx.backend("b")
        self.admin_port = it.free_port()
        admin = {"listen": "127.0.0.1:%d" % self.admin_port}
        if token:
            admin["token"] = token
        port = it.free_port()
        cfg = it.make_config(port, {"web": {
            "servers": [self.a.port, self.b.port],
            "health": {"active": {"interval": "200ms", "timeout": "150ms", "path": "/",
                                  "fall": 1, "rise": 1}}}},
            [{"path": "/api/", "upstream": "web"}, {"path": "/", "upstream": "web"}],
            workers=2, extra={"admin": admin})
        # an older weir without the admin listener rejects the key: that is a skip, not a fail
        probe = it.Weir(binary, workdir, cfg, name="probe")
        chk = subprocess.run([binary, "-t", "-c", probe.config_path], capture_output=True,
                             text=True, timeout=30)
        if chk.returncode != 0 and "unknown key 'admin'" in chk.stderr:
            pytest.skip("weir at %s has no admin listener yet (%s)" % (binary,
                                                                       chk.stderr.strip()))
        assert chk.returncode == 0, chk.stderr
        self.weir = self.lx.weir(cfg, port=port)
        it.wait_port(self.admin_port, self.weir.proc, 15.0, what="weir admin",
                     log=self.weir.stderr_path)
        self.port = self.weir.port
        self.base = "http://127.0.0.1:%d/" % self.admin_port
        self.load_paths = ["/api/items", "/", "/api/users?id=7", "/static/x"]
        self.servers = [self.a.addr, self.b.addr]

    def take_down(self):
        """Stops backend b; returns its address (active checks mark it down)."""
        self.b.stop()
        return self.b.addr

    def close(self):
        self.lx.close()


class MockTarget:
    name = "mock"

    def __init__(self, workdir, token=None):
        self.admin_port = it.free_port()
        self.stderr_path = os.path.join(workdir, "mock_admin.stderr")
        self._err = open(self.stderr_path, "wb")
        argv = [sys.executable, MOCK, "--port", str(self.admin_port)]
        if token:
            argv += ["--token", token]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self._err)
        try:
            it.wait_port(self.admin_port, self.proc, 15.0, what="mock_admin",
                         log=self.stderr_path)
        except BaseException:
            self.close()
            raise
        self.port = self.admin_port            # the mock counts its own non-admin requests
        self.base = "http://127.0.0.1:%d/" % self.admin_port
        self.load_paths = ["/api/items", "/static/app.js", "/api/users", "/other",
                           "/api/fail", "/api/limited"]
        self.servers = ["127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003", "127.0.0.1:9101"]

    def take_down(self):
        addr = "127.0.0.1:9002"
        req = urllib.request.Request(self.base + "__mock/server?addr=%s&up=0" % addr, data=b"",
                                     method="POST")
        with urllib.request.urlopen(req, timeout=5) as r:
            assert r.status == 200
        return addr

    def set_breaker(self, state):
        req = urllib.request.Request(self.base + "__mock/breaker?group=api&state=%s" % state,
                                     data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=5) as r:
            assert r.status == 200

    def stop_server(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def close(self):
        self.stop_server()
        self._err.close()


TARGETS = {"weir": WeirTarget, "mock": MockTarget}


@pytest.fixture(params=["weir", "mock"])
def target(request, tmp_path):
    t = TARGETS[request.param](str(tmp_path))
    yield t
    t.close()


# --------------------------------------------------------------------------------------------
# helpers on the page

def _num(text):
    """'1 234' / '12.5' / '1.2k' -> float; None for '–' or garbage."""
    if not text:
        return None
    t = text.replace("\u202f", "").replace(" ", "").strip()
    mult = 1.0
    if t and t[-1] in "kMG":
        mult = {"k": 1e3, "M": 1e6, "G": 1e9}[t[-1]]
        t = t[:-1]
    try:
        return float(t) * mult
    except ValueError:
        return None


def _problems(logs):
    """Console errors, page errors, failed requests, HTTP errors: anything but info/log/debug."""
    return [m for m in logs if m.get("type") in ("error", "pageerror", "requestfailed",
                                                 "httperror", "assert")]


def _go_live(browser, url):
    browser.call("goto", url=url, width=1600, height=1000)
    browser.wait("document.getElementById('conn-state').dataset.state === 'live' && "
                 "+document.body.dataset.updates >= 2", 10.0, "page never went live")


def _screenshot(browser, tmp_path, name):
    shot = str(tmp_path / name)
    browser.call("screenshot", path=shot)
    os.makedirs(OUT_DIR, exist_ok=True)
    shutil.copyfile(shot, os.path.join(OUT_DIR, name))
    assert os.path.getsize(shot) > 20000, "screenshot suspiciously small"
    return shot


# --------------------------------------------------------------------------------------------
# the tests

def test_dashboard_live_load_and_server_down(target, browser, tmp_path):
    # the page itself: self-contained, served by the admin listener
    status, ctype, body = _get(target.base)
    assert status == 200 and ctype.startswith("text/html"), (status, ctype)
    assert b"<canvas id=\"history-chart\"" in body and b"EventSource" in body
    for bad in (b"http://", b"https://", b"<link rel=\"stylesheet\"", b"@import", b"src=\""):
        # no external resource of any kind (the only URL-ish text allowed is none at all)
        assert bad not in body, "dashboard references something external: %r" % bad

    _go_live(browser, target.base)

    # every server tile is there and up
    for addr in target.servers:
        browser.wait("(() => { const e = document.querySelector('[data-server=\"%s\"]'); "
                     "return e && e.dataset.up === 'true'; })()" % addr, 8.0,
                     "server %s not shown as up" % addr)
    assert browser.eval("document.querySelectorAll('#history-chart, #latency-chart, "
                        "#latency-hist').length") == 3
    assert browser.eval("document.getElementById('history-chart').width") >= 300

    # figures move while a load runs
    total0 = _num(browser.text("#total-requests"))
    load = Load(target.port, target.load_paths)
    try:
        samples = []
        deadline = time.monotonic() + 12.0
        while time.monotonic() < deadline:
            samples.append(browser.text("#rps-1s"))
            vals = [_num(s) for s in samples]
            if len(set(samples)) >= 2 and any(v and v > 0 for v in vals) and len(samples) >= 4:
                break
            time.sleep(0.5)
        assert len(set(samples)) >= 2, "#rps-1s never changed under load: %r" % samples
        assert any((_num(s) or 0) > 0 for s in samples), samples
        browser.wait("(() => { const t = document.getElementById('rps-10s').textContent;"
                     " return t !== '–' && parseFloat(t) > 0; })()", 8.0,
                     "10 s throughput stayed at 0")
        total1 = _num(browser.text("#total-requests"))
        assert total1 is not None and total1 > (total0 or 0), (total0, total1)
        # the HTTP/2 figures (totals.protocols) are shown: none from weir under this HTTP/1.1
        # load, mock_admin.py's made-up ones from the mock
        want = ("0", "0") if isinstance(target, WeirTarget) else ("42", "1")
        assert (browser.text("#h2-requests"), browser.text("#h2-conns")) == want
        browser.wait("document.querySelectorAll('#routes-body tr[data-route]').length >= 1", 8.0,
                     "no route rows")
        browser.wait("(() => { const t = document.getElementById('p99').textContent;"
                     " return t !== '–' && parseFloat(t) > 0; })()", 8.0, "no p99 shown")
        assert browser.text("#hist-total") not in (None, "", "0 req")

        # a server goes down: the tile says so, unmistakably
        addr = target.take_down()
        sel = '[data-server="%s"]' % addr
        browser.wait("(() => { const e = document.querySelector('%s');"
                     " return e && e.dataset.up === 'false'; })()" % sel, 8.0,
                     "server %s never shown as down" % addr)
        assert "DOWN" in browser.eval("document.querySelector('%s').innerText" % sel)
        colour = browser.eval("getComputedStyle(document.querySelector('%s .state'))"
                              ".backgroundColor" % sel)
        assert colour == "rgb(239, 68, 68)", colour
        assert "DOWN" in browser.text("#servers-summary")
        for other in target.servers:
            if other != addr:
                assert browser.eval("document.querySelector('[data-server=\"%s\"]')"
                                    ".dataset.up" % other) == "true", other

        # let a few more seconds of history accumulate, then the picture
        time.sleep(5.0)
        name = "dashboard.png" if target.name == "weir" else "dashboard-mock.png"
        _screenshot(browser, tmp_path, name)
    finally:
        load.stop()

    assert load.sent > 0
    assert browser.eval("document.body.dataset.renderErrors") == "0", \
        browser.text("#render-error")
    logs = browser.call("console")
    assert not _problems(logs), json.dumps(logs, indent=1)
    print("dashboard test ran against %s (Chromium %s), %d requests sent, statuses %s"
          % (target.name, browser.version, load.sent, load.statuses))


@pytest.mark.parametrize("kind", ["weir", "mock"])
def test_dashboard_token_passed_to_events(kind, browser, tmp_path):
    """?token=... on the page URL goes on to /events (which wants it)."""
    t = TARGETS[kind](str(tmp_path), token="s3cr.et")
    try:
        status = None
        try:
            _get(t.base + "events", timeout=3.0)
        except urllib.error.HTTPError as e:
            status = e.code
        assert status == 401, "events without the token answered %s" % status
        _go_live(browser, t.base + "?token=s3cr.et")
        logs = browser.call("console")
        assert not _problems(logs), json.dumps(logs, indent=1)
    finally:
        t.close()


ODD_DOCUMENTS = [
    {},
    {"rps": None, "totals": None, "latency_ms": None, "histogram": None, "history": None,
     "routes": None, "groups": None, "reloads": None},
    {"rps": {"1s": "x"}, "totals": {"requests": 0, "status": {}}, "latency_ms": {},
     "histogram": {"bounds_ms": [], "counts": []}, "history": [], "routes": [], "groups": []},
    {"rps": {"1s": 1e12, "10s": -1, "60s": 0.001},
     "totals": {"requests": 2 ** 53, "status": {"5xx": 2 ** 52}, "bytes_out": 2 ** 62},
     "latency_ms": {"p50": 0, "p99": 123456.7, "window_s": 10},
     "histogram": {"bounds_ms": [1, 10], "counts": [0, 0, 5, 7]},
     "history": [{"t": 1, "rps": 5}, None, {"t": 3, "rps": None, "p50": None}, "junk",
                 {"t": 1000, "rps": 1, "p99": 5, "err": 1}],
     "routes": [None, {"route": None}, {"route": "<b>x</b>", "rps": "fast", "requests": None}],
     "groups": [None, {"name": "<script>", "breaker": {"state": None}, "concurrency": {},
                       "servers": [None, {"address": None, "up": "yes", "pool": None}]},
                {"name": "g", "breaker": "weird", "concurrency": None,
                 "servers": [{"address": "10.0.0.1:80", "up": False, "breaker": "open",
                              "backup": True}]}]},
]


def test_dashboard_reconnects_and_tolerates_odd_documents(browser, tmp_path):
    """Mock only: breaker states and nulls render; the indicator shows a lost stream and
    goes live again when the server is back on the same port."""
    t = MockTarget(str(tmp_path))
    try:
        _go_live(browser, t.base)
        t.set_breaker("open")
        browser.wait("!!document.querySelector('[data-group=\"api\"] [data-breaker=\"open\"]')",
                     6.0, "open breaker not shown")
        t.set_breaker("half_open")
        browser.wait("!!document.querySelector('[data-group=\"api\"] "
                     "[data-breaker=\"half_open\"]')", 6.0, "half-open breaker not shown")
        t.set_breaker("null")
        browser.wait("document.querySelector('[data-group=\"api\"] .ghead .badge')"
                     ".textContent === 'no breaker'", 6.0, "null breaker not shown")
        # the static group has no breaker and no concurrency limit
        assert "unlimited" in browser.eval(
            "document.querySelector('[data-group=\"static\"]').innerText")
        assert browser.eval("document.body.dataset.renderErrors") == "0"

        # documents with holes, nulls and wrong types render without an error
        for doc in ODD_DOCUMENTS:
            got = browser.eval("(() => { window.weirDashboardRender(%s); return ["
                               "document.body.dataset.renderErrors,"
                               " document.getElementById('render-error').textContent]; })()"
                               % json.dumps(doc))
            assert got == ["0", ""], (doc, got)
        down = browser.eval("(() => { window.weirDashboardRender(%s); return "
                            "document.querySelector('[data-server=\"10.0.0.1:80\"]')"
                            ".dataset.up; })()" % json.dumps(ODD_DOCUMENTS[-1]))
        assert down == "false"
        assert not _problems(browser.call("console"))

        port = t.admin_port
        t.stop_server()
        browser.wait("document.getElementById('conn-state').dataset.state !== 'live'", 10.0,
                     "indicator stayed live with the server gone")
        t.proc = subprocess.Popen([sys.executable, MOCK, "--port", str(port)],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=t._err)
        it.wait_port(port, t.proc, 15.0, what="mock_admin", log=t.stderr_path)
        browser.wait("document.getElementById('conn-state').dataset.state === 'live'", 20.0,
                     "did not go live again")
        # a failed reconnect attempt may log a network error; the page's own code must not
        logs = browser.call("console")
        assert not [m for m in logs if m.get("type") == "pageerror"], logs
        assert browser.eval("document.body.dataset.renderErrors") == "0"
    finally:
        t.close()
