import Dispatch
import Glibc

/// A listening socket whose accepted connections are spread round-robin over the loops.
/// Thread-safety: the accept source runs on the listener's own serial queue; accepted fds are handed
/// to a loop with `queue.async`, and from then on belong to that loop.
public final class Listener: @unchecked Sendable {
    public let address: SocketAddress
    private let fd: Int32
    private let loops: [EventLoop]
    private let queue: DispatchQueue
    private var source: DispatchSourceRead?
    private var next = 0
    private let onAccept: @Sendable (EventLoop, Int32, String) -> Void

    /// Binds at once (so errors surface at start-up); accepting starts with `start()`.
    public init(address: SocketAddress, loops: [EventLoop],
                onAccept: @escaping @Sendable (EventLoop, Int32, String) -> Void) throws(SocketError) {
        self.address = address
        self.loops = loops
        self.onAccept = onAccept
        self.fd = try Sock.listen(address)
        self.queue = DispatchQueue(label: "portcullis.accept.\(address)")
    }

    public nonisolated func start() {
        let box = UncheckedBox(self)
        queue.async {
            let l = box.value
            let s = DispatchSource.makeReadSource(fileDescriptor: l.fd, queue: l.queue)
            s.setEventHandler { box.value.acceptAll() }
            s.setCancelHandler { Glibc.close(box.value.fd) }
            l.source = s
            s.resume()
        }
    }

    /// Stops accepting and closes the socket.
    public func stop() {
        let box = UncheckedBox(self)
        queue.async { if let s = box.value.source { s.cancel() } else { Glibc.close(box.value.fd) }; box.value.source = nil }
    }

    private func acceptAll() {
        for _ in 0..<64 {
            var ss = sockaddr_storage()
            var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let cfd = withUnsafeMutablePointer(to: &ss) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    c_accept4(fd, $0, &len, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
                }
            }
            if cfd < 0 {
                let e = errno
                if e == EINTR || e == ECONNABORTED { continue }
                return   // EAGAIN, or EMFILE: the source fires again later
            }
            Sock.noDelay(cfd)
            let peer = withUnsafePointer(to: &ss) { Sock.addressString($0) }
            let loop = loops[next % loops.count]
            next &+= 1
            let handler = onAccept
            loop.queue.async { handler(loop, cfd, peer) }
        }
    }
}

/// glibc's accept4 is declared only under _GNU_SOURCE, which Swift's Glibc module does not set.
@_silgen_name("accept4")
private func c_accept4(_ fd: Int32, _ addr: UnsafeMutablePointer<sockaddr>?, _ len: UnsafeMutablePointer<socklen_t>?, _ flags: Int32) -> Int32
