"""The virtual waiting room (issue 10, docs/waiting-room.md) with real weir processes and
backend.py, scaled small: admit_per_minute 120 with a 5 s rate window, second-long refreshes
and sessions.

Visitors are simulated by `Visitor`: a cookie jar of one cookie, requests over a keep-alive
connection. A queue answer is the room's JSON ({"room": ...}); an admitted request reaches the
backend (its JSON echo has "name"). The admission order is read from the session ids in the
cookies (assigned when a slot is granted), which is the order the room granted slots in."""

import hashlib
import hmac
import json
import os
import subprocess
import threading
import time

import pytest

from conftest import Client, make_config
from resilience_util import metric, scrape, with_admin

SECRET = "s3cret-" + "x" * 40


def room(name="concert", **kw):
    r = {"name": name, "max_active": 60, "admit_per_minute": 120, "rate_window": "5s",
         "session": "4s", "refresh": "1s", "abandon_after": "3s", "secret": SECRET}
    r.update(kw)
    if r["admit_per_minute"] != "auto" and r["admit_per_minute"] < 12 and "rate_window" not in kw:
        r["rate_window"] = "60s"  # small rates are counted over the full minute
    return r


def config(backend, rooms, workers=2, extra_routes=()):
    """rooms: [(path, room dict)]"""
    routes = list(extra_routes)
    for path, r in rooms:
        routes.append({"path": path, "upstream": "g", "waiting_room": r})
    return make_config(None, {"g": {"servers": [backend.port],
                                    "health": {"passive": "off"}}}, routes, workers=workers)


class Visitor:
    def __init__(self, port, name="concert", accept="application/json"):
        self.port = port
        self.cookie_name = "weir_wr_" + name
        self.cookie = None
        self.accept = accept
        self.conn = None
        self.last = None

    def get(self, path="/", headers=None):
        h = {"Accept": self.accept} if self.accept else {}
        if self.cookie is not None:
            h["Cookie"] = "%s=%s" % (self.cookie_name, self.cookie)
        h.update(headers or {})
        for attempt in range(2):
            if self.conn is None:
                self.conn = Client(self.port, timeout=10)
            try:
                r = self.conn.get(path, headers=h)
                break
            except Exception:
                self.close()
                if attempt:
                    raise
        for sc in r.header_list("Set-Cookie"):
            k, _, rest = sc.partition("=")
            if k == self.cookie_name:
                v = rest.split(";")[0]
                self.cookie = v if "Max-Age=0" not in sc else None
        if r.header("Connection") == "close":
            self.close()
        self.last = r
        return r

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    @property
    def fields(self):
        return self.cookie.split(".") if self.cookie else None


def admitted(r):
    return r.status == 200 and b'"name"' in r.body and b'"room"' not in r.body


def queue_json(r):
    assert r.header("Cache-Control") == "no-store", r
    assert r.header("Retry-After") is not None, r
    return r.json()


def backend_requests(b):
    return b.stats()["requests"]


def sign(fields, name="concert", secret=SECRET):
    payload = ".".join(str(f) for f in fields) + "."
    mac = hmac.new(secret.encode(), (name + "\n" + payload[:-1]).encode(), hashlib.sha256)
    return payload + mac.hexdigest()[:32]


# --------------------------------------------------------------------------------------------

def test_admission_bounds_fifo_and_refresh_storm(launcher):
    """150 visitors arrive at once; 20 of them poll 10x per refresh. With admit_per_minute 240
    counted over 5 s windows, admissions in any 5 s never exceed 20 (+ 1 allowed) and in any
    60 s never 241; active sessions never exceed max_active; slots are granted in ticket order
    (zero inversions); waiters and their storms never reach the backend."""
    b = launcher.backend("b")
    cfg = config(b, [("/", room(max_active=240, admit_per_minute=240, session="3s"))])
    aport = with_admin(cfg)
    w = launcher.weir(cfg)
    n = 150
    vs = [Visitor(w.port) for _ in range(n)]
    tickets = {}
    admit_t, sid = {}, {}
    t0 = time.monotonic()
    for i, v in enumerate(vs):
        r = v.get("/")
        if admitted(r):
            admit_t[i], sid[i] = time.monotonic() - t0, int(v.fields[1])
        else:
            d = queue_json(r)
            assert d["state"] == "waiting" and d["position"] == d["ahead"] + 1
            tickets[i] = int(v.fields[1])
    assert len(admit_t) == 20  # one 5 s window's worth
    storm = set(list(tickets)[:20])
    positions = {i: None for i in tickets}
    deadline = time.monotonic() + 90
    next_poll = {i: 0.0 for i in tickets}
    lock = threading.Lock()
    active_samples = []

    def worker(ids):
        while time.monotonic() < deadline:
            with lock:
                left = [i for i in ids if i not in admit_t]
            if not left:
                return
            now = time.monotonic()
            for i in left:
                if now < next_poll[i]:
                    continue
                r = vs[i].get("/")
                if admitted(r):
                    with lock:
                        admit_t[i], sid[i] = time.monotonic() - t0, int(vs[i].fields[1])
                    vs[i].close()
                    continue
                d = queue_json(r)
                if positions[i] is not None:
                    assert d["position"] <= positions[i], "a refresh moved a waiter back"
                positions[i] = d["position"]
                next_poll[i] = now + (0.1 if i in storm else 1.0)
            time.sleep(0.05)

    ids = sorted(tickets)
    threads = [threading.Thread(target=worker, args=(ids[k::4],)) for k in range(4)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        time.sleep(0.5)
        s = scrape(aport)
        active_samples.append(metric(s, "weir_waitroom_active", room="concert"))
    for t in threads:
        t.join()
    assert len(admit_t) == n, "not everyone got in within the deadline"
    assert max(active_samples) <= 240
    times = sorted(admit_t.values())
    for i, t in enumerate(times):
        in5 = sum(1 for u in times[i:] if u < t + 5.0 - 0.05)
        in60 = sum(1 for u in times[i:] if u < t + 60.0)
        assert in5 <= 21, "admissions in a 5 s window: %d" % in5
        assert in60 <= 241
    # FIFO: the grant order (session ids) follows the ticket order
    order = sorted(tickets, key=lambda i: sid[i])
    inv = sum(1 for a, c in zip(order, order[1:]) if tickets[a] > tickets[c])
    assert inv == 0, "order inversions: %d" % inv
    # only admissions reached the backend: one request each
    assert backend_requests(b) == n
    s = scrape(aport)
    assert metric(s, "weir_waitroom_admitted_total", room="concert") == n
    assert metric(s, "weir_waitroom_tickets_issued_total", room="concert") == n - 20


def test_cookies_tampered_foreign_expired(launcher):
    b = launcher.backend("b")
    cfg = config(b, [("/a", room("rooma", max_active=1, admit_per_minute=1)),
                     ("/b", room("roomb", max_active=1, admit_per_minute=1))])
    aport = with_admin(cfg)
    w = launcher.weir(cfg)
    holder = Visitor(w.port, "rooma")
    assert admitted(holder.get("/a"))
    v = Visitor(w.port, "rooma")
    d = queue_json(v.get("/a"))
    assert d["position"] == 1
    good = v.cookie
    f = good.split(".")
    # tampered: another ticket number, same MAC
    bad = Visitor(w.port, "rooma")
    bad.cookie = ".".join([f[0], str(int(f[1]) + 7)] + f[2:])
    r = bad.get("/a")
    assert not admitted(r) and bad.cookie != good and bad.fields[1] != str(int(f[1]) + 7)
    # another room's cookie under this room's name, and the reverse
    other = Visitor(w.port, "roomb")
    assert admitted(other.get("/b"))
    foreign = Visitor(w.port, "rooma")
    foreign.cookie = other.cookie
    r = foreign.get("/a")
    assert not admitted(r) and foreign.fields[0] == "w"
    # expired: correctly signed, but last seen an hour ago (an admitted one, too)
    now = int(time.time() * 1000)
    for state in ("w", "a"):
        old = Visitor(w.port, "rooma")
        old.cookie = sign([state, f[1], f[2], f[3], now - 3600000, now - 3600000, 0], "rooma")
        r = old.get("/a")
        assert not admitted(r) and old.fields[0] == "w"
    # a good cookie still works and is not counted
    assert queue_json(v.get("/a"))["state"] == "waiting"
    s = scrape(aport)
    assert metric(s, "weir_waitroom_cookies_rejected_total", room="rooma") == 4
    assert backend_requests(b) == 2


def test_abandonment_rate_recovers(launcher):
    """30 % of the waiters stop polling: after abandon_after they are skipped and the live ones
    are admitted at the full rate (4 per 2 s window)."""
    b = launcher.backend("b")
    cfg = config(b, [("/", room(max_active=200, admit_per_minute=120, rate_window="2s",
                                abandon_after="3s", session="60s"))])
    aport = with_admin(cfg)
    w = launcher.weir(cfg)
    vs = [Visitor(w.port) for _ in range(34)]
    got = [i for i, v in enumerate(vs) if admitted(v.get("/"))]
    assert len(got) == 4
    waiting = [i for i in range(34) if i not in got]
    gone = set(waiting[::3][:9])  # ~30 %, spread through the line
    live = [i for i in waiting if i not in gone]
    t_start = time.monotonic()
    done = {}
    while len(done) < len(live) and time.monotonic() < t_start + 40:
        for i in live:
            if i in done:
                continue
            if admitted(vs[i].get("/")):
                done[i] = time.monotonic() - t_start
        time.sleep(0.5)
    assert len(done) == len(live)
    # 21 live waiters at 2 per second: about 10.5 s once the 3 s abandon window has passed;
    # without the skip, each dead ticket would hold a grant for abandon_after
    assert max(done.values()) < 3 + len(live) / 2.0 + 6
    s = scrape(aport)
    assert metric(s, "weir_waitroom_abandoned_total", room="concert") >= len(gone)
    assert metric(s, "weir_waitroom_waiting", room="concert") == 0


def test_revoke_header_and_session_expiry(launcher):
    b = launcher.backend("b")
    cfg = config(b, [("/", room(max_active=1, admit_per_minute=1, rate_window="1s",
                                session="2s"))])
    w = launcher.weir(cfg)
    a = Visitor(w.port)
    assert admitted(a.get("/"))
    q = Visitor(w.port)
    assert queue_json(q.get("/"))["position"] == 1
    # the origin ends a's session: the header is stripped and a's cookie cleared
    r = a.get("/headers?Weir-Waiting-Room=revoke")
    assert admitted(r) and r.header("Weir-Waiting-Room") is None
    assert a.cookie is None
    time.sleep(1.1)  # the rate window (1 per 1 s) and the waiter's refresh
    assert admitted(q.get("/"))
    # session expiry: q stops; after 2 s its slot goes to the next
    c = Visitor(w.port)
    assert not admitted(c.get("/"))
    t = time.monotonic()
    while not admitted(c.get("/")):
        assert time.monotonic() < t + 8
        time.sleep(0.5)
    assert time.monotonic() - t > 1.0


def test_passthrough_and_reject(launcher):
    b = launcher.backend("b")
    cfg = config(b, [("/p", room("pass", max_active=1, admit_per_minute=1, queueing="passthrough")),
                     ("/r", room("rej", max_active=1, admit_per_minute=1, queueing="reject",
                                 status=429))])
    aport = with_admin(cfg)
    w = launcher.weir(cfg)
    for _ in range(5):
        v = Visitor(w.port, "pass")
        assert admitted(v.get("/p")) and v.cookie is None
    assert admitted(Visitor(w.port, "rej").get("/r"))
    v = Visitor(w.port, "rej")
    r = v.get("/r")
    assert r.status == 429 and v.cookie is None
    d = queue_json(r)
    assert d["state"] == "full" and d["position"] is None
    s = scrape(aport)
    assert metric(s, "weir_waitroom_passed_total", room="pass") == 5
    assert metric(s, "weir_waitroom_rejected_total", room="rej") == 1


def test_json_and_html(launcher, tmp_path):
    b = launcher.backend("b")
    page = tmp_path / "queue.html"
    page.write_text("<p>{{room}} #{{position}} ahead={{ahead}} eta={{eta_seconds}}/"
                    "{{eta_known}} every {{refresh_seconds}}s {{unknown}}</p>")
    cfg = config(b, [("/", room(max_active=1, admit_per_minute=1, status=202)),
                     ("/t", room("tpl", max_active=1, admit_per_minute=1, page=str(page)))])
    w = launcher.weir(cfg)
    assert admitted(Visitor(w.port).get("/"))
    v = Visitor(w.port)
    r = v.get("/")
    assert r.status == 202 and r.header("Content-Type") == "application/json"
    d = queue_json(r)
    assert set(d) == {"room", "state", "position", "ahead", "eta_seconds", "eta_known",
                      "refresh_seconds", "admitted_per_minute", "active", "max_active", "event"}
    assert d["room"] == "concert" and d["active"] == 1 and d["max_active"] == 1
    assert d["eta_known"] is True and d["admitted_per_minute"] == 1
    h = Visitor(w.port, accept="application/json, text/html")
    r = h.get("/")
    assert r.status == 202 and r.header("Content-Type").startswith("text/html")
    assert r.header("Cache-Control") == "no-store" and r.header("Retry-After") == "1"
    assert b'http-equiv="refresh" content="1"' in r.body and b'id="position">2<' in r.body
    assert admitted(Visitor(w.port, "tpl").get("/t"))
    r = Visitor(w.port, "tpl", accept=None).get("/t")
    assert r.text() == "<p>tpl #1 ahead=0 eta=60/true every 1s {{unknown}}</p>"


def test_bypass_rules(launcher, tmp_path):
    b = launcher.backend("b")
    kf = tmp_path / "key"
    kf.write_text("internal-key-123\n")
    bypass = [{"header": "X-Internal-Key", "value_file": str(kf)}, {"path": "/q/assets/"}]
    cfg = config(b, [("/c", room("cidr", max_active=1, admit_per_minute=1,
                                 bypass=[{"cidr": "127.0.0.0/8"}])),
                     ("/", room(max_active=1, admit_per_minute=1, bypass=bypass))])
    aport = with_admin(cfg)
    w = launcher.weir(cfg)
    assert admitted(Visitor(w.port).get("/"))
    assert not admitted(Visitor(w.port).get("/"))
    assert admitted(Visitor(w.port).get("/", headers={"X-Internal-Key": "internal-key-123"}))
    assert not admitted(Visitor(w.port).get("/", headers={"X-Internal-Key": "internal-key-12"}))
    assert admitted(Visitor(w.port).get("/q/assets/app.css"))
    for _ in range(3):
        assert admitted(Visitor(w.port, "cidr").get("/c"))
    s = scrape(aport)
    assert metric(s, "weir_waitroom_bypassed_total", room="concert") == 2
    assert metric(s, "weir_waitroom_bypassed_total", room="cidr") == 3


def test_event_mode_shuffle(launcher):
    """120 visitors pre-queue in order; at start the order is shuffled: of the first 60 grants,
    each arrival quarter should have about 15 (chi-square, 3 degrees of freedom, 16.27 is the
    0.1 % critical value); nobody gets in before start; later arrivals queue behind."""
    b = launcher.backend("b")
    now = time.time()
    iso = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
    start = int(now) + 6
    ev = {"prequeue_start": iso(now - 60), "start": iso(start), "end": iso(start + 3600)}
    cfg = config(b, [("/", room(max_active=200, admit_per_minute=200, rate_window="60s",
                                abandon_after="30s", refresh="1s", session="60s", event=ev))])
    w = launcher.weir(cfg)
    vs = [Visitor(w.port) for _ in range(120)]
    for v in vs:
        d = queue_json(v.get("/"))
        assert d["event"]["start"] == iso(start)
    assert time.time() < start - 0.5, "the pre-queue took too long to fill"
    while time.time() < start - 0.7:
        for v in vs[:5]:
            r = v.get("/")
            assert not admitted(r) or time.time() >= start
        time.sleep(0.3)
    while time.time() < start + 0.1:
        time.sleep(0.05)
    late = [Visitor(w.port) for _ in range(3)]
    sid = {}
    t = time.monotonic()
    while len(sid) < 120 and time.monotonic() < t + 20:
        for i, v in enumerate(vs):
            if i not in sid and admitted(v.get("/")):
                sid[i] = int(v.fields[1])
        time.sleep(0.2)
    assert len(sid) == 120
    for v in late:
        r = v.get("/")
        assert admitted(r) or queue_json(r)["state"] == "waiting"
    # the late ones were granted after every pre-queued one
    late_sids = []
    for v in late:
        while not admitted(v.get("/")):
            time.sleep(0.3)
        late_sids.append(int(v.fields[1]))
    assert min(late_sids) > max(sid.values())
    order = sorted(sid, key=lambda i: sid[i])[:60]
    counts = [sum(1 for i in order if i // 30 == q) for q in range(4)]
    chi2 = sum((c - 15) ** 2 / 15.0 for c in counts)
    assert chi2 < 16.27, counts
    # arrival order gives no advantage: not simply the first 60 arrivals
    assert counts != [30, 30, 0, 0]


def test_admin_pause_resume_and_status(launcher):
    b = launcher.backend("b")
    cfg = config(b, [("/", room(max_active=5, admit_per_minute=5))])
    aport = with_admin(cfg)
    w = launcher.weir(cfg)
    assert admitted(Visitor(w.port).get("/"))
    a = Client(aport)
    r = a.request("POST", "/waitroom/concert/pause")
    assert r.status == 200 and r.json()["state"] == "paused"
    v = Visitor(w.port)
    assert queue_json(v.get("/"))["state"] == "waiting"
    r = a.get("/waitroom")
    rooms = r.json()["rooms"]
    assert rooms[0]["name"] == "concert" and rooms[0]["waiting"] == 1
    assert rooms[0]["state"] == "paused"
    assert a.request("POST", "/waitroom/nope/pause").status == 404
    assert a.get("/waitroom/concert/pause").status == 405
    r = a.request("POST", "/waitroom/concert/resume")
    assert r.json()["state"] == "open"
    time.sleep(0.6)
    assert admitted(v.get("/"))
    st = a.get("/status").json()
    assert st["waiting_rooms"][0]["active"] == 2
    a.close()
    assert "waiting room concert: paused" in w.stderr_text()


@pytest.mark.parametrize("body,line,col,msg", [
    ("max_active: 10\n      admit_per_minute: 20\n", 10, 25, "must not exceed 'max_active'"),
    ("max_active: 10\n", 8, 7, "'secret'"),
    ("max_active: 10\n      secret: short\n", 10, 15, "at least 32 bytes"),
    ("queueing: lifo\n", 9, 17, "fifo, random, passthrough or reject"),
])
def test_config_errors(weir_bin, tmp_path, body, line, col, msg):
    secret = "" if "secret" in body or msg == "'secret'" else "      secret: %s\n" % SECRET
    text = ("listen: [127.0.0.1:8080]\nupstreams:\n  g: {servers: [127.0.0.1:1]}\nroutes:\n"
            "  - path: /\n    upstream: g\n    waiting_room:\n      name: x\n      " + body + secret)
    p = tmp_path / "w.yaml"
    p.write_text(text)
    r = subprocess.run([weir_bin, "-t", "-c", str(p)], capture_output=True, timeout=20)
    err = r.stderr.decode()
    assert r.returncode != 0
    assert "%s:%d:%d:" % (p, line, col) in err, err
    assert msg in err, err


def test_auto_rate_follows_upstream_health(launcher):
    """admit_per_minute: auto rises while the upstream is fast and backs off within seconds
    when its latency climbs (docs/waiting-room.md, the control law)."""
    b = launcher.backend("b")
    cfg = config(b, [("/", room(max_active=6000, admit_per_minute="auto", rate_window="60s",
                                session="60s"))])
    aport = with_admin(cfg)
    w = launcher.weir(cfg)
    v = Visitor(w.port)
    assert admitted(v.get("/"))

    def limit():
        return metric(scrape(aport), "weir_waitroom_admit_limit_per_minute", room="concert")

    start = limit()
    assert start == 600  # max_active / 10
    stop = threading.Event()
    path = ["/"]

    def load():
        while not stop.is_set():
            v.get(path[0])

    t = threading.Thread(target=load, daemon=True)
    t.start()
    try:
        deadline = time.monotonic() + 15
        while limit() <= start * 1.2:
            assert time.monotonic() < deadline, "the auto rate did not rise"
            time.sleep(0.5)
        high = limit()
        path[0] = "/slow?ms=150"
        deadline = time.monotonic() + 10
        while limit() > high * 0.5:
            assert time.monotonic() < deadline, "the auto rate did not back off"
            time.sleep(0.5)
    finally:
        stop.set()
        t.join(10)
    assert "backing off" in w.stderr_text()


def test_reload_keeps_the_line(launcher):
    """A reload keeps the room (its line, sessions and cookies); new limits apply at once."""
    b = launcher.backend("b")
    cfg = config(b, [("/", room(max_active=1, admit_per_minute=1))])
    aport = with_admin(cfg)
    w = launcher.weir(cfg)
    a = Visitor(w.port)
    assert admitted(a.get("/"))
    q = [Visitor(w.port) for _ in range(2)]
    assert [queue_json(v.get("/"))["position"] for v in q] == [1, 2]
    w.reload(dict(cfg, listen=["127.0.0.1:%d" % w.port],
                  routes=[dict(cfg["routes"][0],
                               waiting_room=room(max_active=3, admit_per_minute=3))]))
    deadline = time.monotonic() + 10
    while metric(scrape(aport), "weir_waitroom_max_active", room="concert") != 3:
        assert time.monotonic() < deadline, "the reload did not apply: " + w.stderr_text()[-2000:]
        time.sleep(0.2)
    time.sleep(0.6)  # past refresh / 2: the polls reach the store
    assert all(admitted(v.get("/")) for v in q)
    assert admitted(a.get("/"))  # the first session survived too
    s = scrape(aport)
    assert metric(s, "weir_waitroom_cookies_rejected_total", room="concert") == 0
    assert w.stderr_text().count("waiting room concert: open") == 1


def test_random_mode(launcher):
    """queueing: random: every waiter gets in, and the grant order is not the arrival order."""
    b = launcher.backend("b")
    cfg = config(b, [("/", room(max_active=200, admit_per_minute=120, queueing="random"))])
    w = launcher.weir(cfg)
    vs = [Visitor(w.port) for _ in range(30)]
    first = [i for i, v in enumerate(vs) if admitted(v.get("/"))]
    assert first == list(range(10))
    tickets = {i: int(vs[i].fields[1]) for i in range(10, 30)}
    sid = {}
    deadline = time.monotonic() + 30
    while len(sid) < 20:
        assert time.monotonic() < deadline
        time.sleep(0.6)
        for i in tickets:
            if i not in sid and admitted(vs[i].get("/")):
                sid[i] = int(vs[i].fields[1])
    order = sorted(sid, key=lambda i: sid[i])
    inv = sum(1 for x in range(20) for y in range(x + 1, 20) if tickets[order[x]] > tickets[order[y]])
    assert inv > 0, "random mode admitted in arrival order"
