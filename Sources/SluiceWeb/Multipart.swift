import Foundation
public import MultipartKit
public import NIOCore
import NIOHTTP1

/// A file sent in a `multipart/form-data` body: bind it as a field of the type given to `c.bind`.
///
/// ```swift
/// struct Upload: Decodable { let title: String; let file: FormFile }
/// let upload = try c.bind(Upload.self)   // upload.file.filename, upload.file.data
/// ```
public struct FormFile: Decodable, Sendable, Equatable, MultipartPartConvertible {
    /// The name the client gave (`filename` of the part's Content-Disposition), if any. Never use it as a path.
    public var filename: String?
    /// The part's `Content-Type`, if given.
    public var contentType: String?
    public var data: ByteBuffer

    public init(filename: String? = nil, contentType: String? = nil, data: ByteBuffer) {
        self.filename = filename
        self.contentType = contentType
        self.data = data
    }

    public var multipart: MultipartPart? {
        var headers = HTTPHeaders()
        if let contentType { headers.add(name: "content-type", value: contentType) }
        return MultipartPart(headers: headers, body: data)
    }

    public init?(multipart: MultipartPart) {
        self.init(
            filename: MultipartForm.parameter("filename", of: multipart.headers.first(name: "content-disposition")),
            contentType: multipart.headers.first(name: "content-type"), data: multipart.body)
    }

    public init(from decoder: any Decoder) throws {
        // `FormDataDecoder` builds file fields through `init?(multipart:)`; any other decoder has no file to give.
        throw DecodingError.dataCorrupted(
            .init(codingPath: decoder.codingPath, debugDescription: "a file is only sent in multipart/form-data"))
    }
}

/// The parts of a `multipart/form-data` body, in order.
public struct MultipartForm: Sendable {
    public let parts: [MultipartPart]

    /// The first part whose field name is `name`.
    public func part(_ name: String) -> MultipartPart? { parts.first { $0.name == name } }

    /// The text of field `name`.
    public func value(_ name: String) -> String? { part(name).map { String(buffer: $0.body) } }

    /// The file of field `name`.
    public func file(_ name: String) -> FormFile? { part(name).flatMap(FormFile.init(multipart:)) }

    /// Parses a whole body; `boundary` comes from the request's `Content-Type`.
    public static func parse(_ body: ByteBuffer, boundary: String) throws(BindingError) -> MultipartForm {
        var parts: [MultipartPart] = []
        var headers = HTTPHeaders()
        var partBody = ByteBuffer()
        var complete = false
        let parser = MultipartParser(boundary: boundary)
        parser.onHeader = { name, value in headers.add(name: name, value: value) }
        parser.onBody = { chunk in partBody.writeBuffer(&chunk) }
        parser.onPartComplete = {
            parts.append(MultipartPart(headers: headers, body: partBody))
            headers = HTTPHeaders()
            partBody = ByteBuffer()
            complete = true
        }
        do {
            try parser.execute(body)
        } catch {
            throw BindingError(field: nil, problem: "the multipart body is malformed")
        }
        guard complete else { throw BindingError(field: nil, problem: "the multipart body has no complete part") }
        return MultipartForm(parts: parts)
    }

    /// The `boundary` parameter of a `multipart/form-data` Content-Type (RFC 7578 §4.1; RFC 2046 §5.1.1: 1 to 70
    /// characters), or nil.
    static func boundary(of contentType: String) -> String? {
        guard let boundary = parameter("boundary", of: contentType), (1...70).contains(boundary.utf8.count) else {
            return nil
        }
        return boundary
    }

    /// A parameter of a header value such as `form-data; name="file"; filename="a b.txt"` (quotes and `\` escapes
    /// undone); case-insensitive name.
    static func parameter(_ name: String, of value: String?) -> String? {
        guard let value else { return nil }
        var rest = Substring(value)
        // Skip the leading token (the type or disposition).
        guard let first = rest.firstIndex(of: ";") else { return nil }
        rest = rest[rest.index(after: first)...]
        while !rest.isEmpty {
            rest = rest.drop { $0 == " " || $0 == "\t" || $0 == ";" }
            guard let equals = rest.firstIndex(of: "=") else { return nil }
            let key = rest[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            rest = rest[rest.index(after: equals)...].drop { $0 == " " || $0 == "\t" }
            var parsed = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                var escaped = false
                var end = rest.endIndex
                for index in rest.indices {
                    let character = rest[index]
                    if escaped {
                        parsed.append(character)
                        escaped = false
                    } else if character == "\\" {
                        escaped = true
                    } else if character == "\"" {
                        end = index
                        break
                    } else {
                        parsed.append(character)
                    }
                }
                rest = end < rest.endIndex ? rest[rest.index(after: end)...] : rest[rest.endIndex...]
            } else {
                let end = rest.firstIndex(of: ";") ?? rest.endIndex
                parsed = rest[..<end].trimmingCharacters(in: .whitespaces)
                rest = rest[end...]
            }
            if key == name { return parsed }
        }
        return nil
    }
}

extension Context {
    /// The parts of a `multipart/form-data` body (a 415 `BindingError` for another type, 400 when malformed).
    public func multipartForm() throws(BindingError) -> MultipartForm {
        guard let contentType = header("content-type"),
            contentType.lowercased().hasPrefix("multipart/form-data")
        else {
            throw BindingError(field: nil, problem: "send multipart/form-data", status: .unsupportedMediaType)
        }
        guard let boundary = MultipartForm.boundary(of: contentType) else {
            throw BindingError(field: nil, problem: "the multipart Content-Type has no valid boundary")
        }
        return try MultipartForm.parse(body ?? ByteBuffer(), boundary: boundary)
    }

    /// `bind` for `multipart/form-data`: fields by name, `FormFile` for files.
    func bindMultipart<T: Decodable>(_ type: T.Type, contentType: String) throws(BindingError) -> T {
        guard let boundary = MultipartForm.boundary(of: contentType) else {
            throw BindingError(field: nil, problem: "the multipart Content-Type has no valid boundary")
        }
        do {
            return try FormDataDecoder().decode(T.self, from: body ?? ByteBuffer(), boundary: boundary)
        } catch let error as DecodingError {
            throw BindingError.from(error)
        } catch {
            throw BindingError(field: nil, problem: "the multipart body is malformed")
        }
    }
}
