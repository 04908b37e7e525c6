#!/usr/bin/env python3
"""cache_rss.py — does weir's RSS stay within the cache's max_size (+10 %) under Zipf traffic
much larger than the cache? (issue 11: 10 GiB of Zipf traffic over a 1 GiB cache.)

Usage: bench/cache_rss.py WEIR_BIN [--max-size MiB] [--traffic MiB] [--keys N] [--object KiB]
                          [--alpha A] [--clients C]
Defaults: a 256 MiB cache, 2048 MiB of traffic, 16384 keys of 64 KiB (1 GiB of distinct
objects: four times the cache), Zipf 1.0, 16 client threads. weir runs one route with
`cache: {max_size, max_object: 1m}` in front of tests/integration/cache_origin.py; RSS (VmRSS of
weir) is sampled every 100 ms. Prints the peak RSS, the RSS before traffic, the store's bytes
and objects (/status) and the verdict: peak − baseline ≤ 1.1 × max_size.
"""

import argparse
import bisect
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ORIGIN = os.path.join(HERE, "..", "tests", "integration", "cache_origin.py")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("nothing listens on %d" % port)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("weir")
    ap.add_argument("--max-size", type=int, default=256)
    ap.add_argument("--traffic", type=int, default=2048)
    ap.add_argument("--keys", type=int, default=16384)
    ap.add_argument("--object", type=int, default=64)
    ap.add_argument("--alpha", type=float, default=1.0)
    ap.add_argument("--clients", type=int, default=16)
    a = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="weir-cache-rss.")
    oport, wport, aport = free_port(), free_port(), free_port()
    procs = []
    try:
        procs.append(subprocess.Popen([sys.executable, ORIGIN, "--port", str(oport)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_port(oport)
        cfg = os.path.join(tmp, "weir.yaml")
        with open(cfg, "w") as f:
            f.write("workers: 2\nlisten: [127.0.0.1:%d]\nadmin: {listen: 127.0.0.1:%d}\n"
                    "log: {access: 'off'}\nupstreams:\n  o: {servers: [127.0.0.1:%d]}\n"
                    "routes:\n  - path: /\n    upstream: o\n    cache: {max_size: %dm, "
                    "max_object: 1m}\n" % (wport, aport, oport, a.max_size))
        w = subprocess.Popen([a.weir, "-c", cfg], stdout=subprocess.DEVNULL,
                             stderr=open(os.path.join(tmp, "weir.err"), "w"))
        procs.append(w)
        wait_port(wport)
        base = rss_kib(w.pid)

        weights = [1.0 / (i + 1) ** a.alpha for i in range(a.keys)]
        cdf, s = [], 0.0
        for x in weights:
            s += x
            cdf.append(s)
        size = a.object * 1024
        total = a.traffic * 1024 * 1024 // size
        counter = {"n": 0, "bytes": 0, "errors": 0}
        lock = threading.Lock()
        peak = [base]
        stop = threading.Event()

        def sampler():
            while not stop.is_set():
                peak[0] = max(peak[0], rss_kib(w.pid))
                time.sleep(0.1)

        def client(seed):
            rnd = random.Random(seed)
            conn = http.client.HTTPConnection("127.0.0.1", wport, timeout=30)
            while True:
                with lock:
                    if counter["n"] >= total:
                        break
                    counter["n"] += 1
                k = bisect.bisect_left(cdf, rnd.random() * s)
                path = "/o%d?size=%d&h=Cache-Control:max-age%%3D3600" % (k, size)
                try:
                    conn.request("GET", path)
                    r = conn.getresponse()
                    body = r.read()
                    with lock:
                        counter["bytes"] += len(body)
                except (OSError, http.client.HTTPException):
                    with lock:
                        counter["errors"] += 1
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", wport, timeout=30)
            conn.close()

        t0 = time.time()
        th = [threading.Thread(target=sampler)] + \
             [threading.Thread(target=client, args=(i,)) for i in range(a.clients)]
        for t in th:
            t.start()
        for t in th[1:]:
            t.join()
        stop.set()
        th[0].join()
        elapsed = time.time() - t0
        c = http.client.HTTPConnection("127.0.0.1", aport, timeout=10)
        c.request("GET", "/status")
        st = json.loads(c.getresponse().read())["caches"][0]
        grown = (peak[0] - base) / 1024.0
        print("traffic: %d requests, %.0f MiB in %.1f s (%d errors); Zipf %.2f over %d keys of %d KiB"
              % (total, counter["bytes"] / 1048576.0, elapsed, counter["errors"], a.alpha, a.keys,
                 a.object))
        print("cache: max_size %d MiB; stored %.1f MiB in %d objects; hit ratio %.3f; evicted %d"
              % (a.max_size, st["bytes"] / 1048576.0, st["objects"], st["hit_ratio"], st["evicted"]))
        print("RSS: %.1f MiB before traffic, peak %.1f MiB: grew %.1f MiB = %.2f x max_size -> %s"
              % (base / 1024.0, peak[0] / 1024.0, grown, grown / a.max_size,
                 "within max_size + 10 %" if grown <= 1.1 * a.max_size else "OVER max_size + 10 %"))
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
