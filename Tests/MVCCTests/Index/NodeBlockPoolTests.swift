import Base
import Testing

@testable import MVCC

/// `NodeBlockPool`: blocks are line-aligned, never overlap while in use, keep their bytes,
/// and freed blocks are reused for the same size.
@Suite struct NodeBlockPoolTests {
    @Test func blocksAreAlignedDisjointAndReused() {
        let pool = NodeBlockPool()
        var rng = SeededGenerator(seed: 7)
        let sizes = [100, 1560, 4680, 64, 70_000]
        var live: [(UnsafeMutableRawPointer, Int, UInt8)] = []
        for step in 0..<3000 {
            if live.isEmpty || Int.random(in: 0..<3, using: &rng) > 0 {
                let n = sizes[Int.random(in: 0..<sizes.count, using: &rng)]
                let b = pool.allocate(byteCount: n)
                #expect(Int(bitPattern: b) % 64 == 0, "step \(step): alignment")
                let fill = UInt8(truncatingIfNeeded: step)
                b.initializeMemory(as: UInt8.self, repeating: fill, count: n)
                live.append((b, n, fill))
            } else {
                let (b, n, fill) = live.remove(at: Int.random(in: 0..<live.count, using: &rng))
                // Nobody else wrote into the block while it was in use.
                let intact = UnsafeRawBufferPointer(start: b, count: n).allSatisfy { $0 == fill }
                #expect(intact, "step \(step): block of \(n) bytes kept its contents")
                pool.release(b, byteCount: n)
            }
        }
        let ranges = live.map { (UInt(bitPattern: $0.0), UInt(bitPattern: $0.0) + UInt($0.1)) }.sorted { $0.0 < $1.0 }
        for i in ranges.indices.dropFirst() { #expect(ranges[i - 1].1 <= ranges[i].0, "live blocks overlap") }
        for (b, n, _) in live { pool.release(b, byteCount: n) }
        // A freed block is handed out again for the same size.
        let a = pool.allocate(byteCount: 4680)
        pool.release(a, byteCount: 4680)
        #expect(pool.allocate(byteCount: 4680) == a)
        #expect(pool.chunkCount >= 1)
    }
}
