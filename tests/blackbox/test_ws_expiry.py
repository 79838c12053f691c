"""`auth.websocket: { close_on_expiry: true, grace: 2s }`: when the token of an open tunnel expires, the
client gets a close frame 1008 "token expired" (at a frame boundary), the upstream a 1001, and both
connections are closed after the grace period."""
from __future__ import annotations

import socket
import time

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

import wslib
from wslib import OP_BIN, OP_CLOSE, OP_TEXT, RawWSClient, mint  # noqa: E402
from wslib import _raw_up_session, _ws_up_session, raw_up, ws_up  # noqa: F401  (fixtures)

GRACE = 2.0
HDR = '{ header: Authorization, prefix: "Bearer " }'


@pytest.fixture
def gw(gateway, ws_up, raw_up):
    toks = f"[ {HDR}, {{ query: access_token }} ]"
    on = "websocket: { close_on_expiry: true, grace: 2s }"
    routes = (
        f"  - {{ name: exp, match: {{ path_prefix: /exp/ }}, upstream: wsup, websocket: true, auth: {wslib.auth_block(toks, on)} }}\n"
        f"  - {{ name: expraw, match: {{ path_prefix: /expraw/ }}, upstream: raw, websocket: true, auth: {wslib.auth_block(toks, on)} }}\n"
        f"  - {{ name: leeway, match: {{ path_prefix: /leeway/ }}, upstream: wsup, websocket: true, auth: {wslib.auth_block(toks, on + ', leeway: 2s')} }}\n"
        f"  - {{ name: off, match: {{ path_prefix: /off/ }}, upstream: wsup, websocket: true, auth: {wslib.auth_block(toks)} }}\n"
    )
    return gateway(wslib.config({"wsup": ws_up.port, "raw": raw_up.port}, routes))


def ws_connect(port, path, tok, **kw):
    return connect(f"ws://127.0.0.1:{port}{path}", additional_headers=[("Authorization", f"Bearer {tok}")],
                   proxy=None, compression=None, ping_interval=None, open_timeout=10, max_size=None, **kw)


def wait_close(ws, limit: float):
    """Exchange messages until the connection closes; return (wall time of close, ConnectionClosed)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            ws.send("tick")
            ws.recv(timeout=0.2)
        except TimeoutError:
            pass
        except ConnectionClosed as e:
            return time.time(), e
        time.sleep(0.05)
    raise AssertionError(f"tunnel still open after {limit}s")


def test_expiry_close_1008_to_client_1001_to_upstream(gw, ws_up):
    exp = int(time.time()) + 3
    with ws_connect(gw.port, "/exp/echo", mint(exp=exp)) as ws:
        ws.send("hello")
        assert ws.recv(timeout=5) == "hello"
        t, e = wait_close(ws, 10)
        assert e.rcvd is not None, f"no close frame received from the gateway ({e!r})"
        assert (e.rcvd.code, e.rcvd.reason) == (1008, "token expired"), e.rcvd
        assert exp - 0.05 <= t <= exp + 1.5, f"closed at exp{t - exp:+.2f}s"
    assert wslib.wait_for(lambda: ws_up.records_copy()[0]["closed"], GRACE + 3)
    r = ws_up.records_copy()[0]
    assert r["close_code"] == 1001, f"upstream received close {r['close_code']} {r['close_reason']!r}"


def test_expiry_honours_leeway(gw, ws_up):
    exp = int(time.time()) + 1
    with ws_connect(gw.port, "/leeway/echo", mint(exp=exp)) as ws:
        t, e = wait_close(ws, 10)
        assert e.rcvd is not None and e.rcvd.code == 1008
        assert exp + 2 - 0.05 <= t <= exp + 2 + 1.5, f"closed at exp{t - exp:+.2f}s with leeway 2s"


def test_no_close_without_close_on_expiry(gw, ws_up):
    exp = int(time.time()) + 2
    with ws_connect(gw.port, "/off/echo", mint(exp=exp)) as ws:
        while time.time() < exp + 1.5:
            ws.send("x")
            assert ws.recv(timeout=5) == "x"
            time.sleep(0.2)


@pytest.mark.parametrize("up", ["echo", "sink?read=0"])
def test_client_not_answering_close_is_cut_after_grace(gw, raw_up, up):
    """Neither the client nor (for sink) the upstream completes the closing handshake, and the upstream
    keeps its TCP connection open: the gateway closes the client connection once the grace period is over.
    (An upstream that closes its TCP connection may end the client side earlier: that is half-close
    propagation, not checked here.)"""
    exp = int(time.time()) + 2
    c = RawWSClient(gw.port, f"/expraw/{up}", headers=[("Authorization", f"Bearer {mint(exp=exp)}")])
    try:
        assert c.status == 101
        c.sock.settimeout(10)
        fin, op, payload = c.read_frame()
        assert op == OP_CLOSE, (op, payload[:100])
        assert wslib.parse_close(payload) == (1008, "token expired")
        assert exp - 0.05 <= time.time() <= exp + 1.5
        dt = c.wait_eof(GRACE + 4)  # we never answer the close
        assert dt is not None, "the gateway kept the connection open past the grace period"
        assert GRACE - 0.6 <= dt <= GRACE + 1.5, f"connection closed {dt:.2f}s after the close frame, grace {GRACE}s"
    finally:
        c.close()
    if up == "echo":
        assert wslib.wait_for(lambda: raw_up.records_copy()[0]["close_code"] is not None, 3)
        assert raw_up.records_copy()[0]["close_code"] == 1001
    assert wslib.wait_for(lambda: raw_up.records_copy()[0]["eof"] or up != "echo", 3), \
        "the upstream connection was not closed after the grace period"


def test_close_at_frame_boundary_while_upstream_streams_large_frames(gw, raw_up):
    """The upstream writes 1 MiB binary frames slowly (~0.6 s each): the expiry falls in the middle of
    one. The client must see only whole, intact frames, then the 1008 close, then nothing else."""
    size, chunk, delay = 1 << 20, 32768, 0.02
    exp = int(time.time()) + 3
    c = RawWSClient(gw.port, f"/expraw/slowframes?size={size}&chunk={chunk}&delay={delay}",
                    headers=[("Authorization", f"Bearer {mint(exp=exp)}")])
    frames = 0
    try:
        assert c.status == 101
        c.sock.settimeout(10)
        while True:
            fin, op, payload = c.read_frame()  # raises on a corrupted stream (bad opcode, mask, RSV)
            if op == OP_CLOSE:
                t = time.time()
                assert wslib.parse_close(payload) == (1008, "token expired")
                break
            assert (fin, op, len(payload)) == (1, OP_BIN, size), (fin, op, len(payload))
            assert payload == wslib.pattern_frame_payload(frames, size), f"frame {frames} corrupted"
            frames += 1
        assert frames >= 2, f"only {frames} frames before the close"
        assert exp - 0.05 <= t <= exp + 1.5, f"close at exp{t - exp:+.2f}s"
        c.send_frame(OP_CLOSE, wslib.close_payload(1008))
        # after the close frame: no data frame may follow, only the end of the connection
        c.sock.settimeout(GRACE + 3)
        try:
            extra = c.read_frame()
            raise AssertionError(f"frame after the close: op={extra[1]} len={len(extra[2])}")
        except (EOFError, ConnectionResetError, socket.timeout):
            pass
    finally:
        c.close()
    assert wslib.wait_for(lambda: raw_up.records_copy()[0]["close_code"] is not None, GRACE + 2)
    r = raw_up.records_copy()[0]
    assert r["error"] is None, r["error"]
    assert r["close_code"] == 1001, r["received"]
    assert r["sent_frames"] >= frames


def test_close_at_frame_boundary_client_mid_frame(gw, raw_up):
    """The client is half-way through a 1 MiB frame when the token expires: the upstream must get the
    whole frame and then the 1001 close (never a close frame inside the payload)."""
    size = 1 << 20
    exp = int(time.time()) + 2
    c = RawWSClient(gw.port, "/expraw/sink?read=1", headers=[("Authorization", f"Bearer {mint(exp=exp)}")])
    try:
        assert c.status == 101
        c.send_frame(OP_TEXT, b"first")
        while time.time() < exp - 0.5:
            time.sleep(0.05)
        data = wslib.encode_frame(OP_BIN, bytes(range(256)) * (size // 256), mask=True)
        step = len(data) // 20
        for off in range(0, len(data), step):  # ~1 s for the frame, straddling exp
            c.sock.sendall(data[off:off + step])
            time.sleep(0.05)
        c.sock.settimeout(5)
        fin, op, payload = c.read_frame()
        assert op == OP_CLOSE and wslib.parse_close(payload)[0] == 1008
    finally:
        c.close()
    assert wslib.wait_for(lambda: raw_up.records_copy()[0]["close_code"] is not None, GRACE + 2)
    r = raw_up.records_copy()[0]
    assert r["error"] is None, r["error"]
    ops = [(x["op"], x["len"]) for x in r["received"]]
    assert ops[:2] == [(OP_TEXT, 5), (OP_BIN, size)], ops
    assert ops[2][0] == OP_CLOSE and r["close_code"] == 1001, ops
