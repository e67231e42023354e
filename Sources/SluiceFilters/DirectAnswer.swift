/// `return`: the route answers itself, without an upstream (nginx's `return`). `301 https://example.com$request_uri`
/// redirects (301, 302, 303, 307, 308 need a URL); `200 type=text/plain body=ok` answers with a body (`body=` takes
/// the rest of the line); `204` answers empty. The URL and the body are templates.
public struct DirectAnswer: Hashable, Sendable {
    public let status: Int
    public let location: Template?
    public let contentType: String
    public let body: Template?

    public static let defaultType = "text/plain; charset=utf-8"
    static let expected = "a status like 200 type=text/plain body=ok, or a redirect like 301 https://example.com$request_uri"

    public init(status: Int, location: Template?, contentType: String, body: Template?) {
        self.status = status
        self.location = location
        self.contentType = contentType
        self.body = body
    }

    public static func parse(_ text: some StringProtocol) throws(FilterSyntaxError) -> DirectAnswer {
        let (code, rest) = FilterText.firstWord(Substring(text))
        guard code.utf8.count == 3, code.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let status = Int(code),
            (200...599).contains(status)
        else {
            throw FilterSyntaxError(expected: "a status from 200 to 599 (\(expected))", got: text)
        }
        var location: Template?
        var type = defaultType
        var body: Template?
        var remaining = rest
        if [301, 302, 303, 307, 308].contains(status) {
            let (url, after) = FilterText.firstWord(remaining)
            // A path (`/login?next=/x`) or an absolute URL; never the `type=`/`body=` options in its place.
            let isOption = url.hasPrefix("type=") || url.hasPrefix("body=")
            guard !url.isEmpty, !isOption, url.hasPrefix("/") || url.contains("://") else {
                throw FilterSyntaxError(expected: "\(status) followed by a URL, like \(status) https://example.com$request_uri", got: text)
            }
            location = try Template(parsing: url)
            remaining = after
        }
        while !remaining.isEmpty {
            if remaining.hasPrefix("body=") {
                body = try Template(parsing: remaining.dropFirst(5))
                break
            }
            let (word, after) = FilterText.firstWord(remaining)
            if word.hasPrefix("type=") {
                let value = word.dropFirst(5)
                guard value.contains("/"), value.utf8.allSatisfy({ !FilterText.isControl($0) }) else {
                    throw FilterSyntaxError(expected: "type=MEDIA/TYPE like type=application/json", got: word)
                }
                type = String(value)
            } else {
                throw FilterSyntaxError(expected: "type=... or body=... after the status (\(expected))", got: word)
            }
            remaining = after
        }
        if (status == 204 || status == 304), body != nil {
            throw FilterSyntaxError(expected: "no body with \(status)", got: text)
        }
        if let body, body.usesCaptures { throw FilterSyntaxError(expected: "a body without $0..$9", got: body.text) }
        if let location, location.usesCaptures {
            throw FilterSyntaxError(expected: "a URL without $0..$9", got: location.text)
        }
        return DirectAnswer(status: status, location: location, contentType: type, body: body)
    }

    /// The body for one request: the template's, or a short text for a redirect without one; ends with a newline.
    public func renderedBody(_ value: (FilterVariable) -> String?) -> String {
        if status == 204 || status == 304 { return "" }
        var text: String
        if let body {
            text = body.render(value)
        } else if let location {
            text = "redirecting to \(location.render(value))"
        } else {
            text = ""
        }
        if !text.isEmpty && !text.hasSuffix("\n") { text += "\n" }
        return text
    }
}
