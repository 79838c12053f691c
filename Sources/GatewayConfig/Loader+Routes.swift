// routes[]: match, upstream, websocket, auth; then route-level cross checks (names, shadowing).

import Foundation
import Yams

extension Loader {
    static let routeKeys = ["name", "match", "upstream", "upstream_timeout", "strip_prefix", "websocket", "auth"]
    static let matchKeys = ["host", "path", "path_prefix", "path_regex", "methods"]
    static let authKeys = ["keys", "tokens", "issuer", "audience", "require", "leeway", "max_lifetime", "claims",
                           "forward", "websocket", "realm", "upstream_timeout"]
    static let tokenKinds = ["header", "query", "cookie", "body", "subprotocol", "socketio"]
    /// Headers a claim may not be copied into: framing, hop-by-hop, routing.
    static let reservedHeaders: Set<String> = ["host", "content-length", "transfer-encoding", "connection", "upgrade",
                                               "te", "trailer", "keep-alive", "proxy-connection", "expect"]

    func routesSection(_ node: Node, _ path: String, keys: [KeySet], upstreams: [Upstream]) -> [Route] {
        guard case .sequence(let seq) = node else {
            typeError(node, path, expected: "a list of routes")
            return []
        }
        if seq.isEmpty { error(node, path, "must list at least one route") }
        var routes: [Route] = []
        var names: [String: Node] = [:]
        for (i, element) in seq.enumerated() {
            let p = Loader.index(path, i)
            guard let f = fields(element, p, allowed: Loader.routeKeys) else { continue }
            var ok = true
            // name
            var name = ""
            if let n = required(f, "name"), let text = string(n, f.path("name")) {
                if !Syntax.isName(text) {
                    error(n, f.path("name"), "route names may use letters, digits, '-', '_' and '.'")
                    ok = false
                } else if let first = names[text] {
                    error(n, f.path("name"), "duplicate route name \"\(text)\" (first at line \(first.mark?.line ?? 1))")
                    ok = false
                } else {
                    names[text] = n
                }
                name = text
            } else {
                ok = false
            }
            // match
            let match: RouteMatch?
            if let m = f.value("match") {
                match = routeMatch(m, f.path("match"))
            } else {
                match = RouteMatch(hosts: [], paths: [], pathPrefixes: [], pathRegex: nil, methods: [],
                                   location: location(element, p))
            }
            // upstream
            var upstream: String?
            var upstreamNode: Node?
            if let u = required(f, "upstream"), let text = string(u, f.path("upstream")) {
                upstreamNode = u
                if declaredUpstreams.contains(text) {
                    upstream = text
                } else {
                    let known = declaredUpstreams.isEmpty ? "none" : declaredUpstreams.joined(separator: ", ")
                    error(u, f.path("upstream"), "unknown upstream \"\(text)\" (known: \(known))")
                }
            }
            // timeouts, strip_prefix
            var upstreamTimeout: Double?
            if let t = f.value("upstream_timeout") {
                upstreamTimeout = duration(t, f.path("upstream_timeout"))
                if upstreamTimeout == nil { ok = false }
            }
            var stripPrefix: String?
            if let s = f.value("strip_prefix") {
                if let text = string(s, f.path("strip_prefix")) {
                    if text.hasPrefix("/") {
                        stripPrefix = text
                    } else {
                        error(s, f.path("strip_prefix"), "must start with \"/\"")
                        ok = false
                    }
                } else {
                    ok = false
                }
            }
            // websocket
            var websocket = WebSocketSettings()
            if let w = f.value("websocket") {
                if let ws = routeWebSocket(w, f.path("websocket")) { websocket = ws } else { ok = false }
            }
            // auth
            var auth: RouteAuth?
            if let a = f.value("auth"), !Loader.isNull(a) {
                if let result = routeAuth(a, f.path("auth"), routeName: name) {
                    auth = result.auth
                    if let t = result.upstreamTimeout {
                        if upstreamTimeout != nil {
                            error(result.upstreamTimeoutNode, f.path("auth.upstream_timeout"),
                                  "upstream_timeout is set both on the route and under auth; keep one")
                            ok = false
                        }
                        upstreamTimeout = t
                    }
                    if case .required(let policy) = result.auth, policy.websocket != AuthWebSocketSettings(), !websocket.enabled {
                        warning(result.websocketNode, f.path("auth.websocket"),
                                "has no effect: the route does not allow WebSocket upgrades (add `websocket: true`)")
                    }
                }
            } else if !f.suggested.contains("auth") {
                error(f.value("auth") ?? element, f.path("auth"), "missing; write `auth: off` to make the route public")
            }

            guard ok, let match, let upstream, let upstreamNode, let auth else { continue }
            routes.append(Route(name: name, index: i, match: match, upstream: upstream, upstreamTimeout: upstreamTimeout,
                                stripPrefix: stripPrefix, websocket: websocket, auth: auth,
                                location: location(element, p), upstreamLocation: location(upstreamNode, f.path("upstream"))))
        }
        if routes.count == seq.count { checkShadowing(routes) }
        return routes
    }

    // MARK: match

    func routeMatch(_ node: Node, _ path: String) -> RouteMatch? {
        guard let f = fields(node, path, allowed: Loader.matchKeys, nullIsEmpty: true) else { return nil }
        var ok = true
        var hosts: [HostPattern] = []
        if let h = f.value("host") {
            if let list = stringList(h, f.path("host")) {
                for (text, n) in list {
                    if let pattern = HostPattern(text) {
                        hosts.append(pattern)
                    } else if let colon = text.lastIndex(of: ":"), HostPattern(String(text[..<colon])) != nil,
                              text[text.index(after: colon)...].allSatisfy(\.isNumber) {
                        error(n, f.path("host"), "host \"\(text)\" must not include a port (the request's port is ignored when matching)")
                        ok = false
                    } else {
                        error(n, f.path("host"), "invalid host \"\(text)\" (expected a host name, an IP literal or *.example.com)")
                        ok = false
                    }
                }
            } else { ok = false }
        }
        func paths(_ key: String) -> [String] {
            guard let v = f.value(key) else { return [] }
            guard let list = stringList(v, f.path(key)) else { ok = false; return [] }
            var out: [String] = []
            for (text, n) in list {
                if let problem = Loader.pathProblem(text) {
                    error(n, f.path(key), "path \"\(text)\" \(problem)")
                    ok = false
                } else {
                    out.append(text)
                }
            }
            return out
        }
        let exact = paths("path")
        let prefixes = paths("path_prefix")
        var regex: PathRegex?
        if let r = f.value("path_regex") {
            if let text = string(r, f.path("path_regex")) {
                if let compiled = PathRegex(text) {
                    regex = compiled
                } else {
                    error(r, f.path("path_regex"), "invalid regular expression \"\(text)\"")
                    ok = false
                }
            } else { ok = false }
        }
        var methods: [String] = []
        if let m = f.value("methods") {
            if let list = stringList(m, f.path("methods")) {
                for (text, n) in list {
                    if Syntax.isToken(text) {
                        let upper = text.uppercased()
                        if !methods.contains(upper) { methods.append(upper) }
                    } else {
                        error(n, f.path("methods"), "invalid method \"\(text)\"")
                        ok = false
                    }
                }
            } else { ok = false }
        }
        guard ok else { return nil }
        return RouteMatch(hosts: hosts, paths: exact, pathPrefixes: prefixes, pathRegex: regex, methods: methods,
                          location: location(node, path))
    }

    /// Paths are compared after normalization, so a configured path must already be normalized to ever match.
    static func pathProblem(_ p: String) -> String? {
        guard p.hasPrefix("/") else { return "must start with \"/\"" }
        if p.contains("?") || p.contains("#") { return "cannot contain a query or fragment" }
        if p.contains("//") { return "contains \"//\"; request paths are matched after merging slashes, so it would never match" }
        let segments = p.split(separator: "/", omittingEmptySubsequences: false)
        if segments.contains(where: { $0 == "." || $0 == ".." }) {
            return "contains a dot segment; request paths are matched after removing them, so it would never match"
        }
        return nil
    }

    // MARK: websocket

    func routeWebSocket(_ node: Node, _ path: String) -> WebSocketSettings? {
        if case .scalar = node {
            guard let b = bool(node, path) else { return nil }
            return WebSocketSettings(enabled: b)
        }
        guard let f = fields(node, path, allowed: ["enabled", "idle_timeout"]) else { return nil }
        var enabled = true
        var idle: Double?
        var ok = true
        if let e = f.value("enabled") {
            if let b = bool(e, f.path("enabled")) { enabled = b } else { ok = false }
        }
        if let t = f.value("idle_timeout") {
            idle = duration(t, f.path("idle_timeout"))
            if idle == nil { ok = false }
        }
        return ok ? WebSocketSettings(enabled: enabled, idleTimeout: idle) : nil
    }

    // MARK: auth

    struct AuthResult {
        var auth: RouteAuth
        var upstreamTimeout: Double?
        var upstreamTimeoutNode: Node?
        var websocketNode: Node?
    }

    func routeAuth(_ node: Node, _ path: String, routeName: String) -> AuthResult? {
        if case .scalar(let s) = node {
            // YAML 1.1 reads a bare `off` as false; accept the word however it is written.
            switch s.string.lowercased() {
            case "off", "false", "no": return AuthResult(auth: .off)
            case "on", "true", "yes":
                error(node, path, "auth needs keys and tokens")
                return nil
            default: break
            }
            error(node, path, "expected `off` or a mapping with keys and tokens, found \(Loader.describe(node))")
            return nil
        }
        guard let f = fields(node, path, allowed: Loader.authKeys) else { return nil }
        var ok = true

        // keys
        var keys: [KeySetReference] = []
        if let k = required(f, "keys") {
            if let list = stringList(k, f.path("keys")) {
                for (text, n) in list {
                    if declaredKeySets.contains(text) {
                        if !keys.contains(where: { $0.name == text }) {
                            keys.append(KeySetReference(name: text, location: location(n, f.path("keys"))))
                        }
                    } else {
                        let known = declaredKeySets.isEmpty ? "none" : declaredKeySets.joined(separator: ", ")
                        error(n, f.path("keys"), "unknown key set \"\(text)\" (known: \(known))")
                        ok = false
                    }
                }
            } else { ok = false }
        } else { ok = false }

        // tokens
        var tokens: [TokenSource] = []
        if let t = required(f, "tokens") {
            if let list = tokenSources(t, f.path("tokens")) { tokens = list } else { ok = false }
        } else { ok = false }

        func strings(_ key: String, allowEmptyList: Bool = false) -> [String]? {
            guard let v = f.value(key) else { return nil }
            guard let list = stringList(v, f.path(key), allowEmptyList: allowEmptyList) else { ok = false; return nil }
            return list.map(\.0)
        }
        let issuers = strings("issuer") ?? []
        let audiences = strings("audience") ?? []
        var require = ["exp"]
        if let r = f.value("require") {
            if let list = stringList(r, f.path("require"), allowSingle: false, allowEmptyList: true) {
                require = []
                for (name, _) in list where !require.contains(name) { require.append(name) }
            } else { ok = false }
        }
        var leeway = 0.0
        if let l = f.value("leeway") {
            if let d = duration(l, f.path("leeway"), allowZero: true) { leeway = d } else { ok = false }
        }
        var maxLifetime: Double?
        if let m = f.value("max_lifetime") {
            maxLifetime = duration(m, f.path("max_lifetime"))
            if maxLifetime == nil { ok = false }
        }
        var claims: [ClaimRule] = []
        if let c = f.value("claims") {
            if let list = claimRules(c, f.path("claims")) { claims = list } else { ok = false }
        }
        var forward = ForwardSettings(token: .keepExceptQuery, claimsToHeaders: [])
        if let fw = f.value("forward") {
            if let settings = forwardSettings(fw, f.path("forward")) { forward = settings } else { ok = false }
        }
        var websocket = AuthWebSocketSettings()
        if let w = f.value("websocket") {
            if let settings = authWebSocket(w, f.path("websocket")) { websocket = settings } else { ok = false }
        }
        var realm = routeName
        if let r = f.value("realm") {
            if let text = string(r, f.path("realm")) {
                if Syntax.isQuotable(text) {
                    realm = text
                } else {
                    error(r, f.path("realm"), "realm may hold printable ASCII only, without '\"' or '\\'")
                    ok = false
                }
            } else { ok = false }
        }
        var upstreamTimeout: Double?
        if let u = f.value("upstream_timeout") {
            upstreamTimeout = duration(u, f.path("upstream_timeout"))
            if upstreamTimeout == nil { ok = false }
        }
        guard ok else { return nil }
        let policy = AuthPolicy(keys: keys, tokens: tokens, issuers: issuers, audiences: audiences, require: require,
                                leeway: leeway, maxLifetime: maxLifetime, claims: claims, forward: forward,
                                websocket: websocket, realm: realm, location: location(node, path))
        return AuthResult(auth: .required(policy), upstreamTimeout: upstreamTimeout,
                          upstreamTimeoutNode: f.value("upstream_timeout"), websocketNode: f.value("websocket"))
    }

    func tokenSources(_ node: Node, _ path: String) -> [TokenSource]? {
        guard case .sequence(let seq) = node else {
            typeError(node, path, expected: "a list of token sources (e.g. - { header: Authorization, prefix: \"Bearer \" })")
            return nil
        }
        if seq.isEmpty {
            error(node, path, "must list at least one token source")
            return nil
        }
        var out: [TokenSource] = []
        var ok = true
        for (i, element) in seq.enumerated() {
            let p = Loader.index(path, i)
            guard let f = fields(element, p, allowed: Loader.tokenKinds + ["prefix"]) else { ok = false; continue }
            guard let (kind, v) = exactlyOne(f, Loader.tokenKinds), let name = string(v, f.path(kind)) else {
                ok = false; continue
            }
            var prefix: String?
            if let pn = f.value("prefix") {
                if kind != "header" {
                    error(f.keyNode("prefix"), p, "prefix applies only to header")
                    ok = false
                } else if let text = string(pn, f.path("prefix")) {
                    prefix = text
                } else { ok = false }
            }
            let source: TokenSource
            switch kind {
            case "header":
                guard Syntax.isToken(name) else {
                    error(v, f.path(kind), "invalid header name \"\(name)\""); ok = false; continue
                }
                source = .header(name: name, prefix: prefix)
            case "query": source = .query(name)
            case "cookie":
                guard Syntax.isToken(name) else {
                    error(v, f.path(kind), "invalid cookie name \"\(name)\""); ok = false; continue
                }
                source = .cookie(name)
            case "body": source = .body(name)
            case "subprotocol":
                guard Syntax.isToken(name) else {
                    error(v, f.path(kind), "invalid subprotocol prefix \"\(name)\" (must be a token)"); ok = false; continue
                }
                source = .subprotocol(prefix: name)
            default: source = .socketio(name)
            }
            out.append(source)
        }
        return ok ? out : nil
    }

    /// `a.b.c` -> [a, b, c]; a claim containing `://` is one name.
    func claimPath(_ claim: String, _ node: Node, _ path: String) -> [String]? {
        if claim.contains("://") { return [claim] }
        let parts = claim.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        if parts.contains(where: \.isEmpty) {
            error(node, path, "claim path \"\(claim)\" has an empty segment")
            return nil
        }
        return parts
    }

    func claimRules(_ node: Node, _ path: String) -> [ClaimRule]? {
        guard case .sequence(let seq) = node else {
            typeError(node, path, expected: "a list of { claim: NAME, equals|one_of|contains|exists: ... }")
            return nil
        }
        let conditions = ["equals", "one_of", "contains", "exists"]
        var out: [ClaimRule] = []
        var ok = true
        for (i, element) in seq.enumerated() {
            let p = Loader.index(path, i)
            guard let f = fields(element, p, allowed: ["claim"] + conditions) else { ok = false; continue }
            let claimNode = required(f, "claim")
            let claim = claimNode.flatMap { string($0, f.path("claim")) }
            let segments = claim.flatMap { self.claimPath($0, claimNode!, f.path("claim")) }
            guard let (kind, v) = exactlyOne(f, conditions) else { ok = false; continue }
            let vp = f.path(kind)
            var condition: ClaimRule.Condition?
            switch kind {
            case "equals": condition = configValue(v, vp).map { .equals($0) }
            case "contains": condition = configValue(v, vp).map { .contains($0) }
            case "exists": condition = bool(v, vp).map { .exists($0) }
            default:
                if case .sequence(let items) = v {
                    if items.isEmpty {
                        error(v, vp, "must not be an empty list")
                    } else if case .list(let values)? = configValue(v, vp) {
                        condition = .oneOf(values)
                    }
                } else {
                    typeError(v, vp, expected: "a list")
                }
            }
            guard let claim, let segments, let condition else { ok = false; continue }
            out.append(ClaimRule(claim: claim, path: segments, condition: condition, location: location(element, p)))
        }
        return ok ? out : nil
    }

    func forwardSettings(_ node: Node, _ path: String) -> ForwardSettings? {
        guard let f = fields(node, path, allowed: ["token", "claims_to_headers"]) else { return nil }
        var ok = true
        var token = ForwardSettings.TokenForwarding.keepExceptQuery
        if let t = f.value("token"), let text = string(t, f.path("token")) {
            switch text {
            case "strip": token = .strip
            case "keep": token = .keep
            default:
                error(t, f.path("token"), "expected strip or keep, found \"\(text)\"")
                ok = false
            }
        } else if f.has("token") { ok = false }
        var headers: [ClaimHeader] = []
        if let c = f.value("claims_to_headers") {
            let cp = f.path("claims_to_headers")
            if let g = fields(c, cp, allowed: nil) {
                for entry in g.entries {
                    let ep = g.path(entry.key)
                    guard let header = string(entry.value, ep) else { ok = false; continue }
                    guard let segments = self.claimPath(entry.key, entry.keyNode, ep) else { ok = false; continue }
                    if !Syntax.isToken(header) {
                        error(entry.value, ep, "invalid header name \"\(header)\"")
                        ok = false
                    } else if Loader.reservedHeaders.contains(header.lowercased()) {
                        error(entry.value, ep, "cannot set \(header): it is a framing, hop-by-hop or routing header")
                        ok = false
                    } else if let earlier = headers.first(where: { $0.header.lowercased() == header.lowercased() }) {
                        error(entry.value, ep, "header \(header) is already set from claim \"\(earlier.claim)\"")
                        ok = false
                    } else {
                        headers.append(ClaimHeader(claim: entry.key, path: segments, header: header,
                                                   location: location(entry.value, ep)))
                    }
                }
            } else { ok = false }
        }
        return ok ? ForwardSettings(token: token, claimsToHeaders: headers) : nil
    }

    func authWebSocket(_ node: Node, _ path: String) -> AuthWebSocketSettings? {
        guard let f = fields(node, path, allowed: ["close_on_expiry", "grace"]) else { return nil }
        var ok = true
        var close = false
        var grace = 5.0
        if let c = f.value("close_on_expiry") {
            if let b = bool(c, f.path("close_on_expiry")) { close = b } else { ok = false }
        }
        if let g = f.value("grace") {
            if let d = duration(g, f.path("grace"), allowZero: true) { grace = d } else { ok = false }
        }
        return ok ? AuthWebSocketSettings(closeOnExpiry: close, grace: grace) : nil
    }

    // MARK: shadowing

    /// Warns about routes that can never match because an earlier route matches everything they match.
    func checkShadowing(_ routes: [Route]) {
        for (j, later) in routes.enumerated() {
            for earlier in routes[..<j] where Loader.covers(earlier.match, later.match) {
                diagnostics.append(later.location.warning(
                    "route \"\(later.name)\" can never match: route \"\(earlier.name)\" (\(earlier.location.path), line \(earlier.location.line)) matches every request it would"))
                break
            }
        }
    }

    /// Whether every request `b` matches is also matched by `a` (conservative: false when unsure).
    static func covers(_ a: RouteMatch, _ b: RouteMatch) -> Bool {
        // hosts
        if !a.hosts.isEmpty {
            guard !b.hosts.isEmpty else { return false }
            for bh in b.hosts {
                let covered = a.hosts.contains { ah in
                    if ah.pattern == bh.pattern { return true }
                    guard ah.isWildcard else { return false }
                    let suffix = String(ah.pattern.dropFirst()) // ".example.com"
                    return bh.pattern.hasSuffix(suffix) && bh.pattern.count > suffix.count
                }
                if !covered { return false }
            }
        }
        // methods
        if !a.methods.isEmpty {
            guard !b.methods.isEmpty, b.methods.allSatisfy(a.methods.contains) else { return false }
        }
        // paths
        guard a.hasPathCondition else { return true }
        guard b.hasPathCondition else { return false }
        if let br = b.pathRegex, br.pattern != a.pathRegex?.pattern { return false }
        for p in b.paths where !(a.paths.contains(p) || a.pathPrefixes.contains { p.hasPrefix($0) }) { return false }
        for q in b.pathPrefixes where !a.pathPrefixes.contains(where: { q.hasPrefix($0) }) { return false }
        return true
    }
}
