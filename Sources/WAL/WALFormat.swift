import Base

/// The on-disk layout of WAL segments (documented in docs/architecture.md, "WAL format").
///
/// A segment file `<seq as 16 hex digits>.wal` starts with a 32-byte header:
/// magic `FLOTWAL1` (8), sequence number (u64), format version (u32), reserved (u32),
/// CRC32C of the first 24 bytes (u32), zero (u32). Frames follow at 8-byte aligned offsets:
/// payload length (u32), CRC32C of the 4 length bytes followed by the payload (u32), the
/// payload, zero padding to a multiple of 8. A frame is one group-commit batch; its payload
/// is a record count (u32) and the records. A length of zero marks the end of written data
/// (segments are preallocated with zeros). Integers are little-endian.
enum WALFormat {
    static let magic: [UInt8] = Array("FLOTWAL1".utf8)
    static let version: UInt32 = 1
    static let headerSize = 32
    static let frameHeaderSize = 8
    static let alignment = 8

    static func segmentName(_ seq: UInt64) -> String {
        let hex = String(seq, radix: 16)
        return String(repeating: "0", count: max(0, 16 - hex.count)) + hex + ".wal"
    }

    static func parseSegmentName(_ name: String) -> UInt64? {
        guard name.hasSuffix(".wal"), name.count == 20 else { return nil }
        return UInt64(name.dropLast(4), radix: 16)
    }

    static func header(seq: UInt64) -> [UInt8] {
        var w = BinaryWriter(capacity: headerSize)
        w.write(bytes: magic)
        w.write(seq)
        w.write(version)
        w.write(UInt32(0))
        let crc = w.bytes.withUnsafeBytes { CRC32C.checksum($0) }
        w.write(crc)
        w.write(UInt32(0))
        return w.bytes
    }

    /// Validates a segment header; returns nil when valid, else the reason.
    static func validateHeader(_ bytes: UnsafeRawBufferPointer, seq: UInt64) -> String? {
        guard bytes.count >= headerSize else { return "file shorter than its header" }
        guard Array(bytes[0..<8]) == magic else { return "not a Flotilla WAL segment (bad magic)" }
        var r = BinaryReader(bytes, offset: 8)
        guard let fileSeq = try? r.read(UInt64.self), let ver = try? r.read(UInt32.self),
              (try? r.read(UInt32.self)) != nil, let crc = try? r.read(UInt32.self)
        else { return "truncated header" }
        guard crc == CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<24])) else { return "header checksum mismatch" }
        guard ver == version else { return "unsupported format version \(ver)" }
        guard fileSeq == seq else { return "sequence number \(fileSeq) does not match its name (\(seq))" }
        return nil
    }

    /// Checksum of a frame: CRC32C over the little-endian length then the payload.
    static func frameChecksum(length: UInt32, payload: UnsafeRawBufferPointer) -> UInt32 {
        let crc = withUnsafeBytes(of: length.littleEndian) { CRC32C.checksum($0) }
        return CRC32C.update(crc, payload)
    }

    static func alignedSize(_ n: Int) -> Int { (n + alignment - 1) & ~(alignment - 1) }
}
