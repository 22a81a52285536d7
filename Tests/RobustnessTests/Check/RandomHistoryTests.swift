import Base
import Robustness
import Testing

/// Model-based: histories produced by a simulated correct server (random overlap, revision
/// gaps, unknown outcomes) must check as linearizable; the same history with one read
/// corrupted must not. Each case prints its seed.
@Suite struct RandomHistoryTests {
    /// A correct sequential server: ops linearize at 100 µs steps, calls and returns overlap.
    static func history(seed: UInt64, count: Int) -> [HistoryOperation] {
        var rng = SeededGenerator(seed: seed)
        var kvs: [String: KVRecord] = [:]
        var revision: Int64 = 1
        var ops: [HistoryOperation] = []
        for i in 0..<count {
            let point = Int64(i) * 100_000
            let call = point - Int64(rng.below(250_000))
            var ret = point + Int64(rng.below(250_000))
            let key = ["a", "b", "c"][rng.below(3)]
            let input: OpInput
            var output: OpOutput
            switch rng.below(4) {
            case 0, 1:
                input = .get(key: key)
                output = .range(revision: revision, kvs: kvs[key].map { [$0] } ?? [])
            case 2:
                let value = "v\(i)"
                input = .put(key: key, value: value, lease: 0)
                revision += 1 + Int64(rng.below(3))
                let old = kvs[key]
                kvs[key] = KVRecord(
                    key: key, value: value, modRevision: revision, createRevision: old?.createRevision ?? revision,
                    version: (old?.version ?? 0) + 1)
                output = .put(revision: revision)
            default:
                input = .delete(key: key)
                let existed = kvs.removeValue(forKey: key) != nil
                if existed { revision += 1 + Int64(rng.below(3)) }
                output = .delete(revision: revision, deleted: existed ? 1 : 0)
            }
            if input.isWrite, rng.below(10) == 0 {
                output = .unknown(reason: "timeout")
                ret = .max
            }
            ops.append(HistoryOperation(id: i, client: i % 5, callTime: call, returnTime: ret, input: input, output: output))
        }
        return ops
    }

    @Test(arguments: [UInt64(1), 2, 3, 4, 5, 6, 7, 8])
    func correctServerHistoriesAreLinearizable(seed: UInt64) {
        let ops = Self.history(seed: seed, count: 300)
        let verdict = LinearizabilityChecker().check(ops)
        #expect(verdict.isLinearizable, "seed \(seed): \(verdict)")
        #expect(RevisionOrderChecker.check(ops).isEmpty, "seed \(seed)")
    }

    @Test(arguments: [UInt64(11), 12, 13, 14])
    func corruptedReadIsCaught(seed: UInt64) {
        var ops = Self.history(seed: seed, count: 300)
        // Corrupt the last read that saw a value: it now reports the key absent at a later time.
        guard let i = ops.lastIndex(where: { if case .range(_, let kvs) = $0.output { !kvs.isEmpty } else { false } }) else {
            Issue.record("seed \(seed): no read with a value")
            return
        }
        guard case .range(let rev, var kvs) = ops[i].output else { return }
        kvs[0].value = "never-written"
        ops[i].output = .range(revision: rev, kvs: kvs)
        #expect(!LinearizabilityChecker().check(ops).isLinearizable, "seed \(seed)")
    }
}

/// Random test inputs below a bound.
extension SeededGenerator {
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}
