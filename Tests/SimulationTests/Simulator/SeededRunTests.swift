import Base
import RaftCore
import Simulation
import Testing
import TestThreads

/// A fixed set of seeds run against the real RaftCore in the test suite (debug build, so
/// runs are short: 250 fault steps each, then the liveness phase).
@Suite("Seeded simulation runs")
struct SeededRunTests {
    static let seeds: [UInt64] = Array(1...220)
    static let faultSteps = 250

    @Test(arguments: [0, 1, 2, 3])
    func seededRunsPass(shard: Int) async throws {
        // Long synchronous work: on a thread of its own, not a cooperative pool thread.
        try await onOwnThread {
            for seed in Self.seeds where Int(seed % 4) == shard {
                var simulator = Simulator(options: .random(seed: seed, faultSteps: Self.faultSteps))
                let result = simulator.run()
                #expect(result.passed, Comment(rawValue: failureMessage(result)))
            }
        }
    }

    @Test func aRunIsAFunctionOfItsSeed() async throws {
        // Three simulator runs: long synchronous work, off the cooperative pool.
        @Sendable func fingerprint(_ seed: UInt64) -> (SimulationStats, [String]) {
            var simulator = Simulator(options: .random(seed: seed, faultSteps: 200))
            let r = simulator.run()
            return (r.stats, r.trace)
        }
        let (a, b, c) = try await onOwnThread { (fingerprint(77), fingerprint(77), fingerprint(78)) }
        #expect(a.0 == b.0 && a.1 == b.1, "same seed, same run")
        #expect(a.1 != c.1, "different seeds, different runs")
    }

    @Test func faultFreeClusterCommitsEveryProposal() async throws {
        var options = SimulationOptions(seed: 5, clusterSize: 5, faultSteps: 400)
        options.livenessProposals = 20
        let result = try await onOwnThread { [options] in
            var simulator = Simulator(options: options)
            return simulator.run()
        }
        #expect(result.passed, Comment(rawValue: failureMessage(result)))
        #expect(result.stats.crashes == 0 && result.stats.messagesDropped == 0)
        #expect(result.stats.leadersElected == 1, "no faults: one election")
        #expect(result.stats.proposals > 50)
        #expect(result.stats.proposalsApplied == result.stats.proposals - result.stats.proposalsRejected,
                "every accepted proposal is applied")
    }

    func failureMessage(_ r: SimulationResult) -> String {
        guard let v = r.violation else { return "" }
        return "seed \(r.seed) failed: \(v)\nreproduce with --seed=\(r.seed) (Tools/simulate --seed \(r.seed) --steps \(Self.faultSteps))\n"
            + r.trace.suffix(80).joined(separator: "\n")
    }
}

/// The simulator must be able to fail: with a disk that forgets its vote when the
/// replica crashes right after voting, two leaders get elected in one term and the
/// election safety checker has to catch it within a few seeds.
@Suite("Simulator catches a broken disk")
struct LyingDiskTests {
    @Test func lyingDiskIsCaught() async throws {
        // Long synchronous work: on a thread of its own, not a cooperative pool thread.
        try await onOwnThread {
            var kinds: [SafetyViolation.Kind] = []
            for seed in UInt64(1)...40 {
                var options = SimulationOptions.random(seed: seed, faultSteps: 300)
                options.lyingDisk = true
                options.crashRate = max(options.crashRate, 0.02)
                options.restartRate = max(options.restartRate, 0.2)
                var simulator = Simulator(options: options)
                if let v = simulator.run().violation { kinds.append(v.kind) }
            }
            #expect(kinds.contains(.electionSafety), "40 runs with a lying disk, violations found: \(kinds)")
        }
    }
}
