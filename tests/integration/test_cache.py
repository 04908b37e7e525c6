"""The response cache (src/cache/, docs/cache.md): RFC 9111 behaviour against a real origin
(cache_origin.py, which answers with whatever header family the query asks for), collapsed
forwarding, hit-for-pass, stale-while-revalidate / stale-if-error with a failing origin,
purges through the admin API, bounded memory for responses too large to store, the access
log field, compression on hits, and config errors with file:line:col."""

import concurrent.futures
import json
import os
import subprocess
import sys
import time
import urllib.parse

import pytest

from conftest import Client, free_port, make_config, wait_port

HERE = os.path.dirname(os.path.abspath(__file__))
ORIGIN_PY = os.path.join(HERE, "cache_origin.py")


class Origin:
    def __init__(self, workdir):
        self.port = free_port()
        self._err = open(os.path.join(workdir, "cache-origin-%d.stderr" % self.port), "wb")
        self.proc = subprocess.Popen([sys.executable, ORIGIN_PY, "--port", str(self.port)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self._err)
        wait_port(self.port, self.proc, 15.0, what="cache origin")

    def call(self, method, path):
        with Client(self.port) as c:
            return c.request(method, path)

    def count(self, path):
        return self.call("GET", "/__count?path=" + urllib.parse.quote(path)).json()["count"]

    def last(self, path):
        return self.call("GET", "/__count?path=" + urllib.parse.quote(path)).json()["last"]

    def fail(self, on, mode="500"):
        self.call("POST", "/__fail?on=%d&mode=%s" % (1 if on else 0, mode))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
        self._err.close()


def q(path, *fields, **opts):
    """/path?h=Name:Value&...&opt=value"""
    parts = [("h", f) for f in fields] + list(opts.items())
    return path + "?" + urllib.parse.urlencode(parts)


@pytest.fixture(scope="module")
def env(module_launcher):
    origin = Origin(module_launcher.workdir)
    module_launcher.backends.append(origin)
    aport, wport = free_port(), free_port()
    log = os.path.join(module_launcher.workdir, "cache-access.log")
    warm_list = os.path.join(module_launcher.workdir, "prewarm.txt")
    with open(warm_list, "w") as f:
        f.write("# URLs to pre-warm\n\n")
        for i in range(3):
            f.write("http://127.0.0.1:%d%s\n" % (wport, q("/wfile/%d" % i, "Cache-Control: max-age=60")))
    cfg = make_config(wport, {"o": [origin.port]}, [
        {"path": "/ttl/", "upstream": "o", "cache": {"default_ttl": "60s"}},
        {"path": "/big/", "upstream": "o",
         "cache": {"max_size": "4m", "max_object": "64k"}},
        {"path": "/gz/", "upstream": "o", "cache": "on", "compress": "on"},
        {"path": "/key/", "upstream": "o",
         "cache": {"key": {"ignore_query": ["utm"], "headers": ["X-Tenant"]}}},
        {"path": "/", "upstream": "o",
         "cache": {"coalesce_wait": "5s", "pass_ttl": "5s", "tag_header": "Surrogate-Key",
                   "prewarm_file": warm_list}},
    ], workers=2, access=log, extra={"admin": {"listen": "127.0.0.1:%d" % aport}})
    w = module_launcher.weir(cfg, port=wport)
    wait_port(aport, w.proc, 10, what="weir admin")

    class Env:
        pass
    e = Env()
    e.weir, e.origin, e.aport, e.log = w, origin, aport, log
    return e


def get(env, path, headers=None, method="GET"):
    with Client(env.weir.port) as c:
        r = c.request(method, path, headers)
    # The store happens right after the last byte is written: give it that moment, so that
    # the next request of a test sees what this one stored (see HITS).
    time.sleep(0.02)
    return r


def admin(env, path, method="POST"):
    with Client(env.aport) as c:
        return c.request(method, path)


def warm_finished(env, timeout=10.0):
    """The pre-warm's progress in /status once it stopped running."""
    deadline = time.time() + timeout
    while True:
        with Client(env.aport) as c:
            w = c.get("/status").json()["cache_warm"]
        if not w["running"] or time.time() > deadline:
            return w
        time.sleep(0.1)


def xc(r):
    return r.header("X-Cache")


# From the store. A request sent right after the response that filled the cache may reach the
# other worker before the filling exchange has stored it (the store happens right after the
# last byte is written): it then joins that fill and is answered from it as COALESCED.
HITS = ("HIT", "COALESCED")


# ---- storing and serving ---------------------------------------------------------------------

def test_fresh_response_is_stored_and_served_with_age(env):
    p = q("/fresh", "Cache-Control: max-age=60")
    a = get(env, p)
    assert a.status == 200 and xc(a) == "MISS"
    time.sleep(1.1)
    b = get(env, p)
    assert xc(b) in HITS and b.body == a.body
    assert int(b.header("Age")) >= 1
    assert env.origin.count("/fresh") == 1
    assert b.header("X-Request-Id") != a.header("X-Request-Id")


def test_age_from_upstream_counts(env):
    p = q("/aged", "Cache-Control: max-age=100", "Age: 50")
    get(env, p)
    r = get(env, p)
    assert xc(r) in HITS and int(r.header("Age")) >= 50
    p = q("/aged2", "Cache-Control: max-age=10", "Age: 50")  # already stale
    get(env, p)
    r = get(env, p)
    assert xc(r) == "MISS" and env.origin.count("/aged2") == 2


@pytest.mark.parametrize("name,fields", [
    ("nostore", ["Cache-Control: no-store, max-age=60"]),
    ("private", ["Cache-Control: private, max-age=60"]),
    ("nofresh", []),                                        # no freshness, no validator
    ("vstar", ["Cache-Control: max-age=60", "Vary: *"]),
    ("partial", ["Cache-Control: max-age=60"]),
])
def test_not_stored(env, name, fields):
    p = q("/" + name, *fields, **({"status": "206"} if name == "partial" else {}))
    get(env, p)
    r = get(env, p)
    assert xc(r) in ("MISS", "PASS"), r
    assert env.origin.count("/" + name) == 2


def test_request_no_store_is_not_stored(env):
    p = q("/reqnostore", "Cache-Control: max-age=60")
    get(env, p, {"Cache-Control": "no-store"})
    get(env, p)
    assert env.origin.count("/reqnostore") == 2


def test_expires_and_heuristic_and_default_ttl(env):
    p = q("/expires", "Expires: Thu, 01 Jan 2099 00:00:00 GMT")
    get(env, p)
    assert xc(get(env, p)) in HITS
    p = q("/badexpires", "Expires: 0")          # invalid: already expired
    get(env, p)
    assert env.origin.count("/badexpires") == 1
    assert xc(get(env, p)) != "HIT"
    p = q("/heur", "Last-Modified: Mon, 01 Jan 2001 00:00:00 GMT")   # 10 % of a long time
    get(env, p)
    assert xc(get(env, p)) in HITS
    p = q("/ttl/plain")                          # nothing but the route's default_ttl
    get(env, p)
    assert xc(get(env, p)) in HITS


def test_unknown_directives_ignored_and_malformed_max_age_stale(env):
    p = q("/unk", "Cache-Control: foo=bar, max-age=60, baz")
    get(env, p)
    assert xc(get(env, p)) in HITS
    p = q("/malformed", "Cache-Control: max-age=abc", "ETag: \"m\"")
    get(env, p)
    get(env, p)
    assert env.origin.count("/malformed") == 2   # stored stale: revalidated each time


def test_s_maxage_wins_over_max_age(env):
    p = q("/smax", "Cache-Control: max-age=60, s-maxage=1")
    get(env, p)
    time.sleep(2.2)
    r = get(env, p)
    assert xc(r) != "HIT" and env.origin.count("/smax") == 2


# ---- revalidation --------------------------------------------------------------------------

def test_no_cache_revalidates_with_validators(env):
    p = q("/nocache", "Cache-Control: no-cache", "ETag: \"v1\"", etag304="1")
    a = get(env, p)
    b = get(env, p)
    assert xc(b) == "REVALIDATED" and b.body == a.body
    assert env.origin.count("/nocache") == 2
    assert env.origin.last("/nocache")["headers"].get("If-None-Match") == "\"v1\""


def test_stale_revalidated_with_if_modified_since_and_304_updates_fields(env):
    lm = "Mon, 01 Jan 2001 00:00:00 GMT"
    # max-age 3: after the revalidation the object is fresh for 3 s more (Date has 1 s steps),
    # so the next request is a hit even on a loaded machine
    p = q("/ims", "Cache-Control: max-age=3", "Last-Modified: " + lm, "X-Version: 1",
          etag304="1")
    a = get(env, p)
    time.sleep(4.2)
    b = get(env, p)
    assert xc(b) == "REVALIDATED" and b.body == a.body
    assert env.origin.last("/ims")["headers"].get("If-Modified-Since") == lm
    # the 304 carried the same fields; a later hit is fresh again
    c = get(env, p)
    assert xc(c) in HITS and env.origin.count("/ims") == 2


def test_304_header_update(env):
    # stored with X-Count: 1; the 304 of the revalidation says X-Count: 2. max-age 3 as in
    # the test above: Date has 1 s steps, so max-age=1 can be stale again right after the 304
    p = q("/upd", "Cache-Control: max-age=3", "ETag: \"u\"", etag304="1", count_header="1")
    a = get(env, p)
    assert a.header("X-Count") == "1"
    time.sleep(4.2)
    b = get(env, p)
    assert xc(b) == "REVALIDATED" and b.body == a.body and b.header("X-Count") == "2"
    c = get(env, p)
    assert xc(c) in HITS and c.header("X-Count") == "2" and c.body == a.body


def test_request_no_cache_and_max_age_0_revalidate(env):
    p = q("/reqnc", "Cache-Control: max-age=60", "ETag: \"r\"", etag304="1")
    get(env, p)
    assert xc(get(env, p, {"Cache-Control": "no-cache"})) == "REVALIDATED"
    assert xc(get(env, p, {"Cache-Control": "max-age=0"})) == "REVALIDATED"
    assert xc(get(env, p, {"Pragma": "no-cache"})) == "REVALIDATED"
    assert xc(get(env, p)) in HITS
    assert env.origin.count("/reqnc") == 4


def test_must_revalidate_refuses_max_stale(env):
    p = q("/mr", "Cache-Control: max-age=1, must-revalidate")
    get(env, p)
    time.sleep(2.2)
    r = get(env, p, {"Cache-Control": "max-stale=1000"})
    assert xc(r) != "STALE" and env.origin.count("/mr") == 2
    p = q("/ms", "Cache-Control: max-age=1")
    get(env, p)
    time.sleep(2.2)
    r = get(env, p, {"Cache-Control": "max-stale=1000"})
    assert xc(r) == "STALE" and env.origin.count("/ms") == 1


def test_only_if_cached(env):
    r = get(env, "/oic-none", {"Cache-Control": "only-if-cached"})
    assert r.status == 504
    assert env.origin.count("/oic-none") == 0


# ---- answers from the store ------------------------------------------------------------------

def test_conditional_requests_answered_from_cache(env):
    lm = "Mon, 01 Jan 2001 00:00:00 GMT"
    p = q("/cond", "Cache-Control: max-age=60", "ETag: \"c1\"", "Last-Modified: " + lm)
    get(env, p)
    r = get(env, p, {"If-None-Match": "\"c1\""})
    assert r.status == 304 and r.body == b"" and r.header("ETag") == "\"c1\""
    assert r.header("Content-Type") is None
    r = get(env, p, {"If-None-Match": "W/\"c1\", \"zz\""})
    assert r.status == 304
    r = get(env, p, {"If-Modified-Since": "Tue, 01 Jan 2002 00:00:00 GMT"})
    assert r.status == 304
    r = get(env, p, {"If-None-Match": "\"other\""})
    assert r.status == 200
    assert env.origin.count("/cond") == 1
    # no validator at all: If-Modified-Since compares with the stored Date
    p = q("/conddate", "Cache-Control: max-age=60")
    get(env, p)
    assert get(env, p, {"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}).status == 304
    assert get(env, p, {"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}).status == 200


def test_head_from_stored_get_and_range(env):
    p = q("/hr", "Cache-Control: max-age=60", body="0123456789")
    get(env, p)
    h = get(env, p, method="HEAD")
    assert h.status == 200 and h.body == b"" and h.header("Content-Length") == "10"
    assert xc(h) in HITS
    r = get(env, p, {"Range": "bytes=2-4"})
    assert r.status == 206 and r.body == b"234" and r.header("Content-Range") == "bytes 2-4/10"
    r = get(env, p, {"Range": "bytes=20-30"})
    assert r.status == 416
    assert env.origin.count("/hr") == 1


def test_vary_variants(env):
    p = q("/vary", "Cache-Control: max-age=60", "Vary: Accept-Language")
    en = get(env, p, {"Accept-Language": "en"})
    fr = get(env, p, {"Accept-Language": "fr"})
    assert en.body != fr.body
    assert get(env, p, {"Accept-Language": "en"}).body == en.body
    assert xc(get(env, p, {"Accept-Language": "fr"})) in HITS
    assert env.origin.count("/vary") == 2


def test_vary_normalised_values(env):
    p = q("/varyn", "Cache-Control: max-age=60", "Vary: Accept-Encoding")
    get(env, p, {"Accept-Encoding": "gzip, br"})
    r = get(env, p, [("Accept-Encoding", "GZIP"), ("Accept-Encoding", " br ")])
    assert xc(r) in HITS


def test_authorization(env):
    p = q("/auth", "Cache-Control: max-age=60")
    get(env, p, {"Authorization": "Bearer x"})
    get(env, p, {"Authorization": "Bearer x"})
    assert env.origin.count("/auth") == 2        # not stored
    p = q("/authpub", "Cache-Control: public, max-age=60")
    get(env, p, {"Authorization": "Bearer x"})
    assert xc(get(env, p, {"Authorization": "Bearer y"})) in HITS
    p = q("/authstored", "Cache-Control: max-age=60")
    get(env, p)                                   # stored from an anonymous request
    r = get(env, p, {"Authorization": "Bearer z"})
    assert xc(r) != "HIT" and env.origin.count("/authstored") == 2


def test_unsafe_method_invalidates(env):
    p = q("/inv", "Cache-Control: max-age=60")
    get(env, p)
    assert xc(get(env, p)) in HITS
    r = get(env, p, method="POST")
    assert r.status == 200
    assert xc(get(env, p)) == "MISS"
    # Location of another URL on the same origin invalidates it too
    other = q("/inv2", "Cache-Control: max-age=60")
    get(env, other)
    get(env, q("/inv3", "Location: " + other), method="DELETE")
    assert xc(get(env, other)) == "MISS"
    # an error response invalidates nothing
    get(env, p)
    get(env, q("/inv", "Cache-Control: max-age=60", status="500"), method="PUT")
    assert xc(get(env, p)) in HITS


def test_key_options(env):
    p = q("/key/k", "Cache-Control: max-age=60")
    get(env, p + "&utm=1", {"X-Tenant": "a"})
    assert xc(get(env, p + "&utm=2", {"X-Tenant": "a"})) in HITS
    assert xc(get(env, p, {"X-Tenant": "b"})) == "MISS"


def test_chunked_response_stored(env):
    p = q("/chunked", "Cache-Control: max-age=60", size="100000", chunked="1")
    a = get(env, p)
    b = get(env, p)
    assert xc(b) in HITS and b.body == a.body and len(b.body) == 100000


def test_too_large_streams_and_is_not_stored(env):
    p = q("/big/x", "Cache-Control: max-age=60", size=str(3 << 20))
    a = get(env, p)
    assert len(a.body) == 3 << 20
    b = get(env, p)
    assert len(b.body) == 3 << 20 and xc(b) != "HIT"
    p = q("/big/y", "Cache-Control: max-age=60", size=str(1 << 20), chunked="1")
    get(env, p)
    assert xc(get(env, p)) != "HIT"
    p = q("/big/small", "Cache-Control: max-age=60", size="1000")
    get(env, p)
    assert xc(get(env, p)) in HITS


def test_compressed_on_the_way_out(env):
    big = "x" * 4000
    p = q("/gz/page", "Cache-Control: max-age=60", "Content-Type: text/html", body=big)
    a = get(env, p, {"Accept-Encoding": "gzip"})
    assert a.header("Content-Encoding") == "gzip"
    b = get(env, p)                               # identity from the same stored object
    assert xc(b) in HITS and b.body == big.encode() and b.header("Content-Encoding") is None
    c = get(env, p, {"Accept-Encoding": "gzip"})
    assert xc(c) in HITS and c.header("Content-Encoding") == "gzip"
    assert env.origin.count("/gz/page") == 1


# ---- coalescing --------------------------------------------------------------------------------

def test_coalescing_200_cold_requests_one_upstream(env):
    p = q("/coal", "Cache-Control: max-age=60", delay="300")
    with concurrent.futures.ThreadPoolExecutor(200) as ex:
        rs = list(ex.map(lambda _: get(env, p), range(200)))
    assert all(r.status == 200 for r in rs)
    assert len({r.body for r in rs}) == 1
    assert env.origin.count("/coal") == 1
    labels = {xc(r) for r in rs}
    assert "MISS" in labels and labels <= {"MISS", "COALESCED", "HIT"}


def test_hit_for_pass(env):
    p = q("/hfp", delay="200")                    # uncacheable
    with concurrent.futures.ThreadPoolExecutor(20) as ex:
        rs = list(ex.map(lambda _: get(env, p), range(20)))
    assert all(r.status == 200 for r in rs)
    assert env.origin.count("/hfp") == 20         # everyone went up: none served another's
    r = get(env, p)
    assert xc(r) == "PASS"                        # later misses do not wait


# ---- stale ---------------------------------------------------------------------------------------

def test_stale_while_revalidate(env):
    p = q("/swr", "Cache-Control: max-age=1, stale-while-revalidate=60")
    a = get(env, p)
    time.sleep(2.2)
    b = get(env, p)
    assert xc(b) == "STALE" and b.body == a.body
    deadline = time.time() + 5
    while env.origin.count("/swr") < 2 and time.time() < deadline:
        time.sleep(0.05)
    assert env.origin.count("/swr") == 2           # refreshed in the background
    time.sleep(0.2)
    c = get(env, p)
    assert c.body != a.body


@pytest.mark.parametrize("mode", ["500", "close"])
def test_stale_if_error(env, mode):
    name = "/sie" + mode
    p = q(name, "Cache-Control: max-age=1, stale-if-error=60")
    a = get(env, p)
    time.sleep(2.2)
    env.origin.fail(True, mode)
    try:
        r = get(env, p)
        assert r.status == 200 and r.body == a.body and xc(r) == "STALE"
    finally:
        env.origin.fail(False)
    p = q(name + "x", "Cache-Control: max-age=1")   # no stale-if-error: the error goes out
    get(env, p)
    time.sleep(2.2)
    env.origin.fail(True, mode)
    try:
        r = get(env, p)
        assert r.status >= 500
    finally:
        env.origin.fail(False)


# ---- admin, observability -----------------------------------------------------------------------

def test_purge_url_prefix_tag_ban(env):
    base = "http://127.0.0.1:%d" % env.weir.port
    paths = [q("/pg/a", "Cache-Control: max-age=60", "Surrogate-Key: red blue"),
             q("/pg/b", "Cache-Control: max-age=60", "Surrogate-Key: blue"),
             q("/pg/c", "Cache-Control: max-age=60"),
             q("/pgx/d", "Cache-Control: max-age=60")]
    for p in paths:
        get(env, p)
        assert xc(get(env, p)) in HITS
    r = admin(env, "/cache/purge?url=" + urllib.parse.quote(base + paths[2], safe=""))
    assert r.status == 200 and r.json() == {"purged": 1}
    assert xc(get(env, paths[2])) == "MISS"
    r = admin(env, "/cache/purge?tag=red")
    assert r.json() == {"purged": 1}
    assert xc(get(env, paths[0])) == "MISS"
    assert xc(get(env, paths[1])) in HITS
    r = admin(env, "/cache/purge?prefix=" + urllib.parse.quote(base + "/pg/", safe=""))
    assert r.json()["purged"] == 3
    assert xc(get(env, paths[3])) in HITS
    r = admin(env, "/cache/ban?pattern=" + urllib.parse.quote("*/pgx/*", safe=""))
    assert r.json()["purged"] == 1
    assert xc(get(env, paths[3])) == "MISS"
    # soft purge: kept, but revalidated
    r = admin(env, "/cache/purge?soft=1&prefix=" + urllib.parse.quote(base + "/pgx/", safe=""))
    assert r.json() == {"marked_stale": 1}
    assert admin(env, "/cache/purge?url=relative").status == 400
    assert admin(env, "/cache/purge", method="GET").status == 405


def test_metrics_status_and_access_log(env):
    p = q("/obs", "Cache-Control: max-age=60")
    get(env, p)
    get(env, p)
    with Client(env.aport) as c:
        m = c.get("/metrics").text()
        s = c.get("/status").json()
    assert 'weir_cache_hits_total{route="*/"}' in m
    assert "weir_cache_hit_ratio" in m
    caches = {x["route"]: x for x in s["caches"]}
    assert caches["*/"]["hits"] >= 1 and caches["*/"]["objects"] >= 1
    deadline = time.time() + 5
    seen = set()
    while time.time() < deadline and not {"MISS", "HIT"} <= seen:
        time.sleep(0.2)
        with open(env.log) as f:
            for line in f:
                d = json.loads(line)
                if d["path"].startswith("/obs"):
                    seen.add(d.get("cache"))
    assert {"MISS", "HIT"} <= seen


# ---- config ----------------------------------------------------------------------------------------

def test_bad_config_file_line_col(launcher, tmp_path):
    text = ("listen: [127.0.0.1:1]\nupstreams:\n  o: {servers: [127.0.0.1:2]}\nroutes:\n"
            "  - path: /\n    upstream: o\n    cache: {prewarm_file: /nonexistent/list}\n")
    path = tmp_path / "badwarm.yaml"
    path.write_text(text)
    r = subprocess.run([launcher.binary, "-t", "-c", str(path)], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode != 0 and "badwarm.yaml:7:27: prewarm_file" in r.stderr, r.stderr

    text = ("listen: [127.0.0.1:1]\nupstreams:\n  o: {servers: [127.0.0.1:2]}\nroutes:\n"
            "  - path: /\n    upstream: o\n    cache:\n      policy: arc\n")
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    r = subprocess.run([launcher.binary, "-t", "-c", str(path)], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode != 0
    assert "bad.yaml:8:15: unknown cache policy 'arc'" in r.stderr
    path.write_text(text.replace("policy: arc", "max_size: 1m\n      max_object: 1m"))
    r = subprocess.run([launcher.binary, "-t", "-c", str(path)], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode != 0 and "bad.yaml:9:19: max_object" in r.stderr, r.stderr


def test_prewarm(env):
    base = "http://127.0.0.1:%d" % env.weir.port
    paths = [q("/warm/%d" % i, "Cache-Control: max-age=60") for i in range(5)]
    query = "&".join("url=" + urllib.parse.quote(base + p, safe="") for p in paths)
    r = admin(env, "/cache/warm?concurrency=2&rate=50&" + query + "&url=" +
              urllib.parse.quote("http://127.0.0.1:1/nothing", safe=""))
    assert r.status == 202 and r.json() == {"queued": 6}
    w = warm_finished(env)
    assert w["done"] == 5 and w["failed"] == 1 and w["bytes"] > 0
    for p in paths:
        assert xc(get(env, p)) in HITS
    with Client(env.aport) as c:
        assert 'weir_cache_warm_urls{state="done"} 5' in c.get("/metrics").text()


def test_prewarm_from_config_file(env):
    time.sleep(0.5)  # the other warm-up may still be finishing
    r = admin(env, "/cache/warm?from=config")
    assert r.status == 202 and r.json() == {"queued": 3}
    w = warm_finished(env)
    assert w["done"] == 3
    for i in range(3):
        assert xc(get(env, q("/wfile/%d" % i, "Cache-Control: max-age=60"))) == "HIT"


def test_store_survives_reload_and_resize(launcher, tmp_path):
    origin = Origin(str(tmp_path))
    launcher.backends.append(origin)
    routes = [{"path": "/", "upstream": "o", "cache": {"max_size": "64m"}}]
    port = free_port()
    cfg = make_config(port, {"o": [origin.port]}, routes, workers=2, extra={"admin": "off"})
    w = launcher.weir(cfg, port=port)
    p = q("/reload", "Cache-Control: max-age=60")
    with Client(w.port) as c:
        c.get(p)
        assert xc(c.get(p)) in HITS
    cfg["routes"][0]["cache"]["max_size"] = "32m"
    w.reload(cfg)
    time.sleep(1.0)
    with Client(w.port) as c:
        r = c.get(p)
    assert xc(r) in HITS and origin.count("/reload") == 1
    assert "reload refused" not in w.stderr_text()
    cfg["routes"][0]["cache"] = "off"   # the store goes with the last generation using it
    w.reload(cfg)
    time.sleep(1.0)
    with Client(w.port) as c:
        r = c.get(p)
    assert r.header("X-Cache") is None and origin.count("/reload") == 2


def test_cdn_cache_control_takes_precedence(env):
    p = q("/cdncc", "Cache-Control: no-store", "CDN-Cache-Control: max-age=60")
    get(env, p)
    assert xc(get(env, p)) in HITS
    p = q("/cdncc2", "Cache-Control: max-age=60", "CDN-Cache-Control: no-store")
    get(env, p)
    get(env, p)
    assert env.origin.count("/cdncc2") == 2


def test_age_list_uses_first_member(env):
    p = q("/agelist", "Cache-Control: max-age=100", "Age: 30, 5000")
    get(env, p)
    r = get(env, p)
    assert xc(r) in HITS and 30 <= int(r.header("Age")) < 100


def test_range_or_conditional_miss_does_not_mark_pass(env):
    p = q("/rangemiss", "Cache-Control: max-age=60", "ETag: \"rm\"", body="0123456789",
          ranges="1", etag304="1")
    r = get(env, p, {"Range": "bytes=0-1"})
    assert r.status == 206 and r.body == b"01"
    r = get(env, p, {"If-None-Match": "\"rm\""})
    assert r.status == 304
    a = get(env, p)
    assert xc(a) == "MISS" and a.body == b"0123456789"   # not PASS
    assert xc(get(env, p)) in HITS


def test_date_added_when_missing(env):
    p = q("/nodate", "Cache-Control: max-age=60", nodate="1")
    a = get(env, p)
    assert a.header("Date") is None
    b = get(env, p)
    assert xc(b) in HITS and b.header("Date")


def test_sticky_cookie_not_stored(launcher, tmp_path):
    origin = Origin(str(tmp_path))
    launcher.backends.append(origin)
    port = free_port()
    cfg = make_config(port, {"o": {"servers": [origin.port], "sticky_cookie": "srv"}},
                      [{"path": "/", "upstream": "o", "cache": "on"}], workers=1,
                      extra={"admin": "off"})
    w = launcher.weir(cfg, port=port)
    p = q("/sticky", "Cache-Control: max-age=60", "Set-Cookie: app=1")
    with Client(w.port) as c:
        a = c.get(p)
        time.sleep(0.02)
        b = c.get(p)
    assert any(v.startswith("srv=") for v in a.header_list("Set-Cookie"))
    assert xc(b) in HITS
    assert b.header_list("Set-Cookie") == ["app=1"]
