import LZ4
import Testing

/// Corrupt, truncated and foreign input: always a thrown error, never a crash,
/// and never a successful decode that differs from the original.
@Suite struct CorruptionTests {
    /// Seed of the data inside `smallFrame`.
    static let smallFrameSeed = baseSeed &+ 7

    static func smallFrame(options: LZ4FrameOptions = LZ4FrameOptions()) throws -> (data: [UInt8], frame: [UInt8]) {
        var random = TestRandom(seed: smallFrameSeed)
        let data = random.compressibleBytes(600) + random.bytes(40)
        return (data, try LZ4Frame.compress(data, options: options))
    }

    @Test func truncatedAtEveryCutPoint() throws {
        for options in [LZ4FrameOptions(), LZ4FrameOptions(contentChecksum: false, blockChecksums: false)] {
            let (data, frame) = try Self.smallFrame(options: options)
            for cut in 0..<frame.count {
                let decompressor = try LZ4FrameDecompressor()
                var out: [UInt8] = []
                try decompressor.decompress(frame[0..<cut], appendingTo: &out)
                expectSameBytes(out, Array(data.prefix(out.count)), "cut \(cut): emitted bytes must be a prefix; seed \(Self.smallFrameSeed)")
                #expect(throws: LZ4Error.truncatedFrame(bytesReceived: UInt64(cut)), "cut \(cut); seed \(Self.smallFrameSeed)") {
                    try decompressor.finish()
                }
            }
            try expectSameBytes(LZ4Frame.decompress(frame), data)
        }
    }

    @Test func truncatedMultiBlockFrameAtBlockEdges() throws {
        let seed = baseSeed &+ 8
        var random = TestRandom(seed: seed)
        let data = random.bytes(3 * (64 << 10) + 5)
        let frame = try LZ4Frame.compress(data, options: LZ4FrameOptions(blockSize: .kib64))
        for cut in stride(from: 0, to: frame.count, by: 997) + Array(frame.count - 12..<frame.count) {
            #expect(throws: LZ4Error.truncatedFrame(bytesReceived: UInt64(cut)), "cut \(cut); seed \(seed)") {
                _ = try LZ4Frame.decompress(frame[0..<cut])
            }
        }
    }

    @Test(arguments: [true, false])
    func everySingleBitFlipIsCaughtOrHarmless(blockChecksums: Bool) throws {
        let (data, frame) = try Self.smallFrame(options: LZ4FrameOptions(blockChecksums: blockChecksums))
        var harmless = 0
        for bit in 0..<(frame.count * 8) {
            var corrupt = frame
            corrupt[bit / 8] ^= 1 << UInt8(bit % 8)
            if let decoded = try? LZ4Frame.decompress(corrupt) {
                expectSameBytes(decoded, data, "bit \(bit) decoded to different data; seed \(Self.smallFrameSeed)")
                harmless += 1
            }
        }
        // Only header flag bits that do not change the content can decode successfully.
        #expect(harmless < 8, "\(harmless) flips decoded without error; seed \(Self.smallFrameSeed)")
    }

    @Test(arguments: 0..<4)
    func randomMultiByteCorruptionOfLargeFrame(round: Int) throws {
        let seed = baseSeed &+ 5000 &+ UInt64(round)
        var random = TestRandom(seed: seed)
        let data = random.compressibleBytes(400_000)
        let options = LZ4FrameOptions(blockSize: .kib64, independentBlocks: round % 2 == 0, blockChecksums: round < 2)
        let frame = try LZ4Frame.compress(data, options: options)
        for trial in 0..<60 {
            var corrupt = frame
            for _ in 0...(random.next() % 4) {
                let at = Int(random.next() % UInt64(corrupt.count))
                corrupt[at] ^= UInt8(1 + random.next() % 255)
            }
            if let decoded = try? decodeInPieces(corrupt, pieces: [4096, 1, 30_000]).output {
                expectSameBytes(decoded, data, "trial \(trial) decoded wrong data; seed \(seed)")
            }
        }
    }

    @Test func foreignInputIsRejected() throws {
        let seed = baseSeed &+ 6000
        var random = TestRandom(seed: seed)
        let gzip: [UInt8] = [0x1F, 0x8B, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03] + random.bytes(40)
        #expect(throws: LZ4Error.notAnLZ4Frame(magic: 0x0008_8B1F)) { _ = try LZ4Frame.decompress(gzip) }

        let skippable: [UInt8] = [0x50, 0x2A, 0x4D, 0x18, 4, 0, 0, 0, 1, 2, 3, 4]
        #expect(throws: LZ4Error.notAnLZ4Frame(magic: 0x184D_2A50)) { _ = try LZ4Frame.decompress(skippable) }

        let legacy: [UInt8] = [0x02, 0x21, 0x4C, 0x18] + random.bytes(20)
        #expect(throws: LZ4Error.notAnLZ4Frame(magic: 0x184C_2102)) { _ = try LZ4Frame.decompress(legacy) }

        #expect(throws: LZ4Error.truncatedFrame(bytesReceived: 0)) { _ = try LZ4Frame.decompress([UInt8]()) }

        for trial in 0..<500 {
            let junk = random.bytes(Int(random.next() % 300))
            #expect(throws: LZ4Error.self, "random junk trial \(trial); seed \(seed)") { _ = try LZ4Frame.decompress(junk) }
            // Valid magic, junk header and body.
            let fake = [0x04, 0x22, 0x4D, 0x18] + junk
            #expect(throws: LZ4Error.self, "magic + junk trial \(trial); seed \(seed)") { _ = try LZ4Frame.decompress(fake) }
        }
    }

    @Test func bytesAfterTheFrameAreRejected() throws {
        let (data, frame) = try Self.smallFrame()
        #expect(throws: LZ4Error.trailingData(byteCount: 1)) { _ = try LZ4Frame.decompress(frame + [0]) }
        #expect(throws: LZ4Error.trailingData(byteCount: frame.count)) { _ = try LZ4Frame.decompress(frame + frame) }

        // Split after the frame: the frame decodes, the next piece is refused.
        let decompressor = try LZ4FrameDecompressor()
        var out: [UInt8] = []
        try decompressor.decompress(frame, appendingTo: &out)
        #expect(decompressor.isFinished)
        expectSameBytes(out, data)
        #expect(throws: LZ4Error.trailingData(byteCount: 3)) { try decompressor.decompress([1, 2, 3], appendingTo: &out) }
        #expect(throws: LZ4Error.trailingData(byteCount: 3)) { try decompressor.finish() }
    }

    @Test func checksumMismatchNamesLiblz4Error() throws {
        let (_, frame) = try Self.smallFrame(options: LZ4FrameOptions(blockChecksums: false))
        var corrupt = frame
        corrupt[corrupt.count - 1] ^= 0x40  // inside the content checksum
        #expect(throws: LZ4Error.library(code: .contentChecksumInvalid, name: "ERROR_contentChecksum_invalid")) {
            _ = try LZ4Frame.decompress(corrupt)
        }
    }

    @Test func outputLimitIsEnforced() throws {
        let data = [UInt8](repeating: 7, count: 1 << 20)
        let frame = try LZ4Frame.compress(data, options: LZ4FrameOptions(blockSize: .kib64))
        #expect(frame.count < 10_000)
        #expect(throws: LZ4Error.outputLimitExceeded(limitBytes: 100_000)) {
            _ = try LZ4Frame.decompress(frame, maxOutputBytes: 100_000)
        }
        try expectSameBytes(LZ4Frame.decompress(frame, maxOutputBytes: 1 << 20), data)
    }

    @Test func pledgedContentSizeIsVerified() throws {
        let compressor = try LZ4FrameCompressor(options: LZ4FrameOptions(contentSize: 10))
        var frame: [UInt8] = []
        try compressor.begin(appendingTo: &frame)
        try compressor.update([1, 2, 3], appendingTo: &frame)
        #expect(throws: LZ4Error.self) { try compressor.end(appendingTo: &frame) }
        #expect(!compressor.isInFrame)
    }

    @Test func invalidOptionsAreRejected() {
        #expect(throws: LZ4Error.self) { _ = try LZ4FrameCompressor(options: LZ4FrameOptions(compressionLevel: 13)) }
        #expect(throws: LZ4Error.self) { _ = try LZ4FrameCompressor(options: LZ4FrameOptions(contentSize: 0)) }
    }
}
