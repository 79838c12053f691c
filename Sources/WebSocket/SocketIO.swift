// Socket.IO protocol v5 packets (socketio/socket.io-protocol README), carried in Engine.IO `4` messages.
//
// Text encoding of one packet (the data of an Engine.IO message):
//
//     <type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]
//
//   type         one digit: 0 CONNECT, 1 DISCONNECT, 2 EVENT, 3 ACK, 4 CONNECT_ERROR, 5 BINARY_EVENT, 6 BINARY_ACK
//   attachments  decimal count then `-`, only (and always) for 5 and 6
//   namespace    present only when it is not the main namespace: starts with `/`, runs to the first `,`
//                (the `,` is consumed); the main namespace is `/`
//   ack id       decimal digits
//   payload      the rest: JSON. CONNECT: an object (the handshake `auth`) or nothing; DISCONNECT: nothing;
//                EVENT/BINARY_EVENT: an array; ACK/BINARY_ACK: an array; CONNECT_ERROR: an object or string.
//
// Examples inside a WebSocket text message (Engine.IO `4` + Socket.IO packet):
//   `40`                                  CONNECT to `/`, no auth
//   `40{"token":"eyJ…","session":null}`   CONNECT to `/` with auth {token, session} (ONLYOFFICE's editor)
//   `40/admin,{"token":"eyJ…"}`           CONNECT to `/admin` with auth
//   `42["ev",1]`                          EVENT on `/`
//   `44{"message":"not authorized"}`      CONNECT_ERROR on `/` (server → client)

public enum SocketIOPacketType: UInt8, Sendable, Equatable {
    case connect = 0, disconnect, event, ack, connectError, binaryEvent, binaryAck
}

/// One decoded Socket.IO v5 text packet. `payload` is the raw JSON text (not interpreted beyond validation).
public struct SocketIOPacket: Sendable, Equatable {
    public var type: SocketIOPacketType
    /// `/` unless the packet names another namespace.
    public var namespace: String
    /// Number of binary attachments (BINARY_EVENT / BINARY_ACK only).
    public var attachments: Int?
    public var ackID: UInt64?
    /// Raw JSON of the payload, nil when there is none.
    public var payload: [UInt8]?

    public init(type: SocketIOPacketType, namespace: String = "/", attachments: Int? = nil, ackID: UInt64? = nil,
                payload: [UInt8]? = nil) {
        self.type = type; self.namespace = namespace; self.attachments = attachments
        self.ackID = ackID; self.payload = payload
    }

    /// Parses the data of an Engine.IO message (the text **after** the Engine.IO `4`). nil when malformed:
    /// unknown type, bad attachment count, payload that is not valid JSON of the kind the type requires
    /// (the reference decoder throws on those and the server drops the connection).
    public static func parse(_ text: String) -> SocketIOPacket? {
        parse(bytes: Array(text.utf8))
    }

    public static func parse(bytes s: [UInt8]) -> SocketIOPacket? {
        guard let t = s.first, t >= UInt8(ascii: "0"), let type = SocketIOPacketType(rawValue: t &- UInt8(ascii: "0")) else {
            return nil
        }
        var i = 1
        var packet = SocketIOPacket(type: type)
        if type == .binaryEvent || type == .binaryAck {
            let start = i
            while i < s.count, isDigit(s[i]) { i += 1 }
            guard i > start, i - start <= 9, i < s.count, s[i] == UInt8(ascii: "-") else { return nil }
            packet.attachments = Int(String(decoding: s[start..<i], as: UTF8.self))
            i += 1
        }
        if i < s.count, s[i] == UInt8(ascii: "/") {
            let start = i
            while i < s.count, s[i] != UInt8(ascii: ",") { i += 1 }
            packet.namespace = String(decoding: s[start..<i], as: UTF8.self)
            if i < s.count { i += 1 }  // the comma
        }
        if i < s.count, isDigit(s[i]) {
            let start = i
            while i < s.count, isDigit(s[i]) { i += 1 }
            guard i - start <= 15 else { return nil }  // stays an exact JavaScript number
            packet.ackID = UInt64(String(decoding: s[start..<i], as: UTF8.self))
        }
        if i < s.count {
            let json = Array(s[i...])
            guard validPayload(type, json) else { return nil }
            packet.payload = json
        } else if type == .event || type == .binaryEvent || type == .ack || type == .binaryAck {
            return nil  // these need a payload (isPayloadValid(undefined) is false for them)
        }
        return packet
    }

    /// The text form (without the Engine.IO `4`).
    public var encoded: String {
        var out = String(type.rawValue)
        if let a = attachments, type == .binaryEvent || type == .binaryAck { out += "\(a)-" }
        if namespace != "/" { out += namespace + "," }
        if let id = ackID { out += String(id) }
        if let p = payload { out += String(decoding: p, as: UTF8.self) }
        return out
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    private static func validPayload(_ type: SocketIOPacketType, _ json: [UInt8]) -> Bool {
        var k = 0
        while k < json.count, json[k] == 0x20 || json[k] == 0x09 || json[k] == 0x0A || json[k] == 0x0D { k += 1 }
        let first = k < json.count ? json[k] : 0
        switch type {
        case .connect: return first == UInt8(ascii: "{") && isJSONObject(json)
        case .disconnect: return false
        case .connectError:
            return (first == UInt8(ascii: "{") || first == UInt8(ascii: "\"")) && isValidJSON(json)
        case .event, .binaryEvent, .ack, .binaryAck:
            return first == UInt8(ascii: "[") && isValidJSON(json)
        }
    }
}

/// A Socket.IO CONNECT request: the namespace and the raw JSON text of the `auth` object (nil when the client
/// sent none; socket.io then uses `{}`).
public struct SocketIOConnect: Sendable, Equatable {
    public var namespace: String
    public var auth: [UInt8]?

    public init(namespace: String, auth: [UInt8]?) { self.namespace = namespace; self.auth = auth }

    /// The string member `field` of `auth` (see `jsonStringField`): nil when there is no auth or no such
    /// string member.
    public func authString(_ field: String) -> String? {
        guard let auth, let v = jsonStringField(auth, field) else { return nil }
        return v
    }
}

/// The CONNECT request in one Engine.IO text packet — the whole WebSocket text message or polling record,
/// e.g. `40{"token":"…"}` or `40/admin,{…}`. nil when it is not an Engine.IO message (`4`) whose Socket.IO packet
/// is a well-formed CONNECT (a CONNECT whose payload is not a JSON object is malformed: nil).
public func socketIOConnect(fromEngineMessage text: String) -> SocketIOConnect? {
    socketIOConnect(fromEngineMessageBytes: Array(text.utf8))
}

/// `socketIOConnect(fromEngineMessage:)` over the UTF-8 bytes of the packet (e.g. an unmasked WebSocket text
/// payload). Invalid UTF-8 → nil.
public func socketIOConnect(fromEngineMessageBytes bytes: [UInt8]) -> SocketIOConnect? {
    guard bytes.first == UInt8(ascii: "4"), String(validating: bytes, as: UTF8.self) != nil,
          let p = SocketIOPacket.parse(bytes: Array(bytes.dropFirst())), p.type == .connect else { return nil }
    return SocketIOConnect(namespace: p.namespace, auth: p.payload)
}

/// The first CONNECT in an Engine.IO polling payload (the body of a polling POST), or nil when the payload is
/// malformed or holds no CONNECT.
public func socketIOConnect(fromPollingPayload body: [UInt8]) -> SocketIOConnect? {
    guard let packets = parsePollingPayload(body) else { return nil }
    for case .message(let data) in packets {
        if let c = socketIOConnect(fromEngineMessage: "4" + data) { return c }
    }
    return nil
}

/// The Engine.IO message carrying a Socket.IO CONNECT_ERROR, as socket.io reports a refused CONNECT:
/// `44{"message":"not authorized"}`, or `44/admin,{"message":"not authorized"}` for namespace `/admin`. With
/// `dataJSON` (raw JSON text, inserted as is), `44{"message":"…","data":<dataJSON>}`, the shape a socket.io
/// middleware's `err.data` produces (ONLYOFFICE's server sends `{"code":4006,"description":"…"}` there).
///
/// Transport: over WebSocket, send it as one text frame (server → client, unmasked) and then `engineIOClose()`
/// or a close frame; over polling, it is the body (alone or 0x1E-joined) of the response to the client's
/// pending or next GET.
public func socketIOConnectError(namespace: String = "/", message: String, dataJSON: String? = nil) -> String {
    var out = "44"
    if namespace != "/" && !namespace.isEmpty { out += namespace + "," }
    out += "{\"message\":" + jsonQuote(message)
    if let dataJSON { out += ",\"data\":" + dataJSON }
    out += "}"
    return out
}
