// HTTPCore: pure HTTP/1.1 types, parser and serializer. Imports nothing (no Dispatch, Glibc, Foundation).

/// One header field as received. Names keep their original case; compare with `lowercasedName`.
public struct HTTPField: Sendable, Equatable {
    public var name: String
    public var value: String
    public init(name: String, value: String) { self.name = name; self.value = value }
}

/// Ordered header fields with case-insensitive lookup.
public struct HTTPFields: Sendable, Equatable, Sequence {
    public var fields: [HTTPField]
    public init(_ fields: [HTTPField] = []) { self.fields = fields }
    public func makeIterator() -> IndexingIterator<[HTTPField]> { fields.makeIterator() }
    public var count: Int { fields.count }

    /// First value for `name` (ASCII case-insensitive).
    public subscript(_ name: String) -> String? {
        for f in fields where asciiCaseInsensitiveEquals(f.name, name) { return f.value }
        return nil
    }
    /// All values for `name`, in order.
    public func values(_ name: String) -> [String] {
        fields.filter { asciiCaseInsensitiveEquals($0.name, name) }.map(\.value)
    }
    public func contains(_ name: String) -> Bool { self[name] != nil }
    public mutating func append(_ name: String, _ value: String) { fields.append(HTTPField(name: name, value: value)) }
    public mutating func remove(_ name: String) { fields.removeAll { asciiCaseInsensitiveEquals($0.name, name) } }
    public mutating func replace(_ name: String, _ value: String) { remove(name); append(name, value) }
}

@inline(__always) func asciiLower(_ b: UInt8) -> UInt8 { (b >= 65 && b <= 90) ? b | 0x20 : b }

/// ASCII case-insensitive comparison of two strings (header names, tokens).
public func asciiCaseInsensitiveEquals(_ a: String, _ b: String) -> Bool {
    var a = a, b = b
    return a.withUTF8 { ua in
        b.withUTF8 { ub in
            guard ua.count == ub.count else { return false }
            for i in 0..<ua.count where asciiLower(ua[i]) != asciiLower(ub[i]) { return false }
            return true
        }
    }
}

public struct HTTPVersion: Sendable, Equatable {
    public var major: Int
    public var minor: Int
    public init(major: Int, minor: Int) { self.major = major; self.minor = minor }
    public static let http11 = HTTPVersion(major: 1, minor: 1)
    public static let http10 = HTTPVersion(major: 1, minor: 0)
}

/// How a message body is delimited (RFC 9112 §6).
public enum BodyFraming: Sendable, Equatable {
    case none
    case contentLength(UInt64)
    case chunked
    /// Responses only: body runs until the connection closes.
    case untilClose
}

public struct HTTPRequestHead: Sendable, Equatable {
    public var method: String
    /// The request target exactly as received (forwarded byte for byte).
    public var target: String
    public var version: HTTPVersion
    public var fields: HTTPFields
    public var framing: BodyFraming
    /// Persistent connection after this message (HTTP/1.1 default, `Connection: close`, HTTP/1.0 keep-alive).
    public var keepAlive: Bool
    /// `Expect: 100-continue` was sent.
    public var expectContinue: Bool
    /// `Connection: upgrade` together with an `Upgrade` field.
    public var upgrade: String?
    public init(method: String, target: String, version: HTTPVersion, fields: HTTPFields,
                framing: BodyFraming, keepAlive: Bool, expectContinue: Bool, upgrade: String?) {
        self.method = method; self.target = target; self.version = version; self.fields = fields
        self.framing = framing; self.keepAlive = keepAlive; self.expectContinue = expectContinue; self.upgrade = upgrade
    }
}

public struct HTTPResponseHead: Sendable, Equatable {
    public var version: HTTPVersion
    public var status: Int
    public var reason: String
    public var fields: HTTPFields
    public var framing: BodyFraming
    public var keepAlive: Bool
    public init(version: HTTPVersion, status: Int, reason: String, fields: HTTPFields, framing: BodyFraming, keepAlive: Bool) {
        self.version = version; self.status = status; self.reason = reason; self.fields = fields
        self.framing = framing; self.keepAlive = keepAlive
    }
}

/// Limits the parser enforces.
public struct HTTPParserLimits: Sendable, Equatable {
    public var maxHeaderBytes: Int     // request/status line + fields + CRLFs
    public var maxFieldCount: Int
    public var maxTrailerBytes: Int
    public init(maxHeaderBytes: Int = 65536, maxFieldCount: Int = 100, maxTrailerBytes: Int = 8192) {
        self.maxHeaderBytes = maxHeaderBytes; self.maxFieldCount = maxFieldCount; self.maxTrailerBytes = maxTrailerBytes
    }
}

/// Every reject rule has a name, so tests and metrics can name it.
public enum HTTPParseError: Error, Sendable, Equatable {
    case invalidRequestLine
    case invalidMethod
    case invalidTarget
    case invalidVersion
    case unsupportedVersion
    case invalidStatusLine
    case bareLF
    case obsFold
    case whitespaceBeforeColon
    case invalidFieldName
    case invalidFieldValue          // control characters (other than HTAB) in a value
    case headerTooLarge             // 431
    case tooManyFields              // 431
    case missingHost
    case multipleHost
    case contentLengthWithTransferEncoding
    case conflictingContentLength
    case invalidContentLength
    case transferEncodingNotChunkedLast
    case badChunkSize
    case chunkSizeOverflow
    case badChunkTerminator
    case trailerTooLarge
    case prematureEOF
    /// Transfer-Encoding lists a coding other than a single final `chunked` (e.g. `gzip, chunked`, `chunked, chunked`).
    /// Only exactly `chunked` is accepted. (A list whose last coding is not `chunked` is `.transferEncodingNotChunkedLast`.)
    case unsupportedTransferEncoding
    /// Transfer-Encoding in an HTTP/1.0 message (RFC 9112 §6.1: faulty framing).
    case transferEncodingInHTTP10

    /// Status code a server answers this reject with.
    public var status: Int {
        switch self {
        case .headerTooLarge, .tooManyFields: return 431
        case .unsupportedVersion: return 505
        case .unsupportedTransferEncoding: return 501
        default: return 400
        }
    }
    /// Stable snake_case name (metrics label, log reason, JSON body reason).
    public var reason: String {
        switch self {
        case .invalidRequestLine: return "invalid_request_line"
        case .invalidMethod: return "invalid_method"
        case .invalidTarget: return "invalid_target"
        case .invalidVersion: return "invalid_version"
        case .unsupportedVersion: return "unsupported_version"
        case .invalidStatusLine: return "invalid_status_line"
        case .bareLF: return "bare_lf"
        case .obsFold: return "obs_fold"
        case .whitespaceBeforeColon: return "whitespace_before_colon"
        case .invalidFieldName: return "invalid_field_name"
        case .invalidFieldValue: return "invalid_field_value"
        case .headerTooLarge: return "header_too_large"
        case .tooManyFields: return "too_many_fields"
        case .missingHost: return "missing_host"
        case .multipleHost: return "multiple_host"
        case .contentLengthWithTransferEncoding: return "content_length_with_transfer_encoding"
        case .conflictingContentLength: return "conflicting_content_length"
        case .invalidContentLength: return "invalid_content_length"
        case .transferEncodingNotChunkedLast: return "transfer_encoding_not_chunked_last"
        case .badChunkSize: return "bad_chunk_size"
        case .chunkSizeOverflow: return "chunk_size_overflow"
        case .badChunkTerminator: return "bad_chunk_terminator"
        case .trailerTooLarge: return "trailer_too_large"
        case .prematureEOF: return "premature_eof"
        case .unsupportedTransferEncoding: return "unsupported_transfer_encoding"
        case .transferEncodingInHTTP10: return "transfer_encoding_in_http10"
        }
    }
}

/// What one call to `parse` produced. `consumed` bytes at the front of the given buffer are done with;
/// the caller drops them and calls again with the rest (plus any new bytes).
public enum HTTPParseEvent<Head: Sendable>: Sendable {
    /// Nothing complete yet: keep the bytes (`consumed` may be > 0, e.g. after a chunk-size line) and read more.
    case needMore(consumed: Int)
    case head(Head, consumed: Int)
    /// Body bytes at `range` of the buffer passed in (already counted in `consumed`).
    case body(Range<Int>, consumed: Int)
    /// Message complete. `trailers` are the chunked trailer fields (empty otherwise).
    case end(trailers: HTTPFields, consumed: Int)
}

/// The shape both incremental parsers share: raw bytes in, the next event out. Array and slice callers go
/// through the extension below.
public protocol HTTPMessageParser {
    associatedtype Head: Sendable
    mutating func parse(_ p: UnsafeRawBufferPointer) throws(HTTPParseError) -> HTTPParseEvent<Head>
}

extension HTTPMessageParser {
    public mutating func parse(_ bytes: [UInt8]) throws(HTTPParseError) -> HTTPParseEvent<Head> {
        try parse(bytes[...])
    }

    public mutating func parse(_ bytes: ArraySlice<UInt8>) throws(HTTPParseError) -> HTTPParseEvent<Head> {
        let r: Result<HTTPParseEvent<Head>, HTTPParseError> = bytes.withUnsafeBytes { p in
            do throws(HTTPParseError) { return .success(try self.parse(p)) } catch { return .failure(error) }
        }
        return try r.get()
    }
}
