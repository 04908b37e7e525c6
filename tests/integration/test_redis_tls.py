"""The state store over TLS (`state.tls`) and with several connections per worker
(`state.pool_size`), against Debian's redis-server.

Each test starts its own redis-server on 127.0.0.1 (TLS only: --port 0 --tls-port P, or plain)
and stops it by PID; certificates are made by the test with the openssl CLI (test_tls.py's
helpers): a CA, a server certificate for IP 127.0.0.1, a client certificate, and a second CA
that signed nothing Redis has. The test's own Redis commands go through Python's ssl."""

import os
import shutil
import socket
import ssl
import subprocess
import time

import pytest

from conftest import Client, free_port, make_config, wait_port
import test_redis_state
from resilience_util import metric, scrape
from test_tls import make_ca, make_leaf

REDIS = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(REDIS is None, reason="redis-server is not installed")


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("redis-certs"))
    c = {"ca": make_ca(d, "ca"), "other_ca": make_ca(d, "other")}
    c["server"] = make_leaf(d, "server", "redis", "IP:127.0.0.1")
    c["client"] = make_leaf(d, "client", "weir", None, client=True)
    return c


class Redis(test_redis_state.Redis):
    """redis-server on a free port; certs: the certs dict (TLS only), or None (plain TCP)."""

    def __init__(self, workdir, certs=None, auth_clients=False, port=None):
        self.certs, self.auth_clients = certs, auth_clients
        super().__init__(workdir, port)

    def start(self):
        argv = [REDIS, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        if self.certs:
            c = self.certs
            argv += ["--port", "0", "--tls-port", str(self.port),
                     "--tls-cert-file", c["server"][0], "--tls-key-file", c["server"][1],
                     "--tls-ca-cert-file", c["ca"],
                     "--tls-auth-clients", "yes" if self.auth_clients else "no"]
        else:
            argv += ["--port", str(self.port)]
        self.log = open(os.path.join(self.workdir, "redis-%d.log" % self.port), "ab")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=self.log, cwd=self.workdir)
        wait_port(self.port, self.proc, 10.0, what="redis-server")

    def cmd(self, *args):
        """One command over a fresh connection (TLS with the client certificate)."""
        if not self.certs:
            return super().cmd(*args)
        ctx = ssl.create_default_context(cafile=self.certs["ca"])
        ctx.load_cert_chain(*self.certs["client"])
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall(b"".join([b"*%d\r\n" % len(args)] +
                               [b"$%d\r\n%s\r\n" % (len(a.encode()), a.encode()) for a in args]))
            data = b""
            while not data.endswith(b"\r\n") or data.startswith(b"$") and data.count(b"\r\n") < 2:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            return data.decode(errors="replace")

    def clients(self):
        """CLIENT LIST as dicts, without the connection asking."""
        out = []
        for line in self.cmd("CLIENT", "LIST").splitlines():
            if "id=" not in line:
                continue
            f = dict(kv.split("=", 1) for kv in line.split("$")[-1].split() if "=" in kv)
            if f.get("cmd") != "client|list":
                out.append(f)
        return out


@pytest.fixture
def redis_servers(tmp_path):
    started = []

    def start(certs=None, auth_clients=False):
        r = Redis(str(tmp_path), certs, auth_clients)
        started.append(r)
        return r

    yield start
    for r in started:
        r.stop()


def tls_state(redis, certs, ca="ca", client=False, **extra):
    t = {"ca": certs[ca]}
    if client:
        t["client_cert"], t["client_key"] = certs["client"]
    s = {"backend": "redis", "address": "127.0.0.1:%d" % redis.port, "tls": t,
         "reconnect_min": "50ms", "reconnect_max": "500ms"}
    s.update(extra)
    return s


def start_weir(launcher, upstreams, routes, st, workers=2):
    aport = free_port()
    cfg = make_config(None, upstreams, routes, workers=workers,
                      extra={"state": st, "admin": {"listen": "127.0.0.1:%d" % aport}})
    w = launcher.weir(cfg)
    wait_port(aport, w.proc, 10, what="weir admin")
    w.aport = aport
    return w


def store_status(w):
    with Client(w.aport) as c:
        return c.get("/status").json()["store"]


def wait_store(w, healthy=True, timeout=10.0):
    deadline = time.time() + timeout
    while True:
        st = store_status(w)
        if st["healthy"] == healthy and (not healthy or st["ready"] > 0):
            return st
        assert time.time() < deadline, st
        time.sleep(0.05)


LIMITED = [{"path": "/rl", "upstream": "g",
            "rate_limit": {"rate": 1, "per": "60s", "burst": 4, "key": "route"}},
           {"path": "/bytes", "upstream": "g", "idempotency": {"ttl": "60s", "max_body": "1m"}},
           {"path": "/", "upstream": "g", "idempotency": {"ttl": "60s"}}]


def test_rate_limit_and_idempotency_through_tls_redis(launcher, redis_servers, certs):
    redis = redis_servers(certs)
    b = launcher.backend("a")
    ws = [start_weir(launcher, {"g": [b.port]}, LIMITED, tls_state(redis, certs))
          for _ in range(2)]
    for w in ws:
        wait_store(w)
    # One global limit over TLS: 1 + burst requests in all, whichever instance they hit.
    codes = []
    for i in range(12):
        with Client(ws[i % 2].port) as c:
            codes.append(c.get("/rl").status)
    assert codes.count(200) == 5 and codes.count(429) == 7, codes
    # An idempotency record written through one instance is replayed by the other.
    hdrs = {"Idempotency-Key": "tls-1", "Content-Type": "text/plain"}
    with Client(ws[0].port) as c:
        first = c.request("POST", "/pay", headers=hdrs, body=b"amount=10")
    assert first.status == 200 and not first.has("idempotent-replayed"), first
    time.sleep(0.1)
    with Client(ws[1].port) as c:
        r = c.request("POST", "/pay", headers=hdrs, body=b"amount=10")
    assert r.status == 200 and r.header("idempotent-replayed") == "true", r
    assert b.stats()["paths"].get("/pay") == 1
    # A record much larger than the tunnel's 16 KiB buffers, up and back down.
    hdrs = {"Idempotency-Key": "tls-big"}
    with Client(ws[0].port) as c:
        big = c.request("POST", "/bytes?n=300000", headers=hdrs, body=b"")
    assert big.status == 200 and len(big.body) == 300000, big
    time.sleep(0.2)
    with Client(ws[1].port) as c:
        r = c.request("POST", "/bytes?n=300000", headers=hdrs, body=b"")
    assert r.status == 200 and r.header("idempotent-replayed") == "true", r
    assert r.body == big.body
    for w in ws:
        samples = scrape(w.aport)
        assert metric(samples, "weir_store_fallbacks_total", feature="rate_limit") == 0
        assert metric(samples, "weir_store_commands_total") > 0
    # Redis saw them on its TLS port (the plain one is off).
    assert "cmdstat_evalsha" in redis.cmd("INFO", "commandstats")
    assert int(redis.cmd("DBSIZE").strip()[1:]) > 0


def test_wrong_ca_store_unhealthy_and_policy_applies(launcher, redis_servers, certs):
    redis = redis_servers(certs)
    b = launcher.backend("a")
    st = tls_state(redis, certs, ca="other_ca", connect_timeout="500ms",
                   on_store_error={"rate_limit": "closed"})
    w = start_weir(launcher, {"g": [b.port]}, LIMITED, st)
    time.sleep(0.5)
    wait_store(w, healthy=False)
    t0 = time.monotonic()
    with Client(w.port) as c:
        r = c.get("/rl")
    assert r.status == 503 and time.monotonic() - t0 < 1.0, r   # closed, at once
    with Client(w.port) as c:  # idempotency's default policy is closed too
        r = c.request("POST", "/pay", headers={"Idempotency-Key": "k"}, body=b"x")
    assert r.status == 503, r
    assert store_status(w)["ready"] == 0
    assert "certificate verify failed" in w.stderr_text(), w.stderr_text()[-2000:]
    assert b.stats()["paths"].get("/pay") is None


def test_mutual_tls(launcher, redis_servers, certs):
    redis = redis_servers(certs, auth_clients=True)
    b = launcher.backend("a")
    with_cert = start_weir(launcher, {"g": [b.port]}, LIMITED,
                           tls_state(redis, certs, client=True), workers=1)
    without = start_weir(launcher, {"g": [b.port]}, LIMITED,
                         tls_state(redis, certs, connect_timeout="500ms"), workers=1)
    wait_store(with_cert)
    codes = []
    for _ in range(7):
        with Client(with_cert.port) as c:
            codes.append(c.get("/rl").status)
    assert codes == [200] * 5 + [429] * 2, codes
    assert metric(scrape(with_cert.aport), "weir_store_fallbacks_total",
                  feature="rate_limit") == 0
    time.sleep(0.5)
    st = wait_store(without, healthy=False)
    assert st["ready"] == 0
    assert "unreachable" in without.stderr_text()


def test_handshake_that_hangs_counts_against_connect_timeout(launcher, tmp_path):
    """A server that takes the TCP connection and never answers the ClientHello: each attempt
    is dropped at connect_timeout and retried; requests never wait for it."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(64)  # never accepted: the kernel completes the TCP handshakes
    try:
        b = launcher.backend("a")
        st = {"backend": "redis", "address": "127.0.0.1:%d" % lsock.getsockname()[1],
              "tls": "on", "connect_timeout": "200ms", "reconnect_min": "50ms",
              "reconnect_max": "100ms", "on_store_error": {"rate_limit": "closed"}}
        w = start_weir(launcher, {"g": [b.port]}, LIMITED, st, workers=1)
        time.sleep(1.0)
        assert store_status(w)["ready"] == 0
        t0 = time.monotonic()
        with Client(w.port) as c:
            r = c.get("/rl")
        assert r.status == 503 and time.monotonic() - t0 < 1.0, r
        # 1 s at 200 ms per attempt plus backoff: several attempts, each given up.
        assert metric(scrape(w.aport), "weir_store_reconnects_total") >= 3
    finally:
        lsock.close()


def test_tls_redis_restarted_reconnects(launcher, redis_servers, certs, tmp_path):
    redis = redis_servers(certs)
    b = launcher.backend("a")
    w = start_weir(launcher, {"g": [b.port]}, LIMITED, tls_state(redis, certs), workers=1)
    wait_store(w)
    redis.proc.kill()
    redis.proc.wait(5)
    wait_store(w, healthy=False)
    redis.log.close()
    redis2 = Redis(str(tmp_path), certs, port=redis.port)  # the same port again
    try:
        wait_store(w)
        assert metric(scrape(w.aport), "weir_store_reconnects_total") >= 1
        with Client(w.port) as c:
            assert c.get("/rl").status == 200
        assert "cmdstat_evalsha" in redis2.cmd("INFO", "commandstats")
    finally:
        redis2.stop()


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_pool_size_three_connections_per_worker(launcher, redis_servers, certs, tls):
    redis = redis_servers(certs if tls else None)
    b = launcher.backend("a")
    st = (tls_state(redis, certs, pool_size=3) if tls else
          {"backend": "redis", "address": "127.0.0.1:%d" % redis.port, "pool_size": 3,
           "reconnect_min": "50ms", "reconnect_max": "500ms"})
    w = start_weir(launcher, {"g": [b.port]},
                   [{"path": "/", "upstream": "g",
                     "rate_limit": {"rate": 100000, "per": "1s", "burst": 1000}}], st)
    wait_store(w)
    cl = redis.clients()
    cmd = [c for c in cl if "P" not in c.get("flags", "")]
    sub = [c for c in cl if "P" in c.get("flags", "")]
    # 2 workers x 3, the admin thread's 1, worker 0's subscriber
    assert len(cmd) == 2 * 3 + 1 and len(sub) == 1, cl
    st_ = store_status(w)
    assert st_["connections"] == 8 and st_["ready"] == 8, st_
    for _ in range(30):
        with Client(w.port) as c:
            assert c.get("/").status == 200
    # Commands went over the connections of the pool (round-robin): whichever worker got
    # most of the 30 requests used its 3.
    used = [c for c in redis.clients() if c.get("cmd") == "evalsha"]
    assert len(used) >= 3, redis.clients()
    # One connection killed: it comes back; requests meanwhile still go through the store.
    redis.cmd("CLIENT", "KILL", "ID", cmd[0]["id"])
    for _ in range(10):
        with Client(w.port) as c:
            assert c.get("/").status == 200
    wait_store(w)
    assert len([c for c in redis.clients() if "P" not in c.get("flags", "")]) == 7
    assert metric(scrape(w.aport), "weir_store_reconnects_total") >= 1
