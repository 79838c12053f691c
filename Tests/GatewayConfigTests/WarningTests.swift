// Warnings: the file still loads, but something is probably not what the operator meant.

import Foundation
import XCTest
@testable import GatewayConfig

final class WarningTests: XCTestCase {
    func testShadowedRoutes() {
        assertDiagnostics("""
            listen: [{ address: ":8080" }]
            upstreams:
              app: { servers: ["http://127.0.0.1:9000"] }
            routes:
              - name: api
                match: { path_prefix: /api/ }
                upstream: app
                auth: off
              - name: api-v1
                match: { path_prefix: /api/v1/, methods: [GET] }
                upstream: app
                auth: off
              - name: health
                match: { path: [/api/health, /healthz] }
                upstream: app
                auth: off
              - name: host-only
                match: { host: "*.example.com" }
                upstream: app
                auth: off
              - name: sub-host
                match: { host: a.b.example.com, path: /x }
                upstream: app
                auth: off
              - name: everything
                upstream: app
                auth: off
              - name: after-catch-all
                match: { path_regex: "^/z" }
                upstream: app
                auth: off
            """, [
                #"gw.conf:9:5: warning: routes[1]: route "api-v1" can never match: route "api" (routes[0], line 5) matches every request it would"#,
                #"gw.conf:21:5: warning: routes[4]: route "sub-host" can never match: route "host-only" (routes[3], line 17) matches every request it would"#,
                #"gw.conf:28:5: warning: routes[6]: route "after-catch-all" can never match: route "everything" (routes[5], line 25) matches every request it would"#,
            ])
    }

    func testNotShadowedWhenNarrower() {
        // Earlier routes restricted by host, method or a longer prefix do not shadow broader later ones.
        assertDiagnostics("""
            listen: [{ address: ":8080" }]
            upstreams:
              app: { servers: ["http://127.0.0.1:9000"] }
            routes:
              - { name: a, match: { path_prefix: /api/v1/ }, upstream: app, auth: off }
              - { name: b, match: { path_prefix: /api/ }, upstream: app, auth: off }
              - { name: c, match: { host: api.example.com }, upstream: app, auth: off }
              - { name: d, match: { methods: [POST] }, upstream: app, auth: off }
              - { name: e, match: { path_regex: "^/x" }, upstream: app, auth: off }
              - { name: f, match: { path: /x/1 }, upstream: app, auth: off }
              - { name: g, upstream: app, auth: off }
            """, [])
    }

    func testSecretFileReadableByOthers() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gwcfg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let open = dir.appendingPathComponent("open.key").path
        let closed = dir.appendingPathComponent("closed.key").path
        XCTAssertTrue(FileManager.default.createFile(atPath: open, contents: Data("s3cret-s3cret-s3cret-s3cret-s3cr".utf8),
                                                     attributes: [.posixPermissions: 0o644]))
        XCTAssertTrue(FileManager.default.createFile(atPath: closed, contents: Data("x".utf8),
                                                     attributes: [.posixPermissions: 0o600]))
        let conf = dir.appendingPathComponent("gw.conf").path
        let yaml = """
            listen: [{ address: ":8080" }]
            keys:
              a: { algorithms: [HS256], secret: { file: \(open) } }
              b: { algorithms: [HS256], secret: { file: closed.key } }
            upstreams:
              app: { servers: ["http://127.0.0.1:9000"] }
            routes:
              - { name: r, upstream: app, auth: { keys: [a, b], tokens: [{ query: t }] } }
            """
        try yaml.write(toFile: conf, atomically: true, encoding: .utf8)
        let r = ConfigLoader.load(path: conf)
        XCTAssertEqual(r.diagnostics.map(\.description), [
            "\(conf):3:45: warning: keys.a.secret.file: secret file \"\(open)\" is accessible by group or others (mode 0644); chmod 600 it",
        ])
        let config = try XCTUnwrap(r.config)
        // Relative paths are resolved against the config file's directory.
        guard case .secret(let s) = config.keys[1].material else { return XCTFail() }
        XCTAssertEqual(s.origin, .file(closed))
        XCTAssertEqual(config.keys[1].location, SourceLocation(file: conf, line: 4, column: 3, path: "keys.b"))
    }

    func testUnusedUpstreamAndKeySet() {
        assertDiagnostics("""
            listen: [{ address: ":8080" }]
            keys:
              spare: { algorithms: [ES256], jwks: { url: "http://id.internal/jwks.json" } }
            upstreams:
              app: { servers: ["http://127.0.0.1:9000"] }
              old: { servers: ["http://127.0.0.1:9001"] }
            routes:
              - { name: r, upstream: app, auth: off }
            """, [
                "gw.conf:3:46: warning: keys.spare.jwks.url: JWKS fetched over plain http can be replaced by anyone on the path; use https",
                #"gw.conf:6:3: warning: upstreams.old: upstream "old" is not used by any route"#,
                #"gw.conf:3:3: warning: keys.spare: key set "spare" is not used by any route"#,
            ])
    }

    func testHostBitsAndIdleAuthWebSocket() {
        assertDiagnostics("""
            listen: [{ address: ":8080" }]
            trusted_proxies: 10.1.2.3/8
            keys:
              k: { algorithms: [HS256], secret: { env: S } }
            upstreams:
              app: { servers: ["http://127.0.0.1:9000"] }
            routes:
              - name: r
                upstream: app
                auth:
                  keys: [k]
                  tokens: [{ query: t }]
                  websocket: { close_on_expiry: true }
            """, [
                #"gw.conf:2:18: warning: trusted_proxies: "10.1.2.3/8" has host bits set; it means 10.0.0.0/8"#,
                "gw.conf:13:18: warning: routes[0].auth.websocket: has no effect: the route does not allow WebSocket upgrades (add `websocket: true`)",
            ])
    }
}
