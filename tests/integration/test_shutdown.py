"""SIGTERM: stop accepting, let in-flight requests finish, close idle keep-alive connections,
exit 0 within timeouts.shutdown. SIGINT: exit fast."""

import signal
import socket
import threading
import time


from conftest import Client, Closed, make_config


def start(launcher, shutdown="5s", workers=2):
    a = launcher.backend("a")
    w = launcher.weir(make_config(None, {"be": [a.port]}, [{"path": "/", "upstream": "be"}],
                                  workers=workers, timeouts={"shutdown": shutdown}))
    return w, a


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return True


def test_sigterm_graceful_inflight_completes(launcher):
    w, a = start(launcher)
    idle = Client(w.port)
    assert idle.get("/warm").status == 200

    results = []

    def slow():
        try:
            with Client(w.port, timeout=10) as c:
                results.append(c.get("/slow?ms=1500"))
        except Exception as e:  # reported below
            results.append(e)

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.4)  # the slow request is in flight at the backend
    t0 = time.monotonic()
    w.send_signal(signal.SIGTERM)

    # idle keep-alive connections are closed promptly
    assert idle.closed_by_peer(3.0), "idle keep-alive connection not closed on SIGTERM"
    idle.close()
    # no new connections are accepted
    deadline = time.monotonic() + 2.0
    while not refused(w.port) and time.monotonic() < deadline:
        time.sleep(0.05)
    if w.alive():
        assert refused(w.port), "weir still accepts connections after SIGTERM"

    t.join(10)
    assert results, "slow request thread did not finish"
    r = results[0]
    assert not isinstance(r, Exception), "in-flight request failed: %r" % r
    assert r.status == 200 and r.json()["slept_ms"] == 1500

    code = w.wait(8)
    took = time.monotonic() - t0
    assert code is not None, "weir did not exit after SIGTERM"
    assert code == 0
    assert took < 5.0, took
    w.check_sanitizers()


def test_sigterm_idle_exits_promptly(launcher):
    w, _ = start(launcher)
    conns = [Client(w.port) for _ in range(10)]
    for c in conns:
        assert c.get("/x").status == 200
    t0 = time.monotonic()
    assert w.stop(signal.SIGTERM, timeout=10) == 0
    assert time.monotonic() - t0 < 3.0
    for c in conns:
        assert c.closed_by_peer(1.0)
        c.close()


def test_sigterm_shutdown_deadline_cuts_long_requests(launcher):
    w, _ = start(launcher, shutdown="1s")
    results = []

    def slow():
        try:
            with Client(w.port, timeout=15) as c:
                results.append(c.get("/slow?ms=8000"))
        except Exception as e:
            results.append(e)

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    w.send_signal(signal.SIGTERM)
    code = w.wait(10)
    took = time.monotonic() - t0
    assert code is not None, "weir ignored its shutdown deadline"
    assert took < 4.0, "exit took %.1fs with shutdown: 1s" % took
    t.join(15)
    w.check_sanitizers()


def test_sigint_exits_fast(launcher):
    w, _ = start(launcher)
    results = []

    def slow():
        try:
            with Client(w.port, timeout=10) as c:
                results.append(c.get("/slow?ms=5000"))
        except Exception as e:
            results.append(e)

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    w.send_signal(signal.SIGINT)
    code = w.wait(5)
    took = time.monotonic() - t0
    assert code is not None, "weir did not exit on SIGINT"
    assert took < 2.5, "SIGINT took %.1fs" % took
    t.join(10)
    assert results and isinstance(results[0], (Closed, ConnectionError, OSError)) \
        or results[0].status >= 500, results
    w.check_sanitizers()


def test_shutdown_while_client_sends_body(launcher):
    """A request whose body is still arriving is in flight too: it completes."""
    w, _ = start(launcher)
    with Client(w.port, timeout=10) as c:
        c.send(b"POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello")
        time.sleep(0.3)
        w.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        c.send(b"world")
        r = c.read_response()
        assert r.status == 200 and r.json()["body_len"] == 10
        assert c.closed_by_peer(3.0)
    assert w.wait(8) == 0
    w.check_sanitizers()


def test_sigterm_answers_request_that_raced_the_stop(launcher):
    """A request already sent on an idle keep-alive connection when the stop begins is answered
    (with Connection: close), never reset. weir is frozen while the request is written, so the
    request and the stop command are both pending when it wakes up, in either order."""
    for _ in range(4):
        w, _ = start(launcher, workers=1)
        c = Client(w.port, timeout=5)
        assert c.get("/warm").status == 200
        w.send_signal(signal.SIGSTOP)
        try:
            c.send(c.build("GET", "/raced"))
            w.send_signal(signal.SIGTERM)
            time.sleep(0.1)
        finally:
            w.send_signal(signal.SIGCONT)
        r = c.read_response()
        assert r.status == 200 and r.json()["path"] == "/raced"
        assert c.closed_by_peer(3.0), "connection not closed after the answer during shutdown"
        c.close()
        assert w.wait(10) == 0
        w.check_sanitizers()


def test_sigterm_under_keepalive_load_resets_nothing(launcher):
    """Like `hey -c 10` during SIGTERM: every request gets a response, or its connection is
    closed cleanly (FIN, nothing sent back: a client retries that) or refused — never reset."""
    w, _ = start(launcher, workers=2)
    stop = threading.Event()
    counts = {"ok": 0, "reset": 0, "closed": 0, "refused": 0}
    lock = threading.Lock()

    def loop():
        c = None
        while not stop.is_set():
            try:
                if c is None:
                    c = Client(w.port, timeout=5)
                r = c.get("/k")
                kind = "ok" if r.status == 200 else "bad%d" % r.status
                if r.header("connection") == "close":
                    c.close()
                    c = None
            except ConnectionRefusedError:
                kind = "refused"
                time.sleep(0.01)
            except (ConnectionResetError, BrokenPipeError):
                kind = "reset"
                c = None
            except Closed as e:
                kind = "reset" if "reset" in str(e) else "closed"
                c.close()
                c = None
            except OSError:
                kind = "refused"
                c = None
                time.sleep(0.01)
            with lock:
                counts[kind] = counts.get(kind, 0) + 1
        if c is not None:
            c.close()

    threads = [threading.Thread(target=loop) for _ in range(10)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    w.send_signal(signal.SIGTERM)
    assert w.wait(10) == 0
    time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join(10)
    w.check_sanitizers()
    assert counts["ok"] > 100, counts
    assert counts["reset"] == 0, counts
    assert set(counts) == {"ok", "reset", "closed", "refused"}, counts
