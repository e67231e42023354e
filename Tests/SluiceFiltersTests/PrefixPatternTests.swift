#if canImport(Glibc)
import Glibc
#endif
@testable import SluiceFilters
import Testing

/// The byte-comparing shortcut for `^/literal(.*)$`-shaped expressions must agree with glibc's `regexec` on every
/// path: same match or not, same offsets.
@Suite struct PrefixPatternTests {
    static let shortcuts = [
        "^/(.*)$", "^/old/(.*)$", "^/api(.+)", "^/api(.+)$", "^/exact$", "^/exact", "^(.*)$", "^(.+)", "^/v1\\.0/(.*)",
        "^/a\\/b/(.*)$", "^/x-y_z~/(.*)", "^$", "^",
    ]
    static let others = [
        "/old/(.*)$", "^/a|/b", "^/(.*)/(.*)$", "^/[a-z]+$", "^/a\\w(.*)", "^/a\\<(.*)", "^/(a*)$", "^/a b(.*)",
        "^/é(.*)", "^/x{2}(.*)", "^/a\\\\$", "^/(.*)\\$",
    ]
    static let paths: [String] = [
        "", "/", "/old", "/old/", "/old/x", "/old/x/y?z", "/api", "/api/", "/apix", "/exact", "/exact/", "/exactly",
        "/v1.0/a", "/v1x0/a", "/a/b/c", "/x-y_z~/q", "/olé/x", "/old/é", "/old/a\nb", "/old/a\u{0}b", "/ol", "//old/",
    ]

    @Test func theShapesItTakes() {
        for pattern in Self.shortcuts { #expect(PrefixPattern(pattern) != nil, "\(pattern)") }
        for pattern in Self.others { #expect(PrefixPattern(pattern) == nil, "\(pattern)") }
        #expect(PrefixPattern("^/old/(.*)$") == PrefixPattern(literal: Array("/old/".utf8), tail: .any, anchoredEnd: true))
    }

    @Test func agreesWithRegexec() throws {
        var random = SystemRandomNumberGenerator()
        let alphabet = Array("/ab.-x\u{0}\n?é".utf8)
        var paths = Self.paths
        for _ in 0..<300 {
            let length = Int.random(in: 0...8, using: &random)
            let bytes = (0..<length).map { _ in alphabet.randomElement(using: &random)! }
            paths.append(String(decoding: bytes, as: UTF8.self))
        }
        for pattern in Self.shortcuts {
            let regex = try CompiledRegex(pattern)
            #expect(regex.shortcut != nil)
            for path in paths {
                let viaShortcut = regex.match(Substring(path)) { Self.offsets($0) }
                let viaRegexec = regex.match(Substring(path), useShortcut: false) { Self.offsets($0) }
                #expect(viaShortcut == viaRegexec, "\(pattern) on \(path.debugDescription)")
            }
        }
    }

    @Test func undecidedPathsGoToRegexec() throws {
        let pattern = try #require(PrefixPattern("^/old/(.*)$"))
        #expect(pattern.match(Substring("/old/é").utf8) == .undecided)
        #expect(pattern.match(Substring("/old/a\u{0}").utf8) == .undecided)
        #expect(pattern.match(Substring("/new/é").utf8) == .unmatched)
        #expect(pattern.match(Substring("/old/abc").utf8) == .matched(end: 8, group: 5..<8))
    }

    static func offsets(_ matches: UnsafeMutableBufferPointer<regmatch_t>) -> [Int] {
        matches.flatMap { [Int($0.rm_so), Int($0.rm_eo)] }
    }
}
