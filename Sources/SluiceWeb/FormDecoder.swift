/// Decodes `application/x-www-form-urlencoded` text (`name=Ada&age=36&tag=a&tag=b`) into a `Decodable` type:
/// strings, booleans (`true/false/on/off/1/0`), integers, floating-point numbers, optionals (an absent key is nil),
/// string-backed enums, and lists of these from repeated keys (`tag=a&tag=b` or `tag[]=a&tag[]=b`). Nested objects
/// are not supported. Errors are `DecodingError`s with the field's coding path, as `JSONDecoder`'s.
public struct FormDecoder: Sendable {
    public init() {}

    public func decode<T: Decodable>(_ type: T.Type, from text: Substring) throws -> T {
        var fields: [String: [String]] = [:]
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let equals = pair.firstIndex(of: "=")
            var key = QueryString.decode(equals.map { pair[..<$0] } ?? pair[...])
            if key.hasSuffix("[]") { key.removeLast(2) }
            let value = equals.map { QueryString.decode(pair[pair.index(after: $0)...]) } ?? ""
            fields[key, default: []].append(value)
        }
        return try T(from: FormFieldsDecoder(fields: fields, values: nil, codingPath: []))
    }
}

/// The decoder behind `FormDecoder`: the whole form (keyed), one field's values (a list), or one value.
private struct FormFieldsDecoder: Decoder {
    let fields: [String: [String]]
    /// Set when decoding one field: its values.
    let values: [String]?
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard values == nil else {
            throw DecodingError.typeMismatch(
                [String: Any].self, .init(codingPath: codingPath, debugDescription: "nested objects are not supported in forms"))
        }
        return KeyedDecodingContainer(FormKeyedContainer<Key>(fields: fields, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        FormListContainer(values: values ?? [], codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        guard let values, let value = values.last else {
            throw DecodingError.valueNotFound(String.self, .init(codingPath: codingPath, debugDescription: "no value"))
        }
        return FormValue(value: value, codingPath: codingPath)
    }
}

private struct FormKeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let fields: [String: [String]]
    let codingPath: [any CodingKey]
    var allKeys: [Key] { fields.keys.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { fields[key.stringValue] != nil }

    private func values(_ key: Key) throws -> [String] {
        guard let values = fields[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing"))
        }
        return values
    }

    func decodeNil(forKey key: Key) throws -> Bool { fields[key.stringValue] == nil }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        let values = try values(key)
        let path = codingPath + [key]
        if let value = values.last, let scalar = try FormValue(value: value, codingPath: path).scalar(type) {
            return scalar
        }
        return try T(from: FormFieldsDecoder(fields: [:], values: values, codingPath: path))
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        throw DecodingError.typeMismatch(
            [String: Any].self, .init(codingPath: codingPath + [key], debugDescription: "nested objects are not supported in forms"))
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        FormListContainer(values: try values(key), codingPath: codingPath + [key])
    }

    func superDecoder() throws -> any Decoder { FormFieldsDecoder(fields: fields, values: nil, codingPath: codingPath) }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        FormFieldsDecoder(fields: [:], values: try values(key), codingPath: codingPath + [key])
    }
}

private struct ListIndex: CodingKey {
    let intValue: Int?
    var stringValue: String { "Index \(intValue ?? 0)" }
    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}

private struct FormListContainer: UnkeyedDecodingContainer {
    let values: [String]
    let codingPath: [any CodingKey]
    var currentIndex = 0
    var count: Int? { values.count }
    var isAtEnd: Bool { currentIndex >= values.count }

    init(values: [String], codingPath: [any CodingKey]) {
        self.values = values
        self.codingPath = codingPath
    }

    mutating func decodeNil() throws -> Bool { false }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(type, .init(codingPath: codingPath, debugDescription: "no more values"))
        }
        let path = codingPath + [ListIndex(currentIndex)]
        let value = values[currentIndex]
        currentIndex += 1
        if let scalar = try FormValue(value: value, codingPath: path).scalar(type) { return scalar }
        return try T(from: FormFieldsDecoder(fields: [:], values: [value], codingPath: path))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        throw DecodingError.typeMismatch(
            [String: Any].self, .init(codingPath: codingPath, debugDescription: "nested objects are not supported in forms"))
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw DecodingError.typeMismatch(
            [Any].self, .init(codingPath: codingPath, debugDescription: "nested lists are not supported in forms"))
    }

    mutating func superDecoder() throws -> any Decoder {
        FormFieldsDecoder(fields: [:], values: values, codingPath: codingPath)
    }
}

private struct FormValue: SingleValueDecodingContainer {
    let value: String
    let codingPath: [any CodingKey]

    /// The value as `T` when `T` is a scalar a form can carry; nil for other types (decoded through `init(from:)`).
    func scalar<T>(_ type: T.Type) throws -> T? {
        func parsed<S>(_ make: (String) -> S?) throws -> T {
            guard let result = make(value) else {
                throw DecodingError.typeMismatch(T.self, .init(codingPath: codingPath, debugDescription: "got \"\(value)\""))
            }
            return result as! T
        }
        switch type {
        case is String.Type: return (value as! T)
        case is Bool.Type:
            return try parsed { text -> Bool? in
                switch text.lowercased() {
                case "true", "on", "1", "yes": true
                case "false", "off", "0", "no", "": false
                default: nil
                }
            }
        case is Int.Type: return try parsed { Int($0) }
        case is Int64.Type: return try parsed { Int64($0) }
        case is Int32.Type: return try parsed { Int32($0) }
        case is UInt.Type: return try parsed { UInt($0) }
        case is UInt64.Type: return try parsed { UInt64($0) }
        case is Double.Type: return try parsed { Double($0).flatMap { $0.isFinite ? $0 : nil } }
        case is Float.Type: return try parsed { Float($0).flatMap { $0.isFinite ? $0 : nil } }
        default: return nil
        }
    }

    func decodeNil() -> Bool { false }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        if let scalar = try scalar(type) { return scalar }
        return try T(from: FormFieldsDecoder(fields: [:], values: [value], codingPath: codingPath))
    }
}
