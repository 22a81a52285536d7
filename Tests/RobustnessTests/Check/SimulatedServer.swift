import Base
import Robustness

/// A correct etcd-like server simulated in one thread, for model-based checker tests: ops
/// take effect one at a time at 100 µs steps, each call and return lie up to `clients` steps
/// around that point (so about `clients` operations overlap), revisions have gaps, and writes
/// whose index falls in `unknownWindow` come back unknown (return ∞) whether or not they took
/// effect — the shape a killed node leaves. Deterministic per seed.
enum SimulatedServer {
    static func history(seed: UInt64, count: Int, clients: Int, keys: Int, listPercent: Int, unknownWindow: Range<Int>) -> [HistoryOperation] {
        var rng = SeededGenerator(seed: seed)
        var kvs: [String: KVRecord] = [:]
        var revision: Int64 = 1
        var ops: [HistoryOperation] = []
        let spread = Int64(clients) * 100_000
        for i in 0..<count {
            let point = Int64(i) * 100_000
            let call = point - Int64(rng.below(Int(spread)))
            var ret = point + Int64(rng.below(Int(spread)))
            let key = "key/\(rng.below(keys))"
            let draw = rng.below(100)
            var input: OpInput
            var output: OpOutput
            var applies = true
            let unknown = unknownWindow.contains(i)
            if unknown { applies = rng.below(2) == 0 }
            if draw < listPercent {
                input = .list(prefix: "key/")
                output = .range(revision: revision, kvs: kvs.values.sorted { $0.key < $1.key })
            } else if draw < listPercent + 30 {
                input = .get(key: key)
                output = .range(revision: revision, kvs: kvs[key].map { [$0] } ?? [])
            } else if draw < listPercent + 80 {
                input = .put(key: key, value: "v\(i)", lease: 0)
                if applies {
                    revision += 1 + Int64(rng.below(3))
                    let old = kvs[key]
                    kvs[key] = KVRecord(
                        key: key, value: "v\(i)", modRevision: revision, createRevision: old?.createRevision ?? revision,
                        version: (old?.version ?? 0) + 1)
                }
                output = .put(revision: revision)
            } else {
                input = .delete(key: key)
                let existed = applies && kvs.removeValue(forKey: key) != nil
                if existed { revision += 1 + Int64(rng.below(3)) }
                output = .delete(revision: revision, deleted: existed ? 1 : 0)
            }
            if unknown, input.isWrite {
                output = .unknown(reason: "timeout")
                ret = .max
            } else if unknown {
                continue  // a read that failed: the patcher drops those
            }
            ops.append(HistoryOperation(id: ops.count, client: i % clients, callTime: call, returnTime: ret, input: input, output: output))
        }
        return ops
    }
}
