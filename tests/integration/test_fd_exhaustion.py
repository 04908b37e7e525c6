"""Running out of file descriptors is weir's problem, not the upstream's (issue 8, point 5).

weir runs under `prlimit --nofile=64:64` (soft and hard, so its start-up raise to the hard
limit changes nothing) and idle clients fill its descriptor table. Then:
  - a request that needs an upstream connection gets 503 with Retry-After from weir itself
    ("out of file descriptors"), and the server is not blamed: no passive-health failure, no
    breaker failure, no active-check failure, server failures stay 0 in /metrics;
  - accepting pauses instead of failing once per arriving connection: the accept warning is
    rate-limited and weir's CPU time stays low while connections keep arriving;
  - once the idle clients go, requests succeed at once (the server was never marked down);
  - /metrics counts the local errors by operation and errno.
"""

import os
import re
import select
import shutil
import socket
import time

import pytest

from conftest import Client, free_port, make_config, wait_port
from faults import log_lines, wait_for

import promparse

NOFILE = 64
PRLIMIT = shutil.which("prlimit")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime, all threads


def start_limited(launcher, weir_bin, backend):
    """weir (1 worker, admin on) under RLIMIT_NOFILE = NOFILE; returns (weir, admin port)."""
    aport = free_port()
    group = {
        "servers": [backend.port],
        "pool": {"max_idle": 0},  # every request needs a new upstream connection
        "health": {"active": {"interval": "200ms", "timeout": "150ms", "fall": 2, "rise": 2},
                   "passive": {"failures": 2, "window": "10s", "cooldown": "10s"}},
        "circuit_breaker": {"window": "count", "size": 10, "min_calls": 2,
                            "failure_rate": "50%", "open": "10s",
                            "failure_on": ["connect_error"]},
        "retry": {"attempts": 3, "backoff": {"base": "0", "max": "0"}},
    }
    cfg = make_config(None, {"app": group}, [{"path": "/", "upstream": "app"}], workers=1)
    cfg["admin"] = {"listen": "127.0.0.1:%d" % aport}
    w = launcher.weir(cfg, start=False)
    w.binary = PRLIMIT
    w.extra_args = ["--nofile=%d:%d" % (NOFILE, NOFILE), weir_bin, "-c", w.config_path]
    w.start()
    wait_port(aport, w.proc, 10, what="weir admin", log=w.stderr_path)
    return w, aport


def read_answers(socks, seconds):
    """What each socket received within `seconds` (b"" when nothing; None when reset)."""
    got = {s: b"" for s in socks}
    for s in socks:
        s.setblocking(False)
    deadline = time.monotonic() + seconds
    live = list(socks)
    while live and time.monotonic() < deadline:
        r, _, _ = select.select(live, [], [], max(0.0, deadline - time.monotonic()))
        for s in r:
            try:
                d = s.recv(65536)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                got[s] = None
                live.remove(s)
                continue
            if not d:
                live.remove(s)
            else:
                got[s] += d
                if b"\r\n\r\n" in got[s] and len(got[s]) > 200:
                    live.remove(s)  # a head and (enough of) the body
    return got


def metric(fams, name, **labels):
    fam = fams.get(name)
    if not fam:
        return 0
    total = 0
    for sname, slabels, value in fam.samples:
        if sname == name and all(slabels.get(k) == v for k, v in labels.items()):
            total += value
    return total


@pytest.mark.skipif(PRLIMIT is None, reason="prlimit (util-linux) not installed")
def test_fd_exhaustion_is_not_an_upstream_failure(launcher, weir_bin):
    be = launcher.backend("be")
    w, aport = start_limited(launcher, weir_bin, be)
    with Client(w.port) as c:
        assert c.get("/").status == 200
    time.sleep(0.5)  # a few active checks pass

    held, extra = [], []
    pressure_start = time.monotonic()
    try:
        # Idle clients fill weir's descriptor table; the rest wait in its listen queue.
        for _ in range(NOFILE + 16):
            held.append(socket.create_connection(("127.0.0.1", w.port), timeout=5))
        assert wait_for(lambda: fd_count(w.pid) >= NOFILE, 5), \
            "weir has %d fds, expected %d" % (fd_count(w.pid), NOFILE)

        # Every accepted client asks for something: weir has no descriptor for the upstream.
        for s in held:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        answers = read_answers(held, 2.0)
        heads = [a for a in answers.values() if a]
        assert len(heads) >= 10, "only %d of the accepted clients answered:\n%s" % (
            len(heads), w.stderr_text()[-3000:])
        for a in heads:
            m = re.match(rb"HTTP/1\.1 (\d{3}) ", a)
            assert m, a[:200]
            status = int(m.group(1))
            assert status in (200, 503), a[:400]
            if status == 503:
                assert re.search(rb"\r\nRetry-After: \d+\r\n", a), a[:400]
                assert b"out of file descriptors" in a, a[:600]
        assert any(a.startswith(b"HTTP/1.1 503") for a in heads)

        # New connections keep arriving while weir has no descriptor for them: it pauses
        # accepting instead of failing (and logging) once per connection, and does not spin.
        cpu0, t0 = cpu_seconds(w.pid), time.monotonic()
        while time.monotonic() - t0 < 2.0:
            extra.append(socket.create_connection(("127.0.0.1", w.port), timeout=5))
            time.sleep(0.01)
        cpu = cpu_seconds(w.pid) - cpu0
        assert len(extra) > 50
        assert cpu < 1.0, "weir used %.2f s of CPU in 2 s at its descriptor limit" % cpu
        # One line a second at most (without the limit: one per arriving connection).
        accept_warnings = log_lines(w, r"accept")
        most = int(time.monotonic() - pressure_start) + 2
        assert 1 <= len(accept_warnings) <= most, (most, accept_warnings[:20])
    finally:
        for s in held + extra:
            s.close()

    # The pressure is gone: the server was never blamed, requests succeed at once.
    time.sleep(0.15)  # one accept pause
    statuses = []
    for _ in range(5):
        with Client(w.port, timeout=5) as c:
            r = c.get("/")
            statuses.append((r.status, r.text()[:120]))
    assert all(s == 200 for s, _ in statuses), (statuses, w.stderr_text()[-3000:])
    assert not log_lines(w, r"is DOWN"), w.stderr_text()[-3000:]

    with Client(aport) as c:
        r = c.get("/metrics")
    assert r.status == 200
    fams = promparse.parse(r.text())
    assert metric(fams, "weir_local_errors_total", op="connect", kind="emfile") >= 1
    assert metric(fams, "weir_local_errors_total", op="accept", kind="emfile") >= 1
    assert metric(fams, "weir_server_failures_total") == 0
    assert metric(fams, "weir_server_health_checks_failed_total") == 0
    assert metric(fams, "weir_group_breaker_state", state="closed") == 1
    assert metric(fams, "weir_server_breaker_state", state="closed") == 1
    assert metric(fams, "weir_group_retries_total") == 0
