import Foundation
import XCTest
@testable import WebSocket

final class EngineSocketIOTests: XCTestCase {
    func testEngineIOTextPackets() {
        XCTAssertEqual(EngineIOPacket.parse(text: "2"), .ping(""))
        XCTAssertEqual(EngineIOPacket.parse(text: "3"), .pong(""))
        XCTAssertEqual(EngineIOPacket.parse(text: "2probe"), .ping("probe"))
        XCTAssertEqual(EngineIOPacket.parse(text: "3probe"), .pong("probe"))
        XCTAssertEqual(EngineIOPacket.parse(text: "1"), .close)
        XCTAssertEqual(EngineIOPacket.parse(text: "5"), .upgrade)
        XCTAssertEqual(EngineIOPacket.parse(text: "6"), .noop)
        XCTAssertEqual(EngineIOPacket.parse(text: "0{\"sid\":\"S\"}"), .open("{\"sid\":\"S\"}"))
        XCTAssertEqual(EngineIOPacket.parse(text: "42[\"ev\",1]"), .message("2[\"ev\",1]"))
        XCTAssertEqual(EngineIOPacket.parse(text: "4héllo"), .message("héllo"))
        XCTAssertNil(EngineIOPacket.parse(text: ""))
        XCTAssertNil(EngineIOPacket.parse(text: "7"))
        XCTAssertNil(EngineIOPacket.parse(text: "x"))
        XCTAssertNil(EngineIOPacket.parse(textBytes: [0x34, 0xFF]))
        XCTAssertEqual(EngineIOPacket.parse(webSocketMessage: WebSocketMessage(opcode: .binary, payload: [1, 2])), .binary([1, 2]))
        XCTAssertEqual(EngineIOPacket.parse(webSocketMessage: WebSocketMessage(opcode: .text, payload: Array("3probe".utf8))),
                       .pong("probe"))
        XCTAssertNil(EngineIOPacket.parse(webSocketMessage: WebSocketMessage(opcode: .ping, payload: [])))
        for p: EngineIOPacket in [.open("{}"), .close, .ping("probe"), .pong(""), .message("0"), .upgrade, .noop] {
            XCTAssertEqual(EngineIOPacket.parse(text: p.encoded), p)
        }
    }

    func testPollingPayload() {
        let body = Array("0{\"sid\":\"S\",\"upgrades\":[\"websocket\"]}\u{1e}40{\"token\":\"t\"}".utf8)
        let packets = parsePollingPayload(body)
        XCTAssertEqual(packets, [.open("{\"sid\":\"S\",\"upgrades\":[\"websocket\"]}"), .message("0{\"token\":\"t\"}")])
        XCTAssertEqual(socketIOConnect(fromPollingPayload: body)?.authString("token"), "t")

        let withBinary = Array("4hello\u{1e}bAQIDBA==\u{1e}2".utf8)
        XCTAssertEqual(parsePollingPayload(withBinary), [.message("hello"), .binary([1, 2, 3, 4]), .ping("")])
        XCTAssertEqual(encodePollingPayload([.message("hello"), .binary([1, 2, 3, 4]), .ping("")]), withBinary)

        XCTAssertNil(parsePollingPayload([]))
        XCTAssertNil(parsePollingPayload(Array("4a\u{1e}\u{1e}4b".utf8)))  // empty record
        XCTAssertNil(parsePollingPayload(Array("4a\u{1e}9".utf8)))
        XCTAssertNil(parsePollingPayload(Array("b!!!!".utf8)))
        XCTAssertNil(socketIOConnect(fromPollingPayload: Array("42[\"ev\"]".utf8)))
    }

    func testSocketIOConnectVariants() throws {
        let bare = try XCTUnwrap(socketIOConnect(fromEngineMessage: "40"))
        XCTAssertEqual(bare, SocketIOConnect(namespace: "/", auth: nil))
        XCTAssertNil(bare.authString("token"))

        let tok = try XCTUnwrap(socketIOConnect(fromEngineMessage: "40{\"token\":\"x\"}"))
        XCTAssertEqual(tok.namespace, "/")
        XCTAssertEqual(tok.auth, Array("{\"token\":\"x\"}".utf8))
        XCTAssertEqual(tok.authString("token"), "x")

        let admin = try XCTUnwrap(socketIOConnect(fromEngineMessage: "40/admin,{\"token\":\"x\"}"))
        XCTAssertEqual(admin.namespace, "/admin")
        XCTAssertEqual(admin.authString("token"), "x")

        let nsOnly = try XCTUnwrap(socketIOConnect(fromEngineMessage: "40/admin,"))
        XCTAssertEqual(nsOnly, SocketIOConnect(namespace: "/admin", auth: nil))

        let oo = try XCTUnwrap(socketIOConnect(fromEngineMessage: "40{\"token\":\"eyJ.a.b\",\"session\":null}"))
        XCTAssertEqual(oo.authString("token"), "eyJ.a.b")
        XCTAssertNil(oo.authString("session"))

        XCTAssertNil(socketIOConnect(fromEngineMessage: "2"))
        XCTAssertNil(socketIOConnect(fromEngineMessage: "3probe"))
        XCTAssertNil(socketIOConnect(fromEngineMessage: "42[\"ev\",1]"))
        XCTAssertNil(socketIOConnect(fromEngineMessage: "41"))
        XCTAssertNil(socketIOConnect(fromEngineMessage: "0"))
        XCTAssertNil(socketIOConnect(fromEngineMessage: "40[\"token\"]"))   // auth must be an object
        XCTAssertNil(socketIOConnect(fromEngineMessage: "40{\"token\":"))   // truncated
        XCTAssertNil(socketIOConnect(fromEngineMessage: "40\"x\""))
    }

    func testSocketIOPacketParse() {
        XCTAssertEqual(SocketIOPacket.parse("2[\"ev\",1]"),
                       SocketIOPacket(type: .event, payload: Array("[\"ev\",1]".utf8)))
        XCTAssertEqual(SocketIOPacket.parse("2/chat,12[\"ev\"]"),
                       SocketIOPacket(type: .event, namespace: "/chat", ackID: 12, payload: Array("[\"ev\"]".utf8)))
        XCTAssertEqual(SocketIOPacket.parse("3/chat,12[]"),
                       SocketIOPacket(type: .ack, namespace: "/chat", ackID: 12, payload: Array("[]".utf8)))
        XCTAssertEqual(SocketIOPacket.parse("51-[\"ev\",{\"_placeholder\":true,\"num\":0}]"),
                       SocketIOPacket(type: .binaryEvent, attachments: 1,
                                      payload: Array("[\"ev\",{\"_placeholder\":true,\"num\":0}]".utf8)))
        XCTAssertEqual(SocketIOPacket.parse("1"), SocketIOPacket(type: .disconnect))
        XCTAssertEqual(SocketIOPacket.parse("1/admin,"), SocketIOPacket(type: .disconnect, namespace: "/admin"))
        XCTAssertEqual(SocketIOPacket.parse("4{\"message\":\"no\"}"),
                       SocketIOPacket(type: .connectError, payload: Array("{\"message\":\"no\"}".utf8)))
        XCTAssertNil(SocketIOPacket.parse("5[\"ev\"]"))   // missing attachment count
        XCTAssertNil(SocketIOPacket.parse("2"))           // an event needs an array
        XCTAssertNil(SocketIOPacket.parse("2{}"))
        XCTAssertNil(SocketIOPacket.parse("1{}"))
        XCTAssertNil(SocketIOPacket.parse("7"))
        XCTAssertNil(SocketIOPacket.parse(""))
        let p = SocketIOPacket(type: .binaryAck, namespace: "/n", attachments: 2, ackID: 5, payload: Array("[1]".utf8))
        XCTAssertEqual(p.encoded, "62-/n,5[1]")
        XCTAssertEqual(SocketIOPacket.parse(p.encoded), p)
    }

    func testConnectErrorAndClose() {
        XCTAssertEqual(socketIOConnectError(message: "not authorized"), "44{\"message\":\"not authorized\"}")
        XCTAssertEqual(socketIOConnectError(namespace: "/", message: "not authorized"), "44{\"message\":\"not authorized\"}")
        XCTAssertEqual(socketIOConnectError(namespace: "/admin", message: "not authorized"),
                       "44/admin,{\"message\":\"not authorized\"}")
        XCTAssertEqual(socketIOConnectError(message: "a \"b\"\n", dataJSON: "{\"code\":4006}"),
                       "44{\"message\":\"a \\\"b\\\"\\n\",\"data\":{\"code\":4006}}")
        XCTAssertEqual(engineIOClose(), "1")
        // The packet reads back as a CONNECT_ERROR whose message is what we put in.
        let text = socketIOConnectError(namespace: "/x", message: "tok\u{1}en \"expired\"")
        guard case .message(let data)? = EngineIOPacket.parse(text: text), let p = SocketIOPacket.parse(data) else {
            return XCTFail(text)
        }
        XCTAssertEqual(p.type, .connectError)
        XCTAssertEqual(p.namespace, "/x")
        XCTAssertEqual(jsonStringField(p.payload!, "message"), .some("tok\u{1}en \"expired\""))
        let obj = try? JSONSerialization.jsonObject(with: Data(p.payload!)) as? [String: String]
        XCTAssertEqual(obj?["message"], "tok\u{1}en \"expired\"")
    }

    func testConnectOverWebSocketEndToEnd() throws {
        // The client's first messages on a `{ socketio: token }` route, masked, split awkwardly.
        var stream: [UInt8] = []
        stream += WebSocketFrame.build(opcode: .text, payload: Array("2probe".utf8), maskKey: (1, 2, 3, 4))
        stream += WebSocketFrame.build(opcode: .text, payload: Array("40{\"token\":\"eyJ.x.y\",\"session\":null}".utf8),
                                       maskKey: (5, 6, 7, 8))
        var reader = WebSocketMessageReader(expectMasked: true, maxMessageBytes: 64 * 1024)
        var found: SocketIOConnect?
        for chunk in [stream[0..<5], stream[5..<13], stream[13...]] {
            for m in try reader.feed(Array(chunk)) {
                if let t = m.text, let c = socketIOConnect(fromEngineMessage: t) { found = c }
            }
        }
        XCTAssertEqual(found?.authString("token"), "eyJ.x.y")
    }
}
