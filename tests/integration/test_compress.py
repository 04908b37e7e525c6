"""Compression on the pipeline (issue 9 part 3): gzip, brotli and zstd chosen by Accept-Encoding
q-values and the configured preference, streamed (Content-Length and chunked upstreams, HTTP/1.0
close-delimited), decoded here by Python's zlib/brotli/zstandard and compared byte for byte;
the exclusions (small, type, no-transform, already encoded, HEAD, 206, 304); header edits
(Vary, weak ETag); decoding for clients that do not accept the upstream's coding; a 1 GiB
compressible response with bounded RSS; and config errors with file:line:col."""

import os
import subprocess
import sys
import zlib

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from backend import text_bytes  # noqa: E402
from conftest import Client, RssSampler, make_config  # noqa: E402

brotli = pytest.importorskip("brotli")
zstandard = pytest.importorskip("zstandard")


def decode(coding, data):
    if coding == "gzip":
        return zlib.decompress(data, 47)  # gzip wrapper, checks the trailer
    if coding == "br":
        return brotli.decompress(data)
    if coding == "zstd":
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    raise AssertionError(coding)


@pytest.fixture(scope="module")
def env(module_launcher):
    b = module_launcher.backend("c")
    routes = [
        {"path": "/small-min", "upstream": "be", "compress": {"min_length": 100000}},
        {"path": "/gzip-only", "upstream": "be",
         "compress": {"codings": ["gzip"], "levels": {"gzip": 6}}},
        {"path": "/plain", "upstream": "be"},
        {"path": "/", "upstream": "be", "compress": "on"},
    ]
    w = module_launcher.weir(make_config(None, {"be": [b.port]}, routes, workers=1))
    return w, b


def get(w, path, ae=None, method="GET", version="HTTP/1.1", headers=None):
    h = dict(headers or {})
    if ae is not None:
        h["Accept-Encoding"] = ae
    with Client(w.port, timeout=30) as c:
        return c.request(method, path, headers=h, version=version)


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
@pytest.mark.parametrize("chunked", [False, True])
def test_each_coding_round_trips(env, coding, chunked):
    w, _ = env
    n = 200000
    r = get(w, "/text?n=%d%s" % (n, "&chunked=1" if chunked else ""), ae=coding)
    assert r.status == 200
    assert r.header("content-encoding") == coding
    assert r.header("content-length") is None and r.chunked
    assert "accept-encoding" in (r.header("vary") or "").lower()
    assert decode(coding, r.body) == text_bytes(n)
    assert len(r.body) < n / 5


def test_q_values_and_preference(env):
    w, _ = env
    assert get(w, "/text?n=5000", ae="gzip;q=0.5, br;q=0.9").header("content-encoding") == "br"
    # equal q: the configured preference (zstd, br, gzip)
    assert get(w, "/text?n=5000", ae="gzip, br, zstd").header("content-encoding") == "zstd"
    assert get(w, "/text?n=5000", ae="*").header("content-encoding") == "zstd"
    assert get(w, "/text?n=5000", ae="*;q=0, gzip").header("content-encoding") == "gzip"
    r = get(w, "/text?n=5000", ae="identity")
    assert r.header("content-encoding") is None and len(r.body) == 5000
    assert "accept-encoding" in r.header("vary").lower()  # the answer depended on it
    r = get(w, "/text?n=5000")
    assert r.header("content-encoding") is None and r.body == text_bytes(5000)
    r = get(w, "/gzip-only/text?n=5000", ae="br, zstd, gzip;q=0.1")
    assert r.header("content-encoding") == "gzip"
    assert decode("gzip", r.body) == text_bytes(5000)


@pytest.mark.parametrize("path,method,headers", [
    ("/text?n=100", "GET", None),                                   # below min_length
    ("/small-min/text?n=50000", "GET", None),                        # the route's min_length
    ("/text?n=5000&type=image/png", "GET", None),                    # not a text type
    ("/text?n=5000&cc=no-transform", "GET", None),                   # Cache-Control: no-transform
    ("/text?n=5000", "HEAD", None),
    ("/plain/text?n=5000", "GET", None),                             # route without compress
], ids=["small", "route-min", "type", "no-transform", "head", "off"])
def test_exclusions(env, path, method, headers):
    w, _ = env
    r = get(w, path, ae="gzip, br, zstd", method=method, headers=headers)
    assert r.status == 200
    assert r.header("content-encoding") is None
    if method == "GET":
        n = int(path.split("n=")[1].split("&")[0])
        assert r.body == text_bytes(n)


def test_already_encoded_passes_through_and_is_decoded_for_others(env):
    w, _ = env
    r = get(w, "/text?n=20000&gzip=1", ae="gzip")
    assert r.header("content-encoding") == "gzip"
    assert decode("gzip", r.body) == text_bytes(20000)
    # a client that does not take gzip gets it decoded
    r = get(w, "/text?n=20000&gzip=1", ae="br;q=0")
    assert r.header("content-encoding") is None
    assert r.body == text_bytes(20000)
    assert r.header("content-length") is None


def test_strong_etag_made_weak(env):
    w, _ = env
    r = get(w, '/text?n=5000&etag="v1"', ae="gzip")
    assert r.header("etag") == 'W/"v1"'
    r = get(w, '/text?n=5000&etag=W/"v2"', ae="gzip")
    assert r.header("etag") == 'W/"v2"'
    r = get(w, '/text?n=5000&etag="v3"')
    assert r.header("etag") == '"v3"'


def test_http10_client_gets_close_delimited_body(env):
    w, _ = env
    with Client(w.port, timeout=10) as c:
        c.send(b"GET /text?n=30000 HTTP/1.0\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
        r = c.read_response()
        assert r.header("content-encoding") == "gzip"
        assert r.eof_delimited and not r.chunked
        assert decode("gzip", r.body) == text_bytes(30000)


def test_keepalive_after_compressed_responses(env):
    w, _ = env
    with Client(w.port, timeout=10) as c:
        for coding in ("gzip", "br", "zstd", "gzip"):
            r = c.request("GET", "/text?n=40000", headers={"Accept-Encoding": coding})
            assert decode(coding, r.body) == text_bytes(40000)
        r = c.get("/text?n=10")
        assert r.body == text_bytes(10)


def test_one_gib_streams_with_bounded_rss(env):
    w, _ = env
    n = 1 << 30
    s = RssSampler(w.pid)
    d = zstandard.ZstdDecompressor().decompressobj()
    got = [0]

    def sink(mv):
        out = d.decompress(bytes(mv))
        got[0] += len(out)

    with Client(w.port, timeout=120) as c:
        c.send(c.build("GET", "/text?n=%d" % n, headers={"Accept-Encoding": "zstd"}))
        r = c.read_response(sink=sink)
    growth = s.stop()
    assert r.header("content-encoding") == "zstd"
    assert got[0] == n
    assert growth < 32 * 1024, "RSS grew %d KiB streaming 1 GiB compressed" % growth


def test_config_errors_have_positions(weir_bin, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("listen: ['127.0.0.1:1']\nupstreams: {b: {servers: ['127.0.0.1:2']}}\n"
                   "routes:\n  - path: /\n    upstream: b\n"
                   "    compress: {codings: [gzip, lzma]}\n")
    p = subprocess.run([weir_bin, "-t", "-c", str(bad)], capture_output=True, text=True)
    assert p.returncode != 0
    assert "bad.yaml:6:32: unknown coding 'lzma'" in p.stderr, p.stderr
    bad.write_text("listen: ['127.0.0.1:1']\nupstreams: {b: {servers: ['127.0.0.1:2']}}\n"
                   "routes:\n  - path: /\n    upstream: b\n"
                   "    compress: {levels: {gzip: 12}}\n")
    p = subprocess.run([weir_bin, "-t", "-c", str(bad)], capture_output=True, text=True)
    assert p.returncode != 0 and "bad.yaml:6:" in p.stderr and "level" in p.stderr, p.stderr


def test_top_level_compress_is_every_routes_default(launcher):
    b = launcher.backend("g")
    routes = [{"path": "/off/", "upstream": "be", "compress": "off"},
              {"path": "/br/", "upstream": "be", "compress": {"codings": ["br"]}},
              {"path": "/", "upstream": "be"}]
    w = launcher.weir(make_config(None, {"be": [b.port]}, routes, workers=1,
                                  extra={"compress": {"codings": ["gzip"]}}))
    ae = "gzip, br, zstd"
    assert get(w, "/text?n=5000", ae=ae).header("content-encoding") == "gzip"
    assert get(w, "/off/text?n=5000", ae=ae).header("content-encoding") is None
    assert get(w, "/br/text?n=5000", ae=ae).header("content-encoding") == "br"
