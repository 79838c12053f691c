// The loaded route file as an immutable value (DESIGN.md §2 lesson 3, §4). Built only by `ConfigLoader`.
//
// Conventions: durations are plain `Double` seconds; lists keep file order (named entries are arrays, not
// dictionaries); every node a later stage may complain about carries `location`.

/// The whole route file.
public struct GatewayConfig: Sendable {
    /// The file name given to the loader (used in diagnostics).
    public let file: String
    public let listen: [Listener]
    public let admin: AdminConfig?
    /// `X-Forwarded-*` from peers in these blocks are kept and extended; from others, replaced.
    public let trustedProxies: [CIDR]
    /// Event loops; nil means one per core.
    public let workers: Int?
    public let limits: Limits
    public let log: LogConfig
    public let keys: [KeySet]
    public let upstreams: [Upstream]
    /// In file order; the first matching route wins.
    public let routes: [Route]
    /// The document root.
    public let location: SourceLocation

    public func keySet(named name: String) -> KeySet? { keys.first { $0.name == name } }
    public func upstream(named name: String) -> Upstream? { upstreams.first { $0.name == name } }
    public func route(named name: String) -> Route? { routes.first { $0.name == name } }

    /// Whether a peer address is a trusted proxy.
    public func isTrustedProxy(_ address: IPAddress) -> Bool {
        trustedProxies.contains { $0.contains(address) }
    }
}

// MARK: - Listeners

/// A `HOST:PORT` as written in `listen[].address` or `admin.address`.
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    /// The host without brackets (`0.0.0.0`, `::`, `::1`, `localhost`), or nil for `:PORT` (all interfaces).
    public let host: String?
    public let port: UInt16

    public init(host: String?, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// `HOST:PORT`, with brackets around IPv6 literals; `:PORT` for all interfaces.
    public var description: String {
        guard let host else { return ":\(port)" }
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

public struct Listener: Sendable {
    public let address: ListenAddress
    /// Modelled but not implemented yet by the proxy.
    public let tls: TLSConfig?
    public let location: SourceLocation
}

public struct TLSConfig: Sendable {
    /// SNI picks by the certificate's names; the first is the default.
    public let certificates: [CertificatePair]
    public let location: SourceLocation
}

public struct CertificatePair: Sendable {
    /// Path of the certificate chain PEM (relative paths are resolved against the config file's directory).
    public let cert: String
    /// Path of the private key PEM.
    public let key: String
    public let location: SourceLocation
}

public struct AdminConfig: Sendable {
    public let address: ListenAddress
    public let location: SourceLocation
}

// MARK: - Limits and logging

/// `limits:`; every key is optional and has the default shown.
public struct Limits: Sendable, Equatable {
    public var maxHeaderBytes: Int = 65536
    public var maxHeaderCount: Int = 100
    public var maxBodyBytes: Int = 104_857_600
    /// Seconds to receive a complete request head.
    public var headerTimeout: Double = 10
    /// Seconds a client keep-alive connection may sit idle.
    public var idleTimeout: Double = 75
    public var upstreamConnectTimeout: Double = 5
    /// Seconds to wait for the upstream response head, and between reads of its body.
    public var upstreamTimeout: Double = 60
    public var maxConnections: Int = 10000
    /// Seconds a SIGTERM drain waits for requests in flight.
    public var drainTimeout: Double = 30
    public var maxTokenBytes: Int = 16384
    /// Bound for reading a JSON body to find a `{ body: FIELD }` token.
    public var maxAuthBodyBytes: Int = 1_048_576
    public var maxTunnels: Int = 10000
    public var tunnelIdleTimeout: Double = 3600

    public init() {}
}

public struct LogConfig: Sendable, Equatable {
    /// One JSON access-log line per request on stdout.
    public var access: Bool = true

    public init(access: Bool = true) { self.access = access }
}

// MARK: - Keys

/// JWS algorithms a key set may pin. `none` does not exist here on purpose.
public enum JWTAlgorithm: String, Sendable, Hashable, CaseIterable {
    case HS256, HS384, HS512
    case RS256, RS384, RS512
    case PS256, PS384, PS512
    case ES256, ES384, ES512
    case EdDSA

    public enum Family: Sendable, Hashable {
        case hmac, rsa, rsaPSS, ecdsa, eddsa
    }

    public var family: Family {
        switch self {
        case .HS256, .HS384, .HS512: return .hmac
        case .RS256, .RS384, .RS512: return .rsa
        case .PS256, .PS384, .PS512: return .rsaPSS
        case .ES256, .ES384, .ES512: return .ecdsa
        case .EdDSA: return .eddsa
        }
    }
}

/// A named key set (`keys.NAME`).
public struct KeySet: Sendable {
    public let name: String
    /// The algorithms this key set may verify (pinned; never chosen by the token). Non-empty, no duplicates.
    public let algorithms: [JWTAlgorithm]
    public let material: KeyMaterial
    /// The `keys.NAME` entry (its key).
    public let location: SourceLocation
    /// The `algorithms` list.
    public let algorithmsLocation: SourceLocation
}

public enum KeyMaterial: Sendable {
    case secret(SecretSource)
    /// SPKI or PKCS#1 PEM (or an X.509 certificate, per DESIGN.md §4; the Policy compiler decides).
    case publicKey(PEMSource)
    case certificate(PEMSource)
    case jwks(JWKSSource)

    /// Where the material's mapping (`keys.NAME.secret` etc.) is.
    public var location: SourceLocation {
        switch self {
        case .secret(let s): return s.location
        case .publicKey(let p), .certificate(let p): return p.location
        case .jwks(let j): return j.location
        }
    }
}

public struct SecretSource: Sendable {
    public enum Origin: Sendable, Hashable {
        /// The secret inline (non-empty).
        case value(String)
        /// An environment variable name.
        case env(String)
        /// A file path (relative paths resolved against the config file's directory).
        case file(String)
        /// A systemd credential name (`$CREDENTIALS_DIRECTORY/NAME`).
        case credential(String)
    }

    public enum Encoding: String, Sendable, Hashable {
        case raw, base64, base64url
    }

    public let origin: Origin
    public let encoding: Encoding
    public let location: SourceLocation
}

public struct PEMSource: Sendable {
    public enum Origin: Sendable, Hashable {
        case file(String)
        /// PEM text inline.
        case pem(String)
    }

    public let origin: Origin
    public let location: SourceLocation
}

public struct JWKSSource: Sendable {
    public enum Origin: Sendable, Hashable {
        case file(String)
        /// Fetched from `url` every `refresh` seconds.
        case url(String, refresh: Double)
    }

    public let origin: Origin
    public let location: SourceLocation
}

// MARK: - Upstreams

public struct Upstream: Sendable {
    public let name: String
    public let servers: [UpstreamServer]
    public let location: SourceLocation
}

/// One `http://host:port` server.
public struct UpstreamServer: Sendable, Hashable {
    /// The URL as written.
    public let url: String
    /// Host without brackets (`127.0.0.1`, `::1`, `docs.internal`).
    public let host: String
    /// Port; 80 when the URL has none.
    public let port: UInt16
    public let location: SourceLocation

    /// `host:port` for a `Host` header / connect target, brackets around IPv6 literals.
    public var authority: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

// MARK: - Routes

public struct Route: Sendable {
    public let name: String
    /// Position in `routes` (0-based), i.e. priority.
    public let index: Int
    public let match: RouteMatch
    /// Name of an upstream (checked to exist).
    public let upstream: String
    /// Overrides `limits.upstream_timeout` (written at route level, or under `auth` for compatibility).
    public let upstreamTimeout: Double?
    /// Removed from the front of the forwarded request target when present (starts with `/`).
    public let stripPrefix: String?
    public let websocket: WebSocketSettings
    public let auth: RouteAuth
    /// The route's mapping (`routes[N]`).
    public let location: SourceLocation
    /// The `upstream:` value.
    public let upstreamLocation: SourceLocation
}

/// `websocket: true|false` or `{ enabled: BOOL, idle_timeout: DURATION }` at route level.
public struct WebSocketSettings: Sendable, Equatable {
    /// Upgrades are forwarded only on routes that allow them. Default false.
    public let enabled: Bool
    /// Tunnel idle timeout; nil means `limits.tunnel_idle_timeout`.
    public let idleTimeout: Double?

    public init(enabled: Bool = false, idleTimeout: Double? = nil) {
        self.enabled = enabled
        self.idleTimeout = idleTimeout
    }
}

public enum RouteAuth: Sendable {
    /// `auth: off` — the route is public.
    case off
    case required(AuthPolicy)

    public var policy: AuthPolicy? {
        if case .required(let p) = self { return p } else { return nil }
    }
}

public struct AuthPolicy: Sendable {
    /// Names of key sets (checked to exist), in order.
    public let keys: [KeySetReference]
    /// Where to look for the token, in order; the first present source is the token.
    public let tokens: [TokenSource]
    /// Accepted `iss` values; empty means not checked.
    public let issuers: [String]
    /// Accepted `aud` values (the token's aud must share one); empty means not checked.
    public let audiences: [String]
    /// Claims that must be present. Default `["exp"]`.
    public let require: [String]
    /// Seconds of clock skew allowed. Default 0.
    public let leeway: Double
    /// Largest allowed `exp - iat` (or `exp - now`), seconds.
    public let maxLifetime: Double?
    /// All must hold.
    public let claims: [ClaimRule]
    public let forward: ForwardSettings
    public let websocket: AuthWebSocketSettings
    /// `WWW-Authenticate` realm; default the route name.
    public let realm: String
    /// The `auth` mapping.
    public let location: SourceLocation
}

public struct KeySetReference: Sendable, Hashable {
    public let name: String
    public let location: SourceLocation
}

public enum TokenSource: Sendable, Hashable {
    /// A header; when `prefix` is set (e.g. `"Bearer "`) the value must start with it (the scheme part is
    /// compared case-insensitively by the Policy stage) and the token is the rest.
    case header(name: String, prefix: String?)
    case query(String)
    case cookie(String)
    /// A top-level field of a JSON request body (bounded by `limits.max_auth_body_bytes`).
    case body(String)
    /// A `Sec-WebSocket-Protocol` entry starting with this prefix; the token is the rest.
    case subprotocol(prefix: String)
    /// A field of the socket.io CONNECT packet's auth object.
    case socketio(String)
}

/// A scalar or list value from the file (claim matchers).
public enum ConfigValue: Sendable, Hashable, CustomStringConvertible {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case list([ConfigValue])

    public var description: String {
        switch self {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .bool(let b): return String(b)
        case .list(let l): return "[" + l.map(\.description).joined(separator: ", ") + "]"
        }
    }
}

public struct ClaimRule: Sendable {
    public enum Condition: Sendable, Hashable {
        case equals(ConfigValue)
        case oneOf([ConfigValue])
        /// The claim (a list, or a space-separated string such as `scope`) contains the value.
        case contains(ConfigValue)
        /// `exists: true` requires the claim; `exists: false` forbids it.
        case exists(Bool)
    }

    /// The claim as written (`tenant`, `realm_access.roles`, `https://example.com/roles`).
    public let claim: String
    /// The path into the claims object: split on `.`, unless the claim contains `://` (kept whole).
    public let path: [String]
    public let condition: Condition
    public let location: SourceLocation
}

public struct ForwardSettings: Sendable {
    public enum TokenForwarding: String, Sendable, Hashable {
        /// Default: keep the token in headers and body, strip it from query parameters.
        case keepExceptQuery
        /// `token: keep` — forward byte for byte.
        case keep
        /// `token: strip` — remove the token wherever it was found.
        case strip
    }

    public let token: TokenForwarding
    /// In file order; header names are valid tokens, distinct case-insensitively.
    public let claimsToHeaders: [ClaimHeader]
}

public struct ClaimHeader: Sendable, Hashable {
    public let claim: String
    /// Same splitting rule as `ClaimRule.path`.
    public let path: [String]
    public let header: String
    public let location: SourceLocation
}

/// `auth.websocket`.
public struct AuthWebSocketSettings: Sendable, Equatable {
    /// Close the tunnel when the token expires.
    public let closeOnExpiry: Bool
    /// Seconds after `exp` before the close. Default 5.
    public let grace: Double

    public init(closeOnExpiry: Bool = false, grace: Double = 5) {
        self.closeOnExpiry = closeOnExpiry
        self.grace = grace
    }
}
