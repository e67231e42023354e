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
