"""Misbehaving and controllable upstreams for the upstream-group tests (balance, health, pool,
failover, timeouts). Standard library only; everything listens on 127.0.0.1.

  HangServer       accepts connections and never answers (read them, hold them, say nothing)
  CtlServer        an in-process HTTP/1.1 server whose behaviour the test switches at run time:
                   health status, status of ordinary requests, an added delay; it counts
                   requests and health checks, and can be stopped (every connection closed, as
                   if killed) and started again on the same port
  full_backlog()   a listener whose accept queue is full, so a connect() to it times out
  Hits / count_names / wait_for / log_lines   small helpers

Every thread here is a daemon and every socket is closed by stop()/close(); the test modules
stop these objects in finalizers.
"""

import json
import re
import socket
import threading
import time

# --------------------------------------------------------------------------------------------
# accept, then never answer


class HangServer:
    """Accepts every connection and reads from it, but never writes a byte."""

    def __init__(self):
        self.ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(128)
        self.ls.settimeout(0.2)
        self.port = self.ls.getsockname()[1]
        self.accepted = 0
        self.conns = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.port

    def _run(self):
        while not self._stop.is_set():
            try:
                s, _ = self.ls.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.accepted += 1
                self.conns.append(s)

    def close(self):
        self._stop.set()
        self._t.join(2)
        try:
            self.ls.close()
        except OSError:
            pass
        with self._lock:
            for s in self.conns:
                try:
                    s.close()
                except OSError:
                    pass
            self.conns = []


# --------------------------------------------------------------------------------------------
# a listener that makes connect() time out


class FullBacklog:
    """A listener with backlog 0 whose accept queue is filled, so further SYNs are dropped and
    connect() hangs until its timeout. `port` is None when the kernel does not behave so."""

    def __init__(self):
        self.ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(0)
        self.port = self.ls.getsockname()[1]
        self.fillers = []
        for _ in range(3):
            f = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            f.setblocking(False)
            try:
                f.connect(("127.0.0.1", self.port))
            except (BlockingIOError, OSError):
                pass
            self.fillers.append(f)
        time.sleep(0.2)
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        probe.settimeout(0.5)
        hangs = False
        try:
            probe.connect(("127.0.0.1", self.port))
        except socket.timeout:
            hangs = True
        except OSError:
            pass
        probe.close()
        if not hangs:
            self.port = None

    def close(self):
        for f in self.fillers:
            try:
                f.close()
            except OSError:
                pass
        try:
            self.ls.close()
        except OSError:
            pass


# --------------------------------------------------------------------------------------------
# a controllable HTTP/1.1 server


class CtlServer:
    """A small threaded HTTP/1.1 keep-alive server, switchable at run time.

    Paths:  `health_path` (default /health) answers `self.health` (an int status, switchable;
                  None closes the connection without answering) after `health_delay` s
            /slow?ms=N    sleeps N ms, then answers like /
            anything else answers `self.status` with JSON {"name": ..., "path": ...}
    `delay` (seconds) is added before every non-health answer.
    `drop_after` N > 0: on each connection, the request after the first N is read and the
    connection closed without a byte of answer (a keep-alive close racing a reuse).
    Counters: `requests` (non-health requests), `health_hits` (list of monotonic times).
    stop() closes the listener and every open connection (like a killed process);
    start() listens again on the same port."""

    def __init__(self, name, port=0, health_path="/health"):
        self.name = name
        self.health_path = health_path
        self.health = 200
        self.status = 200
        self.delay = 0.0
        self.health_delay = 0.0  # seconds before a health answer
        self.drop_after = 0   # > 0: read request N+1 on a connection, then close, no answer
        self.dropped = 0
        self.requests = 0
        self.health_hits = []
        self.health_heads = []  # (method, target, headers) of the last few health requests
        self.connections = 0
        self._lock = threading.Lock()
        self._conns = set()
        self.ls = None
        self.port = port
        self.start()

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.port

    def start(self):
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", self.port))
        ls.listen(256)
        ls.settimeout(0.2)
        self.port = ls.getsockname()[1]
        self.ls = ls
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._accept_loop, args=(ls, self._stop), daemon=True)
        self._t.start()

    def stop(self):
        if self.ls is None:
            return
        self._stop.set()
        self._t.join(2)
        try:
            self.ls.close()
        except OSError:
            pass
        self.ls = None
        with self._lock:
            conns, self._conns = list(self._conns), set()
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass

    close = stop

    def health_count(self, since=None, until=None):
        with self._lock:
            return sum(1 for t in self.health_hits
                       if (since is None or t >= since) and (until is None or t < until))

    def _accept_loop(self, ls, stop):
        while not stop.is_set():
            try:
                s, _ = ls.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                if stop.is_set():
                    s.close()
                    return
                self._conns.add(s)
                self.connections += 1
            threading.Thread(target=self._serve, args=(s,), daemon=True).start()

    def _serve(self, s):
        buf = b""
        served = 0
        s.settimeout(30)
        try:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while True:
                while b"\r\n\r\n" not in buf:
                    d = s.recv(65536)
                    if not d:
                        return
                    buf += d
                head, _, buf = buf.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, version = lines[0].split(" ", 2)
                hdrs = {}
                for ln in lines[1:]:
                    k, _, v = ln.partition(":")
                    hdrs[k.strip().lower()] = v.strip()
                n = int(hdrs.get("content-length", "0") or 0)
                while len(buf) < n:
                    d = s.recv(65536)
                    if not d:
                        return
                    buf += d
                buf = buf[n:]
                close = "close" in hdrs.get("connection", "").lower()
                path, _, query = target.partition("?")
                if path == self.health_path and self.health is None:
                    return  # health None: close without answering
                if self.drop_after and served >= self.drop_after and path != self.health_path:
                    with self._lock:
                        self.dropped += 1
                    return
                served += 1
                if path == self.health_path:
                    with self._lock:
                        self.health_hits.append(time.monotonic())
                        self.health_heads = (self.health_heads + [(method, target, hdrs)])[-5:]
                    if self.health_delay:
                        time.sleep(self.health_delay)
                    status = self.health
                    body = b"health %d\n" % status
                else:
                    with self._lock:
                        self.requests += 1
                    if self.delay:
                        time.sleep(self.delay)
                    if path == "/slow":
                        m = re.search(r"(?:^|&)ms=(\d+)", query)
                        time.sleep(int(m.group(1)) / 1000.0 if m else 1.0)
                    status = self.status
                    body = (json.dumps({"name": self.name, "path": target}) + "\n").encode()
                resp = ("HTTP/1.1 %d X\r\nContent-Type: application/json\r\nX-Backend: %s\r\n"
                        "Content-Length: %d\r\n%s\r\n"
                        % (status, self.name, len(body), "Connection: close\r\n" if close else ""))
                if method == "HEAD":
                    body = b""
                s.sendall(resp.encode("latin-1") + body)
                if close:
                    return
        except (OSError, ValueError):
            return
        finally:
            with self._lock:
                self._conns.discard(s)
            try:
                s.close()
            except OSError:
                pass


# --------------------------------------------------------------------------------------------
# helpers


def backend_name(resp):
    """The serving backend's name, from backend.py's / CtlServer's X-Backend header."""
    return resp.header("x-backend")


def count_names(names):
    out = {}
    for n in names:
        out[n] = out.get(n, 0) + 1
    return out


def wait_for(pred, timeout, step=0.02):
    """Polls pred() until it is true or timeout seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(step)


def log_lines(weir, pattern):
    """Lines of weir's stderr matching the regex `pattern`."""
    rx = re.compile(pattern)
    return [ln for ln in weir.stderr_text().splitlines() if rx.search(ln)]


def down_lines(weir, group, addr):
    return log_lines(weir, r"upstream %s/%s is DOWN \(" % (re.escape(group), re.escape(addr)))


def up_lines(weir, group, addr):
    return log_lines(weir, r"upstream %s/%s is UP \(" % (re.escape(group), re.escape(addr)))


def server(port_or_addr, **kw):
    """A `servers` item: {address: 127.0.0.1:PORT, ...kw}."""
    addr = port_or_addr if isinstance(port_or_addr, str) else "127.0.0.1:%d" % port_or_addr
    d = {"address": addr}
    d.update(kw)
    return d


def group_config(upstreams, routes, workers=2, level="info", **kw):
    """Like conftest.make_config (listen filled in by the launcher), but `servers` items may be
    mappings (server(...)) as well as ports or address strings."""
    from conftest import make_config
    plain = {}
    for name, spec in upstreams.items():
        spec = dict(spec)
        spec["servers"] = ["127.0.0.1:1"] * len(spec["servers"])
        plain[name] = spec
    cfg = make_config(None, plain, routes, workers=workers, level=level, **kw)
    for name, spec in upstreams.items():
        cfg["upstreams"][name]["servers"] = [
            s if isinstance(s, (str, dict)) else "127.0.0.1:%d" % s for s in spec["servers"]]
    return cfg
