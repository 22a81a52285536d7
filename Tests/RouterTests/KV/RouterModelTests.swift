import API
import Base
import MVCC
import Node
import Router
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Randomized model-based tests: the same requests go to a Router over a multi-range
/// `FakeCluster` (with splits, leader moves and injected faults) and to one `MVCCStore`
/// holding all keys; answers must agree modulo revision numbering (keys, values, versions,
/// leases, counts, `more`, create/mod revisions through `RevisionMap`).
@Suite struct RouterModelTests {
    struct Run {
        var rng: SeededGenerator
        let router: Router
        let cluster: FakeCluster
        let model: ModelStore
        var map = RevisionMap()
        /// Router revisions of single-revision writes (puts, write txns), ascending.
        var points: [Int64] = []
        var compactedRouter: Int64 = 0
        var log: [String] = []

        mutating func int(_ n: Int) -> Int { Int.random(in: 0..<n, using: &rng) }
        mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &rng) < p }
        mutating func randomKey() -> [UInt8] { key(int(40)) }

        mutating func point() -> Int64? {
            let usable = points.filter { $0 >= compactedRouter }
            return usable.isEmpty ? nil : usable[int(usable.count)]
        }

        mutating func randomSpan() -> ([UInt8], [UInt8]) {
            let a = int(40)
            switch int(5) {
            case 0: return (key(a), [])
            case 1: return (key(a), [0])
            case 2: return (bytes("k\(a / 10)"), bytes("k\(a / 10 + 1)"))
            case 3: return ([0], [0])
            default: return (key(a), key(int(41)))
            }
        }

        mutating func randomRange() -> RangeRequest {
            let (k, e) = randomSpan()
            var r = RangeRequest(key: k, rangeEnd: e)
            if chance(0.5) { r.limit = Int64(1 + int(5)) }
            r.sortOrder = [.none, .ascend, .descend][int(3)]
            r.sortTarget = [.key, .version, .create, .mod, .value][int(5)]
            r.keysOnly = chance(0.2)
            r.countOnly = chance(0.1)
            if chance(0.2), let p = point() { r.minModRevision = p }
            if chance(0.2), let p = point() { r.maxModRevision = p }
            if chance(0.15), let p = point() { r.minCreateRevision = p }
            if chance(0.15), let p = point() { r.maxCreateRevision = p }
            return r
        }

        func toModel(_ r: RangeRequest) -> RangeRequest {
            var m = r
            m.revision = map.model(r.revision) ?? -99
            m.minModRevision = map.model(r.minModRevision) ?? -99
            m.maxModRevision = map.model(r.maxModRevision) ?? -99
            m.minCreateRevision = map.model(r.minCreateRevision) ?? -99
            m.maxCreateRevision = map.model(r.maxCreateRevision) ?? -99
            m.serializable = false
            return m
        }

        mutating func randomTxn(depth: Int = 0) -> TxnRequest {
            let base = int(4) * 10
            func k(_ me: inout Run) -> [UInt8] { me.chance(0.85) ? key(base + me.int(10)) : me.randomKey() }
            var t = TxnRequest()
            for _ in 0..<int(3) {
                let target: Compare.Target
                switch int(4) {
                case 0: target = .version(Int64(int(3)))
                case 1: target = .value(bytes("v\(int(4))"))
                case 2: target = .mod(point() ?? 0)
                default: target = .create(point() ?? 0)
                }
                t.compare.append(Compare(key: k(&self), target: target, result: [.equal, .greater, .less, .notEqual][int(4)]))
            }
            for branch in 0..<2 {
                var ops: [RequestOp] = []
                for _ in 0..<int(4) {
                    switch int(depth == 0 ? 5 : 4) {
                    case 0, 1: ops.append(.put(PutRequest(key: k(&self), value: bytes("v\(int(4))"), prevKV: chance(0.5))))
                    case 2: ops.append(.deleteRange(DeleteRangeRequest(key: k(&self), prevKV: chance(0.5))))
                    case 3: ops.append(.range(RangeRequest(key: bytes("k\(base / 10)"), rangeEnd: bytes("k\(base / 10 + 1)"))))
                    default: ops.append(.txn(randomTxn(depth: 1)))
                    }
                }
                if branch == 0 { t.success = ops } else { t.failure = ops }
            }
            return t
        }

        /// Translates compare operands that are revisions.
        func toModel(_ t: TxnRequest) -> TxnRequest {
            var m = t
            m.compare = t.compare.map { c in
                var c = c
                switch c.target {
                case .mod(let r): c.target = .mod(map.model(r) ?? -99)
                case .create(let r): c.target = .create(map.model(r) ?? -99)
                default: break
                }
                return c
            }
            func ops(_ o: [RequestOp]) -> [RequestOp] {
                o.map { if case .txn(let inner) = $0 { .txn(toModel(inner)) } else { $0 } }
            }
            m.success = ops(t.success)
            m.failure = ops(t.failure)
            return m
        }

        mutating func injectFault() {
            let range = cluster.rangeID(of: randomKey())
            let faults: [FakeCluster.Fault] = [
                .notLeader(hint: nil), .notLeader(hint: NodeID(UInt64(1 + int(3)))), .epochMismatch,
                .timeoutBeforeApply, .timeoutAfterApply, .dropped,
            ]
            cluster.inject(faults[int(faults.count)], into: range, times: 1 + int(2))
        }
    }

    static func outcome<T>(_ body: () async throws -> T) async -> Result<T, MVCCError> {
        do { return .success(try await body()) } catch let e as MVCCError { return .failure(e) } catch {
            Issue.record("unexpected error \(error)")
            return .failure(.corruptMetadata("\(error)"))
        }
    }

    @Test(arguments: [UInt64(1), 2, 3, 4, 5, 6])
    func routerMatchesOneStore(seed: UInt64) async throws {
        try await Self.run(seed: seed, steps: 250)
    }

    /// `FLOTILLA_ROUTER_SEEDS=N` runs N more seeds (from 1000) of 600 steps each.
    @Test func extendedSeeds() async throws {
        guard let raw = getenv("FLOTILLA_ROUTER_SEEDS"), let n = UInt64(String(cString: raw)) else { return }
        for seed in 1000..<(1000 + n) { try await Self.run(seed: seed, steps: 600) }
    }

    static func run(seed: UInt64, steps: Int) async throws {
        let (router, cluster) = try makeRouter()
        var run = Run(rng: SeededGenerator(seed: seed), router: router, cluster: cluster, model: try ModelStore())
        let m = run.model
        for step in 0..<steps {
            if run.chance(0.25) { run.injectFault() }
            if run.chance(0.04) { _ = try cluster.split(at: run.randomKey()) }
            if run.chance(0.04) { cluster.moveLeader(of: cluster.rangeID(of: run.randomKey()), to: NodeID(UInt64(1 + run.int(3)))) }
            let ctx = Comment(rawValue: "seed \(seed) step \(step)")
            switch run.int(10) {
            case 0, 1, 2:
                let p = PutRequest(key: run.randomKey(), value: bytes("v\(run.int(4))"), prevKV: run.chance(0.5))
                let got = try await router.put(p)
                let want = try m.store.put(p, revision: m.nextRevision())
                run.map.record(router: got.revision, model: want.revision)
                run.points.append(got.revision)
                #expect(got.prevKV.map(run.map.normalize) == want.prevKV, ctx)
            case 3:
                let (k, e) = run.randomSpan()
                let d = DeleteRangeRequest(key: k, rangeEnd: e, prevKV: run.chance(0.5))
                let got = try await router.deleteRange(d)
                let want = try m.store.deleteRange(d, revision: m.nextRevision())
                run.map.record(router: got.revision, model: want.revision)
                #expect(got.deleted == want.deleted, ctx)
                #expect(got.prevKVs.map(run.map.normalize) == want.prevKVs, ctx)
            case 4, 5, 6:
                var r = run.randomRange()
                if run.chance(0.3), let p = run.point() { r.revision = p }
                let got = await Self.outcome { try await router.range(r) }
                let want = await Self.outcome { try m.store.range(run.toModel(r)) }
                let stripped = want.map { RangeResponse(revision: 0, kvs: $0.kvs, more: $0.more, count: $0.count) }
                #expect(got.map(run.map.normalize) == stripped, "\(ctx.rawValue) \(r)")
                if case .success(let g) = got, r.revision > 0 { #expect(g.revision == r.revision, ctx) }
            case 7:
                // A serializable read equals a linearizable read at the revision it answered.
                var r = run.randomRange()
                r.serializable = true
                let got = try await router.range(r)
                var again = r
                again.serializable = false
                again.revision = got.revision
                #expect(try await router.range(again) == got, ctx)
            case 8:
                let t = run.randomTxn()
                let spans = Set(TxnFootprint.spans(of: t).flatMap { cluster.rangeIDs(overlapping: $0) })
                do {
                    let got = try await router.txn(t)
                    #expect(spans.count <= 1, ctx)
                    let want = try m.store.txn(run.toModel(t), revision: t.isReadOnly ? nil : m.nextRevision())
                    if !t.isReadOnly {
                        run.map.record(router: got.revision, model: want.revision)
                        run.points.append(got.revision)
                    }
                    #expect(run.map.normalize(got) == TxnResponse(revision: 0, succeeded: want.succeeded, responses: want.responses.map { Self.stripHeaders($0) }), ctx)
                } catch EtcdError.txnSpansRanges(let ids) {
                    #expect(ids.count > 1, ctx)
                    #expect(spans.count > 1, ctx)
                } catch let e as MVCCError {
                    let modelErr = await Self.outcome { try m.store.txn(run.toModel(t), revision: t.isReadOnly ? nil : m.revision + 1) }
                    #expect(modelErr == .failure(e), ctx)
                }
            default:
                guard let c = run.point(), run.chance(0.3) else { continue }
                let got = await Self.outcome { try await router.compact(revision: c, physical: true) }
                let want = await Self.outcome { try m.store.compact(run.map.model(c)!) }
                #expect(got.map { _ in 0 } == want.map { _ in 0 }, ctx)
                if case .success = got { run.compactedRouter = c }
            }
        }
        // Everything agrees at the end, and retries after timeouts were de-duplicated.
        let all = try await router.range(RangeRequest(key: [0], rangeEnd: [0]))
        let want = try m.store.range(RangeRequest(key: [0], rangeEnd: [0]))
        #expect(all.kvs.map(run.map.normalize) == want.kvs, "seed \(seed)")
        #expect(Set(cluster.usedRequestIDs).count > 0, "seed \(seed)")
    }

    /// Header revisions zeroed (model numbering is not the router's).
    static func stripHeaders(_ op: ResponseOp) -> ResponseOp {
        switch op {
        case .range(let r): .range(RangeResponse(revision: 0, kvs: r.kvs, more: r.more, count: r.count))
        case .put(let p): .put(PutResponse(revision: 0, prevKV: p.prevKV))
        case .deleteRange(let d): .deleteRange(DeleteRangeResponse(revision: 0, deleted: d.deleted, prevKVs: d.prevKVs))
        case .txn(let t): .txn(TxnResponse(revision: 0, succeeded: t.succeeded, responses: t.responses.map(stripHeaders)))
        }
    }
}
