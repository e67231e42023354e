/// What to do with `%2F` and `%5C` (an encoded `/` or `\`) in a request path.
public enum EscapedSlashes: String, Sendable, Hashable, CaseIterable {
    /// Refuse the path with ``PathNormalizer/Rejection/escapedSlash``. The default: routers and upstreams
    /// disagree on what an encoded slash means.
    case reject
    /// Forward the escape, its hex upper-cased (`%2F`, `%5C`). It is segment data, not a separator.
    case keep
    /// Decode both `%2F` and `%5C` to `/`, which then separates segments like a literal `/`: slashes are
    /// merged and dot segments removed across it. `%5C` becomes `/`, not `\`, because Windows and IIS
    /// backends split paths on `\` (compare Envoy's `UNESCAPE_AND_MERGE`).
    case decode
}

/// The request-path normalisation a front proxy applies before routing, so that `/./internal`,
/// `//internal`, `/x/../internal` and `/%69nternal` all reach the router and the upstream as `/internal`.
///
/// The rules, applied in one left-to-right pass:
///
/// 1. The path must start with `/` (origin form, RFC 9112 §3.2.1).
/// 2. A `%` must be followed by two hex digits. `%00` is refused. Escapes of unreserved characters
///    (`A-Z a-z 0-9 - . _ ~`, RFC 3986 §2.3) are decoded; other escapes are kept with their hex
///    upper-cased (§6.2.2.1). `%2F` and `%5C` follow ``escapedSlashes``.
/// 3. Raw control characters (0x00–0x1F, 0x7F), space, `#` and `\` are refused. Bytes 0x80 and above
///    are percent-encoded (upper-case hex), as browsers send them. Any other printable ASCII passes.
/// 4. With ``mergeSlashes``, runs of `/` become one `/` (nginx's `merge_slashes`). Merging comes before
///    dot-segment removal, so `//../` is refused just as `/../` is.
/// 5. `.` and `..` segments are removed (RFC 3986 §5.2.4). A `..` with nothing left to remove is
///    refused with ``Rejection/aboveRoot``, never clamped to the root. A trailing `/` is kept, and a
///    final `.` or `..` leaves one (`/a/b/..` is `/a/`).
///
/// When a path breaks more than one rule, the first bad byte from the left decides the ``Rejection``
/// (`.notOriginForm` first of all); ``Rejection/aboveRoot`` is reported only for a path whose bytes
/// and escapes are otherwise acceptable.
///
/// A path that is already normal, the common case, is recognised in one pass without allocating.
public struct PathNormalizer: Sendable, Hashable {
    /// Whether runs of `/` are merged into one. Default `true`. When `false`, empty segments are kept.
    public var mergeSlashes: Bool
    /// What `%2F` and `%5C` do. Default ``EscapedSlashes/reject``.
    public var escapedSlashes: EscapedSlashes

    /// A normaliser with the given policies; the defaults are the safe ones.
    public init(mergeSlashes: Bool = true, escapedSlashes: EscapedSlashes = .reject) {
        self.mergeSlashes = mergeSlashes
        self.escapedSlashes = escapedSlashes
    }

    /// Why a path was refused. Each case is a 400 for the client.
    public enum Rejection: Error, Sendable, Hashable, CustomStringConvertible {
        /// The path does not start with `/`. (The caller handles `*` and absolute form first.)
        case notOriginForm
        /// A `..` segment would climb above the root, as in `/../x` or `/a/../../b`.
        case aboveRoot
        /// A `%` not followed by two hex digits: `%zz`, or `%` or `%4` at the end.
        case badEscape
        /// A NUL, raw or as `%00`.
        case nul
        /// `%2F` or `%5C` (any case) under ``EscapedSlashes/reject``.
        case escapedSlash
        /// A raw control character, space, `#` or `\`.
        case invalidCharacter

        /// A short human-readable reason, fit for a log line.
        public var description: String {
            switch self {
            case .notOriginForm: "path does not start with \"/\""
            case .aboveRoot: "path climbs above the root"
            case .badEscape: "\"%\" not followed by two hex digits"
            case .nul: "path contains NUL"
            case .escapedSlash: "path contains an encoded slash (%2F or %5C)"
            case .invalidCharacter: "path contains a character not allowed in a path"
            }
        }
    }

    /// The outcome of a successful normalisation.
    public enum Result: Sendable, Hashable {
        /// The path was already normal, byte for byte: forward it as it came.
        case unchanged
        /// The normal form, which differs from the input. It is ASCII.
        case normalized(String)
    }

    /// Normalises `path`, the request target before its `?` (the caller passes the query on untouched).
    ///
    /// Returns ``Result/unchanged`` exactly when the normal form equals `path`.
    public func normalize(_ path: Substring) throws(Rejection) -> Result {
        let outcome =
            path.utf8.withContiguousStorageIfAvailable { run($0) }
            ?? Array(path.utf8).withUnsafeBufferPointer { run($0) }
        return try outcome.get()
    }

    // MARK: - Passes

    /// Typed errors cannot cross the `rethrows` closures above, so they travel as a value.
    private func run(_ bytes: UnsafeBufferPointer<UInt8>) -> Swift.Result<Result, Rejection> {
        do throws(Rejection) {
            guard let restart = try scan(bytes) else { return .success(.unchanged) }
            let out = try rewrite(bytes, from: restart)
            if out.elementsEqual(bytes) { return .success(.unchanged) }
            return .success(.normalized(String(decoding: out, as: UTF8.self)))
        } catch {
            return .failure(error)
        }
    }

    /// The fast pass: nil if `bytes` is already normal, else the offset of the `/` opening the first
    /// segment that needs rewriting. Everything before that offset is normal and is copied as is.
    private func scan(_ bytes: UnsafeBufferPointer<UInt8>) throws(Rejection) -> Int? {
        let count = bytes.count
        guard count > 0, bytes[0] == ASCII.slash else { throw .notOriginForm }
        var segmentStart = 0
        var index = 1
        while index < count {
            let byte = bytes[index]
            if byte == ASCII.slash {
                let length = index - segmentStart - 1
                if length == 0 ? mergeSlashes : Self.isDotSegment(bytes, from: segmentStart + 1, length: length) {
                    return segmentStart
                }
                segmentStart = index
                index += 1
            } else if byte == ASCII.percent {
                let value = try Self.escapedByte(bytes, at: index)
                if Self.isUnreserved(value) { return segmentStart }
                if value == ASCII.slash || value == ASCII.backslash {
                    switch escapedSlashes {
                    case .reject: throw .escapedSlash
                    case .decode: return segmentStart
                    case .keep: break
                    }
                }
                // Validated hex digits: only the lower-case letters are at or above "a".
                if bytes[index + 1] >= ASCII.lowerA || bytes[index + 2] >= ASCII.lowerA { return segmentStart }
                index += 3
            } else if Self.isPlain(byte) {
                index += 1
            } else if byte >= 0x80 {
                return segmentStart
            } else {
                throw byte == 0 ? .nul : .invalidCharacter
            }
        }
        let length = count - segmentStart - 1
        return Self.isDotSegment(bytes, from: segmentStart + 1, length: length) ? segmentStart : nil
    }

    /// The slow pass, from `start` (a `/`): builds the normal form. `out` holds `/` and a segment for each
    /// segment kept so far, and the segment being read last; every `/` in it is a separator.
    private func rewrite(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) throws(Rejection) -> [UInt8] {
        let count = bytes.count
        var out: [UInt8] = []
        out.reserveCapacity(count + 16)
        out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[..<start]))
        var climbed = false
        var segmentStart = out.count
        out.append(ASCII.slash)
        var index = start + 1
        while index < count {
            let byte = bytes[index]
            if byte == ASCII.slash {
                closeSegment(&out, at: segmentStart, isLast: false, climbed: &climbed)
                segmentStart = out.count
                out.append(ASCII.slash)
                index += 1
            } else if byte == ASCII.percent {
                let value = try Self.escapedByte(bytes, at: index)
                if Self.isUnreserved(value) {
                    out.append(value)
                } else if value == ASCII.slash || value == ASCII.backslash {
                    switch escapedSlashes {
                    case .reject:
                        throw .escapedSlash
                    case .keep:
                        Self.appendEscape(value, to: &out)
                    case .decode:
                        closeSegment(&out, at: segmentStart, isLast: false, climbed: &climbed)
                        segmentStart = out.count
                        out.append(ASCII.slash)
                    }
                } else {
                    Self.appendEscape(value, to: &out)
                }
                index += 3
            } else if Self.isPlain(byte) {
                out.append(byte)
                index += 1
            } else if byte >= 0x80 {
                Self.appendEscape(byte, to: &out)
                index += 1
            } else {
                throw byte == 0 ? .nul : .invalidCharacter
            }
        }
        closeSegment(&out, at: segmentStart, isLast: true, climbed: &climbed)
        // Reported last, so that a bad byte anywhere in the path takes precedence.
        if climbed { throw .aboveRoot }
        return out
    }

    /// Applies slash merging and dot-segment removal to the segment opened by the `/` at `segmentStart`,
    /// which runs to the end of `out`. Each byte is removed at most once, so the whole pass stays linear.
    private func closeSegment(_ out: inout [UInt8], at segmentStart: Int, isLast: Bool, climbed: inout Bool) {
        let length = out.count - segmentStart - 1
        if length == 0 {
            if mergeSlashes && !isLast { out.removeLast() }
            return
        }
        guard length <= 2, out[segmentStart + 1] == ASCII.dot, length == 1 || out[segmentStart + 2] == ASCII.dot
        else { return }
        if length == 1 {
            // ".": dropped; as the last segment it leaves the trailing "/".
            out.removeLast(isLast ? 1 : 2)
            return
        }
        // "..": dropped along with the segment before it.
        out.removeLast(3)
        if segmentStart == 0 {
            climbed = true
        } else {
            var separator = segmentStart - 1
            while out[separator] != ASCII.slash { separator -= 1 }  // out[0] is "/"
            out.removeLast(out.count - separator)
        }
        if isLast { out.append(ASCII.slash) }
    }

    // MARK: - Bytes

    private enum ASCII {
        static let nul: UInt8 = 0x00
        static let percent: UInt8 = 0x25  // %
        static let dot: UInt8 = 0x2E  // .
        static let slash: UInt8 = 0x2F  // /
        static let backslash: UInt8 = 0x5C  // \
        static let lowerA: UInt8 = 0x61  // a
    }

    /// Printable ASCII that stands for itself: everything from `!` to `~` except `#`, `%`, `/` and `\`.
    @inline(__always)
    private static func isPlain(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x23, 0x25, 0x2F, 0x5C: false
        case 0x21...0x7E: true
        default: false
        }
    }

    /// `ALPHA / DIGIT / "-" / "." / "_" / "~"` (RFC 3986 §2.3).
    @inline(__always)
    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x41...0x5A, 0x61...0x7A, 0x30...0x39, 0x2D, 0x2E, 0x5F, 0x7E: true
        default: false
        }
    }

    @inline(__always)
    private static func isDotSegment(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, length: Int) -> Bool {
        switch length {
        case 1: bytes[start] == ASCII.dot
        case 2: bytes[start] == ASCII.dot && bytes[start + 1] == ASCII.dot
        default: false
        }
    }

    /// The byte the escape at `index` (a `%`) stands for; never NUL.
    @inline(__always)
    private static func escapedByte(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) throws(Rejection) -> UInt8 {
        guard index + 2 < bytes.count, let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
        else { throw .badEscape }
        let value = high << 4 | low
        if value == ASCII.nul { throw .nul }
        return value
    }

    @inline(__always)
    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case 0x30...0x39: digit &- 0x30
        case 0x41...0x46: digit &- 0x37
        case 0x61...0x66: digit &- 0x57
        default: nil
        }
    }

    @inline(__always)
    private static func appendEscape(_ byte: UInt8, to out: inout [UInt8]) {
        out.append(ASCII.percent)
        out.append(hexDigit(byte >> 4))
        out.append(hexDigit(byte & 0x0F))
    }

    @inline(__always)
    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? 0x30 &+ nibble : 0x37 &+ nibble
    }
}
