/// Streams an Engine.IO polling payload (records separated by 0x1E) while holding back every record that
/// starts with `40` — a socket.io CONNECT — until it has been checked. Everything else is passed on at once,
/// byte for byte, in order. Used for polling POSTs too large to read whole before forwarding.
public struct PollingConnectGate: Sendable {
    public init() {}
    private var atRecordStart = true
    private var holding = false
    private var record: [UInt8] = []
    static let maxRecord = 64 * 1024

    /// Feeds body bytes. `forward` receives what may go upstream now; `check` gets each complete CONNECT
    /// record (without its separator) and says whether it may pass. False: refused (stop forwarding).
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, forward: (UnsafeRawBufferPointer) -> Void,
                       check: ([UInt8]) -> Bool) -> Bool {
        var segmentStart = 0
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if holding {
                if b == 0x1E {
                    if !release(forward: forward, check: check) { return false }
                    // the separator itself starts the next segment
                    segmentStart = i
                    atRecordStart = true
                    i += 1
                    continue
                }
                record.append(b)
                if record.count == 2 && record != [0x34, 0x30] {
                    // `4x`: an ordinary message, not a CONNECT: let it (and what follows) stream.
                    record.withUnsafeBytes { forward($0) }
                    record.removeAll(keepingCapacity: true)
                    holding = false
                    segmentStart = i + 1
                } else if record.count > Self.maxRecord {
                    return false
                }
                i += 1
                continue
            }
            if atRecordStart && b == 0x34 {
                if i > segmentStart { forward(UnsafeRawBufferPointer(rebasing: bytes[segmentStart..<i])) }
                holding = true
                record = [b]
                atRecordStart = false
                i += 1
                segmentStart = i
                continue
            }
            atRecordStart = b == 0x1E
            i += 1
        }
        if !holding && bytes.count > segmentStart { forward(UnsafeRawBufferPointer(rebasing: bytes[segmentStart...])) }
        return true
    }

    /// The body ended: a held record is released (checked if it is a CONNECT).
    public mutating func finish(forward: (UnsafeRawBufferPointer) -> Void, check: ([UInt8]) -> Bool) -> Bool {
        holding ? release(forward: forward, check: check) : true
    }

    private mutating func release(forward: (UnsafeRawBufferPointer) -> Void, check: ([UInt8]) -> Bool) -> Bool {
        holding = false
        defer { record.removeAll(keepingCapacity: true) }
        if record.count >= 2 && record[0] == 0x34 && record[1] == 0x30 && !check(record) { return false }
        record.withUnsafeBytes { forward($0) }
        return true
    }
}
