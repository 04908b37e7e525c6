"""Proxying scenarios: keep-alive, HTTP/1.0, pipelining, chunked bodies, 100-continue,
hop-by-hop stripping, forwarded headers and request ids."""

import hashlib
import re
import time
from types import SimpleNamespace

import pytest

from conftest import Client, make_config

HEX32 = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture(scope="module")
def env(module_launcher):
    a = module_launcher.backend("a")
    b = module_launcher.backend("b")
    cfg = make_config(None, {"one": [a.port], "two": [a.port, b.port]},
                      [{"path": "/rr/", "upstream": "two"}, {"path": "/", "upstream": "one"}])
    w = module_launcher.weir(cfg)
    return SimpleNamespace(weir=w, port=w.port, a=a, b=b)


def client(env, timeout=10.0):
    return Client(env.port, timeout=timeout)


# ---- keep-alive --------------------------------------------------------------------------

def test_keepalive_several_requests_one_connection(env):
    before = env.a.stats()["connections"]
    with client(env) as c:
        for i in range(10):
            r = c.get("/ka/%d" % i)
            assert r.status == 200, r
            j = r.json()
            assert j["name"] == "a"
            assert j["path"] == "/ka/%d" % i
            assert (r.header("connection") or "").lower() != "close"
        assert not c.closed_by_peer(0.2)
    # one client connection lives on one worker: its upstream connection is pooled and reused
    # (each stats() call is itself one backend connection)
    assert env.a.stats()["connections"] - before <= 3


def test_connection_close_request(env):
    with client(env) as c:
        r = c.get("/bye", headers={"Connection": "close"})
        assert r.status == 200
        assert r.json()["path"] == "/bye"
        assert c.closed_by_peer(3.0), "weir kept the connection open after Connection: close"


def test_upstream_closing_its_connection_is_transparent(env):
    with client(env) as c:
        r = c.get("/close")
        assert r.status == 200
        # the upstream's Connection: close is hop-by-hop; the client connection stays usable
        for i in range(3):
            r = c.get("/after-close/%d" % i)
            assert r.status == 200, r
            assert r.json()["path"] == "/after-close/%d" % i


def test_round_robin_over_two_servers(env):
    names = set()
    with client(env) as c:
        for i in range(6):
            r = c.get("/rr/%d" % i)
            assert r.status == 200
            names.add(r.json()["name"])
    assert names == {"a", "b"}


def test_head_request(env):
    with client(env) as c:
        r = c.request("HEAD", "/bytes?n=12345")
        assert r.status == 200
        assert r.header("content-length") == "12345"
        assert r.body == b""
        r = c.get("/after-head")
        assert r.status == 200 and r.json()["path"] == "/after-head"


@pytest.mark.parametrize("code", [201, 204, 304, 404, 418, 500, 503])
def test_status_codes_pass_through(env, code):
    with client(env) as c:
        r = c.get("/status/%d" % code)
        assert r.status == code
        if code in (204, 304):
            assert r.body == b""
        else:
            assert r.body == b"status %d\n" % code
        r = c.get("/next")
        assert r.status == 200


# ---- HTTP/1.0 ----------------------------------------------------------------------------

def test_http10_client_connection_closes(env):
    with client(env) as c:
        c.send(b"GET /ten HTTP/1.0\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert r.version in ("HTTP/1.0", "HTTP/1.1")
        assert r.json()["path"] == "/ten"
        assert not r.chunked
        assert c.closed_by_peer(3.0)


def test_http10_keepalive_with_known_length(env):
    with client(env) as c:
        for i in range(3):
            c.send(b"GET /ten-ka/%d HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n" % i)
            r = c.read_response()
            assert r.status == 200
            assert r.header("content-length") is not None
            assert not r.chunked
            assert r.json()["path"] == "/ten-ka/%d" % i
        assert not c.closed_by_peer(0.2)


def test_http10_client_gets_chunked_upstream_body_unchunked(env):
    with client(env) as c:
        c.send(b"GET /chunked?n=4&size=100 HTTP/1.0\r\nHost: x\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert not r.chunked, "an HTTP/1.0 client must never get Transfer-Encoding: chunked"
        assert r.body == b"a" * 100 + b"b" * 100 + b"c" * 100 + b"d" * 100
        assert c.closed_by_peer(3.0)


# ---- pipelining --------------------------------------------------------------------------

def test_pipelining_three_requests_in_one_write(env):
    with client(env) as c:
        h = "Host: x\r\n"
        data = ("GET /slow?ms=300 HTTP/1.1\r\n%s\r\n"
                "GET /p2 HTTP/1.1\r\n%s\r\n"
                "GET /p3 HTTP/1.1\r\n%s\r\n" % (h, h, h)).encode()
        c.send(data)
        r1, r2, r3 = c.read_response(), c.read_response(), c.read_response()
        assert [r1.status, r2.status, r3.status] == [200, 200, 200]
        assert r1.json()["path"] == "/slow?ms=300"
        assert r2.json()["path"] == "/p2"
        assert r3.json()["path"] == "/p3"


def test_pipelining_with_bodies_and_close(env):
    with client(env) as c:
        data = (b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
                b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        c.send(data)
        r1, r2, r3 = c.read_response(), c.read_response(), c.read_response()
        assert r1.body == b"hello"
        assert r2.body == b"abcde"
        assert r3.json()["path"] == "/last"
        assert c.closed_by_peer(3.0)


# ---- chunked -----------------------------------------------------------------------------

def test_chunked_request_body_with_extension_and_trailer(env):
    chunks = [b"x" * 1, b"y" * 1000, b"z" * 70000, b"w" * 17]
    body = b"".join(chunks)
    wire = b"".join(b"%x;ext=1\r\n" % len(ch) + ch + b"\r\n" for ch in chunks)
    wire += b"0\r\nX-Checksum: 42\r\n\r\n"
    with client(env) as c:
        c.send(b"POST /sink HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + wire)
        r = c.read_response()
        assert r.status == 200
        j = r.json()
        assert j["body_len"] == len(body)
        assert j["body_sha256"] == hashlib.sha256(body).hexdigest()
        # the connection stays usable after a chunked body
        assert c.get("/after-chunked").status == 200


def test_chunked_request_body_sent_slowly(env):
    with client(env) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        for piece in (b"5\r\nhel", b"lo\r\n", b"6", b"\r\n world\r", b"\n0\r\n", b"\r\n"):
            time.sleep(0.05)
            c.send(piece)
        r = c.read_response()
        assert r.status == 200 and r.body == b"hello world"


@pytest.mark.parametrize("n,size", [(3, 10), (1000, 1), (5, 200000)])
def test_chunked_response(env, n, size):
    with client(env) as c:
        r = c.get("/chunked?n=%d&size=%d" % (n, size))
        assert r.status == 200
        expect = b"".join(bytes([97 + i % 26]) * size for i in range(n))
        assert len(r.body) == len(expect)
        assert r.body == expect
        # trailer: delivered or dropped, never corrupting the body or the connection
        for k, v in r.trailers:
            if k.lower() == "x-trailer":
                assert v == "done"
        assert not r.has("trailer") or r.trailers, "Trailer header without trailers"
        assert c.get("/after-chunked-response").status == 200


def test_close_delimited_upstream_response(env):
    n = 300001
    with client(env) as c:
        r = c.get("/eof?n=%d" % n)
        assert r.status == 200
        assert len(r.body) == n
        assert r.body == (bytes(range(256)) * (n // 256 + 1))[:n]
        if r.chunked or r.header("content-length"):
            assert c.get("/after-eof").status == 200


@pytest.mark.parametrize("n", [10, 100000, 3000000])
def test_close_delimited_upstream_response_after_keepalive_request(env, n):
    """The client connection already carried a request (so the upstream connection comes from
    the pool): the close-delimited body must still arrive whole and the connection end."""
    with client(env, timeout=5) as c:
        assert c.get("/before-eof").status == 200
        r = c.get("/eof?n=%d" % n)
        assert r.status == 200
        assert len(r.body) == n
        if r.eof_delimited or (r.header("connection") or "").lower() == "close":
            assert c.closed_by_peer(3.0)
        else:
            assert c.get("/after-eof").status == 200


def test_http10_keepalive_with_unknown_length_closes(env):
    with client(env) as c:
        c.send(b"GET /chunked?n=3&size=5 HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert not r.chunked
        assert r.body == b"aaaaabbbbbccccc"
        if r.header("content-length") is None:
            assert c.closed_by_peer(3.0), "close-delimited body but the connection stayed open"


# ---- 100-continue ------------------------------------------------------------------------

def test_expect_100_continue(env):
    with client(env) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n"
               b"Expect: 100-continue\r\n\r\n")
        interim = c.read_response(interim=True)
        assert interim.status == 100, interim
        assert interim.version == "HTTP/1.1"
        c.send(b"hello world")
        r = c.read_response()
        assert r.status == 200
        assert r.body == b"hello world"
        assert c.get("/after-continue").status == 200


def test_expect_100_continue_body_sent_without_waiting(env):
    with client(env) as c:
        r = c.request("POST", "/echo", headers={"Expect": "100-continue"}, body=b"eager")
        assert r.status == 200 and r.body == b"eager"


# ---- hop-by-hop headers ------------------------------------------------------------------

def test_hop_by_hop_request_headers_are_stripped(env):
    with client(env) as c:
        r = c.get("/hop", headers=[
            ("Connection", "X-Foo, X-Bar"), ("Connection", "keep-alive"),
            ("X-Foo", "1"), ("X-Bar", "2"), ("Keep-Alive", "timeout=5"), ("TE", "trailers"),
            ("Trailer", "X-T"), ("Proxy-Connection", "keep-alive"),
            ("Proxy-Authorization", "Basic Zm9vOmJhcg=="), ("Proxy-Foo", "z"),
            ("Upgrade", "foo/1"), ("X-Keep", "yes")])
        assert r.status == 200
        seen = r.json()["headers"]
        for h in ("connection", "x-foo", "x-bar", "keep-alive", "te", "trailer",
                  "proxy-connection", "proxy-authorization", "proxy-foo", "upgrade",
                  "transfer-encoding"):
            assert h not in seen, "%s reached the upstream: %r" % (h, seen)
        assert seen["x-keep"] == "yes"
        assert c.get("/still-open").status == 200


def test_many_connection_listed_fields_are_all_stripped(env):
    """More names in Connection than weir keeps parsed (8): the rest are found by scanning."""
    names = ["X-H%d" % i for i in range(12)]
    with client(env) as c:
        r = c.get("/hop", headers=[("Connection", " , ".join(names[:6]) + ",close"),
                                   ("Connection", "\t" + ",".join(names[6:]))]
                  + [(n, "v") for n in names] + [("X-Keep", "yes")])
        assert r.status == 200
        seen = r.json()["headers"]
        assert not [n for n in names if n.lower() in seen], seen
        assert seen["x-keep"] == "yes"


def test_hop_by_hop_response_headers_are_stripped(env):
    with client(env) as c:
        r = c.get("/headers?Connection=X-Foo&X-Foo=1&Keep-Alive=timeout%3D5&Proxy-Foo=1"
                  "&Trailer=X-T&Upgrade=foo&TE=trailers&Proxy-Connection=keep-alive&X-End=ok")
        assert r.status == 200
        names = {k.lower() for k, _ in r.headers}
        for h in ("x-foo", "keep-alive", "proxy-foo", "trailer", "upgrade", "te",
                  "proxy-connection"):
            assert h not in names, "%s reached the client: %r" % (h, r.headers)
        conn = (r.header("connection") or "").lower()
        assert "x-foo" not in conn
        assert r.header("x-end") == "ok"
        assert r.json()["path"].startswith("/headers?")
        assert c.get("/still-open").status == 200


def test_h2c_upgrade_is_not_honoured(env):
    with client(env) as c:
        r = c.get("/h2c", headers=[("Connection", "Upgrade, HTTP2-Settings"),
                                   ("Upgrade", "h2c"),
                                   ("HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA")])
        assert r.status == 200
        assert r.version == "HTTP/1.1"
        seen = r.json()["headers"]
        assert "upgrade" not in seen
        assert "http2-settings" not in seen
        assert "connection" not in seen
        assert c.get("/after-h2c").status == 200


# ---- forwarded headers -------------------------------------------------------------------

def test_forwarded_headers_added(env):
    with client(env) as c:
        r = c.get("/fwd", headers={"Host": "front.example:8080"})
        assert r.status == 200
        seen = r.json()["headers"]
        assert seen["x-forwarded-for"] == "127.0.0.1"
        assert seen["x-forwarded-proto"] == "http"
        assert seen["x-forwarded-host"] == "front.example:8080"
        assert seen["via"] == "1.1 weir"
        assert seen["host"] == "front.example:8080", "Host must be passed through unchanged"
        assert r.header("via") == "1.1 weir"


def test_forwarded_headers_appended_to_existing(env):
    with client(env) as c:
        r = c.get("/fwd2", headers=[("X-Forwarded-For", "203.0.113.7"), ("Via", "1.0 edge")])
        seen = r.json()["headers"]
        assert seen["x-forwarded-for"] == "203.0.113.7, 127.0.0.1"
        assert seen["via"] == "1.0 edge, 1.1 weir"


def test_response_via_appended(env):
    with client(env) as c:
        r = c.get("/headers?Via=1.1%20origin")
        assert r.status == 200
        assert r.header("via") == "1.1 origin, 1.1 weir"


# ---- request ids -------------------------------------------------------------------------

def test_request_id_generated_and_returned(env):
    ids = set()
    with client(env) as c:
        for _ in range(5):
            r = c.get("/rid")
            rid = r.header("x-request-id")
            assert rid and HEX32.match(rid), r.headers
            assert r.json()["headers"]["x-request-id"] == rid
            ids.add(rid)
    assert len(ids) == 5


def test_request_id_passed_through(env):
    with client(env) as c:
        r = c.get("/rid", headers={"X-Request-Id": "abc-123_XYZ.789"})
        assert r.header("x-request-id") == "abc-123_XYZ.789"
        assert r.json()["headers"]["x-request-id"] == "abc-123_XYZ.789"


@pytest.mark.parametrize("bad", ["a" * 129, "has space", ""])
def test_invalid_request_id_replaced(env, bad):
    with client(env) as c:
        r = c.get("/rid", headers={"X-Request-Id": bad})
        assert r.status == 200
        rid = r.header("x-request-id")
        assert rid and HEX32.match(rid), r.headers
        assert r.json()["headers"]["x-request-id"] == rid


def test_request_id_128_chars_is_valid(env):
    good = "R" * 128
    with client(env) as c:
        r = c.get("/rid", headers={"X-Request-Id": good})
        assert r.header("x-request-id") == good
        assert r.json()["headers"]["x-request-id"] == good


def test_request_target_and_method_forwarded_unchanged(env):
    with client(env) as c:
        r = c.request("DELETE", "/a/b%20c/?x=1&y=%2F", headers={"X-Multi": "1"})
        j = r.json()
        assert j["method"] == "DELETE"
        assert j["path"] == "/a/b%20c/?x=1&y=%2F"
        r = c.request("PATCH", "/patch", body=b"{}")
        assert r.json()["method"] == "PATCH" and r.json()["body_len"] == 2


def test_repeated_request_headers_kept(env):
    with client(env) as c:
        r = c.get("/rep", headers=[("X-Rep", "1"), ("X-Rep", "2"), ("Cookie", "a=1")])
        seen = r.json()["headers"]
        assert seen["x-rep"] == ["1", "2"] or seen["x-rep"] == "1, 2"
        assert seen["cookie"] == "a=1"
