import XCTest
@testable import WebSocket

/// Deterministic PRNG (SplitMix64) so random splits are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
}

/// A frame header byte-for-byte, for malformed inputs `WebSocketFrame.build` will not produce.
func rawHeader(b0: UInt8, masked: Bool, length: UInt64, forceExtended: Int? = nil) -> [UInt8] {
    var h: [UInt8] = [b0]
    let m: UInt8 = masked ? 0x80 : 0
    let form = forceExtended ?? (length <= 125 ? 0 : (length <= 0xFFFF ? 16 : 64))
    switch form {
    case 0: h.append(m | UInt8(length))
    case 16: h.append(m | 126); h += [UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
    default:
        h.append(m | 127)
        for s in stride(from: 56, through: 0, by: -8) { h.append(UInt8(truncatingIfNeeded: length >> UInt64(s))) }
    }
    if masked { h += [0x11, 0x22, 0x33, 0x44] }
    return h
}

/// Events normalised to absolute stream offsets, so runs over different splits can be compared.
struct Trace: Equatable {
    var headers: [(WebSocketFrameHeader, Int)] = []
    var ends: [(WebSocketOpcode, Int)] = []
    var payloadBytes = 0

    static func == (a: Trace, b: Trace) -> Bool {
        a.headers.map { $0.0 } == b.headers.map { $0.0 } && a.headers.map { $0.1 } == b.headers.map { $0.1 }
            && a.ends.map { $0.0 } == b.ends.map { $0.0 } && a.ends.map { $0.1 } == b.ends.map { $0.1 }
            && a.payloadBytes == b.payloadBytes
    }
}

func trace(_ stream: [UInt8], splits: [Int], masked: Bool) throws -> Trace {
    var scanner = WebSocketFrameScanner(expectMasked: masked)
    var t = Trace()
    var base = 0
    var cuts = splits.filter { $0 > 0 && $0 < stream.count }.sorted()
    cuts.append(stream.count)
    for cut in cuts where cut > base {
        let chunk = Array(stream[base..<cut])
        let events = try scanner.scan(chunk)
        for e in events {
            switch e {
            case .header(let h, let end): t.headers.append((h, base + end))
            case .payload(let r, _): t.payloadBytes += r.count
            case .frameEnd(let h, let end): t.ends.append((h.opcode, base + end))
            }
        }
        base = cut
    }
    XCTAssertTrue(scanner.atFrameBoundary)
    XCTAssertFalse(scanner.inFragmentedMessage)
    return t
}

func sampleStream(masked: Bool) -> (bytes: [UInt8], frameEnds: [Int]) {
    var rng = SplitMix64(seed: masked ? 7 : 8)
    func key() -> (UInt8, UInt8, UInt8, UInt8)? {
        masked ? (UInt8.random(in: 0...255, using: &rng), UInt8.random(in: 0...255, using: &rng),
                  UInt8.random(in: 0...255, using: &rng), UInt8.random(in: 0...255, using: &rng)) : nil
    }
    var out: [UInt8] = []
    var ends: [Int] = []
    func add(_ f: [UInt8]) { out += f; ends.append(out.count) }
    add(WebSocketFrame.build(opcode: .text, payload: Array("40{\"token\":\"x\"}".utf8), maskKey: key()))
    add(WebSocketFrame.build(opcode: .binary, payload: [], maskKey: key()))
    add(WebSocketFrame.build(opcode: .binary, payload: [UInt8](repeating: 0xAB, count: 125), maskKey: key()))
    add(WebSocketFrame.build(opcode: .binary, payload: [UInt8](repeating: 0xCD, count: 126), maskKey: key()))
    add(WebSocketFrame.build(opcode: .text, payload: [UInt8](repeating: 0x61, count: 65535), maskKey: key()))
    add(WebSocketFrame.build(opcode: .binary, payload: [UInt8](repeating: 0x62, count: 65536), maskKey: key()))
    add(WebSocketFrame.build(opcode: .ping, payload: Array("p".utf8), maskKey: key()))
    add(WebSocketFrame.build(opcode: .text, payload: Array("he".utf8), fin: false, maskKey: key()))
    add(WebSocketFrame.build(opcode: .pong, payload: [], maskKey: key()))
    add(WebSocketFrame.build(opcode: .continuation, payload: Array("ll".utf8), fin: false, maskKey: key()))
    add(WebSocketFrame.build(opcode: .ping, payload: [1, 2, 3], maskKey: key()))
    add(WebSocketFrame.build(opcode: .continuation, payload: Array("o".utf8), fin: true, maskKey: key()))
    add(WebSocketFrame.close(code: 1000, reason: "bye", maskKey: key()))
    return (out, ends)
}

final class FrameScannerTests: XCTestCase {
    func testOneShotBoundariesMatchConstruction() throws {
        for masked in [false, true] {
            let (stream, ends) = sampleStream(masked: masked)
            let t = try trace(stream, splits: [], masked: masked)
            XCTAssertEqual(t.ends.map { $0.1 }, ends)
            XCTAssertEqual(t.ends.map { $0.0 }, [.text, .binary, .binary, .binary, .text, .binary, .ping, .text,
                                                  .pong, .continuation, .ping, .continuation, .close])
            XCTAssertEqual(t.headers.map { $0.0.payloadLength },
                           [15, 0, 125, 126, 65535, 65536, 1, 2, 0, 2, 3, 1, 5])
            XCTAssertEqual(t.headers.map { $0.0.headerLength }.prefix(6),
                           masked ? [6, 6, 6, 8, 8, 14] : [2, 2, 2, 4, 4, 10])
            XCTAssertTrue(t.headers.allSatisfy { $0.0.masked == masked })
        }
    }

    func testByteByByteAndRandomSplitsGiveIdenticalBoundaries() throws {
        for masked in [false, true] {
            let (stream, ends) = sampleStream(masked: masked)
            let starts = [0] + ends.dropLast()
            let reference = try trace(stream, splits: [], masked: masked)
            XCTAssertEqual(reference.payloadBytes, stream.count - reference.headers.reduce(0) { $0 + $1.0.headerLength })
            // Byte by byte over the whole stream.
            let dripped = try trace(stream, splits: Array(0..<stream.count), masked: masked)
            XCTAssertEqual(dripped, reference)
            var rng = SplitMix64(seed: 42)
            for _ in 0..<200 {
                let n = Int.random(in: 1...40, using: &rng)
                var cuts = (0..<n).map { _ in Int.random(in: 1..<stream.count, using: &rng) }
                // Plus 1-byte pieces through the header of a random frame.
                let at = starts.randomElement(using: &rng)!
                cuts += (at..<min(at + 15, stream.count))
                XCTAssertEqual(try trace(stream, splits: cuts, masked: masked), reference)
            }
        }
    }

    func testBoundaryStateWhileDripping() throws {
        let frame = WebSocketFrame.build(opcode: .binary, payload: [UInt8](repeating: 1, count: 300),
                                         maskKey: (1, 2, 3, 4))
        var s = WebSocketFrameScanner(expectMasked: true)
        XCTAssertTrue(s.atFrameBoundary)
        for (k, b) in frame.enumerated() {
            let events = try s.scan([b])
            if k == 7 {  // 2 + 2 + 4 header bytes
                guard case .header(let h, let end)? = events.first else { return XCTFail("no header at byte \(k)") }
                XCTAssertEqual(end, 1)
                XCTAssertEqual(h.payloadLength, 300)
                XCTAssertEqual(h.maskKey, 0x01020304)
                XCTAssertEqual(s.remainingPayload, 300)
            }
            if k < frame.count - 1 {
                XCTAssertFalse(s.atFrameBoundary, "byte \(k)")
            } else {
                let h = WebSocketFrameHeader(opcode: .binary, fin: true, rsv1: false, masked: true, maskKey: 0x01020304,
                                             payloadLength: 300, headerLength: 8)
                XCTAssertEqual(events, [.payload(0..<1, payloadOffset: 299), .frameEnd(h, end: 1)])
            }
        }
        XCTAssertTrue(s.atFrameBoundary)
        XCTAssertEqual(s.framesCompleted, 1)
    }

    func testSixteenBitLength() throws {
        let frame = WebSocketFrame.build(opcode: .binary, payload: [UInt8](repeating: 9, count: 1000))
        XCTAssertEqual(Array(frame.prefix(4)), [0x82, 126, 0x03, 0xE8])
        var s = WebSocketFrameScanner(expectMasked: false)
        let events = try s.scan(frame)
        XCTAssertEqual(events.first, .header(WebSocketFrameHeader(opcode: .binary, fin: true, rsv1: false, masked: false,
                                                                  maskKey: 0, payloadLength: 1000, headerLength: 4), end: 4))
        XCTAssertEqual(events[1], .payload(4..<1004, payloadOffset: 0))
        guard case .frameEnd(_, 1004)? = events.last else { return XCTFail("\(events)") }
    }

    func testSixtyFourBitLengthWithoutPayload() throws {
        // Header only: 5 GiB declared, fed in pieces; the scanner keeps count without seeing the data.
        let length: UInt64 = 5 << 30
        let header = rawHeader(b0: 0x82, masked: false, length: length)
        XCTAssertEqual(header.count, 10)
        var s = WebSocketFrameScanner(expectMasked: false)
        XCTAssertEqual(try s.scan(Array(header[0..<3])), [])
        let events = try s.scan(Array(header[3...]))
        guard case .header(let h, 7)? = events.first else { return XCTFail("\(events)") }
        XCTAssertEqual(h.payloadLength, length)
        XCTAssertEqual(h.headerLength, 10)
        let chunk = [UInt8](repeating: 0, count: 4096)
        let more = try s.scan(chunk)
        XCTAssertEqual(more, [.payload(0..<4096, payloadOffset: 0)])
        XCTAssertEqual(s.remainingPayload, length - 4096)
        XCTAssertFalse(s.atFrameBoundary)
    }

    func testLengthLimits() {
        var s = WebSocketFrameScanner(expectMasked: false, maxFramePayload: 1000)
        XCTAssertThrowsError(try s.scan(rawHeader(b0: 0x82, masked: false, length: 1001))) {
            XCTAssertEqual($0 as? WebSocketError, .framePayloadTooLong(1001))
        }
        var top = WebSocketFrameScanner(expectMasked: false, maxFramePayload: .max)
        XCTAssertThrowsError(try top.scan(rawHeader(b0: 0x82, masked: false, length: 1 << 63))) {
            XCTAssertEqual($0 as? WebSocketError, .framePayloadTooLong(1 << 63))
        }
        var def = WebSocketFrameScanner(expectMasked: false)
        XCTAssertThrowsError(try def.scan(rawHeader(b0: 0x82, masked: false, length: (1 << 40) + 1)))
        var ok = WebSocketFrameScanner(expectMasked: false, maxFramePayload: 1000)
        XCTAssertNoThrow(try ok.scan(rawHeader(b0: 0x82, masked: false, length: 1000)))
    }

    func testNonMinimalLengthAccepted() throws {
        var s = WebSocketFrameScanner(expectMasked: false)
        let events = try s.scan(rawHeader(b0: 0x81, masked: false, length: 3, forceExtended: 64) + [0x61, 0x62, 0x63])
        XCTAssertEqual(events.count, 3)
        XCTAssertTrue(s.atFrameBoundary)
    }

    func testMaskingViolations() {
        let unmasked = WebSocketFrame.build(opcode: .text, payload: Array("hi".utf8))
        let masked = WebSocketFrame.build(opcode: .text, payload: Array("hi".utf8), maskKey: (9, 9, 9, 9))
        var fromClient = WebSocketFrameScanner(expectMasked: true)
        XCTAssertThrowsError(try fromClient.scan(unmasked)) {
            XCTAssertEqual($0 as? WebSocketError, .maskingViolation(expectedMasked: true))
        }
        // Failure is sticky, even for valid input afterwards.
        XCTAssertThrowsError(try fromClient.scan(masked))
        XCTAssertEqual(fromClient.error, .maskingViolation(expectedMasked: true))
        var fromServer = WebSocketFrameScanner(expectMasked: false)
        XCTAssertThrowsError(try fromServer.scan(masked)) {
            XCTAssertEqual($0 as? WebSocketError, .maskingViolation(expectedMasked: false))
        }
        var good = WebSocketFrameScanner(expectMasked: true)
        XCTAssertNoThrow(try good.scan(masked))
    }

    func testControlFrameRules() {
        func err(_ bytes: [UInt8], masked: Bool = false) -> WebSocketError? {
            var s = WebSocketFrameScanner(expectMasked: masked)
            do { _ = try s.scan(bytes); return nil } catch { return error }
        }
        // FIN = 0 on ping/close/pong.
        XCTAssertEqual(err(rawHeader(b0: 0x09, masked: false, length: 0)), .fragmentedControlFrame)
        XCTAssertEqual(err(rawHeader(b0: 0x08, masked: false, length: 2)), .fragmentedControlFrame)
        XCTAssertEqual(err(rawHeader(b0: 0x0A, masked: true, length: 0), masked: true), .fragmentedControlFrame)
        // Payload > 125, in either extended form.
        XCTAssertEqual(err(rawHeader(b0: 0x89, masked: false, length: 126)), .controlFrameTooLong(126))
        XCTAssertEqual(err(rawHeader(b0: 0x88, masked: false, length: 70000)), .controlFrameTooLong(127))
        XCTAssertEqual(err(rawHeader(b0: 0x8A, masked: false, length: 5, forceExtended: 16)), .controlFrameTooLong(126))
        // 125 is fine.
        XCTAssertNil(err(WebSocketFrame.build(opcode: .ping, payload: [UInt8](repeating: 0, count: 125))))
        // Reserved opcodes.
        for op: UInt8 in [3, 4, 5, 6, 7, 11, 12, 13, 14, 15] {
            XCTAssertEqual(err([0x80 | op, 0]), .reservedOpcode(op))
        }
    }

    func testReservedBits() {
        func err(_ bytes: [UInt8], allowRSV1: Bool = true) -> WebSocketError? {
            var s = WebSocketFrameScanner(expectMasked: false, allowRSV1: allowRSV1)
            do { _ = try s.scan(bytes); return nil } catch { return error }
        }
        XCTAssertNil(err([0xC1, 0]))  // RSV1 on text: permessage-deflate pass-through
        XCTAssertEqual(err([0xC1, 0], allowRSV1: false), .reservedBitsSet)
        XCTAssertEqual(err([0xA1, 0]), .reservedBitsSet)  // RSV2
        XCTAssertEqual(err([0x91, 0]), .reservedBitsSet)  // RSV3
        XCTAssertEqual(err([0xC9, 0]), .reservedBitsSet)  // RSV1 on ping
        XCTAssertEqual(err([0x41, 0, 0xC0, 0]), .reservedBitsSet)  // RSV1 on a continuation
        XCTAssertNil(err([0x41, 0, 0x80, 0]))
    }

    func testFragmentationStateAndErrors() throws {
        var s = WebSocketFrameScanner(expectMasked: true)
        let key: (UInt8, UInt8, UInt8, UInt8) = (0xA, 0xB, 0xC, 0xD)
        _ = try s.scan(WebSocketFrame.build(opcode: .text, payload: Array("a".utf8), fin: false, maskKey: key))
        XCTAssertTrue(s.inFragmentedMessage)
        XCTAssertTrue(s.atFrameBoundary)  // a close may be injected here
        _ = try s.scan(WebSocketFrame.build(opcode: .ping, payload: [], maskKey: key))
        XCTAssertTrue(s.inFragmentedMessage)
        _ = try s.scan(WebSocketFrame.build(opcode: .continuation, payload: Array("b".utf8), fin: false, maskKey: key))
        XCTAssertTrue(s.inFragmentedMessage)
        _ = try s.scan(WebSocketFrame.build(opcode: .continuation, payload: Array("c".utf8), fin: true, maskKey: key))
        XCTAssertFalse(s.inFragmentedMessage)
        XCTAssertEqual(s.framesCompleted, 4)

        var lone = WebSocketFrameScanner(expectMasked: false)
        XCTAssertThrowsError(try lone.scan(WebSocketFrame.build(opcode: .continuation, payload: [1]))) {
            XCTAssertEqual($0 as? WebSocketError, .unexpectedContinuation)
        }
        var interleaved = WebSocketFrameScanner(expectMasked: false)
        XCTAssertThrowsError(try interleaved.scan(
            WebSocketFrame.build(opcode: .text, payload: [0x61], fin: false) + WebSocketFrame.build(opcode: .binary, payload: [1]))) {
            XCTAssertEqual($0 as? WebSocketError, .expectedContinuation)
        }
    }

    func testCloseSeenAndVisitorAbort() throws {
        var s = WebSocketFrameScanner(expectMasked: false)
        _ = try s.scan(WebSocketFrame.close(code: 1000))
        XCTAssertTrue(s.closeSeen)

        var v = WebSocketFrameScanner(expectMasked: false)
        let two = WebSocketFrame.build(opcode: .text, payload: [0x61]) + WebSocketFrame.build(opcode: .text, payload: [0x62])
        var seen = 0
        XCTAssertThrowsError(try two.withUnsafeBytes { raw in
            try v.scan(raw) { (e) throws(WebSocketError) in
                if case .frameEnd = e { seen += 1; throw .messageTooLong }
            }
        })
        XCTAssertEqual(seen, 1)
        XCTAssertEqual(v.error, .messageTooLong)
    }

    func testScannerDoesNotTouchBytes() throws {
        let (stream, _) = sampleStream(masked: true)
        var copy = stream
        var s = WebSocketFrameScanner(expectMasked: true)
        try copy.withUnsafeMutableBytes { raw in
            try s.scan(UnsafeRawBufferPointer(raw)) { _ in }
        }
        XCTAssertEqual(copy, stream)
    }
}
