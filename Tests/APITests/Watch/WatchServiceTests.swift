import API
import Foundation
import GRPCCore
import MVCC
import Proto
import Testing

/// The Watch stream: error-table rows (compacted, negative, empty range, empty key, future
/// start) and stream behaviour (ids, multiplexing, cancel, progress, filters, prev_kv,
/// fragment, history replay, watcher cap).
@Suite struct WatchServiceTests {
    static func keys(_ r: Etcdserverpb_WatchResponse?) -> [String] {
        (r?.events ?? []).map { String(decoding: $0.kv.key, as: UTF8.self) }
    }

    @Test func watchFromCompactedRevisionIsCanceledWithCompactRevision() async throws {
        try await withEtcd(try SingleStoreBackend.inMemory()) { c in
            for i in 0..<5 { _ = try await c.kv.put(putRequest("k", "\(i)")) }
            var compact = Etcdserverpb_CompactionRequest()
            compact.revision = 5
            _ = try await c.kv.compact(compact)
            try await withWatchStream(c) { w in
                w.create("k", start: 2)
                let created = await w.next()
                #expect(created?.created == true)
                let canceled = await w.next()
                #expect(canceled?.canceled == true)
                #expect(canceled?.compactRevision == 5)
                #expect(canceled?.watchID == created?.watchID)
            }
        }
    }

    @Test func negativeStartRevisionIsCreatedAndCanceled() async throws {
        try await withEtcd(try SingleStoreBackend.inMemory()) { c in
            try await withWatchStream(c) { w in
                w.create("k", start: -1)
                let r = await w.next()
                #expect(r?.created == true)
                #expect(r?.canceled == true)
                #expect(r?.cancelReason == "etcdserver: mvcc: required revision has been compacted")
            }
        }
    }

    @Test func keyNotBelowRangeEndIsCanceledAsEmptyRange() async throws {
        try await withEtcd(try SingleStoreBackend.inMemory()) { c in
            try await withWatchStream(c) { w in
                w.create("b", end: "a")
                let r = await w.next()
                #expect(r?.created == true)
                #expect(r?.canceled == true)
                #expect(r?.cancelReason == "mvcc: watcher range is empty")
                #expect(r?.watchID == -1)
                w.create("b", end: "b")
                #expect(await w.next()?.cancelReason == "mvcc: watcher range is empty")
            }
        }
    }

    @Test func emptyKeyIsZeroByteKeyAndZeroRangeEndWatchesEverything() async throws {
        try await withEtcd(try SingleStoreBackend.inMemory()) { c in
            try await withWatchStream(c) { w in
                var create = Etcdserverpb_WatchCreateRequest()
                create.rangeEnd = Data([0])
                var req = Etcdserverpb_WatchRequest()
                req.createRequest = create
                w.send(req)
                #expect(await w.next()?.created == true)
                _ = try await c.kv.put(putRequest("a"))
                _ = try await c.kv.put(putRequest("zzz"))
                var got: [String] = []
                while got.count < 2, let r = await w.next() { got += Self.keys(r) }
                #expect(got == ["a", "zzz"])
            }
        }
    }

    @Test func futureStartRevisionIsSilentUntilReached() async throws {
        try await withEtcd(try SingleStoreBackend.inMemory()) { c in
            let rev = try await c.kv.put(putRequest("other")).header.revision
            try await withWatchStream(c) { w in
                w.create("k", start: rev + 3, progressNotify: true)
                #expect(await w.next()?.created == true)
                _ = try await c.kv.put(putRequest("k", "early"))  // rev + 1: below the start
                _ = try await c.kv.put(putRequest("x"))  // rev + 2
                #expect(await w.silent(for: .milliseconds(200)))
                _ = try await c.kv.put(putRequest("k", "now"))  // rev + 3
                let r = await w.next()
                #expect(r?.events.count == 1)
                #expect(r?.events.first?.kv.value == Data("now"))
                #expect(r?.events.first?.kv.modRevision == rev + 3)
            }
        }
    }

    @Test func autoAndExplicitIdsMultiplexOnOneStream() async throws {
        try await withEtcd(try SingleStoreBackend.inMemory()) { c in
            try await withWatchStream(c) { w in
                w.create("a")
                let first = await w.next()
                #expect(first?.created == true)
                #expect(first?.watchID == 0)
                w.create("b", id: 7)
                #expect(await w.next()?.watchID == 7)
                w.create("b", id: 7)
                let dup = await w.next()
                #expect(dup?.canceled == true)
                #expect(dup?.cancelReason == "mvcc: duplicate watch ID provided on the WatchStream")
                w.create("c")
                #expect(await w.next()?.watchID == 1)
                _ = try await c.kv.put(putRequest("b"))
                _ = try await c.kv.put(putRequest("a"))
                let r1 = await w.next()
                let r2 = await w.next()
                #expect(r1?.watchID == 7)
                #expect(Self.keys(r1) == ["b"])
                #expect(r2?.watchID == 0)
                #expect(Self.keys(r2) == ["a"])
                w.cancel(7)
                let canceled = await w.next()
                #expect(canceled?.canceled == true)
                #expect(canceled?.watchID == 7)
                _ = try await c.kv.put(putRequest("b"))
                #expect(await w.silent(for: .milliseconds(150)))
                // Cancel of an unknown id: no answer.
                w.cancel(99)
                #expect(await w.silent(for: .milliseconds(100)))
            }
        }
    }

    @Test func historyReplayWithPrevKVAndFilters() async throws {
        try await withEtcd(try SingleStoreBackend.inMemory()) { c in
            let start = try await c.kv.put(putRequest("p/1", "a")).header.revision
            _ = try await c.kv.put(putRequest("p/1", "b"))
            var d = Etcdserverpb_DeleteRangeRequest()
            d.key = Data("p/1")
            _ = try await c.kv.deleteRange(d)
            try await withWatchStream(c) { w in
                w.create("p/", end: "p0", start: start, prevKV: true)
                #expect(await w.next()?.created == true)
                var events: [Mvccpb_Event] = []
                while events.count < 3, let r = await w.next() { events += r.events }
                #expect(events.map(\.type) == [.put, .put, .delete])
                #expect(events[1].prevKv.value == Data("a"))
                #expect(events[2].prevKv.value == Data("b"))
                w.create("p/", end: "p0", start: start, filters: [.noput])
                #expect(await w.next()?.created == true)
                let onlyDelete = await w.next()
                #expect(onlyDelete?.events.map(\.type) == [.delete])
                w.create("p/", end: "p0", start: start, filters: [.nodelete])
                #expect(await w.next()?.created == true)
                var puts: [Mvccpb_Event] = []
                while puts.count < 2, let r = await w.next() { puts += r.events }
                #expect(puts.map(\.type) == [.put, .put])
            }
        }
    }

    @Test func requestProgressAndProgressNotify() async throws {
        var limits = EtcdLimits()
        limits.progressNotifyInterval = .milliseconds(100)
        try await withEtcd(try SingleStoreBackend.inMemory(), limits: limits) { c in
            let rev = try await c.kv.put(putRequest("x")).header.revision
            try await withWatchStream(c) { w in
                w.create("k", progressNotify: true)
                #expect(await w.next()?.created == true)
                let tick = await w.next(timeout: .seconds(120))
                #expect(tick?.watchID == 0)
                #expect(tick?.events.isEmpty == true)
                #expect(tick?.header.revision == rev)
                w.requestProgress()
                var progress: Etcdserverpb_WatchResponse?
                while let r = await w.next(timeout: .seconds(120)) {
                    if r.watchID == -1 {
                        progress = r
                        break
                    }
                }
                #expect(progress?.header.revision == rev)
                #expect(progress?.events.isEmpty == true)
            }
        }
    }

    @Test func fragmentSplitsLargeRevisions() async throws {
        var limits = EtcdLimits()
        limits.maxRequestBytes = 4096
        let backend = try SingleStoreBackend.inMemory()
        try await withEtcd(backend, limits: limits) { c in
            let start = try await c.kv.put(putRequest("seed")).header.revision + 1
            // Written directly: through the service the txn itself would exceed the small limit.
            let puts: [RequestOp] = (0..<10).map { i in
                .put(PutRequest(key: Array("f/\(i)".utf8), value: [UInt8](repeating: 0x76, count: 1000)))
            }
            _ = try await backend.txn(TxnRequest(success: puts))
            try await withWatchStream(c) { w in
                w.create("f/", end: "f0", start: start, fragment: true)
                #expect(await w.next()?.created == true)
                var parts: [Etcdserverpb_WatchResponse] = []
                var total = 0
                while total < 10, let r = await w.next() {
                    parts.append(r)
                    total += r.events.count
                }
                #expect(total == 10)
                #expect(parts.count > 1)
                let allButLastFragmented = parts.dropLast().allSatisfy { $0.fragment }
                #expect(allButLastFragmented)
                #expect(parts.last?.fragment == false)
                w.create("f/", end: "f0", start: start)
                #expect(await w.next()?.created == true)
                #expect(await w.next()?.events.count == 10)
            }
        }
    }

    @Test func watcherCapRefusesCreationsBeyondIt() async throws {
        var limits = EtcdLimits()
        limits.maxWatchersPerStream = 3
        try await withEtcd(try SingleStoreBackend.inMemory(), limits: limits) { c in
            try await withWatchStream(c) { w in
                for i in 0..<5 { w.create("k\(i)") }
                var created = 0
                var refused = 0
                for _ in 0..<5 {
                    guard let r = await w.next() else { break }
                    if r.canceled { refused += 1 } else if r.created { created += 1 }
                }
                #expect(created == 3)
                #expect(refused == 2)
            }
        }
    }

    @Test func smallResponseBufferKeepsEveryEventInOrder() async throws {
        // Many writes with a small response buffer: the stream keeps delivering in order.
        var limits = EtcdLimits()
        limits.watchResponsesBuffered = 2
        try await withEtcd(try SingleStoreBackend.inMemory(), limits: limits) { c in
            try await withWatchStream(c) { w in
                w.create("s")
                #expect(await w.next()?.created == true)
                for i in 0..<50 { _ = try await c.kv.put(putRequest("s", "\(i)")) }
                var values: [String] = []
                while values.count < 50, let r = await w.next() {
                    values += r.events.map { String(decoding: $0.kv.value, as: UTF8.self) }
                }
                #expect(values == (0..<50).map(String.init))
            }
        }
    }
}
