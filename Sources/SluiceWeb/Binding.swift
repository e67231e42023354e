import Foundation
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
    static func essence(of value: String?) -> String? {
        guard let value else { return nil }
        var utf8 = Substring(value).utf8
        if let semicolon = utf8.firstIndex(of: UInt8(ascii: ";")) { utf8 = utf8[..<semicolon] }
        while let first = utf8.first, first == 0x20 || first == 0x09 { utf8 = utf8.dropFirst() }
        while let last = utf8.last, last == 0x20 || last == 0x09 { utf8 = utf8.dropLast() }
        if utf8.allSatisfy({ $0 < 0x41 || $0 > 0x5A }) { return String(Substring(utf8)) }
        return String(Substring(utf8)).lowercased()
    }
}

extension Context {
    /// One decoder for every request: it keeps no per-call state, and making one costs an allocation.
    static let jsonDecoder = JSONDecoder()

    /// Decodes the body into `T` (Gin's `ShouldBind`): JSON for `application/json` (and `+json` types), URL-encoded
    /// forms for `application/x-www-form-urlencoded`, fields and `FormFile`s for `multipart/form-data`. Throws a `BindingError` (answered 400 naming the field, 415
    /// for another type) that handlers may simply let through.
    public func bind<T: Decodable>(_ type: T.Type = T.self) throws(BindingError) -> T {
        let contentType = MediaType.essence(of: header("content-type"))
        let isJSON = contentType == "application/json" || contentType?.hasSuffix("+json") == true
        switch isJSON ? "application/json" : contentType {
        case "application/json"?:
            guard let body, body.readableBytes > 0 else { throw BindingError(field: nil, problem: "the body is empty") }
            do {
                return try Self.jsonDecoder.decode(T.self, from: Data(body.readableBytesView))
            } catch {
                throw BindingError.from(error)
            }
        case "application/x-www-form-urlencoded"?:
            do {
                let text = body.map { String(buffer: $0) } ?? ""
                return try FormDecoder().decode(T.self, from: text[...])
            } catch let error as BindingError {
                throw error
            } catch {
                throw BindingError.from(error)
            }
        case "multipart/form-data"?:
            return try bindMultipart(T.self, contentType: header("content-type") ?? "")
        default:
            let given = contentType.map { "\"\($0)\" is not accepted" } ?? "no Content-Type was given"
            throw BindingError(
                field: nil,
                problem: "\(given); send application/json, application/x-www-form-urlencoded or multipart/form-data",
                status: .unsupportedMediaType)
        }
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
