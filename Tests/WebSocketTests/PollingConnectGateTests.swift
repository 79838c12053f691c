import XCTest
@testable import WebSocket

final class PollingConnectGateTests: XCTestCase {
    /// Feeds `body` in pieces of `split` bytes; returns what was forwarded, the CONNECTs checked, and the verdict.
    func run(_ body: String, split: Int, allow: @escaping (String) -> Bool = { _ in true }) -> (String, [String], Bool) {
        var gate = PollingConnectGate()
        var out: [UInt8] = []
        var checked: [String] = []
        let bytes = Array(body.utf8)
        var ok = true
        var i = 0
        let check: ([UInt8]) -> Bool = { r in let s = String(decoding: r, as: UTF8.self); checked.append(s); return allow(s) }
        while i < bytes.count && ok {
            let piece = Array(bytes[i..<min(i + split, bytes.count)])
            ok = piece.withUnsafeBytes { gate.feed($0, forward: { out.append(contentsOf: $0) }, check: check) }
            i += split
        }
        if ok { ok = gate.finish(forward: { out.append(contentsOf: $0) }, check: check) }
        return (String(decoding: out, as: UTF8.self), checked, ok)
    }

    func testForwardsEverythingByteForByteAndChecksEachConnect() {
        let body = "42[\"ev\",\"x\"]\u{1e}40{\"token\":\"a\"}\u{1e}2\u{1e}40/admin,{\"token\":\"b\"}\u{1e}4x"
        for split in [1, 2, 3, 7, 1000] {
            let (out, checked, ok) = run(body, split: split)
            XCTAssertTrue(ok, "split \(split)")
            XCTAssertEqual(out, body, "split \(split)")
            XCTAssertEqual(checked, ["40{\"token\":\"a\"}", "40/admin,{\"token\":\"b\"}"], "split \(split)")
        }
    }

    func testRefusedConnectIsNeverForwarded() {
        let body = "42[\"a\"]\u{1e}40{\"token\":\"bad\"}\u{1e}42[\"after\"]"
        for split in [1, 4, 100] {
            let (out, _, ok) = run(body, split: split) { !$0.contains("bad") }
            XCTAssertFalse(ok)
            XCTAssertFalse(out.contains("40{"), "split \(split): \(out)")
            XCTAssertFalse(out.contains("after"))
        }
    }

    func testConnectAtTheVeryEndIsCheckedOnFinish() {
        let (out, checked, ok) = run("3\u{1e}40{\"token\":\"z\"}", split: 5)
        XCTAssertTrue(ok)
        XCTAssertEqual(checked, ["40{\"token\":\"z\"}"])
        XCTAssertEqual(out, "3\u{1e}40{\"token\":\"z\"}")
    }

    func testFourInsideARecordIsNotARecordStart() {
        let (out, checked, ok) = run("42[\"40\"]\u{1e}4", split: 1)
        XCTAssertTrue(ok)
        XCTAssertEqual(checked, [])
        XCTAssertEqual(out, "42[\"40\"]\u{1e}4")
    }
}
