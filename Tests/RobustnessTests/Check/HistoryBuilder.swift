import Robustness

/// Builds hand-written histories for checker tests: times in microseconds.
struct HistoryBuilder {
    var ops: [HistoryOperation] = []

    mutating func add(_ client: Int, _ call: Int64, _ ret: Int64?, _ input: OpInput, _ output: OpOutput) {
        ops.append(
            HistoryOperation(
                id: ops.count, client: client, callTime: call * 1_000, returnTime: ret.map { $0 * 1_000 } ?? .max,
                input: input, output: output))
    }

    mutating func put(_ c: Int, _ call: Int64, _ ret: Int64?, _ k: String, _ v: String, rev: Int64?, lease: Int64 = 0) {
        add(c, call, ret, .put(key: k, value: v, lease: lease), rev.map { .put(revision: $0) } ?? .unknown(reason: "timeout"))
    }

    mutating func get(_ c: Int, _ call: Int64, _ ret: Int64, _ k: String, rev: Int64, _ kvs: [KVRecord]) {
        add(c, call, ret, .get(key: k), .range(revision: rev, kvs: kvs))
    }
}

func kv(_ k: String, _ v: String, mod: Int64, create: Int64? = nil, version: Int64 = 1, lease: Int64 = 0) -> KVRecord {
    KVRecord(key: k, value: v, modRevision: mod, createRevision: create ?? mod, version: version, lease: lease)
}
