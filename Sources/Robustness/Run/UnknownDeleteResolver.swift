/// Turns the unknown deletes of a key into definite deletes at the revisions a complete watch
/// saw them take effect (`HistoryPatcher` calls it only when the watchers' windows together
/// cover every revision). Unknown deletes are what made session 5's pause run (seed 120091)
/// inconclusive: six of them on one key, each free to land anywhere among two dozen writes
/// that are concurrent with it, multiplied the search past its budget.
///
/// Why this changes no verdict (the argument the unit tests exercise):
/// * With a complete watch, every delete that removed the key is a delete event at its
///   revision, and a delete of an absent key changes nothing (no revision, no event). So an
///   unknown delete either is the cause of exactly one delete event or had no effect at all.
/// * An event at a revision an acknowledged delete returned is that delete's. Every other
///   delete event of the key was caused by an unknown delete of that key or by a lease revoke
///   of the lease the key carried just before it (the value of the previous put event names the
///   put and so the lease). The resolver only acts on a key where no revoke can be the cause:
///   each such event follows a put without a lease, or with a lease no revoke in the history
///   names. Otherwise the key keeps its unknown deletes (the search decides, as before).
/// * Which unknown delete caused which event is not observable, and the checker need not
///   know: revisions order the m unexplained events, so their linearization points p1 < … < pm
///   are increasing, and an assignment of distinct unknown deletes to them, each called
///   before its point, exists exactly when cj < pj for every j, where c1 ≤ … ≤ cn are the
///   unknown deletes' call times (greedy matching; if some cj ≥ pj, the events 1…j would need j
///   deletes called before pj but at most j−1 were). So the j-th event becomes a definite delete
///   (deleted 1, at its revision) called at cj; with m > n the key is left alone.
/// * The other n − m unknown deletes had no effect and are dropped.
/// The return time stays ∞; `HistoryPatcher.tightenReturns` bounds it by the first response
/// that saw its revision, as for every other resolved write.
enum UnknownDeleteResolver {
    /// For each key it resolves: the ids of the unknown deletes it replaces, mapped to the
    /// definite delete that takes the place of that operation in the history (fewer than the
    /// ids when some deletes had no effect; those ids map to nil).
    static func resolve(_ ops: [HistoryOperation], watchers: [WatcherLog]) -> [Int: HistoryOperation?] {
        var unknownByKey: [String: [HistoryOperation]] = [:]
        var ackedDeletes = Set<String>()  // "key@revision" of acknowledged deletes that removed a key
        var leaseOfValue: [String: Int64] = [:]
        var revokedLeases = Set<Int64>()
        for op in ops {
            switch (op.input, op.output) {
            case (.delete(let k), .unknown): unknownByKey[k, default: []].append(op)
            case (.delete(let k), .delete(let r, let n)) where n > 0: ackedDeletes.insert("\(k)@\(r)")
            case (.put(_, let v, let lease), _): leaseOfValue[v] = lease
            case (.compareAndSet(_, _, let v), _): leaseOfValue[v] = 0
            case (.leaseRevoke(let id), _): revokedLeases.insert(id)
            default: break
            }
        }
        guard !unknownByKey.isEmpty else { return [:] }
        // Every watch event of the keys concerned, once per revision.
        var events: [String: [Int64: WatchEventRecord]] = [:]
        for w in watchers {
            for e in w.events where unknownByKey[e.key] != nil { events[e.key, default: [:]][e.revision] = e }
        }

        var replacements: [Int: HistoryOperation?] = [:]
        for (key, unknown) in unknownByKey {
            let timeline = (events[key] ?? [:]).values.sorted { $0.revision < $1.revision }
            var unexplained: [Int64] = []
            var undecided = false
            for (i, e) in timeline.enumerated() where e.isDelete && !ackedDeletes.contains("\(key)@\(e.revision)") {
                unexplained.append(e.revision)
                // The key's lease just before the delete, from the previous (put) event's value;
                // without one, or when a revoke of that lease exists, the key stays undecided.
                guard i > 0, !timeline[i - 1].isDelete, let lease = leaseOfValue[timeline[i - 1].value] else {
                    undecided = true
                    break
                }
                if lease != 0, revokedLeases.contains(lease) {
                    undecided = true
                    break
                }
            }
            guard !undecided, unexplained.count <= unknown.count else { continue }
            let byCall = unknown.sorted { ($0.callTime, $0.id) < ($1.callTime, $1.id) }
            for (j, op) in byCall.enumerated() {
                guard j < unexplained.count else {
                    replacements[op.id] = .some(nil)
                    continue
                }
                var resolved = op
                resolved.output = .delete(revision: unexplained[j], deleted: 1)
                replacements[op.id] = resolved
            }
        }
        return replacements
    }
}
