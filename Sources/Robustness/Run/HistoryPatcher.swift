/// Prepares a recorded history for the checkers, the way etcd's robustness suite does:
/// failed reads and refusals the model does not explain are dropped (they had no effect);
/// an unknown write whose unique value was observed (by a read or a watch event) did
/// happen, at the observed revision, so it becomes a definite write that may linearize any
/// time after its call; an unknown write never observed while the watch saw everything did
/// not happen and is dropped. Likewise an unknown delete of a key whose every delete event is
/// explained by an acknowledged delete or revoke; and with a complete watch, the unknown deletes
/// of a key whose delete events no revoke can explain become definite deletes at those events'
/// revisions (`UnknownDeleteResolver`, which argues why). A patched write must have taken effect before
/// any acknowledged response carrying a header revision at or above its own, so its return time
/// becomes the earliest such response (this keeps the search small after long faults).
public enum HistoryPatcher {
    public static func patch(_ ops: [HistoryOperation], watchers: [WatcherLog], watchComplete: Bool) -> [HistoryOperation] {
        var observed: [String: Int64] = [:]  // value -> revision it was written at
        for w in watchers { for e in w.events where !e.isDelete { observed[e.value] = e.revision } }
        for op in ops {
            switch op.output {
            case .range(_, let kvs), .compareAndSet(_, _, let kvs):
                for kv in kvs { observed[kv.value] = kv.modRevision }
            default: break
            }
        }
        // Delete events no acknowledged delete or revoke explains, per key.
        var explained = Set<String>()  // "key@revision"
        for op in ops {
            switch (op.input, op.output) {
            case (.delete(let k), .delete(let r, _)): explained.insert("\(k)@\(r)")
            case (.leaseRevoke, .leaseRevoke(let r)):
                for w in watchers { for e in w.events where e.isDelete && e.revision == r { explained.insert("\(e.key)@\(r)") } }
            default: break
            }
        }
        var unexplainedDeletes = Set<String>()
        for w in watchers { for e in w.events where e.isDelete && !explained.contains("\(e.key)@\(e.revision)") { unexplainedDeletes.insert(e.key) } }

        let resolvedDeletes = watchComplete ? UnknownDeleteResolver.resolve(ops, watchers: watchers) : [:]

        var out: [HistoryOperation] = []
        for var op in ops {
            if let resolved = resolvedDeletes[op.id] {
                if let resolved { out.append(resolved) }
                continue
            }
            switch (op.input, op.output) {
            case (.get, .unknown), (.list, .unknown), (.get, .failed), (.list, .failed),
                (.leaseGrant, .unknown), (.leaseGrant, .failed), (.compact, _):
                continue
            case (.put(_, let v, _), .unknown):
                if let r = observed[v] {
                    op.output = .put(revision: r)
                } else if watchComplete {
                    continue
                }
            case (.compareAndSet(_, _, let v), .unknown):
                if let r = observed[v] {
                    op.output = .compareAndSet(revision: r, succeeded: true, kvs: [])
                } else if watchComplete {
                    continue  // failed its compare or never ran: no effect either way
                }
            case (.delete(let k), .unknown) where watchComplete && !unexplainedDeletes.contains(k):
                continue
            case (.put(_, _, let lease), .failed(let code, _)) where !(code == "notFound" && lease != 0):
                continue
            case (.leaseRevoke, .failed(let code, _)) where code != "notFound":
                continue
            case (_, .failed) where !(op.input.isWrite):
                continue
            case (.delete, .failed), (.compareAndSet, .failed):
                continue
            default:
                break
            }
            out.append(op)
        }
        return tightenReturns(out)
    }

    /// Gives each write with an infinite return time but a known revision R the return time of
    /// the earliest acknowledged response whose header revision is >= R.
    static func tightenReturns(_ ops: [HistoryOperation]) -> [HistoryOperation] {
        let acked = ops.filter { $0.returnTime != .max && $0.output.headerRevision != nil }
            .map { (revision: $0.output.headerRevision!, returnTime: $0.returnTime) }
            .sorted { $0.revision < $1.revision }
        guard !acked.isEmpty else { return ops }
        // suffixMin[i]: earliest return among acked[i...].
        var suffixMin = [Int64](repeating: .max, count: acked.count + 1)
        for i in stride(from: acked.count - 1, through: 0, by: -1) { suffixMin[i] = min(suffixMin[i + 1], acked[i].returnTime) }
        return ops.map { op in
            guard op.returnTime == .max, !op.output.isUnknown, let r = op.output.headerRevision else { return op }
            var lo = 0, hi = acked.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if acked[mid].revision < r { lo = mid + 1 } else { hi = mid }
            }
            var tightened = op
            let bound = suffixMin[lo]
            if bound != .max { tightened.returnTime = max(bound, op.callTime) }
            return tightened
        }
    }
}
