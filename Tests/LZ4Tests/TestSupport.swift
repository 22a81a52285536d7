#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LZ4
import Testing

/// Seeded SplitMix64 for the LZ4 tests (the LZ4 test target depends only on LZ4).
/// Every randomized test reports its seed in failure messages; set
/// `LZ4_TEST_SEED` in the environment to rerun with a different base seed.
struct TestRandom: RandomNumberGenerator {
    private var state: UInt64
    let seed: UInt64

    init(seed: UInt64) {
        self.seed = seed
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `count` uniformly random bytes (incompressible).
    mutating func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { buffer in
            var i = 0
            while i + 8 <= count {
                buffer.storeBytes(of: next(), toByteOffset: i, as: UInt64.self)
                i += 8
            }
            while i < count {
                buffer[i] = UInt8(truncatingIfNeeded: next())
                i += 1
            }
        }
        return out
    }

    /// `count` bytes drawn from a small vocabulary of words (compresses well, but
    /// not trivially).
    mutating func compressibleBytes(_ count: Int) -> [UInt8] {
        let words: [[UInt8]] = (0..<32).map { i in Array("w\(i)-\(i * 7919 % 1000)_".utf8) }
        var out: [UInt8] = []
        out.reserveCapacity(count + 16)
        while out.count < count {
            if next() % 16 == 0 {
                out.append(UInt8(truncatingIfNeeded: next()))
            } else {
                out.append(contentsOf: words[Int(next() % UInt64(words.count))])
            }
        }
        out.removeLast(out.count - count)
        return out
    }
}

/// Base seed for randomized tests; overridable for exploration runs.
let baseSeed: UInt64 = {
    if let text = getEnvironment("LZ4_TEST_SEED"), let value = UInt64(text) { return value }
    return 0x5EED_1234
}()

/// Reads an environment variable without Foundation.
func getEnvironment(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    return String(cString: value)
}

/// Decompresses `frame` fed in the given piece sizes (cycled), then finishes.
/// Also records the largest single output chunk the decoder emitted.
func decodeInPieces(_ frame: [UInt8], pieces: [Int]) throws -> (output: [UInt8], largestChunk: Int) {
    let decompressor = try LZ4FrameDecompressor()
    var output: [UInt8] = []
    var largest = 0
    var offset = 0
    var index = 0
    while offset < frame.count {
        let size = min(pieces[index % pieces.count], frame.count - offset)
        index += 1
        try decompressor.decompress(frame[offset..<(offset + size)]) { chunk in
            largest = max(largest, chunk.count)
            output.append(contentsOf: chunk)
        }
        offset += size
    }
    try decompressor.finish()
    return (output, largest)
}

/// Compresses `data` fed in the given update sizes (cycled) with a streaming compressor.
func encodeInPieces(_ data: [UInt8], pieces: [Int], options: LZ4FrameOptions = LZ4FrameOptions()) throws -> [UInt8] {
    let compressor = try LZ4FrameCompressor(options: options)
    var frame: [UInt8] = []
    try compressor.begin(appendingTo: &frame)
    var offset = 0
    var index = 0
    while offset < data.count {
        let size = min(pieces[index % pieces.count], data.count - offset)
        index += 1
        try compressor.update(data[offset..<(offset + size)], appendingTo: &frame)
        offset += size
    }
    try compressor.end(appendingTo: &frame)
    return frame
}

/// Records an issue when `actual` differs from `expected`, describing only the
/// first difference (byte arrays here are megabytes; printing them is useless).
func expectSameBytes(
    _ actual: [UInt8], _ expected: [UInt8], _ comment: Comment = "",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    var difference: String? = nil
    if actual == expected {
        difference = nil
    } else if actual.count != expected.count {
        difference = "length \(actual.count) != \(expected.count)"
    } else if let at = actual.indices.first(where: { actual[$0] != expected[$0] }) {
        difference = "first difference at byte \(at)"
    }
    #expect(difference == nil, comment, sourceLocation: sourceLocation)
}
