"""Health checks: active probes (one per interval per server whatever the number of workers,
fall/rise counts, transitions logged once) and passive checks (failures, on_5xx, cool-off,
trial request)."""

import time

from conftest import Client, free_port
from faults import (CtlServer, backend_name, count_names, down_lines, group_config, log_lines,
                    up_lines, wait_for)


def names_over(port, n, conns=2, host=None):
    clients = [Client(port) for _ in range(conns)]
    out = []
    try:
        for i in range(n):
            r = clients[i % conns].get("/", headers={"Host": host} if host else None)
            out.append((r.status, backend_name(r)))
    finally:
        for c in clients:
            c.close()
    return out


def test_active_checks_mark_down_and_up_once(launcher):
    a, b = CtlServer("a"), CtlServer("b")
    try:
        ups = {"g": {"servers": [a.port, b.port],
                     "health": {"active": {"interval": "200ms", "timeout": "150ms",
                                           "path": "/health", "rise": 2, "fall": 2},
                                "passive": "off"}}}
        w = launcher.weir(group_config(ups, [{"path": "/", "upstream": "g"}], workers=2))

        # one probe per interval per server, not one per worker
        time.sleep(0.6)
        t0 = time.monotonic()
        time.sleep(2.0)
        n = a.health_count(since=t0, until=time.monotonic())
        assert 7 <= n <= 13, "expected ~10 checks of a in 2 s at 200 ms, got %d" % n
        n = b.health_count(since=t0, until=time.monotonic())
        assert 7 <= n <= 13, "expected ~10 checks of b in 2 s at 200 ms, got %d" % n

        out = names_over(w.port, 20)
        assert all(s == 200 for s, _ in out), out
        assert count_names(nm for _, nm in out) == {"a": 10, "b": 10}, out

        # a's health fails: down after `fall` checks
        t0 = time.monotonic()
        a.health = 500
        assert wait_for(lambda: down_lines(w, "g", a.addr), 3), w.stderr_text()
        took = time.monotonic() - t0
        assert took < 0.2 * 2 + 0.5, "marked down after %.2fs" % took
        before = a.requests
        out = names_over(w.port, 20)
        assert out == [(200, "b")] * 20, out
        assert a.requests == before

        # recovers: up again within ~interval x rise
        t0 = time.monotonic()
        a.health = 200
        assert wait_for(lambda: up_lines(w, "g", a.addr), 3), w.stderr_text()
        took = time.monotonic() - t0
        assert took < 0.2 * 2 + 0.5, "marked up after %.2fs" % took
        out = names_over(w.port, 20)
        assert count_names(nm for _, nm in out) == {"a": 10, "b": 10}, out

        # each transition logged exactly once, though two workers run
        time.sleep(0.5)
        assert len(down_lines(w, "g", a.addr)) == 1, w.stderr_text()
        assert len(up_lines(w, "g", a.addr)) == 1, w.stderr_text()
        assert not down_lines(w, "g", b.addr) and not up_lines(w, "g", b.addr)
    finally:
        a.stop()
        b.stop()


def test_active_check_expect_and_unanswered_probe(launcher):
    """`expect: 2xx` fails a 302; a server that stops answering fails by the probe timeout."""
    a, b = CtlServer("a"), CtlServer("b")
    try:
        ups = {"g": {"servers": [a.port, b.port],
                     "health": {"active": {"interval": "200ms", "timeout": "100ms",
                                           "path": "/health", "expect": "2xx", "rise": 1,
                                           "fall": 1},
                                "passive": "off"}}}
        w = launcher.weir(group_config(ups, [{"path": "/", "upstream": "g"}]))
        time.sleep(0.5)
        a.health = 302
        assert wait_for(lambda: down_lines(w, "g", a.addr), 2), w.stderr_text()
        a.health = 200
        assert wait_for(lambda: up_lines(w, "g", a.addr), 2), w.stderr_text()
        # b is killed (listener and connections closed): refused probes take it out
        b.stop()
        assert wait_for(lambda: down_lines(w, "g", b.addr), 2), w.stderr_text()
        out = names_over(w.port, 10)
        assert out == [(200, "a")] * 10, out
        b.start()
        assert wait_for(lambda: up_lines(w, "g", b.addr), 2), w.stderr_text()
    finally:
        a.stop()
        b.stop()


def test_passive_on_5xx_takes_a_failing_server_out(launcher):
    good, bad = CtlServer("good"), CtlServer("bad")
    bad.status = 500
    try:
        ups = {"g": {"servers": [good.port, bad.port],
                     "health": {"passive": {"failures": 3, "window": "10s", "cooldown": "1s",
                                            "on_5xx": True}}}}
        w = launcher.weir(group_config(ups, [{"path": "/", "upstream": "g"}], workers=2))
        out = names_over(w.port, 30, conns=2)  # both workers count into the same total
        fails = [x for x in out if x[0] != 200]
        assert fails == [(500, "bad")] * 3, out
        assert bad.requests == 3
        assert wait_for(lambda: down_lines(w, "g", bad.addr), 1)
        assert len(down_lines(w, "g", bad.addr)) == 1, w.stderr_text()

        # after the cool-off: one trial request, a failure takes it down again at once
        time.sleep(1.4)
        out = names_over(w.port, 20, conns=2)
        assert [x for x in out if x[0] != 200] == [(500, "bad")], out
        assert bad.requests == 4
        assert len(down_lines(w, "g", bad.addr)) == 2, w.stderr_text()

        # fixed: after the next cool-off its trial succeeds and it takes its share again
        bad.status = 200
        time.sleep(1.4)
        out = names_over(w.port, 20, conns=2)
        assert all(s == 200 for s, _ in out), out
        assert count_names(nm for _, nm in out).get("bad", 0) >= 8, out
        assert len(up_lines(w, "g", bad.addr)) == 2, w.stderr_text()
    finally:
        good.stop()
        bad.stop()


def test_passive_ignores_5xx_by_default(launcher):
    good, bad = CtlServer("good"), CtlServer("bad")
    bad.status = 500
    try:
        ups = {"g": {"servers": [good.port, bad.port],
                     "health": {"passive": {"failures": 2}}}}
        w = launcher.weir(group_config(ups, [{"path": "/", "upstream": "g"}]))
        out = names_over(w.port, 20, conns=1)
        assert count_names(out) == {(200, "good"): 10, (500, "bad"): 10}, out
        assert not down_lines(w, "g", bad.addr)
    finally:
        good.stop()
        bad.stop()


def test_passive_connect_failures_take_a_server_out(launcher):
    good = CtlServer("good")
    dead = free_port()
    try:
        ups = {"g": {"servers": [good.port, dead],
                     "health": {"passive": {"failures": 2, "window": "10s",
                                            "cooldown": "30s"}}}}
        w = launcher.weir(group_config(ups, [{"path": "/", "upstream": "g"}], workers=2))
        # refused connects are retried on the other server: the client sees no error
        out = names_over(w.port, 20, conns=2)
        assert out == [(200, "good")] * 20, out
        assert wait_for(lambda: down_lines(w, "g", "127.0.0.1:%d" % dead), 1), w.stderr_text()
        assert len(down_lines(w, "g", "127.0.0.1:%d" % dead)) == 1
    finally:
        good.stop()


def test_passive_down_then_active_checks_bring_it_back(launcher):
    """With active checks on, a passive cool-off ends only when checks pass again. (502s are
    retried on the other server by default: the client sees none, but they count.)"""
    good, bad = CtlServer("good"), CtlServer("bad")
    bad.status = 502
    try:
        ups = {"g": {"servers": [good.port, bad.port],
                     "health": {"active": {"interval": "200ms", "timeout": "150ms",
                                           "path": "/health", "rise": 2, "fall": 2},
                                "passive": {"failures": 2, "cooldown": "500ms",
                                            "on_5xx": True}}}}
        w = launcher.weir(group_config(ups, [{"path": "/", "upstream": "g"}]))
        out = names_over(w.port, 10, conns=1)
        assert out == [(200, "good")] * 10, out
        assert bad.requests == 2
        assert wait_for(lambda: down_lines(w, "g", bad.addr), 1)
        t0 = time.monotonic()
        bad.status = 200
        assert wait_for(lambda: up_lines(w, "g", bad.addr), 3), w.stderr_text()
        took = time.monotonic() - t0
        assert 0.4 <= took <= 1.6, "back after %.2fs (cooldown 0.5s, rise 2 x 200ms)" % took
        out = names_over(w.port, 10, conns=1)
        assert count_names(nm for _, nm in out) == {"good": 5, "bad": 5}, out
    finally:
        good.stop()
        bad.stop()


def test_probe_request_method_path_and_host(launcher):
    a, b = CtlServer("a"), CtlServer("b")
    try:
        act = {"interval": "200ms", "timeout": "150ms", "rise": 1, "fall": 1}
        ups = {"named": {"servers": [a.port],
                         "health": {"active": dict(act, method="HEAD", path="/health?deep=1",
                                                   host="api.internal")}},
               "plain": {"servers": [b.port], "health": {"active": dict(act, path="/health")}}}
        launcher.weir(group_config(ups, [{"path": "/", "upstream": "plain"}]))
        assert wait_for(lambda: a.health_heads and b.health_heads, 2)
        method, target, hdrs = a.health_heads[-1]
        assert (method, target, hdrs.get("host")) == ("HEAD", "/health?deep=1", "api.internal")
        method, target, hdrs = b.health_heads[-1]
        assert (method, target, hdrs.get("host")) == ("GET", "/health", b.addr)
    finally:
        a.stop()
        b.stop()


def test_unanswered_probe_fails_by_its_timeout(launcher):
    """A health endpoint that closes without answering, or never answers, fails the probe."""
    a, b = CtlServer("a"), CtlServer("b")
    try:
        ups = {"g": {"servers": [a.port, b.port],
                     "health": {"active": {"interval": "300ms", "timeout": "100ms",
                                           "path": "/health", "rise": 1, "fall": 2},
                                "passive": "off"}}}
        w = launcher.weir(group_config(ups, [{"path": "/", "upstream": "g"}]))
        time.sleep(0.4)
        a.health = None  # closes the connection on a health request
        assert wait_for(lambda: down_lines(w, "g", a.addr), 2), w.stderr_text()
        a.health = 200
        assert wait_for(lambda: up_lines(w, "g", a.addr), 2), w.stderr_text()
        b.health_delay = 0.5  # answers, but after the probe's 100 ms timeout
        t0 = time.monotonic()
        assert wait_for(lambda: down_lines(w, "g", b.addr), 3), w.stderr_text()
        assert time.monotonic() - t0 < 1.5
        b.health_delay = 0
        assert wait_for(lambda: up_lines(w, "g", b.addr), 2), w.stderr_text()
    finally:
        a.stop()
        b.stop()


def test_reload_keeps_health_state_and_one_checker(launcher):
    a, b = CtlServer("a"), CtlServer("b")
    try:
        ups = {"g": {"servers": [a.port, b.port],
                     "health": {"active": {"interval": "200ms", "timeout": "150ms",
                                           "path": "/health", "rise": 2, "fall": 2},
                                "passive": "off"}}}
        routes = [{"path": "/", "upstream": "g"}]
        cfg = group_config(ups, routes, workers=2)
        w = launcher.weir(cfg)
        a.health = 500
        assert wait_for(lambda: down_lines(w, "g", a.addr), 2)
        for i in range(3):
            routes2 = routes + [{"path": "/r%d/" % i, "upstream": "g"}]
            w.reload(dict(group_config(ups, routes2, workers=2), listen=["127.0.0.1:%d" % w.port]))
            assert wait_for(lambda: len(log_lines(w, "configuration reloaded")) >= i + 1, 5), \
                w.stderr_text()
        # still down after the reloads: every request goes to b
        with Client(w.port) as c:
            for _ in range(10):
                r = c.get("/")
                assert r.status == 200 and backend_name(r) == "b", r
        # the old generations' checkers are gone: still ~1 probe per interval per server
        time.sleep(0.4)
        t0 = time.monotonic()
        time.sleep(2.0)
        n = b.health_count(since=t0, until=time.monotonic())
        assert 7 <= n <= 13, "b probed %d times in 2 s at 200 ms after reloads" % n
        a.health = 200
        assert wait_for(lambda: up_lines(w, "g", a.addr), 2)
        time.sleep(0.3)
        assert len(down_lines(w, "g", a.addr)) == 1 and len(up_lines(w, "g", a.addr)) == 1, \
            w.stderr_text()
    finally:
        a.stop()
        b.stop()


def test_passive_failures_must_fall_within_the_window(launcher):
    bad = CtlServer("bad")
    bad.status = 500
    try:
        ups = {"g": {"servers": [bad.port],
                     "health": {"passive": {"failures": 2, "window": "300ms",
                                            "cooldown": "10s", "on_5xx": True}}}}
        w = launcher.weir(group_config(ups, [{"path": "/", "upstream": "g"}], workers=1))
        with Client(w.port) as c:
            for _ in range(3):  # 500s 450 ms apart: never two within the window
                assert c.get("/").status == 500
                time.sleep(0.45)
            assert not down_lines(w, "g", bad.addr), w.stderr_text()
            assert c.get("/").status == 500
            assert c.get("/").status == 500  # two within 300 ms: down
            assert wait_for(lambda: down_lines(w, "g", bad.addr), 1)
            r = c.get("/")
            assert r.status == 503, r  # its only server is down
    finally:
        bad.stop()


def test_passive_response_timeouts_take_a_server_out(launcher):
    from faults import HangServer
    hang, good = HangServer(), CtlServer("good")
    try:
        ups = {"g": {"servers": [hang.port, good.port], "retry": "off",
                     "timeouts": {"response": "300ms"},
                     "health": {"passive": {"failures": 2, "cooldown": "30s"}}}}
        w = launcher.weir(group_config(ups, [{"path": "/", "upstream": "g"}], workers=1))
        out = names_over(w.port, 12, conns=1)
        assert out.count((504, None)) == 2, out
        assert out[4:] == [(200, "good")] * 8, out
        assert len(down_lines(w, "g", hang.addr)) == 1, w.stderr_text()
    finally:
        hang.close()
        good.stop()
