"""Authentication at the gateway (issue 13 items 1-2, docs/security.md): the JWT module with
every algorithm, the attacks it must refuse (alg confusion, none, tampering), time and
audience claims, a JWKS file and a JWKS URL served by a test backend (refetch on an unknown
kid, outage keeps the last set), revocation through the admin listener; API keys, Basic,
HMAC signatures and forward auth.

Tokens and keys are made here with python3-jwt and python3-jwcrypto."""

import base64
import hashlib
import hmac
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt as pyjwt
import pytest
from jwcrypto import jwk

from conftest import Client, free_port, make_config
from resilience_util import with_admin

SECRET = "hs-secret-" + "k" * 64
ISS = "https://issuer.test"
AUD = "weir-api"

ALGS = {  # alg -> jwcrypto generate() arguments
    "RS256": dict(kty="RSA", size=2048), "RS384": dict(kty="RSA", size=2048),
    "RS512": dict(kty="RSA", size=2048), "PS256": dict(kty="RSA", size=2048),
    "ES256": dict(kty="EC", crv="P-256"), "ES384": dict(kty="EC", crv="P-384"),
    "EdDSA": dict(kty="OKP", crv="Ed25519"),
}


def make_keys():
    keys = {}
    for alg, gen in ALGS.items():
        k = jwk.JWK.generate(kid="k-" + alg.lower(), **gen)
        keys[alg] = k
    return keys


def public_jwks(keys, algs=None):
    out = []
    for alg, k in keys.items():
        if algs and alg not in algs:
            continue
        d = json.loads(k.export_public())
        d["alg"] = alg
        d["use"] = "sig"
        out.append(d)
    return {"keys": out}


def sign(key, alg, claims=None, kid=None, headers=None, **over):
    now = int(time.time())
    c = {"sub": "alice", "iss": ISS, "aud": AUD, "iat": now, "exp": now + 300}
    c.update(claims or {})
    for k, v in over.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    h = dict(headers or {})
    if kid:
        h["kid"] = kid
    if alg.startswith("HS"):
        return pyjwt.encode(c, key, algorithm=alg, headers=h)
    pem = key.export_to_pem(private_key=True, password=None)
    return pyjwt.encode(c, pem, algorithm=alg, headers=h)


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class Served:
    """A stdlib HTTP server on a free port in a daemon thread (a handler class per use)."""

    def serve(self, handler):
        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


class Jwks(Served):
    """A JWKS origin: serves `doc` at /jwks.json, or 503 while `down`; counts fetches."""

    def __init__(self, doc):
        self.doc, self.down, self.fetches = doc, False, 0
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_GET(self):
                outer.fetches += 1
                if outer.down:
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = json.dumps(outer.doc).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.serve(H)


PII_MASK = {"fields": ["$.headers['x-phone']"], "keep_head": 3, "keep_tail": 4,
            "unless_claim": {"role": "admin"}}


@pytest.fixture(scope="module")
def keys():
    return make_keys()


@pytest.fixture
def setup(launcher, tmp_path, keys):
    backend = launcher.backend("app")
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(public_jwks(keys)))
    idp = Jwks(public_jwks(keys, ["RS256"]))
    common = {"issuers": [ISS], "audiences": [AUD], "leeway": "5s",
              "claims_to_headers": {"sub": "X-User", "role": "X-Role"}}
    routes = [
        {"host": "idp.test", "path": "/", "upstream": "idp"},
        {"path": "/hs", "upstream": "g",
         "jwt": dict(common, keys=[{"alg": "HS256", "secret": SECRET}])},
        {"path": "/hs-multi", "upstream": "g",
         "jwt": dict(common, keys=[{"alg": "HS384", "secret": SECRET, "kid": "h384"},
                                   {"alg": "HS512", "secret": SECRET, "kid": "h512"}])},
        {"path": "/admin", "upstream": "g",
         "jwt": dict(common, keys=[{"alg": "HS256", "secret": SECRET}],
                     require={"role": "admin"})},
        {"path": "/file", "upstream": "g", "jwt": dict(common, jwks_file=str(jwks_file))},
        {"path": "/url", "upstream": "g",
         "jwt": dict(common, jwks_url="http://idp.test/jwks.json", jwks_refresh_min="1s",
                     jwks_timeout="2s")},
        {"path": "/cookie", "upstream": "g",
         "jwt": dict(common, keys=[{"alg": "HS256", "secret": SECRET}],
                     token_from={"cookie": "session"})},
        {"path": "/qtok", "upstream": "g",
         "jwt": dict(common, keys=[{"alg": "HS256", "secret": SECRET}],
                     token_from={"query": "access_token"})},
        {"path": "/fwdtok", "upstream": "g",
         "jwt": dict(common, keys=[{"alg": "HS256", "secret": SECRET}],
                     token_from={"query": "access_token"}, forward_token=True)},
        {"path": "/pii", "upstream": "g",
         "jwt": dict(common, keys=[{"alg": "HS256", "secret": SECRET}]), "mask": PII_MASK},
        {"path": "/open-pii", "upstream": "g", "mask": PII_MASK},
        {"path": "/rsa-pem", "upstream": "g",
         "jwt": dict(common, keys=[{"alg": "RS256",
                                    "pem": keys["RS256"].export_to_pem().decode()}])},
    ]
    cfg = make_config(None, {"g": [backend.port], "idp": [idp.port]}, routes)
    admin = with_admin(cfg)
    w = launcher.weir(cfg)
    yield w, backend, idp, jwks_file, admin
    idp.close()


def get(w, path, token=None, headers=None):
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = "Bearer " + token
    with Client(w.port) as c:
        return c.get(path, headers=h)


def echo_headers(r):
    assert r.status == 200, r
    return r.json()["headers"]


def test_every_algorithm_from_a_jwks_file(setup, keys):
    w = setup[0]
    for alg, k in keys.items():
        r = get(w, "/file/x", sign(k, alg, kid="k-" + alg.lower()))
        h = echo_headers(r)
        assert h["x-user"] == "alice", alg
        assert "authorization" not in h, alg  # the token is not forwarded


def test_hmac_variants_and_claim_headers(setup):
    w = setup[0]
    tok = sign(SECRET, "HS256", claims={"role": ["admin", "ops"]})
    h = echo_headers(get(w, "/hs/a", tok, {"X-User": "mallory", "X-Role": "root"}))
    assert h["x-user"] == "alice" and h["x-role"] == "admin, ops"  # client copies dropped
    # a token the section has no key for: HS384 with an HS256-only key
    r = get(w, "/hs/a", sign(SECRET, "HS384"))
    assert r.status == 401
    for alg, kid in (("HS384", "h384"), ("HS512", "h512")):
        assert echo_headers(get(w, "/hs-multi/a", sign(SECRET, alg, kid=kid)))["x-user"] == "alice"
    # HS512 naming the HS384 key: that key is HS384 only, and no HS512 key has that kid
    assert get(w, "/hs-multi/a", sign(SECRET, "HS512", kid="h384")).status == 401



def test_missing_and_malformed_tokens(setup):
    w = setup[0]
    r = get(w, "/hs/a")
    assert r.status == 401 and r.header("WWW-Authenticate") == 'Bearer realm="weir"'
    for bad in ["abc", "a.b", "a.b.c.d", "!!.!!.!!", sign(SECRET, "HS256") + "x",
                sign(SECRET, "HS256")[:-2], sign(SECRET, "HS256").replace(".", "=.", 1)]:
        r = get(w, "/hs/a", bad)
        assert r.status == 401, bad
        assert 'error="invalid_token"' in r.header("WWW-Authenticate"), bad


def test_none_and_alg_confusion(setup, keys):
    w = setup[0]
    now = int(time.time())
    claims = {"sub": "eve", "iss": ISS, "aud": AUD, "exp": now + 300}
    hdr = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    for t in [hdr + "." + body + ".", hdr + "." + body + "." + b64(b"x")]:
        assert get(w, "/hs/a", t).status == 401
        assert get(w, "/rsa-pem/a", t).status == 401
    # the RS256 key's public PEM used as an HS256 secret
    pem = keys["RS256"].export_to_pem()
    hdr = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    signing = (hdr + "." + body).encode()
    sig = b64(hmac.new(pem, signing, hashlib.sha256).digest())
    r = get(w, "/rsa-pem/a", signing.decode() + "." + sig)
    assert r.status == 401
    # and the same against the JWKS route, naming the RSA key's kid
    hdr = b64(json.dumps({"alg": "HS256", "kid": "k-rs256"}).encode())
    signing = (hdr + "." + body).encode()
    sig = b64(hmac.new(pem, signing, hashlib.sha256).digest())
    assert get(w, "/file/a", signing.decode() + "." + sig).status == 401
    # a valid RS256 token is fine on the PEM route
    assert get(w, "/rsa-pem/a", sign(keys["RS256"], "RS256")).status == 200


def test_time_issuer_audience(setup):
    w = setup[0]
    now = int(time.time())
    cases = {
        "expired": dict(exp=now - 60),
        "not yet valid": dict(nbf=now + 120),
        "issued in the future": dict(iat=now + 120),
        "wrong issuer": dict(iss="https://evil.test"),
        "wrong audience": dict(aud="other"),
        "no exp": dict(exp=None),
    }
    for name, over in cases.items():
        r = get(w, "/hs/a", sign(SECRET, "HS256", **over))
        assert r.status == 401, name
        assert 'error="invalid_token"' in r.header("WWW-Authenticate"), name
    # within the leeway (5 s) and an audience list
    assert get(w, "/hs/a", sign(SECRET, "HS256", exp=now - 2)).status == 200
    assert get(w, "/hs/a", sign(SECRET, "HS256", aud=["x", AUD])).status == 200


def test_insufficient_claims_is_403(setup):
    w = setup[0]
    r = get(w, "/admin/a", sign(SECRET, "HS256", claims={"role": "user"}))
    assert r.status == 403
    assert 'error="insufficient_scope"' in r.header("WWW-Authenticate")
    assert get(w, "/admin/a", sign(SECRET, "HS256", claims={"role": "admin"})).status == 200


def test_mask_unless_claim(setup):
    w = setup[0]
    phone = {"X-Phone": "010-1234-5678"}
    admin = pyjwt.encode({"sub": "root", "iss": ISS, "aud": AUD, "role": "admin",
                          "exp": int(time.time()) + 300}, SECRET, algorithm="HS256")
    user = pyjwt.encode({"sub": "bob", "iss": ISS, "aud": AUD, "role": "user",
                         "exp": int(time.time()) + 300}, SECRET, algorithm="HS256")
    # claims too large for the cache's record: verified each time, still decided by
    big = pyjwt.encode({"sub": "root", "iss": ISS, "aud": AUD, "role": "admin",
                        "groups": ["g%04d" % i for i in range(400)],
                        "exp": int(time.time()) + 300}, SECRET, algorithm="HS256")
    for _ in range(2):  # the second time from the verified-token cache
        assert echo_headers(get(w, "/pii/a", admin, phone))["x-phone"] == "010-1234-5678"
        assert echo_headers(get(w, "/pii/a", user, phone))["x-phone"] == "010-****-5678"
        assert echo_headers(get(w, "/pii/a", big, phone))["x-phone"] == "010-1234-5678"
    assert get(w, "/pii/a", None, phone).status == 401
    assert echo_headers(get(w, "/open-pii/a", None, phone))["x-phone"] == "010-****-5678"
    # no jwt on the route: an admin token is not even read, the values stay masked
    assert echo_headers(get(w, "/open-pii/a", admin, phone))["x-phone"] == "010-****-5678"


def test_query_token_is_removed(setup):
    w = setup[0]
    tok = pyjwt.encode({"sub": "q", "iss": ISS, "aud": AUD, "exp": int(time.time()) + 300},
                       SECRET, algorithm="HS256")
    r = get(w, "/qtok/a?x=1&access_token=%s&y=2" % tok)
    assert r.status == 200 and r.json()["path"] == "/qtok/a?x=1&y=2"
    r = get(w, "/qtok/a?access_token=" + tok)
    assert r.status == 200 and r.json()["path"] == "/qtok/a"
    r = get(w, "/fwdtok/a?access_token=%s&y=2" % tok)  # forward_token: left as it came
    assert r.status == 200 and r.json()["path"] == "/fwdtok/a?access_token=%s&y=2" % tok
    assert get(w, "/qtok/a?x=1").status == 401


def test_cookie_token_is_removed(setup):
    w = setup[0]
    tok = sign(SECRET, "HS256")
    h = echo_headers(get(w, "/cookie/a", headers={"Cookie": "a=1; session=%s; b=2" % tok}))
    assert h["cookie"] == "a=1; b=2" and h["x-user"] == "alice"
    assert get(w, "/cookie/a", headers={"Cookie": "a=1"}).status == 401


def test_cached_token_still_checked_for_expiry_and_revocation(setup):
    w, _, _, _, admin = setup
    tok = sign(SECRET, "HS256", jti="token-1")
    for _ in range(3):
        assert get(w, "/hs/a", tok).status == 200
    with Client(admin) as c:
        r = c.request("POST", "/revoke?jti=token-1&ttl=60")
    assert r.status == 200, r
    r = get(w, "/hs/a", tok)
    assert r.status == 401 and "revoked" in r.text()
    with Client(admin) as c:
        r = c.request("POST", "/revoke?sub=bob&ttl=60")
        assert r.status == 200
        lst = c.get("/revoke").json()
    assert {"kind": "jti", "value": "token-1"} in [{k: e[k] for k in ("kind", "value")}
                                                   for e in lst]
    assert get(w, "/hs/a", sign(SECRET, "HS256", sub="bob")).status == 401
    assert get(w, "/hs/a", sign(SECRET, "HS256", sub="carol")).status == 200


def test_jwks_file_reload(setup, keys):
    w, _, _, jwks_file, _ = setup
    tok = sign(keys["ES256"], "ES256", kid="k-es256")
    assert get(w, "/file/a", tok).status == 200
    new = jwk.JWK.generate(kid="k-new", kty="EC", crv="P-256")
    jwks_file.write_text(json.dumps(public_jwks({"ES256": new})))
    st = os.stat(jwks_file)
    os.utime(jwks_file, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    time.sleep(1.2)
    assert get(w, "/file/a", sign(new, "ES256", kid="k-new")).status == 200
    assert get(w, "/file/a", tok).status == 401  # the old key is gone (and the cache with it)


def test_jwks_url_refetch_on_unknown_kid_and_outage(setup, keys):
    w, _, idp, _, _ = setup
    tok = sign(keys["RS256"], "RS256", kid="k-rs256")
    assert get(w, "/url/a", tok).status == 200  # first token: fetched, the request waited
    assert idp.fetches == 1
    # a new key appears at the issuer: the unknown kid makes weir fetch again
    time.sleep(1.1)
    idp.doc = public_jwks(keys, ["RS256", "ES384"])
    t2 = sign(keys["ES384"], "ES384", kid="k-es384")
    assert get(w, "/url/a", t2).status == 200
    assert idp.fetches == 2
    # outage: unknown kids fail, known keys keep working (the last good set stays)
    idp.down = True
    time.sleep(1.1)
    t3 = sign(keys["EdDSA"], "EdDSA", kid="k-eddsa")
    assert get(w, "/url/a", t3).status == 401
    assert get(w, "/url/a", sign(keys["RS256"], "RS256", kid="k-rs256", jti="new")).status == 200
    # bounded rate: a burst of unknown kids within refresh_min makes at most one more fetch
    before = idp.fetches
    for _ in range(5):
        assert get(w, "/url/a", t3).status == 401
    assert idp.fetches - before <= 1


def wait_reload(w, gen):
    deadline = time.monotonic() + 10
    while "generation %d " % gen not in w.stderr_text():
        assert time.monotonic() < deadline, w.stderr_text()
        time.sleep(0.05)
    time.sleep(0.3)  # every worker has taken it


def test_jwks_and_token_cache_survive_reload(launcher, keys):
    backend = launcher.backend("app")
    idp = Jwks(public_jwks(keys, ["RS256"]))
    jwt_conf = {"issuers": [ISS], "audiences": [AUD], "jwks_url": "http://idp.test/jwks.json",
                "jwks_refresh_min": "1s", "jwks_timeout": "2s"}
    routes = [{"host": "idp.test", "path": "/", "upstream": "idp"},
              {"path": "/url", "upstream": "g", "jwt": dict(jwt_conf)},
              {"path": "/other", "upstream": "g"}]
    port = free_port()
    cfg = make_config(port, {"g": [backend.port], "idp": [idp.port]}, routes,
                      extra={"admin": "off"})
    w = launcher.weir(cfg, port=port)
    try:
        tok = sign(keys["RS256"], "RS256", kid="k-rs256")
        assert get(w, "/url/a", tok).status == 200
        assert idp.fetches == 1
        # another route changes; this jwt section does not: keys and verified tokens stay,
        # so the token passes with the issuer down and nothing is fetched again
        idp.down = True
        cfg["routes"][2]["path"] = "/other2"
        w.reload(cfg)
        wait_reload(w, 2)
        assert get(w, "/url/a", tok).status == 200
        assert get(w, "/url/b", sign(keys["RS256"], "RS256", kid="k-rs256", jti="2")).status == 200
        assert idp.fetches == 1
        # a changed section starts afresh: its first token fetches the keys again
        idp.down = False
        cfg["routes"][1]["jwt"]["leeway"] = "7s"
        w.reload(cfg)
        wait_reload(w, 3)
        assert get(w, "/url/a", tok).status == 200
        assert idp.fetches == 2
        assert "reload refused" not in w.stderr_text()
    finally:
        idp.close()


# --------------------------------------------------------------------------------------------
# API keys, Basic

def sha256_hex(s):
    return hashlib.sha256(s.encode()).hexdigest()


def sha512_crypt(pw):
    import subprocess
    return subprocess.run(["openssl", "passwd", "-6", pw], check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def basic_setup(launcher, tmp_path):
    backend = launcher.backend("app")
    lines = ["# users", "carol:" + sha512_crypt("carol-pw")]
    try:
        import bcrypt
        lines.append("dave:" + bcrypt.hashpw(b"dave-pw", bcrypt.gensalt(4)).decode()
                     .replace("$2b$", "$2y$"))
        have_bcrypt = True
    except ImportError:
        have_bcrypt = False
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text("\n".join(lines) + "\n")
    routes = [
        {"path": "/key", "upstream": "g",
         "api_key": {"keys": [{"client": "mobile", "sha256": sha256_hex("key-one")},
                              {"client": "web", "sha256": sha256_hex("key-two")}]}},
        {"path": "/qkey", "upstream": "g",
         "api_key": {"query": "api_key", "client_header": "X-Client",
                     "keys": [{"client": "batch", "sha256": sha256_hex("key-q")}]}},
        {"path": "/basic", "upstream": "g",
         "basic_auth": {"htpasswd": str(htpasswd), "realm": "staff", "user_header": "X-User"}},
        {"path": "/keyrl", "upstream": "g",
         "api_key": {"keys": [{"client": "mobile", "sha256": sha256_hex("key-one")},
                              {"client": "web", "sha256": sha256_hex("key-two")},
                              {"client": "web", "sha256": sha256_hex("key-two-b")}]},
         "rate_limit": {"rate": 2, "per": "1m", "burst": 1, "key": "client"}},
    ]
    w = launcher.weir(make_config(None, {"g": [backend.port]}, routes))
    return w, have_bcrypt


def test_api_key_header_and_query(basic_setup):
    w = basic_setup[0]
    h = echo_headers(get(w, "/key/a", headers={"X-API-Key": "key-two", "X-Client-Id": "root"}))
    assert h["x-client-id"] == "web" and "x-api-key" not in h
    r = get(w, "/key/a", headers={"X-API-Key": "key-three"})
    assert r.status == 401 and r.header("WWW-Authenticate").startswith("APIKey")
    assert get(w, "/key/a").status == 401
    r = get(w, "/qkey/a?api_key=key-q&x=1")
    assert echo_headers(r)["x-client"] == "batch"
    assert r.json()["path"] == "/qkey/a?x=1"  # the key is not forwarded
    assert get(w, "/qkey/a?api_key=key-one").status == 401


def test_rate_limit_per_api_client(basic_setup):
    """`rate_limit.key: client` counts each authenticated client apart, whatever address or
    key it comes with: two keys of one client share its limit, another client has its own."""
    w = basic_setup[0]
    web = [get(w, "/keyrl/a", headers={"X-API-Key": k}).status
           for k in ("key-two", "key-two-b", "key-two")]
    assert web[:2] == [200, 200] and web[2] == 429, web
    assert get(w, "/keyrl/a", headers={"X-API-Key": "key-one"}).status == 200
    assert get(w, "/keyrl/a").status == 401  # refused before it could count


def basic(user, pw):
    return {"Authorization": "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode())
            .decode()}


def test_basic_sha512_crypt_and_bcrypt(basic_setup):
    w, have_bcrypt = basic_setup
    h = echo_headers(get(w, "/basic/a", headers=basic("carol", "carol-pw")))
    assert h["x-user"] == "carol" and "authorization" not in h
    h = echo_headers(get(w, "/basic/a", headers=basic("carol", "carol-pw")))  # remembered
    for hdr in [basic("carol", "wrong"), basic("nobody", "carol-pw"), {}]:
        r = get(w, "/basic/a", headers=hdr)
        assert r.status == 401
        assert r.header("WWW-Authenticate") == 'Basic realm="staff", charset="UTF-8"'
    assert get(w, "/basic/a", headers={"Authorization": "Basic !!!!"}).status == 401
    if not have_bcrypt:
        pytest.skip("python3-bcrypt is not installed: the bcrypt case is not run")
    assert echo_headers(get(w, "/basic/a", headers=basic("dave", "dave-pw")))["x-user"] == "dave"
    assert get(w, "/basic/a", headers=basic("dave", "nope")).status == 401


# --------------------------------------------------------------------------------------------
# HMAC request signatures

HMAC_SECRET = "hmac-secret-" + "s" * 40


def hmac_headers(method, target, body=b"", headers=None, ts=None, key="svc1",
                 secret=HMAC_SECRET, signed=("host", "content-type")):
    headers = dict(headers or {})
    ts = str(int(time.time()) if ts is None else ts)
    path, _, query = target.partition("?")
    params = sorted(p for p in query.split("&") if p)
    lower = {k.lower(): v for k, v in headers.items()}
    lines = [method, path, "&".join(params), ts]
    lines += ["%s:%s" % (h, lower.get(h, "").strip()) for h in signed]
    canon = "\n".join(lines) + "\n" + hashlib.sha256(body).hexdigest()
    sig = hmac.new(secret.encode(), canon.encode(), hashlib.sha256).hexdigest()
    headers.update({"X-Signature-Key": key, "X-Signature-Timestamp": ts, "X-Signature": sig})
    return headers


@pytest.fixture
def hmac_weir(launcher):
    backend = launcher.backend("app")
    routes = [{"path": "/signed", "upstream": "g",
               "hmac_auth": {"keys": [{"id": "svc1", "secret": HMAC_SECRET}],
                             "headers": ["Host", "Content-Type"], "skew": "300s"}}]
    return launcher.weir(make_config(None, {"g": [backend.port]}, routes))


def test_hmac_signature_replay_and_skew(hmac_weir):
    w = hmac_weir
    host = "127.0.0.1:%d" % w.port
    base = {"Host": host, "Content-Type": "application/json"}
    body = b'{"amount": 10}'
    h = hmac_headers("POST", "/signed/pay?b=2&a=1", body, base)
    with Client(w.port) as c:
        r = c.request("POST", "/signed/pay?b=2&a=1", headers=h, body=body)
    assert r.status == 200, r
    with Client(w.port) as c:  # the same signature again: a replay
        r = c.request("POST", "/signed/pay?b=2&a=1", headers=h, body=body)
    assert r.status == 401 and "replay" in r.text()
    # a changed body, query or signed header breaks the signature
    h = hmac_headers("POST", "/signed/pay", body, base)
    with Client(w.port) as c:
        assert c.request("POST", "/signed/pay", headers=h, body=b'{"amount": 99}').status == 401
    h = hmac_headers("GET", "/signed/x?a=1", b"", base)
    assert get(w, "/signed/x?a=2", headers=h).status == 401
    h = hmac_headers("GET", "/signed/x", b"", base)
    h["Content-Type"] = "text/plain"
    assert get(w, "/signed/x", headers=h).status == 401
    # clock skew: 301 s either way is refused, 250 s is fine
    for off, want in [(-301, 401), (301, 401), (-250, 200), (250, 200)]:
        h = hmac_headers("GET", "/signed/x", b"", base, ts=int(time.time()) + off)
        assert get(w, "/signed/x", headers=h).status == want, off
    # an unknown key, an unsigned request
    assert get(w, "/signed/x", headers=hmac_headers("GET", "/signed/x", b"", base,
                                                     key="other")).status == 401
    r = get(w, "/signed/x")
    assert r.status == 401 and r.header("WWW-Authenticate") == "HMAC-SHA256"


# --------------------------------------------------------------------------------------------
# forward auth

class AuthService(Served):
    """/check: "Bearer good" → 200 with X-User; "Bearer slow" → 200 after 3 s; else 401."""

    def __init__(self):
        self.seen = []
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                auth = self.headers.get("Authorization", "")
                outer.seen.append(dict(self.headers))
                if auth == "Bearer slow":
                    time.sleep(3)
                if auth in ("Bearer good", "Bearer slow"):
                    self.send_response(200)
                    self.send_header("X-User", "alice")
                    self.send_header("X-Other", "not copied")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = b"go away\n"
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Bearer realm="sso"')
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.serve(H)


@pytest.fixture
def fa_setup(launcher):
    backend = launcher.backend("app")
    auth = AuthService()
    routes = [
        {"host": "auth.test", "path": "/", "upstream": "auth"},
        {"path": "/fa", "upstream": "g",
         "forward_auth": {"url": "http://auth.test/check", "copy_headers": ["X-User"],
                          "timeout": "1s"}},
        {"path": "/open-on-timeout", "upstream": "g",
         "forward_auth": {"url": "http://auth.test/check", "timeout": "1s",
                          "on_timeout": "allow"}},
    ]
    cfg = make_config(None, {"g": [backend.port], "auth": {
        "servers": [auth.port], "health": {"passive": "off"}}}, routes)
    w = launcher.weir(cfg)
    yield w, auth
    auth.close()


def test_forward_auth_allow_deny_timeout(fa_setup):
    w, auth = fa_setup
    h = echo_headers(get(w, "/fa/x?q=1", "good", {"X-User": "mallory"}))
    assert h["x-user"] == "alice" and "x-other" not in h
    seen = auth.seen[-1]
    assert seen["X-Forwarded-Uri"] == "/fa/x?q=1" and seen["X-Forwarded-Method"] == "GET"
    r = get(w, "/fa/x", "bad")
    assert r.status == 401 and r.body == b"go away\n"
    assert r.header("WWW-Authenticate") == 'Bearer realm="sso"'
    t0 = time.monotonic()
    r = get(w, "/fa/x", "slow")
    assert r.status == 503 and time.monotonic() - t0 < 2.9  # failed closed at the timeout
    assert get(w, "/open-on-timeout/x", "slow").status == 200
