public import Base
public import MVCC
import Dispatch
import Foundation
import PageStore
import Placement
public import RaftCore
import Synchronization
import WAL

/// One node's runtime: owns the node's WAL, its data file (PageStore + one MVCC store per
/// range) and every range replica on the node, and drives them all from ONE poll-loop
/// thread (no task or actor per range). Other threads talk to it through the mailbox
/// (`propose`, `deliver`, `receiveSnapshot`); the loop owns everything under `state`.
///
/// A poll round: take the mailbox; step inbound messages, proposals and (on tick rounds)
/// ticks into the replicas; collect every replica's Ready; write all their entries and hard
/// states to the WAL in one append (one fdatasync); send the round's messages batched per
/// destination node; apply committed entries to MVCC; advance. MVCC stores are committed in
/// groups every `applyCommitIntervalMs` / `applyCommitMaxOps`; the WAL is garbage-collected
/// against the durably applied indexes.
public final class NodeHost: RaftTransportHandler, Sendable {
    public let nodeID: NodeID
    public let config: NodeConfig
    let directory: DataDirectory
    let wal: WriteAheadLog
    let backend: PageStoreBackend
    /// Range 1's MVCC backend: the reserved `system.*` buckets of the same data file.
    let systemBackend: PageStoreBackend
    /// The system range's leader-local runtime (oracle block, lease deadlines).
    let system = SystemRangeRuntime()
    let transport: any RaftTransport

    let state: Mutex<HostState>
    /// What observers read without waiting for a poll round: per-replica views (leader,
    /// descriptor, store; quiescence refreshed each tick) and metrics (refreshed each tick).
    let views = Mutex<[RangeID: ReplicaView]>([:])
    let publishedMetrics = Mutex(NodeMetrics())
    let mailbox = Mutex(Mailbox())
    let wakeSignal = DispatchSemaphore(value: 0)
    let loopExited = DispatchSemaphore(value: 0)
    /// The WAL sync thread: the poll loop hands it each round's records (`NodeHost+Sync`).
    let syncer: WALSyncer
    /// Low 48 bits of request IDs; starts at a random point so IDs of a previous run of
    /// this node (still in the log) are not reused.
    let requestCounter = Atomic<UInt64>(UInt64.random(in: 0..<(1 << 47)))
    let started = Atomic<Bool>(false)
    let stopped = Atomic<Bool>(false)
    /// Snapshot sends running outside the loop; `stop` waits for them before closing files.
    let snapshotSendsInFlight = Atomic<Int>(0)
    /// The node call transport (`NodeHost+Calls`, `NodeCallSlot`); set by the server.
    let callSlot = NodeCallSlot()
    /// The node's revision requests: one outstanding oracle request at a time.
    let revisionBatcher = RevisionBatcher()
    /// Resolved revisions of the replicas with feed consumers.
    let resolved = ResolvedRevisions()
    /// The task closing feed ranges every `closeIntervalMs` (started by `start`).
    let closer = Mutex<Task<Void, Never>?>(nil)
    /// How ranges led by another node get closed for this node's feeds: (leader, range,
    /// revision) → the leader's index to wait for. Set by the cluster wiring.
    let remoteCloser = Mutex<RemoteCloser?>(nil)
    /// Ranges whose feeds asked for a close before the next closer tick (`demandClose`).
    let closeDemand = CloseDemand()
    /// Close rounds the closer ran on demand (not on its tick).
    let closesOnDemand = Atomic<UInt64>(0)
    /// The leader-placement driver (`NodeHost+Placement`; started by `start` unless the
    /// policy is `none`) and its planner's counters.
    let placementTask = Mutex<Task<Void, Never>?>(nil)
    let placementCounters = Mutex(PlacementPlanner.Stats())
    /// The peers not marked down, published by the loop on tick rounds (read by the placement
    /// driver without waiting for a round).
    let publishedLivePeers = Mutex<[NodeID]>([])
    /// The peers the loop's failure detector marked down (not heard from for an election
    /// timeout), published with `publishedLivePeers` (read by the router, `peerIsDown`).
    let publishedDownPeers = Mutex<Set<NodeID>>([])

    /// Opens (or creates) the node in `config.dataDirectory`. On a fresh directory the
    /// replicas this node holds in `bootstrap` are created; otherwise the ranges recorded in
    /// the data file are reopened and their logs replayed from the WAL. Call `start()` next.
    public init(config: NodeConfig, transport: any RaftTransport, bootstrap: BootstrapConfig?) throws {
        nodeID = config.nodeID
        self.config = config
        self.transport = transport
        let (dir, _) = try DataDirectory.prepare(path: config.dataDirectory, node: config.nodeID)
        directory = dir
        StagedSnapshot.clear(directory: dir.snapshotsPath)
        var walOptions = WALOptions()
        walOptions.segmentBytes = config.walSegmentBytes
        walOptions.preallocate = false
        #if DEBUG || FLOTILLA_CRASH_POINTS
        walOptions.faultHook = { point throws(WALError) in
            switch point {
            case .beforeWrite: CrashPoint.walBeforeWrite.hit()
            case .afterWriteBeforeSync: CrashPoint.walAfterWriteBeforeSync.hit()
            case .afterSync: CrashPoint.walAfterSync.hit()
            default: break
            }
        }
        #endif
        (wal, _) = try WriteAheadLog.open(directory: dir.walPath, options: walOptions)
        let durableReport = DurableReport()
        syncer = WALSyncer(wal: wal, name: "flotilla-node-\(config.nodeID.rawValue)-wal",
                           waitsForLoop: config.syncWaitsForLoop, beforeSync: config.beforeWALSync,
                           onDurable: { seq in durableReport.host?.noteDurable(seq) })
        var pageOptions = PageFileOptions()
        pageOptions.allocationSlackPercent = config.allocationSlackPercent
        backend = try PageStoreBackend.open(path: dir.dataFilePath, options: pageOptions)
        systemBackend = PageStoreBackend(file: backend.file, bucketNames: Self.systemBucketNames)

        var replicas: [RangeID: RangeReplica] = [:]
        var toCampaign: [RangeID] = []
        var existing = try MVCCStore.rangeIDs(backend: backend)
        if existing.isEmpty, let bootstrap {
            for d in [bootstrap.systemDescriptor] + bootstrap.descriptors where d.replica(on: config.nodeID) != nil {
                _ = try MVCCStore.create(backend: Self.storeBackend(for: d.rangeID, user: backend, system: systemBackend),
                                         rangeID: d.rangeID, start: d.startKey, end: d.endKey, descriptor: d.encoded())
                if bootstrap.intendedLeader(of: d.rangeID) == config.nodeID { toCampaign.append(d.rangeID) }
            }
            existing = try MVCCStore.rangeIDs(backend: backend)
        }
        existing = try MVCCStore.rangeIDs(backend: systemBackend) + existing
        for id in existing {
            let store = try MVCCStore.open(backend: Self.storeBackend(for: id, user: backend, system: systemBackend),
                                           rangeID: id)
            let d = try RangeDescriptor.decode(store.descriptor)
            guard let me = d.replica(on: config.nodeID) else { continue }
            replicas[id] = try RangeReplica(descriptor: d, replicaID: me.replicaID, store: store, wal: wal,
                                            config: config)
        }
        for id in toCampaign { try replicas[id]?.raw.campaign() }

        let now = Self.nowNs()
        var s = HostState(replicas: replicas, lastCommitNs: now, lastGCNs: now)
        for r in replicas.values { s.addPeers(of: r.descriptor, me: config.nodeID, now: now) }
        views.withLock { v in for r in replicas.values { v[r.rangeID] = ReplicaView(r) } }
        state = Mutex(s)
        durableReport.host = self
    }

    /// Starts the poll loop thread.
    public func start() {
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let thread = Thread { [self] in
            nameOSThread("flotilla-loop")
            runLoop()
            loopExited.signal()
        }
        thread.name = "flotilla-node-\(nodeID.rawValue)-raft"
        thread.start()
        startCloser()
        startPlacement()
    }

    /// Stops the loop, fails waiting proposals, and closes the WAL and the data file.
    /// `flush: false` skips the final MVCC commit (what a crash would leave behind: the
    /// WAL replays the rest on restart). Blocks until the loop and any snapshot sends have
    /// finished: call it from a thread of its own, not from a busy cooperative pool.
    public func stop(flush: Bool = true) {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        closer.withLock { $0?.cancel() }
        placementTask.withLock { $0?.cancel() }
        resolved.close()
        if started.load(ordering: .acquiring) {
            mailbox.withLock { $0.stopping = true }
            wakeSignal.signal()
            loopExited.wait()
        }
        while snapshotSendsInFlight.load(ordering: .acquiring) > 0 { usleep(1_000) }
        // Batches handed to the sync thread are written (their Readies are never finished:
        // as after a crash at `wal.after-sync`, the restart replays them). Without the flush
        // (a simulated crash) the unsynced hard states queued after the last batch are lost.
        syncer.stop(dropUnsynced: !flush)
        let leftovers = mailbox.withLock { m in
            let x = (m.proposals, m.installs, m.reads, m.oracleCalls)
            m.proposals = []
            m.installs = []
            m.reads = []
            m.oracleCalls = []
            return x
        }
        for w in leftovers.3 { w.reply(.failure(.proposalDropped("node stopped"))) }
        for p in leftovers.0 { p.waiters.resume(.failure(.proposalDropped("node stopped"))) }
        for i in leftovers.1 { i.continuation.resume(returning: .failure(SnapshotFailure("node stopped"))) }
        for q in leftovers.2 { q.fail(.proposalDropped("node stopped")) }
        state.withLock { s in
            for (_, p) in s.pending { p.waiters.resume(.failure(.proposalDropped("node stopped"))) }
            s.pending = [:]
            for r in s.replicas.values { failUnappended(of: r, .proposalDropped("node stopped"), &s) }
            for (_, q) in s.pendingReads { q.request.fail(.proposalDropped("node stopped")) }
            s.pendingReads = [:]
            failLoopOracle(&s)
            s.readBatches = [:]
            if flush { try? commitApplied(&s, force: true) }
            s.replicas = [:]
            views.withLock { $0 = [:] }
        }
        wal.close()
        backend.file.close()
    }

    // MARK: proposals

    /// Proposes `body` to `range` and waits for its result on this node (the leader).
    /// `epoch`, when given, must equal the range's current epoch. A write gets its
    /// revision from the oracle (see `NodeHost+Propose.swift`).
    public func propose(_ body: RaftCommand.Body, to range: RangeID,
                        epoch: RangeDescriptor.Epoch? = nil) async throws(ProposalError) -> CommandResult {
        try await submit(body, to: range, epoch: epoch, requestID: nextRequestID(), deduplicate: false)
    }

    /// Hands a proposal to the loop and waits for its outcome.
    func submit(_ body: RaftCommand.Body, to range: RangeID, epoch: RangeDescriptor.Epoch?, requestID: UInt64,
                deduplicate: Bool) async throws(ProposalError) -> CommandResult {
        let result = await withCheckedContinuation { (c: CheckedContinuation<Result<CommandResult, ProposalError>, Never>) in
            submit(body, to: range, epoch: epoch, requestID: requestID, deduplicate: deduplicate, waiters: ProposalWaiters(c))
        }
        return try result.get()
    }

    /// Hands a proposal to the loop; `waiters` get its outcome (on the loop thread).
    func submit(_ body: RaftCommand.Body, to range: RangeID, epoch: RangeDescriptor.Epoch?, requestID: UInt64,
                deduplicate: Bool, waiters: ProposalWaiters) {
        let deadline = Self.nowNs() + UInt64(config.proposalTimeoutMs) * 1_000_000
        let req = ProposalRequest(requestID: requestID, rangeID: range, epoch: epoch, body: body, deadlineNs: deadline,
                                  deduplicate: deduplicate, waiters: waiters)
        let accepted = enqueue { m in
            guard !m.stopping else { return false }
            m.proposals.append(req)
            return true
        }
        if !accepted { waiters.resume(.failure(.proposalDropped("node stopped"))) }
    }

    // MARK: inbound transport

    public func deliver(from node: NodeID, messages: [RangeMessage]) {
        let now = Self.nowNs()
        _ = enqueue { m in
            m.heardFrom[node] = now
            if !messages.isEmpty { m.inbound.append((node, messages)) }
            return !messages.isEmpty
        }
    }

    public func peerUnreachable(_ node: NodeID) {
        _ = enqueue { m in
            m.unreachable.insert(node)
            return true
        }
    }

    /// Appends to the mailbox; signals the loop when `body` returns true and no signal is
    /// outstanding.
    func enqueue(_ body: (inout Mailbox) -> Bool) -> Bool {
        let (accepted, signal) = mailbox.withLock { m -> (Bool, Bool) in
            let accepted = body(&m)
            guard accepted, !m.signaled else { return (accepted, false) }
            m.signaled = true
            return (true, true)
        }
        if signal { wakeSignal.signal() }
        return accepted
    }

    // MARK: observation (tests, metrics, the router)

    /// Counters and gauges; the loop's part is refreshed every tick, the WAL's is live.
    public var metrics: NodeMetrics {
        var m = publishedMetrics.withLock { $0 }
        let w = wal.stats
        m.fsyncs = w.fsyncs
        m.entriesSynced = w.entriesSynced
        m.fsyncNanosTotal = w.fsyncNanosTotal
        m.lastFsyncNanos = w.lastFsyncNanos
        m.fsyncDuration = w.fsyncDuration
        m.entriesPerFsyncHistogram = w.entriesPerFsync
        m.walDiskBytes = wal.diskBytes
        m.oracleLeaseServes = system.leaseServes.load(ordering: .relaxed)
        return m
    }

    /// The published view of this node's replica of `range` (never waits for a round).
    public func view(of range: RangeID) -> ReplicaView? { views.withLock { $0[range] } }

    /// Whether this node's failure detector has marked `node` down: a peer not heard from
    /// (not even its per-tick heartbeat batch) for an election timeout. False for nodes
    /// that are not peers of this node, and for this node itself.
    public func peerIsDown(_ node: NodeID) -> Bool { publishedDownPeers.withLock { $0.contains(node) } }

    /// The MVCC store of this node's replica of `range`.
    public func store(for range: RangeID) -> MVCCStore? { view(of: range)?.store }

    /// The user ranges with a replica on this node (not the system range: see
    /// `view(of: .system)`), so routers and status pages built from it see user ranges only.
    public var rangeIDs: [RangeID] { views.withLock { $0.keys.filter { $0 != .system }.sorted() } }

    /// The descriptor this node holds for `range`.
    public func descriptor(of range: RangeID) -> RangeDescriptor? { view(of: range)?.descriptor }

    /// Whether this node's replica of `range` is the leader.
    public func isLeader(of range: RangeID) -> Bool { view(of: range)?.isLeader ?? false }

    /// The node this replica believes leads `range`.
    public func leaderHint(of range: RangeID) -> NodeID { view(of: range)?.leaderNode ?? .none }

    /// Whether the replica is quiesced (as of the last tick).
    public func isQuiesced(_ range: RangeID) -> Bool { view(of: range)?.quiesced ?? false }

    /// The replica's Raft status (waits for the current poll round; tests and debugging).
    public func raftStatus(of range: RangeID) -> RaftStatus? { state.withLock { $0.replicas[range]?.raw.status } }

    /// Bytes of WAL segments on disk.
    public var walDiskBytes: Int { wal.diskBytes }

    static func nowNs() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
}

/// What observers see of one replica, published by the poll loop.
public struct ReplicaView: Sendable {
    public var descriptor: RangeDescriptor
    public var store: MVCCStore
    public var leaderNode: NodeID
    public var isLeader: Bool
    public var quiesced: Bool
    /// When this replica leads: the node that handed it the leadership of this term by a
    /// transfer (nil: won by an election). Placement tells an operator's move from a
    /// failover with it.
    public var transferredFrom: NodeID?

    init(_ r: RangeReplica) {
        descriptor = r.descriptor
        store = r.store
        leaderNode = r.leaderNode
        isLeader = r.isLeader
        quiesced = r.quiesced
        transferredFrom = r.transferredFromNode
    }
}

/// Everything the poll loop owns, behind `NodeHost.state`. Holds non-Sendable replicas;
/// only the loop (and short observation/lifecycle calls) lock it.
struct HostState {
    var replicas: [RangeID: RangeReplica]
    var pending: [UInt64: PendingProposal] = [:]
    /// Ranges whose leader has writes waiting for revisions.
    var rangesAwaitingRevisions: Set<RangeID> = []
    /// Ranges whose new leader holds proposals until it applied its first entry.
    var rangesHolding: Set<RangeID> = []
    /// Sequence number of the last oracle fetch the loop started; whether it is unanswered;
    /// what it asked for.
    var revisionFetchSeq: UInt64 = 0
    var revisionFetchInFlight = false
    var revisionDemand: [RevisionDemand] = []
    /// Per range: log index → request ID of the pending proposal appended there.
    var pendingAt: [RangeID: [UInt64: UInt64]] = [:]
    var pendingReads: [UInt64: PendingRead] = [:]
    /// ReadIndex batches by context: one per range and poll round with reads.
    var readBatches: [UInt64: ReadBatch] = [:]
    var readsPerRange: [RangeID: Int] = [:]
    var peers: [NodeID: PeerLiveness] = [:]
    var metrics = NodeMetrics()
    var opsSinceCommit = 0
    var lastCommitNs: UInt64
    var lastGCNs: UInt64
    /// WAL sync batches in flight, oldest first: (sequence number, the Readies it holds).
    var syncingBatches: [(seq: UInt64, readies: [HeldReady])] = []
    /// The highest WAL batch the loop has taken a durable report for (and finished).
    var durableSeen: UInt64 = 0
    /// The poll loop's own oracle confirmations in flight (`NodeHost+LoopOracle`).
    var loopOracle = LoopOracle()
    /// Snapshot installs for replicas that were waiting for a sync (installed once it ends).
    var deferredInstalls: [SnapshotInstall] = []
    /// Set when the WAL GC found ranges holding segments back: commit at the next round.
    var forceCommit = false
    /// Replicas whose published view is stale (leader, store or descriptor changed).
    var viewsDirty: Set<RangeID> = []

    mutating func addPeers(of d: RangeDescriptor, me: NodeID, now: UInt64) {
        for r in d.replicas where r.nodeID != me && peers[r.nodeID] == nil {
            peers[r.nodeID] = PeerLiveness(lastHeardNs: now, alive: true)
        }
    }
}

/// Node-level liveness of one peer node, fed by every batch (including the empty
/// coalesced heartbeat batches) received from it.
struct PeerLiveness {
    var lastHeardNs: UInt64
    var alive: Bool
}
