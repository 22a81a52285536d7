import Foundation
import Proto
import SwiftProtobuf
import Testing

/// Response bodies captured from a real etcd 3.4.23 server (gRPC over h2c with curl,
/// request bodies encoded by protoc from Sources/Proto/protos): after
/// `put foo=bar`, `put foo=baz prev_kv`, `range [f, g)`, `delete foo prev_kv`, and a
/// watch on "foo" from revision 2 with prev_kv. Each must decode to what etcd meant
/// and re-encode to the very same bytes (etcd marshals in field-number order, as
/// swift-protobuf does).
@Suite struct EtcdCapturedBytesTests {
    static let header = "0a180887d5edba8fd59dc10410c0c0caafc1ba96892e"
    static let clusterID: UInt64 = 324_952_591_200_643_719
    static let memberID: UInt64 = 3_319_814_642_761_637_952

    @Test func putResponseWithPrevKv() throws {
        let bytes = WireBytes.hex(Self.header + "18032002" + "12100a03666f6f1002180220012a03626172")
        let put = try Etcdserverpb_PutResponse(serializedBytes: bytes)
        #expect(put.header.clusterID == Self.clusterID)
        #expect(put.header.memberID == Self.memberID)
        #expect(put.header.revision == 3)
        #expect(put.header.raftTerm == 2)
        #expect(put.prevKv.key == Data("foo".utf8))
        #expect(put.prevKv.value == Data("bar".utf8))
        #expect(put.prevKv.createRevision == 2)
        #expect(put.prevKv.modRevision == 2)
        #expect(put.prevKv.version == 1)
        let reencoded: Data = try put.serializedBytes()
        #expect(reencoded == bytes, "got \(WireBytes.describe(reencoded))")
    }

    @Test func rangeResponse() throws {
        let bytes = WireBytes.hex(
            Self.header + "18032002" + "12100a03666f6f1002180320022a0362617a" + "2001")
        let range = try Etcdserverpb_RangeResponse(serializedBytes: bytes)
        #expect(range.kvs.count == 1)
        #expect(range.kvs.first?.value == Data("baz".utf8))
        #expect(range.kvs.first?.modRevision == 3)
        #expect(range.kvs.first?.version == 2)
        #expect(range.count == 1)
        #expect(!range.more)
        let reencoded: Data = try range.serializedBytes()
        #expect(reencoded == bytes, "got \(WireBytes.describe(reencoded))")
    }

    @Test func watchCreatedThenEvents() throws {
        let created = WireBytes.hex(Self.header + "18042002" + "1801")
        let first = try Etcdserverpb_WatchResponse(serializedBytes: created)
        #expect(first.created)
        #expect(first.watchID == 0)
        #expect(first.header.revision == 4)
        #expect(first.events.isEmpty)
        let firstReencoded: Data = try first.serializedBytes()
        #expect(firstReencoded == created, "got \(WireBytes.describe(firstReencoded))")

        let eventsBytes = WireBytes.hex(
            Self.header + "18042002"
                + "5a12" + "12100a03666f6f1002180220012a03626172"
                + "5a24" + "12100a03666f6f1002180320022a0362617a" + "1a100a03666f6f1002180220012a03626172"
                + "5a1d" + "0801" + "12070a03666f6f1804" + "1a100a03666f6f1002180320022a0362617a")
        let second = try Etcdserverpb_WatchResponse(serializedBytes: eventsBytes)
        #expect(second.events.map(\.type) == [.put, .put, .delete])
        #expect(second.events.map(\.kv.modRevision) == [2, 3, 4])
        #expect(second.events.map(\.hasPrevKv) == [false, true, true])
        #expect(second.events[1].prevKv.value == Data("bar".utf8))
        #expect(second.events[2].kv.value.isEmpty)
        #expect(second.events[2].prevKv.value == Data("baz".utf8))
        let secondReencoded: Data = try second.serializedBytes()
        #expect(secondReencoded == eventsBytes, "got \(WireBytes.describe(secondReencoded))")
    }
}
