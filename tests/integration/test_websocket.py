"""WebSocket (RFC 6455) through weir: the 101 is passed on and the connection becomes a tunnel
both ways until either side closes. The client here is a minimal stdlib one."""

import base64
import hashlib
import os
import socket
import struct
import time
from types import SimpleNamespace

import pytest

from conftest import Client, make_config

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC11B65"


@pytest.fixture(scope="module")
def env(module_launcher):
    a = module_launcher.backend("a")
    w = module_launcher.weir(make_config(None, {"be": [a.port]}, [{"path": "/", "upstream": "be"}],
                                         timeouts={"keepalive": "2s"}))
    return SimpleNamespace(weir=w, port=w.port, a=a)


def frame(opcode, payload, fin=True, mask=True):
    first = (0x80 if fin else 0) | opcode
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        hdr = struct.pack("!BB", first, mbit | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", first, mbit | 126, n)
    else:
        hdr = struct.pack("!BBQ", first, mbit | 127, n)
    if not mask:
        return hdr + payload
    key = os.urandom(4)
    m = (key * (n // 4 + 1))[:n]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(m, "big")).to_bytes(n, "big") \
        if n else b""
    return hdr + key + masked


def read_frame(c):
    def need(k):
        while len(c.buf) < k:
            c._fill()
    need(2)
    b0, b1 = c.buf[0], c.buf[1]
    assert not b1 & 0x80, "server frames must not be masked"
    n = b1 & 0x7F
    off = 2
    if n == 126:
        need(4)
        n = struct.unpack("!H", bytes(c.buf[2:4]))[0]
        off = 4
    elif n == 127:
        need(10)
        n = struct.unpack("!Q", bytes(c.buf[2:10]))[0]
        off = 10
    need(off + n)
    payload = bytes(c.buf[off:off + n])
    del c.buf[:off + n]
    return b0 & 0x0F, bool(b0 & 0x80), payload


def handshake(port, path="/ws"):
    c = Client(port, timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    c.send(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
            "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: %s\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n" % (path, port, key)).encode())
    r = c.read_response()
    return c, r, key


def test_websocket_echo(env):
    c, r, key = handshake(env.port)
    with c:
        assert r.status == 101, r
        assert (r.header("upgrade") or "").lower() == "websocket"
        assert "upgrade" in (r.header("connection") or "").lower()
        want = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        assert r.header("sec-websocket-accept") == want

        c.send(frame(0x1, b"hello"))
        assert read_frame(c) == (0x1, True, b"hello")

        big = os.urandom(200000)
        c.send(frame(0x2, big))
        assert read_frame(c) == (0x2, True, big)

        mid = bytes(range(256)) * 2
        c.send(frame(0x2, mid))
        assert read_frame(c) == (0x2, True, mid)

        # many small frames in one write
        c.send(b"".join(frame(0x1, b"m%d" % i) for i in range(50)))
        for i in range(50):
            assert read_frame(c) == (0x1, True, b"m%d" % i)

        c.send(frame(0x9, b"ping!"))
        assert read_frame(c) == (0xA, True, b"ping!")

        c.send(frame(0x8, struct.pack("!H", 1000)))
        op, fin, payload = read_frame(c)
        assert op == 0x8 and payload[:2] == struct.pack("!H", 1000)
        assert c.closed_by_peer(5.0), "tunnel not closed after the upstream closed"


def test_websocket_tunnel_outlives_keepalive_timeout(env):
    """An upgraded connection is a tunnel, not an idle HTTP keep-alive connection."""
    c, r, _ = handshake(env.port)
    with c:
        assert r.status == 101
        time.sleep(2.5)  # longer than timeouts.keepalive (2s)
        c.send(frame(0x1, b"still there?"))
        assert read_frame(c) == (0x1, True, b"still there?")


def test_websocket_client_closes_tcp(env):
    before = env.a.stats()["requests"]
    c, r, _ = handshake(env.port)
    assert r.status == 101
    c.send(frame(0x1, b"bye"))
    assert read_frame(c) == (0x1, True, b"bye")
    c.sock.shutdown(socket.SHUT_RDWR)
    c.close()
    time.sleep(0.2)
    # weir is still fine and served the upgrade request once
    assert env.a.stats()["requests"] == before + 1
    c2, r2, _ = handshake(env.port)
    with c2:
        assert r2.status == 101
        c2.send(frame(0x1, b"again"))
        assert read_frame(c2) == (0x1, True, b"again")


def test_upgrade_refused_by_upstream_stays_http(env):
    """Upgrade: websocket to a path that answers 200: plain HTTP response, no tunnel."""
    c = Client(env.port)
    with c:
        c.send(b"GET /not-ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert r.json()["path"] == "/not-ws"
