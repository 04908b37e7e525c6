"""Static files (`static:` on a route) over the wire: headers and MIME types, HEAD, 304, 206 /
416 / If-Range, precompressed siblings with Vary, Cache-Control rules, traversal attempts and
symlinks out of the root, hidden files, directory redirects, the single-page-app fallback,
405, keep-alive after every kind of answer, a changed file, and a 1 GiB sparse file downloaded
with bounded RSS (and a client that leaves in the middle of it)."""

import os
import time

import pytest

from conftest import Client, Closed, RssSampler

MIB = 1 << 20
GIB = 1 << 30
OLD = 1700000000  # Tue, 14 Nov 2023 22:13:20 GMT


def write(root, rel, data, mtime=None):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    base = str(tmp_path_factory.mktemp("static"))
    root = os.path.join(base, "www")
    write(root, "index.html", "<h1>home</h1>\n")
    write(root, "a.txt", "0123456789", mtime=OLD)
    for ext in ("css", "js", "json", "png", "svg", "wasm", "woff2", "webp", "unknownext"):
        write(root, "types/f." + ext, "x")
    write(root, "app.js", "console.log('plain, and long enough to compress');\n", mtime=OLD)
    write(root, "app.js.br", "BR-BYTES", mtime=OLD)
    write(root, "app.js.gz", "GZIP-BYTES", mtime=OLD)
    write(root, "app.js.zst", "ZSTD-BYTES", mtime=OLD)
    write(root, "old.css", "body{}", mtime=OLD)
    write(root, "old.css.gz", "STALE", mtime=OLD - 100)  # older than the file: never served
    write(root, "assets/app.3f9a2b1c.js", "fingerprinted")
    write(root, "assets/logo.png", "png")
    write(root, "docs/index.html", "docs index")
    os.makedirs(os.path.join(root, "empty"))
    write(root, ".env", "SECRET=1")
    write(root, ".git/config", "[core]")
    write(root, ".well-known/security.txt", "Contact: x")
    write(root, "changing.txt", "version 1")
    os.symlink("/etc", os.path.join(root, "etc-link"))
    os.symlink("/etc/passwd", os.path.join(root, "passwd-link"))
    os.symlink("../outside.txt", os.path.join(root, "up-link"))
    os.symlink("a.txt", os.path.join(root, "in-link.txt"))
    write(base, "outside.txt", "OUTSIDE")
    big = os.path.join(root, "big.bin")
    with open(big, "wb") as f:
        f.truncate(GIB)  # sparse: no disk, zeros when read
    app = os.path.join(base, "app")
    write(app, "index.html", "<div id=app></div>")
    write(app, "main.3f9a2b1c.js", "app()")
    write(app, "sub/index.html", "sub")
    return {"root": root, "app": app, "base": base}


@pytest.fixture(scope="module")
def server(module_launcher, site):
    cfg = {
        "workers": 2,
        "timeouts": {"client_header": "10s", "client_body": "30s", "client_send": "30s",
                     "keepalive": "75s", "shutdown": "5s"},
        "log": {"level": "info", "access": "off"},
        "routes": [
            {"path": "/", "static": {
                "root": site["root"],
                "open_file_cache": {"max": 100, "valid": "200ms"},
                "cache_control": [
                    {"match": "*.html", "value": "no-cache"},
                    {"fingerprinted": True, "ext": ["js", "css"],
                     "value": "public, max-age=31536000, immutable"},
                    {"match": "/assets/**", "value": "public, max-age=86400"},
                ]}},
            {"path": "/noinline/", "static": {
                "root": site["root"], "strip_prefix": True, "open_file_cache": {"inline": 0}}},
            {"path": "/gz/", "compress": {"codings": ["gzip"], "types": ["text/plain"]},
             "static": {"root": site["root"], "strip_prefix": True,
                        "open_file_cache": {"inline": 0}}},
            {"path": "/app/", "static": {
                "root": site["app"], "strip_prefix": True,
                "try_files": ["$uri", "$uri/", "/index.html"]}},
        ],
    }
    return module_launcher.weir(cfg)


def get(server, path, headers=None, method="GET"):
    with Client(server.port) as c:
        return c.request(method, path, headers)


def status_of(server, raw_target):
    """The response to a raw request line, or None when weir closed without one."""
    with Client(server.port) as c:
        c.send(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % raw_target).encode("latin-1"))
        try:
            return c.read_response()
        except Closed:
            return None


def test_file_with_validators(server):
    r = get(server, "/a.txt")
    assert r.status == 200
    assert r.body == b"0123456789"
    assert r.header("Content-Type") == "text/plain; charset=utf-8"
    assert r.header("Content-Length") == "10"
    assert r.header("Last-Modified") == "Tue, 14 Nov 2023 22:13:20 GMT"
    assert r.header("Accept-Ranges") == "bytes"
    assert r.header("ETag").startswith('"') and r.header("ETag").endswith('"')
    assert r.has("X-Request-Id")
    assert not r.has("Vary")
    assert not r.has("Cache-Control")


@pytest.mark.parametrize("ext,ctype", [
    ("css", "text/css; charset=utf-8"), ("js", "text/javascript; charset=utf-8"),
    ("json", "application/json; charset=utf-8"), ("png", "image/png"),
    ("svg", "image/svg+xml; charset=utf-8"), ("wasm", "application/wasm"),
    ("woff2", "font/woff2"), ("webp", "image/webp"),
    ("unknownext", "application/octet-stream")])
def test_mime_types(server, ext, ctype):
    r = get(server, "/types/f." + ext)
    assert r.status == 200
    assert r.header("Content-Type") == ctype


def test_index_and_html_type(server):
    r = get(server, "/")
    assert r.status == 200
    assert r.body == b"<h1>home</h1>\n"
    assert r.header("Content-Type") == "text/html; charset=utf-8"
    assert r.header("Cache-Control") == "no-cache"


def test_head_then_keepalive(server):
    with Client(server.port) as c:
        r = c.request("HEAD", "/a.txt")
        assert r.status == 200
        assert r.header("Content-Length") == "10"
        assert r.body == b""
        r = c.request("HEAD", "/big.bin")
        assert r.header("Content-Length") == str(GIB)
        r = c.get("/a.txt")  # the same connection: HEAD sent no body bytes
        assert r.body == b"0123456789"


@pytest.mark.parametrize("prefix", ["", "/noinline"])
def test_not_modified(server, prefix):
    etag = get(server, prefix + "/a.txt").header("ETag")
    with Client(server.port) as c:
        c.get = lambda path, headers=None, _get=c.get: _get(prefix + path, headers)
        r = c.get("/a.txt", {"If-None-Match": etag})
        assert r.status == 304
        assert r.header("ETag") == etag
        assert not r.has("Content-Length") and not r.has("Transfer-Encoding")
        r = c.get("/a.txt", {"If-None-Match": 'W/"other", ' + etag})
        assert r.status == 304
        r = c.get("/a.txt", {"If-Modified-Since": "Tue, 14 Nov 2023 22:13:20 GMT"})
        assert r.status == 304
        r = c.get("/a.txt", {"If-Modified-Since": "Tue, 14 Nov 2023 22:13:19 GMT"})
        assert r.status == 200 and r.body == b"0123456789"
        r = c.get("/a.txt", {"If-None-Match": '"nope"'})
        assert r.status == 200
        r = c.get("/a.txt", {"If-Match": '"nope"'})
        assert r.status == 412
        r = c.get("/a.txt")  # still in step after a 304 and a 412
        assert r.status == 200 and r.body == b"0123456789"


@pytest.mark.parametrize("prefix", ["", "/noinline"])  # from memory, and with sendfile
def test_ranges(server, prefix):
    etag = get(server, prefix + "/a.txt").header("ETag")
    with Client(server.port) as c:
        c.get = lambda path, headers=None, _get=c.get: _get(prefix + path, headers)
        r = c.get("/a.txt", {"Range": "bytes=2-5"})
        assert r.status == 206
        assert r.body == b"2345"
        assert r.header("Content-Range") == "bytes 2-5/10"
        assert r.header("Content-Length") == "4"
        r = c.get("/a.txt", {"Range": "bytes=-3"})
        assert r.status == 206 and r.body == b"789"
        r = c.get("/a.txt", {"Range": "bytes=7-"})
        assert r.status == 206 and r.body == b"789"
        r = c.get("/a.txt", {"Range": "bytes=0-1,2-3"})  # touching: one 206 of their union
        assert r.status == 206 and r.body == b"0123"
        r = c.get("/a.txt", {"Range": "bytes=0-0,5-5"})  # apart: the whole file, no multipart
        assert r.status == 200 and r.body == b"0123456789"
        r = c.get("/a.txt", {"Range": "bytes=100-"})
        assert r.status == 416
        assert r.header("Content-Range") == "bytes */10"
        r = c.get("/a.txt", {"Range": "bytes=2-5", "If-Range": etag})
        assert r.status == 206 and r.body == b"2345"
        r = c.get("/a.txt", {"Range": "bytes=2-5",
                             "If-Range": "Tue, 14 Nov 2023 22:13:20 GMT"})
        assert r.status == 206
        r = c.get("/a.txt", {"Range": "bytes=2-5", "If-Range": '"stale"'})
        assert r.status == 200 and r.body == b"0123456789"
        r = c.get("/a.txt", {"Range": "lines=1-2"})
        assert r.status == 200
        r = c.request("HEAD", prefix + "/a.txt", {"Range": "bytes=2-5"})
        assert r.status == 200
        r = c.get("/big.bin", {"Range": "bytes=%d-" % (GIB - 100)})
        assert r.status == 206 and r.body == bytes(100)
        assert r.header("Content-Range") == "bytes %d-%d/%d" % (GIB - 100, GIB - 1, GIB)


@pytest.mark.parametrize("accept,coding,body", [
    (None, None, None),
    ("gzip, deflate, br, zstd", "br", b"BR-BYTES"),
    ("gzip", "gzip", b"GZIP-BYTES"),
    ("zstd, gzip;q=0.5", "zstd", b"ZSTD-BYTES"),
    ("br;q=0, gzip;q=0.8", "gzip", b"GZIP-BYTES"),
    ("br;q=0.5, identity", None, None),
    ("deflate", None, None),
])
def test_precompressed(server, accept, coding, body):
    plain = b"console.log('plain, and long enough to compress');\n"
    r = get(server, "/app.js", {"Accept-Encoding": accept} if accept is not None else None)
    assert r.status == 200
    assert r.header("Vary") == "Accept-Encoding"
    assert r.header("Content-Type") == "text/javascript; charset=utf-8"
    assert r.header("Content-Encoding") == coding
    assert r.body == (body if coding else plain)
    if coding:
        assert r.header("ETag").endswith('-%s"' % coding)
        # its own ETag revalidates its own representation only
        r2 = get(server, "/app.js", {"Accept-Encoding": accept, "If-None-Match": r.header("ETag")})
        assert r2.status == 304
        assert r2.header("Vary") == "Accept-Encoding"
        r3 = get(server, "/app.js", {"If-None-Match": r.header("ETag")})
        assert r3.status == 200 and r3.body == plain


def test_stale_sibling_is_ignored(server):
    r = get(server, "/old.css", {"Accept-Encoding": "gzip"})
    assert r.status == 200
    assert r.body == b"body{}"
    assert not r.has("Content-Encoding")
    assert not r.has("Vary")


def test_cache_control_rules(server):
    assert get(server, "/assets/app.3f9a2b1c.js").header("Cache-Control") == \
        "public, max-age=31536000, immutable"
    assert get(server, "/assets/logo.png").header("Cache-Control") == "public, max-age=86400"
    assert get(server, "/docs/").header("Cache-Control") == "no-cache"
    assert not get(server, "/app.js").has("Cache-Control")


@pytest.mark.parametrize("target,status", [
    ("/../../../../etc/passwd", 400),
    ("/%2e%2e/%2e%2e/etc/passwd", 400),
    ("/%2E%2E%2Fetc%2Fpasswd", 400),
    ("/docs/..%2f..%2fetc/passwd", 400),
    ("/a.txt%00.html", 400),
    ("/..%5c..%5cetc%5cpasswd", 400),
    ("/..\\..\\etc\\passwd", 400),
    ("/%252e%252e/etc/passwd", 404),  # decoded once: a file named "%2e%2e" does not exist
    ("//etc/passwd", 404),             # "//" collapses: etc/passwd under the root
    ("/etc-link/passwd", 404),         # a symlink out of the root
    ("/passwd-link", 404),
    ("/up-link", 404),
    ("/docs/../../outside.txt", 400),
    ("http://x/../../etc/passwd", 400),
    ("/.env", 404),
    ("/.git/config", 404),
    ("/docs/../.env", 404),
    ("/%2eenv", 404),
    ("/empty/", 404),                  # no index, no listing
    ("/a.txt/", 404),
    ("/nothing-here", 404),
])
def test_refused_paths(server, target, status):
    r = status_of(server, target)
    assert r is not None and r.status == status, (target, r)
    assert b"root:" not in r.body and b"OUTSIDE" not in r.body and b"SECRET" not in r.body


def test_allowed_oddities(server):
    assert get(server, "/in-link.txt").body == b"0123456789"  # a symlink inside the root
    assert get(server, "/.well-known/security.txt").body == b"Contact: x"
    assert get(server, "/docs/./../a.txt").body == b"0123456789"
    assert get(server, "/%61.txt").body == b"0123456789"


def test_directory_redirect(server):
    r = get(server, "/docs?x=1")
    assert r.status == 301
    assert r.header("Location") == "/docs/?x=1"
    r = get(server, "/docs/")
    assert r.status == 200 and r.body == b"docs index"
    r = get(server, "/app/sub")  # under strip_prefix the Location keeps the prefix
    assert r.status == 301
    assert r.header("Location") == "/app/sub/"
    assert get(server, "/app/sub/").body == b"sub"


def test_spa_fallback(server):
    with Client(server.port) as c:
        r = c.get("/app/")
        assert r.status == 200 and r.body == b"<div id=app></div>"
        r = c.get("/app/users/42/profile")
        assert r.status == 200 and r.body == b"<div id=app></div>"
        assert r.header("Content-Type") == "text/html; charset=utf-8"
        r = c.get("/app/main.3f9a2b1c.js")
        assert r.status == 200 and r.body == b"app()"
        r = c.get("/app/../a.txt")
        assert r.status == 400
        r = c.get("/app/.env")
        assert r.status == 404  # the fallback does not answer for refused paths


def test_methods(server):
    r = get(server, "/a.txt", method="POST")  # a body unread closes the connection: its own
    assert r.status == 405
    assert r.header("Allow") == "GET, HEAD"
    with Client(server.port) as c:
        r = c.request("DELETE", "/a.txt")
        assert r.status == 405
        assert r.status == 405
        r = c.get("/a.txt")
        assert r.status == 200


def test_changed_file(server, site):
    r1 = get(server, "/changing.txt")
    assert r1.body == b"version 1"
    write(site["root"], "changing.txt", "version two", mtime=time.time() + 5)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        r2 = get(server, "/changing.txt")
        if r2.body == b"version two":
            break
        time.sleep(0.1)
    assert r2.body == b"version two"
    assert r2.header("ETag") != r1.header("ETag")


def test_one_gib_sparse_file_bounded_rss(server):
    assert get(server, "/a.txt").status == 200
    sampler = RssSampler(server.pid, interval=0.05)
    zero = bytes(MIB)
    seen = {"n": 0, "nonzero": 0}

    def sink(mv):
        n = len(mv)
        if mv != zero[:n]:
            seen["nonzero"] += 1
        seen["n"] += n

    try:
        with Client(server.port, timeout=30) as c:
            c.send(c.build("GET", "/big.bin"))
            r = c.read_response(sink=sink)
            assert r.status == 200
            assert r.header("Content-Length") == str(GIB)
            r = c.get("/a.txt")  # the connection is still in step after 1 GiB
            assert r.body == b"0123456789"
    finally:
        growth_kib = sampler.stop()
    assert seen["n"] == GIB
    assert seen["nonzero"] == 0
    assert sampler.samples > 3
    print("RSS growth KiB", growth_kib, "samples", sampler.samples)
    assert growth_kib < 50 * 1024, "RSS grew by %d KiB" % growth_kib


def drop_from_page_cache(path):
    with open(path, "rb") as f:
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def test_cold_file_every_window_read_off_the_worker(server, site):
    """A file not in the page cache: its first 256 KiB are warmed by the I/O pool before the
    head, each later 2 MiB window before the host sends it (sendfile, or pread for a body that
    is compressed on the way); the bytes arrive whole and in order either way."""
    import zlib
    data = os.urandom(7 * MIB + 12345)
    text = b"".join(b"line %08d of a cold text file\n" % i for i in range(200000))
    write(site["root"], "cold.bin", data)
    write(site["root"], "cold.txt", text)
    for rnd in range(2):
        drop_from_page_cache(os.path.join(site["root"], "cold.bin"))
        r = get(server, "/noinline/cold.bin")
        assert r.status == 200 and r.body == data, rnd
        drop_from_page_cache(os.path.join(site["root"], "cold.txt"))
        r = get(server, "/gz/cold.txt", {"Accept-Encoding": "gzip"})
        assert r.status == 200 and r.header("Content-Encoding") == "gzip"
        assert zlib.decompress(r.body, 31) == text
    # a range that starts deep in a cold file
    drop_from_page_cache(os.path.join(site["root"], "cold.bin"))
    r = get(server, "/noinline/cold.bin", {"Range": "bytes=%d-" % (5 * MIB + 7)})
    assert r.status == 206 and r.body == data[5 * MIB + 7:]
    assert server.alive()


def test_client_leaves_mid_download(server):
    c = Client(server.port)
    c.send(c.build("GET", "/big.bin"))
    head = c.read_head()
    assert head.status == 200
    got = 0
    while got < 4 * MIB:
        got += len(c.sock.recv(MIB))
    c.close()
    for _ in range(3):
        assert get(server, "/a.txt").body == b"0123456789"
    assert server.alive()
