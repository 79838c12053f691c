import Admin
import EventLoop
import Glibc
import HTTPCore

/// The admin listener: `GET /healthz` (the process answers), `GET /readyz` (accepting traffic: 503 while
/// draining), `GET /metrics` (Prometheus text). Runs on its own loop so a scrape never waits behind traffic
/// (it visits each traffic loop briefly to copy its counters).
/// Thread-safety: everything runs on `loop.queue`.
public final class AdminServer: @unchecked Sendable {
    let loop = EventLoop(index: 1000)
    let runtime: ProxyRuntime
    let version: String
    private var listener: Listener?
    var conns: [ObjectIdentifier: AdminConn] = [:]

    public init(runtime: ProxyRuntime, host: String, port: Int, version: String) throws(SocketError) {
        self.runtime = runtime
        self.version = version
        guard let addr = SocketAddress(host: host, port: port) else { throw SocketError("admin address \(host):\(port)", EINVAL) }
        var me: AdminServer? = nil
        let box = UncheckedBox({ me })
        listener = try Listener(address: addr, loops: [loop]) { loop, fd, peer in
            guard let admin = box.value() else { Glibc.close(fd); return }
            let c = Connection(fd: fd, loop: loop, peerAddress: peer)
            let a = AdminConn(conn: c, server: admin)
            admin.conns[ObjectIdentifier(a)] = a
            c.delegate = a
            c.start()
        }
        me = self
    }

    public nonisolated func start() {
        loop.start()
        listener?.start()
    }

    func respond(_ head: HTTPRequestHead) -> (Int, String, String) {
        let path = splitTarget(head.target).path
        guard head.method == "GET" || head.method == "HEAD" else { return (405, "text/plain", "method not allowed\n") }
        switch path {
        case "/healthz": return (200, "text/plain", "ok\n")
        case "/readyz": return runtime.isDraining ? (503, "text/plain", "draining\n") : (200, "text/plain", "ready\n")
        case "/metrics":
            var s = runtime.metricsSnapshot()
            s.version = version
            return (200, "text/plain; version=0.0.4", renderPrometheus(s))
        default: return (404, "text/plain", "not found; try /healthz, /readyz, /metrics\n")
        }
    }
}

final class AdminConn: ConnectionDelegate {
    let conn: Connection
    unowned(unsafe) let server: AdminServer
    var parser = HTTPRequestParser(limits: HTTPParserLimits(maxHeaderBytes: 8192, maxFieldCount: 50))
    var buf: [UInt8] = []
    var head: HTTPRequestHead?

    init(conn: Connection, server: AdminServer) { self.conn = conn; self.server = server }

    func connectionDidRead(_ connection: Connection, _ bytes: UnsafeRawBufferPointer) {
        buf.append(contentsOf: bytes)
        while !conn.isClosed {
            let ev: HTTPParseEvent<HTTPRequestHead>
            do { ev = try buf.withUnsafeBytes { try parser.parse($0) } } catch {
                conn.write(Array("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8))
                conn.closeAfterFlush()
                return
            }
            switch ev {
            case .needMore(let c): buf.removeFirst(c); return
            case .head(let h, let c): head = h; buf.removeFirst(c)
            case .body(_, let c): buf.removeFirst(c)
            case .end(_, let c):
                buf.removeFirst(c)
                guard let h = head else { return }
                let (status, type, body) = server.respond(h)
                var out = "HTTP/1.1 \(status) \(reasonPhrase(for: status))\r\nContent-Type: \(type)\r\nContent-Length: \(body.utf8.count)\r\n"
                if !h.keepAlive { out += "Connection: close\r\n" }
                out += "\r\n"
                if h.method != "HEAD" { out += body }
                conn.write(Array(out.utf8))
                if !h.keepAlive { conn.closeAfterFlush(); return }
                parser.reset()
            }
        }
    }

    func connectionDidReadEOF(_ connection: Connection) { conn.closeAfterFlush() }
    func connectionDidDrain(_ connection: Connection) {}
    func connectionDidClose(_ connection: Connection, error: Int32) { server.conns.removeValue(forKey: ObjectIdentifier(self)) }
}
