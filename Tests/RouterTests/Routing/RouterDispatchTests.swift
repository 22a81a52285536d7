import API
import Base
import MVCC
import Node
@testable import Router
import Synchronization
import Testing

/// Routing and retries: errors a client sees, request IDs, de-duplicated retries.
@Suite struct RouterDispatchTests {
    @Test func crossRangeTxnGolden() async throws {
        let (router, _) = try makeRouter()
        let txn = TxnRequest(
            compare: [Compare(key: key(5), target: .version(0), result: .equal)],
            success: [.put(PutRequest(key: key(15), value: [1]))],
            failure: [.txn(TxnRequest(success: [.deleteRange(DeleteRangeRequest(key: key(25)))]))])
        do {
            _ = try await router.txn(txn)
            Issue.record("a cross-range txn ran")
        } catch let e as EtcdError {
            #expect(e == .txnSpansRanges([2, 3, 4]))
            #expect(e.message == "flotilla: txn spans ranges 2, 3, 4; cross-range transactions are not supported")
            #expect(e.grpcCodeName == "FailedPrecondition")
            #expect(ErrorMapping.rpcError(e).code == .failedPrecondition)
        }
        // Nothing was applied anywhere.
        #expect(try await router.range(RangeRequest(key: [0], rangeEnd: [0], countOnly: true)).count == 0)
    }

    @Test func timeoutAfterApplyIsRetriedUnderTheSameRequestID() async throws {
        let (router, cluster) = try makeRouter()
        cluster.inject(.timeoutAfterApply, into: cluster.rangeID(of: key(12)), times: 2)
        let put = try await router.put(PutRequest(key: key(12), value: [7]))
        #expect(cluster.applied == 1)
        #expect(cluster.deduplicated == 2)
        let ids = cluster.usedRequestIDs
        #expect(ids.count == 3 && Set(ids).count == 1)
        let got = try await router.range(RangeRequest(key: key(12)))
        #expect(got.kvs.first?.version == 1)
        #expect(got.kvs.first?.modRevision == put.revision)
    }

    /// A txn that timed out (and may have applied) and then meets a split that puts its
    /// keys in two ranges is answered "request timed out", not "spans ranges".
    @Test func unknownOutcomeThenSplitIsATimeoutNotARefusal() async throws {
        let (router, cluster) = try makeRouter()
        let txn = TxnRequest(success: [.put(PutRequest(key: key(11), value: [1])), .put(PutRequest(key: key(18), value: [1]))])
        cluster.inject(sequence: [.timeoutAfterApply, .split(at: key(15))], into: cluster.rangeID(of: key(11)))
        await #expect(throws: EtcdError.timeout) { try await router.txn(txn) }
        #expect(cluster.applied == 1)
        // Without the timeout, the same situation is a clean refusal.
        cluster.inject(sequence: [.split(at: key(13))], into: cluster.rangeID(of: key(11)))
        let txn2 = TxnRequest(success: [.put(PutRequest(key: key(11), value: [2])), .put(PutRequest(key: key(14), value: [2]))])
        await #expect(throws: EtcdError.txnSpansRanges([3, 7])) { try await router.txn(txn2) }
    }

    @Test func exhaustedRetriesAnswerRequestTimedOut() async throws {
        let (router, cluster) = try makeRouter(maxAttempts: 3)
        cluster.inject(.timeoutBeforeApply, into: cluster.rangeID(of: key(1)), times: 10)
        await #expect(throws: EtcdError.timeout) { try await router.put(PutRequest(key: key(1), value: [1])) }
        #expect(EtcdError.timeout.message == "etcdserver: request timed out")
    }

    /// An election under load: the range answers "dropped" (no leader) far more often than
    /// the attempt budget allows. Within `Config.retryWindow` the router keeps retrying and the
    /// write lands once; with no window the same request fails as before.
    @Test func retryWindowWaitsOutALeaderlessStretch() async throws {
        let (router, cluster) = try makeRouter(maxAttempts: 3, retryWindow: .seconds(600))
        let range = cluster.rangeID(of: key(3))
        cluster.inject(.dropped, into: range, times: 40)
        cluster.inject(.notLeader(hint: NodeID.none), into: range, times: 10)
        let put = try await router.put(PutRequest(key: key(3), value: [3]))
        #expect(cluster.applied == 1)
        #expect(try await router.range(RangeRequest(key: key(3))).kvs.first?.modRevision == put.revision)
        let (bounded, other) = try makeRouter(maxAttempts: 3)
        other.inject(.dropped, into: other.rangeID(of: key(3)), times: 40)
        await #expect(throws: EtcdError.timeout) { try await bounded.put(PutRequest(key: key(3), value: [3])) }
    }

    /// Past the attempt budget the window, not the answers, ends the retries.
    @Test func retryWindowIsABound() async throws {
        let (router, cluster) = try makeRouter(maxAttempts: 3, retryWindow: .milliseconds(300))
        cluster.inject(.timeoutBeforeApply, into: cluster.rangeID(of: key(1)), times: 1_000_000)
        let clock = ContinuousClock()
        let start = clock.now
        await #expect(throws: EtcdError.timeout) { try await router.put(PutRequest(key: key(1), value: [1])) }
        let elapsed = clock.now - start
        #expect(elapsed >= .milliseconds(300), "gave up after \(elapsed)")
        #expect(elapsed < .seconds(600), "hang bound: \(elapsed)")
        #expect(cluster.applied == 0)
    }

    /// A request that runs out of retries answers etcd's timeout AND says why on the node's log
    /// (finding 4: a stall must never be silent), once per range per interval.
    @Test func givingUpIsLoggedWithTheRangeAndTheLastAnswerRateLimited() async throws {
        let lines = Mutex<[String]>([])
        let cluster = try FakeCluster(splitKeys: ["k10", "k20", "k30"].map(bytes))
        var config = Router.Config()
        config.initialBackoff = .microseconds(50)
        config.maxBackoff = .microseconds(400)
        config.maxAttempts = 3
        config.retryWindow = .zero
        config.stallLogInterval = .seconds(600)
        config.warn = { line in lines.withLock { $0.append(line) } }
        let router = Router(access: cluster, config: config)
        let range = cluster.rangeID(of: key(1))
        cluster.inject(.timeoutBeforeApply, into: range, times: 100)
        for _ in 0..<3 {
            await #expect(throws: EtcdError.timeout) { try await router.put(PutRequest(key: key(1), value: [1])) }
        }
        let logged = lines.withLock { $0 }
        #expect(logged.count == 1, "\(logged)")
        // The attempts left after the first routing-table fetch, and the range's last answer.
        #expect(logged.first?.contains("range \(range.rawValue) gave no answer in 2 attempts") == true, "\(logged)")
        #expect(logged.first?.contains("proposal timed out") == true, "\(logged)")
        // Another range is a separate key; the held-back count shows on its next line.
        let other = cluster.rangeID(of: key(25))
        cluster.inject(.dropped, into: other, times: 100)
        await #expect(throws: EtcdError.timeout) { try await router.put(PutRequest(key: key(25), value: [1])) }
        #expect(lines.withLock { $0.count } == 2)
        #expect(lines.withLock { $0.last?.contains("injected") } == true, "\(lines.withLock { $0 })")
    }

    @Test func stallLogHoldsBackRepeatsAndCountsThem() {
        let lines = Mutex<[String]>([])
        let log = StallLog(interval: .seconds(5), sink: { l in lines.withLock { $0.append(l) } })
        let t0 = ContinuousClock.now
        #expect(log.warn("range 2", "a", now: t0))
        #expect(!log.warn("range 2", "b", now: t0 + .seconds(1)))
        #expect(!log.warn("range 2", "c", now: t0 + .seconds(2)))
        #expect(log.warn("range 3", "d", now: t0 + .seconds(2)))
        #expect(log.warn("range 2", "e", now: t0 + .seconds(6)))
        #expect(lines.withLock { $0 } == ["a", "d", "e (2 more like it not logged)"])
        #expect(!StallLog(interval: .seconds(1), sink: nil).warn("x", "y"))
    }

    @Test func requestIDsCarryTheNodeAndAreUnique() async throws {
        let (router, cluster) = try makeRouter()
        _ = try await router.deleteRange(DeleteRangeRequest(key: [0], rangeEnd: [0]))
        _ = try await router.put(PutRequest(key: key(1), value: [1]))
        let ids = cluster.usedRequestIDs
        #expect(ids.count == 5)
        #expect(Set(ids).count == 5)
        #expect(ids.allSatisfy { $0 >> 44 == 1 })
    }

    @Test func staleCacheFollowsSplitsAndLeaderMoves() async throws {
        let (router, cluster) = try makeRouter()
        for i in 0..<40 { _ = try await router.put(PutRequest(key: key(i), value: [UInt8(i)])) }
        try cluster.split(at: key(15))
        try cluster.split(at: key(27))
        cluster.moveLeader(of: cluster.rangeID(of: key(5)), to: NodeID(3))
        cluster.inject(.notLeader(hint: NodeID(2)), into: cluster.rangeID(of: key(35)))
        let all = try await router.range(RangeRequest(key: [0], rangeEnd: [0], limit: 30))
        #expect(all.kvs.map(\.key) == (0..<30).map(key))
        #expect(all.count == 40 && all.more)
        let del = try await router.deleteRange(DeleteRangeRequest(key: key(10), rangeEnd: key(30), prevKV: true))
        #expect(del.deleted == 20)
        #expect(del.prevKVs.map(\.key) == (10..<30).map(key))
        let desc = try await router.range(RangeRequest(key: [0], rangeEnd: [0], limit: 3, sortOrder: .descend))
        #expect(desc.kvs.map(\.key) == [key(39), key(38), key(37)])
    }

    @Test func serializableReadFallsBackWithoutLocalReplicas() async throws {
        let (router, _) = try makeRouter(remote: [1])
        for i in 0..<40 { _ = try await router.put(PutRequest(key: key(i), value: [1])) }
        let r = try await router.range(RangeRequest(key: [0], rangeEnd: [0], serializable: true, countOnly: true))
        #expect(r.count == 40)
    }

    @Test func futureAndCompactedRevisions() async throws {
        let (router, _) = try makeRouter()
        let a = try await router.put(PutRequest(key: key(1), value: [1]))
        let b = try await router.put(PutRequest(key: key(21), value: [2]))
        await #expect(throws: MVCCError.futureRevision) { try await router.range(RangeRequest(key: key(1), revision: b.revision + 1000)) }
        await #expect(throws: MVCCError.futureRevision) { try await router.compact(revision: b.revision + 1000, physical: false) }
        _ = try await router.compact(revision: b.revision, physical: true)
        await #expect(throws: MVCCError.compacted) { try await router.range(RangeRequest(key: key(1), revision: a.revision)) }
        await #expect(throws: MVCCError.compacted) { try await router.compact(revision: a.revision, physical: false) }
    }

    @Test func memberList() async throws {
        let (router, _) = try makeRouter()
        #expect(try await router.memberList().map(\.id) == [1, 2, 3])
    }

    /// The server's composition: the node's alarm table behind `QuotaKVBackend` in front of
    /// the router. While NOSPACE is active, puts and txns that could put are refused; reads,
    /// deletes and put-free txns reach the ranges.
    @Test func noSpaceAlarmThroughQuota() async throws {
        let (router, _) = try makeRouter()
        let node = NodeMaintenanceDouble(router: router)
        let kv = QuotaKVBackend(inner: router, noSpace: { node.noSpace })
        _ = try await kv.put(PutRequest(key: key(1), value: [1]))
        _ = try await node.alarm(.activate, memberID: 0, alarm: .noSpace)
        await #expect(throws: EtcdError.noSpace) { try await kv.put(PutRequest(key: key(2), value: [1])) }
        let nested = TxnRequest(success: [.txn(TxnRequest(failure: [.put(PutRequest(key: key(3), value: [1]))]))])
        await #expect(throws: EtcdError.noSpace) { try await kv.txn(nested) }
        let reads = try await kv.txn(TxnRequest(success: [.range(RangeRequest(key: key(1)))]))
        #expect(reads.succeeded)
        #expect(try await kv.range(RangeRequest(key: key(2))).kvs.isEmpty)
        #expect(try await kv.deleteRange(DeleteRangeRequest(key: key(1))).deleted == 1)
        #expect(try await node.alarm(.get, memberID: 0, alarm: .none).alarms == [AlarmInfo(memberID: 1, alarm: .noSpace)])
        #expect(try await node.status().errors.count == 1)
        _ = try await node.alarm(.deactivate, memberID: 0, alarm: .noSpace)
        _ = try await kv.put(PutRequest(key: key(2), value: [1]))
        #expect(try await router.range(RangeRequest(key: key(2))).kvs.map(\.value) == [[1]])
    }

    @Test func hashKVIsDeterministicAndSeesChanges() async throws {
        let (router, _) = try makeRouter()
        _ = try await router.put(PutRequest(key: key(1), value: [1]))
        let r = try await router.put(PutRequest(key: key(31), value: [1]))
        let h1 = try await router.hashKV(revision: r.revision)
        let h2 = try await router.hashKV(revision: r.revision)
        _ = try await router.put(PutRequest(key: key(31), value: [2]))
        let h3 = try await router.hashKV(revision: 0)
        #expect(h1 == h2)
        #expect(h1.hash != h3.hash)
    }
}
