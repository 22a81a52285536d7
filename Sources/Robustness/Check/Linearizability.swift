/// The verdict of a linearizability check.
public enum LinearizabilityVerdict: Sendable, Equatable {
    case linearizable
    /// No order explains the history; `stuck` are the operations that could not be placed at
    /// the deepest point the search reached (the likely culprits, with their context).
    case illegal(partition: Int, linearizedCount: Int, stuck: [HistoryOperation])
    /// The checker gave up: the `CheckBudget` (steps, time or memory) ran out before a verdict.
    /// A run reports this as a failure and keeps the history.
    case inconclusive(partition: Int, steps: Int, reason: String)

    public var isLinearizable: Bool { self == .linearizable }
}

/// A Wing–Gong / porcupine-style linearizability checker over `KVModel`. The history is
/// split into independent partitions, one per key (see `partitions`); each partition is
/// searched depth first over the call/return event list, with memoization of (linearized
/// set, model states) so equivalent prefixes are explored once. The model is
/// nondeterministic (unknown writes), so the search state is the set of possible model
/// states. The whole check runs under a `CheckBudget`.
public struct LinearizabilityChecker: Sendable {
    public var budget: CheckBudget
    /// Model Flotilla's per-range lease revoke (see `KVModel.step`); false: etcd's atomic one.
    public var revokePerRange: Bool

    public init(budget: CheckBudget = CheckBudget(), revokePerRange: Bool = false) {
        self.budget = budget
        self.revokePerRange = revokePerRange
    }

    /// A checker with the default time and memory limits and `stepBudget` steps.
    public init(stepBudget: Int) { self.init(budget: CheckBudget(steps: stepBudget)) }

    public func check(_ operations: [HistoryOperation]) -> LinearizabilityVerdict {
        var meter = BudgetMeter(budget)
        let parts = Self.partitions(operations)
        for (i, part) in parts.enumerated() {
            let v = checkPartition(part, index: i, meter: &meter)
            if v != .linearizable { return v }
        }
        return .linearizable
    }

    /// Splits a history into partitions the model can check independently: one per key.
    /// A `list` becomes, in each key's partition, a read of that key at the list's header
    /// revision (its call and return times, its id): revisions totally order the writes, so a
    /// list is a consistent snapshot exactly when every key's part of it is that key's state at
    /// the header revision, and the model checks each key against the revision order. A lease
    /// grant or revoke goes into the partition of every key some put attached to that lease
    /// (a revoke deletes them all at one revision, which each key's model checks), or into a
    /// partition of its own when no put used the lease. Compactions are not part of the model.
    /// Partitions keep the history's order of operations and come in order of first appearance.
    public static func partitions(_ operations: [HistoryOperation]) -> [[HistoryOperation]] {
        let ops = operations.filter { if case .compact = $0.input { false } else { true } }
        var allKeys = Set<String>()
        var leaseKeys: [Int64: Set<String>] = [:]
        for op in ops {
            if let k = op.input.key { allKeys.insert(k) }
            if case .put(let k, _, let lease) = op.input, lease != 0 { leaseKeys[lease, default: []].insert(k) }
            if case .list = op.input, case .range(_, let kvs) = op.output { for kv in kvs { allKeys.insert(kv.key) } }
        }
        let sortedKeys = allKeys.sorted()
        var groups: [String: [HistoryOperation]] = [:]
        var order: [String] = []
        func add(_ name: String, _ op: HistoryOperation) {
            if groups[name] == nil { order.append(name) }
            groups[name, default: []].append(op)
        }
        func leaseTargets(_ id: Int64) -> [String] {
            guard let keys = leaseKeys[id] else { return ["l:\(id)"] }
            return keys.sorted().map { "k:" + $0 }
        }
        for op in ops {
            switch op.input {
            case .get(let k), .delete(let k), .compareAndSet(let k, _, _), .put(let k, _, _):
                add("k:" + k, op)
            case .list(let prefix):
                for k in sortedKeys where k.hasPrefix(prefix) {
                    var read = op
                    read.input = .get(key: k)
                    if case .range(let r, let kvs) = op.output { read.output = .range(revision: r, kvs: kvs.filter { $0.key == k }) }
                    add("k:" + k, read)
                }
            case .leaseGrant:
                if case .leaseGrant(_, let id) = op.output {
                    for name in leaseTargets(id) { add(name, op) }
                } else {
                    add("grant:\(op.id)", op)
                }
            case .leaseRevoke(let id):
                for name in leaseTargets(id) { add(name, op) }
            case .compact:
                continue
            }
        }
        return order.map { groups[$0]! }
    }

    /// Lease forgetting (changes no verdict, only the work): for each unknown revoke of a lease
    /// L, L when the model may forget L once the revoke is linearized, else nil. An unknown
    /// revoke doubles the model states (L live / L revoked) although, once no operation that
    /// may still be linearized reads L, the two are indistinguishable: only a put with lease
    /// L, a revoke of L and a grant answering L look at whether L is live (reads compare the
    /// key's own lease field, which forgetting leaves alone; a key deleted by the revoke stays
    /// a separate state). So if every other operation of the partition that reads L returned
    /// strictly before the revoke was called — real time puts those before the revoke in any
    /// linearization — the states after the revoke are taken with L removed, and equal states
    /// merge. A later reader of L (even a concurrent one) keeps L, as before.
    static func forgottenLeases(_ ops: [HistoryOperation]) -> [Int64?] {
        func reads(_ op: HistoryOperation, _ id: Int64) -> Bool {
            switch (op.input, op.output) {
            case (.put(_, _, let lease), _): lease == id
            case (.leaseRevoke(let lease), _): lease == id
            case (_, .leaseGrant(_, let lease)): lease == id
            default: false
            }
        }
        var forgets = [Int64?](repeating: nil, count: ops.count)
        for (i, op) in ops.enumerated() {
            guard case .leaseRevoke(let id) = op.input, op.output.isUnknown else { continue }
            let laterReader = ops.indices.contains { j in j != i && reads(ops[j], id) && ops[j].returnTime >= op.callTime }
            if !laterReader { forgets[i] = id }
        }
        return forgets
    }

    /// One node of the doubly linked call/return event list.
    struct Entry {
        var op: Int  // index into the partition's operations
        var isCall: Bool
        var match: Int  // index of the other entry of the same operation
        var prev: Int
        var next: Int
    }

    struct MemoKey: Hashable {
        var bits: [UInt64]
        var states: Set<ModelState>
    }

    func checkPartition(_ ops: [HistoryOperation], index: Int, meter: inout BudgetMeter) -> LinearizabilityVerdict {
        meter.memoBytes = 0  // the previous partition's memo is gone
        // Event list: calls before returns at equal times (concurrent is the permissive reading).
        var events: [(time: Int64, isCall: Bool, op: Int)] = []
        for (i, op) in ops.enumerated() {
            events.append((op.callTime, true, i))
            events.append((op.returnTime, false, i))
        }
        events.sort { a, b in
            if a.time != b.time { return a.time < b.time }
            if a.isCall != b.isCall { return a.isCall }
            return a.op < b.op
        }
        let n = events.count
        var entries = [Entry](repeating: Entry(op: 0, isCall: true, match: 0, prev: -1, next: -1), count: n + 1)
        // entries[n] is the head sentinel.
        var callIndex = [Int](repeating: -1, count: ops.count)
        var returnIndex = [Int](repeating: -1, count: ops.count)
        for (i, e) in events.enumerated() {
            entries[i] = Entry(op: e.op, isCall: e.isCall, match: -1, prev: i == 0 ? n : i - 1, next: i + 1 < n ? i + 1 : -1)
            if e.isCall { callIndex[e.op] = i } else { returnIndex[e.op] = i }
        }
        for i in 0..<ops.count {
            entries[callIndex[i]].match = returnIndex[i]
            entries[returnIndex[i]].match = callIndex[i]
        }
        entries[n] = Entry(op: -1, isCall: false, match: -1, prev: -1, next: n > 0 ? 0 : -1)

        func lift(_ i: Int) {
            let e = entries[i]
            entries[e.prev].next = e.next
            if e.next >= 0 { entries[e.next].prev = e.prev }
            let m = entries[e.match]
            entries[m.prev].next = m.next
            if m.next >= 0 { entries[m.next].prev = m.prev }
        }
        func unlift(_ i: Int) {
            let m = entries[entries[i].match]
            entries[m.prev].next = entries[i].match
            if m.next >= 0 { entries[m.next].prev = entries[i].match }
            let e = entries[i]
            entries[e.prev].next = i
            if e.next >= 0 { entries[e.next].prev = i }
        }

        // Revision-order pruning (changes no verdict, only the work): revisions are a total
        // order, so writes with a known revision linearize in revision order, and an operation
        // that saw header revision H comes after every known write at or below H. The model
        // would reject any other order a few steps later; refusing it here keeps unknown-length
        // operations from multiplying the search.
        let knownWrites = ops.indices.filter { RevisionOrderChecker.createsRevision(ops[$0]) }
            .sorted { ops[$0].output.headerRevision! < ops[$1].output.headerRevision! }
        let writeRevisions = knownWrites.map { ops[$0].output.headerRevision! }
        var writeRank = [Int](repeating: -1, count: ops.count)
        for (rank, i) in knownWrites.enumerated() { writeRank[i] = rank }
        // For other operations with a header revision H: how many known writes are <= H.
        var writesNeeded = [Int](repeating: 0, count: ops.count)
        for i in ops.indices where writeRank[i] < 0 {
            guard !ops[i].output.isUnknown, let h = ops[i].output.headerRevision else { continue }
            // A per-range revoke's header is above its deletions, not at them: no bound from it.
            if revokePerRange, case .leaseRevoke = ops[i].input { continue }
            var lo = 0, hi = writeRevisions.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if writeRevisions[mid] <= h { lo = mid + 1 } else { hi = mid }
            }
            writesNeeded[i] = lo
        }
        var writesLinearized = 0
        func eligible(_ op: Int) -> Bool {
            let rank = writeRank[op]
            return rank >= 0 ? rank == writesLinearized : writesNeeded[op] <= writesLinearized
        }

        let forgets = Self.forgottenLeases(ops)

        var bits = [UInt64](repeating: 0, count: (ops.count + 63) / 64)
        var linearizedCount = 0
        var states: Set<ModelState> = [ModelState()]
        var memo = Set<MemoKey>()
        var stack: [(entry: Int, states: Set<ModelState>)] = []
        var deepest = 0
        var stuckAtDeepest: [Int] = []

        var entry = entries[n].next
        while entries[n].next >= 0 {
            if entry < 0 { entry = entries[n].next }
            let e = entries[entry]
            if e.isCall {
                guard eligible(e.op) else {
                    entry = e.next
                    continue
                }
                if let reason = meter.step(work: states.count) { return .inconclusive(partition: index, steps: meter.steps, reason: reason) }
                var next = Set<ModelState>()
                for s in states {
                    for var t in KVModel.step(s, ops[e.op], revokePerRange: revokePerRange) {
                        if let lease = forgets[e.op] { t.leases.remove(lease) }
                        next.insert(t)
                    }
                }
                if !next.isEmpty {
                    bits[e.op >> 6] |= 1 << UInt64(e.op & 63)
                    let key = MemoKey(bits: bits, states: next)
                    if memo.insert(key).inserted {
                        meter.memoBytes += BudgetMeter.cost(bits: bits.count, states: next)
                        stack.append((entry, states))
                        states = next
                        linearizedCount += 1
                        lift(entry)
                        if writeRank[e.op] >= 0 { writesLinearized += 1 }
                        entry = entries[n].next
                        continue
                    }
                    bits[e.op >> 6] &= ~(1 << UInt64(e.op & 63))
                }
                entry = e.next
            } else {
                // A return reached: something before it must be undone.
                if linearizedCount >= deepest {
                    deepest = linearizedCount
                    var pending: [Int] = []
                    var i = entries[n].next
                    while i >= 0 {
                        if entries[i].isCall { pending.append(entries[i].op) } else if entries[i].op == e.op { pending.append(e.op); break }
                        i = entries[i].next
                    }
                    stuckAtDeepest = pending
                }
                guard let top = stack.popLast() else {
                    return .illegal(partition: index, linearizedCount: deepest, stuck: stuckAtDeepest.map { ops[$0] })
                }
                states = top.states
                linearizedCount -= 1
                let op = entries[top.entry].op
                bits[op >> 6] &= ~(1 << UInt64(op & 63))
                unlift(top.entry)
                if writeRank[op] >= 0 { writesLinearized -= 1 }
                entry = entries[top.entry].next
            }
        }
        return .linearizable
    }
}
