import Base64Codec
import GatewayConfig
import HTTPCore
import JWT
import XCTest

@testable import Policy

final class TokenExtractionTests: XCTestCase {
    func head(_ target: String = "/x", _ fields: [(String, String)] = [], framing: BodyFraming = .none) -> HTTPRequestHead {
        HTTPRequestHead(method: "GET", target: target, version: .http11,
                        fields: HTTPFields(fields.map { HTTPField(name: $0.0, value: $0.1) }),
                        framing: framing, keepAlive: true, expectContinue: false, upgrade: nil)
    }

    func testHeaderPrefixIsCaseInsensitiveAndStripped() {
        let s: [TokenLocation] = [.header(name: "Authorization", prefix: "Bearer ")]
        XCTAssertEqual(TokenExtractor.search(head("/", [("authorization", "bearer abc.def.ghi")]), sources: s), .found("abc.def.ghi", index: 0))
        XCTAssertEqual(TokenExtractor.search(head("/", [("Authorization", "BEARER t")]), sources: s), .found("t", index: 0))
        // Another scheme is present but not a token we accept: found empty (→ malformed), never skipped.
        XCTAssertEqual(TokenExtractor.search(head("/", [("Authorization", "Basic dXNlcg==")]), sources: s), .found("", index: 0))
        XCTAssertEqual(TokenExtractor.search(head("/", []), sources: s), .missing)
    }

    func testTwoAuthorizationFieldsAreABadRequest() {
        let s: [TokenLocation] = [.header(name: "Authorization", prefix: "Bearer ")]
        if case .badRequest = TokenExtractor.search(head("/", [("Authorization", "Bearer a"), ("authorization", "Bearer b")]), sources: s) {} else {
            XCTFail("two Authorization fields must be refused")
        }
    }

    func testFirstPresentSourceWinsEvenIfLaterOnesExist() {
        let s: [TokenLocation] = [.query("access_token"), .header(name: "Authorization", prefix: "Bearer "), .cookie("jwt")]
        let h = head("/p?a=1&access_token=Q&b=2", [("Authorization", "Bearer H"), ("Cookie", "x=1; jwt=C")])
        XCTAssertEqual(TokenExtractor.search(h, sources: s), .found("Q", index: 0))
        XCTAssertEqual(TokenExtractor.search(head("/p", [("Cookie", "x=1; jwt=\"C\"")]), sources: s), .found("C", index: 2))
        XCTAssertEqual(TokenExtractor.search(head("/p?access_token=a%2Eb"), sources: s), .found("a.b", index: 0))
    }

    func testBodySourceAsksForTheBodyOnlyWhenThereIsOne() {
        let s: [TokenLocation] = [.body("token"), .header(name: "Authorization", prefix: "Bearer ")]
        XCTAssertEqual(TokenExtractor.search(head("/", [("Authorization", "Bearer H")], framing: .contentLength(10)), sources: s),
                       .needBody(field: "token", index: 0))
        XCTAssertEqual(TokenExtractor.search(head("/", [("Authorization", "Bearer H")]), sources: s), .found("H", index: 1))
        XCTAssertEqual(TokenExtractor.search(head("/", [("Authorization", "Bearer H")], framing: .chunked), sources: s, skippingBody: true),
                       .found("H", index: 1))
    }

    func testQueryRemovalKeepsOtherParametersInOrderAndBytes() {
        XCTAssertEqual(TokenExtractor.removingQueryParameters("/a?x=1&access_token=T&y=%41&access_token=U", names: ["access_token"]), "/a?x=1&y=%41")
        XCTAssertEqual(TokenExtractor.removingQueryParameters("/a?access_token=T", names: ["access_token"]), "/a")
        XCTAssertEqual(TokenExtractor.removingQueryParameters("/a", names: ["access_token"]), "/a")
        XCTAssertEqual(TokenExtractor.redactingQueryParameters("/a?x=1&token=S&y", names: ["token"]), "/a?x=1&token=REDACTED&y")
    }

    func testCookieRemoval() {
        XCTAssertEqual(TokenExtractor.removingCookie("a=1; jwt=T; b=2", name: "jwt"), "a=1; b=2")
        XCTAssertNil(TokenExtractor.removingCookie("jwt=T", name: "jwt"))
    }

    func testSubprotocolTokenConvention() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.e30.sig"
        let encoded = Base64.encodeURL(Array(jwt.utf8))
        let s: [TokenLocation] = [.subprotocol(prefix: "base64url.bearer.authorization.")]
        let h = head("/ws", [("Sec-WebSocket-Protocol", "chat, base64url.bearer.authorization.\(encoded)")])
        XCTAssertEqual(TokenExtractor.search(h, sources: s), .found(jwt, index: 0))
        let plain: [TokenLocation] = [.subprotocol(prefix: "access_token.")]
        XCTAssertEqual(TokenExtractor.search(head("/ws", [("Sec-WebSocket-Protocol", "access_token.\(jwt)")]), sources: plain), .found(jwt, index: 0))
    }

    func testDenialsFollowRFC6750() throws {
        let (set, _) = try JWT.KeySet.load(KeySetSpec(name: "k", algorithms: [.HS256],
                                                      material: .secret(.value("0123456789abcdef0123456789abcdef"))),
                                           environment: StaticKeyEnvironment())
        let auth = RouteAuth(realm: "docs", sources: [.header(name: "Authorization", prefix: "Bearer ")],
                             verifier: Verifier(keySets: [set], policy: ClaimsPolicy(rules: [JWT.ClaimRule(claim: "role", .equals("admin"))])))
        var cache = TokenCache()
        guard case .deny(let missing) = auth.authenticate(head(), now: 1000, cache: &cache) else { return XCTFail() }
        XCTAssertEqual(missing.status, 401)
        XCTAssertEqual(missing.wwwAuthenticate, #"Bearer realm="docs""#)
        guard case .deny(let bad) = auth.authenticate(head("/", [("Authorization", "Bearer x.y.z")]), now: 1000, cache: &cache) else { return XCTFail() }
        XCTAssertEqual(bad.status, 401)
        XCTAssertEqual(bad.wwwAuthenticate, #"Bearer realm="docs", error="invalid_token", error_description="malformed""#)
        let signer = try TokenSigner(algorithm: .HS256, secret: Array("0123456789abcdef0123456789abcdef".utf8))
        let guest = try signer.sign(claims: ["exp": 2000, "role": "guest"])
        guard case .deny(let scope) = auth.authenticate(head("/", [("Authorization", "Bearer \(guest)")]), now: 1000, cache: &cache) else { return XCTFail() }
        XCTAssertEqual(scope.status, 403)
        XCTAssertEqual(scope.wwwAuthenticate, #"Bearer realm="docs", error="insufficient_scope", error_description="claim_mismatch""#)
        let admin = try signer.sign(claims: ["exp": 2000, "role": "admin", "sub": "alice"])
        guard case .allow(let g) = auth.authenticate(head("/", [("Authorization", "Bearer \(admin)")]), now: 1000, cache: &cache) else { return XCTFail() }
        XCTAssertEqual(g.token.subject, "alice")
        guard case .deny(let expired) = auth.authenticate(head("/", [("Authorization", "Bearer \(admin)")]), now: 2001, cache: &cache) else { return XCTFail() }
        XCTAssertEqual(expired.outcome, "expired")
    }

    func testClaimHeadersRefuseLineBreaks() throws {
        let (set, _) = try JWT.KeySet.load(KeySetSpec(name: "k", algorithms: [.HS256], material: .secret(.value("0123456789abcdef0123456789abcdef"))),
                                           environment: StaticKeyEnvironment())
        let auth = RouteAuth(realm: "r", sources: [.header(name: "Authorization", prefix: "Bearer ")],
                             verifier: Verifier(keySets: [set], policy: ClaimsPolicy(required: [])),
                             claimHeaders: [ClaimHeaderRule(path: ["sub"], header: "X-User-Id")])
        let signer = try TokenSigner(algorithm: .HS256, secret: Array("0123456789abcdef0123456789abcdef".utf8))
        var cache = TokenCache()
        let evil = try signer.sign(claims: ["sub": "a\r\nX-Admin: 1"])
        guard case .deny(let d) = auth.authenticate(head("/", [("Authorization", "Bearer \(evil)")]), now: 0, cache: &cache) else { return XCTFail() }
        XCTAssertEqual(d.status, 403)
        let ok = try signer.sign(claims: ["sub": "bob"])
        guard case .allow(let g) = auth.authenticate(head("/", [("Authorization", "Bearer \(ok)")]), now: 0, cache: &cache) else { return XCTFail() }
        XCTAssertEqual(g.addHeaders.first?.0, "X-User-Id")
        XCTAssertEqual(g.addHeaders.first?.1, "bob")
    }
}
