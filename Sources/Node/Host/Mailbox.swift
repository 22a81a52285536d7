import Base
import MVCC
import RaftCore

/// Everyone waiting for one proposal's outcome: its proposer and the retries of the same
/// request ID that joined it (request de-duplication). Each waits through a reply called
/// once, on the poll loop: a suspended task's continuation, or (a node call answered
/// without a task, `NodeHost.handleCall(from:_:answer:)`) a closure that encodes and queues
/// the answer — it must not call back into the host.
struct ProposalWaiters: Sendable {
    typealias Reply = @Sendable (Result<CommandResult, ProposalError>) -> Void
    var replies: [Reply]

    init(_ c: CheckedContinuation<Result<CommandResult, ProposalError>, Never>) { replies = [{ c.resume(returning: $0) }] }

    init(reply: @escaping Reply) { replies = [reply] }

    func resume(_ result: Result<CommandResult, ProposalError>) {
        for r in replies { r(result) }
    }

    mutating func join(_ other: ProposalWaiters) { replies += other.replies }
}

/// A proposal waiting in the mailbox for the poll loop (and, for a write, for its revision).
struct ProposalRequest: Sendable {
    var requestID: UInt64
    var rangeID: RangeID
    var epoch: RangeDescriptor.Epoch?
    var body: RaftCommand.Body
    var deadlineNs: UInt64
    /// The ID came from the client (router): check the range's applied and in-flight
    /// requests before proposing it again.
    var deduplicate: Bool
    var waiters: ProposalWaiters
    /// A write may only take revisions from oracle fetches with this sequence number or
    /// later: fetches started after the proposal reached the leader (set by the loop).
    var eligibleFetch: UInt64 = 0
    /// When the loop took it from the mailbox (`NodeMetrics.putStageNanos`).
    var arrivedNs: UInt64 = 0

    var isWrite: Bool { body.isWrite }
}

/// A proposal appended to the leader's log, waiting for its apply on this node.
struct PendingProposal {
    var request: ProposalRequest
    /// The log index the proposal was appended at; whatever applies there settles it.
    var index: UInt64
    /// The revision it carries (0 for non-writes).
    var revision: Int64
    /// When it was appended, its entry handed to the WAL, and durable here (loop clock;
    /// `NodeMetrics.putStageNanos`).
    var proposedNs: UInt64 = 0
    var handedNs: UInt64 = 0
    var durableNs: UInt64 = 0
    var rangeID: RangeID { request.rangeID }
    var deadlineNs: UInt64 { request.deadlineNs }
    var waiters: ProposalWaiters { request.waiters }
}

/// A received, decompressed and checksum-verified snapshot waiting for the poll loop to
/// ingest it into MVCC and step its message.
struct SnapshotInstall: Sendable {
    var from: NodeID
    var header: SnapshotHeader
    /// The verified segment stream, read back from its staging file while ingesting.
    var segment: StagedSnapshot.Chunks
    /// The sender's de-duplication memory (`AppliedRequests+Snapshot`; empty from an
    /// older sender).
    var appliedRequests: [UInt8]
    var continuation: CheckedContinuation<Result<Void, SnapshotFailure>, Never>
}

/// Why a received snapshot was not installed.
public struct SnapshotFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { "snapshot rejected: \(reason)" }
}

/// Everything other threads hand to the poll loop. Producers append under the mailbox
/// lock and signal the loop once (the `signaled` flag coalesces wake-ups); the loop takes
/// the whole mailbox at the start of a round.
struct Mailbox {
    var inbound: [(NodeID, [RangeMessage])] = []
    var heardFrom: [NodeID: UInt64] = [:]
    var unreachable: Set<NodeID> = []
    var proposals: [ProposalRequest] = []
    var reads: [ReadRequest] = []
    /// `freshRevision` callers waiting for the loop's oracle (`NodeHost+LoopOracle`).
    var oracleCalls: [OracleCall.Waiter] = []
    /// Answers of the loop's oracle fetches: (fetch sequence number, revisions or error).
    var revisionAnswers: [(UInt64, Result<ClosedRange<Int64>, ProposalError>)] = []
    /// Leadership transfer requests: (range, target node).
    var transfers: [(RangeID, NodeID)] = []
    var installs: [SnapshotInstall] = []
    /// (range, peer replica, succeeded) of finished snapshot sends.
    var snapshotReports: [(RangeID, ReplicaID, Bool)] = []
    /// The last WAL sync batch reported durable by the sync thread (0: no report).
    var durableBatch: UInt64 = 0
    var signaled = false
    var stopping = false

    var isEmpty: Bool {
        inbound.isEmpty && unreachable.isEmpty && proposals.isEmpty && reads.isEmpty && oracleCalls.isEmpty
            && installs.isEmpty
            && transfers.isEmpty && revisionAnswers.isEmpty
            && snapshotReports.isEmpty && durableBatch == 0
    }
}
