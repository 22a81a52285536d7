import Base
import Placement
import Testing

/// A seeded model of a cluster whose every node runs its own `PlacementPlanner`: leader
/// transfers take effect after a random delay (or fail), nodes are killed and restarted
/// (their ranges re-elected among live voters after an election timeout, noticed dead by the
/// others only after a detection delay), and an "operator" moves leaders by hand. After the
/// faults stop, the policy must converge and stay converged, and no operator move may be
/// undone by placement within its hold.
struct PlacementModel {
    struct PendingTransfer { var range: Int; var from: NodeID; var to: NodeID; var atMs: Int }
    struct OperatorMove { var range: Int; var from: NodeID; var to: NodeID; var atMs: Int }

    let nodes: [NodeID]
    let settings: PlacementSettings
    var rng: SeededGenerator
    var nowMs = 0
    /// leaders[0] is the system range (voters: the first three nodes); others are user ranges.
    var leaders: [NodeID?]
    var voters: [[NodeID]]
    var alive: Set<NodeID>
    /// When each dead node died (others notice after `detectMs`).
    var diedAtMs: [NodeID: Int] = [:]
    var electionAtMs: [Int: Int] = [:]
    var planners: [NodeID: PlacementPlanner] = [:]
    /// When each node's planner (re)started: a planner knows only the leaders it has seen.
    var plannerStartMs: [NodeID: Int] = [:]
    var pending: [PendingTransfer] = []
    var operatorMoves: [OperatorMove] = []
    /// Operator transfers in their transferee's candidacy (no leader yet), landing at `atMs`.
    var landing: [OperatorMove] = []
    /// Per range: the node that handed the current leader its leadership (a transfer; nil
    /// after an election), as the leader's Raft reports it.
    var transferredFrom: [Int: NodeID] = [:]
    var transfersByPlacement: [(range: Int, atMs: Int)] = []
    var problems: [String] = []
    /// When each range's leader last changed, and when it was last elected (not transferred).
    var lastChangeMs: [Int: Int] = [:]
    var lastElectionMs: [Int: Int] = [:]
    /// When each node was killed.
    var killsMs: [NodeID: [Int]] = [:]
    /// Recent events (for failure messages).
    var trace: [String] = []
    let detectMs = 1_000

    struct Clock: PlacementClock { var nowNanos: UInt64 }

    init(seed: UInt64, policy: PlacementPolicy) {
        var rng = SeededGenerator(seed: seed)
        let n = Bool.random(using: &rng) ? 3 : 5
        nodes = (1...n).map { NodeID(UInt64($0)) }
        var s = PlacementSettings(policy: policy)
        s.settleMs = 1_000
        s.retryMs = 3_000
        s.operatorHoldMs = 20_000
        s.maxTransfersPerStep = Int.random(in: 1...3, using: &rng)
        settings = s
        let userRanges = Int.random(in: 1...12, using: &rng)
        let all = nodes
        var voters = [Array(all.prefix(3))]
        for _ in 0..<userRanges {
            voters.append(n == 3 || Bool.random(using: &rng) ? all : Array(all.shuffled(using: &rng).prefix(3)).sorted())
        }
        var leaders: [NodeID?] = []
        for v in voters { leaders.append(v.randomElement(using: &rng)) }
        self.voters = voters
        self.leaders = leaders
        self.rng = rng
        alive = Set(nodes)
        for node in nodes {
            planners[node] = PlacementPlanner(settings: s)
            plannerStartMs[node] = 0
        }
    }

    var systemLeader: NodeID? { leaders[0] }

    func view(of node: NodeID) -> PlacementView {
        let live = alive.union(diedAtMs.filter { nowMs - $0.value < detectMs }.map(\.key))
        var v = PlacementView(
            localNode: node,
            ranges: voters.indices.map { i in
                PlacementView.Range(rangeID: RangeID(UInt64(i + 1)), voters: voters[i], leader: leaders[i],
                                    transferredFrom: leaders[i] == node ? transferredFrom[i] : nil)
            },
            systemLeader: systemLeader, liveNodes: live)
        v.systemRange = RangeID(1)
        return v
    }

    mutating func note(_ s: String) {
        trace.append("t=\(nowMs) \(s)")
        if trace.count > 400 { trace.removeFirst(100) }
    }

    mutating func kill(_ node: NodeID) {
        guard alive.contains(node) else { return }
        note("kill \(node.rawValue)")
        killsMs[node, default: []].append(nowMs)
        alive.remove(node)
        diedAtMs[node] = nowMs
        planners[node] = nil
        for i in leaders.indices where leaders[i] == node {
            leaders[i] = nil
            electionAtMs[i] = nowMs + Int.random(in: 1_000...2_000, using: &rng)
        }
    }

    mutating func restart(_ node: NodeID) {
        guard !alive.contains(node) else { return }
        note("restart \(node.rawValue)")
        alive.insert(node)
        diedAtMs[node] = nil
        planners[node] = PlacementPlanner(settings: settings)
        plannerStartMs[node] = nowMs
    }

    /// 100 ms of model time: elections, transfers landing, every 500 ms a planner step per node.
    mutating func tick(operatorMoves allowOperator: Bool, faults: Bool) {
        nowMs += 100
        for (i, at) in electionAtMs where at <= nowMs {
            let candidates = voters[i].filter { alive.contains($0) }
            if candidates.count * 2 > voters[i].count {
                leaders[i] = candidates.randomElement(using: &rng)
                transferredFrom[i] = nil
                electionAtMs[i] = nil
                lastChangeMs[i] = nowMs
                lastElectionMs[i] = nowMs
                note("range \(i + 1) elected \(leaders[i]?.rawValue ?? 0)")
            } else {
                electionAtMs[i] = nowMs + 1_000
            }
        }
        var still: [PendingTransfer] = []
        for t in pending {
            if t.atMs > nowMs { still.append(t); continue }
            if leaders[t.range] == t.from, alive.contains(t.from), alive.contains(t.to) {
                leaders[t.range] = t.to
                transferredFrom[t.range] = t.from
                lastChangeMs[t.range] = nowMs
                note("range \(t.range + 1) transferred \(t.from.rawValue) → \(t.to.rawValue)")
            }
        }
        pending = still
        for m in landing where m.atMs <= nowMs {
            if alive.contains(m.to) {
                leaders[m.range] = m.to
                transferredFrom[m.range] = m.from
                operatorMoves.append(OperatorMove(range: m.range, from: m.from, to: m.to, atMs: nowMs))
                note("operator: range \(m.range + 1) landed on \(m.to.rawValue)")
            } else {
                electionAtMs[m.range] = nowMs + 1_000  // the transferee died in its candidacy
            }
            lastChangeMs[m.range] = nowMs
        }
        landing.removeAll { $0.atMs <= nowMs }
        if faults, Int.random(in: 0..<60, using: &rng) == 0 {
            let coin = Bool.random(using: &rng)
            if let victim = alive.randomElement(using: &rng), alive.count > nodes.count / 2 + 1 || coin {
                kill(victim)
            }
        }
        if faults, Int.random(in: 0..<30, using: &rng) == 0, let back = Set(nodes).subtracting(alive).randomElement(using: &rng) {
            restart(back)
        }
        if allowOperator, Int.random(in: 0..<80, using: &rng) == 0 {
            let i = Int.random(in: 1..<leaders.count, using: &rng)
            // Documented limit: a planner sees leaders every `intervalMs` (500 ms); a move undone by
            // an operator before the planner looked again looks to it like a transfer that failed.
            let settled = nowMs - lastChangeMs[i, default: -10_000] > 600
            // The new leader's planner must have seen the range before (it steps every 500 ms).
            let targets = voters[i].filter { alive.contains($0) && $0 != leaders[i] && nowMs - plannerStartMs[$0, default: 0] > 1_000 }
            if settled, let from = leaders[i], alive.contains(from), let to = targets.randomElement(using: &rng) {
                note("operator: range \(i + 1) \(from.rawValue) → \(to.rawValue)")
                if Bool.random(using: &rng) {
                    leaders[i] = to
                    transferredFrom[i] = from
                    operatorMoves.append(OperatorMove(range: i, from: from, to: to, atMs: nowMs))
                } else {
                    // A step may see the transferee's candidacy: no leader for 100–300 ms.
                    leaders[i] = nil
                    landing.append(OperatorMove(range: i, from: from, to: to, atMs: nowMs + 100 * Int.random(in: 1...3, using: &rng)))
                }
                lastChangeMs[i] = nowMs
            }
        }
        guard nowMs % 500 == 0 else { return }
        for node in nodes.sorted() where alive.contains(node) {
            let v = view(of: node)
            var planner = planners[node]!
            let actions = planner.step(v, clock: Clock(nowNanos: UInt64(nowMs) * 1_000_000), random: &rng)
            planners[node] = planner
            check(actions, v)
            for a in actions {
                let i = Int(a.rangeID.rawValue) - 1
                note("planner \(node.rawValue): \(a)")
                transfersByPlacement.append((i, nowMs))
                if Int.random(in: 0..<10, using: &rng) > 0 {  // 1 in 10 transfers never happens
                    pending.append(PendingTransfer(range: i, from: a.from, to: a.to, atMs: nowMs + Int.random(in: 0...400, using: &rng)))
                }
            }
        }
    }

    mutating func check(_ actions: [PlacementAction], _ v: PlacementView) {
        if actions.count > settings.maxTransfersPerStep { problems.append("t=\(nowMs): \(actions.count) actions in one step") }
        for a in actions {
            let i = Int(a.rangeID.rawValue) - 1
            if i == 0 { problems.append("t=\(nowMs): moved the system range") }
            if leaders[i] != v.localNode || a.from != v.localNode { problems.append("t=\(nowMs): \(a) from a non-leader") }
            if !voters[i].contains(a.to) { problems.append("t=\(nowMs): \(a) to a non-voter") }
            if settings.policy == .withSystem, a.to != systemLeader { problems.append("t=\(nowMs): \(a) not to the system leader") }
            // An operator's move stands for the hold, unless the range was elected since (a
            // failover). The new leader reports the move handed over, so it stands even when the
            // node it left died before the move was judged, or a step saw the candidacy.
            if let op = operatorMoves.last(where: { $0.range == i }), nowMs - op.atMs < settings.operatorHoldMs,
               leaders[i] == op.to, lastElectionMs[i, default: -1] < op.atMs,
               !transfersByPlacement.contains(where: { $0.range == i && $0.atMs > op.atMs })
            {
                problems.append("t=\(nowMs): \(a) undoes the operator's move at t=\(op.atMs); "
                                + trace.filter { $0.contains("range \(i + 1)") || $0.contains("kill") || $0.contains("restart") || $0.contains("range 1 ") }.suffix(12).joined(separator: "; "))
            }
        }
    }

    /// Whether the live cluster's leaders satisfy the policy.
    func converged() -> Bool {
        guard leaders.allSatisfy({ $0 != nil }) else { return false }
        switch settings.policy {
        case .none: return true
        case .withSystem:  // every range with a replica on the system leader's node is led there
            return leaders.indices.dropFirst().allSatisfy { leaders[$0] == systemLeader || !voters[$0].contains(systemLeader!) }
        case .spread:
            var counts = Dictionary(uniqueKeysWithValues: alive.map { ($0, 0) })
            for l in leaders { counts[l!, default: 0] += 1 }
            // No leader could move: each range's leader leads at most one more than any live voter of it.
            return leaders.indices.dropFirst().allSatisfy { i in
                voters[i].filter { alive.contains($0) }.allSatisfy { counts[leaders[i]!]! - counts[$0]! <= 1 }
            }
        }
    }
}

@Suite struct PlacementModelTests {
    /// Faults and operator moves for 60 s of model time, then 60 s quiet (every node alive,
    /// holds of the fault phase expire): the leaders converge under the policy and stay so,
    /// with no placement transfer in the last 20 s.
    @Test(arguments: [PlacementPolicy.withSystem, .spread])
    func convergesAfterFaultsAndRespectsOperators(policy: PlacementPolicy) {
        var failures: [String] = []
        var operatorMoves = 0, holds = 0, transfers = 0
        for seed in UInt64(1)...UInt64(150) {
            var m = PlacementModel(seed: seed &* 7919 &+ (policy == .spread ? 1 : 0), policy: policy)
            for _ in 0..<600 { m.tick(operatorMoves: true, faults: true) }
            for node in m.nodes { m.restart(node) }
            var convergedAt: Int?
            for _ in 0..<600 {
                m.tick(operatorMoves: false, faults: false)
                if m.converged() { convergedAt = convergedAt ?? m.nowMs } else { convergedAt = nil }
            }
            operatorMoves += m.operatorMoves.count
            holds += m.planners.values.map(\.stats.holds).reduce(0, +)
            transfers += m.transfersByPlacement.count
            let quietStart = m.nowMs - 20_000
            let late = m.transfersByPlacement.filter { $0.atMs > quietStart }.count
            if !m.problems.isEmpty || convergedAt == nil || late > 0 {
                failures.append("seed \(seed) (\(m.nodes.count) nodes, \(m.leaders.count - 1) user ranges): converged at \(convergedAt.map(String.init) ?? "never"), "
                                + "\(late) late transfers, leaders \(m.leaders.map { $0?.rawValue ?? 0 }), \(m.problems.prefix(3))")
            }
        }
        print("PlacementModelTests(\(policy.rawValue)): seeds 1...150 (model seed = seed*7919\(policy == .spread ? "+1" : "")), "
              + "\(failures.count) failed; \(operatorMoves) operator moves, \(holds) pins (planners alive at the end), \(transfers) transfers ordered")
        #expect(operatorMoves > 100 && transfers > 100 && holds > 10)  // the runs exercised what they check
        #expect(failures.isEmpty, "\(failures.prefix(5)) — reproduce with this seed")
    }

    /// With `none` the planners never order anything, whatever happens.
    @Test func noneOrdersNothing() {
        for seed in UInt64(1)...UInt64(20) {
            var m = PlacementModel(seed: seed, policy: .none)
            for _ in 0..<600 { m.tick(operatorMoves: true, faults: true) }
            #expect(m.transfersByPlacement.isEmpty, "seed \(seed)")
        }
    }
}
