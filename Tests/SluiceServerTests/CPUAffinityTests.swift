import NIOCore
@testable import SluiceServer
import Testing

@Suite struct CPUAffinityTests {
    @Test func masksAreCountedBitByBit() {
        #expect(CPUAffinity.countMask("\t00000001\n") == 1)
        #expect(CPUAffinity.countMask(" 00000000,00000003") == 2)
        #expect(CPUAffinity.countMask("ff,ffffffff") == 40)
        #expect(CPUAffinity.countMask("") == nil)
        #expect(CPUAffinity.countMask("0-3") == nil)
    }

    @Test func thisProcessMayRunOnAtLeastOneCPU() {
        #expect(CPUAffinity.usableCPUs >= 1)
        #expect(CPUAffinity.usableCPUs <= System.coreCount)
    }
}
