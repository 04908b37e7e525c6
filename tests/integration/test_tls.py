"""TLS (issue 12): HTTPS listeners (SNI, ALPN, protocols, resumption, mTLS, HSTS, redirect,
plain HTTP to a TLS port, handshake timeout, reload of certificates) and TLS to upstreams
(verification on by default, wrong CA / wrong name -> 502, session reuse).

Every certificate is made here with the openssl CLI into the test's temp dir."""

import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest

from conftest import Client, free_port, make_config, wait_port


# --------------------------------------------------------------------------------------------
# certificates

def _run(*argv, cwd):
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_ca(d, name):
    _run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", name + ".key", "-out", name + ".pem", "-days", "2",
         "-subj", "/CN=%s" % name, cwd=d)
    return os.path.join(d, name + ".pem")


def make_leaf(d, name, cn, sans, ca="ca", kind="ec", client=False):
    """A certificate for `sans` (e.g. "DNS:a.test,IP:127.0.0.1") signed by `ca`."""
    newkey = (["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if kind == "ec"
              else ["-newkey", "rsa:2048"])
    _run("openssl", "req", "-new", *newkey, "-nodes", "-keyout", name + ".key",
         "-out", name + ".csr", "-subj", "/O=weir tests/CN=%s" % cn, cwd=d)
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        if sans:
            f.write("subjectAltName=%s\n" % sans)
        f.write("extendedKeyUsage=%s\n" % ("clientAuth" if client else "serverAuth"))
    _run("openssl", "x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem",
         "-CAkey", ca + ".key", "-CAcreateserial", "-days", "2", "-out", name + ".pem",
         "-extfile", ext, cwd=d)
    return os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("certs"))
    c = {"dir": d, "ca": make_ca(d, "ca"), "other_ca": make_ca(d, "other")}
    c["a"] = make_leaf(d, "a", "a.test", "DNS:a.test,DNS:*.wild.test")
    c["b"] = make_leaf(d, "b", "b.test", "DNS:b.test", kind="rsa")
    c["a2"] = make_leaf(d, "a2", "a.test", "DNS:a.test,DNS:*.wild.test")
    c["up"] = make_leaf(d, "up", "localhost", "DNS:localhost,IP:127.0.0.1")
    c["alice"] = make_leaf(d, "alice", "alice", None, client=True)
    c["mallory"] = make_leaf(d, "mallory", "mallory", None, ca="other", client=True)
    return c


# --------------------------------------------------------------------------------------------
# helpers

def tls_listener(port, certs, names=("a", "b"), **extra):
    t = {"certificates": [{"cert": certs[n][0], "key": certs[n][1]} for n in names]}
    t.update(extra)
    return {"address": "127.0.0.1:%d" % port, "tls": t}


def client_ctx(certs, verify=True, alpn=None, cert=None, tls13=True):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if verify:
        ctx.load_verify_locations(certs["ca"])
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(alpn)
    if cert:
        ctx.load_cert_chain(*cert)
    if not tls13:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def tls_connect(port, ctx, sni, session=None, timeout=10):
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return ctx.wrap_socket(raw, server_hostname=sni, session=session)


def https(port, ctx, sni, path="/", headers=None, method="GET", conn=None):
    """One request; returns (status, headers dict lower-case, body, connection)."""
    if conn is None:
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
        conn._tunnel_host = None
        # Connect ourselves so SNI is `sni`, not 127.0.0.1.
        conn.sock = tls_connect(port, ctx, sni)
    h = {"Host": sni or "127.0.0.1"}
    h.update(headers or {})
    conn.request(method, path, headers=h)
    r = conn.getresponse()
    body = r.read()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body, conn


def peer_cn(sock):
    der = sock.getpeercert(binary_form=True)
    pem = ssl.DER_cert_to_PEM_cert(der)
    out = subprocess.run(["openssl", "x509", "-noout", "-subject"], input=pem.encode(),
                         capture_output=True, check=True).stdout.decode()
    m = re.search(r"CN\s*=\s*([^,\n/]+)", out)
    return m.group(1).strip()


def metrics(admin_port):
    deadline = time.monotonic() + 5
    while True:  # the admin listener starts just after the proxy's
        try:
            c = Client(admin_port)
            break
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    try:
        return c.request("GET", "/metrics", headers={"Connection": "close"}).text()
    finally:
        c.close()


def metric(text, name, **labels):
    want = ",".join('%s="%s"' % kv for kv in labels.items())
    for line in text.splitlines():
        if line.startswith(name + ("{" + want + "}" if want else " ")):
            return int(float(line.rsplit(" ", 1)[1]))
    return 0


def wait_metric(admin_port, name, at_least, **labels):
    """The metric once it reached at_least (within 5 s). A handshake is counted right after
    weir's last write of it, which the client may see first (the worker can be preempted)."""
    deadline = time.monotonic() + 5
    while True:
        v = metric(metrics(admin_port), name, **labels)
        if v >= at_least or time.monotonic() > deadline:
            return v
        time.sleep(0.05)


def base_config(backend, listeners, level="info", admin_port=None, ups=None, extra=None):
    cfg = make_config(None, ups or {"app": [backend.port]}, [{"path": "/", "upstream": "app"}],
                      workers=2, level=level, extra=extra)
    cfg["listen"] = listeners
    if admin_port:
        cfg["admin"] = {"listen": "127.0.0.1:%d" % admin_port}
    return cfg


def start_tls(launcher, certs, **tls):
    """A backend and weir with one TLS listener (certificates a and b, then `tls` keys) and an
    admin listener; returns (port, admin port)."""
    be = launcher.backend("app")
    port, admin = free_port(), free_port()
    launcher.weir(base_config(be, [tls_listener(port, certs, **tls)], admin_port=admin),
                  port=port)
    return port, admin


# --------------------------------------------------------------------------------------------
# listeners

def test_sni_alpn_hsts_and_forwarded_proto(launcher, certs):
    port, admin = start_tls(launcher, certs, hsts="max-age=63072000")
    ctx = client_ctx(certs)
    for sni, cn in (("a.test", "a.test"), ("b.test", "b.test"), ("x.wild.test", "a.test")):
        s = tls_connect(port, ctx, sni)
        assert peer_cn(s) == cn
        s.close()
    # An unknown name and no name at all get the default (first) certificate.
    loose = client_ctx(certs, verify=False)
    for sni in ("unknown.test", None):
        s = tls_connect(port, loose, sni)
        assert peer_cn(s) == "a.test"
        s.close()
    # A deeper name than the wildcard covers is not matched by it.
    with pytest.raises(ssl.SSLCertVerificationError):
        tls_connect(port, ctx, "a.b.wild.test")
    # ALPN: http/1.1 chosen; a client offering only h2 gets no ALPN (h2 is reserved).
    s = tls_connect(port, client_ctx(certs, alpn=["h2", "http/1.1"]), "a.test")
    assert s.selected_alpn_protocol() == "http/1.1"
    s.close()
    s = tls_connect(port, client_ctx(certs, alpn=["h2"]), "a.test")
    assert s.selected_alpn_protocol() is None
    s.close()
    # A request through: HSTS added, the upstream told the scheme was https.
    st, h, body, conn = https(port, ctx, "a.test", "/x")
    assert st == 200
    assert h["strict-transport-security"] == "max-age=63072000"
    echo = json.loads(body)
    assert echo["headers"]["x-forwarded-proto"] == "https"
    # Keep-alive: more requests on the same TLS connection, a large body too.
    for _ in range(3):
        st, _, body, _ = https(port, ctx, "a.test", "/bytes?n=300000", conn=conn)
        assert st == 200 and len(body) == 300000
    conn.close()
    assert wait_metric(admin, "weir_tls_handshakes_total", 8, kind="full") >= 8
    assert wait_metric(admin, "weir_tls_protocol_total", 1, protocol="TLSv1.3") >= 1


def test_old_protocols_refused_and_counted(launcher, certs):
    port, admin = start_tls(launcher, certs)
    for flag in ("-tls1_1", "-tls1"):
        r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, flag,
                            "-cipher", "DEFAULT@SECLEVEL=0"], input=b"", capture_output=True,
                           timeout=20)
        assert b"Cipher is (NONE)" in r.stdout or r.returncode != 0
    # TLS 1.2 only works too.
    s = tls_connect(port, client_ctx(certs, tls13=False), "a.test")
    assert s.version() == "TLSv1.2"
    s.close()
    assert wait_metric(admin, "weir_tls_handshake_failures_total", 2, reason="protocol") >= 2
    assert wait_metric(admin, "weir_tls_protocol_total", 1, protocol="TLSv1.2") >= 1


def test_plain_http_to_tls_port_gets_400(launcher, certs):
    port, admin = start_tls(launcher, certs)
    c = Client(port)
    r = c.request("GET", "/", headers={"Connection": "close"})
    assert r.status == 400
    assert b"HTTPS" in r.body
    c.close()
    assert wait_metric(admin, "weir_tls_handshake_failures_total", 1, reason="plain_http") == 1


def test_stalled_handshake_times_out(launcher, certs):
    port, admin = start_tls(launcher, certs, handshake_timeout="300ms")
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"\x16\x03\x01")  # the start of a ClientHello, then nothing
    t0 = time.monotonic()
    assert s.recv(100) == b""  # closed by weir
    assert time.monotonic() - t0 < 5
    s.close()
    assert wait_metric(admin, "weir_tls_handshake_failures_total", 1, reason="timeout") == 1


@pytest.mark.parametrize("tickets", [True, False])
def test_resumption(launcher, certs, tickets):
    """Tickets (stateless, shared by the workers) or, with tickets off, the session cache."""
    port, admin = start_tls(launcher, certs, session_tickets=tickets)
    for tls13 in (True, False):
        ctx = client_ctx(certs, tls13=tls13)
        st, _, _, conn = https(port, ctx, "a.test")
        assert st == 200
        sess = conn.sock.session
        conn.close()
        resumed = 0
        for _ in range(4):  # two workers: any of them resumes it
            s = tls_connect(port, ctx, "a.test", session=sess)
            s.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
            while s.recv(65536):
                pass
            resumed += s.session_reused
            s.close()
        assert resumed == 4, "tls13=%s tickets=%s" % (tls13, tickets)
    assert wait_metric(admin, "weir_tls_handshakes_total", 8, kind="resumed") == 8


def test_ticket_keys_rotate(launcher, certs):
    """ticket_rotate 800ms, on a timer: a ticket issued just after a rotation still resumes
    after the next rotation (its key is the previous one) and not after a second one. The
    rotations are counted even with no handshake in between (not lazily)."""
    port, admin = start_tls(launcher, certs, ticket_rotate="800ms", session_cache=0)
    ctx = client_ctx(certs, tls13=False)  # TLS 1.2: the session is there after the handshake

    def connect(sess=None):
        s = tls_connect(port, ctx, "a.test", session=sess)
        reused, sess = s.session_reused, s.session
        s.close()
        return reused, sess

    def rotations():
        return metric(metrics(admin), "weir_tls_ticket_key_rotations_total")

    def wait_rotation(after):
        deadline = time.monotonic() + 5
        while rotations() <= after:
            assert time.monotonic() < deadline, "no rotation within 5 s"
            time.sleep(0.02)
        return rotations()

    r = wait_rotation(rotations())  # just rotated: the ticket gets a fresh key
    _, sess = connect()
    r = wait_rotation(r)  # one rotation, no handshake in between: the timer did it
    assert connect(sess)[0], "the previous key still decrypts"
    wait_rotation(r)
    assert not connect(sess)[0], "two rotations: the key is gone"


def test_mtls_required_and_optional(launcher, certs):
    be = launcher.backend("app")
    p_req, p_opt, p_plain = free_port(), free_port(), free_port()
    auth = {"ca": certs["ca"], "subject_header": "X-Client-Subject"}
    cfg = base_config(be, [
        tls_listener(p_req, certs, client_auth=dict(auth, verify="required")),
        tls_listener(p_opt, certs, client_auth=dict(auth, verify="optional")),
        "127.0.0.1:%d" % p_plain])
    launcher.weir(cfg, port=p_req)
    fake = {"X-Client-Subject": "CN=admin"}
    # Required, with a certificate from the CA: the verified subject goes upstream, the
    # client's own copy does not.
    ctx = client_ctx(certs, cert=certs["alice"])
    st, _, body, conn = https(p_req, ctx, "a.test", headers=fake)
    conn.close()
    assert st == 200
    assert json.loads(body)["headers"]["x-client-subject"] == "CN=alice,O=weir tests"
    # Required: no certificate, or one from another CA: the handshake fails.
    for cert in (None, certs["mallory"]):
        with pytest.raises((ssl.SSLError, ConnectionError, http.client.HTTPException)):
            st, _, _, conn = https(p_req, client_ctx(certs, cert=cert), "a.test")
    # Optional: without a certificate the request goes through, and no subject header at all.
    st, _, body, conn = https(p_opt, client_ctx(certs), "a.test", headers=fake)
    conn.close()
    assert st == 200
    assert "x-client-subject" not in json.loads(body)["headers"]
    st, _, body, conn = https(p_opt, client_ctx(certs, cert=certs["alice"]), "a.test")
    conn.close()
    assert json.loads(body)["headers"]["x-client-subject"] == "CN=alice,O=weir tests"
    # Nor can a client forge it through a listener that verifies nobody.
    c = Client(p_plain)
    r = c.get("/", headers=fake)
    c.close()
    assert r.status == 200 and "x-client-subject" not in r.json()["headers"]


def test_redirect_to_https(launcher, certs):
    be = launcher.backend("app")
    plain, secure = free_port(), free_port()
    cfg = base_config(be, [{"address": "127.0.0.1:%d" % plain, "redirect_https": secure},
                           tls_listener(secure, certs)])
    launcher.weir(cfg, port=plain)
    c = Client(plain)
    r = c.request("GET", "/a/b?c=d", headers={"Host": "a.test:%d" % plain})
    assert r.status == 308
    assert r.header("location") == "https://a.test:%d/a/b?c=d" % secure
    c.close()


# --------------------------------------------------------------------------------------------
# configuration errors and reload

def check_config(weir_bin, tmp_path, cfg_text):
    p = tmp_path / "t.yaml"
    p.write_text(cfg_text)
    return subprocess.run([weir_bin, "-t", "-c", str(p)], capture_output=True, timeout=20)


def test_bad_certificate_configs(weir_bin, tmp_path, certs):
    def cfg(cert, key):
        return ("listen:\n  - address: 127.0.0.1:1\n    tls:\n      certificates:\n"
                "        - {cert: %s, key: %s}\nroutes:\n  - {path: /, upstream: a}\n"
                "upstreams:\n  a: {servers: [127.0.0.1:2]}\n" % (cert, key))
    r = check_config(weir_bin, tmp_path, cfg(certs["a"][0], certs["b"][1]))
    assert r.returncode == 1
    assert b"does not match certificate" in r.stderr and certs["b"][1].encode() in r.stderr
    r = check_config(weir_bin, tmp_path, cfg("/nonexistent.pem", certs["a"][1]))
    assert r.returncode == 1
    assert re.search(rb"t\.yaml:5:\d+: cannot read certificate file '/nonexistent.pem'", r.stderr)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    r = check_config(weir_bin, tmp_path, cfg(str(garbage), certs["a"][1]))
    assert r.returncode == 1 and str(garbage).encode() in r.stderr
    r = check_config(weir_bin, tmp_path, cfg(certs["a"][0], certs["a"][1]))
    assert r.returncode == 0, r.stderr


def test_reload_certificates_under_load(launcher, certs, tmp_path):
    be = launcher.backend("app")
    port, admin = free_port(), free_port()
    cert_path = str(tmp_path / "live.pem")
    key_path = str(tmp_path / "live.key")

    def install(name):
        for src, dst in zip(certs[name], (cert_path, key_path)):
            with open(src, "rb") as f, open(dst + ".tmp", "wb") as g:
                g.write(f.read())
            os.replace(dst + ".tmp", dst)

    install("a")
    cfg = base_config(be, [{"address": "127.0.0.1:%d" % port, "tls": {
        "certificates": [{"cert": cert_path, "key": key_path}]}}], admin_port=admin)
    w = launcher.weir(cfg, port=port)
    ctx = client_ctx(certs)
    serial = lambda: ssl.DER_cert_to_PEM_cert(tls_connect(port, ctx, "a.test").getpeercert(True))
    first = serial()
    stop = threading.Event()
    failures, done = [], [0]

    def load():
        conn = None
        while not stop.is_set():
            try:
                if conn is None or done[0] % 5 == 0:  # new connections and kept-alive ones
                    if conn:
                        conn.close()
                    conn = None
                st, _, _, conn = https(port, ctx, "a.test", conn=conn)
                if st != 200:
                    failures.append(st)
                done[0] += 1
            except Exception as e:  # noqa: BLE001 - any failure counts
                failures.append(repr(e))
                conn = None
        if conn:
            conn.close()

    threads = [threading.Thread(target=load) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for i in range(4):
            time.sleep(0.4)
            install("a2" if i % 2 == 0 else "a")
            w.reload()
        time.sleep(0.4)
        # A broken key: refused, the running certificate keeps serving.
        with open(key_path, "w") as f:
            f.write("broken\n")
        w.reload()
        time.sleep(0.6)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert failures == []
    assert done[0] > 20
    assert serial() == first  # four reloads: back to "a" (the broken one was refused)
    err = w.stderr_text()
    assert "reload refused" in err and key_path in err
    m = metrics(admin)
    assert metric(m, "weir_config_reloads_total", result="ok") == 4
    assert metric(m, "weir_config_reloads_total", result="failed") == 1


# --------------------------------------------------------------------------------------------
# upstream TLS

@pytest.fixture
def tls_backend(launcher, certs):
    return launcher.backend("tlsapp", args=["--tls", "%s,%s" % certs["up"]])


def test_upstream_tls_verified_and_session_reuse(launcher, certs, tls_backend):
    port, admin = free_port(), free_port()
    ups = {"app": {"servers": [tls_backend.port], "tls": {"ca": certs["ca"]},
                   "pool": {"max_requests": 1}},
           "kept": {"servers": ["localhost:%d" % tls_backend.port], "tls": {"ca": certs["ca"]}}}
    cfg = make_config(port, ups, [{"path": "/kept", "upstream": "kept"},
                                  {"path": "/", "upstream": "app"}], workers=1,
                      extra={"admin": {"listen": "127.0.0.1:%d" % admin}})
    launcher.weir(cfg, port=port)
    c = Client(port)
    for i in range(5):
        r = c.get("/bytes?n=100000" if i % 2 else "/")
        assert r.status == 200, r.body
    # Request bodies up over TLS: from memory, and from a temp file (sendfile's fallback).
    import hashlib
    for n in (50000, 3 << 20):
        body = os.urandom(n)
        r = c.request("POST", "/sink", body=body)
        assert r.status == 200
        assert json.loads(r.body)["body_sha256"] == hashlib.sha256(body).hexdigest()
    c.close()
    # Kept alive: one TLS connection carries them all (the server named by host name: SNI
    # and the name checked are "localhost").
    c = Client(port)
    for _ in range(4):
        assert c.get("/kept").status == 200
    c.close()
    m = metrics(admin)
    assert metric(m, "weir_pool_connections_created_total", group="kept",
                  server="localhost:%d" % tls_backend.port) == 1
    assert metric(m, "weir_pool_connections_reused_total", group="kept",
                  server="localhost:%d" % tls_backend.port) == 3
    # max_requests 1: a new connection each time, resuming the pool's session.
    assert metric(m, "weir_tls_upstream_handshakes_total", result="full") >= 1
    assert metric(m, "weir_tls_upstream_handshakes_total", result="resumed") >= 3


@pytest.mark.parametrize("case", ["wrong_ca", "wrong_name", "default_ca"])
def test_upstream_tls_verification_failures(launcher, certs, tls_backend, case):
    port = free_port()
    tls = {"wrong_ca": {"ca": certs["other_ca"]},
           "wrong_name": {"ca": certs["ca"], "sni": "wrong.test"},
           "default_ca": "on"}[case]  # the system store does not know the test CA
    ups = {"app": {"servers": [tls_backend.port], "tls": tls, "retry": {"attempts": 1}}}
    w = launcher.weir(make_config(port, ups, [{"path": "/", "upstream": "app"}], workers=1),
                      port=port)
    c = Client(port)
    r = c.get("/")
    c.close()
    assert r.status == 502
    assert b"TLS handshake failed: certificate verify failed" in r.body
    deadline = time.monotonic() + 5
    while "TLS handshake failed" not in w.stderr_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    line = [l for l in w.stderr_text().splitlines() if "TLS handshake failed" in l][0]
    assert tls_backend.addr in line
    assert ("hostname mismatch" in line) == (case == "wrong_name")


def test_upstream_tls_verify_off(launcher, certs, tls_backend):
    port = free_port()
    ups = {"app": {"servers": [tls_backend.port], "tls": {"verify": False}}}
    launcher.weir(make_config(port, ups, [{"path": "/", "upstream": "app"}], workers=1),
                  port=port)
    c = Client(port)
    assert c.get("/").status == 200
    c.close()


# --------------------------------------------------------------------------------------------
# OCSP stapling, access log, admin reload

def test_ocsp_stapling_access_log_and_admin_reload(launcher, certs, tmp_path):
    d = certs["dir"]
    idx = os.path.join(d, "index.txt")
    open(idx, "w").close()
    ocsp = str(tmp_path / "a.ocsp")
    _run("openssl", "ocsp", "-index", idx, "-rsigner", certs["ca"], "-rkey",
         os.path.join(d, "ca.key"), "-CA", certs["ca"], "-issuer", certs["ca"],
         "-cert", certs["a"][0], "-respout", ocsp, "-ndays", "1", cwd=d)
    be = launcher.backend("app")
    port, admin = free_port(), free_port()
    log = str(tmp_path / "access.log")
    listener = tls_listener(port, certs)
    listener["tls"]["certificates"][0]["ocsp"] = ocsp
    cfg = base_config(be, [listener], admin_port=admin)
    cfg["log"]["access"] = log
    w = launcher.weir(cfg, port=port)

    def s_client(name):
        return subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                               "-servername", name, "-status"], input=b"",
                              capture_output=True, timeout=20).stdout
    assert b"OCSP Response Status: successful" in s_client("a.test")
    assert b"OCSP response: no response sent" in s_client("b.test")  # none configured

    st, _, _, conn = https(port, client_ctx(certs), "b.test", "/logged")
    conn.close()
    assert st == 200
    deadline = time.monotonic() + 5
    line = None
    while line is None and time.monotonic() < deadline:
        if os.path.exists(log):
            lines = [l for l in open(log) if "/logged" in l]
            line = json.loads(lines[0]) if lines else None
        time.sleep(0.05)
    assert line["tls"]["sni"] == "b.test"
    assert line["tls"]["protocol"] == "TLSv1.3"
    assert line["tls"]["cipher"].startswith("TLS_")

    # POST /reload on the admin listener is SIGHUP.
    c = Client(admin)
    r = c.request("POST", "/reload", headers={"Connection": "close"})
    c.close()
    assert r.status == 202
    deadline = time.monotonic() + 5
    while "configuration reloaded" not in w.stderr_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "configuration reloaded: generation 2" in w.stderr_text()


# --------------------------------------------------------------------------------------------
# the data paths over TLS: what client.c / downstream.c / forward.c / buffering.c / tunnel.c do
# with plain sockets, through tls_io

def tls_client(port, certs, sni="a.test"):
    c = Client(port)
    c.sock = client_ctx(certs).wrap_socket(c.sock, server_hostname=sni)
    c.host_header = sni
    return c


def test_data_paths_over_tls(launcher, certs, tmp_path):
    import hashlib
    from test_websocket import frame, read_frame
    be = launcher.backend("app")
    port = free_port()
    site = tmp_path / "site"
    site.mkdir()
    big = bytes((i * 31 + i // 1000) % 256 for i in range(3 << 20))
    (site / "big.bin").write_bytes(big)
    cfg = base_config(be, [tls_listener(port, certs)])
    cfg["routes"] = [
        {"path": "/files/", "static": {"root": str(site), "strip_prefix": True}},
        {"path": "/z/", "upstream": "app", "compress": {"types": ["application/json"]}},
        {"path": "/stream/", "upstream": "app", "request_buffering": "off",
         "response_buffering": "off"},
        {"path": "/", "upstream": "app"}]
    launcher.weir(cfg, port=port)
    c = tls_client(port, certs)
    # A static file larger than a record and than the socket buffer: sendfile's fallback.
    r = c.get("/files/big.bin")
    assert r.status == 200 and r.body == big
    r = c.get("/files/big.bin", headers={"Range": "bytes=1000-1999999"})
    assert r.status == 206 and r.body == big[1000:2000000]
    # Large proxied responses, chunked ones, and an EOF-delimited one.
    r = c.get("/bytes?n=2000000")
    assert r.status == 200 and len(r.body) == 2000000
    r = c.get("/chunked?n=50&size=7000")
    assert r.status == 200 and len(r.body) == 350000
    r = c.get("/z/text?n=200000", headers={"Accept-Encoding": "gzip"})
    assert r.status == 200 and r.header("content-encoding") == "gzip"
    # Uploads: buffered (memory and temp file), streamed, chunked.
    for path, n in (("/sink", 100000), ("/sink", 3 << 20), ("/stream/sink", 3 << 20)):
        body = os.urandom(n)
        r = c.request("POST", path, body=body)
        assert r.status == 200, r.body[:200]
        assert json.loads(r.body)["body_sha256"] == hashlib.sha256(body).hexdigest()
    c.send(b"POST /sink HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    r = c.read_response()
    assert json.loads(r.body)["body_len"] == 11
    # Pipelined requests in one record.
    c.send(b"".join(c.build("GET", "/p%d" % i) for i in range(5)))
    assert [json.loads(c.read_response().body)["path"] for _ in range(5)] == \
        ["/p%d" % i for i in range(5)]
    c.close()
    # A WebSocket tunnel: TLS on the client side, plain to the backend.
    c = tls_client(port, certs)
    c.send(b"GET /ws HTTP/1.1\r\nHost: a.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
           b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
    r = c.read_response()
    assert r.status == 101
    for payload in (b"hi", os.urandom(100000)):
        c.send(frame(0x2, payload))
        op, fin, data = read_frame(c)
        assert (op, fin, data) == (0x2, True, payload)
    c.close()


def test_upstream_client_certificate(launcher, certs):
    be = launcher.backend("mtls", args=["--tls", "%s,%s" % certs["up"],
                                        "--tls-client-ca", certs["ca"]])
    port = free_port()
    ups = {"with": {"servers": [be.port], "retry": {"attempts": 1},
                    "tls": {"ca": certs["ca"], "client_cert": certs["alice"][0],
                            "client_key": certs["alice"][1]}},
           "without": {"servers": [be.port], "retry": {"attempts": 1},
                       "tls": {"ca": certs["ca"]}}}
    routes = [{"path": "/with", "upstream": "with"}, {"path": "/", "upstream": "without"}]
    launcher.weir(make_config(port, ups, routes, workers=1), port=port)
    c = Client(port)
    assert c.get("/with").status == 200
    r = c.get("/nocert")
    c.close()
    assert r.status == 502


def test_garbage_and_alerts_never_hurt(launcher, certs):
    """Junk where a handshake or a record should be: each connection is closed, counted, and
    weir keeps serving (the launcher checks ASan/LSan reports when it stops weir)."""
    port, admin = start_tls(launcher, certs)
    junk = [os.urandom(10000), b"\x16\x03\x01\xff\xff" + os.urandom(300),
            b"\x16\x03\x01\x00\x40\x01\x00\x00\x3c\x03\x03" + os.urandom(20),
            b"\x15\x03\x03\x00\x02\x02\x28"]  # a fatal alert instead of a ClientHello
    for data in junk:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(data)
        if data[:3] == b"\x16\x03\x01" and len(data) < 100:
            s.shutdown(socket.SHUT_WR)  # a truncated hello, then the end
        try:
            while s.recv(65536):
                pass
        except ConnectionResetError:
            pass
        s.close()
    # After a good handshake: a forged record, and an abort in the middle of a request.
    ctx = client_ctx(certs)
    for forged in (b"\x17\x03\x03\x00\x20" + os.urandom(32), b"\x15\x03\x03\x00\x02\x02\x0a"):
        s = tls_connect(port, ctx, "a.test")
        s.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\n")
        raw = socket.socket(fileno=os.dup(s.fileno()))
        raw.sendall(forged)
        raw.close()
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            while True:
                if not s.recv(65536):
                    raise ConnectionError("closed")
        s.close()
    st, _, _, conn = https(port, ctx, "a.test")
    conn.close()
    assert st == 200
    m = metrics(admin)
    failed = sum(metric(m, "weir_tls_handshake_failures_total", reason=r)
                 for r in ("protocol", "alert", "closed", "other", "plain_http"))
    assert failed >= 4


def test_active_health_checks_over_tls(launcher, certs, tls_backend):
    """Probes of a TLS group speak TLS with the group's settings: a server whose certificate
    verifies stays up; with a CA that does not know it, the checks fail and it goes down."""
    port, admin = free_port(), free_port()
    active = {"interval": "200ms", "timeout": "150ms", "path": "/", "fall": 2, "rise": 1}
    ups = {"good": {"servers": [tls_backend.port], "tls": {"ca": certs["ca"]},
                    "health": {"active": active}},
           "bad": {"servers": [tls_backend.port], "tls": {"ca": certs["other_ca"]},
                   "health": {"active": active}}}
    cfg = make_config(port, ups, [{"path": "/", "upstream": "good"}], workers=2,
                      extra={"admin": {"listen": "127.0.0.1:%d" % admin}})
    w = launcher.weir(cfg, port=port)
    srv = tls_backend.addr
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        m = metrics(admin)
        if metric(m, "weir_server_health_checks_total", group="good", server=srv) >= 3 and \
                metric(m, "weir_server_up", group="bad", server=srv) == 0:
            break
        time.sleep(0.1)
    assert metric(m, "weir_server_health_checks_failed_total", group="good", server=srv) == 0
    assert metric(m, "weir_server_up", group="good", server=srv) == 1
    assert metric(m, "weir_server_up", group="bad", server=srv) == 0
    assert "TLS handshake failed: certificate verify failed" in w.stderr_text()
    c = Client(port)
    assert c.get("/").status == 200
    c.close()


def test_graceful_stop_with_tls_connections(launcher, certs):
    """SIGTERM: an idle TLS connection gets close_notify and a close, a request in flight on
    another one finishes (with Connection: close), and weir exits 0."""
    port, _ = start_tls(launcher, certs)
    w = launcher.weirs[-1]
    ctx = client_ctx(certs)
    st, _, _, idle = https(port, ctx, "a.test")
    assert st == 200
    busy = tls_client(port, certs)
    busy.send(busy.build("GET", "/slow?ms=800"))
    time.sleep(0.2)
    w.send_signal(signal.SIGTERM)
    r = busy.read_response()
    assert r.status == 200 and r.header("connection") == "close"
    busy.close()
    idle.sock.settimeout(5)
    assert idle.sock.recv(100) == b""  # close_notify reads as the end
    idle.close()
    assert w.wait(10) == 0


# --------------------------------------------------------------------------------------------
# other modules over TLS

def test_waiting_room_cookie_is_secure_over_tls_only(launcher, certs):
    """The exchange knows it came over TLS: the waiting room's cookie carries Secure on the TLS
    listener and not on the plain one of the same weir."""
    be = launcher.backend("app")
    port, plain = free_port(), free_port()
    cfg = base_config(be, [tls_listener(port, certs), "127.0.0.1:%d" % plain])
    cfg["routes"] = [{"path": "/", "upstream": "app", "waiting_room": {
        "name": "tlsroom", "max_active": 100, "admit_per_minute": 100,
        "secret": "0123456789abcdef0123456789abcdef-tls-test"}}]
    launcher.weir(cfg, port=port)
    st, h, _, conn = https(port, client_ctx(certs), "a.test", "/")
    conn.close()
    assert st == 200
    cookie = h["set-cookie"]
    assert cookie.startswith("weir_wr_tlsroom=") and "; Secure" in cookie, cookie
    c = http.client.HTTPConnection("127.0.0.1", plain, timeout=10)
    c.request("GET", "/")
    r = c.getresponse()
    r.read()
    assert r.status == 200
    assert "Secure" not in r.getheader("Set-Cookie"), r.getheader("Set-Cookie")
    c.close()
