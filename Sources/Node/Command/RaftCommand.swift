public import Base
public import MVCC

/// One state-machine command as it travels in a Raft entry. `requestID` identifies the
/// proposal (unique per client request: the router's ID, or the node ID in the high 16 bits
/// and a counter) so the proposer can match the applied result and the leader can
/// de-duplicate retried requests. `epoch` is the descriptor epoch the request routed on.
/// A write carries the global revision its leader took from the oracle (in log order);
/// applying it at a revision not above the range's last applied one fails
/// deterministically (`MVCCError.revisionNotIncreasing`) and the proposer retries it with a
/// fresh revision. Non-writes carry revision 0.
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
        /// `body` (a put, txn or revokeLease; never another `granted`) naming the lease
        /// grants it refers to: those of the leases a put / txn attaches (refused at apply
        /// when the range recorded their revoke) or the grant a revokeLease revokes (recorded
        /// by the range). See `RevokedLeases` for the argument.
        indirect case granted([LeaseGrant], Body)
    }

    public var requestID: UInt64
    public var epoch: RangeDescriptor.Epoch
    /// The global revision the leader assigned to a write (0 for non-writes; a write
    /// with 0, from a log written before global revisions, applies at current + 1).
    public var revision: Int64
    public var body: Body

    public init(requestID: UInt64, epoch: RangeDescriptor.Epoch, revision: Int64 = 0, body: Body) {
        self.requestID = requestID
        self.epoch = epoch
        self.revision = revision
        self.body = body
    }

    /// Whether the command writes (and so takes a revision).
    public var isWrite: Bool { body.isWrite }
}

extension RaftCommand.Body {
    /// Whether the command writes (and so takes a revision).
    public var isWrite: Bool {
        switch self {
        case .put, .deleteRange, .revokeLease: true
        case .txn(let t): !t.isReadOnly
        case .compact, .noOp, .system: false
        case .granted(_, let body): body.isWrite
        }
    }

    /// The command without its lease grants.
    public var withoutGrants: RaftCommand.Body {
        if case .granted(_, let body) = self { return body }
        return self
    }
}

/// One grant of a lease: its ID and the revision, in the system range, of the record that
/// granted it (`LeaseRecord.grantRevision`). Grants of one ID have increasing revisions.
public struct LeaseGrant: Sendable, Hashable {
    public var lease: Int64
    public var grantRevision: Int64

    public init(lease: Int64, grantRevision: Int64) {
        self.lease = lease
        self.grantRevision = grantRevision
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
