import Glibc

/// The system range leader's lease on its oracle leadership (session 13): after a
/// confirmation round issued at time `t` in term `T` was acknowledged by a quorum, no other
/// leader can be elected before `t + durationNs` (of this node's lease clock), so oracle and
/// lease-table calls of term `T` need no round of their own until then. Pure value; the
/// runtime (`SystemRangeRuntime.State.lease`) owns it, the poll loop and the confirmation
/// path feed it. Why it holds (architecture.md §11, "Oracle lease"):
/// - every voter that acknowledged the round's heartbeat got it after `t`, and then ignores
///   vote and pre-vote requests for `electionTicks` of its own ticks (leader stickiness;
///   a restarted voter the same, `RaftConfig.holdVotesAfterRestart`). The poll loop ticks at
///   most once per `tickIntervalMs` of its monotonic clock and steps inbound messages before
///   a round's tick, so that is at least `(electionTicks - 1) × tickIntervalMs` after `t`;
///   a quorum of them intersects every election's quorum. The lease lasts
///   `(electionTicks - 2) × tickIntervalMs`: one tick of margin for the clocks' rates;
/// - a leadership transfer bypasses stickiness: the loop voids the term's lease the round a
///   transfer starts, before its `timeoutNow` can leave, and a term once voided gets no lease
///   again (`voidedTerm`; a `timeoutNow` of an abandoned transfer may still arrive);
/// - the clock is `CLOCK_BOOTTIME`, which keeps counting while the process is stopped
///   (SIGSTOP) or the machine suspended: a leader resuming from a pause finds its lease
///   expired and confirms with a round, which a newer term's voters refuse.
struct OracleLease: Equatable, Sendable {
    /// The term of the lease (0: none).
    private(set) var term: UInt64 = 0
    /// The lease clock reading from which the lease no longer holds.
    private(set) var expiresNs: UInt64 = 0
    /// Terms up to this one get no lease (a transfer began in it).
    private(set) var voidedTerm: UInt64 = 0

    /// A confirmation round of `term`, issued at `issuedNs` (read before the round's
    /// ReadIndex was handed to Raft), was acknowledged by a quorum.
    mutating func confirmed(term: UInt64, issuedNs: UInt64, durationNs: UInt64) {
        guard durationNs > 0, term > voidedTerm, term >= self.term else { return }
        let (end, overflow) = issuedNs.addingReportingOverflow(durationNs)
        guard !overflow else { return }
        if term > self.term {
            self.term = term
            expiresNs = end
        } else {
            expiresNs = max(expiresNs, end)
        }
    }

    /// Whether calls of `term` may skip the confirmation round at lease clock `nowNs`.
    func holds(term: UInt64, nowNs: UInt64) -> Bool {
        term != 0 && term == self.term && term > voidedTerm && nowNs < expiresNs
    }

    /// Whether the lease of `term` has less than half of `durationNs` left (or none): time
    /// for a renewal round, so that callers keep finding it valid.
    func wantsRenewal(term: UInt64, nowNs: UInt64, durationNs: UInt64) -> Bool {
        !holds(term: term, nowNs: nowNs) || expiresNs <= nowNs || expiresNs - nowNs < durationNs / 2
    }

    /// No lease in `term` or any earlier one from now on (a leadership transfer began).
    mutating func void(through term: UInt64) {
        voidedTerm = max(voidedTerm, term)
        if self.term <= voidedTerm { expiresNs = 0 }
    }

    /// The lease clock: nanoseconds of `CLOCK_BOOTTIME` (monotonic, and it keeps counting
    /// while the process is stopped or the machine sleeps).
    static func clockNs() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_BOOTTIME, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}
