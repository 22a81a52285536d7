import Foundation
import Proto
import SwiftProtobuf
import Testing

/// Encodings of etcd KV messages checked against bytes derived by hand from the field
/// numbers in etcd's rpc.proto (tag = field << 3 | wire type; 0 = varint, 2 = length-
/// delimited), then decoded back.
@Suite struct KVWireTests {
    @Test func putRequest() throws {
        var put = Etcdserverpb_PutRequest()
        put.key = Data("a".utf8)
        put.value = Data("b".utf8)
        put.lease = 5
        put.prevKv = true
        // key(1,LEN) "a" | value(2,LEN) "b" | lease(3,varint) 5 | prev_kv(4,varint) 1
        let expected = WireBytes.hex("0A 01 61 | 12 01 62 | 18 05 | 20 01")
        let encoded: Data = try put.serializedBytes()
        #expect(encoded == expected, "got \(WireBytes.describe(encoded))")
        #expect(try Etcdserverpb_PutRequest(serializedBytes: expected) == put)
    }

    @Test func defaultFieldsAreNotEncoded() throws {
        let encoded: Data = try Etcdserverpb_PutRequest().serializedBytes()
        #expect(encoded.isEmpty)
    }

    @Test func rangeRequestWithSortAndFilters() throws {
        var range = Etcdserverpb_RangeRequest()
        range.key = Data("a".utf8)
        range.rangeEnd = Data("b".utf8)
        range.limit = 10
        range.revision = 300
        range.sortOrder = .descend
        range.sortTarget = .mod
        range.serializable = true
        range.keysOnly = true
        range.maxCreateRevision = 7
        // key(1) | range_end(2) | limit(3)=10 | revision(4)=300 as varint AC 02 |
        // sort_order(5)=DESCEND 2 | sort_target(6)=MOD 3 | serializable(7) | keys_only(8) |
        // max_create_revision(13): tag 13<<3 = 0x68
        let expected = WireBytes.hex(
            "0A 01 61 | 12 01 62 | 18 0A | 20 AC 02 | 28 02 | 30 03 | 38 01 | 40 01 | 68 07")
        let encoded: Data = try range.serializedBytes()
        #expect(encoded == expected, "got \(WireBytes.describe(encoded))")
        #expect(try Etcdserverpb_RangeRequest(serializedBytes: expected) == range)
    }

    @Test func negativeInt64IsTenByteVarint() throws {
        // int64 (not sint64): -1 is sign-extended to 64 bits, ten varint bytes.
        var keepAlive = Etcdserverpb_LeaseKeepAliveResponse()
        keepAlive.ttl = -1
        let expected = WireBytes.hex("18 FF FF FF FF FF FF FF FF FF 01")
        let encoded: Data = try keepAlive.serializedBytes()
        #expect(encoded == expected, "got \(WireBytes.describe(encoded))")
        #expect(try Etcdserverpb_LeaseKeepAliveResponse(serializedBytes: expected).ttl == -1)
    }

    @Test func txnWithCompareOneofAndNestedOps() throws {
        var byMod = Etcdserverpb_Compare()
        byMod.result = .greater
        byMod.target = .mod
        byMod.key = Data("k".utf8)
        byMod.modRevision = 7
        var byValue = Etcdserverpb_Compare()
        byValue.result = .equal
        byValue.target = .value
        byValue.key = Data("k".utf8)
        byValue.value = Data("v".utf8)
        byValue.rangeEnd = Data("l".utf8)

        var put = Etcdserverpb_PutRequest()
        put.key = Data("k".utf8)
        put.value = Data("v".utf8)
        var onSuccess = Etcdserverpb_RequestOp()
        onSuccess.requestPut = put
        var get = Etcdserverpb_RangeRequest()
        get.key = Data("k".utf8)
        var onFailure = Etcdserverpb_RequestOp()
        onFailure.requestRange = get

        var txn = Etcdserverpb_TxnRequest()
        txn.compare = [byMod, byValue]
        txn.success = [onSuccess]
        txn.failure = [onFailure]

        // Compare 1: result(1)=GREATER | target(2)=MOD | key(3) "k" | mod_revision(6, oneof)=7
        let compare1 = "08 01 | 10 02 | 1A 01 6B | 30 07"
        // Compare 2: result EQUAL is the default, omitted | target=VALUE | key |
        // value(7, oneof) "v" | range_end(64): tag 64<<3|2 = 514 = varint 82 04
        let compare2 = "10 03 | 1A 01 6B | 3A 01 76 | 82 04 01 6C"
        // RequestOp.request_put(2) wrapping PutRequest{key "k", value "v"}
        let successOp = "12 06 0A 01 6B 12 01 76"
        // RequestOp.request_range(1) wrapping RangeRequest{key "k"}
        let failureOp = "0A 03 0A 01 6B"
        let expected = WireBytes.hex(
            "0A 09 \(compare1) | 0A 0C \(compare2) | 12 08 \(successOp) | 1A 05 \(failureOp)")
        let encoded: Data = try txn.serializedBytes()
        #expect(encoded == expected, "got \(WireBytes.describe(encoded))")

        let decoded = try Etcdserverpb_TxnRequest(serializedBytes: expected)
        #expect(decoded == txn)
        #expect(decoded.compare[0].targetUnion == .modRevision(7))
        #expect(decoded.compare[1].targetUnion == .value(Data("v".utf8)))
        #expect(decoded.success[0].request == .requestPut(put))
        #expect(decoded.failure[0].request == .requestRange(get))
    }

    @Test func compareOneofKeepsPresenceOfZeroValue() throws {
        // A oneof member set to its zero value is still written (etcd's
        // "version == 0" check for "key does not exist" depends on it).
        var absent = Etcdserverpb_Compare()
        absent.key = Data("k".utf8)
        absent.version = 0
        let expected = WireBytes.hex("1A 01 6B | 20 00")
        let encoded: Data = try absent.serializedBytes()
        #expect(encoded == expected, "got \(WireBytes.describe(encoded))")
        #expect(try Etcdserverpb_Compare(serializedBytes: expected).targetUnion == .version(0))
    }

    @Test func rangeResponseDecodesFromEtcdBytes() throws {
        // header(1){cluster_id 1, member_id 2, revision 3, raft_term 4} |
        // kvs(2){key "a", create_revision 2, mod_revision 3, version 1, value(5) "b"} | count(4) 1
        let bytes = WireBytes.hex(
            "0A 08 08 01 10 02 18 03 20 04 | 12 0C 0A 01 61 10 02 18 03 20 01 2A 01 62 | 20 01")
        let response = try Etcdserverpb_RangeResponse(serializedBytes: bytes)
        #expect(response.header.clusterID == 1)
        #expect(response.header.memberID == 2)
        #expect(response.header.revision == 3)
        #expect(response.header.raftTerm == 4)
        #expect(response.kvs.count == 1)
        #expect(response.kvs.first?.key == Data("a".utf8))
        #expect(response.kvs.first?.createRevision == 2)
        #expect(response.kvs.first?.modRevision == 3)
        #expect(response.kvs.first?.version == 1)
        #expect(response.kvs.first?.value == Data("b".utf8))
        #expect(response.kvs.first?.lease == 0)
        #expect(response.count == 1)
        #expect(response.more == false)
        let reencoded: Data = try response.serializedBytes()
        #expect(reencoded == bytes, "got \(WireBytes.describe(reencoded))")
    }

    @Test func unknownFieldsFromNewerServersSurviveARoundTrip() throws {
        // HashKVResponse field 9 does not exist; a newer peer could send it. It must be
        // skipped on decode and kept on re-encode, like Go's XXX_unrecognized.
        let bytes = WireBytes.hex("10 2A | 48 05")
        let response = try Etcdserverpb_HashKVResponse(serializedBytes: bytes)
        #expect(response.hash == 42)
        let reencoded: Data = try response.serializedBytes()
        #expect(reencoded == bytes, "got \(WireBytes.describe(reencoded))")
    }
}
