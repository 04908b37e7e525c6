#!/usr/bin/env python3
"""backend.py — the fake upstream the integration tests and the demo proxy to.

Stdlib only. One thread per connection (blocking sockets keep the streaming paths simple and
fast: 1 GiB bodies go through recv_into/sendall of large buffers). HTTP/1.1 with keep-alive and
pipelining; request bodies framed by Content-Length or chunked (with trailers).

Usage: backend.py --port N [--name NAME] [--host 127.0.0.1] [--threads T]

--threads T serves at most T connections at a time, like an application server with T threads
(gunicorn's sync or gthread workers): further connections wait, unaccepted, in the listen
backlog until a thread is free. Default: a thread per connection, no limit.

Endpoints (path, query string parsed with urllib):
  GET /  and anything unknown   200 JSON echo: name, method, path, query, version, headers
                                (lower-case names; a list when repeated), body_len, body_sha256,
                                conn (connection number on this backend), trailers
  POST|PUT /echo                the request body back (Content-Length)
  /chunked?n=K&size=S           chunked response: K chunks, chunk i is S bytes of
                                chr(ord('a') + i % 26), then trailer "X-Trailer: done"
  /bytes?n=N                    N bytes (Content-Length) of the repeating pattern
                                bytes(range(256)), written 64 KiB at a time
  /sink[?pause_at=B&pause_ms=M] reads and discards the body (any framing): JSON body_len,
                                body_sha256; stops reading for M ms once B bytes were read
  /slow?ms=M                    waits M ms, then the JSON echo
  /sale[/...][?ms=M]            the same with M = 300 by default (the demo's waiting-room route)
  /ws                           WebSocket handshake, then echoes text/binary frames until close
  /close                        JSON echo with "Connection: close", then closes
  /status/CODE                  that status
  /headers?Name=Value&...       JSON echo with those response headers added as given
  /eof?n=N                      N pattern bytes delimited by closing the connection
  /text?n=N[&type=T][&chunked=1][&gzip=1][&etag=E][&cc=V]
                                N bytes of compressible text (text_bytes(N)), Content-Type T
                                (default application/json), Content-Length or chunked; gzip=1
                                sends it gzip-coded (Content-Encoding: gzip); etag/cc add ETag /
                                Cache-Control
  /bad/<kind>[?keep=1]          a malformed response (cl-te, dup-cl, bare-lf, bad-chunk,
                                bad-status, obs-fold, nul), then closes; with keep=1 the connection
                                stays open and any later request on it is counted in "after_bad"
  GET /__stats                  {"requests", "connections", "paths": {path: count}, "after_bad"}
                                (/__stats itself is not counted)
"""

import argparse
import base64
import hashlib
import json
import os
import signal
import socket
import sys
import threading
import time
from http import HTTPStatus
from urllib.parse import parse_qsl, urlsplit

BLOCK = bytes(range(256)) * 256  # 64 KiB pattern block for /bytes and /eof
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC11B65"
MAX_HEAD = 1 << 20


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = 0
        self.connections = 0
        self.paths = {}
        self.after_bad = 0

    def snapshot(self):
        with self.lock:
            return {
                "requests": self.requests,
                "connections": self.connections,
                "paths": dict(self.paths),
                "after_bad": self.after_bad,
            }


STATS = Stats()
NAME = "backend"


class PeerClosed(Exception):
    pass


class BadRequest(Exception):
    pass


class Request:
    __slots__ = ("method", "target", "path", "query", "version", "headers", "hdict", "trailers")

    def header(self, name, default=None):
        v = self.hdict.get(name)
        if v is None:
            return default
        return v if isinstance(v, str) else v[-1]


class Conn:
    def __init__(self, sock, conn_id):
        self.sock = sock
        self.id = conn_id
        self.buf = bytearray()
        self.bad_sent = False  # a malformed response went out on this connection

    # ---- reading -------------------------------------------------------------------------
    def fill(self, size=262144):
        data = self.sock.recv(size)
        if not data:
            raise PeerClosed()
        self.buf += data

    def read_line(self, limit=65536):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.buf[:i + 1])
                del self.buf[:i + 1]
                return line
            if len(self.buf) > limit:
                raise BadRequest("line too long")
            self.fill()

    def read_head(self):
        """Returns the head bytes (without the blank line) or raises PeerClosed."""
        while True:
            # Be lenient about bare LF so a proxy that forwards one is seen, not hidden.
            i = self.buf.find(b"\n\r\n")
            j = self.buf.find(b"\n\n")
            cands = [x for x in ((i, 3), (j, 2)) if x[0] >= 0]
            if cands:
                pos, n = min(cands)
                head = bytes(self.buf[:pos + 1])
                del self.buf[:pos + n]
                return head
            if len(self.buf) > MAX_HEAD:
                raise BadRequest("head too large")
            # Skip leading empty lines between pipelined requests.
            while self.buf.startswith(b"\r\n") or self.buf.startswith(b"\n"):
                del self.buf[:2 if self.buf.startswith(b"\r\n") else 1]
            self.fill()

    def read_exact_into(self, n, sink):
        """Feeds exactly n body bytes to sink(memoryview)."""
        if self.buf:
            take = min(n, len(self.buf))
            sink(memoryview(bytes(self.buf[:take])))
            del self.buf[:take]
            n -= take
        if n <= 0:
            return
        scratch = bytearray(min(n, 1 << 20))
        mv = memoryview(scratch)
        while n > 0:
            got = self.sock.recv_into(mv, min(n, len(scratch)))
            if got == 0:
                raise PeerClosed()
            sink(mv[:got])
            n -= got

    def read_body(self, req, sink):
        te = req.header("transfer-encoding")
        if te is not None and "chunked" in te.lower():
            self.read_chunked(req, sink)
            return
        cl = req.header("content-length")
        if cl is not None:
            try:
                n = int(cl.strip())
            except ValueError:
                raise BadRequest("bad content-length")
            self.read_exact_into(n, sink)

    def read_chunked(self, req, sink):
        while True:
            line = self.read_line().rstrip(b"\r\n")
            size_s = line.split(b";", 1)[0].strip()
            try:
                size = int(size_s, 16)
            except ValueError:
                raise BadRequest("bad chunk size %r" % line)
            if size == 0:
                break
            self.read_exact_into(size, sink)
            crlf = self.read_line()
            if crlf.strip(b"\r\n"):
                raise BadRequest("chunk not followed by CRLF")
        while True:
            line = self.read_line().rstrip(b"\r\n")
            if not line:
                break
            name, _, value = line.decode("latin-1").partition(":")
            req.trailers[name.strip().lower()] = value.strip()

    # ---- writing -------------------------------------------------------------------------
    def send(self, data):
        self.sock.sendall(data)

    def respond(self, req, status, body=b"", headers=(), close=False, ctype="application/json"):
        reason = status_reason(status)
        lines = ["HTTP/1.1 %d %s" % (status, reason), "X-Backend: %s" % NAME]
        names = {h[0].lower() for h in headers}
        if ctype and "content-type" not in names:
            lines.append("Content-Type: %s" % ctype)
        no_body = status < 200 or status in (204, 304)
        if not no_body and "content-length" not in names:
            lines.append("Content-Length: %d" % len(body))
        for k, v in headers:
            lines.append("%s: %s" % (k, v))
        if close:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if req is not None and req.method == "HEAD" or no_body:
            body = b""
        self.send(head + body)


def status_reason(code):
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Status"


def parse_head(head):
    text = head.decode("latin-1")
    lines = text.split("\n")
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in lines]
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise BadRequest("bad request line %r" % lines[0])
    req = Request()
    req.method, req.target, req.version = parts
    u = urlsplit(req.target)
    req.path = u.path or "/"
    req.query = parse_qsl(u.query, keep_blank_values=True)
    req.headers = []
    req.hdict = {}
    req.trailers = {}
    for ln in lines[1:]:
        if not ln:
            continue
        name, sep, value = ln.partition(":")
        if not sep:
            raise BadRequest("bad header line %r" % ln)
        name = name.strip().lower()
        value = value.strip()
        req.headers.append((name, value))
        old = req.hdict.get(name)
        if old is None:
            req.hdict[name] = value
        elif isinstance(old, list):
            old.append(value)
        else:
            req.hdict[name] = [old, value]
    return req


def wants_close(req):
    conn = ",".join(v for k, v in req.headers if k == "connection").lower()
    tokens = {t.strip() for t in conn.split(",")}
    if req.version == "HTTP/1.0":
        return "keep-alive" not in tokens
    return "close" in tokens


def qint(req, key, default):
    for k, v in req.query:
        if k == key:
            try:
                return int(v)
            except ValueError:
                return default
    return default


class Hasher:
    def __init__(self, keep=False):
        self.h = hashlib.sha256()
        self.n = 0
        self.keep = [] if keep else None

    def __call__(self, mv):
        self.h.update(mv)
        self.n += len(mv)
        if self.keep is not None:
            self.keep.append(bytes(mv))

    def data(self):
        return b"".join(self.keep)


def echo_json(req, hasher, **extra):
    d = {
        "name": NAME,
        "method": req.method,
        "path": req.target,
        "query": req.query,
        "version": req.version,
        "headers": req.hdict,
        "body_len": hasher.n,
        "body_sha256": hasher.h.hexdigest(),
        "trailers": req.trailers,
    }
    d.update(extra)
    return (json.dumps(d) + "\n").encode()


BAD = {
    "cl-te": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"0\r\n\r\n",
    "dup-cl": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    "bare-lf": b"HTTP/1.1 200 OK\nContent-Length: 5\nX-A: b\n\nhello",
    "bad-chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    "bad-status": b"HTTP/1.1 2x0 OK\r\nContent-Length: 5\r\n\r\nhello",
    "obs-fold": b"HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 5\r\n\r\nhello",
    "nul": b"HTTP/1.1 200 OK\r\nX-Nul: a\x00b\r\nContent-Length: 5\r\n\r\nhello",
}


def handle_ws(conn, req):
    key = req.header("sec-websocket-key")
    if not key or "websocket" not in (req.header("upgrade") or "").lower():
        conn.respond(req, 400, b"not a websocket request\n", ctype="text/plain", close=True)
        return False
    accept = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()
    conn.send(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\nX-Backend: %s\r\n\r\n"
               % (accept, NAME)).encode())

    def need(n):
        while len(conn.buf) < n:
            conn.fill()

    while True:
        need(2)
        b0, b1 = conn.buf[0], conn.buf[1]
        opcode = b0 & 0x0F
        masked = b1 & 0x80
        ln = b1 & 0x7F
        off = 2
        if ln == 126:
            need(4)
            ln = int.from_bytes(conn.buf[2:4], "big")
            off = 4
        elif ln == 127:
            need(10)
            ln = int.from_bytes(conn.buf[2:10], "big")
            off = 10
        mask = b""
        if masked:
            need(off + 4)
            mask = bytes(conn.buf[off:off + 4])
            off += 4
        need(off + ln)
        payload = bytes(conn.buf[off:off + ln])
        del conn.buf[:off + ln]
        if masked and ln:
            m = (mask * (ln // 4 + 1))[:ln]
            payload = (int.from_bytes(payload, "big") ^ int.from_bytes(m, "big")).to_bytes(ln, "big")
        if opcode == 0x8:  # close: answer with the same code, then close
            conn.send(ws_frame(0x8, payload[:2]))
            return False
        if opcode == 0x9:  # ping
            conn.send(ws_frame(0xA, payload))
            continue
        if opcode == 0xA:
            continue
        conn.send(ws_frame(opcode, payload, fin=bool(b0 & 0x80)))


def ws_frame(opcode, payload, fin=True):
    n = len(payload)
    first = (0x80 if fin else 0) | opcode
    if n < 126:
        hdr = bytes([first, n])
    elif n < 65536:
        hdr = bytes([first, 126]) + n.to_bytes(2, "big")
    else:
        hdr = bytes([first, 127]) + n.to_bytes(8, "big")
    return hdr + payload


TEXT_BLOCK = b"".join(b'{"id": %d, "name": "item-%d", "tags": ["alpha", "beta"], "ok": true}\n'
                     % (i, i * 7 % 1000) for i in range(1024))


def text_bytes(n):
    """The first n bytes of the repeating compressible text block (tests rebuild it)."""
    reps = n // len(TEXT_BLOCK) + 1
    return (TEXT_BLOCK * reps)[:n]


def send_text(conn, n, chunked):
    mv = memoryview(TEXT_BLOCK)
    while n > 0:
        k = min(n, len(TEXT_BLOCK))
        if chunked:
            conn.send(b"%x\r\n" % k + mv[:k].tobytes() + b"\r\n")
        else:
            conn.send(mv[:k])
        n -= k
    if chunked:
        conn.send(b"0\r\n\r\n")


def send_pattern(conn, n):
    mv = memoryview(BLOCK)
    while n > 0:
        k = min(n, len(BLOCK))
        conn.send(mv[:k])
        n -= k


def handle_one(conn, req):
    """Serves one request. Returns True to keep the connection open."""
    path = req.path
    close = wants_close(req)

    if path == "/__stats":
        conn.read_body(req, lambda mv: None)
        conn.respond(req, 200, (json.dumps(STATS.snapshot()) + "\n").encode(), close=close)
        return not close

    with STATS.lock:
        STATS.requests += 1
        STATS.paths[path] = STATS.paths.get(path, 0) + 1
        if conn.bad_sent:
            STATS.after_bad += 1

    expect = (req.header("expect") or "").lower()
    if expect == "100-continue" and path != "/ws":
        conn.send(b"HTTP/1.1 100 Continue\r\n\r\n")

    if path == "/ws":
        return handle_ws(conn, req)

    if path == "/echo" and req.method in ("POST", "PUT"):
        h = Hasher(keep=True)
        conn.read_body(req, h)
        conn.respond(req, 200, h.data(), ctype="application/octet-stream", close=close)
        return not close

    if path == "/sink":
        h = Hasher()
        pause_at = qint(req, "pause_at", -1)
        if pause_at >= 0:  # stop reading once, to make the proxy apply backpressure
            pause_ms = qint(req, "pause_ms", 1000)
            inner = h

            def h(mv, st={"paused": False}):
                inner(mv)
                if not st["paused"] and inner.n >= pause_at:
                    st["paused"] = True
                    time.sleep(pause_ms / 1000.0)
            conn.read_body(req, h)
            h = inner
        else:
            conn.read_body(req, h)
        body = json.dumps({"name": NAME, "body_len": h.n, "body_sha256": h.h.hexdigest(),
                           "trailers": req.trailers}) + "\n"
        conn.respond(req, 200, body.encode(), close=close)
        return not close

    # Everything below ignores the request body but must consume it.
    h = Hasher()
    conn.read_body(req, h)

    if path == "/chunked":
        n = qint(req, "n", 3)
        size = qint(req, "size", 10)
        head = ("HTTP/1.1 200 OK\r\nX-Backend: %s\r\nContent-Type: text/plain\r\n"
                "Transfer-Encoding: chunked\r\nTrailer: X-Trailer\r\n%s\r\n"
                % (NAME, "Connection: close\r\n" if close else "")).encode()
        if req.method == "HEAD":
            conn.send(head)
            return not close
        out = [head]
        pending = len(head)
        for i in range(n):
            if size > 0:
                out.append(b"%x\r\n" % size + bytes([97 + i % 26]) * size + b"\r\n")
                pending += size + 8
            if pending >= 65536:
                conn.send(b"".join(out))
                out, pending = [], 0
        out.append(b"0\r\nX-Trailer: done\r\n\r\n")
        conn.send(b"".join(out))
        return not close

    if path == "/bytes":
        n = qint(req, "n", 0)
        conn.send(("HTTP/1.1 200 OK\r\nX-Backend: %s\r\nContent-Type: application/octet-stream"
                   "\r\nContent-Length: %d\r\n%s\r\n"
                   % (NAME, n, "Connection: close\r\n" if close else "")).encode())
        if req.method != "HEAD":
            send_pattern(conn, n)
        return not close

    if path == "/text" or path.endswith("/text"):
        n = qint(req, "n", 0)
        q = dict(req.query)
        ctype = q.get("type", "application/json")
        extra = ""
        if "etag" in q:
            extra += "ETag: %s\r\n" % q["etag"]
        if "cc" in q:
            extra += "Cache-Control: %s\r\n" % q["cc"]
        if q.get("gzip") == "1":
            import gzip as _gzip
            body = _gzip.compress(text_bytes(n))
            conn.send(("HTTP/1.1 200 OK\r\nX-Backend: %s\r\nContent-Type: %s\r\n"
                       "Content-Encoding: gzip\r\nContent-Length: %d\r\n%s%s\r\n"
                       % (NAME, ctype, len(body), extra,
                          "Connection: close\r\n" if close else "")).encode())
            if req.method != "HEAD":
                conn.send(body)
            return not close
        chunked = q.get("chunked") == "1"
        framing = "Transfer-Encoding: chunked" if chunked else "Content-Length: %d" % n
        conn.send(("HTTP/1.1 200 OK\r\nX-Backend: %s\r\nContent-Type: %s\r\n%s\r\n%s%s\r\n"
                   % (NAME, ctype, framing, extra,
                      "Connection: close\r\n" if close else "")).encode())
        if req.method != "HEAD":
            send_text(conn, n, chunked)
        return not close

    if path == "/eof":
        n = qint(req, "n", 0)
        conn.send(("HTTP/1.1 200 OK\r\nX-Backend: %s\r\nContent-Type: application/octet-stream"
                   "\r\n\r\n" % NAME).encode())
        if req.method != "HEAD":
            send_pattern(conn, n)
        return False

    if path == "/slow" or path == "/sale" or path.startswith("/sale/"):
        ms = qint(req, "ms", 1000 if path == "/slow" else 300)
        time.sleep(ms / 1000.0)
        conn.respond(req, 200, echo_json(req, h, slept_ms=ms), close=close)
        return not close

    if path == "/close":
        conn.respond(req, 200, echo_json(req, h), close=True)
        return False

    if path.startswith("/status/"):
        try:
            code = int(path[len("/status/"):])
        except ValueError:
            code = 400
        if code < 200 or code > 999:
            code = 400
        conn.respond(req, code, b"status %d\n" % code, ctype="text/plain", close=close)
        return not close

    if path == "/headers":
        hdrs = [(k, v) for k, v in req.query]
        conn.respond(req, 200, echo_json(req, h), headers=hdrs, close=close)
        return not close

    if path.startswith("/bad/"):
        kind = path[len("/bad/"):]
        data = BAD.get(kind)
        if data is None:
            conn.respond(req, 404, b"unknown bad kind\n", ctype="text/plain", close=close)
            return not close
        conn.send(data)
        conn.bad_sent = True
        return qint(req, "keep", 0) == 1

    conn.respond(req, 200, echo_json(req, h), close=close)
    return not close


def serve_conn(sock, conn_id):
    conn = Conn(sock, conn_id)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            try:
                head = conn.read_head()
            except PeerClosed:
                return
            try:
                req = parse_head(head)
            except BadRequest as e:
                conn.respond(None, 400, ("backend: %s\n" % e).encode(), ctype="text/plain",
                             close=True)
                return
            try:
                if not handle_one(conn, req):
                    return
            except BadRequest as e:
                try:
                    conn.respond(None, 400, ("backend: %s\n" % e).encode(), ctype="text/plain",
                                 close=True)
                except OSError:
                    pass
                return
    except (PeerClosed, ConnectionError, BrokenPipeError, TimeoutError, OSError):
        return
    finally:
        try:
            sock.close()
        except OSError:
            pass


def main():
    global NAME
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--name", default=None)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    NAME = args.name or "backend-%d" % args.port
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    threading.stack_size(512 * 1024)
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, ValueError, OSError):
        pass

    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        ls.bind((args.host, args.port))
    except OSError as e:
        print("backend %s: cannot listen on %s:%d: %s" % (NAME, args.host, args.port, e),
              file=sys.stderr)
        sys.exit(2)
    ls.listen(4096)
    print("backend %s listening on %s:%d" % (NAME, args.host, ls.getsockname()[1]),
          file=sys.stderr, flush=True)
    n = 0
    slots = threading.Semaphore(args.threads) if args.threads > 0 else None

    def serve(s, n):
        try:
            serve_conn(s, n)
        finally:
            if slots:
                slots.release()

    while True:
        if slots:
            slots.acquire()
        try:
            s, _ = ls.accept()
        except InterruptedError:
            if slots:
                slots.release()
            continue
        except OSError as e:
            if slots:
                slots.release()
            print("backend %s: accept: %s" % (NAME, e), file=sys.stderr, flush=True)
            time.sleep(0.01)
            continue
        n += 1
        with STATS.lock:
            STATS.connections += 1
        t = threading.Thread(target=serve, args=(s, n), daemon=True)
        t.start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
