import Base64Codec
import XCTest

@testable import JWT

final class ClaimsTests: XCTestCase {
    let now = 1_800_000_000.0
    let set = secretSet(testSecret)

    func outcome(_ claims: JSONValue, _ policy: ClaimsPolicy = ClaimsPolicy(), at: Double? = nil) -> AuthOutcome {
        switch Verifier(keySets: [set], policy: policy).verify(hsToken(claims), now: at ?? now) {
        case .success: return .allowed
        case .failure(let o): return o
        }
    }

    func testTimesAndLeeway() {
        let p = ClaimsPolicy(leeway: 30)
        XCTAssertEqual(outcome(["exp": .number(now + 1)]), .allowed)
        XCTAssertEqual(outcome(["exp": .number(now)]), .expired)
        XCTAssertEqual(outcome(["exp": .number(now - 29)], p), .allowed)
        XCTAssertEqual(outcome(["exp": .number(now - 30)], p), .expired)
        XCTAssertEqual(outcome(["exp": .number(now + 0.25)]), .allowed)  // fractions
        XCTAssertEqual(outcome(["exp": .number(now - 0.25)]), .expired)
        XCTAssertEqual(outcome(["exp": 4_102_444_800, "nbf": .number(now + 10)]), .notYetValid)
        XCTAssertEqual(outcome(["exp": 4_102_444_800, "nbf": .number(now + 10)], p), .allowed)
        XCTAssertEqual(outcome(["exp": 4_102_444_800, "nbf": .number(now)]), .allowed)
        XCTAssertEqual(outcome(["exp": 4_102_444_800, "iat": .number(now + 31)], p), .issuedInFuture)
        XCTAssertEqual(outcome(["exp": 4_102_444_800, "iat": .number(now + 30)], p), .allowed)
        XCTAssertEqual(outcome(["exp": "4102444800"]), .malformed)
        XCTAssertEqual(outcome(["exp": 4_102_444_800, "nbf": ["x"]]), .malformed)
    }

    func testRequired() {
        XCTAssertEqual(outcome(["sub": "a"]), .missingClaim)  // exp required by default
        XCTAssertEqual(outcome(["sub": "a"], ClaimsPolicy(required: [])), .allowed)
        XCTAssertEqual(outcome(["exp": nil], ClaimsPolicy()), .missingClaim)
        XCTAssertEqual(outcome(["exp": 4_102_444_800], ClaimsPolicy(required: ["exp", "sub"])), .missingClaim)
        XCTAssertEqual(outcome(["exp": 4_102_444_800, "sub": "x"], ClaimsPolicy(required: ["exp", "sub"])), .allowed)
    }

    func testIssuerAndAudience() {
        let p = ClaimsPolicy(issuers: ["https://a", "https://b"], audiences: ["chat", "rtc"])
        XCTAssertEqual(outcome(["exp": 4_102_444_800, "iss": "https://b", "aud": "rtc"], p), .allowed)
        XCTAssertEqual(outcome(["exp": 4_102_444_800, "iss": "https://b", "aud": ["x", "chat"]], p), .allowed)
        XCTAssertEqual(outcome(["exp": 4_102_444_800, "iss": "https://c", "aud": "chat"], p), .wrongIssuer)
        XCTAssertEqual(outcome(["exp": 4_102_444_800, "iss": ["https://a"], "aud": "chat"], p), .wrongIssuer)
        XCTAssertEqual(outcome(["exp": 4_102_444_800, "iss": "https://a", "aud": ["x"]], p), .wrongAudience)
        XCTAssertEqual(outcome(["exp": 4_102_444_800, "iss": "https://a"], p), .wrongAudience)
        XCTAssertEqual(outcome(["exp": 4_102_444_800, "iss": "https://a", "aud": []], p), .wrongAudience)
        XCTAssertEqual(outcome(["exp": 4_102_444_800]), .allowed)  // empty lists accept anything
    }

    func testLifetime() {
        let p = ClaimsPolicy(maxLifetime: 3600)
        XCTAssertEqual(outcome(["exp": .number(now + 600), "iat": .number(now - 3000)], p), .allowed)
        XCTAssertEqual(outcome(["exp": .number(now + 601), "iat": .number(now - 3000)], p), .lifetimeTooLong)
        XCTAssertEqual(outcome(["exp": .number(now + 3600)], p), .allowed)  // exp - now without iat
        XCTAssertEqual(outcome(["exp": .number(now + 3601)], p), .lifetimeTooLong)
        XCTAssertEqual(outcome(["sub": "x"], ClaimsPolicy(required: [], maxLifetime: 3600)), .lifetimeTooLong)
    }

    func testRules() {
        let claims: JSONValue = [
            "exp": 4_102_444_800, "permissions": ["view", "edit"], "scope": "read edit", "tenant": "acme",
            "role": "editor", "level": 3, "realm_access": ["roles": ["admin"]], "flag": false,
        ]
        func rule(_ path: String, _ op: ClaimRule.Operation) -> AuthOutcome {
            outcome(claims, ClaimsPolicy(rules: [ClaimRule(claim: path, op)]))
        }
        XCTAssertEqual(rule("tenant", .equals("acme")), .allowed)
        XCTAssertEqual(rule("tenant", .equals("ACME")), .claimMismatch)
        XCTAssertEqual(rule("level", .equals(3)), .allowed)
        XCTAssertEqual(rule("level", .equals("3")), .claimMismatch)
        XCTAssertEqual(rule("flag", .equals(false)), .allowed)
        XCTAssertEqual(rule("role", .oneOf(["admin", "editor"])), .allowed)
        XCTAssertEqual(rule("role", .oneOf(["admin"])), .claimMismatch)
        XCTAssertEqual(rule("permissions", .contains("edit")), .allowed)
        XCTAssertEqual(rule("permissions", .contains("delete")), .claimMismatch)
        XCTAssertEqual(rule("scope", .contains("edit")), .allowed)
        XCTAssertEqual(rule("scope", .contains("ed")), .claimMismatch)
        XCTAssertEqual(rule("tenant", .contains("acme")), .allowed)  // a one-word string
        XCTAssertEqual(rule("level", .contains(3)), .claimMismatch)
        XCTAssertEqual(rule("realm_access.roles", .contains("admin")), .allowed)
        XCTAssertEqual(rule("realm_access.roles", .equals(["admin"])), .allowed)
        XCTAssertEqual(rule("realm_access.groups", .exists), .missingClaim)
        XCTAssertEqual(rule("realm_access", .exists), .allowed)
        XCTAssertEqual(rule("realm_access.groups", .absent), .allowed)
        XCTAssertEqual(rule("realm_access", .absent), .claimMismatch)
        XCTAssertEqual(rule("flag", .absent), .claimMismatch)  // false is a value; only null counts as absent
        XCTAssertEqual(rule("nope", .equals("x")), .missingClaim)
        XCTAssertEqual(ClaimRule(claim: "a.b", .exists).path, ["a", "b"])
    }

    func testVerifiedTokenFields() throws {
        let token = hsToken(["exp": 4_102_444_800.5, "nbf": 1, "iat": 2, "sub": "u"], kid: "k1")
        let set = try KeySet.load(name: "j", algorithms: [.HS256], jwks: Array(#"{"keys":[{"kty":"oct","kid":"k1","k":"\#(Base64.encodeURL(Array(testSecret.utf8)))"}]}"#.utf8)).0
        let v = try Verifier(keySets: [set]).verify(token, now: now).get()
        XCTAssertEqual(v.expiresAt, 4_102_444_800.5)
        XCTAssertEqual(v.notBefore, 1)
        XCTAssertEqual(v.issuedAt, 2)
        XCTAssertEqual(v.subject, "u")
        XCTAssertEqual(v.keyID, "k1")
        XCTAssertEqual(v.keySetName, "j")
        XCTAssertEqual(v.algorithm, .HS256)
        XCTAssertEqual(v.header["typ"], "JWT")
    }
}

final class VerifierTests: XCTestCase {
    let now = 1_800_000_000.0

    func testKeySelection() throws {
        // Two secrets in one JWKS: with kid the named key is used; without kid both are tried.
        let a = Base64.encodeURL(Array("secret-a-secret-a-secret-a-secret-a".utf8))
        let b = Base64.encodeURL(Array("secret-b-secret-b-secret-b-secret-b".utf8))
        let set = try KeySet.load(name: "j", algorithms: [.HS256, .HS384],
                                  jwks: Array(#"{"keys":[{"kty":"oct","kid":"a","k":"\#(a)"},{"kty":"oct","kid":"b","k":"\#(b)","alg":"HS384"}]}"#.utf8)).0
        let v = Verifier(keySets: [set])
        let claims: JSONValue = ["exp": 4_102_444_800]
        XCTAssertNotNil(v.verify(hsToken(claims, secret: "secret-a-secret-a-secret-a-secret-a", kid: "a"), now: now).value)
        XCTAssertNotNil(v.verify(hsToken(claims, secret: "secret-a-secret-a-secret-a-secret-a"), now: now).value)
        XCTAssertEqual(v.verify(hsToken(claims, secret: "secret-a-secret-a-secret-a-secret-a", kid: "b"), now: now).failure,
                       .algorithmNotAllowed)  // b is pinned to HS384
        XCTAssertEqual(v.verify(hsToken(claims, secret: "secret-b-secret-b-secret-b-secret-b", algorithm: .HS384, kid: "a"), now: now).failure,
                       .badSignature)  // a has no alg, so it allows HS384 too; but it is the wrong key
        XCTAssertNotNil(v.verify(hsToken(claims, secret: "secret-b-secret-b-secret-b-secret-b", algorithm: .HS384, kid: "b"), now: now).value)
        XCTAssertEqual(v.verify(hsToken(claims, secret: "secret-a-secret-a-secret-a-secret-a", kid: "c"), now: now).failure, .unknownKey)
        // A kid-less configured secret is tried for a token that carries any kid.
        let plain = Verifier(keySets: [secretSet(testSecret)])
        XCTAssertNotNil(plain.verify(hsToken(claims, kid: "whatever"), now: now).value)
    }

    func testSeveralKeySets() throws {
        let rsa = try KeySet.load(KeySetSpec(name: "rsa", algorithms: [.RS256], material: .publicKeyPEM(.file("keys/rsa-spki.pem"))),
                                  environment: FixtureEnvironment()).0
        let hs = secretSet(testSecret)
        let v = Verifier(keySets: [rsa, hs])
        XCTAssertEqual(Set(v.algorithms), [.RS256, .HS256])
        let rs = try TokenSigner(algorithm: .RS256, privateKeyPEM: FixtureEnvironment.bytes("keys/rsa-private.pem")).sign(claims: ["exp": 4_102_444_800])
        XCTAssertEqual(try v.verify(rs, now: now).get().keySetName, "rsa")
        XCTAssertEqual(try v.verify(hsToken(["exp": 4_102_444_800]), now: now).get().keySetName, "hs")
        XCTAssertEqual(Verifier(keySets: [hs]).verify(rs, now: now).failure, .algorithmNotAllowed)
    }

    func testSizeLimitAndEmpty() {
        let v = Verifier(keySets: [secretSet(testSecret)], maxTokenBytes: 100)
        XCTAssertEqual(v.verify("", now: now).failure, .missing)
        XCTAssertEqual(v.verify(String(repeating: "a", count: 101), now: now).failure, .tokenTooLarge)
        XCTAssertEqual(v.verify(String(repeating: "a", count: 100), now: now).failure, .malformed)
    }

    func testSubstringAndBytesEntryPoints() throws {
        let v = Verifier(keySets: [secretSet(testSecret)])
        let header = "Bearer " + hsToken(["exp": 4_102_444_800])
        let sub = header.dropFirst(7)
        XCTAssertNotNil(v.verify(sub, now: now).value)
        var cache = TokenCache()
        XCTAssertNotNil(v.verify(sub, now: now, cache: &cache).value)
        XCTAssertNotNil(v.verify(sub, now: now, cache: &cache).value)
        XCTAssertEqual(cache.hits, 1)
    }

    func testSignerRoundTripEveryAlgorithm() throws {
        let keys: [(JWSAlgorithm, String, String)] = [
            (.RS384, "keys/rsa-private.pem", "keys/rsa-cert.pem"),
            (.PS256, "keys/rsa-private.pem", "keys/rsa-pkcs1.pem"),
            (.PS512, "keys/rsa-private.pem", "keys/rsa-spki.pem"),
        ]
        for (alg, priv, pub) in keys {
            let set = try KeySet.load(KeySetSpec(name: "s", algorithms: [alg], material: .publicKeyPEM(.file(pub))), environment: FixtureEnvironment()).0
            let token = try TokenSigner(algorithm: alg, privateKeyPEM: FixtureEnvironment.bytes(priv)).sign(claims: ["exp": 4_102_444_800])
            XCTAssertNotNil(Verifier(keySets: [set]).verify(token, now: now).value, "\(alg)")
        }
        XCTAssertThrowsError(try TokenSigner(algorithm: .ES256, privateKeyPEM: FixtureEnvironment.bytes("keys/rsa-private.pem")))
        XCTAssertThrowsError(try TokenSigner(algorithm: .HS256, secret: []))
    }

    func testErrorQueueLeftEmpty() {
        let set = try! KeySet.load(KeySetSpec(name: "e", algorithms: [.ES256], material: .publicKeyPEM(.file("keys/ec-p256-spki.pem"))), environment: FixtureEnvironment()).0
        let v = Verifier(keySets: [set])
        let h = Base64.encodeURL(Array(#"{"alg":"ES256"}"#.utf8)), p = Base64.encodeURL(Array(#"{"exp":4102444800}"#.utf8))
        XCTAssertEqual(v.verify("\(h).\(p).\(Base64.encodeURL([UInt8](repeating: 0x7F, count: 64)))", now: now).failure, .badSignature)
        XCTAssertEqual(drainOpenSSLErrors(), [])
    }

    func testConcurrentVerification() async throws {
        let rsa = try KeySet.load(KeySetSpec(name: "rsa", algorithms: [.RS256], material: .publicKeyPEM(.file("keys/rsa-spki.pem"))),
                                  environment: FixtureEnvironment()).0
        let v = Verifier(keySets: [rsa])
        let token = try TokenSigner(algorithm: .RS256, privateKeyPEM: FixtureEnvironment.bytes("keys/rsa-private.pem")).sign(claims: ["exp": 4_102_444_800])
        let now = self.now
        let ok = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var n = 0
                    for _ in 0..<200 where v.verify(token, now: now).value != nil { n += 1 }
                    return n
                }
            }
            return await group.reduce(0, +)
        }
        XCTAssertEqual(ok, 1600)
    }
}
