import COpenSSL  // memcmp (libc, re-exported)

// A verified-token cache for one event loop (not thread-safe by design; no lock on any path).
//
// What is cached: the result of signature verification and parsing (a VerifiedToken), keyed by the token's
// bytes. The entry remembers which KeySet verified it; `Verifier.verify(_:now:cache:)` uses an entry only if
// that key set is one of its own, and always re-evaluates its ClaimsPolicy (exp/nbf/iat, iss, aud, rules)
// against `now`. So one cache can serve every route of a loop. An entry lives until the token's `exp`
// (tokens without `exp` until evicted), is evicted oldest-first when the entry or byte bound is reached, and
// the cache empties when the caller's key-set generation changes (`synchronize(generation:)`) or on
// `removeAll()`.

public struct TokenCache {
    public let maxEntries: Int
    public let maxBytes: Int
    /// The key-set generation the entries belong to.
    public private(set) var generation: UInt64 = 0
    public private(set) var bytes = 0
    public private(set) var hits: UInt64 = 0
    public private(set) var misses: UInt64 = 0
    public private(set) var evictions: UInt64 = 0

    struct Entry {
        var hash: UInt64
        var token: [UInt8]
        var verified: VerifiedToken
        var expiresAt: Double
        var size: Int
    }

    var index: [UInt64: Int] = [:]
    var ring: [Entry?] = []
    var head = 0
    var used = 0

    public init(maxEntries: Int = 10000, maxBytes: Int = 8 << 20) {
        self.maxEntries = max(1, maxEntries)
        self.maxBytes = max(1, maxBytes)
    }

    public var count: Int { index.count }

    /// Empties the cache when `generation` differs from the one its entries belong to.
    public mutating func synchronize(generation: UInt64) {
        if generation != self.generation {
            removeAll()
            self.generation = generation
        }
    }

    /// Drops every entry and moves to the next generation.
    public mutating func removeAll() {
        index.removeAll(keepingCapacity: true)
        ring.removeAll(keepingCapacity: true)
        head = 0
        used = 0
        bytes = 0
        generation &+= 1
    }

    public mutating func lookup(_ token: String, now: Double) -> VerifiedToken? {
        var token = token
        return token.withUTF8 { lookup(bytes: UnsafeRawBufferPointer($0), now: now) }
    }

    public mutating func insert(_ token: String, _ verified: VerifiedToken, now: Double) {
        var token = token
        token.withUTF8 { insert(bytes: UnsafeRawBufferPointer($0), verified, now: now) }
    }

    /// The cached entry for these token bytes, unless it expired (`exp <= now`).
    public mutating func lookup(bytes: UnsafeRawBufferPointer, now: Double) -> VerifiedToken? {
        let h = TokenCache.hash(bytes)
        guard let pos = index[h], let entry = ring[pos] else {
            misses &+= 1
            return nil
        }
        guard entry.token.count == bytes.count,
            entry.token.withUnsafeBytes({ memcmpEqual($0, bytes) })
        else {
            misses &+= 1
            return nil
        }
        if entry.expiresAt <= now {
            remove(at: pos)
            misses &+= 1
            return nil
        }
        hits &+= 1
        return entry.verified
    }

    /// Caches a verified token until its `exp` (not at all when it is already past).
    public mutating func insert(bytes: UnsafeRawBufferPointer, _ verified: VerifiedToken, now: Double) {
        let expiresAt = verified.expiresAt ?? .infinity
        guard expiresAt > now else { return }
        let size = verified.approximateBytes + bytes.count
        guard size <= maxBytes else { return }
        let h = TokenCache.hash(bytes)
        if let pos = index[h] { remove(at: pos) }
        while used > 0 && (used >= maxEntries || self.bytes + size > maxBytes) { evictOldest() }
        let entry = Entry(hash: h, token: Array(bytes), verified: verified, expiresAt: expiresAt, size: size)
        let pos = (head + used) % maxEntries
        if pos == ring.count {
            ring.append(entry)
        } else {
            ring[pos] = entry
        }
        used += 1
        index[h] = pos
        self.bytes += size
    }

    mutating func remove(at pos: Int) {
        guard let e = ring[pos] else { return }
        ring[pos] = nil
        index.removeValue(forKey: e.hash)
        bytes -= e.size
    }

    mutating func evictOldest() {
        guard used > 0 else { return }
        if ring[head] != nil {
            remove(at: head)
            evictions &+= 1
        }
        head = (head + 1) % maxEntries
        used -= 1
    }

    /// A 64-bit hash of the token's length and its last 64 bytes (the signature, which differs between
    /// any two tokens that verify), in four independent lanes. Hits compare the whole token, so a collision
    /// only costs a miss; and only tokens whose signature verified are inserted.
    @inline(__always)
    static func hash(_ b: UnsafeRawBufferPointer) -> UInt64 {
        let k: UInt64 = 0x9E37_79B9_7F4A_7C15
        let n = b.count
        var h0: UInt64 = UInt64(n) &* k, h1: UInt64 = 0x2545_F491_4F6C_DD1D, h2: UInt64 = 0xFF51_AFD7_ED55_8CCD
        var h3: UInt64 = 0xC4CE_B9FE_1A85_EC53
        var i = n >= 64 ? n - 64 : 0
        while i + 32 <= n {
            h0 = (h0 ^ b.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* k
            h1 = (h1 ^ b.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self)) &* k
            h2 = (h2 ^ b.loadUnaligned(fromByteOffset: i + 16, as: UInt64.self)) &* k
            h3 = (h3 ^ b.loadUnaligned(fromByteOffset: i + 24, as: UInt64.self)) &* k
            h0 ^= h0 >> 29
            h1 ^= h1 >> 31
            h2 ^= h2 >> 27
            h3 ^= h3 >> 33
            i += 32
        }
        var tail: UInt64 = 0
        while i < n {
            tail = (tail << 8 | UInt64(b[i])) &* 0x100_0000_01B3
            i += 1
        }
        var h = h0 ^ (h1 << 1 | h1 >> 63) ^ (h2 << 2 | h2 >> 62) ^ (h3 << 3 | h3 >> 61) ^ tail
        h ^= h >> 33
        h = h &* 0xff51_afd7_ed55_8ccd
        h ^= h >> 33
        return h
    }
}

@inline(__always)
func memcmpEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    guard a.count == b.count else { return false }
    if a.count == 0 { return true }
    return memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0
}
