"""Limits and client timeouts: 414, 431 (bytes and count), 413; the connection closes after."""

import time
from types import SimpleNamespace

import pytest

from conftest import Client, Closed, make_config


@pytest.fixture(scope="module")
def env(module_launcher):
    a = module_launcher.backend("a")
    limits = {"max_request_line": "1k", "max_header_bytes": "4k", "max_headers": 20,
              "max_body": "1k"}
    w = module_launcher.weir(make_config(None, {"be": [a.port]}, [{"path": "/", "upstream": "be"}],
                                         limits=limits, timeouts={"client_header": "1s", "client_body": "1s",
                                                   "keepalive": "1s"}))
    return SimpleNamespace(weir=w, port=w.port, a=a)


def expect_error_and_close(port, raw, status):
    with Client(port, timeout=5) as c:
        c.send(raw)
        try:
            r = c.read_response()
        except Closed as e:
            pytest.fail("no %d response: %s" % (status, e))
        assert r.status == status, r
        assert r.header("content-type") == "text/plain; charset=utf-8"
        assert r.text().startswith("%d " % status), r.text()
        assert c.closed_by_peer(3.0), "connection not closed after %d" % status
        return r


def test_within_limits_ok(env):
    with Client(env.port) as c:
        r = c.get("/" + "a" * 900, headers=[("X-H%d" % i, "v" * 100) for i in range(15)])
        assert r.status == 200
        r = c.request("POST", "/sink", body=b"b" * 1024)
        assert r.status == 200 and r.json()["body_len"] == 1024


def test_414_request_line_too_long(env):
    before = env.a.stats()["requests"]
    expect_error_and_close(env.port, b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414)
    assert env.a.stats()["requests"] == before


def test_414_request_line_too_long_without_newline_yet(env):
    # weir must not wait for the end of a request line that is already over the limit
    with Client(env.port, timeout=5) as c:
        c.send(b"GET /" + b"a" * 4000)
        r = c.read_response()
        assert r.status == 414
        assert c.closed_by_peer(3.0)


def test_431_header_bytes(env):
    hdrs = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 500) for i in range(10))
    expect_error_and_close(env.port, b"GET / HTTP/1.1\r\nHost: x\r\n" + hdrs + b"\r\n", 431)


def test_431_one_huge_header(env):
    expect_error_and_close(env.port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"v" * 8000
                           + b"\r\n\r\n", 431)


def test_431_too_many_headers(env):
    hdrs = b"".join(b"X-H%d: v\r\n" % i for i in range(30))
    expect_error_and_close(env.port, b"GET / HTTP/1.1\r\nHost: x\r\n" + hdrs + b"\r\n", 431)


def test_413_content_length_over_max_body(env):
    before = env.a.stats()["requests"]
    expect_error_and_close(env.port, b"POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n"
                           + b"x" * 2000, 413)
    assert env.a.stats()["requests"] == before


def test_413_content_length_without_body_sent(env):
    # the answer must not wait for a body it is going to refuse anyway
    expect_error_and_close(env.port, b"POST /sink HTTP/1.1\r\nHost: x\r\n"
                           b"Content-Length: 100000000\r\n\r\n", 413)


def test_413_chunked_body_over_max_body(env):
    body = b"".join(b"100\r\n" + b"c" * 256 + b"\r\n" for _ in range(8)) + b"0\r\n\r\n"
    expect_error_and_close(env.port, b"POST /sink HTTP/1.1\r\nHost: x\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n" + body, 413)


def test_client_header_timeout_closes(env):
    with Client(env.port, timeout=5) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n")
        t0 = time.monotonic()
        raw = c.read_all(timeout=5)
        took = time.monotonic() - t0
        assert took < 4.0, "weir kept a stalled request head open for %.1fs" % took
        if raw:
            assert raw.startswith(b"HTTP/1.1 408"), raw[:100]


def test_413_with_expect_100_continue(env):
    """A body that is going to be refused is not asked for: the final 413 comes (a 100 before
    it is tolerated) without the client sending the body."""
    with Client(env.port, timeout=5) as c:
        c.send(b"POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n"
               b"Expect: 100-continue\r\n\r\n")
        r = c.read_response()
        assert r.status == 413
        assert c.closed_by_peer(3.0)


def test_client_body_timeout_closes(env):
    before = env.a.stats()["requests"]
    with Client(env.port, timeout=6) as c:
        c.send(b"POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
        t0 = time.monotonic()
        raw = c.read_all(timeout=6)
        took = time.monotonic() - t0
        assert took < 4.0, "weir waited %.1fs for a stalled body (client_body: 1s)" % took
        if raw:
            assert raw.startswith(b"HTTP/1.1 408") or raw.startswith(b"HTTP/1.1 400"), raw[:100]
    assert env.a.stats()["requests"] - before <= 1


def test_keepalive_timeout_closes_idle_connection(env):
    with Client(env.port, timeout=6) as c:
        assert c.get("/ka").status == 200
        t0 = time.monotonic()
        assert c.closed_by_peer(5.0), "idle keep-alive connection not closed (keepalive: 1s)"
        assert 0.5 < time.monotonic() - t0 < 4.0
