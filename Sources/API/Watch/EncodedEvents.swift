import Foundation
import MVCC
import Proto
import SwiftProtobuf
import Synchronization

/// The wire form of recently delivered watch events, shared by every watcher of a node's
/// Watch service: an event seen by many watchers (one put, ten watchers of its key) is
/// converted and protobuf-encoded once, and each watcher's `WatchResponse` carries those
/// bytes. Owns a two-generation cache of encoded events (the older generation is dropped
/// when the newer one holds `generation` events or `generationBytes` bytes, so the cache
/// holds at most about twice that).
///
/// How: `events` is field 11 of `WatchResponse`, the highest field number it has, so a
/// response whose known fields stop before it and whose unknown fields hold the encoded
/// `events` records (tag, length, `Event` bytes) serializes to exactly the bytes of the
/// same response with `events` set — SwiftProtobuf writes known fields in field-number
/// order, then the unknown fields verbatim. Only for serialization: such a response's
/// `events` property is empty in this process.
final class EncodedEvents: Sendable {
    /// One event's `events` record, and the same bytes as a response's unknown fields.
    struct Entry {
        let event: WatchEvent
        let record: Data
        let unknown: UnknownStorage
    }

    struct Key: Hashable {
        let revision: Int64
        let sub: Int64
        let key: [UInt8]
    }

    private struct State {
        var current: [Key: Entry] = [:]
        var previous: [Key: Entry] = [:]
        var currentBytes = 0
        var previousBytes = 0
    }

    /// Entries per generation.
    let generation: Int
    /// Encoded bytes per generation.
    let generationBytes: Int
    private let state = Mutex(State())

    init(generation: Int = 4_096, generationBytes: Int = 16 << 20) {
        self.generation = max(1, generation)
        self.generationBytes = max(1, generationBytes)
    }

    /// Encoded bytes held now (tests).
    var cachedBytes: Int { state.withLock { $0.currentBytes + $0.previousBytes } }

    /// The unknown fields that carry `events` (in order) as `WatchResponse.events`.
    func unknownFields(_ events: [WatchEvent]) throws -> UnknownStorage {
        if events.count == 1 { return try entry(events[0]).unknown }
        var records = Data()
        for e in events { records.append(try entry(e).record) }
        return try Google_Protobuf_Empty(serializedBytes: records).unknownFields
    }

    /// A watch response for `watchID` with `header` and `events`, encoded through the cache.
    func response(watchID: Int64, header: Etcdserverpb_ResponseHeader,
                  events: [WatchEvent]) throws -> Etcdserverpb_WatchResponse {
        var r = Etcdserverpb_WatchResponse()
        r.header = header
        r.watchID = watchID
        r.unknownFields = try unknownFields(events)
        return r
    }

    private func entry(_ e: WatchEvent) throws -> Entry {
        let key = Key(revision: e.kv.modRevision, sub: e.sub, key: e.kv.key)
        let cached = state.withLock { s in s.current[key] ?? s.previous[key] }
        // The key names one write; comparing the whole event keeps even a surprise exact.
        if let cached, cached.event == e { return cached }
        let made = try Self.encode(e)
        let size = made.record.count
        guard size <= generationBytes / 4 else { return made }  // a huge event is not kept
        state.withLock { s in
            if s.current.count >= generation || s.currentBytes + size > generationBytes {
                s.previous = s.current
                s.previousBytes = s.currentBytes
                s.current.removeAll(keepingCapacity: true)
                s.currentBytes = 0
            }
            if let old = s.current.updateValue(made, forKey: key) { s.currentBytes -= old.record.count }
            s.currentBytes += size
        }
        return made
    }

    /// Field 11, length-delimited (tag 0x5A), then the length and the `Event` bytes.
    static func encode(_ e: WatchEvent) throws -> Entry {
        let body: Data = try KVConversion.event(e).serializedBytes()
        var record = Data()
        record.reserveCapacity(body.count + 6)
        record.append(0x5A)
        var n = UInt64(body.count)
        while n >= 0x80 {
            record.append(UInt8(truncatingIfNeeded: n) | 0x80)
            n >>= 7
        }
        record.append(UInt8(n))
        record.append(body)
        let unknown = try Google_Protobuf_Empty(serializedBytes: record).unknownFields
        return Entry(event: e, record: record, unknown: unknown)
    }
}
