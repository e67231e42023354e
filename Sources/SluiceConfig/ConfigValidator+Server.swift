extension ConfigValidator {
    /// `[server]`: every `[server]` section, in every file, merged into one (the first header is its location).
    mutating func readServer(_ sections: [INISection], mainFile: String) -> ServerConfig {
        guard let first = sections.first else {
            errors.append(
                ConfigError(
                    location: SourceLocation(file: mainFile, line: 0), section: "[server]",
                    message: "missing; a config needs a [server] section with at least one 'listen = 0.0.0.0:8080'"))
            return ServerConfig(listen: [], location: SourceLocation(file: mainFile, line: 0))
        }
        let reader = SectionReader(
            kind: .server, header: "[server]", location: first.location, entries: sections.flatMap(\.entries),
            errors: &errors)

        let listen = readListen(reader)
        var admin: ListenAddress?
        if let entry = reader.entry("admin") {
            do {
                let address = try ListenAddress(entry.value)
                if let clash = listen.first(where: { $0.address.overlaps(address) }) {
                    errors.append(
                        reader.error(
                            entry,
                            "\(address) is also where the gateway listens (listen = \(clash.address) at "
                                + "\(clash.entry.location)); give admin its own address"))
                } else {
                    admin = address
                }
            } catch {
                errors.append(reader.error(entry, error.description))
            }
        }
        let workers: Int? = reader.value("workers", default: nil, errors: &errors) { text throws(ValueError) in
            try ValueParsing.integer(text, in: 1...256)
        }
        var config = ServerConfig(
            listen: listen.map(\.address),
            zone: reader.value("zone", default: nil, errors: &errors, Self.zone),
            admin: admin,
            workers: workers,
            maxHeaderSize: reader.size(
                "max_header_size", default: ServerConfig.defaultMaxHeaderSize, in: 1024...(1 << 20), errors: &errors),
            maxBodySize: reader.size("max_body_size", default: 0, in: 0...Bounds.tebibyte, errors: &errors),
            clientHeaderTimeout: reader.duration(
                "client_header_timeout", default: ServerConfig.defaultClientHeaderTimeout, in: Bounds.positiveHour,
                errors: &errors),
            keepaliveTimeout: reader.duration(
                "keepalive_timeout", default: ServerConfig.defaultKeepaliveTimeout, in: Bounds.upToDay,
                errors: &errors),
            drainTimeout: reader.duration(
                "drain_timeout", default: ServerConfig.defaultDrainTimeout, in: Bounds.upToDay, errors: &errors),
            accessLog: true,
            logLevel: reader.choice("log_level", default: LogLevel.info, errors: &errors),
            location: first.location)
        config.trustedProxies = readTrustedProxies(reader)
        readAccessLog(reader, into: &config)
        readRequestLimits(reader, into: &config)
        config.http2 = readHTTP2(reader, maxHeaderSize: config.maxHeaderSize, errors: &errors)
        config.redirectHTTPS = reader.boolean("redirect_https", default: false, errors: &errors)
        config.metrics = reader.boolean("metrics", default: true, errors: &errors)
        config.resolvers = reader.values("resolver", errors: &errors) { entry throws(ValueError) in
            try Self.list(entry.value).map { item throws(ValueError) in
                let bare = !item.contains(":") || (item.hasPrefix("[") && item.hasSuffix("]")) || (!item.hasPrefix("[") && item.filter { $0 == ":" }.count > 1)
                let text = bare ? (item.contains(":") && !item.hasPrefix("[") ? "[\(item)]:53" : "\(item):53") : item
                let (host, port) = try HostPort.parse(text, defaultHost: nil, ports: 1...65535, expected: "an address like 127.0.0.1:53 or [::1]:53")
                guard Self.isIPLiteral(host) else {
                    throw ValueError(expected: "an IP address (the resolver cannot be found by name)", got: item)
                }
                return ListenAddress(host: host, port: port)
            }
        }.flatMap { $0 }
        config.resolverTimeout = reader.duration(
            "resolver_timeout", default: .seconds(2), in: .milliseconds(100) ... .seconds(30), errors: &errors)
        if let entry = reader.entry("admin_token") {
            if let problem = Self.adminTokenProblem(entry.value) {
                errors.append(reader.error(entry, problem))
            } else {
                config.adminToken = String(entry.value.trimmedSpaces)
            }
        }
        return config
    }

    /// `access_log = off | on | stdout | stderr | FILE` and `access_log_format`. A file's folder must exist; a
    /// relative path is taken from the configuration file's folder.
    private mutating func readAccessLog(_ reader: SectionReader, into config: inout ServerConfig) {
        config.accessLogFormat = reader.choice("access_log_format", default: AccessLogFormat.combined, errors: &errors)
        guard let entry = reader.entry("access_log") else { return }
        let value = String(entry.value.trimmedSpaces)
        switch value.lowercased() {
        case "off", "false", "no": config.accessLog = false
        case "on", "true", "yes", "stdout": config.accessLogTarget = .stdout
        case "stderr": config.accessLogTarget = .stderr
        default:
            var path = value
            if !path.hasPrefix("/") {
                let file = entry.location.file
                let folder = file.lastIndex(of: "/").map { String(file[..<$0]) } ?? "."
                path = folder + "/" + path
            }
            let folder = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
            if let problem = FileSystem.writableFolderProblem(folder.isEmpty ? "/" : folder) {
                errors.append(reader.error(
                    entry, "the access log's folder '\(folder)' \(problem); give off, stdout, stderr or a file path"))
            } else {
                config.accessLogTarget = .file(path)
            }
        }
    }

    /// The request limits and path rules of `[server]`: connections, header count, body buffering and timeouts,
    /// slashes.
    private mutating func readRequestLimits(_ reader: SectionReader, into config: inout ServerConfig) {
        config.mergeSlashes = reader.boolean("merge_slashes", default: true, errors: &errors)
        config.escapedSlashes = reader.choice("escaped_slashes", default: EscapedSlashesConfig.reject, errors: &errors)
        config.maxClientConnections = reader.integer(
            "max_client_connections", default: ServerConfig.defaultMaxClientConnections, in: 0...1_000_000,
            errors: &errors)
        config.maxHeaders = reader.integer(
            "max_headers", default: ServerConfig.defaultMaxHeaders, in: 1...10_000, errors: &errors)
        config.clientBodyTimeout = reader.duration(
            "client_body_timeout", default: ServerConfig.defaultClientBodyTimeout, in: Bounds.positiveHour,
            errors: &errors)
        config.requestTimeout = reader.duration("request_timeout", default: .zero, in: Bounds.upToDay, errors: &errors)
        config.requestBufferSize = reader.size(
            "request_buffer_size", default: ServerConfig.defaultRequestBufferSize, in: 0...(16 << 20),
            errors: &errors)
    }

    /// What is wrong with an `admin_token` value (nil when it is 16 to 1024 printable ASCII characters without
    /// spaces). The message never repeats the value: it is a secret, and errors go to logs.
    static func adminTokenProblem(_ text: String) -> String? {
        let token = text.trimmedSpaces
        let expected = "expected a token of 16 to 1024 printable ASCII characters without spaces (like the output of "
            + "'openssl rand -hex 32'), got "
        if token.isEmpty { return expected + "nothing" }
        if !token.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) {
            return expected + "a space or a character outside printable ASCII (the value is not shown)"
        }
        if !(16...1024).contains(token.utf8.count) {
            return expected + "\(token.utf8.count) characters (the value is not shown)"
        }
        return nil
    }

    /// A `tls` listener needs `[tls]` with a certificate.
    mutating func checkTLSListeners(_ config: GatewayConfig) {
        guard config.tls == nil, let address = config.server.listen.first(where: \.tls) else { return }
        errors.append(
            ConfigError(
                location: config.server.location, section: "[server]", key: "listen",
                message: "\(address.listenLine) needs certificates; add a [tls] section with "
                    + "'certificate = CHAIN.pem key=KEY.pem'"))
    }

    /// `listen` lines: at least one, none that would fail to bind beside another.
    private mutating func readListen(_ reader: SectionReader) -> [(address: ListenAddress, entry: INIEntry)] {
        let entries = reader.entries("listen")
        if entries.isEmpty {
            _ = reader.required("listen", example: "0.0.0.0:8080", errors: &errors)
        }
        var listen: [(address: ListenAddress, entry: INIEntry)] = []
        for entry in entries {
            let address: ListenAddress
            do {
                address = try ListenAddress(listenLine: entry.value)
            } catch {
                errors.append(reader.error(entry, error.description))
                continue
            }
            if let clash = listen.first(where: { $0.address.overlaps(address) }) {
                let message =
                    clash.address == address
                    ? "\(address) is listed twice (first at \(clash.entry.location))"
                    : "\(address) overlaps \(clash.address) (at \(clash.entry.location)): a wildcard address takes "
                        + "the port on every interface"
                errors.append(reader.error(entry, message))
                continue
            }
            listen.append((address, entry))
        }
        return listen
    }
}
