"""Remote JWKS (`jwks: { url, refresh }`): fetched at start over http and https (certificate verified),
refreshed on schedule (key rotation takes effect, the verified-token cache is emptied), the last good
document kept when a refresh fails, 503 keys_unavailable while a set was never fetched, and `check`
never touching the network. The JWKS server is a real Python HTTP(S) server; tokens are minted by joserfc."""
from __future__ import annotations

import datetime
import http.server
import ipaddress
import json
import ssl
import threading
import time
import urllib.request

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from authlib import BEARER, agw, assert_denied, auth_config, bearer, claims, keyring, mint  # noqa: F401
from conftest import free_port, run_cli
from httpc import request
from wslib import wait_for


class JWKSServer:
    """Serves `doc` (a dict, or raw bytes) with `status` at /jwks.json; counts fetches."""

    def __init__(self, port: int | None = None, tls: ssl.SSLContext | None = None):
        self.doc: object = {"keys": []}
        self.status = 200
        self.fetches = 0
        owner = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802
                owner.fetches += 1
                body = owner.doc if isinstance(owner.doc, bytes) else json.dumps(owner.doc).encode()
                self.send_response(owner.status if self.path == "/jwks.json" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port or 0), H)
        if tls:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def jwks_server():
    servers = []

    def make(**kw):
        s = JWKSServer(**kw)
        servers.append(s)
        return s
    yield make
    for s in servers:
        s.stop()


def remote_config(up_port: int, url: str, refresh: str = "1s", algs: str = "[RS256, ES256]") -> str:
    keys = f"  remote:\n    algorithms: {algs}\n    jwks: {{ url: \"{url}\", refresh: {refresh} }}\n"
    routes = (f"  - {{ name: remote, match: {{ path_prefix: /r/ }}, upstream: echo,\n"
              f"      auth: {{ keys: [remote], tokens: [ {BEARER} ] }} }}\n")
    return auth_config(up_port, keys=keys, routes=routes)


def get(gw, token):
    return request(gw.port, "GET", "/r/x", headers=[bearer(token)])


def wait_status(gw, token, status: int, timeout: float = 8.0):
    deadline = time.monotonic() + timeout
    while True:
        r = get(gw, token)
        if r.status == status or time.monotonic() > deadline:
            return r
        time.sleep(0.1)


def test_fetched_at_start_then_rotated(gateway, upstream, keyring, jwks_server):
    srv = jwks_server()
    srv.doc = {"keys": [keyring.rsa.public_jwk_dict("rsa-1", "RS256")]}
    g = gateway(remote_config(upstream.port, f"http://127.0.0.1:{srv.port}/jwks.json"))
    assert srv.fetches >= 1  # fetched before listening
    t_rsa = mint("RS256", keyring.rsa, claims(sub="a"), {"kid": "rsa-1"})
    t_ec = mint("ES256", keyring.p256, claims(sub="b"), {"kid": "ec-9"})
    assert get(g, t_rsa).status == 200
    assert_denied(get(g, t_ec), 401, "unknown_key", "remote")

    # the identity provider adds a key: it verifies after the next refresh
    srv.doc = {"keys": [keyring.rsa.public_jwk_dict("rsa-1", "RS256"), keyring.p256.public_jwk_dict("ec-9", "ES256")]}
    assert wait_status(g, t_ec, 200).status == 200
    # ...and retires the RSA key: the cached verification of t_rsa must not outlive it
    srv.doc = {"keys": [keyring.p256.public_jwk_dict("ec-9", "ES256")]}
    assert_denied(wait_status(g, t_rsa, 401), 401, "unknown_key", "remote")
    assert get(g, t_ec).status == 200
    assert "refreshed" in g.stderr_text()
    for t in (t_rsa, t_ec):
        assert t not in g.stderr_text()


def test_never_fetched_is_503_until_the_server_answers(gateway, upstream, keyring, jwks_server):
    port = free_port()  # nothing listens yet
    g = gateway(remote_config(upstream.port, f"http://127.0.0.1:{port}/jwks.json"))
    tok = mint("RS256", keyring.rsa, claims(sub="a"), {"kid": "rsa-1"})
    r = get(g, tok)
    assert r.status == 503, r
    assert r.error_json().get("reason") == "keys_unavailable"
    assert "JWKS fetch failed" in g.stderr_text()
    # a request without a token is still a plain 401 (nothing to verify)
    assert request(g.port, "GET", "/r/x").status == 401
    srv = jwks_server(port=port)
    srv.doc = {"keys": [keyring.rsa.public_jwk_dict("rsa-1", "RS256")]}
    assert wait_status(g, tok, 200).status == 200


@pytest.mark.parametrize("bad", ["status500", "garbage", "wrong_kty_only"])
def test_failed_refresh_keeps_the_last_good_document(gateway, upstream, keyring, jwks_server, bad):
    srv = jwks_server()
    srv.doc = {"keys": [keyring.rsa.public_jwk_dict("rsa-1", "RS256")]}
    g = gateway(remote_config(upstream.port, f"http://127.0.0.1:{srv.port}/jwks.json", algs="[RS256]"))
    tok = mint("RS256", keyring.rsa, claims(sub="a"), {"kid": "rsa-1"})
    assert get(g, tok).status == 200
    before = srv.fetches
    if bad == "status500":
        srv.status = 500
    elif bad == "garbage":
        srv.doc = b"<html>maintenance</html>"
    else:
        srv.doc = {"keys": [keyring.ed.public_jwk_dict("ed-1", "EdDSA")]}  # nothing usable for RS256
    assert wait_for(lambda: srv.fetches >= before + 2, 8, 0.1), "the gateway stopped refreshing"
    # a fresh token (not in the verified-token cache) still verifies with the held key
    tok2 = mint("RS256", keyring.rsa, claims(sub="fresh"), {"kid": "rsa-1"})
    assert get(g, tok2).status == 200
    assert "JWKS fetch failed" in g.stderr_text()
    assert "last good document stays in force" in g.stderr_text()


def _ca_and_cert(tmp_path, names):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "portcullis test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(key, hashes.SHA256()))
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    sans = [x509.IPAddress(ipaddress.ip_address(n)) if n[0].isdigit() else x509.DNSName(n) for n in names]
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_name).public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .sign(key, hashes.SHA256()))
    ca_pem = tmp_path / "ca.pem"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    chain = tmp_path / "leaf.pem"
    chain.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    leaf_key_pem = tmp_path / "leaf.key"
    leaf_key_pem.write_bytes(leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(chain, leaf_key_pem)
    return ca_pem, ctx


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_https_with_verified_certificate(gateway, upstream, keyring, jwks_server, tmp_path, monkeypatch, host):
    ca_pem, ctx = _ca_and_cert(tmp_path, ["localhost", "127.0.0.1"])
    srv = jwks_server(tls=ctx)
    srv.doc = {"keys": [keyring.ed.public_jwk_dict("ed-1", "EdDSA")]}
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_pem))
    g = gateway(remote_config(upstream.port, f"https://{host}:{srv.port}/jwks.json", refresh="10m", algs="[EdDSA]"))
    tok = mint("EdDSA", keyring.ed, claims(sub="a"), {"kid": "ed-1"})
    assert get(g, tok).status == 200
    assert "plain http" not in g.stderr_text()


def test_https_with_untrusted_certificate_is_refused(gateway, upstream, keyring, jwks_server, tmp_path, monkeypatch):
    _, ctx = _ca_and_cert(tmp_path, ["127.0.0.1"])
    (tmp_path / "other").mkdir()
    other_ca, _ = _ca_and_cert(tmp_path / "other", ["127.0.0.1"])  # a CA that did not sign the server's cert
    srv = jwks_server(tls=ctx)
    srv.doc = {"keys": [keyring.ed.public_jwk_dict("ed-1", "EdDSA")]}
    monkeypatch.setenv("SSL_CERT_FILE", str(other_ca))
    g = gateway(remote_config(upstream.port, f"https://127.0.0.1:{srv.port}/jwks.json", refresh="10m", algs="[EdDSA]"))
    tok = mint("EdDSA", keyring.ed, claims(sub="a"), {"kid": "ed-1"})
    r = get(g, tok)
    assert r.status == 503, r
    assert "certificate verification" in g.stderr_text()


def test_metrics_count_refreshes(gateway, upstream, keyring, jwks_server):
    srv = jwks_server()
    srv.doc = {"keys": [keyring.rsa.public_jwk_dict("rsa-1", "RS256")]}
    admin = free_port()
    conf = remote_config(upstream.port, f"http://127.0.0.1:{srv.port}/jwks.json")
    conf += f'admin: {{ address: "127.0.0.1:{admin}" }}\n'
    g = gateway(conf)
    time.sleep(1.5)
    text = urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=5).read().decode()
    lines = [ln for ln in text.splitlines() if ln.startswith('portcullis_jwks_refreshes_total{key_set="remote",result="success"}')]
    assert lines and int(lines[0].split()[-1]) >= 2, text
    assert g.alive()


def test_check_does_not_fetch(portcullis_bin, upstream, tmp_path, jwks_server):
    srv = jwks_server()
    path = tmp_path / "gateway.conf"
    path.write_text(remote_config(upstream.port, f"http://127.0.0.1:{srv.port}/jwks.json").replace("${PORT}", "18999"))
    r = run_cli(portcullis_bin, "check", "--config", str(path))
    assert r.returncode == 0, r.stderr
    assert srv.fetches == 0


def test_plain_http_to_a_remote_host_draws_a_warning(portcullis_bin, upstream, tmp_path):
    path = tmp_path / "gateway.conf"
    path.write_text(remote_config(upstream.port, "http://id.example.com/jwks.json").replace("${PORT}", "18999"))
    r = run_cli(portcullis_bin, "check", "--config", str(path))
    assert r.returncode == 0, r.stderr
    assert "plain http" in r.stderr and "gateway.conf:" in r.stderr


def test_reload_switches_to_another_jwks_url(gateway, upstream, keyring, jwks_server):
    import signal
    a, b = jwks_server(), jwks_server()
    a.doc = {"keys": [keyring.rsa.public_jwk_dict("rsa-1", "RS256")]}
    b.doc = {"keys": [keyring.rsa2.public_jwk_dict("rsa-2", "RS256")]}
    g = gateway(remote_config(upstream.port, f"http://127.0.0.1:{a.port}/jwks.json", refresh="10m", algs="[RS256]"))
    t1 = mint("RS256", keyring.rsa, claims(sub="a"), {"kid": "rsa-1"})
    t2 = mint("RS256", keyring.rsa2, claims(sub="b"), {"kid": "rsa-2"})
    assert get(g, t1).status == 200
    assert get(g, t2).status == 401
    g.write_config(remote_config(upstream.port, f"http://127.0.0.1:{b.port}/jwks.json", refresh="10m", algs="[RS256]"))
    g.signal(signal.SIGHUP)
    assert wait_status(g, t2, 200).status == 200
    assert b.fetches >= 1
    assert_denied(get(g, t1), 401, "unknown_key", "remote")
