"""A small origin for the cache tests: each request's query says what to answer.

  /any/path?h=Name:Value&h=...   response fields (repeatable; values URL-encoded)
           &status=NNN            the status (default 200)
           &body=text             the body (default "<path> #<n>", n = requests for that path)
           &size=N                a body of N bytes instead (pattern), with Content-Length
           &chunked=1             send the body chunked
           &delay=ms              wait before answering
           &count_header=1        add "X-Count: <n>" (n = requests for that path)
           &nodate=1              send no Date field
           &ranges=1              answer "Range: bytes=a-b" with a 206 of that slice
           &etag304=1             answer 304 (with the h= fields) when If-None-Match matches the
                                  ETag given in h=, or If-Modified-Since is present and
                                  Last-Modified given in h=
  POST/PUT/DELETE/PATCH           answered with the same options
  GET /__count?path=/p            how many requests reached /p (JSON: {"count": n, "last": {...}})
  POST /__fail?on=1|0             every later answer is a 500 (or, with mode=close, a reset)
  POST /__reset                   forget counts

Counts are by path without the query. HTTP/1.1 with keep-alive; threaded.
"""

import argparse
import json
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
COUNTS = {}
LAST = {}
FAIL = {"on": False, "mode": "500"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def _answer(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if u.path == "/__count":
            p = q.get("path", ["/"])[0]
            with LOCK:
                out = {"count": COUNTS.get(p, 0), "last": LAST.get(p, {})}
            return self._send(200, [("Content-Type", "application/json")], json.dumps(out).encode())
        if u.path == "/__fail":
            FAIL["on"] = q.get("on", ["1"])[0] == "1"
            FAIL["mode"] = q.get("mode", ["500"])[0]
            return self._send(200, [], b"ok")
        if u.path == "/__reset":
            with LOCK:
                COUNTS.clear()
                LAST.clear()
            return self._send(200, [], b"ok")
        with LOCK:
            n = COUNTS.get(u.path, 0) + 1
            COUNTS[u.path] = n
            LAST[u.path] = {"method": self.command, "headers": dict(self.headers.items())}
        if "delay" in q:
            time.sleep(int(q["delay"][0]) / 1000.0)
        if FAIL["on"]:
            if FAIL["mode"] == "close":
                self.close_connection = True
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                self.connection.close()
                return
            return self._send(500, [("Content-Type", "text/plain")], b"origin failed")
        fields = []
        for h in q.get("h", []):
            name, _, value = h.partition(":")
            fields.append((name, value.strip()))
        if "count_header" in q:
            fields.append(("X-Count", str(n)))
        status = int(q.get("status", ["200"])[0])
        fd = {k.lower(): v for k, v in fields}
        if "etag304" in q:
            inm = self.headers.get("If-None-Match")
            ims = self.headers.get("If-Modified-Since")
            if (inm and "etag" in fd and inm == fd["etag"]) or \
               (ims and not inm and "last-modified" in fd):
                return self._send(304, fields, b"", head_only=True)
        if "size" in q:
            size = int(q["size"][0])
            body = (b"0123456789abcdef" * (size // 16 + 1))[:size]
        else:
            body = q.get("body", ["%s #%d" % (u.path, n)])[0].encode()
        if not any(k.lower() == "content-type" for k, _ in fields):
            fields.append(("Content-Type", "text/plain"))
        rng = self.headers.get("Range")
        if "ranges" in q and rng and rng.startswith("bytes="):
            a, _, b = rng[6:].partition("-")
            a, b = int(a), min(int(b), len(body) - 1)
            fields.append(("Content-Range", "bytes %d-%d/%d" % (a, b, len(body))))
            status, body = 206, body[a:b + 1]
        self._send(status, fields, body, chunked="chunked" in q,
                   head_only=self.command == "HEAD", date="nodate" not in q)

    def _send(self, status, fields, body, chunked=False, head_only=False, date=True):
        self.send_response_only(status)
        for k, v in fields:
            self.send_header(k, v)
        if date and not any(k.lower() == "date" for k, _ in fields):
            self.send_header("Date", self.date_time_string())
        no_body = status in (204, 304) or 100 <= status < 200
        if chunked and not no_body:
            self.send_header("Transfer-Encoding", "chunked")
        elif not no_body:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if head_only or no_body:
            return
        if chunked:
            for i in range(0, len(body), 4096):
                part = body[i:i + 4096]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.wfile.write(body)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = _answer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    a = ap.parse_args()
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 1024
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.serve_forever()


if __name__ == "__main__":
    main()
