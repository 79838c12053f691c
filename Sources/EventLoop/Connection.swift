import Dispatch
import CSystem
import Glibc

/// Receives a connection's events, always on its loop's queue.
public protocol ConnectionDelegate: AnyObject {
    /// Bytes arrived. The buffer is only valid during the call.
    func connectionDidRead(_ connection: Connection, _ bytes: UnsafeRawBufferPointer)
    /// The peer closed its sending side (read returned 0).
    func connectionDidReadEOF(_ connection: Connection)
    /// All pending output was written (fires only after output had been queued).
    func connectionDidDrain(_ connection: Connection)
    /// An outbound connect finished (error == 0) or failed (errno).
    func connectionDidConnect(_ connection: Connection, error: Int32)
    /// The connection is closed; `error` is the errno that closed it, or 0 for an orderly close.
    func connectionDidClose(_ connection: Connection, error: Int32)
}

extension ConnectionDelegate {
    public func connectionDidConnect(_ connection: Connection, error: Int32) {}
}

/// A non-blocking TCP socket driven by DispatchSource read/write sources on its loop's serial queue.
/// Thread-safety: confined to `loop.queue`; every method must be called there.
///
/// Write interest only while output is pending: a write is tried at once; what the kernel does not take is
/// queued and the write source is resumed until the queue drains. Reads can be paused for back-pressure.
public final class Connection: @unchecked Sendable {
    public let fd: Int32
    /// Loops live as long as the process.
    public unowned(unsafe) let loop: EventLoop
    /// Held strongly (a weak reference would put every retain of the delegate on the slow side-table
    /// path); the reference is dropped when the connection closes, which breaks the cycle.
    public var delegate: ConnectionDelegate?
    public let peerAddress: String

    private var readSource: DispatchSourceRead?
    private var writeSource: DispatchSourceWrite?
    private var readSuspended = true      // sources start suspended
    private var writeSuspended = true
    private var pending: [UInt8] = []
    private var pendingOffset = 0
    private var connecting = false
    private var shutdownAfterDrain = false
    private var closeAfterDrain = false
    public private(set) var isClosed = false
    public private(set) var readEOF = false
    private var readPausedByUser = false
    private var cancelledSources = 0
    private var sourcesToCancel = 2
    private var corked = false

    /// Bytes queued but not yet written to the kernel.
    public var pendingOutputBytes: Int { pending.count - pendingOffset }

    public init(fd: Int32, loop: EventLoop, peerAddress: String) {
        self.fd = fd
        self.loop = loop
        self.peerAddress = peerAddress
    }

    /// Creates the sources and starts reading; `connecting` (an outbound connect in progress) also waits for
    /// writability, which reports the connect (on the epoll-set backend, reading starts once connected).
    public func start(connecting: Bool = false) {
        loop.assertOnLoop()
        if let p = loop.poller {
            self.connecting = connecting
            if connecting { writeSuspended = false } else { readSuspended = false }
            registered = true
            p.add(self, events: interest)
            return
        }
        let box = UncheckedBox(self)
        let rs = DispatchSource.makeReadSource(fileDescriptor: fd, queue: loop.queue)
        rs.setEventHandler { box.value.handleReadable() }
        rs.setCancelHandler { box.value.sourceCancelled() }
        readSource = rs
        self.connecting = connecting
        if connecting {
            // The read source is resumed before the write source that reports the connect, so libdispatch
            // installs it first (sources are installed in the order they are resumed from one queue).
            // Its epoll backend keeps one registration per fd and deletes it when the fd reports EPOLLHUP;
            // a source installed after that never fires. Installed first, reading sees every hangup: a
            // refused connect or an upstream's RST. (Installed after the connect event, as before, reading
            // missed an RST that answered the request, and the client got 504 after the response timeout
            // instead of 502.) A write source installed after a hangup is lost instead, which is harmless:
            // the read side reports the connect's outcome (`finishConnect`) and closes.
            readSuspended = false
            rs.resume()
            resumeWrite()
        } else {
            resumeRead()
        }
    }

    // MARK: reading

    private func resumeRead() {
        if registered {
            if readSuspended, !isClosed, !readEOF { readSuspended = false; updateInterest() }
            return
        }
        if readSuspended, !isClosed, !readEOF, let rs = readSource { readSuspended = false; rs.resume() }
    }
    private func suspendRead() {
        if registered {
            if !readSuspended { readSuspended = true; updateInterest() }
            return
        }
        if !readSuspended, let rs = readSource { readSuspended = true; rs.suspend() }
    }

    // MARK: epoll-set backend

    /// Registered with the loop's epoll set instead of owning DispatchSources.
    private var registered = false
    private var hangupParked = false

    private var interest: UInt32 {
        var e: UInt32 = 0
        if !readSuspended { e |= EPOLLIN.rawValue | EPOLLRDHUP.rawValue }
        if !writeSuspended { e |= EPOLLOUT.rawValue }
        return e
    }

    private func updateInterest() {
        guard registered, !isClosed, let p = loop.poller else { return }
        if hangupParked {
            if readSuspended && writeSuspended { return }
            hangupParked = false
            p.add(self, events: interest)
            return
        }
        p.modify(self, events: interest)
    }

    /// Readiness from the loop's epoll set (level-triggered).
    func epollEvent(_ events: UInt32) {
        if isClosed { return }
        let hup = events & (EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0
        if events & EPOLLOUT.rawValue != 0 || (hup && !writeSuspended) { handleWritable() }
        if isClosed { return }
        if events & (EPOLLIN.rawValue | EPOLLRDHUP.rawValue) != 0 || (hup && !readSuspended) { handleReadable() }
        if isClosed { return }
        if hup && readSuspended && writeSuspended, let p = loop.poller {
            // Nothing wants this socket now; level-triggered HUP would fire forever: park it until a resume.
            p.remove(self)
            hangupParked = true
        }
    }

    /// Stops reading until `resumeReading()` (back-pressure).
    public func pauseReading() {
        readPausedByUser = true
        suspendRead()
    }

    public func resumeReading() {
        let wasPaused = readPausedByUser
        readPausedByUser = false
        if !connecting { resumeRead() }
        // A hangup that came while paused is not reported again when the source resumes (see handleReadable).
        if wasPaused && !registered && !connecting { readAgainLater() }
    }

    public var isReadingPaused: Bool { readPausedByUser }

    private func handleReadable() {
        guard !isClosed, !readPausedByUser, !readEOF else { return }
        if connecting { guard finishConnect() else { return } }
        let buf = loop.readBuffer
        var rounds = 0
        while rounds < 4 {
            rounds += 1
            let n = Glibc.read(fd, buf.baseAddress, buf.count)
            if n > 0 {
                delegate?.connectionDidRead(self, UnsafeRawBufferPointer(rebasing: buf[0..<n]))
                if isClosed || readPausedByUser { return }
                // A short read empties the queue for now. The epoll set is level-triggered and reports the
                // rest later; a DispatchSource may not: libdispatch drops the fd from its epoll set when the
                // fd reports EPOLLHUP, so data that came with a RST (or with the FIN that completes a
                // half-close) is the last event the source delivers, and its EOF or error must be read now.
                if n < buf.count && registered { return }
            } else if n == 0 {
                readEOF = true
                suspendRead()
                delegate?.connectionDidReadEOF(self)
                return
            } else {
                let e = errno
                if e == EAGAIN || e == EWOULDBLOCK || e == EINTR { return }
                close(error: e)
                return
            }
        }
        // Four reads are one turn: other connections go first. A DispatchSource may never fire again
        // (above), so it looks again itself.
        if !registered { readAgainLater() }
    }

    /// One more read attempt after the events already queued on this loop (DispatchSource backend only).
    private func readAgainLater() {
        let box = UncheckedBox(self)
        loop.execute { box.value.handleReadable() }
    }

    // MARK: writing

    /// The write source exists only once a write could not finish at once (or a connect is pending):
    /// most connections never need one, and an idle registration costs epoll work on every read event.
    private func resumeWrite() {
        guard !isClosed else { return }
        if registered {
            if writeSuspended { writeSuspended = false; updateInterest() }
            return
        }
        if writeSource == nil {
            let box = UncheckedBox(self)
            let ws = DispatchSource.makeWriteSource(fileDescriptor: fd, queue: loop.queue)
            ws.setEventHandler { box.value.handleWritable() }
            ws.setCancelHandler { box.value.sourceCancelled() }
            writeSource = ws
            writeSuspended = true
        }
        if writeSuspended, let ws = writeSource { writeSuspended = false; ws.resume() }
    }
    private func suspendWrite() {
        if registered {
            if !writeSuspended { writeSuspended = true; updateInterest() }
            return
        }
        if !writeSuspended, let ws = writeSource { writeSuspended = true; ws.suspend() }
    }

    /// Queues bytes for writing; writes at once when nothing is pending.
    public func write(_ bytes: UnsafeRawBufferPointer) {
        guard !isClosed, bytes.count > 0 else { return }
        if corked { append(bytes); return }
        if pendingOutputBytes == 0 && !connecting {
            let n = Glibc.send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
            if n == bytes.count { return }
            if n < 0 {
                let e = errno
                if e != EAGAIN && e != EWOULDBLOCK && e != EINTR { close(error: e); return }
                append(bytes)
            } else {
                append(UnsafeRawBufferPointer(rebasing: bytes[n...]))
            }
        } else {
            append(bytes)
        }
        if !connecting { resumeWrite() }
    }

    public func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { write($0) }
    }

    private func append(_ bytes: UnsafeRawBufferPointer) {
        if pendingOffset > 0 && pendingOffset == pending.count {
            pending.removeAll(keepingCapacity: true); pendingOffset = 0
        }
        pending.append(contentsOf: bytes)
    }

    private func handleWritable() {
        guard !isClosed else { return }
        if connecting {
            guard finishConnect(), pendingOutputBytes > 0 else { return }
        }
        flush()
    }

    /// An outbound connect is done (the first write or read readiness): reports it to the delegate.
    /// Returns whether the connection is still open.
    private func finishConnect() -> Bool {
        connecting = false
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
        if err != 0 {
            delegate?.connectionDidConnect(self, error: err)
            close(error: err)
            return false
        }
        if pendingOutputBytes == 0 { suspendWrite() }
        if !readPausedByUser { resumeRead() }
        delegate?.connectionDidConnect(self, error: 0)
        return !isClosed
    }

    private func flush() {
        while pendingOutputBytes > 0 {
            let n = pending.withUnsafeBytes { p in
                Glibc.send(fd, p.baseAddress! + pendingOffset, p.count - pendingOffset, Int32(MSG_NOSIGNAL))
            }
            if n > 0 {
                pendingOffset += n
            } else {
                let e = errno
                if n < 0 && (e == EAGAIN || e == EWOULDBLOCK || e == EINTR) { resumeWrite(); return }
                close(error: n < 0 ? e : EPIPE)
                return
            }
        }
        pending.removeAll(keepingCapacity: pending.capacity <= 256 * 1024)
        pendingOffset = 0
        suspendWrite()
        if closeAfterDrain { close(error: 0); return }
        if shutdownAfterDrain { shutdownAfterDrain = false; Glibc.shutdown(fd, Int32(SHUT_WR)) }
        delegate?.connectionDidDrain(self)
    }

    /// Collects writes until `uncork()`, so a head and a small body leave in one system call.
    public func cork() { corked = true }

    public func uncork() {
        guard corked else { return }
        corked = false
        if isClosed || connecting || pendingOutputBytes == 0 { return }
        if writeSuspended { flush() }
    }

    /// Half-closes the sending side once pending output is written.
    public func shutdownWrite() {
        guard !isClosed else { return }
        if pendingOutputBytes == 0 { Glibc.shutdown(fd, Int32(SHUT_WR)) } else { shutdownAfterDrain = true }
    }

    /// Closes once pending output is written.
    public func closeAfterFlush() {
        guard !isClosed else { return }
        if pendingOutputBytes == 0 && !connecting { close(error: 0) } else { closeAfterDrain = true }
    }

    // MARK: closing

    /// Closes at once, discarding pending output. The delegate hears `connectionDidClose` once.
    public func close(error: Int32 = 0) {
        guard !isClosed else { return }
        isClosed = true
        pending = []
        pendingOffset = 0
        if registered {
            if !hangupParked { loop.poller?.remove(self) }
            Glibc.close(fd)
        } else if let rs = readSource {
            sourcesToCancel = writeSource == nil ? 1 : 2
            rs.cancel()
            // A suspended source must be resumed for its cancel handler to run (and to be released safely).
            if readSuspended { readSuspended = false; rs.resume() }
            if let ws = writeSource {
                ws.cancel()
                if writeSuspended { writeSuspended = false; ws.resume() }
            }
        } else {
            Glibc.close(fd)
        }
        let d = delegate
        d?.connectionDidClose(self, error: error)
        delegate = nil
    }

    /// Resets the connection (RST) instead of an orderly FIN, e.g. for an aborted response.
    public func abort() {
        guard !isClosed else { return }
        var l = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
        close(error: ECONNRESET)
    }

    private func sourceCancelled() {
        cancelledSources += 1
        if cancelledSources == sourcesToCancel {
            readSource = nil
            writeSource = nil
            Glibc.close(fd)
        }
    }

    // MARK: outbound

    /// Starts a non-blocking connect on `loop`; the delegate hears `connectionDidConnect`.
    public static func connect(to address: SocketAddress, loop: EventLoop, delegate: ConnectionDelegate) throws(SocketError) -> Connection {
        let (fd, done) = try Sock.connect(address)
        let c = Connection(fd: fd, loop: loop, peerAddress: address.host)
        c.delegate = delegate
        c.start(connecting: true)
        _ = done  // even when done at once, the write source fires immediately and reports success
        return c
    }
}
