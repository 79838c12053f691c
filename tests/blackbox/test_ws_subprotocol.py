"""Tokens carried in Sec-WebSocket-Protocol (`{ subprotocol: PREFIX }`): the browser-friendly way to send a
bearer token on an upgrade. The gateway removes the token entry before forwarding and answers with a
subprotocol the client offered."""
from __future__ import annotations

import time

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

import wslib
from wslib import RawWSClient, b64u, mint  # noqa: E402
from wslib import _raw_up_session, _ws_up_session, raw_up, ws_up  # noqa: F401  (fixtures)

PREFIX = "base64url.bearer.authorization."
VPREFIX = "access_token."


def entry(tok: str) -> str:
    return PREFIX + b64u(tok.encode())


@pytest.fixture
def gw(gateway, ws_up, raw_up):
    sp = f'[ {{ subprotocol: "{PREFIX}" }} ]'
    vp = f'[ {{ subprotocol: "{VPREFIX}" }} ]'
    routes = (
        f"  - {{ name: sp, match: {{ path_prefix: /sp/ }}, upstream: wsup, websocket: true, auth: {wslib.auth_block(sp)} }}\n"
        f"  - {{ name: vp, match: {{ path_prefix: /vp/ }}, upstream: wsup, websocket: true, auth: {wslib.auth_block(vp)} }}\n"
        f"  - {{ name: rp, match: {{ path_prefix: /rp/ }}, upstream: raw, websocket: true, auth: {wslib.auth_block(sp)} }}\n"
    )
    return gateway(wslib.config({"wsup": ws_up.port, "raw": raw_up.port}, routes))


def ws_connect(port, path, subprotocols, **kw):
    return connect(f"ws://127.0.0.1:{port}{path}", subprotocols=subprotocols, proxy=None, compression=None,
                   ping_interval=None, open_timeout=10, **kw)


def test_only_token_entry_offered_is_echoed_back(gw, ws_up):
    e = entry(mint())
    with ws_connect(gw.port, "/sp/echo", [e]) as ws:
        assert ws.subprotocol == e, "the 101 must name the offered entry or a browser fails the handshake"
        ws.send("hello")
        assert ws.recv(timeout=5) == "hello"
    r = ws_up.records_copy()[0]
    assert r["offered"] == [], f"the token entry reached the upstream: {r['headers']}"
    assert not any(e in v or e[len(PREFIX):] in v for _, v in r["headers"]), r["headers"]
    assert r["chosen"] is None


def test_token_entry_removed_other_offers_kept_in_order(gw, ws_up):
    e = entry(mint())
    with ws_connect(gw.port, "/sp/echo", ["v2.chat", e, "chat"]) as ws:
        assert ws.subprotocol == "v2.chat"
        ws.send(b"\x01\x02")
        assert ws.recv(timeout=5) == b"\x01\x02"
    r = ws_up.records_copy()[0]
    assert r["offered"] == ["v2.chat", "chat"], r["headers"]


def test_token_entry_in_its_own_header_line(gw, ws_up):
    """Sec-WebSocket-Protocol may be split over several header lines."""
    e = entry(mint())
    c = RawWSClient(gw.port, "/sp/echo", headers=[("Sec-WebSocket-Protocol", "chat"),
                                                  ("Sec-WebSocket-Protocol", e)])
    try:
        assert c.status == 101, (c.status, c.body)
        assert c.header("sec-websocket-protocol") == "chat", c.headers
    finally:
        c.close()
    r = ws_up.records_copy()[0]
    assert r["offered"] == ["chat"], r["headers"]


def test_verbatim_prefix(gw, ws_up):
    tok = mint()
    e = VPREFIX + tok
    with ws_connect(gw.port, "/vp/echo", ["chat", e]) as ws:
        assert ws.subprotocol == "chat"
        ws.send("x")
        assert ws.recv(timeout=5) == "x"
    assert ws_up.records_copy()[0]["offered"] == ["chat"]


@pytest.mark.parametrize("case", ["missing", "bad-signature", "expired", "not-base64url", "padded",
                                  "empty", "raw-jwt-under-base64url-prefix"])
def test_bad_subprotocol_token_401(gw, ws_up, case):
    tok = mint()
    offers = {
        "missing": ["chat"],
        "bad-signature": [entry(wslib.bad_signature(tok))],
        "expired": [entry(mint(exp=int(time.time()) - 60))],
        "not-base64url": [PREFIX + "!!!notbase64"],
        "padded": [PREFIX + b64u(tok.encode()) + "=="],
        "empty": [PREFIX],
        "raw-jwt-under-base64url-prefix": [PREFIX + tok],  # the JWT not encoded: decodes to garbage
    }[case]
    if case == "padded" and len(b64u(tok.encode())) % 4 == 0:
        offers = [PREFIX + b64u(tok.encode()) + "AA=="]
    hdrs = [("Sec-WebSocket-Protocol", ", ".join(offers))]
    c = RawWSClient(gw.port, "/sp/echo", headers=hdrs)
    try:
        assert c.status == 401, (case, c.status, c.headers, c.body)
        www = c.header("www-authenticate") or ""
        assert www.startswith("Bearer ") and f'realm="{wslib.REALM}"' in www, www
        if case == "missing":
            assert "error=" not in www, www
        else:
            assert 'error="invalid_token"' in www, www
    finally:
        c.close()
    time.sleep(0.1)
    assert ws_up.records_copy() == []


def test_upstream_choosing_unoffered_subprotocol_502(gw, raw_up):
    e = entry(mint())
    c = RawWSClient(gw.port, "/rp/proto?choose=bogus",
                    headers=[("Sec-WebSocket-Protocol", f"chat, {e}")])
    try:
        assert c.status == 502, (c.status, c.headers, c.body)
    finally:
        c.close()
    r = raw_up.records_copy()[0]
    offered = [v for k, v in r["headers"] if k.lower() == "sec-websocket-protocol"]
    assert offered == ["chat"], r["headers"]


def test_upstream_choosing_offered_subprotocol_ok(gw, raw_up):
    e = entry(mint())
    c = RawWSClient(gw.port, "/rp/proto?choose=chat", headers=[("Sec-WebSocket-Protocol", f"chat, {e}")])
    try:
        assert c.status == 101, (c.status, c.body)
        assert c.header("sec-websocket-protocol") == "chat"
        c.send_frame(wslib.OP_TEXT, b"ping")
        assert c.read_frame() == (1, wslib.OP_TEXT, b"ping")
    finally:
        c.close()


def test_websockets_client_with_bad_token_gets_401(gw, ws_up):
    with pytest.raises(InvalidStatus) as ei:
        with ws_connect(gw.port, "/sp/echo", [entry(wslib.bad_signature(mint()))]):
            pass
    assert ei.value.response.status_code == 401
