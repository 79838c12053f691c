import COpenSSL

/// A TLS client session over an already connected, blocking socket: used to fetch remote JWKS (DESIGN.md §4
/// `jwks: { url: https://… }`). The peer's certificate is verified against the system trust store
/// (OpenSSL's default paths; `SSL_CERT_FILE` / `SSL_CERT_DIR` override them) and the URL's host name; TLS 1.2
/// is the minimum. Not for the data path: a blocking session belongs on a background queue.
public final class TLSClientSession {
    private let ctx: OpaquePointer
    private let ssl: OpaquePointer

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Performs the handshake on `fd` (connected, blocking, with send/receive timeouts set).
    public init(fd: Int32, host: String) throws(Failure) {
        guard let ctx = SSL_CTX_new(TLS_client_method()) else { throw Failure(description: "SSL_CTX_new: \(Self.drainErrors())") }
        _ = portcullis_SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
        if SSL_CTX_set_default_verify_paths(ctx) != 1 {
            SSL_CTX_free(ctx)
            throw Failure(description: "cannot load the system trust store: \(Self.drainErrors())")
        }
        guard let ssl = SSL_new(ctx) else {
            SSL_CTX_free(ctx)
            throw Failure(description: "SSL_new: \(Self.drainErrors())")
        }
        self.ctx = ctx
        self.ssl = ssl
        let isAddress = host.contains(":") || host.allSatisfy { $0.isNumber || $0 == "." }
        if !isAddress { _ = portcullis_SSL_set_tlsext_host_name(ssl, host) }
        let ok = isAddress ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) : SSL_set1_host(ssl, host)
        guard ok == 1 else { throw Failure(description: "cannot set the expected peer name \"\(host)\"") }
        SSL_set_fd(ssl, fd)
        if SSL_connect(ssl) != 1 {
            let verify = SSL_get_verify_result(ssl)
            if verify != X509_V_OK {
                let text = X509_verify_cert_error_string(verify).map { String(cString: $0) } ?? "code \(verify)"
                _ = Self.drainErrors()
                throw Failure(description: "TLS handshake with \(host) failed: certificate verification: \(text)")
            }
            throw Failure(description: "TLS handshake with \(host) failed: \(Self.drainErrors())")
        }
    }

    deinit {
        SSL_free(ssl)
        SSL_CTX_free(ctx)
    }

    /// Writes all of `bytes`.
    public func write(_ bytes: [UInt8]) throws(Failure) {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { SSL_write(ssl, $0.baseAddress! + off, Int32($0.count - off)) }
            if n <= 0 { throw Failure(description: "TLS write failed: \(Self.drainErrors())") }
            off += Int(n)
        }
    }

    /// Reads up to `max` bytes; an empty array means the peer closed the session.
    public func read(max: Int) throws(Failure) -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: max)
        let n = buf.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32($0.count)) }
        if n > 0 { return Array(buf[0..<Int(n)]) }
        let e = SSL_get_error(ssl, n)
        if e == SSL_ERROR_ZERO_RETURN { return [] }
        // A peer that closes the TCP connection without close_notify after a complete response: treat as EOF;
        // the HTTP framing (Content-Length or chunked) tells whether the body was complete.
        if e == SSL_ERROR_SYSCALL || (e == SSL_ERROR_SSL && ERR_peek_error() != 0 && Self.isUnexpectedEOF()) {
            _ = Self.drainErrors()
            return []
        }
        throw Failure(description: "TLS read failed: \(Self.drainErrors())")
    }

    private static func isUnexpectedEOF() -> Bool {
        let e = ERR_peek_error()
        return ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING
    }

    /// Empties OpenSSL's error queue into one line.
    static func drainErrors() -> String {
        var parts: [String] = []
        while true {
            let e = ERR_get_error()
            if e == 0 { break }
            var buf = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(e, &buf, buf.count)
            parts.append(String(cString: buf))
        }
        return parts.isEmpty ? "unknown error" : parts.joined(separator: "; ")
    }
}
