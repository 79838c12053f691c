import EventLoop
import Glibc
import HTTPCore
import Admin
import JWT
import Policy
import WebSocket

/// One downstream HTTP/1.1 connection. Requests are handled one at a time in order (pipelined requests wait
/// in the input buffer), each as an exchange: route -> (auth) -> upstream -> forward -> response -> log.
/// Thread-safety: confined to the loop queue of `conn`.
final class ClientSession: ConnectionDelegate, TimedObject, UpstreamOwner {
    let conn: Connection
    unowned(unsafe) let ctx: LoopContext   // loop contexts live as long as the runtime
    private var parser: HTTPRequestParser
    private var inbuf = ByteQueue()
    private var processing = false
    private var closed = false
    /// A final response is queued; nothing more is parsed.
    private var closing = false
    /// What the client-side deadline means when it passes.
    private enum Wait { case none, header, idle, body, output }
    private var wait = Wait.header
    private var deadline: UInt64 = 0
    private var ex: Exchange?
    private var inputPausedForBuffer = false
    private var requestsServed = 0
    /// Set once the connection became a tunnel; the session then only waits for it to end.
    private var tunnel: Tunnel?

    static let highWater = 256 * 1024
    static let maxBufferedInput = 256 * 1024

    /// One request/response in flight.
    final class Exchange {
        let head: HTTPRequestHead
        let policy: GatewayPolicy
        let route: CompiledRoute?
        let startWall: Double
        let startMono: UInt64
        var server: UpstreamServer?
        var serverKey = ""
        var upstream: UpstreamConn?
        var upstreamHead: [UInt8] = []
        var requestChunked = false
        var requestDone = false
        var requestBodyBytes: UInt64 = 0
        var respParser = HTTPResponseParser()
        var responseStarted = false
        var responseChunked = false       // re-encode to the client as chunked
        var responseCloseDelimited = false
        var status = 0
        var bytesSent: UInt64 = 0
        var clientKeepAlive: Bool
        var upstreamKeepAlive = true
        var gotUpstreamBytes = false
        var retried = false
        var upstreamPausedForClient = false
        var authOutcome = "off"
        var subject: String?
        var grant: AuthGrant?
        /// Set while the body is read to find a `{ body: FIELD }` token.
        var authBodyIndex: Int?
        var authBody: [UInt8]?
        var authTrailers = HTTPFields()
        var sentContinue = false
        var forwardStart: UInt64 = 0
        /// A socket.io polling POST too large to read whole: streamed, with CONNECT records held and checked.
        var pollingGate: PollingConnectGate?
        var collectingAuthBody: Bool { authBodyIndex != nil }
        /// A WebSocket handshake on a route that allows it.
        var isWebSocket = false
        /// `{ socketio: FIELD }` route without an HTTP token: the CONNECT packet carries it.
        var socketIOField: String?
        /// The Engine.IO session id of a long-polling request on such a route.
        var pollSid: String?
        /// Sent upstream instead of the body that was read (a refused CONNECT's payload becomes `1`, close).
        var replacementBody: [UInt8]?
        /// The session id when this is a GET poll (the request an upstream may hold for a while).
        var getPollSid: String? {
            guard let pollSid, head.method == "GET" else { return nil }   // nil first: this runs on every response
            return pollSid
        }
        var offeredProtocols: [String] = []
        var tokenProtocolEntry: String?
        var headOnly: Bool

        init(head: HTTPRequestHead, policy: GatewayPolicy, route: CompiledRoute?) {
            self.head = head; self.policy = policy; self.route = route
            self.startWall = wallClockSeconds(); self.startMono = monotonicNanos()
            self.clientKeepAlive = head.keepAlive
            self.headOnly = head.method == "HEAD"
        }
        var idempotent: Bool {
            switch head.method { case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE": return true; default: return false }
        }
    }

    init(conn: Connection, ctx: LoopContext) {
        self.conn = conn
        self.ctx = ctx
        let l = ctx.runtime.policy.limits
        self.parser = HTTPRequestParser(limits: HTTPParserLimits(maxHeaderBytes: l.maxHeaderBytes, maxFieldCount: l.maxHeaderCount))
    }

    func start() {
        conn.delegate = self
        ctx.loop.register(self)
        setDeadline(.header, ctx.runtime.policy.limits.headerTimeout)
        conn.start()
    }

    private func setDeadline(_ w: Wait, _ after: UInt64) {
        wait = w
        deadline = w == .none ? 0 : monotonicNanos() &+ after
    }

    // MARK: client events

    func connectionDidRead(_ connection: Connection, _ bytes: UnsafeRawBufferPointer) {
        if closed || closing { return }
        if ex == nil && wait == .idle {   // first byte of the next request: the head must now arrive in time
            setDeadline(.header, ctx.runtime.policy.limits.headerTimeout)
        } else if wait == .body {
            setDeadline(.body, ctx.runtime.policy.limits.idleTimeout)
        }
        if inbuf.isEmpty && !processing {
            let used = process(bytes)
            if !closed && used < bytes.count { inbuf.append(UnsafeRawBufferPointer(rebasing: bytes[used...])) }
        } else {
            inbuf.append(bytes)
            processBuffered()
        }
        applyInputBackPressure()
    }

    func connectionDidReadEOF(_ connection: Connection) {
        if closed { return }
        if let ex, !ex.requestDone {
            // Client went away mid-request.
            teardown()
            return
        }
        if ex == nil { conn.closeAfterFlush(); return }
        // Request complete: let the response finish, then close (HTTP/1.1 half-close from the client).
        ex?.clientKeepAlive = false
    }

    func connectionDidDrain(_ connection: Connection) {
        if closed { return }
        if let ex, ex.upstreamPausedForClient, let u = ex.upstream {
            ex.upstreamPausedForClient = false
            setDeadline(.none, 0)
            u.deadline = monotonicNanos() &+ upstreamTimeout(ex)
            u.conn.resumeReading()
            if !u.inbuf.isEmpty { processUpstreamBuffered(u) }
        }
    }

    func connectionDidClose(_ connection: Connection, error: Int32) { teardown() }

    func checkTimeouts(now: UInt64) {
        if closed || tunnel != nil { return }
        if ctx.runtime.isDraining { drainIfIdle() }
        guard deadline != 0, now > deadline else { return }
        switch wait {
        case .header:
            if inbuf.isEmpty && requestsServed > 0 { conn.close(error: 0) }
            else { respondLocal(LocalResponse(status: 408, error: "request_timeout", reason: "request head not received in time", close: true), head: nil) }
        case .idle, .body, .output: conn.close(error: ETIMEDOUT)
        case .none: break
        }
    }

    func drainIfIdle() {
        if !closed && ex == nil && tunnel == nil && inbuf.isEmpty { conn.closeAfterFlush() }
    }

    private func teardown() {
        guard !closed else { return }
        closed = true
        if let sid = ex?.getPollSid { ctx.runtime.pollEnded(sid, self) }
        if let ex, let u = ex.upstream {
            ex.upstream = nil
            u.owner = nil
            u.conn.close(error: 0)
        }
        ex = nil
        if !conn.isClosed { conn.close(error: 0) }
        ctx.loop.unregister(self)
        ctx.runtime.sessionClosed(self, ctx: ctx)
    }

    // MARK: request input

    private func applyInputBackPressure() {
        if closed { return }
        if inbuf.count > Self.maxBufferedInput {
            if !conn.isReadingPaused { inputPausedForBuffer = true; conn.pauseReading() }
        } else if inputPausedForBuffer && inbuf.count < Self.maxBufferedInput / 2 {
            inputPausedForBuffer = false
            conn.resumeReading()
        }
    }

    private func processBuffered() {
        guard !processing, !closed else { return }
        var work = inbuf
        inbuf = ByteQueue()
        let used = work.withUnsafeBytes { process($0) }
        if closed { return }
        work.consume(used)
        // Anything that arrived meanwhile was appended to the (empty) inbuf; keep order.
        if !inbuf.isEmpty { inbuf.withUnsafeBytes { work.append($0) } }
        inbuf = work
    }

    /// Whether request-body bytes can go upstream now.
    private func canForwardBody(_ ex: Exchange) -> Bool {
        guard let u = ex.upstream, u.connected else { return false }
        return u.conn.pendingOutputBytes < Self.highWater
    }

    /// Parses and acts on as much of `buf` as the current state allows; returns bytes consumed.
    private func process(_ buf: UnsafeRawBufferPointer) -> Int {
        processing = true
        defer { processing = false }
        var off = 0
        let corkedUpstream = ex?.upstream?.conn
        corkedUpstream?.cork()
        defer { corkedUpstream?.uncork() }
        while !closed && !closing {
            if let ex {
                if ex.requestDone { break }                       // pipelined request waits for this response
                if ex.head.framing != .none && !ex.collectingAuthBody && !canForwardBody(ex) { break }
            } else if off == buf.count {
                break
            }
            let slice = UnsafeRawBufferPointer(rebasing: buf[off...])
            let event: HTTPParseEvent<HTTPRequestHead>
            do { event = try parser.parse(slice) } catch {
                reject(error)
                return buf.count
            }
            switch event {
            case .needMore(let c):
                off += c
                return off
            case .head(let h, let c):
                off += c
                startExchange(h)
            case .body(let r, let c):
                if let ex { forwardBody(ex, UnsafeRawBufferPointer(rebasing: slice[r])) }
                off += c
            case .end(let trailers, let c):
                off += c
                if let ex { requestComplete(ex, trailers: trailers) }
            }
        }
        return off
    }

    private func reject(_ error: HTTPParseError) {
        let r = LocalResponse(status: error.status, error: error.status == 431 ? "request_header_fields_too_large" : "bad_request",
                              reason: error.reason, close: true)
        if let ex, ex.responseStarted { conn.abort(); return }
        if let ex, let u = ex.upstream { ex.upstream = nil; u.owner = nil; u.conn.close(error: 0) }
        ex = nil
        respondLocal(r, head: nil)
    }

    // MARK: exchange

    private func startExchange(_ head: HTTPRequestHead) {
        let policy = ctx.runtime.policy
        let path = normalizedPath(ofTarget: head.target)
        let route = path.flatMap { policy.route(host: head.fields["host"], normalizedPath: $0, method: head.method) }
        let ex = Exchange(head: head, policy: policy, route: route)
        self.ex = ex
        setDeadline(.none, 0)
        if ctx.runtime.isDraining { ex.clientKeepAlive = false }
        guard path != nil else { return finishLocal(ex, .badRequest("invalid request target")) }
        guard let route else { return finishLocal(ex, .notFound()) }
        if case .contentLength(let n) = head.framing, n > policy.limits.maxBodyBytes {
            return finishLocal(ex, LocalResponse(status: 413, error: "payload_too_large",
                                                 reason: "request body exceeds \(policy.limits.maxBodyBytes) bytes", close: true))
        }
        if head.upgrade != nil && head.fields.values("upgrade").contains(where: { $0.lowercased().contains("websocket") }) {
            // A WebSocket handshake on a route that does not allow it is refused; other Upgrade values are
            // hop-by-hop and simply dropped.
            guard route.websocket else {
                return finishLocal(ex, LocalResponse(status: 403, error: "forbidden", reason: "websocket upgrades are not enabled on route \(route.name)"))
            }
            if ctx.runtime.activeTunnels >= policy.limits.maxTunnels {
                return finishLocal(ex, LocalResponse(status: 503, error: "service_unavailable", reason: "too many websocket tunnels"))
            }
            ex.isWebSocket = true
        }
        // Authenticate and authorize (DESIGN.md §1): the route's token sources, verifier and claims rules.
        if let auth = route.auth {
            ctx.tokenCache.synchronize(generation: UInt64(policy.generation))
            switch auth.authenticate(head, now: wallClockSeconds(), cache: &ctx.tokenCache) {
            case .deny(let d):
                return deny(ex, d)
            case .needBody(_, let index):
                var tooLarge = false
                if case .contentLength(let n) = head.framing, n > UInt64(policy.limits.maxAuthBodyBytes) { tooLarge = true }
                let contentType = head.fields["content-type"]?.lowercased()
                let notJSON = contentType.map { !$0.contains("json") } ?? false
                if (tooLarge || notJSON) && auth.hasSources(after: index) {
                    // This body cannot carry the token (an upload, a form): the later sources decide, and the
                    // body streams through untouched.
                    return authenticateWithoutBody(ex, auth)
                }
                if tooLarge {
                    ex.authOutcome = "malformed"
                    return finishLocal(ex, LocalResponse(status: 413, error: "payload_too_large",
                                                         reason: "a body that carries the token may not exceed \(policy.limits.maxAuthBodyBytes) bytes", close: true))
                }
                ex.authBodyIndex = index
                ex.authBody = []
                if head.expectContinue && head.version == .http11 {
                    ex.sentContinue = true
                    conn.write(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
                }
                return   // the body is read (bounded) by the parse loop, then `authenticateWithBody`
            case .allow(let g):
                grant(ex, g)
            case .socketIO(let field):
                ex.socketIOField = field
                ex.authOutcome = "socketio_pending"
                if !ex.isWebSocket, TokenExtractor.queryValue(head.target, name: "transport") == "polling",
                   let sid = TokenExtractor.queryValue(head.target, name: "sid"), !sid.isEmpty {
                    ex.pollSid = sid
                    if answerRefusedPoll(ex) { return }
                    if head.method == "GET" { ctx.runtime.pollStarted(sid, self, queue: ctx.loop.queue) }
                }
                if !ex.isWebSocket && head.method == "POST" && head.framing != .none {
                    // An Engine.IO polling POST may carry the CONNECT: read it (bounded) and look.
                    if case .contentLength(let n) = head.framing, n > UInt64(policy.limits.maxAuthBodyBytes) {
                        ex.pollingGate = PollingConnectGate()
                        return beginForward(ex)
                    }
                    ex.authBodyIndex = -1
                    ex.authBody = []
                    return
                }
            }
        }
        beginForward(ex)
    }

    private func grant(_ ex: Exchange, _ g: AuthGrant) {
        ex.grant = g
        ex.authOutcome = "allowed"
        ex.subject = g.token.subject
    }

    private func deny(_ ex: Exchange, _ d: AuthDenial) {
        ex.authOutcome = d.outcome
        var extra = HTTPFields()
        if let w = d.wwwAuthenticate { extra.append("WWW-Authenticate", w) }
        finishLocal(ex, LocalResponse(status: d.status, error: d.error, reason: d.outcome, extraFields: extra))
    }

    /// The body cannot carry the token (too large, or not JSON while later sources exist): the other sources
    /// decide, and the body streams through.
    private func authenticateWithoutBody(_ ex: Exchange, _ auth: RouteAuth) {
        switch auth.authenticate(ex.head, now: wallClockSeconds(), cache: &ctx.tokenCache, skippingBody: true) {
        case .deny(let d): return deny(ex, d)
        case .allow(let g): grant(ex, g)
        case .needBody, .socketIO: return deny(ex, AuthDenial(status: 400, outcome: "malformed", error: "bad_request", wwwAuthenticate: nil))
        }
        beginForward(ex)
    }

    /// The whole body has been read for a `{ body: FIELD }` token source.
    private func authenticateWithBody(_ ex: Exchange) {
        guard let auth = ex.route?.auth, let body = ex.authBody, let index = ex.authBodyIndex else { return }
        ex.authBodyIndex = nil
        if let field = ex.socketIOField {
            // Engine.IO polling payload: packets separated by 0x1E. A socket.io CONNECT among them must carry a
            // token the route accepts; packets without a CONNECT pass.
            // Anything that does not parse is refused rather than passed on unread: the upstream's parser might
            // find a CONNECT in it that ours did not.
            guard parsePollingPayload(body) != nil else {
                return deny(ex, AuthDenial(status: 400, outcome: "malformed", error: "bad_request", wwwAuthenticate: nil))
            }
            // Every CONNECT in the payload must carry an accepted token (a valid one first does not let a
            // second, forged one through).
            for packet in parsePollingPayload(body) ?? [] {
                guard let connect = socketIOConnect(fromEngineMessage: packet.encoded) else { continue }
                let token = connect.auth.flatMap { jsonStringField($0, field) } ?? nil
                guard let token else { return refuseConnectInSession(ex, auth.denialForSocketIO(.missing), namespace: connect.namespace) }
                switch auth.verify(token, now: wallClockSeconds(), cache: &ctx.tokenCache) {
                case .failure(let d): return refuseConnectInSession(ex, d, namespace: connect.namespace)
                case .success(let t): ex.authOutcome = "allowed"; ex.subject = t.subject
                }
            }
            return beginForward(ex)
        }
        switch auth.authenticate(ex.head, now: wallClockSeconds(), cache: &ctx.tokenCache, body: body, bodyIndex: index) {
        case .deny(let d): return deny(ex, d)
        case .needBody, .socketIO: return deny(ex, AuthDenial(status: 400, outcome: "malformed", error: "bad_request", wwwAuthenticate: nil))
        case .allow(let g): grant(ex, g)
        }
        beginForward(ex)
    }

    /// A CONNECT in a polling POST was refused. As a socket.io server does, the client hears it as a
    /// CONNECT_ERROR packet (`44{"message":"not authorized"}`) on its pending or next GET poll, and the session
    /// ends: the payload is replaced by an Engine.IO close packet (`1`) for the upstream, which ends its session
    /// (releasing a GET it holds, whose answer the gateway replaces) and answers the POST (`ok`). The upstream
    /// never sees the CONNECT. Without a session id there is no poll to answer: plain HTTP refusal.
    private func refuseConnectInSession(_ ex: Exchange, _ d: AuthDenial, namespace: String) {
        guard let sid = ex.pollSid else { return deny(ex, d) }
        ex.authOutcome = d.outcome
        ctx.runtime.refuseSocketIO(sid: sid, packet: socketIOConnectError(namespace: namespace, message: "not authorized"))
        ex.replacementBody = [0x31]
        beginForward(ex)
    }

    /// A GET poll of an Engine.IO session whose CONNECT was refused carries the CONNECT_ERROR packet (taken
    /// once) instead of going to, or coming from, the upstream. True when `ex` was answered so.
    private func answerRefusedPoll(_ ex: Exchange) -> Bool {
        guard let sid = ex.getPollSid, !ex.responseStarted, let packet = ctx.runtime.takeRefusedSocketIO(sid) else { return false }
        ex.authOutcome = "socketio_refused"
        finishLocal(ex, .engineIOPayload(packet))
        return true
    }

    /// The runtime says this session's Engine.IO session had its CONNECT refused while this GET poll is held at
    /// the upstream: answer the poll now (the upstream connection is closed).
    func refusedWhilePolling(_ sid: String) {
        guard !closed, let ex, ex.getPollSid == sid else { return }
        _ = answerRefusedPoll(ex)
    }

    /// Builds the upstream request head (and, after a body-token read, the body) and sends it.
    private func beginForward(_ ex: Exchange) {
        guard let route = ex.route else { return }
        let head = ex.head
        let policy = ex.policy
        let group = policy.upstreams[route.upstream]
        guard !group.servers.isEmpty else { return finishLocal(ex, .badGateway("upstream \(group.name) has no servers")) }
        let server = group.servers[ctx.nextServer(route.upstream, count: group.servers.count)]
        ex.server = server
        ex.serverKey = server.key
        var target = ex.grant?.target ?? head.target
        var prefix: String? = nil
        if let sp = route.stripPrefix, target.hasPrefix(sp) {
            target = String(target.dropFirst(sp.count))
            if !target.hasPrefix("/") { target = "/" + target }
            prefix = sp
        }
        var remove = route.removeHeaders
        if let g = ex.grant {
            remove += g.removeHeaders
            if g.cookies != nil { remove.append("cookie") }
        }
        var fields = Rewrite.requestFields(head, peer: conn.peerAddress, trustedPeer: policy.trustedProxies.contains(conn.peerAddress),
                                           removing: remove, forwardedPrefix: prefix)
        if let g = ex.grant {
            for c in g.cookies ?? [] { fields.append("Cookie", c) }
            for (n, v) in g.addHeaders { fields.append(n, v) }
        }
        if ex.isWebSocket {
            // Rebuilt, not copied: Connection/Upgrade are hop-by-hop; token-carrying subprotocol entries are removed.
            let prefixes = route.auth?.subprotocolPrefixes ?? []
            let offered = head.fields.values("sec-websocket-protocol").flatMap { $0.split(separator: ",") }
                .map { String($0.trimmingSpaces()) }.filter { !$0.isEmpty }
            ex.tokenProtocolEntry = offered.first { o in prefixes.contains { o.hasPrefix($0) } }
            ex.offeredProtocols = offered.filter { o in !prefixes.contains { o.hasPrefix($0) } }
            fields.remove("sec-websocket-protocol")
            if !ex.offeredProtocols.isEmpty { fields.append("Sec-WebSocket-Protocol", ex.offeredProtocols.joined(separator: ", ")) }
            fields.append("Connection", "Upgrade")
            fields.append("Upgrade", "websocket")
        }
        if case .chunked = head.framing {
            ex.requestChunked = true
            fields.append("Transfer-Encoding", "chunked")
        }
        if let r = ex.replacementBody {
            ex.authBody = r
            ex.authTrailers = HTTPFields()
            if !ex.requestChunked {
                fields.remove("content-length")
                fields.append("Content-Length", String(r.count))
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(512)
        Rewrite.appendHead(requestLine: head.method, target, fields: fields, into: &bytes)
        if let body = ex.authBody {
            // The body was read to find the token: it follows the head with its original framing.
            if ex.requestChunked {
                if !body.isEmpty {
                    Rewrite.appendHex(body.count, into: &bytes); bytes += [0x0D, 0x0A]; bytes += body; bytes += [0x0D, 0x0A]
                }
                if ex.requestDone {
                    bytes += [0x30, 0x0D, 0x0A]
                    Rewrite.appendFields(Rewrite.trailerFields(ex.authTrailers), into: &bytes)
                    bytes += [0x0D, 0x0A]
                }
            } else {
                bytes += body
            }
            ex.authBody = nil
        }
        ex.upstreamHead = bytes
        ex.forwardStart = monotonicNanos()
        if !ex.sentContinue && head.expectContinue && head.framing != .none && head.version == .http11 && !ex.requestDone {
            ex.sentContinue = true
            conn.write(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
        }
        ex.respParser.expectResponse(toMethod: head.method)
        attachUpstream(ex, allowPooled: true)
    }

    private func upstreamTimeout(_ ex: Exchange) -> UInt64 { ex.route?.upstreamTimeout ?? ex.policy.limits.upstreamTimeout }

    private func attachUpstream(_ ex: Exchange, allowPooled: Bool) {
        guard let server = ex.server else { return }
        if allowPooled, let u = ctx.pool.take(ex.serverKey) {
            u.owner = self
            ex.upstream = u
            u.deadline = monotonicNanos() &+ upstreamTimeout(ex)
            u.conn.write(ex.upstreamHead)
            return
        }
        guard let u = ctx.pool.connect(server, key: ex.serverKey, owner: self, connectTimeout: ex.policy.limits.upstreamConnectTimeout) else {
            ctx.metrics.upstreamErrors["refused", default: 0] &+= 1
            return upstreamFailed(ex, .badGateway("cannot connect to upstream \(ex.serverKey)"))
        }
        ex.upstream = u
    }

    func upstreamConnected(_ u: UpstreamConn) {
        guard let ex, ex.upstream === u else { return }
        u.deadline = monotonicNanos() &+ upstreamTimeout(ex)
        u.conn.write(ex.upstreamHead)
        if !ex.requestDone { processBuffered() }
    }

    private func forwardBody(_ ex: Exchange, _ bytes: UnsafeRawBufferPointer) {
        ex.requestBodyBytes += UInt64(bytes.count)
        if ex.collectingAuthBody {
            if ex.requestBodyBytes > UInt64(ex.policy.limits.maxAuthBodyBytes) {
                if let auth = ex.route?.auth, let index = ex.authBodyIndex, ex.socketIOField == nil, auth.hasSources(after: index) {
                    // Larger than a token-carrying body may be (chunked, so unknown up front): the later
                    // sources decide; what was read goes first, the rest streams.
                    ex.authBodyIndex = nil
                    ex.authBody?.append(contentsOf: bytes)
                    return authenticateWithoutBody(ex, auth)
                }
                if ex.socketIOField != nil, var collected = ex.authBody {
                    // A polling payload larger than we read whole: stream it, holding CONNECT records back.
                    collected.append(contentsOf: bytes)
                    var gate = PollingConnectGate()
                    var out: [UInt8] = []
                    let ok = collected.withUnsafeBytes { gate.feed($0, forward: { out.append(contentsOf: $0) }, check: { checkPollingConnect(ex, $0) }) }
                    if !ok { return refusePollingConnect(ex) }
                    ex.pollingGate = gate
                    ex.authBodyIndex = nil
                    ex.authBody = out
                    return beginForward(ex)
                }
                ex.authOutcome = "malformed"
                return finishLocal(ex, LocalResponse(status: 413, error: "payload_too_large",
                                                     reason: "a body that carries the token may not exceed \(ex.policy.limits.maxAuthBodyBytes) bytes", close: true))
            }
            ex.authBody?.append(contentsOf: bytes)
            setDeadline(.body, ex.policy.limits.idleTimeout)
            return
        }
        if ex.requestBodyBytes > ex.policy.limits.maxBodyBytes {
            if ex.responseStarted { conn.abort(); return }
            return finishLocal(ex, LocalResponse(status: 413, error: "payload_too_large",
                                                 reason: "request body exceeds \(ex.policy.limits.maxBodyBytes) bytes", close: true))
        }
        guard let u = ex.upstream else { return }
        // The upstream timeout counts inactivity: a long upload that keeps moving is not cut.
        u.deadline = monotonicNanos() &+ upstreamTimeout(ex)
        if var gate = ex.pollingGate {
            let ok = gate.feed(bytes, forward: { writeBody(ex, u, $0) }, check: { checkPollingConnect(ex, $0) })
            ex.pollingGate = gate
            if !ok { return refusePollingConnect(ex) }
        } else {
            writeBody(ex, u, bytes)
        }
        if !ex.requestDone { setDeadline(.body, ex.policy.limits.idleTimeout) }
    }

    /// Request body bytes to the upstream, in the framing the upstream request uses.
    private func writeBody(_ ex: Exchange, _ u: UpstreamConn, _ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        if ex.requestChunked {
            var h: [UInt8] = []
            Rewrite.appendHex(bytes.count, into: &h); h.append(0x0D); h.append(0x0A)
            u.conn.write(h); u.conn.write(bytes); u.conn.write([0x0D, 0x0A])
        } else {
            u.conn.write(bytes)
        }
    }

    /// A CONNECT record of a streamed polling payload: may it pass?
    private func checkPollingConnect(_ ex: Exchange, _ record: [UInt8]) -> Bool {
        guard let auth = ex.route?.auth, let field = ex.socketIOField,
              let connect = socketIOConnect(fromEngineMessage: String(decoding: record, as: UTF8.self)),
              let token = connect.auth.flatMap({ jsonStringField($0, field) }) ?? nil else {
            ex.authOutcome = "missing"
            return false
        }
        switch auth.verify(token, now: wallClockSeconds(), cache: &ctx.tokenCache) {
        case .success(let t): ex.authOutcome = "allowed"; ex.subject = t.subject; return true
        case .failure(let d): ex.authOutcome = d.outcome; return false
        }
    }

    /// A CONNECT in a streamed polling payload was refused: the upstream gets a truncated request (never the
    /// CONNECT) and the client a 401.
    private func refusePollingConnect(_ ex: Exchange) {
        guard let auth = ex.route?.auth else { return }
        let reason = ex.authOutcome == "allowed" || ex.authOutcome == "socketio_pending" ? "missing" : ex.authOutcome
        deny(ex, auth.denialForSocketIO(AuthOutcome(rawValue: reason) ?? .missing))
    }

    private func requestComplete(_ ex: Exchange, trailers: HTTPFields) {
        ex.requestDone = true
        if wait == .body { setDeadline(.none, 0) }
        if ex.collectingAuthBody {
            ex.authTrailers = trailers
            return authenticateWithBody(ex)
        }
        if var gate = ex.pollingGate, let u = ex.upstream {
            let ok = gate.finish(forward: { writeBody(ex, u, $0) }, check: { checkPollingConnect(ex, $0) })
            ex.pollingGate = gate
            if !ok { ex.requestDone = false; return refusePollingConnect(ex) }
        }
        if ex.requestChunked, let u = ex.upstream {
            var t: [UInt8] = [0x30, 0x0D, 0x0A]
            Rewrite.appendFields(Rewrite.trailerFields(trailers), into: &t)
            t.append(0x0D); t.append(0x0A)
            u.conn.write(t)
        }
    }

    func upstreamDrained(_ u: UpstreamConn) {
        guard let ex, ex.upstream === u, !ex.requestDone else { return }
        u.deadline = monotonicNanos() &+ upstreamTimeout(ex)
        if !inbuf.isEmpty { processBuffered() }
        applyInputBackPressure()
    }

    // MARK: upstream response

    func upstreamRead(_ u: UpstreamConn, _ bytes: UnsafeRawBufferPointer) {
        guard let ex, ex.upstream === u else { u.conn.close(error: 0); return }
        ex.gotUpstreamBytes = true
        u.deadline = monotonicNanos() &+ upstreamTimeout(ex)
        if u.inbuf.isEmpty {
            let used = processUpstream(ex, u, bytes)
            if used < bytes.count, !u.conn.isClosed, self.ex === ex { u.inbuf.append(UnsafeRawBufferPointer(rebasing: bytes[used...])) }
        } else {
            u.inbuf.append(bytes)
            processUpstreamBuffered(u)
        }
    }

    private func processUpstreamBuffered(_ u: UpstreamConn) {
        guard let ex, ex.upstream === u else { return }
        var work = u.inbuf
        u.inbuf = ByteQueue()
        let used = work.withUnsafeBytes { processUpstream(ex, u, $0) }
        work.consume(used)
        if !u.inbuf.isEmpty { u.inbuf.withUnsafeBytes { work.append($0) } }
        u.inbuf = work
    }

    /// Parses upstream bytes for `ex`; returns bytes consumed.
    private func processUpstream(_ ex: Exchange, _ u: UpstreamConn, _ buf: UnsafeRawBufferPointer) -> Int {
        var off = 0
        conn.cork()
        defer { if !conn.isClosed { conn.uncork() } }
        while self.ex === ex && !closed {
            let slice = UnsafeRawBufferPointer(rebasing: buf[off...])
            let event: HTTPParseEvent<HTTPResponseHead>
            do { event = try ex.respParser.parse(slice) } catch {
                upstreamProtocolError(ex, u, "invalid upstream response: \(error.reason)")
                return buf.count
            }
            switch event {
            case .needMore(let c):
                return off + c
            case .head(let h, let c):
                off += c
                if h.status >= 100 && h.status < 200 && h.status != 101 { continue }   // interim: 100 was answered by us
                if h.status == 101 {
                    if ex.isWebSocket { becomeTunnel(ex, u, h, rest: UnsafeRawBufferPointer(rebasing: buf[off...])) }
                    else { upstreamProtocolError(ex, u, "upstream switched protocols for a request that did not ask to") }
                    return buf.count
                }
                // The session's CONNECT was refused meanwhile: the poll the upstream held carries the CONNECT_ERROR
                // instead of whatever the upstream answered on ending the session.
                if answerRefusedPoll(ex) { return buf.count }
                sendResponseHead(ex, h)
            case .body(let r, let c):
                off += c
                sendResponseBody(ex, UnsafeRawBufferPointer(rebasing: slice[r]))
                if conn.pendingOutputBytes >= Self.highWater && !conn.isClosed {
                    ex.upstreamPausedForClient = true
                    u.conn.pauseReading()
                    u.deadline = 0
                    setDeadline(.output, ex.policy.limits.idleTimeout)
                    return off
                }
            case .end(let trailers, let c):
                off += c
                if off < buf.count { ex.upstreamKeepAlive = false }   // bytes past the response: do not reuse
                endResponse(ex, trailers: trailers)
                return off
            }
        }
        return off
    }

    private func sendResponseHead(_ ex: Exchange, _ h: HTTPResponseHead) {
        ex.responseStarted = true
        ex.status = h.status
        ex.upstreamKeepAlive = h.keepAlive
        var fields = Rewrite.responseFields(h)
        let noBody = ex.headOnly || h.status == 204 || h.status == 304
        switch h.framing {
        case .chunked:
            if !noBody { ex.responseChunked = ex.head.version == .http11; if !ex.responseChunked { ex.responseCloseDelimited = true } }
        case .untilClose:
            if ex.head.version == .http11 { ex.responseChunked = true } else { ex.responseCloseDelimited = true }
        case .contentLength, .none: break
        }
        if ex.responseChunked { fields.append("Transfer-Encoding", "chunked") }
        if ex.responseCloseDelimited { ex.clientKeepAlive = false }
        if !ex.requestDone { ex.clientKeepAlive = false }   // the rest of the request body will not be read
        if ctx.runtime.isDraining { ex.clientKeepAlive = false }
        var out: [UInt8] = []
        out.reserveCapacity(256 + fields.count * 32)
        Rewrite.appendStatusLine(h.status, h.reason.isEmpty ? reasonPhrase(for: h.status) : h.reason, into: &out)
        Rewrite.appendFields(fields, into: &out)
        if !ex.clientKeepAlive { out.append(contentsOf: "Connection: close\r\n".utf8) }
        else if ex.head.version == .http10 { out.append(contentsOf: "Connection: keep-alive\r\n".utf8) }
        out.append(0x0D); out.append(0x0A)
        conn.write(out)
    }

    private func sendResponseBody(_ ex: Exchange, _ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        ex.bytesSent += UInt64(bytes.count)
        if ex.responseChunked {
            var h: [UInt8] = []
            Rewrite.appendHex(bytes.count, into: &h); h.append(0x0D); h.append(0x0A)
            conn.write(h); conn.write(bytes); conn.write([0x0D, 0x0A])
        } else {
            conn.write(bytes)
        }
    }

    private func endResponse(_ ex: Exchange, trailers: HTTPFields) {
        if ex.responseChunked {
            var t: [UInt8] = [0x30, 0x0D, 0x0A]
            Rewrite.appendFields(Rewrite.trailerFields(trailers), into: &t)
            t.append(0x0D); t.append(0x0A)
            conn.write(t)
        }
        if let u = ex.upstream { u.deadline = 0 }
        if !ex.requestDone {
            // The upstream answered before the whole request arrived: it cannot be reused.
            ex.upstreamKeepAlive = false
            ex.clientKeepAlive = false
        }
        finishExchange(ex)
    }

    /// The upstream accepted the WebSocket handshake: relay its 101 and turn both connections into a tunnel.
    private func becomeTunnel(_ ex: Exchange, _ u: UpstreamConn, _ h: HTTPResponseHead, rest: UnsafeRawBufferPointer) {
        guard h.fields.values("upgrade").contains(where: { $0.lowercased() == "websocket" }) else {
            return upstreamProtocolError(ex, u, "upstream answered 101 without Upgrade: websocket")
        }
        let chosen = h.fields["sec-websocket-protocol"]
        if let chosen, !ex.offeredProtocols.contains(chosen) {
            return upstreamProtocolError(ex, u, "upstream chose a subprotocol the client did not offer")
        }
        var fields = Rewrite.responseFields(h)
        fields.append("Upgrade", "websocket")
        fields.append("Connection", "Upgrade")
        if chosen == nil, ex.offeredProtocols.isEmpty, let entry = ex.tokenProtocolEntry {
            // Only the token entry was offered: a browser fails a 101 that selects none of its offers.
            fields.append("Sec-WebSocket-Protocol", entry)
        }
        var out: [UInt8] = []
        Rewrite.appendStatusLine(101, "Switching Protocols", into: &out)
        Rewrite.appendFields(fields, into: &out)
        out.append(0x0D); out.append(0x0A)
        conn.write(out)
        ex.status = 101
        ex.responseStarted = true
        log(ex, status: 101)
        let routeAuth = ex.route?.auth
        let tAuth = TunnelAuth(expiresAt: ex.grant?.token.expiresAt, leeway: routeAuth?.leeway ?? 0,
                               grace: routeAuth?.expiryGrace ?? 5, closeOnExpiry: routeAuth?.closeOnExpiry ?? false,
                               socketIOField: ex.socketIOField, route: ex.route)
        let idle = ex.route?.websocketIdleTimeout ?? ex.policy.limits.tunnelIdleTimeout
        u.owner = nil
        u.deadline = 0
        ctx.loop.unregister(u)
        ex.upstream = nil
        self.ex = nil
        setDeadline(.none, 0)
        let t = Tunnel(session: self, client: conn, upstream: u.conn, ctx: ctx, auth: tAuth, idleTimeout: idle)
        tunnel = t
        var clientBytes: [UInt8] = []
        inbuf.withUnsafeBytes { clientBytes.append(contentsOf: $0) }
        inbuf.removeAll()
        t.start(clientBytes: clientBytes, upstreamBytes: Array(rest))
    }

    /// The tunnel closed (or is flushing its last bytes and will close the sockets itself).
    func tunnelEnded() {
        guard !closed else { return }
        closed = true
        tunnel = nil
        ctx.loop.unregister(self)
        ctx.runtime.sessionClosed(self, ctx: ctx)
    }

    func upstreamEOF(_ u: UpstreamConn) {
        guard let ex, ex.upstream === u else { return }
        if ex.responseStarted {
            do {
                if case .end(let t, _)? = try ex.respParser.parseEOF() {
                    ex.upstreamKeepAlive = false
                    conn.cork()
                    endResponse(ex, trailers: t)
                    if !conn.isClosed { conn.uncork() }
                    return
                }
            } catch {}
            // Truncated response: the client must not mistake it for a complete one.
            log(ex, status: ex.status)
            ex.upstream = nil; u.owner = nil; u.conn.close(error: 0)
            self.ex = nil
            conn.abort()
            return
        }
        ctx.metrics.upstreamErrors["reset", default: 0] &+= 1
        upstreamLost(ex, u, reason: "upstream closed the connection before responding")
    }

    func upstreamClosed(_ u: UpstreamConn, error: Int32) {
        guard let ex, ex.upstream === u else { return }
        if ex.responseStarted {
            log(ex, status: ex.status)
            ex.upstream = nil
            self.ex = nil
            conn.abort()
            return
        }
        let refused = !u.connected
        ctx.metrics.upstreamErrors[refused ? "refused" : "reset", default: 0] &+= 1
        upstreamLost(ex, u, reason: refused ? "upstream \(ex.serverKey) refused the connection (\(String(cString: strerror(error))))"
                                            : "upstream reset the connection before responding")
    }

    /// The upstream went away before any response head.
    private func upstreamLost(_ ex: Exchange, _ u: UpstreamConn, reason: String) {
        ex.upstream = nil
        u.owner = nil
        if !u.conn.isClosed { u.conn.close(error: 0) }
        // A pooled connection the upstream had just closed: retry an idempotent, body-less request once.
        if u.reused && !ex.retried && !ex.gotUpstreamBytes && ex.idempotent && ex.head.framing == .none {
            ex.retried = true
            attachUpstream(ex, allowPooled: false)
            return
        }
        upstreamFailed(ex, .badGateway(reason))
    }

    func upstreamTimedOut(_ u: UpstreamConn) {
        guard let ex, ex.upstream === u else { return }
        ex.upstream = nil
        u.owner = nil
        u.conn.close(error: ETIMEDOUT)
        if ex.responseStarted {
            log(ex, status: ex.status)
            self.ex = nil
            conn.abort()
            return
        }
        ctx.metrics.upstreamErrors["timeout", default: 0] &+= 1
        let what = u.connected ? "upstream did not respond within the timeout" : "upstream connect timed out"
        upstreamFailed(ex, .gatewayTimeout(what))
    }

    private func upstreamProtocolError(_ ex: Exchange, _ u: UpstreamConn, _ reason: String) {
        ctx.metrics.upstreamErrors["protocol", default: 0] &+= 1
        ex.upstream = nil
        u.owner = nil
        u.conn.close(error: 0)
        if ex.responseStarted { log(ex, status: ex.status); self.ex = nil; conn.abort(); return }
        upstreamFailed(ex, .badGateway(reason))
    }

    private func upstreamFailed(_ ex: Exchange, _ r: LocalResponse) {
        var r = r
        if !ex.requestDone { r.close = true }
        finishLocal(ex, r)
    }

    // MARK: finishing

    /// Answers `ex` locally and finishes it.
    private func finishLocal(_ ex: Exchange, _ r: LocalResponse) {
        if let u = ex.upstream { ex.upstream = nil; u.owner = nil; u.conn.close(error: 0) }
        var r = r
        // A body we did not read makes the connection unusable.
        if !ex.requestDone && ex.head.framing != .none { r.close = true }
        if ctx.runtime.isDraining { r.close = true }
        ex.status = r.status
        ex.clientKeepAlive = ex.clientKeepAlive && !r.close
        let bytes = r.serialize(keepAlive: ex.clientKeepAlive, headRequest: ex.headOnly)
        ex.bytesSent = UInt64(bytes.count)
        conn.write(bytes)
        ex.requestDone = true
        ex.upstreamKeepAlive = false
        finishExchange(ex)
    }

    /// A response with no exchange (parse errors, header timeout).
    private func respondLocal(_ r: LocalResponse, head: HTTPRequestHead?) {
        closing = true
        conn.write(r.serialize(keepAlive: false))
        conn.closeAfterFlush()
        ex = nil
        inbuf.removeAll()
    }

    /// Ends `ex`: the upstream goes back to the pool or is closed, the line is logged, and the connection either
    /// waits for the next request or closes. A response that ends before its request was read closes the connection.
    private func finishExchange(_ ex: Exchange) {
        guard self.ex === ex else { return }
        if let sid = ex.getPollSid { ctx.runtime.pollEnded(sid, self) }
        if !ex.requestDone { ex.clientKeepAlive = false }
        self.ex = nil
        requestsServed += 1
        if let u = ex.upstream {
            ex.upstream = nil
            if ex.upstreamKeepAlive && ex.requestDone && !u.conn.isClosed { ctx.pool.put(u) } else { u.owner = nil; u.conn.close(error: 0) }
        }
        log(ex, status: ex.status)
        if !ex.clientKeepAlive || closed {
            closing = true
            conn.closeAfterFlush()
            return
        }
        parser.reset()
        setDeadline(.idle, ex.policy.limits.idleTimeout)
        if conn.isReadingPaused && !inputPausedForBuffer { conn.resumeReading() }
        if !inbuf.isEmpty {
            if processing { return }   // the running parse loop continues with the next request
            let box = UncheckedBox(self)
            ctx.loop.deferUntilIdle { box.value.continuePipeline() }
        }
    }

    private func continuePipeline() {
        guard !closed, ex == nil, !inbuf.isEmpty else { return }
        if wait == .idle { setDeadline(.header, ctx.runtime.policy.limits.headerTimeout) }
        processBuffered()
        applyInputBackPressure()
    }

    private func log(_ ex: Exchange, status: Int) {
        let now = monotonicNanos()
        let route = ex.route?.name ?? ""
        ctx.metrics.requests[RouteStatus(route: route, status: status), default: 0] &+= 1
        if ex.route?.auth != nil { ctx.metrics.authOutcomes[RouteReason(route: route, reason: ex.authOutcome), default: 0] &+= 1 }
        ctx.metrics.requestDuration[route, default: Histogram()].observe(Double(now &- ex.startMono) / 1e9)
        if ex.forwardStart != 0 && ex.responseStarted { ctx.metrics.upstreamDuration.observe(Double(now &- ex.forwardStart) / 1e9) }
        guard ex.policy.accessLog else { return }
        ctx.log.write(AccessRecord(
            time: ex.startWall, route: ex.route?.name ?? "", method: ex.head.method,
            path: redactedTarget(ex.head.target, route: ex.route), status: status, bytesSent: ex.bytesSent,
            durationMs: Double(now &- ex.startMono) / 1e6, upstream: ex.serverKey,
            auth: ex.authOutcome, subject: ex.subject, peer: conn.peerAddress))
    }

    /// Token-bearing query parameters never reach the log: the route's and the usual names.
    static let alwaysRedacted = ["access_token", "token", "jwt", "id_token", "auth", "authorization"]
    private func redactedTarget(_ target: String, route: CompiledRoute?) -> String {
        guard target.utf8.contains(UInt8(ascii: "?")) else { return target }
        return TokenExtractor.redactingQueryParameters(target, names: Self.alwaysRedacted + (route?.auth?.queryNames ?? []))
    }
}
