public import Base

#if canImport(Glibc)
import Glibc
#endif

/// The fault classes a run injects (one per run) while traffic flows.
public enum FaultClass: String, Sendable, CaseIterable {
    case none
    /// kill -9 of a random node, restart after a pause.
    case killRandom = "kill-random"
    /// kill -9 of the node leading the most Raft groups, restart after a pause.
    case killLeader = "kill-leader"
    /// SIGSTOP a random node for 1–5 s, then SIGCONT.
    case pause
    /// Cut the leader off from every peer (a minority leader), then heal.
    case partitionLeader = "partition-leader"
    /// Cut a follower off (the majority keeps a clean quorum), then heal.
    case partitionFollower = "partition-follower"
    /// Add 25–125 ms to every chunk on every peer link of one node (both directions), then heal.
    case delay
    /// Move leadership to another node (etcd: MoveLeader; Flotilla: every range the busiest
    /// node leads, through `flotctl transfer-leader`).
    case transferLeader = "transfer-leader"
    /// Crash a random node at a `CrashPoint` inside the server (before/after WAL write and
    /// sync, before/after apply, during snapshot send/install, data-file commit with its
    /// unsynced writes destroyed), then restart it. Needs a
    /// debug `flotilla` (the points are compiled only into debug builds).
    case crashPoint = "crash-point"

    /// Classes a plain `--fault all` cycles through (crash points only when asked for, as
    /// they need a debug build).
    public static func all(for kind: String) -> [FaultClass] {
        allCases.filter { $0 != .none && $0 != .crashPoint }
    }
}

/// One planned fault: what, on which node (chosen at injection time when it depends on the
/// leader), and for how long. Drawn from the run's seed.
public struct FaultPlan: Sendable, CustomStringConvertible {
    public var fault: FaultClass
    /// Random node for the classes that pick one at random.
    public var randomNode: Int
    public var duration: Duration
    public var delay: Duration
    /// The point of a crash-point run.
    public var crashPoint: CrashPoint
    /// A crash-point run at a snapshot point: how long the lagging follower's peer links are
    /// cut, so the other nodes' WAL GC moves their ranges' log starts past it and a snapshot
    /// must flow when it heals (`SnapshotCrashFault`). Zero for every other plan.
    public var lagIsolation: Duration = .zero

    public init(fault: FaultClass, nodes: Int, rng: inout SeededGenerator) {
        self.fault = fault
        randomNode = Int.random(in: 0..<nodes, using: &rng)
        switch fault {
        case .pause: duration = .milliseconds(Int.random(in: 1000...5000, using: &rng))
        case .killRandom, .killLeader, .crashPoint: duration = .milliseconds(Int.random(in: 500...2000, using: &rng))
        case .partitionLeader, .partitionFollower, .delay: duration = .milliseconds(Int.random(in: 1500...3000, using: &rng))
        default: duration = .zero
        }
        delay = .milliseconds(Int.random(in: 25...125, using: &rng))
        crashPoint = CrashPoint.allCases[Int.random(in: 0..<CrashPoint.allCases.count, using: &rng)]
        // Drawn last and only for these plans: every other seed keeps its plan and its
        // later draws (watcher starts) unchanged.
        if needsSnapshot { lagIsolation = .milliseconds(Int.random(in: SnapshotCrashFault.isolationMs, using: &rng)) }
    }

    /// A crash-point plan whose point is only reached while a range snapshot flows: the
    /// cluster runs with small WAL segments and frequent GC, and the fault makes a follower lag.
    public var needsSnapshot: Bool {
        fault == .crashPoint && (crashPoint == .snapshotSend || crashPoint == .snapshotInstall)
    }

    public var description: String {
        switch fault {
        case .none: "none"
        case .killRandom: "kill -9 node \(randomNode), restart after \(duration)"
        case .killLeader: "kill -9 the node with most leaders, restart after \(duration)"
        case .pause: "SIGSTOP node \(randomNode) for \(duration)"
        case .partitionLeader: "isolate the leader's peer links for \(duration)"
        case .partitionFollower: "isolate a follower's peer links for \(duration)"
        case .delay: "delay node \(randomNode)'s peer links by \(delay) for \(duration)"
        case .transferLeader: "move leadership to another node"
        case .crashPoint where needsSnapshot: SnapshotCrashFault.describe(self)
        case .crashPoint: "crash node \(randomNode) at \(crashPoint.rawValue), restart after \(duration)"
        }
    }
}

/// Carries out a `FaultPlan` on a cluster; returns what it did (the schedule line) once the
/// fault has healed. Blocking for the fault's duration.
public enum FaultInjector {
    public static func inject(_ plan: FaultPlan, on cluster: any ClusterUnderTest, log: @Sendable (String) -> Void) async throws {
        let n = cluster.nodes.count
        switch plan.fault {
        case .none:
            return
        case .killRandom, .killLeader:
            var node = plan.randomNode
            if plan.fault == .killLeader, let l = await cluster.leaderNode() { node = l }
            log("kill -9 node \(node)")
            await cluster.nodes[node].kill9()
            try await Task.sleep(for: plan.duration)
            log("restart node \(node)")
            try await cluster.restart(node: node)
        case .pause:
            log("SIGSTOP node \(plan.randomNode)")
            cluster.nodes[plan.randomNode].pause()
            try await Task.sleep(for: plan.duration)
            log("SIGCONT node \(plan.randomNode)")
            cluster.nodes[plan.randomNode].resume()
        case .partitionLeader, .partitionFollower:
            let leader = await cluster.leaderNode() ?? 0
            let node = plan.fault == .partitionLeader ? leader : (leader + 1 + plan.randomNode % (n - 1)) % n
            log("isolate node \(node) (leader: \(leader))")
            isolate(node, in: cluster, on: true)
            try await Task.sleep(for: plan.duration)
            log("heal node \(node)")
            isolate(node, in: cluster, on: false)
        case .delay:
            let node = plan.randomNode
            log("delay node \(node)'s peer links by \(plan.delay)")
            // Both directions of every link of the node: connections into its peer port, and
            // the ones it dials into the others' proxies.
            for p in cluster.peerProxies {
                if p.node == node { p.setDelay(plan.delay) } else { p.setDelayedSources([node], delay: plan.delay) }
            }
            try await Task.sleep(for: plan.duration)
            log("heal delay on node \(node)")
            for p in cluster.peerProxies { p.heal() }
        case .transferLeader:
            log(try await cluster.transferLeadership(pick: plan.randomNode))
        case .crashPoint where plan.needsSnapshot:
            try await SnapshotCrashFault.inject(plan, on: cluster, log: log)
        case .crashPoint:
            let node = cluster.nodes[plan.randomNode]
            log("arm crash point \(plan.crashPoint.rawValue) on node \(plan.randomNode)")
            node.send(SIGUSR1)
            let deadline = ContinuousClock.now + .seconds(3)
            while node.pid != nil, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
            if node.pid == nil {
                log("node \(plan.randomNode) exited at the crash point (status \(node.exitStatus.map(String.init) ?? "?"))")
            } else {
                log("crash point not reached in 3 s: kill -9 node \(plan.randomNode) instead")
                await node.kill9()
            }
            try await Task.sleep(for: plan.duration)
            log("restart node \(plan.randomNode)")
            try await cluster.restart(node: plan.randomNode)
        }
    }

    static func isolate(_ node: Int, in cluster: any ClusterUnderTest, on: Bool) {
        for p in cluster.peerProxies {
            if p.node == node {
                p.setBlockAll(on)
            } else {
                p.setBlockedSources(on ? [node] : [])
            }
        }
    }
}
