import XCTest

@testable import JWT

final class KeyLoadTests: XCTestCase {
    func load(_ algorithms: [JWSAlgorithm], _ material: KeyMaterial, env: FixtureEnvironment = FixtureEnvironment())
        throws(KeyLoadError) -> (KeySet, warnings: [String])
    {
        try KeySet.load(KeySetSpec(name: "k", algorithms: algorithms, material: material), environment: env)
    }

    func loadError(_ algorithms: [JWSAlgorithm], _ material: KeyMaterial, env: FixtureEnvironment = FixtureEnvironment())
        -> String?
    {
        do {
            _ = try load(algorithms, material, env: env)
            return nil
        } catch {
            return error.message
        }
    }

    func testSecretSources() throws {
        var env = FixtureEnvironment()
        env.variables["ONLYOFFICE_JWT_SECRET"] = testSecret
        env.credentialsDirectory = FixtureEnvironment.fixturesURL.appendingPathComponent("keys").path
        let token = hsToken(["exp": 4_102_444_800])
        for source: SecretSource in [.value(testSecret), .env("ONLYOFFICE_JWT_SECRET")] {
            let (set, warnings) = try load([.HS256], .secret(source), env: env)
            XCTAssertEqual(warnings, [])
            XCTAssertNotNil(Verifier(keySets: [set]).verify(token, now: 0).value)
        }
        // A credential is a file in $CREDENTIALS_DIRECTORY; one trailing newline is dropped.
        let fixtureSecret = FixtureEnvironment.bytes("keys/secret-raw.txt")
        XCTAssertEqual(fixtureSecret.last, 0x0A)
        let (cred, _) = try load([.HS256], .secret(.credential("secret-raw.txt")), env: env)
        let signed = try TokenSigner(algorithm: .HS256, secret: Array(fixtureSecret.dropLast())).sign(claims: ["exp": 4_102_444_800])
        XCTAssertNotNil(Verifier(keySets: [cred]).verify(signed, now: 0).value)
        let (b64, _) = try load([.HS256], .secret(.credential("secret-base64.txt"), encoding: .base64), env: env)
        XCTAssertNotNil(Verifier(keySets: [b64]).verify(signed, now: 0).value)
    }

    func testSecretLoadErrors() {
        XCTAssertEqual(loadError([.HS256], .secret(.env("ONLYOFFICE_JWT_SECRET"))),
                       "environment variable ONLYOFFICE_JWT_SECRET is not set")
        var env = FixtureEnvironment()
        env.variables["EMPTY"] = ""
        XCTAssertEqual(loadError([.HS256], .secret(.env("EMPTY")), env: env), "secret is empty")
        XCTAssertEqual(loadError([.HS256], .secret(.value(""))), "secret is empty")
        XCTAssertEqual(loadError([.HS256], .secret(.value("\n"), encoding: .base64)), "secret is empty")
        XCTAssertEqual(loadError([.HS256], .secret(.value("not base64!"), encoding: .base64)), "secret is not valid base64")
        XCTAssertEqual(loadError([.HS256], .secret(.value("a+b/"), encoding: .base64url)), "secret is not valid base64url")
        XCTAssertEqual(loadError([.HS256], .secret(.credential("x"))),
                       "systemd credential x requested but $CREDENTIALS_DIRECTORY is not set (LoadCredential= in the unit?)")
        XCTAssertEqual(loadError([.HS256], .secret(.credential("../etc/passwd"))),
                       "systemd credential name \"../etc/passwd\" is not a plain file name")
        XCTAssertTrue(loadError([.HS256], .secret(.file("/nonexistent/secret")))!.hasPrefix("cannot read secret file /nonexistent/secret: "))
        XCTAssertEqual(loadError([], .secret(.value("x"))), "no algorithms listed")
        XCTAssertEqual(loadError([.HS256, .RS256], .secret(.value(testSecret))),
                       "algorithm RS256 does not fit a secret (allowed: HS256, HS384, HS512)")
    }

    func testShortSecretWarns() throws {
        let (_, warnings) = try load([.HS256, .HS512], .secret(.value("short-secret-40-bytes-long-xxxxxxxxxxxxx")))
        XCTAssertEqual(warnings, ["secret is 40 bytes, shorter than the 64 bytes HS512 wants (RFC 7518 §3.2)"])
        let (_, w2) = try load([.HS256], .secret(.value("secret")))
        XCTAssertEqual(w2, ["secret is 6 bytes, shorter than the 32 bytes HS256 wants (RFC 7518 §3.2)"])
    }

    func testPublicKeyForms() throws {
        for file in ["rsa-spki.pem", "rsa-pkcs1.pem", "rsa-cert.pem"] {
            let (set, _) = try load([.RS256, .PS512], .publicKeyPEM(.file("keys/" + file)))
            XCTAssertEqual(set.keyInfos.map(\.type), [.rsa(bits: 2048)], file)
            XCTAssertEqual(set.keyInfos.first?.algorithms, [.RS256, .PS512])
        }
        XCTAssertEqual(try load([.ES384], .publicKeyPEM(.file("keys/ec-p384-cert.pem"))).0.keyInfos.first?.type, .ec(.p384))
        XCTAssertEqual(try load([.EdDSA], .publicKeyPEM(.file("keys/ed448-spki.pem"))).0.keyInfos.first?.type, .okp(.ed448))
        XCTAssertEqual(try load([.EdDSA], .certificatePEM(.file("keys/ed25519-cert.pem"))).0.keyInfos.first?.type, .okp(.ed25519))
        XCTAssertNotNil(try? load([.RS256], .publicKeyPEM(.bytes(FixtureEnvironment.bytes("keys/rsa-spki.pem")))))
    }

    func testPublicKeyLoadErrors() {
        XCTAssertEqual(loadError([.RS256], .publicKeyPEM(.file("keys/rsa1024-spki.pem"))),
                       "RSA key is 1024 bits; at least 2048 required")
        XCTAssertEqual(loadError([.ES384], .publicKeyPEM(.file("keys/ec-p256-spki.pem"))),
                       "algorithm ES384 does not fit an EC P-256 key (allowed: ES256)")
        XCTAssertEqual(loadError([.HS256], .publicKeyPEM(.file("keys/rsa-spki.pem"))),
                       "algorithm HS256 does not fit an RSA 2048-bit key (allowed: RS256, RS384, RS512, PS256, PS384, PS512)")
        XCTAssertEqual(loadError([.ES256], .publicKeyPEM(.file("keys/ed25519-spki.pem"))),
                       "algorithm ES256 does not fit an Ed25519 key (allowed: EdDSA)")
        XCTAssertEqual(loadError([.RS256], .publicKeyPEM(.file("keys/rsa-private.pem"))),
                       "the PEM holds a private key (PRIVATE KEY); configure the public key (openssl pkey -pubout) instead")
        XCTAssertEqual(loadError([.ES256], .publicKeyPEM(.file("keys/ec-secp256k1-spki.pem"))),
                       "EC curve secp256k1 is not supported (P-256, P-384 and P-521 are)")
        XCTAssertEqual(loadError([.RS256], .certificatePEM(.file("keys/rsa-spki.pem"))),
                       "no usable PEM block (found PUBLIC KEY; expected CERTIFICATE)")
        XCTAssertEqual(loadError([.RS256], .publicKeyPEM(.bytes(Array("hello".utf8)))),
                       "no PEM block found (expected PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE)")
        let garbage = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
        XCTAssertTrue(loadError([.RS256], .publicKeyPEM(.bytes(Array(garbage.utf8))))!.hasPrefix("parsing the SPKI public key failed"))
        XCTAssertTrue(loadError([.RS256], .publicKeyPEM(.file("keys/missing.pem")))!.hasPrefix("cannot read key file keys/missing.pem"))
        // Load errors leave no OpenSSL error behind.
        XCTAssertEqual(drainOpenSSLErrors(), [])
    }

    func testJWKS() throws {
        let (set, warnings) = try load([.RS256, .ES256, .EdDSA, .HS256], .jwks(.file("keys/jwks.json")))
        XCTAssertEqual(set.keyInfos.map(\.keyID), ["rsa-1", "ec-p256", "ed25519", "ed448", "hmac-1", "hmac-any"])
        XCTAssertEqual(set.keyInfos.first { $0.keyID == "rsa-1" }?.algorithms, [.RS256])
        XCTAssertEqual(set.keyInfos.first { $0.keyID == "hmac-1" }?.algorithms, [.HS256])
        let joined = warnings.joined(separator: "\n")
        XCTAssertTrue(joined.contains("(kid \"ec-p384\"): an EC P-384 key with alg ES384 fits none of the set's algorithms"), joined)
        XCTAssertTrue(joined.contains("(kid \"enc-1\"): use is \"enc\", not \"sig\"; skipped"), joined)
        XCTAssertTrue(joined.contains("(kid \"x25519\"): OKP curve X25519 is not a signature curve (Ed25519, Ed448); skipped"), joined)
        XCTAssertTrue(joined.contains("(kid \"unknown\"): kty foo is not supported (RSA, EC, OKP, oct); skipped"), joined)
    }

    func testJWKErrors() {
        func jwks(_ s: String) -> String? {
            loadError([.RS256, .ES256, .EdDSA], .jwks(.bytes(Array(s.utf8))))
        }
        XCTAssertEqual(jwks("[]"), "JWKS must be an object with a \"keys\" array")
        XCTAssertEqual(jwks("{\"keys\":[]}"), "JWKS has no keys")
        XCTAssertTrue(jwks("{\"keys\":")!.hasPrefix("JWKS is not valid JSON"))
        // Point not on the curve.
        let offCurve = #"{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a1"}]}"#
        XCTAssertTrue(jwks(offCurve)!.hasPrefix("JWKS has no usable keys (JWKS keys[0]: "), jwks(offCurve)!)
        let shortX = #"{"keys":[{"kty":"EC","crv":"P-256","x":"AQAB","y":"AQAB"}]}"#
        XCTAssertEqual(jwks(shortX), "JWKS has no usable keys (JWKS keys[0]: x and y of a P-256 key must be 32 bytes each)")
        let smallRSA = #"{"keys":[{"kty":"RSA","kid":"small","n":"AQAB","e":"AQAB"}]}"#
        XCTAssertTrue(jwks(smallRSA)!.contains("RSA key is 17 bits; at least 2048 required"), jwks(smallRSA)!)
        let priv = #"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"x"}]}"#
        XCTAssertTrue(jwks(priv)!.contains("holds a private key"))
        let wrongAlg = #"{"keys":[{"kty":"OKP","crv":"Ed25519","alg":"RS256","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#
        XCTAssertTrue(jwks(wrongAlg)!.contains("alg RS256 does not fit an Ed25519 key"))
        let ops = #"{"keys":[{"kty":"OKP","crv":"Ed25519","key_ops":["encrypt"],"x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#
        XCTAssertTrue(jwks(ops)!.contains("key_ops does not include \"verify\""))
        XCTAssertEqual(drainOpenSSLErrors(), [])
    }

    func testUnavailableKeySet() {
        let verifier = Verifier(keySets: [KeySet.unavailable(name: "remote", algorithms: [.RS256])])
        let token = try! TokenSigner(algorithm: .RS256, privateKeyPEM: FixtureEnvironment.bytes("keys/rsa-private.pem"))
            .sign(claims: ["exp": 4_102_444_800])
        XCTAssertEqual(verifier.verify(token, now: 0).failure, .keysUnavailable)
        XCTAssertEqual(AuthOutcome.keysUnavailable.httpStatus, 503)
    }
}
