import Synchronization

/// What the consumers of one feed watch: single keys (counted, several consumers may watch
/// one key) and how many consumers need every resolved step whatever was written (a span of
/// several keys, or a watch over several ranges whose merge needs each range's progress).
/// Owned by the consumer (the router's feed hub) and handed to the node with its long polls
/// (`NodeHost.nextFeedBatch(interest:)`); the poll loop reads it to decide whether a write it
/// applied is worth waking that long poll for (`ResolvedRevisions.noteApplied`). As in etcd,
/// where a member notifies only the watchers of the keys written, a node whose watchers do
/// not watch a key does no delivery work for its writes: that feed learns of them (and of
/// the resolved revision) at the closer's next tick instead.
///
/// Only a wake-up hint: a woken feed returns every event up to the resolved revision, so a
/// wrong answer costs latency (no wake-up) or a wasted scan (a spurious one), never an event.
public final class FeedInterest: Sendable {
    struct State {
        var keys: [[UInt8]: Int] = [:]
        var everything = 0
    }

    let state = Mutex(State())

    public init() {}

    /// A consumer of `key` alone.
    public func add(key: [UInt8]) { state.withLock { $0.keys[key, default: 0] += 1 } }

    /// That consumer left.
    public func remove(key: [UInt8]) {
        state.withLock { s in
            guard let n = s.keys[key] else { return }
            s.keys[key] = n > 1 ? n - 1 : nil
        }
    }

    /// A consumer that needs every resolved step (`remove(everything:)` when it leaves).
    public func addEverything() { state.withLock { $0.everything += 1 } }

    public func removeEverything() { state.withLock { $0.everything = max(0, $0.everything - 1) } }

    /// Whether `writes` (applied in one poll round) may concern a consumer.
    func concerns(_ writes: AppliedWrites) -> Bool {
        if writes.unknown { return true }
        return state.withLock { s in
            if s.everything > 0 { return true }
            if s.keys.isEmpty { return false }
            return writes.keys.contains { s.keys[$0] != nil }
        }
    }
}

/// The keys a replica's applied writes touched since the poll loop last reported to the
/// feeds (`RangeReplica.appliedWrites`, taken each round): the keys of puts; any other
/// write (a delete range, a txn, a lease revoke, a compaction) makes the set `unknown`
/// (every feed is woken). Collected only while the replica is reported on, and bounded: past
/// `maxKeys` the set becomes `unknown` and stops growing (an untracked replica's set stays
/// small until it is taken again).
struct AppliedWrites {
    static let maxKeys = 256
    var keys: [[UInt8]] = []
    var unknown = false
    /// Set when taken by the loop: keys are recorded from then on.
    var collecting = false

    /// Records the keys `body` writes (whether or not it applies: a spurious wake is harmless).
    mutating func note(_ body: RaftCommand.Body) {
        guard collecting else {
            unknown = true
            return
        }
        switch body {
        case .put(let p):
            guard keys.count < Self.maxKeys else {
                keys = []
                unknown = true
                collecting = false
                return
            }
            keys.append(p.key)
        case .granted(_, let inner):
            note(inner)
        case .noOp, .system:
            break
        case .deleteRange, .txn, .compact, .revokeLease:
            unknown = true
        }
    }

    /// The writes since the last take; collecting from now on.
    mutating func take() -> AppliedWrites {
        let taken = self
        self = AppliedWrites(collecting: true)
        return taken
    }
}
