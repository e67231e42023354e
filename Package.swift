// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Sluice",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "SluiceRouter", targets: ["SluiceRouter"]),
        .library(name: "SluiceServer", targets: ["SluiceServer"]),
        .library(name: "SluiceWeb", targets: ["SluiceWeb"]),
        .library(name: "SluiceWebClient", targets: ["SluiceWebClient"]),
        .library(name: "SluiceGateway", targets: ["SluiceGateway"]),
        .library(name: "SluiceConfig", targets: ["SluiceConfig"]),
        .executable(name: "sluiced", targets: ["sluiced"]),
        .executable(name: "sluice-demo", targets: ["sluice-demo"]),
        .executable(name: "sluice-todo", targets: ["sluice-todo"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.1.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"6.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/vapor/multipart-kit.git", from: "4.7.1"),
    ],
    targets: [
        // The example of issue 14: a todo API on SluiceWeb and SQLite (GRDB), its library and its command.
        .target(
            name: "SluiceTodo",
            dependencies: ["SluiceWeb", "SluiceTraffic", .product(name: "GRDB", package: "GRDB.swift")],
            path: "Examples/sluice-todo/SluiceTodo",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "sluice-todo",
            dependencies: [
                "SluiceTodo", "SluiceWeb", "SluiceServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Examples/sluice-todo/sluice-todo",
            swiftSettings: strict
        ),
        .testTarget(
            name: "SluiceTodoTests",
            dependencies: ["SluiceTodo", "SluiceWeb", "SluiceTestSupport", .product(name: "NIOHTTP1", package: "swift-nio")],
            swiftSettings: strict
        ),
        // The radix-tree router: pure Swift, no NIO. Shared by the gateway and SluiceWeb.
        .target(name: "SluiceRouter", swiftSettings: strict),
        // NIO plumbing shared by every server: listeners, HTTP/1.1 pipeline, limits, timeouts, drain.
        .target(
            name: "SluiceServer",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Atomics", package: "swift-atomics"),
            ],
            swiftSettings: strict
        ),
        // TLS certificates: loading and checking `[tls]`, SNI choice, the server context listeners hand out.
        .target(
            name: "SluiceTLS",
            dependencies: [
                "SluiceConfig",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
            ],
            swiftSettings: strict
        ),
        // The Gin-like framework backends are written in.
        .target(
            name: "SluiceWeb",
            dependencies: [
                "SluiceRouter", "SluiceServer", "SluiceTraffic", "SluiceFilters", "CZlib",
                .product(name: "MultipartKit", package: "multipart-kit"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Outbound calls for SluiceWeb services (async-http-client): the request's deadline, id and trace passed
        // on, a circuit breaker per target.
        .target(
            name: "SluiceWebClient",
            dependencies: [
                "SluiceWeb", "SluiceServer", "SluiceTraffic",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Traffic-control policies with an injected clock: token buckets, adaptive limits, circuit breakers,
        // degradation, fault injection. No NIO.
        .target(name: "SluiceTraffic", swiftSettings: strict),
        // A small Redis (RESP2) client over NIO, and global rate limits kept in Redis.
        .target(
            name: "SluiceRedis",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The API-gateway filters as values: path rewrites, header rules and their variables, direct answers, CORS,
        // allow/deny by address. No NIO.
        .target(name: "SluiceFilters", dependencies: ["SluiceTraffic"], swiftSettings: strict),
        // glibc's libxcrypt `crypt_r`, for htpasswd files.
        .target(name: "CCrypt", linkerSettings: [.linkedLibrary("crypt")]),
        // One-shot gzip of a buffered answer for SluiceWeb's `Gzip` middleware (zlib1g-dev).
        .target(name: "CZlib", linkerSettings: [.linkedLibrary("z")]),
        // Authentication: API keys, htpasswd (basic), JWT verification with jwt-kit, a bounded cache of verdicts.
        .target(
            name: "SluiceAuth",
            dependencies: [
                "CCrypt",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        // DNS: the message codec (NIO-free), resolv.conf, and a UDP/TCP client over NIO for upstream discovery.
        .target(
            name: "SluiceDNS",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // The INI configuration: parser, typed `GatewayConfig`, validation with file:line errors. No NIO.
        .target(name: "SluiceConfig", dependencies: ["SluiceRouter", "SluiceTraffic", "SluiceFilters"], swiftSettings: strict),
        // The proxy: sits on SluiceServer and SluiceRouter, never on SluiceWeb.
        .target(
            name: "SluiceGateway",
            dependencies: [
                "SluiceRouter", "SluiceServer", "SluiceConfig", "SluiceTraffic", "SluiceRedis", "SluiceTLS",
                "SluiceFilters", "SluiceAuth", "SluiceDNS",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTPCompression", package: "swift-nio-extras"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "sluiced",
            dependencies: [
                "SluiceGateway", "SluiceConfig", "SluiceServer", "SluiceDemoApp",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // The demo backend as a library, so tests and `sluiced --demo` can run it in-process.
        .target(
            name: "SluiceDemoApp",
            dependencies: [
                "SluiceWeb", "SluiceServer", "SluiceTraffic",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "sluice-demo",
            dependencies: [
                "SluiceDemoApp", "SluiceWeb", "SluiceServer",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Counts heap allocations per thread (it interposes malloc in the test executable): the allocation
        // ceiling per proxied request that `swift test` enforces.
        .target(name: "CAllocationCounter", path: "Tests/CAllocationCounter"),
        // Blocking socket client and helpers shared by the test targets.
        .target(name: "SluiceTestSupport", dependencies: ["SluiceTraffic"], path: "Tests/SluiceTestSupport", swiftSettings: strict),
        .testTarget(name: "SluiceRouterTests", dependencies: ["SluiceRouter", "SluiceTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "SluiceServerTests",
            dependencies: [
                "SluiceServer", "SluiceTestSupport",
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SluiceWebTests",
            dependencies: [
                "SluiceWeb", "SluiceWebClient", "SluiceServer", "SluiceTestSupport", "SluiceTraffic", "SluiceFilters",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "SluiceConfigTests", dependencies: ["SluiceConfig", "SluiceTraffic", "SluiceTestSupport"], swiftSettings: strict),
        .testTarget(name: "SluiceFiltersTests", dependencies: ["SluiceFilters", "SluiceTraffic"], swiftSettings: strict),
        .testTarget(
            name: "SluiceAuthTests",
            dependencies: [
                "SluiceAuth",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SluiceDNSTests",
            dependencies: [
                "SluiceDNS", "SluiceTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "SluiceTrafficTests", dependencies: ["SluiceTraffic", "SluiceTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "SluiceRedisTests",
            dependencies: [
                "SluiceRedis", "SluiceTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SluiceGatewayTests",
            dependencies: [
                "SluiceGateway", "SluiceServer", "SluiceRouter", "SluiceDemoApp", "SluiceTestSupport", "SluiceConfig",
                "SluiceTraffic", "CAllocationCounter", "SluiceTLS", "SluiceFilters", "SluiceAuth", "SluiceWeb", "SluiceDNS",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "SluiceWeb", "SluiceServer", "SluiceDemoApp", "SluiceTestSupport", "sluice-demo", "sluiced",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
    ]
)
