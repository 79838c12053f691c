import Base64Codec
import XCTest

@testable import JWT

final class JSONTests: XCTestCase {
    func parse(_ s: String) throws -> JSONValue { try JSONValue.parse(Array(s.utf8)) }

    func testValues() throws {
        XCTAssertEqual(try parse(" {\"a\": [1, -2.5, 3e2, true, false, null, \"x\"], \"b\": {}} "),
                       ["a": [1, -2.5, 300, true, false, nil, "x"], "b": .object([])])
        XCTAssertEqual(try parse("0"), 0)
        XCTAssertEqual(try parse("-0"), .number(-0.0))
        XCTAssertEqual(try parse("1.5E-3"), 0.0015)
        XCTAssertEqual(try parse("12345678901234567890"), .number(1.2345678901234567e19))
        XCTAssertEqual(try parse("4102444800"), 4_102_444_800)
        XCTAssertEqual(try parse("[]"), [])
        XCTAssertEqual(try parse("\"\""), "")
    }

    func testNumbersMatchTheStandardLibrary() throws {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<20000 {
            var text = Bool.random(using: &rng) ? "-" : ""
            let intDigits = Int.random(in: 1...18, using: &rng)
            text += String(Int.random(in: 1...9, using: &rng))
            for _ in 1..<intDigits { text += String(Int.random(in: 0...9, using: &rng)) }
            if Bool.random(using: &rng) {
                text += "."
                for _ in 0..<Int.random(in: 1...12, using: &rng) { text += String(Int.random(in: 0...9, using: &rng)) }
            }
            if Int.random(in: 0..<4, using: &rng) == 0 { text += "e" + String(Int.random(in: -40...40, using: &rng)) }
            XCTAssertEqual(try parse(text), .number(Double(text)!), text)
        }
        for text in ["0.1", "0.000001", "1e22", "1e23", "123456789012345e-22", "9007199254740993", "4102444800.5",
                     "0.30000000000000004", "1E+2", "5e-324", "1.7976931348623157e308"] {
            XCTAssertEqual(try parse(text), .number(Double(text)!), text)
        }
    }

    func testCommonNamesAreTheSameStrings() throws {
        for name in CommonNames.names {
            XCTAssertEqual(try parse("\"\(name)\"").stringValue, name)
            XCTAssertEqual(try parse("\"\(name)x\"").stringValue, name + "x")
        }
        XCTAssertEqual(try parse(#"{"alg":"RS256","typ":"JWT"}"#)["typ"], "JWT")
    }

    func testStrings() throws {
        XCTAssertEqual(try parse(#""a\"b\\c\/d\b\f\n\r\t""#), .string("a\"b\\c/d\u{8}\u{c}\n\r\t"))
        XCTAssertEqual(try parse(#""\u00e9\u4e2d\ud83d\ude00""#), "é中😀")
        XCTAssertEqual(try parse("\"Zoë 山田 😀\""), "Zoë 山田 😀")
        XCTAssertEqual(try parse(#""\u0000""#), .string("\u{0}"))
    }

    func testRejects() {
        let bad = [
            "", " ", "{", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "01", "1.", ".5", "+1", "1e", "--1", "NaN",
            "Infinity", "tru", "nul", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"",
            "\"\\ud800\\u0041\"", "\"a\u{1}b\"", "1 2", "{} x", "[1] ]", "\"\\\"", "1e400", "[\"a\" \"b\"]",
            "{\"a\":1 \"b\":2}", "'a'", "// c\n1", "[1,,2]",
        ]
        for s in bad {
            XCTAssertThrowsError(try parse(s), "accepted \(s.debugDescription)")
        }
        XCTAssertThrowsError(try JSONValue.parse([0x22, 0xFF, 0x22]))  // invalid UTF-8
        XCTAssertThrowsError(try JSONValue.parse([0x22, 0xC3, 0x22]))  // truncated sequence
        XCTAssertThrowsError(try JSONValue.parse([0x22, 0xED, 0xA0, 0x80, 0x22]))  // CESU surrogate
        XCTAssertThrowsError(try JSONValue.parse(Array("\"\\n\u{FF}\"".utf8) + [0xFF, 0x22]))  // escape + bad byte
    }

    func testDuplicateKeys() throws {
        XCTAssertThrowsError(try parse("{\"a\":1,\"a\":2}"))
        // More than 16 members switches to a set; still caught.
        let many = (0..<40).map { "\"k\($0)\":\($0)" }.joined(separator: ",")
        XCTAssertNoThrow(try parse("{\(many)}"))
        XCTAssertThrowsError(try parse("{\(many),\"k3\":0}"))
        XCTAssertEqual(try JSONValue.parse(Array("{\"a\":1,\"a\":2}".utf8), allowDuplicateKeys: true)["a"], 1)
    }

    func testDepthLimit() throws {
        XCTAssertNoThrow(try parse(String(repeating: "[", count: 64) + String(repeating: "]", count: 64)))
        XCTAssertThrowsError(try parse(String(repeating: "[", count: 65) + String(repeating: "]", count: 65)))
        XCTAssertThrowsError(try parse(String(repeating: "{\"a\":", count: 100) + "1" + String(repeating: "}", count: 100)))
        XCTAssertNoThrow(try JSONValue.parse(Array((String(repeating: "[", count: 100) + String(repeating: "]", count: 100)).utf8), maxDepth: 200))
    }

    func testErrorOffset() {
        do {
            _ = try parse("{\"a\": tru}")
            XCTFail()
        } catch {
            XCTAssertEqual((error as? JSONParseError)?.offset, 6)
        }
    }

    func testAccessorsAndPaths() throws {
        let v = try parse(#"{"token":"abc","realm_access":{"roles":["admin"]},"n":3}"#)
        XCTAssertEqual(v["token"]?.stringValue, "abc")
        XCTAssertEqual(v.value(atPath: ["realm_access", "roles"]), ["admin"])
        XCTAssertNil(v.value(atPath: ["realm_access", "nope"]))
        XCTAssertNil(v.value(atPath: ["token", "x"]))
        XCTAssertEqual(v["n"]?.doubleValue, 3)
        XCTAssertNil(JSONValue.array([])["x"])
    }

    func testEqualityIgnoresMemberOrder() throws {
        XCTAssertEqual(try parse(#"{"a":1,"b":2}"#), try parse(#"{"b":2,"a":1}"#))
        XCTAssertNotEqual(try parse(#"{"a":1,"b":2}"#), try parse(#"{"a":1}"#))
        XCTAssertNotEqual(try parse("[1,2]"), try parse("[2,1]"))
    }

    func testSerializationRoundTrip() throws {
        let text = #"{"a":[1,-2.5,true,null,"x\"\n\u0001é"],"b":{"c":4102444800}}"#
        let v = try parse(text)
        XCTAssertEqual(v.serialized(), text.replacingOccurrences(of: "\\u0001", with: "\\u0001"))
        XCTAssertEqual(try parse(v.serialized()), v)
    }

    func testParsesFromStringAndSubsequences() throws {
        XCTAssertEqual(try JSONValue.parse("[1]"), [1])
        let bytes = Array("xx[2]yy".utf8)
        XCTAssertEqual(try JSONValue.parse(bytes[2..<5]), [2])
    }
}

final class Base64Tests: XCTestCase {
    func testStrictURL() {
        XCTAssertEqual(Base64.decodeURL(""), [])
        XCTAssertEqual(Base64.decodeURL("Zg"), Array("f".utf8))
        XCTAssertEqual(Base64.decodeURL("Zm8"), Array("fo".utf8))
        XCTAssertEqual(Base64.decodeURL("Zm9v"), Array("foo".utf8))
        XCTAssertEqual(Base64.decodeURL("Zm9vYmFy"), Array("foobar".utf8))
        XCTAssertEqual(Base64.decodeURL("-_8"), [0xFB, 0xFF])
        for bad in ["Zg==", "Zm8=", "Z", "Zm9vY", "+/8", "Zm 9v", "Zm9v\n", "Zh", "Zm9", "Zm-="] {
            XCTAssertNil(Base64.decodeURL(bad), bad)
        }
    }

    func testLenientAndEncode() {
        XCTAssertEqual(Base64.decodeLenient(" Zm9vYg==\n", url: false), Array("foob".utf8))
        XCTAssertEqual(Base64.decodeLenient("+/8=", url: false), [0xFB, 0xFF])
        XCTAssertNil(Base64.decodeLenient("-_8=", url: false))
        XCTAssertEqual(Base64.decodeLenient("-_8", url: true), [0xFB, 0xFF])
        XCTAssertNil(Base64.decodeLenient("Zg=", url: true))
        for n in 0..<70 {
            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            XCTAssertEqual(Base64.decodeURL(Base64.encodeURL(bytes)), bytes)
            XCTAssertEqual(Base64.decodeLenient(Base64.encodeStandard(bytes), url: false), bytes)
        }
    }
}
