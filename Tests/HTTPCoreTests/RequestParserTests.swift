import XCTest
@testable import HTTPCore

final class RequestParserTests: XCTestCase {

    // MARK: - Basics

    func testSimpleGet() throws {
        let s = "GET /index.html?x=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\nX-Empty:\r\n\r\n"
        var p = HTTPRequestParser()
        let ev = try p.parse(bytes(s))
        guard case .head(let h, let c) = ev else { return XCTFail("\(ev)") }
        XCTAssertEqual(c, s.utf8.count)
        XCTAssertEqual(h.method, "GET")
        XCTAssertEqual(h.target, "/index.html?x=1")
        XCTAssertEqual(h.version, .http11)
        XCTAssertEqual(h.fields.fields, [HTTPField(name: "Host", value: "example.com"),
                                         HTTPField(name: "Accept", value: "*/*"),
                                         HTTPField(name: "X-Empty", value: "")])
        XCTAssertEqual(h.fields["host"], "example.com")
        XCTAssertEqual(h.framing, BodyFraming.none)
        XCTAssertTrue(h.keepAlive)
        XCTAssertFalse(h.expectContinue)
        XCTAssertNil(h.upgrade)
        // .end follows immediately with nothing consumed.
        let ev2 = try p.parse([UInt8]())
        guard case .end(let t, let c2) = ev2 else { return XCTFail("\(ev2)") }
        XCTAssertEqual(t.count, 0)
        XCTAssertEqual(c2, 0)
        // Then idle: needMore.
        let ev3 = try p.parse([UInt8]())
        guard case .needMore(0) = ev3 else { return XCTFail("\(ev3)") }
        XCTAssertTrue(p.isIdle)
    }

    func testNeedMoreUntilHeadComplete() throws {
        var p = HTTPRequestParser()
        let part = bytes("GET / HTTP/1.1\r\nHost: a\r\n")
        guard case .needMore(0) = try p.parse(part) else { return XCTFail() }
        guard case .needMore(0) = try p.parse(part + bytes("\r")) else { return XCTFail() }
        guard case .head(let h, let c) = try p.parse(part + bytes("\r\nGET")) else { return XCTFail() }
        XCTAssertEqual(c, part.count + 2)
        XCTAssertEqual(h.fields["Host"], "a")
    }

    func testOWSTrimmingAndCaseKeeping() throws {
        let h = try requestHead("GET / HTTP/1.1\r\nhOsT: \t example.com \t \r\nX-A:b c\r\nX-Tab:\ta\tb\t\r\n\r\n")
        XCTAssertEqual(h.fields.fields[0].name, "hOsT")
        XCTAssertEqual(h.fields["Host"], "example.com")
        XCTAssertEqual(h.fields["x-a"], "b c")
        XCTAssertEqual(h.fields["X-TAB"], "a\tb")
    }

    func testAllTcharMethodAndFieldName() throws {
        let h = try requestHead("M!#$%&'*+-.^_`|~09az HTTP://x/y HTTP/1.1\r\nHost: h\r\nN!#$%&'*+-.^_`|~09AZ: v\r\n\r\n")
        XCTAssertEqual(h.method, "M!#$%&'*+-.^_`|~09az")
        XCTAssertEqual(h.target, "HTTP://x/y")
        XCTAssertEqual(h.fields.fields[1].name, "N!#$%&'*+-.^_`|~09AZ")
    }

    func testObsTextValues() throws {
        // Valid UTF-8 decodes as UTF-8.
        let h = try requestHead("GET / HTTP/1.1\r\nHost: h\r\nX-U: caf\u{e9} \u{1F600}\r\n\r\n")
        XCTAssertEqual(h.fields["X-U"], "caf\u{e9} \u{1F600}")
        // Invalid UTF-8 decodes as ISO-8859-1.
        var raw = bytes("GET / HTTP/1.1\r\nHost: h\r\nX-L: caf")
        raw += [0xE9, 0x20, 0xFF, 0x80]
        raw += bytes("\r\n\r\n")
        var p = HTTPRequestParser()
        guard case .head(let h2, _) = try p.parse(raw) else { return XCTFail() }
        XCTAssertEqual(h2.fields["X-L"], "caf\u{e9} \u{ff}\u{80}")
        XCTAssertEqual(Array(h2.fields["X-L"]!.unicodeScalars.map { $0.value }), [0x63, 0x61, 0x66, 0xE9, 0x20, 0xFF, 0x80])
    }

    func testHTTP10() throws {
        var h = try requestHead("GET / HTTP/1.0\r\n\r\n")
        XCTAssertEqual(h.version, .http10)
        XCTAssertFalse(h.keepAlive)
        h = try requestHead("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
        XCTAssertTrue(h.keepAlive)
        h = try requestHead("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n")
        XCTAssertFalse(h.keepAlive)
    }

    func testConnectionTokens() throws {
        XCTAssertFalse(try requestHead("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").keepAlive)
        XCTAssertFalse(try requestHead("GET / HTTP/1.1\r\nHost: h\r\nConnection: foo ,CLOSE\r\n\r\n").keepAlive)
        XCTAssertFalse(try requestHead("GET / HTTP/1.1\r\nHost: h\r\nConnection: foo\r\nConnection: close\r\n\r\n").keepAlive)
        XCTAssertTrue(try requestHead("GET / HTTP/1.1\r\nHost: h\r\nConnection: closed\r\n\r\n").keepAlive)
        XCTAssertTrue(try requestHead("GET / HTTP/1.1\r\nHost: h\r\nX-Connection: close\r\n\r\n").keepAlive)
    }

    func testExpectContinue() throws {
        XCTAssertTrue(try requestHead("PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n").expectContinue)
        XCTAssertFalse(try requestHead("PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continuex\r\n\r\n").expectContinue)
    }

    func testUpgrade() throws {
        let h = try requestHead("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n")
        XCTAssertEqual(h.upgrade, "websocket")
        XCTAssertNil(try requestHead("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n").upgrade)
        XCTAssertNil(try requestHead("GET /ws HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n\r\n").upgrade)
    }

    func testLeadingEmptyLinesSkipped() throws {
        let r = try driveRequests("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n")
        XCTAssertEqual(r.records.count, 2)
        XCTAssertEqual(r.records[0].head?.target, "/")
        let r1 = try driveRequests("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", step: 1)
        XCTAssertEqual(r1.records, r.records)
        // Also between pipelined requests.
        let r2 = try driveRequests("GET /a HTTP/1.1\r\nHost: h\r\n\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n", step: 1)
        XCTAssertEqual(r2.records.compactMap { $0.head?.target }, ["/a", "/b"])
        assertRequestError(.invalidRequestLine, String(repeating: "\r\n", count: 9) + "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    }

    // MARK: - Request line rejects

    func testRequestLineRejects() {
        assertRequestError(.invalidRequestLine, "GET  / HTTP/1.1\r\nHost: h\r\n\r\n")
        assertRequestError(.invalidRequestLine, " GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        assertRequestError(.invalidRequestLine, "GET\r\nHost: h\r\n\r\n")
        assertRequestError(.invalidRequestLine, "GET /\r\nHost: h\r\n\r\n")
        assertRequestError(.invalidMethod, "G(T / HTTP/1.1\r\nHost: h\r\n\r\n")
        assertRequestError(.invalidMethod, "GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n")
        assertRequestError(.invalidMethod, "\u{7F}GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        assertRequestError(.invalidTarget, "GET /a\u{7F} HTTP/1.1\r\nHost: h\r\n\r\n")
        assertRequestError(.invalidTarget, "GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n")
        assertRequestError(.invalidTarget, "GET /\r HTTP/1.1\r\nHost: h\r\n\r\n")
        assertRequestError(.invalidTarget, bytes("GET /") + [0xC3, 0xA9] + bytes(" HTTP/1.1\r\nHost: h\r\n\r\n"))
        assertRequestError(.invalidVersion, "GET / HTTP/1.1 \r\nHost: h\r\n\r\n")
        assertRequestError(.invalidVersion, "GET / http/1.1\r\nHost: h\r\n\r\n")
        assertRequestError(.invalidVersion, "GET / HTTP/1.x\r\nHost: h\r\n\r\n")
        assertRequestError(.invalidVersion, "GET / HTTP/11\r\nHost: h\r\n\r\n")
        assertRequestError(.invalidVersion, "GET / HTTP/1.10\r\nHost: h\r\n\r\n")
        assertRequestError(.invalidVersion, "GET / a b\r\nHost: h\r\n\r\n")
        assertRequestError(.unsupportedVersion, "GET / HTTP/2.0\r\nHost: h\r\n\r\n")
        assertRequestError(.unsupportedVersion, "GET / HTTP/1.2\r\nHost: h\r\n\r\n")
        assertRequestError(.unsupportedVersion, "GET / HTTP/0.9\r\n\r\n")
    }

    func testBareLF() {
        assertRequestError(.bareLF, "GET / HTTP/1.1\nHost: h\r\n\r\n")
        assertRequestError(.bareLF, "GET / HTTP/1.1\r\nHost: h\n\r\n")
        assertRequestError(.bareLF, "GET / HTTP/1.1\r\nHost: h\r\n\n")
        assertRequestError(.bareLF, "\nGET / HTTP/1.1\r\nHost: h\r\n\r\n")
        assertRequestError(.bareLF, "\r\n\nGET / HTTP/1.1\r\nHost: h\r\n\r\n")
        // Detected before the head is complete.
        assertRequestError(.bareLF, "GET / HTTP/1.1\r\nHost: h\nX: y")
    }

    // MARK: - Field rejects

    func testFieldRejects() {
        assertRequestError(.obsFold, "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n")
        assertRequestError(.obsFold, "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n")
        assertRequestError(.obsFold, "GET / HTTP/1.1\r\n Host: h\r\n\r\n")
        assertRequestError(.whitespaceBeforeColon, "GET / HTTP/1.1\r\nHost : h\r\n\r\n")
        assertRequestError(.whitespaceBeforeColon, "GET / HTTP/1.1\r\nHost\t: h\r\n\r\n")
        assertRequestError(.invalidFieldName, "GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n")
        assertRequestError(.invalidFieldName, "GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n")
        assertRequestError(.invalidFieldName, "GET / HTTP/1.1\r\nHost: h\r\nX(y): v\r\n\r\n")
        assertRequestError(.invalidFieldName, "GET / HTTP/1.1\r\nHost: h\r\nX Y: v\r\n\r\n")
        assertRequestError(.invalidFieldName, bytes("GET / HTTP/1.1\r\nHost: h\r\nX") + [0xC3, 0xA9] + bytes(": v\r\n\r\n"))
        assertRequestError(.invalidFieldValue, bytes("GET / HTTP/1.1\r\nHost: h\r\nX: a") + [0] + bytes("b\r\n\r\n"))
        assertRequestError(.invalidFieldValue, "GET / HTTP/1.1\r\nHost: h\r\nX: a\u{7F}\r\n\r\n")
        assertRequestError(.invalidFieldValue, "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n")
        assertRequestError(.invalidFieldValue, "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\r\n\r\n")
        assertRequestError(.invalidFieldValue, "GET / HTTP/1.1\r\nHost: h\r\nX: \u{01}\r\n\r\n")
        assertRequestError(.invalidFieldValue, "GET / HTTP/1.1\r\nHost: h\r\nX: \u{1B}[31m\r\n\r\n")
    }

    func testHostRules() throws {
        assertRequestError(.missingHost, "GET / HTTP/1.1\r\nX: y\r\n\r\n")
        assertRequestError(.multipleHost, "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n")
        assertRequestError(.multipleHost, "GET / HTTP/1.0\r\nHost: a\r\nHOST: b\r\n\r\n")
        XCTAssertEqual(try requestHead("GET / HTTP/1.1\r\nHost:\r\n\r\n").fields["host"], "")
        XCTAssertEqual(try requestHead("GET / HTTP/1.0\r\n\r\n").fields.count, 0)
    }

    // MARK: - Limits

    func testHeaderTooLarge() throws {
        let limits = HTTPParserLimits(maxHeaderBytes: 64, maxFieldCount: 100, maxTrailerBytes: 64)
        let base = "GET / HTTP/1.1\r\nHost: h\r\nX: "   // 28 bytes
        // Exactly at the limit (64 bytes incl. final CRLFCRLF) is fine.
        let exact = base + String(repeating: "a", count: 64 - base.utf8.count - 4) + "\r\n\r\n"
        XCTAssertEqual(exact.utf8.count, 64)
        XCTAssertEqual(try driveRequests(exact, limits: limits).records.count, 2)
        XCTAssertEqual(try driveRequests(exact, step: 1, limits: limits).records.count, 2)
        // One more byte is too large.
        let over = base + String(repeating: "a", count: 64 - base.utf8.count - 3) + "\r\n\r\n"
        assertRequestError(.headerTooLarge, over, limits: limits)
        // Detected without a terminator, as soon as the limit is reached.
        var p = HTTPRequestParser(limits: limits)
        let noEnd = bytes(base + String(repeating: "a", count: 35))   // 63 bytes
        guard case .needMore(0) = try p.parse(noEnd) else { return XCTFail() }
        XCTAssertThrowsError(try p.parse(noEnd + bytes("a"))) { XCTAssertEqual($0 as? HTTPParseError, .headerTooLarge) }
        XCTAssertEqual(HTTPParseError.headerTooLarge.status, 431)
    }

    func testDefaultHeaderLimitEndlessHeader() throws {
        var p = HTTPRequestParser()
        var buf = bytes("GET / HTTP/1.1\r\nHost: h\r\nX: ")
        let chunk = [UInt8](repeating: 0x61, count: 4096)
        var thrown: HTTPParseError?
        for _ in 0..<40 {
            buf += chunk
            do { _ = try p.parse(buf) } catch { thrown = error; break }
        }
        XCTAssertEqual(thrown, .headerTooLarge)
        XCTAssertLessThan(buf.count, 65536 + 4096 + 100)
    }

    func testTooManyFields() throws {
        let limits = HTTPParserLimits(maxHeaderBytes: 65536, maxFieldCount: 3, maxTrailerBytes: 8192)
        XCTAssertEqual(try requestHead("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n", limits: limits).fields.count, 3)
        assertRequestError(.tooManyFields, "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits: limits)
        XCTAssertEqual(HTTPParseError.tooManyFields.status, 431)
    }

    /// Drip-feeding a large head must not rescan from the start each time.
    func testDripFeedResumesScan() throws {
        var p = HTTPRequestParser()
        var buf = bytes("GET / HTTP/1.1\r\nHost: h\r\n")
        for i in 0..<2000 { buf += bytes("X-\(i): value-\(i)\r\n") }
        buf += bytes("\r\n")
        var pending: [UInt8] = []
        var head: HTTPRequestHead?
        let limits = HTTPParserLimits(maxHeaderBytes: 1 << 20, maxFieldCount: 5000)
        p = HTTPRequestParser(limits: limits)
        for b in buf {
            pending.append(b)
            let ev = try p.parse(pending)
            switch ev {
            case .needMore(let c):
                XCTAssertEqual(c, 0)
                XCTAssertEqual(p.body.scanned, pending.count)   // everything so far remembered as scanned
            case .head(let h, let c):
                XCTAssertEqual(c, buf.count)
                head = h
            default: XCTFail("\(ev)")
            }
        }
        XCTAssertEqual(head?.fields.count, 2001)
        XCTAssertEqual(head?.fields["X-1999"], "value-1999")
    }

    // MARK: - Content-Length

    func testContentLengthBodyOneShot() throws {
        let r = try driveRequests("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET")
        XCTAssertEqual(r.records.count, 3)
        XCTAssertEqual(r.records[0].head?.framing, .contentLength(5))
        XCTAssertEqual(r.records[1], .body(bytes("hello")))
        XCTAssertEqual(r.records[2], .end(HTTPFields()))
        XCTAssertEqual(r.leftover, bytes("GET"))
    }

    func testContentLengthBodySplitAcrossCalls() throws {
        var p = HTTPRequestParser()
        let head = bytes("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n")
        guard case .head(_, let c) = try p.parse(head + bytes("abc")) else { return XCTFail() }
        XCTAssertEqual(c, head.count)
        guard case .body(let r1, let c1) = try p.parse(bytes("abc")) else { return XCTFail() }
        XCTAssertEqual(r1, 0..<3); XCTAssertEqual(c1, 3)
        guard case .needMore(0) = try p.parse([UInt8]()) else { return XCTFail() }
        guard case .body(let r2, let c2) = try p.parse(bytes("defg")) else { return XCTFail() }
        XCTAssertEqual(r2, 0..<4); XCTAssertEqual(c2, 4)
        // More bytes than the body needs: only the remaining 3 are taken.
        guard case .body(let r3, let c3) = try p.parse(bytes("hijGET / HTTP/1.1")) else { return XCTFail() }
        XCTAssertEqual(r3, 0..<3); XCTAssertEqual(c3, 3)
        guard case .end(_, 0) = try p.parse(bytes("GET / HTTP/1.1")) else { return XCTFail() }
        guard case .needMore(0) = try p.parse(bytes("GET / HTTP/1.1")) else { return XCTFail() }
    }

    func testZeroContentLength() throws {
        let r = try driveRequests("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(r.records.count, 2)
        XCTAssertEqual(r.records[0].head?.framing, .contentLength(0))
        XCTAssertEqual(r.records[1], .end(HTTPFields()))
    }

    func testContentLengthListsAndRepeats() throws {
        XCTAssertEqual(try requestHead("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 7, 7 ,7\r\n\r\n").framing, .contentLength(7))
        XCTAssertEqual(try requestHead("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\nContent-Length: 7\r\n\r\n").framing, .contentLength(7))
        XCTAssertEqual(try requestHead("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 007\r\n\r\n").framing, .contentLength(7))
        XCTAssertEqual(try requestHead("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775807\r\n\r\n").framing,
                       .contentLength(9223372036854775807))
        assertRequestError(.conflictingContentLength, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 6\r\n\r\n")
        assertRequestError(.conflictingContentLength, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n")
        assertRequestError(.invalidContentLength, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n")
        assertRequestError(.invalidContentLength, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n")
        assertRequestError(.invalidContentLength, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n")
        assertRequestError(.invalidContentLength, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n")
        assertRequestError(.invalidContentLength, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5,\r\n\r\n")
        assertRequestError(.invalidContentLength, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5 5\r\n\r\n")
        assertRequestError(.invalidContentLength, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n")
        assertRequestError(.invalidContentLength, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775808\r\n\r\n")
        assertRequestError(.invalidContentLength, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n")
    }

    // MARK: - Transfer-Encoding

    func testTransferEncodingRules() throws {
        XCTAssertEqual(try requestHead("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n").framing, .chunked)
        XCTAssertEqual(try requestHead("POST / HTTP/1.1\r\nHost: h\r\ntransfer-encoding: ChUnKeD\r\n\r\n").framing, .chunked)
        XCTAssertEqual(try requestHead("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: , chunked ,\r\n\r\n").framing, .chunked)
        assertRequestError(.contentLengthWithTransferEncoding,
                           "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n")
        assertRequestError(.contentLengthWithTransferEncoding,
                           "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n")
        assertRequestError(.contentLengthWithTransferEncoding,
                           "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: x\r\n\r\n")
        assertRequestError(.transferEncodingNotChunkedLast, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n")
        assertRequestError(.transferEncodingNotChunkedLast, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n")
        assertRequestError(.transferEncodingNotChunkedLast,
                           "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n")
        assertRequestError(.transferEncodingNotChunkedLast, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n")
        assertRequestError(.transferEncodingNotChunkedLast, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked;q=1\r\n\r\n")
        assertRequestError(.transferEncodingNotChunkedLast, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n")
        assertRequestError(.unsupportedTransferEncoding, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
        assertRequestError(.unsupportedTransferEncoding,
                           "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n")
        assertRequestError(.unsupportedTransferEncoding, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n")
        assertRequestError(.transferEncodingInHTTP10, "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n")
        XCTAssertEqual(HTTPParseError.unsupportedTransferEncoding.status, 501)
        XCTAssertEqual(HTTPParseError.transferEncodingInHTTP10.status, 400)
    }

    // MARK: - Chunked

    static let chunkedRequest = "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        + "5\r\nhello\r\n"
        + "0006;name=value ; other=\"quoted;x\"\t\r\n world\r\n"
        + "A ;ext\r\n0123456789\r\n"
        + "0\r\nX-Checksum: abc\r\nX-Other:  v \r\n\r\n"

    func testChunkedWithExtensionsAndTrailers() throws {
        let r = try driveRequests(Self.chunkedRequest)
        XCTAssertEqual(r.records.count, 3)
        XCTAssertEqual(r.records[0].head?.framing, .chunked)
        XCTAssertEqual(r.records[1], .body(bytes("hello world0123456789")))
        XCTAssertEqual(r.records[2], .end(HTTPFields([HTTPField(name: "X-Checksum", value: "abc"),
                                                      HTTPField(name: "X-Other", value: "v")])))
        XCTAssertEqual(r.leftover, [])
    }

    func testChunkedEventsOneShot() throws {
        // Exact event sequence (ranges and consumed counts) for a one-shot buffer.
        var p = HTTPRequestParser()
        let head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        var buf = bytes(head + "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\nNEXT")
        guard case .head(_, let c0) = try p.parse(buf) else { return XCTFail() }
        XCTAssertEqual(c0, head.utf8.count)
        buf.removeFirst(c0)
        guard case .body(let r1, let c1) = try p.parse(buf) else { return XCTFail() }
        XCTAssertEqual(r1, 3..<6); XCTAssertEqual(c1, 6)
        buf.removeFirst(c1)
        guard case .body(let r2, let c2) = try p.parse(buf) else { return XCTFail() }
        XCTAssertEqual(r2, 5..<7); XCTAssertEqual(c2, 7)
        buf.removeFirst(c2)
        guard case .end(let t, let c3) = try p.parse(buf) else { return XCTFail() }
        XCTAssertEqual(t.count, 0); XCTAssertEqual(c3, 7)
        buf.removeFirst(c3)
        XCTAssertEqual(buf, bytes("NEXT"))
    }

    func testChunkedDripFeedMatchesOneShot() throws {
        let one = try driveRequests(Self.chunkedRequest)
        for step in [1, 2, 3, 5, 8, 13, 64] {
            let r = try driveRequests(Self.chunkedRequest, step: step)
            XCTAssertEqual(r.records, one.records, "step \(step)")
            XCTAssertEqual(r.leftover, [])
        }
    }

    func testChunkedLargeChunkSplit() throws {
        var msg = bytes("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n")
        let data = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        msg += data + bytes("\r\n0\r\n\r\n")
        for step in [0, 1, 100, 1000] {
            let r = try driveRequests(msg, step: step)
            XCTAssertEqual(r.records.count, 3)
            XCTAssertEqual(r.records[1], .body(data), "step \(step)")
        }
    }

    func testChunkedRejects() {
        let h = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        assertRequestError(.badChunkSize, h + "zz\r\n")
        assertRequestError(.badChunkSize, h + "\r\n")
        assertRequestError(.badChunkSize, h + "5x\r\nhello\r\n0\r\n\r\n")
        assertRequestError(.badChunkSize, h + "5 \r\nhello\r\n0\r\n\r\n")
        assertRequestError(.badChunkSize, h + "-5\r\n")
        assertRequestError(.badChunkSize, h + " 5\r\n")
        assertRequestError(.badChunkSize, h + "0x5\r\n")
        assertRequestError(.badChunkSize, h + "5;a=\u{01}\r\nhello\r\n0\r\n\r\n")
        assertRequestError(.badChunkSize, h + "5;a=b\u{7F}\r\nhello\r\n0\r\n\r\n")
        assertRequestError(.badChunkSize, h + "5;a\rb\r\nhello\r\n0\r\n\r\n")
        assertRequestError(.badChunkSize, h + "5" + String(repeating: ";", count: 5000))
        assertRequestError(.chunkSizeOverflow, h + "10000000000000000\r\n")
        assertRequestError(.chunkSizeOverflow, h + "00000000000000001\r\n")
        assertRequestError(.chunkSizeOverflow, h + "FFFFFFFFFFFFFFFF\r\n")
        assertRequestError(.chunkSizeOverflow, h + "8000000000000000\r\n")
        assertRequestError(.bareLF, h + "5\nhello\r\n0\r\n\r\n")
        assertRequestError(.badChunkTerminator, h + "5\r\nhelloX\r\n0\r\n\r\n")
        assertRequestError(.badChunkTerminator, h + "5\r\nhello\rX0\r\n\r\n")
        assertRequestError(.badChunkTerminator, h + "5\r\nhello\n0\r\n\r\n")
        assertRequestError(.badChunkTerminator, h + "3\r\nhello\r\n0\r\n\r\n")
        assertRequestError(.invalidFieldValue, h + "0\r\nX: a\u{01}\r\n\r\n")
        assertRequestError(.obsFold, h + "0\r\nX: a\r\n b\r\n\r\n")
        assertRequestError(.invalidFieldName, h + "0\r\nbad trailer\r\n\r\n")
        assertRequestError(.bareLF, h + "0\r\n\n")
        assertRequestError(.bareLF, h + "0\r\nX: y\n\r\n")
    }

    func testChunkSizeAtCapAccepted() throws {
        var p = HTTPRequestParser()
        let h = bytes("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
        guard case .head(_, let c) = try p.parse(h) else { return XCTFail() }
        XCTAssertEqual(c, h.count)
        guard case .body(let r, let c2) = try p.parse(bytes("7FFFFFFFFFFFFFFF\r\nab")) else { return XCTFail() }
        XCTAssertEqual(r, 18..<20); XCTAssertEqual(c2, 20)
        guard case .needMore(0) = try p.parse([UInt8]()) else { return XCTFail() }
    }

    func testTrailerLimits() throws {
        let limits = HTTPParserLimits(maxHeaderBytes: 4096, maxFieldCount: 2, maxTrailerBytes: 32)
        let h = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
        // 32 bytes of trailer section including final CRLF: fine.
        let ok = h + "X: " + String(repeating: "a", count: 25) + "\r\n\r\n"
        let r = try driveRequests(ok, step: 1, limits: limits)
        XCTAssertEqual(r.records.last, .end(HTTPFields([HTTPField(name: "X", value: String(repeating: "a", count: 25))])))
        assertRequestError(.trailerTooLarge, h + "X: " + String(repeating: "a", count: 26) + "\r\n\r\n", limits: limits)
        assertRequestError(.trailerTooLarge, h + "X: " + String(repeating: "a", count: 40), limits: limits)
        assertRequestError(.tooManyFields, h + "A: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits: limits)
        XCTAssertEqual(HTTPParseError.trailerTooLarge.status, 400)
    }

    // MARK: - Pipelining

    static func pipelinedInput(count: Int) -> (input: [UInt8], expectedTargets: [String], expectedBodies: [[UInt8]]) {
        var input: [UInt8] = []
        var targets: [String] = []
        var bodies: [[UInt8]] = []
        for i in 0..<count {
            let target = "/r/\(i)?q=\(i)"
            targets.append(target)
            switch i % 4 {
            case 0:
                input += bytes("GET \(target) HTTP/1.1\r\nHost: h\r\nX-I: \(i)\r\n\r\n")
                bodies.append([])
            case 1:
                let body = bytes("body-\(i)")
                input += bytes("POST \(target) HTTP/1.1\r\nHost: h\r\nContent-Length: \(body.count)\r\n\r\n") + body
                bodies.append(body)
            case 2:
                let body = bytes("chunked-body-\(i)")
                input += bytes("PUT \(target) HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
                input += bytes("3\r\n") + body[0..<3] + bytes("\r\n")
                input += bytes(String(body.count - 3, radix: 16) + ";e=1\r\n") + body[3...] + bytes("\r\n0\r\nT: \(i)\r\n\r\n")
                bodies.append(body)
            default:
                input += bytes("DELETE \(target) HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n")
                bodies.append([])
            }
        }
        return (input, targets, bodies)
    }

    func testManyPipelinedRequests() throws {
        let (input, targets, bodies) = Self.pipelinedInput(count: 200)
        let one = try driveRequests(input)
        XCTAssertEqual(one.leftover, [])
        XCTAssertEqual(one.records.compactMap { $0.head?.target }, targets)
        // Split records into messages and check bodies/trailers.
        var gotBodies: [[UInt8]] = []
        var current: [UInt8] = []
        var ends = 0
        for rec in one.records {
            switch rec {
            case .head: current = []
            case .body(let b): current += b
            case .end(let t):
                gotBodies.append(current); ends += 1
                if ends % 4 == 3 { XCTAssertEqual(t["T"], "\(ends - 1)") } else { XCTAssertEqual(t.count, 0) }
            }
        }
        XCTAssertEqual(ends, 200)
        XCTAssertEqual(gotBodies, bodies)
        for step in [1, 3, 17, 1000] {
            let r = try driveRequests(input, step: step)
            XCTAssertEqual(r.records, one.records, "step \(step)")
            XCTAssertEqual(r.leftover, [])
        }
    }

    func testPipelinedHeadsOneBufferConsumedCounts() throws {
        let a = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
        let b = "GET /b HTTP/1.1\r\nHost: h\r\n\r\n"
        var buf = bytes(a + b)
        var p = HTTPRequestParser()
        guard case .head(let h1, let c1) = try p.parse(buf) else { return XCTFail() }
        XCTAssertEqual(h1.target, "/a"); XCTAssertEqual(c1, a.utf8.count)
        buf.removeFirst(c1)
        guard case .end(_, 0) = try p.parse(buf) else { return XCTFail() }
        guard case .head(let h2, let c2) = try p.parse(buf) else { return XCTFail() }
        XCTAssertEqual(h2.target, "/b"); XCTAssertEqual(c2, b.utf8.count)
    }

    func testReset() throws {
        var p = HTTPRequestParser()
        guard case .head = try p.parse(bytes("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n")) else { return XCTFail() }
        XCTAssertFalse(p.isIdle)
        p.reset()
        XCTAssertTrue(p.isIdle)
        guard case .head(let h, _) = try p.parse(bytes("GET /x HTTP/1.1\r\nHost: h\r\n\r\n")) else { return XCTFail() }
        XCTAssertEqual(h.target, "/x")
    }

    func testArraySliceOverload() throws {
        let all = bytes("xxGET /s HTTP/1.1\r\nHost: h\r\n\r\n")
        var p = HTTPRequestParser()
        guard case .head(let h, let c) = try p.parse(all[2...]) else { return XCTFail() }
        XCTAssertEqual(h.target, "/s")
        XCTAssertEqual(c, all.count - 2)
    }

    func testErrorReasonsAndStatuses() {
        let all: [HTTPParseError] = [.invalidRequestLine, .invalidMethod, .invalidTarget, .invalidVersion,
            .unsupportedVersion, .invalidStatusLine, .bareLF, .obsFold, .whitespaceBeforeColon, .invalidFieldName,
            .invalidFieldValue, .headerTooLarge, .tooManyFields, .missingHost, .multipleHost,
            .contentLengthWithTransferEncoding, .conflictingContentLength, .invalidContentLength,
            .transferEncodingNotChunkedLast, .badChunkSize, .chunkSizeOverflow, .badChunkTerminator,
            .trailerTooLarge, .prematureEOF, .unsupportedTransferEncoding, .transferEncodingInHTTP10]
        XCTAssertEqual(Set(all.map(\.reason)).count, all.count)
        XCTAssertEqual(HTTPParseError.unsupportedVersion.status, 505)
        XCTAssertEqual(HTTPParseError.bareLF.status, 400)
        XCTAssertEqual(HTTPParseError.bareLF.reason, "bare_lf")
    }
}
