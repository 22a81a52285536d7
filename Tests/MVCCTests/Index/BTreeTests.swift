import Base
import Testing
import TestThreads

@testable import MVCC

struct TestElement: BTreeElement, Equatable {
    var key: [UInt8]
    var payload: Int
}

@Suite struct BTreeTests {
    @Test func randomizedAgainstDictionary() async throws {
        // Long synchronous work: on a thread of its own, not a cooperative pool thread.
        try await onOwnThread {
            for seed in UInt64(1)...6 {
                var rng = SeededGenerator(seed: seed)
                let tree = BTree<TestElement>(fanout: 8)
                var model: [[UInt8]: Int] = [:]
                for step in 0..<4000 {
                    let key = (0..<Int.random(in: 0...3, using: &rng)).map { _ in UInt8.random(in: 0...7, using: &rng) }
                    switch Int.random(in: 0..<10, using: &rng) {
                    case 0..<5:
                        let v = Int.random(in: 0..<1000, using: &rng)
                        tree.upsert(key, make: { TestElement(key: key, payload: 0) }) { $0.payload = v }
                        model[key] = v
                    case 5..<8:
                        let removed = tree.remove(key)
                        #expect(removed?.payload == model.removeValue(forKey: key), "seed \(seed) step \(step)")
                    default:
                        #expect(tree.find(key)?.payload == model[key], "seed \(seed) step \(step)")
                    }
                    if step % 97 == 0 {
                        #expect(tree.checkInvariants() == nil, "seed \(seed) step \(step): \(tree.checkInvariants() ?? "")")
                        let lo = [UInt8.random(in: 0...7, using: &rng)]
                        let hi = [UInt8.random(in: 0...7, using: &rng)]
                        var got: [[UInt8]] = []
                        tree.forEach(from: lo, to: hi) { got.append($0.key); return true }
                        let want = model.keys.filter { Bytes.compare($0, lo) >= 0 && Bytes.compare($0, hi) < 0 }.sorted(by: Bytes.less)
                        #expect(got == want, "seed \(seed) step \(step) range \(lo)..<\(hi)")
                        // The in-place walk visits the same elements (keys and payloads), also
                        // unbounded, and stops when the body says so.
                        var inPlace: [TestElement] = []
                        tree.forEachInPlace(from: lo, to: hi) { inPlace.append($0.pointee); return true }
                        #expect(inPlace.map(\.key) == want, "seed \(seed) step \(step) in place \(lo)..<\(hi)")
                        #expect(inPlace.allSatisfy { model[$0.key] == $0.payload }, "seed \(seed) step \(step)")
                        // The pointers stay valid after the walk until the tree is modified
                        // (range reads keep them in `IndexHit`).
                        var pointers: [UnsafePointer<TestElement>] = []
                        tree.forEachInPlace(from: lo, to: hi) { pointers.append($0); return true }
                        #expect(pointers.map(\.pointee.key) == want, "seed \(seed) step \(step) pointers after the walk")
                        #expect(pointers.allSatisfy { model[$0.pointee.key] == $0.pointee.payload }, "seed \(seed) step \(step)")
                        var tail: [[UInt8]] = []
                        tree.forEachInPlace(from: lo, to: nil) { tail.append($0.pointee.key); return tail.count < 5 }
                        let wantTail = model.keys.filter { Bytes.compare($0, lo) >= 0 }.sorted(by: Bytes.less).prefix(5)
                        #expect(tail == Array(wantTail), "seed \(seed) step \(step) in place from \(lo), stop after 5")
                    }
                }
                #expect(tree.count == model.count, "seed \(seed)")
                #expect(tree.elements().map(\.key) == model.keys.sorted(by: Bytes.less), "seed \(seed)")
                #expect(tree.checkInvariants() == nil, "seed \(seed)")
            }
        }
    }

    @Test func bulkLoadAndMutate() {
        let elements = (0..<1000).map { i in TestElement(key: [UInt8(i >> 8), UInt8(i & 0xFF)], payload: i) }
        let tree = BTree<TestElement>(sorted: elements, fanout: 16)
        #expect(tree.checkInvariants() == nil)
        #expect(tree.count == 1000)
        // Remove every odd payload in batches of 100, as compaction does.
        var cursor: [UInt8]? = []
        var batches = 0
        while let c = cursor {
            cursor = tree.mutate(from: c, limit: 100) { e in e.payload % 2 == 1 }
            batches += 1
        }
        #expect(batches == 10)
        #expect(tree.count == 500)
        #expect(tree.elements().allSatisfy { $0.payload % 2 == 0 })
        #expect(tree.checkInvariants() == nil)
        while let first = tree.elements().first { tree.remove(first.key) }
        #expect(tree.count == 0)
        #expect(tree.checkInvariants() == nil)
    }
}
