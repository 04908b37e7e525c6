"""Request smuggling and malformed requests: each vector gets a 400 (501 for an unknown transfer
coding), the connection is closed, and the upstream never sees the smuggled request.

Every vector that can carry one embeds a second request for /smuggled; the backend counts
requests per path, so a request for /smuggled at the backend means weir let it through."""

import time
from types import SimpleNamespace

import pytest

from conftest import Client, Closed, make_config

SMUG = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"


def post(headers, body, target=b"/sink", version=b"HTTP/1.1"):
    return (b"POST " + target + b" " + version + b"\r\nHost: x\r\n" + headers + b"\r\n" + body)


# (id, raw request, expected status, head_level)
# head_level: the error is in the head, so the upstream must not see any request at all.
VECTORS = [
    # Content-Length / Transfer-Encoding conflicts
    ("cl-te", post(b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n",
                   b"0\r\n\r\n" + SMUG), 400, True),
    ("te-cl", post(b"Transfer-Encoding: chunked\r\nContent-Length: 40\r\n",
                   b"0\r\n\r\n" + SMUG), 400, True),
    ("dup-cl-equal", post(b"Content-Length: 5\r\nContent-Length: 5\r\n", b"hello" + SMUG),
     400, True),
    ("dup-cl-different", post(b"Content-Length: 5\r\nContent-Length: 41\r\n", b"hello" + SMUG),
     400, True),
    ("cl-list", post(b"Content-Length: 5, 5\r\n", b"hello" + SMUG), 400, True),
    ("cl-plus", post(b"Content-Length: +5\r\n", b"hello" + SMUG), 400, True),
    ("cl-space-inside", post(b"Content-Length: 5 5\r\n", b"hello" + SMUG), 400, True),
    ("cl-hex", post(b"Content-Length: 0x5\r\n", b"hello" + SMUG), 400, True),
    ("cl-empty", post(b"Content-Length: \r\n", b"hello" + SMUG), 400, True),
    ("cl-negative", post(b"Content-Length: -1\r\n", b"hello" + SMUG), 400, True),
    ("cl-overflow", post(b"Content-Length: 99999999999999999999999999\r\n", b"hello" + SMUG),
     400, True),
    ("cl-2^64", post(b"Content-Length: 18446744073709551616\r\n", b"hello" + SMUG), 400, True),
    ("te-gzip-alone", post(b"Transfer-Encoding: gzip\r\n", b"hello" + SMUG), 400, True),
    ("te-chunked-then-gzip", post(b"Transfer-Encoding: chunked, gzip\r\n",
                                  b"0\r\n\r\n" + SMUG), 400, True),
    ("te-chunked-twice", post(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                              b"0\r\n\r\n" + SMUG), 400, True),
    ("te-unknown", post(b"Transfer-Encoding: xyz\r\n", b"0\r\n\r\n" + SMUG), 501, True),
    ("te-http10", post(b"Transfer-Encoding: chunked\r\n", b"0\r\n\r\n" + SMUG,
                       version=b"HTTP/1.0"), 400, True),
    ("te-space-before-colon", post(b"Transfer-Encoding : chunked\r\nContent-Length: 5\r\n",
                                   b"0\r\n\r\n" + SMUG), 400, True),
    # header syntax
    ("host-space-before-colon", b"GET / HTTP/1.1\r\nHost : x\r\n\r\n" + SMUG, 400, True),
    ("obs-fold", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n" + SMUG, 400, True),
    ("obs-fold-tab", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n" + SMUG, 400, True),
    ("leading-space-first-header", b"GET / HTTP/1.1\r\n Host: x\r\n\r\n" + SMUG, 400, True),
    ("bare-lf-request-line", b"GET / HTTP/1.1\nHost: x\r\n\r\n" + SMUG, 400, True),
    ("bare-lf-header", b"GET / HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n" + SMUG, 400, True),
    ("bare-lf-end-of-head", b"GET / HTTP/1.1\r\nHost: x\r\n\n" + SMUG, 400, True),
    ("bare-cr-header", b"GET / HTTP/1.1\r\nHost: x\rX-A: b\r\n\r\n" + SMUG, 400, True),
    ("bare-cr-request-line", b"GET / HTTP/1.1\rHost: x\r\n\r\n" + SMUG, 400, True),
    ("nul-in-value", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n" + SMUG, 400, True),
    ("ctl-01-in-value", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n" + SMUG, 400, True),
    ("ctl-1f-in-value", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x1fb\r\n\r\n" + SMUG, 400, True),
    ("del-in-value", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x7fb\r\n\r\n" + SMUG, 400, True),
    ("nul-in-host", b"GET / HTTP/1.1\r\nHost: x\x00y\r\n\r\n" + SMUG, 400, True),
    ("space-in-name", b"GET / HTTP/1.1\r\nHost: x\r\nX Y: z\r\n\r\n" + SMUG, 400, True),
    ("ctl-in-name", b"GET / HTTP/1.1\r\nHost: x\r\nX\x01: z\r\n\r\n" + SMUG, 400, True),
    ("empty-name", b"GET / HTTP/1.1\r\nHost: x\r\n: z\r\n\r\n" + SMUG, 400, True),
    ("no-colon", b"GET / HTTP/1.1\r\nHost: x\r\nX-A\r\n\r\n" + SMUG, 400, True),
    # request line
    ("bad-method-char", b"GE(T / HTTP/1.1\r\nHost: x\r\n\r\n" + SMUG, 400, True),
    ("two-spaces", b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n" + SMUG, 400, True),
    ("no-target", b"GET HTTP/1.1\r\nHost: x\r\n\r\n" + SMUG, 400, True),
    ("space-in-target", b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n" + SMUG, 400, True),
    ("version-1.2", b"GET / HTTP/1.2\r\nHost: x\r\n\r\n" + SMUG, 400, True),
    ("version-2.0", b"GET / HTTP/2.0\r\nHost: x\r\n\r\n" + SMUG, 400, True),
    ("version-1.1x", b"GET / HTTP/1.1x\r\nHost: x\r\n\r\n" + SMUG, 400, True),
    ("version-lowercase", b"GET / http/1.1\r\nHost: x\r\n\r\n" + SMUG, 400, True),
    ("version-missing", b"GET /\r\nHost: x\r\n\r\n" + SMUG, 400, True),
    # Host
    ("missing-host-1.1", b"GET / HTTP/1.1\r\nX-A: b\r\n\r\n" + SMUG, 400, True),
    ("two-hosts", b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n" + SMUG, 400, True),
    # chunked body framing
    ("chunk-size-zz", post(b"Transfer-Encoding: chunked\r\n",
                           b"zz\r\nhello\r\n0\r\n\r\n" + SMUG), 400, False),
    ("chunk-size-negative", post(b"Transfer-Encoding: chunked\r\n",
                                 b"-1\r\nhello\r\n0\r\n\r\n" + SMUG), 400, False),
    ("chunk-size-overflow", post(b"Transfer-Encoding: chunked\r\n",
                                 b"fffffffffffffffffffff\r\nhello\r\n0\r\n\r\n" + SMUG),
     400, False),
    ("chunk-size-overflow-17", post(b"Transfer-Encoding: chunked\r\n",
                                    b"10000000000000005\r\nhello\r\n0\r\n\r\n" + SMUG),
     400, False),
    ("chunk-size-empty", post(b"Transfer-Encoding: chunked\r\n",
                              b"\r\nhello\r\n0\r\n\r\n" + SMUG), 400, False),
    ("chunk-size-space-prefix", post(b"Transfer-Encoding: chunked\r\n",
                                     b" 5\r\nhello\r\n0\r\n\r\n" + SMUG), 400, False),
    ("chunk-size-bare-lf", post(b"Transfer-Encoding: chunked\r\n",
                                b"5\nhello\r\n0\r\n\r\n" + SMUG), 400, False),
    ("chunk-data-no-crlf", post(b"Transfer-Encoding: chunked\r\n",
                                b"5\r\nhelloXX0\r\n\r\n" + SMUG), 400, False),
    ("chunk-data-bare-lf", post(b"Transfer-Encoding: chunked\r\n",
                                b"5\r\nhello\n0\r\n\r\n" + SMUG), 400, False),
    ("chunk-data-too-long", post(b"Transfer-Encoding: chunked\r\n",
                                 b"3\r\nhello\r\n0\r\n\r\n" + SMUG), 400, False),
    ("last-chunk-bare-lf", post(b"Transfer-Encoding: chunked\r\n",
                                b"5\r\nhello\r\n0\n\n" + SMUG), 400, False),
]


@pytest.fixture(scope="module")
def env(module_launcher):
    a = module_launcher.backend("a")
    w = module_launcher.weir(make_config(None, {"be": [a.port]},
                                         [{"path": "/", "upstream": "be"}]))
    return SimpleNamespace(weir=w, port=w.port, a=a)


def smuggled_count(stats):
    return stats["paths"].get("/smuggled", 0)


@pytest.mark.parametrize("raw,status,head_level", [v[1:] for v in VECTORS],
                         ids=[v[0] for v in VECTORS])
def test_smuggling_vector(env, raw, status, head_level):
    before = env.a.stats()
    with Client(env.port, timeout=5) as c:
        c.send(raw)
        try:
            r = c.read_response()
        except Closed as e:
            pytest.fail("weir closed the connection without a response (%s); raw=%r"
                        % (e, raw))
        assert r.status == status, "raw=%r got %r" % (raw, r)
        assert r.header("content-type") == "text/plain; charset=utf-8"
        assert r.text().startswith("%d " % status), r.text()
        assert c.closed_by_peer(3.0), "connection not closed after %d" % status
    time.sleep(0.1)
    after = env.a.stats()
    assert smuggled_count(after) == smuggled_count(before), "the smuggled request got through"
    if head_level:
        assert after["requests"] == before["requests"], \
            "a request with a malformed head reached the upstream: %r" % after["paths"]
    else:
        assert after["requests"] - before["requests"] <= 1
    # weir itself is still fine
    with Client(env.port) as c:
        assert c.get("/ok").status == 200


def test_valid_request_still_works_after_all_vectors(env):
    with Client(env.port) as c:
        for i in range(3):
            r = c.request("POST", "/sink", body=b"x" * 10)
            assert r.status == 200 and r.json()["body_len"] == 10


@pytest.mark.parametrize("raw", [
    b"HEAD / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    b"HEAD /\x01 HTTP/1.1\r\nHost: a\r\n\r\n",
    b"HEAD / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"HEAD / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n",
], ids=["dup-host", "bad-target", "cl-te", "bad-field"])
def test_malformed_head_request_gets_a_bodiless_400(env, raw):
    """RFC 9110 §9.3.2: a response to HEAD has no content, error replies included."""
    with Client(env.port, timeout=5) as c:
        c.send(raw)
        r = c.read_response("HEAD")
        assert r.status == 400
        assert int(r.header("content-length")) > 0  # what a GET would have carried
        assert c.read_all(2.0) == b"", "a 400 to HEAD carried a body"
