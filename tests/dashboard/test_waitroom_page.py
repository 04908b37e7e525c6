"""The waiting room's built-in queue page (docs/waiting-room.md) in Debian's headless Chromium,
driven like the dashboard test (run_browser.mjs, playwright-core, never a downloaded browser).

Scenario: one visitor holds the room's only slot and another waits ahead of the browser. The
browser gets the queue page: its position is shown (2), the seconds to the next check count
down, the page refreshes itself, the position falls to 1 when the first waiter gets in, and
when the slots free up the browser lands on the real page (the backend's answer) — with no
console error, page error, failed request or HTTP error on the way. The admin dashboard then
shows the room's row. Screenshots go to the pytest tmp dir."""

import importlib.util
import os
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("weir_dashboard_test",
                                               os.path.join(HERE, "test_dashboard.py"))
dash = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(dash)
it = dash.it

pytestmark = dash.pytestmark
SECRET = "page-test-" + "k" * 40


def _visitor_get(port, cookie=None):
    c = it.Client(port, timeout=10)
    try:
        h = {"Accept": "application/json", "Connection": "close"}
        if cookie:
            h["Cookie"] = "weir_wr_show=" + cookie
        r = c.get("/", headers=h)
    finally:
        c.close()
    for sc in r.header_list("Set-Cookie"):
        if sc.startswith("weir_wr_show="):
            cookie = sc.split(";")[0].split("=", 1)[1]
    return r, cookie


@pytest.fixture
def browser(tmp_path):
    b = dash.Browser(str(tmp_path))
    yield b
    b.close()


def test_queue_page_in_chromium(browser, tmp_path):
    binary = dash._weir_bin()
    if binary is None:
        pytest.skip("no weir binary (set WEIR_BIN or build build-asan/)")
    lx = it.Launcher(binary, str(tmp_path))
    try:
        b = lx.backend("b")
        cfg = it.make_config(None, {"g": {"servers": [b.port], "health": {"passive": "off"}}}, [{
            "path": "/", "upstream": "g",
            "waiting_room": {"name": "show", "max_active": 1, "admit_per_minute": 1,
                             "rate_window": "2s", "session": "2s", "refresh": "2s",
                             "abandon_after": "30s", "secret": SECRET}}])
        aport = it.free_port()
        cfg["admin"] = {"listen": "127.0.0.1:%d" % aport}
        w = lx.weir(cfg)
        holder_r, holder = _visitor_get(w.port)
        assert b'"name"' in holder_r.body
        first_r, first = _visitor_get(w.port)
        assert first_r.json()["position"] == 1

        # the holder keeps its session for ~4 s; the first waiter polls until admitted, then
        # stays ~3 s and leaves
        stop = threading.Event()

        def others():
            t_end, ck = time.monotonic() + 4, holder
            while time.monotonic() < t_end and not stop.is_set():
                _, ck = _visitor_get(w.port, ck)
                time.sleep(0.5)
            ck = first
            while not stop.is_set():
                r, ck = _visitor_get(w.port, ck)
                if b'"name"' in r.body:
                    break
                time.sleep(1.0)
            time.sleep(3)

        t = threading.Thread(target=others, daemon=True)
        t.start()
        url = "http://127.0.0.1:%d/" % w.port
        browser.call("goto", url=url, width=1000, height=700)
        assert browser.text("#position") == "2"
        assert browser.eval("document.title") == "You are in line"
        c0 = int(browser.text("#countdown"))
        browser.wait("+document.getElementById('countdown').textContent < %d" % c0, 5.0,
                     "the countdown did not count down")
        browser.call("screenshot", path=str(tmp_path / "queue-page.png"))
        browser.wait("document.getElementById('position') && "
                     "document.getElementById('position').textContent === '1'", 20.0,
                     "the position never fell to 1")
        browser.wait("document.body && document.body.textContent.indexOf('\"name\"') >= 0", 30.0,
                     "the browser never landed on the real page")
        body = browser.eval("document.body.textContent")
        assert '"path": "/"' in body
        stop.set()
        t.join(15)
        problems = dash._problems(browser.call("console"))
        assert not problems, problems
        # the admin dashboard lists the room
        browser.call("goto", url="http://127.0.0.1:%d/" % aport, width=1600, height=1000)
        browser.wait("document.querySelector('tr[data-room=\"show\"]') !== null", 10.0,
                     "the dashboard has no row for the room")
        assert not browser.eval("document.getElementById('rooms-section').hidden")
        assert it.Client(aport).get("/waitroom").json()["rooms"][0]["cookies_rejected"] == 0
        browser.call("screenshot", path=str(tmp_path / "dashboard-rooms.png"))
    finally:
        lx.close()
