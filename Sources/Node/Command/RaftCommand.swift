public import Base
public import MVCC

/// One state-machine command as it travels in a Raft entry. `requestID` identifies the
/// proposal (unique per proposing node: the node ID in the high 16 bits) so the proposer can
/// match the applied result, and so a later issue can de-duplicate retried requests. `epoch`
/// is the descriptor epoch the request routed on. The revision is assigned at apply time
/// for now (see `RevisionAssigner`); issue #5 carries oracle revisions in `revision`.
public struct RaftCommand: Sendable, Equatable {
    /// What the command does.
    public enum Body: Sendable, Equatable {
        case put(PutRequest)
        case deleteRange(DeleteRangeRequest)
        case txn(TxnRequest)
        case compact(revision: Int64)
        /// Changes nothing; used to probe and to wake ranges.
        case noOp
        /// A system range command (oracle, leases, ...), encoded by `Sources/Node/System`.
        /// Applied only by the system range (range 1).
        case system([UInt8])
        /// Deletes every key of this range attached to lease `id` (at one revision).
        case revokeLease(Int64)
    }

    public var requestID: UInt64
    public var epoch: RangeDescriptor.Epoch
    /// A revision chosen before proposing (0: assign at apply time).
    public var revision: Int64
    public var body: Body

    public init(requestID: UInt64, epoch: RangeDescriptor.Epoch, revision: Int64 = 0, body: Body) {
        self.requestID = requestID
        self.epoch = epoch
        self.revision = revision
        self.body = body
    }

    /// Whether the command writes (and so takes a revision).
    public var isWrite: Bool {
        switch body {
        case .put, .deleteRange, .revokeLease: true
        case .txn(let t): !t.isReadOnly
        case .compact, .noOp, .system: false
        }
    }
}

/// The result of applying a command, handed to its proposer.
public enum CommandResult: Sendable, Equatable {
    case put(PutResponse)
    case deleteRange(DeleteRangeResponse)
    case txn(TxnResponse)
    case compact(CompactResponse)
    case noOp
    /// A system command's answer, encoded by `Sources/Node/System`.
    case system([UInt8])
    /// The keys a `.revokeLease` deleted (and the revision, when any was deleted).
    case revokeLease(DeleteRangeResponse)
}

/// Chooses the main revision of a write command when it is applied. Must be
/// deterministic: every replica applies the same entries in the same order and must pick
/// the same revision.
public protocol RevisionAssigner: Sendable {
    func revision(for command: RaftCommand, currentRevision: Int64) -> Int64
}

/// Issue #4's assignment: the range's current revision + 1, at apply time (or the
/// command's own revision when the proposer chose one).
public struct ApplyTimeRevisionAssigner: RevisionAssigner {
    public init() {}
    public func revision(for command: RaftCommand, currentRevision: Int64) -> Int64 {
        command.revision > 0 ? command.revision : currentRevision + 1
    }
}
