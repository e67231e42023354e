/// Collects routes and compiles them into an immutable `Router`.
///
/// Conflicts are found when a route is added, not when a request arrives: two parameters with different names at
/// the same place, or the same method and pattern twice, throw a `RouterError` that names both routes.
public struct RouterBuilder<Value> {
    private let root = TrieBuilderNode(kind: .literal, prefix: [], pattern: "")
    private var entries: [Route<Value>] = []

    public init() {}

    /// The routes added so far, in order.
    public var routes: [Route<Value>] { entries }

    /// Adds a route. `method` nil means any method; a route for a specific method beats an any-method route on the
    /// same pattern.
    public mutating func add(_ method: String?, _ pattern: String, _ value: Value) throws(RouterError) {
        let parsed = try RoutePattern(pattern)
        var node = root
        for piece in parsed.pieces {
            switch piece {
            case .literal(let bytes):
                node = node.insertLiteral(bytes[...], pattern: pattern)
            case .parameter(let name):
                node = try node.child(kind: .parameter, name: name, pattern: pattern)
            case .catchAll(let name):
                node = try node.child(kind: .catchAll, name: name, pattern: pattern)
            }
        }
        try node.register(method: method, entry: entries.count, pattern: pattern)
        entries.append(Route(method: method, pattern: parsed, value: value))
    }

    /// Compiles the routes into a `Router`. The builder can be used again afterwards.
    public func build(options: RouterOptions = RouterOptions()) -> Router<Value> {
        Router(trie: RouteTrie(root: root), routes: entries, options: options)
    }
}

/// One registered route.
public struct Route<Value> {
    /// The method, or nil for any method.
    public let method: String?
    public let pattern: RoutePattern
    public let value: Value
}

extension Route: Sendable where Value: Sendable {}

/// A mutable radix-tree node used while routes are added. `RouteTrie` is its compiled, flat form.
final class TrieBuilderNode {
    enum Kind { case literal, parameter, catchAll }

    let kind: Kind
    /// For a literal node: the bytes of its edge. Empty for parameters and catch-alls.
    var prefix: [UInt8]
    /// For parameter and catch-all nodes: the name.
    let name: String
    /// The first route that created this node, named in conflict errors.
    let pattern: String
    /// Literal children; no two start with the same byte.
    var literals: [TrieBuilderNode] = []
    var parameter: TrieBuilderNode?
    var catchAll: TrieBuilderNode?
    /// Entries registered at this node: (method, entry index, pattern); nil method means any.
    var handlers: [(method: String?, entry: Int, pattern: String)] = []

    init(kind: Kind, prefix: [UInt8], name: String = "", pattern: String) {
        self.kind = kind
        self.prefix = prefix
        self.name = name
        self.pattern = pattern
    }

    /// Walks down (splitting edges where needed) so that `bytes` are consumed, and returns the node that ends them.
    func insertLiteral(_ bytes: ArraySlice<UInt8>, pattern: String) -> TrieBuilderNode {
        var node = self
        var rest = bytes
        while let first = rest.first {
            guard let index = node.literals.firstIndex(where: { $0.prefix[0] == first }) else {
                let child = TrieBuilderNode(kind: .literal, prefix: Array(rest), pattern: pattern)
                node.literals.append(child)
                return child
            }
            var child = node.literals[index]
            let common = zip(child.prefix, rest).prefix(while: { $0 == $1 }).count
            if common < child.prefix.count {
                // Split the edge: `child` keeps the tail, a new node takes the shared head.
                let head = TrieBuilderNode(kind: .literal, prefix: Array(child.prefix[..<common]), pattern: child.pattern)
                child.prefix.removeFirst(common)
                head.literals = [child]
                node.literals[index] = head
                child = head
            }
            rest = rest.dropFirst(common)
            node = child
        }
        return node
    }

    /// Returns the parameter or catch-all child named `name`, creating it, or throws if another name is there.
    func child(kind: Kind, name: String, pattern: String) throws(RouterError) -> TrieBuilderNode {
        let existing = kind == .parameter ? parameter : catchAll
        if let existing {
            guard existing.name == name else {
                let sigil = kind == .parameter ? ":" : "*"
                throw RouterError(
                    .conflictingParameterName, pattern: pattern, existingPattern: existing.pattern,
                    detail: "'\(sigil)\(name)' and '\(sigil)\(existing.name)' stand at the same place; use one name")
            }
            return existing
        }
        let node = TrieBuilderNode(kind: kind, prefix: [], name: name, pattern: pattern)
        if kind == .parameter { parameter = node } else { catchAll = node }
        return node
    }

    func register(method: String?, entry: Int, pattern: String) throws(RouterError) {
        if let clash = handlers.first(where: { $0.method == method }) {
            throw RouterError(
                .duplicateRoute, pattern: pattern, existingPattern: clash.pattern,
                detail: "both are registered for \(method ?? "any method")")
        }
        handlers.append((method, entry, pattern))
    }
}
