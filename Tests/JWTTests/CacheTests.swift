import XCTest

@testable import JWT

final class CacheTests: XCTestCase {
    let now = 1_800_000_000.0

    func testHitMissAndPolicyReevaluation() {
        let set = secretSet(testSecret)
        let v = Verifier(keySets: [set], policy: ClaimsPolicy(leeway: 10))
        var cache = TokenCache()
        let token = hsToken(["exp": .number(now + 60), "sub": "u"])
        XCTAssertNotNil(v.verify(token, now: now, cache: &cache).value)
        XCTAssertEqual(cache.count, 1)
        XCTAssertEqual(cache.misses, 1)
        XCTAssertEqual(v.verify(token, now: now + 30, cache: &cache).value?.subject, "u")
        XCTAssertEqual(cache.hits, 1)
        // After exp the entry misses; the full verification applies the leeway.
        XCTAssertNotNil(v.verify(token, now: now + 65, cache: &cache).value)
        XCTAssertEqual(v.verify(token, now: now + 70, cache: &cache).failure, .expired)
        // A stricter route sharing the cache re-evaluates its own policy on a hit.
        let strict = Verifier(keySets: [set], policy: ClaimsPolicy(issuers: ["https://id"]))
        let t2 = hsToken(["exp": .number(now + 600)])
        XCTAssertNotNil(v.verify(t2, now: now, cache: &cache).value)
        let hits = cache.hits
        XCTAssertEqual(strict.verify(t2, now: now, cache: &cache).failure, .wrongIssuer)
        XCTAssertEqual(cache.hits, hits + 1)
    }

    func testEntryFromAnotherKeySetIsNotTrusted() {
        let a = secretSet(testSecret, name: "a")
        let b = secretSet(testSecret, name: "b")  // same secret, but a different key set
        let c = secretSet("another-secret-another-secret-xx", name: "c")
        var cache = TokenCache()
        let token = hsToken(["exp": 4_102_444_800])
        XCTAssertEqual(Verifier(keySets: [a]).verify(token, now: now, cache: &cache).value?.keySetName, "a")
        XCTAssertEqual(Verifier(keySets: [b]).verify(token, now: now, cache: &cache).value?.keySetName, "b")
        XCTAssertEqual(Verifier(keySets: [c]).verify(token, now: now, cache: &cache).failure, .badSignature)
        XCTAssertEqual(Verifier(keySets: [c, b]).verify(token, now: now, cache: &cache).value?.keySetName, "b")
    }

    func testRefusedButAuthenticTokensAreCached() {
        let v = Verifier(keySets: [secretSet(testSecret)], policy: ClaimsPolicy(audiences: ["x"]))
        var cache = TokenCache()
        let token = hsToken(["exp": 4_102_444_800, "aud": "y"])
        XCTAssertEqual(v.verify(token, now: now, cache: &cache).failure, .wrongAudience)
        XCTAssertEqual(v.verify(token, now: now, cache: &cache).failure, .wrongAudience)
        XCTAssertEqual(cache.hits, 1)
        // Forgeries are never cached.
        var forged = Array(token.utf8)
        forged[forged.count - 3] = forged[forged.count - 3] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        let f = String(decoding: forged, as: UTF8.self)
        XCTAssertEqual(v.verify(f, now: now, cache: &cache).failure, .badSignature)
        XCTAssertEqual(cache.count, 1)
    }

    func testBoundsAndEviction() {
        let v = Verifier(keySets: [secretSet(testSecret)])
        var cache = TokenCache(maxEntries: 3)
        let tokens = (0..<5).map { hsToken(["exp": 4_102_444_800, "n": .number(Double($0))]) }
        for t in tokens { _ = v.verify(t, now: now, cache: &cache) }
        XCTAssertEqual(cache.count, 3)
        XCTAssertEqual(cache.evictions, 2)
        XCTAssertNil(cache.lookup(tokens[0], now: now))
        XCTAssertNil(cache.lookup(tokens[1], now: now))
        XCTAssertNotNil(cache.lookup(tokens[4], now: now))
        // Bytes bound.
        var small = TokenCache(maxEntries: 100, maxBytes: 2000)
        for t in tokens { _ = v.verify(t, now: now, cache: &small) }
        XCTAssertLessThanOrEqual(small.bytes, 2000)
        XCTAssertLessThan(small.count, 5)
        XCTAssertGreaterThan(small.count, 0)
        XCTAssertNotNil(small.lookup(tokens[4], now: now))
        // Tokens without exp stay until evicted; already-expired tokens are not inserted.
        var c2 = TokenCache()
        let noExp = hsToken(["sub": "x"])
        _ = Verifier(keySets: [secretSet(testSecret)], policy: ClaimsPolicy(required: [])).verify(noExp, now: now, cache: &c2)
        XCTAssertNotNil(c2.lookup(noExp, now: 9e12))
        let expired = hsToken(["exp": 1])
        _ = v.verify(expired, now: now, cache: &c2)
        XCTAssertNil(c2.lookup(expired, now: 0))
    }

    func testGenerationEmpties() {
        let v = Verifier(keySets: [secretSet(testSecret)])
        var cache = TokenCache()
        let token = hsToken(["exp": 4_102_444_800])
        _ = v.verify(token, now: now, cache: &cache)
        cache.synchronize(generation: cache.generation)
        XCTAssertEqual(cache.count, 1)
        cache.synchronize(generation: 42)
        XCTAssertEqual(cache.count, 0)
        XCTAssertEqual(cache.generation, 42)
        _ = v.verify(token, now: now, cache: &cache)
        cache.removeAll()
        XCTAssertEqual(cache.count, 0)
        XCTAssertEqual(cache.bytes, 0)
        XCTAssertEqual(cache.generation, 43)
    }

    func testManyInsertionsWrapTheRing() {
        let v = Verifier(keySets: [secretSet(testSecret)])
        var cache = TokenCache(maxEntries: 7, maxBytes: 5000)
        var tokens: [String] = []
        for i in 0..<100 {
            let t = hsToken(["exp": .number(now + Double(i % 3 == 0 ? 1 : 1000)), "i": .number(Double(i))])
            tokens.append(t)
            _ = v.verify(t, now: now, cache: &cache)
            XCTAssertLessThanOrEqual(cache.count, 7)
            XCTAssertLessThanOrEqual(cache.bytes, 5000)
        }
        // Expired ones drop out on lookup.
        for (i, t) in tokens.enumerated() where i % 3 == 0 { XCTAssertNil(cache.lookup(t, now: now + 2)) }
        XCTAssertNotNil(cache.lookup(tokens[98], now: now + 2))
    }
}

final class OutcomeTests: XCTestCase {
    func testReasonsAndStatuses() {
        let reasons = AuthOutcome.allCases.map(\.reason)
        for r in ["missing", "malformed", "token_too_large", "unsupported_algorithm", "algorithm_not_allowed", "unknown_key",
                  "bad_signature", "expired", "not_yet_valid", "issued_in_future", "wrong_issuer", "wrong_audience",
                  "missing_claim", "claim_mismatch", "lifetime_too_long", "allowed", "keys_unavailable"] {
            XCTAssertTrue(reasons.contains(r), r)
        }
        XCTAssertEqual(AuthOutcome.claimMismatch.httpStatus, 403)
        XCTAssertTrue(AuthOutcome.claimMismatch.isScopeFailure)
        XCTAssertEqual(AuthOutcome.claimMismatch.bearerError, "insufficient_scope")
        XCTAssertEqual(AuthOutcome.expired.httpStatus, 401)
        XCTAssertEqual(AuthOutcome.expired.bearerError, "invalid_token")
        XCTAssertEqual(AuthOutcome.missing.httpStatus, 401)
        XCTAssertNil(AuthOutcome.missing.bearerError)
        XCTAssertEqual(AuthOutcome.missingClaim.httpStatus, 401)
        XCTAssertEqual(AuthOutcome.allowed.httpStatus, 200)
        XCTAssertEqual(JWSAlgorithm.allCases.count, 13)
        XCTAssertNil(JWSAlgorithm(rawValue: "none"))
    }

    func testExplain() {
        let v = Verifier(keySets: [secretSet(testSecret)], policy: ClaimsPolicy(issuers: ["https://id"], leeway: 30, maxLifetime: 3600))
        let now = 1_800_000_000.0
        let steps = v.explain(hsToken(["exp": .number(now - 180), "iat": .number(now - 4000), "iss": "https://id"]), now: now)
        XCTAssertEqual(steps.first { $0.name == "exp" }?.detail, "expired 3 min ago, leeway 30s")
        XCTAssertEqual(steps.first { $0.name == "exp" }?.ok, false)
        XCTAssertEqual(steps.first { $0.name == "iss" }?.ok, true)
        XCTAssertEqual(steps.first { $0.name == "lifetime" }?.ok, false)
        XCTAssertEqual(steps.last, ExplainStep(name: "outcome", ok: false, detail: "expired"))
        let bad = v.explain("a.b", now: now)
        XCTAssertEqual(bad.map(\.name), ["token", "header", "outcome"])
        XCTAssertEqual(bad[1].detail, "fewer than three segments")
        let forged = v.explain(hsToken(["exp": 4_102_444_800], secret: "wrong-wrong-wrong-wrong-wrong-wrong"), now: now)
        XCTAssertEqual(forged.map(\.name), ["token", "header", "algorithm", "key", "signature", "outcome"])
        XCTAssertEqual(forged.last?.detail, "bad_signature")
        let good = v.explain(hsToken(["exp": .number(now + 60), "iss": "https://id"]), now: now)
        XCTAssertEqual(good.last, ExplainStep(name: "outcome", ok: true, detail: "allowed"))
        XCTAssertTrue(good.allSatisfy(\.ok), "\(good)")
    }
}
