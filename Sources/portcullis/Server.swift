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

    init(configPath: String, policy: GatewayPolicy, workers: Int, backend: EventBackend) {
        self.configPath = configPath
        self.runtime = ProxyRuntime(policy: policy, workers: workers, backend: backend)
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
        let (policy, diags) = loadPolicy(path: configPath, generation: next)
        for d in diags { eprint(d.description) }
        guard let policy else {
            runtime.recordReload(ok: false)
            eprint("portcullis: reload failed; the running configuration stays in force")
            return
        }
        if let w = policy.workers, w != runtime.loops.count {
            eprint("portcullis: warning: `workers` changes take effect on restart")
        }
        do {
            try runtime.install(policy)
            runtime.recordReload(ok: true)
            generation = next
            eprint("portcullis: configuration reloaded (generation \(next))")
        } catch {
            runtime.recordReload(ok: false)
            eprint("portcullis: reload failed: \(error); the running configuration stays in force")
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
