public import NIOHTTP1

/// Why a request's content or parameters could not be read: answered 400 (or 413/415) with a message that names the
/// field and the problem, e.g. `{"error":"field \"items[1].count\": expected an integer"}`.
public struct BindingError: HTTPResponseError, Sendable, Equatable, CustomStringConvertible {
    /// The field as a path (`address.zip`, `items[2].name`), or nil for the body as a whole.
    public let field: String?
    public let problem: String
    public let status: HTTPResponseStatus

    public init(field: String?, problem: String, status: HTTPResponseStatus = .badRequest) {
        self.field = field
        self.problem = problem
        self.status = status
    }

    public var message: String { description }
    public var description: String { field.map { "field \"\($0)\": \(problem)" } ?? problem }

    /// The message for a `DecodingError` (or any other error a decoder threw).
    public static func from(_ error: any Error) -> BindingError {
        guard let error = error as? DecodingError else {
            return BindingError(field: nil, problem: "the body could not be read")
        }
        switch error {
        case .keyNotFound(let key, let context):
            return BindingError(field: path(context.codingPath + [key]), problem: "is required")
        case .valueNotFound(_, let context):
            return BindingError(field: path(context.codingPath), problem: "must not be null")
        case .typeMismatch(let type, let context):
            return BindingError(field: path(context.codingPath), problem: "expected \(describe(type))")
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return BindingError(field: nil, problem: "the body is not valid JSON") }
            return BindingError(field: path(context.codingPath), problem: context.debugDescription)
        @unknown default:
            return BindingError(field: nil, problem: "the body could not be read")
        }
    }

    /// `items[2].name` from a coding path.
    static func path(_ keys: [any CodingKey]) -> String? {
        guard !keys.isEmpty else { return nil }
        var text = ""
        for key in keys {
            if let index = key.intValue, key.stringValue.hasPrefix("Index ") || key.stringValue == String(index) {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : "." + key.stringValue
            }
        }
        return text
    }

    /// `an integer`, `a string`, `a list`… for a type a decoder expected.
    static func describe(_ type: Any.Type) -> String {
        let noun = noun(type)
        return (noun.first.map { "aeiou".contains($0) } ?? false ? "an " : "a ") + noun
    }

    static func noun(_ type: Any.Type) -> String {
        switch type {
        case is String.Type, is Substring.Type: "string"
        case is Bool.Type: "boolean"
        case is Int.Type, is Int8.Type, is Int16.Type, is Int32.Type, is Int64.Type, is UInt.Type, is UInt8.Type,
            is UInt16.Type, is UInt32.Type, is UInt64.Type:
            "integer"
        case is Double.Type, is Float.Type: "number"
        default: String(describing: type).hasPrefix("Array") ? "list" : "object"
        }
    }
}

/// The essence of a media type (RFC 9110 §8.3.1): `type/subtype` lowercased, without parameters or spaces.
enum MediaType {
    /// The body formats `bind` reads.
    enum Format: Equatable {
        case json, form, multipart
        /// Another type: its essence, for the error.
        case other(String)
        case none
    }

    /// Which format a `Content-Type` names, read on its bytes: no string is made for the usual types.
    static func format(of value: String?) -> Format {
        guard let value else { return .none }
        if let format = value.utf8.withContiguousStorageIfAvailable(format) { return format }
        return Array(value.utf8).withUnsafeBufferPointer(format)
    }

    private static func format(_ bytes: UnsafeBufferPointer<UInt8>) -> Format {
        var end = bytes.firstIndex(of: UInt8(ascii: ";")) ?? bytes.count
        var start = 0
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
        let essence = UnsafeBufferPointer(rebasing: bytes[start..<end])
        if matches(essence, "application/json") { return .json }
        if matches(essence, "application/x-www-form-urlencoded") { return .form }
        if matches(essence, "multipart/form-data") { return .multipart }
        if essence.count > 5, matches(UnsafeBufferPointer(rebasing: essence[(essence.count - 5)...]), "+json") {
            return .json
        }
        return .other(String(decoding: essence, as: UTF8.self).lowercased())
    }

    /// ASCII case-insensitive equality with a lowercase literal.
    private static func matches(_ bytes: UnsafeBufferPointer<UInt8>, _ literal: StaticString) -> Bool {
        guard bytes.count == literal.utf8CodeUnitCount else { return false }
        let expected = literal.utf8Start
        for index in 0..<bytes.count {
            var byte = bytes[index]
            if byte &- UInt8(ascii: "A") < 26 { byte |= 0x20 }
            if byte != expected[index] { return false }
        }
        return true
    }
}

extension Context {
    /// Decodes the body into `T` (Gin's `ShouldBind`): JSON for `application/json` (and `+json` types, with
    /// `JSONBodyDecoder`), URL-encoded forms for `application/x-www-form-urlencoded`, fields and `FormFile`s for
    /// `multipart/form-data`. Throws a `BindingError` (answered 400 naming the field, 415 for another type) that
    /// handlers may simply let through.
    public func bind<T: Decodable>(_ type: T.Type = T.self) throws(BindingError) -> T {
        switch MediaType.format(of: header("content-type")) {
        case .json:
            guard let body, body.readableBytes > 0 else { throw BindingError(field: nil, problem: "the body is empty") }
            do {
                return try JSONBodyDecoder.decode(T.self, from: body)
            } catch {
                throw BindingError.from(error)
            }
        case .form:
            do {
                let text = body.map { String(buffer: $0) } ?? ""
                return try FormDecoder().decode(T.self, from: text[...])
            } catch let error as BindingError {
                throw error
            } catch {
                throw BindingError.from(error)
            }
        case .multipart:
            return try bindMultipart(T.self, contentType: header("content-type") ?? "")
        case .other(let essence):
            throw Self.unsupported("\"\(essence)\" is not accepted")
        case .none:
            throw Self.unsupported("no Content-Type was given")
        }
    }

    /// The 415 for a body `bind` does not read.
    private static func unsupported(_ given: String) -> BindingError {
        BindingError(
            field: nil,
            problem: "\(given); send application/json, application/x-www-form-urlencoded or multipart/form-data",
            status: .unsupportedMediaType)
    }

    /// Decodes the query string into `T` (Gin's `ShouldBindQuery`), with the same errors as `bind`.
    public func bindQuery<T: Decodable>(_ type: T.Type = T.self) throws(BindingError) -> T {
        do {
            return try FormDecoder().decode(T.self, from: queryString)
        } catch let error as BindingError {
            throw error
        } catch {
            throw BindingError.from(error)
        }
    }

    /// The path parameter `name` converted to `T`: a missing or malformed one throws a 400 that names it
    /// (`path parameter "id": "abc" is not a valid integer`).
    public func param<T: LosslessStringConvertible>(_ name: String, as type: T.Type) throws(BindingError) -> T {
        try Self.convert(param(name), name: name, source: "path parameter")
    }

    /// The query parameter `name` converted to `T`, or nil when it is absent; a malformed one throws a 400.
    public func query<T: LosslessStringConvertible>(_ name: String, as type: T.Type) throws(BindingError) -> T? {
        guard let raw = query(name) else { return nil }
        return try Self.convert(raw, name: name, source: "query parameter")
    }

    static func convert<T: LosslessStringConvertible>(_ raw: String?, name: String, source: String) throws(BindingError)
        -> T
    {
        guard let raw else { throw BindingError(field: nil, problem: "\(source) \"\(name)\" is required") }
        guard let value = T(raw) else {
            throw BindingError(
                field: nil, problem: "\(source) \"\(name)\": \"\(raw.prefix(64))\" is not a valid \(BindingError.noun(T.self))")
        }
        return value
    }
}
