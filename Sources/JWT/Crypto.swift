// Signature primitives over OpenSSL 3 EVP. Keys are parsed once into EVP_PKEYs; verification contexts are
// set up once per (key, algorithm) and pooled, so the hot path is digest + EVP_PKEY_verify.

import COpenSSL
import Synchronization

/// Every message on this thread's OpenSSL error queue, oldest first; the queue is left empty.
public func drainOpenSSLErrors() -> [String] {
    var messages: [String] = []
    while true {
        let code = ERR_get_error()
        if code == 0 { break }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        let text = buffer.withUnsafeBufferPointer { p in
            String(decoding: UnsafeRawBufferPointer(start: p.baseAddress, count: strlen(p.baseAddress!)),
                   as: UTF8.self)
        }
        messages.append(text)
    }
    return messages
}

/// An OpenSSL failure, with the drained error queue.
public struct OpenSSLError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var queue: [String]
    init(_ operation: String) {
        self.operation = operation
        self.queue = drainOpenSSLErrors()
    }
    public var description: String {
        queue.isEmpty ? "\(operation) failed" : "\(operation) failed: \(queue.joined(separator: "; "))"
    }
}

// MARK: - Digests

enum Digest {
    /// SHA-2 of `data` for the algorithm's digest size into `out` (at least 64 bytes).
    @inline(__always)
    static func sha2(_ length: Int, _ data: UnsafeRawBufferPointer, _ out: UnsafeMutablePointer<UInt8>) {
        switch length {
        case 32:
            var c = SHA256_CTX()
            portcullis_SHA256_Init(&c)
            portcullis_SHA256_Update(&c, data.baseAddress, data.count)
            portcullis_SHA256_Final(out, &c)
        case 48:
            var c = SHA512_CTX()
            portcullis_SHA384_Init(&c)
            portcullis_SHA512_Update(&c, data.baseAddress, data.count)
            portcullis_SHA384_Final(out, &c)
        default:
            var c = SHA512_CTX()
            portcullis_SHA512_Init(&c)
            portcullis_SHA512_Update(&c, data.baseAddress, data.count)
            portcullis_SHA512_Final(out, &c)
        }
    }

    static func evpMD(_ length: Int) -> OpaquePointer? {
        switch length {
        case 32: return EVP_sha256()
        case 48: return EVP_sha384()
        default: return EVP_sha512()
        }
    }
}

// MARK: - HMAC

/// HMAC-SHA-2 with the key's inner and outer states computed once (RFC 2104); a MAC copies two states.
final class HMACKey: @unchecked Sendable {
    // `let`s: read concurrently from every loop with no exclusivity bookkeeping.
    private let inner256: SHA256_CTX, outer256: SHA256_CTX
    private let inner384: SHA512_CTX, outer384: SHA512_CTX
    private let inner512: SHA512_CTX, outer512: SHA512_CTX
    let length: Int

    init(secret: [UInt8]) {
        length = secret.count
        // SHA-256: 64-byte blocks.
        var key = secret
        if key.count > 64 {
            var d = [UInt8](repeating: 0, count: 32)
            key.withUnsafeBytes { k in d.withUnsafeMutableBufferPointer { Digest.sha2(32, k, $0.baseAddress!) } }
            key = d
        }
        key += [UInt8](repeating: 0, count: 64 - key.count)
        var ipad = key.map { $0 ^ 0x36 }, opad = key.map { $0 ^ 0x5C }
        var i256 = SHA256_CTX(), o256 = SHA256_CTX()
        portcullis_SHA256_Init(&i256)
        portcullis_SHA256_Update(&i256, ipad, 64)
        portcullis_SHA256_Init(&o256)
        portcullis_SHA256_Update(&o256, opad, 64)
        inner256 = i256
        outer256 = o256
        // SHA-384 and SHA-512: 128-byte blocks.
        var states: [(SHA512_CTX, SHA512_CTX)] = []
        for length in [48, 64] {
            key = secret
            if key.count > 128 {
                var d = [UInt8](repeating: 0, count: 64)
                key.withUnsafeBytes { k in
                    d.withUnsafeMutableBufferPointer { Digest.sha2(length, k, $0.baseAddress!) }
                }
                key = Array(d.prefix(length))
            }
            key += [UInt8](repeating: 0, count: 128 - key.count)
            ipad = key.map { $0 ^ 0x36 }
            opad = key.map { $0 ^ 0x5C }
            var i = SHA512_CTX(), o = SHA512_CTX()
            if length == 48 {
                portcullis_SHA384_Init(&i)
                portcullis_SHA384_Init(&o)
            } else {
                portcullis_SHA512_Init(&i)
                portcullis_SHA512_Init(&o)
            }
            portcullis_SHA512_Update(&i, ipad, 128)
            portcullis_SHA512_Update(&o, opad, 128)
            states.append((i, o))
        }
        inner384 = states[0].0
        outer384 = states[0].1
        inner512 = states[1].0
        outer512 = states[1].1
        OPENSSL_cleanse(&key, key.count)
        OPENSSL_cleanse(&ipad, ipad.count)
        OPENSSL_cleanse(&opad, opad.count)
    }

    /// Writes the MAC (digestLength bytes) into `out`, which holds at least 64 bytes.
    @inline(__always)
    func mac(_ algorithm: JWSAlgorithm, _ data: UnsafeRawBufferPointer, _ out: UnsafeMutablePointer<UInt8>) {
        switch algorithm {
        case .HS256:
            var c = inner256
            portcullis_SHA256_Update(&c, data.baseAddress, data.count)
            portcullis_SHA256_Final(out, &c)
            c = outer256
            portcullis_SHA256_Update(&c, out, 32)
            portcullis_SHA256_Final(out, &c)
        case .HS384:
            var c = inner384
            portcullis_SHA512_Update(&c, data.baseAddress, data.count)
            portcullis_SHA384_Final(out, &c)
            c = outer384
            portcullis_SHA512_Update(&c, out, 48)
            portcullis_SHA384_Final(out, &c)
        default:
            var c = inner512
            portcullis_SHA512_Update(&c, data.baseAddress, data.count)
            portcullis_SHA512_Final(out, &c)
            c = outer512
            portcullis_SHA512_Update(&c, out, 64)
            portcullis_SHA512_Final(out, &c)
        }
    }

    /// Constant-time check of `signature` against the MAC of `data`.
    func verify(_ algorithm: JWSAlgorithm, data: UnsafeRawBufferPointer, signature: UnsafeRawBufferPointer) -> Bool {
        let n = algorithm.digestLength
        guard signature.count == n else { return false }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { buf in
            let out = buf.baseAddress!
            mac(algorithm, data, out)
            return CRYPTO_memcmp(out, signature.baseAddress, n) == 0
        }
    }

    /// The MAC as bytes (for minting tokens and tests).
    func mac(_ algorithm: JWSAlgorithm, _ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 64)
        data.withUnsafeBytes { d in out.withUnsafeMutableBufferPointer { mac(algorithm, d, $0.baseAddress!) } }
        return Array(out.prefix(algorithm.digestLength))
    }
}

// MARK: - Public keys

/// Up to `limit` ready verification contexts. A context is used by one thread at a time; the mutex is
/// held only to pop and push.
final class ContextPool: @unchecked Sendable {
    // Addresses rather than OpaquePointers: the mutex's state must be Sendable-shaped. One context also
    // sits in an atomic slot, so the uncontended path is two atomic exchanges and no lock.
    private let slot = Atomic<UInt>(0)
    private let free = Mutex<[UInt]>([])
    private let limit = 16
    private let release: @Sendable (OpaquePointer) -> Void

    init(release: @escaping @Sendable (OpaquePointer) -> Void) { self.release = release }

    @inline(__always)
    func take() -> OpaquePointer? {
        let fast = slot.exchange(0, ordering: .acquiring)
        if fast != 0 { return OpaquePointer(bitPattern: fast) }
        return OpaquePointer(bitPattern: free.withLock { $0.popLast() } ?? 0)
    }
    @inline(__always)
    func give(_ ctx: OpaquePointer) {
        let address = UInt(bitPattern: ctx)
        if slot.compareExchange(expected: 0, desired: address, ordering: .releasing).exchanged { return }
        let kept = free.withLock { list -> Bool in
            if list.count < limit {
                list.append(address)
                return true
            }
            return false
        }
        if !kept { release(ctx) }
    }
    deinit {
        var list = free.withLock { list in
            let all = list
            list.removeAll()
            return all
        }
        let fast = slot.exchange(0, ordering: .acquiring)
        if fast != 0 { list.append(fast) }
        for address in list {
            if let c = OpaquePointer(bitPattern: address) { release(c) }
        }
    }
}

/// An EVP_PKEY (RSA, EC or EdDSA public key) with per-algorithm context pools.
final class PublicKey: @unchecked Sendable {
    let pkey: OpaquePointer  // EVP_PKEY*
    let type: KeyType
    private let pools: [ContextPool]  // indexed by poolIndex(algorithm)

    /// Takes ownership of `pkey`.
    init(pkey: OpaquePointer, type: KeyType) {
        self.pkey = pkey
        self.type = type
        var pools: [ContextPool] = []
        for _ in 0..<7 {
            if case .okp = type {
                pools.append(ContextPool(release: { EVP_MD_CTX_free($0) }))
            } else {
                pools.append(ContextPool(release: { EVP_PKEY_CTX_free($0) }))
            }
        }
        self.pools = pools
    }

    deinit { EVP_PKEY_free(pkey) }

    private func poolIndex(_ a: JWSAlgorithm) -> Int {
        switch a {
        case .RS256: return 0
        case .RS384: return 1
        case .RS512: return 2
        case .PS256: return 3
        case .PS384: return 4
        case .PS512: return 5
        default: return 6
        }
    }

    /// A verify context for `algorithm` (RS/PS/ES: EVP_PKEY_CTX; EdDSA: EVP_MD_CTX).
    private func makeContext(_ algorithm: JWSAlgorithm) -> OpaquePointer? {
        if algorithm == .EdDSA {
            guard let md = EVP_MD_CTX_new() else { return nil }
            if EVP_DigestVerifyInit_ex(md, nil, nil, nil, nil, pkey, nil) != 1 {
                EVP_MD_CTX_free(md)
                return nil
            }
            return md
        }
        guard let ctx = EVP_PKEY_CTX_new_from_pkey(nil, pkey, nil) else { return nil }
        var ok = EVP_PKEY_verify_init(ctx) == 1
        let md = Digest.evpMD(algorithm.digestLength)
        switch algorithm.family {
        case .rsaPKCS1:
            ok = ok && portcullis_EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0
        case .rsaPSS:
            ok = ok && portcullis_EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) > 0
        default: break
        }
        ok = ok && EVP_PKEY_CTX_set_signature_md(ctx, md) > 0
        if algorithm.family == .rsaPSS {
            ok = ok && portcullis_EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) > 0
            ok = ok && portcullis_EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, Int32(algorithm.digestLength)) > 0
        }
        if !ok {
            EVP_PKEY_CTX_free(ctx)
            return nil
        }
        return ctx
    }

    /// Checks that contexts can be built for each algorithm (at load, so failures surface there).
    func prepare(_ algorithms: [JWSAlgorithm]) throws(OpenSSLError) {
        for a in algorithms {
            guard let ctx = makeContext(a) else { throw OpenSSLError("setting up \(a) verification") }
            pools[poolIndex(a)].give(ctx)
        }
    }

    /// Verifies `signature` (JWS form) over `data`. Clears any OpenSSL error a failure leaves.
    func verify(_ algorithm: JWSAlgorithm, data: UnsafeRawBufferPointer, signature: UnsafeRawBufferPointer) -> Bool {
        let pool = pools[poolIndex(algorithm)]
        guard let ctx = pool.take() ?? makeContext(algorithm) else {
            ERR_clear_error()
            return false
        }
        let ok: Bool
        switch algorithm.family {
        case .eddsa:
            guard case .okp(let curve) = type, signature.count == curve.signatureLength else {
                pool.give(ctx)
                return false
            }
            ok = EVP_DigestVerify(
                ctx, signature.baseAddress?.assumingMemoryBound(to: UInt8.self), signature.count,
                data.baseAddress?.assumingMemoryBound(to: UInt8.self), data.count) == 1
        case .ecdsa:
            guard case .ec(let curve) = type else {
                pool.give(ctx)
                return false
            }
            ok = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64 + 160) { buf in
                let digest = buf.baseAddress!
                let der = digest + 64
                guard let derLength = ECDSASignature.der(fromRaw: signature, coordinate: curve.coordinateLength, into: der)
                else { return false }
                Digest.sha2(algorithm.digestLength, data, digest)
                return EVP_PKEY_verify(ctx, der, derLength, digest, algorithm.digestLength) == 1
            }
        default:
            guard case .rsa(let bits) = type, signature.count == (bits + 7) / 8 else {
                pool.give(ctx)
                return false
            }
            ok = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { buf in
                let digest = buf.baseAddress!
                Digest.sha2(algorithm.digestLength, data, digest)
                return EVP_PKEY_verify(
                    ctx, signature.baseAddress?.assumingMemoryBound(to: UInt8.self), signature.count, digest,
                    algorithm.digestLength) == 1
            }
        }
        if !ok { ERR_clear_error() }
        pool.give(ctx)
        return ok
    }
}

enum ECDSASignature {
    /// DER `SEQUENCE { INTEGER r, INTEGER s }` from the JWS raw form r‖s, which must be exactly
    /// 2 × `coordinate` bytes. Writes at most 2 × (coordinate + 3) + 3 bytes; nil on a wrong length.
    static func der(fromRaw raw: UnsafeRawBufferPointer, coordinate: Int, into out: UnsafeMutablePointer<UInt8>) -> Int? {
        guard raw.count == 2 * coordinate, let base = raw.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            return nil
        }
        func integerLength(_ p: UnsafePointer<UInt8>) -> (skip: Int, pad: Bool) {
            var skip = 0
            while skip < coordinate - 1 && p[skip] == 0 { skip += 1 }
            return (skip, p[skip] & 0x80 != 0)
        }
        let r = integerLength(base), s = integerLength(base + coordinate)
        let rLen = coordinate - r.skip + (r.pad ? 1 : 0)
        let sLen = coordinate - s.skip + (s.pad ? 1 : 0)
        let content = 2 + rLen + 2 + sLen
        var i = 0
        out[i] = 0x30
        i += 1
        if content >= 0x80 {
            out[i] = 0x81
            out[i + 1] = UInt8(content)
            i += 2
        } else {
            out[i] = UInt8(content)
            i += 1
        }
        func writeInteger(_ p: UnsafePointer<UInt8>, _ info: (skip: Int, pad: Bool), _ len: Int) {
            out[i] = 0x02
            out[i + 1] = UInt8(len)
            i += 2
            if info.pad {
                out[i] = 0
                i += 1
            }
            let n = coordinate - info.skip
            (out + i).update(from: p + info.skip, count: n)
            i += n
        }
        writeInteger(base, r, rLen)
        writeInteger(base + coordinate, s, sLen)
        return i
    }
}
