// The route's claims policy (RFC 7519 §4.1 registered claims, plus matchers on dotted paths).

/// One claims rule. Semantics:
/// - `equals(v)`: the claim equals `v` exactly (JSON equality: a string claim compares as a string, a
///   number as a Double; an array claim equals only an equal array).
/// - `oneOf(list)`: the claim equals one of the values.
/// - `contains(v)`: an array claim has an element equal to `v`; a string claim, when `v` is a string,
///   contains `v` as one of its space-separated words (OAuth `scope` style: `"read edit"` contains `edit`);
///   any other claim type does not contain anything.
/// - `exists`: the claim is present and not null.
/// - `absent` (`exists: false` in the route file): the claim is missing or null; a present one yields
///   `claim_mismatch` (e.g. refuse tokens that carry an `act` delegation claim).
/// A missing (or null) claim yields `missing_claim` for every other operation; a present claim that fails
/// the operation yields `claim_mismatch`.
public struct ClaimRule: Sendable, Equatable {
    public enum Operation: Sendable, Equatable {
        case equals(JSONValue)
        case oneOf([JSONValue])
        case contains(JSONValue)
        case exists
        case absent
    }
    public var path: [String]
    public var op: Operation

    public init(path: [String], _ op: Operation) {
        self.path = path
        self.op = op
    }

    /// `claim` split on dots (`realm_access.roles`).
    public init(claim: String, _ op: Operation) {
        self.init(path: claim.split(separator: ".", omittingEmptySubsequences: false).map(String.init), op)
    }

    /// nil when the rule holds.
    public func check(_ claims: JSONValue) -> AuthOutcome? {
        guard let value = claims.value(atPath: path), !value.isNull else { return op == .absent ? nil : .missingClaim }
        return ClaimRule.holds(op, value) ? nil : .claimMismatch
    }

    static func holds(_ op: Operation, _ value: JSONValue) -> Bool {
        switch op {
        case .exists: return true
        case .absent: return false
        case .equals(let expected): return value == expected
        case .oneOf(let list): return list.contains(value)
        case .contains(let needle):
            switch value {
            case .array(let elements): return elements.contains(needle)
            case .string(let words):
                guard case .string(let word) = needle else { return false }
                return words.split(separator: " ").contains { $0 == word }
            default: return false
            }
        }
    }

    public var pathText: String { path.joined(separator: ".") }
}

/// What a route demands of a verified token's claims. Times are seconds since the epoch (NumericDate).
public struct ClaimsPolicy: Sendable, Equatable {
    /// Accepted `iss` values; empty accepts any (and none).
    public var issuers: [String]
    /// Accepted audiences; the token's `aud` (a string or an array of strings) must share one. Empty
    /// accepts any.
    public var audiences: [String]
    /// Top-level claims that must be present and not null (names are exact; no dot splitting).
    public var required: [String]
    /// Clock skew allowed for `exp`, `nbf` and `iat`, in seconds.
    public var leeway: Double
    /// Longest allowed `exp - iat` (or `exp - now` without `iat`), in seconds. When set, a token without
    /// `exp` fails with `lifetime_too_long`.
    public var maxLifetime: Double?
    public var rules: [ClaimRule]

    public init(
        issuers: [String] = [], audiences: [String] = [], required: [String] = ["exp"], leeway: Double = 0,
        maxLifetime: Double? = nil, rules: [ClaimRule] = []
    ) {
        self.issuers = issuers
        self.audiences = audiences
        self.required = required
        self.leeway = leeway
        self.maxLifetime = maxLifetime
        self.rules = rules
    }

    /// nil when every check holds, else the first failure in this order: required claims, `exp`, `nbf`,
    /// `iat`, `iss`, `aud`, lifetime, rules.
    public func check(_ token: VerifiedToken, now: Double) -> AuthOutcome? {
        let claims = token.claims
        for name in required {
            guard let v = claims[name], !v.isNull else { return .missingClaim }
        }
        if let exp = token.expiresAt, !(now < exp + leeway) { return .expired }
        if let nbf = token.notBefore, now + leeway < nbf { return .notYetValid }
        if let iat = token.issuedAt, iat > now + leeway { return .issuedInFuture }
        if !issuers.isEmpty {
            guard case .string(let iss)? = claims["iss"], issuers.contains(iss) else { return .wrongIssuer }
        }
        if !audiences.isEmpty, !audienceMatches(claims["aud"]) { return .wrongAudience }
        if let maxLifetime {
            guard let exp = token.expiresAt else { return .lifetimeTooLong }
            if exp - (token.issuedAt ?? now) > maxLifetime { return .lifetimeTooLong }
        }
        for rule in rules {
            if let failure = rule.check(claims) { return failure }
        }
        return nil
    }

    func audienceMatches(_ aud: JSONValue?) -> Bool {
        switch aud {
        case .string(let s)?: return audiences.contains(s)
        case .array(let list)?:
            for case .string(let s) in list where audiences.contains(s) { return true }
            return false
        default: return false
        }
    }
}
