"""The admin listener: /metrics (Prometheus text 0.0.4, validated by promparse and by
`promtool check metrics` when installed), /status (the schema in docs/internals/admin-status.md),
/events (SSE), /healthz, the dashboard at /, the bearer token, and the listener's
independence from traffic (it answers at once while the traffic port is full of slow
requests)."""

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.parse

import pytest

import promparse
from conftest import Client, free_port, wait_port
from faults import CtlServer, group_config, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PROMTOOL = "/usr/bin/promtool"

# Every family /metrics exposes (docs/operations.md, "Metrics", lists each).
FAMILIES = {
    "weir_build_info": "gauge",
    "weir_start_time_seconds": "gauge",
    "weir_uptime_seconds": "gauge",
    "weir_workers": "gauge",
    "weir_config_generation": "gauge",
    "weir_config_reloads_total": "counter",
    "weir_accesslog_dropped_buffers_total": "counter",
    "weir_connections_accepted_total": "counter",
    "weir_client_connections": "gauge",
    "weir_upstream_connections": "gauge",
    "weir_requests_total": "counter",
    "weir_requests_by_protocol_total": "counter",
    "weir_active_streams": "gauge",
    "weir_http2_connections": "gauge",
    "weir_responses_total": "counter",
    "weir_received_bytes_total": "counter",
    "weir_sent_bytes_total": "counter",
    "weir_shed_requests_total": "counter",
    "weir_local_errors_total": "counter",
    "weir_request_duration_seconds": "histogram",
    "weir_requests_per_second": "gauge",
    "weir_event_loop_lag_seconds": "gauge",
    "weir_buffer_memory_bytes": "gauge",
    "weir_buffer_file_bytes": "gauge",
    "weir_buffered_request_bodies_total": "counter",
    "weir_buffer_refused_requests_total": "counter",
    "weir_buffered_responses_total": "counter",
    "weir_buffer_fallbacks_total": "counter",
    "weir_route_requests_total": "counter",
    "weir_route_responses_total": "counter",
    "weir_route_received_bytes_total": "counter",
    "weir_route_sent_bytes_total": "counter",
    "weir_route_rate_limited_total": "counter",
    "weir_route_request_duration_seconds": "histogram",
    "weir_route_upstream_duration_seconds": "histogram",
    "weir_group_requests_total": "counter",
    "weir_group_attempts_total": "counter",
    "weir_group_retries_total": "counter",
    "weir_group_failures_total": "counter",
    "weir_group_retry_budget_allowed_total": "counter",
    "weir_group_retry_budget_refused_total": "counter",
    "weir_group_breaker_rejected_total": "counter",
    "weir_group_breaker_state": "gauge",
    "weir_group_concurrency_limit": "gauge",
    "weir_group_concurrency_inflight": "gauge",
    "weir_group_concurrency_waiting": "gauge",
    "weir_group_concurrency_queued_total": "counter",
    "weir_group_concurrency_rejected_total": "counter",
    "weir_group_concurrency_queue_timeouts_total": "counter",
    "weir_group_upstream_duration_seconds": "histogram",
    "weir_server_up": "gauge",
    "weir_server_backup": "gauge",
    "weir_server_inflight": "gauge",
    "weir_server_connections": "gauge",
    "weir_server_requests_total": "counter",
    "weir_server_failures_total": "counter",
    "weir_server_health_checks_total": "counter",
    "weir_server_health_checks_failed_total": "counter",
    "weir_server_health_transitions_total": "counter",
    "weir_server_breaker_state": "gauge",
    "weir_pool_idle_connections": "gauge",
    "weir_pool_busy_connections": "gauge",
    "weir_pool_waiters": "gauge",
    "weir_pool_connections_created_total": "counter",
    "weir_pool_connections_reused_total": "counter",
    "weir_pool_connections_closed_total": "counter",
    "weir_pool_acquire_timeouts_total": "counter",
    "weir_pool_waits_total": "counter",
    "weir_pool_wait_seconds_total": "counter",
    "weir_tls_handshakes_total": "counter",
    "weir_tls_handshake_failures_total": "counter",
    "weir_tls_protocol_total": "counter",
    "weir_tls_cipher_total": "counter",
    "weir_tls_ticket_key_rotations_total": "counter",
    "weir_tls_upstream_handshakes_total": "counter",
}


# --------------------------------------------------------------------------------------------
# helpers

def start(launcher, upstreams, routes, token=None, workers=2, **kw):
    """weir with an admin section on a free port; returns (weir, admin port)."""
    aport = free_port()
    cfg = group_config(upstreams, routes, workers=workers, **kw)
    cfg["admin"] = {"listen": "127.0.0.1:%d" % aport}
    if token:
        cfg["admin"]["token"] = token
    w = launcher.weir(cfg)
    wait_port(aport, w.proc, 10, what="weir admin", log=w.stderr_path)
    return w, aport


def admin(aport, path, method="GET", headers=None, timeout=10.0):
    with Client(aport, timeout=timeout) as c:
        return c.request(method, path, headers=headers)


def metrics(aport, headers=None):
    r = admin(aport, "/metrics", headers=headers)
    assert r.status == 200, r
    assert r.header("content-type") == "text/plain; version=0.0.4; charset=utf-8"
    return promparse.parse(r.text())


def status(aport, headers=None):
    r = admin(aport, "/status", headers=headers)
    assert r.status == 200, r
    assert r.header("content-type") == "application/json"
    return r.json()


def traffic(port, path, n, method="GET", body=None, host=None):
    statuses = []
    with Client(port) as c:
        for _ in range(n):
            h = {"Host": host} if host else None
            statuses.append(c.request(method, path, headers=h, body=body).status)
    return statuses


def mval(fams, name, **labels):
    v = promparse.value(fams, name, **labels)
    return 0 if v is None else v


def promtool_check(text):
    if not os.path.exists(PROMTOOL):
        return
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    assert p.returncode == 0, "promtool check metrics:\n" + p.stdout.decode()


class SSE:
    """A raw /events subscriber: parses `event:`/`data:` blocks as they arrive."""

    def __init__(self, aport, path="/events", headers=None):
        self.sock = socket.create_connection(("127.0.0.1", aport), timeout=5)
        hdrs = "".join("%s: %s\r\n" % kv for kv in (headers or {}).items())
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: admin\r\nAccept: text/event-stream\r\n%s\r\n"
                           % (path, hdrs)).encode())
        self.buf = b""
        self.head = None
        self.events = []
        self.comments = 0

    def pump(self, until):
        while time.monotonic() < until:
            r, _, _ = select.select([self.sock], [], [], max(0.0, until - time.monotonic()))
            if not r:
                break
            data = self.sock.recv(1 << 20)
            if not data:
                raise EOFError("admin closed the event stream")
            self.buf += data
            self._parse()

    def _parse(self):
        if self.head is None:
            i = self.buf.find(b"\r\n\r\n")
            if i < 0:
                return
            self.head, self.buf = self.buf[:i].decode(), self.buf[i + 4:]
        while b"\n\n" in self.buf:
            block, self.buf = self.buf.split(b"\n\n", 1)
            ev = {"event": "message", "data": []}
            for line in block.decode().split("\n"):
                if line.startswith(":"):
                    self.comments += 1
                elif line.startswith("event: "):
                    ev["event"] = line[7:]
                elif line.startswith("data: "):
                    ev["data"].append(line[6:])
            if ev["data"]:
                self.events.append((ev["event"], "\n".join(ev["data"])))

    def close(self):
        self.sock.close()


# --------------------------------------------------------------------------------------------
# /metrics

def test_metrics_parse_validate_and_list_every_family(launcher):
    a = launcher.backend("a")
    w, aport = start(launcher, {"g": {"servers": [a.port]}}, [{"path": "/", "upstream": "g"}])
    assert traffic(w.port, "/x", 5) == [200] * 5
    r = admin(aport, "/metrics")
    assert r.status == 200
    fams = promparse.parse(r.text())
    promtool_check(r.text())
    for name, typ in FAMILIES.items():
        assert name in fams, "family %s missing" % name
        assert fams[name].type == typ, (name, fams[name].type)
        assert fams[name].help, name
    extra = set(fams) - set(FAMILIES)
    assert not extra, "families not in the test's list (and maybe not in the docs): %s" % extra
    assert mval(fams, "weir_build_info", version="0.1.0") == 1 or \
        len(fams["weir_build_info"].samples) == 1
    assert mval(fams, "weir_workers") == 2
    assert mval(fams, "weir_config_generation") == 1
    assert mval(fams, "weir_server_up", group="g", server=a.addr) == 1
    assert len(fams["weir_event_loop_lag_seconds"].samples) == 2
    # The fixed bucket bounds, 100 µs to 60 s.
    h = promparse.histogram(fams, "weir_request_duration_seconds")
    les = [le for le, _ in h["buckets"]]
    assert les[0] == 0.0001 and les[-2] == 60 and les[-1] == float("inf"), les


def test_metrics_documented(launcher):
    """docs/operations.md names every metric family."""
    with open(os.path.join(ROOT, "docs", "operations.md")) as f:
        doc = f.read()
    missing = [n for n in FAMILIES if "`%s`" % n not in doc]
    assert not missing, "not in docs/operations.md: %s" % missing


def test_counts_move_with_traffic(launcher):
    a = launcher.backend("a")
    w, aport = start(launcher, {"g": {"servers": [a.port]}},
                     [{"path": "/api/", "upstream": "g"}, {"path": "/", "upstream": "g"}])
    before = metrics(aport)
    assert traffic(w.port, "/api/x", 20) == [200] * 20
    assert traffic(w.port, "/api/echo", 5, method="POST", body=b"hello") == [200] * 5
    assert traffic(w.port, "/status/503", 3) == [503] * 3
    assert traffic(w.port, "/status/404", 2) == [404] * 2

    def delta(fams, name, **lb):
        return mval(fams, name, **lb) - mval(before, name, **lb)

    def settled():
        f = metrics(aport)
        return f if delta(f, "weir_requests_total") >= 30 and \
            delta(f, "weir_request_duration_seconds_count") >= 30 else None
    after = wait_for(settled, 3)
    assert after, "request counters did not reach 30"
    api, root = "*/api/", "*/"
    assert delta(after, "weir_requests_total") == 30
    assert delta(after, "weir_responses_total", code="2xx") == 25
    assert delta(after, "weir_responses_total", code="5xx") == 3
    assert delta(after, "weir_responses_total", code="4xx") == 2
    assert delta(after, "weir_route_requests_total", route=api, method="GET") == 20
    assert delta(after, "weir_route_requests_total", route=api, method="POST") == 5
    assert delta(after, "weir_route_requests_total", route=root, method="GET") == 5
    assert delta(after, "weir_route_responses_total", route=api, code="2xx") == 25
    assert delta(after, "weir_route_responses_total", route=root, code="5xx") == 3
    assert delta(after, "weir_route_responses_total", route=root, code="4xx") == 2
    assert delta(after, "weir_route_received_bytes_total", route=api) > 25 * 20
    assert delta(after, "weir_route_sent_bytes_total", route=api) > 25 * 50
    assert delta(after, "weir_received_bytes_total") > 0
    assert delta(after, "weir_sent_bytes_total") > 0
    assert delta(after, "weir_connections_accepted_total") >= 4
    hb = promparse.histogram(before, "weir_route_request_duration_seconds", route=api)
    ha = promparse.histogram(after, "weir_route_request_duration_seconds", route=api)
    assert ha["count"] - hb["count"] == 25
    assert ha["sum"] > hb["sum"]
    assert ha["buckets"][-1][1] == ha["count"]
    ups = promparse.histogram(after, "weir_route_upstream_duration_seconds", route=api)
    assert ups["count"] >= 25
    g = promparse.histogram(after, "weir_group_upstream_duration_seconds", group="g")
    assert g["count"] >= 30
    assert delta(after, "weir_request_duration_seconds_count") == 30
    assert delta(after, "weir_group_requests_total", group="g") >= 30
    assert delta(after, "weir_group_attempts_total", group="g") >= 30
    assert delta(after, "weir_server_requests_total", group="g", server=a.addr) >= 30
    assert delta(after, "weir_pool_connections_created_total", group="g", server=a.addr) >= 1
    # keep-alive upstream connections get reused within 30 requests
    assert delta(after, "weir_pool_connections_reused_total", group="g", server=a.addr) >= 1
    # and the same figures in /status
    st = status(aport)
    routes = {r["route"]: r for r in st["routes"]}
    assert routes[api]["requests"] >= 25 and routes[root]["errors_5xx"] == 3
    assert st["totals"]["status"]["5xx"] == 3
    assert st["totals"]["requests"] >= 30


def test_label_values_escaped(launcher):
    a = launcher.backend("a")
    odd = '/we"ird\\p/'
    w, aport = start(launcher, {"g": {"servers": [a.port]}},
                     [{"path": odd, "upstream": "g"}, {"path": "/", "upstream": "g"}])
    r = admin(aport, "/metrics")
    text = r.text()
    assert 'route="*/we\\"ird\\\\p/"' in text, [ln for ln in text.splitlines() if "ird" in ln][:3]
    fams = promparse.parse(text)
    promtool_check(text)
    labels = {lb["route"] for _, lb, _ in fams["weir_route_requests_total"].samples}
    assert "*" + odd in labels, labels
    st = status(aport)
    assert "*" + odd in [x["route"] for x in st["routes"]]


def test_promparse_rejects_bad_expositions():
    """The validator itself: each broken exposition is refused."""
    ok = "# HELP a_total x\n# TYPE a_total counter\na_total{l=\"v\\\\\\\"\\n\"} 1\n"
    promparse.parse(ok)
    bad = [
        "a_total 1\n",                                                  # no TYPE
        "# TYPE a_total counter\na_total 1\n# TYPE a_total counter\n",  # TYPE twice / after
        "# TYPE a_total counter\na_total{l=\"v\\x\"} 1\n",              # bad escape
        "# TYPE a_total counter\na_total{l=\"v} 1\n",                   # unterminated
        "# TYPE a_total counter\na_total -1\n",                         # negative counter
        "# TYPE a counter\na 1\n",                                      # counter without _total
        "# TYPE a_total counter\na_total{1l=\"v\"} 1\n",                # label name
        "# TYPE a_total counter\n# TYPE b gauge\na_total 1\nb 1\na_total{x=\"1\"} 1\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",
        "# TYPE g gauge\ng 1\ng 2\n",                                  # duplicate series
        "# TYPE g gauge\ng 1",                                          # no final newline
    ]
    for text in bad:
        with pytest.raises(promparse.PromError):
            promparse.parse(text)


# --------------------------------------------------------------------------------------------
# /status

def check_schema(d):
    num = (int, float)

    def keys(obj, want):
        assert isinstance(obj, dict), obj
        assert set(obj) == set(want), (sorted(obj), sorted(want))
        for k, t in want.items():
            if t is None:
                continue
            assert isinstance(obj[k], t) and not (t is num and isinstance(obj[k], bool)), \
                (k, obj[k], t)

    keys(d, {"version": str, "uptime_s": num, "generation": int, "workers": int, "ts_ms": int,
             "reloads": dict, "tls": dict, "rps": dict, "totals": dict, "latency_ms": dict,
             "histogram": dict, "history": list, "routes": list, "groups": list,
             "waiting_rooms": list, "caches": list, "cache_warm": dict, "store": dict})
    keys(d["store"], {"backend": str, "healthy": bool, "connections": int, "ready": int,
                      "commands": int, "errors": int, "timeouts": int, "reconnects": int,
                      "p99_ms": num, "fallbacks": dict, "primary": None})
    assert d["store"]["backend"] == "memory" and d["store"]["healthy"] is True
    assert d["store"]["primary"] is None  # redis only: the address in use
    keys(d["cache_warm"], {"running": bool, "queued": int, "done": int, "failed": int,
                           "bytes": int})
    for c in d["caches"]:
        keys(c, {"route": str, "policy": str, "hits": int, "misses": int, "stale": int,
                 "revalidated": int, "coalesced": int, "pass": int, "evicted": int,
                 "stored": int, "purged": int, "uncacheable": int, "served_bytes": int,
                 "bytes": int, "objects": int, "hit_ratio": num})
    keys(d["reloads"], {"ok": int, "failed": int})
    keys(d["tls"], {"handshakes_full": int, "handshakes_resumed": int, "failures": dict,
                    "protocols": dict, "ciphers": dict, "upstream": dict})
    keys(d["rps"], {"1s": num, "10s": num, "60s": num})
    keys(d["totals"], {"requests": int, "status": dict, "bytes_in": int, "bytes_out": int,
                       "active_clients": int, "upstream_conns": int, "shed": int,
                       "local_errors": int, "buffering": dict, "protocols": dict})
    keys(d["totals"]["buffering"], {"memory_bytes": int, "file_bytes": int, "bodies_memory": int,
                                    "bodies_file": int, "refused": int, "responses_ahead": int,
                                    "fallbacks": int})
    keys(d["totals"]["status"], {"1xx": int, "2xx": int, "3xx": int, "4xx": int, "5xx": int})
    keys(d["latency_ms"], {"p50": num, "p90": num, "p99": num, "p999": num, "max": num,
                           "window_s": num})
    keys(d["histogram"], {"bounds_ms": list, "counts": list})
    assert d["histogram"]["bounds_ms"] == [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500,
                                           1000, 2500, 5000, 10000]
    assert len(d["histogram"]["counts"]) == 17
    assert all(isinstance(x, int) and x >= 0 for x in d["histogram"]["counts"])
    assert len(d["history"]) <= 300
    for h in d["history"]:
        keys(h, {"t": int, "rps": num, "p50": num, "p99": num, "err": int})
    ts = [h["t"] for h in d["history"]]
    assert ts == sorted(ts), "history is oldest first"
    for r in d["routes"]:
        keys(r, {"route": str, "requests": int, "rps": num, "errors_5xx": int,
                 "rate_limited": int, "p50_ms": num, "p90_ms": num, "p99_ms": num,
                 "p999_ms": num})
    for g in d["groups"]:
        keys(g, {"name": str, "requests": int, "retries": int, "budget_refused": int,
                 "limit_rejected": int, "breaker": None, "concurrency": None, "p50_ms": num,
                 "p99_ms": num, "servers": list})
        if g["breaker"] is not None:
            keys(g["breaker"], {"state": str, "since_s": num, "failure_rate": num,
                                "slow_rate": num, "rejected": int, "transitions": list})
            for t in g["breaker"]["transitions"]:
                keys(t, {"at_ms": int, "from": str, "to": str, "failure_rate": int,
                         "slow_rate": int, "calls": int})
            assert g["breaker"]["state"] in ("closed", "open", "half_open")
        if g["concurrency"] is not None:
            keys(g["concurrency"], {"limit": int, "inflight": int, "queued": int})
        for s in g["servers"]:
            keys(s, {"address": str, "up": bool, "backup": bool, "inflight": int, "conns": int,
                     "requests": int, "failures": int, "pool": dict, "breaker": None})
            keys(s["pool"], {"idle": int, "busy": int, "waiters": int, "waits": int,
                             "avg_wait_ms": num})
            assert s["breaker"] in (None, "closed", "open", "half_open")


def test_status_schema_and_server_down(launcher):
    a, b = CtlServer("a"), CtlServer("b")
    try:
        ups = {"g": {"servers": [a.port, b.port],
                     "health": {"active": {"interval": "200ms", "timeout": "150ms",
                                           "path": "/health", "rise": 1, "fall": 1}},
                     "circuit_breaker": {"min_calls": 5},
                     "concurrency": {"max": 50}},
               "spare": {"servers": ["127.0.0.1:1"]}}
        w, aport = start(launcher, ups, [{"path": "/", "upstream": "g", "methods": ["GET"]}])
        traffic(w.port, "/", 10)
        time.sleep(1.2)  # a tick: windows and history
        d = status(aport)
        check_schema(d)
        assert d["generation"] == 1 and d["workers"] == 2
        assert d["uptime_s"] > 1
        assert abs(d["ts_ms"] / 1000 - time.time()) < 5
        assert d["history"], d
        assert d["routes"][0]["route"] == "*/ [GET]"
        assert d["routes"][0]["requests"] == 10
        assert sum(d["histogram"]["counts"]) >= 10, d["histogram"]
        assert d["latency_ms"]["p50"] > 0 and d["latency_ms"]["p50"] <= d["latency_ms"]["p99"]
        groups = {g["name"]: g for g in d["groups"]}
        assert set(groups) == {"g", "spare"}
        g = groups["g"]
        assert g["breaker"]["state"] == "closed"
        assert g["concurrency"] == {"limit": 50, "inflight": 0, "queued": 0}
        assert groups["spare"]["breaker"] is None and groups["spare"]["concurrency"] is None
        assert [s["address"] for s in g["servers"]] == [a.addr, b.addr]
        assert all(s["up"] for s in g["servers"])
        assert sum(s["requests"] for s in g["servers"]) >= 10

        b.stop()  # active checks mark it down within a few intervals

        def b_down():
            gg = {x["name"]: x for x in status(aport)["groups"]}["g"]
            return {s["address"]: s["up"] for s in gg["servers"]} == {a.addr: True,
                                                                     b.addr: False}
        assert wait_for(b_down, 3, step=0.1), status(aport)
        fams = metrics(aport)
        assert mval(fams, "weir_server_up", group="g", server=b.addr) == 0
        assert mval(fams, "weir_server_up", group="g", server=a.addr) == 1
        assert mval(fams, "weir_server_health_checks_failed_total", group="g",
                    server=b.addr) >= 1
        assert mval(fams, "weir_group_breaker_state", group="g", state="closed") == 1
        assert mval(fams, "weir_group_concurrency_limit", group="g") == 50
    finally:
        a.stop()
        b.stop()


def test_rates_and_history(launcher):
    a = launcher.backend("a")
    w, aport = start(launcher, {"g": {"servers": [a.port]}}, [{"path": "/", "upstream": "g"}])
    stop = time.monotonic() + 2.5
    n = 0
    with Client(w.port) as c:
        while time.monotonic() < stop:
            assert c.get("/").status == 200
            n += 1
    time.sleep(1.1)
    d = status(aport)
    assert d["rps"]["10s"] > 0 and d["rps"]["60s"] > 0, d["rps"]
    assert sum(h["rps"] for h in d["history"]) == pytest.approx(n, rel=0.25), (n, d["history"])
    fams = metrics(aport)
    assert mval(fams, "weir_requests_per_second", window="10s") > 0
    assert mval(fams, "weir_requests_per_second", window="1s") >= 0


# --------------------------------------------------------------------------------------------
# /events

def test_events_stream_status_every_second(launcher):
    a = launcher.backend("a")
    w, aport = start(launcher, {"g": {"servers": [a.port]}}, [{"path": "/", "upstream": "g"}])
    subs = [SSE(aport) for _ in range(40)]
    try:
        t0 = time.monotonic()
        deadline = t0 + 2.5
        for s in subs:
            s.pump(min(deadline, time.monotonic() + 0.05))
        while time.monotonic() < deadline:
            for s in subs:
                s.pump(time.monotonic() + 0.02)
        for s in subs:
            s.pump(time.monotonic() + 0.01)
            assert s.head.startswith("HTTP/1.1 200"), s.head
            assert "Content-Type: text/event-stream" in s.head
            assert "Cache-Control: no-cache" in s.head
            assert len(s.events) >= 2, "%d events in 2.5 s" % len(s.events)
            assert s.comments >= 1  # ": ping"
            for name, data in s.events:
                assert name == "status"
                check_schema(json.loads(data))
        # successive documents move forward
        docs = [json.loads(d) for _, d in subs[0].events]
        assert docs[-1]["ts_ms"] > docs[0]["ts_ms"]
        # admin still answers other requests meanwhile
        assert admin(aport, "/healthz").status == 200
    finally:
        for s in subs:
            s.close()
    # dropped subscribers are forgotten: a new one works
    s = SSE(aport)
    try:
        s.pump(time.monotonic() + 1.5)
        assert s.events
    finally:
        s.close()


# --------------------------------------------------------------------------------------------
# HTTP details, token

def test_endpoints_methods_and_errors(launcher):
    a = launcher.backend("a")
    w, aport = start(launcher, {"g": {"servers": [a.port]}}, [{"path": "/", "upstream": "g"}])
    with Client(aport) as c:
        r = c.get("/healthz")
        assert r.status == 200 and r.body == b"ok\n"
        # keep-alive: more requests on the same connection
        r = c.get("/")
        assert r.status == 200 and r.header("content-type").startswith("text/html")
        assert b"<html" in r.body.lower()
        r = c.request("HEAD", "/metrics")
        assert r.status == 200 and r.body == b"" and int(r.header("content-length")) > 1000
        r = c.request("HEAD", "/status")
        assert r.status == 200 and r.body == b""
        r = c.get("/nope")
        assert r.status == 404
        r = c.get("/status?pretty=1")
        assert r.status == 200 and r.json()["workers"] == 2
    r = admin(aport, "/metrics", method="POST")
    assert r.status == 405 and r.header("allow") == "GET, HEAD"
    r = admin(aport, "/metrics", method="DELETE")
    assert r.status == 405
    # Allow: and the 404 hint come from the endpoint table
    assert admin(aport, "/reload").header("allow") == "POST"
    assert admin(aport, "/revoke", method="PUT").header("allow") == "GET, HEAD, POST"
    r = admin(aport, "/nope", method="POST")
    assert r.status == 405 and r.header("allow") == "GET, HEAD"
    assert admin(aport, "/nope").body == (b"404 Not Found: try /, /metrics, /status, /events, "
                                          b"/waitroom, /revoke, /lockouts, /healthz\n")
    with Client(aport) as c:
        c.send(b"GARBAGE\r\n\r\n")
        r = c.read_response()
        assert r.status == 400
        assert c.closed_by_peer()
    with Client(aport) as c:
        c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"a" * 20000 + b"\r\n\r\n")
        assert c.read_response().status == 431
    # pipelined requests are answered in order
    with Client(aport) as c:
        c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
               b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert [c.read_response().status for _ in range(3)] == [200, 404, 200]
        assert c.closed_by_peer()


def test_token_required(launcher):
    a = launcher.backend("a")
    token = "s3cr3t+/=tok"
    w, aport = start(launcher, {"g": {"servers": [a.port]}}, [{"path": "/", "upstream": "g"}],
                     token=token)
    for path in ("/", "/metrics", "/status", "/healthz", "/events", "/nope"):
        r = admin(aport, path)
        assert r.status == 401, (path, r)
        assert r.header("www-authenticate").startswith("Bearer")
    assert admin(aport, "/metrics", headers={"Authorization": "Bearer wrong"}).status == 401
    assert admin(aport, "/metrics", headers={"Authorization": "Basic " + token}).status == 401
    assert admin(aport, "/metrics?token=wrong").status == 401
    assert admin(aport, "/metrics?token=" + token[:-1]).status == 401
    good = {"Authorization": "Bearer " + token}
    for path in ("/", "/metrics", "/status", "/healthz"):
        assert admin(aport, path, headers=good).status == 200, path
    assert admin(aport, "/nope", headers=good).status == 404
    assert admin(aport, "/status", headers={"Authorization": "bearer  " + token}).status == 200
    q = urllib.parse.quote(token, safe="")
    assert admin(aport, "/status?token=" + q).status == 200
    assert admin(aport, "/metrics?x=1&token=" + q).status == 200
    s = SSE(aport, "/events?token=" + q)
    try:
        s.pump(time.monotonic() + 1.5)
        assert s.head.startswith("HTTP/1.1 200") and s.events
    finally:
        s.close()


def test_admin_answers_while_traffic_is_saturated(launcher):
    a = launcher.backend("a")
    w, aport = start(launcher, {"g": {"servers": [a.port]}}, [{"path": "/", "upstream": "g"}])
    socks = []
    try:
        for _ in range(200):
            s = socket.create_connection(("127.0.0.1", w.port), timeout=10)
            s.sendall(b"GET /slow?ms=4000 HTTP/1.1\r\nHost: x\r\n\r\n")
            socks.append(s)
        time.sleep(0.5)
        worst = 0.0
        for path in ("/healthz", "/status", "/metrics", "/healthz", "/status"):
            t0 = time.monotonic()
            r = admin(aport, path, timeout=5)
            worst = max(worst, time.monotonic() - t0)
            assert r.status == 200
        assert worst < 0.5, "admin took %.3f s while traffic was saturated" % worst
        fams = metrics(aport)
        assert mval(fams, "weir_client_connections") >= 150
        assert mval(fams, "weir_server_inflight", group="g", server=a.addr) >= 150
        st = status(aport)
        assert st["totals"]["active_clients"] >= 150
    finally:
        for s in socks:
            s.close()


def test_reload_counters(launcher):
    a = launcher.backend("a")
    w, aport = start(launcher, {"g": {"servers": [a.port]}}, [{"path": "/", "upstream": "g"}])
    with open(w.config_path) as f:
        good = f.read()
    w.reload(good.replace("routes:", "routes:\n  - path: /new/\n    upstream: g", 1))
    assert wait_for(lambda: status(aport)["generation"] == 2, 5, step=0.1), w.stderr_text()
    d = status(aport)
    assert d["reloads"] == {"ok": 1, "failed": 0}
    assert "*/new/" in [r["route"] for r in d["routes"]]
    w.reload("this: is: not: yaml\n")
    assert wait_for(lambda: status(aport)["reloads"]["failed"] == 1, 5, step=0.1)
    fams = metrics(aport)
    assert mval(fams, "weir_config_reloads_total", result="ok") == 1
    assert mval(fams, "weir_config_reloads_total", result="failed") == 1
    assert mval(fams, "weir_config_generation") == 2


def test_explicit_admin_address_taken_is_fatal(launcher):
    a = launcher.backend("a")
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        cfg = group_config({"g": {"servers": [a.port]}}, [{"path": "/", "upstream": "g"}])
        cfg["admin"] = {"listen": "127.0.0.1:%d" % taken.getsockname()[1]}
        w = launcher.weir(cfg, start=False)
        w.start(wait=False)
        assert w.wait(15) == 1, w.stderr_text()
        assert "admin" in w.stderr_text() and "Address already in use" in w.stderr_text()
    finally:
        taken.close()


def test_admin_off(launcher):
    a = launcher.backend("a")
    cfg = group_config({"g": {"servers": [a.port]}}, [{"path": "/", "upstream": "g"}])
    cfg["admin"] = "off"
    w = launcher.weir(cfg)
    assert traffic(w.port, "/", 1) == [200]
    assert "admin listening" not in w.stderr_text()


def test_pool_wait_time_is_measured(launcher):
    """max_conns 1: of four concurrent 200 ms requests three wait for the connection; the pool
    wait figures count them and their time (issue 5: pool wait time)."""
    from faults import server
    a = launcher.backend("a")
    ups = {"g": {"servers": [server(a.port, max_conns=1)],
                 "pool": {"acquire_timeout": "3s"}, "health": {"passive": "off"}}}
    w, aport = start(launcher, ups, [{"path": "/", "upstream": "g"}], workers=1)
    results = []
    ts = [threading.Thread(target=lambda: results.append(traffic(w.port, "/slow?ms=200", 1)),
                           daemon=True) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(10)
    assert sorted(sum(results, [])) == [200] * 4, results
    srv = "127.0.0.1:%d" % a.port
    fams = metrics(aport)
    waits = mval(fams, "weir_pool_waits_total", group="g", server=srv)
    waited = mval(fams, "weir_pool_wait_seconds_total", group="g", server=srv)
    assert waits >= 3, (waits, waited)
    # they waited 200, 400 and 600 ms behind each other: about 1.2 s in all
    assert 0.8 <= waited <= 3.0, (waits, waited)
    pool = status(aport)["groups"][0]["servers"][0]["pool"]
    assert pool["waits"] == waits and pool["avg_wait_ms"] > 100, pool
