"""Redis Cluster safety (issue 15): every script weir runs touches keys of one hash tag, so one
slot. The check is Redis' own: a single-node cluster (cluster-enabled, all 16384 slots
assigned to the node) refuses any script whose keys span two slots with CROSSSLOT. Two
instances exercise every script (rate limit, idempotency, waiting room, lockout, abnormal
access with its count key and lock key, revocation); the shared decisions must take effect
across the instances and Redis must have counted no CROSSSLOT error."""

import time

from conftest import Client
from test_redis_state import REDIS, Redis, instances
from test_redis_security import until
from test_security_edge import SrcClient, admin_req, status
from test_waitroom import room

import pytest

pytestmark = pytest.mark.skipif(REDIS is None, reason="redis-server is not installed")


class ClusterRedis(Redis):
    def start(self):
        import os
        import subprocess
        from conftest import free_port, wait_port
        self.log = open(os.path.join(self.workdir, "redis-%d.log" % self.port), "ab")
        self.proc = subprocess.Popen(
            [REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--cluster-enabled", "yes",
             "--cluster-config-file", "nodes-%d.conf" % self.port,
             "--cluster-port", str(free_port())],  # (the default, port + 10000, may not exist)
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, cwd=self.workdir)
        wait_port(self.port, self.proc, 10.0, what="redis-server")
        assert "OK" in self.cmd("CLUSTER", "ADDSLOTSRANGE", "0", "16383")
        until(lambda: "cluster_state:ok" in self.cmd("CLUSTER", "INFO"), timeout=10.0)


@pytest.fixture
def cluster(tmp_path):
    r = ClusterRedis(str(tmp_path))
    yield r
    r.stop()


def crossslot_errors(r):
    return [ln for ln in r.cmd("INFO", "errorstats").splitlines() if "CROSSSLOT" in ln]


def test_every_script_stays_in_one_slot(launcher, cluster):
    # the check itself: a script over two tags fails on this node
    two = cluster.cmd("EVAL", "return redis.call('MSET', KEYS[1], 1, KEYS[2], 2)", "2",
                      "{a}x", "{b}y")
    assert "CROSSSLOT" in two
    cluster.cmd("CONFIG", "RESETSTAT")
    b = launcher.backend("b")
    routes = [
        {"path": "/status/", "upstream": "g",
         "lockout": {"max_failures": 3, "window": "5s", "lock": "10s", "zone": "login"},
         "abnormal": {"rules": [{"status": [404], "max": 2, "window": "10s"}],
                      "penalty": "30s", "status": 403}},
        {"path": "/rl", "upstream": "g",
         "rate_limit": {"rate": 1000, "per": "1s", "burst": 100, "key": "route"}},
        {"path": "/idem", "upstream": "g", "idempotency": {"ttl": "60s"}},
        {"path": "/room", "upstream": "g", "waiting_room": room(max_active=200)},
    ]
    a, bb = instances(launcher, cluster, {"g": [b.port]}, routes, n=2)
    for w in (a, bb):
        with Client(w.port) as c:
            assert c.get("/rl").status == 200
            assert c.get("/room", headers={"Accept": "application/json"}).status == 200
            r = c.request("POST", "/idem", body=b"x", headers={"Idempotency-Key": "k1"})
            assert r.status == 200
    # abnormal access: 3 × 404 through A (max 2) → the penalty, shared through Redis
    for _ in range(3):
        status(a.port, "/status/404", "127.0.0.5")
    until(lambda: status(bb.port, "/status/200", "127.0.0.5") == 403, timeout=2.0)
    # lockout: 3 failures through A lock the address on B
    for _ in range(3):
        assert status(a.port, "/status/401", "127.0.0.6") == 401
    until(lambda: status(bb.port, "/status/200", "127.0.0.6") == 429, timeout=2.0)
    assert admin_req(bb.aport, "POST", "/lockouts/unlock?key=login%7Cip%7C127.0.0.6").status == 200
    until(lambda: status(a.port, "/status/200", "127.0.0.6") == 200, timeout=2.0)
    with SrcClient(a.port, "127.0.0.7") as c:  # a success resets the window's count
        assert c.get("/status/200").status == 200
    with Client(a.aport) as c:
        assert c.request("POST", "/revoke?jti=t-9&ttl=60").status == 200
    with Client(bb.aport) as c:
        until(lambda: any(e.get("value") == "t-9" for e in c.get("/revoke").json()))
    time.sleep(0.2)
    assert crossslot_errors(cluster) == []
    assert "errorstat_" not in cluster.cmd("INFO", "errorstats")
