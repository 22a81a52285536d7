import LZ4
import Testing
import TestThreads

/// The streaming contract: input split anywhere (including empty pieces) on both
/// sides, bounded output chunks, context reuse across frames.
@Suite struct StreamingTests {
    /// Random piece sizes in 0...maxPiece, at least one non-zero.
    static func pieces(_ random: inout TestRandom, count: Int, maxPiece: Int) -> [Int] {
        var sizes = (0..<count).map { _ in Int(random.next() % UInt64(maxPiece + 1)) }
        sizes.append(1 + Int(random.next() % UInt64(maxPiece)))
        return sizes
    }

    @Test(arguments: 0..<12)
    func randomSplitsBothDirections(round: Int) async throws {
        // Long synchronous work: on a thread of its own, not a cooperative pool thread.
        try await onOwnThread {
            let seed = baseSeed &+ 1000 &+ UInt64(round)
            var random = TestRandom(seed: seed)
            let size = Int(random.next() % UInt64(3 << 20))
            let data = round % 2 == 0 ? random.compressibleBytes(size) : random.bytes(size)
            let blockSize = LZ4FrameOptions.BlockSize.allCases[round % 4]
            let options = LZ4FrameOptions(blockSize: blockSize, independentBlocks: round % 3 != 0)
            let maxPiece = [1, 7, 300, 70_000, 1 << 20][round % 5]
            let updatePieces = Self.pieces(&random, count: 50, maxPiece: maxPiece * 3 + 1)
            let frame = try encodeInPieces(data, pieces: updatePieces, options: options)
            let decodePieces = Self.pieces(&random, count: 50, maxPiece: maxPiece)
            let (decoded, largest) = try decodeInPieces(frame, pieces: decodePieces)
            expectSameBytes(decoded, data, "round \(round) size \(size) seed \(seed)")
            #expect(largest <= blockSize.bytes, "chunk \(largest) > block \(blockSize.bytes); seed \(seed)")
        }
    }

    @Test func byteAtATimeDecode() throws {
        let seed = baseSeed &+ 2000
        var random = TestRandom(seed: seed)
        let data = random.compressibleBytes(200_000) + random.bytes(70_000)
        let frame = try LZ4Frame.compress(data, options: LZ4FrameOptions(blockSize: .kib64))
        let (decoded, _) = try decodeInPieces(frame, pieces: [1])
        expectSameBytes(decoded, data, "seed \(seed)")
    }

    @Test func compressorEmitsBoundedChunksAndCounts() throws {
        let seed = baseSeed &+ 3000
        var random = TestRandom(seed: seed)
        let data = random.bytes(3 << 20)
        let compressor = try LZ4FrameCompressor(options: LZ4FrameOptions(blockSize: .kib256))
        var frame: [UInt8] = []
        var largest = 0
        let sink: LZ4FrameCompressor.Sink = { chunk in
            largest = max(largest, chunk.count)
            frame.append(contentsOf: chunk)
        }
        try compressor.begin(sink)
        try compressor.update(data, sink)
        try compressor.end(sink)
        #expect(compressor.frameBytesIn == UInt64(data.count))
        #expect(compressor.frameBytesOut == UInt64(frame.count))
        // One update may flush several blocks, but each flush is bounded by the
        // worst case of one block plus framing.
        #expect(largest <= (256 << 10) + 1024, "largest chunk \(largest); seed \(seed)")
        try expectSameBytes(LZ4Frame.decompress(frame), data, "seed \(seed)")
    }

    @Test func compressorAndDecompressorAreReusable() throws {
        let seed = baseSeed &+ 4000
        var random = TestRandom(seed: seed)
        let compressor = try LZ4FrameCompressor()
        let decompressor = try LZ4FrameDecompressor()
        for round in 0..<3 {
            let data = random.compressibleBytes(10_000 * round + 5)
            var frame: [UInt8] = []
            try compressor.begin(appendingTo: &frame)
            try compressor.update(data, appendingTo: &frame)
            try compressor.end(appendingTo: &frame)
            #expect(!compressor.isInFrame)
            decompressor.reset()
            var out: [UInt8] = []
            try decompressor.decompress(frame, appendingTo: &out)
            try decompressor.finish()
            #expect(decompressor.isFinished)
            expectSameBytes(out, data, "round \(round) seed \(seed)")
        }
    }

    @Test func sinkErrorAbortsAndIsSticky() throws {
        struct Stop: Error {}
        var random = TestRandom(seed: baseSeed)
        let data = random.compressibleBytes(300_000)
        let frame = try LZ4Frame.compress(data, options: LZ4FrameOptions(blockSize: .kib64))
        let decompressor = try LZ4FrameDecompressor()
        #expect(throws: Stop.self) { try decompressor.decompress(frame) { _ in throw Stop() } }
        #expect(throws: Stop.self) { try decompressor.decompress([UInt8]()) { _ in } }
        #expect(throws: Stop.self) { try decompressor.finish() }

        let compressor = try LZ4FrameCompressor()
        #expect(throws: Stop.self) { try compressor.begin { _ in throw Stop() } }
        #expect(!compressor.isInFrame)
    }

    /// API misuse is a programming error and traps (documented on the type).
    @Test func compressorMisuseTraps() async {
        await #expect(processExitsWith: .failure) {
            let compressor = try LZ4FrameCompressor()
            try compressor.update([1, 2, 3]) { _ in }
        }
        await #expect(processExitsWith: .failure) {
            let compressor = try LZ4FrameCompressor()
            try compressor.begin { _ in }
            try compressor.begin { _ in }
        }
    }
}
