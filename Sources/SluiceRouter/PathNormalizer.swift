/// What to do with `%2F` and `%5C` (an encoded `/` or `\`) in a request path.
public enum EscapedSlashes: String, Sendable, Hashable, CaseIterable {
    /// 400: the safe default, since routers and upstreams disagree on what an encoded slash means.
    case reject
    /// Forwarded encoded (as `%2F`, `%5C`), and not a segment separator when routing.
    case keep
    /// Decoded to `/` (both, like Envoy's `UNESCAPE_AND_MERGE`: Windows backends split on `\`), then treated as
    /// a separator: merged and dot-segment-removed like any other.
    case decode
}

/// The request-path normalisation a front proxy owes the routes behind it (RFC 3986 §6.2.2, §5.2.4), so that
/// `/./internal`, `//internal`, `/x/../internal` and `/%69nternal` are all `/internal` to the router and to the
/// upstream alike:
///
/// 1. the path must start with `/`;
/// 2. percent-escapes must be `%` and two hex digits; `%00` is refused; escapes of unreserved characters
///    (`A-Z a-z 0-9 - . _ ~`) are decoded, others kept with their hex in upper case; `%2F`/`%5C` follow
///    `escapedSlashes`;
/// 3. control characters, space, `\` and `#` are refused raw; bytes of 0x80 and above are percent-encoded;
/// 4. repeated slashes are merged when `mergeSlashes` (nginx's `merge_slashes`);
/// 5. `.` and `..` segments are removed, and a `..` that would climb above the root is refused (not clamped).
///
/// A path that is already normal (the common case) is recognised in one pass without allocating.
public struct PathNormalizer: Sendable, Hashable {
    public var mergeSlashes: Bool
    public var escapedSlashes: EscapedSlashes

    public init(mergeSlashes: Bool = true, escapedSlashes: EscapedSlashes = .reject) {
        self.mergeSlashes = mergeSlashes
        self.escapedSlashes = escapedSlashes
    }

    /// Why a path was refused (answered 400).
    public enum Rejection: Error, Sendable, Hashable, CustomStringConvertible {
        case notOriginForm
        case aboveRoot
        case badEscape
        case nul
        case escapedSlash
        case invalidCharacter

        public var description: String {
            switch self {
            case .notOriginForm: "the path does not start with '/'"
            case .aboveRoot: "the path climbs above the root"
            case .badEscape: "a '%' not followed by two hex digits"
            case .nul: "the path contains NUL"
            case .escapedSlash: "an encoded '/' or '\\' (%2F, %5C)"
            case .invalidCharacter: "a character not allowed in a path"
            }
        }
    }

    public enum Result: Sendable, Hashable {
        /// Already normal: forward it as it came.
        case unchanged
        case normalized(String)
    }

    /// Normalises `path`: the request target before its `?` (the query is not touched).
    public func normalize(_ path: Substring) throws(Rejection) -> Result {
        let bytes = path.utf8
        guard bytes.first == UInt8(ascii: "/") else { throw .notOriginForm }
        var needsWork = false
        var previous: UInt8 = 0
        for byte in bytes {
            switch byte {
            case 0: throw .nul
            case 0x01...0x20, 0x7F, UInt8(ascii: "\\"), UInt8(ascii: "#"): throw .invalidCharacter
            case UInt8(ascii: "%"), 0x80...0xFF: needsWork = true
            case UInt8(ascii: "/"): if previous == UInt8(ascii: "/") && mergeSlashes { needsWork = true }
            case UInt8(ascii: "."): if previous == UInt8(ascii: "/") { needsWork = true }
            default: break
            }
            previous = byte
        }
        guard needsWork else { return .unchanged }
        let decoded = try decode(bytes)
        let normal = try removeDotSegments(decoded)
        if normal.elementsEqual(bytes) { return .unchanged }
        return .normalized(String(decoding: normal, as: UTF8.self))
    }

    // MARK: Steps

    /// Step 2 and 3: escapes decoded or canonicalised, high bytes encoded.
    private func decode(_ bytes: Substring.UTF8View) throws(Rejection) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 8)
        var index = bytes.startIndex
        while index != bytes.endIndex {
            let byte = bytes[index]
            bytes.formIndex(after: &index)
            if byte >= 0x80 {
                Self.appendEscape(byte, to: &out)
                continue
            }
            guard byte == UInt8(ascii: "%") else {
                out.append(byte)
                continue
            }
            guard index != bytes.endIndex, let high = Self.hexValue(bytes[index]) else { throw .badEscape }
            bytes.formIndex(after: &index)
            guard index != bytes.endIndex, let low = Self.hexValue(bytes[index]) else { throw .badEscape }
            bytes.formIndex(after: &index)
            let value = high << 4 | low
            switch value {
            case 0:
                throw .nul
            case UInt8(ascii: "/"), UInt8(ascii: "\\"):
                switch escapedSlashes {
                case .reject: throw .escapedSlash
                case .keep: Self.appendEscape(value, to: &out)
                case .decode: out.append(UInt8(ascii: "/"))
                }
            default:
                if Self.isUnreserved(value) { out.append(value) } else { Self.appendEscape(value, to: &out) }
            }
        }
        return out
    }

    /// Steps 4 and 5, over segments: merged slashes, `.` and `..` gone.
    private func removeDotSegments(_ path: [UInt8]) throws(Rejection) -> [UInt8] {
        let segments = path.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropFirst()
        var kept: [ArraySlice<UInt8>] = []
        kept.reserveCapacity(segments.count)
        let lastIndex = segments.endIndex - 1
        for (index, segment) in zip(segments.indices, segments) {
            let isLast = index == lastIndex
            if segment.isEmpty && mergeSlashes && !isLast { continue }
            if segment.elementsEqual([UInt8(ascii: ".")]) {
                if isLast { kept.append([]) }
                continue
            }
            if segment.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) {
                guard !kept.isEmpty else { throw .aboveRoot }
                kept.removeLast()
                if isLast { kept.append([]) }
                continue
            }
            kept.append(segment)
        }
        var out: [UInt8] = []
        out.reserveCapacity(path.count)
        for segment in kept {
            out.append(UInt8(ascii: "/"))
            out.append(contentsOf: segment)
        }
        if out.isEmpty { out.append(UInt8(ascii: "/")) }
        return out
    }

    // MARK: Bytes

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    private static func appendEscape(_ byte: UInt8, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "%"))
        out.append(hexDigits[Int(byte >> 4)])
        out.append(hexDigits[Int(byte & 0x0F)])
    }
}
