"""The storm test (issue 4, point 10), bounded to about 30 s.

Clients send a steady open-loop load (a separate process, so its work does not disturb what is
measured here) to /api while both servers of group `api` fail 100 % for 10 s and then heal; a
prober sends to /other (group `other`, a separate backend) all along. Measured and asserted:
  - the backend receives at most (1 + budget ratio) x the client requests during the outage,
    plus the budget's min_per_second x window (and with the breaker far fewer);
  - no client waits longer than its configured (total) timeout;
  - the latency of the unrelated route is unaffected (p99 within a few ms of the baseline);
  - full traffic flows again within the breaker's open wait + half-open probes after healing.
The numbers are printed as a table and written to bench/out/storm.json (bench/out/ is
git-ignored) for bench/RESULTS.md. A shorter second run without a breaker checks the budget
alone under the same kind of load (bench/out/storm-budget.json)."""

import json
import os
import time

import pytest

from conftest import make_config
from resilience_util import (OUT_DIR, Prober, faults, group, histogram,  # noqa: F401
                             histogram_quantile, metric, route, run_open_loop_process, scrape,
                             stop_process, summary, timed, with_admin)

RATE = 150             # client requests per second to /api
TOTAL_TIMEOUT_S = 1.0  # the route's total timeout: no client may wait longer
SLACK_S = 0.25         # scheduling slack on top of it (ASan build, Python client)
BUDGET = {"ratio": 20, "window_s": 10, "min_per_second": 3}
OPEN_S = 2.0
HALF_OPEN_CALLS = 3
WARMUP = 20
OTHER_ROUTE = "*/other"  # weir's route label: host ("*" = any) and path


def storm_config(breaker):
    api = group(["127.0.0.1:1"], timeouts={"connect": "500ms", "response": "800ms",
                                           "total": "%dms" % (TOTAL_TIMEOUT_S * 1000)},
                retry={"attempts": 3, "backoff": {"base": "10ms", "max": "100ms"},
                       "budget": {"ratio": "%d%%" % BUDGET["ratio"],
                                  "window": "%ds" % BUDGET["window_s"],
                                  "min_per_second": BUDGET["min_per_second"]}})
    if breaker:
        api["circuit_breaker"] = {"window": "count", "size": 50, "min_calls": 20,
                                  "failure_rate": "50%", "open": "%dms" % (OPEN_S * 1000),
                                  "half_open_calls": HALF_OPEN_CALLS, "per_server": True}
    return api


def run_storm(launcher, faults, tmp_path, breaker, baseline_s, outage_s, recovery_s, rate,
              fault=None):
    fault = fault or {"mode": "status", "status": 503}
    a1, a2, other = faults.start("api1"), faults.start("api2"), faults.start("other")
    api = storm_config(breaker)
    api["servers"] = [a1.addr, a2.addr]
    cfg = make_config(None, {"api": api, "other": group([other])},
                      [route("api", "/api"), route("other", "/other")], workers=2)
    admin = with_admin(cfg)
    w = launcher.weir(cfg)
    # warm both paths (connections, pools) before measuring
    for _ in range(WARMUP):
        timed(w.port, "GET", "/api/warm")
        timed(w.port, "GET", "/other/warm")
    for b in (a1, a2, other):
        b.reset()

    duration = baseline_s + outage_s + recovery_s
    t0 = time.monotonic() + 0.5
    out_path = os.path.join(str(tmp_path), "load.json")
    load = run_open_loop_process(w.port, rate, duration, "/api/pay", TOTAL_TIMEOUT_S + 2.0,
                                 out_path, start_at=t0, workdir=str(tmp_path))
    prober = None
    try:
        while time.monotonic() < t0:
            time.sleep(0.01)
        prober = Prober(w.port, "/other/x", interval=0.01, direct_port=other.port)
        h_start = scrape(admin)
        time.sleep(max(0.0, t0 + baseline_s - time.monotonic()))
        h_fail = scrape(admin)
        t_fail = time.monotonic()  # the outage starts with the first switch
        for b in (a1, a2):
            b.fault(**fault)
        time.sleep(max(0.0, t0 + baseline_s + outage_s - time.monotonic()))
        h_heal = scrape(admin)
        for b in (a1, a2):
            b.ok()
        t_heal = time.monotonic()  # healed once both are switched back
        time.sleep(max(0.0, t0 + duration - time.monotonic()))
    finally:
        samples = prober.stop() if prober else []
        direct = prober.direct if prober else []
        rc = stop_process(load, TOTAL_TIMEOUT_S + 15)
    assert rc == 0, "load generator failed: %s" % open(out_path + ".stderr").read()[-2000:]
    with open(out_path) as f:
        load_out = json.load(f)
    results = load_out["results"]
    t_end = t0 + duration

    # --- backend arrivals -------------------------------------------------------------
    arrivals = sorted(e["mono"] for b in (a1, a2) for e in b.log())
    in_outage = [x for x in arrivals if t_fail <= x < t_heal]
    clients_outage = [r for r in results if t_fail <= r[1] < t_heal]
    clients_base = [r for r in results if r[1] < t_fail - 0.05]  # done before the switch
    clients_rec = [r for r in results if r[1] >= t_heal]

    # --- client waits ---------------------------------------------------------------------
    errors = [r for r in results if not isinstance(r[3], int)]
    longest = max(r[2] for r in results)

    # --- unrelated route -------------------------------------------------------------------
    base_lat = [s[1] for s in samples if s[0] < t_fail and s[2] == 200]
    out_lat = [s[1] for s in samples if t_fail <= s[0] < t_heal and s[2] == 200]
    probe_bad = [s for s in samples if s[2] != 200]
    dbase = [s[1] for s in direct if s[0] < t_fail and s[2] == 200]
    dout = [s[1] for s in direct if t_fail <= s[0] < t_heal and s[2] == 200]

    # --- recovery ----------------------------------------------------------------------------
    after = sorted(clients_rec, key=lambda r: r[1])
    last_bad = max((r[1] for r in after if r[3] != 200), default=None)
    recovery_s_measured = (last_bad - t_heal) if last_bad is not None else 0.0
    tail = [x for x in arrivals if t_end - 2.0 <= x < t_end]
    tail_clients = [r for r in results if t_end - 2.0 <= r[1] < t_end]

    def statuses(rs):
        out = {}
        for r in rs:
            k = str(r[3]) if r[3] != 503 else ("503-upstream" if r[4] else "503-weir")
            out[k] = out.get(k, 0) + 1
        return out

    # when the first of weir's own 503s was answered (a request already waiting on a server
    # when the breaker opened gets it late, so the answer time is what tells)
    first_fast = min((r[1] + r[2] for r in clients_outage if r[3] == 503 and not r[4]),
                     default=None)
    # The budget's own rule: retries in the last `window` (one-second buckets, so up to one
    # more second) < min_per_second x window + ratio x requests in that window, and the window
    # ending at the heal also holds requests from before the outage (and the warm-up).
    ratio, win = BUDGET["ratio"] / 100.0, BUDGET["window_s"]
    headline = (1 + ratio) * len(clients_outage) + BUDGET["min_per_second"] * win
    in_window = sum(1 for r in results if t_heal - win - 1 <= r[1] < t_heal) + WARMUP
    allowed = (len(clients_outage) + ratio * in_window
               + BUDGET["min_per_second"] * (win + 1))
    m = {
        "breaker": breaker,
        "fault": fault,
        "rate_target": rate,
        "phases_s": {"baseline": baseline_s, "outage": round(t_heal - t_fail, 3),
                     "recovery": recovery_s},
        "client_requests": {"baseline": len(clients_base), "outage": len(clients_outage),
                            "recovery": len(clients_rec), "late_sends": load_out["late"]},
        "client_rate_outage": round(len(clients_outage) / (t_heal - t_fail), 1),
        "backend_requests_outage": len(in_outage),
        "backend_rate_outage": round(len(in_outage) / (t_heal - t_fail), 1),
        "backend_allowed_outage": round(allowed, 1),
        "backend_headline_bound_outage": round(headline, 1),
        "amplification_outage": round(len(in_outage) / max(1, len(clients_outage)), 3),
        "breaker_open_after_s": (round(first_fast - t_fail, 3) if first_fast else None),
        "statuses": {"baseline": statuses(clients_base), "outage": statuses(clients_outage),
                     "recovery": statuses(clients_rec)},
        "client_latency_ms": {"baseline": summary([r[2] for r in clients_base]),
                              "outage": summary([r[2] for r in clients_outage]),
                              "recovery": summary([r[2] for r in clients_rec])},
        "client_errors": len(errors),
        "longest_wait_s": round(longest, 3),
        "timeout_s": TOTAL_TIMEOUT_S,
        "other_route_ms": {"baseline": summary(base_lat), "outage": summary(out_lat),
                           "failures": len(probe_bad)},
        # the same requests sent straight to the backend: what the machine itself adds
        "other_direct_ms": {"baseline": summary(dbase), "outage": summary(dout)},
        "other_failures": [[round(x[0] - t_fail, 3), round(x[1] * 1000, 2), x[2], x[3]]
                           for x in probe_bad][:20],
        "other_slowest_outage": [[round(t - t_fail, 3), round(l * 1000, 2)] for t, l, _, _ in
                                 sorted((x for x in samples if t_fail <= x[0] < t_heal),
                                        key=lambda x: -x[1])[:8]],
        "backend_arrivals_per_s": [sum(1 for x in arrivals if t0 + i <= x < t0 + i + 1)
                                   for i in range(int(duration))],
        "client_non200_per_s": [sum(1 for r in results
                                    if t0 + i <= r[1] < t0 + i + 1 and r[3] != 200)
                                for i in range(int(duration))],
        "recovery_s": round(recovery_s_measured, 3),
        "recovery_bound_s": OPEN_S + 1.0,
        "backend_vs_client_last_2s": [len(tail), len(tail_clients)],
        "served_by_backend_last_2s": [sum(1 for r in tail_clients if r[3] == 200 and r[4]),
                                      len(tail_clients)],
    }
    scraped = scrape(admin)
    # weir's own view of the unrelated route: its request-duration histogram, per phase
    hname = "weir_route_request_duration_seconds"
    hists = [histogram(x, hname, route=OTHER_ROUTE) for x in (h_start, h_fail, h_heal)]
    m["other_route_weir_p99_ms"] = {
        "baseline": _ms(histogram_quantile(hists[0], hists[1], 0.99)),
        "outage": _ms(histogram_quantile(hists[1], hists[2], 0.99))}
    m["other_route_weir_p50_ms"] = {
        "baseline": _ms(histogram_quantile(hists[0], hists[1], 0.50)),
        "outage": _ms(histogram_quantile(hists[1], hists[2], 0.50))}
    m["weir_metrics"] = {k: metric(scraped, "weir_group_" + k, group="api") for k in (
        "retry_budget_allowed_total", "retry_budget_refused_total", "breaker_rejected_total",
        "failures_total")}
    if breaker:
        m["breaker_log"] = [ln for ln in w.stderr_text().splitlines() if "breaker" in ln][:40]
    return m


def _ms(le):
    return None if le is None else (round(le * 1000, 3) if le != float("inf") else "inf")


def table(m):
    rows = [
        ("client rate during outage (req/s)", m["client_rate_outage"]),
        ("backend rate during outage (req/s)", m["backend_rate_outage"]),
        ("backend requests during outage", m["backend_requests_outage"]),
        ("  bound (1+ratio) x client + min x window", m["backend_headline_bound_outage"]),
        ("  bound by the budget's window rule", m["backend_allowed_outage"]),
        ("amplification (backend / client)", m["amplification_outage"]),
        ("breaker opened after (s)", m["breaker_open_after_s"]),
        ("client statuses, outage", m["statuses"]["outage"]),
        ("client latency ms, baseline", m["client_latency_ms"]["baseline"]),
        ("client latency ms, outage", m["client_latency_ms"]["outage"]),
        ("longest client wait (s) / timeout", "%.3f / %.1f" % (m["longest_wait_s"],
                                                               m["timeout_s"])),
        ("client errors (no HTTP answer)", m["client_errors"]),
        ("/other latency ms, baseline", m["other_route_ms"]["baseline"]),
        ("/other latency ms, outage", m["other_route_ms"]["outage"]),
        ("  same, straight to backend, baseline", m["other_direct_ms"]["baseline"]),
        ("  same, straight to backend, outage", m["other_direct_ms"]["outage"]),
        ("/other in weir's histogram: p50, p99 (ms)",
         "baseline <= %s, <= %s; outage <= %s, <= %s" % (
             m["other_route_weir_p50_ms"]["baseline"], m["other_route_weir_p99_ms"]["baseline"],
             m["other_route_weir_p50_ms"]["outage"], m["other_route_weir_p99_ms"]["outage"])),
        ("weir: retries allowed / refused by budget",
         "%s / %s" % (m["weir_metrics"]["retry_budget_allowed_total"],
                      m["weir_metrics"]["retry_budget_refused_total"])),
        ("weir: refused by open breakers", m["weir_metrics"]["breaker_rejected_total"]),
        ("full traffic again after heal (s)", "%.3f (bound %.1f)" % (m["recovery_s"],
                                                                     m["recovery_bound_s"])),
    ]
    width = max(len(k) for k, _ in rows)
    title = "storm test (%s; servers fail with %s)" % (
        "retry budget + circuit breaker" if m["breaker"] else "retry budget only",
        "hanging (timeouts)" if m["fault"]["mode"] == "hang" else "503")
    return "\n".join([title] + ["  %-*s  %s" % (width, k, v) for k, v in rows])


def write(m, name):
    os.makedirs(OUT_DIR, exist_ok=True)
    path = os.path.join(OUT_DIR, name)
    with open(path + ".tmp", "w") as f:
        json.dump(m, f, indent=2)
    os.replace(path + ".tmp", path)
    return path


def check_common(m):
    assert m["client_errors"] == 0, m
    assert m["longest_wait_s"] <= TOTAL_TIMEOUT_S + SLACK_S, m["longest_wait_s"]
    assert m["backend_requests_outage"] <= m["backend_allowed_outage"], m
    assert m["client_rate_outage"] >= 0.9 * m["rate_target"], "the load generator fell behind"
    base, out = m["other_route_ms"]["baseline"], m["other_route_ms"]["outage"]
    assert m["other_route_ms"]["failures"] == 0, m["other_failures"]
    assert base["n"] > 100 and out["n"] > 300
    # weir's own latency for the unrelated route (its request-duration histogram, so the
    # figure is weir's and not the test machine's): p99 within 5 ms of the baseline's
    wb, wo = m["other_route_weir_p99_ms"]["baseline"], m["other_route_weir_p99_ms"]["outage"]
    assert wb is not None and wo is not None, m["other_route_weir_p99_ms"]
    assert wo != "inf" and wo <= max(wb, 1.0) + 5.0, m["other_route_weir_p99_ms"]
    # seen from the client, the same within a few ms at the median; the client-side p99 is only
    # held to "nothing like the failing route" (under 50 ms): on this 2-CPU machine shared with
    # the load generator, the backends and other work it moves by 10 ms and more on its own
    # (the same requests sent straight to the backend are measured alongside as a control)
    dbase, dout = m["other_direct_ms"]["baseline"], m["other_direct_ms"]["outage"]
    noise50 = max(0.0, dout["p50"] - dbase["p50"])
    assert out["p50"] <= base["p50"] + 2.0 + noise50, (base, out, dbase, dout)
    assert out["p99"] < 50.0, (base, out, dbase, dout)


@pytest.mark.parametrize("failure", ["503", "hang"])
def test_storm(launcher, faults, tmp_path, capsys, failure):
    fault = {"mode": "status", "status": 503} if failure == "503" else {"mode": "hang"}
    m = run_storm(launcher, faults, tmp_path, breaker=True, baseline_s=4, outage_s=10,
                  recovery_s=6, rate=RATE, fault=fault)
    path = write(m, "storm.json" if failure == "503" else "storm-hang.json")
    with capsys.disabled():
        print("\n" + table(m) + "\n  -> %s" % path)
    check_common(m)
    assert m["breaker_open_after_s"] is not None and m["breaker_open_after_s"] < 2.0, m
    assert m["recovery_s"] <= m["recovery_bound_s"], m
    served, sent = m["served_by_backend_last_2s"]
    assert sent > 0 and served == sent, "traffic did not fully return: %d of %d served" % (
        served, sent)
    assert m["statuses"]["baseline"] == {"200": m["client_requests"]["baseline"]}, m


def test_storm_budget_only(launcher, faults, tmp_path, capsys):
    """Without a breaker every request tries the failing group; the budget alone must keep
    the retries to about `ratio` of the requests."""
    m = run_storm(launcher, faults, tmp_path, breaker=False, baseline_s=2, outage_s=6,
                  recovery_s=2, rate=100)
    path = write(m, "storm-budget.json")
    with capsys.disabled():
        print("\n" + table(m) + "\n  -> %s" % path)
    check_common(m)
    assert m["amplification_outage"] >= 1.0  # every client request reached a server
    assert m["recovery_s"] <= 0.5, m
