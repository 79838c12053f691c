import Foundation
import XCTest

@testable import JWT

/// Reads fixture files from the test bundle (Tests/JWTTests/Fixtures, copied as a resource).
struct FixtureEnvironment: KeyEnvironment {
    var variables: [String: String] = [:]
    var credentialsDirectory: String? = nil

    static var fixturesURL: URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    }

    func env(_ name: String) -> String? { variables[name] }

    func readFile(_ path: String) throws -> [UInt8] {
        let url = path.hasPrefix("/") ? URL(fileURLWithPath: path) : FixtureEnvironment.fixturesURL.appendingPathComponent(path)
        return [UInt8](try Data(contentsOf: url))
    }

    static func bytes(_ path: String) -> [UInt8] {
        try! FixtureEnvironment().readFile(path)
    }

    static func json(_ path: String) -> JSONValue {
        try! JSONValue.parse(bytes(path))
    }
}

enum Fixture {
    /// A fixture key-set description → a loaded KeySet.
    static func keySet(_ spec: JSONValue, name: String = "test") throws -> (KeySet, [String]) {
        let algorithms = spec["algorithms"]!.arrayValue!.map { JWSAlgorithm(rawValue: $0.stringValue!)! }
        let material: KeyMaterial
        if let secret = spec["secret"]?.stringValue {
            let encoding = SecretEncoding(rawValue: spec["encoding"]?.stringValue ?? "raw")!
            material = .secret(.file(secret), encoding: encoding)
        } else if let pem = spec["public_key"]?.stringValue {
            material = .publicKeyPEM(.file(pem))
        } else if let jwks = spec["jwks"]?.stringValue {
            material = .jwks(.file(jwks))
        } else {
            fatalError("bad key spec \(spec)")
        }
        let (set, warnings) = try KeySet.load(
            KeySetSpec(name: name, algorithms: algorithms, material: material), environment: FixtureEnvironment())
        return (set, warnings)
    }

    static func policy(_ spec: JSONValue?) -> ClaimsPolicy {
        var policy = ClaimsPolicy()
        guard let spec else { return policy }
        if let v = spec["issuers"]?.arrayValue { policy.issuers = v.map { $0.stringValue! } }
        if let v = spec["audiences"]?.arrayValue { policy.audiences = v.map { $0.stringValue! } }
        if let v = spec["required"]?.arrayValue { policy.required = v.map { $0.stringValue! } }
        if let v = spec["leeway"]?.doubleValue { policy.leeway = v }
        if let v = spec["max_lifetime"]?.doubleValue { policy.maxLifetime = v }
        if let rules = spec["rules"]?.arrayValue {
            policy.rules = rules.map { r in
                let claim = r["claim"]!.stringValue!
                if let v = r["equals"] { return ClaimRule(claim: claim, .equals(v)) }
                if let v = r["one_of"] { return ClaimRule(claim: claim, .oneOf(v.arrayValue!)) }
                if let v = r["contains"] { return ClaimRule(claim: claim, .contains(v)) }
                return ClaimRule(claim: claim, .exists)
            }
        }
        return policy
    }
}

func secretSet(_ secret: String, algorithms: [JWSAlgorithm] = [.HS256], name: String = "hs") -> KeySet {
    try! KeySet.load(
        KeySetSpec(name: name, algorithms: algorithms, material: .secret(.value(secret))),
        environment: StaticKeyEnvironment()
    ).0
}

func hsToken(_ claims: JSONValue, secret: String = "0123456789abcdef0123456789abcdef", algorithm: JWSAlgorithm = .HS256,
             kid: String? = nil, extraHeader: [(String, JSONValue)] = []) -> String {
    try! TokenSigner(algorithm: algorithm, secret: Array(secret.utf8)).sign(
        claims: claims, keyID: kid, extraHeader: extraHeader)
}

let testSecret = "0123456789abcdef0123456789abcdef"
