"""Fixtures and helpers for weir's integration tests.

Every process started here (weir, backends) is bounded in time and stopped by PID in a
finalizer. After each weir process exits its stderr is checked for AddressSanitizer,
LeakSanitizer and UBSan reports; any report fails the test that owned the process.

Helpers the test modules import (`from conftest import ...`):
  Weir, Backend       process wrappers
  Client, Resp        a raw-socket HTTP/1.1 client that shows exactly what weir sent
  free_port, make_config, to_yaml, RssSampler, pattern_sha256
"""

import hashlib
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
BACKEND_PY = os.path.join(HERE, "backend.py")
DEFAULT_BIN = "/work/main/build-asan/weir"
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "LeakSanitizer", "runtime error:")


# --------------------------------------------------------------------------------------------
# process-wide setup

def _raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


_raise_nofile()
os.environ.setdefault("ASAN_OPTIONS", "detect_leaks=1")
if "detect_leaks" not in os.environ["ASAN_OPTIONS"]:
    os.environ["ASAN_OPTIONS"] += ":detect_leaks=1"
os.environ.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc=None, timeout=10.0, what="process", log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError("%s exited with %s before listening on %d%s"
                                 % (what, proc.returncode, port, _tail(log)))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.02)
    raise AssertionError("%s did not listen on %d within %.0fs%s" % (what, port, timeout,
                                                                    _tail(log)))


def _tail(log):
    if not log:
        return ""
    try:
        with open(log, "r", errors="replace") as f:
            return "\n--- stderr ---\n" + f.read()[-4000:]
    except OSError:
        return ""


def sanitizer_reports(text):
    return [m for m in SANITIZER_MARKERS if m in text]


def pattern_sha256(n):
    """sha256 of the first n bytes of backend.py's repeating bytes(range(256)) pattern."""
    block = bytes(range(256)) * 4096  # 1 MiB
    h = hashlib.sha256()
    while n > 0:
        k = min(n, len(block))
        h.update(block[:k])
        n -= k
    return h.hexdigest()


# --------------------------------------------------------------------------------------------
# a tiny YAML emitter (stdlib has none); tests that need exact text write YAML by hand

_PLAIN = re.compile(r"^[A-Za-z0-9_./][A-Za-z0-9_./:\-]*$")


def _scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if v is None:
        return "null"
    s = str(v)
    if _PLAIN.match(s) and s.lower() not in ("true", "false", "null", "yes", "no", "on", "off",
                                               "~") or s in ("off", "stderr", "stdout"):
        return s
    return json.dumps(s)


def to_yaml(obj, indent=0):
    pad = " " * indent
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, dict) and v:
                out.append("%s%s:" % (pad, k))
                out.append(to_yaml(v, indent + 2))
            elif isinstance(v, list) and v and any(isinstance(x, (dict, list)) for x in v):
                out.append("%s%s:" % (pad, k))
                out.append(to_yaml(v, indent + 2))
            elif isinstance(v, list):
                out.append("%s%s: [%s]" % (pad, k, ", ".join(_scalar(x) for x in v)))
            elif isinstance(v, dict):
                out.append("%s%s: {}" % (pad, k))
            else:
                out.append("%s%s: %s" % (pad, k, _scalar(v)))
    elif isinstance(obj, list):
        for item in obj:
            if isinstance(item, dict):
                sub = to_yaml(item, indent + 2).split("\n")
                sub[0] = pad + "- " + sub[0][indent + 2:]
                out.append("\n".join(sub))
            else:
                out.append("%s- %s" % (pad, _scalar(item)))
    else:
        out.append(pad + _scalar(obj))
    return "\n".join(out)


def make_config(port, upstreams, routes, workers=2, access=None, limits=None, timeouts=None,
                level="info", extra=None):
    """upstreams: {name: [ports] | {servers: [...], ...}}; routes: list of dicts.
    port None leaves "listen" out: Launcher.weir() then fills in a free port."""
    ups = {}
    for name, spec in upstreams.items():
        if isinstance(spec, (list, tuple)):
            spec = {"servers": list(spec)}
        spec = dict(spec)
        spec["servers"] = [s if isinstance(s, str) else "127.0.0.1:%d" % s
                           for s in spec["servers"]]
        ups[name] = spec
    t = {"client_header": "10s", "client_body": "30s", "client_send": "30s",
         "keepalive": "75s", "shutdown": "5s"}
    t.update(timeouts or {})
    cfg = {
        "workers": workers,
        "listen": ["127.0.0.1:%d" % (port or 0)],
        "timeouts": t,
        "log": {"level": level, "access": access or "off"},
        "upstreams": ups,
        "routes": routes,
    }
    if port is None:
        del cfg["listen"]
    if limits:
        cfg["limits"] = limits
    if extra:
        cfg.update(extra)
    return cfg


# --------------------------------------------------------------------------------------------
# processes

class Weir:
    """One weir process. Config is a dict (rendered with to_yaml) or YAML text."""

    _seq = 0

    def __init__(self, binary, workdir, config, port=None, args=None, name=None):
        Weir._seq += 1
        self.binary = binary
        self.workdir = workdir
        self.name = name or "weir%d" % Weir._seq
        self.port = port
        self.config_path = os.path.join(workdir, self.name + ".yaml")
        self.stderr_path = os.path.join(workdir, self.name + ".stderr")
        self.stdout_path = os.path.join(workdir, self.name + ".stdout")
        self.extra_args = args
        self.proc = None
        self.returncode = None
        self._checked = False
        if config is not None:
            self.write_config(config)

    @property
    def pid(self):
        return self.proc.pid

    def write_config(self, config):
        text = config if isinstance(config, str) else to_yaml(config) + "\n"
        tmp = self.config_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.config_path)

    def start(self, wait=True, timeout=15.0):
        argv = [self.binary] + (self.extra_args if self.extra_args is not None
                                else ["-c", self.config_path])
        self._err = open(self.stderr_path, "wb")
        self._out = open(self.stdout_path, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._out,
                                     stderr=self._err, cwd=self.workdir)
        if wait and self.port:
            wait_port(self.port, self.proc, timeout, what="weir", log=self.stderr_path)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def reload(self, config=None):
        if config is not None:
            self.write_config(config)
        self.proc.send_signal(signal.SIGHUP)

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout):
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._close_files()
        return self.returncode

    def stop(self, sig=signal.SIGTERM, timeout=20.0, check=True):
        """Signals weir and waits; returns the exit code. Fails on a hang or sanitizer report."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                self.returncode = self.proc.returncode
                self._close_files()
                raise AssertionError("weir (pid %d) did not exit within %.0fs of signal %d%s"
                                     % (self.proc.pid, timeout, sig, _tail(self.stderr_path)))
        self.returncode = self.proc.returncode
        self._close_files()
        if check:
            self.check_sanitizers()
        return self.returncode

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._close_files()

    def _close_files(self):
        for f in (getattr(self, "_err", None), getattr(self, "_out", None)):
            if f is not None and not f.closed:
                f.close()

    def stderr_text(self):
        try:
            with open(self.stderr_path, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stdout_text(self):
        try:
            with open(self.stdout_path, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def check_sanitizers(self):
        self._checked = True
        text = self.stderr_text()
        bad = sanitizer_reports(text)
        if bad:
            raise AssertionError("weir (pid %d) stderr has sanitizer reports %s:\n%s"
                                 % (self.proc.pid, bad, text[-12000:]))


class Backend:
    """One tests/integration/backend.py process on a free port."""

    def __init__(self, workdir, name, port=None, args=()):
        self.name = name
        self.port = port or free_port()
        self.stderr_path = os.path.join(workdir, "backend-%s-%d.stderr" % (name, self.port))
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, BACKEND_PY, "--port", str(self.port), "--name", name] + list(args),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._err)
        wait_port(self.port, self.proc, 15.0, what="backend " + name, log=self.stderr_path)

    @property
    def pid(self):
        return self.proc.pid

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.port

    def stats(self):
        c = Client(self.port, timeout=10)
        try:
            r = c.request("GET", "/__stats", headers={"Connection": "close"})
            return r.json()
        finally:
            c.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if not self._err.closed:
            self._err.close()


class Launcher:
    """Owns every process a test (or a module) starts; close() stops them all by PID."""

    def __init__(self, binary, workdir):
        self.binary = binary
        self.workdir = workdir
        self.weirs = []
        self.backends = []

    def backend(self, name, port=None, args=()):
        """args: extra backend.py options, e.g. ["--threads", "2"]."""
        b = Backend(self.workdir, name, port, args)
        self.backends.append(b)
        return b

    def weir(self, config=None, port=None, args=None, start=True, wait=True):
        """config: dict or YAML text. When a dict without "listen", listen is filled in."""
        if port is None:
            port = free_port()
            if isinstance(config, dict) and "listen" not in config:
                config = dict(config, listen=["127.0.0.1:%d" % port])
        w = Weir(self.binary, self.workdir, config, port=port, args=args)
        self.weirs.append(w)
        if start:
            w.start(wait=wait)
        return w

    def close(self):
        errors = []
        for w in self.weirs:
            try:
                if w.proc is not None and w.proc.poll() is None:
                    w.stop(signal.SIGTERM, timeout=20.0, check=False)
                if w.proc is not None:
                    w._close_files()
                    bad = sanitizer_reports(w.stderr_text())
                    if bad:
                        errors.append("weir %s (pid %d): %s\n%s"
                                      % (w.name, w.proc.pid, bad, w.stderr_text()[-8000:]))
            except AssertionError as e:
                errors.append(str(e))
            finally:
                w.kill()
        for b in self.backends:
            b.stop()
        self.weirs, self.backends = [], []
        if errors:
            raise AssertionError("\n\n".join(errors))


@pytest.fixture(scope="session")
def weir_bin():
    path = os.environ.get("WEIR_BIN", DEFAULT_BIN)
    assert os.path.isfile(path) and os.access(path, os.X_OK), \
        "weir binary not found at %s (build it with `make asan` or set WEIR_BIN)" % path
    return os.path.abspath(path)


@pytest.fixture
def launcher(weir_bin, tmp_path):
    lx = Launcher(weir_bin, str(tmp_path))
    yield lx
    lx.close()


@pytest.fixture(scope="module")
def module_launcher(weir_bin, tmp_path_factory):
    lx = Launcher(weir_bin, str(tmp_path_factory.mktemp("mod")))
    yield lx
    lx.close()


# --------------------------------------------------------------------------------------------
# a raw HTTP/1.1 client

class Resp:
    def __init__(self, version, status, reason, headers, body=b"", trailers=None):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers          # list of (name, value) as received
        self.body = body
        self.trailers = trailers or []
        self.chunked = False
        self.eof_delimited = False

    def header(self, name):
        vals = self.header_list(name)
        return ", ".join(vals) if vals else None

    def header_list(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def has(self, name):
        return bool(self.header_list(name))

    def json(self):
        return json.loads(self.body.decode())

    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return "<Resp %s %d %r headers=%r body=%r>" % (self.version, self.status, self.reason,
                                                      self.headers, self.body[:200])


class Closed(Exception):
    """The server closed (or reset) the connection before a complete response."""


class Client:
    def __init__(self, port, timeout=10.0, host="127.0.0.1"):
        self.port = port
        self.host_header = "127.0.0.1:%d" % port
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(timeout)
        self.buf = bytearray()
        self.eof = False
        self.received = 0  # bytes read from the socket so far

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def build(self, method, path, headers=None, body=None, version="HTTP/1.1"):
        hdrs = []
        given = {k.lower() for k, _ in _hitems(headers)}
        if "host" not in given and version == "HTTP/1.1":
            hdrs.append(("Host", self.host_header))
        hdrs.extend(_hitems(headers))
        if body is not None and "content-length" not in given \
                and "transfer-encoding" not in given:
            hdrs.append(("Content-Length", str(len(body))))
        head = "%s %s %s\r\n" % (method, path, version)
        head += "".join("%s: %s\r\n" % (k, v) for k, v in hdrs) + "\r\n"
        return head.encode("latin-1") + (body or b"")

    def request(self, method, path, headers=None, body=None, version="HTTP/1.1"):
        self.send(self.build(method, path, headers, body, version))
        return self.read_response(method)

    def get(self, path, headers=None):
        return self.request("GET", path, headers)

    # ---- reading ---------------------------------------------------------------------------
    def _fill(self, size=1 << 20):
        if self.eof:
            raise Closed("connection closed")
        try:
            data = self.sock.recv(size)
        except ConnectionResetError:
            self.eof = True
            raise Closed("connection reset")
        if not data:
            self.eof = True
            raise Closed("connection closed")
        self.received += len(data)
        self.buf += data

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return line
            if len(self.buf) > 1 << 20:
                raise AssertionError("response line too long")
            self._fill()

    def read_head(self):
        line = self._line()
        m = re.match(rb"^(HTTP/\d\.\d) (\d{3})(?: (.*))?$", line)
        assert m, "bad status line %r (buffer %r)" % (line, bytes(self.buf[:200]))
        headers = []
        while True:
            ln = self._line()
            if not ln:
                break
            name, sep, value = ln.partition(b":")
            assert sep and name and name == name.strip(), "bad response header line %r" % ln
            headers.append((name.decode("latin-1"), value.strip().decode("latin-1")))
        return Resp(m.group(1).decode(), int(m.group(2)), (m.group(3) or b"").decode("latin-1"),
                    headers)

    def read_response(self, method="GET", interim=False, sink=None):
        """Reads one response. 1xx responses are skipped unless interim=True (then returned).
        sink(memoryview) receives the body instead of Resp.body when given."""
        while True:
            r = self.read_head()
            if 100 <= r.status < 200 and r.status != 101:
                if interim:
                    return r
                continue
            break
        if method == "HEAD" or r.status in (101, 204, 304):
            return r
        chunks = []
        put = sink if sink is not None else (lambda mv: chunks.append(bytes(mv)))
        te = (r.header("transfer-encoding") or "").lower()
        cl = r.header("content-length")
        if te:
            assert te == "chunked", "unexpected transfer-encoding %r" % te
            r.chunked = True
            while True:
                ln = self._line()
                size = int(ln.split(b";")[0], 16)
                if size == 0:
                    break
                self._read_n(size, put)
                assert self._line() == b"", "chunk not followed by CRLF"
            while True:
                ln = self._line()
                if not ln:
                    break
                n, _, v = ln.partition(b":")
                r.trailers.append((n.decode("latin-1"), v.strip().decode("latin-1")))
        elif cl is not None:
            assert re.match(r"^\d+$", cl), "bad content-length %r" % cl
            self._read_n(int(cl), put)
        else:
            r.eof_delimited = True
            while True:
                if self.buf:
                    put(memoryview(bytes(self.buf)))
                    self.buf.clear()
                try:
                    self._fill()
                except Closed:
                    break
        r.body = b"".join(chunks)
        return r

    def _read_n(self, n, put):
        if self.buf:
            k = min(n, len(self.buf))
            put(memoryview(bytes(self.buf[:k])))
            del self.buf[:k]
            n -= k
        if n <= 0:
            return
        scratch = bytearray(min(n, 1 << 20))
        mv = memoryview(scratch)
        while n > 0:
            try:
                got = self.sock.recv_into(mv, min(n, len(scratch)))
            except ConnectionResetError:
                got = 0
            if got == 0:
                self.eof = True
                raise Closed("connection closed with %d body bytes missing" % n)
            self.received += got
            put(mv[:got])
            n -= got

    def closed_by_peer(self, timeout=3.0):
        """True when the server closes (FIN or RST) within timeout with no further bytes."""
        if self.buf:
            return False
        if self.eof:
            return True
        old = self.sock.gettimeout()
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
        finally:
            try:
                self.sock.settimeout(old)
            except OSError:
                pass
        if data:
            self.buf += data
            return False
        self.eof = True
        return True

    def read_all(self, timeout=5.0):
        """Everything until EOF (or timeout): raw bytes."""
        self.sock.settimeout(timeout)
        out = bytes(self.buf)
        self.buf.clear()
        try:
            while True:
                d = self.sock.recv(65536)
                if not d:
                    break
                out += d
        except (ConnectionResetError, socket.timeout):
            pass
        return out


def _hitems(headers):
    if headers is None:
        return []
    if isinstance(headers, dict):
        return list(headers.items())
    return list(headers)


def raw_exchange(port, data, timeout=5.0):
    """Sends raw bytes, returns (Resp or None, closed_after, raw_text)."""
    c = Client(port, timeout=timeout)
    try:
        c.send(data)
        try:
            r = c.read_response()
        except Closed:
            return None, True, bytes(c.buf)
        closed = c.closed_by_peer(timeout)
        return r, closed, b""
    finally:
        c.close()


# --------------------------------------------------------------------------------------------
# memory sampling

def _rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _descendants(pid):
    out = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                for c in f.read().split():
                    out.append(int(c))
                    out.extend(_descendants(int(c)))
    except OSError:
        pass
    return out


def rss_kib(pid):
    """RSS of pid plus any child processes (workers), in KiB."""
    return _rss_kib(pid) + sum(_rss_kib(c) for c in _descendants(pid))


class RssSampler:
    """Samples rss_kib(pid) every `interval` seconds on a thread until stop()."""

    def __init__(self, pid, interval=0.05):
        self.pid = pid
        self.interval = interval
        self.baseline = rss_kib(pid)
        self.max = self.baseline
        self.samples = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.is_set():
            v = rss_kib(self.pid)
            if v > self.max:
                self.max = v
            self.samples += 1
            self._stop.wait(self.interval)

    def stop(self):
        self._stop.set()
        self._t.join(5)
        return self.max - self.baseline
