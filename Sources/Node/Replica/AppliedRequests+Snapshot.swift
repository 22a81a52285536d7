import Base

/// The de-duplication memory in a range snapshot. A replica that installs a snapshot at
/// index S applies S+1 onward, so it needs every record a replica that applied the log
/// itself consults from there: IDs applied in `(S - windowEntries, S]`, plus the evicted-
/// counter watermarks. The sender encodes them and sends them ahead of the LZ4 segment
/// stream as "prefix pieces" (chunks starting with `prefixMagic`; not in the snapshot
/// header, which travels as gRPC metadata and must stay small); the receiver peels them off
/// before staging and replaces its table with them.
///
/// Format (little-endian): `[u8 version = 1][u64 window][u32 n]` then n ×
/// `[u64 id][u64 index][u8 kind][kind 0: command result | 1, 2: i64 revision]`, then
/// `[u32 m]` and m × `[u64 router][u64 counter]`. Results over `maxCarriedResultBytes` travel
/// as `lost` (same apply-time decision; a retry is refused instead of answered). No prefix
/// (an older sender) decodes as an empty table.
extension AppliedRequests {
    static let snapshotVersion: UInt8 = 1
    /// The first bytes of a prefix piece (an LZ4 frame starts with 04 22 4D 18).
    static let prefixMagic: [UInt8] = Array("FLTDEDUP".utf8)
    static let maxCarriedResultBytes = 256

    /// `data` cut into prefix pieces of at most about `pieceBytes`.
    static func prefixPieces(_ data: [UInt8], pieceBytes: Int) -> [[UInt8]] {
        let size = max(1, pieceBytes)
        return stride(from: 0, to: data.count, by: size).map { prefixMagic + data[$0..<min(data.count, $0 + size)] }
    }

    /// The payload of a prefix piece, or nil when `chunk` is not one.
    static func prefixPayload(_ chunk: [UInt8]) -> ArraySlice<UInt8>? {
        guard chunk.count >= prefixMagic.count, chunk.starts(with: prefixMagic) else { return nil }
        return chunk[prefixMagic.count...]
    }

    /// The records a snapshot at `index` carries, encoded.
    func snapshotData(at index: UInt64) -> [UInt8] {
        let floor = index >= windowEntries ? index - windowEntries + 1 : 0
        let carried = records(through: index).filter { $0.record.index >= floor }
        var w = BinaryWriter(capacity: 64 + carried.count * 32)
        w.write(Self.snapshotVersion)
        w.write(windowEntries)
        w.write(UInt32(carried.count))
        for (id, r) in carried {
            w.write(id)
            w.write(r.index)
            switch r.outcome {
            case .applied(let result):
                var rw = BinaryWriter(capacity: 64)
                CallCoding.write(result, &rw)
                if rw.bytes.count <= Self.maxCarriedResultBytes {
                    w.write(UInt8(0))
                    w.write(bytes: rw.bytes)
                } else {
                    w.write(UInt8(1))
                    w.write(Self.revision(of: result))
                }
            case .lost(let revision):
                w.write(UInt8(1))
                w.write(revision)
            case .uncertain(let revision):
                w.write(UInt8(2))
                w.write(revision)
            }
        }
        let marks = evictedCounter.sorted { $0.key < $1.key }
        w.write(UInt32(marks.count))
        for (router, counter) in marks {
            w.write(router)
            w.write(counter)
        }
        return w.bytes
    }

    /// The revision a result reports (for a result carried as `lost`).
    static func revision(of result: CommandResult) -> Int64 {
        switch result {
        case .put(let p): p.revision
        case .deleteRange(let d), .revokeLease(let d): d.revision
        case .txn(let t): t.revision
        case .compact, .noOp, .system: 0
        }
    }

    /// The table a snapshot's `data` describes, with this node's window.
    static func fromSnapshot(_ data: [UInt8], windowEntries: Int) throws(DecodingError) -> AppliedRequests {
        var table = AppliedRequests(windowEntries: windowEntries)
        guard !data.isEmpty else { return table }
        let result: Result<AppliedRequests, DecodingError> = data.withUnsafeBytes { raw in
            var r = BinaryReader(raw)
            do throws(DecodingError) {
                let v = try r.read(UInt8.self)
                guard v == snapshotVersion else { throw DecodingError("unknown applied-requests version \(v)", offset: 0) }
                _ = try r.read(UInt64.self)  // the sender's window (informative)
                let n = try r.read(UInt32.self)
                for _ in 0..<n {
                    let id = try r.read(UInt64.self)
                    let index = try r.read(UInt64.self)
                    switch try r.read(UInt8.self) {
                    case 0: table.record(id, try CallCoding.readCommandResult(&r), index: index)
                    case 1: table.recordLost(id, index: index, revision: try r.read(Int64.self))
                    case 2: table.recordUncertain(id, index: index, revision: try r.read(Int64.self))
                    case let k: throw DecodingError("unknown applied-request kind \(k)", offset: r.offset - 1)
                    }
                }
                let m = try r.read(UInt32.self)
                for _ in 0..<m {
                    let router = try r.read(UInt64.self)
                    table.noteEvicted(router: router, counter: try r.read(UInt64.self))
                }
                guard r.isAtEnd else { throw DecodingError("trailing bytes after applied requests", offset: r.offset) }
                return .success(table)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}
