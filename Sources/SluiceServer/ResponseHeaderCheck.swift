public import NIOHTTP1

/// Whether response header fields may be sent as they are (RFC 9110 §5.1, §5.5): names are tokens, values are
/// field-vchars, spaces, tabs and obs-text, so no CR, LF or NUL can split or end the head (response splitting).
/// The same rule as NIO's `NIOHTTPResponseHeadersValidator`, for a responder that checks its own heads and so saves
/// the pipeline a handler.
public enum ResponseHeaderCheck {
    public static func isValidToSend(_ headers: HTTPHeaders) -> Bool {
        for (name, value) in headers where !isToken(name) || !isFieldValue(value) { return false }
        return true
    }

    public static func isToken(_ name: String) -> Bool {
        guard !name.utf8.isEmpty else { return false }
        return name.utf8.withContiguousStorageIfAvailable { $0.allSatisfy(isTokenByte) }
            ?? name.utf8.allSatisfy(isTokenByte)
    }

    public static func isFieldValue(_ value: String) -> Bool {
        value.utf8.withContiguousStorageIfAvailable { $0.allSatisfy(isFieldValueByte) }
            ?? value.utf8.allSatisfy(isFieldValueByte)
    }

    /// field-vchar / SP / HTAB / obs-text.
    @inline(__always)
    static func isFieldValueByte(_ byte: UInt8) -> Bool { byte >= 0x20 ? byte != 0x7F : byte == 0x09 }

    /// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
    @inline(__always)
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"):
            true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "."), UInt8(ascii: "^"),
            UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }
}
