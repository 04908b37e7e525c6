"""SIGHUP reloads the config file: a good config applies without dropping in-flight requests or
idle keep-alive connections; a broken one is logged and the old config keeps serving."""

import signal
import threading
import time
from types import SimpleNamespace

import pytest

from conftest import Client, free_port, make_config

BROKEN = "workers: 2\nlisten: [127.0.0.1:1\nroutes: {{{\n"


def cfg(port, a, b, new_route=False, **kw):
    routes = [{"path": "/", "upstream": "ua"}]
    if new_route:
        routes.insert(0, {"path": "/new/", "upstream": "ub"})
    return make_config(port, {"ua": [a.port], "ub": [b.port]}, routes, **kw)


@pytest.fixture
def env(launcher):
    a = launcher.backend("a")
    b = launcher.backend("b")
    port = free_port()
    w = launcher.weir(cfg(port, a, b), port=port)
    return SimpleNamespace(weir=w, port=port, a=a, b=b, cfg=lambda **kw: cfg(port, a, b, **kw))


def wait_stderr(w, needle_fn, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = w.stderr_text()
        if needle_fn(text):
            return text
        time.sleep(0.05)
    return None


def wait_route(port, path, want_name, timeout=5.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        with Client(port) as c:
            last = c.get(path)
            if last.status == 200 and last.json()["name"] == want_name:
                return last
        time.sleep(0.05)
    raise AssertionError("route %s did not reach %s after reload: %r" % (path, want_name, last))


def test_reload_adds_route_and_keeps_idle_connection(env):
    idle = Client(env.port)
    assert idle.get("/new/x").json()["name"] == "a"
    env.weir.reload(env.cfg(new_route=True))
    wait_route(env.port, "/new/x", "b")
    # the idle keep-alive connection opened before the reload still works
    r = idle.get("/new/y")
    assert r.status == 200
    assert r.json()["name"] in ("a", "b")
    assert idle.get("/other").json()["name"] == "a"
    idle.close()
    assert env.weir.alive()


def test_reload_with_broken_config_keeps_serving(env):
    idle = Client(env.port)
    assert idle.get("/x").status == 200
    errors_before = env.weir.stderr_text().count("[error]")
    env.weir.reload(BROKEN)
    text = wait_stderr(env.weir, lambda t: t.count("[error]") > errors_before)
    assert text is not None, "no error logged for a broken config:\n" + env.weir.stderr_text()
    # the error names the file (file:line:col: message)
    assert env.weir.config_path in text, text[-2000:]
    assert env.weir.alive()
    assert idle.get("/still").status == 200
    with Client(env.port) as c:
        assert c.get("/new/x").json()["name"] == "a"
    idle.close()
    # and a good config after the broken one applies
    env.weir.reload(env.cfg(new_route=True))
    wait_route(env.port, "/new/x", "b")


def test_reload_does_not_drop_inflight_request(env):
    results = []

    def slow():
        with Client(env.port, timeout=10) as c:
            results.append(c.get("/slow?ms=1500"))

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.3)
    env.weir.reload(env.cfg(new_route=True))
    t.join(10)
    assert results and results[0].status == 200, results
    assert results[0].json()["slept_ms"] == 1500


class Load:
    """`conns` keep-alive connections, each a thread pacing requests to reach `rate` req/s."""

    def __init__(self, port, conns=8, rate=200):
        self.port = port
        self.interval = conns / float(rate)
        self.stop_ev = threading.Event()
        self.ok = 0
        self.failures = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True)
                        for i in range(conns)]
        for t in self.threads:
            t.start()

    def run(self, i):
        try:
            c = Client(self.port, timeout=10)
        except OSError as e:
            with self.lock:
                self.failures.append((i, "connect", repr(e)))
            return
        n = 0
        nxt = time.monotonic()
        try:
            while not self.stop_ev.is_set():
                n += 1
                try:
                    r = c.get("/load/%d/%d" % (i, n))
                    good = r.status == 200 and r.json()["path"] == "/load/%d/%d" % (i, n)
                except Exception as e:
                    with self.lock:
                        self.failures.append((i, n, repr(e)))
                    return
                with self.lock:
                    if good:
                        self.ok += 1
                    else:
                        self.failures.append((i, n, r.status))
                nxt += self.interval
                delay = nxt - time.monotonic()
                if delay > 0:
                    self.stop_ev.wait(delay)
        finally:
            c.close()

    def finish(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join(15)


def test_reload_under_load_zero_failures(env):
    load = Load(env.port, conns=8, rate=200)
    try:
        time.sleep(0.5)
        plan = [env.cfg(new_route=True), env.cfg(), BROKEN, env.cfg(new_route=True),
                env.cfg(new_route=True, level="debug")]
        for c in plan:
            env.weir.reload(c)
            time.sleep(0.7)
        time.sleep(0.5)
    finally:
        load.finish()
    assert env.weir.alive()
    assert not load.failures, "%d failed requests during reloads (%d ok): %r" % (
        len(load.failures), load.ok, load.failures[:10])
    assert load.ok > 200 * 3, "load too low to mean anything: %d" % load.ok
    wait_route(env.port, "/new/x", "b")
    assert "[error]" in env.weir.stderr_text()


def test_reload_while_new_connections_arrive(env):
    """Reloads race with accepts: every new connection must still be served."""
    stop = threading.Event()
    failures, ok = [], [0]

    def connector():
        n = 0
        while not stop.is_set():
            n += 1
            try:
                with Client(env.port, timeout=5) as c:
                    r = c.get("/conn/%d" % n, headers={"Connection": "close"})
                    if r.status == 200:
                        ok[0] += 1
                    else:
                        failures.append((n, r.status))
            except Exception as e:
                failures.append((n, repr(e)))

    threads = [threading.Thread(target=connector, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for i in range(10):
            time.sleep(0.15)
            env.weir.reload(env.cfg(new_route=bool(i % 2)))
        time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    assert env.weir.alive(), "weir died during reloads:\n" + env.weir.stderr_text()[-3000:]
    assert not failures, "%d failures (%d ok): %r" % (len(failures), ok[0], failures[:5])
    assert ok[0] > 50


def test_reload_then_sigterm_exits_clean(env):
    env.weir.reload(env.cfg(new_route=True))
    wait_route(env.port, "/new/x", "b")
    assert env.weir.stop(signal.SIGTERM) == 0
