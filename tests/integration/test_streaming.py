"""Bodies stream through weir with backpressure: 1 GiB each way with bounded memory.

The route opts out of request buffering (uploads stream, as `request_buffering: off` makes
them); responses keep the default read-ahead, which a 1 GiB response never uses (it does not
fit) and a chunked one uses up to its bound. Buffered uploads through temp files are in
test_buffering.py.

weir's RSS (/proc/PID/status VmRSS, weir plus any worker children) is sampled every 50 ms
during the transfer; the growth over the value just before must stay under 16 MiB. Under
ASan the absolute RSS is large, so only growth is measured."""

import functools
import hashlib
import threading
import time
from types import SimpleNamespace

import pytest

from conftest import Client, RssSampler, make_config, pattern_sha256

GIB = 1 << 30
MAX_GROWTH_KIB = 16 * 1024
BLOCK = bytes(range(256)) * 4096  # 1 MiB, the same pattern backend.py sends


@functools.lru_cache(maxsize=None)
def expected_sha(n):
    return pattern_sha256(n)


@pytest.fixture(scope="module")
def env(module_launcher):
    a = module_launcher.backend("a")
    w = module_launcher.weir(make_config(None, {"be": {"servers": [a.port],
                                                       "timeouts": {"response": "120s"}}},
                                         [{"path": "/", "upstream": "be",
                                           "request_buffering": "off"}], workers=1,
                                         timeouts={"client_body": "60s", "client_send": "60s"}))
    # warm up: first connections, first buffers, so the baseline is not a cold process
    with Client(w.port) as c:
        for _ in range(3):
            assert c.get("/bytes?n=%d" % (4 << 20)).status == 200
            assert c.request("POST", "/sink", body=b"w" * (4 << 20)).status == 200
    return SimpleNamespace(weir=w, port=w.port, a=a)


def test_download_1gib(env):
    want = expected_sha(GIB)
    with Client(env.port, timeout=60) as c:
        sampler = RssSampler(env.weir.pid)
        t0 = time.monotonic()
        c.send(c.build("GET", "/bytes?n=%d" % GIB))
        h = hashlib.sha256()
        got = [0]
        paused = [False]

        def sink(mv):
            h.update(mv)
            got[0] += len(mv)
            if not paused[0] and got[0] >= 256 << 20:
                paused[0] = True
                time.sleep(1.0)  # a slow reader: weir must stop reading the upstream

        r = c.read_response(sink=sink)
        took = time.monotonic() - t0
        growth = sampler.stop()
        assert r.status == 200
        assert got[0] == GIB
        assert h.hexdigest() == want
        assert growth < MAX_GROWTH_KIB, \
            "weir RSS grew by %d KiB (baseline %d KiB, %d samples, %.1fs)" % (
                growth, sampler.baseline, sampler.samples, took)
        # still usable afterwards
        assert c.get("/after-download").status == 200
    print("download 1 GiB: %.1fs, RSS growth %d KiB" % (took, growth))


def _upload(env, path, chunked):
    want = expected_sha(GIB)
    with Client(env.port, timeout=60) as c:
        sampler = RssSampler(env.weir.pid)
        t0 = time.monotonic()
        if chunked:
            head = c.build("POST", path, headers={"Transfer-Encoding": "chunked"})
        else:
            head = c.build("POST", path, headers={"Content-Length": str(GIB)})
        err = []

        def send():
            try:
                c.send(head)
                mv = memoryview(BLOCK)
                if chunked:
                    prefix = b"%x\r\n" % len(BLOCK)
                    for _ in range(GIB // len(BLOCK)):
                        c.send(prefix)
                        c.send(mv)
                        c.send(b"\r\n")
                    c.send(b"0\r\n\r\n")
                else:
                    for _ in range(GIB // len(BLOCK)):
                        c.send(mv)
            except Exception as e:  # reported below
                err.append(e)

        t = threading.Thread(target=send, daemon=True)
        t.start()
        r = c.read_response()
        t.join(60)
        took = time.monotonic() - t0
        growth = sampler.stop()
        assert not err, err
        assert r.status == 200, r
        j = r.json()
        assert j["body_len"] == GIB
        assert j["body_sha256"] == want
        assert growth < MAX_GROWTH_KIB, \
            "weir RSS grew by %d KiB (baseline %d KiB, %d samples, %.1fs)" % (
                growth, sampler.baseline, sampler.samples, took)
        assert c.get("/after-upload").status == 200
    return took, growth


def test_upload_1gib(env):
    # the backend stops reading for a second after 256 MiB: weir must stop reading the client
    took, growth = _upload(env, "/sink?pause_at=%d&pause_ms=1000" % (256 << 20), chunked=False)
    print("upload 1 GiB: %.1fs, RSS growth %d KiB" % (took, growth))


def test_upload_1gib_chunked(env):
    took, growth = _upload(env, "/sink", chunked=True)
    print("chunked upload 1 GiB: %.1fs, RSS growth %d KiB" % (took, growth))


def test_chunked_download_64mib(env):
    n, size = 1024, 65536
    with Client(env.port, timeout=60) as c:
        h = hashlib.sha256()
        got = [0]

        def sink(mv):
            h.update(mv)
            got[0] += len(mv)

        c.send(c.build("GET", "/chunked?n=%d&size=%d" % (n, size)))
        r = c.read_response(sink=sink)
        assert r.status == 200
        assert got[0] == n * size
        e = hashlib.sha256()
        for i in range(n):
            e.update(bytes([97 + i % 26]) * size)
        assert h.hexdigest() == e.hexdigest()


def test_echo_16mib_both_directions(env):
    """Request and response bodies in flight at the same time (echo starts replying only after
    reading everything, so this checks weir reads the whole request body while the client is
    not yet reading)."""
    body = (BLOCK * 16)
    with Client(env.port, timeout=60) as c:
        err = []

        def send():
            try:
                c.send(c.build("POST", "/echo", body=body))
            except Exception as e:
                err.append(e)

        t = threading.Thread(target=send, daemon=True)
        t.start()
        r = c.read_response()
        t.join(30)
        assert not err
        assert r.status == 200
        assert len(r.body) == len(body) and r.body == body
