#!/usr/bin/env python3
"""Helpers for bench/proxy_bench.sh (stdlib only).

  summarize.py wrk FILE                 parse one `wrk --latency` output; print TSV:
                                        requests duration_s rps p50_us p99_us non2xx sock_errors
  summarize.py table RAW.tsv [--cmd C]  print the markdown summary (median and min-max per proxy)
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
            out.append("%d measurement(s) repeated because core 0 was busy with other work "
                       "(discarded.tsv): %s." % (len(d), ", ".join(
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
    print("\n".join(out))


def main(argv):
    if len(argv) >= 2 and argv[0] == "wrk":
        parse_wrk(argv[1])
    elif len(argv) == 9 and argv[0] == "cpu":
        cpu(argv[1:])
    elif len(argv) >= 2 and argv[0] == "table":
        cmd = ""
        if "--cmd" in argv:
            cmd = argv[argv.index("--cmd") + 1]
        table(argv[1], cmd)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
