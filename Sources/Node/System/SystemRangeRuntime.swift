import Base
import MVCC
import Synchronization

/// The system range's node-local runtime, one per `NodeHost`: the leader session (oracle
/// block, lease deadlines), the queue of callers waiting for the next leadership
/// confirmation, and the single in-flight oracle block allocation. Everything sits behind
/// one mutex, which `applySystem` (on the poll loop, inside the host's state lock) also
/// takes: lock order is host state → runtime → MVCC store, so nothing here may wait for the
/// host's state lock while holding the runtime lock.
final class SystemRangeRuntime: Sendable {
    /// Revisions per oracle block (each block is one Raft round).
    static let defaultBlockSize: Int64 = 10_000

    let blockSize: Int64
    let state = Mutex(State())
    /// The system range leader last learned from elsewhere (for nodes without a replica of
    /// range 1), raw node ID; 0 = unknown.
    let learnedLeader = Atomic<UInt64>(0)
    /// Call batches served under the oracle lease (`NodeMetrics.oracleLeaseServes`).
    let leaseServes = Atomic<UInt64>(0)

    init(blockSize: Int64 = defaultBlockSize) {
        precondition(blockSize >= 1)
        self.blockSize = blockSize
    }

    typealias ConfirmWaiter = CheckedContinuation<Result<UInt64, ProposalError>, Never>

    /// Everything behind the runtime's mutex.
    struct State {
        var session: SystemLeaderSession?
        /// Callers waiting for a confirmation round that starts after they arrived.
        var confirmWaiters: [ConfirmWaiter] = []
        /// A confirmation round task is running.
        var confirming = false
        /// An oracle block allocation is in flight.
        var allocating = false
        /// Callers waiting for the in-flight allocation (resumed with `false`: do not run one).
        var allocationWaiters: [CheckedContinuation<Bool, Never>] = []
        /// The leader lease on the oracle (`OracleLease`; never granted while the node's
        /// `oracleLease` switch is off).
        var lease = OracleLease()
    }

    /// The term whose calls may skip their confirmation round now: the lease holds for the
    /// session's term at lease clock `nowNs`. nil: confirm with a round.
    func leasedTerm(nowNs: UInt64) -> UInt64? {
        state.withLock { s in
            guard let term = s.session?.term, s.lease.holds(term: term, nowNs: nowNs) else { return nil }
            return term
        }
    }

    /// A confirmation round of `term` issued at lease clock `issuedNs` succeeded.
    func leaseConfirmed(term: UInt64, issuedNs: UInt64, durationNs: UInt64) {
        state.withLock { $0.lease.confirmed(term: term, issuedNs: issuedNs, durationNs: durationNs) }
    }

    /// A leadership transfer began in `term`: no lease in it (or before) from now on.
    func voidLease(through term: UInt64) {
        state.withLock { $0.lease.void(through: term) }
    }

    /// Outcome of taking revisions from the session.
    enum Take {
        /// Served; `refill` asks the caller to start a background allocation (already
        /// marked in flight).
        case served(ClosedRange<Int64>, refill: Bool)
        /// The block has too few left; allocate and retry.
        case needBlock
        /// The session belongs to another term than the caller confirmed.
        case staleTerm
    }

    /// Takes `count` revisions from the session of `term`.
    func take(_ count: Int, term: UInt64) -> Take {
        state.withLock { s in
            guard s.session?.term == term else { return .staleTerm }
            guard let range = s.session!.take(count) else { return .needBlock }
            var refill = false
            if s.session!.remaining < blockSize / 2 && !s.allocating {
                s.allocating = true
                refill = true
            }
            return .served(range, refill: refill)
        }
    }

    /// Starts the session of `term` from range 1's replicated state, unless it runs already.
    /// Called once the leader has confirmed `term` and applied everything committed before.
    func startSession(term: UInt64, store: MVCCStore, nowNs: UInt64) throws {
        try state.withLock { s in
            if let current = s.session, current.term >= term { return }
            let entries = try SystemStateMachine.leaseEntries(store)
            s.session = SystemLeaderSession(
                term: term, highWaterMark: try SystemStateMachine.highWaterMark(store),
                leases: entries.mapValues(\.ttl), grantRevisions: entries.mapValues(\.grantRevision),
                revoking: Set(entries.filter(\.value.revoking).map(\.key)), nowNs: nowNs)
        }
    }

    /// Runs `body` on the session of `term`; nil when the session is of another term.
    func withSession<R>(term: UInt64, _ body: (inout SystemLeaderSession) -> R) -> R? {
        state.withLock { s in
            guard s.session?.term == term else { return nil }
            return body(&s.session!)
        }
    }
}
