import SluiceRouter

#if canImport(Glibc)
import Glibc
#endif

// libFuzzer target for `PathNormalizer`. The first byte picks the options (bit 0: merge slashes; bits 1-2: escaped
// slashes reject / keep / decode); the rest is the path, read as UTF-8 the way NIO hands over a request target.
//
// Invariants: no crash; a path that is not refused comes out starting with '/', with no '//' when merging, no '.'
// or '..' segment, no '%' without two hex digits after it, escapes only in upper case and never of an unreserved
// character, no raw byte a request target may not hold, no encoded slash unless `keep`; and normalising the result
// again leaves it unchanged.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let options = data[0]
    let escaped: EscapedSlashes = [.reject, .keep, .decode, .keep][Int(options >> 1) & 3]
    let normalizer = PathNormalizer(mergeSlashes: options & 1 == 1, escapedSlashes: escaped)
    let text = String(decoding: UnsafeBufferPointer(start: data + 1, count: size - 1), as: UTF8.self)
    // Once as a whole string, once as a slice that does not start at its string's start (as the path before '?').
    check(normalizer, text[...])
    let padded = "?" + text + "?q"
    check(normalizer, padded.dropFirst().dropLast(2))
    return 0
}

func check(_ normalizer: PathNormalizer, _ path: Substring) {
    let result: PathNormalizer.Result
    do {
        result = try normalizer.normalize(path)
    } catch {
        return
    }
    let output: String
    switch result {
    case .unchanged: output = String(path)
    case .normalized(let normal): output = normal
    }
    if let problem = problem(in: Array(output.utf8), normalizer) {
        fail("\(problem) in \(escape(output)) (from \(escape(String(path))), \(normalizer))")
    }
    do {
        let again = try normalizer.normalize(output[...])
        if again != .unchanged { fail("not idempotent: \(escape(String(path))) → \(escape(output)) → \(again)") }
    } catch {
        fail("the normal form \(escape(output)) of \(escape(String(path))) is refused: \(error)")
    }
}

/// What is wrong with a normalised path, or nil.
func problem(in bytes: [UInt8], _ normalizer: PathNormalizer) -> String? {
    guard bytes.first == UInt8(ascii: "/") else { return "does not start with '/'" }
    let slash = UInt8(ascii: "/")
    var index = 0
    while index < bytes.count {
        let byte = bytes[index]
        switch byte {
        case 0...0x20, 0x7F...0xFF, UInt8(ascii: "\\"), UInt8(ascii: "#"):
            return "raw byte 0x\(String(byte, radix: 16))"
        case UInt8(ascii: "%"):
            guard index + 2 < bytes.count, let high = upperHex(bytes[index + 1]), let low = upperHex(bytes[index + 2])
            else { return "'%' without two upper-case hex digits" }
            let value = high << 4 | low
            if isUnreserved(value) { return "an escaped unreserved character" }
            if value == 0 { return "%00" }
            if value == slash || value == UInt8(ascii: "\\"), normalizer.escapedSlashes != .keep {
                return "an encoded slash with escapedSlashes = \(normalizer.escapedSlashes)"
            }
            index += 3
            continue
        default:
            break
        }
        index += 1
    }
    let segments = bytes.split(separator: slash, omittingEmptySubsequences: false).dropFirst()
    for (position, segment) in segments.enumerated() {
        if segment.elementsEqual([UInt8(ascii: ".")]) || segment.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) {
            return "a dot segment"
        }
        if segment.isEmpty && normalizer.mergeSlashes && position != segments.count - 1 { return "'//'" }
    }
    return nil
}

func upperHex(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
}

func isUnreserved(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
        UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
        true
    default: false
    }
}

func escape(_ text: String) -> String {
    var out = "\""
    for byte in text.utf8 {
        if byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
            out.append(Character(Unicode.Scalar(byte)))
        } else {
            out += "\\x" + (byte < 16 ? "0" : "") + String(byte, radix: 16)
        }
    }
    return out + "\""
}

/// An invariant failed: say which and crash, so that libFuzzer saves the input.
func fail(_ message: String) -> Never {
    var text = "FuzzPath invariant failed: \(message)\n"
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    fatalError(message)
}
