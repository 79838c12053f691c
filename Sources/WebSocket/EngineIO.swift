// Engine.IO protocol v4 packets (socketio/engine.io-protocol README; https://socket.io/docs/v4/engine-io-protocol).
//
// Over WebSocket (`?EIO=4&transport=websocket`):
//   - each WebSocket **text** message is exactly one Engine.IO packet: one ASCII type digit then the data,
//       0 open     `0{"sid":"…","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`
//       1 close    `1`
//       2 ping     `2` (server → client every pingInterval), or `2probe` (client → server during an upgrade)
//       3 pong     `3`, or `3probe`
//       4 message  `4` + data; under socket.io the data is one Socket.IO packet (`40{…}`, `42["ev",1]`)
//       5 upgrade  `5` (client → server, completes the upgrade from polling)
//       6 noop     `6` (server → client, ends a pending poll during an upgrade)
//   - each WebSocket **binary** message is the payload of one binary Engine.IO message (no type byte).
// Over HTTP long-polling (`?EIO=4&transport=polling`), a request/response body is a payload: packets joined by
// the record separator 0x1E; text packets as above; a binary message is `b` followed by its base64 (standard
// alphabet, padded).

import Base64Codec

/// The record separator between packets of an Engine.IO v4 polling payload.
public let engineIORecordSeparator: UInt8 = 0x1E

/// One Engine.IO v4 packet.
public enum EngineIOPacket: Sendable, Equatable {
    /// `0` + the handshake JSON (server → client).
    case open(String)
    /// `1`.
    case close
    /// `2` + data: "" for a heartbeat ping, "probe" during an upgrade.
    case ping(String)
    /// `3` + data: "" or "probe".
    case pong(String)
    /// `4` + text data (a Socket.IO packet when the application is socket.io).
    case message(String)
    /// A binary message: a WebSocket binary message, or `b<base64>` in a polling payload.
    case binary([UInt8])
    /// `5`.
    case upgrade
    /// `6`.
    case noop

    /// Parses one text packet (a WebSocket text message, or one record of a polling payload that does not start
    /// with `b`). nil when empty or the first character is not `0`–`6`. Data after `1`, `5` or `6` is ignored,
    /// as the reference implementation does.
    public static func parse(text: String) -> EngineIOPacket? {
        guard let first = text.utf8.first, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "6") else { return nil }
        let data = String(text.utf8.dropFirst()) ?? String(decoding: text.utf8.dropFirst(), as: UTF8.self)
        switch first {
        case UInt8(ascii: "0"): return .open(data)
        case UInt8(ascii: "1"): return .close
        case UInt8(ascii: "2"): return .ping(data)
        case UInt8(ascii: "3"): return .pong(data)
        case UInt8(ascii: "4"): return .message(data)
        case UInt8(ascii: "5"): return .upgrade
        default: return .noop
        }
    }

    /// Parses one text packet given as UTF-8 bytes (invalid UTF-8 → nil: a WebSocket text message must be
    /// valid UTF-8).
    public static func parse(textBytes: [UInt8]) -> EngineIOPacket? {
        guard let text = String(validating: textBytes, as: UTF8.self) else { return nil }
        return parse(text: text)
    }

    /// Parses the Engine.IO packet carried by one WebSocket message: text → `parse(text:)`, binary → `.binary`.
    /// Control frames and compressed messages → nil.
    public static func parse(webSocketMessage m: WebSocketMessage) -> EngineIOPacket? {
        guard !m.compressed else { return nil }
        switch m.opcode {
        case .text: return parse(textBytes: m.payload)
        case .binary: return .binary(m.payload)
        default: return nil
        }
    }

    /// The text form for a WebSocket text message or a polling record (`.binary` gives `b<base64>`, the polling
    /// form; over WebSocket send binary data as a binary message instead).
    public var encoded: String {
        switch self {
        case .open(let d): return "0" + d
        case .close: return "1"
        case .ping(let d): return "2" + d
        case .pong(let d): return "3" + d
        case .message(let d): return "4" + d
        case .binary(let b): return "b" + Base64.encodeStandard(b)
        case .upgrade: return "5"
        case .noop: return "6"
        }
    }
}

/// Splits an Engine.IO v4 polling payload (an HTTP body) at 0x1E and parses each record: `b<base64>` →
/// `.binary`, anything else → `EngineIOPacket.parse(text:)`. nil if any record is empty or malformed, the body
/// is not UTF-8, or the base64 is invalid: the reference server rejects the whole payload in that case.
public func parsePollingPayload(_ body: [UInt8]) -> [EngineIOPacket]? {
    var packets: [EngineIOPacket] = []
    for record in body.split(separator: engineIORecordSeparator, omittingEmptySubsequences: false) {
        guard let first = record.first else { return nil }
        if first == UInt8(ascii: "b") {
            guard let bytes = Base64.decode(bytes: Array(record.dropFirst()), urlSafe: false) else { return nil }
            packets.append(.binary(bytes))
        } else {
            guard let packet = EngineIOPacket.parse(textBytes: Array(record)) else { return nil }
            packets.append(packet)
        }
    }
    return packets
}

/// Joins packets into a polling payload (records separated by 0x1E).
public func encodePollingPayload(_ packets: [EngineIOPacket]) -> [UInt8] {
    var out: [UInt8] = []
    for (n, p) in packets.enumerated() {
        if n > 0 { out.append(engineIORecordSeparator) }
        out.append(contentsOf: p.encoded.utf8)
    }
    return out
}

/// The Engine.IO close packet, `1`. Sent after a refused CONNECT to end the Engine.IO session (as a WebSocket
/// text message, or as a polling response body).
public func engineIOClose() -> String { "1" }
