import SluiceRouter

/// Reading `application/x-www-form-urlencoded` query strings.
enum QueryString {
    static func value(of name: String, in query: Substring) -> String? {
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let equals = pair.firstIndex(of: "=")
            let key = equals.map { pair[..<$0] } ?? pair[...]
            guard decode(key) == name else { continue }
            return equals.map { decode(pair[pair.index(after: $0)...]) } ?? ""
        }
        return nil
    }

    static func decode(_ text: Substring) -> String {
        let spaced = text.contains("+") ? Substring(text.replacing("+", with: " ")) : text
        return PercentDecoding.decode(spaced) ?? String(spaced)
    }
}
