import GatewayConfig
import HTTPCore
import JWT

/// How a route's token is forwarded (`forward.token`).
public enum TokenForwarding: Sendable, Equatable {
    /// Default: headers, cookies and body keep the token; a query token is removed.
    case keepExceptQuery
    case keep
    case strip
}

/// A claim copied into a request header (`forward.claims_to_headers`).
public struct ClaimHeaderRule: Sendable {
    public let path: [String]
    public let header: String
}

/// The per-route authentication plan, built once at load: where the token is, the ready verifier
/// (key sets parsed into EVP_PKEYs, algorithms pinned), and what to forward.
public final class RouteAuth: Sendable {
    public let realm: String
    public let sources: [TokenLocation]
    public let verifier: Verifier
    public let forwardToken: TokenForwarding
    public let claimHeaders: [ClaimHeaderRule]
    public let closeOnExpiry: Bool
    public let expiryGrace: Double
    public let leeway: Double
    /// Query parameters that carry tokens (redacted in logs, removed when forwarding).
    public let queryNames: [String]

    public init(realm: String, sources: [TokenLocation], verifier: Verifier, forwardToken: TokenForwarding = .keepExceptQuery,
                claimHeaders: [ClaimHeaderRule] = [], closeOnExpiry: Bool = false, expiryGrace: Double = 5, leeway: Double = 0) {
        self.realm = realm; self.sources = sources; self.verifier = verifier; self.forwardToken = forwardToken
        self.claimHeaders = claimHeaders; self.closeOnExpiry = closeOnExpiry; self.expiryGrace = expiryGrace
        self.leeway = leeway
        self.queryNames = sources.compactMap { if case .query(let n) = $0 { return n } else { return nil } }
    }

    /// The `{ socketio: FIELD }` source, if the route has one.
    public var socketIOField: String? {
        for case .socketio(let f) in sources { return f }
        return nil
    }

    /// Subprotocol prefixes whose entries carry tokens (removed before forwarding).
    public var subprotocolPrefixes: [String] {
        sources.compactMap { if case .subprotocol(let p) = $0 { return p } else { return nil } }
    }

    /// Verifies a token found outside the HTTP head (socket.io CONNECT).
    public func verify(_ token: String, now: Double, cache: inout TokenCache) -> Result<VerifiedToken, AuthDenial> {
        switch verifier.verify(token, now: now, cache: &cache) {
        case .success(let t): return .success(t)
        case .failure(let o): return .failure(denial(o))
        }
    }

    /// Whether a source other than `{ body: }` comes after position `index`.
    public func hasSources(after index: Int) -> Bool {
        sources.dropFirst(index + 1).contains { if case .body = $0 { return false } else { return true } }
    }

    public var needsBody: Bool { sources.contains { if case .body = $0 { return true } else { return false } } }
}

/// What the gateway answers itself when authentication fails.
public struct AuthDenial: Error, Sendable, Equatable {
    public let status: Int
    public let outcome: String          // reason from the outcome enum (access log, metrics, JSON body)
    public let error: String            // JSON `error`
    public let wwwAuthenticate: String?
    public init(status: Int, outcome: String, error: String, wwwAuthenticate: String?) {
        self.status = status; self.outcome = outcome; self.error = error; self.wwwAuthenticate = wwwAuthenticate
    }
}

/// The result of the authenticate + authorize phases.
public enum AuthResult {
    /// Forward, with this target and these field edits.
    case allow(AuthGrant)
    case deny(AuthDenial)
    /// A `{ body: FIELD }` source must be read first (bounded), then `authenticate(... body:)` again.
    case needBody(field: String, index: Int)
    /// No HTTP token, and the route takes its token from the socket.io CONNECT packet (`{ socketio: FIELD }`):
    /// the request goes on, and the CONNECT is checked where it travels (WebSocket frames or a polling POST body).
    case socketIO(field: String)
}

public struct AuthGrant {
    public let token: VerifiedToken
    /// Target to forward (a query token removed), or nil to keep the original bytes.
    public let target: String?
    /// Header names to remove from the forwarded request (a stripped token header, claim headers).
    public let removeHeaders: [String]
    /// Headers to add (claims_to_headers).
    public let addHeaders: [(String, String)]
    /// The Cookie fields rewritten without the token cookie (strip), or nil.
    public let cookies: [String]?
}

extension RouteAuth {
    func denial(_ outcome: AuthOutcome) -> AuthDenial {
        let realm = "realm=\"\(quoted(self.realm))\""
        switch outcome {
        case .missing:
            return AuthDenial(status: 401, outcome: "missing", error: "unauthorized", wwwAuthenticate: "Bearer \(realm)")
        case .keysUnavailable:
            return AuthDenial(status: 503, outcome: outcome.reason, error: "service_unavailable", wwwAuthenticate: nil)
        default:
            let e = outcome.bearerError ?? "invalid_token"
            return AuthDenial(status: outcome.httpStatus, outcome: outcome.reason, error: e,
                              wwwAuthenticate: "Bearer \(realm), error=\"\(e)\", error_description=\"\(outcome.reason)\"")
        }
    }

    /// The denial for a socket.io CONNECT without a usable token.
    public func denialForSocketIO(_ outcome: AuthOutcome) -> AuthDenial { denial(outcome) }

    func quoted(_ s: String) -> String {
        String(s.unicodeScalars.filter { $0 != "\"" && $0 != "\\" && $0.value >= 0x20 && $0.value != 0x7F }.map(Character.init))
    }

    /// Finds the token, verifies it with the route's verifier (through the loop's cache) and checks claims.
    /// `body` is the request body when a `{ body: FIELD }` source asked for it (`needBody`).
    public func authenticate(_ head: HTTPRequestHead, now: Double, cache: inout TokenCache,
                             body: [UInt8]? = nil, bodyIndex: Int? = nil, skippingBody: Bool = false) -> AuthResult {
        var search: TokenSearch
        if let body, let bodyIndex, case .body(let field) = sources[bodyIndex] {
            search = .missing
            switch Self.bodyToken(body, field: field) {
            case .some(.some(let t)): search = .found(t, index: bodyIndex)
            case .some(.none):        // valid JSON without the field: later sources
                search = TokenExtractor.search(head, sources: sources, from: bodyIndex + 1)
            case .none:               // not JSON
                let later = TokenExtractor.search(head, sources: sources, from: bodyIndex + 1)
                if case .missing = later, bodyIndex == sources.count - 1 || sources.count == 1 {
                    return .deny(AuthDenial(status: 400, outcome: "malformed", error: "bad_request", wwwAuthenticate: nil))
                }
                search = later
            }
        } else {
            search = TokenExtractor.search(head, sources: sources, skippingBody: skippingBody)
        }
        switch search {
        case .needBody(let field, let index):
            return .needBody(field: field, index: index)
        case .badRequest:
            return .deny(AuthDenial(status: 400, outcome: "malformed", error: "bad_request", wwwAuthenticate: nil))
        case .missing:
            for case .socketio(let field) in sources { return .socketIO(field: field) }
            return .deny(denial(.missing))
        case .found(let token, let index):
            if token.isEmpty { return .deny(denial(.malformed)) }
            switch verifier.verify(token, now: now, cache: &cache) {
            case .failure(let outcome): return .deny(denial(outcome))
            case .success(let verified):
                return grant(head, verified, sourceIndex: index)
            }
        }
    }

    private func grant(_ head: HTTPRequestHead, _ t: VerifiedToken, sourceIndex: Int) -> AuthResult {
        var remove: [String] = claimHeaders.map { $0.header }
        var add: [(String, String)] = []
        for rule in claimHeaders {
            guard let v = t.claims.value(atPath: rule.path), !v.isNull else { continue }
            let text: String
            switch v {
            case .string(let s): text = s
            case .bool(let b): text = b ? "true" : "false"
            case .number(let d): text = d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
            default: text = v.serialized()
            }
            // A value that could split or end a header line is refused, never forwarded.
            if text.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }) {
                return .deny(denial(.claimMismatch))
            }
            add.append((rule.header, text))
        }
        var target: String? = nil
        var cookies: [String]? = nil
        switch sources[sourceIndex] {
        case .query(let name):
            if forwardToken != .keep { target = TokenExtractor.removingQueryParameters(head.target, names: [name]) }
        case .header(let name, _):
            if forwardToken == .strip { remove.append(name) }
        case .cookie(let name):
            if forwardToken == .strip {
                cookies = head.fields.values("cookie").compactMap { TokenExtractor.removingCookie($0, name: name) }
            }
        case .body, .subprotocol, .socketio:
            break
        }
        return .allow(AuthGrant(token: t, target: target, removeHeaders: remove, addHeaders: add, cookies: cookies))
    }

    /// `.some(.some(token))` when `body` is a JSON object with a string `field`; `.some(.none)` for JSON without
    /// it; `.none` when the body is not JSON.
    static func bodyToken(_ body: [UInt8], field: String) -> String?? {
        guard let json = try? JSONValue.parse(body) else { return .none }
        switch json[field] {
        case .string(let s)?: return .some(s)
        case nil, .null?: return .some(.none)
        default: return .some("")      // present but not a string: a malformed token, not a missing one
        }
    }
}

extension TokenExtractor {
    /// A Cookie field value without cookie `name`; nil when nothing is left.
    static func removingCookie(_ header: String, name: String) -> String? {
        let kept = header.split(separator: ";").filter { part in
            let p = part.trimmingSpacesAndTabs()
            guard let eq = p.firstIndex(of: "=") else { return true }
            return p[..<eq] != name
        }.map { $0.trimmingSpacesAndTabs() }
        return kept.isEmpty ? nil : kept.joined(separator: "; ")
    }
}
