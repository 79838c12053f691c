"""Request head rewriting: hop-by-hop fields removed, X-Forwarded-* replaced or extended by peer trust."""
import pytest

import gwconf
from httpc import RawConn, build_request, request

HOP_BY_HOP = ["x-foo", "keep-alive", "te", "trailer", "proxy-authorization", "upgrade", "proxy-connection",
              "x-bar"]


def names(rec):
    return [k.lower() for k, _ in rec["headers"]]


def values(rec, name):
    return [v for k, v in rec["headers"] if k.lower() == name.lower()]


@pytest.mark.parametrize("conn_value", ["close, X-Foo", "keep-alive, X-Foo, x-bar"])
def test_hop_by_hop_fields_removed(gw, upstream, conn_value):
    hdrs = [("Connection", conn_value), ("X-Foo", "drop-me"), ("X-Bar", "drop-me-too"),
            ("Keep-Alive", "timeout=5, max=100"), ("TE", "trailers"), ("Trailer", "X-Checksum"),
            ("Proxy-Authorization", "Basic dXNlcjpwYXNz"), ("Proxy-Connection", "keep-alive"),
            ("Upgrade", "websocket"), ("X-Keep", "kept"), ("Authorization", "Basic kept")]
    with RawConn(gw.port) as c:
        c.send(build_request("GET", "/hop?x=1", headers=hdrs))
        r = c.read_response()
    assert r.status == 200, r
    recs = upstream.requests()
    assert len(recs) == 1
    rec = recs[0]
    seen = names(rec)
    listed = {t.strip().lower() for t in conn_value.split(",")}
    hop = [h for h in HOP_BY_HOP if h != "x-bar" or "x-bar" in listed]
    leaked = [h for h in hop if h in seen]
    assert not leaked, f"hop-by-hop fields reached the upstream: {leaked}; head:\n{rec['raw_head']}"
    for v in values(rec, "connection"):
        toks = {t.strip().lower() for t in v.split(",")}
        assert toks <= {"keep-alive", "close"}, f"Connection to upstream carries client tokens: {v!r}"
    if "x-bar" not in listed:
        assert values(rec, "x-bar") == ["drop-me-too"], "X-Bar is not named in Connection: it must be kept"
    assert values(rec, "x-keep") == ["kept"]
    assert values(rec, "authorization") == ["Basic kept"], "end-to-end fields must be kept"


def test_end_to_end_fields_kept_in_order(gw, upstream):
    hdrs = [("X-A", "1"), ("X-Multi", "one"), ("X-B", "2"), ("X-Multi", "two"), ("Cookie", "a=b; c=d"),
            ("User-Agent", "blackbox/1.0"), ("Accept", "*/*")]
    r = request(gw.port, "GET", "/e2e", headers=hdrs)
    assert r.status == 200
    rec = upstream.requests()[0]
    got = [(k.lower(), v) for k, v in rec["headers"] if k.lower() in {"x-a", "x-b", "x-multi", "cookie",
                                                                     "user-agent", "accept"}]
    assert got == [(k.lower(), v) for k, v in hdrs], "fields must reach the upstream with values and order kept"


def test_forwarded_headers_untrusted_peer_replaced(gw, upstream):
    hdrs = [("X-Forwarded-For", "9.9.9.9, 8.8.8.8"), ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "evil.example")]
    r = request(gw.port, "GET", "/xff", host="client.test:8443", headers=hdrs)
    assert r.status == 200
    rec = upstream.requests()[0]
    assert values(rec, "x-forwarded-for") == ["127.0.0.1"], rec["raw_head"]
    assert values(rec, "x-forwarded-proto") == ["http"], rec["raw_head"]
    assert values(rec, "x-forwarded-host") == ["client.test:8443"], rec["raw_head"]


def test_forwarded_headers_added_when_absent(gw, upstream):
    r = request(gw.port, "GET", "/xff", host="plain.test")
    assert r.status == 200
    rec = upstream.requests()[0]
    assert values(rec, "x-forwarded-for") == ["127.0.0.1"]
    assert values(rec, "x-forwarded-proto") == ["http"]
    assert values(rec, "x-forwarded-host") == ["plain.test"]


def test_host_forwarded_unchanged(gw, upstream):
    r = request(gw.port, "GET", "/host", host="docs.example.org")
    assert r.status == 200
    rec = upstream.requests()[0]
    assert values(rec, "host") == ["docs.example.org"], rec["raw_head"]


def test_forwarded_headers_trusted_peer_extended(gateway, upstream):
    g = gateway(gwconf.config(upstream.port, trusted="[127.0.0.1]"))
    hdrs = [("X-Forwarded-For", "1.2.3.4"), ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "orig.example")]
    r = request(g.port, "GET", "/xff", host="inner.test", headers=hdrs)
    assert r.status == 200
    rec = upstream.requests()[0]
    xff = values(rec, "x-forwarded-for")
    assert len(xff) == 1 and [p.strip() for p in xff[0].split(",")] == ["1.2.3.4", "127.0.0.1"], xff
    assert values(rec, "x-forwarded-proto") == ["https"]
    assert values(rec, "x-forwarded-host") == ["orig.example"]


def test_forwarded_headers_trusted_peer_without_incoming(gateway, upstream):
    g = gateway(gwconf.config(upstream.port, trusted="[127.0.0.0/8]"))
    r = request(g.port, "GET", "/xff", host="inner.test")
    assert r.status == 200
    rec = upstream.requests()[0]
    assert values(rec, "x-forwarded-for") == ["127.0.0.1"]
    assert values(rec, "x-forwarded-proto") == ["http"]
    assert values(rec, "x-forwarded-host") == ["inner.test"]
