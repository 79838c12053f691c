import XCTest
@testable import HTTPCore

final class ResponseParserTests: XCTestCase {

    func testContentLengthResponse() throws {
        let s = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello"
        let r = try driveResponses(s)
        XCTAssertEqual(r.records.count, 3)
        let h = try XCTUnwrap(r.records[0].head)
        XCTAssertEqual(h.version, .http11)
        XCTAssertEqual(h.status, 200)
        XCTAssertEqual(h.reason, "OK")
        XCTAssertEqual(h.framing, .contentLength(5))
        XCTAssertTrue(h.keepAlive)
        XCTAssertEqual(h.fields["content-type"], "text/plain")
        XCTAssertEqual(r.records[1], .body(bytes("hello")))
        XCTAssertEqual(r.records[2], .end(HTTPFields()))
        for step in [1, 2, 7] { XCTAssertEqual(try driveResponses(s, step: step).records, r.records) }
    }

    func testStatusLineVariants() throws {
        var r = try driveResponses("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(r.records[0].head?.status, 200)
        XCTAssertEqual(r.records[0].head?.reason, "")
        r = try driveResponses("HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(r.records[0].head?.reason, "")
        r = try driveResponses("HTTP/1.1 599 Some  Custom\tReason\r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(r.records[0].head?.status, 599)
        XCTAssertEqual(r.records[0].head?.reason, "Some  Custom\tReason")
        let raw = bytes("HTTP/1.1 200 Gr") + [0xFC] + bytes("n\r\nContent-Length: 0\r\n\r\n")
        let r2 = try driveResponses(raw)
        XCTAssertEqual(r2.records[0].head?.reason, "Gr\u{fc}n")
    }

    func testStatusLineRejects() {
        assertResponseError(.invalidStatusLine, "HTTP/1.1 20 OK\r\n\r\n")
        assertResponseError(.invalidStatusLine, "HTTP/1.1 2000 OK\r\n\r\n")
        assertResponseError(.invalidStatusLine, "HTTP/1.1 200OK\r\n\r\n")
        assertResponseError(.invalidStatusLine, "HTTP/1.1 099 Low\r\n\r\n")
        assertResponseError(.invalidStatusLine, "HTTP/1.1 2x0 OK\r\n\r\n")
        assertResponseError(.invalidStatusLine, "HTTP/1.1  200 OK\r\n\r\n")
        assertResponseError(.invalidStatusLine, "HTTPS/1.1 200 OK\r\n\r\n")
        assertResponseError(.invalidStatusLine, "http/1.1 200 OK\r\n\r\n")
        assertResponseError(.invalidStatusLine, "HTTP/1.1\r\n\r\n")
        assertResponseError(.invalidStatusLine, "HTTP/1.1 200 O\u{01}K\r\n\r\n")
        assertResponseError(.invalidStatusLine, "\r\nHTTP/1.1 200 OK\r\n\r\n")
        assertResponseError(.unsupportedVersion, "HTTP/2.0 200 OK\r\n\r\n")
        assertResponseError(.unsupportedVersion, "HTTP/1.2 200 OK\r\n\r\n")
        assertResponseError(.bareLF, "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n")
        assertResponseError(.obsFold, "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n")
        assertResponseError(.invalidFieldValue, "HTTP/1.1 200 OK\r\nX: a\u{00}\r\n\r\n")
    }

    func testHeadResponseHasNoBody() throws {
        var p = HTTPResponseParser()
        p.expectResponse(toMethod: "HEAD")
        let s = bytes("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n")
        guard case .head(let h, let c) = try p.parse(s + bytes("HTTP/1.1")) else { return XCTFail() }
        XCTAssertEqual(h.framing, BodyFraming.none)
        XCTAssertEqual(h.fields["Content-Length"], "1234")
        XCTAssertTrue(h.keepAlive)
        XCTAssertEqual(c, s.count)
        guard case .end(_, 0) = try p.parse(bytes("HTTP/1.1")) else { return XCTFail() }
        // Expectation reverts: a following GET response has its body.
        p.expectResponse(toMethod: "GET")
        let next = bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")
        guard case .head(let h2, let c2) = try p.parse(next) else { return XCTFail() }
        XCTAssertEqual(h2.framing, .contentLength(2))
        guard case .body(let r, _) = try p.parse(Array(next[c2...])) else { return XCTFail() }
        XCTAssertEqual(r, 0..<2)
    }

    func testHeadResponseIgnoresBrokenFraming() throws {
        let r = try driveResponses("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", method: "HEAD")
        XCTAssertEqual(r.records.count, 2)
        XCTAssertEqual(r.records[0].head?.framing, BodyFraming.none)
    }

    func testNoBodyStatuses() throws {
        for (status, extra) in [(204, ""), (304, "Content-Length: 99\r\n"), (204, "Transfer-Encoding: chunked\r\n")] {
            let s = "HTTP/1.1 \(status) X\r\n\(extra)\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz"
            let r = try driveResponses(s)
            XCTAssertEqual(r.records.count, 5, "\(status)")
            XCTAssertEqual(r.records[0].head?.status, status)
            XCTAssertEqual(r.records[0].head?.framing, BodyFraming.none)
            XCTAssertEqual(r.records[1], .end(HTTPFields()))
            XCTAssertEqual(r.records[2].head?.status, 200)
            XCTAssertEqual(r.records[3], .body(bytes("z")))
            XCTAssertEqual(r.records[4], .end(HTTPFields()))
        }
    }

    func testInterimThenFinal() throws {
        let s = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
            + "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
        var p = HTTPResponseParser()
        p.expectResponse(toMethod: "HEAD")
        var buf = bytes(s)
        guard case .head(let h1, let c1) = try p.parse(buf) else { return XCTFail() }
        XCTAssertEqual(h1.status, 100); XCTAssertEqual(h1.framing, BodyFraming.none)
        buf.removeFirst(c1)
        guard case .head(let h2, let c2) = try p.parse(buf) else { return XCTFail() }
        XCTAssertEqual(h2.status, 103); XCTAssertEqual(h2.fields["link"], "</s.css>; rel=preload")
        buf.removeFirst(c2)
        // Still answering HEAD: no body even though Content-Length is present.
        guard case .head(let h3, let c3) = try p.parse(buf) else { return XCTFail() }
        XCTAssertEqual(h3.status, 200); XCTAssertEqual(h3.framing, BodyFraming.none)
        buf.removeFirst(c3)
        guard case .end(_, 0) = try p.parse(buf) else { return XCTFail() }

        let r = try driveResponses(s)
        XCTAssertEqual(r.records.map { $0.head?.status }, [100, 103, 200, nil, nil])
        XCTAssertEqual(r.records[3], .body(bytes("abc")))
        for step in [1, 4] { XCTAssertEqual(try driveResponses(s, step: step).records, r.records) }
    }

    func testInterimThenEOFIsPremature() throws {
        var p = HTTPResponseParser()
        guard case .head(let h, _) = try p.parse(bytes("HTTP/1.1 100 Continue\r\n\r\n")) else { return XCTFail() }
        XCTAssertEqual(h.status, 100)
        XCTAssertThrowsError(try p.parseEOF()) { XCTAssertEqual($0 as? HTTPParseError, .prematureEOF) }
    }

    func testSwitchingProtocols() throws {
        var p = HTTPResponseParser()
        let s = bytes("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
        guard case .head(let h, let c) = try p.parse(s + [0x81, 0x00]) else { return XCTFail() }
        XCTAssertEqual(h.status, 101)
        XCTAssertEqual(h.framing, BodyFraming.none)
        XCTAssertEqual(c, s.count)
        guard case .end(_, 0) = try p.parse([0x81, 0x00]) else { return XCTFail() }
    }

    func testConnectSuccessHasNoBody() throws {
        let r = try driveResponses("HTTP/1.1 200 Connection established\r\n\r\n", method: "CONNECT")
        XCTAssertEqual(r.records.count, 2)
        XCTAssertEqual(r.records[0].head?.framing, BodyFraming.none)
        // A failed CONNECT has a normal body.
        let r2 = try driveResponses("HTTP/1.1 407 Auth\r\nContent-Length: 1\r\n\r\nx", method: "CONNECT")
        XCTAssertEqual(r2.records[0].head?.framing, .contentLength(1))
    }

    func testCloseDelimitedBody() throws {
        var p = HTTPResponseParser()
        p.expectResponse(toMethod: "GET")
        let head = bytes("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n")
        guard case .head(let h, let c) = try p.parse(head + bytes("abc")) else { return XCTFail() }
        XCTAssertEqual(h.framing, .untilClose)
        XCTAssertFalse(h.keepAlive)
        XCTAssertEqual(c, head.count)
        guard case .body(let r, let c2) = try p.parse(bytes("abc")) else { return XCTFail() }
        XCTAssertEqual(r, 0..<3); XCTAssertEqual(c2, 3)
        guard case .needMore(0) = try p.parse([UInt8]()) else { return XCTFail() }
        guard case .body(let r3, 4) = try p.parse(bytes("defg")) else { return XCTFail() }
        XCTAssertEqual(r3, 0..<4)
        guard case .end(let t, 0)? = try p.parseEOF() else { return XCTFail() }
        XCTAssertEqual(t.count, 0)
        XCTAssertNil(try p.parseEOF())
    }

    func testHTTP10Response() throws {
        let r = try driveResponses("HTTP/1.0 200 OK\r\n\r\nall of it")
        let h = try XCTUnwrap(r.records[0].head)
        XCTAssertEqual(h.version, .http10)
        XCTAssertEqual(h.framing, .untilClose)
        XCTAssertFalse(h.keepAlive)
        XCTAssertEqual(r.records[1], .body(bytes("all of it")))
        let r2 = try driveResponses("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(r2.records[0].head?.keepAlive, true)
        let r3 = try driveResponses("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(r3.records[0].head?.keepAlive, false)
    }

    func testParseEOFCases() throws {
        // Idle: clean close.
        var p = HTTPResponseParser()
        XCTAssertNil(try p.parseEOF())
        // Partial head.
        p = HTTPResponseParser()
        guard case .needMore(0) = try p.parse(bytes("HTTP/1.1 200 OK\r\n")) else { return XCTFail() }
        XCTAssertThrowsError(try p.parseEOF()) { XCTAssertEqual($0 as? HTTPParseError, .prematureEOF) }
        // Partial Content-Length body.
        p = HTTPResponseParser()
        guard case .head = try p.parse(bytes("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")) else { return XCTFail() }
        guard case .body = try p.parse(bytes("12345")) else { return XCTFail() }
        XCTAssertThrowsError(try p.parseEOF()) { XCTAssertEqual($0 as? HTTPParseError, .prematureEOF) }
        // Partial chunked body.
        p = HTTPResponseParser()
        guard case .head = try p.parse(bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")) else { return XCTFail() }
        guard case .body = try p.parse(bytes("5\r\nhello")) else { return XCTFail() }
        XCTAssertThrowsError(try p.parseEOF()) { XCTAssertEqual($0 as? HTTPParseError, .prematureEOF) }
        // Complete CL body whose .end was not yet collected: EOF completes it.
        p = HTTPResponseParser()
        guard case .head = try p.parse(bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n")) else { return XCTFail() }
        guard case .body = try p.parse(bytes("ok")) else { return XCTFail() }
        guard case .end? = try p.parseEOF() else { return XCTFail() }
        // Complete message, then EOF: clean.
        p = HTTPResponseParser()
        _ = try p.parse(bytes("HTTP/1.1 204 No Content\r\n\r\n"))
        guard case .end(_, 0) = try p.parse([UInt8]()) else { return XCTFail() }
        XCTAssertNil(try p.parseEOF())
        // Unconsumed leftover bytes after the last message, then EOF: premature.
        p = HTTPResponseParser()
        _ = try p.parse(bytes("HTTP/1.1 204 No Content\r\n\r\nHT"))
        guard case .end = try p.parse(bytes("HT")) else { return XCTFail() }
        guard case .needMore(0) = try p.parse(bytes("HT")) else { return XCTFail() }
        XCTAssertThrowsError(try p.parseEOF()) { XCTAssertEqual($0 as? HTTPParseError, .prematureEOF) }
    }

    func testChunkedResponseDripFeed() throws {
        let s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nExpires: never\r\n\r\n"
        let r = try driveResponses(s)
        XCTAssertEqual(r.records.count, 3)
        XCTAssertEqual(r.records[1], .body(bytes("Wikipedia in\r\n\r\nchunks.")))
        XCTAssertEqual(r.records[2], .end(HTTPFields([HTTPField(name: "Expires", value: "never")])))
        for step in [1, 2, 3, 11] { XCTAssertEqual(try driveResponses(s, step: step).records, r.records, "step \(step)") }
    }

    func testResponseFramingRejects() {
        assertResponseError(.contentLengthWithTransferEncoding,
                            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")
        assertResponseError(.transferEncodingNotChunkedLast, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n")
        assertResponseError(.unsupportedTransferEncoding, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
        assertResponseError(.transferEncodingInHTTP10, "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        assertResponseError(.conflictingContentLength, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
        assertResponseError(.invalidContentLength, "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n")
        assertResponseError(.badChunkSize, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nq\r\n")
        assertResponseError(.badChunkTerminator, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n")
    }

    func testResponseLimits() {
        let limits = HTTPParserLimits(maxHeaderBytes: 40, maxFieldCount: 1, maxTrailerBytes: 16)
        assertResponseError(.headerTooLarge, "HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: 40), limits: limits)
        assertResponseError(.tooManyFields, "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n", limits: limits)
        assertResponseError(.trailerTooLarge,
                            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: aaaaaaaaaaaaaaaaaaaa\r\n\r\n",
                            limits: HTTPParserLimits(maxHeaderBytes: 4096, maxFieldCount: 10, maxTrailerBytes: 16))
    }

    func testResponseHostNotRequired() throws {
        let r = try driveResponses("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(r.records.count, 2)
    }

    func testPipelinedResponsesWithMethods() throws {
        // GET (CL), HEAD (CL ignored), GET (chunked), 304, GET (CL 0)
        let methods = ["GET", "HEAD", "GET", "GET", "GET"]
        let s = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
            + "HTTP/1.1 200 OK\r\nContent-Length: 300\r\n\r\n"
            + "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n"
            + "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n"
            + "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
        for step in [0, 1, 9] {
            var p = HTTPResponseParser()
            var i = 0
            p.expectResponse(toMethod: methods[i])
            let r = try drive(bytes(s), step: step) { buf in
                let ev = try p.parse(buf)
                if case .end = ev { i += 1; if i < methods.count { p.expectResponse(toMethod: methods[i]) } }
                return ev
            }
            XCTAssertEqual(i, 5)
            XCTAssertEqual(r.leftover, [])
            XCTAssertEqual(r.records.compactMap { $0.head?.framing },
                           [.contentLength(3), BodyFraming.none, .chunked, BodyFraming.none, .contentLength(0)])
            let bodies: [[UInt8]] = r.records.compactMap { if case .body(let b) = $0 { return b }; return nil }
            XCTAssertEqual(bodies, [bytes("abc"), bytes("de")])
        }
    }
}
