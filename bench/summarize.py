#!/usr/bin/env python3
"""Helpers for bench/proxy_bench.sh (stdlib only).

  summarize.py wrk FILE                 parse one `wrk --latency` output; print TSV:
                                        requests duration_s rps p50_us p99_us non2xx sock_errors
  summarize.py table RAW.tsv [--cmd C]  print the markdown summary (median and min-max per proxy)
  summarize.py variants RAW.tsv --scenario lb|metrics --baseline NAME [--order "A B C"] [--cmd C]
                                        the same for weir-vs-weir scenarios: each variant against
                                        the baseline (difference and ratio of medians, and paired
                                        per-round differences), with the scenario's target
  summarize.py cpu DTICKS DTREE DBACKEND REQUESTS CLK_TCK WALL_NS THREADS_BEFORE THREADS_AFTER
                                        print: cpu_us_per_req tree_cpu_us_per_req backend_us_per_req
                                        util_pct threads top_thread_pct ("tid ticks" files)
"""
import os
import re
import statistics
import sys

UNITS_US = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6, "h": 3600e6}
ORDER = ["weir", "nginx", "haproxy"]
TARGET = 0.75
NOISY_PCT = 5
QUIET_PCT = 2


def to_us(text):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", text)
    if not m:
        raise ValueError("bad latency %r" % text)
    return float(m.group(1)) * UNITS_US[m.group(2)]


def parse_wrk(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    m = re.search(r"^\s*(\d+) requests in ([0-9.]+)(us|ms|s|m|h),", text, re.M)
    if not m:
        raise SystemExit("summarize.py: no 'requests in' line in %s" % path)
    requests = int(m.group(1))
    duration_s = to_us(m.group(2) + m.group(3)) / 1e6
    m = re.search(r"^Requests/sec:\s*([0-9.]+)", text, re.M)
    rps = float(m.group(1)) if m else requests / duration_s
    lat = {}
    for pct, val in re.findall(r"^\s*(50|75|90|99)%\s+([0-9.]+(?:us|ms|s|m|h))\s*$", text, re.M):
        lat[pct] = to_us(val)
    m = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
    non2xx = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    sock = sum(int(x) for x in m.groups()) if m else 0
    print("\t".join(str(x) for x in (
        requests, "%.2f" % duration_s, "%.1f" % rps,
        "%.0f" % lat.get("50", float("nan")), "%.0f" % lat.get("99", float("nan")),
        non2xx, sock)))


def cpu(argv):
    dt, dtree, db, reqs, hz, ns = (int(x) for x in argv[:6])

    def load(path):
        with open(path, encoding="utf-8") as f:
            return dict(l.split() for l in f if l.strip())

    before, after = load(argv[6]), load(argv[7])
    per = [int(v) - int(before.get(k, 0)) for k, v in after.items()]
    tot = sum(per)
    us = lambda t: t * 1e6 / hz / reqs
    print("%.3f %.3f %.3f %.1f %d %.0f" % (
        us(dt), us(dtree), us(db), dt / hz / (ns / 1e9) * 100, len(after),
        (max(per) * 100.0 / tot) if tot > 0 else 0))


def read_tsv(path):
    with open(path, encoding="utf-8") as f:
        lines = [l.rstrip("\n") for l in f if l.strip()]
    header = lines[0].split("\t")
    return [dict(zip(header, l.split("\t"))) for l in lines[1:]]


def fnum(v):
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return None if x != x else x  # NaN -> None


def stat(values, fmt):
    vals = [v for v in values if v is not None]
    if not vals:
        return "n/a"
    med = statistics.median(vals)
    if len(vals) == 1:
        return fmt(med)
    return "%s (%s–%s)" % (fmt(med), fmt(min(vals)), fmt(max(vals)))


def table(path, cmd):
    rows = read_tsv(path)
    proxies = [p for p in ORDER if any(r["proxy"] == p for r in rows)]
    proxies += sorted({r["proxy"] for r in rows} - set(proxies))
    by = {p: [r for r in rows if r["proxy"] == p] for p in proxies}
    usable = {p: [r for r in by[p] if fnum(r.get("cpu_us_per_req")) is not None] for p in proxies}
    med_cpu = {p: statistics.median([fnum(r["cpu_us_per_req"]) for r in usable[p]])
               for p in proxies if usable[p]}

    out = []
    if cmd:
        out.append("Command: `%s`" % cmd)
        out.append("")
    out.append("Median over rounds (min–max). Latency in ms; CPU = utime+stime of the proxy's "
               "worker process per request served.")
    out.append("")
    out.append("| proxy | rounds ok | req/s | p50 ms | p99 ms | CPU µs/req | CPU vs nginx "
               "| worker CPU util % | backend CPU µs/req |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for p in proxies:
        rs = usable[p]
        ok = sum(1 for r in by[p] if r["status"] == "ok")
        vs = "n/a"
        if p in med_cpu and "nginx" in med_cpu:
            vs = "%.2f" % (med_cpu[p] / med_cpu["nginx"])
        out.append("| %s | %d/%d | %s | %s | %s | %s | %s | %s | %s |" % (
            p, ok, len(by[p]),
            stat([fnum(r["rps"]) for r in rs], lambda x: "%.0f" % x),
            stat([fnum(r["p50_us"]) for r in rs], lambda x: "%.3f" % (x / 1e3)),
            stat([fnum(r["p99_us"]) for r in rs], lambda x: "%.3f" % (x / 1e3)),
            stat([fnum(r["cpu_us_per_req"]) for r in rs], lambda x: "%.2f" % x),
            vs,
            stat([fnum(r["util_pct"]) for r in rs], lambda x: "%.0f" % x),
            stat([fnum(r["backend_cpu_us_per_req"]) for r in rs], lambda x: "%.2f" % x)))
    out.append("")

    if "weir" in med_cpu and "nginx" in med_cpu:
        ratio = med_cpu["weir"] / med_cpu["nginx"]
        per_round = []
        nginx_by_round = {r["round"]: fnum(r["cpu_us_per_req"]) for r in usable["nginx"]}
        for r in usable["weir"]:
            n = nginx_by_round.get(r["round"])
            if n:
                per_round.append(fnum(r["cpu_us_per_req"]) / n)
        verdict = "PASS" if ratio <= TARGET else "FAIL"
        out.append("**CPU µs/req weir/nginx = %.3f** (target ≤ %.2f: **%s**); per-round ratios %s."
                   % (ratio, TARGET, verdict,
                      stat(per_round, lambda x: "%.3f" % x) if per_round else "n/a"))
    else:
        out.append("CPU µs/req weir/nginx: n/a (needs both weir and nginx in the run).")

    # The same ratio from the quiet measurements only, discarded retries included: on a shared
    # machine this is the less disturbed estimate (contention on core 0 raises CPU/req).
    disc = os.path.join(os.path.dirname(os.path.abspath(path)), "discarded.tsv")
    allrows = rows + (read_tsv(disc) if os.path.exists(disc) else [])
    quiet = {p: [fnum(r["cpu_us_per_req"]) for r in allrows if r["proxy"] == p
                 and r["status"] == "ok" and fnum(r.get("cpu_us_per_req")) is not None
                 and (fnum(r.get("core0_other_pct")) or 0) <= QUIET_PCT] for p in proxies}
    if quiet.get("weir") and quiet.get("nginx"):
        qw, qn = statistics.median(quiet["weir"]), statistics.median(quiet["nginx"])
        extra = ""
        if quiet.get("haproxy"):
            extra = ", haproxy %.2f (n=%d)" % (statistics.median(quiet["haproxy"]), len(quiet["haproxy"]))
        out.append("")
        out.append("Quiet measurements only (core-0 other load ≤ %d%%, retries included): CPU µs/req "
                   "weir %.2f (n=%d), nginx %.2f (n=%d)%s; weir/nginx = %.3f." % (
                       QUIET_PCT, qw, len(quiet["weir"]), qn, len(quiet["nginx"]), extra, qw / qn))

    notes(rows, path, out)
    print("\n".join(out))


def notes(rows, path, out, why="because core 0 was busy with other work"):
    """Noisy, repeated and flagged measurements (shared by table and variants)."""
    disc = os.path.join(os.path.dirname(os.path.abspath(path)), "discarded.tsv")
    noisy = [r for r in rows if (fnum(r.get("core0_other_pct")) or 0) > NOISY_PCT]
    if noisy:
        out.append("")
        out.append("Noisy measurements (something else used > %d%% of core 0 meanwhile): %s." % (
            NOISY_PCT, ", ".join("round %s %s %.0f%%" % (r["round"], r["proxy"],
                                                          fnum(r["core0_other_pct"])) for r in noisy)))

    if os.path.exists(disc):
        d = read_tsv(disc)
        if d:
            out.append("")
            out.append("%d measurement(s) repeated %s "
                       "(discarded.tsv): %s." % (len(d), why, ", ".join(
                           "round %s %s %s%%" % (r["round"], r["proxy"], r["core0_other_pct"])
                           for r in d)))

    flagged = [r for r in rows if r["status"] != "ok"]
    if flagged:
        out.append("")
        out.append("**Flagged measurements** (a flagged run that still produced CPU numbers is in the medians above; "
                   "one where the proxy died or failed verification is not):")
        out.append("")
        for r in flagged:
            out.append("- round %s %s: %s (requests=%s non2xx=%s socket_errors=%s)" % (
                r["round"], r["proxy"], r["status"], r.get("requests"), r.get("non2xx"),
                r.get("sock_errors")))


# Targets of the weir-vs-weir scenarios (issue 3 point 8, issue 5 point 6).
LB_MAX_DELTA_US = 1.0
METRICS_MAX_RATIO = 1.03
BACKEND_SLOW = 1.06   # as in proxy_bench.sh: backend CPU/req above this x the run's lowest = slowed


def variants(path, cmd, scenario, baseline, order):
    rows = read_tsv(path)
    names = [n for n in order if any(r["proxy"] == n for r in rows)]
    names += sorted({r["proxy"] for r in rows} - set(names))
    by = {n: [r for r in rows if r["proxy"] == n] for n in names}
    usable = {n: [r for r in by[n] if fnum(r.get("cpu_us_per_req")) is not None] for n in names}
    cpu = {n: {r["round"]: fnum(r["cpu_us_per_req"]) for r in usable[n]} for n in names}
    med = {n: statistics.median(cpu[n].values()) for n in names if cpu[n]}
    p99 = {n: statistics.median([fnum(r["p99_us"]) for r in usable[n]]) for n in names if usable[n]}

    def paired(n, f):
        b = cpu.get(baseline, {})
        return [f(v, b[k]) for k, v in cpu[n].items() if b.get(k)]

    out = []
    if cmd:
        out.append("Command: `%s`" % cmd)
        out.append("")
    out.append("Median over rounds (min–max). Latency in ms; CPU = utime+stime of the weir process "
               "(all its threads) per request served. Baseline: %s. \"paired\" = variant minus "
               "baseline within the same round." % baseline)
    out.append("")
    out.append("| variant | rounds ok | req/s | p50 ms | p99 ms | CPU µs/req | Δ CPU µs/req "
               "| CPU ratio | paired Δ µs/req | worker CPU util % | backend CPU µs/req |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for n in names:
        rs = usable[n]
        ok = sum(1 for r in by[n] if r["status"] == "ok")
        d = r_ = pd = "–"
        if n != baseline and n in med and baseline in med:
            d = "%+.2f" % (med[n] - med[baseline])
            r_ = "%.3f" % (med[n] / med[baseline])
            pd = stat(paired(n, lambda v, b: v - b), lambda x: "%+.2f" % x)
        out.append("| %s | %d/%d | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            n, ok, len(by[n]),
            stat([fnum(r["rps"]) for r in rs], lambda x: "%.0f" % x),
            stat([fnum(r["p50_us"]) for r in rs], lambda x: "%.3f" % (x / 1e3)),
            stat([fnum(r["p99_us"]) for r in rs], lambda x: "%.3f" % (x / 1e3)),
            stat([fnum(r["cpu_us_per_req"]) for r in rs], lambda x: "%.2f" % x),
            d, r_, pd,
            stat([fnum(r["util_pct"]) for r in rs], lambda x: "%.0f" % x),
            stat([fnum(r["backend_cpu_us_per_req"]) for r in rs], lambda x: "%.2f" % x)))
    out.append("")

    if scenario == "lb" and "lc-3srv-hc" in med and baseline in med:
        d = med["lc-3srv-hc"] - med[baseline]
        pd = paired("lc-3srv-hc", lambda v, b: v - b)
        pm = statistics.median(pd) if pd else float("nan")
        out.append("**CPU µs/req lc-3srv-hc − rr-1srv = %+.2f** (difference of medians; target "
                   "< %.1f µs: **%s**); paired per round %s (%s)." % (
                       d, LB_MAX_DELTA_US, "PASS" if d < LB_MAX_DELTA_US else "FAIL",
                       stat(pd, lambda x: "%+.2f" % x),
                       "PASS" if pm < LB_MAX_DELTA_US else "FAIL"))
    if scenario == "metrics" and "metrics-on" in med and baseline in med:
        q = med["metrics-on"] / med[baseline]
        pr = paired("metrics-on", lambda v, b: v / b)
        pm = statistics.median(pr) if pr else float("nan")
        out.append("**CPU µs/req metrics-on / metrics-off = %.3f** (ratio of medians; target "
                   "≤ %.2f: **%s**); paired per round %s (%s)." % (
                       q, METRICS_MAX_RATIO, "PASS" if q <= METRICS_MAX_RATIO else "FAIL",
                       stat(pr, lambda x: "%.3f" % x),
                       "PASS" if pm <= METRICS_MAX_RATIO else "FAIL"))
    if scenario == "metrics" and "metrics-on" in med:
        for n, what in (("metrics-on-scrape", "Scraping /metrics"),
                        ("metrics-on-healthz", "Polling /healthz (control: the same curl loop, "
                                               "a trivial endpoint)")):
            if n not in med:
                continue
            out.append("")
            out.append("%s once a second: p99 %.3f ms with, %.3f ms without (metrics-on), "
                       "%.3f ms with metrics off; CPU %.2f µs/req with, %.2f without (%+.2f, ×%.3f)."
                       % (what, p99[n] / 1e3, p99["metrics-on"] / 1e3,
                          p99.get(baseline, float("nan")) / 1e3, med[n], med["metrics-on"],
                          med[n] - med["metrics-on"], med[n] / med["metrics-on"]))

    disc = os.path.join(os.path.dirname(os.path.abspath(path)), "discarded.tsv")
    allrows = rows + (read_tsv(disc) if os.path.exists(disc) else [])

    # Clean measurements: core 0 not shared (other load ≤ NOISY_PCT) and the backend — fixed work
    # per request — not slowed down (≤ BACKEND_SLOW × its lowest CPU/req in the run).
    bmin = min([fnum(r.get("backend_cpu_us_per_req")) for r in allrows
                if fnum(r.get("backend_cpu_us_per_req"))] or [0])
    def clean(r):
        b = fnum(r.get("backend_cpu_us_per_req"))
        return (r["status"] == "ok" and fnum(r.get("cpu_us_per_req")) is not None
                and (fnum(r.get("core0_other_pct")) or 0) <= NOISY_PCT
                and b is not None and b <= bmin * BACKEND_SLOW)
    cl = {n: [fnum(r["cpu_us_per_req"]) for r in allrows if r["proxy"] == n and clean(r)]
          for n in names}
    if bmin and cl.get(baseline):
        cb = statistics.median(cl[baseline])
        parts = []
        for n in names:
            if not cl[n]:
                parts.append("%s n/a (n=0)" % n)
                continue
            cn = statistics.median(cl[n])
            parts.append("%s %s (n=%d%s)" % (
                n, stat(cl[n], lambda x: "%.2f" % x), len(cl[n]),
                "" if n == baseline else "; %+.2f, ×%.3f" % (cn - cb, cn / cb)))
        out.append("")
        out.append("Clean measurements only (core-0 other load ≤ %d%% and backend CPU ≤ %.2f × its "
                   "lowest, %.2f µs/req; retries included): CPU µs/req %s." % (
                       NOISY_PCT, BACKEND_SLOW, bmin, "; ".join(parts)))
    slow = [r for r in rows if fnum(r.get("backend_cpu_us_per_req")) and bmin
            and fnum(r["backend_cpu_us_per_req"]) > bmin * BACKEND_SLOW]
    if slow:
        out.append("")
        out.append("Kept measurements with a slowed-down backend (> %.2f × %.2f µs/req): %s." % (
            BACKEND_SLOW, bmin, ", ".join("round %s %s %.2f" % (
                r["round"], r["proxy"], fnum(r["backend_cpu_us_per_req"])) for r in slow)))

    extra = os.path.join(os.path.dirname(os.path.abspath(path)), "extra.tsv")
    if os.path.exists(extra):
        ex = [r for r in read_tsv(extra) if r.get("extra")]
        if ex:
            out.append("")
            out.append("From /metrics after each kept measurement (counters since start, warm-up "
                       "included):")
            out.append("")
            for n in names:
                for r in ex:
                    if r["proxy"] == n:
                        out.append("- round %s %s: %s" % (r["round"], n, r["extra"]))
    notes(rows, path, out, "as noisy: core 0 busy with other work (its other load in %% below) "
          "and/or the backend slowed down (its CPU/req > %.2f × the lowest so far)" % BACKEND_SLOW)
    print("\n".join(out))


def main(argv):
    if len(argv) >= 2 and argv[0] == "wrk":
        parse_wrk(argv[1])
    elif len(argv) == 9 and argv[0] == "cpu":
        cpu(argv[1:])
    elif len(argv) >= 2 and argv[0] == "variants":
        opt = lambda k, d="": argv[argv.index(k) + 1] if k in argv else d
        variants(argv[1], opt("--cmd"), opt("--scenario"), opt("--baseline"),
                 opt("--order").split())
    elif len(argv) >= 2 and argv[0] == "table":
        cmd = ""
        if "--cmd" in argv:
            cmd = argv[argv.index("--cmd") + 1]
        table(argv[1], cmd)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
