import Base
import Foundation
import MVCC
@testable import Node
import Testing
import TestThreads

/// The system range's pure parts: command codec, deterministic apply (against a model),
/// the leader session's oracle block and lease timers, and the revocation txn builder.
@Suite struct SystemStateTests {
    static func freshStore(_ id: UInt64 = 1) throws -> MVCCStore {
        try MVCCStore.create(backend: InMemoryBackend(), rangeID: RangeID(id), start: [], end: nil)
    }

    @Test func commandsAndAnswersRoundTrip() throws {
        let commands: [SystemCommand] = [
            .allocateRevisions(count: 10_000), .grantLease(id: -5, ttl: 60), .grantLease(id: .max, ttl: 1),
            .removeLease(id: 42), .markLeaseRevoking(id: 43), .markLeaseRevoking(id: .min),
        ]
        for c in commands { #expect(try SystemCommand.decode(c.encoded()) == c) }
        let answers: [SystemAnswer] = [
            .revisions(first: 1, last: 10_000), .leaseGranted(id: 7, ttl: 9), .leaseExists(id: 7),
            .leaseRemoved(existed: true), .leaseRemoved(existed: false),
            .leaseRevoking(id: 7, ttl: 9, grantRevision: 1_234), .leaseUnknown(id: -7),
        ]
        for a in answers { #expect(try SystemAnswer.decode(a.encoded()) == a) }
        #expect(throws: DecodingError.self) { try SystemCommand.decode(SystemCommand.removeLease(id: 1).encoded() + [0]) }
        #expect(throws: DecodingError.self) { try SystemCommand.decode([1, 99]) }
        #expect(throws: DecodingError.self) { try SystemCommand.decode([2, 1, 0, 0, 0, 0, 0, 0, 0, 0]) }
        #expect(throws: DecodingError.self) { try SystemAnswer.decode([1, 4, 2]) }
    }

    /// Random commands applied to two stores and to a dictionary model: same answers,
    /// blocks strictly above each other, state survives a commit and reopen.
    @Test func applyMatchesModel() async throws {
        // Long synchronous work: on a thread of its own, not a cooperative pool thread.
        try await onOwnThread {
            let seed = UInt64(ProcessInfo.processInfo.environment["FLOTILLA_SEED"] ?? "") ?? UInt64.random(in: 1...1_000_000)
            var rng = SeededGenerator(seed: seed)
            let backend = InMemoryBackend()
            let a = try MVCCStore.create(backend: backend, rangeID: .system, start: [], end: nil)
            let b = try Self.freshStore()
            var modelMark: Int64 = 0
            var modelLeases: [Int64: Int64] = [:]
            for step in 0..<3_000 {
                let command: SystemCommand
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: command = .allocateRevisions(count: Int64.random(in: 1...20_000, using: &rng))
                case 1: command = .grantLease(id: Int64.random(in: -3...40, using: &rng), ttl: Int64.random(in: 1...100, using: &rng))
                default: command = .removeLease(id: Int64.random(in: -3...40, using: &rng))
                }
                let expected: SystemAnswer
                switch command {
                case .allocateRevisions(let n):
                    expected = .revisions(first: modelMark + 1, last: modelMark + n)
                    modelMark += n
                case .grantLease(let id, let ttl):
                    if modelLeases[id] != nil {
                        expected = .leaseExists(id: id)
                    } else {
                        modelLeases[id] = ttl
                        expected = .leaseGranted(id: id, ttl: ttl)
                    }
                case .removeLease(let id):
                    expected = .leaseRemoved(existed: modelLeases.removeValue(forKey: id) != nil)
                case .markLeaseRevoking:
                    // Not generated here: `LeaseRevokingTests.markMatchesModel` covers it.
                    Issue.record("seed \(seed): unexpected command \(command)")
                    return
                }
                let ra = try SystemStateMachine.apply(command, to: a)
                let rb = try SystemStateMachine.apply(command, to: b)
                #expect(ra == expected, "seed \(seed) step \(step): \(command) answered \(ra), model \(expected)")
                #expect(ra == rb, "seed \(seed) step \(step): replicas disagree")
                if ra != expected || ra != rb { return }
                if step % 500 == 499 { try a.commit(appliedIndex: UInt64(step)) }
            }
            try a.commit(appliedIndex: 3_000)
            let reopened = try MVCCStore.open(backend: backend, rangeID: .system)
            #expect(try SystemStateMachine.highWaterMark(reopened) == modelMark, "seed \(seed)")
            #expect(try SystemStateMachine.leases(reopened) == modelLeases, "seed \(seed)")
            // The history was compacted along the way (every 1,024 writes).
            #expect(reopened.compactedRevision > 0, "seed \(seed)")
        }
    }

    @Test func sessionServesBlocksInOrderAndIgnoresStaleOnes() {
        var s = SystemLeaderSession(term: 3, highWaterMark: 100, leases: [:], nowNs: 0)
        #expect(s.take(1) == nil)  // no block yet
        s.adopt(first: 50, last: 80)  // below the persisted mark: never adopted
        #expect(s.take(1) == nil)
        s.adopt(first: 101, last: 110)
        #expect(s.take(3) == 101...103)
        #expect(s.take(8) == nil)  // 7 left
        #expect(s.take(7) == 104...110)
        s.adopt(first: 105, last: 200)  // overlaps what was handed out: ignored
        #expect(s.take(1) == nil)
        s.adopt(first: 201, last: 300)
        #expect(s.take(1) == 201...201)
        #expect(s.remaining == 99)
    }

    @Test func leaseTimersRenewExpireAndRoundUp() {
        let sec: UInt64 = 1_000_000_000
        var s = SystemLeaderSession(term: 1, highWaterMark: 0, leases: [7: 10, 8: 2], nowNs: 5 * sec)
        #expect(s.remainingTTL(7, nowNs: 5 * sec) == 10)
        #expect(s.remainingTTL(7, nowNs: 5 * sec + 1) == 10)  // 9.999… rounds up
        #expect(s.remainingTTL(8, nowNs: 7 * sec) == 0)
        #expect(s.remainingTTL(8, nowNs: 9 * sec) == -2)
        #expect(s.expired(nowNs: 7 * sec) == [8])
        #expect(s.keepAlive(8, nowNs: 7 * sec) == nil)  // expired: not renewed
        #expect(s.keepAlive(7, nowNs: 12 * sec)?.deadlineNs == 22 * sec)
        #expect(s.expired(nowNs: 21 * sec) == [8])
        s.noteApplied(.grantLease(id: 9, ttl: 3), .leaseGranted(id: 9, ttl: 3), nowNs: 20 * sec)
        s.noteApplied(.removeLease(id: 8), .leaseRemoved(existed: true), nowNs: 20 * sec)
        #expect(s.expired(nowNs: 23 * sec) == [7, 9])
        #expect(s.remainingTTL(8, nowNs: 0) == nil)
    }

    @Test(arguments: [1, 128, 129, 1_000, 40_000])
    func revocationDeletesEveryAttachedKeyAtOneRevision(keys n: Int) async throws {
        // Long synchronous work: on a thread of its own, not a cooperative pool thread.
        try await onOwnThread {
            let store = try Self.freshStore(2)
            var rev: Int64 = 1
            for i in 0..<n {
                _ = try store.put(PutRequest(key: Array("k\(i)".utf8), value: [1], lease: 7), revision: rev)
                rev += 1
            }
            _ = try store.put(PutRequest(key: Array("other".utf8), value: [2], lease: 8), revision: rev)
            let attached = try store.keys(attachedTo: 7)
            #expect(attached.count == n)
            let response = try LeaseRevocation.revoke(7, in: store, revision: rev + 1)
            #expect(response.deleted == Int64(n))
            #expect(response.revision == rev + 1)
            // A lease with no keys left writes nothing and spends no revision.
            #expect(try LeaseRevocation.revoke(7, in: store, revision: rev + 2).deleted == 0)
            #expect(try store.keys(attachedTo: 7).isEmpty)
            #expect(store.currentRevision == rev + 1)
            let left = try store.range(RangeRequest(key: [0], rangeEnd: [0]))
            #expect(left.kvs.map(\.key) == [Array("other".utf8)])
            // Every delete happened at the same main revision.
            guard case .events(let events, _) = try store.events(key: [0], rangeEnd: [0], fromRevision: rev + 1, limit: n + 10)
            else { Issue.record("history compacted"); return }
            #expect(events.count == n && events.allSatisfy { $0.kind == .delete && $0.kv.modRevision == rev + 1 })
        }
    }

    /// The history checker of the cluster tests finds both kinds of violation.
    @Test func oracleCheckerCatchesViolations() {
        let ok = [OracleCallRecord(startNs: 0, endNs: 10, revisions: 1...5), OracleCallRecord(startNs: 5, endNs: 20, revisions: 6...6),
                  OracleCallRecord(startNs: 11, endNs: 12, revisions: 7...9)]
        #expect(OracleCheck.violation(in: ok) == nil)
        // Concurrent calls may come back in any order.
        #expect(OracleCheck.violation(in: [OracleCallRecord(startNs: 0, endNs: 10, revisions: 9...9),
                                           OracleCallRecord(startNs: 1, endNs: 5, revisions: 3...3)]) == nil)
        let twice = ok + [OracleCallRecord(startNs: 30, endNs: 31, revisions: 9...12)]
        #expect(OracleCheck.violation(in: twice) != nil)
        let backwards = ok + [OracleCallRecord(startNs: 30, endNs: 31, revisions: 0...0)]
        #expect(OracleCheck.violation(in: backwards) != nil)
    }

    @Test func oracleCallRoundTrips() {
        #expect(OracleCall.decodeRequest(OracleCall.request(count: 42)) == 42)
        #expect(OracleCall.decodeRequest([0x02, 1, 0, 0, 0]) == nil)
        let served: Result<ClosedRange<Int64>, ProposalError> = .success(10...19)
        #expect(OracleCall.decodeAnswer(OracleCall.answer(served)) == served)
        let notLeader: Result<ClosedRange<Int64>, ProposalError> = .failure(.notLeader(leaderHint: NodeID(3)))
        #expect(OracleCall.decodeAnswer(OracleCall.answer(notLeader)) == notLeader)
        guard case .failure(.proposalDropped(let why)) = OracleCall.decodeAnswer(OracleCall.answer(.failure(.timeout))) else {
            Issue.record("timeout not carried as a failure")
            return
        }
        #expect(why.contains("timed out"))
        #expect(OracleCall.decodeAnswer([0x01, 0, 1]) == .failure(.proposalDropped("malformed oracle answer")))
    }
}
