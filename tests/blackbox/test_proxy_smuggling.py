"""Request smuggling shapes, each on a raw socket: refused with 400 (or 431), the connection closed by the
gateway, and nothing reaching the upstream."""
import pytest

from httpc import ProtocolError, RawConn, build_request

H = b"Host: gw.test\r\n"

# Shapes whose head is malformed: the upstream must see no request at all.
HEAD_SHAPES = {
    "cl_and_te": b"POST /s HTTP/1.1\r\n" + H + b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG",
    "te_and_cl": b"POST /s HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\nG",
    "two_differing_cl": b"POST /s HTTP/1.1\r\n" + H + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    "cl_list_differing": b"POST /s HTTP/1.1\r\n" + H + b"Content-Length: 5, 6\r\n\r\nhello!",
    "cl_plus_sign": b"POST /s HTTP/1.1\r\n" + H + b"Content-Length: +5\r\n\r\nhello",
    "cl_hex": b"POST /s HTTP/1.1\r\n" + H + b"Content-Length: 0x5\r\n\r\nhello",
    "cl_negative": b"POST /s HTTP/1.1\r\n" + H + b"Content-Length: -1\r\n\r\n",
    "cl_huge": b"POST /s HTTP/1.1\r\n" + H + b"Content-Length: 99999999999999999999999\r\n\r\n",
    "te_chunked_identity": b"POST /s HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
    "te_gzip": b"POST /s HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip\r\n\r\nabcdef",
    "te_chunked_twice": b"POST /s HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "te_xchunked": b"POST /s HTTP/1.1\r\n" + H + b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
    "te_obs_fold": b"POST /s HTTP/1.1\r\n" + H + b"Transfer-Encoding:\r\n chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
    "obs_fold": b"GET /s HTTP/1.1\r\n" + H + b"X-Foo: a\r\n b\r\n\r\n",
    "obs_fold_tab": b"GET /s HTTP/1.1\r\n" + H + b"X-Foo: a\r\n\tb\r\n\r\n",
    "bare_lf": b"GET /s HTTP/1.1\nHost: gw.test\n\n",
    "bare_lf_one_field": b"GET /s HTTP/1.1\r\nHost: gw.test\nX-A: b\r\n\r\n",
    "bare_lf_request_line": b"GET /s HTTP/1.1\n" + H + b"\r\n",
    "bare_cr_in_value": b"GET /s HTTP/1.1\r\n" + H + b"X-A: a\rb\r\n\r\n",
    "space_before_colon": b"POST /s HTTP/1.1\r\n" + H + b"Transfer-Encoding : chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
    "space_before_colon_host": b"GET /s HTTP/1.1\r\nHost : gw.test\r\n\r\n",
    "tab_before_colon": b"GET /s HTTP/1.1\r\n" + H + b"X-A\t: b\r\n\r\n",
    "nul_in_value": b"GET /s HTTP/1.1\r\n" + H + b"X-A: a\x00b\r\n\r\n",
    "ctl_in_value": b"GET /s HTTP/1.1\r\n" + H + b"X-A: a\x01b\r\n\r\n",
    "del_in_value": b"GET /s HTTP/1.1\r\n" + H + b"X-A: a\x7fb\r\n\r\n",
    "bad_char_in_name": b"GET /s HTTP/1.1\r\n" + H + b"X@A: b\r\n\r\n",
    "empty_name": b"GET /s HTTP/1.1\r\n" + H + b": b\r\n\r\n",
    "missing_host": b"GET /s HTTP/1.1\r\nX-A: b\r\n\r\n",
    "two_hosts": b"GET /s HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n",
    "two_hosts_same": b"GET /s HTTP/1.1\r\nHost: a.test\r\nHost: a.test\r\n\r\n",
    "whitespace_before_first_field": b"GET /s HTTP/1.1\r\n Host: gw.test\r\n\r\n",
    "space_in_target": b"GET /a b HTTP/1.1\r\n" + H + b"\r\n",
    "bad_version": b"GET /s HTTPS/1.1\r\n" + H + b"\r\n",
    "nul_in_target": b"GET /a\x00b HTTP/1.1\r\n" + H + b"\r\n",
    "too_many_fields": b"GET /s HTTP/1.1\r\n" + H + b"".join(b"X-N%d: v\r\n" % i for i in range(150)) + b"\r\n",
}
STATUS = {name: {400} for name in HEAD_SHAPES}
STATUS["too_many_fields"] = {431}
STATUS["te_xchunked"] = {400, 501}
STATUS["te_chunked_twice"] = {400, 501}  # chunked applied twice: refusing as unsupported is fine too
STATUS["cl_huge"] = {400, 413}

# Shapes whose head is well formed but whose chunked body is not. A streaming gateway may already have
# passed the head on; the upstream must never see a complete request (nor anything after it).
BODY_SHAPES = {
    "bad_chunk_size": b"POST /s HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    "chunk_size_overflow": b"POST /s HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
    "chunk_size_negative": b"POST /s HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n",
    "chunk_size_bare_lf": b"POST /s HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
    "chunk_data_no_crlf": b"POST /s HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
    "chunk_size_0x": b"POST /s HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
}


def send_and_expect_refusal(port, wire, statuses):
    with RawConn(port, timeout=5) as c:
        c.send(wire)
        try:
            r = c.read_response()
        except ProtocolError as e:
            pytest.fail(f"no complete response from the gateway ({e}); a lost 400 usually means the socket was "
                        f"closed with unread input (RST) instead of a lingering close")
        assert r.status in statuses, f"expected {statuses}, got {r}"
        if r.body:
            r.error_json()
        closed = c.closed_by_peer(3)
        assert closed, (f"connection not closed after {r.status}; extra bytes: {bytes(c.buf[:200])!r}")
    return r


@pytest.mark.parametrize("name", list(HEAD_SHAPES))
def test_smuggling_head_refused(gw, upstream, name):
    send_and_expect_refusal(gw.port, HEAD_SHAPES[name], STATUS[name])
    recs = upstream.wait_requests(1, timeout=0.3)
    assert recs == [], f"{name}: the upstream received {recs}"


@pytest.mark.parametrize("name", list(BODY_SHAPES))
def test_smuggling_body_refused(gw, upstream, name):
    send_and_expect_refusal(gw.port, BODY_SHAPES[name], {400})
    recs = upstream.wait_requests(1, timeout=0.3)
    complete = [x for x in recs if x.get("complete")]
    assert complete == [], f"{name}: the upstream received a complete request: {complete}"
    assert len(recs) <= 1, f"{name}: more than one request reached the upstream: {recs}"


@pytest.mark.parametrize("name", ["cl_and_te", "two_differing_cl", "te_chunked_identity", "obs_fold",
                                  "bare_lf_one_field", "missing_host"])
def test_smuggling_after_good_request(gw, upstream, name):
    """A malformed request pipelined behind a good one: the good one is answered, the bad one refused."""
    wire = build_request("GET", "/good") + HEAD_SHAPES[name]
    with RawConn(gw.port, timeout=5) as c:
        c.send(wire)
        r1 = c.read_response()
        assert r1.status == 200 and r1.json()["target"] == "/good"
        r2 = c.read_response()
        assert r2.status == 400, r2
        assert c.closed_by_peer(3)
    recs = upstream.wait_requests(2, timeout=0.3)
    assert [x["target"] for x in recs] == ["/good"], recs


def test_cl_te_does_not_smuggle_second_request(gw, upstream):
    """The classic CL.TE payload: if anything parsed the body as chunked, /smuggled would appear."""
    inner = b"GET /smuggled HTTP/1.1\r\nHost: gw.test\r\n\r\n"
    body = b"0\r\n\r\n" + inner
    wire = (b"POST /front HTTP/1.1\r\n" + H + b"Content-Length: %d\r\n" % len(body)
            + b"Transfer-Encoding: chunked\r\n\r\n" + body)
    with RawConn(gw.port, timeout=5) as c:
        c.send(wire)
        try:
            r = c.read_response()
            assert r.status == 400
        except ProtocolError:
            pass
    recs = upstream.wait_requests(1, timeout=0.5)
    assert [x["target"] for x in recs] == []
