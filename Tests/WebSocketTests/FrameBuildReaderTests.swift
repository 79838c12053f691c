import XCTest
@testable import WebSocket

final class FrameBuildReaderTests: XCTestCase {
    func testBuildSmallUnmaskedAndMasked() {
        XCTAssertEqual(WebSocketFrame.build(opcode: .text, payload: Array("Hello".utf8)),
                       [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f])  // RFC 6455 §5.7
        XCTAssertEqual(WebSocketFrame.build(opcode: .text, payload: Array("Hello".utf8), maskKey: (0x37, 0xfa, 0x21, 0x3d)),
                       [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58])  // RFC 6455 §5.7
        XCTAssertEqual(WebSocketFrame.build(opcode: .text, payload: Array("Hel".utf8), fin: false), [0x01, 0x03, 0x48, 0x65, 0x6c])
    }

    func testBuildLengthForms() {
        let f126 = WebSocketFrame.build(opcode: .binary, payload: [UInt8](repeating: 0, count: 126))
        XCTAssertEqual(Array(f126.prefix(4)), [0x82, 126, 0, 126])
        XCTAssertEqual(f126.count, 4 + 126)
        let f64k = WebSocketFrame.build(opcode: .binary, payload: [UInt8](repeating: 0, count: 65536), maskKey: (1, 2, 3, 4))
        XCTAssertEqual(Array(f64k.prefix(14)), [0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4])
        XCTAssertEqual(f64k.count, 14 + 65536)
    }

    func testCloseBuildAndParse() throws {
        let frame = WebSocketFrame.close(code: WebSocketCloseCode.policyViolation, reason: "token expired")
        XCTAssertEqual(Array(frame.prefix(4)), [0x88, 15, 0x03, 0xF0])
        XCTAssertEqual(WebSocketFrame.parseClose(Array(frame.dropFirst(2))).code, 1008)
        XCTAssertEqual(WebSocketFrame.parseClose(Array(frame.dropFirst(2))).reason, "token expired")

        // Masked (toward upstream): read back through the reader.
        var reader = WebSocketMessageReader(expectMasked: true)
        let msgs = try reader.feed(WebSocketFrame.close(code: 1001, reason: "bye", maskKey: (0xDE, 0xAD, 0xBE, 0xEF)))
        XCTAssertEqual(msgs.count, 1)
        XCTAssertEqual(msgs[0].opcode, .close)
        let parsed = WebSocketFrame.parseClose(msgs[0].payload)
        XCTAssertEqual(parsed.code, 1001)
        XCTAssertEqual(parsed.reason, "bye")

        XCTAssertEqual(WebSocketFrame.parseClose([]).code, nil)
        XCTAssertEqual(WebSocketFrame.parseClose([0x03]).code, nil)
        XCTAssertEqual(WebSocketFrame.parseClose([0x03, 0xE8]).code, 1000)
        XCTAssertEqual(WebSocketFrame.parseClose([0x03, 0xE8]).reason, "")
    }

    func testCloseReasonTruncatedOnUTF8Boundary() throws {
        let long = String(repeating: "é", count: 100)  // 200 bytes
        let payload = WebSocketFrame.closePayload(code: 1008, reason: long)
        XCTAssertEqual(payload.count, 2 + 122)  // 61 × 2 bytes; a 62nd would make 124 > 123
        XCTAssertEqual(WebSocketFrame.parseClose(payload).reason, String(repeating: "é", count: 61))
        let ascii = WebSocketFrame.closePayload(code: 1008, reason: String(repeating: "x", count: 200))
        XCTAssertEqual(ascii.count, 125)
        let emoji = WebSocketFrame.closePayload(code: 1008, reason: String(repeating: "x", count: 121) + "😀")
        XCTAssertEqual(emoji.count, 2 + 121)  // the 4-byte scalar does not fit in the last 2 bytes
        // The frame is always a legal control frame.
        var s = WebSocketFrameScanner(expectMasked: false)
        XCTAssertNoThrow(try s.scan(WebSocketFrame.close(code: 1008, reason: long)))
    }

    func testApplyMaskWithPhase() {
        var bytes: [UInt8] = [0, 0, 0, 0, 0]
        WebSocketFrame.applyMask(&bytes, maskKey: 0x01020304, offset: 2)
        XCTAssertEqual(bytes, [3, 4, 1, 2, 3])
        WebSocketFrame.applyMask(&bytes, maskKey: 0x01020304, offset: 2)
        XCTAssertEqual(bytes, [0, 0, 0, 0, 0])
    }

    func testReaderFragmentedWithInterleavedPingRandomSplits() throws {
        let key: (UInt8, UInt8, UInt8, UInt8) = (0x12, 0x34, 0x56, 0x78)
        var stream: [UInt8] = []
        stream += WebSocketFrame.build(opcode: .text, payload: Array("40{\"tok".utf8), fin: false, maskKey: key)
        stream += WebSocketFrame.build(opcode: .ping, payload: Array("hb".utf8), maskKey: (1, 1, 1, 1))
        stream += WebSocketFrame.build(opcode: .continuation, payload: Array("en\":\"".utf8), fin: false, maskKey: (9, 8, 7, 6))
        stream += WebSocketFrame.build(opcode: .continuation, payload: Array("x\"}".utf8), fin: true, maskKey: key)
        let big = (0..<70000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        stream += WebSocketFrame.build(opcode: .binary, payload: big, maskKey: (0xFF, 0, 0x0F, 0xF0))
        stream += WebSocketFrame.build(opcode: .text, payload: [], maskKey: key)
        let expected = [
            WebSocketMessage(opcode: .ping, payload: Array("hb".utf8)),
            WebSocketMessage(opcode: .text, payload: Array("40{\"token\":\"x\"}".utf8)),
            WebSocketMessage(opcode: .binary, payload: big),
            WebSocketMessage(opcode: .text, payload: []),
        ]
        var rng = SplitMix64(seed: 99)
        for round in 0..<60 {
            var reader = WebSocketMessageReader(expectMasked: true)
            var got: [WebSocketMessage] = []
            var i = 0
            while i < stream.count {
                let n = round == 0 ? 1 : Int.random(in: 1...(round < 30 ? 7 : 5000), using: &rng)
                let end = min(stream.count, i + n)
                got += try reader.feed(Array(stream[i..<end]))
                i = end
            }
            XCTAssertEqual(got, expected, "round \(round)")
            XCTAssertTrue(reader.scanner.atFrameBoundary)
        }
        XCTAssertEqual(expected[1].text, "40{\"token\":\"x\"}")
    }

    func testReaderLimitAndHandOffToScanner() throws {
        var reader = WebSocketMessageReader(expectMasked: false, maxMessageBytes: 10)
        XCTAssertThrowsError(try reader.feed(WebSocketFrame.build(opcode: .text, payload: [UInt8](repeating: 0x61, count: 11)))) {
            XCTAssertEqual($0 as? WebSocketError, .messageTooLong)
        }
        var frag = WebSocketMessageReader(expectMasked: false, maxMessageBytes: 10)
        _ = try frag.feed(WebSocketFrame.build(opcode: .text, payload: [UInt8](repeating: 0x61, count: 6), fin: false))
        XCTAssertThrowsError(try frag.feed(WebSocketFrame.build(opcode: .continuation, payload: [UInt8](repeating: 0x61, count: 5))))

        // Read the first message, then continue with the scanner mid-frame.
        let first = WebSocketFrame.build(opcode: .text, payload: Array("40".utf8))
        let second = WebSocketFrame.build(opcode: .binary, payload: [UInt8](repeating: 7, count: 300))
        var r = WebSocketMessageReader(expectMasked: false)
        let stream = first + second
        XCTAssertEqual(try r.feed(Array(stream[0..<(first.count + 10)])), [WebSocketMessage(opcode: .text, payload: Array("40".utf8))])
        var scanner = r.scanner
        XCTAssertFalse(scanner.atFrameBoundary)
        let events = try scanner.scan(Array(stream[(first.count + 10)...]))
        guard case .frameEnd(let h, let end)? = events.last else { return XCTFail("\(events)") }
        XCTAssertEqual(h.payloadLength, 300)
        XCTAssertEqual(end, stream.count - first.count - 10)
    }

    func testCompressedMessageFlagged() throws {
        var r = WebSocketMessageReader(expectMasked: false)
        let msgs = try r.feed([0xC1, 0x02, 0xAA, 0xBB])
        XCTAssertEqual(msgs, [WebSocketMessage(opcode: .text, payload: [0xAA, 0xBB], compressed: true)])
        XCTAssertNil(msgs[0].text)
        XCTAssertNil(EngineIOPacket.parse(webSocketMessage: msgs[0]))
    }
}
