import Base64Codec
import XCTest

@testable import JWT

/// Tokens minted by Tests/JWTTests/Fixtures/gen.py (joserfc + cryptography).
final class FixtureTests: XCTestCase {
    let now = 1_800_000_000.0

    func testEveryPositiveFixtureVerifies() throws {
        let cases = FixtureEnvironment.json("positive.json").arrayValue!
        XCTAssertGreaterThanOrEqual(cases.count, 50)
        var algorithmsSeen = Set<JWSAlgorithm>()
        for c in cases {
            let name = c["name"]!.stringValue!
            let (set, _) = try Fixture.keySet(c["keys"]!)
            let verifier = Verifier(keySets: [set], policy: ClaimsPolicy())
            switch verifier.verify(c["token"]!.stringValue!, now: now) {
            case .success(let token):
                XCTAssertEqual(token.algorithm.rawValue, c["alg"]!.stringValue!, name)
                XCTAssertEqual(token.subject, "user-1", name)
                XCTAssertEqual(token.expiresAt, 4_102_444_800, name)
                XCTAssertEqual(token.claims.value(atPath: ["realm_access", "roles"]), ["admin"], name)
                algorithmsSeen.insert(token.algorithm)
            case .failure(let outcome):
                XCTFail("\(name): \(outcome)")
            }
        }
        XCTAssertEqual(algorithmsSeen, Set(JWSAlgorithm.allCases))
    }

    func testPositiveFixturesFailAfterTampering() throws {
        for c in FixtureEnvironment.json("positive.json").arrayValue! {
            let name = c["name"]!.stringValue!
            let (set, _) = try Fixture.keySet(c["keys"]!)
            let verifier = Verifier(keySets: [set])
            let token = c["token"]!.stringValue!
            // Flip one bit in the middle of the signature's bytes.
            let parts = token.split(separator: ".", omittingEmptySubsequences: false)
            var sig = Base64.decodeURL(parts[2])!
            sig[sig.count / 2] ^= 0x01
            let forged = "\(parts[0]).\(parts[1]).\(Base64.encodeURL(sig))"
            XCTAssertEqual(verifier.verify(forged, now: now).failure, .badSignature, name)
        }
    }

    func testEveryNegativeFixtureYieldsItsOutcome() throws {
        let cases = FixtureEnvironment.json("negative.json").arrayValue!
        XCTAssertGreaterThanOrEqual(cases.count, 60)
        for c in cases {
            let name = c["name"]!.stringValue!
            let sets = try c["keys"]!.arrayValue!.enumerated().map { try Fixture.keySet($1, name: "set\($0)").0 }
            let verifier = Verifier(keySets: sets, policy: Fixture.policy(c["policy"]))
            let at = c["now"]?.doubleValue ?? now
            let expected = c["expect"]!.stringValue!
            let result = verifier.verify(c["token"]!.stringValue!, now: at)
            switch result {
            case .success: XCTAssertEqual("allowed", expected, name)
            case .failure(let outcome): XCTAssertEqual(outcome.reason, expected, name)
            }
            // Same answer through a cache, twice.
            var cache = TokenCache()
            for _ in 0..<2 {
                switch verifier.verify(c["token"]!.stringValue!, now: at, cache: &cache) {
                case .success: XCTAssertEqual("allowed", expected, "cached \(name)")
                case .failure(let outcome): XCTAssertEqual(outcome.reason, expected, "cached \(name)")
                }
            }
        }
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let f) = self { return f }
        return nil
    }
    var value: Success? {
        if case .success(let s) = self { return s }
        return nil
    }
}
