import Base
import MVCC
import Testing
import TestThreads

@testable import Node

/// `RevokedLeases`: the refusal rule, the cap with eviction of the oldest grants, merge and
/// the encoding.
@Suite struct RevokedLeasesTests {
    @Test func refusesOnlyGrantsNotNewerThanTheRecordedRevoke() {
        var r = RevokedLeases()
        #expect(!r.refuses(1, grantRevision: 5))
        r.record(1, grantRevision: 5)
        #expect(r.refuses(1, grantRevision: 5), "the revoked grant itself")
        #expect(r.refuses(1, grantRevision: 3), "an older grant of the ID")
        #expect(!r.refuses(1, grantRevision: 6), "a re-grant")
        #expect(!r.refuses(1, grantRevision: 0), "an unknown grant is never refused")
        #expect(!r.refuses(2, grantRevision: 5), "another lease")
        r.record(1, grantRevision: 2)  // an older revoke arriving late keeps the newer one
        #expect(r.refuses(1, grantRevision: 5))
        r.record(3, grantRevision: 0)
        #expect(r.grants[3] == nil, "grant 0 records nothing")
    }

    @Test(arguments: [1, 2, 3])
    func capEvictsTheOldestGrantsDeterministically(seed: UInt64) async throws {
        // Long synchronous work: on a thread of its own, not a cooperative pool thread.
        try await onOwnThread {
            var rng = SeededGenerator(seed: seed)
            let n = RevokedLeases.capacity + 300
            let grants = (0..<n).map { i in (lease: Int64(i), grant: Int64(1 + i)) }
            // Whatever order the revokes come in (replicas see one order; a merge combines
            // two), the record ends with the same newest `capacity` grants.
            var a = RevokedLeases()
            for g in grants { a.record(g.lease, grantRevision: g.grant) }
            var b = RevokedLeases()
            for g in grants.shuffled(using: &rng) { b.record(g.lease, grantRevision: g.grant) }
            #expect(a.grants.count == RevokedLeases.capacity, "seed \(seed)")
            #expect(a.grants.keys.min() == Int64(n - RevokedLeases.capacity), "seed \(seed)")
            #expect(a == b, "seed \(seed)")
            let merged = RevokedLeases.merged(a, b)
            #expect(merged.grants.count == RevokedLeases.capacity && merged == a, "seed \(seed)")
        }
    }

    @Test func mergeTakesTheNewerGrantPerLease() {
        var a = RevokedLeases()
        a.record(1, grantRevision: 5)
        a.record(2, grantRevision: 9)
        var b = RevokedLeases()
        b.record(1, grantRevision: 8)
        b.record(3, grantRevision: 1)
        let m = RevokedLeases.merged(a, b)
        #expect(m.grants == [1: 8, 2: 9, 3: 1])
        #expect(RevokedLeases.merged(b, a) == m)
    }

    @Test func encodingRoundTripsAndRejectsGarbage() throws {
        var r = RevokedLeases()
        #expect(r.encoded().isEmpty)
        #expect(try RevokedLeases.decode([]) == r)
        for i in 0..<50 { r.record(Int64(i * 7 - 100), grantRevision: Int64(i + 1)) }
        let bytes = r.encoded()
        #expect(try RevokedLeases.decode(bytes) == r)
        #expect(throws: DecodingError.self) { try RevokedLeases.decode(bytes + [0]) }
        #expect(throws: DecodingError.self) { try RevokedLeases.decode(Array(bytes.dropLast())) }
        #expect(throws: DecodingError.self) { try RevokedLeases.decode([9] + bytes.dropFirst()) }
    }
}
