import Foundation
import Proto
import SwiftProtobuf
import Testing

/// Watch and Lease messages against hand-derived etcd wire bytes.
@Suite struct WatchLeaseWireTests {
    @Test func watchCreateRequest() throws {
        var create = Etcdserverpb_WatchCreateRequest()
        create.key = Data("a".utf8)
        create.rangeEnd = Data("b".utf8)
        create.startRevision = 5
        create.progressNotify = true
        create.filters = [.noput, .nodelete]
        create.prevKv = true
        create.watchID = 3
        create.fragment = true
        var request = Etcdserverpb_WatchRequest()
        request.createRequest = create

        // key(1) | range_end(2) | start_revision(3)=5 | progress_notify(4) |
        // filters(5) packed: LEN 2 [0, 1] | prev_kv(6) | watch_id(7)=3 | fragment(8)
        let inner = "0A 01 61 | 12 01 62 | 18 05 | 20 01 | 2A 02 00 01 | 30 01 | 38 03 | 40 01"
        // WatchRequest.create_request(1), 20 bytes
        let expected = WireBytes.hex("0A 14 \(inner)")
        let encoded: Data = try request.serializedBytes()
        #expect(encoded == expected, "got \(WireBytes.describe(encoded))")
        #expect(try Etcdserverpb_WatchRequest(serializedBytes: expected) == request)
    }

    @Test func unpackedFiltersAreAcceptedToo() throws {
        // Decoders must take repeated enums packed or not; an old client may send
        // filters(5) as two varint fields 0x28.
        let bytes = WireBytes.hex("0A 01 61 | 28 01 | 28 00")
        let create = try Etcdserverpb_WatchCreateRequest(serializedBytes: bytes)
        #expect(create.filters == [.nodelete, .noput])
    }

    @Test func watchCancelAndProgressRequests() throws {
        var cancel = Etcdserverpb_WatchCancelRequest()
        cancel.watchID = 3
        var request = Etcdserverpb_WatchRequest()
        request.cancelRequest = cancel
        // cancel_request(2){watch_id(1)=3}
        let cancelBytes: Data = try request.serializedBytes()
        #expect(cancelBytes == WireBytes.hex("12 02 08 03"), "got \(WireBytes.describe(cancelBytes))")

        // Cancelling watch 0 still writes the (empty) oneof member.
        request.cancelRequest = Etcdserverpb_WatchCancelRequest()
        let cancelZero: Data = try request.serializedBytes()
        #expect(cancelZero == WireBytes.hex("12 00"), "got \(WireBytes.describe(cancelZero))")

        request.progressRequest = Etcdserverpb_WatchProgressRequest()
        let progress: Data = try request.serializedBytes()
        #expect(progress == WireBytes.hex("1A 00"), "got \(WireBytes.describe(progress))")

        let decoded = try Etcdserverpb_WatchRequest(serializedBytes: WireBytes.hex("12 02 08 03"))
        #expect(decoded.requestUnion == .cancelRequest(cancel))
    }

    @Test func watchResponseWithEvent() throws {
        var kv = Mvccpb_KeyValue()
        kv.key = Data("a".utf8)
        kv.modRevision = 9
        var event = Mvccpb_Event()
        event.type = .delete
        event.kv = kv
        var response = Etcdserverpb_WatchResponse()
        response.watchID = 3
        response.events = [event]

        // watch_id(2)=3 | events(11): tag 11<<3|2 = 0x5A,
        //   Event{type(1)=DELETE, kv(2){key "a", mod_revision(3)=9}}
        let expected = WireBytes.hex("10 03 | 5A 09 08 01 12 05 0A 01 61 18 09")
        let encoded: Data = try response.serializedBytes()
        #expect(encoded == expected, "got \(WireBytes.describe(encoded))")
        let decoded = try Etcdserverpb_WatchResponse(serializedBytes: expected)
        #expect(decoded == response)
        #expect(decoded.events.first?.hasPrevKv == false)
    }

    @Test func leaseGrantRequest() throws {
        var grant = Etcdserverpb_LeaseGrantRequest()
        grant.ttl = 60
        grant.id = 0x1234
        // TTL(1)=60 | ID(2)=4660 as varint B4 24
        let expected = WireBytes.hex("08 3C | 10 B4 24")
        let encoded: Data = try grant.serializedBytes()
        #expect(encoded == expected, "got \(WireBytes.describe(encoded))")
        #expect(try Etcdserverpb_LeaseGrantRequest(serializedBytes: expected) == grant)
    }

    @Test func leaseTimeToLiveResponseRepeatedBytes() throws {
        var ttl = Etcdserverpb_LeaseTimeToLiveResponse()
        ttl.id = 7
        ttl.ttl = 30
        ttl.grantedTtl = 60
        ttl.keys = [Data("a".utf8), Data("bc".utf8)]
        // ID(2) | TTL(3) | grantedTTL(4) | keys(5) twice, one LEN field per element
        let expected = WireBytes.hex("10 07 | 18 1E | 20 3C | 2A 01 61 | 2A 02 62 63")
        let encoded: Data = try ttl.serializedBytes()
        #expect(encoded == expected, "got \(WireBytes.describe(encoded))")
        #expect(try Etcdserverpb_LeaseTimeToLiveResponse(serializedBytes: expected) == ttl)
    }

    @Test func memberAndAuthMessages() throws {
        var member = Etcdserverpb_Member()
        member.id = 1
        member.name = "n1"
        member.peerUrls = ["http://p"]
        member.isLearner = true
        // ID(1) | name(2) "n1" | peerURLs(3) "http://p" | isLearner(5)
        let memberBytes = WireBytes.hex("08 01 | 12 02 6E 31 | 1A 08 68 74 74 70 3A 2F 2F 70 | 28 01")
        let encodedMember: Data = try member.serializedBytes()
        #expect(encodedMember == memberBytes, "got \(WireBytes.describe(encodedMember))")

        var permission = Authpb_Permission()
        permission.permType = .readwrite
        permission.key = Data("a".utf8)
        permission.rangeEnd = Data("b".utf8)
        var grant = Etcdserverpb_AuthRoleGrantPermissionRequest()
        grant.name = "r"
        grant.perm = permission
        // name(1) "r" | perm(2){permType(1)=READWRITE 2, key(2) "a", range_end(3) "b"}
        let grantBytes = WireBytes.hex("0A 01 72 | 12 08 08 02 12 01 61 1A 01 62")
        let encodedGrant: Data = try grant.serializedBytes()
        #expect(encodedGrant == grantBytes, "got \(WireBytes.describe(encodedGrant))")
        #expect(try Etcdserverpb_AuthRoleGrantPermissionRequest(serializedBytes: grantBytes) == grant)
    }
}
