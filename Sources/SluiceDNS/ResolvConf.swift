/// `/etc/resolv.conf`: the nameservers the system uses.
public enum ResolvConf {
    public static let defaultPath = "/etc/resolv.conf"

    /// The addresses of `nameserver` lines (IPv4 or IPv6; comments with `#` or `;`).
    public static func nameservers(_ text: String) -> [String] {
        var servers: [String] = []
        // `isNewline`: "\r\n" is one Character in Swift, so a CRLF file splits too.
        for line in text.split(whereSeparator: \.isNewline) {
            let content = line.split(maxSplits: 1, omittingEmptySubsequences: false, whereSeparator: { $0 == "#" || $0 == ";" })
                .first ?? ""
            let words = content.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.count >= 2, words[0] == "nameserver" else { continue }
            let address = words[1].split(separator: "%").first.map(String.init) ?? ""
            if !address.isEmpty { servers.append(address) }
        }
        return servers
    }
}

/// `/etc/hosts`: names the system resolves without DNS.
public enum HostsFile {
    public static let defaultPath = "/etc/hosts"

    /// The addresses `name` has in `text` (case-insensitive).
    public static func addresses(for name: String, in text: String) -> [String] {
        let wanted = name.lowercased()
        var found: [String] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let words = content.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.count >= 2 else { continue }
            if words.dropFirst().contains(where: { $0.lowercased() == wanted }) { found.append(String(words[0])) }
        }
        return found
    }
}
