"""Every token source (header with/without prefix, query, cookie, JSON body), their order, and what is
forwarded: query tokens stripped (other parameters kept in order), `forward.token: strip`, bodies byte for
byte, and the access log never carrying a token."""
import hashlib
import json
import subprocess

import pytest

from authlib import (agw, assert_denied, bearer, claims, hs_token, hvals, keyring,  # noqa: F401 (fixtures)
                     tamper_signature, wait_log)
from httpc import RawConn, build_request, chunk_encode, request


@pytest.fixture
def tok(keyring):
    return hs_token(keyring.hmac, claims(sub="src-user"))


def only_request(upstream) -> dict:
    recs = upstream.wait_requests(1, timeout=2)
    assert len(recs) == 1, recs
    return recs[0]


def no_token_in_log(gw, token: str) -> None:
    sig = token.rsplit(".", 1)[-1]
    for ln in gw.stdout_lines():
        assert sig not in ln and token not in ln, f"token leaked into the access log: {ln}"


# ------------------------------------------------------------------------------------------------
# header sources
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_authorization_bearer_accepted_and_kept(agw, upstream, tok, scheme):
    r = request(agw.port, "GET", "/k/hs/doc?x=1", headers=[("Authorization", f"{scheme} {tok}")])
    assert r.status == 200, r
    rec = only_request(upstream)
    assert rec["target"] == "/k/hs/doc?x=1"
    assert hvals(rec, "authorization") == [f"{scheme} {tok}"], "forward.token defaults to keep for headers"
    no_token_in_log(agw, tok)


def test_authorization_other_scheme_is_invalid_not_missing(agw, upstream, tok):
    r = request(agw.port, "GET", "/k/hs/doc", headers=[("Authorization", f"Basic {tok}")])
    assert_denied(r, 401, "malformed", "k-hs")
    assert upstream.requests() == []


def test_bearer_without_token_is_not_accepted(agw, upstream):
    for value in ["Bearer ", "Bearer"]:
        r = request(agw.port, "GET", "/k/hs/doc", headers=[("Authorization", value)])
        assert r.status == 401, (value, r)
        assert upstream.requests() == []


def test_two_authorization_fields_400(agw, upstream, tok):
    r = request(agw.port, "GET", "/k/hs/doc", headers=[bearer(tok), bearer(tok)])
    assert r.status == 400, r
    assert upstream.requests() == []


def test_custom_header_without_prefix(agw, upstream, tok):
    r = request(agw.port, "GET", "/s/h/x", headers=[("X-Token", tok)])
    assert r.status == 200, r
    assert hvals(only_request(upstream), "x-token") == [tok]
    upstream.reset()
    # the custom header route does not look at Authorization
    r = request(agw.port, "GET", "/s/h/x", headers=[bearer(tok)])
    assert_denied(r, 401, None, "s-header")
    assert upstream.requests() == []


def test_custom_header_with_prefix_is_sent_raw_as_the_token(agw, upstream, tok):
    """A header source without `prefix` takes the whole value: "Bearer <jwt>" is not a JWS."""
    r = request(agw.port, "GET", "/s/h/x", headers=[("X-Token", f"Bearer {tok}")])
    assert_denied(r, 401, "malformed", "s-header")


# ------------------------------------------------------------------------------------------------
# query source
# ------------------------------------------------------------------------------------------------
def test_query_token_stripped_other_params_kept_in_order(agw, upstream, tok):
    target = f"/s/q/hub?z=9&a=1&access_token={tok}&m=%2Fx%20y&a=2&empty=&flag"
    r = request(agw.port, "GET", target)
    assert r.status == 200, r
    rec = only_request(upstream)
    assert rec["target"] == "/s/q/hub?z=9&a=1&m=%2Fx%20y&a=2&empty=&flag", rec["target"]
    log = wait_log(agw, lambda e: e.get("route") == "s-query")
    assert len(log) == 1, agw.stdout_lines()
    assert log[0]["path"] == "/s/q/hub?z=9&a=1&access_token=REDACTED&m=%2Fx%20y&a=2&empty=&flag", log[0]
    no_token_in_log(agw, tok)


@pytest.mark.parametrize("where", ["first", "only", "last"])
def test_query_token_positions(agw, upstream, tok, where):
    target = {"first": f"/s/q/p?access_token={tok}&b=2",
              "only": f"/s/q/p?access_token={tok}",
              "last": f"/s/q/p?b=2&access_token={tok}"}[where]
    want = {"first": "/s/q/p?b=2", "only": "/s/q/p", "last": "/s/q/p?b=2"}[where]
    r = request(agw.port, "GET", target)
    assert r.status == 200, r
    assert only_request(upstream)["target"] == want


def test_query_param_with_similar_name_is_not_the_token(agw, upstream, tok):
    r = request(agw.port, "GET", f"/s/q/p?xaccess_token={tok}&access_tokens={tok}")
    assert_denied(r, 401, None, "s-query")
    assert upstream.requests() == []


def test_invalid_query_token_redacted_in_log(agw, upstream, tok):
    bad = tamper_signature(tok)
    r = request(agw.port, "GET", f"/s/q/p?access_token={bad}&k=v")
    assert_denied(r, 401, "bad_signature", "s-query")
    assert upstream.requests() == []
    log = wait_log(agw, lambda e: e.get("route") == "s-query")
    assert log and log[-1]["path"] == "/s/q/p?access_token=REDACTED&k=v", log
    assert log[-1]["status"] == 401
    no_token_in_log(agw, bad)


def test_query_token_with_curl(agw, upstream, tok):
    """The same through curl, as an operator would try it."""
    out = subprocess.run(["curl", "-sS", "-o", "-", "-w", "\n%{http_code}",
                          agw.url(f"/s/q/curl?access_token={tok}&after=1")],
                         capture_output=True, text=True, timeout=20)
    body, _, code = out.stdout.rpartition("\n")
    assert code == "200", out
    assert json.loads(body)["target"] == "/s/q/curl?after=1"


# ------------------------------------------------------------------------------------------------
# cookie source
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cookie", ["session_jwt={t}", "a=1; session_jwt={t}; b=2", "other=x;session_jwt={t}"])
def test_cookie_token(agw, upstream, tok, cookie):
    value = cookie.format(t=tok)
    r = request(agw.port, "GET", "/s/c/page", headers=[("Cookie", value)])
    assert r.status == 200, r
    assert hvals(only_request(upstream), "cookie") == [value], "the Cookie field is forwarded unchanged"
    wait_log(agw)
    no_token_in_log(agw, tok)


def test_cookie_with_similar_name_is_missing(agw, upstream, tok):
    r = request(agw.port, "GET", "/s/c/page", headers=[("Cookie", f"xsession_jwt={tok}; session_jwt_old={tok}")])
    assert_denied(r, 401, None, "s-cookie")
    assert upstream.requests() == []


def test_cookie_in_second_cookie_field(agw, upstream, tok):
    r = request(agw.port, "GET", "/s/c/page", headers=[("Cookie", "a=1"), ("Cookie", f"session_jwt={tok}")])
    assert r.status == 200, r


# ------------------------------------------------------------------------------------------------
# JSON body source
# ------------------------------------------------------------------------------------------------
def body_request(port, path, body: bytes, headers=(), chunked=False):
    hdrs = [("Content-Type", "application/json"), *headers]
    with RawConn(port) as c:
        if chunked:
            c.send(build_request("POST", path, headers=[*hdrs, ("Transfer-Encoding", "chunked")],
                                 body=chunk_encode([body[:7], body[7:]]), content_length=False))
        else:
            c.send(build_request("POST", path, headers=hdrs, body=body))
        return c.read_response("POST")


def test_body_token_forwarded_byte_for_byte(agw, upstream, tok):
    body = ('{ "c" : "info",\n  "key":"Khirz6zTPdfd7", "token" : "%s", "u": "\\u00e9t\\u00e9" }' % tok).encode()
    r = body_request(agw.port, "/s/b/command?shardkey=K", body)
    assert r.status == 200, r
    rec = only_request(upstream)
    assert rec["target"] == "/s/b/command?shardkey=K"
    assert rec["body_len"] == len(body)
    assert rec["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert hvals(rec, "content-length") == [str(len(body))]
    no_token_in_log(agw, tok)


def test_body_token_chunked_request(agw, upstream, tok):
    body = json.dumps({"token": tok, "c": "drop"}).encode()
    r = body_request(agw.port, "/s/b/command", body, chunked=True)
    assert r.status == 200, r
    rec = only_request(upstream)
    assert rec["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_body_without_field_is_missing(agw, upstream):
    r = body_request(agw.port, "/s/b/command", b'{"c":"info","tokens":"x"}')
    assert_denied(r, 401, None, "s-body")
    assert upstream.requests() == []


def test_body_nested_token_field_is_not_the_token(agw, upstream, tok):
    r = body_request(agw.port, "/s/b/command", json.dumps({"payload": {"token": tok}}).encode())
    assert_denied(r, 401, None, "s-body")
    assert upstream.requests() == []


def test_body_token_not_a_string_is_refused(agw, upstream):
    r = body_request(agw.port, "/s/b/command", b'{"token": 12345}')
    assert r.status in (400, 401), r
    assert upstream.requests() == []


def test_get_without_body_is_missing(agw, upstream, tok):
    r = request(agw.port, "GET", "/s/b/command")
    assert_denied(r, 401, None, "s-body")
    assert upstream.requests() == []


def test_body_larger_than_auth_limit_refused(agw, upstream, tok):
    """max_auth_body_bytes is 65536 in the standard file: the gateway must not buffer beyond it, and must not
    forward the request unauthenticated."""
    body = json.dumps({"token": tok, "pad": "x" * 70000}).encode()
    r = body_request(agw.port, "/s/b/command", body)
    assert r.status == 413, r
    assert r.error_json()["error"] == "payload_too_large", r
    assert upstream.requests() == []


@pytest.mark.parametrize("ctype,body", [
    ("multipart/form-data; boundary=XyZ",
     b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.docx"\r\n\r\nPK\x03\x04\r\n--XyZ--\r\n'),
    ("application/xml", b"<convert><token>not-here</token></convert>"),
    ("application/json", b"[1, 2, 3]"),
    ("application/json", b""),
])
def test_body_source_not_a_json_object_falls_through_to_header(agw, upstream, tok, ctype, body):
    r = request(agw.port, "POST", "/s/o/up", headers=[("Content-Type", ctype), bearer(tok)], body=body)
    assert r.status == 200, r
    rec = only_request(upstream)
    assert rec["body_len"] == len(body) and rec["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_large_non_json_upload_with_header_token(agw, upstream, tok):
    """A multipart upload far larger than max_auth_body_bytes (64 KiB here) cannot hold a top-level JSON
    `token`: with a valid header token it must be forwarded whole (ONLYOFFICE /converter/from-file, /upload
    take up to 100 MiB), not refused with 413."""
    part = bytes(range(256)) * 1024  # 256 KiB
    body = (b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="big.docx"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n" + part + b"\r\n--XyZ--\r\n")
    r = request(agw.port, "POST", "/s/o/upload",
                headers=[("Content-Type", "multipart/form-data; boundary=XyZ"), bearer(tok)], body=body)
    assert r.status == 200, r
    rec = only_request(upstream)
    assert rec["body_len"] == len(body) and rec["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_body_token_invalid_signature(agw, upstream, tok):
    bad = hs_token(b"another-secret-another-secret-another-secret-another-secret!!!!", claims())
    r = body_request(agw.port, "/s/b/command", json.dumps({"token": bad}).encode())
    assert_denied(r, 401, "bad_signature", "s-body")
    assert upstream.requests() == []


def test_body_token_keep_alive_then_next_request(agw, upstream, tok):
    """After a body-token request the connection stays usable: the body was consumed exactly once."""
    body = json.dumps({"token": tok}).encode()
    with RawConn(agw.port) as c:
        for i in range(3):
            c.send(build_request("POST", f"/s/b/r{i}", headers=[("Content-Type", "application/json")], body=body))
            r = c.read_response("POST")
            assert r.status == 200, r
        c.send(build_request("POST", "/s/b/bad", headers=[("Content-Type", "application/json")], body=b'{"x":1}'))
        r = c.read_response("POST")
        assert r.status == 401
    recs = upstream.requests()
    assert [x["target"] for x in recs] == ["/s/b/r0", "/s/b/r1", "/s/b/r2"]
    assert all(x["body_sha256"] == hashlib.sha256(body).hexdigest() for x in recs)


# ------------------------------------------------------------------------------------------------
# source order: the first present source is the token; a later one is never tried in its place
# ------------------------------------------------------------------------------------------------
def test_order_body_wins_over_header(agw, upstream, tok):
    bad = hs_token(b"wrong-secret-wrong-secret-wrong-secret-wrong-secret-wrong-secret", claims())
    r = body_request(agw.port, "/s/o/x", json.dumps({"token": bad}).encode(), headers=[bearer(tok)])
    assert_denied(r, 401, "bad_signature", "s-order")
    assert upstream.requests() == []


def test_order_header_used_when_body_has_no_token(agw, upstream, tok):
    r = body_request(agw.port, "/s/o/x", b'{"c":"info"}', headers=[bearer(tok)])
    assert r.status == 200, r


def test_order_query_then_cookie(agw, upstream, tok):
    bad = tamper_signature(tok)
    r = request(agw.port, "GET", f"/s/o/x?t={bad}", headers=[("Cookie", f"c={tok}")])
    assert_denied(r, 401, "bad_signature", "s-order")
    upstream.reset()
    r = request(agw.port, "GET", "/s/o/x?u=1", headers=[("Cookie", f"c={tok}")])
    assert r.status == 200, r
    r = request(agw.port, "GET", f"/s/o/x?t={tok}&u=1", headers=[("Cookie", f"c={bad}")])
    assert r.status == 200, r
    assert [x["target"] for x in upstream.requests()] == ["/s/o/x?u=1", "/s/o/x?u=1"]


# ------------------------------------------------------------------------------------------------
# forward.token: strip
# ------------------------------------------------------------------------------------------------
def test_forward_strip_removes_header_token(agw, upstream, tok):
    r = request(agw.port, "GET", "/s/strip/x?k=1", headers=[bearer(tok), ("X-Other", "kept")])
    assert r.status == 200, r
    rec = only_request(upstream)
    assert hvals(rec, "authorization") == []
    assert hvals(rec, "x-other") == ["kept"]
    assert rec["target"] == "/s/strip/x?k=1"


def test_forward_strip_removes_query_token(agw, upstream, tok):
    r = request(agw.port, "GET", f"/s/strip/x?access_token={tok}&k=1")
    assert r.status == 200, r
    assert only_request(upstream)["target"] == "/s/strip/x?k=1"
