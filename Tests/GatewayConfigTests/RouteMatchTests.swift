// Per-request matching helpers.

import Foundation
import XCTest
@testable import GatewayConfig

final class RouteMatchTests: XCTestCase {
    func match(_ yaml: String, file: StaticString = #filePath, line: UInt = #line) throws -> RouteMatch {
        let text = """
            listen: [{ address: ":8080" }]
            upstreams: { app: { servers: ["http://127.0.0.1:9000"] } }
            routes:
              - { name: r, upstream: app, auth: off, match: \(yaml) }
            """
        let r = ConfigLoader.parse(yaml: text, file: "gw.conf")
        XCTAssertEqual(r.diagnostics.map(\.description), [], file: file, line: line)
        return try XCTUnwrap(r.config?.routes.first?.match, file: file, line: line)
    }

    func testEmptyMatchMatchesEverything() throws {
        let m = try match("{}")
        XCTAssertTrue(m.isCatchAll)
        XCTAssertTrue(m.matches(host: nil, normalizedPath: "/", method: "GET"))
        XCTAssertTrue(m.matches(host: "x.y", normalizedPath: "/a/b", method: "DELETE"))
        let config = ConfigLoader.parse(yaml: """
            listen: [{ address: ":8080" }]
            upstreams: { app: { servers: ["http://127.0.0.1:9000"] } }
            routes: [{ name: r, upstream: app, auth: off }]
            """, file: "gw.conf").config
        XCTAssertEqual(config?.routes[0].match.isCatchAll, true)
    }

    func testExactHostIsCaseInsensitiveAndIgnoresPort() throws {
        let m = try match("{ host: Api.Example.com }")
        XCTAssertTrue(m.matches(host: "api.example.com", normalizedPath: "/", method: "GET"))
        XCTAssertTrue(m.matches(host: "API.EXAMPLE.COM", normalizedPath: "/", method: "GET"))
        XCTAssertTrue(m.matches(host: "api.example.com:8443", normalizedPath: "/", method: "GET"))
        XCTAssertTrue(m.matches(host: "api.example.com.", normalizedPath: "/", method: "GET"))
        XCTAssertFalse(m.matches(host: "api.example.com.evil", normalizedPath: "/", method: "GET"))
        XCTAssertFalse(m.matches(host: "xapi.example.com", normalizedPath: "/", method: "GET"))
        XCTAssertFalse(m.matches(host: "api.example.co", normalizedPath: "/", method: "GET"))
        XCTAssertFalse(m.matches(host: nil, normalizedPath: "/", method: "GET"))
        XCTAssertFalse(m.matches(host: "", normalizedPath: "/", method: "GET"))
    }

    func testWildcardHost() throws {
        let m = try match(#"{ host: ["*.example.com", "exact.org"] }"#)
        XCTAssertTrue(m.matches(host: "a.example.com", normalizedPath: "/", method: "GET"))
        XCTAssertTrue(m.matches(host: "a.b.example.com", normalizedPath: "/", method: "GET"))
        XCTAssertTrue(m.matches(host: "A.Example.COM:80", normalizedPath: "/", method: "GET"))
        XCTAssertFalse(m.matches(host: "example.com", normalizedPath: "/", method: "GET"))
        XCTAssertFalse(m.matches(host: ".example.com", normalizedPath: "/", method: "GET"))
        XCTAssertFalse(m.matches(host: "aexample.com", normalizedPath: "/", method: "GET"))
        XCTAssertFalse(m.matches(host: "a.example.com.evil.net", normalizedPath: "/", method: "GET"))
        XCTAssertTrue(m.matches(host: "exact.org:1", normalizedPath: "/", method: "GET"))
        XCTAssertFalse(m.matches(host: "a.exact.org", normalizedPath: "/", method: "GET"))
    }

    func testIPLiteralHosts() throws {
        let m = try match(#"{ host: ["[::1]", "127.0.0.1"] }"#)
        XCTAssertTrue(m.matches(host: "[::1]:8080", normalizedPath: "/", method: "GET"))
        XCTAssertTrue(m.matches(host: "[::1]", normalizedPath: "/", method: "GET"))
        XCTAssertTrue(m.matches(host: "127.0.0.1:8080", normalizedPath: "/", method: "GET"))
        XCTAssertFalse(m.matches(host: "[::2]:8080", normalizedPath: "/", method: "GET"))
    }

    func testExactPathsPrefixesAndMethods() throws {
        let m = try match("{ path: [/a, /b/c], path_prefix: /api/, methods: [get, HEAD] }")
        XCTAssertEqual(m.methods, ["GET", "HEAD"])
        XCTAssertTrue(m.matches(host: nil, normalizedPath: "/a", method: "GET"))
        XCTAssertTrue(m.matches(host: nil, normalizedPath: "/b/c", method: "HEAD"))
        XCTAssertTrue(m.matches(host: nil, normalizedPath: "/api/", method: "GET"))
        XCTAssertTrue(m.matches(host: nil, normalizedPath: "/api/x/y", method: "GET"))
        XCTAssertFalse(m.matches(host: nil, normalizedPath: "/api", method: "GET"))
        XCTAssertFalse(m.matches(host: nil, normalizedPath: "/a/", method: "GET"))
        XCTAssertFalse(m.matches(host: nil, normalizedPath: "/A", method: "GET"))
        XCTAssertFalse(m.matches(host: nil, normalizedPath: "/a", method: "POST"))
        XCTAssertFalse(m.matches(host: nil, normalizedPath: "/a", method: "get"), "methods are case-sensitive on the wire")
    }

    func testRegexIsUnanchoredSearch() throws {
        let m = try match(#"{ path_regex: '^/[0-9]+\.[0-9]+/(web-apps|fonts)/|^/healthcheck$' }"#)
        XCTAssertEqual(m.pathRegex?.pattern, #"^/[0-9]+\.[0-9]+/(web-apps|fonts)/|^/healthcheck$"#)
        XCTAssertTrue(m.matches(host: nil, normalizedPath: "/7.5/web-apps/x.js", method: "GET"))
        XCTAssertTrue(m.matches(host: nil, normalizedPath: "/healthcheck", method: "GET"))
        XCTAssertFalse(m.matches(host: nil, normalizedPath: "/healthcheck/x", method: "GET"))
        XCTAssertFalse(m.matches(host: nil, normalizedPath: "/x/7.5/web-apps/", method: "GET"))
        let unanchored = try match(#"{ path_regex: "\\.php$" }"#)
        XCTAssertTrue(unanchored.matches(host: nil, normalizedPath: "/a/b/index.php", method: "GET"))
        XCTAssertTrue(unanchored.matches(host: nil, normalizedPath: "/ünïcode/index.php", method: "GET"))
    }

    func testAllConditionsTogether() throws {
        let m = try match(#"{ host: "*.example.com", path_prefix: /v1/, path_regex: "^/legacy/", methods: [POST] }"#)
        XCTAssertTrue(m.matches(host: "a.example.com", normalizedPath: "/v1/x", method: "POST"))
        XCTAssertTrue(m.matches(host: "a.example.com", normalizedPath: "/legacy/x", method: "POST"))
        XCTAssertFalse(m.matches(host: "a.example.com", normalizedPath: "/v2/x", method: "POST"))
        XCTAssertFalse(m.matches(host: "example.com", normalizedPath: "/v1/x", method: "POST"))
        XCTAssertFalse(m.matches(host: "a.example.com", normalizedPath: "/v1/x", method: "GET"))
    }

    func testRegexIsSafeFromManyThreads() throws {
        let m = try match(#"{ path_regex: "^/doc/[a-z]+/[0-9]+$" }"#)
        let failures = Counter()
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            for j in 0..<2000 {
                let ok = m.matches(host: nil, normalizedPath: "/doc/abc/\(i * 10000 + j)", method: "GET")
                let no = m.matches(host: nil, normalizedPath: "/doc/ABC/\(j)", method: "GET")
                if !ok || no { failures.increment() }
            }
        }
        XCTAssertEqual(failures.value, 0)
    }

    func testMatchingIsFast() throws {
        let text = """
            listen: [{ address: ":8080" }]
            upstreams: { app: { servers: ["http://127.0.0.1:9000"] } }
            routes:
              - { name: a, upstream: app, auth: off, match: { host: "*.example.com", path: [/x, /y], methods: [POST] } }
              - { name: b, upstream: app, auth: off, match: { path_prefix: [/api/v1/, /api/v2/] } }
              - { name: c, upstream: app, auth: off, match: { path_regex: '^(/[0-9]+\\.[0-9]+\\.[0-9]+[.-][A-Za-z0-9]+)?/doc/' } }
            """
        let routes = try XCTUnwrap(ConfigLoader.parse(yaml: text, file: "gw.conf").config?.routes)
        let n = 20000
        let start = Date()
        var hits = 0
        for i in 0..<n {
            let path = i % 2 == 0 ? "/api/v2/items" : "/8.1.0-5/doc/abc/c/"
            for r in routes where r.match.matches(host: "docs.example.com:443", normalizedPath: path, method: "GET") {
                hits += 1; break
            }
        }
        let perRequest = Date().timeIntervalSince(start) / Double(n)
        XCTAssertEqual(hits, n)
        // Generous bound for a debug build on a shared machine; release is far faster.
        print("route matching: \(perRequest * 1e6) µs per request (3 routes, debug build)")
        XCTAssertLessThan(perRequest, 0.0002, "\(perRequest * 1e6) µs per request")
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func increment() { lock.lock(); n += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return n }
}
