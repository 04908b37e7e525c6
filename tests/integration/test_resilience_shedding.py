"""Load shedding of weir itself (issue 4, point 7): a worker over `shed_inflight` answers new
requests 503 + Retry-After at once instead of letting everything slow down; requests in progress
are unaffected; health checks keep running."""

import threading
import time

from conftest import make_config
from resilience_util import (faults, fire, group, metric, retry_after_seconds,  # noqa: F401
                             route, scrape, status_counts, summary, timed, wait_until,
                             with_admin)


def config(backends, limits, workers=1, **gkw):
    return make_config(None, {"g": group(backends, retry="off", **gkw)}, [route("g")],
                       workers=workers, limits=limits)


def test_worker_over_inflight_limit_sheds_at_once(launcher, faults):
    a = faults.start("a")
    a.fault("delay", delay_ms=1500)
    cfg = config([a], {"shed_inflight": 20, "shed_loop_lag": "off"})
    admin = with_admin(cfg)
    w = launcher.weir(cfg)
    a.reset()
    res = fire(w.port, [{"path": "/s%d" % i} for i in range(60)], timeout=10)
    ok = [r for r in res if r.status == 200]
    shed = [r for r in res if r.status == 503]
    print("shedding: %s; shed latency %s; served latency %s"
          % (status_counts(res), summary([r.latency for r in shed]),
             summary([r.latency for r in ok])))
    assert len(ok) == 20 and len(shed) == 40, status_counts(res)
    assert a.requests() == 20
    for r in shed:
        assert not r.from_backend
        assert retry_after_seconds(r.resp) >= 1
    assert max(r.latency for r in shed) < 0.2, summary([r.latency for r in shed])
    assert all(1.4 <= r.latency < 3.0 for r in ok), summary([r.latency for r in ok])
    assert metric(scrape(admin), "weir_shed_requests_total") == 40
    # once the in-flight requests are done, new ones are served again
    a.ok()
    assert all(timed(w.port, "GET", "/after").status == 200 for _ in range(5))


def test_admin_listener_is_not_shed(launcher, faults):
    a = faults.start("a")
    a.fault("delay", delay_ms=1500)
    cfg = config([a], {"shed_inflight": 5, "shed_loop_lag": "off"})
    admin = with_admin(cfg)
    w = launcher.weir(cfg)
    t = threading.Thread(target=lambda: fire(w.port, [{"path": "/"} for _ in range(20)]),
                         daemon=True)
    t.start()
    time.sleep(0.3)  # the worker is over its limit now
    assert timed(w.port, "GET", "/").status == 503
    for _ in range(5):
        r = timed(admin, "GET", "/healthz")
        assert r.status == 200 and r.latency < 0.1, r
        assert timed(admin, "GET", "/metrics").status == 200
    t.join(10)


def test_shedding_is_per_worker(launcher, faults):
    a = faults.start("a")
    a.fault("delay", delay_ms=1000)
    w = launcher.weir(config([a], {"shed_inflight": 10, "shed_loop_lag": "off"}, workers=2))
    res = fire(w.port, [{"path": "/"} for _ in range(60)], timeout=10)
    ok = sum(r.status == 200 for r in res)
    assert 10 <= ok <= 20, status_counts(res)
    assert all(r.status in (200, 503) for r in res), status_counts(res)


def test_health_checks_are_not_shed(launcher, faults):
    a = faults.start("a")
    a.fault("delay", delay_ms=2500, paths=["/slow"])
    w = launcher.weir(config(
        [a], {"shed_inflight": 5, "shed_loop_lag": "off"},
        health={"active": {"interval": "200ms", "timeout": "150ms", "path": "/hc",
                           "fall": 2, "rise": 1}, "passive": "off"}))
    assert wait_until(lambda: a.stats(log=0)["by_route"].get("GET /hc", 0) >= 2, 5)
    before = a.stats(log=0)["by_route"].get("GET /hc", 0)
    t0 = time.monotonic()
    res = fire(w.port, [{"path": "/slow"} for _ in range(30)], timeout=10)
    took = time.monotonic() - t0
    probes = a.stats(log=0)["by_route"].get("GET /hc", 0) - before
    assert sum(r.status == 503 and not r.from_backend for r in res) >= 20, status_counts(res)
    assert probes >= int(took / 0.2) - 3, (probes, took)
    # the server was never marked down: a request right after is served
    r = timed(w.port, "GET", "/fine")
    assert r.status == 200 and r.from_backend, r


def test_no_shedding_below_the_limit(launcher, faults):
    a = faults.start("a")
    a.fault("delay", delay_ms=200)
    w = launcher.weir(config([a], {"shed_inflight": 50}))
    res = fire(w.port, [{"path": "/"} for _ in range(40)], timeout=10)
    assert all(r.status == 200 for r in res), status_counts(res)
