import Base
import MVCC
import RaftCore

/// A proposal waiting in the mailbox for the poll loop.
struct ProposalRequest: Sendable {
    var requestID: UInt64
    var rangeID: RangeID
    var epoch: RangeDescriptor.Epoch?
    var body: RaftCommand.Body
    var deadlineNs: UInt64
    var continuation: CheckedContinuation<Result<CommandResult, ProposalError>, Never>
}

/// A proposal appended to the leader's log, waiting for its apply on this node.
struct PendingProposal {
    var rangeID: RangeID
    /// The log index the proposal was appended at; whatever applies there settles it.
    var index: UInt64
    var deadlineNs: UInt64
    var continuation: CheckedContinuation<Result<CommandResult, ProposalError>, Never>
}

/// A received, decompressed and checksum-verified snapshot waiting for the poll loop to
/// ingest it into MVCC and step its message.
struct SnapshotInstall: Sendable {
    var from: NodeID
    var header: SnapshotHeader
    var segment: [[UInt8]]
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
    /// Leadership transfer requests: (range, target node).
    var transfers: [(RangeID, NodeID)] = []
    var installs: [SnapshotInstall] = []
    /// (range, peer replica, succeeded) of finished snapshot sends.
    var snapshotReports: [(RangeID, ReplicaID, Bool)] = []
    var signaled = false
    var stopping = false

    var isEmpty: Bool {
        inbound.isEmpty && unreachable.isEmpty && proposals.isEmpty && reads.isEmpty && installs.isEmpty
            && transfers.isEmpty
            && snapshotReports.isEmpty
    }
}
