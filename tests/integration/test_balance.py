"""Balancing strategies through weir, against real backend processes: round robin, random
(power of two choices), weighted (smooth WRR), least connections (in flight, across workers),
consistent hash (header, cookie, client IP) and the sticky cookie."""

import re
import signal
import threading
import time
from types import SimpleNamespace

import pytest

from conftest import Client
from faults import (CtlServer, backend_name, count_names, down_lines, group_config, server,
                    up_lines, wait_for)

HOSTS = ["rr", "rnd", "wt", "lc", "hh", "hc", "hip"]


@pytest.fixture(scope="module")
def env(module_launcher):
    a = module_launcher.backend("a")
    b = module_launcher.backend("b")
    c = module_launcher.backend("c")
    three = [a.port, b.port, c.port]
    ups = {
        "rr": {"balance": "round_robin", "servers": three},
        "rnd": {"balance": "random", "servers": three},
        "wt": {"balance": "weighted",
               "servers": [server(a.port, weight=5), server(b.port, weight=3),
                           server(c.port, weight=2)]},
        "lc": {"balance": "least_connections", "servers": three},
        "hh": {"balance": "hash", "hash": "header:X-User", "servers": three},
        "hc": {"balance": "hash", "hash": "cookie:sid", "servers": three},
        "hip": {"balance": "hash", "hash": "client_ip", "servers": three},
    }
    routes = [{"host": "%s.test" % h, "path": "/", "upstream": h} for h in HOSTS]
    routes.append({"path": "/", "upstream": "rr"})
    w = module_launcher.weir(group_config(ups, routes, workers=2))
    return SimpleNamespace(weir=w, port=w.port, backends=[a, b, c])


def names_over(port, host, n, conns=4, path="/", headers=None):
    """n GETs spread round-robin over `conns` keep-alive connections; the serving names."""
    clients = [Client(port) for _ in range(conns)]
    out = []
    try:
        for i in range(n):
            h = {"Host": host}
            h.update(headers or {})
            r = clients[i % conns].get(path, headers=h)
            assert r.status == 200, r
            out.append(backend_name(r))
    finally:
        for c in clients:
            c.close()
    return out


def one(port, host, headers=None, path="/"):
    """One GET on a fresh connection (so successive calls land on either worker)."""
    with Client(port) as c:
        h = {"Host": host, "Connection": "close"}
        h.update(headers or {})
        return c.get(path, headers=h)


def test_round_robin_is_even(env):
    counts = count_names(names_over(env.port, "rr.test", 300, conns=6))
    assert sorted(counts) == ["a", "b", "c"], counts
    for name, n in counts.items():
        # each worker rotates exactly; two workers can leave each server at most 2 off
        assert abs(n - 100) <= 3, counts


def test_random_spreads_over_every_server(env):
    counts = count_names(names_over(env.port, "rnd.test", 600, conns=4))
    assert sorted(counts) == ["a", "b", "c"], counts
    for name, n in counts.items():
        assert 140 <= n <= 260, counts  # 200 expected, sigma ~ 11.5


def test_weighted_5_3_2(env):
    n = 1000
    counts = count_names(names_over(env.port, "wt.test", n, conns=4))
    share = {k: v / n for k, v in counts.items()}
    for name, want in (("a", 0.5), ("b", 0.3), ("c", 0.2)):
        assert abs(share.get(name, 0) - want) <= 0.02, counts


def test_weighted_interleaves(env):
    """Smooth WRR: within 10 consecutive picks on one worker, 5:3:2 exactly, and the heavy
    server never takes more than 2 picks in a row."""
    names = names_over(env.port, "wt.test", 40, conns=1)
    for i in range(0, 40, 10):
        assert count_names(names[i:i + 10]) == {"a": 5, "b": 3, "c": 2}, names
    run = longest = 0
    prev = None
    for nm in names:
        run = run + 1 if nm == prev else 1
        prev = nm
        longest = max(longest, run)
    assert longest <= 2, names


def _slow_count(env):
    return sum(b.stats()["paths"].get("/slow", 0) for b in env.backends)


def test_least_connections_avoids_busy_servers(env):
    base = _slow_count(env)
    slow_names = []
    errors = []

    def slow():
        try:
            r = one(env.port, "lc.test", path="/slow?ms=2500")
            assert r.status == 200, r
            slow_names.append(backend_name(r))
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=slow, daemon=True) for _ in range(2)]
    for i, t in enumerate(threads):
        t.start()
        # one at a time, so the second pick sees the first in flight
        assert wait_for(lambda: _slow_count(env) >= base + i + 1, 5), "slow request lost"
    # while two servers hold one slow request each, every new request goes to the idle one,
    # whichever worker takes it (fresh connection each time). A short gap between requests:
    # weir gives back a request's in-flight count just after its last byte went out, so a
    # client that fires the next one at once on the other worker could see it still counted.
    t0 = time.monotonic()
    fast = []
    for _ in range(20):
        r = one(env.port, "lc.test")
        assert r.status == 200, r
        fast.append(backend_name(r))
        time.sleep(0.03)
    assert time.monotonic() - t0 < 2.2, "fast requests overlapped the end of the slow ones"
    for t in threads:
        t.join(10)
    assert not errors, errors
    assert len(slow_names) == 2 and slow_names[0] != slow_names[1], slow_names
    idle = ({"a", "b", "c"} - set(slow_names)).pop()
    assert set(fast) == {idle}, (slow_names, count_names(fast))
    # once they are done, the three share again
    after = count_names(names_over(env.port, "lc.test", 30, conns=3))
    assert sorted(after) == ["a", "b", "c"], after


def test_hash_header_same_key_same_server(env):
    mapping = {}
    for u in range(45):
        seen = set()
        for _ in range(3):
            r = one(env.port, "hh.test", headers={"X-User": "user-%d" % u})
            assert r.status == 200, r
            seen.add(backend_name(r))
        assert len(seen) == 1, ("user-%d" % u, seen)
        mapping[u] = seen.pop()
    spread = count_names(mapping.values())
    assert sorted(spread) == ["a", "b", "c"], spread
    assert min(spread.values()) >= 5, spread


def test_hash_cookie_same_key_same_server(env):
    mapping = {}
    for u in range(30):
        names = set()
        for _ in range(2):
            r = one(env.port, "hc.test", headers={"Cookie": "a=1; sid=s%d; z=2" % u})
            assert r.status == 200, r
            names.add(backend_name(r))
        assert len(names) == 1, (u, names)
        mapping[u] = names.pop()
    assert len(set(mapping.values())) >= 2, mapping
    # the cookie's value is the key, not its position among other cookies
    r = one(env.port, "hc.test", headers={"Cookie": "sid=s7"})
    assert backend_name(r) == mapping[7]


def test_hash_without_key_spreads(env):
    counts = count_names(names_over(env.port, "hh.test", 90, conns=3))
    assert len(counts) >= 2, counts


def test_hash_client_ip_is_stable(env):
    names = {backend_name(one(env.port, "hip.test")) for _ in range(15)}
    assert len(names) == 1, names


# --------------------------------------------------------------------------------------------
# consistent hashing with a server going down and coming back


def test_hash_ring_moves_only_the_down_servers_keys(launcher):
    srv = [CtlServer("s%d" % i) for i in range(3)]
    try:
        ups = {"g": {"balance": "hash", "hash": "header:X-User",
                     "servers": [s.port for s in srv],
                     "health": {"active": {"interval": "200ms", "timeout": "150ms",
                                           "path": "/health", "rise": 1, "fall": 1},
                                "passive": "off"}}}
        w = launcher.weir(group_config(ups, [{"path": "/", "upstream": "g"}]))
        keys = ["k%d" % i for i in range(60)]

        def snapshot():
            out = {}
            with Client(w.port) as c:
                for k in keys:
                    r = c.get("/", headers={"X-User": k})
                    assert r.status == 200, r
                    out[k] = backend_name(r)
            return out

        before = snapshot()
        assert len(set(before.values())) == 3, count_names(before.values())
        srv[2].health = 503
        assert wait_for(lambda: down_lines(w, "g", srv[2].addr), 3), w.stderr_text()
        during = snapshot()
        for k in keys:
            if before[k] != "s2":
                assert during[k] == before[k], (k, before[k], during[k])
            else:
                assert during[k] in ("s0", "s1"), (k, during[k])
        moved = [k for k in keys if before[k] == "s2"]
        assert len({during[k] for k in moved}) == 2 or len(moved) < 4, \
            "the down server's keys should spread over the others"
        srv[2].health = 200
        assert wait_for(lambda: up_lines(w, "g", srv[2].addr), 3), w.stderr_text()
        assert snapshot() == before
    finally:
        for s in srv:
            s.stop()


# --------------------------------------------------------------------------------------------
# sticky cookie

COOKIE_RX = re.compile(r"^weir_srv=([0-9a-f]{16}); Path=/; HttpOnly; Max-Age=3600$")


def test_sticky_cookie_pins_and_fails_over(launcher):
    bks = [launcher.backend(n) for n in ("a", "b", "c")]
    ups = {
        "g": {"sticky_cookie": {"name": "weir_srv", "ttl": "1h"},
              "servers": [b.port for b in bks], "timeouts": {"connect": "1s"}},
        "s": {"sticky_cookie": "sess", "servers": [b.port for b in bks]},
    }
    routes = [{"path": "/", "upstream": "g"}, {"host": "s.test", "path": "/", "upstream": "s"}]
    w = launcher.weir(group_config(ups, routes))
    by_name = {b.name: b for b in bks}

    # three requests without the cookie: three servers (round robin), three distinct tokens
    tokens = {}
    with Client(w.port) as c:
        for _ in range(3):
            r = c.get("/")
            assert r.status == 200, r
            sc = r.header_list("set-cookie")
            assert len(sc) == 1, r
            m = COOKIE_RX.match(sc[0])
            assert m, sc
            tokens[backend_name(r)] = m.group(1)
    assert sorted(tokens) == ["a", "b", "c"], tokens
    assert len(set(tokens.values())) == 3, tokens

    # the cookie pins: fresh connections (either worker), other cookies around it
    for name, tok in tokens.items():
        for i in range(6):
            r = one(w.port, "127.0.0.1", headers={"Cookie": "x=1; weir_srv=%s; y=%d" % (tok, i)})
            assert r.status == 200 and backend_name(r) == name, (name, r)

    # a session-cookie group: no Max-Age
    r = one(w.port, "s.test")
    assert r.status == 200
    assert re.match(r"^sess=[0-9a-f]{16}; Path=/; HttpOnly$", r.header("set-cookie") or ""), r

    # a token that names no server: balanced as usual, and a fresh cookie
    r = one(w.port, "127.0.0.1", headers={"Cookie": "weir_srv=0123456789abcdef"})
    assert r.status == 200 and COOKIE_RX.match(r.header("set-cookie") or ""), r

    # the pinned server dies: its clients go elsewhere, get a new cookie, and stick to it
    victim = "b"
    by_name[victim].proc.send_signal(signal.SIGKILL)
    by_name[victim].proc.wait(5)
    t0 = time.monotonic()
    r = one(w.port, "127.0.0.1", headers={"Cookie": "weir_srv=%s" % tokens[victim]})
    assert time.monotonic() - t0 < 1.0
    assert r.status == 200, r
    new_name = backend_name(r)
    assert new_name in ("a", "c"), r
    m = COOKIE_RX.match(r.header("set-cookie") or "")
    assert m, r
    assert m.group(1) != tokens[victim] and m.group(1) == tokens[new_name], (m.group(1), tokens)
    for _ in range(5):
        r = one(w.port, "127.0.0.1", headers={"Cookie": "weir_srv=%s" % m.group(1)})
        assert r.status == 200 and backend_name(r) == new_name, r
    # the other pins are untouched
    for name in ("a", "c"):
        r = one(w.port, "127.0.0.1", headers={"Cookie": "weir_srv=%s" % tokens[name]})
        assert r.status == 200 and backend_name(r) == name, r


def test_sticky_cookie_follows_health(launcher):
    """A pinned server marked down by health checks: its clients are balanced elsewhere (with a
    new cookie); once it is up again, its old cookie reaches it again."""
    srv = [CtlServer("s%d" % i) for i in range(3)]
    try:
        ups = {"g": {"balance": "least_connections", "sticky_cookie": "weir_srv",
                     "servers": [s.port for s in srv],
                     "health": {"active": {"interval": "200ms", "timeout": "150ms",
                                           "path": "/health", "rise": 1, "fall": 1},
                                "passive": "off"}}}
        w = launcher.weir(group_config(ups, [{"path": "/", "upstream": "g"}]))
        tokens = {}
        with Client(w.port) as c:
            for _ in range(6):
                r = c.get("/")
                m = re.match(r"^weir_srv=([0-9a-f]{16}); Path=/; HttpOnly$",
                             r.header("set-cookie") or "")
                assert r.status == 200 and m, r
                tokens[backend_name(r)] = m.group(1)
        assert sorted(tokens) == ["s0", "s1", "s2"], tokens
        srv[1].health = 500
        assert wait_for(lambda: down_lines(w, "g", srv[1].addr), 2)
        seen = set()
        for _ in range(6):
            r = one(w.port, "127.0.0.1", headers={"Cookie": "weir_srv=" + tokens["s1"]})
            assert r.status == 200 and backend_name(r) in ("s0", "s2"), r
            nm = backend_name(r)
            assert r.header("set-cookie") == "weir_srv=%s; Path=/; HttpOnly" % tokens[nm], r
            seen.add(nm)
        before = srv[1].requests
        srv[1].health = 200
        assert wait_for(lambda: up_lines(w, "g", srv[1].addr), 2)
        for _ in range(4):
            r = one(w.port, "127.0.0.1", headers={"Cookie": "weir_srv=" + tokens["s1"]})
            assert r.status == 200 and backend_name(r) == "s1", r
        assert srv[1].requests == before + 4
    finally:
        for s in srv:
            s.stop()


def test_least_connections_counts_return_to_zero_after_failures(launcher):
    """Every way an exchange can end (client gone mid-wait, response timeout, total timeout,
    5xx, refused pool wait) gives its in-flight slot back: afterwards an idle group splits
    evenly again. A leaked count would send everything to the other server."""
    a, b = CtlServer("a"), CtlServer("b")
    try:
        ups = {"g": {"balance": "least_connections", "servers": [a.port, b.port],
                     "health": {"passive": "off"},
                     "timeouts": {"response": "300ms", "total": "2s"}}}
        routes = [{"path": "/", "upstream": "g"},
                  {"path": "/short/", "upstream": "g", "timeouts": {"total": "200ms"}}]
        w = launcher.weir(group_config(ups, routes, workers=2))
        a.delay = b.delay = 1.0
        # clients that give up while weir waits for the response head
        for _ in range(4):
            c = Client(w.port)
            c.send(c.build("GET", "/gone"))
            time.sleep(0.05)
            c.close()
        # response timeouts and total timeouts (fresh connections: both workers)
        for path in ("/rt", "/rt", "/short/x", "/short/y"):
            r = one(w.port, "127.0.0.1", path=path)
            assert r.status == 504, r
        a.delay = b.delay = 0
        a.status = 503
        for _ in range(4):
            one(w.port, "127.0.0.1")
        a.status = 200
        time.sleep(1.2)  # every delayed backend thread has finished
        with Client(w.port) as c:
            names = [backend_name(c.get("/")) for _ in range(20)]
        assert count_names(names) == {"a": 10, "b": 10}, count_names(names)
        with Client(w.port) as c:
            names = [backend_name(c.get("/")) for _ in range(20)]
        assert count_names(names) == {"a": 10, "b": 10}, count_names(names)
    finally:
        a.stop()
        b.stop()
