// IP addresses and CIDR blocks for `trusted_proxies`. Pure stdlib; parsing is strict (no octal, no short IPv4).

/// An IPv4 or IPv6 address. IPv6 is held as its 16 bytes in network order, split into two big-endian words.
public enum IPAddress: Sendable, Hashable, CustomStringConvertible {
    case v4(UInt32)
    /// `hi` holds bytes 0..<8, `lo` bytes 8..<16 (network order).
    case v6(hi: UInt64, lo: UInt64)

    /// Parses the textual forms `inet_ntop`/`getnameinfo` produce, and the usual written forms:
    /// `192.0.2.1`, `2001:db8::1`, `::ffff:192.0.2.1`, `fe80::1%eth0` (the zone is ignored), `[::1]`.
    /// IPv4 parts must be plain decimal without leading zeros (`010.0.0.1` is refused, not read as octal).
    public init?(_ string: String) {
        var s = Substring(string)
        if s.hasPrefix("["), s.hasSuffix("]") { s = s.dropFirst().dropLast() }
        if s.contains(":") {
            if let pct = s.firstIndex(of: "%") {
                guard s.index(after: pct) < s.endIndex else { return nil }
                s = s[..<pct]
            }
            guard let bytes = IPAddress.parseV6(s) else { return nil }
            self.init(v6Bytes: bytes)
        } else {
            guard let v = IPAddress.parseV4(s) else { return nil }
            self = .v4(v)
        }
    }

    /// From 16 bytes in network order (e.g. `sin6_addr`). Returns nil unless exactly 16 bytes are given.
    public init?<C: Collection>(v6Bytes bytes: C) where C.Element == UInt8 {
        guard bytes.count == 16 else { return nil }
        var hi: UInt64 = 0, lo: UInt64 = 0
        for (i, b) in bytes.enumerated() {
            if i < 8 { hi = hi << 8 | UInt64(b) } else { lo = lo << 8 | UInt64(b) }
        }
        self = .v6(hi: hi, lo: lo)
    }

    /// From 4 bytes in network order (e.g. `sin_addr`).
    public init(v4Bytes a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        self = .v4(UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d))
    }

    public var isV4: Bool { if case .v4 = self { return true } else { return false } }

    /// The IPv4 address itself, or the one inside an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`).
    public var unmappedV4: UInt32? {
        switch self {
        case .v4(let v): return v
        case .v6(let hi, let lo):
            guard hi == 0, lo >> 32 == 0xffff else { return nil }
            return UInt32(truncatingIfNeeded: lo)
        }
    }

    /// The address as 16 IPv6 bytes; an IPv4 address becomes `::ffff:a.b.c.d`.
    public var v6Words: (hi: UInt64, lo: UInt64) {
        switch self {
        case .v4(let v): return (0, 0xffff_0000_0000 | UInt64(v))
        case .v6(let hi, let lo): return (hi, lo)
        }
    }

    /// Network-order bytes: 4 for IPv4, 16 for IPv6.
    public var bytes: [UInt8] {
        switch self {
        case .v4(let v): return [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)]
        case .v6(let hi, let lo):
            var out: [UInt8] = []
            out.reserveCapacity(16)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: hi >> UInt64(shift))) }
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: lo >> UInt64(shift))) }
            return out
        }
    }

    /// Dotted quad for IPv4; RFC 5952 text for IPv6 (`::ffff:1.2.3.4` for mapped addresses).
    public var description: String {
        switch self {
        case .v4(let v): return IPAddress.v4String(v)
        case .v6(let hi, let lo):
            if let v4 = unmappedV4 { return "::ffff:" + IPAddress.v4String(v4) }
            var groups: [UInt16] = []
            for shift in stride(from: 48, through: 0, by: -16) { groups.append(UInt16(truncatingIfNeeded: hi >> UInt64(shift))) }
            for shift in stride(from: 48, through: 0, by: -16) { groups.append(UInt16(truncatingIfNeeded: lo >> UInt64(shift))) }
            // Longest run (>= 2) of zero groups, first one on ties.
            var bestStart = -1, bestLen = 0, i = 0
            while i < 8 {
                if groups[i] == 0 {
                    var j = i
                    while j < 8, groups[j] == 0 { j += 1 }
                    if j - i > bestLen, j - i >= 2 { bestStart = i; bestLen = j - i }
                    i = j
                } else { i += 1 }
            }
            func hex(_ r: Range<Int>) -> String { r.map { String(groups[$0], radix: 16) }.joined(separator: ":") }
            if bestStart < 0 { return hex(0..<8) }
            return hex(0..<bestStart) + "::" + hex((bestStart + bestLen)..<8)
        }
    }

    static func v4String(_ v: UInt32) -> String {
        "\(v >> 24).\(v >> 16 & 0xff).\(v >> 8 & 0xff).\(v & 0xff)"
    }

    static func parseV4<S: StringProtocol>(_ s: S) -> UInt32? {
        var result: UInt32 = 0
        var parts = 0
        var value: UInt32 = 0
        var digits = 0
        var leadingZero = false
        for u in s.utf8 {
            if u == UInt8(ascii: ".") {
                guard digits > 0, parts < 3 else { return nil }
                result = result << 8 | value
                parts += 1; value = 0; digits = 0; leadingZero = false
            } else if u >= 48 && u <= 57 {
                if digits == 0 && u == 48 { leadingZero = true } else if leadingZero { return nil }
                digits += 1
                guard digits <= 3 else { return nil }
                value = value * 10 + UInt32(u - 48)
                guard value <= 255 else { return nil }
            } else {
                return nil
            }
        }
        guard digits > 0, parts == 3 else { return nil }
        return result << 8 | value
    }

    static func parseV6<S: StringProtocol>(_ s: S) -> [UInt8]? {
        let str = String(s)
        guard !str.isEmpty else { return nil }
        var head: [UInt16] = []
        var tail: [UInt16] = []
        // Split on the one allowed "::".
        var halves: [String] = []
        let u = Array(str.utf8)
        var start = 0, i = 0
        while i < u.count {
            if u[i] == UInt8(ascii: ":"), i + 1 < u.count, u[i + 1] == UInt8(ascii: ":") {
                halves.append(String(decoding: u[start..<i], as: UTF8.self))
                i += 2; start = i
                guard halves.count == 1 else { return nil }
                if i < u.count, u[i] == UInt8(ascii: ":") { return nil }
            } else { i += 1 }
        }
        halves.append(String(decoding: u[start..<u.count], as: UTF8.self))
        func groups(_ part: String, allowV4Tail: Bool) -> [UInt16]? {
            if part.isEmpty { return [] }
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            var out: [UInt16] = []
            for (i, p) in pieces.enumerated() {
                if p.contains(".") {
                    guard allowV4Tail, i == pieces.count - 1, let v4 = parseV4(p) else { return nil }
                    out.append(UInt16(v4 >> 16)); out.append(UInt16(v4 & 0xffff))
                } else {
                    guard (1...4).contains(p.utf8.count), let g = UInt16(p, radix: 16) else { return nil }
                    out.append(g)
                }
            }
            return out
        }
        if halves.count == 1 {
            guard let g = groups(halves[0], allowV4Tail: true), g.count == 8 else { return nil }
            head = g
        } else {
            guard let h = groups(halves[0], allowV4Tail: false), let t = groups(halves[1], allowV4Tail: true),
                  h.count + t.count <= 7 else { return nil }
            head = h; tail = t
        }
        let all = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16)
        for g in all { bytes.append(UInt8(g >> 8)); bytes.append(UInt8(g & 0xff)) }
        return bytes
    }
}

/// An address block: `10.0.0.0/8`, `2001:db8::/32`, or a bare address (`/32` or `/128`).
public struct CIDR: Sendable, Hashable, CustomStringConvertible {
    /// The network address, with host bits cleared.
    public let network: IPAddress
    public let prefixLength: Int

    /// Parses `ADDRESS/LEN` or a bare address. Host bits are cleared (`10.1.2.3/8` becomes `10.0.0.0/8`).
    public init?(_ string: String) {
        guard case .success(let parsed) = CIDR.parse(string) else { return nil }
        self = parsed.cidr
    }

    public init?(network: IPAddress, prefixLength: Int) {
        let maxLen = network.isV4 ? 32 : 128
        guard (0...maxLen).contains(prefixLength) else { return nil }
        self.prefixLength = prefixLength
        switch network {
        case .v4(let v): self.network = .v4(v & CIDR.mask32(prefixLength))
        case .v6(let hi, let lo):
            let (mh, ml) = CIDR.mask128(prefixLength)
            self.network = .v6(hi: hi & mh, lo: lo & ml)
        }
    }

    /// Whether `address` lies in this block. IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) match IPv4 blocks,
    /// and IPv4 addresses match IPv6 blocks that cover their mapped form (`::ffff:0:0/96`).
    public func contains(_ address: IPAddress) -> Bool {
        switch network {
        case .v4(let net):
            guard let v4 = address.unmappedV4 else { return false }
            return v4 & CIDR.mask32(prefixLength) == net
        case .v6(let nh, let nl):
            let (ah, al) = address.v6Words
            let (mh, ml) = CIDR.mask128(prefixLength)
            return ah & mh == nh && al & ml == nl
        }
    }

    public var description: String { "\(network)/\(prefixLength)" }

    static func mask32(_ len: Int) -> UInt32 { len == 0 ? 0 : UInt32.max << UInt32(32 - len) }

    static func mask128(_ len: Int) -> (UInt64, UInt64) {
        if len <= 0 { return (0, 0) }
        if len <= 64 { return (UInt64.max << UInt64(64 - len), 0) }
        if len >= 128 { return (UInt64.max, UInt64.max) }
        return (UInt64.max, UInt64.max << UInt64(128 - len))
    }

    /// Parse with a reason on failure; `hostBitsSet` tells the loader to warn about `10.1.2.3/8`.
    static func parse(_ string: String) -> Result<(cidr: CIDR, hostBitsSet: Bool), CIDRError> {
        let addrPart: Substring
        var len: Int? = nil
        if let slash = string.firstIndex(of: "/") {
            addrPart = string[..<slash]
            let lenPart = string[string.index(after: slash)...]
            guard !lenPart.isEmpty, lenPart.utf8.count <= 3, lenPart.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let l = Int(lenPart) else {
                return .failure(.badPrefixLength(String(lenPart), max: addrPart.contains(":") ? 128 : 32))
            }
            len = l
        } else {
            addrPart = Substring(string)
        }
        guard !addrPart.contains("%"), !addrPart.hasPrefix("["), let addr = IPAddress(String(addrPart)) else {
            return .failure(.badAddress)
        }
        let maxLen = addr.isV4 ? 32 : 128
        let l = len ?? maxLen
        guard l <= maxLen, let cidr = CIDR(network: addr, prefixLength: l) else {
            return .failure(.badPrefixLength(String(l), max: maxLen))
        }
        return .success((cidr, cidr.network != addr))
    }

    enum CIDRError: Error {
        case badAddress
        case badPrefixLength(String, max: Int)
    }
}
