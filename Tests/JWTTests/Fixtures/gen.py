#!/usr/bin/env python3
"""Fixture generator for Portcullis's JWT tests (cross-implementation vectors).

Run from the repository root:

    pip install cryptography joserfc
    python3 Tests/JWTTests/Fixtures/gen.py

It rewrites Tests/JWTTests/Fixtures/{keys/,positive.json,negative.json}. Keys are fresh random keys each
run (the committed set is one run); tokens expire in 2100. Positive tokens are minted with joserfc;
negative ones are built by hand with `cryptography` so they can be wrong in exactly one way each.
"""

import base64
import datetime
import hashlib
import hmac
import json
import os
import secrets
import string
import warnings

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey

warnings.filterwarnings("ignore")

HERE = os.path.dirname(os.path.abspath(__file__))
KEYS = os.path.join(HERE, "keys")
os.makedirs(KEYS, exist_ok=True)

EXP = 4102444800  # 2100-01-01
IAT = 1700000000
CLAIMS = {
    "iss": "https://id.example.com",
    "sub": "user-1",
    "aud": "chat",
    "iat": IAT,
    "exp": EXP,
    "scope": "read edit",
    "permissions": ["view", "edit"],
    "tenant": "acme",
    "realm_access": {"roles": ["admin"]},
}


def b64u(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def seg(obj) -> str:
    return b64u(json.dumps(obj, separators=(",", ":")).encode())


def write(name: str, data: bytes) -> str:
    with open(os.path.join(KEYS, name), "wb") as f:
        f.write(data)
    return "keys/" + name


def spki(pub) -> bytes:
    return pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def certificate(private, name: str) -> bytes:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=365 * 76))
    )
    algorithm = None if isinstance(private, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)) else hashes.SHA256()
    return builder.sign(private, algorithm).public_bytes(serialization.Encoding.PEM)


# ---------------------------------------------------------------- keys

alphabet = string.ascii_letters + string.digits
SECRET = "".join(secrets.choice(alphabet) for _ in range(64)).encode()
files = {
    "raw": write("secret-raw.txt", SECRET + b"\n"),  # the trailing newline is stripped on load
    "base64": write("secret-base64.txt", base64.b64encode(SECRET) + b"\n"),
    "base64url": write("secret-base64url.txt", b64u(SECRET).encode()),
}
OCT = secrets.token_bytes(64)

rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
rsa_files = {
    "spki": write("rsa-spki.pem", spki(rsa_key.public_key())),
    "pkcs1": write(
        "rsa-pkcs1.pem",
        rsa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1),
    ),
    "cert": write("rsa-cert.pem", certificate(rsa_key, "rsa.portcullis.test")),
}
write(
    "rsa-private.pem",
    rsa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
)
write("rsa1024-spki.pem", spki(rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()))
write("ec-secp256k1-spki.pem", spki(ec.generate_private_key(ec.SECP256K1()).public_key()))

ec_keys = {}
for alg, curve, label in [("ES256", ec.SECP256R1(), "p256"), ("ES384", ec.SECP384R1(), "p384"), ("ES512", ec.SECP521R1(), "p521")]:
    k = ec.generate_private_key(curve)
    ec_keys[alg] = (k, label, {
        "spki": write(f"ec-{label}-spki.pem", spki(k.public_key())),
        "cert": write(f"ec-{label}-cert.pem", certificate(k, f"{label}.portcullis.test")),
    })

ed_keys = {}
for crv, cls in [("Ed25519", ed25519.Ed25519PrivateKey), ("Ed448", ed448.Ed448PrivateKey)]:
    k = cls.generate()
    label = crv.lower()
    ed_keys[crv] = (k, label, {
        "spki": write(f"{label}-spki.pem", spki(k.public_key())),
        "cert": write(f"{label}-cert.pem", certificate(k, f"{label}.portcullis.test")),
    })

# JWKS with every kind, plus entries that must be skipped (use: enc, X25519, unknown kty).
jwks_keys = []
rsa_jwk = RSAKey.import_key(spki(rsa_key.public_key())).as_dict(private=False)
rsa_jwk.update({"kid": "rsa-1", "use": "sig"})
jwks_keys.append(rsa_jwk)
for alg, (k, label, _) in ec_keys.items():
    j = ECKey.import_key(spki(k.public_key())).as_dict(private=False)
    j.update({"kid": f"ec-{label}", "alg": alg})
    jwks_keys.append(j)
for crv, (k, label, _) in ed_keys.items():
    j = OKPKey.import_key(spki(k.public_key())).as_dict(private=False)
    j.update({"kid": label})
    jwks_keys.append(j)
jwks_keys.append({"kty": "oct", "kid": "hmac-1", "k": b64u(OCT), "alg": "HS256"})
jwks_keys.append({"kty": "oct", "kid": "hmac-any", "k": b64u(OCT)})
enc_jwk = RSAKey.generate_key(2048).as_dict(private=False)
enc_jwk.update({"kid": "enc-1", "use": "enc"})
jwks_keys.append(enc_jwk)
jwks_keys.append({"kty": "OKP", "crv": "X25519", "kid": "x25519", "x": b64u(os.urandom(32))})
jwks_keys.append({"kty": "foo", "kid": "unknown"})
JWKS = write("jwks.json", json.dumps({"keys": jwks_keys}, indent=2).encode())

# ---------------------------------------------------------------- positive tokens (joserfc)

positive = []


def mint(alg, key, kid=None, claims=CLAIMS):
    header = {"alg": alg, "typ": "JWT"}
    if kid:
        header["kid"] = kid
    return jwt.encode(header, claims, key, algorithms=[alg])


def add(name, token, alg, keyset):
    positive.append({"name": name, "alg": alg, "token": token, "keys": keyset})


hs_key = OctKey.import_key(SECRET)
for alg in ["HS256", "HS384", "HS512"]:
    t = mint(alg, hs_key)
    for enc, path in files.items():
        add(f"{alg}-secret-{enc}", t, alg, {"algorithms": [alg], "secret": path, "encoding": enc})
    add(f"{alg}-jwks-oct", mint(alg, OctKey.import_key(OCT), kid="hmac-any"), alg, {"algorithms": [alg], "jwks": JWKS})

rsa_jose = RSAKey.import_key(rsa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
for alg in ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]:
    t = mint(alg, rsa_jose)
    for form, path in rsa_files.items():
        add(f"{alg}-{form}", t, alg, {"algorithms": [alg], "public_key": path})
    add(f"{alg}-jwks", mint(alg, rsa_jose, kid="rsa-1"), alg, {"algorithms": [alg], "jwks": JWKS})

for alg, (k, label, paths) in ec_keys.items():
    jk = ECKey.import_key(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    t = mint(alg, jk)
    for form, path in paths.items():
        add(f"{alg}-{form}", t, alg, {"algorithms": [alg], "public_key": path})
    add(f"{alg}-jwks", mint(alg, jk, kid=f"ec-{label}"), alg, {"algorithms": [alg], "jwks": JWKS})
    add(f"{alg}-jwks-no-kid", t, alg, {"algorithms": [alg], "jwks": JWKS})

for crv, (k, label, paths) in ed_keys.items():
    jk = OKPKey.import_key(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    t = mint("EdDSA", jk)
    for form, path in paths.items():
        add(f"EdDSA-{crv}-{form}", t, "EdDSA", {"algorithms": ["EdDSA"], "public_key": path})
    add(f"EdDSA-{crv}-jwks", mint("EdDSA", jk, kid=label), "EdDSA", {"algorithms": ["EdDSA"], "jwks": JWKS})

ALL = ["HS256", "RS256", "RS512", "PS256", "ES256", "ES384", "ES512", "EdDSA"]
add("RS256-jwks-all-algorithms", mint("RS256", rsa_jose, kid="rsa-1"), "RS256", {"algorithms": ALL, "jwks": JWKS})
add("ES384-jwks-all-no-kid", mint("ES384", ECKey.import_key(ec_keys["ES384"][0].private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))), "ES384",
    {"algorithms": ALL, "jwks": JWKS})

# ---------------------------------------------------------------- negative tokens (by hand)

HS = {"algorithms": ["HS256"], "secret": files["raw"], "encoding": "raw"}
RSA_SET = {"algorithms": ["RS256"], "public_key": rsa_files["spki"]}
EC_SET = {"algorithms": ["ES256"], "public_key": ec_keys["ES256"][2]["spki"]}
ED_SET = {"algorithms": ["EdDSA"], "public_key": ed_keys["Ed25519"][2]["spki"]}
JWKS_SET = {"algorithms": ["RS256", "ES256"], "jwks": JWKS}
HASHES = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}
CH = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}


def sign(alg: str, signing_input: bytes, key=None, der=False) -> bytes:
    bits = alg[2:]
    if alg.startswith("HS"):
        return hmac.new(key if key is not None else SECRET, signing_input, HASHES[bits]).digest()
    if alg.startswith("RS"):
        return (key or rsa_key).sign(signing_input, padding.PKCS1v15(), CH[bits])
    if alg.startswith("ES"):
        k = key or ec_keys[alg][0]
        sig = k.sign(signing_input, ec.ECDSA(CH[bits]))
        if der:
            return sig
        r, s = decode_dss_signature(sig)
        size = (k.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    if alg == "EdDSA":
        return (key or ed_keys["Ed25519"][0]).sign(signing_input)
    raise ValueError(alg)


def token(header, payload, alg=None, key=None, der=False, raw_header=None, raw_payload=None):
    h = b64u(raw_header) if raw_header is not None else seg(header)
    p = b64u(raw_payload) if raw_payload is not None else seg(payload)
    alg = alg or header["alg"]
    si = f"{h}.{p}".encode()
    return f"{h}.{p}.{b64u(sign(alg, si, key=key, der=der))}"


negative = []


def neg(name, tok, expect, keys, policy=None, now=None):
    entry = {"name": name, "token": tok, "expect": expect, "keys": keys if isinstance(keys, list) else [keys]}
    if policy is not None:
        entry["policy"] = policy
    if now is not None:
        entry["now"] = now
    negative.append(entry)


good_hs = token({"alg": "HS256", "typ": "JWT"}, CLAIMS)
h, p, s = good_hs.split(".")
neg("alg-none-trailing-dot", f"{seg({'alg': 'none'})}.{p}.", "unsupported_algorithm", HS)
neg("alg-none-no-dot", f"{seg({'alg': 'none'})}.{p}", "malformed", HS)
neg("alg-None-capitalised", f"{seg({'alg': 'None'})}.{p}.", "unsupported_algorithm", HS)
rsa_pem = open(os.path.join(HERE, rsa_files["spki"]), "rb").read()
confused = token({"alg": "HS256"}, CLAIMS, key=rsa_pem)
neg("confusion-hs256-keyed-with-rsa-pem", confused, "algorithm_not_allowed", RSA_SET)
neg("confusion-hs256-keyed-with-rsa-pem-mixed-route", confused, "bad_signature", [HS, RSA_SET])
neg("alg-outside-key-set", token({"alg": "RS256"}, CLAIMS), "algorithm_not_allowed",
    {"algorithms": ["PS256"], "public_key": rsa_files["spki"]})
neg("es384-against-es256-set", token({"alg": "ES384"}, CLAIMS), "algorithm_not_allowed", EC_SET)
neg("kid-of-another-key-type", token({"alg": "ES256", "kid": "rsa-1"}, CLAIMS), "algorithm_not_allowed", JWKS_SET)
neg("kid-unknown", token({"alg": "RS256", "kid": "nope"}, CLAIMS), "unknown_key", JWKS_SET)
neg("kid-not-a-string", token({"alg": "HS256", "kid": 7}, CLAIMS), "malformed", HS)
neg("crit-unknown", token({"alg": "HS256", "crit": ["x-portcullis"], "x-portcullis": 1}, CLAIMS), "malformed", HS)
neg("b64-false", token({"alg": "HS256", "b64": False, "crit": ["b64"]}, CLAIMS), "malformed", HS)
neg("es256-der-signature", token({"alg": "ES256"}, CLAIMS, der=True), "bad_signature", EC_SET)
for alg, ks in [("HS256", HS), ("RS256", RSA_SET), ("ES256", EC_SET), ("EdDSA", ED_SET)]:
    hh, pp = seg({"alg": alg}), seg(CLAIMS)
    full = sign(alg, f"{hh}.{pp}".encode())
    neg(f"truncated-signature-{alg}", f"{hh}.{pp}.{b64u(full[:-1])}", "bad_signature", ks)
    neg(f"empty-signature-{alg}", f"{hh}.{pp}.", "bad_signature", ks)
neg("segments-1", h, "malformed", HS)
neg("segments-2", f"{h}.{p}", "malformed", HS)
neg("segments-4", f"{good_hs}.{s}", "malformed", HS)
neg("segments-5", f"{good_hs}.{s}.{s}", "malformed", HS)
neg("padding-signature", f"{good_hs}=", "malformed", HS)
hp = seg({"alg": "HS256", "typ": "JWT1"})  # 31 bytes -> needs padding
neg("padding-header", token({"alg": "HS256", "typ": "JWT1"}, CLAIMS).replace(hp, hp + "=", 1), "malformed", HS)
neg("plus-in-signature", f"{h}.{p}.+{s[1:]}", "malformed", HS)
neg("slash-in-signature", f"{h}.{p}./{s[1:]}", "malformed", HS)
neg("whitespace-inside", f"{h}.{p}. {s}", "malformed", HS)
neg("trailing-newline", f"{good_hs}\n", "malformed", HS)
last = s[-1]
alt = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
neg("non-canonical-base64url", f"{h}.{p}.{s[:-1]}{alt[alt.index(last) + 1]}", "malformed", HS)
neg("header-not-json", token({"alg": "HS256"}, CLAIMS, raw_header=b"alg=HS256"), "malformed", HS)
neg("header-array", token(None, CLAIMS, alg="HS256", raw_header=b'["HS256"]'), "malformed", HS)
neg("header-duplicate-alg", token(None, CLAIMS, alg="HS256", raw_header=b'{"alg":"HS256","alg":"none"}'), "malformed", HS)
neg("header-no-alg", token(None, CLAIMS, alg="HS256", raw_header=b'{"typ":"JWT"}'), "malformed", HS)
neg("header-alg-number", token(None, CLAIMS, alg="HS256", raw_header=b'{"alg":256}'), "malformed", HS)
neg("alg-unknown", token(None, CLAIMS, alg="HS256", raw_header=b'{"alg":"HS257"}'), "unsupported_algorithm", HS)
neg("payload-not-json", token({"alg": "HS256"}, None, raw_payload=b"hello"), "malformed", HS)
neg("payload-array", token({"alg": "HS256"}, [CLAIMS]), "malformed", HS)
neg("payload-trailing-garbage", token({"alg": "HS256"}, None, raw_payload=json.dumps(CLAIMS).encode() + b" x"), "malformed", HS)
neg("payload-duplicate-claim", token({"alg": "HS256"}, None, raw_payload=b'{"exp":4102444800,"exp":1}'), "malformed", HS)
neg("payload-lone-surrogate", token({"alg": "HS256"}, None, raw_payload=b'{"exp":4102444800,"x":"\\ud800"}'), "malformed", HS)
neg("payload-invalid-utf8", token({"alg": "HS256"}, None, raw_payload=b'{"exp":4102444800,"x":"\xff"}'), "malformed", HS)
neg("payload-too-deep", token({"alg": "HS256"}, None, raw_payload=b'{"exp":4102444800,"x":' + b"[" * 100 + b"]" * 100 + b"}"), "malformed", HS)
neg("exp-string", token({"alg": "HS256"}, {**CLAIMS, "exp": "4102444800"}), "malformed", HS)
neg("nbf-string", token({"alg": "HS256"}, {**CLAIMS, "nbf": "1700000000"}), "malformed", HS)
neg("iat-bool", token({"alg": "HS256"}, {**CLAIMS, "iat": True}), "malformed", HS)
tampered = seg({**CLAIMS, "sub": "admin"})
neg("tampered-payload", f"{h}.{tampered}.{s}", "bad_signature", HS)
neg("wrong-secret", token({"alg": "HS256"}, CLAIMS, key=b"not-the-secret-not-the-secret-xx"), "bad_signature", HS)
neg("onlyoffice-empty-secret", token({"alg": "HS256", "typ": "JWT"}, {"c": "info", "key": "Khirz6zTPdfd7"}, key=b""),
    "bad_signature", HS, policy={"required": []})
neg("token-too-large", token({"alg": "HS256"}, {**CLAIMS, "blob": "x" * 17000}), "token_too_large", HS)
neg("rsa-signature-on-ec-set", token({"alg": "ES256"}, CLAIMS, alg="RS256"), "bad_signature", EC_SET)

# Claims failures (now = 1800000000, 2027-01-15).
NOW = 1800000000
neg("claims-expired", token({"alg": "HS256"}, {**CLAIMS, "exp": NOW - 1}), "expired", HS, now=NOW)
neg("claims-expired-at-exact-second", token({"alg": "HS256"}, {**CLAIMS, "exp": NOW}), "expired", HS, now=NOW)
neg("claims-exp-fraction-expired", token({"alg": "HS256"}, {**CLAIMS, "exp": NOW - 0.5}), "expired", HS, now=NOW)
neg("claims-not-yet-valid", token({"alg": "HS256"}, {**CLAIMS, "nbf": NOW + 120}), "not_yet_valid", HS, now=NOW)
neg("claims-issued-in-future", token({"alg": "HS256"}, {**CLAIMS, "iat": NOW + 120}), "issued_in_future", HS, now=NOW)
neg("claims-wrong-issuer", token({"alg": "HS256"}, {**CLAIMS, "iss": "https://evil.example.com"}), "wrong_issuer", HS,
    policy={"issuers": ["https://id.example.com"]}, now=NOW)
neg("claims-no-issuer", token({"alg": "HS256"}, {k: v for k, v in CLAIMS.items() if k != "iss"}), "wrong_issuer", HS,
    policy={"issuers": ["https://id.example.com"]}, now=NOW)
neg("claims-wrong-audience", token({"alg": "HS256"}, {**CLAIMS, "aud": ["web", "mobile"]}), "wrong_audience", HS,
    policy={"audiences": ["chat"]}, now=NOW)
neg("claims-missing-exp", token({"alg": "HS256"}, {k: v for k, v in CLAIMS.items() if k != "exp"}), "missing_claim", HS, now=NOW)
neg("claims-missing-sub", token({"alg": "HS256"}, {k: v for k, v in CLAIMS.items() if k != "sub"}), "missing_claim", HS,
    policy={"required": ["exp", "sub"]}, now=NOW)
neg("claims-mismatch-equals", token({"alg": "HS256"}, {**CLAIMS, "tenant": "globex"}), "claim_mismatch", HS,
    policy={"rules": [{"claim": "tenant", "equals": "acme"}]}, now=NOW)
neg("claims-mismatch-contains", token({"alg": "HS256"}, {**CLAIMS, "permissions": ["view"]}), "claim_mismatch", HS,
    policy={"rules": [{"claim": "permissions", "contains": "edit"}]}, now=NOW)
neg("claims-mismatch-one-of", token({"alg": "HS256"}, {**CLAIMS, "realm_access": {"roles": "guest"}}), "claim_mismatch", HS,
    policy={"rules": [{"claim": "realm_access.roles", "one_of": ["admin", "editor"]}]}, now=NOW)
neg("claims-rule-missing", token({"alg": "HS256"}, CLAIMS), "missing_claim", HS,
    policy={"rules": [{"claim": "org.id", "exists": True}]}, now=NOW)
neg("claims-lifetime-too-long", token({"alg": "HS256"}, {**CLAIMS, "iat": NOW - 60, "exp": NOW + 7200}), "lifetime_too_long", HS,
    policy={"max_lifetime": 3600}, now=NOW)
neg("claims-lifetime-no-exp", token({"alg": "HS256"}, {k: v for k, v in CLAIMS.items() if k != "exp"}), "lifetime_too_long", HS,
    policy={"required": [], "max_lifetime": 3600}, now=NOW)

# The same claims, but passing (to show each policy on its own can succeed).
neg("claims-all-pass", token({"alg": "HS256"}, {**CLAIMS, "iat": NOW - 60, "exp": NOW + 600}), "allowed", HS,
    policy={"issuers": ["https://id.example.com"], "audiences": ["chat", "other"], "required": ["exp", "sub"],
            "leeway": 30, "max_lifetime": 3600,
            "rules": [{"claim": "tenant", "equals": "acme"}, {"claim": "permissions", "contains": "edit"},
                      {"claim": "scope", "contains": "edit"}, {"claim": "realm_access.roles", "contains": "admin"},
                      {"claim": "sub", "one_of": ["user-1", "user-2"]}, {"claim": "realm_access", "exists": True}]},
    now=NOW)

with open(os.path.join(HERE, "positive.json"), "w") as f:
    json.dump(positive, f, indent=1)
with open(os.path.join(HERE, "negative.json"), "w") as f:
    json.dump(negative, f, indent=1)
print(f"{len(positive)} positive, {len(negative)} negative fixtures")
