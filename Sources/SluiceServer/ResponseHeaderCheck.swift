public import NIOHTTP1

/// Whether response header fields may be sent as they are (RFC 9110 §5.1, §5.5): names are tokens, values are
/// field-vchars, spaces, tabs and obs-text, so no CR, LF or NUL can split or end the head (response splitting).
/// The same rule as NIO's `NIOHTTPResponseHeadersValidator`, for a responder that checks its own heads and so saves
/// the pipeline a handler.
///
/// Every answer's fields pass here, so values are checked eight bytes at a time and names against a bit set.
public enum ResponseHeaderCheck {
    public static func isValidToSend(_ headers: HTTPHeaders) -> Bool {
        for (name, value) in headers where !isToken(name) || !isFieldValue(value) { return false }
        return true
    }

    public static func isToken(_ name: String) -> Bool {
        guard !name.utf8.isEmpty else { return false }
        return name.utf8.withContiguousStorageIfAvailable { bytes in
            for byte in bytes where !isTokenByte(byte) { return false }
            return true
        } ?? name.utf8.allSatisfy(isTokenByte)
    }

    public static func isFieldValue(_ value: String) -> Bool {
        value.utf8.withContiguousStorageIfAvailable { bytes in
            isFieldValue(UnsafeRawBufferPointer(bytes))
        } ?? value.utf8.allSatisfy(isFieldValueByte)
    }

    /// Words with no byte below 0x20 and no 0x7F pass at once; a word with one (a tab, or a byte to refuse) is
    /// looked at byte by byte.
    static func isFieldValue(_ bytes: UnsafeRawBufferPointer) -> Bool {
        !ByteWords.contains(
            bytes, mayHave: { ByteWords.below(0x20, in: $0) | ByteWords.equal(0x7F, in: $0) != 0 },
            picks: { !isFieldValueByte($0) })
    }

    /// field-vchar / SP / HTAB / obs-text.
    @inline(__always)
    static func isFieldValueByte(_ byte: UInt8) -> Bool { byte >= 0x20 ? byte != 0x7F : byte == 0x09 }

    /// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA.
    @inline(__always)
    static func isTokenByte(_ byte: UInt8) -> Bool {
        ByteWords.isIn(byte, low: 0x03FF_6CFA_0000_0000, high: 0x57FF_FFFF_C7FF_FFFE)
    }
}
