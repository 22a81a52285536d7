public import Base
import MVCC

/// Compact binary form of `RaftCommand` (little-endian, `bytes` = u32 length + bytes):
/// `[u8 version][u64 requestID][u64 confVersion][u64 version][i64 revision][u8 kind] body`.
/// Kinds: 1 put, 2 deleteRange, 3 txn, 4 compact, 5 noOp, 6 system (bytes), 7 revokeLease (i64),
/// 8 granted: `[u32 n]` n × `[i64 lease][i64 grantRevision]` then the inner body with its
/// own kind (not 8). Kind 8 was added in session 5; entries of kinds 1–7 written before it
/// decode unchanged (a node without kind 8 refuses such an entry as undecodable, so a
/// cluster must not mix the versions). Unknown kinds or trailing bytes are decoding errors
/// (a replica must never guess at a command).
extension RaftCommand {
    static let codecVersion: UInt8 = 1

    public func encoded() -> [UInt8] {
        var w = BinaryWriter(capacity: 64)
        w.write(Self.codecVersion)
        w.write(requestID)
        w.write(epoch.confVersion)
        w.write(epoch.version)
        w.write(revision)
        Self.write(body, &w)
        return w.bytes
    }

    static func write(_ body: Body, _ w: inout BinaryWriter) {
        switch body {
        case .put(let p):
            w.write(UInt8(1))
            CommandCoding.write(p, &w)
        case .deleteRange(let d):
            w.write(UInt8(2))
            CommandCoding.write(d, &w)
        case .txn(let t):
            w.write(UInt8(3))
            CommandCoding.write(t, &w)
        case .compact(let revision):
            w.write(UInt8(4))
            w.write(revision)
        case .noOp:
            w.write(UInt8(5))
        case .system(let bytes):
            w.write(UInt8(6))
            w.writeLengthPrefixed(bytes)
        case .revokeLease(let id):
            w.write(UInt8(7))
            w.write(id)
        case .granted(let grants, let inner):
            w.write(UInt8(8))
            w.write(UInt32(grants.count))
            for g in grants {
                w.write(g.lease)
                w.write(g.grantRevision)
            }
            write(inner, &w)
        }
    }

    static func readBody(_ reader: inout BinaryReader, grantsAllowed: Bool) throws(DecodingError) -> Body {
        let kind = try reader.read(UInt8.self)
        switch kind {
        case 1: return .put(try CommandCoding.readPut(&reader))
        case 2: return .deleteRange(try CommandCoding.readDelete(&reader))
        case 3: return .txn(try CommandCoding.readTxn(&reader, depth: 0))
        case 4: return .compact(revision: try reader.read())
        case 5: return .noOp
        case 6: return .system(try reader.readLengthPrefixed())
        case 7: return .revokeLease(try reader.read(Int64.self))
        case 8 where grantsAllowed:
            let n = Int(try reader.read(UInt32.self))
            guard n <= reader.remaining / 16 else { throw DecodingError("count \(n) too large", offset: reader.offset - 4) }
            var grants: [LeaseGrant] = []
            for _ in 0..<n {
                grants.append(LeaseGrant(lease: try reader.read(Int64.self), grantRevision: try reader.read(Int64.self)))
            }
            return .granted(grants, try readBody(&reader, grantsAllowed: false))
        default: throw DecodingError("unknown command kind \(kind)", offset: reader.offset - 1)
        }
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodingError) -> RaftCommand {
        let r: Result<RaftCommand, DecodingError> = bytes.withUnsafeBytes { raw in
            var reader = BinaryReader(raw)
            do throws(DecodingError) {
                let v = try reader.read(UInt8.self)
                guard v == codecVersion else { throw DecodingError("unknown command version \(v)", offset: 0) }
                let requestID = try reader.read(UInt64.self)
                let epoch = RangeDescriptor.Epoch(confVersion: try reader.read(), version: try reader.read())
                let revision = try reader.read(Int64.self)
                let body = try readBody(&reader, grantsAllowed: true)
                guard reader.isAtEnd else { throw DecodingError("trailing bytes after command", offset: reader.offset) }
                return .success(RaftCommand(requestID: requestID, epoch: epoch, revision: revision, body: body))
            } catch {
                return .failure(error)
            }
        }
        return try r.get()
    }
}

/// Field-by-field writers and readers of the MVCC request structs. Owns nothing.
enum CommandCoding {
    /// Nested txns deeper than this are refused when decoding (etcd bounds them by size).
    static let maxTxnDepth = 64

    static func write(_ p: PutRequest, _ w: inout BinaryWriter) {
        w.writeLengthPrefixed(p.key)
        w.writeLengthPrefixed(p.value)
        w.write(p.lease)
        w.write(flags(p.prevKV, p.ignoreValue, p.ignoreLease))
    }

    static func readPut(_ r: inout BinaryReader) throws(DecodingError) -> PutRequest {
        let key = try r.readLengthPrefixed()
        let value = try r.readLengthPrefixed()
        let lease = try r.read(Int64.self)
        let f = try r.read(UInt8.self)
        return PutRequest(key: key, value: value, lease: lease, prevKV: f & 1 != 0, ignoreValue: f & 2 != 0,
                          ignoreLease: f & 4 != 0)
    }

    static func write(_ d: DeleteRangeRequest, _ w: inout BinaryWriter) {
        w.writeLengthPrefixed(d.key)
        w.writeLengthPrefixed(d.rangeEnd)
        w.write(flags(d.prevKV))
    }

    static func readDelete(_ r: inout BinaryReader) throws(DecodingError) -> DeleteRangeRequest {
        DeleteRangeRequest(key: try r.readLengthPrefixed(), rangeEnd: try r.readLengthPrefixed(),
                           prevKV: try r.read(UInt8.self) & 1 != 0)
    }

    static func write(_ q: RangeRequest, _ w: inout BinaryWriter) {
        w.writeLengthPrefixed(q.key)
        w.writeLengthPrefixed(q.rangeEnd)
        w.write(q.limit)
        w.write(q.revision)
        w.write(sortOrderCode(q.sortOrder))
        w.write(sortTargetCode(q.sortTarget))
        w.write(flags(q.serializable, q.keysOnly, q.countOnly))
        w.write(q.minModRevision)
        w.write(q.maxModRevision)
        w.write(q.minCreateRevision)
        w.write(q.maxCreateRevision)
    }

    static func readRange(_ r: inout BinaryReader) throws(DecodingError) -> RangeRequest {
        var q = RangeRequest(key: try r.readLengthPrefixed())
        q.rangeEnd = try r.readLengthPrefixed()
        q.limit = try r.read()
        q.revision = try r.read()
        q.sortOrder = sortOrder(try r.read(Int32.self))
        q.sortTarget = sortTarget(try r.read(Int32.self))
        let f = try r.read(UInt8.self)
        q.serializable = f & 1 != 0
        q.keysOnly = f & 2 != 0
        q.countOnly = f & 4 != 0
        q.minModRevision = try r.read()
        q.maxModRevision = try r.read()
        q.minCreateRevision = try r.read()
        q.maxCreateRevision = try r.read()
        return q
    }

    static func write(_ t: TxnRequest, _ w: inout BinaryWriter) {
        w.write(UInt32(t.compare.count))
        for c in t.compare { write(c, &w) }
        w.write(UInt32(t.success.count))
        for op in t.success { write(op, &w) }
        w.write(UInt32(t.failure.count))
        for op in t.failure { write(op, &w) }
    }

    static func readTxn(_ r: inout BinaryReader, depth: Int) throws(DecodingError) -> TxnRequest {
        guard depth < maxTxnDepth else { throw DecodingError("txn nested too deeply", offset: r.offset) }
        var t = TxnRequest()
        let nc = try count(&r)
        for _ in 0..<nc { t.compare.append(try readCompare(&r)) }
        let ns = try count(&r)
        for _ in 0..<ns { t.success.append(try readOp(&r, depth: depth)) }
        let nf = try count(&r)
        for _ in 0..<nf { t.failure.append(try readOp(&r, depth: depth)) }
        return t
    }

    static func write(_ op: RequestOp, _ w: inout BinaryWriter) {
        switch op {
        case .range(let q): w.write(UInt8(1)); write(q, &w)
        case .put(let p): w.write(UInt8(2)); write(p, &w)
        case .deleteRange(let d): w.write(UInt8(3)); write(d, &w)
        case .txn(let t): w.write(UInt8(4)); write(t, &w)
        case .empty: w.write(UInt8(0))
        }
    }

    static func readOp(_ r: inout BinaryReader, depth: Int) throws(DecodingError) -> RequestOp {
        let kind = try r.read(UInt8.self)
        switch kind {
        case 0: return .empty
        case 1: return .range(try readRange(&r))
        case 2: return .put(try readPut(&r))
        case 3: return .deleteRange(try readDelete(&r))
        case 4: return .txn(try readTxn(&r, depth: depth + 1))
        default: throw DecodingError("unknown txn op kind \(kind)", offset: r.offset - 1)
        }
    }

    static func write(_ c: Compare, _ w: inout BinaryWriter) {
        w.writeLengthPrefixed(c.key)
        w.writeLengthPrefixed(c.rangeEnd)
        let result: UInt8 = switch c.result {
        case .equal: 0
        case .greater: 1
        case .less: 2
        case .notEqual: 3
        }
        w.write(result)
        switch c.target {
        case .version(let v): w.write(UInt8(0)); w.write(v)
        case .create(let v): w.write(UInt8(1)); w.write(v)
        case .mod(let v): w.write(UInt8(2)); w.write(v)
        case .value(let v): w.write(UInt8(3)); w.writeLengthPrefixed(v)
        case .lease(let v): w.write(UInt8(4)); w.write(v)
        }
    }

    static func readCompare(_ r: inout BinaryReader) throws(DecodingError) -> Compare {
        let key = try r.readLengthPrefixed()
        let end = try r.readLengthPrefixed()
        let rawResult = try r.read(UInt8.self)
        let result: Compare.Result
        switch rawResult {
        case 0: result = .equal
        case 1: result = .greater
        case 2: result = .less
        case 3: result = .notEqual
        default: throw DecodingError("unknown compare result \(rawResult)", offset: r.offset - 1)
        }
        let rawTarget = try r.read(UInt8.self)
        let target: Compare.Target
        switch rawTarget {
        case 0: target = .version(try r.read())
        case 1: target = .create(try r.read())
        case 2: target = .mod(try r.read())
        case 3: target = .value(try r.readLengthPrefixed())
        case 4: target = .lease(try r.read())
        default: throw DecodingError("unknown compare target \(rawTarget)", offset: r.offset - 1)
        }
        return Compare(key: key, rangeEnd: end, target: target, result: result)
    }

    // MARK: helpers

    static func count(_ r: inout BinaryReader) throws(DecodingError) -> Int {
        let n = Int(try r.read(UInt32.self))
        guard n <= r.remaining else { throw DecodingError("count \(n) too large", offset: r.offset - 4) }
        return n
    }

    static func flags(_ bits: Bool...) -> UInt8 {
        var f: UInt8 = 0
        for (i, b) in bits.enumerated() where b { f |= 1 << UInt8(i) }
        return f
    }

    /// Sort options keep etcd's wire numbers, including unknown ones (refused at apply).
    static func sortOrderCode(_ o: RangeRequest.SortOrder) -> Int32 {
        switch o {
        case .none: 0
        case .ascend: 1
        case .descend: 2
        case .unrecognized(let v): Int32(truncatingIfNeeded: v)
        }
    }

    static func sortOrder(_ v: Int32) -> RangeRequest.SortOrder {
        switch v {
        case 0: .none
        case 1: .ascend
        case 2: .descend
        default: .unrecognized(Int(v))
        }
    }

    static func sortTargetCode(_ t: RangeRequest.SortTarget) -> Int32 {
        switch t {
        case .key: 0
        case .version: 1
        case .create: 2
        case .mod: 3
        case .value: 4
        case .unrecognized(let v): Int32(truncatingIfNeeded: v)
        }
    }

    static func sortTarget(_ v: Int32) -> RangeRequest.SortTarget {
        switch v {
        case 0: .key
        case 1: .version
        case 2: .create
        case 3: .mod
        case 4: .value
        default: .unrecognized(Int(v))
        }
    }
}
