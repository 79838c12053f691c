// swift-tools-version:6.0
import PackageDescription

// Target graph (DESIGN.md §3): codecs are pure; only JWT/TLS touch COpenSSL; only Proxy touches CNghttp2.
let package = Package(
    name: "portcullis",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "portcullis", targets: ["portcullis"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CNghttp2", pkgConfig: "libnghttp2", providers: [.apt(["libnghttp2-dev"])]),
        // Pure: no Dispatch, Glibc or Foundation.
        .target(name: "HTTPCore"),
        // Pure: base64 and base64url (RFC 4648), shared by the JWT engine and the WebSocket codecs.
        .target(name: "Base64Codec"),
        // Pure: WebSocket frame codec, Sec-WebSocket-* helpers, Engine.IO/Socket.IO packet parsing.
        .target(name: "WebSocket", dependencies: ["Base64Codec"]),
        // Pure over OpenSSL: no sockets, no Dispatch.
        .target(name: "JWT", dependencies: ["COpenSSL", "Base64Codec"]),
        // OpenSSL TLS sessions (today: the blocking client that fetches remote JWKS).
        .target(name: "TLS", dependencies: ["COpenSSL"]),
        .target(name: "GatewayConfig", dependencies: ["HTTPCore", .product(name: "Yams", package: "Yams")]),
        .target(name: "Policy", dependencies: ["GatewayConfig", "JWT", "HTTPCore", "Base64Codec"]),
        .systemLibrary(name: "CSystem"),   // <sys/epoll.h> (not in Swift's Glibc module)
        .target(name: "EventLoop", dependencies: ["CSystem"]),
        .target(name: "Admin", dependencies: ["HTTPCore"]),
        .target(name: "Proxy", dependencies: ["HTTPCore", "WebSocket", "JWT", "GatewayConfig", "Policy", "EventLoop", "Admin", "TLS", "CNghttp2"]),
        .executableTarget(name: "portcullis", dependencies: [
            "Proxy", "Policy", "GatewayConfig", "JWT", "HTTPCore", "EventLoop", "Admin", "Base64Codec",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // `make bench-jwt`: single-core verifications per second beside `openssl speed`.
        .executableTarget(name: "jwt-bench", dependencies: ["JWT"], path: "Sources/jwt-bench"),
        .testTarget(name: "HTTPCoreTests", dependencies: ["HTTPCore"]),
        .testTarget(name: "JWTTests", dependencies: ["JWT", "Base64Codec"], resources: [.copy("Fixtures")]),
        .testTarget(name: "GatewayConfigTests", dependencies: ["GatewayConfig"]),
        .testTarget(name: "WebSocketTests", dependencies: ["WebSocket", "Base64Codec"]),
        .testTarget(name: "PolicyTests", dependencies: ["Policy", "GatewayConfig", "JWT", "HTTPCore", "Base64Codec"]),
    ],
    swiftLanguageModes: [.v6]
)
