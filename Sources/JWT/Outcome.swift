// One enum of authentication outcomes (DESIGN §2 lesson 11): it maps to the HTTP status, the
// WWW-Authenticate error, the access-log reason and the metrics label.

public enum AuthOutcome: String, Error, Sendable, Equatable, Hashable, CaseIterable, CustomStringConvertible {
    /// The token verified and the route's claims policy holds.
    case allowed
    /// No token was found (or it was empty).
    case missing
    /// Not a compact JWS we accept: segment count, base64url, JSON, header members, claim types, `crit`.
    case malformed
    /// Longer than the verifier's `maxTokenBytes`.
    case tokenTooLarge = "token_too_large"
    /// The header's `alg` is not a JWS algorithm this engine implements (including `none`).
    case unsupportedAlgorithm = "unsupported_algorithm"
    /// A real algorithm that none of the route's key sets lists, or the `kid` names a key whose type cannot
    /// verify it (e.g. an RSA key's kid on an HS256 token).
    case algorithmNotAllowed = "algorithm_not_allowed"
    /// No key in the route's key sets can be tried for this token (unknown `kid`, or no key of the type).
    case unknownKey = "unknown_key"
    /// The only key sets that could verify the token have no keys yet (remote JWKS never fetched): 503.
    case keysUnavailable = "keys_unavailable"
    /// Signature did not verify (wrong key, tampered, wrong length, DER instead of raw r‖s, ...).
    case badSignature = "bad_signature"
    case expired
    case notYetValid = "not_yet_valid"
    case issuedInFuture = "issued_in_future"
    case wrongIssuer = "wrong_issuer"
    case wrongAudience = "wrong_audience"
    /// A claim in `required`, or one a rule reads, is absent (or null).
    case missingClaim = "missing_claim"
    /// A claims rule (`equals`, `one_of`, `contains`) does not hold.
    case claimMismatch = "claim_mismatch"
    /// `exp - iat` (or `exp - now` without `iat`) exceeds the route's `max_lifetime`, or there is no `exp`
    /// at all while `max_lifetime` is set (an unbounded lifetime).
    case lifetimeTooLong = "lifetime_too_long"

    /// The stable string for logs, metrics labels and `error_description`.
    public var reason: String { rawValue }
    public var description: String { rawValue }

    /// 200 allowed; 403 for `claim_mismatch` (RFC 6750 insufficient_scope: the token is good, the rights
    /// are not); 503 `keys_unavailable`; everything else 401 (invalid_token, or no token at all).
    /// `missing_claim` stays 401: a token without a claim the route needs is not a valid token for it.
    public var httpStatus: Int {
        switch self {
        case .allowed: return 200
        case .claimMismatch: return 403
        case .keysUnavailable: return 503
        default: return 401
        }
    }

    /// True for the 403 family (`insufficient_scope`).
    public var isScopeFailure: Bool { self == .claimMismatch }

    /// The RFC 6750 `error` attribute for `WWW-Authenticate`: nil for `allowed`, `missing` (a bare
    /// challenge) and `keys_unavailable` (not a token problem).
    public var bearerError: String? {
        switch self {
        case .allowed, .missing, .keysUnavailable: return nil
        case .claimMismatch: return "insufficient_scope"
        default: return "invalid_token"
        }
    }
}
