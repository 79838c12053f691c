import XCTest
@testable import HTTPCore

final class SerializeTests: XCTestCase {
    func testSerializeRequestHead() throws {
        var out: [UInt8] = [0x41]
        serializeRequestHead(method: "POST", target: "/a?b=c", version: .http11,
                             fields: HTTPFields([HTTPField(name: "Host", value: "h"), HTTPField(name: "X-Y", value: "z w")]),
                             into: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "APOST /a?b=c HTTP/1.1\r\nHost: h\r\nX-Y: z w\r\n\r\n")
        out = []
        serializeRequestHead(method: "GET", target: "/", version: .http10, fields: HTTPFields(), into: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "GET / HTTP/1.0\r\n\r\n")
        out = []
        serializeRequestHead(method: "GET", target: "/", fields: HTTPFields([HTTPField(name: "Host", value: "x")]), into: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    }

    func testRequestRoundTrip() throws {
        let fields = HTTPFields([HTTPField(name: "Host", value: "example.com"), HTTPField(name: "X-U", value: "caf\u{e9}"),
                                 HTTPField(name: "Content-Length", value: "2")])
        var out: [UInt8] = []
        serializeRequestHead(method: "PUT", target: "/x/y", version: .http11, fields: fields, into: &out)
        out += bytes("ok")
        let r = try driveRequests(out)
        let h = try XCTUnwrap(r.records[0].head)
        XCTAssertEqual(h.method, "PUT")
        XCTAssertEqual(h.target, "/x/y")
        XCTAssertEqual(h.fields, fields)
        XCTAssertEqual(r.records[1], .body(bytes("ok")))
    }

    func testSerializeResponseHead() {
        var out: [UInt8] = []
        serializeResponseHead(status: 404, reason: "Not Found", fields: HTTPFields([HTTPField(name: "Content-Length", value: "0")]), into: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        out = []
        serializeResponseHead(status: 431, fields: HTTPFields(), into: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "HTTP/1.1 431 Request Header Fields Too Large\r\n\r\n")
        out = []
        serializeResponseHead(status: 299, fields: HTTPFields(), into: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "HTTP/1.1 299 \r\n\r\n")
        out = []
        serializeResponseHead(status: 200, reason: "Fine", fields: HTTPFields(), into: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "HTTP/1.1 200 Fine\r\n\r\n")
    }

    func testReasonPhrases() {
        XCTAssertEqual(reasonPhrase(for: 200), "OK")
        XCTAssertEqual(reasonPhrase(for: 400), "Bad Request")
        XCTAssertEqual(reasonPhrase(for: 401), "Unauthorized")
        XCTAssertEqual(reasonPhrase(for: 403), "Forbidden")
        XCTAssertEqual(reasonPhrase(for: 502), "Bad Gateway")
        XCTAssertEqual(reasonPhrase(for: 505), "HTTP Version Not Supported")
        XCTAssertEqual(reasonPhrase(for: 799), "")
    }

    func testChunkedEncoder() {
        var out: [UInt8] = []
        ChunkedEncoder.appendChunk(bytes("hello"), into: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "5\r\nhello\r\n")
        out = []
        ChunkedEncoder.appendChunk([UInt8](), into: &out)
        XCTAssertEqual(out, [])
        for (n, hex) in [(1, "1"), (15, "f"), (16, "10"), (255, "ff"), (4096, "1000"), (65535, "ffff"), (100_000, "186a0")] {
            out = []
            ChunkedEncoder.appendChunk([UInt8](repeating: 0x61, count: n), into: &out)
            XCTAssertEqual(Array(out.prefix(hex.utf8.count + 2)), bytes(hex + "\r\n"), "\(n)")
            XCTAssertEqual(out.count, hex.utf8.count + 2 + n + 2)
            XCTAssertEqual(Array(out.suffix(2)), [13, 10])
        }
        out = []
        ChunkedEncoder.appendLastChunk(trailers: HTTPFields(), into: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "0\r\n\r\n")
        out = []
        ChunkedEncoder.appendLastChunk(trailers: HTTPFields([HTTPField(name: "X-Sum", value: "1")]), into: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "0\r\nX-Sum: 1\r\n\r\n")
        out = []
        ChunkedEncoder.appendChunkHeader(size: 0x2a, into: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "2a\r\n")
    }

    func testChunkedEncoderRoundTrip() throws {
        var out: [UInt8] = []
        serializeResponseHead(status: 200, fields: HTTPFields([HTTPField(name: "Transfer-Encoding", value: "chunked")]), into: &out)
        let pieces = [bytes("a"), [UInt8](repeating: 0x42, count: 300), bytes("tail")]
        for piece in pieces { piece.withUnsafeBytes { ChunkedEncoder.appendChunk($0, into: &out) } }
        ChunkedEncoder.appendLastChunk(trailers: HTTPFields([HTTPField(name: "T", value: "v")]), into: &out)
        for step in [0, 1, 50] {
            let r = try driveResponses(out, step: step)
            XCTAssertEqual(r.records.count, 3)
            XCTAssertEqual(r.records[1], .body(pieces.flatMap { $0 }))
            XCTAssertEqual(r.records[2], .end(HTTPFields([HTTPField(name: "T", value: "v")])))
        }
    }

    func testFieldValidators() {
        XCTAssertTrue(isValidFieldName("X-Foo"))
        XCTAssertFalse(isValidFieldName(""))
        XCTAssertFalse(isValidFieldName("X Foo"))
        XCTAssertFalse(isValidFieldName("X:"))
        XCTAssertTrue(isValidFieldValue("a b\tc"))
        XCTAssertTrue(isValidFieldValue(""))
        XCTAssertFalse(isValidFieldValue("a\r\nb"))
        XCTAssertFalse(isValidFieldValue("a\u{0}"))
        XCTAssertFalse(isValidFieldValue(" a"))
    }
}

final class PathTests: XCTestCase {
    func testNormalizedPath() {
        let cases: [(String, String?)] = [
            ("/", "/"),
            ("/a/b", "/a/b"),
            ("/a/b/", "/a/b/"),
            ("/a/b?x=1&y=/../", "/a/b"),
            ("//a///b//", "/a/b/"),
            ("/a/./b", "/a/b"),
            ("/a/../b", "/b"),
            ("/a/b/..", "/a/"),
            ("/a/b/.", "/a/b/"),
            ("/a/b/../..", "/"),
            ("/..", "/"),
            ("/../../etc/passwd", "/etc/passwd"),
            ("/a/..//../b", "/b"),
            ("/a/...", "/a/..."),
            ("/a/.b/..c", "/a/.b/..c"),
            ("/%2e%2e/admin", "/admin"),
            ("/api/%2E%2e/admin", "/admin"),
            ("/api/.%2e/admin", "/admin"),
            ("/%61%62%7e%2D%5f%2E", "/ab~-_."),
            ("/a%2fb", "/a%2Fb"),
            ("/a%2F..%2Fb", "/a%2F..%2Fb"),
            ("/a%20b", "/a%20b"),
            ("/%c3%a9", "/%C3%A9"),
            ("/%zz", nil),
            ("/%2", nil),
            ("/abc%", nil),
            ("*", "*"),
            ("http://example.com/a/../b?q", "/b"),
            ("HTTPS://example.com:8443//x", "/x"),
            ("http://example.com", "/"),
            ("http://example.com?x=1", "/"),
            ("http://user@example.com/p", "/p"),
            ("example.com:443", nil),
            ("a/b", nil),
            ("", nil),
            ("/a b", nil),
            ("/a#frag", nil),
            ("/a?b#frag", "/a"),
            ("/Case/Kept;p=1", "/Case/Kept;p=1"),
        ]
        for (input, expected) in cases {
            XCTAssertEqual(normalizedPath(ofTarget: input), expected, input)
        }
    }

    func testSplitTarget() {
        var s = splitTarget("/a/b?x=1&y=2")
        XCTAssertEqual(s.path, "/a/b"); XCTAssertEqual(s.query, "x=1&y=2")
        s = splitTarget("/a")
        XCTAssertEqual(s.path, "/a"); XCTAssertNil(s.query)
        s = splitTarget("/a?")
        XCTAssertEqual(s.path, "/a"); XCTAssertEqual(s.query, "")
        s = splitTarget("/a?b?c")
        XCTAssertEqual(s.path, "/a"); XCTAssertEqual(s.query, "b?c")
    }
}
