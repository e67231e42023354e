import Testing

@testable import SluiceAuth

/// Hashes of "correct horse", made once: bcrypt, yescrypt and sha-crypt with libxcrypt's `crypt_gensalt_rn` and
/// `crypt_rn` (bcrypt at cost 5 to keep the tests fast), `$apr1$`, `$1$` and `{SHA}` with
/// `openssl passwd -apr1 -salt Zx8Q3v.1`, `openssl passwd -1 -salt saltsalt` and `openssl dgst -sha1 -binary | base64`.
enum Fixtures {
    static let password = "correct horse"
    static let hashes: [(user: String, hash: String)] = [
        ("bcrypt-y", "$2y$05$CqcmPwe51hGS.3dQsndYBe6sPay08YKskVVR/Q2uTDahHEQATRlnW"),
        ("bcrypt-b", "$2b$05$gujnkNdkBq3np01J/I0phuTtJlf.S5/R/iVqdmlQ89SjTxcqO.19K"),
        ("bcrypt-a", "$2a$05$oT3CojSR8MKwN6MoMBwY0eUU5AdQNS.GQQWeKxYlQPKF56QmpNTke"),
        ("yescrypt", "$y$j9T$8.PCb7DQLBirrl07OqjmH1$inuaHzEh9ghhSD4Palwz5xHmKLcCJt01ecTLID.wAP6"),
        ("sha256crypt", "$5$kRPdSxgEK2BWK6XS$stSc/zVaB702GXD3Uv2xSE1c5Jw7HppVnoVzaWNoFx."),
        (
            "sha512crypt",
            "$6$jEY7kcETBZdNGIpr$HoGI6yxhoF1xvM67C2JBztDi7gmAEattIW2FKo3MCoE/9BfsP9ta7q6Wb5llEPQqs2DemZ1B7xgxbMIKMNkRn/"
        ),
        ("apr1", "$apr1$Zx8Q3v.1$bc7rBd22bMYCTHpbwE9PJ/"),
        ("md5", "$1$saltsalt$NuzA7WTAelpl95xgBGWN60"),
        ("sha1", "{SHA}L55TUjtiq8FBorTWAZ0jy6g129A="),
    ]
    static var file: String {
        "# users\n" + hashes.map { "\($0.user):\($0.hash)" }.joined(separator: "\n") + "\n"
    }
}

@Suite struct HtpasswdTests {
    @Test func loadsEveryAcceptedScheme() throws {
        let file = try Htpasswd(contents: Fixtures.file)
        #expect(file.users == Fixtures.hashes.count)
    }

    @Test(arguments: Fixtures.hashes.map(\.user))
    func rightAndWrongPasswords(user: String) throws {
        let file = try Htpasswd(contents: Fixtures.file)
        #expect(file.verify(user: user, password: Fixtures.password))
        #expect(!file.verify(user: user, password: "correct horsf"))
        #expect(!file.verify(user: user, password: "correct hors"))
        #expect(!file.verify(user: user, password: ""))
        #expect(!file.verify(user: user, password: "correct horse\0trailing"))
    }

    @Test func unknownUsersAreRefused() throws {
        let file = try Htpasswd(contents: Fixtures.file)
        #expect(!file.verify(user: "nobody", password: Fixtures.password))
        #expect(!file.verify(user: "", password: Fixtures.password))
        #expect(!file.verify(user: "APR1", password: Fixtures.password))
        #expect(!(try Htpasswd(contents: "")).verify(user: "a", password: "b"))
    }

    @Test func substringsAndNginxComments() throws {
        let file = try Htpasswd(contents: "  alice:$apr1$Zx8Q3v.1$bc7rBd22bMYCTHpbwE9PJ/:Alice Liddell\r\n")
        let header = "xalice:correct horsey"
        #expect(file.verify(user: header.dropFirst().prefix(5), password: header.dropFirst(7).dropLast()))
    }

    @Test(arguments: [
        ("alice:secret", "user `alice`: the password is not hashed (plain text is refused); hash it with `htpasswd -B`"),
        ("alice:{PLAIN}secret", "user `alice`: plain-text passwords are refused; hash it with `htpasswd -B`"),
        (
            "alice:abJnggxhB/yWI",
            "user `alice`: DES crypt hashes are refused (they keep 8 characters and fall to brute force); rehash with `htpasswd -B`"
        ),
        (
            "alice:_J9..K0AyUubDrfOgO4s",
            "user `alice`: DES crypt hashes are refused (they keep 8 characters and fall to brute force); rehash with `htpasswd -B`"
        ),
        (
            "alice:$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
            "user `alice`: unsupported hash scheme `$argon2id$` (bcrypt, sha-crypt, yescrypt, $apr1$ or {SHA} expected)"
        ),
        (
            "alice:{SSHA}aGFzaGhhc2hoYXNo",
            "user `alice`: unsupported hash scheme `{SSHA}` (bcrypt, sha-crypt, yescrypt, $apr1$ or {SHA} expected)"
        ),
        (
            "alice:$ecret password",
            "user `alice`: unsupported hash scheme (bcrypt, sha-crypt, yescrypt, $apr1$ or {SHA} expected)"
        ),
        ("alice:$2y$05$tooShort", "user `alice`: malformed bcrypt hash (60 characters expected, found 15)"),
        ("alice:$apr1$Zx8Q3v.1$short", "user `alice`: malformed MD5 (`$apr1$`/`$1$`) hash"),
        ("alice:{SHA}bm90IDIwIGJ5dGVz", "user `alice`: malformed `{SHA}` hash (base64 of 20 bytes expected)"),
        ("alice:", "user `alice`: no password hash"),
        ("alice", "expected `user:hash`"),
        (":$apr1$Zx8Q3v.1$bc7rBd22bMYCTHpbwE9PJ/", "the user name is empty or has blanks or control characters"),
    ])
    func refusedLines(line: String, message: String) {
        #expect(throws: AuthFileError(line: 3, message: message)) {
            try Htpasswd(contents: "# users\nbob:$apr1$Zx8Q3v.1$bc7rBd22bMYCTHpbwE9PJ/\n\(line)\ncarol:{SHA}L55TUjtiq8FBorTWAZ0jy6g129A=\n")
        }
    }

    @Test func duplicateUsersAreRefused() {
        #expect(throws: AuthFileError(line: 2, message: "duplicate user `bob` (first on line 1)")) {
            try Htpasswd(contents: "bob:{SHA}L55TUjtiq8FBorTWAZ0jy6g129A=\nbob:$apr1$Zx8Q3v.1$bc7rBd22bMYCTHpbwE9PJ/\n")
        }
    }

    /// Vectors from `openssl passwd -apr1 -salt SALT PASSWORD`: an empty password, a `:`, more than 16 bytes.
    @Test(arguments: [
        ("correct horse", "Zx8Q3v.1", "bc7rBd22bMYCTHpbwE9PJ/"),
        ("p@ss:word", "ab", "QzyNjRREJLGN2uVg93xVf1"),
        ("", "xxxxxxxx", "AL/DOdqyMUurcg0cPNW/P1"),
        ("a much longer password that exceeds sixteen bytes", "r31.....", "Gj.RCu8Todk8IlarvckkZ1"),
    ])
    func apr1Vectors(password: String, salt: String, checksum: String) throws {
        let computed = MD5Crypt.checksum(
            password: Array(password.utf8), salt: Array(salt.utf8), magic: MD5Crypt.apacheMagic)
        #expect(String(decoding: computed, as: UTF8.self) == checksum)
        let parsed = try #require(MD5Crypt("$apr1$\(salt)$\(checksum)"))
        #expect(parsed.matches(password))
        #expect(!parsed.matches(password + "x"))
    }
}

@Suite struct BasicCredentialsTests {
    @Test(arguments: [
        ("Basic dXNlcjpwYXNz", "user", "pass"),
        ("basic dXNlcjpwYXNz", "user", "pass"),
        ("BASIC   dXNlcjpwYXNz  ", "user", "pass"),
        ("Basic\tdXNlcjpwYXNz", "user", "pass"),
        ("Basic dXNlcjpwOmE6c3M=", "user", "p:a:ss"),  // user:p:a:ss
        ("Basic dXNlcjo=", "user", ""),  // user:
        ("Basic dXNlcjo", "user", ""),  // unpadded
        ("Basic OnBhc3M=", "", "pass"),  // :pass
        ("Basic w6lsw6lhOnDDpHNz", "éléa", "päss"),
    ])
    func parses(header: String, user: String, password: String) {
        #expect(BasicCredentials.parse(authorization: header) == BasicCredentials(user: user, password: password))
    }

    @Test(arguments: [
        "",
        "Basic",
        "Basic ",
        "Bearer dXNlcjpwYXNz",
        "Basicdxx dXNlcjpwYXNz",
        "BasicdXNlcjpwYXNz",
        "Basic dXNlcnBhc3M=",  // userpass: no colon
        "Basic dXNlcjpwYXNz!",
        "Basic dXNl cjpwYXNz",
        "Basic dXNlcjp=",  // non-canonical: unused low bits set
        "Basic dXNlcjpwYXNz===",
        "Basic dXNlcjpwYQBzcw==",  // user:pa\0ss
        "Basic /w==",  // not UTF-8
        "Digest username=\"user\"",
    ])
    func refuses(header: String) {
        #expect(BasicCredentials.parse(authorization: header) == nil)
    }

    @Test func worksOnSubstrings() {
        let line = "Authorization: Basic dXNlcjpwYXNz"
        #expect(BasicCredentials.parse(authorization: line.dropFirst(15)) == BasicCredentials(user: "user", password: "pass"))
    }
}

@Suite struct Base64Tests {
    @Test func decodesBothAlphabets() {
        #expect(Base64.decode("-_8".utf8, alphabet: .url, padding: .forbidden) == [0xFB, 0xFF])
        #expect(Base64.decode("+/8=".utf8, alphabet: .standard, padding: .required) == [0xFB, 0xFF])
        #expect(Base64.decode("+/8".utf8, alphabet: .standard, padding: .required) == nil)
        #expect(Base64.decode("-_8=".utf8, alphabet: .url, padding: .forbidden) == nil)
        #expect(Base64.decode("+/8".utf8, alphabet: .url, padding: .forbidden) == nil)
        #expect(Base64.decode("".utf8, alphabet: .url, padding: .forbidden) == [])
        #expect(Base64.decode("A".utf8, alphabet: .url, padding: .optional) == nil)
        #expect(Base64.decode("AB".utf8, alphabet: .url, padding: .optional) == nil)  // low bits set
        #expect(Base64.decode("AA".utf8, alphabet: .url, padding: .optional) == [0])
        #expect(Base64.decode("AA=".utf8, alphabet: .url, padding: .optional) == nil)
        #expect(Base64.decode("TWFu".utf8, alphabet: .standard, padding: .required) == Array("Man".utf8))
    }
}
