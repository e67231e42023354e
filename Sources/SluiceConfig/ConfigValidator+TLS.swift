extension ConfigValidator {
    /// `[tls]`: every `[tls]` section merged; nil when there is none.
    mutating func readTLS(_ sections: [INISection], fileSystem: (String) throws(FileSystem.Failure) -> String)
        -> TLSConfig?
    {
        guard let first = sections.first else { return nil }
        let reader = SectionReader(
            kind: .tls, header: "[tls]", location: first.location, entries: sections.flatMap(\.entries),
            errors: &errors)
        var certificates: [TLSCertificateConfig] = []
        for entry in reader.entries("certificate") {
            guard let line = Self.certificateLine(entry.value) else {
                errors.append(
                    reader.error(
                        entry,
                        "expected 'CHAIN.pem key=KEY.pem' (a PEM certificate chain, leaf first, and its private key), "
                            + "got '\(entry.value)'"))
                continue
            }
            let chainPath = Self.resolve(line.chain, from: entry.location.file)
            let keyPath = Self.resolve(line.key, from: entry.location.file)
            var contents: [String] = []
            for (path, what) in [(chainPath, "certificate chain"), (keyPath, "private key")] {
                do {
                    contents.append(try fileSystem(path))
                } catch {
                    errors.append(reader.error(entry, "cannot read the \(what) \(path): \(error.message)"))
                }
            }
            guard contents.count == 2 else { continue }
            certificates.append(
                TLSCertificateConfig(
                    chainPath: chainPath, keyPath: keyPath, chainPEM: contents[0], keyPEM: contents[1],
                    location: entry.location))
        }
        if reader.entries("certificate").isEmpty {
            _ = reader.required("certificate", example: "/etc/sluice/example.com.pem key=/etc/sluice/example.com.key",
                                errors: &errors)
        }
        return TLSConfig(
            certificates: certificates,
            minimumVersion: reader.choice("tls_min_version", default: TLSVersionConfig.v1_2, errors: &errors),
            location: first.location)
    }

    /// `CHAIN key=KEY` (either order of the two words).
    static func certificateLine(_ text: String) -> (chain: String, key: String)? {
        var chain: String?
        var key: String?
        for word in text.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
            if word.hasPrefix("key=") {
                guard key == nil, word.count > 4 else { return nil }
                key = String(word.dropFirst(4))
            } else {
                guard chain == nil else { return nil }
                chain = String(word)
            }
        }
        guard let chain, let key else { return nil }
        return (chain, key)
    }

    /// `path` as written on a line of `file`: absolute as is, relative from `file`'s folder.
    static func resolve(_ path: String, from file: String) -> String {
        if path.hasPrefix("/") { return path }
        guard let slash = file.lastIndex(of: "/") else { return path }
        return String(file[...slash]) + path
    }

    /// The HTTP/2 keys of `[server]`.
    func readHTTP2(_ reader: SectionReader, maxHeaderSize: Int, errors: inout [ConfigError]) -> HTTP2Config {
        var http2 = HTTP2Config()
        http2.maxConcurrentStreams = reader.integer(
            "h2_max_concurrent_streams", default: 100, in: 1...10_000, errors: &errors)
        http2.initialWindowSize = reader.size(
            "h2_initial_window_size", default: 65_535, in: 1024...(16 << 20), errors: &errors)
        http2.connectionWindowSize = reader.size(
            "h2_connection_window_size", default: 1 << 20, in: 65_535...(64 << 20), errors: &errors)
        if reader.entry("h2_max_header_list_size") != nil {
            http2.maxHeaderListSize = reader.size(
                "h2_max_header_list_size", default: maxHeaderSize, in: 1024...(1 << 20), errors: &errors)
        }
        return http2
    }
}

extension ConfigValidator {
    /// `tls`, `tls_verify`, `tls_ca`, `tls_sni` of an `[upstream]`.
    mutating func readUpstreamTLS(_ reader: SectionReader, into config: inout UpstreamConfig) {
        config.tls = reader.boolean("tls", default: false, errors: &errors)
        config.protocol = reader.choice("protocol", default: UpstreamProtocol.http1, errors: &errors)
        var settings = UpstreamTLSConfig()
        settings.verify = reader.boolean("tls_verify", default: true, errors: &errors)
        if let entry = reader.entry("tls_ca") {
            let path = Self.resolve(String(entry.value.trimmedSpaces), from: entry.location.file)
            do {
                settings.caPEM = try FileSystem.readText(path)
                settings.caPath = path
            } catch {
                errors.append(reader.error(entry, "cannot read the CA file \(path): \(error.message)"))
            }
        }
        settings.serverName = reader.value("tls_sni", default: String?.none, errors: &errors) {
            text throws(ValueError) in
            let name = text.trimmedSpaces
            guard HostPort.isHostName(name), !name.allSatisfy({ $0.isNumber || $0 == "." }) else {
                throw ValueError(expected: "a DNS name like users.internal", got: name)
            }
            return String(name)
        }
        let anyTLS = config.tls || config.servers.contains(where: \.tls)
        if anyTLS { settings.location = reader.location }
        if !anyTLS {
            for key in ["tls_verify", "tls_ca", "tls_sni"] {
                if let entry = reader.entry(key) {
                    errors.append(
                        reader.error(entry, "has no effect: no server of this upstream uses TLS (add 'tls = on')"))
                }
            }
        }
        config.tlsSettings = settings
    }
}
