public import Base
public import RaftCore

/// Log Matching: if two logs hold an entry with the same index and term, they are
/// identical up to that index. Checked by induction on the index: every (index, term)
/// seen in any replica's log must always come with the same content and the same term
/// at index - 1. Owns one fingerprint per (index, term) ever written to a log.
public struct LogMatchingChecker: Sendable {
    /// An entry's identity in Raft: (index, term).
    struct Key: Hashable, Sendable {
        var index: UInt64
        var term: UInt64
    }
    /// What the first log holding a (index, term) said about it.
    struct Seen: Sendable {
        var prevTerm: UInt64
        var content: UInt64
        var replica: ReplicaID
    }
    private var seen: [Key: Seen] = [:]

    public init() {}

    /// Records that `replica` wrote `entries` (consecutive) to its log, the entry before
    /// the first having term `prevTerm`.
    public mutating func observeAppend(_ replica: ReplicaID, prevTerm: UInt64, entries: ArraySlice<Entry>) throws(SafetyViolation) {
        var prev = prevTerm
        for entry in entries {
            let key = Key(index: entry.index, term: entry.term)
            let content = Fingerprint.mix(Fingerprint.bytes(entry.data), UInt64(entry.type.rawValue))
            if let old = seen[key] {
                if old.content != content {
                    throw SafetyViolation(.logMatching,
                        "entry (index \(entry.index), term \(entry.term)) has different content on replicas \(old.replica) and \(replica)")
                }
                if old.prevTerm != prev {
                    throw SafetyViolation(.logMatching,
                        "entry (index \(entry.index), term \(entry.term)) follows term \(old.prevTerm) on replica \(old.replica) but term \(prev) on replica \(replica)")
                }
            } else {
                seen[key] = Seen(prevTerm: prev, content: content, replica: replica)
            }
            prev = entry.term
        }
    }
}
