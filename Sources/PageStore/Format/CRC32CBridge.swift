import Base
import CCRC32C

/// The single place PageStore computes page checksums: CRC32C with the CPU's instructions
/// (CCRC32C: SSE4.2 on x86-64, the CRC extension on AArch64) when it has them, else Base's
/// software CRC32C. Both give the same value (`CRC32CBridgeTests`).
enum CRC32CBridge {
    /// Whether the CPU computes CRC32C itself (checked once per process).
    static let hardware: Bool = flotilla_crc32c_hw_available() != 0

    @inline(__always) static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        if hardware, let base = bytes.baseAddress { return flotilla_crc32c_hw_update(0, base, bytes.count) }
        return CRC32C.checksum(bytes)
    }

    /// The software path, for tests comparing the two.
    static func softwareChecksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 { CRC32C.checksum(bytes) }
}
