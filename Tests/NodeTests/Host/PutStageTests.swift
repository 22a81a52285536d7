import Base
import Foundation
import Testing
@testable import Node

extension NodeClusterTests {
    /// The leader accounts where each write's time went (`NodeMetrics.putStageNanos`):
    /// every acknowledged write is counted once, on the node that led its range, and its
    /// stages add up to no more than the time the writes took end to end.
    @Suite struct PutStageTests {
        @Test func everyWriteLedHereIsCountedWithItsStages() async throws {
            let c = try TestCluster(nodes: 3, ranges: 4)
            defer { c.shutdown() }
            // Warm-up: every range has a leader that applied its first entry.
            for i in 0..<4 { _ = try await c.put(c.key(range: i, "warm"), [0]) }
            // Metrics are published on tick rounds: start from the warm-up's counts.
            #expect(await c.eventually(10) { c.hosts.values.map(\.metrics.putStageWrites).reduce(0, +) >= 4 })
            let before = c.hosts.mapValues(\.metrics)
            let start = ContinuousClock.now
            let writes = 40
            try await withThrowingTaskGroup(of: Void.self) { group in
                for w in 0..<writes {
                    group.addTask { _ = try await c.put(c.key(range: w % 4, "k\(w)"), [UInt8(w)]) }
                }
                try await group.waitForAll()
            }
            let elapsed = ContinuousClock.now - start
            let elapsedNs = UInt64(elapsed.components.seconds) * 1_000_000_000 + UInt64(elapsed.components.attoseconds / 1_000_000_000)
            func totals() -> (UInt64, [UInt64]) {
                var counted: UInt64 = 0
                var stages: [UInt64] = [0, 0, 0, 0]
                for (node, h) in c.hosts {
                    let m = h.metrics, b = before[node]!
                    counted += m.putStageWrites - b.putStageWrites
                    for i in 0..<4 { stages[i] += m.putStageNanos[i] - b.putStageNanos[i] }
                }
                return (counted, stages)
            }
            _ = await c.eventually(10) { totals().0 >= UInt64(writes) }
            let (counted, stages) = totals()
            #expect(counted == UInt64(writes), "counted \(counted) of \(writes) writes")
            // Every write waited for its leader's fdatasync and for a follower's acknowledgement.
            #expect(stages[2] > 0 && stages[3] > 0, "stages \(stages)")
            // No write's stages exceed the whole run: the sum is at most writes × elapsed.
            #expect(stages.reduce(0, +) <= UInt64(writes) * elapsedNs, "stages \(stages), elapsed \(elapsed)")
        }
    }
}
