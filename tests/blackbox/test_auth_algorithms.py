"""Tokens minted by an independent implementation (joserfc / cryptography / hmac) for every algorithm
family and every key form the route file accepts; algorithms pinned by the key set (confusion, none)."""
import hashlib
import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from authlib import (agw, assert_denied, b64u, b64u_json, bearer, claims, hs_token, keyring, mint,  # noqa: F401
                     mint_hs_joserfc, none_token, tamper_signature)
from httpc import request

# (route key set, algorithm, key attribute on the keyring, header extras)
ACCEPTED = [
    ("hs", "HS256", "hmac", None),
    ("hs_all", "HS256", "hmac", None),
    ("hs_all", "HS384", "hmac", None),
    ("hs_all", "HS512", "hmac", None),
    ("hs_b64", "HS256", "hmac", None),
    ("hs_b64u", "HS512", "hmac", None),
    ("hs_env", "HS384", "hmac", None),
    ("rs_spki", "RS256", "rsa", None),
    ("rs_spki", "PS256", "rsa", None),
    ("rs_pkcs1", "RS256", "rsa", None),
    ("rs_pkcs1", "RS512", "rsa", None),
    ("rs_cert", "RS384", "rsa", None),
    ("rs_cert", "PS384", "rsa", None),
    ("rs_cert", "PS512", "rsa", None),
    ("rs_inline", "RS256", "rsa", None),
    ("es256", "ES256", "p256", None),
    ("es384", "ES384", "p384", None),
    ("es512", "ES512", "p521", None),
    ("ed", "EdDSA", "ed", None),
    ("ed_cert", "EdDSA", "ed", None),
    ("jwks", "RS256", "rsa", {"kid": "rsa-1"}),
    ("jwks", "RS256", "rsa2", {"kid": "rsa-2"}),
    ("jwks", "ES256", "p256", {"kid": "ec-1"}),
    ("jwks", "EdDSA", "ed", {"kid": "ed-1"}),
    ("jwks", "RS256", "rsa2", None),  # no kid: the keys of the right type are tried
]


def get(gw, keyset, token):
    return request(gw.port, "GET", f"/k/{keyset}/x", headers=[bearer(token)])


@pytest.mark.parametrize("keyset,alg,key,hdr", ACCEPTED, ids=[f"{a[0]}-{a[1]}-{a[2]}-{bool(a[3])}" for a in ACCEPTED])
def test_accepted(agw, upstream, keyring, keyset, alg, key, hdr):
    k = getattr(keyring, key)
    token = mint(alg, k, claims(sub=f"{keyset}-{alg}"), hdr)
    r = get(agw, keyset, token)
    assert r.status == 200, r
    recs = upstream.requests()
    assert len(recs) == 1
    assert recs[0]["target"] == f"/k/{keyset}/x"
    # and the same token with one flipped signature bit is refused
    upstream.reset()
    r = get(agw, keyset, tamper_signature(token))
    assert_denied(r, 401, "bad_signature", f"k-{keyset}")
    assert upstream.requests() == []


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_hmac_joserfc_minted(agw, upstream, keyring, alg):
    """The HMAC tokens also verify when minted by joserfc (not just by our own hmac helper)."""
    r = get(agw, "hs_all", mint_hs_joserfc(alg, keyring.hmac, claims()))
    assert r.status == 200, r


REFUSED = [
    # (key set, alg, signing key attr, header, reason)
    ("hs", "HS384", "hmac", None, "algorithm_not_allowed"),
    ("hs_b64u", "HS256", "hmac", None, "algorithm_not_allowed"),
    ("rs_spki", "RS512", "rsa", None, "algorithm_not_allowed"),
    ("rs_spki", "RS256", "rsa2", None, "bad_signature"),
    ("rs_spki", "ES256", "p256", None, "algorithm_not_allowed"),
    ("rs_cert", "RS256", "rsa", None, "algorithm_not_allowed"),
    ("es256", "ES384", "p384", None, "algorithm_not_allowed"),
    ("es256", "ES256", "p256x", None, "bad_signature"),
    ("es384", "ES256", "p256", None, "algorithm_not_allowed"),
    ("es512", "ES512", "p521x", None, "bad_signature"),
    ("ed", "EdDSA", "edx", None, "bad_signature"),
    ("ed", "ES256", "p256", None, "algorithm_not_allowed"),
    ("jwks", "RS256", "rsa2", {"kid": "rsa-1"}, "bad_signature"),
    ("jwks", "RS256", "rsa", {"kid": "nope"}, "unknown_key"),
    ("jwks", "RS256", "rsa", {"kid": "ec-1"}, "algorithm_not_allowed"),
    ("jwks", "PS256", "rsa", {"kid": "rsa-1"}, "algorithm_not_allowed"),
    ("jwks", "ES384", "p384", None, "algorithm_not_allowed"),
]


@pytest.fixture(scope="module")
def strangers():
    """Keys of the right type that no key set holds."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from authlib import KeyPair
    return {"p256x": KeyPair("p256x", ec.generate_private_key(ec.SECP256R1()), None),
            "p521x": KeyPair("p521x", ec.generate_private_key(ec.SECP521R1()), None),
            "edx": KeyPair("edx", ed25519.Ed25519PrivateKey.generate(), None)}


@pytest.mark.parametrize("keyset,alg,key,hdr,reason", REFUSED,
                         ids=[f"{a[0]}-{a[1]}-{a[2]}-{a[4]}" for a in REFUSED])
def test_refused(agw, upstream, keyring, strangers, keyset, alg, key, hdr, reason):
    k = strangers[key] if key in strangers else getattr(keyring, key)
    r = get(agw, keyset, mint(alg, k, claims(), hdr))
    assert_denied(r, 401, reason, f"k-{keyset}")
    assert upstream.requests() == []


# ------------------------------------------------------------------------------------------------
# algorithm confusion and "none"
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("keyset,pem", [("rs_spki", "spki"), ("rs_pkcs1", "pkcs1"), ("rs_cert", "cert"),
                                        ("rs_inline", "spki"), ("jwks", "spki")])
def test_hs256_keyed_with_public_pem_refused(agw, upstream, keyring, keyset, pem):
    """The classic confusion: HS256 with the RSA public key's PEM bytes as the HMAC secret."""
    pem_bytes = keyring.rsa.files[pem].read_bytes()
    for secret in (pem_bytes, pem_bytes.strip(), pem_bytes.replace(b"\n", b"\r\n")):
        r = get(agw, keyset, hs_token(secret, claims()))
        assert_denied(r, 401, "algorithm_not_allowed", f"k-{keyset}")
    assert upstream.requests() == []


def test_hs256_keyed_with_ec_public_pem_refused(agw, upstream, keyring):
    r = get(agw, "es256", hs_token(keyring.p256.spki_pem, claims()))
    assert_denied(r, 401, "algorithm_not_allowed", "k-es256")


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("keyset", ["hs", "rs_spki", "es256", "ed", "jwks"])
def test_alg_none_refused(agw, upstream, keyring, keyset, alg):
    r = get(agw, keyset, none_token(claims(), alg))
    assert_denied(r, 401, "unsupported_algorithm", f"k-{keyset}")
    assert upstream.requests() == []


def test_alg_none_with_a_signature_refused(agw, upstream, keyring):
    t = hs_token(keyring.hmac, claims())
    h, p, s = t.split(".")
    r = get(agw, "hs", f"{b64u_json({'alg': 'none'})}.{p}.{s}")
    assert_denied(r, 401, "unsupported_algorithm", "k-hs")


def test_header_alg_swapped_after_signing_refused(agw, upstream, keyring):
    """An RS256 token whose header is rewritten to PS256 (same RSA key set) must not verify."""
    t = mint("RS256", keyring.rsa, claims())
    _, p, s = t.split(".")
    r = get(agw, "rs_spki", f"{b64u_json({'alg': 'PS256', 'typ': 'JWT'})}.{p}.{s}")
    assert_denied(r, 401, "bad_signature", "k-rs_spki")


def test_ecdsa_der_signature_refused(agw, upstream, keyring):
    """JWS ES256 signatures are raw r||s (64 bytes); a DER-encoded signature must be refused."""
    h = b64u_json({"alg": "ES256", "typ": "JWT"})
    p = b64u_json(claims())
    der = keyring.p256.priv.sign(f"{h}.{p}".encode(), ec.ECDSA(hashes.SHA256()))
    r = get(agw, "es256", f"{h}.{p}.{b64u(der)}")
    assert_denied(r, 401, "bad_signature", "k-es256")


def test_ecdsa_raw_signature_by_cryptography_accepted(agw, upstream, keyring):
    """A third implementation: cryptography's ECDSA converted to raw r||s by hand."""
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
    h = b64u_json({"alg": "ES256", "typ": "JWT"})
    p = b64u_json(claims())
    r_, s_ = decode_dss_signature(keyring.p256.priv.sign(f"{h}.{p}".encode(), ec.ECDSA(hashes.SHA256())))
    sig = r_.to_bytes(32, "big") + s_.to_bytes(32, "big")
    r = get(agw, "es256", f"{h}.{p}.{b64u(sig)}")
    assert r.status == 200, r


def test_rs256_truncated_signature_refused(agw, upstream, keyring):
    t = mint("RS256", keyring.rsa, claims())
    h, p, s = t.split(".")
    r = get(agw, "rs_spki", f"{h}.{p}.{s[:-4]}")
    assert r.status == 401 and r.error_json()["reason"] in ("bad_signature", "malformed"), r


# ------------------------------------------------------------------------------------------------
# empty HMAC secret (the ONLYOFFICE documentation samples verify with "")
# ------------------------------------------------------------------------------------------------
ONLYOFFICE_SAMPLES = [{"c": "info", "key": "Khirz6zTPdfd7"},
                      {"payload": {"url": "https://example.com/url-to-example-document.docx"}}]


@pytest.mark.parametrize("payload", ONLYOFFICE_SAMPLES)
def test_empty_secret_signed_token_refused(agw, upstream, keyring, payload):
    """Signed with an empty secret: refused (bad_signature) on an HS route, even on require: [] routes."""
    r = request(agw.port, "POST", "/s/b/command", headers=[("Content-Type", "application/json")],
                body=json.dumps({"token": hs_token(b"", payload)}).encode())
    assert_denied(r, 401, "bad_signature", "s-body")
    assert upstream.requests() == []


def test_hmac_secret_encodings_are_decoded(agw, upstream, keyring):
    """hs_b64u holds base64url("secret"): a token keyed with the *encoded text* must not verify."""
    from authlib import b64u as enc
    wrong = enc(keyring.hmac).encode()
    r = get(agw, "hs_b64u", hs_token(wrong, claims(), "HS512"))
    assert_denied(r, 401, "bad_signature", "k-hs_b64u")
    import base64
    wrong = base64.b64encode(keyring.hmac)
    r = get(agw, "hs_b64", hs_token(wrong, claims()))
    assert_denied(r, 401, "bad_signature", "k-hs_b64")


def test_signature_check_uses_exact_bytes(agw, upstream, keyring):
    """Same claims, re-serialised with other whitespace after signing: the signature covers the bytes."""
    t = hs_token(keyring.hmac, claims())
    h, p, s = t.split(".")
    import base64
    raw = base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))
    p2 = b64u(json.dumps(json.loads(raw), indent=1).encode())
    r = get(agw, "hs", f"{h}.{p2}.{s}")
    assert_denied(r, 401, "bad_signature", "k-hs")
    assert hashlib.sha256(raw).digest() != hashlib.sha256(base64.urlsafe_b64decode(p2 + "==")).digest()
