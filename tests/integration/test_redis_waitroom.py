"""The waiting room in Redis (issue 15): three weir instances, one Redis, one room — one global
line. test_issue_rate_120_per_minute_across_three_instances is the issue's case as stated:
admit_per_minute 120, 3,000 visitors spread over the instances, 30 s of admissions measured
(the rate bound, zero FIFO inversions, the cookie on every instance).
test_one_line_across_three_instances scales time down to see all 3,000 through: 3,000
visitors arrive spread over the instances; the test then polls the head of the line
the way browsers would (each poll on a random instance) until everyone is in, and checks:
- the admission rate bound holds globally: claims in any rate window never exceed the window's
  quota by more than 2 % (the test runs admit_per_minute 12000 counted over 1 s windows, i.e.
  200 per second, instead of 120 per minute over 60 s, so that 3,000 visitors pass in ~15 s;
  the bound is checked the same way: every window-long span of admission times);
- zero FIFO inversions: sessions are granted (session ids from Redis' sequence) in ticket order;
- a visitor's cookie works on every instance (tickets and sessions are Redis', the cookie's
  nonce is derived from the room's name, the secret is the configuration's).
Visitors are cookie jars; requests share a few keep-alive connections per thread."""

import random
import threading
import time

import pytest

from test_redis_state import REDIS, instances, redis  # noqa: F401
from resilience_util import metric, scrape
from test_waitroom import room

pytestmark = pytest.mark.skipif(REDIS is None, reason="redis-server is not installed")

NAME = "weir_wr_concert"
ADMITTED, ADMITTED_LOCK = [0], threading.Lock()  # answers that came from the backend


class Pool:
    """One keep-alive connection per instance, for one thread."""

    def __init__(self, ports):
        self.ports = ports
        self.conns = {}

    def get(self, port, cookie):
        from conftest import Client
        h = {"Accept": "application/json"}
        if cookie:
            h["Cookie"] = "%s=%s" % (NAME, cookie)
        for attempt in range(2):
            c = self.conns.get(port)
            if c is None:
                c = self.conns[port] = Client(port, timeout=10)
            try:
                r = c.get("/", headers=h)
                break
            except Exception:
                c.close()
                del self.conns[port]
                if attempt:
                    raise
        if r.header("Connection") == "close":
            self.conns.pop(port).close()
        if admitted(r):
            with ADMITTED_LOCK:
                ADMITTED[0] += 1
        for sc in r.header_list("Set-Cookie"):
            k, _, rest = sc.partition("=")
            if k == NAME:
                cookie = rest.split(";")[0]
        return r, cookie

    def close(self):
        for c in self.conns.values():
            c.close()


def admitted(r):
    return r.status == 200 and b'"room"' not in r.body


def run_threads(fn, parts):
    ts = [threading.Thread(target=fn, args=(p,)) for p in parts]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


class Crowd:
    """n visitors: their cookies, tickets, sessions and admission times (s since t0), noted
    from any thread. arrive_all: each arrives once, spread over the ports, by nthreads
    threads."""

    def __init__(self, ports, n, nthreads):
        self.ports, self.n, self.nthreads = ports, n, nthreads
        self.cookie, self.ticket, self.sid, self.at = [None] * n, {}, {}, {}
        self.lock = threading.Lock()
        self.t0 = time.monotonic()

    def note(self, i, res, ck):
        f = ck.split(".")
        with self.lock:
            self.cookie[i] = ck
            if not admitted(res):
                assert res.status == 200 and f[0] == "w", (res, ck)
                self.ticket.setdefault(i, int(f[1]))
            elif i not in self.sid:
                assert f[0] == "a", ck
                self.sid[i], self.at[i] = int(f[1]), time.monotonic() - self.t0

    def arrive_all(self):
        def arrive(ids):
            p = Pool(self.ports)
            for i in ids:
                res, ck = p.get(self.ports[i % len(self.ports)], None)
                self.note(i, res, ck)
            p.close()
        run_threads(arrive, [range(k, self.n, self.nthreads) for k in range(self.nthreads)])

    def inversions(self, ids):
        """Grants (session ids) out of ticket order among ids, and ids in grant order."""
        order = sorted(ids, key=lambda i: self.sid[i])
        return sum(1 for a, c in zip(order, order[1:]) if self.ticket[a] > self.ticket[c]), order

    def admitted_everywhere(self, ids):
        """Each of ids' cookies is admitted by every instance, as its own session."""
        p = Pool(self.ports)
        for i in ids:
            for port in self.ports:
                res, ck = p.get(port, self.cookie[i])
                assert admitted(res), res
                assert int(ck.split(".")[1]) == self.sid[i]
        p.close()


def three_instances(launcher, redis, backend, r):  # noqa: F811
    ws = instances(launcher, redis,
                   {"g": {"servers": [backend.port], "health": {"passive": "off"}}},
                   [{"path": "/", "upstream": "g", "waiting_room": r}], n=3, workers=1,
                   state_extra={"command_timeout": "500ms"})  # ASan on a busy machine
    return ws, [w.port for w in ws]


def test_one_line_across_three_instances(launcher, redis):  # noqa: F811
    b = launcher.backend("b")
    r = room(max_active=12000, admit_per_minute=12000, rate_window="1s", session="60s",
             refresh="1s", abandon_after="60s")
    ws, ports = three_instances(launcher, redis, b, r)
    n, quota, nthreads = 3000, 200, 6
    ADMITTED[0] = 0
    crowd = Crowd(ports, n, nthreads)
    crowd.arrive_all()
    cookie, ticket, sid, at, lock, t0, note = (crowd.cookie, crowd.ticket, crowd.sid, crowd.at,
                                               crowd.lock, crowd.t0, crowd.note)
    first = len(sid)
    assert 1 <= first <= quota * 1.02, first
    assert len(ticket) == n - first
    # tickets: one sequence across the instances (no two visitors share one)
    assert len(set(ticket.values())) == len(ticket)

    # the head of the line polls (on a random instance each time) until everyone is in
    deadline = time.monotonic() + 45
    line = sorted(ticket, key=ticket.get)

    def poll(k):
        p = Pool(ports)
        rnd = random.Random(k)
        while time.monotonic() < deadline:
            with lock:
                head = [i for i in line if i not in sid][:quota]
            mine = [i for i in head if i % nthreads == k]  # each visitor: one thread
            if not mine:
                break
            for i in mine:
                res, ck = p.get(rnd.choice(ports), cookie[i])
                note(i, res, ck)
            time.sleep(0.1)
        p.close()

    run_threads(poll, range(nthreads))
    assert len(sid) == n, "%d of %d admitted before the deadline" % (len(sid), n)

    # the rate bound, globally: admissions in any 1 s span (less 50 ms of client-side jitter)
    times = sorted(at.values())
    worst = max(sum(1 for u in times[j:j + 2 * quota] if u < t + 0.95)
                for j, t in enumerate(times))
    assert worst <= quota * 1.02, "admissions in one window: %d (quota %d)" % (worst, quota)
    # FIFO across instances: the grant order (session ids) follows the ticket order
    inv, _ = crowd.inversions(ticket)
    assert inv == 0, "order inversions: %d" % inv

    # a session works on every instance, also past the touch interval (a Redis touch)
    time.sleep(1.1)
    crowd.admitted_everywhere(random.Random(1).sample(range(n), 30))
    # every decision was Redis' (a fallback would decide locally)
    for w in ws:
        assert metric(scrape(w.aport), "weir_store_fallbacks_total", feature="waiting_room") == 0
    print("redis slowlog:", redis.cmd("SLOWLOG", "GET", "3"))
    # waiters never reach the backend
    assert b.stats()["requests"] == ADMITTED[0]
    # every instance's metrics show the one room's figures (worker 0 reads them every 2 s)
    deadline = time.monotonic() + 5
    for w in ws:
        while metric(scrape(w.aport), "weir_waitroom_admitted_total", room="concert") != n:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        s = scrape(w.aport)
        assert metric(s, "weir_waitroom_tickets_issued_total", room="concert") == len(ticket)
        assert metric(s, "weir_waitroom_waiting", room="concert") == 0


def test_issue_rate_120_per_minute_across_three_instances(launcher, redis):  # noqa: F811
    """admit_per_minute: 120 as the issue states it, counted over a 5 s rolling window (10 a
    window, the room's documented burst); 3,000 visitors arrive spread over 3 instances, the
    head of the line polls (each poll on a random instance) for 30 s after the first
    admission. Then: at most 60 admissions in those 30 s and at most 10 in any 5 s (+ 2 %,
    with 50 ms of client-side jitter), zero FIFO inversions, each admitted cookie admitted on
    every instance."""
    b = launcher.backend("b")
    r = room(max_active=3000, admit_per_minute=120, rate_window="5s", session="60s",
             refresh="1s", abandon_after="60s")
    ws, ports = three_instances(launcher, redis, b, r)
    n, quota, span, measure, nthreads = 3000, 10, 5.0, 30.0, 6
    crowd = Crowd(ports, n, nthreads)
    crowd.arrive_all()
    cookie, ticket, sid, at, lock, t0, note = (crowd.cookie, crowd.ticket, crowd.sid, crowd.at,
                                               crowd.lock, crowd.t0, crowd.note)
    arrived = time.monotonic()
    assert 1 <= len(sid) <= quota and len(ticket) == n - len(sid)
    assert len(set(ticket.values())) == len(ticket)  # one ticket sequence across instances
    end = t0 + min(at.values()) + measure + 0.5
    line = sorted(ticket, key=ticket.get)

    def poll(k):  # the next 30 in line poll every 0.2 s (each on one thread)
        p = Pool(ports)
        rnd = random.Random(k)
        while time.monotonic() < end:
            with lock:
                head = [i for i in line if i not in sid][:30]
            for i in (i for i in head if i % nthreads == k):
                res, ck = p.get(rnd.choice(ports), cookie[i])
                note(i, res, ck)
            time.sleep(0.2)
        p.close()

    run_threads(poll, range(nthreads))
    times = sorted(at.values())
    first = times[0]
    within = [u for u in times if u < first + measure - 0.05]
    assert len(within) <= 60 * 1.02, "admitted in %.0f s: %d (bound 60)" % (measure, len(within))
    assert len(within) >= 30, "the room hardly admitted: %d" % len(within)  # it did run
    worst = max(sum(1 for u in times[j:j + 2 * quota] if u < t + span - 0.05)
                for j, t in enumerate(times))
    assert worst <= quota * 1.02, "admissions in one window: %d (quota %d)" % (worst, quota)
    print("admitted in %.0f s: %d, most in one %.0f s span: %d, arrivals took %.1f s"
          % (measure, len(within), span, worst, arrived - t0))
    inv, order = crowd.inversions([i for i in sid if i in ticket])
    assert inv == 0, "order inversions: %d" % inv
    assert order == line[:len(order)]  # the head of the line, nobody skipped
    crowd.admitted_everywhere(random.Random(2).sample(sorted(sid), 20))
    for w in ws:
        assert metric(scrape(w.aport), "weir_store_fallbacks_total", feature="waiting_room") == 0


def test_event_prequeue_shuffled_once_across_instances(launcher, redis):  # noqa: F811
    """80 visitors pre-queue through two instances; at start the line is shuffled once, in
    Redis: nobody is in before start, everyone afterwards, and the grant order is not the
    arrival order (the first 40 grants are not the first 40 arrivals)."""
    b = launcher.backend("b")
    now = time.time()
    iso = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))  # noqa: E731
    start = int(now) + 5
    ev = {"prequeue_start": iso(now - 60), "start": iso(start), "end": iso(start + 3600)}
    r = room(max_active=200, admit_per_minute=200, rate_window="60s", abandon_after="30s",
             session="60s", event=ev)
    ws = instances(launcher, redis, {"g": {"servers": [b.port], "health": {"passive": "off"}}},
                   [{"path": "/", "upstream": "g", "waiting_room": r}], n=2, workers=1,
                   state_extra={"command_timeout": "500ms"})
    ports = [w.port for w in ws]
    p = Pool(ports)
    cookie, sid = [None] * 80, {}
    for i in range(80):
        res, cookie[i] = p.get(ports[i % 2], None)
        assert not admitted(res)
    assert time.time() < start - 0.3, "the pre-queue took too long to fill"
    while time.time() < start + 0.1:
        time.sleep(0.05)
    deadline = time.monotonic() + 20
    while len(sid) < 80 and time.monotonic() < deadline:
        for i in range(80):
            if i not in sid:
                res, cookie[i] = p.get(ports[(i + 1) % 2], cookie[i])
                if admitted(res):
                    sid[i] = int(cookie[i].split(".")[1])
        time.sleep(0.2)
    p.close()
    assert len(sid) == 80
    first = sorted(sid, key=sid.get)[:40]
    assert sorted(first) != list(range(40)), "granted in arrival order: no shuffle"


def test_waiting_room_falls_back_when_redis_stops(launcher, redis):  # noqa: F811
    """Redis stopped: a visitor is answered within the command timeout by this instance's own
    room (on_store_error local), the fallback is counted; Redis back: decisions are Redis'."""
    import os
    import signal
    b = launcher.backend("b")
    r = room(max_active=1000, admit_per_minute=600, rate_window="1s")
    ws = instances(launcher, redis, {"g": {"servers": [b.port], "health": {"passive": "off"}}},
                   [{"path": "/", "upstream": "g", "waiting_room": r}], n=2, workers=1,
                   state_extra={"command_timeout": "100ms"})
    p = Pool([w.port for w in ws])
    res, ck = p.get(ws[0].port, None)
    assert admitted(res)
    os.kill(redis.proc.pid, signal.SIGSTOP)
    try:
        t = time.monotonic()
        res, ck2 = p.get(ws[1].port, None)
        assert time.monotonic() - t < 2.0
        assert admitted(res)
    finally:
        os.kill(redis.proc.pid, signal.SIGCONT)
    assert metric(scrape(ws[1].aport), "weir_store_fallbacks_total", feature="waiting_room") >= 1
    assert "no answer for waiting_room, deciding 'local'" in ws[1].stderr_text()
    from test_redis_state import wait_store_ready
    wait_store_ready(ws)
    before = metric(scrape(ws[0].aport), "weir_store_fallbacks_total", feature="waiting_room")
    res, ck3 = p.get(ws[0].port, None)
    assert admitted(res)
    assert ck3.split(".")[2] == str(2 ** 32 - 1)  # a Redis session's slot
    assert ck2.split(".")[2] != str(2 ** 32 - 1)  # the fallback's: a local one
    assert metric(scrape(ws[0].aport), "weir_store_fallbacks_total",
                  feature="waiting_room") == before
    p.close()


def test_admitted_during_an_outage_stays_admitted(launcher, redis):  # noqa: F811
    """A visitor admitted by an instance's own room while Redis was down (on_store_error local)
    is not sent to the back of the line when Redis returns empty-handed: its signed cookie (a
    local session, within its session time) is adopted by the shared room as a session of its
    own (while the active set has room), on any instance, even with a line waiting."""
    b = launcher.backend("b")
    r = room(max_active=20, admit_per_minute=2, session="60s", abandon_after="30s")
    ws = instances(launcher, redis, {"g": {"servers": [b.port], "health": {"passive": "off"}}},
                   [{"path": "/", "upstream": "g", "waiting_room": r}], n=2, workers=1,
                   state_extra={"command_timeout": "100ms"})
    p = Pool([w.port for w in ws])
    redis.stop()  # killed: it comes back empty (no persistence), as a lost Redis would
    res, fb = p.get(ws[0].port, None)
    assert admitted(res) and fb.split(".")[2] != str(2 ** 32 - 1)  # a local session
    redis.start()
    from test_redis_state import wait_store_ready
    wait_store_ready(ws)
    for _ in range(2):  # the window's quota (2 a minute) goes to two newcomers ...
        res, ck = p.get(ws[1].port, None)
        assert admitted(res) and ck.split(".")[2] == str(2 ** 32 - 1)
    res, waiter = p.get(ws[1].port, None)  # ... and the next one waits
    assert not admitted(res) and waiter.startswith("w.")
    before = [metric(scrape(w.aport), "weir_store_fallbacks_total", feature="waiting_room")
              for w in ws]
    res, ck = p.get(ws[1].port, fb)  # the other instance: no local room knows it there
    assert admitted(res), res
    assert ck.startswith("a.") and ck.split(".")[2] == str(2 ** 32 - 1)  # now Redis' session
    assert ck.split(".")[4] == fb.split(".")[4]  # admitted when it was, not now
    for w in ws:
        res, ck2 = p.get(w.port, ck)
        assert admitted(res)
    res, _ = p.get(ws[0].port, waiter)
    assert not admitted(res)  # not an admission: the window's quota is spent all the same
    assert [metric(scrape(w.aport), "weir_store_fallbacks_total", feature="waiting_room")
            for w in ws] == before
    p.close()


def test_origin_revoke_and_pause_act_on_every_instance(launcher, redis):  # noqa: F811
    """max_active 1: the origin's revoke through A frees the slot for a waiter polling B; a
    pause through A's admin holds B's new visitors in line until the resume."""
    b = launcher.backend("b")
    r = room(max_active=1, admit_per_minute=1, rate_window="1s", session="30s")
    ws = instances(launcher, redis, {"g": {"servers": [b.port], "health": {"passive": "off"}}},
                   [{"path": "/", "upstream": "g", "waiting_room": r}], n=2, workers=1,
                   state_extra={"command_timeout": "500ms"})
    A, B = ws
    p = Pool([A.port, B.port])
    res, ca = p.get(A.port, None)
    assert admitted(res)
    res, cq = p.get(B.port, None)
    assert not admitted(res) and res.json()["position"] == 1
    # the origin ends a's session (through A): the header is stripped, the cookie cleared
    from conftest import Client
    with Client(A.port) as c:
        res = c.get("/headers?Weir-Waiting-Room=revoke",
                    headers={"Accept": "application/json", "Cookie": "%s=%s" % (NAME, ca)})
    assert admitted(res) and res.header("Weir-Waiting-Room") is None
    assert any("Max-Age=0" in sc for sc in res.header_list("Set-Cookie"))
    time.sleep(1.1)  # the rate window (1 per 1 s) and the waiter's refresh
    res, cq = p.get(B.port, cq)
    assert admitted(res)
    # pause through A's admin: B's next visitor waits, even once the slot is free
    with Client(A.aport) as c:
        assert c.request("POST", "/waitroom/concert/pause").json()["state"] == "paused"
    with Client(B.port) as c:  # revoke q's session through B: the slot is free
        c.get("/headers?Weir-Waiting-Room=revoke",
              headers={"Accept": "application/json", "Cookie": "%s=%s" % (NAME, cq)})
    time.sleep(1.1)
    res, c1 = p.get(B.port, None)
    assert not admitted(res)
    res, c2 = p.get(A.port, None)
    assert not admitted(res) and res.json()["position"] == 2
    with Client(B.aport) as c:
        assert c.request("POST", "/waitroom/concert/resume").json()["state"] == "open"
    time.sleep(0.6)
    res, c1 = p.get(A.port, c1)  # the first in line, polling the other instance
    assert admitted(res)
    p.close()


def test_random_mode_one_draw_across_instances(launcher, redis):  # noqa: F811
    """queueing: random in Redis: 60 waiters through two instances are all admitted, one
    session each, not in ticket order."""
    b = launcher.backend("b")
    r = room(max_active=1000, admit_per_minute=600, rate_window="1s", session="60s",
             abandon_after="30s", queueing="random")
    ws = instances(launcher, redis, {"g": {"servers": [b.port], "health": {"passive": "off"}}},
                   [{"path": "/", "upstream": "g", "waiting_room": r}], n=2, workers=1,
                   state_extra={"command_timeout": "500ms"})
    ports = [w.port for w in ws]
    p = Pool(ports)
    cookie, ticket, sid = {}, {}, {}
    i = 0
    while len(ticket) < 60:  # the first window's quota is admitted at once
        res, ck = p.get(ports[i % 2], None)
        if not admitted(res):
            cookie[i], ticket[i] = ck, int(ck.split(".")[1])
        i += 1
    deadline = time.monotonic() + 30
    while len(sid) < 60 and time.monotonic() < deadline:
        for k in ticket:
            if k not in sid:
                res, cookie[k] = p.get(ports[(k + 1) % 2], cookie[k])
                if admitted(res):
                    sid[k] = int(cookie[k].split(".")[1])
        time.sleep(0.2)
    p.close()
    assert len(sid) == 60 and len(set(sid.values())) == 60
    order = sorted(ticket, key=lambda k: sid[k])
    inv = sum(1 for a, c in zip(order, order[1:]) if ticket[a] > ticket[c])
    assert inv > 5, "granted in ticket order: not a random draw"
