"""Failover: a backend killed under load (its share moves to the others, no client error, no
reset, nobody waits past the timeout), backup servers taking over when every primary is down,
503 at once when everything is down, and slow start when a server comes back."""

import signal
import threading
import time

import pytest

from conftest import Client, free_port
from faults import (CtlServer, backend_name, count_names, down_lines, group_config, server,
                    up_lines, wait_for)


class Load:
    """`n` threads sending GETs on keep-alive connections until stop(); records every outcome
    as (t_start, latency, status or exception repr, backend name). pause() waits until no
    request is in flight and holds new ones until resume()."""

    def __init__(self, port, n=3, host=None, gap=0.005):
        self.port, self.host, self.gap = port, host, gap
        self.results = []
        self._stop = threading.Event()
        self._gate = threading.Condition()
        self._inflight = 0
        self._paused = False
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(n)]
        for t in self.threads:
            t.start()

    def _run(self):
        c = Client(self.port, timeout=10)
        try:
            while not self._stop.is_set():
                with self._gate:
                    while self._paused:
                        self._gate.wait()
                    self._inflight += 1
                t0 = time.monotonic()
                try:
                    r = c.get("/", headers={"Host": self.host} if self.host else None)
                    out = (t0, time.monotonic() - t0, r.status, backend_name(r), r)
                except Exception as e:  # Closed, reset, timeout: all count as errors
                    out = (t0, time.monotonic() - t0, repr(e), None, None)
                    c.close()
                    c = Client(self.port, timeout=10)
                finally:
                    with self._gate:
                        self._inflight -= 1
                        self._gate.notify_all()
                with self._lock:
                    self.results.append(out)
                time.sleep(self.gap)
        finally:
            c.close()

    def pause(self):
        with self._gate:
            self._paused = True
            while self._inflight:
                self._gate.wait()

    def resume(self):
        with self._gate:
            self._paused = False
            self._gate.notify_all()

    def stop(self):
        self._stop.set()
        self.resume()
        for t in self.threads:
            t.join(15)
        return list(self.results)


def test_backend_killed_under_load(launcher):
    bks = {n: launcher.backend(n) for n in ("a", "b", "c")}
    ups = {"g": {"servers": [b.port for b in bks.values()],
                 "timeouts": {"connect": "1s", "response": "2s"}}}
    w = launcher.weir(group_config(ups, [{"path": "/", "upstream": "g"}], workers=2))
    load = Load(w.port, n=3)
    try:
        time.sleep(1.0)
        # kill b at a moment no request is in flight (see the second kill for that case)
        load.pause()
        t_kill = time.monotonic()
        bks["b"].proc.send_signal(signal.SIGKILL)
        bks["b"].proc.wait(5)
        load.resume()
        time.sleep(1.2)
        # now kill c with requests in flight: those may get a 502, never a reset or a hang
        t_kill2 = time.monotonic()
        bks["c"].proc.send_signal(signal.SIGKILL)
        bks["c"].proc.wait(5)
        time.sleep(0.8)
    finally:
        res = load.stop()
    first = [x for x in res if x[0] < t_kill2 - 0.05]
    errs = [x[:4] for x in first if x[2] != 200]
    assert not errs, errs[:5]
    before = count_names(x[3] for x in first if x[0] < t_kill)
    after = count_names(x[3] for x in first if x[0] > t_kill)
    assert sorted(before) == ["a", "b", "c"] and min(before.values()) > 20, before
    assert sorted(after) == ["a", "c"], after  # b's share moved to the others
    assert abs(after["a"] - after["c"]) <= max(10, 0.2 * (after["a"] + after["c"])), after
    assert max(x[1] for x in res) < 1.0, "a client waited %.2fs" % max(x[1] for x in res)
    # passive checks took b out (5 refused connects), logged once
    assert len(down_lines(w, "g", bks["b"].addr)) == 1, w.stderr_text()

    second = [x for x in res if x[0] >= t_kill2 - 0.05]
    bad = [x[:4] for x in second if x[2] != 200]
    assert all(x[2] == 502 for x in bad), bad  # no reset, no timeout
    assert len(bad) <= 3, bad  # at most the requests in flight at the kill
    late = [x for x in second if x[0] > t_kill2 + 0.2]
    assert late and all(x[2] == 200 and x[3] == "a" for x in late), [x[:4] for x in late][:5]


def test_backup_serves_when_every_primary_is_down(launcher):
    a, b, bk = CtlServer("a"), CtlServer("b"), CtlServer("backup")
    try:
        ups = {"g": {"servers": [a.port, b.port, server(bk.port, backup=True)],
                     "health": {"active": {"interval": "200ms", "timeout": "150ms",
                                           "path": "/health", "rise": 1, "fall": 1},
                                "passive": "off"}}}
        w = launcher.weir(group_config(ups, [{"path": "/", "upstream": "g"}], workers=2))

        def names(n=12):
            with Client(w.port) as c:
                out = []
                for _ in range(n):
                    r = c.get("/")
                    out.append((r.status, backend_name(r) if r.status == 200 else None))
                return count_names(out)

        assert names() == {(200, "a"): 6, (200, "b"): 6}
        a.health = 500
        assert wait_for(lambda: down_lines(w, "g", a.addr), 2)
        assert names() == {(200, "b"): 12}
        b.health = 500
        assert wait_for(lambda: down_lines(w, "g", b.addr), 2)
        assert names() == {(200, "backup"): 12}

        # everything down: 503 at once, with Retry-After
        bk.health = 500
        assert wait_for(lambda: down_lines(w, "g", bk.addr), 2)
        with Client(w.port) as c:
            c.get("/")  # warm the connection
            took = []
            for _ in range(10):
                t0 = time.monotonic()
                r = c.get("/")
                took.append(time.monotonic() - t0)
                assert r.status == 503, r
                assert r.header("retry-after") == "1", r
                assert "request id" in r.text(), r
        assert max(took) < 0.05, took

        # a primary returns: it takes everything again, the backup none
        a.health = 200
        assert wait_for(lambda: up_lines(w, "g", a.addr), 2)
        assert names() == {(200, "a"): 12}
        bk.health = 200
        assert wait_for(lambda: up_lines(w, "g", bk.addr), 2)
        assert names() == {(200, "a"): 12}
    finally:
        for s in (a, b, bk):
            s.stop()


def test_all_down_by_passive_checks_is_503_at_once(launcher):
    dead1, dead2 = free_port(), free_port()
    ups = {"g": {"servers": [dead1, dead2],
                 "health": {"passive": {"failures": 1, "cooldown": "30s"}}}}
    w = launcher.weir(group_config(ups, [{"path": "/", "upstream": "g"}], workers=1))
    with Client(w.port) as c:
        r = c.get("/")
        assert r.status == 502, r  # both refused (the second try was the other server)
        took = []
        for _ in range(10):
            t0 = time.monotonic()
            r = c.get("/")
            took.append(time.monotonic() - t0)
            assert r.status == 503 and r.header("retry-after") == "1", r
    assert max(took) < 0.05, took
    assert len(down_lines(w, "g", "127.0.0.1:%d" % dead1)) == 1
    assert len(down_lines(w, "g", "127.0.0.1:%d" % dead2)) == 1


def test_slow_start_ramps_a_returning_server(launcher):
    a, b = CtlServer("a"), CtlServer("b")
    try:
        ups = {"g": {"balance": "weighted", "slow_start": "3s",
                     "servers": [server(a.port, weight=100), server(b.port, weight=100)],
                     "health": {"active": {"interval": "200ms", "timeout": "150ms",
                                           "path": "/health", "rise": 1, "fall": 1},
                                "passive": "off"}}}
        w = launcher.weir(group_config(ups, [{"path": "/", "upstream": "g"}], workers=1))
        a.health = 500
        assert wait_for(lambda: down_lines(w, "g", a.addr), 2)
        a.health = 200
        assert wait_for(lambda: up_lines(w, "g", a.addr), 2, step=0.005)
        t_up = time.monotonic()
        samples = []
        with Client(w.port) as c:
            while time.monotonic() - t_up < 3.6:
                r = c.get("/")
                assert r.status == 200, r
                samples.append((time.monotonic() - t_up, backend_name(r)))
                time.sleep(0.002)

        def share(lo, hi):
            xs = [nm for t, nm in samples if lo <= t < hi]
            assert len(xs) >= 30, (lo, hi, len(xs))
            return sum(1 for nm in xs if nm == "a") / len(xs)

        early, late = share(0.0, 1.0), share(3.2, 3.6)
        # linear ramp over 3 s: ~12 % of the traffic in the first second, ~50 % after
        assert early < 0.3, (early, late)
        assert late > 0.4, (early, late)
        assert late - early > 0.15, (early, late)
        assert early > 0.0, "a got nothing in its first second back"
    finally:
        a.stop()
        b.stop()


@pytest.mark.parametrize("balance", ["round_robin", "weighted"])
def test_slow_start_with_default_weights(launcher, balance):
    """The same ramp with every server at the default weight 1 (and, for round_robin, the
    default strategy): docs/config.md promises the ramp for every strategy but hash."""
    a, b = CtlServer("a"), CtlServer("b")
    try:
        ups = {"g": {"balance": balance, "slow_start": "2s", "servers": [a.port, b.port],
                     "health": {"active": {"interval": "200ms", "timeout": "150ms",
                                           "path": "/health", "rise": 1, "fall": 1},
                                "passive": "off"}}}
        w = launcher.weir(group_config(ups, [{"path": "/", "upstream": "g"}], workers=1))
        a.health = 500
        assert wait_for(lambda: down_lines(w, "g", a.addr), 2)
        a.health = 200
        assert wait_for(lambda: up_lines(w, "g", a.addr), 2, step=0.005)
        t_up = time.monotonic()
        samples = []
        with Client(w.port) as c:
            while time.monotonic() - t_up < 2.5:
                r = c.get("/")
                assert r.status == 200, r
                samples.append((time.monotonic() - t_up, backend_name(r)))
                time.sleep(0.002)
        early = [nm for t, nm in samples if t < 0.6]
        late = [nm for t, nm in samples if 2.1 <= t]
        se = early.count("a") / len(early)
        sl = late.count("a") / len(late)
        assert se < 0.35 and sl > 0.4, "a's share: %.2f in its first 0.6 s, %.2f after 2.1 s" % (
            se, sl)
    finally:
        a.stop()
        b.stop()


def test_connect_retries_are_bounded_at_three_servers(launcher):
    """Four refusing servers and one good one, round robin, passive checks off: a request
    tries at most three servers; the client sees 200 or a quick 502, nothing else."""
    good = CtlServer("good")
    dead = [free_port() for _ in range(4)]
    try:
        ups = {"g": {"servers": dead + [good.port], "health": {"passive": "off"}}}
        w = launcher.weir(group_config(ups, [{"path": "/", "upstream": "g"}], workers=1))
        out = []
        with Client(w.port) as c:
            for _ in range(10):
                t0 = time.monotonic()
                r = c.get("/")
                out.append(r.status)
                assert time.monotonic() - t0 < 0.5
                if r.status == 502:
                    assert "refused" in r.text(), r
        assert set(out) == {200, 502}, out
        assert good.requests == out.count(200)
    finally:
        good.stop()
