#!/usr/bin/env python3
"""idle_conns.py — what an idle keep-alive connection costs weir (issue 9: <= 2 KB of RSS each,
100,000 in < 400 MB).

Usage: bench/idle_conns.py [--conns N] [--workers W] [--tls] [WEIR_BIN]  (default build/weir, N 10000)

--tls: the same over HTTPS (an ECDSA P-256 certificate made with the openssl CLI in a temp dir;
the connections are opened one after the other, each with a full TLS 1.3 handshake).

Starts a backend (python http.server-like, tests/integration/backend.py) and weir in front of it
(one worker by default, admin off), warms weir up with 200 requests on 20 connections, samples
its VmRSS, then opens N client connections, sends one GET on each, reads each response, and
leaves them open and idle (weir keeps them for its keep-alive timeout, 75 s). After 2 s it
samples VmRSS again and prints the growth per connection, and the extrapolation to 100,000
(a process here may hold 20,000 descriptors: N is bounded by that, and the 100,000 figure is
linear extrapolation, said so in the output). Every process it starts is stopped by PID.
"""
import argparse
import os
import resource
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_port(port, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("port %d did not open" % port)


def request_all(port, n):
    """Opens n connections, one GET each, reads the responses; returns the open sockets."""
    sel = selectors.DefaultSelector()
    socks = []
    req = b"GET /small HTTP/1.1\r\nHost: x\r\n\r\n"
    for i in range(n):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        socks.append(s)
        sel.register(s, selectors.EVENT_WRITE, [b"", False])
        if len(socks) % 500 == 0:
            drive(sel, req, until=len(socks) - 250)
    drive(sel, req, until=0)
    return socks


def request_all_tls(port, n):
    """As request_all over TLS (blocking, one at a time: the handshakes cost the client)."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    socks = []
    for _ in range(n):
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10))
        s.sendall(b"GET /small HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        while not (b"\r\n\r\n" in got and got.endswith(b"}\n")):
            d = s.recv(65536)
            if not d:
                break
            got += d
        socks.append(s)
    return socks


def drive(sel, req, until):
    while len(sel.get_map()) > until:
        for key, ev in sel.select(timeout=5):
            s, st = key.fileobj, key.data
            if ev & selectors.EVENT_WRITE and not st[1]:
                try:
                    s.send(req)
                    st[1] = True
                    sel.modify(s, selectors.EVENT_READ, st)
                except (BlockingIOError, InterruptedError):
                    pass
            elif ev & selectors.EVENT_READ:
                d = s.recv(65536)
                st[0] += d
                if not d or (b"\r\n\r\n" in st[0] and st[0].endswith(b"}\n")):
                    sel.unregister(s)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("weir", nargs="?", default=os.path.join(ROOT, "build", "weir"))
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tmp = tempfile.mkdtemp(prefix="weir-idle-")
    bport, wport = free_port(), free_port()
    procs = []
    try:
        procs.append(subprocess.Popen([sys.executable, os.path.join(ROOT, "tests/integration/backend.py"),
                                       "--port", str(bport)], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
        wait_port(bport)
        cfg = os.path.join(tmp, "weir.yaml")
        listen = "[\"127.0.0.1:%d\"]" % wport
        if a.tls:
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=x",
                            "-keyout", os.path.join(tmp, "k.pem"),
                            "-out", os.path.join(tmp, "c.pem")], check=True, capture_output=True)
            listen = ("[{address: \"127.0.0.1:%d\", tls: {certificates: [{cert: c.pem, "
                      "key: k.pem}]}}]" % wport)
        with open(cfg, "w") as f:
            f.write("workers: %d\nlisten: %s\nlog: {level: %s}\n"
                    "admin: off\n"
                    "upstreams:\n  b: {servers: [\"127.0.0.1:%d\"]}\n"
                    "routes:\n  - {path: /, upstream: b}\n"
                    % (a.workers, listen, os.environ.get("WEIR_LOG", "warn"), bport))
        w = subprocess.Popen([a.weir, "-c", cfg], stdout=subprocess.DEVNULL,
                             stderr=open(os.path.join(tmp, "weir.stderr"), "wb"))
        procs.append(w)
        wait_port(wport)
        opener = request_all_tls if a.tls else request_all
        warm = opener(wport, 20)
        for s in warm:
            s.close()
        time.sleep(1.0)
        before = rss_kib(w.pid)
        t0 = time.time()
        socks = opener(wport, a.conns)
        time.sleep(2.0)
        after = rss_kib(w.pid)
        per = (after - before) * 1024.0 / a.conns
        print("weir idle keep-alive %sconnections: %d (opened and answered in %.1f s)"
              % ("TLS " if a.tls else "", a.conns, time.time() - t0))
        print("  RSS before %.1f MiB, with them idle %.1f MiB, growth %.1f MiB"
              % (before / 1024.0, after / 1024.0, (after - before) / 1024.0))
        print("  per idle connection: %.0f bytes" % per)
        print("  100,000 idle connections, extrapolated linearly: %.0f MiB (+ %.1f MiB start)"
              % (per * 100000 / 1048576.0, before / 1024.0))
        for s in socks:
            s.close()
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()


if __name__ == "__main__":
    main()
