// The full example of DESIGN.md §4 must load into the expected model.

import XCTest
@testable import GatewayConfig

/// DESIGN.md §4's example, verbatim.
let designExample = #"""
listen:
  - address: "0.0.0.0:80"
  - address: "0.0.0.0:443"
    tls:
      certificates:                      # SNI picks by the certificate's names; the first is the default
        - { cert: /etc/portcullis/tls/docs.crt, key: /etc/portcullis/tls/docs.key }
admin:
  address: "127.0.0.1:9901"              # /healthz /readyz /metrics
trusted_proxies: [10.0.0.0/8]            # X-Forwarded-* from these peers are kept and extended; from others, replaced
limits:                                  # optional; every limit has a documented default
  max_header_bytes: 65536
  max_body_bytes: 104857600
  header_timeout: 10s
  idle_timeout: 75s
keys:                                    # named key sets; each pins the algorithms it may verify
  onlyoffice:
    algorithms: [HS256]
    secret: { env: ONLYOFFICE_JWT_SECRET }   # or { file: PATH } | { credential: NAME } (systemd) | { value: "..." }; empty is an error
  chat:
    algorithms: [RS256, ES256]
    jwks: { url: "https://id.example.com/.well-known/jwks.json", refresh: 10m }   # or { file: PATH }
  rtc:
    algorithms: [RS256, PS256]
    public_key: { file: /etc/portcullis/keys/rtc.pem }   # SPKI or PKCS#1 PEM, or an X.509 certificate
upstreams:
  docs:
    servers: ["http://127.0.0.1:80"]     # ONLYOFFICE Docs' own nginx, not docservice's :8000
  chat:
    servers: ["http://10.0.0.5:5000", "http://10.0.0.6:5000"]
routes:                                  # first match wins
  - name: docs-public                    # static trees (often version-prefixed), secure-link cache files, health
    match: { path_regex: '^(/[0-9]+\.[0-9]+\.[0-9]+[.-][A-Za-z0-9]+)?/(web-apps|sdkjs|sdkjs-plugins|fonts|dictionaries|cache/files)/|^/healthcheck$' }
    upstream: docs
    auth: off
  - name: docs-inbox                     # command, conversion and builder APIs (and their legacy paths)
    match: { path: [/command, /converter, /docbuilder, /coauthoring/CommandService.ashx, /ConvertService.ashx], methods: [POST] }
    upstream: docs
    auth:
      keys: [onlyoffice]
      tokens:                            # where to look, in this order; the first present source is the token
        - { body: token }                # JSON body field (bounded read; the body is forwarded byte for byte)
        - { header: Authorization, prefix: "Bearer " }
      require: []                        # ONLYOFFICE tokens often carry no exp; default is [exp]
      leeway: 60s
      upstream_timeout: 10m              # conversions are slow
  - name: api
    match: { host: api.example.com, path_prefix: /v1/ }
    upstream: chat
    auth:
      keys: [chat, rtc]
      tokens:
        - { header: Authorization, prefix: "Bearer " }
        - { query: token }
        - { cookie: session_jwt }
      issuer: [https://id.example.com]   # optional; a string or a list
      audience: [chat]                   # optional; the token's aud must share one value
      require: [exp, sub]
      max_lifetime: 24h                  # exp - iat (or exp - now) may not exceed this
      claims:                            # all must hold; `claim` is a dotted path (or a quoted URI-named claim)
        - { claim: permissions, contains: edit }
        - { claim: tenant, equals: acme }
        - { claim: role, one_of: [admin, editor] }
      forward:
        token: strip                     # or keep (default: keep headers and body, strip query parameters)
        claims_to_headers: { sub: X-User-Id, email: X-User-Email }   # client-sent copies are removed
  - name: chat-realtime                  # SignalR-style hub: Bearer on negotiate, ?access_token= on the upgrade
    match: { path_prefix: /hubs/rtm }
    upstream: chat
    websocket: true                      # upgrades are forwarded only on routes that allow them
    auth:
      keys: [chat]
      tokens: [ { header: Authorization, prefix: "Bearer " }, { query: access_token }, { subprotocol: "base64url.bearer.authorization." } ]
      websocket: { close_on_expiry: true }
  - name: docs-coediting                 # socket.io: the editor's token travels in the CONNECT packet, not the URL
    match: { path_regex: '^(/[0-9]+\.[0-9]+\.[0-9]+[.-][A-Za-z0-9]+)?/doc/' }
    upstream: docs
    websocket: true
    auth:
      keys: [onlyoffice]
      tokens: [ { socketio: token } ]    # the `token` field of the socket.io CONNECT packet (WebSocket or polling)
      require: []
"""#

final class ValidConfigTests: XCTestCase {
    func load(_ yaml: String) -> (GatewayConfig?, [String]) {
        let r = ConfigLoader.parse(yaml: yaml, file: "gateway.conf")
        return (r.config, r.diagnostics.map(\.description))
    }

    func testDesignExampleLoadsWithoutDiagnostics() throws {
        let (config, diags) = load(designExample)
        XCTAssertEqual(diags, [])
        let c = try XCTUnwrap(config)
        XCTAssertEqual(c.file, "gateway.conf")

        // listen, admin, trusted proxies, limits
        XCTAssertEqual(c.listen.map(\.address), [ListenAddress(host: "0.0.0.0", port: 80), ListenAddress(host: "0.0.0.0", port: 443)])
        XCTAssertNil(c.listen[0].tls)
        let tls = try XCTUnwrap(c.listen[1].tls)
        XCTAssertEqual(tls.certificates.map(\.cert), ["/etc/portcullis/tls/docs.crt"])
        XCTAssertEqual(tls.certificates.map(\.key), ["/etc/portcullis/tls/docs.key"])
        XCTAssertEqual(c.admin?.address, ListenAddress(host: "127.0.0.1", port: 9901))
        XCTAssertEqual(c.trustedProxies, [CIDR("10.0.0.0/8")!])
        XCTAssertTrue(c.isTrustedProxy(IPAddress("10.1.2.3")!))
        XCTAssertFalse(c.isTrustedProxy(IPAddress("192.168.1.1")!))
        XCTAssertNil(c.workers)
        var limits = Limits()
        limits.maxHeaderBytes = 65536
        limits.maxBodyBytes = 104857600
        limits.headerTimeout = 10
        limits.idleTimeout = 75
        XCTAssertEqual(c.limits, limits)
        XCTAssertEqual(c.limits.tunnelIdleTimeout, 3600)
        XCTAssertEqual(c.log.access, true)

        // keys, in file order
        XCTAssertEqual(c.keys.map(\.name), ["onlyoffice", "chat", "rtc"])
        let oo = c.keys[0]
        XCTAssertEqual(oo.algorithms, [.HS256])
        guard case .secret(let secret) = oo.material else { return XCTFail("onlyoffice: \(oo.material)") }
        XCTAssertEqual(secret.origin, .env("ONLYOFFICE_JWT_SECRET"))
        XCTAssertEqual(secret.encoding, .raw)
        XCTAssertEqual(secret.location.path, "keys.onlyoffice.secret")
        XCTAssertEqual(oo.location.line, 16)
        XCTAssertEqual(oo.location.column, 3)
        XCTAssertEqual(oo.location.path, "keys.onlyoffice")
        let chat = c.keys[1]
        XCTAssertEqual(chat.algorithms, [.RS256, .ES256])
        guard case .jwks(let jwks) = chat.material else { return XCTFail("chat: \(chat.material)") }
        XCTAssertEqual(jwks.origin, .url("https://id.example.com/.well-known/jwks.json", refresh: 600))
        guard case .publicKey(let pem) = c.keys[2].material else { return XCTFail("rtc") }
        XCTAssertEqual(pem.origin, .file("/etc/portcullis/keys/rtc.pem"))
        XCTAssertEqual(c.keys[2].algorithms, [.RS256, .PS256])

        // upstreams
        XCTAssertEqual(c.upstreams.map(\.name), ["docs", "chat"])
        XCTAssertEqual(c.upstreams[1].servers.map(\.host), ["10.0.0.5", "10.0.0.6"])
        XCTAssertEqual(c.upstreams[1].servers.map(\.port), [5000, 5000])
        XCTAssertEqual(c.upstreams[0].servers[0].authority, "127.0.0.1:80")

        // routes
        XCTAssertEqual(c.routes.map(\.name), ["docs-public", "docs-inbox", "api", "chat-realtime", "docs-coediting"])
        XCTAssertEqual(c.routes.map(\.index), [0, 1, 2, 3, 4])
        XCTAssertEqual(c.routes.map(\.upstream), ["docs", "docs", "chat", "chat", "docs"])

        let pub = c.routes[0]
        guard case .off = pub.auth else { return XCTFail("docs-public should be public") }
        XCTAssertNotNil(pub.match.pathRegex)
        XCTAssertTrue(pub.match.matches(host: "docs.example.com", normalizedPath: "/7.5.1-23/web-apps/apps/api/documents/api.js", method: "GET"))
        XCTAssertTrue(pub.match.matches(host: nil, normalizedPath: "/healthcheck", method: "GET"))
        XCTAssertTrue(pub.match.matches(host: nil, normalizedPath: "/cache/files/data/x.docx", method: "GET"))
        XCTAssertFalse(pub.match.matches(host: nil, normalizedPath: "/healthcheck2", method: "GET"))
        XCTAssertFalse(pub.match.matches(host: nil, normalizedPath: "/command", method: "POST"))
        XCTAssertFalse(pub.websocket.enabled)

        let inbox = c.routes[1]
        XCTAssertEqual(inbox.match.paths, ["/command", "/converter", "/docbuilder", "/coauthoring/CommandService.ashx", "/ConvertService.ashx"])
        XCTAssertEqual(inbox.match.methods, ["POST"])
        XCTAssertEqual(inbox.upstreamTimeout, 600)
        let inboxAuth = try XCTUnwrap(inbox.auth.policy)
        XCTAssertEqual(inboxAuth.keys.map(\.name), ["onlyoffice"])
        XCTAssertEqual(inboxAuth.tokens, [.body("token"), .header(name: "Authorization", prefix: "Bearer ")])
        XCTAssertEqual(inboxAuth.require, [])
        XCTAssertEqual(inboxAuth.leeway, 60)
        XCTAssertEqual(inboxAuth.realm, "docs-inbox")
        XCTAssertEqual(inboxAuth.forward.token, .keepExceptQuery)
        XCTAssertTrue(inbox.match.matches(host: "x", normalizedPath: "/converter", method: "POST"))
        XCTAssertFalse(inbox.match.matches(host: "x", normalizedPath: "/converter", method: "GET"))

        let api = c.routes[2]
        XCTAssertEqual(api.match.hosts.map(\.pattern), ["api.example.com"])
        XCTAssertEqual(api.match.pathPrefixes, ["/v1/"])
        XCTAssertNil(api.upstreamTimeout)
        let apiAuth = try XCTUnwrap(api.auth.policy)
        XCTAssertEqual(apiAuth.keys.map(\.name), ["chat", "rtc"])
        XCTAssertEqual(apiAuth.keys[1].location.path, "routes[2].auth.keys")
        XCTAssertEqual(apiAuth.tokens, [.header(name: "Authorization", prefix: "Bearer "), .query("token"), .cookie("session_jwt")])
        XCTAssertEqual(apiAuth.issuers, ["https://id.example.com"])
        XCTAssertEqual(apiAuth.audiences, ["chat"])
        XCTAssertEqual(apiAuth.require, ["exp", "sub"])
        XCTAssertEqual(apiAuth.leeway, 0)
        XCTAssertEqual(apiAuth.maxLifetime, 86400)
        XCTAssertEqual(apiAuth.claims.map(\.path), [["permissions"], ["tenant"], ["role"]])
        XCTAssertEqual(apiAuth.claims.map(\.condition), [
            .contains(.string("edit")), .equals(.string("acme")), .oneOf([.string("admin"), .string("editor")]),
        ])
        XCTAssertEqual(apiAuth.forward.token, .strip)
        XCTAssertEqual(apiAuth.forward.claimsToHeaders.map(\.claim), ["sub", "email"])
        XCTAssertEqual(apiAuth.forward.claimsToHeaders.map(\.header), ["X-User-Id", "X-User-Email"])
        XCTAssertEqual(apiAuth.realm, "api")
        XCTAssertTrue(api.match.matches(host: "API.example.com:443", normalizedPath: "/v1/messages", method: "GET"))
        XCTAssertFalse(api.match.matches(host: "www.example.com", normalizedPath: "/v1/messages", method: "GET"))

        let rt = c.routes[3]
        XCTAssertEqual(rt.websocket, WebSocketSettings(enabled: true, idleTimeout: nil))
        let rtAuth = try XCTUnwrap(rt.auth.policy)
        XCTAssertEqual(rtAuth.tokens, [.header(name: "Authorization", prefix: "Bearer "), .query("access_token"),
                                       .subprotocol(prefix: "base64url.bearer.authorization.")])
        XCTAssertEqual(rtAuth.websocket, AuthWebSocketSettings(closeOnExpiry: true, grace: 5))
        XCTAssertEqual(rtAuth.require, ["exp"])

        let co = c.routes[4]
        XCTAssertEqual(co.auth.policy?.tokens, [.socketio("token")])
        XCTAssertTrue(co.match.matches(host: nil, normalizedPath: "/8.1.0-5/doc/abc/c/", method: "GET"))
        XCTAssertTrue(co.match.matches(host: nil, normalizedPath: "/doc/abc/c/", method: "GET"))
        XCTAssertEqual(co.location.path, "routes[4]")
    }
}
