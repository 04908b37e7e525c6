"""Pipelined requests (issue 8 point 1): a request that arrives while the previous exchange is
in flight — in the same write, in a later write, or split anywhere — is answered in order once
that exchange ends, without waiting for the keep-alive timeout."""

import random
import shutil
import subprocess
import time

import pytest

from conftest import Client, make_config


@pytest.fixture(scope="module")
def env(module_launcher):
    b = module_launcher.backend("p")
    w = module_launcher.weir(make_config(None, {"be": [b.port]}, [{"path": "/", "upstream": "be"}],
                                         workers=1, timeouts={"keepalive": "75s"}))
    return w, b


def test_second_request_written_while_first_is_in_flight(env):
    w, _ = env
    with Client(w.port, timeout=5) as c:
        t0 = time.monotonic()
        c.send(c.build("GET", "/slow?ms=300"))
        time.sleep(0.1)  # a separate write while the first exchange waits on the backend
        c.send(c.build("GET", "/second"))
        r1 = c.read_response()
        r2 = c.read_response()
        elapsed = time.monotonic() - t0
    assert r1.status == 200 and r1.json()["path"] == "/slow?ms=300"
    assert r2.status == 200 and r2.json()["path"] == "/second"
    assert elapsed < 3.0, "the second request waited %.1fs" % elapsed


def test_request_written_while_response_is_being_written(env):
    """The next request arrives while weir is still writing a large response."""
    w, _ = env
    with Client(w.port, timeout=10) as c:
        c.send(c.build("GET", "/bytes?n=4000000"))
        time.sleep(0.05)
        c.send(c.build("GET", "/after-big"))
        r1 = c.read_response()
        r2 = c.read_response()
    assert r1.status == 200 and len(r1.body) == 4000000
    assert r2.json()["path"] == "/after-big"


@pytest.mark.parametrize("seed", range(8))
def test_pipeline_of_ten_with_random_split_points(env, seed):
    w, _ = env
    rnd = random.Random(seed)
    c = Client(w.port, timeout=5)
    try:
        reqs = []
        for i in range(10):
            if i % 3 == 1:
                body = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 300)))
                reqs.append(c.build("POST", "/post?i=%d" % i, body=body))
            elif i % 3 == 2:
                reqs.append(c.build("GET", "/slow?ms=%d&i=%d" % (rnd.randrange(0, 40), i)))
            else:
                reqs.append(c.build("GET", "/p?i=%d" % i))
        data = b"".join(reqs)
        cuts = sorted(rnd.sample(range(1, len(data)), 6))
        prev = 0
        for cut in cuts + [len(data)]:
            c.send(data[prev:cut])
            prev = cut
            time.sleep(rnd.choice((0, 0.002, 0.02)))
        for i in range(10):
            r = c.read_response()
            assert r.status == 200, r
            assert ("i=%d" % i) in r.json()["path"], (i, r.json()["path"])
    finally:
        c.close()


def test_h2load_pipelined_h1(env):
    if not shutil.which("h2load"):
        pytest.skip("h2load (Debian nghttp2-client) is not installed")
    w, _ = env
    p = subprocess.run(["h2load", "--h1", "-n", "2000", "-c", "1", "-m", "10", "-T", "20",
                        "http://127.0.0.1:%d/h2load" % w.port],
                       capture_output=True, text=True, timeout=60)
    out = p.stdout
    assert "2000 succeeded" in out, out[-2000:]
    assert "0 failed" in out and "0 errored" in out and "0 timeout" in out, out[-2000:]
