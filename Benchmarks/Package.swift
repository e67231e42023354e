// swift-tools-version:6.1
// Router micro-benchmarks for Sluice, kept in their own package so that the root package does not depend on
// ordo-one/benchmark. Run from this directory: `swift package benchmark --target RouterBenchmarks`.
import PackageDescription

let package = Package(
    name: "SluiceBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "Sluice", path: ".."),
        // Only the malloc interposer: the default "RuntimeInterposer" trait (retain/release counters via the Swift
        // 6.3 runtime interposer) crashes on our Linux machines, so we do not enable it.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "RouterBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SluiceRouter", package: "Sluice"),
            ],
            path: "Benchmarks/RouterBenchmarks",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark")
            ]
        )
    ]
)
