"""Token minting and route-file helpers for the Portcullis auth black-box tests.

Tokens are minted independently of the gateway: with joserfc (RFC 7515/7518/8037) for every algorithm
family, and with a tiny hand-rolled compact-JWS encoder (hmac + base64) for the tokens joserfc rightly
refuses to make (empty HMAC secret, HMAC keyed with a PEM public key, alg "none", broken encodings).

Keys are generated once per test session into a temporary directory (``keyring`` fixture); nothing is
checked in. Every key form the route file accepts is written out: raw/base64/base64url secrets, SPKI PEM,
PKCS#1 PEM, X.509 certificate, and a JWKS file with kids.
"""
from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import warnings

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from joserfc import jwk, jws

try:  # EdDSA is "deprecated" by RFC 9864 in favour of Ed25519; the gateway speaks EdDSA, so mint it anyway
    from joserfc.errors import SecurityWarning
    warnings.filterwarnings("ignore", category=SecurityWarning)
except ImportError:  # pragma: no cover
    pass

import gwconf

# ------------------------------------------------------------------------------------------------
# compact JWS by hand
# ------------------------------------------------------------------------------------------------


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_json(obj) -> str:
    return b64u(json.dumps(obj, separators=(",", ":")).encode())


_HS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def hs_token(secret: bytes, claims: dict, alg: str = "HS256", header: dict | None = None) -> str:
    """An HMAC-signed compact JWS made with the standard library only (accepts any secret, even b"")."""
    h = {"alg": alg, "typ": "JWT", **(header or {})}
    signing_input = f"{b64u_json(h)}.{b64u_json(claims)}"
    mac = hmac.new(secret, signing_input.encode("ascii"), _HS[alg]).digest()
    return f"{signing_input}.{b64u(mac)}"


def none_token(claims: dict, alg: str = "none") -> str:
    return f"{b64u_json({'alg': alg, 'typ': 'JWT'})}.{b64u_json(claims)}."


def tamper_signature(token: str) -> str:
    """Flip one bit in the first signature byte (keeps the encoding canonical)."""
    h, p, s = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
    raw[0] ^= 0x01
    return f"{h}.{p}.{b64u(bytes(raw))}"


def tamper_payload(token: str, **changes) -> str:
    """Replace claims in the payload but keep the old signature."""
    h, p, s = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    claims.update(changes)
    return f"{h}.{b64u_json(claims)}.{s}"


def now() -> int:
    return int(time.time())


def claims(**kw) -> dict:
    """Default claims: sub, iat=now, exp=now+600, plus overrides (a value of None drops the claim)."""
    t = now()
    c = {"sub": "user-1", "iat": t, "exp": t + 600}
    c.update(kw)
    return {k: v for k, v in c.items() if v is not None}


# ------------------------------------------------------------------------------------------------
# keys
# ------------------------------------------------------------------------------------------------
HMAC_SECRET = b"portcullis-blackbox-hmac-secret-0123456789abcdef-0123456789abcdef"  # 64 bytes (HS512 wants 64)
OUTBOX_SECRET = b"ds-outbox-secret-for-callbacks-9876543210"


def _pem_private(k) -> bytes:
    return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                           serialization.NoEncryption())


def _spki(pub) -> bytes:
    return pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _self_signed(priv, cn: str) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    t = datetime.datetime.now(datetime.timezone.utc)
    algo = None if isinstance(priv, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(priv.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(t - datetime.timedelta(days=1))
            .not_valid_after(t + datetime.timedelta(days=30)).sign(priv, algo))
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class KeyPair:
    name: str
    priv: object
    dir: Path
    files: dict = field(default_factory=dict)

    @property
    def private_pem(self) -> bytes:
        return _pem_private(self.priv)

    @property
    def spki_pem(self) -> bytes:
        return _spki(self.priv.public_key())

    def jwk(self, kid: str | None = None) -> jwk.Key:
        k = jwk.import_key(self.private_pem, self.kty)
        if kid:
            k = jwk.import_key(k.as_dict(private=True) | {"kid": kid}, self.kty)
        return k

    @property
    def kty(self) -> str:
        if isinstance(self.priv, rsa.RSAPrivateKey):
            return "RSA"
        if isinstance(self.priv, ec.EllipticCurvePrivateKey):
            return "EC"
        return "OKP"

    def public_jwk_dict(self, kid: str, alg: str | None = None) -> dict:
        d = jwk.import_key(self.spki_pem, self.kty).as_dict(private=False)
        d["kid"] = kid
        if alg:
            d["alg"] = alg
        d["use"] = "sig"
        return d


class Keyring:
    """Every key the auth tests use, generated once per session and written to `dir`."""

    def __init__(self, d: Path):
        self.dir = d
        d.mkdir(parents=True, exist_ok=True)
        self.rsa = self._pair("rsa", rsa.generate_private_key(public_exponent=65537, key_size=2048))
        self.rsa2 = self._pair("rsa2", rsa.generate_private_key(public_exponent=65537, key_size=2048))
        self.p256 = self._pair("p256", ec.generate_private_key(ec.SECP256R1()))
        self.p384 = self._pair("p384", ec.generate_private_key(ec.SECP384R1()))
        self.p521 = self._pair("p521", ec.generate_private_key(ec.SECP521R1()))
        self.ed = self._pair("ed25519", ed25519.Ed25519PrivateKey.generate())
        # PKCS#1 ("BEGIN RSA PUBLIC KEY") form of the RSA key
        pkcs1 = self.rsa.priv.public_key().public_bytes(serialization.Encoding.PEM,
                                                         serialization.PublicFormat.PKCS1)
        self.rsa.files["pkcs1"] = self._write("rsa.pkcs1.pem", pkcs1)
        # secrets in every encoding
        self.hmac = HMAC_SECRET
        self.files = {
            "secret_raw": self._write("hmac.raw", HMAC_SECRET, mode=0o600),
            "secret_b64": self._write("hmac.b64", base64.b64encode(HMAC_SECRET) + b"\n", mode=0o600),
            "outbox": self._write("outbox.raw", OUTBOX_SECRET, mode=0o600),
            "secret_0644": self._write("hmac.0644", HMAC_SECRET, mode=0o644),
            "empty": self._write("empty.secret", b"", mode=0o600),
        }
        # a JWKS with kids: two RSA keys, a P-256 key and an Ed25519 key
        self.jwks = {"keys": [self.rsa.public_jwk_dict("rsa-1", "RS256"),
                              self.rsa2.public_jwk_dict("rsa-2", "RS256"),
                              self.p256.public_jwk_dict("ec-1", "ES256"),
                              self.ed.public_jwk_dict("ed-1", "EdDSA")]}
        self.files["jwks"] = self._write("keys.jwks.json", json.dumps(self.jwks, indent=1).encode())

    def _write(self, name: str, data: bytes, mode: int = 0o600) -> Path:
        p = self.dir / name
        p.write_bytes(data)
        os.chmod(p, mode)
        return p

    def _pair(self, name: str, priv) -> KeyPair:
        kp = KeyPair(name, priv, self.dir)
        kp.files["private"] = self._write(f"{name}.key.pem", _pem_private(priv))
        kp.files["spki"] = self._write(f"{name}.pub.pem", _spki(priv.public_key()), mode=0o644)
        kp.files["cert"] = self._write(f"{name}.crt.pem", _self_signed(priv, f"{name}.blackbox.test"), mode=0o644)
        return kp


def mint(alg: str, key, payload: dict, header: dict | None = None) -> str:
    """Sign `payload` with joserfc. `key` is bytes (HMAC secret) or a KeyPair / joserfc key."""
    h = {"alg": alg, "typ": "JWT", **(header or {})}
    if isinstance(key, (bytes, bytearray)):
        if alg.startswith("HS"):
            return hs_token(bytes(key), payload, alg, header)  # joserfc refuses short/odd secrets; same bytes
        raise ValueError("bytes key for a non-HMAC algorithm")
    k = key.jwk(h.get("kid")) if isinstance(key, KeyPair) else key
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # joserfc warns that EdDSA is deprecated (RFC 9864); we still mint it
        return jws.serialize_compact(h, json.dumps(payload, separators=(",", ":")).encode(), k, algorithms=[alg])


def mint_hs_joserfc(alg: str, secret: bytes, payload: dict, header: dict | None = None) -> str:
    """HMAC through joserfc (an implementation independent of hs_token) for secrets joserfc accepts."""
    h = {"alg": alg, "typ": "JWT", **(header or {})}
    k = jwk.OctKey.import_key(secret)
    return jws.serialize_compact(h, json.dumps(payload, separators=(",", ":")).encode(), k, algorithms=[alg])


@pytest.fixture(scope="session")
def keyring(tmp_path_factory) -> Keyring:
    return Keyring(tmp_path_factory.mktemp("keys"))


# ------------------------------------------------------------------------------------------------
# route files with keys
# ------------------------------------------------------------------------------------------------
def auth_config(up_port: int, *, keys: str, routes: str, limits: dict | None = None, workers: int = 2,
                upstreams: str | None = None, extra_top: str = "") -> str:
    """gwconf.config plus a `keys:` section (indented two spaces, as written by the caller)."""
    ups = upstreams if upstreams is not None else (
        f'  echo:  {{ servers: ["http://127.0.0.1:{up_port}"] }}\n')
    return gwconf.config(up_port, workers=workers, limits=limits, routes=routes,
                         upstreams=ups + "keys:\n" + keys + extra_top)


def bearer(token: str) -> tuple[str, str]:
    return ("Authorization", f"Bearer {token}")


def www_auth_params(value: str) -> tuple[str, dict]:
    """Parse `Bearer realm="x", error="y", error_description="z"` strictly (quoted-string values)."""
    scheme, _, rest = value.partition(" ")
    params = {}
    i = 0
    s = rest
    while i < len(s):
        while i < len(s) and s[i] in " ,":
            i += 1
        if i >= len(s):
            break
        eq = s.index("=", i)
        name = s[i:eq]
        assert s[eq + 1] == '"', f"unquoted auth-param in {value!r}"
        j = eq + 2
        val = []
        while s[j] != '"':
            if s[j] == "\\":
                j += 1
            val.append(s[j])
            j += 1
        params[name] = "".join(val)
        i = j + 1
        assert i >= len(s) or s[i] == ",", f"junk after auth-param in {value!r}"
    return scheme, params


def assert_denied(r, status: int, reason: str | None, realm: str, *, error: str | None = None) -> None:
    """Check a local auth refusal: status, WWW-Authenticate and the JSON body's reason.

    reason None -> missing token (no error attribute). `error` defaults to invalid_token for 401 and
    insufficient_scope for 403.
    """
    assert r.status == status, f"expected {status} {reason}, got {r!r}"
    wa = r.header_all("www-authenticate")
    assert len(wa) == 1, f"expected one WWW-Authenticate, got {wa!r}"
    scheme, params = www_auth_params(wa[0])
    assert scheme == "Bearer", wa[0]
    if reason is None:
        assert params == {"realm": realm}, wa[0]
        assert wa[0] == f'Bearer realm="{realm}"', wa[0]
    else:
        err = error or ("insufficient_scope" if status == 403 else "invalid_token")
        assert params.get("realm") == realm, wa[0]
        assert params.get("error") == err, wa[0]
        if status == 401:
            assert params.get("error_description") == reason, wa[0]
    body = r.error_json()
    assert body.get("reason") == (reason or "missing"), f"body {body!r}, expected reason {reason or 'missing'}"
    ct = (r.header("content-type") or "").split(";")[0].strip().lower()
    assert ct == "application/json", r


# ------------------------------------------------------------------------------------------------
# the standard auth route file used by test_auth_*.py
# ------------------------------------------------------------------------------------------------
SECRET_ENV = "PORTCULLIS_BB_HS_SECRET"
ISSUERS = ["https://id.test", "https://id2.test"]
BEARER = '{ header: Authorization, prefix: "Bearer " }'


def _indent_pem(pem: bytes, n: int) -> str:
    return "".join(" " * n + ln + "\n" for ln in pem.decode().strip().splitlines())


def standard_keys(kr: Keyring) -> str:
    f = kr.files
    return (
        f'  hs:       {{ algorithms: [HS256], secret: {{ value: "{kr.hmac.decode()}" }} }}\n'
        f'  hs_all:   {{ algorithms: [HS256, HS384, HS512], secret: {{ file: {f["secret_raw"]} }} }}\n'
        f'  hs_b64:   {{ algorithms: [HS256], secret: {{ file: {f["secret_b64"]}, encoding: base64 }} }}\n'
        f'  hs_b64u:  {{ algorithms: [HS512], secret: {{ value: "{b64u(kr.hmac)}", encoding: base64url }} }}\n'
        f'  hs_env:   {{ algorithms: [HS384], secret: {{ env: {SECRET_ENV} }} }}\n'
        f'  rs_spki:  {{ algorithms: [RS256, PS256], public_key: {{ file: {kr.rsa.files["spki"]} }} }}\n'
        f'  rs_pkcs1: {{ algorithms: [RS256, RS512], public_key: {{ file: {kr.rsa.files["pkcs1"]} }} }}\n'
        f'  rs_cert:  {{ algorithms: [RS384, PS384, PS512], certificate: {{ file: {kr.rsa.files["cert"]} }} }}\n'
        '  rs_inline:\n'
        '    algorithms: [RS256]\n'
        '    public_key:\n'
        '      pem: |\n' + _indent_pem(kr.rsa.spki_pem, 8) +
        f'  es256:    {{ algorithms: [ES256], public_key: {{ file: {kr.p256.files["spki"]} }} }}\n'
        f'  es384:    {{ algorithms: [ES384], certificate: {{ file: {kr.p384.files["cert"]} }} }}\n'
        f'  es512:    {{ algorithms: [ES512], public_key: {{ file: {kr.p521.files["spki"]} }} }}\n'
        f'  ed:       {{ algorithms: [EdDSA], public_key: {{ file: {kr.ed.files["spki"]} }} }}\n'
        f'  ed_cert:  {{ algorithms: [EdDSA], certificate: {{ file: {kr.ed.files["cert"]} }} }}\n'
        f'  jwks:     {{ algorithms: [RS256, ES256, EdDSA], jwks: {{ file: {kr.files["jwks"]} }} }}\n'
    )


KEYSET_ROUTES = ["hs", "hs_all", "hs_b64", "hs_b64u", "hs_env", "rs_spki", "rs_pkcs1", "rs_cert", "rs_inline",
                 "es256", "es384", "es512", "ed", "ed_cert", "jwks"]


def standard_routes() -> str:
    out = []
    for name in KEYSET_ROUTES:
        out.append(f"  - {{ name: k-{name}, match: {{ path_prefix: /k/{name}/ }}, upstream: echo,\n"
                   f"      auth: {{ keys: [{name}], tokens: [ {BEARER} ] }} }}\n")
    out.append(
        "  - name: outc\n"
        "    match: { path_prefix: /o/ }\n"
        "    upstream: echo\n"
        "    auth:\n"
        "      keys: [hs, rs_spki]\n"
        f"      tokens: [ {BEARER} ]\n"
        f"      issuer: [{', '.join(ISSUERS)}]\n"
        "      audience: [api, other]\n"
        "      require: [exp, sub]\n"
        "      max_lifetime: 1h\n"
        "      leeway: 30s\n"
        "      claims:\n"
        "        - { claim: role, one_of: [admin, editor] }\n"
        "        - { claim: org.tenant, equals: acme }\n"
        "        - { claim: scope, contains: write }\n"
        "  - { name: s-header, match: { path_prefix: /s/h/ }, upstream: echo,\n"
        "      auth: { keys: [hs], tokens: [ { header: X-Token } ] } }\n"
        "  - { name: s-query, match: { path_prefix: /s/q/ }, upstream: echo,\n"
        "      auth: { keys: [hs], tokens: [ { query: access_token } ] } }\n"
        "  - { name: s-cookie, match: { path_prefix: /s/c/ }, upstream: echo,\n"
        "      auth: { keys: [hs], tokens: [ { cookie: session_jwt } ] } }\n"
        "  - { name: s-body, match: { path_prefix: /s/b/ }, upstream: echo,\n"
        "      auth: { keys: [hs], tokens: [ { body: token } ], require: [] } }\n"
        "  - name: s-order\n"
        "    match: { path_prefix: /s/o/ }\n"
        "    upstream: echo\n"
        "    auth:\n"
        "      keys: [hs]\n"
        f"      tokens: [ {{ body: token }}, {BEARER}, {{ query: t }}, {{ cookie: c }} ]\n"
        "  - { name: s-strip, match: { path_prefix: /s/strip/ }, upstream: echo,\n"
        f"      auth: {{ keys: [hs], tokens: [ {BEARER}, {{ query: access_token }} ], forward: {{ token: strip }} }} }}\n"
        "  - name: c2h\n"
        "    match: { path_prefix: /c2h/ }\n"
        "    upstream: echo\n"
        "    auth:\n"
        "      keys: [hs]\n"
        f"      tokens: [ {BEARER} ]\n"
        "      forward: { claims_to_headers: { sub: X-User-Id, email: X-User-Email, role: X-Role } }\n"
        "  - { name: realm, match: { path_prefix: /realm/ }, upstream: echo,\n"
        f"      auth: {{ keys: [hs], tokens: [ {BEARER} ], realm: \"Portcullis Test\" }} }}\n"
        "  - { name: pub, match: { path_prefix: /pub/ }, upstream: echo, auth: off }\n"
    )
    return "".join(out)


def standard_config(up_port: int, kr: Keyring, limits: dict | None = None) -> str:
    lim = {"max_token_bytes": 4096, "max_auth_body_bytes": 65536}
    lim.update(limits or {})
    return auth_config(up_port, keys=standard_keys(kr), routes=standard_routes(), limits=lim)


@pytest.fixture
def agw(gateway, upstream, keyring, monkeypatch):
    """A gateway running the standard auth route file in front of the Python upstream."""
    monkeypatch.setenv(SECRET_ENV, keyring.hmac.decode())
    return gateway(standard_config(upstream.port, keyring))


def hvals(rec: dict, name: str) -> list[str]:
    n = name.lower()
    return [v for k, v in rec["headers"] if k.lower() == n]


def wait_log(gw, pred=lambda e: True, n: int = 1, timeout: float = 3.0) -> list[dict]:
    """Access-log entries matching `pred`, waiting until at least `n` are there (stdout is read by a thread
    and a line is written after the response)."""
    deadline = time.monotonic() + timeout
    while True:
        got = [e for e in gw.access_log() if pred(e)]
        if len(got) >= n or time.monotonic() > deadline:
            return got
        time.sleep(0.02)
