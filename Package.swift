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
        // Pure: WebSocket frame codec, Sec-WebSocket-* helpers, Engine.IO/Socket.IO packet parsing.
        .target(name: "WebSocket"),
        // Pure over OpenSSL: no sockets, no Dispatch.
        .target(name: "JWT", dependencies: ["COpenSSL"]),
        // OpenSSL TLS sessions (today: the blocking client that fetches remote JWKS).
        .target(name: "TLS", dependencies: ["COpenSSL"]),
        .target(name: "GatewayConfig", dependencies: ["HTTPCore", .product(name: "Yams", package: "Yams")]),
        .target(name: "Policy", dependencies: ["GatewayConfig", "JWT", "HTTPCore"]),
        .systemLibrary(name: "CSystem"),   // <sys/epoll.h> (not in Swift's Glibc module)
        .target(name: "EventLoop", dependencies: ["CSystem"]),
        .target(name: "Admin", dependencies: ["HTTPCore"]),
        .target(name: "Proxy", dependencies: ["HTTPCore", "WebSocket", "JWT", "GatewayConfig", "Policy", "EventLoop", "Admin", "TLS", "CNghttp2"]),
        .executableTarget(name: "portcullis", dependencies: [
            "Proxy", "Policy", "GatewayConfig", "JWT", "HTTPCore", "EventLoop", "Admin",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // `make bench-jwt`: single-core verifications per second beside `openssl speed`.
        .executableTarget(name: "jwt-bench", dependencies: ["JWT"], path: "Sources/jwt-bench"),
        .testTarget(name: "HTTPCoreTests", dependencies: ["HTTPCore"]),
        .testTarget(name: "JWTTests", dependencies: ["JWT"], resources: [.copy("Fixtures")]),
        .testTarget(name: "GatewayConfigTests", dependencies: ["GatewayConfig"]),
        .testTarget(name: "WebSocketTests", dependencies: ["WebSocket"]),
        .testTarget(name: "PolicyTests", dependencies: ["Policy", "GatewayConfig", "JWT", "HTTPCore"]),
    ],
    swiftLanguageModes: [.v6]
)
