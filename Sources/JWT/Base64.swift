// Base64 and base64url (RFC 4648), strict by default.

public enum Base64 {
    /// 0xFF marks a byte outside the alphabet.
    static let urlTable: [UInt8] = makeTable("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    static let standardTable: [UInt8] = makeTable(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    static let urlAlphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    static let standardAlphabet: [UInt8] = Array(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func makeTable(_ alphabet: String) -> [UInt8] {
        var t = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.utf8.enumerated() { t[Int(c)] = UInt8(i) }
        return t
    }

    /// The base64url table as raw memory (no array access on the hot path).
    nonisolated(unsafe) static let urlTablePointer: UnsafePointer<UInt8> = {
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
        p.initialize(repeating: 0xFF, count: 256)
        for (i, c) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8.enumerated() { p[Int(c)] = UInt8(i) }
        return UnsafePointer(p)
    }()

    /// Strict unpadded base64url into `out` (room for src.count * 3 / 4 bytes). Returns the decoded length,
    /// or -1 when any rule is broken.
    @inline(__always)
    static func decodeURL(_ src: UnsafeRawBufferPointer, into out: UnsafeMutablePointer<UInt8>) -> Int {
        let n = src.count
        if n % 4 == 1 { return -1 }
        if n == 0 { return 0 }
        let t = urlTablePointer
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

    /// Strict unpadded base64url as JWS uses it: only `A-Z a-z 0-9 - _`, no `=`, no whitespace, and the
    /// unused low bits of the last character must be zero (one encoding per byte string). Appends to `out`.
    @inline(__always)
    static func decodeURLStrict(_ src: UnsafeRawBufferPointer, into out: inout [UInt8]) -> Bool {
        decode(src, table: urlTable, into: &out)
    }

    static func decode(_ src: UnsafeRawBufferPointer, table: [UInt8], into out: inout [UInt8]) -> Bool {
        let n = src.count
        if n % 4 == 1 { return false }
        if n == 0 { return true }
        return table.withUnsafeBufferPointer { t -> Bool in
            let s = src.baseAddress!.assumingMemoryBound(to: UInt8.self)
            let full = n / 4
            let rem = n % 4
            let outCount = full * 3 + (rem == 0 ? 0 : rem - 1)
            let base = out.count
            var ok = true
            out.append(contentsOf: repeatElement(0, count: outCount))
            out.withUnsafeMutableBufferPointer { o in
                var d = base
                var k = 0
                for _ in 0..<full {
                    let a = t[Int(s[k])], b = t[Int(s[k + 1])], c = t[Int(s[k + 2])], e = t[Int(s[k + 3])]
                    if (a | b | c | e) & 0xC0 != 0 {
                        ok = false
                        return
                    }
                    let v = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(e)
                    o[d] = UInt8(truncatingIfNeeded: v >> 16)
                    o[d + 1] = UInt8(truncatingIfNeeded: v >> 8)
                    o[d + 2] = UInt8(truncatingIfNeeded: v)
                    d += 3
                    k += 4
                }
                if rem == 2 {
                    let a = t[Int(s[k])], b = t[Int(s[k + 1])]
                    if (a | b) & 0xC0 != 0 || b & 0x0F != 0 {
                        ok = false
                        return
                    }
                    o[d] = a << 2 | b >> 4
                } else if rem == 3 {
                    let a = t[Int(s[k])], b = t[Int(s[k + 1])], c = t[Int(s[k + 2])]
                    if (a | b | c) & 0xC0 != 0 || c & 0x03 != 0 {
                        ok = false
                        return
                    }
                    o[d] = a << 2 | b >> 4
                    o[d + 1] = (b & 0x0F) << 4 | c >> 2
                }
            }
            if !ok { out.removeLast(outCount) }
            return ok
        }
    }

    /// Strict unpadded base64url (the JWS form). Nil when any rule is broken.
    public static func decodeURL(_ text: some StringProtocol) -> [UInt8]? {
        var out = [UInt8]()
        let ok = Array(text.utf8).withUnsafeBytes { decode($0, table: urlTable, into: &out) }
        return ok ? out : nil
    }

    /// Lenient decoding for configured secrets and JWK members: surrounding whitespace is trimmed and
    /// trailing `=` padding is accepted (but must then be complete). `url` picks the alphabet.
    public static func decodeLenient(_ text: some StringProtocol, url: Bool) -> [UInt8]? {
        var bytes = Array(text.utf8)
        while let last = bytes.last, last == 0x20 || last == 0x0A || last == 0x0D || last == 0x09 {
            bytes.removeLast()
        }
        var start = 0
        while start < bytes.count, bytes[start] == 0x20 || bytes[start] == 0x0A || bytes[start] == 0x0D
            || bytes[start] == 0x09
        {
            start += 1
        }
        bytes.removeFirst(start)
        var pad = 0
        while let last = bytes.last, last == UInt8(ascii: "=") {
            bytes.removeLast()
            pad += 1
        }
        if pad > 0, (bytes.count + pad) % 4 != 0 || pad > 2 { return nil }
        var out = [UInt8]()
        let ok = bytes.withUnsafeBytes { decode($0, table: url ? urlTable : standardTable, into: &out) }
        return ok ? out : nil
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
