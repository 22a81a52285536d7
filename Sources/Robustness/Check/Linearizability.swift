/// The verdict of a linearizability check.
public enum LinearizabilityVerdict: Sendable, Equatable {
    case linearizable
    /// No order explains the history; `stuck` are the operations that could not be placed at
    /// the deepest point the search reached (the likely culprits, with their context).
    case illegal(partition: Int, linearizedCount: Int, stuck: [HistoryOperation])
    /// The search budget ran out before a verdict.
    case inconclusive(partition: Int, steps: Int)

    public var isLinearizable: Bool { self == .linearizable }
}

/// A Wing–Gong / porcupine-style linearizability checker over `KVModel`. The history is
/// split into independent partitions (operations linked by the keys and leases they
/// touch; a `list` links every key under its prefix); each partition is searched depth
/// first over the call/return event list, with memoization of (linearized set, model
/// states) so equivalent prefixes are explored once. The model is nondeterministic
/// (unknown writes), so the search state is the set of possible model states.
public struct LinearizabilityChecker: Sendable {
    /// Steps (model evaluations) allowed per partition before giving up as inconclusive.
    public var stepBudget: Int

    public init(stepBudget: Int = 20_000_000) { self.stepBudget = stepBudget }

    public func check(_ operations: [HistoryOperation]) -> LinearizabilityVerdict {
        let parts = Self.partitions(operations)
        for (i, part) in parts.enumerated() {
            let v = checkPartition(part, index: i)
            if v != .linearizable { return v }
        }
        return .linearizable
    }

    /// Groups operations that may interact through the model (union-find over key and lease
    /// names). Compactions are not part of the KV model and are left out.
    public static func partitions(_ operations: [HistoryOperation]) -> [[HistoryOperation]] {
        var parent: [String: String] = [:]
        func find(_ x: String) -> String {
            var r = x
            while let p = parent[r], p != r { r = p }
            var y = x
            while let p = parent[y], p != r { parent[y] = r; y = p }
            if parent[x] == nil { parent[x] = x }
            return r
        }
        func union(_ a: String, _ b: String) {
            let ra = find(a), rb = find(b)
            if ra != rb { parent[ra] = rb }
        }
        let ops = operations.filter { if case .compact = $0.input { false } else { true } }
        var allKeys = Set<String>()
        for op in ops { if let k = op.input.key { allKeys.insert(k) } }
        var names: [Int: String] = [:]
        for op in ops {
            let name: String
            switch op.input {
            case .get(let k), .delete(let k), .compareAndSet(let k, _, _):
                name = "k:" + k
            case .put(let k, _, let lease):
                name = "k:" + k
                if lease != 0 { union(name, "l:\(lease)") }
            case .list(let prefix):
                name = "list:" + prefix
                _ = find(name)
                for k in allKeys where k.hasPrefix(prefix) { union(name, "k:" + k) }
            case .leaseGrant:
                if case .leaseGrant(_, let id) = op.output { name = "l:\(id)" } else { name = "grant:\(op.id)" }
            case .leaseRevoke(let id):
                name = "l:\(id)"
            case .compact:
                continue
            }
            _ = find(name)
            names[op.id] = name
        }
        var groups: [String: [HistoryOperation]] = [:]
        var order: [String] = []
        for op in ops {
            guard let n = names[op.id] else { continue }
            let root = find(n)
            if groups[root] == nil { order.append(root) }
            groups[root, default: []].append(op)
        }
        return order.map { groups[$0]! }
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

    func checkPartition(_ ops: [HistoryOperation], index: Int) -> LinearizabilityVerdict {
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

        var bits = [UInt64](repeating: 0, count: (ops.count + 63) / 64)
        var linearizedCount = 0
        var states: Set<ModelState> = [ModelState()]
        var memo = Set<MemoKey>()
        var stack: [(entry: Int, states: Set<ModelState>)] = []
        var steps = 0
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
                steps += 1
                if steps > stepBudget { return .inconclusive(partition: index, steps: steps) }
                var next = Set<ModelState>()
                for s in states { for t in KVModel.step(s, ops[e.op]) { next.insert(t) } }
                if !next.isEmpty {
                    bits[e.op >> 6] |= 1 << UInt64(e.op & 63)
                    let key = MemoKey(bits: bits, states: next)
                    if memo.insert(key).inserted {
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
