import GatewayConfig
import Glibc
import HTTPCore
import JWT

/// Turns a loaded route file into the immutable runtime policy: every name resolved, every key parsed,
/// every route's matcher and verifier built once (DESIGN.md §2 lessons 3–5). Problems are reported as
/// diagnostics at the position of the node they concern, all at once.
public enum PolicyCompiler {
    /// - Parameters:
    ///   - resolve: maps a host name to a numeric address (`localhost` → `127.0.0.1`); nil if it cannot.
    ///   - generation: a number that grows with each successful load (reload counting, caches).
    public static func compile(_ config: GatewayConfig, generation: Int = 0,
                               environment: some KeyEnvironment = SystemKeyEnvironment(),
                               remoteJWKS: (String) -> [UInt8]? = { _ in nil },
                               resolve: (String) -> String? = { $0 }) -> (policy: GatewayPolicy?, diagnostics: [Diagnostic]) {
        var (keySets, diags) = loadKeySets(config, environment: environment, remoteJWKS: remoteJWKS)
        let l = config.limits
        var limits = RuntimeLimits()
        limits.maxHeaderBytes = l.maxHeaderBytes
        limits.maxHeaderCount = l.maxHeaderCount
        limits.maxBodyBytes = UInt64(max(0, l.maxBodyBytes))
        limits.headerTimeout = nanos(l.headerTimeout)
        limits.idleTimeout = nanos(l.idleTimeout)
        limits.upstreamConnectTimeout = nanos(l.upstreamConnectTimeout)
        limits.upstreamTimeout = nanos(l.upstreamTimeout)
        limits.maxConnections = l.maxConnections
        limits.drainTimeout = nanos(l.drainTimeout)
        limits.maxTokenBytes = l.maxTokenBytes
        limits.maxAuthBodyBytes = l.maxAuthBodyBytes
        limits.maxTunnels = l.maxTunnels
        limits.tunnelIdleTimeout = nanos(l.tunnelIdleTimeout)

        var upstreams: [UpstreamGroup] = []
        var upstreamIndex: [String: Int] = [:]
        for u in config.upstreams {
            var servers: [Policy.UpstreamServer] = []
            for s in u.servers {
                guard let addr = resolve(s.host) else {
                    diags.append(s.location.error("cannot resolve upstream host \"\(s.host)\""))
                    continue
                }
                servers.append(Policy.UpstreamServer(host: addr, port: Int(s.port)))
            }
            upstreamIndex[u.name] = upstreams.count
            upstreams.append(UpstreamGroup(name: u.name, servers: servers))
        }

        var listen: [ListenSpec] = []
        for li in config.listen {
            if li.tls != nil {
                diags.append(li.location.error("TLS listeners are not implemented yet; terminate TLS in front of Portcullis for now"))
                continue
            }
            guard let h = resolve(li.address.host ?? "0.0.0.0") else {
                diags.append(li.location.error("cannot resolve listen host \"\(li.address.host ?? "")\""))
                continue
            }
            listen.append(ListenSpec(host: h, port: Int(li.address.port)))
        }
        if config.listen.isEmpty {
            diags.append(config.location.error("no `listen` addresses; add e.g. `listen: [{ address: \"0.0.0.0:8080\" }]`"))
        }
        var admin: ListenSpec? = nil
        if let a = config.admin {
            if let h = resolve(a.address.host ?? "0.0.0.0") { admin = ListenSpec(host: h, port: Int(a.address.port)) }
            else { diags.append(a.location.error("cannot resolve admin host")) }
        }

        var routes: [CompiledRoute] = []
        for r in config.routes {
            guard let ui = upstreamIndex[r.upstream] else { continue }   // the loader already reported it
            let match = r.match
            var auth: RouteAuth? = nil
            var remove: [String] = []
            if let p = r.auth.policy {
                let sets = p.keys.compactMap { keySets[$0.name] }
                if sets.count != p.keys.count { continue }   // a key set failed to load: already reported
                let rules: [JWT.ClaimRule] = p.claims.map { c in
                    switch c.condition {
                    case .equals(let v): return JWT.ClaimRule(path: c.path, .equals(json(v)))
                    case .oneOf(let l): return JWT.ClaimRule(path: c.path, .oneOf(l.map(json)))
                    case .contains(let v): return JWT.ClaimRule(path: c.path, .contains(json(v)))
                    case .exists(let present): return JWT.ClaimRule(path: c.path, present ? .exists : .absent)
                    }
                }
                let claims = ClaimsPolicy(issuers: p.issuers, audiences: p.audiences, required: p.require, leeway: p.leeway,
                                          maxLifetime: p.maxLifetime, rules: rules)
                let fwd: TokenForwarding
                switch p.forward.token {
                case .keepExceptQuery: fwd = .keepExceptQuery
                case .keep: fwd = .keep
                case .strip: fwd = .strip
                }
                auth = RouteAuth(realm: p.realm, sources: p.tokens,
                                 verifier: Verifier(keySets: sets, policy: claims, maxTokenBytes: limits.maxTokenBytes),
                                 forwardToken: fwd,
                                 claimHeaders: p.forward.claimsToHeaders.map { ClaimHeaderRule(path: $0.path, header: $0.header) },
                                 closeOnExpiry: p.websocket.closeOnExpiry, expiryGrace: p.websocket.grace, leeway: p.leeway)
                remove = p.forward.claimsToHeaders.map { $0.header.lowercased() }
            }
            routes.append(CompiledRoute(
                name: r.name,
                matcher: { host, path, method in match.matches(host: host, normalizedPath: path, method: method) },
                upstream: ui, stripPrefix: r.stripPrefix, upstreamTimeout: r.upstreamTimeout.map(nanos),
                websocket: r.websocket.enabled, websocketIdleTimeout: r.websocket.idleTimeout.map(nanos),
                auth: auth, removeHeaders: remove))
        }

        let trusted = config.trustedProxies
        let trustedProxies = trusted.isEmpty ? TrustedProxies.none : TrustedProxies { peer in
            guard let ip = IPAddress(peer) else { return false }
            for c in trusted where c.contains(ip) { return true }
            return false
        }
        if diags.contains(where: { $0.severity == .error }) { return (nil, diags) }
        return (GatewayPolicy(routes: routes, upstreams: upstreams, limits: limits, trustedProxies: trustedProxies,
                              listen: listen, admin: admin, workers: config.workers, accessLog: config.log.access,
                              generation: generation), diags)
    }

    /// Every key set parsed once into EVP_PKEYs / HMAC keys, pinned to its algorithms; load problems as
    /// diagnostics at the key set's position. Also used on a config that has other errors, so `check`
    /// reports key problems in the same run.
    ///
    /// A remote JWKS (`jwks: { url }`) is taken from `remoteJWKS` (the last good document the fetcher holds);
    /// while there is none, the set is a placeholder and tokens that need it are answered 503
    /// `keys_unavailable` (DESIGN.md §4).
    public static func loadKeySets(_ config: GatewayConfig, environment: some KeyEnvironment = SystemKeyEnvironment(),
                                   remoteJWKS: (String) -> [UInt8]? = { _ in nil })
        -> ([String: JWT.KeySet], [Diagnostic]) {
        var diags: [Diagnostic] = []
        var keySets: [String: JWT.KeySet] = [:]
        for k in config.keys {
            let algs = k.algorithms.compactMap { JWSAlgorithm(rawValue: $0.rawValue) }
            let material: JWT.KeyMaterial
            switch k.material {
            case .secret(let s):
                let enc = JWT.SecretEncoding(rawValue: s.encoding.rawValue) ?? .raw
                switch s.origin {
                case .value(let v): material = .secret(.value(v), encoding: enc)
                case .env(let v): material = .secret(.env(v), encoding: enc)
                case .file(let v): material = .secret(.file(v), encoding: enc)
                case .credential(let v): material = .secret(.credential(v), encoding: enc)
                }
            case .publicKey(let p): material = .publicKeyPEM(pemSource(p))
            case .certificate(let p): material = .certificatePEM(pemSource(p))
            case .jwks(let j):
                switch j.origin {
                case .file(let f): material = .jwks(.file(f))
                case .url(let u, _):
                    guard let doc = remoteJWKS(u) else {
                        keySets[k.name] = JWT.KeySet.unavailable(name: k.name, algorithms: algs)
                        continue
                    }
                    material = .jwks(.bytes(doc))
                }
            }
            do {
                let (set, warnings) = try JWT.KeySet.load(KeySetSpec(name: k.name, algorithms: algs, material: material), environment: environment)
                keySets[k.name] = set
                for w in warnings { diags.append(k.material.location.warning(w)) }
            } catch {
                diags.append(k.material.location.error(error.message))
            }
        }
        return (keySets, diags)
    }

    /// The remote JWKS documents a route file needs, for the fetcher.
    public static func remoteJWKSSources(_ config: GatewayConfig) -> [RemoteJWKSSpec] {
        config.keys.compactMap { k in
            guard case .jwks(let j) = k.material, case .url(let u, let refresh) = j.origin else { return nil }
            return RemoteJWKSSpec(url: u, refresh: refresh, keySet: k.name,
                                  algorithms: k.algorithms.compactMap { JWSAlgorithm(rawValue: $0.rawValue) })
        }
    }

    static func pemSource(_ p: PEMSource) -> MaterialSource {
        switch p.origin {
        case .file(let f): return .file(f)
        case .pem(let text): return .bytes(Array(text.utf8))
        }
    }

    static func json(_ v: ConfigValue) -> JSONValue {
        switch v {
        case .string(let s): return .string(s)
        case .int(let i): return .number(Double(i))
        case .double(let d): return .number(d)
        case .bool(let b): return .bool(b)
        case .list(let l): return .array(l.map(json))
        }
    }

    static func nanos(_ seconds: Double) -> UInt64 { UInt64(max(0, seconds) * 1e9) }
}

/// One `jwks: { url }` key set: where its document lives, how often to refresh it, what it may verify.
public struct RemoteJWKSSpec: Sendable, Equatable {
    public let url: String
    /// Seconds between refreshes.
    public let refresh: Double
    public let keySet: String
    public let algorithms: [JWSAlgorithm]
}

/// Reads environment variables, files and systemd credentials for key loading.
public struct SystemKeyEnvironment: KeyEnvironment, Sendable {
    public init() {}
    public func env(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }
    public var credentialsDirectory: String? { env("CREDENTIALS_DIRECTORY") }

    public struct ReadError: Error, CustomStringConvertible {
        public let description: String
    }

    public func readFile(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ReadError(description: String(cString: strerror(errno))) }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; throw ReadError(description: String(cString: strerror(errno))) }
            if n == 0 { break }
            out.append(contentsOf: buf[0..<n])
            if out.count > 16 << 20 { throw ReadError(description: "\(path) is larger than 16 MiB") }
        }
        return out
    }
}
