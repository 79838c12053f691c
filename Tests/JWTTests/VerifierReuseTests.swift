import XCTest

@testable import JWT

/// Pooled verification contexts must give the same answer on every reuse, after failures too.
final class ContextReuseTests: XCTestCase {
    func testRepeatedVerificationPerKey() throws {
        let cases = FixtureEnvironment.json("positive.json").arrayValue!
        for c in cases {
            let name = c["name"]!.stringValue!
            let (set, _) = try Fixture.keySet(c["keys"]!)
            let verifier = Verifier(keySets: [set])
            let token = c["token"]!.stringValue!
            var forgedBytes = Array(token.utf8)
            let i = forgedBytes.count - 6
            forgedBytes[i] = forgedBytes[i] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
            let forged = String(decoding: forgedBytes, as: UTF8.self)
            for round in 0..<3 {
                XCTAssertNotNil(verifier.verify(token, now: 1_800_000_000).value, "\(name) round \(round)")
                XCTAssertEqual(verifier.verify(forged, now: 1_800_000_000).failure, .badSignature, "\(name) round \(round)")
            }
        }
        XCTAssertEqual(drainOpenSSLErrors(), [])
    }
}
