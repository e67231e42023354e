public import NIOCore
import NIOPosix

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
        state.buffer = buffer
        buffer = ByteBuffer()  // hand the storage over, so writes do not copy it
        defer {
            buffer = state.buffer
            state.buffer = ByteBuffer()
            state.frames.removeAll(keepingCapacity: true)
            state.inUse = false
        }
        try state.encodeValue(value, codingPath: [])
    }
}

/// The writer's state: the output and a stack of open containers. One thread's (see `JSONStreamEncoder.shared`), and
/// written through for every key and value: its state skips the dynamic exclusivity check (see `Context`).
final class JSONStreamState {
    enum Kind { case object, array }

    struct Frame {
        var kind: Kind
        var count: Int
    }

    @exclusivity(unchecked) var buffer = ByteBuffer()
    @exclusivity(unchecked) var frames: [Frame] = []
    /// Set while an encoding runs, so that a nested encoding on the same thread gets its own state.
    @exclusivity(unchecked) var inUse = false

    init() {
        frames.reserveCapacity(8)
    }

    /// Closes containers deeper than `depth` (a write at `depth` means they are finished).
    @inline(__always)
    func close(deeperThan depth: Int) {
        while frames.count > depth {
            let frame = frames.removeLast()
            buffer.writeInteger(frame.kind == .object ? UInt8(ascii: "}") : UInt8(ascii: "]"))
        }
    }

    /// Opens a container at `depth` (the new frame's index), or continues it if one of that kind is already open
    /// there (Codable allows asking for the same container twice).
    func open(_ kind: Kind, depth: Int) {
        close(deeperThan: depth + 1)
        if frames.count == depth + 1, frames[depth].kind == kind { return }
        close(deeperThan: depth)
        frames.append(Frame(kind: kind, count: 0))
        buffer.writeInteger(kind == .object ? UInt8(ascii: "{") : UInt8(ascii: "["))
    }

    /// Writes the separator before the next element of the container at `depth`.
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
        if nextElement(depth: depth) { buffer.writeInteger(UInt8(ascii: ",")) }
    }

    func writeKey(_ key: String, depth: Int) {
        let comma = nextElement(depth: depth)
        Self.appendKey(key, comma: comma, to: &buffer)  // one access to `buffer` for the whole key
    }

    func encodeValue<T: Encodable>(_ value: T, codingPath: [any CodingKey]) throws {
        let depth = frames.count
        let start = buffer.writerIndex
        try value.encode(to: JSONStreamEncoding(state: self, depth: depth, codingPath: codingPath))
        close(deeperThan: depth)
        if buffer.writerIndex == start { buffer.writeStaticString("{}") }  // encoded nothing: an empty object
    }

    func writeString(_ string: String) {
        Self.appendQuoted(string, to: &buffer)
    }

    /// `,"key":` (the comma when `comma`).
    static func appendKey(_ key: String, comma: Bool, to buffer: inout ByteBuffer) {
        if comma { buffer.writeInteger(UInt8(ascii: ",")) }
        appendQuoted(key, to: &buffer)
        buffer.writeInteger(UInt8(ascii: ":"))
    }

    @inline(__always)
    static func needsEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }

    /// `string` as a JSON string, quoted and escaped (RFC 8259 §7).
    static func appendQuoted(_ string: String, to buffer: inout ByteBuffer) {
        var string = string
        string.withUTF8 { bytes in
            if !bytes.contains(where: needsEscape) {
                // The common case: one copy between the quotes.
                buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: bytes.count + 2) { space in
                    space[0] = UInt8(ascii: "\"")
                    UnsafeMutableRawBufferPointer(rebasing: space[1...]).copyMemory(from: UnsafeRawBufferPointer(bytes))
                    space[bytes.count + 1] = UInt8(ascii: "\"")
                    return bytes.count + 2
                }
                return
            }
            buffer.writeInteger(UInt8(ascii: "\""))
            var runStart = 0
            for index in 0..<bytes.count {
                let byte = bytes[index]
                guard needsEscape(byte) else { continue }
                buffer.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[runStart..<index]))
                runStart = index + 1
                switch byte {
                case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
                case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
                case UInt8(ascii: "\n"): buffer.writeStaticString("\\n")
                case UInt8(ascii: "\r"): buffer.writeStaticString("\\r")
                case UInt8(ascii: "\t"): buffer.writeStaticString("\\t")
                default:
                    let hex: StaticString = "0123456789abcdef"
                    buffer.writeStaticString("\\u00")
                    hex.withUTF8Buffer { hex in
                        buffer.writeInteger(hex[Int(byte >> 4)])
                        buffer.writeInteger(hex[Int(byte & 0xF)])
                    }
                }
            }
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[runStart...]))
            buffer.writeInteger(UInt8(ascii: "\""))
        }
    }

    func writeInteger(_ value: some BinaryInteger) {
        buffer.writeString(String(value))
    }

    func writeFloat(_ value: Double, codingPath: [any CodingKey]) throws {
        guard value.isFinite else {
            throw EncodingError.invalidValue(
                value, EncodingError.Context(codingPath: codingPath, debugDescription: "\(value) is not valid JSON"))
        }
        if value == value.rounded(), abs(value) < 1e15 {
            buffer.writeString(String(Int64(value)))
        } else {
            buffer.writeString(value.description)
        }
    }

    func writeBool(_ value: Bool) {
        if value { buffer.writeStaticString("true") } else { buffer.writeStaticString("false") }
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
        state.buffer.writeStaticString("null")
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
        state.buffer.writeStaticString("null")
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

    mutating func encodeNil() throws { state.buffer.writeStaticString("null") }
    mutating func encode(_ value: String) throws { state.writeString(value) }
    mutating func encode(_ value: Bool) throws { state.writeBool(value) }
    mutating func encode(_ value: Int) throws { state.writeInteger(value) }
    mutating func encode(_ value: Double) throws { try state.writeFloat(value, codingPath: codingPath) }
    mutating func encode<T: Encodable>(_ value: T) throws { try state.write(value, codingPath: codingPath) }
}
