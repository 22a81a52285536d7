import Base
import Testing

@testable import MVCC

@Suite struct RecordKeyTests {
    @Test func encodingPreservesKeyThenRevisionOrder() {
        var rng = SeededGenerator(seed: 42)
        var pairs: [([UInt8], Revision)] = []
        for _ in 0..<2000 {
            let key = (0..<Int.random(in: 0...4, using: &rng)).map { _ in [0, 1, 0xFF, 0x61][Int.random(in: 0..<4, using: &rng)] as UInt8 }
            pairs.append((key, Revision(main: Int64.random(in: 1...50, using: &rng), sub: Int64.random(in: 0...3, using: &rng))))
        }
        let byModel = pairs.sorted { a, b in
            let c = Bytes.compare(a.0, b.0)
            return c != 0 ? c < 0 : a.1 < b.1
        }
        let byEncoding = pairs.sorted { Bytes.less(RecordKey.make($0.0, $0.1), RecordKey.make($1.0, $1.1)) }
        #expect(byModel.map { RecordKey.make($0.0, $0.1) } == byEncoding.map { RecordKey.make($0.0, $0.1) }, "seed 42")
        for (k, r) in pairs {
            let decoded = RecordKey.make(k, r).withUnsafeBytes { RecordKey.decode($0) }
            #expect(decoded?.key == k && decoded?.rev == r)
        }
    }

    @Test func segmentBoundsContainExactlyTheRange() {
        let (lo, hi) = RecordKey.segment(start: [0x61], end: [0x61, 0x00])
        let inside = RecordKey.make([0x61], Revision(main: 99, sub: 9))
        let after = RecordKey.make([0x61, 0x00], Revision(main: 1))
        let before = RecordKey.make([0x60, 0xFF, 0xFF], Revision(main: 1))
        #expect(Bytes.compare(inside, lo) >= 0 && Bytes.compare(inside, hi!) < 0)
        #expect(Bytes.compare(after, hi!) >= 0)
        #expect(Bytes.compare(before, lo) < 0)
    }

    @Test func malformedKeysAreRejected() {
        #expect([UInt8]([0x61, 0x00]).withUnsafeBytes { RecordKey.decode($0) } == nil)
        var bad = [UInt8]([0x61, 0x00, 0x02])
        Revision(main: 1).append(to: &bad)
        #expect(bad.withUnsafeBytes { RecordKey.decode($0) } == nil)
    }
}

@Suite struct RecordKeyCompareTests {
    @Test func compareAgreesWithEncodedOrder() {
        var rng = SeededGenerator(seed: 9)
        for _ in 0..<3000 {
            func key() -> [UInt8] { (0..<Int.random(in: 0...3, using: &rng)).map { _ in [0, 1, 0xFF, 0x61][Int.random(in: 0..<4, using: &rng)] } }
            let (k1, k2) = (key(), key())
            let r1 = Revision(main: Int64.random(in: 1...4, using: &rng), sub: Int64.random(in: 0...1, using: &rng))
            let r2 = Revision(main: Int64.random(in: 1...4, using: &rng), sub: Int64.random(in: 0...1, using: &rng))
            let want = Bytes.compare(RecordKey.make(k1, r1), RecordKey.make(k2, r2))
            let got = RecordKey.make(k1, r1).withUnsafeBytes { RecordKey.compare($0, k2, r2) }
            #expect(got == want, "seed 9: \(k1)@\(r1) vs \(k2)@\(r2)")
        }
    }

    /// Longer keys, mostly without 0x00 bytes (the memcmp fast path), some with them.
    @Test func compareAgreesWithEncodedOrderForLongKeys() {
        var rng = SeededGenerator(seed: 10)
        for _ in 0..<5000 {
            let alphabet: [UInt8] = Int.random(in: 0..<4, using: &rng) == 0 ? [0, 1, 0x61, 0xFF] : [1, 0x61, 0x62, 0xFF]
            let base = (0..<Int.random(in: 0...20, using: &rng)).map { _ in alphabet[Int.random(in: 0..<4, using: &rng)] }
            // Often a shared prefix, so the comparison reaches the terminator and revision.
            var k2 = Array(base.prefix(Int.random(in: 0...base.count, using: &rng)))
            for _ in 0..<Int.random(in: 0...3, using: &rng) { k2.append(alphabet[Int.random(in: 0..<4, using: &rng)]) }
            let k1 = Bool.random(using: &rng) ? base : k2
            let r1 = Revision(main: Int64.random(in: 1...300, using: &rng), sub: Int64.random(in: 0...1, using: &rng))
            let r2 = Revision(main: Int64.random(in: 1...300, using: &rng), sub: Int64.random(in: 0...1, using: &rng))
            let want = Bytes.compare(RecordKey.make(k1, r1), RecordKey.make(k2, r2))
            let got = RecordKey.make(k1, r1).withUnsafeBytes { RecordKey.compare($0, k2, r2) }
            #expect(got == want, "seed 10: \(k1)@\(r1) vs \(k2)@\(r2)")
        }
    }

    @Test func zeroByteTestMatchesNaiveSearch() {
        var rng = SeededGenerator(seed: 11)
        for step in 0..<5000 {
            let key = (0..<Int.random(in: 0...40, using: &rng)).map { _ in
                Int.random(in: 0..<12, using: &rng) == 0 ? 0 : UInt8.random(in: 1...255, using: &rng)
            }
            let got = key.withUnsafeBytes { RecordKey.containsZeroByte($0) }
            #expect(got == key.contains(0), "seed 11 step \(step): \(key)")
        }
        // Bytes 0x80 and 0x01 around a zero-free word must not look like zeros.
        #expect([UInt8](repeating: 0x80, count: 16).withUnsafeBytes { RecordKey.containsZeroByte($0) } == false)
        #expect(([0x01, 0x80] as [UInt8]).withUnsafeBytes { RecordKey.containsZeroByte($0) } == false)
    }
}
