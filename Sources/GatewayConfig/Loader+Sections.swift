// The sections of the route file: listen, admin, trusted_proxies, workers, limits, log, keys, upstreams.

import Foundation
import Yams

extension Loader {
    static let topLevelKeys = ["listen", "admin", "trusted_proxies", "workers", "limits", "log", "keys", "upstreams", "routes"]

    func document(_ root: Node) -> GatewayConfig? {
        guard let f = fields(root, "", allowed: Loader.topLevelKeys) else { return nil }

        var listeners: [Listener] = []
        if let node = required(f, "listen") { listeners = listen(node, "listen") }
        let admin = f.value("admin").flatMap { adminSection($0, "admin") }
        if let admin {
            for l in listeners where l.address == admin.address {
                error(f.value("admin"), "admin.address", "\(admin.address) is also a listen address (\(l.location.path))")
            }
        }
        let trusted = f.value("trusted_proxies").map { trustedProxies($0, "trusted_proxies") } ?? []
        let workers = f.value("workers").flatMap { int($0, "workers", min: 1, max: 1024) }
        let limits = f.value("limits").map { limitsSection($0, "limits") } ?? Limits()
        let log = f.value("log").map { logSection($0, "log") } ?? LogConfig()
        let keys = f.value("keys").map { keySets($0, "keys") } ?? []
        let upstreams = f.value("upstreams").map { upstreamsSection($0, "upstreams") } ?? []
        var routes: [Route] = []
        if let node = required(f, "routes") {
            routes = routesSection(node, "routes", keys: keys, upstreams: upstreams)
        }
        checkUsage(routes: routes, keys: keys, upstreams: upstreams)

        return GatewayConfig(file: file, listen: listeners, admin: admin, trustedProxies: trusted, workers: workers,
                             limits: limits, log: log, keys: keys, upstreams: upstreams, routes: routes,
                             location: location(root, ""))
    }

    // MARK: listen / admin

    func listenAddress(_ node: Node, _ path: String) -> ListenAddress? {
        guard let text = string(node, path) else { return nil }
        switch Syntax.hostPort(text) {
        case .success(let hp):
            return ListenAddress(host: hp.host, port: hp.port)
        case .failure(.port(let p)):
            error(node, path, "invalid port \"\(p)\" in \"\(text)\" (1-65535)")
        case .failure(.host(let h)):
            error(node, path, "invalid host \"\(h)\" in \"\(text)\"")
        case .failure(.shape):
            error(node, path, "invalid address \"\(text)\" (expected HOST:PORT, e.g. 0.0.0.0:80, [::]:80, :8080)")
        }
        return nil
    }

    func listen(_ node: Node, _ path: String) -> [Listener] {
        guard case .sequence(let seq) = node else {
            typeError(node, path, expected: "a list of { address: HOST:PORT }")
            return []
        }
        if seq.isEmpty { error(node, path, "must not be an empty list") }
        var out: [Listener] = []
        for (i, element) in seq.enumerated() {
            let p = Loader.index(path, i)
            guard let f = fields(element, p, allowed: ["address", "tls"]) else { continue }
            let address = required(f, "address").flatMap { listenAddress($0, f.path("address")) }
            let tls = f.value("tls").flatMap { tlsSection($0, f.path("tls")) }
            guard let address else { continue }
            if let earlier = out.first(where: { $0.address == address }) {
                error(f.value("address"), f.path("address"), "\(address) is listed twice (first at \(earlier.location.path))")
                continue
            }
            out.append(Listener(address: address, tls: tls, location: location(element, p)))
        }
        return out
    }

    func tlsSection(_ node: Node, _ path: String) -> TLSConfig? {
        guard let f = fields(node, path, allowed: ["certificates"]),
              let certs = required(f, "certificates") else { return nil }
        let cp = f.path("certificates")
        guard case .sequence(let seq) = certs else {
            typeError(certs, cp, expected: "a list of { cert: PATH, key: PATH }")
            return nil
        }
        if seq.isEmpty { error(certs, cp, "must not be an empty list") }
        var pairs: [CertificatePair] = []
        for (i, element) in seq.enumerated() {
            let p = Loader.index(cp, i)
            guard let g = fields(element, p, allowed: ["cert", "key"]) else { continue }
            let cert = required(g, "cert").flatMap { string($0, g.path("cert")) }
            let key = required(g, "key").flatMap { string($0, g.path("key")) }
            if let cert, let key {
                pairs.append(CertificatePair(cert: resolve(cert), key: resolve(key), location: location(element, p)))
            }
        }
        return TLSConfig(certificates: pairs, location: location(node, path))
    }

    func adminSection(_ node: Node, _ path: String) -> AdminConfig? {
        guard let f = fields(node, path, allowed: ["address"]),
              let a = required(f, "address"),
              let address = listenAddress(a, f.path("address")) else { return nil }
        return AdminConfig(address: address, location: location(node, path))
    }

    // MARK: trusted_proxies

    func trustedProxies(_ node: Node, _ path: String) -> [CIDR] {
        guard let list = stringList(node, path, allowEmptyList: true) else { return [] }
        var out: [CIDR] = []
        for (text, n) in list {
            switch CIDR.parse(text) {
            case .success(let parsed):
                if parsed.hostBitsSet {
                    warning(n, path, "\"\(text)\" has host bits set; it means \(parsed.cidr)")
                }
                out.append(parsed.cidr)
            case .failure(.badAddress):
                error(n, path, "invalid IP address or CIDR \"\(text)\" (e.g. 10.0.0.0/8, 192.0.2.7, fd00::/8)")
            case .failure(.badPrefixLength(_, let max)):
                error(n, path, "invalid CIDR \"\(text)\" (prefix length must be 0-\(max))")
            }
        }
        return out
    }

    // MARK: limits / log

    func limitsSection(_ node: Node, _ path: String) -> Limits {
        typealias IntKey = WritableKeyPath<Limits, Int>
        typealias DurationKey = WritableKeyPath<Limits, Double>
        let ints: [(String, IntKey)] = [
            ("max_header_bytes", \.maxHeaderBytes), ("max_header_count", \.maxHeaderCount),
            ("max_body_bytes", \.maxBodyBytes), ("max_connections", \.maxConnections),
            ("max_token_bytes", \.maxTokenBytes), ("max_auth_body_bytes", \.maxAuthBodyBytes),
            ("max_tunnels", \.maxTunnels),
        ]
        let durations: [(String, DurationKey)] = [
            ("header_timeout", \.headerTimeout), ("idle_timeout", \.idleTimeout),
            ("upstream_connect_timeout", \.upstreamConnectTimeout), ("upstream_timeout", \.upstreamTimeout),
            ("drain_timeout", \.drainTimeout), ("tunnel_idle_timeout", \.tunnelIdleTimeout),
        ]
        var limits = Limits()
        guard let f = fields(node, path, allowed: ints.map(\.0) + durations.map(\.0), nullIsEmpty: true) else { return limits }
        for (key, kp) in ints {
            if let v = f.value(key), let n = int(v, f.path(key), min: 1) { limits[keyPath: kp] = n }
        }
        for (key, kp) in durations {
            if let v = f.value(key), let d = duration(v, f.path(key)) { limits[keyPath: kp] = d }
        }
        return limits
    }

    func logSection(_ node: Node, _ path: String) -> LogConfig {
        guard let f = fields(node, path, allowed: ["access"], nullIsEmpty: true) else { return LogConfig() }
        return LogConfig(access: f.value("access").flatMap { bool($0, f.path("access")) } ?? true)
    }

    // MARK: keys

    static let materialKinds = ["secret", "public_key", "certificate", "jwks"]

    func keySets(_ node: Node, _ path: String) -> [KeySet] {
        guard let f = fields(node, path, allowed: nil, nullIsEmpty: true) else { return [] }
        var out: [KeySet] = []
        for entry in f.entries {
            let p = f.path(entry.key)
            guard Syntax.isName(entry.key) else {
                error(entry.keyNode, p, "key set names may use letters, digits, '-', '_' and '.'")
                continue
            }
            declaredKeySets.append(entry.key)
            if let k = keySet(name: entry.key, keyNode: entry.keyNode, node: entry.value, path: p) { out.append(k) }
        }
        return out
    }

    func keySet(name: String, keyNode: Node, node: Node, path: String) -> KeySet? {
        guard let f = fields(node, path, allowed: ["algorithms"] + Loader.materialKinds) else { return nil }
        // algorithms
        var algorithms: [JWTAlgorithm] = []
        var algorithmNodes: [Node] = []
        var algorithmsOK = true
        let ap = f.path("algorithms")
        if let a = required(f, "algorithms") {
            if case .sequence(let seq) = a, seq.isEmpty {
                error(a, ap, "must list at least one algorithm")
                algorithmsOK = false
            } else if let list = stringList(a, ap, allowSingle: false) {
                for (text, n) in list {
                    if text.lowercased() == "none" {
                        // Reported; the rest of the list is kept for the best-effort model (`check` then
                        // also loads the key and reports its problems; an errored file never serves).
                        error(n, ap, "alg none cannot be configured")
                    } else if let alg = JWTAlgorithm(rawValue: text) {
                        if algorithms.contains(alg) {
                            error(n, ap, "\(text) is listed twice")
                        } else {
                            algorithms.append(alg); algorithmNodes.append(n)
                        }
                    } else {
                        let known = JWTAlgorithm.allCases.map(\.rawValue)
                        if let s = Syntax.suggestion(for: text, among: known) {
                            error(n, ap, "unknown algorithm \"\(text)\" (did you mean \(s)?)")
                        } else {
                            error(n, ap, "unknown algorithm \"\(text)\" (known: \(known.joined(separator: ", ")))")
                        }
                    }
                }
            } else {
                algorithmsOK = false
            }
        } else {
            algorithmsOK = false
        }

        // exactly one kind of material
        let present = f.entries.filter { Loader.materialKinds.contains($0.key) }
        if present.isEmpty {
            if f.suggested.isDisjoint(with: Loader.materialKinds) {
                error(node, path, "missing key material; give one of secret, public_key, certificate, jwks")
            }
            return nil
        }
        if present.count > 1 {
            error(present[1].keyNode, path,
                  "give only one of secret, public_key, certificate, jwks (found \(present.map(\.key).joined(separator: " and ")))")
            return nil
        }
        let (kind, mNode) = (present[0].key, present[0].value)
        let mp = f.path(kind)
        let material: KeyMaterial?
        switch kind {
        case "secret": material = secret(mNode, mp).map(KeyMaterial.secret)
        case "public_key": material = pem(mNode, mp).map(KeyMaterial.publicKey)
        case "certificate": material = pem(mNode, mp).map(KeyMaterial.certificate)
        default: material = jwks(mNode, mp).map(KeyMaterial.jwks)
        }

        // algorithm families that cannot work with this kind of material
        switch kind {
        case "secret":
            for (alg, n) in zip(algorithms, algorithmNodes) where alg.family != .hmac {
                error(n, ap, "\(alg.rawValue) cannot be used with a secret (a secret verifies only HS256, HS384, HS512)")
                algorithmsOK = false
            }
        case "public_key", "certificate":
            let what = kind == "public_key" ? "a public key" : "a certificate"
            for (alg, n) in zip(algorithms, algorithmNodes) where alg.family == .hmac {
                error(n, ap, "\(alg.rawValue) cannot be used with \(what) (HS* needs a secret)")
                algorithmsOK = false
            }
            // One key has one type: RSA (RS*/PS*), one EC curve (a single ES*), or Ed25519/Ed448.
            let asymmetric = zip(algorithms, algorithmNodes).filter { $0.0.family != .hmac }
            if let first = asymmetric.first {
                func keyType(_ a: JWTAlgorithm) -> String {
                    switch a.family {
                    case .rsa, .rsaPSS: return "RSA"
                    case .ecdsa: return a.rawValue
                    default: return "EdDSA"
                    }
                }
                for (alg, n) in asymmetric.dropFirst() where keyType(alg) != keyType(first.0) {
                    error(n, ap, "\(first.0.rawValue) and \(alg.rawValue) need different key types; \(what) has one")
                    algorithmsOK = false
                }
            }
        default:
            break
        }

        guard algorithmsOK, !algorithms.isEmpty, let material, let aNode = f.value("algorithms") else { return nil }
        return KeySet(name: name, algorithms: algorithms, material: material,
                      location: location(keyNode, path), algorithmsLocation: location(aNode, ap))
    }

    /// Exactly one of `choices` among the fields; reports none / several.
    func exactlyOne(_ f: Fields, _ choices: [String]) -> (key: String, value: Node)? {
        let present = f.entries.filter { choices.contains($0.key) }
        let list = choices.joined(separator: ", ")
        if present.isEmpty {
            if f.suggested.isDisjoint(with: choices) { error(f.node, f.path, "give one of \(list)") }
            return nil
        }
        if present.count > 1 {
            error(present[1].keyNode, f.path,
                  "give only one of \(list) (found \(present.map(\.key).joined(separator: " and ")))")
            return nil
        }
        return (present[0].key, present[0].value)
    }

    func secret(_ node: Node, _ path: String) -> SecretSource? {
        let sources = ["value", "env", "file", "credential"]
        guard let f = fields(node, path, allowed: sources + ["encoding"]) else { return nil }
        var encoding = SecretSource.Encoding.raw
        var ok = true
        if let e = f.value("encoding"), let text = string(e, f.path("encoding")) {
            if let enc = SecretSource.Encoding(rawValue: text) {
                encoding = enc
            } else {
                error(e, f.path("encoding"), "unknown encoding \"\(text)\" (known: raw, base64, base64url)")
                ok = false
            }
        } else if f.has("encoding") {
            ok = false
        }
        guard let (key, v) = exactlyOne(f, sources), let text = string(v, f.path(key)) else { return nil }
        let origin: SecretSource.Origin
        switch key {
        case "value":
            if encoding != .raw, Loader.decodeBase64(text, url: encoding == .base64url) == nil {
                error(v, f.path(key), "value is not valid \(encoding.rawValue)")
                ok = false
            }
            origin = .value(text)
        case "env":
            origin = .env(text)
        case "credential":
            if text.contains("/") {
                error(v, f.path(key), "a credential is a name, not a path (use file: for paths)")
                ok = false
            }
            origin = .credential(text)
        default:
            let resolved = resolve(text)
            if let attrs = try? FileManager.default.attributesOfItem(atPath: resolved),
               attrs[.type] as? FileAttributeType == .typeRegular,
               let mode = (attrs[.posixPermissions] as? NSNumber)?.intValue, mode & 0o077 != 0 {
                warning(v, f.path(key), "secret file \"\(resolved)\" is accessible by group or others (mode \(String(format: "%04o", mode & 0o7777))); chmod 600 it")
            }
            origin = .file(resolved)
        }
        return ok ? SecretSource(origin: origin, encoding: encoding, location: location(node, path)) : nil
    }

    static func decodeBase64(_ text: String, url: Bool) -> Data? {
        var s = text
        if url {
            guard !s.contains("+"), !s.contains("/") else { return nil }
            s = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        }
        s = s.trimmingCharacters(in: CharacterSet(charactersIn: "="))
        while s.utf8.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s)
    }

    func pem(_ node: Node, _ path: String) -> PEMSource? {
        guard let f = fields(node, path, allowed: ["file", "pem"]),
              let (key, v) = exactlyOne(f, ["file", "pem"]),
              let text = string(v, f.path(key)) else { return nil }
        if key == "pem" {
            guard text.contains("-----BEGIN ") else {
                error(v, f.path(key), "does not look like PEM (no -----BEGIN line)")
                return nil
            }
            return PEMSource(origin: .pem(text), location: location(node, path))
        }
        return PEMSource(origin: .file(resolve(text)), location: location(node, path))
    }

    static let defaultJWKSRefresh: Double = 600

    func jwks(_ node: Node, _ path: String) -> JWKSSource? {
        guard let f = fields(node, path, allowed: ["file", "url", "refresh"]),
              let (key, v) = exactlyOne(f, ["file", "url"]),
              let text = string(v, f.path(key)) else { return nil }
        if key == "file" {
            if let r = f.keyNode("refresh") {
                error(r, path, "refresh applies only to url")
                return nil
            }
            return JWKSSource(origin: .file(resolve(text)), location: location(node, path))
        }
        guard let url = FetchURL(text) else {
            error(v, f.path(key), "invalid JWKS URL \"\(text)\" (expected https://...)")
            return nil
        }
        if !url.tls {
            warning(v, f.path(key), "JWKS fetched over plain http can be replaced by anyone on the path; use https")
        }
        var refresh = Loader.defaultJWKSRefresh
        if let r = f.value("refresh") {
            guard let d = duration(r, f.path("refresh")) else { return nil }
            refresh = d
        }
        return JWKSSource(origin: .url(text, refresh: refresh), location: location(node, path))
    }

    // MARK: upstreams

    func upstreamsSection(_ node: Node, _ path: String) -> [Upstream] {
        guard let f = fields(node, path, allowed: nil, nullIsEmpty: true) else { return [] }
        var out: [Upstream] = []
        for entry in f.entries {
            let p = f.path(entry.key)
            guard Syntax.isName(entry.key) else {
                error(entry.keyNode, p, "upstream names may use letters, digits, '-', '_' and '.'")
                continue
            }
            declaredUpstreams.append(entry.key)
            guard let g = fields(entry.value, p, allowed: ["servers"]),
                  let s = required(g, "servers"),
                  let list = stringList(s, g.path("servers")) else { continue }
            var servers: [UpstreamServer] = []
            for (text, n) in list {
                if let server = upstreamServer(text, n, g.path("servers")) { servers.append(server) }
            }
            if servers.count == list.count {
                out.append(Upstream(name: entry.key, servers: servers, location: location(entry.keyNode, p)))
            }
        }
        return out
    }

    func upstreamServer(_ text: String, _ node: Node, _ path: String) -> UpstreamServer? {
        let lower = text.lowercased()
        if lower.hasPrefix("https://") {
            error(node, path, "TLS to upstreams is not supported yet (\"\(text)\")")
            return nil
        }
        guard lower.hasPrefix("http://") else {
            error(node, path, "invalid upstream server \"\(text)\" (expected http://HOST:PORT)")
            return nil
        }
        var rest = Substring(text.dropFirst("http://".count))
        if let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) {
            let tail = rest[slash...]
            guard tail == "/" else {
                error(node, path, "upstream server \"\(text)\" cannot have a path or query; routes forward the request target as received")
                return nil
            }
            rest = rest[..<slash]
        }
        if rest.contains("@") {
            error(node, path, "upstream server \"\(text)\" cannot carry credentials")
            return nil
        }
        switch Syntax.hostPort(String(rest), defaultPort: 80) {
        case .success(let hp) where hp.host != nil:
            return UpstreamServer(url: text, host: hp.host!, port: hp.port, location: location(node, path))
        case .failure(.port(let p)):
            error(node, path, "invalid port \"\(p)\" in \"\(text)\" (1-65535)")
        default:
            error(node, path, "invalid upstream server \"\(text)\" (expected http://HOST:PORT)")
        }
        return nil
    }

    // MARK: usage

    /// Only for otherwise valid files: with errors, routes may be missing and the warnings would mislead.
    func checkUsage(routes: [Route], keys: [KeySet], upstreams: [Upstream]) {
        guard !diagnostics.contains(where: \.isError) else { return }
        for u in upstreams where !routes.contains(where: { $0.upstream == u.name }) {
            diagnostics.append(u.location.warning("upstream \"\(u.name)\" is not used by any route"))
        }
        for k in keys where !routes.contains(where: { $0.auth.policy?.keys.contains { $0.name == k.name } ?? false }) {
            diagnostics.append(k.location.warning("key set \"\(k.name)\" is not used by any route"))
        }
    }
}
