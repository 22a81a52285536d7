import Base
@testable import PageStore
import Testing

/// The hardware CRC32C path equals the software one on every length and alignment a page
/// checksum can take, and the standard check value.
@Suite struct CRC32CBridgeTests {
    @Test func checkValue() {
        let bytes = Array("123456789".utf8)
        #expect(bytes.withUnsafeBytes { CRC32CBridge.checksum($0) } == 0xE306_9283)
    }

    @Test func hardwareEqualsSoftware() {
        let seed: UInt64 = 0xC4C3_2C00
        var rng = SeededGenerator(seed: seed)
        let buffer = (0..<(3 * 4096 + 64)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        buffer.withUnsafeBytes { all in
            for offset in 0..<16 {
                for count in [0, 1, 7, 8, 9, 15, 16, 17, 63, 100, 4092, 4096, 3 * 4096] {
                    let slice = UnsafeRawBufferPointer(rebasing: all[offset..<offset + count])
                    let hw = CRC32CBridge.checksum(slice), sw = CRC32CBridge.softwareChecksum(slice)
                    #expect(hw == sw, "seed \(seed) offset \(offset) count \(count): hardware \(hw) software \(sw) (hardware path: \(CRC32CBridge.hardware))")
                }
            }
        }
    }
}
