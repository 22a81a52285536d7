import Base
import Foundation
import MVCC
@testable import Node
import Placement
import Testing

extension NodeClusterTests {
    /// The node-side placement driver (`NodeHost+Placement`) on 3 in-process nodes whose
    /// bootstrap spreads the leaders round-robin: under `with-system` every user range ends up
    /// led by the system range's leader, again after that leader is killed, and an operator's
    /// transfer away from it is left alone (pinned), not fought.
    @Suite struct PlacementDriverTests {
        static func cluster(_ policy: PlacementPolicy) throws -> TestCluster {
            try TestCluster(ranges: 6) { cfg in
                cfg.placement = PlacementSettings(policy: policy)
                cfg.placement.intervalMs = 100
                cfg.placement.settleMs = 600
                cfg.placement.retryMs = 2_000
                cfg.placement.operatorHoldMs = 120_000
            }
        }

        /// Whether every user range is led by `node` (as every live node sees it).
        static func allLedBy(_ node: NodeID, _ c: TestCluster) -> Bool {
            c.rangeIDs.allSatisfy { c.leader(of: $0) == node }
        }

        @Test func withSystemConvergesAndFollowsAFailover() async throws {
            let c = try Self.cluster(.withSystem)
            defer { c.shutdown() }
            let first = try #require(await c.systemLeader())
            #expect(await c.eventually(30) { Self.allLedBy(c.leader(of: .system) ?? NodeID.none, c) },
                    "leaders \(c.rangeIDs.map { c.leader(of: $0)?.rawValue ?? 0 }), system \(first)")
            for (i, range) in c.rangeIDs.enumerated() {  // writes work on the moved leaders
                _ = try await c.propose(.put(PutRequest(key: c.key(range: i, "k"), value: [1])), range: range)
            }
            let ordered = c.hosts.values.map(\.placementStats.transfersOrdered).reduce(0, +)
            #expect(ordered >= 1)  // round-robin bootstrap: some ranges had to move

            // Kill the system range's leader (no final commit): the survivors elect new leaders
            // and placement gathers every range on the new system leader.
            let leader = c.leader(of: .system) ?? first
            c.stop(leader, flush: false)
            let second = try #require(await c.systemLeader())
            #expect(second != leader)
            #expect(await c.eventually(30) { Self.allLedBy(c.leader(of: .system) ?? NodeID.none, c) },
                    "after kill: leaders \(c.rangeIDs.map { c.leader(of: $0)?.rawValue ?? 0 }), system \(c.leader(of: .system)?.rawValue ?? 0)")

            // The killed node comes back; everything stays (or ends up) with the system leader.
            try c.start(leader)
            try await Task.sleep(for: .seconds(2))
            #expect(await c.eventually(30) { Self.allLedBy(c.leader(of: .system) ?? NodeID.none, c) },
                    "after restart: leaders \(c.rangeIDs.map { c.leader(of: $0)?.rawValue ?? 0 })")
        }

        /// An operator moves one range away from the system leader's node: the new leader's
        /// driver pins it (counts a hold) and never transfers it back while the pin lasts.
        @Test func operatorTransferIsNotFought() async throws {
            let c = try Self.cluster(.withSystem)
            defer { c.shutdown() }
            _ = try #require(await c.systemLeader())
            #expect(await c.eventually(30) { Self.allLedBy(c.leader(of: .system) ?? NodeID.none, c) })
            let system = try #require(c.leader(of: .system))
            let range = c.rangeIDs[0]
            let other = try #require(c.hosts.keys.sorted().first { $0 != system })
            c.hosts[system]!.transferLeadership(of: range, to: other)
            #expect(await c.eventually(10) { c.leader(of: range) == other })
            // Well past settleMs and many driver steps: the range stays with the operator's choice.
            let until = Date().addingTimeInterval(4)
            var movedBack = false
            while Date() < until {
                if c.leader(of: range) == system { movedBack = true }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(!movedBack)
            #expect(c.leader(of: range) == other)
            #expect(c.hosts[other]!.placementStats.holds >= 1)
        }

        /// With `none` the driver does not even run: leaders stay where the bootstrap put them.
        @Test func noneMovesNothing() async throws {
            let c = try Self.cluster(.none)
            defer { c.shutdown() }
            #expect(await c.eventually(30) { c.rangeIDs.allSatisfy { c.leader(of: $0) != nil } })
            try await Task.sleep(for: .seconds(2))
            #expect(c.hosts.values.allSatisfy { $0.placementStats == PlacementPlanner.Stats() })
            #expect(Set(c.rangeIDs.compactMap { c.leader(of: $0) }).count > 1)  // still spread round-robin
        }
    }
}
