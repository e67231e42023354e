/// API keys and the consumers they name, read from a keys file.
///
/// The file holds one `KEY CONSUMER` pair per line; blank lines and lines starting with `#` are ignored. A key may
/// be written as `sha256:HEX` (the SHA-256 digest of the key, 64 hexadecimal digits) so the file does not hold it
/// in clear. Keys are at least 16 characters; consumer names are `[A-Za-z0-9._@-]+`.
///
///     # key                                          consumer
///     k3y-0f-the-mobile-app-7d1c9a                   mobile-app
///     sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 billing@example.com
///
/// Every entry is stored by its SHA-256 digest (a clear key is hashed as the file is read), so a lookup hashes the
/// presented key once and finds it by digest: no secret is ever compared byte by byte, and the store holds none.
public struct APIKeyStore: Sendable {
    /// The shortest key accepted in clear: anything shorter can be guessed.
    static let minimumKeyLength = 16
    private static let hashedPrefix = "sha256:"

    private let consumers: [SecretDigest: String]

    /// Reads a keys file; throws on the first malformed line, short key or duplicate key, naming its line.
    public init(contents: String) throws(AuthFileError) {
        var consumers: [SecretDigest: String] = [:]
        var firstLine: [SecretDigest: Int] = [:]
        for line in AuthFileLine.significant(in: contents) {
            let fields = line.text.split(whereSeparator: \.isBlank)
            guard fields.count == 2 else {
                throw AuthFileError(
                    line: line.number, message: "expected `KEY CONSUMER` (two fields), found \(fields.count) fields")
            }
            let (key, consumer) = (fields[0], fields[1])
            let digest: SecretDigest
            if key.hasPrefix(Self.hashedPrefix) {
                guard let hashed = SecretDigest(hex: key.dropFirst(Self.hashedPrefix.count)) else {
                    throw AuthFileError(
                        line: line.number,
                        message: "`sha256:` must be followed by the 64 hexadecimal digits of a SHA-256 digest")
                }
                digest = hashed
            } else {
                guard key.count >= Self.minimumKeyLength else {
                    throw AuthFileError(
                        line: line.number,
                        message: "the key is too short to be a secret "
                            + "(\(key.count) characters; at least \(Self.minimumKeyLength))")
                }
                digest = SecretDigest(of: key)
            }
            guard Self.isValidConsumer(consumer) else {
                throw AuthFileError(
                    line: line.number, message: "invalid consumer name (letters, digits and . _ @ - only)")
            }
            if let first = firstLine[digest] {
                throw AuthFileError(line: line.number, message: "duplicate key (first on line \(first))")
            }
            firstLine[digest] = line.number
            consumers[digest] = String(consumer)
        }
        self.consumers = consumers
    }

    /// How many keys the store holds.
    public var count: Int { consumers.count }

    /// The consumer `key` belongs to, or nil for an unknown key.
    public func consumer(forKey key: some StringProtocol) -> String? {
        consumers[SecretDigest(of: key)]
    }

    static func isValidConsumer(_ name: some StringProtocol) -> Bool {
        !name.isEmpty
            && name.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "@"),
                    UInt8(ascii: "-"):
                    true
                default: false
                }
            }
    }
}
