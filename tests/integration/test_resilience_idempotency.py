"""Idempotency keys (issue 4, point 3): the first response to (key, method, path, client) is
stored and replayed byte-identical with `Idempotent-Replayed: true`; duplicates in flight wait
for it (bounded) or get 409; the same key with another body gets 422."""

import time

from conftest import Client, make_config
from resilience_util import (SourceClient, faults, fire, group, route,  # noqa: F401
                             timed)

HOP = {"connection", "keep-alive"}


def config(backends, idem=None, retry="off", workers=2, path="/", **route_extra):
    idem = {"ttl": "60s"} if idem is None else idem
    return make_config(None, {"g": group(backends, retry=retry)},
                       [route("g", path, idempotency=idem, **route_extra)], workers=workers)


def comparable(resp):
    """Status line parts, headers (minus hop-by-hop and the replay marker) and body."""
    hdrs = [(k.lower(), v) for k, v in resp.headers
            if k.lower() not in HOP and k.lower() != "idempotent-replayed"]
    return (resp.version, resp.status, resp.reason, hdrs, resp.body)


def post(port, key, body=b"amount=10", path="/pay", tag=None, timeout=10.0, client=None):
    hdrs = {"Idempotency-Key": key} if key is not None else {}
    return timed(port, "POST", path, headers=hdrs, body=body, tag=tag, timeout=timeout,
                 client=client)


def test_repeat_is_replayed_byte_identical(launcher, faults):
    a = faults.start("a")
    w = launcher.weir(config([a]))
    first = post(w.port, "k-1")
    assert first.status == 200 and first.backend == "a", first
    assert not first.resp.has("Idempotent-Replayed")
    for _ in range(3):
        again = post(w.port, "k-1")
        assert again.status == 200, again
        assert again.resp.header("Idempotent-Replayed") == "true", again.resp.headers
        assert comparable(again.resp) == comparable(first.resp)
        assert again.resp.header("X-Backend-Seq") == first.resp.header("X-Backend-Seq")
    assert a.requests() == 1
    # a new key goes through
    other = post(w.port, "k-2")
    assert other.status == 200 and not other.resp.has("Idempotent-Replayed")
    assert a.requests() == 2


def test_replay_on_the_same_keepalive_connection(launcher, faults):
    a = faults.start("a")
    w = launcher.weir(config([a]))
    c = Client(w.port)
    try:
        r1 = post(w.port, "same-conn", client=c)
        r2 = post(w.port, "same-conn", client=c)
        r3 = c.get("/after")  # the connection is still usable after a replay
    finally:
        c.close()
    assert r1.status == r2.status == 200
    assert r2.resp.body == r1.resp.body
    assert r3.status == 200 and a.requests() == 2


def test_five_concurrent_duplicates_reach_the_backend_once(launcher, faults):
    a = faults.start("a")
    a.fault("delay", delay_ms=500)
    w = launcher.weir(config([a]))
    res = fire(w.port, [{"method": "POST", "path": "/pay", "body": b"amount=99",
                         "headers": {"Idempotency-Key": "dup-5"}, "tag": "c%d" % i}
                        for i in range(5)], timeout=10)
    assert [r.status for r in res] == [200] * 5, res
    assert a.requests() == 1, a.log()
    bodies = {r.resp.body for r in res}
    assert len(bodies) == 1, bodies
    replayed = [r for r in res if r.resp.header("Idempotent-Replayed") == "true"]
    assert len(replayed) == 4, [r.resp.headers for r in res]
    orig = [r for r in res if not r.resp.has("Idempotent-Replayed")][0]
    for r in replayed:
        assert comparable(r.resp) == comparable(orig.resp)
        # they waited for the first one's answer, not for a fixed poll
        assert r.latency < 0.5 + 0.5, r


def test_duplicate_in_flight_gets_409_after_wait(launcher, faults):
    a = faults.start("a")
    a.fault("delay", delay_ms=2000)
    w = launcher.weir(config([a], idem={"ttl": "60s", "wait": "300ms"}))
    c1 = Client(w.port, timeout=10)
    try:
        c1.send(c1.build("POST", "/pay", headers={"Idempotency-Key": "slow"}, body=b"x"))
        time.sleep(0.2)  # the first is in flight
        dup = post(w.port, "slow", body=b"x")
        assert dup.status == 409, dup
        assert 0.25 <= dup.latency < 1.0, dup
        r1 = c1.read_response()
        assert r1.status == 200
    finally:
        c1.close()
    assert a.requests() == 1
    # once the first finished, a repeat is a replay
    again = post(w.port, "slow", body=b"x")
    assert again.status == 200 and again.resp.header("Idempotent-Replayed") == "true"
    assert a.requests() == 1


def test_same_key_different_body_is_422(launcher, faults):
    a = faults.start("a")
    w = launcher.weir(config([a]))
    assert post(w.port, "k", body=b"amount=10").status == 200
    r = post(w.port, "k", body=b"amount=1000")
    assert r.status == 422, r
    assert not r.from_backend
    assert a.requests() == 1
    assert post(w.port, "k", body=b"amount=10").resp.header("Idempotent-Replayed") == "true"


def test_key_is_scoped_by_method_and_path(launcher, faults):
    a = faults.start("a")
    w = launcher.weir(config([a]))
    assert post(w.port, "k", path="/pay").status == 200
    assert post(w.port, "k", path="/refund").status == 200
    r = timed(w.port, "PUT", "/pay", headers={"Idempotency-Key": "k"}, body=b"amount=10")
    assert r.status == 200 and not r.resp.has("Idempotent-Replayed")
    assert a.requests() == 3


def test_requests_without_key_are_not_deduplicated(launcher, faults):
    a = faults.start("a")
    w = launcher.weir(config([a]))
    for _ in range(3):
        r = post(w.port, None)
        assert r.status == 200 and not r.resp.has("Idempotent-Replayed")
    assert a.requests() == 3


def test_custom_header_name(launcher, faults):
    a = faults.start("a")
    w = launcher.weir(config([a], idem={"header": "X-Request-Key", "ttl": "60s"}))
    for _ in range(2):
        timed(w.port, "POST", "/pay", headers={"X-Request-Key": "abc"}, body=b"x")
    assert a.requests() == 1
    post(w.port, "abc")  # Idempotency-Key is not the header here
    post(w.port, "abc")
    assert a.requests() == 3


def test_ttl_expiry(launcher, faults):
    a = faults.start("a")
    w = launcher.weir(config([a], idem={"ttl": "1s"}))
    r1 = post(w.port, "ttl")
    r2 = post(w.port, "ttl")
    assert r2.resp.header("Idempotent-Replayed") == "true"
    time.sleep(1.5)
    r3 = post(w.port, "ttl")
    assert r3.status == 200 and not r3.resp.has("Idempotent-Replayed"), r3
    assert r3.resp.header("X-Backend-Seq") != r1.resp.header("X-Backend-Seq")
    assert a.requests() == 2


def test_response_larger_than_max_body_is_not_stored(launcher, faults):
    a = faults.start("a")
    w = launcher.weir(config([a], idem={"ttl": "60s", "max_body": 64}))
    r1 = post(w.port, "big")
    assert r1.status == 200 and len(r1.resp.body) > 64
    r2 = post(w.port, "big")
    assert r2.status == 200 and not r2.resp.has("Idempotent-Replayed"), r2
    assert a.requests() == 2


def test_failed_first_attempt_is_forgotten(launcher, faults):
    """A first request that got no response (the connection was reset) leaves nothing stored:
    the client's repeat goes to the backend."""
    a = faults.start("a")
    w = launcher.weir(config([a]))
    a.fault("reset", count=1)
    r1 = post(w.port, "lost")
    assert r1.status == 502, r1
    r2 = post(w.port, "lost")
    assert r2.status == 200 and not r2.resp.has("Idempotent-Replayed"), r2
    assert a.requests() == 2


def test_keyed_post_retried_on_another_server_reaches_it_once(launcher, faults):
    a, b = faults.start("a"), faults.start("b")
    a.fault("status", status=503)
    w = launcher.weir(config([a, b], retry={"attempts": 2, "budget": {"ratio": "100%"}}))
    for i in range(6):
        r = post(w.port, "r-%d" % i, tag="r%d" % i)
        assert r.status == 200 and r.backend == "b", r
        assert post(w.port, "r-%d" % i).resp.header("Idempotent-Replayed") == "true"
    assert b.requests() == 6


def test_chunked_keyed_request_goes_through_unprotected(launcher, faults):
    """Only when the body streams (request_buffering: off): a buffered chunked body is hashed
    like any other (test_buffering.py)."""
    a = faults.start("a")
    w = launcher.weir(config([a], request_buffering="off"))
    bodies = [b"5\r\nhello\r\n0\r\n\r\n", b"5\r\nhello\r\n0\r\n\r\n",
              b"6\r\nhello!\r\n0\r\n\r\n"]  # the third: same key, another body
    for body in bodies:
        r = timed(w.port, "POST", "/pay", body=body,
                  headers={"Idempotency-Key": "chunky", "Transfer-Encoding": "chunked"})
        assert r.status == 200 and not r.resp.has("Idempotent-Replayed"), (body, r)
    assert a.requests() == 3


def test_store_full_of_requests_in_progress_gives_503(launcher, faults):
    a = faults.start("a")
    a.fault("delay", delay_ms=1000)
    w = launcher.weir(config([a], idem={"ttl": "60s", "max_entries": 2}))
    res = fire(w.port, [{"method": "POST", "path": "/pay", "body": b"x",
                         "headers": {"Idempotency-Key": "full-%d" % i}} for i in range(3)])
    statuses = sorted(r.status for r in res)
    assert statuses == [200, 200, 503], res
    assert a.requests() == 2


def test_weirs_own_refusals_are_not_stored(launcher, faults):
    """A keyed request that never reached the upstream (breaker open, no concurrency slot, a
    timeout, a refused connect) leaves no stored response: once things are well again the same
    key goes through instead of replaying the refusal for the whole TTL."""
    a = faults.start("a")
    cfg = make_config(None, {"g": group([a], retry="off", timeouts={"response": "300ms"},
                                        breaker={"size": 4, "min_calls": 4, "open": "1s",
                                                 "half_open_calls": 1})},
                      [route("g", idempotency={"ttl": "60s"})], workers=1)
    w = launcher.weir(cfg)
    a.fault("status", status=500)
    for i in range(4):
        assert post(w.port, "open-%d" % i).status == 500
    refused = post(w.port, "breaker")
    assert refused.status == 503 and not refused.from_backend, refused
    a.ok()
    time.sleep(1.2)
    assert post(w.port, "warm").status == 200  # the trial call closes the breaker
    again = post(w.port, "breaker")
    assert again.status == 200 and not again.resp.has("Idempotent-Replayed"), again
    # a response timeout
    a.fault("hang", count=1)
    t = post(w.port, "timeout")
    assert t.status == 504, t
    again = post(w.port, "timeout")
    assert again.status == 200 and not again.resp.has("Idempotent-Replayed"), again


def test_concurrency_refusal_is_not_stored(launcher, faults):
    a = faults.start("a")
    a.fault("delay", delay_ms=800, paths=["/slow"])
    cfg = make_config(None, {"g": group([a], retry="off", concurrency={"max": 1})},
                      [route("g", idempotency={"ttl": "60s"})], workers=1)
    w = launcher.weir(cfg)
    c = Client(w.port, timeout=10)
    try:
        c.send(c.build("GET", "/slow"))
        time.sleep(0.2)
        refused = post(w.port, "limit")
        assert refused.status == 503 and not refused.from_backend, refused
        assert c.read_response().status == 200
    finally:
        c.close()
    again = post(w.port, "limit")
    assert again.status == 200 and not again.resp.has("Idempotent-Replayed"), again


def test_refused_connect_is_not_stored(launcher, faults):
    from resilience_util import dead_port
    port = dead_port()
    cfg = make_config(None, {"g": group([port], retry="off", timeouts={"connect": "500ms"})},
                      [route("g", idempotency={"ttl": "60s"})], workers=1)
    w = launcher.weir(cfg)
    r1 = post(w.port, "refused")
    assert r1.status == 502, r1
    r2 = post(w.port, "refused")
    assert r2.status == 502 and not r2.resp.has("Idempotent-Replayed"), r2


def test_key_is_scoped_by_client_address(launcher, faults):
    a = faults.start("a")
    w = launcher.weir(config([a]))
    r1 = post(w.port, "shared")
    c = SourceClient(w.port, "127.0.0.2")
    try:
        r2 = post(w.port, "shared", client=c)
        r3 = post(w.port, "shared", client=c)
    finally:
        c.close()
    assert r1.status == r2.status == 200
    assert not r2.resp.has("Idempotent-Replayed"), "another client got this client's response"
    assert r3.resp.header("Idempotent-Replayed") == "true"
    assert a.requests() == 2


def test_chunked_response_is_replayed_byte_identical(launcher):
    """A response weir relayed chunked (backend.py's /chunked) is replayed as it was sent."""
    b = launcher.backend("chunky")
    w = launcher.weir(make_config(None, {"g": group([b.port], retry="off")},
                                  [route("g", idempotency={"ttl": "60s"})]))
    first = post(w.port, "ck", path="/chunked?n=4&size=3000")
    assert first.status == 200 and first.resp.chunked, first.resp
    again = post(w.port, "ck", path="/chunked?n=4&size=3000")
    assert again.resp.header("Idempotent-Replayed") == "true", again.resp.headers
    assert comparable(again.resp) == comparable(first.resp)
    assert again.resp.trailers == first.resp.trailers
    assert b.stats()["requests"] == 1
