/// The `Decoder` `JSONBodyDecoder` hands to `init(from:)`: one value of a scanned document.
struct JSONBodyDecoding: Decoder {
    let document: JSONDocument
    let index: Int
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        try document.expect(.object, [String: Any].self, at: index, path: codingPath)
        return KeyedDecodingContainer(JSONBodyKeyed<Key>(document: document, object: index, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try document.expect(.array, [Any].self, at: index, path: codingPath)
        return JSONBodyUnkeyed(document: document, array: index, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        JSONBodySingle(document: document, index: index, codingPath: codingPath)
    }
}

struct JSONBodyKeyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let document: JSONDocument
    let object: Int
    let codingPath: [any CodingKey]

    var allKeys: [Key] { document.keys(of: object).compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { document.member(key.stringValue, of: object) != nil }

    /// The value's token, or `keyNotFound`.
    private func value(_ key: Key) throws -> Int {
        guard let index = document.member(key.stringValue, of: object) else {
            throw DecodingError.keyNotFound(
                key, .init(codingPath: codingPath, debugDescription: "No value associated with key \(key.stringValue)."))
        }
        return index
    }

    private func path(_ key: Key) -> [any CodingKey] { codingPath + [key] }

    func decodeNil(forKey key: Key) throws -> Bool { document.isNull(try value(key)) }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
        try document.bool(at: value(key), path: codingPath + [key])
    }

    func decode(_ type: String.Type, forKey key: Key) throws -> String {
        try document.string(at: value(key), path: path(key))
    }

    func decode(_ type: Double.Type, forKey key: Key) throws -> Double {
        try document.float(Double.self, at: value(key), path: path(key))
    }

    func decode(_ type: Float.Type, forKey key: Key) throws -> Float {
        try document.float(Float.self, at: value(key), path: path(key))
    }

    func decode(_ type: Int.Type, forKey key: Key) throws -> Int {
        try document.integer(Int.self, at: value(key), path: path(key))
    }

    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try integer(key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try integer(key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try integer(key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try integer(key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try integer(key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try integer(key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try integer(key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try integer(key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try integer(key) }

    private func integer<I: FixedWidthInteger>(_ key: Key) throws -> I {
        try document.integer(I.self, at: value(key), path: path(key))
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try document.decode(T.self, at: value(key), path: path(key))
    }

    /// An absent key and `null` are both nil: one lookup, not the three of the protocol's default.
    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let index = document.member(key.stringValue, of: object), !document.isNull(index) else { return nil }
        return try document.decode(T.self, at: index, path: path(key))
    }

    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? {
        guard let index = document.member(key.stringValue, of: object), !document.isNull(index) else { return nil }
        return try document.string(at: index, path: path(key))
    }

    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? {
        guard let index = document.member(key.stringValue, of: object), !document.isNull(index) else { return nil }
        return try document.integer(Int.self, at: index, path: path(key))
    }

    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? {
        guard let index = document.member(key.stringValue, of: object), !document.isNull(index) else { return nil }
        return try document.bool(at: index, path: path(key))
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        try JSONBodyDecoding(document: document, index: value(key), codingPath: path(key)).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try JSONBodyDecoding(document: document, index: value(key), codingPath: path(key)).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        let key = JSONSuperKey()
        let index = document.member(key.stringValue, of: object) ?? document.absent
        return JSONBodyDecoding(document: document, index: index, codingPath: codingPath + [key])
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        let index = document.member(key.stringValue, of: object) ?? document.absent
        return JSONBodyDecoding(document: document, index: index, codingPath: path(key))
    }
}

/// `super`, the key of `superDecoder()`.
struct JSONSuperKey: CodingKey {
    var stringValue: String { "super" }
    var intValue: Int? { nil }
    init() {}
    init?(stringValue: String) { nil }
    init?(intValue: Int) { nil }
}

struct JSONBodyUnkeyed: UnkeyedDecodingContainer {
    let document: JSONDocument
    let codingPath: [any CodingKey]
    let count: Int?
    private(set) var currentIndex = 0
    /// The current element's token.
    private var position: Int

    init(document: JSONDocument, array: Int, codingPath: [any CodingKey]) {
        self.document = document
        self.codingPath = codingPath
        self.count = document.tokens[array].end
        self.position = array + 1
    }

    var isAtEnd: Bool { currentIndex >= count! }

    /// The current element's path (built only for an error or a nested value).
    private var elementPath: [any CodingKey] { codingPath + [JSONIndexKey(currentIndex)] }

    /// `valueNotFound` past the last element.
    private func checkNotAtEnd(_ type: Any.Type) throws {
        guard isAtEnd else { return }
        throw DecodingError.valueNotFound(type, .init(codingPath: elementPath, debugDescription: "Unkeyed container is at end."))
    }

    /// Moves past the current element: only once it decoded, as Foundation's container does.
    private mutating func advance() {
        position = document.tokens[position].next
        currentIndex += 1
    }

    /// The current element's token and path, and moves past it (for nested containers and decoders).
    private mutating func take(_ type: Any.Type) throws -> (index: Int, path: [any CodingKey]) {
        try checkNotAtEnd(type)
        let taken = (position, elementPath)
        advance()
        return taken
    }

    mutating func decodeNil() throws -> Bool {
        try checkNotAtEnd(Any?.self)
        guard document.isNull(position) else { return false }
        advance()
        return true
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool {
        try checkNotAtEnd(type)
        let value = try document.bool(at: position, path: elementPath)
        advance()
        return value
    }

    mutating func decode(_ type: String.Type) throws -> String {
        try checkNotAtEnd(type)
        let value = try document.string(at: position, path: elementPath)
        advance()
        return value
    }

    mutating func decode(_ type: Int.Type) throws -> Int {
        try checkNotAtEnd(type)
        let value = try document.integer(Int.self, at: position, path: elementPath)
        advance()
        return value
    }

    mutating func decode(_ type: Double.Type) throws -> Double {
        try checkNotAtEnd(type)
        let value = try document.float(Double.self, at: position, path: elementPath)
        advance()
        return value
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try checkNotAtEnd(type)
        let value = try document.decode(T.self, at: position, path: elementPath)
        advance()
        return value
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        let (index, path) = try take(KeyedDecodingContainer<NestedKey>.self)
        return try JSONBodyDecoding(document: document, index: index, codingPath: path).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let (index, path) = try take((any UnkeyedDecodingContainer).self)
        return try JSONBodyDecoding(document: document, index: index, codingPath: path).unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder {
        let (index, path) = try take((any Decoder).self)
        return JSONBodyDecoding(document: document, index: index, codingPath: path)
    }
}

struct JSONBodySingle: SingleValueDecodingContainer {
    let document: JSONDocument
    let index: Int
    let codingPath: [any CodingKey]

    func decodeNil() -> Bool { document.isNull(index) }
    func decode(_ type: Bool.Type) throws -> Bool { try document.bool(at: index, path: codingPath) }
    func decode(_ type: String.Type) throws -> String { try document.string(at: index, path: codingPath) }
    func decode(_ type: Double.Type) throws -> Double { try document.float(Double.self, at: index, path: codingPath) }
    func decode(_ type: Float.Type) throws -> Float { try document.float(Float.self, at: index, path: codingPath) }
    func decode(_ type: Int.Type) throws -> Int { try document.integer(Int.self, at: index, path: codingPath) }
    func decode(_ type: Int8.Type) throws -> Int8 { try document.integer(Int8.self, at: index, path: codingPath) }
    func decode(_ type: Int16.Type) throws -> Int16 { try document.integer(Int16.self, at: index, path: codingPath) }
    func decode(_ type: Int32.Type) throws -> Int32 { try document.integer(Int32.self, at: index, path: codingPath) }
    func decode(_ type: Int64.Type) throws -> Int64 { try document.integer(Int64.self, at: index, path: codingPath) }
    func decode(_ type: UInt.Type) throws -> UInt { try document.integer(UInt.self, at: index, path: codingPath) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try document.integer(UInt8.self, at: index, path: codingPath) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try document.integer(UInt16.self, at: index, path: codingPath) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try document.integer(UInt32.self, at: index, path: codingPath) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try document.integer(UInt64.self, at: index, path: codingPath) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try document.decode(T.self, at: index, path: codingPath) }
}
