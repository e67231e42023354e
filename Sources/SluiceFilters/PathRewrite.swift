/// A route's path rewriting, in this order: `strip_prefix` (at a segment boundary: `/api` strips `/api` and
/// `/api/x`, never `/apix`; an emptied path becomes `/`), `rewrite`, `add_prefix`. It works on the normalised path
/// without the query; the caller keeps the query.
public struct PathRewrite: Hashable, Sendable {
    public var stripPrefix: String?
    public var rewrite: RegexRewrite?
    public var addPrefix: String?

    public enum Outcome: Equatable, Sendable {
        /// Forward with this path.
        case path(String)
        /// Answer with this redirect (`rewrite … redirect|permanent`).
        case redirect(status: Int, location: String)
    }

    public init(stripPrefix: String? = nil, rewrite: RegexRewrite? = nil, addPrefix: String? = nil) {
        self.stripPrefix = stripPrefix
        self.rewrite = rewrite
        self.addPrefix = addPrefix
    }

    public var isEmpty: Bool { stripPrefix == nil && rewrite == nil && addPrefix == nil }

    /// A `strip_prefix` or `add_prefix` value: starts with `/`, no trailing `/` (unless it is `/`), path
    /// characters only, no query.
    public static func prefix(_ text: some StringProtocol) throws(FilterSyntaxError) -> String {
        let value = FilterText.trimmed(text)
        guard value.hasPrefix("/"), value == "/" || !value.hasSuffix("/"), !value.contains("//"),
            value.utf8.allSatisfy(FilterText.isPathByte)
        else {
            throw FilterSyntaxError(expected: "a path prefix like /api (starting with /, no trailing /, no query)", got: text)
        }
        return String(value)
    }

    public func apply(to path: Substring, params: (String) -> Substring?) -> Outcome {
        var current = path
        var owned: String?
        if let stripPrefix, stripPrefix != "/", current.hasPrefix(stripPrefix) {
            let rest = current.dropFirst(stripPrefix.count)
            if rest.isEmpty {
                current = "/"
            } else if rest.first == "/" {
                current = rest
            }
        }
        if let rewrite, let rewritten = rewrite.apply(current, params: params) {
            switch rewrite.flag {
            case .forward:
                owned = rewritten
            case .redirect:
                return .redirect(status: 302, location: rewritten)
            case .permanent:
                return .redirect(status: 301, location: rewritten)
            }
        }
        var result = owned ?? String(current)
        if let addPrefix, addPrefix != "/" { result = addPrefix + result }
        if result.utf8.first != UInt8(ascii: "/") { result = "/" + result }
        return .path(result)
    }
}
