"""1,000 concurrent keep-alive clients, all open at the same time, each doing a few requests."""

import asyncio
import json
import time
from types import SimpleNamespace

import pytest

from conftest import Client, make_config

CLIENTS = 1000
REQUESTS_EACH = 3


@pytest.fixture(scope="module")
def env(module_launcher):
    a = module_launcher.backend("a")
    b = module_launcher.backend("b")
    w = module_launcher.weir(make_config(None, {"be": [a.port, b.port]},
                                         [{"path": "/", "upstream": "be"}], workers=2))
    return SimpleNamespace(weir=w, port=w.port, a=a, b=b)


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for ln in lines[1:]:
        if ln:
            k, _, v = ln.partition(":")
            headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass
                break
            body += (await reader.readexactly(size + 2))[:-2]
    else:
        raise AssertionError("response without length: %r" % head)
    return status, headers, body


async def run_clients(port, n, per_client):
    connected = 0
    all_connected = asyncio.Event()
    failures = []
    ok = 0

    async def one(i):
        nonlocal connected, ok
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port), 30)
        except Exception as e:
            failures.append((i, "connect", repr(e)))
            connected += 1
            if connected == n:
                all_connected.set()
            return
        connected += 1
        if connected == n:
            all_connected.set()
        try:
            await asyncio.wait_for(all_connected.wait(), 60)
            for k in range(per_client):
                writer.write(b"GET /c/%d/%d HTTP/1.1\r\nHost: x\r\n\r\n" % (i, k))
                await writer.drain()
                status, headers, body = await asyncio.wait_for(read_response(reader), 60)
                if status != 200:
                    failures.append((i, k, status))
                    continue
                j = json.loads(body)
                if j["path"] != "/c/%d/%d" % (i, k):
                    failures.append((i, k, "wrong body", j["path"]))
                    continue
                ok += 1
        except Exception as e:
            failures.append((i, "io", repr(e)))
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except Exception:
                pass

    await asyncio.gather(*(one(i) for i in range(n)))
    return ok, failures


def test_1000_concurrent_keepalive_clients(env):
    t0 = time.monotonic()
    ok, failures = asyncio.run(asyncio.wait_for(run_clients(env.port, CLIENTS, REQUESTS_EACH),
                                                180))
    took = time.monotonic() - t0
    assert not failures, "%d failures, first: %r" % (len(failures), failures[:10])
    assert ok == CLIENTS * REQUESTS_EACH
    print("%d clients x %d requests in %.1fs" % (CLIENTS, REQUESTS_EACH, took))
    # weir is still healthy afterwards
    with Client(env.port) as c:
        assert c.get("/after").status == 200
