"""Upstream failures: refused -> 502, connect timeout -> 504, no response in time -> 504,
malformed response -> 502 and that upstream connection is never reused."""

import re
import socket
import time
from types import SimpleNamespace

import pytest

from conftest import Client, Closed, free_port, make_config

KINDS = ["cl-te", "dup-cl", "bare-lf", "bad-chunk", "bad-status", "obs-fold", "nul"]


@pytest.fixture(scope="module")
def silent():
    """A listener that completes TCP handshakes (backlog) but never accepts or answers."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(1024)
    yield s.getsockname()[1]
    s.close()


@pytest.fixture(scope="module")
def full_backlog():
    """A listener whose accept queue is full: new SYNs are dropped, so connect() times out."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(0)
    port = s.getsockname()[1]
    fillers = []
    # Fill the accept queue (backlog 0 still queues one; keep a few in flight to be sure).
    for _ in range(3):
        f = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        f.setblocking(False)
        try:
            f.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(f)
    time.sleep(0.2)
    # Check that a new connect really hangs.
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.settimeout(0.5)
    hangs = False
    try:
        probe.connect(("127.0.0.1", port))
    except socket.timeout:
        hangs = True
    except OSError:
        pass
    probe.close()
    yield port if hangs else None
    for f in fillers:
        f.close()
    s.close()


@pytest.fixture(scope="module")
def env(module_launcher, silent, full_backlog):
    a = module_launcher.backend("a")
    refused = free_port()
    t = {"connect": "1s", "response": "1s", "idle": "5s"}
    ups = {
        "good": {"servers": [a.port], "timeouts": t},
        "refused": {"servers": [refused], "timeouts": t},
        "silent": {"servers": [silent], "timeouts": t},
        "blackhole": {"servers": [full_backlog or refused], "timeouts": t},
    }
    routes = [
        {"path": "/refused/", "upstream": "refused"},
        {"path": "/silent/", "upstream": "silent"},
        {"path": "/blackhole/", "upstream": "blackhole"},
        {"path": "/", "upstream": "good"},
    ]
    # one worker: the pool reuse assertions below need every request on the same pool
    w = module_launcher.weir(make_config(None, ups, routes, workers=1))
    return SimpleNamespace(weir=w, port=w.port, a=a, blackhole=full_backlog)


def assert_weir_error(r, status):
    assert r.status == status, r
    assert r.header("content-type") == "text/plain; charset=utf-8"
    text = r.text()
    assert re.match(r"^%d [A-Z]" % status, text), text
    assert re.search(r"request id [0-9a-f]{32}", text), text


def test_connect_refused_is_502(env):
    with Client(env.port) as c:
        r = c.get("/refused/x")
        assert_weir_error(r, 502)
        # a 502 is not a client error: the client connection may stay open
        if not c.closed_by_peer(0.1):
            assert c.get("/fine").status == 200


def test_response_timeout_is_504(env):
    with Client(env.port) as c:
        t0 = time.monotonic()
        r = c.get("/silent/x")
        took = time.monotonic() - t0
        assert_weir_error(r, 504)
        assert 0.8 <= took < 5.0, took


def test_slow_upstream_over_response_timeout_is_504(env):
    with Client(env.port) as c:
        t0 = time.monotonic()
        r = c.get("/slow?ms=3000")
        assert_weir_error(r, 504)
        assert time.monotonic() - t0 < 2.9
    with Client(env.port) as c:
        assert c.get("/slow?ms=200").status == 200


def test_connect_timeout_is_504(env):
    if env.blackhole is None:
        pytest.skip("cannot make connect() hang on this kernel (accept queue trick failed)")
    with Client(env.port) as c:
        t0 = time.monotonic()
        r = c.get("/blackhole/x")
        assert_weir_error(r, 504)
        assert time.monotonic() - t0 < 5.0


@pytest.mark.parametrize("kind", KINDS)
def test_malformed_upstream_response_is_502(env, kind):
    with Client(env.port) as c:
        try:
            r = c.get("/bad/%s" % kind)
        except Closed as e:
            assert c.received, \
                "weir closed the connection without any response for /bad/%s" % kind
            # Only acceptable when a valid head had already been forwarded (bad-chunk): then
            # the honest thing left is to cut the body short, which is what happened.
            assert kind == "bad-chunk", "truncated response for /bad/%s: %s" % (kind, e)
            return
        assert_weir_error(r, 502)
    with Client(env.port) as c:
        assert c.get("/after-bad").status == 200


@pytest.mark.parametrize("kind", KINDS)
def test_upstream_connection_not_reused_after_malformed_response(env, kind):
    before = env.a.stats()
    with Client(env.port) as c:
        # warm the pool, then get the bad response on a pooled connection that stays open
        assert c.get("/warm").status == 200
        try:
            c.get("/bad/%s?keep=1" % kind)
        except (Closed, AssertionError):
            pass
    for i in range(5):
        with Client(env.port) as c:
            r = c.get("/next/%d" % i)
            assert r.status == 200
    after = env.a.stats()
    assert after["after_bad"] == before["after_bad"], \
        "weir sent a request on an upstream connection that had returned a malformed response"


def test_weir_still_healthy(env):
    with Client(env.port) as c:
        for i in range(5):
            assert c.get("/healthy/%d" % i).status == 200
