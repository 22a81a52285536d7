import Base
import Foundation
import MVCC
@testable import Node
import Testing

extension NodeClusterTests {
    /// Issue 6, finding 2 ("one client put applied twice", pause seeds 2074 and 3002): a
    /// second log entry carrying an applied request ID must not apply again, on any replica.
    /// In the seeds a deposed leader forwarded its writes to the new leader, which appended
    /// them without knowing their IDs, and the router's retry was appended again.
    @Suite struct DuplicateApplyTests {
        /// The replica's applied index in memory (the store's is the durable one).
        static func applied(_ host: NodeHost, _ range: RangeID) -> UInt64 {
            host.state.withLock { $0.replicas[range]?.appliedIndex ?? 0 }
        }

        /// The ID committed in two entries: first proposed on one leader, then — leadership
        /// moved — proposed again on the new leader past proposal-time de-duplication (as a
        /// forwarded entry or a retry racing it would be). Every replica applies it once.
        @Test func sameRequestIDInTwoEntriesAppliesOnceOnEveryReplica() async throws {
            let c = try TestCluster(nodes: 3, ranges: 1)
            defer { c.shutdown() }
            let range = c.rangeIDs[0]
            let key = c.key(range: 0, "finding2")
            let id: UInt64 = 0xF2_0001
            guard case .put(let first) = try await c.propose(.put(PutRequest(key: key, value: Array("v1".utf8))),
                                                             range: range, requestID: id)
            else { Issue.record("not a put"); return }
            // A newer write to the key, which the duplicate must not overwrite.
            _ = try await c.put(key, Array("v2".utf8))
            // Move leadership away from the node that proposed the first entry.
            let old = try #require(c.leader(of: range))
            let target = try #require(c.bootstrap.nodes.first { $0 != old })
            c.hosts[old]!.transferLeadership(of: range, to: target)
            #expect(await c.eventually { c.leader(of: range) == target }, "leadership did not move to \(target)")
            let newLeader = try #require(c.hosts[target])
            let epoch = try #require(newLeader.descriptor(of: range)?.epoch)
            // The second entry: `deduplicate: false` skips the proposal-time check, so the
            // entry is appended and committed with the same request ID.
            let second = try await newLeader.submit(.put(PutRequest(key: key, value: Array("v1".utf8))), to: range,
                                                    epoch: epoch, requestID: id, deduplicate: false)
            #expect(second == .put(first), "the second entry applied instead of answering the first result: \(second)")
            let applied = Self.applied(newLeader, range)
            #expect(await c.eventually { c.hosts.values.allSatisfy { Self.applied($0, range) >= applied } },
                    "replicas did not catch up")
            var hashes: [NodeID: UInt32] = [:]
            for (n, host) in c.hosts {
                let store = try #require(host.store(for: range))
                let kv = try store.range(RangeRequest(key: key)).kvs.first
                #expect(kv?.value == Array("v2".utf8) && kv?.version == 2,
                        "node \(n): the duplicate overwrote newer state: \(String(describing: kv))")
                #expect(host.metrics.duplicateEntriesSkipped >= 1 || host.state.withLock { s in
                    s.replicas[range]?.appliedRequests.record(of: id) != nil
                }, "node \(n) kept no record of the request")
                hashes[n] = try store.hashKV().hash
            }
            #expect(Set(hashes.values).count == 1, "replicas differ after the duplicate: \(hashes)")
        }

        /// The rebuilt memory after a restart makes the same apply-time decisions as the
        /// one before it, for puts, deletes and txns that changed something (a delete that
        /// found nothing is `uncertain` after a restart: the documented limit).
        @Test func rebuiltMemoryDecidesLikeTheOneBeforeARestart() async throws {
            let c = try TestCluster(nodes: 3, ranges: 1)
            defer { c.shutdown() }
            let range = c.rangeIDs[0]
            var ids: [UInt64] = []
            for i in 0..<6 {
                let key = c.key(range: 0, "k\(i)")
                let id = 0xF2_1000 + UInt64(i)
                let body: RaftCommand.Body
                switch i % 3 {
                case 0: body = .put(PutRequest(key: key, value: [UInt8(i)], prevKV: i == 3))
                case 1:
                    _ = try await c.put(key, [1])
                    body = .deleteRange(DeleteRangeRequest(key: key))
                default:
                    body = .txn(TxnRequest(compare: [], success: [.put(PutRequest(key: key, value: [2]))], failure: []))
                }
                _ = try await c.propose(body, range: range, requestID: id)
                ids.append(id)
            }
            let noop: UInt64 = 0xF2_2000
            _ = try await c.propose(.deleteRange(DeleteRangeRequest(key: c.key(range: 0, "absent"))), range: range,
                                    requestID: noop)
            let node = try #require(c.leader(of: range))
            let before = c.hosts[node]!.state.withLock { $0.replicas[range]!.appliedRequests }
            let applied = Self.applied(c.hosts[node]!, range)
            c.stop(node)
            try c.start(node)
            let after = c.hosts[node]!.state.withLock { $0.replicas[range]!.appliedRequests }
            for id in ids {
                let b = before.duplicate(of: id, at: applied + 1)
                let a = after.duplicate(of: id, at: applied + 1)
                #expect(b != nil && (a != nil) == (b != nil), "request \(id): before \(String(describing: b)), after \(String(describing: a))")
                #expect(after.record(of: id)?.index == before.record(of: id)?.index, "request \(id) at another index")
            }
            if case .put(let p)? = before.duplicate(of: ids[3], at: applied + 1).flatMap({ try? $0.get() }) {
                #expect(after.duplicate(of: ids[3], at: applied + 1) == .success(.put(p)), "prevKV put result not rebuilt")
            } else {
                Issue.record("no put result recorded before the restart")
            }
            #expect(after.record(of: noop)?.outcome == .uncertain(revision: after.record(of: noop).map { r in
                if case .uncertain(let rev) = r.outcome { rev } else { -1 }
            } ?? -1), "a delete that found nothing is uncertain after a restart")
            #expect(after.result(of: noop) != nil, "a retry of it is refused at proposal time")
        }
    }
}
