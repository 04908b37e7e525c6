"""Edge security (issue 13, items 3, 6, 7): IP rules per route and per listener over real
sockets from several loopback source addresses (/0, /32, /128, v4-mapped), X-Forwarded-For
spoofing with and without trusted proxies, CORS preflight and security headers, and the audit
log's chain checked (and a tampered line found) with `weir audit verify`."""

import json
import os
import socket
import subprocess
import time

from conftest import Client, free_port, make_config


class SrcClient(Client):
    """A Client whose connection comes from a chosen local address."""

    def __init__(self, port, src, host="127.0.0.1", timeout=10.0):
        self.port = port
        self.host_header = "127.0.0.1:%d" % port
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(src, 0))
        self.sock.settimeout(timeout)
        self.buf = bytearray()
        self.eof = False
        self.received = 0


def status(port, path, src="127.0.0.1", headers=None, host="127.0.0.1"):
    with SrcClient(port, src, host=host) as c:
        return c.get(path, headers).status


def config(be, routes, **extra):
    cfg = make_config(None, {"g": [be.port]}, routes, extra=extra)
    return cfg


def test_route_rules_v4_and_v6(launcher):
    be = launcher.backend("b")
    port6 = None
    routes = [
        {"path": "/office", "upstream": "g",
         "ip_rules": {"allow": ["127.0.0.0/30", "::1/128"], "deny": ["127.0.0.2/32"]}},
        {"path": "/closed", "upstream": "g",
         "ip_rules": {"deny": ["0.0.0.0/0", "::/0"], "status": 451}},
        {"path": "/v6", "upstream": "g", "ip_rules": {"allow": ["::1/128"]}},
        {"path": "/", "upstream": "g"},
    ]
    w = launcher.weir(config(be, routes))
    port6 = w.port + 0
    assert status(w.port, "/office") == 200
    assert status(w.port, "/office", "127.0.0.3") == 200
    assert status(w.port, "/office", "127.0.0.2") == 403   # /32 deny wins over the /30 allow
    assert status(w.port, "/office", "127.0.0.5") == 403   # outside the allow list
    assert status(w.port, "/closed") == 451                # /0, configured status
    assert status(w.port, "/v6") == 403                    # v4 client, v6-only allow
    assert status(w.port, "/anything", "127.0.0.2") == 200
    assert port6


def test_ipv6_listener_128(launcher):
    be = launcher.backend("b")
    routes = [{"path": "/v6", "upstream": "g", "ip_rules": {"allow": ["::1/128"]}},
              {"path": "/not1", "upstream": "g", "ip_rules": {"deny": ["::1"]}}]
    cfg = config(be, routes)
    p = launcher.weir(cfg, start=False).port
    cfg["listen"] = ["[::1]:%d" % p]
    w = launcher.weirs[-1]
    w.write_config(cfg)
    w.start(wait=False)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("::1", p), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    assert status(p, "/v6", "::1", host="::1") == 200
    assert status(p, "/not1", "::1", host="::1") == 403


def test_forwarded_for_spoofing(launcher):
    be = launcher.backend("b")
    routes = [{"path": "/", "upstream": "g",
               "ip_rules": {"deny": ["10.9.9.9", "127.0.0.2"]}}]
    # no trusted proxies: the header is never read
    w = launcher.weir(config(be, routes))
    assert status(w.port, "/", "127.0.0.2", {"X-Forwarded-For": "127.0.0.1"}) == 403
    assert status(w.port, "/", "127.0.0.1", {"X-Forwarded-For": "10.9.9.9"}) == 200
    w.stop()
    cfg = config(be, routes, trusted_proxies={"from": ["127.0.0.9/32"], "depth": 1})
    w = launcher.weir(cfg)
    # through the trusted proxy the last entry is the client; v4-mapped is the same address
    assert status(w.port, "/", "127.0.0.9", {"X-Forwarded-For": "10.9.9.9"}) == 403
    assert status(w.port, "/", "127.0.0.9", {"X-Forwarded-For": "::ffff:10.9.9.9"}) == 403
    # a client-prepended entry is not believed: depth 1 takes only the proxy's own
    assert status(w.port, "/", "127.0.0.9", {"X-Forwarded-For": "10.9.9.9, 1.2.3.4"}) == 200
    # an untrusted peer cannot pretend: not even to escape its own deny
    assert status(w.port, "/", "127.0.0.1", {"X-Forwarded-For": "10.9.9.9"}) == 200
    assert status(w.port, "/", "127.0.0.2", {"X-Forwarded-For": "1.2.3.4"}) == 403


def test_listener_rules_close_at_accept(launcher):
    be = launcher.backend("b")
    cfg = config(be, [{"path": "/", "upstream": "g"}])
    w = launcher.weir(cfg, start=False)
    cfg["listen"] = [{"address": "127.0.0.1:%d" % w.port,
                      "ip_rules": {"allow": ["127.0.0.1/32"]}}]
    w.write_config(cfg)
    w.start()
    assert status(w.port, "/", "127.0.0.1") == 200
    with SrcClient(w.port, "127.0.0.4") as c:
        c.send(c.build("GET", "/"))
        try:
            data = c.sock.recv(100)
        except ConnectionResetError:
            data = b""
        assert data == b""


def test_cors_and_headers(launcher):
    be = launcher.backend("b")
    routes = [{"path": "/", "upstream": "g",
               "cors": {"origins": ["https://*.example.com"], "methods": ["GET", "PUT"],
                        "credentials": True},
               "security_headers": {"csp": "default-src 'self'"}}]
    w = launcher.weir(config(be, routes))
    with Client(w.port) as c:
        r = c.request("OPTIONS", "/x", {"Origin": "https://app.example.com",
                                        "Access-Control-Request-Method": "PUT"})
        assert r.status == 204
        assert r.header("Access-Control-Allow-Origin") == "https://app.example.com"
        assert r.header("Access-Control-Allow-Methods") == "GET, PUT"
        assert r.header("Access-Control-Allow-Credentials") == "true"
        assert be.stats() is None or True
        r = c.get("/y", {"Origin": "https://evil.org"})
        assert r.status == 200
        assert not r.has("Access-Control-Allow-Origin")
        assert "Origin" in r.header("Vary")
        assert r.header("X-Content-Type-Options") == "nosniff"
        assert r.header("Content-Security-Policy") == "default-src 'self'"
        assert r.header("X-Frame-Options") == "DENY"
        r = c.get("/y", {"Origin": "https://a.example.com"})
        assert r.header("Access-Control-Allow-Origin") == "https://a.example.com"


def test_audit_log_chain(launcher, weir_bin, tmp_path):
    be = launcher.backend("b")
    log = str(tmp_path / "audit.log")
    routes = [{"path": "/", "upstream": "g", "ip_rules": {"deny": ["127.0.0.2"]}}]
    w = launcher.weir(config(be, routes, audit_log=log))
    for _ in range(3):
        assert status(w.port, "/", "127.0.0.2", {"X-Forwarded-For": "4111111111111111"}) == 403
    w.reload()
    time.sleep(0.5)
    w.stop()
    lines = open(log).read().splitlines()
    events = [json.loads(x) for x in lines]
    denied = [e for e in events if e["event"] == "ip_denied"]
    assert len(denied) == 3 and denied[0]["client"] == "127.0.0.2"
    assert denied[0]["rule"] == "ip_rules.deny" and len(denied[0]["request_id"]) >= 16
    assert any(e["event"] == "reload" for e in events)
    assert oct(os.stat(log + ".key").st_mode & 0o777) == "0o600"
    ok = subprocess.run([weir_bin, "audit", "verify", log], capture_output=True, text=True,
                        timeout=30)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    lines[1] = lines[1].replace("127.0.0.2", "127.0.0.3")
    open(log, "w").write("\n".join(lines) + "\n")
    bad = subprocess.run([weir_bin, "audit", "verify", log, "--key", log + ".key"],
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 1
    assert ":2:" in bad.stdout


def test_audit_log_successes(launcher, weir_bin, tmp_path):
    """audit_log.successes: accepted authentications are audited too (with the client id), in
    the same chain; refusals as always."""
    import hashlib
    be = launcher.backend("b")
    log = str(tmp_path / "audit.log")
    routes = [{"path": "/", "upstream": "g",
               "api_key": {"keys": [{"client": "mobile",
                                     "sha256": hashlib.sha256(b"k-1").hexdigest()}]}}]
    w = launcher.weir(config(be, routes, audit_log={"path": log, "successes": True}))
    assert status(w.port, "/a", headers={"X-API-Key": "k-1"}) == 200
    assert status(w.port, "/a", headers={"X-API-Key": "nope"}) == 401
    w.stop()
    events = [json.loads(x) for x in open(log).read().splitlines()]
    ok = [e for e in events if e["event"] == "auth_success"]
    assert len(ok) == 1 and ok[0]["subject"] == "mobile" and ok[0]["rule"] == "api_key"
    assert [e["event"] for e in events].count("auth_failure") == 1
    r = subprocess.run([weir_bin, "audit", "verify", log], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr


def admin_req(port, method, path):
    with Client(port) as c:
        return c.request(method, path)


def test_lockout_per_ip_and_admin_unlock(launcher, tmp_path):
    be = launcher.backend("b")
    admin = free_port()
    log = str(tmp_path / "audit.log")
    routes = [{"path": "/status/", "upstream": "g",
               "lockout": {"account": {"header": "X-User"}, "max_failures": 3,
                           "window": "5s", "lock": "1500ms", "max_lock": "10s",
                           "zone": "login"}}]
    cfg = config(be, routes, admin={"listen": "127.0.0.1:%d" % admin}, audit_log=log)
    w = launcher.weir(cfg)
    for _ in range(3):
        assert status(w.port, "/status/401", "127.0.0.2", {"X-User": "alice"}) == 401
    with SrcClient(w.port, "127.0.0.2") as c:
        r = c.get("/status/200", {"X-User": "alice"})
        assert r.status == 429 and r.header("Retry-After") in ("1", "2")
    # another address, same user: not locked (no DoS against alice)
    assert status(w.port, "/status/200", "127.0.0.3", {"X-User": "alice"}) == 200
    locks = json.loads(admin_req(admin, "GET", "/lockouts?prefix=login").body)
    assert [x["key"] for x in locks] == ["login|ip|127.0.0.2"]
    # the lock ends by itself (short lock), then locks again, doubled
    time.sleep(1.6)
    for _ in range(3):
        assert status(w.port, "/status/403", "127.0.0.2", {"X-User": "alice"}) == 403
    with SrcClient(w.port, "127.0.0.2") as c:
        r = c.get("/status/200")
        assert r.status == 429 and r.header("Retry-After") == "3"
    r = admin_req(admin, "POST", "/lockouts/unlock?key=login%7Cip%7C127.0.0.2")
    assert json.loads(r.body) == {"unlocked": 1}
    assert status(w.port, "/status/200", "127.0.0.2") == 200
    w.stop()
    events = [json.loads(x) for x in open(log).read().splitlines()]
    kinds = [(e["event"], e.get("rule")) for e in events]
    assert kinds.count(("lockout", "lockout.ip")) == 2
    assert ("unlock", "admin") in kinds and ("admin", "/lockouts/unlock") in kinds


def test_lockout_distributed_account(launcher):
    be = launcher.backend("b")
    routes = [{"path": "/status/", "upstream": "g",
               "lockout": {"account": {"json": "user"}, "max_failures": 10,
                           "account_failures": 3, "account_ips": 3, "lock": "2s"}}]
    w = launcher.weir(config(be, routes))

    def login(src, code, user="bob"):
        with SrcClient(w.port, src) as c:
            return c.request("POST", "/status/%d" % code,
                             {"Content-Type": "application/json"},
                             json.dumps({"user": user, "password": "x"}).encode()).status

    assert login("127.0.0.11", 401) == 401
    assert login("127.0.0.12", 401) == 401
    assert login("127.0.0.13", 401) == 401
    assert login("127.0.0.14", 200) == 429            # bob is locked, from anywhere
    assert login("127.0.0.14", 200, "carol") == 200   # carol is not


def test_access_log_masking(launcher, tmp_path):
    be = launcher.backend("b")
    access = str(tmp_path / "access.log")
    cfg = config(be, [{"path": "/", "upstream": "g"}])
    cfg["log"]["access"] = access
    w = launcher.weir(cfg)
    with Client(w.port) as c:
        assert c.get("/pay?card=4111111111111111&token=s3cret&to=a.b@example.com&n=1").status == 200
        assert c.get("/call/010-1234-5678").status == 200
    w.stop()
    text = open(access).read()
    assert "4111111111111111" not in text and "s3cret" not in text
    assert "card=************1111" in text and "token=***" in text
    assert "a**@example.com" in text and "/call/010-****-5678" in text
    cfg["log"]["mask"] = "off"
    w = launcher.weir(cfg)
    with Client(w.port) as c:
        assert c.get("/raw?token=visible").status == 200
    w.stop()
    assert "token=visible" in open(access).read()


def test_access_log_client_is_resolved_address(launcher, tmp_path):
    be = launcher.backend("b")
    access = str(tmp_path / "access.log")
    cfg = config(be, [{"path": "/", "upstream": "g"}],
                 trusted_proxies={"from": ["127.0.0.9/32"], "depth": 1})
    cfg["log"]["access"] = access
    w = launcher.weir(cfg)
    assert status(w.port, "/via-proxy", "127.0.0.9", {"X-Forwarded-For": "10.1.2.3"}) == 200
    assert status(w.port, "/direct", "127.0.0.7", {"X-Forwarded-For": "10.6.6.6"}) == 200
    w.stop()
    lines = {e["path"]: e for e in map(json.loads, open(access).read().splitlines())}
    assert lines["/via-proxy"]["client"] == "10.1.2.3"
    assert lines["/via-proxy"]["peer"] == "127.0.0.9"
    # an untrusted peer's header is not believed: the socket's address, no separate peer
    assert lines["/direct"]["client"] == "127.0.0.7" and "peer" not in lines["/direct"]


def test_response_json_masking(launcher):
    be = launcher.backend("b")
    routes = [{"path": "/", "upstream": "g",
               "mask": {"fields": ["$.headers['x-phone']", "$.query[0][1]"],
                        "keep_head": 3, "keep_tail": 4, "max_body": 2000}}]
    w = launcher.weir(config(be, routes))
    with Client(w.port) as c:
        r = c.get("/echo?card=4111111111111111&other=4111111111111111",
                  {"X-Phone": "010-1234-5678", "Accept-Encoding": "gzip"})
        assert r.status == 200
        doc = r.json()
        assert doc["headers"]["x-phone"] == "010-****-5678"
        assert doc["query"] == [["card", "411*********1111"], ["other", "4111111111111111"]]
        assert "accept-encoding" not in doc["headers"]  # identity asked upstream
        # over max_body by Content-Length: refused, never sent unmasked
        r = c.get("/text?n=5000")
        assert r.status == 502 and b"cannot be masked" in r.body


def test_lock_survives_reload_and_abnormal_penalty(launcher, tmp_path):
    be = launcher.backend("b")
    log = str(tmp_path / "audit.log")
    routes = [{"path": "/status/", "upstream": "g",
               "lockout": {"max_failures": 2, "window": "10s", "lock": "30s"},
               "abnormal": {"rules": [{"status": [404], "max": 3, "window": "10s"}],
                            "penalty": "30s", "status": 403}},
              {"path": "/", "upstream": "g",
               "abnormal": {"rules": [{"same_path": True, "max": 4, "window": "10s"}],
                            "penalty": "30s"}}]
    w = launcher.weir(config(be, routes, audit_log=log))
    assert status(w.port, "/status/401", "127.0.0.21") == 401
    assert status(w.port, "/status/401", "127.0.0.21") == 401
    assert status(w.port, "/status/200", "127.0.0.21") == 429
    w.reload()
    time.sleep(0.5)
    assert status(w.port, "/status/200", "127.0.0.21") == 429  # the lock outlived the reload
    # a scanner: the 4th 404 within the window earns a penalty on this route
    for _ in range(4):
        assert status(w.port, "/status/404", "127.0.0.22") == 404
    assert status(w.port, "/status/200", "127.0.0.22") == 403
    # the same path hammered
    for _ in range(4):
        assert status(w.port, "/same", "127.0.0.23") == 200
    with SrcClient(w.port, "127.0.0.23") as c:
        r = c.get("/same")
        assert r.status == 429 and int(r.header("Retry-After")) >= 29
    assert status(w.port, "/same", "127.0.0.24") == 200
    w.stop()
    events = [json.loads(x) for x in open(log).read().splitlines()]
    pen = [e for e in events if e["event"] == "penalty"]
    assert {e["client"] for e in pen} == {"127.0.0.22", "127.0.0.23"}
    assert all(e["rule"] == "abnormal.rules[0]" for e in pen)


def test_abnormal_counts_auth_refusals(launcher, tmp_path):
    import jwt as pyjwt
    secret = "abnormal-secret-" + "x" * 48
    be = launcher.backend("b")
    log = str(tmp_path / "audit.log")
    routes = [{"path": "/", "upstream": "g",
               "jwt": {"keys": [{"alg": "HS256", "secret": secret}]},
               "abnormal": {"rules": [{"status": [401, 403], "max": 3, "window": "10s"}],
                            "penalty": "30s"}}]
    w = launcher.weir(config(be, routes, audit_log=log))
    good = pyjwt.encode({"sub": "ann", "exp": int(time.time()) + 300}, secret, algorithm="HS256")
    bad = pyjwt.encode({"sub": "ann", "exp": int(time.time()) + 300}, "wrong-" + secret,
                       algorithm="HS256")
    auth = {"Authorization": "Bearer " + good}
    assert status(w.port, "/a", "127.0.0.41", auth) == 200
    # refused by jwt, before abnormal's own link: still counted, against the address
    for _ in range(4):
        assert status(w.port, "/a", "127.0.0.41", {"Authorization": "Bearer " + bad}) == 401
    assert status(w.port, "/a", "127.0.0.41", auth) == 429   # the address's penalty
    assert status(w.port, "/a", "127.0.0.41") == 429
    assert status(w.port, "/a", "127.0.0.42", auth) == 200   # another address is not
    w.stop()
    pen = [e for e in map(json.loads, open(log).read().splitlines()) if e["event"] == "penalty"]
    assert len(pen) == 1 and pen[0]["client"] == "127.0.0.41"


def test_auth_failures_audited(launcher, tmp_path):
    be = launcher.backend("b")
    log = str(tmp_path / "audit.log")
    routes = [{"path": "/", "upstream": "g",
               "jwt": {"keys": [{"alg": "HS256", "secret": "0123456789abcdef" * 4}]}}]
    w = launcher.weir(config(be, routes, audit_log=log))
    assert status(w.port, "/x", "127.0.0.31") == 401
    assert status(w.port, "/x", "127.0.0.31", {"Authorization": "Bearer not.a.token"}) == 401
    w.stop()
    events = [json.loads(x) for x in open(log).read().splitlines()]
    fails = [e for e in events if e["event"] == "auth_failure"]
    assert len(fails) == 2 and all(e["rule"] == "jwt" and e["client"] == "127.0.0.31"
                                   for e in fails)
    assert "not.a.token" not in open(log).read()
