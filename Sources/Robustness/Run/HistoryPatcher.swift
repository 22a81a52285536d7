/// Prepares a recorded history for the checkers, the way etcd's robustness suite does:
/// failed reads and refusals the model does not explain are dropped (they had no effect);
/// an unknown write whose unique value was observed (by a read or a watch event) did
/// happen, at the observed revision, so it becomes a definite write that may linearize any
/// time after its call; an unknown write never observed while the watch saw everything did
/// not happen and is dropped.
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
        var out: [HistoryOperation] = []
        for var op in ops {
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
        return out
    }
}
