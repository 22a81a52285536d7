#if canImport(Glibc)
import Glibc
#endif
import Base
import PageStore
import Testing
import TestThreads

@testable import MVCC

/// One command of the replicated log the randomized test drives.
enum LogOp {
    case put(PutRequest, Int64)
    case delete(DeleteRangeRequest, Int64)
    case txn(TxnRequest, storeStart: [UInt8], Int64)
    case compact(Int64, batchKeys: Int)
    case split(at: [UInt8], newID: UInt64)
    case merge(leftStart: [UInt8])
}

/// A node's MVCC stores over one backend, in key order, plus the log it applied.
final class Replica {
    var backend: any MVCCBackend
    var stores: [MVCCStore] = []
    let reopenBackend: (() throws -> any MVCCBackend)?
    var log: [LogOp] = []
    /// Every log entry up to this index (1-based count) is durable in the file.
    var durable = 0

    init(backend: any MVCCBackend, reopen: (() throws -> any MVCCBackend)?) throws {
        self.backend = backend
        self.reopenBackend = reopen
        stores = [try MVCCStore.create(backend: backend, rangeID: RangeID(2), start: [], end: nil)]
    }

    func store(for key: [UInt8]) -> MVCCStore {
        stores.last { Bytes.compare($0.bounds.start, key) <= 0 }!
    }

    func store(startingAt start: [UInt8]) -> MVCCStore { stores.first { $0.bounds.start == start }! }

    /// Applies one log entry, returning the response of the range that answered it.
    @discardableResult
    func apply(_ op: LogOp, record: Bool = true) throws -> Any? {
        if record { log.append(op) }
        var result: Any?
        switch op {
        case .put(let p, let rev):
            result = try store(for: p.key).put(p, revision: rev)
            advanceAll(to: rev)
        case .delete(let d, let rev):
            var total: Int64 = 0
            var failure: (any Error)?
            for s in stores {
                do { total += try s.deleteRange(d, revision: rev).deleted } catch { failure = error }
            }
            if let failure { throw failure }
            result = total
            // A range that deleted nothing did not take the revision (no-op writes consume
            // none); the closed revision brings every range there, as in the cluster.
            advanceAll(to: rev)
        case .txn(let t, let start, let rev):
            result = try store(startingAt: start).txn(t, revision: rev)
            advanceAll(to: rev)
        case .compact(let rev, let batch):
            var failure: (any Error)?
            for s in stores {
                do { try s.compact(rev, batchKeys: batch) } catch { failure = error }
            }
            if let failure { throw failure }
        case .split(let at, let newID):
            try groupCommit(upTo: log.count - 1)
            let left = store(for: at)
            let right = try left.split(
                at: at, rightRangeID: RangeID(newID), leftDescriptor: [], rightDescriptor: [],
                appliedIndex: UInt64(log.count), rightAppliedIndex: UInt64(log.count))
            stores.insert(right, at: stores.firstIndex { $0 === left }! + 1)
            durable = log.count
        case .merge(let leftStart):
            try groupCommit(upTo: log.count - 1)
            let i = stores.firstIndex { $0.bounds.start == leftStart }!
            try stores[i].merge(stores[i + 1], descriptor: [], appliedIndex: UInt64(log.count))
            stores.remove(at: i + 1)
            durable = log.count
        }
        return result
    }

    func advanceAll(to rev: Int64) { for s in stores { s.advanceRevision(to: rev) } }

    func groupCommit(upTo index: Int? = nil) throws {
        let upTo = index ?? log.count
        try MVCCStore.commit(stores.map { ($0, UInt64(upTo)) })
        durable = upTo
    }

    /// Simulates a crash: forgets every store (uncommitted state is lost), reopens the file,
    /// rebuilds every range and replays the log after the durable point.
    func crashAndRecover() throws {
        stores = []
        if let reopenBackend { backend = try reopenBackend() }
        stores = try MVCCStore.rangeIDs(backend: backend)
            .map { try MVCCStore.open(backend: backend, rangeID: $0) }
            .sorted { Bytes.less($0.bounds.start, $1.bounds.start) }
        // Compactions are always complete when committed here, so a rebuilt index finds
        // nothing left to compact: incremental compaction missed no key.
        for s in stores where s.hasPendingWrites {
            Issue.record("range \(s.rangeID) found uncompacted records after reopening")
        }
        // Ranges not involved in a split or merge stay at the index just before it.
        for s in stores where s.appliedIndex + 1 < UInt64(durable) {
            Issue.record("range \(s.rangeID) reopened at applied index \(s.appliedIndex), durable point \(durable)")
        }
        for op in log[durable...] {
            _ = try? apply(op, record: false)
        }
        // Revisions reached by rejected replays are restored by the closed revision.
        if let maxRev = stores.map(\.currentRevision).max() { advanceAll(to: maxRev) }
    }
}

@Suite struct ModelBasedTests {
    static let universe: [[UInt8]] =
        (0..<24).map { Array("k\($0 < 10 ? "0" : "")\($0)".utf8) } + [[0x6b], [0x6b, 0x00], [0x6b, 0x00, 0x01], [0x7a, 0xFF]]

    struct Run {
        var rng: SeededGenerator
        let seed: UInt64
        var model = ReferenceModel()
        var revision: Int64 = 1
        var nextRangeID: UInt64 = 3

        mutating func key() -> [UInt8] { ModelBasedTests.universe.randomElement(using: &rng)! }

        mutating func value() -> [UInt8] { Array("v\(Int.random(in: 0..<1000, using: &rng))".utf8) }

        mutating func nextRevision() -> Int64 {
            revision += Int64.random(in: 1...3, using: &rng)  // gaps, as from the oracle
            return revision
        }

        mutating func rangeEnd(after k: [UInt8]) -> [UInt8] {
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: return []
            case 1: return [0]
            default: return key()
            }
        }

        mutating func putRequest(_ k: [UInt8]) -> PutRequest {
            let ignoreValue = Int.random(in: 0..<8, using: &rng) == 0
            let ignoreLease = Int.random(in: 0..<8, using: &rng) == 0
            return PutRequest(
                key: k, value: ignoreValue ? [] : value(),
                lease: ignoreLease ? 0 : Int64.random(in: 0...3, using: &rng),
                prevKV: Bool.random(using: &rng), ignoreValue: ignoreValue, ignoreLease: ignoreLease)
        }

        mutating func rangeRequest(_ k: [UInt8]) -> RangeRequest {
            var r = RangeRequest(key: k, rangeEnd: rangeEnd(after: k))
            if Bool.random(using: &rng) { r.limit = Int64.random(in: 1...5, using: &rng) }
            if Int.random(in: 0..<3, using: &rng) == 0 {
                r.revision = Int64.random(in: max(0, model.compacted - 3)...(model.current + 2), using: &rng)
            }
            r.sortOrder = [.none, .ascend, .descend].randomElement(using: &rng)!
            r.sortTarget = [.key, .version, .create, .mod, .value].randomElement(using: &rng)!
            r.keysOnly = Int.random(in: 0..<4, using: &rng) == 0
            r.countOnly = Int.random(in: 0..<6, using: &rng) == 0
            if Int.random(in: 0..<5, using: &rng) == 0 { r.minModRevision = Int64.random(in: 0...model.current + 1, using: &rng) }
            if Int.random(in: 0..<5, using: &rng) == 0 { r.maxCreateRevision = Int64.random(in: 0...model.current + 1, using: &rng) }
            return r
        }

        mutating func compare(_ keys: [[UInt8]]) -> Compare {
            let k = keys.randomElement(using: &rng)!
            let n = Int64.random(in: 0...model.current, using: &rng)
            let target: Compare.Target = [.version(n % 4), .create(n), .mod(n), .value(value()), .lease(n % 4)]
                .randomElement(using: &rng)!
            return Compare(
                key: k, rangeEnd: Int.random(in: 0..<4, using: &rng) == 0 ? [0] : [], target: target,
                result: [.equal, .greater, .less, .notEqual].randomElement(using: &rng)!)
        }

        mutating func ops(_ keys: [[UInt8]], depth: Int) -> [RequestOp] {
            (0..<Int.random(in: 0...3, using: &rng)).map { _ in
                switch Int.random(in: 0..<(depth == 0 ? 4 : 3), using: &rng) {
                case 0: .range(rangeRequest(keys.randomElement(using: &rng)!))
                case 1: .put(putRequest(keys.randomElement(using: &rng)!))
                case 2: .deleteRange(DeleteRangeRequest(key: keys.randomElement(using: &rng)!, prevKV: Bool.random(using: &rng)))
                default: .txn(txnRequest(keys, depth: depth + 1))
                }
            }
        }

        mutating func txnRequest(_ keys: [[UInt8]], depth: Int = 0) -> TxnRequest {
            TxnRequest(
                compare: (0..<Int.random(in: 0...2, using: &rng)).map { _ in compare(keys) },
                success: ops(keys, depth: depth), failure: ops(keys, depth: depth))
        }
    }

    static func bounds(_ s: MVCCStore) -> ([UInt8], [UInt8]?) { s.bounds }

    /// Runs `steps` random operations on `replica` and the model, comparing every answer,
    /// a read of one range at a random revision after every step, and periodically the
    /// watch history, lease attachments and the hash against a second replica.
    static func run(seed: UInt64, steps: Int, replica: Replica, twin: Replica) throws {
        var run = Run(rng: SeededGenerator(seed: seed), seed: seed)
        func fail(_ step: Int, _ what: String) -> Comment { "seed \(seed) step \(step): \(what)" }
        for step in 0..<steps {
            let dice = Int.random(in: 0..<100, using: &run.rng)
            switch dice {
            case 0..<35:
                let p = run.putRequest(run.key())
                let rev = run.nextRevision()
                let want = Result { () throws(MVCCError) in try run.model.put(p, main: rev) }
                let got = Result { try replica.apply(.put(p, rev)) as! PutResponse }
                _ = try? twin.apply(.put(p, rev))
                switch (want, got) {
                case (.success(let w), .success(let g)): #expect(w == g, fail(step, "put \(p)"))
                case (.failure(let w), .failure(let g)): #expect(w == g as? MVCCError, fail(step, "put error"))
                default: Issue.record(fail(step, "put \(p): model \(want) store \(got)"))
                }
            case 35..<45:
                let k = run.key()
                let d = DeleteRangeRequest(key: k, rangeEnd: run.rangeEnd(after: k))
                let rev = run.nextRevision()
                // Each range deletes its part with its own sub revisions, as in the cluster.
                var want = DeleteRangeResponse(revision: rev, deleted: 0, prevKVs: [])
                let previous = run.model.current
                for st in replica.stores {
                    var sub: Int64 = 0
                    want.deleted += run.model.deleteOp(d, main: rev, previous: previous, sub: &sub, bounds: st.bounds).deleted
                }
                run.model.current = rev
                let got = try replica.apply(.delete(d, rev)) as! Int64
                _ = try twin.apply(.delete(d, rev))
                #expect(want.deleted == got, fail(step, "delete \(d)"))
            case 45..<62:
                let s = replica.stores.randomElement(using: &run.rng)!
                let inStore = universe.filter { Bytes.within($0, start: s.bounds.start, end: s.bounds.end) }
                guard !inStore.isEmpty else { continue }
                let t = run.txnRequest(inStore)
                let rev = run.nextRevision()
                let b = bounds(s)
                var model = run.model
                let want = Result { () throws(MVCCError) in try model.txn(t, main: rev, bounds: b) }
                let got = Result { try replica.apply(.txn(t, storeStart: s.bounds.start, rev)) as! TxnResponse }
                _ = try? twin.apply(.txn(t, storeStart: s.bounds.start, rev))
                switch (want, got) {
                case (.success(let w), .success(let g)):
                    #expect(w == g, fail(step, "txn \(t)"))
                    run.model = model
                    // Other ranges learn the revision through their closed revision.
                    run.model.current = rev
                case (.failure(let w), .failure(let g)): #expect(w == g as? MVCCError, fail(step, "txn error"))
                default: Issue.record(fail(step, "txn \(t): model \(want) store \(got)"))
                }
            case 62..<66:
                guard run.model.current > run.model.compacted else { continue }
                let rev = Int64.random(in: (run.model.compacted + 1)...run.model.current, using: &run.rng)
                let batch = Int.random(in: 1...8, using: &run.rng)
                try replica.apply(.compact(rev, batchKeys: batch))
                try twin.apply(.compact(rev, batchKeys: 1000))
                run.model.compacted = rev
            case 66..<69 where replica.stores.count < 5:
                let k = run.key()
                let s = replica.store(for: k)
                guard Bytes.compare(k, s.bounds.start) > 0 else { continue }
                let id = run.nextRangeID
                run.nextRangeID += 1
                try replica.apply(.split(at: k, newID: id))
                try twin.apply(.split(at: k, newID: id))
            case 69..<71 where replica.stores.count > 1:
                let i = Int.random(in: 0..<(replica.stores.count - 1), using: &run.rng)
                let start = replica.stores[i].bounds.start
                try replica.apply(.merge(leftStart: start))
                try twin.apply(.merge(leftStart: start))
            case 71..<80:
                try replica.groupCommit()
            case 80..<82:
                try replica.crashAndRecover()
            case 82..<84:
                if Bool.random(using: &run.rng) { try twin.groupCommit() }
                for (a, b) in zip(replica.stores, twin.stores) {
                    let rev = Int64.random(in: run.model.compacted...run.model.current, using: &run.rng)
                    #expect(try a.hashKV(atRevision: rev) == b.hashKV(atRevision: rev), fail(step, "hashKV at \(rev)"))
                }
            case 84..<88:
                for s in replica.stores {
                    let from = Int64.random(in: max(1, run.model.compacted)...(run.model.current + 1), using: &run.rng)
                    guard case .events(let got, _) = try s.events(key: [0], rangeEnd: [0], fromRevision: from, limit: 100_000)
                    else {
                        Issue.record(fail(step, "events compacted"))
                        continue
                    }
                    let want = run.model.events(from: from, bounds: s.bounds)
                    let gotTuples = got.map { ($0.kind, $0.kv.key, $0.kv.modRevision, $0.kv.value) }
                    #expect(gotTuples.elementsEqual(want, by: { $0 == $1 }), fail(step, "events from \(from) in \(s.bounds)"))
                    let lease = Int64.random(in: 1...3, using: &run.rng)
                    #expect(try s.keys(attachedTo: lease) == run.model.keys(attachedTo: lease, bounds: s.bounds), fail(step, "lease \(lease)"))
                }
            default:
                break
            }
            // After every step: one random read of one range, compared with the model.
            let s = replica.stores.randomElement(using: &run.rng)!
            let r = run.rangeRequest(run.key())
            let want = Result { () throws(MVCCError) in try run.model.range(r, readRev: run.model.current, bounds: s.bounds) }
            let got = Result { try s.range(r) }
            switch (want, got) {
            case (.success(let w), .success(let g)):
                #expect(w == g, fail(step, "range \(r) on \(s.bounds): model \(w.kvs.map { ($0.key, $0.version, $0.modRevision, $0.createRevision) }) \(w.count) \(w.more) store \(g.kvs.map { ($0.key, $0.version, $0.modRevision, $0.createRevision) }) \(g.count) \(g.more)"))
            case (.failure(let w), .failure(let g)): #expect(w == g as? MVCCError, fail(step, "range error"))
            default: Issue.record(fail(step, "range \(r): model \(want) store \(got)"))
            }
            for s in replica.stores where s.currentRevision != run.model.current {
                Issue.record(fail(step, "range \(s.rangeID) at revision \(s.currentRevision), model \(run.model.current)"))
            }
        }
    }

    @Test(arguments: [UInt64(1), 2, 3, 4])
    func inMemoryBackend(seed: UInt64) async throws {
        // Long synchronous work: on a thread of its own, not a cooperative pool thread.
        try await onOwnThread {
            let backend = InMemoryBackend()
            try Self.run(
                seed: seed, steps: 2500, replica: Replica(backend: backend, reopen: nil),
                twin: Replica(backend: InMemoryBackend(), reopen: nil))
        }
    }

    @Test(arguments: [UInt64(11), 12])
    func pageStoreBackend(seed: UInt64) async throws {
        // Long synchronous work: on a thread of its own, not a cooperative pool thread.
        try await onOwnThread {
            let path = "/tmp/flotilla-mvcc-model-\(getpid())-\(seed).db"
            unlink(path)
            defer { unlink(path) }
            var options = PageFileOptions()
            options.durable = false  // crash = closing the handle; fsync adds nothing here
            let file = Mutex2(try PageStoreBackend.open(path: path, options: options))
            let replica = try Replica(
                backend: file.value,
                reopen: {
                    file.value.file.close()
                    file.value = try PageStoreBackend.open(path: path, options: options)
                    return file.value
                })
            try Self.run(seed: seed, steps: 1500, replica: replica, twin: Replica(backend: InMemoryBackend(), reopen: nil))
            file.value.file.close()
        }
    }
}

/// A mutable box for the test's current backend handle.
final class Mutex2<T> {
    var value: T
    init(_ value: T) { self.value = value }
}
