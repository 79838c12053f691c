// Small parsers shared by the loader: durations, HOST:PORT, http URLs, header tokens, suggestions.

/// Durations as written in the route file: one or more `NUMBER UNIT` pairs, units `ms`, `s`, `m`, `h`
/// (`500ms`, `30s`, `10m`, `24h`, `1h30m`, `1.5s`). Values are seconds.
public enum DurationSyntax {
    public enum Failure: Error, Equatable {
        /// A bare number such as `30`.
        case missingUnit
        case invalid
    }

    public static func parse(_ text: String) -> Result<Double, Failure> {
        let u = Array(text.utf8)
        guard !u.isEmpty else { return .failure(.invalid) }
        if u.allSatisfy({ ($0 >= 48 && $0 <= 57) || $0 == UInt8(ascii: ".") }), u.contains(where: { $0 >= 48 && $0 <= 57 }) {
            return .failure(.missingUnit)
        }
        var total = 0.0
        var i = 0
        var lastUnitScale = Double.infinity
        while i < u.count {
            let start = i
            while i < u.count, (u[i] >= 48 && u[i] <= 57) || u[i] == UInt8(ascii: ".") { i += 1 }
            guard i > start, let number = Double(String(decoding: u[start..<i], as: UTF8.self)),
                  u[start] != UInt8(ascii: "."), u[i - 1] != UInt8(ascii: ".") else { return .failure(.invalid) }
            let unitStart = i
            while i < u.count, (u[i] >= 97 && u[i] <= 122) { i += 1 }
            let scale: Double
            switch String(decoding: u[unitStart..<i], as: UTF8.self) {
            case "ms": scale = 0.001
            case "s": scale = 1
            case "m": scale = 60
            case "h": scale = 3600
            case "": return .failure(i == u.count ? .missingUnit : .invalid)
            default: return .failure(.invalid)
            }
            // Units must go from larger to smaller (`1h30m`, not `30m1h` or `1m1m`).
            guard scale < lastUnitScale else { return .failure(.invalid) }
            lastUnitScale = scale
            total += number * scale
        }
        guard total.isFinite else { return .failure(.invalid) }
        return .success(total)
    }

    /// Seconds, or nil when `text` is not a duration.
    public static func seconds(_ text: String) -> Double? {
        if case .success(let s) = parse(text) { return s }
        return nil
    }

    /// `90` -> `1m30s`, `0.5` -> `500ms`.
    public static func format(_ seconds: Double) -> String {
        var ms = Int((seconds * 1000).rounded())
        if ms == 0 { return "0s" }
        var out = ""
        let h = ms / 3_600_000; ms %= 3_600_000
        let m = ms / 60_000; ms %= 60_000
        let s = ms / 1000; ms %= 1000
        if h > 0 { out += "\(h)h" }
        if m > 0 { out += "\(m)m" }
        if s > 0 { out += "\(s)s" }
        if ms > 0 { out += "\(ms)ms" }
        return out
    }
}

enum Syntax {
    /// RFC 9110 `token` (header names, methods, subprotocol names).
    static func isToken(_ s: String) -> Bool {
        guard !s.isEmpty else { return false }
        for u in s.utf8 {
            switch u {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                continue
            case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
                 UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
                continue
            default:
                return false
            }
        }
        return true
    }

    /// Letters, digits, `-`, `_`, `.` (names of routes, key sets, upstreams).
    static func isName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { u in
            (u >= 97 && u <= 122) || (u >= 65 && u <= 90) || (u >= 48 && u <= 57) || u == 45 || u == 95 || u == 46
        }
    }

    /// Printable ASCII without `"` and `\` (safe inside a quoted-string, e.g. the realm).
    static func isQuotable(_ s: String) -> Bool {
        s.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7f && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
    }

    /// Splits `HOST:PORT`, `[V6]:PORT`, `:PORT`. Returns nil host for `:PORT`.
    enum HostPortFailure: Error { case shape, port(String), host(String) }

    static func hostPort(_ text: String, defaultPort: UInt16? = nil) -> Result<(host: String?, port: UInt16), HostPortFailure> {
        var host: Substring
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return .failure(.shape) }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            if rest.isEmpty {
                portText = nil
            } else {
                guard rest.hasPrefix(":") else { return .failure(.shape) }
                portText = rest.dropFirst()
            }
            guard IPAddress(String(host)) != nil, host.contains(":"), !host.contains("%") else { return .failure(.host(String(host))) }
        } else {
            if let colon = text.lastIndex(of: ":") {
                host = text[..<colon]
                portText = text[text.index(after: colon)...]
                if host.contains(":") { return .failure(.shape) } // unbracketed IPv6
            } else {
                host = Substring(text)
                portText = nil
            }
            if !host.isEmpty {
                let h = String(host)
                let looksNumeric = h.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || $0 == UInt8(ascii: ".") }
                if looksNumeric ? IPAddress.parseV4(h) == nil : !HostPattern.isHostName(h) { return .failure(.host(h)) }
            }
        }
        let port: UInt16
        if let portText {
            guard !portText.isEmpty, portText.utf8.count <= 5, portText.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                  let p = Int(portText), p >= 1, p <= 65535 else { return .failure(.port(String(portText))) }
            port = UInt16(p)
        } else if let defaultPort {
            port = defaultPort
        } else {
            return .failure(.shape)
        }
        return .success((host.isEmpty ? nil : String(host), port))
    }

    /// Edit distance counting a swap of two neighbours as one edit (optimal string alignment); small strings only.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.unicodeScalars), b = Array(b.unicodeScalars)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[a.count][b.count]
    }

    /// The closest candidate within edit distance 2 (case-insensitive equality counts as 0), if any.
    static func suggestion(for word: String, among candidates: [String]) -> String? {
        var best: (String, Int)? = nil
        let lw = word.lowercased()
        for c in candidates {
            let d = lw == c.lowercased() ? 0 : editDistance(word, c)
            if d <= 2, d < word.count, best == nil || d < best!.1 { best = (c, d) }
        }
        return best?.0
    }
}

/// An `http://` or `https://` URL the gateway fetches itself (a remote JWKS): parsed once by the same rules
/// for `check` and for the fetcher, so a URL that passes `check` is one the fetcher can use. No credentials;
/// host by the rules of `listen`/`upstreams` addresses; the request target is the path and query as written.
public struct FetchURL: Sendable, Hashable {
    public let tls: Bool
    public let host: String
    public let port: UInt16
    /// Path and query (`/` when the URL has none); the fragment is dropped.
    public let requestTarget: String
    /// `host[:port]` as written, for the Host field.
    public let authority: String

    public init?(_ text: String) {
        let lower = text.lowercased()
        let tls = lower.hasPrefix("https://")
        guard tls || lower.hasPrefix("http://") else { return nil }
        let rest = text.dropFirst(tls ? 8 : 7)
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !authority.contains("@"),
              case .success(let hp) = Syntax.hostPort(String(authority), defaultPort: tls ? 443 : 80),
              let host = hp.host else { return nil }
        var target = String(rest.dropFirst(authority.count).prefix { $0 != "#" })
        if target.isEmpty { target = "/" } else if target.hasPrefix("?") { target = "/" + target }
        self.tls = tls
        self.host = host
        self.port = hp.port
        self.requestTarget = target
        self.authority = String(authority)
    }
}
