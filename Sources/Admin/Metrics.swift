// Metric declarations and the Prometheus text exposition (DESIGN.md §4 "Metrics"). Pure: the proxy keeps
// per-loop `LoopMetrics` without locks and merges them into a snapshot when /metrics is scraped.

/// Latency histogram with fixed buckets (seconds).
public struct Histogram: Sendable {
    public static let bounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
    public var counts = [UInt64](repeating: 0, count: Histogram.bounds.count + 1)
    public var sum: Double = 0
    public var count: UInt64 = 0

    public init() {}

    public mutating func observe(_ seconds: Double) {
        var i = 0
        while i < Histogram.bounds.count && seconds > Histogram.bounds[i] { i += 1 }
        counts[i] &+= 1
        sum += seconds
        count &+= 1
    }

    public mutating func merge(_ o: Histogram) {
        for i in 0..<counts.count { counts[i] &+= o.counts[i] }
        sum += o.sum
        count &+= o.count
    }
}

public struct RouteStatus: Hashable, Sendable {
    public let route: String
    public let status: Int
    public init(route: String, status: Int) { self.route = route; self.status = status }
}

public struct RouteReason: Hashable, Sendable {
    public let route: String
    public let reason: String
    public init(route: String, reason: String) { self.route = route; self.reason = reason }
}

/// Counters one event loop keeps (touched only on that loop).
public struct LoopMetrics: Sendable {
    public var requests: [RouteStatus: UInt64] = [:]
    public var authOutcomes: [RouteReason: UInt64] = [:]
    public var requestDuration: [String: Histogram] = [:]
    public var upstreamDuration = Histogram()
    public var upstreamErrors: [String: UInt64] = [:]
    public var tokenCacheHits: UInt64 = 0
    public var tokenCacheMisses: UInt64 = 0

    public init() {}

    public mutating func merge(_ o: LoopMetrics) {
        for (k, v) in o.requests { requests[k, default: 0] &+= v }
        for (k, v) in o.authOutcomes { authOutcomes[k, default: 0] &+= v }
        for (k, v) in o.requestDuration { requestDuration[k, default: Histogram()].merge(v) }
        upstreamDuration.merge(o.upstreamDuration)
        for (k, v) in o.upstreamErrors { upstreamErrors[k, default: 0] &+= v }
        tokenCacheHits &+= o.tokenCacheHits
        tokenCacheMisses &+= o.tokenCacheMisses
    }
}

/// Everything /metrics shows.
public struct MetricsSnapshot: Sendable {
    public var loops = LoopMetrics()
    public var activeConnections = 0
    public var activeTunnels = 0
    public var tunnelCloses: [String: Int] = [:]
    public var reloads: [String: Int] = [:]
    /// Remote JWKS fetches: key set → result (`success`, `failure`) → count.
    public var jwksRefreshes: [String: [String: Int]] = [:]
    public var configGeneration = 0
    public var version = "dev"
    public var startTime: Double = 0
    public var eventBackend = "dispatch"
    public init() {}
}

/// Prometheus text format 0.0.4, prefix `portcullis_`; series sorted so output is stable.
public func renderPrometheus(_ s: MetricsSnapshot) -> String {
    var out = ""
    func family(_ name: String, _ type: String, _ help: String) {
        out += "# HELP portcullis_\(name) \(help)\n# TYPE portcullis_\(name) \(type)\n"
    }
    func esc(_ v: String) -> String {
        var r = ""
        for c in v.unicodeScalars {
            switch c {
            case "\\": r += "\\\\"
            case "\"": r += "\\\""
            case "\n": r += "\\n"
            default: r.unicodeScalars.append(c)
            }
        }
        return r
    }
    func num(_ d: Double) -> String {
        if d == d.rounded() && abs(d) < 1e15 { return String(Int64(d)) }
        return String(d)
    }
    family("build_info", "gauge", "Build information.")
    out += "portcullis_build_info{version=\"\(esc(s.version))\",event_backend=\"\(esc(s.eventBackend))\"} 1\n"
    family("start_time_seconds", "gauge", "Start time of the process since the epoch.")
    out += "portcullis_start_time_seconds \(num(s.startTime.rounded(.down)))\n"
    family("requests_total", "counter", "Requests answered, by route and status.")
    for (k, v) in s.loops.requests.sorted(by: { ($0.key.route, $0.key.status) < ($1.key.route, $1.key.status) }) {
        out += "portcullis_requests_total{route=\"\(esc(k.route))\",status=\"\(k.status)\"} \(v)\n"
    }
    family("auth_outcomes_total", "counter", "Authentication outcomes, by route and reason.")
    for (k, v) in s.loops.authOutcomes.sorted(by: { ($0.key.route, $0.key.reason) < ($1.key.route, $1.key.reason) }) {
        out += "portcullis_auth_outcomes_total{route=\"\(esc(k.route))\",reason=\"\(esc(k.reason))\"} \(v)\n"
    }
    func histogram(_ name: String, _ labels: String, _ h: Histogram) {
        var cumulative: UInt64 = 0
        let sep = labels.isEmpty ? "" : ","
        for (i, b) in Histogram.bounds.enumerated() {
            cumulative &+= h.counts[i]
            out += "portcullis_\(name)_bucket{\(labels)\(sep)le=\"\(num(b))\"} \(cumulative)\n"
        }
        cumulative &+= h.counts[Histogram.bounds.count]
        out += "portcullis_\(name)_bucket{\(labels)\(sep)le=\"+Inf\"} \(cumulative)\n"
        let l = labels.isEmpty ? "" : "{\(labels)}"
        out += "portcullis_\(name)_sum\(l) \(h.sum)\nportcullis_\(name)_count\(l) \(h.count)\n"
    }
    family("request_duration_seconds", "histogram", "Time from the request head to the last response byte queued, by route.")
    for (route, h) in s.loops.requestDuration.sorted(by: { $0.key < $1.key }) { histogram("request_duration_seconds", "route=\"\(esc(route))\"", h) }
    family("upstream_duration_seconds", "histogram", "Time from forwarding a request to the end of the upstream response.")
    histogram("upstream_duration_seconds", "", s.loops.upstreamDuration)
    family("upstream_errors_total", "counter", "Upstream failures, by kind (refused, reset, timeout, protocol).")
    for (k, v) in s.loops.upstreamErrors.sorted(by: { $0.key < $1.key }) { out += "portcullis_upstream_errors_total{kind=\"\(esc(k))\"} \(v)\n" }
    family("active_connections", "gauge", "Open client connections.")
    out += "portcullis_active_connections \(s.activeConnections)\n"
    family("websocket_tunnels_active", "gauge", "Open WebSocket tunnels.")
    out += "portcullis_websocket_tunnels_active \(s.activeTunnels)\n"
    family("websocket_tunnel_closes_total", "counter", "Tunnel closes, by reason.")
    for (k, v) in s.tunnelCloses.sorted(by: { $0.key < $1.key }) { out += "portcullis_websocket_tunnel_closes_total{reason=\"\(esc(k))\"} \(v)\n" }
    family("token_cache_hits_total", "counter", "Verified-token cache hits.")
    out += "portcullis_token_cache_hits_total \(s.loops.tokenCacheHits)\n"
    family("token_cache_misses_total", "counter", "Verified-token cache misses.")
    out += "portcullis_token_cache_misses_total \(s.loops.tokenCacheMisses)\n"
    family("jwks_refreshes_total", "counter", "Remote JWKS fetches, by key set and result.")
    for (set, byResult) in s.jwksRefreshes.sorted(by: { $0.key < $1.key }) {
        for (k, v) in byResult.sorted(by: { $0.key < $1.key }) {
            out += "portcullis_jwks_refreshes_total{key_set=\"\(esc(set))\",result=\"\(esc(k))\"} \(v)\n"
        }
    }
    family("config_reloads_total", "counter", "Configuration reloads, by result.")
    for (k, v) in s.reloads.sorted(by: { $0.key < $1.key }) { out += "portcullis_config_reloads_total{result=\"\(esc(k))\"} \(v)\n" }
    family("config_generation", "gauge", "Generation of the configuration in force.")
    out += "portcullis_config_generation \(s.configGeneration)\n"
    return out
}
