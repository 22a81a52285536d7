import Base
import Testing
import TestThreads

@testable import MVCC

/// `KeyWords` (a key's bytes 0..<16 and length as integers, kept in index leaves) orders
/// keys exactly as `Bytes.compare`, and the index built on it finds, removes and visits
/// exactly what a dictionary model holds, for keys chosen to tie: lengths around 8 and 16,
/// zero bytes that look like padding, long keys equal in their first 16 bytes.
@Suite struct KeyWordsTests {
    /// Keys over {0x00, 0x01, 0xff} of length 0...20, most sharing one 16-byte stem.
    static func key(_ rng: inout SeededGenerator) -> [UInt8] {
        let stem: [UInt8] = [7, 0, 0, 1, 0xff, 0, 0, 0, 3, 0, 0xff, 0, 0, 0, 0, 0]
        let alphabet: [UInt8] = [0x00, 0x01, 0xff]
        let n = Int.random(in: 0...20, using: &rng)
        let shared = Int.random(in: 0...min(n, 16), using: &rng)
        return (0..<n).map { i in i < shared ? stem[i] : alphabet.randomElement(using: &rng)! }
    }

    /// The index's comparison: prefix words, then `compareTail`, then the bytes.
    static func compareByWords(_ a: [UInt8], _ b: [UInt8]) -> Int {
        let wa = KeyWords(a), wb = KeyWords(b)
        if wa.prefix != wb.prefix { return wa.prefix < wb.prefix ? -1 : 1 }
        return wb.compareTail(wa.tail, wa.length) ?? Bytes.compare(a, b)
    }

    @Test func wordsOrderKeysAsBytes() {
        let seed: UInt64 = 11
        var rng = SeededGenerator(seed: seed)
        for step in 0..<200_000 {
            let a = Self.key(&rng)
            let b = Int.random(in: 0..<4, using: &rng) == 0 ? a : Self.key(&rng)
            let want = Bytes.compare(a, b)
            let got = Self.compareByWords(a, b)
            if got != want {
                Issue.record("seed \(seed) step \(step): \(a) vs \(b): words say \(got), bytes \(want)")
                return
            }
        }
    }

    @Test func indexOfTyingKeysAgainstDictionary() async throws {
        try await onOwnThread {
            for seed in UInt64(1)...4 {
                var rng = SeededGenerator(seed: seed)
                let tree = BTree<TestElement>(fanout: 8)
                var model: [[UInt8]: Int] = [:]
                for step in 0..<6000 {
                    let key = Self.key(&rng)
                    switch Int.random(in: 0..<10, using: &rng) {
                    case 0..<5:
                        let v = Int.random(in: 0..<1000, using: &rng)
                        tree.upsert(key, make: { TestElement(key: key, payload: 0) }) { $0.payload = v }
                        model[key] = v
                    case 5..<7:
                        let removed = tree.remove(key)
                        #expect(removed?.payload == model.removeValue(forKey: key), "seed \(seed) step \(step)")
                    default:
                        #expect(tree.find(key)?.payload == model[key], "seed \(seed) step \(step) key \(key)")
                    }
                    if step % 211 == 0 {
                        #expect(tree.checkInvariants() == nil, "seed \(seed) step \(step): \(tree.checkInvariants() ?? "")")
                        for k in model.keys { #expect(tree.find(k)?.payload == model[k], "seed \(seed) step \(step) key \(k)") }
                        let lo = Self.key(&rng), hi = Self.key(&rng)
                        var got: [[UInt8]] = []
                        tree.forEachInPlace(from: lo, to: hi) { got.append($0.pointee.key); return true }
                        let want = model.keys.filter { Bytes.compare($0, lo) >= 0 && Bytes.compare($0, hi) < 0 }.sorted(by: Bytes.less)
                        #expect(got == want, "seed \(seed) step \(step) range \(lo)..<\(hi)")
                    }
                }
                #expect(tree.elements().map(\.key) == model.keys.sorted(by: Bytes.less), "seed \(seed)")
            }
        }
    }
}
