/// Why a route could not be added. Conflicts name both routes, so an operator can find them.
public struct RouterError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        /// The pattern itself is malformed (no leading slash, empty or invalid parameter name, repeated name).
        case invalidPattern
        /// A catch-all that is not the last segment.
        case catchAllNotAtEnd
        /// Two parameters (or catch-alls) with different names at the same place.
        case conflictingParameterName
        /// The same method and pattern registered twice.
        case duplicateRoute
    }

    public let kind: Kind
    /// The pattern being added.
    public let pattern: String
    /// The route already in the table that the new one conflicts with, for conflicts.
    public let existingPattern: String?
    /// A sentence that says what is wrong.
    public let detail: String

    public init(_ kind: Kind, pattern: String, existingPattern: String? = nil, detail: String) {
        self.kind = kind
        self.pattern = pattern
        self.existingPattern = existingPattern
        self.detail = detail
    }

    public var description: String {
        if let existingPattern {
            return "route '\(pattern)' conflicts with '\(existingPattern)': \(detail)"
        }
        return "route '\(pattern)': \(detail)"
    }
}
