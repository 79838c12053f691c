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
public struct VerifiedToken: Sendable {
    public let header: JSONValue
    public let claims: JSONValue
    public let algorithm: JWSAlgorithm
    public let keyID: String?
    public let keySetName: String
    /// `exp`, `nbf`, `iat` as NumericDates (integer or fraction), when present.
    public let expiresAt: Double?
    public let notBefore: Double?
    public let issuedAt: Double?
    /// `sub` when it is a string.
    public let subject: String?
    /// The key set whose key verified the signature (for the cache's key-set check).
    let keySet: KeySet
    /// Rough memory cost, for the cache's byte bound.
    let approximateBytes: Int
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
        var dot1 = -1, dot2 = -1
        for i in 0..<n where raw[i] == UInt8(ascii: ".") {
            if dot1 < 0 {
                dot1 = i
            } else if dot2 < 0 {
                dot2 = i
            } else {
                trace?.detail = "more than three segments"
                return .failure(.malformed)
            }
        }
        guard dot2 >= 0 else {
            trace?.detail = "fewer than three segments"
            return .failure(.malformed)
        }
        let headerSeg = UnsafeRawBufferPointer(rebasing: raw[0..<dot1])
        let payloadSeg = UnsafeRawBufferPointer(rebasing: raw[(dot1 + 1)..<dot2])
        let signatureSeg = UnsafeRawBufferPointer(rebasing: raw[(dot2 + 1)..<n])
        let signingInput = UnsafeRawBufferPointer(rebasing: raw[0..<dot2])

        // One buffer holds the decoded header, signature and payload.
        var buffer = [UInt8]()
        buffer.reserveCapacity(n)
        guard Base64.decodeURLStrict(headerSeg, into: &buffer) else {
            trace?.detail = "header is not strict base64url"
            return .failure(.malformed)
        }
        let headerEnd = buffer.count
        let header: JSONValue
        do {
            header = try buffer.withUnsafeBytes { try JSONValue.parse(buffer: UnsafeRawBufferPointer(rebasing: $0[0..<headerEnd])) }
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
            switch name {
            case "alg":
                guard case .string(let s) = value else {
                    trace?.detail = "alg is not a string"
                    return .failure(.malformed)
                }
                sawAlg = true
                alg = JWSAlgorithm(rawValue: s)
                if alg == nil { trace?.detail = "alg \"\(s)\" is not supported" }
            case "kid":
                guard case .string(let s) = value else {
                    trace?.detail = "kid is not a string"
                    return .failure(.malformed)
                }
                kid = s
            case "crit":
                // RFC 7515 §4.1.11: we implement no extension header, so any listed one is unknown.
                trace?.detail = "crit lists \(value.serialized()), which this gateway does not implement"
                return .failure(.malformed)
            case "b64":
                guard value == .bool(true) else {
                    trace?.detail = "unencoded payloads (b64: false, RFC 7797) are not supported"
                    return .failure(.malformed)
                }
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

        // Key selection: with a kid, the keys of that kid (which must fit alg), else kid-less keys; without
        // a kid, every key that fits alg. Only sets listing alg take part.
        var kidMatched = false
        var fitting = 0
        var unavailable = false
        for set in keySets where set.mask & alg.bit != 0 {
            if !set.isAvailable { unavailable = true }
            for key in set.keys where kid != nil && key.keyID == kid {
                kidMatched = true
                if key.allows(alg) { fitting += 1 }
            }
        }
        if kidMatched && fitting == 0 {
            trace?.detail = "kid \"\(kid!)\" names a key that cannot verify \(alg)"
            return .failure(.algorithmNotAllowed)
        }

        let sigStart = buffer.count
        guard Base64.decodeURLStrict(signatureSeg, into: &buffer) else {
            trace?.detail = "signature is not strict base64url"
            return .failure(.malformed)
        }
        let sigEnd = buffer.count

        var verifiedBy: (VerificationKey, KeySet)? = nil
        var tried = 0
        buffer.withUnsafeBytes { all in
            let signature = UnsafeRawBufferPointer(rebasing: all[sigStart..<sigEnd])
            outer: for set in keySets where set.mask & alg.bit != 0 {
                for key in set.keys where key.allows(alg) {
                    if kidMatched {
                        if key.keyID != kid { continue }
                    } else if kid != nil, key.keyID != nil {
                        continue
                    }
                    tried += 1
                    if key.verify(alg, data: signingInput, signature: signature) {
                        verifiedBy = (key, set)
                        break outer
                    }
                }
            }
        }
        trace?.keysTried = tried
        guard let (key, set) = verifiedBy else {
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

        let payloadStart = buffer.count
        guard Base64.decodeURLStrict(payloadSeg, into: &buffer) else {
            trace?.detail = "payload is not strict base64url"
            return .failure(.malformed)
        }
        let payloadEnd = buffer.count
        let claims: JSONValue
        do {
            claims = try buffer.withUnsafeBytes {
                try JSONValue.parse(buffer: UnsafeRawBufferPointer(rebasing: $0[payloadStart..<payloadEnd]))
            }
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
        for (name, value) in claimMembers {
            switch name {
            case "exp", "nbf", "iat":
                guard case .number(let d) = value else {
                    if case .null = value { continue }
                    trace?.detail = "\(name) is not a NumericDate (a JSON number)"
                    return .failure(.malformed)
                }
                if name == "exp" { exp = d } else if name == "nbf" { nbf = d } else { iat = d }
            case "sub":
                if case .string(let s) = value { sub = s }
            default: break
            }
        }
        return .success(
            VerifiedToken(
                header: header, claims: claims, algorithm: alg, keyID: key.keyID ?? kid, keySetName: set.name,
                expiresAt: exp, notBefore: nbf, issuedAt: iat, subject: sub, keySet: set,
                approximateBytes: 2 * n + 256 + 16 * claimMembers.count))
    }
}
