/// Longest chunk-size line (size + extensions + CRLF) accepted; longer → `.badChunkSize`.
let maxChunkLineBytes = 4096
/// Largest chunk size accepted (fits in Int64); larger → `.chunkSizeOverflow`.
let maxChunkSize: UInt64 = UInt64(Int64.max)

/// Message-body state machine shared by both parsers.
enum BodyState: Sendable, Equatable {
    /// Waiting for a head.
    case idle
    /// Body complete; the next call emits `.end`.
    case endPending
    case fixed(remaining: UInt64)
    case chunkSize
    case chunkData(remaining: UInt64)
    /// CRLF after chunk data.
    case chunkDataEnd
    case trailers
    case untilClose
}

struct BodyDecoder: Sendable {
    var state: BodyState = .idle
    /// Bytes of the current section (head, chunk-size line, trailer block) already scanned, counted from the
    /// start of the section, which is the start of the buffer on the next call.
    var scanned = 0
    var maxTrailerBytes: Int
    var maxFieldCount: Int

    init(limits: HTTPParserLimits) {
        maxTrailerBytes = limits.maxTrailerBytes
        maxFieldCount = limits.maxFieldCount
    }

    mutating func start(_ framing: BodyFraming) {
        scanned = 0
        switch framing {
        case .none, .contentLength(0): state = .endPending
        case .contentLength(let n): state = .fixed(remaining: n)
        case .chunked: state = .chunkSize
        case .untilClose: state = .untilClose
        }
    }

    /// Parses body bytes. Must not be called in `.idle`. After returning `.end`, the state is `.idle`.
    mutating func parse<H>(_ p: UnsafeRawBufferPointer) throws(HTTPParseError) -> HTTPParseEvent<H> {
        let count = p.count
        var pos = 0
        while true {
            switch state {
            case .idle:
                preconditionFailure("BodyDecoder.parse in idle state")
            case .endPending:
                state = .idle
                scanned = 0
                return .end(trailers: HTTPFields(), consumed: pos)
            case .fixed(let remaining):
                let avail = count &- pos
                if avail == 0 { return .needMore(consumed: pos) }
                let n = UInt64(avail) < remaining ? avail : Int(remaining)
                let left = remaining &- UInt64(n)
                state = left == 0 ? .endPending : .fixed(remaining: left)
                return .body(pos..<(pos &+ n), consumed: pos &+ n)
            case .untilClose:
                if count == pos { return .needMore(consumed: pos) }
                return .body(pos..<count, consumed: count)
            case .chunkData(let remaining):
                let avail = count &- pos
                if avail == 0 { return .needMore(consumed: pos) }
                let n = UInt64(avail) < remaining ? avail : Int(remaining)
                let left = remaining &- UInt64(n)
                state = left == 0 ? .chunkDataEnd : .chunkData(remaining: left)
                return .body(pos..<(pos &+ n), consumed: pos &+ n)
            case .chunkDataEnd:
                let avail = count &- pos
                if avail == 0 { return .needMore(consumed: pos) }
                guard p.at(pos) == CR else { throw .badChunkTerminator }
                if avail == 1 { return .needMore(consumed: pos) }
                guard p.at(pos &+ 1) == LF else { throw .badChunkTerminator }
                pos &+= 2
                state = .chunkSize
                scanned = 0
            case .chunkSize:
                let limit = min(count, pos &+ maxChunkLineBytes)
                let lf = findLF(p, from: pos &+ scanned, end: limit)
                if lf >= limit {
                    if count &- pos >= maxChunkLineBytes { throw .badChunkSize }
                    scanned = count &- pos
                    return .needMore(consumed: pos)
                }
                if lf == pos || p.at(lf &- 1) != CR { throw .bareLF }
                let size = try parseChunkSizeLine(p, pos, lf &- 1)
                pos = lf &+ 1
                scanned = 0
                state = size == 0 ? .trailers : .chunkData(remaining: size)
            case .trailers:
                let limit = min(count, pos &+ maxTrailerBytes)
                guard let end = try findBlockEnd(p, start: pos, from: pos &+ scanned, end: limit) else {
                    if count &- pos >= maxTrailerBytes { throw .trailerTooLarge }
                    scanned = count &- pos
                    return .needMore(consumed: pos)
                }
                var facts = HeadFacts()
                let trailers = try parseFieldLines(p, from: pos, blockEnd: end, maxFields: maxFieldCount,
                                                   facts: &facts, collectFacts: false)
                state = .idle
                scanned = 0
                return .end(trailers: trailers, consumed: end)
            }
        }
    }

    /// `chunk-size [ chunk-ext ]` in `p[a..<b]` (b is the CR).
    @inline(__always)
    func parseChunkSizeLine(_ p: UnsafeRawBufferPointer, _ a: Int, _ b: Int) throws(HTTPParseError) -> UInt64 {
        var i = a
        var v: UInt64 = 0
        while i < b, let d = hexValue(p.at(i)) {
            if i &- a >= 16 { throw .chunkSizeOverflow }
            v = v &<< 4 | UInt64(d)
            i &+= 1
        }
        if i == a { throw .badChunkSize }
        if v > maxChunkSize { throw .chunkSizeOverflow }
        if i == b { return v }
        // Extensions: BWS ";" ... — ignored, but no CTLs other than HTAB.
        while i < b && isOWS(p.at(i)) { i &+= 1 }
        guard i < b, p.at(i) == SEMI else { throw .badChunkSize }
        while i < b {
            guard isFieldValueByte(p.at(i)) else { throw .badChunkSize }
            i &+= 1
        }
        return v
    }
}
