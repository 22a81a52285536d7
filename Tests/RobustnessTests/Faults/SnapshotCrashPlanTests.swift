import Base
import Testing

@testable import Robustness

/// The planning of snapshot crash-point runs: which seeds get the lagging-follower schedule
/// and the small-segment cluster, which node is cut off and which is armed, and that every
/// other plan draws exactly what it drew before.
@Suite struct SnapshotCrashPlanTests {
    static let snapshotPoints: Set<CrashPoint> = [.snapshotSend, .snapshotInstall]

    @Test func snapshotPlansGetAnIsolationOthersDoNot() {
        var seen: Set<CrashPoint> = []
        for seed in UInt64(0)..<400 {
            var rng = SeededGenerator(seed: seed)
            let plan = FaultPlan(fault: .crashPoint, nodes: 3, rng: &rng)
            seen.insert(plan.crashPoint)
            let snapshot = Self.snapshotPoints.contains(plan.crashPoint)
            #expect(plan.needsSnapshot == snapshot, "seed \(seed)")
            if snapshot {
                let ms = plan.lagIsolation.components.seconds * 1000 + plan.lagIsolation.components.attoseconds / 1_000_000_000_000_000
                #expect(SnapshotCrashFault.isolationMs.contains(Int(ms)), "seed \(seed): \(plan.lagIsolation)")
                #expect(plan.description.contains("isolate a follower"), "seed \(seed): \(plan)")
            } else {
                #expect(plan.lagIsolation == .zero, "seed \(seed)")
            }
        }
        #expect(seen == Set(CrashPoint.allCases))
    }

    @Test func otherPlansDrawWhatTheyDrewBefore() {
        // The draws of a plan before snapshot crash points existed: node, duration, delay,
        // point. A plan that needs no snapshot must leave the generator exactly there, so the
        // run's later draws (watcher starts) are unchanged for every such seed.
        for fault in FaultClass.allCases where fault != .none {
            for seed in UInt64(0)..<100 {
                var rng = SeededGenerator(seed: seed)
                let plan = FaultPlan(fault: fault, nodes: 3, rng: &rng)
                var old = SeededGenerator(seed: seed)
                let node = Int.random(in: 0..<3, using: &old)
                switch fault {
                case .pause: _ = Int.random(in: 1000...5000, using: &old)
                case .killRandom, .killLeader, .crashPoint: _ = Int.random(in: 500...2000, using: &old)
                case .partitionLeader, .partitionFollower, .delay: _ = Int.random(in: 1500...3000, using: &old)
                default: break
                }
                _ = Int.random(in: 25...125, using: &old)
                let point = CrashPoint.allCases[Int.random(in: 0..<CrashPoint.allCases.count, using: &old)]
                #expect(plan.randomNode == node && plan.crashPoint == point, "\(fault) seed \(seed)")
                if plan.needsSnapshot {
                    #expect(fault == .crashPoint, "\(fault) seed \(seed)")
                    _ = Int.random(in: SnapshotCrashFault.isolationMs, using: &old)
                }
                #expect(rng.next() == old.next(), "\(fault) seed \(seed)")
            }
        }
    }

    @Test func laggingFollowerIsNeverTheLeaderAndEveryOtherNodeCanBeChosen() {
        for nodes in [3, 5] {
            for leader in 0..<nodes {
                let chosen = Set((0..<nodes).map { SnapshotCrashFault.laggingFollower(leader: leader, pick: $0, nodes: nodes) })
                #expect(!chosen.contains(leader), "nodes \(nodes) leader \(leader)")
                #expect(chosen.count == nodes - 1, "nodes \(nodes) leader \(leader): \(chosen)")
            }
        }
    }

    @Test func installArmsTheFollowerSendArmsTheBusiestOtherNode() {
        #expect(SnapshotCrashFault.armedNode(point: .snapshotInstall, follower: 1, leaderCounts: [0: 5, 2: 3], nodes: 3) == 1)
        #expect(SnapshotCrashFault.armedNode(point: .snapshotSend, follower: 1, leaderCounts: [0: 5, 1: 9, 2: 3], nodes: 3) == 0)
        #expect(SnapshotCrashFault.armedNode(point: .snapshotSend, follower: 0, leaderCounts: [0: 9, 1: 2, 2: 7], nodes: 3) == 2)
        // Ties and missing counts: the first node after the follower.
        #expect(SnapshotCrashFault.armedNode(point: .snapshotSend, follower: 2, leaderCounts: [0: 4, 1: 4], nodes: 3) == 0)
        #expect(SnapshotCrashFault.armedNode(point: .snapshotSend, follower: 2, leaderCounts: [:], nodes: 3) == 0)
        #expect(SnapshotCrashFault.armedNode(point: .snapshotSend, follower: 4, leaderCounts: [3: 1], nodes: 5) == 3)
    }

    @Test func onlySnapshotRunsStartTheClusterWithSmallSegments() throws {
        var checked: Set<Bool> = []
        for seed in UInt64(0)..<40 {
            var options = RunOptions()
            options.target = "flotilla"
            options.fault = .crashPoint
            options.seed = seed
            let run = RobustnessRun(options: options)
            let cluster = try #require(run.makeCluster() as? FlotillaCluster)
            let config = cluster.config(node: 0)
            let small = config.contains("[storage]\nwalSegmentBytes = \(SnapshotCrashFault.storage.walSegmentBytes)\n")
                && config.contains("walGCIntervalMs = \(SnapshotCrashFault.storage.walGCIntervalMs)\n")
            #expect(small == run.plan.needsSnapshot, "seed \(seed): \(run.plan)")
            #expect(config.contains("[storage]") == small, "seed \(seed)")
            checked.insert(small)
        }
        #expect(checked == [true, false])
    }
}
