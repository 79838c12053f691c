import GatewayConfig
import HTTPCore

/// Turns a loaded route file into the immutable runtime policy: every name resolved, every key parsed,
/// every route's matcher and verifier built once (DESIGN.md §2 lessons 3–5). Problems are reported as
/// diagnostics at the position of the node they concern, all at once.
public enum PolicyCompiler {
    /// - Parameters:
    ///   - resolve: maps a host name to a numeric address (`localhost` → `127.0.0.1`); nil if it cannot.
    ///   - generation: a number that grows with each successful load (reload counting, caches).
    public static func compile(_ config: GatewayConfig, generation: Int = 0,
                               resolve: (String) -> String? = { $0 }) -> (policy: GatewayPolicy?, diagnostics: [Diagnostic]) {
        var diags: [Diagnostic] = []
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
                auth = RouteAuth(realm: p.realm)
                remove = p.forward.claimsToHeaders.map { $0.header.lowercased() }
            }
            routes.append(CompiledRoute(
                name: r.name,
                matcher: { host, path, method in match.matches(host: host, normalizedPath: path, method: method) },
                upstream: ui, stripPrefix: r.stripPrefix, upstreamTimeout: r.upstreamTimeout.map(nanos),
                websocket: r.websocket.enabled, auth: auth, removeHeaders: remove))
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

    static func nanos(_ seconds: Double) -> UInt64 { UInt64(max(0, seconds) * 1e9) }
}
