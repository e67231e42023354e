import SluiceRouter

#if canImport(Glibc)
import Glibc
#endif

// libFuzzer target for the radix-tree router. Input: a first byte of options (bit 0: redirect trailing slash,
// bit 1: redirect fixed path), then lines. Lines before a line "=" are routes, "METHOD /pattern" or "/pattern" (any
// method); lines after it are lookups, "METHOD /path" or "/path" (GET). Without a "=" line every line is both.
//
// Invariants: no crash; registration errors are thrown, never trapped; a found route is one that was added, for the
// method asked or for any method, its parameters in the pattern's order, each parameter one non-empty segment, and
// putting the captured values back into the pattern gives the path again; a redirect's location is itself found; a
// 405's Allow list is sorted, non-empty and lacks the method asked; and every static route is found by its own path.

struct Line {
    var method: String?
    var text: String
}

func parseLine(_ bytes: ArraySlice<UInt8>) -> Line {
    var bytes = bytes
    if bytes.last == UInt8(ascii: "\r") { bytes = bytes.dropLast() }
    if bytes.first != UInt8(ascii: "/"), let space = bytes.firstIndex(of: UInt8(ascii: " ")) {
        return Line(
            method: String(decoding: bytes[..<space], as: UTF8.self),
            text: String(decoding: bytes[(space + 1)...], as: UTF8.self))
    }
    return Line(method: nil, text: String(decoding: bytes, as: UTF8.self))
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let options = RouterOptions(redirectTrailingSlash: data[0] & 1 == 1, redirectFixedPath: data[0] & 2 == 2)
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true)
    var routeLines: [Line] = []
    var lookupLines: [Line] = []
    var seenSeparator = false
    for line in lines {
        if line.elementsEqual([UInt8(ascii: "=")]) {
            seenSeparator = true
            continue
        }
        if seenSeparator { lookupLines.append(parseLine(line)) } else { routeLines.append(parseLine(line)) }
    }
    if !seenSeparator { lookupLines = routeLines }

    var builder = RouterBuilder<Int>()
    var added: [(method: String?, pattern: RoutePattern)] = []
    for line in routeLines.prefix(64) {
        do {
            try builder.add(line.method, line.text, added.count)
            added.append((line.method, try RoutePattern(line.text)))
        } catch {
            // Refused patterns and conflicts are expected.
        }
    }
    let router = builder.build(options: options)
    guard router.routes.count == added.count else { fail("\(added.count) routes added, the router has \(router.routes.count)") }

    for line in lookupLines.prefix(64) {
        check(router, added, method: line.method ?? "GET", path: line.text, depth: 0)
    }
    // Completeness: a static route is found by its own path.
    for (index, route) in added.enumerated() {
        guard route.pattern.parameterNames.isEmpty else { continue }
        var path: [UInt8] = []
        for case .literal(let bytes) in route.pattern.pieces { path += bytes }
        let method = route.method ?? "FUZZANY"
        switch router.lookup(method, String(decoding: path, as: UTF8.self)) {
        case .found(let value, _):
            if added[value].pattern.pieces != route.pattern.pieces {
                fail("static route \(index) '\(route.pattern)' looked up by its path finds '\(added[value].pattern)'")
            }
        case let other:
            // A path that is not valid UTF-8 does not survive the trip through String.
            if String(validating: path, as: UTF8.self) != nil {
                fail("static route \(index) \(method) '\(route.pattern)' is not found by its path: \(other)")
            }
        }
    }
    return 0
}

/// Brute force: whether `pattern` matches `path` (a parameter takes one non-empty segment, a catch-all the rest).
func matches(_ pattern: RoutePattern, _ path: [UInt8]) -> Bool {
    var position = 0
    for piece in pattern.pieces {
        switch piece {
        case .literal(let bytes):
            guard path.count - position >= bytes.count, path[position..<(position + bytes.count)].elementsEqual(bytes) else {
                return false
            }
            position += bytes.count
        case .parameter:
            var end = position
            while end < path.count && path[end] != UInt8(ascii: "/") { end += 1 }
            guard end > position else { return false }
            position = end
        case .catchAll:
            position = path.count
        }
    }
    return position == path.count
}

func check(_ router: Router<Int>, _ added: [(method: String?, pattern: RoutePattern)], method: String, path: String, depth: Int) {
    // What brute force says: the routes whose pattern matches, and which of them take this method.
    let bytes = Array(path.utf8)
    let matching = added.filter { matches($0.pattern, bytes) }
    let forMethod = matching.filter { $0.method == nil || $0.method == method }
    let result = router.lookup(method, path)
    switch result {
    case .found:
        if forMethod.isEmpty { fail("\(method) \(path) found a route, but brute force matches none for the method") }
    case .redirect, .methodNotAllowed, .notFound:
        if !forMethod.isEmpty {
            fail("\(method) \(path) gives \(result), but '\(forMethod[0].pattern)' (\(forMethod[0].method ?? "any")) matches")
        }
    }
    if case .methodNotAllowed(let allowed) = result {
        let expected = Set(matching.compactMap(\.method)).sorted()
        if allowed != expected { fail("\(method) \(path): Allow \(allowed), brute force says \(expected)") }
    }
    if case .notFound = result, !matching.isEmpty {
        fail("\(method) \(path) is not found, but '\(matching[0].pattern)' (\(matching[0].method ?? "any")) matches: expected a 405")
    }
    switch result {
    case .found(let value, let parameters):
        guard added.indices.contains(value) else { fail("found value \(value), but \(added.count) routes") }
        let route = added[value]
        if let routeMethod = route.method, routeMethod != method {
            fail("\(method) \(path) found the \(routeMethod) route '\(route.pattern)'")
        }
        let names = parameters.map(\.name)
        if names != route.pattern.parameterNames {
            fail("\(method) \(path) → '\(route.pattern)': parameters \(names), pattern has \(route.pattern.parameterNames)")
        }
        var rebuilt: [UInt8] = []
        var next = 0
        for piece in route.pattern.pieces {
            switch piece {
            case .literal(let bytes):
                rebuilt += bytes
            case .parameter:
                let value = parameters[next].value
                next += 1
                if value.isEmpty || value.utf8.contains(UInt8(ascii: "/")) {
                    fail("\(method) \(path) → '\(route.pattern)': parameter value '\(value)' is not one segment")
                }
                rebuilt += value.utf8
            case .catchAll:
                rebuilt += parameters[next].value.utf8
                next += 1
            }
        }
        if !rebuilt.elementsEqual(path.utf8) {
            fail("\(method) \(path) → '\(route.pattern)' with \(Array(parameters)): the pattern filled in is \(String(decoding: rebuilt, as: UTF8.self))")
        }
    case .redirect(let location):
        guard depth == 0 else { fail("\(method) \(path): a redirect to a redirect (\(location))") }
        switch router.lookup(method, location) {
        case .found: break
        case let other: fail("\(method) \(path) redirects to \(location), which gives \(other)")
        }
        check(router, added, method: method, path: location, depth: 1)
    case .methodNotAllowed(let allowed):
        if allowed.isEmpty || allowed != allowed.sorted() || allowed.contains(method) {
            fail("\(method) \(path): Allow \(allowed)")
        }
    case .notFound:
        break
    }
}

func fail(_ message: String) -> Never {
    var text = "FuzzRouter invariant failed: \(message)\n"
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    fatalError(message)
}
