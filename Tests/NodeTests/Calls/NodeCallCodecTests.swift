import Base
import MVCC
import Node
import Testing

/// The node call codec: every call and answer survives a round trip, and decoding never
/// crashes on garbage (seeded random bytes, truncations and bit flips of valid frames).
@Suite struct NodeCallCodecTests {
    static let descriptor = RangeDescriptor(
        rangeID: RangeID(7), startKey: [0x10], endKey: [0x20], epoch: .init(confVersion: 3, version: 5),
        replicas: [.init(nodeID: NodeID(1), replicaID: 11), .init(nodeID: NodeID(2), replicaID: 12, role: .learner)])

    static let kv = KeyValue(key: [1, 2], createRevision: 4, modRevision: 9, version: 3, value: [0xFF, 0], lease: 77)
    static let kv2 = KeyValue(key: [], createRevision: -1, modRevision: Int64.max, version: 0, value: [], lease: 0)

    static let txn = TxnRequest(
        compare: [Compare(key: [1], rangeEnd: [2], target: .value([9]), result: .notEqual),
                  Compare(key: [3], target: .lease(5), result: .less)],
        success: [.put(PutRequest(key: [1], value: [2], lease: 3, prevKV: true)),
                  .txn(TxnRequest(success: [.range(RangeRequest(key: [4], limit: 2, sortOrder: .descend))]))],
        failure: [.deleteRange(DeleteRangeRequest(key: [5], rangeEnd: [0], prevKV: true)), .empty])

    static let calls: [NodeCall] = [
        .propose(.put(PutRequest(key: [1], value: [2, 3], lease: 9, ignoreLease: true)), range: RangeID(3),
                 epoch: .init(confVersion: 2, version: 4), requestID: 0xDEAD_BEEF),
        .propose(.txn(txn), range: RangeID(4), epoch: nil, requestID: 1),
        .propose(.deleteRange(DeleteRangeRequest(key: [1], rangeEnd: [9])), range: RangeID(5), epoch: .init(),
                 requestID: .max),
        .propose(.compact(revision: 42), range: RangeID(2), epoch: .init(), requestID: 2),
        .propose(.noOp, range: RangeID(2), epoch: nil, requestID: 3),
        .propose(.system([1, 2, 3]), range: .system, epoch: nil, requestID: 4),
        .propose(.revokeLease(99), range: RangeID(6), epoch: .init(confVersion: 9, version: 9), requestID: 5),
        .read(RangeRequest(key: [1], rangeEnd: [0], limit: 10, revision: 55, sortOrder: .ascend, sortTarget: .mod,
                           serializable: true, keysOnly: true, countOnly: false, minModRevision: 1, maxModRevision: 2,
                           minCreateRevision: 3, maxCreateRevision: 4),
              range: RangeID(8), epoch: .init(confVersion: 1, version: 2)),
        .read(RangeRequest(key: [], sortOrder: .unrecognized(7), sortTarget: .unrecognized(-3)), range: RangeID(8), epoch: nil),
        .readFresh(RangeRequest(key: [5], rangeEnd: [6], limit: 3, keysOnly: true), range: RangeID(8),
                   epoch: .init(confVersion: 1, version: 2)),
        .readFresh(RangeRequest(key: [5]), range: RangeID(3), epoch: nil),
        .localRead(RangeRequest(key: [7], countOnly: true), range: RangeID(9)),
        .nextFeedBatch(range: RangeID(10), epoch: .init(confVersion: 3, version: 4), from: 12345, prevKV: true,
                       maxEvents: 500, waitMs: 250),
        .nextFeedBatch(range: RangeID(10), epoch: nil, from: 0, prevKV: false, maxEvents: 0, waitMs: 0),
        .freshRevision,
        .oracleRevisions(count: 64),
        .routingTable,
        .resolvedRevision(range: RangeID(11)),
        .closeForFollower(range: RangeID(12), revision: 999),
        .systemLeader,
        .leaseGrant(id: 0, ttl: 30),
        .leaseGrant(id: -5, ttl: Int64.max),
        .leaseLookup(id: 17),
        .leaseKeepAlive(id: 18),
        .leaseRemove(id: 19),
        .leases,
        .expiredLeases,
        .leaseBeginRevoke(id: 20),
        .leaseBeginRevoke(id: -1),
    ]

    static let answers: [NodeCallAnswer] = [
        .failure(.notLeader(leaderHint: NodeID(3))),
        .failure(.notLeader(leaderHint: .none)),
        .failure(.rangeNotFound(RangeID(4))),
        .failure(.epochMismatch(current: descriptor)),
        .failure(.epochMismatch(current: RangeDescriptor(rangeID: RangeID(2), startKey: [], endKey: nil, replicas: []))),
        .failure(.timeout),
        .failure(.proposalDropped("leadership transfer in progress — ünïcode")),
        .failure(.rejected(.compacted)),
        .failure(.rejected(.futureRevision)),
        .failure(.rejected(.duplicateKey)),
        .failure(.rejected(.tooManyOperations)),
        .failure(.rejected(.emptyKey)),
        .failure(.rejected(.valueProvided)),
        .failure(.rejected(.leaseProvided)),
        .failure(.rejected(.keyNotFound)),
        .failure(.rejected(.invalidSortOption)),
        .failure(.rejected(.revisionNotIncreasing(given: 5, current: 9))),
        .failure(.rejected(.keyOutsideRange)),
        .failure(.rejected(.corruptSnapshot("bad crc"))),
        .failure(.rejected(.corruptMetadata(""))),
        .failure(.rejected(.keyTooLarge(size: 2_000, max: 992))),
        .result(.put(PutResponse(revision: 10, prevKV: kv))),
        .result(.put(PutResponse(revision: 11))),
        .result(.deleteRange(DeleteRangeResponse(revision: 12, deleted: 2, prevKVs: [kv, kv2]))),
        .result(.txn(TxnResponse(revision: 13, succeeded: true, responses: [
            .range(RangeResponse(revision: 13, kvs: [kv], more: true, count: 5)),
            .put(PutResponse(revision: 13, prevKV: kv2)),
            .deleteRange(DeleteRangeResponse(revision: 13)),
            .txn(TxnResponse(revision: 13, succeeded: false, responses: [.put(PutResponse(revision: 13))])),
        ]))),
        .result(.compact(CompactResponse(revision: 14))),
        .result(.noOp),
        .result(.system([9, 8, 7])),
        .result(.revokeLease(DeleteRangeResponse(revision: 15, deleted: 1, prevKVs: []))),
        .range(RangeResponse(revision: 16, kvs: [kv, kv2, kv], more: false, count: 3)),
        .feed(.events([WatchEvent(kind: .put, kv: kv, prevKV: kv2, sub: 0),
                       WatchEvent(kind: .delete, kv: kv2, prevKV: nil, sub: 1)], resolved: 17)),
        .feed(.events([], resolved: 18)),
        .feed(.compacted(compactRevision: 19)),
        .revision(20),
        .revisions(21...84),
        .revisions(5...5),
        .routes([RangeRoute(descriptor: descriptor, leaderHint: NodeID(2)),
                 RangeRoute(descriptor: RangeDescriptor(rangeID: RangeID(9), startKey: [0x20], endKey: nil, replicas: []),
                            leaderHint: .none)]),
        .routes([]),
        .optionalRevision(22),
        .optionalRevision(nil),
        .index(23),
        .node(NodeID(4)),
        .lease(LeaseRecord(id: 24, grantedTTL: 60, remainingTTL: -1)),
        .lease(nil),
        .removed(true),
        .removed(false),
        .leases([LeaseRecord(id: 1, grantedTTL: 2, remainingTTL: 3), LeaseRecord(id: 4, grantedTTL: 5, remainingTTL: 6)]),
        .leaseIDs([1, -2, .max]),
        .leaseIDs([]),
    ]

    @Test func everyCallRoundTrips() throws {
        for call in Self.calls {
            let bytes = call.encoded()
            #expect(NodeCall.tagRange.contains(bytes[0]), "tag of \(call.name)")
            #expect(try NodeCall.decode(bytes) == call)
        }
    }

    @Test func everyAnswerRoundTrips() throws {
        for answer in Self.answers {
            #expect(try NodeCallAnswer.decode(answer.encoded()) == answer)
        }
    }

    @Test func trailingBytesAndUnknownTagsAreRefused() {
        for call in Self.calls {
            #expect(throws: DecodingError.self) { try NodeCall.decode(call.encoded() + [0]) }
        }
        for answer in Self.answers {
            #expect(throws: DecodingError.self) { try NodeCallAnswer.decode(answer.encoded() + [0]) }
        }
        #expect(throws: DecodingError.self) { try NodeCall.decode([]) }
        #expect(throws: DecodingError.self) { try NodeCall.decode([0x3F]) }
        #expect(throws: DecodingError.self) { try NodeCall.decode([0x05]) }
        #expect(throws: DecodingError.self) { try NodeCallAnswer.decode([0xEE]) }
        // A boolean byte other than 0/1 is refused.
        #expect(throws: DecodingError.self) { try NodeCallAnswer.decode([UInt8(9), 2]) }
    }

    @Test func everyTruncationIsRefused() {
        for call in Self.calls {
            let bytes = call.encoded()
            for n in 0..<bytes.count {
                #expect(throws: DecodingError.self, "\(call.name) cut at \(n)") { try NodeCall.decode(Array(bytes[..<n])) }
            }
        }
        for answer in Self.answers {
            let bytes = answer.encoded()
            for n in 0..<bytes.count {
                #expect(throws: DecodingError.self, "answer cut at \(n)") { try NodeCallAnswer.decode(Array(bytes[..<n])) }
            }
        }
    }

    /// Seeded fuzzing: random bytes, and valid frames with random bytes flipped, never
    /// crash the decoders (they either throw or yield a value that re-encodes cleanly).
    @Test(arguments: [UInt64(1), 2, 3, 0xC0FFEE])
    func decodingGarbageNeverCrashes(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        let valid = Self.calls.map { $0.encoded() } + Self.answers.map { $0.encoded() }
        var decoded = 0
        for i in 0..<4_000 {
            var bytes: [UInt8]
            if i % 2 == 0 {
                let n = Int.random(in: 0..<64, using: &rng)
                bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
                if !bytes.isEmpty && i % 4 == 0 { bytes[0] = UInt8.random(in: 0x10...0x25, using: &rng) }
            } else {
                bytes = valid[Int.random(in: 0..<valid.count, using: &rng)]
                for _ in 0..<Int.random(in: 1...3, using: &rng) where !bytes.isEmpty {
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
                }
            }
            if let call = try? NodeCall.decode(bytes) {
                decoded += 1
                #expect((try? NodeCall.decode(call.encoded())) == call, "seed \(seed) case \(i): \(bytes)")
            }
            if let answer = try? NodeCallAnswer.decode(bytes) {
                decoded += 1
                #expect((try? NodeCallAnswer.decode(answer.encoded())) == answer, "seed \(seed) case \(i): \(bytes)")
            }
        }
        // Some flipped frames still decode (a flipped payload byte); most garbage does not.
        #expect(decoded > 0 && decoded < 4_000, "seed \(seed): \(decoded) decoded")
    }

    @Test func transportFailuresMapToProposalErrors() {
        #expect(NodeCallClient.proposalError(for: .unreachable(NodeID(2))) == .notLeader(leaderHint: .none))
        #expect(NodeCallClient.proposalError(for: .timeout(NodeID(2))) == .timeout)
        guard case .proposalDropped = NodeCallClient.proposalError(for: .closed) else {
            Issue.record("closed should map to proposalDropped")
            return
        }
    }
}
