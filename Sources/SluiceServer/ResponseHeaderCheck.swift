public import NIOHTTP1

/// Whether response header fields may be sent as they are (RFC 9110 §5.1, §5.5): names are tokens, values are
/// field-vchars, spaces, tabs and obs-text, so no CR, LF or NUL can split or end the head (response splitting).
/// The same rule as NIO's `NIOHTTPResponseHeadersValidator`, for a responder that checks its own heads and so saves
/// the pipeline a handler.
public enum ResponseHeaderCheck {
    public static func isValidToSend(_ headers: HTTPHeaders) -> Bool {
        headers.allSatisfy { isToken($0.name) && isFieldValue($0.value) }
    }

    public static func isToken(_ name: String) -> Bool {
        !name.utf8.isEmpty && name.utf8.allSatisfy { tokenBytes[Int($0)] }
    }

    public static func isFieldValue(_ value: String) -> Bool {
        value.utf8.allSatisfy { $0 >= 0x20 ? $0 != 0x7F : $0 == 0x09 }
    }

    /// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
    private static let tokenBytes: [Bool] = (0..<256).map { byte in
        switch UInt8(byte) {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "A")...UInt8(ascii: "Z"):
            true
        default: "!#$%&'*+-.^_`|~".utf8.contains(UInt8(byte))
        }
    }
}
