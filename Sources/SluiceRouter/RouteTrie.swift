/// The compiled radix tree: flat arrays of nodes, edge bytes and handlers, immutable and `Sendable`.
///
/// Lookup walks the path bytes once, trying at each node the literal child, then the parameter, then the catch-all.
/// When a more specific branch dead-ends it backtracks and rolls back the parameters captured on that branch.
/// Nothing here allocates on a hit except the capture array, which is only created when a parameter matches.
struct RouteTrie: Sendable {
    struct Node: Sendable {
        var edgeStart: Int32 = 0
        var edgeEnd: Int32 = 0
        /// Literal children are contiguous: `literalStart..<literalEnd`, sorted by their first edge byte.
        var literalStart: Int32 = 0
        var literalEnd: Int32 = 0
        var parameter: Int32 = -1
        var catchAll: Int32 = -1
        /// Index into `names` for parameter and catch-all nodes.
        var name: Int32 = -1
        /// `handlerStart..<handlerEnd` into `handlerMethods`/`handlerEntries`; empty when no route ends here.
        var handlerStart: Int32 = 0
        var handlerEnd: Int32 = 0
    }

    private(set) var nodes: [Node] = []
    /// First edge byte of each node, so that choosing a literal child touches one small array.
    private(set) var firstBytes: [UInt8] = []
    private(set) var edges: [UInt8] = []
    private(set) var names: [String] = []
    /// Handler methods (nil: any) and route entry indices, per node range.
    private(set) var handlerMethods: [String?] = []
    private(set) var handlerEntries: [Int32] = []
    /// The deepest number of parameters any route captures: the capture array is sized to it once.
    private(set) var maxCaptures = 0

    init(root: TrieBuilderNode) {
        // Breadth first, so that the literal children of a node get consecutive indices.
        var queue: [(builder: TrieBuilderNode, depth: Int)] = [(root, 0)]
        nodes.append(Node())
        firstBytes.append(0)
        var head = 0
        while head < queue.count {
            let (builder, depth) = queue[head]
            let index = head
            head += 1
            var node = nodes[index]
            node.edgeStart = Int32(edges.count)
            edges.append(contentsOf: builder.prefix)
            node.edgeEnd = Int32(edges.count)
            if builder.kind != .literal {
                node.name = Int32(names.count)
                names.append(builder.name)
            }
            let captures = depth + (builder.kind == .literal ? 0 : 1)
            maxCaptures = max(maxCaptures, captures)
            node.handlerStart = Int32(handlerEntries.count)
            // Specific methods first, any-method last, so that a scan finds the specific one first.
            for handler in builder.handlers.sorted(by: { ($0.method ?? "\u{10FFFF}") < ($1.method ?? "\u{10FFFF}") }) {
                handlerMethods.append(handler.method)
                handlerEntries.append(Int32(handler.entry))
            }
            node.handlerEnd = Int32(handlerEntries.count)

            func enqueue(_ child: TrieBuilderNode) -> Int32 {
                let childIndex = Int32(nodes.count)
                nodes.append(Node())
                firstBytes.append(child.prefix.first ?? 0)
                queue.append((child, captures))
                return childIndex
            }
            node.literalStart = Int32(nodes.count)
            for child in builder.literals.sorted(by: { $0.prefix[0] < $1.prefix[0] }) { _ = enqueue(child) }
            node.literalEnd = Int32(nodes.count)
            if let parameter = builder.parameter { node.parameter = enqueue(parameter) }
            if let catchAll = builder.catchAll { node.catchAll = enqueue(catchAll) }
            nodes[index] = node
        }
    }

    // MARK: Lookup

    /// The route entry for `method` at `node`, or -1. A specific method beats any-method.
    @inline(__always)
    func handler(at node: Node, method: String) -> Int32 {
        var index = Int(node.handlerStart)
        let end = Int(node.handlerEnd)
        while index < end {
            guard let candidate = handlerMethods[index] else { return handlerEntries[index] }
            if candidate == method { return handlerEntries[index] }
            index += 1
        }
        return -1
    }

    /// The literal child of `node` whose edge starts with `byte`, or -1.
    @inline(__always)
    func literalChild(of node: Node, startingWith byte: UInt8) -> Int32 {
        var low = Int(node.literalStart)
        var high = Int(node.literalEnd)
        // Few children: a scan; many (a wide fan-out of static routes): a binary search on the sorted first bytes.
        if high - low <= 8 {
            while low < high {
                if firstBytes[low] == byte { return Int32(low) }
                low += 1
            }
            return -1
        }
        while low < high {
            let mid = (low + high) / 2
            let candidate = firstBytes[mid]
            if candidate == byte { return Int32(mid) }
            if candidate < byte { low = mid + 1 } else { high = mid }
        }
        return -1
    }

    /// Finds the route for `method` and `path`, capturing parameters; returns the entry index or -1.
    func find(_ path: UnsafeBufferPointer<UInt8>, method: String, captures: inout Captures) -> Int32 {
        var acceptor = MethodAcceptor(method: method)
        return walk(0, path, 0, captures: &captures, acceptor: &acceptor)
    }

    /// Visits every node that ends a route matching `path`, whatever the method (used to answer 405 with `Allow`).
    func methods(matching path: UnsafeBufferPointer<UInt8>) -> [String] {
        var captures = Captures()
        var collector = MethodCollector()
        _ = walk(0, path, 0, captures: &captures, acceptor: &collector)
        return collector.found.sorted()
    }

    /// Depth-first match with backtracking. `node`'s own edge has already been matched; `position` is after it.
    /// The acceptor says whether the route ending at a node fits (returns its entry) or not (-1). Generic rather than
    /// a closure, so the fast path is specialized and inlined.
    private func walk<Acceptor: NodeAcceptor>(
        _ index: Int32, _ path: UnsafeBufferPointer<UInt8>, _ position: Int, captures: inout Captures,
        acceptor: inout Acceptor
    ) -> Int32 {
        let node = nodes[Int(index)]
        let count = path.count
        if position == count, node.handlerEnd > node.handlerStart {
            let entry = acceptor.accept(node, in: self)
            if entry >= 0 { return entry }
        }
        if position < count, node.literalEnd > node.literalStart {
            let child = literalChild(of: node, startingWith: path[position])
            if child >= 0 {
                let edge = nodes[Int(child)]
                let length = Int(edge.edgeEnd - edge.edgeStart)
                if count - position >= length && matches(edge, path, position, length) {
                    let entry = walk(child, path, position + length, captures: &captures, acceptor: &acceptor)
                    if entry >= 0 { return entry }
                }
            }
        }
        if node.parameter >= 0, position < count {
            var end = position
            while end < count && path[end] != UInt8(ascii: "/") { end += 1 }
            if end > position {
                let child = nodes[Int(node.parameter)]
                let mark = captures.count
                captures.append(name: child.name, start: position, end: end, capacity: maxCaptures)
                let entry = walk(node.parameter, path, end, captures: &captures, acceptor: &acceptor)
                if entry >= 0 { return entry }
                captures.truncate(to: mark)
            }
        }
        if node.catchAll >= 0 {
            let child = nodes[Int(node.catchAll)]
            let entry = acceptor.accept(child, in: self)
            if entry >= 0 {
                captures.append(name: child.name, start: position, end: count, capacity: maxCaptures)
                return entry
            }
        }
        return -1
    }

    @inline(__always)
    private func matches(_ edge: Node, _ path: UnsafeBufferPointer<UInt8>, _ position: Int, _ length: Int) -> Bool {
        edges.withUnsafeBufferPointer { edges in
            var offset = 0
            let start = Int(edge.edgeStart)
            while offset < length {
                if edges[start + offset] != path[position + offset] { return false }
                offset += 1
            }
            return true
        }
    }

    // MARK: Case-insensitive fallback

    /// Finds a route for `method` comparing literal bytes without regard to ASCII case, and returns the path with the
    /// route's own spelling (httprouter's `RedirectFixedPath`). Slow path: only used on a miss.
    func caseInsensitivePath(_ path: UnsafeBufferPointer<UInt8>, method: String) -> [UInt8]? {
        var fixed: [UInt8] = []
        fixed.reserveCapacity(path.count)
        return walkFolding(0, path, 0, method: method, fixed: &fixed) ? fixed : nil
    }

    private func walkFolding(
        _ index: Int32, _ path: UnsafeBufferPointer<UInt8>, _ position: Int, method: String, fixed: inout [UInt8]
    ) -> Bool {
        let node = nodes[Int(index)]
        let count = path.count
        if position == count, handler(at: node, method: method) >= 0 { return true }
        let mark = fixed.count
        if position < count {
            let byte = Self.lower(path[position])
            for child in Int(node.literalStart)..<Int(node.literalEnd) where Self.lower(firstBytes[child]) == byte {
                let edge = nodes[child]
                let length = Int(edge.edgeEnd - edge.edgeStart)
                guard count - position >= length else { continue }
                var same = true
                for offset in 0..<length
                where Self.lower(edges[Int(edge.edgeStart) + offset]) != Self.lower(path[position + offset]) {
                    same = false
                    break
                }
                guard same else { continue }
                fixed.append(contentsOf: edges[Int(edge.edgeStart)..<Int(edge.edgeEnd)])
                if walkFolding(Int32(child), path, position + length, method: method, fixed: &fixed) { return true }
                fixed.removeSubrange(mark...)
            }
        }
        if node.parameter >= 0, position < count {
            var end = position
            while end < count && path[end] != UInt8(ascii: "/") { end += 1 }
            if end > position {
                fixed.append(contentsOf: path[position..<end])
                if walkFolding(node.parameter, path, end, method: method, fixed: &fixed) { return true }
                fixed.removeSubrange(mark...)
            }
        }
        if node.catchAll >= 0, handler(at: nodes[Int(node.catchAll)], method: method) >= 0 {
            fixed.append(contentsOf: path[position..<count])
            return true
        }
        return false
    }

    @inline(__always)
    private static func lower(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }
}

/// Decides whether the routes ending at a node fit the request.
protocol NodeAcceptor {
    /// The route entry to answer with, or -1 to keep looking.
    mutating func accept(_ node: RouteTrie.Node, in trie: RouteTrie) -> Int32
}

/// The lookup: the route for one method (or any-method).
struct MethodAcceptor: NodeAcceptor {
    let method: String

    @inline(__always)
    func accept(_ node: RouteTrie.Node, in trie: RouteTrie) -> Int32 { trie.handler(at: node, method: method) }
}

/// For 405: collects the methods of every route the path matches, and never stops the walk.
struct MethodCollector: NodeAcceptor {
    var found = Set<String>()

    mutating func accept(_ node: RouteTrie.Node, in trie: RouteTrie) -> Int32 {
        for index in Int(node.handlerStart)..<Int(node.handlerEnd) {
            if let method = trie.handlerMethods[index] { found.insert(method) }
        }
        return -1
    }
}

/// Parameters captured during a lookup: name index and byte range into the path. Created empty (no allocation);
/// the storage is made, once and at full size, by the first capture.
struct Captures {
    struct Capture: Sendable {
        var name: Int32
        var start: Int32
        var end: Int32
    }

    private(set) var items: [Capture] = []

    init() {}

    var count: Int { items.count }

    @inline(__always)
    mutating func append(name: Int32, start: Int, end: Int, capacity: Int) {
        if items.capacity == 0 { items.reserveCapacity(capacity) }
        items.append(Capture(name: name, start: Int32(start), end: Int32(end)))
    }

    @inline(__always)
    mutating func truncate(to count: Int) {
        items.removeSubrange(count...)
    }
}
