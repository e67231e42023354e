import SluiceRouter
import SluiceTestSupport
import Testing

/// Random paths over an alphabet dense in the tricky bytes, with whole escapes and dot runs mixed in.
func randomRequestPaths(count: Int, seed: UInt64) -> [String] {
    let tokens = [
        "/", "/", "/", ".", ".", "%", "2", "e", "E", "f", "F", "a", "b", "A", "5", "c", "C", "~", "-",
        "%2e", "%2E", "%2f", "%2F", "%5c", "%5C", "%41", "%7e", "%25", "%c3%a9", "\u{E9}", "//", "..", "/../", "/./",
    ]
    var generator = SplitMix64(state: seed)
    return (0..<count).map { _ in
        let length = Int.random(in: 0...16, using: &generator)
        return "/" + (0..<length).map { _ in tokens.randomElement(using: &generator)! }.joined()
    }
}

/// An independent model: decode everything first, merge slashes, then the literal RFC 3986 §5.2.4 loop.
func pathReference(_ normalizer: PathNormalizer, _ path: String) -> PathExpected {
    let input = Array(path.utf8)
    guard input.first == UInt8(ascii: "/") else { return .rejected(.notOriginForm) }
    func hex(_ byte: UInt8) -> UInt8? { UInt8(String(UnicodeScalar(byte)), radix: 16) }
    let upperHex = Array("0123456789ABCDEF".utf8)
    let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8)
    var decoded: [UInt8] = []
    var index = 0
    while index < input.count {
        let byte = input[index]
        index += 1
        if byte == 0 { return .rejected(.nul) }
        if byte < 0x20 || byte == 0x7F || byte == 0x20 || byte == UInt8(ascii: "#") || byte == UInt8(ascii: "\\") {
            return .rejected(.invalidCharacter)
        }
        if byte >= 0x80 {
            decoded += [UInt8(ascii: "%"), upperHex[Int(byte >> 4)], upperHex[Int(byte & 15)]]
            continue
        }
        guard byte == UInt8(ascii: "%") else {
            decoded.append(byte)
            continue
        }
        guard index + 1 < input.count, let high = hex(input[index]), let low = hex(input[index + 1]) else {
            return .rejected(.badEscape)
        }
        index += 2
        let value = high * 16 + low
        if value == 0 { return .rejected(.nul) }
        if unreserved.contains(value) {
            decoded.append(value)
        } else if value == UInt8(ascii: "/") || value == UInt8(ascii: "\\") {
            switch normalizer.escapedSlashes {
            case .reject: return .rejected(.escapedSlash)
            case .keep: decoded += [UInt8(ascii: "%"), upperHex[Int(value >> 4)], upperHex[Int(value & 15)]]
            case .decode: decoded.append(UInt8(ascii: "/"))
            }
        } else {
            decoded += [UInt8(ascii: "%"), upperHex[Int(value >> 4)], upperHex[Int(value & 15)]]
        }
    }
    if normalizer.mergeSlashes {
        var merged: [UInt8] = []
        for byte in decoded where !(byte == UInt8(ascii: "/") && merged.last == UInt8(ascii: "/")) {
            merged.append(byte)
        }
        decoded = merged
    }
    // RFC 3986 §5.2.4; steps A and D cannot apply to a path that starts with "/".
    var rest = decoded[...]
    var output: [UInt8] = []
    func removeLastSegment() -> Bool {
        guard let slash = output.lastIndex(of: UInt8(ascii: "/")) else { return false }
        output.removeSubrange(slash...)
        return true
    }
    while !rest.isEmpty {
        if rest.starts(with: "/./".utf8) {
            rest = rest.dropFirst(2)
        } else if rest.elementsEqual("/.".utf8) {
            rest = [UInt8(ascii: "/")][...]
        } else if rest.starts(with: "/../".utf8) {
            rest = rest.dropFirst(3)
            if !removeLastSegment() { return .rejected(.aboveRoot) }
        } else if rest.elementsEqual("/..".utf8) {
            rest = [UInt8(ascii: "/")][...]
            if !removeLastSegment() { return .rejected(.aboveRoot) }
        } else {
            let end = rest.dropFirst().firstIndex(of: UInt8(ascii: "/")) ?? rest.endIndex
            output += rest[..<end]
            rest = rest[end...]
        }
    }
    return output == input ? .unchanged : .normalized(String(decoding: output, as: UTF8.self))
}

/// The normal form `outcome` names for `input`, if it was accepted.
func pathNormalForm(_ input: String, _ result: PathExpected) -> String? {
    switch result {
    case .unchanged: input
    case .normalized(let normal): normal
    case .rejected: nil
    }
}

@Suite("PathNormalizer properties")
struct PathNormalizerPropertyTests {
    static let paths = randomRequestPaths(count: 2_000, seed: 0x5EED_2026_0F_A7C5)

    @Test("agrees with the decode-then-RFC-3986 model", arguments: PathNormalizers.all)
    func model(_ normalizer: PathNormalizer) {
        var accepted = 0
        for path in Self.paths {
            let result = pathOutcome(normalizer, path[...])
            #expect(result == pathReference(normalizer, path), "\(path.debugDescription)")
            if case .rejected = result {} else { accepted += 1 }
        }
        #expect(accepted > Self.paths.count / 4, "the generator should mostly make acceptable paths")
    }

    @Test("idempotent: the normal form is unchanged by a second pass", arguments: PathNormalizers.all)
    func idempotent(_ normalizer: PathNormalizer) {
        for path in Self.paths {
            let first = pathOutcome(normalizer, path[...])
            if case .normalized(let normal) = first { #expect(normal != path, "\(path.debugDescription)") }
            guard let normal = pathNormalForm(path, first) else { continue }
            let context = "\(path.debugDescription) -> \(normal.debugDescription)"
            #expect(pathOutcome(normalizer, normal[...]) == .unchanged, "\(context)")
        }
    }

    @Test("the normal form has no //, /./, /../, lower-case or needless escape", arguments: PathNormalizers.all)
    func shape(_ normalizer: PathNormalizer) {
        for path in Self.paths {
            guard let normal = pathNormalForm(path, pathOutcome(normalizer, path[...])) else { continue }
            let bytes = Array(normal.utf8)
            let context = "\(path.debugDescription) -> \(normal.debugDescription)"
            #expect(bytes.first == UInt8(ascii: "/"), "\(context)")
            #expect(bytes.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\\") }, "\(context)")
            if normalizer.mergeSlashes { #expect(!normal.contains("//"), "\(context)") }
            #expect(!normal.contains("/./") && !normal.contains("/../"), "\(context)")
            #expect(!normal.hasSuffix("/.") && !normal.hasSuffix("/.."), "\(context)")
            for (offset, byte) in bytes.enumerated() where byte == UInt8(ascii: "%") {
                let digits = bytes[(offset + 1)...].prefix(2)
                #expect(digits.count == 2 && digits.allSatisfy { "0123456789ABCDEF".utf8.contains($0) }, "\(context)")
                let value = UInt8(String(decoding: digits, as: UTF8.self), radix: 16) ?? 0
                let unreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8
                #expect(!unreserved.contains(value), "\(context)")
                if normalizer.escapedSlashes != .keep { #expect(value != 0x2F && value != 0x5C, "\(context)") }
            }
        }
    }
}

@Suite("PathNormalizer long inputs")
struct PathNormalizerLongInputTests {
    @Test("20,000 a/.. pairs in 100 kB")
    func pairs() {
        let path = "/" + String(repeating: "a/../", count: 20_000) + "end"
        #expect(path.utf8.count > 100_000)
        #expect(pathOutcome(PathNormalizers.standard, path[...]) == .normalized("/end"))
        #expect(pathOutcome(PathNormalizers.unmerged, path[...]) == .normalized("/end"))
    }

    @Test("50,000 segments down, then all the way up")
    func deep() {
        let down = "/" + String(repeating: "a/", count: 50_000)
        #expect(pathOutcome(PathNormalizers.standard, down[...]) == .unchanged)
        let back = down + String(repeating: "../", count: 50_000)
        #expect(pathOutcome(PathNormalizers.standard, back[...]) == .normalized("/"))
        #expect(pathOutcome(PathNormalizers.standard, (back + "../")[...]) == .rejected(.aboveRoot))
        #expect(pathOutcome(PathNormalizers.standard, (back + "x")[...]) == .normalized("/x"))
    }

    @Test("one 100 kB segment, removed by ..")
    func wide() {
        let path = "/" + String(repeating: "x", count: 100_000) + "/.."
        #expect(pathOutcome(PathNormalizers.standard, path[...]) == .normalized("/"))
        let kept = "/" + String(repeating: "x", count: 100_000) + "/y"
        #expect(pathOutcome(PathNormalizers.standard, kept[...]) == .unchanged)
    }

    @Test("long runs of slashes, escapes and non-ASCII")
    func runs() {
        let slashes = String(repeating: "/", count: 100_000)
        #expect(pathOutcome(PathNormalizers.standard, slashes[...]) == .normalized("/"))
        #expect(pathOutcome(PathNormalizers.unmerged, slashes[...]) == .unchanged)
        let escapes = "/" + String(repeating: "%61", count: 33_000)
        let unescaped = "/" + String(repeating: "a", count: 33_000)
        #expect(pathOutcome(PathNormalizers.standard, escapes[...]) == .normalized(unescaped))
        let accents = "/" + String(repeating: "\u{E9}", count: 50_000)
        let encoded = "/" + String(repeating: "%C3%A9", count: 50_000)
        #expect(pathOutcome(PathNormalizers.standard, accents[...]) == .normalized(encoded))
        let dots = "/" + String(repeating: "./", count: 50_000) + "x"
        #expect(pathOutcome(PathNormalizers.standard, dots[...]) == .normalized("/x"))
    }
}
