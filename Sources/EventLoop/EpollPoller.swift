import Dispatch
import CSystem
import Glibc

/// Which mechanism delivers socket readiness to a loop.
public enum EventBackend: String, Sendable, CaseIterable {
    /// One DispatchSource read source (and, while output is pending, a write source) per socket. The default.
    case dispatchSources = "dispatch"
    /// One DispatchSource per loop, on an epoll set holding the loop's sockets; each firing drains the set.
    /// libdispatch re-arms a source through its manager thread after every handler run (an eventfd wake, two
    /// epoll_ctl calls and a FIONREAD ioctl per event); here that cost is paid once per batch of events.
    case epollSet = "epoll"
}

/// A level-triggered epoll set drained by a DispatchSource read source on the loop's queue.
/// Thread-safety: confined to `loop.queue` (the source handler runs there; Connections call in from there).
final class EpollPoller {
    let epfd: Int32
    private var source: DispatchSourceRead?
    private var table: [Connection?] = []
    private var events = [epoll_event](repeating: epoll_event(), count: 256)

    init() {
        epfd = epoll_create1(Int32(EPOLL_CLOEXEC))
        precondition(epfd >= 0, "epoll_create1 failed")
    }

    func start(on queue: DispatchQueue) {
        let box = UncheckedBox(self)
        let s = DispatchSource.makeReadSource(fileDescriptor: epfd, queue: queue)
        s.setEventHandler { box.value.drain() }
        s.resume()
        source = s
    }

    func add(_ c: Connection, events: UInt32) {
        let fd = Int(c.fd)
        if fd >= table.count { table += [Connection?](repeating: nil, count: max(fd + 1 - table.count, table.count)) }
        table[fd] = c
        var ev = epoll_event()
        ev.events = events
        ev.data.fd = c.fd
        epoll_ctl(epfd, EPOLL_CTL_ADD, c.fd, &ev)
    }

    func modify(_ c: Connection, events: UInt32) {
        var ev = epoll_event()
        ev.events = events
        ev.data.fd = c.fd
        epoll_ctl(epfd, EPOLL_CTL_MOD, c.fd, &ev)
    }

    func remove(_ c: Connection) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, c.fd, nil)
        let fd = Int(c.fd)
        if fd < table.count, table[fd] === c { table[fd] = nil }
    }

    private func drain() {
        for _ in 0..<8 {
            let n = events.withUnsafeMutableBufferPointer { epoll_wait(epfd, $0.baseAddress, Int32($0.count), 0) }
            if n <= 0 { return }
            for i in 0..<Int(n) {
                let ev = events[i]
                let fd = Int(ev.data.fd)
                guard fd < table.count, let c = table[fd] else { continue }
                c.epollEvent(ev.events)
            }
            if n < Int32(events.count) { return }
        }
    }
}
