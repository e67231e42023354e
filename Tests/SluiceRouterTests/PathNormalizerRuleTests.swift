import SluiceRouter
import Testing

/// What `normalize` should do with one input.
enum PathExpected: Sendable, Hashable, CustomStringConvertible {
    case unchanged
    case normalized(String)
    case rejected(PathNormalizer.Rejection)

    var description: String {
        switch self {
        case .unchanged: "unchanged"
        case .normalized(let path): "normalized(\(path.debugDescription))"
        case .rejected(let rejection): "rejected(\(rejection))"
        }
    }
}

/// Runs `normalizer` on `path`, folding the thrown rejection into the value.
func pathOutcome(_ normalizer: PathNormalizer, _ path: Substring) -> PathExpected {
    do {
        switch try normalizer.normalize(path) {
        case .unchanged: return .unchanged
        case .normalized(let normal): return .normalized(normal)
        }
    } catch {
        return .rejected(error)
    }
}

/// The normalisers the tables use.
enum PathNormalizers {
    static let standard = PathNormalizer()
    static let keeping = PathNormalizer(escapedSlashes: .keep)
    static let decoding = PathNormalizer(escapedSlashes: .decode)
    static let unmerged = PathNormalizer(mergeSlashes: false)
    static let unmergedDecoding = PathNormalizer(mergeSlashes: false, escapedSlashes: .decode)
    /// Every combination of the two policies.
    static let all: [PathNormalizer] = [false, true].flatMap { merge in
        EscapedSlashes.allCases.map { PathNormalizer(mergeSlashes: merge, escapedSlashes: $0) }
    }
}

/// One row of a table: an input, the normaliser to run, and what must come out.
struct PathCase: Sendable, CustomTestStringConvertible {
    let input: String
    let normalizer: PathNormalizer
    let expected: PathExpected

    var testDescription: String {
        "\(input.debugDescription) merge=\(normalizer.mergeSlashes) \(normalizer.escapedSlashes) -> \(expected)"
    }

    static func same(_ input: String, _ normalizer: PathNormalizer = PathNormalizers.standard) -> PathCase {
        PathCase(input: input, normalizer: normalizer, expected: .unchanged)
    }

    static func becomes(
        _ input: String, _ output: String, _ normalizer: PathNormalizer = PathNormalizers.standard
    ) -> PathCase {
        PathCase(input: input, normalizer: normalizer, expected: .normalized(output))
    }

    static func refused(
        _ input: String, _ rejection: PathNormalizer.Rejection, _ normalizer: PathNormalizer = PathNormalizers.standard
    ) -> PathCase {
        PathCase(input: input, normalizer: normalizer, expected: .rejected(rejection))
    }
}

@Suite("PathNormalizer rules")
struct PathNormalizerRuleTests {
    static let originFormCases: [PathCase] = [
        .refused("", .notOriginForm),
        .refused("a/b", .notOriginForm),
        .refused("*", .notOriginForm),
        .refused("http://host/x", .notOriginForm),
        .refused("%2F", .notOriginForm, PathNormalizers.decoding),
        .refused(" /", .notOriginForm),
        .refused(".", .notOriginForm),
        .same("/"),
        .same("/a/b/c"),
    ]

    @Test("1. origin form", arguments: originFormCases)
    func originForm(_ test: PathCase) {
        #expect(pathOutcome(test.normalizer, test.input[...]) == test.expected)
    }

    static let escapesCases: [PathCase] = [
        .becomes("/%69nternal/a", "/internal/a"),
        .becomes("/%41%5a%61%7A%30%39", "/AZaz09"),
        .becomes("/%2D%2e%5F%7e", "/-._~"),
        .becomes("/%7E", "/~"),
        .same("/a%20b"),
        .becomes("/a%7f%0a", "/a%7F%0A"),
        .becomes("/%c3%a9", "/%C3%A9"),
        .same("/%C3%A9"),
        .becomes("/%3a%3F%23%25%3b", "/%3A%3F%23%25%3B"),
        .same("/%252e/"),
        .same("/%252E/"),
        .becomes("/%25%32%65/", "/%252e/"),
        .refused("/a%2", .badEscape),
        .refused("/a%", .badEscape),
        .refused("/%", .badEscape),
        .refused("/a%4", .badEscape),
        .refused("/a%zz", .badEscape),
        .refused("/a%g1/b", .badEscape),
        .refused("/a%1g/b", .badEscape),
        .refused("/a%%41", .badEscape),
        .refused("/%00", .nul),
        .refused("/a%00b", .nul, PathNormalizers.keeping),
    ]

    @Test("2. percent-escapes", arguments: escapesCases)
    func escapes(_ test: PathCase) {
        #expect(pathOutcome(test.normalizer, test.input[...]) == test.expected)
    }

    static let escapedSlashesCases: [PathCase] = [
        .refused("/internal%2fa", .escapedSlash),
        .becomes("/internal%2fa", "/internal%2Fa", PathNormalizers.keeping),
        .becomes("/internal%2fa", "/internal/a", PathNormalizers.decoding),
        .refused("/internal%2Fa", .escapedSlash),
        .same("/internal%2Fa", PathNormalizers.keeping),
        .refused("/a%5cb", .escapedSlash),
        .becomes("/a%5cb", "/a%5Cb", PathNormalizers.keeping),
        .same("/a%5Cb", PathNormalizers.keeping),
        .becomes("/a%5cb", "/a/b", PathNormalizers.decoding),
        .refused("/a%2F%2E%2E%2Fb", .escapedSlash),
        .becomes("/a%2F%2E%2E%2Fb", "/a%2F..%2Fb", PathNormalizers.keeping),
        .becomes("/a%2F%2E%2E%2Fb", "/b", PathNormalizers.decoding),
        .becomes("/a/%2e%2e%2fb", "/a/..%2Fb", PathNormalizers.keeping),
        .becomes("/a/%2e%2e%2fb", "/b", PathNormalizers.decoding),
        .becomes("/a%2F%2Fb", "/a/b", PathNormalizers.decoding),
        .becomes("/a%2F%2Fb", "/a//b", PathNormalizers.unmergedDecoding),
        .becomes("/%2F", "/", PathNormalizers.decoding),
        .becomes("/a%2F", "/a/", PathNormalizers.decoding),
        .refused("/%2F..", .aboveRoot, PathNormalizers.decoding),
        .becomes("/%2F..", "/", PathNormalizers.unmergedDecoding),
        .refused("/%5C..%5C", .aboveRoot, PathNormalizers.decoding),
        .becomes("/%5C..%5C", "/", PathNormalizers.unmergedDecoding),
        .becomes("/a%5C..%5Cb", "/b", PathNormalizers.decoding),
    ]

    @Test("2. %2F and %5C under each policy", arguments: escapedSlashesCases)
    func escapedSlashes(_ test: PathCase) {
        #expect(pathOutcome(test.normalizer, test.input[...]) == test.expected)
    }

    static let rawBytesCases: [PathCase] = [
        .refused("/a\\b", .invalidCharacter),
        .refused("/a\\b", .invalidCharacter, PathNormalizers.keeping),
        .refused("/a\\b", .invalidCharacter, PathNormalizers.decoding),
        .refused("/a b", .invalidCharacter),
        .refused("/a\tb", .invalidCharacter),
        .refused("/a\r\nHost: x", .invalidCharacter),
        .refused("/a\u{1F}", .invalidCharacter),
        .refused("/a\u{7F}", .invalidCharacter),
        .refused("/a\u{0}b", .nul),
        .refused("/a#frag", .invalidCharacter),
        .becomes("/caf\u{E9}", "/caf%C3%A9"),
        .becomes("/\u{65E5}\u{672C}", "/%E6%97%A5%E6%9C%AC"),
        .becomes("/\u{1F600}/x", "/%F0%9F%98%80/x"),
        .becomes("/\u{E9}/../x", "/x"),
        .same("/a:b@c!$&'()*+,;="),
        .same("/a\"<>[]^`{|}"),
        .same("/-._~/AZaz09"),
    ]

    @Test("3. raw bytes", arguments: rawBytesCases)
    func rawBytes(_ test: PathCase) {
        #expect(pathOutcome(test.normalizer, test.input[...]) == test.expected)
    }

    static let slashesCases: [PathCase] = [
        .becomes("//internal/a", "/internal/a"),
        .becomes("//internal//a", "/internal/a"),
        .becomes("//", "/"),
        .becomes("///", "/"),
        .becomes("/a//", "/a/"),
        .becomes("/a/b//", "/a/b/"),
        .same("/a//b", PathNormalizers.unmerged),
        .same("//", PathNormalizers.unmerged),
        .same("/a/", PathNormalizers.unmerged),
        .refused("//../", .aboveRoot),
        .becomes("//../", "/", PathNormalizers.unmerged),
        .becomes("/a//../b", "/b"),
        .becomes("/a//../b", "/a/b", PathNormalizers.unmerged),
        .becomes("/a/..//b", "/b"),
        .becomes("/a/..//b", "//b", PathNormalizers.unmerged),
    ]

    @Test("4, 6. merged slashes, or empty segments kept", arguments: slashesCases)
    func slashes(_ test: PathCase) {
        #expect(pathOutcome(test.normalizer, test.input[...]) == test.expected)
    }

    static let dotsCases: [PathCase] = [
        .becomes("/a/./b", "/a/b"),
        .becomes("/a/.", "/a/"),
        .becomes("/a/..", "/"),
        .becomes("/a/b/..", "/a/"),
        .becomes("/a/b/../", "/a/"),
        .becomes("/.", "/"),
        .becomes("/./", "/"),
        .becomes("/a/b/c/../../d", "/a/d"),
        .becomes("/a/./../b", "/b"),
        .becomes("/a/b/./../c/.", "/a/c/"),
        .refused("/..", .aboveRoot),
        .refused("/../x", .aboveRoot),
        .refused("/a/../../b", .aboveRoot),
        .refused("/a/../..", .aboveRoot),
        .refused("/./../a", .aboveRoot),
        .same("/..."),
        .same("/.a"),
        .same("/a."),
        .same("/..a/"),
        .same("/a/.../b"),
        .same("/a/"),
        .becomes("/a/%2E", "/a/"),
        .becomes("/a/.%2e", "/"),
        .becomes("/a/%2e%2e%2e", "/a/..."),
        .becomes("/a//./b", "/a//b", PathNormalizers.unmerged),
        .becomes("/a/.//b", "/a//b", PathNormalizers.unmerged),
        .becomes("//..", "/", PathNormalizers.unmerged),
    ]

    @Test("5. dot segments", arguments: dotsCases)
    func dots(_ test: PathCase) {
        #expect(pathOutcome(test.normalizer, test.input[...]) == test.expected)
    }

    static let precedenceCases: [PathCase] = [
        .refused("/%zz\u{1}", .badEscape),
        .refused("/\u{1}%zz", .invalidCharacter),
        .refused("/../%zz", .badEscape),
        .refused("/../a b", .invalidCharacter),
        .refused("/../%2F", .escapedSlash),
        .refused("/a%2F%zz", .escapedSlash),
        .refused("/a%zz%2F", .badEscape),
        .refused("/a%00%zz", .nul),
        .refused("/\u{E9}/%00", .nul),
        .refused("//../\u{E9}", .aboveRoot),
    ]

    @Test("the first bad byte decides; above-root comes last", arguments: precedenceCases)
    func precedence(_ test: PathCase) {
        #expect(pathOutcome(test.normalizer, test.input[...]) == test.expected)
    }
}

@Suite("PathNormalizer attack inputs")
struct PathNormalizerAttackTests {
    /// Inputs that must become the same as a direct request, whatever the policies.
    static let aliasesCases: [(String, String)] = [
        ("/./internal/a", "/internal/a"),
        ("/x/../internal/a", "/internal/a"),
        ("/%69nternal/a", "/internal/a"),
        ("/%2e/internal/a", "/internal/a"),
        ("/x/%2e%2E/internal/./a", "/internal/a"),
        ("/x/y/./../../%69ntern%61l/a", "/internal/a"),
    ]

    @Test("aliases of /internal/a under every policy", arguments: aliasesCases)
    func aliases(_ input: String, _ output: String) {
        for normalizer in PathNormalizers.all {
            #expect(pathOutcome(normalizer, input[...]) == .normalized(output), "\(normalizer)")
        }
        for normalizer in PathNormalizers.all {
            #expect(pathOutcome(normalizer, output[...]) == .unchanged, "\(normalizer)")
        }
    }

    @Test("//internal/a merges, or stays when merging is off")
    func doubleSlash() {
        for policy in EscapedSlashes.allCases {
            #expect(pathOutcome(PathNormalizer(escapedSlashes: policy), "//internal/a") == .normalized("/internal/a"))
            let unmerged = PathNormalizer(mergeSlashes: false, escapedSlashes: policy)
            #expect(pathOutcome(unmerged, "//internal/a") == .unchanged)
        }
    }

    static let climbsCases = [
        "/%2e%2e/", "/%2E%2e/x", "/.%2e/", "/%2e./", "/..", "/../internal/a", "/a/../../internal/a",
    ]

    @Test("climbing above the root is refused under every policy", arguments: climbsCases)
    func climbs(_ input: String) {
        for normalizer in PathNormalizers.all {
            #expect(pathOutcome(normalizer, input[...]) == .rejected(.aboveRoot), "\(normalizer)")
        }
    }

    @Test("/%252e/ is not decoded twice")
    func doubleEncoding() {
        for normalizer in PathNormalizers.all {
            #expect(pathOutcome(normalizer, "/%252e/") == .unchanged)
            #expect(pathOutcome(normalizer, "/%252e%252e/internal") == .unchanged)
            #expect(pathOutcome(normalizer, "/%25%32%65%25%32%65/") == .normalized("/%252e%252e/"))
        }
    }

    @Test("malformed input is refused under every policy")
    func malformed() {
        for normalizer in PathNormalizers.all {
            #expect(pathOutcome(normalizer, "/a%2") == .rejected(.badEscape))
            #expect(pathOutcome(normalizer, "/a%zz") == .rejected(.badEscape))
            #expect(pathOutcome(normalizer, "/%00") == .rejected(.nul))
            #expect(pathOutcome(normalizer, "/a\\b") == .rejected(.invalidCharacter))
            #expect(pathOutcome(normalizer, "/a\\..\\internal") == .rejected(.invalidCharacter))
        }
    }
}

@Suite("PathNormalizer API")
struct PathNormalizerAPITests {
    @Test func defaults() {
        let normalizer = PathNormalizer()
        #expect(normalizer.mergeSlashes)
        #expect(normalizer.escapedSlashes == .reject)
        #expect(normalizer == PathNormalizer(mergeSlashes: true, escapedSlashes: .reject))
        #expect(EscapedSlashes.allCases.map(\.rawValue) == ["reject", "keep", "decode"])
    }

    @Test func descriptions() {
        let all: [PathNormalizer.Rejection] = [
            .notOriginForm, .aboveRoot, .badEscape, .nul, .escapedSlash, .invalidCharacter,
        ]
        let texts = all.map(\.description)
        #expect(texts.allSatisfy { !$0.isEmpty })
        #expect(Set(texts).count == all.count)
        #expect(PathNormalizer.Rejection.aboveRoot.description == "path climbs above the root")
    }

    @Test("a slice of a larger string, as the caller passes it")
    func substrings() {
        let target = "/x/../a%2fb?q=/../../%zz"
        let path = target[..<target.firstIndex(of: "?")!]
        #expect(pathOutcome(PathNormalizers.keeping, path) == .normalized("/a%2Fb"))
        let line = "GET /a/./b HTTP/1.1"
        let start = line.firstIndex(of: "/")!
        let end = line[start...].firstIndex(of: " ")!
        #expect(pathOutcome(PathNormalizers.standard, line[start..<end]) == .normalized("/a/b"))
        #expect(pathOutcome(PathNormalizers.standard, line[start..<line.index(start, offsetBy: 2)]) == .unchanged)
    }
}
