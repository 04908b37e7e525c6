"""Request and response buffering (issue 8 point 3): a slow client must not hold what the backend
has little of.

Request buffering (on by default): the body is read whole, in memory up to the route's bound and
in a temp file beyond, before an upstream connection is taken; a chunked body goes up de-chunked
with a Content-Length. Response buffering: a response that fits the route's bound is read whole
while the client takes its time, and the upstream connection is released at once. Both are
bounded per worker and counted in /metrics. The last tests run slowhttptest (slow body, slow
read) against weir in front of a backend with two threads and check that a legitimate client is
still served."""

import hashlib
import shutil
import socket
import subprocess
import threading
import time

import pytest

from conftest import Client, RssSampler, free_port, make_config, pattern_sha256
from faults import group_config, server
from resilience_util import faults, group, metric, route, scrape, timed  # noqa: F401

MIB = 1 << 20


# --------------------------------------------------------------------------------------------
# a recording upstream

class Recorder:
    """An upstream in the test process that records when connections arrive and what they
    carry. Requests are framed by Content-Length only (what weir sends once it buffered a
    body); each gets 200 with its body length."""

    def __init__(self):
        self.ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(64)
        self.port = self.ls.getsockname()[1]
        self.lock = threading.Lock()
        self.accepts = []    # monotonic times
        self.heads = []      # (monotonic time, head text) when a head is complete
        self.requests = []   # (monotonic time, head text, body) when a request is complete
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                s, _ = self.ls.accept()
            except OSError:
                return
            with self.lock:
                self.accepts.append(time.monotonic())
                self.conns.append(s)
            threading.Thread(target=self._serve, args=(s,), daemon=True).start()

    def _serve(self, s):
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    d = s.recv(65536)
                    if not d:
                        return
                    buf += d
                head, buf = buf.split(b"\r\n\r\n", 1)
                text = head.decode("latin-1")
                with self.lock:
                    self.heads.append((time.monotonic(), text))
                n = 0
                for line in text.split("\r\n")[1:]:
                    k, _, v = line.partition(":")
                    if k.strip().lower() == "content-length":
                        n = int(v.strip())
                while len(buf) < n:
                    d = s.recv(65536)
                    if not d:
                        return
                    buf += d
                body, buf = buf[:n], buf[n:]
                with self.lock:
                    self.requests.append((time.monotonic(), text, body))
                out = b"%d" % len(body)
                s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(out), out))
        except OSError:
            return

    def wait_heads(self, n, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.heads) >= n:
                    return True
            time.sleep(0.02)
        return False

    def close(self):
        self.ls.close()
        with self.lock:
            for s in self.conns:
                try:
                    s.close()
                except OSError:
                    pass


@pytest.fixture
def recorder():
    r = Recorder()
    yield r
    r.close()


def header(head_text, name):
    for line in head_text.split("\r\n")[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == name:
            return v.strip()
    return None


def weir_for(launcher, ups, routes, admin=False, **kw):
    """ups: as make_config's, with `servers` items that may be server(...) mappings."""
    ups = {k: v if isinstance(v, dict) else {"servers": list(v)} for k, v in ups.items()}
    cfg = group_config(ups, routes, **kw)
    port = None
    if admin:
        port = free_port()
        cfg["admin"] = {"listen": "127.0.0.1:%d" % port}
    w = launcher.weir(cfg)
    return w, port


def post_head(path, n, extra=""):
    return ("POST %s HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n%s\r\n"
            % (path, n, extra)).encode()


class SlowUploads:
    """n clients that sent a POST head and the first `sent` bytes of `body`, then stalled;
    finish() sends the rest and checks the backend (backend.py) got every body whole."""

    def __init__(self, port, n, body, sent, path="/sink"):
        self.body, self.sent, self.clients = body, sent, []
        for _ in range(n):
            c = Client(port, timeout=10)
            self.clients.append(c)
            c.send(post_head(path, len(body)) + body[:sent])
        time.sleep(0.3)

    def finish(self):
        for c in self.clients:
            c.send(self.body[self.sent:])
            r = c.read_response()
            assert r.status == 200 and r.json()["body_len"] == len(self.body), r

    def __enter__(self):
        return self

    def __exit__(self, *a):
        for c in self.clients:
            c.close()


# --------------------------------------------------------------------------------------------
# request buffering

def test_upstream_sees_nothing_until_the_body_is_complete(launcher, recorder):
    w, _ = weir_for(launcher, {"u": [recorder.port]}, [route("u")])
    body = bytes(range(256)) * 40
    with Client(w.port) as c:
        c.send(post_head("/up", len(body)) + body[:1000])
        time.sleep(0.5)
        with recorder.lock:
            assert recorder.accepts == [], "an upstream connection before the body was in"
        t_rest = time.monotonic()
        c.send(body[1000:])
        r = c.read_response()
        assert r.status == 200 and r.body == b"%d" % len(body)
    assert len(recorder.requests) == 1
    t_done, head, got = recorder.requests[0]
    assert got == body
    assert header(head, "content-length") == str(len(body))
    assert recorder.accepts[0] >= t_rest and recorder.heads[0][0] >= t_rest


def test_chunked_body_goes_up_with_a_content_length(launcher, recorder):
    w, _ = weir_for(launcher, {"u": [recorder.port]}, [route("u")])
    parts = [b"hello ", b"chunked ", b"world" * 1000]
    with Client(w.port) as c:
        c.send(b"POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        for p in parts:
            c.send(b"%x;ext=1\r\n%s\r\n" % (len(p), p))
            time.sleep(0.1)
        with recorder.lock:
            assert recorder.accepts == []
        c.send(b"0\r\nX-Trailer: dropped\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        # the connection stays usable: the body was read to its end
        assert c.request("POST", "/again", body=b"x").status == 200
    _, head, got = recorder.requests[0]
    assert got == b"".join(parts)
    assert header(head, "content-length") == str(len(got))
    assert header(head, "transfer-encoding") is None
    assert "x-trailer" not in head.lower()


def test_expect_100_continue_is_answered_by_weir(launcher, recorder):
    w, _ = weir_for(launcher, {"u": [recorder.port]}, [route("u")])
    with Client(w.port) as c:
        c.send(post_head("/e", 5, "Expect: 100-continue\r\n"))
        interim = c.read_response(interim=True)
        assert interim.status == 100
        with recorder.lock:
            assert recorder.accepts == []
        c.send(b"hello")
        r = c.read_response()
        assert r.status == 200 and r.body == b"5"
    _, head, got = recorder.requests[0]
    assert got == b"hello" and header(head, "expect") is None


def test_opt_out_streams_the_body(launcher, recorder):
    """(With retries on, a body up to retry.max_body would still be kept for a replay.)"""
    w, _ = weir_for(launcher, {"u": {"servers": [recorder.port], "retry": "off"}},
                    [route("u", request_buffering="off")])
    with Client(w.port) as c:
        c.send(post_head("/s", 3000) + b"a" * 1000)
        # the upstream has the head while most of the body is still with the client
        assert recorder.wait_heads(1), "the streamed request never reached the upstream"
        assert recorder.requests == []
        c.send(b"b" * 2000)
        r = c.read_response()
        assert r.status == 200 and r.body == b"3000"


def test_body_timeout_is_408(launcher, recorder):
    w, _ = weir_for(launcher, {"u": [recorder.port]}, [route("u")],
                    timeouts={"client_body": "1s"})
    with Client(w.port, timeout=6) as c:
        c.send(post_head("/t", 100) + b"x" * 10)
        t0 = time.monotonic()
        r = c.read_response()
        assert r.status == 408
        assert time.monotonic() - t0 < 4
        assert c.closed_by_peer(3.0)
    assert recorder.accepts == []


def test_slow_uploads_hold_no_upstream_connection(launcher):
    """A backend with one thread behind a server with max_conns: 1. Slow uploads on a
    buffered route leave the connection to everyone else; one slow upload on a route that
    opted out holds it (a legitimate request waits out pool.acquire_timeout, then 503)."""
    b = launcher.backend("one", args=["--threads", "1"])
    ups = {"one": {"servers": [server(b.port, max_conns=1)],
                   "pool": {"acquire_timeout": "1s"}, "retry": "off"}}
    w, _ = weir_for(launcher, ups, [route("one"), route("one", "/stream/",
                                                         request_buffering="off")])
    body = b"u" * 50000
    with SlowUploads(w.port, 4, body, 100) as slow:
        for _ in range(3):
            r = timed(w.port, "GET", "/legit", timeout=5)
            assert r.status == 200, r
            assert r.latency < 0.9, r  # never waited for the connection slot
        slow.finish()
    with SlowUploads(w.port, 1, body, 100, path="/stream/sink") as slow:
        r = timed(w.port, "GET", "/legit", timeout=5)
        assert r.status == 503, r  # the streamed upload holds the only connection
        slow.finish()


def test_slow_uploads_hold_no_concurrency_slot(launcher):
    """The body is read before the concurrency limit is asked: with `concurrency.max: 1`, a
    request is served at once while slow uploads are in progress (one holding the slot would
    make it wait out queue_timeout, then 503). The queue lets the uploads, finished one after
    the other, wait for the slot the previous one releases on another worker."""
    b = launcher.backend("a")
    ups = {"a": {"servers": [b.port],
                 "concurrency": {"max": 1, "queue": 5, "queue_timeout": "1s"}}}
    w, _ = weir_for(launcher, ups, [route("a")])
    with SlowUploads(w.port, 3, b"c" * 20000, 10) as slow:
        r = timed(w.port, "GET", "/legit", timeout=5)
        assert r.status == 200 and r.latency < 0.9, r
        slow.finish()


def test_large_bodies_go_to_a_temp_file(launcher):
    b = launcher.backend("a")
    w, admin = weir_for(launcher, {"a": [b.port]},
                        [route("a", request_buffering={"memory": "64k"})], admin=True,
                        workers=1)
    with Client(w.port, timeout=60) as c:
        small = b"s" * 1000
        r = c.request("POST", "/sink", body=small)
        assert r.status == 200 and r.json()["body_len"] == 1000
        big = bytes(range(256)) * 4096 * 8  # 8 MiB
        r = c.request("POST", "/sink", body=big)
        assert r.json()["body_sha256"] == hashlib.sha256(big).hexdigest()
        c.send(b"POST /sink HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        for i in range(0, len(big), MIB):
            c.send(b"%x\r\n" % MIB + big[i:i + MIB] + b"\r\n")
        c.send(b"0\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert r.json()["body_sha256"] == hashlib.sha256(big).hexdigest()

        # 64 MiB through the temp file: weir's memory does not follow the body
        n = 64 * MIB
        sampler = RssSampler(w.pid)
        c.send(post_head("/sink", n))
        block = bytes(range(256)) * 4096
        for _ in range(n // MIB):
            c.send(block)
        r = c.read_response()
        growth = sampler.stop()
        assert r.json()["body_sha256"] == pattern_sha256(n)
        assert growth < 16 * 1024, "weir RSS grew by %d KiB" % growth
    m = settled(admin)
    assert metric(m, "weir_buffered_request_bodies_total", where="memory") == 1
    assert metric(m, "weir_buffered_request_bodies_total", where="file") == 3
    assert metric(m, "weir_buffer_file_bytes") == 0
    assert metric(m, "weir_buffer_memory_bytes") == 0


def settled(admin, timeout=2.0):
    """The metrics once the buffer gauges are back to 0: a worker releases an exchange's
    buffers right after its last write, which the client may see (and scrape) first."""
    deadline = time.monotonic() + timeout
    while True:
        m = scrape(admin)
        if (metric(m, "weir_buffer_file_bytes") == 0 and metric(m, "weir_buffer_memory_bytes") == 0) \
                or time.monotonic() > deadline:
            return m
        time.sleep(0.05)


def test_full_buffers_refuse_with_413_or_503(launcher, recorder):
    w, admin = weir_for(launcher, {"u": [recorder.port]},
                        [route("u", request_buffering={"memory": "64k"})], admin=True,
                        workers=1, extra={"buffering": {"memory": "256k", "files": "1m"}})
    with Client(w.port) as c:  # larger than the worker's temp-file bound: never fits
        c.send(post_head("/big", 2 * MIB, "Expect: 100-continue\r\n"))
        r = c.read_response()
        assert r.status == 413
        assert c.closed_by_peer(3.0)
    n = 600 << 10
    with Client(w.port) as first:
        first.send(post_head("/first", n) + b"f" * 1000)  # holds 600 KiB of the 1 MiB
        time.sleep(0.3)
        with Client(w.port) as second:
            second.send(post_head("/second", n) + b"s" * 1000)
            r = second.read_response()
            assert r.status == 503 and r.header("Retry-After")
        first.send(b"f" * (n - 1000))
        r = first.read_response()
        assert r.status == 200 and r.body == b"%d" % n
    assert [len(b) for _, _, b in recorder.requests] == [n]
    m = settled(admin)
    assert metric(m, "weir_buffer_refused_requests_total") == 2
    assert metric(m, "weir_buffer_file_bytes") == 0


def test_buffered_chunked_put_is_retried(launcher, faults):
    """A buffered body can always be sent again: chunked PUTs are retried (they never were
    when streamed, see test_resilience_retry.py)."""
    a, b = faults.start("a"), faults.start("b")
    a.fault("status", status=503)
    budget = {"ratio": "100%", "window": "10s", "min_per_second": 1000}
    w = launcher.weir(make_config(None, {"g": group([a, b], retry={"attempts": 2,
                                                                    "budget": budget})},
                                  [route("g")]))
    body = b"5\r\nhello\r\n0\r\n\r\n"
    res = [timed(w.port, "PUT", "/doc", body=body, tag="c%d" % i,
                 headers={"Transfer-Encoding": "chunked"}) for i in range(10)]
    assert all(r.status == 200 for r in res), res
    tries = {}
    for be in (a, b):
        for e in be.log():
            tries.setdefault(e["tag"], []).append(e["body_sha256"])
    assert any(len(t) == 2 for t in tries.values()), tries
    want = hashlib.sha256(b"hello").hexdigest()
    assert all(s == want for t in tries.values() for s in t)


def test_buffered_chunked_keyed_request_is_protected(launcher, faults):
    a = faults.start("a")
    w = launcher.weir(make_config(None, {"g": group([a], retry="off")},
                                  [route("g", idempotency={"ttl": "60s"})]))
    hdrs = {"Idempotency-Key": "chunky", "Transfer-Encoding": "chunked"}
    r1 = timed(w.port, "POST", "/pay", body=b"5\r\nhello\r\n0\r\n\r\n", headers=hdrs)
    r2 = timed(w.port, "POST", "/pay", body=b"3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n", headers=hdrs)
    r3 = timed(w.port, "POST", "/pay", body=b"6\r\nhello!\r\n0\r\n\r\n", headers=hdrs)
    assert r1.status == 200 and not r1.resp.has("Idempotent-Replayed")
    assert r2.status == 200 and r2.resp.header("Idempotent-Replayed") == "true"
    assert r3.status == 422
    assert a.requests() == 1


# --------------------------------------------------------------------------------------------
# response buffering

def slow_reader(port, path, host="t"):
    """A client with a tiny receive window that sends a GET and reads nothing yet."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(30)
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path.encode(), host.encode()))
    return s


def read_to_end(s, n_body):
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(65536)
    head, body = data.split(b"\r\n\r\n", 1)
    h = hashlib.sha256(body)
    got = len(body)
    while got < n_body:
        d = s.recv(1 << 20)
        assert d, "closed after %d of %d bytes" % (got, n_body)
        h.update(d)
        got += len(d)
    return head, h.hexdigest()


def test_response_read_ahead_releases_the_upstream_connection(launcher):
    """One backend thread, max_conns: 1. A client that does not read a 16 MiB response: with
    read-ahead the connection is free again at once; with `response_buffering: off` the
    response waits in the upstream connection (backpressure) and a second request gets 503."""
    b = launcher.backend("one", args=["--threads", "1"])
    # max_idle 0: a fresh connection each time (a reused one has grown socket buffers)
    ups = {"one": {"servers": [server(b.port, max_conns=1)],
                   "pool": {"acquire_timeout": "1s", "max_idle": 0}, "retry": "off"}}
    w, admin = weir_for(launcher, ups,
                        [route("one", response_buffering={"max": "32m"}),
                         route("one", host="bp.test", response_buffering="off")],
                        admin=True, workers=1, extra={"buffering": {"memory": "64m"}})
    n = 16 * MIB
    s = slow_reader(w.port, "/bytes?n=%d" % n)
    try:
        time.sleep(1.0)
        m = scrape(admin)
        assert metric(m, "weir_buffer_memory_bytes") >= 8 * MIB
        r = timed(w.port, "GET", "/legit", timeout=5)
        assert r.status == 200, r
        assert r.latency < 0.9, r
        head, sha = read_to_end(s, n)
        assert head.startswith(b"HTTP/1.1 200") and sha == pattern_sha256(n)
    finally:
        s.close()
    m = settled(admin)
    assert metric(m, "weir_buffered_responses_total") == 1
    assert metric(m, "weir_buffer_memory_bytes") == 0

    s = slow_reader(w.port, "/bytes?n=%d" % n, host="bp.test")
    try:
        time.sleep(1.0)
        r = timed(w.port, "GET", "/legit", timeout=5)
        assert r.status == 503, r  # the slow reader holds the only connection
        head, sha = read_to_end(s, n)
        assert sha == pattern_sha256(n)
    finally:
        s.close()


def test_read_ahead_gives_way_to_backpressure_past_its_bound(launcher):
    b = launcher.backend("a")
    w, admin = weir_for(launcher, {"a": [b.port]},
                        [route("a", response_buffering={"max": "256k"})], admin=True,
                        workers=1)
    n = 32 * MIB  # known length above the bound: never read ahead
    s = slow_reader(w.port, "/bytes?n=%d" % n)
    try:
        time.sleep(0.5)
        m = scrape(admin)
        assert metric(m, "weir_buffer_memory_bytes") == 0
        _, sha = read_to_end(s, n)
        assert sha == pattern_sha256(n)
    finally:
        s.close()
    # unknown length: read ahead up to the bound (once the kernel's socket buffers are full)
    s = slow_reader(w.port, "/chunked?n=4096&size=4096")
    try:
        time.sleep(0.5)
        m = scrape(admin)
        assert 0 < metric(m, "weir_buffer_memory_bytes") <= 256 << 10
        data = b""
        s.settimeout(10)
        while not data.endswith(b"0\r\nX-Trailer: done\r\n\r\n"):
            d = s.recv(1 << 20)
            assert d
            data += d
    finally:
        s.close()
    m = settled(admin)
    assert metric(m, "weir_buffer_fallbacks_total") == 2
    assert metric(m, "weir_buffered_responses_total") == 0
    assert metric(m, "weir_buffer_memory_bytes") == 0


# --------------------------------------------------------------------------------------------
# slowhttptest against a thread-limited backend

def run_attack(args, port, probe_path, duration):
    """Runs slowhttptest (bounded) and, while it runs, one legitimate GET every 0.5 s.
    Returns the probes' results."""
    cmd = ["slowhttptest"] + args + ["-l", str(duration), "-p", "3"]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = []
    try:
        time.sleep(3)  # the attack's connections are open
        while p.poll() is None and len(results) < 12:
            results.append(timed(port, "GET", probe_path, timeout=5))
            time.sleep(0.5)
    finally:
        if p.poll() is None:
            p.terminate()
        try:
            p.wait(duration + 20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
    return results


@pytest.mark.skipif(not shutil.which("slowhttptest"), reason="slowhttptest is not installed")
@pytest.mark.parametrize("mode", ["slow_body", "slow_read"])
def test_slowhttptest_attack_leaves_service_to_legitimate_clients(launcher, mode):
    """The founding notes' 'thread-pool hell': a backend with 2 threads (max_conns: 2). Without
    buffering a slow-body attack takes both connections for its whole length, and a slow-read
    attack on responses larger than the kernel's socket buffers holds them while it reads
    (see docs/operations.md, "Slow clients", for the runs with buffering off). With buffering
    every probe is served."""
    b = launcher.backend("app", args=["--threads", "2"])
    ups = {"app": {"servers": [server(b.port, max_conns=2)],
                   "pool": {"acquire_timeout": "2s"}, "timeouts": {"response": "5s"}}}
    w, admin = weir_for(launcher, ups, [route("app", response_buffering={"max": "4m"})],
                        admin=True, extra={"buffering": {"memory": "256m"}})
    url = "http://127.0.0.1:%d" % w.port
    if mode == "slow_body":
        args = ["-B", "-c", "200", "-i", "2", "-s", "100000", "-r", "200", "-u", url + "/sink"]
    else:
        args = ["-X", "-c", "40", "-r", "40", "-n", "1", "-w", "1", "-y", "64", "-z", "32",
                "-k", "1", "-u", url + "/bytes?n=%d" % (2 * MIB)]
    results = run_attack(args, w.port, "/legit", duration=12)
    assert len(results) >= 8, results
    bad = [r for r in results if r.status != 200 or r.latency > 1.0]
    assert not bad, bad
    m = scrape(admin)
    if mode == "slow_body":
        assert metric(m, "weir_client_connections") > 50  # the attack was there
    else:
        assert metric(m, "weir_buffered_responses_total") >= 20
