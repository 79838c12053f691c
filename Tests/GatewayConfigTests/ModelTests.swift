// Less common shapes of valid files, and what they load into.

import XCTest
@testable import GatewayConfig

final class ModelTests: XCTestCase {
    func load(_ yaml: String, file: StaticString = #filePath, line: UInt = #line) throws -> GatewayConfig {
        let r = ConfigLoader.parse(yaml: yaml, file: "gw.conf")
        XCTAssertEqual(r.diagnostics.map(\.description), [], file: file, line: line)
        return try XCTUnwrap(r.config, file: file, line: line)
    }

    func testAllOptionalSections() throws {
        let c = try load("""
            workers: 4
            listen:
              - address: "[::]:80"
              - address: "[::1]:8080"
              - address: ":8443"
                tls:
                  certificates:
                    - { cert: a.crt, key: a.key }
                    - { cert: /etc/b.crt, key: /etc/b.key }
              - address: "localhost:9000"
            admin: { address: "127.0.0.1:9901" }
            trusted_proxies: ["10.0.0.0/8", "192.168.1.7", "fd00::/8"]
            limits:
              max_header_bytes: 32768
              max_header_count: 50
              max_body_bytes: 1_000_000
              header_timeout: 500ms
              idle_timeout: 1h30m
              upstream_connect_timeout: 2s
              upstream_timeout: 2m
              max_connections: 100
              drain_timeout: 5s
              max_token_bytes: 8192
              max_auth_body_bytes: 65536
              max_tunnels: 10
              tunnel_idle_timeout: 10m
            log: { access: false }
            keys:
              b64:
                algorithms: [HS384, HS512]
                secret: { value: "c2VjcmV0", encoding: base64 }
              cred: { algorithms: [HS256], secret: { credential: jwt-secret } }
              pem:
                algorithms: [ES384]
                public_key:
                  pem: |
                    -----BEGIN PUBLIC KEY-----
                    MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAE
                    -----END PUBLIC KEY-----
              ed: { algorithms: [EdDSA], certificate: { file: /etc/ed.crt } }
              remote: { algorithms: [RS256, HS256], jwks: { url: "https://id.example.com/jwks", refresh: 90s } }
            upstreams:
              v6: { servers: ["http://[::1]:8080", "http://backend.internal", "http://10.0.0.1:81/"] }
            routes:
              - name: ws
                match: { host: ["Chat.Example.com", "*.chat.example.com"], path_prefix: [/ws/, /socket/], methods: [get] }
                upstream: v6
                strip_prefix: /ws
                websocket: { idle_timeout: 5m }
                auth:
                  keys: [b64, cred, pem, ed, remote]
                  tokens:
                    - { cookie: jwt }
                    - { header: X-Token }
                  issuer: https://id.example.com
                  audience: [a, b]
                  leeway: 0s
                  realm: Chat
                  claims:
                    - { claim: "https://example.com/roles", contains: admin }
                    - { claim: realm_access.roles, contains: [1, 2.5, true, "x"] }
                    - { claim: banned, exists: false }
                    - { claim: n, one_of: [1, "1", yes] }
                  forward: { token: keep }
                  websocket: { close_on_expiry: true, grace: 0s }
              - name: public
                match: { path: / }
                upstream: v6
                websocket: false
                auth: false
              - name: off-word
                match: { path: /off }
                upstream: v6
                auth: "off"
            """)
        XCTAssertEqual(c.workers, 4)
        XCTAssertEqual(c.listen.map(\.address.description), ["[::]:80", "[::1]:8080", ":8443", "localhost:9000"])
        XCTAssertEqual(c.listen[1].address, ListenAddress(host: "::1", port: 8080))
        XCTAssertNil(c.listen[2].address.host)
        XCTAssertEqual(c.listen[2].tls?.certificates.map(\.cert), ["a.crt", "/etc/b.crt"])
        XCTAssertEqual(c.trustedProxies.map(\.description), ["10.0.0.0/8", "192.168.1.7/32", "fd00::/8"])
        XCTAssertEqual(c.limits.maxBodyBytes, 1_000_000)
        XCTAssertEqual(c.limits.headerTimeout, 0.5)
        XCTAssertEqual(c.limits.idleTimeout, 5400)
        XCTAssertEqual(c.limits.upstreamTimeout, 120)
        XCTAssertEqual(c.limits.maxTunnels, 10)
        XCTAssertEqual(c.limits.tunnelIdleTimeout, 600)
        XCTAssertEqual(c.log, LogConfig(access: false))

        guard case .secret(let s) = c.keys[0].material else { return XCTFail() }
        XCTAssertEqual(s.origin, .value("c2VjcmV0"))
        XCTAssertEqual(s.encoding, .base64)
        guard case .secret(let cred) = c.keys[1].material else { return XCTFail() }
        XCTAssertEqual(cred.origin, .credential("jwt-secret"))
        guard case .publicKey(let pem) = c.keys[2].material, case .pem(let text) = pem.origin else { return XCTFail() }
        XCTAssertTrue(text.hasPrefix("-----BEGIN PUBLIC KEY-----\n"))
        guard case .certificate(let cert) = c.keys[3].material else { return XCTFail() }
        XCTAssertEqual(cert.origin, .file("/etc/ed.crt"))
        guard case .jwks(let jwks) = c.keys[4].material else { return XCTFail() }
        XCTAssertEqual(jwks.origin, .url("https://id.example.com/jwks", refresh: 90))
        XCTAssertEqual(c.keys[4].algorithms.map(\.family), [.rsa, .hmac])
        XCTAssertEqual(c.keys[4].algorithmsLocation.path, "keys.remote.algorithms")

        let servers = c.upstreams[0].servers
        XCTAssertEqual(servers.map(\.host), ["::1", "backend.internal", "10.0.0.1"])
        XCTAssertEqual(servers.map(\.port), [8080, 80, 81])
        XCTAssertEqual(servers.map(\.authority), ["[::1]:8080", "backend.internal:80", "10.0.0.1:81"])

        let ws = c.routes[0]
        XCTAssertEqual(ws.match.hosts.map(\.pattern), ["chat.example.com", "*.chat.example.com"])
        XCTAssertEqual(ws.match.methods, ["GET"])
        XCTAssertEqual(ws.stripPrefix, "/ws")
        XCTAssertEqual(ws.websocket, WebSocketSettings(enabled: true, idleTimeout: 300))
        let auth = try XCTUnwrap(ws.auth.policy)
        XCTAssertEqual(auth.tokens, [.cookie("jwt"), .header(name: "X-Token", prefix: nil)])
        XCTAssertEqual(auth.issuers, ["https://id.example.com"])
        XCTAssertEqual(auth.audiences, ["a", "b"])
        XCTAssertEqual(auth.realm, "Chat")
        XCTAssertEqual(auth.claims.map(\.path), [["https://example.com/roles"], ["realm_access", "roles"], ["banned"], ["n"]])
        XCTAssertEqual(auth.claims.map(\.condition), [
            .contains(.string("admin")),
            .contains(.list([.int(1), .double(2.5), .bool(true), .string("x")])),
            .exists(false),
            .oneOf([.int(1), .string("1"), .string("yes")]),
        ])
        XCTAssertEqual(auth.claims[1].location.path, "routes[0].auth.claims[1]")
        XCTAssertEqual(auth.forward.token, .keep)
        XCTAssertEqual(auth.websocket, AuthWebSocketSettings(closeOnExpiry: true, grace: 0))
        guard case .off = c.routes[1].auth, case .off = c.routes[2].auth else { return XCTFail("public routes") }
        XCTAssertFalse(c.routes[1].websocket.enabled)
    }

    func testDurations() {
        XCTAssertEqual(DurationSyntax.seconds("500ms"), 0.5)
        XCTAssertEqual(DurationSyntax.seconds("30s"), 30)
        XCTAssertEqual(DurationSyntax.seconds("10m"), 600)
        XCTAssertEqual(DurationSyntax.seconds("24h"), 86400)
        XCTAssertEqual(DurationSyntax.seconds("1h30m"), 5400)
        XCTAssertEqual(DurationSyntax.seconds("1m30s500ms"), 90.5)
        XCTAssertEqual(DurationSyntax.seconds("1.5s"), 1.5)
        XCTAssertEqual(DurationSyntax.seconds("0s"), 0)
        XCTAssertEqual(DurationSyntax.parse("30"), .failure(.missingUnit))
        XCTAssertEqual(DurationSyntax.parse("1h30"), .failure(.missingUnit))
        for bad in ["", "s", "-5s", "5 s", "5S", "1d", "30m1h", "1m1m", ".5s", "5.s", "1e3s", "10sec"] {
            XCTAssertEqual(DurationSyntax.parse(bad), .failure(.invalid), bad)
        }
        XCTAssertEqual(DurationSyntax.format(5400), "1h30m")
        XCTAssertEqual(DurationSyntax.format(0.5), "500ms")
        XCTAssertEqual(DurationSyntax.format(0), "0s")
    }
}
