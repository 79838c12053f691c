// A strict RFC 8259 JSON value and parser over bytes. No Foundation.
//
// Strictness: one value and nothing after it but whitespace; no trailing commas, comments, NaN, leading
// zeros, leading '+', or bare control characters in strings; strings must be valid UTF-8 and every
// \u escape must form a valid scalar (lone surrogates are errors); duplicate object keys are errors unless
// `allowDuplicateKeys` is set; nesting is limited by `maxDepth`.

/// A parsed JSON value. Objects keep their members in document order; keys are unique.
public enum JSONValue: Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])
}

/// Why `JSONValue.parse` refused its input, with the byte offset where it noticed.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var offset: Int
    public var message: String
    public init(offset: Int, message: String) {
        self.offset = offset
        self.message = message
    }
    public var description: String { "JSON error at byte \(offset): \(message)" }
}

extension JSONValue: Equatable {
    /// Objects compare by their member sets (order does not matter); numbers compare as Doubles.
    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.number(a), .number(b)): return a == b
        case let (.string(a), .string(b)): return a == b
        case let (.array(a), .array(b)): return a == b
        case let (.object(a), .object(b)):
            guard a.count == b.count else { return false }
            for (k, v) in a {
                guard let other = rhs[k], other == v else { return false }
            }
            return true
        default: return false
        }
    }
}

extension JSONValue {
    /// The member named `key` of an object; nil for a missing member or a non-object.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        let count = key.utf8.count
        for (k, v) in members where k.utf8.count == count && k == key { return v }
        return nil
    }

    /// Walks nested objects: `["realm_access", "roles"]` reads `{"realm_access": {"roles": …}}`.
    public func value(atPath path: [String]) -> JSONValue? {
        var current = self
        for component in path {
            guard let next = current[component] else { return nil }
            current = next
        }
        return current
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }
    public var doubleValue: Double? {
        if case .number(let d) = self { return d }
        return nil
    }
    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }
    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }
    public var objectValue: [(String, JSONValue)]? {
        if case .object(let o) = self { return o }
        return nil
    }
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// Compact JSON text (RFC 8259), members in stored order. Integral numbers within ±2^53 print without
    /// a fraction.
    public func serialized() -> String {
        var out = ""
        serialize(into: &out)
        return out
    }

    func serialize(into out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let d):
            if d == d.rounded(), abs(d) <= 9_007_199_254_740_992 {
                out += String(Int64(d))
            } else {
                out += String(d)
            }
        case .string(let s): JSONValue.serializeString(s, into: &out)
        case .array(let a):
            out += "["
            for (i, v) in a.enumerated() {
                if i > 0 { out += "," }
                v.serialize(into: &out)
            }
            out += "]"
        case .object(let o):
            out += "{"
            for (i, (k, v)) in o.enumerated() {
                if i > 0 { out += "," }
                JSONValue.serializeString(k, into: &out)
                out += ":"
                v.serialize(into: &out)
            }
            out += "}"
        }
    }

    static func serializeString(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral,
    ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(elements) }
    public init(nilLiteral: ()) { self = .null }
}

extension JSONValue {
    public static let defaultMaxDepth = 64

    /// Parses exactly one JSON value from `bytes` (RFC 8259, strict; see the top of this file).
    public static func parse(
        _ bytes: some Collection<UInt8>, maxDepth: Int = defaultMaxDepth, allowDuplicateKeys: Bool = false
    ) throws(JSONParseError) -> JSONValue {
        let result: Result<JSONValue, JSONParseError>? = bytes.withContiguousStorageIfAvailable { buffer in
            parseResult(UnsafeRawBufferPointer(buffer), maxDepth: maxDepth, allowDuplicateKeys: allowDuplicateKeys)
        }
        if let result { return try result.get() }
        let copy = Array(bytes)
        return try copy.withUnsafeBytes { raw in
            parseResult(raw, maxDepth: maxDepth, allowDuplicateKeys: allowDuplicateKeys)
        }.get()
    }

    /// Parses the UTF-8 of a string.
    public static func parse(
        _ text: String, maxDepth: Int = defaultMaxDepth, allowDuplicateKeys: Bool = false
    ) throws(JSONParseError) -> JSONValue {
        var text = text
        return try text.withUTF8 { buffer in
            parseResult(UnsafeRawBufferPointer(buffer), maxDepth: maxDepth, allowDuplicateKeys: allowDuplicateKeys)
        }.get()
    }

    /// Parses from raw memory (the fastest entry point).
    public static func parse(
        buffer: UnsafeRawBufferPointer, maxDepth: Int = defaultMaxDepth, allowDuplicateKeys: Bool = false
    ) throws(JSONParseError) -> JSONValue {
        try parseResult(buffer, maxDepth: maxDepth, allowDuplicateKeys: allowDuplicateKeys).get()
    }

    static func parseResult(
        _ buffer: UnsafeRawBufferPointer, maxDepth: Int, allowDuplicateKeys: Bool
    ) -> Result<JSONValue, JSONParseError> {
        guard let base = buffer.baseAddress, buffer.count > 0 else {
            return .failure(JSONParseError(offset: 0, message: "empty input"))
        }
        var parser = JSONParser(
            p: base.assumingMemoryBound(to: UInt8.self), end: buffer.count, maxDepth: maxDepth,
            allowDuplicateKeys: allowDuplicateKeys)
        do throws(JSONParseError) {
            let value = try parser.parseValue(depth: 0)
            parser.skipWhitespace()
            if parser.i != parser.end {
                throw JSONParseError(offset: parser.i, message: "trailing characters after the value")
            }
            return .success(value)
        } catch {
            return .failure(error)
        }
    }
}

struct JSONParser {
    let p: UnsafePointer<UInt8>
    let end: Int
    var i = 0
    let maxDepth: Int
    let allowDuplicateKeys: Bool

    init(p: UnsafePointer<UInt8>, end: Int, maxDepth: Int, allowDuplicateKeys: Bool) {
        self.p = p
        self.end = end
        self.maxDepth = maxDepth
        self.allowDuplicateKeys = allowDuplicateKeys
    }

    @inline(__always)
    func fail(_ message: String, at offset: Int? = nil) -> JSONParseError {
        JSONParseError(offset: offset ?? i, message: message)
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while i < end {
            let c = p[i]
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { i += 1 } else { return }
        }
    }

    mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        skipWhitespace()
        guard i < end else { throw fail("unexpected end of input") }
        switch p[i] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try parseNumber())
        default:
            throw fail("unexpected character")
        }
    }

    mutating func literal(_ word: StaticString) throws(JSONParseError) {
        let n = word.utf8CodeUnitCount
        guard end - i >= n else { throw fail("invalid literal") }
        let w = word.utf8Start
        for k in 0..<n where p[i + k] != w[k] { throw fail("invalid literal") }
        i += n
    }

    mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
        if depth > maxDepth { throw fail("nesting deeper than \(maxDepth)") }
        i += 1  // {
        var members: [(String, JSONValue)] = []
        members.reserveCapacity(depth == 1 ? 16 : 4)  // top level: a JWT payload's claims without regrowth
        skipWhitespace()
        if i < end, p[i] == UInt8(ascii: "}") {
            i += 1
            return .object(members)
        }
        var seen: Set<String>? = nil
        while true {
            skipWhitespace()
            guard i < end, p[i] == UInt8(ascii: "\"") else { throw fail("expected a member name") }
            let keyOffset = i
            let key = try parseString()
            skipWhitespace()
            guard i < end, p[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
            i += 1
            let value = try parseValue(depth: depth)
            if !allowDuplicateKeys {
                if seen != nil {
                    if !seen!.insert(key).inserted { throw fail("duplicate member \"\(key)\"", at: keyOffset) }
                } else if members.count >= 16 {
                    var s = Set(members.map { $0.0 })
                    if !s.insert(key).inserted { throw fail("duplicate member \"\(key)\"", at: keyOffset) }
                    seen = s
                } else {
                    let keyCount = key.utf8.count
                    for (k, _) in members where k.utf8.count == keyCount && k == key {
                        throw fail("duplicate member \"\(key)\"", at: keyOffset)
                    }
                }
            }
            members.append((key, value))
            skipWhitespace()
            guard i < end else { throw fail("unterminated object") }
            if p[i] == UInt8(ascii: ",") {
                i += 1
                continue
            }
            if p[i] == UInt8(ascii: "}") {
                i += 1
                return .object(members)
            }
            throw fail("expected ',' or '}'")
        }
    }

    mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
        if depth > maxDepth { throw fail("nesting deeper than \(maxDepth)") }
        i += 1  // [
        var elements: [JSONValue] = []
        elements.reserveCapacity(4)
        skipWhitespace()
        if i < end, p[i] == UInt8(ascii: "]") {
            i += 1
            return .array(elements)
        }
        while true {
            elements.append(try parseValue(depth: depth))
            skipWhitespace()
            guard i < end else { throw fail("unterminated array") }
            if p[i] == UInt8(ascii: ",") {
                i += 1
                continue
            }
            if p[i] == UInt8(ascii: "]") {
                i += 1
                return .array(elements)
            }
            throw fail("expected ',' or ']'")
        }
    }

    mutating func parseString() throws(JSONParseError) -> String {
        i += 1  // opening quote
        let start = i
        var nonASCII = false
        // Fast path: no escapes.
        while i < end {
            let c = p[i]
            if c == UInt8(ascii: "\"") {
                let buffer = UnsafeBufferPointer(start: p + start, count: i - start)
                i += 1
                if !nonASCII {
                    if let known = CommonNames.lookup(buffer) { return known }
                    return String(decoding: buffer, as: UTF8.self)
                }
                guard let s = String(validating: buffer, as: UTF8.self) else {
                    throw fail("invalid UTF-8 in string", at: start)
                }
                return s
            }
            if c == UInt8(ascii: "\\") { break }
            if c < 0x20 { throw fail("control character in string") }
            if c >= 0x80 { nonASCII = true }
            i += 1
        }
        guard i < end else { throw fail("unterminated string", at: start - 1) }
        // Slow path: escapes present.
        var bytes = [UInt8]()
        bytes.reserveCapacity(i - start + 16)
        bytes.append(contentsOf: UnsafeBufferPointer(start: p + start, count: i - start))
        while true {
            guard i < end else { throw fail("unterminated string", at: start - 1) }
            let c = p[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                break
            }
            if c < 0x20 { throw fail("control character in string") }
            if c != UInt8(ascii: "\\") {
                bytes.append(c)
                i += 1
                continue
            }
            let escapeAt = i
            i += 1
            guard i < end else { throw fail("unterminated escape") }
            let e = p[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""): bytes.append(0x22)
            case UInt8(ascii: "\\"): bytes.append(0x5C)
            case UInt8(ascii: "/"): bytes.append(0x2F)
            case UInt8(ascii: "b"): bytes.append(0x08)
            case UInt8(ascii: "f"): bytes.append(0x0C)
            case UInt8(ascii: "n"): bytes.append(0x0A)
            case UInt8(ascii: "r"): bytes.append(0x0D)
            case UInt8(ascii: "t"): bytes.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if scalar >= 0xD800 && scalar <= 0xDBFF {
                    guard end - i >= 6, p[i] == UInt8(ascii: "\\"), p[i + 1] == UInt8(ascii: "u") else {
                        throw fail("lone surrogate", at: escapeAt)
                    }
                    i += 2
                    let low = try hex4()
                    guard low >= 0xDC00 && low <= 0xDFFF else { throw fail("lone surrogate", at: escapeAt) }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if scalar >= 0xDC00 && scalar <= 0xDFFF {
                    throw fail("lone surrogate", at: escapeAt)
                }
                appendUTF8(scalar, to: &bytes)
            default:
                throw fail("invalid escape", at: escapeAt)
            }
        }
        guard let s = String(validating: bytes, as: UTF8.self) else {
            throw fail("invalid UTF-8 in string", at: start)
        }
        return s
    }

    mutating func hex4() throws(JSONParseError) -> UInt32 {
        guard end - i >= 4 else { throw fail("short \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = p[i]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw fail("invalid hex digit in \\u escape")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    func appendUTF8(_ v: UInt32, to bytes: inout [UInt8]) {
        if v < 0x80 {
            bytes.append(UInt8(v))
        } else if v < 0x800 {
            bytes.append(UInt8(0xC0 | (v >> 6)))
            bytes.append(UInt8(0x80 | (v & 0x3F)))
        } else if v < 0x10000 {
            bytes.append(UInt8(0xE0 | (v >> 12)))
            bytes.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            bytes.append(UInt8(0x80 | (v & 0x3F)))
        } else {
            bytes.append(UInt8(0xF0 | (v >> 18)))
            bytes.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
            bytes.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            bytes.append(UInt8(0x80 | (v & 0x3F)))
        }
    }

    @inline(__always)
    func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    static let powersOfTen: [Double] = (0...22).map { e in
        var v = 1.0
        for _ in 0..<e { v *= 10 }
        return v
    }

    mutating func parseNumber() throws(JSONParseError) -> Double {
        let start = i
        var negative = false
        if p[i] == UInt8(ascii: "-") {
            negative = true
            i += 1
        }
        guard i < end, isDigit(p[i]) else { throw fail("invalid number", at: start) }
        var mantissa: UInt64 = 0
        var digits = 0
        if p[i] == UInt8(ascii: "0") {
            i += 1
            if i < end, isDigit(p[i]) { throw fail("leading zero in number", at: start) }
        } else {
            while i < end, isDigit(p[i]) {
                if digits < 19 { mantissa = mantissa &* 10 &+ UInt64(p[i] - UInt8(ascii: "0")) }
                digits += 1
                i += 1
            }
        }
        var fractionDigits = 0
        if i < end, p[i] == UInt8(ascii: ".") {
            i += 1
            guard i < end, isDigit(p[i]) else { throw fail("digit expected after '.'", at: start) }
            while i < end, isDigit(p[i]) {
                if digits < 19 { mantissa = mantissa &* 10 &+ UInt64(p[i] - UInt8(ascii: "0")) }
                if mantissa != 0 { digits += 1 }
                fractionDigits += 1
                i += 1
            }
        }
        var exponent = 0
        if i < end, p[i] == UInt8(ascii: "e") || p[i] == UInt8(ascii: "E") {
            i += 1
            var negativeExponent = false
            if i < end, p[i] == UInt8(ascii: "+") || p[i] == UInt8(ascii: "-") {
                negativeExponent = p[i] == UInt8(ascii: "-")
                i += 1
            }
            guard i < end, isDigit(p[i]) else { throw fail("digit expected in exponent", at: start) }
            while i < end, isDigit(p[i]) {
                if exponent < 100_000 { exponent = exponent * 10 + Int(p[i] - UInt8(ascii: "0")) }
                i += 1
            }
            if negativeExponent { exponent = -exponent }
        }
        // Exact fast path (Clinger): a mantissa below 10^15 and a power of ten up to 22 are exact doubles,
        // so one multiplication or division rounds correctly.
        let scale = exponent - fractionDigits
        if digits <= 15 && fractionDigits <= 30 && scale >= -22 && scale <= 22 {
            var d = Double(mantissa)
            if scale > 0 {
                d *= JSONParser.powersOfTen[scale]
            } else if scale < 0 {
                d /= JSONParser.powersOfTen[-scale]
            }
            if d.isFinite { return negative ? -d : d }
        }
        let text = String(decoding: UnsafeBufferPointer(start: p + start, count: i - start), as: UTF8.self)
        guard let d = Double(text), d.isFinite else { throw fail("number out of range", at: start) }
        return d
    }
}

/// Names that appear in nearly every JWS header and JWT payload: returned without building a new String.
enum CommonNames {
    static let names: [String] = [
        "alg", "typ", "kid", "JWT", "cty", "x5t", "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "azp", "sid",
        "scope", "email", "name", "roles", "groups", "tenant", "client_id", "permissions", "email_verified",
        "preferred_username", "given_name", "family_name", "realm_access", "resource_access", "auth_time", "nonce",
        "acr", "amr", "at_hash", "session_state", "scp", "tid", "oid", "ver", "HS256", "RS256", "ES256", "PS256",
        "EdDSA", "payload", "token", "key", "url",
    ]
    /// By length (up to 24), the names' bytes packed for comparison.
    static let table: [[(UInt64, UInt64, UInt64, String)]] = {
        var t = [[(UInt64, UInt64, UInt64, String)]](repeating: [], count: 25)
        for n in names {
            let b = Array(n.utf8)
            let w = pack(b)
            t[b.count].append((w.0, w.1, w.2, n))
        }
        return t
    }()

    static func pack(_ b: [UInt8]) -> (UInt64, UInt64, UInt64) {
        var w = (UInt64(0), UInt64(0), UInt64(0))
        for (i, c) in b.enumerated() {
            let v = UInt64(c) << (8 * UInt64(i % 8))
            if i < 8 { w.0 |= v } else if i < 16 { w.1 |= v } else { w.2 |= v }
        }
        return w
    }

    @inline(__always)
    static func lookup(_ buffer: UnsafeBufferPointer<UInt8>) -> String? {
        let n = buffer.count
        guard n >= 3, n <= 24 else { return nil }
        var w = (UInt64(0), UInt64(0), UInt64(0))
        for i in 0..<n {
            let v = UInt64(buffer[i]) << (8 * UInt64(i & 7))
            if i < 8 { w.0 |= v } else if i < 16 { w.1 |= v } else { w.2 |= v }
        }
        for entry in table[n] where entry.0 == w.0 && entry.1 == w.1 && entry.2 == w.2 {
            return entry.3
        }
        return nil
    }
}
