import API
import Foundation
import MVCC
import Testing

/// SingleStoreBackend on its own: page-file persistence, revision numbering, lease expiry
/// loop, watch feed items.
@Suite struct SingleStoreBackendTests {
    @Test func pageFileBackendKeepsDataAcrossReopen() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flotilla-api-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("data.db").path
        do {
            let b = try SingleStoreBackend.open(path: path)
            #expect(try await b.put(PutRequest(key: Array("p".utf8), value: Array("1".utf8))).revision == 2)
            _ = try await b.put(PutRequest(key: Array("p".utf8), value: Array("2".utf8)))
            let status = try await b.status()
            #expect(status.dbSize > 0)
            b.close()
        }
        let reopened = try SingleStoreBackend.open(path: path)
        defer { reopened.close() }
        let r = try await reopened.range(RangeRequest(key: Array("p".utf8)))
        #expect(r.kvs.first?.value == Array("2".utf8))
        #expect(r.revision == 3)
        #expect(try await reopened.put(PutRequest(key: Array("q".utf8))).revision == 4)
    }

    @Test func feedReportsBookmarksEventsAndCompaction() async throws {
        let b = try SingleStoreBackend.inMemory()
        let feed = try await b.watch(WatchSpec(key: Array("f".utf8)))
        var it = feed.makeAsyncIterator()
        _ = try await b.put(PutRequest(key: Array("other".utf8)))  // revision 2
        _ = try await b.put(PutRequest(key: Array("f".utf8)))  // revision 3
        var items: [WatchFeedItem] = []
        while let item = try await it.next() {
            items.append(item)
            if case .events = item { break }
        }
        guard case .events(let events, let synced) = items.last else {
            Issue.record("no events: \(items)")
            return
        }
        #expect(events.map(\.kv.modRevision) == [3])
        #expect(synced == 3)
        for item in items.dropLast() {
            guard case .progress(let r) = item else {
                Issue.record("unexpected \(item)")
                continue
            }
            #expect(r < 3)
        }
        // A feed behind the compacted revision ends with `.compacted`.
        let old = try await b.watch(WatchSpec(key: Array("f".utf8), startRevision: 2))
        _ = try await b.compact(revision: 3, physical: true)
        var oldIt = old.makeAsyncIterator()
        #expect(try await oldIt.next() == .compacted(compactRevision: 3))
        #expect(try await oldIt.next() == nil)
    }

    @Test func expiryLoopRevokesExpiredLeases() async throws {
        var config = SingleStoreBackend.Config()
        config.leaseCheckInterval = .milliseconds(20)
        let clock = ManualLeaseClock()
        let b = try SingleStoreBackend.inMemory(config: config, clock: clock)
        let lease = try await b.leaseGrant(id: 0, ttl: 3)
        _ = try await b.put(PutRequest(key: Array("l".utf8), lease: lease.id))
        let loop = Task { await b.run() }
        defer { loop.cancel() }
        clock.advance(by: .seconds(4))
        var gone = false
        for _ in 0..<200 where !gone {
            try await Task.sleep(for: .milliseconds(10))
            gone = try await b.range(RangeRequest(key: Array("l".utf8))).count == 0
        }
        #expect(gone)
        #expect(try await b.leases().ids.isEmpty)
    }
}
