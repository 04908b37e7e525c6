"""Routing: exact host > wildcard host > any host, then longest path prefix, then a route with
methods beats one without; no match -> weir's own 404."""

import re
from types import SimpleNamespace

import pytest

from conftest import Client, make_config


@pytest.fixture(scope="module")
def env(module_launcher):
    bs = {n: module_launcher.backend(n) for n in "abcde"}
    ups = {n: [b.port] for n, b in bs.items()}
    routes = [
        {"path": "/static/", "upstream": "c"},
        {"host": "*.example.com", "path": "/", "upstream": "b"},
        {"host": "api.example.com", "path": "/", "upstream": "a"},
        {"path": "/static/img/", "upstream": "d"},
        {"path": "/m/", "methods": ["POST", "PUT"], "upstream": "e"},
        {"path": "/m/", "methods": ["GET", "DELETE"], "upstream": "b"},
        {"host": "api.example.com", "path": "/v2/", "methods": ["GET"], "upstream": "e"},
    ]
    w = module_launcher.weir(make_config(None, ups, routes))
    return SimpleNamespace(weir=w, port=w.port)


CASES = [
    # host, method, path, expected backend (None = 404 from weir)
    ("api.example.com", "GET", "/", "a"),
    ("API.Example.COM", "GET", "/x", "a"),              # case-insensitive
    ("api.example.com:8080", "GET", "/x", "a"),         # port ignored
    ("api.example.com", "GET", "/static/img/x", "a"),   # exact host beats a longer any-host path
    ("api.example.com", "GET", "/v2/users", "e"),       # same host: longest prefix
    ("api.example.com", "POST", "/v2/users", "a"),      # method mismatch -> next best
    ("www.example.com", "GET", "/", "b"),               # wildcard
    ("a.b.example.com", "GET", "/", "b"),               # wildcard: any depth of subdomain
    ("WWW.EXAMPLE.COM:81", "GET", "/static/x", "b"),    # wildcard beats any-host
    ("example.com", "GET", "/static/x", "c"),           # bare suffix is not a subdomain
    ("other.test", "GET", "/static/x", "c"),
    ("other.test", "GET", "/static/img/logo.png", "d"),  # longest prefix wins
    ("other.test", "GET", "/static/im", "c"),
    ("other.test", "GET", "/m/1", "b"),
    ("other.test", "POST", "/m/1", "e"),                 # method decides between same paths
    ("other.test", "PUT", "/m/1", "e"),
    ("other.test", "DELETE", "/m/1", "b"),
    ("other.test", "PATCH", "/m/1", None),               # no route for that method
    ("other.test", "GET", "/", None),
    ("other.test", "GET", "/staticx", None),
    ("example.com", "GET", "/nothing", None),
    ("notexample.com", "GET", "/", None),                # suffix match needs the dot
]


@pytest.mark.parametrize("host,method,path,want", CASES,
                         ids=["%s %s %s" % c[:3] for c in CASES])
def test_route(env, host, method, path, want):
    with Client(env.port) as c:
        body = b"x" if method in ("POST", "PUT") else None
        r = c.request(method, path, headers={"Host": host}, body=body)
        if want is None:
            assert r.status == 404, r
        else:
            assert r.status == 200, r
            assert r.json()["name"] == want
        # the connection stays usable either way
        assert c.get("/static/ok").status == 200


def test_404_is_weirs_own_error_format(env):
    with Client(env.port) as c:
        r = c.get("/no/such/route", headers={"Host": "nowhere.test"})
        assert r.status == 404
        assert r.header("content-type") == "text/plain; charset=utf-8"
        text = r.text()
        assert text.startswith("404 Not Found"), text
        assert text.endswith("\n")
        m = re.search(r"request id ([0-9a-f]{32})", text)
        assert m, text
        rid = r.header("x-request-id")
        if rid is not None:
            assert rid == m.group(1)
        assert r.header("x-backend") is None


def test_404_keeps_client_provided_request_id(env):
    with Client(env.port) as c:
        r = c.get("/nope", headers={"Host": "nowhere.test", "X-Request-Id": "my-id-1"})
        assert r.status == 404
        assert "my-id-1" in r.text()


def test_absolute_form_target_routes_on_its_authority(env):
    with Client(env.port) as c:
        r = c.get("http://api.example.com:8080/abs?q=1", headers={"Host": "other.test"})
        assert r.status == 200, r
        j = r.json()
        assert j["name"] == "a"
        assert j["path"] == "/abs?q=1", "the upstream must get the origin form"
        assert j["headers"]["host"] == "api.example.com:8080"


def test_route_with_methods_beats_same_route_without(launcher):
    """Same host and path, one route limited to methods: it wins for those methods, the route
    without methods takes the rest."""
    a = launcher.backend("a")
    b = launcher.backend("b")
    w = launcher.weir(make_config(None, {"a": [a.port], "b": [b.port]}, [
        {"path": "/m/", "upstream": "b"},
        {"path": "/m/", "methods": ["POST"], "upstream": "a"},
    ]))
    with Client(w.port) as c:
        assert c.request("POST", "/m/1", body=b"x").json()["name"] == "a"
        assert c.get("/m/1").json()["name"] == "b"
        assert c.request("PUT", "/m/1", body=b"x").json()["name"] == "b"


def test_pipelined_404_then_proxied(env):
    """weir's own 404 and a proxied response, pipelined in one write, come back in order."""
    with Client(env.port) as c:
        c.send(b"GET /nothing HTTP/1.1\r\nHost: other.test\r\n\r\n"
               b"GET /static/p HTTP/1.1\r\nHost: other.test\r\n\r\n"
               b"GET /nothing2 HTTP/1.1\r\nHost: other.test\r\n\r\n"
               b"GET /static/img/q HTTP/1.1\r\nHost: other.test\r\n\r\n")
        r1, r2, r3, r4 = (c.read_response() for _ in range(4))
        assert r1.status == 404 and "404 Not Found" in r1.text()
        assert r2.status == 200 and r2.json()["path"] == "/static/p"
        assert r3.status == 404
        assert r4.status == 200 and r4.json()["name"] == "d"
        assert not c.closed_by_peer(0.2)
