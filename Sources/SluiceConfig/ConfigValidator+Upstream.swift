import SluiceTraffic

extension ConfigValidator {
    /// `[upstream NAME]`.
    mutating func readUpstream(_ section: INISection) -> UpstreamConfig {
        let reader = SectionReader(
            kind: .upstream, header: section.header, location: section.location, entries: section.entries,
            errors: &errors)
        let entries = reader.entries("server")
        if entries.isEmpty {
            _ = reader.required("server", example: "10.0.1.10:8081 zone=az1", errors: &errors)
        }
        var servers: [UpstreamServerConfig] = []
        for entry in entries {
            guard let server = readUpstreamServer(entry, reader) else { continue }
            if let clash = servers.first(where: { $0.address == server.address }) {
                errors.append(reader.error(entry, "\(server.address) is listed twice (first at \(clash.location))"))
                continue
            }
            servers.append(server)
        }
        let budget = reader.value("retry_budget", default: (share: 0.2, minimum: 3), errors: &errors) {
            text throws(ValueError) in
            let words = ValueParsing.options(text)
            guard let first = words.first, first.name == nil else {
                throw ValueError(expected: "a share like 20%, optionally min=3", got: text)
            }
            var minimum = 3
            for word in words.dropFirst() {
                guard word.name == "min" else { throw ValueError(expected: "min=N", got: word.value) }
                minimum = try word.read { text throws(ValueError) in try ValueParsing.integer(text, in: 0...10_000) }
            }
            return (share: try ValueParsing.percentage(first.value), minimum: minimum)
        }
        var config = UpstreamConfig(
            name: section.name ?? "",
            servers: servers,
            balance: reader.choice("balance", default: BalanceAlgorithm.roundRobin, errors: &errors),
            keepalive: reader.integer(
                "keepalive", default: UpstreamConfig.defaultKeepalive, in: 0...100_000, errors: &errors),
            keepaliveTimeout: reader.duration(
                "keepalive_timeout", default: UpstreamConfig.defaultKeepaliveTimeout, in: Bounds.upToDay,
                errors: &errors),
            keepaliveRequests: reader.integer(
                "keepalive_requests", default: UpstreamConfig.defaultKeepaliveRequests, in: 1...1_000_000_000,
                errors: &errors),
            maxConnections: reader.integer(
                "max_connections", default: UpstreamConfig.defaultMaxConnections, in: 1...100_000, errors: &errors),
            queue: reader.integer("queue", default: UpstreamConfig.defaultQueue, in: 0...1_000_000, errors: &errors),
            queueTimeout: reader.duration(
                "queue_timeout", default: UpstreamConfig.defaultQueueTimeout, in: Bounds.upToDay, errors: &errors),
            connectTimeout: reader.duration(
                "connect_timeout", default: UpstreamConfig.defaultConnectTimeout, in: Bounds.positiveDay,
                errors: &errors),
            healthCheck: reader.value("health_check", default: nil, errors: &errors) { text throws(ValueError) in
                try HealthCheckConfig.parse(text)
            },
            outlier: reader.value("outlier", default: nil, errors: &errors) { text throws(ValueError) in
                try OutlierConfig.parse(text)
            },
            hashKey: reader.value("hash_key", default: HashKey.clientIP, errors: &errors) { text throws(ValueError) in
                try HashKey.parse(text)
            },
            zoneMinSize: reader.integer("zone_min_size", default: 1, in: 0...10_000, errors: &errors),
            panicThreshold: reader.value("panic", default: 0.5, errors: &errors) { text throws(ValueError) in
                try ValueParsing.percentage(text)
            },
            slowStart: reader.duration("slow_start", default: .zero, in: Bounds.upToDay, errors: &errors),
            retryBudget: budget.share,
            retryBudgetMinimum: budget.minimum,
            location: section.location)
        config.maxFails = reader.integer("max_fails", default: 1, in: 0...1000, errors: &errors)
        config.failTimeout = reader.duration("fail_timeout", default: .seconds(1), in: Bounds.positiveDay, errors: &errors)
        config.resolveInterval = reader.duration(
            "resolve_interval", default: .seconds(10), in: .seconds(1) ... .seconds(86_400), errors: &errors)
        readUpstreamTraffic(reader, into: &config)
        readUpstreamTLS(reader, into: &config)
        return config
    }

    /// One `server = HOST:PORT [zone=az1] [weight=N] [max_conns=N] [backup]` line; nil (and errors) if it is bad.
    private mutating func readUpstreamServer(_ entry: INIEntry, _ reader: SectionReader) -> UpstreamServerConfig? {
        let options = ValueParsing.options(entry.value)
        let expected = "HOST:PORT like 10.0.1.10:8081, followed by any of zone=NAME weight=N max_conns=N backup tls"
        guard let first = options.first, first.name == nil else {
            errors.append(reader.error(entry, ValueError(expected: expected, got: entry.value).description))
            return nil
        }
        var server = UpstreamServerConfig(host: "", port: 0, location: entry.location)
        var valid = true
        let flags = Set(options.dropFirst().filter { $0.name == nil }.map(\.value))
        if flags.contains("srv") {
            // `_users._tcp.internal srv resolve`: no port, the records give it.
            let name = first.value.lowercased()
            if !HostPort.isHostName(name[...]) || !name.hasPrefix("_") || !flags.contains("resolve") {
                errors.append(reader.error(entry, ValueError(expected: "an SRV name like _users._tcp.internal followed by srv resolve", got: first.value).description))
                valid = false
            }
            server.host = name
        } else { do {
            (server.host, server.port) = try HostPort.parse(
                first.value, defaultHost: nil, ports: 1...65535, expected: "HOST:PORT like 10.0.1.10:8081")
        } catch {
            errors.append(reader.error(entry, error.description))
            valid = false
        } }
        if flags.contains("resolve") && valid && !flags.contains("srv") && Self.isIPLiteral(server.host) {
            errors.append(reader.error(entry, "'resolve' needs a DNS name; \(server.host) is an address"))
            valid = false
        }
        let optionNames = ["zone", "weight", "max_conns", "backup", "tls", "resolve", "srv"]
        var seen = Set<String>()
        for option in options.dropFirst() {
            let name = option.name ?? option.value
            if let problem = Self.optionProblem(option, known: optionNames) {
                errors.append(reader.error(entry, problem))
                valid = false
                continue
            }
            guard seen.insert(name).inserted else {
                errors.append(reader.error(entry, "server option '\(name)' given twice"))
                valid = false
                continue
            }
            do throws(ValueError) {
                switch name {
                case "zone": server.zone = try Self.zone(option.value)
                case "weight": server.weight = try ValueParsing.integer(option.value, in: 1...1000)
                case "max_conns": server.maxConnections = try ValueParsing.integer(option.value, in: 1...100_000)
                case "tls": server.tls = true
                case "resolve": server.resolve = true
                case "srv": server.srv = true
                default: server.backup = true
                }
            } catch {
                errors.append(reader.error(entry, "option \(name): \(error)"))
                valid = false
            }
        }
        return valid ? server : nil
    }

    /// Why a server option is not one of `known` (`backup` is a flag, the others take `=value`); nil if it is fine.
    private static func optionProblem(_ option: ValueOption, known: [String]) -> String? {
        let name = option.name ?? option.value
        if known.contains(name) {
            if ["backup", "tls", "resolve", "srv"].contains(name) {
                return option.name == nil ? nil : "'\(name)' takes no value"
            }
            return option.name == nil ? "'\(name)' needs a value, like \(name)=..." : nil
        }
        if let close = Suggestion.closest(to: name, in: known) {
            return "unknown server option '\(name)'; did you mean '\(close)'?"
        }
        return "unknown server option '\(name)'; the options are zone=NAME, weight=N, max_conns=N, backup, tls, resolve and srv"
    }
}

extension ConfigValidator {
    /// Whether `host` is an IPv4 or IPv6 address rather than a name.
    static func isIPLiteral(_ host: String) -> Bool {
        !host.contains("/") && CIDR(host) != nil
    }
}
