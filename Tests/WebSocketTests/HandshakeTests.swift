import Base64Codec
import Foundation
import XCTest
@testable import WebSocket

func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }

final class HandshakeTests: XCTestCase {
    func testSHA1Vectors() {
        XCTAssertEqual(hex(SHA1.hash(Array("abc".utf8))), "a9993e364706816aba3e25717850c26c9cd0d89d")
        XCTAssertEqual(hex(SHA1.hash([])), "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        XCTAssertEqual(hex(SHA1.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))),
                       "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        XCTAssertEqual(hex(SHA1.hash([UInt8](repeating: 0x61, count: 1_000_000))),
                       "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
        // Padding edges: 55, 56, 63, 64 bytes.
        XCTAssertEqual(hex(SHA1.hash([UInt8](repeating: 0x61, count: 55))), "c1c8bbdc22796e28c0e15163d20899b65621d65a")
        XCTAssertEqual(hex(SHA1.hash([UInt8](repeating: 0x61, count: 56))), "c2db330f6083854c99d4b5bfb6e8f29f201be699")
        XCTAssertEqual(hex(SHA1.hash([UInt8](repeating: 0x61, count: 64))), "0098ba824b5c16427bd7a1122a5a442a25ec644d")
    }

    func testAcceptKeyRFC6455() {
        XCTAssertEqual(webSocketAccept(forKey: "dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        XCTAssertTrue(isValidWebSocketKey("dGhlIHNhbXBsZSBub25jZQ=="))
        XCTAssertFalse(isValidWebSocketKey("dGhlIHNhbXBsZSBub25jZQ"))
        XCTAssertFalse(isValidWebSocketKey("dGhlIHNhbXBsZSBub25jZSE="))  // 17 bytes
        XCTAssertFalse(isValidWebSocketKey(""))
    }

    func testBase64() {
        let vectors = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=",
                       "foobar": "Zm9vYmFy"]  // RFC 4648 §10
        for (plain, enc) in vectors {
            XCTAssertEqual(Base64.encodeStandard(Array(plain.utf8)), enc)
            XCTAssertEqual(Base64.decode(enc, urlSafe: false, requirePadding: true), Array(plain.utf8))
            XCTAssertEqual(Base64.encodeURL(Array(plain.utf8)), enc.replacingOccurrences(of: "=", with: ""))
            XCTAssertEqual(Base64.decode(enc.replacingOccurrences(of: "=", with: ""), urlSafe: true), Array(plain.utf8))
        }
        XCTAssertEqual(Base64.encodeURL([0xFB, 0xFF]), "-_8")
        XCTAssertEqual(Base64.encodeStandard([0xFB, 0xFF]), "+/8=")
        XCTAssertNil(Base64.decode("+/8=", urlSafe: true))
        XCTAssertNil(Base64.decode("-_8", urlSafe: false))
        XCTAssertNil(Base64.decode("Zg", urlSafe: false, requirePadding: true))
        XCTAssertNil(Base64.decode("Z", urlSafe: true))
        XCTAssertNil(Base64.decode("Zh==", urlSafe: false))  // non-zero unused bits
        XCTAssertNil(Base64.decode("Zg=", urlSafe: false))
        XCTAssertNil(Base64.decode("Zm 9v", urlSafe: false))
        var rng = SplitMix64(seed: 5)
        for n in 0..<100 {
            let bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            XCTAssertEqual(Base64.encodeStandard(bytes), Data(bytes).base64EncodedString())
            XCTAssertEqual(Base64.decode(Base64.encodeURL(bytes), urlSafe: true), bytes)
        }
    }

    func testParseSubprotocols() {
        XCTAssertEqual(parseSubprotocols(["chat, superchat", " ,v2.bin.proto ,, ", ""]), ["chat", "superchat", "v2.bin.proto"])
        XCTAssertEqual(parseSubprotocols([]), [])
        XCTAssertEqual(parseSubprotocols(["\ta\t"]), ["a"])
    }

    func testSubprotocolTokenBase64url() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"
        let prefix = "base64url.bearer.authorization.k8s.io."
        let entry = prefix + Base64.encodeURL(Array(jwt.utf8))
        XCTAssertFalse(entry.contains("="))
        let r = extractSubprotocolToken(offered: ["channel.k8s.io", entry, "chat"], prefix: prefix)
        XCTAssertEqual(r.token, jwt)
        XCTAssertEqual(r.remaining, ["channel.k8s.io", "chat"])
        // A shorter configured prefix: the carried value is everything after it.
        let r2 = extractSubprotocolToken(offered: ["base64url.bearer.authorization." + Base64.encodeURL(Array(jwt.utf8))],
                                         prefix: "base64url.bearer.authorization.")
        XCTAssertEqual(r2.token, jwt)
        XCTAssertEqual(r2.remaining, [])
        // Padded form and an encoded "Bearer " value are accepted.
        let padded = prefix + Base64.encodeStandard(Array(jwt.utf8)).replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
        XCTAssertEqual(extractSubprotocolToken(offered: [padded], prefix: prefix).token, jwt)
        XCTAssertEqual(extractSubprotocolToken(offered: [prefix + Base64.encodeURL(Array("Bearer \(jwt)".utf8))],
                                               prefix: prefix).token, jwt)
    }

    func testSubprotocolTokenEdgeCases() {
        let prefix = "base64url.bearer.authorization."
        // Missing.
        let none = extractSubprotocolToken(offered: ["chat", "v2"], prefix: prefix)
        XCTAssertNil(none.token)
        XCTAssertEqual(none.remaining, ["chat", "v2"])
        // Invalid base64url: no token, but the credential-looking entry is still removed.
        let bad = extractSubprotocolToken(offered: [prefix + "e30.e30.sig", "chat"], prefix: prefix)
        XCTAssertNil(bad.token)
        XCTAssertEqual(bad.remaining, ["chat"])
        // Empty carried value.
        XCTAssertNil(extractSubprotocolToken(offered: [prefix], prefix: prefix).token)
        // First wins; every prefixed entry removed.
        let two = extractSubprotocolToken(offered: [prefix + Base64.encodeURL(Array("a.b.c".utf8)), "x",
                                                    prefix + Base64.encodeURL(Array("d.e.f".utf8))], prefix: prefix)
        XCTAssertEqual(two.token, "a.b.c")
        XCTAssertEqual(two.remaining, ["x"])
        // Case-sensitive prefix.
        XCTAssertNil(extractSubprotocolToken(offered: ["BASE64URL.bearer.authorization.YQ"], prefix: prefix).token)
        // Verbatim convention when the prefix does not mention base64url.
        let raw = extractSubprotocolToken(offered: ["access_token.e30.e30.sig", "mqtt"], prefix: "access_token.")
        XCTAssertEqual(raw.token, "e30.e30.sig")
        XCTAssertEqual(raw.remaining, ["mqtt"])
        // Empty prefix never matches.
        XCTAssertNil(extractSubprotocolToken(offered: ["chat"], prefix: "").token)
    }
}
