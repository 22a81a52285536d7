@testable import LZ4
import Testing

/// `ContentHashPipeline` alone: whatever the chunk sizes (below the pipelining
/// threshold, above a granule) and wherever the waits fall, its digest is the
/// XXH32 of the chunks in submission order.
@Suite struct ContentHashPipelineTests {
    @Test(arguments: 0..<6)
    func digestEqualsOneShotHash(round: Int) {
        let seed = baseSeed &+ 13_000 &+ UInt64(round)
        var random = TestRandom(seed: seed)
        let sizes = [1, 100, 31 << 10, 32 << 10, 200_000, 256 << 10, 700_000, 3 << 20]
        var chunks: [[UInt8]] = []
        for _ in 0..<(4 + Int(random.next() % 20)) {
            chunks.append(random.bytes(sizes[Int(random.next() % UInt64(sizes.count))] + Int(random.next() % 17)))
        }
        let pipeline = ContentHashPipeline()
        for frame in 0..<2 {
            pipeline.reset()
            // Keep every chunk alive until the digest: memory is lent until a wait covers it.
            for chunk in chunks {
                chunk.withUnsafeBytes { pipeline.submit($0) }
                switch random.next() % 4 {
                case 0: pipeline.waitForSlot()
                case 1: pipeline.drain()
                default: break
                }
            }
            let expected = chunks.flatMap { $0 }.withUnsafeBytes { XXH32.hash($0) }
            #expect(pipeline.digest() == expected, "frame \(frame) sizes \(chunks.map(\.count)); seed \(seed)")
        }
    }
}
