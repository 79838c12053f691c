import HTTPCore

/// A response the gateway makes itself (DESIGN.md §4): JSON `{"error": ..., "reason": ...}`.
public struct LocalResponse: Sendable {
    public var status: Int
    public var error: String
    public var reason: String
    public var extraFields: HTTPFields
    public var close: Bool
    /// A body other than the JSON error (with its content type), e.g. an Engine.IO payload.
    var payload: (contentType: String, bytes: [UInt8])? = nil

    public init(status: Int, error: String, reason: String, extraFields: HTTPFields = HTTPFields(), close: Bool = false) {
        self.status = status; self.error = error; self.reason = reason; self.extraFields = extraFields; self.close = close
    }

    /// An Engine.IO long-polling answer carrying `packet` (e.g. a socket.io CONNECT_ERROR).
    static func engineIOPayload(_ packet: String) -> LocalResponse {
        var r = LocalResponse(status: 200, error: "", reason: "")
        r.payload = ("text/plain; charset=UTF-8", Array(packet.utf8))
        return r
    }

    static func notFound() -> LocalResponse { LocalResponse(status: 404, error: "not_found", reason: "no route matches this request") }
    static func badRequest(_ reason: String) -> LocalResponse { LocalResponse(status: 400, error: "bad_request", reason: reason, close: true) }
    static func badGateway(_ reason: String) -> LocalResponse { LocalResponse(status: 502, error: "bad_gateway", reason: reason) }
    static func gatewayTimeout(_ reason: String) -> LocalResponse { LocalResponse(status: 504, error: "gateway_timeout", reason: reason) }

    func body() -> [UInt8] {
        if let payload { return payload.bytes }
        var b: [UInt8] = []
        b.append(contentsOf: "{\"error\":".utf8)
        JSONText.appendString(error, into: &b)
        b.append(contentsOf: ",\"reason\":".utf8)
        JSONText.appendString(reason, into: &b)
        b.append(contentsOf: "}\n".utf8)
        return b
    }

    /// Serializes head and body; `headRequest` omits the body bytes.
    func serialize(keepAlive: Bool, headRequest: Bool = false) -> [UInt8] {
        let body = body()
        var out: [UInt8] = []
        out.reserveCapacity(160 + body.count)
        Rewrite.appendStatusLine(status, reasonPhrase(for: status), into: &out)
        out.append(contentsOf: "Content-Type: ".utf8)
        out.append(contentsOf: (payload?.contentType ?? "application/json").utf8)
        out.append(contentsOf: "\r\nContent-Length: ".utf8)
        Rewrite.appendDecimal(body.count, into: &out)
        out.append(contentsOf: "\r\n".utf8)
        Rewrite.appendFields(extraFields, into: &out)
        out.append(contentsOf: (keepAlive && !close ? "" : "Connection: close\r\n").utf8)
        out.append(contentsOf: "\r\n".utf8)
        if !headRequest { out.append(contentsOf: body) }
        return out
    }
}

/// Minimal JSON text writing for logs and local responses.
enum JSONText {
    static func appendString(_ s: String, into out: inout [UInt8]) {
        out.append(0x22)
        for b in s.utf8 {
            switch b {
            case 0x22: out.append(contentsOf: [0x5C, 0x22])
            case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: out.append(contentsOf: [0x5C, 0x6E])
            case 0x0D: out.append(contentsOf: [0x5C, 0x72])
            case 0x09: out.append(contentsOf: [0x5C, 0x74])
            case 0..<0x20, 0x7F:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 0xF)]])
            default: out.append(b)
            }
        }
        out.append(0x22)
    }
}
