// Minting tokens: for `portcullis token`, `portcullis demo` and tests. Not on the request path.

import Base64Codec
import COpenSSL

public struct SigningError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Signs compact JWS tokens with an HMAC secret or a PEM private key (PKCS#8, PKCS#1 or SEC1).
public final class TokenSigner: @unchecked Sendable {
    public let algorithm: JWSAlgorithm
    private let hmac: HMACKey?
    private let pkey: OpaquePointer?

    public init(algorithm: JWSAlgorithm, secret: [UInt8]) throws(SigningError) {
        guard algorithm.family == .hmac else { throw SigningError("\(algorithm) needs a private key, not a secret") }
        guard !secret.isEmpty else { throw SigningError("secret is empty") }
        self.algorithm = algorithm
        self.hmac = HMACKey(secret: secret)
        self.pkey = nil
    }

    public init(algorithm: JWSAlgorithm, privateKeyPEM: [UInt8]) throws(SigningError) {
        guard algorithm.family != .hmac else { throw SigningError("\(algorithm) needs a secret, not a private key") }
        let pkey: OpaquePointer? = privateKeyPEM.withUnsafeBytes { raw in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
            defer { BIO_free(bio) }
            return PEM_read_bio_PrivateKey(bio, nil, nil, nil)
        }
        guard let pkey else { throw SigningError(OpenSSLError("reading the private key").description) }
        let type: KeyType
        do {
            type = try PEMLoader.classify(pkey)
        } catch {
            EVP_PKEY_free(pkey)
            throw SigningError(error.message)
        }
        guard type.fits(algorithm) else {
            EVP_PKEY_free(pkey)
            throw SigningError("algorithm \(algorithm) does not fit \(type.withArticle)")
        }
        self.algorithm = algorithm
        self.hmac = nil
        self.pkey = pkey
    }

    deinit { if let pkey { EVP_PKEY_free(pkey) } }

    /// `{"alg": …, "typ": "JWT", "kid": …}` plus `extraHeader`, then `claims` (an object).
    public func sign(claims: JSONValue, keyID: String? = nil, extraHeader: [(String, JSONValue)] = []) throws(SigningError)
        -> String
    {
        var header: [(String, JSONValue)] = [("alg", .string(algorithm.rawValue)), ("typ", "JWT")]
        if let keyID { header.append(("kid", .string(keyID))) }
        header += extraHeader
        let h = Base64.encodeURL(Array(JSONValue.object(header).serialized().utf8))
        let p = Base64.encodeURL(Array(claims.serialized().utf8))
        let input = Array("\(h).\(p)".utf8)
        let signature = try signature(over: input)
        return "\(h).\(p).\(Base64.encodeURL(signature))"
    }

    /// The JWS signature bytes over `input` (ES*: raw r‖s).
    public func signature(over input: [UInt8]) throws(SigningError) -> [UInt8] {
        if let hmac { return hmac.mac(algorithm, input) }
        guard let pkey, let md = EVP_MD_CTX_new() else { throw SigningError("no key") }
        defer { EVP_MD_CTX_free(md) }
        var pctx: OpaquePointer? = nil
        let digest = algorithm.family == .eddsa ? nil : Digest.evpMD(algorithm.digestLength)
        guard EVP_DigestSignInit(md, &pctx, digest, nil, pkey) == 1 else {
            throw SigningError(OpenSSLError("EVP_DigestSignInit").description)
        }
        if algorithm.family == .rsaPSS {
            guard portcullis_EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0,
                portcullis_EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, Int32(algorithm.digestLength)) > 0,
                portcullis_EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, digest) > 0
            else { throw SigningError(OpenSSLError("setting PSS parameters").description) }
        }
        var length = 0
        guard EVP_DigestSign(md, nil, &length, input, input.count) == 1 else {
            throw SigningError(OpenSSLError("EVP_DigestSign").description)
        }
        var out = [UInt8](repeating: 0, count: length)
        guard EVP_DigestSign(md, &out, &length, input, input.count) == 1 else {
            throw SigningError(OpenSSLError("EVP_DigestSign").description)
        }
        out.removeSubrange(length...)
        guard algorithm.family == .ecdsa, case .ec(let curve)? = try? PEMLoader.classify(pkey) else { return out }
        // DER ECDSA-Sig-Value → raw r‖s of the curve's exact length.
        var p: UnsafePointer<UInt8>? = nil
        let sig: OpaquePointer? = out.withUnsafeBufferPointer { buf in
            p = buf.baseAddress
            return d2i_ECDSA_SIG(nil, &p, buf.count)
        }
        guard let sig else { throw SigningError(OpenSSLError("d2i_ECDSA_SIG").description) }
        defer { ECDSA_SIG_free(sig) }
        let n = curve.coordinateLength
        var raw = [UInt8](repeating: 0, count: 2 * n)
        raw.withUnsafeMutableBufferPointer { r in
            _ = BN_bn2binpad(ECDSA_SIG_get0_r(sig), r.baseAddress, Int32(n))
            _ = BN_bn2binpad(ECDSA_SIG_get0_s(sig), r.baseAddress! + n, Int32(n))
        }
        return raw
    }
}
