// Byte-level helpers shared by the request and response parsers. Internal only.

let CR: UInt8 = 0x0D
let LF: UInt8 = 0x0A
let SP: UInt8 = 0x20
let HTAB: UInt8 = 0x09
let COLON: UInt8 = 0x3A
let COMMA: UInt8 = 0x2C
let SEMI: UInt8 = 0x3B

/// RFC 9110 §5.6.2 tchar, as two 64-bit masks (bytes 0–63 and 64–127).
@inline(__always) func isTchar(_ b: UInt8) -> Bool {
    if b < 64 { return (0x03ff_6cfa_0000_0000 as UInt64) &>> UInt64(b) & 1 != 0 }
    if b < 128 { return (0x57ff_ffff_c7ff_fffe as UInt64) &>> UInt64(b &- 64) & 1 != 0 }
    return false
}

/// Field-value / reason-phrase byte: HTAB, SP, VCHAR, obs-text. Excludes NUL, CR, LF, other CTLs and DEL.
@inline(__always) func isFieldValueByte(_ b: UInt8) -> Bool { b == HTAB || (b >= 0x20 && b != 0x7F) }

@inline(__always) func isOWS(_ b: UInt8) -> Bool { b == SP || b == HTAB }

@inline(__always) func hexValue(_ b: UInt8) -> UInt8? {
    switch b {
    case 0x30...0x39: return b &- 0x30
    case 0x41...0x46: return b &- 0x41 &+ 10
    case 0x61...0x66: return b &- 0x61 &+ 10
    default: return nil
    }
}

extension UnsafeRawBufferPointer {
    /// Unchecked byte load; callers guarantee `0 <= i < count`.
    @inline(__always) func at(_ i: Int) -> UInt8 { baseAddress.unsafelyUnwrapped.load(fromByteOffset: i, as: UInt8.self) }
}

/// Index of the first LF in `p[from..<end]`, or `end`. Scans eight bytes at a time.
@inline(__always) func findLF(_ p: UnsafeRawBufferPointer, from: Int, end: Int) -> Int {
    guard let base = p.baseAddress else { return end }
    var i = from
    while i &+ 8 <= end {
        let w = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
        let x = w ^ 0x0A0A_0A0A_0A0A_0A0A
        let t = (x &- 0x0101_0101_0101_0101) & ~x & 0x8080_8080_8080_8080
        if t != 0 { return i &+ (t.trailingZeroBitCount &>> 3) }
        i &+= 8
    }
    while i < end {
        if base.load(fromByteOffset: i, as: UInt8.self) == LF { return i }
        i &+= 1
    }
    return end
}

/// Looks for the empty line that ends a field block starting at `start`, scanning `p[from..<end]`
/// (`from >= start`; bytes in `start..<from` were scanned before and are known good).
/// Every LF must be preceded by CR (else `.bareLF`). Returns the index just past the final CRLF, or nil.
/// A block that starts with CRLF is empty and ends right there.
@inline(__always)
func findBlockEnd(_ p: UnsafeRawBufferPointer, start: Int, from: Int, end: Int) throws(HTTPParseError) -> Int? {
    var i = from
    while true {
        i = findLF(p, from: i, end: end)
        if i >= end { return nil }
        if i == start || p.at(i &- 1) != CR { throw .bareLF }
        if i &- 1 == start || p.at(i &- 2) == LF { return i &+ 1 }
        i &+= 1
    }
}

/// `p[a..<b]` equals the lowercase ASCII literal `lit`, ASCII case-insensitively.
@inline(__always) func bytesEqualLower(_ p: UnsafeRawBufferPointer, _ a: Int, _ b: Int, _ lit: StaticString) -> Bool {
    guard b &- a == lit.utf8CodeUnitCount else { return false }
    let l = lit.utf8Start
    var i = 0
    while i < lit.utf8CodeUnitCount {
        if asciiLower(p.at(a &+ i)) != l[i] { return false }
        i &+= 1
    }
    return true
}

@inline(__always) func makeString(_ p: UnsafeRawBufferPointer, _ a: Int, _ b: Int) -> String {
    String(decoding: UnsafeRawBufferPointer(rebasing: p[a..<b]), as: UTF8.self)
}

/// Decodes a field value / reason phrase. ASCII and valid UTF-8 are decoded as UTF-8. Bytes that are not valid
/// UTF-8 (obs-text) are decoded as ISO-8859-1: each byte becomes the scalar U+0000–U+00FF of the same value,
/// so no information is replaced by U+FFFD.
@inline(__always) func makeValueString(_ p: UnsafeRawBufferPointer, _ a: Int, _ b: Int, ascii: Bool) -> String {
    if ascii { return makeString(p, a, b) }
    let slice = UnsafeRawBufferPointer(rebasing: p[a..<b])
    if let s = String(validating: slice, as: UTF8.self) { return s }
    var s = String()
    s.unicodeScalars.append(contentsOf: slice.lazy.map { Unicode.Scalar($0) })
    return s
}

/// Calls `body(a, b)` for each element of a comma-separated list in `p[from..<to]`, OWS-trimmed.
/// Empty elements are passed too (a == b); callers decide whether to skip them.
@inline(__always) func forEachListElement(_ p: UnsafeRawBufferPointer, _ from: Int, _ to: Int,
                                          _ body: (Int, Int) throws(HTTPParseError) -> Void) throws(HTTPParseError) {
    var i = from
    while true {
        var a = i
        while i < to && p.at(i) != COMMA { i &+= 1 }
        var b = i
        while a < b && isOWS(p.at(a)) { a &+= 1 }
        while b > a && isOWS(p.at(b &- 1)) { b &-= 1 }
        try body(a, b)
        if i >= to { return }
        i &+= 1
    }
}

/// Framing-relevant facts collected while parsing a head's fields.
struct HeadFacts {
    var hostCount = 0
    var contentLength: UInt64? = nil
    /// First Content-Length problem seen (applied only if the message can have a body).
    var contentLengthError: HTTPParseError? = nil
    var hasTransferEncoding = false
    var sawChunked = false
    var chunkedLast = false
    var otherCoding = false
    var connectionClose = false
    var connectionKeepAlive = false
    var connectionUpgrade = false
    var expectContinue = false
    var upgradeIndex: Int? = nil

    mutating func noteContentLength(_ p: UnsafeRawBufferPointer, _ from: Int, _ to: Int) {
        guard contentLengthError == nil else { return }
        do throws(HTTPParseError) {
            try forEachListElement(p, from, to) { (a, b) throws(HTTPParseError) in
                guard a < b, b &- a <= 19 else { throw .invalidContentLength }
                var v: UInt64 = 0
                for i in a..<b {
                    let d = p.at(i) &- 0x30
                    guard d <= 9 else { throw .invalidContentLength }
                    let (m, o1) = v.multipliedReportingOverflow(by: 10)
                    let (s, o2) = m.addingReportingOverflow(UInt64(d))
                    guard !o1, !o2, s <= UInt64(Int64.max) else { throw .invalidContentLength }
                    v = s
                }
                if let cl = contentLength, cl != v { throw .conflictingContentLength }
                contentLength = v
            }
        } catch {
            contentLengthError = error
        }
    }

    mutating func noteTransferEncoding(_ p: UnsafeRawBufferPointer, _ from: Int, _ to: Int) {
        hasTransferEncoding = true
        try? forEachListElement(p, from, to) { a, b in
            if a == b { return }
            if bytesEqualLower(p, a, b, "chunked") {
                if sawChunked { otherCoding = true }
                sawChunked = true
                chunkedLast = true
            } else {
                otherCoding = true
                chunkedLast = false
            }
        }
    }

    mutating func noteConnection(_ p: UnsafeRawBufferPointer, _ from: Int, _ to: Int) {
        try? forEachListElement(p, from, to) { a, b in
            switch b &- a {
            case 5: if bytesEqualLower(p, a, b, "close") { connectionClose = true }
            case 7: if bytesEqualLower(p, a, b, "upgrade") { connectionUpgrade = true }
            case 10: if bytesEqualLower(p, a, b, "keep-alive") { connectionKeepAlive = true }
            default: break
            }
        }
    }

    /// Transfer-Encoding checks shared by requests and responses.
    func checkTransferEncoding(version: HTTPVersion) throws(HTTPParseError) {
        if contentLength != nil || contentLengthError != nil { throw .contentLengthWithTransferEncoding }
        if version.minor == 0 { throw .transferEncodingInHTTP10 }
        if !chunkedLast { throw .transferEncodingNotChunkedLast }
        if otherCoding { throw .unsupportedTransferEncoding }
    }

    func keepAlive(version: HTTPVersion) -> Bool {
        if connectionClose { return false }
        return version.minor >= 1 || connectionKeepAlive
    }
}

/// Checks that every byte of `p[a..<b]` is a field-value byte (see `isFieldValueByte`), eight bytes at a time.
/// Returns nil if not, else whether all bytes are ASCII.
@inline(__always) func validateFieldValue(_ p: UnsafeRawBufferPointer, _ a: Int, _ b: Int) -> Bool? {
    let base = p.baseAddress.unsafelyUnwrapped
    var i = a
    var high: UInt64 = 0
    let ones: UInt64 = 0x0101_0101_0101_0101
    let highs: UInt64 = 0x8080_8080_8080_8080
    while i &+ 8 <= b {
        let w = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
        // Any byte < 0x20, or any byte == 0x7F? (Exact as an "any" test.)
        let lt20 = (w &- ones &* 0x20) & ~w & highs
        let x7f = w ^ (ones &* 0x7F)
        let eq7f = (x7f &- ones) & ~x7f & highs
        if lt20 | eq7f != 0 {
            for k in i..<(i &+ 8) where !isFieldValueByte(base.load(fromByteOffset: k, as: UInt8.self)) { return nil }
        }
        high |= w
        i &+= 8
    }
    var tail: UInt8 = 0
    while i < b {
        let c = base.load(fromByteOffset: i, as: UInt8.self)
        guard isFieldValueByte(c) else { return nil }
        tail |= c
        i &+= 1
    }
    return high & highs == 0 && tail < 0x80
}

/// Parses the field lines of a block. `from` is the first field line; `blockEnd` is just past the final empty
/// line's CRLF (every LF in the block is known to be preceded by CR). If `facts` is given, framing fields are noted.
@inline(__always)
func parseFieldLines(_ p: UnsafeRawBufferPointer, from: Int, blockEnd: Int, maxFields: Int,
                     facts: inout HeadFacts, collectFacts: Bool) throws(HTTPParseError) -> HTTPFields {
    var fields: [HTTPField] = []
    let last = blockEnd &- 2   // start of the terminating empty line
    var i = from
    if i < last { fields.reserveCapacity(12) }
    while i < last {
        let lf = findLF(p, from: i, end: blockEnd)
        let lineEnd = lf &- 1          // the CR
        let first = p.at(i)
        if isOWS(first) { throw .obsFold }
        // Field name.
        var j = i
        while j < lineEnd && isTchar(p.at(j)) { j &+= 1 }
        guard j < lineEnd else { throw .invalidFieldName }
        let c = p.at(j)
        if c != COLON {
            if isOWS(c) && j > i {
                var k = j
                while k < lineEnd && isOWS(p.at(k)) { k &+= 1 }
                if k < lineEnd && p.at(k) == COLON { throw .whitespaceBeforeColon }
            }
            throw .invalidFieldName
        }
        guard j > i else { throw .invalidFieldName }
        let nameEnd = j
        // Field value, OWS-trimmed.
        var vs = j &+ 1
        while vs < lineEnd && isOWS(p.at(vs)) { vs &+= 1 }
        var ve = lineEnd
        while ve > vs && isOWS(p.at(ve &- 1)) { ve &-= 1 }
        guard let ascii = validateFieldValue(p, vs, ve) else { throw .invalidFieldValue }
        guard fields.count < maxFields else { throw .tooManyFields }
        if collectFacts {
            switch nameEnd &- i {
            case 4:
                if bytesEqualLower(p, i, nameEnd, "host") { facts.hostCount &+= 1 }
            case 6:
                if bytesEqualLower(p, i, nameEnd, "expect") && bytesEqualLower(p, vs, ve, "100-continue") {
                    facts.expectContinue = true
                }
            case 7:
                if bytesEqualLower(p, i, nameEnd, "upgrade") && facts.upgradeIndex == nil { facts.upgradeIndex = fields.count }
            case 10:
                if bytesEqualLower(p, i, nameEnd, "connection") { facts.noteConnection(p, vs, ve) }
            case 14:
                if bytesEqualLower(p, i, nameEnd, "content-length") { facts.noteContentLength(p, vs, ve) }
            case 17:
                if bytesEqualLower(p, i, nameEnd, "transfer-encoding") { facts.noteTransferEncoding(p, vs, ve) }
            default: break
            }
        }
        fields.append(HTTPField(name: makeString(p, i, nameEnd), value: makeValueString(p, vs, ve, ascii: ascii)))
        i = lf &+ 1
    }
    return HTTPFields(fields)
}

/// Parses `HTTP/d.d` at `p[a..<a+8]`. Returns nil when malformed.
@inline(__always) func parseVersion(_ p: UnsafeRawBufferPointer, _ a: Int) -> (Int, Int)? {
    guard p.at(a) == 0x48, p.at(a &+ 1) == 0x54, p.at(a &+ 2) == 0x54, p.at(a &+ 3) == 0x50,
          p.at(a &+ 4) == 0x2F, p.at(a &+ 6) == 0x2E else { return nil }
    let ma = p.at(a &+ 5) &- 0x30, mi = p.at(a &+ 7) &- 0x30
    guard ma <= 9, mi <= 9 else { return nil }
    return (Int(ma), Int(mi))
}
