import Base64Codec
import ArgumentParser
import Dispatch
import EventLoop
import Glibc
import HTTPCore
import JWT
import Policy
import Proxy

/// `portcullis demo`: a gateway and a small built-in upstream on localhost, a route file written to a
/// temporary directory, tokens minted for every outcome, and the curl commands that show them.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start a gateway and a built-in upstream on localhost and print curl commands that pass and fail.")
    @Option(name: .long, help: "Gateway port (the upstream takes the next one).") var port: Int = 18180
    @Flag(name: .long, help: "Run the commands once, print what they got, and exit (non-zero if one differs).") var check = false

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        var template = Array("/tmp/portcullis-demo.XXXXXX".utf8CString)
        guard let dirPtr = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else { throw ExitCode(1) }
        let dir = String(cString: dirPtr)
        var random = [UInt8](repeating: 0, count: 32)
        _ = getentropy(&random, random.count)
        let secret = random.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
        try writeFile("\(dir)/demo.secret", secret, mode: 0o600)
        let conf = """
        # Written by `portcullis demo`. Try: portcullis check --config \(dir)/gateway.conf
        workers: 1
        listen: [{ address: "127.0.0.1:\(port)" }]
        upstreams:
          demo: { servers: ["http://127.0.0.1:\(port + 1)"] }
        keys:
          demo: { algorithms: [HS256], secret: { file: demo.secret } }
        routes:
          - name: public
            match: { path_prefix: /public/ }
            upstream: demo
            auth: off
          - name: api
            match: { path_prefix: /api/ }
            upstream: demo
            auth:
              keys: [demo]
              tokens: [{ header: Authorization, prefix: "Bearer " }, { query: access_token }]
              issuer: https://id.demo.local
              audience: demo
              claims: [{ claim: role, one_of: [editor, admin] }]
              forward: { token: strip, claims_to_headers: { sub: X-User-Id } }

        """
        let confPath = "\(dir)/gateway.conf"
        try writeFile(confPath, conf, mode: 0o644)
        let (policy, diags) = loadPolicy(path: confPath, generation: 1)
        for d in diags { eprint(d.description) }
        guard let policy else { throw ExitCode(1) }

        let upstreamLoop = EventLoop(index: 0)
        upstreamLoop.start()
        let upstream = try DemoUpstream(port: port + 1, loop: upstreamLoop)
        upstream.start()
        let runtime = ProxyRuntime(policy: policy, workers: 1)
        try runtime.start()

        let signer = try TokenSigner(algorithm: .HS256, secret: Array(secret.utf8))
        let now = wallClockSeconds().rounded(.down)
        func mint(_ extra: [(String, JSONValue)], iss: String = "https://id.demo.local", aud: String = "demo", exp: Double = 600) throws -> String {
            var c: [(String, JSONValue)] = [("iss", .string(iss)), ("aud", .string(aud)), ("sub", "alice"), ("iat", .number(now)),
                                            ("exp", .number(now + exp)), ("role", "editor")]
            for (k, v) in extra { c.removeAll { $0.0 == k }; c.append((k, v)) }
            return try signer.sign(claims: .object(c))
        }
        let good = try mint([])
        var tampered = Array(good.utf8)
        tampered[tampered.count - 2] = tampered[tampered.count - 2] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        let none = Base64.encodeURL(Array(#"{"alg":"none","typ":"JWT"}"#.utf8)) + "." + good.split(separator: ".")[1] + "."
        let base = "http://127.0.0.1:\(port)"
        let cases: [(String, String, Int, String)] = [
            ("public route, no token", "curl -s \(base)/public/hello", 200, ""),
            ("valid token", "curl -s -H 'Authorization: Bearer \(good)' \(base)/api/me", 200, good),
            ("valid token in the query (removed before forwarding)", "curl -s '\(base)/api/me?access_token=\(good)&x=1'", 200, ""),
            ("no token", "curl -si \(base)/api/me", 401, ""),
            ("expired", "curl -si -H 'Authorization: Bearer \(try mint([], exp: -120))' \(base)/api/me", 401, ""),
            ("wrong audience", "curl -si -H 'Authorization: Bearer \(try mint([], aud: "other"))' \(base)/api/me", 401, ""),
            ("wrong issuer", "curl -si -H 'Authorization: Bearer \(try mint([], iss: "https://evil.example"))' \(base)/api/me", 401, ""),
            ("bad signature", "curl -si -H 'Authorization: Bearer \(String(decoding: tampered, as: UTF8.self))' \(base)/api/me", 401, ""),
            ("alg none", "curl -si -H 'Authorization: Bearer \(none)' \(base)/api/me", 401, ""),
            ("claim refused (role guest)", "curl -si -H 'Authorization: Bearer \(try mint([("role", "guest")]))' \(base)/api/me", 403, ""),
            ("spoofed identity header is removed", "curl -s -H 'X-User-Id: mallory' -H 'Authorization: Bearer \(good)' \(base)/api/me", 200, ""),
            ("no route", "curl -si \(base)/nowhere", 404, ""),
        ]
        print("""
        Portcullis demo
          gateway   http://127.0.0.1:\(port)   (route file: \(confPath))
          upstream  http://127.0.0.1:\(port + 1)   (built in: answers with what it received)

        """)
        var failures = 0
        for (title, cmd, want, _) in cases {
            print("# \(title): expect \(want)")
            print(cmd)
            let got = Demo.status(of: cmd, port: port)
            if got.status == want {
                print("  -> \(got.status) \(got.summary)\n")
            } else {
                failures += 1
                print("  -> UNEXPECTED \(got.status) \(got.summary)\n")
            }
        }
        if check {
            runtime.flushLogs()
            if failures > 0 { eprint("demo: \(failures) command(s) did not give the expected status"); throw ExitCode(1) }
            print("demo: all \(cases.count) commands gave the expected status")
            throw ExitCode.success
        }
        print("Access log lines appear below. Press Ctrl-C to stop.\n")
        dispatchMain()
    }

    func writeFile(_ path: String, _ text: String, mode: mode_t) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw ValidationError("cannot write \(path)") }
        defer { close(fd) }
        _ = text.withCString { write(fd, $0, strlen($0)) }
    }

    /// Replays one of the curl commands with a tiny blocking client (no curl needed).
    static func status(of cmd: String, port: Int) -> (status: Int, summary: String) {
        // Extract the URL and -H headers from the command we printed.
        var headers: [String] = []
        var url = ""
        var rest = Substring(cmd)
        while let r = rest.range(of: "-H '") {
            let after = rest[r.upperBound...]
            guard let end = after.firstIndex(of: "'") else { break }
            headers.append(String(after[..<end]))
            rest = after[after.index(after: end)...]
        }
        if let r = cmd.range(of: "http://", options: .backwards) {
            url = String(cmd[r.lowerBound...]).trimmingCharacters(in: "'")
        }
        let pathStart = url.dropFirst("http://".count).firstIndex(of: "/") ?? url.endIndex
        let target = String(url[pathStart...])
        var req = "GET \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for h in headers { req += h + "\r\n" }
        req += "\r\n"
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr)
        let ok = withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard ok == 0 else { return (0, "connect failed") }
        _ = req.withCString { send(fd, $0, strlen($0), 0) }
        var resp: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 8192)
        while true {
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { break }
            resp += buf[0..<n]
        }
        let text = String(decoding: resp, as: UTF8.self)
        let status = Int(text.split(separator: " ", maxSplits: 2).dropFirst().first ?? "") ?? 0
        let body = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
        var summary = body.trimmingCharacters(in: " \r\n")
        if let w = text.split(separator: "\r\n").first(where: { $0.lowercased().hasPrefix("www-authenticate:") }) {
            summary = String(w) + "  " + summary
        }
        return (status, summary)
    }
}

/// The demo's upstream: answers every request with a JSON echo of what it received.
/// Thread-safety: everything runs on `loop`'s queue.
final class DemoUpstream: @unchecked Sendable {
    let loop: EventLoop
    let listener: Listener
    var conns: [ObjectIdentifier: DemoConn] = [:]

    init(port: Int, loop: EventLoop) throws {
        self.loop = loop
        var me: DemoUpstream? = nil
        let box = UncheckedBox({ me })
        listener = try Listener(address: SocketAddress(host: "127.0.0.1", port: port)!, loops: [loop]) { loop, fd, peer in
            guard let up = box.value() else { close(fd); return }
            let c = Connection(fd: fd, loop: loop, peerAddress: peer)
            let d = DemoConn(conn: c, owner: up)
            up.conns[ObjectIdentifier(d)] = d
            c.delegate = d
            c.start()
        }
        me = self
        _ = me
    }

    nonisolated func start() { listener.start() }
}

final class DemoConn: ConnectionDelegate {
    let conn: Connection
    unowned let owner: DemoUpstream
    var parser = HTTPRequestParser()
    var buf: [UInt8] = []
    var head: HTTPRequestHead?

    init(conn: Connection, owner: DemoUpstream) { self.conn = conn; self.owner = owner }

    func connectionDidRead(_ connection: Connection, _ bytes: UnsafeRawBufferPointer) {
        buf.append(contentsOf: bytes)
        while true {
            let ev: HTTPParseEvent<HTTPRequestHead>
            do { ev = try buf.withUnsafeBytes { try parser.parse($0) } } catch { conn.close(); return }
            switch ev {
            case .needMore(let c): buf.removeFirst(c); return
            case .head(let h, let c): head = h; buf.removeFirst(c)
            case .body(_, let c): buf.removeFirst(c)
            case .end(_, let c):
                buf.removeFirst(c)
                respond()
                parser.reset()
            }
        }
    }

    func respond() {
        guard let h = head else { return }
        func q(_ s: String?) -> String { s.map { "\"" + $0.replacingAll("\"", "'") + "\"" } ?? "null" }
        let body = "{\"upstream\":\"demo\",\"method\":\(q(h.method)),\"target\":\(q(h.target)),\"x-user-id\":\(q(h.fields["x-user-id"])),"
            + "\"authorization_forwarded\":\(h.fields["authorization"] != nil)}\n"
        let resp = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
        conn.write(Array(resp.utf8))
    }

    func connectionDidReadEOF(_ connection: Connection) { conn.closeAfterFlush() }
    func connectionDidDrain(_ connection: Connection) {}
    func connectionDidClose(_ connection: Connection, error: Int32) { owner.conns.removeValue(forKey: ObjectIdentifier(self)) }
}

extension String {
    func replacingAll(_ a: Character, _ b: Character) -> String { String(map { $0 == a ? b : $0 }) }
}
