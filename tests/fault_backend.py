#!/usr/bin/env python3
"""fault_backend.py — an HTTP/1.1 upstream whose failures are switched at run time.

For weir's resilience tests and demos (issue 4, point 8). Standard library only; one thread per
connection, keep-alive and pipelining, request bodies framed by Content-Length or chunked.

Usage:
  fault_backend.py --port N [--name X] [--host 127.0.0.1] [--capacity C] [--service-ms M]
                   [--log-size N] [--hang-max-s S]

Control endpoints (never subject to faults, never counted):
  POST /__fault      JSON body; replaces the fault setting (missing keys take their defaults)
                     and answers the new setting. Keys:
        mode             ok | status | delay | reset | hang | drip | close_mid_body | bad_framing
        status           503        (mode status)
        delay_ms         0          wait before answering; applies to every answering mode
                                    (ok included), only to requests the fault applies to
        delay_jitter_ms  0          plus a uniform random 0..jitter
        fail_ratio       1.0        probability that a request gets the fault (else: plain ok)
        count            null       only the next `count` matching requests get the fault
        drip_bytes       10         (drip) bytes per write
        drip_interval_ms 100        (drip) pause between writes
        body_bytes       1000       (drip, close_mid_body) announced body length
        framing          cl_te      (bad_framing) cl_te | dup_cl | bad_chunk | bad_status |
                                    short_chunk
        headers          {}         extra response headers for status / ok answers
        paths            null       list of path prefixes the fault applies to (others: ok)
        methods          null       list of methods the fault applies to (others: ok)
  GET  /__fault      the current setting (plus "remaining" when count is set)
  POST /__capacity   {"capacity": C, "service_ms": M}: at most C requests processed at once
                     (a semaphore; others wait), each taking M ms; capacity 0 = unlimited
  GET  /__stats      counters since the last reset:
        requests         total (control endpoints excluded)
        by_route         {"METHOD /path": count}
        modes            {"ok": n, "status": n, ...}  what each request got
        connections      accepted connections; open: currently open
        concurrent       requests in progress now (waiting for capacity included)
        max_concurrent   the highest value of `concurrent`
        mean_concurrent  time-weighted average of `concurrent` since the reset
        processing / max_processing   the same for requests holding a capacity slot
        log              the last --log-size requests, oldest first: seq, method, path, key
                         (Idempotency-Key), tag (X-Test-Tag), body_len, body_sha256,
                         t (time.time() at arrival of the head), mono (time.monotonic()),
                         conn, mode, done_mono (when the answer was complete, or null)
                     Query: ?log=0 leaves the log out, ?log=N keeps its last N entries,
                     ?since_mono=X keeps entries with mono >= X.
  POST /__reset      clears the counters (not the fault; ?fault=1 resets the fault to ok too)
  GET  /__health     200 "ok" (never faulted, not counted)

Ordinary requests get, per the fault mode:
  ok              200 JSON {name, seq, method, path, body_len, body_sha256, key}
  status          that status (fail_ratio of the time), JSON body {name, seq, status, ...}
  delay           waits delay_ms (+ jitter), then ok
  reset           reads the request, then resets the connection (SO_LINGER 0), no answer
  hang            reads the request, never answers; closes when the client does or after
                  --hang-max-s seconds (default 120)
  drip            head with Content-Length body_bytes, then the body drip_bytes at a time
  close_mid_body  head with Content-Length body_bytes, half of the body, then close (FIN)
  bad_framing     a response with broken framing (see `framing`), then close
Every answer carries X-Backend: NAME and X-Backend-Seq: seq.
"""

import argparse
import hashlib
import json
import os
import random
import signal
import socket
import struct
import sys
import threading
import time
from http import HTTPStatus
from urllib.parse import parse_qsl, urlsplit

MAX_HEAD = 1 << 16
MODES = ("ok", "status", "delay", "reset", "hang", "drip", "close_mid_body", "bad_framing")
FRAMINGS = ("cl_te", "dup_cl", "bad_chunk", "bad_status", "short_chunk")
CONTROL = ("/__fault", "/__stats", "/__reset", "/__capacity", "/__health")

NAME = "fault"
HANG_MAX_S = 120.0


class PeerClosed(Exception):
    pass


class BadRequest(Exception):
    pass


# --------------------------------------------------------------------------------------------
# fault setting

DEFAULT_FAULT = {
    "mode": "ok",
    "status": 503,
    "delay_ms": 0,
    "delay_jitter_ms": 0,
    "fail_ratio": 1.0,
    "count": None,
    "drip_bytes": 10,
    "drip_interval_ms": 100,
    "body_bytes": 1000,
    "framing": "cl_te",
    "headers": {},
    "paths": None,
    "methods": None,
}


def validate_fault(d):
    if not isinstance(d, dict):
        raise ValueError("fault must be a JSON object")
    unknown = set(d) - set(DEFAULT_FAULT)
    if unknown:
        raise ValueError("unknown keys %s" % sorted(unknown))
    f = dict(DEFAULT_FAULT)
    f.update(d)
    if f["mode"] not in MODES:
        raise ValueError("mode must be one of %s" % (MODES,))
    if f["framing"] not in FRAMINGS:
        raise ValueError("framing must be one of %s" % (FRAMINGS,))
    for k in ("status", "delay_ms", "delay_jitter_ms", "drip_bytes", "drip_interval_ms",
              "body_bytes"):
        if not isinstance(f[k], int) or isinstance(f[k], bool) or f[k] < 0:
            raise ValueError("%s must be a non-negative integer" % k)
    if not 100 <= f["status"] <= 999:
        raise ValueError("status must be 100..999")
    if f["drip_bytes"] < 1:
        raise ValueError("drip_bytes must be >= 1")
    if not isinstance(f["fail_ratio"], (int, float)) or not 0 <= f["fail_ratio"] <= 1:
        raise ValueError("fail_ratio must be 0..1")
    if f["count"] is not None and (not isinstance(f["count"], int) or f["count"] < 0):
        raise ValueError("count must be a non-negative integer or null")
    if not isinstance(f["headers"], dict):
        raise ValueError("headers must be an object")
    for k in ("paths", "methods"):
        if f[k] is not None and (not isinstance(f[k], list)
                                 or not all(isinstance(x, str) for x in f[k])):
            raise ValueError("%s must be a list of strings or null" % k)
    return f


class State:
    def __init__(self, log_size):
        self.lock = threading.Lock()
        self.fault = dict(DEFAULT_FAULT)
        self.remaining = None          # count left when fault["count"] is set
        self.log_size = log_size
        self.capacity = 0
        self.service_ms = 0
        self.sem = None
        self.open = 0                 # gauges: survive a reset
        self.concurrent = 0
        self.processing = 0
        self.reset_counters()

    def reset_counters(self):
        # callers hold self.lock, or run before threads start
        self.seq = 0
        self.requests = 0
        self.by_route = {}
        self.modes = {}
        self.connections = 0
        self.max_concurrent = self.concurrent
        self.max_processing = self.processing
        self.since = time.monotonic()
        self.area = 0.0               # integral of concurrent dt
        self.area_t = self.since
        self.log = []
        self.log_start = 0            # ring buffer start index once full

    def set_fault(self, f):
        with self.lock:
            self.fault = f
            self.remaining = f["count"]

    def fault_view(self):
        with self.lock:
            d = dict(self.fault)
            if self.remaining is not None:
                d["remaining"] = self.remaining
            d["capacity"] = self.capacity
            d["service_ms"] = self.service_ms
            return d

    def set_capacity(self, cap, service_ms):
        with self.lock:
            self.capacity = cap
            self.service_ms = service_ms
            self.sem = threading.BoundedSemaphore(cap) if cap > 0 else None

    def _tick(self, now):
        self.area += self.concurrent * (now - self.area_t)
        self.area_t = now

    def arrive(self, req, conn_id, t_wall, t_mono):
        """Counts a request and decides its mode. Returns (seq, mode, fault, entry)."""
        with self.lock:
            self._tick(t_mono)
            self.seq += 1
            self.requests += 1
            rk = "%s %s" % (req.method, req.path)
            self.by_route[rk] = self.by_route.get(rk, 0) + 1
            self.concurrent += 1
            if self.concurrent > self.max_concurrent:
                self.max_concurrent = self.concurrent
            f = self.fault
            mode = f["mode"]
            # A request the fault does not apply to gets a plain ok (no delay, no extra headers).
            if f["paths"] is not None and not any(
                    req.path == p or req.path.startswith(p) for p in f["paths"]):
                mode, f = "ok", DEFAULT_FAULT
            elif f["methods"] is not None and req.method not in f["methods"]:
                mode, f = "ok", DEFAULT_FAULT
            elif self.remaining is not None and self.remaining <= 0:
                mode, f = "ok", DEFAULT_FAULT
            elif f["fail_ratio"] < 1.0 and random.random() >= f["fail_ratio"]:
                mode, f = "ok", DEFAULT_FAULT
            elif self.remaining is not None:
                self.remaining -= 1
            self.modes[mode] = self.modes.get(mode, 0) + 1
            entry = {"seq": self.seq, "method": req.method, "path": req.path,
                     "key": req.header("idempotency-key"), "tag": req.header("x-test-tag"),
                     "body_len": req.body_len, "body_sha256": req.body_sha256,
                     "t": t_wall, "mono": t_mono, "conn": conn_id, "mode": mode,
                     "done_mono": None}
            if len(self.log) < self.log_size:
                self.log.append(entry)
            elif self.log_size > 0:
                self.log[self.log_start] = entry
                self.log_start = (self.log_start + 1) % self.log_size
            return self.seq, mode, f, entry, self.sem, self.service_ms

    def begin_processing(self):
        with self.lock:
            self.processing += 1
            if self.processing > self.max_processing:
                self.max_processing = self.processing

    def end_processing(self):
        with self.lock:
            self.processing -= 1

    def depart(self, entry, done):
        with self.lock:
            now = time.monotonic()
            self._tick(now)
            self.concurrent -= 1
            if done:
                entry["done_mono"] = now

    def conn_open(self):
        with self.lock:
            self.connections += 1
            self.open += 1
            return self.connections

    def conn_close(self):
        with self.lock:
            self.open -= 1

    def stats(self, log_n=None, since_mono=None):
        with self.lock:
            now = time.monotonic()
            self._tick(now)
            log = self.log[self.log_start:] + self.log[:self.log_start]
            if since_mono is not None:
                log = [e for e in log if e["mono"] >= since_mono]
            if log_n is not None:
                log = log[-log_n:] if log_n > 0 else []
            elapsed = now - self.since
            return {
                "name": NAME,
                "requests": self.requests,
                "by_route": dict(self.by_route),
                "modes": dict(self.modes),
                "connections": self.connections,
                "open": self.open,
                "concurrent": self.concurrent,
                "max_concurrent": self.max_concurrent,
                "mean_concurrent": self.area / elapsed if elapsed > 0 else 0.0,
                "processing": self.processing,
                "max_processing": self.max_processing,
                "capacity": self.capacity,
                "service_ms": self.service_ms,
                "since_mono": self.since,
                "now_mono": now,
                "log": [dict(e) for e in log],
            }

    def reset(self, fault_too=False):
        with self.lock:
            self.reset_counters()
            if fault_too:
                self.fault = dict(DEFAULT_FAULT)
                self.remaining = None


STATE = None  # set in main()


# --------------------------------------------------------------------------------------------
# HTTP plumbing

class Request:
    __slots__ = ("method", "target", "path", "query", "version", "headers", "hdict",
                 "body", "body_len", "body_sha256")

    def header(self, name, default=None):
        v = self.hdict.get(name)
        return default if v is None else v


class Conn:
    def __init__(self, sock, conn_id):
        self.sock = sock
        self.id = conn_id
        self.buf = bytearray()

    def fill(self):
        data = self.sock.recv(262144)
        if not data:
            raise PeerClosed()
        self.buf += data

    def read_line(self):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.buf[:i + 1])
                del self.buf[:i + 1]
                return line
            if len(self.buf) > MAX_HEAD:
                raise BadRequest("line too long")
            self.fill()

    def read_head(self):
        while True:
            while self.buf.startswith(b"\r\n"):
                del self.buf[:2]
            i = self.buf.find(b"\r\n\r\n")
            if i >= 0:
                head = bytes(self.buf[:i])
                del self.buf[:i + 4]
                return head
            if len(self.buf) > MAX_HEAD:
                raise BadRequest("head too large")
            self.fill()

    def read_exact(self, n, out):
        while len(self.buf) < n:
            self.fill()
        out.append(bytes(self.buf[:n]))
        del self.buf[:n]

    def read_body(self, req):
        parts = []
        te = req.header("transfer-encoding")
        if te is not None and "chunked" in te.lower():
            while True:
                line = self.read_line().rstrip(b"\r\n")
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise BadRequest("bad chunk size %r" % line)
                if size == 0:
                    break
                self.read_exact(size, parts)
                if self.read_line().strip(b"\r\n"):
                    raise BadRequest("chunk not followed by CRLF")
            while self.read_line().rstrip(b"\r\n"):
                pass  # trailers
        else:
            cl = req.header("content-length")
            if cl is not None:
                try:
                    n = int(cl.strip())
                except ValueError:
                    raise BadRequest("bad content-length")
                if n < 0:
                    raise BadRequest("bad content-length")
                self.read_exact(n, parts)
        body = b"".join(parts)
        req.body = body
        req.body_len = len(body)
        req.body_sha256 = hashlib.sha256(body).hexdigest()

    def send(self, data):
        self.sock.sendall(data)


def status_reason(code):
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Status"


def parse_head(head):
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise BadRequest("bad request line %r" % lines[0])
    req = Request()
    req.method, req.target, req.version = parts
    u = urlsplit(req.target)
    req.path = u.path or "/"
    req.query = dict(parse_qsl(u.query, keep_blank_values=True))
    req.headers = []
    req.hdict = {}
    for ln in lines[1:]:
        name, sep, value = ln.partition(":")
        if not sep:
            raise BadRequest("bad header line %r" % ln)
        name = name.strip().lower()
        value = value.strip()
        req.headers.append((name, value))
        req.hdict[name] = value if name not in req.hdict else req.hdict[name] + ", " + value
    req.body = b""
    req.body_len = 0
    req.body_sha256 = hashlib.sha256(b"").hexdigest()
    return req


def wants_close(req):
    tokens = {t.strip() for t in (req.header("connection") or "").lower().split(",")}
    if req.version == "HTTP/1.0":
        return "keep-alive" not in tokens
    return "close" in tokens


def response_bytes(req, status, body, headers=(), close=False, seq=None,
                   ctype="application/json"):
    lines = ["HTTP/1.1 %d %s" % (status, status_reason(status)), "X-Backend: %s" % NAME]
    if seq is not None:
        lines.append("X-Backend-Seq: %d" % seq)
    no_body = status < 200 or status in (204, 304)
    names = {k.lower() for k, _ in headers}
    if ctype and not no_body and "content-type" not in names:
        lines.append("Content-Type: %s" % ctype)
    if not no_body:
        lines.append("Content-Length: %d" % len(body))
    for k, v in headers:
        lines.append("%s: %s" % (k, v))
    if close:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    if no_body or (req is not None and req.method == "HEAD"):
        return head
    return head + body


def json_body(obj):
    return (json.dumps(obj, sort_keys=True) + "\n").encode()


def pattern(n):
    block = b"0123456789abcdefghijklmnopqrstuvwxyz\n"
    return (block * (n // len(block) + 1))[:n]


def rst_close(sock):
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


# --------------------------------------------------------------------------------------------
# control endpoints

def handle_control(conn, req):
    """Returns False when the connection must close."""
    close = wants_close(req)
    status, obj = 200, None
    try:
        if req.path == "/__fault" and req.method == "POST":
            try:
                d = json.loads(req.body.decode() or "{}")
                f = validate_fault(d)
            except (ValueError, UnicodeDecodeError) as e:
                status, obj = 400, {"error": str(e)}
            else:
                STATE.set_fault(f)
                obj = STATE.fault_view()
        elif req.path == "/__fault" and req.method == "GET":
            obj = STATE.fault_view()
        elif req.path == "/__capacity" and req.method == "POST":
            try:
                d = json.loads(req.body.decode() or "{}")
                cap = int(d.get("capacity", 0))
                sms = int(d.get("service_ms", 0))
                if cap < 0 or sms < 0:
                    raise ValueError("negative")
            except (ValueError, TypeError, UnicodeDecodeError, AttributeError) as e:
                status, obj = 400, {"error": str(e)}
            else:
                STATE.set_capacity(cap, sms)
                obj = STATE.fault_view()
        elif req.path == "/__stats" and req.method == "GET":
            log_n = req.query.get("log")
            since = req.query.get("since_mono")
            obj = STATE.stats(int(log_n) if log_n is not None else None,
                              float(since) if since is not None else None)
        elif req.path == "/__reset" and req.method == "POST":
            STATE.reset(fault_too=req.query.get("fault") in ("1", "true"))
            obj = {"reset": True}
        elif req.path == "/__health":
            conn.send(response_bytes(req, 200, b"ok\n", close=close, ctype="text/plain"))
            return not close
        else:
            status, obj = 405, {"error": "method not allowed"}
    except ValueError as e:
        status, obj = 400, {"error": str(e)}
    conn.send(response_bytes(req, status, json_body(obj), close=close))
    return not close


# --------------------------------------------------------------------------------------------
# ordinary requests

def echo(req, seq, **extra):
    d = {"name": NAME, "seq": seq, "method": req.method, "path": req.target,
         "body_len": req.body_len, "body_sha256": req.body_sha256,
         "key": req.header("idempotency-key")}
    d.update(extra)
    return json_body(d)


def hang(conn):
    """Holds the connection without answering until the peer closes or HANG_MAX_S pass."""
    deadline = time.monotonic() + HANG_MAX_S
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        conn.sock.settimeout(min(left, 1.0))
        try:
            data = conn.sock.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            return
        if not data:
            return


BAD_FRAMING = {
    "cl_te": lambda: (b"HTTP/1.1 200 OK\r\nX-Backend: %s\r\nContent-Length: 5\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" % NAME.encode()),
    "dup_cl": lambda: (b"HTTP/1.1 200 OK\r\nX-Backend: %s\r\nContent-Length: 5\r\n"
                       b"Content-Length: 6\r\n\r\nhello!" % NAME.encode()),
    "bad_chunk": lambda: (b"HTTP/1.1 200 OK\r\nX-Backend: %s\r\nTransfer-Encoding: chunked"
                          b"\r\n\r\nzz\r\nhello\r\n0\r\n\r\n" % NAME.encode()),
    "bad_status": lambda: b"HTTP/1.1 2x0 OK\r\nContent-Length: 5\r\n\r\nhello",
    "short_chunk": lambda: (b"HTTP/1.1 200 OK\r\nX-Backend: %s\r\nTransfer-Encoding: chunked"
                            b"\r\n\r\n10\r\nhello\r\n" % NAME.encode()),
}


def handle_fault(conn, req, t_wall, t_mono):
    """Returns False when the connection must close (or was closed)."""
    seq, mode, f, entry, sem, service_ms = STATE.arrive(req, conn.id, t_wall, t_mono)
    done = False
    departed = []

    def leave():
        # A request stops counting as concurrent just before its (single-write) answer goes
        # out: after the write, the proxy may already have its next request here, before this
        # thread gets the GIL back to count the departure.
        STATE.depart(entry, True)
        departed.append(True)

    try:
        if sem is not None:
            sem.acquire()
        try:
            STATE.begin_processing()
            try:
                if service_ms:
                    time.sleep(service_ms / 1000.0)
                keep = run_mode(conn, req, seq, mode, f, leave)
                done = mode not in ("reset", "hang")  # answered (completely or not)
                return keep
            finally:
                STATE.end_processing()
        finally:
            if sem is not None:
                sem.release()
    finally:
        if not departed:
            STATE.depart(entry, done)


def run_mode(conn, req, seq, mode, f, leave=None):
    close = wants_close(req)
    if mode in ("reset",):
        rst_close(conn.sock)
        return False
    if mode == "hang":
        hang(conn)
        return False
    if f["delay_ms"] or f["delay_jitter_ms"]:
        d = f["delay_ms"] + (random.uniform(0, f["delay_jitter_ms"]) if f["delay_jitter_ms"]
                             else 0)
        time.sleep(d / 1000.0)
    extra_headers = [(str(k), str(v)) for k, v in f["headers"].items()]
    if mode in ("ok", "delay"):
        data = response_bytes(req, 200, echo(req, seq), extra_headers, close, seq)
        if leave:
            leave()
        conn.send(data)
        return not close
    if mode == "status":
        data = response_bytes(req, f["status"], echo(req, seq, status=f["status"]),
                              extra_headers, close, seq)
        if leave:
            leave()
        conn.send(data)
        return not close
    if mode == "drip":
        n = f["body_bytes"]
        body = pattern(n)
        head = response_bytes(None, 200, b"", [], close, seq, ctype="text/plain")
        head = head.replace(b"Content-Length: 0", b"Content-Length: %d" % n)
        conn.send(head)
        if req.method == "HEAD":
            return not close
        step, pause = f["drip_bytes"], f["drip_interval_ms"] / 1000.0
        for i in range(0, n, step):
            time.sleep(pause)
            conn.send(body[i:i + step])
        return not close
    if mode == "close_mid_body":
        n = f["body_bytes"]
        head = response_bytes(None, 200, b"", [], False, seq, ctype="text/plain")
        head = head.replace(b"Content-Length: 0", b"Content-Length: %d" % n)
        conn.send(head + pattern(n)[:n // 2])
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        return False
    if mode == "bad_framing":
        conn.send(BAD_FRAMING[f["framing"]]())
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        return False
    raise AssertionError("unknown mode %r" % mode)


def serve_conn(sock, conn_id):
    conn = Conn(sock, conn_id)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            try:
                head = conn.read_head()
            except PeerClosed:
                return
            t_wall, t_mono = time.time(), time.monotonic()
            try:
                req = parse_head(head)
                if "100-continue" in (req.header("expect") or "").lower():
                    conn.send(b"HTTP/1.1 100 Continue\r\n\r\n")
                conn.read_body(req)
            except BadRequest as e:
                conn.send(response_bytes(None, 400, ("fault_backend: %s\n" % e).encode(),
                                         close=True, ctype="text/plain"))
                return
            if req.path in CONTROL:
                keep = handle_control(conn, req)
            else:
                keep = handle_fault(conn, req, t_wall, t_mono)
            if not keep:
                return
    except (PeerClosed, OSError):
        return
    finally:
        STATE.conn_close()
        try:
            sock.close()
        except OSError:
            pass


def main():
    global NAME, STATE, HANG_MAX_S
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--name", default=None)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--capacity", type=int, default=0,
                    help="requests processed at once (others wait); 0 = unlimited")
    ap.add_argument("--service-ms", type=int, default=0,
                    help="time each request takes while holding a capacity slot")
    ap.add_argument("--log-size", type=int, default=20000,
                    help="requests kept in the /__stats log")
    ap.add_argument("--hang-max-s", type=float, default=120.0,
                    help="longest time a hung request holds its connection")
    args = ap.parse_args()
    NAME = args.name or "fault-%d" % args.port
    HANG_MAX_S = args.hang_max_s
    STATE = State(max(0, args.log_size))
    STATE.set_capacity(max(0, args.capacity), max(0, args.service_ms))
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    signal.signal(signal.SIGINT, lambda *a: os._exit(0))
    threading.stack_size(256 * 1024)
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
        print("fault_backend %s: cannot listen on %s:%d: %s" % (NAME, args.host, args.port, e),
              file=sys.stderr)
        sys.exit(2)
    ls.listen(4096)
    print("fault_backend %s listening on %s:%d" % (NAME, args.host, ls.getsockname()[1]),
          file=sys.stderr, flush=True)
    while True:
        try:
            s, _ = ls.accept()
        except InterruptedError:
            continue
        except OSError as e:
            print("fault_backend %s: accept: %s" % (NAME, e), file=sys.stderr, flush=True)
            time.sleep(0.01)
            continue
        cid = STATE.conn_open()
        try:
            threading.Thread(target=serve_conn, args=(s, cid), daemon=True).start()
        except RuntimeError:
            STATE.conn_close()
            rst_close(s)


if __name__ == "__main__":
    main()
