/// How a `Router` treats a path that does not match as written.
public struct RouterOptions: Sendable, Hashable {
    /// On a miss, if the path with its trailing slash added or removed matches, answer with a redirect to it.
    public var redirectTrailingSlash: Bool
    /// On a miss, clean the path (`//`, `/./`, `/../`) and match it without regard to ASCII case; if that finds a
    /// route, answer with a redirect to the route's spelling.
    public var redirectFixedPath: Bool

    public init(redirectTrailingSlash: Bool = true, redirectFixedPath: Bool = false) {
        self.redirectTrailingSlash = redirectTrailingSlash
        self.redirectFixedPath = redirectFixedPath
    }
}

/// The answer to a lookup.
public enum RouteMatch<Value> {
    /// A route matched.
    case found(Value, Parameters)
    /// No route matched, but `location` would: the caller answers 301 (GET, HEAD) or 308 (other methods).
    case redirect(location: String)
    /// The path matches routes for other methods only; `allowed` is sorted, for the `Allow` header of a 405.
    case methodNotAllowed(allowed: [String])
    /// Nothing matches.
    case notFound
}

extension RouteMatch: Sendable where Value: Sendable {}

/// An immutable radix-tree router: built once by a `RouterBuilder`, then shared freely between threads.
///
/// Precedence at every segment is literal, then `:parameter`, then `*catch-all`; lookup backtracks when a more
/// specific branch dead-ends. Misses are answered in httprouter's order: trailing-slash redirect, fixed-path redirect,
/// 405 with the methods that would match, then 404.
public struct Router<Value> {
    /// Everything but the values: trie, options and the matching, none of it generic. `lookup` is only a thin
    /// `@inlinable` shell over it, so callers' modules specialize it for their `Value` and a lookup does no run-time
    /// generic metadata look-ups (that alone cost 60% of a static lookup).
    @usableFromInline let core: RouterCore
    /// The routes, in the order they were added; lookups return `routes[i].value`.
    public let routes: [Route<Value>]
    /// `routes[i].value`, kept apart so that a hit copies one value, not a whole `Route`.
    @usableFromInline let values: [Value]
    public var options: RouterOptions { core.options }
    var trie: RouteTrie { core.trie }

    init(trie: RouteTrie, routes: [Route<Value>], options: RouterOptions) {
        self.core = RouterCore(trie: trie, options: options)
        self.routes = routes
        self.values = routes.map(\.value)
    }

    /// Looks up `method` and `path`: the path only, without the query string, still percent-encoded.
    @inlinable
    public func lookup(_ method: String, _ path: String) -> RouteMatch<Value> {
        lookup(method, path[...])
    }

    /// Looks up a path given as a slice, e.g. of the request target before its `?`, without copying it.
    @inlinable
    public func lookup(_ method: String, _ path: Substring) -> RouteMatch<Value> {
        switch core.match(method, path) {
        case .found(let entry, let parameters): .found(values[Int(entry)], parameters)
        case .redirect(let location): .redirect(location: location)
        case .methodNotAllowed(let allowed): .methodNotAllowed(allowed: allowed)
        case .notFound: .notFound
        }
    }
}

/// A `RouteMatch` with the route's index in place of its value.
@usableFromInline
enum RawMatch {
    case found(Int32, Parameters)
    case redirect(String)
    case methodNotAllowed([String])
    case notFound
}

/// The non-generic half of `Router`.
@usableFromInline
struct RouterCore: Sendable {
    let trie: RouteTrie
    let options: RouterOptions

    @usableFromInline
    func match(_ method: String, _ path: Substring) -> RawMatch {
        // Through the base string: `Substring.UTF8View` (a `Slice`) takes a slower generic route.
        let base = path.base
        let start = base.utf8.distance(from: base.utf8.startIndex, to: path.startIndex)
        let end = base.utf8.distance(from: base.utf8.startIndex, to: path.endIndex)
        if let result = base.utf8.withContiguousStorageIfAvailable({
            match(method, path, bytes: UnsafeBufferPointer(rebasing: $0[start..<end]))
        }) {
            return result
        }
        var contiguous = String(path)
        contiguous.makeContiguousUTF8()
        let slice = contiguous[...]
        return slice.utf8.withContiguousStorageIfAvailable { match(method, slice, bytes: $0) }!
    }

    private func match(_ method: String, _ path: Substring, bytes: UnsafeBufferPointer<UInt8>) -> RawMatch {
        var captures = Captures()
        let entry = trie.find(bytes, method: method, captures: &captures)
        if entry >= 0 {
            return .found(entry, Parameters(path: path, names: trie.names, captures: captures.items))
        }
        return miss(method, bytes)
    }

    /// The slow path: redirects, 405, 404.
    private func miss(_ method: String, _ bytes: UnsafeBufferPointer<UInt8>) -> RawMatch {
        if options.redirectTrailingSlash, method != "CONNECT", let location = trailingSlashVariant(method, bytes) {
            return .redirect(location)
        }
        if options.redirectFixedPath, method != "CONNECT" {
            let cleaned = PathCleaner.clean(bytes)
            let fixed = cleaned.withUnsafeBufferPointer { trie.caseInsensitivePath($0, method: method) }
            if let fixed { return .redirect(String(decoding: fixed, as: UTF8.self)) }
            if options.redirectTrailingSlash {
                var toggled = cleaned
                if toggled.count > 1 && toggled.last == UInt8(ascii: "/") {
                    toggled.removeLast()
                } else {
                    toggled.append(UInt8(ascii: "/"))
                }
                let fixed = toggled.withUnsafeBufferPointer { trie.caseInsensitivePath($0, method: method) }
                if let fixed { return .redirect(String(decoding: fixed, as: UTF8.self)) }
            }
        }
        let allowed = trie.methods(matching: bytes)
        return allowed.isEmpty ? .notFound : .methodNotAllowed(allowed)
    }

    private func trailingSlashVariant(_ method: String, _ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        var captures = Captures()
        if bytes.count > 1 && bytes.last == UInt8(ascii: "/") {
            let shorter = UnsafeBufferPointer(rebasing: bytes.dropLast())
            return trie.find(shorter, method: method, captures: &captures) >= 0
                ? String(decoding: shorter, as: UTF8.self) : nil
        }
        var longer = Array(bytes)
        longer.append(UInt8(ascii: "/"))
        let found = longer.withUnsafeBufferPointer { trie.find($0, method: method, captures: &captures) }
        return found >= 0 ? String(decoding: longer, as: UTF8.self) : nil
    }
}

extension Router: Sendable where Value: Sendable {}

/// The parameters a lookup captured, as slices of the request path (no copies).
public struct Parameters: Sendable, RandomAccessCollection {
    public typealias Element = (name: String, value: Substring)

    private let path: Substring
    private let names: [String]
    private let captures: [Captures.Capture]

    init(path: Substring, names: [String], captures: [Captures.Capture]) {
        self.path = path
        self.names = names
        self.captures = captures
    }

    /// No parameters.
    public init() {
        self.init(path: "", names: [], captures: [])
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { captures.count }

    public subscript(position: Int) -> Element {
        let capture = captures[position]
        return (names[Int(capture.name)], slice(capture))
    }

    /// The raw (still percent-encoded) value of the parameter `name`.
    public subscript(name: String) -> Substring? {
        for capture in captures where names[Int(capture.name)] == name { return slice(capture) }
        return nil
    }

    /// The value of the parameter `name`, percent-decoded (`%2F` becomes `/`). Nil if absent or not valid UTF-8
    /// after decoding; invalid escapes are kept as they are.
    public func decoded(_ name: String) -> String? {
        self[name].flatMap { PercentDecoding.decode($0) }
    }

    private func slice(_ capture: Captures.Capture) -> Substring {
        let utf8 = path.utf8
        let start = utf8.index(utf8.startIndex, offsetBy: Int(capture.start))
        let end = utf8.index(start, offsetBy: Int(capture.end - capture.start))
        return path[start..<end]
    }
}
