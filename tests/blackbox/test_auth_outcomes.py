"""Every auth outcome with its status, WWW-Authenticate, JSON body and access-log reason, on one route with
issuer, audience, required claims, leeway, max_lifetime and claim rules. A refused request never reaches
the upstream."""
import pytest

from authlib import (ISSUERS, agw, assert_denied, b64u, b64u_json, bearer, hs_token, keyring, mint,  # noqa: F401
                     none_token, now, tamper_payload, tamper_signature, wait_log)
from httpc import request

WRONG_SECRET = b"not-the-route-secret-not-the-route-secret-not-the-route-secret!!"


def good(**kw) -> dict:
    t = now()
    c = {"iss": ISSUERS[0], "aud": "api", "sub": "alice", "iat": t, "exp": t + 600, "role": "editor",
         "org": {"tenant": "acme"}, "scope": "read write"}
    c.update(kw)
    return {k: v for k, v in c.items() if v is not None}


def call(gw, token: str | None, path="/o/resource", headers=()):
    hdrs = list(headers)
    if token is not None:
        hdrs.append(bearer(token))
    return request(gw.port, "GET", path, headers=hdrs)


def log_reason(gw, route="outc"):
    entries = wait_log(gw, lambda e: e.get("route") == route)
    return entries[-1].get("auth") if entries else None


# ------------------------------------------------------------------------------------------------
# allowed
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", [
    {}, {"iss": ISSUERS[1]}, {"aud": ["web", "other"]}, {"scope": ["read", "write"]}, {"role": "admin"},
    {"exp_delta": -10}, {"nbf_delta": 10}, {"iat_delta": 10}, {"lifetime": 3600},
])
def test_allowed(agw, upstream, keyring, variant):
    v = dict(variant)
    t = now()
    c = good(**{k: x for k, x in v.items() if not k.endswith(("_delta",)) and k != "lifetime"})
    if "exp_delta" in v:
        c["exp"] = t + v["exp_delta"]  # expired 10 s ago: within the 30 s leeway
    if "nbf_delta" in v:
        c["nbf"] = t + v["nbf_delta"]
    if "iat_delta" in v:
        c["iat"] = t + v["iat_delta"]
    if "lifetime" in v:
        c["iat"], c["exp"] = t, t + v["lifetime"]  # exactly max_lifetime
    r = call(agw, hs_token(keyring.hmac, c))
    assert r.status == 200, (variant, r)
    assert len(upstream.requests()) == 1
    assert log_reason(agw) == "allowed"
    entry = wait_log(agw, lambda e: e.get("route") == "outc")[-1]
    assert entry.get("subject") == "alice", entry


def test_allowed_rs256_on_mixed_route(agw, upstream, keyring):
    r = call(agw, mint("RS256", keyring.rsa, good()))
    assert r.status == 200, r


# ------------------------------------------------------------------------------------------------
# refusals, one per reason
# ------------------------------------------------------------------------------------------------
def _t(kr, **kw):
    return hs_token(kr.hmac, good(**kw))


CASES = {
    # name: (token factory, status, reason)
    "missing": (lambda kr: None, 401, None),
    "malformed-garbage": (lambda kr: "abc", 401, "malformed"),
    "malformed-two-segments": (lambda kr: "eyJhbGciOiJIUzI1NiJ9.e30", 401, "malformed"),
    "malformed-four-segments": (lambda kr: _t(kr) + ".AAAA", 401, "malformed"),
    "malformed-header-not-json": (lambda kr: b64u(b"{not json") + "." + b64u_json(good()) + ".AAAA", 401,
                                  "malformed"),
    "malformed-payload-not-json": (lambda kr: hs_token_raw(kr.hmac, b"[1,2,"), 401, "malformed"),
    "malformed-payload-array": (lambda kr: hs_token_raw(kr.hmac, b"[1,2]"), 401, "malformed"),
    "malformed-exp-string": (lambda kr: _t(kr, exp=str(now() + 600)), 401, "malformed"),
    "malformed-bad-base64": (lambda kr: hs_token_seg(kr.hmac, "*" + b64u_json(good())), 401, "malformed"),
    "malformed-padded-base64": (lambda kr: hs_token_seg(kr.hmac, padded(b64u_json(good()) + "x")), 401, "malformed"),
    "malformed-std-alphabet": (lambda kr: hs_token_seg(kr.hmac, std_alphabet_payload()), 401, "malformed"),
    "token_too_large": (lambda kr: _t(kr, pad="x" * 5000), 401, "token_too_large"),
    "unsupported_algorithm-none": (lambda kr: none_token(good()), 401, "unsupported_algorithm"),
    "unsupported_algorithm-None": (lambda kr: none_token(good(), "None"), 401, "unsupported_algorithm"),
    "unsupported_algorithm-bogus": (lambda kr: bogus_alg(kr), 401, "unsupported_algorithm"),
    "algorithm_not_allowed-HS384": (lambda kr: hs_token(kr.hmac, good(), "HS384"), 401, "algorithm_not_allowed"),
    "algorithm_not_allowed-ES256": (lambda kr: mint("ES256", kr.p256, good()), 401, "algorithm_not_allowed"),
    "bad_signature-tampered": (lambda kr: tamper_signature(_t(kr)), 401, "bad_signature"),
    "bad_signature-payload-swapped": (lambda kr: tamper_payload(_t(kr), role="admin", sub="mallory"), 401,
                                      "bad_signature"),
    "bad_signature-wrong-secret": (lambda kr: hs_token(WRONG_SECRET, good()), 401, "bad_signature"),
    "bad_signature-wrong-rsa": (lambda kr: mint("RS256", kr.rsa2, good()), 401, "bad_signature"),
    "bad_signature-empty-sig": (lambda kr: _t(kr).rsplit(".", 1)[0] + ".", 401, "bad_signature"),
    "expired": (lambda kr: _t(kr, exp=now() - 120), 401, "expired"),
    "not_yet_valid": (lambda kr: _t(kr, nbf=now() + 120), 401, "not_yet_valid"),
    "issued_in_future": (lambda kr: _t(kr, iat=now() + 120, exp=now() + 700), 401, "issued_in_future"),
    "wrong_issuer": (lambda kr: _t(kr, iss="https://evil.test"), 401, "wrong_issuer"),
    "wrong_issuer-prefix": (lambda kr: _t(kr, iss=ISSUERS[0] + "/"), 401, "wrong_issuer"),
    "wrong_audience": (lambda kr: _t(kr, aud="web"), 401, "wrong_audience"),
    "wrong_audience-list": (lambda kr: _t(kr, aud=["web", "apix"]), 401, "wrong_audience"),
    "missing_claim-sub": (lambda kr: _t(kr, sub=None), 401, "missing_claim"),
    "missing_claim-exp": (lambda kr: _t(kr, exp=None), 401, "missing_claim"),
    "missing_claim-rule": (lambda kr: _t(kr, role=None), 401, "missing_claim"),
    "claim_mismatch-role": (lambda kr: _t(kr, role="viewer"), 403, "claim_mismatch"),
    "claim_mismatch-tenant": (lambda kr: _t(kr, org={"tenant": "acme-evil"}), 403, "claim_mismatch"),
    "claim_mismatch-scope-substring": (lambda kr: _t(kr, scope="read writer"), 403, "claim_mismatch"),
    "claim_mismatch-scope-list": (lambda kr: _t(kr, scope=["read"]), 403, "claim_mismatch"),
    "lifetime_too_long": (lambda kr: _t(kr, exp=now() + 7200), 401, "lifetime_too_long"),
    "lifetime_too_long-no-iat": (lambda kr: _t(kr, iat=None, exp=now() + 7200), 401, "lifetime_too_long"),
}


def hs_token_raw(secret: bytes, payload: bytes) -> str:
    import hashlib
    import hmac
    si = f"{b64u_json({'alg': 'HS256', 'typ': 'JWT'})}.{b64u(payload)}"
    return si + "." + b64u(hmac.new(secret, si.encode(), hashlib.sha256).digest())


def hs_token_seg(secret: bytes, payload_segment: str) -> str:
    """HS256 over an arbitrary (possibly invalid) payload segment, with a valid signature."""
    import hashlib
    import hmac
    si = f"{b64u_json({'alg': 'HS256', 'typ': 'JWT'})}.{payload_segment}"
    return si + "." + b64u(hmac.new(secret, si.encode(), hashlib.sha256).digest())


def padded(seg: str) -> str:
    import base64
    import json
    raw = json.dumps(good(pad="ab")).encode()
    enc = base64.urlsafe_b64encode(raw).decode()
    if not enc.endswith("="):
        raw = json.dumps(good(pad="abc")).encode()
        enc = base64.urlsafe_b64encode(raw).decode()
    assert enc.endswith("=")
    return enc


def std_alphabet_payload() -> str:
    """A payload whose standard-base64 form contains '+' or '/' (not base64url)."""
    import base64
    import json
    for i in range(1000):
        enc = base64.b64encode(json.dumps(good(n="~" * i + "??>>")).encode()).decode().rstrip("=")
        if "+" in enc or "/" in enc:
            return enc
    raise AssertionError("no payload with + or /")


def bogus_alg(kr) -> str:
    """HMAC-SHA256 signed, but the header names an algorithm no JWS registry has."""
    import hashlib
    import hmac
    si = f"{b64u_json({'alg': 'XS256', 'typ': 'JWT'})}.{b64u_json(good())}"
    return si + "." + b64u(hmac.new(kr.hmac, si.encode(), hashlib.sha256).digest())


@pytest.mark.parametrize("case", list(CASES))
def test_refused(agw, upstream, keyring, case):
    factory, status, reason = CASES[case]
    token = factory(keyring)
    r = call(agw, token)
    assert_denied(r, status, reason, "outc")
    assert upstream.requests() == [], "a refused request must not reach the upstream"
    assert log_reason(agw) == (reason or "missing")
    if token:
        for ln in agw.stdout_lines():
            assert token.rsplit(".", 1)[-1] not in ln or len(token.rsplit(".", 1)[-1]) < 8, ln


def test_missing_issuer_is_refused(agw, upstream, keyring):
    r = call(agw, _t(keyring, iss=None))
    assert r.status == 401, r
    assert r.error_json()["reason"] in ("wrong_issuer", "missing_claim"), r
    assert upstream.requests() == []


def test_missing_audience_is_refused(agw, upstream, keyring):
    r = call(agw, _t(keyring, aud=None))
    assert r.status == 401, r
    assert r.error_json()["reason"] in ("wrong_audience", "missing_claim"), r
    assert upstream.requests() == []


def test_custom_realm(agw, upstream, keyring):
    r = request(agw.port, "GET", "/realm/x")
    assert_denied(r, 401, None, "Portcullis Test")
    r = request(agw.port, "GET", "/realm/x", headers=[bearer("x.y.z")])
    assert_denied(r, 401, "malformed", "Portcullis Test")


def test_refusal_keeps_connection_usable(agw, upstream, keyring):
    """A local 401/403 on a keep-alive connection does not poison the next request."""
    from httpc import RawConn, build_request
    with RawConn(agw.port) as c:
        for token, want in [(None, 401), (_t(keyring, role="viewer"), 403), (_t(keyring), 200),
                            (tamper_signature(_t(keyring)), 401), (_t(keyring), 200)]:
            hdrs = [bearer(token)] if token else []
            c.send(build_request("GET", "/o/ka", headers=hdrs))
            r = c.read_response()
            assert r.status == want, r
            assert not r.wants_close(), r
    assert len(upstream.requests()) == 2
