/// Acknowledged-write durability: at the end of a run (faults healed), every acknowledged
/// put is either still readable with its value at its revision, or provably overwritten: the
/// key now has a later mod revision, or it is absent and some delete of it (a watch event or
/// an acknowledged delete / lease revoke) happened at a later revision.
public enum DurabilityChecker {
    public struct Lost: Sendable, CustomStringConvertible, Equatable {
        public var write: HistoryOperation
        public var finalState: KVRecord?
        public var description: String { "lost acknowledged write \(write); final state \(finalState.map(\.description) ?? "absent")" }
    }

    /// `finalKVs`: a linearizable read of every key at the end; `watchers`: their logs (for
    /// delete evidence).
    public static func check(history: [HistoryOperation], finalKVs: [KVRecord], watchers: [WatcherLog]) -> [Lost] {
        let final = Dictionary(finalKVs.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        var deletes: [String: Int64] = [:]  // key -> latest delete revision known
        for w in watchers {
            for e in w.events where e.isDelete { deletes[e.key] = max(deletes[e.key] ?? 0, e.revision) }
        }
        for op in history {
            switch (op.input, op.output) {
            case (.delete(let k), .delete(let r, let n)) where n > 0: deletes[k] = max(deletes[k] ?? 0, r)
            case (.leaseRevoke, .leaseRevoke(let r)):
                // The revoke deleted every key attached to the lease at its revision.
                if case .leaseRevoke(let id) = op.input {
                    for p in history {
                        if case .put(let k, _, let l) = p.input, l == id { deletes[k] = max(deletes[k] ?? 0, r) }
                    }
                }
            default: break
            }
        }
        var lost: [Lost] = []
        for op in history where op.returnTime != .max {
            let key: String, value: String, revision: Int64
            switch (op.input, op.output) {
            case (.put(let k, let v, _), .put(let r)): (key, value, revision) = (k, v, r)
            case (.compareAndSet(let k, _, let v), .compareAndSet(let r, true, _)): (key, value, revision) = (k, v, r)
            default: continue
            }
            if let kv = final[key] {
                if kv.modRevision > revision { continue }
                if kv.modRevision == revision && kv.value == value { continue }
                lost.append(Lost(write: op, finalState: kv))
            } else if (deletes[key] ?? 0) <= revision {
                lost.append(Lost(write: op, finalState: nil))
            }
        }
        return lost
    }
}
