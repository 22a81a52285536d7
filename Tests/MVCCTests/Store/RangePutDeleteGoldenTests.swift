import Base
import Testing

@testable import MVCC

/// Golden answers for Range / Put / DeleteRange, as etcd gives them.
@Suite struct RangePutDeleteGoldenTests {
    @Test func putTracksCreateModVersionAcrossGenerations() throws {
        let s = try freshStore()
        try s.put("a", "1", at: 5)
        try s.put("a", "2", at: 9)
        var kv = try #require(try s.get("a"))
        #expect((kv.createRevision, kv.modRevision, kv.version, kv.value) == (5, 9, 2, b("2")))
        _ = try s.deleteRange(DeleteRangeRequest(key: b("a")), revision: 12)
        #expect(try s.get("a") == nil)
        try s.put("a", "3", at: 20)
        kv = try #require(try s.get("a"))
        #expect((kv.createRevision, kv.modRevision, kv.version) == (20, 20, 1))
        #expect(try s.get("a", at: 9)?.value == b("2"))
        #expect(try s.get("a", at: 12) == nil)
        #expect(try s.get("a", at: 15) == nil)
        #expect(try s.get("a", at: 6)?.version == 1)
    }

    @Test func revisionsMayHaveGapsButMustIncrease() throws {
        let s = try freshStore()
        try s.put("a", "1", at: 100)
        #expect(mvccError { try s.put("b", "1", at: 100) } == .revisionNotIncreasing(given: 100, current: 100))
        #expect(mvccError { try s.put("b", "1", at: 7) } == .revisionNotIncreasing(given: 7, current: 100))
        #expect(try s.get("b") == nil, "a rejected write changes nothing")
        #expect(try s.put("b", "1", at: 250).revision == 250)
        #expect(try s.range(RangeRequest(key: b("a"))).revision == 250)
        #expect(try s.get("a", at: 180)?.modRevision == 100, "a revision inside a gap is readable")
    }

    func populated() throws -> MVCCStore {
        let s = try freshStore()
        try s.put("a", "v-a", at: 2)
        try s.put("b", "v-b", at: 3)
        try s.put("c", "v-c1", at: 4)
        try s.put("c", "v-c2", at: 5)
        try s.put("d", "v-d", at: 6)
        try s.put("e/1", "z", at: 7)
        try s.put("e/2", "y", at: 8)
        return s
    }

    @Test func rangeEndForms() throws {
        let s = try populated()
        #expect(try s.keys(RangeRequest(key: b("b"))) == ["b"])
        #expect(try s.keys(RangeRequest(key: b("b"), rangeEnd: b("d"))) == ["b", "c"])
        #expect(try s.keys(RangeRequest(key: b("c"), rangeEnd: [0])) == ["c", "d", "e/1", "e/2"])
        #expect(try s.keys(RangeRequest(key: b("e/"), rangeEnd: b("e0"))) == ["e/1", "e/2"], "prefix")
        #expect(try s.keys(RangeRequest(key: [0], rangeEnd: [0])) == ["a", "b", "c", "d", "e/1", "e/2"], "all keys")
        #expect(try s.keys(RangeRequest(key: b("d"), rangeEnd: b("b"))) == [], "range_end < key")
        #expect(try s.keys(RangeRequest(key: b("d"), rangeEnd: b("d"))) == [], "range_end == key")
        #expect(try s.keys(RangeRequest(key: b("zz"))) == [])
    }

    @Test func limitMoreCount() throws {
        let s = try populated()
        let r = try s.range(RangeRequest(key: b("a"), rangeEnd: [0], limit: 2))
        #expect(r.kvs.map(\.key) == [b("a"), b("b")])
        #expect(r.more && r.count == 6 && r.revision == 8)
        let all = try s.range(RangeRequest(key: b("a"), rangeEnd: [0], limit: 6))
        #expect(!all.more && all.kvs.count == 6 && all.count == 6)
        let co = try s.range(RangeRequest(key: b("a"), rangeEnd: [0], limit: 1, countOnly: true))
        #expect(co.kvs.isEmpty && co.count == 6 && !co.more)
        let ko = try s.range(RangeRequest(key: b("c"), keysOnly: true))
        #expect(ko.kvs.first?.value == [] && ko.kvs.first?.version == 2)
    }

    @Test func readsAtRevisions() throws {
        let s = try populated()
        #expect(try s.range(RangeRequest(key: b("c"), revision: 4)).kvs.first?.value == b("v-c1"))
        #expect(try s.range(RangeRequest(key: b("c"), revision: 4)).revision == 8, "header is the current revision")
        #expect(try s.keys(RangeRequest(key: b("a"), rangeEnd: [0], revision: 3)) == ["a", "b"])
        #expect(try s.range(RangeRequest(key: b("a"), rangeEnd: [0], revision: 3)).count == 2)
        #expect(try s.range(RangeRequest(key: b("c"), revision: -5)).kvs.first?.value == b("v-c2"), "<= 0 is current")
        #expect(mvccError { _ = try s.range(RangeRequest(key: b("c"), revision: 9)) } == .futureRevision)
        try s.compact(5)
        #expect(mvccError { _ = try s.range(RangeRequest(key: b("c"), revision: 4)) } == .compacted)
        #expect(try s.range(RangeRequest(key: b("c"), revision: 5)).kvs.first?.value == b("v-c2"))
        #expect(try s.range(RangeRequest(key: b("a"), revision: 5)).kvs.first?.value == b("v-a"))
    }

    @Test func sortOrdersAndTargets() throws {
        let s = try populated()
        let all = RangeRequest(key: b("a"), rangeEnd: [0])
        var r = all
        r.sortOrder = .descend
        #expect(try s.keys(r) == ["e/2", "e/1", "d", "c", "b", "a"])
        r = all
        r.sortTarget = .value  // order NONE with a non-key target sorts ascending
        #expect(try s.keys(r) == ["a", "b", "c", "d", "e/2", "e/1"])
        r.sortOrder = .descend
        r.limit = 2
        let top = try s.range(r)
        #expect(top.kvs.map(\.key) == [b("e/1"), b("e/2")] && top.more && top.count == 6)
        r = all
        r.sortTarget = .version
        r.sortOrder = .descend
        #expect(try s.keys(r).first == "c")
        r = all
        r.sortTarget = .mod
        r.sortOrder = .ascend
        #expect(try s.keys(r) == ["a", "b", "c", "d", "e/1", "e/2"])
        r.sortTarget = .create
        r.sortOrder = .descend
        #expect(try s.keys(r) == ["e/2", "e/1", "d", "c", "b", "a"])
        r.keysOnly = true
        r.sortTarget = .value
        #expect(try s.range(r).kvs.allSatisfy { $0.value.isEmpty })
        #expect(try s.keys(r) == ["e/1", "e/2", "d", "c", "b", "a"], "value sort works with keys_only")
    }

    @Test func revisionFilters() throws {
        let s = try populated()
        var r = RangeRequest(key: b("a"), rangeEnd: [0])
        r.minModRevision = 5
        r.maxModRevision = 7
        #expect(try s.keys(r) == ["c", "d", "e/1"])
        #expect(try s.range(r).count == 6, "count is before filtering, as etcd")
        r = RangeRequest(key: b("a"), rangeEnd: [0], limit: 1, minCreateRevision: 4, maxCreateRevision: 6)
        let got = try s.range(r)
        #expect(got.kvs.map(\.key) == [b("c")] && got.more)
    }

    @Test func invalidRangeRequests() throws {
        let s = try populated()
        #expect(mvccError { _ = try s.range(RangeRequest(key: [])) } == .emptyKey)
        #expect(mvccError { _ = try s.range(RangeRequest(key: b("a"), sortOrder: .unrecognized(7))) } == .invalidSortOption)
        #expect(mvccError { _ = try s.range(RangeRequest(key: b("a"), sortTarget: .unrecognized(9))) } == .invalidSortOption)
    }

    @Test func putFlags() throws {
        let s = try freshStore()
        #expect(try s.put(PutRequest(key: b("k"), value: b("v1"), lease: 7, prevKV: true), revision: 2).prevKV == nil)
        let r = try s.put(PutRequest(key: b("k"), value: b("v2"), prevKV: true), revision: 3)
        #expect(r.prevKV?.value == b("v1") && r.prevKV?.lease == 7 && r.revision == 3)
        try s.put(PutRequest(key: b("k"), lease: 9, ignoreValue: true), revision: 4)
        var kv = try #require(try s.get("k"))
        #expect(kv.value == b("v2") && kv.lease == 9 && kv.version == 3)
        try s.put(PutRequest(key: b("k"), value: b("v3"), ignoreLease: true), revision: 5)
        kv = try #require(try s.get("k"))
        #expect(kv.value == b("v3") && kv.lease == 9)
        #expect(mvccError { try s.put(PutRequest(key: b("nope"), ignoreValue: true), revision: 6) } == .keyNotFound)
        #expect(mvccError { try s.put(PutRequest(key: b("nope"), value: b("x"), ignoreLease: true), revision: 6) } == .keyNotFound)
        #expect(mvccError { try s.put(PutRequest(key: b("k"), value: b("x"), ignoreValue: true), revision: 6) } == .valueProvided)
        #expect(mvccError { try s.put(PutRequest(key: b("k"), lease: 3, ignoreLease: true), revision: 6) } == .leaseProvided)
        #expect(mvccError { try s.put(PutRequest(key: [], value: b("x")), revision: 6) } == .emptyKey)
        #expect(s.currentRevision == 5, "failed puts consume no revision")
    }

    @Test func leaseAttachments() throws {
        let s = try freshStore()
        try s.put("a", "1", at: 2, lease: 7)
        try s.put("b", "1", at: 3, lease: 7)
        try s.put("c", "1", at: 4, lease: 8)
        #expect(try s.keys(attachedTo: 7) == [b("a"), b("b")])
        try s.commit(appliedIndex: 4)
        try s.put("a", "2", at: 5, lease: 8)
        _ = try s.deleteRange(DeleteRangeRequest(key: b("b")), revision: 6)
        #expect(try s.keys(attachedTo: 7) == [])
        #expect(try s.keys(attachedTo: 8) == [b("a"), b("c")])
        try s.commit(appliedIndex: 6)
        #expect(try s.keys(attachedTo: 8) == [b("a"), b("c")])
    }

    @Test func deleteRangeAnswers() throws {
        let s = try populated()
        var r = try s.deleteRange(DeleteRangeRequest(key: b("d"), rangeEnd: b("b")), revision: 9)
        #expect(r.deleted == 0)
        r = try s.deleteRange(DeleteRangeRequest(key: b("b"), rangeEnd: b("d"), prevKV: true), revision: 10)
        #expect(r.deleted == 2 && r.revision == 10)
        #expect(r.prevKVs.map(\.value) == [b("v-b"), b("v-c2")])
        r = try s.deleteRange(DeleteRangeRequest(key: b("e/"), rangeEnd: [0]), revision: 11)
        #expect(r.deleted == 2)
        #expect(try s.keys(RangeRequest(key: [0], rangeEnd: [0])) == ["a", "d"])
        r = try s.deleteRange(DeleteRangeRequest(key: b("b")), revision: 12)
        #expect(r.deleted == 0)
        #expect(mvccError { _ = try s.deleteRange(DeleteRangeRequest(key: []), revision: 13) } == .emptyKey)
    }

    @Test func errorMessagesAndCodes() {
        let table: [(MVCCError, String, MVCCError.GRPCCode)] = [
            (.compacted, "etcdserver: mvcc: required revision has been compacted", .outOfRange),
            (.futureRevision, "etcdserver: mvcc: required revision is a future revision", .outOfRange),
            (.duplicateKey, "etcdserver: duplicate key given in txn request", .invalidArgument),
            (.tooManyOperations, "etcdserver: too many operations in txn request", .invalidArgument),
            (.emptyKey, "etcdserver: key is not provided", .invalidArgument),
            (.valueProvided, "etcdserver: value is provided", .invalidArgument),
            (.leaseProvided, "etcdserver: lease is provided", .invalidArgument),
            (.keyNotFound, "etcdserver: key not found", .invalidArgument),
            (.invalidSortOption, "etcdserver: invalid sort option", .invalidArgument),
        ]
        for (e, message, code) in table {
            #expect(e.message == message)
            #expect(e.grpcCode == code)
        }
    }
}
