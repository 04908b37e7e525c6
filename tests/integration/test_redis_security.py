"""Security state shared by weir instances through Redis (issue 15): a token revoked through
one instance's admin API is rejected by the others — at once through the "revoke" event
(pub/sub), and by an instance started later through the periodic re-read of the list in Redis
(security/revocation_sync.h)."""

import time

import pytest

from conftest import Client
from test_redis_state import REDIS, instances, redis  # noqa: F401
from test_security_auth import AUD, ISS, SECRET, get, sign

pytestmark = pytest.mark.skipif(REDIS is None, reason="redis-server is not installed")

JWT = {"issuers": [ISS], "audiences": [AUD], "keys": [{"alg": "HS256", "secret": SECRET}]}


def until(fn, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not fn():
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_revoke_on_one_instance_rejects_on_the_others(launcher, redis):  # noqa: F811
    b = launcher.backend("b")
    ups = {"g": [b.port]}
    routes = [{"path": "/", "upstream": "g", "jwt": JWT}]
    ws = instances(launcher, redis, ups, routes, n=2)
    tok = sign(SECRET, "HS256", jti="t-1")
    bob = sign(SECRET, "HS256", sub="bob", jti="t-2")
    for w in ws:
        assert get(w, "/", tok).status == 200  # cached as valid on every instance
        assert get(w, "/", bob).status == 200
    with Client(ws[0].aport) as c:
        assert c.request("POST", "/revoke?jti=t-1&ttl=60").status == 200
        assert c.request("POST", "/revoke?sub=bob&ttl=60").status == 200
    t0 = time.monotonic()
    until(lambda: get(ws[1], "/", tok).status == 401, timeout=1.0)  # the event: well below 2 s
    assert time.monotonic() - t0 < 1.0
    assert "revoked" in get(ws[1], "/", tok).text()
    assert get(ws[1], "/", bob).status == 401
    assert get(ws[1], "/", sign(SECRET, "HS256", sub="carol")).status == 200
    with Client(ws[1].aport) as c:
        listed = {(e["kind"], e["value"]) for e in c.get("/revoke").json()}
    assert {("jti", "t-1"), ("sub", "bob")} <= listed
    # an instance started afterwards reads the list from Redis
    late = instances(launcher, redis, ups, routes, n=1)[0]
    until(lambda: get(late, "/", tok).status == 401, timeout=5.0)
    assert get(late, "/", bob).status == 401
    assert get(late, "/", sign(SECRET, "HS256", sub="carol")).status == 200


def test_lockout_through_one_instance_blocks_on_the_others(launcher, redis):  # noqa: F811
    """Three failures from 127.0.0.2 through instance A lock that address out on A and B (the
    lock is in Redis; the check asks it); an admin unlock on B lifts it everywhere; failures
    through different instances add up (one script per failure counts and locks in Redis)."""
    from test_security_edge import SrcClient, admin_req, status
    b = launcher.backend("b")
    routes = [{"path": "/status/", "upstream": "g",
               "lockout": {"max_failures": 3, "window": "5s", "lock": "10s",
                           "max_lock": "60s", "zone": "login"}}]
    ws = instances(launcher, redis, {"g": [b.port]}, routes, n=2)
    a, bb = ws
    assert status(bb.port, "/status/200", "127.0.0.2") == 200
    for _ in range(3):
        assert status(a.port, "/status/401", "127.0.0.2") == 401
    until(lambda: status(bb.port, "/status/200", "127.0.0.2") == 429, timeout=1.0)
    with SrcClient(bb.port, "127.0.0.2") as c:
        r = c.get("/status/200")
        assert r.status == 429 and int(r.header("Retry-After")) in range(8, 11)
    assert status(bb.port, "/status/200", "127.0.0.3") == 200  # another address: not locked
    assert status(a.port, "/status/200", "127.0.0.2") == 429
    r = admin_req(bb.aport, "POST", "/lockouts/unlock?key=login%7Cip%7C127.0.0.2")
    assert r.status == 200
    until(lambda: status(bb.port, "/status/200", "127.0.0.2") == 200, timeout=1.0)
    assert status(a.port, "/status/200", "127.0.0.2") == 200  # A's own lock is Redis' too
    # failures add up across instances: 2 through A and 1 through B lock 127.0.0.4 (neither
    # instance saw 3 itself)
    for port in (a.port, a.port, bb.port):
        assert status(port, "/status/401", "127.0.0.4") == 401
    until(lambda: status(a.port, "/status/200", "127.0.0.4") == 429, timeout=1.0)
    assert status(bb.port, "/status/200", "127.0.0.4") == 429


def test_lockouts_listing_and_unlock_are_the_shared_view(launcher, redis):  # noqa: F811
    """GET /lockouts answers from Redis: B lists a lock taken through A (B never saw that
    address), and the penalty of abnormal access (not its counters); an unlock through B frees
    A; an unlock of a prefix through B deletes every instance's locks under it."""
    from test_security_edge import admin_req, status
    b = launcher.backend("b")
    routes = [{"path": "/status/", "upstream": "g",
               "lockout": {"max_failures": 2, "window": "5s", "lock": "20s", "zone": "login"},
               "abnormal": {"rules": [{"status": [404], "max": 2, "window": "10s"}],
                            "penalty": "30s", "status": 403}}]
    a, bb = instances(launcher, redis, {"g": [b.port]}, routes, n=2)
    for _ in range(2):
        assert status(a.port, "/status/401", "127.0.0.8") == 401
    for _ in range(3):
        status(a.port, "/status/404", "127.0.0.9")

    def listed(w, prefix=""):
        r = admin_req(w.aport, "GET", "/lockouts" + ("?prefix=" + prefix if prefix else ""))
        assert r.status == 200
        return {e["key"]: e for e in r.json()}

    until(lambda: {"login|ip|127.0.0.8", "abnormal|/status/|ip|127.0.0.9"} <= set(listed(bb)))
    e = listed(bb)["login|ip|127.0.0.8"]
    assert 15 <= e["retry_after_s"] <= 20 and e["strikes"] == 1
    assert listed(bb, "abnormal") .keys() == {"abnormal|/status/|ip|127.0.0.9"}  # no "|r0"
    assert all("|r" not in k for k in listed(a))
    r = admin_req(bb.aport, "POST", "/lockouts/unlock?key=login%7Cip%7C127.0.0.8")
    assert r.status == 200 and r.json() == {"unlocked": 1}  # B held no lock of its own
    assert status(a.port, "/status/200", "127.0.0.8") == 200
    assert "login|ip|127.0.0.8" not in listed(a)
    # a prefix: 127.0.0.10 and .11 locked through A, unlocked through B
    for ip in ("127.0.0.10", "127.0.0.11"):
        for _ in range(2):
            assert status(a.port, "/status/401", ip) == 401
    until(lambda: len(listed(bb, "login")) == 2)
    r = admin_req(bb.aport, "POST", "/lockouts/unlock?key=login%7C*")
    assert r.status == 200 and r.json() == {"unlocked": 2}
    for ip in ("127.0.0.10", "127.0.0.11"):
        assert status(a.port, "/status/200", ip) == 200
    assert listed(a, "login") == {}
    assert status(a.port, "/status/200", "127.0.0.9") == 403  # the penalty was not under it


def test_lockouts_listing_without_redis_answers_the_local_view(launcher, redis):  # noqa: F811
    """Redis stopped (SIGSTOP): GET /lockouts is answered within about the command timeout from
    this instance's own view; a client that leaves while the listing waits costs nothing."""
    import os
    import signal
    from test_security_edge import admin_req, status
    b = launcher.backend("b")
    routes = [{"path": "/status/", "upstream": "g",
               "lockout": {"max_failures": 2, "window": "5s", "lock": "20s", "zone": "login"}}]
    a, = instances(launcher, redis, {"g": [b.port]}, routes, n=1,
                   state_extra={"command_timeout": "100ms"})
    for _ in range(2):
        assert status(a.port, "/status/401", "127.0.0.12") == 401
    os.kill(redis.proc.pid, signal.SIGSTOP)
    try:
        with Client(a.aport) as c:  # leaves before the answer
            c.send(b"GET /lockouts HTTP/1.1\r\nHost: x\r\n\r\n")
        t = time.monotonic()
        r = admin_req(a.aport, "GET", "/lockouts")
        assert time.monotonic() - t < 2.0
        assert r.status == 200 and [e["key"] for e in r.json()] == ["login|ip|127.0.0.12"]
    finally:
        os.kill(redis.proc.pid, signal.SIGCONT)
