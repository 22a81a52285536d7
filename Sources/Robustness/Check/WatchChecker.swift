/// Checks etcd's watch guarantees over every watcher's log and the KV history:
/// ordered (revisions never go back), unique (no (revision, key) twice), atomic (a revision
/// is never split across responses), bookmarkable (no event at or below an earlier progress
/// notification), reliable and resumable (inside the revisions a watcher covers, across its
/// resumes, it received exactly the events every other watcher received there, and every
/// acknowledged write appears, with its value at its revision).
public enum WatchChecker {
    public struct Violation: Sendable, CustomStringConvertible, Equatable {
        public var watcher: Int
        public var rule: String
        public var description: String { "watcher \(watcher): \(rule)" }
    }

    public static func check(_ watchers: [WatcherLog], history: [HistoryOperation]) -> [Violation] {
        var violations: [Violation] = []
        for w in watchers { violations += checkOne(w) }
        // Reference: the union of what every watcher saw, one event per (revision, key).
        var reference: [EventKey: WatchEventRecord] = [:]
        for w in watchers {
            for e in w.events {
                let k = EventKey(revision: e.revision, key: e.key)
                if let other = reference[k], other != e {
                    violations.append(Violation(watcher: w.id, rule: "saw \(e) where another watcher saw \(other)"))
                }
                reference[k] = e
            }
        }
        // Reliability: inside [start, coveredThrough] a watcher has exactly the reference's events.
        for w in watchers {
            let lo = w.startRevision, hi = w.coveredThrough
            guard hi >= lo else { continue }
            let events = w.events
            var byKey: [EventKey: WatchEventRecord] = [:]
            for e in events where e.revision >= lo && e.revision <= hi { byKey[EventKey(revision: e.revision, key: e.key)] = byKey[EventKey(revision: e.revision, key: e.key)] ?? e }
            let mine = Set(byKey.keys)
            for (k, e) in reference where k.revision >= lo && k.revision <= hi && !mine.contains(k) {
                violations.append(Violation(watcher: w.id, rule: "missed \(e) inside its covered revisions \(lo)...\(hi)"))
            }
            // Every acknowledged write inside the covered window is there, with its value.
            for op in history where RevisionOrderChecker.createsRevision(op) && op.returnTime != .max {
                let r = op.output.headerRevision!
                guard r >= lo, r <= hi, let key = op.input.key else { continue }
                let got = byKey[EventKey(revision: r, key: key)]
                let wantValue = op.input.writtenValue
                if got == nil {
                    violations.append(Violation(watcher: w.id, rule: "acknowledged write \(op) missing from its events"))
                } else if let wantValue, got!.value != wantValue || got!.isDelete {
                    violations.append(Violation(watcher: w.id, rule: "acknowledged write \(op) seen as \(got!)"))
                }
            }
        }
        // Every put event carries a value some client wrote to that key.
        var written: [String: String] = [:]
        for op in history { if let v = op.input.writtenValue, let k = op.input.key { written[v] = k } }
        for (_, e) in reference where !e.isDelete && written[e.value] != e.key {
            violations.append(Violation(watcher: -1, rule: "event \(e) carries a value no client wrote to that key"))
        }
        return violations
    }

    struct EventKey: Hashable {
        var revision: Int64
        var key: String
    }

    /// Per-watcher stream properties: ordered, unique, atomic, progress never contradicted,
    /// nothing before the start revision.
    static func checkOne(_ w: WatcherLog) -> [Violation] {
        var out: [Violation] = []
        var lastRevision: Int64 = 0
        var progress: Int64 = 0
        var seen = Set<EventKey>()
        var resumeFloor = w.startRevision
        for entry in w.entries {
            switch entry {
            case .created(let start, _):
                resumeFloor = start
            case .progress(let p):
                progress = max(progress, p)
            case .events(_, let events):
                if let first = events.first, first.revision == lastRevision {
                    out.append(Violation(watcher: w.id, rule: "revision \(first.revision) split across responses"))
                }
                for e in events {
                    if e.revision < lastRevision {
                        out.append(Violation(watcher: w.id, rule: "event \(e) after revision \(lastRevision): out of order"))
                    }
                    if e.revision < resumeFloor {
                        out.append(Violation(watcher: w.id, rule: "event \(e) below the watch's start revision \(resumeFloor)"))
                    }
                    if e.revision <= progress {
                        out.append(Violation(watcher: w.id, rule: "event \(e) at or below progress notification \(progress)"))
                    }
                    if !seen.insert(EventKey(revision: e.revision, key: e.key)).inserted {
                        out.append(Violation(watcher: w.id, rule: "duplicate event \(e)"))
                    }
                    lastRevision = max(lastRevision, e.revision)
                }
            case .canceled, .broken:
                break
            }
        }
        return out
    }
}
