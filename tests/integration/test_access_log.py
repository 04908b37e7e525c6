"""The access log: one JSON object per line and request, flushed at least every second and at
exit."""

import json
import os
import re
import time


from conftest import Client, make_config

KEYS = {"ts", "client", "method", "path", "status", "bytes_in", "bytes_out", "upstream",
        "total_ms", "upstream_ms", "request_id"}


def read_lines(path):
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        return []
    assert data.endswith(b"\n"), "partial line at the end of the access log: %r" % data[-200:]
    return [json.loads(line) for line in data.decode().splitlines() if line.strip()]


def wait_lines(path, n, timeout=3.0):
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        lines = read_lines(path)
        if len(lines) >= n:
            return lines
        time.sleep(0.1)
    return lines


def test_access_log_fields(launcher, tmp_path):
    a = launcher.backend("a")
    log = os.path.join(str(tmp_path), "access.log")
    w = launcher.weir(make_config(None, {"be": [a.port]}, [{"path": "/app/", "upstream": "be"}],
                                  access=log))
    with Client(w.port) as c:
        r1 = c.get("/app/one?q=1", headers={"User-Agent": "pytest"})
        r2 = c.request("POST", "/app/sink", body=b"z" * 1000,
                       headers={"X-Request-Id": "client-id-42"})
        r3 = c.get("/missing")
    assert (r1.status, r2.status, r3.status) == (200, 200, 404)

    # flushed within about a second while weir keeps running
    lines = wait_lines(log, 3, timeout=3.0)
    assert len(lines) >= 3, "access log not flushed within 3s: %r" % lines
    assert len(lines) == 3, "%d lines for 3 requests; the first 5: %r" % (len(lines), lines[:5])

    for ln in lines:
        assert KEYS <= set(ln), "missing keys %s in %r" % (KEYS - set(ln), ln)
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)$",
                        ln["ts"]), ln["ts"]
        assert str(ln["client"]).startswith("127.0.0.1")
        assert isinstance(ln["status"], int)
        assert isinstance(ln["bytes_in"], int) and ln["bytes_in"] > 0
        assert isinstance(ln["bytes_out"], int) and ln["bytes_out"] > 0
        assert isinstance(ln["total_ms"], (int, float)) and ln["total_ms"] >= 0

    l1, l2, l3 = lines
    assert (l1["method"], l1["status"]) == ("GET", 200)
    assert l1["path"] in ("/app/one?q=1", "/app/one")
    assert l1["request_id"] == r1.header("x-request-id")
    assert l1["upstream"] not in (None, "-", "")
    assert str(a.port) in str(l1["upstream"]) or l1["upstream"] == "be"
    assert isinstance(l1["upstream_ms"], (int, float)) and l1["upstream_ms"] >= 0
    assert l1["upstream_ms"] <= l1["total_ms"] + 1

    assert (l2["method"], l2["path"], l2["status"]) == ("POST", "/app/sink", 200)
    assert l2["request_id"] == "client-id-42"
    assert l2["bytes_in"] >= 1000, "bytes_in must count the request body"
    assert l2["bytes_out"] >= len(r2.body)

    assert (l3["method"], l3["path"], l3["status"]) == ("GET", "/missing", 404)
    assert l3["upstream"] in (None, "-")
    assert l3["upstream_ms"] in (None, "-", 0, -1)
    assert len(l3["request_id"]) == 32

    assert w.stop() == 0
    assert len(read_lines(log)) == 3


def test_access_log_flushed_at_exit(launcher, tmp_path):
    a = launcher.backend("a")
    log = os.path.join(str(tmp_path), "access.log")
    w = launcher.weir(make_config(None, {"be": [a.port]}, [{"path": "/", "upstream": "be"}],
                                  access=log))
    with Client(w.port) as c:
        for i in range(50):
            assert c.get("/n/%d" % i).status == 200
    assert w.stop() == 0  # immediately: whatever is buffered must be written at exit
    lines = read_lines(log)
    assert [ln["path"] for ln in lines] == ["/n/%d" % i for i in range(50)]


def test_access_log_to_stdout(launcher):
    a = launcher.backend("a")
    w = launcher.weir(make_config(None, {"be": [a.port]}, [{"path": "/", "upstream": "be"}],
                                  access="stdout"))
    with Client(w.port) as c:
        assert c.get("/to-stdout").status == 200
    assert w.stop() == 0
    lines = [json.loads(x) for x in w.stdout_text().splitlines() if x.startswith("{")]
    assert any(ln["path"] == "/to-stdout" for ln in lines), w.stdout_text()


def test_error_log_line_format(launcher):
    a = launcher.backend("a")
    w = launcher.weir(make_config(None, {"be": [a.port]}, [{"path": "/", "upstream": "be"}]))
    w.stop()
    lines = [x for x in w.stderr_text().splitlines() if x.strip()]
    assert lines, "weir logged nothing at info level"
    for x in lines:
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[(debug|info|warn|error)\] ",
                        x), x
