#!/usr/bin/env python3
"""rss_storm.py — does weir give memory back once the load is gone? (issue 8, point 4)

Usage: bench/rss_storm.py [options] [WEIR_BIN]          (WEIR_BIN default: build/weir)
  --scenario S     storm | rounds | both (default both)
  --conns N        storm: concurrent client connections (default 10000)
  --slow K         storm: how many of them fetch --big bytes and read slowly (default 2000);
                   the others fetch 1 KiB and stay open, idle, until the storm ends
  --rounds R       rounds: how many rounds (default 6)
  --round-conns M  rounds: connections per round, all reading --big bytes slowly (default 1000)
  --big BYTES      size of the slowly read response (default 1048576)
  --rate BYTES     slow readers read at most this much per connection per 100 ms (default 65536)
  --settle S       seconds to wait after the connections closed before "after" (default 5)
  --workers W      weir workers (default 2)
  --json FILE      also write the figures as JSON
  --log-level L    weir's log level (default warn; debug shows each malloc_trim and its cost)
  --maps           print weir's largest mappings (by resident KiB) at start and after each wait
  --keep           keep the temporary directory (configs, weir's and nginx's logs)

What it does: starts an nginx backend (1 worker; /small returns 1 KiB, /big is a static file of
--big bytes) and a weir in front of it (admin off, no access log), then
  storm:  opens N connections at once (each sends one request: K for /big, the rest for /small),
          reads the small responses, reads the big ones at --rate, keeps every connection open
          until the last big response is complete, closes them all, waits --settle seconds;
  rounds: R times: M connections fetch /big and read it at --rate, all close, wait --settle.
It samples weir's VmRSS (/proc/PID/status; one process, all threads) every 50 ms and prints
start (after 200 warm-up requests) / peak / after, the ratio after/start, and for rounds the RSS
after each round. Every response is checked (status 200, full length); errors are reported.
Exit status: 0 when every response was complete and after/start <= 1.2 in every scenario run,
1 otherwise, 2 on a usage error.

Needs nginx and a release build of weir:
  meson setup build --buildtype=release -Db_ndebug=false && ninja -C build
Every process it starts is stopped by PID on exit. File descriptors: it raises its own
RLIMIT_NOFILE to the hard limit and needs N + a few (10000 + K fds are open in weir at the peak).
"""

import argparse
import errno
import json
import os
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SMALL = 1024


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, proc, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit("rss_storm: %s exited with %s" % (what, proc.returncode))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit("rss_storm: %s did not listen on %d" % (what, port))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def print_maps(pid, when, n=8):
    """The n mappings of pid with the most resident KiB (/proc/PID/smaps)."""
    maps, name = [], None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            first = line.split(None, 1)[0]
            if not first.endswith(":"):  # a mapping's header line
                parts = line.split()
                name = parts[5] if len(parts) > 5 else "[anon %s]" % parts[0]
            elif first == "Rss:":
                maps.append((int(line.split()[1]), name))
    maps.sort(reverse=True)
    print("  largest mappings (%s): %s" % (when, ", ".join("%s %d KiB" % (m, r)
                                                           for r, m in maps[:n])))


SHOW_MAPS = False


class Sampler:
    """VmRSS of pid every 50 ms; peak since the last reset()."""

    def __init__(self, pid):
        self.pid = pid
        self.peak = 0
        self.stop_ev = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop_ev.is_set():
            try:
                self.peak = max(self.peak, rss_kib(self.pid))
            except OSError:
                return
            self.stop_ev.wait(0.05)

    def reset(self):
        self.peak = rss_kib(self.pid)

    def stop(self):
        self.stop_ev.set()
        self.t.join(2)


# ---- processes --------------------------------------------------------------------------

NGINX_CONF = """\
%(user)s
worker_processes 1;
worker_rlimit_nofile 20000;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log warn;
events { worker_connections 16000; }
http {
    access_log off;
    client_body_temp_path %(dir)s/tmp;
    proxy_temp_path %(dir)s/tmp;
    fastcgi_temp_path %(dir)s/tmp;
    uwsgi_temp_path %(dir)s/tmp;
    scgi_temp_path %(dir)s/tmp;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    server {
        listen 127.0.0.1:%(port)d backlog=4096;
        root %(dir)s/www;
        location = /small { default_type application/octet-stream; return 200 "%(small)s"; }
        location = /big { default_type application/octet-stream; }
    }
}
"""

WEIR_CONF = """\
workers: %(workers)d
listen:
  - address: 127.0.0.1:%(port)d
    backlog: 4096
admin: off
log: {level: %(level)s, access: "off"}
timeouts: {client_header: 60s, client_send: 120s, keepalive: 300s}
upstreams:
  app:
    servers: [127.0.0.1:%(backend)d]
    timeouts: {idle: 120s}
routes:
  - path: /
    upstream: app
"""


class Procs:
    def __init__(self):
        self.procs = []

    def start(self, argv, log, **kw):
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, **kw)
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)


# ---- the client side --------------------------------------------------------------------

class Conn:
    __slots__ = ("sock", "want", "got", "head", "body", "status", "slow", "done")

    def __init__(self, sock, slow):
        self.sock = sock
        self.slow = slow
        self.head = bytearray()
        self.want = None   # body length from Content-Length once the head is in
        self.body = 0
        self.status = 0
        self.done = False

    def feed(self, data):
        if self.want is None:
            self.head += data
            i = self.head.find(b"\r\n\r\n")
            if i < 0:
                return
            head = bytes(self.head[:i]).decode("latin-1")
            self.status = int(head.split(" ", 2)[1])
            self.want = 0
            for line in head.split("\r\n")[1:]:
                k, _, v = line.partition(":")
                if k.strip().lower() == "content-length":
                    self.want = int(v)
            data = self.head[i + 4:]
            self.head = bytearray()
        self.body += len(data)
        if self.body >= self.want:
            self.done = True


def open_conns(port, n, path_of):
    """n connections, each with its request sent; returns the list."""
    conns = []
    for i in range(n):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)  # slow readers stay slow
        for attempt in range(50):
            try:
                s.settimeout(5)
                s.connect(("127.0.0.1", port))
                break
            except OSError as e:
                if e.errno not in (errno.ECONNREFUSED, errno.EAGAIN, errno.ETIMEDOUT):
                    raise
                time.sleep(0.05)
        path, slow = path_of(i)
        s.sendall(("GET %s HTTP/1.1\r\nHost: bench\r\n\r\n" % path).encode())
        s.setblocking(False)
        conns.append(Conn(s, slow))
    return conns


def drive(conns, rate, timeout=600.0):
    """Reads every response (small ones as fast as they come, slow ones at most `rate` bytes per
    connection per 100 ms) until all are complete; returns the number of failed ones."""
    deadline = time.monotonic() + timeout
    pending = [c for c in conns]
    while pending and time.monotonic() < deadline:
        tick = time.monotonic()
        still = []
        for c in pending:
            budget = rate if c.slow else 1 << 20
            while budget > 0 and not c.done:
                try:
                    data = c.sock.recv(min(budget, 65536))
                except BlockingIOError:
                    break
                except OSError:
                    data = b""
                if not data:
                    c.status = c.status or -1
                    c.done = True
                    break
                budget -= len(data)
                c.feed(data)
            if not c.done:
                still.append(c)
        pending = still
        left = 0.1 - (time.monotonic() - tick)
        if pending and left > 0:
            time.sleep(left)
    bad = [c for c in conns if not c.done or c.status != 200 or c.body != c.want]
    if bad:
        kinds = {}
        for c in bad:
            k = "unfinished" if not c.done else "closed early" if c.status == -1 else \
                "status %d" % c.status if c.status != 200 else "short body"
            kinds[k] = kinds.get(k, 0) + 1
        print("  failed responses: %s" % ", ".join("%s %d" % kv for kv in sorted(kinds.items())))
    return len(bad)


def close_all(conns):
    for c in conns:
        c.sock.close()


def settle(sampler, pid, seconds):
    time.sleep(seconds)
    if SHOW_MAPS:
        print_maps(pid, "after %ds" % seconds)
    return rss_kib(pid)


# ---- scenarios --------------------------------------------------------------------------

def warm_up(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    f = s.makefile("rb")
    for _ in range(200):
        s.sendall(b"GET /small HTTP/1.1\r\nHost: bench\r\n\r\n")
        line = f.readline()
        assert line.startswith(b"HTTP/1.1 200"), line
        n = 0
        while True:
            h = f.readline()
            if h in (b"\r\n", b""):
                break
            if h.lower().startswith(b"content-length:"):
                n = int(h.split(b":")[1])
        f.read(n)
    s.close()


def storm(port, pid, sampler, a):
    start = rss_kib(pid)
    sampler.reset()
    t0 = time.monotonic()
    # Exactly a.slow of them, spread evenly: i is slow when floor(i*K/N) steps at i.
    conns = open_conns(port, a.conns,
                       lambda i: ("/big", True) if (i * a.slow) // a.conns != ((i + 1) * a.slow)
                       // a.conns else ("/small", False))
    opened = time.monotonic() - t0
    bad = drive(conns, a.rate)
    held = time.monotonic() - t0
    peak = max(sampler.peak, rss_kib(pid))
    close_all(conns)
    after = settle(sampler, pid, a.settle)
    nslow = sum(1 for c in conns if c.slow)
    print("storm: %d connections (%d slow readers of %d bytes at %d B/100ms), opened in %.1fs,"
          " held %.1fs, failed responses %d" % (len(conns), nslow, a.big, a.rate, opened, held, bad))
    print("storm: RSS start %.1f MiB, peak %.1f MiB, after %ds %.1f MiB, after/start %.2f"
          % (start / 1024, peak / 1024, a.settle, after / 1024, after / start))
    return {"start_kib": start, "peak_kib": peak, "after_kib": after, "ratio": after / start,
            "failed": bad, "conns": len(conns), "slow": nslow}


def rounds(port, pid, sampler, a):
    start = rss_kib(pid)
    sampler.reset()
    after = []
    bad = 0
    for r in range(a.rounds):
        conns = open_conns(port, a.round_conns, lambda i: ("/big", True))
        bad += drive(conns, a.rate)
        close_all(conns)
        after.append(settle(sampler, pid, a.settle))
        print("rounds: round %d: %d slow readers of %d bytes, RSS after %ds %.1f MiB"
              % (r + 1, len(conns), a.big, a.settle, after[-1] / 1024))
    peak = max(sampler.peak, max(after))
    print("rounds: RSS start %.1f MiB, peak %.1f MiB, after each round %s MiB,"
          " last/start %.2f, failed responses %d"
          % (start / 1024, peak / 1024, " ".join("%.1f" % (x / 1024) for x in after),
             after[-1] / start, bad))
    return {"start_kib": start, "peak_kib": peak, "after_kib": after, "ratio": after[-1] / start,
            "failed": bad}


def main():
    ap = argparse.ArgumentParser(usage=__doc__)
    ap.add_argument("weir", nargs="?", default=os.path.join(ROOT, "build", "weir"))
    ap.add_argument("--scenario", choices=("storm", "rounds", "both"), default="both")
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--slow", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--round-conns", type=int, default=1000)
    ap.add_argument("--big", type=int, default=1 << 20)
    ap.add_argument("--rate", type=int, default=65536)
    ap.add_argument("--settle", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json")
    ap.add_argument("--log-level", default="warn")
    ap.add_argument("--maps", action="store_true")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    global SHOW_MAPS
    SHOW_MAPS = a.maps
    if not (os.path.isfile(a.weir) and os.access(a.weir, os.X_OK)):
        print("rss_storm: no weir binary at %s" % a.weir, file=sys.stderr)
        return 2
    if not shutil.which("nginx"):
        print("rss_storm: nginx not found (scripts/install-deps.sh --bench)", file=sys.stderr)
        return 2
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    need = max(a.conns, a.round_conns) + 64
    if hard < need:
        print("rss_storm: RLIMIT_NOFILE hard limit %d < %d" % (hard, need), file=sys.stderr)
        return 2

    tmp = tempfile.mkdtemp(prefix="weir-rss.")
    procs = Procs()
    try:
        os.makedirs(os.path.join(tmp, "www"))
        os.makedirs(os.path.join(tmp, "tmp"))
        with open(os.path.join(tmp, "www", "big"), "wb") as f:
            f.write(bytes(range(256)) * (a.big // 256) + b"x" * (a.big % 256))
        bport, wport = free_port(), free_port()
        user = "user %s;" % os.popen("id -un").read().strip() if os.getuid() == 0 else ""
        with open(os.path.join(tmp, "nginx.conf"), "w") as f:
            f.write(NGINX_CONF % {"user": user, "dir": tmp, "port": bport, "small": "x" * SMALL})
        with open(os.path.join(tmp, "weir.yaml"), "w") as f:
            f.write(WEIR_CONF % {"workers": a.workers, "port": wport, "backend": bport,
                                "level": a.log_level})
        nlog = open(os.path.join(tmp, "nginx.out"), "wb")
        ng = procs.start(["nginx", "-p", tmp + "/", "-c", os.path.join(tmp, "nginx.conf"),
                          "-e", os.path.join(tmp, "error.log"), "-g", "daemon off;"], nlog)
        wait_port(bport, ng, "nginx")
        wlog_path = os.path.join(tmp, "weir.log")
        wlog = open(wlog_path, "wb")
        weir = procs.start([a.weir, "-c", os.path.join(tmp, "weir.yaml")], wlog)
        wait_port(wport, weir, "weir")
        warm_up(wport)
        time.sleep(1)
        if SHOW_MAPS:
            print_maps(weir.pid, "start")
        sampler = Sampler(weir.pid)
        print("weir %s, %d workers, pid %d; nginx backend; glibc %s"
              % (a.weir, a.workers, weir.pid, os.confstr("CS_GNU_LIBC_VERSION")))
        res = {}
        if a.scenario in ("storm", "both"):
            res["storm"] = storm(wport, weir.pid, sampler, a)
        if a.scenario in ("rounds", "both"):
            res["rounds"] = rounds(wport, weir.pid, sampler, a)
        sampler.stop()
        if weir.poll() is not None:
            print("rss_storm: weir exited with %s" % weir.returncode)
            return 1
        with open(wlog_path, "rb") as f:
            lines = f.read().decode("latin-1").splitlines()
        notable = [ln for ln in lines if "[warn]" in ln or "[error]" in ln]
        print("weir log: %d lines, %d warnings/errors%s" % (len(lines), len(notable), "".join(
            "\n  " + ln for ln in notable[:10])))
        if a.json:
            with open(a.json, "w") as f:
                json.dump(res, f, indent=1)
        ok = all(r["failed"] == 0 and r["ratio"] <= 1.2 for r in res.values())
        return 0 if ok else 1
    finally:
        procs.stop_all()
        if a.keep:
            print("logs and configs kept in", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
