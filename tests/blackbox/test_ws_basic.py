"""WebSocket upgrades through the gateway: authentication at the handshake, echo through the tunnel,
routes that refuse upgrades, upstream non-101 answers, limits, idle timeout, half-close, access log."""
from __future__ import annotations

import os
import socket
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

import wslib
from httpc import request
from wslib import RawWSClient, mint  # noqa: E402
from wslib import _raw_up_session, _ws_up_session, raw_up, ws_up  # noqa: F401  (fixtures)

HDR = '{ header: Authorization, prefix: "Bearer " }'


def routes(ws_port_name="wsup", raw_name="raw", extra="") -> str:
    return (
        "  - name: ws\n"
        "    match: { path_prefix: /ws/ }\n"
        f"    upstream: {ws_port_name}\n"
        "    websocket: true\n"
        f"    auth: {wslib.auth_block(f'[ {HDR}, {{ query: access_token }} ]')}\n"
        "  - name: rawws\n"
        "    match: { path_prefix: /raw/ }\n"
        f"    upstream: {raw_name}\n"
        "    websocket: true\n"
        "    auth: off\n"
        "  - name: idle\n"
        "    match: { path_prefix: /idle/ }\n"
        f"    upstream: {ws_port_name}\n"
        "    websocket: { enabled: true, idle_timeout: 1s }\n"
        "    auth: off\n"
        "  - name: plain\n"
        "    match: { path_prefix: /plain/ }\n"
        f"    upstream: {ws_port_name}\n"
        "    auth: off\n"
        + extra
    )


@pytest.fixture
def gw(gateway, ws_up, raw_up):
    return gateway(wslib.config({"wsup": ws_up.port, "raw": raw_up.port}, routes()))


def ws_connect(port: int, path: str, token: str | None = None, **kw):
    headers = [("Authorization", f"Bearer {token}")] if token else []
    kw.setdefault("max_size", None)
    kw.setdefault("compression", None)
    return connect(f"ws://127.0.0.1:{port}{path}", additional_headers=headers, proxy=None, open_timeout=10,
                   ping_interval=None, **kw)


def refused(port: int, path: str, token: str | None = None, **kw) -> InvalidStatus:
    with pytest.raises(InvalidStatus) as ei:
        with ws_connect(port, path, token, **kw):
            pass
    return ei.value


def hget(rec_headers, name: str) -> list[str]:
    return [v for k, v in rec_headers if k.lower() == name.lower()]


# ------------------------------------------------------------------------------------------------
# echo
# ------------------------------------------------------------------------------------------------
SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20, 16 << 20]


def test_echo_text_and_binary_up_to_16mib(gw, ws_up):
    tok = mint()
    with ws_connect(gw.port, "/ws/echo", tok) as ws:
        for n in SIZES:
            b = os.urandom(n)
            ws.send(b)
            got = ws.recv(timeout=30)
            assert isinstance(got, bytes) and len(got) == n and got == b, f"binary {n} bytes corrupted"
            t = ("héllo wörld ✓ " * (n // 16 + 1))[: max(n // 2, 0)]  # multi-byte UTF-8, ~n bytes
            ws.send(t)
            got = ws.recv(timeout=30)
            assert isinstance(got, str) and got == t, f"text of {len(t.encode())} bytes corrupted"
    recs = ws_up.records_copy()
    assert len(recs) == 1
    r = recs[0]
    assert r["received"] == 2 * len(SIZES)
    h = r["headers"]
    assert [v.lower() for v in hget(h, "upgrade")] == ["websocket"], h
    assert "upgrade" in ",".join(hget(h, "connection")).lower(), h
    assert hget(h, "sec-websocket-version") == ["13"], h
    assert hget(h, "x-forwarded-proto") == ["http"], h
    assert hget(h, "x-forwarded-for") == ["127.0.0.1"], h
    assert hget(h, "authorization") == [f"Bearer {tok}"], "header tokens are kept by default"
    assert wslib.wait_for(lambda: ws_up.records_copy()[0]["closed"], 5)
    assert ws_up.records_copy()[0]["close_code"] == 1000


def test_many_small_messages_both_ways_in_order(gw, ws_up):
    with ws_connect(gw.port, "/ws/echo", mint()) as ws:
        for i in range(300):
            ws.send(f"m{i}")
        for i in range(300):
            assert ws.recv(timeout=10) == f"m{i}"


def test_upstream_pushes_first(gw, ws_up):
    """Data the upstream sends right after its 101 (possibly in the same segment) reaches the client."""
    with ws_connect(gw.port, "/ws/push?n=5&size=70000", mint()) as ws:
        for i in range(5):
            m = ws.recv(timeout=10)
            assert m == bytes([i]) * 70000


def test_close_code_and_reason_relayed_to_upstream(gw, ws_up):
    with ws_connect(gw.port, "/ws/echo", mint()) as ws:
        ws.send("x")
        ws.recv(timeout=5)
        ws.close(code=4001, reason="bye now")
    assert wslib.wait_for(lambda: ws_up.records_copy()[0]["closed"], 5)
    r = ws_up.records_copy()[0]
    assert (r["close_code"], r["close_reason"]) == (4001, "bye now")


# ------------------------------------------------------------------------------------------------
# authentication at the handshake
# ------------------------------------------------------------------------------------------------
def test_missing_token_401_before_upstream(gw, ws_up):
    e = refused(gw.port, "/ws/echo")
    assert e.response.status_code == 401
    www = e.response.headers.get("WWW-Authenticate")
    assert www is not None and www.startswith("Bearer ") and f'realm="{wslib.REALM}"' in www, www
    assert "error=" not in www, f"a missing token carries no error code (RFC 6750 §3.1): {www}"
    time.sleep(0.2)
    assert ws_up.records_copy() == [], "the upstream saw an upgrade without a token"


@pytest.mark.parametrize("kind", ["bad-signature", "expired", "garbage", "wrong-secret"])
def test_invalid_token_401(gw, ws_up, kind):
    tok = {"bad-signature": wslib.bad_signature(mint()),
           "expired": mint(exp=int(time.time()) - 120),
           "garbage": "not.a.jwt",
           "wrong-secret": mint(secret="another-secret-entirely-0123456789abcdef")}[kind]
    e = refused(gw.port, "/ws/echo", tok)
    assert e.response.status_code == 401
    www = e.response.headers.get("WWW-Authenticate") or ""
    assert 'error="invalid_token"' in www, www
    time.sleep(0.2)
    assert ws_up.records_copy() == []


def test_expired_query_token_401_no_101(gw, ws_up):
    e = refused(gw.port, f"/ws/echo?access_token={mint(exp=int(time.time()) - 5)}")
    assert e.response.status_code == 401
    assert ws_up.records_copy() == []


def test_query_token_stripped_and_redacted_in_access_log(gw, ws_up):
    tok = mint()
    with ws_connect(gw.port, f"/ws/echo?id=abc&access_token={tok}&x=1") as ws:
        ws.send("hi")
        assert ws.recv(timeout=5) == "hi"
    r = ws_up.records_copy()[0]
    assert tok not in r["path"], f"query token forwarded to the upstream: {r['path']}"
    assert "id=abc" in r["path"] and "x=1" in r["path"], r["path"]
    assert wslib.wait_for(lambda: any(e.get("status") == 101 for e in gw.access_log()), 5), gw.stdout_lines()
    lines = gw.stdout_lines()
    assert not any(tok in ln or tok.split(".")[2] in ln for ln in lines), "a token reached the access log"
    ent = next(e for e in gw.access_log() if e.get("status") == 101)
    blob = str(ent)
    assert "REDACTED" in blob and "id=abc" in blob, ent


# ------------------------------------------------------------------------------------------------
# routes, upstream answers, limits
# ------------------------------------------------------------------------------------------------
def test_upgrade_on_non_websocket_route_403_upstream_untouched(gateway, upstream):
    g = gateway(wslib.config({"echo": upstream.port},
                             "  - { name: plain, match: { path_prefix: / }, upstream: echo, auth: off }\n"))
    c = RawWSClient(g.port, "/chat")
    try:
        assert c.status == 403, (c.status, c.headers, c.body)
        import json
        d = json.loads(c.body)
        assert isinstance(d.get("error"), str), d
    finally:
        c.close()
    time.sleep(0.2)
    assert upstream.requests() == [] and upstream.connections() == 0, "the upstream saw the refused upgrade"
    # the same path without Upgrade is proxied normally
    assert request(g.port, "GET", "/chat").status == 200


@pytest.mark.parametrize("code", [200, 403, 404, 426])
def test_upstream_non_101_relayed_as_normal_response(gw, raw_up, code):
    c = RawWSClient(gw.port, f"/raw/status?code={code}")
    try:
        assert c.status == code, (c.status, c.headers, c.body)
        assert c.header("x-raw-upstream") == "1", c.headers
        import json
        assert json.loads(c.body) == {"upstream": "raw", "code": code}
        assert (c.header("upgrade") or "").lower() != "websocket", c.headers
    finally:
        c.close()


def test_http_upstream_answering_200_to_upgrade(gateway, upstream):
    """A plain HTTP server that ignores the Upgrade: its 200 JSON reaches the client as is."""
    g = gateway(wslib.config({"echo": upstream.port},
                             "  - { name: w, match: { path_prefix: / }, upstream: echo, websocket: true, auth: off }\n"))
    c = RawWSClient(g.port, "/not-a-ws-server")
    try:
        assert c.status == 200, (c.status, c.body)
        import json
        d = json.loads(c.body)
        assert d["target"] == "/not-a-ws-server"
        names = [k.lower() for k, _ in d["headers"]]
        assert "upgrade" in names and "sec-websocket-key" in names, d["headers"]
    finally:
        c.close()


def test_unreachable_upstream_502(gateway, ws_up):
    g = gateway(wslib.config({"dead": 1},
                             "  - { name: w, match: { path_prefix: / }, upstream: dead, websocket: true, auth: off }\n"))
    c = RawWSClient(g.port, "/x")
    try:
        assert c.status == 502, (c.status, c.body)
    finally:
        c.close()


def test_max_tunnels_503(gateway, ws_up):
    g = gateway(wslib.config({"wsup": ws_up.port, "raw": 1}, routes(), limits={"max_tunnels": 2}, workers=1))
    tok = mint()
    a = ws_connect(g.port, "/ws/echo", tok)
    b = ws_connect(g.port, "/ws/echo", tok)
    try:
        e = refused(g.port, "/ws/echo", tok)
        assert e.response.status_code == 503
        assert len(ws_up.records_copy()) == 2, "the refused tunnel reached the upstream"
        a.send("still")
        assert a.recv(timeout=5) == "still"
    finally:
        a.close()
        b.close()
    # a slot frees up once a tunnel is closed
    ok = False
    for _ in range(50):
        try:
            with ws_connect(g.port, "/ws/echo", tok) as c:
                c.send("again")
                ok = c.recv(timeout=5) == "again"
            break
        except InvalidStatus:
            time.sleep(0.1)
    assert ok, "tunnel slots were not released after close"


def test_tunnel_idle_timeout_route_override(gw, ws_up):
    ws = ws_connect(gw.port, "/idle/echo")
    try:
        t_end = time.monotonic() + 2.5
        while True:  # traffic every 0.4 s keeps a 1 s idle timeout from firing
            ws.send("tick")
            assert ws.recv(timeout=5) == "tick"
            t0 = time.monotonic()  # last activity
            if t0 > t_end:
                break
            time.sleep(0.4)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=6)
        dt = time.monotonic() - t0
        assert 0.7 <= dt <= 3.5, f"idle tunnel closed after {dt:.2f}s, idle_timeout is 1s"
    finally:
        ws.close()


def half_close_exchange(port: int, path: str):
    """The client sends a text frame and shuts down its write side; returns the (opcode, payload) of the
    frame the upstream sends after that EOF, and the seconds until the client sees EOF (None: not in 5 s)."""
    c = RawWSClient(port, path)
    try:
        assert c.status == 101
        c.send_frame(wslib.OP_TEXT, b"before-eof")
        c.sock.shutdown(socket.SHUT_WR)
        fin, op, payload = c.read_frame()
        return (op, payload), c.wait_eof(5)
    finally:
        c.close()


def test_half_close_propagated(gw, raw_up):
    """The client shuts down its write side: the upstream sees EOF, and can still send afterwards."""
    frame, waited = half_close_exchange(gw.port, "/raw/halfclose")
    assert frame == (wslib.OP_TEXT, b"after-eof")
    assert waited is not None
    r = raw_up.records_copy()[0]
    assert r["eof"] and [x["len"] for x in r["received"]] == [len(b"before-eof")], r


def test_half_close_last_frame_and_fin_together(gw, raw_up):
    """After the client's half-close the upstream sends its last frame and closes at once: frame and FIN
    reach the gateway together, on a socket whose write side the gateway has already shut down, so the
    kernel reports EPOLLHUP and that is the last event a DispatchSource delivers. The frame and the EOF
    must both come through, promptly, every time."""
    for i in range(30):
        frame, waited = half_close_exchange(gw.port, "/raw/halfclose?now=1")
        assert frame == (wslib.OP_TEXT, b"after-eof"), i
        assert waited is not None and waited < 1.0, f"attempt {i}: EOF after {waited} s"


def test_raw_handshake_101_fields(gw, raw_up):
    c = RawWSClient(gw.port, "/raw/echo")
    try:
        assert c.status == 101, (c.status, c.body)
        assert (c.header("upgrade") or "").lower() == "websocket"
        assert "upgrade" in (c.header("connection") or "").lower()
        assert c.header("sec-websocket-accept") == wslib.accept_key(c.key)
        c.send_frame(wslib.OP_BIN, b"\x00\x01\x02")
        assert c.read_frame() == (1, wslib.OP_BIN, b"\x00\x01\x02")
        c.send_frame(wslib.OP_PING, b"p")
        c.send_frame(wslib.OP_TEXT, b"frag-", fin=False)
        c.send_frame(wslib.OP_CONT, b"ment")
        assert c.read_frame() == (0, wslib.OP_TEXT, b"frag-")
        assert c.read_frame() == (1, wslib.OP_CONT, b"ment")
    finally:
        c.close()
    recv = raw_up.records_copy()[0]["received"]
    assert [x["op"] for x in recv][:4] == [wslib.OP_BIN, wslib.OP_PING, wslib.OP_TEXT, wslib.OP_CONT], recv


def test_upstream_connection_not_reused_after_tunnel(gw, raw_up):
    """After a tunnel ends, its upstream connection must not go back to the keep-alive pool: a following
    plain request gets a fresh upstream connection (the raw upstream would choke on HTTP inside a tunnel)."""
    for i in range(2):
        c = RawWSClient(gw.port, "/raw/echo")
        assert c.status == 101
        c.send_frame(wslib.OP_TEXT, b"%d" % i)
        assert c.read_frame()[2] == b"%d" % i
        c.send_frame(wslib.OP_CLOSE, wslib.close_payload(1000))
        assert c.read_frame()[1] == wslib.OP_CLOSE
        c.close()
    time.sleep(0.2)
    for _ in range(3):
        assert request(gw.port, "GET", "/raw/status?code=200").status == 200
    recs = raw_up.records_copy()
    assert [r["path"] for r in recs][:2] == ["/raw/echo", "/raw/echo"], recs
    assert all(r["error"] is None for r in recs), [r["error"] for r in recs]
    assert all(x["op"] in (wslib.OP_TEXT, wslib.OP_CLOSE) for r in recs[:2] for x in r["received"]), recs[:2]


def test_connection_header_with_keep_alive_and_upgrade(gw, raw_up):
    """Firefox sends `Connection: keep-alive, Upgrade`."""
    c = RawWSClient(gw.port, "/raw/echo", connection="keep-alive, Upgrade")
    try:
        assert c.status == 101, (c.status, c.body)
        c.send_frame(wslib.OP_TEXT, b"ff")
        assert c.read_frame()[2] == b"ff"
    finally:
        c.close()


def test_global_tunnel_idle_timeout(gateway, ws_up):
    g = gateway(wslib.config({"wsup": ws_up.port, "raw": 1}, routes(), limits={"tunnel_idle_timeout": "1s"}))
    with ws_connect(g.port, "/ws/echo", mint()) as ws:
        ws.send("x")
        assert ws.recv(timeout=5) == "x"
        t0 = time.monotonic()
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=6)
        dt = time.monotonic() - t0
    assert 0.7 <= dt <= 3.5, f"idle tunnel closed after {dt:.2f}s, limits.tunnel_idle_timeout is 1s"
