// Opening-handshake helpers (RFC 6455 §4) and token carriage in Sec-WebSocket-Protocol.

import Base64Codec

/// The GUID appended to Sec-WebSocket-Key (RFC 6455 §1.3).
public let webSocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(SHA-1(key + GUID)). The key is used exactly as
/// given (the HTTP parser has already trimmed optional whitespace).
public func webSocketAccept(forKey key: String) -> String {
    Base64.encodeStandard(SHA1.hash(Array((key + webSocketGUID).utf8)))
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
