@testable import LZ4
import Testing

/// The Swift XXH32 and the content-checksum takeover: known vectors, agreement
/// with liblz4's own checksums, and frames interchangeable in both directions.
@Suite struct XXH32Tests {
    static func hash(_ bytes: [UInt8]) -> UInt32 { bytes.withUnsafeBytes { XXH32.hash($0) } }

    @Test func knownVectors() {
        #expect(Self.hash([]) == 0x02CC_5D05)
        #expect(Self.hash(Array("a".utf8)) == 0x550D_7456)
        #expect(Self.hash(Array("abc".utf8)) == 0x32D1_53FF)
    }

    @Test func matchesLiblz4ContentChecksum() throws {
        let seed = baseSeed &+ 7000
        var random = TestRandom(seed: seed)
        var sizes = Array(0...40) + [63, 64, 65, 79, 80, 127, 128, 129, 143, 191, 192, 1000, 65_536, 70_001]
        sizes += (0..<10).map { _ in Int(random.next() % 300_000) }
        let options = LZ4FrameOptions(blockSize: .kib64, blockChecksums: false)
        for size in sizes {
            let data = random.bytes(size)
            let compressor = try LZ4FrameCompressor(options: options, libraryContentChecksum: true)
            var frame: [UInt8] = []
            try compressor.begin(appendingTo: &frame)
            try compressor.update(data, appendingTo: &frame)
            try compressor.end(appendingTo: &frame)
            let stored = frame.suffix(4).reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            #expect(Self.hash(data) == stored, "size \(size) seed \(seed)")
        }
    }

    @Test func streamingUpdatesEqualOneShot() {
        let seed = baseSeed &+ 7100
        var random = TestRandom(seed: seed)
        for round in 0..<50 {
            let data = random.bytes(Int(random.next() % 2000))
            var hasher = XXH32()
            var offset = 0
            while offset < data.count {
                let size = min(Int(random.next() % 40), data.count - offset)
                data[offset..<(offset + size)].withUnsafeBytes { hasher.update($0) }
                offset += size
            }
            #expect(hasher.digest() == Self.hash(data), "round \(round) seed \(seed)")
        }
    }

    /// Large updates (the four-stripe vector path) split at any offset hash like
    /// small ones and like liblz4.
    @Test func largeUnevenUpdatesEqualOneShot() throws {
        let seed = baseSeed &+ 7150
        var random = TestRandom(seed: seed)
        for round in 0..<20 {
            let data = random.bytes(Int(random.next() % 5000))
            var hasher = XXH32()
            var offset = 0
            while offset < data.count {
                let size = min(Int(random.next() % 700), data.count - offset)
                data[offset..<(offset + size)].withUnsafeBytes { hasher.update($0) }
                offset += size
            }
            var bytewise = XXH32()
            for byte in data { withUnsafeBytes(of: byte) { bytewise.update($0) } }
            #expect(hasher.digest() == Self.hash(data), "round \(round) seed \(seed)")
            #expect(bytewise.digest() == Self.hash(data), "round \(round) seed \(seed)")
        }
    }

    /// Frames from the Swift-checksum compressor are verified by liblz4, and the
    /// other way round; a wrong checksum is rejected by both decoders.
    @Test(arguments: [false, true])
    func framesInterchangeWithLiblz4Checksums(swiftCompresses: Bool) throws {
        let seed = baseSeed &+ 7200
        var random = TestRandom(seed: seed)
        let data = random.compressibleBytes(300_000) + random.bytes(5000)
        let options = LZ4FrameOptions(blockSize: .kib64, blockChecksums: false)
        let compressor = try LZ4FrameCompressor(options: options, libraryContentChecksum: !swiftCompresses)
        var frame: [UInt8] = []
        try compressor.begin(appendingTo: &frame)
        try compressor.update(data, appendingTo: &frame)
        try compressor.end(appendingTo: &frame)
        #expect(frame[4] & FrameDescriptor.contentChecksumFlag != 0)

        for libraryVerifies in [false, true] {
            let decompressor = try LZ4FrameDecompressor(libraryContentChecksum: libraryVerifies)
            var out: [UInt8] = []
            try decompressor.decompress(frame, appendingTo: &out)
            try decompressor.finish()
            expectSameBytes(out, data, "library verifies \(libraryVerifies); seed \(seed)")

            var corrupt = frame
            corrupt[corrupt.count - 2] ^= 0x10
            let checker = try LZ4FrameDecompressor(libraryContentChecksum: libraryVerifies)
            #expect(throws: LZ4Error.library(code: .contentChecksumInvalid, name: "ERROR_contentChecksum_invalid")) {
                try checker.decompress(corrupt) { _ in }
            }
        }
    }

    /// Skipping liblz4's checksums for one frame must not leak into the next.
    @Test func blockChecksumsStillVerifiedAfterReset() throws {
        var random = TestRandom(seed: baseSeed &+ 7300)
        let data = random.compressibleBytes(50_000)
        let plain = try LZ4Frame.compress(data, options: LZ4FrameOptions(blockChecksums: false))
        var withBlockSums = try LZ4Frame.compress(data, options: LZ4FrameOptions(blockChecksums: true))
        // Corrupt the first block's checksum (the 4 bytes before the end mark and content checksum).
        withBlockSums[withBlockSums.count - 9] ^= 0x01
        let decompressor = try LZ4FrameDecompressor()
        try decompressor.decompress(plain) { _ in }
        try decompressor.finish()
        decompressor.reset()
        #expect(throws: LZ4Error.library(code: .blockChecksumInvalid, name: "ERROR_blockChecksum_invalid")) {
            try decompressor.decompress(withBlockSums) { _ in }
        }
    }
}
