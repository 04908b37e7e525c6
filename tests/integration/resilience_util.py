"""Helpers for the resilience tests (issue 4): the fault-injection backend as a managed process,
config builders, concurrent and rate-driven clients, percentiles.

  FaultBackend / FaultFleet   tests/fault_backend.py processes, stopped by PID
  faults (fixture)            a FaultFleet per test, closed in a finalizer
  group(), route()            upstream-group and route dicts for conftest.make_config
  timed(), fire()             one timed request; N requests released at the same instant
  ClosedLoop                  N client threads looping on keep-alive connections
  run_open_loop_process()     a constant-rate (open-loop) load in a separate process
  pct(), summary()            percentiles

Running this file as a script runs the open-loop load generator (see load_main()).
"""

import asyncio
import json
import math
import os
import re
import socket
import subprocess
import sys
import threading
import time

if __name__ != "__main__":  # as a script (the load generator) only the stdlib is needed
    import pytest

    from conftest import Client, Closed, free_port, wait_port

HERE = os.path.dirname(os.path.abspath(__file__))
FAULT_PY = os.path.join(os.path.dirname(HERE), "fault_backend.py")
OUT_DIR = os.path.join(os.path.dirname(os.path.dirname(HERE)), "bench", "out")


# --------------------------------------------------------------------------------------------
# the fault backend as a process

class FaultBackend:
    """One tests/fault_backend.py process on a free port."""

    def __init__(self, workdir, name, port=None, capacity=0, service_ms=0, log_size=20000,
                 hang_max_s=60):
        self.name = name
        self.port = port or free_port()
        self.stderr_path = os.path.join(workdir, "fault-%s-%d.stderr" % (name, self.port))
        self._err = open(self.stderr_path, "wb")
        argv = [sys.executable, FAULT_PY, "--port", str(self.port), "--name", name,
                "--log-size", str(log_size), "--hang-max-s", str(hang_max_s)]
        if capacity:
            argv += ["--capacity", str(capacity), "--service-ms", str(service_ms)]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self._err)
        wait_port(self.port, self.proc, 15.0, what="fault backend " + name,
                  log=self.stderr_path)

    @property
    def pid(self):
        return self.proc.pid

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.port

    def ctl(self, method, path, obj=None):
        c = Client(self.port, timeout=10)
        try:
            body = json.dumps(obj).encode() if obj is not None else None
            hdrs = {"Connection": "close"}
            if body is not None:
                hdrs["Content-Type"] = "application/json"
            r = c.request(method, path, headers=hdrs, body=body)
        finally:
            c.close()
        assert r.status == 200, "fault backend %s: %s %s -> %r" % (self.name, method, path, r)
        return r.json()

    def fault(self, mode="ok", **kw):
        kw["mode"] = mode
        return self.ctl("POST", "/__fault", kw)

    def ok(self):
        return self.fault("ok")

    def get_fault(self):
        return self.ctl("GET", "/__fault")

    def capacity(self, capacity, service_ms):
        return self.ctl("POST", "/__capacity", {"capacity": capacity, "service_ms": service_ms})

    def stats(self, log=None, since_mono=None):
        q = []
        if log is not None:
            q.append("log=%d" % log)
        if since_mono is not None:
            q.append("since_mono=%r" % float(since_mono))
        return self.ctl("GET", "/__stats" + ("?" + "&".join(q) if q else ""))

    def requests(self):
        return self.stats(log=0)["requests"]

    def log(self):
        return self.stats()["log"]

    def reset(self, fault=False):
        return self.ctl("POST", "/__reset" + ("?fault=1" if fault else ""))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if not self._err.closed:
            self._err.close()


class FaultFleet:
    def __init__(self, workdir):
        self.workdir = workdir
        self.all = []

    def start(self, name, **kw):
        b = FaultBackend(self.workdir, name, **kw)
        self.all.append(b)
        return b

    def close(self):
        for b in self.all:
            b.stop()
        self.all = []


def _faults(tmp_path):
    fleet = FaultFleet(str(tmp_path))
    yield fleet
    fleet.close()


if __name__ != "__main__":
    faults = pytest.fixture(_faults, name="faults")


# --------------------------------------------------------------------------------------------
# config builders

def server_addr(s):
    if isinstance(s, int):
        return "127.0.0.1:%d" % s
    if isinstance(s, str):
        return s
    return s.addr


def group(servers, retry=None, breaker=None, concurrency=None, timeouts=None, passive=False,
          **extra):
    """An upstream group dict. Passive health checks are off unless asked for, so that a failing
    server is handled by the feature under test and not by health marking it down."""
    g = {"servers": [server_addr(s) for s in servers]}
    if timeouts:
        g["timeouts"] = timeouts
    if not passive:
        g["health"] = {"passive": "off"}
    elif isinstance(passive, dict):
        g["health"] = {"passive": passive}
    if retry is not None:
        g["retry"] = retry
    if breaker is not None:
        g["circuit_breaker"] = breaker
    if concurrency is not None:
        g["concurrency"] = concurrency
    g.update(extra)
    return g


def route(upstream, path="/", **extra):
    r = {"path": path, "upstream": upstream}
    r.update(extra)
    return r


def dead_port():
    """A port nobody listens on (connect is refused)."""
    return free_port()


def with_admin(cfg):
    """Gives the config dict an admin listener on a free port; returns that port."""
    port = free_port()
    cfg["admin"] = {"listen": "127.0.0.1:%d" % port}
    return port


_METRIC = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape(admin_port):
    """GET /metrics from the admin listener: [(name, {label: value}, float)]."""
    c = Client(admin_port, timeout=10)
    try:
        r = c.get("/metrics", headers={"Connection": "close"})
    finally:
        c.close()
    assert r.status == 200, r
    out = []
    for line in r.text().splitlines():
        if not line or line.startswith("#"):
            continue
        m = _METRIC.match(line)
        assert m, "bad metrics line %r" % line
        labels = dict(_LABEL.findall(m.group(2) or ""))
        out.append((m.group(1), labels, float(m.group(3))))
    return out


def metric(samples, name, **labels):
    """The sum of the samples of `name` whose labels include `labels`; None when there is
    none (the metric is not exported)."""
    vals = [v for n, l, v in samples
            if n == name and all(l.get(k) == str(x) for k, x in labels.items())]
    return sum(vals) if vals else None


def histogram(samples, name, **labels):
    """A Prometheus histogram's cumulative buckets {le (float): count} for the samples of
    name_bucket whose labels include `labels` (summed over the other labels)."""
    out = {}
    for n, l, v in samples:
        if n == name + "_bucket" and all(l.get(k) == str(x) for k, x in labels.items()):
            le = float("inf") if l["le"] == "+Inf" else float(l["le"])
            out[le] = out.get(le, 0) + v
    return out


def histogram_quantile(before, after, q):
    """The upper bound of the bucket holding quantile q of the observations made between two
    scrapes of the same histogram (None when there were none)."""
    les = sorted(after)
    counts = [after[le] - before.get(le, 0) for le in les]
    total = counts[-1] if counts else 0
    if total <= 0:
        return None
    for le, c in zip(les, counts):
        if c >= q * total:
            return le
    return les[-1]


# --------------------------------------------------------------------------------------------
# clients

if __name__ != "__main__":
    class SourceClient(Client):
        """A conftest Client whose connection comes from source address `src` (any 127.x.y.z
        is loopback on Linux): another client identity for per-IP features."""

        def __init__(self, port, src, timeout=10.0):
            self.port = port
            self.host_header = "127.0.0.1:%d" % port
            self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                                 source_address=(src, 0))
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock.settimeout(timeout)
            self.buf = bytearray()
            self.eof = False
            self.received = 0


class Result:
    __slots__ = ("status", "resp", "error", "t0", "latency", "tag")

    def __init__(self, status, resp, error, t0, latency, tag=None):
        self.status, self.resp, self.error = status, resp, error
        self.t0, self.latency, self.tag = t0, latency, tag

    @property
    def from_backend(self):
        return self.resp is not None and self.resp.has("X-Backend")

    @property
    def backend(self):
        return self.resp.header("X-Backend") if self.resp is not None else None

    def __repr__(self):
        return "<Result %s %.1fms %s%s>" % (self.status if self.error is None else self.error,
                                          self.latency * 1000, self.backend or "weir",
                                          (" tag=%s" % self.tag) if self.tag else "")


def timed(port, method="GET", path="/", headers=None, body=None, timeout=10.0, client=None,
          tag=None):
    """One request; returns a Result (errors are captured, not raised). With `client`, that
    keep-alive connection is used (and the caller must replace it after an error)."""
    own = client is None
    c = None
    t0 = time.monotonic()
    try:
        c = client or Client(port, timeout=timeout)
        hdrs = dict(headers or {})
        if tag is not None:
            hdrs["X-Test-Tag"] = tag
        r = c.request(method, path, headers=hdrs, body=body)
        return Result(r.status, r, None, t0, time.monotonic() - t0, tag)
    except (Closed, OSError, AssertionError) as e:
        return Result(None, None, repr(e), t0, time.monotonic() - t0, tag)
    finally:
        if own and c is not None:
            c.close()


def fire(port, requests, timeout=10.0, connect_first=True):
    """Sends every request of `requests` (dicts of timed() arguments) at the same instant, each on
    its own connection (opened beforehand when connect_first), and returns their Results in
    order."""
    n = len(requests)
    results = [None] * n
    clients = [None] * n
    if connect_first:
        for i in range(n):
            try:
                clients[i] = Client(port, timeout=timeout)
            except OSError as e:
                results[i] = Result(None, None, "connect: %r" % e, time.monotonic(), 0.0)
    barrier = threading.Barrier(n + 1)

    def run(i):
        try:
            barrier.wait(30)
        except threading.BrokenBarrierError:
            pass
        if results[i] is not None:
            return
        kw = dict(requests[i])
        results[i] = timed(port, timeout=timeout, client=clients[i], **kw)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    barrier.wait(30)
    for t in threads:
        t.join(timeout + 30)
    for c in clients:
        if c is not None:
            c.close()
    assert all(not t.is_alive() for t in threads), "client threads still running"
    return results


class ClosedLoop:
    """`n` threads looping GET `path` on keep-alive connections until stop(). Each outcome is a
    Result; after a non-2xx answer a thread pauses `backoff` s (so 503s do not spin)."""

    def __init__(self, port, n, path="/", timeout=10.0, backoff=0.01, headers=None):
        self.port, self.path, self.timeout, self.backoff = port, path, timeout, backoff
        self.headers = headers
        self.results = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(n)]
        for t in self.threads:
            t.start()

    def _run(self):
        c = None
        while not self._stop.is_set():
            if c is None:
                try:
                    c = Client(self.port, timeout=self.timeout)
                except OSError:
                    time.sleep(0.05)
                    continue
            r = timed(self.port, "GET", self.path, headers=self.headers, timeout=self.timeout,
                      client=c)
            with self._lock:
                self.results.append(r)
            if r.error is not None or (r.resp is not None and
                                       (r.resp.header("Connection") or "").lower() == "close"):
                c.close()
                c = None
            if r.status is None or r.status >= 300:
                self._stop.wait(self.backoff)
        if c is not None:
            c.close()

    def snapshot(self):
        with self._lock:
            return list(self.results)

    def stop(self):
        self._stop.set()
        for t in self.threads:
            t.join(self.timeout + 15)
        return self.snapshot()


class Prober:
    """One thread sending GET `path` every `interval` s on a keep-alive connection, recording
    (t_start, latency, status, error or non-200 body); for latency of an unrelated route
    during a storm. With
    `direct_port`, each round also sends the same request straight to that backend (bypassing
    weir) and records its latency in `direct`, as a control for noise from the machine."""

    def __init__(self, port, path, interval=0.02, timeout=5.0, host=None, direct_port=None):
        self.port, self.path, self.interval, self.timeout = port, path, interval, timeout
        self.direct_port = direct_port
        self.headers = {"Host": host} if host else None
        self.samples = []
        self.direct = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        c = d = None
        nxt = time.monotonic()
        while not self._stop.is_set():
            try:
                if c is None:
                    c = Client(self.port, timeout=self.timeout)
                if d is None and self.direct_port:
                    d = Client(self.direct_port, timeout=self.timeout)
            except OSError:
                time.sleep(0.05)
                continue
            r = timed(self.port, "GET", self.path, headers=self.headers, client=c,
                      timeout=self.timeout)
            self.samples.append((r.t0, r.latency, r.status,
                                 r.error or ("" if r.status == 200 else r.resp.text()[:120])))
            if r.error is not None:
                c.close()
                c = None
            if d is not None:
                r = timed(self.direct_port, "GET", self.path, client=d, timeout=self.timeout)
                self.direct.append((r.t0, r.latency, r.status))
                if r.error is not None:
                    d.close()
                    d = None
            nxt += self.interval
            wait = nxt - time.monotonic()
            if wait > 0:
                self._stop.wait(wait)
            else:
                nxt = time.monotonic()
        for x in (c, d):
            if x is not None:
                x.close()

    def stop(self):
        self._stop.set()
        self._t.join(self.timeout + 5)
        return list(self.samples)


# --------------------------------------------------------------------------------------------
# statistics

def pct(values, p):
    """The p-th percentile (0..100) of values, nearest-rank; None when empty."""
    if not values:
        return None
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(math.ceil(p / 100.0 * len(v))) - 1))
    return v[k]


def summary(latencies):
    """{n, p50, p99, max} in milliseconds."""
    if not latencies:
        return {"n": 0, "p50": None, "p99": None, "max": None}
    return {"n": len(latencies), "p50": round(pct(latencies, 50) * 1000, 2),
            "p99": round(pct(latencies, 99) * 1000, 2),
            "max": round(max(latencies) * 1000, 2)}


def status_counts(results):
    out = {}
    for r in results:
        k = r.status if r.status is not None else "error"
        out[k] = out.get(k, 0) + 1
    return out


def wait_until(pred, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    return pred()


def retry_after_seconds(resp):
    """Retry-After as an integer number of seconds (asserts the delta-seconds form)."""
    v = resp.header("Retry-After")
    assert v is not None, "no Retry-After in %r" % resp
    assert v.isdigit(), "Retry-After %r is not delta-seconds" % v
    return int(v)


# --------------------------------------------------------------------------------------------
# open-loop load in a separate process (so its work does not disturb latency measured here)

def run_open_loop_process(port, rate, duration, path, timeout, out_path, start_at=None,
                          conns=64, workdir=None):
    """Starts the load generator (this file run as a script); returns the Popen. It sends GET
    `path` at `rate` requests per second for `duration` seconds, starting at monotonic time
    `start_at` (default: at once), each request with a client-side timeout `timeout`, and writes
    its results to out_path as JSON: {"results": [[t_sched, t_start, latency, status|error,
    backend, retry_after], ...], "late": n}."""
    argv = [sys.executable, os.path.abspath(__file__), "--port", str(port), "--rate", str(rate),
            "--duration", str(duration), "--path", path, "--timeout", str(timeout),
            "--out", out_path, "--conns", str(conns)]
    if start_at is not None:
        argv += ["--start-at", "%.6f" % start_at]
    err = open(out_path + ".stderr", "wb")
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                         cwd=workdir or HERE)
    p._err_file = err
    return p


def stop_process(p, timeout):
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(5)
    f = getattr(p, "_err_file", None)
    if f is not None and not f.closed:
        f.close()
    return p.returncode


async def _read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    hdrs = {}
    for ln in lines[1:]:
        if ln:
            k, _, v = ln.partition(":")
            hdrs[k.strip().lower()] = v.strip()
    if hdrs.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass
                break
            await reader.readexactly(size + 2)
    elif "content-length" in hdrs:
        await reader.readexactly(int(hdrs["content-length"]))
    elif status not in (204, 304) and status >= 200:
        await reader.read()
        hdrs["connection"] = "close"
    return status, hdrs


async def _load(args):
    idle = []
    results = []
    late = 0
    req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (args.path, args.port)).encode()
    tasks = set()
    sem = asyncio.Semaphore(args.conns * 16)

    async def one(t_sched):
        async with sem:
            t_start = time.monotonic()
            conn = idle.pop() if idle else None
            try:
                async def go(conn):
                    if conn is None:
                        conn = await asyncio.open_connection("127.0.0.1", args.port)
                    reader, writer = conn
                    writer.write(req)
                    await writer.drain()
                    st, h = await _read_response(reader)
                    return conn, st, h
                conn, st, h = await asyncio.wait_for(go(conn), args.timeout)
                lat = time.monotonic() - t_start
                results.append([t_sched, t_start, lat, st, h.get("x-backend"),
                                h.get("retry-after")])
                if h.get("connection", "").lower() == "close":
                    conn[1].close()
                else:
                    idle.append(conn)
            except asyncio.TimeoutError:
                results.append([t_sched, t_start, time.monotonic() - t_start, "timeout", None,
                                None])
                if conn is not None:
                    conn[1].close()
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as e:
                results.append([t_sched, t_start, time.monotonic() - t_start,
                                "error:%s" % type(e).__name__, None, None])
                if conn is not None:
                    conn[1].close()

    start = args.start_at if args.start_at else time.monotonic()
    while time.monotonic() < start:
        await asyncio.sleep(min(0.05, start - time.monotonic()))
    n = int(args.rate * args.duration)
    for i in range(n):
        t_sched = start + i / args.rate
        d = t_sched - time.monotonic()
        if d > 0:
            await asyncio.sleep(d)
        elif d < -0.005:
            late += 1
        t = asyncio.ensure_future(one(t_sched))
        tasks.add(t)
        t.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(list(tasks), timeout=args.timeout + 5)
    for r, w in idle:
        w.close()
    return {"results": results, "late": late, "sent": n}


def load_main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description="open-loop HTTP load")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--rate", type=float, required=True)
    ap.add_argument("--duration", type=float, required=True)
    ap.add_argument("--path", default="/")
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--start-at", type=float, default=None)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    out = asyncio.run(_load(args))
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(out, f)
    os.replace(tmp, args.out)


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    load_main()
