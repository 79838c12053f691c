import EventLoop
import Glibc
import JWT
import Policy
import WebSocket

/// Why a tunnel ended (metrics label `reason`).
enum TunnelCloseReason: String, CaseIterable {
    case clientClosed = "client_closed"
    case upstreamClosed = "upstream_closed"
    case idleTimeout = "idle_timeout"
    case tokenExpired = "token_expired"
    case protocolError = "protocol_error"
    case socketIORefused = "socketio_refused"
    case shutdown
}

/// What a tunnel needs to know about the token that opened it and the route's rules.
struct TunnelAuth {
    var expiresAt: Double?          // token exp (wall clock), nil = never
    var leeway: Double
    var grace: Double
    var closeOnExpiry: Bool
    /// `{ socketio: FIELD }`: hold client frames until the socket.io CONNECT is verified.
    var socketIOField: String?
    var route: CompiledRoute?
}

/// A WebSocket (or any 101) tunnel: bytes both ways, untouched, with back-pressure and half-close.
/// With `close_on_expiry` it follows frame boundaries in both directions so it can put a close frame
/// (1008 to the client, 1001 to the upstream) at a boundary when the token expires.
/// On a socket.io route it reads the client's first messages until the CONNECT packet is verified.
/// Thread-safety: confined to the loop queue of both connections.
final class Tunnel: ConnectionDelegate, TimedObject {
    let client: Connection
    let upstream: Connection
    unowned(unsafe) let ctx: LoopContext
    /// Released when the tunnel ends.
    private var session: ClientSession?
    private var auth: TunnelAuth
    private let idleTimeout: UInt64
    private var lastActivity: UInt64
    private var expiryDeadline: UInt64 = 0      // monotonic; 0 = none
    private var graceDeadline: UInt64 = 0
    private var ended = false
    private var clientEOF = false
    private var upstreamEOF = false
    private var reason: TunnelCloseReason = .clientClosed

    // Frame tracking (only when needed).
    private var scanUp: WebSocketFrameScanner?     // client -> upstream (masked)
    private var scanDown: WebSocketFrameScanner?   // upstream -> client (unmasked)
    private var expired = false
    private var sentCloseToClient = false
    private var sentCloseToUpstream = false

    // socket.io CONNECT gate.
    private var gate: WebSocketMessageReader?
    private var held: [UInt8] = []
    private var connectVerified = false

    static let highWater = 256 * 1024
    /// Largest client frame a socket.io route holds while reading it (ONLYOFFICE sends 1.5 MB messages).
    static let maxHeld = 16 << 20
    /// Before the first CONNECT is verified (a CONNECT is a few hundred bytes; a token at most max_token_bytes).
    static let maxHeldBeforeConnect = 64 * 1024

    init(session: ClientSession, client: Connection, upstream: Connection, ctx: LoopContext, auth: TunnelAuth, idleTimeout: UInt64) {
        self.session = session
        self.client = client
        self.upstream = upstream
        self.ctx = ctx
        self.auth = auth
        self.idleTimeout = idleTimeout
        self.lastActivity = monotonicNanos()
    }

    func start(clientBytes: [UInt8], upstreamBytes: [UInt8]) {
        ctx.runtime.tunnelOpened()
        client.delegate = self
        upstream.delegate = self
        ctx.loop.register(self)
        if auth.closeOnExpiry && (auth.expiresAt != nil || auth.socketIOField != nil) {
            // On a socket.io route the token (and its exp) is known only after the CONNECT, but frames are
            // followed from the first byte so the scanners never lose step.
            scanUp = WebSocketFrameScanner(expectMasked: true)
            scanDown = WebSocketFrameScanner(expectMasked: false)
        }
        if auth.closeOnExpiry, let exp = auth.expiresAt {
            let secs = exp + auth.leeway - wallClockSeconds()
            expiryDeadline = monotonicNanos() &+ UInt64(max(0, secs) * 1e9)
            if expiryDeadline == 0 { expiryDeadline = 1 }
        }
        if auth.socketIOField != nil { gate = WebSocketMessageReader(expectMasked: true, maxMessageBytes: Self.maxHeld) }
        if !upstreamBytes.isEmpty { upstreamBytes.withUnsafeBytes { fromUpstream($0) } }
        if !clientBytes.isEmpty { clientBytes.withUnsafeBytes { fromClient($0) } }
        if client.readEOF { connectionDidReadEOF(client) }
    }

    // MARK: events

    func connectionDidRead(_ connection: Connection, _ bytes: UnsafeRawBufferPointer) {
        if ended { return }
        lastActivity = monotonicNanos()
        if connection === client { fromClient(bytes) } else { fromUpstream(bytes) }
    }

    func connectionDidReadEOF(_ connection: Connection) {
        if ended { return }
        if connection === client {
            clientEOF = true
            reason = .clientClosed
            upstream.shutdownWrite()
        } else {
            upstreamEOF = true
            reason = .upstreamClosed
            client.shutdownWrite()
        }
        if clientEOF && upstreamEOF { end(reason, flush: true) }
    }

    func connectionDidDrain(_ connection: Connection) {
        if ended { return }
        // The side that was written to caught up: read again from the other side.
        if connection === client, upstream.isReadingPaused, !upstreamEOF { upstream.resumeReading() }
        if connection === upstream, client.isReadingPaused, !clientEOF { client.resumeReading() }
    }

    func connectionDidClose(_ connection: Connection, error: Int32) {
        if ended { return }
        end(connection === client ? .clientClosed : .upstreamClosed, flush: true)
    }

    func checkTimeouts(now: UInt64) {
        if ended { return }
        if graceDeadline != 0 && now > graceDeadline { return end(.tokenExpired, flush: false) }
        if expiryDeadline != 0 && now > expiryDeadline && !expired { expire() }
        if idleTimeout > 0 && now &- lastActivity > idleTimeout { end(.idleTimeout, flush: false) }
    }

    // MARK: relaying

    private func fromClient(_ bytes: UnsafeRawBufferPointer) {
        if gate != nil { return gateClient(bytes) }
        if sentCloseToUpstream { return }   // after our close frame nothing more goes upstream
        if var s = scanUp {
            var cut = bytes.count
            do {
                try s.scan(bytes) { ev throws(WebSocketError) in
                    if case .frameEnd(_, let end) = ev, self.expired, !self.sentCloseToUpstream, cut == bytes.count { cut = end }
                }
            } catch { scanUp = s; return end(.protocolError, flush: false) }
            scanUp = s
            if cut < bytes.count || (expired && s.atFrameBoundary) {
                upstream.write(UnsafeRawBufferPointer(rebasing: bytes[0..<cut]))
                sendCloseToUpstream()
                return
            }
        }
        upstream.write(bytes)
        if upstream.pendingOutputBytes > Self.highWater { client.pauseReading() }
    }

    private func fromUpstream(_ bytes: UnsafeRawBufferPointer) {
        if sentCloseToClient { return }
        if var s = scanDown {
            var cut = bytes.count
            do {
                try s.scan(bytes) { ev throws(WebSocketError) in
                    if case .frameEnd(_, let end) = ev, self.expired, !self.sentCloseToClient, cut == bytes.count { cut = end }
                }
            } catch { scanDown = s; return end(.protocolError, flush: false) }
            scanDown = s
            if cut < bytes.count || (expired && s.atFrameBoundary) {
                client.write(UnsafeRawBufferPointer(rebasing: bytes[0..<cut]))
                sendCloseToClient()
                return
            }
        }
        client.write(bytes)
        if client.pendingOutputBytes > Self.highWater { upstream.pauseReading() }
    }

    // MARK: expiry

    private func expire() {
        expired = true
        reason = .tokenExpired
        // At a boundary now: close at once; otherwise at the end of the frame in flight (fromClient/fromUpstream).
        if scanDown?.atFrameBoundary ?? true { sendCloseToClient() }
        if gate?.scanner.atFrameBoundary ?? scanUp?.atFrameBoundary ?? true { sendCloseToUpstream() }
    }

    private func sendCloseToClient() {
        guard !sentCloseToClient else { return }
        sentCloseToClient = true
        client.write(WebSocketFrame.close(code: WebSocketCloseCode.policyViolation, reason: "token expired"))
        startGrace()
    }

    private func sendCloseToUpstream() {
        guard !sentCloseToUpstream else { return }
        sentCloseToUpstream = true
        let r = UInt32.random(in: .min ... .max)
        let key = (UInt8(truncatingIfNeeded: r), UInt8(truncatingIfNeeded: r >> 8), UInt8(truncatingIfNeeded: r >> 16), UInt8(truncatingIfNeeded: r >> 24))
        upstream.write(WebSocketFrame.close(code: WebSocketCloseCode.goingAway, reason: "client token expired", maskKey: key))
        startGrace()
    }

    private func startGrace() {
        if graceDeadline == 0 { graceDeadline = monotonicNanos() &+ UInt64(max(0.05, auth.grace) * 1e9) }
    }

    // MARK: socket.io CONNECT gate

    /// On a `{ socketio: FIELD }` route every client message is read (unmasked copies; the original bytes
    /// are what is forwarded) and every socket.io CONNECT — the first and any later one for another
    /// namespace — must carry a token the route accepts before any byte of it reaches the upstream. Bytes
    /// are held until a frame boundary, then forwarded untouched; Engine.IO open/ping/pong/probe/upgrade
    /// packets pass as they are.
    private func gateClient(_ bytes: UnsafeRawBufferPointer) {
        guard var g = gate, let field = auth.socketIOField else { return }
        if sentCloseToUpstream { return }
        held.append(contentsOf: bytes)
        let messages: [WebSocketMessage]
        do { messages = try g.feed(bytes) } catch { gate = g; return end(.protocolError, flush: false) }
        gate = g
        for m in messages where m.opcode == .text {
            guard let text = m.text else { return end(.protocolError, flush: false) }
            guard let connect = socketIOConnect(fromEngineMessage: text) else {
                // A CONNECT we cannot read is refused, never passed on for the upstream to interpret.
                if text.hasPrefix("40") { return refuseSocketIO(namespace: "/") }
                continue
            }
            let token = connect.auth.flatMap { jsonStringField($0, field) } ?? nil
            guard let token, let verdict = auth.route?.auth?.verifier.verify(token, now: wallClockSeconds(), cache: &ctx.tokenCache),
                  case .success(let t) = verdict else {
                return refuseSocketIO(namespace: connect.namespace)
            }
            if !connectVerified {
                connectVerified = true
                if let exp = t.expiresAt, auth.closeOnExpiry {
                    auth.expiresAt = exp
                    expiryDeadline = monotonicNanos() &+ UInt64(max(0, exp + auth.leeway - wallClockSeconds()) * 1e9)
                }
            }
        }
        if g.scanner.atFrameBoundary {
            upstream.write(held)
            held.removeAll(keepingCapacity: held.count <= 65536)
            if expired { sendCloseToUpstream() }
            else if upstream.pendingOutputBytes > Self.highWater { client.pauseReading() }
        } else if held.count > (connectVerified ? Self.maxHeld : Self.maxHeldBeforeConnect) {
            // Before a CONNECT is verified a client gets no more than a CONNECT's worth of buffer.
            end(.protocolError, flush: false)
        }
    }

    /// Answers a refused CONNECT the way socket.io does (`44{"message":"not authorized"}`), then closes.
    private func refuseSocketIO(namespace: String) {
        let msg = socketIOConnectError(namespace: namespace, message: "not authorized")
        client.write(WebSocketFrame.build(opcode: .text, payload: Array(msg.utf8)))
        client.write(WebSocketFrame.close(code: WebSocketCloseCode.policyViolation, reason: "not authorized"))
        end(.socketIORefused, flush: true)
    }

    // MARK: ending

    private func end(_ why: TunnelCloseReason, flush: Bool) {
        guard !ended else { return }
        ended = true
        ctx.loop.unregister(self)
        ctx.runtime.tunnelClosed(reason: why)
        if flush {
            client.closeAfterFlush(); upstream.closeAfterFlush()
        } else {
            client.close(error: 0); upstream.close(error: 0)
        }
        if !client.isClosed || !upstream.isClosed {
            // Whichever side still flushes reports its close to us; the session is released now.
        }
        let s = session
        session = nil
        s?.tunnelEnded()
    }
}
