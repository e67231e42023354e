import Testing

@testable import SluiceAuth

@Suite struct APIKeyStoreTests {
    @Test func plainAndHashedKeys() throws {
        let hashed = AuthCache<Int>.key("billing-service-key-0001")
        let store = try APIKeyStore(
            contents: """
                # API keys
                mobile-app-key-7d1c9a00     mobile-app

                sha256:\(hashed)\tbilling@example.com
                sha256:\(AuthCache<Int>.key("ops-dashboard-key-xyz").uppercased())  ops.dashboard_1
                """)
        #expect(store.count == 3)
        #expect(store.consumer(forKey: "mobile-app-key-7d1c9a00") == "mobile-app")
        #expect(store.consumer(forKey: "billing-service-key-0001") == "billing@example.com")
        #expect(store.consumer(forKey: "ops-dashboard-key-xyz"[...]) == "ops.dashboard_1")
        #expect(store.consumer(forKey: "mobile-app-key-7d1c9a0") == nil)
        #expect(store.consumer(forKey: "") == nil)
        // The hashed form is not itself a key.
        #expect(store.consumer(forKey: "sha256:\(hashed)") == nil)
    }

    @Test func crlfAndEmptyFiles() throws {
        let store = try APIKeyStore(contents: "a-long-enough-key-000 alice\r\n# c\r\n\r\nb-long-enough-key-000 bob\r\n")
        #expect(store.count == 2)
        #expect(store.consumer(forKey: "b-long-enough-key-000") == "bob")
        #expect(try APIKeyStore(contents: "").count == 0)
        #expect(try APIKeyStore(contents: "# nothing\n\n").count == 0)
    }

    @Test func shortKeyIsRefusedWithItsLine() {
        #expect(throws: AuthFileError(line: 3, message: "the key is too short to be a secret (9 characters; at least 16)")) {
            try APIKeyStore(contents: "# keys\nlong-enough-key-0001 alice\nshort-key bob\n")
        }
    }

    @Test func duplicateKeysAreRefused() throws {
        let error = try #require(throws: AuthFileError.self) {
            try APIKeyStore(
                contents: "shared-key-0123456789 alice\n\nsha256:\(AuthCache<Int>.key("shared-key-0123456789")) bob\n")
        }
        #expect(error.line == 3)
        #expect(error.message == "duplicate key (first on line 1)")
    }

    @Test(arguments: [
        ("only-one-field-here-000", 1, "expected `KEY CONSUMER` (two fields), found 1 fields"),
        ("key-with-three-fields-0 alice extra", 1, "expected `KEY CONSUMER` (two fields), found 3 fields"),
        ("sha256:abc alice", 1, "`sha256:` must be followed by the 64 hexadecimal digits of a SHA-256 digest"),
        ("sha256:\(String(repeating: "g", count: 64)) alice", 1,
         "`sha256:` must be followed by the 64 hexadecimal digits of a SHA-256 digest"),
        ("\n\nlong-enough-key-0001 al/ice", 3, "invalid consumer name (letters, digits and . _ @ - only)"),
    ])
    func malformedLines(contents: String, line: Int, message: String) {
        #expect(throws: AuthFileError(line: line, message: message)) { try APIKeyStore(contents: contents) }
    }

    @Test func errorsDoNotQuoteTheKey() throws {
        let error = try #require(throws: AuthFileError.self) {
            try APIKeyStore(contents: "tiny-secret alice")
        }
        #expect(!error.description.contains("tiny-secret"))
        #expect(error.description == "line 1: the key is too short to be a secret (11 characters; at least 16)")
    }
}
