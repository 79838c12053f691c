"""forward.claims_to_headers: the gateway sets identity headers from verified claims and removes every
client-sent copy (any case, any number of copies) so the upstream cannot be fooled; values that would
split the head (CR, LF, NUL) are refused with 403."""
import pytest

from authlib import agw, assert_denied, bearer, claims, hs_token, hvals, keyring, tamper_signature  # noqa: F401
from httpc import RawConn, build_request, request

SPOOF = [("X-User-Id", "admin"), ("x-user-id", "root"), ("X-USER-ID", "0"), ("X-User-Email", "ceo@corp.test"),
         ("x-role", "admin"), ("X-Role", ""), ("X-User-Id", "second-copy")]


def tok(kr, **kw):
    return hs_token(kr.hmac, claims(**kw))


def test_claims_become_headers_and_spoofed_copies_removed(agw, upstream, keyring):
    t = tok(keyring, sub="alice", email="alice@example.test", role="editor")
    r = request(agw.port, "GET", "/c2h/x", headers=[*SPOOF, bearer(t), ("X-Keep", "1")])
    assert r.status == 200, r
    rec = upstream.requests()[0]
    assert hvals(rec, "x-user-id") == ["alice"], rec["raw_head"]
    assert hvals(rec, "x-user-email") == ["alice@example.test"], rec["raw_head"]
    assert hvals(rec, "x-role") == ["editor"], rec["raw_head"]
    assert hvals(rec, "x-keep") == ["1"]
    assert hvals(rec, "authorization") == [f"Bearer {t}"]


def test_absent_claim_still_removes_client_copy(agw, upstream, keyring):
    t = tok(keyring, sub="bob")  # no email, no role
    r = request(agw.port, "GET", "/c2h/x", headers=[*SPOOF, bearer(t)])
    assert r.status == 200, r
    rec = upstream.requests()[0]
    assert hvals(rec, "x-user-id") == ["bob"]
    assert hvals(rec, "x-user-email") == [], rec["raw_head"]
    assert hvals(rec, "x-role") == [], rec["raw_head"]


def test_spoofing_on_keep_alive_connection(agw, upstream, keyring):
    """Each request on a reused connection is stripped again; an unauthenticated one never gets through."""
    ta = tok(keyring, sub="alice")
    tb = tok(keyring, sub="bob", email="bob@x.test")
    with RawConn(agw.port) as c:
        for hdrs, want in [([("X-User-Id", "evil"), bearer(ta)], 200),
                           ([("X-User-Id", "evil")], 401),
                           ([bearer(tb), ("X-User-Email", "evil@x.test"), ("X-User-Id", "evil")], 200),
                           ([bearer(tamper_signature(ta)), ("X-User-Id", "evil")], 401)]:
            c.send(build_request("GET", "/c2h/ka", headers=hdrs))
            assert c.read_response().status == want
    recs = upstream.requests()
    assert len(recs) == 2
    assert hvals(recs[0], "x-user-id") == ["alice"] and hvals(recs[0], "x-user-email") == []
    assert hvals(recs[1], "x-user-id") == ["bob"] and hvals(recs[1], "x-user-email") == ["bob@x.test"]


@pytest.mark.parametrize("bad", ["alice\r\nX-Admin: 1", "alice\nX-Admin: 1", "alice\rX", "alice\x00admin"])
@pytest.mark.parametrize("claim", ["sub", "email"])
def test_claim_values_with_control_characters_refused(agw, upstream, keyring, bad, claim):
    t = tok(keyring, **{claim: bad})
    r = request(agw.port, "GET", "/c2h/x", headers=[bearer(t)])
    assert_denied(r, 403, "claim_mismatch", "c2h")
    assert upstream.requests() == []


def test_claim_value_with_tab_and_unicode(agw, upstream, keyring):
    """Printable non-ASCII text is not a head-splitting risk; it must arrive intact (UTF-8 bytes) or be refused
    with 403 -- never mangled into another header."""
    t = tok(keyring, sub="zoë", email="a\tb@x.test")
    r = request(agw.port, "GET", "/c2h/x", headers=[bearer(t)])
    assert r.status in (200, 403), r
    if r.status == 200:
        rec = upstream.requests()[0]
        assert hvals(rec, "x-user-id") == ["zoë".encode().decode("latin-1")], rec["raw_head"]
        assert hvals(rec, "x-user-email") == ["a\tb@x.test"], rec["raw_head"]
        assert "x-admin" not in rec["raw_head"].lower()


def test_route_without_claims_to_headers_leaves_headers_alone(agw, upstream, keyring):
    t = tok(keyring, sub="alice")
    r = request(agw.port, "GET", "/k/hs/x", headers=[("X-User-Id", "client-value"), bearer(t)])
    assert r.status == 200, r
    assert hvals(upstream.requests()[0], "x-user-id") == ["client-value"]


@pytest.mark.parametrize("name", ["X_User_Id", "x_user-id", "X-User_Email"])
def test_underscore_variants_of_mapped_headers_removed(agw, upstream, keyring, name):
    """CGI-style upstreams (PHP, WSGI, Rack) read X_User_Id and X-User-Id both as HTTP_X_USER_ID; a client
    copy spelled with underscores would shadow or duplicate the verified value. nginx drops such fields by
    default (underscores_in_headers off). A route that maps claims to X-User-Id must not forward them."""
    t = tok(keyring, sub="alice", email="alice@example.test")
    r = request(agw.port, "GET", "/c2h/x", headers=[(name, "evil"), bearer(t)])
    assert r.status in (200, 400), r
    if r.status == 200:
        rec = upstream.requests()[0]
        assert hvals(rec, name) == [], f"{name} reached the upstream: {rec['raw_head']}"
        assert hvals(rec, "x-user-id") == ["alice"]


def test_exists_false_forbids_a_claim(gateway, upstream, keyring):
    """`exists: false`: a token carrying the claim (here an `act` delegation claim) is refused with 403
    claim_mismatch; one without it, or with it null, passes."""
    from authlib import BEARER, auth_config
    keys = f'  hs: {{ algorithms: [HS256], secret: {{ value: "{keyring.hmac.decode()}" }} }}\n'
    routes = ("  - name: nodelegation\n    match: { path_prefix: /nd/ }\n    upstream: echo\n    auth:\n"
              f"      keys: [hs]\n      tokens: [ {BEARER} ]\n      claims: [ {{ claim: act.sub, exists: false }} ]\n")
    g = gateway(auth_config(upstream.port, keys=keys, routes=routes))
    assert request(g.port, "GET", "/nd/x", headers=[bearer(tok(keyring, sub="a"))]).status == 200
    assert request(g.port, "GET", "/nd/x", headers=[bearer(hs_token(keyring.hmac, {**claims(sub="a"), "act": None}))]).status == 200
    r = request(g.port, "GET", "/nd/x", headers=[bearer(tok(keyring, sub="a", act={"sub": "admin"}))])
    assert_denied(r, 403, "claim_mismatch", "nodelegation")
