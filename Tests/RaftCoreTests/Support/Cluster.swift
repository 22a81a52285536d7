import Base
@testable import RaftCore

/// A deterministic in-memory group of replicas for tests: each has a `MemoryStorage` and
/// a `RawNode`; `processReady` handles a replica's Ready exactly as `Ready` documents
/// (persist, queue messages, apply, advance); messages wait in a queue until delivered.
final class Cluster {
    var nodes: [ReplicaID: RawNode<TestStorage>] = [:]
    var storages: [ReplicaID: MemoryStorage] = [:]
    var testStorages: [ReplicaID: TestStorage] = [:]
    /// Messages sent but not delivered, in send order.
    var queue: [Message] = []
    /// Committed application data applied by each replica, in order.
    var applied: [ReplicaID: [[UInt8]]] = [:]
    /// Replicas whose traffic (both directions) is dropped.
    var isolated: Set<ReplicaID> = []
    /// Optional printer of everything that happens (the data-driven tests).
    var log: ((String) -> Void)?

    var ids: [ReplicaID] { nodes.keys.sorted() }

    init() {}

    /// A fresh group: `ids` replicas whose initial membership is `voters`/`learners`
    /// (all of `ids` as voters by default), with `configure` adjusting each config.
    convenience init(_ ids: [ReplicaID], voters: [ReplicaID]? = nil, learners: [ReplicaID] = [],
                     configure: (inout RaftConfig) -> Void = { _ in }) {
        self.init()
        for id in ids {
            try! add(id, confState: ConfState(voters: voters ?? ids, learners: learners), configure: configure)
        }
    }

    /// Adds a replica. With `snapshotIndex > 0` its storage starts from a snapshot at that
    /// index (term 1) carrying `confState`, as if the group had been bootstrapped.
    func add(_ id: ReplicaID, confState: ConfState, snapshotIndex: UInt64 = 0, entries: [Entry] = [],
             hardState: HardState? = nil, configure: (inout RaftConfig) -> Void = { _ in }) throws(RaftError) {
        let storage = MemoryStorage(confState: confState)
        if snapshotIndex > 0 {
            try! storage.applySnapshot(Snapshot(metadata: SnapshotMetadata(confState: confState, index: snapshotIndex, term: 1)))
        }
        storage.append(entries)
        if let hardState { storage.setHardState(hardState) }
        var config = RaftConfig(id: id, electionTicks: 10, heartbeatTicks: 1, checkQuorum: false, preVote: false,
                                randomSeed: id)
        configure(&config)
        let test = TestStorage(storage)
        test.appliedIndex = snapshotIndex
        test.appliedConfState = confState
        nodes[id] = try RawNode(config: config, storage: test)
        storages[id] = storage
        testStorages[id] = test
        applied[id] = []
    }

    func node(_ id: ReplicaID) -> RawNode<TestStorage> { nodes[id]! }

    func with<R>(_ id: ReplicaID, _ body: (inout RawNode<TestStorage>) throws -> R) rethrows -> R {
        try body(&nodes[id]!)
    }

    func raft(_ id: ReplicaID) -> Raft { nodes[id]!.raft }

    /// Handles one Ready of `id` if it has one; returns it.
    @discardableResult
    func processReady(_ id: ReplicaID) -> Ready? {
        guard nodes[id]!.hasReady() else { return nil }
        let rd = nodes[id]!.ready()
        log?(describe(ready: rd, of: id))
        let storage = storages[id]!
        if let hs = rd.hardState { storage.setHardState(hs) }
        if let s = rd.snapshot {
            try! storage.applySnapshot(s)
            // The snapshot carries the applied data (see TestStorage).
            applied[id] = s.data.isEmpty ? [] : s.data.split(separator: 0, omittingEmptySubsequences: false).map(Array.init)
            testStorages[id]!.appliedConfState = s.metadata.confState
        }
        storage.append(rd.entries)
        for m in rd.messages { queue.append(m) }
        for e in rd.committedEntries {
            switch e.type {
            case .normal:
                if !e.data.isEmpty { applied[id]!.append(e.data) }
            case .confChange:
                let cc = try! ConfChange(decoding: e.data)
                let cs = nodes[id]!.applyConfChange(cc)
                storage.setConfState(cs)
                testStorages[id]!.appliedConfState = cs
                log?("  applied conf change at \(e.index): \(describe(cs))")
            }
        }
        if let last = rd.committedEntries.last?.index ?? rd.snapshot?.metadata.index {
            let t = testStorages[id]!
            t.appliedIndex = last
            t.appliedData = Array(applied[id]!.joined(separator: [0]))
        }
        nodes[id]!.advance(rd)
        return rd
    }

    /// Delivers queued messages addressed to `to` (all when nil); messages to or from an
    /// isolated replica, or to a replica in `drop`, are discarded. Returns how many moved.
    @discardableResult
    func deliver(to: Set<ReplicaID>? = nil, drop: Set<ReplicaID> = [], verbose: Bool = true) -> Int {
        var remaining: [Message] = []
        var toDeliver: [Message] = []
        for m in queue {
            if let to, !to.contains(m.to) { remaining.append(m); continue }
            toDeliver.append(m)
        }
        queue = remaining
        var count = 0
        for m in toDeliver {
            if isolated.contains(m.to) || isolated.contains(m.from) || drop.contains(m.to) || nodes[m.to] == nil {
                log?("  dropped: \(describe(m))")
                continue
            }
            if verbose { log?("  \(describe(m))") }
            do { try nodes[m.to]!.step(m) } catch { log?("  error stepping \(describe(m)): \(error)") }
            count += 1
        }
        return count
    }

    /// Processes Readys and delivers messages until nothing happens.
    func stabilize(_ only: Set<ReplicaID>? = nil) {
        var rounds = 0
        while true {
            var progressed = false
            for id in ids where only?.contains(id) ?? true {
                if processReady(id) != nil { progressed = true }
            }
            if !queue.isEmpty {
                let before = queue.count
                let moved = deliver(to: only, verbose: false)
                if moved > 0 || queue.count != before { progressed = true }
            }
            if !progressed { return }
            rounds += 1
            precondition(rounds < 10_000, "cluster does not stabilize")
        }
    }

    func tick(_ id: ReplicaID, _ n: Int = 1) {
        for _ in 0..<n { nodes[id]!.tick() }
    }

    /// Campaigns `id` and stabilizes.
    func elect(_ id: ReplicaID) {
        try! nodes[id]!.campaign()
        stabilize()
    }

    func propose(_ id: ReplicaID, _ text: String) throws(RaftError) {
        try nodes[id]!.propose(Array(text.utf8))
    }

    func appliedStrings(_ id: ReplicaID) -> [String] {
        applied[id]!.map { String(decoding: $0, as: UTF8.self) }
    }

    var leader: ReplicaID? {
        ids.first { nodes[$0]!.raft.state == .leader }
    }
}
