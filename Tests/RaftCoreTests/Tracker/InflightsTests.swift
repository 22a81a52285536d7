import Testing
@testable import RaftCore

@Suite struct InflightsTests {
    @Test func addUntilFullThenFree() {
        var inf = Inflights(capacity: 4)
        for i in UInt64(1)...4 { inf.add(i) }
        #expect(inf.isFull)
        #expect(inf.indexes == [1, 2, 3, 4])
        inf.freeLE(2)
        #expect(inf.indexes == [3, 4])
        #expect(!inf.isFull)
        inf.add(5)
        inf.add(6)  // wraps around the ring
        #expect(inf.indexes == [3, 4, 5, 6])
        #expect(inf.isFull)
        inf.freeLE(5)
        #expect(inf.indexes == [6])
        inf.freeLE(100)
        #expect(inf.count == 0)
    }

    @Test func freeBelowFirstIsNoOp() {
        var inf = Inflights(capacity: 3)
        inf.add(10)
        inf.add(20)
        inf.freeLE(9)
        #expect(inf.indexes == [10, 20])
        inf.freeLE(15)
        #expect(inf.indexes == [20])
    }

    @Test func resetEmpties() {
        var inf = Inflights(capacity: 2)
        inf.add(1)
        inf.add(2)
        inf.reset()
        #expect(inf.count == 0 && !inf.isFull)
        inf.add(3)
        #expect(inf.indexes == [3])
    }

    /// Model-based: the ring matches a plain array under random operations.
    @Test func matchesArrayModel() {
        let seed: UInt64 = 42
        var rng = Base.SeededGenerator(seed: seed)
        var inf = Inflights(capacity: 8)
        var model: [UInt64] = []
        var next: UInt64 = 1
        for step in 0..<2000 {
            if Bool.random(using: &rng) && model.count < 8 {
                inf.add(next)
                model.append(next)
                next += 1
            } else {
                let upTo = next &- min(next, UInt64.random(in: 0...3, using: &rng))
                inf.freeLE(upTo)
                model.removeAll { $0 <= upTo }
            }
            #expect(inf.indexes == model, "seed \(seed) step \(step)")
            if inf.indexes != model { return }
        }
    }
}

import Base
