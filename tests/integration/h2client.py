"""h2client.py — HTTP/2 clients for test_http2*.py: a small blocking client on python3-h2
(many streams on one connection, bodies both ways, windows under the test's control) and
raw-frame helpers on hyperframe/hpack for the attack tests."""

import socket
import ssl
import time

import h2.config
import h2.connection
import h2.events
import h2.settings
import hpack
from hyperframe import frame as hf

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def h2_socket(port, tls_ca=None, timeout=10.0, server_name="a.test", cert=None):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if tls_ca:
        ctx = ssl.create_default_context(cafile=tls_ca)
        if cert:
            ctx.load_cert_chain(*cert)
        ctx.set_alpn_protocols(["h2"])
        s = ctx.wrap_socket(s, server_hostname=server_name)
        assert s.selected_alpn_protocol() == "h2", s.selected_alpn_protocol()
    return s


class Stream:
    def __init__(self):
        self.status = None
        self.headers = []
        self.body = bytearray()
        self.ended = False
        self.reset = None
        self.trailers = []
        self.interim = []

    def header(self, name):
        for k, v in self.headers:
            if k == name:
                return v
        return None


class H2Client:
    """Blocking HTTP/2 client. auto_ack=False leaves stream windows to the test."""

    def __init__(self, port, tls_ca=None, timeout=10.0, auto_ack=True, window=None,
                 authority=None, cert=None):
        self.sock = h2_socket(port, tls_ca, timeout, cert=cert)
        self.authority = authority or "127.0.0.1:%d" % port
        self.scheme = "https" if tls_ca else "http"
        cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=cfg)
        self.conn.initiate_connection()
        if window is not None:
            self.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window})
        self.auto_ack = auto_ack
        self.streams = {}
        self.goaway = None
        self.closed = False
        self.remote_settings = {}
        self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def start(self, method, path, headers=(), body=None, end=True):
        sid = self.conn.get_next_available_stream_id()
        hdrs = [(":method", method), (":scheme", self.scheme), (":authority", self.authority),
                (":path", path)] + list(headers)
        self.conn.send_headers(sid, hdrs, end_stream=end and body is None)
        self.streams[sid] = Stream()
        self.flush()
        if body is not None:
            self.send_body(sid, body, end=end)
        return sid

    def send_body(self, sid, body, end=True):
        view = memoryview(body)
        while view:
            win = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size)
            if win <= 0:
                self.pump()
                continue
            n = min(win, len(view))
            self.conn.send_data(sid, bytes(view[:n]))
            view = view[n:]
            self.flush()
        if end:
            self.conn.end_stream(sid)
            self.flush()

    def pump(self, timeout=None):
        """Reads once and handles the events; False when the connection closed."""
        if timeout is not None:
            self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1 << 20)
        except (ConnectionResetError, ssl.SSLError):
            data = b""
        if not data:
            self.closed = True
            return False
        for ev in self.conn.receive_data(data):
            self.handle(ev)
        self.flush()
        return True

    def handle(self, ev):
        if isinstance(ev, h2.events.ResponseReceived):
            st = self.streams.setdefault(ev.stream_id, Stream())
            st.headers = list(ev.headers)
            st.status = int(st.header(":status"))
        elif isinstance(ev, h2.events.DataReceived):
            st = self.streams.setdefault(ev.stream_id, Stream())
            st.body += ev.data
            if self.auto_ack:
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            else:
                self.conn.increment_flow_control_window(ev.flow_controlled_length)
        elif isinstance(ev, h2.events.TrailersReceived):
            self.streams.setdefault(ev.stream_id, Stream()).trailers = list(ev.headers)
        elif isinstance(ev, h2.events.InformationalResponseReceived):
            self.streams.setdefault(ev.stream_id, Stream()).interim.append(dict(ev.headers))
        elif isinstance(ev, h2.events.StreamEnded):
            self.streams.setdefault(ev.stream_id, Stream()).ended = True
        elif isinstance(ev, h2.events.StreamReset):
            self.streams.setdefault(ev.stream_id, Stream()).reset = ev.error_code
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.goaway = ev
        elif isinstance(ev, h2.events.RemoteSettingsChanged):
            for k, v in ev.changed_settings.items():
                self.remote_settings[k] = v.new_value

    def wait(self, sids, timeout=30.0):
        deadline = time.time() + timeout
        while not all(self.streams[s].ended or self.streams[s].reset is not None for s in sids):
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("streams %r not done" % [s for s in sids
                                                         if not self.streams[s].ended])
            if not self.pump(left):
                break
        return [self.streams[s] for s in sids]

    def request(self, method, path, headers=(), body=None, timeout=30.0):
        sid = self.start(method, path, headers, body)
        return self.wait([sid], timeout)[0]

    def get(self, path, headers=(), timeout=30.0):
        return self.request("GET", path, headers, timeout=timeout)


# ---- raw frames -----------------------------------------------------------------------------

class RawH2:
    """A client that writes frames as given (no state checks): the attacks' tool."""

    def __init__(self, port, tls_ca=None, timeout=10.0):
        self.sock = h2_socket(port, tls_ca, timeout)
        self.enc = hpack.Encoder()
        self.sock.sendall(PREFACE + hf.SettingsFrame(0).serialize())

    def send(self, *frames):
        self.sock.sendall(b"".join(f.serialize() for f in frames))

    def headers_block(self, method="GET", path="/", authority="a.test", extra=()):
        return self.enc.encode([(":method", method), (":scheme", "http"),
                                (":authority", authority), (":path", path)] + list(extra))

    def headers(self, sid, end=True, **kw):
        f = hf.HeadersFrame(sid, self.headers_block(**kw))
        f.flags.add("END_HEADERS")
        if end:
            f.flags.add("END_STREAM")
        return f

    def read_all(self, timeout=2.0):
        """Reads until EOF or `timeout` of silence; returns (bytes, closed)."""
        self.sock.settimeout(timeout)
        out = bytearray()
        try:
            while True:
                d = self.sock.recv(1 << 20)
                if not d:
                    return bytes(out), True
                out += d
        except (socket.timeout, TimeoutError):
            return bytes(out), False
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
            return bytes(out), True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def parse_frames(data):
    """Frames in `data` (complete ones), as hyperframe objects."""
    out = []
    i = 0
    while i + 9 <= len(data):
        f, length = hf.Frame.parse_frame_header(memoryview(data[i:i + 9]))
        if i + 9 + length > len(data):
            break
        f.parse_body(memoryview(data[i + 9:i + 9 + length]))
        out.append(f)
        i += 9 + length
    return out


def goaway_code(data):
    for f in parse_frames(data):
        if isinstance(f, hf.GoAwayFrame):
            return f.error_code
    return None


def responses(data):
    """{stream id: {"status": int|None, "ended": bool, "reset": code|None, "body": bytes}} of
    the frames in `data` (a raw client's reads), plus the GOAWAY frame (or None)."""
    dec = hpack.Decoder()
    out = {}
    goaway = None
    for f in parse_frames(data):
        if isinstance(f, hf.GoAwayFrame):
            goaway = f
            continue
        if not f.stream_id:
            continue
        st = out.setdefault(f.stream_id, {"status": None, "ended": False, "reset": None,
                                           "body": b""})
        if isinstance(f, hf.HeadersFrame):
            for k, v in dec.decode(f.data):
                if k in (":status", b":status"):
                    st["status"] = int(v)
        elif isinstance(f, hf.DataFrame):
            st["body"] += f.data
        elif isinstance(f, hf.RstStreamFrame):
            st["reset"] = f.error_code
        if "END_STREAM" in f.flags:
            st["ended"] = True
    return out, goaway
