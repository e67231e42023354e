/// W3C Trace Context (`traceparent`, https://www.w3.org/TR/trace-context/): the gateway, and a SluiceWeb service
/// calling another through `ServiceClient`, is one hop of the trace.
///
/// An incoming `traceparent` that parses keeps its trace id and flags, and the gateway sends its own span id as
/// the parent upstream; a missing or malformed one starts a trace whose id is the request id when that is 32
/// lowercase hex digits (the gateway's own ids are), so upstream traces join the gateway's request id.
/// `tracestate` passes on untouched.
public enum TraceContext {
    /// `00-<trace id>-<parent id>-<flags>`, 55 characters.
    public static let length = 55

    /// The trace id and flags of a valid `traceparent`, or nil. Version `ff` is invalid; a future version is read
    /// by its version-00 prefix when what follows it starts with `-` (the specification's rule).
    public static func parse(_ value: String) -> (traceID: Substring, flags: Substring)? {
        let utf8 = value.utf8
        guard utf8.count >= length else { return nil }
        let bytes = Array(utf8.prefix(length))
        func isHex(_ range: Range<Int>) -> Bool {
            bytes[range].allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
        }
        func isZero(_ range: Range<Int>) -> Bool { bytes[range].allSatisfy { $0 == 0x30 } }
        guard isHex(0..<2), bytes[2] == 0x2D, isHex(3..<35), bytes[35] == 0x2D, isHex(36..<52), bytes[52] == 0x2D,
            isHex(53..<55)
        else { return nil }
        let version = (bytes[0], bytes[1])
        if version == (0x66, 0x66) { return nil }
        if version == (0x30, 0x30) && utf8.count != length { return nil }
        if utf8.count > length && Array(utf8)[length] != 0x2D { return nil }
        if isZero(3..<35) || isZero(36..<52) { return nil }
        let start = value.utf8.index(value.startIndex, offsetBy: 3)
        let traceEnd = value.utf8.index(start, offsetBy: 32)
        let flagsStart = value.utf8.index(value.startIndex, offsetBy: 53)
        let flagsEnd = value.utf8.index(flagsStart, offsetBy: 2)
        return (value[start..<traceEnd], value[flagsStart..<flagsEnd])
    }

    /// The `traceparent` to send upstream: the incoming trace (or a new one) with `spanID` as the parent.
    public static func upstreamHeader(incoming: String?, requestID: String, spanID: UInt64, newTraceID: () -> String) -> String {
        var traceID: Substring
        var flags: Substring = "01"
        if let incoming, let parsed = parse(incoming) {
            traceID = parsed.traceID
            flags = parsed.flags
        } else if requestID.utf8.count == 32, requestID.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }),
            requestID.utf8.contains(where: { $0 != 0x30 })
        {
            traceID = Substring(requestID)
        } else {
            traceID = Substring(newTraceID())
        }
        return String(unsafeUninitializedCapacity: length) { buffer in
            buffer[0] = 0x30
            buffer[1] = 0x30
            buffer[2] = 0x2D
            var index = 3
            for byte in traceID.utf8 {
                buffer[index] = byte
                index += 1
            }
            buffer[index] = 0x2D
            index += 1
            for shift in stride(from: 60, through: 0, by: -4) {
                let nibble = UInt8((spanID >> UInt64(shift)) & 0xF)
                buffer[index] = nibble < 10 ? 0x30 + nibble : 0x57 + nibble
                index += 1
            }
            buffer[index] = 0x2D
            index += 1
            for byte in flags.utf8 {
                buffer[index] = byte
                index += 1
            }
            return index
        }
    }

    /// A span id for a new hop: 64 random bits, never zero.
    public static func makeSpanID() -> UInt64 { RequestIDs.random() | 1 }

    /// The trace id of a `traceparent` the gateway made.
    public static func traceID(of header: String) -> Substring {
        let start = header.utf8.index(header.startIndex, offsetBy: 3)
        return header[start..<header.utf8.index(start, offsetBy: 32)]
    }
}
