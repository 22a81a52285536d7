import Foundation
import Proto
import Testing

@testable import flotctl

/// Golden strings below were printed by etcdctl 3.4.23 against etcd 3.4.23 on this machine.
@Suite struct OutputFormatTests {
    static func header(revision: Int64) -> Etcdserverpb_ResponseHeader {
        var h = Etcdserverpb_ResponseHeader()
        h.clusterID = 14_443_903_163_313_418_560
        h.memberID = 11_417_610_130_673_999_598
        h.revision = revision
        h.raftTerm = 2
        return h
    }

    static func kv(_ k: String, _ v: String, create: Int64, mod: Int64, version: Int64) -> Mvccpb_KeyValue {
        var kv = Mvccpb_KeyValue()
        kv.key = Data(k.utf8)
        kv.value = Data(v.utf8)
        kv.createRevision = create
        kv.modRevision = mod
        kv.version = version
        return kv
    }

    static var twoKeys: Etcdserverpb_RangeResponse {
        var r = Etcdserverpb_RangeResponse()
        r.header = header(revision: 4)
        r.kvs = [kv("foo", "bar", create: 2, mod: 2, version: 1), kv("foo2", "baz2", create: 3, mod: 4, version: 2)]
        r.count = 2
        return r
    }

    @Test func getJSONMatchesEtcdctl() {
        #expect(EtcdJSON.range(Self.twoKeys).serialized == #"{"header":{"cluster_id":14443903163313418560,"member_id":11417610130673999598,"revision":4,"raft_term":2},"kvs":[{"key":"Zm9v","create_revision":2,"mod_revision":2,"version":1,"value":"YmFy"},{"key":"Zm9vMg==","create_revision":3,"mod_revision":4,"version":2,"value":"YmF6Mg=="}],"count":2}"#)
    }

    @Test func getSimpleForms() {
        #expect(SimpleFormat.range(Self.twoKeys) == "foo\nbar\nfoo2\nbaz2\n")
        #expect(SimpleFormat.range(Self.twoKeys, valueOnly: true) == "bar\nbaz2\n")
        #expect(SimpleFormat.range(Self.twoKeys, countOnly: true) == "2\n")
    }

    @Test func putAndDeleteMatchEtcdctl() {
        var p = Etcdserverpb_PutResponse()
        p.header = Self.header(revision: 18)
        p.prevKv = Self.kv("k", "v", create: 17, mod: 17, version: 1)
        #expect(EtcdJSON.put(p).serialized == #"{"header":{"cluster_id":14443903163313418560,"member_id":11417610130673999598,"revision":18,"raft_term":2},"prev_kv":{"key":"aw==","create_revision":17,"mod_revision":17,"version":1,"value":"dg=="}}"#)
        #expect(SimpleFormat.put(p) == "OK\nk\nv\n")
        var d = Etcdserverpb_DeleteRangeResponse()
        d.header = Self.header(revision: 9)
        d.deleted = 1
        d.prevKvs = [Self.kv("a", "1", create: 8, mod: 8, version: 1)]
        #expect(EtcdJSON.delete(d).serialized == #"{"header":{"cluster_id":14443903163313418560,"member_id":11417610130673999598,"revision":9,"raft_term":2},"deleted":1,"prev_kvs":[{"key":"YQ==","create_revision":8,"mod_revision":8,"version":1,"value":"MQ=="}]}"#)
        #expect(SimpleFormat.delete(d) == "1\na\n1\n")
    }

    @Test func txnMatchesEtcdctl() {
        var t = Etcdserverpb_TxnResponse()
        t.header = Self.header(revision: 11)
        var range = Etcdserverpb_RangeResponse()
        range.header.revision = 10
        range.kvs = [Self.kv("foo", "x", create: 2, mod: 10, version: 2)]
        range.count = 1
        var put = Etcdserverpb_PutResponse()
        put.header.revision = 11
        var op1 = Etcdserverpb_ResponseOp()
        op1.responseRange = range
        var op2 = Etcdserverpb_ResponseOp()
        op2.responsePut = put
        t.responses = [op1, op2]
        #expect(EtcdJSON.txn(t).serialized == #"{"header":{"cluster_id":14443903163313418560,"member_id":11417610130673999598,"revision":11,"raft_term":2},"responses":[{"Response":{"ResponseRange":{"header":{"revision":10},"kvs":[{"key":"Zm9v","create_revision":2,"mod_revision":10,"version":2,"value":"eA=="}],"count":1}}},{"Response":{"ResponsePut":{"header":{"revision":11}}}}]}"#)
        t.succeeded = true
        var del = Etcdserverpb_ResponseOp()
        var dr = Etcdserverpb_DeleteRangeResponse()
        dr.deleted = 1
        del.responseDeleteRange = dr
        t.responses = [op2, op1, del]
        #expect(SimpleFormat.txn(t) == "SUCCESS\n\nOK\n\nfoo\nx\n\n1\n")
    }

    @Test func watchEventsMatchEtcdctl() {
        var r = Etcdserverpb_WatchResponse()
        r.header = Self.header(revision: 14)
        var e = Mvccpb_Event()
        e.type = .delete
        var k = Mvccpb_KeyValue()
        k.key = Data("w1".utf8)
        k.modRevision = 14
        e.kv = k
        r.events = [e]
        #expect(EtcdJSON.watch(r).serialized == #"{"Header":{"cluster_id":14443903163313418560,"member_id":11417610130673999598,"revision":14,"raft_term":2},"Events":[{"type":1,"kv":{"key":"dzE=","mod_revision":14}}],"CompactRevision":0,"Canceled":false,"Created":false}"#)
        e.prevKv = Self.kv("w1", "b", create: 12, mod: 13, version: 2)
        var put = Mvccpb_Event()
        put.kv = Self.kv("w1", "a", create: 12, mod: 12, version: 1)
        r.events = [put, e]
        #expect(SimpleFormat.watch(r) == "PUT\nw1\na\nDELETE\nw1\nb\nw1\n\n")
    }

    @Test func leaseFormsMatchEtcdctl() {
        var g = Etcdserverpb_LeaseGrantResponse()
        g.header = Self.header(revision: 14)
        g.id = 2_228_896_973_276_292_123
        g.ttl = 100
        #expect(SimpleFormat.leaseGrant(g) == "lease 1eeea1fced13a41b granted with TTL(100s)\n")
        #expect(EtcdJSON.leaseGrant(g).serialized == #"{"cluster_id":14443903163313418560,"member_id":11417610130673999598,"revision":14,"raft_term":2,"ID":2228896973276292123,"TTL":100,"Error":""}"#)
        var t = Etcdserverpb_LeaseTimeToLiveResponse()
        t.header = Self.header(revision: 15)
        t.id = 2_228_896_973_276_292_125
        t.ttl = 49
        t.grantedTtl = 50
        t.keys = [Data("lk".utf8)]
        #expect(SimpleFormat.leaseTimeToLive(t, keys: true) == "lease 1eeea1fced13a41d granted with TTL(50s), remaining(49s), attached keys([lk])\n")
        #expect(SimpleFormat.leaseTimeToLive(t, keys: false) == "lease 1eeea1fced13a41d granted with TTL(50s), remaining(49s)\n")
        #expect(EtcdJSON.leaseTimeToLive(t).serialized == #"{"cluster_id":14443903163313418560,"member_id":11417610130673999598,"revision":15,"raft_term":2,"id":2228896973276292125,"ttl":49,"granted-ttl":50,"keys":["bGs="]}"#)
        var expired = Etcdserverpb_LeaseTimeToLiveResponse()
        expired.id = t.id
        expired.ttl = -1
        #expect(SimpleFormat.leaseTimeToLive(expired, keys: false) == "lease 1eeea1fced13a41d already expired\n")
        var ka = Etcdserverpb_LeaseKeepAliveResponse()
        ka.header = Self.header(revision: 15)
        ka.id = t.id
        ka.ttl = 50
        #expect(SimpleFormat.leaseKeepAlive(ka) == "lease 1eeea1fced13a41d keepalived with TTL(50)\n")
        #expect(EtcdJSON.leaseKeepAlive(ka).serialized == #"{"cluster_id":14443903163313418560,"member_id":11417610130673999598,"revision":15,"raft_term":2,"ID":2228896973276292125,"TTL":50}"#)
        var l = Etcdserverpb_LeaseLeasesResponse()
        var s = Etcdserverpb_LeaseStatus()
        s.id = t.id
        l.leases = [s]
        #expect(SimpleFormat.leaseLeases(l) == "found 1 leases\n1eeea1fced13a41d\n")
        #expect(SimpleFormat.leaseID(-1) == "ffffffffffffffff")
        #expect(SimpleFormat.leaseID(1) == "0000000000000001")
    }

    @Test func memberListMatchesEtcdctl() {
        var r = Etcdserverpb_MemberListResponse()
        var h = Self.header(revision: 0)
        h.revision = 0
        r.header = h
        var m = Etcdserverpb_Member()
        m.id = 11_417_610_130_673_999_598
        m.name = "ref"
        m.peerUrls = ["http://127.0.0.1:22380"]
        m.clientUrls = ["http://127.0.0.1:22379"]
        r.members = [m]
        #expect(SimpleFormat.memberList(r) == "9e737febb6b99eee, started, ref, http://127.0.0.1:22380, http://127.0.0.1:22379, false\n")
        #expect(EtcdJSON.memberList(r).serialized == #"{"header":{"cluster_id":14443903163313418560,"member_id":11417610130673999598,"raft_term":2},"members":[{"ID":11417610130673999598,"name":"ref","peerURLs":["http://127.0.0.1:22380"],"clientURLs":["http://127.0.0.1:22379"]}]}"#)
        let table = MemberCommand.List.render(r, .table)
        #expect(table == """
            +------------------+---------+------+------------------------+------------------------+------------+
            |        ID        | STATUS  | NAME |       PEER ADDRS       |      CLIENT ADDRS      | IS LEARNER |
            +------------------+---------+------+------------------------+------------------------+------------+
            | 9e737febb6b99eee | started |  ref | http://127.0.0.1:22380 | http://127.0.0.1:22379 |      false |
            +------------------+---------+------+------------------------+------------------------+------------+

            """)
    }

    @Test func endpointStatusMatchesEtcdctl() {
        var s = Etcdserverpb_StatusResponse()
        s.header = Self.header(revision: 16)
        s.version = "3.4.23"
        s.dbSize = 20480
        s.leader = 11_417_610_130_673_999_598
        s.raftIndex = 27
        s.raftTerm = 2
        s.raftAppliedIndex = 27
        s.dbSizeInUse = 16384
        let rows = [(endpoint: "127.0.0.1:22379", status: s)]
        #expect(SimpleFormat.endpointStatus(rows) == "127.0.0.1:22379, 9e737febb6b99eee, 3.4.23, 20 kB, true, false, 2, 27, 27, \n")
        #expect(EtcdJSON.endpointStatus(rows).serialized == #"[{"Endpoint":"127.0.0.1:22379","Status":{"header":{"cluster_id":14443903163313418560,"member_id":11417610130673999598,"revision":16,"raft_term":2},"version":"3.4.23","dbSize":20480,"leader":11417610130673999598,"raftIndex":27,"raftTerm":2,"raftAppliedIndex":27,"dbSizeInUse":16384}}]"#)
        #expect(EndpointCommand.Status.render(rows, .table) == """
            +-----------------+------------------+---------+---------+-----------+------------+-----------+------------+--------------------+--------+
            |    ENDPOINT     |        ID        | VERSION | DB SIZE | IS LEADER | IS LEARNER | RAFT TERM | RAFT INDEX | RAFT APPLIED INDEX | ERRORS |
            +-----------------+------------------+---------+---------+-----------+------------+-----------+------------+--------------------+--------+
            | 127.0.0.1:22379 | 9e737febb6b99eee |  3.4.23 |   20 kB |      true |      false |         2 |         27 |                 27 |        |
            +-----------------+------------------+---------+---------+-----------+------------+-----------+------------+--------------------+--------+

            """)
    }

    @Test func humanBytesLikeGoHumanize() {
        #expect(SimpleFormat.humanBytes(0) == "0 B")
        #expect(SimpleFormat.humanBytes(9) == "9 B")
        #expect(SimpleFormat.humanBytes(512) == "512 B")
        #expect(SimpleFormat.humanBytes(20480) == "20 kB")
        #expect(SimpleFormat.humanBytes(1_500_000) == "1.5 MB")
        #expect(SimpleFormat.humanBytes(2_147_483_648) == "2.1 GB")
    }

    @Test func jsonEscapesLikeGo() {
        #expect(JSONValue.string("a\"b\\c\n<&>\u{1}").serialized == #""a\"b\\c\n\u003c\u0026\u003e\u0001""#)
        #expect(JSONValue.object([("k", .null), ("n", .int(UInt64.max))]).serialized == #"{"k":null,"n":18446744073709551615}"#)
    }
}
