import Base
import Testing

@testable import MVCC

/// The Node layer's opaque revoked-lease record in a range's metadata: committed with the
/// applied index, read back at open, carried in the snapshot header (version 2 only when
/// present), kept by both halves of a split, replaced by the caller's on merge.
@Suite struct RevokedLeasesMetaTests {
    let record: [UInt8] = [1, 2, 3, 4, 5]

    @Test func committedWithTheAppliedIndexAndReadBackAtOpen() throws {
        let backend = InMemoryBackend()
        let s = try freshStore(backend)
        s.setRevokedLeases(record)
        #expect(s.hasPendingWrites)
        #expect(try MVCCStore.open(backend: backend, rangeID: s.rangeID).revokedLeases.isEmpty, "not committed yet")
        try s.commit(appliedIndex: 9)
        let reopened = try MVCCStore.open(backend: backend, rangeID: s.rangeID)
        #expect(reopened.revokedLeases == record && reopened.appliedIndex == 9)
        s.setRevokedLeases([])
        try s.commit(appliedIndex: 10)
        #expect(try MVCCStore.open(backend: backend, rangeID: s.rangeID).revokedLeases.isEmpty)
    }

    @Test func snapshotHeaderCarriesItAndVersionOneStillDecodes() throws {
        let backend = InMemoryBackend()
        let s = try freshStore(backend)
        try s.put("a", "1", at: 2)
        try s.commit(appliedIndex: 3)
        var plain: [[UInt8]] = []
        try s.writeSnapshot { plain.append($0) }
        // No record: byte-for-byte the version-1 header an older node sends and expects.
        #expect(plain[0][5] == 0 && plain[0][6] == 1)
        #expect(try SegmentSnapshot.decode(plain).0.revokedLeases.isEmpty)
        s.setRevokedLeases(record)
        try s.commit(appliedIndex: 4)
        var chunks: [[UInt8]] = []
        try s.writeSnapshot(chunkBytes: 7) { chunks.append($0) }  // frames split across chunks
        #expect(SegmentSnapshot.peekHeader(chunks.joined().map { $0 })?.revokedLeases == record)
        let target = InMemoryBackend()
        let installed = try MVCCStore.ingestSnapshot(backend: target, chunks: chunks)
        #expect(installed.revokedLeases == record)
        #expect(try MVCCStore.open(backend: target, rangeID: s.rangeID).revokedLeases == record)
        #expect(try installed.get("a")?.value == b("1"))
    }

    @Test func splitKeepsItOnBothSidesAndMergeTakesTheCallers() throws {
        let backend = InMemoryBackend()
        let left = try freshStore(backend)
        try left.put("k1", "1", at: 2)
        try left.put("k3", "3", at: 3)
        left.setRevokedLeases(record)
        try left.commit(appliedIndex: 5)
        let right = try left.split(at: b("k2"), rightRangeID: RangeID(3), leftDescriptor: [], rightDescriptor: [],
                                   appliedIndex: 6, rightAppliedIndex: 1)
        #expect(left.revokedLeases == record && right.revokedLeases == record)
        #expect(try MVCCStore.open(backend: backend, rangeID: RangeID(3)).revokedLeases == record)
        right.setRevokedLeases([9, 9])
        try right.commit(appliedIndex: 2)
        try left.merge(right, descriptor: [], appliedIndex: 7, revokedLeases: [7, 7, 7])
        #expect(left.revokedLeases == [7, 7, 7])
        #expect(try MVCCStore.open(backend: backend, rangeID: left.rangeID).revokedLeases == [7, 7, 7])
    }

    @Test func txnRefusingLeasesChecksOnlyTheTakenBranch() throws {
        let s = try freshStore()
        let attach = RequestOp.put(PutRequest(key: b("x"), value: [1], lease: 5))
        let taken = TxnRequest(success: [.put(PutRequest(key: b("y"), value: [1])), attach])
        #expect(mvccError { _ = try s.txn(taken, revision: 2, refusingLeases: [5]) } == .leaseNotFound)
        #expect(try s.get("y") == nil, "a refused txn writes nothing")
        let untaken = TxnRequest(compare: [Compare(key: b("y"), target: .version(0), result: .equal)],
                                 success: [.put(PutRequest(key: b("y"), value: [2]))], failure: [attach])
        #expect(try s.txn(untaken, revision: 3, refusingLeases: [5]).succeeded)
        #expect(MVCCError.leaseNotFound.message == "etcdserver: requested lease not found")
        #expect(MVCCError.leaseNotFound.grpcCode == .notFound)
    }
}
