import Base

/// Reads the frames of one segment image in order and decodes their records. Knows the
/// frame format, nothing about ranges.
struct SegmentScanner {
    /// Where and why a scan stopped.
    enum End: Equatable {
        /// A zero length word: the end of written data at `offset`.
        case clean(offset: Int)
        /// A seal record: the segment is complete and the log continues in `next`.
        case sealed(next: UInt64, offset: Int)
        /// An invalid frame starts at `offset` (torn write or corruption; the caller decides).
        case invalid(offset: Int, reason: String)
    }

    /// One decoded record and where it lies in the file.
    struct Located {
        var record: WALRecord
        /// File offsets of each entry of an `.entries` record (empty otherwise).
        var entryOffsets: [Int]
    }

    /// Visits every record of every valid frame from the first frame on.
    static func scan(_ bytes: UnsafeRawBufferPointer, visit: (Located) throws(WALError) -> Void) throws(WALError) -> End {
        var offset = WALFormat.headerSize
        var entryOffsets: [Int] = []
        while true {
            switch validateFrame(bytes, at: offset) {
            case .zeros:
                return .clean(offset: offset)
            case .invalid(let reason):
                return .invalid(offset: offset, reason: reason)
            case .valid(let payloadStart, let payloadEnd):
                var reader = BinaryReader(UnsafeRawBufferPointer(rebasing: bytes[0..<payloadEnd]), offset: payloadStart)
                let records: [Located]
                do throws(DecodingError) {
                    records = try decodeFrame(&reader, entryOffsets: &entryOffsets)
                } catch {
                    // The checksum matched but the content does not decode: never a torn write.
                    return .invalid(offset: offset, reason: "undecodable frame (\(error))")
                }
                for located in records {
                    if case .seal(let next) = located.record { return .sealed(next: next, offset: offset) }
                    try visit(located)
                }
                offset = WALFormat.alignedSize(payloadEnd)
            }
        }
    }

    /// Decodes every record of one frame's payload.
    private static func decodeFrame(_ reader: inout BinaryReader, entryOffsets: inout [Int]) throws(DecodingError) -> [Located] {
        let count = try reader.read(UInt32.self)
        guard Int(count) <= reader.remaining else { throw DecodingError("record count \(count) too large", offset: reader.offset) }
        var out: [Located] = []
        out.reserveCapacity(Int(count))
        for _ in 0..<count {
            let record = try reader.readRecord(entryOffsets: &entryOffsets)
            let offsets = if case .entries = record { entryOffsets } else { [Int]() }
            out.append(Located(record: record, entryOffsets: offsets))
        }
        return out
    }

    enum FrameCheck {
        case zeros
        case invalid(String)
        case valid(payloadStart: Int, payloadEnd: Int)
    }

    static func validateFrame(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> FrameCheck {
        guard offset + WALFormat.frameHeaderSize <= bytes.count else {
            let rest = offset < bytes.count ? UnsafeRawBufferPointer(rebasing: bytes[offset...]) : UnsafeRawBufferPointer(start: nil, count: 0)
            return rest.allSatisfy { $0 == 0 } ? .zeros : .invalid("frame header cut by end of file")
        }
        let length = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
        let crc = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self))
        if length == 0 { return crc == 0 ? .zeros : .invalid("zero length with a checksum") }
        let start = offset + WALFormat.frameHeaderSize
        guard Int(length) <= bytes.count - start else { return .invalid("frame of \(length) bytes overruns the file") }
        let end = start + Int(length)
        let payload = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
        guard WALFormat.frameChecksum(length: length, payload: payload) == crc else { return .invalid("checksum mismatch") }
        return .valid(payloadStart: start, payloadEnd: end)
    }

    /// The offset of the first valid frame strictly after `offset`, if any. Used to tell a
    /// torn tail (nothing valid follows) from corruption in the middle (valid data follows).
    static func firstValidFrame(_ bytes: UnsafeRawBufferPointer, after offset: Int) -> Int? {
        var probe = WALFormat.alignedSize(offset + 1)
        while probe + WALFormat.frameHeaderSize <= bytes.count {
            if case .valid = validateFrame(bytes, at: probe) { return probe }
            probe += WALFormat.alignment
        }
        return nil
    }
}
