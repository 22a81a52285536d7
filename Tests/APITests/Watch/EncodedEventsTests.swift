@testable import API
import Base
import Foundation
import MVCC
import Proto
import Testing

/// Watch responses whose events are encoded once (`EncodedEvents`) serialize to exactly
/// the bytes of the same response built with `events` set, whatever the events (puts,
/// deletes, prev_kv, several per response, large values), through cache hits and
/// generation turnover.
@Suite struct EncodedEventsTests {
    static func randomEvent(_ rng: inout SeededGenerator, revision: Int64) -> WatchEvent {
        let key = Array("k\(Int.random(in: 0..<20, using: &rng))".utf8)
        let size = [0, 1, 8, 127, 128, 300, 20_000].randomElement(using: &rng)!
        let value = (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let kv = KeyValue(key: key, createRevision: max(1, revision - 3), modRevision: revision,
                          version: Int64.random(in: 1...9, using: &rng), value: value,
                          lease: Bool.random(using: &rng) ? 0 : 7)
        let prev = Bool.random(using: &rng)
            ? KeyValue(key: key, createRevision: 1, modRevision: revision - 1, version: 1, value: [9, 9]) : nil
        if Int.random(in: 0..<4, using: &rng) == 0 {
            return WatchEvent(kind: .delete, kv: KeyValue(key: key, modRevision: revision), prevKV: prev, sub: 0)
        }
        return WatchEvent(kind: .put, kv: kv, prevKV: prev, sub: Int64.random(in: 0..<3, using: &rng))
    }

    static func plain(watchID: Int64, header: Etcdserverpb_ResponseHeader, events: [WatchEvent]) -> Etcdserverpb_WatchResponse {
        var r = Etcdserverpb_WatchResponse()
        r.header = header
        r.watchID = watchID
        r.events = events.map(KVConversion.event)
        return r
    }

    @Test(arguments: [UInt64(5), 6, 7])
    func encodedResponsesAreByteIdenticalToPlainOnes(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        // Small: generations turn over during the test, by count and by bytes.
        let cache = EncodedEvents(generation: 8, generationBytes: 64 << 10)
        var recent: [WatchEvent] = []
        for i in 0..<300 {
            let n = Int.random(in: 1...4, using: &rng)
            var events: [WatchEvent] = []
            for j in 0..<n {
                // Often an event delivered before (another watcher of the same key).
                if !recent.isEmpty && Bool.random(using: &rng) {
                    events.append(recent.randomElement(using: &rng)!)
                } else {
                    events.append(Self.randomEvent(&rng, revision: Int64(1_000 + i * 4 + j)))
                }
            }
            recent = Array((recent + events).suffix(30))
            var header = Etcdserverpb_ResponseHeader()
            header.clusterID = 11
            header.memberID = 12
            header.raftTerm = 3
            header.revision = Int64(1_000 + i)
            let watchID = Int64.random(in: 0..<100, using: &rng)
            let encoded = try cache.response(watchID: watchID, header: header, events: events)
            let expected = Self.plain(watchID: watchID, header: header, events: events)
            let got: [UInt8] = try encoded.serializedBytes()
            let want: [UInt8] = try expected.serializedBytes()
            #expect(got == want, "seed \(seed), response \(i): \(events.count) events")
            let decoded = try Etcdserverpb_WatchResponse(serializedBytes: got)
            #expect(decoded == expected, "seed \(seed), response \(i) decodes to other events")
            #expect(cache.cachedBytes <= 2 * (64 << 10), "seed \(seed): the cache holds \(cache.cachedBytes) bytes")
        }
    }

    @Test func anEventUnderACachedKeyWithOtherContentIsEncodedAfresh() throws {
        let cache = EncodedEvents()
        let a = WatchEvent(kind: .put, kv: KeyValue(key: [1], modRevision: 5, version: 1, value: [1]), prevKV: nil, sub: 0)
        var b = a
        b.prevKV = KeyValue(key: [1], modRevision: 4, version: 1, value: [2])  // same write, asked with prev_kv
        for e in [a, b, a, b] {
            let got: [UInt8] = try cache.response(watchID: 1, header: .init(), events: [e]).serializedBytes()
            let want: [UInt8] = try Self.plain(watchID: 1, header: .init(), events: [e]).serializedBytes()
            #expect(got == want)
        }
    }
}
