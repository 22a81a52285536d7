import Base
import Testing

/// Bit-at-a-time reference CRC32C, independent of the table-driven implementation.
private func referenceCRC32C(_ bytes: [UInt8]) -> UInt32 {
    var c: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        c ^= UInt32(b)
        for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
    }
    return ~c
}

@Suite struct CRC32CTests {
    @Test func knownVectors() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([]) == 0)
        // RFC 3720 (iSCSI) B.4 test patterns.
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).map { UInt8(31 - $0) }) == 0x113F_DB5C)
    }

    @Test func matchesReferenceOnRandomInputsAndOffsets() {
        let seed: UInt64 = 0xC0FFEE
        var g = SeededGenerator(seed: seed)
        for _ in 0..<300 {
            let n = Int.random(in: 0..<600, using: &g)
            let bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &g) }
            let offset = n == 0 ? 0 : Int.random(in: 0..<min(n, 17), using: &g)
            let slice = Array(bytes[offset...])
            #expect(CRC32C.checksum(slice) == referenceCRC32C(slice), "seed \(seed) n \(n) offset \(offset)")
        }
    }

    @Test func updateContinuesAChecksum() {
        var g = SeededGenerator(seed: 99)
        for _ in 0..<100 {
            let bytes = (0..<Int.random(in: 0..<200, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) }
            let cut = Int.random(in: 0...bytes.count, using: &g)
            let a = Array(bytes[..<cut]), b = Array(bytes[cut...])
            let continued = b.withUnsafeBytes { CRC32C.update(CRC32C.checksum(a), $0) }
            #expect(continued == CRC32C.checksum(bytes), "seed 99 cut \(cut) of \(bytes.count)")
        }
    }

    @Test func detectsSingleBitFlips() {
        var bytes = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let original = CRC32C.checksum(bytes)
        for bit in stride(from: 0, to: 4096 * 8, by: 977) {
            bytes[bit / 8] ^= UInt8(1 << (bit % 8))
            #expect(CRC32C.checksum(bytes) != original, "bit \(bit)")
            bytes[bit / 8] ^= UInt8(1 << (bit % 8))
        }
    }
}
