"""Self-test of tests/fault_backend.py, talked to directly (no weir involved): every fault mode,
the control endpoints, the request log, the capacity semaphore, and its throughput."""

import hashlib
import socket
import time

import pytest

from conftest import Client, Closed
from resilience_util import ClosedLoop, faults, fire  # noqa: F401  (fixture)


def test_ok_echo_and_headers(faults):
    b = faults.start("fa")
    with Client(b.port) as c:
        r = c.request("POST", "/pay?x=1", headers={"Idempotency-Key": "k1", "X-Test-Tag": "t1"},
                      body=b"hello")
        assert r.status == 200
        assert r.header("X-Backend") == "fa"
        assert r.header("Content-Type") == "application/json"
        d = r.json()
        assert d["name"] == "fa" and d["method"] == "POST" and d["path"] == "/pay?x=1"
        assert d["body_len"] == 5 and d["body_sha256"] == hashlib.sha256(b"hello").hexdigest()
        assert d["key"] == "k1" and d["seq"] == 1
        assert r.header("X-Backend-Seq") == "1"
        r2 = c.get("/x")  # keep-alive: same connection
        assert r2.status == 200 and r2.json()["seq"] == 2
        r3 = c.request("HEAD", "/x")
        assert r3.status == 200 and r3.body == b""
    st = b.stats()
    assert st["requests"] == 3
    assert st["by_route"] == {"POST /pay": 1, "GET /x": 1, "HEAD /x": 1}
    assert st["modes"] == {"ok": 3}
    e = st["log"][0]
    assert e["method"] == "POST" and e["path"] == "/pay" and e["key"] == "k1"
    assert e["tag"] == "t1" and e["body_len"] == 5
    assert e["body_sha256"] == hashlib.sha256(b"hello").hexdigest()
    assert e["done_mono"] is not None and e["done_mono"] >= e["mono"]
    assert abs(e["t"] - time.time()) < 30
    assert [x["seq"] for x in st["log"]] == [1, 2, 3]
    assert st["log"][1]["conn"] == st["log"][0]["conn"]


def test_control_endpoints_not_counted_nor_faulted(faults):
    b = faults.start("fa")
    b.fault("reset")
    for _ in range(3):
        assert b.get_fault()["mode"] == "reset"
        assert b.stats()["requests"] == 0
    with Client(b.port) as c:
        assert c.get("/__health").status == 200
    b.ok()
    assert b.stats()["requests"] == 0


def test_fault_validation(faults):
    b = faults.start("fa")
    for bad in (b'{"mode": "explode"}', b'{"modee": "ok"}', b'{"fail_ratio": 2}',
                b'{"delay_ms": -1}', b"not json", b'{"paths": "/x"}', b'{"framing": "x"}'):
        with Client(b.port) as c:
            r = c.request("POST", "/__fault", body=bad)
            assert r.status == 400, bad
    assert b.get_fault()["mode"] == "ok"
    # a setting replaces the previous one entirely
    b.fault("status", status=500, delay_ms=5)
    f = b.fault("delay", delay_ms=1)
    assert f["mode"] == "delay" and f["status"] == 503 and f["delay_ms"] == 1


def test_status_mode_and_fail_ratio(faults):
    b = faults.start("fa")
    b.fault("status", status=503, headers={"Retry-After": "7"})
    with Client(b.port) as c:
        for _ in range(5):
            r = c.get("/")
            assert r.status == 503 and r.header("Retry-After") == "7"
            assert r.json()["status"] == 503
    b.fault("status", status=500, fail_ratio=0.5)
    n500 = 0
    with Client(b.port) as c:
        for _ in range(400):
            r = c.get("/")
            assert r.status in (200, 500)
            n500 += r.status == 500
    assert 140 <= n500 <= 260, n500
    st = b.stats(log=0)
    assert st["modes"]["status"] == 5 + n500 and st["modes"]["ok"] == 400 - n500


def test_count_paths_methods_filters(faults):
    b = faults.start("fa")
    b.fault("status", status=502, count=2)
    with Client(b.port) as c:
        assert [c.get("/").status for _ in range(4)] == [502, 502, 200, 200]
    assert b.get_fault()["remaining"] == 0
    b.fault("status", status=504, paths=["/api"])
    with Client(b.port) as c:
        assert c.get("/api/x").status == 504
        assert c.get("/api").status == 504
        assert c.get("/other").status == 200
    b.fault("status", status=500, methods=["POST"])
    with Client(b.port) as c:
        assert c.get("/").status == 200
        assert c.request("POST", "/", body=b"x").status == 500
    # requests outside the filter get a plain ok: no delay, no extra headers
    b.fault("delay", delay_ms=1000, headers={"X-Fault": "1"}, paths=["/slow"])
    with Client(b.port) as c:
        t0 = time.monotonic()
        r = c.get("/fast")
        assert r.status == 200 and not r.has("X-Fault")
        assert time.monotonic() - t0 < 0.5
    # with mode ok, delay and headers apply to every request
    b.fault("ok", delay_ms=100, headers={"X-Fault": "1"})
    with Client(b.port) as c:
        t0 = time.monotonic()
        assert c.get("/").header("X-Fault") == "1"
        assert time.monotonic() - t0 >= 0.095


def test_delay_and_jitter(faults):
    b = faults.start("fa")
    b.fault("delay", delay_ms=150)
    with Client(b.port) as c:
        t0 = time.monotonic()
        assert c.get("/").status == 200
        assert 0.14 <= time.monotonic() - t0 < 1.0
    b.fault("delay", delay_ms=20, delay_jitter_ms=100)
    lat = []
    with Client(b.port) as c:
        for _ in range(20):
            t0 = time.monotonic()
            assert c.get("/").status == 200
            lat.append(time.monotonic() - t0)
    assert min(lat) >= 0.019 and max(lat) < 0.5
    assert max(lat) - min(lat) > 0.02, lat  # the jitter is there
    # delay applies to the status mode too (slow failures)
    b.fault("status", status=503, delay_ms=100)
    with Client(b.port) as c:
        t0 = time.monotonic()
        assert c.get("/").status == 503
        assert time.monotonic() - t0 >= 0.095


def test_reset(faults):
    b = faults.start("fa")
    b.fault("reset")
    c = Client(b.port, timeout=5)
    try:
        c.send(c.build("POST", "/", body=b"abc"))
        with pytest.raises((Closed, ConnectionResetError)) as ei:
            c.read_response()
        assert c.received == 0
        assert "reset" in str(ei.value) or isinstance(ei.value, ConnectionResetError)
    finally:
        c.close()
    st = b.stats()
    assert st["requests"] == 1 and st["modes"] == {"reset": 1}
    assert st["log"][0]["body_len"] == 3


def test_hang_until_client_closes(faults):
    b = faults.start("fa")
    b.fault("hang")
    c = Client(b.port, timeout=0.5)
    c.send(c.build("GET", "/h"))
    with pytest.raises(socket.timeout):
        c.read_response()
    st = b.stats(log=0)
    assert st["concurrent"] == 1 and st["requests"] == 1
    c.close()
    # the backend notices the close (it polls about once a second)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and b.stats(log=0)["concurrent"]:
        time.sleep(0.05)
    assert b.stats(log=0)["concurrent"] == 0
    assert b.stats()["log"][0]["done_mono"] is None  # never answered


def test_hang_cap(faults):
    b = faults.start("fa", hang_max_s=1)
    b.fault("hang")
    c = Client(b.port, timeout=5)
    try:
        t0 = time.monotonic()
        c.send(c.build("GET", "/"))
        with pytest.raises(Closed):
            c.read_response()
        assert 0.9 <= time.monotonic() - t0 < 3.5
    finally:
        c.close()


def test_drip(faults):
    b = faults.start("fa")
    b.fault("drip", body_bytes=50, drip_bytes=10, drip_interval_ms=60)
    with Client(b.port) as c:
        t0 = time.monotonic()
        arrivals = []
        c.send(c.build("GET", "/d"))
        head = c.read_head()
        assert head.status == 200 and head.header("Content-Length") == "50"
        got = bytearray(c.buf)
        c.buf.clear()
        while len(got) < 50:
            d = c.sock.recv(100)
            assert d
            arrivals.append(time.monotonic() - t0)
            got += d
        assert len(got) == 50
        assert len(arrivals) >= 3  # really sent in pieces
        assert time.monotonic() - t0 >= 0.25
        # the connection stays usable (keep-alive) after a drip
        b.ok()
        assert c.get("/").status == 200
    assert b.stats(log=0)["modes"]["drip"] == 1


def test_close_mid_body(faults):
    b = faults.start("fa")
    b.fault("close_mid_body", body_bytes=1000)
    c = Client(b.port, timeout=5)
    try:
        with pytest.raises(Closed) as ei:
            c.get("/")
        assert "500 body bytes missing" in str(ei.value)
    finally:
        c.close()


@pytest.mark.parametrize("framing,check", [
    ("cl_te", lambda raw: b"Content-Length: 5" in raw and b"Transfer-Encoding: chunked" in raw),
    ("dup_cl", lambda raw: raw.count(b"Content-Length") == 2),
    ("bad_chunk", lambda raw: b"\r\n\r\nzz\r\n" in raw),
    ("bad_status", lambda raw: raw.startswith(b"HTTP/1.1 2x0")),
    ("short_chunk", lambda raw: raw.endswith(b"10\r\nhello\r\n")),
])
def test_bad_framing(faults, framing, check):
    b = faults.start("fa")
    b.fault("bad_framing", framing=framing)
    c = Client(b.port, timeout=5)
    try:
        c.send(c.build("GET", "/"))
        raw = c.read_all(timeout=5)
    finally:
        c.close()
    assert check(raw), raw


def test_chunked_request_body_and_pipelining(faults):
    b = faults.start("fa")
    c = Client(b.port)
    try:
        body = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        c.send(c.build("POST", "/a", headers={"Transfer-Encoding": "chunked"}, body=body)
               + c.build("GET", "/b") + c.build("GET", "/c"))
        r1, r2, r3 = c.read_response("POST"), c.read_response(), c.read_response()
        assert r1.json()["body_sha256"] == hashlib.sha256(b"hello world").hexdigest()
        assert (r2.json()["path"], r3.json()["path"]) == ("/b", "/c")
    finally:
        c.close()


def test_stats_log_ring_reset_and_since(faults):
    b = faults.start("fa", log_size=10)
    with Client(b.port) as c:
        for i in range(25):
            c.get("/r%d" % i)
    st = b.stats()
    assert st["requests"] == 25
    assert [e["path"] for e in st["log"]] == ["/r%d" % i for i in range(15, 25)]
    assert [e["path"] for e in b.stats(log=3)["log"]] == ["/r22", "/r23", "/r24"]
    mid = st["log"][5]["mono"]
    assert [e["path"] for e in b.stats(since_mono=mid)["log"]][0] == "/r20"
    b.fault("status", status=500)
    b.reset()
    st = b.stats()
    assert st["requests"] == 0 and st["log"] == [] and st["by_route"] == {}
    assert b.get_fault()["mode"] == "status"  # reset keeps the fault
    b.reset(fault=True)
    assert b.get_fault()["mode"] == "ok"


def test_capacity_semaphore(faults):
    b = faults.start("fa", capacity=4, service_ms=100)
    t0 = time.monotonic()
    res = fire(b.port, [{"path": "/c%d" % i} for i in range(12)], timeout=10)
    took = time.monotonic() - t0
    assert all(r.status == 200 for r in res), res
    st = b.stats(log=0)
    assert st["max_processing"] == 4
    assert st["max_concurrent"] >= 10
    assert 0.28 <= took < 2.0, took
    assert sorted(round(r.latency, 1) for r in res)[-1] >= 0.29
    # changed at run time
    b.capacity(0, 0)
    b.reset()
    res = fire(b.port, [{"path": "/"} for _ in range(12)])
    assert all(r.status == 200 for r in res)
    assert b.stats(log=0)["max_processing"] >= 1


def test_mean_concurrency(faults):
    b = faults.start("fa")
    b.fault("delay", delay_ms=100)
    b.reset()
    loop = ClosedLoop(b.port, 6, timeout=5)
    time.sleep(1.5)
    loop.stop()
    st = b.stats(log=0)
    assert 3.5 <= st["mean_concurrent"] <= 6.5, st["mean_concurrent"]
    assert st["max_concurrent"] == 6


def test_throughput(faults):
    """Thousands of requests per second on keep-alive connections."""
    b = faults.start("fa")
    loop = ClosedLoop(b.port, 8, timeout=5)
    time.sleep(2.0)
    res = loop.stop()
    ok = sum(1 for r in res if r.status == 200)
    rate = ok / 2.0
    print("fault backend throughput: %.0f req/s (8 keep-alive clients)" % rate)
    assert ok == len(res)
    assert rate >= 1000, rate


def test_many_connections(faults):
    b = faults.start("fa")
    res = fire(b.port, [{"path": "/m"} for _ in range(300)], timeout=10)
    assert all(r.status == 200 for r in res)
    st = b.stats(log=0)
    assert st["requests"] == 300 and st["connections"] >= 300
