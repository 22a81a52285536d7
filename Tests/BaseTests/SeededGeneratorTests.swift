import Base
import Testing

@Suite struct SeededGeneratorTests {
    @Test func sameSeedSameSequence() {
        var a = SeededGenerator(seed: 42), b = SeededGenerator(seed: 42)
        for _ in 0..<1000 { #expect(a.next() == b.next()) }
    }

    @Test func differentSeedsDiverge() {
        var a = SeededGenerator(seed: 1), b = SeededGenerator(seed: 2)
        let xs = (0..<16).map { _ in a.next() }, ys = (0..<16).map { _ in b.next() }
        #expect(xs != ys)
    }

    @Test func boundedValuesAreRoughlyUniform() {
        var g = SeededGenerator(seed: 7)
        var buckets = [Int](repeating: 0, count: 10)
        for _ in 0..<100_000 { buckets[Int.random(in: 0..<10, using: &g)] += 1 }
        for count in buckets { #expect(count > 9_000 && count < 11_000) }
    }
}
