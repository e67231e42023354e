public import NIOCore
import NIOPosix
import SluiceServer

/// Encodes `Encodable` values as compact JSON straight into a `ByteBuffer`, with no intermediate tree.
///
/// Foundation's `JSONEncoder` builds a value tree and then serializes it; on a small answer that costs more than
/// the rest of the request. This encoder writes as `encode(to:)` runs: a container's closing bracket is written when
/// a shallower container writes again or when the value is done, which is how every well-behaved `Encodable`
/// (synthesized or hand-written) uses containers. Keys come out in the order the type encodes them. Non-finite
/// floating-point values throw `EncodingError.invalidValue`, as Foundation's encoder does by default.
public struct JSONStreamEncoder: Sendable {
    public init() {}

    /// The encoder; its working state is kept per thread, so encoding allocates nothing of its own.
    public static let shared = JSONStreamEncoder()

    // Each thread sees only its own value: safe to share the variable.
    nonisolated(unsafe) private static let states = ThreadSpecificVariable<JSONStreamState>()

    /// Appends the JSON for `value` to `buffer`.
    public func encode(_ value: some Encodable, into buffer: inout ByteBuffer) throws {
        let state: JSONStreamState
        if let cached = Self.states.currentValue, !cached.inUse {
            state = cached
        } else {
            state = JSONStreamState()
            if Self.states.currentValue == nil { Self.states.currentValue = state }
        }
        state.inUse = true
        defer {
            state.bytes.removeAll(keepingCapacity: state.bytes.capacity <= 64 * 1024)
            state.frames.removeAll(keepingCapacity: true)
            state.inUse = false
        }
        try state.encodeValue(value, codingPath: [])
        buffer.writeBytes(state.bytes)
    }
}

/// The writer's state: the output so far and a stack of open containers. One thread's (see `JSONStreamEncoder.shared`),
/// and written for every key and value: its state skips the dynamic exclusivity check (see `Context`). The output
/// goes to an array, kept between encodings, and into the caller's buffer in one copy at the end: appending a byte
/// to an array is a few instructions, to a `ByteBuffer` a few hundred.
final class JSONStreamState {
    enum Kind { case object, array }

    struct Frame {
        var kind: Kind
        var count: Int
    }

    @exclusivity(unchecked) var bytes: [UInt8] = []
    @exclusivity(unchecked) var frames: [Frame] = []
    /// Set while an encoding runs, so that a nested encoding on the same thread gets its own state.
    @exclusivity(unchecked) var inUse = false

    init() {
        frames.reserveCapacity(8)
        bytes.reserveCapacity(256)
    }

    /// Closes containers deeper than `depth` (a write at `depth` means they are finished).
    @inline(__always)
    func close(deeperThan depth: Int) {
        while frames.count > depth {
            let frame = frames.removeLast()
            bytes.append(frame.kind == .object ? UInt8(ascii: "}") : UInt8(ascii: "]"))
        }
    }

    /// Opens a container at `depth` (the new frame's index), or continues it if one of that kind is already open
    /// there (Codable allows asking for the same container twice).
    func open(_ kind: Kind, depth: Int) {
        close(deeperThan: depth + 1)
        if frames.count == depth + 1, frames[depth].kind == kind { return }
        close(deeperThan: depth)
        frames.append(Frame(kind: kind, count: 0))
        bytes.append(kind == .object ? UInt8(ascii: "{") : UInt8(ascii: "["))
    }

    /// Counts an element of the container at `depth`; whether a comma goes before it.
    @inline(__always)
    func nextElement(depth: Int) -> Bool {
        if frames.count > depth + 1 { close(deeperThan: depth + 1) }
        let count = frames[depth].count
        frames[depth].count = count + 1
        return count > 0
    }

    /// An array element: the comma before it, when it is not the first.
    func beginElement(depth: Int) {
        if nextElement(depth: depth) { bytes.append(UInt8(ascii: ",")) }
    }

    /// `,"key":` (the comma when the key is not the object's first).
    func writeKey(_ key: String, depth: Int) {
        if nextElement(depth: depth) { bytes.append(UInt8(ascii: ",")) }
        Self.appendQuoted(key, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }

    func encodeValue<T: Encodable>(_ value: T, codingPath: [any CodingKey]) throws {
        let depth = frames.count
        let start = bytes.count
        try value.encode(to: JSONStreamEncoding(state: self, depth: depth, codingPath: codingPath))
        close(deeperThan: depth)
        if bytes.count == start { append("{}") }  // encoded nothing: an empty object
    }

    func append(_ text: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    func writeString(_ string: String) {
        Self.appendQuoted(string, to: &bytes)
    }

    @inline(__always)
    static func needsEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }

    /// `string` as a JSON string, quoted and escaped (RFC 8259 §7).
    static func appendQuoted(_ string: String, to bytes: inout [UInt8]) {
        if let done = string.utf8.withContiguousStorageIfAvailable({ appendQuoted($0, to: &bytes) }) { return done }
        var string = string
        string.withUTF8 { appendQuoted($0, to: &bytes) }
    }

    private static func appendQuoted(_ utf8: UnsafeBufferPointer<UInt8>, to bytes: inout [UInt8]) {
        bytes.reserveCapacity(bytes.count + utf8.count + 2)
        bytes.append(UInt8(ascii: "\""))
        if !containsEscape(UnsafeRawBufferPointer(utf8)) {
            bytes.append(contentsOf: utf8)  // the common case: one copy
        } else {
            for byte in utf8 { appendEscaped(byte, to: &bytes) }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Whether any byte needs escaping (below 0x20, a quote or a backslash), looked for eight at a time.
    static func containsEscape(_ bytes: UnsafeRawBufferPointer) -> Bool {
        ByteWords.contains(
            bytes,
            mayHave: {
                ByteWords.below(0x20, in: $0) | ByteWords.equal(UInt8(ascii: "\""), in: $0)
                    | ByteWords.equal(UInt8(ascii: "\\"), in: $0) != 0
            },
            picks: needsEscape)
    }

    private static func appendEscaped(_ byte: UInt8, to bytes: inout [UInt8]) {
        guard needsEscape(byte) else {
            bytes.append(byte)
            return
        }
        bytes.append(UInt8(ascii: "\\"))
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(byte)
        case UInt8(ascii: "\n"): bytes.append(UInt8(ascii: "n"))
        case UInt8(ascii: "\r"): bytes.append(UInt8(ascii: "r"))
        case UInt8(ascii: "\t"): bytes.append(UInt8(ascii: "t"))
        default:
            // A control character: \u00XX, lowercase hex.
            bytes.append(UInt8(ascii: "u"))
            bytes.append(UInt8(ascii: "0"))
            bytes.append(UInt8(ascii: "0"))
            bytes.append(hexDigit(byte >> 4))
            bytes.append(hexDigit(byte & 0xF))
        }
    }

    @inline(__always)
    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? nibble + UInt8(ascii: "0") : nibble - 10 + UInt8(ascii: "a")
    }

    func writeInteger(_ value: some BinaryInteger) {
        guard let magnitude = UInt64(exactly: value.magnitude) else {
            bytes.append(contentsOf: String(value).utf8)
            return
        }
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        Self.appendDigits(magnitude, to: &bytes)
    }

    /// The decimal digits of `value`.
    static func appendDigits(_ value: UInt64, to bytes: inout [UInt8]) {
        let start = bytes.count
        var rest = value
        repeat {
            bytes.append(UInt8(truncatingIfNeeded: rest % 10) &+ UInt8(ascii: "0"))
            rest /= 10
        } while rest > 0
        bytes[start...].reverse()
    }

    func writeFloat(_ value: Double, codingPath: [any CodingKey]) throws {
        guard value.isFinite else {
            throw EncodingError.invalidValue(
                value, EncodingError.Context(codingPath: codingPath, debugDescription: "\(value) is not valid JSON"))
        }
        if value == value.rounded(), abs(value) < 1e15 {
            writeInteger(Int64(value))
        } else {
            bytes.append(contentsOf: value.description.utf8)
        }
    }

    func writeBool(_ value: Bool) {
        if value { append("true") } else { append("false") }
    }

    /// Writes a primitive, or recurses for anything else.
    func write<T: Encodable>(_ value: T, codingPath: [any CodingKey]) throws {
        switch value {
        case let string as String: writeString(string)
        case let bool as Bool: writeBool(bool)
        case let int as Int: writeInteger(int)
        case let int as Int64: writeInteger(int)
        case let int as Int32: writeInteger(int)
        case let int as UInt: writeInteger(int)
        case let int as UInt64: writeInteger(int)
        case let double as Double: try writeFloat(double, codingPath: codingPath)
        case let float as Float: try writeFloat(Double(float), codingPath: codingPath)
        // The other integer types (their own `encode(to:)` would come back here for ever).
        case let int as any BinaryInteger: writeInteger(int)
        default: try encodeValue(value, codingPath: codingPath)
        }
    }
}

/// The `Encoder` handed to `encode(to:)`: remembers the depth its containers open at.
struct JSONStreamEncoding: Encoder {
    let state: JSONStreamState
    let depth: Int
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        state.open(.object, depth: depth)
        return KeyedEncodingContainer(JSONStreamKeyed<Key>(state: state, depth: depth, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        state.open(.array, depth: depth)
        return JSONStreamUnkeyed(state: state, depth: depth, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        JSONStreamSingle(state: state, depth: depth, codingPath: codingPath)
    }
}

struct JSONStreamKeyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let state: JSONStreamState
    let depth: Int
    let codingPath: [any CodingKey]

    mutating func encodeNil(forKey key: Key) throws {
        state.writeKey(key.stringValue, depth: depth)
        state.append("null")
    }

    mutating func encode(_ value: String, forKey key: Key) throws {
        state.writeKey(key.stringValue, depth: depth)
        state.writeString(value)
    }

    mutating func encode(_ value: Bool, forKey key: Key) throws {
        state.writeKey(key.stringValue, depth: depth)
        state.writeBool(value)
    }

    mutating func encode(_ value: Int, forKey key: Key) throws {
        state.writeKey(key.stringValue, depth: depth)
        state.writeInteger(value)
    }

    mutating func encode(_ value: Double, forKey key: Key) throws {
        state.writeKey(key.stringValue, depth: depth)
        try state.writeFloat(value, codingPath: codingPath + [key])
    }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        state.writeKey(key.stringValue, depth: depth)
        try state.write(value, codingPath: codingPath + [key])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        state.writeKey(key.stringValue, depth: depth)
        state.open(.object, depth: depth + 1)
        return KeyedEncodingContainer(
            JSONStreamKeyed<NestedKey>(state: state, depth: depth + 1, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        state.writeKey(key.stringValue, depth: depth)
        state.open(.array, depth: depth + 1)
        return JSONStreamUnkeyed(state: state, depth: depth + 1, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder {
        state.writeKey("super", depth: depth)
        return JSONStreamEncoding(state: state, depth: depth + 1, codingPath: codingPath)
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        state.writeKey(key.stringValue, depth: depth)
        return JSONStreamEncoding(state: state, depth: depth + 1, codingPath: codingPath + [key])
    }
}

struct JSONStreamUnkeyed: UnkeyedEncodingContainer {
    let state: JSONStreamState
    let depth: Int
    let codingPath: [any CodingKey]
    var count: Int { state.frames.count > depth ? state.frames[depth].count : 0 }

    mutating func encodeNil() throws {
        state.beginElement(depth: depth)
        state.append("null")
    }

    mutating func encode(_ value: String) throws {
        state.beginElement(depth: depth)
        state.writeString(value)
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        state.beginElement(depth: depth)
        try state.write(value, codingPath: codingPath)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        state.beginElement(depth: depth)
        state.open(.object, depth: depth + 1)
        return KeyedEncodingContainer(JSONStreamKeyed<NestedKey>(state: state, depth: depth + 1, codingPath: codingPath))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        state.beginElement(depth: depth)
        state.open(.array, depth: depth + 1)
        return JSONStreamUnkeyed(state: state, depth: depth + 1, codingPath: codingPath)
    }

    mutating func superEncoder() -> any Encoder {
        state.beginElement(depth: depth)
        return JSONStreamEncoding(state: state, depth: depth + 1, codingPath: codingPath)
    }
}

struct JSONStreamSingle: SingleValueEncodingContainer {
    let state: JSONStreamState
    let depth: Int
    let codingPath: [any CodingKey]

    mutating func encodeNil() throws { state.append("null") }
    mutating func encode(_ value: String) throws { state.writeString(value) }
    mutating func encode(_ value: Bool) throws { state.writeBool(value) }
    mutating func encode(_ value: Int) throws { state.writeInteger(value) }
    mutating func encode(_ value: Double) throws { try state.writeFloat(value, codingPath: codingPath) }
    mutating func encode<T: Encodable>(_ value: T) throws { try state.write(value, codingPath: codingPath) }
}
