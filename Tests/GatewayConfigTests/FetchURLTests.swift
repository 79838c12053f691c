import XCTest
@testable import GatewayConfig

/// `FetchURL`: the one parser behind `check` and the remote-JWKS fetcher.
final class FetchURLTests: XCTestCase {
    func testParts() throws {
        let u = try XCTUnwrap(FetchURL("https://id.example.com/.well-known/jwks.json?v=2#frag"))
        XCTAssertTrue(u.tls)
        XCTAssertEqual(u.host, "id.example.com")
        XCTAssertEqual(u.port, 443)
        XCTAssertEqual(u.requestTarget, "/.well-known/jwks.json?v=2")
        XCTAssertEqual(u.authority, "id.example.com")
        let v = try XCTUnwrap(FetchURL("HTTP://[::1]:8080?x=1"))
        XCTAssertFalse(v.tls)
        XCTAssertEqual(v.host, "::1")
        XCTAssertEqual(v.port, 8080)
        XCTAssertEqual(v.requestTarget, "/?x=1")
        XCTAssertEqual(v.authority, "[::1]:8080")
        XCTAssertEqual(FetchURL("http://127.0.0.1")?.requestTarget, "/")
    }

    func testRefused() {
        for bad in ["ftp://h/x", "https://", "https:///x", "https://user:pw@h/x", "https://h:0/x", "https://h:99999/x",
                    "https://::1/x", "https://bad_host!/x", "id.example.com/jwks"] {
            XCTAssertNil(FetchURL(bad), bad)
        }
    }

    func testCheckUsesTheSameRules() {
        let yaml = """
        listen: [{ address: "127.0.0.1:8080" }]
        keys:
          remote: { algorithms: [RS256], jwks: { url: "https://user@id.example.com/jwks" } }
        upstreams: { u: { servers: ["http://127.0.0.1:9"] } }
        routes:
          - { name: r, match: { path_prefix: / }, upstream: u, auth: off }
        """
        let (config, diags) = ConfigLoader.parse(yaml: yaml, file: "gw.conf")
        XCTAssertNil(config)
        XCTAssertEqual(diags.map(\.description),
                       [#"gw.conf:3:47: keys.remote.jwks.url: invalid JWKS URL "https://user@id.example.com/jwks" (expected https://...)"#])
    }
}
