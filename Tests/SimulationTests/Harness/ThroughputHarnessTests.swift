import RaftCore
import Simulation
import Testing

@Suite("Throughput harness")
struct ThroughputHarnessTests {
    @Test func everyBatchedProposalIsAppliedOnAllReplicas() throws {
        var harness = try ThroughputHarness(replicaCount: 3, compactEvery: 50)
        let payloads = Array(repeating: Array(repeating: UInt8(7), count: 128), count: 16)
        for _ in 0..<20 { try harness.round(payloads: payloads) }
        harness.drain()
        let counts = harness.counts
        #expect(counts.proposed == 320)
        #expect(counts.appliedOnAll == 320)
        #expect(counts.messages < counts.proposed, "appends carry whole batches, not one entry each")
    }
}
