"""`tokens: [{ socketio: token }]`: the token travels in the socket.io CONNECT packet (auth={"token": ...}).
The gateway lets the Engine.IO handshake through, verifies the CONNECT, and refuses bad ones itself so that
the socket.io server never receives them. Real peers: python-socketio server (aiohttp) and clients, over the
websocket transport and over long-polling; plus raw Engine.IO for byte-level checks."""
from __future__ import annotations

import json
import time
import urllib.parse

import pytest
import socketio

import wslib
from httpc import request
from wslib import OP_CLOSE, OP_TEXT, RawWSClient, SioServer, mint  # noqa: E402

SIO_ROUTE = "  - {{ name: {name}, match: {{ {host}path_prefix: /socket.io/ }}, upstream: sio, websocket: true, {ut}" \
            "auth: {{ keys: [ws], realm: ws-test, tokens: [ {{ socketio: token }} ], require: [] }} }}\n"


def routes() -> str:
    return (SIO_ROUTE.format(name="sio-short", host="host: short.test, ", ut="")
            + SIO_ROUTE.format(name="sio", host="", ut="upstream_timeout: 30s, "))


@pytest.fixture
def sio_server():
    s = SioServer(ping_interval=4, ping_timeout=5)
    yield s
    s.stop()


@pytest.fixture
def gw(gateway, sio_server):
    # limits.upstream_timeout 2 s: a held polling GET only survives thanks to the route's upstream_timeout
    return gateway(wslib.config({"sio": sio_server.port}, routes(), limits={"upstream_timeout": "2s"}))


def client(port: int, token, transports, namespaces=None, wait_timeout: float = 5):
    """Connect a python-socketio client; return (client or None, connect_error data, exception)."""
    c = socketio.Client(reconnection=False)
    errors = []

    @c.event
    def connect_error(data):
        errors.append(data)

    auth = None if token is None else ({"token": token} if isinstance(token, str) else token)
    try:
        c.connect(f"http://127.0.0.1:{port}", auth=auth, transports=transports, wait_timeout=wait_timeout,
                  namespaces=namespaces)
    except socketio.exceptions.ConnectionError as e:
        try:
            c.disconnect()
        except Exception:  # noqa: BLE001
            pass
        return None, errors, e
    return c, errors, None


TRANSPORTS = {"websocket": ["websocket"], "polling": ["polling"], "polling+upgrade": ["polling", "websocket"]}


# ------------------------------------------------------------------------------------------------
# python-socketio clients
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_valid_token_connects_and_echoes(gw, sio_server, transport):
    tok = mint()
    c, errors, exc = client(gw.port, tok, TRANSPORTS[transport])
    assert c is not None, f"valid token refused over {transport}: {exc!r} {errors}"
    try:
        assert c.call("echo", "hello", timeout=10) == "hello"
        if transport == "polling+upgrade":
            assert wslib.wait_for(lambda: c.transport() == "websocket", 5), "the websocket upgrade did not happen"
            assert c.call("echo", "after-upgrade", timeout=10) == "after-upgrade"
        # ONLYOFFICE sends 1.5 MB text frames over WebSocket; over polling a smaller message (the
        # python-engineio aiohttp server itself truncates polling POST bodies above ~100 KB, with or
        # without the gateway in between)
        big = "x" * (1_500_000 if transport != "polling" else 50_000)
        assert c.call("echo", big, timeout=20) == big
    finally:
        c.disconnect()
    assert sio_server.n_connects() == 1
    assert sio_server.connects[0]["auth"] == {"token": tok}


@pytest.mark.parametrize("transport", ["websocket", "polling"])
@pytest.mark.parametrize("case", ["invalid", "expired", "missing-field", "no-auth"])
def test_bad_token_refused_before_the_server_sees_connect(gw, sio_server, transport, case):
    token = {"invalid": wslib.bad_signature(mint()),
             "expired": mint(exp=int(time.time()) - 100),
             "missing-field": {"session": "s"},
             "no-auth": None}[case]
    c, errors, exc = client(gw.port, token, TRANSPORTS[transport], wait_timeout=2)
    if c is not None:
        c.disconnect()
    assert c is None, f"{case} token accepted over {transport}"
    time.sleep(0.3)
    assert sio_server.n_connects() == 0, f"the socket.io server received a CONNECT: {sio_server.connects}"
    reqs = sio_server.http_copy()
    assert reqs, "the Engine.IO handshake should have reached the server (auth is on the CONNECT)"
    # the client hears what a socket.io server's refusal sounds like, over either transport
    assert errors and errors[0] == {"message": "not authorized"}, (errors, exc)
    if transport == "polling":
        # the CONNECT never reached the server: the refused payload went upstream as an Engine.IO close
        bodies = [x.get("body") for x in reqs if x["method"] == "POST"]
        assert bodies and bodies[0] == b"1", bodies
        assert not any(b and b"40" in b for b in bodies), bodies


def test_refused_client_does_not_disturb_valid_one(gw, sio_server):
    good, _, exc = client(gw.port, mint(), ["websocket"])
    assert good is not None, exc
    try:
        for _ in range(3):
            bad, _, _ = client(gw.port, "nope", ["websocket"])
            assert bad is None
        assert good.call("echo", 42, timeout=5) == 42
    finally:
        good.disconnect()
    assert sio_server.n_connects() == 1


# ------------------------------------------------------------------------------------------------
# raw Engine.IO over WebSocket
# ------------------------------------------------------------------------------------------------
def raw_ws(port):
    c = RawWSClient(port, "/socket.io/?EIO=4&transport=websocket")
    assert c.status == 101, (c.status, c.body)
    c.sock.settimeout(10)
    fin, op, payload = c.read_frame()
    assert op == OP_TEXT and payload.startswith(b"0{"), payload  # Engine.IO open packet
    return c, json.loads(payload[1:])


def expect_refusal(c: RawWSClient, ns: str = ""):
    fin, op, payload = c.read_frame()
    want = b"44" + (ns.encode() + b"," if ns else b"") + b'{"message":"not authorized"}'
    assert (op, payload) == (OP_TEXT, want), (op, payload)
    fin, op, payload = c.read_frame()
    assert op == OP_CLOSE and wslib.parse_close(payload)[0] == 1008, (op, payload)


@pytest.mark.parametrize("packet", [
    "40", "40{}", '40{"token":""}', '40{"token":"garbage"}', '40{"token":42}', '40{"session":"s"}',
    '40/admin,{"token":"garbage"}', "BAD-SIG"])
def test_raw_refused_connect(gw, sio_server, packet):
    if packet == "BAD-SIG":
        packet = "40" + json.dumps({"token": wslib.bad_signature(mint())})
    c, _ = raw_ws(gw.port)
    try:
        c.send_frame(OP_TEXT, packet.encode())
        expect_refusal(c, "/admin" if packet.startswith("40/admin,") else "")
    finally:
        c.close()
    time.sleep(0.2)
    assert sio_server.n_connects() == 0


def test_raw_engineio_ping_pong_before_connect_pass_through(gw, sio_server):
    """A client may answer pings before it sends its CONNECT; those packets are not the CONNECT."""
    c, opened = raw_ws(gw.port)
    try:
        c.sock.settimeout(opened["pingInterval"] / 1000 + 5)
        fin, op, payload = c.read_frame()  # the server's ping after pingInterval
        assert (op, payload) == (OP_TEXT, b"2"), payload
        c.send_frame(OP_TEXT, b"3")  # pong
        tok = mint()
        c.send_frame(OP_TEXT, b"40" + json.dumps({"token": tok}).encode())
        fin, op, payload = c.read_frame()
        assert op == OP_TEXT and payload.startswith(b"40{"), payload  # CONNECT ack with sid
        c.send_frame(OP_TEXT, b'420["echo","raw"]')
        fin, op, payload = c.read_frame()
        assert payload == b'430["raw"]', payload
    finally:
        c.close()
    assert sio_server.n_connects() == 1


def test_raw_second_connect_is_verified_too(gw, sio_server):
    """After a valid CONNECT to "/", a CONNECT to another namespace with a bad token must not reach the
    server either: the gateway promises that the upstream only ever sees verified CONNECTs."""
    c, _ = raw_ws(gw.port)
    try:
        c.send_frame(OP_TEXT, b"40" + json.dumps({"token": mint()}).encode())
        fin, op, payload = c.read_frame()
        assert op == OP_TEXT and payload.startswith(b"40{"), payload
        c.send_frame(OP_TEXT, b'40/admin,{"token":"garbage"}')
        c.sock.settimeout(2)
        try:
            fin, op, payload = c.read_frame()
        except Exception:  # noqa: BLE001 - closed or silent: both fine, the server count decides
            payload = b""
        assert not payload.startswith(b"40/admin,{\"sid\""), f"forged namespace CONNECT accepted: {payload!r}"
    finally:
        c.close()
    time.sleep(0.3)
    assert [x["ns"] for x in sio_server.connects] == ["/"], sio_server.connects


def test_raw_valid_connect_to_namespace(gw, sio_server):
    c, _ = raw_ws(gw.port)
    try:
        c.send_frame(OP_TEXT, b"40/admin," + json.dumps({"token": mint()}).encode())
        fin, op, payload = c.read_frame()
        assert op == OP_TEXT and payload.startswith(b"40/admin,{"), payload
    finally:
        c.close()
    assert [x["ns"] for x in sio_server.connects] == ["/admin"]


def test_raw_valid_connect_split_frames(gw, sio_server):
    """The CONNECT text message sent as two fragments."""
    c, _ = raw_ws(gw.port)
    try:
        pkt = b"40" + json.dumps({"token": mint(), "session": None}).encode()
        c.send_frame(OP_TEXT, pkt[:7], fin=False)
        c.send_frame(wslib.OP_CONT, pkt[7:], fin=True)
        fin, op, payload = c.read_frame()
        assert op == OP_TEXT and payload.startswith(b"40{"), payload
    finally:
        c.close()
    assert sio_server.n_connects() == 1


# ------------------------------------------------------------------------------------------------
# raw Engine.IO over long-polling
# ------------------------------------------------------------------------------------------------
def poll_open(port, host="gw.test"):
    r = request(port, "GET", f"/socket.io/?EIO=4&transport=polling&t={time.time_ns()}", host=host)
    assert r.status == 200 and r.body.startswith(b"0{"), r
    return json.loads(r.body[1:])["sid"]


def poll_post(port, sid, body: bytes, host="gw.test"):
    return request(port, "POST", f"/socket.io/?EIO=4&transport=polling&sid={urllib.parse.quote(sid)}",
                   host=host, headers=[("Content-Type", "text/plain;charset=UTF-8")], body=body)


def poll_get(port, sid, host="gw.test", timeout=40):
    from httpc import RawConn, build_request
    with RawConn(port, timeout=timeout) as c:
        c.send(build_request("GET", f"/socket.io/?EIO=4&transport=polling&sid={urllib.parse.quote(sid)}", host=host))
        return c.read_response()


@pytest.mark.parametrize("body", [b'40{"token":"garbage"}', b"40", b'2\x1e40{"token":"garbage"}',
                                  b'40{"session":"s"}', b"BAD-SIG", b"VALID-THEN-BAD"])
def test_polling_post_with_bad_connect_gets_connect_error_and_never_reaches_server(gw, sio_server, body):
    """The refused POST is answered (by the upstream, to an Engine.IO close packet that replaced the payload);
    the session's next GET poll carries the CONNECT_ERROR packet, as from a socket.io server."""
    namespace = ""
    if body == b"BAD-SIG":
        body = b"40" + json.dumps({"token": wslib.bad_signature(mint())}).encode()
    if body == b"VALID-THEN-BAD":
        body = b"40" + json.dumps({"token": mint()}).encode() + b'\x1e40/admin,{"token":"garbage"}'
        namespace = "/admin,"
    sid = poll_open(gw.port)
    r = poll_post(gw.port, sid, body)
    assert r.status == 200, r
    g = poll_get(gw.port, sid, timeout=10)
    assert g.status == 200, g
    assert g.body == b"44" + namespace.encode() + b'{"message":"not authorized"}', g.body
    time.sleep(0.2)
    assert sio_server.n_connects() == 0
    posts = [x for x in sio_server.http_copy() if x["method"] == "POST"]
    assert [p["body"] for p in posts] == [b"1"], f"the refused payload reached the server: {posts}"
    # the refusal is delivered once; the upstream has ended the session
    assert poll_get(gw.port, sid, timeout=10).status == 400


def test_polling_get_held_at_the_upstream_carries_the_connect_error_at_once(gw, sio_server):
    """The client's GET poll is already held by the server (ping interval 4 s) when its CONNECT is refused:
    the gateway answers that GET with the CONNECT_ERROR immediately instead of waiting for the server."""
    import threading
    sid = poll_open(gw.port)
    out = {}

    def held_get():
        t0 = time.monotonic()
        out["r"] = poll_get(gw.port, sid, timeout=10)
        out["t"] = time.monotonic()
        out["t0"] = t0
    th = threading.Thread(target=held_get)
    th.start()
    time.sleep(0.5)
    assert "r" not in out, "the server answered the poll early"
    t_post = time.monotonic()
    r = poll_post(gw.port, sid, b'40{"token":"garbage"}')
    assert r.status == 200, r
    th.join(10)
    assert out["r"].status == 200 and out["r"].body == b'44{"message":"not authorized"}', out["r"]
    assert out["t"] - t_post < 1.5, f"the held poll was answered {out['t'] - t_post:.2f}s after the refusal"
    assert sio_server.n_connects() == 0


def test_polling_post_larger_than_auth_body_limit_in_session(gw, sio_server):
    """A polling POST of 1.5 MB (no CONNECT in it) in an authenticated session must reach the server
    (max_body_bytes is 2 GiB here); only a CONNECT needs verifying. ONLYOFFICE sends 1.5 MB messages and
    falls back to polling. (What the python-engineio server makes of the body is not checked: it
    truncates large polling bodies itself.)"""
    sid = poll_open(gw.port)
    assert poll_post(gw.port, sid, b"40" + json.dumps({"token": mint()}).encode()).status == 200
    poll_get(gw.port, sid)
    r = poll_post(gw.port, sid, b'42["echo","' + b"x" * 1_500_000 + b'"]')
    assert r.status == 200, r
    assert len([x for x in sio_server.http_copy() if x["method"] == "POST"]) == 2


def test_polling_session_with_held_get_passes_route_upstream_timeout(gw, sio_server):
    """The server holds a polling GET until it has something to send (here its ping after 4 s). The
    gateway's default upstream_timeout is 2 s; the route says 30 s, so the GET must come back with 200.
    (ONLYOFFICE's server holds it ~25 s; the python-socketio server here pings every 4 s to keep the test short.)"""
    sid = poll_open(gw.port)
    r = poll_post(gw.port, sid, b"40" + json.dumps({"token": mint()}).encode())
    assert r.status == 200 and r.body == b"OK", r
    r = poll_get(gw.port, sid)
    assert r.status == 200 and r.body.startswith(b"40{"), r  # the CONNECT ack
    t0 = time.monotonic()
    r = poll_get(gw.port, sid)
    dt = time.monotonic() - t0
    assert r.status == 200 and r.body == b"2", (dt, r)
    assert dt >= 3.0, f"the GET came back after {dt:.1f}s: it was not held, the test proves nothing"
    assert sio_server.n_connects() == 1


def test_polling_held_get_without_route_timeout_is_504(gw, sio_server):
    """Control for the test above: the same held GET on a route without upstream_timeout is cut at 2 s."""
    sid = poll_open(gw.port, host="short.test")
    r = poll_post(gw.port, sid, b"40" + json.dumps({"token": mint()}).encode(), host="short.test")
    assert r.status == 200, r
    poll_get(gw.port, sid, host="short.test")
    t0 = time.monotonic()
    r = poll_get(gw.port, sid, host="short.test")
    dt = time.monotonic() - t0
    assert r.status == 504 and 1.5 <= dt <= 4, (dt, r)


@pytest.mark.parametrize("prefix", [b"4", b'40{"token":"'])
def test_unauthenticated_clients_cannot_make_the_gateway_buffer(gw, sio_server, prefix):
    """Before a verified CONNECT the gateway holds client bytes; a client without a token must not be able
    to make it hold megabytes (a real CONNECT is a few hundred bytes; a token at most max_token_bytes).
    Eight clients each send 8 MiB of a 16 MiB text frame and stall: the gateway's RSS must stay bounded,
    whether it refuses them or streams the frame on."""
    import socket as _socket
    base = gw.rss_kib()
    payload = prefix + b"a" * ((16 << 20) - len(prefix))
    frame = wslib.encode_frame(OP_TEXT, payload, mask=True)[: 8 << 20]
    conns, accepted = [], 0
    try:
        for _ in range(8):
            c, _ = raw_ws(gw.port)
            conns.append(c)
            c.sock.settimeout(2)
            off = 0
            try:
                while off < len(frame):
                    off += c.sock.send(frame[off:off + 262144])
            except (_socket.timeout, OSError):
                pass
            accepted += off
        time.sleep(0.5)
        grew = gw.rss_kib() - base
        print(f"clients wrote {accepted / 2**20:.0f} MiB; gateway RSS grew {grew} KiB")
        assert grew < 24 * 1024, f"gateway RSS grew by {grew / 1024:.0f} MiB for 8 unauthenticated clients"
    finally:
        for c in conns:
            c.close()
    assert gw.alive()
    assert sio_server.n_connects() == 0
