// swift-tools-version:6.1
// libFuzzer targets for Sluice. A package of its own so that the main package's `swift build` and `swift test`
// (and CI) never build it. Build and run with `scripts/fuzz TARGET SECONDS`; the build needs
// `-Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library` (see scripts/fuzz).
import PackageDescription

let package = Package(
    name: "SluiceFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Sluice", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
    ],
    targets: [
        // libFuzzer's driver entry point, called from each target's `<Module>_main` (see Sources/CLibFuzzer).
        .target(name: "CLibFuzzer"),
        // What the HTTP targets check responses and requests against: NIO's parser standing alone, and a strict
        // HTTP/1.1 response reader.
        .target(
            name: "FuzzSupport",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .executableTarget(name: "FuzzPath", dependencies: ["CLibFuzzer", .product(name: "SluiceRouter", package: "Sluice")]),
        .executableTarget(name: "FuzzRouter", dependencies: ["CLibFuzzer", .product(name: "SluiceRouter", package: "Sluice")]),
        .executableTarget(name: "FuzzINI", dependencies: ["CLibFuzzer", .product(name: "SluiceConfig", package: "Sluice")]),
        .executableTarget(
            name: "FuzzHTTP",
            dependencies: [
                "FuzzSupport", "CLibFuzzer",
                .product(name: "SluiceServer", package: "Sluice"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        // The whole gateway: real server pipeline and ProxyHandler, a real connection pool to a recording upstream
        // on 127.0.0.1. Uses internal types through `@testable import` (debug builds only).
        .executableTarget(
            name: "FuzzGateway",
            dependencies: [
                "FuzzSupport", "CLibFuzzer",
                .product(name: "SluiceGateway", package: "Sluice"),
                .product(name: "SluiceServer", package: "Sluice"),
                .product(name: "SluiceRouter", package: "Sluice"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ]
)
