// Whole-message reader on top of the scanner: unmasks and reassembles, for tests and for reading the first
// socket.io packets. The bytes it is fed are not changed; the caller forwards them as they were.

/// A complete message: a reassembled text/binary message, or one control frame (close, ping, pong).
public struct WebSocketMessage: Sendable, Equatable {
    /// `.text`, `.binary`, `.close`, `.ping` or `.pong` (never `.continuation`).
    public var opcode: WebSocketOpcode
    /// Unmasked payload (all fragments concatenated). Still compressed when `compressed` is true.
    public var payload: [UInt8]
    /// RSV1 was set on the first frame (permessage-deflate): `payload` is deflate data this reader does not
    /// inflate.
    public var compressed: Bool

    public init(opcode: WebSocketOpcode, payload: [UInt8], compressed: Bool = false) {
        self.opcode = opcode; self.payload = payload; self.compressed = compressed
    }

    /// The payload as a String when this is an uncompressed text message with valid UTF-8, else nil.
    public var text: String? {
        guard opcode == .text, !compressed else { return nil }
        return String(validating: payload, as: UTF8.self)
    }
}

/// Reads complete messages from one direction of a connection.
///
/// Data messages are bounded by `maxMessageBytes` (checked against each frame's declared length before its
/// payload is buffered) → `.messageTooLong`. Control frames (≤ 125 bytes) are returned as their own messages,
/// in stream order, even when they arrive between fragments of a data message.
///
/// To read the first few messages and then only follow boundaries (e.g. find the socket.io CONNECT packet, then
/// watch for a place to inject a close), take `scanner`: it continues exactly where the reader stopped.
public struct WebSocketMessageReader: Sendable {
    public let maxMessageBytes: Int
    /// The underlying boundary scanner, in sync with everything fed so far.
    public private(set) var scanner: WebSocketFrameScanner

    private var dataOpcode: WebSocketOpcode = .text
    private var dataCompressed = false
    private var data: [UInt8] = []
    private var control: [UInt8] = []
    /// Header of the frame whose payload is being read (its header may have come in an earlier buffer).
    private var frame = WebSocketFrameHeader(opcode: .text, fin: true, rsv1: false, masked: false, maskKey: 0,
                                             payloadLength: 0, headerLength: 0)

    public init(expectMasked: Bool, maxMessageBytes: Int = 1 << 20, allowRSV1: Bool = true) {
        self.maxMessageBytes = maxMessageBytes
        self.scanner = WebSocketFrameScanner(expectMasked: expectMasked, allowRSV1: allowRSV1)
    }

    /// Feeds the next bytes of the stream; returns the messages completed within them, in order.
    public mutating func feed(_ buf: UnsafeRawBufferPointer) throws(WebSocketError) -> [WebSocketMessage] {
        var out: [WebSocketMessage] = []
        var sc = scanner
        var st = (opcode: dataOpcode, compressed: dataCompressed, data: data, control: control)
        // Keep the stored buffers uniquely referenced by the local copy while scanning.
        data = []; control = []
        let limit = maxMessageBytes
        var frame = self.frame
        defer {
            scanner = sc
            self.frame = frame
            dataOpcode = st.opcode; dataCompressed = st.compressed; data = st.data; control = st.control
        }
        try sc.scan(buf) { (event) throws(WebSocketError) in
            switch event {
            case .header(let h, _):
                frame = h
                switch h.opcode {
                case .text, .binary:
                    st.opcode = h.opcode
                    st.compressed = h.rsv1
                    st.data.removeAll(keepingCapacity: true)
                    if h.payloadLength > UInt64(limit) { throw .messageTooLong }
                case .continuation:
                    if UInt64(st.data.count) + h.payloadLength > UInt64(limit) { throw .messageTooLong }
                default:
                    st.control.removeAll(keepingCapacity: true)
                }
            case .payload(let range, let offset):
                let chunk = UnsafeRawBufferPointer(rebasing: buf[range])
                if frame.opcode.isControl {
                    Self.appendUnmasked(&st.control, chunk, frame, offset)
                } else {
                    Self.appendUnmasked(&st.data, chunk, frame, offset)
                }
            case .frameEnd(let h, _):
                if h.opcode.isControl {
                    out.append(WebSocketMessage(opcode: h.opcode, payload: st.control))
                    st.control.removeAll(keepingCapacity: false)
                } else if h.fin {
                    out.append(WebSocketMessage(opcode: st.opcode, payload: st.data, compressed: st.compressed))
                    st.data = []
                }
            }
        }
        return out
    }

    public mutating func feed(_ bytes: [UInt8]) throws(WebSocketError) -> [WebSocketMessage] {
        var result: Result<[WebSocketMessage], WebSocketError> = .success([])
        bytes.withUnsafeBytes { raw in
            do throws(WebSocketError) { result = .success(try feed(raw)) } catch { result = .failure(error) }
        }
        return try result.get()
    }

    private static func appendUnmasked(_ dst: inout [UInt8], _ chunk: UnsafeRawBufferPointer,
                                       _ h: WebSocketFrameHeader, _ offset: UInt64) {
        guard h.masked else { dst.append(contentsOf: chunk); return }
        let key = h.maskKeyBytes
        let k = [key.0, key.1, key.2, key.3]
        var phase = Int(offset & 3)
        dst.reserveCapacity(dst.count + chunk.count)
        for b in chunk {
            dst.append(b ^ k[phase])
            phase = (phase + 1) & 3
        }
    }
}
