public import Base

/// The leader-placement state machine of one node (pure: no clock, threads or I/O; time
/// comes from a `PlacementClock`, tie-breaks from the caller's random generator, so a seed
/// reproduces a run). Each `step` takes the node's current `PlacementView` and returns the
/// leader transfers this node should start — only for ranges it leads, never for the system
/// range — under the policy, with hysteresis and rate limits:
/// - nothing moves during `settleMs` after the planner started or after a range's leader
///   changed, and at most `maxTransfersPerStep` transfers leave per step;
/// - a range it ordered moved is not ordered again for `retryMs`;
/// - a move between two live nodes that the policy would not have made (an operator's
///   transfer) pins the range for `operatorHoldMs` (`holds`), judged `settleMs` after the move
///   so that a leader that was killed has been noticed dead by then (a failover is not a pin).
///   A move the new leader reports as handed over (`Range.transferredFrom`) is a transfer
///   whatever was seen in between — a step may catch the transferee's candidacy, with no
///   leader — and whether or not the old leader's node still looks live.
///
/// Owns only its memory of each range (last leader seen, when it changed, its last order and
/// pin). Every node of a cluster runs one; they agree because they read the same leaders.
public struct PlacementPlanner: Sendable {
    public let settings: PlacementSettings

    /// Counters since the planner started.
    public struct Stats: Sendable, Equatable {
        /// Transfers ordered.
        public var transfersOrdered = 0
        /// Ranges pinned after a move the policy did not make.
        public var holds = 0
        public init() {}
    }
    public private(set) var stats = Stats()

    /// A leader change seen but not yet judged (operator move or not).
    struct Move: Sendable {
        var from: NodeID
        var to: NodeID
        var atNs: UInt64
        /// The new leader reported the leadership handed over by `from` (a transfer).
        var handedOver = false
    }

    /// What the planner remembers of one range.
    struct Memory: Sendable {
        var leader: NodeID?
        var changedNs: UInt64
        var move: Move?
        var orderedNs: UInt64?
        var orderedTo: NodeID?
        var holdUntilNs: UInt64 = 0
    }

    var startedNs: UInt64?
    var memory: [RangeID: Memory] = [:]

    public init(settings: PlacementSettings) { self.settings = settings }

    /// Whether `range` is pinned (an operator's move) at `nowNs`.
    public func isHeld(_ range: RangeID, nowNs: UInt64) -> Bool { (memory[range]?.holdUntilNs ?? 0) > nowNs }

    /// One planning step over `view` at the clock's current time.
    public mutating func step(_ view: PlacementView, clock: some PlacementClock,
                              random: inout some RandomNumberGenerator) -> [PlacementAction] {
        let now = clock.nowNanos
        if startedNs == nil { startedNs = now }
        observe(view, now: now)
        guard settings.policy != PlacementPolicy.none, now >= startedNs! &+ ms(settings.settleMs) else { return [] }

        var counts = Self.leaderCounts(view)
        var actions: [PlacementAction] = []
        for r in view.ranges.sorted(by: { $0.rangeID < $1.rangeID })
        where r.rangeID != view.systemRange && r.leader == view.localNode {
            guard actions.count < settings.maxTransfersPerStep else { break }
            guard var m = memory[r.rangeID], mayMove(m, now: now) else { continue }
            guard let to = desiredLeader(of: r, view, counts, &random), to != view.localNode,
                  view.liveNodes.contains(to), r.voters.contains(to)
            else { continue }
            actions.append(PlacementAction(rangeID: r.rangeID, from: view.localNode, to: to))
            m.orderedNs = now
            m.orderedTo = to
            memory[r.rangeID] = m
            counts[view.localNode, default: 0] -= 1
            counts[to, default: 0] += 1
            stats.transfersOrdered += 1
        }
        return actions
    }

    // MARK: observing

    /// Records leader changes and judges the moves seen `settleMs` ago.
    mutating func observe(_ view: PlacementView, now: UInt64) {
        var seen = Set<RangeID>()
        for r in view.ranges {
            seen.insert(r.rangeID)
            guard var m = memory[r.rangeID] else {
                memory[r.rangeID] = Memory(leader: r.leader, changedNs: now)
                continue
            }
            if m.leader != r.leader {
                if let to = r.leader, let from = m.leader ?? r.transferredFrom, from != to {
                    m.move = Move(from: from, to: to, atNs: now, handedOver: r.transferredFrom == from)
                } else {
                    // Through an election (no leader seen in between, none handed over): a failover.
                    m.move = nil
                }
                m.leader = r.leader
                m.changedNs = now
            }
            if let move = m.move, now >= move.atNs &+ ms(settings.settleMs) {
                m.move = nil
                if m.leader == move.to, move.handedOver || view.liveNodes.contains(move.from),
                   view.liveNodes.contains(move.to), !policyWouldMove(r, from: move.from, to: move.to, view)
                {
                    m.holdUntilNs = move.atNs &+ ms(settings.operatorHoldMs)
                    stats.holds += 1
                }
            }
            memory[r.rangeID] = m
        }
        for id in memory.keys where !seen.contains(id) { memory[id] = nil }
    }

    /// Whether the policy itself could have made the move `from → to` of `r` (then it is
    /// not an operator's decision to respect). `with-system` moves only onto the system
    /// leader's node. Under `spread` a planner cannot tell its peers' moves from an
    /// operator's (both balance), so every move between live nodes pins the range where it
    /// landed: a moved range stays put for `operatorHoldMs`, which is also spread's hysteresis.
    func policyWouldMove(_ r: PlacementView.Range, from: NodeID, to: NodeID, _ view: PlacementView) -> Bool {
        switch settings.policy {
        case .none: true  // nothing to fight
        case .withSystem: to == view.systemLeader
        case .spread: false
        }
    }

    // MARK: deciding

    func mayMove(_ m: Memory, now: UInt64) -> Bool {
        if m.move != nil || now < m.changedNs &+ ms(settings.settleMs) || now < m.holdUntilNs { return false }
        if let ordered = m.orderedNs, now < ordered &+ ms(settings.retryMs) { return false }
        return true
    }

    /// The node that should lead `r` under the policy (nil: leave it).
    func desiredLeader(of r: PlacementView.Range, _ view: PlacementView, _ counts: [NodeID: Int],
                       _ random: inout some RandomNumberGenerator) -> NodeID? {
        switch settings.policy {
        case .none:
            return nil
        case .withSystem:
            return view.systemLeader
        case .spread:
            let mine = counts[view.localNode, default: 0]
            let candidates = r.voters.filter { $0 != view.localNode && view.liveNodes.contains($0) }
            guard let least = candidates.map({ counts[$0, default: 0] }).min(), mine - least >= 2 else { return nil }
            let ties = candidates.filter { counts[$0, default: 0] == least }.sorted()
            return ties[Int(random.next(upperBound: UInt64(ties.count)))]
        }
    }

    /// Ranges led per node (every range of the view, the system range included).
    static func leaderCounts(_ view: PlacementView) -> [NodeID: Int] {
        var counts: [NodeID: Int] = [:]
        for r in view.ranges { if let l = r.leader { counts[l, default: 0] += 1 } }
        return counts
    }

    func ms(_ v: Int) -> UInt64 { UInt64(max(0, v)) &* 1_000_000 }
}
