// RFC 6455 §5 frame types and frame building. Pure: stdlib only.

/// A WebSocket opcode (RFC 6455 §5.2). The reserved values 3–7 and 11–15 are not representable; the scanner
/// rejects them with `WebSocketError.reservedOpcode`.
public enum WebSocketOpcode: UInt8, Sendable, Equatable {
    case continuation = 0x0
    case text = 0x1
    case binary = 0x2
    case close = 0x8
    case ping = 0x9
    case pong = 0xA

    /// Close, ping and pong (opcodes with the high bit set).
    public var isControl: Bool { rawValue & 0x8 != 0 }
}

/// Why a byte stream is not a valid WebSocket frame sequence. After a scanner or reader throws, it stays
/// failed and every later call throws the same error.
public enum WebSocketError: Error, Sendable, Equatable {
    /// Opcode 3–7 or 11–15.
    case reservedOpcode(UInt8)
    /// RSV2 or RSV3 set, or RSV1 set while `allowRSV1` is false, or RSV1 set on a control or continuation frame.
    case reservedBitsSet
    /// The MASK bit differs from what this direction requires (client→server masked, server→client unmasked).
    case maskingViolation(expectedMasked: Bool)
    /// A close, ping or pong frame with FIN = 0.
    case fragmentedControlFrame
    /// A control frame whose payload is longer than 125 bytes.
    case controlFrameTooLong(UInt64)
    /// A 64-bit length with the most significant bit set, or a payload longer than `maxFramePayload`.
    case framePayloadTooLong(UInt64)
    /// A continuation frame outside a fragmented message.
    case unexpectedContinuation
    /// A new text/binary frame while a fragmented message is still open.
    case expectedContinuation
    /// `WebSocketMessageReader`: a data message longer than its `maxMessageBytes`.
    case messageTooLong
}

/// A parsed frame header (RFC 6455 §5.2).
public struct WebSocketFrameHeader: Sendable, Equatable {
    public var opcode: WebSocketOpcode
    public var fin: Bool
    /// RSV1: "per-message compressed" under permessage-deflate (RFC 7692). Only possible when `allowRSV1`.
    public var rsv1: Bool
    public var masked: Bool
    /// The 4-byte masking key as it appears on the wire (first key byte in the most significant position);
    /// 0 when unmasked.
    public var maskKey: UInt32
    public var payloadLength: UInt64
    /// Bytes in the header: 2, 4 or 10, plus 4 when masked (so 2…14).
    public var headerLength: Int

    public init(opcode: WebSocketOpcode, fin: Bool, rsv1: Bool, masked: Bool, maskKey: UInt32,
                payloadLength: UInt64, headerLength: Int) {
        self.opcode = opcode; self.fin = fin; self.rsv1 = rsv1; self.masked = masked
        self.maskKey = maskKey; self.payloadLength = payloadLength; self.headerLength = headerLength
    }

    /// The masking key as four bytes in wire order.
    public var maskKeyBytes: (UInt8, UInt8, UInt8, UInt8) {
        (UInt8(truncatingIfNeeded: maskKey >> 24), UInt8(truncatingIfNeeded: maskKey >> 16),
         UInt8(truncatingIfNeeded: maskKey >> 8), UInt8(truncatingIfNeeded: maskKey))
    }
}

/// RFC 6455 close status codes a gateway commonly sends (§7.4.1).
public enum WebSocketCloseCode {
    public static let normal: UInt16 = 1000
    public static let goingAway: UInt16 = 1001
    public static let protocolError: UInt16 = 1002
    /// Sent when a token expires or is refused (what Kubernetes, Weavy and most gateways use).
    public static let policyViolation: UInt16 = 1008
    public static let messageTooBig: UInt16 = 1009
    public static let internalError: UInt16 = 1011
}

/// Frame building and close-payload parsing.
public enum WebSocketFrame {
    /// Largest close reason in bytes: 125 (control payload limit) − 2 (status code).
    public static let maxCloseReasonBytes = 123

    /// One complete frame: header (minimal length encoding) followed by the payload, masked with `maskKey` when
    /// given (client→server frames must be masked, server→client frames must not). RSV bits are 0. Control-frame
    /// limits are the caller's business (`close` enforces them for close frames).
    public static func build(opcode: WebSocketOpcode, payload: [UInt8], fin: Bool = true,
                             maskKey: (UInt8, UInt8, UInt8, UInt8)? = nil) -> [UInt8] {
        let n = payload.count
        var out: [UInt8] = []
        out.reserveCapacity(14 + n)
        out.append((fin ? 0x80 : 0) | opcode.rawValue)
        let maskBit: UInt8 = maskKey == nil ? 0 : 0x80
        if n <= 125 {
            out.append(maskBit | UInt8(n))
        } else if n <= 0xFFFF {
            out.append(maskBit | 126)
            out.append(UInt8(truncatingIfNeeded: n >> 8)); out.append(UInt8(truncatingIfNeeded: n))
        } else {
            out.append(maskBit | 127)
            let v = UInt64(n)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: v >> UInt64(shift))) }
        }
        if let k = maskKey {
            let key = [k.0, k.1, k.2, k.3]
            out.append(contentsOf: key)
            for i in 0..<n { out.append(payload[i] ^ key[i & 3]) }
        } else {
            out.append(contentsOf: payload)
        }
        return out
    }

    /// A complete close frame: 2-byte big-endian `code` then `reason` as UTF-8, cut to at most 123 bytes at a
    /// scalar boundary (never mid-character). Codes 1005, 1006 and 1015 must not be sent (RFC 6455 §7.4.1); this
    /// function does not check. Pass `maskKey` when sending toward the server (upstream), nil toward the client.
    public static func close(code: UInt16, reason: String = "",
                             maskKey: (UInt8, UInt8, UInt8, UInt8)? = nil) -> [UInt8] {
        build(opcode: .close, payload: closePayload(code: code, reason: reason), fin: true, maskKey: maskKey)
    }

    /// The unmasked payload of a close frame (see `close`).
    public static func closePayload(code: UInt16, reason: String) -> [UInt8] {
        var p: [UInt8] = [UInt8(code >> 8), UInt8(code & 0xFF)]
        var used = 0
        for scalar in reason.unicodeScalars {
            let len = UTF8.width(scalar)
            if used + len > maxCloseReasonBytes { break }
            used += len
            UTF8.encode(scalar) { p.append($0) }
        }
        return p
    }

    /// Reads an unmasked close payload: empty → `(nil, "")` (no status, RFC 6455 §7.1.5 "1005"); one byte
    /// (malformed) → `(nil, "")`; otherwise the big-endian code and the rest decoded as UTF-8 (invalid sequences
    /// replaced with U+FFFD).
    public static func parseClose(_ payload: [UInt8]) -> (code: UInt16?, reason: String) {
        guard payload.count >= 2 else { return (nil, "") }
        let code = UInt16(payload[0]) << 8 | UInt16(payload[1])
        return (code, String(decoding: payload[2...], as: UTF8.self))
    }

    /// XORs `bytes` in place with `maskKey` (wire order, as in `WebSocketFrameHeader.maskKey`), starting at
    /// payload offset `offset` (the mask phase is `offset % 4`). Masking and unmasking are the same operation.
    public static func applyMask(_ bytes: inout [UInt8], maskKey: UInt32, offset: UInt64 = 0) {
        var phase = Int(offset & 3)
        for i in bytes.indices {
            bytes[i] ^= UInt8(truncatingIfNeeded: maskKey >> UInt32(24 - 8 * phase))
            phase = (phase + 1) & 3
        }
    }
}
