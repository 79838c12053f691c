import EventLoop
import Glibc
import Policy

/// Hears an upstream connection's events while it serves one exchange.
protocol UpstreamOwner: AnyObject {
    func upstreamConnected(_ u: UpstreamConn)
    func upstreamRead(_ u: UpstreamConn, _ bytes: UnsafeRawBufferPointer)
    func upstreamEOF(_ u: UpstreamConn)
    func upstreamDrained(_ u: UpstreamConn)
    func upstreamClosed(_ u: UpstreamConn, error: Int32)
    func upstreamTimedOut(_ u: UpstreamConn)
}

/// One HTTP/1.1 connection to an upstream server; pooled per loop while idle.
/// Thread-safety: confined to its loop's queue.
final class UpstreamConn: ConnectionDelegate, TimedObject {
    let conn: Connection
    let key: String
    unowned(unsafe) let pool: UpstreamPool
    /// The session it serves; cleared whenever it is released (pool, close), which breaks the cycle.
    var owner: UpstreamOwner?
    var connected = false
    var reused = false
    var inPool = false
    var idleSince: UInt64 = 0
    /// Monotonic deadline for the current wait (connect, response), 0 = none.
    var deadline: UInt64 = 0
    /// Bytes read but not yet parsed.
    var inbuf = ByteQueue()

    init(conn: Connection, key: String, pool: UpstreamPool) {
        self.conn = conn; self.key = key; self.pool = pool
    }

    func connectionDidConnect(_ connection: Connection, error: Int32) {
        if error == 0 { connected = true; owner?.upstreamConnected(self) }
    }
    func connectionDidRead(_ connection: Connection, _ bytes: UnsafeRawBufferPointer) {
        if inPool || owner == nil { conn.close(error: 0); return }   // nothing is owed on an idle connection
        owner?.upstreamRead(self, bytes)
    }
    func connectionDidReadEOF(_ connection: Connection) {
        if inPool || owner == nil { conn.close(error: 0); return }
        owner?.upstreamEOF(self)
    }
    func connectionDidDrain(_ connection: Connection) { owner?.upstreamDrained(self) }
    func connectionDidClose(_ connection: Connection, error: Int32) {
        if inPool { pool.remove(self) }
        conn.loop.unregister(self)
        let o = owner
        owner = nil
        o?.upstreamClosed(self, error: error)
    }

    func checkTimeouts(now: UInt64) {
        if inPool {
            if now &- idleSince > pool.idleTimeout { conn.close(error: 0) }
        } else if deadline != 0 && now > deadline {
            deadline = 0
            owner?.upstreamTimedOut(self)
        }
    }
}

/// Idle keep-alive connections per upstream server, per loop (no locks: one loop owns it).
final class UpstreamPool {
    private var idle: [String: [UpstreamConn]] = [:]
    let idleTimeout: UInt64 = 60_000_000_000
    let maxIdlePerServer = 256
    unowned(unsafe) let loop: EventLoop

    init(loop: EventLoop) { self.loop = loop }

    /// A live idle connection to `key`, most recently used first.
    func take(_ key: String) -> UpstreamConn? {
        while var list = idle[key], let u = list.popLast() {
            idle[key] = list
            u.inPool = false
            if !u.conn.isClosed && !u.conn.readEOF { u.reused = true; return u }
        }
        return nil
    }

    func put(_ u: UpstreamConn) {
        guard !u.conn.isClosed, u.inbuf.isEmpty else { u.conn.close(error: 0); return }
        var list = idle[u.key, default: []]
        if list.count >= maxIdlePerServer { u.conn.close(error: 0); return }
        u.owner = nil
        u.inPool = true
        u.deadline = 0
        u.idleSince = monotonicNanos()
        if u.conn.isReadingPaused { u.conn.resumeReading() }
        list.append(u)
        idle[u.key] = list
    }

    func remove(_ u: UpstreamConn) {
        guard var list = idle[u.key] else { return }
        list.removeAll { $0 === u }
        idle[u.key] = list
        u.inPool = false
    }

    func closeAll() {
        for (_, list) in idle { for u in list { u.conn.close(error: 0) } }
        idle.removeAll()
    }

    /// Opens a new connection to `server` for `owner`.
    func connect(_ server: UpstreamServer, key: String, owner: UpstreamOwner, connectTimeout: UInt64) -> UpstreamConn? {
        guard let addr = SocketAddress(host: server.host, port: server.port) else { return nil }
        let placeholder = PendingDelegate()
        guard let c = try? Connection.connect(to: addr, loop: loop, delegate: placeholder) else { return nil }
        let u = UpstreamConn(conn: c, key: key, pool: self)
        c.delegate = u
        u.owner = owner
        u.deadline = monotonicNanos() &+ connectTimeout
        loop.register(u)
        return u
    }
}

/// Holds the delegate slot while the real delegate is built (the connect never fires synchronously).
private final class PendingDelegate: ConnectionDelegate {
    func connectionDidRead(_ connection: Connection, _ bytes: UnsafeRawBufferPointer) {}
    func connectionDidReadEOF(_ connection: Connection) {}
    func connectionDidDrain(_ connection: Connection) {}
    func connectionDidClose(_ connection: Connection, error: Int32) {}
}
