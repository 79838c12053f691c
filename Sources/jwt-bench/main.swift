// jwt-bench: single-core JWT verifications per second, uncached and cached, beside `openssl speed`.
//
//   jwt-bench [SECONDS] [--openssl-speed FILE]
//
// SECONDS (default 3) is the time per measurement. FILE holds the output of
// `openssl speed -seconds 3 rsa2048 ecdsap256 ed25519` from the same run; when given, each asymmetric
// row also shows the uncached rate as a share of OpenSSL's raw verify rate for the same primitive.
// `make bench-jwt` runs both. Not a test: it prints numbers and always exits 0.

import COpenSSL
import Glibc
import JWT

// MARK: Bench-only keys (generated with `openssl genpkey`); never used outside jwt-bench. Top-level code in
// main.swift runs in order, so they come first.

let rsaPrivate = """
-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCrTWwefwKWW+4M
Ty5yX0fafVLzidaG91n5BHmBJ1Lno+/4MoGEb8eSGfzoW5sI9I9o7lqGP1FJCjz5
za6fB6aNxguxTHf3uDdQ+cxy1qZ5MxHgww7TVBu7XBMLEG1/zzvDH2fqiPCBISkZ
6pY2O8MC920lsfLatk6QtUcl4yIAGKK2nLigIFPNr5quJn4j6gbjIqI6niP6FH+x
vr+WwUTqL7gJt5l4w5KI81wa2LVJIbcC0Y5b/HBJC2/RfwEFSp6SlhInoS4rJoqx
aWSKZikJOhov7+bBt7txFz+ohJtC4awXEJXelmguAqE4q6yYfeFRMqi3pg4M1+d4
S0GcV1Y9AgMBAAECggEAANl4cMpGdAJussbtvwlz7MR0VdrYIoE1hAOeqqJMSfPJ
K9zsQYDgZ3wTgf96TFgSIf4UmtfTil4voTmA5S7/h3J0+mMbsTHLrG4gsm0YFD/J
lejBuRCQtqQlQAfL0zdu32/XbxVQxAMrFgLQzeIL/IbHlslEIAuJZjRP7wMqVv/G
MwsgixzX2+htGXpJNive1Ri2b6PmHM7iWQpdGOfVBtkQUoCw+os7kKnHgl9wqwS1
ILW6oxPyaSWYqSqoQX0tJbib5Y5krnC5cWWlFN27JyYtYNR93Yf9+pPr8TblKAJR
8n5uG2DVSpidxZbiB1iDfjXACQNR/2zCou+8MZ7STQKBgQDUDEXNUVr84D/zK3n7
HSRhSyO+ogMF+yOmx1Q5nVA8YkfmnEaqcVZlB/IhOmXdE6UQhCnUIfl19O2b1N5T
/k4oa9pl87kaTNFrUe7OZusu3sLi4KLakCE5x/akNmSB01jz0CWsNv2ikQrKsQts
FShO8amySWQ79AOuDPXtYw039wKBgQDOzxqXn5lAR8vO+IYo3oj9116RZe4FBT60
vb6yqScLJV9pyypzLRG4OEQMSHbAN43dTe5YtG6BvN/AezIQ8vQVWIy2UAj5N89O
ifHwUhoTd2ZCVOrTdjq7gD7q5UGtmOgQpSS6i0l5qBGKv9L3E9erAmVSxvx+zWav
z91/RE4eawKBgQDN5oDdBnN4evP91qiimsCZrNGvqTeQVjVfG8yACW5AxBoXJoZD
uLvwbI/DjiYdTpcIe5z2PGs0C7mxiDi+jIAuJdQzDT8e95qeQDfHug4CPBI3JXNd
EXkB11Z6S8q6eZO1Y9dA60DL21UETnfN4pl6VpS15yfqQ15TYohmkrjiLwKBgGog
T1YlmYAqF8VzNW19nTEeNzJH61f6NA6OHHEUaqvGlur0TilipGgzv3/KI95J4+wA
FOLCXL8JDI166ttVwbm+gh8AfUpewGxeT6BykV0R9ZDugL7ZOhSEIEVsNkL+Z4A7
Ltjnp2HdxHq+K2WNciwYg6Rx5pqvjxWDhvfLNodXAoGAZaSGmaEbc8/obNbigl4+
1GTYe95ouFE25ZGLmiafamNJWm5KZU3TN5bib++KMbgn0FSRQaZJXlY6jsYNDGjV
SN1Qy4m6MN36psUDTmMILTYGSodR/Wb9N0906Y6L0oLRd+KghDIoITncUqFPmoVX
lCW9PHDFZhEWRC+XGyUIr3M=
-----END PRIVATE KEY-----
"""
let rsaPublic = """
-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAq01sHn8CllvuDE8ucl9H
2n1S84nWhvdZ+QR5gSdS56Pv+DKBhG/Hkhn86FubCPSPaO5ahj9RSQo8+c2unwem
jcYLsUx397g3UPnMctameTMR4MMO01Qbu1wTCxBtf887wx9n6ojwgSEpGeqWNjvD
AvdtJbHy2rZOkLVHJeMiABiitpy4oCBTza+ariZ+I+oG4yKiOp4j+hR/sb6/lsFE
6i+4CbeZeMOSiPNcGti1SSG3AtGOW/xwSQtv0X8BBUqekpYSJ6EuKyaKsWlkimYp
CToaL+/mwbe7cRc/qISbQuGsFxCV3pZoLgKhOKusmH3hUTKot6YODNfneEtBnFdW
PQIDAQAB
-----END PUBLIC KEY-----
"""
let ecPrivate = """
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg8ohsQNQK/aTY8kzR
puEKDnXztqtNivcJCHvd8o8HyrqhRANCAAS0R1jJBOocROofw1t9+uHp1Paw1lkb
jARqXSTkNUP9TiSFg1LhOIN6hcf9V+0gwxBH8JDHhNjGaC9kHPBr6q+P
-----END PRIVATE KEY-----
"""
let ecPublic = """
-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEtEdYyQTqHETqH8Nbffrh6dT2sNZZ
G4wEal0k5DVD/U4khYNS4TiDeoXH/VftIMMQR/CQx4TYxmgvZBzwa+qvjw==
-----END PUBLIC KEY-----
"""
let edPrivate = """
-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIE8SCbREYnxbdEsTQ6nqJMy4caNrFeIUJ2UHKOnE89ry
-----END PRIVATE KEY-----
"""
let edPublic = """
-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAVt9e3NAQ+8SdgOsjlGYLZayRSwM4O/YDdyh5xqvR95A=
-----END PUBLIC KEY-----
"""

// MARK: Bench

var seconds = 3.0
var speedFile: String? = nil
var only: String? = nil
var arguments = CommandLine.arguments.dropFirst()
while let a = arguments.popFirst() {
    if a == "--openssl-speed" {
        speedFile = arguments.popFirst()
    } else if a == "--only" {
        only = arguments.popFirst()  // e.g. RS256 or RS256:uncached / HS256:cached (for profiling)
    } else if let s = Double(a) {
        seconds = s
    } else {
        print("usage: jwt-bench [SECONDS] [--openssl-speed FILE]")
        exit(2)
    }
}

func wallNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func monotonic() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Runs `body` in batches until `seconds` pass; returns operations per second.
@inline(never)
func rate(_ seconds: Double, _ body: () -> Bool) -> Double {
    var ops = 0
    var failures = 0
    let start = monotonic()
    var elapsed = 0.0
    repeat {
        for _ in 0..<64 {
            if !body() { failures += 1 }
        }
        ops += 64
        elapsed = monotonic() - start
    } while elapsed < seconds
    if failures > 0 { print("  !! \(failures) verifications failed") }
    return Double(ops) / elapsed
}

/// verify/s from `openssl speed` output, keyed by primitive.
func opensslRates(_ path: String) -> [String: Double] {
    guard let f = fopen(path, "r") else { return [:] }
    defer { fclose(f) }
    var rates: [String: Double] = [:]
    var line: UnsafeMutablePointer<CChar>? = nil
    var cap = 0
    while getline(&line, &cap, f) > 0 {
        let text = String(cString: line!)
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
        guard let last = fields.last, let verify = Double(last) else { continue }
        if text.hasPrefix("rsa 2048 bits") || text.hasPrefix("rsa  2048 bits") {
            rates["rsa2048"] = verify
        } else if text.contains("ecdsa (nistp256)") {
            rates["ecdsap256"] = verify
        } else if text.contains("EdDSA (Ed25519)") {
            rates["ed25519"] = verify
        }
    }
    free(line)
    return rates
}

let claims: JSONValue = [
    "iss": "https://id.example.com/realms/portcullis",
    "sub": "3f1c2a9e-7b4d-4e8a-9c1f-0d2e5b6a7c8d",
    "aud": ["chat", "rtc"],
    "exp": .number((wallNow() + 3600).rounded(.down)),
    "iat": .number((wallNow() - 60).rounded(.down)),
    "jti": "b7e1c9d2-4f3a-4b6e-8d1c-2a9f7e5b3c1d",
    "scope": "openid profile email chat:read chat:write",
    "email": "alice@example.com",
    "name": "Alice Example",
    "tenant": "acme",
    "permissions": ["view", "edit", "comment"],
]

/// OpenSSL's raw verify, as `openssl speed` measures it: one EVP_PKEY_CTX set up once, then
/// EVP_PKEY_verify of a signature over a ready digest (EdDSA: EVP_DigestVerify of a short message).
/// Measured in this process, interleaved with the JWT measurement, so both see the same machine load.
final class RawVerify {
    let ctx: OpaquePointer?
    let md: OpaquePointer?
    var signature: [UInt8]
    var message: [UInt8]

    init(alg: JWSAlgorithm, privatePEM: String, publicPEM: String) {
        func load(_ pem: String, _ priv: Bool) -> OpaquePointer {
            Array(pem.utf8).withUnsafeBytes { raw in
                let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count))
                defer { BIO_free(bio) }
                return priv ? PEM_read_bio_PrivateKey(bio, nil, nil, nil)! : PEM_read_bio_PUBKEY(bio, nil, nil, nil)!
            }
        }
        let priv = load(privatePEM, true), pub = load(publicPEM, false)
        message = [UInt8](repeating: 0x5A, count: alg == .EdDSA ? 36 : 32)
        if alg == .EdDSA {
            let sctx = EVP_MD_CTX_new()
            EVP_DigestSignInit(sctx, nil, nil, nil, priv)
            var len = 0
            EVP_DigestSign(sctx, nil, &len, message, message.count)
            signature = [UInt8](repeating: 0, count: len)
            EVP_DigestSign(sctx, &signature, &len, message, message.count)
            EVP_MD_CTX_free(sctx)
            md = EVP_MD_CTX_new()
            EVP_DigestVerifyInit(md, nil, nil, nil, pub)
            ctx = nil
        } else {
            let sctx = EVP_PKEY_CTX_new(priv, nil)
            EVP_PKEY_sign_init(sctx)
            if alg == .PS256 {
                _ = portcullis_EVP_PKEY_CTX_set_rsa_padding(sctx, RSA_PKCS1_PSS_PADDING)
                _ = portcullis_EVP_PKEY_CTX_set_rsa_pss_saltlen(sctx, 32)
            }
            EVP_PKEY_CTX_set_signature_md(sctx, EVP_sha256())
            var len = 0
            EVP_PKEY_sign(sctx, nil, &len, message, message.count)
            signature = [UInt8](repeating: 0, count: len)
            EVP_PKEY_sign(sctx, &signature, &len, message, message.count)
            signature.removeSubrange(len...)
            EVP_PKEY_CTX_free(sctx)
            ctx = EVP_PKEY_CTX_new(pub, nil)
            EVP_PKEY_verify_init(ctx)
            if alg == .PS256 {
                _ = portcullis_EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING)
                _ = portcullis_EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, 32)
            }
            EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256())
            md = nil
        }
        EVP_PKEY_free(priv)
        EVP_PKEY_free(pub)
    }

    func verify() -> Bool {
        if let md {
            return EVP_DigestVerify(md, signature, signature.count, message, message.count) == 1
        }
        return EVP_PKEY_verify(ctx, signature, signature.count, message, message.count) == 1
    }
}

struct Row {
    var alg: JWSAlgorithm
    var set: KeySet
    var signer: TokenSigner
    var primitive: String?
    var raw: RawVerify? = nil
}

let environment = StaticKeyEnvironment()
func publicSet(_ alg: JWSAlgorithm, _ pem: String) -> KeySet {
    try! KeySet.load(KeySetSpec(name: "bench", algorithms: [alg], material: .publicKeyPEM(.bytes(Array(pem.utf8)))),
                     environment: environment).0
}
let secret = "bench-secret-bench-secret-bench-secret-bench-secret-bench-secret!"
let rows: [Row] = [
    Row(alg: .HS256,
        set: try! KeySet.load(KeySetSpec(name: "bench", algorithms: [.HS256], material: .secret(.value(secret))),
                              environment: environment).0,
        signer: try! TokenSigner(algorithm: .HS256, secret: Array(secret.utf8)), primitive: nil),
    Row(alg: .RS256, set: publicSet(.RS256, rsaPublic),
        signer: try! TokenSigner(algorithm: .RS256, privateKeyPEM: Array(rsaPrivate.utf8)), primitive: "rsa2048",
        raw: RawVerify(alg: .RS256, privatePEM: rsaPrivate, publicPEM: rsaPublic)),
    Row(alg: .PS256, set: publicSet(.PS256, rsaPublic),
        signer: try! TokenSigner(algorithm: .PS256, privateKeyPEM: Array(rsaPrivate.utf8)), primitive: "rsa2048",
        raw: RawVerify(alg: .PS256, privatePEM: rsaPrivate, publicPEM: rsaPublic)),
    Row(alg: .ES256, set: publicSet(.ES256, ecPublic),
        signer: try! TokenSigner(algorithm: .ES256, privateKeyPEM: Array(ecPrivate.utf8)), primitive: "ecdsap256",
        raw: RawVerify(alg: .ES256, privatePEM: ecPrivate, publicPEM: ecPublic)),
    Row(alg: .EdDSA, set: publicSet(.EdDSA, edPublic),
        signer: try! TokenSigner(algorithm: .EdDSA, privateKeyPEM: Array(edPrivate.utf8)), primitive: "ed25519",
        raw: RawVerify(alg: .EdDSA, privatePEM: edPrivate, publicPEM: edPublic)),
]

let openssl = speedFile.map(opensslRates) ?? [:]
let policy = ClaimsPolicy(issuers: ["https://id.example.com/realms/portcullis"], audiences: ["chat"],
                          required: ["exp", "sub"], leeway: 30, maxLifetime: 86400,
                          rules: [ClaimRule(claim: "permissions", .contains("edit"))])

print("jwt-bench: \(seconds)s per measurement, one thread; claims policy with iss, aud, required, lifetime, one rule")
func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }
func fmt(_ d: Double) -> String { String(Int(d.rounded())) }
print(pad("alg", 7) + lpad("token B", 8) + lpad("uncached/s", 12) + lpad("raw EVP/s", 11) + lpad("ratio", 7)
      + lpad("cached/s", 12) + "   " + pad("openssl speed verify/s", 24) + lpad("ratio", 7))

/// Alternates short slices of `a` and `b` so both see the same load; returns (a/s, b/s).
func interleaved(_ seconds: Double, _ a: () -> Bool, _ b: () -> Bool) -> (Double, Double) {
    let slices = 10
    var (opsA, timeA, opsB, timeB) = (0.0, 0.0, 0.0, 0.0)
    for _ in 0..<slices {
        let ra = rate(seconds / Double(2 * slices), a)
        opsA += ra * seconds / Double(2 * slices)
        timeA += seconds / Double(2 * slices)
        let rb = rate(seconds / Double(2 * slices), b)
        opsB += rb * seconds / Double(2 * slices)
        timeB += seconds / Double(2 * slices)
    }
    return (opsA / timeA, opsB / timeB)
}

for row in rows {
    let onlyParts = only?.split(separator: ":").map(String.init) ?? []
    if let alg = onlyParts.first, alg != row.alg.rawValue { continue }
    let mode = onlyParts.count > 1 ? onlyParts[1] : "both"
    let token = try! row.signer.sign(claims: claims)
    let verifier = Verifier(keySets: [row.set], policy: policy)
    let now = wallNow()
    guard case .success = verifier.verify(token, now: now) else {
        print("\(row.alg): token does not verify: \(verifier.verify(token, now: now))")
        continue
    }
    let jwt: () -> Bool = {
        if case .success = verifier.verify(token, now: now) { return true }
        return false
    }
    var uncached = 0.0
    var raw: Double? = nil
    if mode != "cached" {
        if let r = row.raw, r.verify() {
            let (u, v) = interleaved(2 * seconds, jwt, r.verify)
            uncached = u
            raw = v
        } else {
            uncached = rate(seconds, jwt)
        }
    }
    var cache = TokenCache()
    let cached = mode == "uncached" ? 0 : rate(seconds) {
        if case .success = verifier.verify(token, now: now, cache: &cache) { return true }
        return false
    }
    var reference = "-"
    var speedRatio = "-"
    if let p = row.primitive {
        reference = p
        if let r = openssl[p] {
            reference = "\(p) \(fmt(r))"
            speedRatio = String(Int((uncached / r * 100).rounded())) + "%"
        }
    }
    let rawText = raw.map(fmt) ?? "-"
    let rawRatio = raw.map { String(Int((uncached / $0 * 100).rounded())) + "%" } ?? "-"
    print(pad(row.alg.rawValue, 7) + lpad(String(token.utf8.count), 8) + lpad(fmt(uncached), 12) + lpad(rawText, 11)
          + lpad(rawRatio, 7) + lpad(fmt(cached), 12) + "   " + pad(reference, 24) + lpad(speedRatio, 7))
}
print("raw EVP/s: OpenSSL's own verify of the same key in this process (pre-hashed digest, ready context, as openssl speed")
print("does), interleaved with the uncached run; ratio = uncached / raw.")
print("targets: uncached RS256/ES256/EdDSA >= 85% of OpenSSL's raw verify; HS256 uncached >= 300000/s; cached >= 2000000/s")
