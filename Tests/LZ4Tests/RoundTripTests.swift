import LZ4
import Testing
import TestThreads

/// Round trips through the one-shot and streaming APIs for sizes around every
/// block boundary, compressible and incompressible, with every block size.
@Suite struct RoundTripTests {
    static let sizes: [Int] = [
        0, 1, 2, 7, 100, 4095,
        (64 << 10) - 1, 64 << 10, (64 << 10) + 1,
        (256 << 10) - 1, 256 << 10, (256 << 10) + 1,
        (1 << 20) + 1, (4 << 20) - 1, 4 << 20, (4 << 20) + 1,
    ]

    @Test(arguments: sizes, [false, true])
    func oneShotRoundTrip(size: Int, compressible: Bool) async throws {
        // Long synchronous work: on a thread of its own, not a cooperative pool thread.
        try await onOwnThread {
            let seed = baseSeed &+ UInt64(size)
            var random = TestRandom(seed: seed)
            let data = compressible ? random.compressibleBytes(size) : random.bytes(size)
            let frame = try LZ4Frame.compress(data)
            let decoded = try LZ4Frame.decompress(frame)
            expectSameBytes(decoded, data, "size \(size) compressible \(compressible) seed \(seed)")
            if compressible && size > 4096 {
                #expect(frame.count < data.count / 2, "compressible data should shrink; seed \(seed)")
            }
        }
    }

    @Test(arguments: LZ4FrameOptions.BlockSize.allCases)
    func streamingRoundTripEveryBlockSize(blockSize: LZ4FrameOptions.BlockSize) async throws {
        // Long synchronous work: on a thread of its own, not a cooperative pool thread.
        try await onOwnThread {
            let seed = baseSeed &+ UInt64(blockSize.bytes)
            var random = TestRandom(seed: seed)
            for size in [0, 1, blockSize.bytes - 1, blockSize.bytes, blockSize.bytes + 1, 3 * blockSize.bytes + 17] {
                for compressible in [false, true] {
                    let data = compressible ? random.compressibleBytes(size) : random.bytes(size)
                    let options = LZ4FrameOptions(blockSize: blockSize)
                    let frame = try encodeInPieces(data, pieces: [size == 0 ? 1 : size], options: options)
                    let (decoded, largest) = try decodeInPieces(frame, pieces: [frame.count])
                    expectSameBytes(decoded, data, "block \(blockSize) size \(size) compressible \(compressible) seed \(seed)")
                    #expect(largest <= blockSize.bytes, "sink chunk \(largest) exceeds block size; seed \(seed)")
                }
            }
        }
    }

    @Test func severalMegabytesLinkedBlocksAndHighCompression() async throws {
        // Long synchronous work: on a thread of its own, not a cooperative pool thread.
        try await onOwnThread {
            let seed = baseSeed &+ 99
            var random = TestRandom(seed: seed)
            var data = random.compressibleBytes(5 << 20)
            data += random.bytes(1 << 20)
            for options in [
                LZ4FrameOptions(blockSize: .kib64, independentBlocks: false),
                LZ4FrameOptions(blockSize: .mib1, blockChecksums: false, compressionLevel: 9),
                LZ4FrameOptions(contentChecksum: false, blockChecksums: false, compressionLevel: -10),
            ] {
                let frame = try encodeInPieces(data, pieces: [1 << 20, 12_345], options: options)
                let decoded = try LZ4Frame.decompress(frame)
                expectSameBytes(decoded, data, "options \(options) seed \(seed)")
                let oneShot = try LZ4Frame.compress(data, options: options)
                try expectSameBytes(LZ4Frame.decompress(oneShot), data, "one-shot, options \(options) seed \(seed)")
            }
        }
    }

    @Test func frameInfoReflectsOptions() throws {
        let options = LZ4FrameOptions(
            blockSize: .kib256, independentBlocks: false, contentChecksum: true, blockChecksums: false,
            contentSize: 5)
        let frame = try encodeInPieces(Array("hello".utf8), pieces: [5], options: options)
        let decompressor = try LZ4FrameDecompressor()
        var out: [UInt8] = []
        try decompressor.decompress(frame, appendingTo: &out)
        try decompressor.finish()
        expectSameBytes(out, Array("hello".utf8))
        let info = try #require(decompressor.frameInfo)
        #expect(info.blockSize == .kib256)
        #expect(!info.independentBlocks)
        #expect(info.contentChecksum)
        #expect(!info.blockChecksums)
        #expect(info.contentSize == 5)
        #expect(decompressor.bytesIn == UInt64(frame.count))
        #expect(decompressor.bytesOut == 5)
    }
}
