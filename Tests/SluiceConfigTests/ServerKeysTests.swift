import SluiceConfig
import Testing

/// The `[server]` keys for request limits, path rules and the admin token, and the warnings a config can carry.
@Suite struct ServerKeysTests {
    static func server(_ lines: String) throws -> ServerConfig {
        try ConfigLoader.parse("[server]\nlisten = 127.0.0.1:8080\n" + lines).server
    }

    @Test func defaults() throws {
        let server = try Self.server("")
        #expect(server.mergeSlashes == true)
        #expect(server.escapedSlashes == .reject)
        #expect(server.maxClientConnections == 10_000)
        #expect(server.maxHeaders == 100)
        #expect(server.clientBodyTimeout == .seconds(60))
        #expect(server.requestTimeout == .zero)
        #expect(server.requestBufferSize == 64 * 1024)
        #expect(server.adminToken == nil)
        // The memberwise init keeps its old labels and gives the new fields the same defaults.
        let built = ServerConfig(
            listen: server.listen, zone: nil, admin: nil, workers: nil, maxHeaderSize: 16 * 1024, maxBodySize: 0,
            clientHeaderTimeout: .seconds(10), keepaliveTimeout: .seconds(60), drainTimeout: .seconds(30),
            accessLog: true, logLevel: .info, location: server.location)
        #expect(built == server)
    }

    @Test func everyKeyParses() throws {
        let server = try Self.server(
            """
            merge_slashes = off
            escaped_slashes = decode
            max_client_connections = 0
            max_headers = 10000
            client_body_timeout = 1h
            request_timeout = 1d
            request_buffer_size = 16m
            admin_token = "0123456789abcdef-_.~+/=!"
            """)
        #expect(server.mergeSlashes == false)
        #expect(server.escapedSlashes == .decode)
        #expect(server.maxClientConnections == 0)
        #expect(server.maxHeaders == 10_000)
        #expect(server.clientBodyTimeout == .seconds(3600))
        #expect(server.requestTimeout == .seconds(86_400))
        #expect(server.requestBufferSize == 16 << 20)
        #expect(server.adminToken == "0123456789abcdef-_.~+/=!")
        #expect(try Self.server("escaped_slashes = keep\n").escapedSlashes == .keep)
        #expect(EscapedSlashesConfig.allCases.map(\.rawValue) == ["reject", "keep", "decode"])
    }

    @Test(arguments: [
        ("merge_slashes = sometimes", "expected on or off, got 'sometimes'"),
        (
            "escaped_slashes = decoded",
            "expected one of reject, keep, decode (did you mean 'decode'?), got 'decoded'"
        ),
        ("max_client_connections = 1000001", "expected a whole number from 0 to 1000000, got '1000001'"),
        ("max_client_connections = -1", "expected a whole number from 0 to 1000000, got '-1'"),
        ("max_headers = 0", "expected a whole number from 1 to 10000, got '0'"),
        ("max_headers = 10001", "expected a whole number from 1 to 10000, got '10001'"),
        ("client_body_timeout = 0s", "expected a duration above 0, like 500ms, 2s or 1m, got '0s'"),
        ("client_body_timeout = 61m", "expected a duration of at most 1h, got '61m'"),
        ("request_timeout = 25h", "expected a duration of at most 1d, got '25h'"),
        ("request_timeout = 5", "expected a duration like 500ms, 2s or 1m, got '5'"),
        ("request_buffer_size = 17m", "expected a size of at most 16m, got '17m'"),
        ("request_buffer_size = -1", "expected a size like 512, 64k, 1m or 1g, got '-1'"),
    ])
    func badValuesNameTheirPlace(line: String, message: String) throws {
        let errors = configErrors("[server]\nlisten = 127.0.0.1:8080\n" + line + "\n")
        let error = try #require(errors.first)
        #expect(errors.count == 1)
        let key = String(line.prefix { $0 != " " })
        #expect(error.description == "sluice.ini:3: [server] \(key): \(message)")
    }

    @Test(arguments: [
        ("short", "5 characters"), ("0123456789abcde", "15 characters"),
        (String(repeating: "x", count: 1025), "1025 characters"),
        ("\"0123456789 abcdef\"", "a space or a character outside printable ASCII"),
        ("0123456789abcdéf", "a space or a character outside printable ASCII"), ("\"\"", "nothing"),
    ])
    func badAdminTokensAreNotEchoed(value: String, got: String) throws {
        let errors = configErrors("[server]\nlisten = 127.0.0.1:8080\nadmin_token = \(value)\n")
        let error = try #require(errors.first)
        #expect(errors.count == 1)
        #expect(error.description.hasPrefix("sluice.ini:3: [server] admin_token: expected a token of 16 to 1024"))
        #expect(error.message.contains("got " + got))
        if value.count > 3 { #expect(!error.description.contains(value.filter { $0 != "\"" })) }
    }

    @Test func aBarePortMeansEveryInterface() throws {
        #expect(try ListenAddress(":9901") == ListenAddress(host: "0.0.0.0", port: 9901))
        #expect(try ListenAddress("9901").isLoopback == false)
        for loopback in ["127.0.0.1:1", "127.255.0.9:1", "[::1]:1", "localhost:1", "LOCALHOST:1", "[0:0:0:0:0:0:0:1]:1"] {
            #expect(try ListenAddress(loopback).isLoopback, "\(loopback)")
        }
        for open in ["0.0.0.0:1", "[::]:1", "10.0.0.1:1", "128.0.0.1:1", "admin.internal:1", "[::2]:1"] {
            #expect(try !ListenAddress(open).isLoopback, "\(open)")
        }
    }

    @Test func adminBeyondLoopbackWithoutATokenWarns() throws {
        let head = "[server]\nlisten = 127.0.0.1:8080\n"
        let open = try ConfigLoader.parse(head + "admin = :9901\n")
        #expect(
            open.warnings == [
                "admin listens on 0.0.0.0:9901, beyond loopback, without admin_token: every admin request will be "
                    + "refused"
            ])
        let v6 = try ConfigLoader.parse(head + "admin = [fd00::1]:9901\n")
        #expect(v6.warnings.first?.hasPrefix("admin listens on [fd00::1]:9901, beyond loopback") == true)
        let token = "admin_token = 0123456789abcdef0123\n"
        #expect(try ConfigLoader.parse(head + "admin = :9901\n" + token).warnings.isEmpty)
        for quiet in ["admin = 127.0.0.1:9901\n", "admin = [::1]:9901\n", "admin = localhost:9901\n", ""] {
            #expect(try ConfigLoader.parse(head + quiet).warnings.isEmpty, "\(quiet)")
        }
        // The reference file keeps its admin API on loopback.
        let reference = try ConfigLoader.load(path: ConfigLoaderTests.packageRoot + "/etc/sluice.ini")
        #expect(reference.warnings.isEmpty)
    }
}
