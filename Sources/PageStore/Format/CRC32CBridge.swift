import Base

/// The single place PageStore computes page checksums (CRC32C from Base).
enum CRC32CBridge {
    @inline(__always) static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 { CRC32C.checksum(bytes) }
}
