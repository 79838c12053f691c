import Base64Codec
import COpenSSL

// Compact JWS verification (RFC 7515 §7.1, RFC 7519 §7.2) with algorithms pinned by key sets.

/// Wall-clock seconds since the epoch. (Named so it does not collide with the standard library's `Clock`.)
public protocol WallClock: Sendable {
    func now() -> Double
}

/// A clock that always answers the same time (tests, `inspect --at`).
public struct FixedClock: WallClock {
    public var time: Double
    public init(_ time: Double) { self.time = time }
    public func now() -> Double { time }
}

/// A clock backed by a closure (the app passes one reading the system clock).
public struct ClosureClock: WallClock {
    let body: @Sendable () -> Double
    public init(_ body: @escaping @Sendable () -> Double) { self.body = body }
    public func now() -> Double { body() }
}

/// A token whose signature verified with a key of `keySetName`, parsed. Claims policy is checked apart.
/// A value type over one immutable reference, so copies (cache hits) cost one retain.
public struct VerifiedToken: Sendable {
    final class Storage: Sendable {
        let header: JSONValue
        let claims: JSONValue
        let algorithm: JWSAlgorithm
        let keyID: String?
        let expiresAt: Double?
        let notBefore: Double?
        let issuedAt: Double?
        let subject: String?
        let keySet: KeySet
        let approximateBytes: Int

        init(header: JSONValue, claims: JSONValue, algorithm: JWSAlgorithm, keyID: String?, expiresAt: Double?,
             notBefore: Double?, issuedAt: Double?, subject: String?, keySet: KeySet, approximateBytes: Int) {
            self.header = header
            self.claims = claims
            self.algorithm = algorithm
            self.keyID = keyID
            self.expiresAt = expiresAt
            self.notBefore = notBefore
            self.issuedAt = issuedAt
            self.subject = subject
            self.keySet = keySet
            self.approximateBytes = approximateBytes
        }
    }
    let storage: Storage

    public var header: JSONValue { storage.header }
    public var claims: JSONValue { storage.claims }
    public var algorithm: JWSAlgorithm { storage.algorithm }
    /// The verifying key's kid (or the token's, when a kid-less key verified it).
    public var keyID: String? { storage.keyID }
    public var keySetName: String { storage.keySet.name }
    /// `exp`, `nbf`, `iat` as NumericDates (integer or fraction), when present.
    public var expiresAt: Double? { storage.expiresAt }
    public var notBefore: Double? { storage.notBefore }
    public var issuedAt: Double? { storage.issuedAt }
    /// `sub` when it is a string.
    public var subject: String? { storage.subject }
    /// The key set whose key verified the signature (for the cache's key-set check).
    var keySet: KeySet { storage.keySet }
    /// Rough memory cost, for the cache's byte bound.
    var approximateBytes: Int { storage.approximateBytes }
}

public struct Verifier: Sendable {
    public let keySets: [KeySet]
    public let policy: ClaimsPolicy
    public let maxTokenBytes: Int
    let mask: UInt16

    public static let defaultMaxTokenBytes = 16384

    public init(keySets: [KeySet], policy: ClaimsPolicy = ClaimsPolicy(), maxTokenBytes: Int = defaultMaxTokenBytes) {
        self.keySets = keySets
        self.policy = policy
        self.maxTokenBytes = maxTokenBytes
        self.mask = keySets.reduce(0) { $0 | $1.mask }
    }

    /// The algorithms any of the key sets lists.
    public var algorithms: [JWSAlgorithm] { JWSAlgorithm.allCases.filter { mask & $0.bit != 0 } }

    // MARK: Full verification

    /// Signature, then claims policy against `now`.
    public func verify(_ token: String, now: Double) -> Result<VerifiedToken, AuthOutcome> {
        var token = token
        return token.withUTF8 { verify(bytes: UnsafeRawBufferPointer($0), now: now) }
    }

    public func verify(_ token: Substring, now: Double) -> Result<VerifiedToken, AuthOutcome> {
        var token = token
        return token.withUTF8 { verify(bytes: UnsafeRawBufferPointer($0), now: now) }
    }

    public func verify(bytes: UnsafeRawBufferPointer, now: Double) -> Result<VerifiedToken, AuthOutcome> {
        switch authenticate(bytes: bytes) {
        case .failure(let outcome): return .failure(outcome)
        case .success(let token):
            if let failure = policy.check(token, now: now) { return .failure(failure) }
            return .success(token)
        }
    }

    /// With a per-loop cache: a hit skips signature and parsing, but the entry must come from a key set of
    /// this verifier and the claims policy (times included) is evaluated against `now` every time. A
    /// token whose signature verified is cached even when the policy refuses it, so a refused token is
    /// not re-verified on every request either.
    public func verify(_ token: String, now: Double, cache: inout TokenCache) -> Result<VerifiedToken, AuthOutcome> {
        var token = token
        return token.withUTF8 { verify(bytes: UnsafeRawBufferPointer($0), now: now, cache: &cache) }
    }

    public func verify(_ token: Substring, now: Double, cache: inout TokenCache) -> Result<VerifiedToken, AuthOutcome> {
        var token = token
        return token.withUTF8 { verify(bytes: UnsafeRawBufferPointer($0), now: now, cache: &cache) }
    }

    public func verify(bytes: UnsafeRawBufferPointer, now: Double, cache: inout TokenCache) -> Result<
        VerifiedToken, AuthOutcome
    > {
        if bytes.count <= maxTokenBytes, let hit = cache.lookup(bytes: bytes, now: now), trusts(hit.keySet) {
            if let failure = policy.check(hit, now: now) { return .failure(failure) }
            return .success(hit)
        }
        switch authenticate(bytes: bytes) {
        case .failure(let outcome): return .failure(outcome)
        case .success(let token):
            cache.insert(bytes: bytes, token, now: now)
            if let failure = policy.check(token, now: now) { return .failure(failure) }
            return .success(token)
        }
    }

    @inline(__always)
    func trusts(_ set: KeySet) -> Bool {
        for s in keySets where s === set { return true }
        return false
    }

    // MARK: Signature and parsing

    /// Parses the compact JWS, picks keys and checks the signature; parses the payload and the types of
    /// `exp`, `nbf`, `iat`. No claims policy.
    public func authenticate(_ token: String) -> Result<VerifiedToken, AuthOutcome> {
        var token = token
        return token.withUTF8 { authenticate(bytes: UnsafeRawBufferPointer($0)) }
    }

    public func authenticate(bytes raw: UnsafeRawBufferPointer) -> Result<VerifiedToken, AuthOutcome> {
        var trace: Trace? = nil
        return authenticate(bytes: raw, trace: &trace)
    }

    /// Notes for `explain`; nil on the hot path.
    struct Trace {
        var header: JSONValue? = nil
        var payload: JSONValue? = nil
        var algorithm: JWSAlgorithm? = nil
        var detail = ""
        var keysTried = 0
        var signatureVerified = false
        var keyDescription = ""
    }

    func authenticate(bytes raw: UnsafeRawBufferPointer, trace: inout Trace?) -> Result<VerifiedToken, AuthOutcome> {
        let n = raw.count
        if n == 0 {
            trace?.detail = "empty token"
            return .failure(.missing)
        }
        if n > maxTokenBytes {
            trace?.detail = "\(n) bytes; the limit is \(maxTokenBytes)"
            return .failure(.tokenTooLarge)
        }
        // Exactly three segments.
        let base = raw.baseAddress!
        guard let d1 = memchr(base, Int32(UInt8(ascii: ".")), n) else {
            trace?.detail = "fewer than three segments"
            return .failure(.malformed)
        }
        let dot1 = base.distance(to: UnsafeRawPointer(d1))
        guard let d2 = memchr(base + dot1 + 1, Int32(UInt8(ascii: ".")), n - dot1 - 1) else {
            trace?.detail = "fewer than three segments"
            return .failure(.malformed)
        }
        let dot2 = base.distance(to: UnsafeRawPointer(d2))
        if memchr(base + dot2 + 1, Int32(UInt8(ascii: ".")), n - dot2 - 1) != nil {
            trace?.detail = "more than three segments"
            return .failure(.malformed)
        }
        let headerSeg = UnsafeRawBufferPointer(rebasing: raw[0..<dot1])
        let payloadSeg = UnsafeRawBufferPointer(rebasing: raw[(dot1 + 1)..<dot2])
        let signatureSeg = UnsafeRawBufferPointer(rebasing: raw[(dot2 + 1)..<n])
        let signingInput = UnsafeRawBufferPointer(rebasing: raw[0..<dot2])

        // One scratch buffer (on the stack for ordinary tokens) holds the decoded parts.
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: n) { scratch in
            let out = scratch.baseAddress!
            let headerLength = Base64.decodeURL(headerSeg, into: out)
            guard headerLength >= 0 else {
                trace?.detail = "header is not strict base64url"
                return .failure(.malformed)
            }
            let header: JSONValue
            do {
                header = try JSONValue.parse(buffer: UnsafeRawBufferPointer(start: out, count: headerLength))
            } catch {
                trace?.detail = "header: \(error)"
                return .failure(.malformed)
            }
            trace?.header = header
            guard case .object(let members) = header else {
                trace?.detail = "header is not a JSON object"
                return .failure(.malformed)
            }
            var alg: JWSAlgorithm? = nil
            var kid: String? = nil
            var sawAlg = false
            for (name, value) in members {
                switch name.utf8.count {
                case 3:
                    if name == "alg" {
                        guard case .string(let s) = value else {
                            trace?.detail = "alg is not a string"
                            return .failure(.malformed)
                        }
                        sawAlg = true
                        alg = JWSAlgorithm.from(name: s)
                        if alg == nil { trace?.detail = "alg \"\(s)\" is not supported" }
                    } else if name == "kid" {
                        guard case .string(let s) = value else {
                            trace?.detail = "kid is not a string"
                            return .failure(.malformed)
                        }
                        kid = s
                    } else if name == "b64" {
                        guard value == .bool(true) else {
                            trace?.detail = "unencoded payloads (b64: false, RFC 7797) are not supported"
                            return .failure(.malformed)
                        }
                    }
                case 4 where name == "crit":
                    // RFC 7515 §4.1.11: we implement no extension header, so any listed one is unknown.
                    trace?.detail = "crit lists \(value.serialized()), which this gateway does not implement"
                    return .failure(.malformed)
                default: break
                }
            }
            guard sawAlg else {
                trace?.detail = "header has no alg"
                return .failure(.malformed)
            }
            guard let alg else { return .failure(.unsupportedAlgorithm) }
            trace?.algorithm = alg
            guard mask & alg.bit != 0 else {
                trace?.detail = "\(alg) is not among the route's algorithms (\(algorithms.map(\.rawValue).joined(separator: ", ")))"
                return .failure(.algorithmNotAllowed)
            }

            // Key selection: with a kid, the keys of that kid (which must fit alg), else kid-less keys;
            // without a kid, every key that fits alg. Only sets listing alg take part.
            var kidMatched = false
            var fitting = 0
            var unavailable = false
            for set in keySets where set.mask & alg.bit != 0 {
                if !set.isAvailable { unavailable = true }
                guard let kid else { continue }
                for key in set.keys where key.keyID == kid {
                    kidMatched = true
                    if key.allows(alg) { fitting += 1 }
                }
            }
            if kidMatched && fitting == 0 {
                trace?.detail = "kid \"\(kid!)\" names a key that cannot verify \(alg)"
                return .failure(.algorithmNotAllowed)
            }

            let sigStart = out + headerLength
            let sigLength = Base64.decodeURL(signatureSeg, into: sigStart)
            guard sigLength >= 0 else {
                trace?.detail = "signature is not strict base64url"
                return .failure(.malformed)
            }
            let signature = UnsafeRawBufferPointer(start: sigStart, count: sigLength)

            var verifiedBy: VerificationKey? = nil
            var verifiedSet: KeySet? = nil
            var tried = 0
            outer: for set in keySets where set.mask & alg.bit != 0 {
                for key in set.keys where key.allows(alg) {
                    if kidMatched {
                        if key.keyID != kid { continue }
                    } else if kid != nil, key.keyID != nil {
                        continue
                    }
                    tried += 1
                    if key.verify(alg, data: signingInput, signature: signature) {
                        verifiedBy = key
                        verifiedSet = set
                        break outer
                    }
                }
            }
            trace?.keysTried = tried
            guard let key = verifiedBy, let set = verifiedSet else {
                if tried == 0 {
                    if unavailable {
                        trace?.detail = "the key sets that could verify \(alg) have no keys yet"
                        return .failure(.keysUnavailable)
                    }
                    trace?.detail = kid.map { "no key with kid \"\($0)\" (or without a kid) for \(alg)" } ?? "no key for \(alg)"
                    return .failure(.unknownKey)
                }
                trace?.detail = "\(tried) key\(tried == 1 ? "" : "s") tried; none verified the signature"
                return .failure(.badSignature)
            }
            if trace != nil {
                trace!.signatureVerified = true
                trace!.keyDescription =
                    "\(key.type)\(key.keyID.map { " kid \"\($0)\"" } ?? "") of key set \(set.name)"
            }

            let payloadStart = sigStart + sigLength
            let payloadLength = Base64.decodeURL(payloadSeg, into: payloadStart)
            guard payloadLength >= 0 else {
                trace?.detail = "payload is not strict base64url"
                return .failure(.malformed)
            }
            let claims: JSONValue
            do {
                claims = try JSONValue.parse(buffer: UnsafeRawBufferPointer(start: payloadStart, count: payloadLength))
            } catch {
                trace?.detail = "payload: \(error)"
                return .failure(.malformed)
            }
            trace?.payload = claims
            guard case .object(let claimMembers) = claims else {
                trace?.detail = "payload is not a JSON object"
                return .failure(.malformed)
            }
            var exp: Double? = nil, nbf: Double? = nil, iat: Double? = nil
            var sub: String? = nil
            for (name, value) in claimMembers where name.utf8.count == 3 {
                let which = threeLetters(name)
                switch which {
                case threeLetters("exp"), threeLetters("nbf"), threeLetters("iat"):
                    guard case .number(let d) = value else {
                        if case .null = value { continue }
                        trace?.detail = "\(name) is not a NumericDate (a JSON number)"
                        return .failure(.malformed)
                    }
                    if which == threeLetters("exp") {
                        exp = d
                    } else if which == threeLetters("nbf") {
                        nbf = d
                    } else {
                        iat = d
                    }
                case threeLetters("sub"):
                    if case .string(let s) = value { sub = s }
                default: break
                }
            }
            return .success(
                VerifiedToken(storage: VerifiedToken.Storage(
                    header: header, claims: claims, algorithm: alg, keyID: key.keyID ?? kid,
                    expiresAt: exp, notBefore: nbf, issuedAt: iat, subject: sub, keySet: set,
                    approximateBytes: 2 * n + 256 + 16 * claimMembers.count)))
        }
    }
}

/// The UTF-8 bytes of a short name packed into an integer, for switching without string comparisons.
@inline(__always)
func threeLetters(_ s: String) -> UInt32 {
    var v: UInt32 = 0
    for c in s.utf8 { v = v << 8 | UInt32(c) }
    return v
}
