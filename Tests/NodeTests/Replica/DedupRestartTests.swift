import Base
import Foundation
import MVCC
@testable import Node
import Testing

extension NodeClusterTests {
    /// Request de-duplication survives a restart of every replica: the memory is rebuilt
    /// from the WAL, so a retry with the same request ID after the restart does not apply
    /// twice (a put gets its first result back; a delete or txn, whose result cannot be
    /// rebuilt, is refused).
    @Suite struct DedupRestartTests {
        @Test func retriesAfterAFullRestartDoNotApplyTwice() async throws {
            let c = try TestCluster(nodes: 3, ranges: 1)
            defer { c.shutdown() }
            let range = c.rangeIDs[0]
            let key = c.key(range: 0, "dedup")
            let other = c.key(range: 0, "other")
            let putID: UInt64 = 0xD0_0001, prevID: UInt64 = 0xD0_0002, delID: UInt64 = 0xD0_0003
            guard case .put(let first) = try await c.propose(.put(PutRequest(key: key, value: [1])), range: range,
                                                             requestID: putID)
            else { Issue.record("not a put"); return }
            _ = try await c.propose(.put(PutRequest(key: other, value: [1])), range: range)
            guard case .put(let second) = try await c.propose(.put(PutRequest(key: other, value: [2], prevKV: true)),
                                                              range: range, requestID: prevID)
            else { Issue.record("not a put"); return }
            _ = try await c.propose(.deleteRange(DeleteRangeRequest(key: c.key(range: 0, "nothing"))), range: range,
                                    requestID: delID)
            // Every node applies the delete before the stop (a follower that had not would
            // apply the old entry after the restart, and the retry would get its first
            // result through apply-time de-duplication instead of the refusal this test is
            // about: seen in a loaded CI run), and stops with its applied state committed:
            // nothing is replayed at start.
            let leader = try #require(c.leader(of: range))
            let last = DuplicateApplyTests.applied(c.hosts[leader]!, range)
            #expect(await c.eventually { c.hosts.values.allSatisfy { DuplicateApplyTests.applied($0, range) >= last } },
                    "the followers did not apply index \(last)")
            for n in c.hosts.keys.sorted() { c.stop(n) }
            for n in c.bootstrap.nodes { try c.start(n) }
            #expect(await c.eventually { c.leader(of: range) != nil })
            let again = try await c.propose(.put(PutRequest(key: key, value: [1])), range: range, requestID: putID)
            #expect(again == .put(first), "the retried put applied again: \(again) after \(first)")
            let againPrev = try await c.propose(.put(PutRequest(key: other, value: [2], prevKV: true)), range: range,
                                                requestID: prevID)
            #expect(againPrev == .put(second) && second.prevKV?.value == [1], "\(againPrev) after \(second)")
            let now = try await c.read(at: RangeRequest(key: key), range: range)
            #expect(now.kvs.first?.version == 1 && now.kvs.first?.modRevision == first.revision,
                    "the key was written twice: \(now.kvs)")
            do {
                let r = try await c.propose(.deleteRange(DeleteRangeRequest(key: c.key(range: 0, "nothing"))),
                                            range: range, requestID: delID, within: 3)
                Issue.record("a retried delete applied again after the restart: \(r)")
            } catch let e as ProposalError {
                #expect("\(e)".contains("already applied"), "\(e)")
            }
        }
    }
}
