@testable import LZ4
import Testing

/// `BlockCursor` finds every block end of real frames whatever the piece sizes, and
/// never lets a piece reach past one.
@Suite struct BlockCursorTests {
    /// Offsets just past each block (size field, data, block checksum) and the
    /// offset just past the end mark, parsed from the frame bytes directly.
    static func blockEnds(_ frame: [UInt8], blockChecksums: Bool) -> (blocks: [Int], endMark: Int) {
        let flags = frame[4]
        var offset = 7 + (flags & 0x08 != 0 ? 8 : 0) + (flags & 0x01 != 0 ? 4 : 0)
        var ends: [Int] = []
        while true {
            let field = UInt32(frame[offset]) | UInt32(frame[offset + 1]) << 8
                | UInt32(frame[offset + 2]) << 16 | UInt32(frame[offset + 3]) << 24
            offset += 4
            if field == 0 { return (ends, offset) }
            offset += Int(field & 0x7FFF_FFFF) + (blockChecksums ? 4 : 0)
            ends.append(offset)
        }
    }

    /// Length of the frame header (magic to header checksum).
    static func headerLength(_ frame: [UInt8]) -> Int {
        7 + (frame[4] & 0x08 != 0 ? 8 : 0) + (frame[4] & 0x01 != 0 ? 4 : 0)
    }

    @Test(arguments: 0..<8)
    func piecesNeverCrossABlockEnd(round: Int) throws {
        let seed = baseSeed &+ 11_000 &+ UInt64(round)
        var random = TestRandom(seed: seed)
        let data = random.compressibleBytes(300_000) + random.bytes(100_000) + random.compressibleBytes(90_000)
        let blockChecksums = round % 2 == 1
        let options = LZ4FrameOptions(blockSize: round < 4 ? .kib64 : .kib256, blockChecksums: blockChecksums)
        let frame = try LZ4Frame.compress(data, options: options)
        let (ends, endMark) = Self.blockEnds(frame, blockChecksums: blockChecksums)
        #expect(ends.count >= 2, "seed \(seed)")
        var cursor = BlockCursor(blockChecksums: blockChecksums)
        var offset = Self.headerLength(frame)
        var seenEnds: [Int] = []
        try frame.withUnsafeBytes { bytes in
            while offset < frame.count {
                // A piece of random size, as if it were all the input available now.
                let available = min(frame.count - offset, 1 + Int(random.next() % 200_000))
                let piece = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + available)])
                let limit = cursor.limit(piece)
                try #require(limit >= 1 && limit <= available, "limit \(limit) of \(available) at \(offset); seed \(seed)")
                // Pretend liblz4 read a random prefix of what it was allowed.
                let read = round % 3 == 0 ? limit : 1 + Int(random.next() % UInt64(limit))
                let next = offset + read
                let crossed = ends.first { $0 > offset && $0 < next }
                #expect(crossed == nil || cursor.isAfterEndMark, "piece \(offset)..<\(next) crosses block end \(crossed ?? -1); seed \(seed)")
                if ends.contains(next) { seenEnds.append(next) }
                cursor.advance(over: UnsafeRawBufferPointer(rebasing: bytes[offset..<next]))
                offset = next
                if offset >= endMark { #expect(cursor.isAfterEndMark, "at \(offset); seed \(seed)") }
            }
        }
        #expect(cursor.isAfterEndMark, "seed \(seed)")
        #expect(seenEnds.count == ends.count, "stopped exactly at \(seenEnds.count) of \(ends.count) block ends; seed \(seed)")
    }

    @Test func hostileSizeFieldsStayInBounds() {
        for field: UInt32 in [0x8000_0000, 0xFFFF_FFFF, 0x7FFF_FFFF, 1] {
            for checksums in [false, true] {
                var cursor = BlockCursor(blockChecksums: checksums)
                let bytes: [UInt8] = withUnsafeBytes(of: field.littleEndian) { Array($0) } + [1, 2, 3]
                bytes.withUnsafeBytes { input in
                    let limit = cursor.limit(input)
                    #expect(limit >= 4 && limit <= input.count, "field \(field) checksums \(checksums)")
                    cursor.advance(over: UnsafeRawBufferPointer(rebasing: input[0..<limit]))
                }
                #expect(!cursor.isAfterEndMark)
            }
        }
    }
}

/// `BlockCursor.limitBeforeData`: what a caller with no output room may still feed.
@Suite struct BlockCursorLimitBeforeDataTests {
    @Test func onlyFieldBytesAndTheEndMarkPass() {
        var cursor = BlockCursor(blockChecksums: false)
        let block: [UInt8] = [3, 0, 0, 0, 0xAA, 0xBB, 0xCC]
        let endMark: [UInt8] = [0, 0, 0, 0, 1, 2, 3, 4]
        block.withUnsafeBytes { bytes in
            #expect(cursor.limitBeforeData(bytes) == 0)  // a data block: wait for room
            #expect(cursor.limitBeforeData(UnsafeRawBufferPointer(rebasing: bytes[0..<2])) == 2)  // partial field
            cursor.advance(over: UnsafeRawBufferPointer(rebasing: bytes[0..<5]))
            #expect(cursor.limitBeforeData(UnsafeRawBufferPointer(rebasing: bytes[5...])) == 0)  // inside data
            cursor.advance(over: UnsafeRawBufferPointer(rebasing: bytes[5...]))
        }
        endMark.withUnsafeBytes { bytes in
            #expect(cursor.limitBeforeData(bytes) == endMark.count)
            cursor.advance(over: UnsafeRawBufferPointer(rebasing: bytes[0..<1]))
            #expect(cursor.limitBeforeData(UnsafeRawBufferPointer(rebasing: bytes[1...])) == endMark.count - 1)
            cursor.advance(over: UnsafeRawBufferPointer(rebasing: bytes[1...]))
        }
        #expect(cursor.isAfterEndMark)
    }
}
