/// `gzip = on` and its companions in a `[route]`: which responses the gateway compresses.
public struct CompressionConfig: Sendable, Equatable {
    /// `gzip_types`: media types (`text/*` covers every `text/` type), compared without parameters or case.
    public var types: [String]
    /// `gzip_min_length` (0...1g, default 1k): responses that declare a shorter `Content-Length` pass as they are.
    public var minLength: Int
    /// `gzip_level` (1...9, default 6; nginx's default is 1, zlib's 6).
    public var level: Int

    public static let defaultTypes = [
        "text/*", "application/json", "application/javascript", "application/xml", "image/svg+xml",
    ]

    public init(types: [String] = CompressionConfig.defaultTypes, minLength: Int = 1024, level: Int = 6) {
        self.types = types
        self.minLength = minLength
        self.level = level
    }

    /// Whether a response of `contentType` (a `Content-Type` value) is one of `types`.
    public func compresses(contentType: String?) -> Bool {
        guard let contentType else { return false }
        let media = contentType.split(separator: ";", maxSplits: 1).first.map { $0.trimmedSpaces.lowercased() } ?? ""
        for type in types {
            if type.hasSuffix("/*") {
                if media.hasPrefix(type.dropLast()) { return true }
            } else if media == type {
                return true
            }
        }
        return false
    }
}

extension ConfigValidator {
    /// The edge keys of a `[route]`: `hsts`, `gzip*`, `websocket`.
    mutating func readRouteEdge(_ reader: SectionReader, into config: inout RouteConfig) {
        config.hsts = reader.value("hsts", default: String?.none, errors: &errors) { text throws(ValueError) in
            let text = text.trimmedSpaces
            let parts = text.split(separator: ";").map { $0.trimmedSpaces.lowercased() }
            guard let first = parts.first, first.hasPrefix("max-age="),
                ValueParsing.wholeNumber(Array(first.utf8.dropFirst(8))[...]) != nil,
                parts.dropFirst().allSatisfy({ $0 == "includesubdomains" || $0 == "preload" })
            else {
                throw ValueError(expected: "max-age=SECONDS, optionally '; includeSubDomains' and '; preload'", got: text)
            }
            return String(text)
        }
        config.websocket = reader.boolean("websocket", default: true, errors: &errors)
        config.tunnelTimeout = reader.duration(
            "tunnel_timeout", default: .seconds(3600), in: Bounds.positiveDay, errors: &errors)
        guard reader.boolean("gzip", default: false, errors: &errors) else {
            for key in ["gzip_types", "gzip_min_length", "gzip_level"] {
                if let entry = reader.entry(key) {
                    errors.append(reader.error(entry, "has no effect without 'gzip = on' in this route"))
                }
            }
            return
        }
        var compression = CompressionConfig()
        compression.types = reader.value("gzip_types", default: CompressionConfig.defaultTypes, errors: &errors) {
            text throws(ValueError) in
            let types = text.split(whereSeparator: { $0 == "," || $0 == " " }).map { $0.lowercased() }
            guard !types.isEmpty, types.allSatisfy({ $0.contains("/") && !$0.hasPrefix("/") && !$0.hasSuffix("/") })
            else { throw ValueError(expected: "media types like text/*, application/json", got: text) }
            return types
        }
        compression.minLength = reader.size("gzip_min_length", default: 1024, in: 0...(1 << 30), errors: &errors)
        compression.level = reader.integer("gzip_level", default: 6, in: 1...9, errors: &errors)
        config.compression = compression
    }
}
