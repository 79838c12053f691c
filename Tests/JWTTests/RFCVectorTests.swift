import Base64Codec
import XCTest

@testable import JWT

/// RFC 7515 Appendix A.1–A.4 and RFC 8037 Appendix A.4, verified with the clock set before their exp
/// (1300819380 = 2011-03-22).
final class RFCVectorTests: XCTestCase {
    let payloadA = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    let before = 1_300_819_000.0
    let after = 1_300_819_380.0

    func jwksSet(_ jwk: String, _ algorithms: [JWSAlgorithm]) throws -> KeySet {
        try KeySet.load(name: "rfc", algorithms: algorithms, jwks: Array("{\"keys\":[\(jwk)]}".utf8)).0
    }

    func check(_ token: String, _ set: KeySet, file: StaticString = #filePath, line: UInt = #line) {
        let verifier = Verifier(keySets: [set])
        switch verifier.verify(token, now: before) {
        case .success(let t):
            XCTAssertEqual(t.claims["iss"], "joe", file: file, line: line)
            XCTAssertEqual(t.claims["http://example.com/is_root"], true, file: file, line: line)
            XCTAssertEqual(t.expiresAt, 1_300_819_380, file: file, line: line)
        case .failure(let o): XCTFail("\(o)", file: file, line: line)
        }
        XCTAssertEqual(verifier.verify(token, now: after).failure, .expired, file: file, line: line)
    }

    func testA1HS256() throws {
        let token = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.\(payloadA).dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        let k = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"
        check(token, try jwksSet("{\"kty\":\"oct\",\"k\":\"\(k)\"}", [.HS256]))
        // The same key as a configured base64url secret.
        let set = try KeySet.load(
            KeySetSpec(name: "a1", algorithms: [.HS256], material: .secret(.value(k), encoding: .base64url)),
            environment: StaticKeyEnvironment()).0
        check(token, set)
    }

    static let a2n =
        "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"

    func testA2RS256() throws {
        let sig =
            "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw"
        let token = "eyJhbGciOiJSUzI1NiJ9.\(payloadA).\(sig)"
        let set = try jwksSet("{\"kty\":\"RSA\",\"n\":\"\(Self.a2n)\",\"e\":\"AQAB\"}", [.RS256, .PS256])
        check(token, set)
        // PS256 over the same key must not accept a PKCS#1 v1.5 signature.
        let ps = "eyJhbGciOiJQUzI1NiJ9.\(payloadA).\(sig)"
        XCTAssertEqual(Verifier(keySets: [set]).verify(ps, now: before).failure, .badSignature)
    }

    func testA3ES256() throws {
        let token =
            "eyJhbGciOiJFUzI1NiJ9.\(payloadA).DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
        let set = try jwksSet(
            "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\",\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}",
            [.ES256])
        check(token, set)
        XCTAssertEqual(set.keyInfos.first?.type, .ec(.p256))
    }

    func testA4ES512() throws {
        // The payload is the text "Payload", not a JSON object: the signature verifies, then the payload is
        // refused as malformed. A tampered signature is refused before that, as bad_signature.
        let sig =
            "AdwMgeerwtHoh-l192l60hp9wAHZFVJbLfD_UxMi70cwnZOYaRI1bKPWROc-mZZqwqT2SI-KGDKB34XO0aw_7XdtAG8GaSwFKdCAPZgoXD2YBJZCPEX3xKpRwcdOO8KpEHwJjyqOgzDO7iKvU8vcnwNrmxYbSW9ERBXukOXolLzeO_Jn"
        let set = try jwksSet(
            "{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":\"AekpBQ8ST8a8VcfVOTNl353vSrDCLLJXmPk06wTjxrrjcBpXp5EOnYG_NjFZ6OvLFV1jSfS9tsz4qUxcWceqwQGk\",\"y\":\"ADSmRA43Z1DSNx_RvcLI87cdL07l6jQyyBXMoxVg_l2Th-x3S1WDhjDly79ajL4Kkd0AZMaZmh9ubmf63e3kyMj2\"}",
            [.ES512])
        let verifier = Verifier(keySets: [set])
        XCTAssertEqual(verifier.verify("eyJhbGciOiJFUzUxMiJ9.UGF5bG9hZA.\(sig)", now: before).failure, .malformed)
        var bytes = Base64.decodeURL(sig)!
        bytes[70] ^= 1
        XCTAssertEqual(
            verifier.verify("eyJhbGciOiJFUzUxMiJ9.UGF5bG9hZA.\(Base64.encodeURL(bytes))", now: before).failure,
            .badSignature)
        // The explanation shows the signature step passed.
        let steps = verifier.explain("eyJhbGciOiJFUzUxMiJ9.UGF5bG9hZA.\(sig)", now: before)
        XCTAssertEqual(steps.first { $0.name == "signature" }?.ok, true)
    }

    func testRFC8037Ed25519() throws {
        let token =
            "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
        let set = try jwksSet(
            "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}", [.EdDSA])
        let verifier = Verifier(keySets: [set])
        // Payload "Example of Ed25519 signing" is not JSON: signature passes, payload is malformed.
        XCTAssertEqual(verifier.verify(token, now: before).failure, .malformed)
        XCTAssertEqual(verifier.explain(token, now: before).first { $0.name == "signature" }?.ok, true)
        var forged = Array(token.utf8)
        forged[forged.count - 5] = UInt8(ascii: forged[forged.count - 5] == UInt8(ascii: "A") ? "B" : "A")
        XCTAssertEqual(verifier.verify(String(decoding: forged, as: UTF8.self), now: before).failure, .badSignature)
    }

    func testA5UnsecuredIsRefused() throws {
        let set = secretSet(testSecret)
        let verifier = Verifier(keySets: [set])
        XCTAssertEqual(verifier.verify("eyJhbGciOiJub25lIn0.\(payloadA).", now: before).failure, .unsupportedAlgorithm)
        XCTAssertEqual(verifier.verify("eyJhbGciOiJub25lIn0.\(payloadA)", now: before).failure, .malformed)
    }
}
