import SluiceRouter
import SluiceTestSupport
import Testing

@Suite struct PathNormalizerTests {
    /// What a path becomes (nil: unchanged), or the rejection.
    enum Outcome: Equatable, Sendable {
        case same
        case becomes(String)
        case refused(PathNormalizer.Rejection)
    }

    private static func run(_ path: String, _ normalizer: PathNormalizer = PathNormalizer()) -> Outcome {
        do {
            switch try normalizer.normalize(path[...]) {
            case .unchanged: return .same
            case .normalized(let normal): return .becomes(normal)
            }
        } catch {
            return .refused(error)
        }
    }

    static let defaults: [(String, Outcome)] = [
        ("/", .same), ("/a", .same), ("/a/b/c", .same), ("/a/", .same), ("/a.b/c..d/.e", .same), ("/.well-known/x", .same),
        ("/a-b_c~d", .same), ("/a%20b", .same), ("/%C3%A9", .same), ("/a:b@c!$&'()*+,;=", .same), ("/...", .same),
        // The bypasses of the issue.
        ("/./internal/a", .becomes("/internal/a")), ("//internal/a", .becomes("/internal/a")),
        ("/x/../internal/a", .becomes("/internal/a")), ("/%69nternal/a", .becomes("/internal/a")),
        ("/%2e/internal/a", .becomes("/internal/a")), ("/internal%2fa", .refused(.escapedSlash)),
        ("/internal%5Ca", .refused(.escapedSlash)),
        // Dot segments (RFC 3986 §5.2.4).
        ("/a/./b", .becomes("/a/b")), ("/a/.", .becomes("/a/")), ("/a/b/..", .becomes("/a/")), ("/a/..", .becomes("/")),
        ("/.", .becomes("/")), ("/./", .becomes("/")), ("/a/b/../../c", .becomes("/c")), ("/..", .refused(.aboveRoot)),
        ("/../a", .refused(.aboveRoot)), ("/a/../../b", .refused(.aboveRoot)), ("/%2e%2e/a", .refused(.aboveRoot)),
        ("/%2E%2e/x", .refused(.aboveRoot)), ("/.%2e/x", .refused(.aboveRoot)), ("/a/%2e%2e", .becomes("/")),
        ("/a/.%2E/b", .becomes("/b")),
        // Slashes.
        ("/a//b", .becomes("/a/b")), ("/a///b//", .becomes("/a/b/")), ("//", .becomes("/")), ("//../a", .refused(.aboveRoot)),
        ("/a//../b", .becomes("/b")),
        // Escapes.
        ("/%7euser", .becomes("/~user")), ("/%41%42", .becomes("/AB")), ("/a%2fb%2F", .refused(.escapedSlash)),
        ("/%c3%a9", .becomes("/%C3%A9")), ("/%252e/", .same), ("/%252e%2f", .refused(.escapedSlash)), ("/%25", .same),
        ("/a%2", .refused(.badEscape)), ("/a%", .refused(.badEscape)), ("/a%zz", .refused(.badEscape)),
        ("/a%g0", .refused(.badEscape)), ("/%00", .refused(.nul)), ("/a%00b", .refused(.nul)),
        // Raw bytes.
        ("/a b", .refused(.invalidCharacter)), ("/a\tb", .refused(.invalidCharacter)), ("/a\\b", .refused(.invalidCharacter)),
        ("/a#b", .refused(.invalidCharacter)), ("/a\u{7F}", .refused(.invalidCharacter)), ("/a\u{0}", .refused(.nul)),
        ("/é", .becomes("/%C3%A9")), ("/x/é/../y", .becomes("/x/y")),
        // Not origin-form.
        ("", .refused(.notOriginForm)), ("a/b", .refused(.notOriginForm)), ("*", .refused(.notOriginForm)),
    ]

    @Test(arguments: defaults)
    func byDefault(path: String, outcome: Outcome) {
        #expect(Self.run(path) == outcome)
    }

    @Test func escapedSlashPolicies() {
        let keep = PathNormalizer(escapedSlashes: .keep)
        #expect(Self.run("/internal%2fa", keep) == .becomes("/internal%2Fa"))
        #expect(Self.run("/internal%2Fa", keep) == .same)
        #expect(Self.run("/a%5c..%5cb", keep) == .becomes("/a%5C..%5Cb"), "kept escapes are not separators")
        #expect(Self.run("/a/%2e%2e%2fb", keep) == .becomes("/a/..%2Fb"))
        let decode = PathNormalizer(escapedSlashes: .decode)
        #expect(Self.run("/internal%2fa", decode) == .becomes("/internal/a"))
        #expect(Self.run("/a%5Cb", decode) == .becomes("/a/b"))
        #expect(Self.run("/a/..%2f..%2fb", decode) == .refused(.aboveRoot))
        #expect(Self.run("/a%2f%2fb", decode) == .becomes("/a/b"), "decoded slashes merge too")
    }

    @Test func mergeSlashesOff() {
        let keep = PathNormalizer(mergeSlashes: false)
        #expect(Self.run("/a//b", keep) == .same)
        #expect(Self.run("//internal/a", keep) == .same)
        #expect(Self.run("/a//../b", keep) == .becomes("/a/b"), "'..' removes the empty segment")
        #expect(Self.run("/a/./b", keep) == .becomes("/a/b"))
    }

    @Test func longPathsAreLinear() {
        let path = "/" + String(repeating: "a/../", count: 20_000) + "end"
        #expect(Self.run(path) == .becomes("/end"))
        let deep = "/" + String(repeating: "a/", count: 50_000)
        #expect(Self.run(deep) == .same)
    }

    /// Over random paths from a small, nasty alphabet: the output is normal and normalising it again changes
    /// nothing.
    @Test(arguments: [PathNormalizer(), PathNormalizer(mergeSlashes: false), PathNormalizer(escapedSlashes: .keep),
                      PathNormalizer(escapedSlashes: .decode)])
    func normalFormsAreFixedPoints(_ normalizer: PathNormalizer) throws {
        var random = SplitMix64(state: 42)
        let alphabet = Array("/.%2eEfFa5c0~-".utf8)
        for _ in 0..<5_000 {
            let length = Int.random(in: 1...16, using: &random)
            let bytes = [UInt8(ascii: "/")] + (0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &random)] }
            let path = String(decoding: bytes, as: UTF8.self)
            guard let result = try? normalizer.normalize(path[...]) else { continue }
            let normal: String
            switch result {
            case .unchanged: normal = path
            case .normalized(let text): normal = text
            }
            #expect(try normalizer.normalize(normal[...]) == .unchanged, "\(path) → \(normal)")
            #expect(normal.hasPrefix("/"))
            #expect(!normal.contains("/./") && !normal.contains("/../") && !normal.hasSuffix("/.") && !normal.hasSuffix("/.."))
            if normalizer.mergeSlashes { #expect(!normal.contains("//"), "\(path) → \(normal)") }
            let escapes = normal.utf8.enumerated().filter { $0.element == UInt8(ascii: "%") }.map(\.offset)
            for offset in escapes {
                let hex = Array(normal.utf8)[(offset + 1)...].prefix(2)
                #expect(hex.count == 2 && hex.allSatisfy { (48...57).contains($0) || (65...70).contains($0) })
            }
        }
    }
}
