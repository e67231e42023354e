/// Placeholder until the real normaliser lands (same API).
public enum EscapedSlashes: String, Sendable, Hashable, CaseIterable {
    case reject, keep, decode
}

public struct PathNormalizer: Sendable, Hashable {
    public var mergeSlashes: Bool
    public var escapedSlashes: EscapedSlashes
    public init(mergeSlashes: Bool = true, escapedSlashes: EscapedSlashes = .reject) {
        self.mergeSlashes = mergeSlashes
        self.escapedSlashes = escapedSlashes
    }

    public enum Rejection: Error, Sendable, Hashable, CustomStringConvertible {
        case notOriginForm, aboveRoot, badEscape, nul, escapedSlash, invalidCharacter
        public var description: String { "\(self)" }
    }

    public enum Result: Sendable, Hashable {
        case unchanged
        case normalized(String)
    }

    public func normalize(_ path: Substring) throws(Rejection) -> Result { .unchanged }
}
