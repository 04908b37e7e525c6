#!/usr/bin/env python3
"""mock_admin.py — a stand-in for weir's admin listener, for developing and testing the dashboard.

Stdlib only. Serves:
  GET /                 src/admin/dashboard.html (read at each request, so edits show on reload)
  GET /events           Server-Sent Events: event `status` every --interval seconds, data = one
                        status document as specified in src/admin/status-schema.md
  GET /status           the current status document
  anything else         counted as proxied traffic (200 "ok", or 502 when the path has "/fail");
                        the document's throughput, latency and totals come from these requests,
                        plus a synthetic background load with --synthetic
  POST /__mock/server?addr=127.0.0.1:9002&up=0|1      mark a fake server down or up
  POST /__mock/breaker?group=api&state=open|closed|half_open|null

With --token T, /events and /status need `?token=T` or `Authorization: Bearer T` (401 otherwise).

Usage: mock_admin.py --port N [--interval 1.0] [--synthetic] [--token T] [--html PATH]
"""

import argparse
import json
import math
import os
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_HTML = os.path.normpath(os.path.join(HERE, "..", "..", "src", "admin", "dashboard.html"))
BOUNDS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]


class Model:
    """Fake gateway state; every second tick() folds the last second's requests into history."""

    def __init__(self, synthetic, big=False):
        self.lock = threading.Lock()
        self.synthetic = synthetic
        self.start = time.time()
        self.history = []           # dicts as in the schema
        self.sec_lat = []           # latencies (ms) of requests in the current second
        self.sec_err = 0
        self.window = []            # (t, [latencies]) for the last 10 s
        self.totals = {"1xx": 0, "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0}
        self.requests = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.routes = {
            "*/api/ [GET]": {"requests": 0, "errors_5xx": 0, "rate_limited": 0, "lat": []},
            "*/static/ [GET]": {"requests": 0, "errors_5xx": 0, "rate_limited": 0, "lat": []},
            "*/ [other]": {"requests": 0, "errors_5xx": 0, "rate_limited": 0, "lat": []},
        }
        self.route_hist = {k: [] for k in self.routes}   # per-second request counts
        self.big = big
        self.servers = {
            "api": [{"address": a, "up": True, "backup": b, "inflight": 0, "conns": 0,
                     "requests": 0, "failures": 0, "breaker": "closed"}
                    for a, b in (("127.0.0.1:9001", False), ("127.0.0.1:9002", False),
                                 ("127.0.0.1:9003", True))],
            "static": [{"address": "127.0.0.1:9101", "up": True, "backup": False, "inflight": 0,
                        "conns": 0, "requests": 0, "failures": 0, "breaker": None}],
        }
        self.group_breaker = {"api": "closed", "static": None}
        self.group_requests = {"api": 0, "static": 0}
        if big:     # a larger installation, to see how the page copes
            for i in range(14):
                k = "*/svc%d/v1/items/ [%s]" % (i, "GET" if i % 3 else "POST")
                self.routes[k] = {"requests": 0, "errors_5xx": 0, "rate_limited": 0, "lat": []}
                self.route_hist[k] = []
            for g, n in (("search", 6), ("payments", 4), ("legacy-backend-pool", 2)):
                self.servers[g] = [{"address": "10.0.%d.%d:8080" % (len(g), j), "up": True,
                                    "backup": False, "inflight": 0, "conns": 0, "requests": 0,
                                    "failures": 0, "breaker": "closed"} for j in range(n)]
                self.group_breaker[g] = "closed"
                self.group_requests[g] = 0
        self.retries = 0
        self.budget_refused = 0
        self.limit_rejected = 0
        self.gen = 1
        self.tick_no = 0

    def record(self, path, latency_ms, status):
        with self.lock:
            self.requests += 1
            self.totals["%dxx" % (status // 100)] += 1
            self.bytes_in += 80
            self.bytes_out += 200
            self.sec_lat.append(latency_ms)
            if status >= 500:
                self.sec_err += 1
            route = ("*/api/ [GET]" if path.startswith("/api/") else
                     "*/static/ [GET]" if path.startswith("/static/") else "*/ [other]")
            r = self.routes[route]
            r["requests"] += 1
            r["errors_5xx"] += status >= 500
            r["rate_limited"] += status == 429
            r["lat"].append(latency_ms)
            grp = "static" if route.startswith("*/static") else "api"
            self.group_requests[grp] += 1
            ups = [s for s in self.servers[grp] if s["up"] and not s["backup"]] or \
                [s for s in self.servers[grp] if s["up"]] or self.servers[grp]
            s = ups[self.requests % len(ups)]
            s["requests"] += 1
            s["failures"] += status >= 500

    def tick(self):
        """Called once a second."""
        with self.lock:
            self.tick_no += 1
            now = time.time()
            if self.synthetic:
                base = 180 + 120 * math.sin(now / 20.0) + random.uniform(-25, 25)
                for _ in range(max(0, int(base))):
                    lat = random.lognormvariate(0.4, 0.8)
                    self.sec_lat.append(lat)
                    st = 502 if random.random() < 0.01 else 200
                    self.totals["%dxx" % (st // 100)] += 1
                    self.requests += 1
                    self.sec_err += st >= 500
                    rt = random.choice(list(self.routes)[:6 if self.big else 3])
                    if self.big and random.random() < 0.3:
                        rt = random.choice(list(self.routes))
                    self.routes[rt]["requests"] += 1
                    self.routes[rt]["lat"].append(lat)
                    self.routes[rt]["errors_5xx"] += st >= 500
                    self.group_requests["api"] += 1
            lat = sorted(self.sec_lat)
            self.history.append({"t": int(now), "rps": len(lat),
                                 "p50": pct(lat, 50), "p99": pct(lat, 99), "err": self.sec_err})
            self.history = self.history[-300:]
            self.window.append(lat)
            self.window = self.window[-10:]
            for k, r in self.routes.items():
                self.route_hist[k].append(len(r["lat"]))
                self.route_hist[k] = self.route_hist[k][-10:]
                r["win"] = (r.get("win", []) + [r["lat"]])[-10:]
                r["lat"] = []
            self.sec_lat = []
            self.sec_err = 0
            for grp in self.servers.values():
                for s in grp:
                    busy = random.randint(0, 3) if s["up"] else 0
                    s["inflight"] = busy
                    s["conns"] = busy + (random.randint(2, 6) if s["up"] else 0)
                    s["pool"] = {"idle": s["conns"] - busy, "busy": busy,
                                 "waiters": random.choice([0, 0, 0, 1])}

    def document(self):
        with self.lock:
            now = time.time()
            h = self.history
            win = [x for sec in self.window for x in sec]
            win.sort()
            counts = [0] * (len(BOUNDS) + 1)
            for x in win:
                i = 0
                while i < len(BOUNDS) and x > BOUNDS[i]:
                    i += 1
                counts[i] += 1

            def avg(k):
                seg = h[-k:]
                return round(sum(e["rps"] for e in seg) / k, 2) if seg else 0.0

            routes = []
            for k, r in self.routes.items():
                rl = sorted(x for sec in r.get("win", []) for x in sec)
                routes.append({"route": k, "requests": r["requests"],
                               "rps": round(sum(self.route_hist[k]) / 10.0, 2),
                               "errors_5xx": r["errors_5xx"], "rate_limited": r["rate_limited"],
                               "p50_ms": pct(rl, 50), "p90_ms": pct(rl, 90),
                               "p99_ms": pct(rl, 99), "p999_ms": pct(rl, 99.9)})
            groups = []
            for name, servers in self.servers.items():
                b = self.group_breaker[name]
                groups.append({
                    "name": name, "requests": self.group_requests[name],
                    "retries": self.retries if name == "api" else 0,
                    "budget_refused": self.budget_refused if name == "api" else 0,
                    "limit_rejected": self.limit_rejected if name == "api" else 0,
                    "breaker": None if b is None else {"state": b, "since_s": 12.0,
                                                       "failure_rate": 0.02 if b != "closed" else 0,
                                                       "slow_rate": 0},
                    "concurrency": {"limit": 100, "inflight": sum(s["inflight"] for s in servers),
                                    "queued": 0} if name == "api" else None,
                    "p50_ms": pct(win, 50), "p99_ms": pct(win, 99),
                    "servers": [dict(s, pool=s.get("pool", {"idle": 0, "busy": 0, "waiters": 0}))
                                for s in servers]})
            return {
                "version": "0.1.0-mock", "uptime_s": round(now - self.start, 1),
                "generation": self.gen, "workers": 2, "ts_ms": int(now * 1000),
                "reloads": {"ok": self.gen - 1, "failed": 0},
                "rps": {"1s": float(h[-1]["rps"]) if h else 0.0, "10s": avg(10), "60s": avg(60)},
                "totals": {"requests": self.requests, "status": dict(self.totals),
                           "bytes_in": self.bytes_in, "bytes_out": self.bytes_out,
                           "active_clients": random.randint(1, 9), "upstream_conns": 7,
                           "protocols": {"http1_requests": 100, "http2_requests": 42,
                                         "http2_streams": 2, "http2_connections": 1},
                           "shed": 0},
                "latency_ms": {"p50": pct(win, 50), "p90": pct(win, 90), "p99": pct(win, 99),
                               "p999": pct(win, 99.9), "max": win[-1] if win else None,
                               "window_s": 10},
                "histogram": {"bounds_ms": BOUNDS, "counts": counts},
                "history": list(h),
                "routes": routes,
                "groups": groups,
            }


def pct(sorted_vals, p):
    if not sorted_vals:
        return None
    i = min(len(sorted_vals) - 1, max(0, int(math.ceil(p / 100.0 * len(sorted_vals))) - 1))
    return round(sorted_vals[i], 3)


def make_handler(model, html_path, interval, token, stop):
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def _authorized(self, q):
            if not token:
                return True
            if q.get("token", [None])[0] == token:
                return True
            return self.headers.get("Authorization", "") == "Bearer " + token

        def _send(self, code, ctype, body):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            u = urlsplit(self.path)
            q = parse_qs(u.query)
            if u.path == "/":
                with open(html_path, "rb") as f:
                    self._send(200, "text/html; charset=utf-8", f.read())
            elif u.path in ("/events", "/status"):
                if not self._authorized(q):
                    self._send(401, "text/plain", b"unauthorized\n")
                    return
                if u.path == "/status":
                    self._send(200, "application/json",
                               json.dumps(model.document()).encode() + b"\n")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-store")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                try:
                    self.wfile.write(b"retry: 1000\n\n")
                    while not stop.is_set():
                        data = json.dumps(model.document(), separators=(",", ":"))
                        self.wfile.write(b"event: status\ndata: " + data.encode() + b"\n\n")
                        self.wfile.flush()
                        stop.wait(interval)
                except (BrokenPipeError, ConnectionResetError):
                    pass
            else:
                t0 = time.monotonic()
                status = 502 if "/fail" in u.path else 429 if "/limited" in u.path else 200
                body = b"ok\n"
                self._send(status, "text/plain", body)
                model.record(u.path, (time.monotonic() - t0) * 1000 + random.uniform(0.2, 3.0),
                             status)

        def do_POST(self):
            u = urlsplit(self.path)
            q = {k: v[0] for k, v in parse_qs(u.query).items()}
            n = int(self.headers.get("Content-Length") or 0)
            if n:
                self.rfile.read(n)
            if u.path == "/__mock/server":
                with model.lock:
                    hit = [s for g in model.servers.values() for s in g
                           if s["address"] == q.get("addr")]
                    for s in hit:
                        s["up"] = q.get("up") in ("1", "true")
                self._send(200 if hit else 404, "text/plain", b"ok\n" if hit else b"no such\n")
            elif u.path == "/__mock/breaker":
                st = q.get("state")
                with model.lock:
                    model.group_breaker[q.get("group", "api")] = None if st == "null" else st
                self._send(200, "text/plain", b"ok\n")
            else:
                self._send(404, "text/plain", b"not found\n")

    return H


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--synthetic", action="store_true", help="add a fake background load")
    ap.add_argument("--prefill", type=int, default=0,
                    help="seconds of synthetic history to start with")
    ap.add_argument("--big", action="store_true", help="more routes, groups and servers")
    ap.add_argument("--token", default=None)
    ap.add_argument("--html", default=DEFAULT_HTML)
    a = ap.parse_args()

    model = Model(a.synthetic, a.big)
    if a.prefill:
        saved = model.synthetic
        model.synthetic = True
        for i in range(a.prefill):
            model.tick()
            model.history[-1]["t"] -= a.prefill - i
        model.synthetic = saved
    stop = threading.Event()

    def ticker():
        while not stop.wait(1.0):
            model.tick()

    threading.Thread(target=ticker, daemon=True).start()
    srv = ThreadingHTTPServer((a.host, a.port),
                              make_handler(model, a.html, a.interval, a.token, stop))
    srv.daemon_threads = True
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        srv.server_close()


if __name__ == "__main__":
    main()
