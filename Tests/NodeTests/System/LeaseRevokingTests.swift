import Base
import Foundation
import MVCC
@testable import Node
import Testing
import TestThreads

/// The "revoking" state of a lease (finding 7 residue): the system command that marks it,
/// its persistence, and what the leader session answers for it.
@Suite struct LeaseRevokingTests {
    static let sec: UInt64 = 1_000_000_000

    @Test func markIsIdempotentKeepsTheGrantRevisionAndBlocksARegrant() throws {
        let store = try SystemStateTests.freshStore()
        #expect(try SystemStateMachine.apply(.markLeaseRevoking(id: 5), to: store) == .leaseUnknown(id: 5))
        #expect(store.currentRevision == 0, "marking an unknown lease writes nothing")
        _ = try SystemStateMachine.apply(.grantLease(id: 4, ttl: 9), to: store)
        #expect(try SystemStateMachine.apply(.grantLease(id: 5, ttl: 30), to: store) == .leaseGranted(id: 5, ttl: 30))
        let grant = try #require(try SystemStateMachine.leaseGrantRevisions(store)[5])
        #expect(try SystemStateMachine.apply(.markLeaseRevoking(id: 5), to: store)
                == .leaseRevoking(id: 5, ttl: 30, grantRevision: grant))
        let afterMark = store.currentRevision
        // Again: the same answer, nothing written.
        #expect(try SystemStateMachine.apply(.markLeaseRevoking(id: 5), to: store)
                == .leaseRevoking(id: 5, ttl: 30, grantRevision: grant))
        #expect(store.currentRevision == afterMark)
        #expect(try SystemStateMachine.leaseEntry(5, store) == SystemStateMachine.LeaseEntry(ttl: 30, revoking: true, grantRevision: grant))
        #expect(try SystemStateMachine.leaseEntry(4, store)?.revoking == false)
        #expect(try SystemStateMachine.revokingLeases(store) == [5])
        // The ID stays taken until the record is removed.
        #expect(try SystemStateMachine.apply(.grantLease(id: 5, ttl: 1), to: store) == .leaseExists(id: 5))
        #expect(try SystemStateMachine.apply(.removeLease(id: 5), to: store) == .leaseRemoved(existed: true))
        #expect(try SystemStateMachine.apply(.markLeaseRevoking(id: 5), to: store) == .leaseUnknown(id: 5))
        #expect(try SystemStateMachine.apply(.grantLease(id: 5, ttl: 1), to: store) == .leaseGranted(id: 5, ttl: 1))
        let regrant = try #require(try SystemStateMachine.leaseGrantRevisions(store)[5])
        #expect(regrant > grant)
        #expect(try SystemStateMachine.leaseEntry(5, store)?.revoking == false)
    }

    @Test func recordValueCodec() {
        let live = SystemStateMachine.decodeLeaseValue(SystemStateMachine.leaseValue(ttl: 7, revoking: false))
        #expect(live?.ttl == 7 && live?.revoking == false)
        #expect(SystemStateMachine.leaseValue(ttl: 7, revoking: false) == SystemStateMachine.int64Value(7), "a live record as before")
        let revoking = SystemStateMachine.decodeLeaseValue(SystemStateMachine.leaseValue(ttl: -2, revoking: true))
        #expect(revoking?.ttl == -2 && revoking?.revoking == true)
        #expect(SystemStateMachine.decodeLeaseValue(SystemStateMachine.int64Value(7) + [2]) == nil)
        #expect(SystemStateMachine.decodeLeaseValue([1, 2, 3]) == nil)
    }

    /// The mark survives a commit and reopen (a restart), and so does the grant revision,
    /// across the history compaction every 1,024 writes.
    @Test func revokingSurvivesReopenAndCompaction() async throws {
        try await onOwnThread {
            let backend = InMemoryBackend()
            let store = try MVCCStore.create(backend: backend, rangeID: .system, start: [], end: nil)
            _ = try SystemStateMachine.apply(.grantLease(id: 11, ttl: 60), to: store)
            _ = try SystemStateMachine.apply(.grantLease(id: 12, ttl: 60), to: store)
            let grants = try SystemStateMachine.leaseGrantRevisions(store)
            _ = try SystemStateMachine.apply(.markLeaseRevoking(id: 11), to: store)
            for _ in 0..<1_100 { _ = try SystemStateMachine.apply(.allocateRevisions(count: 1), to: store) }
            #expect(store.compactedRevision > 0)
            try store.commit(appliedIndex: 2_000)
            let reopened = try MVCCStore.open(backend: backend, rangeID: .system)
            #expect(try SystemStateMachine.revokingLeases(reopened) == [11])
            #expect(try SystemStateMachine.leaseGrantRevisions(reopened) == grants)
            #expect(try SystemStateMachine.leases(reopened) == [11: 60, 12: 60])
            #expect(try SystemStateMachine.apply(.markLeaseRevoking(id: 11), to: reopened)
                    == .leaseRevoking(id: 11, ttl: 60, grantRevision: grants[11]!))
        }
    }

    /// A revoking lease is gone for lookups and keep-alives, not expired, and due for the
    /// expiry loop once the grace has passed; a session started from the store (a new
    /// leader) knows it as revoking.
    @Test func sessionAnswersForARevokingLease() throws {
        let sec = Self.sec
        var s = SystemLeaderSession(term: 1, highWaterMark: 0, leases: [7: 10, 8: 10], grantRevisions: [7: 3, 8: 4], nowNs: 0)
        #expect(s.live(7, nowNs: sec) != nil)
        s.noteApplied(.markLeaseRevoking(id: 7), .leaseRevoking(id: 7, ttl: 10, grantRevision: 3), nowNs: 2 * sec)
        #expect(s.live(7, nowNs: 2 * sec) == nil)
        #expect(s.keepAlive(7, nowNs: 2 * sec) == nil)
        #expect(s.leases[7]?.grantRevision == 3)
        #expect(s.expired(nowNs: 20 * sec) == [8], "a revoking lease is not reported as expired")
        #expect(s.revokeDue(nowNs: 2 * sec + sec / 2).isEmpty, "within the grace: left to its router")
        #expect(s.revokeDue(nowNs: 3 * sec) == [7])
        #expect(s.revokeDue(nowNs: 20 * sec) == [7, 8])
        // A second mark does not restart the grace.
        s.noteApplied(.markLeaseRevoking(id: 7), .leaseRevoking(id: 7, ttl: 10, grantRevision: 3), nowNs: 5 * sec)
        #expect(s.revokeDue(nowNs: 5 * sec) == [7])
        s.noteApplied(.removeLease(id: 7), .leaseRemoved(existed: true), nowNs: 6 * sec)
        #expect(s.revokeDue(nowNs: 6 * sec).isEmpty)
        // A new leader's session from the replicated state.
        let store = try SystemStateTests.freshStore()
        _ = try SystemStateMachine.apply(.grantLease(id: 21, ttl: 30), to: store)
        _ = try SystemStateMachine.apply(.grantLease(id: 22, ttl: 30), to: store)
        _ = try SystemStateMachine.apply(.markLeaseRevoking(id: 21), to: store)
        let runtime = SystemRangeRuntime()
        try runtime.startSession(term: 4, store: store, nowNs: 100 * sec)
        let answers = runtime.withSession(term: 4) { s in
            (s.live(21, nowNs: 100 * sec), s.live(22, nowNs: 100 * sec), s.revokeDue(nowNs: 101 * sec), s.leases[21]?.grantRevision)
        }
        let (gone, kept, due, grant) = try #require(answers)
        #expect(gone == nil && kept != nil && due == [21] && grant == 1)
    }

    /// Random grants, marks and removes against a model: the answers, the revoking set and
    /// the grant revisions agree, and both replicas stay identical.
    @Test func markMatchesModel() async throws {
        try await onOwnThread {
            let seed = UInt64(ProcessInfo.processInfo.environment["FLOTILLA_SEED"] ?? "") ?? UInt64.random(in: 1...1_000_000)
            var rng = SeededGenerator(seed: seed)
            let a = try SystemStateTests.freshStore()
            let b = try SystemStateTests.freshStore()
            var ttls: [Int64: Int64] = [:]
            var revoking: Set<Int64> = []
            var grants: [Int64: Int64] = [:]
            for step in 0..<2_000 {
                let id = Int64.random(in: 0...12, using: &rng)
                let command: SystemCommand
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: command = .grantLease(id: id, ttl: Int64.random(in: 1...50, using: &rng))
                case 1: command = .markLeaseRevoking(id: id)
                default: command = .removeLease(id: id)
                }
                let before = a.currentRevision
                let expected: SystemAnswer
                switch command {
                case .grantLease(_, let ttl):
                    if ttls[id] != nil {
                        expected = .leaseExists(id: id)
                    } else {
                        ttls[id] = ttl
                        grants[id] = before + 1
                        expected = .leaseGranted(id: id, ttl: ttl)
                    }
                case .markLeaseRevoking:
                    if let ttl = ttls[id] {
                        revoking.insert(id)
                        expected = .leaseRevoking(id: id, ttl: ttl, grantRevision: grants[id]!)
                    } else {
                        expected = .leaseUnknown(id: id)
                    }
                default:
                    let existed = ttls.removeValue(forKey: id) != nil
                    revoking.remove(id)
                    grants[id] = nil
                    expected = .leaseRemoved(existed: existed)
                }
                let ra = try SystemStateMachine.apply(command, to: a)
                let rb = try SystemStateMachine.apply(command, to: b)
                #expect(ra == expected, "seed \(seed) step \(step): \(command) answered \(ra), model \(expected)")
                #expect(ra == rb, "seed \(seed) step \(step): replicas disagree")
                if ra != expected || ra != rb { return }
            }
            #expect(try SystemStateMachine.leases(a) == ttls, "seed \(seed)")
            #expect(try SystemStateMachine.revokingLeases(a) == revoking, "seed \(seed)")
            #expect(try SystemStateMachine.leaseGrantRevisions(a) == grants, "seed \(seed)")
        }
    }
}
