// Per-request route matching: pure, allocation-free on the common path, safe from any thread.

import Foundation

/// A `match.host` entry: exact (`api.example.com`) or wildcard (`*.example.com`, one or more labels in front).
/// Stored lowercased, without a trailing dot; compared ASCII case-insensitively with the request's port removed.
public struct HostPattern: Sendable, Hashable, CustomStringConvertible {
    /// As written, lowercased (`*.example.com`).
    public let pattern: String
    /// For wildcards, the required suffix including its dot (`.example.com`); nil for exact patterns.
    let suffix: [UInt8]?
    let exact: [UInt8]

    /// Nil when the pattern is not a host name, an IP literal, or `*.` followed by a host name.
    public init?(_ written: String) {
        var s = written.lowercased()
        if s.hasSuffix(".") { s.removeLast() }
        if s.hasPrefix("["), s.hasSuffix("]") {
            s = String(s.dropFirst().dropLast())
            guard IPAddress(s) != nil, !s.contains("%") else { return nil }
            pattern = s; exact = Array(s.utf8); suffix = nil
            return
        }
        if s.hasPrefix("*.") {
            let rest = String(s.dropFirst(2))
            guard HostPattern.isHostName(rest) else { return nil }
            pattern = s; suffix = [UInt8(ascii: ".")] + Array(rest.utf8)
            exact = []
            return
        }
        guard HostPattern.isHostName(s) || (s.contains(":") && IPAddress(s) != nil && !s.contains("%")) else { return nil }
        pattern = s; exact = Array(s.utf8); suffix = nil
    }

    public var isWildcard: Bool { suffix != nil }
    public var description: String { pattern }

    /// LDH labels separated by dots (underscores tolerated, as real-world internal names use them).
    static func isHostName(_ s: String) -> Bool {
        guard !s.isEmpty, s.utf8.count <= 253 else { return false }
        for label in s.split(separator: ".", omittingEmptySubsequences: false) {
            guard !label.isEmpty, label.utf8.count <= 63, !label.hasPrefix("-"), !label.hasSuffix("-") else { return false }
            for u in label.utf8 {
                let ok = (u >= 97 && u <= 122) || (u >= 65 && u <= 90) || (u >= 48 && u <= 57) || u == 45 || u == 95
                if !ok { return false }
            }
        }
        return true
    }

    /// `host` is the bytes of the request host with port and brackets already removed.
    @inline(__always)
    func matches(_ host: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Bool {
        if let suffix {
            guard range.count > suffix.count else { return false }
            var i = range.upperBound - suffix.count
            for b in suffix {
                if asciiLowered(host[i]) != b { return false }
                i += 1
            }
            return true
        }
        guard range.count == exact.count else { return false }
        var i = range.lowerBound
        for b in exact {
            if asciiLowered(host[i]) != b { return false }
            i += 1
        }
        return true
    }
}

@inline(__always) private func asciiLowered(_ b: UInt8) -> UInt8 { (b >= 65 && b <= 90) ? b | 0x20 : b }

/// A `match.path_regex`, compiled once at load. ICU semantics (NSRegularExpression), unanchored search:
/// write `^`/`$` to anchor. Immutable after init; NSRegularExpression is documented thread-safe, so one
/// instance is shared by all loops.
public final class PathRegex: @unchecked Sendable, CustomStringConvertible {
    public let pattern: String
    private let regex: NSRegularExpression

    /// Nil when the pattern does not compile.
    public init?(_ pattern: String) {
        guard let r = try? NSRegularExpression(pattern: pattern, options: []) else { return nil }
        self.pattern = pattern
        self.regex = r
    }

    public func matches(_ path: String) -> Bool {
        regex.firstMatch(in: path, options: [], range: NSRange(location: 0, length: path.utf16.count)) != nil
    }

    public var description: String { pattern }
}

/// A route's `match`. Fields are ANDed (host, path, method); within the path, `paths`, `pathPrefixes` and
/// `pathRegex` are ORed (the path matches when it equals one of `paths`, starts with one of `pathPrefixes`,
/// or matches `pathRegex`). An empty field does not restrict; an empty `match` matches every request.
public struct RouteMatch: Sendable {
    public let hosts: [HostPattern]
    /// Exact paths.
    public let paths: [String]
    /// Byte-wise prefixes (`/v1/`); `/hubs/rtm` also matches `/hubs/rtmx`, write `/hubs/rtm/` if that matters.
    public let pathPrefixes: [String]
    public let pathRegex: PathRegex?
    /// Uppercased method tokens, compared exactly with the request method.
    public let methods: [String]
    /// The `match` mapping (or the route, when `match` is absent).
    public let location: SourceLocation

    public var hasPathCondition: Bool { !paths.isEmpty || !pathPrefixes.isEmpty || pathRegex != nil }
    /// No condition at all: matches every request.
    public var isCatchAll: Bool { hosts.isEmpty && methods.isEmpty && !hasPathCondition }

    /// - Parameters:
    ///   - host: the request's Host (or `:authority`), possibly with `:port`; nil when the request had none.
    ///   - normalizedPath: the path after dot-segment and duplicate-slash normalization, without the query.
    ///   - method: the request method as received.
    public func matches(host: String?, normalizedPath: String, method: String) -> Bool {
        if !methods.isEmpty {
            var found = false
            for m in methods where m == method { found = true; break }
            if !found { return false }
        }
        if !hosts.isEmpty {
            guard var host else { return false }
            let ok = host.withUTF8 { buf -> Bool in
                let r = RouteMatch.hostRange(buf)
                for p in hosts where p.matches(buf, r) { return true }
                return false
            }
            if !ok { return false }
        }
        if hasPathCondition {
            return pathMatches(normalizedPath)
        }
        return true
    }

    @inline(__always)
    func pathMatches(_ path: String) -> Bool {
        for p in paths where p == path { return true }
        for p in pathPrefixes where path.utf8.starts(with: p.utf8) { return true }
        if let pathRegex, pathRegex.matches(path) { return true }
        return false
    }

    /// The host part of a Host header value: `[v6]:port` -> `v6`, `name:port` -> `name`, trailing dot removed.
    static func hostRange(_ b: UnsafeBufferPointer<UInt8>) -> Range<Int> {
        var lo = 0, hi = b.count
        if hi > 0, b[0] == UInt8(ascii: "[") {
            var i = 1
            while i < hi, b[i] != UInt8(ascii: "]") { i += 1 }
            lo = 1; hi = i
        } else {
            var i = hi - 1
            while i >= 0 {
                let c = b[i]
                if c == UInt8(ascii: ":") { hi = i; break }
                if c < 48 || c > 57 { break }
                i -= 1
            }
        }
        if hi > lo, b[hi - 1] == UInt8(ascii: ".") { hi -= 1 }
        return lo..<hi
    }
}
