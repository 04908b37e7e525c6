"""The command line: -t (check a config), --version, the one-line `weir proxy` mode, and start-up
failures."""

import os
import re
import subprocess

import pytest

from conftest import Client, free_port, sanitizer_reports

GOOD = """\
workers: 2
listen: [127.0.0.1:18080]
limits: {max_request_line: 8k, max_header_bytes: 16k, max_headers: 100, max_body: 0}
timeouts: {client_header: 10s, client_body: 60s, client_send: 60s, keepalive: 75s, shutdown: 30s}
log: {level: info, access: off}
upstreams:
  be: {servers: [127.0.0.1:9001, 127.0.0.1:9002], balance: round_robin, pool: {max_idle: 64},
       timeouts: {connect: 3s, response: 30s, idle: 60s}}
routes:
  - {host: "*.example.com", path: /api/, methods: [GET], upstream: be}
  - {path: /, upstream: be}
"""

BASE = """\
workers: 1
listen: [127.0.0.1:18080]
upstreams:
  be: {servers: [127.0.0.1:9001]}
routes:
  - path: /
    upstream: be
"""


def run(weir_bin, *args, timeout=20):
    p = subprocess.run([weir_bin] + list(args), capture_output=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    assert not sanitizer_reports(err), err
    return p.returncode, out, err


def write(tmp_path, text, name="weir.yaml"):
    path = os.path.join(str(tmp_path), name)
    with open(path, "w") as f:
        f.write(text)
    return path


def test_check_ok(weir_bin, tmp_path):
    path = write(tmp_path, GOOD)
    code, out, err = run(weir_bin, "-t", "-c", path)
    assert code == 0, err
    assert "%s: ok" % path in err, (out, err)


def test_check_ok_minimal(weir_bin, tmp_path):
    path = write(tmp_path, BASE)
    code, out, err = run(weir_bin, "-t", "-c", path)
    assert code == 0, err
    assert "%s: ok" % path in err, (out, err)


# (name, text, line, col or None)
ERRORS = [
    ("bad-value", BASE.replace("workers: 1", "workers: abc"), 1, 10),
    ("unknown-key", BASE.replace("workers: 1", "wrokers: 1"), 1, 1),
    ("unknown-upstream", BASE.replace("upstream: be", "upstream: nope"), 7, 15),
    ("bad-address", BASE.replace("[127.0.0.1:9001]", "[127.0.0.1:99999]"), 4, None),
    ("bad-duration", BASE + "timeouts: {keepalive: 10parsecs}\n", 8, 23),
    ("yaml-syntax", BASE.replace("listen: [127.0.0.1:18080]", "listen: [127.0.0.1:18080"),
     None, None),
    ("bad-balance", BASE.replace("{servers: [127.0.0.1:9001]}",
                                 "{servers: [127.0.0.1:9001], balance: bogus}"), 4, None),
    ("empty", "", None, None),
]


@pytest.mark.parametrize("text,line,col", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_check_error_has_file_line_col(weir_bin, tmp_path, text, line, col):
    path = write(tmp_path, text)
    code, out, err = run(weir_bin, "-t", "-c", path)
    assert code == 1, (code, err)
    m = re.search(re.escape(path) + r":(\d+):(\d+): (\S.*)", err)
    assert m, "no file:line:col: message in %r" % err
    if line is not None:
        assert int(m.group(1)) == line, err
    if col is not None:
        assert int(m.group(2)) == col, err
    assert "%s: ok" % path not in err + out


def test_check_missing_file(weir_bin, tmp_path):
    path = os.path.join(str(tmp_path), "nope.yaml")
    code, out, err = run(weir_bin, "-t", "-c", path)
    assert code == 1
    assert path in err


def test_run_with_bad_config_fails_fast(weir_bin, tmp_path):
    path = write(tmp_path, BASE.replace("upstream: be", "upstream: nope"))
    code, out, err = run(weir_bin, "-c", path, timeout=10)
    assert code != 0
    assert re.search(re.escape(path) + r":7:15: ", err), err


def test_version(weir_bin):
    code, out, err = run(weir_bin, "--version")
    assert code == 0
    assert re.search(r"weir\b.*\d+\.\d+\.\d+", out + err), (out, err)


def test_unknown_option(weir_bin):
    code, out, err = run(weir_bin, "--no-such-option")
    assert code != 0
    assert err.strip()


def test_proxy_one_line_mode(weir_bin, launcher):
    a = launcher.backend("a")
    b = launcher.backend("b")
    port = free_port()
    w = launcher.weir(None, port=port, args=["proxy", "--listen", "127.0.0.1:%d" % port,
                                             "--to", a.addr, "--to", b.addr,
                                             "--workers", "1"])
    names = []
    with Client(port) as c:
        for i in range(6):
            r = c.get("/one-line/%d" % i)
            assert r.status == 200
            j = r.json()
            assert j["path"] == "/one-line/%d" % i
            assert j["headers"]["via"] == "1.1 weir"
            names.append(j["name"])
    assert set(names) == {"a", "b"}
    assert w.stop() == 0


def test_proxy_one_line_mode_needs_to(weir_bin):
    code, out, err = run(weir_bin, "proxy", "--listen", "127.0.0.1:%d" % free_port())
    assert code != 0
    assert err.strip()


def test_listen_port_in_use_fails(weir_bin, tmp_path):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        path = write(tmp_path, BASE.replace("127.0.0.1:18080", "127.0.0.1:%d" % port))
        code, out, err = run(weir_bin, "-c", path, timeout=10)
        assert code != 0
        assert str(port) in err, err
    finally:
        s.close()


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_proxy_help(weir_bin, flag):
    code, out, err = run(weir_bin, "proxy", flag)
    assert code == 0, err
    assert "weir proxy --listen" in out
    assert "needs a value" not in err


def test_demo_config_checks(weir_bin, tmp_path):
    """examples/demo.yaml (what `make run` starts) with the site path scripts/demo.sh fills in."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-keyout", str(tmp_path / "demo.key"), "-out", str(tmp_path / "demo.pem")],
                   check=True, capture_output=True)
    with open(os.path.join(root, "examples", "demo.yaml")) as f:
        text = f.read().replace("@SITE@", os.path.join(root, "examples", "site"))
        text = text.replace("@TLS@", str(tmp_path))
        text = text.replace("@JWT_SECRET@", "0123456789abcdef" * 4)  # demo.sh makes a random one
    cfg = tmp_path / "demo.yaml"
    cfg.write_text(text)
    code, out, err = run(weir_bin, "-t", "-c", str(cfg))
    assert code == 0, err
