import Dispatch
import EventLoop
import JWT
import Policy
import Synchronization

/// Remote JWKS documents (`jwks: { url, refresh }`), by URL. Documents are fetched on the store's own serial
/// queue (blocking, bounded by `fetchTimeout`): the ones a configuration needs and does not hold yet before it
/// is compiled (start and reload), then every `refresh`. A document replaces the held one only if it loads as
/// a key set for every set that names the URL; when a fetch or a load fails, the last good document stays in
/// force and the fetch is retried sooner (after 1 s, 2 s, 4 s … up to `refresh`). `onChange` runs when a held
/// document changed, so the owner can recompile the policy (which also empties the verified-token caches).
///
/// Thread-safety: the document table and counters cross queues and sit behind Mutexes; fetching and
/// scheduling run only on `queue`.
public final class RemoteKeyStore: @unchecked Sendable {
    struct Entry {
        var specs: [RemoteJWKSSpec]
        var document: [UInt8]?
        var nextDue: UInt64 = 0
        var failures = 0
        var refresh: Double { specs.map(\.refresh).min() ?? 600 }
    }

    private let entries = Mutex<[String: Entry]>([:])
    private let counts = Mutex<[String: [String: Int]]>([:])
    private let queue = DispatchQueue(label: "portcullis.jwks")
    private var timer: DispatchSourceTimer?
    public let fetchTimeout: Double
    private let changeHandler = Mutex<(@Sendable () -> Void)?>(nil)
    /// Where failed fetches are reported (one line each).
    private let log: @Sendable (String) -> Void

    public init(fetchTimeout: Double = 5, log: @escaping @Sendable (String) -> Void) {
        self.fetchTimeout = fetchTimeout
        self.log = log
    }

    /// The last good document for `url`, if any.
    public func document(_ url: String) -> [UInt8]? { entries.withLock { $0[url]?.document } }

    /// Fetch results by key set and result (`success`, `failure`), for /metrics.
    public var refreshCounts: [String: [String: Int]] { counts.withLock { $0 } }

    public func onChange(_ handler: @escaping @Sendable () -> Void) { changeHandler.withLock { $0 = handler } }

    /// Adds the URLs of `specs` (those of a configuration about to be compiled) and fetches the ones never
    /// fetched now, blocking the caller (at most `fetchTimeout` each).
    public func track(_ specs: [RemoteJWKSSpec]) {
        queue.sync {
            let missing: [String] = entries.withLock { table in
                for s in specs {
                    if table[s.url] == nil { table[s.url] = Entry(specs: [s]) }
                    else if !table[s.url]!.specs.contains(s) { table[s.url]!.specs.append(s) }
                }
                return Set(specs.map(\.url)).filter { table[$0]?.document == nil }.sorted()
            }
            for url in missing { _ = fetch(url) }
        }
    }

    /// Follows exactly `specs` (those of the configuration now in force): other URLs are dropped.
    public func prune(keeping specs: [RemoteJWKSSpec]) {
        queue.sync {
            var byURL: [String: [RemoteJWKSSpec]] = [:]
            for s in specs { byURL[s.url, default: []].append(s) }
            entries.withLock { table in
                for url in Array(table.keys) {
                    if let list = byURL[url] { table[url]!.specs = list } else { table.removeValue(forKey: url) }
                }
            }
        }
    }

    /// Starts the refresh schedule (a one-second tick on the store's queue).
    public nonisolated func startRefreshing() {
        let t = DispatchSource.makeTimerSource(queue: queue)
        let box = UncheckedBox(self)
        t.setEventHandler { box.value.tick() }
        t.schedule(deadline: .now() + 1, repeating: 1, leeway: .milliseconds(100))
        t.resume()
        timer = t
    }

    private func tick() {
        let now = monotonicNanos()
        let due = entries.withLock { $0.filter { $0.value.nextDue <= now }.map(\.key).sorted() }
        var changed = false
        for url in due where fetch(url) { changed = true }
        if changed, let h = changeHandler.withLock({ $0 }) { h() }
    }

    /// Fetches `url` and, if its document loads for every set that names it, holds it; logs a failure.
    /// True when the held document changed. Runs on `queue`.
    private func fetch(_ url: String) -> Bool {
        guard let specs = entries.withLock({ $0[url]?.specs }) else { return false }
        var problem: String? = nil
        var doc: [UInt8] = []
        do {
            doc = try RemoteFetch.get(url, timeout: fetchTimeout)
            for s in specs {
                do {
                    _ = try JWT.KeySet.load(KeySetSpec(name: s.keySet, algorithms: s.algorithms, material: .jwks(.bytes(doc))),
                                            environment: SystemKeyEnvironment())
                } catch {
                    problem = "not a usable key set for \"\(s.keySet)\": \(error.message)"
                    break
                }
            }
        } catch {
            problem = error.description
        }
        let now = monotonicNanos()
        let (changed, held) = entries.withLock { table -> (Bool, Bool) in
            guard var e = table[url] else { return (false, false) }
            defer { table[url] = e }
            if problem == nil {
                let changed = e.document != doc
                e.document = doc
                e.failures = 0
                e.nextDue = now &+ UInt64(e.refresh * 1e9)
                return (changed, true)
            }
            e.failures += 1
            let backoff = min(e.refresh, Double(1 << min(e.failures - 1, 10)))
            e.nextDue = now &+ UInt64(backoff * 1e9)
            return (false, e.document != nil)
        }
        counts.withLock { c in
            for s in specs { c[s.keySet, default: [:]][problem == nil ? "success" : "failure", default: 0] += 1 }
        }
        if let problem {
            let names = specs.map(\.keySet).joined(separator: ", ")
            log("portcullis: key set \(names): JWKS fetch failed: \(problem); "
                + (held ? "the last good document stays in force" : "tokens that need it get 503 keys_unavailable"))
        }
        return changed
    }
}
