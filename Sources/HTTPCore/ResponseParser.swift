/// Incremental HTTP/1.1 response parser (RFC 9112) for an upstream connection. Same calling contract as
/// `HTTPRequestParser`.
///
/// Before each request's response, call `expectResponse(toMethod:)` (HEAD → no body; CONNECT 2xx → no body).
/// The expectation reverts to "GET-like" after the final response's `.end`.
///
/// - 1xx other than 101 are interim: returned as `.head` with `.none` framing and *no* `.end`; the next `parse`
///   call yields the next head (still for the same request).
/// - 101, 2xx to CONNECT, 204, 304, 1xx and responses to HEAD have `.none` framing (Content-Length and
///   Transfer-Encoding are then ignored, not validated); `.end` follows on the next call.
/// - Otherwise Transfer-Encoding (exactly `chunked`, rules as for requests; with Content-Length → rejected) →
///   `.chunked`; Content-Length → `.contentLength`; neither → `.untilClose` with `keepAlive == false`, completed by
///   `parseEOF()`.
/// - Status line `HTTP/1.0` or `HTTP/1.1` (other valid versions → `.unsupportedVersion`), status 100–999, reason
///   optional (`HTTP/1.1 200\r\n` accepted). Anything else → `.invalidStatusLine`.
public struct HTTPResponseParser: HTTPMessageParser, Sendable {
    public let limits: HTTPParserLimits
    var body: BodyDecoder
    var requestIsHead = false
    var requestIsConnect = false
    /// An interim (1xx) response was seen; the final response is still due.
    var awaitingFinal = false
    /// Bytes left unconsumed by the last `parse` call (for `parseEOF`).
    var unconsumed = 0

    public init(limits: HTTPParserLimits = .init()) {
        self.limits = limits
        self.body = BodyDecoder(limits: limits)
    }

    public mutating func reset() {
        body = BodyDecoder(limits: limits)
        requestIsHead = false
        requestIsConnect = false
        awaitingFinal = false
        unconsumed = 0
    }

    /// States the method of the request whose response comes next.
    public mutating func expectResponse(toMethod method: String) {
        requestIsHead = method == "HEAD"
        requestIsConnect = method == "CONNECT"
    }

    /// True between messages (no head bytes scanned, no body in progress, no final response pending).
    public var isIdle: Bool { body.state == .idle && body.scanned == 0 && !awaitingFinal }

    public mutating func parse(_ p: UnsafeRawBufferPointer) throws(HTTPParseError) -> HTTPParseEvent<HTTPResponseHead> {
        let ev = try parseEvent(p)
        switch ev {
        case .needMore(let c), .head(_, let c), .body(_, let c): unconsumed = p.count &- c
        case .end(_, let c):
            unconsumed = p.count &- c
            requestIsHead = false
            requestIsConnect = false
        }
        return ev
    }

    /// The upstream closed the connection. Returns `.end` if that completes a close-delimited body (or a body
    /// that was already complete), nil if the connection was idle between messages; throws `.prematureEOF` if a
    /// message was in progress.
    public mutating func parseEOF() throws(HTTPParseError) -> HTTPParseEvent<HTTPResponseHead>? {
        switch body.state {
        case .idle:
            if unconsumed > 0 || body.scanned > 0 || awaitingFinal { throw .prematureEOF }
            return nil
        case .untilClose, .endPending:
            body.state = .idle
            body.scanned = 0
            unconsumed = 0
            requestIsHead = false
            requestIsConnect = false
            return .end(trailers: HTTPFields(), consumed: 0)
        default:
            throw .prematureEOF
        }
    }

    mutating func parseEvent(_ p: UnsafeRawBufferPointer) throws(HTTPParseError) -> HTTPParseEvent<HTTPResponseHead> {
        if body.state != .idle { return try body.parse(p) }
        let count = p.count
        let maxHead = limits.maxHeaderBytes
        let limit = maxHead < count ? maxHead : count
        guard let end = try findBlockEnd(p, start: 0, from: body.scanned, end: limit) else {
            if count >= maxHead { throw .headerTooLarge }
            body.scanned = count
            return .needMore(consumed: 0)
        }
        body.scanned = 0
        let head = try parseHead(p, end)
        if head.status >= 100 && head.status < 200 && head.status != 101 {
            awaitingFinal = true       // interim; stay idle for the final response
        } else {
            awaitingFinal = false
            body.start(head.framing)
        }
        return .head(head, consumed: end)
    }

    @inline(__always)
    func parseHead(_ p: UnsafeRawBufferPointer, _ end: Int) throws(HTTPParseError) -> HTTPResponseHead {
        let lf = findLF(p, from: 0, end: end)
        let e = lf &- 1
        guard e >= 12, let (major, minor) = parseVersion(p, 0), p.at(8) == SP else { throw .invalidStatusLine }
        guard major == 1, minor <= 1 else { throw .unsupportedVersion }
        let d0 = p.at(9) &- 0x30, d1 = p.at(10) &- 0x30, d2 = p.at(11) &- 0x30
        guard d0 >= 1, d0 <= 9, d1 <= 9, d2 <= 9 else { throw .invalidStatusLine }
        let status = Int(d0) * 100 + Int(d1) * 10 + Int(d2)
        var reason = ""
        if e > 12 {
            guard p.at(12) == SP else { throw .invalidStatusLine }
            var high: UInt8 = 0
            var i = 13
            while i < e {
                let b = p.at(i)
                guard isFieldValueByte(b) else { throw .invalidStatusLine }
                high |= b
                i &+= 1
            }
            reason = makeValueString(p, 13, e, ascii: high < 0x80)
        }
        let version = HTTPVersion(major: 1, minor: minor)
        var facts = HeadFacts()
        let fields = try parseFieldLines(p, from: lf &+ 1, blockEnd: end, maxFields: limits.maxFieldCount,
                                         facts: &facts, collectFacts: true)
        var keepAlive = facts.keepAlive(version: version)
        let framing: BodyFraming
        if status < 200 || status == 204 || status == 304 || requestIsHead || (requestIsConnect && status < 300) {
            framing = .none
        } else if facts.hasTransferEncoding {
            try facts.checkTransferEncoding(version: version)
            framing = .chunked
        } else if let err = facts.contentLengthError {
            throw err
        } else if let n = facts.contentLength {
            framing = .contentLength(n)
        } else {
            framing = .untilClose
            keepAlive = false
        }
        return HTTPResponseHead(version: version, status: status, reason: reason, fields: fields,
                                framing: framing, keepAlive: keepAlive)
    }
}
