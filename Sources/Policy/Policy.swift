import HTTPCore

/// Runtime limits, compiled from the route file's `limits` (times in nanoseconds).
public struct RuntimeLimits: Sendable {
    public var maxHeaderBytes = 65536
    public var maxHeaderCount = 100
    public var maxBodyBytes: UInt64 = 104_857_600
    public var headerTimeout: UInt64 = 10_000_000_000
    public var idleTimeout: UInt64 = 75_000_000_000
    public var upstreamConnectTimeout: UInt64 = 5_000_000_000
    public var upstreamTimeout: UInt64 = 60_000_000_000
    public var maxConnections = 10000
    public var drainTimeout: UInt64 = 30_000_000_000
    public var maxTokenBytes = 16384
    public var maxAuthBodyBytes = 1_048_576
    public var maxTunnels = 10000
    public var tunnelIdleTimeout: UInt64 = 3_600_000_000_000
    public init() {}
}

/// One upstream server (`http://host:port`).
public struct UpstreamServer: Sendable, Equatable {
    public let host: String
    public let port: Int
    /// `host:port` (`[v6]:port`): the pool key and the access log's `upstream`.
    public let key: String
    public init(host: String, port: Int) {
        self.host = host; self.port = port
        self.key = host.utf8.contains(UInt8(ascii: ":")) ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

public struct UpstreamGroup: Sendable {
    public var name: String
    public var servers: [UpstreamServer]
    public init(name: String, servers: [UpstreamServer]) { self.name = name; self.servers = servers }
}

/// A route compiled for the request path: matching, upstream, rewriting and auth, all resolved at load.
public final class CompiledRoute: Sendable {
    public let name: String
    public let matcher: @Sendable (_ host: String?, _ normalizedPath: String, _ method: String) -> Bool
    public let upstream: Int                 // index into GatewayPolicy.upstreams
    public let stripPrefix: String?
    public let upstreamTimeout: UInt64?      // nanoseconds; nil = limits.upstreamTimeout
    public let websocket: Bool
    /// Tunnel idle timeout (nanoseconds); nil = limits.tunnelIdleTimeout.
    public let websocketIdleTimeout: UInt64?
    public let auth: RouteAuth?              // nil = `auth: off`
    /// Headers always removed from the client's request (claims_to_headers targets), lowercased.
    public let removeHeaders: [String]

    public init(name: String, matcher: @escaping @Sendable (String?, String, String) -> Bool, upstream: Int,
                stripPrefix: String? = nil, upstreamTimeout: UInt64? = nil, websocket: Bool = false,
                websocketIdleTimeout: UInt64? = nil, auth: RouteAuth? = nil, removeHeaders: [String] = []) {
        self.websocketIdleTimeout = websocketIdleTimeout
        self.name = name; self.matcher = matcher; self.upstream = upstream; self.stripPrefix = stripPrefix
        self.upstreamTimeout = upstreamTimeout; self.websocket = websocket; self.auth = auth
        self.removeHeaders = removeHeaders
    }
}


/// Decides whether a peer address is a trusted proxy.
public struct TrustedProxies: Sendable {
    public let contains: @Sendable (String) -> Bool
    public init(_ contains: @escaping @Sendable (String) -> Bool) { self.contains = contains }
    public static let none = TrustedProxies { _ in false }
}

public struct ListenSpec: Sendable, Equatable {
    public var host: String
    public var port: Int
    public init(host: String, port: Int) { self.host = host; self.port = port }
}

/// The whole compiled configuration. Immutable; reload builds a new one and swaps the reference.
public final class GatewayPolicy: Sendable {
    public let routes: [CompiledRoute]
    public let upstreams: [UpstreamGroup]
    public let limits: RuntimeLimits
    public let trustedProxies: TrustedProxies
    public let listen: [ListenSpec]
    public let admin: ListenSpec?
    public let workers: Int?
    public let accessLog: Bool
    public let generation: Int

    public init(routes: [CompiledRoute], upstreams: [UpstreamGroup], limits: RuntimeLimits,
                trustedProxies: TrustedProxies, listen: [ListenSpec], admin: ListenSpec? = nil,
                workers: Int? = nil, accessLog: Bool = true, generation: Int = 0) {
        self.routes = routes; self.upstreams = upstreams; self.limits = limits
        self.trustedProxies = trustedProxies; self.listen = listen; self.admin = admin
        self.workers = workers; self.accessLog = accessLog; self.generation = generation
    }

    /// First matching route in file order.
    public func route(host: String?, normalizedPath: String, method: String) -> CompiledRoute? {
        for r in routes where r.matcher(host, normalizedPath, method) { return r }
        return nil
    }
}
