/// One `request_header` or `response_header` line: `set NAME VALUE` (replaces every value), `add NAME VALUE`
/// (one more value), `remove NAME`. Values are templates. The fields that frame a message or belong to a hop
/// (`Content-Length`, `Transfer-Encoding`, `Connection`…) are the gateway's own and cannot be set.
public struct HeaderRule: Hashable, Sendable {
    public enum Operation: Hashable, Sendable {
        case set, add, remove
    }

    public let operation: Operation
    /// Lowercased.
    public let name: String
    /// Nil for `remove`.
    public let value: Template?

    public init(operation: Operation, name: String, value: Template?) {
        self.operation = operation
        self.name = name.lowercased()
        self.value = value
    }

    static let owned: Set<String> = [
        "content-length", "transfer-encoding", "connection", "keep-alive", "proxy-connection", "te", "trailer",
        "upgrade",
    ]

    static let expected = "set NAME VALUE, add NAME VALUE or remove NAME, like set X-Frame-Options DENY"

    public static func parse(_ text: some StringProtocol) throws(FilterSyntaxError) -> HeaderRule {
        let (verb, rest) = FilterText.firstWord(Substring(text))
        let operation: Operation
        switch verb.lowercased() {
        case "set": operation = .set
        case "add": operation = .add
        case "remove": operation = .remove
        default: throw FilterSyntaxError(expected: expected, got: text)
        }
        let (name, value) = FilterText.firstWord(rest)
        let lower = try checkedName(name)
        switch operation {
        case .remove:
            guard value.isEmpty else { throw FilterSyntaxError(expected: "remove NAME, without a value", got: text) }
            return HeaderRule(operation: .remove, name: lower, value: nil)
        case .set, .add:
            guard !value.isEmpty else { throw FilterSyntaxError(expected: expected, got: text) }
            let template = try Template(parsing: value)
            if template.usesCaptures {
                throw FilterSyntaxError(expected: "a value without $0..$9 (captures belong to rewrite)", got: value)
            }
            return HeaderRule(operation: operation, name: lower, value: template)
        }
    }

    static func checkedName(_ name: Substring) throws(FilterSyntaxError) -> String {
        guard FilterText.isToken(name) else {
            throw FilterSyntaxError(expected: "a header name like X-Request-Start", got: name)
        }
        let lower = name.lowercased()
        if lower == "host" {
            throw FilterSyntaxError(expected: "a header other than Host (use host_rewrite for it)", got: name)
        }
        if owned.contains(lower) {
            throw FilterSyntaxError(
                expected: "a header the gateway does not own (\(lower) frames the message or belongs to one hop)",
                got: name)
        }
        return lower
    }

    /// `hide_header = Server, X-Powered-By`: remove rules, one per name.
    public static func hidden(_ names: some StringProtocol) throws(FilterSyntaxError) -> [HeaderRule] {
        let items = names.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" })
        guard !items.isEmpty else { throw FilterSyntaxError(expected: "header names like Server, X-Powered-By", got: names) }
        var rules: [HeaderRule] = []
        for item in items {
            let item = Substring(item)
            guard FilterText.isToken(item) else {
                throw FilterSyntaxError(expected: "header names like Server, X-Powered-By", got: item)
            }
            rules.append(HeaderRule(operation: .remove, name: item.lowercased(), value: nil))
        }
        return rules
    }
}
