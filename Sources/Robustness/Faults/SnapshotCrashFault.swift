public import Base

#if canImport(Glibc)
import Glibc
#endif

/// The crash-point fault at `snapshot.send` / `snapshot.install`: these points are reached
/// only while a range snapshot flows, and in a short run no Raft log is ever compacted, so
/// the fault first makes one happen. The cluster runs with small WAL segments and frequent
/// segment GC (`storage`); the fault cuts a follower's peer links (as `partition-follower`
/// does) long enough for the other nodes to collect the WAL segments holding the entries it
/// misses — their ranges' log starts move past it — then arms the point on the node that
/// will reach it (install: the lagging follower; send: the other node leading most ranges)
/// and heals: Raft answers the follower's gap with a snapshot, and the armed node exits at
/// the point. Not reached within `reachWait`, it is killed -9 instead, as the plain crash
/// point fault does. The crashed node restarts after the plan's duration.
/// Owns nothing: the choices are pure functions of the plan and the cluster's leader counts.
public enum SnapshotCrashFault {
    /// WAL segment size and GC interval of clusters running these plans. At the ~20–70 KB/s
    /// of WAL a node writes under the harness's workload on this machine, a 16 KiB segment
    /// is sealed within a second and collected within `gcIntervalMs` of its entries being
    /// applied, so an isolation of 2.5 s leaves the follower behind every busy range's log
    /// start (64 KiB segments were not sealed within the isolation at ~20 KB/s).
    public static let storage = FlotillaStorageTuning(walSegmentBytes: 16 << 10, walGCIntervalMs: 100)
    /// How long the follower is cut off (drawn per plan).
    public static let isolationMs = 2500...3500
    /// How long after the heal the armed point may take to be reached (reconnection backoff,
    /// the leaders' probes, the snapshot's start) before the node is killed -9 instead. In
    /// 16 runs sends took up to 5.0 s after the heal under load, installs up to 0.5 s.
    public static let reachWait: Duration = .seconds(10)

    /// The follower to cut off: like `partition-follower`, one of the nodes other than the
    /// one leading most groups, chosen by the plan's random pick.
    public static func laggingFollower(leader: Int, pick: Int, nodes: Int) -> Int {
        (leader + 1 + pick % (nodes - 1)) % nodes
    }

    /// The node to arm. Install: the lagging follower (it receives the snapshots). Send: the
    /// node other than the follower leading most ranges (it sends the most snapshots);
    /// ties (or no counts) go to the first such node after the follower.
    public static func armedNode(point: CrashPoint, follower: Int, leaderCounts: [Int: Int], nodes: Int) -> Int {
        guard point == .snapshotSend else { return follower }
        var best = (follower + 1) % nodes
        for step in 1..<nodes {
            let node = (follower + step) % nodes
            if leaderCounts[node, default: 0] > leaderCounts[best, default: 0] { best = node }
        }
        return best
    }

    static func describe(_ plan: FaultPlan) -> String {
        let armed = plan.crashPoint == .snapshotSend ? "the other node leading most ranges" : "the follower"
        return "isolate a follower's peer links for \(plan.lagIsolation) (WAL segments \(storage.walSegmentBytes >> 10) KiB, "
            + "GC every \(storage.walGCIntervalMs) ms: its leaders compact past it), arm \(plan.crashPoint.rawValue) on "
            + "\(armed), heal: crash when the snapshot flows, restart after \(plan.duration)"
    }

    static func inject(_ plan: FaultPlan, on cluster: any ClusterUnderTest, log: @Sendable (String) -> Void) async throws {
        let n = cluster.nodes.count
        let leader = await cluster.leaderNode() ?? 0
        let follower = laggingFollower(leader: leader, pick: plan.randomNode, nodes: n)
        log("isolate node \(follower) (leader: \(leader)) for \(plan.lagIsolation) so its leaders compact past it")
        FaultInjector.isolate(follower, in: cluster, on: true)
        try await Task.sleep(for: plan.lagIsolation)
        let counts = await (cluster as? FlotillaCluster)?.leaderCounts() ?? [:]
        let target = armedNode(point: plan.crashPoint, follower: follower, leaderCounts: counts, nodes: n)
        let node = cluster.nodes[target]
        log("arm crash point \(plan.crashPoint.rawValue) on node \(target) (leader counts \(counts.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: " "))), heal node \(follower)")
        node.send(SIGUSR1)
        FaultInjector.isolate(follower, in: cluster, on: false)
        let deadline = ContinuousClock.now + reachWait
        while node.pid != nil, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        if node.pid == nil {
            log("node \(target) exited at the crash point (status \(node.exitStatus.map(String.init) ?? "?"))")
        } else {
            let sent = (cluster as? FlotillaCluster)?.snapshotCounters() ?? ""
            log("crash point not reached in \(reachWait): kill -9 node \(target) instead (snapshots \(sent))")
            await node.kill9()
        }
        try await Task.sleep(for: plan.duration)
        log("restart node \(target)")
        try await cluster.restart(node: target)
    }
}
