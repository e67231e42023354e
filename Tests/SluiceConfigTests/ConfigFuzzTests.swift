import SluiceConfig
import SluiceTestSupport
import Testing

/// Whatever the input, loading never crashes, and every error points at a line that exists. Seeded, so that a
/// failure names the seed and case that replay it.
@Suite struct ConfigFuzzTests {
    /// Bytes the INI grammar gives meaning to, so that random text reaches past the first syntax check.
    static let alphabet =
        Array("[]=;#\"\\ \t\r\n\n\nabcdeilmnoprstuv_:./*0123456789,%".utf8) + [0xEF, 0xBB, 0xBF, 0xFF, 0]

    /// Loads `bytes` as a config and records an issue if what came back is wrong.
    static func check(_ bytes: [UInt8], _ context: @autoclosure () -> String) {
        if let problem = problem(loading: bytes) { Issue.record("\(context()): \(problem)") }
    }

    /// What is wrong with the result of loading `bytes`, or nil.
    static func problem(loading bytes: [UInt8]) -> String? {
        let text = String(decoding: bytes, as: UTF8.self)
        let lineCount = text.utf8.reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
        do {
            let config = try ConfigLoader.parse(text, file: "fuzz.ini")
            return config.server.listen.isEmpty ? "a config without a listen address loaded" : nil
        } catch {
            if error.errors.isEmpty { return "an empty error list was thrown" }
            for problem in error.errors {
                guard problem.location?.file == "fuzz.ini" else { return "no file: \(problem)" }
                guard let line = problem.location?.line, (0...lineCount).contains(line) else {
                    return "line out of 0...\(lineCount): \(problem)"
                }
            }
            let lines = error.errors.compactMap(\.location?.line)
            return lines == lines.sorted() ? nil : "errors out of line order: \(error)"
        }
    }

    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func randomBytes(seed: UInt64) {
        var rng = SplitMix64(state: seed)
        for index in 0..<500 {
            let length = Int.random(in: 0...400, using: &rng)
            let biased = index % 2 == 1
            let bytes = (0..<length).map { _ in
                biased ? Self.alphabet.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng)
            }
            Self.check(bytes, "seed \(seed) case \(index): \(bytes)")
        }
    }

    /// A config that sets every numeric key and option at least once.
    static let everyNumber = """
        [server]
        listen = 127.0.0.1:8080
        admin = 127.0.0.1:9901
        workers = 2
        max_client_connections = 10000
        max_header_size = 16k
        max_headers = 100
        max_body_size = 8m
        request_buffer_size = 64k
        client_header_timeout = 10s
        client_body_timeout = 60s
        request_timeout = 5m
        keepalive_timeout = 60s
        drain_timeout = 30s

        [upstream users]
        server = 10.0.1.10:8081 zone=az1 weight=2 max_conns=64
        keepalive = 32
        keepalive_timeout = 60s
        keepalive_requests = 1000
        max_connections = 256
        queue = 128
        queue_timeout = 1s
        connect_timeout = 1s
        health_check = GET /healthz interval=2s timeout=1s rise=2 fall=3 expect=200-399
        outlier = consecutive_5xx=5 consecutive_gateway_failure=5 ejection=30s max_ejection=300s max_ejected=50% interval=10s
        zone_min_size = 1
        panic = 50%
        slow_start = 10s
        retry_budget = 20% min=3
        circuit_breaker = failure_rate=50% slow_call=1s slow_rate=80% window=100 min_calls=20 open=30s half_open=5 half_open_timeout=10s
        max_requests = 1024
        max_pending = 1024
        adaptive_concurrency = min=5 max=500 initial=20 tolerance=1.5
        degrade = slow=500ms ratio=50% window=10s min_requests=20 recovery=30s

        [route users]
        match = /api/v1/users/*
        upstream = users 100%
        timeout = 30s
        idle_timeout = 60s
        retries = 2 on=connect_failure,503 per_try_timeout=1s backoff=25ms
        rate_limit = 1000/s burst=200 key=client_ip warmup=10s pace=500ms max_keys=5000
        rate_limit = 10/100ms
        fallback = status=200 type=application/json body={"users":[]}
        degrade = error_count=100 window=60s min_requests=20 recovery=30s
        circuit_breaker = window=10s min_calls=5 open=2s
        fault = delay=100ms percent=10
        fault = abort=503 percent=2.5

        [protection]
        max_inflight = 10000
        recovery = 1s

        [ratelimit]
        backend = redis://127.0.0.1:6379
        batch = 10
        timeout = 50ms
        """

    /// Every number in a valid config replaced by text at or past the limits of 64-bit arithmetic, several at a
    /// time: errors still name their lines, and nothing traps.
    @Test(arguments: [21, 22, 23, 24] as [UInt64])
    func extremeNumbers(seed: UInt64) throws {
        _ = try ConfigLoader.parse(Self.everyNumber)
        // Each number with its unit, if any (`30s`, `50%`, `16k`, `1.5`, `8081`), as byte offsets.
        let bytes = Array(Self.everyNumber.utf8)
        func isDigit(_ byte: UInt8) -> Bool { (0x30...0x39).contains(byte) }
        func isLetter(_ byte: UInt8) -> Bool { (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) }
        func inNumber(_ byte: UInt8) -> Bool { isDigit(byte) || isLetter(byte) || byte == 0x2E || byte == 0x25 }
        var numbers: [Range<Int>] = []
        var index = 0
        while index < bytes.count {
            guard isDigit(bytes[index]), index == 0 || !isLetter(bytes[index - 1]) else {
                index += 1
                continue
            }
            var end = index
            while end < bytes.count, inNumber(bytes[end]) { end += 1 }
            numbers.append(index..<end)
            index = end
        }
        #expect(numbers.count > 90)
        var rng = SplitMix64(state: seed)
        let extremes = ConfigExtremeValueTests.extremes
        for index in 0..<300 {
            var mutated = bytes
            let picked = Set((0..<Int.random(in: 1...3, using: &rng)).map { _ in numbers.randomElement(using: &rng)! })
            // From the end, so that the earlier offsets stay valid.
            for range in picked.sorted(by: { $0.lowerBound > $1.lowerBound }) {
                mutated.replaceSubrange(range, with: Array(extremes.randomElement(using: &rng)!.utf8))
            }
            Self.check(mutated, "seed \(seed) case \(index): \(String(decoding: mutated, as: UTF8.self))")
        }
    }

    @Test(arguments: [11, 12, 13, 14] as [UInt64])
    func mutatedValidConfig(seed: UInt64) throws {
        let valid = ConfigLoaderTests.example + "\n[route users_by_id]\nmatch = /api/v1/user/:id\nupstream = users\n"
        _ = try ConfigLoader.parse(valid)
        var rng = SplitMix64(state: seed)
        for index in 0..<500 {
            var lines = valid.split(separator: "\n", omittingEmptySubsequences: false).map { Array($0.utf8) }
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let at = Int.random(in: 0..<lines.count, using: &rng)
                switch Int.random(in: 0..<5, using: &rng) {
                case 0 where lines.count > 1:
                    lines.remove(at: at)
                case 1:
                    lines.insert(lines[at], at: at)
                case 2:
                    lines.swapAt(at, Int.random(in: 0..<lines.count, using: &rng))
                case 3 where !lines[at].isEmpty:
                    lines[at][Int.random(in: 0..<lines[at].count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                default:
                    lines[at].insert(
                        Self.alphabet.randomElement(using: &rng)!, at: Int.random(in: 0...lines[at].count, using: &rng))
                }
            }
            let bytes = Array(lines.joined(separator: [UInt8(ascii: "\n")]))
            Self.check(bytes, "seed \(seed) case \(index): \(String(decoding: bytes, as: UTF8.self))")
        }
    }
}
