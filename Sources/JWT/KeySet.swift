// Key sets: named, pinned to the algorithms they list, parsed once at load into EVP_PKEYs / HMAC states.

import Base64Codec
import COpenSSL

// MARK: - Specification

/// Where a secret comes from. `credential` names a systemd credential under $CREDENTIALS_DIRECTORY.
public enum SecretSource: Sendable, Equatable {
    case value(String)
    case env(String)
    case file(String)
    case credential(String)
}

/// How the configured secret's text turns into key bytes.
public enum SecretEncoding: String, Sendable, Equatable, CaseIterable {
    case raw, base64, base64url
}

/// Where key material bytes come from.
public enum MaterialSource: Sendable, Equatable {
    case bytes([UInt8])
    case file(String)
    case credential(String)
}

public enum KeyMaterial: Sendable, Equatable {
    /// An HMAC secret (HS256/384/512 only).
    case secret(SecretSource, encoding: SecretEncoding = .raw)
    /// A PEM public key: SPKI (`PUBLIC KEY`), PKCS#1 (`RSA PUBLIC KEY`), or an X.509 `CERTIFICATE`
    /// (its subject public key is used; the first block that is one of these is taken).
    case publicKeyPEM(MaterialSource)
    /// A PEM X.509 certificate only.
    case certificatePEM(MaterialSource)
    /// An RFC 7517 JWK Set (`{"keys": [...]}`) with kty RSA, EC, OKP or oct.
    case jwks(MaterialSource)
}

public struct KeySetSpec: Sendable, Equatable {
    public var name: String
    public var algorithms: [JWSAlgorithm]
    public var material: KeyMaterial
    public init(name: String, algorithms: [JWSAlgorithm], material: KeyMaterial) {
        self.name = name
        self.algorithms = algorithms
        self.material = material
    }
}

/// The I/O a key load may need, supplied by the caller (the JWT target does no I/O of its own).
public protocol KeyEnvironment {
    /// The value of an environment variable, or nil when it is not set.
    func env(_ name: String) -> String?
    /// The whole content of a file.
    func readFile(_ path: String) throws -> [UInt8]
    /// `$CREDENTIALS_DIRECTORY` (systemd `LoadCredential=`), or nil when unset.
    var credentialsDirectory: String? { get }
}

/// A KeyEnvironment from fixed tables: for tests, and for callers that resolved everything up front.
public struct StaticKeyEnvironment: KeyEnvironment, Sendable {
    public var variables: [String: String]
    public var files: [String: [UInt8]]
    public var credentialsDirectory: String?

    public struct FileNotFound: Error, CustomStringConvertible {
        public var description: String { "No such file or directory" }
    }

    public init(variables: [String: String] = [:], files: [String: [UInt8]] = [:], credentialsDirectory: String? = nil) {
        self.variables = variables
        self.files = files
        self.credentialsDirectory = credentialsDirectory
    }
    public func env(_ name: String) -> String? { variables[name] }
    public func readFile(_ path: String) throws -> [UInt8] {
        guard let bytes = files[path] else { throw FileNotFound() }
        return bytes
    }
}

/// A key set that could not be loaded. `message` reads well after `file:line:col: keys.NAME: `.
public struct KeyLoadError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// What one loaded key is, for `check`/`inspect` output and tests.
public struct KeyInfo: Sendable, Equatable {
    public var keyID: String?
    public var type: KeyType
    public var algorithms: [JWSAlgorithm]
}

// MARK: - Loaded keys

final class VerificationKey: @unchecked Sendable {
    let keyID: String?
    let type: KeyType
    let mask: UInt16
    let hmac: HMACKey?
    let publicKey: PublicKey?

    init(keyID: String?, type: KeyType, algorithms: [JWSAlgorithm], hmac: HMACKey?, publicKey: PublicKey?) {
        self.keyID = keyID
        self.type = type
        self.mask = algorithms.reduce(0) { $0 | $1.bit }
        self.hmac = hmac
        self.publicKey = publicKey
    }

    var algorithms: [JWSAlgorithm] { JWSAlgorithm.allCases.filter { mask & $0.bit != 0 } }

    @inline(__always)
    func allows(_ a: JWSAlgorithm) -> Bool { mask & a.bit != 0 }

    func verify(_ algorithm: JWSAlgorithm, data: UnsafeRawBufferPointer, signature: UnsafeRawBufferPointer) -> Bool {
        guard allows(algorithm) else { return false }
        if let hmac { return hmac.verify(algorithm, data: data, signature: signature) }
        if let publicKey { return publicKey.verify(algorithm, data: data, signature: signature) }
        return false
    }
}

/// A named set of keys, immutable after load. Each key verifies only the set's algorithms that fit its
/// type (secret → HS*, RSA → RS*/PS*, EC → the ES* of its curve, OKP → EdDSA).
public final class KeySet: @unchecked Sendable {
    public let name: String
    public let algorithms: [JWSAlgorithm]
    /// False for a placeholder whose keys are not there yet (a remote JWKS never fetched): tokens that
    /// would need it get `keys_unavailable`.
    public let isAvailable: Bool
    let keys: [VerificationKey]
    let mask: UInt16

    init(name: String, algorithms: [JWSAlgorithm], keys: [VerificationKey], isAvailable: Bool = true) {
        self.name = name
        var unique: [JWSAlgorithm] = []
        for a in algorithms where !unique.contains(a) { unique.append(a) }
        self.algorithms = unique
        self.keys = keys
        self.isAvailable = isAvailable
        self.mask = unique.reduce(0) { $0 | $1.bit }
    }

    public var keyInfos: [KeyInfo] { keys.map { KeyInfo(keyID: $0.keyID, type: $0.type, algorithms: $0.algorithms) } }

    /// A set with no keys yet (e.g. a remote JWKS not fetched): verification answers `keys_unavailable`.
    public static func unavailable(name: String, algorithms: [JWSAlgorithm]) -> KeySet {
        KeySet(name: name, algorithms: algorithms, keys: [], isAvailable: false)
    }

    /// Loads and checks a key set. Warnings (short secrets, skipped JWKS entries) do not stop the load.
    public static func load(_ spec: KeySetSpec, environment: some KeyEnvironment) throws(KeyLoadError) -> (
        KeySet, warnings: [String]
    ) {
        guard !spec.algorithms.isEmpty else { throw KeyLoadError("no algorithms listed") }
        var warnings: [String] = []
        let keys: [VerificationKey]
        switch spec.material {
        case .secret(let source, let encoding):
            let secret = try resolveSecret(source, encoding: encoding, environment: environment)
            let type = KeyType.secret(bytes: secret.count)
            try checkFit(spec.algorithms, type)
            for a in spec.algorithms where secret.count < a.digestLength {
                warnings.append(
                    "secret is \(secret.count) bytes, shorter than the \(a.digestLength) bytes \(a) wants (RFC 7518 §3.2)")
            }
            keys = [VerificationKey(keyID: nil, type: type, algorithms: spec.algorithms, hmac: HMACKey(secret: secret), publicKey: nil)]
        case .publicKeyPEM(let source), .certificatePEM(let source):
            var certificateOnly = false
            if case .certificatePEM = spec.material { certificateOnly = true }
            let bytes = try resolveMaterial(source, what: "key", environment: environment)
            let key = try PEMLoader.publicKey(fromPEM: bytes, certificateOnly: certificateOnly)
            try checkFit(spec.algorithms, key.type)
            do { try key.prepare(spec.algorithms) } catch { throw KeyLoadError(error.description) }
            keys = [VerificationKey(keyID: nil, type: key.type, algorithms: spec.algorithms, hmac: nil, publicKey: key)]
        case .jwks(let source):
            let bytes = try resolveMaterial(source, what: "JWKS", environment: environment)
            keys = try JWKSLoader.load(bytes, algorithms: spec.algorithms, warnings: &warnings)
        }
        return (KeySet(name: spec.name, algorithms: spec.algorithms, keys: keys), warnings)
    }

    /// A key set from a JWKS document already in memory (for a remote JWKS refresh).
    public static func load(name: String, algorithms: [JWSAlgorithm], jwks: [UInt8]) throws(KeyLoadError) -> (
        KeySet, warnings: [String]
    ) {
        try load(KeySetSpec(name: name, algorithms: algorithms, material: .jwks(.bytes(jwks))),
                 environment: StaticKeyEnvironment())
    }

    static func checkFit(_ algorithms: [JWSAlgorithm], _ type: KeyType) throws(KeyLoadError) {
        for a in algorithms where !type.fits(a) {
            let allowed = type.fittingAlgorithms.map(\.rawValue).joined(separator: ", ")
            throw KeyLoadError("algorithm \(a) does not fit \(type.withArticle) (allowed: \(allowed))")
        }
    }

    static func readFile(_ path: String, what: String, environment: some KeyEnvironment) throws(KeyLoadError) -> [UInt8] {
        do {
            return try environment.readFile(path)
        } catch {
            throw KeyLoadError("cannot read \(what) file \(path): \(error)")
        }
    }

    static func credentialPath(_ name: String, environment: some KeyEnvironment) throws(KeyLoadError) -> String {
        guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else {
            throw KeyLoadError("systemd credential name \"\(name)\" is not a plain file name")
        }
        guard let dir = environment.credentialsDirectory, !dir.isEmpty else {
            throw KeyLoadError(
                "systemd credential \(name) requested but $CREDENTIALS_DIRECTORY is not set (LoadCredential= in the unit?)")
        }
        return dir.hasSuffix("/") ? dir + name : dir + "/" + name
    }

    static func resolveMaterial(_ source: MaterialSource, what: String, environment: some KeyEnvironment) throws(KeyLoadError)
        -> [UInt8]
    {
        switch source {
        case .bytes(let b): return b
        case .file(let path): return try readFile(path, what: what, environment: environment)
        case .credential(let name):
            return try readFile(credentialPath(name, environment: environment), what: "credential", environment: environment)
        }
    }

    /// The secret's bytes. Files and credentials lose one trailing newline (`\n` or `\r\n`), which editors
    /// and `echo` add; a secret that truly ends in a newline must be given base64-encoded.
    public static func resolveSecret(_ source: SecretSource, encoding: SecretEncoding, environment: some KeyEnvironment)
        throws(KeyLoadError) -> [UInt8]
    {
        var text: [UInt8]
        switch source {
        case .value(let s): text = Array(s.utf8)
        case .env(let name):
            guard let v = environment.env(name) else { throw KeyLoadError("environment variable \(name) is not set") }
            text = Array(v.utf8)
        case .file(let path):
            text = try readFile(path, what: "secret", environment: environment)
            stripNewline(&text)
        case .credential(let name):
            text = try readFile(credentialPath(name, environment: environment), what: "credential", environment: environment)
            stripNewline(&text)
        }
        let secret: [UInt8]
        switch encoding {
        case .raw: secret = text
        case .base64, .base64url:
            guard let decoded = Base64.decodeLenient(String(decoding: text, as: UTF8.self), url: encoding == .base64url)
            else { throw KeyLoadError("secret is not valid \(encoding.rawValue)") }
            secret = decoded
        }
        guard !secret.isEmpty else { throw KeyLoadError("secret is empty") }
        return secret
    }

    static func stripNewline(_ text: inout [UInt8]) {
        if text.last == 0x0A {
            text.removeLast()
            if text.last == 0x0D { text.removeLast() }
        }
    }
}

// MARK: - PEM

enum PEMLoader {
    static func publicKey(fromPEM bytes: [UInt8], certificateOnly: Bool) throws(KeyLoadError) -> PublicKey {
        let result: Result<OpaquePointer, KeyLoadError> = bytes.withUnsafeBytes { raw in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else {
                return .failure(KeyLoadError(OpenSSLError("BIO_new_mem_buf").description))
            }
            defer { BIO_free(bio) }
            var seen: [String] = []
            while true {
                var name: UnsafeMutablePointer<CChar>? = nil
                var header: UnsafeMutablePointer<CChar>? = nil
                var data: UnsafeMutablePointer<UInt8>? = nil
                var length = 0
                guard PEM_read_bio(bio, &name, &header, &data, &length) == 1 else {
                    ERR_clear_error()
                    break
                }
                let label = name.map { String(cString: $0) } ?? ""
                defer {
                    CRYPTO_free(name, nil, 0)
                    CRYPTO_free(header, nil, 0)
                    CRYPTO_free(data, nil, 0)
                }
                seen.append(label)
                var p: UnsafePointer<UInt8>? = UnsafePointer(data)
                switch label {
                case "CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE":
                    let x509 = label == "TRUSTED CERTIFICATE" ? d2i_X509_AUX(nil, &p, length) : d2i_X509(nil, &p, length)
                    guard let x509 else {
                        return .failure(KeyLoadError(OpenSSLError("parsing the certificate").description))
                    }
                    defer { X509_free(x509) }
                    guard let pkey = X509_get_pubkey(x509) else {
                        return .failure(KeyLoadError(OpenSSLError("reading the certificate's public key").description))
                    }
                    return .success(pkey)
                case "PUBLIC KEY" where !certificateOnly:
                    guard let pkey = d2i_PUBKEY(nil, &p, length) else {
                        return .failure(KeyLoadError(OpenSSLError("parsing the SPKI public key").description))
                    }
                    return .success(pkey)
                case "RSA PUBLIC KEY" where !certificateOnly:
                    guard let pkey = d2i_PublicKey(EVP_PKEY_RSA, nil, &p, length) else {
                        return .failure(KeyLoadError(OpenSSLError("parsing the PKCS#1 RSA public key").description))
                    }
                    return .success(pkey)
                case let l where l.hasSuffix("PRIVATE KEY"):
                    return .failure(KeyLoadError(
                        "the PEM holds a private key (\(l)); configure the public key (openssl pkey -pubout) instead"))
                default:
                    continue
                }
            }
            let wanted = certificateOnly ? "CERTIFICATE" : "PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE"
            if seen.isEmpty { return .failure(KeyLoadError("no PEM block found (expected \(wanted))")) }
            return .failure(KeyLoadError(
                "no usable PEM block (found \(seen.joined(separator: ", ")); expected \(wanted))"))
        }
        let pkey = try result.get()
        return try makePublicKey(pkey)
    }

    /// Classifies and checks an EVP_PKEY (takes ownership; frees it on error).
    static func makePublicKey(_ pkey: OpaquePointer) throws(KeyLoadError) -> PublicKey {
        let type: KeyType
        do {
            type = try classify(pkey)
        } catch {
            EVP_PKEY_free(pkey)
            throw error
        }
        return PublicKey(pkey: pkey, type: type)
    }

    static func classify(_ pkey: OpaquePointer) throws(KeyLoadError) -> KeyType {
        let type: KeyType
        switch EVP_PKEY_get_base_id(pkey) {
        case EVP_PKEY_RSA:
            let bits = Int(EVP_PKEY_get_bits(pkey))
            guard bits >= 2048 else { throw KeyLoadError("RSA key is \(bits) bits; at least 2048 required") }
            type = .rsa(bits: bits)
        case EVP_PKEY_RSA_PSS:
            throw KeyLoadError("RSA-PSS-restricted keys (id-RSASSA-PSS) are not supported; use a plain rsaEncryption key")
        case EVP_PKEY_EC:
            var buffer = [CChar](repeating: 0, count: 80)
            var length = 0
            guard EVP_PKEY_get_utf8_string_param(pkey, "group", &buffer, buffer.count, &length) == 1 else {
                throw KeyLoadError(OpenSSLError("reading the EC curve").description)
            }
            let group = String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard let curve = ECCurve(groupName: group) else {
                throw KeyLoadError("EC curve \(group) is not supported (P-256, P-384 and P-521 are)")
            }
            type = .ec(curve)
        case EVP_PKEY_ED25519: type = .okp(.ed25519)
        case EVP_PKEY_ED448: type = .okp(.ed448)
        default:
            throw KeyLoadError("unsupported public key type (RSA, EC P-256/384/521, Ed25519 and Ed448 are supported)")
        }
        switch type {
        case .rsa, .ec:
            guard let ctx = EVP_PKEY_CTX_new_from_pkey(nil, pkey, nil) else {
                throw KeyLoadError(OpenSSLError("EVP_PKEY_CTX_new_from_pkey").description)
            }
            defer { EVP_PKEY_CTX_free(ctx) }
            guard EVP_PKEY_public_check(ctx) == 1 else {
                throw KeyLoadError(OpenSSLError("checking the \(type)").description)
            }
        default: break
        }
        return type
    }
}

// MARK: - JWK / JWKS

enum JWKSLoader {
    static func load(_ bytes: [UInt8], algorithms: [JWSAlgorithm], warnings: inout [String]) throws(KeyLoadError)
        -> [VerificationKey]
    {
        let document: JSONValue
        do {
            document = try JSONValue.parse(bytes)
        } catch {
            throw KeyLoadError("JWKS is not valid JSON: \(error)")
        }
        guard case .array(let entries)? = document["keys"] else {
            throw KeyLoadError("JWKS must be an object with a \"keys\" array")
        }
        var keys: [VerificationKey] = []
        var reasons: [String] = []
        for (index, entry) in entries.enumerated() {
            let kid = entry["kid"]?.stringValue
            let label = kid.map { "JWKS keys[\(index)] (kid \"\($0)\")" } ?? "JWKS keys[\(index)]"
            do {
                if let key = try jwk(entry, algorithms: algorithms) {
                    if let kid, keys.contains(where: { $0.keyID == kid }) {
                        warnings.append("\(label): kid is used by another key too; both are tried")
                    }
                    keys.append(key)
                }
            } catch {
                warnings.append("\(label): \(error.message); skipped")
                reasons.append("\(label): \(error.message)")
            }
        }
        guard !keys.isEmpty else {
            if entries.isEmpty { throw KeyLoadError("JWKS has no keys") }
            throw KeyLoadError("JWKS has no usable keys (\(reasons.prefix(3).joined(separator: "; ")))")
        }
        for a in algorithms where !keys.contains(where: { $0.allows(a) }) {
            warnings.append("no key in the JWKS can verify \(a)")
        }
        return keys
    }

    static func member(_ jwk: JSONValue, _ name: String) throws(KeyLoadError) -> [UInt8] {
        guard let text = jwk[name]?.stringValue else { throw KeyLoadError("member \"\(name)\" is missing") }
        guard let bytes = Base64.decodeLenient(text, url: true) else {
            throw KeyLoadError("member \"\(name)\" is not base64url")
        }
        return bytes
    }

    /// One JWK → a key, nil when it is not for signatures, or an error explaining why it is unusable.
    static func jwk(_ jwk: JSONValue, algorithms: [JWSAlgorithm]) throws(KeyLoadError) -> VerificationKey? {
        guard case .object = jwk else { throw KeyLoadError("not a JSON object") }
        guard let kty = jwk["kty"]?.stringValue else { throw KeyLoadError("member \"kty\" is missing") }
        if let use = jwk["use"] {
            guard use.stringValue == "sig" else { throw KeyLoadError("use is \(use.serialized()), not \"sig\"") }
        }
        if let ops = jwk["key_ops"] {
            guard let list = ops.arrayValue, list.contains(.string("verify")) else {
                throw KeyLoadError("key_ops does not include \"verify\"")
            }
        }
        var pinned: JWSAlgorithm? = nil
        if let alg = jwk["alg"] {
            guard let name = alg.stringValue, let a = JWSAlgorithm(rawValue: name) else {
                throw KeyLoadError("alg \(alg.serialized()) is not a supported JWS algorithm")
            }
            pinned = a
        }
        let kid: String?
        if let k = jwk["kid"] {
            guard let s = k.stringValue else { throw KeyLoadError("kid is not a string") }
            kid = s
        } else {
            kid = nil
        }

        var hmac: HMACKey? = nil
        var publicKey: PublicKey? = nil
        let type: KeyType
        switch kty {
        case "oct":
            let k = try member(jwk, "k")
            guard !k.isEmpty else { throw KeyLoadError("secret is empty") }
            type = .secret(bytes: k.count)
            hmac = HMACKey(secret: k)
        case "RSA":
            if jwk["d"] != nil { throw KeyLoadError("holds a private key (member \"d\"); publish public keys only") }
            let pk = try PEMLoader.makePublicKey(try rsa(n: member(jwk, "n"), e: member(jwk, "e")))
            type = pk.type
            publicKey = pk
        case "EC":
            if jwk["d"] != nil { throw KeyLoadError("holds a private key (member \"d\"); publish public keys only") }
            guard let crvName = jwk["crv"]?.stringValue else { throw KeyLoadError("member \"crv\" is missing") }
            guard let curve = ECCurve(rawValue: crvName) else {
                throw KeyLoadError("EC curve \(crvName) is not supported (P-256, P-384 and P-521 are)")
            }
            let x = try member(jwk, "x"), y = try member(jwk, "y")
            guard x.count == curve.coordinateLength, y.count == curve.coordinateLength else {
                throw KeyLoadError("x and y of a \(crvName) key must be \(curve.coordinateLength) bytes each")
            }
            let pk = try PEMLoader.makePublicKey(try ec(curve: curve, point: [0x04] + x + y))
            type = pk.type
            publicKey = pk
        case "OKP":
            if jwk["d"] != nil { throw KeyLoadError("holds a private key (member \"d\"); publish public keys only") }
            guard let crvName = jwk["crv"]?.stringValue else { throw KeyLoadError("member \"crv\" is missing") }
            guard let curve = OKPCurve(rawValue: crvName) else {
                throw KeyLoadError("OKP curve \(crvName) is not a signature curve (Ed25519, Ed448)")
            }
            let x = try member(jwk, "x")
            guard x.count == curve.publicKeyLength else {
                throw KeyLoadError("x of an \(crvName) key must be \(curve.publicKeyLength) bytes")
            }
            let id = curve == .ed25519 ? EVP_PKEY_ED25519 : EVP_PKEY_ED448
            guard let pkey = EVP_PKEY_new_raw_public_key(id, nil, x, x.count) else {
                throw KeyLoadError(OpenSSLError("loading the \(crvName) key").description)
            }
            let pk = try PEMLoader.makePublicKey(pkey)
            type = pk.type
            publicKey = pk
        default:
            throw KeyLoadError("kty \(kty) is not supported (RSA, EC, OKP, oct)")
        }
        if let pinned, !type.fits(pinned) {
            throw KeyLoadError("alg \(pinned) does not fit \(type.withArticle)")
        }
        let allowed = algorithms.filter { type.fits($0) && (pinned == nil || pinned == $0) }
        guard !allowed.isEmpty else {
            let listed = algorithms.map(\.rawValue).joined(separator: ", ")
            throw KeyLoadError("\(type.withArticle)\(pinned.map { " with alg \($0)" } ?? "") fits none of the set's algorithms (\(listed))")
        }
        if let publicKey {
            do { try publicKey.prepare(allowed) } catch { throw KeyLoadError(error.description) }
        }
        return VerificationKey(keyID: kid, type: type, algorithms: allowed, hmac: hmac, publicKey: publicKey)
    }

    static let publicKeySelection: Int32 = 0x86  // EVP_PKEY_PUBLIC_KEY

    static func fromData(_ keyType: String, _ push: (OpaquePointer) -> Bool) throws(KeyLoadError) -> OpaquePointer {
        guard let bld = OSSL_PARAM_BLD_new() else { throw KeyLoadError(OpenSSLError("OSSL_PARAM_BLD_new").description) }
        defer { OSSL_PARAM_BLD_free(bld) }
        guard push(bld), let params = OSSL_PARAM_BLD_to_param(bld) else {
            throw KeyLoadError(OpenSSLError("building \(keyType) key parameters").description)
        }
        defer { OSSL_PARAM_free(params) }
        guard let ctx = EVP_PKEY_CTX_new_from_name(nil, keyType, nil) else {
            throw KeyLoadError(OpenSSLError("EVP_PKEY_CTX_new_from_name").description)
        }
        defer { EVP_PKEY_CTX_free(ctx) }
        var pkey: OpaquePointer? = nil
        guard EVP_PKEY_fromdata_init(ctx) == 1, EVP_PKEY_fromdata(ctx, &pkey, publicKeySelection, params) == 1,
            let pkey
        else {
            throw KeyLoadError(OpenSSLError("loading the \(keyType) key").description)
        }
        return pkey
    }

    static func rsa(n: [UInt8], e: [UInt8]) throws(KeyLoadError) -> OpaquePointer {
        guard let bn = BN_bin2bn(n, Int32(n.count), nil) else { throw KeyLoadError(OpenSSLError("BN_bin2bn").description) }
        defer { BN_free(bn) }
        guard let be = BN_bin2bn(e, Int32(e.count), nil) else { throw KeyLoadError(OpenSSLError("BN_bin2bn").description) }
        defer { BN_free(be) }
        return try fromData("RSA") { bld in
            OSSL_PARAM_BLD_push_BN(bld, ParamName.n, bn) == 1 && OSSL_PARAM_BLD_push_BN(bld, ParamName.e, be) == 1
        }
    }

    static func ec(curve: ECCurve, point: [UInt8]) throws(KeyLoadError) -> OpaquePointer {
        // OSSL_PARAM_BLD keeps pointers until OSSL_PARAM_BLD_to_param: the buffers must outlive fromData.
        let group = Array(curve.groupName.utf8CString)
        let g = UnsafeMutableBufferPointer<CChar>.allocate(capacity: group.count)
        _ = g.initialize(from: group)
        defer { g.deallocate() }
        let pub = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: point.count)
        _ = pub.initialize(from: point)
        defer { pub.deallocate() }
        return try fromData("EC") { bld in
            OSSL_PARAM_BLD_push_utf8_string(bld, ParamName.group, g.baseAddress, 0) == 1
                && OSSL_PARAM_BLD_push_octet_string(bld, ParamName.pub, pub.baseAddress, pub.count) == 1
        }
    }
}

/// OSSL_PARAM keeps key names by pointer, so they live for the process.
enum ParamName {
    static func make(_ s: String) -> UnsafePointer<CChar> {
        let bytes = Array(s.utf8CString)
        let p = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count)
        p.initialize(from: bytes, count: bytes.count)
        return UnsafePointer(p)
    }
    nonisolated(unsafe) static let n = make("n")
    nonisolated(unsafe) static let e = make("e")
    nonisolated(unsafe) static let group = make("group")
    nonisolated(unsafe) static let pub = make("pub")
}
