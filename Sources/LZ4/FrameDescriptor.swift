/// Byte-level facts about the LZ4 frame header ("frame descriptor") that the
/// compressor needs when it takes over the content checksum from liblz4.
///
/// Header layout: magic (4 bytes), FLG, BD, optional content size (8), optional
/// dictionary id (4), header checksum HC = second byte of XXH32(FLG ... last
/// optional field). FLG bit 2 says a content checksum follows the end mark.
enum FrameDescriptor {
    static let flagByteOffset = 4
    static let contentChecksumFlag: UInt8 = 1 << 2

    /// Sets the content-checksum flag in a complete header written by liblz4 and
    /// recomputes its header checksum.
    static func setContentChecksumFlag(in header: UnsafeMutableRawBufferPointer) {
        precondition(header.count >= 7, "an LZ4 frame header is at least 7 bytes")
        header[flagByteOffset] |= contentChecksumFlag
        let descriptor = UnsafeRawBufferPointer(rebasing: header[flagByteOffset..<(header.count - 1)])
        header[header.count - 1] = headerChecksum(descriptor)
    }

    /// HC: bits 8...15 of XXH32 over the descriptor bytes.
    static func headerChecksum(_ descriptor: UnsafeRawBufferPointer) -> UInt8 {
        UInt8(truncatingIfNeeded: XXH32.hash(descriptor) >> 8)
    }
}
