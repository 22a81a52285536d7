/// How a leader currently replicates to one follower.
enum ProgressState: Equatable, CustomStringConvertible {
    /// The follower's log position is unknown: send one append at a time and wait for
    /// its answer (or a heartbeat response) before the next.
    case probe
    /// The follower is known to be in sync: stream appends optimistically, bounded by
    /// the inflight window.
    case replicate
    /// The follower needs (and has been sent) a snapshot; appends pause until it reports.
    case snapshot

    var description: String {
        switch self {
        case .probe: "StateProbe"
        case .replicate: "StateReplicate"
        case .snapshot: "StateSnapshot"
        }
    }
}

/// A leader's view of one follower (Raft paper's `nextIndex` / `matchIndex`), plus flow
/// control. It owns no log data.
///
/// Invariant: `match < next`.
struct Progress: Equatable {
    /// Highest index known to be replicated on the follower.
    var match: UInt64
    /// Index of the next entry to send.
    var next: UInt64
    var state: ProgressState = .probe
    /// In `.snapshot` state: the index of the snapshot being sent.
    var pendingSnapshot: UInt64 = 0
    /// Heard from since the last check-quorum round (always true for the leader itself).
    var recentActive = false
    /// The leader's tick count (`Raft.leaderTicks`) when it last heard from this
    /// follower; 0: not in this term. Bounds the leader lease.
    var lastHeardTick: UInt64 = 0
    /// In `.probe`: a probe is outstanding. In `.replicate`: the inflight window is full.
    var msgAppFlowPaused = false
    var inflights: Inflights
    var isLearner: Bool

    init(match: UInt64 = 0, next: UInt64, maxInflight: Int, isLearner: Bool = false) {
        self.match = match
        self.next = next
        self.inflights = Inflights(capacity: maxInflight)
        self.isLearner = isLearner
    }

    private mutating func resetState(_ newState: ProgressState) {
        msgAppFlowPaused = false
        pendingSnapshot = 0
        state = newState
        inflights.reset()
    }

    mutating func becomeProbe() {
        if state == .snapshot {
            let pending = pendingSnapshot
            resetState(.probe)
            next = max(match + 1, pending + 1)
        } else {
            resetState(.probe)
            next = match + 1
        }
    }

    mutating func becomeReplicate() {
        resetState(.replicate)
        next = match + 1
    }

    mutating func becomeSnapshot(index: UInt64) {
        resetState(.snapshot)
        pendingSnapshot = index
        next = index + 1
    }

    /// Records that an append of `entries` entries (ending at `next - 1` afterwards) was
    /// sent.
    mutating func sentEntries(_ entries: Int) {
        switch state {
        case .replicate:
            if entries > 0 {
                next += UInt64(entries)
                inflights.add(next - 1)
            }
            msgAppFlowPaused = inflights.isFull
        case .probe:
            msgAppFlowPaused = true
        case .snapshot:
            preconditionFailure("sending append in unhandled state \(state)")
        }
    }

    /// The follower acknowledged up to `index`; false if that is stale.
    mutating func maybeUpdate(_ index: UInt64) -> Bool {
        guard index > match else { return false }
        match = index
        next = max(next, index + 1)
        msgAppFlowPaused = false
        return true
    }

    /// The follower rejected an append at `rejected`, hinting that its log matches at most
    /// up to `matchHint`. Returns false if the rejection is stale.
    mutating func maybeDecrTo(rejected: UInt64, matchHint: UInt64) -> Bool {
        if state == .replicate {
            // Appends are pipelined: a rejection at or below match is for an old message.
            if rejected <= match { return false }
            next = match + 1
            return true
        }
        // In probe state only the last probe (at next - 1) counts.
        if next - 1 != rejected { return false }
        next = max(min(rejected, matchHint + 1), match + 1)
        msgAppFlowPaused = false
        return true
    }

    /// Whether the leader should hold back appends to this follower.
    var isPaused: Bool {
        switch state {
        case .probe, .replicate: msgAppFlowPaused
        case .snapshot: true
        }
    }
}
