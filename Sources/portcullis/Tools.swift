import ArgumentParser
import EventLoop
import GatewayConfig
import Glibc
import JWT
import Policy
import Proxy

/// `--claim k=v`: the value is JSON when it parses as JSON (numbers, true/false, lists, objects, "quoted"),
/// otherwise a string.
func claimValue(_ text: String) -> JSONValue {
    if let v = try? JSONValue.parse(Array(text.utf8)) { return v }
    return .string(text)
}

func parseDuration(_ text: String) throws -> Double {
    switch DurationSyntax.parse(text) {
    case .success(let v): return v
    case .failure(let e): throw ValidationError("--ttl: \(e)")
    }
}

struct Token: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Mint a token for testing an integration: with an HMAC key set of the route file, or a private key.")
    @Option(name: .long, help: "Route file (with --keys).") var config: String = defaultConfigPath
    @Option(name: .long, help: "HMAC key set of the route file to sign with.") var keys: String?
    @Option(name: .long, help: "PEM private key (PKCS#8, PKCS#1 or SEC1) for RS/PS/ES/EdDSA.") var privateKey: String?
    @Option(name: .long, help: "Algorithm (default: the key set's first, or RS256/ES256/EdDSA from the key type).") var alg: String?
    @Option(name: .long, help: "Key id for the header.") var kid: String?
    @Option(name: .long, parsing: .singleValue, help: "A claim, k=v (v as JSON when it parses, else a string). Repeatable.") var claim: [String] = []
    @Option(name: .long, help: "Lifetime: sets iat=now and exp=now+ttl; 0 for no exp.") var ttl: String = "10m"

    func run() throws {
        let now = wallClockSeconds().rounded(.down)
        let ttlSeconds = try parseDuration(ttl)
        var claims: [(String, JSONValue)] = [("iat", .number(now))]
        if ttlSeconds > 0 { claims.append(("exp", .number(now + ttlSeconds))) }
        for c in claim {
            guard let eq = c.firstIndex(of: "=") else { throw ValidationError("--claim \(c): expected k=v") }
            let k = String(c[..<eq]), v = claimValue(String(c[c.index(after: eq)...]))
            claims.removeAll { $0.0 == k }
            claims.append((k, v))
        }
        let signer: TokenSigner
        if let privateKey {
            let pem = try SystemKeyEnvironment().readFile(privateKey)
            let algorithm = try alg.map { a -> JWSAlgorithm in
                guard let x = JWSAlgorithm(rawValue: a) else { throw ValidationError("--alg \(a): unknown algorithm") }
                return x
            } ?? .RS256
            signer = try TokenSigner(algorithm: algorithm, privateKeyPEM: pem)
        } else if let keys {
            let (cfg, diags) = ConfigLoader.load(path: config)
            guard let cfg else { for d in diags { eprint(d.description) }; throw ExitCode(1) }
            guard let set = cfg.keySet(named: keys) else {
                throw ValidationError("no key set \"\(keys)\" (known: \(cfg.keys.map(\.name).joined(separator: ", ")))")
            }
            guard case .secret(let s) = set.material else {
                throw ValidationError("key set \(keys) holds public keys; sign with --private-key FILE instead")
            }
            let source: JWT.SecretSource
            switch s.origin {
            case .value(let v): source = .value(v)
            case .env(let v): source = .env(v)
            case .file(let v): source = .file(v)
            case .credential(let v): source = .credential(v)
            }
            let secret = try JWT.KeySet.resolveSecret(source, encoding: JWT.SecretEncoding(rawValue: s.encoding.rawValue) ?? .raw,
                                                      environment: SystemKeyEnvironment())
            let algorithm = JWSAlgorithm(rawValue: alg ?? set.algorithms.first!.rawValue) ?? .HS256
            signer = try TokenSigner(algorithm: algorithm, secret: secret)
        } else {
            throw ValidationError("give --keys NAME (an HMAC key set of --config) or --private-key FILE")
        }
        print(try signer.sign(claims: .object(claims), keyID: kid))
    }
}

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decode a token and explain, step by step, whether a route would accept it and why not.")
    @Option(name: .long, help: "Route file.") var config: String = defaultConfigPath
    @Option(name: .long, help: "Route name.") var route: String
    @Option(name: .long, help: "Evaluate at this time (seconds since the epoch) instead of now.") var at: Double?
    @Argument(help: "The token (or - to read it from standard input).") var token: String

    func run() throws {
        var tok = token
        if tok == "-" { tok = readLine(strippingNewline: true) ?? "" }
        tok = tok.trimmingCharacters(in: " \t\r\n")
        if tok.lowercased().hasPrefix("bearer ") { tok = String(tok.dropFirst(7)) }
        // Remote JWKS are fetched once, so the explanation uses the keys the gateway would use.
        let (policy, diags) = loadPolicy(path: config, generation: 0, remote: RemoteKeyStore(log: eprint))
        for d in diags where d.severity == .error { eprint(d.description) }
        guard let policy else { throw ExitCode(2) }
        guard let r = policy.routes.first(where: { $0.name == route }) else {
            throw ValidationError("no route \"\(route)\" (known: \(policy.routes.map(\.name).joined(separator: ", ")))")
        }
        guard let auth = r.auth else {
            print("route \(route) is public (auth: off): every request passes without a token")
            return
        }
        let (header, payload) = Verifier.decodeUnverified(tok)
        print("header:  \(header?.serialized() ?? "(does not decode)")")
        print("payload: \(payload?.serialized() ?? "(does not decode)")")
        let now = at ?? wallClockSeconds()
        let steps = auth.verifier.explain(tok, now: now)
        for s in steps { print(s.description) }
        if steps.last?.ok != true { throw ExitCode(1) }
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }
}
