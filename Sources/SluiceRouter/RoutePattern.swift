/// A route pattern, parsed: `/users/:id/posts/*rest` → static `/users/`, parameter `id`, static `/posts/`, catch-all `rest`.
///
/// Rules (the same for the gateway and SluiceWeb):
/// - A pattern starts with `/`.
/// - A segment that starts with `:` is a parameter; it matches one non-empty segment. Its name is made of letters,
///   digits, `_` and `-`.
/// - A segment that starts with `*` is a catch-all; it must be the last segment and matches the rest of the path,
///   slashes included, possibly empty. A bare `*` is named `*`.
/// - Anything else is static and matched byte for byte against the raw (still percent-encoded) request path.
///   Bytes that may not appear raw in a request target (non-ASCII, controls, space, `?`, `#`) are percent-encoded
///   here, so the pattern `/café` matches the request path `/caf%C3%A9`.
public struct RoutePattern: Hashable, Sendable, CustomStringConvertible {
    /// One piece of a pattern.
    public enum Piece: Hashable, Sendable {
        /// Literal bytes, slashes included.
        case literal([UInt8])
        /// `:name`: one non-empty path segment.
        case parameter(String)
        /// `*name`: the rest of the path.
        case catchAll(String)
    }

    /// The pattern as it was written.
    public let text: String
    /// The pieces in order; literals between parameters include the separating slashes.
    public let pieces: [Piece]

    /// The parameter and catch-all names, in order.
    public var parameterNames: [String] {
        pieces.compactMap {
            switch $0 {
            case .literal: nil
            case .parameter(let name), .catchAll(let name): name
            }
        }
    }

    public var description: String { text }

    /// Parses `text`, or throws a `RouterError` that says what is wrong with it.
    public init(_ text: String) throws(RouterError) {
        self.text = text
        guard text.utf8.first == UInt8(ascii: "/") else {
            throw RouterError(.invalidPattern, pattern: text, detail: "a route pattern must start with '/'")
        }
        var pieces: [Piece] = []
        var literal: [UInt8] = []
        var seen = Set<String>()
        let segments = text.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropFirst()
        var index = 0
        for segment in segments {
            index += 1
            literal.append(UInt8(ascii: "/"))
            guard let first = segment.first else { continue }
            if first == UInt8(ascii: ":") || first == UInt8(ascii: "*") {
                let isCatchAll = first == UInt8(ascii: "*")
                var name = String(decoding: segment.dropFirst(), as: UTF8.self)
                if name.isEmpty {
                    guard isCatchAll else {
                        throw RouterError(.invalidPattern, pattern: text, detail: "a parameter needs a name after ':'")
                    }
                    name = "*"
                } else if !name.utf8.allSatisfy(Self.isNameByte) {
                    throw RouterError(
                        .invalidPattern, pattern: text,
                        detail: "parameter name '\(name)' may only hold letters, digits, '_' and '-'")
                }
                if isCatchAll && index != segments.count {
                    throw RouterError(
                        .catchAllNotAtEnd, pattern: text,
                        detail: "the catch-all '*\(name == "*" ? "" : name)' must be the last segment")
                }
                guard seen.insert(name).inserted else {
                    throw RouterError(.invalidPattern, pattern: text, detail: "parameter '\(name)' appears twice")
                }
                pieces.append(.literal(literal))
                literal = []
                pieces.append(isCatchAll ? .catchAll(name) : .parameter(name))
            } else {
                for byte in segment {
                    if Self.needsEncoding(byte) {
                        literal.append(UInt8(ascii: "%"))
                        literal.append(Self.hexDigits[Int(byte >> 4)])
                        literal.append(Self.hexDigits[Int(byte & 0xF)])
                    } else {
                        literal.append(byte)
                    }
                }
            }
        }
        if !literal.isEmpty { pieces.append(.literal(literal)) }
        self.pieces = pieces
    }

    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    private static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default: false
        }
    }

    private static func needsEncoding(_ byte: UInt8) -> Bool {
        byte >= 0x7F || byte <= 0x20 || byte == UInt8(ascii: "?") || byte == UInt8(ascii: "#")
    }
}
