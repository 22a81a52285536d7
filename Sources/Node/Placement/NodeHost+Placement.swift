public import Base
import Dispatch
public import Placement

/// The node's leader-placement driver: every `placement.intervalMs` it builds this node's
/// `PlacementView` (its replicas' leaders and voters, the system range's leader, the peers it
/// hears from) and runs one step of its `PlacementPlanner`; the planner's transfers (only of
/// ranges this node leads) go to Raft through `transferLeadership`. Every node runs its own
/// driver, so nothing has to be elected or handed over when the system leader moves. The
/// decisions are the pure planner's; this file only gathers the view and performs them.
extension NodeHost {
    /// The monotonic clock the driver gives its planner.
    struct MonotonicPlacementClock: PlacementClock {
        var nowNanos: UInt64 { NodeHost.nowNs() }
    }

    /// Starts the driver task, unless the policy is `none`.
    func startPlacement() {
        let settings = config.placement
        guard settings.policy != PlacementPolicy.none else { return }
        let seed = UInt64(nodeID.rawValue) &* 0x9E37_79B9_7F4A_7C15 ^ Self.nowNs()
        let task = Task.detached { [weak self] in
            var planner = PlacementPlanner(settings: settings)
            var random = SeededGenerator(seed: seed)
            let clock = MonotonicPlacementClock()
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(max(10, settings.intervalMs)))
                guard let self, !self.stopped.load(ordering: .acquiring) else { return }
                let actions = planner.step(self.placementView(), clock: clock, random: &random)
                for a in actions { self.transferLeadership(of: a.rangeID, to: a.to) }
                let stats = planner.stats
                self.placementCounters.withLock { $0 = stats }
            }
        }
        placementTask.withLock { $0 = task }
    }

    /// What this node knows for placement now: every replica's leader and voters (the system
    /// range's too), the system range's leader, and the peers not marked down (plus itself) as
    /// the loop last published them (every tick): never waits for a poll round.
    public func placementView() -> PlacementView {
        let replicas = views.withLock { $0 }
        let live = publishedLivePeers.withLock { $0 }
        let system = systemLeader()
        let ranges = replicas.values.map { v in
            PlacementView.Range(rangeID: v.descriptor.rangeID,
                                voters: v.descriptor.replicas.filter { $0.role == .voter }.map(\.nodeID),
                                leader: v.leaderNode == .none ? nil : v.leaderNode,
                                transferredFrom: v.isLeader ? v.transferredFrom : nil)
        }
        return PlacementView(localNode: nodeID, ranges: ranges, systemLeader: system == .none ? nil : system,
                             liveNodes: Set(live + [nodeID]))
    }

    /// The placement driver's counters (transfers ordered, ranges pinned after an operator's
    /// move) since the node started; zero with policy `none`.
    public var placementStats: PlacementPlanner.Stats { placementCounters.withLock { $0 } }
}
