import Foundation

/// A key's value and mod revision, as a read or a replayed watch shows it.
struct KVState: Equatable, Sendable {
    var value: [UInt8]
    var modRevision: Int64
}

/// One client operation with a header revision, its call and return times (monotonic ns).
struct TimedOp: Sendable {
    enum Kind: Sendable, Equatable { case write, read }
    var kind: Kind
    var key: [UInt8]
    var value: [UInt8]
    var revision: Int64
    var callNs: UInt64
    var returnNs: UInt64
    var who: String

    var description: String {
        "\(who) \(kind) \(GuaranteeCheck.show(key))=\(GuaranteeCheck.show(value)) rev \(revision) [\(callNs)…\(returnNs)]"
    }
}

/// A watch event as the test client received it (puts only: the workload never deletes).
struct WatchedEvent: Equatable, Sendable {
    var key: [UInt8]
    var value: [UInt8]
    var revision: Int64
    var isDelete: Bool
}

/// What one reader/watcher saw: the state read at header revision R, then the events of a
/// watch from R + 1 (across stream resumes), and the revision it is complete through.
struct WatcherLog: Sendable {
    var id: Int
    var readRevision: Int64
    var snapshot: [[UInt8]: KVState]
    var events: [WatchedEvent] = []
    var coveredThrough: Int64
    var resumes = 0
}

/// The checks of issue #5's guarantees over a recorded history. Pure; each returns the
/// violations found, every one naming the offending operations or events.
enum GuaranteeCheck {
    static func show(_ bytes: [UInt8]) -> String {
        bytes.map { (0x21...0x7E).contains($0) ? String(UnicodeScalar($0)) : String(format: "\\x%02x", $0) }.joined()
    }

    /// (a) Every acknowledged write has a higher revision than every write acknowledged
    /// before it started; a read's header revision is at least that of every write
    /// acknowledged before it started. Sorting by return time and sweeping in call order
    /// checks all pairs in O(n log n). Also: no two acknowledged writes share a revision.
    static func revisionOrder(_ ops: [TimedOp]) -> [String] {
        var failures: [String] = []
        let writes = ops.filter { $0.kind == .write }.sorted { $0.returnNs < $1.returnNs }
        var byRevision: [Int64: TimedOp] = [:]
        for w in writes {
            if let other = byRevision[w.revision] {
                failures.append("two acknowledged writes share revision \(w.revision): \(other.description) and \(w.description)")
            }
            byRevision[w.revision] = w
        }
        var next = 0
        var latest: TimedOp?
        for op in ops.sorted(by: { $0.callNs < $1.callNs }) {
            while next < writes.count && writes[next].returnNs < op.callNs {
                if latest == nil || writes[next].revision > latest!.revision { latest = writes[next] }
                next += 1
            }
            guard let before = latest else { continue }
            switch op.kind {
            case .write where op.revision <= before.revision:
                failures.append("write \(op.description) started after \(before.description) was acknowledged, but has a revision not above it")
            case .read where op.revision < before.revision:
                failures.append("read \(op.description) started after \(before.description) was acknowledged, but its header revision is below it")
            default:
                break
            }
            if failures.count > 20 { break }
        }
        return failures
    }

    /// (b) One watcher: events strictly after its read revision, in revision order, no
    /// (revision, key) twice; every acknowledged write in (R, F] among its events with its
    /// value; every event a write some client made (acknowledged ones at their revision);
    /// the read state plus the events up to F equals the final read at F.
    static func watcher(_ w: WatcherLog, acked: [TimedOp], unknown: Set<[UInt8]>,
                        finalRevision f: Int64, finalState: [[UInt8]: KVState]) -> [String] {
        var failures: [String] = []
        let tag = "watcher \(w.id) (read at \(w.readRevision), \(w.resumes) resumes)"
        if w.coveredThrough < f {
            failures.append("\(tag) is complete only through \(w.coveredThrough), final read at \(f)")
        }
        for (k, s) in w.snapshot where s.modRevision > w.readRevision {
            failures.append("\(tag): read at \(w.readRevision) returned \(show(k)) with mod revision \(s.modRevision)")
        }
        var last: (revision: Int64, key: [UInt8])?
        var seen = Set<String>()
        var state = w.snapshot
        let writesByValue = Dictionary(acked.filter { $0.kind == .write }.map { ($0.value, $0) }) { a, _ in a }
        for e in w.events {
            let id = "\(e.revision)/\(show(e.key))"
            if e.revision <= w.readRevision {
                failures.append("\(tag): event \(id) at or below the read revision (duplicate of the read)")
            }
            if !seen.insert(id).inserted {
                failures.append("\(tag): event \(id) delivered twice")
            } else if let l = last, e.revision < l.revision {
                failures.append("\(tag): event \(id) after revision \(l.revision) (out of order)")
            }
            last = (e.revision, e.key)
            if let write = writesByValue[e.value] {
                if write.key != e.key || write.revision != e.revision {
                    failures.append("\(tag): event \(id) carries the value of \(write.description)")
                }
            } else if !unknown.contains(e.value) {
                failures.append("\(tag): event \(id) carries a value no client wrote: \(show(e.value))")
            }
            if e.revision <= f {
                if e.isDelete { state[e.key] = nil } else { state[e.key] = KVState(value: e.value, modRevision: e.revision) }
            }
            if failures.count > 20 { return failures }
        }
        let eventIDs = Set(w.events.map { "\($0.revision)/\(show($0.key))=\(show($0.value))" })
        for op in acked where op.kind == .write && op.revision > w.readRevision && op.revision <= min(f, w.coveredThrough) {
            if !eventIDs.contains("\(op.revision)/\(show(op.key))=\(show(op.value))") {
                failures.append("\(tag) missed the event of \(op.description)")
                if failures.count > 20 { return failures }
            }
        }
        for k in Set(state.keys).union(finalState.keys) where state[k] != finalState[k] {
            failures.append("\(tag): replayed state of \(show(k)) is \(describe(state[k])), the final read at \(f) has \(describe(finalState[k]))")
            if failures.count > 20 { return failures }
        }
        return failures
    }

    /// (b) Two watchers agree on every event both should have seen: those in
    /// (max(R1, R2), F].
    static func agree(_ a: WatcherLog, _ b: WatcherLog, finalRevision f: Int64) -> [String] {
        let lo = max(a.readRevision, b.readRevision)
        let ea = a.events.filter { $0.revision > lo && $0.revision <= f }
        let eb = b.events.filter { $0.revision > lo && $0.revision <= f }
        guard ea != eb else { return [] }
        let i = (0..<min(ea.count, eb.count)).first { ea[$0] != eb[$0] } ?? min(ea.count, eb.count)
        func at(_ es: [WatchedEvent]) -> String {
            i < es.count ? "\(es[i].revision)/\(show(es[i].key))=\(show(es[i].value))" : "nothing"
        }
        return ["watchers \(a.id) and \(b.id) disagree after revision \(lo): event #\(i) is \(at(ea)) vs \(at(eb))"]
    }

    /// (c) Every acknowledged write is in the final read: its key with that value at that
    /// revision, or with a later mod revision (the workload never deletes).
    static func durability(_ acked: [TimedOp], finalState: [[UInt8]: KVState]) -> [String] {
        var failures: [String] = []
        for op in acked where op.kind == .write {
            guard let s = finalState[op.key] else {
                failures.append("acknowledged \(op.description) lost: the key is absent from the final read")
                continue
            }
            if s.modRevision < op.revision || (s.modRevision == op.revision && s.value != op.value) {
                failures.append("acknowledged \(op.description) lost: the final read has \(describe(s))")
            }
            if failures.count > 20 { break }
        }
        return failures
    }

    static func describe(_ s: KVState?) -> String {
        guard let s else { return "absent" }
        return "\(show(s.value))@\(s.modRevision)"
    }
}
