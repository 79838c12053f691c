// Base64 and base64url (RFC 4648), strict by default. One codec for the JWT engine (JWS segments, JWK
// members, configured secrets) and the WebSocket target (Sec-WebSocket-Key/Accept, Engine.IO binary
// packets, subprotocol tokens). Pure: imports nothing.

public enum Base64 {
    static let urlAlphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    static let standardAlphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Decoding tables as raw memory (no array access on the hot path); 0xFF marks a byte outside the alphabet.
    @usableFromInline nonisolated(unsafe) static let urlTable: UnsafePointer<UInt8> = makeTable(urlAlphabet)
    nonisolated(unsafe) static let standardTable: UnsafePointer<UInt8> = makeTable(standardAlphabet)

    static func makeTable(_ alphabet: [UInt8]) -> UnsafePointer<UInt8> {
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
        p.initialize(repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { p[Int(c)] = UInt8(i) }
        return UnsafePointer(p)
    }

    /// Decoded length of `n` unpadded characters (n % 4 != 1).
    @inlinable static func decodedCount(_ n: Int) -> Int { n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1) }

    /// The strict decoder behind every entry point: unpadded input in the alphabet of `table` only (no `=`,
    /// no whitespace), a length ≢ 1 (mod 4), and zero unused low bits in the last character (one encoding per
    /// byte string). Writes `decodedCount(src.count)` bytes to `out`; returns that count, or -1 when any rule
    /// is broken.
    @inlinable @inline(__always)
    static func decode(_ src: UnsafeRawBufferPointer, table t: UnsafePointer<UInt8>, into out: UnsafeMutablePointer<UInt8>) -> Int {
        let n = src.count
        if n % 4 == 1 { return -1 }
        if n == 0 { return 0 }
        let s = src.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let full = n / 4
        let rem = n % 4
        var d = 0
        var k = 0
        var bad: UInt8 = 0
        for _ in 0..<full {
            let a = t[Int(s[k])], b = t[Int(s[k + 1])], c = t[Int(s[k + 2])], e = t[Int(s[k + 3])]
            bad |= a | b | c | e
            let v = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(e)
            out[d] = UInt8(truncatingIfNeeded: v >> 16)
            out[d + 1] = UInt8(truncatingIfNeeded: v >> 8)
            out[d + 2] = UInt8(truncatingIfNeeded: v)
            d += 3
            k += 4
        }
        if rem == 2 {
            let a = t[Int(s[k])], b = t[Int(s[k + 1])]
            bad |= a | b
            if b & 0x0F != 0 { return -1 }
            out[d] = a << 2 | b >> 4
            d += 1
        } else if rem == 3 {
            let a = t[Int(s[k])], b = t[Int(s[k + 1])], c = t[Int(s[k + 2])]
            bad |= a | b | c
            if c & 0x03 != 0 { return -1 }
            out[d] = a << 2 | b >> 4
            out[d + 1] = (b & 0x0F) << 4 | c >> 2
            d += 2
        }
        return bad & 0xC0 != 0 ? -1 : d
    }

    /// Strict unpadded base64url into `out` (room for `src.count * 3 / 4` bytes): the JWS hot path. Returns
    /// the decoded length, or -1 when any rule is broken.
    @inlinable @inline(__always)
    public static func decodeURL(_ src: UnsafeRawBufferPointer, into out: UnsafeMutablePointer<UInt8>) -> Int {
        decode(src, table: urlTable, into: out)
    }

    /// Strict decoding of `bytes[range]` (unpadded) into a new array; nil when any rule is broken.
    static func decode(_ bytes: [UInt8], _ range: Range<Int>, table: UnsafePointer<UInt8>) -> [UInt8]? {
        if range.count % 4 == 1 { return nil }
        if range.isEmpty { return [] }
        let count = decodedCount(range.count)
        var ok = true
        let out = [UInt8](unsafeUninitializedCapacity: count) { buf, initialized in
            let n = bytes.withUnsafeBytes { decode(UnsafeRawBufferPointer(rebasing: $0[range]), table: table, into: buf.baseAddress!) }
            ok = n == count
            // Every byte is written whenever the input is valid; on failure the content is not used.
            initialized = count
        }
        return ok ? out : nil
    }

    /// Strict unpadded base64url (the JWS form). Nil when any rule is broken.
    public static func decodeURL(_ text: some StringProtocol) -> [UInt8]? {
        let bytes = Array(text.utf8)
        return decode(bytes, 0..<bytes.count, table: urlTable)
    }

    /// Strict decoding with `=` padding handled: padding only at the end and only to a multiple of 4
    /// (required when `requirePadding`, otherwise optional); otherwise as strict as `decodeURL`. Nil when
    /// invalid. (Sec-WebSocket-Key wants standard padded base64; subprotocol tokens unpadded base64url.)
    public static func decode(_ text: some StringProtocol, urlSafe: Bool, requirePadding: Bool = false) -> [UInt8]? {
        decode(bytes: Array(text.utf8), urlSafe: urlSafe, requirePadding: requirePadding)
    }

    /// `decode` over raw ASCII bytes.
    public static func decode(bytes input: [UInt8], urlSafe: Bool, requirePadding: Bool = false) -> [UInt8]? {
        var end = input.count
        var pad = 0
        while end > 0 && input[end - 1] == UInt8(ascii: "=") && pad < 2 { end -= 1; pad += 1 }
        if (pad > 0 || requirePadding) && input.count % 4 != 0 { return nil }
        return decode(input, 0..<end, table: urlSafe ? urlTable : standardTable)
    }

    /// Lenient decoding for configured secrets and JWK members: surrounding whitespace is trimmed and
    /// trailing `=` padding is accepted (but must then be complete). `url` picks the alphabet.
    public static func decodeLenient(_ text: some StringProtocol, url: Bool) -> [UInt8]? {
        let bytes = Array(text.utf8)
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 }
        var end = bytes.count
        while end > 0, isSpace(bytes[end - 1]) { end -= 1 }
        var start = 0
        while start < end, isSpace(bytes[start]) { start += 1 }
        var pad = 0
        while end > start, bytes[end - 1] == UInt8(ascii: "=") {
            end -= 1
            pad += 1
        }
        if pad > 0, (end - start + pad) % 4 != 0 || pad > 2 { return nil }
        return decode(bytes, start..<end, table: url ? urlTable : standardTable)
    }

    /// Unpadded base64url.
    public static func encodeURL(_ bytes: some Collection<UInt8>) -> String {
        encode(Array(bytes), alphabet: urlAlphabet, pad: false)
    }

    /// Padded standard base64.
    public static func encodeStandard(_ bytes: some Collection<UInt8>) -> String {
        encode(Array(bytes), alphabet: standardAlphabet, pad: true)
    }

    static func encode(_ b: [UInt8], alphabet: [UInt8], pad: Bool) -> String {
        var out = [UInt8]()
        out.reserveCapacity((b.count + 2) / 3 * 4)
        var i = 0
        while i + 3 <= b.count {
            let v = UInt32(b[i]) << 16 | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2])
            out.append(alphabet[Int(v >> 18 & 63)])
            out.append(alphabet[Int(v >> 12 & 63)])
            out.append(alphabet[Int(v >> 6 & 63)])
            out.append(alphabet[Int(v & 63)])
            i += 3
        }
        let rem = b.count - i
        if rem == 1 {
            let v = UInt32(b[i]) << 16
            out.append(alphabet[Int(v >> 18 & 63)])
            out.append(alphabet[Int(v >> 12 & 63)])
            if pad { out.append(contentsOf: [61, 61]) }
        } else if rem == 2 {
            let v = UInt32(b[i]) << 16 | UInt32(b[i + 1]) << 8
            out.append(alphabet[Int(v >> 18 & 63)])
            out.append(alphabet[Int(v >> 12 & 63)])
            out.append(alphabet[Int(v >> 6 & 63)])
            if pad { out.append(61) }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
