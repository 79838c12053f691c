// Head and chunk serialization. Callers must only pass valid field names/values (no CR, LF, NUL): values that came
// out of the parsers are valid; use `isValidFieldName` / `isValidFieldValue` for anything else.

@inline(__always) private func appendCRLF(_ out: inout [UInt8]) { out.append(CR); out.append(LF) }

@inline(__always) private func appendFields(_ fields: HTTPFields, _ out: inout [UInt8]) {
    for f in fields.fields {
        out.append(contentsOf: f.name.utf8)
        out.append(COLON)
        out.append(SP)
        out.append(contentsOf: f.value.utf8)
        appendCRLF(&out)
    }
}

@inline(__always) private func appendDecimal(_ n: Int, _ out: inout [UInt8]) {
    if n < 0 { out.append(0x2D); appendDecimal(0 &- n, &out); return }
    if n >= 10 { appendDecimal(n / 10, &out) }
    out.append(UInt8(truncatingIfNeeded: n % 10) &+ 0x30)
}

/// Appends `method SP target SP HTTP/major.minor CRLF fields CRLF`.
public func serializeRequestHead(method: String, target: String, version: HTTPVersion = .http11,
                                 fields: HTTPFields, into out: inout [UInt8]) {
    out.append(contentsOf: method.utf8)
    out.append(SP)
    out.append(contentsOf: target.utf8)
    out.append(contentsOf: [SP, 0x48, 0x54, 0x54, 0x50, 0x2F] as [UInt8])
    appendDecimal(version.major, &out)
    out.append(0x2E)
    appendDecimal(version.minor, &out)
    appendCRLF(&out)
    appendFields(fields, &out)
    appendCRLF(&out)
}

/// Appends `HTTP/1.1 SSS reason CRLF fields CRLF`. `reason` nil → `reasonPhrase(for: status)`.
public func serializeResponseHead(status: Int, reason: String? = nil, fields: HTTPFields, into out: inout [UInt8]) {
    out.append(contentsOf: [0x48, 0x54, 0x54, 0x50, 0x2F, 0x31, 0x2E, 0x31, SP] as [UInt8])
    let s = status < 0 ? 0 : status > 999 ? 999 : status
    out.append(UInt8(truncatingIfNeeded: s / 100) &+ 0x30)
    out.append(UInt8(truncatingIfNeeded: s / 10 % 10) &+ 0x30)
    out.append(UInt8(truncatingIfNeeded: s % 10) &+ 0x30)
    out.append(SP)
    out.append(contentsOf: (reason ?? reasonPhrase(for: status)).utf8)
    appendCRLF(&out)
    appendFields(fields, &out)
    appendCRLF(&out)
}

/// Standard reason phrase (RFC 9110 §15); "" for unknown codes.
public func reasonPhrase(for status: Int) -> String {
    switch status {
    case 100: return "Continue"
    case 101: return "Switching Protocols"
    case 103: return "Early Hints"
    case 200: return "OK"
    case 201: return "Created"
    case 202: return "Accepted"
    case 203: return "Non-Authoritative Information"
    case 204: return "No Content"
    case 205: return "Reset Content"
    case 206: return "Partial Content"
    case 300: return "Multiple Choices"
    case 301: return "Moved Permanently"
    case 302: return "Found"
    case 303: return "See Other"
    case 304: return "Not Modified"
    case 307: return "Temporary Redirect"
    case 308: return "Permanent Redirect"
    case 400: return "Bad Request"
    case 401: return "Unauthorized"
    case 402: return "Payment Required"
    case 403: return "Forbidden"
    case 404: return "Not Found"
    case 405: return "Method Not Allowed"
    case 406: return "Not Acceptable"
    case 407: return "Proxy Authentication Required"
    case 408: return "Request Timeout"
    case 409: return "Conflict"
    case 410: return "Gone"
    case 411: return "Length Required"
    case 412: return "Precondition Failed"
    case 413: return "Content Too Large"
    case 414: return "URI Too Long"
    case 415: return "Unsupported Media Type"
    case 416: return "Range Not Satisfiable"
    case 417: return "Expectation Failed"
    case 421: return "Misdirected Request"
    case 422: return "Unprocessable Content"
    case 425: return "Too Early"
    case 426: return "Upgrade Required"
    case 428: return "Precondition Required"
    case 429: return "Too Many Requests"
    case 431: return "Request Header Fields Too Large"
    case 451: return "Unavailable For Legal Reasons"
    case 500: return "Internal Server Error"
    case 501: return "Not Implemented"
    case 502: return "Bad Gateway"
    case 503: return "Service Unavailable"
    case 504: return "Gateway Timeout"
    case 505: return "HTTP Version Not Supported"
    default: return ""
    }
}

/// `name` is a non-empty RFC 9110 token.
public func isValidFieldName(_ name: String) -> Bool {
    var n = 0
    for b in name.utf8 {
        guard isTchar(b) else { return false }
        n &+= 1
    }
    return n > 0
}

/// `value` has no CTLs other than HTAB (no CR/LF/NUL/DEL) and no leading/trailing whitespace.
public func isValidFieldValue(_ value: String) -> Bool {
    for b in value.utf8 where !isFieldValueByte(b) { return false }
    if let f = value.utf8.first, isOWS(f) { return false }
    if let l = value.utf8.last, isOWS(l) { return false }
    return true
}

/// Chunked transfer-coding writer (RFC 9112 §7.1).
public enum ChunkedEncoder {
    /// Appends `hex-size CRLF data CRLF`. An empty `bytes` appends nothing (a zero-size chunk would end the body).
    public static func appendChunk(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        guard bytes.count > 0 else { return }
        appendChunkHeader(size: bytes.count, into: &out)
        out.append(contentsOf: bytes)
        appendCRLF(&out)
    }

    public static func appendChunk(_ bytes: [UInt8], into out: inout [UInt8]) {
        bytes.withUnsafeBytes { appendChunk($0, into: &out) }
    }

    /// Appends `hex-size CRLF` only; the caller then writes `size` bytes and `appendChunkTrailer`.
    public static func appendChunkHeader(size: Int, into out: inout [UInt8]) {
        precondition(size > 0)
        var shift = (Int.bitWidth &- size.leadingZeroBitCount &- 1) / 4 * 4
        while shift >= 0 {
            let d = UInt8(truncatingIfNeeded: (size &>> shift) & 0xF)
            out.append(d < 10 ? d &+ 0x30 : d &+ 0x57)
            shift &-= 4
        }
        appendCRLF(&out)
    }

    /// The CRLF after a chunk's data.
    public static func appendChunkTrailer(into out: inout [UInt8]) { appendCRLF(&out) }

    /// Appends `0 CRLF trailer-fields CRLF`.
    public static func appendLastChunk(trailers: HTTPFields = HTTPFields(), into out: inout [UInt8]) {
        out.append(0x30)
        appendCRLF(&out)
        appendFields(trailers, &out)
        appendCRLF(&out)
    }
}
