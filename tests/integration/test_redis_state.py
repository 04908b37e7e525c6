"""Scale-out (issue 15): several weir instances share state through one Redis.

Each test starts its own redis-server (Debian's, from scripts/install-deps.sh) on 127.0.0.1 and
a free port, without persistence, and stops it by PID. Three weir instances (or two) point at
it; the tests check that they behave as one: a global rate limit, idempotency records replayed
by any instance, cache purges broadcast, and that a dead or stopped Redis never makes a request
wait past the command timeout (the instances fall back, count it, and recover)."""

import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.parse

import pytest

from conftest import Client, free_port, make_config, wait_port
from faults import backend_name
from resilience_util import faults, group, metric, route, scrape  # noqa: F401

REDIS = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(REDIS is None, reason="redis-server is not installed")


class Redis:
    def __init__(self, workdir, port=None, args=()):
        """args: more redis-server options (--replicaof host port, ...)."""
        self.port = port or free_port()
        self.workdir = workdir
        self.args = list(args)
        self.start()

    def start(self):
        self.log = open(os.path.join(self.workdir, "redis-%d.log" % self.port), "ab")
        self.proc = subprocess.Popen(
            [REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"] + self.args,
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, cwd=self.workdir)
        wait_port(self.port, self.proc, 10.0, what="redis-server")

    def cmd(self, *args):
        """One command over a fresh connection (RESP), the reply's text."""
        with Client(self.port, timeout=5) as c:
            c.send(b"".join([b"*%d\r\n" % len(args)] +
                            [b"$%d\r\n%s\r\n" % (len(a.encode()), a.encode()) for a in args]))
            data = b""
            c.sock.settimeout(5)
            while not data.endswith(b"\r\n") or data.startswith(b"$") and data.count(b"\r\n") < 2:
                chunk = c.sock.recv(65536)
                if not chunk:
                    break
                data += chunk
            return data.decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


@pytest.fixture
def redis(tmp_path):
    r = Redis(str(tmp_path))
    yield r
    r.stop()


def state(redis, **extra):
    s = {"backend": "redis", "address": "127.0.0.1:%d" % redis.port,
         "reconnect_min": "50ms", "reconnect_max": "500ms"}
    s.update(extra)
    return s


def instances(launcher, redis, upstreams, routes, n=3, workers=2, state_extra=None):
    """n weir processes sharing redis; each has its own admin port (w.aport)."""
    out = []
    for _ in range(n):
        aport = free_port()
        cfg = make_config(None, upstreams, routes, workers=workers,
                          extra={"state": state(redis, **(state_extra or {})),
                                 "admin": {"listen": "127.0.0.1:%d" % aport}})
        w = launcher.weir(cfg)
        wait_port(aport, w.proc, 10, what="weir admin")
        w.aport = aport
        out.append(w)
    wait_store_ready(out)
    return out


def status(w):
    with Client(w.aport) as c:
        return c.get("/status").json()


def wait_store_ready(ws, timeout=10.0):
    deadline = time.time() + timeout
    for w in ws:
        while True:
            st = status(w)["store"]
            if st["healthy"] and st["ready"] > 0:
                break
            assert time.time() < deadline, st
            time.sleep(0.05)


def hammer(port, path, seconds, headers=None, out=None):
    """Requests back to back on one keep-alive connection: [(status, latency_s)]."""
    res = out if out is not None else []
    end = time.monotonic() + seconds
    c = Client(port, timeout=10)
    try:
        while time.monotonic() < end:
            t0 = time.monotonic()
            r = c.get(path, headers=headers)
            res.append((r.status, time.monotonic() - t0))
            if r.header("connection") == "close":
                c.close()
                c = Client(port, timeout=10)
    finally:
        c.close()
    return res


# ---- rate limit -------------------------------------------------------------------------------

def test_global_rate_limit_across_three_instances(launcher, redis):
    b = launcher.backend("a")
    rate, burst, seconds = 60, 5, 4.0
    ws = instances(launcher, redis, {"g": [b.port]},
                   [{"path": "/", "upstream": "g",
                     "rate_limit": {"rate": rate, "per": "1s", "burst": burst, "key": "route"}}])
    results = [[] for _ in ws]
    t0 = time.monotonic()
    threads = [threading.Thread(target=hammer, args=(w.port, "/", seconds, None, results[i]))
               for i, w in enumerate(ws)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    ok = [sum(1 for s, _ in r if s == 200) for r in results]
    limited = sum(sum(1 for s, _ in r if s == 429) for r in results)
    expected = rate * elapsed + burst + 1
    # One global limit: the three instances together, not three times the rate.
    assert abs(sum(ok) - expected) <= 0.05 * expected, (ok, expected, elapsed)
    assert all(n > 0 for n in ok), ok          # every instance got its share through
    assert limited > sum(ok), (limited, ok)    # and they were really pushing past it
    for w in ws:
        samples = scrape(w.aport)
        assert metric(samples, "weir_store_fallbacks_total", feature="rate_limit") == 0
        assert metric(samples, "weir_store_commands_total") > 0


# ---- idempotency ------------------------------------------------------------------------------

def test_idempotency_key_replayed_by_other_instances(launcher, redis):
    b = launcher.backend("a")
    ws = instances(launcher, redis, {"g": [b.port]},
                   [{"path": "/", "upstream": "g", "idempotency": {"ttl": "60s"}}])
    hdrs = {"Idempotency-Key": "order-42", "Content-Type": "text/plain"}
    with Client(ws[0].port) as c:
        first = c.request("POST", "/pay", headers=hdrs, body=b"amount=10")
    assert first.status == 200 and not first.has("idempotent-replayed"), first
    time.sleep(0.1)  # the record is completed right after the response went out
    for w in ws[1:]:
        with Client(w.port) as c:
            r = c.request("POST", "/pay", headers=hdrs, body=b"amount=10")
        assert r.status == 200 and r.header("idempotent-replayed") == "true", r
        assert r.body == first.body
    # the same key with another body is refused everywhere
    with Client(ws[2].port) as c:
        r = c.request("POST", "/pay", headers=hdrs, body=b"amount=99")
    assert r.status == 422, r
    assert b.stats()["paths"].get("/pay") == 1


def test_repeat_on_another_instance_waits_for_the_first(launcher, redis):
    """While the first request runs on A, a repeat through B waits (polling the record) and
    gets the stored response once A is done, rather than a second run or a 409."""
    b = launcher.backend("a")
    ws = instances(launcher, redis, {"g": [b.port]},
                   [{"path": "/", "upstream": "g", "idempotency": {"ttl": "60s", "wait": "5s"}}],
                   n=2)
    hdrs = {"Idempotency-Key": "slow-1", "Content-Type": "text/plain"}
    out = {}

    def first():
        with Client(ws[0].port) as c:
            out["a"] = c.request("POST", "/slow?ms=800", headers=hdrs, body=b"x")

    t = threading.Thread(target=first)
    t.start()
    time.sleep(0.3)
    with Client(ws[1].port) as c:
        r = c.request("POST", "/slow?ms=800", headers=hdrs, body=b"x")
    t.join()
    assert out["a"].status == 200 and not out["a"].has("idempotent-replayed")
    assert r.status == 200 and r.header("idempotent-replayed") == "true", r
    assert b.stats()["paths"].get("/slow") == 1


# ---- purge broadcast --------------------------------------------------------------------------

def test_purge_on_one_instance_clears_the_others(launcher, redis):
    b = launcher.backend("a")
    ws = instances(launcher, redis, {"g": [b.port]},
                   [{"path": "/", "upstream": "g", "cache": "on"}], n=2)
    path = "/c/text?n=10&cc=" + urllib.parse.quote("max-age=600")
    hdrs = {"Host": "shop.test"}

    def xcache(w):
        with Client(w.port) as c:
            r = c.get(path, headers=hdrs)
        assert r.status == 200, r
        time.sleep(0.05)
        return r.header("x-cache")

    for w in ws:
        xcache(w)
        assert xcache(w) == "HIT"
    with Client(ws[0].aport) as c:
        r = c.request("POST", "/cache/purge?prefix=" + urllib.parse.quote("http://shop.test/c/"))
    assert r.status == 200 and r.json()["broadcast"] is True, r
    deadline = time.time() + 5
    while True:
        samples = scrape(ws[1].aport)
        if (metric(samples, "weir_store_events_received_total") or 0) >= 1:
            break
        assert time.time() < deadline, "the purge never reached the second instance"
        time.sleep(0.05)
    assert xcache(ws[1]) != "HIT"
    assert xcache(ws[0]) != "HIT"


# ---- circuit breaker events ------------------------------------------------------------------

def test_breaker_opened_on_one_instance_opens_the_other(launcher, redis, faults):
    a = faults.start("a")
    a.fault("status", status=503)
    ups = {"g": group([a], retry="off",
                      breaker={"window": "count", "size": 10, "min_calls": 5,
                               "failure_rate": "50%", "open": "3s", "half_open_calls": 1})}
    ws = instances(launcher, redis, ups, [route("g")], n=2)
    with Client(ws[0].port) as c:
        for _ in range(30):
            r = c.get("/")
            if r.status == 503 and not r.header("x-backend"):
                break
        else:
            raise AssertionError("the breaker of instance A never opened")
    # B never sent a failing call, yet it fails fast: A's discovery protects it
    deadline = time.time() + 3
    while True:
        samples = scrape(ws[1].aport)
        if metric(samples, "weir_group_breaker_state", group="g", state="open") == 1:
            break
        assert time.time() < deadline, "B's breaker did not open"
        time.sleep(0.05)
    n = a.requests()
    with Client(ws[1].port) as c:
        r = c.get("/")
    assert r.status == 503 and not r.header("x-backend"), r
    assert a.requests() == n
    assert "opened by another instance" in ws[1].stderr_text()


# ---- failures ---------------------------------------------------------------------------------

TIMEOUT_MS = 50
# What a request may take beyond the command timeout on a busy, sanitized build: the
# fallback's own work and the scheduling of three processes on two shared cores.
SLACK_S = 0.25


def _failure_setup(launcher, redis):
    b = launcher.backend("a")
    return instances(launcher, redis, {"g": [b.port]},
                     [{"path": "/", "upstream": "g",
                       "rate_limit": {"rate": 100000, "per": "1s", "burst": 1000}}],
                     n=2, state_extra={"command_timeout": "%dms" % TIMEOUT_MS})


def _fallbacks(w):
    return metric(scrape(w.aport), "weir_store_fallbacks_total", feature="rate_limit")


def test_redis_sigstop_no_request_waits_past_the_timeout(launcher, redis):
    ws = _failure_setup(launcher, redis)
    results = [[] for _ in ws]
    threads = [threading.Thread(target=hammer, args=(w.port, "/", 4.0, None, results[i]))
               for i, w in enumerate(ws)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    os.kill(redis.proc.pid, signal.SIGSTOP)
    time.sleep(2.0)
    os.kill(redis.proc.pid, signal.SIGCONT)
    for t in threads:
        t.join()
    lat = [l for r in results for _, l in r]
    codes = {}
    for r in results:
        for s, _ in r:
            codes[s] = codes.get(s, 0) + 1
    assert set(codes) == {200}, codes  # local fallback: under its limit
    assert max(lat) < TIMEOUT_MS / 1000 + SLACK_S, max(lat)
    assert all(_fallbacks(w) > 0 for w in ws)
    # recovery: the store answers again and the fallbacks stop growing
    wait_store_ready(ws)
    before = [_fallbacks(w) for w in ws]
    cmds = [metric(scrape(w.aport), "weir_store_commands_total") for w in ws]
    for w in ws:
        hammer(w.port, "/", 0.5)
    assert [_fallbacks(w) for w in ws] == before
    assert all(metric(scrape(w.aport), "weir_store_commands_total") > c for w, c in zip(ws, cmds))
    for w in ws:
        assert w.stderr_text().count("deciding 'local'") <= 2  # logged once per outage


def test_redis_killed_then_back(launcher, redis):
    ws = _failure_setup(launcher, redis)
    results = []
    t = threading.Thread(target=hammer, args=(ws[0].port, "/", 3.0, None, results))
    t.start()
    time.sleep(0.7)
    redis.proc.kill()
    redis.proc.wait(5)
    time.sleep(1.0)
    redis.log.close()
    redis.start()  # same port
    t.join()
    assert results and all(s == 200 for s, _ in results)
    assert max(l for _, l in results) < TIMEOUT_MS / 1000 + SLACK_S
    assert _fallbacks(ws[0]) > 0
    wait_store_ready(ws)
    samples = scrape(ws[0].aport)
    assert metric(samples, "weir_store_reconnects_total") >= 1
    before = _fallbacks(ws[0])
    hammer(ws[0].port, "/", 0.5)
    assert _fallbacks(ws[0]) == before
    assert "cmdstat_evalsha" in redis.cmd("INFO", "commandstats")  # the new Redis answers


def test_policy_closed_refuses_without_the_store(launcher, tmp_path):
    # No Redis at all on this port: every decision falls back at once (nothing to wait for).
    b = launcher.backend("a")
    cfg = make_config(None, {"g": [b.port]},
                      [{"path": "/", "upstream": "g", "rate_limit": {"rate": 100, "per": "1s"}}],
                      extra={"state": {"backend": "redis", "address": "127.0.0.1:%d" % free_port(),
                                       "on_store_error": {"rate_limit": "closed"}}})
    w = launcher.weir(cfg)
    t0 = time.monotonic()
    with Client(w.port) as c:
        r = c.get("/")
    assert r.status == 503 and time.monotonic() - t0 < 1.0, r


# ---- sticky sessions: nothing stored ----------------------------------------------------------

def test_sticky_cookie_routes_alike_on_two_instances(launcher):
    bks = [launcher.backend(n) for n in ("a", "b", "c")]
    ups = {"g": {"sticky_cookie": "weir_srv", "servers": [b.port for b in bks],
                 "health": {"passive": "off"}}}
    routes = [{"path": "/", "upstream": "g"}]
    w1 = launcher.weir(make_config(None, ups, routes))
    w2 = launcher.weir(make_config(None, ups, routes))
    for _ in range(3):
        with Client(w1.port) as c:
            r = c.get("/")
        cookie = r.header("set-cookie").split(";")[0]
        name = backend_name(r)
        for w in (w1, w2, w2):
            with Client(w.port) as c:
                r2 = c.get("/", headers={"Cookie": cookie})
            assert r2.status == 200 and backend_name(r2) == name, (cookie, name, r2)


# ---- zero-downtime upgrade --------------------------------------------------------------------

def _wait_log(w, text, timeout=10.0):
    deadline = time.time() + timeout
    while text not in w.stderr_text():
        assert w.alive() and time.time() < deadline, w.stderr_text()[-2000:]
        time.sleep(0.02)


def test_second_process_takes_over_the_port_without_failures(launcher):
    """A new weir binds the same port next to the old (SO_REUSEPORT), the old drains on
    SIGTERM: a client loop over fresh connections sees no failure at all."""
    b = launcher.backend("a")
    port, aport = free_port(), free_port()
    cfg = make_config(port, {"g": [b.port]}, [{"path": "/", "upstream": "g"}],
                      extra={"admin": {"listen": "127.0.0.1:%d" % aport}})
    old = launcher.weir(cfg, port=port)
    stop = threading.Event()
    counts = {"ok": 0, "failed": 0}
    errors = []

    def loop():
        while not stop.is_set():
            try:
                with Client(port, timeout=5) as c:
                    r = c.get("/", headers={"Connection": "close"})
                if r.status == 200:
                    counts["ok"] += 1
                else:
                    counts["failed"] += 1
                    errors.append(r.status)
            except Exception as e:  # noqa: BLE001 — any failure counts
                counts["failed"] += 1
                errors.append(repr(e))

    threads = [threading.Thread(target=loop) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        new = launcher.weir(cfg, port=port, wait=False)  # the same file: same port, same admin
        _wait_log(new, "listening on 127.0.0.1:%d" % port)
        time.sleep(0.3)
        before = counts["ok"]
        old.stop(signal.SIGTERM, timeout=20)
        time.sleep(0.5)
        assert counts["ok"] > before  # the new one serves
        _wait_log(new, "admin listening on")  # and took the admin port once it was free
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert counts["failed"] == 0, (counts, errors[:5])
    assert counts["ok"] > 50, counts
