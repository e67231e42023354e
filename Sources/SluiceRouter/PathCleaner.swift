/// Path normalization for the fixed-path redirect, after RFC 3986 §5.2.4 (remove dot segments) plus collapsing
/// repeated slashes, as httprouter's `CleanPath` does.
enum PathCleaner {
    static func clean(_ path: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        let slash = UInt8(ascii: "/")
        let trailingSlash = path.count > 1 && path.last == slash
        var segments: [ArraySlice<UInt8>] = []
        let all = Array(path)
        for segment in all.split(separator: slash, omittingEmptySubsequences: true) {
            if segment.elementsEqual(".".utf8) { continue }
            if segment.elementsEqual("..".utf8) {
                _ = segments.popLast()
                continue
            }
            segments.append(segment)
        }
        var out: [UInt8] = [slash]
        for (index, segment) in segments.enumerated() {
            if index > 0 { out.append(slash) }
            out.append(contentsOf: segment)
        }
        let lastIsDot = all.split(separator: slash).last.map { $0.elementsEqual(".".utf8) || $0.elementsEqual("..".utf8) } ?? false
        if (trailingSlash || lastIsDot) && out.count > 1 { out.append(slash) }
        return out
    }
}

/// Percent-decoding of path segments (RFC 3986 §2.1).
public enum PercentDecoding {
    /// Decodes `%XX` escapes; a `%` not followed by two hex digits is kept. Nil if the result is not valid UTF-8.
    public static func decode(_ text: Substring) -> String? {
        guard text.utf8.contains(UInt8(ascii: "%")) else { return String(text) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = Array(text.utf8)[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "%"), iterator.count >= 2,
                let high = hexValue(iterator[iterator.startIndex]),
                let low = hexValue(iterator[iterator.startIndex + 1])
            {
                bytes.append(high << 4 | low)
                iterator.removeFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
