@testable import LZ4
import Testing

/// `LZ4FrameDecompressor.decompress(_:into:)`: decoding straight into the caller's
/// buffer gives the same bytes and the same errors as the sink-based path, for any
/// split of the input and any room in the output, with inline or pipelined hashing.
@Suite struct DirectDecodeTests {
    /// Decodes `frame` with the direct API: input in `pieces` (cycled), output room
    /// per call from `rooms` (cycled), then `finish()`.
    static func decodeDirect(
        _ frame: [UInt8], pieces: [Int], rooms: [Int], pipelined: Bool, capacity: Int
    ) throws -> [UInt8] {
        let decompressor = try LZ4FrameDecompressor(libraryContentChecksum: false, pipelinedContentHash: pipelined)
        var output = [UInt8](repeating: 0, count: capacity)
        var written = 0
        var offset = 0, pieceIndex = 0, roomIndex = 0
        try output.withUnsafeMutableBytes { out in
            try frame.withUnsafeBytes { input in
                while offset < frame.count {
                    let end = min(offset + pieces[pieceIndex % pieces.count], frame.count)
                    pieceIndex += 1
                    var piece = UnsafeRawBufferPointer(rebasing: input[offset..<end])
                    repeat {
                        let room = min(rooms[roomIndex % rooms.count], out.count - written)
                        roomIndex += 1
                        let (read, wrote) = try decompressor.decompress(
                            piece, into: UnsafeMutableRawBufferPointer(rebasing: out[written..<(written + room)]))
                        #expect(read <= piece.count && wrote <= room)
                        written += wrote
                        piece = UnsafeRawBufferPointer(rebasing: piece.dropFirst(read))
                        if read == 0 && wrote == 0 { break }
                    } while !piece.isEmpty
                    offset = end - piece.count
                    if !piece.isEmpty { break }  // stalled: finish() must then refuse
                }
            }
        }
        try decompressor.finish()
        return Array(output[0..<written])
    }

    @Test(arguments: 0..<10)
    func matchesTheInputForAnySplit(round: Int) throws {
        let seed = baseSeed &+ 12_000 &+ UInt64(round)
        var random = TestRandom(seed: seed)
        let data = random.compressibleBytes(Int(random.next() % 900_000)) + random.bytes(Int(random.next() % 200_000))
        let options = LZ4FrameOptions(
            blockSize: LZ4FrameOptions.BlockSize.allCases[round % 4], independentBlocks: round % 3 != 0,
            contentChecksum: round != 7, blockChecksums: round % 4 == 1)
        let frame = try LZ4Frame.compress(data, options: options)
        let pieces = [Int(1 + random.next() % 300_000), Int(1 + random.next() % 3000), 1 << 20]
        // Room per call: whole blocks, less than a block, a few bytes.
        let rooms = round % 2 == 0 ? [4 << 20] : [Int(1 + random.next() % 100_000), 7, 5 << 20]
        for pipelined in [false, true] {
            let decoded = try Self.decodeDirect(frame, pieces: pieces, rooms: rooms, pipelined: pipelined, capacity: data.count)
            expectSameBytes(decoded, data, "pipelined \(pipelined) pieces \(pieces) rooms \(rooms); seed \(seed)")
        }
    }

    @Test(arguments: [false, true])
    func corruptionIsCaughtInEveryBlock(pipelined: Bool) throws {
        let seed = baseSeed &+ 12_100
        let (data, frame) = try PipelinedChecksumTests.randomFrame(seed: seed, blocks: 4)
        var random = TestRandom(seed: seed &+ 1)
        for (block, payload) in PipelinedChecksumTests.blockPayloads(frame).enumerated() {
            var corrupt = frame
            let at = payload.lowerBound + Int(random.next() % UInt64(payload.count))
            corrupt[at] ^= 1 << UInt8(random.next() % 8)
            #expect(throws: PipelinedChecksumTests.checksumError, "block \(block) byte \(at); seed \(seed)") {
                _ = try Self.decodeDirect(corrupt, pieces: [1 << 20], rooms: [1 << 20], pipelined: pipelined, capacity: data.count)
            }
        }
        var badChecksum = frame
        badChecksum[badChecksum.count - 2] ^= 0x10
        #expect(throws: PipelinedChecksumTests.checksumError, "seed \(seed)") {
            _ = try Self.decodeDirect(badChecksum, pieces: [70_000], rooms: [300_000], pipelined: pipelined, capacity: data.count)
        }
    }

    @Test func truncatedTrailingAndSticky() throws {
        let seed = baseSeed &+ 12_200
        var random = TestRandom(seed: seed)
        let data = random.compressibleBytes(500_000)
        let frame = try LZ4Frame.compress(data, options: LZ4FrameOptions(blockSize: .kib64))
        var out = [UInt8](repeating: 0, count: data.count + 16)
        try out.withUnsafeMutableBytes { output in
            try frame.withUnsafeBytes { input in
                // Truncated: everything but the last byte decodes, finish() refuses.
                let short = try LZ4FrameDecompressor()
                let cut = UnsafeRawBufferPointer(rebasing: input[0..<(input.count - 1)])
                let (read, _) = try short.decompress(cut, into: output)
                #expect(read == cut.count, "seed \(seed)")
                #expect(throws: LZ4Error.truncatedFrame(bytesReceived: UInt64(cut.count))) { try short.finish() }

                // Trailing bytes in the same piece as the frame's end.
                let trailing = try LZ4FrameDecompressor()
                let withJunk = Array(frame) + [9, 9, 9]
                #expect(throws: LZ4Error.trailingData(byteCount: 3), "seed \(seed)") {
                    _ = try withJunk.withUnsafeBytes { try trailing.decompress($0, into: output) }
                }
                // Errors are sticky until reset; after reset the frame decodes.
                #expect(throws: LZ4Error.trailingData(byteCount: 3)) { try trailing.finish() }
                trailing.reset()
                let (all, wrote) = try trailing.decompress(input, into: output)
                try trailing.finish()
                #expect(all == input.count && wrote == data.count, "seed \(seed)")
            }
        }
        expectSameBytes(Array(out[0..<data.count]), data, "seed \(seed)")
    }

    @Test func sinkAndDirectCallsMixInOneFrame() throws {
        let seed = baseSeed &+ 12_300
        var random = TestRandom(seed: seed)
        let data = random.compressibleBytes(700_000) + random.bytes(300_000)
        let frame = try LZ4Frame.compress(data, options: LZ4FrameOptions(blockSize: .kib64))
        for pipelined in [false, true] {
            let decompressor = try LZ4FrameDecompressor(libraryContentChecksum: false, pipelinedContentHash: pipelined)
            var output: [UInt8] = []
            var room = [UInt8](repeating: 0, count: 200_000)
            var offset = 0, turn = 0
            while offset < frame.count {
                let end = min(offset + 50_000, frame.count)
                if turn % 2 == 0 {
                    try decompressor.decompress(frame[offset..<end], appendingTo: &output)
                    offset = end
                } else {
                    let (read, wrote) = try frame[offset..<end].withUnsafeBytes { input in
                        try room.withUnsafeMutableBytes { try decompressor.decompress(input, into: $0) }
                    }
                    output += room[0..<wrote]
                    offset += read
                }
                turn += 1
            }
            try decompressor.finish()
            expectSameBytes(output, data, "pipelined \(pipelined); seed \(seed)")
        }
    }
}
