public import Base
public import RaftCore

/// Counters of one run, for the runner's summary and for tests.
public struct SimulationStats: Sendable, Hashable {
    public var steps = 0
    public var ticks = 0
    public var leadersElected = 0
    public var maxCommitted: UInt64 = 0
    public var proposals = 0
    /// Proposals the core refused with an error (no leader, transfer in progress, ...).
    public var proposalsRejected = 0
    /// Distinct proposals applied by at least one replica.
    public var proposalsApplied = 0
    public var crashes = 0
    public var tornWrites = 0
    public var restarts = 0
    public var partitions = 0
    public var confChangesApplied = 0
    public var transfers = 0
    public var snapshotsCreated = 0
    public var snapshotsInstalled = 0
    /// ReadIndex requests issued and read states checked.
    public var readsIssued = 0
    public var readsServed = 0
    public var retired = 0
    public var messagesDelivered = 0
    public var messagesDropped = 0
    /// Ticks from healing until every liveness proposal was applied everywhere.
    public var livenessTicks = 0
    public init() {}
}

/// The outcome of one seeded run.
public struct SimulationResult: Sendable {
    public var options: SimulationOptions
    public var violation: SafetyViolation?
    public var stats: SimulationStats
    /// The last events before the end of the run (or the failure), oldest first.
    public var trace: [String]
    public var passed: Bool { violation == nil }
    public var seed: UInt64 { options.seed }
}

/// Something the transport tells a replica's core outside of a message.
enum LocalReport {
    case unreachable(ReplicaID)
    case snapshot(ReplicaID, succeeded: Bool)
}

/// A removed replica, stopped once every member of the configuration that removed it
/// has durably applied that configuration (until then it may still be needed, e.g. to
/// let a survivor learn that the change committed).
struct PendingRetirement {
    var replica: ReplicaID
    var index: UInt64
    var members: [ReplicaID]
}

/// The deterministic Raft simulator: runs the real `RawNode` of every replica of one
/// group in a single thread against a seeded virtual clock, network and disk, injects
/// faults (loss, duplication, reordering, delay, partitions, crashes with torn writes,
/// membership changes, leader transfers) while clients propose, and runs the safety
/// checkers on every Ready. After `options.faultSteps` steps the faults stop and it
/// checks liveness. Owns every replica, the network and the checkers of one run; a run
/// is a function of `options` (which `SimulationOptions.random(seed:)` derives from a seed).
public struct Simulator {
    public let options: SimulationOptions
    var rng: SeededGenerator
    var clock: VirtualClock
    var network: SimNetwork
    var replicas: [SimReplica] = []
    var indexOf: [ReplicaID: Int] = [:]
    var trace: TraceRing
    var stats = SimulationStats()
    let configTemplate: RaftConfig

    var electionSafety = ElectionSafetyChecker()
    var logMatching = LogMatchingChecker()
    var committed = CommittedLogChecker()
    var commitIndexes = CommitIndexChecker()
    let leaderCompleteness = LeaderCompletenessChecker()
    var stateMachine = StateMachineSafetyChecker()
    var reads = LinearizableReadChecker()
    var nextReadID: UInt64 = 1

    var nextProposalID: UInt64 = 1
    /// Proposal ID -> the first index at which any replica applied it.
    var appliedAt: [UInt64: UInt64] = [:]
    var nextReplicaID: ReplicaID
    var pendingRetirements: [PendingRetirement] = []
    var reports: [(ReplicaID, LocalReport)] = []
    /// Faults are being injected (false once the liveness phase starts).
    var faultPhase = true

    public init(options: SimulationOptions) {
        self.options = options
        rng = SeededGenerator(seed: options.seed)
        clock = VirtualClock(stepsPerTick: options.stepsPerTick)
        network = SimNetwork(faults: options.faultNetwork)
        trace = TraceRing(capacity: options.traceCapacity)
        configTemplate = RaftConfig(
            id: 0, electionTicks: options.electionTicks, heartbeatTicks: options.heartbeatTicks,
            maxSizePerMsg: options.maxSizePerMsg, maxUncommittedEntriesSize: options.maxUncommittedEntriesSize,
            maxInflightMsgs: options.maxInflightMsgs, checkQuorum: options.checkQuorum, preVote: options.preVote,
            disableProposalForwarding: options.disableProposalForwarding)
        let voters = (1...UInt64(options.clusterSize)).map { ReplicaID($0) }
        nextReplicaID = UInt64(options.clusterSize) + 1
        let confState = ConfState(voters: voters)
        let image = DigestStateMachine(bootstrapIndex: 1, confState: confState)
        let bootstrap = Snapshot(metadata: SnapshotMetadata(confState: confState, index: 1, term: 1), data: image.snapshotData)
        for id in voters {
            indexOf[id] = replicas.count
            replicas.append(SimReplica(id: id, bootstrap: bootstrap))
        }
    }

    /// Runs the fault phase, then the liveness phase; stops at the first violation.
    public mutating func run() -> SimulationResult {
        var violation: SafetyViolation?
        do {
            try runBody()
        } catch {
            violation = error
            trace.record(.note("VIOLATION \(error)"), step: clock.now)
        }
        stats.maxCommitted = committed.maxIndex
        stats.proposalsApplied = appliedAt.count
        stats.readsServed = reads.served
        return SimulationResult(options: options, violation: violation, stats: stats,
                                trace: trace.lines(stepsPerTick: clock.stepsPerTick))
    }

    mutating func runBody() throws(SafetyViolation) {
        trace.record(.phase("start: \(options.summary)"), step: clock.now)
        for i in replicas.indices { try start(i) }
        for _ in 0..<options.faultSteps {
            try step()
            try injectFaults()
        }
        try checkLiveness()
    }

    /// One step of simulated time: a tick for every running replica on tick boundaries,
    /// then every message due now, then the transport's local reports.
    mutating func step() throws(SafetyViolation) {
        if clock.isTickBoundary {
            stats.ticks += 1
            for i in replicas.indices where replicas[i].isRunning {
                // Clock jitter (fault phase only): a replica's tick is sometimes late
                // (skipped) or doubled, so replicas' timers drift against each other.
                var ticks = 1
                if faultPhase && options.tickJitter > 0 && rng.chance(options.tickJitter) { ticks = rng.chance(0.5) ? 0 : 2 }
                for _ in 0..<ticks where replicas[i].isRunning {
                    replicas[i].node!.tick()
                    try drain(i)
                }
                if case .lazy(let p) = options.applyPersistence, replicas[i].isRunning,
                   replicas[i].machine != replicas[i].durableMachine, rng.chance(p) {
                    replicas[i].persistAppliedState()
                }
            }
            try retireRemovedReplicas()
            try moveLeadershipIntoConfig()
        }
        while let delivery = network.nextDelivery(now: clock.now) {
            try deliver(delivery)
            try processReports()
        }
        try processReports()
        stats.steps += 1
        clock.advance()
    }

    /// Starts (or restarts) replica `i` from its disk.
    mutating func start(_ i: Int) throws(SafetyViolation) {
        let id = replicas[i].id
        do {
            try replicas[i].start(config: configTemplate, seed: rng.fork())
        } catch {
            throw SafetyViolation(.contract, "replica \(id) failed to start: \(error)")
        }
        let r = replicas[i]
        if r.incarnation > 1 { stats.restarts += 1 }
        trace.record(.restart(id, incarnation: r.incarnation, hardState: r.storage.hardState,
                              lastIndex: r.storage.lastIndex(), applied: r.machine.appliedIndex), step: clock.now)
        commitIndexes.restarted(id)
        // What the disk holds as committed must agree with everything committed so far.
        let hs = r.storage.hardState
        var index = r.storage.offsetIndex + 1
        while index <= hs.commit {
            if let t = r.storage.termIfPresent(index) {
                try committed.observeCommitted(id, index: index, term: t, currentTerm: hs.term)
            }
            index += 1
        }
        try commitIndexes.observeCommitIndex(id, hs.commit)
        try drain(i)
    }

    /// Crashes replica `i` now (between steps: only unsynced writes are lost).
    mutating func crash(_ i: Int, recordsPersisted: Int = 0, recordsInReady: Int = 0) {
        replicas[i].crash()
        if options.lyingDisk { replicas[i].storage.forgetVote() }
        stats.crashes += 1
        if recordsInReady > 0 { stats.tornWrites += 1 }
        trace.record(.crash(replicas[i].id, recordsPersisted: recordsPersisted, recordsInReady: recordsInReady), step: clock.now)
    }

    /// Indices of running replicas that believe they lead, highest term first.
    var leaderIndices: [Int] {
        replicas.indices.filter { replicas[$0].isRunning && replicas[$0].role == .leader }
            .sorted { replicas[$0].term > replicas[$1].term }
    }
}
