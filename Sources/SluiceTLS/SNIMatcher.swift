/// Which certificate answers a TLS client hello: the first whose names contain the SNI host name exactly, else the
/// first with a wildcard name (`*.example.com`, one label) that covers it, else the default (the first certificate).
/// Names compare without case and without a trailing dot. No NIO: a value tested on its own.
public struct SNIMatcher: Sendable, Hashable {
    /// Each certificate's DNS names (subject alternative names, or the common name when it has none), lowercased.
    public let names: [[String]]
    private let exact: [String: Int]
    private let wildcard: [String: Int]

    public init(names: [[String]]) {
        let lowered = names.map { $0.map { Self.canonical($0) } }
        self.names = lowered
        var exact: [String: Int] = [:]
        var wildcard: [String: Int] = [:]
        for (index, certificateNames) in lowered.enumerated() {
            for name in certificateNames {
                if name.hasPrefix("*.") {
                    let parent = String(name.dropFirst(2))
                    if wildcard[parent] == nil { wildcard[parent] = index }
                } else if exact[name] == nil {
                    exact[name] = index
                }
            }
        }
        self.exact = exact
        self.wildcard = wildcard
    }

    /// The index of the certificate for `serverName` (nil or unknown: 0, the default).
    public func certificate(for serverName: String?) -> Int {
        guard let serverName, !serverName.isEmpty else { return 0 }
        let name = Self.canonical(serverName)
        if let index = exact[name] { return index }
        if let dot = name.firstIndex(of: "."), let index = wildcard[String(name[name.index(after: dot)...])] {
            return index
        }
        return 0
    }

    static func canonical(_ name: String) -> String {
        let lowered = name.lowercased()
        return lowered.hasSuffix(".") ? String(lowered.dropLast()) : lowered
    }
}
