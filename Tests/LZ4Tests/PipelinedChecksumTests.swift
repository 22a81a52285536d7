@testable import LZ4
import Testing

/// The content checksum hashed on a background queue (`ContentHashPipeline`)
/// catches the same corruption as the inline hash, in every block, whatever the
/// piece sizes, and leaves the decompressor reusable.
@Suite struct PipelinedChecksumTests {
    static let checksumError = LZ4Error.library(code: .contentChecksumInvalid, name: "ERROR_contentChecksum_invalid")

    /// A frame of `blocks` full 256 KiB blocks plus a partial one; random data, so
    /// liblz4 stores every block uncompressed and a flipped payload bit changes
    /// only the content (only the checksum can notice it).
    static func randomFrame(seed: UInt64, blocks: Int) throws -> (data: [UInt8], frame: [UInt8]) {
        var random = TestRandom(seed: seed)
        let data = random.bytes(blocks * (256 << 10) + 12_345)
        return (data, try LZ4Frame.compress(data, options: LZ4FrameOptions(blockSize: .kib256)))
    }

    /// Offsets of each block's payload (after its 4-byte size) in `frame`.
    static func blockPayloads(_ frame: [UInt8]) -> [Range<Int>] {
        // Magic, FLG, BD, [content size], [dictionary ID], HC.
        let flags = frame[4]
        let headerSize = 7 + (flags & 0x08 != 0 ? 8 : 0) + (flags & 0x01 != 0 ? 4 : 0)
        var ranges: [Range<Int>] = []
        var offset = headerSize
        while true {
            let word = UInt32(frame[offset]) | UInt32(frame[offset + 1]) << 8
                | UInt32(frame[offset + 2]) << 16 | UInt32(frame[offset + 3]) << 24
            let size = Int(word & 0x7FFF_FFFF)
            if size == 0 { return ranges }
            ranges.append(offset + 4..<offset + 4 + size)
            offset += 4 + size
        }
    }

    /// Decodes `frame` in `pieces` (cycled) with the given hashing mode.
    static func decode(_ frame: [UInt8], pipelined: Bool, pieces: [Int]) throws -> [UInt8] {
        let decompressor = try LZ4FrameDecompressor(libraryContentChecksum: false, pipelinedContentHash: pipelined)
        var output: [UInt8] = []
        var offset = 0, index = 0
        while offset < frame.count {
            let size = min(pieces[index % pieces.count], frame.count - offset)
            index += 1
            try decompressor.decompress(frame[offset..<(offset + size)], appendingTo: &output)
            offset += size
        }
        try decompressor.finish()
        return output
    }

    @Test(arguments: [true, false], [[1 << 20], [1000, 70_000, 7]])
    func flippedBitInAnyBlockIsCaught(pipelined: Bool, pieces: [Int]) throws {
        let seed = baseSeed &+ 9100
        let (data, frame) = try Self.randomFrame(seed: seed, blocks: 5)
        expectSameBytes(try Self.decode(frame, pipelined: pipelined, pieces: pieces), data, "seed \(seed)")
        let payloads = Self.blockPayloads(frame)
        #expect(payloads.count == 6, "seed \(seed)")
        var random = TestRandom(seed: seed &+ 1)
        for (block, payload) in payloads.enumerated() {
            var corrupt = frame
            let at = payload.lowerBound + Int(random.next() % UInt64(payload.count))
            corrupt[at] ^= 1 << UInt8(random.next() % 8)
            #expect(throws: Self.checksumError, "block \(block) byte \(at) pipelined \(pipelined); seed \(seed)") {
                _ = try Self.decode(corrupt, pipelined: pipelined, pieces: pieces)
            }
        }
    }

    @Test(arguments: 0..<6)
    func pipelinedMatchesInlineOnMixedData(round: Int) throws {
        let seed = baseSeed &+ 9200 &+ UInt64(round)
        var random = TestRandom(seed: seed)
        let data = random.compressibleBytes(700_000) + random.bytes(300_000) + random.compressibleBytes(50_000)
        let blockSize = LZ4FrameOptions.BlockSize.allCases[round % LZ4FrameOptions.BlockSize.allCases.count]
        let options = LZ4FrameOptions(blockSize: blockSize, independentBlocks: round % 2 == 0)
        let frame = try LZ4Frame.compress(data, options: options)
        let pieces = [Int(1 + random.next() % 200_000), Int(1 + random.next() % 5000)]
        for pipelined in [true, false] {
            let decoded = try Self.decode(frame, pipelined: pipelined, pieces: pieces)
            expectSameBytes(decoded, data, "pipelined \(pipelined) pieces \(pieces); seed \(seed)")
        }
        var corrupt = frame
        corrupt[corrupt.count - 1] ^= 0x80  // the stored content checksum itself
        #expect(throws: Self.checksumError, "seed \(seed)") {
            _ = try Self.decode(corrupt, pipelined: true, pieces: pieces)
        }
    }

    @Test(arguments: [LZ4FrameDecompressor.ContentHashing.inline, .pipelined, .automatic])
    func everyPublicHashingModeVerifies(mode: LZ4FrameDecompressor.ContentHashing) throws {
        let seed = baseSeed &+ 9400
        let (data, frame) = try Self.randomFrame(seed: seed, blocks: 3)
        let decompressor = try LZ4FrameDecompressor(contentHashing: mode)
        var output: [UInt8] = []
        try decompressor.decompress(frame, appendingTo: &output)
        try decompressor.finish()
        expectSameBytes(output, data, "mode \(mode); seed \(seed)")
        var corrupt = frame
        corrupt[Self.blockPayloads(frame)[1].lowerBound + 1000] ^= 0x08
        decompressor.reset()
        #expect(throws: Self.checksumError, "mode \(mode); seed \(seed)") {
            var ignored = [UInt8](repeating: 0, count: data.count)
            try corrupt.withUnsafeBytes { input in
                _ = try ignored.withUnsafeMutableBytes { try decompressor.decompress(input, into: $0) }
            }
        }
    }

    /// A frame that fails mid-way (sink error) with hashing still queued, then a
    /// good frame on the same decompressor: the old work must not leak into it.
    @Test func reusableAfterFailureWithQueuedWork() throws {
        let seed = baseSeed &+ 9300
        let (data, frame) = try Self.randomFrame(seed: seed, blocks: 4)
        struct Stop: Error {}
        let decompressor = try LZ4FrameDecompressor(libraryContentChecksum: false, pipelinedContentHash: true)
        var chunks = 0
        #expect(throws: Stop.self) {
            try decompressor.decompress(frame) { _ in
                chunks += 1
                if chunks == 3 { throw Stop() }
            }
        }
        decompressor.reset()
        var output: [UInt8] = []
        try decompressor.decompress(frame, appendingTo: &output)
        try decompressor.finish()
        expectSameBytes(output, data, "seed \(seed)")
    }
}
