"""Circuit breaker (issue 4, point 4), Resilience4j's semantics: opens on the failure or slow-call
rate over a window with a minimum of calls; open answers 503 + Retry-After at once (< 5 ms)
without touching the upstream; half-open after `open`, trial calls close it or reopen it."""

import re
import time

import pytest

from conftest import Client, make_config
from resilience_util import (dead_port, faults, fire, group, metric,  # noqa: F401
                             retry_after_seconds, route, scrape, timed, with_admin)

FAST_MS = 5.0


def config(backends, breaker, retry="off", timeouts=None, workers=2):
    return make_config(None, {"g": group(backends, retry=retry, breaker=breaker,
                                         timeouts=timeouts)},
                       [route("g")], workers=workers)


def breaker_cfg(**kw):
    b = {"window": "count", "size": 10, "min_calls": 5, "failure_rate": "50%", "open": "1s",
         "half_open_calls": 2}
    b.update(kw)
    return b


def is_fast_fail(r):
    return r.status == 503 and not r.from_backend


def assert_fails_fast(c, port, n=20, open_s=None):
    """n requests on keep-alive client c: weir's own 503 with Retry-After, each under 5 ms
    (one outlier tolerated for scheduling noise, none over 50 ms)."""
    lat = []
    for _ in range(n):
        r = timed(port, "GET", "/", client=c)
        assert is_fast_fail(r), r
        ra = retry_after_seconds(r.resp)
        assert ra >= 1, r.resp.headers
        if open_s is not None:
            assert ra <= open_s, (ra, open_s)
        lat.append(r.latency * 1000)
    slow = [x for x in lat if x >= FAST_MS]
    print("fail-fast latency ms: min %.2f median %.2f max %.2f"
          % (min(lat), sorted(lat)[len(lat) // 2], max(lat)))
    assert len(slow) <= 1 and max(lat) < 50, lat
    return lat


def drive_until_open(c, port, limit=50):
    """Sends GETs until weir fails fast; returns (requests that reached the backend, time the
    breaker was seen open)."""
    for i in range(limit):
        r = timed(port, "GET", "/", client=c)
        if is_fast_fail(r):
            return i, time.monotonic()
        assert r.from_backend, r
    raise AssertionError("the breaker never opened after %d failing calls" % limit)


def test_opens_fails_fast_half_opens_and_closes(launcher, faults):
    a = faults.start("a")
    a.fault("status", status=503)
    cfg = config([a], breaker_cfg())
    admin = with_admin(cfg)
    w = launcher.weir(cfg)
    c = Client(w.port)
    try:
        reached, t_open = drive_until_open(c, w.port)
        assert reached == 5, "opened after %d calls, min_calls is 5 (all failed)" % reached
        m = scrape(admin)
        assert metric(m, "weir_group_breaker_state", group="g", state="open") == 1
        assert metric(m, "weir_group_breaker_state", group="g", state="closed") == 0
        n_before = a.requests()
        assert n_before == 5
        assert_fails_fast(c, w.port, open_s=1)
        assert a.requests() == n_before, "an open breaker let calls through"
        a.ok()  # the backend heals while the breaker is open
        time.sleep(max(0.0, t_open + 0.7 - time.monotonic()))
        assert is_fast_fail(timed(w.port, "GET", "/", client=c)), "half-open too early"
        time.sleep(max(0.0, t_open + 1.15 - time.monotonic()))
        res = [timed(w.port, "GET", "/", client=c) for _ in range(12)]
        assert all(r.status == 200 and r.backend == "a" for r in res), res
        assert a.requests() == n_before + 12
    finally:
        c.close()
    m = scrape(admin)
    assert metric(m, "weir_group_breaker_state", group="g", state="closed") == 1
    # 1 (the open check above) + 20 (assert_fails_fast) + 1 (too early for half-open)
    assert metric(m, "weir_group_breaker_rejected_total", group="g") == 22
    # the transitions are logged, with their timestamps, in order
    lines = [ln for ln in w.stderr_text().splitlines() if "circuit breaker group g" in ln]
    moves = [re.search(r"(CLOSED|OPEN|HALF_OPEN) -> (CLOSED|OPEN|HALF_OPEN)", ln).group(0)
             for ln in lines]
    assert moves == ["CLOSED -> OPEN", "OPEN -> HALF_OPEN", "HALF_OPEN -> CLOSED"], lines
    assert all(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", ln) for ln in lines), lines


def test_failed_trial_reopens(launcher, faults):
    a = faults.start("a")
    a.fault("status", status=503)
    w = launcher.weir(config([a], breaker_cfg()))
    c = Client(w.port)
    try:
        _, t_open = drive_until_open(c, w.port)
        n = a.requests()
        time.sleep(max(0.0, t_open + 1.15 - time.monotonic()))
        trial = timed(w.port, "GET", "/", client=c)
        assert trial.status == 503 and trial.from_backend, ("expected a trial call", trial)
        assert a.requests() == n + 1
        assert_fails_fast(c, w.port, n=10)
        assert a.requests() == n + 1
        # and the cycle repeats: half-open again after another `open`
        time.sleep(1.2)
        a.ok()
        res = [timed(w.port, "GET", "/", client=c) for _ in range(6)]
        assert all(r.status == 200 for r in res), res
    finally:
        c.close()


def test_half_open_admits_only_the_trial_calls(launcher, faults):
    a = faults.start("a")
    a.fault("status", status=503)
    w = launcher.weir(config([a], breaker_cfg(half_open_calls=2)))
    c = Client(w.port)
    try:
        _, t_open = drive_until_open(c, w.port)
    finally:
        c.close()
    n = a.requests()
    a.fault("delay", delay_ms=400)  # healthy but slow: trials stay in flight a while
    time.sleep(max(0.0, t_open + 1.15 - time.monotonic()))
    res = fire(w.port, [{"path": "/"} for _ in range(8)], timeout=10)
    through = [r for r in res if r.from_backend]
    assert len(through) == 2, res
    assert all(is_fast_fail(r) for r in res if not r.from_backend), res
    assert a.requests() == n + 2


def test_slow_calls_open_the_breaker(launcher, faults):
    a = faults.start("a")
    a.fault("delay", delay_ms=200)
    w = launcher.weir(config([a], breaker_cfg(size=4, min_calls=4, slow_call="100ms",
                                              slow_rate="50%", failure_rate="100%")))
    c = Client(w.port)
    try:
        reached, _ = drive_until_open(c, w.port)
        assert reached == 4, reached
        assert_fails_fast(c, w.port, n=10)
    finally:
        c.close()


def test_failure_on_without_5xx_ignores_503(launcher, faults):
    a = faults.start("a")
    a.fault("status", status=503)
    w = launcher.weir(config([a], breaker_cfg(failure_on=["connect_error", "timeout"])))
    res = [timed(w.port, "GET", "/") for _ in range(30)]
    assert all(r.status == 503 and r.from_backend for r in res), res
    assert a.requests() == 30


def test_timeouts_count_as_failures(launcher, faults):
    a = faults.start("a")
    a.fault("hang")
    w = launcher.weir(config([a], breaker_cfg(size=4, min_calls=4, failure_on=["timeout"]),
                             timeouts={"response": "100ms"}))
    c = Client(w.port)
    try:
        res = [timed(w.port, "GET", "/", client=c) for _ in range(4)]
        assert all(r.status == 504 for r in res), res
        assert_fails_fast(c, w.port, n=10)
    finally:
        c.close()
    assert a.requests() == 4


def test_connect_errors_open_the_breaker(launcher):
    w = launcher.weir(config([dead_port()], breaker_cfg(), timeouts={"connect": "1s"}))
    c = Client(w.port)
    try:
        res = [timed(w.port, "GET", "/", client=c) for _ in range(5)]
        assert all(r.status == 502 for r in res), res
        assert_fails_fast(c, w.port, n=10)
    finally:
        c.close()


def test_count_window_needs_min_calls(launcher, faults):
    """Below min_calls the rate is not evaluated: 7 failures out of 7 do not open it, the 8th
    does."""
    a = faults.start("a")
    a.fault("status", status=500)
    w = launcher.weir(config([a], breaker_cfg(size=10, min_calls=8)))
    c = Client(w.port)
    try:
        reached, _ = drive_until_open(c, w.port)
    finally:
        c.close()
    assert reached == 8, reached


def test_successes_keep_it_closed(launcher, faults):
    """40 % failures (below the 50 % threshold) never open it."""
    a = faults.start("a")
    w = launcher.weir(config([a], breaker_cfg(size=10, min_calls=5)))
    c = Client(w.port)
    try:
        for i in range(40):
            if i % 5 >= 3:  # 2 failures in every 5 calls, never 50 %
                a.fault("status", status=500, count=1)
            r = timed(w.port, "GET", "/", client=c)
            assert r.from_backend, (i, r)
    finally:
        c.close()
    assert a.requests() == 40


def test_time_window_forgets_old_calls(launcher, faults):
    a = faults.start("a")
    a.fault("status", status=503)
    w = launcher.weir(config([a], breaker_cfg(window="time", size=2, min_calls=5)))
    c = Client(w.port)
    try:
        for _ in range(4):
            assert timed(w.port, "GET", "/", client=c).from_backend
        time.sleep(3.2)  # those four leave the 2 s window
        for _ in range(4):
            r = timed(w.port, "GET", "/", client=c)
            assert r.from_backend, ("opened on calls older than the window", r)
        r = timed(w.port, "GET", "/", client=c)
        assert r.from_backend  # the 5th call in the window: it opens after this one
        assert_fails_fast(c, w.port, n=5)
    finally:
        c.close()
    assert a.requests() == 9


def test_per_server_breaker_routes_around_a_bad_server(launcher, faults):
    a, b = faults.start("a"), faults.start("b")
    a.fault("status", status=503)
    # a fails every call, b none: a's own breaker opens at its 4th call (100 %), while the
    # group's rate, with calls alternating a, b, a, ..., peaks at 3 of 5 = 60 % < 70 %
    w = launcher.weir(config([a, b], breaker_cfg(size=20, min_calls=4, failure_rate="70%",
                                                 open="30s", per_server=True)))
    c = Client(w.port)
    try:
        warm = [timed(w.port, "GET", "/", client=c) for _ in range(12)]
        res = [timed(w.port, "GET", "/", client=c) for _ in range(30)]
    finally:
        c.close()
    assert a.requests() <= 6, (a.requests(), warm)
    assert all(r.status == 200 and r.backend == "b" for r in res), res


def test_retry_after_counts_down_the_open_wait(launcher, faults):
    a = faults.start("a")
    a.fault("status", status=503)
    w = launcher.weir(config([a], breaker_cfg(open="3s")))
    c = Client(w.port)
    try:
        _, t_open = drive_until_open(c, w.port)
        r = timed(w.port, "GET", "/", client=c)
        assert retry_after_seconds(r.resp) == 3, r.resp.headers
        time.sleep(max(0.0, t_open + 1.5 - time.monotonic()))
        r = timed(w.port, "GET", "/", client=c)
        assert retry_after_seconds(r.resp) in (1, 2), r.resp.headers
    finally:
        c.close()


def _status_group(admin, name="g"):
    c = Client(admin, timeout=10)
    try:
        d = c.get("/status", headers={"Connection": "close"}).json()
    finally:
        c.close()
    return [g for g in d["groups"] if g["name"] == name][0]


def test_state_exposed_in_status_document(launcher, faults):
    a = faults.start("a")
    a.fault("status", status=503)
    cfg = config([a], breaker_cfg(open="1s"))
    admin = with_admin(cfg)
    w = launcher.weir(cfg)
    assert _status_group(admin)["breaker"]["state"] == "closed"
    c = Client(w.port)
    try:
        drive_until_open(c, w.port)
    finally:
        c.close()
    g = _status_group(admin)
    assert g["breaker"]["state"] == "open", g
    assert g["breaker"]["failure_rate"] == 100 and g["breaker"]["since_s"] < 1, g
    assert g["servers"][0]["breaker"] == "open", g
    a.ok()
    time.sleep(1.2)
    for _ in range(4):
        assert timed(w.port, "GET", "/").status == 200
    assert _status_group(admin)["breaker"]["state"] == "closed"


def test_transition_history_exposed(launcher, faults):
    a = faults.start("a")
    a.fault("status", status=503)
    cfg = config([a], breaker_cfg(open="1s"))
    admin = with_admin(cfg)
    w = launcher.weir(cfg)
    c = Client(w.port)
    try:
        drive_until_open(c, w.port)
    finally:
        c.close()
    b = _status_group(admin)["breaker"]
    hist = b.get("transitions") or b.get("history")
    assert hist, "no transition history in %r" % b
    assert hist[-1].get("to") == "open" and any(k in hist[-1] for k in ("at", "at_ms", "wall_ms", "time"))
