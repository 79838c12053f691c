// Streaming frame-boundary scanner (RFC 6455 §5). It never copies or changes the bytes it is shown.

/// What the scanner saw in one buffer, in stream order. Offsets are indices into the buffer passed to `scan`.
public enum WebSocketFrameEvent: Sendable, Equatable {
    /// A frame header is complete; its last byte is at `end - 1` of this buffer (its first bytes may have been
    /// in earlier buffers: a header can be split anywhere).
    case header(WebSocketFrameHeader, end: Int)
    /// Payload bytes `range` of this buffer, still masked if the frame is masked. `payloadOffset` is the position
    /// of `range.lowerBound` within the frame's payload (the mask phase is `payloadOffset % 4`).
    case payload(Range<Int>, payloadOffset: UInt64)
    /// The frame is complete; its last byte is at `end - 1`. The stream is at a frame boundary at offset `end`
    /// of this buffer: a control frame (such as a close) may be injected there.
    case frameEnd(WebSocketFrameHeader, end: Int)
}

/// Follows frame boundaries in one direction of a WebSocket connection.
///
/// Feed it every buffer of that direction, in order, as it is forwarded; it validates each header and reports
/// where frames start and end. Per frame it does a fixed amount of work (header bytes go through a small fixed
/// state, at most 14 bytes); payload bytes are skipped by arithmetic, never touched. It allocates nothing.
///
/// Checks, all raising `WebSocketError` and leaving the scanner failed:
/// - opcode 3–7 / 11–15 → `.reservedOpcode`;
/// - RSV2/RSV3 set, or RSV1 set when `allowRSV1` is false, or RSV1 on a control or continuation frame
///   (RFC 7692 §6: only the first frame of a compressed message carries it) → `.reservedBitsSet`;
/// - MASK bit ≠ `expectMasked` → `.maskingViolation`;
/// - control frame with FIN = 0 → `.fragmentedControlFrame`; with payload > 125 → `.controlFrameTooLong`;
/// - 64-bit length with the top bit set, or payload > `maxFramePayload` → `.framePayloadTooLong`;
/// - continuation with no open message → `.unexpectedContinuation`; text/binary while a fragmented message is
///   open → `.expectedContinuation`.
/// Non-minimal length encodings (e.g. 5 in the 16-bit form) are accepted: they are unambiguous and the
/// endpoints decide. Frames after a close frame are scanned normally; `closeSeen` tells the caller.
public struct WebSocketFrameScanner: Sendable {
    /// true for the client→server direction (RFC 6455 §5.1: clients mask every frame, servers never do).
    public let expectMasked: Bool
    public let maxFramePayload: UInt64
    /// Let RSV1 through on the first frame of a data message (permessage-deflate, passed through untouched).
    public let allowRSV1: Bool

    // Header state: bytes of the current header seen so far (0 while at a boundary) and bytes it needs.
    private var headerSeen: UInt8 = 0
    private var headerNeed: UInt8 = 2
    private var b0: UInt8 = 0
    private var b1: UInt8 = 0
    private var lengthAcc: UInt64 = 0
    private var keyAcc: UInt32 = 0
    // Payload state.
    private var inPayload = false
    private var remaining: UInt64 = 0
    private var payloadDone: UInt64 = 0
    private var current = WebSocketFrameHeader(opcode: .continuation, fin: true, rsv1: false, masked: false,
                                               maskKey: 0, payloadLength: 0, headerLength: 0)
    private var failure: WebSocketError?

    /// true between a text/binary frame with FIN = 0 and the continuation frame with FIN = 1 that ends it
    /// (updated as soon as each header is parsed). Control frames may legally be sent while this is true.
    public private(set) var inFragmentedMessage = false
    /// A close frame has been completely seen in this direction.
    public private(set) var closeSeen = false
    /// Complete frames seen so far.
    public private(set) var framesCompleted: UInt64 = 0

    public init(expectMasked: Bool, maxFramePayload: UInt64 = 1 << 40, allowRSV1: Bool = true) {
        self.expectMasked = expectMasked
        self.maxFramePayload = maxFramePayload
        self.allowRSV1 = allowRSV1
    }

    /// No partial frame is pending: everything scanned so far ends exactly at a frame boundary, so a whole
    /// frame (e.g. a close) can be inserted into the stream here. (Between fragments of a data message counts:
    /// control frames may be interleaved; check `inFragmentedMessage` before inserting a data frame.)
    public var atFrameBoundary: Bool { headerSeen == 0 && !inPayload }

    /// The scanner failed earlier; it will throw this error on every call.
    public var error: WebSocketError? { failure }

    /// The header of the frame in progress (complete header, payload pending); nil at a boundary or mid-header.
    public var currentFrame: WebSocketFrameHeader? { inPayload ? current : nil }

    /// Payload bytes of the current frame still to come (0 at a boundary or mid-header).
    public var remainingPayload: UInt64 { inPayload ? remaining : 0 }

    /// Scans `buf`, calling `visit` for each event in order. If `visit` throws, the scanner is failed with that
    /// error (its position inside the buffer is lost) and the error is rethrown.
    public mutating func scan(_ buf: UnsafeRawBufferPointer,
                              _ visit: (WebSocketFrameEvent) throws(WebSocketError) -> Void) throws(WebSocketError) {
        if let f = failure { throw f }
        do {
            try scanLoop(buf, visit)
        } catch {
            failure = error
            throw error
        }
    }

    /// Scans `buf` and returns its events (allocates one array per call; the visitor form allocates nothing).
    public mutating func scan(_ buf: UnsafeRawBufferPointer) throws(WebSocketError) -> [WebSocketFrameEvent] {
        var events: [WebSocketFrameEvent] = []
        try scan(buf) { events.append($0) }
        return events
    }

    public mutating func scan(_ bytes: [UInt8]) throws(WebSocketError) -> [WebSocketFrameEvent] {
        var result: Result<[WebSocketFrameEvent], WebSocketError> = .success([])
        bytes.withUnsafeBytes { raw in
            do throws(WebSocketError) { result = .success(try scan(raw)) } catch { result = .failure(error) }
        }
        return try result.get()
    }

    private mutating func scanLoop(_ buf: UnsafeRawBufferPointer,
                                   _ visit: (WebSocketFrameEvent) throws(WebSocketError) -> Void) throws(WebSocketError) {
        let n = buf.count
        var i = 0
        while i < n {
            if inPayload {
                let avail = UInt64(n - i)
                let take = remaining < avail ? Int(remaining) : n - i
                try visit(.payload(i..<(i + take), payloadOffset: payloadDone))
                i += take
                remaining -= UInt64(take)
                payloadDone += UInt64(take)
                if remaining == 0 {
                    inPayload = false
                    try finishFrame(end: i, visit)
                }
                continue
            }
            let b = buf[i]
            i += 1
            switch headerSeen {
            case 0:
                b0 = b
                try checkFirstByte(b)
            case 1:
                b1 = b
                let masked = b & 0x80 != 0
                if masked != expectMasked { throw .maskingViolation(expectedMasked: expectMasked) }
                let len7 = b & 0x7F
                let isControl = b0 & 0x08 != 0
                if isControl && len7 > 125 {
                    // The true length is in the extended field; report the 7-bit marker (126/127) as seen so far.
                    throw .controlFrameTooLong(UInt64(len7))
                }
                let ext: UInt8 = len7 == 126 ? 2 : (len7 == 127 ? 8 : 0)
                headerNeed = 2 + ext + (masked ? 4 : 0)
                lengthAcc = ext == 0 ? UInt64(len7) : 0
                keyAcc = 0
            default:
                let ext: UInt8 = (b1 & 0x7F) == 126 ? 2 : ((b1 & 0x7F) == 127 ? 8 : 0)
                if headerSeen < 2 + ext {
                    lengthAcc = lengthAcc << 8 | UInt64(b)
                } else {
                    keyAcc = keyAcc << 8 | UInt32(b)
                }
            }
            headerSeen += 1
            if headerSeen >= 2 && headerSeen == headerNeed {
                try finishHeader(end: i, visit)
            }
        }
    }

    private mutating func checkFirstByte(_ b: UInt8) throws(WebSocketError) {
        let op = b & 0x0F
        guard let opcode = WebSocketOpcode(rawValue: op) else { throw .reservedOpcode(op) }
        let fin = b & 0x80 != 0
        if b & 0x30 != 0 { throw .reservedBitsSet }
        if b & 0x40 != 0 && (!allowRSV1 || opcode.isControl || opcode == .continuation) { throw .reservedBitsSet }
        if opcode.isControl {
            if !fin { throw .fragmentedControlFrame }
        } else if opcode == .continuation {
            if !inFragmentedMessage { throw .unexpectedContinuation }
        } else if inFragmentedMessage {
            throw .expectedContinuation
        }
    }

    private mutating func finishHeader(end: Int,
                                       _ visit: (WebSocketFrameEvent) throws(WebSocketError) -> Void) throws(WebSocketError) {
        let opcode = WebSocketOpcode(rawValue: b0 & 0x0F)!  // validated in checkFirstByte
        let length = lengthAcc
        if length > maxFramePayload || length >> 63 != 0 { throw .framePayloadTooLong(length) }
        if opcode.isControl && length > 125 { throw .controlFrameTooLong(length) }
        let fin = b0 & 0x80 != 0
        current = WebSocketFrameHeader(opcode: opcode, fin: fin, rsv1: b0 & 0x40 != 0, masked: b1 & 0x80 != 0,
                                       maskKey: keyAcc, payloadLength: length, headerLength: Int(headerNeed))
        switch opcode {
        case .text, .binary: inFragmentedMessage = !fin
        case .continuation: if fin { inFragmentedMessage = false }
        default: break
        }
        headerSeen = 0
        headerNeed = 2
        try visit(.header(current, end: end))
        if length == 0 {
            try finishFrame(end: end, visit)
        } else {
            inPayload = true
            remaining = length
            payloadDone = 0
        }
    }

    private mutating func finishFrame(end: Int,
                                      _ visit: (WebSocketFrameEvent) throws(WebSocketError) -> Void) throws(WebSocketError) {
        framesCompleted &+= 1
        if current.opcode == .close { closeSeen = true }
        try visit(.frameEnd(current, end: end))
    }
}
