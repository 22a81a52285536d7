import Base
import MVCC
import RaftCore
import WAL

/// One range replica on this node: its Raft core over the shared WAL, its MVCC store, its
/// descriptor and the runtime flags the batch system needs (applied indexes, quiescence),
/// and, while it leads, its revision bookkeeping (`LeaderRevisions`); the applied request
/// IDs for de-duplication (`AppliedRequests`); the decoded revoked-lease record
/// (`RevokedLeases`, whose bytes the store persists).
/// Knows nothing about threads: only the node's poll loop touches it, under the host's
/// state lock. Not Sendable.
final class RangeReplica {
    let rangeID: RangeID
    var descriptor: RangeDescriptor
    var raw: RawNode<WALRangeStorage>
    let storage: WALRangeStorage
    /// The range's MVCC store; replacing it (a snapshot install) reloads `revokedLeases`.
    var store: MVCCStore {
        didSet { revokedLeases = Self.revokedLeases(of: store) }
    }
    /// The store's revoked-lease record, decoded (apply updates both).
    var revokedLeases: RevokedLeases
    let replicaID: ReplicaID

    /// Highest index applied to `store` (in memory).
    var appliedIndex: UInt64
    /// Highest index whose MVCC state is committed to the data file.
    var durableApplied: UInt64
    /// The replica neither ticks nor expects heartbeats until a proposal or message.
    var quiesced = false
    /// `quiesced` as last published to observers.
    var publishedQuiesced = false
    /// Input reached Raft since the last Ready check (a quiesced replica without input has
    /// no Ready: the core is deterministic), so idle ranges cost no `hasReady` per round.
    var touched = true
    /// When the loop first held this leader's Ready back for another batch's sync
    /// (`NodeConfig.alignLeaderReadies`); 0 when not held.
    var alignHeldSinceNs: UInt64 = 0
    /// Consecutive ticks (as leader) on which the range could have quiesced.
    var idleTicks = 0
    /// Peers that currently receive a snapshot from this replica.
    var snapshotsInFlight: Set<ReplicaID> = []
    /// Leader known from the last soft state (replica ID, 0 = none).
    var leader: ReplicaID = 0
    var isLeader = false
    /// Closed revision, writes waiting for revisions, in-flight writes (while leading).
    var leaderRevisions = LeaderRevisions()
    /// Request IDs applied within the de-duplication window and their results (in memory,
    /// rebuilt from the WAL at start-up, carried in snapshots).
    var appliedRequests: AppliedRequests
    /// Proposals with client request IDs that wait until this new leader has applied its
    /// first entry (only then does it know every earlier request that will ever apply).
    var heldForDedup: [ProposalRequest] = []
    /// Sequence number of the WAL sync batch that holds this replica's last Ready (0: none).
    /// While set, the replica gives no new Ready (Raft still steps input): that Ready's
    /// messages that need it durable, its applies and its `advance` wait for the sync
    /// (`NodeHost+Sync`).
    var syncingBatch: UInt64 = 0
    /// Term and vote of the last hard state handed to the WAL (durable once no batch is in
    /// flight): a Ready that changes them lets no message leave before its sync.
    var handedOffTerm: UInt64 = 0
    var handedOffVote: ReplicaID = 0

    init(descriptor: RangeDescriptor, replicaID: ReplicaID, store: MVCCStore, wal: WriteAheadLog,
         config: NodeConfig) throws(RaftError) {
        rangeID = descriptor.rangeID
        self.descriptor = descriptor
        var requests = AppliedRequests(windowEntries: config.dedupWindowEntries)
        // Requests applied before a restart, from the entries still in the WAL.
        requests.recover(range: descriptor.rangeID, wal: wal, store: store, appliedIndex: store.appliedIndex)
        appliedRequests = requests
        self.replicaID = replicaID
        self.store = store
        revokedLeases = Self.revokedLeases(of: store)
        let applied = store.appliedIndex
        appliedIndex = applied
        durableApplied = applied
        let term = applied == 0 ? 0 : (wal.term(of: descriptor.rangeID, at: applied) ?? 0)
        let meta = SnapshotMetadata(confState: Self.confState(of: descriptor), index: applied, term: term)
        storage = WALRangeStorage(rangeID: descriptor.rangeID, wal: wal, snapshot: meta)
        var rc = RaftConfig(id: replicaID, electionTicks: config.electionTicks, heartbeatTicks: config.heartbeatTicks,
                            applied: applied)
        rc.checkQuorum = true
        rc.preVote = true
        // Never forward a proposal: a deposed leader's writes carry revisions it assigned
        // (possibly below the new leader's closed revision) and the new leader would append
        // them without knowing their request IDs (issue 6, finding 2). A follower's
        // proposal fails with notLeader instead, before anything is appended.
        rc.disableProposalForwarding = true
        // The oracle lease counts on range 1's voters staying sticky across restarts. The
        // hold does not depend on this node's `oracleLease` switch: a voter with the lease
        // off still protects a leader that has it on (a cluster whose nodes' switches
        // differ, as during a rolling change of the setting).
        rc.holdVotesAfterRestart = descriptor.rangeID == .system
        rc.randomSeed = config.nodeID.rawValue &* 0x9E37_79B9_7F4A_7C15 ^ descriptor.rangeID.rawValue
        raw = try RawNode(config: rc, storage: storage)
        let hs = raw.status.hardState
        handedOffTerm = hs.term
        handedOffVote = hs.vote
    }

    /// The revoked-lease record `store` holds. A malformed one is a corrupt range.
    static func revokedLeases(of store: MVCCStore) -> RevokedLeases {
        do {
            return try RevokedLeases.load(from: store)
        } catch {
            fatalError("\(error)")
        }
    }

    static func confState(of d: RangeDescriptor) -> ConfState {
        ConfState(voters: d.voters, learners: d.learners)
    }

    /// The node hosting replica `id` of this range.
    func node(of id: ReplicaID) -> NodeID? { descriptor.replica(withID: id)?.nodeID }

    /// The node believed to lead the range (`.none` if unknown).
    var leaderNode: NodeID { leader == 0 ? .none : (node(of: leader) ?? .none) }

    /// The node whose leader handed this replica its leadership in the current term (a
    /// transfer), nil when it is not leader or was elected otherwise.
    var transferredFromNode: NodeID? { raw.leadershipTransferredFrom.flatMap { node(of: $0) } }

    /// Makes the replica tick again.
    func wake() {
        quiesced = false
        touched = true
        idleTicks = 0
    }

    /// Records the latest durable state point as the storage's snapshot metadata (what the
    /// leader announces when a follower needs a snapshot).
    func publishSnapshotPoint(wal: WriteAheadLog) {
        guard durableApplied > 0, let term = wal.term(of: rangeID, at: durableApplied) else { return }
        storage.setSnapshotMetadata(
            SnapshotMetadata(confState: raw.status.confState, index: durableApplied, term: term))
    }

    /// Whether a leader may quiesce now: everything proposed is committed, applied and
    /// acknowledged by every follower, and no snapshot is in flight.
    func canQuiesce(hasPendingProposals: Bool, liveNodes: (NodeID) -> Bool) -> Bool {
        guard isLeader, !hasPendingProposals, snapshotsInFlight.isEmpty, !raw.hasReady() else { return false }
        let st = raw.status
        let last = st.lastIndex
        guard st.hardState.commit == last, appliedIndex == last else { return false }
        guard st.progress.count == descriptor.replicas.count else { return false }
        for (id, match) in st.progress where id != replicaID {
            guard match == last, let n = node(of: id), liveNodes(n) else { return false }
        }
        return true
    }
}
