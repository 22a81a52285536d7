public import Base

/// How a durable copy of the application state is kept.
public enum ApplyPersistence: Sendable, Hashable {
    /// Every Ready that applies entries syncs the log and persists the applied state.
    case everyReady
    /// Applied state reaches the disk only now and then (probability per Ready / tick);
    /// a crash rolls the application back and the restart re-applies from the log.
    case lazy(probability: Double)
}

/// Everything that shapes one simulated run. `random(seed:)` derives all of it from the
/// seed, so a run is a function of its seed (plus the requested length). Owns numbers
/// only; the `Simulator` interprets them.
public struct SimulationOptions: Sendable {
    public var seed: UInt64
    /// Voters at bootstrap (3 or 5).
    public var clusterSize: Int
    public var preVote: Bool
    public var checkQuorum: Bool
    public var electionTicks: Int
    public var heartbeatTicks: Int
    public var stepsPerTick: Int
    public var maxSizePerMsg: UInt64
    public var maxInflightMsgs: Int
    /// Leader's cap on uncommitted entry bytes (0: none).
    public var maxUncommittedEntriesSize: UInt64
    /// Followers refuse proposals instead of forwarding them.
    public var disableProposalForwarding: Bool
    /// Steps of the fault phase (then faults stop and liveness is checked).
    public var faultSteps: Int
    /// Network behaviour during the fault phase.
    public var faultNetwork: NetworkFaults
    /// Network behaviour after healing (no loss, no duplication).
    public var healedNetwork: NetworkFaults
    /// Probability per replica and tick that its tick is skipped or doubled (fault phase).
    public var tickJitter: Double
    /// Per-step probabilities of fault-phase events.
    public var proposeRate: Double
    /// Per-step probability of a ReadIndex read at a random replica.
    public var readRate: Double
    public var crashRate: Double
    public var restartRate: Double
    /// Probability that a crash cuts a Ready's persistence part-way (a torn write).
    public var tornWriteFraction: Double
    public var partitionRate: Double
    public var healRate: Double
    public var confChangeRate: Double
    public var transferRate: Double
    /// Probability that the transport reports a dropped message's target unreachable.
    public var reportUnreachableRate: Double
    /// Create a snapshot once this many entries were applied since the last (0: never).
    public var snapshotIntervalEntries: UInt64
    /// Entries kept behind the snapshot when compacting.
    public var compactionLagEntries: UInt64
    public var applyPersistence: ApplyPersistence
    /// Proposals made after healing, each of which must commit everywhere.
    public var livenessProposals: Int
    /// Ticks after healing by which they must have (see `Simulator` for the reasoning).
    public var livenessBoundTicks: Int
    /// Most voters a membership change may create.
    public var maxVoters: Int
    /// Events kept in the trace ring.
    public var traceCapacity: Int
    /// A deliberately broken disk that forgets its acknowledged vote on a crash.
    /// Off in every real run; tests turn it on to show the checkers catch the damage.
    public var lyingDisk = false

    /// A fault-free configuration (benchmarks, smoke tests).
    public init(seed: UInt64, clusterSize: Int = 3, faultSteps: Int = 0) {
        self.seed = seed
        self.clusterSize = clusterSize
        preVote = true
        checkQuorum = true
        electionTicks = 10
        heartbeatTicks = 1
        stepsPerTick = 4
        maxSizePerMsg = 1 << 20
        maxInflightMsgs = 256
        maxUncommittedEntriesSize = 0
        disableProposalForwarding = false
        self.faultSteps = faultSteps
        faultNetwork = .reliable(minDelaySteps: 1, maxDelaySteps: 2)
        healedNetwork = .reliable(minDelaySteps: 1, maxDelaySteps: 2)
        tickJitter = 0
        proposeRate = 0.2
        readRate = 0.05
        crashRate = 0
        restartRate = 0
        tornWriteFraction = 0
        partitionRate = 0
        healRate = 0
        confChangeRate = 0
        transferRate = 0
        reportUnreachableRate = 0
        snapshotIntervalEntries = 0
        compactionLagEntries = 0
        applyPersistence = .everyReady
        livenessProposals = 10
        livenessBoundTicks = 50 * electionTicks
        maxVoters = 7
        traceCapacity = 400
    }

    /// The options of seed `seed`: cluster size, fault mix and intensity, pre-vote and
    /// check-quorum, message limits and snapshot policy all vary with the seed.
    public static func random(seed: UInt64, faultSteps: Int) -> SimulationOptions {
        var rng = SeededGenerator(seed: seed ^ 0x0F7E_5EED_0000_0001)
        var o = SimulationOptions(seed: seed, clusterSize: rng.chance(0.5) ? 3 : 5, faultSteps: faultSteps)
        o.preVote = rng.chance(0.5)
        o.checkQuorum = rng.chance(0.5)
        o.electionTicks = rng.pick([5, 10, 10, 20])
        o.heartbeatTicks = rng.pick([1, 1, 2])
        o.stepsPerTick = rng.pick([2, 4, 8])
        o.maxSizePerMsg = rng.pick([64, 512, 4096, 1 << 20])
        o.maxInflightMsgs = rng.pick([1, 4, 64, 256])
        o.maxUncommittedEntriesSize = rng.pick([0, 0, 512, 16384])
        o.disableProposalForwarding = rng.chance(0.2)
        // Intensity: 0 = calm, 1 = moderate, 2 = harsh.
        let intensity = rng.int(in: 0...2)
        let scale = [0.3, 1.0, 2.5][intensity]
        let maxDelay = o.stepsPerTick * rng.pick([1, 2, 4, 8])
        o.faultNetwork = NetworkFaults(
            lossRate: rng.chance(0.7) ? 0.05 * scale * rng.pick([0.5, 1, 2]) : 0,
            duplicateRate: rng.chance(0.5) ? 0.03 * scale : 0,
            minDelaySteps: 1, maxDelaySteps: maxDelay,
            fifo: rng.chance(0.3))
        o.healedNetwork = NetworkFaults(minDelaySteps: 1, maxDelaySteps: max(1, min(maxDelay, 2 * o.stepsPerTick)),
                                        fifo: o.faultNetwork.fifo)
        let perTick = 1.0 / Double(o.stepsPerTick)
        o.proposeRate = rng.pick([0.5, 1, 2]) * perTick
        o.readRate = rng.pick([0, 0.3, 1]) * perTick
        o.tickJitter = rng.pick([0, 0, 0.05, 0.2])
        o.crashRate = rng.chance(0.8) ? 0.004 * scale * perTick * 4 : 0
        o.restartRate = 0.05 * perTick * 4
        o.tornWriteFraction = rng.pick([0, 0.3, 0.7])
        o.partitionRate = rng.chance(0.7) ? 0.006 * scale * perTick * 4 : 0
        o.healRate = 0.02 * perTick * 4
        o.confChangeRate = rng.chance(0.6) ? 0.01 * scale * perTick * 4 : 0
        o.transferRate = rng.chance(0.5) ? 0.004 * scale * perTick * 4 : 0
        o.reportUnreachableRate = rng.pick([0, 0.1, 0.5])
        o.snapshotIntervalEntries = rng.pick([0, 5, 20, 100])
        o.compactionLagEntries = rng.pick([0, 3, 50])
        o.applyPersistence = rng.chance(0.5) ? .everyReady : .lazy(probability: rng.pick([0.1, 0.5]))
        o.livenessProposals = rng.int(in: 3...10)
        o.livenessBoundTicks = 50 * o.electionTicks
        return o
    }

    public var summary: String {
        "size=\(clusterSize) preVote=\(preVote) checkQuorum=\(checkQuorum) election=\(electionTicks) heartbeat=\(heartbeatTicks) "
            + "stepsPerTick=\(stepsPerTick) loss=\(faultNetwork.lossRate) dup=\(faultNetwork.duplicateRate) "
            + "delay<=\(faultNetwork.maxDelaySteps) fifo=\(faultNetwork.fifo) crash=\(crashRate) torn=\(tornWriteFraction) "
            + "partition=\(partitionRate) confChange=\(confChangeRate) transfer=\(transferRate) "
            + "snapshotEvery=\(snapshotIntervalEntries) maxMsg=\(maxSizePerMsg) inflight=\(maxInflightMsgs) "
            + "jitter=\(tickJitter) maxUncommitted=\(maxUncommittedEntriesSize) noForwarding=\(disableProposalForwarding) apply=\(applyPersistence)"
    }
}
