"""Redis failover (issue 15): `state.addresses` lists every node and weir follows the primary.

Each test starts its own redis-servers (Debian's) on 127.0.0.1 and free ports — a primary and a
replica of it (--replicaof) — and stops them by PID. weir asks ROLE in every connection's
handshake and only keeps a server that answers `master`; a server that refuses a write with
READONLY (demoted under weir) is dropped and the primary looked for again. Checked: the
replica listed first is skipped; the primary killed and the replica promoted (REPLICAOF NO ONE)
→ weir writes to the new primary within seconds, falling back (and counting it) in the gap,
no request waiting past command_timeout; the connected primary demoted (REPLICAOF host port)
→ READONLY seen (logged once per process), weir moves to the new primary; the subscriber
connection (pub/sub never writes, so never hears READONLY) follows the primary the command
connections found, and a purge on one instance still reaches the other; and with state.tls,
every address over TLS."""

import threading
import time
import urllib.parse

import pytest

from conftest import Client, free_port, make_config, wait_port
from resilience_util import metric, scrape
from test_redis_state import REDIS, Redis, hammer, status, wait_store_ready
from test_redis_tls import certs, redis_servers, tls_state  # noqa: F401

pytestmark = pytest.mark.skipif(REDIS is None, reason="redis-server is not installed")

TIMEOUT_MS = 50
SLACK_S = 0.25  # the fallback's own work on a busy, sanitized build (as test_redis_state)


def until(fn, timeout, what):
    deadline = time.monotonic() + timeout
    while not fn():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def addr(r):
    return "127.0.0.1:%d" % r.port


def role(r):
    return r.cmd("ROLE")


def replica_synced(r):
    return "master_link_status:up" in r.cmd("INFO", "replication")


def calls(r, command):
    """How many times r ran command (INFO commandstats), 0 when never."""
    for ln in r.cmd("INFO", "commandstats").splitlines():
        if ln.startswith("cmdstat_%s:calls=" % command):
            return int(ln.split("calls=")[1].split(",")[0])
    return 0


@pytest.fixture
def pair(tmp_path):
    """(primary, replica): the replica follows the primary and is in sync."""
    p = Redis(str(tmp_path))
    r = Redis(str(tmp_path), args=["--replicaof", "127.0.0.1", str(p.port)])
    try:
        until(lambda: replica_synced(r), 10, "the replica never synced")
        yield p, r
    finally:
        r.stop()
        p.stop()


ROUTES = [
    {"path": "/rl", "upstream": "g", "rate_limit": {"rate": 100000, "per": "1s", "burst": 1000}},
    {"path": "/tight", "upstream": "g",
     "rate_limit": {"rate": 1, "per": "60s", "burst": 2, "key": "route"}},
    {"path": "/idem", "upstream": "g", "idempotency": {"ttl": "60s"}},
    {"path": "/c/", "upstream": "g", "cache": "on"},
]


def weir_on(launcher, nodes, backend, **extra):
    aport = free_port()
    st = {"backend": "redis", "addresses": [addr(n) for n in nodes],
          "command_timeout": "%dms" % TIMEOUT_MS, "connect_timeout": "500ms",
          "reconnect_min": "50ms", "reconnect_max": "500ms"}
    st.update(extra)
    cfg = make_config(None, {"g": [backend.port]}, ROUTES, workers=2,
                      extra={"state": st, "admin": {"listen": "127.0.0.1:%d" % aport}})
    w = launcher.weir(cfg)
    wait_port(aport, w.proc, 10, what="weir admin")
    w.aport = aport
    wait_store_ready([w])
    return w


def primary_of(w):
    return status(w)["store"]["primary"]


def weir_following(launcher, nodes, primary, **extra):
    """weir with addresses `nodes`, its store ready on `primary`."""
    w = weir_on(launcher, nodes, launcher.backend("a"), **extra)
    assert primary_of(w) == addr(primary)
    return w


def fallbacks(w):
    return metric(scrape(w.aport), "weir_store_fallbacks_total", feature="rate_limit")


def idempotent_pair(w, key):
    """Two POSTs with one Idempotency-Key: the second is a replay from the store."""
    hdrs = {"Idempotency-Key": key, "Content-Type": "text/plain"}
    with Client(w.port) as c:
        a = c.request("POST", "/idem", headers=hdrs, body=b"x")
        time.sleep(0.1)  # the record completes right after the response went out
        b = c.request("POST", "/idem", headers=hdrs, body=b"x")
    return a, b


FRESH = [200, 200, 200, 429]  # /tight's burst 2: the third passes, the fourth not


def through_store(w, r, key, tight=FRESH):
    """Rate limit and idempotency decided by r (the primary): nothing falls back."""
    before, evals = fallbacks(w), calls(r, "evalsha")
    with Client(w.port) as c:
        codes = [c.get("/tight").status for _ in range(4)]
    assert codes == tight, codes
    a, b = idempotent_pair(w, key)
    assert a.status == 200 and not a.has("idempotent-replayed"), a
    assert b.status == 200 and b.header("idempotent-replayed") == "true", b
    assert fallbacks(w) == before
    assert calls(r, "evalsha") > evals


def no_fallback_on_fresh_connections(w):
    """20 requests, each on a new connection (spread over the workers), none without the
    store."""
    before = fallbacks(w)
    for _ in range(20):
        with Client(w.port) as c:
            assert c.get("/rl", headers={"Connection": "close"}).status == 200
    return fallbacks(w) == before


def test_replica_listed_first_is_skipped(launcher, pair):
    p, r = pair
    w = weir_following(launcher, [r, p], p)
    through_store(w, p, "a-1")
    # the replica was asked its ROLE and closed: it never ran a script
    assert calls(r, "role") >= 1 and calls(r, "evalsha") == 0
    assert calls(p, "role") >= 1
    assert "state store: primary is now %s" % addr(p) in w.stderr_text()
    samples = scrape(w.aport)
    assert metric(samples, "weir_store_primary", address=addr(p)) == 1


def test_primary_killed_replica_promoted(launcher, pair):
    p, r = pair
    w = weir_following(launcher, [p, r], p)
    results = []
    t = threading.Thread(target=hammer, args=(w.port, "/rl", 3.0, None, results))
    t.start()
    time.sleep(0.5)
    p.proc.kill()
    p.proc.wait(5)
    time.sleep(0.5)  # the gap: no primary at all
    assert "OK" in r.cmd("REPLICAOF", "NO", "ONE")
    t.join()
    assert results and all(s == 200 for s, _ in results), {s for s, _ in results}
    assert max(lat for _, lat in results) < TIMEOUT_MS / 1000 + SLACK_S
    assert fallbacks(w) > 0  # counted during the gap
    until(lambda: primary_of(w) == addr(r), 5, "weir never moved to the promoted replica")
    wait_store_ready([w])
    through_store(w, r, "b-1")
    until(lambda: subscribers(r) == 1, 5, "the subscriber never moved to the promoted replica")
    text = w.stderr_text()
    assert "state store: primary is now %s" % addr(r) in text
    assert text.count("state store: primary is now %s" % addr(r)) == 1  # once per outage


def test_demoted_primary_readonly(launcher, pair):
    p, r = pair
    w = weir_following(launcher, [p, r], p)
    through_store(w, p, "c-1")
    # r takes over, p follows it: weir's connections to p are still open
    assert "OK" in r.cmd("REPLICAOF", "NO", "ONE")
    assert "OK" in p.cmd("REPLICAOF", "127.0.0.1", str(r.port))
    until(lambda: "slave" in role(p), 5, "p was not demoted")
    results = []
    hammer(w.port, "/rl", 1.0, None, results)
    assert results and all(s == 200 for s, _ in results)
    assert max(lat for _, lat in results) < TIMEOUT_MS / 1000 + SLACK_S
    until(lambda: primary_of(w) == addr(r), 5, "weir never left the demoted primary")
    # each connection (one per worker) learns of the demotion from its own first write
    until(lambda: no_fallback_on_fresh_connections(w), 5, "some connection stayed on p")
    wait_store_ready([w])
    text = w.stderr_text()
    assert text.count("is read-only now") == 1, text[-2000:]  # once, however many connections
    assert "state store: primary is now %s" % addr(r) in text
    # r had p's state by replication: /tight's bucket, spent on p, stays spent on r
    through_store(w, r, "c-2", tight=[429] * 4)


def subscribers(r):
    """weir instances subscribed to the events channel on r (PUBSUB NUMSUB)."""
    return int(r.cmd("PUBSUB", "NUMSUB", "weir:events").rstrip().rsplit(":", 1)[1])


def clients(r):
    """Connections to r other than its replication link and this query's own."""
    return sum(1 for ln in r.cmd("CLIENT", "LIST").splitlines()
               if ln.startswith("id=") and "flags=M" not in ln and "cmd=client|list" not in ln)


def received(w):
    return metric(scrape(w.aport), "weir_store_events_received_total") or 0


def cached(w, path):
    with Client(w.port) as c:
        res = c.get(path, headers={"Host": "shop.test"})
    assert res.status == 200, res
    time.sleep(0.05)  # the entry is stored right after the response went out
    return res.header("x-cache") == "HIT"


def test_subscriber_follows_the_demoted_primary(launcher, pair):
    p, r = pair
    b = launcher.backend("a")
    ws = [weir_on(launcher, [p, r], b) for _ in range(2)]
    until(lambda: subscribers(p) == 2, 5, "the instances never subscribed on the primary")
    assert "OK" in r.cmd("REPLICAOF", "NO", "ONE")
    assert "OK" in p.cmd("REPLICAOF", "127.0.0.1", str(r.port))
    until(lambda: "slave" in role(p), 5, "p was not demoted")
    # writes make the command connections meet READONLY and find r; the subscribers follow
    for w in ws:
        until(lambda: no_fallback_on_fresh_connections(w) and primary_of(w) == addr(r), 10,
              "weir never left the demoted primary")
    until(lambda: subscribers(r) == 2 and subscribers(p) == 0, 5,
          "the subscriptions stayed on the demoted primary")
    # the admin thread's connection, idle, follows too (within its second's check): every
    # connection left p, so a purge from the admin API is published on r
    until(lambda: clients(p) == 0, 5, "some connection stayed on the demoted primary")
    for w in ws:
        text = w.stderr_text()
        assert "following the primary to %s" % addr(r) in text, text[-2000:]
        assert text.count("is read-only now") == 1, text[-2000:]
    # a purge published on r by A reaches B through its subscription on r
    path = "/c/text?n=10&cc=" + urllib.parse.quote("max-age=600")
    for w in ws:
        cached(w, path)
        assert cached(w, path)
    before = received(ws[1])
    with Client(ws[0].aport) as c:
        res = c.request("POST", "/cache/purge?prefix=" + urllib.parse.quote("http://shop.test/c/"))
    assert res.status == 200 and res.json()["broadcast"] is True, res
    until(lambda: received(ws[1]) > before, 5, "the purge never reached the other instance")
    assert not cached(ws[1], path)
    assert not cached(ws[0], path)


def test_tls_to_every_address(launcher, redis_servers, certs):  # noqa: F811
    """A TLS replica (of a port where nothing listens) then a TLS primary: the replica is
    skipped over TLS; the primary killed and the replica promoted, weir follows over TLS."""
    a, b = redis_servers(certs), redis_servers(certs)
    assert "OK" in a.cmd("REPLICAOF", "127.0.0.1", str(free_port()))
    tls = tls_state(a, certs)["tls"]
    w = weir_following(launcher, [a, b], b, tls=tls)
    through_store(w, b, "t-1")
    assert calls(a, "role") >= 1 and calls(a, "evalsha") == 0
    b.proc.kill()
    b.proc.wait(5)
    assert "OK" in a.cmd("REPLICAOF", "NO", "ONE")
    until(lambda: primary_of(w) == addr(a), 5, "weir never moved to the promoted replica")
    wait_store_ready([w])
    through_store(w, a, "t-2")
