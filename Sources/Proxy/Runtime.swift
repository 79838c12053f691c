import Dispatch
import EventLoop
import Glibc
import Policy
import Synchronization
import Admin
import JWT

/// Per-loop state: the upstream pool, the access log, the sessions for draining.
/// Thread-safety: confined to `loop.queue`.
final class LoopContext {
    unowned let runtime: ProxyRuntime
    let loop: EventLoop
    let pool: UpstreamPool
    let log: AccessLog
    var sessions: [ObjectIdentifier: ClientSession] = [:]
    /// Verified tokens of this loop (no lock: only this loop touches it).
    var tokenCache = TokenCache()
    /// Counters for /metrics (no lock: merged on scrape by running on this loop's queue).
    var metrics = LoopMetrics()
    private var roundRobin: [Int: Int] = [:]

    /// Next server of upstream group `group` for this loop (round-robin).
    func nextServer(_ group: Int, count: Int) -> Int {
        let n = roundRobin[group, default: 0]
        roundRobin[group] = n &+ 1
        return n % count
    }

    init(runtime: ProxyRuntime, loop: EventLoop) {
        self.runtime = runtime; self.loop = loop
        self.pool = UpstreamPool(loop: loop)
        self.log = AccessLog(loop: loop)
    }
}

/// The running gateway: loops, listeners, the current policy, and process-wide counters.
public final class ProxyRuntime: @unchecked Sendable {
    // Crosses loops: guarded by Mutex / Atomic.
    private let policyBox: Mutex<GatewayPolicy>
    let activeConnections = Atomic<Int>(0)
    let drainingFlag = Atomic<Bool>(false)
    let activeTunnelCount = Atomic<Int>(0)
    private let tunnelCloses = Mutex<[String: Int]>([:])
    public let loops: [EventLoop]
    // Touched only on each context's own loop queue.
    var contexts: [LoopContext] = []
    private let listenersLock = Mutex<[String: Listener]>([:])

    public init(policy: GatewayPolicy, workers: Int, backend: EventBackend = .dispatchSources) {
        self.policyBox = Mutex(policy)
        self.loops = (0..<max(1, workers)).map { EventLoop(index: $0, backend: backend) }
        self.contexts = loops.map { LoopContext(runtime: self, loop: $0) }
    }

    public var policy: GatewayPolicy { policyBox.withLock { $0 } }
    public var isDraining: Bool { drainingFlag.load(ordering: .relaxed) }
    public var connectionCount: Int { activeConnections.load(ordering: .relaxed) }

    /// Swaps in a new policy: new requests use it; requests in flight finish on the one they started with.
    public func install(_ policy: GatewayPolicy) throws(SocketError) {
        policyBox.withLock { $0 = policy }
        try syncListeners(policy.listen)
    }

    /// Starts the loops and binds every listener of the current policy.
    public nonisolated func start() throws(SocketError) {
        for l in loops { l.start() }
        try syncListeners(policy.listen)
    }

    /// Opens listeners that are new, closes ones no longer configured.
    private func syncListeners(_ specs: [ListenSpec]) throws(SocketError) {
        var wanted: [String: SocketAddress] = [:]
        for s in specs {
            guard let a = SocketAddress(host: s.host, port: s.port) else { throw SocketError("listen address \(s.host):\(s.port)", EINVAL) }
            wanted[a.description] = a
        }
        // Reloads and start-up run on one thread at a time (the signal queue), so check-then-bind is safe here.
        let existing = listenersLock.withLock { $0 }
        var opened: [String: Listener] = [:]
        for (k, a) in wanted where existing[k] == nil {
            do {
                opened[k] = try Listener(address: a, loops: loops) { [self] loop, fd, peer in self.accepted(loop: loop, fd: fd, peer: peer) }
            } catch {
                for (_, l) in opened { l.stop() }
                throw error
            }
        }
        listenersLock.withLock { current in
            for (k, l) in current where wanted[k] == nil { l.stop(); current.removeValue(forKey: k) }
            for (k, l) in opened { l.start(); current[k] = l }
        }
    }

    /// Stops accepting; returns once every listener is closed.
    public func stopListening() {
        listenersLock.withLock { current in
            for (_, l) in current { l.stop() }
            current.removeAll()
        }
    }

    /// Graceful shutdown: stop accepting, close idle connections, let in-flight requests finish.
    public func beginDrain() {
        drainingFlag.store(true, ordering: .relaxed)
        stopListening()
        for ctx in contexts {
            let box = UncheckedBox(ctx)
            ctx.loop.queue.async { for s in Array(box.value.sessions.values) { s.drainIfIdle() } }
        }
    }

    /// Active WebSocket (101) tunnels, across loops.
    public var activeTunnels: Int { activeTunnelCount.load(ordering: .relaxed) }
    /// Tunnel closes by reason since start (for the metrics endpoint).
    public var tunnelClosesByReason: [String: Int] { tunnelCloses.withLock { $0 } }

    func tunnelOpened() { activeTunnelCount.add(1, ordering: .relaxed) }
    func tunnelClosed(reason: TunnelCloseReason) {
        activeTunnelCount.subtract(1, ordering: .relaxed)
        tunnelCloses.withLock { $0[reason.rawValue, default: 0] += 1 }
    }

    private let reloadCounts = Mutex<[String: Int]>([:])

    /// Engine.IO sessions whose CONNECT was refused in a polling POST, with the CONNECT_ERROR packet their next
    /// GET poll gets (taken once). Crosses loops: the POST and the GET may arrive on different connections.
    /// Entries expire after two minutes; at most 10,000 are kept.
    private let refusedSocketIO = Mutex<[String: (packet: String, at: UInt64)]>([:])
    private static let refusalLifetime: UInt64 = 120_000_000_000

    /// Long-polling GETs in flight on socket.io routes, by Engine.IO session id: the session holding one
    /// (used only on its own loop's queue, reached through `queue.async`).
    private let pendingPolls = Mutex<[String: PendingPoll]>([:])

    /// The session is only used on `queue` (its loop's); the weak reference itself is safe to read anywhere.
    struct PendingPoll: @unchecked Sendable {
        weak var session: ClientSession?
        let id: ObjectIdentifier
        let queue: DispatchQueue
    }

    func pollStarted(_ sid: String, _ session: ClientSession, queue: DispatchQueue) {
        let entry = PendingPoll(session: session, id: ObjectIdentifier(session), queue: queue)
        pendingPolls.withLock { $0[sid] = entry }
    }

    func pollEnded(_ sid: String, _ session: ClientSession) {
        let id = ObjectIdentifier(session)
        pendingPolls.withLock { m in if m[sid]?.id == id { m.removeValue(forKey: sid) } }
    }

    /// Records the refusal for the session's next GET poll and, when one is held at the upstream right now,
    /// has its loop answer it at once (an upstream need not release it when its session ends).
    func refuseSocketIO(sid: String, packet: String) {
        let now = monotonicNanos()
        refusedSocketIO.withLock { m in
            if m.count >= 1000 { m = m.filter { now &- $0.value.at < Self.refusalLifetime } }
            if m.count >= 10_000 { return }
            m[sid] = (packet, now)
        }
        guard let p = pendingPolls.withLock({ $0[sid] }), let s = p.session else { return }
        let box = UncheckedBox(s)
        p.queue.async { box.value.refusedWhilePolling(sid) }
    }

    func takeRefusedSocketIO(_ sid: String) -> String? {
        refusedSocketIO.withLock { m in
            guard let e = m.removeValue(forKey: sid) else { return nil }
            return monotonicNanos() &- e.at < Self.refusalLifetime ? e.packet : nil
        }
    }

    /// Remote JWKS documents, when the route file names any (set before `start`).
    public var remoteKeys: RemoteKeyStore?
    public let startTime = wallClockSeconds()

    public func recordReload(ok: Bool) { reloadCounts.withLock { $0[ok ? "success" : "failure", default: 0] += 1 } }

    /// Merges every loop's counters (runs a block on each loop's queue; call it from elsewhere).
    public func metricsSnapshot() -> MetricsSnapshot {
        var s = MetricsSnapshot()
        for ctx in contexts {
            let box = UncheckedBox(ctx)
            let m: LoopMetrics = ctx.loop.queue.sync {
                var m = box.value.metrics
                m.tokenCacheHits = box.value.tokenCache.hits
                m.tokenCacheMisses = box.value.tokenCache.misses
                return m
            }
            s.loops.merge(m)
        }
        s.activeConnections = connectionCount
        s.activeTunnels = activeTunnels
        s.tunnelCloses = tunnelClosesByReason
        s.reloads = reloadCounts.withLock { $0 }
        s.jwksRefreshes = remoteKeys?.refreshCounts ?? [:]
        s.configGeneration = policy.generation
        s.startTime = startTime
        s.eventBackend = loops.first?.backend.rawValue ?? "dispatch"
        return s
    }

    /// Writes out every loop's buffered access-log lines (waits for each loop).
    public func flushLogs() {
        for ctx in contexts {
            let box = UncheckedBox(ctx)
            ctx.loop.queue.sync { box.value.log.flush() }
        }
    }

    private func accepted(loop: EventLoop, fd: Int32, peer: String) {
        let ctx = contexts[loop.index]
        let n = activeConnections.add(1, ordering: .relaxed).newValue
        let p = policy
        if n > p.limits.maxConnections || isDraining {
            activeConnections.subtract(1, ordering: .relaxed)
            Glibc.close(fd)
            return
        }
        let conn = Connection(fd: fd, loop: loop, peerAddress: peer)
        let s = ClientSession(conn: conn, ctx: ctx)
        ctx.sessions[ObjectIdentifier(s)] = s
        s.start()
    }

    func sessionClosed(_ s: ClientSession, ctx: LoopContext) {
        ctx.sessions.removeValue(forKey: ObjectIdentifier(s))
        activeConnections.subtract(1, ordering: .relaxed)
    }
}
