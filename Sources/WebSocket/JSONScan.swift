// A minimal strict JSON (RFC 8259) scanner: enough to validate a document and pull one top-level string field.

/// The string value of the top-level member `field` of the JSON object `json`.
///
/// - `nil`: `json` is not exactly one valid JSON object (surrounding whitespace allowed). The whole document is
///   validated (RFC 8259 grammar: no trailing commas, no comments, no single quotes, no raw control characters
///   in strings, strict number syntax), so a truncated or garbled object is nil, never a partial answer.
/// - `.some(nil)`: a valid object without a member `field` whose value is a string (absent, or `null`, a number,
///   an object…), or whose string contains an unpaired surrogate escape (`\uD800`), which has no Swift
///   representation.
/// - `.some(value)`: the unescaped value (`\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`, `\uXXXX` incl.
///   surrogate pairs).
///
/// Only members of the top-level object count; a `field` key inside a nested object or array never matches.
/// Keys are compared after unescaping (`"tok\u0065n"` is `token`), byte for byte. With duplicate keys the
/// **last** one wins, as in JavaScript's `JSON.parse` (the behaviour of the socket.io server behind us), so the
/// gateway sees the value the upstream will see. Nesting deeper than 512 levels → nil.
public func jsonStringField(_ json: [UInt8], _ field: String) -> String?? {
    json.withUnsafeBufferPointer { buf in
        var s = JSONScanner(buf)
        return s.topLevelStringField(Array(field.utf8))
    }
}

/// Overload for text.
public func jsonStringField(_ json: String, _ field: String) -> String?? {
    jsonStringField(Array(json.utf8), field)
}

/// true when `json` is exactly one valid JSON value (surrounding whitespace allowed).
public func isValidJSON(_ json: [UInt8]) -> Bool {
    json.withUnsafeBufferPointer { buf in
        var s = JSONScanner(buf)
        s.skipWS()
        guard s.skipValue() else { return false }
        s.skipWS()
        return s.i == buf.count
    }
}

/// true when `json` is exactly one valid JSON object (surrounding whitespace allowed).
public func isJSONObject(_ json: [UInt8]) -> Bool {
    json.withUnsafeBufferPointer { buf in
        var s = JSONScanner(buf)
        s.skipWS()
        guard s.peek == UInt8(ascii: "{"), s.skipValue() else { return false }
        s.skipWS()
        return s.i == buf.count
    }
}

struct JSONScanner {
    static let maxDepth = 512
    let b: UnsafeBufferPointer<UInt8>
    var i = 0

    init(_ b: UnsafeBufferPointer<UInt8>) { self.b = b }

    var peek: UInt8? { i < b.count ? b[i] : nil }

    mutating func skipWS() {
        while i < b.count {
            switch b[i] {
            case 0x20, 0x09, 0x0A, 0x0D: i += 1
            default: return
            }
        }
    }

    mutating func eat(_ c: UInt8) -> Bool {
        if i < b.count && b[i] == c { i += 1; return true }
        return false
    }

    mutating func topLevelStringField(_ field: [UInt8]) -> String?? {
        skipWS()
        guard eat(UInt8(ascii: "{")) else { return nil }
        var result: String?? = .some(nil)
        skipWS()
        if !eat(UInt8(ascii: "}")) {
            while true {
                skipWS()
                guard let key = string(decode: true) else { return nil }
                skipWS()
                guard eat(UInt8(ascii: ":")) else { return nil }
                skipWS()
                if key.bytes == field && !key.loneSurrogate {
                    if peek == UInt8(ascii: "\"") {
                        guard let v = string(decode: true) else { return nil }
                        result = v.loneSurrogate ? .some(nil) : .some(String(decoding: v.bytes, as: UTF8.self))
                    } else {
                        guard skipValue() else { return nil }
                        result = .some(nil)
                    }
                } else {
                    guard skipValue() else { return nil }
                }
                skipWS()
                if eat(UInt8(ascii: ",")) { continue }
                if eat(UInt8(ascii: "}")) { break }
                return nil
            }
        }
        skipWS()
        return i == b.count ? result : nil
    }

    /// Parses a string at `i` (which must be `"`). With `decode`, returns the unescaped UTF-8 bytes; without,
    /// only validates (empty bytes). nil when malformed.
    mutating func string(decode: Bool) -> (bytes: [UInt8], loneSurrogate: Bool)? {
        guard eat(UInt8(ascii: "\"")) else { return nil }
        var out: [UInt8] = []
        var lone = false
        while i < b.count {
            let c = b[i]
            i += 1
            switch c {
            case UInt8(ascii: "\""):
                return (out, lone)
            case 0x00..<0x20:
                return nil
            case UInt8(ascii: "\\"):
                guard i < b.count else { return nil }
                let e = b[i]
                i += 1
                let plain: UInt8
                switch e {
                case UInt8(ascii: "\""): plain = 0x22
                case UInt8(ascii: "\\"): plain = 0x5C
                case UInt8(ascii: "/"): plain = 0x2F
                case UInt8(ascii: "b"): plain = 0x08
                case UInt8(ascii: "f"): plain = 0x0C
                case UInt8(ascii: "n"): plain = 0x0A
                case UInt8(ascii: "r"): plain = 0x0D
                case UInt8(ascii: "t"): plain = 0x09
                case UInt8(ascii: "u"):
                    guard let u = hex4() else { return nil }
                    if !decode { continue }
                    var scalar: UInt32 = u
                    if (0xD800..<0xDC00).contains(u) {
                        // High surrogate: a pair needs `\uDC00`–`\uDFFF` right after.
                        let save = i
                        if i + 1 < b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") {
                            i += 2
                            guard let lo = hex4() else { return nil }
                            if (0xDC00..<0xE000).contains(lo) {
                                scalar = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                i = save
                                lone = true
                                continue
                            }
                        } else {
                            lone = true
                            continue
                        }
                    } else if (0xDC00..<0xE000).contains(u) {
                        lone = true
                        continue
                    }
                    UTF8.encode(Unicode.Scalar(scalar)!) { out.append($0) }
                    continue
                default:
                    return nil
                }
                if decode { out.append(plain) }
            default:
                if decode { out.append(c) }
            }
        }
        return nil
    }

    private mutating func hex4() -> UInt32? {
        guard i + 4 <= b.count else { return nil }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = b[i]
            let d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c - UInt8(ascii: "A") + 10
            default: return nil
            }
            v = v << 4 | UInt32(d)
            i += 1
        }
        return v
    }

    private mutating func digits() -> Int {
        let start = i
        while i < b.count, b[i] >= UInt8(ascii: "0"), b[i] <= UInt8(ascii: "9") { i += 1 }
        return i - start
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    mutating func number() -> Bool {
        _ = eat(UInt8(ascii: "-"))
        guard let first = peek else { return false }
        if first == UInt8(ascii: "0") {
            i += 1
        } else if first >= UInt8(ascii: "1") && first <= UInt8(ascii: "9") {
            _ = digits()
        } else {
            return false
        }
        if eat(UInt8(ascii: ".")) { guard digits() > 0 else { return false } }
        if eat(UInt8(ascii: "e")) || eat(UInt8(ascii: "E")) {
            if !eat(UInt8(ascii: "+")) { _ = eat(UInt8(ascii: "-")) }
            guard digits() > 0 else { return false }
        }
        return true
    }

    private mutating func literal(_ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard i + n <= b.count else { return false }
        let p = word.utf8Start
        for k in 0..<n where b[i + k] != p[k] { return false }
        i += n
        return true
    }

    /// Skips one value at `i` (after whitespace has been skipped), iteratively: nesting costs one byte of
    /// stack per level, up to `maxDepth`.
    mutating func skipValue() -> Bool {
        var stack: [UInt8] = []  // "{" or "[" per open container
        value: while true {
            skipWS()
            guard let c = peek else { return false }
            switch c {
            case UInt8(ascii: "{"):
                i += 1
                skipWS()
                if !eat(UInt8(ascii: "}")) {
                    guard stack.count < Self.maxDepth else { return false }
                    stack.append(c)
                    guard string(decode: false) != nil else { return false }
                    skipWS()
                    guard eat(UInt8(ascii: ":")) else { return false }
                    continue value
                }
            case UInt8(ascii: "["):
                i += 1
                skipWS()
                if !eat(UInt8(ascii: "]")) {
                    guard stack.count < Self.maxDepth else { return false }
                    stack.append(c)
                    continue value
                }
            case UInt8(ascii: "\""):
                guard string(decode: false) != nil else { return false }
            case UInt8(ascii: "t"): guard literal("true") else { return false }
            case UInt8(ascii: "f"): guard literal("false") else { return false }
            case UInt8(ascii: "n"): guard literal("null") else { return false }
            default:
                guard number() else { return false }
            }
            // After a complete value: close containers or move to the next element.
            while let top = stack.last {
                skipWS()
                if eat(UInt8(ascii: ",")) {
                    if top == UInt8(ascii: "{") {
                        skipWS()
                        guard string(decode: false) != nil else { return false }
                        skipWS()
                        guard eat(UInt8(ascii: ":")) else { return false }
                    }
                    continue value
                }
                guard eat(top == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")) else { return false }
                stack.removeLast()
            }
            return true
        }
    }
}

/// `s` as a JSON string literal (quotes included): `"` `\` and control characters escaped, everything else
/// (including non-ASCII) as UTF-8.
public func jsonQuote(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\u{08}": out += "\\b"
        case "\u{0C}": out += "\\f"
        default:
            if u.value < 0x20 {
                let hex = Array("0123456789abcdef")
                out += "\\u00" + String(hex[Int(u.value >> 4)]) + String(hex[Int(u.value & 15)])
            } else {
                out.unicodeScalars.append(u)
            }
        }
    }
    out += "\""
    return out
}
