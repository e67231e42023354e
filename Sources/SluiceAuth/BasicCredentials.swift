/// The user and password of an `Authorization: Basic` header (RFC 7617).
public struct BasicCredentials: Sendable, Equatable {
    public let user: String
    public let password: String

    public init(user: String, password: String) {
        self.user = user
        self.password = password
    }

    /// Parses the value of an `Authorization` header: `Basic` (any case), blanks, then base64 of `user:password`.
    ///
    /// The user ends at the first `:`; the password may contain more. Nil for another scheme, invalid base64,
    /// text that is not UTF-8, no `:`, or control characters (RFC 7617 §2 forbids them; a NUL would also cut a
    /// password short for crypt(3)).
    public static func parse(authorization: some StringProtocol) -> BasicCredentials? {
        let value = String(authorization).trimmingBlanks()
        let scheme = "basic"
        guard value.utf8.count > scheme.utf8.count,
            value.utf8.prefix(scheme.utf8.count).elementsEqual(scheme.utf8, by: { $0 | 0x20 == $1 })
        else { return nil }
        let afterScheme = value.utf8.dropFirst(scheme.utf8.count)
        guard let first = afterScheme.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") else {
            return nil
        }
        let token = afterScheme.drop(while: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") })
        guard let decoded = Base64.decode(token, alphabet: .standard, padding: .optional),
            let text = String(validating: decoded, as: UTF8.self),
            !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }),
            let colon = text.firstIndex(of: ":")
        else { return nil }
        return BasicCredentials(user: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
    }
}
