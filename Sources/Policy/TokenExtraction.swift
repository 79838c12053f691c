import Base64Codec
import GatewayConfig
import HTTPCore
import JWT

/// Where a route looks for its token: the route file's `tokens` entries, used as they are.
public typealias TokenLocation = TokenSource

/// The result of looking for a token in a request head.
public enum TokenSearch: Equatable {
    /// Found at `sources[index]`.
    case found(String, index: Int)
    /// No source was present.
    case missing
    /// A `body` source comes before any present source: read the body (bounded), then call `searchBody`.
    case needBody(field: String, index: Int)
    /// The request is malformed for authentication (e.g. two Authorization fields): 400.
    case badRequest(String)
}

public enum TokenExtractor {
    /// Looks through `sources` in order; the first source that is present is the token, even when it turns out
    /// invalid (a later source is never tried in its place). Header prefixes such as `"Bearer "` are matched
    /// case-insensitively (RFC 6750 / RFC 9110 §11.1: the auth scheme is case-insensitive).
    /// With `skippingBody`, `{ body: FIELD }` sources are passed over (a body that cannot carry the token:
    /// too large, or not JSON while later sources exist).
    public static func search(_ head: HTTPRequestHead, sources: [TokenLocation], from start: Int = 0,
                              skippingBody: Bool = false) -> TokenSearch {
        var i = start
        while i < sources.count {
            switch sources[i] {
            case .header(let name, let prefix):
                let values = head.fields.values(name)
                if values.count > 1 { return .badRequest("more than one \(name) field") }
                if let v = values.first {
                    guard let prefix, !prefix.isEmpty else { return .found(v, index: i) }
                    if hasPrefixCaseInsensitive(v, prefix) {
                        // RFC 6750: `Bearer 1*SP b64token`; extra spaces after a one-space prefix are allowed.
                        let rest = v.utf8.dropFirst(prefix.utf8.count).drop { $0 == 0x20 }
                        return .found(String(decoding: rest, as: UTF8.self), index: i)
                    }
                    // Present with another scheme (e.g. Basic on a Bearer route): present, and not a token we accept.
                    return .found("", index: i)
                }
            case .query(let name):
                if let v = queryValue(head.target, name: name) { return .found(v, index: i) }
            case .cookie(let name):
                for c in head.fields.values("cookie") {
                    if let v = cookieValue(c, name: name) { return .found(v, index: i) }
                }
            case .body(let field):
                if head.framing != .none && !skippingBody { return .needBody(field: field, index: i) }
            case .subprotocol(let prefix):
                for v in head.fields.values("sec-websocket-protocol") {
                    for part in v.split(separator: ",") {
                        let p = part.trimmingSpacesAndTabs()
                        if p.hasPrefix(prefix) { return .found(subprotocolToken(String(p.dropFirst(prefix.count)), prefix: prefix), index: i) }
                    }
                }
            case .socketio:
                break   // read from the socket.io CONNECT packet, not the head
            }
            i += 1
        }
        return .missing
    }

    /// The token in a `Sec-WebSocket-Protocol` entry after its prefix. With a `base64url.` prefix (the Kubernetes
    /// convention, `base64url.bearer.authorization.<base64url(token)>`) the rest is base64url-decoded; otherwise
    /// it is the token itself (a JWT is already made of subprotocol-safe characters).
    static func subprotocolToken(_ rest: String, prefix: String) -> String {
        guard prefix.hasPrefix("base64url.") else { return rest }
        guard let bytes = Base64.decodeURL(rest) else { return "" }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func hasPrefixCaseInsensitive(_ s: String, _ prefix: String) -> Bool {
        let a = Array(s.utf8.prefix(prefix.utf8.count))
        let b = Array(prefix.utf8)
        guard a.count == b.count else { return false }
        for k in 0..<a.count {
            let x = a[k] | ((a[k] >= 65 && a[k] <= 90) ? 0x20 : 0)
            let y = b[k] | ((b[k] >= 65 && b[k] <= 90) ? 0x20 : 0)
            if x != y { return false }
        }
        return true
    }

    /// The first value of query parameter `name` (percent-decoded, `+` as space), or nil.
    public static func queryValue(_ target: String, name: String) -> String? {
        guard let q = target.firstIndex(of: "?") else { return nil }
        var query = target[target.index(after: q)...]
        if let h = query.firstIndex(of: "#") { query = query[..<h] }
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if percentDecode(kv[0]) == name { return kv.count > 1 ? percentDecode(kv[1]) : "" }
        }
        return nil
    }

    /// `target` with every `names` query parameter removed; other parameters keep their order and bytes.
    public static func removingQueryParameters(_ target: String, names: [String]) -> String {
        guard let q = target.firstIndex(of: "?") else { return target }
        let path = target[..<q]
        let query = target[target.index(after: q)...]
        let kept = query.split(separator: "&", omittingEmptySubsequences: false).filter { pair in
            let key = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0]
            return !names.contains(percentDecode(key))
        }
        if kept.isEmpty || (kept.count == 1 && kept[0].isEmpty) { return String(path) }
        return String(path) + "?" + kept.joined(separator: "&")
    }

    /// `target` with the values of `names` query parameters replaced by `REDACTED` (for logs).
    public static func redactingQueryParameters(_ target: String, names: [String]) -> String {
        guard !names.isEmpty, let q = target.firstIndex(of: "?") else { return target }
        let path = target[..<q]
        let query = target[target.index(after: q)...]
        let parts = query.split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return names.contains(percentDecode(kv[0])) ? String(kv[0]) + "=REDACTED" : String(pair)
        }
        return String(path) + "?" + parts.joined(separator: "&")
    }

    /// The value of cookie `name` in one Cookie field value.
    static func cookieValue(_ header: String, name: String) -> String? {
        for part in header.split(separator: ";") {
            let p = part.trimmingSpacesAndTabs()
            guard let eq = p.firstIndex(of: "=") else { continue }
            if p[..<eq] == name {
                var v = p[p.index(after: eq)...]
                if v.count >= 2, v.first == "\"", v.last == "\"" { v = v.dropFirst().dropLast() }
                return String(v)
            }
        }
        return nil
    }

    static func percentDecode(_ s: Substring) -> String {
        if !s.utf8.contains(where: { $0 == 0x25 || $0 == 0x2B }) { return String(s) }
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        var it = Array(s.utf8)[...]
        while let b = it.popFirst() {
            if b == 0x2B { out.append(0x20); continue }
            if b == 0x25, it.count >= 2, let h = hexValue(it[it.startIndex]), let l = hexValue(it[it.startIndex + 1]) {
                out.append(h << 4 | l); it = it.dropFirst(2); continue
            }
            out.append(b)
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: return b - 0x30
        case 0x41...0x46: return b - 0x41 + 10
        case 0x61...0x66: return b - 0x61 + 10
        default: return nil
        }
    }
}

extension Substring {
    func trimmingSpacesAndTabs() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return s
    }
}
