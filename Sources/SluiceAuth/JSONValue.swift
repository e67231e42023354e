/// Any JSON value, as decoded from a JWT's header or payload.
enum JSONValue: Decodable, Sendable, Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// A number's value (`exp`, `nbf`, `iat` are NumericDates: seconds, possibly fractional).
    var number: Double? {
        switch self {
        case .integer(let value): Double(value)
        case .number(let value): value
        default: nil
        }
    }

    /// A scalar as text: strings as they are, numbers and booleans printed; nil for null, arrays and objects.
    var scalarText: String? {
        switch self {
        case .string(let value): value
        case .integer(let value): String(value)
        case .number(let value):
            // 1.0e9 reads better as 1000000000; integral values within Int64 print without a fraction.
            if value.rounded() == value, abs(value) < 9.0e15 { String(Int64(value)) } else { String(value) }
        case .bool(let value): value ? "true" : "false"
        case .null, .array, .object: nil
        }
    }

    /// The claim as text for ``JWTIdentity/claims``: scalars, or arrays of scalars joined by ",".
    var claimText: String? {
        if case .array(let elements) = self {
            let texts = elements.compactMap(\.scalarText)
            return texts.count == elements.count ? texts.joined(separator: ",") : nil
        }
        return scalarText
    }
}
