import GatewayConfig
import Glibc
import HTTPCore
import TLS

/// A one-shot HTTP(S) GET for remote JWKS documents: blocking, bounded in time and size, `Connection: close`.
/// Runs on the key fetcher's own queue, never on an event loop. The response is framed by the same strict
/// parser as upstream responses; only a 200 counts.
public enum RemoteFetch {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        init(_ d: String) { description = d }
    }

    /// The body of a 200 answer to `GET url`. `timeout` bounds the connect and every read and write.
    public static func get(_ url: String, timeout: Double, maxBytes: Int = 1 << 20) throws(Failure) -> [UInt8] {
        guard let t = FetchURL(url) else { throw Failure("not an http(s) URL") }
        let fd = try connect(t.host, String(t.port), timeout: timeout)
        defer { close(fd) }
        let request = Array("GET \(t.requestTarget) HTTP/1.1\r\nHost: \(t.authority)\r\nAccept: application/jwk-set+json, application/json\r\nUser-Agent: portcullis\r\nConnection: close\r\n\r\n".utf8)
        let session: TLSClientSession?
        if t.tls {
            do { session = try TLSClientSession(fd: fd, host: t.host) } catch { throw Failure(error.description) }
        } else {
            session = nil
        }
        func send(_ bytes: [UInt8]) throws(Failure) {
            if let session {
                do { try session.write(bytes) } catch { throw Failure(error.description) }
                return
            }
            var off = 0
            while off < bytes.count {
                let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
                if n <= 0 { throw Failure(n < 0 && errno == EAGAIN ? "timed out sending the request" : "send: \(String(cString: strerror(errno)))") }
                off += n
            }
        }
        func receive() throws(Failure) -> [UInt8] {
            if let session {
                do { return try session.read(max: 16384) } catch { throw Failure(error.description) }
            }
            var buf = [UInt8](repeating: 0, count: 16384)
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 { throw Failure(errno == EAGAIN ? "timed out waiting for the response" : "recv: \(String(cString: strerror(errno)))") }
            return Array(buf[0..<n])
        }
        try send(request)
        var parser = HTTPResponseParser()
        parser.expectResponse(toMethod: "GET")
        var pending: [UInt8] = []
        var status = 0
        var body: [UInt8] = []
        reading: while true {
            // Parse what is buffered; read more when the parser asks for it.
            parsing: while true {
                let ev: HTTPParseEvent<HTTPResponseHead>
                do { ev = try parser.parse(pending) }
                catch { throw Failure("malformed response: \(error)") }
                switch ev {
                case .needMore(let c):
                    pending.removeFirst(c)
                    break parsing
                case .head(let h, let c):
                    pending.removeFirst(c)
                    if h.status >= 200 { status = h.status }
                case .body(let r, let c):
                    body.append(contentsOf: pending[r])
                    pending.removeFirst(c)
                    if body.count > maxBytes { throw Failure("document larger than \(maxBytes) bytes") }
                case .end:
                    break reading
                }
            }
            let more = try receive()
            if more.isEmpty {
                let end: HTTPParseEvent<HTTPResponseHead>?
                do { end = try parser.parseEOF() } catch { throw Failure("connection closed before the response was complete") }
                if end == nil { throw Failure("connection closed without a response") }
                break
            }
            pending.append(contentsOf: more)
            if pending.count > maxBytes + 65536 { throw Failure("response larger than \(maxBytes) bytes") }
        }
        guard status == 200 else { throw Failure("HTTP status \(status)") }
        return body
    }

    /// A blocking TCP connection to host:port, tried address by address, each within `timeout`; the socket
    /// keeps `timeout` as its send and receive timeout.
    static func connect(_ host: String, _ port: String, timeout: Double) throws(Failure) -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var res: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, port, &hints, &res)
        guard rc == 0, let first = res else { throw Failure("cannot resolve \(host): \(String(cString: gai_strerror(rc)))") }
        defer { freeaddrinfo(first) }
        var lastError = "no address"
        var ai: UnsafeMutablePointer<addrinfo>? = first
        let ms = Int32(max(1, timeout * 1000))
        while let a = ai {
            ai = a.pointee.ai_next
            let fd = socket(a.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            if fd < 0 { lastError = String(cString: strerror(errno)); continue }
            var ok = Glibc.connect(fd, a.pointee.ai_addr, a.pointee.ai_addrlen) == 0
            if !ok && errno == EINPROGRESS {
                var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                if poll(&p, 1, ms) == 1 {
                    var err: Int32 = 0
                    var len = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
                    ok = err == 0
                    if !ok { lastError = String(cString: strerror(err)) }
                } else {
                    lastError = "connect timed out"
                }
            } else if !ok {
                lastError = String(cString: strerror(errno))
            }
            if !ok { close(fd); continue }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
            var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1e6))
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            return fd
        }
        throw Failure("cannot connect to \(host):\(port): \(lastError)")
    }
}
