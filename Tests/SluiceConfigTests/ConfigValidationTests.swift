import SluiceConfig
import Testing

/// One test per kind of error, checking its place (file, line, section, key) and what it says.
@Suite struct ConfigValidationTests {
    @Test func unknownSectionSuggestsTheKnownOne() throws {
        let error = try #require(singleError(validHead + "[upstrem x]\nserver = 10.0.0.1:80\n"))
        #expect(error.location == SourceLocation(file: "sluice.ini", line: 6))
        #expect(error.section == "[upstrem x]")
        #expect(error.key == nil)
        #expect(error.description == "sluice.ini:6: [upstrem x] unknown section; did you mean [upstream x]?")
        let other = try #require(singleError(validHead + "[Server]\n"))
        #expect(other.message == "unknown section; did you mean [server]?")
        let far = try #require(singleError(validHead + "[listener main]\nport = 1\n"))
        #expect(far.message == "unknown section; expected [server], [upstream NAME], [route NAME], [protection], [ratelimit] or [tls]")
    }

    @Test func unknownKeySuggestsTheClosest() throws {
        let error = try #require(singleError(validHead + "[route r]\nmatch = /\nupstraem = users\nupstream = users\n"))
        #expect(error.location == SourceLocation(file: "sluice.ini", line: 8))
        #expect(error.section == "[route r]")
        #expect(error.key == "upstraem")
        #expect(error.description == "sluice.ini:8: [route r] upstraem: unknown key; did you mean 'upstream'?")
    }

    @Test(arguments: [
        ("keepalive_time = 5s", "unknown key; did you mean 'keepalive_timeout'?"),  // a prefix
        ("max_conn = 5", "unknown key; did you mean 'max_connections'?"),  // a prefix
        ("balanse = random", "unknown key; did you mean 'balance'?"),  // distance 1
        ("timeout = 5s", "unknown key; 'timeout' belongs in [route NAME]"),
        ("listen = 80", "unknown key; 'listen' belongs in [server]"),
        ("health = on", "unknown key; did you mean 'health_check'?"),
        (
            "sticky = on",
            "unknown key; [upstream] takes server, balance, keepalive, keepalive_timeout, keepalive_requests, "
                + "max_connections, queue, queue_timeout, connect_timeout, max_fails, fail_timeout, health_check, outlier, hash_key, zone_min_size, "
                + "panic, slow_start, retry_budget, circuit_breaker, max_requests, max_pending, adaptive_concurrency, degrade, tls, tls_verify, tls_ca, tls_sni, protocol, resolve_interval"
        ),
    ])
    func unknownUpstreamKeys(line: String, message: String) throws {
        let error = try #require(singleError(validHead + line + "\n"))
        #expect(error.location?.line == 6)
        #expect(error.section == "[upstream users]")
        #expect(error.message == message)
    }

    @Test func singleKeyGivenTwiceNamesBothLines() throws {
        let error = try #require(singleError(validHead + "balance = random\nbalance = hash\n"))
        #expect(error.location == SourceLocation(file: "sluice.ini", line: 7))
        #expect(error.key == "balance")
        #expect(error.message == "given twice (first at sluice.ini:6); only one is allowed")
    }

    @Test func missingRouteKeysAreReportedAtTheHeader() {
        let errors = configErrors(validHead + "[route r]\ntimeout = 1s\n")
        #expect(errors.count == 2)
        #expect(errors.allSatisfy { $0.location == SourceLocation(file: "sluice.ini", line: 6) })
        #expect(errors.map(\.key) == ["match", "upstream"])
        #expect(
            errors.first?.description
                == "sluice.ini:6: [route r] match: missing; [route] needs 'match', like match = /api/v1/users/*")
        #expect(errors.last?.message == "missing; [route] needs 'upstream', like upstream = users")
    }

    @Test func missingListenAndServerSection() throws {
        let noListen = try #require(singleError("; top\n[server]\nzone = a\n"))
        #expect(noListen.location?.line == 2)
        #expect(noListen.key == "listen")
        #expect(noListen.message == "missing; [server] needs 'listen', like listen = 0.0.0.0:8080")
        let noServer = try #require(singleError("[upstream u]\nserver = a:1\n"))
        #expect(noServer.location == SourceLocation(file: "sluice.ini", line: 0))
        #expect(noServer.section == "[server]")
    }

    @Test func upstreamWithoutServers() throws {
        let error = try #require(singleError("[server]\nlisten = 80\n\n[upstream empty]\nbalance = random\n"))
        #expect(error.location?.line == 4)
        #expect(error.section == "[upstream empty]")
        #expect(error.key == "server")
        #expect(error.message == "missing; [upstream] needs 'server', like server = 10.0.1.10:8081 zone=az1")
    }

    @Test(arguments: [
        ("[server]", "client_header_timeout = 5 sec", "expected a duration like 500ms, 2s or 1m, got '5 sec'"),
        ("[server]", "drain_timeout = 30", "expected a duration like 500ms, 2s or 1m, got '30'"),
        ("[server]", "client_header_timeout = 0s", "expected a duration above 0, like 500ms, 2s or 1m, got '0s'"),
        ("[server]", "max_body_size = lots", "expected a size like 512, 64k, 1m or 1g, got 'lots'"),
        ("[server]", "max_header_size = 512", "expected a size of at least 1024, like 512, 64k or 1m, got '512'"),
        ("[server]", "access_log = /no-such-folder/access.log", "the access log's folder '/no-such-folder' cannot be used (No such file or directory); give off, stdout, stderr or a file path"),
        ("[server]", "access_log_format = xml", "expected one of combined, json, got 'xml'"),
        ("[server]", "workers = 0", "expected a whole number from 1 to 256, got '0'"),
        ("[server]", "workers =", "expected a whole number from 1 to 256, got nothing"),
        ("[server]", "zone = az 1", "expected a zone name like az1 (letters, digits, '_', '.' and '-'), got 'az 1'"),
        (
            "[server]", "log_level = warn",
            "expected one of trace, debug, info, notice, warning, error, critical (did you mean 'warning'?), got 'warn'"
        ),
        (
            "[server]", "listen = 70000",
            "expected an address like 0.0.0.0:8080, 127.0.0.1:8080, [::1]:8080 or :8080 (ports go from 0 to 65535), "
                + "got '70000'"
        ),
        (
            "[upstream users]", "balance = roundrobin",
            "expected one of round_robin, least_request, random, hash (did you mean 'round_robin'?), got 'roundrobin'"
        ),
        ("[upstream users]", "queue = -1", "expected a whole number from 0 to 1000000, got '-1'"),
        (
            "[upstream users]", "server = 10.0.0.2",
            "expected HOST:PORT like 10.0.1.10:8081 (the port is missing), got '10.0.0.2'"
        ),
        (
            "[upstream users]", "server = 10.0.0.2:80 wieght=2",
            "unknown server option 'wieght'; did you mean 'weight'?"
        ),
        (
            "[upstream users]", "server = 10.0.0.2:80 weight=0",
            "option weight: expected a whole number from 1 to 1000, got '0'"
        ),
        ("[upstream users]", "server = 10.0.0.2:80 backup backup", "server option 'backup' given twice"),
        ("[upstream users]", "server = 10.0.0.2:80 backup=yes", "'backup' takes no value"),
        ("[upstream users]", "server = 10.0.0.2:80 weight", "'weight' needs a value, like weight=..."),
        (
            "[upstream users]", "server = 10.0.0.2:80 primary",
            "unknown server option 'primary'; the options are zone=NAME, weight=N, max_conns=N, backup, tls, resolve and srv"
        ),
        ("[upstream users]", "server = 10.0.0.1:80", "10.0.0.1:80 is listed twice (first at sluice.ini:5)"),
    ])
    func badValues(header: String, line: String, message: String) throws {
        let text = header == "[upstream users]" ? validHead + line + "\n" : validHead + header + "\n" + line + "\n"
        let error = try #require(singleError(text))
        #expect(error.section == header)
        #expect(error.key == line.split(separator: " ").first.map(String.init))
        #expect(error.location?.line == (header == "[upstream users]" ? 6 : 7))
        #expect(error.message == message)
    }

    @Test(arguments: [
        ("match = users", "invalid route pattern 'users': a route pattern must start with '/'"),
        ("match = /a/*rest/b", "invalid route pattern '/a/*rest/b': the catch-all '*rest' must be the last segment"),
        ("host = api.example.com, ", "expected a host name like api.example.com or *.example.com, got nothing"),
        (
            "host = api..example.com",
            "expected a host name like api.example.com or *.example.com, got 'api..example.com'"
        ),
        ("host = a.*.com", "expected a host name like api.example.com or *.example.com, got 'a.*.com'"),
        ("methods = GET, P(ST", "expected HTTP methods like GET, POST, got 'P(ST'"),
        ("methods = ,", "expected methods like GET, POST, got nothing"),
        ("retries = 11", "expected a whole number from 0 to 10, got '11'"),
        ("timeout = 1 s", "expected a duration like 500ms, 2s or 1m, got '1 s'"),
        ("host_rewrite = a b", "expected a host like users.internal or users.internal:8080, got 'a b'"),
    ])
    func badRouteValues(line: String, message: String) throws {
        let text =
            validHead + "[route r]\n" + (line.hasPrefix("match") ? "" : "match = /\n") + line + "\nupstream = users\n"
        let error = try #require(singleError(text))
        #expect(error.section == "[route r]")
        #expect(error.key == line.split(separator: " ").first.map(String.init))
        #expect(error.location?.line == (line.hasPrefix("match") ? 7 : 8))
        #expect(error.message == message)
    }

    @Test func routeNamingAnUnknownUpstream() throws {
        let text = validHead + "[route users]\nmatch = /users/*\nupstream = usrs\n"
        let error = try #require(singleError(text))
        #expect(
            error.description
                == "sluice.ini:8: [route users] upstream: no [upstream] named 'usrs'; did you mean 'users'?")
        let far = try #require(singleError(validHead + "[route r]\nmatch = /\nupstream = billing\n"))
        #expect(far.message == "no [upstream] named 'billing'; the upstreams are 'users'")
        let none = try #require(singleError("[server]\nlisten = 80\n[route r]\nmatch = /\nupstream = billing\n"))
        #expect(none.message == "no [upstream] named 'billing'; add an [upstream billing] section with its servers")
    }

    @Test func duplicateSectionNames() throws {
        let error = try #require(singleError(validHead + "[upstream users]\nserver = 10.0.0.9:80\n"))
        #expect(error.location?.line == 6)
        #expect(error.section == "[upstream users]")
        #expect(error.message == "defined twice (first at sluice.ini:4); section names must be unique")
        // A route may share an upstream's name.
        #expect(configErrors(validHead + "[route users]\nmatch = /\nupstream = users\n").isEmpty)
    }

    @Test func sectionNamesAreRequiredWhereTheyMatter() throws {
        let unnamed = try #require(singleError(validHead + "[route]\nmatch = /\n"))
        #expect(unnamed.message == "a section without a name; write [route users]")
        let named = try #require(singleError(validHead + "[server main]\nzone = a\n"))
        #expect(named.message == "[server] takes no name; write [server]")
    }

    @Test func listenAddressUsedTwice() throws {
        let error = try #require(singleError("[server]\nlisten = 0.0.0.0:8080\nlisten = :8080\n"))
        #expect(error.location?.line == 3)
        #expect(error.key == "listen")
        #expect(error.message == "0.0.0.0:8080 is listed twice (first at sluice.ini:2)")
        let overlap = try #require(singleError("[server]\nlisten = 8080\nlisten = 127.0.0.1:8080\n"))
        #expect(
            overlap.message
                == "127.0.0.1:8080 overlaps 0.0.0.0:8080 (at sluice.ini:2): "
                + "a wildcard address takes the port on every interface"
        )
        // Different families, different ports, and port 0 (each bind gets its own port) are fine.
        #expect(
            configErrors("[server]\nlisten = 0.0.0.0:80\nlisten = [::]:80\nlisten = 81\nlisten = :0\nlisten = :0\n")
                .isEmpty)
    }

    @Test func adminEqualToAListenAddress() throws {
        let error = try #require(
            singleError("[server]\nlisten = 127.0.0.1:9000\nlisten = 8080\nadmin = 127.0.0.1:8080\n"))
        #expect(error.location?.line == 4)
        #expect(error.key == "admin")
        #expect(
            error.message
                == "127.0.0.1:8080 is also where the gateway listens (listen = 0.0.0.0:8080 at sluice.ini:3); "
                + "give admin its own address"
        )
    }

    @Test func includeOutsideServer() throws {
        let error = try #require(singleError(validHead + "include = other.ini\n"))
        #expect(error.location?.line == 6)
        #expect(error.section == "[upstream users]")
        #expect(error.key == "include")
        #expect(error.message == "include is only allowed in [server]")
    }

    @Test func everyErrorIsReportedInLineOrder() {
        let text = """
            [server]
            listen = 8080
            keepalive_timeout = forever
            [upstream users]
            server = 10.0.0.1:80
            balance = fastest
            [route r]
            match = /
            upstream = users
            retries = many
            """
        let errors = configErrors(text)
        #expect(errors.map(\.location?.line) == [3, 6, 10])
        #expect(errors.map(\.key) == ["keepalive_timeout", "balance", "retries"])
        let description = ConfigErrors(errors).description
        #expect(description.split(separator: "\n").count == 3)
        #expect(description.hasPrefix("sluice.ini:3: [server] keepalive_timeout: expected a duration"))
    }

    @Test func syntaxAndValidationErrorsTogether() {
        let text = validHead + "not a line\n[route r]\nmatch = /\nupstream = nowhere\ntimeout = 5\n"
        let errors = configErrors(text)
        #expect(errors.map(\.location?.line) == [6, 9, 10])
    }
}
