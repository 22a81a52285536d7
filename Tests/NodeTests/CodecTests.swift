import Base
import MVCC
import Node
import RaftCore
import Testing

@Suite struct CodecTests {
    static let nestedTxn = TxnRequest(
        compare: [Compare(key: [1], target: .value([9, 9]), result: .notEqual),
                  Compare(key: [2], rangeEnd: [3], target: .mod(-4), result: .less),
                  Compare(key: [4], target: .lease(77), result: .greater)],
        success: [.put(PutRequest(key: [5], value: [6], lease: 3, prevKV: true, ignoreLease: true)),
                  .range(RangeRequest(key: [1], rangeEnd: [0], limit: 10, revision: 4, sortOrder: .descend,
                                      sortTarget: .unrecognized(42), keysOnly: true, minModRevision: 2)),
                  .txn(TxnRequest(compare: [], success: [.deleteRange(DeleteRangeRequest(key: [7], prevKV: true))],
                                  failure: [.empty]))],
        failure: [.deleteRange(DeleteRangeRequest(key: [8], rangeEnd: [9]))])

    @Test func commandsRoundTrip() throws {
        let epoch = RangeDescriptor.Epoch(confVersion: 2, version: 3)
        let bodies: [RaftCommand.Body] = [
            .put(PutRequest(key: [1, 2], value: Array(repeating: 7, count: 300), lease: -1, ignoreValue: true)),
            .deleteRange(DeleteRangeRequest(key: [0], rangeEnd: [0xFF], prevKV: true)),
            .txn(Self.nestedTxn), .compact(revision: 99), .noOp,
        ]
        for (i, body) in bodies.enumerated() {
            let cmd = RaftCommand(requestID: UInt64(i) << 48 | 5, epoch: epoch, revision: Int64(i), body: body)
            #expect(try RaftCommand.decode(cmd.encoded()) == cmd)
        }
    }

    @Test func malformedCommandsAreRejected() {
        let bytes = RaftCommand(requestID: 1, epoch: .init(), body: .txn(Self.nestedTxn)).encoded()
        for cut in stride(from: 0, to: bytes.count, by: 7) {
            #expect(throws: DecodingError.self) { try RaftCommand.decode(Array(bytes.prefix(cut))) }
        }
        #expect(throws: DecodingError.self) { try RaftCommand.decode(bytes + [1]) }
        var badKind = RaftCommand(requestID: 1, epoch: .init(), body: .noOp).encoded()
        badKind[badKind.count - 1] = 200
        #expect(throws: DecodingError.self) { try RaftCommand.decode(badKind) }
    }

    @Test func messageBatchesAndSnapshotHeadersRoundTrip() throws {
        let snap = Snapshot(metadata: SnapshotMetadata(confState: ConfState(voters: [1, 2], learners: [3]), index: 9,
                                                       term: 4), data: [1, 2, 3])
        let batch = [
            RangeMessage(rangeID: RangeID(2), message: Message(
                type: .append, to: 2, from: 1, term: 5, logTerm: 4, index: 8,
                entries: [Entry(term: 5, index: 9, data: [1]), Entry(term: 5, index: 10, type: .confChange, data: [])],
                commit: 8)),
            RangeMessage(rangeID: RangeID(3), message: Message(type: .heartbeat, to: 3, from: 1, term: 2, commit: 7),
                         quiesce: true),
            RangeMessage(rangeID: RangeID(4), message: Message(type: .appendResponse, to: 1, from: 2, term: 5,
                                                               index: 3, reject: true, rejectHint: 2, context: [5])),
            RangeMessage(rangeID: RangeID(5), message: Message(type: .snapshot, to: 3, from: 1, term: 5, snapshot: snap)),
        ]
        #expect(try MessageCodec.decodeBatch(MessageCodec.encode(batch: batch)) == batch)
        #expect(try MessageCodec.decodeBatch(MessageCodec.encode(batch: [])) == [])
        let header = SnapshotHeader(rangeID: RangeID(5), message: batch[3].message)
        #expect(try MessageCodec.decodeHeader(MessageCodec.encode(header: header)) == header)
        let encoded = MessageCodec.encode(batch: batch)
        #expect(throws: DecodingError.self) { try MessageCodec.decodeBatch(Array(encoded.dropLast())) }
    }

    @Test func bootstrapSplitsTheKeyspaceAndSpreadsLeaders() {
        let b = BootstrapConfig(nodes: [NodeID(1), NodeID(2), NodeID(3)], rangeCount: 8)
        let ds = b.descriptors
        #expect(ds.count == 8)
        #expect(ds.first!.startKey == [] && ds.last!.endKey == nil)
        for (a, c) in zip(ds, ds.dropFirst()) { #expect(a.endKey == c.startKey) }
        for byte in 0...255 {
            #expect(ds.filter { $0.contains([UInt8(byte), 1]) }.count == 1, "byte \(byte) in exactly one range")
        }
        let leaders = ds.map { b.intendedLeader(of: $0.rangeID) }
        #expect(Set(leaders) == Set(b.nodes))
        #expect(ds.allSatisfy { $0.replicas.count == 3 })
    }
}

@Suite struct BootstrapTests {
    @Test func manyRangesSplitByTwoBytes() {
        let b = BootstrapConfig(nodes: [NodeID(1), NodeID(2), NodeID(3)], rangeCount: 2000)
        let ds = b.descriptors
        #expect(ds.count == 2000 && Set(ds.map(\.rangeID)).count == 2000)
        for (a, c) in zip(ds, ds.dropFirst()) {
            #expect(a.endKey == c.startKey)
            #expect(a.startKey.lexicographicallyPrecedes(c.startKey), "\(a) before \(c)")
        }
        for k: [UInt8] in [[0], [0x7F, 0x80, 1], [0xFF, 0xFF, 0xFF]] {
            #expect(ds.filter { $0.contains(k) }.count == 1)
        }
    }
}

/// The `granted` command kind (8) and compatibility with entries written before it.
@Suite struct GrantedCommandCodecTests {
    @Test func grantedCommandsRoundTrip() throws {
        let grants = [LeaseGrant(lease: 5, grantRevision: 17), LeaseGrant(lease: -3, grantRevision: 1)]
        for inner: RaftCommand.Body in [.put(PutRequest(key: [1], value: [2], lease: 5)), .txn(CodecTests.nestedTxn),
                                        .revokeLease(5)] {
            let cmd = RaftCommand(requestID: 9, epoch: .init(confVersion: 1, version: 2), revision: 44,
                                  body: .granted(grants, inner))
            #expect(try RaftCommand.decode(cmd.encoded()) == cmd)
            #expect(cmd.body.withoutGrants == inner)
            #expect(cmd.isWrite == inner.isWrite)
        }
        // Grants do not nest.
        let nested = RaftCommand(requestID: 1, epoch: .init(), body: .granted([], .granted([], .noOp))).encoded()
        #expect(throws: DecodingError.self) { try RaftCommand.decode(nested) }
        // A count larger than the bytes left is refused before allocating.
        var huge = RaftCommand(requestID: 1, epoch: .init(), body: .granted([], .noOp)).encoded()
        huge.replaceSubrange(34..<38, with: [0xFF, 0xFF, 0xFF, 0x7F])
        #expect(throws: DecodingError.self) { try RaftCommand.decode(huge) }
    }

    /// An entry as a session-4 node wrote it (bytes spelled out, not produced by the
    /// encoder) still decodes: a put attaching lease 7, and a revokeLease.
    @Test func oldFormatEntriesStillDecode() throws {
        func le(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }
        let header: [UInt8] = [1] + le(0xABCD, 8) + le(2, 8) + le(3, 8) + le(41, 8)
        let put = header + [1] + le(1, 4) + [0x6B] + le(2, 4) + [0x76, 0x31] + le(7, 8) + [0b001]
        let cmd = try RaftCommand.decode(put)
        #expect(cmd.requestID == 0xABCD && cmd.revision == 41 && cmd.epoch == .init(confVersion: 2, version: 3))
        #expect(cmd.body == .put(PutRequest(key: [0x6B], value: [0x76, 0x31], lease: 7, prevKV: true)))
        let revoke = header + [7] + le(7, 8)
        #expect(try RaftCommand.decode(revoke).body == .revokeLease(7))
    }
}
