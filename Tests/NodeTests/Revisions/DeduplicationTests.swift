import Base
import Foundation
import MVCC
import Node
import Testing

extension NodeClusterTests {
    /// Request de-duplication: a retry of an applied request returns the first result, a
    /// retry of an in-flight request joins it; neither applies twice.
    @Suite struct DeduplicationTests {
        @Test func retryOfAnAppliedRequestReturnsTheFirstResult() async throws {
            let c = try TestCluster(ranges: 1)
            defer { c.shutdown() }
            let range = c.rangeIDs[0]
            let key = c.key(range: 0, "once")
            let id = UInt64.random(in: 1..<UInt64.max)
            let first = try await c.propose(.put(PutRequest(key: key, value: [1])), range: range, requestID: id)
            let again = try await c.propose(.put(PutRequest(key: key, value: [1])), range: range, requestID: id)
            #expect(again == first)
            let leader = try #require(c.leader(of: range))
            let kv = try #require(try c.hosts[leader]!.store(for: range)!.range(RangeRequest(key: key)).kvs.first)
            #expect(kv.version == 1, "applied once")
            // A new ID applies.
            _ = try await c.propose(.put(PutRequest(key: key, value: [1])), range: range, requestID: id &+ 1)
            #expect(try c.hosts[leader]!.store(for: range)!.range(RangeRequest(key: key)).kvs.first?.version == 2)
            #expect(await c.eventually { c.hosts.values.reduce(0) { $0 + $1.metrics.proposalsDeduplicated } >= 1 },
                    "the retry was counted as de-duplicated")
        }

        @Test func concurrentRetriesJoinTheFirstProposal() async throws {
            let c = try TestCluster(ranges: 1)
            defer { c.shutdown() }
            let range = c.rangeIDs[0]
            #expect(await c.eventually { c.leader(of: range) != nil })
            let leader = try #require(c.leader(of: range))
            let h = c.hosts[leader]!
            let epoch = try #require(h.descriptor(of: range)?.epoch)
            let key = c.key(range: 0, "joined")
            let id = UInt64.random(in: 1..<UInt64.max)
            let results = try await withThrowingTaskGroup(of: CommandResult.self) { group in
                for _ in 0..<5 {
                    group.addTask { try await h.propose(.put(PutRequest(key: key, value: [7])), to: range, epoch: epoch, requestID: id) }
                }
                var out: [CommandResult] = []
                for try await r in group { out.append(r) }
                return out
            }
            #expect(results.count == 5 && results.allSatisfy { $0 == results[0] }, "everyone got the same result")
            #expect(try h.store(for: range)!.range(RangeRequest(key: key)).kvs.first?.version == 1)
        }

        @Test func aNewLeaderKnowsTheRequestsItsPredecessorApplied() async throws {
            let c = try TestCluster(ranges: 1)
            defer { c.shutdown() }
            let range = c.rangeIDs[0]
            let key = c.key(range: 0, "moved")
            let id = UInt64.random(in: 1..<UInt64.max)
            let first = try await c.propose(.put(PutRequest(key: key, value: [3])), range: range, requestID: id)
            let old = try #require(c.leader(of: range))
            let target = c.hosts.keys.sorted().first { $0 != old }!
            c.hosts[old]!.transferLeadership(of: range, to: target)
            #expect(await c.eventually { c.leader(of: range) == target })
            let again = try await c.propose(.put(PutRequest(key: key, value: [3])), range: range, requestID: id)
            #expect(again == first)
            #expect(try c.hosts[target]!.store(for: range)!.range(RangeRequest(key: key)).kvs.first?.version == 1)
        }
    }
}
