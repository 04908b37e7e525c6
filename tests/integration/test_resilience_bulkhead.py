"""Concurrency limits / bulkhead (issue 4, point 5): at most `max` requests in flight to a group
(across workers), a bounded queue with a bounded wait, 503 + Retry-After at once beyond it,
nobody hangs; and the adaptive limit settling near a backend's real capacity."""

import time

from conftest import make_config
from resilience_util import (ClosedLoop, faults, fire, group, metric,  # noqa: F401
                             retry_after_seconds, route, scrape, status_counts, summary,
                             with_admin)


def config(backends, concurrency, workers=2, timeouts=None):
    return make_config(None, {"g": group(backends, retry="off", concurrency=concurrency,
                                         timeouts=timeouts or {"response": "10s",
                                                               "total": "20s"})},
                       [route("g")], workers=workers)


def test_founding_example_100_of_300(launcher, faults):
    """A dependency that handles 100 at a time, 300 arrive: 100 forwarded, the rest queue
    briefly or get 503 with Retry-After; nobody hangs."""
    a = faults.start("a")
    a.fault("delay", delay_ms=1000)
    cfg = config([a], {"max": 100, "queue": 20, "queue_timeout": "200ms"})
    admin = with_admin(cfg)
    w = launcher.weir(cfg)
    a.reset()
    t0 = time.monotonic()
    res = fire(w.port, [{"path": "/b%d" % i} for i in range(300)], timeout=15)
    took = time.monotonic() - t0
    st = a.stats(log=0)
    ok = [r for r in res if r.status == 200]
    rejected = [r for r in res if r.status == 503]
    print("bulkhead 100/300: %s, backend max concurrent %d, took %.2fs; 503 latency %s"
          % (status_counts(res), st["max_concurrent"], took,
             summary([r.latency for r in rejected])))
    assert st["max_concurrent"] <= 100, st["max_concurrent"]
    assert st["max_concurrent"] >= 95, st["max_concurrent"]
    assert len(ok) == 100 and len(rejected) == 200, status_counts(res)
    assert st["requests"] == 100
    for r in rejected:
        assert not r.from_backend
        assert retry_after_seconds(r.resp) >= 1
    at_once = [r for r in rejected if r.latency < 0.15]
    queued = [r for r in rejected if r.latency >= 0.15]
    assert len(at_once) >= 170, summary([r.latency for r in rejected])
    assert len(queued) <= 30
    assert all(r.latency < 0.2 + 0.5 for r in queued), queued
    assert max(r.latency for r in res) < 1.0 + 1.0, "somebody hung"
    m = scrape(admin)
    rej = metric(m, "weir_group_concurrency_rejected_total", group="g")
    qto = metric(m, "weir_group_concurrency_queue_timeouts_total", group="g")
    assert metric(m, "weir_group_concurrency_limit", group="g") == 100
    assert metric(m, "weir_group_concurrency_inflight", group="g") == 0
    assert rej + qto == 200 and qto == len(queued), (rej, qto, len(queued))


def test_queue_is_served_when_slots_free_up(launcher, faults):
    a = faults.start("a")
    a.fault("delay", delay_ms=500)
    w = launcher.weir(config([a], {"max": 100, "queue": 50, "queue_timeout": "3s"}))
    a.reset()
    res = fire(w.port, [{"path": "/q%d" % i} for i in range(300)], timeout=15)
    st = a.stats(log=0)
    ok = [r for r in res if r.status == 200]
    print("bulkhead with queue: %s, backend max concurrent %d"
          % (status_counts(res), st["max_concurrent"]))
    assert st["max_concurrent"] <= 100
    assert len(ok) == 150, status_counts(res)
    second_wave = [r for r in ok if r.latency >= 0.9]
    assert 40 <= len(second_wave) <= 50, summary([r.latency for r in ok])
    assert all(r.status == 503 and retry_after_seconds(r.resp) >= 1
               for r in res if r.status != 200)
    assert max(r.latency for r in res) < 3.0


def test_queue_timeout(launcher, faults):
    a = faults.start("a")
    a.fault("delay", delay_ms=1500)
    w = launcher.weir(config([a], {"max": 2, "queue": 2, "queue_timeout": "300ms"}, workers=1))
    res = fire(w.port, [{"path": "/"} for _ in range(6)], timeout=10)
    res.sort(key=lambda r: r.latency)
    st = status_counts(res)
    assert st == {200: 2, 503: 4}, res
    lat = [r.latency for r in res if r.status == 503]
    assert sum(1 for x in lat if x < 0.15) == 2, res       # no room in the queue
    assert sum(1 for x in lat if 0.25 <= x < 0.8) == 2, res  # waited queue_timeout


def test_limit_holds_across_workers(launcher, faults):
    a = faults.start("a")
    a.fault("delay", delay_ms=200)
    w = launcher.weir(config([a], {"max": 10, "queue": 100, "queue_timeout": "5s"}, workers=4))
    a.reset()
    t0 = time.monotonic()
    res = fire(w.port, [{"path": "/"} for _ in range(40)], timeout=15)
    took = time.monotonic() - t0
    st = a.stats(log=0)
    assert all(r.status == 200 for r in res), status_counts(res)
    assert st["max_concurrent"] == 10, st["max_concurrent"]
    assert 0.75 <= took < 3.0, took


def test_adaptive_limit_settles_near_capacity(launcher, faults):
    """The fault backend handles C=10 at a time (50 ms each); 60 clients push. The adaptive limit
    should keep the backend's concurrency near C instead of queueing 60 there."""
    cap, service = 10, 50
    a = faults.start("a", capacity=cap, service_ms=service)
    cfg = config([a], {"adaptive": True, "min_limit": 1, "max_limit": 200, "queue": 0})
    admin = with_admin(cfg)
    w = launcher.weir(cfg)
    loop = ClosedLoop(w.port, 60, timeout=10, backoff=0.02)
    limits = []
    try:
        time.sleep(5.0)  # let it converge
        a.reset()
        t0 = time.monotonic()
        mark = len(loop.snapshot())
        for _ in range(10):
            time.sleep(0.5)
            limits.append(metric(scrape(admin), "weir_group_concurrency_limit", group="g"))
        st = a.stats(log=0)
        window = loop.snapshot()[mark:]
        elapsed = time.monotonic() - t0
    finally:
        loop.stop()
    ok = [r for r in window if r.status == 200]
    thr = len(ok) / elapsed
    print("adaptive: capacity %d, limit %s, backend mean concurrent %.1f (max %d), "
          "throughput %.0f/s (capacity %.0f/s), client statuses %s, 200 latency %s"
          % (cap, limits, st["mean_concurrent"], st["max_concurrent"], thr,
             cap * 1000.0 / service, status_counts(window), summary([r.latency for r in ok])))
    assert all(0.5 * cap <= x <= 3 * cap for x in limits), limits
    assert 0.5 * cap <= st["mean_concurrent"] <= 2.5 * cap, st["mean_concurrent"]
    assert thr >= 0.6 * cap * 1000.0 / service, thr
    assert all(r.status in (200, 503) for r in window), status_counts(window)


def test_adaptive_limit_follows_a_capacity_drop(launcher, faults):
    """The backend's capacity falls from 20 to 5 under load: the limit comes down with it."""
    a = faults.start("a", capacity=20, service_ms=50)
    w = launcher.weir(config([a], {"adaptive": True, "min_limit": 1, "max_limit": 200}))
    loop = ClosedLoop(w.port, 60, timeout=10, backoff=0.02)
    try:
        time.sleep(4.0)
        a.reset()
        time.sleep(3.0)
        high = a.stats(log=0)
        a.capacity(5, 50)
        time.sleep(4.0)
        a.reset()
        time.sleep(3.0)
        low = a.stats(log=0)
    finally:
        res = loop.stop()
    print("adaptive, capacity 20 -> 5: backend mean concurrent %.1f -> %.1f; statuses %s"
          % (high["mean_concurrent"], low["mean_concurrent"], status_counts(res)))
    assert 10 <= high["mean_concurrent"] <= 50, high["mean_concurrent"]
    assert low["mean_concurrent"] <= 2.5 * 5, low["mean_concurrent"]
    assert low["requests"] >= 0.6 * 5 * 20 * 3  # still ~60 % of 100 req/s served
