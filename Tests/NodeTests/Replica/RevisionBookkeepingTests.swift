import Base
import MVCC
@testable import Node
import Testing
import Foundation

/// The pure parts of global revisions: the leader's closed revision and in-flight writes,
/// and the node's oracle request batching (the applied-request memory: `DuplicateApplyWindowTests`).
@Suite struct RevisionBookkeepingTests {
    @Test func closingRefusesRevisionsAtOrBelowTheClosedOne() {
        var lr = LeaderRevisions(term: 3, termStartIndex: 10)
        #expect(lr.canAssign(5))
        lr.noteAppended(revision: 5, index: 11)
        lr.noteAppended(revision: 9, index: 12)
        lr.close(at: 12)
        #expect(!lr.canAssign(12) && !lr.canAssign(10) && lr.canAssign(13))
        #expect(lr.lastIndex(atOrBelow: 8) == 11)
        #expect(lr.lastIndex(atOrBelow: 9) == 12)
        #expect(lr.lastIndex(atOrBelow: 4) == 0)
        lr.close(at: 7)
        #expect(lr.closed == 12, "the closed revision never goes back")
        lr.pruneApplied(11)
        #expect(lr.lastIndex(atOrBelow: 8) == 0 && lr.lastIndex(atOrBelow: 100) == 12)
        lr.noteAppended(revision: 13, index: 13)
        #expect(!lr.canAssign(13), "above the last assigned revision only")
    }

    static func put(_ r: Int64) -> CommandResult { .put(PutResponse(revision: r)) }
    static func answer(_ r: Int64) -> Result<CommandResult, ProposalError> { .success(put(r)) }

    @Test func batcherServesConcurrentRequestsWithFewFetchesAndDisjointIncreasingBlocks() async {
        let oracle = InMemoryRevisionOracle(after: 100)
        let batcher = RevisionBatcher()
        let answers = await withTaskGroup(of: Result<ClosedRange<Int64>, ProposalError>.self) { group in
            for i in 0..<200 {
                group.addTask {
                    await batcher.revisions(count: 1 + i % 3) { n throws(ProposalError) in
                        try? await Task.sleep(for: .milliseconds(5))  // a slow oracle: requests pile up
                        return try await oracle.revisions(count: n)
                    }
                }
            }
            var out: [Result<ClosedRange<Int64>, ProposalError>] = []
            for await a in group { out.append(a) }
            return out
        }
        let blocks = answers.compactMap { try? $0.get() }
        #expect(blocks.count == 200)
        let all = blocks.flatMap { Array($0) }
        #expect(Set(all).count == all.count, "no revision handed out twice")
        #expect(all.allSatisfy { $0 > 100 && $0 <= oracle.lastIssued })
        #expect(oracle.fetches < 100, "\(oracle.fetches) fetches for 200 requests: batched")
    }

    @Test func batcherPassesOracleFailuresToEveryWaiter() async {
        let batcher = RevisionBatcher()
        let answer = await batcher.revisions(count: 2) { _ throws(ProposalError) in throw ProposalError.notLeader(leaderHint: NodeID(3)) }
        #expect(answer == .failure(.notLeader(leaderHint: NodeID(3))))
        // The batcher recovers for the next request.
        let ok = await batcher.revisions(count: 2) { n throws(ProposalError) in 7...(6 + Int64(n)) }
        #expect(ok == .success(7...8))
    }
}

/// The node-core close call's byte form.
@Suite struct CloseCallTests {
    @Test func requestsAndAnswersRoundTrip() {
        let req = CloseCall.encodeRequest(range: RangeID(42), revision: 1_234_567)
        #expect(CloseCall.decodeRequest(req)! == (RangeID(42), 1_234_567))
        #expect(CloseCall.decodeRequest([0x10] + req.dropFirst()) == nil, "another tag")
        #expect(CloseCall.decodeRequest(Array(req.prefix(9))) == nil, "truncated")
        let answers: [Result<UInt64, ProposalError>] = [
            .success(99), .failure(.notLeader(leaderHint: NodeID(3))), .failure(.rangeNotFound(RangeID(5))),
        ]
        for a in answers { #expect(CloseCall.decodeAnswer(CloseCall.encodeAnswer(a)) == a) }
        guard case .failure(.proposalDropped(let why)) = CloseCall.decodeAnswer(CloseCall.encodeAnswer(.failure(.timeout)))
        else { Issue.record("other failures travel as a message"); return }
        #expect(why.contains("timed out"))
        #expect(CloseCall.decodeAnswer([]) == .failure(.proposalDropped("malformed close answer")))
    }
}
