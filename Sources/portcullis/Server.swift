import Dispatch
import EventLoop
import GatewayConfig
import Glibc
import Policy
import Proxy

/// Process bootstrap: the runtime, signals (SIGHUP reload, SIGTERM/SIGINT drain) and readiness.
/// Thread-safety: signal handlers and reloads run on `control`, a serial queue.
final class Server: @unchecked Sendable {
    let configPath: String
    let runtime: ProxyRuntime
    let control = DispatchQueue(label: "portcullis.control")
    private var signalSources: [DispatchSourceSignal] = []
    private var generation = 1
    /// The parsed route file in force (recompiled when a remote JWKS document changes).
    private var config: GatewayConfig
    let remote: RemoteKeyStore

    init(configPath: String, config: GatewayConfig, policy: GatewayPolicy, workers: Int, backend: EventBackend,
         remote: RemoteKeyStore) {
        self.configPath = configPath
        self.config = config
        self.remote = remote
        self.runtime = ProxyRuntime(policy: policy, workers: workers, backend: backend)
        runtime.remoteKeys = remote
    }

    private var admin: AdminServer?

    nonisolated func start() throws {
        signal(SIGPIPE, SIG_IGN)
        try runtime.start()
        if let a = runtime.policy.admin {
            let server = try AdminServer(runtime: runtime, host: a.host, port: a.port, version: portcullisVersion)
            server.start()
            admin = server
            eprint("portcullis: admin on \(a.host):\(a.port) (/healthz /readyz /metrics)")
        }
        installSignals()
        let box = UncheckedBox(self)
        remote.onChange { box.value.control.async { box.value.remoteKeysChanged() } }
        remote.startRefreshing()
        eprint("portcullis: listening on \(runtime.policy.listen.map { "\($0.host):\($0.port)" }.joined(separator: ", ")) with \(runtime.loops.count) loop(s), \(runtime.loops[0].backend.rawValue) event backend")
    }

    private nonisolated func installSignals() {
        for sig in [SIGTERM, SIGINT, SIGHUP] {
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: control)
            let box = UncheckedBox(self)
            s.setEventHandler { box.value.handle(signal: sig) }
            s.resume()
            signalSources.append(s)
        }
    }

    private func handle(signal sig: Int32) {
        if sig == SIGHUP { reload(); return }
        drainAndExit()
    }

    private func reload() {
        let next = generation + 1
        let (policy, diags, parsed) = loadConfiguration(path: configPath, generation: next, remote: remote)
        for d in diags { eprint(d.description) }
        guard let policy, let parsed else {
            runtime.recordReload(ok: false)
            eprint("portcullis: reload failed; the running configuration stays in force")
            return
        }
        if let w = policy.workers, w != runtime.loops.count {
            eprint("portcullis: warning: `workers` changes take effect on restart")
        }
        if policy.admin != runtime.policy.admin {
            eprint("portcullis: warning: `admin` changes take effect on restart")
        }
        do {
            try runtime.install(policy)
            runtime.recordReload(ok: true)
            generation = next
            config = parsed
            remote.prune(keeping: PolicyCompiler.remoteJWKSSources(parsed))
            eprint("portcullis: configuration reloaded (generation \(next))")
        } catch {
            runtime.recordReload(ok: false)
            eprint("portcullis: reload failed: \(error); the running configuration stays in force")
        }
    }

    /// A remote JWKS document changed: the same route file compiles into a new generation (new key sets;
    /// the verified-token caches empty themselves on the generation change).
    private func remoteKeysChanged() {
        let next = generation + 1
        let (policy, diags) = PolicyCompiler.compile(config, generation: next, remoteJWKS: { [remote] in remote.document($0) },
                                                     resolve: resolveHost)
        guard let policy else {
            for d in diags where d.severity == .error { eprint(d.description) }
            eprint("portcullis: remote key sets changed but did not compile; the running configuration stays in force")
            return
        }
        do {
            try runtime.install(policy)
            generation = next
            eprint("portcullis: remote key sets refreshed (generation \(next))")
        } catch {
            eprint("portcullis: remote key set refresh not applied: \(error)")
        }
    }

    private var draining = false
    private func drainAndExit() {
        if draining { return }
        draining = true
        eprint("portcullis: draining (up to \(Double(runtime.policy.limits.drainTimeout) / 1e9)s)")
        runtime.beginDrain()
        pollDrain(deadline: monotonicNanos() &+ runtime.policy.limits.drainTimeout)
    }

    private func pollDrain(deadline: UInt64) {
        let r = runtime
        if r.connectionCount == 0 || monotonicNanos() > deadline {
            if r.connectionCount > 0 { eprint("portcullis: drain timeout; \(r.connectionCount) connection(s) cut") }
            r.flushLogs()
            exit(0)
        }
        let box = UncheckedBox(self)
        control.asyncAfter(deadline: .now() + .milliseconds(20)) { box.value.pollDrain(deadline: deadline) }
    }
}
