/// Incremental HTTP/1.1 request parser (RFC 9112), one connection's worth of requests.
///
/// Contract: pass every byte not yet consumed; the parser returns one event; drop `consumed` bytes from the front
/// and call again with the rest plus any new bytes, until `.needMore`. After `.end` the parser is ready for the
/// next (pipelined) request. After a thrown error the connection must be closed (or the parser `reset()`).
///
/// Decisions beyond the RFC text:
/// - Up to 8 empty lines (CRLF) before a request line are skipped; more → `.invalidRequestLine`.
/// - Transfer-Encoding must be exactly `chunked` (case-insensitive, possibly spread across fields); a list whose
///   last coding is not `chunked` → `.transferEncodingNotChunkedLast`; `chunked` plus other codings or `chunked`
///   twice → `.unsupportedTransferEncoding`; Transfer-Encoding in HTTP/1.0 → `.transferEncodingInHTTP10`.
/// - Field values that are not valid UTF-8 are decoded as ISO-8859-1 (byte n → U+00nn).
/// - Trailer fields are returned as received (same syntax rules as header fields); the caller decides which to keep.
public struct HTTPRequestParser: HTTPMessageParser, Sendable {
    public let limits: HTTPParserLimits
    var body: BodyDecoder
    /// Empty lines skipped before the current request line.
    var skippedEmptyLines = 0
    static let maxSkippedEmptyLines = 8

    public init(limits: HTTPParserLimits = .init()) {
        self.limits = limits
        self.body = BodyDecoder(limits: limits)
    }

    /// Forget any partial message; ready for a new request.
    public mutating func reset() {
        body = BodyDecoder(limits: limits)
        skippedEmptyLines = 0
    }

    /// True between messages (no head bytes scanned, no body in progress).
    public var isIdle: Bool { body.state == .idle && body.scanned == 0 }

    public mutating func parse(_ p: UnsafeRawBufferPointer) throws(HTTPParseError) -> HTTPParseEvent<HTTPRequestHead> {
        if body.state != .idle {
            let ev: HTTPParseEvent<HTTPRequestHead> = try body.parse(p)
            if case .end = ev { skippedEmptyLines = 0 }
            return ev
        }
        let count = p.count
        var start = 0
        if body.scanned == 0 {
            // RFC 9112 §2.2: ignore a few empty lines before the request-line.
            while skippedEmptyLines < Self.maxSkippedEmptyLines, count &- start >= 2,
                  p.at(start) == CR, p.at(start &+ 1) == LF {
                start &+= 2
                skippedEmptyLines &+= 1
            }
            if count &- start == 1 && p.at(start) == CR && skippedEmptyLines < Self.maxSkippedEmptyLines {
                return .needMore(consumed: start)
            }
        }
        let maxHead = limits.maxHeaderBytes
        let limit = start &+ maxHead < count ? start &+ maxHead : count
        guard let end = try findBlockEnd(p, start: start, from: start &+ body.scanned, end: limit) else {
            if count &- start >= maxHead { throw .headerTooLarge }
            body.scanned = count &- start
            return .needMore(consumed: start)
        }
        let head = try parseHead(p, start, end)
        body.start(head.framing)
        return .head(head, consumed: end)
    }

    @inline(__always)
    func parseHead(_ p: UnsafeRawBufferPointer, _ s: Int, _ end: Int) throws(HTTPParseError) -> HTTPRequestHead {
        let lf = findLF(p, from: s, end: end)
        let e = lf &- 1
        // method SP
        var i = s
        while i < e && isTchar(p.at(i)) { i &+= 1 }
        if i == e { throw .invalidRequestLine }
        if p.at(i) != SP || i == s { throw i == s && p.at(i) == SP ? .invalidRequestLine : .invalidMethod }
        let methodEnd = i
        // request-target SP
        i &+= 1
        let ts = i
        while i < e { let b = p.at(i); if b < 0x21 || b > 0x7E { break }; i &+= 1 }
        if i == e { throw .invalidRequestLine }
        if p.at(i) != SP { throw .invalidTarget }
        if i == ts { throw .invalidRequestLine }
        let targetEnd = i
        // HTTP-version
        i &+= 1
        guard e &- i == 8, let (major, minor) = parseVersion(p, i) else { throw .invalidVersion }
        guard major == 1, minor <= 1 else { throw .unsupportedVersion }
        let version = HTTPVersion(major: 1, minor: minor)

        var facts = HeadFacts()
        let fields = try parseFieldLines(p, from: lf &+ 1, blockEnd: end, maxFields: limits.maxFieldCount,
                                         facts: &facts, collectFacts: true)
        if facts.hostCount > 1 { throw .multipleHost }
        if facts.hostCount == 0 && minor == 1 { throw .missingHost }
        let framing: BodyFraming
        if facts.hasTransferEncoding {
            try facts.checkTransferEncoding(version: version)
            framing = .chunked
        } else if let err = facts.contentLengthError {
            throw err
        } else if let n = facts.contentLength {
            framing = .contentLength(n)
        } else {
            framing = .none
        }
        let upgrade: String? = facts.connectionUpgrade ? facts.upgradeIndex.map { fields.fields[$0].value } : nil
        return HTTPRequestHead(method: makeString(p, s, methodEnd), target: makeString(p, ts, targetEnd),
                               version: version, fields: fields, framing: framing,
                               keepAlive: facts.keepAlive(version: version),
                               expectContinue: facts.expectContinue, upgrade: upgrade)
    }
}
