import ArgumentParser
import Dispatch
import EventLoop
import GatewayConfig
import Glibc
import Policy
import Proxy

@main
struct Portcullis: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "portcullis",
        abstract: "A reverse-proxy authentication gateway: validates JWTs per route and forwards authorized traffic.",
        version: portcullisVersion,
        subcommands: [Run.self, Check.self, Token.self, Inspect.self, Demo.self])
}

let defaultConfigPath = "/etc/portcullis/gateway.conf"
let portcullisVersion = "0.1.0"

/// Prints to standard error (diagnostics, operational messages; the access log owns stdout).
func eprint(_ s: String) {
    var line = s
    if !line.hasSuffix("\n") { line += "\n" }
    line.withCString { p in _ = Glibc.write(2, p, strlen(p)) }
}

/// Numeric address for a host name (IPv4 preferred), via getaddrinfo.
func resolveHost(_ host: String) -> String? {
    var a4 = in_addr(), a6 = in6_addr()
    if inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1 { return host }
    var hints = addrinfo()
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    var res: UnsafeMutablePointer<addrinfo>?
    guard getaddrinfo(host, nil, &hints, &res) == 0, let first = res else { return nil }
    defer { freeaddrinfo(res) }
    var best: String? = nil
    var p: UnsafeMutablePointer<addrinfo>? = first
    while let ai = p {
        var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        if ai.pointee.ai_family == AF_INET {
            ai.pointee.ai_addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                var a = sin.pointee.sin_addr
                inet_ntop(AF_INET, &a, &buf, socklen_t(buf.count))
            }
            return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        } else if ai.pointee.ai_family == AF_INET6, best == nil {
            ai.pointee.ai_addr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin in
                var a = sin.pointee.sin6_addr
                inet_ntop(AF_INET6, &a, &buf, socklen_t(buf.count))
            }
            best = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        p = ai.pointee.ai_next
    }
    return best
}

/// Loads and compiles a route file; every diagnostic is returned, the policy only when there is no error.
func loadPolicy(path: String, generation: Int, remote: RemoteKeyStore? = nil) -> (GatewayPolicy?, [Diagnostic]) {
    let r = loadConfiguration(path: path, generation: generation, remote: remote)
    return (r.policy, r.diagnostics)
}

/// Reads, validates and compiles a route file. With a `remote` store, the remote JWKS it names and the store
/// does not hold yet are fetched first (`check` passes none: it never touches the network, and such sets
/// compile as placeholders).
func loadConfiguration(path: String, generation: Int, remote: RemoteKeyStore?)
    -> (policy: GatewayPolicy?, diagnostics: [Diagnostic], config: GatewayConfig?) {
    let (config, diags) = ConfigLoader.loadBestEffort(path: path)
    guard let config else { return (nil, diags, nil) }
    if diags.contains(where: { $0.severity == .error }) {
        // Still load the key sets that parsed, so one `check` shows their problems too.
        let (_, keyDiags) = PolicyCompiler.loadKeySets(config)
        return (nil, diags + keyDiags.filter { $0.severity == .error }, nil)
    }
    remote?.track(PolicyCompiler.remoteJWKSSources(config))
    let (policy, more) = PolicyCompiler.compile(config, generation: generation,
                                                remoteJWKS: { remote?.document($0) }, resolve: resolveHost)
    return (policy, diags + more, config)
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Validate a route file; print every problem as PATH:LINE:COL: message.")
    @Option(name: .long, help: "Route file.") var config: String = defaultConfigPath

    func run() throws {
        let (policy, diags) = loadPolicy(path: config, generation: 0)
        for d in diags { eprint(d.description) }
        if policy == nil { throw ExitCode(1) }
        print("\(config): ok (\(policy!.routes.count) routes)")
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the gateway in the foreground (SIGHUP reloads, SIGTERM drains).")
    @Option(name: .long, help: "Route file.") var config: String = defaultConfigPath
    @Option(name: .long, help: "Event loops (overrides `workers` in the route file; default one per core).") var workers: Int?
    @Option(name: .long, help: "Readiness delivery: `dispatch` (a DispatchSource per socket, the default) or `epoll` (one DispatchSource per loop over an epoll set; see README).")
    var eventBackend: String = getenv("PORTCULLIS_EVENT_BACKEND").map { String(cString: $0) } ?? "dispatch"

    func run() throws {
        let remote = RemoteKeyStore(log: eprint)
        let (policy, diags, parsed) = loadConfiguration(path: config, generation: 1, remote: remote)
        for d in diags { eprint(d.description) }
        guard let policy, let parsed else { throw ExitCode(1) }
        let n = workers ?? policy.workers ?? Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        guard let backend = EventBackend(rawValue: eventBackend) else {
            throw ValidationError("--event-backend must be one of: \(EventBackend.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let server = Server(configPath: config, config: parsed, policy: policy, workers: n, backend: backend, remote: remote)
        do { try server.start() } catch {
            eprint("portcullis: \(error)")
            throw ExitCode(1)
        }
        dispatchMain()
    }
}
