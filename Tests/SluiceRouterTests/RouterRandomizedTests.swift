import SluiceRouter
import SluiceTestSupport
import Testing

/// A linear matcher written the obvious way, segment by segment: the reference the radix tree must agree with.
/// Among the routes that match, the winner has the most specific kinds left to right (literal < parameter <
/// catch-all), and a specific method beats any-method.
struct NaiveMatcher {
    enum Segment: Equatable {
        case literal(String)
        case parameter(String)
        case catchAll(String)

        var rank: Int {
            switch self {
            case .literal: 0
            case .parameter: 1
            case .catchAll: 2
            }
        }
    }

    struct Entry {
        let method: String?
        let segments: [Segment]
        let value: Int
    }

    var entries: [Entry] = []

    mutating func add(_ method: String?, _ pattern: String, _ value: Int) {
        let segments = pattern.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map {
            segment -> Segment in
            if segment.hasPrefix(":") { return .parameter(String(segment.dropFirst())) }
            if segment.hasPrefix("*") { return .catchAll(String(segment.dropFirst())) }
            return .literal(String(segment))
        }
        entries.append(Entry(method: method, segments: segments, value: value))
    }

    static func match(_ segments: [Segment], _ path: [Substring]) -> [String: String]? {
        var parameters: [String: String] = [:]
        for (index, segment) in segments.enumerated() {
            switch segment {
            case .literal(let text):
                guard index < path.count, path[index] == text else { return nil }
            case .parameter(let name):
                guard index < path.count, !path[index].isEmpty else { return nil }
                parameters[name] = String(path[index])
            case .catchAll(let name):
                guard index < path.count else { return nil }
                parameters[name] = path[index...].joined(separator: "/")
                return parameters
            }
        }
        return segments.count == path.count ? parameters : nil
    }

    func lookup(_ method: String, _ path: String) -> (value: Int, parameters: [String: String])? {
        let pathSegments = Array(path.split(separator: "/", omittingEmptySubsequences: false).dropFirst())
        var best: (ranks: [Int], specific: Bool, value: Int, parameters: [String: String])?
        for entry in entries where entry.method == nil || entry.method == method {
            guard let parameters = Self.match(entry.segments, pathSegments) else { continue }
            let ranks = entry.segments.map(\.rank)
            let specific = entry.method != nil
            if let current = best {
                if ranks.lexicographicallyPrecedes(current.ranks) || (ranks == current.ranks && specific && !current.specific) {
                    best = (ranks, specific, entry.value, parameters)
                }
            } else {
                best = (ranks, specific, entry.value, parameters)
            }
        }
        return best.map { ($0.value, $0.parameters) }
    }

    func allowed(_ path: String) -> [String] {
        let pathSegments = Array(path.split(separator: "/", omittingEmptySubsequences: false).dropFirst())
        let methods = entries.filter { Self.match($0.segments, pathSegments) != nil }.compactMap(\.method)
        return Array(Set(methods)).sorted()
    }
}



@Suite struct RouterRandomizedTests {
    static let literals = ["a", "b", "ab", "abc", "users", "user", "new", "n", "v1", "x.json"]
    static let names = ["id", "name", "x"]
    static let methods: [String?] = ["GET", "POST", "PUT", nil]

    static func pattern(_ rng: inout SplitMix64) -> String {
        let length = Int.random(in: 1...5, using: &rng)
        var segments: [String] = []
        for index in 0..<length {
            let roll = Int.random(in: 0..<10, using: &rng)
            if roll < 6 {
                segments.append(literals.randomElement(using: &rng)!)
            } else if roll < 9 || index < length - 1 {
                segments.append(":" + names.randomElement(using: &rng)!)
            } else {
                segments.append("*" + names.randomElement(using: &rng)! + "rest")
            }
        }
        if Int.random(in: 0..<8, using: &rng) == 0 { segments.append("") }  // trailing slash
        return "/" + segments.joined(separator: "/")
    }

    static func path(_ rng: inout SplitMix64) -> String {
        let length = Int.random(in: 0...6, using: &rng)
        let pool = literals + ["zz", "42", "", "a%2Fb", "new1"]
        return "/" + (0..<length).map { _ in pool.randomElement(using: &rng)! }.joined(separator: "/")
    }

    static func add(_ builder: inout RouterBuilder<Int>, _ method: String?, _ pattern: String, _ value: Int) -> RouterError? {
        do {
            try builder.add(method, pattern, value)
            return nil
        } catch {
            return error
        }
    }

    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func agreesWithNaiveMatcher(seed: UInt64) throws {
        var rng = SplitMix64(state: seed)
        var builder = RouterBuilder<Int>()
        var naive = NaiveMatcher()
        var seen = Set<String>()
        for index in 0..<600 {
            let method = Self.methods.randomElement(using: &rng)!
            let pattern = Self.pattern(&rng)
            if let error = Self.add(&builder, method, pattern, index) {
                // Rejected routes are conflicts; a duplicate must really be one.
                if error.kind == .duplicateRoute { #expect(seen.contains("\(method ?? "*") \(pattern)")) }
            } else {
                naive.add(method, pattern, index)
                seen.insert("\(method ?? "*") \(pattern)")
            }
        }
        let router = builder.build(options: RouterOptions(redirectTrailingSlash: false))
        var hits = 0
        for _ in 0..<3_000 {
            let path = Self.path(&rng)
            let method = ["GET", "POST", "PUT", "DELETE"].randomElement(using: &rng)!
            let expected = naive.lookup(method, path)
            switch router.lookup(method, path) {
            case .found(let value, let parameters):
                hits += 1
                var dict: [String: String] = [:]
                for (name, value) in parameters { dict[name] = String(value) }
                #expect(expected?.value == value, "seed \(seed): \(method) \(path)")
                #expect(expected?.parameters == dict, "seed \(seed): \(method) \(path)")
            case .methodNotAllowed(let allowed):
                #expect(expected == nil, "seed \(seed): \(method) \(path) should match \(String(describing: expected))")
                #expect(allowed == naive.allowed(path), "seed \(seed): \(method) \(path)")
            case .notFound:
                #expect(expected == nil, "seed \(seed): \(method) \(path) should match \(String(describing: expected))")
                #expect(naive.allowed(path).isEmpty, "seed \(seed): \(method) \(path)")
            case .redirect:
                Issue.record("redirects are off")
            }
        }
        #expect(hits > 100, "the generator should produce enough hits to mean something")
    }
}
