import Base
import MVCC

/// Field-by-field writers and readers of what node calls answer: MVCC responses, command
/// results, `ProposalError` / `MVCCError`, feed items, lease records. Little-endian,
/// `bytes` = u32 length + bytes, counts as u32 (bounded by the bytes left), booleans as
/// one byte that must be 0 or 1. Owns nothing.
enum CallCoding {
    /// Nested txn responses deeper than this are refused (as `CommandCoding.maxTxnDepth`).
    static let maxTxnDepth = CommandCoding.maxTxnDepth

    /// Runs `body` over `bytes` and refuses trailing bytes.
    static func decodeWhole<T>(_ bytes: [UInt8],
                               _ body: (inout BinaryReader) throws(DecodingError) -> T) throws(DecodingError) -> T {
        let result: Result<T, DecodingError> = bytes.withUnsafeBytes { raw in
            var r = BinaryReader(raw)
            do throws(DecodingError) {
                let value = try body(&r)
                guard r.isAtEnd else { throw DecodingError("trailing bytes", offset: r.offset) }
                return .success(value)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    // MARK: small values

    static func readBool(_ r: inout BinaryReader) throws(DecodingError) -> Bool {
        let b = try r.read(UInt8.self)
        guard b <= 1 else { throw DecodingError("bad boolean \(b)", offset: r.offset - 1) }
        return b == 1
    }

    static func write(_ s: String, _ w: inout BinaryWriter) { w.writeLengthPrefixed(Array(s.utf8)) }

    static func readString(_ r: inout BinaryReader) throws(DecodingError) -> String {
        String(decoding: try r.readLengthPrefixed(), as: UTF8.self)
    }

    static func write(_ epoch: RangeDescriptor.Epoch?, _ w: inout BinaryWriter) {
        w.write(UInt8(epoch == nil ? 0 : 1))
        if let epoch {
            w.write(epoch.confVersion)
            w.write(epoch.version)
        }
    }

    static func readEpoch(_ r: inout BinaryReader) throws(DecodingError) -> RangeDescriptor.Epoch? {
        guard try readBool(&r) else { return nil }
        return RangeDescriptor.Epoch(confVersion: try r.read(), version: try r.read())
    }

    // MARK: key-values and responses

    static func write(_ kv: KeyValue, _ w: inout BinaryWriter) {
        w.writeLengthPrefixed(kv.key)
        w.write(kv.createRevision)
        w.write(kv.modRevision)
        w.write(kv.version)
        w.writeLengthPrefixed(kv.value)
        w.write(kv.lease)
    }

    static func readKeyValue(_ r: inout BinaryReader) throws(DecodingError) -> KeyValue {
        let key = try r.readLengthPrefixed()
        let create = try r.read(Int64.self)
        let mod = try r.read(Int64.self)
        let version = try r.read(Int64.self)
        let value = try r.readLengthPrefixed()
        return KeyValue(key: key, createRevision: create, modRevision: mod, version: version, value: value,
                        lease: try r.read(Int64.self))
    }

    static func write(_ kv: KeyValue?, _ w: inout BinaryWriter) {
        w.write(UInt8(kv == nil ? 0 : 1))
        if let kv { write(kv, &w) }
    }

    static func readOptionalKeyValue(_ r: inout BinaryReader) throws(DecodingError) -> KeyValue? {
        try readBool(&r) ? readKeyValue(&r) : nil
    }

    static func write(_ kvs: [KeyValue], _ w: inout BinaryWriter) {
        w.write(UInt32(kvs.count))
        for kv in kvs { write(kv, &w) }
    }

    static func readKeyValues(_ r: inout BinaryReader) throws(DecodingError) -> [KeyValue] {
        let n = try CommandCoding.count(&r)
        var out: [KeyValue] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try readKeyValue(&r)) }
        return out
    }

    static func write(_ q: RangeResponse, _ w: inout BinaryWriter) {
        w.write(q.revision)
        write(q.kvs, &w)
        w.write(UInt8(q.more ? 1 : 0))
        w.write(q.count)
    }

    static func readRangeResponse(_ r: inout BinaryReader) throws(DecodingError) -> RangeResponse {
        let revision = try r.read(Int64.self)
        let kvs = try readKeyValues(&r)
        let more = try readBool(&r)
        return RangeResponse(revision: revision, kvs: kvs, more: more, count: try r.read(Int64.self))
    }

    static func write(_ p: PutResponse, _ w: inout BinaryWriter) {
        w.write(p.revision)
        write(p.prevKV, &w)
    }

    static func readPutResponse(_ r: inout BinaryReader) throws(DecodingError) -> PutResponse {
        let revision = try r.read(Int64.self)
        return PutResponse(revision: revision, prevKV: try readOptionalKeyValue(&r))
    }

    static func write(_ d: DeleteRangeResponse, _ w: inout BinaryWriter) {
        w.write(d.revision)
        w.write(d.deleted)
        write(d.prevKVs, &w)
    }

    static func readDeleteResponse(_ r: inout BinaryReader) throws(DecodingError) -> DeleteRangeResponse {
        let revision = try r.read(Int64.self)
        let deleted = try r.read(Int64.self)
        return DeleteRangeResponse(revision: revision, deleted: deleted, prevKVs: try readKeyValues(&r))
    }

    static func write(_ t: TxnResponse, _ w: inout BinaryWriter) {
        w.write(t.revision)
        w.write(UInt8(t.succeeded ? 1 : 0))
        w.write(UInt32(t.responses.count))
        for op in t.responses {
            switch op {
            case .range(let q): w.write(UInt8(1)); write(q, &w)
            case .put(let p): w.write(UInt8(2)); write(p, &w)
            case .deleteRange(let d): w.write(UInt8(3)); write(d, &w)
            case .txn(let t): w.write(UInt8(4)); write(t, &w)
            }
        }
    }

    static func readTxnResponse(_ r: inout BinaryReader, depth: Int) throws(DecodingError) -> TxnResponse {
        guard depth < maxTxnDepth else { throw DecodingError("txn response nested too deeply", offset: r.offset) }
        let revision = try r.read(Int64.self)
        let succeeded = try readBool(&r)
        let n = try CommandCoding.count(&r)
        var ops: [ResponseOp] = []
        for _ in 0..<n {
            let kind = try r.read(UInt8.self)
            switch kind {
            case 1: ops.append(.range(try readRangeResponse(&r)))
            case 2: ops.append(.put(try readPutResponse(&r)))
            case 3: ops.append(.deleteRange(try readDeleteResponse(&r)))
            case 4: ops.append(.txn(try readTxnResponse(&r, depth: depth + 1)))
            default: throw DecodingError("unknown txn response op \(kind)", offset: r.offset - 1)
            }
        }
        return TxnResponse(revision: revision, succeeded: succeeded, responses: ops)
    }

    static func write(_ c: CommandResult, _ w: inout BinaryWriter) {
        switch c {
        case .put(let p): w.write(UInt8(1)); write(p, &w)
        case .deleteRange(let d): w.write(UInt8(2)); write(d, &w)
        case .txn(let t): w.write(UInt8(3)); write(t, &w)
        case .compact(let c): w.write(UInt8(4)); w.write(c.revision)
        case .noOp: w.write(UInt8(5))
        case .system(let bytes): w.write(UInt8(6)); w.writeLengthPrefixed(bytes)
        case .revokeLease(let d): w.write(UInt8(7)); write(d, &w)
        }
    }

    static func readCommandResult(_ r: inout BinaryReader) throws(DecodingError) -> CommandResult {
        let kind = try r.read(UInt8.self)
        switch kind {
        case 1: return .put(try readPutResponse(&r))
        case 2: return .deleteRange(try readDeleteResponse(&r))
        case 3: return .txn(try readTxnResponse(&r, depth: 0))
        case 4: return .compact(CompactResponse(revision: try r.read(Int64.self)))
        case 5: return .noOp
        case 6: return .system(try r.readLengthPrefixed())
        case 7: return .revokeLease(try readDeleteResponse(&r))
        default: throw DecodingError("unknown command result \(kind)", offset: r.offset - 1)
        }
    }

    // MARK: feeds and leases

    static func write(_ e: WatchEvent, _ w: inout BinaryWriter) {
        w.write(UInt8(e.kind == .put ? 0 : 1))
        write(e.kv, &w)
        write(e.prevKV, &w)
        w.write(e.sub)
    }

    static func readEvent(_ r: inout BinaryReader) throws(DecodingError) -> WatchEvent {
        let kind: WatchEvent.Kind = try readBool(&r) ? .delete : .put
        let kv = try readKeyValue(&r)
        let prev = try readOptionalKeyValue(&r)
        return WatchEvent(kind: kind, kv: kv, prevKV: prev, sub: try r.read(Int64.self))
    }

    static func write(_ item: RangeFeedItem, _ w: inout BinaryWriter) {
        switch item {
        case .events(let events, let resolved):
            w.write(UInt8(1))
            w.write(UInt32(events.count))
            for e in events { write(e, &w) }
            w.write(resolved)
        case .compacted(let rev):
            w.write(UInt8(2))
            w.write(rev)
        }
    }

    static func readFeedItem(_ r: inout BinaryReader) throws(DecodingError) -> RangeFeedItem {
        let kind = try r.read(UInt8.self)
        switch kind {
        case 1:
            let n = try CommandCoding.count(&r)
            var events: [WatchEvent] = []
            events.reserveCapacity(n)
            for _ in 0..<n { events.append(try readEvent(&r)) }
            return .events(events, resolved: try r.read(Int64.self))
        case 2:
            return .compacted(compactRevision: try r.read(Int64.self))
        default:
            throw DecodingError("unknown feed item \(kind)", offset: r.offset - 1)
        }
    }

    static func write(_ l: LeaseRecord, _ w: inout BinaryWriter) {
        w.write(l.id)
        w.write(l.grantedTTL)
        w.write(l.remainingTTL)
        w.write(l.grantRevision)
    }

    static func readLease(_ r: inout BinaryReader) throws(DecodingError) -> LeaseRecord {
        let id = try r.read(Int64.self)
        let granted = try r.read(Int64.self)
        let remaining = try r.read(Int64.self)
        return LeaseRecord(id: id, grantedTTL: granted, remainingTTL: remaining, grantRevision: try r.read(Int64.self))
    }

    // MARK: errors

    static func write(_ e: ProposalError, _ w: inout BinaryWriter) {
        switch e {
        case .notLeader(let hint): w.write(UInt8(1)); w.write(hint.rawValue)
        case .rangeNotFound(let id): w.write(UInt8(2)); w.write(id.rawValue)
        case .epochMismatch(let d): w.write(UInt8(3)); d.encode(into: &w)
        case .timeout: w.write(UInt8(4))
        case .proposalDropped(let why): w.write(UInt8(5)); write(why, &w)
        case .rejected(let m): w.write(UInt8(6)); write(m, &w)
        }
    }

    static func readProposalError(_ r: inout BinaryReader) throws(DecodingError) -> ProposalError {
        let kind = try r.read(UInt8.self)
        switch kind {
        case 1: return .notLeader(leaderHint: NodeID(try r.read(UInt64.self)))
        case 2: return .rangeNotFound(RangeID(try r.read(UInt64.self)))
        case 3: return .epochMismatch(current: try RangeDescriptor.decode(from: &r))
        case 4: return .timeout
        case 5: return .proposalDropped(try readString(&r))
        case 6: return .rejected(try readMVCCError(&r))
        default: throw DecodingError("unknown proposal error \(kind)", offset: r.offset - 1)
        }
    }

    static func write(_ e: MVCCError, _ w: inout BinaryWriter) {
        switch e {
        case .compacted: w.write(UInt8(0))
        case .futureRevision: w.write(UInt8(1))
        case .duplicateKey: w.write(UInt8(2))
        case .tooManyOperations: w.write(UInt8(3))
        case .emptyKey: w.write(UInt8(4))
        case .valueProvided: w.write(UInt8(5))
        case .leaseProvided: w.write(UInt8(6))
        case .keyNotFound: w.write(UInt8(7))
        case .invalidSortOption: w.write(UInt8(8))
        case .revisionNotIncreasing(let given, let current):
            w.write(UInt8(9))
            w.write(given)
            w.write(current)
        case .keyOutsideRange: w.write(UInt8(10))
        case .corruptSnapshot(let why): w.write(UInt8(11)); write(why, &w)
        case .corruptMetadata(let why): w.write(UInt8(12)); write(why, &w)
        case .keyTooLarge(let size, let max):
            w.write(UInt8(13))
            w.write(Int64(size))
            w.write(Int64(max))
        case .leaseNotFound: w.write(UInt8(14))
        }
    }

    static func readMVCCError(_ r: inout BinaryReader) throws(DecodingError) -> MVCCError {
        let kind = try r.read(UInt8.self)
        switch kind {
        case 0: return .compacted
        case 1: return .futureRevision
        case 2: return .duplicateKey
        case 3: return .tooManyOperations
        case 4: return .emptyKey
        case 5: return .valueProvided
        case 6: return .leaseProvided
        case 7: return .keyNotFound
        case 8: return .invalidSortOption
        case 9:
            let given = try r.read(Int64.self)
            return .revisionNotIncreasing(given: given, current: try r.read(Int64.self))
        case 10: return .keyOutsideRange
        case 11: return .corruptSnapshot(try readString(&r))
        case 12: return .corruptMetadata(try readString(&r))
        case 13:
            let size = try r.read(Int64.self)
            return .keyTooLarge(size: Int(size), max: Int(try r.read(Int64.self)))
        case 14: return .leaseNotFound
        default: throw DecodingError("unknown mvcc error \(kind)", offset: r.offset - 1)
        }
    }
}
