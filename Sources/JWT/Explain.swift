// Step-by-step explanation of a verification, for `portcullis inspect`. Not on the request path.

import Base64Codec

public struct ExplainStep: Sendable, Equatable, CustomStringConvertible {
    /// token, header, algorithm, key, signature, payload, required, exp, nbf, iat, iss, aud, lifetime,
    /// `claim <path>`, outcome.
    public var name: String
    public var ok: Bool
    public var detail: String

    public init(name: String, ok: Bool, detail: String) {
        self.name = name
        self.ok = ok
        self.detail = detail
    }

    public var description: String { "\(ok ? "ok  " : "FAIL") \(name): \(detail)" }
}

/// "45s", "3 min", "2 h 5 min", "4 days".
func humanDuration(_ seconds: Double) -> String {
    let s = abs(seconds)
    if s < 1 { return String(Int((s * 1000).rounded())) + "ms" }
    if s < 120 { return String(Int(s.rounded(.down))) + "s" }
    if s < 7200 { return String(Int((s / 60).rounded(.down))) + " min" }
    if s < 172_800 {
        let h = Int(s / 3600)
        let m = Int((s - Double(h) * 3600) / 60)
        return m == 0 ? "\(h) h" : "\(h) h \(m) min"
    }
    return String(Int(s / 86400)) + " days"
}

extension Verifier {
    /// Decodes header and payload without verifying anything (nil where a part does not decode).
    public static func decodeUnverified(_ token: String) -> (header: JSONValue?, payload: JSONValue?) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        func part(_ i: Int) -> JSONValue? {
            guard parts.count > i, let bytes = Base64.decodeURL(parts[i]) else { return nil }
            return try? JSONValue.parse(bytes)
        }
        return (part(0), part(1))
    }

    /// Every step the verifier takes for `token` at `now`, with what it found. Signature-level steps stop
    /// at the first failure; claims checks all run, so one call shows every claims problem. The last step
    /// is `outcome`, whose detail is the reason `verify` would give.
    public func explain(_ token: String, now: Double) -> [ExplainStep] {
        var steps: [ExplainStep] = []
        var trace: Trace? = Trace()
        var copy = token
        let result = copy.withUTF8 { authenticate(bytes: UnsafeRawBufferPointer($0), trace: &trace) }
        let t = trace!
        let size = token.utf8.count
        func add(_ name: String, _ ok: Bool, _ detail: String) { steps.append(ExplainStep(name: name, ok: ok, detail: detail)) }

        switch result {
        case .failure(let outcome):
            switch outcome {
            case .missing, .tokenTooLarge:
                add("token", false, t.detail)
            default:
                add("token", true, "\(size) bytes (limit \(maxTokenBytes))")
                if t.algorithm == nil && outcome != .unsupportedAlgorithm && outcome != .algorithmNotAllowed {
                    add("header", false, t.detail)
                    break
                }
                add("header", true, t.header?.serialized() ?? "")
                if outcome == .unsupportedAlgorithm || outcome == .algorithmNotAllowed {
                    add("algorithm", false, t.detail.isEmpty ? "alg is not a supported JWS algorithm" : t.detail)
                    break
                }
                add("algorithm", true, "\(t.algorithm!) (the route allows \(algorithms.map(\.rawValue).joined(separator: ", ")))")
                if outcome == .unknownKey || outcome == .keysUnavailable {
                    add("key", false, t.detail)
                    break
                }
                if !t.signatureVerified {
                    if t.keysTried > 0 { add("key", true, "\(t.keysTried) candidate key\(t.keysTried == 1 ? "" : "s")") }
                    add("signature", false, t.detail)
                    break
                }
                add("key", true, t.keyDescription)
                add("signature", true, "verified")
                add("payload", false, t.detail)
            }
            add("outcome", false, outcome.reason)
            return steps

        case .success(let v):
            add("token", true, "\(size) bytes (limit \(maxTokenBytes))")
            add("header", true, v.header.serialized())
            add("algorithm", true, "\(v.algorithm) (the route allows \(algorithms.map(\.rawValue).joined(separator: ", ")))")
            add("key", true, t.keyDescription)
            add("signature", true, "verified")
            add("payload", true, v.claims.serialized())
            explainClaims(v, now: now, into: &steps)
            let outcome = policy.check(v, now: now) ?? .allowed
            add("outcome", outcome == .allowed, outcome.reason)
            return steps
        }
    }

    func explainClaims(_ v: VerifiedToken, now: Double, into steps: inout [ExplainStep]) {
        func add(_ name: String, _ ok: Bool, _ detail: String) { steps.append(ExplainStep(name: name, ok: ok, detail: detail)) }
        let leeway = policy.leeway
        let leewayText = leeway > 0 ? ", leeway \(humanDuration(leeway))" : ""
        let claims = v.claims

        let missing = policy.required.filter { claims[$0] == nil || claims[$0]!.isNull }
        if !policy.required.isEmpty || !missing.isEmpty {
            add("required", missing.isEmpty,
                missing.isEmpty ? "present: \(policy.required.joined(separator: ", "))"
                    : "missing: \(missing.joined(separator: ", "))")
        }
        if let exp = v.expiresAt {
            if now < exp + leeway {
                add("exp", true, now < exp ? "expires in \(humanDuration(exp - now))\(leewayText)"
                    : "expired \(humanDuration(now - exp)) ago, within the leeway of \(humanDuration(leeway))")
            } else {
                add("exp", false, "expired \(humanDuration(now - exp)) ago\(leewayText)")
            }
        } else {
            add("exp", !policy.required.contains("exp"), "absent")
        }
        if let nbf = v.notBefore {
            let ok = !(now + leeway < nbf)
            add("nbf", ok, ok ? "valid since \(humanDuration(now - nbf))" : "valid only in \(humanDuration(nbf - now))\(leewayText)")
        }
        if let iat = v.issuedAt {
            let ok = !(iat > now + leeway)
            add("iat", ok, ok ? "issued \(humanDuration(now - iat)) ago" : "issued \(humanDuration(iat - now)) in the future\(leewayText)")
        }
        if !policy.issuers.isEmpty {
            let iss = claims["iss"]
            let ok = iss?.stringValue.map { policy.issuers.contains($0) } ?? false
            add("iss", ok, "\(iss?.serialized() ?? "absent"); accepted: \(policy.issuers.joined(separator: ", "))")
        }
        if !policy.audiences.isEmpty {
            let aud = claims["aud"]
            add("aud", policy.audienceMatches(aud), "\(aud?.serialized() ?? "absent"); accepted: \(policy.audiences.joined(separator: ", "))")
        }
        if let maxLifetime = policy.maxLifetime {
            if let exp = v.expiresAt {
                let lifetime = exp - (v.issuedAt ?? now)
                add("lifetime", lifetime <= maxLifetime,
                    "\(humanDuration(lifetime)) (\(v.issuedAt == nil ? "exp - now" : "exp - iat")); at most \(humanDuration(maxLifetime))")
            } else {
                add("lifetime", false, "no exp: unbounded; at most \(humanDuration(maxLifetime))")
            }
        }
        for rule in policy.rules {
            let value = claims.value(atPath: rule.path)
            let failure = rule.check(claims)
            let op: String
            switch rule.op {
            case .equals(let v): op = "equals \(v.serialized())"
            case .oneOf(let list): op = "one of \(JSONValue.array(list).serialized())"
            case .contains(let v): op = "contains \(v.serialized())"
            case .exists: op = "exist"
            case .absent: op = "be absent"
            }
            add("claim \(rule.pathText)", failure == nil, "\(value?.serialized() ?? "absent"); must \(op)")
        }
    }
}
