import HTTPCore

/// Head rewriting for forwarding (pure; tested without sockets).
enum Rewrite {
    /// Fields that never cross a proxy hop (RFC 9110 §7.6.1), plus ones the gateway re-frames or answers itself.
    static let hopByHop = ["connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade",
                           "proxy-connection", "proxy-authorization", "proxy-authenticate"]

    /// Names listed in all `Connection` fields (lowercased tokens).
    static func connectionTokens(_ fields: HTTPFields) -> [String] {
        var out: [String] = []
        for f in fields where asciiCaseInsensitiveEquals(f.name, "connection") {
            for part in f.value.split(separator: ",") {
                let t = part.trimmingSpaces()
                if !t.isEmpty { out.append(t.lowercased()) }
            }
        }
        return out
    }

    @inline(__always) static func isNamed(_ name: String, in list: [String]) -> Bool {
        for n in list where asciiCaseInsensitiveEquals(name, n) { return true }
        return false
    }

    /// Like `isNamed`, but `_` and `-` count as the same: CGI/WSGI-style upstreams map both to one variable, so
    /// a client's `X_User_Id` could otherwise stand in for the `X-User-Id` the gateway sets.
    static func isNamedIgnoringUnderscores(_ name: String, in list: [String]) -> Bool {
        for n in list {
            var a = name, b = n
            let same = a.withUTF8 { ua in b.withUTF8 { ub -> Bool in
                guard ua.count == ub.count else { return false }
                for i in 0..<ua.count {
                    var x = ua[i] | ((ua[i] >= 65 && ua[i] <= 90) ? 0x20 : 0), y = ub[i] | ((ub[i] >= 65 && ub[i] <= 90) ? 0x20 : 0)
                    if x == 0x5F { x = 0x2D }
                    if y == 0x5F { y = 0x2D }
                    if x != y { return false }
                }
                return true
            } }
            if same { return true }
        }
        return false
    }

    /// The fields to forward upstream for a request: hop-by-hop removed, X-Forwarded-* set.
    static func requestFields(_ head: HTTPRequestHead, peer: String, trustedPeer: Bool, removing extra: [String],
                              forwardedPrefix: String?) -> HTTPFields {
        let named = connectionTokens(head.fields)
        var out = HTTPFields()
        out.fields.reserveCapacity(head.fields.count + 3)
        var xff: String? = nil
        var xfProto: String? = nil
        var xfHost: String? = nil
        var xfPrefix: String? = nil
        for f in head.fields {
            let n = f.name
            if isNamed(n, in: hopByHop) || asciiCaseInsensitiveEquals(n, "expect") { continue }
            if !named.isEmpty && isNamed(n, in: named) { continue }
            if !extra.isEmpty && isNamedIgnoringUnderscores(n, in: extra) { continue }
            if asciiCaseInsensitiveEquals(n, "x-forwarded-for") { xff = xff.map { $0 + ", " + f.value } ?? f.value; continue }
            if asciiCaseInsensitiveEquals(n, "x-forwarded-proto") { if xfProto == nil { xfProto = f.value }; continue }
            if asciiCaseInsensitiveEquals(n, "x-forwarded-host") { if xfHost == nil { xfHost = f.value }; continue }
            if asciiCaseInsensitiveEquals(n, "x-forwarded-prefix") { if xfPrefix == nil { xfPrefix = f.value }; continue }
            out.fields.append(f)
        }
        if trustedPeer {
            out.append("X-Forwarded-For", xff.map { $0 + ", " + peer } ?? peer)
            out.append("X-Forwarded-Proto", xfProto ?? "http")
            if let h = xfHost ?? head.fields["host"] { out.append("X-Forwarded-Host", h) }
            if let p = forwardedPrefix { out.append("X-Forwarded-Prefix", (xfPrefix ?? "") + p) }
            else if let p = xfPrefix { out.append("X-Forwarded-Prefix", p) }
        } else {
            out.append("X-Forwarded-For", peer)
            out.append("X-Forwarded-Proto", "http")
            if let h = head.fields["host"] { out.append("X-Forwarded-Host", h) }
            if let p = forwardedPrefix { out.append("X-Forwarded-Prefix", p) }
        }
        return out
    }

    /// Response fields for the client: hop-by-hop removed (framing and Connection are added by the caller).
    static func responseFields(_ head: HTTPResponseHead) -> HTTPFields {
        let named = connectionTokens(head.fields)
        var out = HTTPFields()
        out.fields.reserveCapacity(head.fields.count + 2)
        for f in head.fields {
            if isNamed(f.name, in: hopByHop) { continue }
            if !named.isEmpty && isNamed(f.name, in: named) { continue }
            out.fields.append(f)
        }
        return out
    }

    /// Trailer fields safe to forward (no framing or hop-by-hop fields).
    static func trailerFields(_ t: HTTPFields) -> HTTPFields {
        HTTPFields(t.fields.filter { !isNamed($0.name, in: hopByHop) && !asciiCaseInsensitiveEquals($0.name, "content-length") })
    }

    static func appendHead(requestLine method: String, _ target: String, fields: HTTPFields, into out: inout [UInt8]) {
        out.append(contentsOf: method.utf8); out.append(0x20)
        out.append(contentsOf: target.utf8)
        out.append(contentsOf: " HTTP/1.1\r\n".utf8)
        appendFields(fields, into: &out)
        out.append(contentsOf: "\r\n".utf8)
    }

    static func appendFields(_ fields: HTTPFields, into out: inout [UInt8]) {
        for f in fields {
            out.append(contentsOf: f.name.utf8)
            out.append(0x3A); out.append(0x20)
            out.append(contentsOf: f.value.utf8)
            out.append(0x0D); out.append(0x0A)
        }
    }

    static func appendStatusLine(_ status: Int, _ reason: String, into out: inout [UInt8]) {
        out.append(contentsOf: "HTTP/1.1 ".utf8)
        appendDecimal(status, into: &out)
        out.append(0x20)
        out.append(contentsOf: reason.utf8)
        out.append(0x0D); out.append(0x0A)
    }

    static func appendDecimal(_ v: some BinaryInteger, into out: inout [UInt8]) {
        if v == 0 { out.append(0x30); return }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = UInt64(v)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { d in
            while n > 0 { d[count] = UInt8(0x30 + n % 10); n /= 10; count += 1 }
            for i in stride(from: count - 1, through: 0, by: -1) { out.append(d[i]) }
        }
    }

    static func appendHex(_ v: Int, into out: inout [UInt8]) {
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        if v == 0 { out.append(0x30); return }
        var shift = (Int.bitWidth - v.leadingZeroBitCount + 3) / 4 * 4 - 4
        while shift >= 0 { out.append(hex[(v >> shift) & 0xF]); shift -= 4 }
    }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return s
    }
}
