// Opening-handshake helpers (RFC 6455 §4) and token carriage in Sec-WebSocket-Protocol.

/// The GUID appended to Sec-WebSocket-Key (RFC 6455 §1.3).
public let webSocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(SHA-1(key + GUID)). The key is used exactly as
/// given (the HTTP parser has already trimmed optional whitespace).
public func webSocketAccept(forKey key: String) -> String {
    Base64.encode(SHA1.hash(Array((key + webSocketGUID).utf8)))
}

/// A `Sec-WebSocket-Key` is valid when it is base64 (standard alphabet, padded) of exactly 16 bytes
/// (RFC 6455 §4.1, item 7).
public func isValidWebSocketKey(_ key: String) -> Bool {
    guard key.utf8.count == 24, let decoded = Base64.decode(key, urlSafe: false, requirePadding: true) else {
        return false
    }
    return decoded.count == 16
}

/// Sec-WebSocket-Protocol values from every field line, in order: each value is a comma-separated list;
/// entries are trimmed of spaces and tabs, empty entries dropped.
public func parseSubprotocols(_ headerValues: [String]) -> [String] {
    var out: [String] = []
    for value in headerValues {
        for part in value.split(separator: ",", omittingEmptySubsequences: false) {
            let trimmed = trimOWS(part)
            if !trimmed.isEmpty { out.append(String(trimmed)) }
        }
    }
    return out
}

/// Finds a bearer token carried as a WebSocket subprotocol (route config `{ subprotocol: PREFIX }`).
///
/// Browsers cannot set headers on a WebSocket upgrade, so some clients (Kubernetes is the best known) offer
/// the token as an extra entry of `Sec-WebSocket-Protocol`:
///
///     Sec-WebSocket-Protocol: base64url.bearer.authorization.k8s.io.ZXlKaGJHY2lPaUpJVXpJMU5pSjkuZTMwLnNpZw, chat
///
/// Convention:
/// - The **first** offered entry that starts with `prefix` (case-sensitive, exact bytes) carries the token;
///   the rest of the entry after the prefix is the carried value.
/// - If `prefix` contains `base64url`, the carried value is base64url (RFC 4648 §5, `-` `_`, padding optional;
///   Kubernetes sends none) of the token text: entry = PREFIX + base64url-without-padding(JWT). It is decoded
///   and must be valid UTF-8; a leading `Bearer ` in the decoded text, if any, is removed. A JWT is itself
///   base64url-safe and `.` is a legal subprotocol character, so a raw JWT would fit; the encoding exists
///   because Kubernetes clients encode the token, and is accepted for compatibility with them.
/// - Otherwise the carried value is the token verbatim: entry = PREFIX + JWT.
/// - `remaining` is `offered` without **every** entry that starts with `prefix` (credentials are never
///   forwarded upstream nor echoed back), other entries in their original order.
/// - `token` is nil when no entry starts with `prefix`, when the carried value is empty, or when it does not
///   decode (invalid base64url or not UTF-8).
public func extractSubprotocolToken(offered: [String], prefix: String) -> (token: String?, remaining: [String]) {
    var token: String?
    var found = false
    var remaining: [String] = []
    let decode = prefix.contains("base64url")
    for entry in offered {
        guard !prefix.isEmpty, entry.utf8.starts(with: prefix.utf8) else {
            remaining.append(entry)
            continue
        }
        if found { continue }
        found = true
        let rest = String(decoding: entry.utf8.dropFirst(prefix.utf8.count), as: UTF8.self)
        if rest.isEmpty { continue }
        if decode {
            guard let bytes = Base64.decode(rest, urlSafe: true, requirePadding: false),
                  var text = String(validating: bytes, as: UTF8.self) else { continue }
            if text.hasPrefix("Bearer ") { text.removeFirst(7) }
            token = text.isEmpty ? nil : text
        } else {
            token = rest
        }
    }
    return (token, remaining)
}

func trimOWS(_ s: Substring) -> Substring {
    var lo = s.startIndex, hi = s.endIndex
    while lo < hi, s[lo] == " " || s[lo] == "\t" { lo = s.index(after: lo) }
    while hi > lo {
        let p = s.index(before: hi)
        guard s[p] == " " || s[p] == "\t" else { break }
        hi = p
    }
    return s[lo..<hi]
}

// MARK: - Base64

/// Base64 (RFC 4648 §4) and base64url (§5).
public enum Base64 {
    private static let std: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let url: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// Standard alphabet with `=` padding, or (urlSafe) base64url without padding.
    public static func encode<C: Collection>(_ bytes: C, urlSafe: Bool = false) -> String where C.Element == UInt8 {
        let table = urlSafe ? url : std
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var it = bytes.makeIterator()
        while let a = it.next() {
            let b = it.next(), c = it.next()
            let n = UInt32(a) << 16 | UInt32(b ?? 0) << 8 | UInt32(c ?? 0)
            out.append(table[Int(n >> 18 & 63)])
            out.append(table[Int(n >> 12 & 63)])
            if b != nil { out.append(table[Int(n >> 6 & 63)]) } else if !urlSafe { out.append(UInt8(ascii: "=")) }
            if c != nil { out.append(table[Int(n & 63)]) } else if !urlSafe { out.append(UInt8(ascii: "=")) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// base64url without padding.
    public static func urlEncode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        encode(bytes, urlSafe: true)
    }

    /// Strict decoding: only the chosen alphabet, no whitespace; `=` padding only at the end and only to a
    /// multiple of 4 (required when `requirePadding`, otherwise optional); a length ≡ 1 (mod 4) and non-zero
    /// unused trailing bits are rejected. Returns nil when invalid.
    public static func decode<S: StringProtocol>(_ text: S, urlSafe: Bool, requirePadding: Bool = false) -> [UInt8]? {
        decode(bytes: Array(text.utf8), urlSafe: urlSafe, requirePadding: requirePadding)
    }

    /// `decode` over raw ASCII bytes.
    public static func decode(bytes input: [UInt8], urlSafe: Bool, requirePadding: Bool = false) -> [UInt8]? {
        var end = input.count
        var pad = 0
        while end > 0 && input[end - 1] == UInt8(ascii: "=") && pad < 2 { end -= 1; pad += 1 }
        if pad > 0 && input.count % 4 != 0 { return nil }
        if requirePadding && input.count % 4 != 0 { return nil }
        if end % 4 == 1 { return nil }
        if pad > 0 && (end + pad) % 4 != 0 { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(end * 3 / 4)
        var acc: UInt32 = 0
        var bits = 0
        for i in 0..<end {
            let c = input[i]
            let v: UInt8
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = c - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): v = c - UInt8(ascii: "a") + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0") + 52
            case UInt8(ascii: "+") where !urlSafe, UInt8(ascii: "-") where urlSafe: v = 62
            case UInt8(ascii: "/") where !urlSafe, UInt8(ascii: "_") where urlSafe: v = 63
            default: return nil
            }
            acc = acc << 6 | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
                acc &= (1 << UInt32(bits)) - 1
            }
        }
        if acc != 0 { return nil }  // non-canonical: unused low bits must be zero
        return out
    }
}

// MARK: - SHA-1

/// SHA-1 (FIPS 180-4), only for Sec-WebSocket-Accept. Not for anything security-relevant.
public enum SHA1 {
    public static func hash(_ message: [UInt8]) -> [UInt8] {
        var h0: UInt32 = 0x67452301, h1: UInt32 = 0xEFCDAB89, h2: UInt32 = 0x98BADCFE
        var h3: UInt32 = 0x10325476, h4: UInt32 = 0xC3D2E1F0
        var msg = message
        let bitLength = UInt64(message.count) &* 8
        msg.append(0x80)
        while msg.count % 64 != 56 { msg.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { msg.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        var w = [UInt32](repeating: 0, count: 80)
        for chunk in stride(from: 0, to: msg.count, by: 64) {
            for t in 0..<16 {
                let j = chunk + 4 * t
                w[t] = UInt32(msg[j]) << 24 | UInt32(msg[j + 1]) << 16 | UInt32(msg[j + 2]) << 8 | UInt32(msg[j + 3])
            }
            for t in 16..<80 { w[t] = rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1) }
            var a = h0, b = h1, c = h2, d = h3, e = h4
            for t in 0..<80 {
                let f: UInt32, k: UInt32
                switch t {
                case 0..<20: f = (b & c) | (~b & d); k = 0x5A827999
                case 20..<40: f = b ^ c ^ d; k = 0x6ED9EBA1
                case 40..<60: f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDC
                default: f = b ^ c ^ d; k = 0xCA62C1D6
                }
                let temp = rotl(a, 5) &+ f &+ e &+ k &+ w[t]
                e = d; d = c; c = rotl(b, 30); b = a; a = temp
            }
            h0 &+= a; h1 &+= b; h2 &+= c; h3 &+= d; h4 &+= e
        }
        var out: [UInt8] = []
        out.reserveCapacity(20)
        for h in [h0, h1, h2, h3, h4] {
            out.append(UInt8(truncatingIfNeeded: h >> 24)); out.append(UInt8(truncatingIfNeeded: h >> 16))
            out.append(UInt8(truncatingIfNeeded: h >> 8)); out.append(UInt8(truncatingIfNeeded: h))
        }
        return out
    }

    @inline(__always) private static func rotl(_ x: UInt32, _ n: UInt32) -> UInt32 { x << n | x >> (32 - n) }
}
