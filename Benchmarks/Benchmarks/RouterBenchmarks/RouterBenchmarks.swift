// Lookup benchmarks for SluiceRouter on a 1,000-route table shaped like a real API.
//
// The project's goal, checked here: a static lookup allocates nothing, a one-parameter lookup allocates at most
// once (the capture array). `mallocCountTotal` is reported per lookup (the scaling factor divides it); the
// per-benchmark `thresholds` plus the files in `Thresholds/` turn that into a check:
// `swift package benchmark thresholds check --target RouterBenchmarks`.

import Benchmark
import SluiceRouter

// MARK: The route table

/// Resources in the table; each contributes four routes, so 250 resources make 1,000 routes.
let resourceCount = 250

/// 250 resources × { static list, `:id`, nested `:id/sub/:sub`, `/static/<n>/*path` catch-all } = 1,000 routes.
/// Methods are mixed: list routes are GET on even resources and POST on odd ones, nested routes the other way round,
/// so both single- and different-method nodes are in the tree.
func makeRouter() -> Router<Int> {
    var builder = RouterBuilder<Int>()
    var value = 0
    func add(_ method: String, _ pattern: String) {
        do {
            try builder.add(method, pattern, value)
        } catch {
            fatalError("route table: \(pattern): \(error)")
        }
        value += 1
    }
    for index in 0..<resourceCount {
        let even = index % 2 == 0
        add(even ? "GET" : "POST", "/api/v1/res\(index)/items")
        add("GET", "/api/v1/res\(index)/items/:id")
        add(even ? "POST" : "GET", "/api/v1/res\(index)/items/:id/sub/:sub")
        add("GET", "/static/\(index)/*path")
    }
    return builder.build()
}

let router = makeRouter()

/// Paths are rotated through a small set (a power of two, indexed with a mask) so that one benchmark walks several
/// branches of the tree rather than a single hot path. Built once, outside the measured region.
let rotation = 16
func paths(_ make: (Int) -> String) -> [String] {
    (0..<rotation).map { make(($0 * 97 + 3) % resourceCount) }
}

// Even resources: the list route answers GET.
let staticPaths = paths { "/api/v1/res\($0 & ~1)/items" }
let oneParameterPaths = paths { "/api/v1/res\($0)/items/\(40 + $0)" }
// Odd resources: the nested route answers GET.
let twoParameterPaths = paths { "/api/v1/res\($0 | 1)/items/\($0)/sub/\($0 * 7)" }
let catchAllPaths = paths { "/static/\($0)/css/app-\($0).min.css" }
let missPaths = paths { "/api/v1/nothing\($0)/here" }

/// Fails fast (before anything is measured) if the table does not answer the way the benchmarks assume.
func checkTable() {
    precondition(router.routes.count == 1_000, "expected 1,000 routes, have \(router.routes.count)")
    for path in staticPaths {
        guard case .found(_, let parameters) = router.lookup("GET", path), parameters.isEmpty else {
            fatalError("static path \(path) did not match without parameters")
        }
    }
    for path in oneParameterPaths {
        guard case .found(_, let parameters) = router.lookup("GET", path), parameters.count == 1,
            parameters["id"] != nil
        else { fatalError("one-parameter path \(path) did not match with :id") }
    }
    for path in twoParameterPaths {
        guard case .found(_, let parameters) = router.lookup("GET", path), parameters.count == 2,
            parameters["sub"] != nil
        else { fatalError("two-parameter path \(path) did not match with :id and :sub") }
    }
    for path in catchAllPaths {
        guard case .found(_, let parameters) = router.lookup("GET", path), parameters["path"] != nil else {
            fatalError("catch-all path \(path) did not match with *path")
        }
    }
    for path in missPaths {
        guard case .notFound = router.lookup("GET", path) else { fatalError("miss path \(path) did not 404") }
    }
}

// MARK: Benchmarks

let benchmarks: @Sendable () -> Void = {
    checkTable()

    // One iteration is 1,000 lookups (`.kilo`): time and malloc counts are shown per lookup. No `.cpuTotal`: on Linux it
    // comes from getrusage in 10 ms ticks, so per 1,000-lookup iteration it reads 0 or 10 ms, which says nothing.
    Benchmark.defaultConfiguration = .init(
        metrics: [.throughput, .wallClock, .mallocCountTotal],
        warmupIterations: 10,
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 20_000
    )

    /// Tolerances for `thresholds check` against `Thresholds/RouterBenchmarks.<name>.p90.json` (which hold 0):
    /// raw values are per iteration, i.e. per 1,000 lookups, so `perLookup` mallocs per lookup is `perLookup * 1000`.
    func mallocCap(perLookup: Int) -> [BenchmarkMetric: BenchmarkThresholds] {
        [.mallocCountTotal: .init(absolute: [.p90: perLookup * BenchmarkScalingFactor.kilo.rawValue])]
    }

    // 1. Static: `/api/v1/res124/items`. Goal: no allocation.
    Benchmark("StaticLookup", configuration: .init(thresholds: mallocCap(perLookup: 0))) { benchmark in
        for index in benchmark.scaledIterations {
            blackHole(router.lookup("GET", staticPaths[index & (rotation - 1)]))
        }
    }

    // 2. One parameter: `/api/v1/res123/items/42`, reading `id`. Goal: at most one allocation.
    Benchmark("OneParameterLookup", configuration: .init(thresholds: mallocCap(perLookup: 1))) { benchmark in
        for index in benchmark.scaledIterations {
            guard case .found(let value, let parameters) = router.lookup("GET", oneParameterPaths[index & (rotation - 1)])
            else { fatalError("no match") }
            blackHole(value)
            blackHole(parameters["id"])
        }
    }

    // Two parameters: `/api/v1/res123/items/7/sub/49`, reading both (the capture array is sized once).
    Benchmark("TwoParameterLookup", configuration: .init(thresholds: mallocCap(perLookup: 1))) { benchmark in
        for index in benchmark.scaledIterations {
            guard case .found(let value, let parameters) = router.lookup("GET", twoParameterPaths[index & (rotation - 1)])
            else { fatalError("no match") }
            blackHole(value)
            blackHole(parameters["id"])
            blackHole(parameters["sub"])
        }
    }

    // 3. Catch-all: `/static/<n>/css/app-<n>.min.css`, reading `path`.
    Benchmark("CatchAllLookup", configuration: .init(thresholds: mallocCap(perLookup: 1))) { benchmark in
        for index in benchmark.scaledIterations {
            guard case .found(let value, let parameters) = router.lookup("GET", catchAllPaths[index & (rotation - 1)])
            else { fatalError("no match") }
            blackHole(value)
            blackHole(parameters["path"])
        }
    }

    // 4. Miss (404): `/api/v1/nothing<n>/here`, through the trailing-slash probe and the 405 scan. Reported, not capped.
    Benchmark("MissLookup") { benchmark in
        for index in benchmark.scaledIterations {
            blackHole(router.lookup("GET", missPaths[index & (rotation - 1)]))
        }
    }
}
