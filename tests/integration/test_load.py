"""`weir load` (issue 14) against real backends.

Scenarios: the closed model (like wrk) and the open model (exact offered count, corrected and
uncorrected latency); a ramp and steps with warm-up (CSV schema); thresholds and exit codes; a
weighted request list with a body file and headers; coordinated omission (the backend is
SIGSTOPped during an open-model run: the corrected histogram shows the stall, the uncorrected
one does not); the saturation search on a capacity-limited backend (tests/fault_backend.py
--capacity C --service-ms M serves at most C*1000/M requests/s) found within 10 %; its HTML
report opened in Debian's Chromium (no console error, every plot drawn).

The numbers are small (the CI machine has 2 shared cores); the full-size runs are in
bench/load_bench.sh and bench/RESULTS.md. Every process is started here and stopped by PID.
"""

import csv
import importlib.util
import io
import json
import os
import signal
import subprocess
import time

import pytest

from resilience_util import FaultBackend

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))


def load(weir_bin, *args, timeout=120):
    """Runs `weir load ARGS`; returns (exit code, stdout, stderr)."""
    p = subprocess.run([weir_bin, "load"] + [str(a) for a in args], capture_output=True,
                       timeout=timeout, text=True)
    return p.returncode, p.stdout, p.stderr


def run_json(weir_bin, tmp_path, *args, want_rc=0):
    out = tmp_path / ("r%d.json" % time.monotonic_ns())
    rc, so, se = load(weir_bin, *args, "--json", out, "-q")
    # a busy machine (2 shared cores) may delay the generator's wake-ups: the run then says it
    # is invalid because of its send lag, which is the self-check working, not a failure here
    assert rc == want_rc or (want_rc == 0 and rc == 3 and "send lag p99" in so
                             and "connections exhausted" not in so), (rc, so, se)
    assert "runtime error" not in se and "AddressSanitizer" not in se, se
    doc = json.loads(out.read_text())
    assert doc["schema"] == "weir-load/1"
    return doc, so


@pytest.fixture
def backend(launcher):
    return launcher.backend("b")


def test_closed_model(weir_bin, tmp_path, backend):
    doc, text = run_json(weir_bin, tmp_path, "http://%s/" % backend.addr, "-c", 4, "-t", 2,
                         "-d", "2s")
    t = doc["totals"]
    assert doc["mode"] == "closed" and doc["threads"] == 2 and doc["connections"] == 4
    assert t["done"] > 50 and t["ok"] == t["done"] and t["errors"] == 0
    assert t["sent"] >= t["done"]
    assert len(doc["intervals"]) == 2
    lat = doc["latency_us"]["corrected"]
    assert lat["count"] == t["done"]
    assert 0 < lat["p50"] <= lat["p99"] <= lat["p100"] == lat["max"]
    assert sum(c for _, c in lat["buckets"]) == lat["count"]
    assert "closed model" in text and "p99.9" in text
    # keep-alive: a handful of connections carried every request
    assert backend.stats()["connections"] <= 4 + 2  # + wait_port and this stats request


def test_pipelining(weir_bin, tmp_path, backend):
    doc, _ = run_json(weir_bin, tmp_path, "http://%s/" % backend.addr, "--pipeline", 4, "-c", 2,
                      "-t", 1, "-d", "1s", "-H", "X-Load: yes", "-m", "GET")
    t = doc["totals"]
    assert doc["pipeline"] == 4 and t["done"] > 20 and t["ok"] == t["done"]
    assert t["errors"] == 0 and t["timeouts"] == 0


def test_open_model_exact_count(weir_bin, tmp_path, backend):
    doc, text = run_json(weir_bin, tmp_path, "http://%s/" % backend.addr, "--rate", 200,
                         "-d", "3s", "-c", 20, "-t", 2)
    t = doc["totals"]
    assert doc["mode"] == "open"
    assert t["sent"] == 600 and t["done"] == 600 and t["ok"] == 600
    assert [round(i["offered"]) for i in doc["intervals"]] == [200, 200, 200]
    c, u = doc["latency_us"]["corrected"], doc["latency_us"]["uncorrected"]
    assert c["count"] == u["count"] == 600
    assert c["p50"] >= u["p50"]  # from the intended time: never shorter
    assert doc["latency_us"]["send_lag"]["count"] == 600
    assert "corrected (from the intended send time)" in text and "uncorrected" in text


def test_ramp_and_steps_csv(weir_bin, tmp_path, backend):
    doc, _ = run_json(weir_bin, tmp_path, "http://%s/" % backend.addr, "--rate", "50:250",
                      "-d", "4s", "-c", 20, "-t", 1)
    assert doc["mode"] == "ramp"
    assert doc["totals"]["sent"] == 600  # (50 + 250) / 2 * 4
    offered = [i["offered"] for i in doc["intervals"]]
    assert offered == sorted(offered) and offered[0] < 100 < 200 < offered[-1]

    out = tmp_path / "steps.csv"
    rc, so, se = load(weir_bin, "http://%s/" % backend.addr, "--steps", "100,200",
                      "--step-duration", "2s", "--warmup", "1s", "-c", 20, "-t", 1,
                      "--csv", out, "-q")
    assert rc == 0 or (rc == 3 and "send lag p99" in so), (so, se)
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert list(rows[0].keys()) == [
        "t_s", "offered_rps", "sent", "done", "ok", "status_4xx", "status_5xx", "errors",
        "timeouts", "late_sends", "conn_waits", "p50_us", "p90_us", "p99_us", "p99_9_us",
        "max_us", "uncorrected_p50_us", "uncorrected_p99_us", "send_lag_p99_us", "warmup"]
    assert [r["warmup"] for r in rows] == ["1", "0", "1", "0"]
    assert [round(float(r["offered_rps"])) for r in rows] == [100, 100, 200, 200]
    assert sum(int(r["sent"]) for r in rows) == 600
    # the measured totals leave the warm-up seconds out (seconds are cut by the clock: a
    # request sent at a boundary may land in the next one)
    sent = int(so.split("requests")[1].split("sent")[0])
    assert 295 <= sent <= 305, so


def test_thresholds_and_exit_codes(weir_bin, tmp_path, backend):
    url = "http://%s/" % backend.addr
    rc, so, se = load(weir_bin, url, "-c", 2, "-t", 1, "-d", "1s", "-q",
                      "--threshold", "p99<5s", "--threshold", "errors<1%")
    assert rc == 0, (so, se)
    assert "PASS threshold p99<5s" in so and "PASS threshold errors<1%" in so
    rc, so, _ = load(weir_bin, url, "-c", 2, "-t", 1, "-d", "1s", "-q", "--threshold", "p50<1us")
    assert rc == 2 and "FAIL threshold p50<1us" in so
    doc, _ = run_json(weir_bin, tmp_path, "http://%s/status/500" % backend.addr, "-c", 2,
                      "-t", 1, "-d", "1s", "--threshold", "errors<1%", want_rc=2)
    assert doc["totals"]["status_5xx"] == doc["totals"]["done"] > 0
    assert doc["thresholds"] == [{"expr": "errors<1%", "value": 100.0, "pass": False}]
    # usage errors
    assert load(weir_bin, url, "--threshold", "p99<50")[0] == 1
    assert load(weir_bin, url, "--rate", "10", "--steps", "1,2")[0] == 1
    rc, _, se = load(weir_bin, "https://127.0.0.1:1/", "--ca", "/nonexistent.pem")
    assert rc == 1 and "--ca /nonexistent.pem" in se
    rc, so, _ = load(weir_bin, "--help")
    assert rc == 0 and "--find-saturation" in so


def test_request_list_body_and_headers(weir_bin, tmp_path, backend):
    body = tmp_path / "body.json"
    body.write_text('{"hello": "world"}')
    lst = tmp_path / "requests.txt"
    lst.write_text("# weight method url [body]\n"
                   "3 GET http://%s/a\n\n1 POST http://%s/echo %s\n" % (backend.addr,
                                                                        backend.addr, body))
    doc, _ = run_json(weir_bin, tmp_path, "--requests", lst, "-H", "X-Test: 1", "--rate", 200,
                      "-d", "2s", "-c", 10, "-t", 1)
    assert doc["totals"]["ok"] == 400
    paths = backend.stats()["paths"]
    assert paths.get("/a", 0) + paths.get("/echo", 0) == 400
    assert 240 <= paths["/a"] <= 360  # 3:1 by weight
    bad = tmp_path / "bad.txt"
    bad.write_text("1 GET http://%s/\nx GET http://%s/\n" % (backend.addr, backend.addr))
    rc, _, se = load(weir_bin, "--requests", bad)
    assert rc == 1 and "bad.txt:2:" in se


def test_coordinated_omission(weir_bin, tmp_path, backend):
    """200 req/s for 6 s over 4 connections (--max-connections 4: wrk2's fixed shape, no
    connections added); the backend stops for 0.7 s after 2.5 s. ~140 requests were due during
    the stall: the corrected histogram holds them, spread over 0..0.7 s; the uncorrected one
    only has the 4 requests that were on the wire."""
    out = tmp_path / "co.json"
    p = subprocess.Popen([weir_bin, "load", "http://%s/" % backend.addr, "--rate", "200",
                          "-d", "6s", "-c", "4", "--max-connections", "4", "-t", "1", "-q",
                          "--json", str(out)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(2.7)  # 0.2 s of connecting, then 2.5 s of load
        os.kill(backend.pid, signal.SIGSTOP)
        time.sleep(0.7)
    finally:
        os.kill(backend.pid, signal.SIGCONT)
    so, se = p.communicate(timeout=60)
    assert p.returncode == 3, (so, se)  # connections ran out: the report says so
    assert "connections exhausted" in so
    doc = json.loads(out.read_text())
    c, u = doc["latency_us"]["corrected"], doc["latency_us"]["uncorrected"]
    assert c["count"] == u["count"] == doc["totals"]["done"] == 1200

    def count_over(h, us):
        return sum(n for upper, n in h["buckets"] if upper > us)

    slow_c, slow_u = count_over(c, 100000), count_over(u, 100000)
    assert 90 <= slow_c <= 160, slow_c  # ~ 200/s x (0.7 - 0.1) s
    assert slow_u <= 8, slow_u
    # spread over the stall, not piled at its end
    assert count_over(c, 400000) >= 30 and count_over(c, 900000) == 0
    assert 450000 <= c["p99"] <= 800000
    assert u["p99"] < 100000


def test_open_model_adds_connections(weir_bin, tmp_path):
    """A backend answering in 50 ms at 400 req/s needs ~20 requests in flight (Little's law):
    from -c 2 the tester adds connections as sends wait, goodput = offered, and the waits are
    counted; with --max-connections 5 it cannot keep up and says the run is invalid."""
    fb = FaultBackend(str(tmp_path), "slow", capacity=1000, service_ms=50)
    try:
        doc, text = run_json(weir_bin, tmp_path, "http://%s/" % fb.addr, "--rate", 400,
                             "-d", "3s", "-c", 2, "-t", 1)
        t = doc["totals"]
        assert t["sent"] == t["ok"] == 1200 and t["errors"] == t["timeouts"] == 0, t
        assert t["goodput"] >= 0.97 * 400, t
        # ~20 needed at 50 ms; a loaded CI machine stretches the backend's answers, so the upper
        # bound only says the tester did not open one connection per send (1,200)
        assert 20 <= t["connections_end"] <= 150 and t["conns_added"] == t["connections_end"] - 2
        assert t["conn_waits"] >= t["conns_added"] and t["conn_full"] == 0
        assert "added for waiting sends" in text
        doc, text = run_json(weir_bin, tmp_path, "http://%s/" % fb.addr, "--rate", 400,
                             "-d", "2s", "-c", 2, "--max-connections", 5, "-t", 1, want_rc=3)
        t = doc["totals"]
        assert t["connections_end"] == 5 and t["conn_full"] > 0
        assert "connections exhausted" in text and t["goodput"] < 0.97 * 400
    finally:
        fb.stop()


@pytest.fixture(scope="module")
def search_run(weir_bin, tmp_path_factory):
    """One saturation search on a backend with capacity 4 x 1000/20 ms = 200 requests/s."""
    tmp = tmp_path_factory.mktemp("search")
    fb = FaultBackend(str(tmp), "cap", capacity=4, service_ms=20)
    try:
        t0 = time.monotonic()
        rc, so, se = load(weir_bin, "http://127.0.0.1:%d/" % fb.port, "--find-saturation",
                          "--start-rate", "60", "--step-duration", "3s", "--warmup", "1s",
                          "-c", "50", "-t", "1", "-q", "--json", tmp / "s.json",
                          "--html", tmp / "s.html", timeout=170)
        elapsed = time.monotonic() - t0
    finally:
        fb.stop()
    return dict(rc=rc, out=so, err=se, elapsed=elapsed,
                doc=json.loads((tmp / "s.json").read_text()), html=tmp / "s.html")


def test_saturation_search(search_run):
    r = search_run
    assert r["rc"] in (0, 3), (r["out"], r["err"])
    s = r["doc"]["search"]
    assert 180 <= s["saturation_rps"] <= 220, r["out"]
    assert s["stopped_by"]
    assert r["elapsed"] < 150
    rates = [st["rate"] for st in s["steps"]]
    assert rates[:3] == [60, 75, 93.75]
    assert any(not st["pass"] for st in s["steps"])
    # ~ 200/s x 20 ms = 4 in service; at the knee requests also queue in the backend, more so
    # when the machine is busy (8.02 seen with other jobs running), so the bound is 3x, not 2x
    assert 2 <= s["littles_concurrency"] <= 12
    assert "saturation:" in r["out"] and "concurrency: {max:" in r["out"]
    assert "waiting_room:" in r["out"]


def _browser_class():
    path = os.path.join(ROOT, "tests", "dashboard", "test_dashboard.py")
    spec = importlib.util.spec_from_file_location("weir_dashboard_browser", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_html_report_in_chromium(search_run, tmp_path):
    dash = _browser_class()
    if dash._missing:
        pytest.skip("no %s (make browser-deps)" % ", ".join(dash._missing))
    html = search_run["html"].read_text()
    assert "<script" not in html and "http://www.w3.org/2000/svg" in html
    assert "src=" not in html and "href=" not in html  # nothing external
    b = dash.Browser(str(tmp_path))
    try:
        b.call("goto", url="file://%s" % search_run["html"], width=1200, height=900)
        ids = b.eval("[...document.querySelectorAll('svg.plot')].map(s => s.id)")
        assert ids == ["throughput", "latency", "distribution", "search"]
        drawn = b.eval("""[...document.querySelectorAll('svg.plot')].map(s => {
            const lines = [...s.querySelectorAll('polyline.series')];
            const pts = lines.reduce((n, l) => n + l.points.numberOfItems, 0);
            const box = s.getBoundingClientRect();
            return [s.id, pts, box.width > 100 && box.height > 100]; })""")
        for sid, pts, visible in drawn:
            assert pts >= 3 and visible, (sid, pts, visible)
        assert b.eval("document.querySelectorAll('#search line.knee').length") == 1
        assert "saturation:" in b.eval("document.getElementById('report').textContent")
        logs = b.call("console")
        bad = [m for m in logs if m["type"] in ("error", "pageerror", "requestfailed",
                                                   "httperror")]
        assert not bad, bad
        b.call("screenshot", path=str(tmp_path / "load-report.png"), fullPage=True)
    finally:
        b.close()


# --------------------------------------------------------------------------------------------
# https (the TLS transport)

@pytest.fixture(scope="module")
def tls_certs(tmp_path_factory):
    from test_tls import make_ca, make_leaf
    d = str(tmp_path_factory.mktemp("certs"))
    c = {"ca": make_ca(d, "ca"), "other_ca": make_ca(d, "other")}
    c["a"] = make_leaf(d, "a", "a.test", "DNS:a.test")
    c["lh"] = make_leaf(d, "lh", "localhost", "DNS:localhost")
    return c


def test_https_verify_sni_and_resumption(weir_bin, tmp_path, launcher, tls_certs):
    """https://localhost: SNI picks the listener's second certificate (the default one is for
    a.test and would fail verification), the name is verified against --ca; a wrong CA or no
    CA fails every request and --insecure does not care; answers with Connection: close make
    the tester reconnect, and the reconnects resume the session (counted by weir)."""
    from test_tls import base_config, tls_listener, wait_metric, metrics, metric
    from conftest import free_port
    be = launcher.backend("app")
    port, admin = free_port(), free_port()
    launcher.weir(base_config(be, [tls_listener(port, tls_certs, names=("a", "lh"))],
                              admin_port=admin), port=port)
    url = "https://localhost:%d/" % port
    doc, _ = run_json(weir_bin, tmp_path, url, "--ca", tls_certs["ca"], "-c", 2, "-t", 1,
                      "-d", "1s")
    t = doc["totals"]
    assert t["done"] > 20 and t["ok"] == t["done"] and t["errors"] == 0, t
    for bad in (("--ca", tls_certs["other_ca"]), ()):
        doc, _ = run_json(weir_bin, tmp_path, url, *bad, "-c", 1, "-t", 1, "-d", "1s")
        assert doc["totals"]["ok"] == 0 and doc["totals"]["errors"] > 0, (bad, doc["totals"])
    doc, _ = run_json(weir_bin, tmp_path, "https://127.0.0.1:%d/" % port, "--insecure",
                      "-c", 1, "-t", 1, "-d", "1s")
    assert doc["totals"]["ok"] > 10 and doc["totals"]["errors"] == 0
    full0 = metric(metrics(admin), "weir_tls_handshakes_total", kind="full")
    res0 = metric(metrics(admin), "weir_tls_handshakes_total", kind="resumed")
    doc, _ = run_json(weir_bin, tmp_path, url, "--ca", tls_certs["ca"], "-c", 2, "-t", 1,
                      "-d", "2s", "-H", "Connection: close")
    t = doc["totals"]
    assert t["ok"] >= 6 and t["errors"] == 0, t
    resumed = wait_metric(admin, "weir_tls_handshakes_total", res0 + t["ok"] - 2,
                          kind="resumed") - res0
    full = metric(metrics(admin), "weir_tls_handshakes_total", kind="full") - full0
    assert full <= 2 and resumed >= t["ok"] - 2, (full, resumed, t)


def test_https_offers_alpn_and_sni(weir_bin, tmp_path, tls_certs):
    """A Python TLS server records what the tester's ClientHello offered: ALPN http/1.1 chosen,
    SNI = the URL's host; with an IP in the URL no SNI is sent."""
    import socket
    import ssl
    import threading
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*tls_certs["lh"])
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    seen = []
    ctx.sni_callback = lambda sock, name, _ctx: seen.append(("sni", name)) and None
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    lsock.settimeout(0.2)
    port = lsock.getsockname()[1]
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                raw, _ = lsock.accept()
            except socket.timeout:
                continue
            try:
                raw.settimeout(2)
                s = ctx.wrap_socket(raw, server_side=True)
                seen.append(("alpn", s.selected_alpn_protocol()))
                buf = b""
                while b"\r\n\r\n" not in buf:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    buf += chunk
                s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                s.close()
            except (OSError, ssl.SSLError):
                raw.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        doc, _ = run_json(weir_bin, tmp_path, "https://localhost:%d/" % port, "--ca",
                          tls_certs["ca"], "-c", 1, "-t", 1, "-d", "1s")
        assert doc["totals"]["ok"] >= 1 and doc["totals"]["errors"] == 0, doc["totals"]
        assert ("alpn", "http/1.1") in seen and ("sni", "localhost") in seen, seen
        assert all(v == "http/1.1" for k, v in seen if k == "alpn"), seen
        seen.clear()
        doc, _ = run_json(weir_bin, tmp_path, "https://127.0.0.1:%d/" % port, "--insecure",
                          "-c", 1, "-t", 1, "-d", "1s")
        assert doc["totals"]["ok"] >= 1
        assert ("sni", None) in seen and not any(k == "sni" and v for k, v in seen), seen
    finally:
        stop.set()
        t.join(timeout=5)
        lsock.close()
