import CCrypt
import Crypto

/// The users of an htpasswd file (nginx `auth_basic_user_file`, Apache `AuthUserFile`) and their password hashes.
///
/// Each line is `user:hash` (nginx also allows a third `:comment` field); blank lines and `#` comments are ignored.
/// Hashes accepted:
/// - bcrypt `$2y$`/`$2b$`/`$2a$` (`htpasswd -B`), sha-crypt `$5$`/`$6$`, yescrypt `$y$`: checked by libxcrypt;
/// - Apache's MD5 `$apr1$` (`htpasswd` without options) and `$1$`: checked here with MD5;
/// - `{SHA}` (base64 of an unsalted SHA-1, `htpasswd -s`).
///
/// Plain-text passwords and DES crypt (8-character passwords, brute-forced in hours) are refused when the file is
/// read, as is anything else.
///
/// - Important: ``verify(user:password:)`` blocks for as long as the hash's cost says: a bcrypt check with cost 10
///   takes tens of milliseconds of CPU. Never call it on an event loop; run it on a thread pool or in a task, and
///   cache the verdicts (see ``AuthCache``).
public struct Htpasswd: Sendable {
    private let hashes: [String: PasswordHash]
    /// Checked for an unknown user, so that an unknown user costs what a known one does (no user enumeration by
    /// timing).
    private let decoy: PasswordHash?

    /// Reads an htpasswd file; throws on the first line that is malformed or holds a refused hash, naming its line.
    public init(contents: String) throws(AuthFileError) {
        var hashes: [String: PasswordHash] = [:]
        var firstLine: [String: Int] = [:]
        var decoy: PasswordHash?
        for line in AuthFileLine.significant(in: contents) {
            let fields = line.text.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count >= 2 else {
                throw AuthFileError(line: line.number, message: "expected `user:hash`")
            }
            let user = String(fields[0])
            let hash = fields[1].trimmingBlanks()
            let blankOrControl = { (scalar: Unicode.Scalar) in
                scalar.properties.isWhitespace || scalar.value < 0x20 || scalar.value == 0x7F
            }
            guard !user.isEmpty, !user.unicodeScalars.contains(where: blankOrControl) else {
                throw AuthFileError(
                    line: line.number, message: "the user name is empty or has blanks or control characters")
            }
            let parsed: PasswordHash
            do {
                parsed = try PasswordHash(hash)
            } catch {
                throw AuthFileError(line: line.number, message: "user `\(user)`: \(error.reason)")
            }
            if let first = firstLine[user] {
                throw AuthFileError(line: line.number, message: "duplicate user `\(user)` (first on line \(first))")
            }
            firstLine[user] = line.number
            hashes[user] = parsed
            if decoy == nil { decoy = parsed }
        }
        self.hashes = hashes
        self.decoy = decoy
    }

    /// How many users the file holds.
    public var users: Int { hashes.count }

    /// Whether `password` is `user`'s password. False for an unknown user, after as much work as for a known one.
    ///
    /// - Important: Blocks (bcrypt costs milliseconds); never call it on an event loop.
    public func verify(user: some StringProtocol, password: some StringProtocol) -> Bool {
        // A NUL would end the password early for crypt(3): "secret\0anything" must not pass as "secret".
        let acceptable = !password.utf8.contains(0)
        guard let hash = hashes[String(user)] else {
            _ = decoy?.matches(password)
            return false
        }
        return hash.matches(password) && acceptable
    }
}

/// One password hash of an htpasswd file, by the way it is checked.
enum PasswordHash: Sendable {
    /// Checked by libxcrypt's `crypt_rn`.
    case crypt(String)
    case md5Crypt(MD5Crypt)
    /// `{SHA}`: the SHA-1 digest of the password.
    case sha1([UInt8])

    struct Refusal: Error {
        var reason: String
    }

    private static let cryptPrefixes = ["$2y$", "$2b$", "$2a$", "$5$", "$6$", "$y$"]
    private static let desAlphabet = Set("./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")

    init(_ hash: Substring) throws(Refusal) {
        if hash.hasPrefix("$apr1$") || hash.hasPrefix("$1$") {
            guard let parsed = MD5Crypt(hash) else { throw Refusal(reason: "malformed MD5 (`$apr1$`/`$1$`) hash") }
            self = .md5Crypt(parsed)
        } else if hash.hasPrefix("{SHA}") {
            guard let digest = Base64.decode(hash.dropFirst(5).utf8, alphabet: .standard, padding: .required),
                digest.count == Insecure.SHA1.byteCount
            else { throw Refusal(reason: "malformed `{SHA}` hash (base64 of 20 bytes expected)") }
            self = .sha1(digest)
        } else if let prefix = Self.cryptPrefixes.first(where: { hash.hasPrefix($0) }) {
            // bcrypt is always `$2y$NN$` and 53 characters; libxcrypt checks the rest of the setting.
            if prefix.hasPrefix("$2"), hash.count != 60 {
                throw Refusal(reason: "malformed bcrypt hash (60 characters expected, found \(hash.count))")
            }
            guard String(hash).withCString({ sluice_crypt_supports($0) }) == 1 else {
                throw Refusal(reason: "malformed `\(prefix)` hash, or a method this system's libxcrypt cannot check")
            }
            self = .crypt(String(hash))
        } else if hash.isEmpty {
            throw Refusal(reason: "no password hash")
        } else if hash.hasPrefix("{PLAIN}") {
            throw Refusal(reason: "plain-text passwords are refused; hash it with `htpasswd -B`")
        } else if hash.first == "$" || hash.first == "{" {
            // Named only when it looks like a scheme: the field might be a plain password that starts with `$`.
            let close = hash.dropFirst().firstIndex(where: { $0 == "$" || $0 == "}" })
            let name = close.map { hash[hash.index(after: hash.startIndex)..<$0] } ?? ""
            let looksLikeScheme =
                (1...12).contains(name.count)
                && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
            let scheme = looksLikeScheme ? close.map { " `\(hash[...$0])`" } ?? "" : ""
            throw Refusal(
                reason: "unsupported hash scheme\(scheme) (bcrypt, sha-crypt, yescrypt, $apr1$ or {SHA} expected)")
        } else if (hash.count == 13 && hash.allSatisfy(Self.desAlphabet.contains))
            || (hash.count == 20 && hash.first == "_" && hash.dropFirst().allSatisfy(Self.desAlphabet.contains))
        {
            throw Refusal(
                reason: "DES crypt hashes are refused (they keep 8 characters and fall to brute force); "
                    + "rehash with `htpasswd -B`")
        } else {
            throw Refusal(reason: "the password is not hashed (plain text is refused); hash it with `htpasswd -B`")
        }
    }

    func matches(_ password: some StringProtocol) -> Bool {
        switch self {
        case .crypt(let hash):
            String(password).withCString { password in hash.withCString { sluice_crypt_check(password, $0) } } == 1
        case .md5Crypt(let hash):
            hash.matches(password)
        case .sha1(let digest):
            constantTimeEquals(Array(Insecure.SHA1.hash(data: Array(password.utf8))), digest)
        }
    }
}
