// JOSE signature algorithms (RFC 7518 §3, RFC 8037). `none` does not exist here on purpose.

public enum JWSAlgorithm: String, Sendable, CaseIterable, Hashable, CustomStringConvertible {
    case HS256, HS384, HS512
    case RS256, RS384, RS512
    case PS256, PS384, PS512
    case ES256, ES384, ES512
    case EdDSA

    public var description: String { rawValue }

    enum Family { case hmac, rsaPKCS1, rsaPSS, ecdsa, eddsa }

    var family: Family {
        switch self {
        case .HS256, .HS384, .HS512: return .hmac
        case .RS256, .RS384, .RS512: return .rsaPKCS1
        case .PS256, .PS384, .PS512: return .rsaPSS
        case .ES256, .ES384, .ES512: return .ecdsa
        case .EdDSA: return .eddsa
        }
    }

    /// Digest output length in bytes (0 for EdDSA, which hashes internally).
    var digestLength: Int {
        switch self {
        case .HS256, .RS256, .PS256, .ES256: return 32
        case .HS384, .RS384, .PS384, .ES384: return 48
        case .HS512, .RS512, .PS512, .ES512: return 64
        case .EdDSA: return 0
        }
    }

    /// Bit for algorithm sets.
    var bit: UInt16 {
        switch self {
        case .HS256: return 1 << 0
        case .HS384: return 1 << 1
        case .HS512: return 1 << 2
        case .RS256: return 1 << 3
        case .RS384: return 1 << 4
        case .RS512: return 1 << 5
        case .PS256: return 1 << 6
        case .PS384: return 1 << 7
        case .PS512: return 1 << 8
        case .ES256: return 1 << 9
        case .ES384: return 1 << 10
        case .ES512: return 1 << 11
        case .EdDSA: return 1 << 12
        }
    }

    /// Looks an algorithm up by its name's bytes with no string comparisons (the hot path).
    static func from(name: String) -> JWSAlgorithm? {
        guard name.utf8.count == 5 else { return nil }
        var b = (UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0))
        var i = 0
        for c in name.utf8 {
            switch i {
            case 0: b.0 = c
            case 1: b.1 = c
            case 2: b.2 = c
            case 3: b.3 = c
            default: b.4 = c
            }
            i += 1
        }
        if b == (UInt8(ascii: "E"), UInt8(ascii: "d"), UInt8(ascii: "D"), UInt8(ascii: "S"), UInt8(ascii: "A")) {
            return .EdDSA
        }
        guard b.1 == UInt8(ascii: "S") else { return nil }
        let size: Int
        switch (b.2, b.3, b.4) {
        case (UInt8(ascii: "2"), UInt8(ascii: "5"), UInt8(ascii: "6")): size = 0
        case (UInt8(ascii: "3"), UInt8(ascii: "8"), UInt8(ascii: "4")): size = 1
        case (UInt8(ascii: "5"), UInt8(ascii: "1"), UInt8(ascii: "2")): size = 2
        default: return nil
        }
        switch b.0 {
        case UInt8(ascii: "H"): return [.HS256, .HS384, .HS512][size]
        case UInt8(ascii: "R"): return [.RS256, .RS384, .RS512][size]
        case UInt8(ascii: "P"): return [.PS256, .PS384, .PS512][size]
        case UInt8(ascii: "E"): return [.ES256, .ES384, .ES512][size]
        default: return nil
        }
    }
}

/// An elliptic curve for ECDSA keys.
public enum ECCurve: String, Sendable, Hashable {
    case p256 = "P-256"
    case p384 = "P-384"
    case p521 = "P-521"

    /// The one JWS algorithm a key on this curve may verify.
    public var algorithm: JWSAlgorithm {
        switch self {
        case .p256: return .ES256
        case .p384: return .ES384
        case .p521: return .ES512
        }
    }
    /// Bytes of one coordinate (and of r and s in a JWS signature).
    var coordinateLength: Int {
        switch self {
        case .p256: return 32
        case .p384: return 48
        case .p521: return 66
        }
    }
    /// OpenSSL group name.
    var groupName: String {
        switch self {
        case .p256: return "prime256v1"
        case .p384: return "secp384r1"
        case .p521: return "secp521r1"
        }
    }
    init?(groupName: String) {
        switch groupName {
        case "prime256v1", "P-256", "secp256r1": self = .p256
        case "secp384r1", "P-384": self = .p384
        case "secp521r1", "P-521": self = .p521
        default: return nil
        }
    }
}

/// An Edwards curve for EdDSA keys (RFC 8037 OKP).
public enum OKPCurve: String, Sendable, Hashable {
    case ed25519 = "Ed25519"
    case ed448 = "Ed448"

    var publicKeyLength: Int { self == .ed25519 ? 32 : 57 }
    var signatureLength: Int { self == .ed25519 ? 64 : 114 }
}

/// What a loaded key is, which decides the algorithms it can verify (DESIGN §2 lesson 10).
public enum KeyType: Sendable, Equatable, CustomStringConvertible {
    case secret(bytes: Int)
    case rsa(bits: Int)
    case ec(ECCurve)
    case okp(OKPCurve)

    public var fittingAlgorithms: [JWSAlgorithm] {
        switch self {
        case .secret: return [.HS256, .HS384, .HS512]
        case .rsa: return [.RS256, .RS384, .RS512, .PS256, .PS384, .PS512]
        case .ec(let curve): return [curve.algorithm]
        case .okp: return [.EdDSA]
        }
    }

    public func fits(_ algorithm: JWSAlgorithm) -> Bool { fittingAlgorithms.contains(algorithm) }

    public var description: String {
        switch self {
        case .secret: return "secret"
        case .rsa(let bits): return "RSA \(bits)-bit key"
        case .ec(let curve): return "EC \(curve.rawValue) key"
        case .okp(let curve): return "\(curve.rawValue) key"
        }
    }

    /// "a secret", "an RSA 2048-bit key", "an EC P-256 key", "an Ed25519 key".
    var withArticle: String {
        switch self {
        case .secret: return "a secret"
        case .rsa, .ec, .okp: return "an \(description)"
        }
    }
}
