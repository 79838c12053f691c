"""Replays the plain-HTTP request shapes of ../shared/design/upstreams.md §5 (rows 1-8, 11, 12, 14, 15)
against one realistic ONLYOFFICE / DMS / Weavy / TinyMCE-style route file."""
import hashlib
import json
import re

import pytest

from authlib import (OUTBOX_SECRET, assert_denied, auth_config, b64u, bearer, hs_token, hvals, keyring,  # noqa: F401
                     mint, now, tamper_signature, wait_log)
from httpc import RawConn, build_request, request

DS_SECRET = b"onlyoffice-inbox-secret-0f1e2d3c4b5a69788796a5b4c3d2e1f0"
DS_ENV = "ONLYOFFICE_JWT_SECRET"
WEAVY_SECRET = b"weavy-client-secret-weavy-client-secret-weavy-client-secret-0001"
TINY_ROLE = "https://claims.tiny.cloud/rtc/role"


def oo_config(up, kr, max_header_bytes: int) -> str:
    p = up.ports
    keys = (
        f"  onlyoffice: {{ algorithms: [HS256], secret: {{ env: {DS_ENV} }} }}\n"
        f"  outbox:     {{ algorithms: [HS256], secret: {{ file: {kr.files['outbox']} }} }}\n"
        f'  weavy:      {{ algorithms: [HS256], secret: {{ value: "{b64u(WEAVY_SECRET)}", encoding: base64url }} }}\n'
        f"  tiny:       {{ algorithms: [RS256, PS256], public_key: {{ file: {kr.rsa.files['spki']} }} }}\n")
    upstreams = (f'  docs:  {{ servers: ["http://127.0.0.1:{p[0]}"] }}\n'
                 f'  dms:   {{ servers: ["http://127.0.0.1:{p[1]}"] }}\n'
                 f'  weavy: {{ servers: ["http://127.0.0.1:{p[2]}"] }}\n')
    routes = r"""  - name: docs-public
    match: { path_regex: '^(/[0-9]+\.[0-9]+\.[0-9]+[.-][A-Za-z0-9]+)?/(web-apps|sdkjs|sdkjs-plugins|fonts|dictionaries|cache/files)/|^/healthcheck$' }
    upstream: docs
    auth: off
  - name: docs-vpath
    match: { path_prefix: /ds-vpath/ }
    strip_prefix: /ds-vpath
    upstream: docs
    auth: off
  - name: docs-inbox-jwtheader
    match: { host: ds-workspace.example.com, path: [/command, /converter, /docbuilder], methods: [POST] }
    upstream: docs
    auth:
      keys: [onlyoffice]
      tokens: [ { body: token }, { header: AuthorizationJwt, prefix: "Bearer " } ]
      require: []
      leeway: 60s
  - name: docs-inbox
    match: { path: [/command, /converter, /docbuilder, /coauthoring/CommandService.ashx, /ConvertService.ashx], methods: [POST] }
    upstream: docs
    upstream_timeout: 10m
    auth:
      keys: [onlyoffice]
      tokens:
        - { body: token }
        - { header: Authorization, prefix: "Bearer " }
      require: []
      leeway: 60s
  - name: dms-callback
    match: { path: /callback, methods: [POST] }
    upstream: dms
    auth:
      keys: [outbox]
      tokens: [ { header: Authorization, prefix: "Bearer " } ]
      leeway: 60s
      max_lifetime: 10m
  - name: dms-files
    match: { path_prefix: /files/, methods: [GET, HEAD] }
    upstream: dms
    auth:
      keys: [outbox]
      tokens: [ { header: Authorization, prefix: "Bearer " } ]
      leeway: 60s
      claims: [ { claim: payload.url, equals: "https://dms.example.com/files/new.docx" } ]
  - name: weavy-passthrough
    match: { host: weavy-legacy.example.com, path_prefix: /api/ }
    upstream: weavy
    auth: off
  - name: weavy-api
    match: { host: weavy.example.com, path_prefix: /api/ }
    upstream: weavy
    auth:
      keys: [weavy]
      tokens: [ { header: Authorization, prefix: "Bearer " } ]
  - name: tiny-rtc
    match: { path_prefix: /rtc/ }
    upstream: docs
    auth:
      keys: [tiny]
      tokens: [ { header: Authorization, prefix: "Bearer " } ]
      require: [exp, sub]
      claims:
        - { claim: "https://claims.tiny.cloud/rtc/role", equals: editor }
"""
    return auth_config(up.port, keys=keys, routes=routes, upstreams=upstreams,
                       limits={"max_header_bytes": max_header_bytes, "max_token_bytes": 16384,
                               "max_auth_body_bytes": 1048576}).replace(
        "trusted_proxies: [10.0.0.0/8]", "trusted_proxies: [127.0.0.1/32]")


@pytest.fixture
def oo(gateway, upstream, keyring, monkeypatch):
    monkeypatch.setenv(DS_ENV, DS_SECRET.decode())
    return gateway(oo_config(upstream, keyring, 16384))


@pytest.fixture
def oo_small(gateway, upstream, keyring, monkeypatch):
    """The same file with an 8 KiB head limit."""
    monkeypatch.setenv(DS_ENV, DS_SECRET.decode())
    return gateway(oo_config(upstream, keyring, 8192))


def ds(payload: dict) -> str:
    return hs_token(DS_SECRET, payload)


def one(upstream) -> dict:
    recs = upstream.wait_requests(1, 2)
    assert len(recs) == 1, recs
    return recs[0]


def route_of(gw, n: int = 1):
    """Route of the n-th request made to this gateway, once its access-log line is there."""
    entries = wait_log(gw, n=n)
    assert len(entries) >= n, f"no access-log line {n}: {entries}"
    return entries[n - 1]["route"]


def post_json(port, target, body: bytes, headers=(), host="docs.example.com"):
    return request(port, "POST", target, host=host, body=body,
                   headers=[("Content-Type", "application/json"), *headers])


# ------------------------------------------------------------------------------------------------
# row 1: GET /healthcheck
# ------------------------------------------------------------------------------------------------
def test_row01_healthcheck_public_bogus_authorization_ignored(oo, upstream):
    r = request(oo.port, "GET", "/healthcheck", host="docs.example.com",
                headers=[("Authorization", "Bearer not.a.jwt")])
    assert r.status == 200, r
    rec = one(upstream)
    assert rec["target"] == "/healthcheck" and rec["port"] == upstream.ports[0]
    assert hvals(rec, "authorization") == ["Bearer not.a.jwt"]
    assert route_of(oo) == "docs-public"


# ------------------------------------------------------------------------------------------------
# row 2: /ds-vpath/baseurl behind a TLS terminator
# ------------------------------------------------------------------------------------------------
def ds_base_url(rec) -> str:
    """How DS builds its base URL (utils.getBaseUrlByRequest)."""
    proto = (hvals(rec, "x-forwarded-proto") or ["http"])[0]
    host = (hvals(rec, "x-forwarded-host") or hvals(rec, "host"))[0]
    prefix = (hvals(rec, "x-forwarded-prefix") or [""])[0].split(",")[0].strip()
    return f"{proto}://{host}{prefix}"


def test_row02_virtual_path_baseurl(oo, upstream):
    r = request(oo.port, "GET", "/ds-vpath/baseurl", host="docs.example.com",
                headers=[("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "docs.example.com")])
    assert r.status == 200, r
    rec = one(upstream)
    assert rec["target"] == "/baseurl"
    assert ds_base_url(rec) == "https://docs.example.com/ds-vpath", rec["raw_head"]


def test_row02_virtual_path_direct_http(oo, upstream):
    r = request(oo.port, "GET", "/ds-vpath/baseurl?x=1", host="docs.example.com:8443")
    assert r.status == 200, r
    rec = one(upstream)
    assert rec["target"] == "/baseurl?x=1"
    assert ds_base_url(rec) == "http://docs.example.com:8443/ds-vpath", rec["raw_head"]


# ------------------------------------------------------------------------------------------------
# row 3: POST /command with a body token, no exp
# ------------------------------------------------------------------------------------------------
def test_row03_command_body_token_without_exp(oo, upstream):
    body = json.dumps({"token": ds({"c": "info", "key": "Khirz6zTPdfd7"})}).encode()
    r = post_json(oo.port, "/command?shardkey=Khirz6zTPdfd7", body)
    assert r.status == 200, r
    rec = one(upstream)
    assert rec["target"] == "/command?shardkey=Khirz6zTPdfd7"
    assert rec["body_len"] == len(body) and rec["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert hvals(rec, "content-length") == [str(len(body))]
    assert route_of(oo) == "docs-inbox"


def test_row03_command_bad_signature(oo, upstream):
    body = json.dumps({"token": tamper_signature(ds({"c": "info", "key": "Khirz6zTPdfd7"}))}).encode()
    r = post_json(oo.port, "/command?shardkey=Khirz6zTPdfd7", body)
    assert_denied(r, 401, "bad_signature", "docs-inbox")
    assert upstream.requests() == []


def test_row03_documented_empty_secret_sample_refused(oo, upstream):
    body = json.dumps({"token": hs_token(b"", {"c": "info", "key": "Khirz6zTPdfd7"})}).encode()
    r = post_json(oo.port, "/command?shardkey=Khirz6zTPdfd7", body)
    assert_denied(r, 401, "bad_signature", "docs-inbox")
    assert upstream.requests() == []


@pytest.mark.parametrize("delta,want", [(-30, 200), (-120, 401)])
def test_row03_leeway_60s_when_exp_present(oo, upstream, delta, want):
    body = json.dumps({"c": "info", "key": "K", "token": ds({"c": "info", "key": "K", "exp": now() + delta})}).encode()
    r = post_json(oo.port, "/command", body)
    if want == 200:
        assert r.status == 200, r
    else:
        assert_denied(r, 401, "expired", "docs-inbox")


# ------------------------------------------------------------------------------------------------
# row 4: legacy path, header token, plain body
# ------------------------------------------------------------------------------------------------
def test_row04_legacy_command_service_header_token(oo, upstream):
    t = ds({"payload": {"c": "forcesave", "key": "K"}})
    body = b'{"c":"forcesave","key":"K"}'
    r = post_json(oo.port, "/coauthoring/CommandService.ashx", body, headers=[bearer(t)])
    assert r.status == 200, r
    rec = one(upstream)
    assert hvals(rec, "authorization") == [f"Bearer {t}"], "DS re-verifies the header token: keep it"
    assert rec["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert route_of(oo) == "docs-inbox"


def test_row04_get_is_not_an_inbox_method(oo, upstream):
    r = request(oo.port, "GET", "/coauthoring/CommandService.ashx", host="docs.example.com",
                headers=[bearer(ds({"payload": {}}))])
    assert r.status == 404, r
    assert upstream.requests() == []


# ------------------------------------------------------------------------------------------------
# row 5: custom header AuthorizationJwt
# ------------------------------------------------------------------------------------------------
CONVERT = {"payload": {"filetype": "docx", "key": "Khirz6zTPdfd7", "outputtype": "pdf", "title": "Example.docx",
                       "url": "https://dms.example.com/files/Example.docx"}}


def test_row05_converter_authorizationjwt_header(oo, upstream):
    t = ds(CONVERT)
    body = json.dumps(CONVERT["payload"]).encode()
    r = post_json(oo.port, "/converter", body, host="ds-workspace.example.com",
                  headers=[("Accept", "application/json"), ("AuthorizationJwt", f"Bearer {t}")])
    assert r.status == 200, r
    rec = one(upstream)
    assert hvals(rec, "authorizationjwt") == [f"Bearer {t}"]
    assert route_of(oo) == "docs-inbox-jwtheader"


def test_row05_authorization_route_ignores_custom_header(oo, upstream):
    t = ds(CONVERT)
    r = post_json(oo.port, "/converter", json.dumps(CONVERT["payload"]).encode(),
                  headers=[("Accept", "application/json"), ("AuthorizationJwt", f"Bearer {t}")])
    assert_denied(r, 401, None, "docs-inbox")
    assert upstream.requests() == []


def test_row05_custom_header_route_ignores_authorization(oo, upstream):
    t = ds(CONVERT)
    r = post_json(oo.port, "/converter", json.dumps(CONVERT["payload"]).encode(), host="ds-workspace.example.com",
                  headers=[bearer(t)])
    assert_denied(r, 401, None, "docs-inbox-jwtheader")
    assert upstream.requests() == []


# ------------------------------------------------------------------------------------------------
# row 6: a 9 KiB header token
# ------------------------------------------------------------------------------------------------
def big_payload(n: int) -> dict:
    return {"payload": {"async": False, "key": "K", "url": "https://dms.example.com/builder.docbuilder",
                        "history": "h" * n}}


def test_row06_docbuilder_9k_header_token_fits_16k(oo, upstream):
    t = ds(big_payload(6800))
    assert 9 * 1024 <= len(t) < 10 * 1024, len(t)
    r = post_json(oo.port, "/docbuilder", b'{"async":false}', headers=[bearer(t)])
    assert r.status == 200, r
    assert hvals(one(upstream), "authorization") == [f"Bearer {t}"]


def test_row06_docbuilder_9k_header_token_431_at_8k(oo_small, upstream):
    t = ds(big_payload(6800))
    r = post_json(oo_small.port, "/docbuilder", b'{"async":false}', headers=[bearer(t)])
    assert r.status == 431, r
    assert upstream.requests() == []


def test_row06_same_payload_as_body_token_fits_default_head(oo_small, upstream):
    t = ds(big_payload(6800))
    body = json.dumps({"async": False, "token": t}).encode()
    r = post_json(oo_small.port, "/docbuilder", body)
    assert r.status == 200, r
    assert one(upstream)["body_sha256"] == hashlib.sha256(body).hexdigest()


# ------------------------------------------------------------------------------------------------
# rows 7 and 8: public static and secure-link paths, queries byte for byte
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("target", [
    "/8.3.3-61374070b298e9cf34770bec05561aab/web-apps/apps/documenteditor/main/index.html?_dc=8.3.3-18&lang=en"
    "&frameEditorId=docEditor&parentOrigin=https://dms.example.com",
    "/web-apps/apps/api/documents/api.js",
    "/7.2.0-204/sdkjs/word/sdk-all-min.js",
    "/fonts/000",
])
def test_row07_public_static(oo, upstream, target):
    r = request(oo.port, "GET", target, host="docs.example.com")
    assert r.status == 200, r
    assert one(upstream)["target"] == target
    assert route_of(oo) == "docs-public"


@pytest.mark.parametrize("target", ["/web-appsX/apps/api.js", "/8.3.3/web-apps/x", "/x/healthcheck",
                                    "/healthcheck/x"])
def test_row07_regex_is_anchored(oo, upstream, target):
    r = request(oo.port, "GET", target, host="docs.example.com")
    assert r.status == 404, r
    assert upstream.requests() == []


SECURE_LINK = ("/cache/files/data/Khirz6zTPdfd7_8371/output.docx/output.docx?md5=N0xuZli5qv1co7csK7XljQ"
               "&expires=1762748001&shardkey=Khirz6zTPdfd7&filename=output.docx")


@pytest.mark.parametrize("target", [
    SECURE_LINK,
    SECURE_LINK.replace("filename=output.docx", "filename=new%20(1).docx&access_token=kept&a=%2f%2F&token=x"),
    "/cache/files/Khirz6zTPdfd7/Editor.bin/Editor.bin?md5=abc-_&expires=1&disposition=attachment&ooname=output.bin",
])
def test_row08_secure_link_query_byte_for_byte(oo, upstream, target):
    r = request(oo.port, "GET", target, host="docs.example.com")
    assert r.status == 200, r
    assert one(upstream)["target"] == target
    log = wait_log(oo)[-1]
    assert log["route"] == "docs-public", log
    # the log may redact parameters named like tokens (access_token, token) even here; everything else is kept
    redacted = re.sub(r"(^|[?&])(access_token|token)=[^&]*", r"\1\2=REDACTED", target)
    assert log["path"] in (target, redacted), log


@pytest.mark.parametrize("code", [403, 410])
def test_row08_upstream_403_410_passed_through(oo, upstream, code):
    r = request(oo.port, "GET", f"/ds-vpath/status?code={code}", host="docs.example.com")
    assert r.status == code, r
    assert r.header("www-authenticate") is None
    assert json.loads(r.body)["target"] == f"/status?code={code}"


# ------------------------------------------------------------------------------------------------
# row 11: outbox callback into a protected DMS
# ------------------------------------------------------------------------------------------------
def outbox(payload: dict, exp_delta=300, iat_delta=0) -> str:
    t = now()
    return hs_token(OUTBOX_SECRET, {"payload": payload, "iat": t + iat_delta, "exp": t + exp_delta})


CALLBACK = {"key": "Khirz6zTPdfd7", "status": 2,
            "url": "https://docs.example.com/cache/files/data/Khirz6zTPdfd7_8371/output.docx/output.docx"
                   "?md5=N0xuZli5qv1co7csK7XljQ&expires=1762748001&shardkey=Khirz6zTPdfd7&filename=output.docx",
            "changesurl": "https://docs.example.com/cache/files/data/Khirz6zTPdfd7_8371/changes.zip/changes.zip",
            "history": {"serverVersion": "8.3.3", "changes": [{"created": "2025-11-10 08:00:00",
                                                               "user": {"id": "1", "name": "A"}}]}}


def callback_body() -> bytes:
    return json.dumps({**CALLBACK, "token": outbox(CALLBACK)}, indent=1).encode()


def test_row11_callback_accepted_body_untouched(oo, upstream):
    t = outbox(CALLBACK)
    body = callback_body()
    r = post_json(oo.port, "/callback?fileName=new.docx", body, host="dms.example.com", headers=[bearer(t)])
    assert r.status == 200, r
    rec = one(upstream)
    assert rec["port"] == upstream.ports[1]
    assert rec["target"] == "/callback?fileName=new.docx"
    assert rec["body_sha256"] == hashlib.sha256(body).hexdigest(), "the body (with its token) is forwarded as is"
    assert hvals(rec, "authorization") == [f"Bearer {t}"]


@pytest.mark.parametrize("exp_delta,iat_delta,status,reason", [
    (-30, -330, 200, None),           # expired 30 s ago: within the 60 s leeway
    (-90, -390, 401, "expired"),      # 90 s ago: refused (DS does not retry 4xx)
    (300, 90, 401, "issued_in_future"),
    (3600, 0, 401, "lifetime_too_long"),
])
def test_row11_callback_time_checks(oo, upstream, exp_delta, iat_delta, status, reason):
    t = outbox(CALLBACK, exp_delta, iat_delta)
    r = post_json(oo.port, "/callback?fileName=new.docx", callback_body(), host="dms.example.com",
                  headers=[bearer(t)])
    if status == 200:
        assert r.status == 200, r
    else:
        assert_denied(r, status, reason, "dms-callback")
        assert upstream.requests() == []


def test_row11_callback_without_exp_refused(oo, upstream):
    t = hs_token(OUTBOX_SECRET, {"payload": CALLBACK})
    r = post_json(oo.port, "/callback", callback_body(), host="dms.example.com", headers=[bearer(t)])
    assert_denied(r, 401, "missing_claim", "dms-callback")


def test_row11_inbox_token_on_outbox_route_refused(oo, upstream):
    t = ds({"payload": CALLBACK, "exp": now() + 300})
    r = post_json(oo.port, "/callback", callback_body(), host="dms.example.com", headers=[bearer(t)])
    assert_denied(r, 401, "bad_signature", "dms-callback")


def test_row11_12k_header_fits_16k(oo, upstream):
    cb = dict(CALLBACK, history={"changes": [{"created": "2025-11-10", "user": {"id": str(i), "name": "x" * 40}}
                                             for i in range(90)]})
    t = outbox(cb)
    assert 11 * 1024 <= len(t) <= 13 * 1024, len(t)
    r = post_json(oo.port, "/callback", callback_body(), host="dms.example.com", headers=[bearer(t)])
    assert r.status == 200, r


def test_row11_12k_header_431_at_8k(oo_small, upstream):
    cb = dict(CALLBACK, history={"changes": [{"created": "2025-11-10", "user": {"id": str(i), "name": "x" * 40}}
                                             for i in range(90)]})
    r = post_json(oo_small.port, "/callback", callback_body(), host="dms.example.com", headers=[bearer(outbox(cb))])
    assert r.status == 431, r
    assert upstream.requests() == []


# ------------------------------------------------------------------------------------------------
# row 12: outbox download
# ------------------------------------------------------------------------------------------------
def test_row12_outbox_download(oo, upstream):
    t = outbox({"url": "https://dms.example.com/files/new.docx"})
    r = request(oo.port, "GET", "/files/new.docx", host="dms.example.com", headers=[bearer(t)])
    assert r.status == 200, r
    rec = one(upstream)
    assert rec["target"] == "/files/new.docx" and rec["port"] == upstream.ports[1]


def test_row12_token_for_another_file_refused(oo, upstream):
    t = outbox({"url": "https://dms.example.com/files/other.docx"})
    r = request(oo.port, "GET", "/files/new.docx", host="dms.example.com", headers=[bearer(t)])
    assert_denied(r, 403, "claim_mismatch", "dms-files")
    assert upstream.requests() == []


# ------------------------------------------------------------------------------------------------
# row 14: Weavy opaque wyu_ token
# ------------------------------------------------------------------------------------------------
WYU = "wyu_Zx81Jg6QqNcA0mPZcqWb3uJ9s0vXyQ2b"


def test_row14_opaque_token_passthrough_route(oo, upstream):
    hdrs = [("Authorization", f"Bearer {WYU}"), ("X-Weavy-Source", "uikit-web@21.1.0")]
    r = request(oo.port, "GET", "/api/user", host="weavy-legacy.example.com", headers=hdrs)
    assert r.status == 200, r
    rec = one(upstream)
    assert rec["port"] == upstream.ports[2]
    assert hvals(rec, "authorization") == [f"Bearer {WYU}"]
    assert hvals(rec, "x-weavy-source") == ["uikit-web@21.1.0"]


def test_row14_opaque_token_on_jwt_route_then_retry(oo, upstream):
    hdrs = [("X-Weavy-Source", "uikit-web@21.1.0")]
    with RawConn(oo.port) as c:
        c.send(build_request("GET", "/api/user", host="weavy.example.com",
                             headers=[("Authorization", f"Bearer {WYU}"), *hdrs]))
        r = c.read_response()
        assert_denied(r, 401, "malformed", "weavy-api")
        # the UIKit calls getToken(true) and retries exactly once, with a real JWT
        jwt = hs_token(WEAVY_SECRET, {"sub": "u1", "iss": "weavy-client", "exp": now() + 3600})
        c.send(build_request("GET", "/api/user", host="weavy.example.com", headers=[bearer(jwt), *hdrs]))
        r = c.read_response()
        assert r.status == 200, r
    log = wait_log(oo, lambda e: e["route"] == "weavy-api", 2)
    assert [e["status"] for e in log] == [401, 200]
    assert len(upstream.requests()) == 1
    assert all(WYU not in ln for ln in oo.stdout_lines())


# ------------------------------------------------------------------------------------------------
# row 15: TinyMCE RTC style RS256, HS256 confusion, URI-named claim rule
# ------------------------------------------------------------------------------------------------
def tiny_claims(role: str | None = "editor") -> dict:
    c = {"sub": "123", "exp": now() + 600, "https://claims.tiny.cloud/rtc/document": "doc-1"}
    if role:
        c[TINY_ROLE] = role
    return c


@pytest.mark.parametrize("alg", ["RS256", "PS256"])
def test_row15_rs256_accepted(oo, upstream, keyring, alg):
    r = request(oo.port, "GET", "/rtc/doc-1", headers=[bearer(mint(alg, keyring.rsa, tiny_claims()))])
    assert r.status == 200, r
    assert route_of(oo) == "tiny-rtc"


def test_row15_hs256_keyed_with_public_pem_refused(oo, upstream, keyring):
    t = hs_token(keyring.rsa.files["spki"].read_bytes(), tiny_claims())
    r = request(oo.port, "GET", "/rtc/doc-1", headers=[bearer(t)])
    assert_denied(r, 401, "algorithm_not_allowed", "tiny-rtc")
    assert upstream.requests() == []


def test_row15_uri_named_claim_rule_403(oo, upstream, keyring):
    r = request(oo.port, "GET", "/rtc/doc-1", headers=[bearer(mint("RS256", keyring.rsa, tiny_claims("viewer")))])
    assert_denied(r, 403, "claim_mismatch", "tiny-rtc")
    assert upstream.requests() == []


def test_row15_uri_named_claim_absent(oo, upstream, keyring):
    r = request(oo.port, "GET", "/rtc/doc-1", headers=[bearer(mint("RS256", keyring.rsa, tiny_claims(None)))])
    assert_denied(r, 401, "missing_claim", "tiny-rtc")


def test_row15_dotted_lookalike_does_not_satisfy_uri_claim(oo, upstream, keyring):
    """A nested object that spells the URI as a dotted path is not the URI-named claim."""
    c = tiny_claims(None)
    c["https://claims"] = {"tiny": {"cloud/rtc/role": "editor"}}
    r = request(oo.port, "GET", "/rtc/doc-1", headers=[bearer(mint("RS256", keyring.rsa, c))])
    assert r.status in (401, 403), r
    assert upstream.requests() == []
