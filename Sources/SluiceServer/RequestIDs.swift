import NIOPosix

/// Request ids (`X-Request-Id`): making and checking, shared by SluiceWeb and the gateway.
public enum RequestIDs {
    /// 128 random bits as 32 lowercase hex digits. Ids need to be unique, not secret: they come from a per-thread
    /// wyrand generator seeded from the system's, so making one costs no system call.
    public static func make() -> String {
        let generator = threadGenerator
        let high = generator.next()
        let low = generator.next()
        return String(unsafeUninitializedCapacity: 32) { buffer in
            let digits: StaticString = "0123456789abcdef"
            digits.withUTF8Buffer { digits in
                for index in 0..<16 {
                    buffer[index] = digits[Int((high >> UInt64(60 - 4 * index)) & 0xF)]
                    buffer[16 + index] = digits[Int((low >> UInt64(60 - 4 * index)) & 0xF)]
                }
            }
            return 32
        }
    }

    /// 64 random bits from this thread's generator (not for secrets).
    public static func random() -> UInt64 { threadGenerator.next() }

    private static var threadGenerator: Generator {
        if let current = generators.currentValue { return current }
        let made = Generator()
        generators.currentValue = made
        return made
    }

    public static func isAcceptable(_ id: String) -> Bool {
        let utf8 = id.utf8
        return !utf8.isEmpty && utf8.count <= 128 && utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    /// wyrand (Wang Yi): fast, passes BigCrush; state seeded once per thread from the system generator.
    private final class Generator {
        private var state: UInt64

        init() {
            var system = SystemRandomNumberGenerator()
            state = system.next()
        }

        func next() -> UInt64 {
            state &+= 0xA076_1D64_78BD_642F
            let product = state.multipliedFullWidth(by: state ^ 0xE703_7ED1_A0B4_28DB)
            return product.high ^ product.low
        }
    }

    nonisolated(unsafe) private static let generators = ThreadSpecificVariable<Generator>()
}
