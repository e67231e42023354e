/// A strict base64 decoder (RFC 4648) for the few places this module needs one: JWT segments (the URL alphabet,
/// unpadded), `Authorization: Basic` and `{SHA}` htpasswd entries (the standard alphabet).
///
/// Strict means: no whitespace, no characters outside the alphabet, padding only where allowed and then correct,
/// and the unused low bits of the last character zero, so each byte string has exactly one accepted encoding.
enum Base64 {
    enum Alphabet {
        /// `A–Z a–z 0–9 + /`
        case standard
        /// `A–Z a–z 0–9 - _`
        case url
    }

    enum Padding {
        case required
        case optional
        case forbidden
    }

    private static let invalid: UInt8 = 0xFF

    private static func table(_ alphabet: Alphabet) -> [UInt8] {
        var table = [UInt8](repeating: invalid, count: 256)
        let symbols =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789" + (alphabet == .url ? "-_" : "+/")
        for (value, symbol) in symbols.utf8.enumerated() { table[Int(symbol)] = UInt8(value) }
        return table
    }

    private static let standardTable = table(.standard)
    private static let urlTable = table(.url)

    static func decode(_ text: some Collection<UInt8>, alphabet: Alphabet, padding: Padding) -> [UInt8]? {
        let table = alphabet == .url ? urlTable : standardTable
        var symbols = Array(text)
        var padded = 0
        while padded < 2, symbols.last == UInt8(ascii: "=") {
            symbols.removeLast()
            padded += 1
        }
        if padded > 0 {
            guard padding != .forbidden, (symbols.count + padded) % 4 == 0 else { return nil }
        } else if padding == .required, symbols.count % 4 != 0 {
            return nil
        }
        guard symbols.count % 4 != 1 else { return nil }

        var out: [UInt8] = []
        out.reserveCapacity(symbols.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for symbol in symbols {
            let value = table[Int(symbol)]
            guard value != invalid else { return nil }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
                accumulator &= (1 << UInt32(bits)) - 1
            }
        }
        // What is left are the last character's unused bits: a canonical encoding has them zero.
        guard accumulator == 0 else { return nil }
        return out
    }
}
