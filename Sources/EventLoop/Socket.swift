import Glibc

/// A parsed socket address (IPv4 or IPv6) for listen and connect.
public struct SocketAddress: Sendable, CustomStringConvertible {
    public enum Storage: Sendable { case v4(sockaddr_in), v6(sockaddr_in6) }
    public let storage: Storage
    public let host: String
    public let port: Int

    /// Parses a numeric host (IPv4 dotted or IPv6 without brackets) and a port. Empty host = all IPv4 interfaces.
    public init?(host: String, port: Int) {
        guard (0...65535).contains(port) else { return nil }
        let h = host.isEmpty ? "0.0.0.0" : host
        self.host = h; self.port = port
        var a4 = in_addr()
        if inet_pton(AF_INET, h, &a4) == 1 {
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = in_port_t(UInt16(port).bigEndian)
            sin.sin_addr = a4
            storage = .v4(sin); return
        }
        var a6 = in6_addr()
        if inet_pton(AF_INET6, h, &a6) == 1 {
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = in_port_t(UInt16(port).bigEndian)
            sin6.sin6_addr = a6
            storage = .v6(sin6); return
        }
        return nil
    }

    public var family: Int32 { if case .v4 = storage { return AF_INET } else { return AF_INET6 } }
    public var description: String { family == AF_INET6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        switch storage {
        case .v4(var sin):
            return withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        case .v6(var sin6):
            return withUnsafePointer(to: &sin6) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        }
    }
}

public struct SocketError: Error, CustomStringConvertible, Sendable {
    public let call: String
    public let errno: Int32
    public init(_ call: String, _ errno: Int32) { self.call = call; self.errno = errno }
    public var description: String { "\(call): \(String(cString: strerror(errno)))" }
}

enum Sock {
    static func setNonBlocking(_ fd: Int32) {
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
    }
    static func setInt(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) {
        var v = value
        _ = setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size))
    }
    static func noDelay(_ fd: Int32) { setInt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1) }

    /// Textual numeric address of a peer (`127.0.0.1`, `::1`).
    static func addressString(_ ss: UnsafePointer<sockaddr_storage>) -> String {
        var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch Int32(ss.pointee.ss_family) {
        case AF_INET:
            return ss.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p in
                var a = p.pointee.sin_addr
                inet_ntop(AF_INET, &a, &buf, socklen_t(buf.count))
                return String(cString: buf)
            }
        case AF_INET6:
            return ss.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in
                var a = p.pointee.sin6_addr
                inet_ntop(AF_INET6, &a, &buf, socklen_t(buf.count))
                return String(cString: buf)
            }
        default: return "unknown"
        }
    }

    /// A listening, non-blocking socket bound to `address`.
    static func listen(_ address: SocketAddress, backlog: Int32 = 1024) throws(SocketError) -> Int32 {
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw SocketError("socket", errno) }
        setInt(fd, SOL_SOCKET, SO_REUSEADDR, 1)
        if address.family == AF_INET6 { setInt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, 1) }
        let rc = address.withSockAddr { Glibc.bind(fd, $0, $1) }
        guard rc == 0 else { let e = errno; Glibc.close(fd); throw SocketError("bind \(address)", e) }
        guard Glibc.listen(fd, backlog) == 0 else { let e = errno; Glibc.close(fd); throw SocketError("listen \(address)", e) }
        return fd
    }

    /// Starts a non-blocking connect. Returns the fd and whether the connection is already established.
    static func connect(_ address: SocketAddress) throws(SocketError) -> (Int32, Bool) {
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw SocketError("socket", errno) }
        noDelay(fd)
        let rc = address.withSockAddr { Glibc.connect(fd, $0, $1) }
        if rc == 0 { return (fd, true) }
        let e = errno
        if e == EINPROGRESS { return (fd, false) }
        Glibc.close(fd)
        throw SocketError("connect \(address)", e)
    }
}
