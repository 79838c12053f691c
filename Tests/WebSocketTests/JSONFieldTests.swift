import Foundation
import XCTest
@testable import WebSocket

final class JSONFieldTests: XCTestCase {
    func f(_ json: String, _ field: String = "token") -> String?? { jsonStringField(json, field) }

    func testBasic() {
        XCTAssertEqual(f(#"{"token":"abc"}"#), .some("abc"))
        XCTAssertEqual(f(#" { "a" : 1 , "token" : "abc" } "#), .some("abc"))
        XCTAssertEqual(f(#"{}"#), .some(nil))
        XCTAssertEqual(f(#"{"other":"abc"}"#), .some(nil))
        XCTAssertEqual(f(#"{"token":null}"#), .some(nil))
        XCTAssertEqual(f(#"{"token":42}"#), .some(nil))
        XCTAssertEqual(f(#"{"token":{"token":"x"}}"#), .some(nil))
        XCTAssertEqual(f(#"{"token":""}"#), .some(""))
    }

    func testEscapes() {
        XCTAssertEqual(f(#"{"token":"a\"b\\c\/d\n\t\r\b\f"}"#), .some("a\"b\\c/d\n\t\r\u{8}\u{c}"))
        XCTAssertEqual(f(#"{"token":"\u00e9\u20AC\ud83d\ude00"}"#), .some("é€😀"))
        XCTAssertEqual(f(#"{"tok\u0065n":"v"}"#), .some("v"))  // escaped key
        XCTAssertEqual(f(#"{"k":"x\"token\":\"evil","token":"good"}"#), .some("good"))
        XCTAssertEqual(f(#"{"k":"\"token\":\"evil\""}"#), .some(nil))
        XCTAssertEqual(f(#"{"token":"\ud800"}"#), .some(nil))  // lone surrogate
        XCTAssertEqual(f(#"{"token":"\ud800\u0041"}"#), .some(nil))
        XCTAssertEqual(f(#"{"x":"\ud800","token":"ok"}"#), .some("ok"))
        XCTAssertNil(f(#"{"token":"\x"}"#))
        XCTAssertNil(f(#"{"token":"\u12"}"#))
        XCTAssertNil(f("{\"token\":\"a\u{1}b\"}"))  // raw control character
        XCTAssertEqual(f("{\"token\":\"héllo\"}"), .some("héllo"))
    }

    func testNestedSameKeyDoesNotMatch() {
        XCTAssertEqual(f(#"{"auth":{"token":"deep"}}"#), .some(nil))
        XCTAssertEqual(f(#"{"a":[{"token":"deep"}],"b":{"c":{"token":"deeper"}}}"#), .some(nil))
        XCTAssertEqual(f(#"{"a":{"token":"deep"},"token":"top"}"#), .some("top"))
        XCTAssertEqual(f(#"{"token":"top","a":{"token":"deep"}}"#), .some("top"))
        XCTAssertEqual(f(#"{"a":["token","x"],"token":"t"}"#), .some("t"))
    }

    func testDuplicateKeysLastWinsLikeJSONParse() {
        XCTAssertEqual(f(#"{"token":"a","token":"b"}"#), .some("b"))
        XCTAssertEqual(f(#"{"token":"a","token":null}"#), .some(nil))
        XCTAssertEqual(f(#"{"token":1,"token":"b"}"#), .some("b"))
    }

    func testNotAnObject() {
        for doc in [#"["token","x"]"#, #""token""#, "42", "null", "", "   ", #"{"token":"x""#, #"{"token":"x",}"#,
                    #"{"token":"x"} extra"#, #"{"token":"x"}{}"#, #"{'token':'x'}"#, #"{token:"x"}"#,
                    #"{"token" "x"}"#, #"{"a":01,"token":"x"}"#, #"{"a":1.,"token":"x"}"#, #"{"a":-,"token":"x"}"#,
                    #"{"a":tru,"token":"x"}"#, #"{"a":[1,],"token":"x"}"#, #"{"a":{"b"},"token":"x"}"#,
                    #"{"a":[1 2],"token":"x"}"#, "{\"token\":\"x\"} //c", #"{,}"#] {
            XCTAssertNil(f(doc), doc)
        }
    }

    func testValuesSkippedProperly() {
        let doc = #"{"n":-0.5e+10,"m":0,"e":1E5,"t":true,"f":false,"z":null,"arr":[[],[{}],[1,"]",{"}":"{"}]],"s":"}","token":"ok"}"#
        XCTAssertEqual(f(doc), .some("ok"))
        XCTAssertTrue(isValidJSON(Array(doc.utf8)))
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        XCTAssertNil(f("{\"a\":\(deep),\"token\":\"x\"}"))
        let ok = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        XCTAssertEqual(f("{\"a\":\(ok),\"token\":\"x\"}"), .some("x"))
    }

    func testAgreesWithJSONSerializationOnGeneratedObjects() throws {
        var rng = SplitMix64(seed: 2024)
        let atoms = ["1", "-2.5e3", "true", "false", "null", #""t\"o\\ken""#, #""\u00e9""#, "[]", "{}",
                     #"{"token":"inner"}"#, #"["token",{"token":1}]"#]
        for _ in 0..<300 {
            var members: [String] = []
            var expected: String?? = .some(nil)
            for _ in 0..<Int.random(in: 0...5, using: &rng) {
                let key = ["token", "a", "tok", "session", "tokenx"].randomElement(using: &rng)!
                let value = Bool.random(using: &rng) ? "\"v\(Int.random(in: 0...99, using: &rng))\""
                                                     : atoms.randomElement(using: &rng)!
                members.append("\"\(key)\":\(value)")
                if key == "token" {  // last one wins
                    let parsed = try JSONSerialization.jsonObject(with: Data("[\(value)]".utf8)) as? [Any]
                    expected = .some(parsed?.first as? String)
                }
            }
            let doc = "{" + members.joined(separator: ",") + "}"
            XCTAssertEqual(f(doc), expected, doc)
            // Cross-check validity with Foundation.
            XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(doc.utf8)), doc)
        }
    }
}
