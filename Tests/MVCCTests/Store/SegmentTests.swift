import Base
import Testing

@testable import MVCC

@Suite struct SegmentTests {
    func populated(_ backend: InMemoryBackend) throws -> MVCCStore {
        let s = try freshStore(backend)
        var rev: Int64 = 1
        for i in 0..<50 {
            rev += 1
            try s.put(String(format2(i)), "v\(i)", at: rev, lease: Int64(i % 3))
        }
        for i in stride(from: 0, to: 50, by: 4) {
            rev += 1
            try s.put(String(format2(i)), "w\(i)", at: rev)
        }
        try s.commit(appliedIndex: 100)
        return s
    }

    func format2(_ i: Int) -> String { i < 10 ? "k0\(i)" : "k\(i)" }

    @Test func splitAndMergeCopyNoRecords() throws {
        let backend = InMemoryBackend()
        let left = try populated(backend)
        let recordsBefore = backend.contents(.records)
        let writes = (backend.writeCount(.records), backend.writeCount(.history), backend.writeCount(.leases))
        let all = try left.range(RangeRequest(key: [0], rangeEnd: [0]))

        let right = try left.split(
            at: b("k25"), rightRangeID: RangeID(3), leftDescriptor: b("L"), rightDescriptor: b("R"),
            appliedIndex: 101, rightAppliedIndex: 5)
        #expect(left.bounds.end == b("k25") && right.bounds.start == b("k25") && right.bounds.end == nil)
        #expect(try left.range(RangeRequest(key: [0], rangeEnd: [0])).kvs == Array(all.kvs[0..<25]))
        #expect(try right.range(RangeRequest(key: [0], rangeEnd: [0])).kvs == Array(all.kvs[25...]))
        #expect(right.currentRevision == left.currentRevision)
        #expect(try right.keys(attachedTo: 1) == all.kvs[25...].filter { $0.lease == 1 }.map(\.key))
        #expect(try left.keys(attachedTo: 1) == all.kvs[..<25].filter { $0.lease == 1 }.map(\.key))
        #expect(try left.keys(attachedTo: 1).count == 6)
        // Both halves reopen from the file.
        let l2 = try MVCCStore.open(backend: backend, rangeID: RangeID(2))
        let r2 = try MVCCStore.open(backend: backend, rangeID: RangeID(3))
        #expect(l2.indexedKeyCount == 25 && r2.indexedKeyCount == 25 && r2.appliedIndex == 5 && l2.appliedIndex == 101)
        #expect(r2.descriptor == b("R"))

        try right.put("k30", "after-split", at: 500)
        try right.commit(appliedIndex: 6)
        let afterWrite = backend.writeCount(.records)
        try left.merge(right, descriptor: b("M"), appliedIndex: 102)
        #expect(left.bounds.end == nil && left.indexedKeyCount == 50)
        #expect(try left.get("k30")?.value == b("after-split"))
        #expect(left.currentRevision == 500)
        #expect(mvccError { _ = try right.range(RangeRequest(key: b("k30"))) } != nil, "the right range is retired")
        #expect(try MVCCStore.rangeIDs(backend: backend) == [RangeID(2)])

        #expect(backend.writeCount(.records) == afterWrite, "merge wrote no record")
        #expect(writes.0 + 1 == afterWrite, "split wrote no record (one put after it)")
        #expect(backend.writeCount(.leases) == writes.2 && backend.writeCount(.history) == writes.1 + 1)
        var expected = recordsBefore
        expected.append((RecordKey.make(b("k30"), Revision(main: 500)), []))
        #expect(backend.contents(.records).map(\.0) == expected.map(\.0).sorted(by: Bytes.less))
        let reopened = try MVCCStore.open(backend: backend, rangeID: RangeID(2))
        #expect(try reopened.range(RangeRequest(key: [0], rangeEnd: [0])).kvs == left.range(RangeRequest(key: [0], rangeEnd: [0])).kvs)
    }

    @Test func snapshotStreamRoundTripsAndReplacesAtomically() throws {
        let source = InMemoryBackend()
        let s = try populated(source)
        try s.compact(40)
        try s.commit(appliedIndex: 120)
        var chunks: [[UInt8]] = []
        try s.writeSnapshot(chunkBytes: 256) { chunks.append($0) }
        #expect(chunks.count > 3)

        // The destination holds stale data of the same span and a neighbour range.
        let dest = InMemoryBackend()
        let stale = try freshStore(dest)
        try stale.put("k07", "stale", at: 2)
        try stale.put("zzz", "stale", at: 3)
        try stale.commit(appliedIndex: 1)
        let ingested = try MVCCStore.ingestSnapshot(backend: dest, chunks: chunks)
        #expect(ingested.appliedIndex == 120 && ingested.compactedRevision == 40)
        #expect(try ingested.range(RangeRequest(key: [0], rangeEnd: [0])).kvs == s.range(RangeRequest(key: [0], rangeEnd: [0])).kvs)
        #expect(try ingested.hashKV() == s.hashKV())
        #expect(try ingested.keys(attachedTo: 2) == s.keys(attachedTo: 2))
        #expect(dest.contents(.records).map(\.0) == source.contents(.records).map(\.0))
        guard case .events(let ev, _) = try ingested.events(key: [0], rangeEnd: [0], fromRevision: 40) else {
            Issue.record("compacted")
            return
        }
        guard case .events(let evSource, _) = try s.events(key: [0], rangeEnd: [0], fromRevision: 40) else {
            Issue.record("compacted")
            return
        }
        #expect(ev == evSource && !ev.isEmpty)
    }

    @Test func corruptOrTruncatedSnapshotsAreRejectedWithoutWriting() throws {
        let s = try populated(InMemoryBackend())
        var chunks: [[UInt8]] = []
        try s.writeSnapshot(chunkBytes: 512) { chunks.append($0) }
        let dest = InMemoryBackend()
        let commits = dest.commitCount
        #expect(mvccError { _ = try MVCCStore.ingestSnapshot(backend: dest, chunks: chunks.dropLast()) } == .corruptSnapshot("no trailer (truncated stream)"))
        var flipped = chunks
        flipped[1][40] ^= 0x01
        let e = mvccError { _ = try MVCCStore.ingestSnapshot(backend: dest, chunks: flipped) }
        if case .corruptSnapshot = e {} else { Issue.record("bit flip not detected: \(String(describing: e))") }
        #expect(dest.commitCount == commits)
    }

    @Test func dropRemovesTheSegmentOnly() throws {
        let backend = InMemoryBackend()
        let left = try populated(backend)
        let right = try left.split(
            at: b("k25"), rightRangeID: RangeID(3), leftDescriptor: [], rightDescriptor: [], appliedIndex: 101,
            rightAppliedIndex: 1)
        try right.drop()
        #expect(try MVCCStore.rangeIDs(backend: backend) == [RangeID(2)])
        #expect(backend.contents(.records).allSatisfy { r in
            r.0.withUnsafeBytes { Bytes.less(RecordKey.decode($0)!.key, b("k25")) }
        })
        #expect(backend.contents(.history).count == backend.contents(.records).count)
        #expect(backend.contents(.leases).allSatisfy { Bytes.less(Array($0.0[8...]), b("k25")) })
        #expect(try left.range(RangeRequest(key: [0], rangeEnd: [0])).count == 25)
    }
}
