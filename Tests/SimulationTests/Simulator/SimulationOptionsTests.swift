import Simulation
import Testing
import TestThreads

@Suite("Per-seed variety")
struct SimulationOptionsTests {
    @Test func seedsVaryClusterSizeAndProtocolOptions() {
        let all = (UInt64(1)...200).map { SimulationOptions.random(seed: $0, faultSteps: 100) }
        #expect(Set(all.map(\.clusterSize)) == [3, 5])
        #expect(Set(all.map(\.preVote)) == [true, false])
        #expect(Set(all.map(\.checkQuorum)) == [true, false])
        #expect(Set(all.map(\.faultNetwork.fifo)) == [true, false])
        #expect(all.contains { $0.crashRate == 0 } && all.contains { $0.crashRate > 0 })
        #expect(all.contains { $0.snapshotIntervalEntries == 0 } && all.contains { $0.snapshotIntervalEntries > 0 })
        #expect(SimulationOptions.random(seed: 9, faultSteps: 100).summary == SimulationOptions.random(seed: 9, faultSteps: 100).summary)
    }

    @Test func everyFaultKindHappensAcrossSeeds() async throws {
        // Long synchronous work: on a thread of its own, not a cooperative pool thread.
        try await onOwnThread {
            var t = SimulationStats()
            for seed in UInt64(1)...24 {
                var simulator = Simulator(options: .random(seed: seed, faultSteps: 400))
                let r = simulator.run()
                #expect(r.passed, "seed \(seed): \(r.violation.map { "\($0)" } ?? "") reproduce with --seed=\(seed) --steps 400")
                let s = r.stats
                t.crashes += s.crashes; t.tornWrites += s.tornWrites; t.restarts += s.restarts
                t.partitions += s.partitions; t.confChangesApplied += s.confChangesApplied; t.transfers += s.transfers
                t.snapshotsInstalled += s.snapshotsInstalled; t.retired += s.retired; t.messagesDropped += s.messagesDropped
            }
            #expect(t.crashes > 0 && t.tornWrites > 0 && t.restarts > 0, "crashes \(t.crashes) torn \(t.tornWrites)")
            #expect(t.partitions > 0 && t.messagesDropped > 0)
            #expect(t.confChangesApplied > 0 && t.retired > 0 && t.transfers > 0)
            #expect(t.snapshotsInstalled > 0)
        }
    }
}
